"""Fuzzing the boundary: random architectures, shapes (mismatched ones too),
dtypes, layouts, values and options drive ``bpcore.train``, ``net.predict``,
``bpcore.total_error`` and ``bpcore.load``.

The property, for every generated case: either a clear refusal (ValueError,
TypeError, ModelFormatError) that leaves the network unchanged, or a
DivergenceError that leaves it finite, or a result equal to the reference's
(float64 within 1e-12, float32 within 1e-4, relative to max(1, |value|)) —
compared only where the problem is well conditioned (the idea of
``well_conditioned`` in test_equivalence.py: nudge the start by tol/1000; if
the reference's answer moves by more than tol/10, rounding differences grow and
no two float implementations can agree) and, for training, where no sigmoid or
tanh unit saturates (see ``saturates``). Anything else — another exception
type, a warning (warnings are errors in this suite), a crash — fails.

Cases are small (a few units, a few examples, at most 3 epochs) because the
reference trainer runs on every one. ``BPCORE_FUZZ_EXAMPLES=n`` runs n cases
per test instead of the modest defaults (scripts/fuzz_sanitized.sh uses it).
"""

import dataclasses
import io
import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import bpcore
from bpcore import DivergenceError, ModelFormatError

_FORCED = int(os.environ.get("BPCORE_FUZZ_EXAMPLES", "0"))


def fuzz_settings(default):
    """``default`` cases per test, or BPCORE_FUZZ_EXAMPLES of them."""
    return settings(max_examples=_FORCED or default, deadline=None, derandomize=not _FORCED,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.function_scoped_fixture])


TOLERANCE = {np.dtype("float64"): 1e-12, np.dtype("float32"): 1e-4}
REFUSED = (ValueError, TypeError)  # ModelFormatError is a ValueError


# ------------------------------------------------------------------ strategies
# Values, dtypes and shapes that data may have (FINE) and that make it bad input (BAD).
FINE_SPECIALS = [1e300, -1e300, 5e-324, -0.0, 1e-300, 3.5e38]  # 3.5e38: beyond float32
BAD_SPECIALS = [np.nan, np.inf, -np.inf]
FINE_DTYPES = ["float64"] * 6 + ["float32", "float16", ">f8", "int32", "int64", "uint8", "bool"]
BAD_DTYPES = ["complex128", "object", "str", "datetime64[s]"]
BAD_SHAPES = ["fewer rows", "more columns", "fewer columns", "1-D", "3-D", "empty", "scalar",
              "transposed"]
FAULTS = ["shape", "dtype", "non-finite"]
LAYOUTS = ["C", "C", "Fortran", "strided", "reversed", "read-only"]


def reshape(kind, rows, cols):
    return {
        "ok": (rows, cols), "fewer rows": (max(rows - 1, 0), cols), "more columns": (rows, cols + 1),
        "fewer columns": (rows, max(cols - 1, 0)), "1-D": (rows * cols,), "3-D": (rows, cols, 1),
        "empty": (0, cols), "scalar": (), "transposed": (cols, rows),
    }[kind]


def lay_out(a, layout):
    if a.ndim == 0 or layout == "C":
        return a
    if layout == "Fortran":
        return np.asfortranarray(a)
    if layout == "strided":  # every other element of a wider array: not contiguous
        return np.repeat(a, 2, axis=-1)[..., ::2]
    if layout == "reversed":  # negative strides, same values
        return a[::-1].copy()[::-1]
    a = a.copy()
    a.setflags(write=False)
    return a


