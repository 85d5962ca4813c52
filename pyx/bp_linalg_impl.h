/* Template body of bp_linalg.h: BP_T is the element type, BP_NAME(x) the name.
   Sizes are ptrdiff_t (Py_ssize_t). */

/* out[j] = sum_i W[j,i] x[i] + b[j]                      (net_j, §6.1.1) */
static inline void BP_NAME(matvec)(ptrdiff_t n_out, ptrdiff_t n_in,
                                   const BP_T *BP_RESTRICT W, const BP_T *BP_RESTRICT x,
                                   const BP_T *BP_RESTRICT b, BP_T *BP_RESTRICT out)
{
    ptrdiff_t j = 0, i;
    for (; j + 4 <= n_out; j += 4) {
        const BP_T *BP_RESTRICT w0 = W + j * n_in;
        const BP_T *BP_RESTRICT w1 = w0 + n_in;
        const BP_T *BP_RESTRICT w2 = w1 + n_in;
        const BP_T *BP_RESTRICT w3 = w2 + n_in;
        BP_T a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        BP_SUM(a0, a1, a2, a3)
        for (i = 0; i < n_in; i++) {
            BP_T xi = x[i];
            a0 += w0[i] * xi;
            a1 += w1[i] * xi;
            a2 += w2[i] * xi;
            a3 += w3[i] * xi;
        }
        out[j] = a0 + b[j];
        out[j + 1] = a1 + b[j + 1];
        out[j + 2] = a2 + b[j + 2];
        out[j + 3] = a3 + b[j + 3];
    }
    for (; j < n_out; j++) {
        const BP_T *BP_RESTRICT w0 = W + j * n_in;
        BP_T a0 = 0;
        BP_SUM(a0)
        for (i = 0; i < n_in; i++)
            a0 += w0[i] * x[i];
        out[j] = a0 + b[j];
    }
}

/* ---------------------------------------------------------------- fused step
   One element of the fused per-example update (Phase 3, §6.1.4), with
   s = eta delta_j (already scaled for clipping), dec = eta lambda, alpha the
   momentum:
     PLAIN     w <- w + s x
     DECAY     w <- w + (s x - dec w)
     MOMENTUM  c = s x - dec w + alpha v;  v <- c;  w <- w + c
   Each step rounds as reference.update does, term by term: the decay is the
   rounded product dec*w of this step, never a factor (1 - eta lambda) rounded
   once and applied at every step (whose rounding error would have one sign and
   add up over a long run). `mode` is a constant in every caller, so each mode
   compiles to its own branch-free loop. */
#define BP_STEP_WEIGHT(mode, w, v, s, x, dec, alpha)                       \
    do {                                                                   \
        if ((mode) == BP_MODE_PLAIN) {                                     \
            (w) = (w) + (s) * (x);                                         \
        } else if ((mode) == BP_MODE_DECAY) {                              \
            (w) = (w) + ((s) * (x) - (dec) * (w));                         \
        } else {                                                           \
            BP_T c_ = (s) * (x) - (dec) * (w) + (alpha) * (v);             \
            (v) = c_;                                                      \
            (w) = (w) + c_;                                                \
        }                                                                  \
    } while (0)

/* Biases take no weight decay: b <- b + s, or with momentum c = s + alpha v. */
#define BP_STEP_BIAS(mode, b, v, s, alpha)                                 \
    do {                                                                   \
        if ((mode) == BP_MODE_MOMENTUM) {                                  \
            BP_T c_ = (s) + (alpha) * (v);                                 \
            (v) = c_;                                                      \
            (b) = (b) + c_;                                                \
        } else {                                                           \
            (b) = (b) + (s);                                               \
        }                                                                  \
    } while (0)

/* Going down through a hidden layer (§6.1.3, §6.1.4), one pass over W:
     back[i] = sum_j w_ji delta[j]      with the old weights (for delta_h)
     then the step of `mode` with s_j = eta delta[j].
   V, Vb: the velocity rows of W and b (MOMENTUM only; otherwise unused). */
