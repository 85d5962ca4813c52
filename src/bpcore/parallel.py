"""Training on several threads: independent networks concurrently, one per
thread (``train_many``), or one network with lock-free parallel SGD
(``train_hogwild``).

    histories = bpcore.train_many(
        [bpcore.Network((64, 32, 10), seed=s) for s in range(8)],
        X, T, learning_rate=0.1, epochs=20, seed=0,
    )

The compiled kernels release the GIL while they train, so threads run on
separate cores with no copies of the data and no worker processes. In
``train_many`` each network is trained by :func:`bpcore.train` exactly as it
would be on its own, so the results are identical to training the networks one
after another. ``train_hogwild`` is nondeterministic by design.
"""

import concurrent.futures
import numbers
import os
import threading

import numpy as np

from . import _training
from .compiled import _KernelRunner, train
from .network import check_network

__all__ = ["train_many", "train_hogwild"]

# The options of bpcore.train and their defaults.
_TRAIN_DEFAULTS = _training.TRAIN_DEFAULTS


def _cpu_count():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _n_threads(n_jobs, limit, name="n_jobs"):
    """joblib's convention: -1 all CPUs, -2 all but one, ...; positive: that
    many; at most ``limit`` (at least 1)."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(
            f"{name} must be a non-zero integer (-1: one thread per CPU); got {n_jobs!r}"
        )
    wanted = n_jobs if n_jobs > 0 else max(1, _cpu_count() + 1 + n_jobs)
    return max(1, min(wanted, limit))


def _options(n_networks, per_network, common, caller="train_many"):
    """One complete option dict per network: ``common`` overridden by
    ``per_network[i]``; unknown names are rejected like a bad keyword."""
    unknown = set(common) - set(_TRAIN_DEFAULTS)
    if unknown:
        raise TypeError(f"{caller}() got unexpected train option(s): {sorted(unknown)}")
    if per_network is None:
        per_network = [{}] * n_networks
    per_network = list(per_network)
    if len(per_network) != n_networks:
        raise ValueError(
            f"per_network must hold one dict per network: {n_networks} networks, "
            f"{len(per_network)} dicts"
        )
    options = []
    for i, extra in enumerate(per_network):
        if not isinstance(extra, dict):
            raise TypeError(f"per_network[{i}] must be a dict of train options; got {extra!r}")
        unknown = set(extra) - set(_TRAIN_DEFAULTS)
        if unknown:
            raise TypeError(f"per_network[{i}] has unknown train option(s): {sorted(unknown)}")
        options.append({**_TRAIN_DEFAULTS, **common, **extra})
    return options


def _prepared(networks, X, T, options):
    """Check every network with its options before any is trained (so bad input
    changes no network); returns the ``bpcore.train`` arguments for each."""
    seen = {}
    calls = []
    for i, (net, opts) in enumerate(zip(networks, options)):
        check_network(net, f"networks[{i}]")
        if id(net) in seen:
            raise ValueError(
                f"networks[{i}] is the same Network as networks[{seen[id(net)]}]; "
                "a network can be trained by one thread at a time (pass net.copy())"
            )
        seen[id(net)] = i
        try:
            setup = _training.prepare(net, X, T, dict(opts))
        except (TypeError, ValueError) as error:
            raise type(error)(f"networks[{i}]: {error}") from None
        # Already converted: bpcore.train uses these arrays without copying them.
        validation = None if setup.X_val is None else (setup.X_val, setup.T_val)
        calls.append((setup.X, setup.T, {**setup.options, "validation": validation}))
    return calls


class _StopOnEvent:
    """Wraps a network's callback: ends its training after the current epoch
    once ``event`` is set (the caller was interrupted)."""

    def __init__(self, event, callback):
        self.event, self.callback = event, callback

    def __call__(self, epoch, history):
        if self.event.is_set():
            return False
        return None if self.callback is None else self.callback(epoch, history)


def train_many(networks, X, T, *, n_jobs=-1, per_network=None, **train_options):
    """Train each network of ``networks`` in place on ``X``, ``T``, several at
    once on a pool of threads.

    Parameters
    ----------
    networks : sequence of Network
        Distinct networks (random restarts, seeds, architectures...); they may
        differ in shape and dtype as long as each fits ``X`` and ``T``.
    X : array-like of shape (n_examples, n_inputs)
    T : array-like of shape (n_examples, n_outputs), or (n_examples,) for one output
    n_jobs : int, default -1
        Threads: -1 one per CPU, -2 all but one, ...; never more than networks.
        ``n_jobs=1`` trains them one after another in the calling thread.
    per_network : sequence of dict or None
        Optional train options per network (e.g. ``[{"learning_rate": lr} for lr
        in rates]``), overriding ``train_options`` for that network.
    **train_options
        Any option of :func:`bpcore.train`, for every network. A ``callback``
        is called from the worker threads (it must be thread-safe).

    Returns
    -------
    list of History
        ``histories[i]`` belongs to ``networks[i]``. Every network ends exactly
        as ``bpcore.train(networks[i], X, T, **options_i)`` would leave it.

    Raises
    ------
    ValueError, TypeError
        For bad arguments, before any network changes (the message names the
        network, e.g. ``networks[2]: X has 3 columns ...``).
    DivergenceError and other errors of training
        The other networks still finish; then the error of the lowest-numbered
        failing network is raised.
    KeyboardInterrupt
        Every network being trained stops at the end of its current epoch,
        those not started yet stay untrained; then it is raised.
    """
    networks = list(networks)
    n_threads = _n_threads(n_jobs, len(networks))
    calls = _prepared(networks, X, T, _options(len(networks), per_network, train_options))
    if n_threads == 1:
        return [train(net, X_, T_, **opts) for net, (X_, T_, opts) in zip(networks, calls)]
    stop = threading.Event()
    futures = []
    with concurrent.futures.ThreadPoolExecutor(n_threads, thread_name_prefix="bpcore") as pool:
        try:
            for net, (X_, T_, opts) in zip(networks, calls):
                opts = {**opts, "callback": _StopOnEvent(stop, opts["callback"])}
                futures.append(pool.submit(train, net, X_, T_, **opts))
            # Wake up now and then: a Ctrl-C that the OS delivered to a worker
            # thread is only acted on when the main thread runs Python code.
            while concurrent.futures.wait(futures, timeout=0.1).not_done:
                pass
        except BaseException:  # Ctrl-C: the pool's exit waits for the epochs under way
            stop.set()
            for future in futures:
                future.cancel()
            raise
    return [future.result() for future in futures]


class _HogwildRunner(_KernelRunner):
    """Runs every epoch's example order split into one contiguous shard per
    thread; each thread runs the ordinary kernel on its shard with its own
    scratch buffers (momentum, mini-batch gradient), and all of them update the
    network's one parameter buffer in place, without locks (Hogwild!)."""

    def __init__(self, net, setup, pool, n_threads):
        super().__init__(net, setup)
        self.pool = pool
        self.shards = [_KernelRunner(net, setup) for _ in range(n_threads)]

    def set_learning_rate(self, rate):
        for shard in self.shards:
            shard.set_learning_rate(rate)

    def run_epoch(self, order):
        parts = np.array_split(order, len(self.shards))
        return sum(self.pool.map(_KernelRunner.run_epoch, self.shards, parts))


