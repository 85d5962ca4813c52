"""``bpcore compare``: the reference trainer and the compiled one, side by side.

Both train copies of one network (same initial weights) with the same options
and seed, hence the same example order; the report holds the per-epoch
training error of each, the largest weight difference, the time per example
and the speed-up. Optional peers (PyTorch at batch size 1, scikit-learn's
MLPRegressor) are timed on the same task when they are installed.

The report is a plain dict (what ``--json`` prints); :func:`render` lays it
out as text and :func:`plot` draws the two loss curves.
"""

import dataclasses
import time
import warnings

import numpy as np

from . import compiled, diagnostics, reference
from ._dispatch import variant
from .network import Network
from .ordering import ExampleOrder

__all__ = ["TOLERANCE", "compare", "max_relative_difference", "render", "plot"]

# Largest |w_reference − w_compiled| / max(1, |w_reference|) taken as agreement.
TOLERANCE = {"float64": 1e-12, "float32": 1e-4}

# The compiled trainer finishes the default task in milliseconds: repeat it on
# fresh copies until the runs add up to this long and report their mean (the
# mean, like the reference's single run, includes whatever else the machine did).
_MIN_TIMING_S = 0.2
_MAX_REPEATS = 50

# Xavier (Glorot) initialisation: sigmoid units learn the digits in a few
# epochs from it, where the lecture's small uniform weights need many more.
_INIT = "xavier"


def max_relative_difference(a, b):
    """Largest |a − b| / max(1, |a|) over all weights and biases of networks ``a`` and ``b``."""
    pa = a.params_vector().astype(np.float64)
    pb = b.params_vector().astype(np.float64)
    return float(np.max(np.abs(pa - pb) / np.maximum(1.0, np.abs(pa))))


def _time_compiled(net, X, T, options):
    """(trained copy, history, mean seconds per run) of the compiled trainer;
    every run starts from ``net`` and ends on the same weights."""
    total = 0.0
    for runs in range(1, _MAX_REPEATS + 1):
        trial = net.copy()
        start = time.perf_counter()
        history = compiled.train(trial, X, T, **options)
        total += time.perf_counter() - start
        if total >= _MIN_TIMING_S:
            break
    return trial, history, total / runs


def compare(X, T, *, hidden, dtype, epochs, learning_rate, seed, data, peers=False):
    """Train one network, sigmoid units with ``hidden`` (tuple) hidden layer
    sizes, Xavier initialisation from ``seed``, on ``X`` (n, n_in) and ``T``
    (n, n_out) with both trainers (squared error, per-example SGD, examples
    shuffled with ``seed``) and return the report (a dict). ``data`` is a dict
    describing the data set (name, examples, inputs, outputs, description)."""
    net = Network((X.shape[1], *hidden, T.shape[1]), init=_INIT, seed=seed, dtype=dtype)
    options = {"learning_rate": learning_rate, "epochs": epochs, "seed": seed}
    ref = net.copy()
    start = time.perf_counter()
    ref_history = reference.train(ref, X, T, **options)
    ref_seconds = time.perf_counter() - start
    fast, fast_history, fast_seconds = _time_compiled(net, X, T, options)
    steps = epochs * X.shape[0]
    difference = max_relative_difference(ref, fast)
    tolerance = TOLERANCE[net.dtype.name]
    report = {
        "architecture": list(net.layer_sizes),
        "activation": net.activation,
        "output_activation": net.output_activation,
        "init": _INIT,
        "dtype": net.dtype.name,
        "data": data,
        "epochs": epochs,
        "learning_rate": learning_rate,
        "seed": seed,
        "kernel_variant": variant,
        "train_error": {"reference": ref_history.train_error, "compiled": fast_history.train_error},
        "max_weight_difference": difference,
        "tolerance": tolerance,
        "agree": difference <= tolerance,
        "time_per_example_s": {"reference": ref_seconds / steps, "compiled": fast_seconds / steps},
        "speedup": ref_seconds / fast_seconds,
        "findings": [dataclasses.asdict(finding)
                     for finding in fast_history.diagnose(diagnostics.baseline_error(T))],
    }
    if peers:
        report["peers"] = [_torch_peer(net, X, T, options, ref), _sklearn_peer(net, X, T, options)]
    return report


