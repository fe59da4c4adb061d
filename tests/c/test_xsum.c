/*
 * tests/c/test_xsum.c - the exact-sum API (ndp_xsum_*, ndpar/expr.h):
 * sums whose exact values are known by construction (terms that cancel
 * exactly, plus a remainder whose correctly rounded value is computed
 * here), round-to-nearest-even ties, subnormals, overflow, specials;
 * split-and-merge invariance; the serialized form (round trip, canonical,
 * bad input); and ndp_expr_eval's sum for several thread counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ndpar.h"

static uint64_t rng_state = 0x853C49E6748FEA9Bull;
static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}
/* any finite double, every exponent equally likely */
static double any_double(void) {
  uint64_t u = rnd() & ~(UINT64_C(0x7ff) << 52);
  u |= (uint64_t)(rnd() % 0x7ff) << 52;
  double d;
  memcpy(&d, &u, 8);
  return d;
}

static double sum_of(const double *x, int64_t n) {
  ndp_xsum s;
  ndp_xsum_init(&s);
  ndp_xsum_add(&s, x, n);
  return ndp_xsum_round(&s);
}

static int same(double a, double b) { return memcmp(&a, &b, 8) == 0 || (a != a && b != b); }

/* terms that cancel exactly (x and -x, shuffled) around a few remainders
 * r whose sum is exact in double: the result must be that sum, bit for bit */
static void test_cancellation(void **state) {
  (void)state;
  enum { N = 50000 };
  double *x = malloc(sizeof(double) * (2 * N + 3));
  assert_non_null(x);
  for (int trial = 0; trial < 20; trial++) {
    for (int i = 0; i < N; i++) {
      x[2 * i] = any_double() / (trial % 2 ? 1.0 : 1e300); /* no overflow in some */
      x[2 * i + 1] = -x[2 * i];
    }
    const double r = ldexp((double)(rnd() % 1000), (int)(rnd() % 200) - 100);
    x[2 * N] = r;
    x[2 * N + 1] = 0x1p-1074;
    x[2 * N + 2] = -0x1p-1074;
    for (int i = 2 * N + 2; i > 0; i--) { /* shuffle */
      const int j = (int)(rnd() % (uint64_t)(i + 1));
      const double t = x[i];
      x[i] = x[j];
      x[j] = t;
    }
    assert_true(same(sum_of(x, 2 * N + 3), r));
    /* any split, merged in any order */
    ndp_xsum a, b, c;
    ndp_xsum_init(&a);
    ndp_xsum_init(&b);
    const int64_t k = (int64_t)(rnd() % (2 * N + 3));
    ndp_xsum_add(&a, x, k);
    ndp_xsum_add(&b, x + k, 2 * N + 3 - k);
    c = b;
    ndp_xsum_merge(&c, &a);
    ndp_xsum_merge(&a, &b);
    assert_true(same(ndp_xsum_round(&a), r));
    assert_true(same(ndp_xsum_round(&c), r));
  }
  free(x);
}

static void test_rounding(void **state) {
  (void)state;
  /* ties to even, and the sticky bits far below */
  const double t1[] = {1.0, 0x1p-53};                  /* tie: stays 1 */
  const double t2[] = {1.0 + 0x1p-52, 0x1p-53};        /* tie: up to even */
  const double t3[] = {1.0, 0x1p-53, 0x1p-1074};       /* above the tie: up */
  const double t4[] = {1.0, 0x1p-53, -0x1p-1074};      /* below: down */
  const double t5[] = {0x1p-1074, 0x1p-1074, 0x1p-1073}; /* subnormals, exact */
  const double t6[] = {1.7976931348623157e308, 1.7976931348623157e308, -1.7976931348623157e308};
  const double t7[] = {1.7976931348623157e308, 0x1p970}; /* DBL_MAX + ulp/2: inf */
  const double t8[] = {1.7976931348623157e308, 0x1p969}; /* below the tie: DBL_MAX */
  assert_true(same(sum_of(t1, 2), 1.0));
  assert_true(same(sum_of(t2, 2), 1.0 + 0x1p-51));
  assert_true(same(sum_of(t3, 3), 1.0 + 0x1p-52));
  assert_true(same(sum_of(t4, 3), 1.0));
  assert_true(same(sum_of(t5, 3), 0x1p-1072));
  assert_true(same(sum_of(t6, 3), 1.7976931348623157e308));
  assert_true(same(sum_of(t7, 2), INFINITY));
  assert_true(same(sum_of(t8, 2), 1.7976931348623157e308));
  const double neg[] = {-1.0, -0x1p-53, -0x1p-1074};
  assert_true(same(sum_of(neg, 3), -(1.0 + 0x1p-52)));
  const double z[] = {-0.0, -0.0};
  assert_true(same(sum_of(z, 2), 0.0));
  assert_true(same(sum_of(z, 0), 0.0));
  const double sp1[] = {INFINITY, 1.0}, sp2[] = {INFINITY, -INFINITY}, sp3[] = {1.0, NAN};
  assert_true(same(sum_of(sp1, 2), INFINITY));
  assert_true(isnan(sum_of(sp2, 2)));
  assert_true(isnan(sum_of(sp3, 2)));
}

