"""What both trainers share: the options of ``train`` and their checks, the
``History`` they return, and the epoch loop with its stopping rules (§9.1).

A trainer supplies only a *runner*, which owns the parameters while training
and knows how to run one epoch over a given example order:

    runner.run_epoch(order) -> float   training error of the epoch (summed loss)
    runner.error(X, T) -> float        summed loss on other data (validation)
    runner.snapshot() -> object        a copy of the current parameters
    runner.restore(snapshot)           go back to a snapshot
    runner.finite() -> bool            are all parameters finite?
    runner.commit()                    make the network hold the current parameters
    runner.permute(order, seed)        optional: fill ``order`` with
                                       ``ordering.permutation(len(order), seed)``, faster

``runner.run_epoch`` must leave the parameters consistent (after the last
completed example or mini-batch) when it is interrupted.
"""

import dataclasses
import math
import numbers
import sys

import numpy as np

from . import _names
from ._validation import (
    Boolean,
    Callable,
    Interval,
    OneOf,
    as_float_matrix,
    as_targets,
    validate_params,
)
from .errors import DivergenceError
from .ordering import ExampleOrder

__all__ = ["History", "TRAIN_CONSTRAINTS", "TrainSetup", "prepare", "run", "record_diagnostics"]

_Real, _Int = numbers.Real, numbers.Integral

TRAIN_CONSTRAINTS = {
    "learning_rate": Interval(_Real, 0, None, closed="neither"),
    "epochs": Interval(_Int, 1, None, closed="left"),
    "shuffle": Boolean(),
    "seed": Interval(_Int, 0, None, closed="left", allow_none=True),
    "momentum": Interval(_Real, 0, 1, closed="left"),
    "loss": OneOf(*_names.LOSSES),
    "batch_size": Interval(_Int, 1, None, closed="left"),
    "weight_decay": Interval(_Real, 0, None, closed="left"),
    "max_grad_norm": Interval(_Real, 0, None, closed="neither", allow_none=True),
    "target_error": Interval(_Real, 0, None, closed="left", allow_none=True),
    "patience": Interval(_Int, 1, None, closed="left", allow_none=True),
    "restore_best": Boolean(),
    "callback": Callable(),
    "progress": Boolean(),
    "diagnostics": Boolean(),
}


@dataclasses.dataclass
class History:
    """What happened during ``train``.

    Epochs are numbered from 1 everywhere (``best_epoch``, the ``epoch`` given to
    callbacks, ``DivergenceError.epoch``).

    Attributes
    ----------
    train_error : list of float
        Per epoch, the loss summed over the epoch's examples, each taken from that
        example's forward pass before its update (for the default squared error
        this is the lecture's E of eq. (1)).
    val_error : list of float
        Per epoch, the same loss summed over the validation set after the epoch
        (empty without ``validation``).
    epochs_run : int
    best_epoch : int or None
        The epoch with the lowest validation error (None without ``validation``).
    stop_reason : str or None
        ``"epochs"``, ``"target_error"``, ``"early_stopping"`` or ``"callback"``;
        ``"diverged"`` in the history that a ``DivergenceError`` carries.
    grad_norm : list of list of float
        With ``diagnostics=True``, per epoch and per weight layer (input side
        first): the root mean square over the epoch's examples of the Euclidean
        norm of that layer's weight gradient, ‖δ_l‖·‖x_l‖ for one example
        (δ_l the deltas of the layer's units, x_l its inputs; biases left out).
        Empty without ``diagnostics``.
    saturation : list of list of float
        With ``diagnostics=True``, per epoch and per hidden layer: the fraction
        of that layer's unit outputs over the epoch's examples (forward passes
        before each update) in the flat part of the activation, where f'(net)
        is nearly 0: sigmoid o < 0.01 or o > 0.99, tanh |o| > 0.99, relu o = 0.
        Empty without ``diagnostics`` or hidden layers.
    """

    train_error: list = dataclasses.field(default_factory=list)
    val_error: list = dataclasses.field(default_factory=list)
    epochs_run: int = 0
    best_epoch: "int | None" = None
    stop_reason: "str | None" = None
    grad_norm: list = dataclasses.field(default_factory=list)
    saturation: list = dataclasses.field(default_factory=list)

    def diagnose(self, baseline=None):
        """Findings about this run: which of the lecture's Table 3 problems
        (vanishing or exploding gradients, overfitting, slow convergence), or
        divergence, or no learning, with the evidence in numbers and the
        options of ``train`` that remedy it. An empty list means no finding.
        ``baseline``: the summed training loss of always outputting the mean
        target (``bpcore.diagnostics.baseline_error(T, loss)``), to report a run
        that ends above it. The rules are :func:`bpcore.diagnostics.diagnose`
        (docs/diagnostics.md)."""
        from .diagnostics import diagnose

        return diagnose(self, baseline)


