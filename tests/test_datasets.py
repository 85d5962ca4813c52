"""The embedded digits data and the toy-data generators (bpcore.datasets)."""

import socket
from importlib import resources

import numpy as np
import pytest

import bpcore
from bpcore import datasets

# Images per digit 0-9 in the UCI optdigits test set.
DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
# The first image (a 0), as the file stores it (pixel counts 0-16).
FIRST_IMAGE = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0,
               0, 4, 12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0,
               0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]


# ------------------------------------------------------------------ digits
def test_load_digits_shapes_and_values():
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(X[0] * 16, FIRST_IMAGE)
    assert y[0] == 0
    assert np.bincount(y).tolist() == DIGIT_COUNTS
    # pixel counts are whole numbers 0..16 before scaling
    np.testing.assert_array_equal(X * 16, np.round(X * 16))


def test_load_digits_returns_fresh_arrays():
    X, y = datasets.load_digits()
    X[:] = -1.0
    y[:] = -1
    X2, y2 = datasets.load_digits()
    assert X2.min() == 0.0 and y2.min() == 0


def test_load_digits_never_touches_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("load_digits tried to open a network connection")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    X, _ = datasets.load_digits()
    assert X.shape == (1797, 64)


def test_digits_file_ships_with_its_licence_note():
    data = resources.files("bpcore.datasets") / "data"
    assert (data / "digits.csv.gz").is_file()
    note = (data / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in note and "Alpaydin" in note and "10.24432/C50P49" in note
    assert "CC BY 4.0" in datasets.load_digits.__doc__


def test_digits_are_learnable():
    """A small softmax network separates the held-out digits well: the data
    and labels line up."""
    X, y = datasets.load_digits()
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_fraction=0.25, seed=0)
    net = bpcore.Network((64, 32, 10), output_activation="softmax", init="xavier", seed=0)
    bpcore.train(net, X_train, datasets.one_hot(y_train), learning_rate=0.1, epochs=15,
                 loss="cross_entropy", seed=0)
    accuracy = np.mean(net.predict(X_test).argmax(axis=1) == y_test)
    assert accuracy >= 0.93


# ------------------------------------------------------------------ XOR
def test_make_xor():
    X, T = datasets.make_xor()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(T, [[0], [1], [1], [0]])
    assert X.dtype == T.dtype == np.float64
    np.testing.assert_array_equal(T[:, 0], np.logical_xor(X[:, 0], X[:, 1]))


# ------------------------------------------------------------------ blobs
def test_make_blobs_shapes_and_balance():
    X, y = datasets.make_blobs(50, 4, seed=1)
    assert X.shape == (200, 2) and X.dtype == np.float64
    assert y.shape == (200,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50, 50, 50, 50]
    assert not np.all(np.diff(y) >= 0)  # shuffled, not sorted by class


def test_make_blobs_centres_and_spread():
    X, y = datasets.make_blobs(2000, 3, seed=2, n_features=4, std=0.5)
    angles = 2 * np.pi * np.arange(3) / 3
    expected = np.zeros((3, 4))
    expected[:, 0], expected[:, 1] = 4 * np.cos(angles), 4 * np.sin(angles)
    for c in range(3):
        np.testing.assert_allclose(X[y == c].mean(axis=0), expected[c], atol=0.05)
        np.testing.assert_allclose(X[y == c].std(axis=0), 0.5, atol=0.03)


def test_make_blobs_is_seeded():
    a, b, c = (datasets.make_blobs(10, 3, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_softmax_separates_blobs():
    X, y = datasets.make_blobs(100, 3, seed=0)
    net = bpcore.Network((2, 8, 3), output_activation="softmax", init="xavier", seed=0)
    bpcore.train(net, X, datasets.one_hot(y), learning_rate=0.1, epochs=20, loss="cross_entropy", seed=0)
    assert np.mean(net.predict(X).argmax(axis=1) == y) >= 0.95


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_per_class": 0}, ValueError, "n_per_class"),
        ({"n_classes": 1}, ValueError, "n_classes"),
        ({"n_classes": 2.5}, TypeError, "n_classes"),
        ({"seed": -1}, ValueError, "seed"),
        ({"n_features": 1}, ValueError, "n_features"),
        ({"std": 0}, ValueError, "std"),
    ],
)
def test_make_blobs_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        datasets.make_blobs(**kwargs)


# ------------------------------------------------------------------ one_hot
def test_one_hot():
    T = datasets.one_hot(np.array([2, 0, 1, 2]))
    np.testing.assert_array_equal(T, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert T.dtype == np.float64
    assert datasets.one_hot([1], n_classes=4).tolist() == [[0, 1, 0, 0]]


@pytest.mark.parametrize(
    ("y", "n_classes", "match"),
    [
        ([0.0, 1.0], None, "integer labels"),
        ([[0, 1]], None, "1-D"),
        (["a", "b"], None, "integer labels"),
        ([0, -1], None, "labels must be >= 0"),
        ([0, 3], 3, "n_classes=3 but y holds label 3"),
        ([0, 1], 0, "n_classes"),
    ],
)
def test_one_hot_rejects_bad_labels(y, n_classes, match):
    with pytest.raises(ValueError, match=match):
        datasets.one_hot(y, n_classes)


# ------------------------------------------------------------------ train_test_split
def test_train_test_split_partitions_and_keeps_rows_paired():
    X = np.arange(40.0).reshape(20, 2)
    y = np.arange(20)
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_fraction=0.25, seed=3)
    assert X_train.shape == (15, 2) and X_test.shape == (5, 2)
    assert sorted([*y_train, *y_test]) == list(range(20))
    np.testing.assert_array_equal(X_train[:, 0], 2 * y_train)
    np.testing.assert_array_equal(X_test[:, 0], 2 * y_test)
    again = datasets.train_test_split(X, y, test_fraction=0.25, seed=3)
    np.testing.assert_array_equal(again[3], y_test)


def test_train_test_split_keeps_both_parts_non_empty():
    X, y = np.zeros((3, 1)), np.zeros((3, 2))
    assert datasets.train_test_split(X, y, test_fraction=0.01)[1].shape == (1, 1)
    assert datasets.train_test_split(X, y, test_fraction=0.99)[0].shape == (1, 1)


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "match"),
    [
        (np.zeros((4, 2)), np.zeros(3), {}, "same number of rows"),
        (np.zeros((1, 2)), np.zeros(1), {}, "at least 2 examples"),
        (np.zeros((4, 2)), np.zeros(4), {"test_fraction": 1.0}, "test_fraction"),
        (np.zeros((4, 2)), np.zeros(4), {"test_fraction": 0}, "test_fraction"),
    ],
)
def test_train_test_split_rejects_bad_input(X, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.train_test_split(X, y, **kwargs)
