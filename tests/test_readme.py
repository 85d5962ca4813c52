"""Every code example in the README runs: the Python blocks as they are, the
command-line blocks as a user would type them (in a folder with the CSV files
they name)."""

import csv
import pathlib
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(language):
    return [code for lang, code in BLOCK.findall(README.read_text(encoding="utf-8")) if lang == language]


def console_commands():
    """``bpcore …`` commands of the console blocks, continuation lines joined and
    trailing comments dropped."""
    commands = []
    for code in blocks("console"):
        joined = code.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("bpcore"):
                commands.append(line)
    return commands


def test_the_readme_has_examples():
    assert blocks("python") and console_commands()


@pytest.mark.parametrize("code", blocks("python"), ids=lambda c: c.splitlines()[0][:40])
def test_python_example_runs(code):
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})


def write_digits_csv(path, X, y):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([f"pixel{i}" for i in range(X.shape[1])] + ["digit"])
        for row, label in zip(X, y):
            writer.writerow([*(f"{v:g}" for v in row), int(label)])


@pytest.mark.parametrize("command", console_commands())
def test_console_example_runs(command, tmp_path):
    from bpcore.datasets import load_digits

    X, y = load_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    write_digits_csv(tmp_path / "digits.csv", X[order[:1400]], y[order[:1400]])
    write_digits_csv(tmp_path / "test.csv", X[order[1400:]], y[order[1400:]])
    if "predict" in command:  # predict needs the model that the train example writes
        train = next(c for c in console_commands() if c.startswith("bpcore train"))
        subprocess.run([sys.executable, "-m", "bpcore", *shlex.split(train)[1:]], cwd=tmp_path,
                       check=True, capture_output=True)
    result = subprocess.run([sys.executable, "-m", "bpcore", *shlex.split(command)[1:]],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).strip()
    if "--out" in command:
        out = shlex.split(command)[shlex.split(command).index("--out") + 1]
        assert (tmp_path / out).stat().st_size > 0
