/*
 * tests/c/test_rolling.c - ndp_rolling against plain references written
 * here: for every output position the window's non-NaN values are
 * collected and the statistic computed directly (long double sums,
 * two-pass variance, a sorted copy for median and quantile, a scan for
 * min/max/argmin/argmax). Every function x placement x several windows x
 * min_count, NaN/inf patterns, dtypes, N-d layouts, thread-count
 * invariance (bitwise), the large-offset precision case, bad arguments,
 * allocation failures and cancellation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "ndpar.h"
#include "rolling/rolling_internal.h"

#define BLOCK 16384 /* rolling.c's block for windows up to 8192 */

/* ---- data ------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}
static double unif(void) { return (double)(rnd() >> 11) * 0x1p-53; }
static double gauss(void) {
  double u = unif() + 0x1p-60, v = unif();
  return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

enum { P_NORMAL, P_NAN, P_RUNS, P_INF, P_TIES, P_ALLNAN, NPAT };
static const char *pat_name[NPAT] = {"normal", "nan", "runs", "inf", "ties", "allnan"};

static void fill(double *a, int64_t n, int pat) {
  for (int64_t i = 0; i < n; i++) {
    double v = 3 * gauss() + 1;
    switch (pat) {
    case P_NAN: if (unif() < 0.2) v = NAN; break;
    case P_RUNS: /* NaN runs of every length, some longer than the windows */
      if ((i / 37) % 3 == 1 || (i % 2000) < 1100) v = NAN;
      break;
    case P_INF: {
      double u = unif();
      if (u < 0.03) v = INFINITY;
      else if (u < 0.06) v = -INFINITY;
      else if (u < 0.12) v = NAN;
      break;
    }
    case P_TIES: v = (double)(rnd() % 4); if (unif() < 0.05) v = NAN; break;
    case P_ALLNAN: v = NAN; break;
    default: break;
    }
    a[i] = v;
  }
}

/* ---- the reference -------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct ref {
  double v;     /* the statistic */
  double scale; /* sum of |x| (sum, mean) or mean of x^2 (var, std) for tolerances */
} ref;

/* Statistic of the window of output i, computed directly. */
static ref ref_at(int fn, const double *a, int64_t n, int64_t i, int64_t w, int align,
                  int64_t minc, double q, int ddof, double *buf) {
  const int64_t off = align == NDP_ROLL_TRAILING ? w - 1 : w / 2;
  int64_t cnt = 0, best_t = -1, npos = 0; /* npos: positions of the series (or padding) */
  int pinf = 0, ninf = 0;
  double best = NAN;
  long double sum = 0, sabs = 0, ssq = 0;
  /* running sums are re-summed every max(w, 256) outputs: their rounding
   * errors scale with the values met since, not only the window's */
  double near = 0;
  for (int64_t p = i - off - 256 - w; p < i - off + w; p++)
    if (p >= 0 && p < n && fabs(a[p]) <= DBL_MAX && fabs(a[p]) > near) near = fabs(a[p]);
  for (int64_t t = 0; t < w; t++) {
    int64_t p = i - off + t;
    double v;
    if (p < 0) v = align == NDP_ROLL_CENTER_EDGE ? a[0] : NAN;
    else if (p >= n) v = align == NDP_ROLL_CENTER_EDGE ? a[n - 1] : NAN;
    else v = a[p];
    npos += align == NDP_ROLL_CENTER_EDGE || (p >= 0 && p < n);
    if (isnan(v)) continue;
    buf[cnt++] = v;
    if (v == INFINITY) pinf = 1;
    else if (v == -INFINITY) ninf = 1;
    else {
      sum += v;
      sabs += fabs(v);
      ssq += (long double)v * v;
    }
    int better = fn == NDP_ROLL_MIN || fn == NDP_ROLL_ARGMIN ? v <= best : v >= best;
    if (best_t < 0 || better) best = v, best_t = t; /* ties: the newest */
  }
  ref r = {NAN, 0};
  if (fn == NDP_ROLL_COUNT) { /* pandas: min_count counts positions, NaN or not */
    if (npos >= minc) r.v = (double)cnt;
    return r;
  }
  if (cnt < minc) return r;
  switch (fn) {
  case NDP_ROLL_SUM:
  case NDP_ROLL_MEAN:
    if (pinf && ninf) r.v = NAN;
    else if (pinf || ninf) r.v = pinf ? INFINITY : -INFINITY;
    else r.v = (double)(fn == NDP_ROLL_SUM ? sum : sum / cnt);
    r.scale = (double)(sabs + w * near) / (fn == NDP_ROLL_SUM ? 1 : cnt);
    break;
  case NDP_ROLL_VAR:
  case NDP_ROLL_STD: {
    if (pinf || ninf || cnt <= ddof) break;
    long double mu = sum / cnt, m2 = 0;
    for (int64_t k = 0; k < cnt; k++) m2 += (buf[k] - mu) * (buf[k] - mu);
    long double var = m2 / (cnt - ddof);
    r.v = (double)(fn == NDP_ROLL_VAR ? var : sqrtl(var));
    r.scale = (double)(ssq / cnt);
    break;
  }
  case NDP_ROLL_MIN:
  case NDP_ROLL_MAX: r.v = best; break;
  case NDP_ROLL_ARGMIN:
  case NDP_ROLL_ARGMAX: r.v = (double)(w - 1 - best_t); break;
  default: { /* MEDIAN, QUANTILE */
    qsort(buf, (size_t)cnt, sizeof *buf, cmp_d);
    if (fn == NDP_ROLL_MEDIAN) {
      r.v = cnt % 2 ? buf[cnt / 2] : (buf[cnt / 2 - 1] + buf[cnt / 2]) / 2;
    } else {
      double pos = (double)(cnt - 1) * q, f = floor(pos), t = pos - f;
      int64_t lo = (int64_t)f;
      if (t == 0 || lo >= cnt - 1) {
        r.v = buf[lo < cnt - 1 ? lo : cnt - 1];
      } else {
        double x0 = buf[lo], x1 = buf[lo + 1], d = x1 - x0;
        r.v = t >= 0.5 ? x1 - d * (1 - t) : x0 + d * t;
      }
    }
  }
  }
  return r;
}

static int exact_fn(int fn) {
  return fn != NDP_ROLL_SUM && fn != NDP_ROLL_MEAN && fn != NDP_ROLL_VAR &&
         fn != NDP_ROLL_STD;
}

/* 1 when got is close enough to the reference. f32: got was rounded to
 * float32. */
static int close_to(int fn, double got, ref r, int f32) {
  if (isnan(r.v)) return isnan(got);
  if (isinf(r.v)) return got == r.v;
  if (exact_fn(fn)) return f32 ? got == (double)(float)r.v : got == r.v;
  double tol;
  switch (fn) {
  case NDP_ROLL_SUM:
  case NDP_ROLL_MEAN: tol = 1e-13 * r.scale; break;
  case NDP_ROLL_VAR: tol = 1e-11 * (r.v + r.scale); break;
  default: tol = 1e-10 * sqrt(r.scale); break; /* STD */
  }
  if (f32) tol += 0x1p-23 * fabs(r.v) + FLT_MIN;
  return fabs(got - r.v) <= tol;
}

