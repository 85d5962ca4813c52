"""Learning-rate schedules (``lr_schedule``) and FANN's bit fail
(``bit_fail_limit``, ``target_bit_fail``) in both trainers (issue 14).

The named schedules are scikit-learn's rules: checked against the rule written
out here from scikit-learn's source, applied to bpcore's own history, and
against a real ``MLPRegressor(solver="sgd")`` run whose optimizer records the
rate of every epoch. Agreement of the two trainers on these options is in
tests/test_equivalence.py; refusals of bad values in tests/test_bad_input.py.
"""

import math
import warnings

import numpy as np
import pytest

import bpcore
from bpcore import _training

RNG = np.random.default_rng(3)
X = RNG.normal(size=(30, 3))
T = 1 / (1 + np.exp(-X @ RNG.normal(size=(3, 2))))


def net():
    return bpcore.Network((3, 5, 2), init="xavier", seed=1)


# ------------------------------------------------------------------ scikit-learn's rules, written out
def sklearn_invscaling(eta0, power_t, n_examples, epochs):
    """SGDOptimizer.iteration_ends: after each epoch, learning_rate =
    learning_rate_init / (t + 1) ** power_t with t = the examples seen (t_)."""
    rates, t = [eta0], 0
    for _ in range(epochs - 1):
        t += n_examples
        rates.append(float(eta0) / (t + 1) ** power_t)
    return rates


def sklearn_adaptive(eta0, tol, n_iter_no_change, losses):
    """_update_no_improvement_count (without early stopping) and
    SGDOptimizer.trigger_stopping for "adaptive": the rate of every epoch, and
    whether training stopped after the last loss."""
    rates, rate, best, count = [], eta0, np.inf, 0
    for loss in losses:
        rates.append(rate)
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count > n_iter_no_change:
            if rate <= 1e-6:
                return rates, True
            rate /= 5.0
            count = 0
    return rates, False


def test_constant_records_the_rate_of_every_epoch(train):
    history = train(net(), X, T, learning_rate=0.3, epochs=4, seed=0)
    assert history.learning_rate == [0.3] * 4
    assert history.bit_fail == []


@pytest.mark.parametrize("power_t", [0.5, 0.25, 0.0, 1.0])
def test_invscaling_is_scikit_learns_rule(train, power_t):
    history = train(net(), X, T, learning_rate=0.4, epochs=6, seed=0, lr_schedule="invscaling",
                    power_t=power_t)
    assert history.learning_rate == sklearn_invscaling(0.4, power_t, len(X), 6)


