"""bpcore.fann against the real libfann 2.2 (Debian's libfann2, through ctypes).

(a) A network saved by bpcore, loaded with ``fann_create_from_file`` and run
    with ``fann_run`` (libdoublefann: double precision) equals bpcore's
    ``predict`` within 1e-13, for sigmoid and tanh networks with 1-3 hidden layers.
(b) A network created, trained and saved by libfann itself loads in bpcore and
    reproduces ``fann_run`` (and ``fann_scale_input``/``fann_descale_output``).
(c) Saving a loaded file again gives a file that libfann reads to the same
    network: the same layers, connections (bit for bit), activations and outputs.

The libfann wrapper below declares only the functions these tests call.
``.ci/run`` installs libfann2, so the tests run in CI; where the library
cannot be loaded they fail and say so (they are never skipped).
"""

import ctypes
import math
import re

import numpy as np
import pytest

import bpcore
import bpcore.fann
from bpcore import ModelFormatError
from bpcore.fann import FannFormatError, FannScale

# ------------------------------------------------------------------ libfann through ctypes
LIBRARY = "libdoublefann.so.2"

_double_p = ctypes.POINTER(ctypes.c_double)
_ann = ctypes.c_void_p


class FannConnection(ctypes.Structure):
    """struct fann_connection (fann_data.h)."""

    _fields_ = [("from_neuron", ctypes.c_uint), ("to_neuron", ctypes.c_uint), ("weight", ctypes.c_double)]


