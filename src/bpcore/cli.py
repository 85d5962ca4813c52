"""The ``bpcore`` command (console script ``bpcore``, also ``python -m bpcore``).

Commands (``docs/cli.md`` is the user guide):

    compare   the reference and the compiled trainer on one task, side by side
    train     train a network on a CSV file and save it (.npz model)
    predict   apply a saved model to a CSV file
    trace     one backpropagation step in the lecture's form (and its picture)
    datasets  write an embedded data set as a CSV file

Exit status: 0 done; 1 the trainers disagree (``compare``) or training
diverged; 2 bad input or usage, reported as one line on stderr without a
traceback; 130 interrupted. Output files are written atomically and only when
the command succeeds.
"""

import argparse
import json
import os
import sys
import textwrap

import numpy as np

from . import _compare, _csv, _fileio, datasets, diagnostics, model_io
from ._dispatch import variant
from ._names import HIDDEN_ACTIVATIONS, INITS, LOSSES, OUTPUT_ACTIVATIONS
from ._training import LR_SCHEDULES
from ._version import __version__
from .compiled import total_error, train
from .errors import DivergenceError
from .network import Network
from .trace import PICTURE_FORMATS, trace_step, trace_steps

__all__ = ["main"]

# The lecture's worked example (§7): a 3-2-1 sigmoid network, x = (1, 0, 1),
# t = 1, η = 0.9. Its step is the lecture's Table 2. Same layout as a
# ``trace --network`` file.
LECTURE_EXAMPLE = {
    "weights": [[[0.2, 0.4, -0.5], [-0.3, 0.1, 0.2]], [[-0.3, -0.2]]],
    "biases": [[-0.4, 0.2], [0.1]],
    "input": [1, 0, 1],
    "target": [1],
    "learning_rate": 0.9,
}

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input found by the command line itself: one line on stderr, exit 2."""

    def __init__(self, message, prog=None):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors reported like every other bad input
    (one line, exit 2) instead of a usage block."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')", prog=self.prog)


# ------------------------------------------------------------------ argument types
def _layer_sizes(text):
    """"16" or "32,16" (hidden layer sizes, input side first); "none" for no hidden layer."""
    if text.strip().lower() == "none":
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected hidden layer sizes like 16 or 32,16 (or none); got {text!r}"
        ) from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"hidden layer sizes must be at least 1; got {text!r}")
    return sizes


def _column_names(text):
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected column names like label or y1,y2; got {text!r}")
    return names


def _bounded(convert, accept, expected):
    """An argparse type: ``convert(text)``, which ``accept(value)`` must approve."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}")
        return value

    return parse


_positive_int = _bounded(int, lambda n: n >= 1, "a whole number >= 1")
_fraction = _bounded(float, lambda x: 0.0 < x < 1.0, "a fraction between 0 and 1")


