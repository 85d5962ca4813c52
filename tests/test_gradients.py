"""Central finite-difference checks of the reference's gradient (issue 11).

The kernels are checked against the reference elsewhere; both copy the same
formulas, so agreement alone cannot show that a formula is right. Here the
reference's deltas (§6.1.3: δ_k for the outputs, §8.4: δ_h = f'(o_h) Σ_k w_kh δ_k
for the hidden units) give the gradient ∂E_d/∂w_ji = −δ_j x_ji (§5, §6.1.4), and
that is compared with a central difference of the reference's own loss E_d,
for every hidden activation × output activation × loss pairing that ``train``
accepts, on a network with two hidden layers. Then each optimizer's first step,
taken by both trainers, is compared with the step the finite-difference gradient
prescribes.

Tolerance: 1e-6 relative to max(|g|, 1e-4). The five-point difference with
h = 1e-4 has a truncation error of order h⁴ = 1e-16 and a rounding error of
order 1e-16 / h = 1e-12, far inside 1e-6 relative for every gradient entry
above 1e-4 (and 1e-10 absolute below it).
"""

import numpy as np
import pytest

import bpcore
from bpcore import _names, reference

H = 1e-4
RTOL = 1e-6
FLOOR = 1e-4
SIZES = (3, 5, 4, 3)

PAIRINGS = [
    (hidden, output, loss)
    for hidden in _names.HIDDEN_ACTIVATIONS
    for loss in _names.LOSSES
    for output in _names.LOSS_OUTPUTS[loss]
]


def test_every_pairing_is_drawn():
    """12 pairings: 3 hidden activations × (sigmoid, identity with squared error;
    sigmoid, softmax with cross-entropy); the other pairs are refused by train."""
    assert len(PAIRINGS) == 12
    for loss in _names.LOSSES:
        for output in _names.OUTPUT_ACTIVATIONS:
            if output not in _names.LOSS_OUTPUTS[loss]:
                with pytest.raises(ValueError, match="does not go with"):
                    _names.check_loss_output(loss, output)


def example(output, loss, seed):
    """A network and one example (x, t) valid for the pairing: targets in (0, 1)
    for sigmoid outputs, a probability row for softmax, any reals for identity."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, SIZES[0])
    if output == "softmax":
        t = rng.dirichlet(np.ones(SIZES[-1]))
    elif output == "sigmoid":
        t = rng.uniform(0.05, 0.95, SIZES[-1])
    else:
        t = rng.normal(size=SIZES[-1])
    return x, t


def network(hidden, output, seed):
    return bpcore.Network(SIZES, activation=hidden, output_activation=output,
                          init="uniform", init_scale=0.8, seed=seed)


def loss_of(layers, x, t, hidden, output, loss):
    nets, outputs = reference.forward(layers, x, hidden, output)
    return reference.example_error(nets[-1], outputs[-1], t, loss, output)


def analytic_gradient(layers, x, t, hidden, output, loss):
    """∂E_d/∂w_ji = −δ_j x_ji and ∂E_d/∂b_j = −δ_j, from the reference's deltas,
    flattened in the network's parameter order (per layer: W row by row, then b)."""
    _, outputs = reference.forward(layers, x, hidden, output)
    deltas = reference.backward(layers, outputs, t, loss, hidden, output)
    flat = []
    for delta_j, x_ji in zip(deltas, outputs):
        flat.extend(-d * xi for d in delta_j for xi in x_ji)
        flat.extend(-d for d in delta_j)
    return np.array(flat)


def layers_from(vector):
    """The reference's ``(W, b)`` lists from a flat parameter vector."""
    layers, at = [], 0
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
        W = vector[at:at + n_in * n_out].reshape(n_out, n_in).tolist()
        at += n_in * n_out
        layers.append((W, vector[at:at + n_out].tolist()))
        at += n_out
    return layers


def numeric_gradient(vector, x, t, hidden, output, loss):
    """The five-point central difference
    (8[E(w + h) − E(w − h)] − [E(w + 2h) − E(w − 2h)]) / 12h in each parameter."""
    def E_at(q, shift):
        moved = vector.copy()
        moved[q] += shift
        return loss_of(layers_from(moved), x, t, hidden, output, loss)

    g = np.empty_like(vector)
    for q in range(vector.size):
        g[q] = (8 * (E_at(q, H) - E_at(q, -H)) - (E_at(q, 2 * H) - E_at(q, -2 * H))) / (12 * H)
    return g


def relative_error(numeric, analytic):
    return np.abs(numeric - analytic) / np.maximum(np.abs(analytic), FLOOR)


def away_from_kinks(vector, x, hidden, output):
    """For ReLU: no hidden net input within 1e-3 of the kink at 0, where the
    central difference straddles two slopes."""
    if hidden != "relu":
        return True
    nets, _ = reference.forward(layers_from(vector), x, hidden, output)
    return min(abs(n) for layer in nets[:-1] for n in layer) > 1e-3