BP_INLINE void BP_NAME(backprop_update_mode)(int mode, ptrdiff_t n_out, ptrdiff_t n_in,
                                             BP_T *BP_RESTRICT W, BP_T *BP_RESTRICT b,
                                             BP_T *BP_RESTRICT V, BP_T *BP_RESTRICT Vb,
                                             const BP_T *BP_RESTRICT x,
                                             const BP_T *BP_RESTRICT delta, BP_T eta,
                                             BP_T dec, BP_T alpha, BP_T *BP_RESTRICT back)
{
    ptrdiff_t j = 0, i;
    for (i = 0; i < n_in; i++)
        back[i] = 0;
    for (; j + 4 <= n_out; j += 4) {
        BP_T *BP_RESTRICT w0 = W + j * n_in;
        BP_T *BP_RESTRICT w1 = w0 + n_in;
        BP_T *BP_RESTRICT w2 = w1 + n_in;
        BP_T *BP_RESTRICT w3 = w2 + n_in;
        BP_T *BP_RESTRICT v0 = V + j * n_in;
        BP_T *BP_RESTRICT v1 = v0 + n_in;
        BP_T *BP_RESTRICT v2 = v1 + n_in;
        BP_T *BP_RESTRICT v3 = v2 + n_in;
        BP_T d0 = delta[j], d1 = delta[j + 1], d2 = delta[j + 2], d3 = delta[j + 3];
        BP_T s0 = eta * d0, s1 = eta * d1, s2 = eta * d2, s3 = eta * d3;
        BP_IVDEP
        for (i = 0; i < n_in; i++) {
            BP_T xi = x[i];
            BP_T u0 = w0[i], u1 = w1[i], u2 = w2[i], u3 = w3[i];
            back[i] += u0 * d0 + u1 * d1 + u2 * d2 + u3 * d3;
            BP_STEP_WEIGHT(mode, u0, v0[i], s0, xi, dec, alpha);
            BP_STEP_WEIGHT(mode, u1, v1[i], s1, xi, dec, alpha);
            BP_STEP_WEIGHT(mode, u2, v2[i], s2, xi, dec, alpha);
            BP_STEP_WEIGHT(mode, u3, v3[i], s3, xi, dec, alpha);
            w0[i] = u0;
            w1[i] = u1;
            w2[i] = u2;
            w3[i] = u3;
        }
        BP_STEP_BIAS(mode, b[j], Vb[j], s0, alpha);
        BP_STEP_BIAS(mode, b[j + 1], Vb[j + 1], s1, alpha);
        BP_STEP_BIAS(mode, b[j + 2], Vb[j + 2], s2, alpha);
        BP_STEP_BIAS(mode, b[j + 3], Vb[j + 3], s3, alpha);
    }
    for (; j < n_out; j++) {
        BP_T *BP_RESTRICT w0 = W + j * n_in;
        BP_T *BP_RESTRICT v0 = V + j * n_in;
        BP_T d0 = delta[j], s0 = eta * d0;
        BP_IVDEP
        for (i = 0; i < n_in; i++) {
            BP_T u0 = w0[i];
            back[i] += u0 * d0;
            BP_STEP_WEIGHT(mode, u0, v0[i], s0, x[i], dec, alpha);
            w0[i] = u0;
        }
        BP_STEP_BIAS(mode, b[j], Vb[j], s0, alpha);
    }
}

/* The first layer's update for this example fused with its forward pass for
   the next one (one pass over the largest matrix instead of two):
     the step of `mode` with s_j = eta delta[j]                   (§6.1.4)
     out[j] = sum_i w_ji x_next[i] + b[j]   with the new weights  (§6.1.1) */
