"""The kernels at the edges of exp (issue 12): bp_exp.h against math.exp in
ulps over its whole domain, subnormal results included, and both trainers on
net inputs swept across the overflow and underflow thresholds of both dtypes,
for every activation."""

import importlib
import math
import struct

import numpy as np
import pytest

import bpcore
from bpcore import DivergenceError, _dispatch

VARIANTS = _dispatch.available_variants()

# Largest ulp distance from math.exp allowed (the measured figures are in
# docs/algorithm.md, "The kernels' exp").
ULP_LIMIT = {"double": 4, "float": 3}


def _ulps_double(a, b):
    ia = np.frombuffer(np.asarray(a, dtype=np.float64).tobytes(), dtype=np.int64)
    ib = np.frombuffer(np.asarray(b, dtype=np.float64).tobytes(), dtype=np.int64)
    return np.abs(ia - ib)


def _ulps_float(a, b):
    ia = np.frombuffer(np.asarray(a, dtype=np.float32).tobytes(), dtype=np.int32).astype(np.int64)
    ib = np.frombuffer(np.asarray(b, dtype=np.float32).tobytes(), dtype=np.int32).astype(np.int64)
    return np.abs(ia - ib)


def _kernel_exp(variant, x):
    kernels = importlib.import_module(f"bpcore._kernels_{variant}")
    x = np.ascontiguousarray(x, dtype=np.float64)
    out_d, out_f = np.empty_like(x), np.empty(x.shape, dtype=np.float32)
    kernels.exp_values(x, out_d, out_f)
    return out_d, out_f


def _exact_exp(x):
    out = []
    for v in x.tolist():
        try:
            out.append(math.exp(v))
        except OverflowError:
            out.append(math.inf)
    return np.array(out)


@pytest.mark.parametrize("variant", VARIANTS)
def test_double_exp_within_a_few_ulps_over_its_whole_domain(variant):
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.linspace(-745.2, 709.79, 200_001),        # the whole domain
        rng.uniform(-745.2, -708.0, 50_000),          # subnormal results
        rng.uniform(-1.0, 1.0, 50_000),
        [709.78, 709.7827128933, 709.78271289338397, 709.782712893384, 710.0, 800.0, 1e300, np.inf,
         -745.0, -745.1332191019411, -745.2, -746.0, -800.0, -1e300, -np.inf, 0.0, -0.0],
    ])
    fast, _ = _kernel_exp(variant, x)
    exact = _exact_exp(x)
    finite = np.isfinite(exact)
    assert np.array_equal(np.isinf(fast), np.isinf(exact)), x[np.isinf(fast) != np.isinf(exact)]
    ulps = _ulps_double(fast[finite], exact[finite])
    assert ulps.max() <= ULP_LIMIT["double"], (ulps.max(), x[finite][ulps.argmax()])


@pytest.mark.parametrize("variant", VARIANTS)
def test_float_exp_within_a_few_ulps_over_its_whole_domain(variant):
    x = np.concatenate([
        np.linspace(-103.98, 88.72, 400_001).astype(np.float32),
        np.float32([88.7228, 88.72284, 88.7229, 89.0, 1e30, np.inf, -103.9, -103.97, -104.0, -200.0,
                    -np.inf, 0.0]),
    ]).astype(np.float64)
    _, fast = _kernel_exp(variant, x)
    with np.errstate(over="ignore"):  # exp(88.73) is inf in float32, as it should be
        exact = _exact_exp(x).astype(np.float32)  # float32-rounded
    finite = np.isfinite(exact)
    assert np.array_equal(np.isinf(fast), np.isinf(exact)), x[np.isinf(fast) != np.isinf(exact)]
    ulps = _ulps_float(fast[finite], exact[finite])
    assert ulps.max() <= ULP_LIMIT["float"], (ulps.max(), x[finite][ulps.argmax()])


@pytest.mark.parametrize("variant", VARIANTS)
def test_exp_overflows_where_libm_does_and_nan_stays_nan(variant):
    # Defect 2 of issue 12: +inf came from 709.436 (88.376 in float), not 709.78.
    x = np.array([709.5, 709.78, 709.79, 88.5, 88.72, 88.73, np.nan])
    d, f = _kernel_exp(variant, x)
    assert np.isfinite(d[:2]).all() and np.isinf(d[2])
    assert np.isfinite(f[3:5]).all() and np.isinf(f[5])
    assert math.isnan(d[6]) and math.isnan(f[6])
    assert d[1] == pytest.approx(math.exp(709.78), rel=1e-15)


