/*
 * rolling/moments.c - moving sum, mean, variance, standard deviation and
 * count of non-NaN values, one block of outputs at a time.
 *
 * Algorithm: segments, as van Herk / Gil-Werman do for min and max. The
 * block's inputs are cut into segments of w points from 0. A window
 * x[j .. i] (i = j + w - 1) is either one whole segment or the suffix of
 * one segment, x[j .. g - 1], plus the prefix of the next, x[g .. i]. One
 * right-to-left pass stores the sums of every suffix; one left-to-right
 * pass runs the prefix sums and adds each to the stored suffix. O(1) per
 * point whatever the window, and four segments run interleaved so that
 * four add chains overlap.
 *
 * Why not a running sum (add the newest point, subtract the oldest): here
 * no value is ever subtracted, so nothing cancels. Each result is computed
 * from its own window's values only, with the error bound of a direct
 * summation of the window (at worst about w ulps of the sum of |x|, in
 * practice a few): no drift along a long series, no loss after a spike
 * leaves the window, a window of zeros sums to exactly 0, and infinities
 * need no special care (a window holding +inf and -inf sums to NaN, one
 * holding neither is finite again; a running sum would be stuck at
 * inf - inf = NaN).
 *
 *  - sum, mean: as above; mean = sum / count (a true division).
 *  - var, std: blocks without NaN take sums of v = x - K and of v^2 over
 *    suffix and prefix, M2 = S2 - S1^2 / n. K is x[g], the first point of
 *    the segment the window's prefix lies in, which every window crossing
 *    g holds: the shift is one of the window's own values, so a large
 *    offset (1e9 + noise) costs no precision and the cancellation in M2 is
 *    bounded by the window's own spread. Blocks with NaN, where no single
 *    value need belong to every window crossing g, keep Welford summaries
 *    (count, mean, M2) of suffixes and prefixes instead and merge them by
 *    Chan's formula (all terms >= 0), for the windows with NaN; the others
 *    keep the shifted sums. Any inf in the window gives NaN, as NumPy.
 *  - so every result is a function of its window's values and of where
 *    the segments start (the window's position relative to its piece's
 *    first input mod w), never of other values in the block: rolling.c
 *    places the pieces at global positions (ndp_rolling_at), and chunked
 *    series give the whole series' bits.
 *  - count: integer counts.
 *
 * Blocks without NaN (inf allowed) take loops with no tests at all; blocks
 * with NaN skip it (as 0) and count the values for min_count and the
 * divisors. rolling.c runs the outputs whose windows reach outside the
 * series as separate pieces, so padding never forces the NaN path on the
 * rest. Divisions and square roots of whole blocks run in a last
 * vectorized pass (AVX2 where the CPU has it, the division by an FMA
 * correction instead of the divider: same, correctly rounded results),
 * which also streams the results out when rolling.c asks (k->nt).
 *
 * Thread-safety: pure functions of their arguments.
 */
#include <math.h>

#include "core/internal.h"
#include "rolling/rolling_internal.h"

#if defined(NDP_HAVE_X86) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* ---- helpers ------------------------------------------------------------------ */

#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)0)
#endif
#define PF_AHEAD 1024 /* points (8 KB): about half a microsecond of work ahead */

/* 1 when some x[i], i < n, is NaN (vectorizes: eight accumulators). */
static int has_nan(const double *x, int64_t n) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) a[k] += x[i + k] != x[i + k] ? 1.0 : 0.0;
  for (; i < n; i++) a[0] += x[i] != x[i] ? 1.0 : 0.0;
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])) != 0;
}

/* Last pass: y[i] = f(t[i]) for i < m, f by op: 0 t / d (a true division),
 * 1 t, 2 sqrt(t * d) (t >= 0 already). With k->nt, y is the caller's
 * output, written once with non-temporal stores (no read-for-ownership).
 * t may be y when not streaming. Vectorized; with AVX2 (where the CPU has
 * it) the division takes the divider-free route below: same results. */
enum { OP_DIV, OP_COPY, OP_SQRT };

