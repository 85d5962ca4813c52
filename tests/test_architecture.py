"""The house rules of the package layout (README, "How it is built"; issue 11):
the direction of imports, one door to the kernels, and public ``train``
functions that go-to-definition can find."""

import ast
import inspect
import pathlib

import pytest

import bpcore
from bpcore import _training, compiled, reference

PACKAGE = pathlib.Path(bpcore.__file__).resolve().parent
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)

FOUNDATIONS = {"_names", "_validation", "errors", "_fileio", "ordering", "_version"}
# What the network's module may import at its top (trainers, file formats other
# than its own layout, and the CLI may not be among them).
NETWORK_MAY_IMPORT = FOUNDATIONS | {"_model_format"}


def bpcore_imports(path, *, top_level_only=False):
    """The bpcore modules that ``path`` imports (``from . import x``, ``from .x
    import y``), each as ``(module, imported names)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("bpcore")):
            module = (node.module or "").removeprefix("bpcore").lstrip(".")
            names = [a.name for a in node.names]
            if module:
                found.append((module.split(".")[0], names))
            else:
                found.extend((name, []) for name in names)
        elif isinstance(node, ast.Import):
            found.extend((a.name.split(".")[1], []) for a in node.names if a.name.startswith("bpcore."))
    return found


def test_the_modules_are_found():
    names = {p.stem for p in MODULES}
    assert {"compiled", "reference", "_training", "network", "cli"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_compiled_calls_the_kernels(path):
    """One door to the kernels: only compiled.py takes the kernel module from
    _dispatch (others may ask which variant runs), and only _dispatch imports
    the compiled modules themselves."""
    for module, names in bpcore_imports(path):
        if module.startswith("_kernels_"):
            assert path.stem == "_dispatch", f"{path.name} imports {module}"
        if module == "_dispatch" and path.stem != "compiled":
            assert set(names) <= {"variant", "available_variants"}, f"{path.name} imports {names} from _dispatch"


@pytest.mark.parametrize("path", [p for p in MODULES if p.stem in FOUNDATIONS], ids=lambda p: p.stem)
def test_foundations_import_only_foundations(path):
    for module, _ in bpcore_imports(path):
        assert module in FOUNDATIONS, f"{path.name} imports {module}"


def test_network_imports_no_trainer_and_no_file_format():
    """network.py sits below the trainers and model_io (``Network.save`` goes
    through _model_format; ``predict`` calls compiled lazily, inside the method)."""
    for module, _ in bpcore_imports(PACKAGE / "network.py", top_level_only=True):
        assert module in NETWORK_MAY_IMPORT, f"network.py imports {module} at its top"


def test_the_two_public_train_functions_have_one_signature():
    """Both trainers take the same options, from the one table."""
    assert inspect.signature(bpcore.train) == inspect.signature(reference.train)
    parameters = list(inspect.signature(bpcore.train).parameters)
    assert parameters[:3] == ["net", "X", "T"]
    assert parameters[3:] == list(_training.OPTIONS)
    for name, option in _training.OPTIONS.items():
        assert inspect.signature(bpcore.train).parameters[name].default == option.default, name


@pytest.mark.parametrize("train", [bpcore.train, reference.train], ids=["compiled", "reference"])
def test_train_is_defined_where_go_to_definition_lands(train):
    """A plain ``def train`` in its own module, whose docstring documents every
    option of the table."""
    module = compiled if train is bpcore.train else reference
    assert train.__name__ == "train"
    assert inspect.getsourcefile(train) == inspect.getsourcefile(module)
    assert inspect.getsource(train).lstrip().startswith(("def train(", "@_training.train_function\ndef train("))
    for name, option in _training.OPTIONS.items():
        # numpydoc: "name : kind" on a line of its own, then the option's text
        assert f"\n    {name} : {option.kind}\n" in train.__doc__, f"{module.__name__}.train's docstring lacks {name}"
        first_line = option.doc.strip().splitlines()[0].strip()
        assert first_line and first_line in train.__doc__, f"{module.__name__}.train's docstring lacks {name}'s text"
