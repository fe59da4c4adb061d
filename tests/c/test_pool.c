/*
 * tests/c/test_pool.c - the thread pool: every index exactly once for many
 * sizes and thread counts, concurrent callers, nesting, errors, cancel,
 * fork, and thread-count settings. Also run under ThreadSanitizer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ndpar.h"

typedef struct {
  _Atomic unsigned char *hits;
  _Atomic int max_tid;
  int nthreads;
} count_ctx;

static int count_chunk(void *vctx, int64_t b, int64_t e, int tid) {
  count_ctx *c = vctx;
  if (tid < 0 || tid >= c->nthreads) return -100;
  for (int64_t i = b; i < e; i++) atomic_fetch_add(&c->hits[i], 1);
  return 0;
}

static void check_once(int64_t n, int nthreads, int64_t grain) {
  count_ctx c = {calloc((size_t)n + 1, 1), 0, nthreads};
  assert_non_null(c.hits);
  ndp_pf_opts o = {0};
  o.nthreads = nthreads;
  o.grain = grain;
  assert_int_equal(ndp_parallel_for(n, count_chunk, &c, &o), 0);
  for (int64_t i = 0; i < n; i++) assert_int_equal(c.hits[i], 1);
  free((void *)c.hits);
}

static void test_every_index_once(void **state) {
  (void)state;
  static const int64_t sizes[] = {0, 1, 2, 3, 7, 64, 1000, 4097, 100003, 1 << 20};
  static const int threads[] = {1, 2, 3, 4, 8, 17};
  static const int64_t grains[] = {1, 3, 1000};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++)
      for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
        check_once(sizes[s], threads[t], grains[g]);
}

static int fail_at_chunk(void *vctx, int64_t b, int64_t e, int tid) {
  (void)tid;
  int64_t bad = *(int64_t *)vctx;
  return (bad >= b && bad < e) ? NDP_EDOMAIN : 0;
}

static void test_error_stops_job(void **state) {
  (void)state;
  for (int nt = 1; nt <= 4; nt++) {
    int64_t bad = 777;
    ndp_pf_opts o = {0};
    o.nthreads = nt;
    o.grain = 10;
    assert_int_equal(ndp_parallel_for(10000, fail_at_chunk, &bad, &o), NDP_EDOMAIN);
  }
  /* positive return values are reported as NDP_EUSER */
  assert_int_equal(ndp_parallel_for(5, (ndp_range_fn)(void *)0, NULL, NULL), NDP_EINVAL);
  assert_int_equal(ndp_parallel_for(-1, fail_at_chunk, NULL, NULL), NDP_EINVAL);
}

static int positive_rc(void *vctx, int64_t b, int64_t e, int tid) {
  (void)vctx, (void)b, (void)e, (void)tid;
  return 5;
}

static void test_positive_rc_is_euser(void **state) {
  (void)state;
  assert_int_equal(ndp_parallel_for(100, positive_rc, NULL, NULL), NDP_EUSER);
}

static int slow_chunk(void *vctx, int64_t b, int64_t e, int tid) {
  (void)tid;
  _Atomic int64_t *done = vctx;
  usleep(1000);
  atomic_fetch_add(done, e - b);
  return 0;
}

static int cancel_after(void *ud, double frac) {
  int *calls = ud;
  (*calls)++;
  return frac > 0.05;
}

static void test_cancel(void **state) {
  (void)state;
  _Atomic int64_t done = 0;
  int calls = 0;
  ndp_pf_opts o = {0};
  o.nthreads = 2;
  o.grain = 1;
  o.poll = cancel_after;
  o.poll_ud = &calls;
  o.poll_interval = 0.002;
  int rc = ndp_parallel_for(20000, slow_chunk, &done, &o);
  assert_int_equal(rc, NDP_ECANCELED);
  assert_true(calls >= 1);
  assert_true(atomic_load(&done) < 20000);
}

typedef struct {
  int64_t n;
  _Atomic int64_t sum;
} nest_ctx;

static int inner_chunk(void *vctx, int64_t b, int64_t e, int tid) {
  (void)tid;
  nest_ctx *c = vctx;
  atomic_fetch_add(&c->sum, e - b);
  return 0;
}

static int outer_chunk(void *vctx, int64_t b, int64_t e, int tid) {
  (void)tid;
  for (int64_t i = b; i < e; i++) {
    ndp_pf_opts o = {0};
    o.grain = 16;
    int rc = ndp_parallel_for(((nest_ctx *)vctx)->n, inner_chunk, vctx, &o);
    if (rc) return rc;
  }
  return 0;
}

static void test_nested(void **state) {
  (void)state;
  nest_ctx c = {1000, 0};
  ndp_pf_opts o = {0};
  o.grain = 1;
  o.nthreads = 4;
  assert_int_equal(ndp_parallel_for(50, outer_chunk, &c, &o), 0);
  assert_int_equal(atomic_load(&c.sum), 50 * 1000);
}

static void *caller_thread(void *arg) {
  (void)arg;
  for (int r = 0; r < 20; r++) {
    count_ctx c = {calloc(50001, 1), 0, 3};
    ndp_pf_opts o = {0};
    o.nthreads = 3;
    o.grain = 64;
    if (ndp_parallel_for(50000, count_chunk, &c, &o) != 0) return (void *)1;
    for (int i = 0; i < 50000; i++)
      if (c.hits[i] != 1) return (void *)2;
    free((void *)c.hits);
  }
  return NULL;
}

static void test_concurrent_callers(void **state) {
  (void)state;
  pthread_t t[4];
  for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, caller_thread, NULL), 0);
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(t[i], &r);
    assert_null(r);
  }
}

static void test_fork_child_uses_pool(void **state) {
  (void)state;
  check_once(100000, 4, 100); /* parent starts workers */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    count_ctx c = {calloc(100001, 1), 0, 4};
    ndp_pf_opts o = {0};
    o.nthreads = 4;
    o.grain = 100;
    alarm(20); /* a hang kills the child: the parent sees it */
    int rc = ndp_parallel_for(100000, count_chunk, &c, &o);
    for (int i = 0; i < 100000 && rc == 0; i++)
      if (c.hits[i] != 1) rc = 1;
    _exit(rc == 0 ? 0 : 3);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  check_once(100000, 4, 100); /* parent still works */
}

static void test_thread_settings(void **state) {
  (void)state;
  int def = ndp_default_num_threads();
  assert_true(def >= 1);
  assert_int_equal(ndp_set_num_threads(0), NDP_EINVAL);
  assert_int_equal(ndp_set_num_threads(-3), NDP_EINVAL);
  assert_int_equal(ndp_set_num_threads(NDP_MAX_THREADS + 1), NDP_EINVAL);
  assert_int_equal(ndp_set_num_threads(3), 0);
  assert_int_equal(ndp_get_num_threads(), 3);
  check_once(10000, 0 + 3, 10);
  assert_int_equal(ndp_set_num_threads(def), 0);
  assert_int_equal(ndp_get_num_threads(), def);
}

static void test_shutdown_restart(void **state) {
  (void)state;
  check_once(10000, 4, 10);
  ndp_shutdown();
  check_once(10000, 4, 10);
  ndp_shutdown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_index_once), cmocka_unit_test(test_error_stops_job),
      cmocka_unit_test(test_positive_rc_is_euser), cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_nested), cmocka_unit_test(test_concurrent_callers),
      cmocka_unit_test(test_fork_child_uses_pool), cmocka_unit_test(test_thread_settings),
      cmocka_unit_test(test_shutdown_restart),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