def test_invscaling_trains_like_constant_rates_epoch_by_epoch(train):
    """The rate really reaches the update: training epoch by epoch with each
    recorded rate (momentum 0) gives the same weights."""
    scheduled = net()
    history = train(scheduled, X, T, learning_rate=0.4, epochs=3, shuffle=False, lr_schedule="invscaling")
    stepwise = net()
    for rate in history.learning_rate:
        train(stepwise, X, T, learning_rate=rate, epochs=1, shuffle=False)
    np.testing.assert_allclose(stepwise.params_vector(), scheduled.params_vector(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("tol, n_iter_no_change", [(1e-4, 2), (0.05, 1), (10.0, 2), (0.0, 3)])
def test_adaptive_is_scikit_learns_rule_on_bpcores_history(train, tol, n_iter_no_change):
    history = train(net(), X, T, learning_rate=0.5, epochs=40, seed=0, lr_schedule="adaptive", tol=tol,
                    n_iter_no_change=n_iter_no_change)
    losses = [e / len(X) for e in history.train_error]  # scikit-learn's loss_: mean per example
    rates, stopped = sklearn_adaptive(0.5, tol, n_iter_no_change, losses)
    assert history.learning_rate == rates
    assert (history.stop_reason == "no_improvement") == stopped
    if tol == 10.0:  # never an improvement: the rate falls to <= 1e-6, then training stops
        assert stopped and history.learning_rate[-1] <= 1e-6
        assert len(set(history.learning_rate)) > 5


@pytest.fixture
def recorded_sklearn_rates(monkeypatch):
    """Run a real MLPRegressor whose SGD optimizer records, at the end of every
    epoch (iteration_ends), the rate that epoch used."""
    from sklearn.neural_network import _multilayer_perceptron as mlp
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    rates = []

    class Recording(SGDOptimizer):
        def iteration_ends(self, time_step):
            rates.append(self.learning_rate)
            super().iteration_ends(time_step)

    monkeypatch.setattr(mlp, "SGDOptimizer", Recording)

    def fit(**params):
        rates.clear()
        rng = np.random.default_rng(0)
        Xs = rng.normal(size=(40, 3))
        ys = Xs @ [0.5, -1.0, 0.25] + 0.1 * rng.normal(size=40)
        model = mlp.MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", momentum=0.0, batch_size=1,
                                 shuffle=False, alpha=0.0, random_state=0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning when max_iter is reached
            model.fit(Xs, ys)
        return model, list(rates), len(Xs)

    return fit


@pytest.mark.parametrize("params", [
    dict(learning_rate="adaptive", learning_rate_init=0.01, tol=10.0, n_iter_no_change=2, max_iter=60),
    dict(learning_rate="adaptive", learning_rate_init=0.05, tol=1e-3, n_iter_no_change=3, max_iter=80),
    dict(learning_rate="invscaling", learning_rate_init=0.05, power_t=0.3, n_iter_no_change=100,
         max_iter=20),
], ids=["adaptive-to-the-stop", "adaptive", "invscaling"])
def test_the_rates_of_a_real_mlp_regressor_run(recorded_sklearn_rates, params):
    """bpcore's rule (``_training.LearningRate``, what both trainers use), fed
    the losses of a real scikit-learn run, gives the rates that run used and
    stops where it stopped."""
    model, rates, n = recorded_sklearn_rates(**params)
    opts = {**_training.TRAIN_DEFAULTS, "learning_rate": params["learning_rate_init"],
            "lr_schedule": params["learning_rate"], "power_t": params.get("power_t", 0.5),
            "tol": params["tol"] if "tol" in params else 1e-4,
            "n_iter_no_change": params["n_iter_no_change"]}
    schedule = _training.LearningRate(opts, n)
    ours, stopped = [], False
    for loss in model.loss_curve_:
        ours.append(schedule.rate)
        stopped = schedule.epoch_ended(loss)
        if stopped:
            break
    assert ours == rates
    assert len(ours) == len(model.loss_curve_)
    assert stopped == (model.n_iter_ < params["max_iter"])
    assert len(set(rates)) > 3  # the rate did change


# ------------------------------------------------------------------ a callable schedule
def test_a_callable_gives_each_epochs_rate_and_sees_the_epochs_before(train):
    calls = []

    def schedule(epoch, history):
        calls.append((epoch, len(history.train_error), list(history.learning_rate)))
        return 0.5 / epoch

    history = train(net(), X, T, epochs=4, seed=0, lr_schedule=schedule)
    assert history.learning_rate == [0.5, 0.25, 0.5 / 3, 0.125]
    assert calls == [(1, 0, []), (2, 1, [0.5]), (3, 2, [0.5, 0.25]), (4, 3, [0.5, 0.25, 0.5 / 3])]


def test_a_callable_sees_the_network_of_the_epoch_before(train):
    """Like a callback, it runs with the network holding the current weights:
    before epoch e, those after epoch e − 1."""
    seen, network = [], net()

    def schedule(epoch, history):
        seen.append(network.params_vector())
        return 0.2

    train(network, X, T, epochs=3, seed=0, lr_schedule=schedule)
    for epochs_before, weights in enumerate(seen):
        alone = net()
        if epochs_before:
            train(alone, X, T, epochs=epochs_before, seed=0, learning_rate=0.2)
        np.testing.assert_array_equal(weights, alone.params_vector())


@pytest.mark.parametrize("bad, error", [
    (0, ValueError), (-1.0, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
    ("x", TypeError), (None, TypeError), (True, TypeError), (1j, TypeError),
])
def test_a_callable_returning_a_bad_rate_leaves_the_previous_epochs_weights(train, bad, error):
    def schedule(epoch, history):
        return 0.3 if epoch < 3 else bad

    network = net()
    with pytest.raises(error, match=rf"lr_schedule returned .* for epoch 3; it must return .*> 0.*"
                                    r"after epoch 2") as info:
        train(network, X, T, epochs=5, seed=4, lr_schedule=schedule)
    assert repr(bad) in str(info.value)
    two_epochs = net()
    train(two_epochs, X, T, epochs=2, seed=4, learning_rate=0.3)
    assert network == two_epochs


def test_a_callable_that_writes_nan_is_a_divergence(train):
    network = net()

    def schedule(epoch, history):
        if epoch == 2:
            network.weights[0][0, 0] = np.nan
        return 0.3

    with pytest.raises(bpcore.DivergenceError, match="the lr_schedule of epoch 2 left NaN"):
        train(network, X, T, epochs=3, seed=4, lr_schedule=schedule)
    one_epoch = net()
    train(one_epoch, X, T, epochs=1, seed=4, learning_rate=0.3)
    assert network == one_epoch


# ------------------------------------------------------------------ bit fail
@pytest.mark.parametrize("limit", [0.05, 0.2, 0.5])
def test_bit_fail_is_a_direct_count_after_each_epoch(train, limit):
    """History.bit_fail[e] = the outputs with |t − o| >= limit, counted with
    numpy on the network's outputs after epoch e (what a callback sees)."""
    network, counts = net(), []

    def callback(epoch, history):
        counts.append(int(np.count_nonzero(np.abs(T - network.predict(X)) >= limit)))

    history = train(network, X, T, learning_rate=0.5, epochs=5, seed=0, bit_fail_limit=limit,
                    callback=callback)
    assert history.bit_fail == counts
    assert len(history.bit_fail) == history.epochs_run


def test_bit_fail_counts_every_output_at_the_limit_as_fann_does(train):
    """FANN counts |t − o| >= bit_fail_limit (fann_update_MSE): an output
    exactly at the limit fails. Targets o ± 0.25, exactly representable."""
    network = bpcore.Network.from_arrays([np.zeros((2, 3))], [np.zeros(2)])  # o = 0.5 everywhere
    targets = np.tile([0.75, 0.25], (len(X), 1))
    history = train(network, X, targets, learning_rate=1e-300, epochs=1, shuffle=False, bit_fail_limit=0.25)
    assert history.bit_fail == [targets.size]


def test_target_bit_fail_stops_at_or_below_the_target(train):
    full = train(net(), X, T, learning_rate=2.0, epochs=30, seed=0, bit_fail_limit=0.1)
    assert full.bit_fail[0] > full.bit_fail[-1]
    target = full.bit_fail[-1] + (full.bit_fail[0] - full.bit_fail[-1]) // 2
    first = next(e for e, count in enumerate(full.bit_fail, start=1) if count <= target)
    history = train(net(), X, T, learning_rate=2.0, epochs=30, seed=0, bit_fail_limit=0.1,
                    target_bit_fail=target)
    assert history.stop_reason == "target_bit_fail"
    assert history.epochs_run == first
    assert history.bit_fail == full.bit_fail[:first]


def test_target_bit_fail_zero_and_target_error_first(train):
    """The stopping rules keep their order: target_error is tested before
    target_bit_fail."""
    history = train(net(), X, T, epochs=3, seed=0, bit_fail_limit=10.0, target_bit_fail=0)
    assert history.stop_reason == "target_bit_fail" and history.epochs_run == 1
    history = train(net(), X, T, epochs=3, seed=0, bit_fail_limit=10.0, target_bit_fail=0,
                    target_error=1e9)
    assert history.stop_reason == "target_error"


# ------------------------------------------------------------------ threads
def test_train_many_and_hogwild_pass_the_schedule_on():
    options = dict(learning_rate=0.4, epochs=3, seed=0, lr_schedule="invscaling", power_t=0.7,
                   bit_fail_limit=0.1)
    alone = net()
    expected = bpcore.train(alone, X, T, **options)
    many = [net(), net()]
    for history in bpcore.train_many(many, X, T, n_jobs=2, **options):
        assert history.learning_rate == expected.learning_rate
        assert history.bit_fail == expected.bit_fail
    assert many[0] == alone and many[1] == alone
    hogwild = net()
    history = bpcore.parallel.train_hogwild(hogwild, X, T, n_threads=1, **options)
    assert history.learning_rate == expected.learning_rate and hogwild == alone
    rates = []
    bpcore.parallel.train_hogwild(net(), X, T, n_threads=2, epochs=3, seed=0,
                                  lr_schedule=lambda epoch, history: rates.append(epoch) or 0.1 / epoch)
    assert rates == [1, 2, 3]


def test_the_schedule_rule_is_finite_for_huge_example_counts():
    opts = {**_training.TRAIN_DEFAULTS, "lr_schedule": "invscaling", "power_t": 3.0}
    schedule = _training.LearningRate(opts, 10**12)
    for _ in range(3):
        schedule.epoch_ended(1.0)
    assert 0 < schedule.rate < 1e-30 and math.isfinite(schedule.rate)
