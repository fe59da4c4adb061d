/*
 * tests/c/test_shm.c - shared-memory arrays: anonymous and named segments,
 * attach from this process and from forked children, names that die with
 * their creator (close, SIGKILL, not kept by a forked child), argument
 * checks, zero-size arrays, out-of-memory injection, descriptors never
 * leaked, bogus segments served by a test-only server (NDP_EFORMAT, no
 * crash), concurrent create/attach/close (also run under TSan), the
 * holder of a taken name named in the error, and attach interrupted by
 * its callback while a server does not answer. Names whose abstract
 * address is held by something else (a socket of ours that does not
 * listen; as root, a process of uid 65534) fall back to a socket file in
 * $XDG_RUNTIME_DIR/ndpar (a temporary directory set in main): found by
 * attach from another process, never the squatter's memory, stale files
 * of a SIGKILLed creator replaced, the file removed by close, one name
 * across both kinds, an unsafe directory (owned by another uid, or
 * /tmp/ndpar-<uid> in a private mount namespace) refused naming its owner.
 *
 * Children report through their exit status and leave with _exit().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>

#include "ndpar.h"
#include "shm/shm_internal.h"

/* ---- helpers ------------------------------------------------------------ */

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  int n = 0;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

/* A name unique to this process and call site. */
static const char *uname_(const char *tag, int i) {
  static _Thread_local char buf[96];
  snprintf(buf, sizeof buf, "test-%ld-%s-%d", (long)getpid(), tag, i);
  return buf;
}

