"""What both trainers share: the options of ``train`` (one table: default,
constraint, documentation), their checks, the ``History`` they return, and the
epoch loop with its stopping rules (§9.1).

Each trainer defines its public ``train`` as an ordinary function whose
signature repeats the table's defaults (checked at import by
:func:`train_function`) and whose body is ``fit(runner_class, net, X, T,
locals())``. It supplies only a *runner*, which owns the parameters while
training and knows how to run one epoch over a given example order:

    runner.set_learning_rate(rate)     the learning rate of the next epochs (set
                                       before every epoch: lr_schedule)
    runner.run_epoch(order) -> float   training error of the epoch (summed loss)
    runner.outputs(X) -> array         the network's outputs for X with the
                                       current parameters (bit_fail_limit)
    runner.error(X, T) -> float        summed loss on other data (validation)
    runner.snapshot() -> object        a copy of the current parameters
    runner.restore(snapshot)           go back to a snapshot
    runner.finite() -> bool            are all parameters finite (and, for a
                                       float32 network, within float32's range)?
    runner.commit()                    make the network hold the current
                                       parameters: before every callback, and
                                       once when training ends, however it ends
    runner.reload()                    take the network's parameter buffer as the
                                       current parameters, after a callback
                                       (which may have changed them; the loop has
                                       already brought arrays it put into
                                       net.weights / net.biases into the buffer)

``runner.run_epoch`` must leave the parameters consistent (after the last
completed example or mini-batch) when it is interrupted.
"""

import dataclasses
import inspect
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
    RealPair,
    as_float_matrix,
    as_targets,
    validate_params,
)
from .errors import DivergenceError
from .network import check_network
from .ordering import ExampleOrder

__all__ = [
    "History",
    "OPTIONS",
    "TRAIN_CONSTRAINTS",
    "TRAIN_DEFAULTS",
    "TrainSetup",
    "LearningRate",
    "bit_fail",
    "fit",
    "prepare",
    "run",
    "train_function",
    "record_diagnostics",
]

_Real, _Int = numbers.Real, numbers.Integral

# The named learning-rate schedules (``lr_schedule``); a callable is the fourth kind.
LR_SCHEDULES = ("constant", "invscaling", "adaptive")


