"""FANN (the Fast Artificial Neural Network library, 2.2) through ctypes,
configured to run the lecture's algorithm, and a check that it does.

Configuration: ``FANN_TRAIN_INCREMENTAL`` (update after every example),
``FANN_SIGMOID`` with steepness 0.5 on hidden and output units (FANN computes
1/(1+exp(-2·s·net)), so s = 0.5 is the logistic σ(net)), ``FANN_ERRORFUNC_LINEAR``
(output delta (t−o)·f'(net), no tanh error shaping) and momentum 0. One
``fann_train`` is then the lecture's step: δ_k = o_k(1−o_k)(t_k−o_k),
δ_h = o_h(1−o_h) Σ_k w_kh δ_k, w_ji += η δ_j x_ji — except that FANN clips o
to [0.01, 0.99] inside the derivative (saturated units still learn) and keeps η
as a C ``float``. :func:`check_equivalence` compares FANN's weights after
training with ``bpcore.reference.train``'s.

Debian/Ubuntu: ``apt-get install libfann-dev`` gives ``libdoublefann`` (float64)
and ``libfloatfann`` (float32).
"""

import ctypes
import ctypes.util

import bpcore
import numpy as np

from .compare import max_relative_difference, small_problem

__all__ = ["FannError", "FannNet", "load_library", "check_equivalence"]

# enums of fann_data.h
_TRAIN_INCREMENTAL = 0
_SIGMOID = 3
_ERRORFUNC_LINEAR = 0

_LIBRARIES = {np.dtype(np.float64): "doublefann", np.dtype(np.float32): "floatfann"}
_CTYPES = {np.dtype(np.float64): ctypes.c_double, np.dtype(np.float32): ctypes.c_float}


class FannError(RuntimeError):
    """The FANN shared library is missing or misbehaved."""


class _TrainData(ctypes.Structure):
    """struct fann_train_data (fann_data.h); the fann_type pointers are kept as
    void pointers since the structure is the same for float and double."""

    _fields_ = [
        ("errno_f", ctypes.c_int),
        ("error_log", ctypes.c_void_p),
        ("errstr", ctypes.c_char_p),
        ("num_data", ctypes.c_uint),
        ("num_input", ctypes.c_uint),
        ("num_output", ctypes.c_uint),
        ("input", ctypes.POINTER(ctypes.c_void_p)),
        ("output", ctypes.POINTER(ctypes.c_void_p)),
    ]


def _connection_dtype(dtype):
    """numpy twin of struct fann_connection {unsigned from, to; fann_type weight}."""
    return np.dtype([("from", np.uint32), ("to", np.uint32), ("weight", dtype)], align=True)


def load_library(dtype):
    """The FANN library for ``dtype`` (float64 → libdoublefann, float32 →
    libfloatfann) with the prototypes used here. Raises FannError when absent."""
    dtype = np.dtype(dtype)
    name = ctypes.util.find_library(_LIBRARIES[dtype])
    if name is None:
        raise FannError(f"lib{_LIBRARIES[dtype]} not found (Debian/Ubuntu: apt-get install libfann-dev)")
    lib = ctypes.CDLL(name)
    ann, data, ptr, uint, real = (ctypes.c_void_p, ctypes.POINTER(_TrainData), ctypes.c_void_p,
                                  ctypes.c_uint, _CTYPES[dtype])
    prototypes = {
        "fann_create_standard_array": (ann, [uint, ctypes.POINTER(uint)]),
        "fann_destroy": (None, [ann]),
        "fann_set_training_algorithm": (None, [ann, ctypes.c_int]),
        "fann_set_activation_function_hidden": (None, [ann, ctypes.c_int]),
        "fann_set_activation_function_output": (None, [ann, ctypes.c_int]),
        "fann_set_activation_steepness_hidden": (None, [ann, real]),
        "fann_set_activation_steepness_output": (None, [ann, real]),
        "fann_set_train_error_function": (None, [ann, ctypes.c_int]),
        "fann_set_learning_rate": (None, [ann, ctypes.c_float]),
        "fann_set_learning_momentum": (None, [ann, ctypes.c_float]),
        "fann_randomize_weights": (None, [ann, real, real]),
        "fann_get_total_connections": (uint, [ann]),
        "fann_get_connection_array": (None, [ann, ptr]),
        "fann_set_weight_array": (None, [ann, ptr, uint]),
        "fann_train": (None, [ann, ptr, ptr]),
        "fann_create_train": (data, [uint, uint, uint]),
        "fann_destroy_train": (None, [data]),
        "fann_train_on_data": (None, [ann, data, uint, uint, ctypes.c_float]),
    }
    for fname, (restype, argtypes) in prototypes.items():
        func = getattr(lib, fname)
        func.restype, func.argtypes = restype, argtypes
    return lib


