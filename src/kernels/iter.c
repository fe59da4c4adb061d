/*
 * kernels/iter.c - plans the walk of an N-d strided iteration for the
 * elementwise engine and the expression VM (see iter.h): broadcast, drop
 * extent-1 dimensions, flip negative output strides, sort by the output's
 * strides, merge contiguous dimensions; and NumPy's 'K' memory order for
 * the callers that allocate a result.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "kernels/iter.h"

void ndp__iter_init(ndp__iter *it, int nops, char **data, int64_t (*strides)[NDP_MAXDIMS],
                    int ndim, const int64_t *shape) {
  it->nops = nops;
  it->ndim = ndim;
  it->data = data;
  it->strides = strides;
  it->n = 1;
  for (int d = 0; d < ndim; d++) {
    it->shape[d] = shape[d];
    it->n *= shape[d];
  }
  for (int k = 0; k < nops; k++) {
    data[k] = NULL;
    memset(strides[k], 0, sizeof(int64_t) * (size_t)(ndim ? ndim : 1));
  }
}

int ndp__iter_operand(ndp__iter *it, int k, const ndp_array *a, const char *what,
                      ndp_status *st) {
  int off = it->ndim - a->ndim;
  if (off < 0)
    return ndp__fail(st, NDP_ESHAPE, "%s has more dimensions (%d) than the result (%d)",
                     what, a->ndim, it->ndim);
  for (int d = 0; d < it->ndim; d++) {
    int64_t ext = d < off ? 1 : a->shape[d - off];
    if (ext != it->shape[d] && ext != 1)
      return ndp__fail(st, NDP_ESHAPE,
                       "%s with extent %lld in dimension %d does not broadcast to the "
                       "result's extent %lld",
                       what, (long long)ext, d - off, (long long)it->shape[d]);
    it->strides[k][d] = ext == 1 || it->shape[d] == 1 ? 0 : a->strides[d - off];
  }
  it->data[k] = a->data;
  return 0;
}

static void move_dim(ndp__iter *it, int to, int from) {
  it->shape[to] = it->shape[from];
  for (int k = 0; k < it->nops; k++) it->strides[k][to] = it->strides[k][from];
}

static void swap_dims(ndp__iter *it, int a, int b) {
  int64_t t = it->shape[a];
  it->shape[a] = it->shape[b];
  it->shape[b] = t;
  for (int k = 0; k < it->nops; k++) {
    t = it->strides[k][a];
    it->strides[k][a] = it->strides[k][b];
    it->strides[k][b] = t;
  }
}

/* Walks the output forwards: a dimension of negative output stride is
 * reversed in every operand (a broadcast one, stride 0, is unchanged). */
static void flip(ndp__iter *it, int nd) {
  for (int d = 0; d < nd; d++) {
    if (it->strides[0][d] >= 0) continue;
    for (int k = 0; k < it->nops; k++) {
      if (!it->strides[k][d]) continue;
      it->data[k] += (it->shape[d] - 1) * it->strides[k][d];
      it->strides[k][d] = -it->strides[k][d];
    }
  }
}

/* Stable insertion sort: output stride descending. */
static void sort_dims(ndp__iter *it, int nd) {
  for (int i = 1; i < nd; i++)
    for (int j = i; j > 0 && it->strides[0][j - 1] < it->strides[0][j]; j--)
      swap_dims(it, j, j - 1);
}

/* Merges dimension d into m where that is contiguous in every operand;
 * returns the new count. */
static int merge(ndp__iter *it, int nd) {
  int m = 0;
  for (int d = 1; d < nd; d++) {
    int ok = 1;
    for (int k = 0; k < it->nops; k++)
      ok &= it->strides[k][m] == it->strides[k][d] * it->shape[d];
    if (ok) {
      it->shape[m] *= it->shape[d];
      for (int k = 0; k < it->nops; k++) it->strides[k][m] = it->strides[k][d];
    } else {
      move_dim(it, ++m, d);
    }
  }
  return nd ? m + 1 : 0;
}

void ndp__iter_plan(ndp__iter *it, unsigned flags) {
  if (it->n == 0) { /* nothing is walked: no pointer moves */
    it->ndim = 1;
    it->shape[0] = 0;
    for (int k = 0; k < it->nops; k++) it->strides[k][0] = 0;
    return;
  }
  int nd = 0;
  for (int d = 0; d < it->ndim; d++)
    if (it->shape[d] != 1) move_dim(it, nd++, d);
  if (!(flags & NDP__ITER_KEEP_ORDER)) {
    flip(it, nd);
    sort_dims(it, nd);
  }
  nd = merge(it, nd);
  if (nd == 0) { /* one element */
    nd = 1;
    it->shape[0] = 1;
    for (int k = 0; k < it->nops; k++) it->strides[k][0] = 0;
  }
  it->ndim = nd;
}

void ndp__iter_seek(const ndp__iter *it, int64_t s, int64_t m, ndp__iter_pos *c) {
  c->left = m;
  for (int d = it->ndim - 1; d >= 0; d--) {
    c->idx[d] = it->shape[d] ? s % it->shape[d] : 0;
    s = it->shape[d] ? s / it->shape[d] : 0;
  }
}

void ndp__iter_k_order(int nops, const int64_t (*strides)[NDP_MAXDIMS], int ndim, int *perm) {
  int ax[NDP_MAXDIMS]; /* fastest first, as NumPy's axis data */
  for (int i = 0; i < ndim; i++) ax[i] = ndim - 1 - i;
  for (int i0 = 1; i0 < ndim; i0++) {
    int pos = i0, j0 = ax[i0];
    for (int i1 = i0 - 1; i1 >= 0; i1--) {
      int ambig = 1, swap = 0, j1 = ax[i1];
      for (int k = 0; k < nops; k++) {
        int64_t s0 = strides[k][j0], s1 = strides[k][j1];
        if (!s0 || !s1) continue;
        if (llabs(s1) <= llabs(s0)) swap = 0; /* a conflict: C order wins */
        else if (ambig) swap = 1;
        ambig = 0;
      }
      if (ambig) continue;
      if (!swap) break;
      pos = i1;
    }
    for (int i = i0; i > pos; i--) ax[i] = ax[i - 1];
    ax[pos] = j0;
  }
  for (int j = 0; j < ndim; j++) perm[j] = ax[ndim - 1 - j];
}
