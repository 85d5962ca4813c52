"""Build of bpcore's compiled kernels. Metadata lives in pyproject.toml.

One kernel source, ``pyx/_kernels.pxi``, is compiled into one private module per
instruction set; ``bpcore._dispatch`` picks the best one the CPU runs at import:

    bpcore._kernels_base     every CPU of the platform (x86-64 baseline / arm64)
    bpcore._kernels_avx2     x86-64 with AVX2 + FMA
    bpcore._kernels_avx512   x86-64 with AVX-512 (F, BW, DQ, VL)

Build switches (environment variables):
    BPCORE_BUILD=debug   Cython bounds/wraparound checks on, -O1 -g (for fuzzing)
    BPCORE_BUILD=asan    as debug, plus AddressSanitizer (run with LD_PRELOAD of libasan)

Never ``-march=native`` and never ``-ffast-math``: wheels must run on any CPU of
their platform, and ``-ffast-math`` assumes that no value is NaN or infinite
(the kernels' divergence checks and the overflow handling of their own ``exp``,
``pyx/bp_exp.h``, depend on both) and lets the compiler round every formula its
own way, so the kernels would no longer agree with the reference trainer. The
kernels do not call libm's ``exp``: ``bp_exp.h`` is written to vectorise and
stays within a few ulp of the reference's ``math.exp``. No reassociation flag
either (``-fassociative-math`` folds ``w + (s*x - d*w)`` into ``w*(1 - d) + s*x``,
which rounds differently from the reference): only the dot products are
reassociated, by the ``omp simd reduction`` pragmas of ``bp_linalg.h``; that
changes their sums by a few ulps.
"""

import os
import sys
import sysconfig

from Cython.Build import cythonize
from setuptools import Extension, setup

MODE = os.environ.get("BPCORE_BUILD", "release")
if MODE not in ("release", "debug", "asan"):
    sys.exit(f"BPCORE_BUILD must be release, debug or asan; got {MODE!r}")

MSVC = sys.platform == "win32" and "mingw" not in sysconfig.get_platform()
PLATFORM = sysconfig.get_platform().lower()
X86_64 = any(tag in PLATFORM for tag in ("x86_64", "amd64"))

if MSVC:
    COMMON = ["/O2"]
    ISA = {"base": [], "avx2": ["/arch:AVX2"], "avx512": ["/arch:AVX512"]}
    LINK = []
else:
    # -fopenmp-simd: the dot products' `omp simd reduction` pragmas (bp_linalg.h)
    # vectorise them; no OpenMP runtime is linked.
    COMMON = ["-O3", "-fopenmp-simd", "-DBP_OPENMP_SIMD", "-fno-signed-zeros",
              "-fno-trapping-math", "-fno-math-errno", "-g0"]
    ISA = {
        "base": [],
        "avx2": ["-mavx2", "-mfma"],
        "avx512": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma",
                   "-mprefer-vector-width=512"],
    }
    LINK = ["-Wl,-s"] if sys.platform.startswith("linux") else []

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "initializedcheck": False,
    "cdivision": True,
    "freethreading_compatible": True,
}
if MODE != "release":
    DIRECTIVES.update(boundscheck=True, wraparound=True, initializedcheck=True)
    COMMON = ["-O1", "-g", "-fno-omit-frame-pointer"]
    LINK = []
    if MODE == "asan":
        COMMON.append("-fsanitize=address")
        LINK = ["-fsanitize=address"]

variants = ["base", "avx2", "avx512"] if X86_64 and MODE == "release" else ["base"]
# Tells the kernels (bpcore._kernels_*.checked_build) that they were built with checks.
MACROS = [] if MODE == "release" else [("BPCORE_CHECKED", "1")]
extensions = [
    Extension(
        f"bpcore._kernels_{variant}",
        [f"pyx/_kernels_{variant}.pyx"],
        extra_compile_args=COMMON + ISA[variant],
        include_dirs=["pyx"],
        define_macros=MACROS,
        extra_link_args=LINK,
    )
    for variant in variants
]

# A debug or sanitizer build must not reuse C generated for another mode.
setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, force=MODE != "release"))