/* ---- running ndp_rolling ---------------------------------------------------------- */

typedef struct args {
  int fn;
  int64_t w, minc;
  int align;
  double q;
  int ddof;
  int nthreads;
} args;

static int roll(const args *A, const ndp_array *in, const ndp_array *out, int axis,
                ndp_status *st) {
  ndp_roll_opts o;
  memset(&o, 0, sizeof o);
  o.window = A->w;
  o.min_count = A->minc;
  o.axis = axis;
  o.align = (ndp_roll_align)A->align;
  o.q = A->q;
  o.ddof = A->ddof;
  ndp_exec ex;
  memset(&ex, 0, sizeof ex);
  ex.nthreads = A->nthreads;
  return ndp_rolling(A->fn, in, out, &o, &ex, st);
}

static int roll1d(const args *A, double *x, double *y, int64_t n) {
  ndp_array a, o;
  assert_int_equal(ndp_array_init(&a, x, NDP_FLOAT64, 1, &n), 0);
  assert_int_equal(ndp_array_init(&o, y, NDP_FLOAT64, 1, &n), 0);
  ndp_status st;
  int rc = roll(A, &a, &o, 0, &st);
  if (rc) print_error("ndp_rolling: %s\n", st.msg);
  return rc;
}

static const char *align_name(int al) {
  return al == NDP_ROLL_TRAILING ? "trailing" : al == NDP_ROLL_CENTER ? "center" : "edge";
}

/* Checks y (n outputs) against the reference at every position, or at
 * every step-th one plus those next to block boundaries and the ends. */
static void check(const args *A, const double *a, int64_t n, const double *y, int64_t step,
                  int f32, const char *what) {
  double *buf = malloc((size_t)A->w * sizeof *buf);
  const int64_t minc = A->minc ? A->minc : A->w;
  for (int64_t i = 0; i < n; i++) {
    const int64_t b = i % BLOCK;
    const int64_t nr = A->w > 2000 ? 1 : 3; /* big windows: fewer, dearer checks */
    const int near = b < nr || b > BLOCK - 1 - nr || i < nr || i > n - 1 - nr ||
                     llabs(i - A->w + 1) < nr || llabs(i - (n - A->w / 2)) < nr;
    if (step > 1 && i % step && !near) continue;
    ref r = ref_at(A->fn, a, n, i, A->w, A->align, minc, A->q, A->ddof, buf);
    if (!close_to(A->fn, y[i], r, f32))
      fail_msg("%s: %s %s n=%lld w=%lld min_count=%lld q=%g ddof=%d at %lld: got %.17g want "
               "%.17g (scale %g)",
               what, ndp_roll_name(A->fn), align_name(A->align), (long long)n,
               (long long)A->w, (long long)A->minc, A->q, A->ddof, (long long)i, y[i], r.v,
               r.scale);
  }
  free(buf);
}

/* Every function with its parameter variants: (fn, q, ddof). */
typedef struct variant {
  int fn;
  double q;
  int ddof;
} variant;
static const variant variants[] = {
    {NDP_ROLL_SUM, 0, 0},      {NDP_ROLL_MEAN, 0, 0},     {NDP_ROLL_VAR, 0, 0},
    {NDP_ROLL_VAR, 0, 1},      {NDP_ROLL_STD, 0, 0},      {NDP_ROLL_STD, 0, 2},
    {NDP_ROLL_MIN, 0, 0},      {NDP_ROLL_MAX, 0, 0},      {NDP_ROLL_ARGMIN, 0, 0},
    {NDP_ROLL_ARGMAX, 0, 0},   {NDP_ROLL_MEDIAN, 0, 0},   {NDP_ROLL_QUANTILE, 0, 0},
    {NDP_ROLL_QUANTILE, 0.25, 0}, {NDP_ROLL_QUANTILE, 0.9, 0}, {NDP_ROLL_QUANTILE, 1, 0},
    {NDP_ROLL_COUNT, 0, 0},
};
#define NVAR (sizeof variants / sizeof variants[0])

static long n_checked;

/* All variants x placements x min_count on one series. */
static void sweep(const double *a, int64_t n, const int64_t *ws, int nw, int64_t step,
                  const char *what) {
  double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
  memcpy(x, a, (size_t)n * sizeof *x);
  for (int iw = 0; iw < nw; iw++) {
    const int64_t w = ws[iw];
    if (w < 1 || w > n) continue;
    const int64_t mcs[3] = {0, 1, w / 2 > 1 ? w / 2 : 1};
    for (size_t v = 0; v < NVAR; v++)
      for (int al = 0; al < 3; al++)
        for (int mc = 0; mc < 3; mc++) {
          if (mc && mcs[mc] == mcs[mc - 1]) continue;
          args A = {variants[v].fn, w, mcs[mc], al, variants[v].q, variants[v].ddof, 1};
          assert_int_equal(roll1d(&A, x, y, n), 0);
          check(&A, a, n, y, step, 0, what);
          n_checked++;
        }
  }
  assert_memory_equal(x, a, (size_t)n * sizeof *x); /* input untouched */
  free(x);
  free(y);
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_names(void **state) {
  (void)state;
  assert_int_equal(ndp_roll_lookup("mean"), NDP_ROLL_MEAN);
  assert_int_equal(ndp_roll_lookup("quantile"), NDP_ROLL_QUANTILE);
  assert_int_equal(ndp_roll_lookup("count"), NDP_ROLL_COUNT);
  assert_int_equal(ndp_roll_lookup("nope"), NDP_ENOFUNC);
  assert_int_equal(ndp_roll_lookup(NULL), NDP_ENOFUNC);
  for (int f = 0; f < NDP_NROLL; f++) assert_int_equal(ndp_roll_lookup(ndp_roll_name(f)), f);
  assert_null(ndp_roll_name(-1));
  assert_null(ndp_roll_name(NDP_NROLL));
  ndp_dtype d;
  for (int t = 0; t < NDP_NTYPES; t++) {
    assert_int_equal(ndp_roll_out_dtype(NDP_ROLL_MEAN, (ndp_dtype)t, &d), 0);
    assert_int_equal(d, t == NDP_FLOAT32 || t == NDP_FLOAT16 ? t : NDP_FLOAT64);
  }
  assert_int_equal(ndp_roll_out_dtype(NDP_ROLL_MEAN, NDP_NTYPES, &d), NDP_ETYPE);
  assert_int_equal(ndp_roll_out_dtype(NDP_NROLL, NDP_FLOAT64, &d), NDP_EINVAL);
}

/* Short series: every window, every pattern. */
static void test_small_exhaustive(void **state) {
  (void)state;
  const int64_t lens[] = {1, 2, 3, 7, 40};
  for (int p = 0; p < NPAT; p++)
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
      const int64_t n = lens[k];
      double *a = malloc((size_t)n * sizeof *a);
      fill(a, n, p);
      int64_t ws[] = {1, 2, 3, 4, 5, 21, n - 1, n};
      char what[64];
      snprintf(what, sizeof what, "small %s", pat_name[p]);
      sweep(a, n, ws, 8, 1, what);
      free(a);
    }
}

/* Series over several blocks: block boundaries, segments, both order
 * statistic algorithms, NaN runs longer than the window. */
