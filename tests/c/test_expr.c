/*
 * tests/c/test_expr.c - compiled expressions through the C API, against
 * plain C reference loops (operators) and ndp_ufunc (every function of
 * the op table, which has its own reference tests): all dtypes, division
 * and modulo by zero, integer powers, NEP 50 weak scalars, broadcasting,
 * temporaries and CSE, where, bitwise operators, reductions (whole and per
 * axis, bitwise equal for 1, 2 and 3 threads), layouts (strided,
 * byte-swapped, cast output), errors with positions, pathological inputs
 * and allocation failures; and the [robust] cases: free names and user
 * names over constants, NEP 50 against the loop dtype, empty arrays,
 * signed zeros in min/max, booleans whose bytes are not 0/1.
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

#define N 1003 /* not a multiple of anything */

static ndp_status st;

static ndp_expr *compile_ok(const char *src, int nv, const ndp_var *vars) {
  ndp_expr *e = NULL;
  int rc = ndp_expr_compile(src, nv, vars, &e, &st);
  if (rc) fprintf(stderr, "compile '%s': %s (pos %ld)\n", src, st.msg, st.pos);
  assert_int_equal(rc, 0);
  return e;
}

static int compile_err(const char *src, int nv, const ndp_var *vars, long *pos) {
  ndp_expr *e = NULL;
  int rc = ndp_expr_compile(src, nv, vars, &e, &st);
  assert_null(e);
  assert_true(rc < 0);
  assert_true(strlen(st.msg) > 0);
  if (pos) *pos = st.pos;
  return rc;
}

static void vec(ndp_array *a, void *data, ndp_dtype dt, int64_t n) {
  assert_int_equal(ndp_array_init(a, data, dt, 1, &n), 0);
}

/* Evaluates e over vars into out (1 thread unless nthreads). */
static int eval_t(const ndp_expr *e, const ndp_array *const *vars, ndp_array *out, int nthreads) {
  ndp_exec ex = {0};
  ex.nthreads = nthreads;
  return ndp_expr_eval(e, vars, out, NDP_CASTING_SAME_KIND, &ex, &st);
}

static void fill(double *x, int n, unsigned seed, double lo, double hi) {
  srand(seed);
  for (int i = 0; i < n; i++) x[i] = lo + (hi - lo) * rand() / (double)RAND_MAX;
}

/* ---- operators on float64 against C ---------------------------------------- */

static void test_arith_f64(void **state) {
  (void)state;
  static double a[N], b[N], o[N];
  fill(a, N, 1, -10, 10);
  fill(b, N, 2, -3, 3);
  b[5] = 0;
  a[6] = 0;
  b[6] = 0;
  ndp_var v[2] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_FLOAT64, NDP_VAR_ARRAY}};
  ndp_array A, B, O;
  vec(&A, a, NDP_FLOAT64, N);
  vec(&B, b, NDP_FLOAT64, N);
  vec(&O, o, NDP_FLOAT64, N);
  const ndp_array *in[2] = {&A, &B};
  const char *src[] = {"a + b", "a - b", "a * b", "a / b", "-a", "a*2 + b", "+a - -b",
                       "((.25*a + .75)*a - 1.5)*a - 2", "a ** 2", "2 ** -1 * a"};
  for (int k = 0; k < 10; k++) {
    ndp_expr *e = compile_ok(src[k], 2, v);
    assert_int_equal(ndp_expr_dtype(e), NDP_FLOAT64);
    assert_int_equal(eval_t(e, in, &O, 2), 0);
    for (int i = 0; i < N; i++) {
      double x = a[i], y = b[i], r;
      switch (k) {
      case 0: r = x + y; break;
      case 1: r = x - y; break;
      case 2: r = x * y; break;
      case 3: r = x / y; break;
      case 4: r = -x; break;
      case 5: r = x * 2 + y; break;
      case 6: r = x + y; break;
      case 7: r = ((.25 * x + .75) * x - 1.5) * x - 2; break;
      case 8: r = x * x; break;
      default: r = 0.5 * x; break;
      }
      if (isnan(r)) assert_true(isnan(o[i]));
      else if (o[i] != r) fail_msg("'%s' at %d: %.17g vs %.17g", src[k], i, o[i], r);
    }
    ndp_expr_free(e);
  }
}

/* Floor division and modulo follow Python (sign of the divisor). */
static void test_floordiv_mod(void **state) {
  (void)state;
  double a[4] = {7, -7, 7, -7}, b[4] = {2, 2, -2, -2}, o[4];
  int32_t ia[6] = {7, -7, 7, -7, 5, INT32_MIN}, ib[6] = {2, 2, -2, -2, 0, -1}, io[6];
  ndp_var v[2] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_FLOAT64, NDP_VAR_ARRAY}};
  ndp_var vi[2] = {{"a", NDP_INT32, NDP_VAR_ARRAY}, {"b", NDP_INT32, NDP_VAR_ARRAY}};
  ndp_array A, B, O, IA, IB, IO;
  vec(&A, a, NDP_FLOAT64, 4);
  vec(&B, b, NDP_FLOAT64, 4);
  vec(&O, o, NDP_FLOAT64, 4);
  vec(&IA, ia, NDP_INT32, 6);
  vec(&IB, ib, NDP_INT32, 6);
  vec(&IO, io, NDP_INT32, 6);
  const ndp_array *in[2] = {&A, &B}, *iin[2] = {&IA, &IB};
  ndp_expr *e = compile_ok("a // b", 2, v);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  double fd[4] = {3, -4, -4, 3};
  for (int i = 0; i < 4; i++) assert_true(o[i] == fd[i]);
  ndp_expr_free(e);
  e = compile_ok("a % b", 2, v);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  double fm[4] = {1, 1, -1, -1};
  for (int i = 0; i < 4; i++) assert_true(o[i] == fm[i]);
  ndp_expr_free(e);
  e = compile_ok("a // b", 2, vi);
  assert_int_equal(ndp_expr_dtype(e), NDP_INT32);
  assert_int_equal(eval_t(e, iin, &IO, 1), 0);
  int32_t id[6] = {3, -4, -4, 3, 0, INT32_MIN}; /* NumPy: x // 0 == 0 */
  for (int i = 0; i < 6; i++) assert_int_equal(io[i], id[i]);
  ndp_expr_free(e);
  e = compile_ok("a % b", 2, vi);
  assert_int_equal(eval_t(e, iin, &IO, 1), 0);
  int32_t im[6] = {1, 1, -1, -1, 0, 0};
  for (int i = 0; i < 6; i++) assert_int_equal(io[i], im[i]);
  ndp_expr_free(e);
  /* float division by zero: inf / nan, no error */
  e = compile_ok("a / 0", 2, v);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  assert_true(isinf(o[0]) && o[0] > 0 && isinf(o[1]) && o[1] < 0);
  ndp_expr_free(e);
  /* integer true division runs in float64 */
  e = compile_ok("a / b", 2, vi);
  assert_int_equal(ndp_expr_dtype(e), NDP_FLOAT64);
  ndp_expr_free(e);
  /* a block register reused for another dtype (found by the fuzzer) */
  e = compile_ok("a % 0 / a", 2, vi);
  double q[6];
  ndp_array Q;
  vec(&Q, q, NDP_FLOAT64, 6);
  assert_int_equal(eval_t(e, iin, &Q, 1), 0);
  for (int i = 0; i < 6; i++) assert_true(q[i] == 0.0);
  ndp_expr_free(e);
}

static void test_int_power(void **state) {
  (void)state;
  int64_t a[5] = {0, 1, 2, 3, -3}, o[5];
  ndp_var v[1] = {{"a", NDP_INT64, NDP_VAR_ARRAY}};
  ndp_array A, O;
  vec(&A, a, NDP_INT64, 5);
  vec(&O, o, NDP_INT64, 5);
  const ndp_array *in[1] = {&A};
  ndp_expr *e = compile_ok("a ** 3 + a ** 0", 1, v);
  assert_int_equal(ndp_expr_dtype(e), NDP_INT64);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  for (int i = 0; i < 5; i++) assert_int_equal(o[i], a[i] * a[i] * a[i] + 1);
  ndp_expr_free(e);
  e = compile_ok("a ** -1", 1, v);
  assert_int_equal(eval_t(e, in, &O, 1), NDP_EDOMAIN);
  ndp_expr_free(e);
  e = compile_ok("-2**2 + a*0", 1, v); /* ** binds tighter than unary minus */
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  assert_int_equal(o[0], -4);
  ndp_expr_free(e);
  e = compile_ok("2**3**2 + a*0", 1, v); /* right-associative */
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  assert_int_equal(o[0], 512);
  ndp_expr_free(e);
}

