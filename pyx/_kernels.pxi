# The compiled trainer's kernels: the lecture's forward pass, deltas and
# updates (§5, §6.1) over one contiguous parameter buffer, for float32 and
# float64 (fused type ``floating``), with no Python object, allocation or GIL
# inside the loop over examples.
#
# This file is included by each per-instruction-set module (_kernels_base.pyx,
# _kernels_avx2.pyx, _kernels_avx512.pyx): one source, compiled with different
# flags by setup.py, chosen at import by bpcore._dispatch.
#
# The kernels trust their inputs: shapes, dtypes, contiguity, finiteness and
# option ranges are checked once by the Python facade (bpcore._training and
# bpcore._validation) before anything reaches them.
#
# The formulas and names match bpcore/reference.py, function by function:
#   forward_example   <-> reference.forward        (Phase 1, §6.1.1)
#   output_deltas     <-> reference.output_deltas  (Phase 2a, §6.1.3, §8.3)
#   hidden_deltas     <-> reference.hidden_deltas  (Phase 2b, §6.1.3, §8.4)
#   apply_gradient    <-> reference.update         (Phase 3, §6.1.4)
#   example_error     <-> reference.example_error  (§3.2 eq. (1), §6.1.2)
#
# Parameter buffer ``p`` (length sum_l n_out_l * (n_in_l + 1)), per layer l:
#   [ W_l (n_out_l x n_in_l, row-major; W_l[j*n_in + i] is w_ji) | b_l (n_out_l) ]

from libc.math cimport exp, tanh, tanhf, log, log1p, sqrt, fabs, isfinite
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

ctypedef fused floating:
    float
    double

# Codes shared with bpcore._names.ACTIVATION_CODE / LOSS_CODE.
cdef enum:
    ACT_IDENTITY = 0
    ACT_SIGMOID = 1
    ACT_TANH = 2
    ACT_RELU = 3
    ACT_SOFTMAX = 4
    LOSS_SQUARED = 0
    LOSS_CROSS_ENTROPY = 1

# Kernel status, read by the facade after the nogil block.
cdef enum:
    STATUS_OK = 0
    STATUS_NONFINITE = 1
    STATUS_NO_MEMORY = 2
    STATUS_BAD_SHAPE = 3


cdef extern from "bp_linalg.h" nogil:
    # Dense primitives with restrict-qualified pointers (see bp_linalg.h for why C).
    void bp_matvec_d(Py_ssize_t, Py_ssize_t, const double*, const double*, const double*, double*)
    void bp_matvec_f(Py_ssize_t, Py_ssize_t, const float*, const float*, const float*, float*)
    void bp_backprop_update_d(Py_ssize_t, Py_ssize_t, double*, double*, const double*, const double*,
                              double, double, double*)
    void bp_backprop_update_f(Py_ssize_t, Py_ssize_t, float*, float*, const float*, const float*,
                              float, float, float*)
    void bp_update_matvec_d(Py_ssize_t, Py_ssize_t, double*, double*, const double*, const double*,
                            double, double, const double*, double*)
    void bp_update_matvec_f(Py_ssize_t, Py_ssize_t, float*, float*, const float*, const float*,
                            float, float, const float*, float*)
    void bp_update_d(Py_ssize_t, Py_ssize_t, double*, double*, const double*, const double*, double,
                     double)
    void bp_update_f(Py_ssize_t, Py_ssize_t, float*, float*, const float*, const float*, float, float)


cdef inline void matvec(Py_ssize_t n_out, Py_ssize_t n_in, const floating* W, const floating* x,
                        const floating* b, floating* net) noexcept nogil:
    # net_j = Σ_i w_ji x_i + b_j for every unit j of a layer
    if floating is double:
        bp_matvec_d(n_out, n_in, W, x, b, net)
    else:
        bp_matvec_f(n_out, n_in, W, x, b, net)


cdef inline void backprop_update_layer(Py_ssize_t n_out, Py_ssize_t n_in, floating* W, floating* b,
                                       const floating* x_ji, const floating* delta_j,
                                       floating learning_rate, floating keep,
                                       floating* back) noexcept nogil:
    # back_i = Σ_j w_ji δ_j (old weights), then w_ji ← keep w_ji + η δ_j x_ji and
    # b_j += η δ_j, where keep = 1 − η λ (weight decay λ; keep = 1 exactly without)
    if floating is double:
        bp_backprop_update_d(n_out, n_in, W, b, x_ji, delta_j, learning_rate, keep, back)
    else:
        bp_backprop_update_f(n_out, n_in, W, b, x_ji, delta_j, learning_rate, keep, back)


