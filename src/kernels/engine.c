/*
 * kernels/engine.c - runs an elementwise operation over strided N-d arrays
 * on the thread pool.
 *
 * Plan (built once per call, then read-only while threads run):
 *  1. Broadcast the inputs to the output's shape (stride 0 where an input
 *     has extent 1), drop extent-1 dimensions, flip dimensions where the
 *     output's stride is negative, sort dimensions by the output's stride
 *     (largest first) and merge dimensions that are contiguous in every
 *     operand. An F-ordered or transposed array is thus walked in memory
 *     order, and contiguous arrays become one flat run.
 *  2. Split the flat index space [0, n) into chunks for the pool. A chunk
 *     walks runs along the innermost dimension.
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
#include "kernels/kernels.h"

#define BLOCK 1024 /* elements per buffered step: 8 KiB per buffer at most */

typedef struct plan {
  int nops;                    /* inputs + output */
  ndp__loop_fn fn;
  ndp_dtype dt[3];             /* array dtypes; [nops-1] is the output */
  ndp_dtype kdt[3];            /* kernel dtypes (loop_in[], loop out) */
  int swap[3];
  size_t isz[3], ksz[3];
  ndp__cast_fn to_kernel[2];   /* dt -> kdt for inputs (NULL: same) */
  ndp__cast_fn from_kernel;    /* kdt -> dt for the output (NULL: same) */
  int direct[3];               /* operand used in place along the inner dim */
  int ndim;
  int64_t shape[NDP_MAXDIMS];
  char *data[3];
  int64_t strides[3][NDP_MAXDIMS];
} plan;

/* ---- planning ------------------------------------------------------------ */

static int broadcast_into(plan *p, int k, const ndp_array *a, const ndp_array *out,
                          const char *what, ndp_status *st) {
  int off = out->ndim - a->ndim;
  if (off < 0)
    return ndp__fail(st, NDP_ESHAPE, "%s has more dimensions (%d) than the output (%d)",
                     what, a->ndim, out->ndim);
  for (int d = 0; d < out->ndim; d++) {
    int64_t ext = d < off ? 1 : a->shape[d - off];
    int64_t str = d < off ? 0 : a->strides[d - off];
    if (ext == out->shape[d]) {
      p->strides[k][d] = ext == 1 ? 0 : str;
    } else if (ext == 1) {
      p->strides[k][d] = 0;
    } else {
      return ndp__fail(st, NDP_ESHAPE,
                       "%s with extent %lld in dimension %d does not broadcast to "
                       "the output's extent %lld",
                       what, (long long)ext, d - off, (long long)out->shape[d]);
    }
  }
  p->data[k] = a->data;
  return 0;
}

