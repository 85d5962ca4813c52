"""The ``bpcore`` command, run as a user runs it: ``python -m bpcore …`` in a
subprocess, checking exit status, standard output/error and files written."""

import concurrent.futures
import csv
import json
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

import bpcore
from bpcore import _compare, cli, datasets

# Table 2 of the lecture (§7), as printed there: (row label in the trace,
# column, value). Columns of the weight rows: old, change, new.
TABLE_2 = [
    ("w 1→4", "new", "0.192"), ("w 1→4", "change", "-0.008"),
    ("w 2→4", "new", "0.400"), ("w 2→4", "change", "0.000"),
    ("w 3→4", "new", "-0.508"), ("w 3→4", "change", "-0.008"),
    ("w 1→5", "new", "-0.306"), ("w 1→5", "change", "-0.006"),
    ("w 2→5", "new", "0.100"), ("w 2→5", "change", "0.000"),
    ("w 3→5", "new", "0.194"), ("w 3→5", "change", "-0.006"),
    ("w 4→6", "new", "-0.261"), ("w 4→6", "change", "+0.039"),
    ("w 5→6", "new", "-0.138"), ("w 5→6", "change", "+0.062"),
    ("b_4", "new", "-0.408"), ("b_4", "change", "-0.008"),
    ("b_5", "new", "0.194"), ("b_5", "change", "-0.006"),
    ("b_6", "new", "0.218"), ("b_6", "change", "+0.118"),
    ("o_6", "before", "0.474"), ("o_6", "after", "0.515"), ("o_6", "change", "+0.041"),
    ("|t−o_6|", "before", "0.526"), ("|t−o_6|", "after", "0.485"), ("|t−o_6|", "change", "-0.041"),
]
# The lecture's intermediate values (§7): o_j of the forward pass and δ_j.
FORWARD = {4: "0.332", 5: "0.525", 6: "0.474"}
DELTAS = {6: "0.1311", 5: "-0.0065", 4: "-0.0087"}


