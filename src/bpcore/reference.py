"""The reference trainer: the lecture's BACKPROPAGATION procedure (§5), written
out in plain Python so it can be read line by line against the formulas.

This module is the executable specification of bpcore: the compiled trainer
(``bpcore.train``, kernels in ``pyx/_kernels.pxi``) must agree with it on every
option. It uses lists and ``math`` only; numpy appears only where the network's
arrays are read at the start and written back at the end.

Names follow the lecture: ``net_j``, ``o_j``, ``t_k``, ``delta_k``, ``delta_h``,
``w_ji`` (weight from unit i to unit j), ``x_ji`` (input from unit i to unit j),
``learning_rate`` (η). A network is held as a list of layers ``(W, b)`` where
``W[j][i]`` is w_ji and ``b[j]`` is the bias of unit j.
"""

import math

import numpy as np

from . import _training

__all__ = ["train", "predict", "total_error", "forward", "output_deltas", "hidden_deltas", "update",
           "adam_update", "rmsprop_update"]


# ------------------------------------------------------------------ activations
def sigmoid(net_j):
    """σ(net) = 1 / (1 + e^−net) (§4.1), in a form that cannot overflow."""
    if net_j >= 0:
        return 1.0 / (1.0 + math.exp(-net_j))
    z = math.exp(net_j)
    return z / (1.0 + z)


def activate(net, name):
    """Outputs o_j = f(net_j) of one layer."""
    if name == "softmax":  # o_j = e^net_j / Σ_k e^net_k, shifted by the max to avoid overflow
        top = max(net)
        e = [math.exp(net_j - top) for net_j in net]
        total = sum(e)
        return [e_j / total for e_j in e]
    if name == "sigmoid":
        return [sigmoid(net_j) for net_j in net]
    if name == "tanh":
        return [math.tanh(net_j) for net_j in net]
    if name == "relu":
        return [net_j if net_j > 0.0 else 0.0 for net_j in net]
    return list(net)  # identity


def derivative(o_j, name):
    """f'(net_j), written from the unit's output o_j as the lecture does (§4.2)."""
    if name == "sigmoid":
        return o_j * (1.0 - o_j)
    if name == "tanh":
        return 1.0 - o_j * o_j
    if name == "relu":
        return 1.0 if o_j > 0.0 else 0.0
    return 1.0  # identity


