"""Shared fixtures: every behaviour test runs on both trainers."""

import numpy as np
import pytest

import bpcore

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