static void test_multi_block(void **state) {
  (void)state;
  const int64_t n = 2 * BLOCK + 1234;
  double *a = malloc((size_t)n * sizeof *a), *x = malloc((size_t)n * sizeof *x);
  double *y = malloc((size_t)n * sizeof *y);
  /* (window, pattern): small windows meet every pattern */
  static const struct {
    int64_t w;
    int pat;
  } cases[] = {{2, P_NORMAL}, {2, P_NAN},   {2, P_INF},    {2, P_TIES},   {21, P_NORMAL},
               {21, P_NAN},   {21, P_RUNS}, {21, P_INF},   {21, P_TIES},  {100, P_NORMAL},
               {100, P_RUNS}, {100, P_TIES}, {1001, P_NAN}, {1001, P_INF}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const int64_t w = cases[c].w;
    fill(a, n, cases[c].pat);
    memcpy(x, a, (size_t)n * sizeof *x);
    char what[64];
    snprintf(what, sizeof what, "multi-block %s", pat_name[cases[c].pat]);
    for (size_t v = 0; v < NVAR; v++)
      for (int al = 0; al < 3; al++) {
        args A = {variants[v].fn, w, al == 1 ? 1 : 0, al, variants[v].q, variants[v].ddof, 2};
        assert_int_equal(roll1d(&A, x, y, n), 0);
        check(&A, a, n, y, w < 50 ? 7 : w / 2, 0, what);
        n_checked++;
      }
  }
  free(a);
  free(x);
  free(y);
}

/* Windows larger than 8192 (blocks of 2w) and equal to the series. */
static void test_large_windows(void **state) {
  (void)state;
  const int64_t n = 30000;
  double *a = malloc((size_t)n * sizeof *a), *y = malloc((size_t)n * sizeof *y);
  fill(a, n, P_NAN);
  const int64_t ws[] = {9000, n};
  for (int iw = 0; iw < 2; iw++)
    for (size_t v = 0; v < NVAR; v++)
      for (int al = 0; al < 3; al++) {
        args A = {variants[v].fn, ws[iw], 1, al, variants[v].q, variants[v].ddof, 2};
        assert_int_equal(roll1d(&A, a, y, n), 0);
        check(&A, a, n, y, n / 5, 0, "large window");
        n_checked++;
      }
  free(a);
  free(y);
}

static void expect_err(int fn, ndp_array *in, ndp_array *out, ndp_roll_opts o, int code,
                       const char *word);

/* count is pandas' rolling().count(): min_count counts the window's
 * positions in the series, NaN or not (the values below are pandas 3.1's
 * Series([1, nan, 3, 4, 5]).rolling(3, min_periods, center).count()). */
static void test_count_pandas(void **state) {
  (void)state;
  double a[5] = {1, NAN, 3, 4, 5}, y[5];
  const struct {
    int64_t minc;
    int align;
    double want[5];
  } cases[] = {
      {0, NDP_ROLL_TRAILING, {NAN, NAN, 2, 2, 3}},
      {3, NDP_ROLL_TRAILING, {NAN, NAN, 2, 2, 3}},
      {1, NDP_ROLL_TRAILING, {1, 1, 2, 2, 3}},
      {0, NDP_ROLL_CENTER, {NAN, 2, 2, 3, NAN}},
      {2, NDP_ROLL_CENTER, {1, 2, 2, 3, 2}},
      {0, NDP_ROLL_CENTER_EDGE, {2, 2, 2, 3, 3}}, /* padded [1 1 nan 3 4 5 5] */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    args A = {NDP_ROLL_COUNT, 3, cases[c].minc, cases[c].align, 0, 0, 1};
    assert_int_equal(roll1d(&A, a, y, 5), 0);
    for (int i = 0; i < 5; i++)
      if (!(y[i] == cases[c].want[i] || (isnan(y[i]) && isnan(cases[c].want[i]))))
        fail_msg("count case %zu at %d: got %g want %g", c, i, y[i], cases[c].want[i]);
  }
  /* a window of NaN only counts 0, not NaN */
  double b[4] = {NAN, NAN, NAN, NAN};
  args A = {NDP_ROLL_COUNT, 2, 0, NDP_ROLL_TRAILING, 0, 0, 1};
  assert_int_equal(roll1d(&A, b, y, 4), 0);
  assert_true(isnan(y[0]));
  for (int i = 1; i < 4; i++) assert_true(y[i] == 0);
}

/* Edge padding takes any window, also longer than the series (np.pad
 * mode='edge'), for every function; the other placements still refuse. */
static void test_edge_long_windows(void **state) {
  (void)state;
  const int64_t ns[] = {1, 2, 5, 37}, ws[] = {2, 3, 4, 7, 40, 101, 333, 1000}; /* sums: w ulps */
  double a[37], x[37], y[37];
  for (int in_ = 0; in_ < 4; in_++) {
    const int64_t n = ns[in_];
    fill(a, n, P_NAN);
    if (n > 2) a[0] = NAN; /* a NaN edge value repeated */
    memcpy(x, a, sizeof a);
    for (int iw = 0; iw < 8; iw++) {
      const int64_t w = ws[iw];
      if (w <= n) continue;
      const int64_t mcs[3] = {0, 1, w / 2};
      for (size_t v = 0; v < NVAR; v++)
        for (int mc = 0; mc < 3; mc++) {
          args A = {variants[v].fn, w, mcs[mc], NDP_ROLL_CENTER_EDGE, variants[v].q,
                    variants[v].ddof, 1 + mc};
          assert_int_equal(roll1d(&A, x, y, n), 0);
          check(&A, a, n, y, 1, 0, "edge, window > n");
          n_checked++;
          for (int al = NDP_ROLL_TRAILING; al <= NDP_ROLL_CENTER; al++) {
            ndp_array ia, oa;
            ndp_array_init(&ia, x, NDP_FLOAT64, 1, &n);
            ndp_array_init(&oa, y, NDP_FLOAT64, 1, &n);
            ndp_roll_opts o = {w, 0, 0, (ndp_roll_align)al, 0.5, 0};
            expect_err(variants[v].fn, &ia, &oa, o, NDP_EINVAL, "larger than the axis");
          }
        }
    }
    assert_memory_equal(x, a, (size_t)n * sizeof *x);
  }
  /* float32 data, a strided lane: the gather path */
  float f[2 * 5];
  double d[5];
  for (int i = 0; i < 5; i++) f[2 * i] = (float)(i * i) - 3.5f, d[i] = (double)f[2 * i];
  float yf[5];
  int64_t n = 5;
  ndp_array ia, oa;
  ndp_array_init(&ia, f, NDP_FLOAT32, 1, &n);
  ia.strides[0] = 8;
  ndp_array_init(&oa, yf, NDP_FLOAT32, 1, &n);
  for (size_t v = 0; v < NVAR; v++) {
    args A = {variants[v].fn, 23, 0, NDP_ROLL_CENTER_EDGE, variants[v].q, variants[v].ddof, 1};
    ndp_status st;
    assert_int_equal(roll(&A, &ia, &oa, 0, &st), 0);
    for (int i = 0; i < 5; i++) y[i] = yf[i];
    check(&A, d, 5, y, 1, 1, "edge, window > n, float32 strided");
  }
}

