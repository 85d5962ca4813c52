/* The epoch's example order, generated in C for the compiled trainer: the
   same algorithm as bpcore.ordering.permutation (pure Python, for the
   reference trainer), so both trainers visit the examples in the same order.

   Fisher-Yates over 0..n-1 from the last position down, each index drawn
   uniformly by Lemire's multiply-and-reject method from splitmix64 (Steele,
   Lea & Flood 2014), seeded with one 64-bit number per epoch. */
#ifndef BP_RANDOM_H
#define BP_RANDOM_H
#include <stddef.h>
#include <stdint.h>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

static inline uint64_t bp_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The 128-bit product x*y as (high, low). */
static inline uint64_t bp_mul128(uint64_t x, uint64_t y, uint64_t *low)
{
#if defined(__SIZEOF_INT128__)
    unsigned __int128 m = (unsigned __int128)x * y;
    *low = (uint64_t)m;
    return (uint64_t)(m >> 64);
#elif defined(_MSC_VER) && defined(_M_X64)
    uint64_t high;
    *low = _umul128(x, y, &high);
    return high;
#else
    uint64_t x0 = (uint32_t)x, x1 = x >> 32, y0 = (uint32_t)y, y1 = y >> 32;
    uint64_t p00 = x0 * y0, p01 = x0 * y1, p10 = x1 * y0, p11 = x1 * y1;
    uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
    *low = (mid << 32) | (uint32_t)p00;
    return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
#endif
}

/* Uniform in [0, bound), bound >= 1, without bias. */
static inline uint64_t bp_bounded(uint64_t *state, uint64_t bound)
{
    uint64_t low, high = bp_mul128(bp_splitmix64(state), bound, &low);
    if (low < bound) {
        uint64_t threshold = (0 - bound) % bound;
        while (low < threshold)
            high = bp_mul128(bp_splitmix64(state), bound, &low);
    }
    return high;
}

/* order[0..n) <- a permutation of 0..n-1 drawn from `seed`. */
static inline void bp_permutation(ptrdiff_t *order, ptrdiff_t n, uint64_t seed)
{
    ptrdiff_t i, j, tmp;
    uint64_t state = seed;
    for (i = 0; i < n; i++)
        order[i] = i;
    for (i = n - 1; i > 0; i--) {
        j = (ptrdiff_t)bp_bounded(&state, (uint64_t)i + 1);
        tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

#endif