# ------------------------------------------------------------------ peers
def _torch_peer(net, X, T, options, ref):
    """PyTorch eager, batch size 1, from the same weights in the same example order."""
    try:
        import torch
    except ImportError:
        return {"name": "PyTorch", "available": False, "note": "not installed"}
    torch.set_num_threads(1)  # bpcore trains on one thread; compare like with like
    dtype = {"float64": torch.float64, "float32": torch.float32}[net.dtype.name]
    layers = []
    for W, b in zip(net.weights, net.biases):
        linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.copy()))
            linear.bias.copy_(torch.from_numpy(b.copy()))
        layers += [linear, torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers)
    optimiser = torch.optim.SGD(model.parameters(), lr=options["learning_rate"])
    Xt, Tt = torch.from_numpy(X.astype(net.dtype)), torch.from_numpy(T.astype(net.dtype))
    order = ExampleOrder(X.shape[0], shuffle=True, seed=options["seed"])
    start = time.perf_counter()
    for _ in range(options["epochs"]):
        for d in order.next_epoch().tolist():
            optimiser.zero_grad()
            loss = 0.5 * ((Tt[d] - model(Xt[d])) ** 2).sum()
            loss.backward()
            optimiser.step()
    seconds = time.perf_counter() - start
    trained = net.copy()
    trained.set_params_vector(np.concatenate(
        [p.detach().numpy().ravel() for p in model.parameters()]
    ))
    return {
        "name": "PyTorch",
        "available": True,
        "version": torch.__version__,
        "time_per_example_s": seconds / (options["epochs"] * X.shape[0]),
        "max_weight_difference": max_relative_difference(ref, trained),
        "note": "nn.Sequential + SGD, batch size 1, same start and order, 1 thread",
    }


def _sklearn_peer(net, X, T, options):
    """scikit-learn's MLPRegressor with per-example SGD: its own initialisation,
    example order and identity outputs, so only its time is comparable."""
    try:
        import sklearn
        from sklearn.neural_network import MLPRegressor
    except ImportError:
        return {"name": "scikit-learn", "available": False, "note": "not installed"}
    epochs = options["epochs"]
    model = MLPRegressor(
        hidden_layer_sizes=net.layer_sizes[1:-1], activation="logistic", solver="sgd",
        batch_size=1, learning_rate_init=options["learning_rate"], momentum=0.0, alpha=0.0,
        max_iter=epochs, shuffle=True, random_state=options["seed"], tol=0.0,
        n_iter_no_change=epochs + 1,
    )
    targets = T[:, 0] if T.shape[1] == 1 else T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the point here
        start = time.perf_counter()
        model.fit(X.astype(net.dtype), targets.astype(net.dtype))
        seconds = time.perf_counter() - start
    return {
        "name": "scikit-learn",
        "available": True,
        "version": sklearn.__version__,
        "time_per_example_s": seconds / (epochs * X.shape[0]),
        "max_weight_difference": None,
        "note": "MLPRegressor(solver='sgd', batch_size=1): own init and order, time only",
    }


# ------------------------------------------------------------------ output
def _time(seconds):
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.4g} ms"
    return f"{seconds * 1e6:.4g} µs"