class FannNet:
    """A FANN network of ``layer_sizes`` set up for the lecture's algorithm
    (see the module docstring), in ``dtype``, with its weights uniform in
    [-0.05, 0.05] like ``bpcore.Network``'s default."""

    def __init__(self, layer_sizes, dtype, learning_rate, *, steepness=0.5):
        self.dtype = np.dtype(dtype)
        self.lib = load_library(self.dtype)
        self.layer_sizes = tuple(layer_sizes)
        sizes = (ctypes.c_uint * len(layer_sizes))(*layer_sizes)
        self.ann = self.lib.fann_create_standard_array(len(layer_sizes), sizes)
        if not self.ann:
            raise FannError("fann_create_standard_array failed")
        lib, ann = self.lib, self.ann
        lib.fann_set_training_algorithm(ann, _TRAIN_INCREMENTAL)
        lib.fann_set_activation_function_hidden(ann, _SIGMOID)
        lib.fann_set_activation_function_output(ann, _SIGMOID)
        lib.fann_set_activation_steepness_hidden(ann, steepness)
        lib.fann_set_activation_steepness_output(ann, steepness)
        lib.fann_set_train_error_function(ann, _ERRORFUNC_LINEAR)
        lib.fann_set_learning_rate(ann, learning_rate)
        lib.fann_set_learning_momentum(ann, 0.0)
        lib.fann_randomize_weights(ann, -0.05, 0.05)
        self._data = None

    def __del__(self):
        lib, ann, data = getattr(self, "lib", None), getattr(self, "ann", None), getattr(self, "_data", None)
        if data:
            lib.fann_destroy_train(data)
        if ann:
            lib.fann_destroy(ann)

    def _connections(self):
        """All connections (structured array of from, to, weight), in FANN's
        order: layer by layer, unit by unit, sources in order with the bias last."""
        conns = np.zeros(self.lib.fann_get_total_connections(self.ann), dtype=_connection_dtype(self.dtype))
        self.lib.fann_get_connection_array(self.ann, conns.ctypes.data)
        return conns

    def get_params(self):
        """Per layer ``(W, b)``: W (n_out, n_in) with W[j, i] = w_ji, b (n_out,)."""
        return _split_layers(self._connections()["weight"], self.layer_sizes)

    def set_params(self, weights, biases):
        """Load per-layer weights and biases (bpcore's layout). FANN looks up each
        connection by a linear search, so this is for small networks only."""
        conns = self._connections()
        _check_connection_order(conns, self.layer_sizes)
        conns["weight"] = np.concatenate(
            [np.hstack([W, np.asarray(b)[:, None]]).ravel() for W, b in zip(weights, biases)]
        )
        self.lib.fann_set_weight_array(self.ann, conns.ctypes.data, conns.shape[0])

    def train_one(self, x, t):
        """One ``fann_train`` step on input ``x`` (n_in,) and target ``t`` (n_out,)."""
        x = np.ascontiguousarray(x, dtype=self.dtype)
        t = np.ascontiguousarray(t, dtype=self.dtype)
        self.lib.fann_train(self.ann, x.ctypes.data, t.ctypes.data)

    def set_data(self, X, T):
        """Copy X (n, n_in) and T (n, n_out) into a fann_train_data for :meth:`train_epochs`."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        T = np.ascontiguousarray(T, dtype=self.dtype)
        if self._data:
            self.lib.fann_destroy_train(self._data)
        self._data = self.lib.fann_create_train(X.shape[0], X.shape[1], T.shape[1])
        if not self._data:
            raise FannError("fann_create_train failed")
        rows = self._data.contents
        row_in, row_out = X.strides[0], T.strides[0]
        for d in range(X.shape[0]):  # FANN holds one pointer per example
            ctypes.memmove(rows.input[d], X.ctypes.data + d * row_in, row_in)
            ctypes.memmove(rows.output[d], T.ctypes.data + d * row_out, row_out)

    def train_epochs(self, n_examples, epochs):
        """``epochs`` passes of incremental training over the first ``n_examples``
        examples of :meth:`set_data`'s data, in the given order, all inside FANN
        (``fann_train_on_data``: per epoch, ``fann_train`` on every example)."""
        data = self._data.contents
        full = data.num_data
        data.num_data = n_examples  # FANN's epoch loop runs over num_data examples
        try:
            # FANN stops once the MSE is <= the desired error: -1 never is, so
            # all epochs run; 0 epochs between reports prints nothing.
            self.lib.fann_train_on_data(self.ann, self._data, epochs, 0, -1.0)
        finally:
            data.num_data = full


def _split_layers(flat, layer_sizes):
    """Cut FANN's flat weight vector into per-layer ``(W, b)`` (bias = last column)."""
    layers, start = [], 0
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        block = flat[start : start + n_out * (n_in + 1)].reshape(n_out, n_in + 1)
        layers.append((block[:, :-1].copy(), block[:, -1].copy()))
        start += n_out * (n_in + 1)
    return layers