cdef inline void update_layer(Py_ssize_t n_out, Py_ssize_t n_in, floating* W, floating* b,
                              const floating* x_ji, const floating* delta_j,
                              floating learning_rate, floating keep, const floating* x_next,
                              floating* net_next) noexcept nogil:
    # w_ji ← keep w_ji + η δ_j x_ji and b_j += η δ_j; with x_next, also the next
    # example's net_j = Σ_i w_ji x_next_i + b_j in the same pass over W
    if x_next == NULL:
        if floating is double:
            bp_update_d(n_out, n_in, W, b, x_ji, delta_j, learning_rate, keep)
        else:
            bp_update_f(n_out, n_in, W, b, x_ji, delta_j, learning_rate, keep)
    elif floating is double:
        bp_update_matvec_d(n_out, n_in, W, b, x_ji, delta_j, learning_rate, keep, x_next, net_next)
    else:
        bp_update_matvec_f(n_out, n_in, W, b, x_ji, delta_j, learning_rate, keep, x_next, net_next)


cdef struct Shape:
    # The network's geometry, computed once per call from ``sizes``.
    Py_ssize_t n_layers       # weight layers L (= len(sizes) - 1)
    const Py_ssize_t* sizes   # units per layer, sizes[0] = inputs ... sizes[L] = outputs
    Py_ssize_t* w_off         # w_off[l]: offset of W_l in p (b_l follows at w_off[l] + n_out*n_in)
    Py_ssize_t* u_off         # u_off[l]: offset of layer l+1's units in the outs/deltas scratch
    Py_ssize_t n_units        # sum(sizes[1:]): length of outs and deltas
    Py_ssize_t widest         # max(sizes): length of the ``back`` scratch
    int act                   # hidden activation code
    int out_act               # output activation code
    int loss                  # loss code


cdef int shape_init(Shape* s, const Py_ssize_t* sizes, Py_ssize_t n_sizes, Py_ssize_t n_params,
                    int act, int out_act, int loss) noexcept nogil:
    cdef Py_ssize_t l, w, u
    if n_sizes < 2:
        return STATUS_BAD_SHAPE
    s.n_layers = n_sizes - 1
    s.sizes = sizes
    s.act, s.out_act, s.loss = act, out_act, loss
    s.w_off = <Py_ssize_t*> malloc(2 * s.n_layers * sizeof(Py_ssize_t))
    if s.w_off == NULL:
        return STATUS_NO_MEMORY
    s.u_off = s.w_off + s.n_layers
    w = 0
    u = 0
    s.widest = sizes[0]
    for l in range(s.n_layers + 1):
        if sizes[l] < 1:
            free(s.w_off)
            return STATUS_BAD_SHAPE
    for l in range(s.n_layers):
        s.w_off[l] = w
        s.u_off[l] = u
        w += sizes[l + 1] * (sizes[l] + 1)
        u += sizes[l + 1]
        if sizes[l + 1] > s.widest:
            s.widest = sizes[l + 1]
    s.n_units = u
    # Walking the layer offsets must use exactly the whole parameter buffer.
    if w != n_params:
        free(s.w_off)
        return STATUS_BAD_SHAPE
    return STATUS_OK


# ------------------------------------------------------------------ scalar math
cdef extern from "bp_exp.h" nogil:
    double bp_exp_d(double)
    float bp_exp_f(float)


cdef inline floating f_exp(floating z) noexcept nogil:
    # e^z, vectorisable (see bp_exp.h)
    if floating is float:
        return bp_exp_f(z)
    else:
        return bp_exp_d(z)


cdef inline floating sigmoid(floating net_j) noexcept nogil:
    # σ(net) = 1 / (1 + e^-net) (§4.1). For net < -709 (double) e^-net is +inf and
    # σ is exactly 0: no trap, no warning, and no branch to mispredict.
    return 1 / (1 + f_exp(-net_j))


cdef inline double softplus(double z) noexcept nogil:
    # log(1 + e^z) without overflow.
    return (z if z > 0 else 0.0) + log1p(exp(-fabs(z)))