def softplus(z):
    """log(1 + e^z) without overflow."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


# ------------------------------------------------------------------ the three phases
def forward(layers, x, activation, output_activation):
    """Phase 1, the forward pass (§6.1.1): for every layer, left to right,
    net_j = Σ_i w_ji x_i + b_j and o_j = f(net_j).

    Returns ``(nets, outputs)``: ``nets[l]`` are the net inputs of layer l+1 and
    ``outputs[l]`` the outputs of layer l (``outputs[0]`` is the input x)."""
    nets, outputs = [], [list(x)]
    last = len(layers) - 1
    for l, (W, b) in enumerate(layers):
        x_i = outputs[l]
        net = [sum(w_ji * x for w_ji, x in zip(w_j, x_i)) + b_j for w_j, b_j in zip(W, b)]
        nets.append(net)
        outputs.append(activate(net, output_activation if l == last else activation))
    return nets, outputs


def example_error(net_k, o_k, t_k, loss, output_activation):
    """The loss of one example. Squared error: E_d = ½ Σ_k (t_k − o_k)² (§6.1.2).
    Cross-entropy, from the net inputs so that it never takes log(0):
    sigmoid outputs −Σ_k [t log o + (1−t) log(1−o)] = Σ_k softplus(net_k) − t_k net_k;
    softmax outputs −Σ_k t_k log o_k = Σ_k t_k (logsumexp(net) − net_k)."""
    if loss == "squared_error":
        return 0.5 * sum((t - o) * (t - o) for t, o in zip(t_k, o_k))
    if output_activation == "sigmoid":
        return sum(softplus(n) - t * n for n, t in zip(net_k, t_k))
    top = max(net_k)
    logsumexp = top + math.log(sum(math.exp(n - top) for n in net_k))
    return sum(t * (logsumexp - n) for n, t in zip(net_k, t_k))


def output_deltas(o_k, t_k, loss, output_activation):
    """Phase 2a (§6.1.3, §8.3): δ_k = −∂E_d/∂net_k for each output unit k.
    Squared error: δ_k = f'(o_k)(t_k − o_k), for sigmoid o_k(1 − o_k)(t_k − o_k).
    Cross-entropy with sigmoid or softmax outputs: δ_k = t_k − o_k."""
    if loss == "squared_error":
        return [derivative(o, output_activation) * (t - o) for o, t in zip(o_k, t_k)]
    return [t - o for o, t in zip(o_k, t_k)]


def hidden_deltas(o_h, W_next, delta_k, activation):
    """Phase 2b (§6.1.3, §8.4): δ_h = f'(o_h) Σ_k w_kh δ_k for each unit h of a hidden
    layer, where k runs over the next layer and w_kh are its (old) weights."""
    return [
        derivative(o, activation) * sum(W_next[k][h] * delta_k[k] for k in range(len(delta_k)))
        for h, o in enumerate(o_h)
    ]


def backward(layers, outputs, t, loss, activation, output_activation):
    """All deltas, output layer first, computed with the current weights:
    ``deltas[l]`` belongs to layer l+1 (the units that ``layers[l]`` feeds)."""
    deltas = [output_deltas(outputs[-1], t, loss, output_activation)]
    for l in range(len(layers) - 1, 0, -1):
        deltas.insert(0, hidden_deltas(outputs[l], layers[l][0], deltas[0], activation))
    return deltas


def clip_scale(gradient, max_grad_norm):
    """The factor that clipping applies to the step's gradient: max_grad_norm / ‖g‖
    when the Euclidean norm of the whole gradient (all weights and biases) exceeds
    max_grad_norm, else 1. Every optimizer clips first."""
    if max_grad_norm is None:
        return 1.0
    norm = math.sqrt(sum(g * g for gW, gb in gradient for g_j in gW for g in g_j)
                     + sum(g * g for gW, gb in gradient for g in gb))
    return max_grad_norm / norm if norm > max_grad_norm else 1.0


def update(layers, changes, gradient, learning_rate, momentum, weight_decay, max_grad_norm,
           nesterov=False):
    """Phase 3, the update (§6.1.4), returning the new ``(layers, changes)``: SGD.

    ``gradient`` holds g_ji = δ_j x_ji (and g_j = δ_j for biases), averaged over the
    mini-batch; with ``max_grad_norm`` it is first scaled down to that Euclidean
    norm (:func:`clip_scale`). Then, with ``changes`` the previous step's Δ (for
    momentum α):

        Δw_ji = η (g_ji − λ w_ji) + α Δw_ji(n−1),   w_ji ← w_ji + Δw_ji
        Δb_j  = η g_j + α Δb_j(n−1),                b_j ← b_j + Δb_j

    which for the lecture's defaults (α = λ = 0, no clipping) is w_ji ← w_ji + η δ_j x_ji.
    With ``nesterov`` the velocity v(n) = Δ(n) is the same, and the step applied
    looks ahead along it: w_ji ← w_ji + (α v_ji(n) + η (g_ji − λ w_ji)).
    """
    scale = clip_scale(gradient, max_grad_norm)
    new_layers, new_changes = [], []
    for (W, b), (dW, db), (gW, gb) in zip(layers, changes, gradient):
        if nesterov:
            W, dW = _transpose_rows(
                [sgd_step(w_ji, d_ji, scale * g_ji, learning_rate, momentum, weight_decay)
                 for w_ji, d_ji, g_ji in zip(w_j, d_j, g_j)]
                for w_j, d_j, g_j in zip(W, dW, gW))
            b, db = _transpose([sgd_step(b_j, d_j, scale * g_j, learning_rate, momentum, 0.0)
                                for b_j, d_j, g_j in zip(b, db, gb)])
            new_layers.append((W, b))
            new_changes.append((dW, db))
            continue
        dW = [
            [learning_rate * (scale * g_ji - weight_decay * w_ji) + momentum * d_ji
             for w_ji, d_ji, g_ji in zip(w_j, d_j, g_j)]
            for w_j, d_j, g_j in zip(W, dW, gW)
        ]
        db = [learning_rate * (scale * g_j) + momentum * d_j for d_j, g_j in zip(db, gb)]
        W = [[w_ji + d_ji for w_ji, d_ji in zip(w_j, d_j)] for w_j, d_j in zip(W, dW)]
        b = [b_j + d_j for b_j, d_j in zip(b, db)]
        new_layers.append((W, b))
        new_changes.append((dW, db))
    return new_layers, new_changes


def sgd_step(w, v, g, learning_rate, momentum, weight_decay):
    """One parameter's Nesterov step (``update`` with ``nesterov``; the kernels'
    bp_sgd_step): c = η (g − λ w), v(n) = c + α v(n−1), w ← w + (α v(n) + c).
    Returns ``(w, v)``. While η is constant this is PyTorch's
    ``SGD(nesterov=True)`` with its buffer = −v/η."""
    c = learning_rate * (g - weight_decay * w) if weight_decay else learning_rate * g
    v = c + momentum * v
    return w + (momentum * v + c), v


# ------------------------------------------------------------------ Adam and RMSprop
# Written term by term as torch.optim's _single_tensor_adam / _single_tensor_rmsprop
# (PyTorch 2.x, foreach=False), so that they round alike; the kernels' bp_adam_step
# and bp_rmsprop_step (pyx/bp_optim_impl.h) have the same order of operations.
# G is PyTorch's gradient ∂E/∂w: bpcore's g = δ x is −∂E/∂w, so G = −(scale · g),
# an exact negation. Weight decay λ applies to the weights only (biases: 0).


def lerp(start, end, weight):
    """torch.lerp of one element: start + weight (end − start) for |weight| < 0.5,
    else end − (end − start)(1 − weight)."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def _sqrt(x):
    """√x, NaN for x < 0 (as C's sqrt; rounding can make RMSprop's centred
    s − a² slightly negative, which then diverges in both trainers)."""
    return math.sqrt(x) if x >= 0 else math.nan


