/*
 * tests/c/test_kernel.c - user kernels through the C API (ndpar/kernel.h):
 * vectorize and guvectorize kernels against plain C reference loops,
 * broadcasting, strided and 2-D cores, the bits for 1, 2 and 3 threads,
 * compile errors with their codes and line numbers, runtime errors
 * (division by zero, index out of range, fell off the end), cancellation
 * from the poll callback in an endless loop, allocation failures at
 * every allocation of compile and eval, and while loops whose lanes finish
 * at very different counts (the VM compacts the live lanes) on every
 * instruction set the CPU has.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "ndpar.h"

static ndp_status st;

static ndp_kernel *compile_ok(const char *src, int n, const ndp_kernel_arg *a) {
  ndp_kernel *k = NULL;
  int rc = ndp_kernel_compile(src, NULL, n, a, NULL, &k, &st);
  if (rc) fprintf(stderr, "compile: %s\n", st.msg);
  assert_int_equal(rc, 0);
  return k;
}

static const char *MANDEL =
    "@ndpar.vectorize\n"
    "def mandel(cr, ci):\n"
    "    zr = 0.0\n"
    "    zi = 0.0\n"
    "    n = 0\n"
    "    while n < 100 and zr * zr + zi * zi <= 4.0:\n"
    "        zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci\n"
    "        n += 1\n"
    "    return n\n";

static int64_t mandel_ref(double cr, double ci) {
  double zr = 0, zi = 0;
  int64_t n = 0;
  while (n < 100 && zr * zr + zi * zi <= 4.0) {
    double t = zr * zr - zi * zi + cr;
    zi = 2.0 * zr * zi + ci;
    zr = t;
    n++;
  }
  return n;
}

enum { W = 301, H = 97 };

static void test_vectorize_broadcast(void **state) {
  (void)state;
  ndp_kernel_arg a[2] = {{NDP_FLOAT64, 0, 0}, {NDP_FLOAT64, 0, 0}};
  ndp_kernel *k = compile_ok(MANDEL, 2, a);
  assert_int_equal(ndp_kernel_result_dtype(k), NDP_INT64);
  static double x[W], y[H];
  static int64_t out[3][H * W];
  for (int i = 0; i < W; i++) x[i] = -2.0 + 3.0 * i / (W - 1);
  for (int i = 0; i < H; i++) y[i] = -1.2 + 2.4 * i / (H - 1);
  ndp_array ax, ay, ao;
  int64_t sx[2] = {1, W}, sy[2] = {H, 1}, so[2] = {H, W};
  ndp_array_init(&ax, x, NDP_FLOAT64, 2, sx);
  ndp_array_init(&ay, y, NDP_FLOAT64, 2, sy);
  const ndp_array *args[2] = {&ax, &ay};
  for (int t = 0; t < 3; t++) {
    ndp_array_init(&ao, out[t], NDP_INT64, 2, so);
    ndp_exec ex = {t + 1, NULL, NULL, 0};
    assert_int_equal(ndp_kernel_eval(k, args, &ao, &ex, &st), 0);
  }
  for (int i = 0; i < H; i++)
    for (int j = 0; j < W; j++) assert_int_equal(out[0][i * W + j], mandel_ref(x[j], y[i]));
  assert_memory_equal(out[0], out[1], sizeof out[0]);
  assert_memory_equal(out[0], out[2], sizeof out[0]);
  /* a wrongly typed argument is refused */
  ndp_array bad;
  int64_t n = W;
  ndp_array_init(&bad, out[0], NDP_INT64, 1, &n);
  const ndp_array *args2[2] = {&bad, &ay};
  assert_int_equal(ndp_kernel_eval(k, args2, &ao, NULL, &st), NDP_ETYPE);
  ndp_kernel_free(k);
}

static void test_guvectorize_rows(void **state) {
  (void)state;
  const char *src =
      "def runmax(x, out):\n"
      "    m = -1e308\n"
      "    for j in range(len(x)):\n"
      "        if x[j] < 0:\n"
      "            m = -1e308\n"
      "        m = max(m, x[j])\n"
      "        out[j] = m\n";
  ndp_kernel_arg a[2] = {{NDP_INT32, 1, 0}, {NDP_NTYPES, 1, 1}};
  ndp_kernel *k = compile_ok(src, 2, a);
  assert_int_equal(ndp_kernel_arg_dtype(k, 1), NDP_FLOAT64);
  enum { R = 37, C = 29 };
  static int32_t x[C][R]; /* rows are strided: x transposed */
  static double out[R][C];
  srand(3);
  for (int i = 0; i < R; i++)
    for (int j = 0; j < C; j++) x[j][i] = rand() % 200 - 50;
  ndp_array ax = {x, NDP_INT32, 2, 0, {R, C}, {4, 4 * R}}, ao;
  int64_t so[2] = {R, C};
  ndp_array_init(&ao, out, NDP_FLOAT64, 2, so);
  const ndp_array *args[2] = {&ax, &ao};
  assert_int_equal(ndp_kernel_eval(k, args, NULL, NULL, &st), 0);
  for (int i = 0; i < R; i++) {
    double m = -1e308;
    for (int j = 0; j < C; j++) {
      if (x[j][i] < 0) m = -1e308;
      if (x[j][i] > m) m = x[j][i];
      assert_true(out[i][j] == m);
    }
  }
  ndp_kernel_free(k);
}

