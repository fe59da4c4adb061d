/*
 * rolling/rolling.c - ndp_rolling: validation, dtype rules, and the
 * parallel walk over lanes and blocks.
 *
 * A lane is the 1-D series along the axis at one index of the other
 * dimensions. Each lane of n points is cut into blocks of
 * B0 = max(16384, 2w) outputs at global positions (ndp_rolling_at's anchor
 * is the global index of the lane's first point; 0 for ndp_rolling), the
 * first and last clipped to the lane; the grid depends only on the window,
 * never on the thread count or the chunking. A chunk's first inside piece
 * (below) that starts off the whole series' segment grid runs from up to
 * w - 1 outputs earlier (dropped) so that its segments fall where the
 * whole series' do. Output i's window starts at i - off (off =
 * w - 1 trailing, w / 2 centered). A block's outputs run as at most three
 * pieces: those whose windows reach before the series' start, those whose
 * windows lie inside it, those that reach past its end (so padding never
 * sends the inside down the kernels' NaN paths). A piece of m outputs
 * reads its m + w - 1 inputs into a float64 buffer, positions outside
 * [0, n) being NaN (TRAILING, CENTER: absent, they only lower the count)
 * or the edge value (CENTER_EDGE), and calls the kernel, which sees plain
 * trailing windows and starts from scratch on every call. So a result
 * depends only on the series, n, w and the placement: bit-identical for
 * any thread count.
 *
 * Parallelism: one ndp_parallel_for over (lanes x blocks per lane), so a
 * single long series uses every core and so do many short ones; chunks
 * are sized so that tiny jobs run inline and a cancel is never far. Each
 * thread owns one work area (allocated on its first block, indexed by the
 * pool's tid, freed when the job ends): the input buffer, an output
 * buffer, the kernel's scratch, O(B + w) in all. Nothing is the size of
 * the array, except the copy of an input that overlaps the output (the
 * header's promise; in place included, as every output reads w inputs).
 *
 * Memory traffic: a float64 native-order input contiguous along the axis
 * is read where it lies; a float64 native-order output contiguous along
 * the axis is written where it lies, or, when input and output together
 * exceed the last-level cache, written from the buffer with non-temporal
 * stores (no read-for-ownership: a third less traffic on memory-bound
 * calls).
 * Everything else goes through the buffers: strided gather with byte swap
 * and cast to float64; results rounded to float32 for float32 data,
 * byte-swapped and scattered. Any strides and either byte order, in and
 * out.
 *
 * Empty arrays are valid no-ops, but the window must fit the axis:
 * window > n is an error, also for an empty axis (as bottleneck and the
 * header say), except with edge padding, where any window fits a
 * non-empty axis (as np.pad(mode='edge'): every window then holds padding
 * at one end or both; the buffers grow with the window). A 0-d array has
 * no axis: NDP_EINVAL naming it.
 *
 * COUNT follows pandas' rolling().count(): the kernel counts the non-NaN
 * values of every window (0 included), and min_count applies to the
 * window's positions inside the series, NaN or not: an output whose
 * window holds fewer than min_count positions of the series is NaN. That
 * only happens for the outputs whose windows reach outside the series
 * (TRAILING and CENTER), which run as pieces of their own: fix_count
 * marks them after the kernel.
 *
 * Booleans are read as byte != 0 (NumPy's truth), whatever the bytes.
 *
 * Thread-safety: ndp_rolling may run in several threads at once; a call
 * owns everything it allocates.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "kernels/engine_internal.h"
#include "rolling/rolling_internal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define HAVE_NT 1
#endif

/* Windows beyond the axis (edge padding only) up to this: the work areas
 * are O(window), and every size computed from it stays far from overflow
 * (such a window would need terabytes: NDP_ENOMEM long before). */
#define NDP__ROLL_MAX_WINDOW ((int64_t)1 << 40)

/* ---- names and dtypes --------------------------------------------------------- */

static const char *const names[NDP_NROLL] = {
#define NDP__XX(id, name) name,
    NDP_ROLL_MAP(NDP__XX)
#undef NDP__XX
};

