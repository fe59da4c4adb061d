/* kernels/engine_internal.h - the engine's internals (loop resolution,
 * weak-scalar settling, casts, gather/scatter, overlap copies): shared by
 * resolve.c, cast.c and engine.c, and used by rolling.c and the expression
 * compiler and VM. */
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

/* NEP 50 for one call (weak operands: see NDP_ARRAY_WEAK_INT in array.h).
 * The loop is chosen with each weak operand standing for the other
 * operand's dtype when its kind allows (ndp__weak_standin), then each is
 * converted to the loop's dtype (NDP_EOVERFLOW when an int does not fit;
 * comparisons widen it instead and compare exactly; logical functions take
 * its truth; 'equiv' refuses converting it to a dtype other than its
 * default), and the call is resolved with the converted values. A weak
 * operand with data NULL has a value known only later (the expression
 * compiler's variables): it is given the dtype it converts to, unchecked,
 * and in a comparison with an integer it is an int64 (exact). names: NULL
 * ("argument 1") or nin argument names for the messages ("" names none). */
typedef struct ndp__settled {
  const ndp_array *in[2];   /* what the loop reads: a strong input or a[k] */
  ndp_array a[2];           /* weak inputs converted: 0-d, strong, over buf[k] */
  _Alignas(8) unsigned char buf[2][8];
  ndp_casting casting;      /* the rule the inputs meet (widened/logical: looser) */
  ndp__resolved r;
} ndp__settled;
int ndp__settle(int op, const ndp_array *const *in, ndp_dtype loop, ndp_casting casting,
                const char *const *names, ndp__settled *s, ndp_status *st);
/* The dtype a weak operand of kind NDP_ARRAY_WEAK_* stands for next to a
 * strong operand of dtype other (NDP_NTYPES: none), NEP 50's first step. */
ndp_dtype ndp__weak_standin(int kind, ndp_dtype other);
/* Stores a weak operand's value (w: kind and storage as in array.h, data
 * set) as dtype dt in dst. Returns 0, or 1 when an int does not fit an
 * integer dt (or an int beyond float64 meets a float dt). */
int ndp__weak_store(const ndp_array *w, ndp_dtype dt, void *dst);

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
