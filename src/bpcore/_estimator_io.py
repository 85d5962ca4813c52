"""Fitted bpcore estimators in bpcore's ``.npz`` model format, without pickle.

The file is an ordinary model file (``model_io``) of the estimator's network;
its metadata entry ``sklearn_estimator`` (JSON) holds the class name, the
constructor parameters and the fitted attributes, and ``best_params`` (a float
array) the stopping rule's best weights. Loading reads JSON and arrays only,
checks every value, and builds one of the two known classes: it never imports
or runs anything the file names. ``docs/model-format.md`` lists the fields.
"""

import math

import numpy as np
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import check_is_fitted

from . import model_io
from .errors import ModelFormatError
from .network import Network

STATE_KEY = "sklearn_estimator"
_SKLEARN_ACTIVATION = {"sigmoid": "logistic", "tanh": "tanh", "relu": "relu"}
_CLASS_KINDS = {"b": bool, "i": int, "u": int, "f": float, "U": str, "O": str}


def _float(value):
    """A float for JSON: non-finite values as the strings "inf", "-inf"."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _unfloat(value, name, where):
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    if value in ("inf", "-inf"):
        return float(value)
    raise ModelFormatError(f"{where}: the estimator's {name} must be a number or null; got {value!r}")


def _json_params(estimator):
    params = estimator.get_params(deep=False)
    if not (params["random_state"] is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a RandomState object has no file form
    params["hidden_layer_sizes"] = list(estimator._check_params()[0])
    return params


def _classes(estimator):
    classes = estimator.classes_
    kind = classes.dtype.kind
    values = classes.tolist()
    if kind not in _CLASS_KINDS or (kind == "O" and not all(isinstance(v, str) for v in values)):
        raise TypeError(
            f"{type(estimator).__name__}.save keeps class labels that are numbers, booleans or "
            f"strings; these have dtype {classes.dtype}"
        )
    return {"values": values, "dtype": classes.dtype.str}


def save(estimator, path):
    """Write the fitted ``estimator`` to ``path`` (see the module docstring)."""
    check_is_fitted(estimator)
    state = {
        "class": type(estimator).__name__,
        "params": _json_params(estimator),
        "n_features_in_": int(estimator.n_features_in_),
        "feature_names_in_": getattr(estimator, "feature_names_in_", np.array([])).tolist() or None,
        "n_iter_": int(estimator.n_iter_), "t_": int(estimator.t_),
        "loss_": _float(getattr(estimator, "loss_", None)),
        "loss_curve_": [_float(v) for v in estimator.loss_curve_],
        "best_loss_": _float(estimator.best_loss_),
        "validation_scores_": None if estimator.validation_scores_ is None
        else [_float(v) for v in estimator.validation_scores_],
        "best_validation_score_": _float(estimator.best_validation_score_),
        "no_improvement_count": int(estimator._no_improvement_count),
    }
    if hasattr(estimator, "classes_"):
        binarizer = estimator._label_binarizer
        state["classes"] = _classes(estimator)
        state["label_binarizer"] = {
            "y_type_": binarizer.y_type_, "sparse_input_": bool(binarizer.sparse_input_),
            "neg_label": int(binarizer.neg_label), "pos_label": int(binarizer.pos_label),
        }
    metadata = {STATE_KEY: state, "best_params": np.asarray(estimator._best_params)}
    model_io.save(estimator.network_, path, metadata=metadata)


def _expect(condition, where, message):
    if not condition:
        raise ModelFormatError(f"{where}: {message}")


def load(cls, path):
    """The estimator of class ``cls`` saved at ``path`` by :func:`save`."""
    where = str(path)
    net, metadata = model_io.load_with_metadata(path)
    state = metadata.get(STATE_KEY)
    _expect(isinstance(state, dict), where,
            f"not a saved estimator (it holds a bare {net!r}; build one with {cls.__name__}.from_network)")
    _expect(state.get("class") == cls.__name__, where,
            f"it holds a {state.get('class')!r}, not a {cls.__name__}")
    params = state.get("params")
    known = cls().get_params(deep=False)
    _expect(isinstance(params, dict) and set(params) <= set(known), where,
            f"the estimator's params must be a subset of {sorted(known)}; got {params!r}")
    estimator = cls(**params)
    try:
        hidden, activation = estimator._check_params()
    except (TypeError, ValueError) as e:
        raise ModelFormatError(f"{where}: the estimator's params are invalid: {e}") from None
    estimator.hidden_layer_sizes = hidden
    _expect(net.layer_sizes[1:-1] == hidden and net.activation == activation, where,
            f"the estimator's hidden_layer_sizes={hidden} and activation={params.get('activation')!r} "
            f"do not match its network {net!r}")
    _expect(state.get("n_features_in_") == net.n_inputs, where,
            f"n_features_in_ is {state.get('n_features_in_')!r} but the network has {net.n_inputs} inputs")
    if "classes" in state:
        _restore_classes(estimator, state, net, where)
    _expect(net.output_activation == estimator._output_activation(), where,
            f"a {cls.__name__} of these classes has {estimator._output_activation()} outputs; the "
            f"network has {net.output_activation} outputs")
    _adopt(estimator, net)
    names = state.get("feature_names_in_")
    if names is not None:
        _expect(isinstance(names, list) and len(names) == net.n_inputs and all(isinstance(n, str) for n in names),
                where, "feature_names_in_ must list one name (a string) per input")
        estimator.feature_names_in_ = np.array(names, dtype=object)
    for name in ("n_iter_", "t_", "no_improvement_count"):
        value = state.get(name)
        _expect(isinstance(value, int) and not isinstance(value, bool) and value >= 0, where,
                f"the estimator's {name} must be a whole number >= 0; got {value!r}")
    estimator.n_iter_, estimator.t_ = state["n_iter_"], state["t_"]
    estimator._no_improvement_count = state["no_improvement_count"]
    curve = state.get("loss_curve_")
    _expect(isinstance(curve, list), where, "the estimator's loss_curve_ must be a list")
    estimator.loss_curve_ = [_unfloat(v, "loss_curve_", where) for v in curve]
    estimator.loss_ = _unfloat(state.get("loss_"), "loss_", where)
    estimator.best_loss_ = _unfloat(state.get("best_loss_"), "best_loss_", where)
    scores = state.get("validation_scores_")
    _expect(scores is None or isinstance(scores, list), where, "validation_scores_ must be a list or null")
    estimator.validation_scores_ = None if scores is None else [_unfloat(v, "validation_scores_", where) for v in scores]
    estimator.best_validation_score_ = _unfloat(state.get("best_validation_score_"), "best_validation_score_", where)
    best = metadata.get("best_params")
    _expect(isinstance(best, np.ndarray) and best.shape == net.params_vector().shape, where,
            "best_params must be an array of one value per network parameter")
    estimator._best_params = best.astype(net.dtype)
    return estimator


def _restore_classes(estimator, state, net, where):
    classes, binarizer_state = state["classes"], state.get("label_binarizer")
    _expect(isinstance(classes, dict) and isinstance(classes.get("values"), list)
            and isinstance(classes.get("dtype"), str) and isinstance(binarizer_state, dict), where,
            "the estimator's classes must be {'values': [...], 'dtype': ...} with a label_binarizer")
    try:
        dtype = np.dtype(classes["dtype"])
    except TypeError:
        raise ModelFormatError(f"{where}: unknown classes dtype {classes['dtype']!r}") from None
    values = classes["values"]
    _expect(dtype.kind in _CLASS_KINDS and all(isinstance(v, _CLASS_KINDS[dtype.kind]) and not
                                               (dtype.kind != "b" and isinstance(v, bool)) for v in values),
            where, f"the classes {values!r} are not all of dtype {dtype}")
    _expect(len(values) >= 1 and len(set(values)) == len(values), where, "the classes must be distinct")
    y_type = binarizer_state.get("y_type_")
    _expect(y_type in ("binary", "multiclass", "multilabel-indicator"), where, f"unknown target type {y_type!r}")
    _expect((y_type == "binary") == (len(values) <= 2) or y_type == "multilabel-indicator", where,
            f"{len(values)} classes cannot be a {y_type} target")
    n_outputs = 1 if y_type == "binary" else len(values)
    _expect(n_outputs == net.n_outputs, where,
            f"{len(values)} classes ({y_type}) need {n_outputs} outputs; the network has {net.n_outputs}")
    binarizer = LabelBinarizer(neg_label=binarizer_state.get("neg_label", 0),
                               pos_label=binarizer_state.get("pos_label", 1))
    binarizer.classes_ = np.array(values, dtype=dtype)
    binarizer.y_type_ = y_type
    binarizer.sparse_input_ = bool(binarizer_state.get("sparse_input_", False))
    estimator._label_binarizer, estimator.classes_ = binarizer, binarizer.classes_


def _adopt(estimator, net):
    """Make ``net`` the estimator's fitted network with the attributes that go with it."""
    estimator.network_ = net
    estimator.n_features_in_ = net.n_inputs
    estimator.n_outputs_ = net.n_outputs
    estimator.n_layers_ = len(net.layer_sizes)
    estimator.out_activation_ = estimator._SKLEARN_OUTPUT_NAMES[net.output_activation]