static void test_compile_errors(void **state) {
  (void)state;
  static const struct {
    const char *src;
    int code;
    long line;
    const char *msg;
  } cases[] = {
      {"def f(x):\n    return [1]\n", NDP_ESYNTAX, 2, "lists"},
      {"\n\ndef f(x):\n    y = 1\n    return g(x)\n", NDP_ETYPE, 5, "unknown function 'g'"},
      {"def f(x):\n    return z\n", NDP_ENAME, 2, "name 'z' is not defined"},
      {"def f(x):\n    if x:\n    return 1\n", NDP_ESYNTAX, 3, "indented block"},
      {"def f(x):\n    return 'a'\n", NDP_ESYNTAX, 2, "strings"},
      {"def f(x):\n    return f(x)\n", NDP_ETYPE, 2, "recursion"},
      {"x = 1\n", NDP_ESYNTAX, 2, "no function"}, /* at the end of the text */
      {"def f(x):\n    return x.y\n", NDP_ETYPE, 2, "attribute"},
  };
  ndp_kernel_arg a = {NDP_FLOAT64, 0, 0};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    ndp_kernel *k = NULL;
    int rc = ndp_kernel_compile(cases[i].src, NULL, 1, &a, NULL, &k, &st);
    assert_null(k);
    assert_int_equal(rc, cases[i].code);
    assert_int_equal(st.pos, cases[i].line);
    assert_non_null(strstr(st.msg, cases[i].msg));
    char want[32];
    snprintf(want, sizeof want, "(line %ld)", cases[i].line);
    assert_non_null(strstr(st.msg, want));
  }
  /* first_line shifts the numbers; check parses only */
  ndp_kernel_opts o = {10, 0, NULL};
  int np = -1;
  assert_int_equal(ndp_kernel_check("def f(a, b):\n    return a\n", NULL, &o, &np, &st), 0);
  assert_int_equal(np, 2);
  ndp_kernel *k = NULL;
  assert_int_equal(ndp_kernel_compile("def f(x):\n  return [x]\n", "f", 1, &a, &o, &k, &st),
                   NDP_ESYNTAX);
  assert_int_equal(st.pos, 11);
  assert_int_equal(ndp_kernel_compile("def f(x, y):\n  return x\n", "f", 1, &a, NULL, &k, &st),
                   NDP_EINVAL);
  assert_int_equal(ndp_kernel_compile("def f(x):\n  return x\n", "g", 1, &a, NULL, &k, &st),
                   NDP_ENAME);
}

static void test_runtime_errors(void **state) {
  (void)state;
  ndp_kernel_arg a[2] = {{NDP_INT64, 0, 0}, {NDP_INT64, 0, 0}};
  ndp_kernel *k = compile_ok("def f(a, b):\n    c = a + 1\n    return c // b\n", 2, a);
  int64_t x[5] = {1, 2, 3, 4, 5}, y[5] = {1, 1, 0, 1, 1}, o[5];
  int64_t n = 5;
  ndp_array ax, ay, ao;
  ndp_array_init(&ax, x, NDP_INT64, 1, &n);
  ndp_array_init(&ay, y, NDP_INT64, 1, &n);
  ndp_array_init(&ao, o, NDP_INT64, 1, &n);
  const ndp_array *args[2] = {&ax, &ay};
  assert_int_equal(ndp_kernel_eval(k, args, &ao, NULL, &st), NDP_EDOMAIN);
  assert_int_equal(st.pos, 3);
  assert_non_null(strstr(st.msg, "division"));
  ndp_kernel_free(k);
  k = compile_ok("def f(a, b):\n    if a > 2:\n        return b\n", 2, a);
  assert_int_equal(ndp_kernel_eval(k, args, &ao, NULL, &st), NDP_EUSER);
  ndp_kernel_free(k);
}

/* lanes of a block finish after 0 .. 700 iterations: the loop runs on
 * fewer and fewer compacted lanes, and each lane's x, c and the nested
 * loop's s must still be its own */
static const char *COUNTDOWN =
    "def f(n, x):\n"
    "    c = 0\n"
    "    s = 0\n"
    "    while n > 0:\n"
    "        x = x * 0.5 + 1.0\n"
    "        n -= 1\n"
    "        c += 1\n"
    "        j = 0\n"
    "        while j < n % 5:\n"
    "            j += 1\n"
    "            s += j\n"
    "    return x + c * 1000.0 + s * 1e6\n";