BP_INLINE void BP_NAME(update_matvec_mode)(int mode, ptrdiff_t n_out, ptrdiff_t n_in,
                                           BP_T *BP_RESTRICT W, BP_T *BP_RESTRICT b,
                                           BP_T *BP_RESTRICT V, BP_T *BP_RESTRICT Vb,
                                           const BP_T *BP_RESTRICT x,
                                           const BP_T *BP_RESTRICT delta, BP_T eta, BP_T dec,
                                           BP_T alpha, const BP_T *BP_RESTRICT x_next,
                                           BP_T *BP_RESTRICT out)
{
    ptrdiff_t j = 0, i;
    for (; j + 4 <= n_out; j += 4) {
        BP_T *BP_RESTRICT w0 = W + j * n_in;
        BP_T *BP_RESTRICT w1 = w0 + n_in;
        BP_T *BP_RESTRICT w2 = w1 + n_in;
        BP_T *BP_RESTRICT w3 = w2 + n_in;
        BP_T *BP_RESTRICT v0 = V + j * n_in;
        BP_T *BP_RESTRICT v1 = v0 + n_in;
        BP_T *BP_RESTRICT v2 = v1 + n_in;
        BP_T *BP_RESTRICT v3 = v2 + n_in;
        BP_T s0 = eta * delta[j], s1 = eta * delta[j + 1];
        BP_T s2 = eta * delta[j + 2], s3 = eta * delta[j + 3];
        BP_T a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        BP_SUM(a0, a1, a2, a3)
        for (i = 0; i < n_in; i++) {
            BP_T xi = x[i], xn = x_next[i];
            BP_T u0 = w0[i], u1 = w1[i], u2 = w2[i], u3 = w3[i];
            BP_STEP_WEIGHT(mode, u0, v0[i], s0, xi, dec, alpha);
            BP_STEP_WEIGHT(mode, u1, v1[i], s1, xi, dec, alpha);
            BP_STEP_WEIGHT(mode, u2, v2[i], s2, xi, dec, alpha);
            BP_STEP_WEIGHT(mode, u3, v3[i], s3, xi, dec, alpha);
            w0[i] = u0;
            w1[i] = u1;
            w2[i] = u2;
            w3[i] = u3;
            a0 += u0 * xn;
            a1 += u1 * xn;
            a2 += u2 * xn;
            a3 += u3 * xn;
        }
        BP_STEP_BIAS(mode, b[j], Vb[j], s0, alpha);
        BP_STEP_BIAS(mode, b[j + 1], Vb[j + 1], s1, alpha);
        BP_STEP_BIAS(mode, b[j + 2], Vb[j + 2], s2, alpha);
        BP_STEP_BIAS(mode, b[j + 3], Vb[j + 3], s3, alpha);
        out[j] = a0 + b[j];
        out[j + 1] = a1 + b[j + 1];
        out[j + 2] = a2 + b[j + 2];
        out[j + 3] = a3 + b[j + 3];
    }
    for (; j < n_out; j++) {
        BP_T *BP_RESTRICT w0 = W + j * n_in;
        BP_T *BP_RESTRICT v0 = V + j * n_in;
        BP_T s0 = eta * delta[j], a0 = 0;
        BP_SUM(a0)
        for (i = 0; i < n_in; i++) {
            BP_T u0 = w0[i];
            BP_STEP_WEIGHT(mode, u0, v0[i], s0, x[i], dec, alpha);
            w0[i] = u0;
            a0 += u0 * x_next[i];
        }
        BP_STEP_BIAS(mode, b[j], Vb[j], s0, alpha);
        out[j] = a0 + b[j];
    }
}

/* The step of `mode` alone, s_j = eta delta[j]                     (§6.1.4) */
BP_INLINE void BP_NAME(update_mode)(int mode, ptrdiff_t n_out, ptrdiff_t n_in,
                                    BP_T *BP_RESTRICT W, BP_T *BP_RESTRICT b,
                                    BP_T *BP_RESTRICT V, BP_T *BP_RESTRICT Vb,
                                    const BP_T *BP_RESTRICT x, const BP_T *BP_RESTRICT delta,
                                    BP_T eta, BP_T dec, BP_T alpha)
{
    ptrdiff_t j, i;
    for (j = 0; j < n_out; j++) {
        BP_T *BP_RESTRICT w0 = W + j * n_in;
        BP_T *BP_RESTRICT v0 = V + j * n_in;
        BP_T s0 = eta * delta[j];
        BP_IVDEP
        for (i = 0; i < n_in; i++) {
            BP_T u0 = w0[i];
            BP_STEP_WEIGHT(mode, u0, v0[i], s0, x[i], dec, alpha);
            w0[i] = u0;
        }
        BP_STEP_BIAS(mode, b[j], Vb[j], s0, alpha);
    }
}

/* One copy of each body per mode (so `mode` is a constant in it), and a
   dispatcher that the kernels call with the mode chosen once per call. The
   copies are inlined into the dispatcher's callers (BP_MODE_LINKAGE): on small
   layers (3-2-1) a call per layer and example is a measurable share of the step. */
