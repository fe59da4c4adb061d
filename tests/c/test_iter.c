/*
 * tests/c/test_iter.c - the shared strided iterator (kernels/iter.h) that
 * the elementwise engine and the expression VM walk with: broadcasting,
 * dropping extent-1 dimensions, flipping negative output strides, the
 * sort into the output's memory order, merging, KEEP_ORDER (the C-order
 * flat index), the runs a cursor yields, NumPy's 'K' order and
 * ndp_expr_layout (a new result's layout for order=). Expected
 * walks are written from the arrays' own byte offsets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "kernels/iter.h"
#include "ndpar.h"

typedef struct two {
  ndp__iter it;
  char *data[2];
  int64_t strides[2][NDP_MAXDIMS];
} two;

typedef struct one {
  ndp__iter it;
  char *data[1];
  int64_t strides[1][NDP_MAXDIMS];
} one;

/* Plans the walk of out alone (the shape is out's). */
static void plan1(one *t, const ndp_array *out, unsigned flags) {
  ndp__iter_init(&t->it, 1, t->data, t->strides, out->ndim, out->shape);
  assert_int_equal(ndp__iter_operand(&t->it, 0, out, "out", NULL), 0);
  ndp__iter_plan(&t->it, flags);
}

/* Plans out <- in (in broadcast to out's shape). */
static void plan2(two *t, const ndp_array *out, const ndp_array *in, unsigned flags) {
  ndp__iter_init(&t->it, 2, t->data, t->strides, out->ndim, out->shape);
  assert_int_equal(ndp__iter_operand(&t->it, 0, out, "out", NULL), 0);
  assert_int_equal(ndp__iter_operand(&t->it, 1, in, "in", NULL), 0);
  ndp__iter_plan(&t->it, flags);
}

static void arr(ndp_array *a, void *data, int nd, const int64_t *shape, const int64_t *strides) {
  assert_int_equal(ndp_array_init(a, data, NDP_FLOAT64, nd, shape), 0);
  if (strides) memcpy(a->strides, strides, sizeof(int64_t) * (size_t)nd);
}

/* Walks every element; offs[k][i] is operand k's byte offset from base[k]
 * at step i. Returns the number of runs. */
static int walk_all(const ndp__iter *it, char *const *base, int64_t (*offs)[64]) {
  ndp__iter_pos c;
  char *ptr[2];
  int64_t m, i = 0;
  int runs = 0;
  ndp__iter_seek(it, 0, it->n, &c);
  while ((m = ndp__iter_next(it, &c, 0, it->nops, ptr)) > 0) {
    for (int64_t j = 0; j < m; j++, i++)
      for (int k = 0; k < it->nops; k++)
        offs[k][i] = ptr[k] + j * it->strides[k][it->ndim - 1] - base[k];
    runs++;
  }
  assert_int_equal(i, it->n);
  return runs;
}

static void test_contiguous_merge(void **state) {
  (void)state;
  double x[24], y[24];
  int64_t shape[3] = {2, 3, 4};
  ndp_array a, b;
  arr(&a, y, 3, shape, NULL);
  arr(&b, x, 3, shape, NULL);
  two t;
  plan2(&t, &a, &b, 0);
  assert_int_equal(t.it.ndim, 1);
  assert_int_equal(t.it.shape[0], 24);
  assert_int_equal(t.strides[0][0], 8);
}

/* An F-ordered output: the walk is its memory order, one flat run. */
static void test_fortran_output(void **state) {
  (void)state;
  double o[12], x[12];
  int64_t shape[2] = {3, 4}, fstr[2] = {8, 24};
  ndp_array out, in;
  arr(&out, o, 2, shape, fstr);
  arr(&in, x, 2, shape, fstr);
  two t;
  plan2(&t, &out, &in, 0);
  assert_int_equal(t.it.ndim, 1);
  int64_t offs[2][64];
  char *base[2] = {(char *)o, (char *)x};
  assert_int_equal(walk_all(&t.it, base, offs), 1);
  for (int i = 0; i < 12; i++) assert_int_equal(offs[0][i], 8 * i);
  /* KEEP_ORDER walks C order: (i, j) -> 8 i + 24 j */
  plan2(&t, &out, &in, NDP__ITER_KEEP_ORDER);
  assert_int_equal(t.it.ndim, 2);
  walk_all(&t.it, base, offs);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) assert_int_equal(offs[0][i * 4 + j], 8 * i + 24 * j);
}