/* Booleans whose bytes are not 0/1 (a view of uint8 data) read as NumPy
 * reads them: any nonzero byte is True. Contiguous and strided lanes. */
static void test_bool_bytes(void **state) {
  (void)state;
  enum { N = 300 };
  uint8_t raw[2 * N];
  double norm[N], y[N], want[N];
  const uint8_t bytes[] = {0, 1, 2, 255, 128, 7, 0}; /* nonzero: [1, 5] */
  for (int i = 0; i < 2 * N; i++) raw[i] = bytes[rnd() % sizeof bytes];
  for (int i = 0; i < N; i++) norm[i] = raw[2 * i] != 0;
  int64_t n = N;
  for (int strided = 0; strided < 2; strided++) {
    if (!strided)
      for (int i = 0; i < N; i++) raw[i] = raw[2 * i]; /* contiguous copy first */
    ndp_array ia, oa, na;
    ndp_array_init(&ia, raw, NDP_BOOL, 1, &n);
    if (strided) {
      for (int i = 0; i < N; i++) raw[2 * i] = (uint8_t)(norm[i] ? bytes[1 + rnd() % 5] : 0);
      ia.strides[0] = 2;
    }
    ndp_array_init(&oa, y, NDP_FLOAT64, 1, &n);
    ndp_array_init(&na, norm, NDP_FLOAT64, 1, &n);
    for (size_t v = 0; v < NVAR; v++)
      for (int al = 0; al < 3; al++) {
        args A = {variants[v].fn, 7, 2, al, variants[v].q, variants[v].ddof, 1};
        ndp_status st;
        assert_int_equal(roll(&A, &ia, &oa, 0, &st), 0);
        ndp_array wa;
        ndp_array_init(&wa, want, NDP_FLOAT64, 1, &n);
        assert_int_equal(roll(&A, &na, &wa, 0, &st), 0);
        for (int i = 0; i < N; i++)
          if (!(y[i] == want[i] || (isnan(y[i]) && isnan(want[i]))))
            fail_msg("bool %s %s strided=%d at %d: got %g, on 0/1 data %g",
                     ndp_roll_name(variants[v].fn), align_name(al), strided, i, y[i], want[i]);
      }
  }
}

/* Every input dtype: integers and bool to float64, float32 stays float32. */
static void test_dtypes(void **state) {
  (void)state;
  const int64_t n = 300;
  double *ref_in = malloc(n * sizeof(double)), *y = malloc(n * sizeof(double));
  char *raw = malloc(n * 8);
  float *yf = malloc(n * sizeof(float));
  double *yd = malloc(n * sizeof(double));
  for (int dt = 0; dt < NDP_NTYPES; dt++) {
    if (dt == NDP_FLOAT16) continue; /* tests/c/test_float16.c */
    for (int64_t i = 0; i < n; i++) {
      int64_t v = (int64_t)(rnd() % 200) - 100;
      switch (dt) {
      case NDP_BOOL: ((uint8_t *)raw)[i] = (uint8_t)(v & 1); ref_in[i] = (double)(v & 1); break;
      case NDP_INT8: ((int8_t *)raw)[i] = (int8_t)v; ref_in[i] = (double)v; break;
      case NDP_UINT8: ((uint8_t *)raw)[i] = (uint8_t)(v + 100); ref_in[i] = (double)(v + 100); break;
      case NDP_INT16: ((int16_t *)raw)[i] = (int16_t)(v * 300); ref_in[i] = (double)(v * 300); break;
      case NDP_UINT16: ((uint16_t *)raw)[i] = (uint16_t)(v + 100); ref_in[i] = (double)(v + 100); break;
      case NDP_INT32: ((int32_t *)raw)[i] = (int32_t)(v * 100000); ref_in[i] = (double)(v * 100000); break;
      case NDP_UINT32: ((uint32_t *)raw)[i] = (uint32_t)(v + 4000000000ll); ref_in[i] = (double)(v + 4000000000ll); break;
      case NDP_INT64: ((int64_t *)raw)[i] = v * 1000000007ll; ref_in[i] = (double)(v * 1000000007ll); break;
      case NDP_UINT64: ((uint64_t *)raw)[i] = (uint64_t)(v + 100) << 40; ref_in[i] = (double)((uint64_t)(v + 100) << 40); break;
      case NDP_FLOAT32: {
        float f = (float)(gauss() * 10);
        if (i % 17 == 3) f = NAN;
        ((float *)raw)[i] = f;
        ref_in[i] = f;
        break;
      }
      default: ref_in[i] = gauss(); ((double *)raw)[i] = ref_in[i]; break;
      }
    }
    ndp_array a, o;
    int64_t nn = n;
    assert_int_equal(ndp_array_init(&a, raw, (ndp_dtype)dt, 1, &nn), 0);
    const int f32 = dt == NDP_FLOAT32;
    assert_int_equal(ndp_array_init(&o, f32 ? (void *)yf : (void *)yd,
                                    f32 ? NDP_FLOAT32 : NDP_FLOAT64, 1, &nn), 0);
    const int64_t ws[] = {1, 5, 21};
    for (int iw = 0; iw < 3; iw++)
      for (size_t v = 0; v < NVAR; v++)
        for (int al = 0; al < 3; al++) {
          args A = {variants[v].fn, ws[iw], 1, al, variants[v].q, variants[v].ddof, 1};
          ndp_status st;
          assert_int_equal(roll(&A, &a, &o, 0, &st), 0);
          for (int64_t i = 0; i < n; i++) y[i] = f32 ? (double)yf[i] : yd[i];
          check(&A, ref_in, n, y, 1, f32, ndp_dtype_name((ndp_dtype)dt));
          n_checked++;
        }
    /* the wrong output dtype is refused */
    ndp_array bad;
    assert_int_equal(ndp_array_init(&bad, yf, f32 ? NDP_FLOAT64 : NDP_FLOAT32, 1, &nn), 0);
    args A = {NDP_ROLL_MEAN, 3, 0, 0, 0, 0, 1};
    ndp_status st;
    assert_int_equal(roll(&A, &a, &bad, 0, &st), NDP_ETYPE);
    assert_non_null(strstr(st.msg, "out"));
  }
  free(ref_in);
  free(y);
  free(raw);
  free(yf);
  free(yd);
}

/* 2-D arrays along each axis, F order, negative strides, byte-swapped in
 * and out, float32 strided out: every lane equals the 1-D result. */