#define BP_MODE_FUNCTIONS(MODE, SUFFIX)                                                        \
    BP_MODE_LINKAGE void BP_NAME(backprop_update_##SUFFIX)(                                        \
        ptrdiff_t n_out, ptrdiff_t n_in, BP_T *BP_RESTRICT W, BP_T *BP_RESTRICT b,             \
        BP_T *BP_RESTRICT V, BP_T *BP_RESTRICT Vb, const BP_T *BP_RESTRICT x,                  \
        const BP_T *BP_RESTRICT delta, BP_T eta, BP_T dec, BP_T alpha, BP_T *BP_RESTRICT back) \
    {                                                                                          \
        BP_NAME(backprop_update_mode)(MODE, n_out, n_in, W, b, V, Vb, x, delta, eta, dec,      \
                                      alpha, back);                                            \
    }                                                                                          \
    BP_MODE_LINKAGE void BP_NAME(update_matvec_##SUFFIX)(                                          \
        ptrdiff_t n_out, ptrdiff_t n_in, BP_T *BP_RESTRICT W, BP_T *BP_RESTRICT b,             \
        BP_T *BP_RESTRICT V, BP_T *BP_RESTRICT Vb, const BP_T *BP_RESTRICT x,                  \
        const BP_T *BP_RESTRICT delta, BP_T eta, BP_T dec, BP_T alpha,                         \
        const BP_T *BP_RESTRICT x_next, BP_T *BP_RESTRICT out)                                 \
    {                                                                                          \
        BP_NAME(update_matvec_mode)(MODE, n_out, n_in, W, b, V, Vb, x, delta, eta, dec, alpha, \
                                    x_next, out);                                              \
    }                                                                                          \
    BP_MODE_LINKAGE void BP_NAME(update_##SUFFIX)(                                                 \
        ptrdiff_t n_out, ptrdiff_t n_in, BP_T *BP_RESTRICT W, BP_T *BP_RESTRICT b,             \
        BP_T *BP_RESTRICT V, BP_T *BP_RESTRICT Vb, const BP_T *BP_RESTRICT x,                  \
        const BP_T *BP_RESTRICT delta, BP_T eta, BP_T dec, BP_T alpha)                         \
    {                                                                                          \
        BP_NAME(update_mode)(MODE, n_out, n_in, W, b, V, Vb, x, delta, eta, dec, alpha);       \
    }

BP_MODE_FUNCTIONS(BP_MODE_PLAIN, plain)
BP_MODE_FUNCTIONS(BP_MODE_DECAY, decay)
BP_MODE_FUNCTIONS(BP_MODE_MOMENTUM, momentum)

/* Dispatchers. Without momentum V, Vb may be any valid pointers (W, b): the
   PLAIN and DECAY loops never touch them. x_next == NULL: no fused forward. */
static inline void BP_NAME(backprop_update)(int mode, ptrdiff_t n_out, ptrdiff_t n_in, BP_T *W,
                                            BP_T *b, BP_T *V, BP_T *Vb, const BP_T *x,
                                            const BP_T *delta, BP_T eta, BP_T dec, BP_T alpha,
                                            BP_T *back)
{
    if (mode == BP_MODE_PLAIN)
        BP_NAME(backprop_update_plain)(n_out, n_in, W, b, V, Vb, x, delta, eta, dec, alpha, back);
    else if (mode == BP_MODE_DECAY)
        BP_NAME(backprop_update_decay)(n_out, n_in, W, b, V, Vb, x, delta, eta, dec, alpha, back);
    else
        BP_NAME(backprop_update_momentum)(n_out, n_in, W, b, V, Vb, x, delta, eta, dec, alpha,
                                          back);
}

static inline void BP_NAME(update)(int mode, ptrdiff_t n_out, ptrdiff_t n_in, BP_T *W, BP_T *b,
                                   BP_T *V, BP_T *Vb, const BP_T *x, const BP_T *delta, BP_T eta,
                                   BP_T dec, BP_T alpha, const BP_T *x_next, BP_T *out)
{
    if (x_next == NULL) {
        if (mode == BP_MODE_PLAIN)
            BP_NAME(update_plain)(n_out, n_in, W, b, V, Vb, x, delta, eta, dec, alpha);
        else if (mode == BP_MODE_DECAY)
            BP_NAME(update_decay)(n_out, n_in, W, b, V, Vb, x, delta, eta, dec, alpha);
        else
            BP_NAME(update_momentum)(n_out, n_in, W, b, V, Vb, x, delta, eta, dec, alpha);
    } else if (mode == BP_MODE_PLAIN) {
        BP_NAME(update_matvec_plain)(n_out, n_in, W, b, V, Vb, x, delta, eta, dec, alpha, x_next,
                                     out);
    } else if (mode == BP_MODE_DECAY) {
        BP_NAME(update_matvec_decay)(n_out, n_in, W, b, V, Vb, x, delta, eta, dec, alpha, x_next,
                                     out);
    } else {
        BP_NAME(update_matvec_momentum)(n_out, n_in, W, b, V, Vb, x, delta, eta, dec, alpha,
                                        x_next, out);
    }
}