class Schedule:
    """The constraint of ``lr_schedule``: one of :data:`LR_SCHEDULES`, or a
    callable ``(epoch, history) -> learning rate``."""

    def check(self, name, value):
        if callable(value):
            return value
        if not isinstance(value, str) or value not in LR_SCHEDULES:
            allowed = ", ".join(repr(s) for s in LR_SCHEDULES)
            raise ValueError(
                f"{name} must be one of {allowed} or a callable (epoch, history) -> learning "
                f"rate; got {value!r}"
            )
        return value


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of ``train``: its default, its constraint (None: checked by
    :func:`prepare` itself) and its entry in the docstring (``kind`` after the
    name, then ``doc``)."""

    default: object
    constraint: object
    kind: str
    doc: str


# The one table of train's options, in signature order. Both trainers' ``def
# train`` repeat these defaults (train_function checks them at import), the
# docstrings' Parameters section is built from it, and train_many /
# train_hogwild take their option names and defaults from it.
OPTIONS = {
    "learning_rate": Option(
        0.1, Interval(_Real, 0, None, closed="neither"), "float > 0",
        "η of the lecture: Δw_ji = η δ_j x_ji.",
    ),
    "epochs": Option(
        1, Interval(_Int, 1, None, closed="left"), "int >= 1",
        "Passes over the data (§9.1, stopping rule 1).",
    ),
    "shuffle": Option(
        True, Boolean(), "bool",
        "Visit the examples in a fresh random order every epoch (False: given order).",
    ),
    "seed": Option(
        None, Interval(_Int, 0, None, closed="left", allow_none=True), "int or None",
        "Seed of the example order; the same seed gives both trainers the same order.",
    ),
    "momentum": Option(
        0.0, Interval(_Real, 0, 1, closed="left"), "float in [0, 1)",
        "α in Δw(n) = η δ x + α Δw(n−1), for weights and biases (SGD); RMSprop's\n"
        "momentum (PyTorch's). Not for Adam (its first moment is ``betas[0]``).",
    ),
    "loss": Option(
        "squared_error", OneOf(*_names.LOSSES), "{" + ", ".join(f'"{n}"' for n in _names.LOSSES) + "}",
        "``\"squared_error\"`` is the lecture's E; ``\"cross_entropy\"`` is binary\n"
        "cross-entropy for sigmoid outputs and categorical for softmax outputs\n"
        "(both give the output delta δ_k = t_k − o_k; with softmax outputs each\n"
        "row of T must therefore sum to 1).",
    ),
    "batch_size": Option(
        1, Interval(_Int, 1, None, closed="left"), "int >= 1",
        "1 is the lecture's per-example SGD; larger values average the gradient\n"
        "over mini-batches of that many examples (the last one may be smaller).",
    ),
    "weight_decay": Option(
        0.0, Interval(_Real, 0, None, closed="left"), "float >= 0",
        "L2 penalty λ on the weights (not the biases): Δw = η (δ x − λ w) + α Δw(n−1);\n"
        "for Adam and RMSprop λ w is added to the gradient (PyTorch's ``weight_decay``).",
    ),
    "max_grad_norm": Option(
        None, Interval(_Real, 0, None, closed="neither", allow_none=True), "float > 0 or None",
        "Clip the gradient of each step to this Euclidean norm (over all weights\n"
        "and biases) before the update.",
    ),
    # ---- learning-rate schedules and bit-fail stopping (issue 14)
    "lr_schedule": Option(
        "constant", Schedule(), '{"constant", "invscaling", "adaptive"} or callable(epoch, history)',
        "The learning rate of each epoch (``History.learning_rate`` records it).\n"
        "``\"constant\"``: ``learning_rate`` throughout. ``\"invscaling\"``:\n"
        "scikit-learn's rule, after every epoch η = learning_rate / (t + 1) ** power_t\n"
        "with t the examples seen so far. ``\"adaptive\"``: scikit-learn's rule,\n"
        "η is divided by 5 once the epoch's mean training error (per example) has\n"
        "not fallen below the best so far minus ``tol`` for more than\n"
        "``n_iter_no_change`` epochs in a row; when η is already <= 1e-6, training\n"
        "stops instead (``stop_reason=\"no_improvement\"``). A callable gives the\n"
        "rate of epoch ``epoch`` (counted from 1) before it runs, from the history\n"
        "of the epochs before; it must return a finite number > 0, and\n"
        "``learning_rate`` is then unused (leave it at its default).",
    ),
    "power_t": Option(
        0.5, Interval(_Real, 0, None, closed="left"), "float >= 0",
        "The exponent of ``lr_schedule=\"invscaling\"`` (refused with other schedules).",
    ),
    "tol": Option(
        1e-4, Interval(_Real, 0, None, closed="left"), "float >= 0",
        "The improvement ``lr_schedule=\"adaptive\"`` asks of the mean training\n"
        "error (refused with other schedules).",
    ),
    "n_iter_no_change": Option(
        10, Interval(_Int, 1, None, closed="left"), "int >= 1",
        "Epochs without improvement ``lr_schedule=\"adaptive\"`` tolerates before\n"
        "it divides the rate by 5 (refused with other schedules; not ``patience``,\n"
        "which watches the validation error).",
    ),
    "bit_fail_limit": Option(
        None, Interval(_Real, 0, None, closed="neither", allow_none=True), "float > 0 or None",
        "Record ``History.bit_fail`` after every epoch: the number of outputs, over\n"
        "the training set, with |t_k − o_k| >= bit_fail_limit (FANN's bit fail),\n"
        "from a forward pass with the weights the epoch ended with.",
    ),
    "target_bit_fail": Option(
        None, Interval(_Int, 0, None, closed="left", allow_none=True), "int >= 0 or None",
        "With ``bit_fail_limit``: stop once an epoch's bit-fail count is at or\n"
        "below it (FANN's ``FANN_STOPFUNC_BIT``; ``stop_reason=\"target_bit_fail\"``).",
    ),
    # ---- end of the issue 14 block
    "optimizer": Option(
        "sgd", OneOf(*_names.OPTIMIZERS), "{" + ", ".join(f'"{n}"' for n in _names.OPTIMIZERS) + "}",
        "``\"sgd\"`` is the lecture's gradient descent (with ``momentum``,\n"
        "``nesterov``); ``\"adam\"`` is Adam (``betas``, ``eps``; AdamW with\n"
        "``decoupled_weight_decay``); ``\"rmsprop\"`` is RMSprop (``rho``, ``eps``,\n"
        "``centered``, ``momentum``). Adam and RMSprop follow PyTorch's formulas\n"
        "(docs/algorithm.md). The optimizer's state starts at zero on every call.",
    ),
    "nesterov": Option(
        False, Boolean(), "bool",
        "SGD with ``momentum`` > 0 only: Nesterov momentum, w ← w + α v(n) + η g\n"
        "with the velocity v(n) = α v(n−1) + η g.",
    ),
    "betas": Option(
        (0.9, 0.999), RealPair(0, 1), "(float, float), each in [0, 1)",
        "Adam only: (β1, β2), the decay rates of the first and second moments.",
    ),
    "eps": Option(
        1e-8, Interval(_Real, 0, None, closed="neither"), "float > 0",
        "Adam and RMSprop only: ε, added to the root of the second moment.",
    ),
    "rho": Option(
        0.99, Interval(_Real, 0, 1, closed="left"), "float in [0, 1)",
        "RMSprop only: ρ, the decay rate of the squared gradients' average\n"
        "(PyTorch's ``alpha``).",
    ),
    "centered": Option(
        False, Boolean(), "bool",
        "RMSprop only: divide by the root of the gradient's variance estimate\n"
        "instead of its second moment.",
    ),
    "decoupled_weight_decay": Option(
        False, Boolean(), "bool",
        "Adam only: AdamW's decoupled weight decay, w ← w (1 − η λ) before each\n"
        "step, instead of λ w added to the gradient.",
    ),
    "target_error": Option(
        None, Interval(_Real, 0, None, closed="left", allow_none=True), "float >= 0 or None",
        "Stop once an epoch's training error falls below it (§9.1, rule 3).",
    ),
    "validation": Option(
        None, None, "(X_val, T_val) or None",
        "Data whose error is recorded after every epoch (§9.1, rule 2).",
    ),
    "patience": Option(
        None, Interval(_Int, 1, None, closed="left", allow_none=True), "int >= 1 or None",
        "With ``validation``: stop when the validation error has not improved for\n"
        "this many epochs (§9.1, rule 4).",
    ),
    "restore_best": Option(
        True, Boolean(), "bool",
        "With ``validation``: end with the weights of the epoch with the lowest\n"
        "validation error.",
    ),
    "callback": Option(
        None, Callable(), "callable(epoch, history) or None",
        "Called after every epoch (epochs count from 1), with the network holding\n"
        "that epoch's weights; changes it makes to them are trained on. Returning\n"
        "``False`` stops training (``None`` continues).",
    ),
    "progress": Option(
        False, Boolean(), "bool",
        "Show a progress bar over epochs (tqdm if installed).",
    ),
    "diagnostics": Option(
        False, Boolean(), "bool",
        "Record ``History.grad_norm`` and ``History.saturation`` every epoch\n"
        "(off by default: counting per example slows the compiled trainer by more\n"
        "than 3%). ``History.diagnose()`` uses them (docs/diagnostics.md).",
    ),
}

TRAIN_DEFAULTS = {name: option.default for name, option in OPTIONS.items()}
TRAIN_CONSTRAINTS = {
    name: option.constraint for name, option in OPTIONS.items() if option.constraint is not None
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
        ``"epochs"``, ``"target_error"``, ``"target_bit_fail"``,
        ``"early_stopping"``, ``"callback"`` or (``lr_schedule="adaptive"``)
        ``"no_improvement"``; ``"diverged"`` in the history that a
        ``DivergenceError`` carries.
    learning_rate : list of float
        Per epoch, the learning rate it trained with (``lr_schedule``).
    bit_fail : list of int
        With ``bit_fail_limit``, per epoch: the outputs over the training set
        with |t_k − o_k| >= bit_fail_limit, from a forward pass after the
        epoch's last update (before the callback). Empty without it.
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
    learning_rate: list = dataclasses.field(default_factory=list)
    bit_fail: list = dataclasses.field(default_factory=list)

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

    net: object
    X: object
    T: object
    X_val: object
    T_val: object
    options: dict


# |Σ_k t_k − 1| allowed in a target row for softmax with cross-entropy (see
# docs/algorithm.md, "Softmax targets"): ten times what rounding a normalised
# row to float32 can cost, far below any target that is not meant to sum to 1.
ROW_SUM_TOLERANCE = 1e-6


def check_targets(net, loss, T, name="T"):
    """Targets the loss can be computed for and trained on: probabilities for
    cross-entropy, summing to 1 per row for softmax outputs (their output delta
    δ_k = t_k − o_k is the gradient only then); for squared error, small enough
    that ½(t − o)² does not overflow."""
    if loss == "cross_entropy":
        if (T < 0).any() or (T > 1).any():
            raise ValueError(
                f"loss='cross_entropy' needs targets in [0, 1] (class probabilities); "
                f"{name} has values in [{T.min()}, {T.max()}]"
            )
        if net.output_activation == "softmax":
            _check_row_sums(T, name)
        return
    limit = np.sqrt(np.finfo(net.dtype).max) / 4
    largest = np.abs(T).max()
    if largest > limit:
        raise ValueError(
            f"{name} has targets up to {largest:.3g} in magnitude: their squared error overflows "
            f"{net.dtype.name}. Scale the targets to below {limit:.3g} (standardise them)."
        )


def _check_row_sums(T, name):
    sums = T.sum(axis=1, dtype=np.float64)  # exact enough for the test whatever T's dtype
    bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
    if bad.size:
        shown = ", ".join(f"{i} (sums to {sums[i]:.9g})" for i in bad[:5])
        more = f", … ({bad.size} rows in all)" if bad.size > 5 else ""
        raise ValueError(
            f"softmax outputs with loss='cross_entropy' need each row of {name} to sum to 1 "
            f"(a probability distribution over the classes, within {ROW_SUM_TOLERANCE:g}); "
            f"rows {shown}{more} do not. Normalise the rows, or use sigmoid outputs for "
            "targets that are independent probabilities (multi-label)"
        )


# The options that only some optimizers read: a value other than the default
# with another optimizer would be ignored, so it is refused.
OPTIMIZER_ONLY = {
    "betas": ("adam",),
    "eps": ("adam", "rmsprop"),
    "rho": ("rmsprop",),
    "centered": ("rmsprop",),
    "decoupled_weight_decay": ("adam",),
    "nesterov": ("sgd",),
    "momentum": ("sgd", "rmsprop"),
}


def check_optimizer_options(opts):
    """Refuse option values that the chosen optimizer would ignore, and Nesterov
    without momentum."""
    optimizer = opts["optimizer"]
    for name, users in OPTIMIZER_ONLY.items():
        if optimizer not in users and opts[name] != OPTIONS[name].default:
            only = " and ".join(f"optimizer={u!r}" for u in users)
            hint = " (Adam's first moment is betas[0])" if name == "momentum" else ""
            raise ValueError(
                f"{name}={opts[name]!r} applies only to {only}; with optimizer={optimizer!r} it "
                f"would be ignored{hint}. Leave {name} at its default "
                f"({OPTIONS[name].default!r}) or choose that optimizer"
            )
    if opts["nesterov"] and opts["momentum"] == 0:
        raise ValueError(
            "nesterov=True needs momentum > 0 (a float in (0, 1), e.g. momentum=0.9); "
            "got momentum=0.0"
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
    check_schedule_options(opts)
    check_optimizer_options(opts)
    for name, targets in (("T", T), ("T_val", T_val)):
        if targets is not None:
            check_targets(net, opts["loss"], targets, name)
    net._sync()
    # Data that is (a view of) the network's own parameters would change under
    # the kernels' feet while they train: give them a copy.
    X, T = (a.copy() if np.shares_memory(a, net._params) else a for a in (X, T))
    return TrainSetup(net, X, T, X_val, T_val, opts)


# The options each named schedule uses beyond learning_rate (a callable uses none,
# not even learning_rate).
_SCHEDULE_USES = {"constant": (), "invscaling": ("power_t",), "adaptive": ("tol", "n_iter_no_change")}


def check_schedule_options(opts):
    """Refuse what the chosen ``lr_schedule`` would silently ignore (an option
    of another schedule given a value other than its default), and
    ``target_bit_fail`` without ``bit_fail_limit``."""
    schedule = opts["lr_schedule"]
    named = schedule if isinstance(schedule, str) else None
    uses = _SCHEDULE_USES.get(named, ())
    shown = repr(named) if named else "a callable"
    for name in ("power_t", "tol", "n_iter_no_change"):
        if name not in uses and opts[name] != TRAIN_DEFAULTS[name]:
            users = [s for s, options in _SCHEDULE_USES.items() if name in options]
            raise ValueError(
                f"{name}={opts[name]!r} is only used with lr_schedule={users[0]!r}; lr_schedule is "
                f"{shown}, so leave {name} at its default ({TRAIN_DEFAULTS[name]!r})"
            )
    if named is None and opts["learning_rate"] != TRAIN_DEFAULTS["learning_rate"]:
        raise ValueError(
            f"learning_rate={opts['learning_rate']!r} is not used with a callable lr_schedule "
            "(it gives every epoch's rate); leave learning_rate at its default"
        )
    if opts["target_bit_fail"] is not None and opts["bit_fail_limit"] is None:
        raise ValueError(
            f"target_bit_fail={opts['target_bit_fail']!r} needs bit_fail_limit: the bit-fail count "
            "is the number of outputs with |t - o| >= bit_fail_limit"
        )


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


class LearningRate:
    """The named schedules of ``lr_schedule`` (scikit-learn's rules, from
    ``sklearn/neural_network``: ``SGDOptimizer.iteration_ends`` and
    ``trigger_stopping``, ``BaseMultilayerPerceptron._update_no_improvement_count``
    and the end of an epoch in ``_fit_stochastic``). ``rate`` is the rate of the
    next epoch; :meth:`epoch_ended` moves it on, from the epoch's mean training
    error per example (scikit-learn's ``loss_``), and says whether to stop."""

    # scikit-learn's trigger_stopping: an adaptive rate this small is not divided again.
    SMALLEST = 1e-6

    def __init__(self, opts, n_examples):
        self.schedule = opts["lr_schedule"]
        self.initial = self.rate = opts["learning_rate"]
        self.power_t, self.tol, self.n_iter_no_change = opts["power_t"], opts["tol"], opts["n_iter_no_change"]
        self.n_examples = n_examples
        self.examples_seen = 0  # scikit-learn's t_
        self.best_loss = math.inf
        self.no_improvement = 0

    def epoch_ended(self, mean_loss):
        """Move ``rate`` on after an epoch; True: stop (adaptive, no improvement
        and the rate already at most 1e-6)."""
        self.examples_seen += self.n_examples
        if mean_loss > self.best_loss - self.tol:
            self.no_improvement += 1
        else:
            self.no_improvement = 0
        if mean_loss < self.best_loss:
            self.best_loss = mean_loss
        if self.schedule == "invscaling":
            self.rate = float(self.initial) / (self.examples_seen + 1) ** self.power_t
        if self.schedule == "adaptive" and self.no_improvement > self.n_iter_no_change:
            if self.rate <= self.SMALLEST:
                return True
            self.rate /= 5.0
            self.no_improvement = 0
        return False


def bit_fail(T, outputs, limit):
    """FANN's bit fail: how many outputs o_k differ from their target t_k by
    ``limit`` or more (``fann_update_MSE``: ``fann_abs(neuron_diff) >=
    ann->bit_fail_limit``), over all examples and outputs."""
    difference = np.abs(np.asarray(T, dtype=np.float64) - np.asarray(outputs, dtype=np.float64))
    return int(np.count_nonzero(difference >= limit))


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
    schedule = LearningRate(opts, setup.X.shape[0])
    # The weights after the last finite epoch, taken before the callback runs
    # (a callback that damages the weights must not become the fallback).
    last_good = runner.snapshot()
    try:
        for epoch in range(1, opts["epochs"] + 1):
            if callable(opts["lr_schedule"]):
                rate = _checked_rate(
                    _call_user(opts["lr_schedule"], "lr_schedule", epoch, history, setup, runner,
                               last_good),
                    epoch,
                )
            else:
                rate = schedule.rate
            runner.set_learning_rate(rate)
            error = runner.run_epoch(order.next_epoch())
            if not (math.isfinite(error) and runner.finite()):
                runner.restore(last_good)
                history.stop_reason = "diverged"
                raise DivergenceError(
                    f"training diverged in epoch {epoch}: {_what_diverged(error, setup)}. "
                    f"The network holds the weights after epoch {epoch - 1}; "
                    f"try a smaller learning_rate (epoch {epoch} trained with {rate!r}) "
                    "or set max_grad_norm.",
                    epoch=epoch,
                    history=history,
                )
            history.train_error.append(error)
            history.learning_rate.append(rate)
            history.epochs_run = epoch
            if opts["diagnostics"]:
                record_diagnostics(history, runner.diagnostics, setup.X.shape[0], setup.net.layer_sizes)
            if opts["bit_fail_limit"] is not None:
                history.bit_fail.append(bit_fail(setup.T, runner.outputs(setup.X), opts["bit_fail_limit"]))
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
            elif opts["target_bit_fail"] is not None and history.bit_fail[-1] <= opts["target_bit_fail"]:
                history.stop_reason = "target_bit_fail"
            elif (
                opts["patience"] is not None
                and epoch - (history.best_epoch or 0) >= opts["patience"]
            ):
                history.stop_reason = "early_stopping"
            elif opts["callback"] is not None and _call_user(
                opts["callback"], "callback", epoch, history, setup, runner, last_good
            ) is False:
                history.stop_reason = "callback"
            elif schedule.epoch_ended(error / setup.X.shape[0]):
                history.stop_reason = "no_improvement"
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


def _checked_rate(rate, epoch):
    """The learning rate a callable ``lr_schedule`` returned for ``epoch``: a
    finite real number > 0 (else a TypeError/ValueError naming the epoch and
    the value; the network keeps the weights after the epoch before)."""
    after = (f"The network holds the weights after epoch {epoch - 1}." if epoch > 1
             else "The network is unchanged (no epoch ran).")
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, _Real):
        raise TypeError(
            f"lr_schedule returned {rate!r} ({type(rate).__name__}) for epoch {epoch}; it must "
            f"return the epoch's learning rate, a finite real number > 0. {after}"
        )
    value = float(rate)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"lr_schedule returned {rate!r} for epoch {epoch}; it must return the epoch's "
            f"learning rate, a finite real number > 0. {after}"
        )
    return value