static int wait_child(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static int attach_code(const char *name) {
  ndp_shm *s = NULL;
  ndp_status st;
  int rc = ndp_shm_attach(name, &s, &st);
  if (rc == 0) ndp_shm_close(s);
  else assert_null(s);
  return rc;
}

static void fill_rows(const ndp_array *a, int64_t r0, int64_t r1, double base) {
  double *d = a->data;
  for (int64_t i = r0; i < r1; i++)
    for (int64_t j = 0; j < a->shape[1]; j++) d[i * a->shape[1] + j] = base + (double)i;
}

static int rows_are(const ndp_array *a, int64_t r0, int64_t r1, double base) {
  const double *d = a->data;
  for (int64_t i = r0; i < r1; i++)
    for (int64_t j = 0; j < a->shape[1]; j++)
      if (d[i * a->shape[1] + j] != base + (double)i) return 0;
  return 1;
}

/* ---- anonymous ---------------------------------------------------------- */

static void test_anonymous_zeros_and_fork(void **state) {
  (void)state;
  int64_t shape[2] = {200, 300};
  static const unsigned flags[] = {0, NDP_SHM_NOTOUCH, NDP_SHM_NOHUGE};
  for (int f = 0; f < 3; f++)
    for (int nt = 0; nt <= 3; nt++) {
      ndp_shm *s = NULL;
      ndp_status st;
      assert_int_equal(ndp_shm_create(NULL, NDP_FLOAT64, 2, shape, flags[f], nt, &s, &st), 0);
      const ndp_array *a = ndp_shm_array(s);
      assert_string_equal(ndp_shm_name(s), "");
      assert_true(ndp_shm_is_creator(s));
      assert_int_equal(ndp_shm_nbytes(s), 200 * 300 * 8);
      assert_int_equal(a->dtype, NDP_FLOAT64);
      assert_int_equal(a->ndim, 2);
      assert_int_equal(a->strides[0], 300 * 8);
      assert_int_equal(a->strides[1], 8);
      assert_int_equal((uintptr_t)a->data % 4096, 0);
      const double *d = a->data;
      for (int64_t i = 0; i < 200 * 300; i++) assert_true(d[i] == 0.0);
      fill_rows(a, 0, 100, 1.0);
      pid_t pid = fork();
      assert_true(pid >= 0);
      if (pid == 0) {
        int ok = rows_are(a, 0, 100, 1.0);
        fill_rows(a, 100, 200, 1000.0);
        _exit(ok ? 0 : 1);
      }
      assert_int_equal(wait_child(pid), 0);
      assert_true(rows_are(a, 100, 200, 1000.0));
      ndp_shm_close(s);
    }
}

static void test_zero_size_and_scalar(void **state) {
  (void)state;
  int64_t shape[3] = {4, 0, 7};
  ndp_shm *s = NULL;
  assert_int_equal(ndp_shm_create(uname_("zero", 0), NDP_INT32, 3, shape, 0, 0, &s, NULL), 0);
  assert_int_equal(ndp_shm_nbytes(s), 0);
  assert_non_null(ndp_shm_array(s)->data);
  assert_int_equal(ndp_shm_array(s)->shape[1], 0);
  ndp_shm *t = NULL;
  assert_int_equal(ndp_shm_attach(uname_("zero", 0), &t, NULL), 0);
  assert_int_equal(ndp_shm_nbytes(t), 0);
  assert_int_equal(ndp_shm_array(t)->ndim, 3);
  assert_int_equal(ndp_shm_array(t)->shape[2], 7);
  ndp_shm_close(t);
  ndp_shm_close(s);

  /* ndim 0: one element; shape may be NULL */
  assert_int_equal(ndp_shm_create(uname_("scalar", 0), NDP_UINT16, 0, NULL, 0, 1, &s, NULL), 0);
  assert_int_equal(ndp_shm_nbytes(s), 2);
  *(uint16_t *)ndp_shm_array(s)->data = 4242;
  assert_int_equal(ndp_shm_attach(uname_("scalar", 0), &t, NULL), 0);
  assert_int_equal(ndp_shm_array(t)->ndim, 0);
  assert_int_equal(*(uint16_t *)ndp_shm_array(t)->data, 4242);
  ndp_shm_close(t);
  ndp_shm_close(s);
  ndp_shm_close(NULL); /* allowed */
  ndp_shm_unpublish(NULL);
  assert_null(ndp_shm_array(NULL));
}

/* ---- named, one process ------------------------------------------------- */

static void test_named_same_process(void **state) {
  (void)state;
  const char *name = uname_("same", 0);
  int64_t shape[2] = {64, 33};
  ndp_shm *c = NULL, *a = NULL, *a2 = NULL;
  ndp_status st;
  assert_int_equal(ndp_shm_create(name, NDP_FLOAT64, 2, shape, 0, 2, &c, &st), 0);
  assert_string_equal(ndp_shm_name(c), name);
  assert_true(ndp_shm_is_creator(c));
  assert_int_equal(ndp_shm_attach(name, &a, &st), 0);
  assert_false(ndp_shm_is_creator(a));
  assert_string_equal(ndp_shm_name(a), name);
  assert_int_equal(ndp_shm_nbytes(a), 64 * 33 * 8);
  const ndp_array *aa = ndp_shm_array(a);
  assert_int_equal(aa->dtype, NDP_FLOAT64);
  assert_int_equal(aa->shape[0], 64);
  assert_int_equal(aa->shape[1], 33);
  assert_int_equal(aa->strides[0], 33 * 8);
  assert_int_equal((uintptr_t)aa->data % 64, 0);
  assert_ptr_not_equal(aa->data, ndp_shm_array(c)->data);
  fill_rows(aa, 0, 64, 5.0);
  assert_true(rows_are(ndp_shm_array(c), 0, 64, 5.0));

  /* the name is taken */
  ndp_shm *dup = NULL;
  assert_int_equal(ndp_shm_create(name, NDP_INT8, 0, NULL, 0, 0, &dup, &st), NDP_EEXIST);
  assert_null(dup);
  assert_int_equal(st.code, NDP_EEXIST);
  char want[64]; /* this process holds it, and is named */
  snprintf(want, sizeof want, "already used by process %ld", (long)getpid());
  assert_non_null(strstr(st.msg, want));

  /* closing an attached handle does not unpublish */
  ndp_shm_close(a);
  ndp_shm_unpublish(a2); /* NULL: no-op */
  assert_int_equal(ndp_shm_attach(name, &a2, NULL), 0);
  ndp_shm_unpublish(a2); /* attached: no-op */
  assert_int_equal(attach_code(name), 0);

  /* creator closes: the name is gone, the attached mapping stays */
  ndp_shm_close(c);
  assert_int_equal(ndp_shm_attach(name, &a, &st), NDP_ENOENT);
  assert_null(a);
  assert_non_null(strstr(st.msg, "no shared array named"));
  assert_true(rows_are(ndp_shm_array(a2), 0, 64, 5.0));
  /* and the name can be created again */
  assert_int_equal(ndp_shm_create(name, NDP_INT8, 1, shape, 0, 0, &c, NULL), 0);
  ndp_shm_close(c);
  ndp_shm_close(a2);
}

static void test_unpublish(void **state) {
  (void)state;
  const char *name = uname_("unpub", 0);
  int64_t n = 1000;
  ndp_shm *c = NULL;
  assert_int_equal(ndp_shm_create(name, NDP_INT64, 1, &n, 0, 0, &c, NULL), 0);
  assert_int_equal(attach_code(name), 0);
  ndp_shm_unpublish(c);
  assert_int_equal(attach_code(name), NDP_ENOENT);
  ndp_shm_unpublish(c); /* twice: no-op */
  int64_t *d = ndp_shm_array(c)->data;
  d[999] = 7; /* still mapped */
  assert_int_equal(d[999], 7);
  ndp_shm_close(c);
}

static void test_errors(void **state) {
  (void)state;
  int64_t shape[2] = {3, 4};
  ndp_shm *s = (ndp_shm *)(uintptr_t)1;
  ndp_status st;
  assert_int_equal(ndp_shm_create(NULL, NDP_FLOAT32, 2, shape, 0, 0, NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_shm_attach("x", NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_shm_attach(NULL, &s, &st), NDP_EINVAL);
  assert_null(s);
  static const char *bad[] = {"", "a b", "a/b", "caf\xc3\xa9", "x\n", "name*", "#abc"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(ndp_shm_create(bad[i], NDP_FLOAT32, 2, shape, 0, 0, &s, &st), NDP_EINVAL);
    assert_null(s);
    assert_int_equal(ndp_shm_attach(bad[i], &s, &st), NDP_EINVAL);
  }
  char longname[NDP_SHM_NAME_MAX + 2];
  memset(longname, 'a', sizeof longname);
  longname[NDP_SHM_NAME_MAX + 1] = '\0';
  assert_int_equal(ndp_shm_create(longname, NDP_FLOAT32, 2, shape, 0, 0, &s, &st), NDP_EINVAL);
  assert_int_equal(ndp_shm_attach(longname, &s, &st), NDP_EINVAL);
  assert_int_equal(ndp_shm_create(NULL, (ndp_dtype)NDP_NTYPES, 2, shape, 0, 0, &s, &st), NDP_EINVAL);
  assert_int_equal(ndp_shm_create(NULL, (ndp_dtype)-1, 2, shape, 0, 0, &s, &st), NDP_EINVAL);
  assert_int_equal(ndp_shm_create(NULL, NDP_INT8, -1, shape, 0, 0, &s, &st), NDP_EINVAL);
  assert_int_equal(ndp_shm_create(NULL, NDP_INT8, NDP_MAXDIMS + 1, shape, 0, 0, &s, &st), NDP_EINVAL);
  assert_int_equal(ndp_shm_create(NULL, NDP_INT8, 2, NULL, 0, 0, &s, &st), NDP_EINVAL);
  assert_int_equal(ndp_shm_create(NULL, NDP_INT8, 2, shape, 4u, 0, &s, &st), NDP_EINVAL);
  assert_int_equal(ndp_shm_create(NULL, NDP_INT8, 2, shape, 0, -1, &s, &st), NDP_EINVAL);
  int64_t neg[2] = {3, -1};
  assert_int_equal(ndp_shm_create(NULL, NDP_INT8, 2, neg, 0, 0, &s, &st), NDP_EINVAL);
  int64_t big[3] = {INT64_MAX / 2, 4, 1};
  assert_int_equal(ndp_shm_create(NULL, NDP_INT8, 2, big, 0, 0, &s, &st), NDP_EOVERFLOW);
  int64_t big2[2] = {INT64_MAX / 8, 2};
  assert_int_equal(ndp_shm_create(NULL, NDP_FLOAT64, 2, big2, 0, 0, &s, &st), NDP_EOVERFLOW);
  int64_t edge[1] = {INT64_MAX - 100};
  assert_int_equal(ndp_shm_create(NULL, NDP_UINT8, 1, edge, 0, 0, &s, &st), NDP_EOVERFLOW);
  /* as NumPy: non-zero extents may not overflow even beside a zero one */
  int64_t z[3] = {INT64_MAX, 0, INT64_MAX};
  assert_int_equal(ndp_shm_create(NULL, NDP_FLOAT64, 3, z, 0, 0, &s, &st), NDP_EOVERFLOW);
  int64_t z2[3] = {INT64_MAX / 8, 0, 1};
  assert_int_equal(ndp_shm_create(NULL, NDP_FLOAT64, 3, z2, 0, 0, &s, &st), 0);
  assert_int_equal(ndp_shm_nbytes(s), 0);
  ndp_shm_close(s);
  /* more than the machine has: refused by the system, no crash */
  int64_t huge[1] = {INT64_C(1) << 56};
  int rc = ndp_shm_create(NULL, NDP_UINT8, 1, huge, 0, 0, &s, &st);
  assert_true(rc == NDP_ENOMEM || rc == NDP_EOVERFLOW);
  assert_null(s);
  /* mappable (the address space is larger) but more than RAM + swap:
   * refused before touching, not left to the OOM killer */
  int64_t tib[2] = {INT64_C(1) << 20, INT64_C(1) << 26}; /* 64 TiB */
  assert_int_equal(ndp_shm_create(NULL, NDP_UINT8, 2, tib, 0, 0, &s, &st), NDP_ENOMEM);
  assert_non_null(strstr(st.msg, "memory and swap"));
  /* not touched: no such check (sparse use); only pages written count */
  int64_t gib64[1] = {INT64_C(1) << 36};
  assert_int_equal(ndp_shm_create(NULL, NDP_UINT8, 1, gib64, NDP_SHM_NOTOUCH, 0, &s, &st), 0);
  ((uint8_t *)ndp_shm_array(s)->data)[gib64[0] - 1] = 1;
  ndp_shm_close(s);
  /* an unknown name */
  assert_int_equal(ndp_shm_attach(uname_("nobody", 0), &s, &st), NDP_ENOENT);
  assert_int_equal(st.code, NDP_ENOENT);
}

static void test_longest_name(void **state) {
  (void)state;
  /* too long for sun_path: the address hashes it; the header keeps it */
  char name[NDP_SHM_NAME_MAX + 1];
  int n = snprintf(name, sizeof name, "%ld-", (long)getpid());
  memset(name + n, 'z', sizeof name - 1 - (size_t)n);
  name[NDP_SHM_NAME_MAX] = '\0';
  char other[NDP_SHM_NAME_MAX + 1];
  memcpy(other, name, sizeof other);
  other[NDP_SHM_NAME_MAX - 1] = 'y';
  int64_t len = 10;
  ndp_shm *c = NULL, *a = NULL;
  assert_int_equal(ndp_shm_create(name, NDP_INT16, 1, &len, 0, 0, &c, NULL), 0);
  assert_int_equal(ndp_shm_attach(name, &a, NULL), 0);
  assert_string_equal(ndp_shm_name(a), name);
  assert_int_equal(attach_code(other), NDP_ENOENT);
  ndp_shm_close(a);
  ndp_shm_close(c);
}

static void test_many_names(void **state) {
  (void)state;
  enum { N = 40 };
  ndp_shm *c[N], *a[N];
  for (int i = 0; i < N; i++) {
    int64_t len = i + 1;
    assert_int_equal(ndp_shm_create(uname_("many", i), NDP_INT32, 1, &len, 0, 1, &c[i], NULL), 0);
    ((int32_t *)ndp_shm_array(c[i])->data)[i] = i * 3;
  }
  for (int i = N - 1; i >= 0; i--) {
    assert_int_equal(ndp_shm_attach(uname_("many", i), &a[i], NULL), 0);
    assert_int_equal(ndp_shm_array(a[i])->shape[0], i + 1);
    assert_int_equal(((int32_t *)ndp_shm_array(a[i])->data)[i], i * 3);
  }
  for (int i = 0; i < N; i += 2) ndp_shm_close(c[i]);
  for (int i = 0; i < N; i++)
    assert_int_equal(attach_code(uname_("many", i)), i % 2 ? 0 : NDP_ENOENT);
  for (int i = 1; i < N; i += 2) ndp_shm_close(c[i]);
  for (int i = 0; i < N; i++) ndp_shm_close(a[i]);
  for (int i = 0; i < N; i++) assert_int_equal(attach_code(uname_("many", i)), NDP_ENOENT);
}

/* ---- named, across processes -------------------------------------------- */

static void test_child_attaches_by_name(void **state) {
  (void)state;
  const char *name = uname_("child", 0);
  int64_t shape[2] = {128, 50};
  ndp_shm *c = NULL;
  assert_int_equal(ndp_shm_create(name, NDP_FLOAT64, 2, shape, 0, 0, &c, NULL), 0);
  fill_rows(ndp_shm_array(c), 0, 64, 1.0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    ndp_shm *a = NULL;
    if (ndp_shm_attach(name, &a, NULL) != 0) _exit(2);
    const ndp_array *aa = ndp_shm_array(a);
    if (aa->shape[0] != 128 || aa->shape[1] != 50 || ndp_shm_is_creator(a)) _exit(3);
    if (!rows_are(aa, 0, 64, 1.0)) _exit(4);
    fill_rows(aa, 64, 128, -500.0);
    ndp_shm_close(a);
    /* closing the child's copy of the creator's handle unpublishes nothing */
    ndp_shm_close(c);
    _exit(0);
  }
  assert_int_equal(wait_child(pid), 0);
  assert_true(rows_are(ndp_shm_array(c), 64, 128, -500.0));
  assert_int_equal(attach_code(name), 0);
  ndp_shm_close(c);
  assert_int_equal(attach_code(name), NDP_ENOENT);
}

static void test_forked_child_does_not_keep_name(void **state) {
  (void)state;
  const char *name = uname_("keep", 0);
  int64_t len = 4096;
  ndp_shm *c = NULL;
  assert_int_equal(ndp_shm_create(name, NDP_UINT8, 1, &len, 0, 0, &c, NULL), 0);
  int go[2];
  assert_int_equal(pipe(go), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) { /* holds its copies of everything until told to go */
    close(go[1]);
    char b;
    ssize_t r = read(go[0], &b, 1);
    (void)r;
    _exit(0);
  }
  close(go[0]);
  assert_int_equal(attach_code(name), 0);
  ndp_shm_close(c);
  assert_int_equal(attach_code(name), NDP_ENOENT); /* child still alive */
  assert_int_equal(write(go[1], "x", 1), 1);
  close(go[1]);
  assert_int_equal(wait_child(pid), 0);
}

static void test_killed_creator(void **state) {
  (void)state;
  const char *name = uname_("killed", 0);
  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    int64_t shape[2] = {16, 16};
    ndp_shm *c = NULL;
    if (ndp_shm_create(name, NDP_FLOAT64, 2, shape, 0, 0, &c, NULL) != 0) _exit(2);
    fill_rows(ndp_shm_array(c), 0, 16, 9.0);
    if (write(ready[1], "r", 1) != 1) _exit(3);
    for (;;) pause();
  }
  close(ready[1]);
  char b;
  assert_int_equal(read(ready[0], &b, 1), 1);
  close(ready[0]);
  ndp_shm *a = NULL;
  assert_int_equal(ndp_shm_attach(name, &a, NULL), 0);
  assert_true(rows_are(ndp_shm_array(a), 0, 16, 9.0));
  assert_int_equal(kill(pid, SIGKILL), 0);
  assert_int_equal(wait_child(pid), 100 + SIGKILL);
  assert_int_equal(attach_code(name), NDP_ENOENT);
  /* the memory outlives its creator while mapped here */
  assert_true(rows_are(ndp_shm_array(a), 0, 16, 9.0));
  ndp_shm_close(a);
}

/* ---- descriptors and memory --------------------------------------------- */

static void test_no_fd_leaks(void **state) {
  (void)state;
  int before = count_fds();
  int64_t shape[2] = {10, 10};
  for (int i = 0; i < 60; i++) {
    const char *name = uname_("fd", i % 3);
    ndp_shm *c = NULL, *a = NULL, *b = NULL, *x = NULL;
    assert_int_equal(ndp_shm_create(name, NDP_INT64, 2, shape, 0, 0, &c, NULL), 0);
    assert_int_equal(ndp_shm_create(name, NDP_INT64, 2, shape, 0, 0, &x, NULL), NDP_EEXIST);
    assert_int_equal(ndp_shm_attach(name, &a, NULL), 0);
    assert_int_equal(ndp_shm_create(NULL, NDP_INT64, 2, shape, 0, 0, &b, NULL), 0);
    if (i % 2) ndp_shm_unpublish(c);
    ndp_shm_close(c);
    assert_int_equal(ndp_shm_attach(name, &x, NULL), NDP_ENOENT);
    ndp_shm_close(a);
    ndp_shm_close(b);
    assert_int_equal(ndp_shm_create("bad name", NDP_INT64, 2, shape, 0, 0, &x, NULL), NDP_EINVAL);
  }
  assert_int_equal(count_fds(), before);
}

static void test_alloc_failures(void **state) {
  (void)state;
  int before = count_fds();
  int64_t len = 100;
  for (long k = 0; k < 12; k++) {
    ndp_shm *c = NULL, *a = NULL;
    ndp__fail_alloc_after(k);
    int rc = ndp_shm_create(uname_("oom", 0), NDP_FLOAT32, 1, &len, 0, 0, &c, NULL);
    assert_true(rc == 0 || rc == NDP_ENOMEM);
    if (rc == 0) {
      int rc2 = ndp_shm_attach(uname_("oom", 0), &a, NULL);
      assert_true(rc2 == 0 || rc2 == NDP_ENOMEM);
      ndp_shm_close(a);
    } else {
      assert_null(c);
    }
    ndp__fail_alloc_after(-1);
    ndp_shm_close(c);
    assert_int_equal(attach_code(uname_("oom", 0)), NDP_ENOENT);
  }
  assert_int_equal(count_fds(), before);
}

/* ---- a bogus server: segments that are not what they claim -------------- */

enum bogus {
  B_VALID, B_MAGIC, B_VERSION, B_NDIM, B_DTYPE, B_NBYTES, B_OVERFLOW,
  B_NEGATIVE, B_TOO_SMALL_FILE, B_SHORT_FILE, B_UNSEALED, B_WRONG_NAME,
  B_UNTERMINATED_NAME, B_NO_FD, B_HELLO, B_TWO_FDS, B_HANGUP, B_OFFSET,
  B_COUNT
};

typedef struct {
  int lfd;
  enum bogus kind;
  const char *name;
} bogus_srv;

static int bogus_memfd(enum bogus kind, const char *name) {
  int fd = memfd_create("bogus", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  ndp__shm_header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, NDP__SHM_MAGIC, 8);
  h.version = NDP__SHM_VERSION;
  h.dtype = NDP_FLOAT64;
  h.ndim = 2;
  h.shape[0] = 10;
  h.shape[1] = 20;
  h.nbytes = 1600;
  h.data_offset = NDP__SHM_DATA_OFFSET;
  snprintf(h.name, sizeof h.name, "%s", name);
  off_t size = 8192;
  switch (kind) {
  case B_MAGIC: h.magic[0] = 'X'; break;
  case B_VERSION: h.version = 99; break;
  case B_NDIM: h.ndim = 1000; break;
  case B_DTYPE: h.dtype = 4000; break;
  case B_NBYTES: h.nbytes = 1601; break;
  case B_OVERFLOW: h.shape[0] = h.shape[1] = INT64_MAX / 3; break;
  case B_NEGATIVE: h.shape[0] = -10; h.shape[1] = -20; break;
  case B_TOO_SMALL_FILE: size = 100; break;
  case B_SHORT_FILE: size = 4096 + 1000; break;
  case B_WRONG_NAME: h.name[0] ^= 1; break;
  case B_UNTERMINATED_NAME: memset(h.name, 'a', sizeof h.name); break;
  case B_OFFSET: h.data_offset = 0; break;
  default: break;
  }
  if (ftruncate(fd, size) != 0 ||
      pwrite(fd, &h, size < (off_t)sizeof h ? (size_t)size : sizeof h, 0) < 0 ||
      (kind != B_UNSEALED && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0)) {
    close(fd);
    return -1;
  }
  return fd;
}

static void *bogus_main(void *arg) {
  bogus_srv *b = arg;
  int c = accept4(b->lfd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return NULL;
  int fds[2] = {bogus_memfd(b->kind, b->name), bogus_memfd(B_VALID, b->name)};
  char hello[8];
  memcpy(hello, b->kind == B_HELLO ? "hello!!!" : NDP__SHM_HELLO, 8);
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(2 * sizeof(int))];
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct iovec iov = {hello, 8};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  int nfds = b->kind == B_TWO_FDS ? 2 : 1;
  if (b->kind != B_NO_FD && fds[0] >= 0 && fds[1] >= 0) {
    m.msg_control = ctl.b;
    m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
  }
  if (b->kind != B_HANGUP) (void)sendmsg(c, &m, MSG_NOSIGNAL);
  close(c);
  if (fds[0] >= 0) close(fds[0]);
  if (fds[1] >= 0) close(fds[1]);
  return NULL;
}

static void test_bogus_segments(void **state) {
  (void)state;
  int before = count_fds();
  for (int k = 0; k < B_COUNT; k++) {
    const char *name = uname_("bogus", k);
    struct sockaddr_un sa;
    socklen_t len;
    ndp__shm_address(name, &sa, &len);
    bogus_srv b = {socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), (enum bogus)k, name};
    assert_true(b.lfd >= 0);
    assert_int_equal(bind(b.lfd, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(listen(b.lfd, 4), 0);
    ndp_shm *s = NULL;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, bogus_main, &b), 0);
    ndp_status st;
    int rc = ndp_shm_attach(name, &s, &st);
    pthread_join(t, NULL);
    /* a name served by someone else is taken (after the one-shot server
     * answered: create's probe of the holder would be its one client) */
    ndp_shm *x = NULL;
    ndp_status xst;
    assert_int_equal(ndp_shm_create(name, NDP_INT8, 0, NULL, 0, 0, &x, &xst), NDP_EEXIST);
    assert_null(x);
    close(b.lfd);
    if (k == B_VALID) {
      assert_int_equal(rc, 0);
      assert_int_equal(ndp_shm_array(s)->shape[1], 20);
      ndp_shm_close(s);
    } else if (k == B_HANGUP) {
      assert_int_equal(rc, NDP_ENOENT);
    } else {
      if (rc != NDP_EFORMAT) print_error("case %d: %d %s\n", k, rc, st.msg);
      assert_int_equal(rc, NDP_EFORMAT);
      assert_null(s);
    }
  }
  assert_int_equal(count_fds(), before);
}

/* ---- who holds a name; interrupting attach ----------------------------- */

/* A socket bound to name's address; listening with `backlog` unless < 0. */
static int squat(const char *name, int backlog) {
  struct sockaddr_un sa;
  socklen_t len;
  ndp__shm_address(name, &sa, &len);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
  if (backlog >= 0) assert_int_equal(listen(fd, backlog), 0);
  return fd;
}

static void test_taken_name_names_holder(void **state) {
  (void)state;
  int64_t n = 4;
  ndp_shm *s = NULL;
  ndp_status st;
  char want[64];
  /* held by a listening socket of this process: its pid is named */
  const char *name = uname_("held", 0);
  int fd = squat(name, 4);
  assert_int_equal(ndp_shm_create(name, NDP_INT8, 1, &n, 0, 0, &s, &st), NDP_EEXIST);
  assert_null(s);
  snprintf(want, sizeof want, "already used by process %ld", (long)getpid());
  if (!strstr(st.msg, want)) print_error("%s\n", st.msg);
  assert_non_null(strstr(st.msg, want));
  assert_non_null(strstr(st.msg, name));
  close(fd);
  /* bound but not listening: not an ndpar creator (they listen from the
   * start), so the name falls back to a socket file (test_fs_names) */
  name = uname_("held", 1);
  fd = squat(name, -1);
  assert_int_equal(ndp_shm_create(name, NDP_INT8, 1, &n, 0, 0, &s, &st), 0);
  assert_int_equal(attach_code(name), 0);
  ndp_shm_close(s);
  close(fd);
  /* an ndpar creator in another process: that process is named */
  name = uname_("held", 2);
  int up[2], down[2];
  assert_int_equal(pipe(up), 0);
  assert_int_equal(pipe(down), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    ndp_shm *c = NULL;
    int rc = ndp_shm_create(name, NDP_INT8, 1, &n, 0, 1, &c, NULL);
    char ok = rc == 0 ? 'y' : 'n', buf;
    if (write(up[1], &ok, 1) != 1 || read(down[0], &buf, 1) < 0) _exit(3);
    ndp_shm_close(c);
    _exit(rc == 0 ? 0 : 2);
  }
  char ok = 0;
  assert_int_equal(read(up[0], &ok, 1), 1);
  assert_int_equal(ok, 'y');
  int rc = ndp_shm_create(name, NDP_INT8, 1, &n, 0, 0, &s, &st);
  assert_int_equal(write(down[1], "x", 1), 1);
  assert_int_equal(wait_child(pid), 0);
  assert_int_equal(rc, NDP_EEXIST);
  snprintf(want, sizeof want, "already used by process %ld", (long)pid);
  assert_non_null(strstr(st.msg, want));
  close(up[0]); close(up[1]); close(down[0]); close(down[1]);
  /* and once the holder is gone the name is free */
  assert_int_equal(ndp_shm_create(name, NDP_INT8, 1, &n, 0, 0, &s, &st), 0);
  ndp_shm_close(s);
}

typedef struct {
  int calls, stop_at;
} intr_ctx;

static int intr_cb(void *v) {
  intr_ctx *c = v;
  return ++c->calls >= c->stop_at;
}

static void test_attach_interrupted(void **state) {
  (void)state;
  int before = count_fds();
  ndp_shm *s = (ndp_shm *)(uintptr_t)1;
  ndp_status st;
  /* a server that never answers: connected from its backlog, no reply */
  const char *name = uname_("mute", 0);
  int fd = squat(name, 4);
  intr_ctx c = {0, 3};
  assert_int_equal(ndp_shm_attach_ex(name, intr_cb, &c, &s, &st), NDP_ECANCELED);
  assert_null(s);
  assert_int_equal(c.calls, 3);
  assert_non_null(strstr(st.msg, "interrupted"));
  close(fd);
  /* a full backlog: connect itself waits (EAGAIN) and is interrupted */
  name = uname_("mute", 1);
  fd = squat(name, 0);
  struct sockaddr_un sa;
  socklen_t len;
  ndp__shm_address(name, &sa, &len);
  int fill[4], nfill = 0;
  for (; nfill < 4; nfill++) {
    fill[nfill] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (connect(fill[nfill], (struct sockaddr *)&sa, len) != 0) {
      assert_int_equal(errno, EAGAIN);
      close(fill[nfill]);
      break;
    }
  }
  assert_true(nfill < 4); /* the backlog filled up */
  c = (intr_ctx){0, 2};
  assert_int_equal(ndp_shm_attach_ex(name, intr_cb, &c, &s, &st), NDP_ECANCELED);
  assert_int_equal(c.calls, 2);
  for (int i = 0; i < nfill; i++) close(fill[i]);
  close(fd);
  /* a callback that never stops: a live segment attaches as usual */
  int64_t n = 3;
  ndp_shm *cr = NULL;
  name = uname_("mute", 2);
  assert_int_equal(ndp_shm_create(name, NDP_INT32, 1, &n, 0, 1, &cr, NULL), 0);
  c = (intr_ctx){0, 1 << 30};
  assert_int_equal(ndp_shm_attach_ex(name, intr_cb, &c, &s, &st), 0);
  assert_int_equal(ndp_shm_array(s)->shape[0], 3);
  ndp_shm_close(s);
  ndp_shm_close(cr);
  assert_int_equal(count_fds(), before);
}

static void test_check_name(void **state) {
  (void)state;
  ndp_status st;
  assert_int_equal(ndp_shm_check_name("ok-Name_1.x", &st), 0);
  assert_int_equal(ndp_shm_check_name(NULL, &st), NDP_EINVAL);
  assert_int_equal(ndp_shm_check_name("", &st), NDP_EINVAL);
  assert_non_null(strstr(st.msg, "empty"));
  assert_int_equal(ndp_shm_check_name("a\xed\xb3\xbf", &st), NDP_EINVAL); /* a + U+DCFF */
  assert_non_null(strstr(st.msg, "character 2 (0xed)"));
  char name[NDP_SHM_NAME_MAX + 2];
  memset(name, 'n', sizeof name);
  name[NDP_SHM_NAME_MAX] = '\0';
  assert_int_equal(ndp_shm_check_name(name, &st), 0);
  name[NDP_SHM_NAME_MAX] = 'n';
  name[NDP_SHM_NAME_MAX + 1] = '\0';
  assert_int_equal(ndp_shm_check_name(name, &st), NDP_EINVAL);
  assert_non_null(strstr(st.msg, "longer than"));
}

/* ---- threads ------------------------------------------------------------ */

typedef struct {
  int id;
  const char *common;
  int common_live;
  _Atomic int failures;
} conc_arg;

static void *conc_main(void *varg) {
  conc_arg *arg = varg;
  for (int i = 0; i < 25; i++) {
    char name[160];
    snprintf(name, sizeof name, "%s-t%d-%d", arg->common, arg->id, i);
    int64_t shape[2] = {8, 16};
    ndp_shm *c = NULL, *a = NULL, *x = NULL;
    if (ndp_shm_create(name, NDP_FLOAT64, 2, shape, 0, 1, &c, NULL) != 0) goto bad;
    fill_rows(ndp_shm_array(c), 0, 8, arg->id * 100.0 + i);
    if (ndp_shm_attach(name, &a, NULL) != 0) goto bad;
    if (!rows_are(ndp_shm_array(a), 0, 8, arg->id * 100.0 + i)) goto bad;
    if (arg->common_live) {
      if (ndp_shm_attach(arg->common, &x, NULL) != 0) goto bad;
      if (((double *)ndp_shm_array(x)->data)[0] != 123.0) goto bad;
    }
    if (i % 3 == 0) ndp_shm_unpublish(c);
    ndp_shm_close(c);
    ndp_shm_close(x);
    ndp_shm_close(a);
    continue;
  bad:
    atomic_fetch_add(&arg->failures, 1);
    ndp_shm_close(c);
    ndp_shm_close(a);
    ndp_shm_close(x);
  }
  return NULL;
}

static void test_concurrent_threads(void **state) {
  (void)state;
  enum { T = 4 };
  char common[96];
  snprintf(common, sizeof common, "%s", uname_("conc", 0));
  int64_t len = 4;
  ndp_shm *c = NULL;
  assert_int_equal(ndp_shm_create(common, NDP_FLOAT64, 1, &len, 0, 0, &c, NULL), 0);
  ((double *)ndp_shm_array(c)->data)[0] = 123.0;
  pthread_t t[T];
  conc_arg args[T];
  for (int i = 0; i < T; i++) {
    args[i].id = i;
    args[i].common = common;
    args[i].common_live = 1;
    atomic_init(&args[i].failures, 0);
    assert_int_equal(pthread_create(&t[i], NULL, conc_main, &args[i]), 0);
  }
  for (int i = 0; i < T; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&args[i].failures), 0);
  }
  ndp_shm_close(c);
  /* nothing else published: the threads' creates and closes start and stop
   * the server thread over and over, concurrently */
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < T; i++) {
      args[i].id = i + 10 * (round + 1);
      args[i].common_live = 0;
      assert_int_equal(pthread_create(&t[i], NULL, conc_main, &args[i]), 0);
    }
    for (int i = 0; i < T; i++) {
      pthread_join(t[i], NULL);
      assert_int_equal(atomic_load(&args[i].failures), 0);
    }
  }
}


