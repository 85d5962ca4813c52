"""Checking that a peer runs the lecture's algorithm: a small problem and the
distance between its weights and bpcore.reference's."""

import bpcore
import numpy as np

__all__ = ["small_problem", "max_relative_difference"]


def small_problem(layer_sizes, n_examples, seed=0):
    """``(net, X, T)``: a float64 bpcore network with weights in [-0.5, 0.5]
    (outputs stay well inside (0.01, 0.99)), inputs X (n_examples, n_in) in
    [0, 1] and targets T (n_examples, n_out) in [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    net = bpcore.Network(layer_sizes, seed=seed, init_scale=0.5)
    X = rng.random((n_examples, layer_sizes[0]))
    T = rng.uniform(0.1, 0.9, (n_examples, layer_sizes[-1]))
    return net, X, T


def max_relative_difference(layers, net):
    """Largest |a − b| / max(1, |b|) between per-layer ``(W, b)`` pairs and
    ``net``'s weights and biases."""
    worst = 0.0
    for (W, b), W_ref, b_ref in zip(layers, net.weights, net.biases):
        for got, want in ((W, W_ref), (b, b_ref)):
            worst = max(worst, float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)))))
    return worst
