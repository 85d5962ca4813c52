#!/usr/bin/env python3
"""Check that the kernels' nogil blocks touch no Python object.

Runs ``cython -a`` on the kernel source and reads the annotation: every line
Cython scores above 0 calls into the Python C-API. Inside a ``with nogil:``
block only the ``with nogil:`` line itself (acquiring and releasing the GIL) may
score. Prints the Python-touching lines of the file and exits 1 if any lies
inside a nogil block.

    python scripts/check_hot_loop.py
"""

import html
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINE = re.compile(r'<pre class="cython line score-(\d+)"[^>]*>\+?<span class="">(\d+)</span>: (.*?)</pre>')


def annotate(workdir):
    for source in (ROOT / "pyx").iterdir():
        if source.suffix in (".pyx", ".pxi", ".h"):
            shutil.copy(source, workdir)
    subprocess.run(
        [sys.executable, "-m", "cython", "-3", "-a", "--directive",
         "boundscheck=False,wraparound=False,initializedcheck=False,cdivision=True",
         "_kernels_base.pyx"],
        cwd=workdir, check=True, capture_output=True, text=True,
    )
    return (pathlib.Path(workdir) / "_kernels.html").read_text()


def main():
    with tempfile.TemporaryDirectory() as workdir:
        report = annotate(workdir)
    source = (ROOT / "pyx" / "_kernels.pxi").read_text().splitlines()
    scores = {int(n): int(score) for score, n, _ in LINE.findall(report)}
    bad, nogil_indent = [], None
    for number, text in enumerate(source, start=1):
        indent = len(text) - len(text.lstrip())
        if nogil_indent is not None and text.strip() and indent <= nogil_indent:
            nogil_indent = None
        if text.strip() == "with nogil:":
            nogil_indent = indent
            continue
        if scores.get(number, 0) > 0:
            inside = nogil_indent is not None
            print(f"{'NOGIL ' if inside else '      '}{number:4d} score {scores[number]:3d}: {text.strip()}")
            if inside:
                bad.append(number)
    print(f"{len(scores)} lines annotated; {len(bad)} Python-touching lines inside nogil blocks")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