def _check_out(path, option, *, reads=()):
    """Fail before any work if ``path`` cannot be an output file."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"{option} {path}: the directory {directory} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a directory")
    if any(os.path.abspath(path) == os.path.abspath(source) for source in reads):
        raise UsageError(f"{option} {path} would overwrite an input file")


def _check_plot(path, option, formats, *, reads=(), svg_by_matplotlib=False):
    """Fail before any work if ``path`` cannot take a picture: its folder, its
    extension (one of ``formats``) and, where matplotlib draws it (PNG, and SVG
    with ``svg_by_matplotlib``), matplotlib. Returns the format (the extension
    without the dot)."""
    _check_out(path, option, reads=reads)
    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    if fmt not in formats:
        raise UsageError(
            f"{option} {path}: unknown picture format {'.' + fmt if fmt else '(no extension)'}; "
            f"use {' or '.join('.' + f for f in formats)}"
        )
    if fmt != "svg" or svg_by_matplotlib:
        try:
            import matplotlib  # noqa: F401  (only checking that it is there)
        except ImportError:
            raise UsageError(f"{option} needs matplotlib (for {path}): pip install 'bpcore[plot]'") from None
    return fmt


def _print_findings(history, prog, baseline):
    """``History.diagnose()``'s findings at the end of a run: on stdout with the
    summary, and one warning line each on stderr."""
    findings = history.diagnose(baseline)
    if not findings:
        print("diagnosis     no problem found (docs/diagnostics.md)")
        return
    for finding in findings:
        print(f"diagnosis     {finding}")
        print(f"{prog}: warning: {finding.problem}: {finding.evidence}", file=sys.stderr)


# ------------------------------------------------------------------ data
def _standardised(X):
    """``(X_standardised, mean, scale)``: every column to mean 0 and standard
    deviation 1 (``train`` and ``compare --csv``)."""
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0.0] = 1.0  # a constant column stays constant (zero)
    return (X - mean) / scale, mean, scale


def _accuracy(outputs, targets):
    return float(np.mean(np.argmax(outputs, axis=1) == np.argmax(targets, axis=1)))


# ------------------------------------------------------------------ compare
def _compare_data(args):
    """(X, T, description) for ``compare``: the embedded digits or ``--csv``."""
    if (args.csv is None) != (args.target is None):
        raise UsageError("--csv and --target go together (see 'bpcore compare --help')")
    if args.csv is None:
        X, y = datasets.load_digits()
        T = datasets.one_hot(y)
        name, description = "digits", "embedded UCI handwritten digits, 8x8 pixels in [0, 1], one-hot targets"
    else:
        data = _csv.read_examples(args.csv, args.target, args.classify)
        X, T, name = _standardised(data.X)[0], data.T, os.path.basename(args.csv)
        description = "inputs standardised, " + f"targets {', '.join(data.targets)}" + (
            f", {len(data.classes)} classes one-hot" if data.classes else ""
        )
    if args.examples is not None:
        X, T = X[: args.examples], T[: args.examples]
    described = {"name": name, "examples": X.shape[0], "inputs": X.shape[1],
                 "outputs": T.shape[1], "description": description}
    return X, T, described


def _run_compare(args):
    if args.plot is not None:
        _check_plot(args.plot, "--plot", ("png",), reads=[args.csv] if args.csv else [])
    X, T, data = _compare_data(args)
    report = _compare.compare(
        X, T, hidden=args.hidden, dtype=args.dtype, epochs=args.epochs,
        learning_rate=args.lr, seed=args.seed, data=data, peers=args.peers,
    )
    print(json.dumps(report, indent=2) if args.json else _compare.render(report))
    if not args.json:
        for finding in report["findings"]:
            print(f"{args.prog}: warning: {finding['problem']}: {finding['evidence']}", file=sys.stderr)
    if args.plot is not None:
        with _fileio.atomic_write(args.plot) as f:
            _compare.plot(report, f)
    return EXIT_OK if report["agree"] else EXIT_FAILED


# ------------------------------------------------------------------ train
def _run_train(args):
    _check_out(args.out, "--out", reads=[args.data])
    plot_format = None
    if args.plot is not None:
        plot_format = _check_plot(args.plot, "--plot", ("png", "svg"), reads=[args.data], svg_by_matplotlib=True)
        if os.path.abspath(args.plot) == os.path.abspath(args.out):
            raise UsageError(f"--plot {args.plot} is the --out file")
    if args.patience is not None and args.val_split is None:
        raise UsageError("--patience needs --val-split: early stopping watches the validation error")
    schedule_options = _schedule_options(args)
    data = _csv.read_examples(args.data, args.target, args.classify)
    X, standardisation = data.X, None
    if args.standardize:
        X, mean, scale = _standardised(X)
        standardisation = (mean, scale)
    metadata = model_io.column_metadata(data.inputs, data.targets, data.classes, standardisation)
    output_activation = args.output_activation or ("softmax" if data.classes else "identity")
    loss = args.loss or ("cross_entropy" if output_activation == "softmax" else "squared_error")
    X_train, T_train, validation = X, data.T, None
    if args.val_split is not None:
        X_train, X_val, T_train, T_val = datasets.train_test_split(
            X, data.T, test_fraction=args.val_split, seed=args.seed
        )
        validation = (X_val, T_val)
    # Nguyen–Widrow needs the input range: FANN's fann_init_weights takes it from
    # the training data (after scaling), and so does this command.
    input_range = (float(X_train.min()), float(X_train.max())) if args.init == "nguyen_widrow" else None
    net = Network(
        (X.shape[1], *args.hidden, data.T.shape[1]), activation=args.activation,
        output_activation=output_activation, init=args.init, seed=args.seed, dtype=args.dtype,
        input_range=input_range,
    )
    history = train(
        net, X_train, T_train, learning_rate=args.lr, epochs=args.epochs, momentum=args.momentum,
        loss=loss, batch_size=args.batch_size, validation=validation, patience=args.patience,
        seed=args.seed, progress=sys.stderr.isatty(), diagnostics=True, **schedule_options,
    )
    model_io.save(net, args.out, metadata=metadata)
    if args.plot is not None:
        with _fileio.atomic_write(args.plot) as f:
            _plot_training(history, net, loss, f, plot_format)
    _print_training_summary(args, data, net, loss, history, (X_train, T_train), validation)
    _print_findings(history, args.prog, diagnostics.baseline_error(T_train, loss))
    return EXIT_OK


def _schedule_options(args):
    """The ``train`` options of --lr-schedule, --power-t, --tol,
    --n-iter-no-change, --bit-fail-limit and --target-bit-fail (only those
    given), refusing the ones the chosen schedule does not use."""
    schedule = args.lr_schedule or "constant"
    uses = {"--power-t": "invscaling", "--tol": "adaptive", "--n-iter-no-change": "adaptive"}
    given = {"--power-t": args.power_t, "--tol": args.tol, "--n-iter-no-change": args.n_iter_no_change}
    for option, value in given.items():
        if value is not None and uses[option] != schedule:
            raise UsageError(f"{option} needs --lr-schedule {uses[option]} (the schedule is {schedule})")
    if args.target_bit_fail is not None and args.bit_fail_limit is None:
        raise UsageError("--target-bit-fail needs --bit-fail-limit: the bit-fail count is the number "
                         "of outputs with |t - o| >= the limit")
    names = {"lr_schedule": args.lr_schedule, "power_t": args.power_t, "tol": args.tol,
             "n_iter_no_change": args.n_iter_no_change, "bit_fail_limit": args.bit_fail_limit,
             "target_bit_fail": args.target_bit_fail}
    return {name: value for name, value in names.items() if value is not None}


def _plot_training(history, net, loss, f, fmt):
    """Training and validation error per epoch, and the per-layer gradient
    norms (when recorded), into the binary file ``f`` (matplotlib)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(6.4, 6.4), layout="constrained")
    errors, norms = figure.subplots(2, 1, sharex=True)
    epochs = range(1, history.epochs_run + 1)
    errors.plot(epochs, history.train_error, "o-", markersize=3, label="training (summed over the epoch)")
    if history.val_error:
        errors.plot(epochs, history.val_error, "s--", markersize=3, label="validation (after the epoch)")
    if history.best_epoch is not None:
        errors.axvline(history.best_epoch, color="grey", linewidth=0.8, linestyle=":", label="best epoch")
    if all(e > 0 for e in history.train_error + history.val_error):
        errors.set_yscale("log")
    errors.set_ylabel(f"{loss} (summed)")
    errors.set_title(f"{'-'.join(map(str, net.layer_sizes))} network: error per epoch")
    errors.legend()
    if history.grad_norm:
        for l in range(len(history.grad_norm[0])):
            norms.plot(epochs, [row[l] for row in history.grad_norm], label=f"weight layer {l + 1}")
        norms.set_yscale("log")
        norms.legend()
    else:
        norms.text(0.5, 0.5, "gradient norms not recorded",
                   ha="center", va="center", transform=norms.transAxes)
    norms.set_ylabel("RMS of ‖∇W_l‖ = ‖δ_l‖·‖x_l‖")
    norms.set_xlabel("epoch")
    norms.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.savefig(f, format=fmt, dpi=100)


