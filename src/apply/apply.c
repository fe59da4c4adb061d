/*
 * apply/apply.c - a table of functions chosen per point (ndpar/apply.h):
 *     out[i] = table[index[i]](x0[i], ..., x{m-1}[i])
 *
 * Algorithm (O(N + k), no comparison sort; every pass runs on the pool):
 *  1. Count: [0, N) is cut into C chunks (CHUNKS_PER_THREAD per thread,
 *     none under MIN_CHUNK_POINTS, and fewer when k is large so that the
 *     C x (k + 1) counters stay under N + SPARE_COUNTERS). Each chunk counts
 *     its points per bin (bin k: the indices outside [0, k)) and notes its
 *     first out-of-range point. The bins are kept (1 byte for k < 256, 2
 *     for k < 65536, 4 below 2^32, else 8) and the later passes read them,
 *     never the index again: an index changed during the call (by another
 *     thread, or by an entry) cannot push a cursor out of its range.
 *  2. Prefix: one exclusive prefix sum in (bin, chunk) order gives every
 *     chunk its own start per bin, and every group g its range
 *     [gstart[g], gstart[g+1]) of the grouped order. The order is stable:
 *     within a group, points keep their order, whatever C is.
 *  3. Gather: each chunk walks its points again with a copy of its starts
 *     as cursors and copies point i's inputs to xs_j[cursor[bin]++]. The
 *     writes go to k + 1 sequential streams (software-prefetched ahead).
 *  4. Evaluate: the grouped order is cut into tasks of about TASK_POINTS
 *     points: a larger group is split (unless its entry wants the whole
 *     group: then it is one task), consecutive small groups are batched
 *     into one task. A task evaluates its groups on contiguous slices into
 *     ys, in the grouped order (consecutive groups of the same expression
 *     in one call); out-of-range points get the default value.
 *  5. Scatter: each chunk walks its points once more with its starts as
 *     cursors: out[i] = ys[cursor[bin]++], writing out in order (with
 *     non-temporal stores when out is contiguous float64-sized and larger
 *     than the last-level cache).
 *
 * Each point's value depends only on its own inputs and its entry, and the
 * task cut depends only on the group sizes, so the result is the same for
 * any thread count.
 *
 * Memory beyond inputs and output, N points: xs (the inputs' item sizes a
 * point), ys (out's item size a point; none when every entry is an
 * expression and out's item size equals x0's: ys is then xs_0, which the
 * expressions overwrite in place), the kept bins (1 to 8 bytes a
 * point, by k), 2 x C x (k + 1) counters (4 bytes; 8 when N >= 2^31), k + 2
 * group starts (8 bytes) and 16 bytes per task. Buffers of 4 MiB and more
 * are aligned to 2 MiB and offered transparent huge pages: fresh memory
 * then costs far fewer page faults.
 *
 * Thread-safety: ndp_apply may be called from any thread; entries are
 * called from the pool's threads, several at a time.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "core/internal.h"
#include "expr/expr_internal.h"
#include "ndpar/apply.h"

#define MAXARGS 64
#define TASK_POINTS 16384         /* points per evaluation task */
#define BLOCK 512                 /* points per inner block of the passes */
#define CHUNKS_PER_THREAD 4
#define MIN_CHUNK_POINTS 16384    /* no counting chunk smaller than this */
#define SPARE_COUNTERS 65536      /* counters allowed beyond N */
#define HUGE_BYTES ((size_t)2 << 20)
#define MAX_K ((int64_t)1 << 48)      /* counters and group starts stay addressable */

/* Everything one call needs; released by plan_free. */
typedef struct plan {
  int m;
  const ndp_array *const *x;
  const ndp_array *index;
  int64_t k, n;
  const ndp_apply_entry *table;
  const ndp_array *out;
  const void *defv;
  const ndp_exec *ex;
  int wide;                 /* counters and rank are int64 (N >= 2^31) */
  size_t osz, isz[MAXARGS];
  /* counting */
  int64_t nchunks, chunk;   /* C chunks of `chunk` points (the last shorter) */
  void *counts;             /* C x (k + 1), chunk-major; then cursors */
  int64_t *first_bad;       /* per chunk: first out-of-range point or -1 */
  int64_t *gstart;          /* k + 2 */
  void *cur;                /* a copy of the cursors, for the gather */
  void *bins;               /* N bins of bins_w bytes */
  size_t bins_w;
  char *xs[MAXARGS];        /* grouped inputs */
  char *ys;                 /* grouped results (may be xs[0]) */
  int ys_owned;
  int stream;               /* write out with non-temporal stores */
  /* evaluation */
  int64_t ntasks;
  int64_t *tb, *tg;         /* task t: [tb[t], tb[t+1]), first group tg[t] */
  _Atomic int failed;       /* first failure recorded in fail */
  ndp_status fail;
  /* progress */
  double phase_base, phase_weight;
} plan;

/* ---- small helpers -------------------------------------------------------- */

static int is_index_dtype(ndp_dtype t) { return t >= NDP_INT8 && t <= NDP_UINT64; }
static int is_signed_dtype(ndp_dtype t) {
  return t == NDP_INT8 || t == NDP_INT16 || t == NDP_INT32 || t == NDP_INT64;
}

