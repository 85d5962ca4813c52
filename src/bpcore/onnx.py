"""ONNX export: a :class:`~bpcore.Network` or a fitted bpcore estimator as an
ONNX graph, and bpcore's converters for skl2onnx.

    import bpcore.onnx
    model = bpcore.onnx.to_onnx(net)                  # an onnx.ModelProto
    open("net.onnx", "wb").write(model.SerializeToString())

    # Importing bpcore.onnx also registers the estimators with skl2onnx:
    skl2onnx.to_onnx(Pipeline([("scale", StandardScaler()), ("clf", BackpropClassifier())]).fit(X, y), X[:1])

Each layer is one ``Gemm`` (``x W^T + b``, with bpcore's ``weights[l]`` as
``W``) followed by its activation (``Sigmoid``, ``Tanh``, ``Relu``,
``Softmax``; identity adds nothing), in the network's dtype (float32 or
float64). The default opset is 13, where every operator used has its present
form, with the IR version that opset needs (7), which every current
onnxruntime loads. ``docs/interop.md`` lists the graphs' inputs and outputs.

Needs the optional extra ``onnx`` (``pip install 'bpcore[onnx]'``: onnx,
onnxruntime, skl2onnx); ``import bpcore`` alone never imports onnx.
"""

import numbers

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("bpcore.onnx needs onnx: pip install 'bpcore[onnx]'") from error

from ._validation import Interval, checked_real_array
from ._version import __version__
from .network import Network

__all__ = ["to_onnx", "DEFAULT_OPSET", "register_skl2onnx_converters"]

DEFAULT_OPSET = 13
_OPSET = Interval(numbers.Integral, DEFAULT_OPSET, onnx.defs.onnx_opset_version(), closed="both")
_ACTIVATION_OPS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softmax": "Softmax"}
_TENSOR_TYPES = {np.dtype(np.float64): TensorProto.DOUBLE, np.dtype(np.float32): TensorProto.FLOAT}


# ------------------------------------------------------------------ emitting nodes
class _Graph:
    """Collects the nodes and constants of a graph built with onnx.helper."""

    def __init__(self):
        self.nodes, self.initializers, self._count = [], [], 0

    def name(self, hint):
        self._count += 1
        return f"{hint}_{self._count}"

    def constant(self, hint, array):
        array = np.asarray(array)
        name = self.name(hint)
        if array.dtype.kind in "OU":
            tensor = helper.make_tensor(name, TensorProto.STRING, array.shape,
                                        [str(v).encode("utf-8") for v in array.ravel()])
        else:
            tensor = numpy_helper.from_array(array, name)
        self.initializers.append(tensor)
        return name

    def node(self, op, inputs, output=None, **attributes):
        output = output or self.name(op.lower())
        self.nodes.append(helper.make_node(op, list(inputs), [output], name=self.name(op), **attributes))
        return output


