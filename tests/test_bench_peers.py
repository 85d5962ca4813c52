"""The peers in benchmarks/bench_train.py run the lecture's algorithm, so that
the speed table compares like with like: FANN as configured there (needs
libfann: apt-get install libfann-dev), the numpy peer and the PyTorch peer
(needs torch) each give bpcore.reference's weights."""

import ctypes.util
import importlib
import pathlib
import sys

import bpcore
import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
FANN_LIBRARIES = ("doublefann", "floatfann")
TOLERANCE = {"float64": 1e-12, "float32": 1e-6}  # relative to max(1, |w|)


def _bench_module(name):
    """Import a module of benchmarks/bpbench (not an installed package)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def fann():
    missing = [name for name in FANN_LIBRARIES if ctypes.util.find_library(name) is None]
    if missing:
        pytest.skip(f"FANN not installed (lib{', lib'.join(missing)} not found; apt-get install libfann-dev)")
    return _bench_module("bpbench.fann")


@pytest.fixture(scope="module")
def peers():
    return _bench_module("bpbench.peers")


@pytest.fixture(scope="module")
def compare():
    return _bench_module("bpbench.compare")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layer_sizes", [(3, 2, 1), (3, 4, 3, 2)])
def test_one_fann_train_step_gives_the_reference_weights(fann, dtype, layer_sizes):
    diff = fann.check_equivalence(dtype, layer_sizes=layer_sizes, n_examples=1)
    assert diff <= TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fann_epoch_as_benchmarked_gives_the_reference_weights(fann, dtype):
    # the benchmark's path: fann_train_on_data over a fann_train_data built from arrays
    diff = fann.check_equivalence(dtype, n_examples=20, via_epoch=True)
    assert diff <= TOLERANCE[dtype]


def test_fann_check_notices_a_different_algorithm(fann):
    # steepness 1 makes FANN's sigmoid 1/(1+exp(-2 net)): not the lecture's σ
    assert fann.check_equivalence("float64", n_examples=1, steepness=1.0) > 1e-4


def test_fann_library_missing_is_a_clear_error(fann, monkeypatch):
    monkeypatch.setattr(fann.ctypes.util, "find_library", lambda name: None)
    with pytest.raises(fann.FannError, match="libdoublefann not found.*libfann-dev"):
        fann.load_library("float64")


@pytest.mark.parametrize("layer_sizes", [(3, 2, 1), (5, 4, 3, 2)])
def test_numpy_peer_gives_the_reference_weights(peers, compare, layer_sizes):
    net, X, T = compare.small_problem(layer_sizes, 10)
    Ws = [W.copy() for W in net.weights]
    bs = [b.copy() for b in net.biases]
    for x, t in zip(X, T):
        peers.numpy_step(Ws, bs, x, t, 0.1)
    bpcore.reference.train(net, X, T, learning_rate=0.1, shuffle=False)
    assert compare.max_relative_difference(list(zip(Ws, bs)), net) <= TOLERANCE["float64"]


def test_torch_peer_gives_the_reference_weights(peers, compare):
    torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch==2.13.0)")
    net, X, T = compare.small_problem((5, 4, 3, 2), 10)
    model, optimizer = peers.torch_model(net)
    for x, t in zip(torch.from_numpy(X), torch.from_numpy(T)):
        peers.torch_step(model, optimizer, x[None], t[None])
    bpcore.reference.train(net, X, T, learning_rate=0.1, shuffle=False)
    linears = [layer for layer in model if isinstance(layer, torch.nn.Linear)]
    layers = [(lin.weight.detach().numpy(), lin.bias.detach().numpy()) for lin in linears]
    assert compare.max_relative_difference(layers, net) <= TOLERANCE["float64"]
