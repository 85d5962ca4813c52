"""Saving and loading networks (bpcore.model_io): exact round trips, every kind
of malformed file, atomic writes, and pickling."""

import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import bpcore
from bpcore import ModelFormatError, Network, _fileio, model_io

HIDDEN = ("sigmoid", "tanh", "relu")
OUTPUT = ("sigmoid", "identity", "softmax")
DTYPES = ("float64", "float32")


def _trained(dtype="float64", activation="sigmoid", output_activation="sigmoid", sizes=(4, 5, 3, 2)):
    """A network with non-trivial weights (trained a little on random data)."""
    net = Network(sizes, activation=activation, output_activation=output_activation,
                  init="xavier", seed=3, dtype=dtype)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, sizes[0]))
    T = rng.uniform(size=(20, sizes[-1]))
    if output_activation == "softmax":
        T = T / T.sum(axis=1, keepdims=True)
    loss = "cross_entropy" if output_activation == "softmax" else "squared_error"
    bpcore.train(net, X, T, learning_rate=0.05, epochs=3, seed=0, loss=loss)
    return net


def _members(path):
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _header(members):
    return json.loads(members["header"].tobytes().decode("utf-8"))


def _write(path, members, header=None):
    """Write an .npz by hand: ``members`` with ``header`` (a dict) encoded as the model's header."""
    members = dict(members)
    if header is not None:
        members["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **members)


@pytest.fixture
def saved(tmp_path):
    """(network, path, members) of a saved 3-layer network."""
    net = _trained()
    path = tmp_path / "model.npz"
    net.save(path)
    return net, path, _members(path)


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("output_activation", OUTPUT)
def test_round_trip_predicts_bit_identically(tmp_path, dtype, activation, output_activation):
    net = _trained(dtype, activation, output_activation)
    path = tmp_path / "net.npz"
    net.save(path)
    loaded = bpcore.load(path)
    assert loaded == net  # sizes, activations, dtype and every parameter bit
    assert loaded.dtype == np.dtype(dtype)
    assert (loaded.activation, loaded.output_activation) == (activation, output_activation)
    X = np.random.default_rng(1).normal(size=(50, 4))
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


def test_network_without_hidden_layer_round_trips(tmp_path):
    net = Network((3, 2), seed=0)
    net.save(tmp_path / "n.npz")
    assert bpcore.load(tmp_path / "n.npz") == net


def test_save_writes_exactly_the_given_path(tmp_path):
    net = Network((2, 1), seed=0)
    model_io.save(net, tmp_path / "model.bin")
    assert sorted(os.listdir(tmp_path)) == ["model.bin"]
    assert bpcore.load(str(tmp_path / "model.bin")) == net


def test_file_layout_is_the_documented_one(saved):
    net, _, members = saved
    assert sorted(members) == ["biases_0", "biases_1", "biases_2", "header",
                               "weights_0", "weights_1", "weights_2"]
    header = _header(members)
    assert header["format"] == "bpcore-model"
    assert header["format_version"] == 1
    assert header["bpcore_version"] == bpcore.__version__
    assert header["layer_sizes"] == [4, 5, 3, 2]
    assert (header["activation"], header["output_activation"], header["dtype"]) == (
        "sigmoid", "sigmoid", "float64")
    np.testing.assert_array_equal(members["weights_1"], net.weights[1])
    np.testing.assert_array_equal(members["biases_2"], net.biases[2])


def test_metadata_round_trips(tmp_path):
    net = Network((3, 2), seed=0, dtype="float32")
    metadata = {
        "classes": ["cat", "dog"],
        "inputs": ["a", "b", "c"],
        "nested": {"k": [1, 2.5, None, True]},
        "input_mean": np.array([0.5, -1.0, 2.0]),
        "input_scale": np.array([1.0, 2.0, 3.0], dtype=np.float32),
    }
    model_io.save(net, tmp_path / "m.npz", metadata=metadata)
    loaded, back = model_io.load_with_metadata(tmp_path / "m.npz")
    assert loaded == net
    assert set(back) == set(metadata)
    for key in ("classes", "inputs", "nested"):
        assert back[key] == metadata[key]
    for key in ("input_mean", "input_scale"):
        assert back[key].dtype == metadata[key].dtype
        np.testing.assert_array_equal(back[key], metadata[key])


def test_no_metadata_gives_an_empty_dict(saved):
    _, path, _ = saved
    assert model_io.load_with_metadata(path)[1] == {}


def test_load_is_exported():
    assert bpcore.load is model_io.load
    assert "load" in bpcore.__all__


# ------------------------------------------------------------------ bad arguments to save
@pytest.mark.parametrize(
    ("metadata", "error", "match"),
    [
        ("classes", TypeError, "metadata must be a dict"),
        ({1: "x"}, TypeError, "keys must be strings"),
        ({"f": object()}, TypeError, r"metadata\['f'\] must be a JSON value"),
        ({"f": float("nan")}, TypeError, "no NaN"),
        ({"bad name": np.zeros(2)}, ValueError, "array names"),
        ({"m": np.array([1, 2])}, ValueError, "finite floats"),
        ({"m": np.array([1.0, np.inf])}, ValueError, "finite floats"),
    ],
)
def test_bad_metadata_is_rejected_before_writing(tmp_path, metadata, error, match):
    path = tmp_path / "m.npz"
    with pytest.raises(error, match=match):
        model_io.save(Network((2, 1), seed=0), path, metadata=metadata)
    assert os.listdir(tmp_path) == []


def test_save_rejects_a_non_network(tmp_path):
    with pytest.raises(TypeError, match="bpcore.Network"):
        model_io.save({"weights": []}, tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_save_rejects_non_finite_weights(tmp_path):
    net = Network((2, 2, 1), seed=0)
    net.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        net.save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ malformed files
def _rewrite(path, members, **changes):
    """Save ``members`` to ``path`` with header fields replaced by ``changes``
    (a value of ``...`` removes the field)."""
    header = _header(members)
    for key, value in changes.items():
        if value is ...:
            del header[key]
        else:
            header[key] = value
    _write(path, {k: v for k, v in members.items() if k != "header"}, header)


def _expect(path, match):
    with pytest.raises(ModelFormatError, match=match):
        bpcore.load(path)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"format_version": 2}, r"newer bpcore \(model format version 2.*upgrade bpcore"),
        ({"format_version": 99, "bpcore_version": "9.0"}, "newer bpcore.*'9.0'"),
        ({"format_version": 0}, "format_version must be an integer >= 1"),
        ({"format_version": "1"}, "format_version must be an integer"),
        ({"format_version": True}, "format_version must be an integer"),
        ({"format_version": ...}, "format_version must be an integer"),
        ({"format": "keras"}, "not a bpcore model: the header's format is 'keras'"),
        ({"format": ...}, "not a bpcore model"),
        ({"dtype": ...}, "the header has no 'dtype'"),
        ({"layer_sizes": ...}, "the header has no 'layer_sizes'"),
        ({"activation": "swish"}, "unknown activation 'swish'"),
        ({"output_activation": "relu"}, "unknown output_activation 'relu'"),
        ({"dtype": "float16"}, "unknown dtype 'float16'"),
        ({"layer_sizes": [4, 0, 3, 2]}, "layer_sizes must be a list of at least two positive"),
        ({"layer_sizes": [4]}, "layer_sizes must be a list"),
        ({"layer_sizes": "4-5-3-2"}, "layer_sizes must be a list"),
        ({"layer_sizes": [4, 6, 3, 2]}, r"weights_0 has shape \(5, 4\); the header's layer_sizes say \(6, 4\)"),
        ({"layer_sizes": [4, 5, 3]}, r"weights_1 has shape \(3, 5\)|unexpected entries"),
        ({"layer_sizes": [4, 5, 3, 2, 1]}, "the entry 'weights_3' is missing"),
        ({"dtype": "float32"}, "weights_0 has dtype float64; expected float32"),
        ({"metadata": [1, 2]}, "metadata must be a JSON object"),
        ({"metadata_arrays": ["mean"]}, "the entry 'metadata_mean' is missing"),
        ({"metadata_arrays": ["../x"]}, "metadata_arrays must be a list of array names"),
    ],
)
def test_hand_edited_header_is_rejected(saved, tmp_path, changes, match):
    _, _, members = saved
    path = tmp_path / "edited.npz"
    _rewrite(path, members, **changes)
    _expect(path, match)


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("weights_1", np.zeros((5, 3)), r"weights_1 has shape \(5, 3\); the header's layer_sizes say \(3, 5\)"),
        ("biases_0", np.zeros(4), r"biases_0 has shape \(4,\)"),
        ("weights_0", np.zeros((5, 4), dtype=np.float32), "weights_0 has dtype float32; expected float64"),
        ("weights_0", np.zeros((5, 4), dtype=np.int64), "weights_0 has dtype int64"),
        ("biases_2", np.array([0.1, np.nan]), "biases_2 contains NaN or infinity"),
        ("weights_2", np.full((2, 3), np.inf), "weights_2 contains NaN or infinity"),
        ("header", np.zeros(3), "the 'header' entry must be UTF-8 JSON bytes"),
        ("header", np.frombuffer(b"{not json", dtype=np.uint8), "the header is not valid JSON"),
        ("header", np.frombuffer(b"\xff\xfe", dtype=np.uint8), "the header is not valid JSON"),
        ("header", np.frombuffer(b'{"format": NaN}', dtype=np.uint8), "the header is not valid JSON"),
        ("header", np.frombuffer(b"[1, 2]", dtype=np.uint8), "not a bpcore model"),
        ("extra", np.zeros(2), r"unexpected entries \['extra'\]"),
    ],
)
def test_hand_edited_arrays_are_rejected(saved, tmp_path, name, value, match):
    _, _, members = saved
    members[name] = value
    path = tmp_path / "edited.npz"
    _write(path, members)
    _expect(path, match)


