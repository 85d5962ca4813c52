"""What went wrong in a training run: the lecture's Table 3 problems, read off a
:class:`~bpcore.History`.

``diagnose(history)`` (also ``history.diagnose()``) applies a few simple rules
to the recorded curves and returns :class:`Finding` objects: the problem, the
evidence in numbers and the options of ``bpcore.train`` (or ``Network``) that
remedy it, as the lecture's Table 3 lists them. The rules and their thresholds
are the constants below; docs/diagnostics.md explains each one.

Vanishing and exploding gradients need ``History.grad_norm`` and
``History.saturation``, recorded by ``train(..., diagnostics=True)``; the other
rules read only the error curves.
"""

import dataclasses
import math

__all__ = ["Finding", "diagnose", "baseline_error"]

# Vanishing gradients: in the last epoch, the first weight layer's gradient norm
# is below this fraction of the last layer's ...
VANISHING_RATIO = 1e-3
# ... or some hidden layer has more than this fraction of its outputs saturated.
SATURATION_LIMIT = 0.9
# Exploding gradients: some layer's gradient norm (RMS over an epoch's examples)
# exceeds this, or grows by more than EXPLODING_GROWTH from epoch 1.
EXPLODING_NORM = 1e3
EXPLODING_GROWTH = 100.0
# Divergence: the error became NaN/inf, or the last epoch's training error is
# more than this multiple of the first epoch's.
DIVERGENCE_RISE = 1.5
# Overfitting: the validation error ended more than this fraction above its
# minimum while the training error kept falling after that epoch.
OVERFITTING_RISE = 0.1
# Slow convergence / no learning: a run that used all its epochs and whose
# training error fell by less than this fraction of the first epoch's.
SLOW_FALL = 0.1


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem found in a training run.

    Attributes
    ----------
    problem : str
        ``"vanishing gradients"``, ``"exploding gradients"``, ``"overfitting"``,
        ``"slow convergence"`` (the lecture's Table 3), ``"divergence"`` or
        ``"no learning"``.
    evidence : str
        What in the history shows it, with the numbers.
    remedies : tuple of str
        What to change, as the arguments of ``bpcore.train``, ``Network`` or
        ``bpcore.train_many`` that bpcore offers.
    """

    problem: str
    evidence: str
    remedies: tuple

    def __str__(self):
        return f"{self.problem}: {self.evidence}. Try: {'; '.join(self.remedies)}."


def _offered(option):
    """Whether ``bpcore.train`` takes ``option`` (remedies from later issues,
    such as dropout or Adam, are named only once they exist)."""
    from ._training import TRAIN_CONSTRAINTS

    return option in TRAIN_CONSTRAINTS


def _remedies(*candidates):
    """The remedies whose option (the text before '=') bpcore.train offers;
    ``(option, text)`` pairs name a train option, plain strings are always kept."""
    return tuple(c if isinstance(c, str) else c[1] for c in candidates if isinstance(c, str) or _offered(c[0]))


def _vanishing(history):
    if not history.grad_norm:
        return None
    norms, saturation = history.grad_norm[-1], history.saturation[-1]
    evidence = []
    if len(norms) >= 2 and norms[-1] > 0 and norms[0] < VANISHING_RATIO * norms[-1]:
        evidence.append(
            f"in epoch {len(history.grad_norm)} the first layer's gradient norm {norms[0]:.3g} is "
            f"{norms[0] / norms[-1]:.2g} of the last layer's {norms[-1]:.3g}"
        )
    if saturation and max(saturation) > SATURATION_LIMIT:
        layer = saturation.index(max(saturation)) + 1
        evidence.append(f"{max(saturation):.0%} of the outputs of hidden layer {layer} are saturated "
                        "(f'(net) ≈ 0)")
    if not evidence:
        return None
    return Finding("vanishing gradients", "; ".join(evidence), _remedies(
        'activation="relu" (Network)',
        'init="xavier" or init="he" (Network), or a smaller init_scale if units saturate',
        "fewer hidden layers",
    ))


def _exploding(history):
    if not history.grad_norm:
        return None
    largest = max(max(norms) for norms in history.grad_norm)
    first = history.grad_norm[0]
    growth = max(
        (norms[l] / first[l] for norms in history.grad_norm for l in range(len(first)) if first[l] > 0),
        default=0.0,
    )
    if largest <= EXPLODING_NORM and growth <= EXPLODING_GROWTH:
        return None
    return Finding("exploding gradients", f"a layer's gradient norm reached {largest:.3g} "
                   f"({growth:.3g}× its value in epoch 1)", _remedies(
                       ("max_grad_norm", "max_grad_norm=1.0 (clip each step's gradient)"),
                       ("learning_rate", "a smaller learning_rate= (a tenth)"),
                   ))


def _divergence(history):
    errors = history.train_error
    if history.stop_reason == "diverged":
        evidence = f"the training error became NaN or infinite in epoch {history.epochs_run + 1}"
    elif len(errors) >= 2 and errors[-1] > DIVERGENCE_RISE * errors[0]:
        evidence = f"the training error rose from {errors[0]:.4g} in epoch 1 to {errors[-1]:.4g} in epoch {len(errors)}"
    else:
        return None
    return Finding("divergence", evidence, _remedies(
        ("learning_rate", "a smaller learning_rate= (a tenth)"),
        ("max_grad_norm", "max_grad_norm=1.0"),
        "standardised inputs (mean 0, standard deviation 1)",
    ))


def _overfitting(history):
    val, train = history.val_error, history.train_error
    if len(val) < 3 or history.best_epoch is None or history.stop_reason == "early_stopping":
        return None
    best = history.best_epoch
    lowest = val[best - 1]
    if not (val[-1] > (1 + OVERFITTING_RISE) * lowest and train[-1] < train[best - 1]):
        return None
    return Finding(
        "overfitting",
        f"the validation error fell to {lowest:.4g} in epoch {best}, then rose to {val[-1]:.4g} "
        f"by epoch {len(val)} while the training error kept falling ({train[best - 1]:.4g} → {train[-1]:.4g})",
        _remedies(
            ("patience", "early stopping: patience=5 with validation= (restore_best keeps the best epoch)"),
            ("dropout", "dropout=0.2"),
            ("weight_decay", "weight_decay=1e-4"),
            "a smaller network (fewer hidden units) or more training data",
        ),
    )


def _no_progress(history):
    """Slow convergence (the error falls every epoch, but little) or no learning
    (it does not fall steadily): only for runs that used all their epochs."""
    errors = history.train_error
    if history.stop_reason != "epochs" or len(errors) < 2 or not math.isfinite(errors[0]) or errors[0] <= 0:
        return None
    fall = (errors[0] - errors[-1]) / errors[0]
    if fall >= SLOW_FALL:
        return None
    span = f"over {len(errors)} epochs the training error went from {errors[0]:.4g} to {errors[-1]:.4g} ({-100 * fall:+.3g}%)"
    if all(later < earlier for earlier, later in zip(errors, errors[1:])):
        return Finding("slow convergence", span + ", falling a little every epoch", _remedies(
            ("learning_rate", "a larger learning_rate= (ten times)"),
            ("momentum", "momentum=0.9"),
            ("optimizer", 'optimizer="adam"'),
            ("epochs", "more epochs="),
        ))
    evidence = span + ", without falling steadily"
    if history.grad_norm and max(history.grad_norm[-1]) == 0.0:
        evidence += "; every gradient is 0 (saturated outputs)"
    return Finding("no learning", evidence, _remedies(
        "standardised inputs (mean 0, standard deviation 1)",
        ("learning_rate", "another learning_rate= (a tenth, if the error jumps about)"),
        'init="xavier" (Network)',
        ("momentum", "momentum=0.9"),
        "random restarts with bpcore.train_many (several seeds; Table 3's remedy for local minima)",
    ))


def baseline_error(T, loss="squared_error"):
    """The summed loss on targets ``T`` (n, n_out) of a network that ignores its
    inputs and always outputs the mean target: ½ Σ_d ‖t_d − mean(t)‖² for the
    squared error, −Σ_d Σ_k t_kd log mean(t_k) for cross-entropy (softmax: one
    class per example; sigmoid outputs: each output its own binary loss).
    ``diagnose(history, baseline=...)`` reports a run that ends above it."""
    import numpy as np

    T = np.asarray(T, dtype=np.float64).reshape(len(T), -1)
    mean = T.mean(axis=0)
    if loss == "squared_error":
        return float(0.5 * np.sum((T - mean) ** 2))
    p = np.clip(mean, 1e-300, 1.0)
    q = np.clip(1.0 - mean, 1e-300, 1.0)
    if T.shape[1] > 1 and np.allclose(T.sum(axis=1), 1.0):  # softmax: one distribution per example
        return float(-np.sum(T * np.log(p)))
    return float(-np.sum(T * np.log(p) + (1.0 - T) * np.log(q)))


def _worse_than_baseline(history, baseline):
    errors = history.train_error
    if baseline is None or not errors or not errors[-1] > baseline:
        return None
    return Finding(
        "no learning",
        f"the last epoch's training error {errors[-1]:.4g} is above {baseline:.4g}, the error of always "
        "outputting the mean target",
        _remedies(
            ("learning_rate", "a smaller learning_rate= (a tenth)"),
            "standardised inputs (mean 0, standard deviation 1)",
            'init="xavier" (Network)',
            "random restarts with bpcore.train_many (several seeds)",
        ),
    )


def diagnose(history, baseline=None):
    """The findings (a list of :class:`Finding`, empty when none) of the rules
    of docs/diagnostics.md applied to ``history``, in this order: divergence,
    exploding gradients, vanishing gradients, overfitting, slow convergence or
    no learning (the last only when the run did not diverge). ``baseline``: the
    summed training loss of always outputting the mean target
    (:func:`baseline_error`); a run that ends above it learned nothing."""
    findings = [rule(history) for rule in (_divergence, _exploding, _vanishing, _overfitting)]
    if findings[0] is None:
        findings.append(_worse_than_baseline(history, baseline) or _no_progress(history))
    return [finding for finding in findings if finding is not None]