cdef inline void activate(floating* o, Py_ssize_t n, int act) noexcept nogil:
    # Outputs o_j = f(net_j) of one layer, in place over its net inputs.
    cdef Py_ssize_t j
    cdef floating top, total
    if act == ACT_SIGMOID:
        for j in range(n):
            o[j] = sigmoid(o[j])
    elif act == ACT_TANH:
        for j in range(n):
            if floating is float:
                o[j] = tanhf(o[j])
            else:
                o[j] = tanh(o[j])
    elif act == ACT_RELU:
        for j in range(n):
            if not o[j] > 0:
                o[j] = 0
    elif act == ACT_SOFTMAX:
        # o_j = e^net_j / Σ_k e^net_k, shifted by the max to avoid overflow
        top = o[0]
        for j in range(1, n):
            if o[j] > top:
                top = o[j]
        total = 0
        for j in range(n):
            o[j] = f_exp(o[j] - top)
            total = total + o[j]
        for j in range(n):
            o[j] = o[j] / total


cdef inline void times_derivative(floating* delta, const floating* o, const floating* back,
                                  Py_ssize_t n, int act) noexcept nogil:
    # δ_j = f'(net_j) · back_j, with f' written from the output o_j as the lecture
    # does (§4.2): sigmoid o(1 − o), tanh 1 − o², relu [o > 0], identity 1.
    cdef Py_ssize_t j
    if act == ACT_SIGMOID:
        for j in range(n):
            delta[j] = o[j] * (1 - o[j]) * back[j]
    elif act == ACT_TANH:
        for j in range(n):
            delta[j] = (1 - o[j] * o[j]) * back[j]
    elif act == ACT_RELU:
        for j in range(n):
            delta[j] = back[j] if o[j] > 0 else 0
    else:
        for j in range(n):
            delta[j] = back[j]


# ------------------------------------------------------------------ the phases
cdef inline void forward_example(const Shape* s, const floating* p, const floating* x,
                                 floating* outs, floating* net_k, bint first_layer_done) noexcept nogil:
    # Phase 1 (§6.1.1): for every layer, net_j = Σ_i w_ji x_i + b_j, o_j = f(net_j).
    # Result: outs[u_off[l] : u_off[l] + sizes[l+1]] holds layer l+1's outputs, and
    # net_k (n_out) the output layer's net inputs (for the cross-entropy error).
    # With first_layer_done, the first layer's net inputs are already in outs
    # (computed by the previous example's fused update, see update_layer).
    cdef Py_ssize_t l, j, n_in, n_out
    cdef const floating* x_i = x
    cdef const floating* W
    cdef floating* o
    for l in range(s.n_layers):
        n_in = s.sizes[l]
        n_out = s.sizes[l + 1]
        W = p + s.w_off[l]
        o = outs + s.u_off[l]
        if l > 0 or not first_layer_done:
            matvec(n_out, n_in, W, x_i, W + n_out * n_in, o)
        if l == s.n_layers - 1:
            for j in range(n_out):
                net_k[j] = o[j]
            activate(o, n_out, s.out_act)
        else:
            activate(o, n_out, s.act)
        x_i = o


cdef inline double example_error(const Shape* s, const floating* net_k, const floating* o_k,
                                 const floating* t_k) noexcept nogil:
    # The loss of one example. Squared error E_d = ½ Σ_k (t_k − o_k)² (§6.1.2);
    # cross-entropy from the net inputs (never log 0): sigmoid Σ_k softplus(net_k) − t_k net_k,
    # softmax Σ_k t_k (logsumexp(net) − net_k).
    cdef Py_ssize_t k, n_out = s.sizes[s.n_layers]
    cdef double E = 0, top, total, diff
    if s.loss == LOSS_SQUARED:
        for k in range(n_out):
            diff = <double> t_k[k] - <double> o_k[k]
            E += diff * diff
        return 0.5 * E
    if s.out_act == ACT_SIGMOID:
        for k in range(n_out):
            E += softplus(net_k[k]) - <double> t_k[k] * <double> net_k[k]
        return E
    top = net_k[0]
    for k in range(1, n_out):
        if net_k[k] > top:
            top = net_k[k]
    total = 0
    for k in range(n_out):
        total += exp(<double> net_k[k] - top)
    top = top + log(total)   # logsumexp(net)
    for k in range(n_out):
        E += <double> t_k[k] * (top - <double> net_k[k])
    return E