def checked_case(hidden, output, loss):
    """The first seed whose example keeps away from ReLU's kink."""
    for seed in range(100):
        net = network(hidden, output, seed)
        x, t = example(output, loss, seed)
        vector = net.params_vector().astype(np.float64)
        if away_from_kinks(vector, x, hidden, output):
            return net, vector, x, t
    raise AssertionError("no kink-free example in 100 seeds")


@pytest.mark.parametrize("hidden,output,loss", PAIRINGS, ids=["-".join(p) for p in PAIRINGS])
def test_backpropagated_gradient_equals_finite_differences(hidden, output, loss):
    """§6.1.3 and §8.3–8.4: the deltas are −∂E_d/∂net, so −δ_j x_ji is the
    gradient of the example's loss; every weight and bias, two hidden layers."""
    net, vector, x, t = checked_case(hidden, output, loss)
    analytic = analytic_gradient(layers_from(vector), x, t, hidden, output, loss)
    numeric = numeric_gradient(vector, x, t, hidden, output, loss)
    assert analytic.shape == vector.shape
    assert np.abs(analytic).max() > 1e-3  # a gradient worth checking
    worst = relative_error(numeric, analytic).max()
    assert worst <= RTOL, f"{hidden}/{output}/{loss}: largest relative difference {worst:.3g}"


def test_a_wrong_delta_would_be_caught():
    """The check can fail: dropping f'(o_h) from the hidden deltas (a classic slip
    in §8.4) moves the gradient far outside the tolerance."""
    net, vector, x, t = checked_case("sigmoid", "sigmoid", "squared_error")
    layers = layers_from(vector)
    _, outputs = reference.forward(layers, x, "sigmoid", "sigmoid")
    deltas = reference.backward(layers, outputs, t, "squared_error", "sigmoid", "sigmoid")
    W_next, delta_k = layers[-1][0], deltas[-1]
    slipped = [sum(W_next[k][h] * delta_k[k] for k in range(len(delta_k))) for h in range(SIZES[-2])]
    numeric = numeric_gradient(vector, x, t, "sigmoid", "sigmoid", "squared_error")
    # The gradient of the last hidden layer's biases is −δ_h; they follow that
    # layer's weights, after the first layer's weights and biases.
    start = SIZES[0] * SIZES[1] + SIZES[1] + SIZES[1] * SIZES[2]
    bias_slice = slice(start, start + SIZES[2])
    assert relative_error(numeric[bias_slice], -np.array(slipped)).max() > 100 * RTOL


# ------------------------------------------------------------------ first steps
ETA = 0.1
LAMBDA = 0.01


def first_step(train, net, x, t, loss, **options):
    before = net.params_vector().astype(np.float64)
    train(net, x[None, :], t[None, :], learning_rate=ETA, epochs=1, shuffle=False,
          loss=loss, **options)
    return net.params_vector().astype(np.float64) - before


def weight_mask():
    """True at the weights, False at the biases, in parameter order."""
    mask = []
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
        mask += [True] * (n_in * n_out) + [False] * n_out
    return np.array(mask)


STEPS = {
    # option -> the step it takes from the gradient g of E_d (§6.1.4: Δw = −η g)
    "plain": ({}, lambda g, w: -ETA * g),
    # Momentum's previous step is zero at the start, so the first step is plain.
    "momentum": ({"momentum": 0.9}, lambda g, w: -ETA * g),
    # L2 decay on the weights only: the gradient of E_d + λ/2 Σ w².
    "weight_decay": ({"weight_decay": LAMBDA}, lambda g, w: -ETA * (g + LAMBDA * w * weight_mask())),
    # The whole gradient scaled down to norm 0.01.
    "max_grad_norm": ({"max_grad_norm": 0.01},
                      lambda g, w: -ETA * g * min(1.0, 0.01 / np.linalg.norm(g))),
}


@pytest.mark.parametrize("option", sorted(STEPS))
@pytest.mark.parametrize("hidden,output,loss", [("sigmoid", "sigmoid", "squared_error"),
                                                ("tanh", "softmax", "cross_entropy"),
                                                ("relu", "identity", "squared_error")])
def test_first_step_follows_the_finite_difference_gradient(train, option, hidden, output, loss):
    """§6.1.4 with each of the lecture's remedies (§9): the first update of both
    trainers equals −η times the finite-difference gradient, modified as the
    option prescribes."""
    net, vector, x, t = checked_case(hidden, output, loss)
    options, step_of = STEPS[option]
    numeric = numeric_gradient(vector, x, t, hidden, output, loss)
    if option == "max_grad_norm":
        assert np.linalg.norm(numeric) > 0.01  # the clipping does act
    expected = step_of(numeric, vector)
    step = first_step(train, net, x, t, loss, **options)
    # relative to max(|step|, η·1e-4): the step is η times the gradient
    worst = (np.abs(step - expected) / np.maximum(np.abs(expected), ETA * FLOOR)).max()
    assert worst <= RTOL, f"{option}: largest relative difference {worst:.3g}"

