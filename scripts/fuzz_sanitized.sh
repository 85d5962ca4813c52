#!/usr/bin/env bash
# Runs the fuzzer (tests/test_fuzz.py) and the agreement tests
# (tests/test_equivalence.py, tests/test_golden.py) against two instrumented
# builds of the kernels, each installed from a copy of this working tree into
# a fresh virtual environment under /tmp/bpcore-fuzz-*:
#
#   debug  BPCORE_BUILD=debug: Cython boundscheck/wraparound/initializedcheck on
#          (an out-of-range index into a memoryview raises IndexError)
#   asan   BPCORE_BUILD=asan: the same plus AddressSanitizer; Python runs with
#          LD_PRELOAD=libasan and ASAN_OPTIONS=detect_leaks=0 (CPython leaks at
#          exit by design) and allocator_may_return_null=1 (a model file that
#          claims terabytes must give numpy's MemoryError, not an ASAN abort)
#
# Both builds contain only the base kernel variant (see setup.py). Before the
# tests, each build is checked to be what it claims: bpcore imports from the
# venv, the bounds checks fire on a deliberately bad kernel call, and (asan)
# the kernels carry ASAN instrumentation and a deliberate heap overflow is
# reported. Prints per build: generated cases (hypothesis statistics: passing
# plus failing, over all phases; invalid ones apart), other tests, sanitizer
# reports, and CLEAN or NOT CLEAN. Exits 1 if a build is not clean.
#
# usage: scripts/fuzz_sanitized.sh [EXAMPLES]
#   EXAMPLES   hypothesis cases per fuzz test (default 3000; BPCORE_FUZZ_EXAMPLES)
#   env: PYTHON (default python3), BPCORE_FUZZ_SEED (default random),
#        KEEP=1 keeps /tmp/bpcore-fuzz-* afterwards
# Needs PyPI (or a pip mirror) for numpy, Cython, setuptools, pytest, hypothesis.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
examples=${1:-${BPCORE_FUZZ_EXAMPLES:-3000}}
seed=${BPCORE_FUZZ_SEED:-$RANDOM}
python=${PYTHON:-python3}
work=$(mktemp -d /tmp/bpcore-fuzz-XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
libasan=$(gcc -print-file-name=libasan.so)
# test_fuzz.py includes the FANN .net reader (test_fuzz_fann_*): it needs only numpy.
tests=(tests/test_fuzz.py tests/test_equivalence.py tests/test_golden.py)
echo "fuzz_sanitized: $examples cases per fuzz test, hypothesis seed $seed, work dir $work"

# The working tree as git sees it (tracked and untracked, not ignored, so no
# generated .c files or built .so), copied for each build.
copy_tree() {
    mkdir -p "$1"
    (cd "$root" && git ls-files -co --exclude-standard -z \
        | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done \
        | xargs -0 cp --parents -t "$1")
}

# The build must really have Cython's bounds checks on: setup.py defines
# BPCORE_CHECKED for debug/asan builds, and the kernels report it. (The kernels'
# entry points also refuse inconsistent shapes and indices themselves, in every
# build, so a bad call no longer reaches an unchecked index to probe with.)
bounds_probe='
from bpcore import _kernels_base as k
if not k.checked_build:
    raise SystemExit("bounds checks are OFF in this build")
print("bounds checks on: bpcore._kernels_base.checked_build is True")
'
# ASAN's interceptors must report a heap overflow in this process set-up.
asan_probe='
import ctypes
buf = ctypes.create_string_buffer(4096)
ctypes.memset(ctypes.addressof(buf) + 4096, 0, 64)
'

status=0
summary=()
for mode in debug asan; do
    echo
    echo "=== $mode build ==="
    src=$work/src-$mode venv=$work/venv-$mode log=$work/$mode.log
    copy_tree "$src"
    "$python" -m venv "$venv"
    {
        "$venv/bin/python" -m pip install -q --upgrade pip
        "$venv/bin/python" -m pip install -q "setuptools>=77" "Cython>=3.0.10" numpy "pytest>=7" "hypothesis>=6.80"
        BPCORE_BUILD=$mode "$venv/bin/python" -m pip install -q --no-build-isolation --no-deps "$src"
    } 2> >(grep -v "^WARNING: Location .* is ignored" >&2)

    run=("$venv/bin/python")
    export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
    if [ "$mode" = asan ]; then
        so=$(ls "$venv"/lib/python*/site-packages/bpcore/_kernels_base*.so)
        grep -q __asan_report <(nm -D "$so") || { echo "kernels not ASAN-instrumented: $so"; exit 1; }
        echo "kernels ASAN-instrumented: $(basename "$so")"
        if LD_PRELOAD=$libasan "$venv/bin/python" -c "$asan_probe" 2>"$work/probe.err"; then
            echo "ASAN did not report a deliberate heap overflow"; exit 1
        fi
        grep -q "heap-buffer-overflow" "$work/probe.err" || { cat "$work/probe.err"; exit 1; }
        echo "ASAN live: a deliberate heap overflow was reported"
        run=(env LD_PRELOAD="$libasan" "$venv/bin/python")
    fi
    (cd "$work" && "${run[@]}" -c "import bpcore, bpcore._dispatch as d; print('bpcore from', bpcore.__file__, '| variants', d.available_variants())")
    (cd "$work" && "${run[@]}" -c "$bounds_probe")

    set +e
    (cd "$src" && BPCORE_FUZZ_EXAMPLES=$examples "${run[@]}" -m pytest -p no:cacheprovider -q \
        --hypothesis-show-statistics --hypothesis-seed="$seed" "${tests[@]}") >"$log" 2>&1
    rc=$?
    set -e
    cases=$(grep -oE '[0-9]+ passing, [0-9]+ failing' "$log" | awk '{p += $1; f += $3} END {print p + f}')
    invalid=$(grep -oE '[0-9]+ invalid' "$log" | awk '{s += $1} END {print s + 0}')
    per_test=$(awk '/^tests\/.*::/ {name = $1; sub(/:$/, "", name)} /passing, / {split($0, a, " "); n[name] += a[2]} END {for (t in n) printf "    %s: %d\n", t, n[t]}' "$log" | sort)
    result=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$log" | tail -1)
    reports=$(grep -c "ERROR: AddressSanitizer" "$log" || true)
    bounds=$(grep -c "Out of bounds on buffer access" "$log" || true)
    verdict=CLEAN
    if [ "$rc" -ne 0 ] || [ "$reports" -ne 0 ] || [ "$bounds" -ne 0 ]; then
        verdict="NOT CLEAN (pytest exit $rc)"
        status=1
        tail -60 "$log"
    fi
    echo "generated cases run: $cases (plus $invalid rejected by hypothesis while generating)"
    echo "$per_test"
    echo "pytest: $result"
    echo "sanitizer reports: $reports AddressSanitizer, $bounds bounds-check"
    echo "$mode: $verdict"
    summary+=("$mode: $cases generated cases, pytest '$result', ASAN reports $reports, bounds-check errors $bounds: $verdict")
    [ "${KEEP:-0}" = 1 ] && echo "log: $log"
done

echo
printf '%s\n' "${summary[@]}"
exit $status
