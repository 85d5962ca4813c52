"""The benchmark's shapes and their data.

Every shape is a sigmoid MLP trained on ½ squared error with learning rate 0.1,
one example at a time. Data are random but shaped like the real task (inputs in
[0, 1], one-hot targets), so the timings do not depend on a download.
"""

import dataclasses

import numpy as np

__all__ = ["LEARNING_RATE", "SHAPES", "Shape", "make_data", "n_weights"]

LEARNING_RATE = 0.1


@dataclasses.dataclass(frozen=True)
class Shape:
    key: str
    layer_sizes: tuple
    n_examples: int
    data: str  # what the examples look like


SHAPES = {
    "A": Shape("A", (3, 2, 1), 1_000, "uniform inputs, targets in [0.1, 0.9]"),
    "B": Shape("B", (64, 32, 10), 1_797, "digits: 8x8 images with levels 0..16 scaled to [0, 1], one-hot"),
    "C": Shape("C", (784, 128, 10), 10_000, "MNIST-like: 784 uniform inputs, one-hot of 10 classes"),
    "D": Shape("D", (784, 512, 256, 10), 2_000, "MNIST-like: 784 uniform inputs, one-hot of 10 classes"),
}


def n_weights(layer_sizes):
    """Connection weights w_ji of the network (biases not counted): the
    benchmark counts 6 flops per weight per example (2 forward, 2 for the
    hidden deltas, 2 for the update)."""
    return sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


def _one_hot(labels, n_classes):
    return np.eye(n_classes)[labels]


def _digits(rng, n):
    """The embedded UCI digits when bpcore ships them (issue 5), else random
    8x8 images with the same 17 grey levels and class count."""
    try:
        from bpcore.datasets import load_digits
    except ImportError:
        X = rng.integers(0, 17, size=(n, 64)) / 16.0
        return X, _one_hot(rng.integers(0, 10, size=n), 10), "random digits-like data"
    loaded = load_digits()
    X, y = loaded if isinstance(loaded, tuple) else (loaded.data, loaded.target)
    X = np.asarray(X, dtype=np.float64)[:n]
    y = np.asarray(y)[:n]
    X = X / X.max()
    T = _one_hot(y.astype(np.intp), 10) if y.ndim == 1 else y
    return X, T, "bpcore.datasets.load_digits()"


def make_data(shape, dtype, seed=0):
    """``(X, T, source)`` for ``shape``: C-contiguous arrays of ``dtype``,
    X (n_examples, n_inputs) and T (n_examples, n_outputs)."""
    rng = np.random.default_rng(seed)
    n, (n_in, n_out) = shape.n_examples, (shape.layer_sizes[0], shape.layer_sizes[-1])
    if shape.key == "A":
        X, T, source = rng.random((n, n_in)), rng.uniform(0.1, 0.9, (n, n_out)), "random"
    elif shape.key == "B":
        X, T, source = _digits(rng, n)
    else:
        X, T, source = rng.random((n, n_in)), _one_hot(rng.integers(0, n_out, size=n), n_out), "random"
    return np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(T, dtype=dtype), source