def run_cli(*args, cwd=None):
    """``python -m bpcore ARGS`` as a user would run it (no terminal attached)."""
    return subprocess.run(
        [sys.executable, "-m", "bpcore", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, encoding="utf-8", timeout=300, check=False,
    )


def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _close_to_lecture(value, printed):
    """``value`` agrees with a number the lecture printed with d decimals to
    within one unit of the d-th decimal (the lecture rounds intermediate values)."""
    decimals = len(printed.split(".")[1])
    return abs(value - float(printed)) <= 10.0 ** -decimals


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A folder of CSV files: the digits split into train/test (raw pixel
    counts, as a user would have them), blobs with named classes, a
    regression problem, and broken files."""
    folder = tmp_path_factory.mktemp("cli")
    X, y = datasets.load_digits()
    X_train, X_test, y_train, y_test = datasets.train_test_split(X * 16, y, test_fraction=0.25, seed=1)
    header = [f"pixel{i}" for i in range(64)] + ["digit"]
    for name, images, labels in (("train.csv", X_train, y_train), ("test.csv", X_test, y_test)):
        _write_csv(folder / name, header, [[*map(int, x), label] for x, label in zip(images, labels)])
    Xb, yb = datasets.make_blobs(40, 3, seed=0)
    names = ["north", "south", "west"]
    _write_csv(folder / "blobs.csv", ["x", "y", "kind"], [[*x, names[c]] for x, c in zip(Xb, yb)])
    rng = np.random.default_rng(0)
    Xr = rng.normal(size=(300, 3))
    Yr = np.c_[Xr.sum(axis=1), Xr[:, 0] - 2 * Xr[:, 1]]
    _write_csv(folder / "regression.csv", ["a", "b", "c", "y1", "y2"], np.c_[Xr, Yr].tolist())
    broken = {
        "ragged.csv": "a,b,label\n1,2,x\n3,4\n",
        "header_only.csv": "a,b,label\n",
        "empty.csv": "",
        "no_header.csv": "1,2,3\n4,5,6\n",
        "duplicate.csv": "a,a,label\n1,2,x\n",
        "text_input.csv": "a,b,label\n1,2,x\n3,zz,y\n",
        "missing_input.csv": "a,b,label\n1,2,x\n3,,y\n",
        "nan_input.csv": "a,b,label\n1,2,x\n3,nan,y\n",
        "missing_label.csv": "a,b,label\n1,2,x\n3,4,\n",
        "one_class.csv": "a,b,label\n1,2,x\n3,4,x\n",
        "not_json.json": "{weights: [}",
        "spec_missing.json": json.dumps({"weights": [[[1.0]]], "biases": [[0.0]]}),
        "spec_shapes.json": json.dumps({**cli.LECTURE_EXAMPLE, "weights": [[[0.2, 0.4, -0.5]], [[-0.3, -0.2]]]}),
        "spec_lr.json": json.dumps({**cli.LECTURE_EXAMPLE, "learning_rate": -1}),
        "spec_input.json": json.dumps({**cli.LECTURE_EXAMPLE, "input": [1, 0]}),
        "spec_softmax.json": json.dumps({**cli.LECTURE_EXAMPLE, "weights": [[[0.2, 0.4, -0.5]], [[-0.3], [0.2]]],
                                         "biases": [[0.1], [0.0, 0.0]], "target": [1, 0],
                                         "output_activation": "softmax"}),
    }
    for name, text in broken.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "binary.csv").write_bytes(b"\x00\xff\xfe\x89PNG\x93")
    (folder / "model.pkl").write_bytes(pickle.dumps(bpcore.Network((2, 1), seed=0)))
    np.savez(folder / "other.npz", a=np.zeros(3))
    bpcore.Network((3, 3, 1), seed=0).save(folder / "python_model.npz")
    (folder / "two_columns.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    two_inputs = bpcore.Network((2, 1), seed=0)
    bpcore.model_io.save(two_inputs, folder / "bad_names.npz",
                         metadata={"inputs": ["a"], "targets": ["y"], "classes": None})
    bpcore.model_io.save(two_inputs, folder / "bad_scale.npz",
                         metadata={"inputs": ["a", "b"], "targets": ["y"], "classes": None,
                                   "input_mean": 3, "input_scale": np.ones(2)})
    (folder / "deep.json").write_text("[" * 100000, encoding="utf-8")
    (folder / "truncated.npz").write_bytes((folder / "python_model.npz").read_bytes()[:300])
    return folder


@pytest.fixture(scope="module")
def digits_model(files):
    """``bpcore train`` on the digits training file: (result, model path)."""
    model = files / "digits.npz"
    result = run_cli(
        "train", "train.csv", "--target", "digit", "--classify", "--hidden", "32", "--epochs", "20",
        "--val-split", "0.2", "--patience", "5", "--out", model, cwd=files,
    )
    return result, model


# ------------------------------------------------------------------ version and help
def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith(f"bpcore {bpcore.__version__} (kernels: {bpcore.kernel_variant})")


@pytest.mark.parametrize("command", [None, "compare", "train", "predict", "trace"])
def test_help_has_an_example(command):
    result = run_cli(*([command] if command else []), "--help")
    assert result.returncode == 0
    assert "example:" in result.stdout
    assert f"bpcore {command or 'compare'}" in result.stdout.split("example:")[1]


# ------------------------------------------------------------------ compare
def test_no_arguments_runs_the_comparison_and_the_trainers_agree():
    result = run_cli()
    assert result.returncode == 0, result.stderr
    assert "running 'bpcore compare'" in result.stderr
    out = result.stdout
    assert "64-16-10" in out and "digits: 1797 examples" in out and "3 epochs" in out
    rows = re.findall(r"^\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)$", out, flags=re.MULTILINE)
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    for _, reference, compiled, _ in rows:
        assert abs(float(reference) - float(compiled)) <= 1e-9 * float(reference)
    difference = float(re.search(r"largest weight difference\s+(\S+)", out).group(1))
    assert difference <= 1e-12
    assert "AGREE" in out and "DISAGREE" not in out
    speedup = re.search(r"the compiled trainer is (\d+)× faster than the reference", out)
    assert speedup is not None and int(speedup.group(1)) > 0
    assert re.search(r"^reference\s+\S+ [µm]s\s+[\d,]+\s+\d+× faster$", out, flags=re.MULTILINE)


def test_compare_json_float32_and_options():
    result = run_cli("compare", "--examples", "120", "--epochs", "2", "--dtype", "float32",
                     "--hidden", "8,6", "--lr", "0.3", "--seed", "4", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["architecture"] == [64, 8, 6, 10]
    assert (report["dtype"], report["epochs"], report["learning_rate"], report["seed"]) == ("float32", 2, 0.3, 4)
    assert report["data"]["name"] == "digits" and report["data"]["examples"] == 120
    assert len(report["train_error"]["reference"]) == len(report["train_error"]["compiled"]) == 2
    np.testing.assert_allclose(report["train_error"]["compiled"], report["train_error"]["reference"], rtol=1e-5)
    assert report["agree"] is True and report["tolerance"] == 1e-4
    assert 0 <= report["max_weight_difference"] <= 1e-4
    assert report["time_per_example_s"]["reference"] > 0 and report["speedup"] > 0
    assert "peers" not in report


def test_compare_on_a_csv_file(files):
    result = run_cli("compare", "--csv", "blobs.csv", "--target", "kind", "--epochs", "2", "--hidden", "4",
                     cwd=files)
    assert result.returncode == 0, result.stderr
    assert "blobs.csv: 120 examples, 2 inputs, 3 outputs" in result.stdout
    assert "3 classes one-hot" in result.stdout and "AGREE" in result.stdout


def test_compare_plot(tmp_path):
    plot = tmp_path / "curves.png"
    result = run_cli("compare", "--examples", "50", "--epochs", "2", "--plot", plot)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert result.returncode == 2
        assert "--plot needs matplotlib" in result.stderr
        assert not plot.exists()
    else:
        assert result.returncode == 0, result.stderr
        assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert os.listdir(tmp_path) == (["curves.png"] if plot.exists() else [])


@pytest.mark.slow
def test_compare_peers():
    result = run_cli("compare", "--examples", "40", "--epochs", "1", "--peers", "--json")
    assert result.returncode == 0, result.stderr
    peers = {peer["name"]: peer for peer in json.loads(result.stdout)["peers"]}
    assert set(peers) == {"PyTorch", "scikit-learn"}
    for name, module in (("PyTorch", "torch"), ("scikit-learn", "sklearn")):
        try:
            __import__(module)
        except ImportError:
            assert peers[name] == {"name": name, "available": False, "note": "not installed"}
        else:
            assert peers[name]["available"] and peers[name]["time_per_example_s"] > 0
    if peers["PyTorch"]["available"]:
        # same start, same order, same arithmetic: PyTorch lands on the same weights
        assert peers["PyTorch"]["max_weight_difference"] <= 1e-12


def test_compare_exits_1_when_the_trainers_disagree(monkeypatch, capsys):
    monkeypatch.setitem(_compare.TOLERANCE, "float64", -1.0)
    assert cli.main(["compare", "--examples", "20", "--epochs", "1"]) == 1
    assert "DISAGREE" in capsys.readouterr().out


# ------------------------------------------------------------------ train and predict
def test_train_then_predict_digits(files, digits_model, tmp_path):
    result, model = digits_model
    assert result.returncode == 0, result.stderr
    assert "64-32-10" in result.stdout and "softmax outputs" in result.stdout
    assert "10 classes" in result.stdout and "stop reason" in result.stdout
    assert "validation" in result.stdout and f"saved to {model}" in result.stdout
    predictions = tmp_path / "predictions.csv"
    result = run_cli("predict", model, "test.csv", "--out", predictions, cwd=files)
    assert result.returncode == 0, result.stderr
    header, rows = _read_csv(predictions)
    assert header == ["digit", *(f"prob_{d}" for d in range(10))]
    _, truth = _read_csv(files / "test.csv")
    assert len(rows) == len(truth) == 449
    accuracy = np.mean([row[0] == t[-1] for row, t in zip(rows, truth)])
    assert accuracy >= 0.90
    probabilities = np.array([row[1:] for row in rows], dtype=float)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    assert [str(k) for k in probabilities.argmax(axis=1)] == [row[0] for row in rows]
    reported = re.search(r"accuracy (\d+\.\d)% against its column 'digit'", result.stderr)
    assert reported and float(reported.group(1)) == pytest.approx(100 * accuracy, abs=0.05)


def test_model_from_train_stores_columns_classes_and_standardisation(digits_model):
    _, model = digits_model
    net, metadata = bpcore.model_io.load_with_metadata(model)
    assert net.layer_sizes == (64, 32, 10)
    assert metadata["inputs"] == [f"pixel{i}" for i in range(64)]
    assert metadata["targets"] == ["digit"]
    assert metadata["classes"] == [str(d) for d in range(10)]
    assert metadata["input_mean"].shape == metadata["input_scale"].shape == (64,)
    assert (metadata["input_scale"] > 0).all()


def test_predict_to_standard_output_ignores_extra_columns(files, digits_model):
    _, model = digits_model
    result = run_cli("predict", model, "train.csv", cwd=files)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("digit,prob_0,")
    assert len(lines) == 1 + 1348
    assert "predicted 1348 rows" in result.stderr


def test_predict_into_a_closed_pipe_stops_quietly(files, digits_model):
    """``bpcore predict model data.csv | head -1``: no error message, no traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bpcore", "predict", digits_model[1], "train.csv"],
        cwd=files, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stdout.readline().startswith(b"digit,prob_0,")
    process.stdout.close()
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 1
    assert stderr == b""


def test_train_with_named_classes(files, tmp_path):
    model, out = tmp_path / "blobs.npz", tmp_path / "p.csv"
    result = run_cli("train", "blobs.csv", "--target", "kind", "--hidden", "6", "--epochs", "30",
                     "--out", model, cwd=files)
    assert result.returncode == 0, result.stderr
    assert "3 classes" in result.stdout
    accuracy = float(re.search(r"accuracy\s+training (\d+\.\d)%", result.stdout).group(1))
    assert accuracy >= 95.0
    assert run_cli("predict", model, "blobs.csv", "--out", out, cwd=files).returncode == 0
    header, rows = _read_csv(out)
    assert header == ["kind", "prob_north", "prob_south", "prob_west"]
    assert {row[0] for row in rows} == {"north", "south", "west"}


def test_train_with_a_schedule_nguyen_widrow_and_bit_fail(files, tmp_path):
    """--lr-schedule, --init nguyen_widrow and the bit-fail options (issue 14):
    the rates are scikit-learn's invscaling rule, the bit-fail stop ends the
    run, and the start is FANN's Nguyen–Widrow scaled to the standardised
    training inputs."""
    model = tmp_path / "blobs.npz"
    result = run_cli("train", "blobs.csv", "--target", "kind", "--hidden", "6", "--epochs", "200",
                     "--lr", "0.5", "--lr-schedule", "invscaling", "--power-t", "0.25", "--init", "nguyen_widrow",
                     "--activation", "tanh", "--bit-fail-limit", "0.4", "--target-bit-fail", "0",
                     "--out", model, cwd=files)
    assert result.returncode == 0, result.stderr
    epochs = int(re.search(r"epochs run\s+(\d+) \(stop reason: target_bit_fail\)", result.stdout).group(1))
    assert 1 < epochs < 200
    last = float(re.search(rf"learning rate 0.5 in epoch 1, (\S+) in epoch {epochs} \(invscaling\)",
                           result.stdout).group(1))
    header, rows = _read_csv(files / "blobs.csv")
    assert last == pytest.approx(0.5 / ((epochs - 1) * len(rows) + 1) ** 0.25, rel=1e-5)
    assert re.search(rf"bit fail\s+0 of {3 * len(rows)} outputs with \|t - o\| >= 0.4 after the last epoch",
                     result.stdout)
    # The start is Python's Nguyen–Widrow network for the standardised rows' range
    # (a learning rate of 1e-300 leaves every weight as it was).
    untrained = run_cli("train", "blobs.csv", "--target", "kind", "--hidden", "6", "--epochs", "1",
                        "--lr", "1e-300", "--init", "nguyen_widrow", "--activation", "tanh", "--out", model,
                        cwd=files)
    assert untrained.returncode == 0, untrained.stderr
    X = np.array([row[:2] for row in rows], dtype=float)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    start = bpcore.Network((2, 6, 3), activation="tanh", output_activation="softmax", init="nguyen_widrow",
                           input_range=(X.min(), X.max()), seed=0)
    np.testing.assert_allclose(bpcore.load(model).params_vector(), start.params_vector(), rtol=1e-15, atol=0)
    adaptive = run_cli("train", "blobs.csv", "--target", "kind", "--hidden", "6", "--epochs", "400",
                       "--lr-schedule", "adaptive", "--tol", "10", "--n-iter-no-change", "1", "--out", model,
                       cwd=files)
    assert adaptive.returncode == 0, adaptive.stderr
    assert "(stop reason: no_improvement)" in adaptive.stdout
    assert re.search(r"learning rate 0.1 in epoch 1, \S+ in epoch \d+ \(adaptive\)", adaptive.stdout)


def test_train_regression_with_two_targets(files, tmp_path):
    model, out = tmp_path / "reg.npz", tmp_path / "p.csv"
    result = run_cli("train", "regression.csv", "--target", "y1,y2", "--hidden", "16", "--epochs", "60",
                     "--lr", "0.05", "--momentum", "0.5", "--no-standardize", "--out", model, cwd=files)
    assert result.returncode == 0, result.stderr
    assert "identity outputs, squared_error loss" in result.stdout
    assert "accuracy" not in result.stdout and "standardised" not in result.stdout
    assert run_cli("predict", model, "regression.csv", "--out", out, cwd=files).returncode == 0
    header, rows = _read_csv(out)
    assert header == ["y1", "y2"]
    _, data = _read_csv(files / "regression.csv")
    targets = np.array([row[3:] for row in data], dtype=float)
    predicted = np.array(rows, dtype=float)
    residual = np.mean((predicted - targets) ** 2, axis=0)
    assert (residual < 0.05 * targets.var(axis=0)).all()


def test_predict_with_a_model_saved_from_python(files, tmp_path):
    net = bpcore.Network((3, 4, 2), seed=1, output_activation="identity")
    net.save(tmp_path / "m.npz")
    data = tmp_path / "d.csv"
    X = np.random.default_rng(0).normal(size=(5, 3))
    _write_csv(data, ["u", "v", "w"], X.tolist())
    result = run_cli("predict", tmp_path / "m.npz", data)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "output_1,output_2"
    np.testing.assert_array_equal(np.array([line.split(",") for line in lines[1:]], dtype=float), net.predict(X))


def test_training_that_diverges_exits_1_and_writes_nothing(files, tmp_path):
    model = tmp_path / "m.npz"
    result = run_cli("train", "regression.csv", "--target", "y1,y2", "--lr", "100", "--out", model, cwd=files)
    assert result.returncode == 1
    assert "diverged" in result.stderr and "Traceback" not in result.stderr
    assert os.listdir(tmp_path) == []


def test_interrupted_training_exits_130_and_writes_nothing(files, tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "train", interrupted)
    monkeypatch.chdir(files)
    model = tmp_path / "m.npz"
    assert cli.main(["train", "blobs.csv", "--target", "kind", "--out", str(model)]) == 130
    assert capsys.readouterr().err == "bpcore train: interrupted; nothing was written\n"
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ trace
def _trace_table(text):
    """{(row label, column): value} from the trace's tables."""
    values = {}
    section = None
    for line in text.splitlines():
        if line.startswith(("Forward pass", "Backward pass", "Weight updates")):
            section = line.split()[0]
            continue
        match = re.match(r"^\s*(w \d+→\d+|b_\d+|o_\d+|\|t−o_\d+\||E|\d+)\s+(-?[\d.e+-]+(?:\s+-?[\d.e+-]+)*)$", line)
        if not match:
            continue
        label, numbers = match.group(1), [float(v) for v in match.group(2).split()]
        if section == "Forward" and label.isdigit():
            values[(int(label), "o")] = numbers[1]
        elif section == "Backward" and label.isdigit():
            values[(int(label), "delta")] = numbers[0]
        elif not label.isdigit():
            columns = ("old", "change", "new") if label[0] in "wb" else ("before", "after", "change")
            values.update({(label, column): v for column, v in zip(columns, numbers)})
    return values


def test_trace_prints_the_lectures_table_2():
    result = run_cli("trace")
    assert result.returncode == 0, result.stderr
    table = _trace_table(result.stdout)
    for unit, printed in FORWARD.items():
        assert _close_to_lecture(table[(unit, "o")], printed), (unit, table[(unit, "o")], printed)
    for unit, printed in DELTAS.items():
        assert _close_to_lecture(table[(unit, "delta")], printed), (unit, table[(unit, "delta")], printed)
    for label, column, printed in TABLE_2:
        assert _close_to_lecture(table[(label, column)], printed), (label, column, table[(label, column)], printed)


def test_trace_of_a_spec_file(files, tmp_path):
    spec = tmp_path / "lecture.json"
    spec.write_text(json.dumps(cli.LECTURE_EXAMPLE), encoding="utf-8")
    from_file = run_cli("trace", "--network", spec)
    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout in run_cli("trace").stdout  # the same step, without the heading

    other = tmp_path / "other.json"
    other.write_text(json.dumps({
        "weights": [[[0.1, -0.2], [0.3, 0.4]], [[0.5, -0.6], [0.7, 0.8]]],
        "biases": [[0.0, 0.1], [-0.1, 0.2]],
        "input": [1.0, 2.0], "target": [0.0, 1.0], "learning_rate": 0.5, "activation": "tanh",
    }), encoding="utf-8")
    result = run_cli("trace", "--network", other)
    assert result.returncode == 0, result.stderr
    table = _trace_table(result.stdout)
    assert {("w 1→3", "old"), ("w 4→6", "new"), ("b_6", "change"), ("o_5", "after")} <= set(table)
    net = bpcore.Network.from_arrays([np.array([[0.1, -0.2], [0.3, 0.4]]), np.array([[0.5, -0.6], [0.7, 0.8]])],
                                     [np.array([0.0, 0.1]), np.array([-0.1, 0.2])], activation="tanh")
    expected = bpcore.trace_step(net, [1.0, 2.0], [0.0, 1.0], 0.5).layers[1].weight_new[1, 0]
    assert table[("w 3→6", "new")] == pytest.approx(expected, rel=1e-4)


# ------------------------------------------------------------------ bad input
BAD_INPUT = {
    # train: files
    "missing file": (["train", "nope.csv", "--target", "label", "--out", "{out}"],
     "nope.csv: No such file or directory"),
    "unknown column": (["train", "train.csv", "--target", "label", "--out", "{out}"],
     "train.csv has no column 'label' (its columns: pixel0"),
    "text input column": (["train", "text_input.csv", "--target", "label", "--out", "{out}"],
     "text_input.csv, line 3: column 'b' is not numeric (value 'zz')"),
    "missing input value": (["train", "missing_input.csv", "--target", "label", "--out", "{out}"],
     "line 3: column 'b' has no value"),
    "nan input": (["train", "nan_input.csv", "--target", "label", "--out", "{out}"],
     "column 'b' is not a finite number (value 'nan')"),
    "missing label": (["train", "missing_label.csv", "--target", "label", "--out", "{out}"],
     "line 3: column 'label' has no value"),
    "ragged rows": (["train", "ragged.csv", "--target", "label", "--out", "{out}"],
     "ragged.csv, line 3: 2 fields, but the header has 3 columns"),
    "no rows": (["train", "header_only.csv", "--target", "label", "--out", "{out}"],
     "header_only.csv has a header but no data rows"),
    "empty file": (["train", "empty.csv", "--target", "label", "--out", "{out}"], "empty.csv is empty"),
    "no header": (["train", "no_header.csv", "--target", "3", "--out", "{out}"],
     "needs a header row of column names"),
    "duplicate column": (["train", "duplicate.csv", "--target", "label", "--out", "{out}"],
     "names column 'a' twice"),
    "binary file": (["train", "binary.csv", "--target", "label", "--out", "{out}"],
     "binary.csv is not a UTF-8 text (CSV) file"),
    "one class": (["train", "one_class.csv", "--target", "label", "--out", "{out}"],
     "holds a single class, 'x'"),
    "several class columns": (["train", "blobs.csv", "--target", "kind,x", "--out", "{out}"],
     "classification takes one --target column"),
    "no inputs left": (["train", "blobs.csv", "--target", "x,y,kind", "--out", "{out}"],
     "no input columns"),
    # train: options
    "out directory missing": (["train", "blobs.csv", "--target", "kind", "--out", "{tmp}/no/m.npz"],
     "the directory"),
    "out overwrites data": (["train", "blobs.csv", "--target", "kind", "--out", "blobs.csv"],
     "would overwrite an input file"),
    "patience alone": (["train", "blobs.csv", "--target", "kind", "--patience", "3", "--out", "{out}"],
     "--patience needs --val-split"),
    "negative lr": (["train", "blobs.csv", "--target", "kind", "--lr", "-1", "--out", "{out}"],
     "learning_rate must be"),
    "bad hidden": (["train", "blobs.csv", "--target", "kind", "--hidden", "8,x", "--out", "{out}"],
     "argument --hidden"),
    "bad val split": (["train", "blobs.csv", "--target", "kind", "--val-split", "1.5", "--out", "{out}"],
     "argument --val-split"),
    "no target": (["train", "blobs.csv", "--out", "{out}"],
     "the following arguments are required: --target"),
    "bad loss pair": (["train", "blobs.csv", "--target", "kind", "--loss", "squared_error", "--out", "{out}"],
     "does not go with output_activation='softmax'"),
    "unknown command": (["fit", "blobs.csv"], "invalid choice: 'fit'"),
    # predict
    "csv as model": (["predict", "blobs.csv", "blobs.csv", "--out", "{out}"],
     "blobs.csv: not a bpcore model"),
    "pickle as model": (["predict", "model.pkl", "blobs.csv", "--out", "{out}"],
     "looks like a Python pickle"),
    "npz that is no model": (["predict", "other.npz", "blobs.csv", "--out", "{out}"],
     "other.npz: not a bpcore model: the archive has no 'header' entry"),
    "truncated model": (["predict", "truncated.npz", "blobs.csv", "--out", "{out}"],
     "truncated.npz: the archive cannot be read"),
    "missing model": (["predict", "nope.npz", "blobs.csv", "--out", "{out}"],
     "nope.npz: No such file or directory"),
    "columns do not match": (["predict", "{model}", "blobs.csv", "--out", "{out}"],
     "blobs.csv does not match the model"),
    "column count mismatch": (["predict", "python_model.npz", "two_columns.csv", "--out", "{out}"],
     "two_columns.csv has 2 columns but the model"),
    "text in predict input": (["predict", "python_model.npz", "text_input.csv", "--out", "{out}"],
     "line 2: column 'label' is not numeric (value 'x')"),
    "predict ragged": (["predict", "python_model.npz", "ragged.csv", "--out", "{out}"],
     "2 fields, but the header has 3"),
    "model names do not fit": (["predict", "bad_names.npz", "two_columns.csv", "--out", "{out}"],
     "bad_names.npz: the model's input column names do not fit its 2-1 network"),
    "model scaling does not fit": (["predict", "bad_scale.npz", "two_columns.csv", "--out", "{out}"],
     "the model's input standardisation arrays do not fit"),
    # trace
    "spec too deep": (["trace", "--network", "deep.json"], "deep.json is not a JSON file"),
    "missing spec": (["trace", "--network", "nope.json"], "nope.json: No such file or directory"),
    "spec not json": (["trace", "--network", "not_json.json"], "not_json.json is not a JSON file"),
    "spec missing keys": (["trace", "--network", "spec_missing.json"],
     "missing input, target, learning_rate"),
    "spec shapes": (["trace", "--network", "spec_shapes.json"],
     "spec_shapes.json: weights do not chain"),
    "spec learning rate": (["trace", "--network", "spec_lr.json"],
     "spec_lr.json: learning_rate must be"),
    "spec input": (["trace", "--network", "spec_input.json"], "spec_input.json: x has 2 columns"),
    "spec softmax": (["trace", "--network", "spec_softmax.json"],
     "spec_softmax.json: loss='squared_error' does not go with output_activation='softmax'"),
    "steps zero": (["trace", "--steps", "0"], "argument --steps: expected a whole number >= 1; got '0'"),
    "steps negative": (["trace", "--steps", "-3"], "argument --steps: expected a whole number >= 1; got '-3'"),
    "digits zero": (["trace", "--digits", "0"], "argument --digits: expected a whole number from 1 to 17"),
    "trace plot directory missing": (["trace", "--plot", "{tmp}/no/step.svg"], "the directory"),
    "trace plot unknown extension": (["trace", "--steps", "3", "--plot", "{tmp}/step.gif"],
     "--plot {tmp}/step.gif: unknown picture format .gif; use .svg or .png"),
    "trace plot no extension": (["trace", "--plot", "{tmp}/step"], "unknown picture format (no extension)"),
    # train --plot
    "train plot unknown extension": (["train", "blobs.csv", "--target", "kind", "--out", "{out}",
                                      "--plot", "{tmp}/curves.jpeg"], "unknown picture format .jpeg; use .png or .svg"),
    "train plot directory missing": (["train", "blobs.csv", "--target", "kind", "--out", "{out}",
                                      "--plot", "{tmp}/no/curves.png"], "the directory"),
    "train plot is the model": (["train", "blobs.csv", "--target", "kind", "--out", "{out}", "--plot", "{out}"],
     "unknown picture format .file"),
    # train: schedules, Nguyen–Widrow, bit fail (issue 14)
    "unknown schedule": (["train", "blobs.csv", "--target", "kind", "--out", "{out}", "--lr-schedule", "cyclic"],
     "argument --lr-schedule: invalid choice: 'cyclic'"),
    "power-t without invscaling": (["train", "blobs.csv", "--target", "kind", "--out", "{out}",
                                    "--power-t", "0.3"], "--power-t needs --lr-schedule invscaling"),
    "power-t negative": (["train", "blobs.csv", "--target", "kind", "--out", "{out}", "--lr-schedule",
                          "invscaling", "--power-t", "-1"], "argument --power-t: expected a number >= 0; got '-1'"),
    "tol without adaptive": (["train", "blobs.csv", "--target", "kind", "--out", "{out}", "--lr-schedule",
                              "invscaling", "--tol", "0.1"], "--tol needs --lr-schedule adaptive"),
    "tol nan": (["train", "blobs.csv", "--target", "kind", "--out", "{out}", "--lr-schedule", "adaptive",
                 "--tol", "nan"], "argument --tol: expected a number >= 0; got 'nan'"),
    "n-iter-no-change zero": (["train", "blobs.csv", "--target", "kind", "--out", "{out}", "--lr-schedule",
                               "adaptive", "--n-iter-no-change", "0"], "argument --n-iter-no-change"),
    "bit-fail-limit zero": (["train", "blobs.csv", "--target", "kind", "--out", "{out}", "--bit-fail-limit", "0"],
     "argument --bit-fail-limit: expected a number > 0; got '0'"),
    "target-bit-fail alone": (["train", "blobs.csv", "--target", "kind", "--out", "{out}", "--target-bit-fail",
                               "3"], "--target-bit-fail needs --bit-fail-limit"),
    "target-bit-fail negative": (["train", "blobs.csv", "--target", "kind", "--out", "{out}", "--bit-fail-limit",
                                  "0.3", "--target-bit-fail", "-1"], "argument --target-bit-fail"),
    "nguyen_widrow relu": (["train", "blobs.csv", "--target", "kind", "--out", "{out}", "--init", "nguyen_widrow",
                            "--activation", "relu"], "init='nguyen_widrow' is for sigmoid and tanh hidden units"),
    "nguyen_widrow no hidden": (["train", "blobs.csv", "--target", "kind", "--out", "{out}", "--init",
                                 "nguyen_widrow", "--hidden", "none"], "needs at least one hidden layer"),
    # datasets
    "datasets unknown": (["datasets", "iris", "--out", "{out}"], "invalid choice: 'iris'"),
    "datasets out directory missing": (["datasets", "digits", "--out", "{tmp}/no/d.csv"], "the directory"),
    "datasets fraction alone": (["datasets", "digits", "--out", "{out}", "--test-fraction", "0.3"],
     "--test-fraction needs --test-out"),
    "datasets bad fraction": (["datasets", "digits", "--out", "{out}", "--test-out", "{tmp}/t.csv",
                               "--test-fraction", "1"], "argument --test-fraction"),
    # compare
    "compare plot unknown extension": (["compare", "--plot", "{tmp}/curves.svg"],
     "unknown picture format .svg; use .png"),
    "csv without target": (["compare", "--csv", "blobs.csv"], "--csv and --target go together"),
    "plot directory missing": (["compare", "--plot", "{tmp}/no/p.png"], "the directory"),
    "zero examples": (["compare", "--examples", "0"], "argument --examples"),
}


@pytest.fixture(scope="module")
def bad_input_runs(files, digits_model, tmp_path_factory):
    """Every BAD_INPUT case, run a few at a time (they are independent):
    {case: (result, args, the folder where its --out would go)}."""
    cases = {}
    for case, (args, _) in BAD_INPUT.items():
        folder = tmp_path_factory.mktemp("bad")
        cases[case] = ([a.format(out=folder / "out.file", tmp=folder, model=digits_model[1]) for a in args], folder)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(cases, pool.map(lambda item: run_cli(*item[0], cwd=files), cases.values())))
    return {case: (results[case], *cases[case]) for case in cases}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_and_exit_2(case, bad_input_runs):
    result, args, folder = bad_input_runs[case]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"bpcore {args[0]}: error: " if args[0] != "fit" else "bpcore: error: ")
    assert BAD_INPUT[case][1].format(tmp=folder) in result.stderr
    assert result.stdout == ""
    assert os.listdir(folder) == []  # nothing written to --out