def _what_diverged(error, setup):
    """What became non-finite in an epoch: the loss, or (with a finite loss)
    the parameters."""
    if not math.isfinite(error):
        return f"the training error became {error!r}"
    return (
        f"some weights or biases became NaN or too large for {setup.X.dtype.name} "
        f"(the training error, {error!r}, was finite)"
    )


def _call_user(function, name, epoch, history, setup, runner, last_good):
    """Call ``function(epoch, history)`` (the ``callback``, or a callable
    ``lr_schedule``) with the network holding the current weights, then go on
    from whatever weights it left there (a max-norm constraint, say). Weights
    it made non-finite end training like a divergence, with the weights as they
    were before it ran (``last_good``)."""
    runner.commit()
    answer = function(epoch, history)
    try:  # arrays it put into net.weights / net.biases go into the buffer, checked
        setup.net._adopt_replaced()
    except ValueError as error:
        raise ValueError(f"the {name} of epoch {epoch} changed the network: {error}") from None
    runner.reload()
    if not runner.finite():
        runner.restore(last_good)
        raise DivergenceError(
            f"the {name} of epoch {epoch} left NaN or infinity in the network's weights or "
            f"biases. The network holds the weights after epoch {_last_good_epoch(name, epoch)}, "
            f"as they were before the {name} ran.",
            epoch=epoch,
            history=history,
        )
    return answer


