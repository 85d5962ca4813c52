"""Golden tests: every worked example of the lecture, to the precision it prints.

Each test names the section it reproduces. Where a step trains, the test runs
on both trainers (the ``train`` fixture). ``approx(v, d)`` accepts what rounds
to the lecture's printed value ``v`` with ``d`` decimals, with one unit of slack
in the last digit where the lecture carried rounded intermediates.
"""

import math

import numpy as np
import pytest

import bpcore
from bpcore import reference


def approx(value, decimals):
    return pytest.approx(value, abs=10.0 ** -decimals)


def one_step(train, net, x, t, learning_rate):
    train(net, np.atleast_2d(x), np.atleast_2d(t), learning_rate=learning_rate, epochs=1, shuffle=False)
    return net


# §3.2 --------------------------------------------------------------------------
def test_s3_2_total_error_two_outputs_two_examples():
    """§3.2: o = (0.7, 0.4), t = (1, 0) and o = (0.3, 0.8), t = (0, 1) give
    E = ½[(0.3)² + (0.4)²] + ½[(0.3)² + (0.2)²] = 0.125 + 0.065 = 0.190."""
    # A linear 2-2 network on one-hot inputs outputs column d of W for example d.
    net = bpcore.Network.from_arrays([[[0.7, 0.3], [0.4, 0.8]]], [[0.0, 0.0]],
                                     output_activation="identity")
    X = np.eye(2)
    T = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert net.predict(X) == pytest.approx(np.array([[0.7, 0.4], [0.3, 0.8]]))
    assert bpcore.total_error(net, X, T) == pytest.approx(0.190, abs=1e-12)
    assert reference.total_error(net, X, T) == pytest.approx(0.190, abs=1e-12)


# §3.3 --------------------------------------------------------------------------
def test_s3_3_weighted_sum_and_sigmoid():
    """§3.3: x = (0.5, 0.8, 0.2), w_j = (0.4, −0.3, 0.6), b_j = −0.2:
    net_j = 0.20 − 0.24 + 0.12 − 0.2 = −0.12 and o_j = σ(−0.12) = 0.4700."""
    net = bpcore.Network.from_arrays([[[0.4, -0.3, 0.6]]], [[-0.2]])
    x = np.array([0.5, 0.8, 0.2])
    trace = bpcore.trace_step(net, x, [1.0], 0.1)
    assert trace.layers[0].net[0] == approx(-0.12, 12)
    assert trace.layers[0].output[0] == approx(0.4700, 4)
    assert net.predict(x)[0] == approx(0.4700, 4)


def test_s3_3_self_test_net_input():
    """§3.3 self-test 2: inputs (0.5, 0.2, 0.8), weights (0.3, −0.4, 0.6):
    net_j = 0.15 − 0.08 + 0.48 = 0.55."""
    net = bpcore.Network.from_arrays([[[0.3, -0.4, 0.6]]], [[0.0]], output_activation="identity")
    assert net.predict([0.5, 0.2, 0.8])[0] == approx(0.55, 12)


# §4.2 --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "net_value, sigma, sigma_prime",
    [(0.0, 0.5, 0.25), (2.0, 0.8808, 0.1050), (-1.5, 0.1824, 0.1491)],
)
def test_s4_2_sigmoid_and_derivative(net_value, sigma, sigma_prime):
    """§4.2: σ(0) = 0.5, σ'(0) = 0.25; σ(2) = 0.8808, σ'(2) = 0.1050;
    σ(−1.5) = 0.1824, σ'(−1.5) = 0.1491, with σ' = σ(1 − σ) from the output."""
    o = reference.sigmoid(net_value)
    assert o == approx(sigma, 4)
    assert reference.derivative(o, "sigmoid") == approx(sigma_prime, 4)
    # the compiled forward pass: a 1-1 network with w = 1, b = 0 outputs σ(x)
    net = bpcore.Network.from_arrays([[[1.0]]], [[0.0]])
    assert net.predict([net_value])[0] == pytest.approx(o, abs=1e-15)


