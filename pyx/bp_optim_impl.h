/* Template body of bp_optim.h: BP_T is the element type, BP_NAME(x) the name,
   BP_SQRT its square root. n parameters at w; the state pointers point at the
   same offset of their buffers (each buffer is laid out like the parameter
   buffer). `decayed`: 1 for weights (weight decay applies), 0 for biases. */

/* torch.lerp of one element (ATen's scalar lerp): start + weight (end - start)
   for |weight| < 0.5, else end - (end - start) (1 - weight). */
static inline BP_T BP_NAME(lerp)(BP_T start, BP_T end, BP_T weight, int small)
{
    return small ? start + weight * (end - start) : end - (end - start) * ((BP_T)1 - weight);
}

/* SGD in the lecture's velocity form (reference.sgd_update):
     c = eta (g - lambda w),  v <- c + alpha v
     w <- w + v                 (classic momentum)
     w <- w + (alpha v + c)     (Nesterov: the step uses the new velocity)
   vel: the velocity (momentum > 0 only). */
BP_NO_CONTRACT void BP_NAME(sgd_step)(ptrdiff_t n, BP_T *BP_RESTRICT w, BP_T *BP_RESTRICT vel,
                                      const BP_T *BP_RESTRICT grad, BP_T gmul, BP_T scale,
                                      const bp_step *k, int decayed)
{
    BP_NO_CONTRACT_BODY
    const BP_T lr = (BP_T)k->lr, alpha = (BP_T)k->momentum, lambda = (BP_T)k->decay;
    const int decay = decayed && k->decay != 0, momentum = k->momentum != 0;
    const int nesterov = k->nesterov;
    ptrdiff_t i;
    /* One loop per combination, each without a branch or a conditional store
       (so that it vectorises). */
#define BP_SGD_LOOP(DECAY, MOMENTUM, NESTEROV)                                 \
    for (i = 0; i < n; i++) {                                                  \
        BP_T g = scale * (gmul * grad[i]);                                     \
        BP_T c = (DECAY) ? lr * (g - lambda * w[i]) : lr * g;                  \
        if (MOMENTUM) {                                                        \
            BP_T v = c + alpha * vel[i];                                       \
            vel[i] = v;                                                        \
            w[i] = (NESTEROV) ? w[i] + (alpha * v + c) : w[i] + v;             \
        } else {                                                               \
            w[i] = w[i] + c;                                                   \
        }                                                                      \
    }
    if (momentum && nesterov) {
        if (decay) BP_SGD_LOOP(1, 1, 1) else BP_SGD_LOOP(0, 1, 1)
    } else if (momentum) {
        if (decay) BP_SGD_LOOP(1, 1, 0) else BP_SGD_LOOP(0, 1, 0)
    } else {
        if (decay) BP_SGD_LOOP(1, 0, 0) else BP_SGD_LOOP(0, 0, 0)
    }
#undef BP_SGD_LOOP
}

/* Adam / AdamW (reference.adam_update, torch's _single_tensor_adam), with
   G = -g the torch gradient:
     AdamW: w <- w (1 - eta lambda);  Adam with decay: G <- G + lambda w
     m <- lerp(m, G, 1 - beta1)
     v <- v beta2 + ((1 - beta2) G) G
     denom = sqrt(v) / sqrt(1 - beta2^t) + eps
     w <- w + ((-eta / (1 - beta1^t)) m) / denom
   m, v: the first and second moments. */
BP_NO_CONTRACT void BP_NAME(adam_step)(ptrdiff_t n, BP_T *BP_RESTRICT w, BP_T *BP_RESTRICT m,
                                       BP_T *BP_RESTRICT v, const BP_T *BP_RESTRICT grad,
                                       BP_T gmul, BP_T scale, const bp_step *k, int decayed)
{
    BP_NO_CONTRACT_BODY
    const BP_T lambda = (BP_T)k->decay, shrink = (BP_T)k->shrink;
    const BP_T weight = (BP_T)k->lerp_weight, beta2 = (BP_T)k->beta2;
    const BP_T omb2 = (BP_T)k->one_minus_beta2, bc2_sqrt = (BP_T)k->bc2_sqrt;
    const BP_T eps = (BP_T)k->eps, neg_step = -(BP_T)k->step_size;
    const int small = weight < (BP_T)0.5 && weight > (BP_T)-0.5;
    const int decay = decayed && k->decay != 0;
    const int coupled = decay && !k->decoupled, decoupled = decay && k->decoupled;
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        BP_T G = -(scale * (gmul * grad[i]));
        BP_T wi = w[i];
        if (decoupled)
            wi = wi * shrink;
        if (coupled)
            G = G + lambda * wi;
        BP_T mi = BP_NAME(lerp)(m[i], G, weight, small);
        BP_T vi = v[i] * beta2 + (omb2 * G) * G;
        BP_T denom = BP_SQRT(vi) / bc2_sqrt + eps;
        m[i] = mi;
        v[i] = vi;
        w[i] = wi + (neg_step * mi) / denom;
    }
}

