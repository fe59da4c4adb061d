/*
 * kernels/engine.c - runs an elementwise operation over strided N-d arrays
 * on the thread pool.
 *
 * Plan (built once per call, then read-only while threads run):
 *  1. The shared iterator (kernels/iter.h) broadcasts the inputs to the
 *     output's shape, drops extent-1 dimensions, flips dimensions where the
 *     output's stride is negative, sorts dimensions by the output's stride
 *     and merges dimensions contiguous in every operand: the walk follows
 *     the output's memory order, and contiguous arrays are one flat run.
 *  2. Split the flat index space [0, n) into chunks for the pool. A chunk
 *     walks runs along the innermost dimension (ndp__iter_next).
 *  3. A run uses the operands in place when they are contiguous, in native
 *     byte order and already of the loop's dtype (the common case: no
 *     copy at all). Otherwise it goes through per-thread stack buffers of
 *     BLOCK elements: gather (and byte-swap), cast to the loop dtype, run
 *     the kernel, cast to the output dtype, scatter. No buffer ever has the
 *     size of an operand.
 * In-place use (output == input, same strides) is safe because every
 * element is read before it is written by the same thread. An input that
 * overlaps the output in any other way is first copied (as NumPy does).
 */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "kernels/engine_internal.h"
#include "kernels/iter.h"
#include "kernels/kernels.h"

#define BLOCK 1024 /* elements per buffered step: 8 KiB per buffer at most */

typedef struct plan {
  int nops;                    /* output + inputs: operand 0 is the output */
  ndp__loop_fn fn;
  ndp_dtype dt[3];             /* array dtypes */
  ndp_dtype kdt[3];            /* kernel dtypes (loop out, loop_in[]) */
  int swap[3];
  size_t isz[3], ksz[3];
  ndp__cast_fn to_kernel[3];   /* dt -> kdt for inputs 1, 2 (NULL: same) */
  ndp__cast_fn from_kernel;    /* kdt -> dt for the output (NULL: same) */
  int direct[3];               /* operand used in place along the inner dim */
  ndp__iter it;                /* the walk (kernels/iter.h) over data, strides */
  char *data[3];
  int64_t strides[3][NDP_MAXDIMS];
} plan;

/* ---- planning ------------------------------------------------------------ */

/* After ndp__iter_plan: which operands runs use in place. */
static void set_direct(plan *p) {
  const int nd = p->it.ndim;
  if (p->it.n == 1) /* one element: the walk has strides 0 */
    for (int k = 0; k < p->nops; k++) p->strides[k][0] = (int64_t)p->isz[k];
  for (int k = 0; k < p->nops; k++) /* kernels need aligned, packed items */
    p->direct[k] = p->strides[k][nd - 1] == (int64_t)p->isz[k] &&
                   p->dt[k] == p->kdt[k] && !p->swap[k] &&
                   (uintptr_t)p->data[k] % p->isz[k] == 0 &&
                   (nd < 2 || p->strides[k][nd - 2] % (int64_t)p->isz[k] == 0);
}

/* Byte range [lo, hi) an array touches; empty arrays touch nothing. */
static void extent(const ndp_array *a, const char **lo, const char **hi) {
  const char *b = a->data;
  int64_t l = 0, h = 0;
  for (int d = 0; d < a->ndim; d++) {
    if (a->shape[d] == 0) {
      *lo = *hi = b;
      return;
    }
    int64_t span = (a->shape[d] - 1) * a->strides[d];
    if (span < 0) l += span;
    else h += span;
  }
  *lo = b + l;
  *hi = b + h + (int64_t)ndp_dtype_size(a->dtype);
}

static int same_layout(const ndp_array *a, const ndp_array *b) {
  if (a->data != b->data || a->ndim != b->ndim ||
      ndp_dtype_size(a->dtype) != ndp_dtype_size(b->dtype))
    return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d] || (a->shape[d] > 1 && a->strides[d] != b->strides[d]))
      return 0;
  return 1;
}

