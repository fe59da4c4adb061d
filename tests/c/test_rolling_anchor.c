/*
 * tests/c/test_rolling_anchor.c - ndp_rolling_at: a chunk of a series,
 * given its global start (anchor), gives the whole series' bits (from
 * ndp_rolling on the whole series) for every output whose window lies
 * inside the chunk: every function, trailing / centered / edge windows,
 * windows below and above 8192 (where the block grows), chunk starts on
 * and off the block grid, middle and tail chunks, min_count, NaN and inf
 * patterns, several thread counts; and a bad anchor is NDP_EINVAL.
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

#define N 60000

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}
static double unif(void) { return (double)(rnd() >> 11) * 0x1p-53; }

enum { P_OFFSET, P_NAN, P_RUNS, P_INF, NPAT };

static void fill(double *a, int pat) {
  for (int64_t i = 0; i < N; i++) {
    double v = 1e6 + 1e3 * (unif() - 0.5); /* an offset: the shifts matter */
    const double u = unif();
    if (pat == P_NAN && u < 0.05) v = NAN;
    if (pat == P_RUNS && ((i / 41) % 3 == 1 || (i > 20000 && i < 31000))) v = NAN;
    if (pat == P_INF) v = u < 0.005 ? INFINITY : u < 0.01 ? -INFINITY : u < 0.03 ? NAN : v;
    a[i] = v;
  }
}

/* bitwise equal, any NaN equal to any NaN */
static int same(double a, double b) {
  if (a != a && b != b) return 1;
  return memcmp(&a, &b, sizeof a) == 0;
}

static int run(int fn, double *x, int64_t n, double *y, const ndp_roll_opts *o, int64_t anchor,
               int nthreads) {
  ndp_array a, b;
  assert_int_equal(ndp_array_init(&a, x, NDP_FLOAT64, 1, &n), 0);
  assert_int_equal(ndp_array_init(&b, y, NDP_FLOAT64, 1, &n), 0);
  ndp_exec ex;
  memset(&ex, 0, sizeof ex);
  ex.nthreads = nthreads;
  ndp_status st;
  return ndp_rolling_at(fn, &a, &b, o, anchor, &ex, &st);
}

static void test_chunks_bit_identical(void **state) {
  (void)state;
  double *x = malloc(N * sizeof *x), *full = malloc(N * sizeof *full),
         *part = malloc(N * sizeof *part);
  assert_non_null(x);
  assert_non_null(full);
  assert_non_null(part);
  const int64_t windows[] = {1, 4, 101, 9000};
  const int64_t starts[] = {1, 777, 16383, 16384, 16385, 45000};
  long checked = 0;
  for (int pat = 0; pat < NPAT; pat++) {
    fill(x, pat);
    for (int fn = 0; fn < NDP_NROLL; fn++)
      for (int al = 0; al <= NDP_ROLL_CENTER_EDGE; al++)
        for (size_t wi = 0; wi < sizeof windows / sizeof *windows; wi++) {
          const int64_t w = windows[wi];
          if (fn == NDP_ROLL_MEDIAN || fn == NDP_ROLL_QUANTILE) /* exact: a lighter grid */
            if (pat == P_RUNS || w == 9000) continue;
          ndp_roll_opts o;
          memset(&o, 0, sizeof o);
          o.window = w;
          o.min_count = (pat == P_OFFSET || fn == NDP_ROLL_COUNT) ? 0 : (w + 1) / 2;
          o.align = (ndp_roll_align)al;
          o.q = 0.3;
          o.ddof = (fn == NDP_ROLL_VAR && w > 1) ? 1 : 0;
          assert_int_equal(run(fn, x, N, full, &o, 0, 2), 0);
          const int64_t left = al == NDP_ROLL_TRAILING ? w - 1 : w / 2,
                        right = w - 1 - left;
          for (size_t ki = 0; ki < sizeof starts / sizeof *starts; ki++) {
            const int64_t k = starts[ki];
            for (int mid = 0; mid < 2; mid++) {
              const int64_t stop = mid ? k + 12000 : N;
              if (stop > N || k - left < 0 || stop - k < 2 * w) continue;
              const int64_t lo = k - left, hi = mid ? stop + right : N;
              if (hi > N) continue;
              const int nthr = 1 + (int)(ki % 3);
              assert_int_equal(run(fn, x + lo, hi - lo, part, &o, lo, nthr), 0);
              const int64_t want_stop = mid ? stop : N - right;
              for (int64_t g = k; g < want_stop; g++)
                if (!same(part[g - lo], full[g])) {
                  print_error("fn %s align %d w %lld pattern %d chunk [%lld, %lld): output "
                              "%lld is %.17g, whole series %.17g\n",
                              ndp_roll_name(fn), al, (long long)w, pat, (long long)lo,
                              (long long)hi, (long long)g, part[g - lo], full[g]);
                  fail();
                }
              checked++;
            }
          }
        }
  }
  assert_true(checked > 1000);
  free(x);
  free(full);
  free(part);
}

/* Without the anchor a chunk's blocks start at its own start: move_std of
 * offset data then differs in the last bits (what the anchor is for). */
static void test_anchor_matters(void **state) {
  (void)state;
  double *x = malloc(N * sizeof *x), *full = malloc(N * sizeof *full),
         *part = malloc(N * sizeof *part);
  assert_non_null(x);
  assert_non_null(full);
  assert_non_null(part);
  fill(x, P_OFFSET);
  ndp_roll_opts o;
  memset(&o, 0, sizeof o);
  o.window = 1000;
  assert_int_equal(run(NDP_ROLL_STD, x, N, full, &o, 0, 1), 0);
  const int64_t k = 20001;
  assert_int_equal(run(NDP_ROLL_STD, x + k, N - k, part, &o, 0, 1), 0);
  int differ = 0;
  for (int64_t g = k + 999; g < N; g++) differ |= !same(part[g - k], full[g]);
  assert_true(differ);
  assert_int_equal(run(NDP_ROLL_STD, x + k, N - k, part, &o, k, 1), 0);
  for (int64_t g = k + 999; g < N; g++) assert_true(same(part[g - k], full[g]));
  free(x);
  free(full);
  free(part);
}

static void test_bad_anchor(void **state) {
  (void)state;
  double x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8];
  int64_t n = 8;
  ndp_array a, b;
  ndp_array_init(&a, x, NDP_FLOAT64, 1, &n);
  ndp_array_init(&b, y, NDP_FLOAT64, 1, &n);
  ndp_roll_opts o;
  memset(&o, 0, sizeof o);
  o.window = 3;
  ndp_status st;
  assert_int_equal(ndp_rolling_at(NDP_ROLL_MEAN, &a, &b, &o, -1, NULL, &st), NDP_EINVAL);
  assert_non_null(strstr(st.msg, "anchor"));
  assert_int_equal(ndp_rolling_at(NDP_ROLL_MEAN, &a, &b, &o, INT64_MAX, NULL, &st),
                   NDP_EINVAL);
  assert_int_equal(ndp_rolling_at(NDP_ROLL_MEAN, &a, &b, &o, (int64_t)1 << 62, NULL, &st), 0);
  for (int i = 2; i < 8; i++) assert_true(y[i] == x[i] - 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chunks_bit_identical),
      cmocka_unit_test(test_anchor_matters),
      cmocka_unit_test(test_bad_anchor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
