"""The data model: Network construction, layout, copies, pickling, and the
errors bad arguments get (before anything changes)."""

import pickle

import numpy as np
import pytest

import bpcore


def test_shapes_follow_the_weight_convention():
    net = bpcore.Network((4, 3, 2))
    assert net.layer_sizes == (4, 3, 2)
    assert [W.shape for W in net.weights] == [(3, 4), (2, 3)]  # (n_out, n_in): [j, i] = w_ji
    assert [b.shape for b in net.biases] == [(3,), (2,)]
    assert net.dtype == np.float64


def test_no_hidden_layer_is_allowed():
    net = bpcore.Network((3, 2), seed=0)
    assert len(net.weights) == 1 and net.predict(np.zeros((5, 3))).shape == (5, 2)


def test_default_init_is_uniform_within_the_lectures_range():
    """§5 step 2: small random numbers between -0.05 and 0.05, biases too."""
    net = bpcore.Network((30, 20, 10), seed=0)
    values = net.params_vector()
    assert np.all(np.abs(values) <= 0.05) and values.std() > 0.02


def test_same_seed_same_network_other_seed_other_network():
    assert bpcore.Network((3, 4, 2), seed=5) == bpcore.Network((3, 4, 2), seed=5)
    assert bpcore.Network((3, 4, 2), seed=5) != bpcore.Network((3, 4, 2), seed=6)


@pytest.mark.parametrize("init, check", [
    ("xavier", lambda W, n_in, n_out: np.abs(W).max() <= np.sqrt(6 / (n_in + n_out))),
    ("he", lambda W, n_in, n_out: abs(W.std() - np.sqrt(2 / n_in)) < 0.2 * np.sqrt(2 / n_in)),
])
def test_xavier_and_he_initialisations(init, check):
    net = bpcore.Network((200, 100, 50), init=init, seed=0)
    for W, b in zip(net.weights, net.biases):
        n_out, n_in = W.shape
        assert check(W, n_in, n_out)
        assert not b.any()


def test_weights_are_views_of_one_contiguous_buffer():
    net = bpcore.Network((5, 4, 3), seed=1)
    assert net._params.ctypes.data % 64 == 0
    for W, b in zip(net.weights, net.biases):
        assert np.shares_memory(W, net._params) and np.shares_memory(b, net._params)
    net.weights[1][2, 3] = 7.0  # in-place edits reach the buffer the kernels use
    assert 7.0 in net.params_vector()


def test_float32_network_is_float32_end_to_end():
    net = bpcore.Network((3, 4, 2), dtype="float32", seed=0)
    assert all(W.dtype == np.float32 for W in net.weights)
    assert net.predict(np.ones((2, 3))).dtype == np.float32


def test_predict_single_example_and_batch():
    net = bpcore.Network((3, 2, 2), seed=0)
    X = np.random.default_rng(0).normal(size=(4, 3))
    batch = net.predict(X)
    assert batch.shape == (4, 2)
    assert net.predict(X[1]).shape == (2,)
    np.testing.assert_array_equal(net.predict(X[1]), batch[1])
    np.testing.assert_allclose(batch, bpcore.reference.predict(net, X), rtol=1e-14)


def test_copy_is_independent():
    net = bpcore.Network((2, 2, 1), seed=0)
    twin = net.copy()
    assert twin == net
    twin.weights[0][0, 0] += 1
    assert twin != net


def test_from_arrays_copies_and_validates():
    W = [np.ones((2, 3)), np.ones((1, 2))]
    b = [np.zeros(2), np.zeros(1)]
    net = bpcore.Network.from_arrays(W, b, activation="tanh", output_activation="identity")
    assert net.layer_sizes == (3, 2, 1) and net.activation == "tanh"
    W[0][0, 0] = 5
    assert net.weights[0][0, 0] == 1
    with pytest.raises(ValueError, match="do not chain"):
        bpcore.Network.from_arrays([np.ones((2, 3)), np.ones((1, 3))], b)
    with pytest.raises(ValueError, match="biases\\[1\\] must have shape"):
        bpcore.Network.from_arrays(W, [np.zeros(2), np.zeros(2)])
    with pytest.raises(ValueError, match="NaN"):
        bpcore.Network.from_arrays([np.full((1, 1), np.nan)], [np.zeros(1)])
    with pytest.raises(TypeError, match="dtype"):
        bpcore.Network.from_arrays([np.array([["a"]])], [np.zeros(1)])


