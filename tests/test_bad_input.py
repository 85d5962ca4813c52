"""Bad input, case by case: every input of docs/bad-input.md that the other
test files do not already show. Each either trains (predicts, loads) exactly
like clean input does, or is refused with a clear ValueError/TypeError before
anything changes: every refusal here also asserts that the network is unchanged.

Cases already shown elsewhere are not repeated (see the table for where):
tests/test_training.py (options, shapes, NaN, dtypes, layouts, threads),
tests/test_network.py (construction, hand-replaced weights), tests/test_model_io.py
(model files, atomic saves) and tests/test_cli.py (CSV files).
"""

import re
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import bpcore
from bpcore import DivergenceError
from bpcore._validation import as_float_matrix

RNG = np.random.default_rng(0)
X4 = RNG.normal(size=(12, 4))
T2 = RNG.uniform(size=(12, 2))


def net42(**kwargs):
    """The network most cases use: 4 inputs, 3 hidden, 2 outputs."""
    return bpcore.Network((4, 3, 2), seed=0, **kwargs)


def state(net):
    """Everything a network is made of, comparable with ``==``."""
    return (net.layer_sizes, net.activation, net.output_activation, net.dtype,
            net._params.tobytes())


def assert_refused(net, error, match, call, *args, **kwargs):
    """``call(*args, **kwargs)`` raises ``error`` matching ``match`` and leaves
    ``net`` exactly as it was."""
    before = state(net)
    with pytest.raises(error, match=match):
        call(*args, **kwargs)
    assert state(net) == before, "the network changed although the call was refused"


def trained(trainer, make_net, X, T, **options):
    net = make_net()
    trainer(net, X, T, seed=0, epochs=2, **options)
    return net


# ------------------------------------------------------------------ huge and tiny values
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_huge_finite_inputs_train_like_the_reference(activation, assert_params_close):
    """X = ±1e300 saturates the hidden units: finite, and the same in both trainers."""
    X = np.where(X4 > 0, 1e300, -1e300)
    nets = [trained(trainer, lambda: net42(activation=activation), X, T2)
            for trainer in (bpcore.reference.train, bpcore.train)]
    assert np.isfinite(nets[1].params_vector()).all()
    assert_params_close(nets[1].params_vector(), nets[0].params_vector(), "float64")
    np.testing.assert_allclose(nets[1].predict(X), bpcore.reference.predict(nets[1], X), rtol=1e-12)


def test_subnormal_values_train_like_the_reference(assert_params_close):
    tiny = np.finfo(np.float64).smallest_subnormal
    X = X4 * tiny * 7
    nets = [trained(trainer, net42, X, T2) for trainer in (bpcore.reference.train, bpcore.train)]
    assert_params_close(nets[1].params_vector(), nets[0].params_vector(), "float64")
    W = [np.full((3, 4), tiny), np.full((2, 3), -tiny)]
    net = bpcore.Network.from_arrays(W, [np.zeros(3), np.zeros(2)])
    np.testing.assert_allclose(net.predict(X4), bpcore.reference.predict(net, X4), rtol=1e-12)


def test_overflowing_outputs_are_inf_like_the_reference():
    """A net input beyond 1.8e308 is inf in any float arithmetic: predict and
    total_error say so (as the reference does) rather than raise."""
    net = bpcore.Network.from_arrays([np.array([[1.0, -1.0]])], [np.zeros(1)],
                                     output_activation="identity")
    X = np.array([[1e308, -1e308]])
    assert net.predict(X)[0, 0] == bpcore.reference.predict(net, X)[0, 0] == np.inf
    T = np.array([[1e300]])
    assert bpcore.total_error(net, X * 0, T) == bpcore.reference.total_error(net, X * 0, T) == np.inf


def test_huge_targets_get_an_error_that_names_them(train):
    """½(t − o)² overflows for t = 1e300 before any weight moves: the error must
    say that the targets are too large (today it is a DivergenceError that
    blames the learning rate)."""
    net = net42()
    before = state(net)
    with pytest.raises((ValueError, DivergenceError)) as info:
        train(net, X4, T2 * 1e300)
    assert state(net) == before
    message = str(info.value)
    assert re.search(r"\bT\b|target", message) and "learning_rate" not in message, message


def replace_and_predict(net, W):
    net.weights[0] = W
    return net.predict(X4)


FLOAT32_OVERFLOW = {
    "X": lambda net: bpcore.train(net, X4 * 1e300, T2),
    "T": lambda net: bpcore.train(net, X4, T2 * 1e300),
    "predict X": lambda net: net.predict(X4 * 1e300),
    "total_error T": lambda net: bpcore.total_error(net, X4, T2 * 1e300),
    "X_val": lambda net: bpcore.train(net, X4, T2, validation=(X4 * 1e300, T2)),
    "hand-replaced weights": lambda net: replace_and_predict(net, np.full((3, 4), 1e300)),
    "weights setter": lambda net: setattr(net, "weights", [np.full((3, 4), 1e300), np.zeros((2, 3))]),
}