static void emit_base(const double *t, double *y, int64_t m, double d, int op, int nt) {
  int64_t i = 0;
#ifdef __SSE2__
  if (nt) {
    if ((uintptr_t)y % 16 && m > 0) {
      y[0] = op == OP_DIV ? t[0] / d : op == OP_COPY ? t[0] : sqrt(t[0] * d);
      i = 1;
    }
    for (; i + 2 <= m; i += 2) {
      __m128d v = _mm_loadu_pd(t + i);
      if (op == OP_DIV) v = _mm_div_pd(v, _mm_set1_pd(d));
      else if (op == OP_SQRT) v = _mm_sqrt_pd(_mm_mul_pd(v, _mm_set1_pd(d)));
      _mm_stream_pd(y + i, v);
    }
  }
#else
  (void)nt;
#endif
  if (op == OP_DIV)
    for (; i < m; i++) y[i] = t[i] / d;
  else if (op == OP_COPY)
    for (; i < m; i++) y[i] = t[i];
  else
    for (; i < m; i++) y[i] = sqrt(t[i] * d);
}

#if defined(NDP_HAVE_X86) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_EMIT 1

/* t / d, correctly rounded, without the divider: q = t * r with r =
 * RN(1/d), then one FMA correction q + (t - q d) r, which is RN(t / d)
 * (Markstein) when t - q d is exact: for 2^-960 <= |t| <= DBL_MAX. Other
 * values (zeros, subnormal results, inf, NaN) divide. About 3x the
 * throughput of vdivpd. */
__attribute__((target("avx2,fma"))) static inline __m256d div4(__m256d a, __m256d vd,
                                                                __m256d vr) {
  const __m256d lo = _mm256_set1_pd(0x1p-960), hi = _mm256_set1_pd(1.7976931348623157e308);
  const __m256d aa = _mm256_andnot_pd(_mm256_set1_pd(-0.0), a);
  const __m256d ok =
      _mm256_and_pd(_mm256_cmp_pd(aa, lo, _CMP_GE_OQ), _mm256_cmp_pd(aa, hi, _CMP_LE_OQ));
  if (_mm256_movemask_pd(ok) != 15) return _mm256_div_pd(a, vd);
  const __m256d q = _mm256_mul_pd(a, vr);
  return _mm256_fmadd_pd(_mm256_fnmadd_pd(q, vd, a), vr, q);
}

__attribute__((target("avx2,fma"))) static void emit_avx2(const double *t, double *y,
                                                          int64_t m, double d, int op, int nt) {
  const __m256d vd = _mm256_set1_pd(d), vr = _mm256_set1_pd(1.0 / d);
  int64_t i = 0;
  if (nt) /* 32-byte aligned stores */
    for (; i < m && (uintptr_t)(y + i) % 32; i++)
      y[i] = op == OP_DIV ? t[i] / d : op == OP_COPY ? t[i] : sqrt(t[i] * d);
  for (; i + 4 <= m; i += 4) {
    __m256d v = _mm256_loadu_pd(t + i);
    if (op == OP_DIV) v = div4(v, vd, vr);
    else if (op == OP_SQRT) v = _mm256_sqrt_pd(_mm256_mul_pd(v, vd));
    if (nt) _mm256_stream_pd(y + i, v);
    else _mm256_storeu_pd(y + i, v);
  }
  for (; i < m; i++) y[i] = op == OP_DIV ? t[i] / d : op == OP_COPY ? t[i] : sqrt(t[i] * d);
}
#endif

static void emit(const ndp__roll_k *k, const double *t, double *y, int64_t m, double d, int op) {
  if (op == OP_COPY && t == y) return;
#ifdef HAVE_AVX2_EMIT
  if (k->avx2) {
    emit_avx2(t, y, m, d, op, k->nt);
    return;
  }
#endif
  emit_base(t, y, m, d, op, k->nt);
}

/* ---- sum, mean, count ------------------------------------------------------------ */

/* y[j] = sum of x[j .. j + w - 1], j < m = L - w + 1, for blocks without
 * NaN. Returns 1 when some segment's total is NaN: then the block may hold
 * NaN (or a segment holds both infinities) and the caller checks (no
 * pre-scan: the common case reads x once from memory, prefetched ahead).
 * S: L doubles of scratch. */
