/*
 * tests/c/test_ufunc.c - the elementwise engine through the C API, at every
 * instruction set the CPU has: values against libm / plain C loops,
 * layouts (strided, negative strides, Fortran order, broadcasting, in
 * place, partial overlap, byte-swapped), type resolution, errors.
 * The exhaustive comparison with NumPy is in tests/python.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "ndpar.h"

static double ulp_diff(double got, double want) {
  if (isnan(want)) return isnan(got) ? 0 : 1e9;
  if (isinf(want)) return got == want ? 0 : 1e9;
  double u = nextafter(fabs(want), INFINITY) - fabs(want);
  return fabs(got - want) / u;
}

static void vec1(ndp_array *a, void *data, ndp_dtype dt, int64_t n) {
  assert_int_equal(ndp_array_init(a, data, dt, 1, &n), 0);
}

static int run1(int op, ndp_array *x, ndp_array *out) {
  const ndp_array *in[1] = {x};
  ndp_status st;
  return ndp_ufunc(op, in, out, NDP_NTYPES, NDP_CASTING_SAME_KIND, NULL, &st);
}

static int run2(int op, ndp_array *x, ndp_array *y, ndp_array *out) {
  const ndp_array *in[2] = {x, y};
  ndp_status st;
  return ndp_ufunc(op, in, out, NDP_NTYPES, NDP_CASTING_SAME_KIND, NULL, &st);
}

static void test_transcendentals_every_isa(void **state) {
  (void)state;
  enum { N = 5003 };
  double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
  float *xf = malloc(N * sizeof *xf), *yf = malloc(N * sizeof *yf);
  for (int i = 0; i < N; i++) {
    x[i] = -20.0 + 40.0 * i / N;
    xf[i] = (float)x[i];
  }
  /* long double references: glibc's double cbrt alone is off by 3-4 ulp */
  struct { int op; long double (*f)(long double); } fs[] = {
      {NDP_OP_EXP, expl}, {NDP_OP_SIN, sinl}, {NDP_OP_COS, cosl}, {NDP_OP_TANH, tanhl},
      {NDP_OP_ARCTAN, atanl}, {NDP_OP_CBRT, cbrtl}, {NDP_OP_EXPM1, expm1l},
      {NDP_OP_SINH, sinhl}, {NDP_OP_ARCSINH, asinhl}, {NDP_OP_SQRT, sqrtl}};
  ndp_isa cpu = ndp_cpu_isa();
  for (int isa = 0; isa <= (int)cpu; isa++) {
    assert_int_equal(ndp_set_isa((ndp_isa)isa), 0);
    for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++) {
      ndp_array a, o;
      vec1(&a, x, NDP_FLOAT64, N);
      vec1(&o, y, NDP_FLOAT64, N);
      assert_int_equal(run1(fs[k].op, &a, &o), 0);
      double bound = ndp_op_ulp_bound(fs[k].op, 0) + 0.5; /* + rounding the reference */
      for (int i = 0; i < N; i++) {
        double want = (double)fs[k].f((long double)x[i]);
        if (isnan(want)) continue; /* sqrt of negatives: nan both sides */
        if (ulp_diff(y[i], want) > bound)
          fail_msg("isa %s op %s x=%.17g got %.17g want %.17g", ndp_isa_name((ndp_isa)isa),
                   ndp_op_name(fs[k].op), x[i], y[i], want);
      }
      vec1(&a, xf, NDP_FLOAT32, N);
      vec1(&o, yf, NDP_FLOAT32, N);
      assert_int_equal(run1(fs[k].op, &a, &o), 0);
      for (int i = 0; i < N; i++) {
        float want = (float)fs[k].f((long double)xf[i]);
        if (isnan(want) || isinf(want)) continue;
        float u = nextafterf(fabsf(want), INFINITY) - fabsf(want);
        if (fabsf(yf[i] - want) / u > (float)ndp_op_ulp_bound(fs[k].op, 1) + 0.5f)
          fail_msg("f32 isa %s op %s x=%.9g got %.9g want %.9g", ndp_isa_name((ndp_isa)isa),
                   ndp_op_name(fs[k].op), (double)xf[i], (double)yf[i], (double)want);
      }
    }
  }
  ndp_set_isa(cpu);
  free(x), free(y), free(xf), free(yf);
}

static void test_strided_and_orders(void **state) {
  (void)state;
  /* a 6x5 C array; use its transpose (F-ordered view) and a reversed,
   * every-other-row view; compare with a plain loop */
  double m[6][5], out[5][6], out2[3][5];
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 5; j++) m[i][j] = i * 10 + j;
  ndp_array t = {0}, o, r = {0}, o2;
  t.data = m;
  t.dtype = NDP_FLOAT64;
  t.ndim = 2;
  t.shape[0] = 5, t.shape[1] = 6;
  t.strides[0] = 8, t.strides[1] = 40;
  int64_t so[2] = {5, 6};
  ndp_array_init(&o, out, NDP_FLOAT64, 2, so);
  assert_int_equal(run1(NDP_OP_SQUARE, &t, &o), 0);
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 6; j++) assert_true(out[i][j] == m[j][i] * m[j][i]);
  r.data = &m[5][0]; /* rows 5, 3, 1 */
  r.dtype = NDP_FLOAT64;
  r.ndim = 2;
  r.shape[0] = 3, r.shape[1] = 5;
  r.strides[0] = -80, r.strides[1] = 8;
  int64_t s2[2] = {3, 5};
  ndp_array_init(&o2, out2, NDP_FLOAT64, 2, s2);
  assert_int_equal(run1(NDP_OP_NEGATIVE, &r, &o2), 0);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 5; j++) assert_true(out2[i][j] == -m[5 - 2 * i][j]);
}

