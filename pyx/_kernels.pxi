# The compiled trainer's kernels: the lecture's forward pass, deltas and
# updates (§5, §6.1) over one contiguous parameter buffer, for float32 and
# float64 (fused type ``floating``), with no Python object, allocation or GIL
# inside the loop over examples.
#
# This file is included by each per-instruction-set module (_kernels_base.pyx,
# _kernels_avx2.pyx, _kernels_avx512.pyx): one source, compiled with different
# flags by setup.py, chosen at import by bpcore._dispatch. Only
# bpcore/compiled.py calls these functions.
#
# The kernels trust their inputs: shapes, dtypes, contiguity, finiteness and
# option ranges are checked once by the Python facade (bpcore._training and
# bpcore._validation) before anything reaches them; ``check_arrays`` is only a
# guard that a wrong call cannot touch memory outside the arrays.
#
# The formulas match bpcore/reference.py, phase by phase. On the default path
# (batch size 1, no clipping) the backward pass and the update are fused, so
# the reference's hidden_deltas and update have no single kernel twin there:
#   reference.forward        forward_example (matvec: bp_matvec), and for the
#                            next example's first layer bp_update_* with x_next;
#                            forward_block on the blocked path        (§6.1.1)
#   reference.activate,      activate, times_derivative                (§4)
#     reference.derivative
#   reference.example_error  example_error                  (§3.2 eq. (1), §6.1.2)
#   reference.output_deltas  output_deltas                   (Phase 2a, §6.1.3, §8.3)
#   reference.hidden_deltas  default path: example_update -> backprop_update_layer
#                            (bp_backprop_update's back_i = Σ_j w_ji δ_j with the
#                            old weights) then times_derivative; with clipping:
#                            backward -> hidden_deltas; mini-batches:
#                            backward_block                (Phase 2b, §6.1.3, §8.4)
#   reference.update         batch size 1: example_update -> backprop_update_layer
#                            and update_layer (BP_STEP_WEIGHT / BP_STEP_BIAS in
#                            bp_linalg_impl.h), clipping norm from
#                            gradient_norm_squared; mini-batches: apply_gradient
#                            (accumulate_block sums the gradient)  (Phase 3, §6.1.4)
#   optimizer_step (bp_sgd_step,     <-> reference.optimizer_step (Phase 3 with Nesterov,
#     bp_adam_step, bp_rmsprop_step)     reference.sgd_step,       Adam, RMSprop;
#                                        adam_update, rmsprop_update  bp_optim.h)
#
# Two paths, chosen once per call by the facade (``Options.path``):
#   PATH_EXAMPLE  batch size 1: each example's deltas and update in one fused
#                 pass over each W (bp_linalg_impl.h), any momentum and weight
#                 decay included; with clipping, all deltas first (the norm
#                 must be known before any weight changes), then the updates.
#   PATH_BATCH    mini-batches: blocks of up to BLOCK_ROWS examples go through
#                 the layers as matrix-matrix products (X_b Wᵀ, Δ W, Δᵀ X_b);
#                 the batch's averaged gradient is applied by apply_gradient.
# Nesterov, Adam and RMSprop (``Options.optimizer``, ``Options.nesterov``) take
# a simpler path on both: per example train_per_example_general (forward,
# all deltas, then optimizer_step row by row on the rank-1 gradient δ_j x_ji);
# per mini-batch apply_optimizer (optimizer_step over the averaged gradient).
#
# Parameter buffer ``p`` (length sum_l n_out_l * (n_in_l + 1)), per layer l:
#   [ W_l (n_out_l x n_in_l, row-major; W_l[j*n_in + i] is w_ji) | b_l (n_out_l) ]
# A velocity buffer ``v`` (momentum) has the same layout, and so has each
# n_params-long part of the optimizer state ``moments`` (see train_examples).

from libc.math cimport exp, tanh, tanhf, log, log1p, sqrt, fabs, isfinite, pow
from libc.stdint cimport uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

ctypedef fused floating:
    float
    double

cdef enum:
    # Activation and loss codes; exported below as ACTIVATION_CODE / LOSS_CODE
    # (tests check that they equal bpcore._names).
    ACT_IDENTITY = 0
    ACT_SIGMOID = 1
    ACT_TANH = 2
    ACT_RELU = 3
    ACT_SOFTMAX = 4
    LOSS_SQUARED = 0
    LOSS_CROSS_ENTROPY = 1
    # The two training paths (see above), exported as PATH_CODE.
    PATH_EXAMPLE = 0
    PATH_BATCH = 1
    # The optimizers, exported as OPTIMIZER_CODE.
    OPT_SGD = 0
    OPT_ADAM = 1
    OPT_RMSPROP = 2

# Kernel status, read by the facade after the nogil block.
cdef enum:
    STATUS_OK = 0
    STATUS_NONFINITE = 1
    STATUS_NO_MEMORY = 2
    STATUS_BAD_SHAPE = 3

# Examples per block on the blocked paths: enough rows that every weight loaded
# serves many examples, few enough that a block's activations stay in L2.
cdef enum:
    BLOCK_ROWS = 64

ACTIVATION_CODE = {"identity": ACT_IDENTITY, "sigmoid": ACT_SIGMOID, "tanh": ACT_TANH,
                   "relu": ACT_RELU, "softmax": ACT_SOFTMAX}
LOSS_CODE = {"squared_error": LOSS_SQUARED, "cross_entropy": LOSS_CROSS_ENTROPY}
PATH_CODE = {"example": PATH_EXAMPLE, "batch": PATH_BATCH}
OPTIMIZER_CODE = {"sgd": OPT_SGD, "adam": OPT_ADAM, "rmsprop": OPT_RMSPROP}


cdef struct Options:
    # What ``train_examples`` needs besides the arrays, passed from Python as a
    # dict with exactly these keys (bpcore.compiled.kernel_options builds it; a
    # missing key is an error, so options cannot be swapped or forgotten).
    int path                  # PATH_EXAMPLE or PATH_BATCH
    int act                   # hidden activation code
    int out_act               # output activation code
    int loss                  # loss code
    double learning_rate      # η > 0
    double momentum           # α in [0, 1) (SGD, RMSprop); 0: no velocity buffer is used
    double weight_decay       # λ >= 0 (weights only)
    double max_grad_norm      # clip each step's gradient to this norm; 0: no clipping
    Py_ssize_t batch_size     # examples per mini-batch (PATH_BATCH), 1 on PATH_EXAMPLE
    int diagnostics           # 1: add per-example gradient norms and saturation to ``diag``
    int optimizer             # OPT_SGD, OPT_ADAM or OPT_RMSPROP
    int nesterov              # 1: Nesterov momentum (OPT_SGD with momentum > 0)
    double beta1              # Adam β1 in [0, 1)
    double beta2              # Adam β2 in [0, 1)
    double eps                # Adam, RMSprop ε > 0
    double rho                # RMSprop ρ in [0, 1) (PyTorch's alpha)
    int centered              # RMSprop: 1 for the centred variant
    int decoupled_weight_decay  # Adam: 1 for AdamW