def adam_update(layers, state, gradient, learning_rate, betas, eps, weight_decay,
                decoupled_weight_decay, max_grad_norm):
    """Phase 3 with Adam (Kingma & Ba), or AdamW with ``decoupled_weight_decay``;
    returns the new ``(layers, state)``, state = ``(t, m, v)`` (step count, first and
    second moments, laid out like ``layers``). For each parameter, with the
    step t counted from 1:

        AdamW: w ← w (1 − η λ)          Adam: G ← G + λ w
        m ← lerp(m, G, 1 − β1)                      (= β1 m + (1 − β1) G)
        v ← v β2 + ((1 − β2) G) G
        denom = √v / (1 − β2^t)^0.5 + ε
        w ← w + (−(η / (1 − β1^t)) m) / denom
    """
    scale = clip_scale(gradient, max_grad_norm)
    t, M, V = state
    t += 1
    beta1, beta2 = betas
    bias_correction1 = 1 - beta1 ** float(t)
    bias_correction2 = 1 - beta2 ** float(t)
    step_size = learning_rate / bias_correction1
    bias_correction2_sqrt = bias_correction2 ** 0.5
    weight = 1 - beta1
    shrink = 1 - learning_rate * weight_decay

    def step(w, m, v, g, decay):
        G = -(scale * g)
        if decay:
            if decoupled_weight_decay:
                w = w * shrink
            else:
                G = G + decay * w
        m = lerp(m, G, weight)
        v = v * beta2 + ((1 - beta2) * G) * G
        denom = _sqrt(v) / bias_correction2_sqrt + eps
        return w + (-step_size * m) / denom, m, v

    layers, M, V = _each_parameter(step, weight_decay, layers, M, V, gradient)
    return layers, (t, M, V)


def rmsprop_update(layers, state, gradient, learning_rate, rho, eps, momentum, centered,
                   weight_decay, max_grad_norm):
    """Phase 3 with RMSprop (PyTorch's, ``alpha`` = ρ); returns the new
    ``(layers, state)``, state = ``(t, s, a, b)`` (step count, square average,
    gradient average, momentum buffer, laid out like ``layers``). For each
    parameter (λ coupled, as in PyTorch):

        G ← G + λ w
        s ← s ρ + ((1 − ρ) G) G
        centred: a ← lerp(a, G, 1 − ρ),  avg = √(s − a a) + ε;   else avg = √s + ε
        momentum μ > 0: b ← b μ + G / avg,  w ← w + (−η) b;   else w ← w + ((−η) G) / avg
    """
    scale = clip_scale(gradient, max_grad_norm)
    t, S, A, B = state
    weight = 1 - rho

    def step(w, s, a, b, g, decay):
        G = -(scale * g)
        if decay:
            G = G + decay * w
        s = s * rho + ((1 - rho) * G) * G
        if centered:
            a = lerp(a, G, weight)
            avg = _sqrt(s + (-a) * a)
        else:
            avg = _sqrt(s)
        avg = avg + eps
        if momentum > 0:
            b = b * momentum + G / avg
            return w + -learning_rate * b, s, a, b
        return w + (-learning_rate * G) / avg, s, a, b

    layers, S, A, B = _each_parameter(step, weight_decay, layers, S, A, B, gradient)
    return layers, (t + 1, S, A, B)


