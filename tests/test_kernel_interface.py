"""The one door to the kernels (issue 13): the code tables, the single module
that calls the kernels, the single path decision, and the blocked paths
(mini-batches in several blocks, a short last batch, batched inference)
against the reference on every built kernel variant."""

import importlib
import pathlib
import re

import numpy as np
import pytest

import bpcore
from bpcore import _dispatch, _names, compiled

VARIANTS = _dispatch.available_variants()
SRC = pathlib.Path(bpcore.__file__).parent


@pytest.fixture(params=VARIANTS)
def kernels(request, monkeypatch):
    """Each built kernel variant in turn, as the one compiled.py calls."""
    module = importlib.import_module(f"bpcore._kernels_{request.param}")
    monkeypatch.setattr(_dispatch, "kernels", module)
    return module


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_kernels_code_tables_equal_names(variant):
    module = importlib.import_module(f"bpcore._kernels_{variant}")
    assert module.ACTIVATION_CODE == _names.ACTIVATION_CODE
    assert module.LOSS_CODE == _names.LOSS_CODE
    assert module.PATH_CODE == _names.PATH_CODE
    assert module.OPTIMIZER_CODE == _names.OPTIMIZER_CODE


def test_only_compiled_py_calls_the_kernels():
    callers = [
        path.name
        for path in SRC.rglob("*.py")
        if re.search(r"_dispatch\.kernels|_kernels_(base|avx2|avx512)\b", path.read_text())
        and path.name not in ("_dispatch.py",)
    ]
    assert callers == ["compiled.py"]


@pytest.mark.parametrize(
    "batch_size, n, path",
    [(1, 10, "example"), (2, 10, "batch"), (32, 10, "batch"), (32, 1, "example"), (10**9, 7, "batch")],
)
def test_the_path_is_decided_once_from_the_batch_size(batch_size, n, path):
    net = bpcore.Network((3, 4, 2), seed=0)
    opts = dict(batch_size=batch_size, loss="squared_error", learning_rate=0.1, momentum=0.9,
                weight_decay=0.0, max_grad_norm=None)
    options = compiled.kernel_options(net, opts, n)
    assert options["path"] == _names.PATH_CODE[path]
    assert 1 <= options["batch_size"] <= max(n, 1)
    if path == "example":
        assert options["batch_size"] == 1


def _call(kernels, net, options, gradient=None, diag=None, moments=None, steps=None):
    X = np.zeros((4, net.n_inputs))
    T = np.zeros((4, net.n_outputs))
    sizes = np.asarray(net.layer_sizes, dtype=np.intp)
    empty = np.empty(0)
    return kernels.train_examples(
        net._params, sizes, X, T, np.arange(4, dtype=np.intp), options, empty,
        empty if gradient is None else gradient, empty if diag is None else diag,
        empty if moments is None else moments,
        np.zeros(1, dtype=np.intp) if steps is None else steps,
    )


def test_a_missing_option_is_refused_by_the_kernel(kernels):
    net = bpcore.Network((3, 4, 2), seed=0)
    options = compiled.kernel_options(net, dict(batch_size=1, loss="squared_error", learning_rate=0.1,
                                                momentum=0.0, weight_decay=0.0, max_grad_norm=None), 4)
    before = net.params_vector()
    del options["learning_rate"]
    with pytest.raises((ValueError, KeyError, TypeError), match="learning_rate"):
        _call(kernels, net, options)
    assert np.array_equal(net.params_vector(), before)


def test_the_batch_path_without_its_gradient_buffer_is_refused(kernels):
    net = bpcore.Network((3, 4, 2), seed=0)
    options = compiled.kernel_options(net, dict(batch_size=2, loss="squared_error", learning_rate=0.1,
                                                momentum=0.0, weight_decay=0.0, max_grad_norm=None), 4)
    before = net.params_vector()
    with pytest.raises(ValueError, match="layer sizes"):
        _call(kernels, net, options)
    with pytest.raises(ValueError, match="layer sizes"):  # diagnostics without their buffer
        _call(kernels, net, dict(options, diagnostics=1), gradient=np.zeros_like(net._params))
    assert np.array_equal(net.params_vector(), before)