@pytest.mark.parametrize("case", sorted(FLOAT32_OVERFLOW))
def test_values_beyond_float32_are_refused_for_a_float32_network(case):
    """1e300 has no float32 value: refused with a ValueError that names the
    range, and no overflow warning from the cast (today: a RuntimeWarning,
    then 'contains NaN or infinity', and the hand-replaced weights are
    written into the network as inf before the error)."""
    net = net42(dtype="float32")
    weights = list(net.weights)
    before = state(net)
    with pytest.raises(ValueError, match="float32"):
        FLOAT32_OVERFLOW[case](net)
    net.weights[:] = weights
    assert state(net) == before


@pytest.mark.parametrize("make", [
    lambda: bpcore.Network.from_arrays([np.full((1, 2), 1e300)], [np.zeros(1)], dtype="float32"),
    lambda: bpcore.Network((2, 1), init_scale=1e300, dtype="float32"),
    lambda: bpcore.Network((2, 1), init_scale=1.7e308),
], ids=["from_arrays 1e300 float32", "init_scale 1e300 float32", "init_scale 1.7e308 float64"])
def test_a_network_is_never_built_with_infinite_weights(make):
    """Today from_arrays and init_scale overflow float32 (a warning, then a
    network full of inf) and init_scale=1.7e308 is numpy's OverflowError."""
    with pytest.raises(ValueError, match="float32|init_scale"):
        make()


# ------------------------------------------------------------------ dtypes
@pytest.mark.parametrize("dtype", ["float16", "longdouble", "int8", "uint64", ">f8", ">i4"])
def test_other_real_dtypes_train_like_float64(train, dtype):
    X = np.round(X4 * 4)  # exactly representable in every dtype here, as is T
    X = np.abs(X) if dtype == "uint64" else X
    T = np.round(T2 * 8) / 8
    a = trained(train, net42, X, T)
    b = trained(train, net42, X.astype(dtype), T.astype(dtype) if np.dtype(dtype).kind == "f" else T)
    assert a == b


@pytest.mark.parametrize("dtype", ["datetime64[s]", "timedelta64[s]", "S3", "V8", [("a", "f8")]])
@pytest.mark.parametrize("which", ["X", "T"])
def test_non_numeric_dtypes_are_refused(train, dtype, which):
    bad = np.zeros((12, 4 if which == "X" else 2), dtype=dtype)
    X, T = (bad, T2) if which == "X" else (X4, bad)
    net = net42()
    assert_refused(net, TypeError, f"{which} must hold numbers", train, net, X, T)


@pytest.mark.parametrize("T, error, match", [
    (T2.astype(object), TypeError, "T must hold numbers"),
    (T2.astype(complex), TypeError, "T has complex dtype"),
    (T2.astype(str), TypeError, "T must hold numbers"),
], ids=["object", "complex", "str"])
def test_targets_of_a_wrong_kind_are_refused(train, T, error, match):
    net = net42()
    assert_refused(net, error, match, train, net, X4, T)


def test_ragged_nested_lists_are_refused(train):
    net = net42()
    assert_refused(net, ValueError, "inhomogeneous", train, net, [[1.0] * 4, [1.0] * 3], T2[:2])


def test_nested_lists_train_like_arrays(train):
    assert trained(train, net42, X4.tolist(), T2.tolist()) == trained(train, net42, X4, T2)


