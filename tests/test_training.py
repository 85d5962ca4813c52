"""Behaviour of ``train`` that people rely on, on both trainers: stopping rules,
options, bad input, divergence, interruption, threads, memory."""

import os
import signal
import threading
import time
import tracemalloc

import numpy as np
import pytest

import bpcore
from bpcore import _dispatch


def blobs(n_per_class=60, seed=0):
    """Three Gaussian blobs in 2-D, one-hot targets."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    X = np.concatenate([c + rng.normal(size=(n_per_class, 2)) for c in centres])
    y = np.repeat(np.arange(3), n_per_class)
    return X, np.eye(3)[y], y


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("options, error, match", [
    (dict(learning_rate=0), ValueError, "learning_rate must be a finite real number in \\(0, inf\\); got 0"),
    (dict(learning_rate=-0.1), ValueError, "learning_rate"),
    (dict(learning_rate=float("nan")), ValueError, "learning_rate"),
    (dict(learning_rate=float("inf")), ValueError, "learning_rate"),
    (dict(learning_rate="0.1"), TypeError, "learning_rate"),
    (dict(epochs=0), ValueError, "epochs must be an integer in \\[1, inf\\); got 0"),
    (dict(epochs=1.5), TypeError, "epochs"),
    (dict(epochs=True), TypeError, "epochs"),
    (dict(momentum=1.0), ValueError, "momentum must be a finite real number in \\[0, 1\\)"),
    (dict(momentum=-0.5), ValueError, "momentum"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(weight_decay=-1e-3), ValueError, "weight_decay"),
    (dict(max_grad_norm=0.0), ValueError, "max_grad_norm"),
    (dict(target_error=-1.0), ValueError, "target_error"),
    (dict(patience=2), ValueError, "patience needs validation"),
    (dict(validation=(np.ones((2, 2)), np.ones((2, 1))), patience=0), ValueError, "patience must be"),
    (dict(validation=np.ones((2, 2))), TypeError, "validation must be a pair"),
    (dict(validation=(np.ones((2, 3)), np.ones((2, 1)))), ValueError, "X_val has 3 columns"),
    (dict(loss="hinge"), ValueError, "loss must be one of"),
    (dict(loss="cross_entropy"), None, None),  # sigmoid + cross-entropy is fine on 0/1 targets
    (dict(shuffle="yes"), TypeError, "shuffle must be True or False"),
    (dict(seed=1.5), TypeError, "seed"),
    (dict(callback=42), TypeError, "callback must be callable"),
])
def test_bad_options_are_refused_before_any_change(train, xor, options, error, match):
    X, T = xor
    net = bpcore.Network((2, 3, 1), seed=0)
    before = net.params_vector()
    if error is None:
        train(net, X, T, **options)
        return
    with pytest.raises(error, match=match):
        train(net, X, T, **options)
    np.testing.assert_array_equal(net.params_vector(), before)


@pytest.mark.parametrize("X, T, error, match", [
    (np.ones((4, 3)), np.ones((4, 1)), ValueError, "X has 3 columns but the network has 2 inputs"),
    (np.ones((4, 2)), np.ones((3, 1)), ValueError, "T has shape \\(3, 1\\)"),
    (np.ones((4, 2)), np.ones((4, 2)), ValueError, "must have shape \\(4, 1\\)"),
    (np.ones(2), np.ones(1), ValueError, "X must be 2-D.*reshape"),
    (np.ones((4, 2)), np.ones((4, 1, 1)), ValueError, "T must be 2-D"),
    (np.array([[np.nan, 0]] * 4), np.ones((4, 1)), ValueError, "X contains NaN or infinity .*\\(0, 0\\)"),
    (np.ones((4, 2)), np.array([[0], [1], [np.inf], [0]]), ValueError, "T contains NaN or infinity"),
    (np.empty((0, 2)), np.empty((0, 1)), ValueError, "X is empty"),
    (np.array([["a", "b"]] * 4), np.ones((4, 1)), TypeError, "X must hold numbers"),
    (np.ones((4, 2), dtype=object), np.ones((4, 1)), TypeError, "dtype object"),
    (np.ones((4, 2), dtype=complex), np.ones((4, 1)), TypeError, "complex"),
])
def test_bad_data_is_refused_before_any_change(train, X, T, error, match):
    net = bpcore.Network((2, 3, 1), seed=0)
    before = net.params_vector()
    with pytest.raises(error, match=match):
        train(net, X, T)
    np.testing.assert_array_equal(net.params_vector(), before)


def test_a_one_dimensional_target_is_accepted_for_one_output(train, xor):
    X, T = xor
    a, b = bpcore.Network((2, 2, 1), seed=0), bpcore.Network((2, 2, 1), seed=0)
    train(a, X, T, seed=0)
    train(b, X, T.ravel(), seed=0)
    assert a == b


def test_integer_and_boolean_data_train_like_floats(train, xor):
    X, T = xor
    a, b = bpcore.Network((2, 2, 1), seed=0), bpcore.Network((2, 2, 1), seed=0)
    train(a, X, T, seed=0)
    train(b, X.astype(np.int32), T.astype(bool), seed=0)
    assert a == b


@pytest.mark.parametrize("pair", [("softmax", "squared_error"), ("identity", "cross_entropy")])
def test_nonsense_loss_output_pairs_are_refused(train, xor, pair):
    X, T = xor
    out_act, loss = pair
    net = bpcore.Network((2, 2, 1), output_activation=out_act, seed=0)
    with pytest.raises(ValueError, match="does not go with"):
        train(net, X, T, loss=loss)


def test_cross_entropy_needs_probability_targets(train, xor):
    X, T = xor
    with pytest.raises(ValueError, match="targets in \\[0, 1\\]"):
        train(bpcore.Network((2, 2, 1), seed=0), X, T * 2, loss="cross_entropy")


def test_not_a_network(train, xor):
    with pytest.raises(TypeError, match="bpcore.Network"):
        train("net", *xor)


# ------------------------------------------------------------------ layouts that must work
@pytest.mark.parametrize("make", [
    lambda X: np.asfortranarray(X),
    lambda X: np.repeat(X, 2, axis=1)[:, ::2],          # non-contiguous view
    lambda X: X.astype(np.float32),                     # other dtype: converted
    lambda X: X.copy().setflags(write=False) or X,      # read-only
])
def test_any_numeric_layout_trains_like_a_contiguous_array(train, make):
    rng = np.random.default_rng(0)
    X = np.ascontiguousarray(rng.normal(size=(30, 4)).astype(np.float32), dtype=np.float64)
    T = rng.uniform(size=(30, 2))
    a, b = bpcore.Network((4, 3, 2), seed=1), bpcore.Network((4, 3, 2), seed=1)
    train(a, X, T, seed=2, epochs=2)
    train(b, make(X.copy()), T, seed=2, epochs=2)
    assert a == b


def test_read_only_and_memory_mapped_data(train, tmp_path):
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(20, 3)), rng.uniform(size=(20, 1))
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    assert not mapped.flags.writeable
    a, b = bpcore.Network((3, 2, 1), seed=0), bpcore.Network((3, 2, 1), seed=0)
    train(a, X, T, seed=0)
    train(b, mapped, T, seed=0)
    assert a == b
    del mapped


# ------------------------------------------------------------------ stopping rules (§9.1)
def test_stop_reason_epochs(train, xor):
    history = train(bpcore.Network((2, 2, 1), seed=0), *xor, epochs=7)
    assert history.stop_reason == "epochs" and history.epochs_run == 7
    assert len(history.train_error) == 7 and history.val_error == [] and history.best_epoch is None


def test_stop_reason_target_error(train, xor):
    net = bpcore.Network((2, 3, 1), init_scale=1.0, seed=1)
    history = train(net, *xor, learning_rate=2.0, epochs=10_000, seed=0, target_error=0.1)
    assert history.stop_reason == "target_error"
    assert history.train_error[-1] < 0.1 <= min(history.train_error[:-1])


def test_stop_reason_early_stopping_and_restore_best(train):
    """Noisy targets on few examples: validation error bottoms out, then rises;
    training stops `patience` epochs after the best one and restores its weights."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 6))
    T = rng.uniform(size=(12, 1))
    X_val, T_val = rng.normal(size=(30, 6)), rng.uniform(size=(30, 1))
    net = bpcore.Network((6, 20, 1), init_scale=0.5, seed=0)
    history = train(net, X, T, learning_rate=1.0, epochs=500, seed=0,
                    validation=(X_val, T_val), patience=5)
    assert history.stop_reason == "early_stopping"
    assert history.epochs_run == history.best_epoch + 5
    assert history.val_error[history.best_epoch - 1] == min(history.val_error)
    assert bpcore.total_error(net, X_val, T_val) == pytest.approx(min(history.val_error), rel=1e-9)

    again = bpcore.Network((6, 20, 1), init_scale=0.5, seed=0)
    kept = train(again, X, T, learning_rate=1.0, epochs=500, seed=0, validation=(X_val, T_val),
                 patience=5, restore_best=False)
    assert kept.epochs_run == history.epochs_run
    assert bpcore.total_error(again, X_val, T_val) == pytest.approx(kept.val_error[-1], rel=1e-9)