cdef extern from "bp_linalg.h" nogil:
    # Dense primitives with restrict-qualified pointers (see bp_linalg.h for why C).
    int BP_MODE_PLAIN, BP_MODE_DECAY, BP_MODE_MOMENTUM
    void bp_matvec_d(Py_ssize_t, Py_ssize_t, const double*, const double*, const double*, double*)
    void bp_matvec_f(Py_ssize_t, Py_ssize_t, const float*, const float*, const float*, float*)
    void bp_backprop_update_d(int, Py_ssize_t, Py_ssize_t, double*, double*, double*, double*,
                              const double*, const double*, double, double, double, double*)
    void bp_backprop_update_f(int, Py_ssize_t, Py_ssize_t, float*, float*, float*, float*,
                              const float*, const float*, float, float, float, float*)
    void bp_update_d(int, Py_ssize_t, Py_ssize_t, double*, double*, double*, double*, const double*,
                     const double*, double, double, double, const double*, double*)
    void bp_update_f(int, Py_ssize_t, Py_ssize_t, float*, float*, float*, float*, const float*,
                     const float*, float, float, float, const float*, float*)
    void bp_block_forward_d(Py_ssize_t, Py_ssize_t, Py_ssize_t, const double*, const double*,
                            const double*, double*)
    void bp_block_forward_f(Py_ssize_t, Py_ssize_t, Py_ssize_t, const float*, const float*,
                            const float*, float*)
    void bp_block_backward_d(Py_ssize_t, Py_ssize_t, Py_ssize_t, const double*, const double*, double*)
    void bp_block_backward_f(Py_ssize_t, Py_ssize_t, Py_ssize_t, const float*, const float*, float*)
    void bp_block_gradient_d(Py_ssize_t, Py_ssize_t, Py_ssize_t, const double*, const double*, double*)
    void bp_block_gradient_f(Py_ssize_t, Py_ssize_t, Py_ssize_t, const float*, const float*, float*)


cdef extern from "bp_optim.h" nogil:
    # The optimizer steps other than plain SGD over a contiguous run of
    # parameters (bp_optim.h: formulas, rounding, the gradient g = scale·gmul·grad).
    ctypedef struct bp_step:
        double lr, momentum, decay
        int nesterov, decoupled, centered
        double lerp_weight, beta2, one_minus_beta2, step_size, bc2_sqrt, shrink
        double rho, one_minus_rho, eps
    void bp_step_constants(bp_step*, int, double, double, double, double, int, int, int, double,
                           double, double, double)
    void bp_sgd_step_d(Py_ssize_t, double*, double*, const double*, double, double, const bp_step*, int)
    void bp_sgd_step_f(Py_ssize_t, float*, float*, const float*, float, float, const bp_step*, int)
    void bp_adam_step_d(Py_ssize_t, double*, double*, double*, const double*, double, double,
                        const bp_step*, int)
    void bp_adam_step_f(Py_ssize_t, float*, float*, float*, const float*, float, float,
                        const bp_step*, int)
    void bp_rmsprop_step_d(Py_ssize_t, double*, double*, double*, double*, const double*, double,
                           double, const bp_step*, int)
    void bp_rmsprop_step_f(Py_ssize_t, float*, float*, float*, float*, const float*, float, float,
                           const bp_step*, int)


cdef extern from "bp_random.h" nogil:
    void bp_permutation(Py_ssize_t*, Py_ssize_t, uint64_t)


cdef inline void matvec(Py_ssize_t n_out, Py_ssize_t n_in, const floating* W, const floating* x,
                        const floating* b, floating* net) noexcept nogil:
    # net_j = Σ_i w_ji x_i + b_j for every unit j of a layer
    if floating is double:
        bp_matvec_d(n_out, n_in, W, x, b, net)
    else:
        bp_matvec_f(n_out, n_in, W, x, b, net)


cdef inline void backprop_update_layer(int mode, Py_ssize_t n_out, Py_ssize_t n_in, floating* W,
                                       floating* b, floating* V, floating* Vb,
                                       const floating* x_ji, const floating* delta_j,
                                       floating eta, floating dec, floating alpha,
                                       floating* back) noexcept nogil:
    # back_i = Σ_j w_ji δ_j (old weights), then Δw_ji = η δ_j x_ji − ηλ w_ji + α Δw_ji(n−1),
    # Δb_j = η δ_j + α Δb_j(n−1) (the terms of ``mode``; see BP_STEP_WEIGHT)
    if floating is double:
        bp_backprop_update_d(mode, n_out, n_in, W, b, V, Vb, x_ji, delta_j, eta, dec, alpha, back)
    else:
        bp_backprop_update_f(mode, n_out, n_in, W, b, V, Vb, x_ji, delta_j, eta, dec, alpha, back)


cdef inline void update_layer(int mode, Py_ssize_t n_out, Py_ssize_t n_in, floating* W, floating* b,
                              floating* V, floating* Vb, const floating* x_ji,
                              const floating* delta_j, floating eta, floating dec, floating alpha,
                              const floating* x_next, floating* net_next) noexcept nogil:
    # The update of ``mode`` alone; with x_next, also the next example's
    # net_j = Σ_i w_ji x_next_i + b_j in the same pass over W
    if floating is double:
        bp_update_d(mode, n_out, n_in, W, b, V, Vb, x_ji, delta_j, eta, dec, alpha, x_next, net_next)
    else:
        bp_update_f(mode, n_out, n_in, W, b, V, Vb, x_ji, delta_j, eta, dec, alpha, x_next, net_next)


# ------------------------------------------------------------------ the workspace
cdef struct Workspace:
    # The network's geometry and all scratch of one kernel call, in one block
    # allocated once per call (never per example) by workspace_open.
    Py_ssize_t n_layers       # weight layers L (= len(sizes) - 1)
    const Py_ssize_t* sizes   # units per layer, sizes[0] = inputs ... sizes[L] = outputs
    Py_ssize_t* w_off         # w_off[l]: offset of W_l in p (b_l follows at w_off[l] + n_out*n_in); L entries
    Py_ssize_t* u_off         # u_off[l]: offset of layer l+1's units among all units; L entries
    Py_ssize_t n_units        # sum(sizes[1:])
    Py_ssize_t widest         # max(sizes)
    Py_ssize_t rows           # examples held at once: 1 (per example) or BLOCK_ROWS
    # Scratch, each segment 64-byte aligned, of the kernel's element type. For
    # ``rows`` examples, layer l+1's block starts at rows * u_off[l] and holds
    # rows x sizes[l+1] values, row-major:
    void* outs                # rows * n_units: outputs o_j of every layer
    void* deltas              # rows * n_units: deltas δ_j of every layer
    void* net_k               # rows * sizes[L]: the output layer's net inputs
    void* back                # rows * widest: Σ_k w_kh δ_k, going down
    void* inputs              # the input rows: rows * sizes[0], or two aligned rows of sizes[0]
    void* block               # what malloc returned


