/*
 * tests/c/test_apply.c - ndp_apply (a table of functions chosen per point)
 * against a plain per-point loop: every point evaluated alone (its entry's
 * expression on 1-element arrays, or its function called with n = 1).
 * Covers k = 1 and k = N, empty groups, one entry at many positions,
 * several inputs, every integer index dtype, strided and reversed arrays,
 * tables mixing expressions and functions, whole-group functions (one call
 * per group with all of its points, in order), default values, bad
 * indices (first position reported, out untouched), failing functions,
 * casting and reduction refusals, thread-count invariance (bitwise), a
 * million entries, allocation failures and bad arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "ndpar.h"

static ndp_status st;

/* ---- helpers ------------------------------------------------------------------ */

static void vec(ndp_array *a, void *data, ndp_dtype dt, int64_t n) {
  assert_int_equal(ndp_array_init(a, data, dt, 1, &n), 0);
}

/* A strided view: every `step`-th item of data (step may be negative: then
 * data points at the last item of the view). */
static void view(ndp_array *a, void *base, ndp_dtype dt, int64_t n, int64_t step) {
  size_t isz = ndp_dtype_size(dt);
  memset(a, 0, sizeof *a);
  a->dtype = dt;
  a->ndim = 1;
  a->shape[0] = n;
  a->strides[0] = step * (int64_t)isz;
  a->data = step >= 0 ? base : (char *)base + (size_t)((n - 1) * -step) * isz;
}

