"""Every code example in the README runs: the Python blocks as they are, the
command-line blocks as a user would type them (in a folder with the CSV files
they name)."""

import pathlib
import re
import shlex
import subprocess
import sys

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
def test_python_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples may write files (step.svg)
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})


@pytest.fixture(scope="module")
def console_runs(tmp_path_factory):
    """Every console command of the README, run in order in one empty folder, as
    a user on a fresh install would type them (earlier commands write the files
    later ones read): {command: (result, folder)}."""
    folder = tmp_path_factory.mktemp("readme")
    results = {}
    for command in console_commands():
        results[command] = subprocess.run(
            [sys.executable, "-m", "bpcore", *shlex.split(command)[1:]], cwd=folder,
            capture_output=True, text=True, timeout=300,
        )
    return results, folder


@pytest.mark.parametrize("command", console_commands())
def test_console_example_runs(command, console_runs):
    results, folder = console_runs
    result = results[command]
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).strip()
    words = shlex.split(command)
    for option in ("--out", "--test-out", "--plot"):
        if option in words:
            assert (folder / words[words.index(option) + 1]).stat().st_size > 0


def test_the_readme_makes_every_file_it_uses():
    """No command reads a file that no earlier command (or the package) wrote."""
    written = set()
    for command in console_commands():
        words = shlex.split(command)
        inputs = [w for w in words[2:] if w.endswith((".csv", ".npz")) and words[words.index(w) - 1][:2] != "--"]
        assert set(inputs) <= written, (command, set(inputs) - written)
        written |= {words[i + 1] for i, w in enumerate(words) if w in ("--out", "--test-out", "--plot")}
