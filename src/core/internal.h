/*
 * core/internal.h - helpers shared by the library's modules; not installed.
 *
 * ndp__malloc and friends are the one allocation hook: tests set a
 * countdown with ndp__fail_alloc_after() to make the Nth allocation fail
 * and check that every constructor returns NDP_ENOMEM cleanly.
 */
#ifndef NDP_CORE_INTERNAL_H
#define NDP_CORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ndpar.h"

#if defined(__GNUC__)
#define NDP__PRINTF(f, a) __attribute__((format(printf, f, a)))
#define NDP__LIKELY(x) __builtin_expect(!!(x), 1)
#define NDP__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define NDP__PRINTF(f, a)
#define NDP__LIKELY(x) (x)
#define NDP__UNLIKELY(x) (x)
#endif

void *ndp__malloc(size_t n);
void *ndp__calloc(size_t n, size_t size);
void *ndp__aligned_alloc(size_t align, size_t n); /* free with ndp__free */
void ndp__free(void *p);
/* Test hook: the allocation after `n` more succeed fails (n < 0: never). */
void ndp__fail_alloc_after(long n);

/* Records code and message in st (if not NULL); returns code. */
int ndp__fail(ndp_status *st, int code, const char *fmt, ...) NDP__PRINTF(3, 4);
static inline void ndp__ok(ndp_status *st) {
  if (st) {
    st->code = 0;
    st->msg[0] = '\0';
    st->pos = -1;
  }
}

/* The last-level cache this CPU shares, in bytes (cached). */
int64_t ndp__llc_bytes(void);

/* Monotonic clock, seconds. */
double ndp__now(void);

/* Overflow-checked arithmetic on sizes; return 1 on overflow. */
static inline int ndp__mul_overflow(int64_t a, int64_t b, int64_t *r) {
  return __builtin_mul_overflow(a, b, r);
}

#endif /* NDP_CORE_INTERNAL_H */