/* ---- every function and operator by dtype, against ndp_ufunc ------------------ */

static void fill_dt(void *p, ndp_dtype dt, int n, unsigned seed, int positive) {
  srand(seed);
  for (int i = 0; i < n; i++) {
    double x = positive ? 0.1 + 0.8 * (double)rand() / (double)RAND_MAX
                        : -50 + 100.0 * rand() / (double)RAND_MAX;
    if (!positive && i % 17 == 3) x = 0;
    switch (dt) {
    case NDP_INT32: ((int32_t *)p)[i] = (int32_t)x; break;
    case NDP_INT64: ((int64_t *)p)[i] = (int64_t)x; break;
    case NDP_FLOAT32: ((float *)p)[i] = (float)x; break;
    default: ((double *)p)[i] = x; break;
    }
  }
}

static void check_op_dtype(int op, ndp_dtype dt) {
  static double a[N], b[N], o1[N], o2[N];
  const char *name = ndp_op_name(op);
  int nin = ndp_op_nin(op);
  int positive = op == NDP_OP_POWER || (op >= NDP_OP_ARCSIN && op <= NDP_OP_ARCCOS) ||
                 op == NDP_OP_ARCTANH;
  fill_dt(a, dt, N, 3, positive);
  fill_dt(b, dt, N, 4, positive);
  if (op == NDP_OP_POWER && dt != NDP_FLOAT32 && dt != NDP_FLOAT64)
    for (int i = 0; i < N; i++) {
      if (dt == NDP_INT32) ((int32_t *)b)[i] = i % 4;
      else ((int64_t *)b)[i] = i % 4;
    }
  ndp_var v[2] = {{"x", dt, NDP_VAR_ARRAY}, {"y", dt, NDP_VAR_ARRAY}};
  char src[64];
  snprintf(src, sizeof src, nin == 1 ? "%s(x)" : "%s(x, y)", name);
  ndp_dtype ldt, odt;
  if (ndp_op_resolve(op, (ndp_dtype[]){dt, dt}, NDP_NTYPES, NDP_CASTING_SAFE, &ldt, &odt, &st)) {
    long pos;
    compile_err(src, 2, v, &pos); /* e.g. negative of bool: not here */
    return;
  }
  ndp_expr *e = compile_ok(src, 2, v);
  assert_int_equal(ndp_expr_dtype(e), odt);
  ndp_array X, Y, O1, O2;
  vec(&X, a, dt, N);
  vec(&Y, b, dt, N);
  vec(&O1, o1, odt, N);
  vec(&O2, o2, odt, N);
  const ndp_array *in[2] = {&X, &Y};
  int rc1 = eval_t(e, in, &O1, 2);
  int rc2 = ndp_ufunc(op, in, &O2, NDP_NTYPES, NDP_CASTING_SAME_KIND, NULL, &st);
  assert_int_equal(rc1, rc2);
  if (!rc1) assert_memory_equal(o1, o2, N * ndp_dtype_size(odt));
  ndp_expr_free(e);
}

static void test_every_function(void **state) {
  (void)state;
  const ndp_dtype dts[4] = {NDP_INT32, NDP_INT64, NDP_FLOAT32, NDP_FLOAT64};
  for (int op = 0; op < NDP_NOPS; op++)
    for (int k = 0; k < 4; k++) check_op_dtype(op, dts[k]);
}

/* Operators map to the same loops as the functions. */
static void test_operators_by_dtype(void **state) {
  (void)state;
  static const struct {
    const char *src;
    int op;
  } t[] = {{"x + y", NDP_OP_ADD},         {"x - y", NDP_OP_SUBTRACT},
           {"x * y", NDP_OP_MULTIPLY},    {"x / y", NDP_OP_DIVIDE},
           {"x // y", NDP_OP_FLOOR_DIVIDE}, {"x % y", NDP_OP_REMAINDER},
           {"x == y", NDP_OP_EQUAL},      {"x != y", NDP_OP_NOT_EQUAL},
           {"x < y", NDP_OP_LESS},        {"x <= y", NDP_OP_LESS_EQUAL},
           {"x > y", NDP_OP_GREATER},     {"x >= y", NDP_OP_GREATER_EQUAL}};
  const ndp_dtype dts[4] = {NDP_INT32, NDP_INT64, NDP_FLOAT32, NDP_FLOAT64};
  static double a[N], b[N], o1[N], o2[N];
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    for (int k = 0; k < 4; k++) {
      ndp_dtype dt = dts[k], ldt, odt;
      fill_dt(a, dt, N, 5, 0);
      fill_dt(b, dt, N, 6, 0);
      ndp_var v[2] = {{"x", dt, NDP_VAR_ARRAY}, {"y", dt, NDP_VAR_ARRAY}};
      assert_int_equal(ndp_op_resolve(t[i].op, (ndp_dtype[]){dt, dt}, NDP_NTYPES,
                                      NDP_CASTING_SAFE, &ldt, &odt, &st), 0);
      ndp_expr *e = compile_ok(t[i].src, 2, v);
      assert_int_equal(ndp_expr_dtype(e), odt);
      ndp_array X, Y, O1, O2;
      vec(&X, a, dt, N);
      vec(&Y, b, dt, N);
      vec(&O1, o1, odt, N);
      vec(&O2, o2, odt, N);
      const ndp_array *in[2] = {&X, &Y};
      assert_int_equal(eval_t(e, in, &O1, 1), 0);
      assert_int_equal(ndp_ufunc(t[i].op, in, &O2, NDP_NTYPES, NDP_CASTING_SAME_KIND, NULL, &st), 0);
      assert_memory_equal(o1, o2, N * ndp_dtype_size(odt));
      ndp_expr_free(e);
    }
}

/* ---- typing ------------------------------------------------------------------- */

static ndp_dtype type_of(const char *src, ndp_dtype adt, ndp_var_kind skind) {
  ndp_var v[3] = {{"a", adt, NDP_VAR_ARRAY}, {"b", NDP_FLOAT32, NDP_VAR_ARRAY},
                  {"s", NDP_FLOAT64, skind}};
  ndp_expr *e = compile_ok(src, 3, v);
  ndp_dtype dt = ndp_expr_dtype(e);
  ndp_expr_free(e);
  return dt;
}

