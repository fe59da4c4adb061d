/*
 * core/alloc.c - the allocation hook. Every heap allocation of the library
 * goes through here so that tests can fail the Nth one on purpose.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "core/internal.h"

static _Atomic long fail_countdown = -1;

void ndp__fail_alloc_after(long n) { atomic_store(&fail_countdown, n); }

static int should_fail(void) {
  long c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
  if (NDP__LIKELY(c < 0)) return 0;
  c = atomic_fetch_sub(&fail_countdown, 1);
  if (c == 0) {
    atomic_store(&fail_countdown, -1);
    return 1;
  }
  return 0;
}

void *ndp__malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }

void *ndp__calloc(size_t n, size_t size) {
  return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *ndp__aligned_alloc(size_t align, size_t n) {
  void *p = NULL;
  if (should_fail()) return NULL;
  if (posix_memalign(&p, align, n ? n : 1) != 0) return NULL;
  return p;
}

void ndp__free(void *p) { free(p); }

double ndp__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
