/*
 * expr/vm.c - evaluates a compiled program over strided N-d inputs.
 *
 * Plan (per call, read-only while threads run), with the engine's
 * iterator (kernels/iter.h): broadcast the used variables to the result
 * shape S, give the output strides in S's index space (0 along a reduced
 * axis), drop extent-1 dimensions and merge dimensions contiguous in every
 * operand. An elementwise program also flips and sorts the dimensions
 * into the output's memory order (an F-ordered output is walked as one
 * run); a reduction keeps the C-order flat index over S, in which its
 * blocks are cut. Work is described as flat ranges of the planned shape.
 *
 * A block is a flat range of at most BLK elements. To evaluate one, each
 * input register gets a pointer: straight into the array when the range
 * is one contiguous, aligned, native-order run of the right dtype, else a
 * per-thread buffer filled by gathering the range's runs (byte-swapping);
 * a fully broadcast input is filled once per chunk. A boolean input is
 * always copied, as byte != 0, so everything after reads 0/1. Then the bytecode runs
 * over the block, each instruction one call of a contiguous kernel from
 * the kernel table (or a where/bitwise/cast loop here). The result's
 * register points into the output when that is a plain run of the result
 * dtype, so the last instruction writes the output directly (for outputs
 * larger than the last-level cache it is written from the block with
 * non-temporal stores instead, sparing the read-for-ownership); otherwise
 * it is cast and scattered. Nothing array-sized is allocated, except the
 * copy of an input that partly overlaps the output (below).
 *
 * where(c, x, f(y)) with a costly f used nowhere else (compile.c fuses
 * it) computes f only on the lanes where c is false: the lanes are packed
 * (whole runs copied when the condition changes rarely in the block, else
 * by index), f runs on the packed block, the results are unpacked; a
 * block where c is all true or all false skips the other branch.
 *
 * Reductions are deterministic: the work is cut into blocks whose size
 * does not depend on the thread count, and partial results are combined
 * in a fixed order. float64 sums and means are exact (xsum.c: a
 * superaccumulator per thread, per row or per output element, merged
 * exactly, rounded once), so correctly rounded and the same for
 * any thread count or split of the data. Other reductions, whole-array:
 * one partial per block (float sums are pairwise inside the block, as
 * NumPy's), then a pairwise tree over the partials. Along an axis: each output element is reduced by one thread
 * in a fixed order (the last axis: per-block partials combined by a
 * binary-counter pairwise tree; other axes: sequential accumulation over
 * the axis, vectorized over up to BLK output elements).
 *
 * Aliasing: the output may be an input exactly (each block reads its
 * inputs before its last instruction writes the same positions); an input
 * that overlaps the output in any other way is first copied to a
 * temporary array and read from there, as NumPy does.
 *
 * Thread-safety: the program is only read; every thread works in its own
 * scratch block (allocated per chunk), so any number of evaluations of
 * one program may run at once.
 */
#include <math.h>
#include <string.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "expr/expr_internal.h"
#include "kernels/engine_internal.h"
#include "kernels/iter.h"
#include "kernels/kernels.h"

#define BLK NDP__EXPR_BLOCK
#define BLKB ((size_t)BLK * 8)

/* ---- elementwise helpers (also used by compile.c's folding) -------------- */

#define BITLOOP(T)                                                            \
  do {                                                                        \
    const T *x = (const T *)(const void *)a, *y = (const T *)(const void *)b; \
    T *z = (T *)(void *)o;                                                    \
    if (op == B_AND)                                                          \
      for (size_t i = 0; i < n; i++) z[i] = (T)(x[i] & y[i]);                 \
    else if (op == B_OR)                                                      \
      for (size_t i = 0; i < n; i++) z[i] = (T)(x[i] | y[i]);                 \
    else                                                                      \
      for (size_t i = 0; i < n; i++) z[i] = (T)(x[i] ^ y[i]);                 \
  } while (0)

void ndp__x_bit(int op, size_t isz, const char *a, const char *b, char *o, size_t n) {
  switch (isz) {
  case 1: BITLOOP(uint8_t); break;
  case 2: BITLOOP(uint16_t); break;
  case 4: BITLOOP(uint32_t); break;
  default: BITLOOP(uint64_t); break;
  }
}

#define NOTLOOP(T)                                                         \
  do {                                                                     \
    const T *x = (const T *)(const void *)a;                               \
    T *z = (T *)(void *)o;                                                 \
    for (size_t i = 0; i < n; i++) z[i] = (T)~x[i];                        \
  } while (0)

void ndp__x_not(ndp_dtype dt, const char *a, char *o, size_t n) {
  if (dt == NDP_BOOL) {
    for (size_t i = 0; i < n; i++) o[i] = (char)(a[i] == 0);
    return;
  }
  switch (ndp_dtype_size(dt)) {
  case 1: NOTLOOP(uint8_t); break;
  case 2: NOTLOOP(uint16_t); break;
  case 4: NOTLOOP(uint32_t); break;
  default: NOTLOOP(uint64_t); break;
  }
}

#define WHERELOOP(T)                                                            \
  do {                                                                          \
    const T *x = (const T *)(const void *)a, *y = (const T *)(const void *)b;   \
    T *z = (T *)(void *)o;                                                      \
    for (size_t i = 0; i < n; i++) { /* branch-free: c is often random */     \
      T m = (T)((T)0 - (T)(c[i] != 0));                                         \
      z[i] = (T)((x[i] & m) | (y[i] & (T)~m));                                  \
    }                                                                           \
  } while (0)

void ndp__x_where(size_t isz, const char *c, const char *a, const char *b, char *o,
                  size_t n) {
  switch (isz) {
  case 1: WHERELOOP(uint8_t); break;
  case 2: WHERELOOP(uint16_t); break;
  case 4: WHERELOOP(uint32_t); break;
  default: WHERELOOP(uint64_t); break;
  }
}

/* ---- accumulators ----------------------------------------------------------- */

typedef union acc {
  double d;
  int64_t i;
  uint64_t u;
  unsigned char b;
} acc;

static acc identity(int red, ndp_dtype adt) {
  acc r;
  memset(&r, 0, sizeof r);
  int isf = adt == NDP_FLOAT64, isu = adt == NDP_UINT64;
  switch (red) {
  case R_PROD: if (isf) r.d = 1.0; else r.u = 1; break;
  case R_MIN: if (isf) r.d = INFINITY; else if (isu) r.u = UINT64_MAX; else r.i = INT64_MAX; break;
  case R_MAX: if (isf) r.d = -INFINITY; else if (isu) r.u = 0; else r.i = INT64_MIN; break;
  case R_ALL: r.b = 1; break;
  default: break;
  }
  return r;
}

/* x comes before y. The first NaN wins; between equal values (0.0 and
 * -0.0) the later one, as NumPy's maximum(x, y) and its reduction of an
 * array of zeros. */
static double fmin_nan(double x, double y) { return isnan(x) ? x : isnan(y) ? y : x < y ? x : y; }
static double fmax_nan(double x, double y) { return isnan(x) ? x : isnan(y) ? y : x > y ? x : y; }

