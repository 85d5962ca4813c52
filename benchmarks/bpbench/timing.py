"""Timing: examples per second of a peer, the single-thread matmul rate, and
what the machine is."""

import dataclasses
import os
import platform
import statistics
import time

import numpy as np

__all__ = ["Measurement", "plan", "measure", "load_average", "MatmulProbe", "blas_info", "cpu_name"]


FULL_PASS_BUDGETS = 3


@dataclasses.dataclass
class Measurement:
    """``rate``: median examples/s over ``runs`` (each ``epochs`` passes over
    ``n`` examples); ``subset`` when n is less than the shape's example count."""

    rate: float
    runs: list
    n: int
    epochs: int
    subset: bool


def _seconds(run, n, epochs):
    start = time.perf_counter()
    run(n, epochs)
    return time.perf_counter() - start


def plan(run, n_total, budget):
    """``(n, epochs)`` such that ``run(n, epochs)`` lasts about ``budget`` seconds.

    A peer whose pass over all n_total examples would take more than
    FULL_PASS_BUDGETS budgets gets the first n < n_total examples (time-boxed;
    its rate is still per example); any other one all n_total examples, for as
    many epochs as fill the budget, so that per-call overheads do not dominate.
    A first call and the growing trial runs also serve as the warm-up."""
    n, epochs = min(n_total, 8), 1
    run(n, epochs)  # one-time costs (lazy initialisation, first touch) out of the planning
    elapsed = _seconds(run, n, epochs)
    while elapsed < budget / 8:
        if n < n_total:
            n = min(n_total, n * 8)
        else:
            epochs *= 8
        elapsed = _seconds(run, n, epochs)
    wanted = n * epochs * budget / elapsed  # examples in one run of `budget` seconds
    if wanted < n_total / FULL_PASS_BUDGETS:
        return max(1, int(wanted)), 1
    return n_total, max(1, round(wanted / n_total))


def measure(runs, n_total, *, budget, repeats, probe=None):
    """Examples per second of each ``run(n, epochs)`` in the dict ``runs``
    (key -> run): a dict key -> Measurement, and the median of ``probe()``
    (a MatmulProbe, GFLOP/s) when given, else None.

    Each run is planned (see :func:`plan`), then the timed runs go round-robin,
    one of each peer and one probe per round, so that whatever else the machine
    does at the time slows all of them alike and the ratios between them hold."""
    plans = {key: plan(run, n_total, budget) for key, run in runs.items()}
    rates, probed = {key: [] for key in runs}, []
    for _ in range(repeats):
        for key, run in runs.items():
            n, epochs = plans[key]
            rates[key].append(n * epochs / _seconds(run, n, epochs))
        if probe is not None:
            probed.append(probe())
    measurements = {
        key: Measurement(statistics.median(rates[key]), rates[key], n, epochs, n < n_total)
        for key, (n, epochs) in plans.items()
    }
    return measurements, statistics.median(probed) if probed else None


def load_average():
    """The 1-minute load average (None where the OS has none): other programs
    running during the benchmark slow every column."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


class MatmulProbe:
    """numpy's single-thread matrix product on two square ``dtype`` matrices:
    each call multiplies them for at least ``seconds`` (at least once) and
    returns the GFLOP/s (2·size³ flops per product)."""

    def __init__(self, dtype, *, seconds, size=1024):
        rng = np.random.default_rng(0)
        self.A = rng.random((size, size)).astype(dtype)
        self.B = rng.random((size, size)).astype(dtype)
        self.flops, self.seconds = 2 * size**3, seconds
        self()  # warm-up: first touch of the output, BLAS buffers

    def __call__(self):
        with _one_blas_thread():
            products, start = 0, time.perf_counter()
            while products == 0 or time.perf_counter() - start < self.seconds:
                self.A @ self.B
                products += 1
            return products * self.flops / (time.perf_counter() - start) / 1e9


def _one_blas_thread():
    """threadpoolctl's limit when installed; the benchmark also sets
    OPENBLAS_NUM_THREADS=1 before numpy is imported, so this is belt and braces."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def blas_info():
    """numpy's BLAS as threadpoolctl reports it (library, version, the kernel it
    chose for this CPU, threads), or a note that it cannot tell."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"note": "install threadpoolctl to see which BLAS kernel ran"}
    for pool in threadpool_info():
        if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
            keys = ("internal_api", "version", "architecture", "num_threads")
            return {key: pool.get(key) for key in keys}
    return {"note": "numpy's BLAS not found by threadpoolctl"}


def cpu_name():
    """The CPU's model name (Linux /proc/cpuinfo, else what platform knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