/* A C-ordered output with a transposed input: the output's order wins;
 * a negative output stride is walked forwards in both operands. */
static void test_flip_and_broadcast(void **state) {
  (void)state;
  double o[12], x[4];
  int64_t shape[2] = {3, 4}, neg[2] = {-32, 8}, vshape[1] = {4};
  ndp_array out, in;
  arr(&out, o + 8, 2, shape, neg); /* rows reversed */
  arr(&in, x, 1, vshape, NULL);     /* broadcast along rows */
  two t;
  plan2(&t, &out, &in, 0);
  assert_ptr_equal(t.data[0], (char *)o);
  assert_ptr_equal(t.data[1], (char *)x);
  int64_t offs[2][64];
  char *base[2] = {(char *)o, (char *)x};
  walk_all(&t.it, base, offs);
  for (int i = 0; i < 12; i++) {
    assert_int_equal(offs[0][i], 8 * i);
    assert_int_equal(offs[1][i], 8 * (i % 4));
  }
  /* an input that does not broadcast is an error naming it */
  int64_t bad[1] = {3};
  arr(&in, x, 1, bad, NULL);
  ndp_status st = {0, {0}, -1};
  assert_int_equal(ndp__iter_operand(&t.it, 1, &in, "input 7", &st), NDP_ESHAPE);
  assert_non_null(strstr(st.msg, "input 7"));
}

/* Runs from a cursor seeked into the middle of a row stop at row ends. */
static void test_seek_runs(void **state) {
  (void)state;
  double o[40];
  int64_t shape[2] = {4, 5}, str[2] = {80, 8}; /* rows padded: no merge */
  ndp_array out;
  arr(&out, o, 2, shape, str);
  one t;
  plan1(&t, &out, 0);
  const ndp__iter it = t.it;
  assert_int_equal(it.ndim, 2);
  ndp__iter_pos c;
  char *p;
  ndp__iter_seek(&it, 7, 9, &c); /* (1, 2) .. (3, 0) */
  assert_int_equal(ndp__iter_next(&it, &c, 0, 1, &p), 3);
  assert_ptr_equal(p, (char *)o + 80 + 16);
  assert_int_equal(ndp__iter_next(&it, &c, 0, 1, &p), 5);
  assert_ptr_equal(p, (char *)o + 160);
  assert_int_equal(ndp__iter_next(&it, &c, 0, 1, &p), 1);
  assert_ptr_equal(p, (char *)o + 240);
  assert_int_equal(ndp__iter_next(&it, &c, 0, 1, &p), 0);
}

static void test_single_and_empty(void **state) {
  (void)state;
  double o[1];
  int64_t unit[2] = {1, 1}, none[2] = {3, 0};
  ndp_array out;
  arr(&out, o, 2, unit, NULL);
  one t;
  plan1(&t, &out, 0);
  assert_int_equal(t.it.ndim, 1);
  assert_int_equal(t.it.shape[0], 1);
  assert_int_equal(t.it.n, 1);
  arr(&out, NULL, 2, none, NULL);
  plan1(&t, &out, 0);
  assert_int_equal(t.it.n, 0);
  assert_int_equal(t.it.shape[0], 0);
}

/* NumPy's K order: np.nditer([a, None]).operands[1] for these strides. */
static void test_k_order(void **state) {
  (void)state;
  int perm[3];
  /* F-ordered (2, 3, 4) */
  int64_t f[1][NDP_MAXDIMS] = {{8, 16, 48}};
  ndp__iter_k_order(1, (const int64_t(*)[NDP_MAXDIMS])f, 3, perm);
  assert_int_equal(perm[0], 2);
  assert_int_equal(perm[1], 1);
  assert_int_equal(perm[2], 0);
  /* transpose(1, 0, 2) of a C (2, 3, 4): strides (32, 96, 8) */
  int64_t t[1][NDP_MAXDIMS] = {{32, 96, 8}};
  ndp__iter_k_order(1, (const int64_t(*)[NDP_MAXDIMS])t, 3, perm);
  assert_int_equal(perm[0], 1);
  assert_int_equal(perm[1], 0);
  assert_int_equal(perm[2], 2);
  /* C and F operands disagree: C order wins */
  int64_t cf[2][NDP_MAXDIMS] = {{96, 32, 8}, {8, 16, 48}};
  ndp__iter_k_order(2, (const int64_t(*)[NDP_MAXDIMS])cf, 3, perm);
  for (int d = 0; d < 3; d++) assert_int_equal(perm[d], d);
  /* a broadcast operand (stride 0) does not vote; negative strides count
   * by magnitude */
  int64_t b[2][NDP_MAXDIMS] = {{0, 0, 8}, {-8, 16, 48}};
  ndp__iter_k_order(2, (const int64_t(*)[NDP_MAXDIMS])b, 3, perm);
  assert_int_equal(perm[0], 2);
  assert_int_equal(perm[2], 0);
}

