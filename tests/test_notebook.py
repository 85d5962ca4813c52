"""examples/lecture.ipynb runs from top to bottom (nbmake, from the 'test'
extra): its cells check the lecture's worked examples (§7, §10, XOR, §9.2,
Table 3) as it shows them."""

import pathlib
import subprocess
import sys

import pytest

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / "examples" / "lecture.ipynb"


def test_the_lecture_notebook_runs():
    pytest.importorskip("nbmake", reason="executing the notebook needs nbmake (extra 'test')")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbmake", "-p", "no:cacheprovider", "-q", str(NOTEBOOK)],
        cwd=NOTEBOOK.parent, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