def test_callback_stops_only_on_false(train, xor):
    seen = []

    def callback(epoch, history):
        seen.append((epoch, len(history.train_error)))
        if epoch == 3:
            return False
        return None  # None continues

    history = train(bpcore.Network((2, 2, 1), seed=0), *xor, epochs=10, callback=callback)
    assert history.stop_reason == "callback" and history.epochs_run == 3
    assert seen == [(1, 1), (2, 2), (3, 3)]  # epochs count from 1


def test_same_seed_is_bit_identical_run_to_run(train):
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(50, 4)), rng.uniform(size=(50, 2))
    nets = [bpcore.Network((4, 6, 2), seed=3) for _ in range(2)]
    histories = [train(n, X, T, epochs=3, seed=11, momentum=0.5, batch_size=4) for n in nets]
    assert nets[0] == nets[1] and histories[0] == histories[1]


def test_shuffle_false_visits_examples_in_order(train):
    """With shuffle=False the order is the data's: reversing the data changes the result."""
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(10, 3)), rng.uniform(size=(10, 1))
    a, b = bpcore.Network((3, 2, 1), seed=0), bpcore.Network((3, 2, 1), seed=0)
    train(a, X, T, shuffle=False, learning_rate=0.5)
    train(b, X[::-1], T[::-1], shuffle=False, learning_rate=0.5)
    assert a != b


