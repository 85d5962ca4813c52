"""Turning class labels into targets, and holding data out."""

import numbers

import numpy as np

from .._validation import Interval

__all__ = ["one_hot", "train_test_split"]


def one_hot(y, n_classes=None):
    """One-of-k targets for class labels.

    ``y``: integer labels 0 … k-1, shape (n,). ``n_classes``: k (default
    ``max(y) + 1``). Returns float64 of shape (n, k) with ``T[d, y[d]] = 1`` and
    zeros elsewhere: targets for a softmax (or sigmoid) output layer.
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"y must be a 1-D array of integer labels; got dtype {y.dtype}, shape {y.shape}")
    if y.size and y.min() < 0:
        raise ValueError(f"labels must be >= 0; got {y.min()}")
    k = int(y.max()) + 1 if y.size else 0
    if n_classes is not None:
        n_classes = Interval(numbers.Integral, 1, None, closed="left").check("n_classes", n_classes)
        if n_classes < k:
            raise ValueError(f"n_classes={n_classes} but y holds label {k - 1}")
        k = n_classes
    T = np.zeros((y.size, k))
    T[np.arange(y.size), y] = 1.0
    return T


def train_test_split(X, y, *, test_fraction=0.2, seed=None):
    """Split examples at random into a training and a held-out part.

    ``X`` and ``y`` are arrays with the same first dimension n >= 2 (``y`` may
    be labels (n,) or targets (n, k)). ``round(n * test_fraction)`` examples,
    at least 1 and at most n-1, are held out, drawn with
    ``numpy.random.default_rng(seed)``.

    Returns ``(X_train, X_test, y_train, y_test)``.
    """
    X, y = np.asarray(X), np.asarray(y)
    test_fraction = Interval(numbers.Real, 0, 1, closed="neither").check("test_fraction", test_fraction)
    seed = Interval(numbers.Integral, 0, None, closed="left", allow_none=True).check("seed", seed)
    n = X.shape[0] if X.ndim else 0
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"X and y must have the same number of rows; got shapes {X.shape} and {y.shape}")
    if n < 2:
        raise ValueError(f"splitting needs at least 2 examples; got {n}")
    n_test = min(max(round(n * test_fraction), 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]