def test_failed_run_leaves_an_existing_out_file(files, tmp_path):
    out = tmp_path / "model.npz"
    out.write_bytes(b"old model")
    result = run_cli("train", "ragged.csv", "--target", "label", "--out", out, cwd=files)
    assert result.returncode == 2
    assert out.read_bytes() == b"old model"
    assert os.listdir(tmp_path) == ["model.npz"]


# ------------------------------------------------------------------ issue 17: teaching
# Mazur, "A Step by Step Backpropagation Example" (2015): a 2-2-2 sigmoid
# network, x = (0.05, 0.10), t = (0.01, 0.99), η = 0.5, hidden biases 0.35 and
# output biases 0.60. Its published values, to the digits it prints (units
# numbered as bpcore numbers them: inputs 1-2, hidden 3-4 = h1, h2, outputs 5-6
# = o1, o2; Mazur's w1..w8 are w 1→3, w 2→3, w 1→4, w 2→4, w 3→5, w 4→5,
# w 3→6, w 4→6). Mazur keeps the biases fixed in his walk-through while the
# lecture's algorithm (and bpcore) updates them, so his error after the step
# (0.291027924) is not checked: bpcore's includes the bias updates.
MAZUR_SPEC = {
    "weights": [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
    "biases": [[0.35, 0.35], [0.60, 0.60]],
    "input": [0.05, 0.10], "target": [0.01, 0.99], "learning_rate": 0.5,
}
MAZUR_PUBLISHED = {
    (3, "o"): "0.593269992", (4, "o"): "0.596884378",
    (5, "o"): "0.75136507", (6, "o"): "0.772928465",
    ("E", "before"): "0.298371109",
    ("w 3→5", "new"): "0.35891648", ("w 4→5", "new"): "0.408666186",
    ("w 3→6", "new"): "0.511301270", ("w 4→6", "new"): "0.561370121",
    ("w 1→3", "new"): "0.149780716", ("w 2→3", "new"): "0.19956143",
    ("w 1→4", "new"): "0.24975114", ("w 2→4", "new"): "0.29950229",
}


def test_trace_of_a_2_2_2_json_network_reproduces_mazurs_published_example(tmp_path):
    spec = tmp_path / "mazur.json"
    spec.write_text(json.dumps(MAZUR_SPEC), encoding="utf-8")
    result = run_cli("trace", "--network", spec, "--digits", "9")
    assert result.returncode == 0, result.stderr
    table = _trace_table(result.stdout)
    for key, printed in MAZUR_PUBLISHED.items():
        decimals = len(printed.split(".")[1])
        assert round(table[key], decimals) == pytest.approx(float(printed), abs=1e-15), (key, table[key], printed)


def test_trace_repeats_the_step_and_draws_the_last_one(tmp_path):
    """§7's check that o_6 moves 0.474 → 0.515, repeated: one row per step."""
    picture = tmp_path / "step.svg"
    result = run_cli("trace", "--steps", "3", "--plot", picture)
    assert result.returncode == 0, result.stderr
    repeated = result.stdout.split("The same step repeated 3 times on this example")[1]
    rows = re.findall(r"^\s+(\d)\s+([\d.]+)\s+([\d.]+)$", repeated, re.M)
    assert [int(r[0]) for r in rows] == [0, 1, 2, 3]
    outputs = [float(r[1]) for r in rows]
    assert round(outputs[0], 3) == 0.474 and round(outputs[1], 3) == 0.515 and outputs == sorted(outputs)
    svg = picture.read_text(encoding="utf-8")
    traces = bpcore.trace.trace_steps(bpcore.Network.from_arrays(
        [np.array(w, float) for w in cli.LECTURE_EXAMPLE["weights"]],
        [np.array(b, float) for b in cli.LECTURE_EXAMPLE["biases"]]), [1, 0, 1], [1], 0.9, 3)
    assert svg == traces[-1].to_svg()
    assert os.listdir(tmp_path) == ["step.svg"]


def test_datasets_writes_the_digits_that_train_reads(tmp_path):
    result = run_cli("datasets", "digits", "--out", "d.csv", "--test-out", "t.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    header, rows = _read_csv(tmp_path / "d.csv")
    _, test_rows = _read_csv(tmp_path / "t.csv")
    assert header == [f"pixel{i}" for i in range(64)] + ["digit"]
    assert len(rows) + len(test_rows) == 1797 and len(test_rows) == round(0.2 * 1797)
    X, y = datasets.load_digits()
    everything = sorted(tuple(map(float, row)) for row in rows + test_rows)
    assert everything == sorted(tuple(float(f"{v:g}") for v in (*x, label)) for x, label in zip(X, y))


def test_train_prints_findings_and_warns_about_a_huge_learning_rate(files, tmp_path):
    """The issue's `bpcore train data.csv --lr 1e6`: still saved, but not silently."""
    model = tmp_path / "m.npz"
    result = run_cli("train", "train.csv", "--target", "digit", "--classify", "--lr", "1e6",
                     "--epochs", "5", "--out", model, cwd=files)
    assert result.returncode == 0, result.stderr
    assert "diagnosis     no learning: the last epoch's training error" in result.stdout
    assert "above" in result.stdout and "the error of always outputting the mean target" in result.stdout
    assert "bpcore train: warning: no learning" in result.stderr
    healthy = run_cli("train", "blobs.csv", "--target", "kind", "--epochs", "30", "--out", model, cwd=files)
    assert "diagnosis     no problem found" in healthy.stdout and "warning" not in healthy.stderr


def test_train_plot_draws_the_curves(files, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib (extra 'plot')")
    result = run_cli("train", "blobs.csv", "--target", "kind", "--epochs", "10", "--val-split", "0.25",
                     "--out", tmp_path / "m.npz", "--plot", tmp_path / "curves.png", cwd=files)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    svg = run_cli("train", "blobs.csv", "--target", "kind", "--epochs", "3", "--out", tmp_path / "m2.npz",
                  "--plot", tmp_path / "curves.svg", cwd=files)
    assert svg.returncode == 0, svg.stderr
    assert b"<svg" in (tmp_path / "curves.svg").read_bytes()


def test_compare_standardises_csv_inputs_and_says_when_nothing_was_learned(files, tmp_path):
    """Inputs on a large scale (the issue's wine data) learn once standardised,
    as in `train`; a run whose error does not fall says so."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=150)
    X = rng.normal(size=(150, 3)) + y[:, None]
    X[:, 0] = 1000 + 300 * X[:, 0]  # one column like wine's proline
    _write_csv(tmp_path / "wide.csv", ["a", "b", "c", "kind"], [[*x, f"k{c}"] for x, c in zip(X, y)])
    result = run_cli("compare", "--csv", "wide.csv", "--target", "kind", "--epochs", "10", "--hidden", "4",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "inputs standardised" in result.stdout
    assert "diagnosis   no problem found" in result.stdout and "did not fall" not in result.stdout
    flat = run_cli("compare", "--csv", "wide.csv", "--target", "kind", "--epochs", "4", "--hidden", "4",
                   "--lr", "1e-9", cwd=tmp_path)
    assert "diagnosis   no learning: the last epoch's training error" in flat.stdout and "AGREE" in flat.stdout
    assert "bpcore compare: warning: no learning" in flat.stderr