def _print_training_summary(args, data, net, loss, history, training, validation):
    sizes = "-".join(str(n) for n in net.layer_sizes)
    n_train = training[0].shape[0]
    split = f" ({n_train} for training, {validation[0].shape[0]} for validation)" if validation else ""
    outputs = f"{len(data.classes)} classes" if data.classes else f"{net.n_outputs} outputs"
    last = history.train_error[-1]
    lines = [
        (
            f"network       {sizes}: {net.activation} hidden units, {net.output_activation} "
            f"outputs, {loss} loss, {net.dtype.name}"
        ),
        f"data          {args.data}: {data.X.shape[0]} examples{split}, {net.n_inputs} inputs, {outputs}",
        f"epochs run    {history.epochs_run} (stop reason: {history.stop_reason})",
        f"train error   {last:.6g} ({loss} summed over the last epoch; {last / n_train:.4g} per example)",
    ]
    if args.lr_schedule not in (None, "constant"):
        lines.append(
            f"learning rate {history.learning_rate[0]:.6g} in epoch 1, {history.learning_rate[-1]:.6g} in "
            f"epoch {history.epochs_run} ({args.lr_schedule})"
        )
    if history.bit_fail:
        lines.append(
            f"bit fail      {history.bit_fail[-1]} of {training[1].size} outputs with |t - o| >= "
            f"{args.bit_fail_limit:g} after the last epoch"
        )
    if validation:
        kept = " (its weights were kept)" if history.best_epoch != history.epochs_run else ""
        lines.append(
            f"val error     {total_error(net, *validation, loss=loss):.6g} after training; best "
            f"epoch {history.best_epoch}{kept}"
        )
    if data.classes:
        accuracy = f"training {_accuracy(net.predict(training[0]), training[1]):.1%}"
        if validation:
            accuracy += f", validation {_accuracy(net.predict(validation[0]), validation[1]):.1%}"
        lines.append(f"accuracy      {accuracy}")
    if args.standardize:
        lines.append("inputs        standardised to mean 0, standard deviation 1 (stored in the model)")
    lines.append(f"model         saved to {args.out}")
    print("\n".join(lines))


