"""Fitted estimators saved without pickle (``est.save`` / ``Estimator.load``)
and built from a Network (``Estimator.from_network``)."""

import json
import os
import warnings

import numpy as np
import pytest

import bpcore
from bpcore import ModelFormatError, model_io
from bpcore.sklearn import BackpropClassifier, BackpropRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

RNG = np.random.default_rng(0)
X = RNG.normal(size=(120, 3)) * 2 + 1
SCORE = X[:, 0] - X[:, 1]


def fitted(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


TARGETS = {
    "binary strings": np.where(SCORE > 0, "yes", "no"),
    "multiclass integers": np.digitize(SCORE, [-1.0, 1.0]) * 7,
    "multiclass floats": np.digitize(SCORE, [-1.0, 1.0]) * 2.0,
    "booleans": SCORE > 0,
    "multilabel": np.column_stack([SCORE > 0, X[:, 2] > 1]).astype(int),
    "object strings": np.array(["lo", "mid", "hi"], dtype=object)[np.digitize(SCORE, [-1.0, 1.0])],
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_a_saved_classifier_loads_and_predicts_bit_for_bit(tmp_path, target, dtype):
    clf = fitted(BackpropClassifier((5, 3), activation="tanh", max_iter=4, random_state=0),
                 X.astype(dtype), TARGETS[target])
    path = tmp_path / "clf.npz"
    clf.save(path)
    loaded = BackpropClassifier.load(path)
    Xd = X.astype(dtype)
    assert np.array_equal(loaded.predict(Xd), clf.predict(Xd))
    assert loaded.predict(Xd).dtype == clf.predict(Xd).dtype
    assert np.array_equal(loaded.predict_proba(Xd), clf.predict_proba(Xd))
    assert np.array_equal(loaded.classes_, clf.classes_) and loaded.classes_.dtype == clf.classes_.dtype
    assert loaded.get_params() == {**clf.get_params(), "hidden_layer_sizes": (5, 3)}
    assert loaded.network_ == clf.network_
    for name in ("n_iter_", "t_", "loss_", "loss_curve_", "best_loss_", "n_features_in_", "n_outputs_",
                 "n_layers_", "out_activation_"):
        assert getattr(loaded, name) == getattr(clf, name), name


def test_a_saved_regressor_with_early_stopping_continues_like_the_original(tmp_path):
    Y = np.column_stack([SCORE, X[:, 2] ** 2])
    reg = fitted(BackpropRegressor((6,), max_iter=5, early_stopping=True, random_state=3, warm_start=True), X, Y)
    path = tmp_path / "reg.npz"
    reg.save(path)
    loaded = BackpropRegressor.load(path)
    assert np.array_equal(loaded.predict(X), reg.predict(X))
    assert loaded.validation_scores_ == reg.validation_scores_
    assert loaded.best_validation_score_ == reg.best_validation_score_
    # warm_start from both: the same training continues to the same weights.
    fitted(reg, X, Y)
    fitted(loaded, X, Y)
    assert loaded.network_ == reg.network_


def test_inside_a_pipeline_the_loaded_estimator_predicts_bit_for_bit(tmp_path):
    y = TARGETS["multiclass integers"]
    pipe = fitted(Pipeline([("scale", StandardScaler()), ("clf", BackpropClassifier((4,), max_iter=3, random_state=0))]),
                  X, y)
    path = tmp_path / "clf.npz"
    pipe[-1].save(path)
    again = Pipeline([("scale", pipe[0]), ("clf", BackpropClassifier.load(path))])
    assert np.array_equal(again.predict(X), pipe.predict(X))
    assert np.array_equal(again.predict_proba(X), pipe.predict_proba(X))


def test_feature_names_are_kept(tmp_path):
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(X, columns=["a", "b", "c"])
    reg = fitted(BackpropRegressor((3,), max_iter=2, random_state=0), frame, SCORE)
    reg.save(tmp_path / "reg.npz")
    loaded = BackpropRegressor.load(tmp_path / "reg.npz")
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]
    assert np.array_equal(loaded.predict(frame), reg.predict(frame))


# ------------------------------------------------------------------ from_network
def test_a_network_from_bpcore_load_becomes_an_estimator_again(tmp_path):
    net = bpcore.Network((3, 4, 3), activation="tanh", output_activation="softmax", seed=0)
    net.save(tmp_path / "net.npz")
    clf = BackpropClassifier.from_network(bpcore.load(tmp_path / "net.npz"), ["a", "b", "c"], max_iter=3)
    assert np.array_equal(clf.predict_proba(X), net.predict(X))
    assert list(clf.predict(X)) == [["a", "b", "c"][k] for k in np.argmax(net.predict(X), axis=1)]
    assert clf.get_params()["activation"] == "tanh" and clf.hidden_layer_sizes == (4,)
    binary = BackpropClassifier.from_network(bpcore.Network((3, 2, 1), seed=1), [0, 1])
    assert np.array_equal(binary.predict_proba(X)[:, 1], bpcore.Network((3, 2, 1), seed=1).predict(X)[:, 0])
    reg_net = bpcore.Network((3, 2), output_activation="identity", seed=0)
    reg = BackpropRegressor.from_network(reg_net, warm_start=True, max_iter=2, random_state=0)
    assert reg.network_ is not reg_net and np.array_equal(reg.predict(X), reg_net.predict(X))
    fitted(reg, X, np.column_stack([SCORE, SCORE]))  # continues training from the network
    assert reg.network_ != reg_net


@pytest.mark.parametrize("call,error,message", [
    (lambda: BackpropRegressor.from_network("net"), TypeError, "network must be a bpcore.Network"),
    (lambda: BackpropRegressor.from_network(bpcore.Network((2, 1))), ValueError, "needs identity outputs"),
    (lambda: BackpropClassifier.from_network(bpcore.Network((2, 3), output_activation="softmax"), ["b", "a", "c"]),
     ValueError, "classes must list at least two distinct labels in sorted order"),
    (lambda: BackpropClassifier.from_network(bpcore.Network((2, 2), output_activation="softmax"), ["a", "b"]),
     ValueError, "2 classes need a network with 1 sigmoid output"),
    (lambda: BackpropRegressor.from_network(bpcore.Network((2, 1), output_activation="identity"), alpha=-1),
     ValueError, "alpha must be"),
])
def test_from_network_refuses_what_does_not_fit(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ bad files
@pytest.fixture
def saved(tmp_path):
    clf = fitted(BackpropClassifier((3,), max_iter=2, random_state=0), X, TARGETS["binary strings"])
    path = tmp_path / "clf.npz"
    clf.save(path)
    return path


def rewrite(path, edit):
    """Re-save the file with its estimator state changed by ``edit(state)``."""
    net, metadata = model_io.load_with_metadata(path)
    edit(metadata["sklearn_estimator"])
    model_io.save(net, path, metadata=metadata)


class _MkdirWhenUnpickled:
    def __init__(self, path): self.path = str(path)  # noqa: E704
    def __reduce__(self): return os.mkdir, (self.path,)  # noqa: E704


@pytest.mark.parametrize("edit,message", [
    (lambda s: s.update({"class": "os.system"}), "it holds a 'os.system', not a BackpropClassifier"),
    (lambda s: s["params"].update({"__class__": 1}), "params must be a subset of"),
    (lambda s: s["params"].update({"alpha": -1}), "params are invalid: alpha must be"),
    (lambda s: s["params"].update({"hidden_layer_sizes": [9]}), "do not match its network"),
    (lambda s: s.update({"n_features_in_": 5}), "n_features_in_ is 5 but the network has 3 inputs"),
    (lambda s: s["classes"].update({"values": ["no", "yes", "maybe"]}), "3 classes cannot be a binary target"),
    (lambda s: s["classes"].update({"values": ["no", 1]}), "are not all of dtype"),
    (lambda s: s["classes"].update({"dtype": "nonsense"}), "unknown classes dtype"),
    (lambda s: s["label_binarizer"].update({"y_type_": "continuous"}), "unknown target type"),
    (lambda s: s.update({"loss_curve_": ["x"]}), "loss_curve_ must be a number or null"),
    (lambda s: s.update({"t_": -1}), "t_ must be a whole number"),
])
def test_a_tampered_estimator_file_is_a_model_format_error(saved, edit, message):
    rewrite(saved, edit)
    with pytest.raises(ModelFormatError, match=message):
        BackpropClassifier.load(saved)


def test_loading_never_runs_code(saved, tmp_path):
    marker = tmp_path / "pickle-ran"
    exploit = np.empty(1, dtype=object)
    exploit[0] = _MkdirWhenUnpickled(marker)
    with np.load(saved, allow_pickle=False) as f:
        members = {name: f[name] for name in f.files}
    members["metadata_best_params"] = exploit
    header = json.loads(members["header"].tobytes())
    with open(saved, "wb") as f:
        np.savez(f, **members)
    with pytest.raises(ModelFormatError, match="cannot be read"):
        BackpropClassifier.load(saved)
    saved.write_bytes(b"\x80\x04" + b"\x00" * 20)
    with pytest.raises(ModelFormatError, match="pickle, which bpcore never loads"):
        BackpropClassifier.load(saved)
    assert not marker.exists() and header["format"] == "bpcore-model"


def test_the_wrong_class_or_a_bare_network_is_refused(saved, tmp_path):
    with pytest.raises(ModelFormatError, match="it holds a 'BackpropClassifier', not a BackpropRegressor"):
        BackpropRegressor.load(saved)
    bpcore.Network((3, 1)).save(tmp_path / "net.npz")
    with pytest.raises(ModelFormatError, match="not a saved estimator .*from_network"):
        BackpropClassifier.load(tmp_path / "net.npz")


def test_an_unfitted_estimator_is_not_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        BackpropRegressor().save(tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()