def _declare(lib):
    signatures = {
        "fann_create_from_file": (_ann, [ctypes.c_char_p]),
        "fann_create_standard_array": (_ann, [ctypes.c_uint, ctypes.POINTER(ctypes.c_uint)]),
        "fann_destroy": (None, [_ann]),
        "fann_save": (ctypes.c_int, [_ann, ctypes.c_char_p]),
        "fann_run": (_double_p, [_ann, _double_p]),
        "fann_get_num_input": (ctypes.c_uint, [_ann]),
        "fann_get_num_output": (ctypes.c_uint, [_ann]),
        "fann_get_num_layers": (ctypes.c_uint, [_ann]),
        "fann_get_layer_array": (None, [_ann, ctypes.POINTER(ctypes.c_uint)]),
        "fann_get_total_connections": (ctypes.c_uint, [_ann]),
        "fann_get_connection_array": (None, [_ann, ctypes.POINTER(FannConnection)]),
        "fann_get_activation_function": (ctypes.c_int, [_ann, ctypes.c_int, ctypes.c_int]),
        "fann_get_activation_steepness": (ctypes.c_double, [_ann, ctypes.c_int, ctypes.c_int]),
        "fann_set_activation_function_hidden": (None, [_ann, ctypes.c_int]),
        "fann_set_activation_function_output": (None, [_ann, ctypes.c_int]),
        "fann_set_activation_steepness_hidden": (None, [_ann, ctypes.c_double]),
        "fann_set_activation_steepness_output": (None, [_ann, ctypes.c_double]),
        "fann_randomize_weights": (None, [_ann, ctypes.c_double, ctypes.c_double]),
        "fann_read_train_from_file": (ctypes.c_void_p, [ctypes.c_char_p]),
        "fann_destroy_train": (None, [ctypes.c_void_p]),
        "fann_set_scaling_params": (ctypes.c_int, [_ann, ctypes.c_void_p, ctypes.c_float,
                                                   ctypes.c_float, ctypes.c_float, ctypes.c_float]),
        "fann_scale_train": (None, [_ann, ctypes.c_void_p]),
        "fann_train_on_data": (None, [_ann, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_float]),
        "fann_scale_input": (None, [_ann, _double_p]),
        "fann_descale_output": (None, [_ann, _double_p]),
        "fann_get_errno": (ctypes.c_int, [ctypes.c_void_p]),
        "fann_init_weights": (None, [_ann, ctypes.c_void_p]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    return lib


def load_library():
    """The ctypes handle of libdoublefann; raises OSError naming the package when absent."""
    try:
        return _declare(ctypes.CDLL(LIBRARY))
    except OSError as e:
        raise OSError(
            f"{LIBRARY} cannot be loaded ({e}): install Debian's libfann2 "
            "(apt-get install -y libfann2; .ci/run does)"
        ) from e


class Fann:
    """One libfann network (``struct fann *``), destroyed with the object."""

    def __init__(self, lib, handle, what):
        if not handle:
            raise RuntimeError(f"libfann could not {what}")
        self.lib, self.handle = lib, handle

    @classmethod
    def from_file(cls, lib, path):
        return cls(lib, lib.fann_create_from_file(str(path).encode()), f"read {path}")

    @classmethod
    def standard(cls, lib, layer_sizes):
        sizes = (ctypes.c_uint * len(layer_sizes))(*layer_sizes)
        return cls(lib, lib.fann_create_standard_array(len(layer_sizes), sizes), f"create {layer_sizes}")

    def __del__(self):
        if getattr(self, "handle", None):
            self.lib.fann_destroy(self.handle)

    def save(self, path):
        if self.lib.fann_save(self.handle, str(path).encode()) != 0:
            raise RuntimeError(f"fann_save({path}) failed")

    def run(self, X):
        """``fann_run`` on every row of ``X``: an (n, num_output) float64 array."""
        n_out = self.lib.fann_get_num_output(self.handle)
        rows = []
        for x in np.ascontiguousarray(X, dtype=np.float64):
            out = self.lib.fann_run(self.handle, x.ctypes.data_as(_double_p))
            rows.append([out[k] for k in range(n_out)])
        return np.array(rows)

    def scale_input(self, X):
        rows = np.array(X, dtype=np.float64, order="C", copy=True)
        for x in rows:
            self.lib.fann_scale_input(self.handle, x.ctypes.data_as(_double_p))
        return rows

    def descale_output(self, Y):
        rows = np.array(Y, dtype=np.float64, order="C", copy=True)
        for y in rows:
            self.lib.fann_descale_output(self.handle, y.ctypes.data_as(_double_p))
        return rows

    def layers(self):
        n = self.lib.fann_get_num_layers(self.handle)
        sizes = (ctypes.c_uint * n)()
        self.lib.fann_get_layer_array(self.handle, sizes)
        return list(sizes)

    def connections(self):
        """Every connection as (from, to, weight), in libfann's order."""
        n = self.lib.fann_get_total_connections(self.handle)
        array = (FannConnection * n)()
        self.lib.fann_get_connection_array(self.handle, array)
        return [(c.from_neuron, c.to_neuron, c.weight) for c in array]

    def activations(self):
        """(activation function, steepness) of every unit of layers 1 …, as libfann reports them."""
        return [
            (self.lib.fann_get_activation_function(self.handle, l, j),
             self.lib.fann_get_activation_steepness(self.handle, l, j))
            for l, size in enumerate(self.layers()) if l > 0 for j in range(size)
        ]


def write_training_file(path, X, Y):
    """FANN's training data text format: a header line, then input and output lines."""
    lines = [f"{len(X)} {X.shape[1]} {Y.shape[1]}"]
    for x, y in zip(X, Y):
        lines.append(" ".join(format(v, ".17g") for v in x))
        lines.append(" ".join(format(v, ".17g") for v in y))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def libfann():
    return load_library()


def worst_difference(a, b):
    """Largest |a - b| relative to max(1, |b|)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def inputs(n_inputs, rows=200, seed=0, spread=2.0):
    return np.random.default_rng(seed).normal(size=(rows, n_inputs)) * spread


FANN_SIGMOID, FANN_SIGMOID_SYMMETRIC, FANN_LINEAR = 3, 5, 0


# ------------------------------------------------------------------ (a) bpcore -> libfann
@pytest.mark.parametrize("hidden", [1, 2, 3])
@pytest.mark.parametrize("activation,output_activation",
                         [("sigmoid", "sigmoid"), ("tanh", "sigmoid"), ("sigmoid", "identity"),
                          ("tanh", "identity")])
def test_a_network_saved_by_bpcore_runs_in_libfann_as_in_bpcore(
        libfann, tmp_path, hidden, activation, output_activation):
    sizes = (4, *[6, 5, 3][:hidden], 2)
    net = bpcore.Network(sizes, activation=activation, output_activation=output_activation,
                         init="uniform", init_scale=1.5, seed=hidden)
    path = tmp_path / "net.net"
    bpcore.fann.save(net, path)
    X = inputs(4, seed=hidden)
    fann_outputs = Fann.from_file(libfann, path).run(X)
    worst = worst_difference(fann_outputs, net.predict(X))
    print(f"\n(a) {activation}/{output_activation}, {hidden} hidden: largest difference {worst:.3g}")
    assert worst <= 1e-13
    # The figure can fail: a weight changed in the file shows up in fann_run.
    text = path.read_text()
    first = re.search(r"\(0, ([^)]+)\)", text.split("connections")[1]).group(1)
    path.write_text(text.replace(f"(0, {first})", f"(0, {float(first) + 1e-3:.20e})", 1))
    assert worst_difference(Fann.from_file(libfann, path).run(X), net.predict(X)) > 1e-13


def test_a_float32_network_saves_its_exact_values(libfann, tmp_path):
    net = bpcore.Network((3, 4, 2), activation="tanh", dtype="float32", init_scale=1.0, seed=2)
    path = tmp_path / "net.net"
    bpcore.fann.save(net, path)
    loaded = bpcore.fann.load(path)
    assert np.array_equal(loaded.params_vector(), net.params_vector().astype(np.float64))
    X = inputs(3).astype(np.float32)
    assert worst_difference(Fann.from_file(libfann, path).run(X), loaded.predict(X)) <= 1e-13


# ------------------------------------------------------------------ (b) libfann -> bpcore
def fann_trained_network(libfann, tmp_path, sizes, hidden_function, output_function, *, scale):
    """A network made by libfann: fann_create_standard, FANN's RPROP training for
    30 epochs on a small regression problem (scaled when ``scale``), fann_save."""
    fann = Fann.standard(libfann, sizes)
    steepness = {FANN_SIGMOID: 0.5, FANN_SIGMOID_SYMMETRIC: 1.0, FANN_LINEAR: 1.0}
    libfann.fann_set_activation_function_hidden(fann.handle, hidden_function)
    libfann.fann_set_activation_steepness_hidden(fann.handle, steepness[hidden_function])
    libfann.fann_set_activation_function_output(fann.handle, output_function)
    libfann.fann_set_activation_steepness_output(fann.handle, steepness[output_function])
    libfann.fann_randomize_weights(fann.handle, -1.0, 1.0)
    rng = np.random.default_rng(sum(sizes))
    X = rng.uniform(-3, 3, size=(64, sizes[0])) * 4 + 1
    Y = np.tanh(X @ rng.normal(size=(sizes[0], sizes[-1])) / 8) * 0.4 + 0.5
    train_file = tmp_path / "train.data"
    write_training_file(train_file, X, Y)
    data = libfann.fann_read_train_from_file(str(train_file).encode())
    assert data, "libfann could not read the training file"
    try:
        if scale:
            assert libfann.fann_set_scaling_params(fann.handle, data, -1.0, 1.0, 0.1, 0.9) == 0
            libfann.fann_scale_train(fann.handle, data)
        libfann.fann_train_on_data(fann.handle, data, 30, 0, 0.0)
    finally:
        libfann.fann_destroy_train(data)
    path = tmp_path / "fann.net"
    fann.save(path)
    return path, X


FANN_MADE = [((3, 5, 2), FANN_SIGMOID, FANN_SIGMOID, False),
             ((2, 4, 3, 1), FANN_SIGMOID_SYMMETRIC, FANN_LINEAR, True),
             ((4, 3, 3, 3, 2), FANN_SIGMOID_SYMMETRIC, FANN_SIGMOID, True),
             ((3, 2), FANN_SIGMOID, FANN_LINEAR, False)]


@pytest.mark.parametrize("sizes,hidden_function,output_function,scale", FANN_MADE)
def test_b_a_network_made_by_libfann_loads_and_reproduces_fann_run(
        libfann, tmp_path, sizes, hidden_function, output_function, scale):
    path, X = fann_trained_network(libfann, tmp_path, sizes, hidden_function, output_function, scale=scale)
    net, file_scale = bpcore.fann.load_with_scale(path)
    assert net.layer_sizes == sizes
    fann = Fann.from_file(libfann, path)
    if scale:
        assert isinstance(file_scale, FannScale)
        worst_scale = worst_difference(file_scale.scale_input(X), fann.scale_input(X))
        # libfann holds the scale parameters as float32 (and writes them with %f).
        assert worst_scale <= 1e-6
        X = fann.scale_input(X)
    else:
        assert file_scale is None
    fann_outputs = fann.run(X)
    worst = worst_difference(net.predict(X), fann_outputs)
    print(f"\n(b) {sizes}, functions {hidden_function}/{output_function}, scale {scale}: "
          f"largest difference {worst:.3g}")
    assert worst <= 1e-13
    if scale:
        worst_descale = worst_difference(file_scale.descale_output(fann_outputs),
                                         fann.descale_output(fann_outputs))
        assert worst_descale <= 1e-6


# ------------------------------------------------------------------ (c) round trips
@pytest.mark.parametrize("sizes,hidden_function,output_function,scale", FANN_MADE)
def test_c_saving_a_loaded_file_again_gives_the_same_network_to_libfann(
        libfann, tmp_path, sizes, hidden_function, output_function, scale):
    path, X = fann_trained_network(libfann, tmp_path, sizes, hidden_function, output_function, scale=scale)
    net, file_scale = bpcore.fann.load_with_scale(path)
    again = tmp_path / "again.net"
    bpcore.fann.save(net, again, scale=file_scale)
    original, resaved = Fann.from_file(libfann, path), Fann.from_file(libfann, again)
    assert resaved.layers() == original.layers()
    assert resaved.connections() == original.connections()  # sources, destinations, weights: bit for bit
    assert resaved.activations()[:-1] == original.activations()[:-1]  # (the output layer's bias is unused)
    assert np.array_equal(resaved.run(X), original.run(X))
    if scale:
        assert np.array_equal(resaved.scale_input(X), original.scale_input(X))
    print(f"\n(c) {sizes}: layers, {len(original.connections())} connections and fann_run identical")
    # And bpcore reads its own file back to the same network and scale.
    net_again, scale_again = bpcore.fann.load_with_scale(again)
    assert net_again == net
    assert (scale_again is None) == (file_scale is None)
    if scale:
        for a, b in zip(scale_again, file_scale):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bpcore_round_trip_is_exact_for_awkward_values(tmp_path, dtype):
    net = bpcore.Network((3, 2, 2), activation="tanh", output_activation="identity", dtype=dtype, seed=0)
    special = [0.1, -0.0, 5e-324, 1e308, -1.7976931348623157e308, 1 / 3, 2.2250738585072014e-308]
    vector = net.params_vector()
    limit = float(np.finfo(dtype).max)
    vector[: len(special)] = [v if abs(v) <= limit else 1.0 for v in special]
    net.set_params_vector(vector)
    path = tmp_path / "net.net"
    bpcore.fann.save(net, path)
    loaded = bpcore.fann.load(path)
    assert np.array_equal(loaded.params_vector(), net.params_vector().astype(np.float64))
    assert np.signbit(loaded.params_vector()[1]) == np.signbit(net.params_vector()[1])
    assert (loaded.activation, loaded.output_activation) == ("tanh", "identity")


def test_numbers_are_written_in_the_c_locale_with_round_trip_digits(tmp_path):
    import locale

    net = bpcore.Network((2, 3, 1), seed=4)
    path = tmp_path / "net.net"
    saved = locale.setlocale(locale.LC_ALL)
    for name in ("de_DE.UTF-8", "fr_FR.UTF-8", "C.UTF-8", "C"):
        try:
            locale.setlocale(locale.LC_ALL, name)  # a comma-decimal locale where installed
            break
        except locale.Error:
            continue
    try:
        bpcore.fann.save(net, path)
    finally:
        locale.setlocale(locale.LC_ALL, saved)
    connections = path.read_text().split("connections (connected_to_neuron, weight)=")[1]
    numbers = re.findall(r"\(\d+, ([^)]*)\)", connections)
    assert len(numbers) == 13
    for text, value in zip(numbers, net.params_vector()[[0, 1, 6, 2, 3, 7, 4, 5, 8, 9, 10, 11, 12]]):
        assert re.fullmatch(r"-?\d\.\d{20}e[-+]\d{2,3}", text), text
        assert float(text) == value


def test_the_scale_block_round_trips_and_is_checked(tmp_path):
    net = bpcore.Network((2, 3, 1), seed=0)
    scale = FannScale(*[np.array(v, dtype=float) for v in
                        ([0.5, -1.25], [2.0, 0.1], [-1.0, -1.0], [1.0, 0.3], [0.25], [3.0], [0.1], [0.4])])
    path = tmp_path / "net.net"
    bpcore.fann.save(net, path, scale=scale)
    _, loaded = bpcore.fann.load_with_scale(path)
    for a, b in zip(loaded, scale):
        assert np.array_equal(a, b)
    X = np.array([[1.0, 2.0], [-3.0, 0.5]])
    # FANN's formulas (fann_scale_input, fann_descale_output), by hand for one value each.
    assert loaded.scale_input(X)[0, 1] == pytest.approx(((2.0 + 1.25) / 0.1 + 1) * 0.3 - 1.0)
    assert loaded.descale_output(np.array([[0.7]]))[0, 0] == pytest.approx(((0.7 - 0.1) / 0.4 - 1) * 3.0 + 0.25)
    with pytest.raises(ValueError, match="scale.mean_in must be 2 finite numbers"):
        bpcore.fann.save(net, path, scale=scale._replace(mean_in=np.array([1.0])))
    with pytest.raises(TypeError, match="scale must be a bpcore.fann.FannScale"):
        bpcore.fann.save(net, path, scale={"mean_in": [0, 0]})


# ------------------------------------------------------------------ what FANN cannot hold
@pytest.mark.parametrize("activation,output_activation,message", [
    ("relu", "sigmoid", "cannot hold relu hidden units"),
    ("sigmoid", "softmax", "cannot hold softmax output units"),
])
def test_networks_fann_cannot_hold_are_refused_before_writing(tmp_path, activation, output_activation, message):
    net = bpcore.Network((2, 3, 2), activation=activation, output_activation=output_activation)
    path = tmp_path / "net.net"
    with pytest.raises(ValueError, match=message):
        bpcore.fann.save(net, path)
    assert not path.exists()
    with pytest.raises(TypeError, match="net must be a bpcore.Network"):
        bpcore.fann.save("net", path)


# ------------------------------------------------------------------ bad files
@pytest.fixture
def good_file(tmp_path):
    """The text of a 2-3-1 (tanh, sigmoid) network saved by bpcore."""
    net = bpcore.Network((2, 3, 1), activation="tanh", seed=0)
    path = tmp_path / "good.net"
    bpcore.fann.save(net, path)
    return path.read_text()


def edited(text, old, new, count=1):
    assert old in text, old
    return text.replace(old, new, count)


def with_weight(text, k, weight):
    """``text`` with the weight of connection ``k`` replaced by the string ``weight``."""
    head, connections = text.split("connections (connected_to_neuron, weight)=")
    entries = re.findall(r"\(\d+, [^)]+\) ", connections)
    source = entries[k].split(",")[0]
    entries[k] = f"{source}, {weight}) "
    return head + "connections (connected_to_neuron, weight)=" + "".join(entries) + "\n"


def refusal(tmp_path, content):
    path = tmp_path / "bad.net"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(FannFormatError) as info:
        bpcore.fann.load(path)
    assert isinstance(info.value, ModelFormatError)
    assert str(path) in str(info.value)
    return str(info.value)


BAD_FILES = {
    "empty": (lambda t: "", "the file is empty"),
    "wrong header": (lambda t: edited(t, "FANN_FLO_2.1", "FANN_XYZ"), "not a FANN network file: the first line is 'FANN_XYZ'"),
    "a CSV file": (lambda t: "a,b\n1,2\n", "not a FANN network file: the first line is 'a,b'"),
    "fixed point": (lambda t: edited(t, "FANN_FLO_2.1\n", "FANN_FIX_2.1\ndecimal_point=13\n"),
                    "a fixed-point FANN network \\(FANN_FIX_2.1\\)"),
    "version 1.1": (lambda t: edited(t, "FANN_FLO_2.1", "FANN_FLO_1.1"), "FANN file version 'FANN_FLO_1.1'"),
    "truncated in the settings": (lambda t: t[: t.index("quickprop_mu")], "the file ends after line 11, before the 'quickprop_mu=' line"),
    "truncated in the connections": (lambda t: t[: -40], "the connections line lists 12 entries, but the neurons' connection counts say 13"),
    "truncated before the connections": (lambda t: t[: t.index("connections (")], "before the 'connections \\(connected_to_neuron, weight\\)=' line"),
    "layer_sizes disagree with num_layers": (lambda t: edited(t, "layer_sizes=3 4 2 ", "layer_sizes=3 4 4 2 "),
                                            "layer_sizes lists 4 layers; num_layers says 3"),
    "layer_sizes disagree with the neurons": (lambda t: edited(t, "layer_sizes=3 4 2 ", "layer_sizes=3 5 2 "),
                                             "the neurons line lists 9 entries, but layer_sizes say 10"),
    "connection counts disagree with layer_sizes": (lambda t: edited(t, "(3, 5,", "(2, 5,"),
                                                    "neuron 3 \\(unit 0 of layer 1\\) has 2 connections; in a fully connected layered network it has 3"),
    "connection index out of range": (lambda t: edited(t, "(6, ", "(4000000000, "),
                                      "connection 12 comes from neuron 4000000000, but the network has 9 neurons \\(0 to 8\\)"),
    "connection index of the wrong neuron": (lambda t: edited(t, "(1, ", "(2, "),
                                             "connection 1 comes from neuron 2; in a fully connected layered network it comes from neuron 1"),
    "NaN weight": (lambda t: with_weight(t, 9, "nan"), "connection 9 has weight nan: not a finite number"),
    "infinite weight": (lambda t: with_weight(t, 9, "-1e999"), "connection 9 has weight -1e999: not a finite number"),
    "malformed weight": (lambda t: with_weight(t, 9, "0,5"), "connections entry 9 is malformed"),
    "huge layer sizes": (lambda t: edited(t, "layer_sizes=3 4 2 ", "layer_sizes=4000000000 4000000000 2 "),
                         "the neurons line lists 9 entries, but layer_sizes say 8000000002"),
    "non-UTF-8 bytes": (lambda t: edited(t, "learning_rate=0.700000", "learning_rate=0.7\xff").encode("latin-1"),
                        "byte 0xff at offset \\d+ is not ASCII text"),
    "UTF-8 but not ASCII": (lambda t: edited(t, "learning_rate=0.700000", "learning_rate=٠.7"),
                            "byte 0xd9 at offset \\d+ is not ASCII text"),
    "a shortcut network": (lambda t: edited(t, "network_type=0", "network_type=1"), "a shortcut network \\(network_type=1"),
    "a sparse network": (lambda t: edited(t, "connection_rate=1.000000", "connection_rate=0.500000"),
                         "a sparse network \\(connection_rate=0.5\\)"),
    "a stepwise activation": (lambda t: edited(t, "(4, 3, 5.00000000000000000000e-01)", "(4, 4, 5.00000000000000000000e-01)"),
                              "output neurons use FANN_SIGMOID_STEPWISE with steepness 0.5, which has no bpcore equivalent"),
    "an unknown activation id": (lambda t: edited(t, "(4, 3, 5.00000000000000000000e-01)", "(4, 99, 5.00000000000000000000e-01)"),
                                 "output neurons have activation function 99, not a FANN activation"),
    "another steepness": (lambda t: edited(t, "(4, 3, 5.00000000000000000000e-01)", "(4, 3, 2.5e-01)"),
                          "output neurons use FANN_SIGMOID with steepness 0.25, which has no bpcore equivalent"),
    "a tanh output": (lambda t: edited(t, "(4, 3, 5.00000000000000000000e-01)", "(4, 5, 1.0)"),
                      "output neurons use FANN_SIGMOID_SYMMETRIC with steepness 1, which has no bpcore equivalent"),
    "mixed hidden activations": (lambda t: edited(t, "(3, 5, 1.00000000000000000000e+00)", "(3, 3, 0.5)"),
                                 "the hidden neurons use different activations"),
    "a missing settings line": (lambda t: edited(t, "quickprop_mu=1.750000\n", ""), "expected 'quickprop_mu=…', found 'rprop_increase_factor=1.200000'"),
    "a bad settings value": (lambda t: edited(t, "network_type=0", "network_type=x"), "network_type must be an unsigned integer; got 'x'"),
    "a bad cascade list": (lambda t: edited(t, "cascade_activation_functions=3 5", "cascade_activation_functions=3"),
                           "cascade_activation_functions lists 9 values; the count before it says 10"),
    "a zero scale deviation": (lambda t: edited(t, "scale_included=0", "scale_included=1\nscale_mean_in=0 0 \nscale_deviation_in=0 1 "),
                               "scale_deviation_in holds 0"),
    "a scale block cut short": (lambda t: edited(t, "scale_included=0", "scale_included=1\nscale_mean_in=0 0 "),
                                "expected 'scale_deviation_in=…'"),
    "text after the connections": (lambda t: t + "extra=1\n", "unexpected text after the connections line"),
    "a huge integer": (lambda t: edited(t, "num_layers=3", "num_layers=" + "9" * 5000), "num_layers must be an unsigned integer"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_net_files_get_a_fann_format_error_naming_the_problem(tmp_path, good_file, name):
    make, message = BAD_FILES[name]
    assert re.search(message, refusal(tmp_path, make(good_file))), name


def test_huge_layer_sizes_are_refused_before_anything_is_allocated(tmp_path, good_file):
    import tracemalloc

    content = edited(good_file, "layer_sizes=3 4 2 ", "layer_sizes=4000000000 4000000000 2 ")
    tracemalloc.start()
    try:
        refusal(tmp_path, content)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * len(content) + 1_000_000


def test_windows_line_ends_and_fann_2_0_files_are_read(tmp_path, good_file):
    path = tmp_path / "crlf.net"
    path.write_bytes(good_file.replace("\n", "\r\n").encode())
    reference = tmp_path / "good.net"
    reference.write_text(good_file)
    assert bpcore.fann.load(path) == bpcore.fann.load(reference)
    old = edited(edited(good_file, "FANN_FLO_2.1", "FANN_FLO_2.0"), "scale_included=0\n", "")
    path.write_text(old)
    net, scale = bpcore.fann.load_with_scale(path)
    assert net == bpcore.fann.load(reference) and scale is None


def test_a_directory_or_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        bpcore.fann.load(tmp_path / "missing.net")
    with pytest.raises(IsADirectoryError):
        bpcore.fann.load(tmp_path)


def test_an_unchanged_file_and_an_edited_one_differ_in_what_loads(tmp_path, good_file):
    """The refusals above are not a reader that refuses everything: the good file loads."""
    path = tmp_path / "good.net"
    path.write_text(good_file)
    net = bpcore.fann.load(path)
    assert net.layer_sizes == (2, 3, 1) and (net.activation, net.output_activation) == ("tanh", "sigmoid")
    assert math.isfinite(float(net.predict(np.zeros(2))[0]))


# ------------------------------------------------------------------ (d) Nguyen–Widrow (issue 14)
def fann_nguyen_widrow(libfann, tmp_path, sizes, X, seed):
    """libfann's fann_init_weights on a standard network for the training inputs
    ``X``, after ``srand(seed)`` (fann_rand is C's rand()): the weights
    (source is not a bias) and the biases, each in libfann's connection order."""
    fann = Fann.standard(libfann, sizes)
    train_file = tmp_path / "nw.data"
    write_training_file(train_file, X, np.zeros((len(X), sizes[-1])))
    data = libfann.fann_read_train_from_file(str(train_file).encode())
    assert data, "libfann could not read the training file"
    try:
        LIBC.srand(seed)
        libfann.fann_init_weights(fann.handle, data)
    finally:
        libfann.fann_destroy_train(data)
    bias_neurons, first = set(), 0
    for size in fann.layers()[:-1]:  # the bias neuron closes every layer but the last
        bias_neurons.add(first + size)
        first += size + 1
    connections = fann.connections()
    return connections, bias_neurons


LIBC = ctypes.CDLL(None)  # the C library libfann calls rand() from
LIBC.rand.restype, LIBC.srand.argtypes = ctypes.c_int, [ctypes.c_uint]


def fann_rand(low, high, r):
    """fann.h's ``fann_rand(min, max)`` for one value ``r`` of rand(), in its
    float arithmetic: (float)min + ((float)max - (float)min) * rand() / (RAND_MAX + 1.0f)."""
    f32 = np.float32
    return float(f32(low) + f32(f32(high) - f32(low)) * f32(r) / (f32(2147483647) + f32(1.0)))


def test_the_nguyen_widrow_scale_factor_golden():
    """fann_init_weights' scale factor, worked by hand: (0.7f · H) ** (1 / n_in) /
    (max − min), rounded to float32 (0.7f = 0.699999988079071)."""
    scale = bpcore.network.nguyen_widrow_scale
    assert scale((2, 3, 1), "sigmoid", None) == float(np.float32(math.sqrt(0.699999988079071 * 3) / 2))
    assert scale((2, 3, 1), "sigmoid", None) == 0.7245688438415527
    assert scale((4, 5, 3, 2), "tanh", (0.0, 1.0)) == float(np.float32((0.699999988079071 * 8) ** 0.25))
    assert scale((1, 300, 3), "tanh", (-2, 3)) == 42.0  # 0.7f · 300 = 210.0000…, / 5
    # H counts the units of every hidden layer, and the output layer is scaled too.
    net = bpcore.Network((4, 5, 3, 2), activation="tanh", init="nguyen_widrow", input_range=(0, 1), seed=0)
    s = scale((4, 5, 3, 2), "tanh", (0, 1))
    for W, b in zip(net.weights, net.biases):
        assert W.min() >= 0 and W.max() < s and b.min() >= -s and b.max() < s


@pytest.mark.parametrize("sizes", [(3, 5, 4, 2), (2, 3, 1), (6, 10, 3)])
def test_nguyen_widrow_reproduces_libfanns_fann_init_weights(libfann, tmp_path, sizes):
    """libfann draws with its own rand(), so its values are not bpcore's; but
    with C's rand() sequence after srand(seed) and bpcore's scale factor,
    fann_rand(0, s) for every weight and fann_rand(-s, s) for every bias
    reproduce what fann_init_weights wrote, bit for bit. The scale factor (the
    training inputs' range, the hidden units, the float32 rounding) and the
    bounds are therefore FANN's exactly."""
    X = np.random.default_rng(1).uniform(-2, 3, size=(40, sizes[0]))
    lo, hi = X.min(), X.max()
    connections, bias_neurons = fann_nguyen_widrow(libfann, tmp_path, sizes, X, seed=7)
    s = bpcore.network.nguyen_widrow_scale(sizes, "sigmoid", (lo, hi))
    LIBC.srand(7)
    expected = [fann_rand(-s if source in bias_neurons else 0.0, s, LIBC.rand())
                for source, _, _ in connections]
    assert [w for _, _, w in connections] == expected
    # The check can fail: the next float32 scale gives other weights.
    wrong = float(np.nextafter(np.float32(s), np.float32(np.inf)))
    LIBC.srand(7)
    assert [w for _, _, w in connections] != [
        fann_rand(-wrong if source in bias_neurons else 0.0, wrong, LIBC.rand()) for source, _, _ in connections]


@pytest.mark.parametrize("sizes", [(3, 50, 40, 2), (2, 200, 1)])
def test_nguyen_widrow_has_libfanns_weight_ranges(libfann, tmp_path, sizes):
    """bpcore's own draws (numpy's generator) against libfann's: the same
    bounds, weights in [0, s), biases in [-s, s), and both come close to them
    (thousands of draws each)."""
    X = np.random.default_rng(2).uniform(-1.5, 4.0, size=(60, sizes[0]))
    connections, bias_neurons = fann_nguyen_widrow(libfann, tmp_path, sizes, X, seed=3)
    fann_weights = np.array([w for source, _, w in connections if source not in bias_neurons])
    fann_biases = np.array([w for source, _, w in connections if source in bias_neurons])
    net = bpcore.Network(sizes, init="nguyen_widrow", input_range=(X.min(), X.max()), seed=0)
    ours_weights = np.concatenate([W.ravel() for W in net.weights])
    ours_biases = np.concatenate(net.biases)
    assert ours_weights.size == fann_weights.size and ours_biases.size == fann_biases.size
    s = bpcore.network.nguyen_widrow_scale(sizes, "sigmoid", (X.min(), X.max()))
    for weights in (fann_weights, ours_weights):
        assert 0.0 <= weights.min() < 0.02 * s and 0.98 * s < weights.max() < s
        assert abs(weights.mean() - s / 2) < 0.05 * s
    for biases in (fann_biases, ours_biases):
        assert -s <= biases.min() < -0.9 * s and 0.9 * s < biases.max() < s