# ------------------------------------------------------------------ predict
def _run_predict(args):
    if args.out is not None:
        _check_out(args.out, "--out", reads=[args.model, args.data])
    net, metadata = model_io.load_with_metadata(args.model)
    columns = model_io.read_columns(net, metadata, args.model)
    inputs, outputs, classes, standardisation = (
        columns.inputs, columns.outputs, columns.classes, columns.standardisation
    )
    table = _csv.read_csv(args.data)
    if inputs is None:
        if len(table.names) != net.n_inputs:
            raise UsageError(
                f"{args.data} has {len(table.names)} columns but the model {args.model} has "
                f"{net.n_inputs} inputs (it stores no column names, so it takes every column in order)"
            )
        inputs = table.names
    missing = [name for name in inputs if name not in table.names]
    if missing:
        shown = ", ".join(missing[:5]) + (f", … ({len(missing)} in all)" if len(missing) > 5 else "")
        raise UsageError(f"{args.data} does not match the model {args.model}: it has no column {shown}")
    X = table.floats(inputs)
    if standardisation is not None:
        X = (X - standardisation[0]) / standardisation[1]
    Y = net.predict(X).astype(np.float64)
    if classes:
        rows = [[classes[k], *y] for k, y in zip(np.argmax(Y, axis=1), Y)]
    else:
        rows = Y.tolist()
    summary = _prediction_summary(args, table, Y, outputs, classes)
    if args.out is None:
        _csv.write_csv(sys.stdout, outputs, rows)
    else:
        with _fileio.atomic_write(args.out, "w", newline="", encoding="utf-8") as f:
            _csv.write_csv(f, outputs, rows)
    print(summary, file=sys.stderr)
    return EXIT_OK


EXPORT_FORMATS = {".onnx": "onnx", ".net": "fann"}


def _run_export(args):
    """A model saved by 'bpcore train' as ONNX or as a FANN .net file, its input
    standardisation included."""
    suffix = os.path.splitext(args.out)[1].lower()
    if suffix not in EXPORT_FORMATS:
        raise UsageError(
            f"{args.out}: unknown format {suffix or '(no suffix)'}; the output file must end in "
            + " or ".join(EXPORT_FORMATS)
        )
    _check_out(args.out, "OUT", reads=[args.model])
    net, metadata = model_io.load_with_metadata(args.model)
    columns = model_io.read_columns(net, metadata, args.model)
    if EXPORT_FORMATS[suffix] == "onnx":
        try:
            from . import onnx as bp_onnx
        except ImportError as error:
            raise UsageError(f"exporting to ONNX needs the onnx extra: pip install 'bpcore[onnx]' ({error})")
        model = bp_onnx.to_onnx(net, standardize=columns.standardisation, classes=columns.classes)
        with _fileio.atomic_write(args.out) as f:
            f.write(model.SerializeToString())
        where = "the graph takes raw inputs" if columns.standardisation is not None else "no standardisation"
    else:
        from . import fann

        scale = None
        if columns.standardisation is not None:
            # fann_scale_input computes ((x − mean)/deviation + 1)·factor + new_min,
            # which with factor 1 and new_min −1 is bpcore's (x − mean)/scale; the
            # outputs are left as they are (deviation 1, factor 1, new_min −1, mean 0).
            mean, deviation = columns.standardisation
            ones_in, ones_out = np.ones(net.n_inputs), np.ones(net.n_outputs)
            scale = fann.FannScale(np.asarray(mean, float), np.asarray(deviation, float), -ones_in, ones_in,
                                   0 * ones_out, ones_out, -ones_out, ones_out)
        fann.save(net, args.out, scale=scale)
        where = ("its scale block holds the standardisation (apply it with fann_scale_input)"
                 if scale is not None else "no standardisation")
    sizes = "-".join(map(str, net.layer_sizes))
    print(f"wrote {args.out}: the {sizes} network of {args.model} as {EXPORT_FORMATS[suffix].upper()}; "
          f"{where}", file=sys.stderr)
    return EXIT_OK


def _standardisation_of(scale, where):
    """``(mean, scale)`` that do what a FANN scale block's input part does:
    ((x − m)/d + 1)·f + n = (x − (m − d − n·d/f)) / (d/f). Its output part must
    leave the outputs as they are (a bpcore model cannot descale them)."""
    identity_out = (np.all(scale.mean_out == 0) and np.all(scale.deviation_out == 1)
                    and np.all(scale.new_min_out == -1) and np.all(scale.factor_out == 1))
    if not identity_out:
        raise UsageError(
            f"{where}: its scale block rescales the outputs, which a bpcore model cannot undo; "
            "read it in Python with bpcore.fann.load_with_scale and descale the outputs yourself"
        )
    m, d, n, f = scale.mean_in, scale.deviation_in, scale.new_min_in, scale.factor_in
    if not np.all(f > 0):
        raise UsageError(f"{where}: its scale block has an input factor that is not > 0")
    if np.all(f == 1) and np.all(n == -1):  # what 'bpcore export' writes: exactly (x − m)/d
        return m.astype(np.float64), d.astype(np.float64)
    return (m - d - n * d / f).astype(np.float64), (d / f).astype(np.float64)


