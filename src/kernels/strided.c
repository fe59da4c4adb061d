/*
 * kernels/strided.c - NumPy's inner-loop contract (ndp_ufunc_strided): one
 * 1-D strided span of an operation, as a NumPy ufunc object hands it to
 * its loop, for __call__, reduce, accumulate, outer and at alike.
 *
 * NumPy has already resolved the signature, cast the operands and copied
 * the ones that overlap the output by accident; what overlap remains is
 * meant. Three cases:
 *  - elementwise (no overlap, or an output that is an input exactly):
 *    ndp_ufunc, in parallel (a short packed span calls the kernel directly:
 *    NumPy hands over one row at a time when it iterates itself);
 *  - reduction (binary; the output has stride 0 and is input 0): the
 *    associative operations reduce in fixed blocks of BLK elements, each a
 *    tree of kernel calls on halves, and the blocks' results again as a
 *    tree: the same bits for any thread count, pairwise accuracy for sums;
 *    the others fold left in order;
 *  - anything else (accumulate: input 0 is the output one element back):
 *    element by element, in order.
 */
#include <string.h>

#include "core/internal.h"
#include "kernels/engine_internal.h"
#include "kernels/kernels.h"

#define BLK 4096          /* elements per reduction block: 32 KiB at most */
#define SERIAL_MAX 8192   /* a reduction this short stays on the caller */
#define DIRECT_MAX 4096   /* an elementwise span this short skips the planner */

static int associative(int op) {
  switch (op) {
  case NDP_OP_ADD: case NDP_OP_MULTIPLY: case NDP_OP_MINIMUM: case NDP_OP_MAXIMUM:
  case NDP_OP_FMIN: case NDP_OP_FMAX: case NDP_OP_LOGICAL_AND: case NDP_OP_LOGICAL_OR:
  case NDP_OP_LOGICAL_XOR:
    return 1;
  default:
    return 0;
  }
}

static void init1(ndp_array *a, char *data, ndp_dtype dt, int64_t n, int64_t stride) {
  memset(a, 0, sizeof *a);
  a->data = data;
  a->dtype = dt;
  a->ndim = 1;
  a->shape[0] = n;
  a->strides[0] = stride;
}

/* [lo, hi) bytes of n items of size isz from p with stride s. */
static void span(const char *p, int64_t n, int64_t s, size_t isz, const char **lo,
                 const char **hi) {
  int64_t ext = (n - 1) * s;
  *lo = ext < 0 ? p + ext : p;
  *hi = (ext < 0 ? p : p + ext) + isz;
}

static int overlap(const char *a, int64_t sa, const char *b, int64_t sb, int64_t n,
                   size_t isa, size_t isb) {
  const char *alo, *ahi, *blo, *bhi;
  span(a, n, sa, isa, &alo, &ahi);
  span(b, n, sb, isb, &blo, &bhi);
  return alo < bhi && blo < ahi;
}

/* Folds m contiguous items of src into buf[0] as a tree of halves (the
 * odd item of a level folds into item 0 after the halving); buf may be
 * src. The order depends on m only. */
static int tree(ndp__loop_fn fn, const char *src, char *buf, size_t isz, int64_t m) {
  int rc = 0;
  if (m == 1 && src != buf) memcpy(buf, src, isz);
  while (m > 1 && !rc) {
    int64_t h = m / 2;
    const char *in[2] = {src, src + h * isz};
    rc = fn(in, buf, (size_t)h);
    if (!rc && (m & 1)) {
      const char *odd[2] = {buf, src + (m - 1) * isz};
      rc = fn(odd, buf, 1);
    }
    src = buf;
    m = h;
  }
  return rc;
}

typedef struct reduce_job {
  ndp__loop_fn fn;
  const char *x;
  int64_t n, stride;
  size_t isz;
  char *partial;  /* one item per block */
} reduce_job;

