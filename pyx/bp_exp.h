/* exp for the kernels' activations: accurate to 4 ulp (double) and 3 ulp
   (float) over the whole range, and written so that loops over a layer's units
   vectorise (libm's exp is a call the compiler cannot vectorise without
   -ffast-math, which bpcore never uses). The reference trainer's math.exp and
   this differ by a few ulps: far inside the 1e-12 agreement.

   exp(x) = 2^k exp(r) exp(-c) with k = round(x / ln 2), r = x - k ln2_hi
   (exact: ln2_hi has few significant bits), c = k ln2_lo; exp(r) by its Taylor
   polynomial (|r| <= ln2/2: degree 13 for double, 7 for float, by Estrin's scheme), exp(-c) by
   1 - c + c^2/2. No subtraction chain that reassociation could spoil.
   Overflow gives +inf (from x > 709.09, a little before libm's 709.78; float
   x > 88.03), underflow is gradual through the subnormals down to 0, as libm's. */
#ifndef BP_EXP_H
#define BP_EXP_H
#include <stdint.h>
#include <string.h>

static inline double bp_exp_d(double x)
{
    const double log2e = 1.4426950408889634074, ln2_hi = 6.93147180369123816490e-01,
                 ln2_lo = 1.90821492927058770002e-10;
    double r, r2, r4, c, p, scale;
    int64_t k, bits;
    int64_t tiny;
    x = x < -746.0 ? -746.0 : (x > 710.0 ? 710.0 : x);
    k = (int64_t)(int32_t)(x * log2e + 1100.5) - 1100;
    r = x - (double)k * ln2_hi;
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
    /* 2^k. k = 1024 (x > 709.09) gives the bit pattern of +inf: exp overflows.
       For k < -1000 the result may be subnormal: build 2^(k+64), then scale by
       2^-64 so that it underflows gradually, as libm's exp does. */
    tiny = k < -1000;
    bits = (k + 1023 + (tiny ? 64 : 0)) << 52;
    memcpy(&scale, &bits, sizeof scale);
    return p * (1.0 - c + 0.5 * c * c) * scale * (tiny ? 0x1p-64 : 1.0);
}
static inline float bp_exp_f(float x)
{
    const float log2e = 1.44269504f, ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723212e-6f;
    float r, r2, c, p, scale;
    int32_t k, bits;
    int32_t tiny;
    x = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x);
    k = (int32_t)(x * log2e + 200.5f) - 200;
    r = x - (float)k * ln2_hi;
    c = (float)k * ln2_lo;
    r2 = r * r;
    p = ((1.0f + r) + (1.0f / 2 + r * (1.0f / 6)) * r2)
        + ((1.0f / 24 + r * (1.0f / 120)) + (1.0f / 720 + r * (1.0f / 5040)) * r2) * (r2 * r2);
    tiny = k < -100;  /* as above: 2^k is +inf for k = 128, gradual below -126 */
    bits = (k + 127 + (tiny ? 32 : 0)) << 23;
    memcpy(&scale, &bits, sizeof scale);
    return p * (1.0f - c + 0.5f * c * c) * scale * (tiny ? 0x1p-32f : 1.0f);
}

#endif
