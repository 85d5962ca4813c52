"""What the distributions hold: the wheel has the compiled kernels, every module
and the package data, and no build leftovers; the sdist has the Cython sources,
the tests and the licence, and no generated C.

Only file lists are read, so any platform's wheel can be checked on any machine.
By default the test builds from this checkout what users get: an sdist, then a
wheel from that sdist (``python -m build``; about a minute, as the kernels
compile once per instruction set). Set these to check given files instead:

    BPCORE_SDIST   path of an sdist
    BPCORE_WHEEL   path of a wheel, or a directory whose ``*.whl`` are all checked

scripts/check_wheels.sh and .github/workflows/wheels.yml set both.
"""

import ast
import importlib.util
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "bpcore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = ast.literal_eval(
    re.search(r"__version__\s*=\s*(.+)", (PACKAGE / "_version.py").read_text(encoding="utf-8")).group(1)
)
# Sources and generated files that belong in a source tree, never in a wheel.
BUILD_LEFTOVERS = (".pyx", ".pxi", ".pxd", ".c", ".h", ".cpp", ".html", ".pyc", ".o", ".obj")
KERNEL = re.compile(r"^bpcore/_kernels_(\w+?)\.[^/]+\.(so|pyd)$")
ONE_MB = 1_000_000


def _given_wheels():
    """Wheels named by BPCORE_WHEEL, or ``[None]``: build one from this checkout."""
    given = os.environ.get("BPCORE_WHEEL")
    if not given:
        return [None]
    path = Path(given)
    # An empty directory stays as the parameter, so that the test fails on it.
    return (sorted(path.glob("*.whl")) or [path]) if path.is_dir() else [path]


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """An sdist of this checkout and a wheel built from it (by ``python -m build``)."""
    if importlib.util.find_spec("build") is None:
        pytest.fail("building the distributions needs 'build' (pip install build), "
                    "or set BPCORE_SDIST and BPCORE_WHEEL to files already built")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"python -m build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    (sdist,), (wheel,) = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    return sdist, wheel


@pytest.fixture(scope="module", params=_given_wheels(), ids=lambda p: "built" if p is None else p.name)
def wheel(request):
    """``(path, names)`` of one wheel: its path and the paths of its files (folders left out)."""
    path = request.param or request.getfixturevalue("built")[1]
    assert path.is_file(), f"no wheel at {path}"
    with zipfile.ZipFile(path) as archive:
        return path, [name for name in archive.namelist() if not name.endswith("/")]


@pytest.fixture(scope="module")
def sdist(request):
    """Member paths of the sdist, relative to its top folder ``bpcore-<version>/``."""
    given = os.environ.get("BPCORE_SDIST")
    path = Path(given) if given else request.getfixturevalue("built")[0]
    assert path.is_file(), f"no sdist at {path}"
    top = f"bpcore-{VERSION}/"
    with tarfile.open(path) as archive:
        names = [m.name for m in archive.getmembers() if m.isfile()]
    assert all(name.startswith(top) for name in names), f"sdist members outside {top}"
    return {name[len(top):] for name in names}


def _tags(path):
    """``(python, abi, platform)`` tags from a wheel's file name."""
    python, abi, platform = path.name[: -len(".whl")].split("-")[-3:]
    return python, abi, platform


def _source_files(folder, patterns):
    """Checkout files under ``folder`` matching glob ``patterns``, relative to ROOT."""
    return {p.relative_to(ROOT).as_posix() for pattern in patterns for p in folder.glob(pattern)
            if p.is_file() and "__pycache__" not in p.parts}


def _package_files():
    """What the wheel must hold under bpcore/: every module and every package-data file."""
    data = PYPROJECT["tool"]["setuptools"]["package-data"]["bpcore"]
    return {name[len("src/"):] for name in _source_files(PACKAGE, ["**/*.py", *data])}


# The wheel ------------------------------------------------------------------------
def test_wheel_is_for_one_cpython_and_platform(wheel):
    path, names = wheel
    python, abi, platform = _tags(path)
    assert path.name.startswith(f"bpcore-{VERSION}-")
    assert re.fullmatch(r"cp3\d+", python) and re.fullmatch(r"cp3\d+t?", abi), (python, abi)
    assert platform != "any"
    with zipfile.ZipFile(path) as archive:
        assert "Root-Is-Purelib: false" in archive.read(f"bpcore-{VERSION}.dist-info/WHEEL").decode()