static void simplify(plan *p) {
  const int o = p->nops - 1;
  int nd = 0;
  for (int d = 0; d < p->ndim; d++) { /* drop extent-1 dims */
    if (p->shape[d] == 1) continue;
    p->shape[nd] = p->shape[d];
    for (int k = 0; k < p->nops; k++) p->strides[k][nd] = p->strides[k][d];
    nd++;
  }
  for (int d = 0; d < nd; d++) { /* walk the output forwards */
    if (p->strides[o][d] >= 0) continue;
    for (int k = 0; k < p->nops; k++) {
      p->data[k] += (p->shape[d] - 1) * p->strides[k][d];
      p->strides[k][d] = -p->strides[k][d];
    }
  }
  for (int i = 1; i < nd; i++) { /* insertion sort: output stride descending */
    for (int j = i; j > 0 && p->strides[o][j - 1] < p->strides[o][j]; j--) {
      int64_t t = p->shape[j];
      p->shape[j] = p->shape[j - 1];
      p->shape[j - 1] = t;
      for (int k = 0; k < p->nops; k++) {
        t = p->strides[k][j];
        p->strides[k][j] = p->strides[k][j - 1];
        p->strides[k][j - 1] = t;
      }
    }
  }
  int m = 0; /* merge d into m when contiguous in every operand */
  for (int d = 1; d < nd; d++) {
    int ok = 1;
    for (int k = 0; k < p->nops; k++)
      ok &= p->strides[k][m] == p->strides[k][d] * p->shape[d];
    if (ok) {
      p->shape[m] *= p->shape[d];
      for (int k = 0; k < p->nops; k++) p->strides[k][m] = p->strides[k][d];
    } else {
      m++;
      p->shape[m] = p->shape[d];
      for (int k = 0; k < p->nops; k++) p->strides[k][m] = p->strides[k][d];
    }
  }
  nd = nd ? m + 1 : 0;
  if (nd == 0) { /* one element */
    nd = 1;
    p->shape[0] = 1;
    for (int k = 0; k < p->nops; k++) p->strides[k][0] = (int64_t)p->isz[k];
  }
  p->ndim = nd;
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

/* One run of m elements along the innermost dimension from pointers ptr[]. */
static int run(const plan *p, char *const *ptr, int64_t m) {
  const int nin = p->nops - 1, o = nin;
  _Alignas(64) char raw[3][BLOCK * 8];
  _Alignas(64) char cvt[3][BLOCK * 8];
  const int all_direct = p->direct[0] && p->direct[o] && (nin < 2 || p->direct[1]);
  if (all_direct) {
    const char *in[2] = {ptr[0], nin > 1 ? ptr[1] : NULL};
    return p->fn(in, ptr[o], (size_t)m);
  }
  for (int64_t done = 0; done < m; done += BLOCK) {
    size_t b = (size_t)(m - done < BLOCK ? m - done : BLOCK);
    const char *in[2] = {NULL, NULL};
    for (int k = 0; k < nin; k++) {
      const char *src = ptr[k] + done * p->strides[k][p->ndim - 1];
      if (p->direct[k]) {
        in[k] = src;
        continue;
      }
      ndp__gather(src, (ptrdiff_t)p->strides[k][p->ndim - 1], p->isz[k], p->swap[k],
                  raw[k], b);
      if (p->to_kernel[k]) {
        p->to_kernel[k](raw[k], cvt[k], b);
        in[k] = cvt[k];
      } else {
        in[k] = raw[k];
      }
    }
    char *dst = ptr[o] + done * p->strides[o][p->ndim - 1];
    int rc = p->fn(in, p->direct[o] ? dst : raw[o], b);
    if (rc) return rc;
    if (!p->direct[o]) {
      const char *res = raw[o];
      if (p->from_kernel) {
        p->from_kernel(raw[o], cvt[o], b);
        res = cvt[o];
      }
      ndp__scatter(res, p->isz[o], p->swap[o], dst,
                   (ptrdiff_t)p->strides[o][p->ndim - 1], b);
    }
  }
  return 0;
}

static int chunk(void *ctx, int64_t begin, int64_t end, int tid) {
  const plan *p = ctx;
  const int nd = p->ndim;
  const int64_t inner = p->shape[nd - 1];
  int64_t idx[NDP_MAXDIMS];
  (void)tid;
  int64_t rest = begin / inner, i0 = begin % inner;
  for (int d = nd - 2; d >= 0; d--) {
    idx[d] = rest % p->shape[d];
    rest /= p->shape[d];
  }
  int64_t pos = begin;
  while (pos < end) {
    char *ptr[3];
    for (int k = 0; k < p->nops; k++) {
      char *q = p->data[k] + i0 * p->strides[k][nd - 1];
      for (int d = 0; d < nd - 1; d++) q += idx[d] * p->strides[k][d];
      ptr[k] = q;
    }
    int64_t m = inner - i0 < end - pos ? inner - i0 : end - pos;
    int rc = run(p, ptr, m);
    if (rc) return rc;
    pos += m;
    i0 = 0;
    for (int d = nd - 2; d >= 0; d--) { /* next row */
      if (++idx[d] < p->shape[d]) break;
      idx[d] = 0;
    }
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

static int execute(int nin, const ndp_array *const *in, const ndp_array *out,
                   ndp__loop_fn fn, ndp__loop_fn fn_nt, const ndp_dtype *kdt,
                   int64_t grain,
                   const ndp_exec *ex, const char *name, ndp_status *st) {
  plan p;
  memset(&p, 0, sizeof p);
  p.nops = nin + 1;
  p.fn = fn;
  p.ndim = out->ndim;
  memcpy(p.shape, out->shape, sizeof(int64_t) * (size_t)out->ndim);
  const ndp_array *ops[3] = {in[0], nin > 1 ? in[1] : out, out};
  ops[nin] = out;
  char *tmp[2] = {NULL, NULL};
  ndp_array copies[2];
  int rc = 0;
  for (int k = 0; k < p.nops; k++) {
    p.dt[k] = ops[k]->dtype;
    p.kdt[k] = kdt[k];
    p.swap[k] = (ops[k]->flags & NDP_ARRAY_BYTESWAPPED) && ndp_dtype_size(ops[k]->dtype) > 1;
    p.isz[k] = ndp_dtype_size(p.dt[k]);
    p.ksz[k] = ndp_dtype_size(p.kdt[k]);
  }
  for (int k = 0; k < nin; k++) {
    const ndp_array *a = in[k];
    if (ndp__detach_overlap(a, out, 1, &copies[k], (void **)&tmp[k])) {
      rc = ndp__fail(st, NDP_ENOMEM, "%s: no memory to copy an overlapping input", name);
      goto done;
    }
    if (tmp[k]) a = &copies[k]; /* partial overlap: work from a copy */
    rc = broadcast_into(&p, k, a, out, k == 0 ? "input 0" : "input 1", st);
    if (rc) goto done;
    if (p.dt[k] != p.kdt[k]) p.to_kernel[k] = ndp__cast(p.dt[k], p.kdt[k]);
  }
  for (int d = 0; d < out->ndim; d++) p.strides[nin][d] = out->strides[d];
  p.data[nin] = out->data;
  if (p.dt[nin] != p.kdt[nin]) p.from_kernel = ndp__cast(p.kdt[nin], p.dt[nin]);
  int64_t n = ndp_array_size(out);
  if (n == 0) goto done;
  for (int d = 0; d < out->ndim; d++)
    if (out->shape[d] > 1 && out->strides[d] == 0) {
      rc = ndp__fail(st, NDP_EINVAL, "%s: the output has a zero stride in dimension %d", name, d);
      goto done;
    }
  simplify(&p);
  if (fn_nt && p.direct[nin] && n * (int64_t)p.isz[nin] >= nt_threshold()) p.fn = fn_nt;

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