static double countdown_ref(int64_t n, double x) {
  int64_t c = 0, s = 0;
  while (n > 0) {
    x = x * 0.5 + 1.0;
    n -= 1;
    c += 1;
    for (int64_t j = 1; j <= n % 5; j++) s += j;
  }
  return x + (double)c * 1000.0 + (double)s * 1e6;
}

static void test_while_compaction(void **state) {
  (void)state;
  ndp_kernel_arg a[2] = {{NDP_INT64, 0, 0}, {NDP_FLOAT64, 0, 0}};
  ndp_kernel *k = compile_ok(COUNTDOWN, 2, a);
  enum { N = 1000 };
  static int64_t n[N];
  static double x[N], out[N];
  uint64_t r = 88172645463325252ull;
  for (int i = 0; i < N; i++) {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    n[i] = i % 64 < 48 ? 0 : (int64_t)(r % 700); /* 3 of 4 lanes done at once */
    if (i % 97 == 5) n[i] = 700;
    x[i] = (double)(r >> 11) / 9007199254740992.0 - 0.5;
  }
  ndp_array an, ax, ao;
  int64_t len = N;
  ndp_array_init(&an, n, NDP_INT64, 1, &len);
  ndp_array_init(&ax, x, NDP_FLOAT64, 1, &len);
  ndp_array_init(&ao, out, NDP_FLOAT64, 1, &len);
  const ndp_array *args[2] = {&an, &ax};
  ndp_isa before = ndp_get_isa();
  for (int isa = NDP_ISA_REF; isa <= (int)ndp_cpu_isa(); isa++) {
    if (ndp_set_isa((ndp_isa)isa)) continue;
    for (int t = 1; t <= 3; t += 2) {
      memset(out, 0, sizeof out);
      ndp_exec ex = {t, NULL, NULL, 0};
      assert_int_equal(ndp_kernel_eval(k, args, &ao, &ex, &st), 0);
      for (int i = 0; i < N; i++) assert_true(out[i] == countdown_ref(n[i], x[i]));
    }
  }
  ndp_set_isa(before);
  ndp_kernel_free(k);
}

static int polls;
static int cancel_after(void *ud, double f) {
  (void)ud;
  (void)f;
  return ++polls >= 3;
}

static void test_cancel_endless_loop(void **state) {
  (void)state;
  ndp_kernel_arg a = {NDP_FLOAT64, 0, 0};
  ndp_kernel *k = compile_ok("def f(x):\n    while True:\n        x = x + 1.0\n    return x\n", 1, &a);
  static double x[10000], o[10000];
  int64_t n = 10000;
  ndp_array ax, ao;
  ndp_array_init(&ax, x, NDP_FLOAT64, 1, &n);
  ndp_array_init(&ao, o, NDP_FLOAT64, 1, &n);
  const ndp_array *args[1] = {&ax};
  for (int t = 1; t <= 2; t++) {
    polls = 0;
    ndp_exec ex = {t, cancel_after, NULL, 0.001};
    assert_int_equal(ndp_kernel_eval(k, args, &ao, &ex, &st), NDP_ECANCELED);
  }
  ndp_kernel_free(k);
}

static void test_alloc_failures(void **state) {
  (void)state;
  ndp_kernel_arg a[2] = {{NDP_FLOAT64, 0, 0}, {NDP_FLOAT64, 0, 0}};
  static double x[100], o[100];
  int64_t n = 100;
  ndp_array ax, ao;
  ndp_array_init(&ax, x, NDP_FLOAT64, 1, &n);
  ndp_array_init(&ao, o, NDP_INT64, 1, &n);
  const ndp_array *args[2] = {&ax, &ax};
  int ok = 0;
  for (long i = 0; i < 500 && !ok; i++) {
    ndp_kernel *k = NULL;
    ndp__fail_alloc_after(i);
    int rc = ndp_kernel_compile(MANDEL, NULL, 2, a, NULL, &k, &st);
    if (rc == 0) rc = ndp_kernel_eval(k, args, &ao, NULL, &st);
    ndp__fail_alloc_after(-1);
    assert_true(rc == 0 || rc == NDP_ENOMEM);
    ok = rc == 0;
    ndp_kernel_free(k);
  }
  assert_true(ok);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectorize_broadcast), cmocka_unit_test(test_guvectorize_rows),
      cmocka_unit_test(test_compile_errors),      cmocka_unit_test(test_runtime_errors),
      cmocka_unit_test(test_cancel_endless_loop), cmocka_unit_test(test_alloc_failures),
      cmocka_unit_test(test_while_compaction),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  ndp_shutdown();
  return rc;
}
