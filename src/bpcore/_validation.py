"""Checks at the boundary: every argument is validated and converted here,
once, before anything reaches a trainer or a kernel.

Parameters are checked against small declarative constraints (in the manner of
scikit-learn's ``_parameter_constraints``); every error names the parameter,
shows the bad value and states what is allowed.
"""

import math
import numbers
import operator

import numpy as np

__all__ = [
    "Interval",
    "OneOf",
    "RealPair",
    "Boolean",
    "Callable",
    "validate_params",
    "checked_real_array",
    "as_float_matrix",
    "as_targets",
    "FLOAT_DTYPES",
]

FLOAT_DTYPES = {np.dtype(np.float64), np.dtype(np.float32)}


class Interval:
    """A real (or integral) number in an interval; ``None`` bounds are open."""

    def __init__(self, kind, low, high, *, closed, allow_none=False):
        self.kind = kind  # numbers.Real or numbers.Integral
        self.low, self.high = low, high
        self.closed = closed  # "left", "right", "both", "neither"
        self.allow_none = allow_none

    def describe(self):
        what = "an integer" if self.kind is numbers.Integral else "a finite real number"
        left = "[" if self.closed in ("left", "both") and self.low is not None else "("
        right = "]" if self.closed in ("right", "both") and self.high is not None else ")"
        low = "-inf" if self.low is None else repr(self.low)
        high = "inf" if self.high is None else repr(self.high)
        text = f"{what} in {left}{low}, {high}{right}"
        return text + " or None" if self.allow_none else text

    def check(self, name, value):
        if value is None and self.allow_none:
            return None
        is_bool = isinstance(value, (bool, np.bool_))
        if is_bool or not isinstance(value, self.kind):
            raise TypeError(f"{name} must be {self.describe()}; got {value!r} ({type(value).__name__})")
        if self.kind is numbers.Integral:
            value = operator.index(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{name} must be {self.describe()}; got {value!r}")
        low_ok = (
            self.low is None
            or value > self.low
            or (value == self.low and self.closed in ("left", "both"))
        )
        high_ok = (
            self.high is None
            or value < self.high
            or (value == self.high and self.closed in ("right", "both"))
        )
        if not (low_ok and high_ok):
            raise ValueError(f"{name} must be {self.describe()}; got {value!r}")
        return value


class RealPair:
    """A pair of finite real numbers, each in [low, high); normalised to a tuple
    of floats."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def describe(self):
        return f"a pair of finite real numbers, each in [{self.low!r}, {self.high!r})"

    def check(self, name, value):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
            raise TypeError(f"{name} must be {self.describe()}; got {value!r}")
        item = Interval(numbers.Real, self.low, self.high, closed="left")
        pair = []
        for index, v in enumerate(value):
            try:
                pair.append(item.check(f"{name}[{index}]", v))
            except (TypeError, ValueError) as error:
                raise type(error)(f"{name} must be {self.describe()}; got {value!r} ({error})") from None
        return tuple(pair)


class OneOf:
    """One of a fixed set of strings."""

    def __init__(self, *options):
        self.options = options

    def check(self, name, value):
        if not isinstance(value, str) or value not in self.options:
            allowed = ", ".join(repr(o) for o in self.options)
            raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
        return value


class Boolean:
    def check(self, name, value):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False; got {value!r} ({type(value).__name__})")
        return bool(value)


class Callable:
    def __init__(self, allow_none=True):
        self.allow_none = allow_none

    def check(self, name, value):
        if value is None and self.allow_none:
            return None
        if not callable(value):
            raise TypeError(f"{name} must be callable or None; got {value!r}")
        return value


def validate_params(constraints, params):
    """Return ``params`` checked and normalised against ``constraints``
    (a mapping from name to constraint object)."""
    return {name: constraints[name].check(name, value) for name, value in params.items()}


def _reject_non_numeric(a, name):
    kind = a.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} has complex dtype {a.dtype}; bpcore trains on real numbers only")
    if kind not in "biuf":
        raise TypeError(
            f"{name} must hold numbers; got an array of dtype {a.dtype} "
            "(convert strings/objects to a numeric array first)"
        )


def _check_finite(a, name):
    # In blocks of rows, so that checking a large X costs a small temporary,
    # not a boolean copy of the whole array.
    rows = max(1, 65536 // max(1, a[0].size if a.ndim > 1 and a.shape[0] else 1))
    for start in range(0, a.shape[0] if a.ndim else 1, rows):
        block = a[start : start + rows] if a.ndim else a
        finite = np.isfinite(block)
        if not finite.all():
            position = tuple(int(i) for i in np.argwhere(~finite)[0])
            if a.ndim:
                position = (position[0] + start, *position[1:])
            raise ValueError(f"{name} contains NaN or infinity (first at index {position})")


def checked_real_array(value, dtype, name):
    """``value`` as a NumPy array, checked for use in a network of ``dtype``:
    numeric, finite, within the range of ``dtype`` (1e300 has no float32
    value), no masked entries. It is returned in its own dtype, not cast (no
    copy when it already is an array): the callers cast it once, where they
    copy it anyway. The checks run on the original values, so that nothing
    overflows or warns."""
    if isinstance(value, np.ma.MaskedArray):
        if np.ma.getmaskarray(value).any():
            raise ValueError(
                f"{name} has masked (missing) values; fill or drop them first "
                "(numpy would silently train on whatever lies under the mask)"
            )
        value = value.data
    a = np.asarray(value)
    _reject_non_numeric(a, name)
    if a.dtype.kind == "f":
        _check_finite(a, name)
        limit = np.finfo(dtype).max
        if a.dtype.itemsize > np.dtype(dtype).itemsize and a.size:
            largest = max(a.max(), -a.min())  # no temporary the size of a
            if largest > limit:
                raise ValueError(
                    f"{name} has values beyond the {np.dtype(dtype).name} range (±{limit:.3g}) "
                    f"of this {np.dtype(dtype).name} network (largest |value| {largest:.3g})"
                )
    return a


def as_float_matrix(X, dtype, *, name="X", n_columns=None, columns_meaning="inputs"):
    """``X`` as a C-contiguous 2-D array of ``dtype`` (no copy when it already
    is one), checked: numeric, 2-D, non-empty, finite, ``n_columns`` wide."""
    a = checked_real_array(X, dtype, name)
    if a.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_examples, n_{columns_meaning}); got shape {a.shape}"
            + (" (for a single example use x.reshape(1, -1))" if a.ndim == 1 else "")
        )
    if a.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no examples (shape {a.shape})")
    if n_columns is not None and a.shape[1] != n_columns:
        raise ValueError(
            f"{name} has {a.shape[1]} columns but the network has {n_columns} {columns_meaning} "
            f"({name}.shape = {a.shape})"
        )
    return np.ascontiguousarray(a, dtype=dtype)


def as_targets(T, dtype, *, n_examples, n_outputs, name="T"):
    """Targets as a C-contiguous ``(n_examples, n_outputs)`` array of ``dtype``.
    A 1-D ``T`` is accepted when the network has one output."""
    a = checked_real_array(T, dtype, name)
    if a.ndim == 1 and n_outputs == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D of shape (n_examples, n_outputs); got shape {a.shape}")
    if a.shape != (n_examples, n_outputs):
        raise ValueError(
            f"{name} has shape {a.shape} but X has {n_examples} examples and the network "
            f"has {n_outputs} outputs, so {name} must have shape ({n_examples}, {n_outputs})"
        )
    return np.ascontiguousarray(a, dtype=dtype)