static int sum_full(const double *x, int64_t L, int64_t w, double *S, double *y) {
  const int64_t m = L - w + 1;
  /* suffixes: S[i] = x[i] + ... + x[end of i's segment], for i not a
   * segment's start (the window starting there is the whole segment) */
  int64_t g = 0;
  for (; g + 4 * w <= L; g += 4 * w) { /* four segments at once */
    for (int64_t q = 0; q < 4 * w; q += 8) PREFETCH(x + g + PF_AHEAD + q);
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    double *S0 = S + g, *S1 = S0 + w, *S2 = S1 + w, *S3 = S2 + w;
    const double *x0 = x + g, *x1 = x0 + w, *x2 = x1 + w, *x3 = x2 + w;
    for (int64_t t = w - 1; t > 0; t--) {
      s0 += x0[t], S0[t] = s0;
      s1 += x1[t], S1[t] = s1;
      s2 += x2[t], S2[t] = s2;
      s3 += x3[t], S3[t] = s3;
    }
  }
  for (; g < m; g += w) {
    const int64_t e = g + w < L ? g + w : L;
    double s = 0;
    for (int64_t i = e - 1; i > g; i--) s += x[i], S[i] = s;
  }
  /* prefixes, each output = stored suffix + prefix; every point is in one
   * segment's total, so a NaN anywhere shows in one */
  int bad = 0;
  double p = 0;
  for (int64_t i = 0; i < w; i++) p += x[i];
  y[0] = p;
  bad |= p != p;
  for (g = w; g + 4 * w <= L; g += 4 * w) {
    double p0 = 0, p1 = 0, p2 = 0, p3 = 0;
    const double *x0 = x + g, *x1 = x0 + w, *x2 = x1 + w, *x3 = x2 + w;
    const double *S0 = S + g - w + 1, *S1 = S0 + w, *S2 = S1 + w, *S3 = S2 + w;
    double *y0 = y + g - w + 1, *y1 = y0 + w, *y2 = y1 + w, *y3 = y2 + w;
    for (int64_t t = 0; t < w - 1; t++) {
      p0 += x0[t], y0[t] = S0[t] + p0;
      p1 += x1[t], y1[t] = S1[t] + p1;
      p2 += x2[t], y2[t] = S2[t] + p2;
      p3 += x3[t], y3[t] = S3[t] + p3;
    }
    const int64_t t = w - 1; /* the whole segment */
    y0[t] = p0 + x0[t], y1[t] = p1 + x1[t], y2[t] = p2 + x2[t], y3[t] = p3 + x3[t];
    bad |= (y0[t] != y0[t]) | (y1[t] != y1[t]) | (y2[t] != y2[t]) | (y3[t] != y3[t]);
  }
  for (; g < L; g += w) {
    const int64_t e = g + w < L ? g + w : L;
    p = 0;
    for (int64_t i = g; i < e; i++) {
      p += x[i];
      y[i - w + 1] = i - g == w - 1 ? p : S[i - w + 1] + p;
    }
    bad |= p != p;
  }
  return bad;
}

/* Blocks with NaN (skipped, counted): sums, means, counts with min_count.
 * S: L doubles, SC: L counts. */
static void sum_nan(const ndp__roll_k *k, const double *x, int64_t L, double *S, int64_t *SC,
                    double *y) {
  const int64_t w = k->w, m = L - w + 1;
  for (int64_t g = 0; g < m; g += w) {
    const int64_t e = g + w < L ? g + w : L;
    double s = 0;
    int64_t c = 0;
    for (int64_t i = e - 1; i > g; i--) {
      const int ok = x[i] == x[i];
      s += ok ? x[i] : 0.0;
      c += ok;
      S[i] = s, SC[i] = c;
    }
  }
  for (int64_t g = 0; g < L; g += w) {
    const int64_t e = g + w < L ? g + w : L;
    double p = 0;
    int64_t c = 0;
    for (int64_t i = g; i < e; i++) {
      const int ok = x[i] == x[i];
      p += ok ? x[i] : 0.0;
      c += ok;
      if (i < w - 1) continue;
      const int64_t j = i - w + 1;
      const int whole = i - g == w - 1;
      const double tot = whole ? p : S[j] + p;
      const int64_t n = whole ? c : SC[j] + c;
      if (n < k->minc) y[j] = NAN;
      else if (k->fn == NDP_ROLL_COUNT) y[j] = (double)n;
      else if (k->fn == NDP_ROLL_MEAN) y[j] = tot / (double)n;
      else y[j] = tot;
    }
  }
}