static ndp_expr *compile1(const char *src, int m, const ndp_dtype *dts) {
  ndp_expr *e = NULL;
  int rc = ndp_apply_compile(src, m, dts, &e, &st);
  if (rc) fprintf(stderr, "compile '%s': %s\n", src, st.msg);
  assert_int_equal(rc, 0);
  return e;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static double rndu(void) { return (double)(rnd() >> 11) * 0x1p-53; }

/* Writes v (an integer) into item i of a (any integer dtype). */
static void put_int(const ndp_array *a, int64_t i, int64_t v) {
  char *q = (char *)a->data + i * a->strides[0];
  switch (a->dtype) {
  case NDP_INT8: { int8_t t = (int8_t)v; memcpy(q, &t, 1); break; }
  case NDP_UINT8: { uint8_t t = (uint8_t)v; memcpy(q, &t, 1); break; }
  case NDP_INT16: { int16_t t = (int16_t)v; memcpy(q, &t, 2); break; }
  case NDP_UINT16: { uint16_t t = (uint16_t)v; memcpy(q, &t, 2); break; }
  case NDP_INT32: { int32_t t = (int32_t)v; memcpy(q, &t, 4); break; }
  case NDP_UINT32: { uint32_t t = (uint32_t)v; memcpy(q, &t, 4); break; }
  default: memcpy(q, &v, 8); break;
  }
}

/* Item i of an integer array as (is it in [0, k), its value). */
static int64_t get_index(const ndp_array *a, int64_t i, int64_t k, int *in_range) {
  const char *q = (const char *)a->data + i * a->strides[0];
  int64_t s = 0;
  uint64_t u = 0;
  int sgn = 1;
  switch (a->dtype) {
  case NDP_INT8: { int8_t t; memcpy(&t, q, 1); s = t; break; }
  case NDP_UINT8: { uint8_t t; memcpy(&t, q, 1); u = t; sgn = 0; break; }
  case NDP_INT16: { int16_t t; memcpy(&t, q, 2); s = t; break; }
  case NDP_UINT16: { uint16_t t; memcpy(&t, q, 2); u = t; sgn = 0; break; }
  case NDP_INT32: { int32_t t; memcpy(&t, q, 4); s = t; break; }
  case NDP_UINT32: { uint32_t t; memcpy(&t, q, 4); u = t; sgn = 0; break; }
  case NDP_INT64: memcpy(&s, q, 8); break;
  default: memcpy(&u, q, 8); sgn = 0; break;
  }
  if (sgn) {
    *in_range = s >= 0 && s < k;
    return s;
  }
  *in_range = u < (uint64_t)k;
  return (int64_t)u;
}

/* The plain loop: each point alone. ref: N contiguous items of out's dtype. */
static void reference(int m, const ndp_array *const *x, const ndp_array *idx, int64_t k,
                      const ndp_apply_entry *table, ndp_dtype odt, const void *defv,
                      char *ref) {
  int64_t n = x[0]->shape[0];
  size_t osz = ndp_dtype_size(odt);
  for (int64_t i = 0; i < n; i++) {
    int in;
    int64_t j = get_index(idx, i, k, &in);
    char *dst = ref + (size_t)i * osz;
    if (!in) {
      if (!defv) {
        fail_msg("point %lld is out of range and there is no default", (long long)i);
        return;
      }
      memcpy(dst, defv, osz);
      continue;
    }
    const ndp_apply_entry *en = &table[j];
    _Alignas(8) unsigned char vals[8][8];
    void *args[8];
    ndp_array one[8], o;
    const ndp_array *vars[8];
    int64_t len = 1;
    for (int a = 0; a < m; a++) {
      memcpy(vals[a], (const char *)x[a]->data + i * x[a]->strides[0],
             ndp_dtype_size(x[a]->dtype));
      args[a] = vals[a];
      vec(&one[a], vals[a], x[a]->dtype, 1);
      vars[a] = &one[a];
    }
    if (m == 1) vars[1] = &one[0];
    _Alignas(8) unsigned char res[8];
    if (en->kind == NDP_ENTRY_EXPR) {
      ndp_array_init(&o, res, odt, 1, &len);
      assert_int_equal(ndp_expr_eval(en->expr, vars, &o, NDP_CASTING_SAME_KIND, NULL, &st), 0);
    } else {
      assert_int_equal(en->fn(1, args, res, en->ud), 0);
    }
    memcpy(dst, res, osz);
  }
}

/* Runs ndp_apply on `threads` threads and compares out with the plain
 * loop, byte for byte. */
static void check_apply(int m, const ndp_array *const *x, const ndp_array *idx, int64_t k,
                        const ndp_apply_entry *table, const ndp_array *out,
                        const void *defv, int threads) {
  int64_t n = x[0]->shape[0];
  size_t osz = ndp_dtype_size(out->dtype);
  char *ref = malloc((size_t)n * osz + 1);
  assert_non_null(ref);
  reference(m, x, idx, k, table, out->dtype, defv, ref);
  ndp_exec ex = {threads, NULL, NULL, 0.0};
  int rc = ndp_apply(m, x, idx, k, table, out, defv, &ex, &st);
  if (rc) fprintf(stderr, "apply: %s\n", st.msg);
  assert_int_equal(rc, 0);
  for (int64_t i = 0; i < n; i++) {
    const char *got = (const char *)out->data + i * out->strides[0];
    if (memcmp(got, ref + (size_t)i * osz, osz) != 0) {
      fprintf(stderr, "point %lld differs (threads %d)\n", (long long)i, threads);
      fail();
    }
  }
  free(ref);
}

/* k compiled expressions from a printf pattern with one %d (the position)
 * or none. */
static void expr_table(ndp_apply_entry *t, ndp_expr **es, int64_t k, const char *pattern,
                       int m, const ndp_dtype *dts) {
  for (int64_t j = 0; j < k; j++) {
    char src[128];
    snprintf(src, sizeof src, pattern, (int)j);
    es[j] = compile1(src, m, dts);
    memset(&t[j], 0, sizeof t[j]);
    t[j].kind = NDP_ENTRY_EXPR;
    t[j].expr = es[j];
  }
}

static void free_exprs(ndp_expr **es, int64_t k) {
  for (int64_t j = 0; j < k; j++) ndp_expr_free(es[j]);
}

/* ---- functions for FN entries ---------------------------------------------------- */

/* out = x * (1 + ud's integer) + 0.25, float64 */
static int fn_affine(int64_t n, void *const *args, void *out, void *ud) {
  const double *x = args[0];
  double *o = out;
  double a = 1.0 + (double)(intptr_t)ud;
  for (int64_t i = 0; i < n; i++) o[i] = x[i] * a + 0.25;
  return 0;
}

static int fn_fail(int64_t n, void *const *args, void *out, void *ud) {
  (void)n; (void)args; (void)out; (void)ud;
  return 7;
}

/* Whole-group bookkeeping: calls per entry, points seen, order. */
typedef struct group_log {
  pthread_mutex_t mu;
  int64_t calls[64], points[64];
  int ordered;
} group_log;

static group_log glog;

typedef struct logged_ud {
  int pos;
  int whole;
} logged_ud;

/* x holds the point's position i as float64: checks the order, logs. */
static int fn_logged(int64_t n, void *const *args, void *out, void *ud) {
  const logged_ud *u = ud;
  const double *x = args[0];
  double *o = out;
  for (int64_t i = 0; i < n; i++) o[i] = x[i] * 2.0 + u->pos;
  pthread_mutex_lock(&glog.mu);
  glog.calls[u->pos]++;
  glog.points[u->pos] += n;
  for (int64_t i = 1; i < n; i++)
    if (!(x[i] > x[i - 1])) glog.ordered = 0;
  pthread_mutex_unlock(&glog.mu);
  return 0;
}

/* ---- tests ------------------------------------------------------------------------- */

#define N1 5003

static void test_basic(void **state) {
  (void)state;
  static double x[N1], out[N1];
  static int64_t ix[N1];
  const int64_t k = 7;
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_apply_entry t[7];
  ndp_expr *es[7];
  expr_table(t, es, k, "x * %d + 0.5", 1, &f8);
  for (int i = 0; i < N1; i++) {
    x[i] = rndu() * 10 - 5;
    ix[i] = (int64_t)(rnd() % (uint64_t)k);
  }
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, N1);
  vec(&I, ix, NDP_INT64, N1);
  vec(&O, out, NDP_FLOAT64, N1);
  const ndp_array *xs[1] = {&X};
  for (int th = 1; th <= 2; th++) check_apply(1, xs, &I, k, t, &O, NULL, th);
  /* x0 names the same input */
  ndp_expr *e0 = compile1("x0 - x", 1, &f8);
  ndp_apply_entry t0 = {NDP_ENTRY_EXPR, e0, NULL, NULL, 0};
  for (int i = 0; i < N1; i++) ix[i] = 0;
  check_apply(1, xs, &I, 1, &t0, &O, NULL, 2);
  for (int i = 0; i < N1; i++) assert_true(out[i] == 0.0);
  ndp_expr_free(e0);
  free_exprs(es, k);
}

static void test_k1_and_kN(void **state) {
  (void)state;
  enum { N = 40000 };
  double *x = malloc(N * sizeof *x), *out = malloc(N * sizeof *out);
  int32_t *ix = malloc(N * sizeof *ix);
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, N);
  vec(&I, ix, NDP_INT32, N);
  vec(&O, out, NDP_FLOAT64, N);
  const ndp_array *xs[1] = {&X};
  for (int i = 0; i < N; i++) x[i] = rndu();
  /* k = 1: one group larger than a task, split */
  ndp_expr *e = compile1("x * x - 3", 1, &f8);
  ndp_apply_entry one = {NDP_ENTRY_EXPR, e, NULL, NULL, 0};
  memset(ix, 0, N * sizeof *ix);
  check_apply(1, xs, &I, 1, &one, &O, NULL, 2);
  /* k = N, every point its own group; entries alternate two programs and
   * a function */
  ndp_expr *e2 = compile1("x + 1", 1, &f8);
  ndp_apply_entry *t = calloc(N, sizeof *t);
  for (int j = 0; j < N; j++) {
    t[j].kind = j % 3 == 2 ? NDP_ENTRY_FN : NDP_ENTRY_EXPR;
    t[j].expr = j % 3 == 0 ? e : e2;
    t[j].fn = fn_affine;
    t[j].ud = (void *)(intptr_t)(j % 5);
    t[j].whole_group = j % 2;
  }
  for (int i = 0; i < N; i++) ix[i] = N - 1 - i;
  check_apply(1, xs, &I, N, t, &O, NULL, 2);
  for (int i = 0; i < N; i++) ix[i] = (int32_t)(rnd() % N);
  check_apply(1, xs, &I, N, t, &O, NULL, 1);
  check_apply(1, xs, &I, N, t, &O, NULL, 3);
  free(t);
  ndp_expr_free(e);
  ndp_expr_free(e2);
  free(x);
  free(out);
  free(ix);
}