static void test_weak_scalars(void **state) {
  (void)state;
  assert_int_equal(type_of("a * 2.5", NDP_FLOAT32, NDP_VAR_WEAK_FLOAT), NDP_FLOAT32);
  assert_int_equal(type_of("a + 1", NDP_INT8, NDP_VAR_WEAK_FLOAT), NDP_INT8);
  assert_int_equal(type_of("a + 1.5", NDP_INT32, NDP_VAR_WEAK_FLOAT), NDP_FLOAT64);
  assert_int_equal(type_of("a / 2", NDP_INT32, NDP_VAR_WEAK_FLOAT), NDP_FLOAT64);
  assert_int_equal(type_of("a + 1", NDP_BOOL, NDP_VAR_WEAK_FLOAT), NDP_INT64);
  assert_int_equal(type_of("a + s", NDP_FLOAT32, NDP_VAR_WEAK_FLOAT), NDP_FLOAT32);
  assert_int_equal(type_of("a + s", NDP_INT16, NDP_VAR_WEAK_INT), NDP_INT16);
  assert_int_equal(type_of("a + s", NDP_INT16, NDP_VAR_WEAK_FLOAT), NDP_FLOAT64);
  assert_int_equal(type_of("a + (1 + 2)", NDP_FLOAT32, NDP_VAR_WEAK_FLOAT), NDP_FLOAT32);
  assert_int_equal(type_of("a + exp(1)", NDP_FLOAT32, NDP_VAR_WEAK_FLOAT), NDP_FLOAT64);
  assert_int_equal(type_of("a + b", NDP_INT16, NDP_VAR_WEAK_FLOAT), NDP_FLOAT32);
  assert_int_equal(type_of("a + b", NDP_INT32, NDP_VAR_WEAK_FLOAT), NDP_FLOAT64);
  assert_int_equal(type_of("a > 0.5", NDP_INT32, NDP_VAR_WEAK_FLOAT), NDP_BOOL);
  assert_int_equal(type_of("sqrt(a)", NDP_INT16, NDP_VAR_WEAK_FLOAT), NDP_FLOAT32);
  assert_int_equal(type_of("where(a > 0, a, 0.5)", NDP_FLOAT32, NDP_VAR_WEAK_FLOAT), NDP_FLOAT32);
  assert_int_equal(type_of("where(a > 0, a, 1)", NDP_UINT8, NDP_VAR_WEAK_FLOAT), NDP_UINT8);
  assert_int_equal(type_of("1 + 2", NDP_UINT8, NDP_VAR_WEAK_FLOAT), NDP_INT64);
  assert_int_equal(type_of("1 / 2", NDP_UINT8, NDP_VAR_WEAK_FLOAT), NDP_FLOAT64);
  assert_int_equal(type_of("pi * a", NDP_FLOAT32, NDP_VAR_WEAK_FLOAT), NDP_FLOAT32);
  assert_int_equal(type_of("True & a", NDP_INT8, NDP_VAR_WEAK_FLOAT), NDP_INT8);
  assert_int_equal(type_of("sum(a)", NDP_INT8, NDP_VAR_WEAK_FLOAT), NDP_INT64);
  assert_int_equal(type_of("sum(a)", NDP_UINT16, NDP_VAR_WEAK_FLOAT), NDP_UINT64);
  assert_int_equal(type_of("sum(a)", NDP_FLOAT32, NDP_VAR_WEAK_FLOAT), NDP_FLOAT32);
  assert_int_equal(type_of("mean(a)", NDP_INT32, NDP_VAR_WEAK_FLOAT), NDP_FLOAT64);
  assert_int_equal(type_of("max(a)", NDP_INT16, NDP_VAR_WEAK_FLOAT), NDP_INT16);
  assert_int_equal(type_of("any(a)", NDP_FLOAT64, NDP_VAR_WEAK_FLOAT), NDP_BOOL);
  assert_int_equal(type_of("a + 127", NDP_INT8, NDP_VAR_WEAK_FLOAT), NDP_INT8);
  assert_int_equal(type_of("a + -128", NDP_INT8, NDP_VAR_WEAK_FLOAT), NDP_INT8);
  /* a Python int that does not fit: NumPy's OverflowError */
  ndp_var v[1] = {{"a", NDP_INT8, NDP_VAR_ARRAY}};
  long pos;
  assert_int_equal(compile_err("a + 1000", 1, v, &pos), NDP_EOVERFLOW);
  assert_int_equal(pos, 2);
  assert_non_null(strstr(st.msg, "1000"));
  ndp_var u[1] = {{"a", NDP_UINT8, NDP_VAR_ARRAY}};
  assert_int_equal(compile_err("a & -1", 1, u, &pos), NDP_EOVERFLOW);
}

static void test_weak_values(void **state) {
  (void)state;
  float a[4] = {1, 2, 3, 4}, o[4];
  double s = 0.1;
  ndp_var v[2] = {{"a", NDP_FLOAT32, NDP_VAR_ARRAY}, {"s", NDP_FLOAT64, NDP_VAR_WEAK_FLOAT}};
  ndp_array A, S, O;
  vec(&A, a, NDP_FLOAT32, 4);
  assert_int_equal(ndp_array_init(&S, &s, NDP_FLOAT64, 0, NULL), 0);
  vec(&O, o, NDP_FLOAT32, 4);
  const ndp_array *in[2] = {&A, &S};
  ndp_expr *e = compile_ok("a * s + 0.1", 2, v);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  for (int i = 0; i < 4; i++) assert_true(o[i] == a[i] * 0.1f + 0.1f);
  ndp_expr_free(e);
}

/* ---- broadcasting, temporaries, CSE, where -------------------------------------- */

static void test_broadcast_2d(void **state) {
  (void)state;
  double a[3][4], b[4], c[3], o[3][4];
  for (int i = 0; i < 3; i++) {
    c[i] = i * 10;
    for (int j = 0; j < 4; j++) a[i][j] = i * 4 + j;
  }
  for (int j = 0; j < 4; j++) b[j] = j * 0.5;
  ndp_var v[3] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_FLOAT64, NDP_VAR_ARRAY},
                  {"c", NDP_FLOAT64, NDP_VAR_ARRAY}};
  ndp_array A, B, C, O;
  int64_t s2[2] = {3, 4}, s1[1] = {4}, sc[2] = {3, 1};
  ndp_array_init(&A, a, NDP_FLOAT64, 2, s2);
  ndp_array_init(&B, b, NDP_FLOAT64, 1, s1);
  ndp_array_init(&C, c, NDP_FLOAT64, 2, sc);
  ndp_array_init(&O, o, NDP_FLOAT64, 2, s2);
  const ndp_array *in[3] = {&A, &B, &C};
  ndp_expr *e = compile_ok("a * b - c", 3, v);
  int nd;
  int64_t shape[NDP_MAXDIMS];
  assert_int_equal(ndp_expr_shape(e, in, &nd, shape, &st), 0);
  assert_int_equal(nd, 2);
  assert_int_equal(shape[0], 3);
  assert_int_equal(shape[1], 4);
  assert_int_equal(eval_t(e, in, &O, 2), 0);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) assert_true(o[i][j] == a[i][j] * b[j] - c[i]);
  ndp_expr_free(e);
  /* b + c alone broadcasts (4,) with (3,1) */
  e = compile_ok("b + c", 3, v);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) assert_true(o[i][j] == b[j] + c[i]);
  /* mismatch */
  int64_t s3[1] = {5};
  ndp_array_init(&B, b, NDP_FLOAT64, 1, s3);
  ndp_expr_free(e);
  e = compile_ok("a + b", 3, v);
  assert_int_equal(ndp_expr_shape(e, in, &nd, shape, &st), NDP_ESHAPE);
  assert_non_null(strstr(st.msg, "'b'"));
  assert_int_equal(eval_t(e, in, &O, 1), NDP_ESHAPE);
  ndp_expr_free(e);
}

static void test_program_where(void **state) {
  (void)state;
  static double a[N], b[N], o[N];
  fill(a, N, 7, -1, 2);
  fill(b, N, 8, 0, 1);
  ndp_var v[2] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_FLOAT64, NDP_VAR_ARRAY}};
  ndp_array A, B, O;
  vec(&A, a, NDP_FLOAT64, N);
  vec(&B, b, NDP_FLOAT64, N);
  vec(&O, o, NDP_FLOAT64, N);
  const ndp_array *in[2] = {&A, &B};
  ndp_expr *e = compile_ok("t = a * 2; u = where(t > 1, exp(t), log1p(t)); u - b", 2, v);
  assert_int_equal(eval_t(e, in, &O, 2), 0);
  for (int i = 0; i < N; i++) {
    double t = a[i] * 2, u = t > 1 ? exp(t) : log1p(t), r = u - b[i];
    if (isnan(r)) assert_true(isnan(o[i]));
    else if (!(fabs(o[i] - r) <= 1e-15 * (fabs(u) + fabs(b[i]))))
      fail_msg("at %d: %.17g vs %.17g (a %.17g)", i, o[i], r, a[i]);
  }
  ndp_expr_free(e);
  /* newlines separate statements; temporaries shadow variables */
  e = compile_ok("b = a + 1\n# a comment\nb * (2 +\n 1)\n", 2, v);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  for (int i = 0; i < N; i++) assert_true(o[i] == (a[i] + 1) * 3);
  ndp_expr_free(e);
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void test_cse(void **state) {
  (void)state;
  ndp_var v[2] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_FLOAT64, NDP_VAR_ARRAY}};
  char buf[4096];
  ndp_expr *e = compile_ok("exp(a * b) + exp(a * b) * sin(exp(a*b))", 2, v);
  size_t len = ndp_expr_explain(e, buf, sizeof buf);
  assert_true(len > 0 && len < sizeof buf);
  assert_int_equal(count(buf, "exp."), 1);
  assert_int_equal(count(buf, "multiply."), 2); /* a*b once, then the product */
  ndp_expr_free(e);
  e = compile_ok("t = exp(a); u = exp(a) + 1; t * u", 2, v);
  ndp_expr_explain(e, buf, sizeof buf);
  assert_int_equal(count(buf, "exp."), 1);
  /* a short buffer is NUL-terminated and the needed length returned */
  char small[8];
  assert_int_equal(ndp_expr_explain(e, small, sizeof small), strlen(buf));
  assert_int_equal(strlen(small), 7);
  ndp_expr_free(e);
}

