"""Shared fixtures: every behaviour test runs on both trainers."""

import os

import numpy as np
import pytest
from hypothesis import settings

import bpcore

# Property tests explore new random examples on every developer run. In CI
# (the CI environment variable, which GitHub Actions and .ci/run set) they are
# derandomized: the examples follow from the test code alone, so a run that
# passed here passes there, and a new failure found while exploring is fixed
# (or its cause understood) before it can break a landing.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

TRAINERS = {"reference": bpcore.reference.train, "compiled": bpcore.train}


@pytest.fixture(params=sorted(TRAINERS), ids=sorted(TRAINERS))
def train(request):
    """``bpcore.reference.train`` and ``bpcore.train``: one test body, both trainers."""
    return TRAINERS[request.param]


@pytest.fixture
def xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    T = np.array([[0], [1], [1], [0]], dtype=float)
    return X, T


def _assert_params_close(a, b, dtype):
    """The agreement bpcore promises between its trainers: every parameter within
    1e-12 (float64) or 1e-4 (float32), relative to max(1, |w|)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    tol = 1e-12 if np.dtype(dtype) == np.float64 else 1e-4
    scale = np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    worst = np.max(np.abs(a - b) / scale) if a.size else 0.0
    assert worst <= tol, f"parameters differ by {worst:.3g} (relative), tolerance {tol:g}"


@pytest.fixture
def assert_params_close():
    return _assert_params_close
