"""Issue 12's kernel defects, each with its repro, fixed in both trainers:
weight decay that drifted on the fused path (defect 1) and ReLU overflow that
the kernels did not notice (defect 3). Defect 2 (exp's thresholds, sigmoid of
large negative net inputs) is in tests/test_exp.py."""

from decimal import Decimal, localcontext

import numpy as np
import pytest

import bpcore
from bpcore import DivergenceError


def _pure_decay(trainer, dtype, steps, learning_rate, weight_decay):
    """3-1 identity network on zero inputs and zero targets: the gradient is 0
    and every step is pure decay, w_n = w_0 (1 − ηλ)^n exactly."""
    net = bpcore.Network((3, 1), output_activation="identity", init_scale=100, seed=0, dtype=dtype)
    w0 = net.weights[0].astype(np.float64).copy()
    X = np.zeros((steps, 3), dtype=dtype)
    T = np.zeros((steps, 1), dtype=dtype)
    trainer(net, X, T, learning_rate=learning_rate, weight_decay=weight_decay, shuffle=False)
    return w0, net.weights[0].astype(np.float64)


def _exact_decay(w0, eta, lam, steps):
    """w0 (1 − ηλ)^n in 40-digit decimal arithmetic, with η and λ the doubles given
    (in double arithmetic (1 − ηλ) itself is rounded, and its n-th power is off
    by about n ulp: 4.5e-12 relative here)."""
    with localcontext() as ctx:
        ctx.prec = 40
        factor = (1 - Decimal(eta) * Decimal(lam)) ** steps
        return np.array([[float(Decimal(float(w)) * factor) for w in row] for row in w0])


def test_weight_decay_does_not_drift_over_100000_steps():
    # Defect 1: keep = 1 − ηλ rounded once and applied every step gave an error
    # of 4.5e-12 against the exact value after 100,000 steps (the reference 4e-14).
    eta, lam, steps = 0.1, 1e-4, 100_000
    w0, fast = _pure_decay(bpcore.train, "float64", steps, eta, lam)
    _, slow = _pure_decay(bpcore.reference.train, "float64", steps, eta, lam)
    exact = _exact_decay(w0, eta, lam, steps)
    assert np.max(np.abs(slow - exact) / np.abs(exact)) < 2e-13
    assert np.max(np.abs(fast - exact) / np.abs(exact)) < 2e-13
    # The rounded factor's power is the drift the kernel had:
    assert np.max(np.abs(w0 * (1 - eta * lam) ** steps - exact) / np.abs(exact)) > 1e-12


def test_float32_weight_decay_is_the_requested_decay():
    # Defect 1 in float32: (float)(1 − ηλ) gave 1.19x the decay at ηλ = 1e-7, the
    # estimators' defaults (lr 1e-3, alpha 1e-4) on float32 data. The decay's
    # effect on a training run (weights with decay minus weights without) must be
    # the float64 reference's. Each weight's effect also carries float32's
    # rounding noise (a decay of 1e-7 per step is about one float32 ulp), so the
    # median over the weights is compared; the biased factor gave 1.19.
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(500, 8)), rng.uniform(0.1, 0.9, size=(500, 3))
    effect = {}
    for dtype, trainer in (("float32", bpcore.train), ("float64", bpcore.reference.train)):
        runs = []
        for decay in (0.0, 1e-4):
            net = bpcore.Network((8, 6, 3), init_scale=3.0, seed=0, dtype=dtype)
            trainer(net, X.astype(dtype), T.astype(dtype), learning_rate=1e-3,
                    weight_decay=decay, epochs=40, seed=0)
            runs.append(np.concatenate([w.astype(np.float64).ravel() for w in net.weights]))
        effect[dtype] = runs[1] - runs[0]
    big = np.abs(effect["float64"]) > 0.1 * np.abs(effect["float64"]).max()
    ratio = effect["float32"][big] / effect["float64"][big]
    assert abs(np.median(ratio) - 1) < 0.03, ratio


def _relu_overflow_net():
    return bpcore.Network.from_arrays(
        [np.array([[-1.0]]), np.array([[1e300]])], [np.zeros(1), np.array([1e10])],
        activation="relu", output_activation="identity",
    )


@pytest.mark.parametrize("trainer", [bpcore.reference.train, bpcore.train], ids=["reference", "compiled"])
def test_relu_overflow_is_divergence_in_both_trainers(trainer):
    # Defect 3: back = ±inf through an inactive ReLU unit is 0 · inf = NaN in
    # the reference (DivergenceError); the kernel took 0 and reported 5e19.
    net = _relu_overflow_net()
    before = net.params_vector()
    with pytest.raises(DivergenceError):
        trainer(net, np.array([[1.0]]), np.array([[0.0]]), learning_rate=0.1)
    assert np.array_equal(net.params_vector(), before)  # the weights of epoch 0


@pytest.mark.parametrize("batch_size", [1, 2])
def test_relu_overflow_on_every_path(batch_size):
    net = _relu_overflow_net()
    X, T = np.array([[1.0], [1.0]]), np.array([[0.0], [0.0]])
    for trainer in (bpcore.reference.train, bpcore.train):
        with pytest.raises(DivergenceError):
            trainer(net.copy(), X, T, learning_rate=0.1, batch_size=batch_size, momentum=0.5)