int ndp_roll_lookup(const char *name) {
  if (!name) return NDP_ENOFUNC;
  for (int i = 0; i < NDP_NROLL; i++)
    if (strcmp(name, names[i]) == 0) return i;
  return NDP_ENOFUNC;
}

const char *ndp_roll_name(int fn) {
  return (unsigned)fn < NDP_NROLL ? names[fn] : NULL;
}

int ndp_roll_out_dtype(int fn, ndp_dtype in, ndp_dtype *out) {
  if ((unsigned)fn >= NDP_NROLL || !out) return NDP_EINVAL;
  if ((unsigned)in >= NDP_NTYPES) return NDP_ETYPE;
  /* float16 as bottleneck (whose float16 path gives float16 for every
   * function): computed in float64 like the others, rounded to float16 */
  *out = in == NDP_FLOAT32 || in == NDP_FLOAT16 ? in : NDP_FLOAT64;
  return 0;
}

/* ---- the plan ------------------------------------------------------------------- */

typedef void (*kernel_fn)(const ndp__roll_k *k, const double *x, int64_t m, double *y,
                          void *scratch);

typedef struct plan {
  ndp__roll_k k;
  ndp__roll_k k_nt;    /* k, for a moments kernel that streams y out itself */
  kernel_fn kernel;
  int64_t n;       /* lane length */
  int64_t off;     /* window of output i starts at i - off */
  int edge;        /* CENTER_EDGE */
  int64_t cminc;   /* COUNT without edge: fewest positions of the series a
                      window must hold (the kernel's minc is 0) */
  int64_t B;       /* most outputs of one block: min(n, B0) */
  int64_t B0;      /* the block grid's step, in global positions */
  int64_t anchor;  /* global index of the lane's first point */
  int64_t j0;      /* global index of the lane's first block */
  int64_t nblk;    /* blocks per lane */
  /* dimensions other than the axis */
  int nd;
  int64_t shape[NDP_MAXDIMS], istr[NDP_MAXDIMS], ostr[NDP_MAXDIMS];
  /* input */
  const char *in;
  size_t isz;
  int iswap;
  int64_t ia;          /* stride along the axis */
  ndp__cast_fn icast;  /* to float64; NULL for float64 */
  /* output */
  char *out;
  int of32;            /* float32 or float16 output (osz bytes, ocast) */
  size_t osz;
  ndp__cast_fn ocast;  /* float64 -> the output's dtype */
  int oswap;
  int64_t oa;
  int nt;              /* input + output larger than the last-level cache:
                          results go out with non-temporal stores (no
                          read-for-ownership, no eviction of the inputs) */
  /* per-thread work areas: x (Lmax doubles), raw, y (B doubles), scratch */
  size_t xbytes, rawbytes, ybytes, sbytes;
  void **area;
} plan;

static inline size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Reads the inputs of one block, positions s .. s + L - 1 of the lane at
 * ib, into xb as float64, with the window's padding. */
static void load(const plan *p, const char *ib, int64_t s, int64_t L, double *xb, char *raw) {
  const int64_t a = s < 0 ? 0 : s, b = s + L > p->n ? p->n : s + L;
  double *dst = xb + (a - s);
  const char *src = ib + a * p->ia;
  const size_t cnt = (size_t)(b - a);
  if (!p->icast) {
    ndp__gather(src, (ptrdiff_t)p->ia, 8, p->iswap, (char *)dst, cnt);
  } else if (p->ia == (int64_t)p->isz && !p->iswap && (uintptr_t)src % p->isz == 0) {
    p->icast(src, dst, cnt);
  } else {
    ndp__gather(src, (ptrdiff_t)p->ia, p->isz, p->iswap, raw, cnt);
    p->icast(raw, dst, cnt);
  }
  const double lo = p->edge ? dst[0] : NAN, hi = p->edge ? dst[cnt - 1] : NAN;
  for (int64_t j = 0; j < a - s; j++) xb[j] = lo;
  for (int64_t j = b - s; j < L; j++) xb[j] = hi;
}

/* COUNT: outputs [a, a + m) whose windows hold fewer than p->cminc
 * positions of the series (in [0, n)) are NaN. */