static int reduce_blocks(void *ctx, int64_t b0, int64_t b1, int tid) {
  (void)tid;
  const reduce_job *j = ctx;
  _Alignas(64) char buf[BLK * 8];
  for (int64_t b = b0; b < b1; b++) {
    int64_t i0 = b * BLK, m = j->n - i0 < BLK ? j->n - i0 : BLK;
    const char *src = j->x + i0 * j->stride;
    if (j->stride != (int64_t)j->isz || (uintptr_t)src % j->isz) { /* packed first */
      ndp__gather(src, (ptrdiff_t)j->stride, j->isz, 0, buf, (size_t)m);
      src = buf;
    }
    int rc = tree(j->fn, src, buf, j->isz, m);
    if (rc) return rc;
    memcpy(j->partial + b * (int64_t)j->isz, buf, j->isz);
  }
  return 0;
}

/* *acc = *acc op (x[0] op x[1] op ...) in fixed blocks (see the top). */
static int reduce_tree(ndp__loop_fn fn, char *acc, const char *x, int64_t n, int64_t stride,
                       size_t isz, const ndp_exec *ex) {
  int64_t nblk = (n + BLK - 1) / BLK;
  _Alignas(64) char small[64 * 8];
  char *partial = nblk <= 64 ? small : ndp__aligned_alloc(64, (size_t)nblk * isz);
  if (!partial) return NDP_ENOMEM;
  reduce_job j = {fn, x, n, stride, isz, partial};
  int rc;
  if (n <= SERIAL_MAX) {
    rc = reduce_blocks(&j, 0, nblk, 0);
  } else {
    ndp_pf_opts o = {0};
    o.grain = 1;
    if (ex) {
      o.nthreads = ex->nthreads;
      o.poll = ex->poll;
      o.poll_ud = ex->poll_ud;
      o.poll_interval = ex->poll_interval;
    }
    rc = ndp_parallel_for(nblk, reduce_blocks, &j, &o);
  }
  if (!rc) rc = tree(fn, partial, partial, isz, nblk);
  if (!rc) {
    _Alignas(8) char a[8];
    memcpy(a, acc, isz);
    const char *in[2] = {a, partial};
    rc = fn(in, a, 1);
    if (!rc) memcpy(acc, a, isz);
  }
  if (partial != small) ndp__free(partial);
  return rc;
}

/* In order, one element at a time, reading each input after the previous
 * output was written (accumulate; non-associative reductions). */
static int serial(int op, const ndp_dtype *dt, char *const *data, int64_t n,
                  const int64_t *strides, ndp_status *st) {
  const int nin = ndp_op_nin(op);
  ndp__resolved r;
  int rc = ndp__resolve(op, dt, NDP_NTYPES, NDP_CASTING_UNSAFE, &r, st);
  if (rc) return rc;
  const ndp__ktable *t = ndp__ktable_for(ndp_get_isa());
  ndp__loop_fn fn = r.mixed ? NULL : t->fn[op][r.loop];
  int direct = fn && r.out == dt[nin];
  for (int k = 0; k < nin; k++) direct &= dt[k] == r.loop;
  for (int64_t i = 0; i < n; i++) {
    if (direct) {
      _Alignas(8) char a[2][8], o[8];
      const char *in[2] = {a[0], a[1]};
      for (int k = 0; k < nin; k++)
        memcpy(a[k], data[k] + i * strides[k], ndp_dtype_size(dt[k]));
      if ((rc = fn(in, o, 1))) break;
      memcpy(data[nin] + i * strides[nin], o, ndp_dtype_size(dt[nin]));
    } else { /* casts or a mixed comparison: the engine, one element */
      ndp_array a[3];
      const ndp_array *in[2] = {&a[0], &a[1]};
      for (int k = 0; k <= nin; k++) {
        memset(&a[k], 0, sizeof a[k]);
        a[k].data = data[k] + i * strides[k];
        a[k].dtype = dt[k];
      }
      if ((rc = ndp_ufunc(op, in, &a[nin], NDP_NTYPES, NDP_CASTING_UNSAFE, NULL, st))) return rc;
    }
  }
  if (rc == NDP_EDOMAIN)
    return ndp__fail(st, rc, "%s: integers to negative integer powers are not allowed",
                     ndp_op_name(op));
  return rc ? ndp__fail(st, rc, "%s: %s", ndp_op_name(op), ndp_strerror(rc)) : 0;
}