/* Whether the byte ranges of two arrays intersect. */
static int touches(const ndp_array *a, const ndp_array *b) {
  const char *l1, *h1, *l2, *h2;
  extent(a, &l1, &h1);
  extent(b, &l2, &h2);
  return l1 != h1 && l2 != h2 && l1 < h2 && l2 < h1;
}

/* ... other than exactly (same memory, same layout: in place is fine for
 * elementwise work). */
static int overlaps(const ndp_array *in, const ndp_array *out) {
  return touches(in, out) && !same_layout(in, out);
}

/* Copies a (raw bytes, any strides) into a fresh C-contiguous array. */
static void copy_raw(const char *src, const int64_t *shape, const int64_t *strides,
                     int ndim, size_t isz, char **dst) {
  if (ndim == 0) {
    memcpy(*dst, src, isz);
    *dst += isz;
    return;
  }
  for (int64_t i = 0; i < shape[0]; i++)
    copy_raw(src + i * strides[0], shape + 1, strides + 1, ndim - 1, isz, dst);
}

int ndp__detach_overlap(const ndp_array *in, const ndp_array *out, int exact_ok,
                        ndp_array *copy, void **buf) {
  *buf = NULL;
  if (exact_ok ? !overlaps(in, out) : !touches(in, out)) return 0;
  int64_t n = ndp_array_size(in);
  size_t isz = ndp_dtype_size(in->dtype);
  if (!(*buf = ndp__malloc((size_t)n * isz))) return NDP_ENOMEM;
  char *w = *buf;
  copy_raw(in->data, in->shape, in->strides, in->ndim, isz, &w);
  ndp_array_init(copy, *buf, in->dtype, in->ndim, in->shape);
  copy->flags = in->flags;
  return 0;
}

static int validate_array(const ndp_array *a, const char *what, ndp_status *st) {
  if (!a) return ndp__fail(st, NDP_EINVAL, "%s is NULL", what);
  if ((unsigned)a->dtype >= NDP_NTYPES)
    return ndp__fail(st, NDP_ETYPE, "%s has an invalid dtype (%d)", what, (int)a->dtype);
  if (a->ndim < 0 || a->ndim > NDP_MAXDIMS)
    return ndp__fail(st, NDP_EINVAL, "%s has ndim %d (0..%d allowed)", what, a->ndim,
                     NDP_MAXDIMS);
  if (ndp_array_size(a) < 0)
    return ndp__fail(st, NDP_EINVAL, "%s has a negative or overflowing shape", what);
  if (!a->data && ndp_array_size(a) > 0)
    return ndp__fail(st, NDP_EINVAL, "%s has no data", what);
  return 0;
}

/* ---- execution ----------------------------------------------------------- */

/* One run of m elements along the innermost dimension from pointers ptr[]
 * (ptr[0] the output). */
static int run(const plan *p, char *const *ptr, int64_t m) {
  const int nin = p->nops - 1, nd = p->it.ndim;
  _Alignas(64) char raw[3][BLOCK * 8];
  _Alignas(64) char cvt[3][BLOCK * 8];
  const int all_direct = p->direct[0] && p->direct[1] && (nin < 2 || p->direct[2]);
  if (all_direct) {
    const char *in[2] = {ptr[1], nin > 1 ? ptr[2] : NULL};
    return p->fn(in, ptr[0], (size_t)m);
  }
  for (int64_t done = 0; done < m; done += BLOCK) {
    size_t b = (size_t)(m - done < BLOCK ? m - done : BLOCK);
    const char *in[2] = {NULL, NULL};
    for (int k = 1; k <= nin; k++) {
      const char *src = ptr[k] + done * p->strides[k][nd - 1];
      if (p->direct[k]) {
        in[k - 1] = src;
        continue;
      }
      ndp__gather(src, (ptrdiff_t)p->strides[k][nd - 1], p->isz[k], p->swap[k], raw[k], b);
      if (p->to_kernel[k]) {
        p->to_kernel[k](raw[k], cvt[k], b);
        in[k - 1] = cvt[k];
      } else {
        in[k - 1] = raw[k];
      }
    }
    char *dst = ptr[0] + done * p->strides[0][nd - 1];
    int rc = p->fn(in, p->direct[0] ? dst : raw[0], b);
    if (rc) return rc;
    if (!p->direct[0]) {
      const char *res = raw[0];
      if (p->from_kernel) {
        p->from_kernel(raw[0], cvt[0], b);
        res = cvt[0];
      }
      ndp__scatter(res, p->isz[0], p->swap[0], dst, (ptrdiff_t)p->strides[0][nd - 1], b);
    }
  }
  return 0;
}