# ------------------------------------------------------------------ layouts
LAYOUTS = {
    "negative strides": lambda a: a[::-1].copy()[::-1],
    "zero strides (broadcast)": lambda a: np.broadcast_to(a[:1], a.shape),
    "every other column of a wider array": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
    "Fortran order": np.asfortranarray,
    "read-only": lambda a: np.frombuffer(a.tobytes(), dtype=a.dtype).reshape(a.shape),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_targets_in_any_layout_train_like_contiguous_ones(train, layout):
    T = LAYOUTS[layout](T2)
    assert trained(train, net42, X4, T) == trained(train, net42, X4, np.array(T))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_predict_and_total_error_accept_any_layout(layout):
    net = net42()
    X, T = LAYOUTS[layout](X4), LAYOUTS[layout](T2)
    np.testing.assert_array_equal(net.predict(X), net.predict(np.array(X)))
    assert bpcore.total_error(net, X, T) == bpcore.total_error(net, np.array(X), np.array(T))


@pytest.mark.parametrize("mode", ["r", "r+", "c"])
def test_memory_mapped_data_trains_predicts_and_is_not_copied(train, tmp_path, mode):
    np.save(tmp_path / "X.npy", X4)
    np.save(tmp_path / "T.npy", T2)
    X = np.load(tmp_path / "X.npy", mmap_mode=mode)
    T = np.load(tmp_path / "T.npy", mmap_mode=mode)
    assert trained(train, net42, X, T) == trained(train, net42, X4, T2)
    np.testing.assert_array_equal(net42().predict(X), net42().predict(X4))
    assert np.shares_memory(as_float_matrix(X, np.float64), X)  # used in place, not copied
    del X, T


def test_only_arrays_that_need_it_are_copied():
    read_only = X4.copy()
    read_only.setflags(write=False)
    assert np.shares_memory(as_float_matrix(read_only, np.float64), read_only)
    assert not np.shares_memory(as_float_matrix(np.asfortranarray(X4), np.float64), X4)
    assert not np.shares_memory(as_float_matrix(X4, np.float32), X4)


def test_masked_values_are_refused(train):
    """np.asarray drops a mask and keeps whatever lies under it: a CSV read
    with blanks as masked values would silently train on the fill values."""
    X = np.ma.masked_array(X4, mask=np.zeros_like(X4, dtype=bool))
    X[3, 1] = np.ma.masked
    net = net42()
    assert_refused(net, ValueError, "mask", train, net, X, T2)


def masked_ones(n, where):
    a = np.ma.masked_array(np.ones(n), mask=False)
    a[where] = np.ma.masked
    return a


MASKED_PARAMETERS = {
    "net.weights[0] = masked": lambda net: replace_and_predict(net, masked_ones(12, 5).reshape(3, 4)),
    "set_params_vector(masked)": lambda net: net.set_params_vector(masked_ones(23, 0)),
    "from_arrays(masked)": lambda net: bpcore.Network.from_arrays(
        [masked_ones(12, 5).reshape(3, 4), net.weights[1]], net.biases),
}


@pytest.mark.parametrize("case", sorted(MASKED_PARAMETERS))
def test_masked_values_are_refused_as_parameters_too(case):
    """The same rule for parameters (today _store calls np.asarray first, which
    drops the mask before checked_real_array can see it, so the values under the
    mask are adopted)."""
    net = net42()
    weights = list(net.weights)
    before = state(net)
    with pytest.raises(ValueError, match="mask"):
        MASKED_PARAMETERS[case](net)
    net.weights[:] = weights
    assert state(net) == before


def test_a_masked_array_without_masked_values_trains_like_its_data(train):
    X = np.ma.masked_array(X4, mask=False)
    assert trained(train, net42, X, T2) == trained(train, net42, X4, T2)


def test_data_that_aliases_the_networks_own_weights_trains_like_a_copy(assert_params_close):
    """X is the network's weight matrix itself, so the weights training changes
    are also the inputs it reads. The reference copies X first; the kernels must
    see the same X (today they read it while writing it, through restrict
    pointers)."""
    net = bpcore.Network((3, 3), output_activation="identity", seed=0)
    reference = net.copy()
    bpcore.reference.train(reference, reference.weights[0], np.ones((3, 3)), epochs=3, shuffle=False)
    bpcore.train(net, net.weights[0], np.ones((3, 3)), epochs=3, shuffle=False)
    assert_params_close(net.params_vector(), reference.params_vector(), "float64")


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize("X, T, error, match", [
    (X4, T2[:, :1].T, ValueError, r"T has shape \(1, 12\)"),        # a row instead of a column
    (X4, T2[:, 0], ValueError, "T must be 2-D"),                     # 1-D T, two outputs
    (X4[0, 0], T2, ValueError, r"X must be 2-D .* got shape \(\)"),  # a scalar
    (np.ones((12, 0)), T2, ValueError, "X has 0 columns"),
    (X4, np.empty((0, 2)), ValueError, r"T has shape \(0, 2\)"),
    (X4, T2[:5], ValueError, r"T has shape \(5, 2\)"),
], ids=["T a row", "T 1-D with two outputs", "X a scalar", "X no columns", "T empty", "T fewer rows"])
def test_shape_confusions_are_refused(train, X, T, error, match):
    net = net42()
    assert_refused(net, error, match, train, net, X, T)


@pytest.mark.parametrize("validation, error, match", [
    ((X4, T2[:5]), ValueError, r"T_val has shape \(5, 2\)"),
    ((X4[0], T2[0]), ValueError, "X_val must be 2-D"),
    ((X4, T2 * np.nan), ValueError, "T_val contains NaN"),
    ((X4,), TypeError, "validation must be a pair"),
    ((X4, T2, X4), TypeError, "validation must be a pair"),
    ((X4[:0], T2[:0]), ValueError, "X_val is empty"),
], ids=["T_val fewer rows", "X_val 1-D", "T_val NaN", "one array", "three arrays", "empty"])
def test_bad_validation_data_is_refused(train, validation, error, match):
    net = net42()
    assert_refused(net, error, match, train, net, X4, T2, validation=validation)


@pytest.mark.parametrize("total_error", [bpcore.total_error, bpcore.reference.total_error],
                         ids=["compiled", "reference"])
@pytest.mark.parametrize("X, T, error, match", [
    (X4, T2[:5], ValueError, r"T has shape \(5, 2\)"),
    (X4[:, :3], T2, ValueError, "X has 3 columns"),
    (X4, T2.astype(complex), TypeError, "complex"),
    (X4 * np.inf, T2, ValueError, "X contains NaN or infinity"),
    (X4, T2, ValueError, "loss must be one of"),
], ids=["T fewer rows", "X 3 columns", "T complex", "X inf", "loss hinge"])
def test_total_error_refuses_bad_data(total_error, X, T, error, match):
    net = net42()
    loss = "hinge" if match.startswith("loss") else "squared_error"
    assert_refused(net, error, match, total_error, net, X, T, loss=loss)


@pytest.mark.parametrize("total_error", [bpcore.total_error, bpcore.reference.total_error],
                         ids=["compiled", "reference"])
@pytest.mark.parametrize("case", ["not a network", "identity outputs", "targets outside [0, 1]"])
def test_total_error_refuses_what_train_refuses(total_error, case):
    """total_error(net, X, T, loss=...) computes the loss train minimises, so it
    refuses the same nonsense as train (today: AttributeError for a non-network,
    and a number for the rest)."""
    if case == "not a network":
        with pytest.raises(TypeError, match="bpcore.Network"):
            total_error("net", X4, T2)
        return
    net = net42(output_activation="identity") if case == "identity outputs" else net42()
    T = T2 * 3 if case == "targets outside [0, 1]" else T2
    assert_refused(net, ValueError, "does not go with|targets in", total_error, net, X4, T,
                   loss="cross_entropy")


# ------------------------------------------------------------------ options
def option_id(options):
    return ",".join(f"{k}={v!r}" for k, v in options.items() if k != "validation")


@pytest.mark.parametrize("options, error, match", [
    (dict(learning_rate=True), TypeError, "learning_rate"),
    (dict(learning_rate=1j), TypeError, "learning_rate"),
    (dict(learning_rate=np.float32("nan")), ValueError, "learning_rate"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(epochs=None), TypeError, "epochs"),
    (dict(epochs="3"), TypeError, "epochs"),
    (dict(momentum=float("nan")), ValueError, "momentum"),
    (dict(momentum=float("inf")), ValueError, "momentum"),
    (dict(momentum="0.9"), TypeError, "momentum"),
    (dict(batch_size=-1), ValueError, "batch_size"),
    (dict(batch_size=2.0), TypeError, "batch_size"),
    (dict(batch_size=True), TypeError, "batch_size"),
    (dict(weight_decay=float("inf")), ValueError, "weight_decay"),
    (dict(weight_decay=float("nan")), ValueError, "weight_decay"),
    (dict(max_grad_norm=-1.0), ValueError, "max_grad_norm"),
    (dict(max_grad_norm=float("inf")), ValueError, "max_grad_norm"),
    (dict(max_grad_norm="1"), TypeError, "max_grad_norm"),
    (dict(target_error=float("nan")), ValueError, "target_error"),
    (dict(validation=(X4, T2), patience=-1), ValueError, "patience"),
    (dict(validation=(X4, T2), patience=1.5), TypeError, "patience"),
    (dict(validation=(X4, T2), patience=True), TypeError, "patience"),
    (dict(restore_best="no"), TypeError, "restore_best"),
    (dict(progress=1), TypeError, "progress"),
    (dict(loss=None), ValueError, "loss must be one of"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed="0"), TypeError, "seed"),
    # issue 14: learning-rate schedules and bit fail
    (dict(lr_schedule="cyclic"), ValueError,
     r"lr_schedule must be one of 'constant', 'invscaling', 'adaptive' or a callable .*got 'cyclic'"),
    (dict(lr_schedule=None), ValueError, "lr_schedule must be one of .* got None"),
    (dict(lr_schedule="invscaling", power_t=-0.5), ValueError,
     r"power_t must be a finite real number in \[0, inf\); got -0.5"),
    (dict(lr_schedule="invscaling", power_t=float("nan")), ValueError, "power_t must be .* got nan"),
    (dict(lr_schedule="invscaling", power_t="0.5"), TypeError, "power_t must be"),
    (dict(lr_schedule="adaptive", tol=-1e-4), ValueError, r"tol must be a finite real number in \[0, inf\)"),
    (dict(lr_schedule="adaptive", tol=float("inf")), ValueError, "tol must be"),
    (dict(lr_schedule="adaptive", n_iter_no_change=0), ValueError,
     r"n_iter_no_change must be an integer in \[1, inf\); got 0"),
    (dict(lr_schedule="adaptive", n_iter_no_change=2.5), TypeError, "n_iter_no_change must be an integer"),
    (dict(power_t=0.25), ValueError,
     "power_t=0.25 is only used with lr_schedule='invscaling'; lr_schedule is 'constant'"),
    (dict(lr_schedule="invscaling", tol=0.01), ValueError,
     "tol=0.01 is only used with lr_schedule='adaptive'; lr_schedule is 'invscaling'"),
    (dict(lr_schedule="adaptive", power_t=1.0), ValueError, "power_t=1.0 is only used with"),
    (dict(n_iter_no_change=3), ValueError, "n_iter_no_change=3 is only used with lr_schedule='adaptive'"),
    (dict(lr_schedule=lambda epoch, history: 0.1, learning_rate=0.5), ValueError,
     "learning_rate=0.5 is not used with a callable lr_schedule"),
    (dict(lr_schedule=lambda epoch, history: 0.1, n_iter_no_change=3), ValueError,
     "lr_schedule is a callable"),
    (dict(bit_fail_limit=0), ValueError, r"bit_fail_limit must be a finite real number in \(0, inf\) or None; got 0"),
    (dict(bit_fail_limit=-0.3), ValueError, "bit_fail_limit must be .* got -0.3"),
    (dict(bit_fail_limit=float("nan")), ValueError, "bit_fail_limit must be .* got nan"),
    (dict(bit_fail_limit="0.3"), TypeError, "bit_fail_limit must be"),
    (dict(target_bit_fail=3), ValueError, "target_bit_fail=3 needs bit_fail_limit"),
    (dict(bit_fail_limit=0.3, target_bit_fail=-1), ValueError,
     r"target_bit_fail must be an integer in \[0, inf\) or None; got -1"),
    (dict(bit_fail_limit=0.3, target_bit_fail=1.5), TypeError, "target_bit_fail must be an integer"),
], ids=lambda v: option_id(v) if isinstance(v, dict) else None)
def test_more_options_out_of_range(train, options, error, match):
    """Beyond the cases of test_training.py: every option's other ways of being wrong."""
    net = net42()
    assert_refused(net, error, match, train, net, X4, T2, **options)