cdef inline void output_deltas(const Shape* s, const floating* o_k, const floating* t_k,
                               floating* delta_k, floating* back) noexcept nogil:
    # Phase 2a (§6.1.3, §8.3): δ_k = f'(o_k)(t_k − o_k) for squared error,
    # δ_k = t_k − o_k for cross-entropy with sigmoid or softmax outputs.
    cdef Py_ssize_t k, n_out = s.sizes[s.n_layers]
    if s.loss == LOSS_SQUARED:
        for k in range(n_out):
            back[k] = t_k[k] - o_k[k]
        times_derivative(delta_k, o_k, back, n_out, s.out_act)
    else:
        for k in range(n_out):
            delta_k[k] = t_k[k] - o_k[k]


cdef inline void hidden_deltas(const floating* o_h, const floating* W_next, const floating* delta_k,
                               Py_ssize_t n_h, Py_ssize_t n_k, int act,
                               floating* back, floating* delta_h) noexcept nogil:
    # Phase 2b (§6.1.3, §8.4): δ_h = f'(o_h) Σ_k w_kh δ_k, with the next layer's
    # (old) weights W_next (n_k x n_h). The sum runs row by row of W_next
    # (back_h += w_kh δ_k), so the inner loop is contiguous.
    cdef Py_ssize_t k, h
    cdef const floating* w_k
    cdef floating d
    for h in range(n_h):
        back[h] = 0
    for k in range(n_k):
        w_k = W_next + k * n_h
        d = delta_k[k]
        for h in range(n_h):
            back[h] = back[h] + w_k[h] * d
    times_derivative(delta_h, o_h, back, n_h, act)


cdef inline void backprop_update(const Shape* s, floating* p, const floating* x,
                                 floating* outs, floating* deltas, floating* back,
                                 floating learning_rate, floating keep,
                                 const floating* x_next) noexcept nogil:
    # Phases 2b and 3 fused for the lecture's plain rule (batch 1, no momentum or
    # clipping; weight decay through keep = 1 − η λ), output deltas already in
    # ``deltas``. Going down the layers, each W_l is read once to propagate δ with
    # the old weights and to apply w_ji ← keep w_ji + η δ_j x_ji, b_j ← b_j + η δ_j;
    # then δ_h = f'(o_h) back_h.
    # The first layer's update also computes the next example's (x_next's)
    # first-layer net inputs into outs, unless x_next is NULL.
    cdef Py_ssize_t l, n_in, n_out
    cdef floating* W
    for l in range(s.n_layers - 1, 0, -1):
        n_in = s.sizes[l]
        n_out = s.sizes[l + 1]
        W = p + s.w_off[l]
        backprop_update_layer(n_out, n_in, W, W + n_out * n_in, outs + s.u_off[l - 1],
                              deltas + s.u_off[l], learning_rate, keep, back)
        times_derivative(deltas + s.u_off[l - 1], outs + s.u_off[l - 1], back, n_in, s.act)
    n_in = s.sizes[0]
    n_out = s.sizes[1]
    update_layer(n_out, n_in, p, p + n_out * n_in, x, deltas, learning_rate, keep, x_next, outs)


cdef inline void backward(const Shape* s, const floating* p, floating* outs, floating* deltas,
                          floating* back) noexcept nogil:
    # All hidden deltas, with the current weights (output deltas already in place).
    cdef Py_ssize_t l
    for l in range(s.n_layers - 1, 0, -1):
        hidden_deltas(outs + s.u_off[l - 1], p + s.w_off[l], deltas + s.u_off[l],
                      s.sizes[l], s.sizes[l + 1], s.act, back, deltas + s.u_off[l - 1])


cdef inline void accumulate_gradient(const Shape* s, floating* g, const floating* x,
                                     const floating* outs, const floating* deltas) noexcept nogil:
    # g_ji += δ_j x_ji and g_j += δ_j, laid out like the parameter buffer.
    cdef Py_ssize_t l, j, i, n_in, n_out
    cdef floating* gW
    cdef floating* g_j
    cdef const floating* x_i
    cdef floating d
    for l in range(s.n_layers):
        n_in = s.sizes[l]
        n_out = s.sizes[l + 1]
        gW = g + s.w_off[l]
        x_i = x if l == 0 else outs + s.u_off[l - 1]
        for j in range(n_out):
            g_j = gW + j * n_in
            d = deltas[s.u_off[l] + j]
            for i in range(n_in):
                g_j[i] = g_j[i] + d * x_i[i]
            gW[n_out * n_in + j] = gW[n_out * n_in + j] + d