static void test_broadcast_and_cast(void **state) {
  (void)state;
  int32_t col[3] = {1, 2, 3};
  uint8_t row[4] = {10, 20, 30, 250};
  double out[3][4];
  ndp_array a, b, o;
  int64_t sa[2] = {3, 1}, sb[1] = {4}, so[2] = {3, 4};
  ndp_array_init(&a, col, NDP_INT32, 2, sa);
  ndp_array_init(&b, row, NDP_UINT8, 1, sb);
  ndp_array_init(&o, out, NDP_FLOAT64, 2, so);
  /* int32 * uint8 -> int32 loop; the result is cast to float64 */
  assert_int_equal(run2(NDP_OP_MULTIPLY, &a, &b, &o), 0);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) assert_true(out[i][j] == (double)(col[i] * row[j]));
  int64_t bad[2] = {3, 5};
  ndp_array_init(&o, out, NDP_FLOAT64, 2, bad);
  assert_int_equal(run2(NDP_OP_MULTIPLY, &a, &b, &o), NDP_ESHAPE);
  /* float64 result into an int32 output: not under same_kind */
  int32_t oi[12];
  ndp_array_init(&o, oi, NDP_INT32, 2, so);
  assert_int_equal(run2(NDP_OP_DIVIDE, &a, &b, &o), NDP_ECAST);
}

static void test_in_place_and_overlap(void **state) {
  (void)state;
  enum { N = 100000 };
  double *x = malloc((N + 1) * sizeof *x);
  for (int i = 0; i <= N; i++) x[i] = i;
  ndp_array a, o;
  vec1(&a, x, NDP_FLOAT64, N);
  assert_int_equal(run1(NDP_OP_SQUARE, &a, &a), 0); /* exact alias */
  for (int i = 0; i < N; i++) assert_true(x[i] == (double)i * i);
  for (int i = 0; i <= N; i++) x[i] = i;
  vec1(&a, x, NDP_FLOAT64, N);
  vec1(&o, x + 1, NDP_FLOAT64, N); /* out = in shifted by one: partial overlap */
  assert_int_equal(run1(NDP_OP_NEGATIVE, &a, &o), 0);
  for (int i = 0; i < N; i++) assert_true(x[i + 1] == -(double)i);
  /* the copy of the overlapping input fails cleanly without memory */
  for (int i = 0; i <= N; i++) x[i] = i;
  ndp__fail_alloc_after(0);
  assert_int_equal(run1(NDP_OP_NEGATIVE, &a, &o), NDP_ENOMEM);
  ndp__fail_alloc_after(-1);
  free(x);
}

static void test_integer_semantics(void **state) {
  (void)state;
  int8_t a[6] = {-128, 7, -7, 7, 0, 5}, b[6] = {-1, 0, 2, -2, 3, 2}, q[6], r[6];
  ndp_array A, B, Q, R;
  vec1(&A, a, NDP_INT8, 6);
  vec1(&B, b, NDP_INT8, 6);
  vec1(&Q, q, NDP_INT8, 6);
  vec1(&R, r, NDP_INT8, 6);
  assert_int_equal(run2(NDP_OP_FLOOR_DIVIDE, &A, &B, &Q), 0);
  assert_int_equal(run2(NDP_OP_REMAINDER, &A, &B, &R), 0);
  const int8_t wq[6] = {-128, 0, -4, -4, 0, 2}, wr[6] = {0, 0, 1, -1, 0, 1};
  assert_memory_equal(q, wq, 6);
  assert_memory_equal(r, wr, 6);
  int64_t e[2] = {3, -1}, base[2] = {2, 2}, pr[2];
  ndp_array E, Bs, P;
  vec1(&E, e, NDP_INT64, 2);
  vec1(&Bs, base, NDP_INT64, 2);
  vec1(&P, pr, NDP_INT64, 2);
  assert_int_equal(run2(NDP_OP_POWER, &Bs, &E, &P), NDP_EDOMAIN);
  /* int64 vs uint64 compares exactly */
  int64_t s[3] = {-1, 5, INT64_MAX};
  uint64_t u[3] = {UINT64_MAX, 5, (uint64_t)INT64_MAX + 1};
  uint8_t lt[3];
  ndp_array S, U, L;
  vec1(&S, s, NDP_INT64, 3);
  vec1(&U, u, NDP_UINT64, 3);
  vec1(&L, lt, NDP_BOOL, 3);
  assert_int_equal(run2(NDP_OP_LESS, &S, &U, &L), 0);
  assert_int_equal(lt[0], 1);
  assert_int_equal(lt[1], 0);
  assert_int_equal(lt[2], 1);
}

static void test_byteswapped(void **state) {
  (void)state;
  double v[3] = {1.0, 2.0, 4.0}, out[3];
  for (int i = 0; i < 3; i++) {
    uint64_t w;
    memcpy(&w, &v[i], 8);
    w = __builtin_bswap64(w);
    memcpy(&v[i], &w, 8);
  }
  ndp_array a, o;
  vec1(&a, v, NDP_FLOAT64, 3);
  a.flags = NDP_ARRAY_BYTESWAPPED;
  vec1(&o, out, NDP_FLOAT64, 3);
  assert_int_equal(run1(NDP_OP_LOG2, &a, &o), 0);
  assert_true(out[0] == 0.0 && out[1] == 1.0 && out[2] == 2.0);
}

