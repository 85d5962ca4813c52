/* bpcore's dense primitives for the compiled trainer: the matrix-vector
   products and rank-1 updates of one backpropagation step, and the
   register-blocked matrix-matrix products of a mini-batch or a block of rows,
   over row-major weights W (n_out x n_in, W[j*n_in + i] = w_ji).

   They are C rather than Cython for one reason: `restrict`. Without it the
   compiler must assume the weight rows, the inputs and the accumulators may
   overlap and will not vectorise the multi-row loops. Rows are processed four
   at a time so that each input element is loaded once per four rows and four
   independent sums are in flight (a single running sum is latency-bound).

   This file is a template: bp_linalg.h includes bp_linalg_impl.h once per
   element type (float, double), naming the functions bp_<name>_f / _d. The
   formulas they serve, and their names, are in _kernels.pxi.
*/
#ifndef BP_LINALG_H
#define BP_LINALG_H

#include <stddef.h>

/* The dot products' sums may be computed in any order (vectorised partial
   sums): said per loop with OpenMP's simd reduction (-fopenmp-simd, no OpenMP
   runtime), never for the whole module with -fassociative-math, which also
   lets the compiler rewrite w + (s x - dec w) as w (1 - dec) + s x: the
   decay factor rounded once and applied at every step, an error of one sign
   that adds up over a long run (issue 12). */
#if defined(_OPENMP) || defined(BP_OPENMP_SIMD)
#define BP_PRAGMA(x) _Pragma(#x)
/* (omp simd also says the iterations are independent, as BP_IVDEP does.) */
#define BP_SUM(...) BP_PRAGMA(omp simd reduction(+ : __VA_ARGS__))
#else
#define BP_SUM(...) BP_IVDEP
#endif

#if defined(_MSC_VER)
#define BP_RESTRICT __restrict
#define BP_INLINE static __forceinline
#define BP_NOINLINE static __declspec(noinline)
#define BP_IVDEP __pragma(loop(ivdep))
#elif defined(__clang__)
#define BP_RESTRICT __restrict__
#define BP_INLINE static inline __attribute__((always_inline))
#define BP_NOINLINE static __attribute__((noinline))
#define BP_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#else
#define BP_RESTRICT __restrict__
#define BP_INLINE static inline __attribute__((always_inline))
#define BP_NOINLINE static __attribute__((noinline))
/* The momentum loops touch W, V, x and back: with restrict alone gcc still
   emits more than its limit of runtime alias checks and gives up vectorising
   them; ivdep says the rows never overlap (they are distinct buffers). */
#define BP_IVDEP _Pragma("GCC ivdep")
#endif

/* The update rule of the fused per-example step, one per option set, chosen
   once per call (see the BP_STEP_WEIGHT comment in bp_linalg_impl.h). */
#define BP_MODE_PLAIN 0     /* w += s x                       (§6.1.4)            */
#define BP_MODE_DECAY 1     /* w += s x - (eta lambda) w      (weight decay)      */
#define BP_MODE_MOMENTUM 2  /* c = s x - (eta lambda) w + alpha v; v = c; w += c  */

#define BP_MODE_LINKAGE BP_INLINE

/* Columns of one register tile of the blocked products: 16 floats or doubles
   per row, times 4 rows, stay in registers (8 AVX-512 registers for double). */
#define BP_CHUNK 16

#define BP_T double
#define BP_NAME(name) bp_##name##_d
#include "bp_linalg_impl.h"
#undef BP_T
#undef BP_NAME

#define BP_T float
#define BP_NAME(name) bp_##name##_f
#include "bp_linalg_impl.h"
#undef BP_T
#undef BP_NAME

#endif