static void fix_count(const plan *p, int64_t a, int64_t m, double *y) {
  for (int64_t j = 0; j < m; j++) {
    const int64_t s = a + j - p->off, e = s + p->k.w;
    const int64_t inside = (e < p->n ? e : p->n) - (s > 0 ? s : 0);
    if (inside < p->cminc) y[j] = NAN;
  }
}

/* Booleans as NumPy reads them: any nonzero byte is True. */
static void bool_to_f64(const void *src, void *dst, size_t n) {
  const unsigned char *a = src;
  double *o = dst;
  for (size_t i = 0; i < n; i++) o[i] = a[i] != 0;
}

/* Writes m results to the lane's output at dst (stride oa). */
static void store(const plan *p, const double *y, char *dst, int64_t m, char *raw) {
  if (p->of32) {
    p->ocast(y, raw, (size_t)m);
    if (p->oa == (int64_t)p->osz && !p->oswap) memcpy(dst, raw, (size_t)m * p->osz);
    else ndp__scatter(raw, p->osz, p->oswap, dst, (ptrdiff_t)p->oa, (size_t)m);
  } else if (p->oa == 8 && !p->oswap) {
    memcpy(dst, y, (size_t)m * 8);
  } else {
    ndp__scatter((const char *)y, 8, p->oswap, dst, (ptrdiff_t)p->oa, (size_t)m);
  }
}

int64_t ndp__roll_nt_min = 0;

#ifdef HAVE_NT
/* Jobs moving at least this many bytes stream their output: 3/4 of the
 * last-level cache, or the test hook's value. */
static int64_t nt_min_bytes(void) {
  if (ndp__roll_nt_min > 0) return ndp__roll_nt_min;
  return ndp__llc_bytes() * 3 / 4;
}
#endif

/* dst[0..m) = src[0..m) with non-temporal stores where the CPU has them. */
static void nt_copy(double *dst, const double *src, int64_t m) {
  int64_t i = 0;
#ifdef HAVE_NT
  if ((uintptr_t)dst % 16 && m > 0) dst[0] = src[0], i = 1;
  for (; i + 2 <= m; i += 2) _mm_stream_pd(dst + i, _mm_loadu_pd(src + i));
#endif
  for (; i < m; i++) dst[i] = src[i];
}

/* Outputs [a, b) of the lane at ib/ob: inputs a - off .. b - off + w - 2.
 * d > 0 (a chunk's first inside piece, moments only): the kernel runs from
 * d outputs earlier (their inputs before the chunk are padding), so that
 * its segments start where they start for the whole series; those d
 * outputs are dropped. */
static void run_piece(const plan *p, const char *ib, char *ob, int64_t a, int64_t b,
                      int64_t d, char *area) {
  const int64_t w = p->k.w, m = b - a, s = a - p->off, L = m + w - 1;
  double *xb = (double *)area;
  char *raw = area + p->xbytes;
  double *yb = (double *)(raw + p->rawbytes);
  void *scratch = (char *)yb + p->ybytes;
  if (d > 0) {
    load(p, ib, s - d, L + d, xb, raw);
    p->kernel(&p->k, xb, m + d, yb, scratch);
    store(p, yb + d, ob + a * p->oa, m, raw);
    return;
  }
  const double *x = xb;
  if (!p->icast && !p->iswap && p->ia == 8 && s >= 0 && s + L <= p->n &&
      (uintptr_t)ib % 8 == 0)
    x = (const double *)(ib + s * 8); /* read in place */
  else
    load(p, ib, s, L, xb, raw);
  const int direct = !p->of32 && !p->oswap && p->oa == 8 && (uintptr_t)ob % 8 == 0;
  /* a COUNT piece that reaches outside the series is fixed up in yb */
  const int fix = p->cminc > 0 && (s < 0 || s + L > p->n);
  if (direct && p->nt && !fix && p->kernel == ndp__roll_moments) { /* it streams itself */
    p->kernel(&p->k_nt, x, m, (double *)(ob + a * 8), scratch);
    return;
  }
  double *y = direct && !p->nt && !fix ? (double *)(ob + a * 8) : yb;
  p->kernel(&p->k, x, m, y, scratch);
  if (fix) fix_count(p, a, m, yb);
  if (y == yb) {
    if (direct && p->nt) nt_copy((double *)(ob + a * 8), yb, m);
    else store(p, yb, ob + a * p->oa, m, raw);
  }
}