static void test_layouts(void **state) {
  (void)state;
  enum { R = 9, C = 700 };
  double *a = malloc(R * C * sizeof *a), *y = malloc(R * C * sizeof *y);
  double *lane = malloc(C * sizeof *lane), *ly = malloc(C * sizeof *ly);
  double *sw = malloc(R * C * sizeof *sw), *ys = malloc(R * C * sizeof *ys);
  float *af = malloc(R * C * sizeof *af), *yf = malloc(2 * R * C * sizeof *yf);
  fill(a, R * C, P_NAN);
  for (int i = 0; i < R * C; i++) {
    uint64_t u;
    memcpy(&u, &a[i], 8);
    u = __builtin_bswap64(u);
    memcpy(&sw[i], &u, 8);
    af[i] = (float)a[i];
  }
  for (size_t v = 0; v < NVAR; v++)
    for (int al = 0; al < 3; al++)
      for (int axis = 0; axis < 2; axis++) {
        const int64_t len = axis ? C : R, nl = axis ? R : C;
        const int64_t w = axis ? 21 : 4;
        args A = {variants[v].fn, w, 1, al, variants[v].q, variants[v].ddof, 3};
        int64_t shape[2] = {R, C};
        ndp_array in, out;
        ndp_status st;
        /* C order */
        ndp_array_init(&in, a, NDP_FLOAT64, 2, shape);
        ndp_array_init(&out, y, NDP_FLOAT64, 2, shape);
        assert_int_equal(roll(&A, &in, &out, axis - 2, &st), 0);
        /* byte-swapped input and output */
        ndp_array ins = in, outs = out;
        ins.data = sw;
        ins.flags = NDP_ARRAY_BYTESWAPPED;
        outs.data = ys;
        outs.flags = NDP_ARRAY_BYTESWAPPED;
        assert_int_equal(roll(&A, &ins, &outs, axis, &st), 0);
        for (int i = 0; i < R * C; i++) {
          uint64_t u;
          memcpy(&u, &ys[i], 8);
          u = __builtin_bswap64(u);
          double d;
          memcpy(&d, &u, 8);
          assert_memory_equal(&d, &y[i], 8);
        }
        /* every lane as a contiguous 1-D series */
        for (int64_t l = 0; l < nl; l++) {
          for (int64_t k = 0; k < len; k++) lane[k] = axis ? a[l * C + k] : a[k * C + l];
          assert_int_equal(roll1d(&A, lane, ly, len), 0);
          for (int64_t k = 0; k < len; k++) {
            double g = axis ? y[l * C + k] : y[k * C + l];
            if (!(g == ly[k] || (isnan(g) && isnan(ly[k]))))
              fail_msg("%s axis %d lane %lld pos %lld: %.17g vs %.17g", ndp_roll_name(A.fn),
                       axis, (long long)l, (long long)k, g, ly[k]);
          }
          check(&A, lane, len, ly, 1, 0, "lane");
        }
        /* the transpose (F order) with negative strides on the other axis,
         * out float32 with a gap between elements */
        ndp_array tin, tout;
        int64_t tshape[2] = {C, R};
        ndp_array_init(&tin, af, NDP_FLOAT32, 2, tshape);
        tin.strides[0] = 4;
        tin.strides[1] = 4 * C;
        tin.data = af + (R - 1) * C;
        tin.strides[1] = -4 * C; /* rows reversed */
        ndp_array_init(&tout, yf, NDP_FLOAT32, 2, tshape);
        tout.strides[0] = 8 * R;
        tout.strides[1] = 8;
        assert_int_equal(roll(&A, &tin, &tout, 1 - axis, &st), 0);
        /* view(i0, i1) = af[(R - 1 - i1) * C + i0], result at yf[i0 * 2R + 2 i1] */
        for (int64_t l = 0; l < nl; l++) {
          for (int64_t k = 0; k < len; k++) {
            const int64_t i0 = axis ? k : l, i1 = axis ? l : k;
            lane[k] = af[(R - 1 - i1) * C + i0];
            ly[k] = yf[i0 * 2 * R + 2 * i1];
          }
          check(&A, lane, len, ly, 1, 1, "float32 view");
        }
        n_checked += 3;
      }
  free(a);
  free(y);
  free(lane);
  free(ly);
  free(sw);
  free(ys);
  free(af);
  free(yf);
}

/* Reversed (negative stride) lanes, misaligned data, byte-swapped float32. */
static void test_odd_layouts(void **state) {
  (void)state;
  enum { N = 1500 };
  double *a = malloc(N * sizeof *a), *y = malloc(N * sizeof *y), *ref = malloc(N * sizeof *ref);
  double *rev = malloc(N * sizeof *rev), *yv = malloc(N * sizeof *yv);
  char *ua = malloc(N * 8 + 8), *uy = malloc(N * 8 + 8);
  float *af = malloc(N * sizeof *af), *sf = malloc(N * sizeof *sf);
  float *yf = malloc(N * sizeof *yf), *ys = malloc(N * sizeof *ys);
  fill(a, N, P_NAN);
  for (int i = 0; i < N; i++) {
    rev[i] = a[N - 1 - i];
    af[i] = (float)a[i];
    uint32_t u;
    memcpy(&u, &af[i], 4);
    u = __builtin_bswap32(u);
    memcpy(&sf[i], &u, 4);
  }
  memcpy(ua + 1, a, N * 8);
  int64_t n = N;
  for (size_t v = 0; v < NVAR; v++)
    for (int al = 0; al < 3; al++) {
      args A = {variants[v].fn, 33, 3, al, variants[v].q, variants[v].ddof, 2};
      ndp_array in, out;
      ndp_status st;
      /* reversed input and output: rolling over rev */
      ndp_array_init(&in, a + N - 1, NDP_FLOAT64, 1, &n);
      in.strides[0] = -8;
      ndp_array_init(&out, y + N - 1, NDP_FLOAT64, 1, &n);
      out.strides[0] = -8;
      assert_int_equal(roll(&A, &in, &out, 0, &st), 0);
      for (int i = 0; i < N; i++) yv[i] = y[N - 1 - i];
      check(&A, rev, N, yv, 1, 0, "reversed");
      /* misaligned input and output give the aligned results */
      assert_int_equal(roll1d(&A, a, ref, N), 0);
      ndp_array_init(&in, ua + 1, NDP_FLOAT64, 1, &n);
      ndp_array_init(&out, uy + 3, NDP_FLOAT64, 1, &n);
      assert_int_equal(roll(&A, &in, &out, 0, &st), 0);
      assert_memory_equal(uy + 3, ref, N * 8);
      /* float32, byte-swapped in and out */
      ndp_array_init(&in, af, NDP_FLOAT32, 1, &n);
      ndp_array_init(&out, yf, NDP_FLOAT32, 1, &n);
      assert_int_equal(roll(&A, &in, &out, 0, &st), 0);
      ndp_array_init(&in, sf, NDP_FLOAT32, 1, &n);
      in.flags = NDP_ARRAY_BYTESWAPPED;
      ndp_array_init(&out, ys, NDP_FLOAT32, 1, &n);
      out.flags = NDP_ARRAY_BYTESWAPPED;
      assert_int_equal(roll(&A, &in, &out, 0, &st), 0);
      for (int i = 0; i < N; i++) {
        uint32_t u;
        memcpy(&u, &ys[i], 4);
        u = __builtin_bswap32(u);
        assert_memory_equal(&u, &yf[i], 4);
      }
      n_checked += 3;
    }
  free(a);
  free(y);
  free(ref);
  free(rev);
  free(yv);
  free(ua);
  free(uy);
  free(af);
  free(sf);
  free(yf);
  free(ys);
}