static acc combine(int red, ndp_dtype adt, acc x, acc y) {
  int isf = adt == NDP_FLOAT64, isu = adt == NDP_UINT64;
  switch (red) {
  case R_SUM: case R_MEAN: if (isf) x.d += y.d; else x.u += y.u; break;
  case R_PROD: if (isf) x.d *= y.d; else x.u *= y.u; break;
  case R_MIN:
    if (isf) x.d = fmin_nan(x.d, y.d);
    else if (isu) x.u = y.u < x.u ? y.u : x.u;
    else x.i = y.i < x.i ? y.i : x.i;
    break;
  case R_MAX:
    if (isf) x.d = fmax_nan(x.d, y.d);
    else if (isu) x.u = y.u > x.u ? y.u : x.u;
    else x.i = y.i > x.i ? y.i : x.i;
    break;
  case R_ANY: x.b = (unsigned char)(x.b | y.b); break;
  default: x.b = (unsigned char)(x.b & y.b); break;
  }
  return x;
}

/* NumPy's pairwise summation: 8 accumulators up to 128 items, halves above. */
static double pairwise(const double *a, size_t n) {
  if (n < 8) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i];
    return s;
  }
  if (n <= 128) {
    double r[8];
    size_t i;
    for (int j = 0; j < 8; j++) r[j] = a[j];
    for (i = 8; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; j++) r[j] += a[i + (size_t)j];
    double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) s += a[i];
    return s;
  }
  size_t h = n / 2;
  h -= h % 8;
  return pairwise(a, h) + pairwise(a + h, n - h);
}

/* One block of m values (of dtype adt) reduced to a partial. */
static acc block_reduce(int red, ndp_dtype adt, const char *v, size_t m) {
  acc r = identity(red, adt);
  if (adt == NDP_FLOAT64 && (red == R_SUM || red == R_MEAN)) {
    r.d = pairwise((const double *)(const void *)v, m);
    return r;
  }
  size_t isz = ndp_dtype_size(adt);
  for (size_t i = 0; i < m; i++) {
    acc x;
    memset(&x, 0, sizeof x);
    memcpy(&x, v + i * isz, isz);
    r = combine(red, adt, r, x);
  }
  return r;
}

/* acc[i] = combine(acc[i], v[i]) for m items of dtype adt. */
static void acc_update(int red, ndp_dtype adt, char *accb, const char *v, size_t m) {
  size_t isz = ndp_dtype_size(adt);
  if (adt == NDP_FLOAT64 && (red == R_SUM || red == R_MEAN)) {
    double *a = (double *)(void *)accb;
    const double *x = (const double *)(const void *)v;
    for (size_t i = 0; i < m; i++) a[i] += x[i];
    return;
  }
  for (size_t i = 0; i < m; i++) {
    acc a, x;
    memset(&a, 0, sizeof a);
    memset(&x, 0, sizeof x);
    memcpy(&a, accb + i * isz, isz);
    memcpy(&x, v + i * isz, isz);
    a = combine(red, adt, a, x);
    memcpy(accb + i * isz, &a, isz);
  }
}

static acc tree(int red, ndp_dtype adt, const acc *p, size_t n) {
  if (n == 0) return identity(red, adt);
  if (n == 1) return p[0];
  size_t h = n / 2;
  return combine(red, adt, tree(red, adt, p, h), tree(red, adt, p + h, n - h));
}

/* ---- the plan ------------------------------------------------------------------- */

/* Per operand (index 0 the output, 1 + i variable i, as in the iterator):
 * what a block needs beyond the iterator's data and strides. */
typedef struct opnd {
  size_t isz;
  int swap, uniform, contig, used;
} opnd;

typedef struct vplan {
  const ndp_expr *e;
  const ndp__ktable *kt;
  ndp__loop_fn *fns;    /* per instruction */
  ndp__loop_fn (*bfns)[2]; /* per instruction: fused where branches */
  ndp__iter it;         /* the walk over data, strides (kernels/iter.h) */
  char **data;
  int64_t (*strides)[NDP_MAXDIMS];
  int64_t n;
  opnd *op;             /* the output, then e->nvars inputs */
  ndp_dtype odt;
  int64_t outer, L, inner, nib; /* reductions */
  acc *partials;
  int exact;            /* float64 sum or mean: exact, rounded once (xsum.c) */
  ndp_xsum *xs;         /* exact whole-array sums: one state per thread */
  ndp__xacc **xa;       /* and one accumulator per thread (allocated on its
                           first chunk, zero after each flush) */
  int *slot;            /* register -> scratch slot (-1: const) */
  int stream;           /* write the output with non-temporal stores */
  int nslots;
} vplan;

typedef struct scratch {
  char *mem;
  const char **rp;      /* register pointers */
  char *store, *abuf, *accb;
  char *pk[3];          /* packed lanes: two operands and a result */
  int32_t *lanes;       /* 2 * BLK lane indices */
} scratch;

/* Walks the runs from position at in operand k: gather (dir 0) into buf
 * or scatter (dir 1) from buf. */
static void walk(const vplan *p, int k, const ndp__iter_pos *at, char *buf, int dir) {
  ndp__iter_pos c = *at;
  const opnd *o = &p->op[k];
  const ptrdiff_t str = (ptrdiff_t)p->strides[k][p->it.ndim - 1];
  char *q;
  int64_t run;
  while ((run = ndp__iter_next(&p->it, &c, k, 1, &q)) > 0) {
    if (dir == 0) ndp__gather(q, str, o->isz, o->swap, buf, (size_t)run);
    else ndp__scatter(buf, o->isz, o->swap, q, str, (size_t)run);
    buf += (size_t)run * o->isz;
  }
}

/* A pointer to the contiguous items of operand k from position at, or
 * NULL when buffering is needed. */
static char *direct(const vplan *p, int k, const ndp__iter_pos *at) {
  const int nd = p->it.ndim;
  if (!p->op[k].contig || at->idx[nd - 1] + at->left > p->it.shape[nd - 1]) return NULL;
  return ndp__iter_at(&p->it, k, at->idx);
}

/* ---- evaluation of one block ------------------------------------------------------ */

#define PACK(T)                                                              \
  for (size_t i = 0; i < n; i++) ((T *)(void *)dst)[i] = ((const T *)(const void *)src)[ix[i]]
#define UNPACK(T)                                                            \
  for (size_t i = 0; i < n; i++) ((T *)(void *)dst)[ix[i]] = ((const T *)(const void *)src)[i]

/* dst[i] = src[ix[i]] (dir 0) or dst[ix[i]] = src[i] (dir 1), i < n. */
static void pack(int dir, size_t isz, const char *src, char *dst, const int32_t *ix, size_t n) {
  switch (isz * 2 + (size_t)dir) {
  case 2: PACK(uint8_t); break;
  case 3: UNPACK(uint8_t); break;
  case 4: PACK(uint16_t); break;
  case 5: UNPACK(uint16_t); break;
  case 8: PACK(uint32_t); break;
  case 9: UNPACK(uint32_t); break;
  case 16: PACK(uint64_t); break;
  default: UNPACK(uint64_t); break;
  }
}

/* The lanes a where branch takes: n lane indices ix, or (when the
 * condition comes in long runs) the runs of value `want` among the nb
 * runs bounded by bnd[0..nb] whose first run has value first. */
typedef struct laneset {
  const int32_t *ix, *bnd;
  size_t n;
  int nb, first, want;
} laneset;