# The flat part of each hidden activation (History.saturation): a unit output o
# counts as saturated where SATURATED[activation](o) is true.
SATURATED = {
    "sigmoid": lambda o: o < 0.01 or o > 0.99,
    "tanh": lambda o: abs(o) > 0.99,
    "relu": lambda o: o == 0.0,
}


def record_diagnostics(history, buffer, n_examples, layer_sizes):
    """Append one epoch's diagnostics to ``history`` from the summed buffer that
    a runner fills during the epoch, and zero the buffer for the next epoch.

    ``buffer`` has 2·L entries for L weight layers (the kernels' layout):
    ``buffer[l]`` sums ‖δ_l‖²·‖x_l‖² over the epoch's examples (l < L) and
    ``buffer[L + l]`` counts the saturated outputs of hidden layer l + 1
    (l < L − 1)."""
    L = len(layer_sizes) - 1
    history.grad_norm.append([math.sqrt(float(buffer[l]) / n_examples) for l in range(L)])
    history.saturation.append(
        [float(buffer[L + l]) / (n_examples * layer_sizes[l + 1]) for l in range(L - 1)]
    )
    buffer[:] = [0.0] * len(buffer)


@dataclasses.dataclass
class TrainSetup:
    """Checked options and data, ready for a runner."""

    X: object
    T: object
    X_val: object
    T_val: object
    options: dict
    layer_sizes: tuple = ()


def check_network(net):
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a bpcore.Network; got {type(net).__name__}")


def check_targets(net, loss, T, name="T"):
    """Targets the loss can be computed for: probabilities for cross-entropy;
    for squared error, small enough that ½(t − o)² does not overflow."""
    if loss == "cross_entropy":
        if (T < 0).any() or (T > 1).any():
            raise ValueError(
                f"loss='cross_entropy' needs targets in [0, 1] (class probabilities); "
                f"{name} has values in [{T.min()}, {T.max()}]"
            )
        return
    limit = np.sqrt(np.finfo(net.dtype).max) / 4
    largest = np.abs(T).max()
    if largest > limit:
        raise ValueError(
            f"{name} has targets up to {largest:.3g} in magnitude: their squared error overflows "
            f"{net.dtype.name}. Scale the targets to below {limit:.3g} (standardise them)."
        )


def prepare(net, X, T, options):
    """Check every option and array for ``net``; convert the arrays to
    C-contiguous arrays of the network's dtype (no copy when they already are).
    Nothing about the network changes here."""
    check_network(net)
    validation = options.pop("validation")
    opts = validate_params(TRAIN_CONSTRAINTS, options)
    _names.check_loss_output(opts["loss"], net.output_activation)
    X = as_float_matrix(X, net.dtype, n_columns=net.n_inputs)
    T = as_targets(T, net.dtype, n_examples=X.shape[0], n_outputs=net.n_outputs)
    X_val = T_val = None
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError(
                f"validation must be a pair (X_val, T_val); got {type(validation).__name__}"
            )
        X_val, T_val = validation
        X_val = as_float_matrix(X_val, net.dtype, name="X_val", n_columns=net.n_inputs)
        T_val = as_targets(
            T_val, net.dtype, name="T_val", n_examples=X_val.shape[0], n_outputs=net.n_outputs
        )
    elif opts["patience"] is not None:
        raise ValueError("patience needs validation=(X_val, T_val) to watch")
    for name, targets in (("T", T), ("T_val", T_val)):
        if targets is not None:
            check_targets(net, opts["loss"], targets, name)
    net._sync()
    # Data that is (a view of) the network's own parameters would change under
    # the kernels' feet while they train: give them a copy.
    X, T = (a.copy() if np.shares_memory(a, net._params) else a for a in (X, T))
    return TrainSetup(X, T, X_val, T_val, opts, net.layer_sizes)