/* One block of a lane. The outputs whose windows reach outside the series
 * (the first `off`, the last w - 1 - off) run as pieces of their own: the
 * padding never sends the block's other outputs down the kernels' NaN
 * paths, and those read the series in place. */
static void run_block(const plan *p, int64_t lane, int64_t blk, char *area) {
  int64_t ioff = 0, ooff = 0, rem = lane;
  for (int d = p->nd - 1; d >= 0; d--) {
    const int64_t i = rem % p->shape[d];
    rem /= p->shape[d];
    ioff += i * p->istr[d];
    ooff += i * p->ostr[d];
  }
  const char *ib = p->in + ioff;
  char *ob = p->out + ooff;
  /* the block's outputs, global [G, G + B0) clipped to the lane */
  const int64_t G = (p->j0 + blk) * p->B0;
  const int64_t o0 = G - p->anchor > 0 ? G - p->anchor : 0;
  const int64_t o1 = G + p->B0 - p->anchor < p->n ? G + p->B0 - p->anchor : p->n;
  int64_t h = p->off, t = p->n - (p->k.w - 1 - p->off); /* [h, t): inside (h < t: w <= n) */
  if (h < o0) h = o0;
  if (h > o1) h = o1;
  if (t < h) t = h;
  if (t > o1) t = o1;
  /* for the whole series this inside piece would start at global
   * P = max(G, off): the moments kernels' segments start there */
  int64_t d = 0;
  if (p->anchor > 0 && p->kernel == ndp__roll_moments) {
    const int64_t A = p->anchor + h, P = G > p->off ? G : p->off;
    if (A > P) d = (A - P) % p->k.w;
  }
  if (h > o0) run_piece(p, ib, ob, o0, h, 0, area);
  if (t > h) run_piece(p, ib, ob, h, t, d, area);
  if (o1 > t) run_piece(p, ib, ob, t, o1, 0, area);
}

static int chunk(void *ctx, int64_t b, int64_t e, int tid) {
  plan *p = ctx;
  char *area = p->area[tid];
  if (!area) {
    area = ndp__aligned_alloc(64, p->xbytes + p->rawbytes + p->ybytes + p->sbytes);
    if (!area) return NDP_ENOMEM;
    p->area[tid] = area;
  }
  for (int64_t t = b; t < e; t++) run_block(p, t / p->nblk, t % p->nblk, area);
#ifdef HAVE_NT
  if (p->nt) _mm_sfence(); /* the streamed results are visible when the job ends */
#endif
  return 0;
}

/* ---- validation ---------------------------------------------------------------------- */

static int check_array(const ndp_array *a, const char *what, const char *name,
                       ndp_status *st) {
  if (!a) return ndp__fail(st, NDP_EINVAL, "rolling %s: %s is NULL", name, what);
  if ((unsigned)a->dtype >= NDP_NTYPES)
    return ndp__fail(st, NDP_ETYPE, "rolling %s: %s has an invalid dtype (%d)", name, what,
                     (int)a->dtype);
  if (a->ndim < 0 || a->ndim > NDP_MAXDIMS)
    return ndp__fail(st, NDP_EINVAL, "rolling %s: %s has ndim %d (0..%d allowed)", name,
                     what, a->ndim, NDP_MAXDIMS);
  if (ndp_array_size(a) < 0)
    return ndp__fail(st, NDP_EINVAL, "rolling %s: %s has a negative or overflowing shape",
                     name, what);
  if (!a->data && ndp_array_size(a) > 0)
    return ndp__fail(st, NDP_EINVAL, "rolling %s: %s has no data", name, what);
  return 0;
}