/* ndp_expr_layout: NumPy's layout of a new result for each order. */
static void check_layout(const char *src, const ndp_array *a, const ndp_array *b, char order,
                         int want_nd, const int64_t *want) {
  ndp_var vars[2] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_FLOAT64, NDP_VAR_ARRAY}};
  ndp_expr *e = NULL;
  ndp_status st = {0, {0}, -1};
  assert_int_equal(ndp_expr_compile(src, 2, vars, &e, &st), 0);
  const ndp_array *in[2] = {a, b};
  int nd;
  int64_t shape[NDP_MAXDIMS], strides[NDP_MAXDIMS];
  assert_int_equal(ndp_expr_layout(e, in, order, 8, &nd, shape, strides, &st), 0);
  assert_int_equal(nd, want_nd);
  for (int d = 0; d < nd; d++) assert_int_equal(strides[d], want[d]);
  ndp_expr_free(e);
}

static void test_expr_layout(void **state) {
  (void)state;
  double x[24], y[24];
  int64_t shape[3] = {2, 3, 4}, fstr[3] = {8, 16, 48}, vshape[1] = {4};
  ndp_array c, f, v;
  arr(&c, x, 3, shape, NULL);
  arr(&f, y, 3, shape, fstr);
  arr(&v, x, 1, vshape, NULL);
  const int64_t C3[3] = {96, 32, 8}, F3[3] = {8, 16, 48}, F2[2] = {8, 16}, C2[2] = {32, 8};
  check_layout("a + b", &c, &c, 'K', 3, C3);
  check_layout("a + b", &f, &f, 'K', 3, F3);
  check_layout("a + b", &f, &v, 'K', 3, F3); /* the broadcast vector does not vote */
  check_layout("a + b", &c, &f, 'K', 3, C3); /* disagreement: C */
  check_layout("a + b", &f, &v, 'A', 3, F3); /* a 1-d array is F-contiguous */
  check_layout("a + b", &f, &c, 'A', 3, C3);
  check_layout("a + b", &c, &v, 'F', 3, F3);
  check_layout("a + b", &f, &f, 'C', 3, C3);
  check_layout("sum(a + b, axis=1)", &f, &f, 'K', 2, F2); /* the axis leaves F order */
  check_layout("sum(a + b, axis=1)", &c, &f, 'K', 2, C2);
  check_layout("sum(a + b, axis=-1)", &c, &c, 'F', 2, (const int64_t[2]){8, 16});
  check_layout("sum(a + b)", &f, &f, 'F', 0, NULL);
  /* another order is an error */
  ndp_var vars[2] = {{"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_FLOAT64, NDP_VAR_ARRAY}};
  ndp_expr *e = NULL;
  ndp_status st = {0, {0}, -1};
  assert_int_equal(ndp_expr_compile("a - b", 2, vars, &e, &st), 0);
  const ndp_array *in[2] = {&c, &f};
  int nd;
  int64_t sh[NDP_MAXDIMS], str[NDP_MAXDIMS];
  assert_int_equal(ndp_expr_layout(e, in, 'X', 8, &nd, sh, str, &st), NDP_EINVAL);
  ndp_expr_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_contiguous_merge), cmocka_unit_test(test_fortran_output),
      cmocka_unit_test(test_flip_and_broadcast), cmocka_unit_test(test_seek_runs),
      cmocka_unit_test(test_single_and_empty), cmocka_unit_test(test_k_order),
      cmocka_unit_test(test_expr_layout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
