/*
 * kernels/dispatch.c - one kernel table per instruction set, built once.
 *
 * Each table starts as the reference table and is then overridden by what
 * the instruction set's directory implements. Built lazily under
 * pthread_once; read-only afterwards, so any thread may use it.
 *
 * float16 loops: NumPy computes its float16 ufuncs in float32 (its 'e'
 * loops convert each element to float, call the float function and round
 * back), and so does ndpar: fn[op][NDP_FLOAT16] converts blocks of BLK
 * elements to float32 with the table's h2f, runs the same table's float32
 * kernel and rounds the results to float16 with f2h (predicates write
 * their bools directly). Results are float32 results correctly rounded to
 * float16.
 */
#include <pthread.h>

#include "core/half.h"
#include "kernels/kernels.h"

static ndp__ktable tables[NDP_NISAS];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* ---- float16 loops ---------------------------------------------------------- */

#define BLK 1024

static void h2f_c(const uint16_t *src, float *dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = ndp__f16_to_f32(src[i]);
}
static void f2h_c(const float *src, uint16_t *dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = ndp__f32_to_f16(src[i]);
}

#define NDP__PRED_FLT 0
#define NDP__PRED_ALL 0
#define NDP__PRED_NUM 0
#define NDP__PRED_DIV 0
#define NDP__PRED_PRED 1
static const unsigned char bool_out[NDP_NOPS] = {
#define XX(id, name, nin, cls) NDP__PRED_##cls,
    NDP_OP_MAP(XX)
#undef XX
};
static const unsigned char op_nin[NDP_NOPS] = {
#define XX(id, name, nin, cls) nin,
    NDP_OP_MAP(XX)
#undef XX
};

static int f16_run(const ndp__ktable *t, int op, const char *const *in, char *out, size_t n) {
  _Alignas(64) float a[BLK], b[BLK], y[BLK];
  const ndp__loop_fn f = t->fn[op][NDP_FLOAT32];
  const int nin = op_nin[op];
  const uint16_t *x0 = (const uint16_t *)(const void *)in[0];
  const uint16_t *x1 = nin > 1 ? (const uint16_t *)(const void *)in[1] : NULL;
  const char *const ins[2] = {(const char *)a, (const char *)b};
  for (size_t done = 0; done < n; done += BLK) {
    const size_t m = n - done < BLK ? n - done : BLK;
    t->h2f(x0 + done, a, m); /* both inputs read before out is written */
    if (x1) t->h2f(x1 + done, b, m);
    int rc;
    if (bool_out[op]) {
      rc = f(ins, out + done, m);
    } else {
      rc = f(ins, (char *)y, m);
      t->f2h(y, (uint16_t *)(void *)out + done, m);
    }
    if (rc) return rc;
  }
  return 0;
}

/* one wrapper per (table, op): loop functions take no context */
#define DEF_H(I)                                                                  \
  static int h##I##_run(int op, const char *const *in, char *out, size_t n) {    \
    return f16_run(&tables[I], op, in, out, n);                                   \
  }
DEF_H(0)
DEF_H(1)
DEF_H(2)
DEF_H(3)
_Static_assert(NDP_NISAS == 4, "one DEF_H per instruction set");
#define H0(id, name, nin, cls) \
  static int h0_##id(const char *const *in, char *out, size_t n) { return h0_run(NDP_OP_##id, in, out, n); }
#define H1(id, name, nin, cls) \
  static int h1_##id(const char *const *in, char *out, size_t n) { return h1_run(NDP_OP_##id, in, out, n); }
#define H2(id, name, nin, cls) \
  static int h2_##id(const char *const *in, char *out, size_t n) { return h2_run(NDP_OP_##id, in, out, n); }
#define H3(id, name, nin, cls) \
  static int h3_##id(const char *const *in, char *out, size_t n) { return h3_run(NDP_OP_##id, in, out, n); }
NDP_OP_MAP(H0)
NDP_OP_MAP(H1)
NDP_OP_MAP(H2)
NDP_OP_MAP(H3)
#define E0(id, name, nin, cls) h0_##id,
#define E1(id, name, nin, cls) h1_##id,
#define E2(id, name, nin, cls) h2_##id,
#define E3(id, name, nin, cls) h3_##id,
static const ndp__loop_fn hloops[NDP_NISAS][NDP_NOPS] = {
    {NDP_OP_MAP(E0)}, {NDP_OP_MAP(E1)}, {NDP_OP_MAP(E2)}, {NDP_OP_MAP(E3)}};

static void build(void) {
  for (int i = 0; i < NDP_NISAS; i++) {
    ndp__kregister_ref(&tables[i]);
    tables[i].h2f = h2f_c;
    tables[i].f2h = f2h_c;
  }
#if defined(NDP_HAVE_X86)
  ndp__kregister_sse2(&tables[NDP_ISA_SSE2]);
  ndp_isa cpu = ndp_cpu_isa();
  if (cpu >= NDP_ISA_AVX2) ndp__kregister_avx2(&tables[NDP_ISA_AVX2]);
  if (cpu >= NDP_ISA_AVX512) ndp__kregister_avx512(&tables[NDP_ISA_AVX512]);
#endif
  for (int i = 0; i < NDP_NISAS; i++)
    for (int op = 0; op < NDP_NOPS; op++)
      if (tables[i].fn[op][NDP_FLOAT32]) tables[i].fn[op][NDP_FLOAT16] = hloops[i][op];
}

const ndp__ktable *ndp__ktable_for(ndp_isa isa) {
  pthread_once(&once, build);
  if ((unsigned)isa >= NDP_NISAS) isa = NDP_ISA_REF;
  return &tables[isa];
}