def _check_connection_order(conns, layer_sizes):
    """FANN numbers neurons globally, each layer followed by its bias neuron;
    make sure its connection array is ordered as :func:`_split_layers` assumes."""
    expected_from, expected_to, first = [], [], 0
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        nxt = first + n_in + 1
        for j in range(n_out):
            expected_from.extend(range(first, first + n_in + 1))
            expected_to.extend([nxt + j] * (n_in + 1))
        first = nxt
    if not (np.array_equal(conns["from"], expected_from) and np.array_equal(conns["to"], expected_to)):
        raise FannError("FANN's connection array is not in the expected layer order")


def check_equivalence(dtype=np.float64, *, layer_sizes=(3, 4, 3, 2), n_examples=1, steepness=0.5,
                      via_epoch=False, seed=0):
    """Train the same small network with FANN and with ``bpcore.reference.train``
    from the same weights on the same ``n_examples`` examples, in order, and
    return the largest weight/bias difference, relative to max(1, |w|).

    FANN runs one ``fann_train`` call per example, or with ``via_epoch`` one
    ``fann_train_on_data`` epoch over a fann_train_data (the benchmark's path).

    The learning rate is 0.1 rounded to a C float, since FANN stores η as a
    float; the weights are small enough that no output reaches FANN's derivative
    clipping at 0.01/0.99. ``steepness`` other than 0.5 configures a different
    sigmoid and must make the difference large (the check can fail)."""
    learning_rate = float(np.float32(0.1))
    net, X, T = small_problem(layer_sizes, n_examples, seed)
    fann = FannNet(layer_sizes, dtype, learning_rate, steepness=steepness)
    fann.set_params(net.weights, net.biases)
    if via_epoch:
        fann.set_data(X, T)
        fann.train_epochs(n_examples, 1)
    else:
        for x, t in zip(X, T):
            fann.train_one(x, t)
    bpcore.reference.train(net, X, T, learning_rate=learning_rate, epochs=1, shuffle=False)
    return max_relative_difference(fann.get_params(), net)