cdef inline void apply_gradient(const Shape* s, floating* p, floating* g, floating* v,
                                Py_ssize_t n_params, Py_ssize_t batch_len, floating learning_rate,
                                floating momentum, floating weight_decay,
                                double max_grad_norm) noexcept nogil:
    # Phase 3 (§6.1.4) in its general form, as reference.update: with g the
    # gradient averaged over the batch and scaled to max_grad_norm,
    #   Δw_ji = η (g_ji − λ w_ji) + α Δw_ji(n−1),  Δb_j = η g_j + α Δb_j(n−1).
    # v holds the previous Δ (only when momentum > 0). Leaves g zeroed.
    cdef Py_ssize_t l, q, end, start
    cdef floating scale = 1, change
    cdef double norm = 0
    if batch_len > 1:
        for q in range(n_params):
            g[q] = g[q] / batch_len
    if max_grad_norm > 0:
        for q in range(n_params):
            norm += <double> g[q] * <double> g[q]
        norm = sqrt(norm)
        if norm > max_grad_norm:
            scale = <floating> (max_grad_norm / norm)
    for l in range(s.n_layers):
        start = s.w_off[l]
        end = start + s.sizes[l + 1] * s.sizes[l]
        # weights
        for q in range(start, end):
            change = learning_rate * (scale * g[q] - weight_decay * p[q])
            if momentum != 0:
                change = change + momentum * v[q]
                v[q] = change
            p[q] = p[q] + change
        # biases (no weight decay)
        for q in range(end, end + s.sizes[l + 1]):
            change = learning_rate * (scale * g[q])
            if momentum != 0:
                change = change + momentum * v[q]
                v[q] = change
            p[q] = p[q] + change
    memset(g, 0, n_params * sizeof(floating))


# ------------------------------------------------------------------ entry points
cdef struct Scratch:
    void* block   # what malloc returned; the aligned scratch starts within it


cdef inline Py_ssize_t seg(Py_ssize_t n) noexcept nogil:
    # n elements rounded up to 16: 64 bytes of float32, 128 of float64
    return (n + 15) & ~(<Py_ssize_t> 15)


cdef void* scratch_alloc(Scratch* sc, Py_ssize_t n) noexcept nogil:
    # One block per call, 64-byte aligned, never per example.
    sc.block = malloc(n * sizeof(double) + 64)
    if sc.block == NULL:
        return NULL
    return <void*> ((<size_t> sc.block + 63) & ~(<size_t> 63))


cdef int check_status(int status) except -1:
    # After a nogil block: turn the kernel's status into the exception it means.
    if status == STATUS_NO_MEMORY:
        raise MemoryError("bpcore kernel: could not allocate scratch memory")
    if status == STATUS_BAD_SHAPE:
        raise ValueError("bpcore kernel: the layer sizes do not describe the parameter buffer")
    return 0


