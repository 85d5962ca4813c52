/* exp for the kernels' activations: accurate to a few ulp over the whole range
   (tests/test_exp.py measures it against math.exp, subnormal results
   included), and written so that loops over a layer's units vectorise (libm's
   exp is a call the compiler cannot vectorise without -ffast-math, which
   bpcore never uses). The reference trainer's math.exp and this differ by a
   few ulps: far inside the 1e-12 agreement.

   exp(x) = 2^k exp(r) exp(-c) with k = round(x / ln 2), r = x - k ln2_hi
   (exact: ln2_hi has few significant bits), c = k ln2_lo; exp(r) by its Taylor
   polynomial (|r| <= ln2/2: degree 13 for double, 7 for float, by Estrin's
   scheme), exp(-c) by 1 - c + c^2/2. No subtraction chain that reassociation
   could spoil.

   2^k is applied as two normal factors 2^(k/2) 2^(k - k/2), so that neither
   factor overflows or underflows on its own: the result overflows to +inf
   exactly where libm's does (x > 709.78 for double, x > 88.72 for float), and
   underflows gradually through the subnormals to 0 (x < -745.13, -103.97),
   with one rounding in the last multiplication, as libm's. NaN gives NaN
   (selected at the end; the integer conversion never sees a NaN). */
#ifndef BP_EXP_H
#define BP_EXP_H
#include <stdint.h>
#include <string.h>

static inline double bp_exp_d(double x)
{
    const double log2e = 1.4426950408889634074, ln2_hi = 6.93147180369123816490e-01,
                 ln2_lo = 1.90821492927058770002e-10;
    double xc, r, r2, r4, c, p, half, rest;
    int64_t k, k_half, bits;
    /* Clamped to where the result is already 0 or +inf; NaN becomes 0 here. */
    xc = x < -746.0 ? -746.0 : (x > 710.0 ? 710.0 : x);
    xc = xc == xc ? xc : 0.0;
    k = (int64_t)(int32_t)(xc * log2e + 1100.5) - 1100;
    r = xc - (double)k * ln2_hi;
    c = (double)k * ln2_lo;
    /* Taylor polynomial of degree 13 by Estrin's scheme: a dependency chain
       of 4 multiply-adds instead of Horner's 13 (small layers are
       latency-bound). */
    r2 = r * r;
    r4 = r2 * r2;
    p = ((1.0 + r) + (1.0 / 2 + r * (1.0 / 6)) * r2)
        + ((1.0 / 24 + r * (1.0 / 120)) + (1.0 / 720 + r * (1.0 / 5040)) * r2) * r4
        + (((1.0 / 40320 + r * (1.0 / 362880)) + (1.0 / 3628800 + r * (1.0 / 39916800)) * r2)
           + ((1.0 / 479001600 + r * (1.0 / 6227020800.0)) * r4)) * (r4 * r4);
    /* k is in [-1076, 1024]: both halves are in [-538, 512], normal exponents. */
    k_half = ((k + 2048) >> 1) - 1024; /* floor(k / 2): a shift of a positive value */
    bits = (k_half + 1023) << 52;
    memcpy(&half, &bits, sizeof half);
    bits = (k - k_half + 1023) << 52;
    memcpy(&rest, &bits, sizeof rest);
    p = p * (1.0 - c + 0.5 * c * c) * half * rest;
    return x == x ? p : x;
}

static inline float bp_exp_f(float x)
{
    const float log2e = 1.44269504f, ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723212e-6f;
    float xc, r, r2, c, p, half, rest;
    int32_t k, k_half, bits;
    xc = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x);
    xc = xc == xc ? xc : 0.0f;
    k = (int32_t)(xc * log2e + 200.5f) - 200;
    r = xc - (float)k * ln2_hi;
    c = (float)k * ln2_lo;
    r2 = r * r;
    p = ((1.0f + r) + (1.0f / 2 + r * (1.0f / 6)) * r2)
        + ((1.0f / 24 + r * (1.0f / 120)) + (1.0f / 720 + r * (1.0f / 5040)) * r2) * (r2 * r2);
    /* k is in [-150, 128]: both halves are in [-75, 64], normal exponents. */
    k_half = ((k + 256) >> 1) - 128;
    bits = (k_half + 127) << 23;
    memcpy(&half, &bits, sizeof half);
    bits = (k - k_half + 127) << 23;
    memcpy(&rest, &bits, sizeof rest);
    p = p * (1.0f - c + 0.5f * c * c) * half * rest;
    return x == x ? p : x;
}

#endif
