"""The compiled trainer: the facade over the Cython kernels.

Everything here happens once per call, in Python: checks and conversions
(``_training.prepare``), the example order (``ordering``), buffers for the
options that need them. The kernels then run chunks of examples without the
GIL; between chunks Python gets the chance to deliver Ctrl-C.
"""

import numpy as np

from . import _dispatch, _names, _training

__all__ = ["train", "total_error"]

# Flops per kernel call (about 6 per weight per example): long enough that the
# call costs nothing, short enough (milliseconds) that Ctrl-C is felt at once.
_FLOPS_PER_CHUNK = 100_000_000


class _KernelRunner:
    """Runs epochs on the kernels, in place on the network's parameter buffer."""

    def __init__(self, net, setup):
        opts = setup.options
        self.X, self.T = setup.X, setup.T
        self.params = net._params
        self.sizes = np.asarray(net.layer_sizes, dtype=np.intp)
        self.codes = (_names.ACTIVATION_CODE[net.activation], _names.ACTIVATION_CODE[net.output_activation])
        self.loss = _names.LOSS_CODE[opts["loss"]]
        self.learning_rate = opts["learning_rate"]
        self.momentum = opts["momentum"]
        self.weight_decay = opts["weight_decay"]
        self.max_grad_norm = opts["max_grad_norm"] or 0.0
        # Any batch_size >= n is one batch per epoch (and then fits a C integer).
        self.batch_size = min(opts["batch_size"], self.X.shape[0])
        # The kernels' fused path takes weight decay but no momentum or clipping.
        plain = self.batch_size == 1 and not (self.momentum or opts["max_grad_norm"])
        empty = np.empty(0, dtype=net.dtype)
        self.velocity = np.zeros_like(self.params) if self.momentum else empty
        self.gradient = empty if plain else np.zeros_like(self.params)
        per_example = 6 * self.params.size
        chunk = max(1, _FLOPS_PER_CHUNK // per_example)
        self.chunk = -(-chunk // self.batch_size) * self.batch_size  # whole mini-batches

    def run_epoch(self, order):
        kernels, act, out_act = _dispatch.kernels, *self.codes
        E = 0.0
        for start in range(0, order.shape[0], self.chunk):
            error, status = kernels.train_examples(
                self.params, self.sizes, act, out_act, self.loss, self.X, self.T,
                order[start : start + self.chunk], self.learning_rate, self.momentum,
                self.weight_decay, self.max_grad_norm, self.batch_size, self.velocity, self.gradient,
            )
            if status:  # a non-finite loss: the kernel stopped at that example
                return error
            E += error
        return E

    def error(self, X, T):
        return _dispatch.kernels.error_sum(self.params, self.sizes, *self.codes, self.loss, X, T)

    def snapshot(self):
        return self.params.copy()

    def restore(self, snapshot):
        self.params[...] = snapshot

    def finite(self):
        return bool(np.isfinite(self.params).all())

    def commit(self):
        """Nothing to do: the kernels train the network's own buffer."""

    def reload(self):
        """Nothing to do: the kernels train the network's own buffer, so a
        callback's changes to it are already the current parameters."""


@_training.train_function
def train(
    net,
    X,
    T,
    *,
    learning_rate=0.1,
    epochs=1,
    shuffle=True,
    seed=None,
    momentum=0.0,
    loss="squared_error",
    batch_size=1,
    weight_decay=0.0,
    max_grad_norm=None,
    target_error=None,
    validation=None,
    patience=None,
    restore_best=True,
    callback=None,
    progress=False,
):
    """Train ``net`` in place with backpropagation, on the compiled kernels.

    A drop-in for :func:`bpcore.reference.train`: same signature, same results
    (float64 within 1e-12), many times faster. The kernels release the GIL, so
    other threads (or other networks trained in them) run meanwhile. A
    C-contiguous ``X``/``T`` of the network's dtype is used without a copy.

    The options (defaults, checks and the Parameters section below) are one
    table, ``bpcore._training.OPTIONS``, shared with the reference trainer.
    """
    return _training.fit(_KernelRunner, net, X, T, locals())


train.__module__ = "bpcore"  # documented, pickled and shown by help() as bpcore.train


def total_error(net, X, T, *, loss="squared_error"):
    """E(w) = ½ Σ_d Σ_k (t_kd − o_kd)², eq. (1) of the lecture, for the examples
    ``X`` (n, n_in) with targets ``T`` (n, n_out); with ``loss="cross_entropy"``
    the summed cross-entropy instead."""
    X, T = _training.prepare_error(net, X, T, loss)
    return _dispatch.kernels.error_sum(
        net._params, np.asarray(net.layer_sizes, dtype=np.intp),
        _names.ACTIVATION_CODE[net.activation], _names.ACTIVATION_CODE[net.output_activation],
        _names.LOSS_CODE[loss], X, T,
    )
