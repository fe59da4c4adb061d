/*
 * pool/kernel.c - ndp_run_kernel: a native kernel over index ranges.
 */
#include <stdio.h>

#include "core/internal.h"
#include "ndpar/pool.h"

typedef struct {
  ndp_kernel_fn kernel;
  void *const *data;
  void *ud;
  int failed_rc;      /* first non-zero value a kernel returned */
  int64_t failed_at;  /* that chunk's begin */
  int failed;         /* set once, by the first failing chunk */
} kjob;

static int kernel_chunk(void *ctx, int64_t b, int64_t e, int tid) {
  (void)tid;
  kjob *j = ctx;
  int rc = j->kernel(b, e, j->data, j->ud);
  if (rc != 0) {
    int expected = 0;
    if (__atomic_compare_exchange_n(&j->failed, &expected, 1, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      j->failed_rc = rc;
      j->failed_at = b;
    }
    return NDP_EUSER;
  }
  return 0;
}

int ndp_run_kernel(int64_t n, ndp_kernel_fn kernel, void *const *data,
                   void *ud, int64_t chunk, const ndp_pf_opts *opts,
                   ndp_status *st) {
  if (!kernel) return ndp__fail(st, NDP_EINVAL, "kernel is NULL");
  if (n < 0) return ndp__fail(st, NDP_EINVAL, "n must be >= 0, got %lld", (long long)n);
  if (chunk < 0)
    return ndp__fail(st, NDP_EINVAL, "chunk must be >= 0, got %lld", (long long)chunk);
  ndp_pf_opts o = {0};
  if (opts) o = *opts;
  int nt = o.nthreads > 0 ? o.nthreads : ndp_get_num_threads();
  if (chunk == 0) {
    int64_t parts = (int64_t)nt * 8;
    chunk = n / parts + (n % parts != 0);
    if (chunk < 1) chunk = 1;
  }
  o.grain = chunk;
  o.max_chunk = chunk;
  kjob j = {kernel, data, ud, 0, 0, 0};
  int rc = ndp_parallel_for(n, kernel_chunk, &j, &o);
  if (rc == NDP_EUSER || j.failed) {
    ndp__fail(st, NDP_EUSER, "kernel returned %d for indices [%lld, ...)",
              j.failed_rc, (long long)j.failed_at);
    if (st) st->pos = (long)j.failed_at;
    return NDP_EUSER;
  }
  if (rc == NDP_ECANCELED) return ndp__fail(st, rc, "cancelled");
  if (rc) return rc;
  ndp__ok(st);
  return 0;
}