static void pack_set(int dir, size_t isz, const char *src, char *dst, const laneset *l) {
  if (l->ix) {
    pack(dir, isz, src, dst, l->ix, l->n);
    return;
  }
  size_t at = 0;
  for (int r = 0; r < l->nb; r++) {
    if (((l->first ^ r) & 1) != l->want) continue;
    size_t b0 = (size_t)l->bnd[r] * isz, len = (size_t)(l->bnd[r + 1] - l->bnd[r]) * isz;
    if (dir == 0) memcpy(dst + at, src + b0, len);
    else memcpy(dst + b0, src + at, len);
    at += len;
  }
}

/* Branch b of a where over its lanes l (all m lanes when l->n == m). */
static int branch(const vplan *p, int k, int b, scratch *sc, const laneset *l, size_t m) {
  const ndp__insn *in = &p->e->code[k];
  const char **rp = sc->rp;
  char *dst = (char *)(uintptr_t)rp[in->dst];
  size_t isz = ndp_dtype_size((ndp_dtype)in->dtype), n = l->n;
  if (in->bop[b] < 0) {
    const char *src = rp[in->src[1 + b]];
    if (n == m) {
      memcpy(dst, src, m * isz);
    } else {
      pack_set(0, isz, src, sc->pk[2], l);
      pack_set(1, isz, sc->pk[2], dst, l);
    }
    return 0;
  }
  const char *args[2] = {rp[in->bsrc[b][0]], in->bsrc[b][1] >= 0 ? rp[in->bsrc[b][1]] : NULL};
  if (n == m) return p->bfns[k][b](args, dst, m);
  for (int j = 0; j < 2 && args[j]; j++) {
    pack_set(0, isz, args[j], sc->pk[j], l);
    args[j] = sc->pk[j];
  }
  int rc = p->bfns[k][b](args, sc->pk[2], n);
  pack_set(1, isz, sc->pk[2], dst, l);
  return rc;
}

/* A condition that changes often and picks each side for a good share of
 * the lanes: packing by index costs more than computing both branches on
 * the whole block (measured: 8.4 against 3.6 ns/element for exp/log1p),
 * so run both and select. The false branch goes to the packing buffer. */
static int where_both(const vplan *p, int k, scratch *sc, size_t m) {
  const ndp__insn *in = &p->e->code[k];
  const char **rp = sc->rp;
  const char *side[2];
  /* both sides into the packing buffers first: dst may share a register
   * with the condition or an operand, so it is written only by the select */
  for (int b = 0; b < 2; b++) {
    if (in->bop[b] < 0) {
      side[b] = rp[in->src[1 + b]];
      continue;
    }
    const char *args[2] = {rp[in->bsrc[b][0]], in->bsrc[b][1] >= 0 ? rp[in->bsrc[b][1]] : NULL};
    int rc = p->bfns[k][b](args, sc->pk[1 + b], m);
    if (rc) return rc;
    side[b] = sc->pk[1 + b];
  }
  ndp__x_where(ndp_dtype_size((ndp_dtype)in->dtype), rp[in->src[0]], side[0], side[1],
               (char *)(uintptr_t)rp[in->dst], m);
  return 0;
}

/* where with fused branches: each costly branch runs on its lanes only,
 * packed by runs when the condition changes rarely, else by index. */
static int where_lanes(const vplan *p, int k, scratch *sc, size_t m) {
  const ndp__insn *in = &p->e->code[k];
  const unsigned char *c = (const unsigned char *)sc->rp[in->src[0]];
  int32_t *t = sc->lanes, *f = sc->lanes + BLK;
  size_t nt = 0;
  int nb = 1;
  t[0] = 0;
  for (size_t i = 0; i < m;) { /* 8 lanes at a time where they agree */
    uint64_t w = 0;
    int prev = i ? c[i - 1] != 0 : c[0] != 0;
    if (i + 8 <= m) memcpy(&w, c + i, 8);
    if (i + 8 <= m && (w == 0 || w == UINT64_C(0x0101010101010101))) {
      int v = w != 0;
      nt += v ? 8 : 0;
      if (v != prev && nb < 64) t[nb++] = (int32_t)i;
      i += 8;
      continue;
    }
    size_t stop = i + 8 <= m ? i + 8 : m;
    for (; i < stop; i++) { /* branch-free: a random condition mispredicts */
      int v = c[i] != 0;
      nt += (size_t)v;
      t[nb] = (int32_t)i; /* t has 2 * BLK slots: t[64] is scratch */
      nb += (v != prev) & (nb < 64);
      prev = v;
    }
  }
  if (nb >= 16 && nt >= m / 16 && m - nt >= m / 16) return where_both(p, k, sc, m);
  laneset L[2] = {{NULL, t, nt, 0, c[0] == 0, 0}, {NULL, t, m - nt, 0, c[0] == 0, 1}};
  if (nb < 64) { /* few runs: copy them whole */
    t[nb] = (int32_t)m;
    L[0].nb = L[1].nb = nb;
  } else {
    size_t a = 0, z = 0;
    for (size_t i = 0; i < m; i++) {
      t[a] = f[z] = (int32_t)i;
      a += c[i] != 0;
      z += c[i] == 0;
    }
    L[0].ix = t;
    L[1].ix = f;
  }
  int rc = 0;
  for (int b = 0; b < 2 && !rc; b++)
    if (L[b].n) rc = branch(p, k, b, sc, &L[b], m);
  return rc;
}

/* A checked cast (see ndp__insn.mixed): every value must come back
 * unchanged from the integer dtype it was cast to (and stay >= 0 for
 * uint64), else NumPy's OverflowError for a Python int out of bounds. */
static int checked_cast(const ndp__insn *in, const char *a, const char *dst, size_t m) {
  ndp_dtype from = (ndp_dtype)in->ldt, to = (ndp_dtype)in->dtype;
  int64_t src[64], back[64];
  for (size_t i = 0; i < m; i += 64) {
    size_t k = m - i < 64 ? m - i : 64;
    ndp__cast(from, NDP_INT64)(a + i * ndp_dtype_size(from), src, k);
    ndp__cast(to, NDP_INT64)(dst + i * ndp_dtype_size(to), back, k);
    for (size_t j = 0; j < k; j++)
      if (back[j] != src[j] || (to == NDP_UINT64 && src[j] < 0)) return NDP_EOVERFLOW;
  }
  return 0;
}

static int exec(const vplan *p, scratch *sc, size_t m) {
  const ndp_expr *e = p->e;
  const char **rp = sc->rp;
  for (int k = 0; k < e->ninsn; k++) {
    const ndp__insn *in = &e->code[k];
    char *dst = (char *)(uintptr_t)rp[in->dst];
    const char *a = rp[in->src[0]];
    int rc = 0;
    switch (in->code) {
    case X_UFUNC: {
      const char *args[2] = {a, in->src[1] >= 0 ? rp[in->src[1]] : NULL};
      rc = p->fns[k](args, dst, m);
      break;
    }
    case X_CAST:
      ndp__cast((ndp_dtype)in->ldt, (ndp_dtype)in->dtype)(a, dst, m);
      if (in->mixed) rc = checked_cast(in, a, dst, m);
      break;
    case X_WHERE:
      if (in->bop[0] >= 0 || in->bop[1] >= 0) rc = where_lanes(p, k, sc, m);
      else ndp__x_where(ndp_dtype_size((ndp_dtype)in->dtype), a, rp[in->src[1]], rp[in->src[2]], dst, m);
      break;
    case X_BIT: ndp__x_bit(in->op, ndp_dtype_size((ndp_dtype)in->dtype), a, rp[in->src[1]], dst, m); break;
    case X_NOT: ndp__x_not((ndp_dtype)in->dtype, a, dst, m); break;
    default:
      if (dst != a) memmove(dst, a, m * ndp_dtype_size((ndp_dtype)in->dtype));
      break;
    }
    if (rc) return rc;
  }
  return 0;
}