static int chunk(void *ctx, int64_t begin, int64_t end, int tid) {
  const plan *p = ctx;
  ndp__iter_pos c;
  char *ptr[3];
  int64_t m;
  (void)tid;
  ndp__iter_seek(&p->it, begin, end - begin, &c);
  while ((m = ndp__iter_next(&p->it, &c, 0, p->nops, ptr)) > 0) {
    int rc = run(p, ptr, m);
    if (rc) return rc;
  }
  return 0;
}

static int copy_kernel(const char *const *in, char *out, size_t n, size_t isz) {
  if (out != in[0]) memmove(out, in[0], n * isz);
  return 0;
}
static int copy1(const char *const *in, char *out, size_t n) { return copy_kernel(in, out, n, 1); }
static int copy2(const char *const *in, char *out, size_t n) { return copy_kernel(in, out, n, 2); }
static int copy4(const char *const *in, char *out, size_t n) { return copy_kernel(in, out, n, 4); }
static int copy8(const char *const *in, char *out, size_t n) { return copy_kernel(in, out, n, 8); }
/* bool -> bool reads any nonzero byte as True and writes 0/1 */
static int copy_bool(const char *const *in, char *out, size_t n) {
  const unsigned char *a = (const unsigned char *)in[0];
  unsigned char *o = (unsigned char *)out;
  for (size_t i = 0; i < n; i++) o[i] = a[i] != 0;
  return 0;
}

/* Shared by ndp_ufunc and ndp_copy: runs fn with kernel dtypes kdt[] over
 * in[0..nin) -> out. */
/* Output size from which streaming stores pay: the last-level cache. */
static int64_t nt_threshold(void) { return ndp__llc_bytes(); }

/* Operand k of the plan (0: the output) from array a and kernel dtype kd. */
static void set_operand(plan *p, int k, const ndp_array *a, ndp_dtype kd) {
  p->dt[k] = a->dtype;
  p->kdt[k] = kd;
  p->swap[k] = (a->flags & NDP_ARRAY_BYTESWAPPED) && ndp_dtype_size(a->dtype) > 1;
  p->isz[k] = ndp_dtype_size(p->dt[k]);
  p->ksz[k] = ndp_dtype_size(p->kdt[k]);
}