/* ---- names whose abstract address is taken: socket files ----------------- */

static char xdg[64]; /* $XDG_RUNTIME_DIR for this run (main) */

static const char *fs_path(const char *name) {
  static char buf[256];
  snprintf(buf, sizeof buf, "%s/ndpar/%s", xdg, name);
  return buf;
}

static int is_socket(const char *path) {
  struct stat sb;
  return lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode);
}

/* In a forked child: attaches name and checks rows 0..r with base. */
static int child_reads(const char *name, int64_t r, double base) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    ndp_shm *a = NULL;
    if (ndp_shm_attach(name, &a, NULL) != 0) _exit(2);
    int ok = ndp_shm_array(a)->shape[0] == r && rows_are(ndp_shm_array(a), 0, r, base);
    ndp_shm_close(a);
    _exit(ok ? 0 : 3);
  }
  return wait_child(pid);
}

static void test_fs_names(void **state) {
  (void)state;
  int before = count_fds();
  int64_t shape[2] = {8, 5};
  ndp_shm *c = NULL, *x = NULL;
  ndp_status st;
  const char *name = uname_("fs", 0);
  int sq = squat(name, -1); /* holds the abstract address, never listens */
  assert_int_equal(ndp_shm_create(name, NDP_FLOAT64, 2, shape, 0, 0, &c, &st), 0);
  fill_rows(ndp_shm_array(c), 0, 8, 3.0);
  assert_true(is_socket(fs_path(name)));
  assert_int_equal(child_reads(name, 8, 3.0), 0);
  /* one name: a second creator fails, naming this process */
  assert_int_equal(ndp_shm_create(name, NDP_INT8, 1, shape, 0, 0, &x, &st), NDP_EEXIST);
  assert_non_null(strstr(st.msg, "already used by process"));
  /* and so does one at the abstract address once it is free */
  close(sq);
  assert_int_equal(ndp_shm_create(name, NDP_INT8, 1, shape, 0, 0, &x, &st), NDP_EEXIST);
  assert_non_null(strstr(st.msg, fs_path(name)));
  assert_null(x);
  /* a forked child that exits normally neither serves nor removes it */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) exit(0); /* runs the library's atexit handler */
  assert_int_equal(wait_child(pid), 0);
  assert_true(is_socket(fs_path(name)));
  assert_int_equal(child_reads(name, 8, 3.0), 0);
  /* close removes the file; the name is gone */
  ndp_shm_close(c);
  assert_false(is_socket(fs_path(name)));
  assert_int_equal(attach_code(name), NDP_ENOENT);
  /* a name too long for "<dir>/<name>" in sun_path: a hashed file name */
  char longname[NDP_SHM_NAME_MAX + 1];
  snprintf(longname, sizeof longname, "%ld-", (long)getpid());
  memset(longname + strlen(longname), 'q', NDP_SHM_NAME_MAX - strlen(longname));
  longname[NDP_SHM_NAME_MAX] = 0;
  sq = squat(longname, -1);
  assert_int_equal(ndp_shm_create(longname, NDP_FLOAT64, 2, shape, 0, 0, &c, &st), 0);
  fill_rows(ndp_shm_array(c), 0, 8, 4.0);
  assert_int_equal(child_reads(longname, 8, 4.0), 0);
  char dir[96];
  snprintf(dir, sizeof dir, "%s/ndpar", xdg);
  DIR *d = opendir(dir);
  assert_non_null(d);
  int hashed = 0;
  for (struct dirent *e; (e = readdir(d));) hashed += e->d_name[0] == '#';
  closedir(d);
  assert_int_equal(hashed, 1);
  ndp_shm_close(c);
  close(sq);
  assert_int_equal(attach_code(longname), NDP_ENOENT);
  assert_int_equal(count_fds(), before);
}