def from_network(cls, network, classes, params):
    """A fitted estimator of class ``cls`` predicting with a copy of ``network``."""
    if not isinstance(network, Network):
        raise TypeError(f"network must be a bpcore.Network; got {type(network).__name__}")
    if network.activation not in _SKLEARN_ACTIVATION:
        raise ValueError(f"network.activation {network.activation!r} has no estimator equivalent")
    estimator = cls(hidden_layer_sizes=network.layer_sizes[1:-1],
                    activation=_SKLEARN_ACTIVATION[network.activation], **params)
    estimator._check_params()
    if classes is not None:
        labels = np.asarray(classes)
        if labels.ndim != 1 or len(labels) < 2 or not np.array_equal(np.unique(labels), labels):
            raise ValueError(
                "classes must list at least two distinct labels in sorted order (the order of the "
                f"network's outputs); got {list(labels)!r}"
            )
        binarizer = LabelBinarizer().fit(labels)
        n_outputs, output = (1, "sigmoid") if len(labels) == 2 else (len(labels), "softmax")
        if (network.n_outputs, network.output_activation) != (n_outputs, output):
            raise ValueError(
                f"{len(labels)} classes need a network with {n_outputs} {output} output"
                f"{'s' if n_outputs > 1 else ''}; this one has {network.n_outputs} "
                f"{network.output_activation} outputs"
            )
        estimator._label_binarizer, estimator.classes_ = binarizer, binarizer.classes_
    elif network.output_activation != "identity":
        raise ValueError(f"a {cls.__name__} needs identity outputs; the network has {network.output_activation} outputs")
    _adopt(estimator, network.copy())
    estimator.n_iter_, estimator.t_, estimator.loss_curve_, estimator.loss_ = 0, 0, [], None
    estimator._reset_stopping()
    return estimator