/* Byte range [lo, hi) a 1-D array spans. */
static void extent(const ndp_array *a, uintptr_t *lo, uintptr_t *hi) {
  uintptr_t d = (uintptr_t)a->data;
  int64_t n = a->shape[0];
  int64_t span = n > 0 ? (n - 1) * a->strides[0] : 0;
  size_t isz = ndp_dtype_size(a->dtype);
  *lo = span < 0 ? d + (uintptr_t)(intptr_t)span : d;
  *hi = (span > 0 ? d + (uintptr_t)span : d) + isz;
}

static int overlaps(const ndp_array *a, const ndp_array *b) {
  if (a->shape[0] == 0 || b->shape[0] == 0) return 0;
  uintptr_t alo, ahi, blo, bhi;
  extent(a, &alo, &ahi);
  extent(b, &blo, &bhi);
  return alo < bhi && blo < ahi;
}

/* Large buffers: 2 MiB aligned and offered huge pages (fewer faults). */
static void *big_alloc(size_t bytes) {
  if (bytes < 2 * HUGE_BYTES) return ndp__aligned_alloc(64, bytes);
  size_t n = (bytes + HUGE_BYTES - 1) / HUGE_BYTES * HUGE_BYTES;
  void *q = ndp__aligned_alloc(HUGE_BYTES, n);
#ifdef MADV_HUGEPAGE
  if (q) (void)madvise(q, n, MADV_HUGEPAGE);
#endif
  return q;
}

/* The index value at position i, as written (for messages). */
static void index_value_text(const ndp_array *idx, int64_t i, char *buf, size_t cap) {
  const char *q = (const char *)idx->data + i * idx->strides[0];
  int64_t s = 0;
  uint64_t u = 0;
  switch (idx->dtype) {
  case NDP_INT8: { int8_t v; memcpy(&v, q, 1); s = v; break; }
  case NDP_UINT8: { uint8_t v; memcpy(&v, q, 1); u = v; break; }
  case NDP_INT16: { int16_t v; memcpy(&v, q, 2); s = v; break; }
  case NDP_UINT16: { uint16_t v; memcpy(&v, q, 2); u = v; break; }
  case NDP_INT32: { int32_t v; memcpy(&v, q, 4); s = v; break; }
  case NDP_UINT32: { uint32_t v; memcpy(&v, q, 4); u = v; break; }
  case NDP_INT64: memcpy(&s, q, 8); break;
  default: memcpy(&u, q, 8); break;
  }
  if (is_signed_dtype(idx->dtype)) snprintf(buf, cap, "%lld", (long long)s);
  else snprintf(buf, cap, "%llu", (unsigned long long)u);
}

/* Bins of n index values from position i0: the value when in [0, k), else
 * k. A signed value converts through int64 to a huge unsigned one when
 * negative, so one unsigned comparison does both bounds. */
#define BINS_OF(T)                                                           \
  for (size_t t = 0; t < n; t++) {                                           \
    T v;                                                                     \
    memcpy(&v, q + (ptrdiff_t)t * s, sizeof v);                              \
    uint64_t u = (uint64_t)(int64_t)v;                                       \
    bins[t] = u < k ? u : k;                                                 \
  }

static void bins_of(const ndp_array *idx, int64_t i0, size_t n, uint64_t k, uint64_t *bins) {
  const char *q = (const char *)idx->data + i0 * idx->strides[0];
  const ptrdiff_t s = (ptrdiff_t)idx->strides[0];
  switch (idx->dtype) {
  case NDP_INT8: BINS_OF(int8_t); break;
  case NDP_UINT8: BINS_OF(uint8_t); break;
  case NDP_INT16: BINS_OF(int16_t); break;
  case NDP_UINT16: BINS_OF(uint16_t); break;
  case NDP_INT32: BINS_OF(int32_t); break;
  case NDP_UINT32: BINS_OF(uint32_t); break;
  case NDP_INT64: BINS_OF(int64_t); break;
  default: BINS_OF(uint64_t); break;
  }
}

/* Prefetch distance in the k + 1 streams of the gather and the scatter. */
#define PF_AHEAD 128
#if defined(__GNUC__)
#define PREFETCH(a, w) __builtin_prefetch((a), (w), 3)
#else
#define PREFETCH(a, w) (void)0
#endif

/* Bins of points [i0, i0 + n): from the bins cache when there is one. */
static void load_bins(const plan *p, int64_t i0, size_t n, uint64_t *bins) {
  switch (p->bins_w) {
  case 1: {
    const uint8_t *b = (const uint8_t *)p->bins + i0;
    for (size_t t = 0; t < n; t++) bins[t] = b[t];
    break;
  }
  case 2: {
    const uint16_t *b = (const uint16_t *)p->bins + i0;
    for (size_t t = 0; t < n; t++) bins[t] = b[t];
    break;
  }
  case 4: {
    const uint32_t *b = (const uint32_t *)p->bins + i0;
    for (size_t t = 0; t < n; t++) bins[t] = b[t];
    break;
  }
  default: /* 8 */
    memcpy(bins, (const uint64_t *)p->bins + i0, n * sizeof *bins);
  }
}

