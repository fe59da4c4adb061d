/*
 * kernels/iter.h - the strided N-d iterator shared by the elementwise
 * engine (kernels/engine.c) and the expression VM (expr/vm.c).
 *
 * An iterator describes nops operands over one shape; operand 0 is the
 * output. ndp__iter_operand broadcasts an array to the shape (stride 0
 * where it has extent 1 or lacks the dimension). ndp__iter_plan then drops
 * extent-1 dimensions, flips dimensions where the output's stride is
 * negative, sorts dimensions by the output's stride (largest first: the
 * output's memory order) and merges dimensions contiguous in every operand,
 * so C-, F-ordered and transposed arrays are walked in memory order and
 * contiguous ones become one flat run. With NDP__ITER_KEEP_ORDER it only
 * drops and merges, which keeps the C-order flat index of the shape (the
 * VM's reductions cut their blocks in that index). An operand whose strides
 * are all 0 (an unused one) never stops a merge.
 *
 * The work is then the flat index range [0, n) of the planned shape, which
 * the pool splits; ndp__iter_seek positions a cursor at a flat index and
 * ndp__iter_next yields the runs along the innermost dimension.
 *
 * The caller owns the data and stride storage (so the engine keeps it on
 * the stack); a planned iterator is only read, by any number of threads.
 */
#ifndef NDP_ITER_H
#define NDP_ITER_H

#include <stdint.h>

#include "ndpar.h"

enum { NDP__ITER_KEEP_ORDER = 1 };

typedef struct ndp__iter {
  int nops;                        /* operands; [0] is the output */
  int ndim;                        /* >= 1 once planned */
  int64_t n;                       /* elements */
  int64_t shape[NDP_MAXDIMS];
  char **data;                     /* nops base pointers (caller's storage) */
  int64_t (*strides)[NDP_MAXDIMS]; /* nops stride rows (caller's storage) */
} ndp__iter;

/* A position in the flat index and how many elements remain from it. */
typedef struct ndp__iter_pos {
  int64_t left;
  int64_t idx[NDP_MAXDIMS];
} ndp__iter_pos;

/* Sets the shape and clears the operands (data NULL, strides 0). */
void ndp__iter_init(ndp__iter *it, int nops, char **data, int64_t (*strides)[NDP_MAXDIMS],
                    int ndim, const int64_t *shape);

/* Operand k is a, broadcast to the iterator's shape. Returns 0 or
 * NDP_ESHAPE (message naming `what`). */
int ndp__iter_operand(ndp__iter *it, int k, const ndp_array *a, const char *what,
                      ndp_status *st);

/* Simplifies the walk (see above); flags: 0 or NDP__ITER_KEEP_ORDER. An
 * empty shape becomes one dimension of extent 0, a single element one of
 * extent 1 with strides 0. */
void ndp__iter_plan(ndp__iter *it, unsigned flags);

/* OUT: *c at flat index s with m elements to go. */
void ndp__iter_seek(const ndp__iter *it, int64_t s, int64_t m, ndp__iter_pos *c);

/* Address of operand k at index idx. */
static inline char *ndp__iter_at(const ndp__iter *it, int k, const int64_t *idx) {
  char *q = it->data[k];
  for (int d = 0; d < it->ndim; d++) q += idx[d] * it->strides[k][d];
  return q;
}

/* The next run from c: its length (0 when none is left); OUT: ptr[j] is
 * the run's start in operand k0 + j, j < nk. */
static inline int64_t ndp__iter_next(const ndp__iter *it, ndp__iter_pos *c, int k0, int nk,
                                     char **ptr) {
  if (c->left <= 0) return 0;
  const int nd = it->ndim;
  int64_t m = it->shape[nd - 1] - c->idx[nd - 1];
  if (m > c->left) m = c->left;
  for (int j = 0; j < nk; j++) ptr[j] = ndp__iter_at(it, k0 + j, c->idx);
  c->left -= m;
  if ((c->idx[nd - 1] += m) == it->shape[nd - 1]) {
    c->idx[nd - 1] = 0;
    for (int d = nd - 2; d >= 0; d--) {
      if (++c->idx[d] < it->shape[d]) break;
      c->idx[d] = 0;
    }
  }
  return m;
}

/* The memory order NumPy's iterator gives a new result for order 'K':
 * nops operands of shape[ndim] with the given byte strides (already
 * broadcast: 0 where an operand has extent 1; an operand of all-0 strides
 * counts for nothing). Dimensions are ordered by their strides' magnitude
 * (a stable insertion sort where every operand with both strides nonzero
 * must agree to move a dimension, else C order wins).
 * OUT: perm[0 .. ndim), slowest dimension first. */
void ndp__iter_k_order(int nops, const int64_t (*strides)[NDP_MAXDIMS], int ndim, int *perm);

#endif
