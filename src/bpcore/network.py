"""The network: layer sizes, activations and one contiguous parameter buffer.

Parameter buffer (``Network._params``, 1-D, 64-byte aligned, ``net.dtype``)::

    length = sum over layers l of  n_out_l * (n_in_l + 1)
    layout = [ W_0 (n_out_0 x n_in_0, row-major) | b_0 (n_out_0) | W_1 | b_1 | ... ]

``weights[l]`` and ``biases[l]`` are views into it, so the kernels see the whole
network as one buffer and the user sees per-layer arrays. ``weights[l][j, i]``
is the lecture's w_ji: the weight from unit i of layer l to unit j of layer
l+1.
"""

import contextlib
import numbers
import threading

import numpy as np

from . import _model_format, _names
from ._validation import FLOAT_DTYPES, Interval, OneOf, as_float_matrix, checked_real_array, validate_params

__all__ = ["Network", "check_network", "nguyen_widrow_scale"]

_ALIGNMENT = 64  # bytes: a cache line, and one AVX-512 vector

_NETWORK_CONSTRAINTS = {
    "activation": OneOf(*_names.HIDDEN_ACTIVATIONS),
    "output_activation": OneOf(*_names.OUTPUT_ACTIVATIONS),
    "init": OneOf(*_names.INITS),
    "init_scale": Interval(numbers.Real, 0, None, closed="neither"),
    "seed": Interval(numbers.Integral, 0, None, closed="left", allow_none=True),
}


def nguyen_widrow_scale(layer_sizes, activation, input_range):
    """The scale factor s of FANN's Nguyen–Widrow initialisation, computed as
    libfann 2.2's ``fann_init_weights`` (fann.c) computes it::

        num_hidden_neurons = total_neurons - (num_input + num_output + num_layers)
        scale_factor = (float) (pow((double) (0.7f * (double) num_hidden_neurons),
                                    (double) (1.0f / (double) num_input))
                                / (double) (largest_inp - smallest_inp));

    that is, s = (0.7 H) ** (1 / n_inputs) / (hi − lo), with 0.7 the float32
    0.7f, H the units of all hidden layers, and the result rounded to float32.
    (The published rule, β = 0.7 H ** (1 / n_inputs), has the 0.7 outside the
    power; FANN's has it inside, and bpcore follows FANN.) Checks the network
    and ``input_range`` (default (-1, 1)) first."""
    if activation not in _names.NGUYEN_WIDROW_ACTIVATIONS:
        raise ValueError(
            f"init='nguyen_widrow' is for sigmoid and tanh hidden units (it spreads the active "
            f"regions of sigmoid-shaped units over the input range); got activation={activation!r}. "
            "Use init='he' for relu units"
        )
    hidden = sum(layer_sizes[1:-1])
    if hidden == 0:
        raise ValueError(
            f"init='nguyen_widrow' needs at least one hidden layer (its scale grows with the number "
            f"of hidden units; with none, FANN's rule makes every weight 0); got layer_sizes={layer_sizes!r}"
        )
    lo, hi = _check_input_range(input_range)
    scale = (float(np.float32(0.7)) * hidden) ** (1.0 / layer_sizes[0]) / (hi - lo)
    largest = float(np.finfo(np.float32).max) / 2  # FANN's scale_factor is a C float
    if not scale <= largest:
        raise ValueError(
            f"input_range={input_range!r} is too narrow: the Nguyen–Widrow scale {scale:.3g} is "
            f"beyond the float32 range in which FANN computes it (at most {largest:.3g})"
        )
    return float(np.float32(scale))


def _check_input_range(input_range):
    """``(lo, hi)``: two finite real numbers, lo < hi, hi − lo finite."""
    if input_range is None:
        return -1.0, 1.0
    try:
        lo, hi = input_range
    except (TypeError, ValueError):
        raise TypeError(
            f"input_range must be a pair (lo, hi) of the smallest and largest input value; "
            f"got {input_range!r}"
        ) from None
    for value in (lo, hi):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"input_range must hold two real numbers; got {input_range!r}")
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi and np.isfinite(hi - lo)):
        raise ValueError(
            f"input_range must be (lo, hi) with finite lo < hi (and hi - lo finite); got {input_range!r}"
        )
    return lo, hi


def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be 'float64' or 'float32'; got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be 'float64' or 'float32'; got {dtype!r}")
    return dt