def train_examples(floating[::1] params, const Py_ssize_t[::1] sizes, int act, int out_act,
                   int loss, const floating[:, ::1] X, const floating[:, ::1] T,
                   const Py_ssize_t[::1] order, double learning_rate, double momentum,
                   double weight_decay, double max_grad_norm, Py_ssize_t batch_size,
                   floating[::1] velocity, floating[::1] gradient):
    """Train on the examples ``X[order[0]], X[order[1]], …`` in that order, in
    place on ``params``. ``len(order)`` is a multiple of ``batch_size`` except
    for an epoch's last chunk. ``velocity`` (momentum > 0) and ``gradient``
    (any option beyond the plain rule) are buffers like ``params`` that the
    caller keeps between chunks; otherwise they may be empty.

    Returns ``(error, status)``: the summed loss of the examples (each from its
    forward pass before its update) and 0, or 1 when a loss was not finite
    (training stops at that example)."""
    cdef Shape s
    cdef Scratch sc
    cdef floating* outs
    cdef floating* deltas
    cdef floating* back
    cdef floating* net_k
    cdef const floating* x
    cdef const floating* x_next
    cdef const floating* t
    cdef floating* o_k
    cdef floating* rows[2]
    cdef Py_ssize_t n = order.shape[0], n_params = params.shape[0], n_in = X.shape[1], e
    cdef Py_ssize_t batch_len = 0
    cdef double E = 0, e_d
    cdef int status = STATUS_OK
    # The plain (fused) path: the lecture's rule, plus weight decay as keep = 1 − η λ.
    cdef bint plain = batch_size == 1 and momentum == 0 and max_grad_norm <= 0
    cdef floating keep = <floating> (1.0 - learning_rate * weight_decay)
    cdef floating lr = <floating> learning_rate
    cdef floating* p = &params[0]
    cdef floating* g = NULL
    cdef floating* v = NULL
    if not plain:
        g = &gradient[0]
        if momentum != 0:
            v = &velocity[0]
    if n == 0:
        return 0.0, STATUS_OK
    # The facade has checked all of this; a wrong call must still not touch
    # memory outside the arrays.
    if (sizes.shape[0] < 2 or X.shape[1] != sizes[0] or T.shape[1] != sizes[sizes.shape[0] - 1]
            or T.shape[0] != X.shape[0] or (not plain and gradient.shape[0] != n_params)
            or (momentum != 0 and velocity.shape[0] != n_params)):
        check_status(STATUS_BAD_SHAPE)
    for e in range(n):
        if order[e] < 0 or order[e] >= X.shape[0]:
            raise IndexError(f"bpcore kernel: example index {order[e]} outside X")
    with nogil:
        status = shape_init(&s, &sizes[0], sizes.shape[0], n_params, act, out_act, loss)
        if status == STATUS_OK:
            # outs | deltas | net_k | back | two input rows, each 64-byte aligned
            outs = <floating*> scratch_alloc(&sc, 3 * seg(s.n_units) + seg(s.widest) + 2 * seg(s.sizes[0]))
            if outs == NULL:
                status = STATUS_NO_MEMORY
                free(s.w_off)
        if status == STATUS_OK:
            deltas = outs + seg(s.n_units)
            net_k = deltas + seg(s.n_units)
            back = net_k + seg(s.n_units)
            rows[0] = back + seg(s.widest)
            rows[1] = rows[0] + seg(s.sizes[0])
            # Each example is copied into an aligned row (numpy rows start 16 bytes
            # off a cache line), the next one ahead of time for the fused first layer.
            memcpy(rows[0], &X[order[0], 0], n_in * sizeof(floating))
            for e in range(n):
                x = rows[e & 1]
                t = &T[order[e], 0]
                x_next = NULL
                if e + 1 < n:
                    memcpy(rows[(e + 1) & 1], &X[order[e + 1], 0], n_in * sizeof(floating))
                    if plain:
                        x_next = rows[(e + 1) & 1]
                forward_example(&s, p, x, outs, net_k, plain and e > 0)
                o_k = outs + s.u_off[s.n_layers - 1]
                e_d = example_error(&s, net_k, o_k, t)
                if not isfinite(e_d):
                    E = e_d
                    status = STATUS_NONFINITE
                    break
                E += e_d
                output_deltas(&s, o_k, t, deltas + s.u_off[s.n_layers - 1], back)
                if plain:
                    backprop_update(&s, p, x, outs, deltas, back, lr, keep, x_next)
                else:
                    backward(&s, p, outs, deltas, back)
                    accumulate_gradient(&s, g, x, outs, deltas)
                    batch_len += 1
                    if batch_len == batch_size or e == n - 1:
                        apply_gradient(&s, p, g, v, n_params, batch_len, lr, <floating> momentum,
                                       <floating> weight_decay, max_grad_norm)
                        batch_len = 0
            free(sc.block)
            free(s.w_off)
    check_status(status)
    return E, status