static void test_empty_and_shared(void **state) {
  (void)state;
  static double x[N1], out[N1];
  static uint16_t ix[N1];
  const int64_t k = 50;
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_apply_entry t[50];
  ndp_expr *es[50];
  expr_table(t, es, k, "x * %d", 1, &f8);
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, N1);
  vec(&I, ix, NDP_UINT16, N1);
  vec(&O, out, NDP_FLOAT64, N1);
  const ndp_array *xs[1] = {&X};
  for (int i = 0; i < N1; i++) {
    x[i] = rndu();
    ix[i] = (uint16_t)(2 * (rnd() % 25)); /* odd groups empty */
  }
  check_apply(1, xs, &I, k, t, &O, NULL, 2);
  /* one program at every position, then two alternating in runs */
  ndp_apply_entry s[50];
  for (int j = 0; j < k; j++) s[j] = t[j / 10 % 2 ? 3 : 7];
  for (int i = 0; i < N1; i++) ix[i] = (uint16_t)(rnd() % k);
  check_apply(1, xs, &I, k, s, &O, NULL, 1);
  check_apply(1, xs, &I, k, s, &O, NULL, 2);
  for (int j = 0; j < k; j++) s[j] = t[9];
  check_apply(1, xs, &I, k, s, &O, NULL, 2);
  free_exprs(es, k);
}

static void test_multi_arg(void **state) {
  (void)state;
  static double a[N1], out[N1];
  static float b[N1];
  static int32_t c[N1];
  static int8_t ix[N1];
  ndp_dtype dts[3] = {NDP_FLOAT64, NDP_FLOAT32, NDP_INT32};
  ndp_array A, B, C, I, O;
  vec(&A, a, NDP_FLOAT64, N1);
  vec(&B, b, NDP_FLOAT32, N1);
  vec(&C, c, NDP_INT32, N1);
  vec(&I, ix, NDP_INT8, N1);
  vec(&O, out, NDP_FLOAT64, N1);
  for (int i = 0; i < N1; i++) {
    a[i] = rndu() * 4 - 2;
    b[i] = (float)rndu();
    c[i] = (int32_t)(rnd() % 100) - 50;
    ix[i] = (int8_t)(rnd() % 5);
  }
  const ndp_array *x2[2] = {&A, &B};
  ndp_apply_entry t[5];
  ndp_expr *es[5];
  expr_table(t, es, 5, "x0 * x1 + %d", 2, dts);
  check_apply(2, x2, &I, 5, t, &O, NULL, 2);
  free_exprs(es, 5);
  const ndp_array *x3[3] = {&A, &B, &C};
  expr_table(t, es, 5, "where(x0 > x1, x0 - x2 * %d, x1 + x2)", 3, dts);
  check_apply(3, x3, &I, 5, t, &O, NULL, 1);
  check_apply(3, x3, &I, 5, t, &O, NULL, 2);
  /* an int32 out from int32 programs */
  static int32_t oi[N1];
  ndp_array OI;
  vec(&OI, oi, NDP_INT32, N1);
  free_exprs(es, 5);
  expr_table(t, es, 5, "x2 * %d - 1", 3, dts);
  check_apply(3, x3, &I, 5, t, &OI, NULL, 2);
  free_exprs(es, 5);
}

static void test_index_dtypes(void **state) {
  (void)state;
  static double x[N1], out[N1];
  static uint64_t ibuf[N1];
  const int64_t k = 9;
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_apply_entry t[9];
  ndp_expr *es[9];
  expr_table(t, es, k, "x - %d", 1, &f8);
  ndp_array X, O;
  vec(&X, x, NDP_FLOAT64, N1);
  vec(&O, out, NDP_FLOAT64, N1);
  const ndp_array *xs[1] = {&X};
  for (int i = 0; i < N1; i++) x[i] = rndu();
  const double defv = -1.5;
  for (ndp_dtype dt = NDP_INT8; dt <= NDP_UINT64; dt++) {
    ndp_array I;
    vec(&I, ibuf, dt, N1);
    for (int i = 0; i < N1; i++) put_int(&I, i, (int64_t)(rnd() % (uint64_t)k));
    check_apply(1, xs, &I, k, t, &O, NULL, 2);
    /* out-of-range values (negative ones wrap for unsigned dtypes) */
    for (int i = 0; i < N1; i += 7) put_int(&I, i, i % 2 ? -1 : 100 + i);
    check_apply(1, xs, &I, k, t, &O, &defv, 2);
  }
  free_exprs(es, k);
}