# §6.1.3 ------------------------------------------------------------------------
def test_s6_1_3_output_and_hidden_deltas():
    """§6.1.3: δ_k = 0.8 × 0.2 × 0.2 = 0.032 (o_k = 0.8, t_k = 1) and
    δ_h = 0.6 × 0.4 × (0.5 × 0.032) = 0.00384 (o_h = 0.6, w_kh = 0.5)."""
    delta_k = reference.output_deltas([0.8], [1.0], "squared_error", "sigmoid")
    assert delta_k[0] == approx(0.032, 12)
    delta_h = reference.hidden_deltas([0.6], [[0.5]], delta_k, "sigmoid")
    assert delta_h[0] == approx(0.00384, 12)


# §6.1.4 ------------------------------------------------------------------------
def test_s6_1_4_single_weight_update(train):
    """§6.1.4 (and §12 question 9): w_ji = 0.3, δ_j = 0.15, x_ji = 0.8, η = 0.1:
    Δw = 0.1 × 0.15 × 0.8 = 0.012, w_new = 0.312.

    A linear unit has δ = t − o, so x = 0.8, w = 0.3 (o = 0.24) and t = 0.39
    make δ = 0.15."""
    net = bpcore.Network.from_arrays([[[0.3]]], [[0.0]], output_activation="identity")
    one_step(train, net, [0.8], [0.39], 0.1)
    assert net.weights[0][0, 0] == approx(0.312, 12)
    assert net.biases[0][0] == approx(0.015, 12)  # Δb = η δ × 1


# §7 ------------------------------------------------------------------------------
def lecture_3_2_1():
    """The §7 network: inputs 1-3, hidden units 4-5, output unit 6.
    weights[0][j, i] is w from input i+1 to hidden unit 4+j."""
    return bpcore.Network.from_arrays(
        [[[0.2, 0.4, -0.5], [-0.3, 0.1, 0.2]], [[-0.3, -0.2]]],
        [[-0.4, 0.2], [0.1]],
    )


X7, T7, ETA7 = np.array([1.0, 0.0, 1.0]), np.array([1.0]), 0.9


def test_s7_forward_and_backward_pass():
    """§7 parts 1 and 2: net_4 = −0.7, o_4 = 0.332; net_5 = 0.1, o_5 = 0.525;
    net_6 = −0.1046, o_6 = 0.474; δ_6 = 0.1311, δ_5 = −0.0065, δ_4 = −0.0087."""
    trace = bpcore.trace_step(lecture_3_2_1(), X7, T7, ETA7)
    hidden, output = trace.layers
    assert hidden.units == [4, 5] and output.units == [6]
    assert hidden.net == pytest.approx([-0.7, 0.1], abs=1e-12)
    assert hidden.output[0] == approx(0.332, 3)
    assert hidden.output[1] == approx(0.525, 3)
    assert output.net[0] == approx(-0.1046, 4)
    assert output.output[0] == approx(0.474, 3)
    assert output.delta[0] == approx(0.1311, 4)
    assert hidden.delta[1] == approx(-0.0065, 4)
    assert hidden.delta[0] == approx(-0.0087, 4)


# Table 2: (weight, old, new) with weights written from → to as the table does.
TABLE_2 = [
    ("w_14", 0.200, 0.192), ("w_24", 0.400, 0.400), ("w_34", -0.500, -0.508),
    ("w_15", -0.300, -0.306), ("w_25", 0.100, 0.100), ("w_35", 0.200, 0.194),
    ("w_46", -0.300, -0.261), ("w_56", -0.200, -0.138),
    ("b_4", -0.400, -0.408), ("b_5", 0.200, 0.194), ("b_6", 0.100, 0.218),
]


def table_2_value(net, name):
    if name.startswith("b_"):
        unit = int(name[2])
        return net.biases[0][unit - 4] if unit < 6 else net.biases[1][0]
    source, target = int(name[2]), int(name[3])
    if target == 6:
        return net.weights[1][0, source - 4]
    return net.weights[0][target - 4, source - 1]  # w_ji: row = to, column = from