class _Skl2onnxGraph(_Graph):
    """The same interface on skl2onnx's scope and container (inside a converter)."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container

    def name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def constant(self, hint, array):
        array = np.asarray(array)
        name = self.name(hint)
        if array.dtype.kind in "OU":
            values = [str(v).encode("utf-8") for v in array.ravel()]
            self.container.add_initializer(name, TensorProto.STRING, list(array.shape), values)
        else:
            self.container.add_initializer(name, helper.np_dtype_to_tensor_dtype(array.dtype),
                                           list(array.shape), array.ravel().tolist())
        return name

    def node(self, op, inputs, output=None, **attributes):
        output = output or self.name(op.lower())
        self.container.add_node(op, list(inputs), [output],
                                name=self.scope.get_unique_operator_name(op), **attributes)
        return output


def _cast(graph, x, from_dtype, to_dtype, output=None):
    if np.dtype(from_dtype) == np.dtype(to_dtype):
        return graph.node("Identity", [x], output) if output else x
    return graph.node("Cast", [x], output, to=_TENSOR_TYPES[np.dtype(to_dtype)])


def _network_nodes(graph, net, x, output=None):
    """Nodes that compute ``net.predict`` from ``x`` (a tensor of the network's
    dtype); returns the name of the result."""
    net._sync()  # the weights as the network sees them, checked finite
    last = len(net.weights) - 1
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        activation = net.activation if l < last else net.output_activation
        name = output if l == last and activation == "identity" else None
        x = graph.node("Gemm", [x, graph.constant(f"weights_{l}", W), graph.constant(f"biases_{l}", b)],
                       name, transB=1)
        if activation != "identity":
            attributes = {"axis": 1} if activation == "softmax" else {}
            x = graph.node(_ACTIVATION_OPS[activation], [x], output if l == last else None, **attributes)
    return x


def _label_values(classes, where):
    """``classes`` as the tensor ONNX labels are taken from: int64 for integer,
    boolean and integral float labels, strings for text (skl2onnx's rule)."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f":
        if not np.array_equal(classes, np.round(classes)):
            raise ValueError(
                f"{where}: ONNX labels are integers or strings; the classes {classes.tolist()} "
                "are not whole numbers"
            )
        return classes.astype(np.int64)
    if classes.dtype.kind == "U" or all(isinstance(c, str) for c in classes.tolist()):
        return classes.astype(str).astype(object)
    raise ValueError(f"{where}: ONNX labels are integers or strings; got classes of dtype {classes.dtype}")


def _argmax_label(graph, probabilities, labels, output):
    index = graph.node("ArgMax", [probabilities], axis=1, keepdims=0)
    return graph.node("Gather", [graph.constant("classes", labels), index], output, axis=0)


def _classifier_nodes(graph, estimator, x, label_output, probability_output, probability_dtype):
    """Nodes computing ``predict`` (into ``label_output``) and ``predict_proba``
    (into ``probability_output``, cast to ``probability_dtype``) of a fitted
    BackpropClassifier from ``x`` (the network's dtype)."""
    net = estimator.network_
    outputs = _network_nodes(graph, net, x)
    if estimator._label_binarizer.y_type_ == "multilabel-indicator":
        # LabelBinarizer's inverse: a label is on where its output exceeds 0.5.
        half = graph.constant("half", np.array(0.5, dtype=net.dtype))
        graph.node("Cast", [graph.node("Greater", [outputs, half])], label_output, to=TensorProto.INT64)
        _cast(graph, outputs, net.dtype, probability_dtype, probability_output)
        return
    labels = _label_values(estimator.classes_, type(estimator).__name__)
    if len(labels) < 2:
        raise ValueError(f"{type(estimator).__name__} was fitted on one class only: there is nothing to export")
    if net.n_outputs == 1:  # binary: one sigmoid output, the probability of classes_[1]
        one = graph.constant("one", np.array(1.0, dtype=net.dtype))
        outputs = graph.node("Concat", [graph.node("Sub", [one, outputs]), outputs], axis=1)
    # argmax of [1 - p, p] is 1 exactly when p > 0.5 (1 - p is exact there):
    # LabelBinarizer's threshold.
    _argmax_label(graph, outputs, labels, label_output)
    _cast(graph, outputs, net.dtype, probability_dtype, probability_output)


# ------------------------------------------------------------------ to_onnx
def _tensor(name, dtype, columns):
    element = dtype if isinstance(dtype, int) else _TENSOR_TYPES[np.dtype(dtype)]
    return helper.make_tensor_value_info(name, element, [None] if columns is None else [None, columns])


def _check_standardize(standardize, net):
    try:
        mean, scale = standardize
    except (TypeError, ValueError):
        raise TypeError("standardize must be a pair (mean, scale) of arrays or None") from None
    mean = checked_real_array(mean, np.float64, "standardize mean").astype(np.float64)
    scale = checked_real_array(scale, np.float64, "standardize scale").astype(np.float64)
    for name, array in (("mean", mean), ("scale", scale)):
        if array.shape != (net.n_inputs,):
            raise ValueError(
                f"standardize {name} must have shape ({net.n_inputs},), one value per input; "
                f"got {array.shape}"
            )
    if (scale <= 0).any():
        raise ValueError("standardize scale must be positive (inputs are divided by it)")
    return mean, scale


def _network_graph(graph, net, standardize, classes):
    """(inputs, outputs) of the graph of a bare Network."""
    input_dtype = np.float64 if standardize is not None else net.dtype
    x = "input"
    if standardize is not None:
        mean, scale = _check_standardize(standardize, net)
        x = graph.node("Div", [graph.node("Sub", [x, graph.constant("input_mean", mean)]),
                               graph.constant("input_scale", scale)])
        x = _cast(graph, x, np.float64, net.dtype)
    outputs = [_tensor("output", net.dtype, net.n_outputs)]
    result = _network_nodes(graph, net, x, "output")
    if classes is not None:
        names = list(classes) if not isinstance(classes, str) else None
        if names is None or not all(isinstance(c, str) for c in names):
            raise TypeError(f"classes must be a sequence of class names (strings); got {classes!r}")
        if net.output_activation != "softmax" or len(names) != net.n_outputs:
            raise ValueError(
                f"classes needs a softmax network with one output per class; this network has "
                f"{net.n_outputs} {net.output_activation} outputs and {len(names)} classes were given"
            )
        _argmax_label(graph, result, np.array(names, dtype=object), "label")
        outputs.insert(0, _tensor("label", TensorProto.STRING, None))
    return [_tensor("input", input_dtype, net.n_inputs)], outputs


def _estimator_graph(graph, estimator):
    net = estimator.network_
    inputs = [_tensor("input", net.dtype, net.n_inputs)]
    if hasattr(estimator, "classes_"):
        multilabel = estimator._label_binarizer.y_type_ == "multilabel-indicator"
        _classifier_nodes(graph, estimator, "input", "label", "probabilities", net.dtype)
        label_type = TensorProto.INT64 if multilabel else (
            TensorProto.STRING if _label_values(estimator.classes_, "").dtype == object else TensorProto.INT64)
        n_probabilities = net.n_outputs if multilabel or net.n_outputs > 1 else 2
        return inputs, [_tensor("label", label_type, net.n_outputs if multilabel else None),
                        _tensor("probabilities", net.dtype, n_probabilities)]
    _network_nodes(graph, net, "input", "variable")
    return inputs, [_tensor("variable", net.dtype, net.n_outputs)]


def _fitted_estimator(model):
    """``model`` if it is a fitted bpcore estimator; None if it is no bpcore estimator."""
    try:
        from .sklearn import BackpropClassifier, BackpropRegressor
    except ImportError:
        return None
    if not isinstance(model, (BackpropClassifier, BackpropRegressor)):
        return None
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, msg=(
        f"This {type(model).__name__} instance is not fitted yet: call fit (or build it with "
        f"{type(model).__name__}.from_network) before exporting it to ONNX."
    ))
    return model