static void store_bins(const plan *p, int64_t i0, size_t n, const uint64_t *bins) {
  switch (p->bins_w) {
  case 1: {
    uint8_t *b = (uint8_t *)p->bins + i0;
    for (size_t t = 0; t < n; t++) b[t] = (uint8_t)bins[t];
    break;
  }
  case 2: {
    uint16_t *b = (uint16_t *)p->bins + i0;
    for (size_t t = 0; t < n; t++) b[t] = (uint16_t)bins[t];
    break;
  }
  case 4: {
    uint32_t *b = (uint32_t *)p->bins + i0;
    for (size_t t = 0; t < n; t++) b[t] = (uint32_t)bins[t];
    break;
  }
  default: /* 8 */
    memcpy((uint64_t *)p->bins + i0, bins, n * sizeof *bins);
  }
}

/* dst + pos[t] * isz = src + t * stride, t < n. */
#define PUT_AT(T)                                                            \
  for (size_t t = 0; t < n; t++) {                                           \
    PREFETCH(dst + ((size_t)pos[t] + PF_AHEAD / sizeof(T)) * sizeof(T), 1);  \
    memcpy(dst + (size_t)pos[t] * sizeof(T), src + (ptrdiff_t)t * stride, sizeof(T)); \
  }

static void put_at(char *dst, size_t isz, const int64_t *pos, const char *src,
                   ptrdiff_t stride, size_t n) {
  switch (isz) {
  case 1: PUT_AT(uint8_t); break;
  case 2: PUT_AT(uint16_t); break;
  case 4: PUT_AT(uint32_t); break;
  default: PUT_AT(uint64_t); break;
  }
}

/* dst + t * stride = src + pos[t] * isz, t < n. */
#define GET_AT(T)                                                            \
  for (size_t t = 0; t < n; t++) {                                           \
    PREFETCH(src + ((size_t)pos[t] + PF_AHEAD / sizeof(T)) * sizeof(T), 0);  \
    memcpy(dst + (ptrdiff_t)t * stride, src + (size_t)pos[t] * sizeof(T), sizeof(T)); \
  }

static void get_at(char *dst, ptrdiff_t stride, const char *src, size_t isz,
                   const int64_t *pos, size_t n) {
  switch (isz) {
  case 1: GET_AT(uint8_t); break;
  case 2: GET_AT(uint16_t); break;
  case 4: GET_AT(uint32_t); break;
  default: GET_AT(uint64_t); break;
  }
}

/* Contiguous 8-byte dst[t] = src[pos[t]] with non-temporal stores where
 * the CPU has them: an output much larger than the caches is then written
 * without being read first. dst must be 8-byte aligned. */
static void get_at_stream(char *dst, const char *src, const int64_t *pos, size_t n) {
#if defined(__SSE2__) && defined(__x86_64__)
  for (size_t t = 0; t < n; t++) {
    long long v;
    PREFETCH(src + ((size_t)pos[t] + PF_AHEAD / 8) * 8, 0);
    memcpy(&v, src + (size_t)pos[t] * 8, 8);
    _mm_stream_si64((long long *)(void *)(dst + t * 8), v);
  }
#else
  get_at(dst, 8, src, 8, pos, n);
#endif
}

static void stream_fence(void) {
#if defined(__SSE2__) && defined(__x86_64__)
  _mm_sfence();
#endif
}

/* ---- progress --------------------------------------------------------------- */

/* The caller's poll sees one fraction over the whole call: each pass
 * reports into its share. */
static int phase_poll(void *ud, double frac) {
  const plan *p = ud;
  return p->ex->poll(p->ex->poll_ud, p->phase_base + p->phase_weight * frac);
}

static int run_phase(plan *p, int64_t n, ndp_range_fn fn, int64_t max_chunk, double base,
                     double weight) {
  ndp_pf_opts o;
  memset(&o, 0, sizeof o);
  o.grain = 1;
  o.max_chunk = max_chunk;
  p->phase_base = base;
  p->phase_weight = weight;
  if (p->ex) {
    o.nthreads = p->ex->nthreads;
    o.poll_interval = p->ex->poll_interval;
    if (p->ex->poll) {
      o.poll = phase_poll;
      o.poll_ud = p;
    }
  }
  return ndp_parallel_for(n, fn, p, &o);
}

/* ---- 1. count ----------------------------------------------------------------- */

static int count_chunk(void *ctx, int64_t c0, int64_t c1, int tid) {
  plan *p = ctx;
  uint64_t bins[BLOCK];
  (void)tid;
  for (int64_t c = c0; c < c1; c++) {
    int64_t b = c * p->chunk, e = b + p->chunk < p->n ? b + p->chunk : p->n;
    size_t row = (size_t)c * (size_t)(p->k + 1);
    uint32_t *c32 = (uint32_t *)p->counts + row;
    int64_t *c64 = (int64_t *)p->counts + row;
    int64_t bad = -1;
    for (int64_t i0 = b; i0 < e; i0 += BLOCK) {
      size_t n = (size_t)(e - i0 < BLOCK ? e - i0 : BLOCK);
      bins_of(p->index, i0, n, (uint64_t)p->k, bins);
      store_bins(p, i0, n, bins);
      if (p->wide)
        for (size_t t = 0; t < n; t++) c64[bins[t]]++;
      else
        for (size_t t = 0; t < n; t++) c32[bins[t]]++;
      if (bad < 0 && (p->wide ? c64[p->k] : (int64_t)c32[p->k]) > 0)
        for (size_t t = 0; t < n && bad < 0; t++)
          if (bins[t] == (uint64_t)p->k) bad = i0 + (int64_t)t;
    }
    p->first_bad[c] = bad;
  }
  return 0;
}