def render(report):
    """The report as the text ``bpcore compare`` prints."""
    data, errors = report["data"], report["train_error"]
    sizes = "-".join(str(n) for n in report["architecture"])
    lines = [
        "bpcore compare: the reference trainer (pure Python) and the compiled trainer,",
        "from the same initial weights, visiting the examples in the same order",
        "",
        (
            f"network     {sizes}, {report['activation']} hidden units, "
            f"{report['output_activation']} outputs, {report['init']} initialisation "
            f"(seed {report['seed']}), {report['dtype']}"
        ),
        (
            f"data        {data['name']}: {data['examples']} examples, {data['inputs']} inputs, "
            f"{data['outputs']} outputs ({data['description']})"
        ),
        (
            f"training    {report['epochs']} epochs of per-example SGD, learning rate "
            f"{report['learning_rate']:g}, squared error E, shuffled (seed {report['seed']})"
        ),
        f"kernels     {report['kernel_variant']}",
        "",
        f"{'epoch':>5}  {'reference E':>18}  {'compiled E':>18}  {'relative difference':>19}",
    ]
    for epoch, (e_ref, e_fast) in enumerate(zip(errors["reference"], errors["compiled"]), start=1):
        relative = abs(e_ref - e_fast) / max(1.0, abs(e_ref))
        lines.append(f"{epoch:>5}  {e_ref:>18.12g}  {e_fast:>18.12g}  {relative:>19.2g}")
    verdict = (
        "AGREE: both trainers produced the same network"
        if report["agree"]
        else "DISAGREE: the trainers' weights differ beyond the tolerance"
    )
    times = report["time_per_example_s"]
    lines += [
        "",
        (
            f"largest weight difference  {report['max_weight_difference']:.2g}  "
            f"(|w_ref - w_compiled| / max(1, |w_ref|); tolerance {report['tolerance']:g})"
        ),
        f"result                     {verdict}",
        "",
        f"{'':<14}{'time per example':>18}{'examples per second':>22}{'compiled is':>16}",
        _timing_row("reference", times["reference"], times["compiled"]),
        _timing_row("compiled", times["compiled"], times["compiled"]),
    ]
    for peer in report.get("peers", []):
        if peer["available"]:
            lines.append(_timing_row(peer["name"], peer["time_per_example_s"], times["compiled"]))
    lines += ["", f"speed-up    the compiled trainer is {report['speedup']:.0f}× faster than the reference"]
    # What the error curve says about the run itself (History.diagnose, docs/diagnostics.md):
    # agreeing trainers can still both have learned nothing.
    errors_fell = errors["compiled"][-1] < errors["compiled"][0]
    if len(errors["compiled"]) > 1 and not errors_fell:
        lines.append("learning    the training error did not fall: nothing was learned in these epochs")
    for finding in report.get("findings", []):
        lines.append(f"diagnosis   {finding['problem']}: {finding['evidence']}. "
                     f"Try: {'; '.join(finding['remedies'])}.")
    if not report.get("findings"):
        lines.append("diagnosis   no problem found in the training error (docs/diagnostics.md)")
    for peer in report.get("peers", []):
        detail = peer["note"]
        if peer.get("max_weight_difference") is not None:
            detail += f"; weight difference from the reference {peer['max_weight_difference']:.2g}"
        lines.append(f"{peer['name']:<14}{detail}")
    return "\n".join(lines)


def _timing_row(name, seconds, compiled_seconds):
    ratio = "" if seconds == compiled_seconds else f"{seconds / compiled_seconds:.0f}× faster"
    return f"{name:<14}{_time(seconds):>18}{1.0 / seconds:>22,.0f}{ratio:>16}"


def plot(report, f):
    """Draw both trainers' training error per epoch as a PNG into the binary
    file ``f`` (needs matplotlib)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(6.4, 4.0), layout="constrained")
    axes = figure.add_subplot()
    errors = report["train_error"]
    epochs = range(1, len(errors["reference"]) + 1)
    axes.plot(epochs, errors["reference"], "o-", label="reference (pure Python)", linewidth=3, alpha=0.5)
    axes.plot(epochs, errors["compiled"], "x--", label="compiled (bpcore.train)", color="black")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("training error E (summed over the epoch)")
    sizes = "-".join(str(n) for n in report["architecture"])
    axes.set_title(f"{sizes} on {report['data']['name']}: speed-up {report['speedup']:.0f}×")
    axes.legend()
    figure.savefig(f, format="png", dpi=100)