static void test_dot(void **state) {
  (void)state;
  /* (1 + 2^-30)(1 - 2^-30) = 1 - 2^-60: the rounded product is 1, the FMA
   * error term carries the rest */
  const double a[] = {1.0 + 0x1p-30, -1.0}, b[] = {1.0 - 0x1p-30, 1.0};
  ndp_xsum s;
  ndp_xsum_init(&s);
  ndp_xsum_add_dot(&s, a, b, 2);
  assert_true(same(ndp_xsum_round(&s), -0x1p-60));
}

static void test_bytes(void **state) {
  (void)state;
  double x[1000];
  for (int i = 0; i < 1000; i++) x[i] = any_double() * 1e-200;
  ndp_xsum a, b, c;
  ndp_xsum_init(&a);
  ndp_xsum_add(&a, x, 1000);
  unsigned char buf[NDP_XSUM_BYTES], buf2[NDP_XSUM_BYTES];
  ndp_xsum_to_bytes(&a, buf);
  ndp_status st;
  assert_int_equal(ndp_xsum_from_bytes(&b, buf, sizeof buf, &st), 0);
  assert_true(same(ndp_xsum_round(&b), ndp_xsum_round(&a)));
  /* canonical: the same sum, another order, gives the same bytes */
  ndp_xsum_init(&c);
  for (int i = 999; i >= 0; i--) ndp_xsum_add(&c, x + i, 1);
  ndp_xsum_to_bytes(&c, buf2);
  assert_memory_equal(buf, buf2, sizeof buf);
  assert_int_equal(ndp_xsum_from_bytes(&b, buf, sizeof buf - 1, &st), NDP_EINVAL);
  buf2[0] = 'X';
  assert_int_equal(ndp_xsum_from_bytes(&b, buf2, sizeof buf2, &st), NDP_EINVAL);
  assert_non_null(strstr(st.msg, "magic"));
  memcpy(buf2, buf, sizeof buf);
  buf2[16 + 4] = 1; /* chunk 0 >= 2^32 */
  assert_int_equal(ndp_xsum_from_bytes(&b, buf2, sizeof buf2, &st), NDP_EINVAL);
  assert_int_equal(ndp_xsum_from_bytes(&b, NULL, 0, &st), NDP_EINVAL);
}

static void test_expr_threads(void **state) {
  (void)state;
  enum { N = 300000 };
  double *x = malloc(sizeof(double) * N), r = 0, want;
  assert_non_null(x);
  for (int i = 0; i < N; i += 2) x[i] = any_double() * 1e-300, x[i + 1] = -x[i];
  x[17] += 1.0; /* no longer cancels exactly: the exact sum is x[16] + x[17] rounded */
  want = sum_of(x, N);
  ndp_var v;
  memset(&v, 0, sizeof v);
  v.name = "x";
  v.dtype = NDP_FLOAT64;
  ndp_status st;
  ndp_expr *e = NULL;
  assert_int_equal(ndp_expr_compile("sum(x)", 1, &v, &e, &st), 0);
  int64_t n = N;
  ndp_array a, o;
  ndp_array_init(&a, x, NDP_FLOAT64, 1, &n);
  ndp_array_init(&o, &r, NDP_FLOAT64, 0, NULL);
  const ndp_array *vars[] = {&a};
  for (int t = 1; t <= 4; t++) {
    ndp_exec ex;
    memset(&ex, 0, sizeof ex);
    ex.nthreads = t;
    assert_int_equal(ndp_expr_eval(e, vars, &o, NDP_CASTING_SAME_KIND, &ex, &st), 0);
    assert_true(same(r, want));
  }
  ndp_expr_free(e);
  free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cancellation), cmocka_unit_test(test_rounding),
      cmocka_unit_test(test_dot),          cmocka_unit_test(test_bytes),
      cmocka_unit_test(test_expr_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