static int validate(int fn, const ndp_array *in, const ndp_array *out,
                    const ndp_roll_opts *o, int *axis, int64_t *minc, ndp_status *st) {
  if ((unsigned)fn >= NDP_NROLL)
    return ndp__fail(st, NDP_EINVAL, "rolling: fn %d is not a rolling function", fn);
  const char *name = names[fn];
  int rc = check_array(in, "in", name, st);
  if (!rc) rc = check_array(out, "out", name, st);
  if (rc) return rc;
  if (!o) return ndp__fail(st, NDP_EINVAL, "rolling %s: opts is NULL", name);
  ndp_dtype want = NDP_FLOAT64;
  ndp_roll_out_dtype(fn, in->dtype, &want);
  if (out->dtype != want)
    return ndp__fail(st, NDP_ETYPE, "rolling %s: out has dtype %s, %s input needs %s", name,
                     ndp_dtype_name(out->dtype), ndp_dtype_name(in->dtype),
                     ndp_dtype_name(want));
  int ax = o->axis < 0 ? o->axis + in->ndim : o->axis;
  if (ax < 0 || ax >= in->ndim)
    return ndp__fail(st, NDP_EINVAL, "rolling %s: axis %d is out of range for %d dimensions",
                     name, o->axis, in->ndim);
  if (out->ndim != in->ndim)
    return ndp__fail(st, NDP_ESHAPE, "rolling %s: out has %d dimensions, in has %d", name,
                     out->ndim, in->ndim);
  for (int d = 0; d < in->ndim; d++)
    if (out->shape[d] != in->shape[d])
      return ndp__fail(st, NDP_ESHAPE,
                       "rolling %s: out has extent %lld in dimension %d, in has %lld", name,
                       (long long)out->shape[d], d, (long long)in->shape[d]);
  for (int d = 0; d < out->ndim && ndp_array_size(out) > 0; d++)
    if (out->shape[d] > 1 && out->strides[d] == 0)
      return ndp__fail(st, NDP_EINVAL, "rolling %s: out has a zero stride in dimension %d",
                       name, d);
  const int64_t n = in->shape[ax], w = o->window;
  if (w < 1)
    return ndp__fail(st, NDP_EINVAL, "rolling %s: window must be >= 1, got %lld", name,
                     (long long)w);
  const int edge = o->align == NDP_ROLL_CENTER_EDGE;
  if (w > n && !(edge && n > 0))
    return ndp__fail(st, NDP_EINVAL,
                     "rolling %s: window (%lld) is larger than the axis (%lld points)%s", name,
                     (long long)w, (long long)n,
                     edge ? ": edge padding needs at least one point" : "");
  if (w > NDP__ROLL_MAX_WINDOW) /* only reachable with edge padding */
    return ndp__fail(st, NDP_EINVAL, "rolling %s: window (%lld) is too large (at most 2^40)",
                     name, (long long)w);
  if (o->min_count < 0 || o->min_count > w)
    return ndp__fail(st, NDP_EINVAL,
                     "rolling %s: min_count must be in 1..window (%lld) or 0, got %lld", name,
                     (long long)w, (long long)o->min_count);
  if (fn == NDP_ROLL_QUANTILE && !(o->q >= 0 && o->q <= 1))
    return ndp__fail(st, NDP_EINVAL, "rolling %s: q must be in [0, 1], got %g", name, o->q);
  if ((fn == NDP_ROLL_VAR || fn == NDP_ROLL_STD) && o->ddof < 0)
    return ndp__fail(st, NDP_EINVAL, "rolling %s: ddof must be >= 0, got %d", name, o->ddof);
  if ((unsigned)o->align > NDP_ROLL_CENTER_EDGE)
    return ndp__fail(st, NDP_EINVAL, "rolling %s: align %d is not a window placement", name,
                     (int)o->align);
  *axis = ax;
  *minc = o->min_count == 0 ? w : o->min_count;
  return 0;
}

/* ---- entry ------------------------------------------------------------------------------ */

