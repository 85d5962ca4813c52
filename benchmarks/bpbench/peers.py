"""The trainers the benchmark times, all running the lecture's algorithm:
sigmoid units, ½ squared error, one example at a time, learning rate 0.1.

Each peer is a function ``peer(net, X, T)`` that copies the starting weights of
the bpcore ``net`` (or draws its own, where the library cannot take them
cheaply), does its one-time setup and returns ``run(n, epochs)``: train
``epochs`` passes over the first ``n`` examples of X (n, n_in) / T (n, n_out).
Only ``run`` is timed. A peer that cannot run here raises :class:`Unavailable`.
"""

import itertools

import bpcore
import numpy as np

from .workload import LEARNING_RATE

__all__ = ["PEERS", "Unavailable", "numpy_step", "torch_model", "torch_step"]


class Unavailable(Exception):
    """This peer cannot run here; the message says why and how to get it."""


def _bpcore_peer(train):
    """A peer for one of bpcore's trainers: a fresh example order (seed) per call,
    several epochs per call when the harness asks for them."""

    def peer(net, X, T):
        net, seeds = net.copy(), itertools.count()

        def run(n, epochs):
            train(net, X[:n], T[:n], learning_rate=LEARNING_RATE, epochs=epochs, seed=next(seeds))

        return run

    return peer


def numpy_step(Ws, bs, x, t, learning_rate):
    """One backpropagation step on one example with numpy vectors, in place on
    the per-layer Ws[l] (n_out, n_in) and bs[l] (n_out,); x (n_in,), t (n_out,)."""
    outputs = [x]
    for W, b in zip(Ws, bs):
        outputs.append(1.0 / (1.0 + np.exp(-(W @ outputs[-1] + b))))
    o = outputs[-1]
    delta = (t - o) * o * (1.0 - o)
    for layer in range(len(Ws) - 1, -1, -1):
        a = outputs[layer]
        back = Ws[layer].T @ delta if layer else None  # from the weights before this step's update
        step = learning_rate * delta
        Ws[layer] += np.outer(step, a)  # the one n_out x n_in temporary: see MALLOC_* in README
        bs[layer] += step
        if layer:
            delta = back * a * (1.0 - a)


def numpy_peer(net, X, T):
    """One example at a time with numpy: matrix-vector products, np.outer for
    the update, a fresh random order every epoch."""
    Ws = [W.copy() for W in net.weights]
    bs = [b.copy() for b in net.biases]
    rng = np.random.default_rng(0)

    def run(n, epochs):
        with np.errstate(over="ignore"):  # exp overflow gives σ = 0, as it should
            for _ in range(epochs):
                for d in rng.permutation(n):
                    numpy_step(Ws, bs, X[d], T[d], LEARNING_RATE)

    return run


def torch_model(net):
    """PyTorch eager twin of ``net``: nn.Sequential of Linear + Sigmoid with
    net's weights, and torch.optim.SGD at the benchmark's learning rate, no
    momentum. Raises Unavailable without torch."""
    try:
        import torch
    except ImportError:
        raise Unavailable("torch is not installed (pip install torch==2.13.0)") from None
    torch.set_num_threads(1)
    layers = []
    for W, b in zip(net.weights, net.biases):
        linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=getattr(torch, str(W.dtype)))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers)
    return model, torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.0)


def torch_step(model, optimizer, x, t):
    """One SGD step on a batch of one: x (1, n_in), t (1, n_out) tensors; the
    loss is ½ Σ (o − t)², the lecture's E for one example."""
    import torch

    optimizer.zero_grad()
    loss = 0.5 * torch.nn.functional.mse_loss(model(x), t, reduction="sum")
    loss.backward()
    optimizer.step()


def torch_peer(net, X, T):
    """PyTorch eager with batch size 1 (see torch_model), a fresh random order
    every epoch."""
    model, optimizer = torch_model(net)
    import torch

    X_t, T_t = torch.from_numpy(X), torch.from_numpy(T)
    rng = np.random.default_rng(0)

    def run(n, epochs):
        for _ in range(epochs):
            for d in rng.permutation(n).tolist():
                torch_step(model, optimizer, X_t[d : d + 1], T_t[d : d + 1])

    return run


def sklearn_peer(net, X, T):
    """scikit-learn MLPRegressor(solver="sgd", batch_size=1, logistic hidden
    units, no momentum or L2), one partial_fit per epoch. Its output layer is
    the identity (MLPRegressor has no sigmoid output), so it does a little less
    work per example than the others."""
    try:
        from sklearn.neural_network import MLPRegressor
    except ImportError:
        raise Unavailable("scikit-learn is not installed (pip install scikit-learn)") from None
    model = MLPRegressor(
        hidden_layer_sizes=net.layer_sizes[1:-1], solver="sgd", batch_size=1,
        activation="logistic", learning_rate_init=LEARNING_RATE, momentum=0.0,
        alpha=0.0, nesterovs_momentum=False, random_state=0,
    )
    y = T[:, 0] if T.shape[1] == 1 else T  # one output: 1-D, as sklearn expects
    model.partial_fit(X[:1], y[:1])  # allocates the layers; then start from net's weights
    for coef, intercept, W, b in zip(model.coefs_, model.intercepts_, net.weights, net.biases):
        coef[...] = W.T  # in place: the optimizer holds these very arrays
        intercept[...] = b

    def run(n, epochs):
        for _ in range(epochs):
            model.partial_fit(X[:n], y[:n])

    return run


def fann_peer(net, X, T):
    """FANN 2.2 (C) through ctypes, configured as the lecture's algorithm (see
    bpbench.fann); epochs run inside FANN over a fann_train_data, in the given
    order. Its own random weights in [-0.05, 0.05] (loading 500k weights one by
    one through FANN's API would take hours)."""
    from .fann import FannError, FannNet

    try:
        fann = FannNet(net.layer_sizes, X.dtype, LEARNING_RATE)
    except FannError as exc:
        raise Unavailable(str(exc)) from None
    fann.set_data(X, T)

    def run(n, epochs):
        fann.train_epochs(n, epochs)

    return run


# column key -> (heading, peer); the order is the table's
PEERS = {
    "fast": ("bpcore fast", _bpcore_peer(bpcore.train)),
    "reference": ("reference", _bpcore_peer(bpcore.reference.train)),
    "numpy": ("numpy", numpy_peer),
    "torch": ("PyTorch b=1", torch_peer),
    "sklearn": ("sklearn", sklearn_peer),
    "fann": ("FANN", fann_peer),
}
