"""One helper decides the example order (ordering.py); the compiled trainer
draws its permutation in C (bp_random.h) and must get exactly the same one."""

import importlib

import numpy as np
import pytest

import bpcore
from bpcore import _dispatch
from bpcore.ordering import ExampleOrder, permutation


@pytest.mark.parametrize("variant", _dispatch.available_variants())
@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 64, 1000, 4097])
def test_the_c_permutation_equals_the_python_one(variant, n):
    kernels = importlib.import_module(f"bpcore._kernels_{variant}")
    for seed in (0, 1, 2**63 + 12345, 2**64 - 1):
        order = np.empty(n, dtype=np.intp)
        kernels.shuffle_order(order, seed)
        assert np.array_equal(order, permutation(n, seed))


def test_a_permutation_is_one_and_depends_on_the_seed():
    a, b = permutation(500, 1), permutation(500, 2)
    assert sorted(a.tolist()) == list(range(500))
    assert not np.array_equal(a, b)
    assert np.array_equal(a, permutation(500, 1))


def test_every_position_is_uniform():
    # Fisher-Yates with unbiased draws: over many seeds, element 0 lands in each
    # of 5 places equally often (chi-square, 4 degrees of freedom, p ~ 1e-6).
    counts = np.zeros(5)
    for seed in range(5000):
        counts[int(np.flatnonzero(permutation(5, seed) == 0)[0])] += 1
    chi2 = ((counts - 1000) ** 2 / 1000).sum()
    assert chi2 < 33, counts


def test_both_trainers_see_the_same_orders():
    fast = ExampleOrder(50, shuffle=True, seed=3, permute=lambda order, s: order.__setitem__(
        slice(None), permutation(order.shape[0], s)))
    slow = ExampleOrder(50, shuffle=True, seed=3)
    for _ in range(4):
        assert np.array_equal(fast.next_epoch(), slow.next_epoch())


def test_shuffled_training_agrees_between_trainers(assert_params_close):
    rng = np.random.default_rng(0)
    X, T = rng.random((40, 3)), rng.random((40, 2))
    net = bpcore.Network((3, 4, 2), seed=0)
    a, b = net.copy(), net.copy()
    bpcore.train(a, X, T, epochs=3, seed=9)
    bpcore.reference.train(b, X, T, epochs=3, seed=9)
    assert_params_close(a.params_vector(), b.params_vector(), "float64")
    c = net.copy()
    bpcore.train(c, X, T, epochs=3, seed=10)
    assert not np.array_equal(a.params_vector(), c.params_vector())