# ------------------------------------------------------------------ optimizers (issue 14)
@pytest.mark.parametrize("options, error, match", [
    (dict(optimizer="adagrad"), ValueError,
     r"optimizer must be one of 'sgd', 'adam', 'rmsprop'; got 'adagrad'"),
    (dict(optimizer=None), ValueError, "optimizer must be one of"),
    (dict(optimizer="adam", betas=(1.0, 0.999)), ValueError,
     r"betas must be a pair of finite real numbers, each in \[0, 1\); got \(1.0, 0.999\)"),
    (dict(optimizer="adam", betas=(0.9, -0.1)), ValueError, r"betas\[1\] must be .* in \[0, 1\)"),
    (dict(optimizer="adam", betas=(0.9, float("nan"))), ValueError, "betas"),
    (dict(optimizer="adam", betas=0.9), TypeError, "betas must be a pair"),
    (dict(optimizer="adam", betas=(0.9, 0.99, 0.999)), TypeError, "betas must be a pair"),
    (dict(optimizer="adam", betas="ab"), TypeError, "betas must be a pair"),
    (dict(optimizer="adam", betas=(0.9, "0.999")), TypeError, "betas"),
    (dict(optimizer="adam", eps=0.0), ValueError, r"eps must be a finite real number in \(0, inf\); got 0.0"),
    (dict(optimizer="rmsprop", eps=-1e-8), ValueError, "eps must be"),
    (dict(optimizer="adam", eps=float("inf")), ValueError, "eps must be"),
    (dict(optimizer="rmsprop", rho=1.0), ValueError, r"rho must be a finite real number in \[0, 1\); got 1.0"),
    (dict(optimizer="rmsprop", rho=-0.5), ValueError, "rho must be"),
    (dict(optimizer="rmsprop", centered="yes"), TypeError, "centered must be True or False"),
    (dict(nesterov=True), ValueError, r"nesterov=True needs momentum > 0"),
    (dict(nesterov=1), TypeError, "nesterov must be True or False"),
    (dict(decoupled_weight_decay=None), TypeError, "decoupled_weight_decay must be True or False"),
    # options that the chosen optimizer would ignore
    (dict(betas=(0.5, 0.9)), ValueError,
     r"betas=\(0.5, 0.9\) applies only to optimizer='adam'; with optimizer='sgd' it would be ignored"),
    (dict(eps=1e-6), ValueError, r"eps=1e-06 applies only to optimizer='adam' and optimizer='rmsprop'"),
    (dict(optimizer="adam", rho=0.9), ValueError, r"rho=0.9 applies only to optimizer='rmsprop'"),
    (dict(optimizer="adam", centered=True), ValueError, "centered=True applies only to optimizer='rmsprop'"),
    (dict(optimizer="rmsprop", decoupled_weight_decay=True), ValueError,
     "decoupled_weight_decay=True applies only to optimizer='adam'"),
    (dict(optimizer="adam", momentum=0.9), ValueError,
     r"momentum=0.9 applies only to optimizer='sgd' and optimizer='rmsprop'.*betas\[0\]"),
    (dict(optimizer="rmsprop", momentum=0.9, nesterov=True), ValueError,
     "nesterov=True applies only to optimizer='sgd'"),
], ids=lambda v: option_id(v) if isinstance(v, dict) else None)
def test_bad_optimizer_options_are_refused(train, options, error, match):
    """Each bad optimizer option, and each that the chosen optimizer would
    ignore, is refused with a message naming the value and what is allowed,
    before any weight changes."""
    net = net42()
    assert_refused(net, error, match, train, net, X4, T2, **options)


