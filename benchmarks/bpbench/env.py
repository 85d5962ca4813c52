"""The process environment the benchmarks run in, set before numpy (and its
BLAS) is first imported: each script re-executes itself with it."""

import os
import sys

__all__ = ["BENCH_ENV", "MARK", "reexec_with_bench_env", "dropped_env"]

# One BLAS/OpenMP thread everywhere; glibc malloc that keeps freed memory
# instead of returning the numpy peer's per-example np.outer temporary to the OS
# and faulting it back every step (up to 7x on C and D, per
# shared/notes/performance.md; see benchmarks/README.md).
BENCH_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),  # glibc's maximum
    "MALLOC_TRIM_THRESHOLD_": str(2**30),
}
# Forced OpenBLAS core types (set on some machines for older OpenBLAS builds)
# slow a current numpy; dropped for this process only, and the kernel that
# then runs is reported.
DROPPED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
MARK = "BPCORE_BENCH_REEXEC"  # its value lists the variables dropped


def reexec_with_bench_env(script):
    """Re-execute ``script`` (the caller's ``__file__``) with BENCH_ENV, once."""
    if MARK in os.environ:
        return
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    env.update(BENCH_ENV)
    env[MARK] = ",".join(f"{k}={os.environ[k]}" for k in DROPPED if k in os.environ)
    os.execve(sys.executable, [sys.executable, os.path.abspath(script), *sys.argv[1:]], env)


def dropped_env():
    """The variables dropped for this run, as 'K=V,…' or 'none set'."""
    return os.environ.get(MARK) or "none set"