/* ---- 2. prefix ---------------------------------------------------------------- */

static void prefix(plan *p) {
  const size_t kk = (size_t)(p->k + 1);
  int64_t run = 0;
  for (size_t b = 0; b < kk; b++) {
    p->gstart[b] = run;
    for (int64_t c = 0; c < p->nchunks; c++) {
      size_t at = (size_t)c * kk + b;
      if (p->wide) {
        int64_t *q = (int64_t *)p->counts + at, v = *q;
        *q = run;
        run += v;
      } else {
        uint32_t *q = (uint32_t *)p->counts + at, v = *q;
        *q = (uint32_t)run;
        run += v;
      }
    }
  }
  p->gstart[kk] = run;
}

/* ---- 3. gather -------------------------------------------------------------------- */

/* Grouped positions of the n points from i0 of chunk c: pos[t] =
 * cursor[bin]++, with the cursors of `cursors` (C x (k + 1)). */
static void positions(const plan *p, void *cursors, int64_t c, int64_t i0, size_t n,
                      int64_t *pos) {
  uint64_t bins[BLOCK];
  size_t row = (size_t)c * (size_t)(p->k + 1);
  load_bins(p, i0, n, bins);
  if (p->wide) {
    int64_t *cur = (int64_t *)cursors + row;
    for (size_t t = 0; t < n; t++) pos[t] = cur[bins[t]]++;
  } else {
    uint32_t *cur = (uint32_t *)cursors + row;
    for (size_t t = 0; t < n; t++) pos[t] = cur[bins[t]]++;
  }
}

static int gather_chunk(void *ctx, int64_t c0, int64_t c1, int tid) {
  plan *p = ctx;
  int64_t pos[BLOCK];
  (void)tid;
  for (int64_t c = c0; c < c1; c++) {
    int64_t b = c * p->chunk, e = b + p->chunk < p->n ? b + p->chunk : p->n;
    for (int64_t i0 = b; i0 < e; i0 += BLOCK) {
      size_t n = (size_t)(e - i0 < BLOCK ? e - i0 : BLOCK);
      positions(p, p->cur, c, i0, n, pos);
      for (int j = 0; j < p->m; j++) {
        const ndp_array *a = p->x[j];
        put_at(p->xs[j], p->isz[j], pos, (const char *)a->data + i0 * a->strides[0],
               (ptrdiff_t)a->strides[0], n);
      }
    }
  }
  return 0;
}

/* ---- 4. evaluate ------------------------------------------------------------------- */

static int splittable(const plan *p, int64_t g) {
  if (g == p->k) return 1;
  const ndp_apply_entry *e = &p->table[g];
  return e->kind == NDP_ENTRY_EXPR || !e->whole_group;
}

/* Cuts the grouped order into tasks; with tb NULL only counts them. */
static int64_t make_tasks(const plan *p, int64_t *tb, int64_t *tg) {
  int64_t nt = 0, open = -1, open_g = 0;
#define EMIT(b_, g_)     \
  do {                   \
    if (tb) {            \
      tb[nt] = (b_);     \
      tg[nt] = (g_);     \
    }                    \
    nt++;                \
  } while (0)
  for (int64_t g = 0; g <= p->k; g++) {
    int64_t b = p->gstart[g], e = p->gstart[g + 1], c = e - b;
    if (c == 0) continue;
    /* a whole-group entry (a Python callable, say) is a task of its own:
       each call may be long or block, so none waits behind another */
    if (c > TASK_POINTS || !splittable(p, g)) {
      if (open >= 0) EMIT(open, open_g);
      open = -1;
      int64_t pieces = splittable(p, g) ? (c + TASK_POINTS - 1) / TASK_POINTS : 1;
      for (int64_t q = 0; q < pieces; q++) /* sizes differ by at most one */
        EMIT(b + c / pieces * q + (q < c % pieces ? q : c % pieces), g);
    } else {
      if (open < 0) {
        open = b;
        open_g = g;
      }
      if (e - open >= TASK_POINTS) {
        EMIT(open, open_g);
        open = -1;
      }
    }
  }
  if (open >= 0) EMIT(open, open_g);
#undef EMIT
  if (tb) tb[nt] = p->n;
  return nt;
}

/* Records the first failure of the evaluation (later ones are dropped). */
static int record_fail(plan *p, int code, int64_t entry, const char *fmt, ...) NDP__PRINTF(4, 5);
static int record_fail(plan *p, int code, int64_t entry, const char *fmt, ...) {
  int zero = 0;
  if (atomic_compare_exchange_strong(&p->failed, &zero, 1)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->fail.msg, sizeof p->fail.msg, fmt, ap);
    va_end(ap);
    p->fail.code = code;
    p->fail.pos = (long)entry;
  }
  return code;
}

static void fill_value(char *dst, const void *v, size_t isz, int64_t n) {
  for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * isz, v, isz);
}