def to_onnx(model, *, opset=None, standardize=None, classes=None):
    """``model`` as an :class:`onnx.ModelProto`.

    ``model`` is a :class:`~bpcore.Network` or a fitted
    :class:`~bpcore.sklearn.BackpropClassifier` /
    :class:`~bpcore.sklearn.BackpropRegressor`. The graph's input is
    ``"input"``, shape ``(N, n_inputs)``, of the network's dtype. A Network
    gives ``"output"`` (what ``predict`` returns); a classifier ``"label"``
    and ``"probabilities"`` (``predict`` and ``predict_proba``); a regressor
    ``"variable"`` (shape ``(N, n_outputs)``).

    ``opset``: the ONNX opset, 13 (the default) up to what the installed onnx
    knows. For a Network only: ``standardize=(mean, scale)`` makes the graph
    take raw float64 inputs and compute ``(x - mean) / scale`` first (as
    ``bpcore train --standardize`` stores and ``bpcore predict`` applies it),
    and ``classes`` (one name per softmax output) adds a ``"label"`` output,
    the name of the largest output.

    Raises TypeError for anything else, sklearn's NotFittedError (a
    ValueError) for an unfitted estimator, and ValueError for bad options.
    """
    opset = DEFAULT_OPSET if opset is None else _OPSET.check("opset", opset)
    graph = _Graph()
    estimator = _fitted_estimator(model)
    if estimator is not None:
        if standardize is not None or classes is not None:
            raise ValueError(
                "standardize and classes are for a bare Network; an estimator exports its own "
                "classes (put a StandardScaler in a Pipeline and convert it with skl2onnx)"
            )
        inputs, outputs = _estimator_graph(graph, estimator)
        name = type(estimator).__name__
    elif isinstance(model, Network):
        inputs, outputs = _network_graph(graph, model, standardize, classes)
        name = "Network"
    else:
        raise TypeError(
            "model must be a bpcore.Network or a fitted bpcore.sklearn.BackpropClassifier or "
            f"BackpropRegressor; got {type(model).__name__}"
        )
    body = helper.make_graph(graph.nodes, f"bpcore_{name}", inputs, outputs, graph.initializers)
    opsets = [helper.make_opsetid("", opset)]
    return helper.make_model(
        body, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets),
        producer_name="bpcore", producer_version=__version__,
    )


# ------------------------------------------------------------------ skl2onnx
def _network_dtype(operator):
    return operator.raw_operator.network_.dtype