static void test_fs_stale_file_replaced(void **state) {
  (void)state;
  const char *name = uname_("stale", 0);
  int sq = squat(name, -1);
  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    int64_t shape[2] = {4, 4};
    ndp_shm *c = NULL;
    if (ndp_shm_create(name, NDP_FLOAT64, 2, shape, 0, 0, &c, NULL) != 0) _exit(2);
    fill_rows(ndp_shm_array(c), 0, 4, 1.0);
    if (write(ready[1], "r", 1) != 1) _exit(3);
    for (;;) pause();
  }
  close(ready[1]);
  char b = 0;
  ssize_t got = read(ready[0], &b, 1);
  close(ready[0]);
  if (got != 1) close(sq);
  assert_int_equal(got, 1);
  assert_int_equal(child_reads(name, 4, 1.0), 0);
  assert_int_equal(kill(pid, SIGKILL), 0);
  assert_int_equal(wait_child(pid), 100 + SIGKILL);
  assert_true(is_socket(fs_path(name))); /* left behind, but stale */
  ndp_status st;
  ndp_shm *a = NULL, *c = NULL;
  assert_int_equal(ndp_shm_attach(name, &a, &st), NDP_ENOENT);
  /* a new creator replaces it */
  int64_t shape[2] = {6, 2};
  assert_int_equal(ndp_shm_create(name, NDP_FLOAT64, 2, shape, 0, 0, &c, &st), 0);
  fill_rows(ndp_shm_array(c), 0, 6, 7.0);
  assert_int_equal(child_reads(name, 6, 7.0), 0);
  ndp_shm_close(c);
  assert_false(is_socket(fs_path(name)));
  /* a stale file is also tidied away by a creator at the abstract address */
  close(sq);
  assert_int_equal(ndp_shm_create(name, NDP_INT8, 0, NULL, 0, 0, &c, &st), 0);
  ndp_shm_close(c);
}