/* Entry g's expression over grouped positions [lo, hi). */
static int run_expr(plan *p, int64_t g, int64_t lo, int64_t hi) {
  const ndp_expr *e = p->table[g].expr;
  const ndp_exec one = {1, NULL, NULL, 0.0};
  ndp_status st = {0, "", -1};
  ndp_array xa[MAXARGS], oa;
  const ndp_array *vars[MAXARGS + 1];
  int64_t len = hi - lo;
  int rc;
  for (int j = 0; j < p->m; j++)
    ndp_array_init(&xa[j], p->xs[j] + (size_t)lo * p->isz[j], p->x[j]->dtype, 1, &len);
  for (int v = 0; v < e->nvars; v++) vars[v] = &xa[v < p->m ? v : 0];
  char *dst = p->ys + (size_t)lo * p->osz;
  int used = 0;
  for (int v = 0; v < e->nvars; v++) used |= e->vars[v].used;
  if (used) {
    ndp_array_init(&oa, dst, p->out->dtype, 1, &len);
    rc = ndp_expr_eval(e, vars, &oa, NDP_CASTING_SAME_KIND, &one, &st);
  } else { /* a constant: one 0-d value, repeated */
    _Alignas(8) unsigned char v[8];
    ndp_array_init(&oa, v, p->out->dtype, 0, NULL);
    rc = ndp_expr_eval(e, vars, &oa, NDP_CASTING_SAME_KIND, &one, &st);
    if (!rc) fill_value(dst, v, p->osz, len);
  }
  if (rc)
    return record_fail(p, rc, g, "apply: table[%lld]: %s", (long long)g,
                       st.code == rc && st.msg[0] ? st.msg : ndp_strerror(rc));
  return 0;
}

static int run_fn(plan *p, int64_t g, int64_t lo, int64_t hi) {
  const ndp_apply_entry *en = &p->table[g];
  void *args[MAXARGS];
  for (int j = 0; j < p->m; j++) args[j] = p->xs[j] + (size_t)lo * p->isz[j];
  int r = en->fn(hi - lo, args, p->ys + (size_t)lo * p->osz, en->ud);
  if (r != 0)
    return record_fail(p, NDP_EUSER, g, "apply: table[%lld]: the function returned %d",
                       (long long)g, r);
  return 0;
}

/* The next non-empty group after g (one exists when its start < end). */
static int64_t next_group(const plan *p, int64_t g) {
  g++;
  while (p->gstart[g + 1] == p->gstart[g]) g++;
  return g;
}

static int run_task(plan *p, int64_t t) {
  int64_t pos = p->tb[t], end = p->tb[t + 1], g = p->tg[t];
  while (pos < end) {
    while (p->gstart[g + 1] <= pos) g++;
    int64_t hi = p->gstart[g + 1] < end ? p->gstart[g + 1] : end;
    int rc;
    if (g == p->k) {
      fill_value(p->ys + (size_t)pos * p->osz, p->defv, p->osz, hi - pos);
      rc = 0;
    } else if (p->table[g].kind == NDP_ENTRY_EXPR) {
      /* consecutive groups of the same expression: one call */
      int64_t last = g;
      while (hi < end) {
        int64_t g2 = next_group(p, last);
        if (g2 >= p->k || p->table[g2].kind != NDP_ENTRY_EXPR ||
            p->table[g2].expr != p->table[g].expr)
          break;
        last = g2;
        hi = p->gstart[g2 + 1] < end ? p->gstart[g2 + 1] : end;
      }
      rc = run_expr(p, g, pos, hi);
      g = last;
    } else {
      rc = run_fn(p, g, pos, hi);
    }
    if (rc) return rc;
    pos = hi;
  }
  return 0;
}

static int eval_chunk(void *ctx, int64_t t0, int64_t t1, int tid) {
  plan *p = ctx;
  (void)tid;
  for (int64_t t = t0; t < t1; t++) {
    int rc = run_task(p, t);
    if (rc) return rc;
  }
  return 0;
}

/* ---- 5. scatter -------------------------------------------------------------------- */

static int scatter_chunk(void *ctx, int64_t c0, int64_t c1, int tid) {
  plan *p = ctx;
  int64_t pos[BLOCK];
  const ndp_array *o = p->out;
  (void)tid;
  for (int64_t c = c0; c < c1; c++) {
    int64_t b = c * p->chunk, e = b + p->chunk < p->n ? b + p->chunk : p->n;
    for (int64_t i0 = b; i0 < e; i0 += BLOCK) {
      size_t n = (size_t)(e - i0 < BLOCK ? e - i0 : BLOCK);
      positions(p, p->counts, c, i0, n, pos);
      char *dst = (char *)o->data + i0 * o->strides[0];
      if (p->stream)
        get_at_stream(dst, p->ys, pos, n);
      else
        get_at(dst, (ptrdiff_t)o->strides[0], p->ys, p->osz, pos, n);
    }
  }
  if (p->stream) stream_fence();
  return 0;
}

/* ---- checks ------------------------------------------------------------------------ */