def test_pickle_round_trip():
    net = bpcore.Network((3, 5, 2), activation="relu", output_activation="softmax", seed=2,
                         dtype="float32")
    clone = pickle.loads(pickle.dumps(net))
    assert clone == net
    X = np.random.default_rng(1).normal(size=(6, 3)).astype(np.float32)
    np.testing.assert_array_equal(clone.predict(X), net.predict(X))


@pytest.mark.parametrize("sizes, error, match", [
    ((3,), ValueError, "at least an input and an output"),
    ((3, 0, 1), ValueError, "at least one unit"),
    ((3, -2, 1), ValueError, "at least one unit"),
    ((3, 2.5, 1), TypeError, "integers"),
    ((3, True, 1), TypeError, "integers"),
    (5, TypeError, "sequence"),
])
def test_bad_layer_sizes(sizes, error, match):
    with pytest.raises(error, match=match):
        bpcore.Network(sizes)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(activation="softsign"), ValueError, "activation must be one of"),
    (dict(output_activation="relu6"), ValueError, "output_activation must be one of"),
    (dict(init="orthogonal"), ValueError, "init must be one of"),
    (dict(init_scale=-1.0), ValueError, "init_scale must be"),
    (dict(init_scale=float("nan")), ValueError, "init_scale"),
    (dict(dtype="float16"), TypeError, "dtype must be"),
    (dict(dtype="int64"), TypeError, "dtype must be"),
    (dict(seed=-3), ValueError, "seed must be"),
    (dict(seed="abc"), TypeError, "seed must be"),
])
def test_bad_network_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        bpcore.Network((2, 2, 1), **kwargs)


def test_weights_replaced_by_hand_are_checked_before_use(xor):
    X, T = xor
    net = bpcore.Network((2, 3, 1), seed=0)
    before = net.params_vector()
    net.weights[0] = np.zeros((3, 3))  # wrong shape
    with pytest.raises(ValueError, match="weights\\[0\\] must have shape \\(3, 2\\)"):
        bpcore.train(net, X, T)
    net.weights[0] = np.zeros((3, 2), dtype=complex)
    with pytest.raises(TypeError, match="weights\\[0\\] must be a real"):
        net.predict(X)
    np.testing.assert_array_equal(net._params, before)  # the buffer the kernels use
    replacement = np.full((3, 2), 0.5)
    net.weights[0] = replacement  # right shape and dtype: adopted
    np.testing.assert_array_equal(net.predict(X), bpcore.Network.from_arrays(
        [replacement, net.weights[1]], net.biases).predict(X))
    assert np.shares_memory(net.weights[0], net._params)


def test_weights_setter_validates_everything_first():
    net = bpcore.Network((2, 3, 1), seed=0)
    before = net.params_vector()
    with pytest.raises(ValueError, match="weights\\[1\\] must have shape"):
        net.weights = [np.ones((3, 2)), np.ones((2, 3))]
    np.testing.assert_array_equal(net.params_vector(), before)  # weights[0] untouched too
    net.weights = [np.ones((3, 2)), np.ones((1, 3))]
    assert net.weights[1].sum() == 3 and np.shares_memory(net.weights[1], net._params)


def test_nan_written_into_weights_is_caught():
    net = bpcore.Network((2, 2, 1), seed=0)
    net.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        net.predict([0.0, 1.0])