def prepare_error(net, X, T, loss, dtype=None):
    """Checked arrays of ``dtype`` (default: the network's) for ``total_error``:
    the same refusals as ``train`` for the network, the data, the loss and the
    targets."""
    check_network(net)
    dtype = net.dtype if dtype is None else dtype
    OneOf(*_names.LOSSES).check("loss", loss)
    _names.check_loss_output(loss, net.output_activation)
    X = as_float_matrix(X, dtype, n_columns=net.n_inputs)
    T = as_targets(T, dtype, n_examples=X.shape[0], n_outputs=net.n_outputs)
    if loss == "cross_entropy":
        check_targets(net, loss, T)
    net._sync()
    return X, T


class _Progress:
    """A progress bar over epochs (tqdm when installed, else one line per epoch
    on stderr)."""

    def __init__(self, enabled, epochs):
        self.bar = None
        self.enabled = enabled
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=epochs, unit="epoch")

    def update(self, epoch, history):
        if not self.enabled:
            return
        text = f"train {history.train_error[-1]:.6g}"
        if history.val_error:
            text += f"  val {history.val_error[-1]:.6g}"
        if self.bar is None:
            print(f"epoch {epoch}: {text}", file=sys.stderr)
        else:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run(setup, runner):
    """The epoch loop shared by both trainers: run epochs until a stopping rule
    fires, keep the history, guard against divergence; the runner commits its
    parameters to the network however the loop ends."""
    opts = setup.options
    history = History()
    order = ExampleOrder(setup.X.shape[0], shuffle=opts["shuffle"], seed=opts["seed"],
                         permute=getattr(runner, "permute", None))
    best_val, best_params = math.inf, None
    progress = _Progress(opts["progress"], opts["epochs"])
    # The weights after the last finite epoch, taken before the callback runs
    # (a callback that damages the weights must not become the fallback).
    last_good = runner.snapshot()
    try:
        for epoch in range(1, opts["epochs"] + 1):
            error = runner.run_epoch(order.next_epoch())
            if not (math.isfinite(error) and runner.finite()):
                runner.restore(last_good)
                history.stop_reason = "diverged"
                raise DivergenceError(
                    f"training diverged in epoch {epoch}: the training error became "
                    f"{error!r}. The network holds the weights after epoch {epoch - 1}; "
                    f"try a smaller learning_rate (it was {opts['learning_rate']!r}) "
                    "or set max_grad_norm.",
                    epoch=epoch,
                    history=history,
                )
            history.train_error.append(error)
            history.epochs_run = epoch
            if opts["diagnostics"]:
                record_diagnostics(history, runner.diagnostics, setup.X.shape[0], setup.layer_sizes)
            last_good = runner.snapshot()
            if setup.X_val is not None:
                val = runner.error(setup.X_val, setup.T_val)
                history.val_error.append(val)
                if val < best_val:
                    best_val, history.best_epoch = val, epoch
                    if opts["restore_best"]:
                        best_params = runner.snapshot()
            progress.update(epoch, history)
            if opts["target_error"] is not None and error < opts["target_error"]:
                history.stop_reason = "target_error"
            elif (
                opts["patience"] is not None
                and epoch - (history.best_epoch or 0) >= opts["patience"]
            ):
                history.stop_reason = "early_stopping"
            elif opts["callback"] is not None and opts["callback"](epoch, history) is False:
                history.stop_reason = "callback"
            if history.stop_reason is not None:
                break
        else:
            history.stop_reason = "epochs"
        if best_params is not None:
            runner.restore(best_params)
    finally:
        progress.close()
        runner.commit()
    return history