@pytest.mark.parametrize("name, old, new", TABLE_2, ids=[row[0] for row in TABLE_2])
def test_s7_table_2_weight_updates(train, name, old, new):
    """§7 part 3 and Table 2: every weight and bias after one step with η = 0.9."""
    net = lecture_3_2_1()
    assert table_2_value(net, name) == approx(old, 12)
    one_step(train, net, X7, T7, ETA7)
    assert table_2_value(net, name) == approx(new, 3)


def test_s7_verification_pass(train):
    """§7 verification and Table 2's last rows: the output moves 0.474 → 0.515,
    the error |t − o| 0.526 → 0.485 (reduced by 0.041)."""
    net = lecture_3_2_1()
    before = net.predict(X7)[0]
    one_step(train, net, X7, T7, ETA7)
    after = net.predict(X7)[0]
    assert before == approx(0.474, 3) and after == approx(0.515, 3)
    assert 1 - before == approx(0.526, 3) and 1 - after == approx(0.485, 3)
    assert after - before == approx(0.041, 3)


# §8.4 ------------------------------------------------------------------------------
def test_s8_4_chain_rule_example(train):
    """§8.4: x → h → o with w_xh = 0.5, w_ho = 0.8, x = 1, t = 1, η = 0.9:
    o_h = 0.6225, o_o = 0.622, δ_o = 0.0889, δ_h = 0.0167,
    w_ho: 0.8 → 0.8498, w_xh: 0.5 → 0.5150."""
    net = bpcore.Network.from_arrays([[[0.5]], [[0.8]]], [[0.0], [0.0]])
    trace = bpcore.trace_step(net, [1.0], [1.0], 0.9)
    assert trace.layers[0].output[0] == approx(0.6225, 4)
    assert trace.layers[1].output[0] == approx(0.622, 3)
    assert trace.layers[1].delta[0] == approx(0.0889, 4)
    assert trace.layers[0].delta[0] == approx(0.0167, 4)
    one_step(train, net, [1.0], [1.0], 0.9)
    assert net.weights[1][0, 0] == approx(0.8498, 4)
    assert net.weights[0][0, 0] == approx(0.5150, 4)


# §9.2 ------------------------------------------------------------------------------
@pytest.mark.parametrize("eta, change, new", [(0.01, 0.0016, 0.5016), (0.1, 0.016, 0.516), (1.0, 0.16, 0.66)])
def test_s9_2_learning_rate_table(train, eta, change, new):
    """§9.2: w = 0.5, δ = 0.2, x = 0.8: Δw = η δ x for η = 0.01, 0.1, 1.0.
    A linear unit with w = 0.5, x = 0.8 outputs 0.4; t = 0.6 makes δ = 0.2."""
    net = bpcore.Network.from_arrays([[[0.5]]], [[0.0]], output_activation="identity")
    one_step(train, net, [0.8], [0.6], eta)
    assert net.weights[0][0, 0] - 0.5 == approx(change, 12)
    assert net.weights[0][0, 0] == approx(new, 12)