static void test_where_types(void **state) {
  (void)state;
  int32_t a[6] = {-2, -1, 0, 1, 2, 3}, o[6];
  float f[6] = {1, 2, 3, 4, 5, 6}, fo[6];
  ndp_var v[2] = {{"a", NDP_INT32, NDP_VAR_ARRAY}, {"f", NDP_FLOAT32, NDP_VAR_ARRAY}};
  ndp_array A, F, O, FO;
  vec(&A, a, NDP_INT32, 6);
  vec(&F, f, NDP_FLOAT32, 6);
  vec(&O, o, NDP_INT32, 6);
  vec(&FO, fo, NDP_FLOAT32, 6);
  const ndp_array *in[2] = {&A, &F};
  ndp_expr *e = compile_ok("where(a, a * 10, -1)", 2, v); /* int condition */
  assert_int_equal(ndp_expr_dtype(e), NDP_INT32);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  for (int i = 0; i < 6; i++) assert_int_equal(o[i], a[i] ? a[i] * 10 : -1);
  ndp_expr_free(e);
  e = compile_ok("where(f > 3, f, 0.5)", 2, v);
  assert_int_equal(ndp_expr_dtype(e), NDP_FLOAT32);
  assert_int_equal(eval_t(e, in, &FO, 1), 0);
  for (int i = 0; i < 6; i++) assert_true(fo[i] == (f[i] > 3 ? f[i] : 0.5f));
  ndp_expr_free(e);
}

/* where with costly branches computes each on its own lanes: condition in
 * long runs (packed by runs), random (packed by index), all one way, and
 * with one plain branch. */
static void test_where_lanes(void **state) {
  (void)state;
  enum { M = 20011 };
  static double a[M], b[M], o[M];
  ndp_var v[2] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_FLOAT64, NDP_VAR_ARRAY}};
  ndp_array A, B, O;
  vec(&A, a, NDP_FLOAT64, M);
  vec(&B, b, NDP_FLOAT64, M);
  vec(&O, o, NDP_FLOAT64, M);
  const ndp_array *in[2] = {&A, &B};
  const char *src[3] = {"where(a > 0.5, exp(a), log1p(b))", "where(a > 0.5, a, sin(b) ** b)",
                        "where(a < 2, arctan2(a, b), exp(b))"};
  char buf[1024];
  for (int pat = 0; pat < 3; pat++) {
    fill(b, M, 13, 0, 1);
    if (pat == 0) for (int i = 0; i < M; i++) a[i] = (i % 1000) / 1000.0;
    else fill(a, M, (unsigned)(14 + pat), 0, 1);
    for (int k = 0; k < 3; k++) {
      ndp_expr *e = compile_ok(src[k], 2, v);
      ndp_expr_explain(e, buf, sizeof buf);
      assert_non_null(strstr(buf, "on its lanes"));
      assert_int_equal(eval_t(e, in, &O, 2), 0);
      for (int i = 0; i < M; i++) {
        double r = k == 0 ? (a[i] > 0.5 ? exp(a[i]) : log1p(b[i]))
                   : k == 1 ? (a[i] > 0.5 ? a[i] : pow(sin(b[i]), b[i]))
                            : (a[i] < 2 ? atan2(a[i], b[i]) : exp(b[i]));
        if (!(fabs(o[i] - r) <= 1e-15 * fabs(r) + 1e-300))
          fail_msg("'%s' pattern %d at %d: %.17g vs %.17g", src[k], pat, i, o[i], r);
      }
      ndp_expr_free(e);
    }
  }
}

static void test_bitwise(void **state) {
  (void)state;
  int64_t x[5] = {0, 1, 6, -1, 12345}, y[5] = {3, 3, 5, 7, -2}, o[5];
  double f[5] = {-1, 0, 1, 2, 3};
  uint8_t bo[5];
  ndp_var v[3] = {{"x", NDP_INT64, NDP_VAR_ARRAY}, {"y", NDP_INT64, NDP_VAR_ARRAY},
                  {"f", NDP_FLOAT64, NDP_VAR_ARRAY}};
  ndp_array X, Y, F, O, BO;
  vec(&X, x, NDP_INT64, 5);
  vec(&Y, y, NDP_INT64, 5);
  vec(&F, f, NDP_FLOAT64, 5);
  vec(&O, o, NDP_INT64, 5);
  vec(&BO, bo, NDP_BOOL, 5);
  const ndp_array *in[3] = {&X, &Y, &F};
  const char *src[4] = {"x & y", "x | y", "x ^ y", "~x"};
  for (int k = 0; k < 4; k++) {
    ndp_expr *e = compile_ok(src[k], 3, v);
    assert_int_equal(eval_t(e, in, &O, 1), 0);
    for (int i = 0; i < 5; i++) {
      int64_t r = k == 0 ? x[i] & y[i] : k == 1 ? x[i] | y[i] : k == 2 ? x[i] ^ y[i] : ~x[i];
      assert_int_equal(o[i], r);
    }
    ndp_expr_free(e);
  }
  ndp_expr *e = compile_ok("(f > 0) & ~(f > 2) | (x == 0) ^ False", 3, v);
  assert_int_equal(ndp_expr_dtype(e), NDP_BOOL);
  assert_int_equal(eval_t(e, in, &BO, 1), 0);
  for (int i = 0; i < 5; i++) assert_int_equal(bo[i], ((f[i] > 0) && !(f[i] > 2)) || x[i] == 0);
  ndp_expr_free(e);
  long pos;
  assert_int_equal(compile_err("x + ~f", 3, v, &pos), NDP_ETYPE);
  assert_int_equal(pos, 4);
  assert_non_null(strstr(st.msg, "~"));
  assert_int_equal(compile_err("x & 1.5", 3, v, &pos), NDP_ETYPE);
  assert_int_equal(pos, 2);
}

/* ---- reductions ----------------------------------------------------------------- */

static void red_ref(int red, const double *x, int64_t n, int64_t stride, double *r) {
  double s = red == 2 ? 1 : red == 3 ? INFINITY : red == 4 ? -INFINITY : 0;
  for (int64_t i = 0; i < n; i++) {
    double v = x[i * stride];
    switch (red) {
    case 2: s *= v; break;
    case 3: s = v < s ? v : s; break;
    case 4: s = v > s ? v : s; break;
    default: s += v; break;
    }
  }
  *r = red == 5 ? s / (double)n : s;
}

static void test_reductions(void **state) {
  (void)state;
  enum { R = 37, C = 5000 };
  static double a[R * C], b[R * C], prod_in[R * C], o[C];
  fill(a, R * C, 9, -1, 1);
  fill(b, R * C, 10, 0.5, 1.5);
  for (int i = 0; i < R * C; i++) prod_in[i] = 1.0 + a[i] * 1e-3;
  ndp_var v[2] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_FLOAT64, NDP_VAR_ARRAY}};
  ndp_array A, B, P, O;
  int64_t sh[2] = {R, C};
  ndp_array_init(&A, a, NDP_FLOAT64, 2, sh);
  ndp_array_init(&B, b, NDP_FLOAT64, 2, sh);
  ndp_array_init(&P, prod_in, NDP_FLOAT64, 2, sh);
  const char *names[6] = {"", "sum", "prod", "min", "max", "mean"};
  for (int red = 1; red <= 5; red++) {
    const ndp_array *in[2] = {red == 2 ? &P : &A, &B};
    const double *x = red == 2 ? prod_in : a;
    for (int ax = -1; ax < 2; ax++) {
      char src[64];
      if (ax < 0) snprintf(src, sizeof src, "%s(a)", names[red]);
      else snprintf(src, sizeof src, "%s(a, axis=%d)", names[red], ax);
      ndp_expr *e = compile_ok(src, 2, v);
      int64_t nout = ax < 0 ? 1 : ax == 0 ? C : R;
      int64_t osh[1] = {nout};
      ndp_array_init(&O, o, NDP_FLOAT64, ax < 0 ? 0 : 1, osh);
      double prev[C];
      for (int t = 1; t <= 3; t++) {
        assert_int_equal(eval_t(e, in, &O, t), 0);
        if (t > 1) assert_memory_equal(prev, o, sizeof(double) * (size_t)nout);
        memcpy(prev, o, sizeof(double) * (size_t)nout);
      }
      for (int64_t k = 0; k < nout; k++) {
        double r;
        if (ax < 0) red_ref(red, x, (int64_t)R * C, 1, &r);
        else if (ax == 0) red_ref(red, x + k, R, C, &r);
        else red_ref(red, x + k * C, C, 1, &r);
        if (!(fabs(o[k] - r) <= 1e-10 * (fabs(r) + 1)))
          fail_msg("%s at %lld: %.17g vs %.17g", src, (long long)k, o[k], r);
      }
      ndp_expr_free(e);
    }
  }
}

