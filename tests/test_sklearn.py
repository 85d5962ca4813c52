"""bpcore.sklearn: scikit-learn's estimator checks, the one-line swap from
MLP*(solver="sgd", batch_size=1), and use inside scikit-learn's tools."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="bpcore.sklearn needs the optional extra 'sklearn'")

from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from bpcore import Network
from bpcore.datasets import load_digits
from bpcore.sklearn import BackpropClassifier, BackpropRegressor

# Settings shared by bpcore's estimators and scikit-learn's MLP in the comparisons.
SMALL = dict(hidden_layer_sizes=(16,), activation="logistic", learning_rate_init=0.1, random_state=0)


@pytest.fixture(scope="module")
def digits():
    """bpcore's embedded digits: X (1797, 64) in [0, 1], y (1797,) labels 0-9."""
    return load_digits()


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=300, n_features=8, noise=5.0, random_state=0)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


# ------------------------------------------------------------------ estimator checks
def expected_failed_checks(estimator):
    """Checks that fail for a reason, not a bug (docs/sklearn.md lists them)."""
    if isinstance(estimator, BackpropRegressor):
        return {
            "check_regressor_multioutput": (
                "unscaled targets (|y| up to ~500) make plain per-example SGD diverge at "
                "learning_rate_init=0.001; MLPRegressor(solver='sgd', batch_size=1) fails "
                "the same way. Standardise y, as docs/sklearn.md says."
            )
        }
    return {}


@parametrize_with_checks(
    [BackpropRegressor(), BackpropClassifier()], expected_failed_checks=expected_failed_checks
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------------ the one-line swap
@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_one_line_swap_from_mlp_regressor(regression, momentum):
    """Swapping MLPRegressor(solver="sgd", batch_size=1, ...) for
    BackpropRegressor(...) with the same other arguments gives the same model:
    same initial weights from the same random_state, same updates (shuffle=False,
    so both visit the examples in the same order). bpcore's momentum is the
    classic one: scikit-learn's with nesterovs_momentum=False."""
    X, y = regression
    args = dict(hidden_layer_sizes=(20, 10), activation="tanh", learning_rate_init=0.01,
                alpha=0.0, max_iter=30, shuffle=False, random_state=3, momentum=momentum)
    with pytest.warns(ConvergenceWarning):
        theirs = MLPRegressor(solver="sgd", batch_size=1, nesterovs_momentum=False, **args).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        ours = BackpropRegressor(**args).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ == 30
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), abs=1e-10)


@pytest.mark.parametrize("alpha, batch_size", [(0.0, 1), (0.01, 1), (0.01, 10)])
def test_classifier_matches_mlp_classifier_update_for_update(digits, alpha, batch_size):
    """Same settings, unshuffled: the weights agree with MLPClassifier's after
    several epochs (softmax + cross-entropy, L2 scaled the same way; 1790
    examples so that every mini-batch is full)."""
    X, y = digits[0][:1790], digits[1][:1790]
    args = dict(SMALL, alpha=alpha, batch_size=batch_size, max_iter=3, shuffle=False)
    with pytest.warns(ConvergenceWarning):
        theirs = MLPClassifier(solver="sgd", momentum=0.0, **args).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        ours = BackpropClassifier(**args).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    if alpha == 0:
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


def test_same_stopping_rule_as_mlp(regression):
    """tol / n_iter_no_change stop after the same epoch as scikit-learn's."""
    X, y = regression
    args = dict(hidden_layer_sizes=(8,), learning_rate_init=0.05, alpha=0.0, max_iter=500,
                shuffle=False, random_state=0, tol=1e-3, n_iter_no_change=3)
    theirs = MLPRegressor(solver="sgd", batch_size=1, momentum=0.0, **args).fit(X, y)
    ours = BackpropRegressor(**args).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 500
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)


def test_early_stopping_keeps_the_best_validation_score(digits):
    X, y = digits
    args = dict(SMALL, alpha=0.0, max_iter=40, shuffle=False, early_stopping=True,
                n_iter_no_change=2, tol=0.0)
    theirs = MLPClassifier(solver="sgd", batch_size=1, momentum=0.0, **args).fit(X, y)
    ours = BackpropClassifier(**args).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 40
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    assert ours.best_validation_score_ == max(ours.validation_scores_)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], atol=1e-9)
    assert ours.best_loss_ is None