/* A boolean input is read as byte != 0 (a view of uint8 data may hold
 * any byte): its block is normalized to 0/1, so every instruction, cast
 * and reduction after it sees NumPy's truth values. */
static void bool_norm(const char *src, char *dst, size_t m) {
  for (size_t i = 0; i < m; i++) dst[i] = (char)(src[i] != 0);
}

/* Points or loads every non-uniform input for flat range [s, s+m). */
static void load(const vplan *p, scratch *sc, int64_t s, size_t m, ndp__iter_pos *at) {
  const ndp_expr *e = p->e;
  ndp__iter_seek(&p->it, s, (int64_t)m, at);
  for (int r = 0; r < e->nregs; r++) {
    const ndp__reg *g = &e->regs[r];
    if (g->kind != REG_INPUT) continue;
    const int k = 1 + g->var;
    if (p->op[k].uniform) continue;
    char *d = direct(p, k, at);
    char *buf = sc->mem + (size_t)p->slot[r] * BLKB;
    if (g->dtype == NDP_BOOL) {
      if (d) bool_norm(d, buf, m);
      else {
        walk(p, k, at, buf, 0);
        bool_norm(buf, buf, m);
      }
      sc->rp[r] = buf;
    } else if (d) {
      sc->rp[r] = d;
    } else {
      walk(p, k, at, buf, 0);
      sc->rp[r] = buf;
    }
  }
}

static int scratch_open(const vplan *p, scratch *sc) {
  const ndp_expr *e = p->e;
  size_t bytes = ((size_t)p->nslots + 7) * BLKB + sizeof(char *) * (size_t)e->nregs;
  sc->mem = ndp__aligned_alloc(64, bytes);
  if (!sc->mem) return NDP_ENOMEM;
  sc->store = sc->mem + (size_t)p->nslots * BLKB;
  sc->abuf = sc->store + BLKB;
  sc->accb = sc->abuf + BLKB;
  sc->pk[0] = sc->accb + BLKB;
  sc->pk[1] = sc->pk[0] + BLKB;
  sc->pk[2] = sc->pk[1] + BLKB;
  sc->lanes = (int32_t *)(void *)(sc->pk[2] + BLKB); /* 2 * BLK * 4 bytes = BLKB */
  sc->rp = (const char **)(void *)(sc->pk[2] + 2 * BLKB);
  for (int r = 0; r < e->nregs; r++) {
    const ndp__reg *g = &e->regs[r];
    if (g->kind == REG_CONST) {
      sc->rp[r] = (const char *)e->consts + g->coff;
      continue;
    }
    char *buf = sc->mem + (size_t)p->slot[r] * BLKB;
    sc->rp[r] = buf;
    const opnd *o = g->kind == REG_INPUT ? &p->op[1 + g->var] : NULL;
    if (o && o->uniform) { /* broadcast scalar: fill once */
      const char *src = p->data[1 + g->var];
      for (int k = 0; k < BLK; k++) ndp__gather(src, 0, o->isz, o->swap, buf + (size_t)k * o->isz, 1);
      if (g->dtype == NDP_BOOL) bool_norm(buf, buf, BLK);
    }
  }
  return 0;
}

/* Evaluates [s, s+m) into the result register; returns its pointer. */
static int eval_block(const vplan *p, scratch *sc, int64_t s, size_t m, const char **res) {
  ndp__iter_pos at;
  load(p, sc, s, m, &at);
  int rc = exec(p, sc, m);
  *res = sc->rp[p->e->root];
  return rc;
}

/* Copies n bytes to dst with non-temporal stores where the CPU has them:
 * an output much larger than the caches is then written without being
 * read first (a third less memory traffic for a*2+c). */
static void stream_copy(char *dst, const char *src, size_t n) {
#if defined(__SSE2__)
  size_t head = (16 - (uintptr_t)dst % 16) % 16;
  if (head > n) head = n;
  memcpy(dst, src, head);
  size_t i = head;
  for (; i + 16 <= n; i += 16)
    _mm_stream_si128((__m128i *)(void *)(dst + i), _mm_loadu_si128((const __m128i *)(const void *)(src + i)));
  memcpy(dst + i, src + i, n - i);
#else
  memcpy(dst, src, n);
#endif
}

