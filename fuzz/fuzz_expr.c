/*
 * fuzz/fuzz_expr.c - libFuzzer target for the expression compiler and VM.
 *
 * The input (up to 4 KiB, made NUL-terminated) is compiled as a program
 * over eight variables of different dtypes and kinds. Compilation must
 * succeed or fail with a known code, a message and, for syntax and name
 * errors, a position inside the text. A program that compiles is
 * explained, its shape taken, and evaluated on small broadcastable arrays
 * (values include 0, -0, negatives and NaN; booleans with bytes other than
 * 0/1) into an output of its own dtype and into a float64 output under
 * unsafe casting, on one and two threads, then on empty inputs (result
 * shape (0, 4)); evaluation must return 0 or a known error code. The free
 * names (ndp_expr_names) fail exactly as compile does on a text that does
 * not parse, and a program that compiles names only variables and built-in
 * constants.
 * Violations trap; the sanitizers catch the rest.
 *
 * Built with clang -fsanitize=fuzzer for fuzzing, and with replay.c as a
 * plain program that the test suite runs over corpus/expr/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ndpar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
  if (!ok) __builtin_trap();
}

enum { NV = 8 };

static const ndp_var vars[NV] = {
    {"a", NDP_FLOAT64, NDP_VAR_ARRAY}, {"b", NDP_FLOAT32, NDP_VAR_ARRAY},
    {"i", NDP_INT32, NDP_VAR_ARRAY},   {"j", NDP_INT64, NDP_VAR_ARRAY},
    {"u", NDP_UINT8, NDP_VAR_ARRAY},   {"m", NDP_BOOL, NDP_VAR_ARRAY},
    {"s", NDP_FLOAT64, NDP_VAR_WEAK_FLOAT}, {"k", NDP_INT64, NDP_VAR_WEAK_INT}};

/* shapes that broadcast to (3, 4) */
static const int nds[NV] = {2, 1, 2, 2, 1, 2, 0, 0};
static const int64_t shapes[NV][2] = {{3, 4}, {4, 0}, {3, 1}, {3, 4}, {4, 0}, {3, 4}, {0, 0}, {0, 0}};

static double vals[12] = {0.5, -1.0, 0.0, 2.0, 3.25, -0.0, 7.0, 1e300, -3.0, 1.0, 0.25, 0.0};

static void fill(void *p, ndp_dtype dt, int n) {
  for (int t = 0; t < n; t++) {
    double v = vals[t % 12];
    switch (dt) {
    case NDP_FLOAT64: ((double *)p)[t] = t == 5 ? __builtin_nan("") : v; break;
    case NDP_FLOAT32: ((float *)p)[t] = (float)(t == 7 ? 1e30 : v); break;
    case NDP_INT32: ((int32_t *)p)[t] = (int32_t)(t == 7 ? -2147483647 - 1 : (int)v); break;
    case NDP_INT64: ((int64_t *)p)[t] = t == 7 ? INT64_MIN : (int64_t)v; break;
    case NDP_UINT8: ((uint8_t *)p)[t] = (uint8_t)(t * 37); break;
    default: ((uint8_t *)p)[t] = (uint8_t)(t % 3 == 0 ? 0 : t * 37); break; /* bool: byte != 0 */
    }
  }
}

static int known(int rc) {
  return rc == 0 || rc == NDP_EINVAL || rc == NDP_ETYPE || rc == NDP_ESHAPE ||
         rc == NDP_ECAST || rc == NDP_EDOMAIN || rc == NDP_ESYNTAX || rc == NDP_ENAME ||
         rc == NDP_EOVERFLOW; /* a Python int out of bounds (NEP 50) */
}

static void evaluate(const ndp_expr *e, int empty) {
  static _Alignas(16) char store[NV][12 * 8];
  ndp_array arr[NV];
  const ndp_array *in[NV];
  for (int v = 0; v < NV; v++) {
    int64_t sh[2] = {shapes[v][0], shapes[v][1]};
    if (empty && nds[v] == 2) sh[0] = 0;
    fill(store[v], vars[v].dtype, 12);
    check(ndp_array_init(&arr[v], store[v], vars[v].dtype, nds[v], sh) == 0);
    in[v] = &arr[v];
  }
  ndp_status st;
  int nd;
  int64_t shape[NDP_MAXDIMS];
  int rc = ndp_expr_shape(e, in, &nd, shape, &st);
  check(known(rc));
  if (rc) return;
  check(nd <= 2);
  _Alignas(16) char out[12 * 8];
  ndp_array o;
  check(ndp_array_init(&o, out, ndp_expr_dtype(e), nd, shape) == 0);
  ndp_exec ex = {0};
  for (int t = 1; t <= 2; t++) {
    ex.nthreads = t;
    rc = ndp_expr_eval(e, in, &o, NDP_CASTING_NO, &ex, &st);
    check(known(rc));
  }
  check(ndp_array_init(&o, out, NDP_FLOAT64, nd, shape) == 0);
  rc = ndp_expr_eval(e, in, &o, NDP_CASTING_UNSAFE, &ex, &st);
  check(known(rc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *src = malloc(size + 1);
  if (!src) return 0;
  memcpy(src, data, size);
  src[size] = '\0';
  ndp_expr *e = NULL;
  ndp_status st;
  st.pos = -1;
  int rc = ndp_expr_compile(src, NV, vars, &e, &st);
  check(known(rc) || rc == NDP_ENOMEM);
  ndp_expr_name names[16];
  ndp_status nst;
  int nn = 0, nrc = ndp_expr_names(src, names, 16, &nn, &nst);
  /* a text that does not parse fails both the same way */
  check(nrc == 0 || nrc == rc || rc == NDP_ENOMEM || nrc == NDP_ENOMEM);
  check(nrc == 0 || nst.pos == st.pos || rc == NDP_ENOMEM || nrc == NDP_ENOMEM);
  for (int k = 0; rc == 0 && nrc == 0 && k < nn && k < 16; k++) {
    int isvar = 0;
    for (int v = 0; v < NV; v++)
      isvar |= (size_t)names[k].len == strlen(vars[v].name) &&
               memcmp(src + names[k].pos, vars[v].name, (size_t)names[k].len) == 0;
    check(isvar || names[k].builtin);
  }
  check(!strstr(st.msg, "internal error")); /* the verifier refused our own code */
  if (rc) {
    check(e == NULL && st.code == rc && st.msg[0] != '\0');
    if (rc == NDP_ESYNTAX || rc == NDP_ENAME) check(st.pos >= 0 && (size_t)st.pos <= strlen(src));
  } else {
    char buf[256];
    size_t need = ndp_expr_explain(e, buf, sizeof buf);
    check(need > 0 && strlen(buf) < sizeof buf);
    evaluate(e, 0);
    evaluate(e, 1);
    ndp_expr_free(e);
  }
  free(src);
  return 0;
}
