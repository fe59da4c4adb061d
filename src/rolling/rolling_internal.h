/*
 * rolling/rolling_internal.h - the kernels behind ndp_rolling.
 *
 * rolling.c cuts every lane (1-D series along the axis) into blocks of
 * outputs and blocks into pieces (the outputs whose windows reach outside
 * the series apart from the others), gets the inputs a piece needs as
 * float64 (in place, or loaded with the window's padding applied) and
 * calls one kernel per piece:
 *
 *   x[0 .. m + w - 1)   inputs; absent positions (outside the series for
 *                       TRAILING and CENTER) are NaN, edge positions hold
 *                       the edge value, so every kernel sees plain
 *                       trailing windows;
 *   y[i] = f(x[i .. i + w - 1])   for i in [0, m).
 *
 * A kernel depends only on x, m and the parameters, never on the thread or
 * on what ran before: that is what makes results identical for any thread
 * count. Kernels never allocate; `scratch` holds the bytes the matching
 * *_scratch function asked for (64-byte aligned, for up to m outputs),
 * private to the calling thread. Kernels may be called from any thread at
 * once.
 */
#ifndef NDP_ROLLING_INTERNAL_H
#define NDP_ROLLING_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ndpar.h"

typedef struct ndp__roll_k {
  int fn;           /* ndp_roll_fn */
  int64_t w;        /* window, >= 1 */
  int64_t minc;     /* min_count, 1 .. w; 0 for COUNT (every window is
                       counted; rolling.c applies pandas' rule after) */
  double q;         /* QUANTILE: 0 .. 1 */
  int ddof;         /* VAR, STD: >= 0 */
  int avx2;         /* the CPU (and NDPAR_ISA) allow AVX2 finishing passes */
  int nt;           /* moments only: y is the caller's output, to be written
                       once with non-temporal stores */
} ndp__roll_k;

/* Test hook (rolling.c): float64 outputs are written with non-temporal
 * stores when input and output bytes add up to at least this; 0 (the
 * default) means 3/4 of the last-level cache. Set it only while no
 * rolling call runs. */
extern int64_t ndp__roll_nt_min;

/* SUM, MEAN, VAR, STD, COUNT (moments.c) */
size_t ndp__roll_moments_scratch(const ndp__roll_k *k, int64_t m);
void ndp__roll_moments(const ndp__roll_k *k, const double *x, int64_t m,
                       double *y, void *scratch);

/* MIN, MAX, ARGMIN, ARGMAX (extrema.c) */
size_t ndp__roll_extrema_scratch(const ndp__roll_k *k, int64_t m);
void ndp__roll_extrema(const ndp__roll_k *k, const double *x, int64_t m,
                       double *y, void *scratch);

/* MEDIAN, QUANTILE (order.c) */
size_t ndp__roll_order_scratch(const ndp__roll_k *k, int64_t m);
void ndp__roll_order(const ndp__roll_k *k, const double *x, int64_t m,
                     double *y, void *scratch);

/* 1 when every x[i], i < n, is finite (no NaN, no inf): x * 0 is NaN
 * exactly for those, and eight accumulators let the loop vectorize. */
static inline int ndp__roll_all_finite(const double *x, int64_t n) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) a[k] += x[i + k] * 0.0;
  for (; i < n; i++) a[0] += x[i] * 0.0;
  const double s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  return s == s;
}

#endif
