/*
 * kernel/eval.c - runs a compiled kernel over arrays on the pool.
 *
 * Lanes are the elements of the loop shape (the broadcast of the
 * arguments' leading dimensions), numbered in C order and cut into blocks
 * of B lanes (B depends on the lane count only, never on the thread
 * count, and each lane's arithmetic is independent of its neighbours, so
 * the bits of the result do not depend on the number of threads). Each
 * pool chunk takes whole blocks: it computes every argument's per-lane
 * byte offset, resets the mask, the returned-lanes and the locals, runs
 * the VM for this CPU (ndp_get_isa(): ref, avx2 or avx512 loops) and
 * stores the result.
 *
 * Ctrl-C: the calling thread's VM calls the exec's poll function from
 * loop back-edges (at most every poll_interval), and every VM checks a
 * shared cancel flag there, so an endless `while True` stops promptly.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/kernel_internal.h"

typedef struct kjob {
  const ndp_kernel *k;
  int nio;                     /* nargs (+ 1 with a result) */
  char *data[NDP__KMAXARGS + 1];
  ndp_dtype dtype[NDP__KMAXARGS + 1];
  int64_t core_shape[NDP__KMAXARGS + 1][2];
  int64_t core_stride[NDP__KMAXARGS + 1][2];
  int nd;
  int64_t shape[NDP_MAXDIMS];
  int64_t lstride[NDP__KMAXARGS + 1][NDP_MAXDIMS];
  int64_t nlanes, B;
  ndp__kvm_fn run;
  const ndp__ktable *kt;
  const ndp_exec *ex;
  pthread_t caller;
  double next_poll, interval;
  atomic_int cancel;
  atomic_int failed;
  int err;
  ndp_status est;
} kjob;

static int job_poll(void *ud, double frac) {
  kjob *j = ud;
  int r = j->ex->poll(j->ex->poll_ud, frac);
  if (r) atomic_store(&j->cancel, 1);
  return r;
}

static int vm_poll(void *ud) {
  kjob *j = ud;
  double now = ndp__now();
  if (now < j->next_poll) return 0;
  j->next_poll = now + j->interval;
  return job_poll(j, 0.0);
}

/* per-lane offsets of every argument for lanes [l0, l0 + n) */
static void offsets(const kjob *j, char *regs, int64_t l0, int n) {
  const ndp_kernel *k = j->k;
  int64_t idx[NDP_MAXDIMS], cur[NDP__KMAXARGS + 1];
  int64_t rem = l0;
  for (int d = j->nd - 1; d >= 0; d--) {
    idx[d] = j->shape[d] ? rem % j->shape[d] : 0;
    rem = j->shape[d] ? rem / j->shape[d] : 0;
  }
  for (int a = 0; a < j->nio; a++) {
    cur[a] = 0;
    for (int d = 0; d < j->nd; d++) cur[a] += idx[d] * j->lstride[a][d];
  }
  for (int a = 0; a < j->nio; a++) /* lanes past n: the first lane's element */
    for (int i = n; i < NDP__KB; i++)
      ((int64_t *)(regs + (size_t)k->off_reg[a] * NDP__KB * 8))[i] = cur[a];
  for (int i = 0; i < n; i++) {
    for (int a = 0; a < j->nio; a++)
      ((int64_t *)(regs + (size_t)k->off_reg[a] * NDP__KB * 8))[i] = cur[a];
    for (int d = j->nd - 1; d >= 0; d--) {
      for (int a = 0; a < j->nio; a++) cur[a] += j->lstride[a][d];
      if (++idx[d] < j->shape[d]) break;
      for (int a = 0; a < j->nio; a++) cur[a] -= j->lstride[a][d] * j->shape[d];
      idx[d] = 0;
    }
  }
}

