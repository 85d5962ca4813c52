/* bpcore's dense primitives for the compiled trainer: the matrix-vector
   products and rank-1 updates of one backpropagation step, over row-major
   weights W (n_out x n_in, W[j*n_in + i] = w_ji).

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

#if defined(_MSC_VER)
#define BP_RESTRICT __restrict
#else
#define BP_RESTRICT __restrict__
#endif

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
