"""scikit-learn estimators on bpcore's compiled trainer.

    from bpcore.sklearn import BackpropClassifier, BackpropRegressor

``BackpropRegressor`` / ``BackpropClassifier`` take scikit-learn's MLP
parameter names, so ``MLPRegressor(solver="sgd", batch_size=1, ...)`` becomes
``BackpropRegressor(...)`` with the other arguments unchanged. They follow
``MLP*`` closely: the same Glorot initialisation drawn from the same
``random_state`` stream, the same validation split, the same ``tol`` /
``n_iter_no_change`` stopping rule and the same fitted attributes. Every
difference is listed in ``docs/sklearn.md``.

Needs the optional extra ``sklearn`` (``pip install 'bpcore[sklearn]'``);
``import bpcore`` alone never imports scikit-learn.
"""

import numbers
import sys
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "bpcore.sklearn needs scikit-learn: pip install 'bpcore[sklearn]'"
    ) from error
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._validation import Boolean, Interval, OneOf, validate_params
from .compiled import train
from .network import Network

__all__ = ["BackpropRegressor", "BackpropClassifier"]

_Real, _Int = numbers.Real, numbers.Integral

# scikit-learn's name -> bpcore's; "logistic" is scikit-learn's word for sigmoid.
_ACTIVATIONS = {"logistic": "sigmoid", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu"}

_CONSTRAINTS = {
    "activation": OneOf(*_ACTIVATIONS),
    "alpha": Interval(_Real, 0, None, closed="left"),
    "learning_rate_init": Interval(_Real, 0, None, closed="neither"),
    "max_iter": Interval(_Int, 1, None, closed="left"),
    "shuffle": Boolean(),
    "tol": Interval(_Real, 0, None, closed="left"),
    "warm_start": Boolean(),
    "momentum": Interval(_Real, 0, 1, closed="left"),
    "early_stopping": Boolean(),
    "validation_fraction": Interval(_Real, 0, 1, closed="neither"),
    "n_iter_no_change": Interval(_Int, 1, None, closed="left"),
}
_POSITIVE_INT = Interval(_Int, 1, None, closed="left")
_NON_NEGATIVE_INT = Interval(_Int, 0, None, closed="left")


def _check_hidden_layer_sizes(value):
    """An int or a sequence of ints >= 1 (possibly empty: no hidden layer)."""
    if isinstance(value, _Int) and not isinstance(value, (bool, np.bool_)):
        value = (value,)
    try:
        sizes = tuple(value)
    except TypeError:
        raise TypeError(
            f"hidden_layer_sizes must be an int or a sequence of ints; got {value!r}"
        ) from None
    return tuple(_POSITIVE_INT.check(f"hidden_layer_sizes[{i}]", n) for i, n in enumerate(sizes))


def _glorot(layer_sizes, activation, rng):
    """Initial weights (shaped as ``Network.weights``) and biases drawn as
    scikit-learn's MLP draws them: Glorot uniform, bound sqrt(6 / (n_in + n_out))
    (2 instead of 6 for sigmoid units), weights then biases layer by layer from
    ``rng`` -- so the same ``random_state`` gives the same initial network."""
    factor = 2.0 if activation == "sigmoid" else 6.0
    weights, biases = [], []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        bound = np.sqrt(factor / (n_in + n_out))
        weights.append(rng.uniform(-bound, bound, (n_in, n_out)).T)
        biases.append(rng.uniform(-bound, bound, n_out))
    return weights, biases


class _EpochMonitor:
    """The ``bpcore.train`` callback that keeps scikit-learn's per-epoch
    bookkeeping on the estimator and applies ``MLP*``'s stopping rule.

    After every epoch it appends the loss to ``loss_curve_`` in scikit-learn's
    units (mean loss per example -- per output too for the regressor -- plus the
    L2 term ``alpha / 2 * ||W||^2`` divided by the batch size, taken at the end
    of the epoch), then counts epochs without improvement:

    * without ``early_stopping``: the loss did not fall below ``best_loss_ - tol``;
    * with it: the validation score (accuracy or R^2) did not exceed
      ``best_validation_score_ + tol``; the weights of the best score are kept.

    Training stops (the callback returns False) once that count exceeds
    ``n_iter_no_change``, i.e. after ``n_iter_no_change + 1`` such epochs in a
    row, exactly as ``MLP*``.
    """

    def __init__(self, estimator, n_train, weight_decay, validation):
        self.est = estimator
        self.n_train = n_train
        self.loss_scale = n_train * (estimator.n_outputs_ if estimator._loss_per_output else 1)
        self.weight_decay = weight_decay
        self.validation = validation  # (X_val, Y_val) or None

    def __call__(self, epoch, history):
        est = self.est
        penalty = sum(float(np.vdot(W, W)) for W in est.network_.weights)
        est.loss_ = history.train_error[-1] / self.loss_scale + 0.5 * self.weight_decay * penalty
        est.loss_curve_.append(est.loss_)
        est.t_ += self.n_train
        if self.validation is None:
            improved = est.loss_ <= est.best_loss_ - est.tol
            est.best_loss_ = min(est.best_loss_, est.loss_)
        else:
            X_val, Y_val = self.validation
            score = est._score_outputs(Y_val, est.network_.predict(X_val))
            est.validation_scores_.append(score)
            improved = score >= est.best_validation_score_ + est.tol
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_params = est.network_.params_vector()
        est._no_improvement_count = 0 if improved else est._no_improvement_count + 1
        return est._no_improvement_count <= est.n_iter_no_change


class _BackpropBase(BaseEstimator):
    """What the regressor and the classifier share: parameters, checks,
    initialisation and the training call."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        alpha=0.0001,
        batch_size=1,
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.0,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change

    # ------------------------------------------------------------ fitted views
    @property
    def coefs_(self):
        """``coefs_[l]`` of shape ``(n_l, n_{l+1})``, as in scikit-learn: the
        transpose of ``network_.weights[l]``, and a view of it (writing into it
        changes the network)."""
        check_is_fitted(self)
        return [W.T for W in self.network_.weights]

    @property
    def intercepts_(self):
        """``intercepts_[l]`` of shape ``(n_{l+1},)``: views of ``network_.biases``."""
        check_is_fitted(self)
        return list(self.network_.biases)

    # ------------------------------------------------------------ fitting
    def _check_params(self):
        """Every parameter checked before anything changes; returns the hidden
        layer sizes and the bpcore activation name."""
        validate_params(_CONSTRAINTS, {name: getattr(self, name) for name in _CONSTRAINTS})
        if self.batch_size != "auto":
            _POSITIVE_INT.check("batch_size", self.batch_size)
        if not isinstance(self.verbose, (bool, np.bool_)):
            _NON_NEGATIVE_INT.check("verbose", self.verbose)
        return _check_hidden_layer_sizes(self.hidden_layer_sizes), _ACTIVATIONS[self.activation]

    def _initialize(self, weights, biases, activation, dtype):
        """A new network from initial ``weights`` (as ``Network.weights``) and
        ``biases``, and fresh bookkeeping."""
        self.network_ = Network.from_arrays(
            weights, biases, activation=activation,
            output_activation=self._output_activation(), dtype=dtype,
        )
        self.n_outputs_ = self.network_.n_outputs
        self.n_layers_ = len(self.network_.layer_sizes)
        self.out_activation_ = self._SKLEARN_OUTPUT_NAMES[self.network_.output_activation]
        self.t_ = 0
        self.loss_curve_ = []

    def _reset_stopping(self):
        """The state of the stopping rule, for a first fit or a changed
        ``early_stopping`` under ``warm_start``."""
        self._no_improvement_count = 0
        if self.early_stopping:
            self.best_loss_, self.validation_scores_, self.best_validation_score_ = None, [], -np.inf
        else:
            self.best_loss_, self.validation_scores_, self.best_validation_score_ = np.inf, None, None
        self._best_params = self.network_.params_vector()

    def _fit(self, X, y, *, incremental, classes=None):
        hidden, activation = self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "network_") or not (self.warm_start or incremental)
        X, Y, target_state = self._validate_input(
            X, y, first=first, incremental=incremental, classes=classes
        )
        rng = check_random_state(self.random_state)
        if first:  # drawn before the split, in scikit-learn's order
            initial = _glorot((X.shape[1], *hidden, Y.shape[1]), activation, rng)
        validation = None
        if self.early_stopping:
            # scikit-learn stratifies only one-output (binary) classification.
            stratify = Y if is_classifier(self) and Y.shape[1] == 1 else None
            X, X_val, Y, Y_val = train_test_split(
                X, Y, random_state=rng, test_size=self.validation_fraction, stratify=stratify
            )
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )
            validation = (X_val, Y_val)
        # Every check passed: from here on the estimator changes.
        for name, value in target_state.items():
            setattr(self, name, value)
        if first:
            self._initialize(*initial, activation, X.dtype)
        if first or (self.validation_scores_ is None) == self.early_stopping:
            self._reset_stopping()
        n_train = X.shape[0]
        batch_size = min(200, n_train) if self.batch_size == "auto" else self.batch_size
        if batch_size > n_train:
            warnings.warn(
                "Got `batch_size` larger than sample size. It is going to be clipped",
                UserWarning,
                stacklevel=3,
            )
            batch_size = n_train
        # scikit-learn adds alpha * W to the *summed* gradient of a batch and then
        # divides by its size; bpcore decays by weight_decay * W per step.
        weight_decay = self.alpha / batch_size
        history = train(
            self.network_, X, Y,
            learning_rate=self.learning_rate_init,
            epochs=1 if incremental else self.max_iter,
            shuffle=self.shuffle,
            seed=int(rng.randint(np.iinfo(np.int32).max)),
            momentum=self.momentum,
            loss=self._LOSS,
            batch_size=batch_size,
            weight_decay=weight_decay,
            callback=_EpochMonitor(self, n_train, weight_decay, validation),
            progress=bool(self.verbose),
        )
        self.n_iter_ = history.epochs_run
        if self.early_stopping:
            self.network_.set_params_vector(self._best_params)
        if not incremental and history.stop_reason == "epochs":
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and ``y`` for up to ``max_iter``
        epochs. Starts from a new network unless ``warm_start`` and fitted.

        Returns ``self``."""
        return self._fit(X, y, incremental=False)

    # ------------------------------------------------------------ prediction
    def _outputs(self, X):
        """Network outputs (n_samples, n_outputs_) for checked ``X``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.network_.predict(X)

    def predict(self, X):
        """Predictions for ``X`` of shape (n_samples, n_features): shape
        (n_samples,) for one target / label, else (n_samples, n_outputs)."""
        return self._decode(self._outputs(X))

    # ------------------------------------------------------------ persistence
    def save(self, path):
        """Write the fitted estimator to ``path`` in bpcore's ``.npz`` model
        format, without pickle: its network, parameters, classes and fitted
        attributes (``docs/model-format.md``). Read it back with ``load``."""
        from . import _estimator_io

        _estimator_io.save(self, path)

    @classmethod
    def load(cls, path):
        """The estimator saved at ``path`` by ``save``: it predicts bit for bit
        what the saved one did. Reads JSON and plain arrays only (never a
        pickle, never code); a file that is not such an estimator raises
        :class:`~bpcore.ModelFormatError` naming the problem."""
        from . import _estimator_io

        return _estimator_io.load(cls, path)

    def _score_outputs(self, Y, outputs):
        """Validation score (accuracy or R^2) of network ``outputs`` against
        encoded targets ``Y``."""
        return self._SCORE(self._decode(Y), self._decode(outputs))


class BackpropRegressor(RegressorMixin, _BackpropBase):
    """Multilayer perceptron regressor trained by bpcore's backpropagation:
    hidden layers of ``activation``, identity outputs, squared error.

    A drop-in for ``sklearn.neural_network.MLPRegressor(solver="sgd",
    batch_size=1, ...)``: same parameter names and meanings (see
    ``docs/sklearn.md`` for the differences). As with ``MLPRegressor``,
    standardising ``X`` and ``y`` is the user's job (e.g. in a ``Pipeline``).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Units of each hidden layer (``()``: no hidden layer).
    activation : {"relu", "logistic", "sigmoid", "tanh"}, default="relu"
        Hidden activation; ``"logistic"`` and ``"sigmoid"`` are the same.
    alpha : float >= 0, default=0.0001
        L2 penalty, scaled as in scikit-learn (bpcore ``weight_decay = alpha / batch_size``).
    batch_size : int >= 1 or "auto", default=1
        Examples per update; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate_init : float > 0, default=0.001
        The constant learning rate η.
    max_iter : int >= 1, default=200
        Epochs (passes over the data) at most.
    shuffle : bool, default=True
        Visit the examples in a fresh random order every epoch.
    random_state : int, RandomState or None, default=None
        Seeds the initial weights, the validation split and the example order.
    tol : float >= 0, default=1e-4
        Improvement needed by the stopping rule (see ``n_iter_no_change``).
    verbose : bool or int, default=False
        Show bpcore's per-epoch progress (tqdm bar, or one line per epoch on stderr).
    warm_start : bool, default=False
        ``fit`` continues from the fitted network instead of a new one.
    momentum : float in [0, 1), default=0.0
        Classic (heavy-ball) momentum. scikit-learn's default is 0.9, Nesterov.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop on its R^2;
        end with the weights of the best R^2.
    validation_fraction : float in (0, 1), default=0.1
    n_iter_no_change : int >= 1, default=10
        Stop after ``n_iter_no_change + 1`` epochs in a row in which the loss did
        not fall by more than ``tol`` (R^2 did not rise by more than ``tol`` with
        ``early_stopping``).

    Attributes
    ----------
    network_ : bpcore.Network
        The trained network (shape n_features_in_ -> hidden... -> n_outputs_).
    coefs_ : list of ndarray, ``coefs_[l]`` of shape (n_l, n_{l+1})
    intercepts_ : list of ndarray, ``intercepts_[l]`` of shape (n_{l+1},)
    n_iter_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``).
    t_ : int
        Training examples seen since the network was created.
    loss_ : float
        Last entry of ``loss_curve_``.
    loss_curve_ : list of float
        Per epoch, ½ squared error averaged over examples and outputs, plus the
        L2 term (scikit-learn's units).
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_features_in_ : int
    n_outputs_ : int
    n_layers_ : int
    out_activation_ : str
    """

    _LOSS = "squared_error"
    _SCORE = staticmethod(r2_score)
    _SKLEARN_OUTPUT_NAMES = {"identity": "identity"}
    _loss_per_output = True  # scikit-learn's squared loss averages over outputs too

    def _output_activation(self):
        return "identity"

    def _validate_input(self, X, y, *, first, incremental, classes=None):
        """Checked ``X``, the targets as a 2-D array (n_samples, n_outputs) and
        the attributes to set once every check has passed."""
        X, y = validate_data(
            self, X, y, reset=first, multi_output=True, y_numeric=True,
            dtype=(np.float64, np.float32),
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y.reshape(y.shape[0], -1), {}

    def _decode(self, outputs):
        return outputs.ravel() if outputs.shape[1] == 1 else outputs

    def partial_fit(self, X, y):
        """One epoch over ``X``, ``y`` (online learning): creates the network on
        the first call, then continues it. Returns ``self``."""
        return self._fit(X, y, incremental=True)

    @classmethod
    def from_network(cls, network, **params):
        """A fitted regressor that predicts with a copy of ``network`` (identity
        outputs), e.g. one from ``bpcore.load``; ``params`` are the other
        constructor parameters (used if it is fitted further)."""
        from . import _estimator_io

        return _estimator_io.from_network(cls, network, None, params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class BackpropClassifier(ClassifierMixin, _BackpropBase):
    """Multilayer perceptron classifier trained by bpcore's backpropagation,
    with cross-entropy: a softmax output layer for multiclass problems, one
    sigmoid output for binary problems and one per label for multilabel ones.

    A drop-in for ``sklearn.neural_network.MLPClassifier(solver="sgd",
    batch_size=1, ...)``; the parameters are those of
    :class:`BackpropRegressor` (with ``early_stopping`` watching accuracy).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    network_, coefs_, intercepts_, n_iter_, t_, loss_, loss_curve_, best_loss_,
    validation_scores_, best_validation_score_, n_features_in_, n_outputs_,
    n_layers_, out_activation_
        As for :class:`BackpropRegressor`; ``loss_curve_`` holds the
        cross-entropy per example plus the L2 term.
    """

    _LOSS = "cross_entropy"
    _SCORE = staticmethod(accuracy_score)
    _SKLEARN_OUTPUT_NAMES = {"sigmoid": "logistic", "softmax": "softmax"}
    _loss_per_output = False

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "sigmoid"

    def _validate_input(self, X, y, *, first, incremental, classes=None):
        """Checked ``X``, the targets as a 2-D array (n_samples, n_outputs) and
        the attributes to set once every check has passed."""
        X, y = validate_data(
            self, X, y, reset=first, multi_output=True, dtype=(np.float64, np.float32)
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        fitted = hasattr(self, "classes_")
        if incremental and not fitted:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            multilabel = type_of_target(y).startswith("multilabel")
            binarizer = LabelBinarizer().fit(y if multilabel else classes)
        elif not fitted or not (self.warm_start or incremental):
            binarizer = LabelBinarizer().fit(y)
        else:
            binarizer = self._label_binarizer
            if classes is not None and not np.array_equal(self.classes_, unique_labels(classes)):
                raise ValueError(
                    f"classes={classes!r} is not the same as on the first call to "
                    f"partial_fit: {self.classes_!r}"
                )
            if self.warm_start and not incremental and set(unique_labels(y)) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has "
                    f"{unique_labels(y)}"
                )
        unknown = np.setdiff1d(unique_labels(y), binarizer.classes_)
        if unknown.size:
            raise ValueError(
                f"`y` has classes not in `classes_`: {unknown}; `classes_` is {binarizer.classes_}"
            )
        state = {"_label_binarizer": binarizer, "classes_": binarizer.classes_}
        return X, binarizer.transform(y), state

    def _decode(self, outputs):
        return self._label_binarizer.inverse_transform(
            outputs.ravel() if outputs.shape[1] == 1 else outputs
        )

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X``, ``y`` (online learning). ``classes`` (all the
        classes that will ever appear) is required on the first call and
        optional after it. Returns ``self``."""
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes) in the order of
        ``classes_`` (for multilabel problems one column per label)."""
        out = self._outputs(X)
        if out.shape[1] == 1:
            return np.hstack([1 - out, out])
        return out

    @classmethod
    def from_network(cls, network, classes, **params):
        """A fitted classifier that predicts with a copy of ``network``:
        ``classes`` (sorted) are the labels of its outputs, two for one sigmoid
        output, more for one softmax output each. ``params`` are the other
        constructor parameters."""
        from . import _estimator_io

        return _estimator_io.from_network(cls, network, classes, params)

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


# skl2onnx converts bpcore's estimators once bpcore.onnx has registered them;
# when skl2onnx is already loaded, register now (importing it costs a second).
if "skl2onnx" in sys.modules:  # pragma: no cover - depends on the import order
    from . import onnx as _onnx  # noqa: F401
