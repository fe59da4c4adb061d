/*
 * kernels/sleef_loops.h - float32/float64 transcendentals through SLEEF's
 * vector functions, for one x86 instruction set.
 *
 * The includer (x86_sse2/, x86_avx2/, x86_avx512/) defines the vector
 * types, unaligned load/store, lane counts and NDP_SD(fn, acc) /
 * NDP_SF(fn, acc), which name SLEEF's function for that ISA, e.g.
 * Sleef_expd8_u10avx512f. The loop runs whole vectors, then pads the tail
 * into one vector on the stack, so no element is computed by other code.
 * Accuracy: the _u10 functions are within 1.0 ULP, _u05 within 0.5 ULP
 * (SLEEF's documented bounds; checked by tests/python/test_accuracy.py).
 */
#include <math.h>
#include <sleef.h>
#include <stdint.h>
#include <string.h>

#define SLEEF_UNARY(name, T, VT, N, LOAD, STORE, fn)                     \
  static int name(const char *const *in, char *out, size_t n) {          \
    const T *a = (const T *)in[0];                                       \
    T *o = (T *)out;                                                     \
    size_t i = 0;                                                        \
    for (; i + (N) <= n; i += (N)) STORE(o + i, fn(LOAD(a + i)));        \
    if (i < n) {                                                         \
      T ta[N], to[N];                                                    \
      for (size_t k = 0; k < (N); k++) ta[k] = (T)1;                     \
      memcpy(ta, a + i, (n - i) * sizeof(T));                            \
      STORE(to, fn(LOAD(ta)));                                           \
      memcpy(o + i, to, (n - i) * sizeof(T));                            \
    }                                                                    \
    return 0;                                                            \
  }

#define SLEEF_BINARY(name, T, VT, N, LOAD, STORE, fn)                    \
  static int name(const char *const *in, char *out, size_t n) {          \
    const T *a = (const T *)in[0], *b = (const T *)in[1];                \
    T *o = (T *)out;                                                     \
    size_t i = 0;                                                        \
    for (; i + (N) <= n; i += (N))                                       \
      STORE(o + i, fn(LOAD(a + i), LOAD(b + i)));                        \
    if (i < n) {                                                         \
      T ta[N], tb[N], to[N];                                             \
      for (size_t k = 0; k < (N); k++) ta[k] = tb[k] = (T)1;             \
      memcpy(ta, a + i, (n - i) * sizeof(T));                            \
      memcpy(tb, b + i, (n - i) * sizeof(T));                            \
      STORE(to, fn(LOAD(ta), LOAD(tb)));                                 \
      memcpy(o + i, to, (n - i) * sizeof(T));                            \
    }                                                                    \
    return 0;                                                            \
  }

/* The same with non-temporal (streaming) stores for outputs far larger
 * than the caches: the written lines bypass the cache and need no
 * read-for-ownership, so a memory-bound call moves a third less data.
 * Head and tail elements go through the ordinary loop `plain`. */
#define SLEEF_UNARY_NT(name, plain, T, VT, N, LOAD, STREAM, fn)          \
  static int name(const char *const *in, char *out, size_t n) {          \
    const T *a = (const T *)in[0];                                       \
    T *o = (T *)out;                                                     \
    size_t head = (size_t)(((uintptr_t)0 - (uintptr_t)o) % ((N) * sizeof(T))) / sizeof(T); \
    if ((uintptr_t)o % sizeof(T) != 0 || head >= n) return plain(in, out, n); \
    if (head) plain(in, out, head);                                      \
    size_t i = head;                                                     \
    for (; i + (N) <= n; i += (N)) STREAM(o + i, fn(LOAD(a + i)));       \
    NDP_SFENCE();                                                        \
    if (i < n) {                                                         \
      const char *rest[1] = {(const char *)(a + i)};                     \
      plain(rest, (char *)(o + i), n - i);                               \
    }                                                                    \
    return 0;                                                            \
  }

/* SLEEF's sinh/cosh, log1p, asinh and acosh overflow to inf before the
 * true result does (sinh above |x| = 709.78 where the result is finite up
 * to 710.47; log1p above 1e307; asinh/acosh above 1.34e154; float32
 * likewise). Those lanes are recomputed with libm: the input of each
 * 256-element piece is kept in a stack copy (so in-place calls work), the
 * results are scanned for inf (a vectorized reduction), and only a piece
 * with an inf from a finite input is fixed element by element. */
#define SLEEF_UNARY_FIX(name, plain, T, libm)                            \
  static int name(const char *const *in, char *out, size_t n) {          \
    const T *a = (const T *)in[0];                                       \
    T *o = (T *)out;                                                     \
    T keep[256];                                                         \
    for (size_t i = 0; i < n; i += 256) {                                \
      size_t m = n - i < 256 ? n - i : 256;                              \
      memcpy(keep, a + i, m * sizeof(T));                                \
      const char *src[1] = {(const char *)keep};                         \
      plain(src, (char *)(o + i), m);                                    \
      int bad = 0;                                                       \
      for (size_t k = 0; k < m; k++)                                     \
        bad |= (o[i + k] - o[i + k] != 0) & (keep[k] - keep[k] == 0);    \
      if (!bad) continue;                                                \
      for (size_t k = 0; k < m; k++)                                     \
        if (isinf(o[i + k]) && !isinf(keep[k]) && !isnan(keep[k]))       \
          o[i + k] = libm(keep[k]);                                      \
    }                                                                    \
    return 0;                                                            \
  }