static void test_resolution(void **state) {
  (void)state;
  ndp_dtype l, o, in[2];
  in[0] = NDP_UINT8;
  assert_int_equal(ndp_op_resolve(NDP_OP_EXP, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL), 0);
  assert_int_equal(o, NDP_FLOAT16); /* as NumPy */
  in[0] = NDP_INT32;
  ndp_op_resolve(NDP_OP_EXP, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL);
  assert_int_equal(o, NDP_FLOAT64);
  in[0] = NDP_INT8, in[1] = NDP_INT8;
  ndp_op_resolve(NDP_OP_DIVIDE, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL);
  assert_int_equal(o, NDP_FLOAT64);
  in[0] = NDP_BOOL, in[1] = NDP_BOOL;
  ndp_op_resolve(NDP_OP_FLOOR_DIVIDE, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL);
  assert_int_equal(o, NDP_INT8);
  ndp_status st;
  assert_int_equal(ndp_op_resolve(NDP_OP_SUBTRACT, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, &st), NDP_ETYPE);
  assert_true(strstr(st.msg, "subtract") != NULL);
  in[0] = NDP_FLOAT64;
  assert_int_equal(ndp_op_resolve(NDP_OP_EXP, in, NDP_INT32, NDP_CASTING_SAME_KIND, &l, &o, &st), NDP_ETYPE);
  assert_int_equal(ndp_op_resolve(NDP_OP_SQRT, in, NDP_FLOAT32, NDP_CASTING_SAFE, &l, &o, &st), NDP_ECAST);
  assert_int_equal(ndp_op_resolve(NDP_OP_SQRT, in, NDP_FLOAT32, NDP_CASTING_SAME_KIND, &l, &o, &st), 0);
  assert_int_equal(ndp_op_lookup("absolute"), NDP_OP_ABS);
  assert_int_equal(ndp_op_lookup("nosuch"), NDP_ENOFUNC);
  assert_int_equal(ndp_op_nin(NDP_OP_HYPOT), 2);
  assert_int_equal(ndp_op_nin(-1), 0);
}

/* ndp_op_loops written as a type list, walked as NumPy walks it (first
 * loop every input casts to safely), gives what ndp_op_resolve gives, for
 * every operation and every pair of input dtypes. */
static void test_loop_list_matches_resolution(void **state) {
  (void)state;
  ndp_loop_sig sig[NDP_MAX_LOOPS];
  for (int op = 0; op < NDP_NOPS; op++) {
    const int nin = ndp_op_nin(op);
    int n = ndp_op_loops(op, sig, NDP_MAX_LOOPS);
    assert_true(n > 0 && n <= NDP_MAX_LOOPS);
    for (int a = 0; a < NDP_NTYPES; a++)
      for (int b = 0; b < (nin > 1 ? NDP_NTYPES : 1); b++) {
        ndp_dtype in[2] = {(ndp_dtype)a, (ndp_dtype)b};
        int pick = -1;
        for (int i = 0; i < n && pick < 0; i++) {
          int ok = 1;
          for (int k = 0; k < nin; k++) ok &= ndp_can_cast(in[k], sig[i].in[k], NDP_CASTING_SAFE);
          if (ok) pick = i;
        }
        ndp_dtype l, o;
        int rc = ndp_op_resolve(op, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL);
        if (rc) { /* refused: the list's match is a refused entry */
          assert_true(pick >= 0);
          assert_int_equal(sig[pick].out, NDP_NTYPES);
          continue;
        }
        assert_true(pick >= 0);
        assert_int_equal(sig[pick].out, o);
        if (nin == 2 && sig[pick].in[0] != sig[pick].in[1]) continue; /* qQ, Qq */
        assert_int_equal(sig[pick].in[0], sig[pick].out == NDP_BOOL || sig[pick].out == NDP_FLOAT64
                                               ? sig[pick].in[0] : l);
      }
  }
  assert_int_equal(ndp_op_loops(NDP_NOPS, sig, 1), NDP_ENOFUNC);
  assert_int_equal(ndp_op_loops(-1, NULL, 0), NDP_ENOFUNC);
}

/* NumPy's inner-loop contract: elementwise (short and long spans), a
 * reduction (output stride 0 = input 0) with the same bits for any thread
 * count, an accumulate (input 0 one element behind the output). */