@pytest.mark.parametrize("X, error, match", [
    (np.ones((4, 3)), ValueError, "3 columns but the network has 2 inputs"),
    (np.ones(2), None, None),  # a single example is fine for predict
    (np.ones((1, 2, 2)), ValueError, "must be 2-D"),
    (np.array([["a", "b"]]), TypeError, "must hold numbers"),
    (np.ones((1, 2), dtype=complex), TypeError, "complex"),
    (np.array([[1.0, np.inf]]), ValueError, "NaN or infinity"),
    (np.empty((0, 2)), ValueError, "empty"),
])
def test_predict_bad_input(X, error, match):
    net = bpcore.Network((2, 2, 1), seed=0)
    if error is None:
        assert net.predict(X).shape == (1,)
    else:
        with pytest.raises(error, match=match):
            net.predict(X)


def test_total_error_is_equation_1():
    """E = ½ Σ_d Σ_k (t_kd − o_kd)², checked against the outputs directly."""
    net = bpcore.Network((3, 4, 2), seed=0)
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(10, 3)), rng.uniform(size=(10, 2))
    expected = 0.5 * np.sum((T - net.predict(X)) ** 2)
    assert bpcore.total_error(net, X, T) == pytest.approx(expected, rel=1e-13)
    assert bpcore.reference.total_error(net, X, T) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("dtype, ulps", [("float64", 8), ("float32", 8)])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "softmax"])
def test_compiled_activations_match_the_reference_to_a_few_ulps(activation, dtype, ulps):
    """The kernels' vectorised exp (pyx/bp_exp.h) against Python's math over
    net inputs from -700 to 700 (±85 in float32): within a few ulps, scaled by
    exp's condition number 1 + |net| (the argument itself is rounded in the
    network's dtype: net − max for softmax)."""
    net_values = np.linspace(-700, 700, 20001)
    if dtype == "float32":
        net_values = np.linspace(-85, 85, 20001)
    X = net_values.reshape(-1, 1).astype(dtype)
    if activation == "softmax":  # two outputs: net and 0.37·net → o_0 = σ(0.63·net)
        net = bpcore.Network.from_arrays([np.array([[1.0], [0.37]], dtype)], [np.zeros(2, dtype)],
                                         output_activation="softmax")
    else:
        net = bpcore.Network.from_arrays([np.ones((1, 1), dtype), np.ones((1, 1), dtype)],
                                         [np.zeros(1, dtype), np.zeros(1, dtype)],
                                         activation=activation, output_activation="identity")
    got = net.predict(X)
    expected = bpcore.reference.predict(net.copy(), X.astype(np.float64)).astype(np.float64)
    eps = np.finfo(dtype).eps
    error = np.abs(got - expected) / np.maximum(np.abs(expected), np.finfo(dtype).tiny)
    error /= 1 + np.abs(X)
    assert np.max(error) <= ulps * eps, f"{np.max(error) / eps:.1f} ulps at {X[np.argmax(error.max(axis=1))]}"


def test_a_nguyen_widrow_network_is_seeded_saves_and_loads(tmp_path):
    """init="nguyen_widrow" (issue 14) is an ordinary network once built: the
    same seed gives the same weights, and it saves, loads and pickles unchanged
    (the model format stores weights, not how they were drawn)."""
    import pickle

    make = dict(activation="tanh", init="nguyen_widrow", input_range=(-2.0, 5.0))
    net = bpcore.Network((3, 4, 2), seed=9, **make)
    assert net == bpcore.Network((3, 4, 2), seed=9, **make)
    assert net != bpcore.Network((3, 4, 2), seed=10, **make)
    assert net != bpcore.Network((3, 4, 2), seed=9, activation="tanh", init="nguyen_widrow")  # (-1, 1)
    net.save(tmp_path / "nw.npz")
    assert bpcore.load(tmp_path / "nw.npz") == net
    assert pickle.loads(pickle.dumps(net)) == net
    float32 = bpcore.Network((3, 4, 2), seed=9, dtype="float32", **make)
    np.testing.assert_array_equal(float32.params_vector(), net.params_vector().astype(np.float32))