/* X(OP, sleef name, accuracy): exact over the whole domain */
#define NDP__SLEEF_UNARY_OPS(X)                                          \
  X(EXP, exp, u10) X(EXPM1, expm1, u10) X(EXP2, exp2, u10)               \
  X(LOG, log, u10) X(LOG2, log2, u10)                                    \
  X(LOG10, log10, u10) X(CBRT, cbrt, u10) X(SIN, sin, u10)               \
  X(COS, cos, u10) X(TAN, tan, u10) X(ARCSIN, asin, u10)                 \
  X(ARCCOS, acos, u10) X(ARCTAN, atan, u10) X(TANH, tanh, u10)           \
  X(ARCTANH, atanh, u10)
/* The fix-up computes in a wider type and rounds once (glibc's own
 * double and float sinh/cosh are off by up to 1.8 ULP near overflow). */
#define NDP__WIDE(f)                                                            \
  static double wide_##f##_d(double x) { return (double)f##l((long double)x); } \
  static float wide_##f##_f(float x) { return (float)f##l((long double)x); }
NDP__WIDE(sinh)
NDP__WIDE(cosh)
NDP__WIDE(log1p)
NDP__WIDE(asinh)
NDP__WIDE(acosh)

/* X(OP, sleef name, accuracy, fix-up double, fix-up float) */
#define NDP__SLEEF_UNARY_FIX_OPS(X)                                             \
  X(SINH, sinh, u10, wide_sinh_d, wide_sinh_f)                                  \
  X(COSH, cosh, u10, wide_cosh_d, wide_cosh_f)                                  \
  X(LOG1P, log1p, u10, wide_log1p_d, wide_log1p_f)                              \
  X(ARCSINH, asinh, u10, wide_asinh_d, wide_asinh_f)                            \
  X(ARCCOSH, acosh, u10, wide_acosh_d, wide_acosh_f)
#define NDP__SLEEF_BINARY_OPS(X)                                         \
  X(ARCTAN2, atan2, u10) X(HYPOT, hypot, u05) X(POWER, pow, u10)

#define DEF_U(OP, f, acc)                                                 \
  SLEEF_UNARY(sl_##f##_d, double, NDP_VD, NDP_ND, NDP_LOADD, NDP_STORED,  \
              NDP_SD(f, acc))                                             \
  SLEEF_UNARY(sl_##f##_f, float, NDP_VF, NDP_NF, NDP_LOADF, NDP_STOREF,   \
              NDP_SF(f, acc))
#define DEF_B(OP, f, acc)                                                 \
  SLEEF_BINARY(sl_##f##_d, double, NDP_VD, NDP_ND, NDP_LOADD, NDP_STORED, \
               NDP_SD(f, acc))                                            \
  SLEEF_BINARY(sl_##f##_f, float, NDP_VF, NDP_NF, NDP_LOADF, NDP_STOREF,  \
               NDP_SF(f, acc))
#define DEF_U_NT(OP, f, acc)                                              \
  SLEEF_UNARY_NT(nt_##f##_d, sl_##f##_d, double, NDP_VD, NDP_ND, NDP_LOADD, \
                 NDP_STREAMD, NDP_SD(f, acc))                               \
  SLEEF_UNARY_NT(nt_##f##_f, sl_##f##_f, float, NDP_VF, NDP_NF, NDP_LOADF,  \
                 NDP_STREAMF, NDP_SF(f, acc))
#define DEF_U_FIX(OP, f, acc, ld, lf)                                     \
  DEF_U(OP, f, acc)                                                        \
  SLEEF_UNARY_FIX(fx_##f##_d, sl_##f##_d, double, ld)                      \
  SLEEF_UNARY_FIX(fx_##f##_f, sl_##f##_f, float, lf)
NDP__SLEEF_UNARY_OPS(DEF_U)
NDP__SLEEF_UNARY_OPS(DEF_U_NT)
NDP__SLEEF_UNARY_FIX_OPS(DEF_U_FIX)
NDP__SLEEF_BINARY_OPS(DEF_B)

#define SET_SL(OP, f, acc)                        \
  t->fn[NDP_OP_##OP][NDP_FLOAT64] = sl_##f##_d;   \
  t->fn[NDP_OP_##OP][NDP_FLOAT32] = sl_##f##_f;
#define SET_NT(OP, f, acc)                           \
  t->fn_nt[NDP_OP_##OP][NDP_FLOAT64] = nt_##f##_d;   \
  t->fn_nt[NDP_OP_##OP][NDP_FLOAT32] = nt_##f##_f;

#define SET_FIX(OP, f, acc, ld, lf)               \
  t->fn[NDP_OP_##OP][NDP_FLOAT64] = fx_##f##_d;   \
  t->fn[NDP_OP_##OP][NDP_FLOAT32] = fx_##f##_f;

static void ndp__sleef_register(ndp__ktable *t) {
  NDP__SLEEF_UNARY_OPS(SET_SL)
  NDP__SLEEF_BINARY_OPS(SET_SL)
  NDP__SLEEF_UNARY_OPS(SET_NT)
  NDP__SLEEF_UNARY_FIX_OPS(SET_FIX)
}