/* Forks a child of uid 65534 that binds name's abstract address (of our
 * uid) and serves a valid-looking segment of its own on it. Returns its
 * pid; *go: write a byte to let it leave. */
static pid_t foreign_squatter(const char *name, int *go) {
  int up[2], down[2];
  assert_int_equal(pipe(up), 0);
  assert_int_equal(pipe(down), 0);
  struct sockaddr_un sa;
  socklen_t len;
  ndp__shm_address(name, &sa, &len); /* before setuid: our uid's address */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    bogus_srv b = {socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), B_VALID, name};
    if (b.lfd < 0 || bind(b.lfd, (struct sockaddr *)&sa, len) != 0 ||
        listen(b.lfd, 16) != 0 || write(up[1], "r", 1) != 1)
      _exit(3);
    struct pollfd p[2] = {{b.lfd, POLLIN, 0}, {down[0], POLLIN, 0}};
    while (poll(p, 2, -1) > 0 && !p[1].revents) bogus_main(&b); /* serves */
    _exit(0);
  }
  close(up[1]);
  close(down[0]);
  char c = 0;
  assert_int_equal(read(up[0], &c, 1), 1);
  close(up[0]);
  *go = down[1];
  return pid;
}

static void test_fs_names_another_user(void **state) {
  (void)state;
  if (geteuid() != 0) {
    skip(); /* needs root to become another user */
    return;
  }
  int before = count_fds();
  const char *name = uname_("nobody", 0);
  int go;
  pid_t pid = foreign_squatter(name, &go);
  ndp_shm *c = NULL, *a = NULL;
  ndp_status st;
  int64_t shape[2] = {3, 4}; /* not the squatter's 10 x 20 */
  int rc = ndp_shm_create(name, NDP_FLOAT64, 2, shape, 0, 0, &c, &st);
  if (rc != 0) { /* let the squatter go before failing */
    print_error("%s\n", st.msg);
    close(go);
    wait_child(pid);
  }
  assert_int_equal(rc, 0);
  fill_rows(ndp_shm_array(c), 0, 3, 5.0);
  assert_true(is_socket(fs_path(name)));
  assert_int_equal(child_reads(name, 3, 5.0), 0);
  assert_int_equal(ndp_shm_attach(name, &a, &st), 0);
  assert_int_equal(ndp_shm_array(a)->shape[1], 4);
  ndp_shm_close(a);
  ndp_shm_close(c);
  assert_false(is_socket(fs_path(name)));
  /* the squatter's segment is never taken */
  assert_int_equal(ndp_shm_attach(name, &a, &st), NDP_ENOENT);
  char want[64];
  snprintf(want, sizeof want, "held by process %ld of another user (uid 65534)", (long)pid);
  if (!strstr(st.msg, want)) print_error("%s\n", st.msg);
  assert_non_null(strstr(st.msg, want));
  assert_int_equal(write(go, "x", 1), 1);
  close(go);
  assert_int_equal(wait_child(pid), 0);
  assert_int_equal(count_fds(), before);
}