def test_wheel_has_the_kernels_for_its_platform(wheel):
    """Every instruction-set build on x86-64, the baseline elsewhere; each module
    compiled for the wheel's own CPython (its ABI tag is in the module's name)."""
    path, names = wheel
    _, abi, platform = _tags(path)
    x86_64 = "x86_64" in platform or "amd64" in platform
    expected = {"base", "avx2", "avx512"} if x86_64 else {"base"}
    kernels = {KERNEL.match(name).group(1): name for name in names if KERNEL.match(name)}
    assert set(kernels) == expected, sorted(kernels.values())
    suffix = ".pyd" if platform.startswith("win") else ".so"
    abi_in_name = re.compile(rf"\.(cpython-|cp){abi[2:]}[-.]")
    for module in kernels.values():
        assert module.endswith(suffix) and abi_in_name.search(module), module


def test_wheel_holds_every_module_and_data_file_and_nothing_else(wheel):
    path, names = wheel
    package = {name for name in names if name.startswith("bpcore/") and not KERNEL.match(name)}
    expected = _package_files()
    assert "bpcore/py.typed" in expected
    assert expected - package == set(), "missing from the wheel"
    assert package - expected == set(), "in the wheel but not in the source package"
    dist_info = f"bpcore-{VERSION}.dist-info/"
    strays = [n for n in names if not n.startswith(("bpcore/", dist_info))]
    assert strays == [], "outside the package and its metadata"


def test_wheel_has_no_build_leftovers(wheel):
    _, names = wheel
    assert [n for n in names if n.endswith(BUILD_LEFTOVERS) or "__pycache__" in n] == []


def test_wheel_metadata_declares_the_cli_and_the_licence(wheel):
    _, names = wheel
    dist_info = f"bpcore-{VERSION}.dist-info/"
    assert f"{dist_info}licenses/LICENSE" in names
    with zipfile.ZipFile(wheel[0]) as archive:
        entry_points = archive.read(f"{dist_info}entry_points.txt").decode()
        metadata = archive.read(f"{dist_info}METADATA").decode()
    for script, target in PYPROJECT["project"]["scripts"].items():
        assert re.search(rf"^{re.escape(script)} = {re.escape(target)}$", entry_points, re.M)
    assert re.search(rf"^Version: {re.escape(VERSION)}$", metadata, re.M)


def test_wheel_is_under_one_megabyte(wheel):
    path, _ = wheel
    assert path.stat().st_size < ONE_MB, f"{path.name}: {path.stat().st_size / 1000:.0f} kB"


# The sdist ------------------------------------------------------------------------
def test_sdist_has_the_cython_sources_tests_docs_examples_and_licence(sdist):
    expected = {"LICENSE", "README.md", "pyproject.toml", "setup.py", "MANIFEST.in", "PKG-INFO"}
    expected |= _source_files(ROOT / "pyx", ["*.pyx", "*.pxi", "*.pxd", "*.h"])
    expected |= _source_files(ROOT / "tests", ["**/*.py"])
    for folder in ("docs", "examples", "benchmarks"):
        expected |= _source_files(ROOT / folder, ["**/*.py", "**/*.md"])
    expected |= {f"src/{name}" for name in _package_files()}
    assert any(name.endswith(".pyx") for name in expected)
    assert "tests/test_golden.py" in expected
    assert expected - sdist == set(), "missing from the sdist"


def test_sdist_has_no_generated_or_compiled_files(sdist):
    cython_output = {p.with_suffix(".c").relative_to(ROOT).as_posix() for p in (ROOT / "pyx").glob("*.pyx")}
    assert sdist & cython_output == set()
    assert [n for n in sdist if n.endswith((".so", ".pyd", ".pyc", ".o", ".obj", ".html"))] == []
    assert [n for n in sdist if n.startswith((".github/", ".ci/", "build/", "dist/"))] == []