/* ---------------------------------------------------------------- blocks of rows
   The matrix-matrix products of a mini-batch or of batched inference.

   out[r,j] = sum_i X[r,i] W[j,i] + b[j] for R rows of X (R x n_in):
   the forward pass of R examples (X_b W^T, §6.1.1). Tiles of 4 rows x 4 units:
   16 independent dot products, each input and weight element loaded once per
   tile. */
BP_NOINLINE void BP_NAME(block_forward)(ptrdiff_t R, ptrdiff_t n_out, ptrdiff_t n_in,
                                        const BP_T *BP_RESTRICT X, const BP_T *BP_RESTRICT W,
                                        const BP_T *BP_RESTRICT b, BP_T *BP_RESTRICT out)
{
    ptrdiff_t r = 0, j, i, q;
    for (; r + 4 <= R; r += 4) {
        const BP_T *BP_RESTRICT x0 = X + r * n_in;
        const BP_T *BP_RESTRICT x1 = x0 + n_in;
        const BP_T *BP_RESTRICT x2 = x1 + n_in;
        const BP_T *BP_RESTRICT x3 = x2 + n_in;
        BP_T *BP_RESTRICT o0 = out + r * n_out;
        BP_T *BP_RESTRICT o1 = o0 + n_out;
        BP_T *BP_RESTRICT o2 = o1 + n_out;
        BP_T *BP_RESTRICT o3 = o2 + n_out;
        for (j = 0; j + 4 <= n_out; j += 4) {
            const BP_T *BP_RESTRICT w0 = W + j * n_in;
            const BP_T *BP_RESTRICT w1 = w0 + n_in;
            const BP_T *BP_RESTRICT w2 = w1 + n_in;
            const BP_T *BP_RESTRICT w3 = w2 + n_in;
            BP_T a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
            BP_T a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
            BP_SUM(a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33)
            for (i = 0; i < n_in; i++) {
                BP_T y0 = x0[i], y1 = x1[i], y2 = x2[i], y3 = x3[i];
                BP_T u0 = w0[i], u1 = w1[i], u2 = w2[i], u3 = w3[i];
                a00 += y0 * u0; a01 += y0 * u1; a02 += y0 * u2; a03 += y0 * u3;
                a10 += y1 * u0; a11 += y1 * u1; a12 += y1 * u2; a13 += y1 * u3;
                a20 += y2 * u0; a21 += y2 * u1; a22 += y2 * u2; a23 += y2 * u3;
                a30 += y3 * u0; a31 += y3 * u1; a32 += y3 * u2; a33 += y3 * u3;
            }
            o0[j] = a00 + b[j]; o0[j + 1] = a01 + b[j + 1]; o0[j + 2] = a02 + b[j + 2]; o0[j + 3] = a03 + b[j + 3];
            o1[j] = a10 + b[j]; o1[j + 1] = a11 + b[j + 1]; o1[j + 2] = a12 + b[j + 2]; o1[j + 3] = a13 + b[j + 3];
            o2[j] = a20 + b[j]; o2[j + 1] = a21 + b[j + 1]; o2[j + 2] = a22 + b[j + 2]; o2[j + 3] = a23 + b[j + 3];
            o3[j] = a30 + b[j]; o3[j + 1] = a31 + b[j + 1]; o3[j + 2] = a32 + b[j + 2]; o3[j + 3] = a33 + b[j + 3];
        }
        for (; j < n_out; j++) {
            const BP_T *BP_RESTRICT w0 = W + j * n_in;
            BP_T a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            BP_SUM(a0, a1, a2, a3)
            for (i = 0; i < n_in; i++) {
                BP_T u0 = w0[i];
                a0 += x0[i] * u0;
                a1 += x1[i] * u0;
                a2 += x2[i] * u0;
                a3 += x3[i] * u0;
            }
            o0[j] = a0 + b[j];
            o1[j] = a1 + b[j];
            o2[j] = a2 + b[j];
            o3[j] = a3 + b[j];
        }
    }
    for (q = r; q < R; q++)
        BP_NAME(matvec)(n_out, n_in, W, X + q * n_in, b, out + q * n_out);
}

/* C[m,n] (+)= sum_k A(m,k) B[k*ldb + n] for an M x N block C (row stride ldc),
   A(m,k) = A[m*a_m + k*a_k]: with a_k = 1 the product A B, with a_m = 1 the
   product A^T B. Tiles of 4 rows x BP_CHUNK columns of C are held in registers
   over the whole k loop; each B row segment is loaded once per 4 rows of C. */