static void build(plan *p, int fn, const ndp_array *in, const ndp_array *out, int ax,
                  const ndp_roll_opts *o, int64_t minc, int64_t anchor) {
  memset(p, 0, sizeof *p);
  p->k.fn = fn;
  p->k.w = o->window;
  p->k.minc = minc;
  if (fn == NDP_ROLL_COUNT) { /* pandas: min_count counts positions, not values */
    p->k.minc = 0;
    p->cminc = o->align == NDP_ROLL_CENTER_EDGE ? 0 : minc; /* edge: w positions always */
  }
  p->k.q = o->q;
  p->k.ddof = o->ddof;
  p->k.avx2 = ndp_get_isa() >= NDP_ISA_AVX2;
  switch (fn) {
  case NDP_ROLL_MIN:
  case NDP_ROLL_MAX:
  case NDP_ROLL_ARGMIN:
  case NDP_ROLL_ARGMAX: p->kernel = ndp__roll_extrema; break;
  case NDP_ROLL_MEDIAN:
  case NDP_ROLL_QUANTILE: p->kernel = ndp__roll_order; break;
  default: p->kernel = ndp__roll_moments; break;
  }
  const int64_t w = o->window;
  p->n = in->shape[ax];
  p->off = o->align == NDP_ROLL_TRAILING ? w - 1 : w / 2;
  p->edge = o->align == NDP_ROLL_CENTER_EDGE;
  p->B0 = w > 8192 ? 2 * w : 16384;
  p->B = p->n < p->B0 ? p->n : p->B0;
  p->anchor = anchor;
  p->j0 = anchor / p->B0;
  p->nblk = (anchor + p->n - 1) / p->B0 - p->j0 + 1;
  for (int d = 0; d < in->ndim; d++) {
    if (d == ax || in->shape[d] == 1) continue;
    p->shape[p->nd] = in->shape[d];
    p->istr[p->nd] = in->strides[d];
    p->ostr[p->nd] = out->strides[d];
    p->nd++;
  }
  p->in = in->data;
  p->isz = ndp_dtype_size(in->dtype);
  p->iswap = (in->flags & NDP_ARRAY_BYTESWAPPED) && p->isz > 1;
  p->ia = in->strides[ax];
  p->icast = in->dtype == NDP_FLOAT64 ? NULL
             : in->dtype == NDP_BOOL  ? bool_to_f64
                                      : ndp__cast(in->dtype, NDP_FLOAT64);
  p->out = out->data;
  p->of32 = out->dtype == NDP_FLOAT32 || out->dtype == NDP_FLOAT16;
  p->osz = ndp_dtype_size(out->dtype);
  p->ocast = p->of32 ? ndp__cast(NDP_FLOAT64, out->dtype) : NULL;
  p->oswap = (out->flags & NDP_ARRAY_BYTESWAPPED) != 0;
  p->oa = out->strides[ax];
  p->k_nt = p->k;
  p->k_nt.nt = 1;
#ifdef HAVE_NT
  /* streamed when input and output together would not stay in the cache
   * (measured with 32 MB of L3: streaming wins from 16 MB of output, with
   * 16 MB of input, and loses at 8 + 8 MB) */
  p->nt = !p->of32 && ndp_array_size(out) * (int64_t)(8 + p->isz) >= nt_min_bytes();
#endif
  /* buffers by need: a float64 input read in place only loads the pieces
   * that reach outside the series (< 2w inputs); raw only serves casts and
   * float32 results; y only outputs not written in place */
  int al_in = (uintptr_t)in->data % 8 == 0, al_out = (uintptr_t)out->data % 8 == 0;
  for (int d = 0; d < p->nd; d++) {
    al_in &= p->istr[d] % 8 == 0;
    al_out &= p->ostr[d] % 8 == 0;
  }
  /* a chunk (anchor > 0) runs its first inside pieces up to w - 1 outputs
   * longer, through the buffers */
  const int ext = anchor > 0 && p->kernel == ndp__roll_moments;
  const int64_t Bk = ext ? p->B + w : p->B, Lmax = Bk + w - 1;
  const int inplace_in = al_in && !p->icast && !p->iswap && p->ia == 8;
  const int64_t Lx = inplace_in && 2 * w < Lmax && !ext ? 2 * w : Lmax;
  p->xbytes = round64((size_t)Lx * 8);
  size_t raw = p->icast ? (size_t)Lmax * p->isz : 0, fo = p->of32 ? (size_t)p->B * 4 : 0;
  p->rawbytes = round64(raw > fo ? raw : fo);
  const int inplace_out = al_out && !p->of32 && !p->oswap && p->oa == 8 && !p->nt;
  p->ybytes = inplace_out && !ext ? 0 : round64((size_t)Bk * 8);
  switch (fn) {
  case NDP_ROLL_MIN:
  case NDP_ROLL_MAX:
  case NDP_ROLL_ARGMIN:
  case NDP_ROLL_ARGMAX: p->sbytes = ndp__roll_extrema_scratch(&p->k, p->B); break;
  case NDP_ROLL_MEDIAN:
  case NDP_ROLL_QUANTILE: p->sbytes = ndp__roll_order_scratch(&p->k, p->B); break;
  default: p->sbytes = ndp__roll_moments_scratch(&p->k, Bk); break;
  }
  p->sbytes = round64(p->sbytes);
}

