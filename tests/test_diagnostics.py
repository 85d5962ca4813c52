"""Training diagnostics: ``History.grad_norm`` / ``History.saturation`` (recorded
with ``diagnostics=True``) and ``History.diagnose()`` on constructed cases, one
per problem of the lecture's Table 3 (§9.4) that bpcore detects."""

import numpy as np
import pytest

import bpcore
from bpcore import reference



# ------------------------------------------------------------------ an independent gradient
def _loss(net, x, t):
    return 0.5 * float(np.sum((t - net.predict(x)) ** 2))


def _numerical_weight_gradient_norms(net, x, t, h=1e-6):
    """‖∂E_d/∂W_l‖ per weight layer by central differences (no backpropagation)."""
    norms = []
    for W in net.weights:
        g = np.zeros_like(W)
        for index in np.ndindex(W.shape):
            keep = W[index]
            W[index] = keep + h
            up = _loss(net, x, t)
            W[index] = keep - h
            down = _loss(net, x, t)
            W[index] = keep
            g[index] = (up - down) / (2 * h)
        norms.append(float(np.linalg.norm(g)))
    return norms


def _small_task(seed=0, n=6):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.uniform(size=(n, 2))


def test_without_diagnostics_nothing_is_recorded(train, xor):
    history = train(bpcore.Network((2, 3, 1), seed=0), *xor, epochs=3)
    assert history.grad_norm == [] and history.saturation == []


def test_grad_norm_of_one_example_is_the_norm_of_its_weight_gradient():
    """One example, one epoch: grad_norm[0][l] = ‖∇_{W_l} E_d‖ at the initial
    weights, checked against central differences."""
    X, T = _small_task(n=1)
    net = bpcore.Network((3, 4, 3, 2), init_scale=0.8, seed=3)
    expected = _numerical_weight_gradient_norms(net.copy(), X[0], T[0])
    history = reference.train(net, X, T, learning_rate=0.5, epochs=1, diagnostics=True)
    assert len(history.grad_norm) == 1 and len(history.grad_norm[0]) == 3
    assert history.grad_norm[0] == pytest.approx(expected, rel=1e-6)


def test_grad_norm_is_the_root_mean_square_over_the_epochs_examples():
    """With a vanishing learning rate the weights stay put, so the epoch's
    value is sqrt(mean over d of ‖∇_{W_l} E_d‖²) at the initial weights."""
    X, T = _small_task(n=6)
    net = bpcore.Network((3, 4, 2), init_scale=0.8, seed=4)
    per_example = np.array([_numerical_weight_gradient_norms(net.copy(), x, t) for x, t in zip(X, T)])
    history = reference.train(net, X, T, learning_rate=1e-300, epochs=2, diagnostics=True)
    expected = np.sqrt(np.mean(per_example ** 2, axis=0))
    for epoch in history.grad_norm:
        assert epoch == pytest.approx(expected, rel=1e-6)


_FLAT = {  # the flat parts, as History.saturation documents them
    "sigmoid": lambda o: (o < 0.01) | (o > 0.99),
    "tanh": lambda o: np.abs(o) > 0.99,
    "relu": lambda o: o == 0,
}
_F = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}