/* t: where the passes put their results (y itself, or scratch when y is
 * streamed out by the last pass). */
static void sum_kernel(const ndp__roll_k *k, const double *x, int64_t m, double *y, double *S,
                       int64_t *SC, double *t) {
  const int64_t w = k->w, L = m + w - 1;
  if (k->fn == NDP_ROLL_COUNT) {
    if (has_nan(x, L)) sum_nan(k, x, L, S, SC, t);
    else
      for (int64_t j = 0; j < m; j++) t[j] = (double)w;
  } else if (sum_full(x, L, w, S, t) && has_nan(x, L)) {
    sum_nan(k, x, L, S, SC, t);
  } else if (k->fn == NDP_ROLL_MEAN) {
    emit(k, t, y, m, (double)w, OP_DIV);
    return;
  }
  emit(k, t, y, m, 1, OP_COPY);
}

/* ---- var, std ------------------------------------------------------------------------ */

/* Blocks without NaN: every window has w values. The windows that cross
 * segment boundary g (x[g] starts a segment), and the one that is the
 * segment, all hold x[g]: their sums are taken of x - x[g], so the shift is
 * one of the window's own values and a large offset costs no precision.
 * y = M2 (sum of squared deviations) times `scale`, clamped at 0. Returns 1 when some segment's
 * total is NaN (the block may hold NaN: the caller checks, as sum_full).
 * S1, S2: L doubles. */
static int var_full(const double *x, int64_t L, int64_t w, double *S1, double *S2, double *y,
                    double scale) {
  const int64_t m = L - w + 1;
  int bad = 0;
  const double invw = 1.0 / (double)w;
  /* suffixes of segment [g, g + w), shifted by the next segment's first value */
  int64_t g = 0;
  for (; g + 5 * w <= L; g += 4 * w) {
    for (int64_t q = 0; q < 4 * w; q += 8) PREFETCH(x + g + PF_AHEAD + q);
    const double *x0 = x + g, *x1 = x0 + w, *x2 = x1 + w, *x3 = x2 + w;
    const double K0 = x1[0], K1 = x2[0], K2 = x3[0], K3 = x3[w];
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (int64_t t = w - 1; t > 0; t--) {
      const int64_t i = g + t;
      const double v0 = x0[t] - K0, v1 = x1[t] - K1, v2 = x2[t] - K2, v3 = x3[t] - K3;
      a0 += v0, b0 += v0 * v0, S1[i] = a0, S2[i] = b0;
      a1 += v1, b1 += v1 * v1, S1[i + w] = a1, S2[i + w] = b1;
      a2 += v2, b2 += v2 * v2, S1[i + 2 * w] = a2, S2[i + 2 * w] = b2;
      a3 += v3, b3 += v3 * v3, S1[i + 3 * w] = a3, S2[i + 3 * w] = b3;
    }
  }
  for (; g < m; g += w) {
    const int64_t e = g + w < L ? g + w : L;
    const double K = g + w < L ? x[g + w] : 0;
    double a = 0, b = 0;
    for (int64_t i = e - 1; i > g; i--) {
      const double v = x[i] - K;
      a += v, b += v * v, S1[i] = a, S2[i] = b;
    }
  }
  /* prefixes of segment [g, g + w), shifted by x[g], merged with the
   * suffixes before g */
#define OUT(j, T1, T2)                                     \
  do {                                                     \
    const double t1_ = (T1), M2_ = (T2) - t1_ * (t1_ * invw); \
    y[j] = M2_ < 0 ? 0.0 : M2_ * scale;                    \
  } while (0)
  {
    const double K = x[0];
    double a = 0, b = 0;
    for (int64_t i = 0; i < w; i++) {
      const double v = x[i] - K;
      a += v, b += v * v;
    }
    OUT(0, a, b);
    bad |= a != a;
  }
  for (g = w; g + 4 * w <= L; g += 4 * w) {
    const double *x0 = x + g, *x1 = x0 + w, *x2 = x1 + w, *x3 = x2 + w;
    const double K0 = x0[0], K1 = x1[0], K2 = x2[0], K3 = x3[0];
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (int64_t t = 0; t < w - 1; t++) {
      const int64_t j = g - w + 1 + t;
      const double v0 = x0[t] - K0, v1 = x1[t] - K1, v2 = x2[t] - K2, v3 = x3[t] - K3;
      a0 += v0, b0 += v0 * v0;
      a1 += v1, b1 += v1 * v1;
      a2 += v2, b2 += v2 * v2;
      a3 += v3, b3 += v3 * v3;
      OUT(j, S1[j] + a0, S2[j] + b0);
      OUT(j + w, S1[j + w] + a1, S2[j + w] + b1);
      OUT(j + 2 * w, S1[j + 2 * w] + a2, S2[j + 2 * w] + b2);
      OUT(j + 3 * w, S1[j + 3 * w] + a3, S2[j + 3 * w] + b3);
    }
    const int64_t t = w - 1; /* the whole segment */
    const double v0 = x0[t] - K0, v1 = x1[t] - K1, v2 = x2[t] - K2, v3 = x3[t] - K3;
    OUT(g, a0 + v0, b0 + v0 * v0);
    OUT(g + w, a1 + v1, b1 + v1 * v1);
    OUT(g + 2 * w, a2 + v2, b2 + v2 * v2);
    OUT(g + 3 * w, a3 + v3, b3 + v3 * v3);
    bad |= (a0 + v0 != a0 + v0) | (a1 + v1 != a1 + v1) | (a2 + v2 != a2 + v2) |
           (a3 + v3 != a3 + v3);
  }
  for (; g < L; g += w) {
    const int64_t e = g + w < L ? g + w : L;
    const double K = x[g];
    double a = 0, b = 0;
    for (int64_t i = g; i < e; i++) {
      const double v = x[i] - K;
      a += v, b += v * v;
      const int64_t j = i - w + 1;
      if (i - g == w - 1) OUT(j, a, b);
      else OUT(j, S1[j] + a, S2[j] + b);
    }
    bad |= a != a;
  }
#undef OUT
  return bad;
}