BP_INLINE void BP_NAME(gemm_mode)(int accumulate, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                  const BP_T *BP_RESTRICT A, ptrdiff_t a_m, ptrdiff_t a_k,
                                  const BP_T *BP_RESTRICT B, ptrdiff_t ldb,
                                  BP_T *BP_RESTRICT C, ptrdiff_t ldc)
{
    ptrdiff_t m = 0, n, k, c, q;
    for (; m + 4 <= M; m += 4) {
        for (n = 0; n < N; n += BP_CHUNK) {
            ptrdiff_t width = N - n < BP_CHUNK ? N - n : BP_CHUNK;
            BP_T acc0[BP_CHUNK] = {0}, acc1[BP_CHUNK] = {0}, acc2[BP_CHUNK] = {0},
                 acc3[BP_CHUNK] = {0};
            if (width == BP_CHUNK) {
                for (k = 0; k < K; k++) {
                    const BP_T *BP_RESTRICT bk = B + k * ldb + n;
                    BP_T e0 = A[m * a_m + k * a_k], e1 = A[(m + 1) * a_m + k * a_k];
                    BP_T e2 = A[(m + 2) * a_m + k * a_k], e3 = A[(m + 3) * a_m + k * a_k];
                    for (c = 0; c < BP_CHUNK; c++) {
                        acc0[c] += e0 * bk[c];
                        acc1[c] += e1 * bk[c];
                        acc2[c] += e2 * bk[c];
                        acc3[c] += e3 * bk[c];
                    }
                }
            } else {
                for (k = 0; k < K; k++) {
                    const BP_T *BP_RESTRICT bk = B + k * ldb + n;
                    BP_T e0 = A[m * a_m + k * a_k], e1 = A[(m + 1) * a_m + k * a_k];
                    BP_T e2 = A[(m + 2) * a_m + k * a_k], e3 = A[(m + 3) * a_m + k * a_k];
                    for (c = 0; c < width; c++) {
                        acc0[c] += e0 * bk[c];
                        acc1[c] += e1 * bk[c];
                        acc2[c] += e2 * bk[c];
                        acc3[c] += e3 * bk[c];
                    }
                }
            }
            for (c = 0; c < width; c++) {
                BP_T *BP_RESTRICT c0 = C + m * ldc + n;
                c0[c] = (accumulate ? c0[c] : 0) + acc0[c];
                c0[ldc + c] = (accumulate ? c0[ldc + c] : 0) + acc1[c];
                c0[2 * ldc + c] = (accumulate ? c0[2 * ldc + c] : 0) + acc2[c];
                c0[3 * ldc + c] = (accumulate ? c0[3 * ldc + c] : 0) + acc3[c];
            }
        }
    }
    for (q = m; q < M; q++) {
        BP_T *BP_RESTRICT cq = C + q * ldc;
        if (!accumulate)
            for (n = 0; n < N; n++)
                cq[n] = 0;
        for (k = 0; k < K; k++) {
            const BP_T *BP_RESTRICT bk = B + k * ldb;
            BP_T e = A[q * a_m + k * a_k];
            for (n = 0; n < N; n++)
                cq[n] += e * bk[n];
        }
    }
}

/* back[r,i] = sum_j D[r,j] W[j,i]: the hidden layers' back-propagated sums for
   R examples (Delta W, §6.1.3), D (R x n_out), W (n_out x n_in). */
BP_NOINLINE void BP_NAME(block_backward)(ptrdiff_t R, ptrdiff_t n_out, ptrdiff_t n_in,
                                         const BP_T *BP_RESTRICT D, const BP_T *BP_RESTRICT W,
                                         BP_T *BP_RESTRICT back)
{
    BP_NAME(gemm_mode)(0, R, n_in, n_out, D, n_out, 1, W, n_in, back, n_in);
}

/* G[j,i] += sum_r D[r,j] X[r,i]: the summed gradient of R examples
   (Delta^T X_b, §6.1.4), D (R x n_out), X (R x n_in), G (n_out x n_in). */
BP_NOINLINE void BP_NAME(block_gradient)(ptrdiff_t R, ptrdiff_t n_out, ptrdiff_t n_in,
                                         const BP_T *BP_RESTRICT D, const BP_T *BP_RESTRICT X,
                                         BP_T *BP_RESTRICT G)
{
    BP_NAME(gemm_mode)(1, n_out, n_in, R, D, 1, n_out, X, n_in, G, n_in);
}