static int check_vec(const ndp_array *a, const char *what, int64_t n, ndp_status *st) {
  if (!a) return ndp__fail(st, NDP_EINVAL, "apply: %s is NULL", what);
  if ((unsigned)a->dtype >= NDP_NTYPES)
    return ndp__fail(st, NDP_EINVAL, "apply: %s has an invalid dtype", what);
  if (a->ndim != 1)
    return ndp__fail(st, NDP_ESHAPE, "apply: %s is %d-d; it must be one-dimensional", what,
                     a->ndim);
  if (a->shape[0] != n)
    return ndp__fail(st, NDP_ESHAPE, "apply: %s has %lld elements, x0 has %lld", what,
                     (long long)a->shape[0], (long long)n);
  if (!a->data && n > 0) return ndp__fail(st, NDP_EINVAL, "apply: %s has no data", what);
  if ((a->flags & NDP_ARRAY_BYTESWAPPED) && ndp_dtype_size(a->dtype) > 1)
    return ndp__fail(st, NDP_ETYPE, "apply: %s is byte-swapped (use native byte order)",
                     what);
  return 0;
}

static int check_arrays(int nargs, const ndp_array *const *x, const ndp_array *index,
                        const ndp_array *out, ndp_status *st) {
  char what[32];
  int rc;
  if (nargs < 1 || nargs > MAXARGS)
    return ndp__fail(st, NDP_EINVAL, "apply: nargs is %d; it must be in [1, %d]", nargs,
                     MAXARGS);
  if (!x || !x[0]) return ndp__fail(st, NDP_EINVAL, "apply: x is NULL");
  if (x[0]->ndim != 1)
    return ndp__fail(st, NDP_ESHAPE, "apply: x0 is %d-d; it must be one-dimensional",
                     x[0]->ndim);
  int64_t n = x[0]->shape[0];
  if (n < 0) return ndp__fail(st, NDP_EINVAL, "apply: x0 has a negative length");
  for (int j = 0; j < nargs; j++) {
    snprintf(what, sizeof what, "x%d", j);
    if ((rc = check_vec(x[j], what, n, st))) return rc;
  }
  if ((rc = check_vec(index, "index", n, st))) return rc;
  if (!is_index_dtype(index->dtype))
    return ndp__fail(st, NDP_ETYPE, "apply: index is %s; it must be an integer dtype",
                     ndp_dtype_name(index->dtype));
  if ((rc = check_vec(out, "out", n, st))) return rc;
  if (n > 1 && out->strides[0] == 0)
    return ndp__fail(st, NDP_EINVAL, "apply: out has a zero stride");
  if (overlaps(out, index))
    return ndp__fail(st, NDP_EINVAL, "apply: out overlaps index");
  for (int j = 0; j < nargs; j++)
    if (overlaps(out, x[j]))
      return ndp__fail(st, NDP_EINVAL, "apply: out overlaps x%d", j);
  return 0;
}

static int check_entry(const plan *p, int64_t g, ndp_status *st) {
  const ndp_apply_entry *en = &p->table[g];
  long long gg = (long long)g;
  if (en->kind == NDP_ENTRY_FN) {
    if (!en->fn) return ndp__fail(st, NDP_EINVAL, "apply: table[%lld]: fn is NULL", gg);
    return 0;
  }
  if (en->kind != NDP_ENTRY_EXPR)
    return ndp__fail(st, NDP_EINVAL, "apply: table[%lld]: kind %d is neither EXPR nor FN", gg,
                     (int)en->kind);
  const ndp_expr *e = en->expr;
  if (!e) return ndp__fail(st, NDP_EINVAL, "apply: table[%lld]: expr is NULL", gg);
  if (e->red != R_NONE)
    return ndp__fail(st, NDP_EINVAL,
                     "apply: table[%lld]: the expression reduces (sum, mean, ...); a table "
                     "entry must be elementwise", gg);
  if (!(e->nvars == p->m || (p->m == 1 && e->nvars == 2)))
    return ndp__fail(st, NDP_EINVAL,
                     "apply: table[%lld]: the expression was compiled for %d variables, not "
                     "for %d inputs (use ndp_apply_compile)", gg, e->nvars, p->m);
  for (int v = 0; v < e->nvars; v++) {
    char name[16];
    if (v < p->m) snprintf(name, sizeof name, "x%d", v);
    else snprintf(name, sizeof name, "x");
    if (strcmp(e->vars[v].name, name) != 0)
      return ndp__fail(st, NDP_EINVAL,
                       "apply: table[%lld]: the expression's variable %d is '%s', not '%s' "
                       "(use ndp_apply_compile)", gg, v, e->vars[v].name, name);
    ndp_dtype want = p->x[v < p->m ? v : 0]->dtype;
    if (e->vars[v].kind != NDP_VAR_ARRAY || e->vars[v].dtype != want)
      return ndp__fail(st, NDP_ETYPE,
                       "apply: table[%lld]: variable '%s' was compiled as %s, the input is %s",
                       gg, e->vars[v].name, ndp_dtype_name(e->vars[v].dtype),
                       ndp_dtype_name(want));
  }
  ndp_dtype rd = ndp_expr_dtype(e);
  if (!ndp_can_cast(rd, p->out->dtype, NDP_CASTING_SAME_KIND))
    return ndp__fail(st, NDP_ECAST,
                     "apply: table[%lld]: cannot cast the expression's %s to the output's %s "
                     "under same_kind casting", gg, ndp_dtype_name(rd),
                     ndp_dtype_name(p->out->dtype));
  return 0;
}

/* ---- the call ---------------------------------------------------------------------- */