def _run_import(args):
    """A FANN .net file as a bpcore model that 'bpcore predict' takes."""
    from . import fann

    if os.path.splitext(args.out)[1].lower() != ".npz":
        raise UsageError(f"{args.out}: a bpcore model file ends in .npz")
    _check_out(args.out, "OUT", reads=[args.net])
    net, scale = fann.load_with_scale(args.net)
    metadata = None
    if scale is not None:
        metadata = {"input_mean": None, "input_scale": None}
        metadata["input_mean"], metadata["input_scale"] = _standardisation_of(scale, args.net)
    model_io.save(net, args.out, metadata=metadata)
    sizes = "-".join(map(str, net.layer_sizes))
    scaled = "; its scale block became the input standardisation" if scale is not None else ""
    print(f"wrote {args.out}: the {sizes} network of {args.net} ({net.activation} hidden, "
          f"{net.output_activation} output units); 'bpcore predict' takes its inputs in column "
          f"order{scaled}", file=sys.stderr)
    return EXIT_OK


def _prediction_summary(args, table, Y, outputs, classes):
    """One line for stderr; with the accuracy when the file has the target
    column (a row whose label is missing or unknown counts as wrong)."""
    line = f"predicted {Y.shape[0]} rows of {args.data} with {args.model}"
    if args.out is not None:
        line += f", written to {args.out}"
    if classes and outputs[0] in table.names:
        column = table.index(outputs[0])
        hits = sum(classes[k] == row[column] for k, row in zip(np.argmax(Y, axis=1), table.rows))
        line += f"; accuracy {hits / len(table):.1%} against its column {outputs[0]!r}"
    return line


# ------------------------------------------------------------------ trace
def _trace_spec(spec, where, steps=1):
    """The :class:`~bpcore.StepTrace` list of ``steps`` steps of a trace spec
    (a dict like LECTURE_EXAMPLE)."""
    if not isinstance(spec, dict):
        raise UsageError(
            f"{where}: expected a JSON object with weights, biases, input, target, learning_rate"
        )
    missing = [key for key in ("weights", "biases", "input", "target", "learning_rate") if key not in spec]
    if missing:
        raise UsageError(f"{where}: missing {', '.join(missing)} (see 'bpcore trace --help')")
    try:
        net = Network.from_arrays(
            [np.asarray(W, dtype=np.float64) for W in spec["weights"]],
            [np.asarray(b, dtype=np.float64) for b in spec["biases"]],
            activation=spec.get("activation", "sigmoid"),
            output_activation=spec.get("output_activation", "sigmoid"),
        )
        return trace_steps(
            net, np.asarray(spec["input"], dtype=np.float64),
            np.asarray(spec["target"], dtype=np.float64), spec["learning_rate"], steps,
        )
    except (TypeError, ValueError) as e:
        raise UsageError(f"{where}: {e}") from None


def _run_trace(args):
    plot_format = None
    if args.plot is not None:
        plot_format = _check_plot(args.plot, "--plot", PICTURE_FORMATS,
                                  reads=[args.network] if args.network else [])
    if args.network is None:
        spec, where = LECTURE_EXAMPLE, "the lecture's example"
    else:
        where = args.network
        with open(args.network, encoding="utf-8") as f:
            try:
                spec = json.load(f)
            except (UnicodeDecodeError, ValueError, RecursionError) as e:
                raise UsageError(f"{where} is not a JSON file: {e}") from None
    traces = _trace_spec(spec, where, args.steps)
    if args.network is None:
        print("The lecture's worked example (§7), whose values are its Table 2\n")
    print(traces[0].format(args.digits))
    if args.steps > 1:
        print(_render_steps(traces, args.digits))
    if args.plot is not None:
        with _fileio.atomic_write(args.plot) as f:
            traces[-1].save_picture(f, plot_format)
        print(f"\npicture of step {len(traces)} written to {args.plot}")
    return EXIT_OK


def _render_steps(traces, digits):
    """The output and E after each of the repeated steps (step 0: before the first)."""
    outputs = traces[0].layers[-1].units
    width = max(11, digits + 7)
    lines = ["", f"The same step repeated {len(traces)} times on this example",
             f"{'step':>6}" + "".join(f"{f'o_{u}':>{width}}" for u in outputs) + f"{'E':>{width}}"]
    rows = [(0, traces[0].output_before, traces[0].error_before)]
    rows += [(n, trace.output_after, trace.error_after) for n, trace in enumerate(traces, start=1)]
    for n, output, error in rows:
        lines.append(f"{n:>6}" + "".join(f"{v:>{width}.{digits}g}" for v in output) + f"{error:>{width}.{digits}g}")
    return "\n".join(lines)


