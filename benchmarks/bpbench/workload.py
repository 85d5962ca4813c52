"""The benchmark's shapes and their data.

Every shape is a sigmoid MLP trained on ½ squared error with learning rate 0.1,
one example at a time. B trains on the digits that ship with bpcore; the others on
random data shaped like their task (inputs in [0, 1]).
"""

import dataclasses

import numpy as np
from bpcore.datasets import load_digits, one_hot

__all__ = ["LEARNING_RATE", "SHAPES", "Shape", "make_data", "n_weights"]

LEARNING_RATE = 0.1


@dataclasses.dataclass(frozen=True)
class Shape:
    key: str
    layer_sizes: tuple
    n_examples: int


SHAPES = {
    "A": Shape("A", (3, 2, 1), 1_000),
    "B": Shape("B", (64, 32, 10), 1_797),
    "C": Shape("C", (784, 128, 10), 10_000),
    "D": Shape("D", (784, 512, 256, 10), 2_000),
}


def n_weights(layer_sizes):
    """Connection weights w_ji of the network (biases not counted): the
    benchmark counts 6 flops per weight per example (2 forward, 2 for the
    hidden deltas, 2 for the update)."""
    return sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


def make_data(shape, dtype, seed=0):
    """``(X, T, source)`` for ``shape``: C-contiguous arrays of ``dtype``,
    X (n_examples, n_inputs) and T (n_examples, n_outputs)."""
    rng = np.random.default_rng(seed)
    n, (n_in, n_out) = shape.n_examples, (shape.layer_sizes[0], shape.layer_sizes[-1])
    if shape.key == "A":
        X, T = rng.random((n, n_in)), rng.uniform(0.1, 0.9, (n, n_out))
        source = "random inputs in [0, 1], targets in [0.1, 0.9]"
    elif shape.key == "B":
        X, y = load_digits()
        T, source = one_hot(y), "bpcore.datasets.load_digits()"
    else:
        X, T = rng.random((n, n_in)), one_hot(rng.integers(0, n_out, size=n), n_out)
        source = "random inputs in [0, 1], one-hot targets of random classes"
    return np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(T, dtype=dtype), source
