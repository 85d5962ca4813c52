"""`bpcore export` and `bpcore import` (issue 16), run as subprocesses the way a
user runs them, and checked by the real peers: onnxruntime runs the exported
ONNX file, libfann 2.2 (Debian's libfann2) the exported .net file, on the raw
CSV inputs that `bpcore predict` takes."""

import csv
import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

import bpcore
import bpcore.fann
import bpcore.model_io

ort = pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'bpcore[onnx]'")

LIBFANN = "libdoublefann.so.2"


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "bpcore", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, encoding="utf-8", timeout=300, check=False)


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A regression CSV with inputs far from mean 0 / deviation 1 (so that the
    standardisation matters) and a classification CSV, in one folder."""
    path = tmp_path_factory.mktemp("interop")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)) * [1.0, 10.0, 0.1, 3.0] + [5.0, -20.0, 0.0, 100.0]
    y = np.tanh((X - X.mean(0)) / X.std(0) @ [0.5, -0.3, 0.2, 0.1]) * 0.4 + 0.5
    write_csv(path / "reg.csv", ["a", "b", "c", "d", "y"], np.column_stack([X, y]).tolist())
    labels = np.where(X[:, 0] > 5.0, "hi", "lo")
    write_csv(path / "cls.csv", ["a", "b", "c", "d", "label"], [[*x, l] for x, l in zip(X.tolist(), labels)])
    write_csv(path / "raw.csv", ["a", "b", "c", "d"], X.tolist())
    return path


def train_model(folder, name, data, target, *options):
    ok(run_cli("train", data, "--target", target, "--epochs", 20, "--hidden", 5, "--out", name,
               *options, cwd=folder))
    return folder / name


def predictions(folder, model, data="raw.csv"):
    ok(run_cli("predict", model, data, "--out", "pred.csv", cwd=folder))
    header, rows = read_csv(folder / "pred.csv")
    return header, rows


def raw_inputs(folder):
    header, rows = read_csv(folder / "raw.csv")
    return np.array(rows, dtype=np.float64)


@pytest.mark.parametrize("dtype,tolerance", [("float64", 1e-12), ("float32", 1e-6)])
def test_an_exported_onnx_regressor_takes_raw_inputs_like_predict(folder, dtype, tolerance):
    model = train_model(folder, f"reg-{dtype}.npz", "reg.csv", "y", "--dtype", dtype,
                        "--output-activation", "sigmoid")
    result = ok(run_cli("export", model.name, f"reg-{dtype}.onnx", cwd=folder))
    assert "the graph takes raw inputs" in result.stderr
    session = ort.InferenceSession(str(folder / f"reg-{dtype}.onnx"), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {"input": raw_inputs(folder)})[0]
    _, rows = predictions(folder, model.name)
    expected = np.array(rows, dtype=np.float64)
    worst = np.max(np.abs(onnx_out - expected))
    print(f"\nbpcore export -> onnxruntime, {dtype}: largest difference from bpcore predict {worst:.3g}")
    assert worst <= tolerance


def test_an_exported_onnx_classifier_gives_predicts_labels_and_probabilities(folder):
    model = train_model(folder, "cls.npz", "cls.csv", "label")
    ok(run_cli("export", "cls.npz", "cls.onnx", cwd=folder))
    session = ort.InferenceSession(str(folder / "cls.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, {"input": raw_inputs(folder)})))
    header, rows = predictions(folder, model.name)
    assert header == ["label", "prob_hi", "prob_lo"]
    np.testing.assert_allclose(outputs["output"], np.array([r[1:] for r in rows], dtype=float), atol=1e-12)
    assert [str(v) for v in np.asarray(outputs["label"]).ravel()] == [r[0] for r in rows]


# ------------------------------------------------------------------ FANN
@pytest.fixture(scope="module")
def libfann():
    try:
        lib = ctypes.CDLL(LIBFANN)
    except OSError as e:
        raise OSError(f"{LIBFANN} cannot be loaded ({e}): apt-get install -y libfann2 (.ci/run does)") from e
    p = ctypes.POINTER(ctypes.c_double)
    lib.fann_create_from_file.restype, lib.fann_create_from_file.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    lib.fann_run.restype, lib.fann_run.argtypes = p, [ctypes.c_void_p, p]
    lib.fann_scale_input.restype, lib.fann_scale_input.argtypes = None, [ctypes.c_void_p, p]
    lib.fann_get_num_output.restype, lib.fann_get_num_output.argtypes = ctypes.c_uint, [ctypes.c_void_p]
    lib.fann_destroy.restype, lib.fann_destroy.argtypes = None, [ctypes.c_void_p]
    return lib


def fann_outputs(lib, path, X, *, scale_input):
    """libfann's outputs for the rows of X: fann_scale_input (the file's scale
    block) when asked, then fann_run."""
    ann = lib.fann_create_from_file(str(path).encode())
    assert ann, f"libfann could not read {path}"
    try:
        n_out = lib.fann_get_num_output(ann)
        rows = []
        for x in X:
            x = np.array(x, dtype=np.float64)
            pointer = x.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
            if scale_input:
                lib.fann_scale_input(ann, pointer)
            out = lib.fann_run(ann, pointer)
            rows.append([out[k] for k in range(n_out)])
        return np.array(rows)
    finally:
        lib.fann_destroy(ann)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_an_exported_net_file_runs_in_libfann_like_predict(folder, libfann, activation):
    """The standardisation goes into FANN's scale block: fann_scale_input then
    fann_run on the raw inputs gives what bpcore predict gives."""
    model = train_model(folder, f"reg-{activation}.npz", "reg.csv", "y", "--activation", activation,
                        "--output-activation", "sigmoid")
    result = ok(run_cli("export", model.name, f"reg-{activation}.net", cwd=folder))
    assert "scale block" in result.stderr
    X = raw_inputs(folder)
    _, rows = predictions(folder, model.name)
    expected = np.array(rows, dtype=np.float64)
    # libfann keeps the scale parameters in float32, so its scaled inputs are
    # float32-close to bpcore's; the network itself runs as in bpcore, to 1e-12,
    # on inputs standardised in float64.
    scaled = fann_outputs(libfann, folder / f"reg-{activation}.net", X, scale_input=True)
    _, metadata = bpcore.model_io.load_with_metadata(model)
    standardised = (X - metadata["input_mean"]) / metadata["input_scale"]
    exact = fann_outputs(libfann, folder / f"reg-{activation}.net", standardised, scale_input=False)
    worst_scaled, worst_exact = np.max(np.abs(scaled - expected)), np.max(np.abs(exact - expected))
    print(f"\nbpcore export -> libfann ({activation}): largest difference from bpcore predict "
          f"{worst_scaled:.3g} with fann_scale_input, {worst_exact:.3g} on float64-standardised inputs")
    assert worst_scaled <= 1e-6
    assert worst_exact <= 1e-12


def test_import_of_an_exported_file_gives_the_model_back_bit_for_bit(folder):
    model = train_model(folder, "round.npz", "reg.csv", "y", "--activation", "tanh")
    ok(run_cli("export", "round.npz", "round.net", cwd=folder))
    result = ok(run_cli("import", "round.net", "back.npz", cwd=folder))
    assert "scale block became the input standardisation" in result.stderr
    (a, meta_a), (b, meta_b) = (bpcore.model_io.load_with_metadata(folder / n) for n in ("round.npz", "back.npz"))
    np.testing.assert_array_equal(a.params_vector(), b.params_vector())
    np.testing.assert_array_equal(meta_a["input_mean"], meta_b["input_mean"])
    np.testing.assert_array_equal(meta_a["input_scale"], meta_b["input_scale"])
    assert (b.activation, b.output_activation) == (a.activation, a.output_activation)
    # predict on the imported model takes the columns in order and gives the same values
    _, original = predictions(folder, model.name)
    _, imported = predictions(folder, "back.npz")
    assert original == imported


def test_an_imported_libfann_file_predicts_what_libfann_runs(folder, libfann):
    """A .net file written by bpcore.fann.save with a FANN scale block of
    FANN's own kind (new range [-1, 1] scaled by a factor, as
    fann_set_scaling_params makes): bpcore predict on the imported model equals
    fann_scale_input + fann_run."""
    net = bpcore.Network((4, 6, 2), activation="tanh", output_activation="sigmoid", init_scale=1.0, seed=3)
    X = raw_inputs(folder)
    mean, deviation = X.mean(0), X.std(0)
    lo, hi = -1.0, 1.0
    factor = (hi - lo) / 2.0 * np.array([0.5, 1.0, 2.0, 1.0])
    ones = np.ones(2)
    scale = bpcore.fann.FannScale(mean, deviation, np.full(4, -0.5), factor, 0 * ones, ones, -ones, ones)
    bpcore.fann.save(net, folder / "fann.net", scale=scale)
    ok(run_cli("import", "fann.net", "fann.npz", cwd=folder))
    _, rows = predictions(folder, "fann.npz")
    got = np.array(rows, dtype=np.float64)
    expected = fann_outputs(libfann, folder / "fann.net", X, scale_input=True)
    worst = np.max(np.abs(got - expected))
    print(f"\nlibfann file -> bpcore import: largest difference from libfann {worst:.3g}")
    # libfann holds the scale parameters in float32 (FannScale's docstring)
    assert worst <= 1e-6


# ------------------------------------------------------------------ bad input
def refused(folder, *args, message, out):
    before = sorted(os.listdir(folder))
    result = run_cli(*args, cwd=folder)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (folder / out).exists() or out in before
    return result


def test_export_and_import_refuse_bad_input_with_exit_2(folder):
    train_model(folder, "bad-src.npz", "cls.csv", "label")  # softmax outputs: FANN has none
    (folder / "junk.npz").write_bytes(b"not a model")
    (folder / "junk.net").write_text("FANN_FLO_2.1\nnum_layers=x\n")
    refused(folder, "export", "missing.npz", "x.onnx", message="missing.npz", out="x.onnx")
    refused(folder, "export", "junk.npz", "x.onnx", message="junk.npz", out="x.onnx")
    refused(folder, "export", "bad-src.npz", "x.txt", message="unknown format .txt", out="x.txt")
    refused(folder, "export", "bad-src.npz", "x", message="unknown format (no suffix)", out="x")
    refused(folder, "export", "bad-src.npz", "x.net", message="cannot hold softmax output units", out="x.net")
    refused(folder, "export", "bad-src.npz", "nowhere/x.onnx", message="does not exist", out="nowhere/x.onnx")
    (folder / "bad-src.onnx").mkdir()
    refused(folder, "export", "bad-src.npz", "bad-src.onnx", message="is a directory", out="bad-src.onnx")
    refused(folder, "import", "missing.net", "x.npz", message="missing.net", out="x.npz")
    refused(folder, "import", "junk.net", "x.npz", message="junk.net", out="x.npz")
    refused(folder, "import", "junk.net", "x.csv", message="a bpcore model file ends in .npz", out="x.csv")


def test_import_refuses_a_scale_block_that_rescales_the_outputs(folder):
    net = bpcore.Network((4, 3, 1), activation="tanh", output_activation="identity", seed=1)
    one, four = np.ones(1), np.ones(4)
    scale = bpcore.fann.FannScale(0 * four, four, -four, four, one * 3.0, one * 2.0, -one, one)
    bpcore.fann.save(net, folder / "rescaled.net", scale=scale)
    refused(folder, "import", "rescaled.net", "rescaled.npz", message="rescales the outputs", out="rescaled.npz")