static void plan_free(plan *p) {
  ndp__free(p->counts);
  ndp__free(p->first_bad);
  ndp__free(p->gstart);
  ndp__free(p->cur);
  ndp__free(p->bins);
  for (int j = 0; j < p->m; j++) ndp__free(p->xs[j]);
  if (p->ys_owned) ndp__free(p->ys);
  ndp__free(p->tb);
  ndp__free(p->tg);
}

static int nthreads_of(const ndp_exec *ex) {
  int t = ex && ex->nthreads > 0 ? ex->nthreads : ndp_get_num_threads();
  return t > NDP_MAX_THREADS ? NDP_MAX_THREADS : t < 1 ? 1 : t;
}

/* Chooses C: a few chunks per thread, none under MIN_CHUNK_POINTS, and
 * C x (k + 1) <= N + SPARE_COUNTERS (at least one chunk). */
static void choose_chunks(plan *p) {
  int64_t c = (int64_t)nthreads_of(p->ex) * CHUNKS_PER_THREAD;
  int64_t by_size = p->n / MIN_CHUNK_POINTS;
  int64_t by_mem = (p->n + SPARE_COUNTERS) / (p->k + 1);
  if (c > by_size) c = by_size;
  if (c > by_mem) c = by_mem;
  if (c < 1) c = 1;
  p->chunk = (p->n + c - 1) / c;
  p->nchunks = (p->n + p->chunk - 1) / p->chunk;
}

static int nomem(ndp_status *st) { return ndp__fail(st, NDP_ENOMEM, "apply: out of memory"); }

/* Sizes a * b bytes; 0 (and *ok cleared) on overflow. */
static size_t bytes_of(int64_t a, size_t b, int *ok) {
  int64_t r;
  if (a < 0 || ndp__mul_overflow(a, (int64_t)b, &r)) {
    *ok = 0;
    return 0;
  }
  return (size_t)r;
}

static int count_and_check(plan *p, ndp_status *st) {
  int ok = 1;
  size_t csz = p->wide ? 8 : 4;
  size_t cb = bytes_of(p->nchunks, bytes_of(p->k + 1, csz, &ok), &ok);
  size_t gb = bytes_of(p->k + 2, sizeof(int64_t), &ok);
  if (!ok) return ndp__fail(st, NDP_EOVERFLOW, "apply: k = %lld is too large",
                            (long long)p->k);
  p->counts = ndp__calloc(cb, 1);
  p->first_bad = ndp__malloc((size_t)p->nchunks * sizeof(int64_t));
  p->gstart = ndp__malloc(gb);
  if (!p->counts || !p->first_bad || !p->gstart) return nomem(st);
  /* The bins are always kept: the later passes read them, never the index
   * again, so an index that changes during the call (another thread, an
   * entry writing it) cannot move a cursor past its group's range. */
  size_t w = p->k <= UINT8_MAX ? 1 : p->k <= UINT16_MAX ? 2 : p->k <= (int64_t)UINT32_MAX ? 4 : 8;
  size_t wb = bytes_of(p->n, w, &ok);
  if (!ok) return ndp__fail(st, NDP_EOVERFLOW, "apply: N = %lld is too large", (long long)p->n);
  if (!(p->bins = big_alloc(wb))) return nomem(st);
  p->bins_w = w;
  int rc = run_phase(p, p->nchunks, count_chunk, 1, 0.0, 0.2);
  if (rc) return rc;
  int64_t bad = -1;
  for (int64_t c = 0; c < p->nchunks && bad < 0; c++) bad = p->first_bad[c];
  if (bad >= 0 && !p->defv) {
    char v[32];
    index_value_text(p->index, bad, v, sizeof v);
    ndp__fail(st, NDP_EINDEX, "apply: index[%lld] = %s is outside [0, %lld)", (long long)bad,
              v, (long long)p->k);
    if (st) st->pos = (long)bad;
    return NDP_EINDEX;
  }
  prefix(p);
  return 0;
}

static int allocate_groups(plan *p, ndp_status *st) {
  int ok = 1, all_expr = 1;
  size_t cb = (size_t)p->nchunks * (size_t)(p->k + 1) * (p->wide ? 8 : 4);
  if (!(p->cur = ndp__malloc(cb))) return nomem(st);
  memcpy(p->cur, p->counts, cb);
  for (int j = 0; j < p->m; j++) {
    size_t b = bytes_of(p->n, p->isz[j], &ok);
    if (!ok) return ndp__fail(st, NDP_EOVERFLOW, "apply: N = %lld is too large", (long long)p->n);
    if (!(p->xs[j] = big_alloc(b))) return nomem(st);
  }
  for (int64_t g = 0; g < p->k && all_expr; g++)
    all_expr = p->table[g].kind == NDP_ENTRY_EXPR;
  if (all_expr && p->out->dtype == p->x[0]->dtype) { /* evaluated in place over x0's copy */
    p->ys = p->xs[0];
    return 0;
  }
  size_t yb = bytes_of(p->n, p->osz, &ok);
  if (!ok) return ndp__fail(st, NDP_EOVERFLOW, "apply: N = %lld is too large", (long long)p->n);
  p->ys = big_alloc(yb);
  p->ys_owned = 1;
  return p->ys ? 0 : nomem(st);
}