static void test_strided(void **state) {
  (void)state;
  enum { N = 30011 };
  double *xb = malloc(3 * N * sizeof *xb), *ob = malloc(2 * N * sizeof *ob);
  int16_t *ib = malloc(3 * N * sizeof *ib);
  const int64_t k = 11;
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_apply_entry t[11];
  ndp_expr *es[11];
  expr_table(t, es, k, "x * 0.5 - %d", 1, &f8);
  for (int i = 0; i < 3 * N; i++) {
    xb[i] = rndu();
    ib[i] = (int16_t)(rnd() % (uint64_t)k);
  }
  ndp_array X, I, O;
  view(&X, xb, NDP_FLOAT64, N, 3);
  view(&I, ib, NDP_INT16, N, -3);
  view(&O, ob, NDP_FLOAT64, N, -2);
  const ndp_array *xs[1] = {&X};
  check_apply(1, xs, &I, k, t, &O, NULL, 2);
  /* a float32 out: the float64 results are cast (same_kind) */
  float *of = malloc(N * sizeof *of);
  ndp_array OF;
  vec(&OF, of, NDP_FLOAT32, N);
  check_apply(1, xs, &I, k, t, &OF, NULL, 2);
  /* an unaligned out and x (a byte offset) */
  char *raw = malloc(N * 8 + 1), *rawx = malloc(N * 8 + 1);
  for (int i = 0; i < N; i++) memcpy(rawx + 1 + 8 * i, &xb[i], 8);
  ndp_array XU, OU;
  vec(&XU, rawx + 1, NDP_FLOAT64, N);
  vec(&OU, raw + 1, NDP_FLOAT64, N);
  const ndp_array *xu[1] = {&XU};
  check_apply(1, xu, &I, k, t, &OU, NULL, 2);
  free(raw);
  free(rawx);
  free(of);
  free_exprs(es, k);
  free(xb);
  free(ob);
  free(ib);
}

static void test_mixed_fn(void **state) {
  (void)state;
  enum { N = 60000 };
  double *x = malloc(N * sizeof *x), *out = malloc(N * sizeof *out);
  uint32_t *ix = malloc(N * sizeof *ix);
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_apply_entry t[6];
  ndp_expr *es[6];
  expr_table(t, es, 6, "exp(x * 0.%d)", 1, &f8);
  for (int j = 1; j < 6; j += 2) {
    t[j].kind = NDP_ENTRY_FN;
    t[j].fn = fn_affine;
    t[j].ud = (void *)(intptr_t)j;
    t[j].whole_group = j == 3;
  }
  for (int i = 0; i < N; i++) {
    x[i] = rndu();
    ix[i] = (uint32_t)(rnd() % 6);
  }
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, N);
  vec(&I, ix, NDP_UINT32, N);
  vec(&O, out, NDP_FLOAT64, N);
  const ndp_array *xs[1] = {&X};
  /* exp: per point against a one-element evaluation; the kernels' results
   * do not depend on the position in a block for these */
  ndp_exec ex = {2, NULL, NULL, 0.0};
  assert_int_equal(ndp_apply(1, xs, &I, 6, t, &O, NULL, &ex, &st), 0);
  for (int i = 0; i < N; i++) {
    double want = t[ix[i]].kind == NDP_ENTRY_FN ? x[i] * (1.0 + ix[i]) + 0.25
                                                : exp(x[i] * (ix[i] / 10.0));
    assert_true(fabs(out[i] - want) <= 4e-16 * fabs(want));
  }
  free_exprs(es, 6);
  free(x);
  free(out);
  free(ix);
}

static void test_whole_group(void **state) {
  (void)state;
  enum { N = 100000, K = 5 };
  double *x = malloc(N * sizeof *x), *out = malloc(N * sizeof *out);
  int64_t *ix = malloc(N * sizeof *ix);
  int64_t sizes[K] = {0};
  logged_ud uds[K];
  ndp_apply_entry t[K];
  for (int j = 0; j < K; j++) {
    uds[j].pos = j;
    uds[j].whole = j != 4;
    t[j] = (ndp_apply_entry){NDP_ENTRY_FN, NULL, fn_logged, &uds[j], uds[j].whole};
  }
  for (int i = 0; i < N; i++) {
    x[i] = i;
    /* group 0: most points (larger than a task); 2: empty; 3: tiny */
    uint64_t r = rnd() % 100;
    ix[i] = r < 60 ? 0 : r < 80 ? 1 : r < 81 ? 3 : 4;
    sizes[ix[i]]++;
  }
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, N);
  vec(&I, ix, NDP_INT64, N);
  vec(&O, out, NDP_FLOAT64, N);
  const ndp_array *xs[1] = {&X};
  for (int th = 1; th <= 3; th++) {
    memset(glog.calls, 0, sizeof glog.calls);
    memset(glog.points, 0, sizeof glog.points);
    glog.ordered = 1;
    ndp_exec ex = {th, NULL, NULL, 0.0};
    assert_int_equal(ndp_apply(1, xs, &I, K, t, &O, NULL, &ex, &st), 0);
    for (int j = 0; j < K; j++) {
      assert_int_equal(glog.points[j], sizes[j]);
      if (j == 2) assert_int_equal(glog.calls[j], 0);
      else if (j != 4) assert_int_equal(glog.calls[j], 1);
    }
    assert_true(glog.calls[4] > 1); /* a split group: several calls */
    assert_true(glog.ordered);
    for (int i = 0; i < N; i++) assert_true(out[i] == 2.0 * i + (double)ix[i]);
  }
  free(x);
  free(out);
  free(ix);
}

static void test_default(void **state) {
  (void)state;
  static float x[N1];
  static int32_t out[N1];
  static int64_t ix[N1];
  ndp_dtype f4 = NDP_FLOAT32;
  ndp_expr *e = compile1("x * 100", 1, &f4);
  /* float32 -> int32 is not same_kind: the out must be float */
  ndp_apply_entry t[3] = {{NDP_ENTRY_EXPR, e, NULL, NULL, 0},
                          {NDP_ENTRY_EXPR, e, NULL, NULL, 0},
                          {NDP_ENTRY_EXPR, e, NULL, NULL, 0}};
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT32, N1);
  vec(&I, ix, NDP_INT64, N1);
  vec(&O, out, NDP_INT32, N1);
  const ndp_array *xs[1] = {&X};
  assert_int_equal(ndp_apply(1, xs, &I, 3, t, &O, NULL, NULL, &st), NDP_ECAST);
  assert_non_null(strstr(st.msg, "table[0]"));
  static float of[N1];
  vec(&O, of, NDP_FLOAT32, N1);
  for (int i = 0; i < N1; i++) {
    x[i] = (float)rndu();
    ix[i] = (int64_t)(rnd() % 6) - 2; /* -2 .. 3: 40% out of range */
  }
  const float defv = -7.0f;
  check_apply(1, xs, &I, 3, t, &O, &defv, 1);
  check_apply(1, xs, &I, 3, t, &O, &defv, 2);
  /* every point out of range */
  for (int i = 0; i < N1; i++) ix[i] = -1;
  check_apply(1, xs, &I, 3, t, &O, &defv, 2);
  for (int i = 0; i < N1; i++) assert_true(of[i] == -7.0f);
  ndp_expr_free(e);
}

