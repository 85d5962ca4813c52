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
        for (i = 0; i < n_in; i++)
            a0 += w0[i] * x[i];
        out[j] = a0 + b[j];
    }
}

/* Going down through a hidden layer (§6.1.3, §6.1.4), one pass over W:
     back[i] = sum_j w_ji delta[j]      with the old weights (for delta_h)
     w_ji    = keep w_ji + (eta delta[j]) x[i],  b[j] += eta delta[j]
   keep = 1 - eta lambda applies weight decay lambda (keep = 1: none, exactly). */
static inline void BP_NAME(backprop_update)(ptrdiff_t n_out, ptrdiff_t n_in,
                                            BP_T *BP_RESTRICT W, BP_T *BP_RESTRICT b,
                                            const BP_T *BP_RESTRICT x,
                                            const BP_T *BP_RESTRICT delta, BP_T eta, BP_T keep,
                                            BP_T *BP_RESTRICT back)
{
    ptrdiff_t j = 0, i;
    for (i = 0; i < n_in; i++)
        back[i] = 0;
    for (; j + 4 <= n_out; j += 4) {
        BP_T *BP_RESTRICT w0 = W + j * n_in;
        BP_T *BP_RESTRICT w1 = w0 + n_in;
        BP_T *BP_RESTRICT w2 = w1 + n_in;
        BP_T *BP_RESTRICT w3 = w2 + n_in;
        BP_T d0 = delta[j], d1 = delta[j + 1], d2 = delta[j + 2], d3 = delta[j + 3];
        BP_T s0 = eta * d0, s1 = eta * d1, s2 = eta * d2, s3 = eta * d3;
        for (i = 0; i < n_in; i++) {
            BP_T xi = x[i];
            BP_T v0 = w0[i], v1 = w1[i], v2 = w2[i], v3 = w3[i];
            back[i] += v0 * d0 + v1 * d1 + v2 * d2 + v3 * d3;
            w0[i] = keep * v0 + s0 * xi;
            w1[i] = keep * v1 + s1 * xi;
            w2[i] = keep * v2 + s2 * xi;
            w3[i] = keep * v3 + s3 * xi;
        }
        b[j] += s0;
        b[j + 1] += s1;
        b[j + 2] += s2;
        b[j + 3] += s3;
    }
    for (; j < n_out; j++) {
        BP_T *BP_RESTRICT w0 = W + j * n_in;
        BP_T d0 = delta[j], s0 = eta * d0;
        for (i = 0; i < n_in; i++) {
            BP_T v0 = w0[i];
            back[i] += v0 * d0;
            w0[i] = keep * v0 + s0 * x[i];
        }
        b[j] += s0;
    }
}

/* The first layer's update for this example fused with its forward pass for
   the next one (one pass over the largest matrix instead of two):
     w_ji = keep w_ji + (eta delta[j]) x[i],  b[j] += eta delta[j]   (§6.1.4)
     out[j] = sum_i w_ji x_next[i] + b[j]   with the new weights (§6.1.1)   */
static inline void BP_NAME(update_matvec)(ptrdiff_t n_out, ptrdiff_t n_in,
                                          BP_T *BP_RESTRICT W, BP_T *BP_RESTRICT b,
                                          const BP_T *BP_RESTRICT x,
                                          const BP_T *BP_RESTRICT delta, BP_T eta, BP_T keep,
                                          const BP_T *BP_RESTRICT x_next, BP_T *BP_RESTRICT out)
{
    ptrdiff_t j = 0, i;
    for (; j + 4 <= n_out; j += 4) {
        BP_T *BP_RESTRICT w0 = W + j * n_in;
        BP_T *BP_RESTRICT w1 = w0 + n_in;
        BP_T *BP_RESTRICT w2 = w1 + n_in;
        BP_T *BP_RESTRICT w3 = w2 + n_in;
        BP_T s0 = eta * delta[j], s1 = eta * delta[j + 1];
        BP_T s2 = eta * delta[j + 2], s3 = eta * delta[j + 3];
        BP_T a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (i = 0; i < n_in; i++) {
            BP_T xi = x[i], xn = x_next[i];
            BP_T v0 = keep * w0[i] + s0 * xi, v1 = keep * w1[i] + s1 * xi;
            BP_T v2 = keep * w2[i] + s2 * xi, v3 = keep * w3[i] + s3 * xi;
            w0[i] = v0;
            w1[i] = v1;
            w2[i] = v2;
            w3[i] = v3;
            a0 += v0 * xn;
            a1 += v1 * xn;
            a2 += v2 * xn;
            a3 += v3 * xn;
        }
        b[j] += s0;
        b[j + 1] += s1;
        b[j + 2] += s2;
        b[j + 3] += s3;
        out[j] = a0 + b[j];
        out[j + 1] = a1 + b[j + 1];
        out[j + 2] = a2 + b[j + 2];
        out[j + 3] = a3 + b[j + 3];
    }
    for (; j < n_out; j++) {
        BP_T *BP_RESTRICT w0 = W + j * n_in;
        BP_T s0 = eta * delta[j], a0 = 0;
        for (i = 0; i < n_in; i++) {
            BP_T v0 = keep * w0[i] + s0 * x[i];
            w0[i] = v0;
            a0 += v0 * x_next[i];
        }
        b[j] += s0;
        out[j] = a0 + b[j];
    }
}

/* w_ji = keep w_ji + (eta delta[j]) x[i],  b[j] += eta delta[j]   (§6.1.4) */
static inline void BP_NAME(update)(ptrdiff_t n_out, ptrdiff_t n_in,
                                   BP_T *BP_RESTRICT W, BP_T *BP_RESTRICT b,
                                   const BP_T *BP_RESTRICT x,
                                   const BP_T *BP_RESTRICT delta, BP_T eta, BP_T keep)
{
    ptrdiff_t j, i;
    for (j = 0; j < n_out; j++) {
        BP_T *BP_RESTRICT w0 = W + j * n_in;
        BP_T s0 = eta * delta[j];
        for (i = 0; i < n_in; i++)
            w0[i] = keep * w0[i] + s0 * x[i];
        b[j] += s0;
    }
}