def test_accuracy_within_a_few_points_of_mlp_classifier(digits):
    """Shuffled training (different example orders, so not update for update):
    held-out accuracy on the digits within 3 points of scikit-learn's MLP."""
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    args = dict(hidden_layer_sizes=(32,), activation="logistic", learning_rate_init=0.1,
                max_iter=15, random_state=0, n_iter_no_change=100)
    with pytest.warns(ConvergenceWarning):
        theirs = MLPClassifier(solver="sgd", batch_size=1, momentum=0.0, **args).fit(X_train, y_train)
    with pytest.warns(ConvergenceWarning):
        ours = BackpropClassifier(**args).fit(X_train, y_train)
    ours_acc, theirs_acc = ours.score(X_test, y_test), theirs.score(X_test, y_test)
    assert ours_acc > 0.9
    assert abs(ours_acc - theirs_acc) < 0.03, (ours_acc, theirs_acc)


# ------------------------------------------------------------------ classifier outputs
def test_output_layers_and_probabilities(digits):
    X, y = digits
    multi = BackpropClassifier(**SMALL, max_iter=5, n_iter_no_change=100)
    with pytest.warns(ConvergenceWarning):
        multi.fit(X, y)
    assert (multi.network_.output_activation, multi.out_activation_) == ("softmax", "softmax")
    proba = multi.predict_proba(X[:50])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(multi.classes_[proba.argmax(axis=1)], multi.predict(X[:50]))
    np.testing.assert_allclose(multi.predict_log_proba(X[:5]), np.log(proba[:5]))

    words = np.where(y % 2 == 0, "even", "odd")
    binary = BackpropClassifier(**SMALL, max_iter=5, n_iter_no_change=100)
    with pytest.warns(ConvergenceWarning):
        binary.fit(X, words)
    assert binary.network_.layer_sizes == (64, 16, 1)
    assert binary.out_activation_ == "logistic"
    assert list(binary.classes_) == ["even", "odd"]
    proba = binary.predict_proba(X[:20])
    assert proba.shape == (20, 2)
    np.testing.assert_array_equal(binary.predict(X[:20]), binary.classes_[(proba[:, 1] > 0.5).astype(int)])


def test_multilabel_uses_one_sigmoid_per_label(digits):
    X, y = digits
    Y = np.column_stack([y % 2 == 0, y > 4, y == 3]).astype(int)
    clf = BackpropClassifier(**SMALL, max_iter=5, n_iter_no_change=100)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, Y)
    assert clf.network_.output_activation == "sigmoid" and clf.network_.n_outputs == 3
    assert clf.predict(X[:10]).shape == clf.predict_proba(X[:10]).shape == (10, 3)


# ------------------------------------------------------------------ fitted attributes
def test_coefs_are_transposed_views_of_the_network(regression):
    X, y = regression
    reg = BackpropRegressor(hidden_layer_sizes=(5, 4), max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        reg.fit(X, y)
    assert isinstance(reg.network_, Network)
    assert [c.shape for c in reg.coefs_] == [(8, 5), (5, 4), (4, 1)]
    assert [b.shape for b in reg.intercepts_] == [(5,), (4,), (1,)]
    for c, W in zip(reg.coefs_, reg.network_.weights):
        np.testing.assert_array_equal(c, W.T)
    reg.coefs_[2][...] = 0.0
    reg.intercepts_[2][...] = 1.5
    np.testing.assert_array_equal(reg.predict(X[:3]), 1.5)
    assert reg.n_features_in_ == 8 and reg.n_outputs_ == 1 and reg.n_layers_ == 4
    assert reg.n_iter_ == 2 and len(reg.loss_curve_) == 2 and reg.t_ == 2 * len(X)


def test_unfitted_estimator_raises_not_fitted():
    with pytest.raises(NotFittedError):
        BackpropClassifier().predict(np.zeros((1, 2)))
    assert not hasattr(BackpropRegressor(), "coefs_")


# ------------------------------------------------------------------ warm start, partial_fit
def test_warm_start_continues_and_cold_start_restarts(regression):
    X, y = regression
    args = dict(hidden_layer_sizes=(6,), max_iter=3, random_state=0, n_iter_no_change=100)
    with pytest.warns(ConvergenceWarning):
        once = BackpropRegressor(**args, warm_start=True).fit(X, y)
    first = once.network_.params_vector()
    with pytest.warns(ConvergenceWarning):
        once.fit(X, y)
    assert len(once.loss_curve_) == 6 and once.n_iter_ == 3
    assert not np.array_equal(first, once.network_.params_vector())
    with pytest.warns(ConvergenceWarning):
        cold = BackpropRegressor(**args).fit(X, y)
    np.testing.assert_array_equal(cold.network_.params_vector(), first)
    with pytest.warns(ConvergenceWarning):
        cold.fit(X, y)
    np.testing.assert_array_equal(cold.network_.params_vector(), first)
    assert len(cold.loss_curve_) == 3


def test_partial_fit_streams_batches(digits):
    X, y = digits
    clf = BackpropClassifier(**SMALL)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:100], y[:100])
    assert not hasattr(clf, "classes_")
    for start in range(0, 1500, 100):
        clf.partial_fit(X[start : start + 100], y[start : start + 100], classes=np.arange(10))
    for _ in range(5):
        for start in range(0, 1500, 100):
            clf.partial_fit(X[start : start + 100], y[start : start + 100])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 90 and clf.t_ == 9000
    # Far above chance (0.1); the exact figure depends on the seeded example
    # order (0.845 with the order of bpcore.ordering.permutation).
    assert clf.score(X[1500:], y[1500:]) > 0.8
    with pytest.raises(ValueError, match="not in `classes_`"):
        clf.partial_fit(X[:2], np.array([3, 11]))
    with pytest.raises(ValueError, match="not the same"):
        clf.partial_fit(X[:2], y[:2], classes=np.arange(11))