cdef inline Py_ssize_t seg(Py_ssize_t n) noexcept nogil:
    # n elements rounded up to 16: 64 bytes of float32, 128 of float64
    return (n + 15) & ~(<Py_ssize_t> 15)


cdef int workspace_open(Workspace* ws, const Py_ssize_t* sizes, Py_ssize_t n_sizes,
                        Py_ssize_t n_params, Py_ssize_t rows, size_t itemsize) noexcept nogil:
    cdef Py_ssize_t l, w = 0, u = 0, n_inputs, total
    cdef char* base
    ws.block = NULL
    if n_sizes < 2:
        return STATUS_BAD_SHAPE
    for l in range(n_sizes):
        if sizes[l] < 1:
            return STATUS_BAD_SHAPE
    ws.n_layers = n_sizes - 1
    ws.sizes = sizes
    ws.rows = rows
    ws.widest = sizes[0]
    for l in range(ws.n_layers):
        w += sizes[l + 1] * (sizes[l] + 1)
        u += sizes[l + 1]
        if sizes[l + 1] > ws.widest:
            ws.widest = sizes[l + 1]
    # Walking the layer offsets must use exactly the whole parameter buffer.
    if w != n_params:
        return STATUS_BAD_SHAPE
    ws.n_units = u
    # inputs: a block of rows x sizes[0] (blocked path), or two aligned rows
    n_inputs = rows * sizes[0] if rows > 2 else 2 * seg(sizes[0])
    total = (2 * seg(rows * u) + seg(rows * sizes[ws.n_layers]) + seg(rows * ws.widest)
             + seg(n_inputs))
    ws.block = malloc(2 * ws.n_layers * sizeof(Py_ssize_t) + 64 + total * itemsize)
    if ws.block == NULL:
        return STATUS_NO_MEMORY
    ws.w_off = <Py_ssize_t*> ws.block
    ws.u_off = ws.w_off + ws.n_layers
    w = 0
    u = 0
    for l in range(ws.n_layers):
        ws.w_off[l] = w
        ws.u_off[l] = u
        w += sizes[l + 1] * (sizes[l] + 1)
        u += sizes[l + 1]
    base = <char*> ((<size_t> (ws.u_off + ws.n_layers) + 63) & ~(<size_t> 63))
    ws.outs = base
    ws.deltas = base + seg(rows * u) * itemsize
    ws.net_k = <char*> ws.deltas + seg(rows * u) * itemsize
    ws.back = <char*> ws.net_k + seg(rows * sizes[ws.n_layers]) * itemsize
    ws.inputs = <char*> ws.back + seg(rows * ws.widest) * itemsize
    return STATUS_OK


cdef inline void workspace_close(Workspace* ws) noexcept nogil:
    free(ws.block)
    ws.block = NULL


cdef int check_status(int status) except -1:
    # After a nogil block: turn the kernel's status into the exception it means.
    if status == STATUS_NO_MEMORY:
        raise MemoryError("bpcore kernel: could not allocate scratch memory")
    if status == STATUS_BAD_SHAPE:
        raise ValueError("bpcore kernel: the layer sizes do not describe the parameter buffer")
    return 0


cdef int check_arrays(const Py_ssize_t[::1] sizes, Py_ssize_t x_rows, Py_ssize_t x_cols,
                      Py_ssize_t t_rows, Py_ssize_t t_cols) except -1:
    # The guard shared by every entry point: X (x_rows x x_cols) and the
    # targets or outputs (t_rows x t_cols) fit the layer sizes. The facade has
    # checked all of this; a wrong call must still not touch memory outside
    # the arrays.
    if (sizes.shape[0] < 2 or x_cols != sizes[0] or t_cols != sizes[sizes.shape[0] - 1]
            or t_rows != x_rows):
        check_status(STATUS_BAD_SHAPE)
    return 0


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
    # σ(net) = 1 / (1 + e^-net) (§4.1), as reference.sigmoid computes it: with
    # z = e^-|net|, 1 / (1 + z) for net >= 0 and z / (1 + z) for net < 0, so
    # that σ of a large negative net is the small (even subnormal) value it is,
    # never 0 from 1/(1 + inf). Both sides are computed and one is selected:
    # the loop over a layer stays branch-free and vectorises.
    # (-|net| written out: libm's fabs is a double function and would make a
    # float32 kernel call the double exp.)
    cdef floating minus_abs = -net_j if net_j >= 0 else net_j
    cdef floating z = f_exp(minus_abs)
    cdef floating r = 1 / (1 + z)
    return r if net_j >= 0 else z * r


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


cdef inline void activate_rows(floating* o, Py_ssize_t rows, Py_ssize_t n, int act) noexcept nogil:
    # activate() for ``rows`` consecutive rows of n units: softmax row by row,
    # the elementwise activations over the whole block at once.
    cdef Py_ssize_t r
    if act == ACT_SOFTMAX:
        for r in range(rows):
            activate(o + r * n, n, act)
    else:
        activate(o, rows * n, act)


cdef inline void times_derivative(floating* delta, const floating* o, const floating* back,
                                  Py_ssize_t n, int act) noexcept nogil:
    # δ_j = f'(net_j) · back_j, with f' written from the output o_j as the lecture
    # does (§4.2): sigmoid o(1 − o), tanh 1 − o², relu [o > 0], identity 1.
    # A product, as in reference.derivative: relu's 0 · ±inf is NaN (caught as
    # divergence), never a silent 0.
    cdef Py_ssize_t j
    cdef floating one = 1, zero = 0
    if act == ACT_SIGMOID:
        for j in range(n):
            delta[j] = o[j] * (1 - o[j]) * back[j]
    elif act == ACT_TANH:
        for j in range(n):
            delta[j] = (1 - o[j] * o[j]) * back[j]
    elif act == ACT_RELU:
        for j in range(n):
            delta[j] = (one if o[j] > 0 else zero) * back[j]
    else:
        for j in range(n):
            delta[j] = back[j]


cdef inline int saturated(floating o, int act) noexcept nogil:
    # Is a unit in the flat part of its activation, where f' is nearly 0?
    # sigmoid o < 0.01 or o > 0.99, tanh |o| > 0.99, relu o == 0 (diagnostics).
    if act == ACT_SIGMOID:
        return o < 0.01 or o > 0.99
    if act == ACT_TANH:
        return o > 0.99 or o < -0.99
    if act == ACT_RELU:
        return o == 0
    return 0


