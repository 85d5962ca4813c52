"""The compiled trainer: the facade over the Cython kernels, and the only
module that calls them.

Everything here happens once per call, in Python: checks and conversions
(``_training.prepare``), the example order (``ordering``, drawn by the kernels'
own shuffle), buffers for the options that need them, and the one decision of
which kernel path runs (``kernel_options``). The kernels then run chunks of
examples without the GIL; between chunks Python gets the chance to deliver
Ctrl-C.
"""

import numpy as np

from . import _dispatch, _names, _training

__all__ = ["train", "total_error", "predict", "kernel_options"]

# Flops per kernel call (about 6 per weight per example): long enough that the
# call costs nothing, short enough (milliseconds) that Ctrl-C is felt at once.
_FLOPS_PER_CHUNK = 100_000_000


def _kernels():
    """The kernel module chosen for this CPU (looked up per call, so that tests
    can run every built variant)."""
    return _dispatch.kernels


def _sizes(net):
    return np.asarray(net.layer_sizes, dtype=np.intp)


def kernel_options(net, opts, n_examples):
    """The kernels' ``Options`` for training ``net`` with the checked options
    ``opts`` on ``n_examples`` examples: the one place that decides the path.
    A batch size of 1 is the lecture's per-example SGD on the fused path
    (momentum, weight decay and clipping included); anything larger runs as
    mini-batches on the blocked path. Nesterov, Adam and RMSprop run on either
    path in the kernels' general form (``train_per_example_general``,
    ``apply_optimizer``); options missing from ``opts`` take their defaults."""
    # Any batch_size >= n is one batch per epoch (and then fits a C integer).
    batch_size = max(1, min(opts["batch_size"], n_examples))

    def get(name):
        return opts.get(name, _training.TRAIN_DEFAULTS[name])

    path = "example" if batch_size == 1 else "batch"
    return {
        "path": _names.PATH_CODE[path],
        "act": _names.ACTIVATION_CODE[net.activation],
        "out_act": _names.ACTIVATION_CODE[net.output_activation],
        "loss": _names.LOSS_CODE[opts["loss"]],
        "learning_rate": float(opts["learning_rate"]),
        "momentum": float(opts["momentum"]),
        "weight_decay": float(opts["weight_decay"]),
        "max_grad_norm": float(opts["max_grad_norm"] or 0.0),
        "batch_size": batch_size,
        "diagnostics": int(bool(opts.get("diagnostics", False))),
        "optimizer": _names.OPTIMIZER_CODE[get("optimizer")],
        "nesterov": int(bool(get("nesterov"))),
        "beta1": float(get("betas")[0]),
        "beta2": float(get("betas")[1]),
        "eps": float(get("eps")),
        "rho": float(get("rho")),
        "centered": int(bool(get("centered"))),
        "decoupled_weight_decay": int(bool(get("decoupled_weight_decay"))),
    }


class _KernelRunner:
    """Runs epochs on the kernels, in place on the network's parameter buffer
    (the runner protocol of ``_training``)."""

    def __init__(self, net, setup):
        self.X, self.T = setup.X, setup.T
        self.params = net._params
        self.sizes = _sizes(net)
        self.codes = (_names.ACTIVATION_CODE[net.activation], _names.ACTIVATION_CODE[net.output_activation])
        self.options = kernel_options(net, setup.options, self.X.shape[0])
        self.loss = self.options["loss"]
        empty = np.empty(0, dtype=net.dtype)
        self.velocity = np.zeros_like(self.params) if self.options["momentum"] else empty
        batched = self.options["path"] == _names.PATH_CODE["batch"]
        self.gradient = np.zeros_like(self.params) if batched else empty
        self.diagnostics = np.zeros(2 * (len(net.layer_sizes) - 1) if self.options["diagnostics"] else 0)
        # The optimizer's state for this train call, laid out like params (the
        # kernel checks these lengths): Adam [m | v], 2 n; RMSprop [s | a], n or,
        # centred, 2 n; none for SGD (its velocity is ``velocity``). ``steps``
        # holds the step count t.
        optimizer = self.options["optimizer"]
        parts = (2 if optimizer == _names.OPTIMIZER_CODE["adam"]
                 else 1 + self.options["centered"] if optimizer == _names.OPTIMIZER_CODE["rmsprop"]
                 else 0)
        self.moments = np.zeros(parts * self.params.size, dtype=net.dtype) if parts else empty
        self.steps = np.zeros(1, dtype=np.intp)
        batch_size = self.options["batch_size"]
        chunk = max(1, _FLOPS_PER_CHUNK // (6 * self.params.size))
        self.chunk = -(-chunk // batch_size) * batch_size  # whole mini-batches

    def permute(self, order, seed):
        """Fill ``order`` with the epoch's permutation (ordering.permutation, in C)."""
        _kernels().shuffle_order(order, seed)

    def set_learning_rate(self, rate):
        """The kernels take the options per call: the next chunks use ``rate``."""
        self.options["learning_rate"] = float(rate)

    def run_epoch(self, order):
        train_examples = _kernels().train_examples
        E = 0.0
        for start in range(0, order.shape[0], self.chunk):
            error, status = train_examples(
                self.params, self.sizes, self.X, self.T, order[start : start + self.chunk],
                self.options, self.velocity, self.gradient, self.diagnostics, self.moments,
                self.steps,
            )
            if status:  # a non-finite loss: the kernel stopped at that example
                return error
            E += error
        return E

    def error(self, X, T):
        return _kernels().error_sum(self.params, self.sizes, *self.codes, self.loss, X, T)

    def outputs(self, X):
        out = np.empty((X.shape[0], self.sizes[-1]), dtype=self.params.dtype)
        _kernels().forward_batch(self.params, self.sizes, *self.codes, X, out)
        return out

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
    lr_schedule="constant",
    power_t=0.5,
    tol=1e-4,
    n_iter_no_change=10,
    bit_fail_limit=None,
    target_bit_fail=None,
    optimizer="sgd",
    nesterov=False,
    betas=(0.9, 0.999),
    eps=1e-8,
    rho=0.99,
    centered=False,
    decoupled_weight_decay=False,
    target_error=None,
    validation=None,
    patience=None,
    restore_best=True,
    callback=None,
    progress=False,
    diagnostics=False,
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
    return _kernels().error_sum(
        net._params, _sizes(net), _names.ACTIVATION_CODE[net.activation],
        _names.ACTIVATION_CODE[net.output_activation], _names.LOSS_CODE[loss], X, T,
    )


def predict(net, X):
    """Outputs of ``net`` for the checked, C-contiguous ``X`` (n, n_in) of the
    network's dtype, on the blocked forward path (``Network.predict`` checks
    and converts)."""
    out = np.empty((X.shape[0], net.n_outputs), dtype=net.dtype)
    _kernels().forward_batch(
        net._params, _sizes(net), _names.ACTIVATION_CODE[net.activation],
        _names.ACTIVATION_CODE[net.output_activation], X, out,
    )
    return out