@pytest.mark.parametrize("activation, biases, saturated", [
    # first hidden layer's biases chosen so that these many of its 4 units sit in
    # the flat part for every input
    ("sigmoid", [9.0, -9.0, 0.0, 0.0], 2),     # σ(±9 ± small) > 0.99 / < 0.01
    ("tanh", [5.0, -5.0, 0.0, 0.1], 2),        # |tanh(±5 ± small)| > 0.99
    ("relu", [-5.0, -5.0, -5.0, 5.0], 3),      # relu(negative) = 0
])
def test_saturation_counts_outputs_in_the_flat_part(activation, biases, saturated):
    """A learning rate of 1e-12 keeps the weights (nearly) where they are, so the
    fractions are those of a numpy forward pass with the initial weights."""
    rng = np.random.default_rng(1)
    X, T = rng.uniform(-0.5, 0.5, size=(10, 2)), rng.uniform(size=(10, 1))
    W = [rng.uniform(-0.1, 0.1, size=(4, 2)), rng.uniform(-0.5, 0.5, size=(3, 4)), np.array([[0.1, 0.2, 0.3]])]
    b = [np.array(biases), np.array([0.0, 9.0, -0.2]), np.array([0.0])]
    net = bpcore.Network.from_arrays(W, b, activation=activation)
    f, flat = _F[activation], _FLAT[activation]
    hidden_1 = f(X @ W[0].T + b[0])
    hidden_2 = f(hidden_1 @ W[1].T + b[1])
    assert flat(hidden_1).sum() == saturated * 10  # the construction does what it says
    history = reference.train(net, X, T, learning_rate=1e-12, epochs=1, diagnostics=True)
    assert history.saturation == [[saturated / 4, flat(hidden_2).mean()]]


# ------------------------------------------------------------------ reference vs compiled
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_both_trainers_record_identical_diagnostics(activation, batch_size):
    rng = np.random.default_rng(2)
    X, T = rng.normal(size=(150, 3)), rng.uniform(size=(150, 2))  # several blocks of 64
    net = bpcore.Network((3, 5, 4, 2), activation=activation, init_scale=1.5, seed=5)
    options = dict(learning_rate=0.3, epochs=4, seed=1, batch_size=batch_size, diagnostics=True)
    ref = reference.train(net.copy(), X, T, **options)
    fast = bpcore.train(net.copy(), X, T, **options)
    assert np.array(fast.grad_norm) == pytest.approx(np.array(ref.grad_norm), rel=1e-12, abs=1e-300)
    assert fast.saturation == ref.saturation


# ------------------------------------------------------------------ diagnose(): Table 3
def _problems(history):
    findings = history.diagnose()
    for finding in findings:
        print(finding)  # what the report quotes (pytest -s shows it)
        assert finding.evidence and finding.remedies
    return [finding.problem for finding in findings]


def test_deep_sigmoid_network_with_tiny_initial_weights_has_vanishing_gradients():
    rng = np.random.default_rng(0)
    X = rng.random((50, 4))
    T = (X.sum(axis=1, keepdims=True) > 2).astype(float)
    net = bpcore.Network((4, 8, 8, 8, 8, 8, 1), init_scale=0.05, seed=0)
    history = reference.train(net, X, T, learning_rate=0.5, epochs=20, seed=0, diagnostics=True)
    assert "vanishing gradients" in _problems(history)
    finding = next(f for f in history.diagnose() if f.problem == "vanishing gradients")
    assert any("relu" in remedy for remedy in finding.remedies)
    assert history.grad_norm[-1][0] < 1e-3 * history.grad_norm[-1][-1]


def test_huge_learning_rate_gives_exploding_gradients_or_divergence():
    rng = np.random.default_rng(0)
    X = rng.random((50, 4))
    T = X.sum(axis=1, keepdims=True)
    net = bpcore.Network((4, 8, 1), output_activation="identity", seed=0)
    with pytest.raises(bpcore.DivergenceError) as caught:
        reference.train(net, X, T, learning_rate=100.0, epochs=20, seed=0, diagnostics=True)
    history = caught.value.history
    assert history.stop_reason == "diverged"
    problems = _problems(history)
    assert "divergence" in problems and "exploding gradients" in problems
    divergence = next(f for f in history.diagnose() if f.problem == "divergence")
    assert any("learning_rate" in r for r in divergence.remedies)
    assert any("max_grad_norm" in r for r in divergence.remedies)


def test_huge_learning_rate_without_divergence_is_reported(train):
    """The issue's `--lr 1e6` run: no NaN, but the error never falls."""
    X, y = bpcore.datasets.load_digits()
    X, T = X[:300], bpcore.datasets.one_hot(y[:300])
    net = bpcore.Network((64, 16, 10), output_activation="softmax", init="xavier", seed=0)
    history = train(net, (X - X.mean(0)) / (X.std(0) + 1e-12), T, learning_rate=1e6, epochs=5,
                    loss="cross_entropy", seed=0)
    assert _problems(history) == ["no learning"]