static int evaluate(plan *p, ndp_status *st) {
  p->ntasks = make_tasks(p, NULL, NULL);
  p->tb = ndp__malloc(((size_t)p->ntasks + 1) * sizeof(int64_t));
  p->tg = ndp__malloc(((size_t)p->ntasks + 1) * sizeof(int64_t));
  if (!p->tb || !p->tg) return nomem(st);
  make_tasks(p, p->tb, p->tg);
  int rc = run_phase(p, p->ntasks, eval_chunk, 1, 0.45, 0.35);
  if (rc && atomic_load(&p->failed)) {
    if (st) *st = p->fail;
    return p->fail.code;
  }
  return rc;
}

static int run(plan *p, ndp_status *st) {
  int rc;
  p->stream = p->osz == 8 && p->out->strides[0] == 8 && (uintptr_t)p->out->data % 8 == 0 &&
              p->n * 8 >= ndp__llc_bytes();
  choose_chunks(p);
  if ((rc = count_and_check(p, st))) return rc;
  if ((rc = allocate_groups(p, st))) return rc;
  if ((rc = run_phase(p, p->nchunks, gather_chunk, 1, 0.2, 0.25))) return rc;
  if ((rc = evaluate(p, st))) return rc;
  return run_phase(p, p->nchunks, scatter_chunk, 1, 0.8, 0.2);
}

int ndp_apply(int nargs, const ndp_array *const *x, const ndp_array *index, int64_t k,
              const ndp_apply_entry *table, const ndp_array *out, const void *default_value,
              const ndp_exec *ex, ndp_status *st) {
  int rc = check_arrays(nargs, x, index, out, st);
  if (rc) return rc;
  if (k < 1) return ndp__fail(st, NDP_EINVAL, "apply: k is %lld; it must be >= 1", (long long)k);
  if (k > MAX_K) return ndp__fail(st, NDP_EOVERFLOW, "apply: k = %lld is too large", (long long)k);
  if (!table) return ndp__fail(st, NDP_EINVAL, "apply: table is NULL");
  plan p;
  memset(&p, 0, sizeof p);
  p.m = nargs;
  p.x = x;
  p.index = index;
  p.k = k;
  p.n = x[0]->shape[0];
  p.table = table;
  p.out = out;
  p.defv = default_value;
  p.ex = ex;
  p.wide = p.n >= ((int64_t)1 << 31);
  p.osz = ndp_dtype_size(out->dtype);
  for (int j = 0; j < nargs; j++) p.isz[j] = ndp_dtype_size(x[j]->dtype);
  atomic_init(&p.failed, 0);
  for (int64_t g = 0; g < k; g++)
    if ((rc = check_entry(&p, g, st))) {
      if (st) st->pos = (long)g;
      return rc;
    }
  if (p.n > 0) rc = run(&p, st);
  plan_free(&p);
  if (rc == NDP_ENOMEM && !(st && st->code == rc)) return nomem(st); /* else: an entry's */
  if (rc == NDP_ECANCELED) return ndp__fail(st, rc, "apply: cancelled");
  if (rc) {
    if (!st || st->code != rc) ndp__fail(st, rc, "apply: %s", ndp_strerror(rc));
    return rc;
  }
  ndp__ok(st);
  return 0;
}

/* ---- compile --------------------------------------------------------------------- */

size_t ndp_apply_expr_bytes(const ndp_expr *e) {
  if (!e) return 0;
  size_t n = sizeof *e + (size_t)e->nregs * sizeof *e->regs + (size_t)e->ninsn * sizeof *e->code;
  for (int v = 0; v < e->nvars; v++) n += sizeof *e->vars + strlen(e->vars[v].name) + 1;
  size_t nconst = 0; /* compile.c: one block of 8-byte slots per constant register, >= 1 */
  for (int r = 0; r < e->nregs; r++) nconst += e->regs[r].kind == REG_CONST;
  return n + (nconst ? nconst : 1) * NDP__EXPR_BLOCK * 8;
}

int ndp_apply_compile(const char *src, int nargs, const ndp_dtype *dtypes, ndp_expr **out,
                      ndp_status *st) {
  if (out) *out = NULL;
  if (!src || !dtypes || !out)
    return ndp__fail(st, NDP_EINVAL, "apply_compile: src, dtypes and out must not be NULL");
  if (nargs < 1 || nargs > MAXARGS)
    return ndp__fail(st, NDP_EINVAL, "apply_compile: nargs is %d; it must be in [1, %d]",
                     nargs, MAXARGS);
  char names[MAXARGS + 1][16];
  ndp_var vars[MAXARGS + 1];
  for (int j = 0; j < nargs; j++) {
    if ((unsigned)dtypes[j] >= NDP_NTYPES)
      return ndp__fail(st, NDP_EINVAL, "apply_compile: dtypes[%d] is not a dtype", j);
    snprintf(names[j], sizeof names[j], "x%d", j);
    vars[j].name = names[j];
    vars[j].dtype = dtypes[j];
    vars[j].kind = NDP_VAR_ARRAY;
  }
  int nv = nargs;
  if (nargs == 1) {
    vars[1] = vars[0];
    vars[1].name = "x";
    nv = 2;
  }
  return ndp_expr_compile(src, nv, vars, out, st);
}
