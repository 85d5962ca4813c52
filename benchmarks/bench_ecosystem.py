"""bpcore in the Python ecosystem: its scikit-learn estimator against
scikit-learn's MLP, and train_many on every core against one thread.

    python benchmarks/bench_ecosystem.py            # about a minute
    python benchmarks/bench_ecosystem.py --quick    # a few seconds, rougher

1. Fit time of ``BackpropClassifier`` against ``MLPClassifier(solver="sgd",
   batch_size=1)`` with the same settings on the embedded digits (64-32-10,
   logistic hidden units, softmax + cross-entropy, learning rate 0.1, no
   momentum, a fixed number of epochs: ``n_iter_no_change`` = ``max_iter``), with
   and without the L2 term ``alpha``. Target (issue 7): at least 50x.
2. ``bpcore.train_many`` training several networks on all cores against the
   same networks trained one after another (``n_jobs=1``), in examples per
   second. Target: at least 1.8x on 2 cores.
3. ``bpcore.parallel.train_hogwild`` (lock-free SGD on one network, all cores)
   against ``bpcore.train``: speed-up, and the final training error and
   accuracy of both (Hogwild! is nondeterministic: one run each).

Timings are medians of repeated runs, BLAS limited to one thread. Needs the
optional extra ``bench`` (scikit-learn, threadpoolctl). See docs/sklearn.md.
"""

import argparse
import os
import statistics
import sys
import threading
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import bpcore
from bpcore.datasets import load_digits, one_hot
from bpcore.parallel import train_hogwild
from bpcore.sklearn import BackpropClassifier

FIT_TARGET, THREAD_TARGET = 50.0, 1.8


def median_seconds(run, repeats):
    """Median wall time of ``repeats`` calls of ``run()`` (after one warm-up),
    and the median number of cores the process kept busy meanwhile (process
    CPU time / wall time: about 1 for one thread; below the thread count when
    other work on the machine takes cores away)."""
    run()
    walls, cores = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        walls.append(wall)
        cores.append(cpu / wall)
    return statistics.median(walls), statistics.median(cores)