# ------------------------------------------------------------------ the phases, one example
cdef inline void forward_example(const Workspace* ws, const floating* p, const floating* x,
                                 floating* outs, floating* net_k, int act, int out_act,
                                 bint first_layer_done) noexcept nogil:
    # Phase 1 (§6.1.1): for every layer, net_j = Σ_i w_ji x_i + b_j, o_j = f(net_j).
    # Result: outs[u_off[l] : u_off[l] + sizes[l+1]] holds layer l+1's outputs, and
    # net_k (n_out) the output layer's net inputs (for the cross-entropy error).
    # With first_layer_done, the first layer's net inputs are already in outs
    # (computed by the previous example's fused update, see update_layer).
    cdef Py_ssize_t l, j, n_in, n_out
    cdef const floating* x_i = x
    cdef const floating* W
    cdef floating* o
    for l in range(ws.n_layers):
        n_in = ws.sizes[l]
        n_out = ws.sizes[l + 1]
        W = p + ws.w_off[l]
        o = outs + ws.u_off[l]
        if l > 0 or not first_layer_done:
            matvec(n_out, n_in, W, x_i, W + n_out * n_in, o)
        if l == ws.n_layers - 1:
            for j in range(n_out):
                net_k[j] = o[j]
            activate(o, n_out, out_act)
        else:
            activate(o, n_out, act)
        x_i = o


cdef inline double example_error(const floating* net_k, const floating* o_k, const floating* t_k,
                                 Py_ssize_t n_out, int out_act, int loss) noexcept nogil:
    # The loss of one example. Squared error E_d = ½ Σ_k (t_k − o_k)² (§6.1.2);
    # cross-entropy from the net inputs (never log 0): sigmoid Σ_k softplus(net_k) − t_k net_k,
    # softmax Σ_k t_k (logsumexp(net) − net_k).
    cdef Py_ssize_t k
    cdef double E = 0, top, total, diff
    if loss == LOSS_SQUARED:
        for k in range(n_out):
            diff = <double> t_k[k] - <double> o_k[k]
            E += diff * diff
        return 0.5 * E
    if out_act == ACT_SIGMOID:
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


cdef inline void output_deltas(const floating* o_k, const floating* t_k, Py_ssize_t n_out,
                               int out_act, int loss, floating* delta_k,
                               floating* back) noexcept nogil:
    # Phase 2a (§6.1.3, §8.3): δ_k = f'(o_k)(t_k − o_k) for squared error,
    # δ_k = t_k − o_k for cross-entropy with sigmoid or softmax outputs.
    cdef Py_ssize_t k
    if loss == LOSS_SQUARED:
        for k in range(n_out):
            back[k] = t_k[k] - o_k[k]
        times_derivative(delta_k, o_k, back, n_out, out_act)
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


cdef inline double gradient_norm_squared(const Workspace* ws, const floating* x,
                                         const floating* outs, const floating* deltas) noexcept nogil:
    # ‖g‖² of one example's gradient (g_ji = δ_j x_ji, g_j = δ_j over all layers),
    # exact for its rank-1 form: Σ_l ‖δ_l‖² (‖x_l‖² + 1), O(units) instead of a
    # pass over the weights (for clipping, as reference.update's norm).
    cdef Py_ssize_t l, i
    cdef double total = 0, dd, xx
    cdef const floating* x_l
    cdef const floating* d_l
    for l in range(ws.n_layers):
        x_l = x if l == 0 else outs + ws.u_off[l - 1]
        d_l = deltas + ws.u_off[l]
        dd = 0
        xx = 1
        for i in range(ws.sizes[l + 1]):
            dd += <double> d_l[i] * <double> d_l[i]
        for i in range(ws.sizes[l]):
            xx += <double> x_l[i] * <double> x_l[i]
        total += dd * xx
    return total


cdef inline void example_update(const Workspace* ws, const Options* opts, int mode, floating* p,
                                floating* v, const floating* x, floating* outs, floating* deltas,
                                floating* back, const floating* x_next,
                                double* diag) noexcept nogil:
    # Phases 2b and 3 of one example (output deltas already in ``deltas``), on
    # the fused path: going down the layers, each W_l is read once to propagate
    # δ with the old weights and to apply the update of ``mode`` (plain, weight
    # decay, or momentum with or without decay); then δ_h = f'(o_h) back_h.
    # With clipping, the step's gradient norm is needed before any update: all
    # deltas are computed first (backward), the norm from them in O(units)
    # (gradient_norm_squared), and the updates then scale η.
    # The first layer's update also computes the next example's (x_next's)
    # first-layer net inputs into outs, unless x_next is NULL.
    cdef Py_ssize_t l, n_in, n_out
    cdef floating* W
    cdef floating* V
    cdef double norm, scale = 1
    cdef floating dec = <floating> (opts.learning_rate * opts.weight_decay)
    cdef floating alpha = <floating> opts.momentum
    cdef floating eta
    cdef bint clip = opts.max_grad_norm > 0
    if clip:
        backward(ws, p, outs, deltas, back, opts.act)
        norm = sqrt(gradient_norm_squared(ws, x, outs, deltas))
        if norm > opts.max_grad_norm:
            scale = opts.max_grad_norm / norm
    eta = <floating> (opts.learning_rate * scale)
    for l in range(ws.n_layers - 1, 0, -1):
        n_in = ws.sizes[l]
        n_out = ws.sizes[l + 1]
        W = p + ws.w_off[l]
        V = (v if v != NULL else p) + ws.w_off[l]
        if clip:
            update_layer(mode, n_out, n_in, W, W + n_out * n_in, V, V + n_out * n_in,
                         outs + ws.u_off[l - 1], deltas + ws.u_off[l], eta, dec, alpha,
                         <floating*> NULL, <floating*> NULL)
        else:
            backprop_update_layer(mode, n_out, n_in, W, W + n_out * n_in, V, V + n_out * n_in,
                                  outs + ws.u_off[l - 1], deltas + ws.u_off[l], eta, dec, alpha,
                                  back)
            times_derivative(deltas + ws.u_off[l - 1], outs + ws.u_off[l - 1], back, n_in, opts.act)
    # All deltas are known and the hidden outputs not yet overwritten by x_next's
    # first layer: the moment to record this example's diagnostics.
    if diag != NULL:
        record_diagnostics(ws, x, outs, deltas, 1, 0, opts.act, diag)
    n_in = ws.sizes[0]
    n_out = ws.sizes[1]
    V = v if v != NULL else p
    update_layer(mode, n_out, n_in, p, p + n_out * n_in, V, V + n_out * n_in, x, deltas, eta, dec,
                 alpha, x_next, outs)


cdef inline void backward(const Workspace* ws, const floating* p, floating* outs, floating* deltas,
                          floating* back, int act) noexcept nogil:
    # All hidden deltas of one example, with the current weights (output deltas
    # already in place).
    cdef Py_ssize_t l
    for l in range(ws.n_layers - 1, 0, -1):
        hidden_deltas(outs + ws.u_off[l - 1], p + ws.w_off[l], deltas + ws.u_off[l],
                      ws.sizes[l], ws.sizes[l + 1], act, back, deltas + ws.u_off[l - 1])