def forward_batch(const floating[::1] params, const Py_ssize_t[::1] sizes, int act, int out_act,
                  const floating[:, ::1] X, floating[:, ::1] out):
    """Outputs of the network for every row of X, written to ``out`` (n, n_out)."""
    cdef Shape s
    cdef Scratch sc
    cdef floating* outs
    cdef floating* net_k
    cdef Py_ssize_t e, k, n_out = out.shape[1]
    cdef int status
    if (sizes.shape[0] < 2 or X.shape[1] != sizes[0] or n_out != sizes[sizes.shape[0] - 1]
            or out.shape[0] != X.shape[0]):
        check_status(STATUS_BAD_SHAPE)
    with nogil:
        status = shape_init(&s, &sizes[0], sizes.shape[0], params.shape[0], act, out_act, 0)
        if status == STATUS_OK:
            outs = <floating*> scratch_alloc(&sc, 2 * s.n_units + 8)
            if outs == NULL:
                status = STATUS_NO_MEMORY
                free(s.w_off)
        if status == STATUS_OK:
            net_k = outs + s.n_units + 8
            for e in range(X.shape[0]):
                forward_example(&s, &params[0], &X[e, 0], outs, net_k, False)
                for k in range(n_out):
                    out[e, k] = outs[s.u_off[s.n_layers - 1] + k]
            free(sc.block)
            free(s.w_off)
    check_status(status)


def error_sum(const floating[::1] params, const Py_ssize_t[::1] sizes, int act, int out_act,
              int loss, const floating[:, ::1] X, const floating[:, ::1] T):
    """The loss summed over all examples (E of eq. (1) for squared error)."""
    cdef Shape s
    cdef Scratch sc
    cdef floating* outs
    cdef floating* net_k
    cdef Py_ssize_t e
    cdef double E = 0
    cdef int status
    if (sizes.shape[0] < 2 or X.shape[1] != sizes[0] or T.shape[1] != sizes[sizes.shape[0] - 1]
            or T.shape[0] != X.shape[0]):
        check_status(STATUS_BAD_SHAPE)
    with nogil:
        status = shape_init(&s, &sizes[0], sizes.shape[0], params.shape[0], act, out_act, loss)
        if status == STATUS_OK:
            outs = <floating*> scratch_alloc(&sc, 2 * s.n_units + 8)
            if outs == NULL:
                status = STATUS_NO_MEMORY
                free(s.w_off)
        if status == STATUS_OK:
            net_k = outs + s.n_units + 8
            for e in range(X.shape[0]):
                forward_example(&s, &params[0], &X[e, 0], outs, net_k, False)
                E += example_error(&s, net_k, outs + s.u_off[s.n_layers - 1], &T[e, 0])
            free(sc.block)
            free(s.w_off)
    check_status(status)
    return E


cdef extern from *:
    """
    /* Which instruction-set variant the CPU can run: 0 baseline, 1 AVX2+FMA
       (x86-64-v3), 2 AVX-512 (x86-64-v4). Always 0 off x86-64. */
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int bp_cpu_level(void) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return 2;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
            && __builtin_cpu_supports("bmi2"))
            return 1;
        return 0;
    }
    #elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_AMD64))
    #include <intrin.h>
    #include <immintrin.h>
    static int bp_cpu_level(void) {
        int r[4];
        unsigned long long xcr0;
        int avx2, fma, osxsave, avx512;
        __cpuid(r, 1);
        fma = (r[2] >> 12) & 1;
        osxsave = (r[2] >> 27) & 1;
        if (!osxsave) return 0;
        xcr0 = _xgetbv(0);
        if ((xcr0 & 6) != 6) return 0;
        __cpuidex(r, 7, 0);
        avx2 = (r[1] >> 5) & 1;
        avx512 = ((r[1] >> 16) & 1) && ((r[1] >> 17) & 1) && ((r[1] >> 30) & 1) && ((r[1] >> 31) & 1);
        if (avx512 && avx2 && fma && (xcr0 & 0xe6) == 0xe6) return 2;
        if (avx2 && fma) return 1;
        return 0;
    }
    #else
    static int bp_cpu_level(void) { return 0; }
    #endif
    """
    int bp_cpu_level() noexcept nogil


cdef extern from *:
    """
    #ifndef BPCORE_CHECKED
    #define BPCORE_CHECKED 0
    #endif
    """
    int BPCORE_CHECKED

# True in BPCORE_BUILD=debug/asan builds (Cython bounds and wraparound checks on).
checked_build = bool(BPCORE_CHECKED)


def cpu_level():
    """0: baseline only; 1: the CPU runs the AVX2+FMA variant; 2: also AVX-512."""
    return bp_cpu_level()