def test_momentum_speeds_up_a_slow_problem(train, xor):
    X, T = xor
    plain = train(bpcore.Network((2, 3, 1), init_scale=1.0, seed=1), X, T, learning_rate=0.3,
                  epochs=300, seed=0)
    heavy = train(bpcore.Network((2, 3, 1), init_scale=1.0, seed=1), X, T, learning_rate=0.3,
                  epochs=300, seed=0, momentum=0.9)
    assert heavy.train_error[-1] < plain.train_error[-1]


def test_softmax_cross_entropy_separates_three_blobs(train):
    X, T, y = blobs()
    net = bpcore.Network((2, 8, 3), output_activation="softmax", seed=0)
    train(net, X, T, loss="cross_entropy", learning_rate=0.1, epochs=30, seed=0)
    accuracy = np.mean(net.predict(X).argmax(axis=1) == y)
    assert accuracy >= 0.95
    np.testing.assert_allclose(net.predict(X).sum(axis=1), 1.0, rtol=1e-12)


def test_sigmoid_cross_entropy_learns_xor(train, xor):
    net = bpcore.Network((2, 4, 1), init="xavier", seed=0)
    train(net, *xor, loss="cross_entropy", learning_rate=0.5, epochs=2000, seed=0)
    assert np.array_equal(net.predict(xor[0]).round(), xor[1])


def test_identity_output_fits_a_regression(train):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 1))
    T = np.sin(3 * X)
    net = bpcore.Network((1, 16, 1), activation="tanh", output_activation="identity", init="xavier", seed=0)
    history = train(net, X, T, learning_rate=0.05, epochs=200, seed=0)
    assert history.train_error[-1] < 0.05 * history.train_error[0]


def test_weight_decay_and_clipping_shrink_the_steps(train, xor):
    X, T = xor
    free_net = bpcore.Network((2, 3, 1), init_scale=1.0, seed=1)
    train(free_net, X, T, learning_rate=2.0, epochs=500, seed=0)
    decayed = bpcore.Network((2, 3, 1), init_scale=1.0, seed=1)
    train(decayed, X, T, learning_rate=2.0, epochs=500, seed=0, weight_decay=0.01)
    assert np.linalg.norm(decayed.weights[0]) < np.linalg.norm(free_net.weights[0])
    start = bpcore.Network((2, 3, 1), init_scale=1.0, seed=1)
    clipped = start.copy()
    train(clipped, X[:1], T[:1], learning_rate=1.0, epochs=1, max_grad_norm=1e-3)
    step = np.linalg.norm(clipped.params_vector() - start.params_vector())
    assert step == pytest.approx(1e-3, rel=1e-9)  # η × clipped gradient norm