cdef inline void apply_gradient(const Workspace* ws, floating* p, floating* g, floating* v,
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
    for l in range(ws.n_layers):
        start = ws.w_off[l]
        end = start + ws.sizes[l + 1] * ws.sizes[l]
        # weights
        for q in range(start, end):
            change = learning_rate * (scale * g[q] - weight_decay * p[q])
            if momentum != 0:
                change = change + momentum * v[q]
                v[q] = change
            p[q] = p[q] + change
        # biases (no weight decay)
        for q in range(end, end + ws.sizes[l + 1]):
            change = learning_rate * (scale * g[q])
            if momentum != 0:
                change = change + momentum * v[q]
                v[q] = change
            p[q] = p[q] + change
    memset(g, 0, n_params * sizeof(floating))


# ------------------------------------------------------------------ Nesterov, Adam, RMSprop
# The optimizer state, kept by the caller between calls (train_examples checks
# the lengths): ``v`` the velocity (SGD) or momentum buffer (RMSprop), n_params,
# only when momentum > 0; ``moments`` Adam's [m | v] (2 n_params) or RMSprop's
# [s | a] (n_params, or 2 n_params when centred; a is the gradient average);
# ``steps[0]`` the number of steps taken, t.
cdef inline void step_constants(const Options* o, Py_ssize_t* steps, bp_step* k) noexcept nogil:
    # t ← t + 1 and the constants of step t (bp_step_constants, in C so that
    # 1 − η λ is never contracted into a fused multiply-add).
    steps[0] += 1
    bp_step_constants(k, o.optimizer == OPT_ADAM, <double> steps[0], o.learning_rate, o.momentum,
                      o.weight_decay, o.nesterov, o.decoupled_weight_decay, o.centered, o.beta1,
                      o.beta2, o.eps, o.rho)


cdef inline void optimizer_step(const Options* opts, const bp_step* k, Py_ssize_t n, floating* p,
                                Py_ssize_t q, Py_ssize_t n_params, floating* v, floating* moments,
                                const floating* grad, floating gmul, floating scale,
                                int decayed) noexcept nogil:
    # reference.optimizer_step for the n parameters p[q : q + n] (the same offset q
    # in every state buffer), gradient scale · gmul · grad[i] (bp_optim.h);
    # decayed: 1 for weights, 0 for biases.
    cdef floating* vq = v + q if v != NULL else NULL
    cdef floating* second = moments + n_params + q if (moments != NULL and (
        opts.optimizer == OPT_ADAM or opts.centered)) else NULL
    if opts.optimizer == OPT_ADAM:
        if floating is double:
            bp_adam_step_d(n, p + q, moments + q, second, grad, gmul, scale, k, decayed)
        else:
            bp_adam_step_f(n, p + q, moments + q, second, grad, gmul, scale, k, decayed)
    elif opts.optimizer == OPT_RMSPROP:
        if floating is double:
            bp_rmsprop_step_d(n, p + q, moments + q, second, vq, grad, gmul, scale, k, decayed)
        else:
            bp_rmsprop_step_f(n, p + q, moments + q, second, vq, grad, gmul, scale, k, decayed)
    else:
        if floating is double:
            bp_sgd_step_d(n, p + q, vq, grad, gmul, scale, k, decayed)
        else:
            bp_sgd_step_f(n, p + q, vq, grad, gmul, scale, k, decayed)


cdef inline int train_per_example_general(const Workspace* ws, const Options* opts, floating* p,
                                          floating* v, floating* moments, Py_ssize_t* steps,
                                          Py_ssize_t n_params, const floating* X, const floating* T,
                                          const Py_ssize_t* order, Py_ssize_t n, double* E,
                                          double* diag) noexcept nogil:
    # PATH_EXAMPLE with Nesterov, Adam or RMSprop: for each example, Phase 1, its
    # error, all deltas with the old weights (output_deltas, backward), the
    # clipping factor from the gradient's norm, then optimizer_step row by row of
    # each W on the rank-1 gradient g_ji = δ_j x_ji (gmul = δ_j, grad = x_l) and
    # over each layer's biases (g_j = δ_j). Returns STATUS_NONFINITE (E = that
    # loss) when an example's loss is not finite, before its update.
    cdef Py_ssize_t e, l, j, q, n_in, n_out, L = ws.n_layers
    cdef Py_ssize_t n_x = ws.sizes[0], n_t = ws.sizes[L]
    cdef floating* outs = <floating*> ws.outs
    cdef floating* deltas = <floating*> ws.deltas
    cdef floating* back = <floating*> ws.back
    cdef floating* net_k = <floating*> ws.net_k
    cdef floating* x = <floating*> ws.inputs
    cdef floating* o_k = outs + ws.u_off[L - 1]
    cdef const floating* x_l
    cdef const floating* d_l
    cdef const floating* t
    cdef double e_d, norm
    cdef floating scale
    cdef bp_step k
    for e in range(n):
        memcpy(x, X + order[e] * n_x, n_x * sizeof(floating))
        t = T + order[e] * n_t
        forward_example(ws, p, x, outs, net_k, opts.act, opts.out_act, 0)
        e_d = example_error(net_k, o_k, t, n_t, opts.out_act, opts.loss)
        if not isfinite(e_d):
            E[0] = e_d
            return STATUS_NONFINITE
        E[0] += e_d
        output_deltas(o_k, t, n_t, opts.out_act, opts.loss, deltas + ws.u_off[L - 1], back)
        backward(ws, p, outs, deltas, back, opts.act)
        if diag != NULL:
            record_diagnostics(ws, x, outs, deltas, 1, 0, opts.act, diag)
        scale = 1
        if opts.max_grad_norm > 0:
            norm = sqrt(gradient_norm_squared(ws, x, outs, deltas))
            if norm > opts.max_grad_norm:
                scale = <floating> (opts.max_grad_norm / norm)
        step_constants(opts, steps, &k)
        for l in range(L):
            n_in = ws.sizes[l]
            n_out = ws.sizes[l + 1]
            q = ws.w_off[l]
            x_l = x if l == 0 else outs + ws.u_off[l - 1]
            d_l = deltas + ws.u_off[l]
            for j in range(n_out):
                optimizer_step(opts, &k, n_in, p, q + j * n_in, n_params, v, moments, x_l, d_l[j],
                               scale, 1)
            optimizer_step(opts, &k, n_out, p, q + n_out * n_in, n_params, v, moments, d_l, 1,
                           scale, 0)
    return STATUS_OK


cdef inline void apply_optimizer(const Workspace* ws, const Options* opts, floating* p, floating* g,
                                 floating* v, floating* moments, Py_ssize_t* steps,
                                 Py_ssize_t n_params, Py_ssize_t batch_len) noexcept nogil:
    # reference.optimizer_step for a mini-batch with Nesterov, Adam or RMSprop:
    # g (the batch's summed gradient) averaged, the clipping factor from its norm,
    # then optimizer_step over each layer's weights and biases. Leaves g zeroed.
    cdef Py_ssize_t l, q, n_w
    cdef double norm = 0
    cdef floating scale = 1
    cdef bp_step k
    if batch_len > 1:
        for q in range(n_params):
            g[q] = g[q] / batch_len
    if opts.max_grad_norm > 0:
        for q in range(n_params):
            norm += <double> g[q] * <double> g[q]
        norm = sqrt(norm)
        if norm > opts.max_grad_norm:
            scale = <floating> (opts.max_grad_norm / norm)
    step_constants(opts, steps, &k)
    for l in range(ws.n_layers):
        q = ws.w_off[l]
        n_w = ws.sizes[l + 1] * ws.sizes[l]
        optimizer_step(opts, &k, n_w, p, q, n_params, v, moments, g + q, 1, scale, 1)
        optimizer_step(opts, &k, ws.sizes[l + 1], p, q + n_w, n_params, v, moments, g + q + n_w, 1,
                       scale, 0)
    memset(g, 0, n_params * sizeof(floating))


# ------------------------------------------------------------------ the phases, a block of rows
cdef inline void forward_block(const Workspace* ws, const floating* p, const floating* X,
                               Py_ssize_t rows, floating* outs, floating* net_k, int act,
                               int out_act) noexcept nogil:
    # Phase 1 (§6.1.1) for ``rows`` examples at once (rows <= ws.rows), X (rows x n_in):
    # layer by layer, NET = X_l Wᵀ + b and O = f(NET). Layer l+1's outputs are the
    # block at outs + ws.rows * u_off[l]; net_k (rows x n_out) keeps the output
    # layer's net inputs.
    cdef Py_ssize_t l, n_in, n_out, L = ws.n_layers
    cdef const floating* x_l = X
    cdef const floating* W
    cdef floating* o
    for l in range(L):
        n_in = ws.sizes[l]
        n_out = ws.sizes[l + 1]
        W = p + ws.w_off[l]
        o = outs + ws.rows * ws.u_off[l]
        if floating is double:
            bp_block_forward_d(rows, n_out, n_in, x_l, W, W + n_out * n_in, o)
        else:
            bp_block_forward_f(rows, n_out, n_in, x_l, W, W + n_out * n_in, o)
        if l == L - 1:
            memcpy(net_k, o, rows * n_out * sizeof(floating))
            activate_rows(o, rows, n_out, out_act)
        else:
            activate_rows(o, rows, n_out, act)
        x_l = o


cdef inline void backward_block(const Workspace* ws, const floating* p, Py_ssize_t rows,
                                const floating* outs, floating* deltas, floating* back,
                                int act) noexcept nogil:
    # Phase 2b (§6.1.3) for a block of examples (output deltas already in place):
    # BACK = Δ_{l+1} W_l (rows x n_in), then Δ_l = f'(O_l) ∘ BACK, down the layers.
    cdef Py_ssize_t l, n_in, n_out
    for l in range(ws.n_layers - 1, 0, -1):
        n_in = ws.sizes[l]
        n_out = ws.sizes[l + 1]
        if floating is double:
            bp_block_backward_d(rows, n_out, n_in, deltas + ws.rows * ws.u_off[l], p + ws.w_off[l],
                                back)
        else:
            bp_block_backward_f(rows, n_out, n_in, deltas + ws.rows * ws.u_off[l], p + ws.w_off[l],
                                back)
        times_derivative(deltas + ws.rows * ws.u_off[l - 1], outs + ws.rows * ws.u_off[l - 1], back,
                         rows * n_in, act)


cdef inline void accumulate_block(const Workspace* ws, floating* g, const floating* X,
                                  Py_ssize_t rows, const floating* outs,
                                  const floating* deltas) noexcept nogil:
    # The block's summed gradient, added to g (laid out like p):
    # G_l += Δ_lᵀ X_l (g_ji += Σ_d δ_j x_ji) and g_b += Σ_d δ_j.
    cdef Py_ssize_t l, r, j, n_in, n_out
    cdef floating* gW
    cdef floating* gb
    cdef const floating* x_l
    cdef const floating* d_l
    for l in range(ws.n_layers):
        n_in = ws.sizes[l]
        n_out = ws.sizes[l + 1]
        gW = g + ws.w_off[l]
        gb = gW + n_out * n_in
        x_l = X if l == 0 else outs + ws.rows * ws.u_off[l - 1]
        d_l = deltas + ws.rows * ws.u_off[l]
        if floating is double:
            bp_block_gradient_d(rows, n_out, n_in, d_l, x_l, gW)
        else:
            bp_block_gradient_f(rows, n_out, n_in, d_l, x_l, gW)
        for r in range(rows):
            for j in range(n_out):
                gb[j] = gb[j] + d_l[r * n_out + j]


cdef inline void forward_rows(const Workspace* ws, const floating* p, const floating* X,
                              Py_ssize_t n, int act, int out_act, floating* out,
                              const floating* T, int loss, double* E) noexcept nogil:
    # Batched inference over all n rows of X, block by block: with ``out`` the
    # outputs (n x n_out) are written there; with ``T`` the loss of each row is
    # added to E (for total_error and the validation error).
    cdef Py_ssize_t start, rows, r, n_in = ws.sizes[0], n_out = ws.sizes[ws.n_layers]
    cdef floating* outs = <floating*> ws.outs
    cdef floating* net_k = <floating*> ws.net_k
    cdef floating* o_k = outs + ws.rows * ws.u_off[ws.n_layers - 1]
    # (while loops: Cython turns range() with a run-time step into Python calls)
    start = 0
    while start < n:
        rows = n - start if n - start < ws.rows else ws.rows
        forward_block(ws, p, X + start * n_in, rows, outs, net_k, act, out_act)
        if out != NULL:
            memcpy(out + start * n_out, o_k, rows * n_out * sizeof(floating))
        if T != NULL:
            for r in range(rows):
                E[0] += example_error(net_k + r * n_out, o_k + r * n_out, T + (start + r) * n_out,
                                      n_out, out_act, loss)
        start += rows


# ------------------------------------------------------------------ the two training paths
cdef inline int train_per_example(const Workspace* ws, const Options* opts, floating* p,
                                  floating* v, const floating* X, const floating* T,
                                  const Py_ssize_t* order, Py_ssize_t n, double* E,
                                  double* diag) noexcept nogil:
    # PATH_EXAMPLE: for each example in ``order``, Phase 1, its error, Phase 2a, and
    # example_update (Phases 2b, 3). Returns STATUS_NONFINITE (E = that loss) when
    # an example's loss is not finite, before its update.
    cdef Py_ssize_t e, n_in = ws.sizes[0], n_out = ws.sizes[ws.n_layers]
    cdef floating* outs = <floating*> ws.outs
    cdef floating* deltas = <floating*> ws.deltas
    cdef floating* back = <floating*> ws.back
    cdef floating* net_k = <floating*> ws.net_k
    cdef floating* rows[2]
    cdef floating* o_k = outs + ws.u_off[ws.n_layers - 1]
    cdef const floating* x
    cdef const floating* x_next
    cdef const floating* t
    cdef double e_d
    cdef int mode = BP_MODE_PLAIN
    if opts.momentum != 0:
        mode = BP_MODE_MOMENTUM
    elif opts.weight_decay != 0:
        mode = BP_MODE_DECAY
    rows[0] = <floating*> ws.inputs
    rows[1] = rows[0] + seg(n_in)
    # Each example is copied into an aligned row (numpy rows start 16 bytes off
    # a cache line), the next one ahead of time for the fused first layer.
    memcpy(rows[0], X + order[0] * n_in, n_in * sizeof(floating))
    for e in range(n):
        x = rows[e & 1]
        t = T + order[e] * n_out
        x_next = NULL
        if e + 1 < n:
            x_next = rows[(e + 1) & 1]
            memcpy(rows[(e + 1) & 1], X + order[e + 1] * n_in, n_in * sizeof(floating))
        forward_example(ws, p, x, outs, net_k, opts.act, opts.out_act, e > 0)
        e_d = example_error(net_k, o_k, t, n_out, opts.out_act, opts.loss)
        if not isfinite(e_d):
            E[0] = e_d
            return STATUS_NONFINITE
        E[0] += e_d
        output_deltas(o_k, t, n_out, opts.out_act, opts.loss, deltas + ws.u_off[ws.n_layers - 1],
                      back)
        example_update(ws, opts, mode, p, v, x, outs, deltas, back, x_next, diag)
    return STATUS_OK


cdef inline int train_batches(const Workspace* ws, const Options* opts, floating* p, floating* v,
                              floating* g, floating* moments, Py_ssize_t* steps,
                              Py_ssize_t n_params, const floating* X,
                              const floating* T, const Py_ssize_t* order, Py_ssize_t n,
                              double* E, double* diag) noexcept nogil:
    # PATH_BATCH: consecutive mini-batches of ``order``, each in blocks of up to
    # ws.rows examples through forward_block, the errors and output deltas row by
    # row; backward_block and accumulate_block; then apply_gradient with the
    # batch's averaged gradient (apply_optimizer for Nesterov, Adam, RMSprop).
    # Returns STATUS_NONFINITE (E = that loss) when an
    # example's loss is not finite, before its batch's update.
    cdef Py_ssize_t start, stop, first, rows, r, n_in = ws.sizes[0], n_out = ws.sizes[ws.n_layers]
    cdef Py_ssize_t L = ws.n_layers
    cdef floating* outs = <floating*> ws.outs
    cdef floating* deltas = <floating*> ws.deltas
    cdef floating* back = <floating*> ws.back
    cdef floating* net_k = <floating*> ws.net_k
    cdef floating* xb = <floating*> ws.inputs
    cdef floating* o_k = outs + ws.rows * ws.u_off[L - 1]
    cdef floating* d_k = deltas + ws.rows * ws.u_off[L - 1]
    cdef const floating* t
    cdef double e_d
    start = 0
    while start < n:
        stop = start + opts.batch_size if n - start > opts.batch_size else n
        first = start
        while first < stop:
            rows = stop - first if stop - first < ws.rows else ws.rows
            for r in range(rows):
                memcpy(xb + r * n_in, X + order[first + r] * n_in, n_in * sizeof(floating))
            forward_block(ws, p, xb, rows, outs, net_k, opts.act, opts.out_act)
            for r in range(rows):
                t = T + order[first + r] * n_out
                e_d = example_error(net_k + r * n_out, o_k + r * n_out, t, n_out, opts.out_act,
                                    opts.loss)
                if not isfinite(e_d):
                    E[0] = e_d
                    return STATUS_NONFINITE
                E[0] += e_d
                output_deltas(o_k + r * n_out, t, n_out, opts.out_act, opts.loss, d_k + r * n_out,
                              back)
            backward_block(ws, p, rows, outs, deltas, back, opts.act)
            accumulate_block(ws, g, xb, rows, outs, deltas)
            if diag != NULL:
                for r in range(rows):
                    record_diagnostics(ws, xb + r * n_in, outs, deltas, ws.rows, r, opts.act, diag)
            first += rows
        if opts.optimizer == OPT_SGD and not opts.nesterov:
            apply_gradient(ws, p, g, v, n_params, stop - start, <floating> opts.learning_rate,
                           <floating> opts.momentum, <floating> opts.weight_decay,
                           opts.max_grad_norm)
        else:
            apply_optimizer(ws, opts, p, g, v, moments, steps, n_params, stop - start)
        start = stop
    return STATUS_OK


cdef inline void record_diagnostics(const Workspace* ws, const floating* x, const floating* outs,
                                    const floating* deltas, Py_ssize_t stride, Py_ssize_t r,
                                    int act, double* diag) noexcept nogil:
    # One example's diagnostics, added to diag (length 2L): diag[l] += ‖δ_l‖² ‖x_l‖²
    # (the squared norm of layer l's weight gradient, biases not counted) and
    # diag[L + l] += the number of saturated units of hidden layer l+1.
    # x is the example's input row; it is row r of blocks of ``stride`` examples
    # (stride = ws.rows on the blocked path, 1 per example): its layer l+1
    # outputs and deltas start at stride * u_off[l] + r * sizes[l+1].
    cdef Py_ssize_t l, i, L = ws.n_layers, count, n
    cdef double dd, xx
    cdef const floating* x_l
    cdef const floating* d_l
    cdef const floating* o_l
    for l in range(L):
        n = ws.sizes[l + 1]
        x_l = x if l == 0 else outs + stride * ws.u_off[l - 1] + r * ws.sizes[l]
        d_l = deltas + stride * ws.u_off[l] + r * n
        dd = 0
        xx = 0
        for i in range(n):
            dd += <double> d_l[i] * <double> d_l[i]
        for i in range(ws.sizes[l]):
            xx += <double> x_l[i] * <double> x_l[i]
        diag[l] += dd * xx
        if l < L - 1:
            o_l = outs + stride * ws.u_off[l] + r * n
            count = 0
            for i in range(n):
                count += saturated(o_l[i], act)
            diag[L + l] += count


# ------------------------------------------------------------------ entry points
def train_examples(floating[::1] params, const Py_ssize_t[::1] sizes, const floating[:, ::1] X,
                   const floating[:, ::1] T, const Py_ssize_t[::1] order, Options options,
                   floating[::1] velocity, floating[::1] gradient, double[::1] diag,
                   floating[::1] moments, Py_ssize_t[::1] steps):
    """Train on the examples ``X[order[0]], X[order[1]], …`` in that order, in
    place on ``params``, with ``options`` (a dict with the fields of the
    kernel's ``Options``; built by bpcore.compiled.kernel_options).

    ``velocity`` (momentum > 0) and ``gradient`` (PATH_BATCH) are buffers like
    ``params`` that the caller keeps between calls; ``diag`` (length
    2 * (len(sizes) - 1), diagnostics on) receives per-example sums; any of
    them may be empty when not used. The optimizer state, also kept between
    calls: ``moments`` (Adam: 2 * len(params), [m | v]; RMSprop: len(params),
    or 2 * len(params) when centred, [s | a]; otherwise empty) and ``steps``
    (length 1, the step count t, for Nesterov, Adam and RMSprop; else any). On PATH_BATCH ``len(order)`` is a multiple
    of ``batch_size`` except for an epoch's last chunk.

    Returns ``(error, status)``: the summed loss of the examples (each from its
    forward pass before its update) and 0, or 1 when a loss was not finite
    (training stops at that example, before its update)."""
    cdef Workspace ws
    cdef Py_ssize_t n = order.shape[0], n_params = params.shape[0], e
    cdef Py_ssize_t n_layers = sizes.shape[0] - 1
    cdef double E = 0
    cdef int status = STATUS_OK
    cdef floating* g = NULL
    cdef floating* v = NULL
    cdef double* d = NULL
    cdef floating* m = NULL
    cdef Py_ssize_t* t = NULL
    cdef bint general = options.optimizer != OPT_SGD or options.nesterov != 0
    cdef Py_ssize_t n_moments = 0
    if options.optimizer == OPT_ADAM:
        n_moments = 2 * n_params
    elif options.optimizer == OPT_RMSPROP:
        n_moments = (2 if options.centered else 1) * n_params
    check_arrays(sizes, X.shape[0], X.shape[1], T.shape[0], T.shape[1])
    if ((options.path == PATH_BATCH and gradient.shape[0] != n_params)
            or (options.path != PATH_BATCH and options.path != PATH_EXAMPLE)
            or (options.path == PATH_EXAMPLE and options.batch_size != 1)
            or options.batch_size < 1
            or (options.momentum != 0 and velocity.shape[0] != n_params)
            or (options.diagnostics and diag.shape[0] != 2 * n_layers)
            or options.optimizer < OPT_SGD or options.optimizer > OPT_RMSPROP
            or (options.nesterov and (options.optimizer != OPT_SGD or options.momentum == 0))
            or (options.optimizer == OPT_ADAM and options.momentum != 0)
            or moments.shape[0] != n_moments
            or (general and steps.shape[0] != 1)):
        check_status(STATUS_BAD_SHAPE)
    if n == 0:
        return 0.0, STATUS_OK
    for e in range(n):
        if order[e] < 0 or order[e] >= X.shape[0]:
            raise IndexError(f"bpcore kernel: example index {order[e]} outside X")
    if options.path == PATH_BATCH:
        g = &gradient[0]
    if options.momentum != 0:
        v = &velocity[0]
    if options.diagnostics:
        d = &diag[0]
    if n_moments:
        m = &moments[0]
    if general:
        t = &steps[0]
    with nogil:
        status = workspace_open(&ws, &sizes[0], sizes.shape[0], n_params,
                                BLOCK_ROWS if options.path == PATH_BATCH else 1, sizeof(floating))
        if status == STATUS_OK:
            if options.path == PATH_BATCH:
                status = train_batches(&ws, &options, &params[0], v, g, m, t, n_params, &X[0, 0],
                                       &T[0, 0], &order[0], n, &E, d)
            elif general:
                status = train_per_example_general(&ws, &options, &params[0], v, m, t, n_params,
                                                   &X[0, 0], &T[0, 0], &order[0], n, &E, d)
            else:
                status = train_per_example(&ws, &options, &params[0], v, &X[0, 0], &T[0, 0],
                                           &order[0], n, &E, d)
        workspace_close(&ws)
    check_status(status)
    return E, status


def forward_batch(const floating[::1] params, const Py_ssize_t[::1] sizes, int act, int out_act,
                  const floating[:, ::1] X, floating[:, ::1] out):
    """Outputs of the network for every row of X, written to ``out`` (n, n_out),
    block by block of rows (X_b Wᵀ per layer)."""
    cdef Workspace ws
    cdef int status
    check_arrays(sizes, X.shape[0], X.shape[1], out.shape[0], out.shape[1])
    if X.shape[0] == 0:
        return
    with nogil:
        status = workspace_open(&ws, &sizes[0], sizes.shape[0], params.shape[0], BLOCK_ROWS,
                                sizeof(floating))
        if status == STATUS_OK:
            forward_rows(&ws, &params[0], &X[0, 0], X.shape[0], act, out_act, &out[0, 0], NULL, 0,
                         NULL)
        workspace_close(&ws)
    check_status(status)


def error_sum(const floating[::1] params, const Py_ssize_t[::1] sizes, int act, int out_act,
              int loss, const floating[:, ::1] X, const floating[:, ::1] T):
    """The loss summed over all examples (E of eq. (1) for squared error), on the
    blocked forward path."""
    cdef Workspace ws
    cdef double E = 0
    cdef int status
    check_arrays(sizes, X.shape[0], X.shape[1], T.shape[0], T.shape[1])
    if X.shape[0] == 0:
        return 0.0
    with nogil:
        status = workspace_open(&ws, &sizes[0], sizes.shape[0], params.shape[0], BLOCK_ROWS,
                                sizeof(floating))
        if status == STATUS_OK:
            forward_rows(&ws, &params[0], &X[0, 0], X.shape[0], act, out_act, NULL, &T[0, 0], loss,
                         &E)
        workspace_close(&ws)
    check_status(status)
    return E


def shuffle_order(Py_ssize_t[::1] order, uint64_t seed):
    """Fill ``order`` with the permutation of 0..len(order)-1 that
    bpcore.ordering.permutation(len(order), seed) gives (bp_random.h)."""
    if order.shape[0] == 0:
        return
    with nogil:
        bp_permutation(&order[0], order.shape[0], seed)


def exp_values(const double[::1] x, double[::1] out_double, float[::1] out_float):
    """The kernels' own exp (bp_exp.h) of each x, in double and in float, for
    the tests that measure it in ulps against math.exp."""
    cdef Py_ssize_t i
    if out_double.shape[0] != x.shape[0] or out_float.shape[0] != x.shape[0]:
        check_status(STATUS_BAD_SHAPE)
    for i in range(x.shape[0]):
        out_double[i] = bp_exp_d(x[i])
        out_float[i] = bp_exp_f(<float> x[i])


cdef extern from "bp_cpu.h":
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
