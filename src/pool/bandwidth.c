/*
 * pool/bandwidth.c - STREAM-style copy and triad probes on the pool (here,
 * beside the pool it runs on, so that core depends on nothing).
 *
 * Each thread first touches the pages it will later stream (first-touch
 * placement), then the best of `reps` timed passes is kept, as STREAM
 * does. The loops are plain C the compiler vectorizes.
 */
#include <string.h>
#include <unistd.h>

#include "core/internal.h"

typedef struct {
  double *a, *b, *c;
  double s;
  int op; /* 0 init, 1 copy, 2 triad */
} bw_ctx;

static int bw_chunk(void *vctx, int64_t begin, int64_t end, int tid) {
  bw_ctx *x = vctx;
  double *restrict a = x->a, *restrict b = x->b, *restrict c = x->c;
  (void)tid;
  if (x->op == 0) {
    for (int64_t i = begin; i < end; i++) {
      a[i] = 0.0;
      b[i] = 1.0;
      c[i] = 2.0;
    }
  } else if (x->op == 1) {
    for (int64_t i = begin; i < end; i++) a[i] = b[i];
  } else {
    const double s = x->s;
    for (int64_t i = begin; i < end; i++) a[i] = b[i] + s * c[i];
  }
  return 0;
}

int ndp_measure_bandwidth(size_t bytes, int nthreads, int reps,
                          ndp_bandwidth *bw, ndp_status *st) {
  if (!bw) return ndp__fail(st, NDP_EINVAL, "bandwidth: output pointer is NULL");
  if (nthreads < 0 || nthreads > NDP_MAX_THREADS)
    return ndp__fail(st, NDP_EINVAL, "bandwidth: nthreads %d out of range", nthreads);
  if (reps < 0) return ndp__fail(st, NDP_EINVAL, "bandwidth: reps must be >= 0");
  if (bytes == 0) {
    bytes = 4 * (size_t)ndp__llc_bytes();
    if (bytes < ((size_t)256 << 20)) bytes = (size_t)256 << 20;
  }
  if (bytes < 4096) bytes = 4096;
  if (reps == 0) reps = 5;
  int64_t n = (int64_t)(bytes / sizeof(double));
  bw_ctx x = {0};
  x.a = ndp__aligned_alloc(64, (size_t)n * sizeof(double));
  x.b = ndp__aligned_alloc(64, (size_t)n * sizeof(double));
  x.c = ndp__aligned_alloc(64, (size_t)n * sizeof(double));
  int rc = 0;
  if (!x.a || !x.b || !x.c) {
    rc = ndp__fail(st, NDP_ENOMEM, "bandwidth: cannot allocate 3 x %zu bytes", bytes);
    goto done;
  }
  ndp_pf_opts o = {0};
  o.nthreads = nthreads;
  o.grain = 1 << 16;
  x.s = 3.0;
  x.op = 0;
  rc = ndp_parallel_for(n, bw_chunk, &x, &o);
  double best[3] = {0, 1e300, 1e300};
  for (int r = 0; r < reps && rc == 0; r++) {
    for (int op = 1; op <= 2 && rc == 0; op++) {
      x.op = op;
      double t0 = ndp__now();
      rc = ndp_parallel_for(n, bw_chunk, &x, &o);
      double t = ndp__now() - t0;
      if (t < best[op]) best[op] = t;
    }
  }
  if (rc == 0) {
    bw->copy_gbs = 16.0 * (double)n / best[1] / 1e9;
    bw->triad_gbs = 24.0 * (double)n / best[2] / 1e9;
    bw->bytes = (size_t)n * sizeof(double);
    bw->nthreads = nthreads > 0 ? nthreads : ndp_get_num_threads();
  }
done:
  ndp__free(x.a);
  ndp__free(x.b);
  ndp__free(x.c);
  return rc;
}