int ndp_rolling(int fn, const ndp_array *in, const ndp_array *out, const ndp_roll_opts *opts,
                const ndp_exec *ex, ndp_status *st) {
  return ndp_rolling_at(fn, in, out, opts, 0, ex, st);
}

int ndp_rolling_at(int fn, const ndp_array *in, const ndp_array *out,
                   const ndp_roll_opts *opts, int64_t anchor, const ndp_exec *ex,
                   ndp_status *st) {
  int ax = 0;
  int64_t minc = 1;
  int rc = validate(fn, in, out, opts, &ax, &minc, st);
  if (rc) return rc;
  const char *name = names[fn];
  if (anchor < 0 || anchor > ((int64_t)1 << 62))
    return ndp__fail(st, NDP_EINVAL, "rolling %s: anchor must be in 0..2^62, got %lld", name,
                     (long long)anchor);
  if (ndp_array_size(in) == 0) {
    ndp__ok(st);
    return 0;
  }
  /* in place or overlapping: work from a copy (a window reads its
   * neighbours, so even an exact alias needs one) */
  void *copy = NULL;
  ndp_array cin;
  if (ndp__detach_overlap(in, out, 0, &cin, &copy))
    return ndp__fail(st, NDP_ENOMEM, "rolling %s: no memory to copy the overlapping input",
                     name);
  if (copy) in = &cin;
  plan p;
  build(&p, fn, in, out, ax, opts, minc, anchor);
  int nthr = ex && ex->nthreads > 0 ? ex->nthreads : ndp_get_num_threads();
  if (nthr < 1) nthr = 1;
  if (nthr > NDP_MAX_THREADS) nthr = NDP_MAX_THREADS;
  p.area = ndp__calloc((size_t)nthr, sizeof *p.area);
  if (!p.area) {
    ndp__free(copy);
    return ndp__fail(st, NDP_ENOMEM, "rolling %s: out of memory", name);
  }
  int64_t nlanes = 1;
  for (int d = 0; d < p.nd; d++) nlanes *= p.shape[d];
  /* chunks of at least ~30 us of work (smaller jobs run inline), at most
   * ~5 ms (so a cancel or progress report is never far away): median and
   * quantile cost ~30 ns a point, the others ~1 ns */
  const int order = fn == NDP_ROLL_MEDIAN || fn == NDP_ROLL_QUANTILE;
  const int64_t per = p.B + p.k.w - 1, lo = order ? 1024 : 32768, hi = order ? 1 << 17 : 1 << 22;
  ndp_pf_opts po;
  memset(&po, 0, sizeof po);
  po.grain = per >= lo ? 1 : lo / per;
  po.max_chunk = per >= hi ? 1 : hi / per;
  if (po.max_chunk < po.grain) po.max_chunk = po.grain;
  po.nthreads = nthr;
  if (ex) {
    po.poll = ex->poll;
    po.poll_ud = ex->poll_ud;
    po.poll_interval = ex->poll_interval;
  }
  rc = ndp_parallel_for(nlanes * p.nblk, chunk, &p, &po);
  for (int t = 0; t < nthr; t++) ndp__free(p.area[t]);
  ndp__free(p.area);
  ndp__free(copy);
  if (rc == NDP_ECANCELED) return ndp__fail(st, rc, "rolling %s: cancelled", name);
  if (rc == NDP_ENOMEM) return ndp__fail(st, rc, "rolling %s: out of memory", name);
  if (rc) return ndp__fail(st, rc, "rolling %s: %s", name, ndp_strerror(rc));
  ndp__ok(st);
  return 0;
}