@pytest.mark.parametrize("options", [
    dict(optimizer="adam", betas=[0.0, 0.0]),  # a list is a pair too; β = 0 is allowed
    dict(optimizer="adam", betas=(np.float32(0.5), 0.9), eps=1e-3, decoupled_weight_decay=True),
    dict(optimizer="rmsprop", rho=0.0, eps=1.0, centered=True, momentum=0.5),
    dict(optimizer="sgd", betas=(0.9, 0.999), eps=1e-8, rho=0.99),  # the defaults: nothing ignored
])
def test_unusual_but_valid_optimizer_options_train_like_the_reference(options, assert_params_close):
    nets = [trained(trainer, net42, X4, T2, **options) for trainer in (bpcore.reference.train, bpcore.train)]
    assert_params_close(nets[1].params_vector(), nets[0].params_vector(), "float64")


@pytest.mark.parametrize("batch_size", [2**63, 2**64])
def test_a_batch_size_beyond_a_c_integer_is_one_batch_or_refused(train, batch_size):
    """Any batch_size >= len(X) means one batch per epoch. Beyond a C ssize_t it
    must still mean that, or be refused up front with a ValueError; today the
    kernel call raises OverflowError ('Python int too large to convert to C
    ssize_t') from inside training."""
    net = net42()
    before = state(net)
    try:
        train(net, X4, T2, batch_size=batch_size, seed=0, epochs=2)
    except ValueError as exc:
        assert "batch_size" in str(exc) and state(net) == before
    else:
        assert net == trained(train, net42, X4, T2, batch_size=len(X4))