static void test_reduction_threads_large(void **state) {
  (void)state;
  enum { M = 1000003 };
  double *a = malloc(sizeof(double) * M), *b = malloc(sizeof(double) * M);
  float *f = malloc(sizeof(float) * M);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(f);
  fill(a, M, 11, -1, 1);
  fill(b, M, 12, -1, 1);
  for (int i = 0; i < M; i++) f[i] = (float)a[i];
  ndp_var v[3] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_FLOAT64, NDP_VAR_ARRAY},
                  {"f", NDP_FLOAT32, NDP_VAR_ARRAY}};
  ndp_array A, B, F, O;
  vec(&A, a, NDP_FLOAT64, M);
  vec(&B, b, NDP_FLOAT64, M);
  vec(&F, f, NDP_FLOAT32, M);
  const ndp_array *in[3] = {&A, &B, &F};
  const char *src[4] = {"sum(a*b)", "sum(f * 2)", "max(where(a > b, a, b))", "mean(f)"};
  for (int k = 0; k < 4; k++) {
    ndp_expr *e = compile_ok(src[k], 3, v);
    double o[3] = {0, 0, 0};
    for (int t = 1; t <= 3; t++) {
      ndp_array_init(&O, &o[t - 1], ndp_expr_dtype(e), 0, NULL);
      assert_int_equal(eval_t(e, in, &O, t), 0);
    }
    assert_memory_equal(&o[0], &o[1], 8);
    assert_memory_equal(&o[0], &o[2], 8);
    long double ref = 0;
    for (int i = 0; i < M; i++)
      ref += k == 0 ? (long double)a[i] * b[i] : k == 1 ? 2.0L * f[i] : k == 3 ? f[i] : 0;
    if (k == 0) assert_true(fabsl(o[0] - ref) <= 1e-13L * M);
    float f0;
    memcpy(&f0, &o[0], sizeof f0);
    if (k == 1) assert_true(fabsl(f0 - ref) <= 1e-6L * fabsl(ref) + 1e-3L);
    if (k == 3) assert_true(fabsl(f0 - ref / M) <= 1e-6L);
    ndp_expr_free(e);
  }
  free(a);
  free(b);
  free(f);
}

static void test_reduction_kinds(void **state) {
  (void)state;
  int32_t x[6] = {3, -7, 2, 0, 9, 4};
  ndp_var v[1] = {{"x", NDP_INT32, NDP_VAR_ARRAY}};
  ndp_array X, O;
  int64_t sh[2] = {2, 3};
  ndp_array_init(&X, x, NDP_INT32, 2, sh);
  const ndp_array *in[1] = {&X};
  int64_t i64[3];
  uint8_t bl[3];
  int32_t i32[3];
  ndp_expr *e = compile_ok("sum(x, 1)", 1, v);
  vec(&O, i64, NDP_INT64, 2);
  assert_int_equal(eval_t(e, in, &O, 2), 0);
  assert_int_equal(i64[0], -2);
  assert_int_equal(i64[1], 13);
  ndp_expr_free(e);
  e = compile_ok("prod(x, axis=-2)", 1, v);
  vec(&O, i64, NDP_INT64, 3);
  assert_int_equal(eval_t(e, in, &O, 2), 0);
  assert_int_equal(i64[0], 0);
  assert_int_equal(i64[1], -63);
  assert_int_equal(i64[2], 8);
  ndp_expr_free(e);
  e = compile_ok("min(x, axis=0)", 1, v);
  vec(&O, i32, NDP_INT32, 3);
  assert_int_equal(eval_t(e, in, &O, 2), 0);
  assert_int_equal(i32[0], 0);
  assert_int_equal(i32[1], -7);
  assert_int_equal(i32[2], 2);
  ndp_expr_free(e);
  e = compile_ok("any(x > 8, axis=1)", 1, v);
  vec(&O, bl, NDP_BOOL, 2);
  assert_int_equal(eval_t(e, in, &O, 2), 0);
  assert_int_equal(bl[0], 0);
  assert_int_equal(bl[1], 1);
  ndp_expr_free(e);
  e = compile_ok("all(x != 0)", 1, v);
  ndp_array_init(&O, bl, NDP_BOOL, 0, NULL);
  assert_int_equal(eval_t(e, in, &O, 2), 0);
  assert_int_equal(bl[0], 0);
  ndp_expr_free(e);
  /* axis out of range */
  e = compile_ok("sum(x, axis=2)", 1, v);
  int nd;
  int64_t s[NDP_MAXDIMS];
  assert_int_equal(ndp_expr_shape(e, in, &nd, s, &st), NDP_EINVAL);
  ndp_expr_free(e);
  /* empty: identities, min has none */
  int64_t zero = 0;
  ndp_array_init(&X, x, NDP_INT32, 1, &zero);
  e = compile_ok("sum(x)", 1, v);
  ndp_array_init(&O, i64, NDP_INT64, 0, NULL);
  i64[0] = 99;
  assert_int_equal(eval_t(e, in, &O, 2), 0);
  assert_int_equal(i64[0], 0);
  ndp_expr_free(e);
  e = compile_ok("min(x)", 1, v);
  ndp_array_init(&O, i32, NDP_INT32, 0, NULL);
  assert_int_equal(eval_t(e, in, &O, 2), NDP_EINVAL);
  ndp_expr_free(e);
  /* a reduction must be outermost */
  long pos;
  assert_int_equal(compile_err("sum(x) + 1", 1, v, &pos), NDP_ESYNTAX);
  assert_int_equal(pos, 0);
  assert_int_equal(compile_err("sum(x, axis=x)", 1, v, &pos), NDP_ESYNTAX);
}

/* ---- layouts ---------------------------------------------------------------------- */

static void test_layouts(void **state) {
  (void)state;
  double a[20], o[10];
  float fo[10];
  double sw[10];
  for (int i = 0; i < 20; i++) a[i] = i;
  for (int i = 0; i < 10; i++) {
    uint64_t u;
    double d = i * 1.5;
    memcpy(&u, &d, 8);
    u = __builtin_bswap64(u);
    memcpy(&sw[i], &u, 8);
  }
  ndp_var v[2] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"s", NDP_FLOAT64, NDP_VAR_ARRAY}};
  ndp_array A, S, O;
  vec(&A, a, NDP_FLOAT64, 10);
  A.strides[0] = 16; /* every other element */
  vec(&S, sw, NDP_FLOAT64, 10);
  S.flags = NDP_ARRAY_BYTESWAPPED;
  vec(&O, o + 9, NDP_FLOAT64, 10);
  O.strides[0] = -8; /* reversed output */
  const ndp_array *in[2] = {&A, &S};
  ndp_expr *e = compile_ok("a + s", 2, v);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  for (int i = 0; i < 10; i++) assert_true(o[9 - i] == 2 * i + i * 1.5);
  /* result cast to a float32 output (same_kind) and refused under safe */
  vec(&O, fo, NDP_FLOAT32, 10);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  for (int i = 0; i < 10; i++) assert_true(fo[i] == (float)(2 * i + i * 1.5));
  assert_int_equal(ndp_expr_eval(e, in, &O, NDP_CASTING_SAFE, NULL, &st), NDP_ECAST);
  ndp_expr_free(e);
  /* in place: out is input a */
  double c[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  ndp_array C;
  vec(&C, c, NDP_FLOAT64, 8);
  const ndp_array *cin[2] = {&C, &C};
  e = compile_ok("a * a + a", 2, v);
  assert_int_equal(eval_t(e, cin, &C, 1), 0);
  for (int i = 0; i < 8; i++) assert_true(c[i] == (i + 1.0) * (i + 1.0) + i + 1.0);
  ndp_expr_free(e);
  /* wrong dtype at evaluation */
  float fa[10];
  ndp_array FA;
  vec(&FA, fa, NDP_FLOAT32, 10);
  const ndp_array *bad[2] = {&FA, &S};
  e = compile_ok("a + s", 2, v);
  vec(&O, o, NDP_FLOAT64, 10);
  assert_int_equal(eval_t(e, bad, &O, 1), NDP_ETYPE);
  assert_non_null(strstr(st.msg, "'a'"));
  ndp_expr_free(e);
}

