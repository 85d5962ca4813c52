"""The one place that decides in which order examples are visited.

Both trainers draw every epoch's order from here, so the same ``seed`` gives
the reference and the compiled trainer the same sequence of examples.
"""

import numpy as np

__all__ = ["ExampleOrder"]


class ExampleOrder:
    """Per-epoch example orders for ``n_examples`` examples.

    ``next_epoch()`` returns an ``intp`` array of shape ``(n_examples,)``: a
    fresh permutation from ``numpy.random.default_rng(seed)`` when ``shuffle``
    is true, otherwise ``0, 1, …, n_examples-1``. The k-th call returns the
    order of epoch k, whatever trainer asks.
    """

    def __init__(self, n_examples, *, shuffle, seed):
        self.n_examples = n_examples
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self._identity = np.arange(n_examples, dtype=np.intp)

    def next_epoch(self):
        if self.shuffle:
            return self._rng.permutation(self.n_examples).astype(np.intp, copy=False)
        return self._identity