def optimizer_step(layers, state, gradient, opts):
    """Phase 3 with the optimizer of ``opts`` (the checked options of ``train``):
    the new ``(layers, state)``. The state lives for one ``train`` call."""
    optimizer = opts["optimizer"]
    if optimizer == "adam":
        return adam_update(layers, state, gradient, opts["learning_rate"], opts["betas"],
                           opts["eps"], opts["weight_decay"], opts["decoupled_weight_decay"],
                           opts["max_grad_norm"])
    if optimizer == "rmsprop":
        return rmsprop_update(layers, state, gradient, opts["learning_rate"], opts["rho"],
                              opts["eps"], opts["momentum"], opts["centered"],
                              opts["weight_decay"], opts["max_grad_norm"])
    return update(layers, state, gradient, opts["learning_rate"], opts["momentum"],
                  opts["weight_decay"], opts["max_grad_norm"], opts["nesterov"])


def initial_state(layers, optimizer):
    """The optimizer's state at the start of ``train``: zeros (and step 0)."""
    if optimizer == "adam":
        return (0, _zeros_like(layers), _zeros_like(layers))
    if optimizer == "rmsprop":
        return (0, _zeros_like(layers), _zeros_like(layers), _zeros_like(layers))
    return _zeros_like(layers)  # SGD: the previous step Δ (momentum)


def _each_parameter(step, weight_decay, layers, *buffers):
    """Apply ``step(w, *state, g, decay)`` -> ``(w, *state)`` to every parameter,
    weights with decay = λ, biases with 0; ``buffers`` (state, then the gradient)
    are laid out like ``layers``. Returns the new layers and state buffers."""
    results = []
    for l, (W, b) in enumerate(layers):
        rows = [[step(w, *values, weight_decay) for w, *values in
                 zip(w_j, *(buffer[l][0][j] for buffer in buffers))] for j, w_j in enumerate(W)]
        biases = [step(b_j, *values, 0.0) for b_j, *values in
                  zip(b, *(buffer[l][1] for buffer in buffers))]
        results.append((rows, biases))
    count = len(buffers)  # the new w and the state buffers (the gradient is not returned)
    return [[([[r[q] for r in row] for row in rows], [r[q] for r in biases])
             for rows, biases in results] for q in range(count)]


def _transpose(pairs):
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _transpose_rows(rows):
    W, V = [], []
    for row in rows:
        w, v = _transpose(row)
        W.append(w)
        V.append(v)
    return W, V


# ------------------------------------------------------------------ the network's arrays
def _read_layers(net):
    return [(W.tolist(), b.tolist()) for W, b in zip(net.weights, net.biases)]


def _zeros_like(layers):
    return [([[0.0] * len(w_j) for w_j in W], [0.0] * len(b)) for W, b in layers]


def _all_within(layers, limit):
    """Every parameter finite and representable in the network's dtype
    (|v| <= limit): a float32 network cannot hold 1e39."""
    return all(abs(v) <= limit for W, b in layers for v in [*b, *(w for w_j in W for w in w_j)])