/* In a forked child: with name's abstract address taken, create must fail
 * with NDP_EIO and a message holding want. 0 when it does. */
static int create_refused(const char *name, const char *want) {
  int sq = squat(name, -1);
  int64_t n = 2;
  ndp_shm *c = NULL;
  ndp_status st;
  int rc = ndp_shm_create(name, NDP_INT8, 1, &n, 0, 0, &c, &st);
  close(sq);
  if (rc == 0) ndp_shm_close(c);
  if (rc != NDP_EIO || !strstr(st.msg, want)) {
    fprintf(stderr, "rc %d: %s (want %s)\n", rc, st.msg, want);
    return 1;
  }
  return 0;
}

static void test_fs_unsafe_directory(void **state) {
  (void)state;
  /* mode: group or others have access (no root needed) */
  char dir[96], want[256];
  snprintf(dir, sizeof dir, "%s/ndpar", xdg);
  mkdir(dir, 0700);
  assert_int_equal(chmod(dir, 0755), 0);
  snprintf(want, sizeof want, "'%s' for its socket file has mode 0755", dir);
  assert_int_equal(create_refused(uname_("unsafe", 0), want), 0);
  assert_int_equal(chmod(dir, 0700), 0);
  if (geteuid() != 0) {
    skip(); /* the rest needs root to make a directory of another user */
    return;
  }
  /* owned by another user */
  assert_int_equal(chown(dir, 65534, 65534), 0);
  snprintf(want, sizeof want, "'%s' for its socket file is owned by uid 65534", dir);
  assert_int_equal(create_refused(uname_("unsafe", 1), want), 0);
  assert_int_equal(chown(dir, 0, 0), 0);
  /* /tmp/ndpar-<uid> made by another user first: in a private /tmp */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("ndpar-test", "/tmp", "tmpfs", 0, "mode=1777") != 0)
      _exit(77);
    struct stat sb;
    unsetenv("XDG_RUNTIME_DIR");
    if (lstat("/run/user/0", &sb) == 0) _exit(77); /* that one would be used */
    if (mkdir("/tmp/ndpar-0", 0700) != 0 || chown("/tmp/ndpar-0", 65534, 65534) != 0)
      _exit(4);
    _exit(create_refused(uname_("unsafe", 2),
                         "'/tmp/ndpar-0' for its socket file is owned by uid 65534"));
  }
  int rc = wait_child(pid);
  if (rc == 77) {
    skip(); /* no private mount namespace here */
    return;
  }
  assert_int_equal(rc, 0);
}