@st.composite
def arrays(draw, rows, cols, *, probabilities=False, faulty=False):
    """A ``(rows, cols)`` array of a real dtype in any layout, with values
    normal (or in [0, 1] for ``probabilities``, rows summing to 1 for
    ``probabilities="rows"``) and now and then extreme ones
    (±1e300, subnormals, beyond float32); or, ``faulty``, one that is bad
    input: a wrong shape, a non-numeric dtype, or NaN/inf somewhere."""
    fault = draw(st.sampled_from(FAULTS)) if faulty else None
    shape = reshape(draw(st.sampled_from(BAD_SHAPES)), rows, cols) if fault == "shape" else (rows, cols)
    dtype = draw(st.sampled_from(BAD_DTYPES if fault == "dtype" else FINE_DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = np.asarray(rng.uniform(size=shape) if probabilities else rng.normal(size=shape) * draw(
        st.sampled_from([0.01, 1.0, 5.0])))
    if probabilities == "rows" and values.ndim == 2 and values.size:  # softmax targets sum to 1
        values /= values.sum(axis=1, keepdims=True)
    flat = values.reshape(-1)
    if flat.size and (fault == "non-finite" or draw(st.integers(0, 4)) == 0):
        specials = BAD_SPECIALS if fault == "non-finite" else FINE_SPECIALS
        for position, special in draw(st.lists(st.tuples(st.integers(0, 999), st.sampled_from(specials)),
                                               min_size=1, max_size=2)):
            flat[position % flat.size] = special
    with np.errstate(all="ignore"):  # the harness's own casts (1e300 to int and so on)
        a = (values > 0.5) if dtype == "bool" else values.astype(dtype)
    return lay_out(a, draw(st.sampled_from(LAYOUTS)))


PAIRS = [("sigmoid", "squared_error"), ("identity", "squared_error"),
         ("sigmoid", "cross_entropy"), ("softmax", "cross_entropy")]


def options_strategy(loss, validation, faulty):
    """Every option of train; with ``faulty``, one or two out of range."""
    valid = {
        "learning_rate": st.floats(1e-3, 2.0), "epochs": st.integers(1, 3),
        "shuffle": st.booleans(), "seed": st.one_of(st.none(), st.integers(0, 2**40)),
        "momentum": st.sampled_from([0.0, 0.0, 0.5, 0.9]), "loss": st.just(loss),
        "batch_size": st.sampled_from([1, 1, 2, 3, 100]),
        "weight_decay": st.sampled_from([0.0, 0.0, 1e-3]),
        "max_grad_norm": st.sampled_from([None, None, 0.5, 1e-3]),
        "target_error": st.sampled_from([None, None, 0.0, 0.1]),
        "patience": st.sampled_from([None, 1, 2]), "validation": validation,
        "restore_best": st.booleans(), "callback": st.none(), "progress": st.just(False),
    }
    invalid = {
        "learning_rate": [0, -1.0, np.nan, np.inf, "0.1", True, None, 1j, 1e300],
        "epochs": [0, -1, 1.5, True, None, "2"], "shuffle": ["yes", 1, None],
        "seed": [-1, 1.5, "0"], "momentum": [1.0, -0.1, np.nan, "0"], "loss": ["hinge", None],
        "batch_size": [0, -1, 2.0, True, 2**64], "weight_decay": [-1.0, np.inf, np.nan],
        "max_grad_norm": [0.0, -1.0, np.inf], "target_error": [-1.0, np.nan],
        "patience": [0, 1.5, True], "validation": [np.zeros(3), (np.zeros((2, 2)),)],
        "restore_best": ["x", 1], "callback": [42], "progress": [1, "yes"],
    }

    @st.composite
    def build(draw):
        options = {name: draw(strategy) for name, strategy in valid.items()}
        if options["validation"] is None:
            options["patience"] = None  # (it needs validation data: refused otherwise)
        if faulty:
            for name in draw(st.lists(st.sampled_from(sorted(invalid)), min_size=1, max_size=2)):
                options[name] = draw(st.sampled_from(invalid[name]))
        return options

    return build()


@dataclasses.dataclass
class Case:
    """One generated input: a network (``spec`` for bpcore.Network, plus maybe
    an array put into ``weights[l]``/``biases[l]`` by hand), data and options."""

    spec: dict
    edit: tuple
    X: object
    T: object
    options: dict

    def network(self):
        net = bpcore.Network(**self.spec)
        if self.edit is not None:
            which, l, value = self.edit
            getattr(net, which)[l] = value
        return net

    def arrays(self):
        validation = self.options.get("validation")
        pairs = [self.X, self.T, *(validation if isinstance(validation, tuple) else ())]
        if self.edit is not None:
            pairs.append(self.edit[2])
        return [a for a in pairs if isinstance(a, np.ndarray) and a.dtype.kind in "biuf"]

    @property
    def beyond32(self):
        """Values beyond float32's range somewhere in the data."""
        limit = np.finfo(np.float32).max
        return any(a.size and np.any(np.abs(np.where(np.isfinite(a), a, 0).astype(float)) > limit)
                   for a in self.arrays())


@st.composite
def cases(draw):
    """Half the cases are good input; the other half have one fault: in X, T,
    the validation data, an array put into the network by hand, the options or
    the loss/output pairing."""
    faulty = draw(st.sampled_from([None] * 6 + ["X", "T", "validation", "edit", "options", "loss"]))
    sizes = (draw(st.integers(1, 5)), *draw(st.lists(st.integers(1, 5), max_size=2)), draw(st.integers(1, 4)))
    out_act, loss = draw(st.sampled_from(PAIRS))
    if faulty == "loss":
        loss = "squared_error" if out_act == "softmax" else "cross_entropy"
        out_act = "softmax" if loss == "squared_error" else "identity"
    spec = dict(layer_sizes=sizes, activation=draw(st.sampled_from(["sigmoid", "tanh", "relu"])),
                output_activation=out_act, init=draw(st.sampled_from(["uniform", "xavier", "he"])),
                init_scale=draw(st.sampled_from([0.05, 0.5, 2.0])), seed=draw(st.integers(0, 1000)),
                dtype=draw(st.sampled_from(["float64", "float64", "float32"])))
    rows = draw(st.integers(1, 6))
    probabilities = "rows" if out_act == "softmax" else out_act != "identity"
    X = draw(arrays(rows, sizes[0], faulty=faulty == "X"))
    T = draw(arrays(rows, sizes[-1], probabilities=probabilities, faulty=faulty == "T"))
    validation = st.tuples(arrays(3, sizes[0], faulty=faulty == "validation"),
                           arrays(3, sizes[-1], probabilities=probabilities))
    if faulty != "validation":
        validation = st.one_of(st.none(), validation)
    edit = None
    if faulty == "edit" or draw(st.integers(0, 9)) == 0:
        l = draw(st.integers(0, len(sizes) - 2))
        which = draw(st.sampled_from(["weights", "biases"]))
        shape = (sizes[l + 1], sizes[l]) if which == "weights" else (1, sizes[l + 1])
        value = draw(arrays(*shape, faulty=faulty == "edit"))
        edit = (which, l, value.reshape(-1) if which == "biases" and value.ndim == 2 else value)
    return Case(spec, edit, X, T, draw(options_strategy(loss, validation, faulty == "options")))


# ------------------------------------------------------------------ comparing with the reference
def close(a, b, tol):
    """Equal within ``tol`` relative to max(1, |value|); non-finite values must match exactly."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    finite = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(a[~finite], b[~finite]):
        return False
    scale = np.maximum(1.0, np.maximum(np.abs(a[finite]), np.abs(b[finite])))
    return bool(np.all(np.abs(a[finite] - b[finite]) <= tol * scale))


def well_conditioned(reference, make_net, tol):
    """Does ``reference(net)`` (an array computed by the reference) move by at
    most tol/10 when every parameter of the network is nudged by tol/1000?"""
    nudged = make_net()
    nudged.set_params_vector(nudged.params_vector() * (1 + tol / 1000))
    try:
        a, b = reference(make_net()), reference(nudged)
    except (DivergenceError, RuntimeWarning):
        return False
    return bool(np.all(np.isfinite(a))) and close(a, b, tol / 10)


# How close to its limits (0/1 for sigmoid, ±1 for tanh) a unit may come before
# a training run stops being comparable with the reference.
SATURATION = {np.dtype("float64"): 1e-4, np.dtype("float32"): 1e-2}


def saturates(case, *nets):
    """Does a sigmoid/tanh unit of any of ``nets`` come within SATURATION of
    its limits on the training data? There f'(o) = o(1 − o) or 1 − o² cancels:
    its rounding error is ε/f', not ε, at every step (the AVX2/AVX-512 kernels
    also fuse o·o into the subtraction, the reference rounds it first), which
    the nudge of the start in well_conditioned does not probe. Such runs differ
    from the reference by more than the tolerance without any bug (seen: 1.2e-12
    in float64 and 1.3e-4 in float32, both with a unit driven into saturation)."""
    net = nets[0]
    X = np.asarray(case.X, dtype=np.float64).reshape(-1, net.n_inputs).tolist()
    limit = SATURATION[net.dtype]
    names = [net.activation] * (len(net.layer_sizes) - 2) + [net.output_activation]
    for n in nets:
        layers = bpcore.reference._read_layers(n)
        for x in X:
            outputs = bpcore.reference.forward(layers, x, n.activation, n.output_activation)[1][1:]
            for name, o in zip(names, outputs):
                o = np.asarray(o)
                if name == "sigmoid" and np.any(np.minimum(o, 1 - o) < limit):
                    return True
                if name == "tanh" and np.any(1 - np.abs(o) < limit):
                    return True
    return False


def outcome(call):
    """("ok", value), ("refused", exception) or ("diverged", exception)."""
    try:
        return "ok", call()
    except DivergenceError as exc:
        return "diverged", exc
    except REFUSED as exc:
        return "refused", exc


def state(net):
    return (net.layer_sizes, net.activation, net.output_activation, net.dtype, net._params.tobytes())


def check_call(case, compiled, reference, result_of, trains=False):
    """Run ``compiled(net)`` and ``reference(net)`` on fresh networks and
    check the property; ``result_of(net, value)`` is the array compared.
    ``trains``: the calls train the network (see ``saturates``)."""
    net = case.network()
    before = state(net)
    kind, value = outcome(lambda: compiled(net))
    event(f"compiled: {kind}")
    if kind == "refused":
        assert state(net) == before, f"refused ({value}) but the network changed"
        assert str(value), "an error without a message"
        return None
    if kind == "diverged":
        assert np.isfinite(net.params_vector()).all(), "DivergenceError left non-finite weights"
    tol = TOLERANCE[net.dtype]
    ref_net = case.network()
    ref_kind, ref_value = outcome(lambda: reference(ref_net))
    # Without a seed the two trainers shuffle differently. The reference computes
    # a float32 network in double: beyond float32's range the two overflow
    # differently, so only float64 results compare there.
    comparable = (
        ref_kind != "refused"
        and not (case.options.get("shuffle") is True and case.options.get("seed") is None)
        and (net.dtype == np.float64 or not case.beyond32)
        and well_conditioned(lambda n: result_of(n, reference(n)), case.network, tol)
        and not (trains and saturates(case, case.network(), ref_net))
    )
    event("compared" if comparable else "not comparable (ill-conditioned or refused by the reference)")
    agrees = kind == ref_kind and close(result_of(net, value), result_of(ref_net, ref_value), tol)
    if comparable and not agrees:
        raise AssertionError(f"the compiled result differs from the reference's on {case!r}")
    return None


def trained_params(net, _):
    return net.params_vector()


# ------------------------------------------------------------------ the entry points
@fuzz_settings(300)
@given(case=cases())
def test_fuzz_train(case):
    if case.edit is not None:
        event("hand-edited network")
    check_call(case, lambda n: bpcore.train(n, case.X, case.T, **case.options),
               lambda n: bpcore.reference.train(n, case.X, case.T, **case.options), trained_params,
               trains=True)


@fuzz_settings(400)
@given(case=cases())
def test_fuzz_predict(case):
    X = case.X
    single = isinstance(X, np.ndarray) and X.ndim == 1
    check_call(case, lambda n: n.predict(X),
               lambda n: bpcore.reference.predict(n, np.reshape(X, (1, -1)) if single else X),
               lambda n, out: np.reshape(out, -1))


@fuzz_settings(400)
@given(case=cases())
def test_fuzz_total_error(case):
    loss = case.options["loss"] if isinstance(case.options["loss"], str) else "squared_error"
    check_call(case, lambda n: bpcore.total_error(n, case.X, case.T, loss=loss),
               lambda n: bpcore.reference.total_error(n, case.X, case.T, loss=loss),
               lambda n, error: np.array([error]))


@fuzz_settings(200)
@given(sizes=st.lists(st.integers(-2, 5), max_size=4),
       dtype=st.sampled_from(["float64", "float32", "float16", "int64", None]),
       init_scale=st.sampled_from([0.05, 0.0, -1.0, np.inf, 1e300, 1.7e308]),
       seed=st.one_of(st.none(), st.integers(-3, 5)))
def test_fuzz_network_construction(sizes, dtype, init_scale, seed):
    """Network(...) either refuses clearly or holds finite parameters of the right shapes."""
    try:
        net = bpcore.Network(sizes, dtype=dtype or "float64", init_scale=init_scale, seed=seed)
    except REFUSED:
        event("refused")
        return
    assert [W.shape for W in net.weights] == list(zip(sizes[1:], sizes[:-1]))
    assert np.isfinite(net.params_vector()).all()


# ------------------------------------------------------------------ model files
@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """(network, bytes of its model file)."""
    net = bpcore.Network((3, 4, 2), activation="tanh", seed=1)
    path = tmp_path_factory.mktemp("model") / "m.npz"
    net.save(path)
    return net, path.read_bytes()


def load_bytes(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "m.npz"
    path.write_bytes(data)
    try:
        return bpcore.load(path)
    finally:
        path.unlink()


@fuzz_settings(300)
@given(prefix=st.sampled_from([b"", b"PK\x03\x04", b"\x93NUMPY\x01\x00", b"\x80\x04", b"PK\x05\x06"]),
       body=st.binary(max_size=600))
def test_fuzz_load_random_bytes(prefix, body, tmp_path_factory):
    with pytest.raises(ModelFormatError):
        load_bytes(prefix + body, tmp_path_factory)


@fuzz_settings(400)
@given(damage=st.lists(st.tuples(st.sampled_from(["flip", "truncate", "overwrite", "insert", "delete"]),
                                 st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=3))
def test_fuzz_load_damaged_model(saved_model, damage, tmp_path_factory):
    """A model file with bits flipped, bytes overwritten, inserted or deleted,
    or cut short: ModelFormatError, or (damage in bytes the format does not
    read) exactly the saved network."""
    net, data = saved_model
    data = bytearray(data)
    for kind, position, byte in damage:
        position %= len(data) + 1
        if kind == "flip" and position < len(data):
            data[position] ^= byte
        elif kind == "truncate":
            del data[position:]
        elif kind == "overwrite":
            data[position:position + 4] = bytes([byte] * 4)
        elif kind == "insert":
            data[position:position] = bytes([byte])
        elif kind == "delete":
            del data[position:position + 1]
    try:
        loaded = load_bytes(bytes(data), tmp_path_factory)
    except ModelFormatError:
        event("ModelFormatError")
        return
    event("loaded")
    assert loaded == net


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
              st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8,
)


class _MkdirWhenUnpickled:
    """A pickle that creates a directory: proof, if it exists, that a pickle ran."""
    def __init__(self, path): self.path = str(path)  # noqa: E704
    def __reduce__(self): return os.mkdir, (self.path,)  # noqa: E704


@st.composite
def crafted_models(draw, marker):
    """An .npz archive shaped like a model: a header with each field valid,
    missing or replaced by a random JSON value, and entries of random shapes
    and dtypes (object arrays among them: pickles)."""
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    header = {"format": "bpcore-model", "format_version": 1, "layer_sizes": sizes,
              "activation": draw(st.sampled_from(["sigmoid", "tanh", "relu"])),
              "output_activation": draw(st.sampled_from(["sigmoid", "identity", "softmax"])),
              "dtype": draw(st.sampled_from(["float64", "float32"])), "metadata": {}}
    for key in draw(st.lists(st.sampled_from(sorted(header) + ["metadata_arrays", "extra"]), max_size=2)):
        if draw(st.booleans()):
            header.pop(key, None)
        else:
            header[key] = draw(JSON_VALUES)
    members = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    dtype = header.get("dtype") if header.get("dtype") in ("float64", "float32") else "float64"
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for name, shape in ((f"weights_{l}", (n_out, n_in)), (f"biases_{l}", (n_out,))):
            members[name] = np.full(shape, 0.25, dtype=dtype)
    for name in draw(st.lists(st.sampled_from(sorted(members) + ["weights_9", "metadata_x"]), max_size=2)):
        kind = draw(st.sampled_from(["drop", "shape", "dtype", "nan", "pickle", "big-endian"]))
        shape = members[name].shape if name in members else (2,)
        if kind == "drop":
            members.pop(name, None)
        elif kind == "shape":
            members[name] = np.zeros(draw(st.lists(st.integers(0, 3), max_size=3)))
        elif kind == "dtype":
            members[name] = np.zeros(3, dtype=draw(st.sampled_from(["int8", "complex64", "U2", "bool"])))
        elif kind == "nan":
            members[name] = np.full(shape, np.nan)
        elif kind == "pickle":
            exploit = np.empty(1, dtype=object)
            exploit[0] = _MkdirWhenUnpickled(marker)
            members[name] = exploit
        else:
            members[name] = np.full(shape, 0.25, dtype=">f8")  # written on a big-endian machine
    buffer = io.BytesIO()
    np.savez(buffer, **members)
    return header, members, buffer.getvalue()


@fuzz_settings(400)
@given(data=st.data())
def test_fuzz_load_crafted_models(data, tmp_path_factory):
    """Either ModelFormatError or a network exactly as the archive describes
    it; a pickle inside never runs."""
    marker = tmp_path_factory.getbasetemp() / "pickle-ran"
    header, members, raw = data.draw(crafted_models(marker))
    try:
        net = load_bytes(raw, tmp_path_factory)
    except ModelFormatError:
        event("ModelFormatError")
    else:
        event("loaded")
        assert list(net.layer_sizes) == header["layer_sizes"]
        assert (net.activation, net.output_activation, net.dtype.name) == (
            header["activation"], header["output_activation"], header["dtype"])
        for l, (W, b) in enumerate(zip(net.weights, net.biases)):
            np.testing.assert_array_equal(W, members[f"weights_{l}"])
            np.testing.assert_array_equal(b, members[f"biases_{l}"])
    assert not marker.exists(), "loading ran a pickle"


PLANTED = Case(dict(layer_sizes=(2, 2, 1), activation="sigmoid", output_activation="sigmoid",
                    init="uniform", init_scale=0.5, seed=0, dtype="float64"), None,
               np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0], [0.0]]),
               dict(learning_rate=0.5, epochs=2, seed=0))


@settings(max_examples=1, database=None)
@given(case=st.just(PLANTED))
def _check_a_trainer_with_one_epoch_too_many(case):
    check_call(case, lambda n: bpcore.train(n, case.X, case.T, **{**case.options, "epochs": 3}),
               lambda n: bpcore.reference.train(n, case.X, case.T, **case.options), trained_params,
               trains=True)


def test_the_fuzzers_property_can_fail():
    """A compiled trainer that runs one epoch too many is caught."""
    with pytest.raises(AssertionError, match="differs from the reference"):
        _check_a_trainer_with_one_epoch_too_many()


# ------------------------------------------------------------------ FANN .net files
@pytest.fixture(scope="module")
def saved_fann(tmp_path_factory):
    """(network, text of its FANN .net file)."""
    import bpcore.fann

    net = bpcore.Network((3, 4, 2), activation="tanh", seed=1)
    path = tmp_path_factory.mktemp("fann") / "m.net"
    bpcore.fann.save(net, path)
    return net, path.read_bytes()


def load_fann_bytes(data, tmp_path_factory):
    import bpcore.fann

    path = tmp_path_factory.mktemp("fuzz") / "m.net"
    path.write_bytes(data)
    try:
        return bpcore.fann.load_with_scale(path)
    finally:
        path.unlink()


@fuzz_settings(300)
@given(prefix=st.sampled_from([b"", b"FANN_FLO_2.1\n", b"FANN_FIX_2.1\n", b"FANN_FLO_2.0\n"]),
       body=st.binary(max_size=600))
def test_fuzz_fann_load_random_bytes(prefix, body, tmp_path_factory):
    with pytest.raises(ModelFormatError):
        load_fann_bytes(prefix + body, tmp_path_factory)


@fuzz_settings(400)
@given(damage=st.lists(st.tuples(st.sampled_from(["flip", "truncate", "overwrite", "insert", "delete"]),
                                 st.integers(0, 10**6), st.sampled_from(b"0123456789.-+e(), =\n\xffx")),
                       min_size=1, max_size=3))
def test_fuzz_fann_load_damaged_file(saved_fann, damage, tmp_path_factory):
    """A .net file with characters changed, inserted, deleted or cut short:
    a FannFormatError (a ModelFormatError), or a network that predicts finite
    values and that bpcore writes and reads back unchanged."""
    import bpcore.fann

    net, data = saved_fann
    data = bytearray(data)
    for kind, position, byte in damage:
        position %= len(data) + 1
        if kind == "flip" and position < len(data):
            data[position] = byte
        elif kind == "truncate":
            del data[position:]
        elif kind == "overwrite":
            data[position:position + 2] = bytes([byte] * 2)
        elif kind == "insert":
            data[position:position] = bytes([byte])
        elif kind == "delete":
            del data[position:position + 1]
    try:
        loaded, scale = load_fann_bytes(bytes(data), tmp_path_factory)
    except ModelFormatError:
        event("FannFormatError")
        return
    event("loaded")
    assert np.isfinite(loaded.predict(np.zeros(loaded.n_inputs))).all()
    path = tmp_path_factory.mktemp("again") / "again.net"
    bpcore.fann.save(loaded, path, scale=scale)
    assert bpcore.fann.load(path) == loaded