static void test_bad_index(void **state) {
  (void)state;
  enum { N = 50000 };
  double *x = calloc(N, sizeof *x), *out = malloc(N * sizeof *out);
  int64_t *ix = calloc(N, sizeof *ix);
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_expr *e = compile1("x + 1", 1, &f8);
  ndp_apply_entry t = {NDP_ENTRY_EXPR, e, NULL, NULL, 0};
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, N);
  vec(&I, ix, NDP_INT64, N);
  vec(&O, out, NDP_FLOAT64, N);
  const ndp_array *xs[1] = {&X};
  ix[40000] = 1;
  ix[31234] = -5;
  ix[45000] = -3;
  for (int th = 1; th <= 3; th++) {
    for (int i = 0; i < N; i++) out[i] = 42.0;
    ndp_exec ex = {th, NULL, NULL, 0.0};
    assert_int_equal(ndp_apply(1, xs, &I, 1, &t, &O, NULL, &ex, &st), NDP_EINDEX);
    assert_int_equal(st.pos, 31234);
    assert_non_null(strstr(st.msg, "index[31234] = -5 is outside [0, 1)"));
    for (int i = 0; i < N; i++) assert_true(out[i] == 42.0);
  }
  /* unsigned values print as unsigned */
  uint64_t *ux = calloc(N, sizeof *ux);
  ndp_array U;
  vec(&U, ux, NDP_UINT64, N);
  ux[7] = UINT64_MAX;
  assert_int_equal(ndp_apply(1, xs, &U, 1, &t, &O, NULL, NULL, &st), NDP_EINDEX);
  assert_int_equal(st.pos, 7);
  assert_non_null(strstr(st.msg, "index[7] = 18446744073709551615 is outside [0, 1)"));
  free(ux);
  ndp_expr_free(e);
  free(x);
  free(out);
  free(ix);
}

static void test_fn_failure(void **state) {
  (void)state;
  enum { N = 20000 };
  double *x = calloc(N, sizeof *x), *out = malloc(N * sizeof *out);
  uint8_t *ix = malloc(N);
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_expr *e = compile1("x + 1", 1, &f8);
  ndp_apply_entry t[4] = {{NDP_ENTRY_EXPR, e, NULL, NULL, 0},
                          {NDP_ENTRY_FN, NULL, fn_affine, NULL, 0},
                          {NDP_ENTRY_FN, NULL, fn_fail, NULL, 1},
                          {NDP_ENTRY_EXPR, e, NULL, NULL, 0}};
  for (int i = 0; i < N; i++) ix[i] = (uint8_t)(i % 4);
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, N);
  vec(&I, ix, NDP_UINT8, N);
  vec(&O, out, NDP_FLOAT64, N);
  const ndp_array *xs[1] = {&X};
  for (int th = 1; th <= 2; th++) {
    ndp_exec ex = {th, NULL, NULL, 0.0};
    assert_int_equal(ndp_apply(1, xs, &I, 4, t, &O, NULL, &ex, &st), NDP_EUSER);
    assert_int_equal(st.pos, 2);
    assert_non_null(strstr(st.msg, "table[2]"));
  }
  /* an evaluation error names its entry: integers to a negative power */
  int64_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *oi = malloc(N * sizeof *oi);
  for (int i = 0; i < N; i++) {
    a[i] = 2;
    b[i] = i == 12345 ? -1 : 3;
  }
  ndp_dtype i8[2] = {NDP_INT64, NDP_INT64};
  ndp_expr *pw = compile1("x0 ** x1", 2, i8), *sum = compile1("x0 + x1", 2, i8);
  ndp_apply_entry t2[4] = {{NDP_ENTRY_EXPR, sum, NULL, NULL, 0},
                           {NDP_ENTRY_EXPR, sum, NULL, NULL, 0},
                           {NDP_ENTRY_EXPR, sum, NULL, NULL, 0},
                           {NDP_ENTRY_EXPR, pw, NULL, NULL, 0}};
  ix[12345] = 3;
  ndp_array A, B, OI;
  vec(&A, a, NDP_INT64, N);
  vec(&B, b, NDP_INT64, N);
  vec(&OI, oi, NDP_INT64, N);
  const ndp_array *ab[2] = {&A, &B};
  assert_int_equal(ndp_apply(2, ab, &I, 4, t2, &OI, NULL, NULL, &st), NDP_EDOMAIN);
  assert_int_equal(st.pos, 3);
  assert_non_null(strstr(st.msg, "table[3]"));
  ndp_expr_free(pw);
  ndp_expr_free(sum);
  free(a);
  free(b);
  free(oi);
  ndp_expr_free(e);
  free(x);
  free(out);
  free(ix);
}

static void test_refusals(void **state) {
  (void)state;
  static double x[16], out[16];
  static int64_t ix[16];
  ndp_dtype f8 = NDP_FLOAT64, i4 = NDP_INT32;
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, 16);
  vec(&I, ix, NDP_INT64, 16);
  vec(&O, out, NDP_FLOAT64, 16);
  const ndp_array *xs[1] = {&X};
  /* a reduction is not a per-point function */
  ndp_expr *s = compile1("sum(x)", 1, &f8);
  ndp_apply_entry t = {NDP_ENTRY_EXPR, s, NULL, NULL, 0};
  assert_int_equal(ndp_apply(1, xs, &I, 1, &t, &O, NULL, NULL, &st), NDP_EINVAL);
  assert_non_null(strstr(st.msg, "table[0]"));
  ndp_expr_free(s);
  /* compiled for another dtype */
  ndp_expr *w = compile1("x + 1", 1, &i4);
  t.expr = w;
  assert_int_equal(ndp_apply(1, xs, &I, 1, &t, &O, NULL, NULL, &st), NDP_ETYPE);
  ndp_expr_free(w);
  /* a constant entry is fine: every point of its group gets the value */
  ndp_expr *c = compile1("2.5", 1, &f8);
  t.expr = c;
  assert_int_equal(ndp_apply(1, xs, &I, 1, &t, &O, NULL, NULL, &st), 0);
  for (int i = 0; i < 16; i++) assert_true(out[i] == 2.5);
  ndp_expr_free(c);
}

