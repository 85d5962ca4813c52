"""Chooses, once at import, which build of the kernels runs on this CPU.

The same kernel source is compiled for several instruction sets (see setup.py);
the best one the CPU supports is used. ``BPCORE_KERNEL=base|avx2|avx512``
forces one (an error if it was not built or the CPU cannot run it).
"""

import importlib
import os

__all__ = ["kernels", "variant", "available_variants"]

VARIANTS = ("base", "avx2", "avx512")  # index = CPU level that runs it

try:
    from . import _kernels_base
except ImportError as exc:  # pragma: no cover - only in a broken install
    raise ImportError(
        "bpcore's compiled kernels are missing (bpcore._kernels_base did not import). "
        "Install bpcore from a wheel (pip install bpcore) or build it with "
        "'pip install .' from a source checkout."
    ) from exc


def available_variants():
    """Variants that were built and that this CPU can run, slowest first."""
    level = _kernels_base.cpu_level()
    found = []
    for name in VARIANTS[: level + 1]:
        try:
            importlib.import_module(f"bpcore._kernels_{name}")
        except ImportError:
            continue
        found.append(name)
    return found


def _choose():
    available = available_variants()
    forced = os.environ.get("BPCORE_KERNEL", "").strip().lower()
    if forced:
        if forced not in VARIANTS:
            raise ImportError(f"BPCORE_KERNEL must be one of {', '.join(VARIANTS)}; got {forced!r}")
        if forced not in available:
            raise ImportError(
                f"BPCORE_KERNEL={forced!r} is not available here (built and runnable: "
                f"{', '.join(available)})"
            )
        name = forced
    else:
        name = available[-1]
    return importlib.import_module(f"bpcore._kernels_{name}"), name


kernels, variant = _choose()