@pytest.mark.parametrize("name", ["header", "weights_0", "biases_2"])
def test_missing_entry_is_named(saved, tmp_path, name):
    _, _, members = saved
    del members[name]
    path = tmp_path / "edited.npz"
    _write(path, members)
    _expect(path, "no 'header' entry" if name == "header" else f"the entry '{name}' is missing")


def test_bad_metadata_arrays_in_a_file_are_rejected(tmp_path):
    path = tmp_path / "m.npz"
    model_io.save(Network((2, 1), seed=0), path, metadata={"mean": np.zeros(2), "n": 1})
    members = _members(path)
    members["metadata_mean"] = np.array([0.0, np.nan])
    _write(path, members)
    _expect(path, "metadata_mean contains NaN")
    members["metadata_mean"] = np.array(["a", "b"])
    _write(path, members)
    _expect(path, "metadata_mean has dtype <U1; expected a float dtype")
    _rewrite(path, _members(path), metadata={"mean": 1})
    _expect(path, "metadata 'mean' is stored both as JSON and as an array")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "the file is empty"),
        (b"layer_sizes,3,2,1\n", r"not an \.npz \(zip\) archive"),
        (b"\x93NUMPY\x01\x00", r"a single \.npy array"),
        (b"PK\x05\x06" + bytes(18), r"not an \.npz \(zip\) archive"),
    ],
)
def test_files_that_are_not_models(tmp_path, content, match):
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    _expect(path, "not a bpcore model: .*" + match)