/* ---- errors ----------------------------------------------------------------------- */

static void test_errors(void **state) {
  (void)state;
  ndp_var v[2] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_BOOL, NDP_VAR_ARRAY}};
  static const struct {
    const char *src;
    int code;
    long pos;
  } t[] = {{"a +", NDP_ESYNTAX, 3},          {"a + )", NDP_ESYNTAX, 4},
           {"(a + 1", NDP_ESYNTAX, 6},       {"a + foo", NDP_ENAME, 4},
           {"foo(a)", NDP_ENAME, 0},         {"exp(a, a)", NDP_ESYNTAX, 0},
           {"a $ 2", NDP_ESYNTAX, 2},        {"a < a < a", NDP_ESYNTAX, 6},
           {"", NDP_ESYNTAX, 0},             {"1e", NDP_ESYNTAX, 2},
           {"a; a", NDP_ESYNTAX, 0},         {"t = a", NDP_ESYNTAX, 0},
           {"3 = a; a", NDP_ESYNTAX, 2},     {"-b", NDP_ETYPE, 0},
           {"where(a, a)", NDP_ESYNTAX, 0},  {"99999999999999999999 + a", NDP_ESYNTAX, 0},
           {"exp(a, axis=1)", NDP_ESYNTAX, 7}, {"a + t; t = a", NDP_ESYNTAX, 0},
           {"x = 1; a + y", NDP_ENAME, 11},  {"sum(a, keep=1)", NDP_ESYNTAX, 7}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    long pos = -5;
    int rc = compile_err(t[i].src, 2, v, &pos);
    if (rc != t[i].code || pos != t[i].pos)
      fprintf(stderr, "'%s': got %d at %ld (%s)\n", t[i].src, rc, pos, st.msg);
    assert_int_equal(rc, t[i].code);
    assert_int_equal(pos, t[i].pos);
  }
  ndp_expr *e = NULL;
  assert_int_equal(ndp_expr_compile(NULL, 0, NULL, &e, &st), NDP_EINVAL);
  assert_int_equal(ndp_expr_compile("a", 0, NULL, NULL, &st), NDP_EINVAL);
  assert_int_equal(compile_err("a + foo", 2, v, NULL), NDP_ENAME);
  assert_non_null(strstr(st.msg, "foo"));
  ndp_expr_free(NULL);
}

/* ---- pathological ------------------------------------------------------------------ */

static void test_pathological(void **state) {
  (void)state;
  ndp_var v[1] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}};
  enum { D = 100000 };
  char *s = malloc(2 * D + 2);
  assert_non_null(s);
  memset(s, '(', D);
  s[D] = 'a';
  memset(s + D + 1, ')', D);
  s[2 * D + 1] = '\0';
  assert_int_equal(compile_err(s, 1, v, NULL), NDP_EINVAL);
  /* 500 levels: under the limit, compiles */
  memset(s, '(', 500);
  s[500] = 'a';
  memset(s + 501, ')', 500);
  s[1001] = '\0';
  ndp_expr_free(compile_ok(s, 1, v));
  memset(s, '(', D);
  memset(s, '-', D);
  s[D] = 'a';
  s[D + 1] = '\0';
  assert_int_equal(compile_err(s, 1, v, NULL), NDP_EINVAL);
  for (int i = 0; i < D; i += 2) { /* 2**2**...: right-associative nesting */
    s[i] = '2';
    s[i + 1] = '^';
  }
  for (int i = 1; i < D; i += 2) s[i] = '*';
  memmove(s + 1, s, D - 2);
  s[0] = '2';
  s[D - 1] = '\0';
  free(s);
  /* 10,000 operands: evaluated */
  enum { K = 10000 };
  char *sum = malloc(4 * K);
  assert_non_null(sum);
  char *p = sum;
  for (int i = 0; i < K; i++) {
    if (i) *p++ = '+';
    *p++ = 'a';
  }
  *p = '\0';
  ndp_expr *e = compile_ok(sum, 1, v);
  double a[3] = {1, 2, 3}, o[3];
  ndp_array A, O;
  vec(&A, a, NDP_FLOAT64, 3);
  vec(&O, o, NDP_FLOAT64, 3);
  const ndp_array *in[1] = {&A};
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  for (int i = 0; i < 3; i++) assert_true(o[i] == K * a[i]);
  ndp_expr_free(e);
  /* 10,000 distinct operands with constants */
  p = sum;
  for (int i = 0; i < K / 2; i++) p += sprintf(p, i ? "*a+%d" : "a+%d", i % 7);
  e = compile_ok(sum, 1, v);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  ndp_expr_free(e);
  free(sum);
  /* too many nodes */
  enum { BIG = 70000 };
  char *big = malloc(2 * BIG + 2);
  assert_non_null(big);
  p = big;
  for (int i = 0; i < BIG; i++) {
    if (i) *p++ = '+';
    *p++ = 'a';
  }
  *p = '\0';
  assert_int_equal(compile_err(big, 1, v, NULL), NDP_EINVAL);
  free(big);
}

/* ---- one program, many threads ---------------------------------------------------- */

typedef struct job {
  const ndp_expr *e;
  double a[5000], o[5000];
  double sum;
  int rc;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  ndp_array A, O;
  int64_t n = 5000;
  ndp_array_init(&A, j->a, NDP_FLOAT64, 1, &n);
  ndp_array_init(&O, j->o, NDP_FLOAT64, 1, &n);
  const ndp_array *in[1] = {&A};
  ndp_exec ex = {0};
  ex.nthreads = 2;
  ndp_status s;
  for (int r = 0; r < 20 && !j->rc; r++) j->rc = ndp_expr_eval(j->e, in, &O, NDP_CASTING_SAME_KIND, &ex, &s);
  return NULL;
}

static void test_shared_program(void **state) {
  (void)state;
  ndp_var v[1] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}};
  ndp_expr *e = compile_ok("t = a * a; where(t > 0.25, sqrt(t), -t) + 1", 1, v);
  static job jobs[4];
  pthread_t th[4];
  for (int k = 0; k < 4; k++) {
    jobs[k].e = e;
    jobs[k].rc = 0;
    fill(jobs[k].a, 5000, (unsigned)(20 + k), -1, 1);
    assert_int_equal(pthread_create(&th[k], NULL, run_job, &jobs[k]), 0);
  }
  for (int k = 0; k < 4; k++) {
    assert_int_equal(pthread_join(th[k], NULL), 0);
    assert_int_equal(jobs[k].rc, 0);
    for (int i = 0; i < 5000; i++) {
      double t = jobs[k].a[i] * jobs[k].a[i], r = (t > 0.25 ? sqrt(t) : -t) + 1;
      assert_true(jobs[k].o[i] == r);
    }
  }
  ndp_expr_free(e);
}

/* ---- allocation failures --------------------------------------------------------- */