class _ReferenceRunner:
    """Runs epochs with the functions above on Python lists (see ``_training``)."""

    def __init__(self, net, setup):
        self.net = net
        # A copy: set_learning_rate writes each epoch's η into it, as the
        # compiled runner does into its kernel options.
        self.options = dict(setup.options)
        self.X, self.T = setup.X.tolist(), setup.T.tolist()
        self.activation, self.output_activation = net.activation, net.output_activation
        # (layers, changes) replaced as one object after every step, so an interrupt
        # leaves either the state before a step or the state after it.
        layers = _read_layers(net)
        self.state = (layers, initial_state(layers, self.options["optimizer"]))
        # With diagnostics: per epoch, Σ_d ‖δ_l‖²·‖x_l‖² per weight layer, then the
        # saturated outputs per hidden layer (``_training.record_diagnostics``).
        self.diagnostics = [0.0] * (2 * len(layers)) if self.options["diagnostics"] else None
        self.saturated = _training.SATURATED[self.activation]

    def set_learning_rate(self, rate):
        """η of the next epoch (lr_schedule)."""
        self.options["learning_rate"] = rate

    def run_epoch(self, order):
        opts = self.options
        loss, batch_size = opts["loss"], opts["batch_size"]
        E = 0.0
        order = order.tolist()
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            layers, changes = self.state
            gradient = _zeros_like(layers)
            for d in batch:
                x, t = self.X[d], self.T[d]
                nets, outputs = forward(layers, x, self.activation, self.output_activation)
                E += example_error(nets[-1], outputs[-1], t, loss, self.output_activation)
                deltas = backward(layers, outputs, t, loss, self.activation, self.output_activation)
                if self.diagnostics is not None:
                    self._add_diagnostics(deltas, outputs)
                for (gW, gb), delta_j, x_ji in zip(gradient, deltas, outputs):
                    for j, d_j in enumerate(delta_j):
                        gb[j] += d_j
                        g_j = gW[j]
                        for i, x in enumerate(x_ji):
                            g_j[i] += d_j * x
            if len(batch) > 1:
                gradient = [([[g / len(batch) for g in g_j] for g_j in gW], [g / len(batch) for g in gb])
                            for gW, gb in gradient]
            self.state = optimizer_step(layers, changes, gradient, opts)
        return E

    def _add_diagnostics(self, deltas, outputs):
        """One example's share of the diagnostics: the weight gradient of layer l
        is the outer product δ_l x_lᵀ, whose Euclidean norm is ‖δ_l‖·‖x_l‖."""
        L = len(deltas)
        for l, (delta_j, x_ji) in enumerate(zip(deltas, outputs)):
            self.diagnostics[l] += sum(d * d for d in delta_j) * sum(x * x for x in x_ji)
        for l in range(L - 1):
            self.diagnostics[L + l] += sum(1 for o in outputs[l + 1] if self.saturated(o))

    def error(self, X, T):
        return _summed_error(self.state[0], X.tolist(), T.tolist(), self.options["loss"],
                             self.activation, self.output_activation)

    def outputs(self, X):
        """The outputs o_k of :func:`forward` for every row of ``X`` (a list of lists)."""
        layers = self.state[0]
        return [forward(layers, x, self.activation, self.output_activation)[1][-1] for x in X.tolist()]

    def snapshot(self):
        return self.state

    def restore(self, snapshot):
        self.state = snapshot

    def finite(self):
        return _all_within(self.state[0], float(np.finfo(self.net.dtype).max))

    def commit(self):
        # Into the buffer itself (not net.weights, which may hold an array a
        # callback put there and the network refused), in its layout.
        self.net._params[...] = [v for W, b in self.state[0] for v in (*(w for w_j in W for w in w_j), *b)]

    def reload(self):
        """The network's weights (a callback may have changed them) become the
        current ones; the optimizer's state (momentum, moments) is kept."""
        self.state = (_read_layers(self.net), self.state[1])


def _summed_error(layers, X, T, loss, activation, output_activation):
    E = 0.0
    for x, t in zip(X, T):
        nets, outputs = forward(layers, x, activation, output_activation)
        E += example_error(nets[-1], outputs[-1], t, loss, output_activation)
    return E


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
    """Train ``net`` in place with the reference (pure-Python) backpropagation.

    Same signature and results as the compiled ``bpcore.train``, many times slower:
    use it to read, check or trace the algorithm. One epoch is
    ``_ReferenceRunner.run_epoch`` above; the loop around it, the checks and the
    options (the table ``bpcore._training.OPTIONS``) are shared with ``bpcore.train``.
    """
    return _training.fit(_ReferenceRunner, net, X, T, locals())


def predict(net, X):
    """Outputs of ``net`` for ``X`` of shape (n, n_in), computed by :func:`forward`."""
    from ._validation import as_float_matrix

    X = as_float_matrix(X, np.float64, n_columns=net.n_inputs)
    net._sync()
    layers = _read_layers(net)
    return np.array(
        [forward(layers, x, net.activation, net.output_activation)[1][-1] for x in X.tolist()],
        dtype=net.dtype,
    )


def total_error(net, X, T, *, loss="squared_error"):
    """E(w) = ½ Σ_d Σ_k (t_kd − o_kd)², eq. (1), computed by :func:`forward`
    (or the summed cross-entropy with ``loss="cross_entropy"``)."""
    X, T = _training.prepare_error(net, X, T, loss, np.float64)
    return _summed_error(_read_layers(net), X.tolist(), T.tolist(), loss, net.activation,
                         net.output_activation)