# ------------------------------------------------------------------ datasets
def _run_datasets(args):
    outs = [args.out] + ([args.test_out] if args.test_out else [])
    for option, path in zip(("--out", "--test-out"), outs):
        _check_out(path, option)
    if args.test_out and os.path.abspath(args.test_out) == os.path.abspath(args.out):
        raise UsageError(f"--test-out {args.test_out} is the --out file")
    if args.test_fraction is not None and not args.test_out:
        raise UsageError("--test-fraction needs --test-out: the file for the held-out rows")
    X, y = datasets.load_digits()
    header = [f"pixel{i}" for i in range(X.shape[1])] + ["digit"]
    parts = [(args.out, X, y)]
    if args.test_out:
        X_train, X_test, y_train, y_test = datasets.train_test_split(
            X, y, test_fraction=args.test_fraction or 0.2, seed=args.seed
        )
        parts = [(args.out, X_train, y_train), (args.test_out, X_test, y_test)]
    for path, X_part, y_part in parts:
        rows = [[*(f"{v:g}" for v in row), str(int(label))] for row, label in zip(X_part, y_part)]
        with _fileio.atomic_write(path, "w", newline="", encoding="utf-8") as f:
            _csv.write_csv(f, header, rows)
        print(f"wrote {len(rows)} rows of the UCI handwritten digits ({X.shape[1]} pixel columns in [0, 1] "
              f"and the label column 'digit') to {path}")
    return EXIT_OK


# ------------------------------------------------------------------ the parser
def _wrap(text):
    """Paragraphs of ``text`` filled to 79 columns (the examples below them stay as written)."""
    return "\n\n".join(textwrap.fill(paragraph, 79) for paragraph in text.split("\n\n"))


def _add_command(commands, name, summary, description, example, run):
    parser = commands.add_parser(
        name, help=summary, description=_wrap(description), epilog="example:\n" + example,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run, prog=parser.prog)
    return parser


def _add_data_options(parser, *, required):
    parser.add_argument("--target", type=_column_names, metavar="COLUMN[,COLUMN…]", required=required,
                        help="target column(s); every other column is an input (numeric)")
    parser.add_argument("--classify", action="store_true",
                        help="treat the target column as class labels even when it is numeric "
                             "(a non-numeric target column always is)")


def _add_training_options(parser, *, hidden, epochs, lr):
    parser.add_argument("--hidden", type=_layer_sizes, default=hidden, metavar="N[,N…]",
                        help="hidden layer sizes, input side first, or none "
                             f"(default {','.join(map(str, hidden))})")
    parser.add_argument("--epochs", type=_positive_int, default=epochs,
                        help=f"passes over the data (default {epochs})")
    parser.add_argument("--lr", type=float, default=lr, metavar="η", help=f"learning rate η (default {lr})")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="precision of the network (default float64)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the initial weights, the example order and any split (default 0)")