@pytest.mark.parametrize("options", [
    dict(batch_size=10**12), dict(epochs=10**30, target_error=1e9), dict(seed=2**200),
    dict(validation=(X4, T2), patience=10**30, epochs=2),
    dict(learning_rate=1e-320), dict(momentum=np.nextafter(1.0, 0.0), epochs=2),
], ids=["batch_size=1e12", "epochs=1e30", "seed=2**200", "patience=1e30", "learning_rate=1e-320",
        "momentum=1-2**-53"])
def test_extreme_but_valid_options_work(train, options):
    history = train(net42(), X4, T2, **options)
    assert history.epochs_run >= 1


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(dtype=np.complex128), TypeError, "dtype must be"),
    (dict(dtype=object), TypeError, "dtype must be"),
    (dict(dtype="nonsense"), TypeError, "dtype must be"),
    (dict(init_scale=float("inf")), ValueError, "init_scale"),
    (dict(init_scale=True), TypeError, "init_scale"),
    (dict(activation=None), ValueError, "activation must be one of"),
    (dict(output_activation="tanh"), ValueError, "output_activation must be one of"),
])
def test_more_network_options_out_of_range(kwargs, error, match):
    with pytest.raises(error, match=match):
        bpcore.Network((2, 2, 1), **kwargs)


@pytest.mark.parametrize("sizes, kwargs, error, match", [
    ((2, 2, 1), dict(activation="relu"), ValueError,
     "init='nguyen_widrow' is for sigmoid and tanh hidden units .* got activation='relu'"),
    ((2, 2, 1), dict(activation="identity"), ValueError, "activation must be one of 'sigmoid', 'tanh', 'relu'"),
    ((2, 1), dict(), ValueError, r"init='nguyen_widrow' needs at least one hidden layer .* layer_sizes=\(2, 1\)"),
    ((2, 2, 1), dict(input_range=(1.0, 1.0)), ValueError,
     r"input_range must be \(lo, hi\) with finite lo < hi .* got \(1.0, 1.0\)"),
    ((2, 2, 1), dict(input_range=(2, -2)), ValueError, "input_range must be .* got \\(2, -2\\)"),
    ((2, 2, 1), dict(input_range=(float("nan"), 1)), ValueError, "input_range must be .* got \\(nan, 1\\)"),
    ((2, 2, 1), dict(input_range=(-1e308, 1e308)), ValueError, "hi - lo finite"),
    ((2, 2, 1), dict(input_range=("a", 1)), TypeError, "input_range must hold two real numbers"),
    ((2, 2, 1), dict(input_range=(0, 1, 2)), TypeError, r"input_range must be a pair \(lo, hi\)"),
    ((2, 2, 1), dict(input_range=5), TypeError, r"input_range must be a pair \(lo, hi\)"),
    ((2, 2, 1), dict(input_range=(0, 1e-300), dtype="float32"), ValueError,
     "input_range=.* is too narrow: the Nguyen–Widrow scale .* beyond the float32 range"),
    ((2, 2, 1), dict(input_range=(0, 1e-300)), ValueError, "is too narrow"),
])
def test_nguyen_widrow_refusals(sizes, kwargs, error, match):
    """init="nguyen_widrow" (issue 14) is refused where FANN's rule makes no
    sense, and so is a bad input_range; no network is built."""
    with pytest.raises(error, match=match):
        bpcore.Network(sizes, init="nguyen_widrow", **kwargs)


def test_input_range_without_nguyen_widrow_is_refused():
    with pytest.raises(ValueError, match="input_range=\\(0, 1\\) is only used with init='nguyen_widrow'; "
                                         "init is 'xavier'"):
        bpcore.Network((2, 2, 1), init="xavier", input_range=(0, 1))


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "x"])
def test_a_schedule_returning_a_bad_rate_in_epoch_1_changes_nothing(train, bad):
    """A callable lr_schedule is checked before each epoch: a bad first rate
    leaves the network exactly as it was (later epochs:
    tests/test_schedules.py)."""
    net = net42()
    assert_refused(net, (TypeError, ValueError),
                   f"lr_schedule returned {re.escape(repr(bad))}( \\(str\\))? for epoch 1; .* The network is "
                   "unchanged",
                   train, net, X4, T2, epochs=3, lr_schedule=lambda epoch, history: bad)


@pytest.mark.parametrize("sizes, error, match", [
    ("231", TypeError, "integers"),
    ((2, None, 1), TypeError, "integers"),
    ((), ValueError, "at least an input and an output"),
    ((2**31, 2**31), (ValueError, MemoryError), "too big|Maximum|allocate"),
])
def test_more_bad_layer_sizes(sizes, error, match):
    with pytest.raises(error, match=match):
        bpcore.Network(sizes)


