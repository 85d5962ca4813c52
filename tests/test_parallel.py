"""bpcore.train_many: concurrent training equals training one by one."""

import _thread
import threading

import numpy as np
import pytest

import bpcore
import bpcore.datasets
from bpcore import DivergenceError, Network, train, train_many
from bpcore.parallel import train_hogwild


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(400, 6))
    T = (np.sin(X @ rng.normal(size=(6, 2))) + 1) / 2
    return X, T


def nets(n, **kwargs):
    return [Network((6, 8, 2), seed=s, **kwargs) for s in range(n)]


def assert_same_history(a, b):
    assert a.train_error == b.train_error
    assert a.val_error == b.val_error
    assert (a.epochs_run, a.best_epoch, a.stop_reason) == (b.epochs_run, b.best_epoch, b.stop_reason)


@pytest.mark.parametrize("n_jobs", [-1, 2, 3, 1])
def test_train_many_equals_sequential_training(data, n_jobs):
    X, T = data
    options = dict(learning_rate=0.3, epochs=15, seed=4, momentum=0.5, validation=(X[:50], T[:50]))
    parallel, sequential = nets(5), nets(5)
    histories = train_many(parallel, X, T, n_jobs=n_jobs, **options)
    assert len(histories) == 5
    for net, alone, history in zip(parallel, sequential, histories):
        assert_same_history(history, train(alone, X, T, **options))
        assert net == alone  # bit for bit
    assert parallel[0] != parallel[1]


def test_per_network_options_override_the_common_ones(data):
    X, T = data
    rates = [0.05, 0.5, 2.0]
    parallel, sequential = nets(3), nets(3)
    histories = train_many(
        parallel, X, T, epochs=5, seed=1, per_network=[{"learning_rate": r} for r in rates]
    )
    for net, alone, rate, history in zip(parallel, sequential, rates, histories):
        assert_same_history(history, train(alone, X, T, epochs=5, seed=1, learning_rate=rate))
        assert net == alone


def test_different_shapes_and_dtypes_train_together(data):
    X, T = data
    mixed = [Network((6, 3, 2), seed=0), Network((6, 5, 4, 2), seed=1, dtype="float32")]
    copies = [net.copy() for net in mixed]
    histories = train_many(mixed, X, T, epochs=3, seed=0, n_jobs=2)
    for net, alone, history in zip(mixed, copies, histories):
        assert_same_history(history, train(alone, X, T, epochs=3, seed=0))
        assert net == alone


def test_networks_really_train_on_several_threads_at_once(data):
    """A callback that waits until two networks are inside training at the same
    time: it would time out if train_many ran them one after another."""
    X, T = data
    barrier = threading.Barrier(2, timeout=30)
    threads = set()

    def meet(epoch, history):
        threads.add(threading.get_ident())
        if epoch == 1:
            barrier.wait()

    train_many(nets(2), X, T, epochs=2, n_jobs=2, callback=meet)
    assert len(threads) == 2 and threading.get_ident() not in threads


def test_bad_input_changes_no_network(data):
    X, T = data
    networks = nets(2) + [Network((5, 8, 2), seed=9)]
    before = [net.params_vector() for net in networks]
    with pytest.raises(ValueError, match=r"networks\[2\]: X has 6 columns"):
        train_many(networks, X, T, epochs=2)
    with pytest.raises(ValueError, match=r"networks\[1\]: .*learning_rate"):
        train_many(nets(2), X, T, per_network=[{}, {"learning_rate": -1.0}])
    with pytest.raises(TypeError, match="unexpected train option"):
        train_many(networks[:2], X, T, epoch=3)
    with pytest.raises(TypeError, match=r"per_network\[0\] has unknown"):
        train_many(networks[:2], X, T, per_network=[{"lr": 1}, {}])
    with pytest.raises(ValueError, match="one dict per network"):
        train_many(networks[:2], X, T, per_network=[{}])
    with pytest.raises(ValueError, match=r"networks\[1\] is the same Network as networks\[0\]"):
        train_many([networks[0], networks[0]], X, T)
    with pytest.raises(TypeError, match=r"networks\[1\] must be a bpcore.Network"):
        train_many([networks[0], "net"], X, T)
    with pytest.raises(ValueError, match="n_jobs"):
        train_many(networks[:2], X, T, n_jobs=0)
    for net, params in zip(networks, before):
        np.testing.assert_array_equal(net.params_vector(), params)