static int execute(int nin, const ndp_array *const *in, const ndp_array *out,
                   ndp__loop_fn fn, ndp__loop_fn fn_nt, const ndp_dtype *kdt,
                   int64_t grain,
                   const ndp_exec *ex, const char *name, ndp_status *st) {
  plan p;
  memset(&p, 0, sizeof p);
  p.nops = nin + 1;
  p.fn = fn;
  ndp__iter_init(&p.it, p.nops, p.data, p.strides, out->ndim, out->shape);
  char *tmp[2] = {NULL, NULL};
  ndp_array copies[2];
  int rc = 0;
  set_operand(&p, 0, out, kdt[nin]);
  for (int k = 0; k < nin; k++) set_operand(&p, k + 1, in[k], kdt[k]);
  for (int k = 0; k < nin; k++) {
    const ndp_array *a = in[k];
    if (ndp__detach_overlap(a, out, 1, &copies[k], (void **)&tmp[k])) {
      rc = ndp__fail(st, NDP_ENOMEM, "%s: no memory to copy an overlapping input", name);
      goto done;
    }
    if (tmp[k]) a = &copies[k]; /* partial overlap: work from a copy */
    rc = ndp__iter_operand(&p.it, k + 1, a, k == 0 ? "input 0" : "input 1", st);
    if (rc) goto done;
    if (p.dt[k + 1] != p.kdt[k + 1]) p.to_kernel[k + 1] = ndp__cast(p.dt[k + 1], p.kdt[k + 1]);
  }
  ndp__iter_operand(&p.it, 0, out, "output", st); /* its own shape: cannot fail */
  if (p.dt[0] != p.kdt[0]) p.from_kernel = ndp__cast(p.kdt[0], p.dt[0]);
  int64_t n = p.it.n;
  if (n == 0) goto done;
  for (int d = 0; d < out->ndim; d++)
    if (out->shape[d] > 1 && out->strides[d] == 0) {
      rc = ndp__fail(st, NDP_EINVAL, "%s: the output has a zero stride in dimension %d", name, d);
      goto done;
    }
  ndp__iter_plan(&p.it, 0);
  set_direct(&p);
  if (fn_nt && p.direct[0] && n * (int64_t)p.isz[0] >= nt_threshold()) p.fn = fn_nt;

  ndp_pf_opts o = {0};
  o.grain = grain;
  o.max_chunk = 1 << 20; /* keeps cancel and progress prompt (< ~20 ms a chunk) */
  if (ex) {
    o.nthreads = ex->nthreads;
    o.poll = ex->poll;
    o.poll_ud = ex->poll_ud;
    o.poll_interval = ex->poll_interval;
  }
  rc = ndp_parallel_for(n, chunk, &p, &o);
  if (rc == NDP_EDOMAIN)
    ndp__fail(st, rc, "%s: integers to negative integer powers are not allowed", name);
  else if (rc == NDP_ECANCELED)
    ndp__fail(st, rc, "%s: cancelled", name);
  else if (rc)
    ndp__fail(st, rc, "%s: %s", name, ndp_strerror(rc));
done:
  ndp__free(tmp[0]);
  ndp__free(tmp[1]);
  return rc;
}

/* Chunks of at least this many elements: a wake-up costs a few
 * microseconds, so cheap operations need more elements to pay for it. */
static int64_t grain_of(int op) {
  if (op < 0) return 1 << 15;
  if (op <= NDP_OP_ARCTANH || op == NDP_OP_POWER || op == NDP_OP_ARCTAN2 ||
      op == NDP_OP_HYPOT)
    return 1 << 12;
  return 1 << 15;
}

int ndp_broadcast_shape(int n, const ndp_array *const *arrs, int *ndim,
                        int64_t *shape, ndp_status *st) {
  if (n < 0 || (n > 0 && !arrs) || !ndim || !shape)
    return ndp__fail(st, NDP_EINVAL, "broadcast_shape: invalid arguments");
  int nd = 0;
  for (int i = 0; i < n; i++) {
    if (!arrs[i] || arrs[i]->ndim < 0 || arrs[i]->ndim > NDP_MAXDIMS)
      return ndp__fail(st, NDP_EINVAL, "broadcast_shape: array %d is invalid", i);
    if (arrs[i]->ndim > nd) nd = arrs[i]->ndim;
  }
  for (int d = 0; d < nd; d++) shape[d] = 1;
  for (int i = 0; i < n; i++) {
    const ndp_array *a = arrs[i];
    int off = nd - a->ndim;
    for (int d = 0; d < a->ndim; d++) {
      int64_t e = a->shape[d], *s = &shape[d + off];
      if (e == *s || e == 1) continue;
      if (*s == 1) {
        *s = e;
        continue;
      }
      return ndp__fail(st, NDP_ESHAPE,
                       "shapes cannot be broadcast together: extent %lld vs %lld in "
                       "dimension %d from the end",
                       (long long)e, (long long)*s, a->ndim - d);
    }
  }
  *ndim = nd;
  ndp__ok(st);
  return 0;
}

/* The inputs must broadcast to the output's shape (NumPy lets `out` be
 * larger than the inputs' own broadcast shape). */
