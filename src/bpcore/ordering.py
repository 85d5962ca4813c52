"""The one place that decides in which order examples are visited.

Both trainers draw every epoch's order from here, so the same ``seed`` gives
the reference and the compiled trainer the same sequence of examples.

Each epoch draws one 64-bit seed from ``numpy.random.default_rng(seed)``; the
epoch's order is ``permutation(n_examples, epoch_seed)``. The compiled trainer
generates that permutation in C (``shuffle_order`` in the kernels, from
``pyx/bp_random.h``: the same algorithm step for step), which costs a few
nanoseconds per example instead of numpy's ~15; the reference trainer uses the
Python function below. tests/test_ordering.py checks that the two agree.
"""

import numpy as np

__all__ = ["ExampleOrder", "permutation"]

_MASK = (1 << 64) - 1


def _splitmix64(state):
    """splitmix64 (Steele, Lea & Flood 2014): the next state and its output."""
    state = (state + 0x9E3779B97F4A7C15) & _MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return state, z ^ (z >> 31)


def permutation(n, seed):
    """A permutation of ``0 … n-1`` (intp array) drawn from the 64-bit ``seed``:
    Fisher–Yates from the last position down, each index uniform by Lemire's
    multiply-and-reject method (no modulo bias), from splitmix64."""
    order = list(range(n))
    state = seed & _MASK
    for i in range(n - 1, 0, -1):
        bound = i + 1
        state, x = _splitmix64(state)
        m = x * bound
        if (m & _MASK) < bound:
            threshold = (-bound) % bound
            while (m & _MASK) < threshold:
                state, x = _splitmix64(state)
                m = x * bound
        j = m >> 64
        order[i], order[j] = order[j], order[i]
    return np.array(order, dtype=np.intp)


class ExampleOrder:
    """Per-epoch example orders for ``n_examples`` examples.

    ``next_epoch()`` returns an ``intp`` array of shape ``(n_examples,)``: a
    fresh permutation when ``shuffle`` is true, otherwise ``0, 1, …,
    n_examples-1``. The k-th call returns the order of epoch k, whatever
    trainer asks. ``permute(order, epoch_seed)``, when given, fills ``order``
    with ``permutation(len(order), epoch_seed)`` faster (the kernels' C version).
    """

    def __init__(self, n_examples, *, shuffle, seed, permute=None):
        self.n_examples = n_examples
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self._permute = permute
        self._identity = np.arange(n_examples, dtype=np.intp)

    def next_epoch_seed(self):
        """The 64-bit seed of the next epoch's permutation."""
        return int(self._rng.integers(0, 2**64, dtype=np.uint64))

    def next_epoch(self):
        if not self.shuffle:
            return self._identity
        seed = self.next_epoch_seed()
        if self._permute is None:
            return permutation(self.n_examples, seed)
        order = np.empty(self.n_examples, dtype=np.intp)
        self._permute(order, seed)
        return order