def _last_good_epoch(name, epoch):
    """The epoch whose weights ``last_good`` holds when ``name`` runs in
    ``epoch``: the callback runs after its epoch, the schedule before."""
    return epoch if name == "callback" else epoch - 1


def fit(runner_class, net, X, T, given):
    """The body of both trainers' ``train``: check everything, then run the
    epoch loop with a ``runner_class(net, setup)``. ``given`` holds the
    options by name (the caller's ``locals()``; other names are ignored)."""
    options = {name: given[name] for name in OPTIONS}
    check_network(net)
    with net._exclusive():  # before prepare: it adopts hand-replaced weights
        setup = prepare(net, X, T, options)
        return run(setup, runner_class(net, setup))


def _parameters_doc():
    """The Parameters, Returns and Raises sections of ``train``'s docstring,
    built from :data:`OPTIONS` (indented for a docstring of a module-level
    function)."""
    lines = [
        "Parameters",
        "----------",
        "net : Network",
        "    Trained in place.",
        "X : array-like of shape (n_examples, n_inputs)",
        "T : array-like of shape (n_examples, n_outputs), or (n_examples,) for one output",
    ]
    for name, option in OPTIONS.items():
        lines.append(f"{name} : {option.kind}")
        lines.extend("    " + line for line in option.doc.splitlines())
    lines += _RETURNS_RAISES.splitlines()
    return "\n".join(("    " + line).rstrip() for line in lines) + "\n"