def test_mini_batch_of_everything_is_batch_gradient_descent(train):
    """batch_size ≥ n: one update per epoch with the gradient averaged over all examples."""
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(8, 3)), rng.uniform(size=(8, 1))
    net = bpcore.Network((3, 1), seed=0)
    start = net.copy()
    train(net, X, T, batch_size=100, learning_rate=0.5)
    o = start.predict(X)
    delta = o * (1 - o) * (T - o)                    # δ_k per example
    expected_W = start.weights[0] + 0.5 * (delta.T @ X) / 8
    np.testing.assert_allclose(net.weights[0], expected_W, rtol=1e-12)


def test_extreme_inputs_do_not_overflow_or_warn(train):
    """Sigmoid, softmax and cross-entropy stay finite and silent for |net| ≈ 1000
    (warnings are errors in this test suite)."""
    X = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    for out_act in ("sigmoid", "softmax"):
        net = bpcore.Network.from_arrays([np.eye(2)], [np.zeros(2)], output_activation=out_act)
        T = np.eye(2)
        history = train(net, X, T, loss="cross_entropy", learning_rate=1e-6)
        assert np.isfinite(history.train_error[0])
        assert np.isfinite(net.predict(X)).all()
        assert np.isfinite(bpcore.total_error(net, X, T, loss="cross_entropy"))


# ------------------------------------------------------------------ divergence
def test_divergence_raises_and_keeps_the_last_finite_epoch(train):
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(20, 3)) * 10, rng.normal(size=(20, 1)) * 10
    net = bpcore.Network((3, 5, 1), activation="relu", output_activation="identity", init="he", seed=0)
    with pytest.raises(bpcore.DivergenceError, match="diverged in epoch .* smaller learning_rate") as info:
        train(net, X, T, learning_rate=5.0, epochs=50, seed=0)
    epoch = info.value.epoch
    assert np.isfinite(net.params_vector()).all()
    if epoch > 1:  # the weights are those after the last finite epoch
        replay = bpcore.Network((3, 5, 1), activation="relu", output_activation="identity", init="he", seed=0)
        train(replay, X, T, learning_rate=5.0, epochs=epoch - 1, seed=0)
        assert replay == net
        assert len(info.value.history.train_error) == epoch - 1


# ------------------------------------------------------------------ progress
def test_progress_reports_each_epoch(train, xor, capsys):
    train(bpcore.Network((2, 2, 1), seed=0), *xor, epochs=3, progress=True,
          validation=xor)
    err = capsys.readouterr().err
    assert "val" in err and ("3/3" in err or "epoch 3" in err)


# ------------------------------------------------------------------ interruption
@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
@pytest.mark.parametrize("trainer", ["compiled", "reference"])
def test_ctrl_c_stops_quickly_and_leaves_a_usable_network(trainer):
    train = bpcore.train if trainer == "compiled" else bpcore.reference.train
    rng = np.random.default_rng(0)
    n = 20_000 if trainer == "compiled" else 200
    X, T = rng.normal(size=(n, 64)), rng.uniform(size=(n, 10))
    net = bpcore.Network((64, 128, 10), seed=0)
    sent = []

    def interrupt():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.3, interrupt)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        train(net, X, T, epochs=10_000)
    stopped = time.perf_counter()
    timer.join()
    assert stopped - sent[0] < 2.0  # "a fraction of a second"; generous on a shared machine
    assert np.isfinite(net.params_vector()).all()
    assert net != bpcore.Network((64, 128, 10), seed=0)  # it had trained
    bpcore.train(net, X[:10], T[:10])  # usable, and not left busy


# ------------------------------------------------------------------ threads and the GIL
def test_the_gil_is_released_while_training():
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(3000, 64)), rng.uniform(size=(3000, 10))
    net = bpcore.Network((64, 256, 10), seed=0)
    ticks = [0]
    done = threading.Event()
    during = {}

    def trainer():
        start = ticks[0]
        bpcore.train(net, X, T, epochs=3)
        during["ticks"] = ticks[0] - start
        done.set()

    thread = threading.Thread(target=trainer)
    thread.start()
    while not done.is_set():
        ticks[0] += 1  # pure-Python work: only runs if the trainer does not hold the GIL
    thread.join()
    assert during["ticks"] > 1000