static void test_oom(void **state) {
  (void)state;
  ndp_var v[2] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_FLOAT64, NDP_VAR_ARRAY}};
  const char *srcs[3] = {"t = a * 2; u = where(t > 1, exp(t), log1p(t)); u - b",
                         "sum(a * b, axis=1)", "mean(a + b)"};
  double a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 1, 1, 1, 1, 1}, o[6];
  ndp_array A, B, O;
  int64_t sh[2] = {2, 3};
  ndp_array_init(&A, a, NDP_FLOAT64, 2, sh);
  ndp_array_init(&B, b, NDP_FLOAT64, 2, sh);
  const ndp_array *in[2] = {&A, &B};
  for (int k = 0; k < 3; k++) {
    int ok = 0;
    for (long n = 0; n < 200 && !ok; n++) {
      ndp_expr *e = NULL;
      ndp__fail_alloc_after(n);
      int rc = ndp_expr_compile(srcs[k], 2, v, &e, &st);
      if (rc == 0) {
        int nd;
        int64_t s[NDP_MAXDIMS];
        assert_int_equal(ndp_expr_shape(e, in, &nd, s, &st), 0);
        ndp_array_init(&O, o, ndp_expr_dtype(e), nd, s);
        rc = eval_t(e, in, &O, 1);
        ok = rc == 0;
        ndp_expr_free(e);
      }
      ndp__fail_alloc_after(-1);
      if (!ok) assert_int_equal(rc, NDP_ENOMEM);
    }
    assert_true(ok);
  }
}

/* ---- [robust]: names, NEP 50 in the loop dtype, empties, ±0, bool bytes ----------- */

static void test_names_user_wins(void **state) {
  (void)state;
  ndp_expr_name nm[8];
  int n = -1;
  const char *src = "t = e * exp(x); u = t + pi; e = e; sum(u + nan + e + True + x, axis=0)";
  assert_int_equal(ndp_expr_names(src, nm, 8, &n, &st), 0);
  /* e (first in t), x, pi, nan: the second e is the temporary; exp and
   * sum are calls, axis a keyword, True a literal */
  assert_int_equal(n, 4);
  const char *want[] = {"e", "x", "pi", "nan"};
  const int builtin[] = {1, 0, 1, 1};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(nm[i].len, (int)strlen(want[i]));
    assert_memory_equal(src + nm[i].pos, want[i], strlen(want[i]));
    assert_int_equal(nm[i].builtin, builtin[i]);
  }
  assert_int_equal(ndp_expr_names("a + b + a", nm, 1, &n, &st), 0); /* cap 1: counted anyway */
  assert_int_equal(n, 2);
  assert_int_equal(ndp_expr_names("a = a * 2; a + b", NULL, 0, &n, &st), 0);
  assert_int_equal(n, 2);
  assert_int_equal(ndp_expr_names("a + ) b", nm, 8, &n, &st), NDP_ESYNTAX);
  assert_int_equal(ndp_expr_names(NULL, nm, 8, &n, &st), NDP_EINVAL);
  /* a variable named like a constant or a function is the variable */
  double x[3] = {1, 2, 3}, o[3];
  const char *srcs[] = {"e * 2", "pi * 2", "inf * 2", "nan * 2", "exp * 2", "where * 2",
                        "sum * 2"};
  for (size_t k = 0; k < sizeof srcs / sizeof srcs[0]; k++) {
    char name[8];
    size_t len = strcspn(srcs[k], " ");
    memcpy(name, srcs[k], len);
    name[len] = '\0';
    ndp_var v[1] = {{name, NDP_FLOAT64, NDP_VAR_ARRAY}};
    ndp_array X, O;
    vec(&X, x, NDP_FLOAT64, 3);
    vec(&O, o, NDP_FLOAT64, 3);
    const ndp_array *in[1] = {&X};
    ndp_expr *e = compile_ok(srcs[k], 1, v);
    assert_int_equal(eval_t(e, in, &O, 1), 0);
    for (int i = 0; i < 3; i++) assert_true(o[i] == 2 * x[i]);
    ndp_expr_free(e);
  }
  /* without the variable, the constant */
  ndp_expr *e = compile_ok("e * 2", 0, NULL);
  ndp_array O0;
  double o0;
  assert_int_equal(ndp_array_init(&O0, &o0, NDP_FLOAT64, 0, NULL), 0);
  assert_int_equal(eval_t(e, NULL, &O0, 1), 0);
  assert_true(o0 == 2 * 2.718281828459045);
  ndp_expr_free(e);
}

static void test_nep50_loop_dtype(void **state) {
  (void)state;
  uint8_t u[4] = {0, 1, 2, 250};
  /* u8 / 1000 runs in float64: no overflow */
  assert_int_equal(type_of("a / 1000", NDP_UINT8, NDP_VAR_WEAK_INT), NDP_FLOAT64);
  assert_int_equal(type_of("a / s", NDP_UINT8, NDP_VAR_WEAK_INT), NDP_FLOAT64);
  assert_int_equal(type_of("a == -2", NDP_UINT8, NDP_VAR_WEAK_INT), NDP_BOOL);
  assert_int_equal(type_of("a == s", NDP_UINT8, NDP_VAR_WEAK_INT), NDP_BOOL);
  ndp_var v[2] = {{"a", NDP_UINT8, NDP_VAR_ARRAY}, {"s", NDP_INT64, NDP_VAR_WEAK_INT}};
  ndp_array A, S, O;
  vec(&A, u, NDP_UINT8, 4);
  int64_t s = 1000;
  assert_int_equal(ndp_array_init(&S, &s, NDP_INT64, 0, NULL), 0);
  const ndp_array *in[2] = {&A, &S};
  double d[4];
  vec(&O, d, NDP_FLOAT64, 4);
  ndp_expr *e = compile_ok("a / s", 2, v);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  for (int i = 0; i < 4; i++) assert_true(d[i] == u[i] / 1000.0);
  ndp_expr_free(e);
  e = compile_ok("a / 1000", 2, v);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  for (int i = 0; i < 4; i++) assert_true(d[i] == u[i] / 1000.0);
  ndp_expr_free(e);
  /* comparisons with a Python int variable out of the dtype's range: exact */
  unsigned char b[4];
  vec(&O, b, NDP_BOOL, 4);
  const char *cmp[] = {"a == s", "a < s", "s > a", "a != s"};
  const int64_t vals[] = {-2, 1000, 250, 0, INT64_MIN, INT64_MAX};
  for (size_t k = 0; k < 4; k++) {
    e = compile_ok(cmp[k], 2, v);
    for (size_t j = 0; j < sizeof vals / sizeof vals[0]; j++) {
      s = vals[j];
      assert_int_equal(eval_t(e, in, &O, 1), 0);
      for (int i = 0; i < 4; i++) {
        int want = k == 0 ? u[i] == s : k == 1 ? u[i] < s : k == 2 ? s > u[i] : u[i] != s;
        assert_int_equal(b[i], want);
      }
    }
    ndp_expr_free(e);
  }
  /* an integer loop still refuses a Python int that does not fit */
  s = 1000;
  vec(&O, u, NDP_UINT8, 4);
  e = compile_ok("a + s", 2, v);
  assert_int_equal(eval_t(e, in, &O, 1), NDP_EOVERFLOW);
  ndp_expr_free(e);
  long pos;
  assert_int_equal(compile_err("a // 1000", 2, v, &pos), NDP_EOVERFLOW);
}

static void test_empty_arrays(void **state) {
  (void)state;
  double dummy[1];
  int64_t shp[3] = {2, 0, 3};
  ndp_var v[1] = {{"x", NDP_FLOAT64, NDP_VAR_ARRAY}};
  for (int nd = 2; nd <= 3; nd++) {
    int64_t *sh = nd == 2 ? shp + 1 : shp; /* (0, 3) and (2, 0, 3) */
    ndp_array X, O;
    assert_int_equal(ndp_array_init(&X, dummy, NDP_FLOAT64, nd, sh), 0);
    /* an empty output may have zero strides (NumPy makes them so) */
    assert_int_equal(ndp_array_init(&O, dummy, NDP_FLOAT64, nd, sh), 0);
    for (int d = 0; d < nd; d++) O.strides[d] = 0;
    const ndp_array *in[1] = {&X};
    ndp_expr *e = compile_ok("x + 1", 1, v);
    assert_int_equal(eval_t(e, in, &O, 2), 0);
    ndp_expr_free(e);
    /* whole reductions: sum 0, prod 1, mean nan; max/min refuse */
    double r;
    ndp_array R;
    assert_int_equal(ndp_array_init(&R, &r, NDP_FLOAT64, 0, NULL), 0);
    const char *src[] = {"sum(x)", "prod(x)", "mean(x)"};
    for (int k = 0; k < 3; k++) {
      e = compile_ok(src[k], 1, v);
      r = 42;
      assert_int_equal(eval_t(e, in, &R, 2), 0);
      assert_true(k == 0 ? r == 0 : k == 1 ? r == 1 : isnan(r));
      ndp_expr_free(e);
    }
    e = compile_ok("max(x)", 1, v);
    assert_int_equal(eval_t(e, in, &R, 2), NDP_EINVAL);
    assert_non_null(strstr(st.msg, "zero-size array to reduction operation maximum"));
    ndp_expr_free(e);
  }
  /* (0, 0): max along an empty axis refuses even though the result is empty */
  int64_t z[2] = {0, 0}, z1[1] = {0};
  ndp_array X, O;
  assert_int_equal(ndp_array_init(&X, dummy, NDP_FLOAT64, 2, z), 0);
  assert_int_equal(ndp_array_init(&O, dummy, NDP_FLOAT64, 1, z1), 0);
  const ndp_array *in[1] = {&X};
  ndp_expr *e = compile_ok("min(x, axis=0)", 1, v);
  assert_int_equal(eval_t(e, in, &O, 1), NDP_EINVAL);
  ndp_expr_free(e);
  e = compile_ok("sum(x, axis=0)", 1, v);
  assert_int_equal(eval_t(e, in, &O, 1), 0);
  ndp_expr_free(e);
}