def _check_layer_sizes(layer_sizes):
    try:
        sizes = tuple(layer_sizes)
    except TypeError:
        raise TypeError(f"layer_sizes must be a sequence of integers; got {layer_sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least an input and an output layer; got {sizes!r}"
        )
    for n in sizes:
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral):
            raise TypeError(f"layer_sizes must hold integers; got {sizes!r}")
        if n < 1:
            raise ValueError(f"every layer needs at least one unit; got layer_sizes={sizes!r}")
    return tuple(int(n) for n in sizes)


def _layout(layer_sizes):
    """Offsets of each layer's weights and biases in the parameter buffer:
    a list of ``(w_offset, b_offset, n_out, n_in)`` and the total length."""
    layout, offset = [], 0
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        layout.append((offset, offset + n_out * n_in, n_out, n_in))
        offset += n_out * (n_in + 1)
    return layout, offset


def _aligned_empty(n, dtype):
    """A 1-D array of ``n`` elements whose data starts on a 64-byte boundary."""
    itemsize = dtype.itemsize
    raw = np.empty(n + _ALIGNMENT // itemsize, dtype=dtype)
    skip = (-raw.ctypes.data % _ALIGNMENT) // itemsize
    return raw[skip : skip + n]


def check_network(net, name="net"):
    """TypeError unless ``net`` is a :class:`Network` (``name`` is how the
    error calls it: "net", "networks[2]", ...)."""
    if not isinstance(net, Network):
        raise TypeError(f"{name} must be a bpcore.Network; got {type(net).__name__}")


class Network:
    """A fully connected feed-forward network.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first and output last, e.g. ``(3, 2, 1)``. Any
        number of hidden layers, including none.
    activation : {"sigmoid", "tanh", "relu"}
        Activation of the hidden units.
    output_activation : {"sigmoid", "identity", "softmax"}
        Activation of the output units.
    init : {"uniform", "xavier", "he", "nguyen_widrow"}
        ``"uniform"``: weights and biases uniform in ``[-init_scale, init_scale]``
        (the lecture's §5 step 2). ``"xavier"``: Glorot uniform weights,
        ``U(±sqrt(6 / (n_in + n_out)))``, zero biases. ``"he"``: He normal
        weights, ``N(0, 2 / n_in)``, zero biases. ``"nguyen_widrow"``: FANN's
        ``fann_init_weights`` (Nguyen–Widrow as libfann 2.2 implements it, for
        sigmoid and tanh hidden units and at least one hidden layer): with
        ``s = (0.7 H) ** (1 / n_inputs) / (hi − lo)`` (rounded to float32, as
        FANN does), H the hidden units of all hidden layers and ``(lo, hi)`` =
        ``input_range``, every weight of every layer is uniform in ``[0, s)``
        and every bias uniform in ``[−s, s)``.
    init_scale : float
        Half-width of the ``"uniform"`` initialisation.
    input_range : (lo, hi) or None
        Only with ``init="nguyen_widrow"``: the smallest and largest input value
        the network will see (FANN takes them from the training data, over all
        inputs: pass ``(X.min(), X.max())`` to do the same). None: ``(-1, 1)``,
        inputs scaled as FANN's ``fann_scale_train`` usually scales them.
    seed : int or None
        Seed of ``numpy.random.default_rng``; the same seed gives the same network.
    dtype : {"float64", "float32"}

    Attributes
    ----------
    layer_sizes : tuple of int
    weights : list of ndarray
        ``weights[l]`` has shape ``(layer_sizes[l+1], layer_sizes[l])``;
        ``weights[l][j, i]`` is w_ji, from unit i of layer l to unit j of layer l+1.
    biases : list of ndarray
        ``biases[l]`` has shape ``(layer_sizes[l+1],)``.
    dtype : numpy.dtype

    Members for bpcore's trainers and kernels (private to users, used across
    the package; nothing else reaches into a Network):

    ``_params``
        The parameter buffer: 1-D, 64-byte aligned, ``dtype``, laid out as the
        module docstring says. ``weights[l]`` / ``biases[l]`` are views into it
        (until a user puts a new array there), and the kernels read and train
        it in place.
    ``_sync()``
        Called before every use by a trainer or kernel: brings hand-replaced
        arrays into the buffer (``_adopt_replaced``) and raises ValueError if
        the buffer holds NaN or infinity.
    ``_adopt_replaced()``
        Only the first half of ``_sync``: after a training callback, whose NaN
        must end training as a divergence rather than as bad input.
    ``_exclusive()``
        A context manager held by a trainer while it changes the weights: a
        second trainer of the same network, in another thread, gets a
        RuntimeError instead of a race.
    """

    def __init__(
        self,
        layer_sizes,
        *,
        activation="sigmoid",
        output_activation="sigmoid",
        init="uniform",
        init_scale=0.05,
        seed=None,
        dtype="float64",
        input_range=None,
    ):
        opts = validate_params(
            _NETWORK_CONSTRAINTS,
            {
                "activation": activation,
                "output_activation": output_activation,
                "init": init,
                "init_scale": init_scale,
                "seed": seed,
            },
        )
        dtype = _check_dtype(dtype)
        largest = float(np.finfo(dtype).max) / 2
        if init_scale > largest:
            raise ValueError(
                f"init_scale must be at most {largest:.3g} for a {dtype.name} "
                f"network; got {init_scale!r}"
            )
        layer_sizes = _check_layer_sizes(layer_sizes)
        if init == "nguyen_widrow":
            nw_scale = nguyen_widrow_scale(layer_sizes, activation, input_range)
        elif input_range is not None:
            raise ValueError(
                f"input_range={input_range!r} is only used with init='nguyen_widrow'; "
                f"init is {init!r}"
            )
        self._setup(layer_sizes, dtype, activation, output_activation)
        rng = np.random.default_rng(opts["seed"])
        for W, b in zip(self._weight_views, self._bias_views):
            n_out, n_in = W.shape
            if init == "nguyen_widrow":  # fann_init_weights: rand(0, s) weights, rand(-s, s) biases
                W[...] = rng.uniform(0.0, nw_scale, size=W.shape)
                b[...] = rng.uniform(-nw_scale, nw_scale, size=b.shape)
            elif init == "uniform":
                W[...] = rng.uniform(-init_scale, init_scale, size=W.shape)
                b[...] = rng.uniform(-init_scale, init_scale, size=b.shape)
            elif init == "xavier":
                limit = np.sqrt(6.0 / (n_in + n_out))
                W[...] = rng.uniform(-limit, limit, size=W.shape)
                b[...] = 0.0
            else:  # "he"
                W[...] = rng.normal(0.0, np.sqrt(2.0 / n_in), size=W.shape)
                b[...] = 0.0

    def _setup(self, layer_sizes, dtype, activation, output_activation):
        # Fixed for the network's life: the parameter buffer is laid out for them.
        self._layer_sizes = layer_sizes
        self._activation = activation
        self._output_activation = output_activation
        self._busy = threading.Lock()
        layout, length = _layout(layer_sizes)
        self._params = _aligned_empty(length, dtype)
        self._weight_views = [
            self._params[w_off:b_off].reshape(n_out, n_in) for w_off, b_off, n_out, n_in in layout
        ]
        self._bias_views = [self._params[b_off : b_off + n_out] for _, b_off, n_out, _ in layout]
        # Walking the layer offsets must cover exactly the whole buffer.
        assert sum(W.size + b.size for W, b in zip(self._weight_views, self._bias_views)) == length
        self._weights = list(self._weight_views)
        self._biases = list(self._bias_views)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_arrays(cls, weights, biases, *, activation="sigmoid", output_activation="sigmoid", dtype=None):
        """A network with the given parameters.

        ``weights[l]`` of shape ``(n_{l+1}, n_l)`` (``weights[l][j, i]`` = w_ji, from
        unit i to unit j), ``biases[l]`` of shape ``(n_{l+1},)``. Values are copied.
        ``dtype`` defaults to float32 when every array is float32, else float64.
        """
        validate_params(
            _NETWORK_CONSTRAINTS, {"activation": activation, "output_activation": output_activation}
        )
        weights = [np.asanyarray(W) for W in weights]  # keep masks: _store refuses them
        biases = [np.asanyarray(b) for b in biases]
        if len(weights) == 0 or len(weights) != len(biases):
            raise ValueError(
                f"from_arrays needs one bias vector per weight matrix and at least one layer; "
                f"got {len(weights)} weight matrices and {len(biases)} bias vectors"
            )
        if dtype is None:
            all32 = all(a.dtype == np.float32 for a in weights + biases)
            dtype = np.float32 if all32 else np.float64
        dtype = _check_dtype(dtype)
        for l, W in enumerate(weights):
            if W.ndim != 2:
                raise ValueError(f"weights[{l}] must be 2-D (n_out, n_in); got shape {W.shape}")
        sizes = [weights[0].shape[1]] + [W.shape[0] for W in weights]
        for l, W in enumerate(weights[1:], start=1):
            if W.shape[1] != weights[l - 1].shape[0]:
                raise ValueError(
                    f"weights do not chain: weights[{l - 1}] has shape {weights[l - 1].shape} "
                    f"(so {weights[l - 1].shape[0]} units) but weights[{l}] has shape {W.shape} "
                    f"(expects {W.shape[1]} inputs)"
                )
        net = cls.__new__(cls)
        net._setup(_check_layer_sizes(sizes), dtype, activation, output_activation)
        for l, (W, b) in enumerate(zip(weights, biases)):
            net._store(f"weights[{l}]", net._weight_views[l], W)
            net._store(f"biases[{l}]", net._bias_views[l], b)
        return net

    def copy(self):
        """An independent copy (same parameters, activations and dtype)."""
        net = type(self).__new__(type(self))
        net._setup(self.layer_sizes, self.dtype, self.activation, self.output_activation)
        net._params[...] = self.params_vector()
        return net

    # ----------------------------------------------------------------- architecture
    @property
    def layer_sizes(self):
        """Units per layer, input first (read-only: build a new Network to change it)."""
        return self._layer_sizes

    @property
    def activation(self):
        """Activation of the hidden units (read-only)."""
        return self._activation

    @property
    def output_activation(self):
        """Activation of the output units (read-only)."""
        return self._output_activation

    def __setattr__(self, name, value):
        if name in ("layer_sizes", "activation", "output_activation", "dtype"):
            raise AttributeError(
                f"{name} is fixed when a Network is built (its parameter buffer is laid out "
                f"for it); build a new Network, e.g. Network.from_arrays(net.weights, "
                f"net.biases, activation=..., output_activation=...)"
            )
        super().__setattr__(name, value)

    # ----------------------------------------------------------------- parameters
    @property
    def dtype(self):
        return self._params.dtype

    @property
    def weights(self):
        return self._weights

    @weights.setter
    def weights(self, new):
        self._replace("weights", self._weight_views, new)
        self._weights = list(self._weight_views)

    @property
    def biases(self):
        return self._biases

    @biases.setter
    def biases(self, new):
        self._replace("biases", self._bias_views, new)
        self._biases = list(self._bias_views)

    @property
    def n_inputs(self):
        return self.layer_sizes[0]

    @property
    def n_outputs(self):
        return self.layer_sizes[-1]

    def _store(self, name, view, value):
        """Validate ``value`` for ``view`` (shape, real dtype, finite, in range)
        and copy it in."""
        if isinstance(value, np.ma.MaskedArray):  # np.asarray would drop the mask
            value = checked_real_array(value, view.dtype, name)
        a = np.asarray(value)
        if a.dtype.kind not in "fiu" or not np.can_cast(a.dtype, view.dtype, casting="same_kind"):
            raise TypeError(
                f"{name} must be a real floating-point array (network dtype {view.dtype}); "
                f"got dtype {a.dtype}"
            )
        if a.shape != view.shape:
            raise ValueError(f"{name} must have shape {view.shape}; got {a.shape}")
        view[...] = checked_real_array(a, view.dtype, name)

    def _replace(self, name, views, new):
        new = list(new)
        if len(new) != len(views):
            raise ValueError(f"{name} must be a list of {len(views)} arrays; got {len(new)}")
        checked = []
        for l, (view, value) in enumerate(zip(views, new)):
            scratch = np.empty_like(view)
            self._store(f"{name}[{l}]", scratch, value)
            checked.append(scratch)
        for view, value in zip(views, checked):  # all valid: now change the network
            view[...] = value

    def _sync(self):
        """Make the buffer what the user sees (``_adopt_replaced``) and check that
        it is finite: called before every use by a trainer or kernel."""
        self._adopt_replaced()
        if not np.isfinite(self._params).all():
            raise ValueError("the network's weights or biases contain NaN or infinity")
        assert self._params.size == _layout(self._layer_sizes)[1]

    def _adopt_replaced(self):
        """Bring arrays that were put into ``net.weights[l]`` / ``net.biases[l]`` by
        hand back into the parameter buffer (validated), so trainers and kernels
        only ever see the buffer. Raises before changing anything if one is bad."""
        for name, listed, views in (
            ("weights", self._weights, self._weight_views),
            ("biases", self._biases, self._bias_views),
        ):
            if len(listed) != len(views):
                raise ValueError(
                    f"net.{name} must hold {len(views)} arrays; it holds {len(listed)}"
                )
            if any(a is not v for a, v in zip(listed, views)):
                self._replace(name, views, listed)
                listed[:] = views

    def params_vector(self):
        """A copy of all parameters as one 1-D array (the buffer's layout)."""
        self._adopt_replaced()
        return self._params.copy()

    def set_params_vector(self, vector):
        """Overwrite all parameters from a 1-D array in the buffer's layout
        (checked like the ``weights`` setter: shape, real dtype, finite)."""
        self._store("the parameter vector", self._params, vector)

    # ----------------------------------------------------------------- threads
    @contextlib.contextmanager
    def _exclusive(self):
        """Held while a trainer changes the weights: a second trainer on the same
        network in another thread gets a clear error instead of a race."""
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(
                "this Network is busy: another thread is training it. Train a net.copy() "
                "in each thread instead, or wait for the other training to finish."
            )
        try:
            yield
        finally:
            self._busy.release()

    # ----------------------------------------------------------------- use
    def predict(self, X):
        """Outputs of the network: ``X`` of shape ``(n, n_in)`` gives ``(n, n_out)``,
        a single example of shape ``(n_in,)`` gives ``(n_out,)``. Runs on the
        compiled kernels."""
        from . import compiled

        single = np.ndim(X) == 1
        X2 = as_float_matrix(
            np.reshape(X, (1, -1)) if single else X, self.dtype, n_columns=self.n_inputs
        )
        self._sync()
        out = compiled.predict(self, X2)
        return out[0] if single else out

    # ----------------------------------------------------------------- persistence
    def save(self, path):
        """Write the network to ``path`` in bpcore's ``.npz`` model format
        (see ``docs/model-format.md``); written atomically. The same as
        ``bpcore.save(net, path)``."""
        self._sync()  # the weights as the network sees them, checked finite
        _model_format.write(self, path)

    def __getstate__(self):
        return {
            "layer_sizes": self.layer_sizes,
            "activation": self.activation,
            "output_activation": self.output_activation,
            "params": self.params_vector(),
        }

    def __setstate__(self, state):
        params = np.asarray(state["params"])
        self._setup(
            _check_layer_sizes(state["layer_sizes"]),
            _check_dtype(params.dtype),
            state["activation"],
            state["output_activation"],
        )
        self._params[...] = params

    def __eq__(self, other):
        if not isinstance(other, Network):
            return NotImplemented
        self._adopt_replaced()
        other._adopt_replaced()
        return (
            self.layer_sizes == other.layer_sizes
            and self.activation == other.activation
            and self.output_activation == other.output_activation
            and self.dtype == other.dtype
            and np.array_equal(self._params, other._params)
        )

    __hash__ = None

    def to_svg(self):
        """A diagram of the network and its current weights (an SVG document,
        a str), laid out as the lecture's Figure 3: inputs on the left, units
        numbered as the lecture numbers them, each connection labelled with its
        weight w_ji and coloured by its sign (blue positive, red negative), as
        wide as it is large; biases above their units. Layers of more than 8
        units are drawn without labels."""
        from . import _picture

        self._sync()
        weights, biases, num = self.weights, self.biases, _picture.number
        kinds = [self.activation] * (len(self.layer_sizes) - 2) + [self.output_activation]

        def edge_title(l, j, i):
            return f"w_ji from unit {i + 1} of layer {l} to unit {j + 1} of layer {l + 1}: {float(weights[l][j, i])!r}"

        sizes = "-".join(str(n) for n in self.layer_sizes)
        picture = _picture.network_picture(
            self.layer_sizes,
            unit_lines=lambda c, j: ["input"] if c == 0 else [kinds[c - 1]],
            bias_text=lambda l, j: f"b {num(biases[l][j])}",
            edge_text=lambda l, j, i: num(weights[l][j, i]),
            edge_title=edge_title,
            edge_change=lambda l, j, i: float(weights[l][j, i]),
            unit_title=lambda c, j: f"layer {c}, unit {j + 1}",
            header=[f"Network {sizes}: {self.activation} hidden units, {self.output_activation} outputs, "
                    f"{self.dtype.name}"],
            legend=["connections: w_ji; blue = positive, red = negative; width grows with |w_ji|"],
        )
        return picture.svg()

    def _repr_svg_(self):  # Jupyter shows the diagram inline
        return self.to_svg()

    def __repr__(self):
        sizes = "-".join(str(n) for n in self.layer_sizes)
        return (
            f"Network({sizes}, activation={self.activation!r}, "
            f"output_activation={self.output_activation!r}, dtype={self.dtype.name!r})"
        )