def test_a_real_npy_file_is_not_a_model(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros(3))
    _expect(path, r"a single \.npy array")


def test_an_npz_that_is_not_a_model(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(3))
    _expect(path, "no 'header' entry")


class _Exploit:
    """Unpickling this would create the directory ``marker``: proof of code execution."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_pickle_is_never_loaded(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(_Exploit(marker)))
    _expect(path, "looks like a Python pickle, which bpcore never loads")
    assert not marker.exists()


def test_pickled_object_arrays_in_the_archive_are_never_loaded(saved, tmp_path):
    _, _, members = saved
    marker = tmp_path / "executed"
    exploit = np.empty(1, dtype=object)
    exploit[0] = _Exploit(marker)
    for name in ("weights_0", "header", "extra"):
        path = tmp_path / f"{name}.npz"
        _write(path, {**members, name: exploit})
        _expect(path, "cannot be read.*Object arrays cannot be loaded")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["notes.txt", "header", "weights_0"])
def test_a_non_array_member_is_rejected(saved, name):
    _, path, _ = saved
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(name, '{"format": "bpcore-model"}')
    _expect(path, f"the entry '{name}' is not a .npy array")


def test_truncation_is_a_model_format_error(saved, tmp_path):
    """Cut the file at every 4th length and at each of the last 64 (the zip
    directory): always ModelFormatError. (Every length would do the same, but
    opening thousands of files is slow on some file systems.)"""
    _, path, _ = saved
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    for length in sorted({*range(0, len(data), 4), *range(len(data) - 64, len(data))}):
        cut.write_bytes(data[:length])
        with pytest.raises(ModelFormatError):
            bpcore.load(cut)


def test_corrupted_bytes_are_detected_or_harmless(tmp_path):
    """Flip every 3rd byte of a small model, one at a time: the load either
    fails with ModelFormatError or (for bytes the format does not use, such as
    zip timestamps) gives back exactly the saved network. Never another exception."""
    net = _trained(sizes=(3, 2, 1))
    path = tmp_path / "small.npz"
    net.save(path)
    data = path.read_bytes()
    bad = tmp_path / "bad.npz"
    detected = 0
    positions = range(0, len(data), 3)
    for position in positions:
        corrupted = bytearray(data)
        corrupted[position] ^= 0x5A
        bad.write_bytes(bytes(corrupted))
        try:
            loaded = bpcore.load(bad)
        except ModelFormatError:
            detected += 1
        else:
            assert loaded == net, f"flipping byte {position} changed the network"
    assert detected > len(positions) // 2  # the checksums and checks catch most positions


def test_crc_detects_a_changed_weight(saved, tmp_path):
    net, path, _ = saved
    data = bytearray(path.read_bytes())
    position = data.index(net.weights[0].tobytes()[:16])
    data[position] ^= 0x01
    path.write_bytes(bytes(data))
    _expect(path, "CRC")


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        bpcore.load(tmp_path / "nope.npz")


def test_model_format_error_is_a_value_error():
    assert issubclass(ModelFormatError, ValueError)


# ------------------------------------------------------------------ atomic writes
def test_failed_write_leaves_the_old_file(saved, monkeypatch):
    _, path, _ = saved
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(model_io.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        Network((2, 1), seed=0).save(path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]  # the temporary file is gone


def test_failed_rename_leaves_the_old_file(saved, monkeypatch):
    _, path, _ = saved
    before = path.read_bytes()

    def broken_replace(source, target):
        raise PermissionError("no")

    monkeypatch.setattr(_fileio.os, "replace", broken_replace)
    with pytest.raises(PermissionError):
        Network((2, 1), seed=0).save(path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]


def test_failed_write_of_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    def broken_savez(f, **arrays):
        raise KeyboardInterrupt

    monkeypatch.setattr(model_io.np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        Network((2, 1), seed=0).save(tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []


def test_a_successful_save_replaces_the_file_and_fsyncs(saved, monkeypatch):
    _, path, _ = saved
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(_fileio.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    other = Network((2, 3, 1), seed=5)
    other.save(path)
    assert bpcore.load(path) == other
    assert synced  # the data reached the disk before the rename
    assert os.listdir(path.parent) == [path.name]


def test_saving_onto_a_directory_fails_cleanly(tmp_path):
    target = tmp_path / "dir"
    target.mkdir()
    with pytest.raises(OSError):
        Network((2, 1), seed=0).save(target)
    assert os.listdir(tmp_path) == ["dir"]
    assert os.listdir(target) == []


@pytest.mark.skipif(os.name != "posix", reason="umask is POSIX")
def test_new_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        Network((2, 1), seed=0).save(tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644


def test_atomic_write_text_mode(tmp_path):
    path = tmp_path / "out.csv"
    with _fileio.atomic_write(path, "w", encoding="utf-8", newline="") as f:
        f.write("a,b\n1,2\n")
        assert not path.exists()  # nothing appears until the block ends
    assert path.read_text(encoding="utf-8") == "a,b\n1,2\n"


# ------------------------------------------------------------------ pickling
@pytest.mark.parametrize("dtype", DTYPES)
def test_network_pickles(dtype):
    net = _trained(dtype, "tanh", "softmax")
    back = pickle.loads(pickle.dumps(net))
    assert back == net
    X = np.random.default_rng(2).normal(size=(10, 4))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))