static void test_threads_invariance(void **state) {
  (void)state;
  enum { N = 300007, K = 37 };
  double *x = malloc(N * sizeof *x), *ref = malloc(N * sizeof *ref),
         *out = malloc(N * sizeof *out);
  int64_t *ix = malloc(N * sizeof *ix);
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_apply_entry t[K];
  ndp_expr *es[K];
  expr_table(t, es, K, "where(x > 0.3, exp(x * 0.0%d), log1p(x) * sin(x))", 1, &f8);
  for (int i = 0; i < N; i++) {
    x[i] = rndu() * 3;
    /* skewed: group 0 holds half the points */
    ix[i] = rnd() % 2 ? 0 : (int64_t)(rnd() % K);
  }
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, N);
  vec(&I, ix, NDP_INT64, N);
  const ndp_array *xs[1] = {&X};
  static const int threads[] = {1, 2, 3, 7};
  for (int r = 0; r < 4; r++) {
    vec(&O, r == 0 ? ref : out, NDP_FLOAT64, N);
    ndp_exec ex = {threads[r], NULL, NULL, 0.0};
    assert_int_equal(ndp_apply(1, xs, &I, K, t, &O, NULL, &ex, &st), 0);
    if (r > 0) assert_memory_equal(ref, out, N * sizeof *out);
  }
  free_exprs(es, K);
  free(x);
  free(ref);
  free(out);
  free(ix);
}

static void test_large_k(void **state) {
  (void)state;
  enum { N = 2000000, K = 1000000 };
  double *x = malloc(N * sizeof *x), *out = malloc(N * sizeof *out);
  int32_t *ix = malloc(N * sizeof *ix);
  ndp_apply_entry *t = calloc(K, sizeof *t);
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_expr *a = compile1("x * 3", 1, &f8), *b = compile1("x - 1", 1, &f8);
  for (int j = 0; j < K; j++) {
    t[j].kind = j % 4 == 3 ? NDP_ENTRY_FN : NDP_ENTRY_EXPR;
    t[j].expr = j % 4 == 0 ? a : b;
    t[j].fn = fn_affine;
    t[j].ud = (void *)(intptr_t)(j % 3);
    t[j].whole_group = j % 8 == 3;
  }
  for (int i = 0; i < N; i++) {
    x[i] = rndu();
    ix[i] = (int32_t)(rnd() % K);
  }
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, N);
  vec(&I, ix, NDP_INT32, N);
  vec(&O, out, NDP_FLOAT64, N);
  const ndp_array *xs[1] = {&X};
  for (int th = 1; th <= 2; th++) {
    memset(out, 0, N * sizeof *out);
    ndp_exec ex = {th, NULL, NULL, 0.0};
    assert_int_equal(ndp_apply(1, xs, &I, K, t, &O, NULL, &ex, &st), 0);
    for (int i = 0; i < N; i++) {
      int j = ix[i];
      double want = j % 4 == 3 ? x[i] * (1.0 + j % 3) + 0.25 : j % 4 == 0 ? x[i] * 3 : x[i] - 1;
      if (out[i] != want) {
        fprintf(stderr, "point %d: %.17g, want %.17g\n", i, out[i], want);
        fail();
      }
    }
  }
  ndp_expr_free(a);
  ndp_expr_free(b);
  free(t);
  free(x);
  free(out);
  free(ix);
}

/* An output larger than the last-level cache is written with streaming
 * stores: the same values. */
static void test_streamed_output(void **state) {
  (void)state;
  int64_t n = ndp__llc_bytes() / 8 + 4099;
  double *x = malloc((size_t)n * sizeof *x), *out = malloc((size_t)n * sizeof *out);
  uint16_t *ix = malloc((size_t)n * sizeof *ix);
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_apply_entry t[300];
  ndp_expr *es[300];
  expr_table(t, es, 300, "x * %d", 1, &f8);
  for (int64_t i = 0; i < n; i++) {
    x[i] = rndu();
    ix[i] = (uint16_t)(rnd() % 301); /* 300: out of range */
  }
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, n);
  vec(&I, ix, NDP_UINT16, n);
  vec(&O, out, NDP_FLOAT64, n);
  const ndp_array *xs[1] = {&X};
  const double defv = -1.0;
  ndp_exec ex = {2, NULL, NULL, 0.0};
  assert_int_equal(ndp_apply(1, xs, &I, 300, t, &O, &defv, &ex, &st), 0);
  for (int64_t i = 0; i < n; i++) {
    double want = ix[i] == 300 ? -1.0 : x[i] * ix[i];
    if (out[i] != want) {
      fprintf(stderr, "point %lld: %.17g, want %.17g\n", (long long)i, out[i], want);
      fail();
    }
  }
  free_exprs(es, 300);
  free(x);
  free(out);
  free(ix);
}

static int cancel_poll(void *ud, double frac) {
  (void)frac;
  (*(int *)ud)++;
  return 1;
}