@pytest.mark.parametrize("weights, biases, match", [
    ([np.ones((0, 2))], [np.ones(0)], "every layer needs at least one unit"),
    ([np.ones((2, 0))], [np.ones(2)], "every layer needs at least one unit"),
    ([], [], "at least one layer"),
    ([np.ones((2, 2))], [], "one bias vector per weight matrix"),
], ids=["no output units", "no input units", "no layers", "no biases"])
def test_zero_size_arrays_make_no_network(weights, biases, match):
    with pytest.raises(ValueError, match=match):
        bpcore.Network.from_arrays(weights, biases)


def test_layer_sizes_of_numpy_integers_work():
    assert bpcore.Network(np.array([4, 3, 2]), seed=0) == net42()


# ------------------------------------------------------------------ networks edited by hand
NOT_REAL, SHAPE_34 = r"\[\d\] must be a real", r"weights\[0\] must have shape \(3, 4\)"
REPLACEMENTS = {  # (which list, index, the array put there, error, match)
    "weights[0] bool": ("weights", 0, np.ones((3, 4), dtype=bool), TypeError, NOT_REAL),
    "weights[0] strings": ("weights", 0, np.full((3, 4), "1"), TypeError, NOT_REAL),
    "weights[0] objects": ("weights", 0, np.ones((3, 4), dtype=object), TypeError, NOT_REAL),
    "weights[0] flattened": ("weights", 0, np.ones(12), ValueError, SHAPE_34),
    "weights[0] transposed": ("weights", 0, np.ones((4, 3)), ValueError, SHAPE_34),
    "weights[1] inf": ("weights", 1, np.full((2, 3), np.inf), ValueError, "NaN or infinity"),
    "weights[1] None": ("weights", 1, None, TypeError, NOT_REAL),
    "biases[0] as a column": ("biases", 0, np.ones((3, 1)), ValueError, r"biases\[0\] must have shape"),
    "biases[1] complex": ("biases", 1, np.ones(2, dtype=complex), TypeError, NOT_REAL),
}


@pytest.mark.parametrize("case", sorted(REPLACEMENTS))
@pytest.mark.parametrize("use", ["train", "reference train", "predict", "total_error", "save"])
def test_hand_replaced_arrays_are_refused_before_use(case, use, tmp_path):
    which, l, value, error, match = REPLACEMENTS[case]
    net = net42()
    before = state(net)
    getattr(net, which)[l] = value
    calls = {
        "train": lambda: bpcore.train(net, X4, T2),
        "reference train": lambda: bpcore.reference.train(net, X4, T2),
        "predict": lambda: net.predict(X4),
        "total_error": lambda: bpcore.total_error(net, X4, T2),
        "save": lambda: net.save(tmp_path / "m.npz"),
    }
    with pytest.raises(error, match=match):
        calls[use]()
    assert state(net) == before
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("edit", ["append", "pop"])
def test_a_weight_list_of_the_wrong_length_is_refused(edit):
    net = net42()
    before = state(net)
    net.weights.append(np.ones((2, 2))) if edit == "append" else net.biases.pop()
    with pytest.raises(ValueError, match="must hold 2 arrays"):
        bpcore.train(net, X4, T2)
    assert state(net) == before


def test_hand_replaced_integer_weights_are_adopted():
    net = net42()
    net.weights[0] = np.ones((3, 4), dtype=np.int16)
    expected = bpcore.Network.from_arrays([np.ones((3, 4)), net.weights[1]], net.biases)
    np.testing.assert_array_equal(net.predict(X4), expected.predict(X4))


def test_copies_see_hand_replaced_weights():
    """After net.weights[0] = W, every view of the network agrees on the new
    weights (today copy(), pickling, params_vector() and == still see the old
    ones until something calls predict or train)."""
    import pickle

    net = net42()
    net.weights[0] = np.full((3, 4), 0.5)
    expected = net.predict(X4)
    net = net42()
    net.weights[0] = np.full((3, 4), 0.5)
    for twin in (net.copy(), pickle.loads(pickle.dumps(net))):
        np.testing.assert_array_equal(twin.predict(X4), expected)
    assert 0.5 in net.params_vector()


@pytest.mark.parametrize("value, error", [
    (np.full(23, np.nan), ValueError),
    (np.ones(5), ValueError),
    (0.5, ValueError),                    # a scalar is not a parameter vector
    (np.ones(23, dtype=complex), TypeError),
    (np.full(23, "1"), TypeError),
    (np.ones((23, 1)), ValueError),
], ids=["NaN", "too short", "a scalar", "complex", "strings", "a column"])
def test_set_params_vector_checks_like_the_weights_setter(value, error):
    """set_params_vector is the one parameter entry point without checks:
    today NaN and complex go in (with a ComplexWarning) and a scalar silently
    overwrites every parameter."""
    net = net42()
    assert_refused(net, error, None, net.set_params_vector, value)


@pytest.mark.parametrize("attribute, value", [
    ("layer_sizes", (1, -100, 1, 161)),  # the kernels' parameter count still adds up to 23
    ("layer_sizes", (22, 1)),            # the same count, another architecture
    ("layer_sizes", (4, 4, 2)),
    ("activation", "swish"),
    ("output_activation", "relu"),
], ids=["layer_sizes (1,-100,1,161)", "layer_sizes (22,1)", "layer_sizes (4,4,2)", "activation swish",
        "output_activation relu"])