static int check_out_shape(int nin, const ndp_array *const *in, const ndp_array *out,
                           const char *name, ndp_status *st) {
  int nd;
  int64_t shape[NDP_MAXDIMS];
  const ndp_array *all[3] = {in[0], nin > 1 ? in[1] : out, out};
  int rc = ndp_broadcast_shape(nin + 1, all, &nd, shape, st);
  if (rc) return rc;
  int same = nd == out->ndim;
  for (int d = 0; same && d < nd; d++) same = shape[d] == out->shape[d];
  if (!same)
    return ndp__fail(st, NDP_ESHAPE,
                     "%s: the inputs do not broadcast to the output's shape",
                     name);
  return 0;
}

int ndp_ufunc(int op, const ndp_array *const *in, const ndp_array *out, ndp_dtype loop,
              ndp_casting casting, const ndp_exec *ex, ndp_status *st) {
  int nin = ndp_op_nin(op);
  if (nin == 0) return ndp__fail(st, NDP_ENOFUNC, "no operation with code %d", op);
  const char *name = ndp_op_name(op);
  if (!in) return ndp__fail(st, NDP_EINVAL, "%s: inputs are NULL", name);
  int rc;
  for (int k = 0; k < nin; k++)
    if ((rc = validate_array(in[k], k ? "input 1" : "input 0", st))) return rc;
  if ((rc = validate_array(out, "output", st))) return rc;
  /* weak operands settle into s (NEP 50; resolve.c) */
  ndp__settled s;
  if ((rc = ndp__settle(op, in, loop, casting, NULL, &s, st))) return rc;
  in = s.in;
  const ndp__resolved r = s.r;
  if (!ndp_can_cast(r.out, out->dtype, casting))
    return ndp__fail(st, NDP_ECAST,
                     "%s: cannot cast the result from %s to the output's %s under the "
                     "casting rule",
                     name, ndp_dtype_name(r.out), ndp_dtype_name(out->dtype));
  if ((rc = check_out_shape(nin, in, out, name, st))) return rc;
  const ndp__ktable *t = ndp__ktable_for(ndp_get_isa());
  ndp__loop_fn fn = t->fn[op][r.loop];
  if (r.mixed) fn = r.loop_in[0] == NDP_INT64 ? t->cmp_qQ[op] : t->cmp_Qq[op];
  if (!fn) return ndp__fail(st, NDP_ETYPE, "%s: no kernel for %s", name, ndp_dtype_name(r.loop));
  ndp_dtype kdt[3] = {r.loop_in[0], r.loop_in[1], r.out};
  kdt[nin] = r.out;
  ndp__loop_fn fn_nt = r.mixed ? NULL : t->fn_nt[op][r.loop];
  rc = execute(nin, in, out, fn, fn_nt, kdt, grain_of(op), ex, name, st);
  if (!rc) ndp__ok(st);
  return rc;
}

int ndp_copy(const ndp_array *src, const ndp_array *dst, ndp_casting casting,
             const ndp_exec *ex, ndp_status *st) {
  int rc;
  if ((rc = validate_array(src, "source", st))) return rc;
  if ((rc = validate_array(dst, "destination", st))) return rc;
  if (!ndp_can_cast(src->dtype, dst->dtype, casting))
    return ndp__fail(st, NDP_ECAST, "copy: cannot cast %s to %s under the casting rule",
                     ndp_dtype_name(src->dtype), ndp_dtype_name(dst->dtype));
  const ndp_array *in[1] = {src};
  if ((rc = check_out_shape(1, in, dst, "copy", st))) return rc;
  static const ndp__loop_fn copies[9] = {NULL, copy1, copy2, NULL, copy4,
                                         NULL, NULL,  NULL, copy8};
  ndp_dtype kdt[3] = {dst->dtype, dst->dtype, dst->dtype};
  ndp__loop_fn fn = dst->dtype == NDP_BOOL ? copy_bool : copies[ndp_dtype_size(dst->dtype)];
  rc = execute(1, in, dst, fn, NULL, kdt, grain_of(-1), ex, "copy", st);
  if (!rc) ndp__ok(st);
  return rc;
}