/* 1, 2, 3 and 8 threads give bitwise the same result. */
static void test_thread_invariance(void **state) {
  (void)state;
  const int64_t n = 3 * BLOCK + 77;
  double *a = malloc((size_t)n * sizeof *a), *y1 = malloc((size_t)n * sizeof *y1);
  double *yk = malloc((size_t)n * sizeof *yk);
  fill(a, n, P_NAN);
  for (int64_t i = 0; i < n; i += 1000) a[i] = 1e6 * gauss(); /* spikes */
  const int64_t ws[] = {21, 1001, 9000};
  for (int iw = 0; iw < 3; iw++)
    for (size_t v = 0; v < NVAR; v++)
      for (int al = 0; al < 3; al += 2) {
        if (v > 0 && variants[v].fn == variants[v - 1].fn) continue; /* one of each */
        if (iw > 0 && al > 0) continue;
        args A = {variants[v].fn, ws[iw], 1, al, variants[v].q, variants[v].ddof, 1};
        assert_int_equal(roll1d(&A, a, y1, n), 0);
        const int ths[] = {2, 3, 8};
        for (int t = 0; t < 3; t++) {
          A.nthreads = ths[t];
          assert_int_equal(roll1d(&A, a, yk, n), 0);
          assert_memory_equal(y1, yk, (size_t)n * sizeof *y1);
        }
        /* the baseline instruction set (no AVX2 finishing passes): the same bits */
        const ndp_isa isa = ndp_get_isa();
        if (isa > NDP_ISA_SSE2 && ndp_set_isa(NDP_ISA_SSE2) == 0) {
          A.nthreads = 2;
          assert_int_equal(roll1d(&A, a, yk, n), 0);
          assert_int_equal(ndp_set_isa(isa), 0);
          assert_memory_equal(y1, yk, (size_t)n * sizeof *y1);
        }
        /* results streamed out with non-temporal stores (on each instruction
         * set, to addresses aligned or not): the same bits */
        assert_int_equal(roll1d(&A, a, y1, n - 1), 0);
        ndp__roll_nt_min = 1;
        for (int lv = 0; lv < 2; lv++) {
          if (lv && (isa <= NDP_ISA_SSE2 || ndp_set_isa(NDP_ISA_SSE2) != 0)) break;
          for (int off = 0; off < 2; off++) {
            assert_int_equal(roll1d(&A, a, yk + off, n - 1), 0);
            assert_memory_equal(y1, yk + off, (size_t)(n - 1) * sizeof *y1);
          }
        }
        assert_int_equal(ndp_set_isa(isa), 0);
        ndp__roll_nt_min = 0;
      }
  /* many short lanes */
  int64_t shape[2] = {1500, 30}; /* within a */
  ndp_array in, out;
  ndp_array_init(&in, a, NDP_FLOAT64, 2, shape);
  for (size_t v = 0; v < NVAR; v++) {
    args A = {variants[v].fn, 7, 2, NDP_ROLL_CENTER, variants[v].q, variants[v].ddof, 1};
    ndp_status st;
    ndp_array_init(&out, y1, NDP_FLOAT64, 2, shape);
    assert_int_equal(roll(&A, &in, &out, 1, &st), 0);
    A.nthreads = 8;
    ndp_array_init(&out, yk, NDP_FLOAT64, 2, shape);
    assert_int_equal(roll(&A, &in, &out, 1, &st), 0);
    assert_memory_equal(y1, yk, 1500 * 30 * sizeof *y1);
  }
  free(a);
  free(y1);
  free(yk);
}

/* 1e9 + noise, a trend, spikes: sums and variances stay accurate. */
static void test_precision(void **state) {
  (void)state;
  const int64_t n = 2 * BLOCK + 100;
  double *a = malloc((size_t)n * sizeof *a), *y = malloc((size_t)n * sizeof *y);
  double *buf = malloc(2000 * sizeof *buf);
  /* 0: 1e9 + noise; 1: a trend; 2: 1e12 spikes in noise; 3, 4: the same as
   * 0 and 2 with NaN (10%, 20%): sums within ~1e-13 of the window's sum of
   * |x| (a direct summation's bound), variances within 1e-12 of
   * themselves, whatever left the window before */
  for (int kind = 0; kind < 5; kind++) {
    for (int64_t i = 0; i < n; i++) {
      if (kind == 0 || kind == 3) a[i] = 1e9 + gauss();
      else if (kind == 1) a[i] = 1e6 + 0.25 * (double)i + gauss();
      else a[i] = (i % 5000 == 7 ? 1e12 : 0) + gauss();
      if (kind >= 3 && unif() < (kind == 3 ? 0.1 : 0.2)) a[i] = NAN;
    }
    const int64_t ws[] = {21, 1001};
    for (int iw = 0; iw < 2; iw++) {
      const int64_t w = ws[iw];
      const int fns[] = {NDP_ROLL_MEAN, NDP_ROLL_SUM, NDP_ROLL_VAR, NDP_ROLL_STD};
      for (int f = 0; f < 4; f++) {
        args A = {fns[f], w, kind >= 3 ? 1 : 0, NDP_ROLL_TRAILING, 0, 1, 2};
        assert_int_equal(roll1d(&A, a, y, n), 0);
        double worst = 0;
        const int sums = fns[f] == NDP_ROLL_SUM || fns[f] == NDP_ROLL_MEAN;
        for (int64_t i = w - 1; i < n; i += w > 100 ? 29 : 7) {
          ref r = ref_at(fns[f], a, n, i, w, 0, A.minc ? A.minc : w, 0, 1, buf);
          if (isnan(r.v)) {
            assert_true(isnan(y[i]));
            continue;
          }
          double scale = fabs(r.v);
          if (sums) { /* the window's sum of |x| (per point for the mean) */
            long double sa = 0;
            int64_t c = 0;
            for (int64_t p = i - w + 1; p <= i; p++)
              if (a[p] == a[p]) sa += fabsl((long double)a[p]), c++;
            scale = (double)(fns[f] == NDP_ROLL_SUM ? sa : sa / c);
          }
          const double e = fabs(y[i] - r.v) / scale;
          if (e > worst) worst = e;
        }
        const double lim = sums ? 1e-13 : 1e-12;
        if (!(worst <= lim))
          fail_msg("precision kind %d %s w=%lld: worst relative error %g", kind,
                   ndp_roll_name(fns[f]), (long long)w, worst);
      }
    }
  }
  /* infinities enter and leave: the sum is exact again afterwards */
  double b[12] = {1, 2, INFINITY, 4, 5, -INFINITY, 7, 8, 9, INFINITY, -INFINITY, 1};
  double yb[12];
  args A = {NDP_ROLL_SUM, 3, 1, NDP_ROLL_TRAILING, 0, 0, 1};
  assert_int_equal(roll1d(&A, b, yb, 12), 0);
  const double want[12] = {1, 3, INFINITY, INFINITY, INFINITY, -INFINITY, -INFINITY, -INFINITY,
                           24, INFINITY, NAN, NAN};
  for (int i = 0; i < 12; i++)
    assert_true(yb[i] == want[i] || (isnan(yb[i]) && isnan(want[i])));
  /* sums that overflow and come back */
  double c[6] = {1e308, 1e308, 1, 2, 3, 4}, yc[6];
  A.w = 2;
  assert_int_equal(roll1d(&A, c, yc, 6), 0);
  assert_true(yc[0] == 1e308 && isinf(yc[1]) && yc[2] == 1e308 && yc[3] == 3 && yc[4] == 5 &&
              yc[5] == 7);
  A.align = NDP_ROLL_CENTER_EDGE; /* no padding NaN: the all-finite path */
  assert_int_equal(roll1d(&A, c, yc, 6), 0);
  assert_true(isinf(yc[0]) && isinf(yc[1]) && yc[2] == 1e308 && yc[3] == 3 && yc[4] == 5 &&
              yc[5] == 7);
  free(a);
  free(y);
  free(buf);
}

