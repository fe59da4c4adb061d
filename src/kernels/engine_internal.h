/* kernels/engine_internal.h - shared by resolve.c, cast.c and engine.c. */
#ifndef NDP_ENGINE_INTERNAL_H
#define NDP_ENGINE_INTERNAL_H

#include <stddef.h>

#include "ndpar.h"

typedef struct ndp__resolved {
  ndp_dtype loop;        /* the loop's dtype */
  ndp_dtype loop_in[2];  /* what each input is cast to (differs only when mixed) */
  ndp_dtype out;         /* what the kernel writes */
  int mixed;             /* int64-vs-uint64 comparison */
} ndp__resolved;

int ndp__resolve(int op, const ndp_dtype *in, ndp_dtype loop, ndp_casting casting,
                 ndp__resolved *r, ndp_status *st);
int ndp__is_comparison(int op);

/* Contiguous n-element cast from -> to. */
typedef void (*ndp__cast_fn)(const void *src, void *dst, size_t n);
ndp__cast_fn ndp__cast(ndp_dtype from, ndp_dtype to);

/* Strided gather into contiguous dst (itemsize 1, 2, 4 or 8), swapping
 * bytes when swap is set; and the reverse scatter. */
void ndp__gather(const char *src, ptrdiff_t stride, size_t itemsize, int swap,
                 char *dst, size_t n);
void ndp__scatter(const char *src, size_t itemsize, int swap, char *dst,
                  ptrdiff_t stride, size_t n);

/* If `in` overlaps `out` (other than exactly - same memory, same layout -
 * when exact_ok: elementwise work may run in place), copies in's bytes
 * into a new C-contiguous buffer described by *copy and returns it in *buf
 * (release with ndp__free); else *buf = NULL. Returns 0 or NDP_ENOMEM. */
int ndp__detach_overlap(const ndp_array *in, const ndp_array *out, int exact_ok,
                        ndp_array *copy, void **buf);

#endif
