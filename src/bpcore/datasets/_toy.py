"""Generators for toy problems: XOR and Gaussian blobs."""

import numbers

import numpy as np

from .._validation import Interval, validate_params

__all__ = ["make_xor", "make_blobs"]

_BLOB_CONSTRAINTS = {
    "n_per_class": Interval(numbers.Integral, 1, None, closed="left"),
    "n_classes": Interval(numbers.Integral, 2, None, closed="left"),
    "seed": Interval(numbers.Integral, 0, None, closed="left", allow_none=True),
    "n_features": Interval(numbers.Integral, 2, None, closed="left"),
    "std": Interval(numbers.Real, 0, None, closed="neither"),
}

BLOB_RADIUS = 4.0


def make_xor():
    """The XOR problem, the classic task a network without hidden units cannot learn.

    Returns
    -------
    X : ndarray of float64, shape (4, 2)
        The inputs (0, 0), (0, 1), (1, 0), (1, 1).
    T : ndarray of float64, shape (4, 1)
        Their exclusive or: 0, 1, 1, 0.
    """
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    T = np.array([[0.0], [1.0], [1.0], [0.0]])
    return X, T


def make_blobs(n_per_class=100, n_classes=3, seed=None, *, n_features=2, std=1.0):
    """Gaussian blobs, one per class, for classification (e.g. softmax) tests.

    Class c is centred at distance 4 from the origin at angle 2πc / n_classes
    in the plane of the first two features (other features are centred at 0);
    every coordinate gets Gaussian noise of standard deviation ``std``. With
    the defaults the classes overlap very little.

    Returns
    -------
    X : ndarray of float64, shape (n_per_class * n_classes, n_features)
    y : ndarray of int64, shape (n_per_class * n_classes,)
        The class of each row, 0 … n_classes-1; the rows are in random order.
    """
    opts = validate_params(
        _BLOB_CONSTRAINTS,
        {"n_per_class": n_per_class, "n_classes": n_classes, "seed": seed,
         "n_features": n_features, "std": std},
    )
    k = opts["n_classes"]
    rng = np.random.default_rng(opts["seed"])
    angles = 2.0 * np.pi * np.arange(k) / k
    centres = np.zeros((k, opts["n_features"]))
    centres[:, 0], centres[:, 1] = BLOB_RADIUS * np.cos(angles), BLOB_RADIUS * np.sin(angles)
    y = rng.permutation(np.repeat(np.arange(k, dtype=np.int64), opts["n_per_class"]))
    X = centres[y] + rng.normal(0.0, opts["std"], size=(y.size, opts["n_features"]))
    return X, y