/* RMSprop (reference.rmsprop_update, torch's _single_tensor_rmsprop,
   alpha = rho), with G = -g the torch gradient:
     with decay: G <- G + lambda w
     s <- s rho + ((1 - rho) G) G
     centered: a <- lerp(a, G, 1 - rho),  avg = sqrt(s - a a) + eps
     else:     avg = sqrt(s) + eps
     momentum: b <- b mu + G / avg,  w <- w + (-eta) b
     else:     w <- w + ((-eta) G) / avg
   s: square average; a: gradient average (centered only); b: the momentum
   buffer (momentum > 0 only). */
BP_NO_CONTRACT void BP_NAME(rmsprop_step)(ptrdiff_t n, BP_T *BP_RESTRICT w, BP_T *BP_RESTRICT s,
                                          BP_T *BP_RESTRICT a, BP_T *BP_RESTRICT b,
                                          const BP_T *BP_RESTRICT grad, BP_T gmul, BP_T scale,
                                          const bp_step *k, int decayed)
{
    BP_NO_CONTRACT_BODY
    const BP_T lambda = (BP_T)k->decay, rho = (BP_T)k->rho, omr = (BP_T)k->one_minus_rho;
    const BP_T weight = (BP_T)k->lerp_weight, eps = (BP_T)k->eps, mu = (BP_T)k->momentum;
    const BP_T neg_lr = -(BP_T)k->lr;
    const int small = weight < (BP_T)0.5 && weight > (BP_T)-0.5;
    const int decay = decayed && k->decay != 0, centered = k->centered;
    const int momentum = k->momentum > 0;
    ptrdiff_t i;
    /* One loop per combination of the options, each without a branch or a
       conditional store (so that it vectorises). */
#define BP_RMSPROP_LOOP(DECAY, CENTERED, MOMENTUM, SMALL)                      \
    for (i = 0; i < n; i++) {                                                  \
        BP_T G = -(scale * (gmul * grad[i]));                                  \
        BP_T wi = w[i], avg;                                                   \
        if (DECAY)                                                             \
            G = G + lambda * wi;                                               \
        BP_T si = s[i] * rho + (omr * G) * G;                                  \
        s[i] = si;                                                             \
        if (CENTERED) {                                                        \
            BP_T ai = BP_NAME(lerp)(a[i], G, weight, SMALL);                   \
            a[i] = ai;                                                         \
            avg = BP_SQRT(si + (-ai) * ai);                                    \
        } else {                                                               \
            avg = BP_SQRT(si);                                                 \
        }                                                                      \
        avg = avg + eps;                                                       \
        if (MOMENTUM) {                                                        \
            BP_T bi = b[i] * mu + G / avg;                                     \
            b[i] = bi;                                                         \
            w[i] = wi + neg_lr * bi;                                           \
        } else {                                                               \
            w[i] = wi + (neg_lr * G) / avg;                                    \
        }                                                                      \
    }
#define BP_RMSPROP_DECAY(CENTERED, MOMENTUM, SMALL)                            \
    if (decay) BP_RMSPROP_LOOP(1, CENTERED, MOMENTUM, SMALL)                   \
    else BP_RMSPROP_LOOP(0, CENTERED, MOMENTUM, SMALL)
    if (centered && small) {
        if (momentum) { BP_RMSPROP_DECAY(1, 1, 1) } else { BP_RMSPROP_DECAY(1, 0, 1) }
    } else if (centered) {
        if (momentum) { BP_RMSPROP_DECAY(1, 1, 0) } else { BP_RMSPROP_DECAY(1, 0, 0) }
    } else {
        if (momentum) { BP_RMSPROP_DECAY(0, 1, 0) } else { BP_RMSPROP_DECAY(0, 0, 0) }
    }
#undef BP_RMSPROP_DECAY
#undef BP_RMSPROP_LOOP
}
