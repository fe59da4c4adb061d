/*
 * ndpar/apply.h - a table of functions chosen per point.
 *
 *     out[i] = table[index[i]](x0[i], ..., x{m-1}[i])      for i in [0, N)
 *
 * The engine groups the points by index with a parallel counting sort
 * (O(N + k), never a comparison sort), gathers each group's inputs into
 * contiguous buffers, evaluates the groups in parallel (a large group is
 * split across threads unless its entry asks to see the whole group;
 * small groups are batched into one task), then scatters the results
 * into `out` in parallel.
 *
 * Memory beyond the inputs and the output, for N points:
 *     N * (4 + sum of the inputs' item sizes + out's item size) bytes
 *     (8 instead of 4 when N >= 2^31), plus (k + 1) * 4 bytes per thread
 *     for the counts (8 when N >= 2^31) and 16 bytes per task,
 * never k * N. Entries are called from the pool's threads, several at a
 * time: a function entry must be thread-safe.
 */
#ifndef NDPAR_APPLY_H
#define NDPAR_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "array.h"
#include "errors.h"
#include "expr.h"
#include "ufunc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A native table entry: out[i] = f(args[0][i], ..., args[m-1][i]) for i in
 * [0, n). args[j] points to n contiguous values of the j-th input's dtype,
 * out to n contiguous values of the output's dtype (aligned for them).
 * `ud` is the entry's user data. Return 0, or non-zero to stop the job
 * (ndp_apply then returns NDP_EUSER with st->pos = the entry's table
 * position). This is also the signature of pointers given to Python's
 * ndpar.apply_indexed (ctypes, cffi, numba.cfunc), where ud is NULL:
 *     int32 f(int64 n, void **args, void *out, void *ud)            */
typedef int (*ndp_apply_fn)(int64_t n, void *const *args, void *out,
                            void *ud);

typedef enum ndp_entry_kind {
  NDP_ENTRY_EXPR = 1, /* a compiled expression (ndp_apply_compile)        */
  NDP_ENTRY_FN = 2    /* a function pointer                               */
} ndp_entry_kind;

typedef struct ndp_apply_entry {
  ndp_entry_kind kind;
  const ndp_expr *expr; /* EXPR: borrowed; its result is cast to out's
                           dtype under same_kind casting (checked before
                           any work: NDP_ECAST naming the entry) */
  ndp_apply_fn fn;      /* FN */
  void *ud;             /* FN: passed to fn */
  int whole_group;      /* FN: non-zero = call fn exactly once per non-empty
                           group, with all of its points (never split) */
} ndp_apply_entry;

/* Compiles src as a table entry for m = nargs inputs of these dtypes: the
 * variables are x0 .. x{m-1}, and also x when m == 1. OUT: *out (release
 * with ndp_expr_free). Errors as ndp_expr_compile. */
int ndp_apply_compile(const char *src, int nargs, const ndp_dtype *dtypes,
                      ndp_expr **out, ndp_status *st);

/* out[i] = table[index[i]](x[0][i], ..., x[nargs-1][i]).
 *  x:      nargs >= 1 one-dimensional arrays of N elements, any dtype and
 *          strides (byte-swapped ones are refused: NDP_ETYPE).
 *  index:  one-dimensional, N elements, any integer dtype (not bool), any
 *          strides.
 *  table:  k >= 1 entries; the same entry may appear at several positions.
 *  out:    one-dimensional, N elements, any dtype, any strides, native
 *          byte order; it must not overlap x or index (NDP_EINVAL).
 *  default_value: NULL, or one value of out's dtype (native byte order)
 *          given to the points whose index is outside [0, k). With NULL
 *          such a point is NDP_EINDEX, st->pos = its position (the
 *          smallest one), and out is not written.
 *  ex:     threads / poll, as for ndp_ufunc; may be NULL.
 * The result does not depend on the number of threads. On an error after
 * evaluation began (a failing entry, cancellation) out is partly written.
 * Returns 0, NDP_EINVAL (bad arguments: k < 1, nargs < 1, NULL table entry
 * fields), NDP_ESHAPE (lengths differ, not 1-D), NDP_ETYPE (index not an
 * integer), NDP_ECAST (an expression's dtype does not cast to out's),
 * NDP_EINDEX, NDP_EUSER (an entry failed: st->pos = its position),
 * NDP_ENOMEM, NDP_ECANCELED, or an expression's evaluation error (with
 * st->pos = the entry). */
int ndp_apply(int nargs, const ndp_array *const *x, const ndp_array *index,
              int64_t k, const ndp_apply_entry *table, const ndp_array *out,
              const void *default_value, const ndp_exec *ex, ndp_status *st);

#ifdef __cplusplus
}
#endif
#endif /* NDPAR_APPLY_H */