static void store_result(const kjob *j, const char *regs, int n) {
  const ndp_kernel *k = j->k;
  int o = k->nargs;
  const int64_t *off = (const int64_t *)(regs + (size_t)k->off_reg[o] * NDP__KB * 8);
  const char *r = regs + (size_t)k->ret_reg * NDP__KB * 8;
  char *base = j->data[o];
  const int64_t *ri = (const int64_t *)r;
  const double *rd = (const double *)r;
  const float *rf = (const float *)r;
  ndp_dtype src = k->result, dst = j->dtype[o];
#define PUT(T)                                                                \
  for (int i = 0; i < n; i++) {                                               \
    T v = src == NDP_FLOAT64 ? (T)rd[i] : src == NDP_FLOAT32 ? (T)rf[i] : (T)ri[i]; \
    *(T *)(base + off[i]) = v;                                                \
  }
  switch (dst) {
  case NDP_BOOL:
    for (int i = 0; i < n; i++)
      *(uint8_t *)(base + off[i]) = src == NDP_FLOAT64 ? rd[i] != 0 : src == NDP_FLOAT32 ? rf[i] != 0 : ri[i] != 0;
    break;
  /* integer outputs only receive bool/int results (same_kind) */
  case NDP_INT8: for (int i = 0; i < n; i++) *(int8_t *)(base + off[i]) = (int8_t)(uint8_t)ri[i]; break;
  case NDP_UINT8: for (int i = 0; i < n; i++) *(uint8_t *)(base + off[i]) = (uint8_t)ri[i]; break;
  case NDP_INT16: for (int i = 0; i < n; i++) *(int16_t *)(base + off[i]) = (int16_t)(uint16_t)ri[i]; break;
  case NDP_UINT16: for (int i = 0; i < n; i++) *(uint16_t *)(base + off[i]) = (uint16_t)ri[i]; break;
  case NDP_INT32: for (int i = 0; i < n; i++) *(int32_t *)(base + off[i]) = (int32_t)(uint32_t)ri[i]; break;
  case NDP_UINT32: for (int i = 0; i < n; i++) *(uint32_t *)(base + off[i]) = (uint32_t)ri[i]; break;
  case NDP_INT64: case NDP_UINT64: for (int i = 0; i < n; i++) *(int64_t *)(base + off[i]) = ri[i]; break;
  case NDP_FLOAT32: PUT(float) break;
  default: PUT(double) break;
  }
#undef PUT
}

static int chunk(void *ctx, int64_t begin, int64_t end, int tid) {
  (void)tid;
  kjob *j = ctx;
  const ndp_kernel *k = j->k;
  size_t rb = (size_t)NDP__KB * 8;
  char *regs = ndp__aligned_alloc(64, (size_t)k->nregs * rb);
  ndp_status st = {0, {0}, -1};
  int rc = 0;
  if (!regs) {
    rc = ndp__fail(&st, NDP_ENOMEM, "kernel: out of memory for registers");
    goto fail;
  }
  for (int c = 0; c < k->nconsts; c++) {
    char *r = regs + (size_t)k->consts[c].reg * rb;
    if (k->consts[c].st == ST_F) {
      float v;
      uint32_t u = (uint32_t)k->consts[c].bits;
      memcpy(&v, &u, 4);
      for (int i = 0; i < NDP__KB; i++) ((float *)r)[i] = v;
    } else {
      for (int i = 0; i < NDP__KB; i++) ((int64_t *)r)[i] = k->consts[c].bits;
    }
  }
  ndp__kframe f;
  memset(&f, 0, sizeof f);
  f.regs = regs;
  f.kt = j->kt;
  f.data = j->data;
  f.dtype = j->dtype;
  f.core_shape = (const int64_t(*)[2])j->core_shape;
  f.core_stride = (const int64_t(*)[2])j->core_stride;
  f.cancel = &j->cancel;
  f.st = &st;
  if (j->ex && j->ex->poll && pthread_equal(pthread_self(), j->caller)) {
    f.poll = vm_poll;
    f.poll_ud = j;
  }
  for (int64_t b = begin; b < end; b++) {
    if (atomic_load_explicit(&j->cancel, memory_order_relaxed)) {
      rc = NDP_ECANCELED;
      break;
    }
    int64_t l0 = b * j->B;
    int n = (int)(j->nlanes - l0 < j->B ? j->nlanes - l0 : j->B);
    f.n = n;
    offsets(j, regs, l0, n);
    int64_t *m = (int64_t *)regs;
    for (int i = 0; i < NDP__KB; i++) m[i] = i < n;
    memset(regs + rb, 0, rb);
    for (int r = k->first_local; r < k->first_tmp; r++) memset(regs + (size_t)r * rb, 0, rb);
    rc = j->run(k, &f);
    if (rc) break;
    if (k->has_result) store_result(j, regs, n);
  }
  ndp__free(regs);
  if (!rc) return 0;
fail:
  if (rc == NDP_ECANCELED && atomic_load(&j->cancel) == 2) return rc; /* another chunk failed */
  if (atomic_exchange(&j->failed, 1) == 0) {
    j->err = rc;
    j->est = st;
  }
  if (rc != NDP_ECANCELED) atomic_store(&j->cancel, 2);
  return rc;
}