@pytest.mark.parametrize("optimizer, extra, parts", [
    ("adam", {}, 2), ("rmsprop", {}, 1), ("rmsprop", {"centered": True}, 2),
])
def test_the_optimizer_state_buffers_are_checked_by_the_kernel(kernels, optimizer, extra, parts):
    """The kernel refuses optimizer state of the wrong length (or a missing step
    counter) before it touches the parameters."""
    net = bpcore.Network((3, 4, 2), seed=0)
    opts = dict(batch_size=1, loss="squared_error", learning_rate=0.1, momentum=0.0,
                weight_decay=0.0, max_grad_norm=None, optimizer=optimizer, **extra)
    options = compiled.kernel_options(net, opts, 4)
    n = net._params.size
    before = net.params_vector()
    for moments, steps in ((np.zeros((parts - 1) * n), None), (np.zeros(parts * n + 1), None),
                           (np.zeros(parts * n), np.zeros(0, dtype=np.intp))):
        with pytest.raises(ValueError, match="layer sizes"):
            _call(kernels, net, options, moments=moments, steps=steps)
    assert np.array_equal(net.params_vector(), before)
    steps = np.zeros(1, dtype=np.intp)
    _call(kernels, net, options, moments=np.zeros(parts * n), steps=steps)
    assert steps[0] == 4  # one step per example


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_rows", [1, 3, 64, 65, 130])
@pytest.mark.parametrize("activation, output_activation, loss", [
    ("sigmoid", "sigmoid", "squared_error"), ("tanh", "identity", "squared_error"),
    ("relu", "softmax", "cross_entropy"), ("sigmoid", "sigmoid", "cross_entropy"),
])
def test_blocked_predict_and_total_error_equal_the_reference(kernels, dtype, n_rows, activation,
                                                             output_activation, loss):
    rng = np.random.default_rng(n_rows)
    net = bpcore.Network((7, 9, 5, 3), activation=activation, output_activation=output_activation,
                         seed=n_rows, dtype=dtype)
    X = rng.normal(size=(n_rows, 7)).astype(dtype)
    T = np.eye(3)[rng.integers(0, 3, n_rows)].astype(dtype)
    tol = 1e-13 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(net.predict(X), bpcore.reference.predict(net, X), rtol=tol, atol=tol)
    fast = bpcore.total_error(net, X, T, loss=loss)
    slow = bpcore.reference.total_error(net, X, T, loss=loss)
    assert abs(fast - slow) <= tol * max(1.0, abs(slow)) * n_rows


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_size, n", [(64, 64), (100, 230), (70, 70), (7, 150), (150, 149)])
@pytest.mark.parametrize("options", [
    {}, {"momentum": 0.9}, {"weight_decay": 1e-3}, {"max_grad_norm": 0.5},
    {"momentum": 0.5, "weight_decay": 1e-2, "max_grad_norm": 1.0},
    {"momentum": 0.9, "nesterov": True}, {"optimizer": "adam", "learning_rate": 0.01},
    {"optimizer": "rmsprop", "learning_rate": 0.01, "centered": True, "momentum": 0.5},
])
def test_mini_batches_over_several_blocks_and_a_short_last_batch(kernels, dtype, batch_size, n,
                                                                 options, assert_params_close):
    rng = np.random.default_rng(batch_size + n)
    net = bpcore.Network((6, 8, 4), activation="tanh", seed=n, dtype=dtype)
    X = rng.normal(size=(n, 6)).astype(dtype)
    T = rng.uniform(0.1, 0.9, size=(n, 4)).astype(dtype)
    fast, slow = net.copy(), net.copy()
    kw = dict({"learning_rate": 0.2, "epochs": 3, "seed": 1, "batch_size": batch_size, **options})
    h_fast = bpcore.train(fast, X, T, **kw)
    h_slow = bpcore.reference.train(slow, X, T, **kw)
    assert_params_close(fast.params_vector(), slow.params_vector(), dtype)
    np.testing.assert_allclose(h_fast.train_error, h_slow.train_error,
                               rtol=1e-12 if dtype == "float64" else 1e-4)
    assert not np.array_equal(fast.params_vector(), net.params_vector())  # it trained