int ndp_ufunc_strided(int op, const ndp_dtype *dt, char *const *data, int64_t n,
                      const int64_t *strides, const ndp_exec *ex, ndp_status *st) {
  const int nin = ndp_op_nin(op);
  if (nin == 0) return ndp__fail(st, NDP_ENOFUNC, "no operation with code %d", op);
  const char *name = ndp_op_name(op);
  if (!dt || !data || !strides || n < 0)
    return ndp__fail(st, NDP_EINVAL, "%s: invalid arguments", name);
  for (int k = 0; k <= nin; k++)
    if ((unsigned)dt[k] >= NDP_NTYPES || !data[k])
      return ndp__fail(st, NDP_EINVAL, "%s: operand %d is invalid", name, k);
  if (n == 0) return 0;
  size_t isz[3];
  for (int k = 0; k <= nin; k++) isz[k] = ndp_dtype_size(dt[k]);
  char *out = data[nin];
  const int64_t so = strides[nin];
  int rc;
  if (nin == 2 && so == 0 && strides[0] == 0 && data[0] == out && n > 1) { /* reduce */
    ndp__resolved r;
    if ((rc = ndp__resolve(op, dt, NDP_NTYPES, NDP_CASTING_UNSAFE, &r, st))) return rc;
    const ndp__ktable *t = ndp__ktable_for(ndp_get_isa());
    ndp__loop_fn fn = r.mixed ? NULL : t->fn[op][r.loop];
    if (associative(op) && fn && dt[0] == r.loop && dt[1] == r.loop && dt[2] == r.out &&
        r.out == r.loop) {
      rc = reduce_tree(fn, out, data[1], n, strides[1], isz[1], ex);
      if (rc == NDP_ENOMEM) return ndp__fail(st, rc, "%s: out of memory", name);
      if (rc == NDP_ECANCELED) return ndp__fail(st, rc, "%s: cancelled", name);
      if (rc) return ndp__fail(st, rc, "%s: %s", name, ndp_strerror(rc));
      ndp__ok(st);
      return 0;
    }
    return serial(op, dt, data, n, strides, st);
  }
  int meant = 0; /* an overlap NumPy left on purpose */
  for (int k = 0; k < nin; k++) {
    int exact = data[k] == out && strides[k] == so && dt[k] == dt[nin];
    if (!exact && overlap(data[k], strides[k], out, so, n, isz[k], isz[nin])) meant = 1;
  }
  if (meant || so == 0) return serial(op, dt, data, n, strides, st);
  if (n <= DIRECT_MAX) { /* a short packed span of the loop's dtypes: the kernel itself */
    ndp__resolved r;
    if ((rc = ndp__resolve(op, dt, NDP_NTYPES, NDP_CASTING_UNSAFE, &r, st))) return rc;
    const ndp__ktable *t = ndp__ktable_for(ndp_get_isa());
    ndp__loop_fn fn = r.mixed ? (r.loop_in[0] == NDP_INT64 ? t->cmp_qQ[op] : t->cmp_Qq[op])
                              : t->fn[op][r.loop];
    int packed = fn && dt[nin] == r.out;
    for (int k = 0; k <= nin && packed; k++) {
      packed = strides[k] == (int64_t)isz[k] && (uintptr_t)data[k] % isz[k] == 0 &&
               (k == nin || dt[k] == r.loop_in[k]);
    }
    if (packed) {
      const char *in[2] = {data[0], nin > 1 ? data[1] : NULL};
      rc = fn(in, out, (size_t)n);
      if (rc == NDP_EDOMAIN)
        return ndp__fail(st, rc, "%s: integers to negative integer powers are not allowed",
                         name);
      if (rc) return ndp__fail(st, rc, "%s: %s", name, ndp_strerror(rc));
      return 0;
    }
  }
  ndp_array a[3];
  const ndp_array *in[2] = {&a[0], &a[1]};
  for (int k = 0; k <= nin; k++) init1(&a[k], data[k], dt[k], n, strides[k]);
  return ndp_ufunc(op, in, &a[nin], NDP_NTYPES, NDP_CASTING_UNSAFE, ex, st);
}