def machine_parallelism(cores):
    """Throughput of ``cores`` threads of a GIL-free numpy matmul (one BLAS
    thread each) over one thread's: the ceiling any thread-level speed-up can
    reach right now (about ``cores`` on an idle machine, less when other work
    or the hypervisor takes CPU time away)."""
    a = np.random.default_rng(0).random((200, 200))

    def work():
        for _ in range(50):
            a @ a

    def threads(n):
        pool = [threading.Thread(target=work) for _ in range(n)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()

    one = median_seconds(lambda: threads(1), 5)[0]
    many = median_seconds(lambda: threads(cores), 5)[0]
    return cores * one / many


def fit_ratio(X, y, *, epochs, alpha, repeats):
    """Seconds per fit of scikit-learn's MLP and of bpcore's estimator."""
    settings = dict(hidden_layer_sizes=(32,), activation="logistic", learning_rate_init=0.1,
                    momentum=0.0, alpha=alpha, max_iter=epochs, n_iter_no_change=epochs,
                    random_state=0)
    theirs = MLPClassifier(solver="sgd", batch_size=1, **settings)
    ours = BackpropClassifier(**settings)
    t_theirs = median_seconds(lambda: theirs.fit(X, y), max(1, repeats // 5))[0]
    t_ours = median_seconds(lambda: ours.fit(X, y), repeats)[0]
    return t_theirs, t_ours, ours.score(X, y), theirs.score(X, y)


def threads_ratio(X, T, *, n_networks, epochs, repeats):
    """(seconds, cores busy) to train ``n_networks`` 64-32-10 networks one by
    one and on all cores."""
    def run(n_jobs):
        networks = [bpcore.Network((64, 32, 10), seed=s) for s in range(n_networks)]
        bpcore.train_many(networks, X, T, learning_rate=0.1, epochs=epochs, seed=0, n_jobs=n_jobs)

    return median_seconds(lambda: run(1), repeats), median_seconds(lambda: run(-1), repeats)


def hogwild_rows(X, y, T, *, epochs, repeats):
    """Per shape: seconds, speed-up, mean training error and accuracy of
    sequential SGD and of Hogwild! on all cores."""
    rows = []
    for hidden in (32, 256):
        shape = (64, hidden, 10)
        results = {}
        for name, trainer in (("sequential", bpcore.train), ("hogwild", train_hogwild)):
            def run():
                net = bpcore.Network(shape, seed=0)
                history = trainer(net, X, T, learning_rate=0.1, epochs=epochs, seed=0)
                results[name] = (history.train_error[-1] / len(X), (net.predict(X).argmax(1) == y).mean())
            results[name + " s"] = median_seconds(run, repeats)
        (one, one_busy), (many, busy) = results["sequential s"], results["hogwild s"]
        rows.append(["-".join(map(str, shape)), f"{one:.3f}", f"{many:.3f}", f"{one_busy:.2f} / {busy:.2f}",
                     f"{one / many:.2f}x",
                     "%.4f / %.4f" % (results["sequential"][0], results["hogwild"][0]),
                     "%.3f / %.3f" % (results["sequential"][1], results["hogwild"][1])])
    return rows


def table(title, header, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    print(f"\n{title}")
    for row in (header, ["-" * w for w in widths], *rows):
        print("  ".join(str(cell).rjust(w) for cell, w in zip(row, widths)))


def main(argv=None):
    parser = argparse.ArgumentParser(description="bpcore against scikit-learn's MLP, and train_many.")
    parser.add_argument("--quick", action="store_true", help="fewer epochs and repeats (rougher)")
    args = parser.parse_args(argv)
    epochs, repeats = (3, 5) if args.quick else (10, 15)
    X, y = load_digits()
    n = len(X)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"bpcore {bpcore.__version__}, kernel {bpcore.kernel_variant}, {cores} cores, "
          f"Python {sys.version.split()[0]}; digits {X.shape}; "
          f"load average {os.getloadavg()[0]:.2f} (other work on the machine skews the timings)")
    with threadpool_limits(1):
        ceiling = machine_parallelism(cores)
    print(f"parallel capacity now: {cores} threads of numpy matmul give {ceiling:.2f}x one thread's "
          "throughput (the ceiling for the thread speed-ups below)")

    rows, ratios = [], []
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # fixed epoch counts, on purpose
        for alpha in (0.0, 1e-4):
            t_theirs, t_ours, acc_ours, acc_theirs = fit_ratio(X, y, epochs=epochs, alpha=alpha, repeats=repeats)
            ratios.append(t_theirs / t_ours)
            rows.append([f"{alpha:g}", epochs, f"{t_theirs * 1e3:.1f}", f"{t_ours * 1e3:.2f}",
                         f"{epochs * n / t_theirs:,.0f}", f"{epochs * n / t_ours:,.0f}",
                         f"{t_theirs / t_ours:.1f}x", f"{acc_theirs:.3f} / {acc_ours:.3f}"])
    table("Fit time, digits 64-32-10, batch size 1 (MLPClassifier(solver='sgd') vs BackpropClassifier)",
          ["alpha", "epochs", "sklearn ms", "bpcore ms", "sklearn ex/s", "bpcore ex/s", "speed-up",
           "train acc sk / bp"], rows)

    n_networks = 2 * cores
    (one, one_busy), (many, busy) = threads_ratio(X, one_hot(y), n_networks=n_networks, epochs=epochs, repeats=repeats)
    examples = n_networks * epochs * n
    table(f"train_many: {n_networks} networks 64-32-10, {epochs} epochs each",
          ["threads", "seconds", "examples/s", "cores busy", "speed-up"],
          [[1, f"{one:.3f}", f"{examples / one:,.0f}", f"{one_busy:.2f}", "1.00x"],
           [f"{cores} (n_jobs=-1)", f"{many:.3f}", f"{examples / many:,.0f}", f"{busy:.2f}", f"{one / many:.2f}x"]])

    table(f"Hogwild! (one network, {cores} threads) vs bpcore.train, {epochs} epochs, sigmoid, squared error",
          ["shape", "sequential s", "hogwild s", "cores busy seq / hog", "speed-up", "error/example seq / hog",
           "accuracy seq / hog"],
          hogwild_rows(X, y, one_hot(y), epochs=epochs, repeats=repeats))

    print(f"\nfit-time speed-up vs MLPClassifier: {min(ratios):.1f}x at worst "
          f"(target >= {FIT_TARGET:g}x: {'met' if min(ratios) >= FIT_TARGET else 'NOT met'})")
    print(f"train_many speed-up on {cores} cores: {one / many:.2f}x "
          f"(target >= {THREAD_TARGET:g}x: {'met' if one / many >= THREAD_TARGET else 'NOT met'})")


if __name__ == "__main__":
    main()