static void test_cancel_and_empty(void **state) {
  (void)state;
  enum { N = 3000000 };
  double *x = calloc(N, sizeof *x), *out = malloc(N * sizeof *out);
  int64_t *ix = calloc(N, sizeof *ix);
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_expr *e = compile1("x + 1", 1, &f8);
  ndp_apply_entry t = {NDP_ENTRY_EXPR, e, NULL, NULL, 0};
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, N);
  vec(&I, ix, NDP_INT64, N);
  vec(&O, out, NDP_FLOAT64, N);
  const ndp_array *xs[1] = {&X};
  int polls = 0;
  ndp_exec ex = {1, cancel_poll, &polls, 1e-9};
  assert_int_equal(ndp_apply(1, xs, &I, 1, &t, &O, NULL, &ex, &st), NDP_ECANCELED);
  assert_true(polls > 0);
  /* no points: nothing to do */
  ndp_array X0, I0, O0;
  vec(&X0, x, NDP_FLOAT64, 0);
  vec(&I0, ix, NDP_INT64, 0);
  vec(&O0, out, NDP_FLOAT64, 0);
  const ndp_array *x0[1] = {&X0};
  assert_int_equal(ndp_apply(1, x0, &I0, 5, (ndp_apply_entry[5]){t, t, t, t, t}, &O0, NULL,
                             NULL, &st), 0);
  ndp_expr_free(e);
  free(x);
  free(out);
  free(ix);
}

static void test_oom(void **state) {
  (void)state;
  enum { N = 70000, K = 5 };
  double *x = malloc(N * sizeof *x), *out = malloc(N * sizeof *out);
  int64_t *ix = malloc(N * sizeof *ix);
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_apply_entry t[K];
  ndp_expr *es[K];
  expr_table(t, es, K, "x * %d + 1", 1, &f8);
  t[1] = (ndp_apply_entry){NDP_ENTRY_FN, NULL, fn_affine, NULL, 1};
  for (int i = 0; i < N; i++) {
    x[i] = rndu();
    ix[i] = (int64_t)(rnd() % (K + 1)); /* some out of range */
  }
  ndp_array X, I, O;
  vec(&X, x, NDP_FLOAT64, N);
  vec(&I, ix, NDP_INT64, N);
  vec(&O, out, NDP_FLOAT64, N);
  const ndp_array *xs[1] = {&X};
  const double defv = 0.5;
  for (int th = 1; th <= 2; th++) {
    int ok = 0;
    ndp_exec ex = {th, NULL, NULL, 0.0};
    for (long n = 0; n < 2000 && !ok; n++) {
      ndp__fail_alloc_after(n);
      int rc = ndp_apply(1, xs, &I, K, t, &O, &defv, &ex, &st);
      ndp__fail_alloc_after(-1);
      if (rc == 0) ok = 1;
      else assert_int_equal(rc, NDP_ENOMEM);
    }
    assert_true(ok);
  }
  free_exprs(es, K);
  /* compile */
  for (long n = 0; n < 200; n++) {
    ndp_expr *e = NULL;
    ndp__fail_alloc_after(n);
    int rc = ndp_apply_compile("x * 2 + x0", 1, &f8, &e, &st);
    ndp__fail_alloc_after(-1);
    if (rc == 0) {
      ndp_expr_free(e);
      break;
    }
    assert_int_equal(rc, NDP_ENOMEM);
  }
  free(x);
  free(out);
  free(ix);
}

/* ndp_apply_expr_bytes: counts every constant block (2 KiB each), and
 * stays under 1152 * strlen(src) + 5120, the bound python/ndpar/_apply.py
 * charges a program when the extension cannot report its size (one
 * constant register needs at least two characters of source: a literal
 * and an operator; registers and instructions under 128 bytes a
 * character). */
static void test_expr_bytes(void **state) {
  (void)state;
  assert_int_equal(ndp_apply_expr_bytes(NULL), 0);
  const ndp_dtype f8[1] = {NDP_FLOAT64}, i4[1] = {NDP_INT32}, two[2] = {NDP_INT8, NDP_FLOAT32};
  char src[8192];
  size_t prev = 0;
  for (int k = 1; k <= 64; k *= 2) { /* k distinct constants, none foldable */
    size_t len = 0;
    len += (size_t)snprintf(src + len, sizeof src - len, "x");
    for (int c = 0; c < k; c++)
      len += (size_t)snprintf(src + len, sizeof src - len, "*%d.5+x", c + 2);
    ndp_expr *e = compile1(src, 1, f8);
    const size_t b = ndp_apply_expr_bytes(e);
    assert_true(b >= (size_t)k * 2048);
    assert_true(b > prev);
    assert_true(b <= 1152 * strlen(src) + 5120);
    prev = b;
    ndp_expr_free(e);
  }
  const struct {
    const char *src;
    int m;
    const ndp_dtype *dts;
  } cases[] = {
      {"x", 1, f8},
      {"0", 1, f8},
      {"x+1+2+3+4+5+6+7+8+9", 1, i4},
      {"x+1-2*x+3.5-x/4+x%5+x**6-x//7", 1, i4},
      {"where(x>1,1,2.5)+where(x<2,3,4)*e-pi+inf", 1, i4},
      {"sin(x0)+cos(x1)*x0-1+x1*2+x0*3.25", 2, two},
      {"t = x * 2; u = t + 1.5; where(u > 3, exp(u), log1p(t)) + 7", 1, f8},
      {"(x<1)|(x<2)|(x<3)|(x<4)|(x<5)|(x<6)|(x<7)|(x<8)|(x<9)", 1, i4},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    ndp_expr *e = compile1(cases[c].src, cases[c].m, cases[c].dts);
    const size_t b = ndp_apply_expr_bytes(e);
    if (!(b >= 2048 && b <= 1152 * strlen(cases[c].src) + 5120))
      fail_msg("'%s': %zu bytes", cases[c].src, b);
    ndp_expr_free(e);
  }
}