def test_two_threads_two_networks_equal_sequential():
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(2000, 32)), rng.uniform(size=(2000, 4))
    nets = [bpcore.Network((32, 64, 4), seed=s) for s in (1, 2)]
    sequential = [n.copy() for n in nets]
    for n in sequential:
        bpcore.train(n, X, T, epochs=2, seed=5)
    threads = [threading.Thread(target=bpcore.train, args=(n, X, T), kwargs=dict(epochs=2, seed=5))
               for n in nets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert nets == sequential


def test_training_one_network_twice_at_once_is_an_error(train, xor):
    """The same network from two places at once (here: from inside a callback)
    gets a clear RuntimeError, and the outer training finishes normally."""
    net = bpcore.Network((2, 2, 1), seed=0)
    errors = []

    def callback(epoch, history):
        with pytest.raises(RuntimeError, match="busy") as info:
            bpcore.train(net, *xor)
        errors.append(info.value)

    history = train(net, *xor, epochs=2, callback=callback)
    assert len(errors) == 2 and history.epochs_run == 2


def test_training_one_network_from_another_thread_is_an_error(xor):
    net = bpcore.Network((2, 2, 1), seed=0)
    with net._exclusive():  # as if a long training held it in this thread
        outcome = []
        thread = threading.Thread(target=lambda: outcome.append(_try_train(net, xor)))
        thread.start()
        thread.join()
    assert isinstance(outcome[0], RuntimeError)


def _try_train(net, data):
    try:
        bpcore.train(net, *data)
    except RuntimeError as exc:
        return exc
    return None


# ------------------------------------------------------------------ memory
def test_no_copy_of_contiguous_training_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50_000, 40))          # 16 MB
    T = rng.uniform(size=(50_000, 2))
    net = bpcore.Network((40, 8, 2), seed=0)
    bpcore.train(net, X[:10], T[:10])          # warm up imports and caches
    tracemalloc.start()
    try:
        bpcore.train(net, X, T, epochs=1, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The only per-example allocation is the epoch's order (8 bytes per example,
    # 1/40 of X here; numpy's permutation briefly holds two of them).
    assert peak < X.nbytes / 10, f"peak {peak} bytes during train; X is {X.nbytes}"


def test_a_converted_array_is_copied_once(tmp_path):
    """The check above can fail: float32 data for a float64 network is copied."""
    X = np.random.default_rng(0).normal(size=(50_000, 40)).astype(np.float32)
    T = np.zeros((50_000, 2))
    net = bpcore.Network((40, 8, 2), seed=0)
    tracemalloc.start()
    try:
        bpcore.train(net, X, T)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak >= 2 * X.nbytes


# ------------------------------------------------------------------ the compiled module
def test_the_compiled_kernels_are_loaded():
    """Fails (never skips) when the extension did not build or load."""
    import importlib

    base = importlib.import_module("bpcore._kernels_base")
    assert base.__file__.endswith((".so", ".pyd"))
    assert _dispatch.kernels.__name__.startswith("bpcore._kernels_")
    assert bpcore.kernel_variant in _dispatch.available_variants()
    assert bpcore.train.__module__ == "bpcore"


@pytest.mark.parametrize("variant", _dispatch.available_variants())
def test_every_built_variant_agrees_with_the_reference(variant, monkeypatch, assert_params_close):
    import importlib

    monkeypatch.setattr(_dispatch, "kernels", importlib.import_module(f"bpcore._kernels_{variant}"))
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(60, 33)), rng.uniform(size=(60, 5))
    for dtype in ("float64", "float32"):
        net = bpcore.Network((33, 17, 9, 5), seed=0, dtype=dtype)
        ref, fast = net.copy(), net.copy()
        bpcore.reference.train(ref, X, T, epochs=2, seed=0, learning_rate=0.3)
        bpcore.train(fast, X, T, epochs=2, seed=0, learning_rate=0.3)
        assert_params_close(fast.params_vector(), ref.params_vector(), dtype)
        np.testing.assert_allclose(fast.predict(X), bpcore.reference.predict(ref, X),
                                   rtol=1e-12 if dtype == "float64" else 1e-4)