def _one_step(trainer, dtype, net_value, x, activation="sigmoid", output_activation="sigmoid",
              loss="squared_error", hidden=True):
    """The issue's repro: a network whose first net input is ``net_value``
    (weight net_value / x on the input x), trained one step with lr 1."""
    if hidden:
        weights = [np.array([[net_value / x]]), np.array([[1.0]])]
        biases = [np.zeros(1), np.zeros(1)]
        n_out = 1
    else:  # the swept net input is the output layer's
        n_out = 2 if output_activation == "softmax" else 1
        weights = [np.array([[net_value / x]] + [[0.0]] * (n_out - 1))]
        biases = [np.zeros(n_out)]
    net = bpcore.Network.from_arrays(weights, biases, activation=activation,
                                     output_activation=output_activation, dtype=dtype)
    X = np.array([[x]], dtype=dtype)
    T = np.array([[1.0] + [0.0] * (n_out - 1)], dtype=dtype)
    try:
        trainer(net, X, T, learning_rate=1.0, loss=loss, shuffle=False)
    except DivergenceError:
        return "diverged"
    return net.params_vector().astype(np.float64)


def test_sigmoid_of_a_large_negative_net_input_moves_the_weight_in_both_trainers():
    # Issue 12, defect 2: at net = -709.5 the reference moves w to 9.2e-10 while
    # the kernel, with sigma = 0 from 1/(1 + inf), left it unchanged.
    slow = _one_step(bpcore.reference.train, "float64", -709.5, 1e300)
    fast = _one_step(bpcore.train, "float64", -709.5, 1e300)
    assert slow[0] == pytest.approx(9.2e-10, rel=0.05)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
    slow32 = _one_step(bpcore.reference.train, "float32", -88.5, 3e38)
    fast32 = _one_step(bpcore.train, "float32", -88.5, 3e38)
    assert slow32[0] == pytest.approx(0.138, rel=0.01)
    np.testing.assert_allclose(fast32, slow32, rtol=1e-4)


SWEEP = {
    "float64": [-800.0, -746.0, -745.2, -745.0, -720.0, -709.9, -709.78, -709.5, -709.0, -700.0,
                -40.0, 0.0, 40.0, 700.0, 709.0, 709.5, 709.78, 709.9, 745.0, 800.0],
    "float32": [-110.0, -104.0, -103.9, -100.0, -90.0, -88.8, -88.72, -88.5, -88.0, -87.0,
                -17.0, 0.0, 17.0, 87.0, 88.0, 88.5, 88.72, 88.8, 104.0, 110.0],
}
# The sweep's input: the repro's huge x for float64 (weights of 1e-298 with net
# inputs of hundreds); x = 1 for float32, whose intermediate products of 3e38
# inputs are not representable (tested by the repro above instead).
SWEEP_X = {"float64": 1e300, "float32": 1.0}
HIDDEN_CASES = [(h, "sigmoid", "squared_error") for h in ("sigmoid", "tanh", "relu")]
OUTPUT_CASES = [("sigmoid", out, loss) for out, loss in (
    ("sigmoid", "squared_error"), ("identity", "squared_error"), ("sigmoid", "cross_entropy"),
    ("softmax", "cross_entropy"))]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden, case", [(True, c) for c in HIDDEN_CASES] + [(False, c) for c in OUTPUT_CASES])
def test_both_trainers_agree_across_the_thresholds_of_exp(variant, dtype, hidden, case, monkeypatch,
                                                          assert_params_close):
    monkeypatch.setattr(_dispatch, "kernels", importlib.import_module(f"bpcore._kernels_{variant}"))
    activation, output_activation, loss = case
    outcomes = set()
    for net_value in SWEEP[dtype] + SWEEP["float32"]:
        args = (dtype, net_value, SWEEP_X[dtype], activation, output_activation, loss, hidden)
        slow = _one_step(bpcore.reference.train, *args)
        fast = _one_step(bpcore.train, *args)
        if isinstance(slow, str) or isinstance(fast, str):
            assert fast == slow, (net_value, fast, slow)
            outcomes.add("diverged")
            continue
        outcomes.add("trained")
        if dtype == "float64":
            # Relative to each parameter itself: these values span 1e-300 .. 1e300.
            np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=0, err_msg=f"net = {net_value}")
        else:
            assert_params_close(fast, slow, dtype)
    assert "trained" in outcomes