def _checked_input(operator):
    """The converter's input tensor type (float or double) as a numpy dtype."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    _fitted_estimator(operator.raw_operator)  # NotFittedError for an unfitted one
    kind = operator.inputs[0].type
    if not isinstance(kind, (FloatTensorType, DoubleTensorType)):
        raise TypeError(
            f"{type(operator.raw_operator).__name__} takes float or double tensors in ONNX; "
            f"got {type(kind).__name__}"
        )
    return np.dtype(np.float64 if isinstance(kind, DoubleTensorType) else np.float32)


def _tensor_type(dtype):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    return DoubleTensorType if np.dtype(dtype) == np.float64 else FloatTensorType


def _parse_classifier(scope, model, inputs, custom_parsers=None):
    """skl2onnx parser: the operator's outputs (label, probabilities), then
    skl2onnx's ZipMap when the ``zipmap`` option asks for it. ZipMap takes
    float32 only, so with ``zipmap=True`` the probabilities are float32."""
    from skl2onnx._parse import _apply_zipmap, _get_sklearn_operator_name
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    _fitted_estimator(model)  # NotFittedError for an unfitted one
    zipmap = scope.get_options(model, {"zipmap": True})["zipmap"]
    operator = scope.declare_local_operator(_get_sklearn_operator_name(type(model)), model)
    operator.inputs = inputs
    multilabel = model._label_binarizer.y_type_ == "multilabel-indicator"
    if multilabel and zipmap is not False:
        raise ValueError(
            "a multilabel BackpropClassifier converts with options={'zipmap': False} (ZipMap "
            "maps one label per example)"
        )
    text_labels = not multilabel and _label_values(model.classes_, type(model).__name__).dtype == object
    label = scope.declare_local_variable("label", (StringTensorType if text_labels else Int64TensorType)())
    probability_type = FloatTensorType if zipmap is True else _tensor_type(model.network_.dtype)
    probabilities = scope.declare_local_variable("probabilities", probability_type())
    operator.outputs.extend([label, probabilities])
    if zipmap is False:
        return operator.outputs
    return _apply_zipmap(zipmap, scope, model, FloatTensorType() if zipmap is True else inputs[0].type,
                         operator.outputs)


def _classifier_shapes(operator):
    _checked_input(operator)
    model = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    multilabel = model._label_binarizer.y_type_ == "multilabel-indicator"
    columns = model.network_.n_outputs if multilabel or model.network_.n_outputs > 1 else 2
    operator.outputs[0].type.shape = [n, columns] if multilabel else [n]
    operator.outputs[1].type.shape = [n, columns]


def _convert_classifier(scope, operator, container):
    from skl2onnx.common.data_types import DoubleTensorType

    graph = _Skl2onnxGraph(scope, container)
    dtype = _network_dtype(operator)
    x = _cast(graph, operator.inputs[0].full_name, _checked_input(operator), dtype)
    probability_dtype = np.float64 if isinstance(operator.outputs[1].type, DoubleTensorType) else np.float32
    _classifier_nodes(graph, operator.raw_operator, x, operator.outputs[0].full_name,
                      operator.outputs[1].full_name, probability_dtype)


def _regressor_shapes(operator):
    _checked_input(operator)
    net = operator.raw_operator.network_
    operator.outputs[0].type = _tensor_type(net.dtype)([operator.inputs[0].get_first_dimension(), net.n_outputs])


def _convert_regressor(scope, operator, container):
    graph = _Skl2onnxGraph(scope, container)
    x = _cast(graph, operator.inputs[0].full_name, _checked_input(operator), _network_dtype(operator))
    _network_nodes(graph, operator.raw_operator.network_, x, operator.outputs[0].full_name)


def register_skl2onnx_converters():
    """Register bpcore's estimators with skl2onnx (done when bpcore.onnx is
    imported), so that ``skl2onnx.to_onnx`` converts them, alone or in a
    Pipeline. The classifier takes skl2onnx's ``zipmap`` option (True, False
    or "columns"). Returns False when skl2onnx is not installed."""
    try:
        from skl2onnx import update_registered_converter
    except ImportError:
        return False
    from .sklearn import BackpropClassifier, BackpropRegressor

    update_registered_converter(
        BackpropClassifier, "BpcoreBackpropClassifier", _classifier_shapes, _convert_classifier,
        # skl2onnx's ZipMap asks for "nocl" (class indices instead of labels): not offered.
        parser=_parse_classifier, options={"zipmap": [True, False, "columns"], "nocl": [False]},
    )
    update_registered_converter(BackpropRegressor, "BpcoreBackpropRegressor", _regressor_shapes, _convert_regressor)
    return True


_SKL2ONNX_REGISTERED = register_skl2onnx_converters()
