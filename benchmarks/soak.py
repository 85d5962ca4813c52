"""Soak test (not in CI): tens of millions of example steps through
``bpcore.train`` on one network, watching for leaks and for drift from the
reference.

A 64-32-10 sigmoid network trains on random data (10,000 examples by
default) in many calls of a few epochs each, so every per-call allocation
(example orders, scratch buffers, History) is repeated thousands of times; the
network is also used by ``predict`` and ``total_error`` between calls. At each
checkpoint:

* memory: the process's resident set size (psutil, else VmRSS of
  /proc/self/status);
* agreement: a copy of the network as it stands trains one more epoch on a
  subset of the data with ``bpcore.train`` and with ``bpcore.reference.train``;
  both must give the same parameters within 1e-12 (relative to max(1, |w|)),
  and ``net.predict`` / ``bpcore.total_error`` must equal the reference's
  within 1e-12 on the subset.

RSS "before" is taken at checkpoint 0, after a warm-up of one checkpoint
interval: imports, first-time allocations and the allocators' high-water marks
(glibc's heap and pymalloc's arenas settle over the first few calls and
checks; the reference trainer makes many Python floats) are not growth. RSS
at start is printed too. Prints one table row per checkpoint and a verdict; exits 1 if RSS grew
by more than 1% or any check disagreed.

    python benchmarks/soak.py                  # 50 million example steps
    python benchmarks/soak.py --steps 2e6      # a quick run
"""

import argparse
import os
import sys
import time

import numpy as np

import bpcore

TOLERANCE = 1e-12


def rss_bytes():
    """Resident set size of this process."""
    try:
        import psutil
    except ImportError:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no psutil and no /proc/self/status: cannot measure RSS") from None
    return psutil.Process(os.getpid()).memory_info().rss


def relative_difference(a, b):
    """max |a − b| / max(1, |a|, |b|), the agreement measure of the test suite."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    return float(np.max(np.abs(a - b) / scale))


def agreement(net, X, T, seed):
    """Largest relative difference between the compiled and the reference
    trainer (one epoch from the network's current weights), predict and
    total_error, on the subset ``X``, ``T``."""
    fast, slow = net.copy(), net.copy()
    bpcore.train(fast, X, T, learning_rate=0.1, epochs=1, seed=seed)
    bpcore.reference.train(slow, X, T, learning_rate=0.1, epochs=1, seed=seed)
    return max(
        relative_difference(fast.params_vector(), slow.params_vector()),
        relative_difference(net.predict(X), bpcore.reference.predict(net, X)),
        relative_difference(bpcore.total_error(net, X, T), bpcore.reference.total_error(net, X, T)),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=float, default=50e6, help="example steps in all (default 5e7)")
    parser.add_argument("--examples", type=int, default=10_000, help="training examples (default 10000)")
    parser.add_argument("--epochs-per-call", type=int, default=5, help="epochs per train() call")
    parser.add_argument("--checkpoints", type=int, default=10)
    parser.add_argument("--subset", type=int, default=32, help="examples in each agreement check")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.examples, 64))
    T = np.eye(10)[rng.integers(0, 10, size=args.examples)]
    net = bpcore.Network((64, 32, 10), init="xavier", seed=0)
    per_call = args.examples * args.epochs_per_call
    every = max(1, round(args.steps / per_call / (args.checkpoints + 1)))  # calls per checkpoint
    calls = every * (args.checkpoints + 1)
    at_start = rss_bytes()

    print(f"bpcore {bpcore.__version__}, kernel {bpcore.kernel_variant}, 64-32-10 float64, "
          f"{args.examples} examples, {calls} train() calls of {args.epochs_per_call} epochs "
          f"= {calls * per_call:,} example steps; RSS at start {at_start / 2**20:.1f} MB")
    header = f"{'checkpoint':>10} {'steps':>14} {'seconds':>8} {'steps/s':>11} {'RSS MB':>8} " \
             f"{'vs before':>9} {'train E':>10} {'max diff vs ref':>16}"
    print(header)
    print("-" * len(header))

    def train_call(seed):
        """One train() call, then predict and total_error: the unit that repeats."""
        start = time.perf_counter()
        history = bpcore.train(net, X, T, learning_rate=0.1, epochs=args.epochs_per_call, seed=seed)
        seconds = time.perf_counter() - start
        net.predict(X[:100])
        bpcore.total_error(net, X[:100], T[:100])
        return seconds, history.train_error[-1]

    worst, before, steps, elapsed = 0.0, None, 0, 0.0
    for call in range(1, calls + 1):
        seconds, error = train_call(call)
        elapsed += seconds
        steps += per_call
        if call % every == 0:
            offset = (call * args.subset) % (args.examples - args.subset)
            diff = agreement(net, X[offset: offset + args.subset], T[offset: offset + args.subset], seed=call)
            worst = max(worst, diff)
            rss = rss_bytes()
            before = before or rss  # checkpoint 0 ends the warm-up
            print(f"{call // every - 1:>10} {steps:>14,} {elapsed:>8.1f} {steps / elapsed:>11,.0f} "
                  f"{rss / 2**20:>8.1f} {100 * (rss - before) / before:>+8.2f}% {error:>10.2f} {diff:>16.2e}")
    after = rss_bytes()
    growth = (after - before) / before
    print()
    print(f"example steps: {steps:,} in {elapsed:.1f} s of training ({steps / elapsed:,.0f} per second)")
    print(f"RSS at start: {at_start / 2**20:.1f} MB; at checkpoint 0 (before): {before / 2**20:.1f} MB; "
          f"after: {after / 2**20:.1f} MB; growth {100 * growth:+.2f}% (limit 1%)")
    print(f"largest difference from the reference at any checkpoint: {worst:.2e} (limit {TOLERANCE:g})")
    ok = growth <= 0.01 and worst <= TOLERANCE
    print("OK: flat memory, agrees with the reference" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