/* mean is exactly sum / count (a true division, on every instruction set),
 * so a constant window's mean is the constant. */
static void test_mean_is_sum_over_count(void **state) {
  (void)state;
  const int64_t n = BLOCK + 999;
  double *a = malloc((size_t)n * sizeof *a), *ys = malloc((size_t)n * sizeof *ys);
  double *ym = malloc((size_t)n * sizeof *ym);
  const ndp_isa isa = ndp_get_isa();
  for (int level = (int)isa; level >= (int)NDP_ISA_SSE2 && level >= 0; level--) {
    if (ndp_set_isa((ndp_isa)level) != 0) continue;
    for (int kind = 0; kind < 3; kind++) {
      for (int64_t i = 0; i < n; i++)
        a[i] = kind == 0 ? 1.0 : kind == 1 ? gauss() * 1e3 : ldexp(gauss(), (int)(rnd() % 2000) - 1000);
      const int64_t ws[] = {3, 7, 49, 1000};
      for (int iw = 0; iw < 4; iw++) {
        args A = {NDP_ROLL_SUM, ws[iw], 0, NDP_ROLL_CENTER_EDGE, 0, 0, 1};
        assert_int_equal(roll1d(&A, a, ys, n), 0);
        A.fn = NDP_ROLL_MEAN;
        assert_int_equal(roll1d(&A, a, ym, n), 0);
        for (int64_t i = 0; i < n; i++) {
          const double q = ys[i] / (double)ws[iw];
          if (memcmp(&q, &ym[i], 8) != 0)
            fail_msg("isa %d w %lld at %lld: mean %.17g, sum / w %.17g", level,
                     (long long)ws[iw], (long long)i, ym[i], q);
          if (kind == 0) assert_true(ym[i] == 1.0);
        }
      }
    }
  }
  assert_int_equal(ndp_set_isa(isa), 0);
  free(a);
  free(ys);
  free(ym);
}

/* Known values, as bottleneck and pandas give them. */
static void test_known_values(void **state) {
  (void)state;
  double a[12] = {3, 1, 1, 2, 1, NAN, 5, 5, NAN, NAN, NAN, 0}, y[12];
  /* bottleneck.move_argmin(a, 3, min_count=1) */
  args A = {NDP_ROLL_ARGMIN, 3, 1, NDP_ROLL_TRAILING, 0, 0, 1};
  assert_int_equal(roll1d(&A, a, y, 12), 0);
  const double am[12] = {0, 0, 0, 1, 0, 1, 2, 0, 1, 2, NAN, 0};
  for (int i = 0; i < 12; i++) assert_true(y[i] == am[i] || (isnan(y[i]) && isnan(am[i])));
  /* pandas Series(a).rolling(4, center=True, min_periods=1).sum() */
  A = (args){NDP_ROLL_SUM, 4, 1, NDP_ROLL_CENTER, 0, 0, 1};
  assert_int_equal(roll1d(&A, a, y, 12), 0);
  const double cs[12] = {4, 5, 7, 5, 4, 8, 11, 10, 10, 5, 0, 0};
  for (int i = 0; i < 12; i++) assert_true(y[i] == cs[i]);
  /* edge padding: np.pad([1,2,3,4], 1, mode='edge') -> 1 1 2 3 4 4 */
  double b[4] = {1, 2, 3, 4}, yb[4];
  A = (args){NDP_ROLL_MEAN, 3, 0, NDP_ROLL_CENTER_EDGE, 0, 0, 1};
  assert_int_equal(roll1d(&A, b, yb, 4), 0);
  assert_true(yb[0] == 4.0 / 3 && yb[1] == 2 && yb[2] == 3 && yb[3] == 11.0 / 3);
  /* var with count <= ddof is NaN; ddof 0 of one value is 0 */
  A = (args){NDP_ROLL_VAR, 2, 1, NDP_ROLL_TRAILING, 0, 1, 1};
  assert_int_equal(roll1d(&A, b, yb, 4), 0);
  assert_true(isnan(yb[0]) && yb[1] == 0.5);
  A.ddof = 0;
  assert_int_equal(roll1d(&A, b, yb, 4), 0);
  assert_true(yb[0] == 0 && yb[1] == 0.25);
}

static void test_in_place(void **state) {
  (void)state;
  const int64_t n = 2 * BLOCK + 5;
  double *a = malloc((size_t)(n + 1) * sizeof *a), *y = malloc((size_t)n * sizeof *y);
  double *x = malloc((size_t)(n + 1) * sizeof *x);
  fill(a, n + 1, P_NAN);
  for (size_t v = 0; v < NVAR; v++) {
    args A = {variants[v].fn, 21, 1, NDP_ROLL_CENTER, variants[v].q, variants[v].ddof, 2};
    assert_int_equal(roll1d(&A, a, y, n), 0);
    memcpy(x, a, (size_t)(n + 1) * sizeof *x);
    assert_int_equal(roll1d(&A, x, x, n), 0); /* in place */
    assert_memory_equal(x, y, (size_t)n * sizeof *y);
    memcpy(x, a, (size_t)(n + 1) * sizeof *x);
    ndp_array in, out;
    ndp_array_init(&in, x, NDP_FLOAT64, 1, &n);
    ndp_array_init(&out, x + 1, NDP_FLOAT64, 1, &n); /* shifted by one */
    ndp_status st;
    assert_int_equal(roll(&A, &in, &out, 0, &st), 0);
    assert_memory_equal(x + 1, y, (size_t)n * sizeof *y);
  }
  free(a);
  free(x);
  free(y);
}

static void expect_err(int fn, ndp_array *in, ndp_array *out, ndp_roll_opts o, int code,
                       const char *word) {
  ndp_status st;
  assert_int_equal(ndp_rolling(fn, in, out, &o, NULL, &st), code);
  assert_int_equal(st.code, code);
  if (!strstr(st.msg, word)) fail_msg("message '%s' does not name '%s'", st.msg, word);
}