def make_train(runner_class, module, doc):
    """The public ``train`` function of a trainer: one signature for both."""

    def train(
        net,
        X,
        T,
        *,
        learning_rate=0.1,
        epochs=1,
        shuffle=True,
        seed=None,
        momentum=0.0,
        loss="squared_error",
        batch_size=1,
        weight_decay=0.0,
        max_grad_norm=None,
        target_error=None,
        validation=None,
        patience=None,
        restore_best=True,
        callback=None,
        progress=False,
        diagnostics=False,
    ):
        given = locals()
        options = {name: given[name] for name in (*TRAIN_CONSTRAINTS, "validation")}
        check_network(net)
        with net._exclusive():  # before prepare: it adopts hand-replaced weights
            setup = prepare(net, X, T, options)
            return run(setup, runner_class(net, setup))

    train.__module__ = module
    train.__doc__ = doc + TRAIN_OPTIONS_DOC
    return train


TRAIN_OPTIONS_DOC = """
    Parameters
    ----------
    net : Network
        Trained in place.
    X : array-like of shape (n_examples, n_inputs)
    T : array-like of shape (n_examples, n_outputs), or (n_examples,) for one output
    learning_rate : float > 0
        η of the lecture: Δw_ji = η δ_j x_ji.
    epochs : int >= 1
        Passes over the data (§9.1, stopping rule 1).
    shuffle : bool
        Visit the examples in a fresh random order every epoch (False: given order).
    seed : int or None
        Seed of the example order; the same seed gives both trainers the same order.
    momentum : float in [0, 1)
        α in Δw(n) = η δ x + α Δw(n−1), for weights and biases.
    loss : {"squared_error", "cross_entropy"}
        ``"squared_error"`` is the lecture's E; ``"cross_entropy"`` is binary
        cross-entropy for sigmoid outputs and categorical for softmax outputs
        (both give the output delta δ_k = t_k − o_k).
    batch_size : int >= 1
        1 is the lecture's per-example SGD; larger values average the gradient
        over mini-batches of that many examples (the last one may be smaller).
    weight_decay : float >= 0
        L2 penalty λ on the weights (not the biases): Δw = η (δ x − λ w) + α Δw(n−1).
    max_grad_norm : float > 0 or None
        Clip the gradient of each step to this Euclidean norm (over all weights
        and biases) before the update.
    target_error : float >= 0 or None
        Stop once an epoch's training error falls below it (§9.1, rule 3).
    validation : (X_val, T_val) or None
        Data whose error is recorded after every epoch (§9.1, rule 2).
    patience : int >= 1 or None
        With ``validation``: stop when the validation error has not improved for
        this many epochs (§9.1, rule 4).
    restore_best : bool
        With ``validation``: end with the weights of the epoch with the lowest
        validation error.
    callback : callable(epoch, history) or None
        Called after every epoch (epochs count from 1); returning ``False`` stops
        training (``None`` continues).
    progress : bool
        Show a progress bar over epochs (tqdm if installed).
    diagnostics : bool
        Record ``History.grad_norm`` and ``History.saturation`` every epoch
        (off by default: counting per example slows the compiled trainer by more
        than 3%). ``History.diagnose()`` uses them (docs/diagnostics.md).

    Returns
    -------
    History

    Raises
    ------
    ValueError, TypeError
        For bad arguments, before any weight changes.
    DivergenceError
        When the training error becomes NaN or infinite; the network then holds
        the weights of the last finite epoch.
    RuntimeError
        When another thread is training the same network.
    KeyboardInterrupt
        The network holds the weights after the last completed example (or
        mini-batch).
"""