static void stream_fence(void) {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

/* Outputs from this size on are streamed: the last-level cache's size. */
static int64_t stream_threshold(void) { return ndp__llc_bytes(); }

/* ---- elementwise ------------------------------------------------------------------ */

static int ew_chunk(void *ctx, int64_t begin, int64_t end, int tid) {
  const vplan *p = ctx;
  const ndp_expr *e = p->e;
  const opnd *o = &p->op[0];
  scratch sc;
  (void)tid;
  if (scratch_open(p, &sc)) return NDP_ENOMEM;
  char *own = (char *)(uintptr_t)sc.rp[e->root];
  int rc = 0;
  ndp__cast_fn cv = e->vdt != p->odt ? ndp__cast(e->vdt, p->odt) : NULL;
  for (int64_t s = begin; s < end && !rc; s += BLK) {
    size_t m = (size_t)(end - s < BLK ? end - s : BLK);
    ndp__iter_pos at;
    load(p, &sc, s, m, &at);
    char *d = cv ? NULL : direct(p, 0, &at);
    sc.rp[e->root] = d && !p->stream ? d : own;
    if ((rc = exec(p, &sc, m))) break;
    if (d && p->stream) stream_copy(d, own, m * o->isz);
    if (d) continue;
    const char *res = own;
    if (cv) {
      cv(own, sc.store, m);
      res = sc.store;
    }
    walk(p, 0, &at, (char *)(uintptr_t)res, 1);
  }
  if (p->stream) stream_fence();
  ndp__free(sc.mem);
  return rc;
}

/* ---- reductions --------------------------------------------------------------------- */

/* The block's values as accumulator items. */
static const char *to_acc(const vplan *p, scratch *sc, const char *v, size_t m) {
  if (p->e->vdt == p->e->adt) return v;
  ndp__cast(p->e->vdt, p->e->adt)(v, sc->abuf, m);
  return sc->abuf;
}

static int whole_chunk(void *ctx, int64_t begin, int64_t end, int tid) {
  const vplan *p = ctx;
  const ndp_expr *e = p->e;
  scratch sc;
  if (scratch_open(p, &sc)) return NDP_ENOMEM;
  int rc = 0;
  ndp__xacc *xa = NULL;
  if (p->exact) {
    if (!(xa = p->xa[tid])) {
      if (!(xa = p->xa[tid] = ndp__malloc(sizeof *xa))) {
        ndp__free(sc.mem);
        return NDP_ENOMEM;
      }
      ndp__xacc_init(xa);
    }
  }
  for (int64_t b = begin; b < end && !rc; b++) {
    int64_t s = b * BLK;
    size_t m = (size_t)(p->n - s < BLK ? p->n - s : BLK);
    const char *v;
    if ((rc = eval_block(p, &sc, s, m, &v))) break;
    if (p->exact)
      ndp__xacc_add(xa, (const double *)(const void *)to_acc(p, &sc, v, m), (int64_t)m);
    else
      p->partials[b] = block_reduce(e->red, e->adt, to_acc(p, &sc, v, m), m);
  }
  if (p->exact) ndp__xacc_flush(xa, &p->xs[tid]); /* exact: any order, any split */
  ndp__free(sc.mem);
  return rc;
}

/* Writes m accumulator items to the output at result flat index of
 * (outer o, inner j0): finishes mean, casts to the result then the output
 * dtype. */
static void put_result(const vplan *p, scratch *sc, const char *accs, size_t m, int64_t o,
                       int64_t j0, int64_t count) {
  const ndp_expr *e = p->e;
  const char *v = accs;
  if (e->red == R_MEAN) {
    double *d = (double *)(void *)sc->abuf;
    for (size_t i = 0; i < m; i++) d[i] = ((const double *)(const void *)accs)[i] / (double)count;
    v = sc->abuf;
  }
  ndp__cast(e->adt, e->rdt)(v, sc->store, m);
  ndp__cast(e->rdt, p->odt)(sc->store, sc->abuf, m);
  ndp__iter_pos at;
  ndp__iter_seek(&p->it, (o * p->L) * p->inner + j0, (int64_t)m, &at);
  walk(p, 0, &at, sc->abuf, 1);
}

/* Last axis (inner == 1): one output element per task index. */
static int row_chunk(void *ctx, int64_t begin, int64_t end, int tid) {
  const vplan *p = ctx;
  const ndp_expr *e = p->e;
  scratch sc;
  (void)tid;
  if (scratch_open(p, &sc)) return NDP_ENOMEM;
  int rc = 0;
  ndp__xacc xa; /* exact: reused row after row (a flush empties it) */
  if (p->exact) ndp__xacc_init(&xa);
  for (int64_t o = begin; o < end && !rc; o++) {
    acc stk[64];
    int64_t cnt[64];
    int top = 0;
    if (p->exact) { /* the row summed exactly, rounded once */
      ndp_xsum xs;
      ndp_xsum_init(&xs);
      for (int64_t s = 0; s < p->L && !rc; s += BLK) {
        size_t m = (size_t)(p->L - s < BLK ? p->L - s : BLK);
        const char *v;
        if ((rc = eval_block(p, &sc, o * p->L + s, m, &v))) break;
        ndp__xacc_add(&xa, (const double *)(const void *)to_acc(p, &sc, v, m), (int64_t)m);
      }
      if (rc) break;
      ndp__xacc_flush(&xa, &xs);
      acc r;
      memset(&r, 0, sizeof r);
      r.d = ndp_xsum_round(&xs);
      put_result(p, &sc, (const char *)&r, 1, o, 0, p->L);
      continue;
    }
    for (int64_t s = 0; s < p->L && !rc; s += BLK) {
      size_t m = (size_t)(p->L - s < BLK ? p->L - s : BLK);
      const char *v;
      if ((rc = eval_block(p, &sc, o * p->L + s, m, &v))) break;
      stk[top] = block_reduce(e->red, e->adt, to_acc(p, &sc, v, m), m);
      cnt[top++] = 1;
      while (top >= 2 && cnt[top - 1] == cnt[top - 2]) {
        stk[top - 2] = combine(e->red, e->adt, stk[top - 2], stk[top - 1]);
        cnt[top - 2] *= 2;
        top--;
      }
    }
    acc r = top ? stk[top - 1] : identity(e->red, e->adt);
    for (int k = top - 2; k >= 0; k--) r = combine(e->red, e->adt, stk[k], r);
    put_result(p, &sc, (const char *)&r, 1, o, 0, p->L);
  }
  ndp__free(sc.mem);
  return rc;
}

/* Other axes: task t reduces output elements (o, j0 .. j0+m). */
static int slab_chunk(void *ctx, int64_t begin, int64_t end, int tid) {
  const vplan *p = ctx;
  const ndp_expr *e = p->e;
  scratch sc;
  (void)tid;
  if (scratch_open(p, &sc)) return NDP_ENOMEM;
  int rc = 0;
  size_t asz = ndp_dtype_size(e->adt);
  ndp_xsum *xs = NULL; /* exact: one state per output element of the task */
  if (p->exact && !(xs = ndp__malloc(sizeof *xs * BLK))) {
    ndp__free(sc.mem);
    return NDP_ENOMEM;
  }
  for (int64_t t = begin; t < end && !rc; t++) {
    int64_t o = t / p->nib, j0 = (t % p->nib) * BLK;
    size_t m = (size_t)(p->inner - j0 < BLK ? p->inner - j0 : BLK);
    if (xs) {
      for (size_t i = 0; i < m; i++) ndp_xsum_init(&xs[i]);
      for (int64_t i = 0; i < p->L && !rc; i++) {
        const char *v;
        if ((rc = eval_block(p, &sc, (o * p->L + i) * p->inner + j0, m, &v))) break;
        const double *d = (const double *)(const void *)to_acc(p, &sc, v, m);
        for (size_t j = 0; j < m; j++) ndp__xsum_add1(&xs[j], d[j]);
      }
      if (rc) break;
      for (size_t j = 0; j < m; j++) ((double *)(void *)sc.accb)[j] = ndp_xsum_round(&xs[j]);
      put_result(p, &sc, sc.accb, m, o, j0, p->L);
      continue;
    }
    acc id = identity(e->red, e->adt);
    for (size_t i = 0; i < m; i++) memcpy(sc.accb + i * asz, &id, asz);
    for (int64_t i = 0; i < p->L && !rc; i++) {
      const char *v;
      if ((rc = eval_block(p, &sc, (o * p->L + i) * p->inner + j0, m, &v))) break;
      acc_update(e->red, e->adt, sc.accb, to_acc(p, &sc, v, m), m);
    }
    if (!rc) put_result(p, &sc, sc.accb, m, o, j0, p->L);
  }
  ndp__free(xs);
  ndp__free(sc.mem);
  return rc;
}

/* ---- planning ---------------------------------------------------------------------- */

static int check_var(const ndp_expr *e, int i, const ndp_array *a, ndp_status *st) {
  const char *name = e->vars[i].name;
  if (!a) return ndp__fail(st, NDP_EINVAL, "expr: variable '%s' is NULL", name);
  if (a->dtype != e->vars[i].dtype)
    return ndp__fail(st, NDP_ETYPE, "expr: variable '%s' is %s but was compiled as %s", name,
                     ndp_dtype_name(a->dtype), ndp_dtype_name(e->vars[i].dtype));
  if (a->ndim < 0 || a->ndim > NDP_MAXDIMS || ndp_array_size(a) < 0 ||
      (!a->data && ndp_array_size(a) > 0))
    return ndp__fail(st, NDP_EINVAL, "expr: variable '%s' is not a valid array", name);
  for (int t = 0; t < NDP_NTYPES && e->vars[i].int_targets && ndp_array_size(a) == 1; t++) {
    if (!((e->vars[i].int_targets >> t) & 1u)) continue;
    int64_t v, back = 0; /* NEP 50: a Python int must fit the dtype it takes */
    unsigned char tmp[8] = {0};
    ndp__gather(a->data, 8, 8, (a->flags & NDP_ARRAY_BYTESWAPPED) != 0, (char *)&v, 1);
    ndp__cast(NDP_INT64, (ndp_dtype)t)(&v, tmp, 1);
    ndp__cast((ndp_dtype)t, NDP_INT64)(tmp, &back, 1);
    if (back != v || (t == NDP_UINT64 && v < 0))
      return ndp__fail(st, NDP_EOVERFLOW, "Python integer %lld (variable '%s') out of bounds "
                       "for %s", (long long)v, name, ndp_dtype_name((ndp_dtype)t));
  }
  return 0;
}

/* Broadcast shape of the variables the program reads, one at a time so
 * that a mismatch names its variable. */
static int result_shape(const ndp_expr *e, const ndp_array *const *vars, int *nd,
                        int64_t *shape, ndp_status *st) {
  int rc;
  if (!vars && e->nvars) return ndp__fail(st, NDP_EINVAL, "expr: vars is NULL");
  ndp_array acc;
  memset(&acc, 0, sizeof acc);
  for (int i = 0; i < e->nvars; i++) {
    if (!e->vars[i].used) continue;
    if ((rc = check_var(e, i, vars[i], st))) return rc;
    const ndp_array *two[2] = {&acc, vars[i]};
    int n;
    int64_t s[NDP_MAXDIMS];
    if ((rc = ndp_broadcast_shape(2, two, &n, s, st)))
      return ndp__fail(st, rc, "expr: variable '%s' (%d-d, last extent %lld) does not broadcast "
                       "with the variables before it", e->vars[i].name, vars[i]->ndim,
                       (long long)(vars[i]->ndim ? vars[i]->shape[vars[i]->ndim - 1] : 1));
    acc.ndim = n;
    memcpy(acc.shape, s, sizeof(int64_t) * (size_t)n);
  }
  *nd = acc.ndim;
  memcpy(shape, acc.shape, sizeof(int64_t) * (size_t)acc.ndim);
  return 0;
}

int ndp_expr_shape(const ndp_expr *e, const ndp_array *const *vars, int *ndim, int64_t *shape,
                   ndp_status *st) {
  if (!e || !ndim || !shape) return ndp__fail(st, NDP_EINVAL, "expr_shape: invalid arguments");
  int nd, rc;
  int64_t s[NDP_MAXDIMS];
  if ((rc = result_shape(e, vars, &nd, s, st))) return rc;
  if (e->red && !e->has_axis) {
    *ndim = 0;
  } else if (e->red) {
    int ax = e->axis < 0 ? e->axis + nd : e->axis;
    if (ax < 0 || ax >= nd)
      return ndp__fail(st, NDP_EINVAL, "expr: axis %d is out of bounds for a %d-d result",
                       e->axis, nd);
    *ndim = nd - 1;
    for (int d = 0, k = 0; d < nd; d++)
      if (d != ax) shape[k++] = s[d];
  } else {
    *ndim = nd;
    memcpy(shape, s, sizeof(int64_t) * (size_t)nd);
  }
  ndp__ok(st);
  return 0;
}

/* After ndp__iter_plan: per operand, whether a block reads it straight
 * from memory (contig) or it is one value everywhere (uniform). */
static void set_access(vplan *p) {
  const int nd = p->it.ndim;
  for (int k = 0; k < p->it.nops; k++) {
    opnd *o = &p->op[k];
    int64_t isz = (int64_t)(o->isz ? o->isz : 1);
    int uni = 1, al = (uintptr_t)p->data[k] % (uintptr_t)isz == 0;
    for (int d = 0; d < nd; d++) {
      uni &= p->strides[k][d] == 0;
      al &= p->strides[k][d] % isz == 0;
    }
    o->uniform = uni && p->n > 0;
    o->contig = o->used && !o->swap && al && p->strides[k][nd - 1] == isz;
  }
}

static void set_opnd(opnd *o, const ndp_array *a) {
  o->isz = ndp_dtype_size(a->dtype);
  o->swap = (a->flags & NDP_ARRAY_BYTESWAPPED) && o->isz > 1;
  o->used = 1;
}

/* NumPy's F-contiguity: strides of the Fortran layout wherever the extent
 * exceeds 1 (an empty array is contiguous). */
static int f_contiguous(const ndp_array *a) {
  int64_t want = (int64_t)ndp_dtype_size(a->dtype);
  if (ndp_array_size(a) == 0) return 1;
  for (int d = 0; d < a->ndim; d++) {
    if (a->shape[d] == 1) continue;
    if (a->strides[d] != want) return 0;
    want *= a->shape[d];
  }
  return 1;
}

/* The memory order (slowest dimension first) of a new result over the
 * broadcast shape S[nd] for order 'K': NumPy's, over the used variables. */
static int k_order(const ndp_expr *e, const ndp_array *const *vars, int nd, const int64_t *S,
                   int *perm) {
  int64_t (*rows)[NDP_MAXDIMS] = ndp__calloc((size_t)(e->nvars ? e->nvars : 1), sizeof *rows);
  char **data = ndp__calloc((size_t)(e->nvars ? e->nvars : 1), sizeof *data);
  if (!rows || !data) {
    ndp__free(rows);
    ndp__free(data);
    return NDP_ENOMEM;
  }
  ndp__iter it;
  ndp__iter_init(&it, e->nvars, data, rows, nd, S);
  for (int i = 0; i < e->nvars; i++)
    if (e->vars[i].used) ndp__iter_operand(&it, i, vars[i], e->vars[i].name, NULL);
  ndp__iter_k_order(e->nvars, (const int64_t(*)[NDP_MAXDIMS])rows, nd, perm);
  ndp__free(rows);
  ndp__free(data);
  return 0;
}

int ndp_expr_layout(const ndp_expr *e, const ndp_array *const *vars, char order,
                    size_t itemsize, int *ndim, int64_t *shape, int64_t *strides,
                    ndp_status *st) {
  if (!e || !ndim || !shape || !strides || !itemsize)
    return ndp__fail(st, NDP_EINVAL, "expr_layout: invalid arguments");
  if (order != 'K' && order != 'A' && order != 'C' && order != 'F')
    return ndp__fail(st, NDP_EINVAL, "expr_layout: order must be 'K', 'A', 'C' or 'F', not "
                     "'%c'", order);
  int nd, rc, perm[NDP_MAXDIMS], fortran = order == 'F';
  int64_t S[NDP_MAXDIMS];
  if ((rc = ndp_expr_shape(e, vars, ndim, shape, st))) return rc;
  if (order == 'A') {
    fortran = 1;
    for (int i = 0; i < e->nvars; i++) fortran &= !e->vars[i].used || f_contiguous(vars[i]);
  }
  for (int d = 0; d < *ndim; d++) perm[d] = fortran ? *ndim - 1 - d : d;
  if (order == 'K' && *ndim > 1) {
    result_shape(e, vars, &nd, S, NULL); /* checked by ndp_expr_shape */
    int ax = e->has_axis ? (e->axis < 0 ? e->axis + nd : e->axis) : -1;
    if ((rc = k_order(e, vars, nd, S, perm)))
      return ndp__fail(st, rc, "expr_layout: out of memory");
    for (int j = 0, k = 0; j < nd; j++) /* the reduced axis leaves the order */
      if (perm[j] != ax) perm[k++] = perm[j] > ax && ax >= 0 ? perm[j] - 1 : perm[j];
  }
  int64_t str = (int64_t)itemsize;
  for (int j = *ndim - 1; j >= 0; j--) { /* as NumPy: an extent 0 leaves the stride */
    strides[perm[j]] = str;
    if (shape[perm[j]]) str *= shape[perm[j]];
  }
  ndp__ok(st);
  return 0;
}

static int check_out(const ndp_expr *e, const ndp_array *const *vars, const ndp_array *out,
                     ndp_casting casting, ndp_status *st) {
  int nd, rc;
  int64_t s[NDP_MAXDIMS];
  if (!out || (unsigned)out->dtype >= NDP_NTYPES || out->ndim < 0 || out->ndim > NDP_MAXDIMS ||
      ndp_array_size(out) < 0 || (!out->data && ndp_array_size(out) > 0))
    return ndp__fail(st, NDP_EINVAL, "expr: the output is not a valid array");
  if ((rc = ndp_expr_shape(e, vars, &nd, s, st))) return rc;
  int same = nd == out->ndim;
  for (int d = 0; same && d < nd; d++) same = s[d] == out->shape[d];
  if (!same)
    return ndp__fail(st, NDP_ESHAPE, "expr: the output's shape does not match the result's");
  for (int d = 0; d < out->ndim && ndp_array_size(out) > 0; d++) /* an empty out has any strides */
    if (out->shape[d] > 1 && out->strides[d] == 0)
      return ndp__fail(st, NDP_EINVAL, "expr: the output has a zero stride in dimension %d", d);
  if (!ndp_can_cast(e->rdt, out->dtype, casting))
    return ndp__fail(st, NDP_ECAST, "expr: cannot cast the result from %s to the output's %s "
                     "under the casting rule", ndp_dtype_name(e->rdt), ndp_dtype_name(out->dtype));
  return 0;
}

/* Output strides in the result's index space (0 along the reduced axis). */
static void out_opnd(vplan *p, const ndp_array *out, int ax) {
  const ndp_expr *e = p->e;
  set_opnd(&p->op[0], out);
  p->data[0] = out->data;
  for (int d = 0, k = 0; d < p->it.ndim; d++) {
    if (e->red && (!e->has_axis || d == ax)) {
      p->strides[0][d] = 0;
      continue;
    }
    p->strides[0][d] = p->it.shape[d] == 1 ? 0 : out->strides[k];
    k++;
  }
}

static int plan_init(vplan *p, const ndp_expr *e, const ndp_array *const *vars,
                     const ndp_array *out, ndp_status *st) {
  int rc, nd;
  int64_t shape[NDP_MAXDIMS];
  if ((rc = result_shape(e, vars, &nd, shape, st))) return rc;
  int ax = e->has_axis ? (e->axis < 0 ? e->axis + nd : e->axis) : -1;
  const int nops = e->nvars + 1;
  /* one block: operands' attributes, data pointers, stride rows */
  size_t a = sizeof(opnd) * (size_t)nops, b = sizeof(char *) * (size_t)nops;
  a = (a + 7) / 8 * 8;
  char *mem = ndp__calloc(1, a + b + sizeof(int64_t[NDP_MAXDIMS]) * (size_t)nops);
  p->op = (opnd *)(void *)mem;
  p->fns = ndp__calloc((size_t)e->ninsn, sizeof *p->fns);
  p->bfns = ndp__calloc((size_t)e->ninsn, sizeof *p->bfns);
  p->slot = ndp__calloc((size_t)e->nregs, sizeof *p->slot);
  if (!p->op || !p->fns || !p->bfns || !p->slot) return ndp__fail(st, NDP_ENOMEM, "expr: out of memory");
  p->data = (char **)(void *)(mem + a);
  p->strides = (int64_t(*)[NDP_MAXDIMS])(void *)(mem + a + b);
  ndp__iter_init(&p->it, nops, p->data, p->strides, nd, shape);
  p->n = p->it.n;
  p->outer = 1;
  p->inner = 1;
  p->L = p->n;
  if (ax >= 0) {
    p->L = shape[ax];
    for (int d = 0; d < ax; d++) p->outer *= shape[d];
    for (int d = ax + 1; d < nd; d++) p->inner *= shape[d];
    p->nib = (p->inner + BLK - 1) / BLK;
  }
  for (int i = 0; i < e->nvars; i++) {
    if (!e->vars[i].used) continue;
    set_opnd(&p->op[1 + i], vars[i]);
    if ((rc = ndp__iter_operand(&p->it, 1 + i, vars[i], e->vars[i].name, st))) return rc;
  }
  out_opnd(p, out, ax);
  /* elementwise: walk in the output's memory order; reductions keep the
   * C-order flat index their fixed blocks are cut in */
  ndp__iter_plan(&p->it, e->red ? NDP__ITER_KEEP_ORDER : 0);
  set_access(p);
  for (int r = 0; r < e->nregs; r++)
    p->slot[r] = e->regs[r].kind == REG_CONST ? -1 : p->nslots++;
  return 0;
}

static int bind_kernels(vplan *p, ndp_status *st) {
  const ndp_expr *e = p->e;
  p->kt = ndp__ktable_for(ndp_get_isa());
  for (int k = 0; k < e->ninsn; k++) {
    const ndp__insn *in = &e->code[k];
    for (int b = 0; in->code == X_WHERE && b < 2; b++) {
      if (in->bop[b] < 0) continue;
      p->bfns[k][b] = p->kt->fn[in->bop[b]][in->bldt[b]];
      if (!p->bfns[k][b])
        return ndp__fail(st, NDP_ETYPE, "expr: no %s kernel for %s", ndp_op_name(in->bop[b]),
                         ndp_dtype_name((ndp_dtype)in->bldt[b]));
    }
    if (in->code != X_UFUNC) continue;
    p->fns[k] = in->mixed == 1 ? p->kt->cmp_qQ[in->op]
                : in->mixed == 2 ? p->kt->cmp_Qq[in->op] : p->kt->fn[in->op][in->ldt];
    if (!p->fns[k])
      return ndp__fail(st, NDP_ETYPE, "expr: no %s kernel for %s", ndp_op_name(in->op),
                       ndp_dtype_name((ndp_dtype)in->ldt));
  }
  return 0;
}

static void pf_opts(ndp_pf_opts *o, const ndp_exec *ex, int64_t grain, int64_t max_chunk) {
  memset(o, 0, sizeof *o);
  o->grain = grain;
  o->max_chunk = max_chunk;
  if (ex) {
    o->nthreads = ex->nthreads;
    o->poll = ex->poll;
    o->poll_ud = ex->poll_ud;
    o->poll_interval = ex->poll_interval;
  }
}

/* A reduction of nothing: every output element gets the identity
 * (min/max have none). Walks the output's own shape. */
static int empty_reduction(vplan *p, const ndp_array *out, ndp_status *st) {
  const ndp_expr *e = p->e;
  int64_t nout = ndp_array_size(out);
  if (e->red == R_MIN || e->red == R_MAX) /* also when out is empty, as NumPy */
    return ndp__fail(st, NDP_EINVAL, "zero-size array to reduction operation %s which has no "
                     "identity", e->red == R_MIN ? "minimum" : "maximum");
  _Alignas(8) unsigned char v[3][8];
  acc id = identity(e->red, e->adt);
  if (e->red == R_MEAN) id.d = NAN;
  if (nout == 0) return 0;
  memcpy(v[0], &id, 8);
  ndp__cast(e->adt, e->rdt)(v[0], v[1], 1);
  ndp__cast(e->rdt, out->dtype)(v[1], v[2], 1);
  size_t isz = ndp_dtype_size(out->dtype);
  int swap = (out->flags & NDP_ARRAY_BYTESWAPPED) && isz > 1;
  int64_t idx[NDP_MAXDIMS] = {0};
  for (int64_t t = 0; t < nout; t++) {
    char *q = out->data;
    for (int d = 0; d < out->ndim; d++) q += idx[d] * out->strides[d];
    ndp__scatter((const char *)v[2], isz, swap, q, 0, 1);
    for (int d = out->ndim - 1; d >= 0; d--) {
      if (++idx[d] < out->shape[d]) break;
      idx[d] = 0;
    }
  }
  return 0;
}

static int run_reduction(vplan *p, const ndp_array *out, const ndp_exec *ex, ndp_status *st) {
  const ndp_expr *e = p->e;
  ndp_pf_opts o;
  int rc;
  if (p->L == 0) return empty_reduction(p, out, st);
  if (p->n == 0) return 0;
  /* float64 sums and means: exact, correctly rounded (xsum.c), so the
   * same for any thread count and any split of the data */
  p->exact = e->adt == NDP_FLOAT64 && (e->red == R_SUM || e->red == R_MEAN);
  if (!e->has_axis) {
    int64_t nblk = (p->n + BLK - 1) / BLK;
    pf_opts(&o, ex, 8, 256);
    int nthr = o.nthreads > 0 ? o.nthreads : ndp_get_num_threads();
    if (nthr > NDP_MAX_THREADS) nthr = NDP_MAX_THREADS;
    o.nthreads = nthr;
    if (p->exact) {
      p->xs = ndp__calloc((size_t)nthr, sizeof *p->xs);
      p->xa = ndp__calloc((size_t)nthr, sizeof *p->xa);
    } else {
      p->partials = ndp__malloc(sizeof(acc) * (size_t)nblk);
    }
    if (!p->partials && !(p->xs && p->xa))
      return ndp__fail(st, NDP_ENOMEM, "expr: out of memory");
    rc = ndp_parallel_for(nblk, whole_chunk, p, &o);
    if (p->xa)
      for (int t = 0; t < nthr; t++) ndp__free(p->xa[t]);
    if (rc) return rc;
    acc r;
    if (p->exact) {
      for (int t = 1; t < nthr; t++) ndp_xsum_merge(&p->xs[0], &p->xs[t]);
      memset(&r, 0, sizeof r);
      r.d = ndp_xsum_round(&p->xs[0]);
    } else {
      r = tree(e->red, e->adt, p->partials, (size_t)nblk);
    }
    scratch sc;
    if (scratch_open(p, &sc)) return NDP_ENOMEM;
    put_result(p, &sc, (const char *)&r, 1, 0, 0, p->n);
    ndp__free(sc.mem);
    return 0;
  }
  if (p->inner == 1) {
    pf_opts(&o, ex, p->L >= 16 * BLK ? 1 : (16 * BLK) / p->L, 0);
    return ndp_parallel_for(p->outer, row_chunk, p, &o);
  }
  pf_opts(&o, ex, 1, 0);
  return ndp_parallel_for(p->outer * p->nib, slab_chunk, p, &o);
}

static int fail_run(int rc, ndp_status *st) {
  if (rc == NDP_EDOMAIN) return ndp__fail(st, rc, "expr: integers to negative integer powers are not allowed");
  if (rc == NDP_ECANCELED) return ndp__fail(st, rc, "expr: cancelled");
  if (rc == NDP_EOVERFLOW)
    return ndp__fail(st, rc, "expr: a Python integer computed in the expression is out of "
                     "bounds for the integer dtype it meets (NEP 50)");
  if (st && st->code == rc) return rc;
  return ndp__fail(st, rc, "expr: %s", ndp_strerror(rc));
}

static int eval_planned(const ndp_expr *e, const ndp_array *const *vars, const ndp_array *out,
                        const ndp_exec *ex, ndp_status *st);

int ndp_expr_eval(const ndp_expr *e, const ndp_array *const *vars, const ndp_array *out,
                  ndp_casting casting, const ndp_exec *ex, ndp_status *st) {
  if (!e) return ndp__fail(st, NDP_EINVAL, "expr_eval: the program is NULL");
  if ((unsigned)casting > NDP_CASTING_UNSAFE)
    return ndp__fail(st, NDP_EINVAL, "expr_eval: invalid casting rule %d", (int)casting);
  int rc = check_out(e, vars, out, casting, st);
  if (rc) return rc;
  /* an input that overlaps out other than exactly is read from a copy */
  const ndp_array *const *given = vars;
  const ndp_array **use = NULL;
  ndp_array *copies = NULL;
  void **bufs = NULL;
  for (int i = 0; i < e->nvars && !rc; i++) {
    ndp_array tmp;
    void *b;
    if ((rc = ndp__detach_overlap(given[i], out, 1, &tmp, &b))) break;
    if (!b) continue;
    if (!use) {
      use = ndp__calloc((size_t)e->nvars, sizeof *use);
      copies = ndp__calloc((size_t)e->nvars, sizeof *copies);
      bufs = ndp__calloc((size_t)e->nvars, sizeof *bufs);
      if (!use || !copies || !bufs) {
        ndp__free(b);
        rc = NDP_ENOMEM;
        break;
      }
      for (int j = 0; j < e->nvars; j++) use[j] = given[j];
    }
    copies[i] = tmp;
    bufs[i] = b;
    use[i] = &copies[i];
  }
  if (!rc && use) vars = use;
  if (!rc) rc = eval_planned(e, vars, out, ex, st);
  for (int i = 0; bufs && i < e->nvars; i++) ndp__free(bufs[i]);
  ndp__free(bufs);
  ndp__free(copies);
  ndp__free((void *)use);
  if (rc == NDP_ENOMEM) return ndp__fail(st, rc, "expr_eval: out of memory");
  return rc;
}

static int eval_planned(const ndp_expr *e, const ndp_array *const *vars, const ndp_array *out,
                        const ndp_exec *ex, ndp_status *st) {
  int rc;
  vplan p;
  memset(&p, 0, sizeof p);
  p.e = e;
  p.odt = out->dtype;
  if (st) st->code = 0;
  rc = plan_init(&p, e, vars, out, st);
  if (!rc) rc = bind_kernels(&p, st);
  if (!rc && e->red) {
    rc = run_reduction(&p, out, ex, st);
  } else if (!rc && p.n > 0) {
    ndp_pf_opts o;
    p.stream = p.n * (int64_t)ndp_dtype_size(out->dtype) >= stream_threshold();
    pf_opts(&o, ex, 8 * BLK, 1 << 20);
    rc = ndp_parallel_for(p.n, ew_chunk, &p, &o);
  }
  ndp__free(p.op);
  ndp__free(p.fns);
  ndp__free(p.bfns);
  ndp__free(p.slot);
  ndp__free(p.partials);
  ndp__free(p.xs);
  ndp__free(p.xa);
  if (rc) return fail_run(rc, st);
  ndp__ok(st);
  return 0;
}