# §10 ------------------------------------------------------------------------------
def lecture_2_2_2():
    """The §10 network. The lecture writes w_ij for the weight FROM i TO j here
    (w_12 = input 1 → hidden 2), the opposite of bpcore's weights[l][j, i] = w_ji,
    so each lecture weight lands at [to, from]:
        w_11 = 0.15, w_21 = 0.25 → hidden 1: row [0.15, 0.25]
        w_12 = 0.20, w_22 = 0.30 → hidden 2: row [0.20, 0.30]
        w_13 = 0.40, w_23 = 0.45 → output 1: row [0.40, 0.45]
        w_14 = 0.50, w_24 = 0.55 → output 2: row [0.50, 0.55]"""
    return bpcore.Network.from_arrays(
        [[[0.15, 0.25], [0.20, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
        [[0.0, 0.0], [0.0, 0.0]],
    )


X10, T10, ETA10 = np.array([0.5, 0.8]), np.array([1.0, 0.0]), 0.5


def test_s10_forward_error_and_deltas():
    """§10: h_1 = 0.568, h_2 = 0.584, o_1 = 0.620, o_2 = 0.647, E = 0.282;
    δ_3 = 0.0895, δ_4 = −0.148, δ_1 = −0.00936, δ_2 = −0.00999."""
    net = lecture_2_2_2()
    trace = bpcore.trace_step(net, X10, T10, ETA10)
    hidden, output = trace.layers
    assert hidden.net == pytest.approx([0.275, 0.34], abs=1e-12)
    assert hidden.output == pytest.approx([0.568, 0.584], abs=1e-3)
    assert output.output == pytest.approx([0.620, 0.647], abs=1e-3)
    assert trace.error_before == approx(0.282, 3)
    assert bpcore.total_error(net, X10[None], T10[None]) == approx(0.282, 3)
    assert output.delta == pytest.approx([0.0895, -0.148], abs=1e-3)
    assert hidden.delta == pytest.approx([-0.00936, -0.00999], abs=1e-4)


# (name, lecture value, where it lives in weights[l][to, from])
TABLE_10 = [
    ("w_13", 0.4254, (1, 0, 0)), ("w_23", 0.4761, (1, 0, 1)),
    ("w_14", 0.4580, (1, 1, 0)), ("w_24", 0.5068, (1, 1, 1)),
    ("w_11", 0.1477, (0, 0, 0)), ("w_21", 0.2463, (0, 0, 1)),
    ("w_12", 0.1975, (0, 1, 0)), ("w_22", 0.2960, (0, 1, 1)),
]


@pytest.mark.parametrize("name, new, where", TABLE_10, ids=[row[0] for row in TABLE_10])
def test_s10_weight_updates(train, name, new, where):
    """§10 weight updates with η = 0.5 (the lecture's from→to names)."""
    net = one_step(train, lecture_2_2_2(), X10, T10, ETA10)
    l, j, i = where
    assert net.weights[l][j, i] == approx(new, 3)


# §12 ------------------------------------------------------------------------------
def test_s12_self_test_answers():
    """§12 computational answers: 6a σ(0.5) = 0.622, 6b 0.235; 7 δ = 0.032;
    8 δ_h = 0.24 × (0.2·0.5 + (−0.1)(−0.3)) = 0.0312; 9 w = 0.312."""
    o = reference.sigmoid(0.5)
    assert o == approx(0.622, 3)
    assert reference.derivative(o, "sigmoid") == approx(0.235, 3)
    assert reference.output_deltas([0.8], [1.0], "squared_error", "sigmoid")[0] == approx(0.032, 12)
    delta_h = reference.hidden_deltas([0.6], [[0.5], [-0.3]], [0.2, -0.1], "sigmoid")
    assert delta_h[0] == approx(0.0312, 12)
    layers = [([[0.3]], [0.0])]
    gradient = [([[0.15 * 0.8]], [0.15])]
    (W, _), = reference.update(layers, reference._zeros_like(layers), gradient, 0.1, 0.0, 0.0, None)[0]
    assert W[0][0] == approx(0.312, 12)


# Learning ---------------------------------------------------------------------------
def test_xor_is_learned(train, xor):
    """The classic non-linearly-separable problem: a 2-3-1 sigmoid network reaches
    E < 0.05 within 5000 epochs (fixed seeds; stops on target_error)."""
    X, T = xor
    net = bpcore.Network((2, 3, 1), init_scale=1.0, seed=1)
    history = train(net, X, T, learning_rate=2.0, epochs=5000, seed=0, target_error=0.05)
    assert history.stop_reason == "target_error"
    assert history.train_error[-1] < 0.05
    assert bpcore.total_error(net, X, T) < 0.05
    assert np.array_equal(net.predict(X).round(), T)
    assert not math.isnan(history.train_error[0])
