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
 * Memory beyond the inputs and the output, for N points, at most:
 *     N * (b + sum of the inputs' item sizes + out's item size) bytes
 *     (b: each point's bin, 1 byte for k < 256, 2 for k < 65536, 4 below
 *     2^32, else 8; out's item size: none when every entry is an expression and
 *     out has x0's dtype, which are then evaluated in place), plus the
 *     counters:
 *     2 x C x (k + 1) x 4 bytes (8 when N >= 2^31) where C, the counting
 *     chunks, is at most 4 per thread and at most (N + 65536) / (k + 1),
 *     plus 8 * (k + 2) bytes of group starts and 16 bytes per task
 *     (a task is about 16384 points or a whole group),
 * never k * N. Entries are called from the pool's threads, several at a
 * time: a function entry must be thread-safe.
 */
#ifndef NDPAR_APPLY_H
#define NDPAR_APPLY_H

#include "export.h"

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
 * The n points of a call belong to the entry's group (all of it, or a
 * piece of it when large), in increasing order of i; out-of-range points
 * never reach an entry. `ud` is the entry's user data. Return 0, or
 * non-zero to stop the job (ndp_apply then returns NDP_EUSER with st->pos =
 * the entry's table position). This is also the signature of pointers given to Python's
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
                           group, with all of its points (never split;
                           each such group is a task of its own) */
} ndp_apply_entry;

/* Compiles src as a table entry for m = nargs inputs (1 <= m <= 64) of
 * these dtypes: the variables are x0 .. x{m-1}, and also x when m == 1.
 * The program must be elementwise (a reduction is refused by ndp_apply); a
 * constant ("0", "nan") gives every point of its group that value.
 * OUT: *out (release with ndp_expr_free). Errors as ndp_expr_compile, and
 * NDP_EINVAL for a bad nargs or dtype. */
NDP_API int ndp_apply_compile(const char *src, int nargs, const ndp_dtype *dtypes,
                              ndp_expr **out, ndp_status *st);

/* Bytes the compiled program e holds on the heap (its code, registers,
 * constant blocks and variable names; the allocator's own overhead not
 * counted): what a cache of programs should charge for it. 0 for NULL. */
NDP_API size_t ndp_apply_expr_bytes(const ndp_expr *e);

/* out[i] = table[index[i]](x[0][i], ..., x[nargs-1][i]).
 *  x:      1 <= nargs <= 64 one-dimensional arrays of N elements, any
 *          dtype and strides (byte-swapped ones are refused: NDP_ETYPE).
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
 * Returns 0, NDP_EINVAL (bad arguments: k < 1, nargs out of range, NULL
 * table entry fields, an expression that reduces or was not compiled by
 * ndp_apply_compile for these inputs), NDP_ESHAPE (lengths differ, not
 * 1-D), NDP_ETYPE (index not an integer, an expression compiled for other
 * dtypes), NDP_ECAST (an expression's dtype does not cast to out's),
 * NDP_EOVERFLOW (k beyond 2^48), NDP_EINDEX, NDP_EUSER (an entry failed),
 * NDP_ENOMEM, NDP_ECANCELED, or an expression's evaluation error. Every
 * error about one table entry names it in st->msg ("table[3]: ...") and
 * sets st->pos to its position; when several entries fail during the
 * evaluation, the first recorded wins. */
NDP_API int ndp_apply(int nargs, const ndp_array *const *x, const ndp_array *index,
                      int64_t k, const ndp_apply_entry *table, const ndp_array *out,
                      const void *default_value, const ndp_exec *ex, ndp_status *st);

#ifdef __cplusplus
}
#endif
#endif /* NDPAR_APPLY_H */