static void test_bad_arguments(void **state) {
  (void)state;
  double x[10] = {0}, y[10];
  int64_t n = 10;
  ndp_array in, out;
  ndp_array_init(&in, x, NDP_FLOAT64, 1, &n);
  ndp_array_init(&out, y, NDP_FLOAT64, 1, &n);
  ndp_roll_opts o = {3, 0, 0, NDP_ROLL_TRAILING, 0.5, 0};
  ndp_roll_opts b = o;
  b.window = 0;
  expect_err(NDP_ROLL_MEAN, &in, &out, b, NDP_EINVAL, "window");
  b.window = 11;
  expect_err(NDP_ROLL_MEAN, &in, &out, b, NDP_EINVAL, "window");
  b = o;
  b.min_count = 4;
  expect_err(NDP_ROLL_MEAN, &in, &out, b, NDP_EINVAL, "min_count");
  b.min_count = -1;
  expect_err(NDP_ROLL_MEAN, &in, &out, b, NDP_EINVAL, "min_count");
  b = o;
  b.axis = 1;
  expect_err(NDP_ROLL_MEAN, &in, &out, b, NDP_EINVAL, "axis");
  b.axis = -2;
  expect_err(NDP_ROLL_MEAN, &in, &out, b, NDP_EINVAL, "axis");
  b = o;
  b.q = 1.5;
  expect_err(NDP_ROLL_QUANTILE, &in, &out, b, NDP_EINVAL, "q");
  b.q = NAN;
  expect_err(NDP_ROLL_QUANTILE, &in, &out, b, NDP_EINVAL, "q");
  b.q = -0.1;
  expect_err(NDP_ROLL_QUANTILE, &in, &out, b, NDP_EINVAL, "q");
  assert_int_equal(ndp_rolling(NDP_ROLL_MEAN, &in, &out, &b, NULL, NULL), 0); /* q unused */
  b = o;
  b.ddof = -1;
  expect_err(NDP_ROLL_STD, &in, &out, b, NDP_EINVAL, "ddof");
  b = o;
  b.align = (ndp_roll_align)7;
  expect_err(NDP_ROLL_STD, &in, &out, b, NDP_EINVAL, "align");
  expect_err(NDP_NROLL, &in, &out, o, NDP_EINVAL, "fn");
  expect_err(-1, &in, &out, o, NDP_EINVAL, "fn");
  expect_err(NDP_ROLL_MEAN, NULL, &out, o, NDP_EINVAL, "in");
  expect_err(NDP_ROLL_MEAN, &in, NULL, o, NDP_EINVAL, "out");
  ndp_status st;
  assert_int_equal(ndp_rolling(NDP_ROLL_MEAN, &in, &out, NULL, NULL, &st), NDP_EINVAL);
  assert_non_null(strstr(st.msg, "opts"));
  ndp_array bad = in;
  bad.dtype = (ndp_dtype)42;
  expect_err(NDP_ROLL_MEAN, &bad, &out, o, NDP_ETYPE, "in");
  bad = out;
  bad.dtype = NDP_INT32;
  expect_err(NDP_ROLL_MEAN, &in, &bad, o, NDP_ETYPE, "out");
  int64_t n9 = 9;
  ndp_array_init(&bad, y, NDP_FLOAT64, 1, &n9);
  expect_err(NDP_ROLL_MEAN, &in, &bad, o, NDP_ESHAPE, "out");
  int64_t sh2[2] = {2, 5};
  ndp_array_init(&bad, y, NDP_FLOAT64, 2, sh2);
  expect_err(NDP_ROLL_MEAN, &in, &bad, o, NDP_ESHAPE, "out");
  bad = out;
  bad.strides[0] = 0;
  expect_err(NDP_ROLL_MEAN, &in, &bad, o, NDP_EINVAL, "out");
  ndp_array zero; /* 0-d: no axis */
  ndp_array_init(&zero, x, NDP_FLOAT64, 0, NULL);
  ndp_array zo;
  ndp_array_init(&zo, y, NDP_FLOAT64, 0, NULL);
  expect_err(NDP_ROLL_MEAN, &zero, &zo, o, NDP_EINVAL, "axis");
  bad = in;
  bad.data = NULL;
  expect_err(NDP_ROLL_MEAN, &bad, &out, o, NDP_EINVAL, "in");
  /* empty arrays are no-ops, but the window must still fit the axis (as
   * bottleneck): an empty axis takes no window */
  int64_t e0 = 0, sh[2] = {0, 5};
  ndp_array ei, eo;
  ndp_array_init(&ei, x, NDP_FLOAT64, 1, &e0);
  ndp_array_init(&eo, y, NDP_FLOAT64, 1, &e0);
  b = o;
  b.window = 1;
  expect_err(NDP_ROLL_MEDIAN, &ei, &eo, b, NDP_EINVAL, "window");
  b.window = 5;
  ndp_array_init(&ei, x, NDP_FLOAT64, 2, sh);
  ndp_array_init(&eo, y, NDP_FLOAT64, 2, sh);
  b.axis = 1;
  assert_int_equal(ndp_rolling(NDP_ROLL_MEDIAN, &ei, &eo, &b, NULL, &st), 0);
  b.window = 6; /* the axis has 5 points: still an error */
  expect_err(NDP_ROLL_MEDIAN, &ei, &eo, b, NDP_EINVAL, "window");
}

/* Every allocation failing in turn gives NDP_ENOMEM and leaks nothing. */
static void test_alloc_failures(void **state) {
  (void)state;
  const int64_t n = 3000;
  double *a = malloc(n * sizeof *a), *y = malloc(n * sizeof *y);
  fill(a, n, P_NAN);
  for (size_t v = 0; v < NVAR; v++)
    for (int inplace = 0; inplace < 2; inplace++) {
      args A = {variants[v].fn, 101, 1, NDP_ROLL_TRAILING, variants[v].q, variants[v].ddof, 1};
      int ok = 0;
      for (long k = 0; k < 20 && !ok; k++) {
        ndp__fail_alloc_after(k);
        int rc = roll1d(&A, a, inplace ? a : y, n);
        ndp__fail_alloc_after(-1);
        if (rc == 0) ok = 1;
        else assert_int_equal(rc, NDP_ENOMEM);
      }
      assert_true(ok);
      if (inplace) fill(a, n, P_NAN);
    }
  free(a);
  free(y);
}

static int poll_count;
static int cancel_poll(void *ud, double frac) {
  (void)ud;
  (void)frac;
  return ++poll_count >= 2;
}

static void test_cancel(void **state) {
  (void)state;
  const int64_t n = 1 << 22;
  double *a = malloc((size_t)n * sizeof *a), *y = malloc((size_t)n * sizeof *y);
  fill(a, n, P_NORMAL);
  ndp_array in, out;
  ndp_array_init(&in, a, NDP_FLOAT64, 1, &n);
  ndp_array_init(&out, y, NDP_FLOAT64, 1, &n);
  ndp_roll_opts o = {1001, 0, 0, NDP_ROLL_TRAILING, 0.5, 0};
  ndp_exec ex = {2, cancel_poll, NULL, 1e-6};
  ndp_status st;
  poll_count = 0;
  assert_int_equal(ndp_rolling(NDP_ROLL_MEDIAN, &in, &out, &o, &ex, &st), NDP_ECANCELED);
  assert_non_null(strstr(st.msg, "cancel"));
  free(a);
  free(y);
}

static int teardown_report(void **state) {
  (void)state;
  print_message("[ rolling  ] %ld configurations checked against the reference\n", n_checked);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_small_exhaustive),
      cmocka_unit_test(test_multi_block),
      cmocka_unit_test(test_large_windows),
      cmocka_unit_test(test_count_pandas),
      cmocka_unit_test(test_edge_long_windows),
      cmocka_unit_test(test_bool_bytes),
      cmocka_unit_test(test_dtypes),
      cmocka_unit_test(test_layouts),
      cmocka_unit_test(test_odd_layouts),
      cmocka_unit_test(test_thread_invariance),
      cmocka_unit_test(test_precision),
      cmocka_unit_test(test_mean_is_sum_over_count),
      cmocka_unit_test(test_known_values),
      cmocka_unit_test(test_in_place),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_alloc_failures),
      cmocka_unit_test(test_cancel),
  };
  return cmocka_run_group_tests(tests, NULL, teardown_report);
}