static void test_bad_args(void **state) {
  (void)state;
  static double x[8], y[8], out[8];
  static int64_t ix[8];
  static uint8_t bx[8];
  ndp_dtype f8 = NDP_FLOAT64;
  ndp_expr *e = compile1("x + 1", 1, &f8);
  ndp_apply_entry t = {NDP_ENTRY_EXPR, e, NULL, NULL, 0};
  ndp_array X, Y, I, O, B, S, X2;
  vec(&X, x, NDP_FLOAT64, 8);
  vec(&Y, y, NDP_FLOAT64, 7);
  vec(&I, ix, NDP_INT64, 8);
  vec(&O, out, NDP_FLOAT64, 8);
  vec(&B, bx, NDP_BOOL, 8);
  const ndp_array *xs[1] = {&X}, *ys[1] = {&Y}, *nul[1] = {NULL};
  assert_int_equal(ndp_apply(1, NULL, &I, 1, &t, &O, NULL, NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_apply(1, nul, &I, 1, &t, &O, NULL, NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_apply(1, xs, NULL, 1, &t, &O, NULL, NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_apply(1, xs, &I, 1, NULL, &O, NULL, NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_apply(1, xs, &I, 1, &t, NULL, NULL, NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_apply(0, xs, &I, 1, &t, &O, NULL, NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_apply(65, xs, &I, 1, &t, &O, NULL, NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_apply(1, xs, &I, 0, &t, &O, NULL, NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_apply(1, xs, &I, -3, &t, &O, NULL, NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_apply(1, xs, &I, INT64_MAX, &t, &O, NULL, NULL, &st), NDP_EOVERFLOW);
  assert_int_equal(ndp_apply(1, ys, &I, 1, &t, &O, NULL, NULL, &st), NDP_ESHAPE);
  const ndp_array *xy[2] = {&X, &Y};
  assert_int_equal(ndp_apply(2, xy, &I, 1, &t, &O, NULL, NULL, &st), NDP_ESHAPE);
  assert_non_null(strstr(st.msg, "x1"));
  assert_int_equal(ndp_apply(1, xs, &I, 1, &t, &Y, NULL, NULL, &st), NDP_ESHAPE);
  int64_t sh[2] = {2, 4};
  ndp_array_init(&X2, x, NDP_FLOAT64, 2, sh);
  const ndp_array *x2[1] = {&X2};
  assert_int_equal(ndp_apply(1, x2, &I, 1, &t, &O, NULL, NULL, &st), NDP_ESHAPE);
  assert_int_equal(ndp_apply(1, xs, &B, 1, &t, &O, NULL, NULL, &st), NDP_ETYPE);
  vec(&S, y, NDP_FLOAT64, 8); /* a float index */
  assert_int_equal(ndp_apply(1, xs, &S, 1, &t, &O, NULL, NULL, &st), NDP_ETYPE);
  ndp_array SW = X;
  SW.flags = NDP_ARRAY_BYTESWAPPED;
  const ndp_array *sw[1] = {&SW};
  assert_int_equal(ndp_apply(1, sw, &I, 1, &t, &O, NULL, NULL, &st), NDP_ETYPE);
  /* out overlapping an input */
  assert_int_equal(ndp_apply(1, xs, &I, 1, &t, &X, NULL, NULL, &st), NDP_EINVAL);
  ndp_array OV;
  vec(&OV, (char *)ix + 8, NDP_FLOAT64, 8);
  assert_int_equal(ndp_apply(1, xs, &I, 1, &t, &OV, NULL, NULL, &st), NDP_EINVAL);
  /* bad entries */
  ndp_apply_entry bad[3] = {t, {NDP_ENTRY_EXPR, NULL, NULL, NULL, 0}, t};
  assert_int_equal(ndp_apply(1, xs, &I, 3, bad, &O, NULL, NULL, &st), NDP_EINVAL);
  assert_non_null(strstr(st.msg, "table[1]"));
  bad[1] = (ndp_apply_entry){NDP_ENTRY_FN, NULL, NULL, NULL, 0};
  assert_int_equal(ndp_apply(1, xs, &I, 3, bad, &O, NULL, NULL, &st), NDP_EINVAL);
  bad[1] = (ndp_apply_entry){(ndp_entry_kind)9, e, fn_affine, NULL, 0};
  assert_int_equal(ndp_apply(1, xs, &I, 3, bad, &O, NULL, NULL, &st), NDP_EINVAL);
  /* an expression for one input given two */
  const ndp_array *xx[2] = {&X, &X};
  assert_int_equal(ndp_apply(2, xx, &I, 1, &t, &O, NULL, NULL, &st), NDP_EINVAL);
  /* compile */
  ndp_expr *c = NULL;
  ndp_dtype two[2] = {NDP_FLOAT64, NDP_INT16};
  assert_int_equal(ndp_apply_compile("x + 1", 2, two, &c, &st), NDP_ENAME);
  assert_null(c);
  assert_int_equal(ndp_apply_compile("x0 + x1", 0, two, &c, &st), NDP_EINVAL);
  assert_int_equal(ndp_apply_compile("x0 + x1", 65, two, &c, &st), NDP_EINVAL);
  assert_int_equal(ndp_apply_compile(NULL, 1, two, &c, &st), NDP_EINVAL);
  ndp_dtype badt = NDP_NTYPES;
  assert_int_equal(ndp_apply_compile("x", 1, &badt, &c, &st), NDP_EINVAL);
  assert_int_equal(ndp_apply_compile("x0 * x1", 2, two, &c, &st), 0);
  assert_int_equal(ndp_expr_dtype(c), NDP_FLOAT64);
  ndp_expr_free(c);
  ndp_expr_free(e);
}

int main(void) {
  pthread_mutex_init(&glog.mu, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic),           cmocka_unit_test(test_k1_and_kN),
      cmocka_unit_test(test_empty_and_shared), cmocka_unit_test(test_multi_arg),
      cmocka_unit_test(test_index_dtypes),    cmocka_unit_test(test_strided),
      cmocka_unit_test(test_mixed_fn),        cmocka_unit_test(test_whole_group),
      cmocka_unit_test(test_default),         cmocka_unit_test(test_bad_index),
      cmocka_unit_test(test_fn_failure),      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_threads_invariance), cmocka_unit_test(test_large_k),
      cmocka_unit_test(test_streamed_output), cmocka_unit_test(test_cancel_and_empty),
      cmocka_unit_test(test_oom),
      cmocka_unit_test(test_bad_args),
      cmocka_unit_test(test_expr_bytes),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  ndp_shutdown();
  return rc;
}
