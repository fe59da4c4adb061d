/*
 * fuzz/fuzz_kernel.c - libFuzzer target for the kernel parser, compiler
 * and VM (ndpar.vectorize / guvectorize's engine).
 *
 * The input (up to 8 KiB, made NUL-terminated) is parsed; when it has a
 * def, it is compiled twice: as a vectorize kernel whose parameters take
 * dtypes in turn from float64, int64, float32, bool, int8, and as a
 * guvectorize kernel whose first parameter is a float64 row, whose last is
 * an output row and whose middle ones are int64 scalars. Compilation must
 * succeed or fail with a known code and a message naming a line inside
 * the text. A kernel that compiles is run on small arrays (values include
 * 0, negatives, NaN and inf) on one and two threads; a poll callback
 * cancels after a few calls, so endless loops end. Evaluation must return
 * 0 or a known code, and the two runs must agree bit for bit. Violations
 * trap; the sanitizers catch the rest.
 *
 * Built with clang -fsanitize=fuzzer for fuzzing, and with replay.c as a
 * plain program that the test suite runs over corpus/kernel/.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ndpar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
  if (!ok) __builtin_trap();
}

static int polls;
static int stop_soon(void *ud, double frac) {
  (void)ud;
  (void)frac;
  return ++polls > 3;
}

static int known(int rc) {
  return rc == 0 || rc == NDP_ESYNTAX || rc == NDP_ETYPE || rc == NDP_ENAME || rc == NDP_EINVAL ||
         rc == NDP_EDOMAIN || rc == NDP_EOVERFLOW || rc == NDP_EINDEX || rc == NDP_EUSER ||
         rc == NDP_ECANCELED || rc == NDP_ENOMEM;
}

enum { NL = 6, NC = 5, MAXP = 8 };
static const double vals[12] = {0.5, -1.0, 0.0, 2.0, 3.0, -0.0, 7.0, 1e300, -3.0, 1.0, NAN, INFINITY};

static void fill(void *p, ndp_dtype dt, int n, int seed) {
  for (int t = 0; t < n; t++) {
    double v = vals[(t + seed) % 12];
    switch (dt) {
    case NDP_FLOAT64: ((double *)p)[t] = v; break;
    case NDP_FLOAT32: ((float *)p)[t] = (float)v; break;
    case NDP_INT64: ((int64_t *)p)[t] = isfinite(v) && fabs(v) < 1e9 ? (int64_t)v : -7; break;
    case NDP_INT8: ((int8_t *)p)[t] = (int8_t)(isfinite(v) && fabs(v) < 100 ? v : 5); break;
    default: ((uint8_t *)p)[t] = v > 0; break;
    }
  }
}

static void run(const ndp_kernel *k, int nargs, ndp_array *args, ndp_array *out, int has_out,
                void *obuf, void *obuf2, size_t obytes, int gu_last) {
  const ndp_array *ptrs[MAXP];
  for (int i = 0; i < nargs; i++) ptrs[i] = &args[i];
  ndp_status st;
  int rcs[2];
  for (int t = 0; t < 2; t++) {
    polls = 0;
    ndp_exec ex = {t + 1, stop_soon, NULL, 0.001};
    void *buf = t ? obuf2 : obuf;
    memset(buf, 0, obytes);
    if (has_out) out->data = buf;
    if (gu_last >= 0) args[gu_last].data = buf;
    rcs[t] = ndp_kernel_eval(k, ptrs, has_out ? out : NULL, &ex, &st);
    check(known(rcs[t]));
    if (rcs[t]) check(st.msg[0] != 0);
  }
  if (rcs[0] == 0 && rcs[1] == 0) check(memcmp(obuf, obuf2, obytes) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 8192) return 0;
  char *src = malloc(size + 1);
  if (!src) return 0;
  memcpy(src, data, size);
  src[size] = 0;
  ndp_status st;
  int np = 0;
  int rc = ndp_kernel_check(src, NULL, NULL, &np, &st);
  check(known(rc));
  if (rc) {
    check(st.msg[0] != 0 && st.pos >= 1 && st.pos <= (long)size + 2);
  }
  if (rc || np > MAXP) {
    free(src);
    return 0;
  }
  static const ndp_dtype cyc[NC] = {NDP_FLOAT64, NDP_INT64, NDP_FLOAT32, NDP_BOOL, NDP_INT8};
  static double bufs[MAXP][NL * NL];
  static double obuf[NL * NL], obuf2[NL * NL];
  ndp_array args[MAXP], out;
  /* vectorize: (NL,) arrays, the second one (1,) to broadcast */
  ndp_kernel_arg ka[MAXP];
  for (int i = 0; i < np; i++) {
    ka[i].dtype = cyc[i % NC];
    ka[i].core_ndim = 0;
    ka[i].output = 0;
  }
  ndp_kernel *k = NULL;
  rc = ndp_kernel_compile(src, NULL, np, ka, NULL, &k, &st);
  check(known(rc));
  if (rc) check(st.msg[0] != 0);
  if (!rc) {
    for (int i = 0; i < np; i++) {
      int64_t n = i == 1 ? 1 : NL;
      fill(bufs[i], ka[i].dtype, NL, i);
      ndp_array_init(&args[i], bufs[i], ka[i].dtype, 1, &n);
    }
    int64_t n = NL;
    ndp_array_init(&out, obuf, ndp_kernel_result_dtype(k), 1, &n);
    check(ndp_kernel_result_dtype(k) != NDP_NTYPES);
    run(k, np, args, &out, 1, obuf, obuf2, sizeof obuf, -1);
    char ex[64];
    ndp_kernel_explain(k, ex, sizeof ex);
    ndp_kernel_free(k);
  }
  /* guvectorize: x (NL rows of NL), scalars, out rows */
  if (np >= 2) {
    for (int i = 0; i < np; i++) {
      ka[i].dtype = i == 0 ? NDP_FLOAT64 : NDP_INT64;
      ka[i].core_ndim = (i == 0 || i == np - 1) ? 1 : 0;
      ka[i].output = i == np - 1;
      if (ka[i].output) ka[i].dtype = NDP_NTYPES;
    }
    k = NULL;
    rc = ndp_kernel_compile(src, NULL, np, ka, NULL, &k, &st);
    check(known(rc));
    if (!rc) {
      int64_t sh[2] = {NL, NL};
      for (int i = 0; i < np; i++) {
        if (i == 0) {
          fill(bufs[i], NDP_FLOAT64, NL * NL, 3);
          ndp_array_init(&args[i], bufs[i], NDP_FLOAT64, 2, sh);
        } else if (i == np - 1) {
          ndp_array_init(&args[i], obuf, ndp_kernel_arg_dtype(k, i), 2, sh);
        } else {
          int64_t one = NL;
          fill(bufs[i], NDP_INT64, NL, i);
          ndp_array_init(&args[i], bufs[i], NDP_INT64, 1, &one);
        }
      }
      run(k, np, args, NULL, 0, obuf, obuf2, sizeof obuf, np - 1);
      ndp_kernel_free(k);
    }
  }
  free(src);
  return 0;
}