/* Blocks with NaN: counts vary, and a boundary may fall in a NaN gap where
 * no single value belongs to every window crossing it, so no one shift
 * serves all. Instead each segment keeps Welford summaries (count, mean,
 * M2) of its prefixes and suffixes - add-only, so stable - and a window
 * merges the suffix of one segment with the prefix of the next by Chan's
 * formula, whose terms are all >= 0. Outputs var or std. S1 (means), S2
 * (M2): L doubles, SC: L counts. */
static inline void welford_add(double v, int64_t *c, double *mean, double *m2) {
  const double d = v - *mean;
  *c += 1;
  *mean += d / (double)*c;
  *m2 += d * (v - *mean);
}

/* Shifts. A segment's suffix summaries are taken of x - K_A, K_A its last
 * finite value; its prefix summaries of x - K_B, K_B its first finite
 * value: every non-empty suffix (prefix) holds that value, so the shift is
 * always one of the window's own values (a large offset costs no
 * precision, a spike outside the window is never picked up). The merge
 * adds K_B - K_A, a difference of two values of the window, to the
 * difference of the means. */
static inline int is_finite(double v) { return fabs(v) <= 1.7976931348623157e308; }
static inline double first_finite(const double *x, int64_t a, int64_t b) {
  for (int64_t i = a; i < b; i++)
    if (is_finite(x[i])) return x[i];
  return 0;
}
static inline double last_finite(const double *x, int64_t a, int64_t b) {
  for (int64_t i = b - 1; i >= a; i--)
    if (is_finite(x[i])) return x[i];
  return 0;
}

