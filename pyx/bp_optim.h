/* bpcore's optimizer steps other than the lecture's plain SGD: SGD with
   Nesterov momentum (velocity form), Adam / AdamW and RMSprop, each applied
   to a contiguous run of parameters (a row of W, a layer's biases, or a
   whole layer of a mini-batch) with its state buffers at the same offsets.

   The formulas, and their order of operations, are those of
   bpcore/reference.py (sgd_update, adam_update, rmsprop_update), which follow
   torch.optim's _single_tensor_adam / _single_tensor_rmsprop term by term so
   that both round alike. Two things keep the compiler from rounding
   differently from the reference:
     - no contraction of a*b + c into a fused multiply-add (the avx2 and
       avx512 variants are built with -mfma, and GCC contracts by default):
       the functions here are compiled with fp-contract off (BP_NO_CONTRACT);
     - pow(x, 0.5) is not turned into sqrt(x) (GCC does so under
       -fno-signed-zeros, and the two differ in the last bit for about one x
       in a thousand): bp_pow_half hides the exponent (see there).

   The gradient of parameter i is  g_i = scale * (gmul * grad[i]):  on the
   per-example path grad = x (the layer's inputs) and gmul = delta_j (the
   rank-1 gradient delta_j x_ji of row j), or grad = delta and gmul = 1 for the
   biases; on the mini-batch path grad is the averaged gradient and gmul = 1.
   scale is the clipping factor (1 without clipping). g is bpcore's sign,
   -dE/dw (w <- w + eta g is descent); torch's gradient is -g (an exact
   negation).

   This file is a template like bp_linalg.h: bp_optim_impl.h is included once
   per element type. The per-step constants (bp_step) are double; the float
   kernels round them to float, as torch does for a float32 tensor. */
#ifndef BP_OPTIM_H
#define BP_OPTIM_H

#include <math.h>
#include <stddef.h>
#include "bp_linalg.h"

#if defined(__clang__)
#define BP_NO_CONTRACT __attribute__((noinline))
#define BP_NO_CONTRACT_BODY _Pragma("clang fp contract(off)")
#elif defined(__GNUC__)
#define BP_NO_CONTRACT __attribute__((noinline, optimize("fp-contract=off")))
#define BP_NO_CONTRACT_BODY
#else /* MSVC: /fp:precise does not contract */
#define BP_NO_CONTRACT
#define BP_NO_CONTRACT_BODY
#endif

/* The constants of one optimizer step, computed once per step (in double) by
   the kernel's step_constants from Options and the step count t. */
typedef struct {
    double lr;            /* eta */
    double momentum;      /* SGD alpha; RMSprop momentum (0: none) */
    double decay;         /* lambda (weights only; callers pass decayed = 0 for biases) */
    int nesterov;         /* SGD: 1 for Nesterov */
    int decoupled;        /* Adam: 1 for AdamW's w <- w * (1 - eta lambda) */
    int centered;         /* RMSprop */
    double lerp_weight;   /* Adam 1 - beta1; RMSprop 1 - rho (torch's lerp weight) */
    double beta2;         /* Adam beta2 */
    double one_minus_beta2;
    double step_size;     /* Adam eta / (1 - beta1^t) */
    double bc2_sqrt;      /* Adam (1 - beta2^t) ** 0.5 */
    double shrink;        /* AdamW 1 - eta lambda */
    double rho;           /* RMSprop */
    double one_minus_rho;
    double eps;           /* Adam, RMSprop */
} bp_step;

/* x ** 0.5 by libm's pow, as Python's float ** 0.5 (and torch's
   bias_correction2 ** 0.5) computes it: the exponent is read from a volatile
   so that the compiler cannot replace the call by sqrt. Once per step. */
static double bp_pow_half(double x)
{
    volatile double half = 0.5;
    return pow(x, half);
}

/* The constants of step t (counted from 1), in double, as
   reference.adam_update / rmsprop_update / sgd_step compute them (Python's
   float ** is libm's pow, as here; no contraction of 1 - lr * decay). */
BP_NO_CONTRACT static void bp_step_constants(bp_step *k, int adam, double t, double lr,
                                             double momentum, double decay, int nesterov,
                                             int decoupled, int centered, double beta1,
                                             double beta2, double eps, double rho)
{
    BP_NO_CONTRACT_BODY
    k->lr = lr;
    k->momentum = momentum;
    k->decay = decay;
    k->nesterov = nesterov;
    k->decoupled = decoupled;
    k->centered = centered;
    k->eps = eps;
    k->beta2 = beta2;
    k->one_minus_beta2 = 1 - beta2;
    k->rho = rho;
    k->one_minus_rho = 1 - rho;
    k->shrink = 1 - lr * decay;
    if (adam) {
        double bias_correction1 = 1 - pow(beta1, t);
        double bias_correction2 = 1 - pow(beta2, t);
        k->lerp_weight = 1 - beta1;
        k->step_size = lr / bias_correction1;
        k->bc2_sqrt = bp_pow_half(bias_correction2);
    } else {
        k->lerp_weight = 1 - rho;
        k->step_size = 0;
        k->bc2_sqrt = 1;
    }
}

#define BP_T double
#define BP_NAME(name) bp_##name##_d
#define BP_SQRT sqrt
#include "bp_optim_impl.h"
#undef BP_T
#undef BP_NAME
#undef BP_SQRT

#define BP_T float
#define BP_NAME(name) bp_##name##_f
#define BP_SQRT sqrtf
#include "bp_optim_impl.h"
#undef BP_T
#undef BP_NAME
#undef BP_SQRT

#endif