static void test_strided_contract(void **state) {
  (void)state;
  enum { N = 100003 };
  double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
  assert_non_null(x);
  assert_non_null(y);
  for (int i = 0; i < N; i++) x[i] = 1.0 / (1 + i % 97) - 0.01 * (i % 13);
  ndp_dtype dd[3] = {NDP_FLOAT64, NDP_FLOAT64, NDP_FLOAT64};
  for (int64_t n = 1; n <= N; n = n * 7 + 3) { /* elementwise, in place and not */
    char *data[3] = {(char *)x, (char *)x, (char *)y};
    int64_t s[3] = {8, 8, 8};
    assert_int_equal(ndp_ufunc_strided(NDP_OP_ADD, dd, data, n, s, NULL, NULL), 0);
    for (int64_t i = 0; i < n; i++) assert_true(y[i] == x[i] + x[i]);
  }
  double acc[3];
  for (int t = 1; t <= 3; t++) { /* reduce */
    acc[t - 1] = 0.5;
    char *data[3] = {(char *)&acc[t - 1], (char *)x, (char *)&acc[t - 1]};
    int64_t s[3] = {0, 8, 0};
    ndp_exec ex = {t, NULL, NULL, 0};
    assert_int_equal(ndp_ufunc_strided(NDP_OP_ADD, dd, data, N, s, &ex, NULL), 0);
  }
  assert_true(acc[0] == acc[1] && acc[1] == acc[2]);
  double ref = 0.5;
  for (int i = 0; i < N; i++) ref += x[i];
  assert_true(fabs(acc[0] - ref) <= 1e-9 * fabs(ref));
  double mx = -1e300;
  { /* maximum reduces exactly, strided */
    char *data[3] = {(char *)&mx, (char *)x, (char *)&mx};
    int64_t s[3] = {0, 16, 0};
    assert_int_equal(ndp_ufunc_strided(NDP_OP_MAXIMUM, dd, data, N / 2, s, NULL, NULL), 0);
    double want = -1e300;
    for (int i = 0; i < N / 2; i++) want = x[2 * i] > want ? x[2 * i] : want;
    assert_true(mx == want);
  }
  { /* accumulate: y[i] = y[i-1] - x[i] (not associative: in order) */
    y[0] = x[0];
    char *data[3] = {(char *)y, (char *)(x + 1), (char *)(y + 1)};
    int64_t s[3] = {8, 8, 8};
    assert_int_equal(ndp_ufunc_strided(NDP_OP_SUBTRACT, dd, data, N - 1, s, NULL, NULL), 0);
    double r = x[0];
    for (int i = 1; i < N; i++) {
      r -= x[i];
      assert_true(y[i] == r);
    }
  }
  int64_t ia[4] = {3, 0, 1, 2}, one = 1;
  ndp_dtype di[3] = {NDP_INT64, NDP_INT64, NDP_INT64};
  { /* an integer error inside a loop */
    int64_t neg = -1, o[4];
    char *data[3] = {(char *)ia, (char *)&neg, (char *)o};
    int64_t s[3] = {8, 0, 8};
    ndp_status st = {0, {0}, -1};
    assert_int_equal(ndp_ufunc_strided(NDP_OP_POWER, di, data, 4, s, NULL, &st), NDP_EDOMAIN);
    assert_non_null(strstr(st.msg, "negative"));
  }
  char *bad[3] = {(char *)ia, NULL, (char *)&one};
  int64_t s0[3] = {8, 8, 8};
  assert_int_equal(ndp_ufunc_strided(NDP_OP_ADD, di, bad, 4, s0, NULL, NULL), NDP_EINVAL);
  assert_int_equal(ndp_ufunc_strided(NDP_NOPS, di, bad, 4, s0, NULL, NULL), NDP_ENOFUNC);
  free(x);
  free(y);
}