def build_parser():
    """The argument parser of the ``bpcore`` command."""
    parser = _Parser(
        prog="bpcore",
        description=_wrap("Classic backpropagation: a readable pure-Python reference trainer and a "
                          "compiled one that gives the same weights, many times faster. Without a "
                          "command, runs 'bpcore compare'."),
        epilog="exit status: 0 done, 1 the trainers disagree or training diverged, 2 bad input, "
               "130 interrupted\n\nexample:\n  bpcore compare        # the main job: reference vs compiled\n"
               "  bpcore train --help   # the options of one command",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bpcore {__version__} (kernels: {variant})")
    commands = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")

    compare = _add_command(
        commands, "compare", "train one network with both trainers and compare them (the main job)",
        "Train one network from the same initial weights, visiting the examples in the same order, "
        "with the pure-Python reference trainer and with the compiled one; print the per-epoch "
        "training error of both, the largest weight difference and the time per example of each. "
        "Exits 1 if the weights differ by more than 1e-12 (float64) or 1e-4 (float32) relative to "
        "max(1, |w|). Sigmoid units, squared error, Xavier initialisation. Default data: the "
        "embedded handwritten digits (1797 examples, 64 inputs, 10 classes).",
        "  bpcore compare\n  bpcore compare --hidden 32 --epochs 2 --examples 500 --dtype float32 --peers\n"
        "  bpcore compare --csv data.csv --target label --json --plot curves.png\n",
        _run_compare,
    )
    _add_training_options(compare, hidden=(16,), epochs=3, lr=0.5)
    compare.add_argument("--examples", type=_positive_int, metavar="N",
                         help="use only the first N examples (default: all)")
    compare.add_argument("--csv", metavar="FILE",
                         help="train on this CSV file (with --target) instead of the digits")
    _add_data_options(compare, required=False)
    compare.add_argument("--peers", action="store_true",
                         help="also time PyTorch (batch size 1) and scikit-learn, where installed")
    compare.add_argument("--json", action="store_true", help="print the report as JSON")
    compare.add_argument("--plot", metavar="FILE.png",
                         help="draw both loss curves into a PNG (needs matplotlib)")

    train_cmd = _add_command(
        commands, "train", "train a network on a CSV file and save the model",
        "Train a network on a CSV file with a header row and save it as a .npz model. The --target "
        "columns are the targets, every other column an input (numeric). A non-numeric target "
        "column (or one given with --classify) holds class labels: they are one-hot encoded, the "
        "output is softmax with cross-entropy, and the class names are stored in the model. "
        "Numeric targets are regression: identity outputs, squared error. Shows a progress bar "
        "when stderr is a terminal. The model is written only if training succeeds.",
        "  bpcore train digits.csv --target label --classify --hidden 32 --epochs 30 \\\n"
        "      --val-split 0.2 --patience 5 --out model.npz\n",
        _run_train,
    )
    train_cmd.add_argument("data", metavar="DATA.csv", help="training data: a CSV file with a header row")
    _add_data_options(train_cmd, required=True)
    train_cmd.add_argument("--out", required=True, metavar="MODEL.npz",
                           help="where to save the trained model")
    _add_training_options(train_cmd, hidden=(16,), epochs=50, lr=0.1)
    train_cmd.add_argument("--momentum", type=float, default=0.0, metavar="α",
                           help="momentum α (default 0)")
    train_cmd.add_argument("--batch-size", type=int, default=1,
                           help="examples per update (default 1, the lecture's SGD)")
    train_cmd.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="sigmoid",
                           help="hidden units (default sigmoid)")
    train_cmd.add_argument("--output-activation", choices=OUTPUT_ACTIVATIONS,
                           help="output units (default: softmax for classes, identity for numbers)")
    train_cmd.add_argument("--loss", choices=LOSSES,
                           help="default: cross_entropy with softmax outputs, else squared_error")
    train_cmd.add_argument("--init", choices=INITS, default="xavier",
                           help="initial weights (default xavier); nguyen_widrow is FANN's "
                                "fann_init_weights for sigmoid or tanh hidden units, scaled to the "
                                "training inputs' range (after --standardize)")
    train_cmd.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                           help="learning rate per epoch: constant (default), invscaling "
                                "(η / (t + 1) ** power_t after t examples) or adaptive (η / 5 when the "
                                "training error stalls), scikit-learn's rules")
    train_cmd.add_argument("--power-t", type=_bounded(float, lambda x: 0.0 <= x < float("inf"),
                                                      "a number >= 0"),
                           metavar="P", help="exponent of --lr-schedule invscaling (default 0.5)")
    train_cmd.add_argument("--tol", type=_bounded(float, lambda x: 0.0 <= x < float("inf"), "a number >= 0"),
                           help="improvement of the mean training error that --lr-schedule adaptive "
                                "asks for (default 1e-4)")
    train_cmd.add_argument("--n-iter-no-change", type=_positive_int, metavar="K",
                           help="epochs without that improvement before --lr-schedule adaptive divides "
                                "the rate by 5 (default 10)")
    train_cmd.add_argument("--bit-fail-limit", type=_bounded(float, lambda x: 0.0 < x < float("inf"),
                                                             "a number > 0"),
                           metavar="L", help="count the outputs with |t - o| >= L after every epoch "
                                             "(FANN's bit fail)")
    train_cmd.add_argument("--target-bit-fail", type=_bounded(int, lambda n: n >= 0, "a whole number >= 0"),
                           metavar="N", help="stop once at most N outputs fail (needs --bit-fail-limit)")
    train_cmd.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                           help="scale each input to mean 0, standard deviation 1 over the training "
                                "file (stored in the model, applied by predict; default on)")
    train_cmd.add_argument("--val-split", type=_fraction, metavar="FRACTION",
                           help="hold out this fraction of the rows to report a validation error")
    train_cmd.add_argument("--patience", type=_positive_int, metavar="K",
                           help="stop when the validation error has not improved for K epochs "
                                "(needs --val-split); the best epoch's weights are kept")
    train_cmd.add_argument("--plot", metavar="CURVES.png",
                           help="draw the training and validation error per epoch and the per-layer "
                                "gradient norms into a .png or .svg file (needs matplotlib)")

    predict = _add_command(
        commands, "predict", "apply a saved model to a CSV file",
        "Predict with a model saved by 'bpcore train' (or Network.save). The CSV file needs the "
        "model's input columns (others are ignored). Writes one row per input row: for a "
        "classifier the predicted class and each class's probability, else the predicted "
        "targets. Reports the accuracy on stderr when the file has the target column.",
        "  bpcore predict model.npz test.csv --out predictions.csv\n",
        _run_predict,
    )
    predict.add_argument("model", metavar="MODEL.npz", help="a model saved by 'bpcore train'")
    predict.add_argument("data", metavar="DATA.csv", help="rows to predict: a CSV file with a header row")
    predict.add_argument("--out", metavar="FILE.csv",
                         help="write the predictions here (default: standard output)")

    export = _add_command(
        commands, "export", "write a saved model as ONNX or as a FANN .net file",
        "Write a model saved by 'bpcore train' in another format, chosen by the suffix of OUT: "
        ".onnx (needs the onnx extra; the graph takes raw inputs, standardisation included, and "
        "a classifier's graph also gives the label) or .net (FANN_FLO_2.1 for libfann 2.2; sigmoid "
        "or tanh hidden units and sigmoid or identity outputs; the standardisation goes into "
        "FANN's scale block).",
        "  bpcore export model.npz model.onnx\n  bpcore export model.npz model.net\n",
        _run_export,
    )
    export.add_argument("model", metavar="MODEL.npz", help="a model saved by 'bpcore train'")
    export.add_argument("out", metavar="OUT", help="the file to write: OUT.onnx or OUT.net")

    import_cmd = _add_command(
        commands, "import", "read a FANN .net file into a bpcore model",
        "Read a FANN .net file (a fully connected FANN_FLO_2.1 network with activations bpcore "
        "has) and write it as a bpcore model for 'bpcore predict', which then takes the CSV "
        "file's columns in order. A scale block's input scaling becomes the model's input "
        "standardisation; one that rescales the outputs is refused.",
        "  bpcore import xor.net xor.npz\n",
        _run_import,
    )
    import_cmd.add_argument("net", metavar="NET.net", help="a FANN network file")
    import_cmd.add_argument("out", metavar="OUT.npz", help="the bpcore model to write")

    trace = _add_command(
        commands, "trace", "print one backpropagation step in the lecture's form",
        "Print one step of backpropagation (squared error) as the lecture lays it out: the forward "
        "pass unit by unit, the deltas, every weight's old value, change and new value, and the "
        "error before and after. Without --network: the lecture's 3-2-1 example of §7 (Table 2).\n\n"
        "A --network file is JSON: weights[l][j][i] is the weight from unit i of layer l to unit j "
        "of layer l+1, biases[l][j] the bias of that unit j, input and target the example, "
        "learning_rate η; activation and output_activation are optional (default sigmoid).",
        "  bpcore trace\n  bpcore trace --steps 5 --plot step.svg\n"
        "  bpcore trace --network spec.json   # spec.json, the lecture's example:\n"
        f"  {json.dumps(LECTURE_EXAMPLE)}\n",
        _run_trace,
    )
    trace.add_argument("--network", metavar="SPEC.json", help="the network and example to trace")
    trace.add_argument("--steps", type=_positive_int, default=1, metavar="N",
                       help="repeat the step N times on the example and print the output and E after "
                            "each (default 1)")
    trace.add_argument("--digits", type=_bounded(int, lambda n: 1 <= n <= 17, "a whole number from 1 to 17"),
                       default=5, metavar="D", help="significant digits of the printed values (default 5)")
    trace.add_argument("--plot", metavar="STEP.svg",
                       help="draw the (last) step as the lecture's Figure 3: a .svg file, or .png "
                            "(needs matplotlib)")

    data_cmd = _add_command(
        commands, "datasets", "write an embedded data set as a CSV file",
        "Write the embedded UCI handwritten digits (1797 examples of 8x8 pixels in [0, 1]) as a CSV "
        "file with a header row: columns pixel0 … pixel63 and the label column 'digit'. With "
        "--test-out, a random fraction of the rows (--test-fraction, default 0.2) goes to a second "
        "file instead, for 'bpcore predict'.",
        "  bpcore datasets digits --out digits.csv --test-out test.csv\n",
        _run_datasets,
    )
    data_cmd.add_argument("name", choices=("digits",), help="the data set")
    data_cmd.add_argument("--out", required=True, metavar="FILE.csv", help="where to write the rows")
    data_cmd.add_argument("--test-out", metavar="FILE.csv", help="where to write the held-out rows")
    data_cmd.add_argument("--test-fraction", type=_fraction, metavar="FRACTION",
                          help="fraction of the rows held out for --test-out (default 0.2)")
    data_cmd.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    return parser


# ------------------------------------------------------------------ main
def _describe_os_error(e):
    if e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e)


def _fail(prog, message):
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return EXIT_BAD_INPUT


def main(argv=None):
    """Run the ``bpcore`` command with ``argv`` (default ``sys.argv[1:]``);
    returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        print("bpcore: no command given: running 'bpcore compare' (see 'bpcore --help')", file=sys.stderr)
        argv = ["compare"]
    prog = "bpcore"
    try:
        args = build_parser().parse_args(argv)
        prog = args.prog
        return args.run(args)
    except UsageError as e:
        return _fail(e.prog or prog, e)
    except (ValueError, TypeError) as e:  # the library's checks of bad input, ModelFormatError
        return _fail(prog, e)
    except BrokenPipeError:
        # The reader of our output went away (``bpcore predict … | head``): stop
        # quietly, and keep Python from complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except OSError as e:
        return _fail(prog, _describe_os_error(e))
    except DivergenceError as e:
        print(f"{prog}: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