static int check_arr(const ndp_array *a, int i, ndp_status *st) {
  if (!a) return ndp__fail(st, NDP_EINVAL, "kernel: argument %d is NULL", i);
  if (a->ndim < 0 || a->ndim > NDP_MAXDIMS || (unsigned)a->dtype >= NDP_NTYPES)
    return ndp__fail(st, NDP_EINVAL, "kernel: argument %d is not a valid array", i);
  if (a->dtype == NDP_FLOAT16)
    return ndp__fail(st, NDP_ETYPE, "kernel: argument %d is float16, which kernels do not "
                     "support (use float32)", i);
  if (a->flags & NDP_ARRAY_BYTESWAPPED)
    return ndp__fail(st, NDP_ETYPE, "kernel: argument %d is byte-swapped", i);
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] < 0) return ndp__fail(st, NDP_EINVAL, "kernel: argument %d has a negative extent", i);
  if (!a->data && ndp_array_size(a) != 0)
    return ndp__fail(st, NDP_EINVAL, "kernel: argument %d has no data", i);
  return 0;
}

int ndp_kernel_eval(const ndp_kernel *k, const ndp_array *const *args, const ndp_array *out,
                    const ndp_exec *ex, ndp_status *st) {
  if (!k || (k->nargs && !args)) return ndp__fail(st, NDP_EINVAL, "kernel: NULL kernel or args");
  if (k->has_result != (out != NULL))
    return ndp__fail(st, NDP_EINVAL, k->has_result ? "kernel: this kernel returns a value: give out"
                                                   : "kernel: this kernel has no result: out must be NULL");
  kjob *j = ndp__calloc(1, sizeof *j);
  if (!j) return ndp__fail(st, NDP_ENOMEM, "kernel: out of memory");
  int rc = 0;
  j->k = k;
  j->nio = k->nargs + k->has_result;
  const ndp_array *arr[NDP__KMAXARGS + 1];
  int core[NDP__KMAXARGS + 1];
  for (int i = 0; i < k->nargs; i++) {
    arr[i] = args[i];
    core[i] = k->args[i].core_ndim;
  }
  if (k->has_result) {
    arr[k->nargs] = out;
    core[k->nargs] = 0;
  }
  /* loop shape: broadcast of every argument's leading dimensions */
  int nd = 0;
  int64_t shape[NDP_MAXDIMS];
  for (int i = 0; i < j->nio; i++) {
    if ((rc = check_arr(arr[i], i, st))) goto done;
    int lnd = arr[i]->ndim - core[i];
    if (lnd < 0) {
      rc = ndp__fail(st, NDP_ESHAPE, "kernel: argument %d has %d dimensions, its core needs %d", i,
                     arr[i]->ndim, core[i]);
      goto done;
    }
    if (lnd > nd) {
      memmove(shape + (lnd - nd), shape, sizeof *shape * (size_t)nd);
      for (int d = 0; d < lnd - nd; d++) shape[d] = 1;
      nd = lnd;
    }
    for (int d = 0; d < lnd; d++) {
      int64_t e = arr[i]->shape[d], *s = &shape[nd - lnd + d];
      if (e == *s || e == 1) continue;
      if (*s == 1) *s = e;
      else {
        rc = ndp__fail(st, NDP_ESHAPE, "kernel: argument %d's shape does not broadcast", i);
        goto done;
      }
    }
  }
  j->nd = nd;
  memcpy(j->shape, shape, sizeof *shape * (size_t)nd);
  int64_t nl = 1;
  for (int d = 0; d < nd; d++)
    if (ndp__mul_overflow(nl, shape[d], &nl)) {
      rc = ndp__fail(st, NDP_EOVERFLOW, "kernel: loop too large");
      goto done;
    }
  j->nlanes = nl;
  for (int i = 0; i < j->nio; i++) {
    const ndp_array *a = arr[i];
    int lnd = a->ndim - core[i];
    int writes = i == k->nargs || k->args[i].output;
    if (writes && lnd != nd) {
      rc = ndp__fail(st, NDP_ESHAPE, "kernel: output %d must have the loop shape", i);
      goto done;
    }
    for (int d = 0; d < nd; d++) {
      int ad = d - (nd - lnd);
      if (ad < 0) j->lstride[i][d] = 0;
      else {
        if (writes && a->shape[ad] != shape[d]) {
          rc = ndp__fail(st, NDP_ESHAPE, "kernel: output %d must have the loop shape", i);
          goto done;
        }
        j->lstride[i][d] = a->shape[ad] == 1 ? 0 : a->strides[ad];
      }
    }
    for (int c = 0; c < core[i]; c++) {
      j->core_shape[i][c] = a->shape[lnd + c];
      j->core_stride[i][c] = a->strides[lnd + c];
    }
    j->data[i] = a->data;
    j->dtype[i] = a->dtype;
    /* dtypes: inputs as compiled; outputs take what the kernel stores
     * under 'same_kind' */
    ndp_dtype want = i == k->nargs ? k->result : k->arg_dtype[i];
    if (!writes && a->dtype != want) {
      rc = ndp__fail(st, NDP_ETYPE, "kernel: argument %d has dtype %s, the kernel was compiled for %s",
                     i, ndp_dtype_name(a->dtype), ndp_dtype_name(want));
      goto done;
    }
    int ints = (want <= NDP_UINT64) && a->dtype >= NDP_INT8 && a->dtype <= NDP_UINT64;
    if (writes && !ndp_can_cast(want, a->dtype, NDP_CASTING_SAME_KIND) &&
        !(ints && i < k->nargs)) {
      rc = ndp__fail(st, NDP_ETYPE, "kernel: cannot store %s results in output %d of dtype %s",
                     ndp_dtype_name(want), i, ndp_dtype_name(a->dtype));
      goto done;
    }
  }
  if (nl == 0) goto done;
  /* blocks of NDP__KB lanes (every instruction runs a whole block), the
   * same for any thread count */
  int64_t B = NDP__KB;
  j->B = B;
  ndp_isa isa = ndp_get_isa();
  j->kt = ndp__ktable_for(isa);
  j->run = ndp__kvm_run_ref;
#if defined(NDP_HAVE_X86)
  if (isa >= NDP_ISA_AVX512) j->run = ndp__kvm_run_avx512;
  else if (isa >= NDP_ISA_AVX2) j->run = ndp__kvm_run_avx2;
#endif
  j->ex = ex;
  j->caller = pthread_self();
  j->interval = ex && ex->poll_interval > 0 ? ex->poll_interval : 0.05;
  j->next_poll = ndp__now() + j->interval;
  ndp_pf_opts o;
  memset(&o, 0, sizeof o);
  o.grain = 1;
  o.nthreads = ex ? ex->nthreads : 0;
  if (ex && ex->poll) {
    o.poll = job_poll;
    o.poll_ud = j;
    o.poll_interval = j->interval;
  }
  int64_t nblocks = (nl + B - 1) / B;
  rc = ndp_parallel_for(nblocks, chunk, j, &o);
  if (j->failed) {
    rc = j->err;
    if (st) *st = j->est;
  } else if (rc == NDP_ECANCELED) {
    ndp__fail(st, rc, "kernel: cancelled");
  } else if (rc) {
    ndp__fail(st, rc, "kernel: %s", ndp_strerror(rc));
  }
done:
  if (!rc) ndp__ok(st);
  ndp__free(j);
  return rc;
}