static void test_bad_arguments(void **state) {
  (void)state;
  double x[4] = {0}, y[4];
  ndp_array a, o;
  vec1(&a, x, NDP_FLOAT64, 4);
  vec1(&o, y, NDP_FLOAT64, 4);
  const ndp_array *in[2] = {&a, NULL};
  ndp_status st;
  assert_int_equal(ndp_ufunc(NDP_NOPS, in, &o, NDP_NTYPES, NDP_CASTING_SAME_KIND, NULL, &st), NDP_ENOFUNC);
  assert_int_equal(ndp_ufunc(NDP_OP_ADD, in, &o, NDP_NTYPES, NDP_CASTING_SAME_KIND, NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_ufunc(NDP_OP_EXP, NULL, &o, NDP_NTYPES, NDP_CASTING_SAME_KIND, NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_ufunc(NDP_OP_EXP, in, NULL, NDP_NTYPES, NDP_CASTING_SAME_KIND, NULL, &st), NDP_EINVAL);
  a.ndim = 99;
  assert_int_equal(ndp_ufunc(NDP_OP_EXP, in, &o, NDP_NTYPES, NDP_CASTING_SAME_KIND, NULL, &st), NDP_EINVAL);
  a.ndim = 1;
  a.dtype = (ndp_dtype)77;
  assert_int_equal(ndp_ufunc(NDP_OP_EXP, in, &o, NDP_NTYPES, NDP_CASTING_SAME_KIND, NULL, &st), NDP_ETYPE);
  a.dtype = NDP_FLOAT64;
  assert_int_equal(ndp_ufunc(NDP_OP_EXP, in, &o, NDP_NTYPES, (ndp_casting)9, NULL, NULL), NDP_EINVAL);
  /* empty arrays are fine */
  int64_t zero = 0;
  ndp_array_init(&a, NULL, NDP_FLOAT64, 1, &zero);
  ndp_array_init(&o, NULL, NDP_FLOAT64, 1, &zero);
  assert_int_equal(ndp_ufunc(NDP_OP_EXP, in, &o, NDP_NTYPES, NDP_CASTING_SAME_KIND, NULL, &st), 0);
}

static void test_copy(void **state) {
  (void)state;
  int16_t s[4] = {1, -2, 3, -4};
  double d[4];
  ndp_array a, o;
  vec1(&a, s, NDP_INT16, 4);
  vec1(&o, d, NDP_FLOAT64, 4);
  assert_int_equal(ndp_copy(&a, &o, NDP_CASTING_SAFE, NULL, NULL), 0);
  for (int i = 0; i < 4; i++) assert_true(d[i] == s[i]);
  assert_int_equal(ndp_copy(&o, &a, NDP_CASTING_SAFE, NULL, NULL), NDP_ECAST);
}

/* Bool bytes other than 0/1 read as True (NumPy): casts to every dtype,
 * bool ops on the direct and buffered paths, bool -> bool copies, every
 * ISA. Reference: the same call on bytes normalised to 0/1. */
static void test_nonzero_bool_bytes(void **state) {
  (void)state;
  enum { N = 40 };
  uint8_t raw[N], norm[N];
  for (int i = 0; i < N; i++) {
    raw[i] = (uint8_t)(i % 4 == 0 ? 0 : (i * 37) % 256 ? (i * 37) % 256 : 2);
    norm[i] = raw[i] != 0;
  }
  ndp_isa cpu = ndp_cpu_isa();
  for (int isa = 0; isa <= (int)cpu; isa++) {
    assert_int_equal(ndp_set_isa((ndp_isa)isa), 0);
    for (int dt = 0; dt < NDP_NTYPES; dt++) { /* bool -> dt in add(bool, zeros of dt) */
      _Alignas(8) char z[N * 8], got[N * 8], want[N * 8];
      memset(z, 0, sizeof z);
      ndp_array a, b, o;
      vec1(&b, z, (ndp_dtype)dt, N);
      vec1(&o, got, (ndp_dtype)dt, N);
      vec1(&a, raw, NDP_BOOL, N);
      assert_int_equal(run2(NDP_OP_ADD, &a, &b, &o), 0);
      vec1(&a, norm, NDP_BOOL, N);
      vec1(&o, want, (ndp_dtype)dt, N);
      assert_int_equal(run2(NDP_OP_ADD, &a, &b, &o), 0);
      assert_memory_equal(got, want, N * ndp_dtype_size((ndp_dtype)dt));
      if (dt == NDP_FLOAT64) assert_true(((double *)got)[1] == 1.0);
    }
    static const int ops[] = {NDP_OP_ADD, NDP_OP_MULTIPLY, NDP_OP_MAXIMUM, NDP_OP_MINIMUM,
                              NDP_OP_EQUAL, NDP_OP_NOT_EQUAL, NDP_OP_LESS,
                              NDP_OP_LOGICAL_XOR, NDP_OP_GREATER_EQUAL};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
      uint8_t got[N], want[N], rev[N], revn[N];
      for (int i = 0; i < N; i++) rev[i] = raw[N - 1 - i], revn[i] = norm[N - 1 - i];
      ndp_array a, b, o;
      vec1(&a, raw, NDP_BOOL, N);
      vec1(&b, rev, NDP_BOOL, N);
      vec1(&o, got, NDP_BOOL, N);
      assert_int_equal(run2(ops[k], &a, &b, &o), 0);
      vec1(&a, norm, NDP_BOOL, N);
      vec1(&b, revn, NDP_BOOL, N);
      vec1(&o, want, NDP_BOOL, N);
      assert_int_equal(run2(ops[k], &a, &b, &o), 0);
      assert_memory_equal(got, want, N);
      /* strided (buffered) */
      int64_t half = N / 2, st2 = 2;
      ndp_array as, os;
      ndp_array_init(&as, raw, NDP_BOOL, 1, &half);
      as.strides[0] = st2;
      vec1(&os, got, NDP_BOOL, half);
      assert_int_equal(run2(ops[k], &as, &as, &os), 0);
      ndp_array_init(&as, norm, NDP_BOOL, 1, &half);
      as.strides[0] = st2;
      vec1(&os, want, NDP_BOOL, half);
      assert_int_equal(run2(ops[k], &as, &as, &os), 0);
      assert_memory_equal(got, want, half);
    }
  }
  assert_int_equal(ndp_set_isa(cpu), 0);
  uint8_t out[N];
  ndp_array a, o;
  vec1(&a, raw, NDP_BOOL, N);
  vec1(&o, out, NDP_BOOL, N);
  assert_int_equal(ndp_copy(&a, &o, NDP_CASTING_NO, NULL, NULL), 0);
  assert_memory_equal(out, norm, N);
}

/* -0/+0 ties give the second operand (NumPy), NaN as NumPy, every ISA. */
static void test_min_max_signed_zeros(void **state) {
  (void)state;
  enum { N = 64 };
  double a[N], b[N], o[N];
  float af[N], bf[N], of[N];
  for (int i = 0; i < N; i++) {
    a[i] = (i % 2) ? 0.0 : -0.0;
    b[i] = (i % 2) ? -0.0 : 0.0;
    if (i % 7 == 3) a[i] = NAN;
    if (i % 11 == 5) b[i] = NAN;
    af[i] = (float)a[i], bf[i] = (float)b[i];
  }
  static const int ops[] = {NDP_OP_MAXIMUM, NDP_OP_MINIMUM, NDP_OP_FMAX, NDP_OP_FMIN};
  ndp_isa cpu = ndp_cpu_isa();
  for (int isa = 0; isa <= (int)cpu; isa++) {
    assert_int_equal(ndp_set_isa((ndp_isa)isa), 0);
    for (int k = 0; k < 4; k++) {
      const int fnan = ops[k] == NDP_OP_FMAX || ops[k] == NDP_OP_FMIN;
      ndp_array x, y, z;
      vec1(&x, a, NDP_FLOAT64, N);
      vec1(&y, b, NDP_FLOAT64, N);
      vec1(&z, o, NDP_FLOAT64, N);
      assert_int_equal(run2(ops[k], &x, &y, &z), 0);
      vec1(&x, af, NDP_FLOAT32, N);
      vec1(&y, bf, NDP_FLOAT32, N);
      vec1(&z, of, NDP_FLOAT32, N);
      assert_int_equal(run2(ops[k], &x, &y, &z), 0);
      for (int i = 0; i < N; i++) {
        double want;
        if (isnan(a[i]) && isnan(b[i])) want = NAN;
        else if (isnan(a[i])) want = fnan ? b[i] : a[i];
        else if (isnan(b[i])) want = fnan ? a[i] : b[i];
        else want = b[i]; /* a == b: the tie gives b */
        assert_true(isnan(want) ? isnan(o[i]) : (o[i] == want && !signbit(o[i]) == !signbit(want)));
        assert_true(isnan(want) ? isnan(of[i])
                                : (of[i] == (float)want && !signbit(of[i]) == !signbit(want)));
      }
    }
  }
  assert_int_equal(ndp_set_isa(cpu), 0);
}

static void test_bandwidth(void **state) {
  (void)state;
  ndp_bandwidth bw;
  assert_int_equal(ndp_measure_bandwidth(8 << 20, 0, 2, &bw, NULL), 0);
  assert_true(bw.copy_gbs > 0.1 && bw.triad_gbs > 0.1);
  assert_int_equal(ndp_measure_bandwidth(1 << 20, -1, 1, &bw, NULL), NDP_EINVAL);
  assert_int_equal(ndp_measure_bandwidth(1 << 20, 1, 1, NULL, NULL), NDP_EINVAL);
}

/* ---- weak operands (Python scalars, NEP 50) --------------------------------
 * Expected results are NumPy 2.4's for the same call with a Python scalar
 * (np.add(np.uint8 array, 300) raises OverflowError, and so on). */

typedef struct weak {
  ndp_array a;
  union { uint8_t b; int64_t i; uint64_t u; double d; } v;
} weak;

static const ndp_array *mkweak(weak *w, int kind, ndp_dtype dt) {
  assert_int_equal(ndp_array_init_weak(&w->a, &w->v, kind, dt), 0);
  return &w->a;
}
static const ndp_array *wint(weak *w, int64_t v) {
  w->v.i = v;
  return mkweak(w, NDP_ARRAY_WEAK_INT, NDP_INT64);
}
static const ndp_array *wuint(weak *w, uint64_t v) {
  w->v.u = v;
  return mkweak(w, NDP_ARRAY_WEAK_INT, NDP_UINT64);
}
static const ndp_array *whuge(weak *w, double v) { /* an int beyond 64 bits */
  w->v.d = v;
  return mkweak(w, NDP_ARRAY_WEAK_INT, NDP_FLOAT64);
}
static const ndp_array *wfloat(weak *w, double v) {
  w->v.d = v;
  return mkweak(w, NDP_ARRAY_WEAK_FLOAT, NDP_FLOAT64);
}
static const ndp_array *wbool(weak *w, int v) {
  w->v.b = (uint8_t)v;
  return mkweak(w, NDP_ARRAY_WEAK_BOOL, NDP_BOOL);
}

/* Resolves op(x, y) and, when it succeeds, runs it into a fresh output of
 * the result's dtype (n items, into buf); returns the code and *odt. */
static int weak_call(int op, const ndp_array *x, const ndp_array *y, ndp_casting casting,
                     int64_t n, void *buf, ndp_dtype *odt, ndp_status *st) {
  const ndp_array *in[2] = {x, y};
  ndp_dtype ldt;
  int rc = ndp_ufunc_resolve(op, in, NDP_NTYPES, casting, NDP_NTYPES, NULL, &ldt, odt, st);
  if (rc) return rc;
  ndp_array out;
  assert_int_equal(ndp_array_init(&out, buf, *odt, n ? 1 : 0, &n), 0);
  return ndp_ufunc(op, in, &out, NDP_NTYPES, casting, NULL, st);
}

static void test_weak_operands(void **state) {
  (void)state;
  uint8_t u8[3] = {0, 1, 200};
  ndp_array a, b;
  vec1(&a, u8, NDP_UINT8, 3);
  weak w;
  ndp_status st;
  ndp_dtype odt;
  _Alignas(8) unsigned char buf[64];
  const ndp_casting SK = NDP_CASTING_SAME_KIND;

  /* uint8 + 300 and 300 + uint8: OverflowError, naming the argument */
  assert_int_equal(weak_call(NDP_OP_ADD, &a, wint(&w, 300), SK, 3, buf, &odt, &st), NDP_EOVERFLOW);
  assert_non_null(strstr(st.msg, "Python integer 300 (argument 2) is out of bounds for uint8"));
  assert_int_equal(weak_call(NDP_OP_ADD, wint(&w, 300), &a, SK, 3, buf, &odt, &st), NDP_EOVERFLOW);
  assert_non_null(strstr(st.msg, "(argument 1)"));
  { /* names given: the face's own */
    const ndp_array *in[2] = {&a, wint(&w, -1)};
    const char *names[2] = {"x1", "x2"};
    assert_int_equal(ndp_ufunc_resolve(NDP_OP_MULTIPLY, in, NDP_NTYPES, SK, NDP_NTYPES, names,
                                       NULL, &odt, &st), NDP_EOVERFLOW);
    assert_non_null(strstr(st.msg, "Python integer -1 (argument 'x2')"));
  }
  /* ndp_ufunc itself refuses it too */
  {
    const ndp_array *in[2] = {&a, wint(&w, 256)};
    ndp_array out;
    vec1(&out, buf, NDP_UINT8, 3);
    assert_int_equal(ndp_ufunc(NDP_OP_ADD, in, &out, NDP_NTYPES, SK, NULL, &st), NDP_EOVERFLOW);
  }
  /* uint8 + 55 stays uint8 (255 fits) */
  assert_int_equal(weak_call(NDP_OP_ADD, &a, wint(&w, 55), SK, 3, buf, &odt, &st), 0);
  assert_int_equal(odt, NDP_UINT8);
  assert_int_equal(buf[0], 55); assert_int_equal(buf[1], 56); assert_int_equal(buf[2], 255);
  /* uint8 / 300: the float64 loop, where 300 fits */
  assert_int_equal(weak_call(NDP_OP_DIVIDE, &a, wint(&w, 300), SK, 3, buf, &odt, &st), 0);
  assert_int_equal(odt, NDP_FLOAT64);
  double *d = (double *)buf;
  assert_true(d[0] == 0.0 && d[1] == 1.0 / 300 && d[2] == 200.0 / 300);
  /* comparisons are exact: uint8 == -2 all false, > -2 all true, < 300 all true */
  assert_int_equal(weak_call(NDP_OP_EQUAL, &a, wint(&w, -2), SK, 3, buf, &odt, &st), 0);
  assert_int_equal(odt, NDP_BOOL);
  assert_true(buf[0] == 0 && buf[1] == 0 && buf[2] == 0);
  assert_int_equal(weak_call(NDP_OP_GREATER, &a, wint(&w, -2), SK, 3, buf, &odt, &st), 0);
  assert_true(buf[0] == 1 && buf[1] == 1 && buf[2] == 1);
  /* ... under every casting rule (NumPy: less(u8, 300, casting='no')) */
  assert_int_equal(weak_call(NDP_OP_LESS, &a, wint(&w, 300), NDP_CASTING_NO, 3, buf, &odt, &st), 0);
  assert_true(buf[0] == 1 && buf[1] == 1 && buf[2] == 1);
  /* uint64 == 2**64 (beyond 64 bits): false */
  uint64_t q[1] = {1};
  vec1(&b, q, NDP_UINT64, 1);
  assert_int_equal(weak_call(NDP_OP_EQUAL, &b, whuge(&w, 18446744073709551616.0), SK, 1, buf,
                             &odt, &st), 0);
  assert_int_equal(buf[0], 0);
  /* uint64 + 2**63 + 1 fits uint64; int64 + 2**63 does not fit int64 */
  assert_int_equal(weak_call(NDP_OP_ADD, &b, wuint(&w, 9223372036854775808ull), SK, 1, buf, &odt,
                             &st), 0);
  assert_int_equal(odt, NDP_UINT64);
  uint64_t r64;
  memcpy(&r64, buf, 8);
  assert_true(r64 == 9223372036854775809ull);
  int64_t s64[1] = {1};
  vec1(&b, s64, NDP_INT64, 1);
  assert_int_equal(weak_call(NDP_OP_ADD, &b, wuint(&w, 9223372036854775808ull), SK, 1, buf, &odt,
                             &st), NDP_EOVERFLOW);
  /* float32 + 1e300: float32 inf; float32 + 3: float32 */
  float f32[2] = {1, 2};
  vec1(&b, f32, NDP_FLOAT32, 2);
  assert_int_equal(weak_call(NDP_OP_ADD, &b, wfloat(&w, 1e300), SK, 2, buf, &odt, &st), 0);
  assert_int_equal(odt, NDP_FLOAT32);
  float *f = (float *)buf;
  assert_true(isinf(f[0]) && f[0] > 0 && isinf(f[1]));
  assert_int_equal(weak_call(NDP_OP_ADD, &b, wint(&w, 3), SK, 2, buf, &odt, &st), 0);
  assert_int_equal(odt, NDP_FLOAT32);
  assert_true(f[0] == 4.0f && f[1] == 5.0f);
  /* float64 + 2**1100: too large to convert to float */
  double f64[1] = {1};
  vec1(&b, f64, NDP_FLOAT64, 1);
  assert_int_equal(weak_call(NDP_OP_ADD, &b, whuge(&w, INFINITY), SK, 1, buf, &odt, &st),
                   NDP_EOVERFLOW);
  /* int8 + 2.5: float64 */
  int8_t i8[2] = {1, 2};
  vec1(&b, i8, NDP_INT8, 2);
  assert_int_equal(weak_call(NDP_OP_ADD, &b, wfloat(&w, 2.5), SK, 2, buf, &odt, &st), 0);
  assert_int_equal(odt, NDP_FLOAT64);
  assert_true(d[0] == 3.5 && d[1] == 4.5);
  /* int8 + True: int8 */
  assert_int_equal(weak_call(NDP_OP_ADD, &b, wbool(&w, 1), SK, 2, buf, &odt, &st), 0);
  assert_int_equal(odt, NDP_INT8);
  assert_true((int8_t)buf[0] == 2 && (int8_t)buf[1] == 3);
  /* bool + 5: the int64 loop */
  uint8_t bo[2] = {0, 1};
  vec1(&b, bo, NDP_BOOL, 2);
  assert_int_equal(weak_call(NDP_OP_ADD, &b, wint(&w, 5), SK, 2, buf, &odt, &st), 0);
  assert_int_equal(odt, NDP_INT64);
  int64_t *l = (int64_t *)buf;
  assert_true(l[0] == 5 && l[1] == 6);
  /* logical_and takes the truth: uint8 and 300 -> [F, T, T]; an int
   * beyond int64 is refused (NumPy reads it as a C long) */
  assert_int_equal(weak_call(NDP_OP_LOGICAL_AND, &a, wint(&w, 300), SK, 3, buf, &odt, &st), 0);
  assert_true(buf[0] == 0 && buf[1] == 1 && buf[2] == 1);
  assert_int_equal(weak_call(NDP_OP_LOGICAL_AND, &a, wuint(&w, 9223372036854775808ull), SK, 3,
                             buf, &odt, &st), NDP_EOVERFLOW);
  /* 'equiv' refuses converting a Python int to uint8 in arithmetic */
  assert_int_equal(weak_call(NDP_OP_ADD, &a, wint(&w, 3), NDP_CASTING_EQUIV, 3, buf, &odt, &st),
                   NDP_ECAST);
  assert_non_null(strstr(st.msg, "equiv"));
  /* two weak operands: 1 + 2.5 is float64 3.5; negative(5) is int64 -5 */
  weak w2;
  assert_int_equal(weak_call(NDP_OP_ADD, wint(&w, 1), wfloat(&w2, 2.5), SK, 0, buf, &odt, &st), 0);
  assert_int_equal(odt, NDP_FLOAT64);
  assert_true(d[0] == 3.5);
  assert_int_equal(weak_call(NDP_OP_NEGATIVE, wint(&w, 5), NULL, SK, 0, buf, &odt, &st), 0);
  assert_int_equal(odt, NDP_INT64);
  assert_true(l[0] == -5);
  /* a weak operand must be 0-d with its storage dtype */
  assert_int_equal(ndp_array_init_weak(&w.a, &w.v, NDP_ARRAY_WEAK_INT, NDP_INT32), NDP_EINVAL);
  wint(&w, 1);
  w.a.dtype = NDP_INT32;
  assert_int_equal(weak_call(NDP_OP_ADD, &a, &w.a, SK, 3, buf, &odt, &st), NDP_EINVAL);
  wint(&w, 1);
  w.a.ndim = 1;
  w.a.shape[0] = 1;
  assert_int_equal(weak_call(NDP_OP_ADD, &a, &w.a, SK, 3, buf, &odt, &st), NDP_EINVAL);
  /* the output's dtype is checked under the rule given */
  {
    const ndp_array *in[2] = {&a, wint(&w, 300)};
    assert_int_equal(ndp_ufunc_resolve(NDP_OP_LESS, in, NDP_NTYPES, NDP_CASTING_NO, NDP_UINT8,
                                       NULL, NULL, &odt, &st), NDP_ECAST);
  }
}

/* The expression compiler settles its weak constants and scalar variables
 * with the same core rule (NumPy 2.4's answers for the Python expression
 * with a uint8 array a and a Python int n). */
static void test_weak_in_expressions(void **state) {
  (void)state;
  uint8_t u8[3] = {0, 1, 200};
  int64_t n = 200;
  ndp_array a, nv, out;
  vec1(&a, u8, NDP_UINT8, 3);
  assert_int_equal(ndp_array_init(&nv, &n, NDP_INT64, 0, NULL), 0);
  const ndp_array *vars[2] = {&a, &nv};
  ndp_var decl[2] = {{"a", NDP_UINT8, NDP_VAR_ARRAY}, {"n", NDP_INT64, NDP_VAR_WEAK_INT}};
  ndp_status st;
  ndp_expr *e;
  _Alignas(8) unsigned char buf[64];
  static const struct {
    const char *src;
    int rc;
    ndp_dtype dt;
    uint8_t want[3]; /* bool results */
  } cases[] = {
      {"a + 300", NDP_EOVERFLOW, NDP_NTYPES, {0}},  /* OverflowError */
      {"a == -2", 0, NDP_BOOL, {0, 0, 0}},          /* exact */
      {"a < 300", 0, NDP_BOOL, {1, 1, 1}},
      {"a > -1", 0, NDP_BOOL, {1, 1, 1}},
      {"a < n * 2", 0, NDP_BOOL, {1, 1, 1}},        /* n * 2 is the Python int 400 */
      {"a < n", 0, NDP_BOOL, {1, 1, 0}},
      {"a / 300 < 1", 0, NDP_BOOL, {1, 1, 1}},      /* float64: 300 fits */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = ndp_expr_compile(cases[i].src, 2, decl, &e, &st);
    assert_int_equal(rc, cases[i].rc);
    if (rc) continue;
    assert_int_equal(ndp_expr_dtype(e), cases[i].dt);
    vec1(&out, buf, NDP_BOOL, 3);
    assert_int_equal(ndp_expr_eval(e, vars, &out, NDP_CASTING_SAME_KIND, NULL, &st), 0);
    for (int k = 0; k < 3; k++) assert_int_equal(buf[k], cases[i].want[k]);
    ndp_expr_free(e);
  }
  /* a / 300 is float64 */
  assert_int_equal(ndp_expr_compile("a / 300", 2, decl, &e, &st), 0);
  assert_int_equal(ndp_expr_dtype(e), NDP_FLOAT64);
  ndp_expr_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_transcendentals_every_isa), cmocka_unit_test(test_strided_and_orders),
      cmocka_unit_test(test_broadcast_and_cast), cmocka_unit_test(test_in_place_and_overlap),
      cmocka_unit_test(test_integer_semantics), cmocka_unit_test(test_byteswapped),
      cmocka_unit_test(test_resolution), cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_loop_list_matches_resolution),
      cmocka_unit_test(test_strided_contract),
      cmocka_unit_test(test_copy), cmocka_unit_test(test_bandwidth),
      cmocka_unit_test(test_nonzero_bool_bytes), cmocka_unit_test(test_min_max_signed_zeros),
      cmocka_unit_test(test_weak_operands), cmocka_unit_test(test_weak_in_expressions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
