"""bpcore's optimizers against PyTorch's (issue 14): the same network, the same
initial weights, the same example order (shuffle=False), ½ squared error per
example, batch size 1, 120 steps; weights and biases in separate torch
parameter groups, weight decay on the weights only. Every weight and bias must
agree within 1e-10 (relative to max(1, |w|)), for both trainers, on a network
with three weight layers and every hidden x output activation pair of the
squared error.

torch.optim runs with foreach=False, i.e. _single_tensor_adam /
_single_tensor_rmsprop / _single_tensor_sgd, whose formulas the reference
follows term by term (docs/algorithm.md)."""

import numpy as np
import pytest

import bpcore

torch = pytest.importorskip("torch")

STEPS = 120
TOLERANCE = 1e-10

ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
               "identity": lambda z: z}
PAIRS = [(h, out) for h in ("sigmoid", "tanh", "relu") for out in ("sigmoid", "identity")]

# name -> (bpcore options, torch optimizer for (param_groups), weight decay of the weights)
OPTIMIZERS = {
    "sgd-nesterov": (
        dict(momentum=0.9, nesterov=True, learning_rate=0.02, weight_decay=1e-3),
        lambda groups: torch.optim.SGD(groups, lr=0.02, momentum=0.9, nesterov=True, foreach=False),
    ),
    "sgd-momentum": (
        dict(momentum=0.9, learning_rate=0.02, weight_decay=1e-3),
        lambda groups: torch.optim.SGD(groups, lr=0.02, momentum=0.9, foreach=False),
    ),
    "adam": (
        dict(optimizer="adam", learning_rate=0.01, weight_decay=1e-2),
        lambda groups: torch.optim.Adam(groups, lr=0.01, foreach=False),
    ),
    "adamw": (
        dict(optimizer="adam", learning_rate=0.01, weight_decay=0.1, decoupled_weight_decay=True),
        lambda groups: torch.optim.AdamW(groups, lr=0.01, foreach=False),
    ),
    "rmsprop-centered-momentum": (
        dict(optimizer="rmsprop", learning_rate=0.002, momentum=0.9, centered=True, weight_decay=1e-2),
        lambda groups: torch.optim.RMSprop(groups, lr=0.002, momentum=0.9, centered=True,
                                           foreach=False),
    ),
    "rmsprop": (
        dict(optimizer="rmsprop", learning_rate=0.002, weight_decay=1e-2),
        lambda groups: torch.optim.RMSprop(groups, lr=0.002, foreach=False),
    ),
}


def torch_train(net, X, T, make_optimizer, weight_decay):
    """Per-example training of a copy of ``net``'s parameters with torch.optim;
    returns them in bpcore's params_vector layout."""
    weights = [torch.tensor(W.copy(), dtype=torch.float64, requires_grad=True) for W in net.weights]
    biases = [torch.tensor(b.copy(), dtype=torch.float64, requires_grad=True) for b in net.biases]
    optimizer = make_optimizer([{"params": weights, "weight_decay": weight_decay},
                                {"params": biases, "weight_decay": 0.0}])
    last = len(weights) - 1
    for x, t in zip(torch.tensor(X), torch.tensor(T)):
        o = x
        for l, (W, b) in enumerate(zip(weights, biases)):
            o = ACTIVATIONS[net.output_activation if l == last else net.activation](W @ o + b)
        loss = 0.5 * ((t - o) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return np.concatenate([np.concatenate([W.detach().numpy().ravel(), b.detach().numpy()])
                           for W, b in zip(weights, biases)])


def _problem(activation, output_activation):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(STEPS, 4))
    T = rng.uniform(0.1, 0.9, size=(STEPS, 2)) if output_activation == "sigmoid" else rng.normal(size=(STEPS, 2))
    net = bpcore.Network((4, 6, 5, 2), activation=activation, output_activation=output_activation,
                         init="xavier", seed=2)
    return net, X, T


def _largest_difference(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))))


@pytest.mark.parametrize("activation, output_activation", PAIRS)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_the_optimizer_matches_pytorch(train, name, activation, output_activation):
    options, make_optimizer = OPTIMIZERS[name]
    net, X, T = _problem(activation, output_activation)
    ours = net.copy()
    train(ours, X, T, shuffle=False, epochs=1, **options)
    theirs = torch_train(net, X, T, make_optimizer, options["weight_decay"])
    worst = _largest_difference(ours.params_vector(), theirs)
    print(f"torch {name} {activation}-{output_activation}: largest difference {worst:.2g}")
    assert worst <= TOLERANCE, f"{name}, {activation}-{output_activation}: {worst:.3g} from PyTorch"
    # It trained: the comparison is not between two unchanged networks.
    assert _largest_difference(theirs, net.params_vector()) > 1e-3