static void var_nan(const ndp__roll_k *k, const double *x, int64_t L, double *S1, double *S2,
                    int64_t *SC, double *y) {
  const int64_t w = k->w, m = L - w + 1;
  for (int64_t g = 0; g < m; g += w) { /* suffix summaries, [i, e) */
    const int64_t e = g + w < L ? g + w : L;
    const double KA = last_finite(x, g + 1, e);
    double mean = 0, m2 = 0;
    int64_t c = 0;
    for (int64_t i = e - 1; i > g; i--) {
      if (x[i] == x[i]) welford_add(x[i] - KA, &c, &mean, &m2);
      S1[i] = mean, S2[i] = m2, SC[i] = c;
    }
  }
  for (int64_t g = 0; g < L; g += w) { /* prefixes [g, i], merged */
    const int64_t e = g + w < L ? g + w : L;
    const double KB = first_finite(x, g, e), dK = g > 0 ? KB - last_finite(x, g - w + 1, g) : 0;
    double mean = 0, m2 = 0;
    int64_t c = 0;
    for (int64_t i = g; i < e; i++) {
      if (x[i] == x[i]) welford_add(x[i] - KB, &c, &mean, &m2);
      if (i < w - 1) continue;
      const int64_t j = i - w + 1;
      double M2 = m2;
      int64_t n = c;
      if (i - g != w - 1 && SC[j] > 0) { /* crosses g: merge suffix of j's segment */
        const int64_t nb = SC[j];
        n = c + nb;
        if (c == 0) {
          M2 = S2[j];
        } else {
          const double delta = (mean - S1[j]) + dK;
          M2 = m2 + S2[j] + delta * delta * ((double)c * (double)nb / (double)n);
        }
      }
      if (n < k->minc || n <= k->ddof) {
        y[j] = NAN;
      } else {
        const double v = (M2 < 0 ? 0.0 : M2) / (double)(n - k->ddof);
        y[j] = k->fn == NDP_ROLL_STD ? sqrt(v) : v;
      }
    }
  }
}

/* Blocks with NaN: a window without NaN keeps var_full's result, which
 * depends on its own values only (so not on what else the block holds,
 * hence not on how a series is chunked); windows with NaN take var_nan's,
 * from U (m doubles). */
static void var_mixed(const ndp__roll_k *k, const double *x, int64_t m, double *S1,
                      double *S2, int64_t *SC, double *t, double *U) {
  const int64_t w = k->w, L = m + w - 1;
  const double d = 1.0 / (double)(w - k->ddof);
  var_nan(k, x, L, S1, S2, SC, U);
  int64_t c = 0; /* NaNs in x[j .. j + w - 1] */
  for (int64_t i = 0; i < w - 1; i++) c += x[i] != x[i];
  for (int64_t j = 0; j < m; j++) {
    c += x[j + w - 1] != x[j + w - 1];
    if (c) t[j] = U[j];
    else if (k->fn == NDP_ROLL_STD) t[j] = sqrt(t[j] * d); /* as emit's OP_SQRT */
    c -= x[j] != x[j];
  }
}

static void var_kernel(const ndp__roll_k *k, const double *x, int64_t m, double *y,
                       double *S1, double *S2, int64_t *SC, double *t, double *U) {
  const int64_t w = k->w, L = m + w - 1;
  const int sq = k->fn == NDP_ROLL_STD;
  if (w <= k->ddof) { /* never more than ddof values */
    for (int64_t j = 0; j < m; j++) t[j] = NAN;
  } else if (var_full(x, L, w, S1, S2, t, sq ? 1.0 : 1.0 / (double)(w - k->ddof)) &&
             has_nan(x, L)) {
    var_mixed(k, x, m, S1, S2, SC, t, U);
  } else if (sq) {
    emit(k, t, y, m, 1.0 / (double)(w - k->ddof), OP_SQRT);
    return;
  }
  emit(k, t, y, m, 1, OP_COPY);
}

/* ---- entry ------------------------------------------------------------------------------ */

static size_t up64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t ndp__roll_moments_scratch(const ndp__roll_k *k, int64_t m) {
  const size_t L = (size_t)(m + k->w - 1);
  return 4 * up64(L * sizeof(double)) + up64(L * sizeof(int64_t));
}

void ndp__roll_moments(const ndp__roll_k *k, const double *x, int64_t m, double *y,
                       void *scratch) {
  const size_t L = (size_t)(m + k->w - 1), a = up64(L * sizeof(double));
  char *p = scratch;
  double *A = (double *)p, *B = (double *)(p + a), *T = (double *)(p + 2 * a);
  double *U = (double *)(p + 3 * a);
  int64_t *C = (int64_t *)(p + 4 * a);
  double *t = k->nt ? T : y;
  if (k->fn == NDP_ROLL_VAR || k->fn == NDP_ROLL_STD) var_kernel(k, x, m, y, A, B, C, t, U);
  else sum_kernel(k, x, m, y, A, C, t);
}