@pytest.mark.parametrize("use", ["predict", "train"])
def test_hand_edited_architecture_is_refused_not_a_crash(attribute, value, use):
    """layer_sizes, activation and output_activation are plain attributes: an
    edit must be refused (read-only attribute, or ValueError on use). Today
    layer_sizes=(1, -100, 1, 161) makes the kernels write outside their
    buffers (double free / segfault), (22, 1) silently computes with the
    wrong architecture, and an unknown activation is a KeyError. Runs in a
    child process because the failure is a crash."""
    code = f"""
        import numpy as np, bpcore
        net = bpcore.Network((4, 3, 2), seed=0)
        try:
            setattr(net, {attribute!r}, {value!r})
            n = net.n_inputs if {attribute!r} == "layer_sizes" else 4
            X = np.ones((3, max(n, 1)))
            if {use!r} == "predict":
                net.predict(X)
            else:
                bpcore.train(net, X, np.full((3, max(net.n_outputs, 1)), 0.5))
        except (AttributeError, ValueError, TypeError) as e:
            print("refused:", type(e).__name__, e)
        else:
            print("accepted")
    """
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                           text=True, timeout=120)
    assert child.returncode == 0, f"exit code {child.returncode}: {child.stderr[-2000:]}"
    assert child.stdout.startswith("refused:"), child.stdout + child.stderr


@pytest.mark.parametrize("epochs", [1, 3])
def test_a_callback_that_writes_nan_into_the_weights(train, epochs):
    """A callback that breaks the weights mid-training, in both trainers and
    also in the last epoch: a DivergenceError naming the callback, and the
    network holds the weights of that epoch as they were before the callback
    ran (finite), not NaN."""
    net = net42()
    seen = []

    def callback(epoch, history):
        seen.append(net.params_vector())
        net.weights[0][0, 0] = np.nan

    with pytest.raises(DivergenceError, match="the callback of epoch 1 left NaN") as info:
        train(net, X4, T2, epochs=epochs, callback=callback)
    assert info.value.epoch == 1
    np.testing.assert_array_equal(net.params_vector(), seen[0])


# ------------------------------------------------------------------ model files
def test_a_model_entry_that_claims_terabytes_is_a_model_format_error(tmp_path):
    """A crafted .npy header claiming 2**40 elements: numpy's allocation fails
    and load reports it as ModelFormatError, without reading further."""
    import zipfile

    path = tmp_path / "m.npz"
    net42().save(path)
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }"
    header = header.ljust(117) + "\n"
    entry = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(64)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("weights_9.npy", entry)
    with pytest.raises(bpcore.ModelFormatError, match="cannot be read"):
        bpcore.load(path)


def test_loading_a_directory_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        bpcore.load(tmp_path)


# ------------------------------------------------------------------ threads
def test_predict_from_many_threads_at_once_is_identical():
    net = bpcore.Network((64, 32, 10), seed=0)
    X = RNG.normal(size=(2000, 64))
    expected = net.predict(X)
    results, start = [None] * 8, threading.Barrier(8)

    def work(i):
        start.wait()
        results[i] = [net.predict(X) for _ in range(5)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for outputs in results:
        for out in outputs:
            np.testing.assert_array_equal(out, expected)


def test_two_threads_training_one_network_one_is_refused_and_nothing_is_corrupted():
    """Thread A trains; while it is inside train (in its first epoch's
    callback), thread B calls train on the same network: B gets RuntimeError
    'busy', A finishes, and the result equals training alone."""
    X, T = RNG.normal(size=(300, 4)), RNG.uniform(size=(300, 2))
    net, alone = net42(), net42()
    bpcore.train(alone, X, T, epochs=4, seed=1)
    inside, tried, outcome = threading.Event(), threading.Event(), {}

    def callback(epoch, history):
        if epoch == 1:
            inside.set()
            assert tried.wait(60)

    def second():
        assert inside.wait(60)
        try:
            bpcore.train(net, X, T, epochs=4, seed=1)
        except RuntimeError as exc:
            outcome["error"] = exc
        finally:
            tried.set()

    thread = threading.Thread(target=second)
    thread.start()
    bpcore.train(net, X, T, epochs=4, seed=1, callback=callback)
    thread.join()
    assert "busy" in str(outcome["error"])
    assert net == alone


def test_the_reference_trainer_on_float32_weights_that_leave_float32_range():
    """The reference computes in double and writes back into the float32
    network: weights that are finite in double but beyond float32 (here about
    5e38) must end as the compiled trainer ends, with a DivergenceError and
    finite weights, not with an overflow warning and inf written into the
    network."""
    outcomes = []
    for train in (bpcore.train, bpcore.reference.train):
        net = bpcore.Network.from_arrays([np.full((1, 1), 0.05, np.float32)], [np.zeros(1, np.float32)],
                                         output_activation="identity")
        with pytest.raises(DivergenceError) as info:
            train(net, np.full((2, 1), 1e20, np.float32), np.zeros((2, 1)), learning_rate=1.0)
        assert np.isfinite(net.params_vector()).all()
        outcomes.append(info.value.epoch)
    assert outcomes[0] == outcomes[1]