def train_hogwild(net, X, T, *, n_threads=-1, **train_options):
    """Train one network in place with lock-free parallel SGD (Hogwild!-style):
    each epoch's examples are split between ``n_threads`` threads that update
    the same weights at the same time, without locks.

    **Nondeterministic**: the threads' updates interleave differently on every
    run, so two runs with the same ``seed`` give different weights (each
    update may also read weights that another thread is changing). Use
    :func:`bpcore.train` for reproducible results. With ``n_threads=1`` it is
    exactly ``bpcore.train``.

    **Usually slower on dense networks**: every example writes every weight,
    so the cores fight over the same cache lines. Measured on 2 cores
    (``benchmarks/bench_ecosystem.py``, digits): 0.1x of ``bpcore.train`` for
    64-32-10 and 64-256-10. Hogwild! pays off when each example touches few
    weights (sparse inputs); for using every core, train several networks with
    :func:`train_many` instead.

    Parameters
    ----------
    net : Network
    X : array-like of shape (n_examples, n_inputs)
    T : array-like of shape (n_examples, n_outputs), or (n_examples,) for one output
    n_threads : int, default -1
        joblib's convention: -1 one thread per CPU, -2 all but one, ...; never
        more than the CPUs (extra threads would only contend).
    **train_options
        Any option of :func:`bpcore.train`. Epochs, shuffling, the stopping
        rules, validation, callbacks and ``History`` work as there; momentum and
        mini-batch gradients are kept per thread.

    Returns the :class:`~bpcore.History`. Errors are those of
    :func:`bpcore.train`: bad arguments raise ValueError or TypeError before
    any weight changes; DivergenceError, RuntimeError (network busy) and
    KeyboardInterrupt as there, Ctrl-C taking effect when the threads finish
    their shares of the current epoch.
    """
    n_threads = _n_threads(n_threads, _cpu_count(), name="n_threads")
    options = _options(1, None, train_options, caller="train_hogwild")[0]
    check_network(net)
    # The lock outlives the pool: it is released only after every thread stopped.
    # It is taken before prepare, which adopts hand-replaced weights.
    with net._exclusive(), concurrent.futures.ThreadPoolExecutor(n_threads, "bpcore-hogwild") as pool:
        setup = _training.prepare(net, X, T, options)
        return _training.run(setup, _HogwildRunner(net, setup, pool, n_threads))