int main(void) {
  /* file-system names go to a directory of this run, removed at the end */
  snprintf(xdg, sizeof xdg, "/tmp/ndpar-test-shm-XXXXXX");
  if (!mkdtemp(xdg)) return 1;
  setenv("XDG_RUNTIME_DIR", xdg, 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_anonymous_zeros_and_fork),
      cmocka_unit_test(test_zero_size_and_scalar),
      cmocka_unit_test(test_named_same_process),
      cmocka_unit_test(test_unpublish),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_longest_name),
      cmocka_unit_test(test_many_names),
      cmocka_unit_test(test_child_attaches_by_name),
      cmocka_unit_test(test_forked_child_does_not_keep_name),
      cmocka_unit_test(test_killed_creator),
      cmocka_unit_test(test_no_fd_leaks),
      cmocka_unit_test(test_alloc_failures),
      cmocka_unit_test(test_bogus_segments),
      cmocka_unit_test(test_concurrent_threads),
      cmocka_unit_test(test_taken_name_names_holder),
      cmocka_unit_test(test_attach_interrupted),
      cmocka_unit_test(test_check_name),
      cmocka_unit_test(test_fs_names),
      cmocka_unit_test(test_fs_stale_file_replaced),
      cmocka_unit_test(test_fs_names_another_user),
      cmocka_unit_test(test_fs_unsafe_directory),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  ndp_shutdown();
  char dir[96];
  snprintf(dir, sizeof dir, "%s/ndpar", xdg);
  rmdir(dir); /* empty: every test closed its names */
  if (rmdir(xdg) != 0) {
    fprintf(stderr, "%s: %s (left behind?)\n", xdg, strerror(errno));
    rc = 1;
  }
  return rc;
}