def test_partial_fit_refuses_early_stopping(regression):
    X, y = regression
    with pytest.raises(ValueError, match="early_stopping"):
        BackpropRegressor(early_stopping=True).partial_fit(X, y)


# ------------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"activation": "identity"}, ValueError, "activation"),
        ({"hidden_layer_sizes": (10, 0)}, ValueError, r"hidden_layer_sizes\[1\]"),
        ({"hidden_layer_sizes": "10"}, TypeError, r"hidden_layer_sizes\[0\]"),
        ({"learning_rate_init": 0.0}, ValueError, "learning_rate_init"),
        ({"momentum": 1.0}, ValueError, "momentum"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": "big"}, TypeError, "batch_size"),
        ({"alpha": -1.0}, ValueError, "alpha"),
        ({"verbose": -1}, ValueError, "verbose"),
        ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
    ],
)
def test_bad_parameters_are_rejected_before_fitting(regression, params, error, match):
    X, y = regression
    reg = BackpropRegressor(**params)
    with pytest.raises(error, match=match):
        reg.fit(X, y)
    assert not hasattr(reg, "network_")


def test_logistic_is_sigmoid_and_no_hidden_layer_is_allowed(regression):
    X, y = regression
    with pytest.warns(ConvergenceWarning):
        reg = BackpropRegressor(hidden_layer_sizes=(), activation="logistic", max_iter=2).fit(X, y)
    assert reg.network_.layer_sizes == (8, 1)
    with pytest.warns(ConvergenceWarning):
        reg = BackpropRegressor(hidden_layer_sizes=3, activation="logistic", max_iter=2).fit(X, y)
    assert reg.network_.activation == "sigmoid" and reg.network_.layer_sizes == (8, 3, 1)


def test_float32_input_trains_a_float32_network(regression):
    X, y = regression
    with pytest.warns(ConvergenceWarning):
        reg = BackpropRegressor(hidden_layer_sizes=(4,), max_iter=2).fit(X.astype(np.float32), y)
    assert reg.network_.dtype == np.float32 and reg.predict(X).dtype == np.float32


# ------------------------------------------------------------------ scikit-learn's tools
def test_pickle_round_trip(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning):
        clf = BackpropClassifier(**SMALL, max_iter=2).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.network_ == clf.network_ and again.network_ is not clf.network_


def test_pipeline_grid_search_and_cross_val_score(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), BackpropClassifier(**SMALL, max_iter=8, n_iter_no_change=100))
    with pytest.warns(ConvergenceWarning):
        scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8
    grid = GridSearchCV(pipe, {"backpropclassifier__learning_rate_init": [1e-4, 0.05]}, cv=3)
    with pytest.warns(ConvergenceWarning):
        grid.fit(X, y)
    assert grid.best_params_ == {"backpropclassifier__learning_rate_init": 0.05}
    assert grid.best_estimator_.score(X, y) > 0.9


def test_a_failed_refit_leaves_the_fitted_estimator_as_it_was(digits):
    X, y = digits
    clf = BackpropClassifier(**SMALL, max_iter=2)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    params, classes = clf.network_.params_vector(), clf.classes_
    clf.set_params(early_stopping=True, validation_fraction=0.01)
    with pytest.raises(ValueError, match="validation set is too small"):
        clf.fit(X[:50], y[:50] % 3)
    np.testing.assert_array_equal(clf.network_.params_vector(), params)
    np.testing.assert_array_equal(clf.classes_, classes)


def test_import_bpcore_does_not_import_sklearn():
    code = "import sys, bpcore; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