def test_a_diverging_network_does_not_stop_the_others(data):
    X, T = data
    networks = nets(3, output_activation="identity")
    copies = [net.copy() for net in networks]
    with pytest.raises(DivergenceError) as caught:
        train_many(networks, X * 1e3, T, epochs=3, per_network=[{}, {"learning_rate": 1e3}, {}],
                   learning_rate=1e-9, seed=0, n_jobs=3)
    assert caught.value.epoch == 1
    assert networks[1] == copies[1]  # the weights of the last finite epoch: the initial ones
    for i in (0, 2):
        train(copies[i], X * 1e3, T, epochs=3, learning_rate=1e-9, seed=0)
        assert networks[i] == copies[i]


def test_empty_list_and_export():
    assert train_many([], np.zeros((1, 2)), np.zeros((1, 1))) == []
    assert bpcore.train_many is train_many


def test_ctrl_c_stops_every_network_after_its_epoch(data):
    """Ctrl-C (simulated from a worker thread) ends every network's training at
    the end of its epoch: none of them runs its 100,000 epochs."""
    X, T = data
    last_epoch = {}
    lock = threading.Lock()

    def interrupt_once(epoch, history):
        with lock:
            last_epoch[threading.get_ident()] = epoch
            if epoch == 3 and "sent" not in last_epoch:
                last_epoch["sent"] = epoch
                _thread.interrupt_main()

    networks = nets(3)
    with pytest.raises(KeyboardInterrupt):
        train_many(networks, X, T, epochs=100_000, n_jobs=2, callback=interrupt_once)
    assert last_epoch.pop("sent") == 3
    assert last_epoch and max(last_epoch.values()) < 100_000


# ------------------------------------------------------------------ Hogwild!
def test_hogwild_on_one_thread_is_bpcore_train(data):
    X, T = data
    options = dict(learning_rate=0.3, epochs=6, seed=2, momentum=0.3, batch_size=4,
                   validation=(X[:40], T[:40]))
    hog, alone = nets(2)[0], nets(1)[0]
    assert_same_history(train_hogwild(hog, X, T, n_threads=1, **options), train(alone, X, T, **options))
    assert hog == alone


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_hogwild_on_two_threads_learns_like_sequential_sgd(momentum):
    """Nondeterministic, so only the outcome is compared: the digits training
    error ends far below the start and below twice the sequential trainer's
    (runs vary by up to a third with how the threads interleave)."""
    X, y = bpcore.datasets.load_digits()
    T = bpcore.datasets.one_hot(y)
    options = dict(learning_rate=0.1, epochs=8, seed=0, momentum=momentum)
    hog, alone = Network((64, 32, 10), seed=0), Network((64, 32, 10), seed=0)
    start = bpcore.total_error(hog, X, T)
    history = train_hogwild(hog, X, T, n_threads=2, **options)
    sequential = train(alone, X, T, **options).train_error[-1]
    assert history.epochs_run == 8 and history.stop_reason == "epochs"
    assert bpcore.total_error(hog, X, T) < 0.2 * start
    assert history.train_error[-1] < 2 * sequential


def test_hogwild_rejects_bad_input_and_a_busy_network(data):
    X, T = data
    net = nets(1)[0]
    before = net.params_vector()
    with pytest.raises(ValueError, match="learning_rate"):
        train_hogwild(net, X, T, learning_rate=0.0)
    with pytest.raises(TypeError, match=r"train_hogwild\(\) got unexpected"):
        train_hogwild(net, X, T, rate=0.1)
    with pytest.raises(ValueError, match="n_threads"):
        train_hogwild(net, X, T, n_threads=0)
    with net._exclusive(), pytest.raises(RuntimeError, match="busy"):
        train_hogwild(net, X, T, n_threads=2)
    np.testing.assert_array_equal(net.params_vector(), before)