def test_large_network_on_30_examples_overfits(train):
    rng = np.random.default_rng(1)

    def task(n):
        X = rng.uniform(-1, 1, (n, 5))
        return X, np.sin(3 * X[:, :1]) + 0.5 * rng.normal(size=(n, 1))

    (X, T), validation = task(30), task(300)
    net = bpcore.Network((5, 128, 1), activation="tanh", output_activation="identity", init="xavier", seed=0)
    history = train(net, X, T, learning_rate=0.05, epochs=2000 if train is bpcore.train else 600,
                    seed=0, validation=validation)
    assert _problems(history) == ["overfitting"]
    finding = history.diagnose()[0]
    assert any("patience=" in remedy for remedy in finding.remedies)
    # with early stopping (the remedy) there is no finding
    net2 = bpcore.Network((5, 128, 1), activation="tanh", output_activation="identity", init="xavier", seed=0)
    stopped = train(net2, X, T, learning_rate=0.05, epochs=2000, seed=0, validation=validation, patience=20)
    assert stopped.stop_reason == "early_stopping" and _problems(stopped) == []


def test_tiny_learning_rate_converges_slowly(train):
    rng = np.random.default_rng(0)
    X = rng.random((50, 4))
    T = (X.sum(axis=1, keepdims=True) > 2).astype(float)
    history = train(bpcore.Network((4, 8, 1), seed=0), X, T, learning_rate=1e-6, epochs=20, seed=0)
    assert _problems(history) == ["slow convergence"]
    finding = history.diagnose()[0]
    assert any("momentum=" in r for r in finding.remedies)
    assert any("larger learning_rate" in r for r in finding.remedies)


def test_healthy_xor_run_has_no_finding(xor):
    """The README's XOR run, which reaches its target_error (after a plateau)."""
    net = bpcore.Network((2, 3, 1), init_scale=1.0, seed=1)
    history = reference.train(net, *xor, learning_rate=2.0, epochs=5000, seed=0, target_error=0.05,
                              diagnostics=True)
    assert history.stop_reason == "target_error"
    assert _problems(history) == []
    compiled = bpcore.train(bpcore.Network((2, 3, 1), init_scale=1.0, seed=1), *xor, learning_rate=2.0,
                            epochs=5000, seed=0, target_error=0.05)
    assert _problems(compiled) == []


def test_findings_name_only_options_that_train_offers():
    """Table 3 remedies that bpcore does not have yet (dropout, Adam) are left out."""
    history = bpcore.History(train_error=[6.0, 5.99999, 5.99998], epochs_run=3, stop_reason="epochs")
    (finding,) = history.diagnose()
    text = str(finding)
    assert finding.problem == "slow convergence"
    offered = bpcore._training.TRAIN_CONSTRAINTS
    assert ("optimizer=" in text) == ("optimizer" in offered)
    assert ("dropout=" in text) == ("dropout" in offered)


def test_a_run_that_ends_above_the_mean_target_baseline_learned_nothing():
    """The baseline is the loss of always outputting the mean target, checked
    here on hand-computed values."""
    from bpcore.diagnostics import baseline_error

    T = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    # mean (0.75, 0.25): three rows off by (0.25, -0.25), one by (-0.75, 0.75)
    assert baseline_error(T) == pytest.approx(0.5 * (3 * 0.125 + 1.125))
    assert baseline_error(T, "cross_entropy") == pytest.approx(-(3 * np.log(0.75) + np.log(0.25)))
    history = bpcore.History(train_error=[5.0, 2.0], epochs_run=2, stop_reason="epochs")
    assert history.diagnose(baseline=3.0) == []
    (finding,) = history.diagnose(baseline=1.5)
    assert finding.problem == "no learning" and "1.5" in finding.evidence