_RETURNS_RAISES = """
Returns
-------
History

Raises
------
ValueError, TypeError
    For bad arguments, before any weight changes.
DivergenceError
    When the training error or a weight or bias becomes NaN or infinite (or
    leaves the range of a float32 network), also when a callback makes a
    weight so; the network then holds the weights of the last finite epoch.
RuntimeError
    When another thread is training the same network.
KeyboardInterrupt
    The network holds the weights after the last completed example (or
    mini-batch).
"""

PARAMETERS_DOC = _parameters_doc()


def _same_default(a, b):
    return type(a) is type(b) and a == b


def train_function(train):
    """Decorator of each trainer's public ``def train``: checks (at import) that
    its signature is ``(net, X, T, *, <the options of OPTIONS, in order, with
    their defaults>)`` and appends the Parameters section built from OPTIONS to
    its docstring, so both trainers document the same options in the same
    words."""
    parameters = list(inspect.signature(train).parameters.values())
    positional = [p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    keywords = {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    if (
        positional != ["net", "X", "T"]
        or len(parameters) != 3 + len(OPTIONS)
        or list(keywords) != list(OPTIONS)
        or not all(_same_default(keywords[name], TRAIN_DEFAULTS[name]) for name in OPTIONS)
    ):
        raise TypeError(
            f"{train.__module__}.train's signature does not match _training.OPTIONS: "
            f"{inspect.signature(train)}"
        )
    train.__doc__ = train.__doc__.rstrip() + "\n\n" + PARAMETERS_DOC
    return train