static int signbit_of(double x) { return signbit(x) != 0; }

static void test_signed_zero_minmax(void **state) {
  (void)state;
  enum { M = 5000 };
  static double a[M];
  ndp_var v[1] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}};
  srand(11);
  for (int trial = 0; trial < 4; trial++) {
    int n = trial == 0 ? 2 : trial == 1 ? 3 : trial == 2 ? 257 : M;
    for (int i = 0; i < n; i++) a[i] = rand() & 1 ? -0.0 : 0.0;
    if (trial == 0) a[0] = -0.0, a[1] = 0.0; /* NumPy: max and min give 0.0 */
    ndp_array A, R;
    double r;
    vec(&A, a, NDP_FLOAT64, n);
    assert_int_equal(ndp_array_init(&R, &r, NDP_FLOAT64, 0, NULL), 0);
    const ndp_array *in[1] = {&A};
    for (int k = 0; k < 2; k++) {
      ndp_expr *e = compile_ok(k ? "min(a)" : "max(a)", 1, v);
      for (int t = 1; t <= 3; t++) { /* NumPy: the last zero of an array of zeros */
        r = 1;
        assert_int_equal(eval_t(e, in, &R, t), 0);
        assert_true(r == 0);
        assert_int_equal(signbit_of(r), signbit_of(a[n - 1]));
      }
      ndp_expr_free(e);
    }
  }
  /* NaN propagates: the first one */
  a[0] = 1;
  a[1] = -NAN;
  a[2] = NAN;
  ndp_array A, R;
  double r;
  vec(&A, a, NDP_FLOAT64, 3);
  assert_int_equal(ndp_array_init(&R, &r, NDP_FLOAT64, 0, NULL), 0);
  const ndp_array *in[1] = {&A};
  ndp_expr *e = compile_ok("max(a)", 1, v);
  assert_int_equal(eval_t(e, in, &R, 1), 0);
  assert_true(isnan(r) && signbit(r));
  ndp_expr_free(e);
}

static void test_bool_bytes(void **state) {
  (void)state;
  enum { M = 1000 };
  static unsigned char m[M], n[M], o[M];
  static int64_t io[M];
  for (int i = 0; i < M; i++) {
    m[i] = (unsigned char)(i % 5 == 0 ? 0 : i % 5 == 1 ? 1 : i % 5 == 2 ? 2 : i % 5 == 3 ? 255 : 128);
    n[i] = (unsigned char)((i * 7) % 3 == 0 ? 0 : (i * 7) % 3 == 1 ? 4 : 1);
  }
  ndp_var v[2] = {{"m", NDP_BOOL, NDP_VAR_ARRAY}, {"n", NDP_BOOL, NDP_VAR_ARRAY}};
  ndp_array Mv, Nv, O;
  vec(&Mv, m, NDP_BOOL, M);
  vec(&Nv, n, NDP_BOOL, M);
  vec(&O, o, NDP_BOOL, M);
  const ndp_array *in[2] = {&Mv, &Nv};
  const char *src[] = {"~m", "m & n", "m | n", "m ^ n", "m == n", "m != n", "logical_not(m)",
                       "where(m, n, ~n)", "m", "m < n", "logical_and(m, n)"};
  for (size_t k = 0; k < sizeof src / sizeof src[0]; k++) {
    ndp_expr *e = compile_ok(src[k], 2, v);
    assert_int_equal(eval_t(e, in, &O, 2), 0);
    for (int i = 0; i < M; i++) {
      int a = m[i] != 0, b = n[i] != 0, w;
      switch (k) {
      case 0: case 6: w = !a; break;
      case 1: case 10: w = a & b; break;
      case 2: w = a | b; break;
      case 3: w = a ^ b; break;
      case 4: w = a == b; break;
      case 5: w = a != b; break;
      case 7: w = a ? b : !b; break;
      case 8: w = a; break;
      default: w = a < b; break;
      }
      assert_int_equal(o[i], w);
    }
    ndp_expr_free(e);
  }
  /* where picks by byte != 0; reductions count truth values */
  vec(&O, io, NDP_INT64, M);
  ndp_expr *e = compile_ok("where(m, 1, 2)", 2, v);
  assert_int_equal(eval_t(e, in, &O, 2), 0);
  for (int i = 0; i < M; i++) assert_int_equal(io[i], m[i] ? 1 : 2);
  ndp_expr_free(e);
  int64_t want = 0, r;
  for (int i = 0; i < M; i++) want += m[i] != 0;
  ndp_array R;
  assert_int_equal(ndp_array_init(&R, &r, NDP_INT64, 0, NULL), 0);
  e = compile_ok("sum(m)", 2, v);
  for (int t = 1; t <= 3; t++) {
    assert_int_equal(eval_t(e, in, &R, t), 0);
    assert_int_equal(r, want);
  }
  ndp_expr_free(e);
  unsigned char rb;
  assert_int_equal(ndp_array_init(&R, &rb, NDP_BOOL, 0, NULL), 0);
  const char *reds[] = {"any(m)", "all(m | ~m)", "max(m)", "min(m | n)"};
  const int wants[] = {1, 1, 1, 0};
  for (int k = 0; k < 4; k++) {
    e = compile_ok(reds[k], 2, v);
    rb = 7;
    assert_int_equal(eval_t(e, in, &R, 2), 0);
    assert_int_equal(rb, wants[k]);
    ndp_expr_free(e);
  }
  /* a 0-d mask with byte 2, broadcast */
  unsigned char two = 2;
  ndp_array T;
  assert_int_equal(ndp_array_init(&T, &two, NDP_BOOL, 0, NULL), 0);
  const ndp_array *in2[2] = {&T, &Nv};
  vec(&O, o, NDP_BOOL, M);
  e = compile_ok("m & n", 2, v);
  assert_int_equal(eval_t(e, in2, &O, 1), 0);
  for (int i = 0; i < M; i++) assert_int_equal(o[i], n[i] != 0);
  ndp_expr_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_arith_f64),       cmocka_unit_test(test_floordiv_mod),
      cmocka_unit_test(test_int_power),       cmocka_unit_test(test_every_function),
      cmocka_unit_test(test_operators_by_dtype), cmocka_unit_test(test_weak_scalars),
      cmocka_unit_test(test_weak_values),     cmocka_unit_test(test_broadcast_2d),
      cmocka_unit_test(test_program_where),   cmocka_unit_test(test_cse),
      cmocka_unit_test(test_where_types),     cmocka_unit_test(test_where_lanes),
      cmocka_unit_test(test_bitwise),
      cmocka_unit_test(test_reductions),      cmocka_unit_test(test_reduction_threads_large),
      cmocka_unit_test(test_reduction_kinds), cmocka_unit_test(test_layouts),
      cmocka_unit_test(test_errors),          cmocka_unit_test(test_pathological),
      cmocka_unit_test(test_shared_program), cmocka_unit_test(test_oom),
      cmocka_unit_test(test_names_user_wins), cmocka_unit_test(test_nep50_loop_dtype),
      cmocka_unit_test(test_empty_arrays),    cmocka_unit_test(test_signed_zero_minmax),
      cmocka_unit_test(test_bool_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
