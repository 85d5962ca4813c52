/* Which instruction-set variant of the kernels the CPU can run (read by
   bpcore._dispatch through cpu_level()): 0 baseline, 1 AVX2+FMA (x86-64-v3),
   2 AVX-512 F/BW/DQ/VL (x86-64-v4). Always 0 off x86-64. */
#ifndef BP_CPU_H
#define BP_CPU_H

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
static int bp_cpu_level(void)
{
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
static int bp_cpu_level(void)
{
    int r[4];
    unsigned long long xcr0;
    int avx2, fma, osxsave, avx512;
    __cpuid(r, 1);
    fma = (r[2] >> 12) & 1;
    osxsave = (r[2] >> 27) & 1;
    if (!osxsave)
        return 0;
    xcr0 = _xgetbv(0);
    if ((xcr0 & 6) != 6)
        return 0;
    __cpuidex(r, 7, 0);
    avx2 = (r[1] >> 5) & 1;
    avx512 = ((r[1] >> 16) & 1) && ((r[1] >> 17) & 1) && ((r[1] >> 30) & 1) && ((r[1] >> 31) & 1);
    if (avx512 && avx2 && fma && (xcr0 & 0xe6) == 0xe6)
        return 2;
    if (avx2 && fma)
        return 1;
    return 0;
}
#else
static int bp_cpu_level(void) { return 0; }
#endif

#endif
