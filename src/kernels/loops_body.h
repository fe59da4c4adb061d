/*
 * kernels/loops_body.h - every operation on every dtype, as plain C loops.
 *
 * Included once per instruction-set directory (ref/, x86_sse2/, x86_avx2/,
 * x86_avx512/), each compiled with its own -m flags, so the compiler
 * auto-vectorizes the same loops for each ISA. The includer defines
 * NDP_KREGISTER, the name of the function that fills a table.
 * Transcendentals here call libm one element at a time: that is the
 * reference; the x86 directories override the float ones with SLEEF.
 *
 * Integer semantics follow NumPy: wrap-around on overflow (computed in
 * unsigned arithmetic, so no undefined behaviour), x // 0 == 0, x % 0 == 0,
 * MIN // -1 == MIN, Python-style floor division and modulo; float floor
 * division and remainder follow NumPy's divmod (documented in docs/design).
 * Float minimum/maximum/fmin/fmax give the second operand when the two
 * compare equal (so -0 vs +0 gives b, as NumPy's loops do); NaN: minimum
 * and maximum propagate it, fmin and fmax take the other operand.
 * A boolean input byte is read as "!= 0" (NumPy: any nonzero byte is
 * True), and bool outputs are always 0 or 1.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"

#ifndef NDP_KREGISTER
#error "define NDP_KREGISTER before including loops_body.h"
#endif

typedef uint8_t ndp_bool_t;

/* The integer loops are written once for signed and unsigned types, so
 * "x < 0" is always false for some of them: that is intended. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wtautological-unsigned-zero-compare"
#pragma clang diagnostic ignored "-Wtype-limits"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wtype-limits"
#endif

/* X(DT, ctype, unsigned wide type, is_signed, min) */
#define NDP__INTS(X)                                  \
  X(INT8, int8_t, uint32_t, 1, INT8_MIN)              \
  X(UINT8, uint8_t, uint32_t, 0, 0)                   \
  X(INT16, int16_t, uint32_t, 1, INT16_MIN)           \
  X(UINT16, uint16_t, uint32_t, 0, 0)                 \
  X(INT32, int32_t, uint32_t, 1, INT32_MIN)           \
  X(UINT32, uint32_t, uint32_t, 0, 0)                 \
  X(INT64, int64_t, uint64_t, 1, INT64_MIN)           \
  X(UINT64, uint64_t, uint64_t, 0, 0)

/* X(DT, ctype, libm suffix, helper suffix) */
#define NDP__FLTS(X) X(FLOAT32, float, f, _f) X(FLOAT64, double, , _d)

/* ---- loop shapes ---------------------------------------------------------- */

#define UNARY(name, T, TO, expr)                                        \
  static int name(const char *const *in, char *out, size_t n) {          \
    const T *a = (const T *)in[0];                                       \
    TO *o = (TO *)out;                                                   \
    for (size_t i = 0; i < n; i++) {                                     \
      const T x = a[i];                                                  \
      o[i] = (TO)(expr);                                                 \
    }                                                                    \
    return 0;                                                            \
  }

#define BINARY(name, T, TO, expr)                                       \
  static int name(const char *const *in, char *out, size_t n) {          \
    const T *pa = (const T *)in[0];                                      \
    const T *pb = (const T *)in[1];                                      \
    TO *o = (TO *)out;                                                   \
    for (size_t i = 0; i < n; i++) {                                     \
      const T a = pa[i], b = pb[i];                                      \
      o[i] = (TO)(expr);                                                 \
    }                                                                    \
    return 0;                                                            \
  }

/* ---- floats --------------------------------------------------------------- */

/* NumPy's divmod for floats: the quotient floored and the remainder with
 * the divisor's sign; b == 0 gives a / b and fmod's NaN. One body for
 * double (S empty) and float (S = f). */
#define NDP__FDIVMOD(T, S, H)                                                 \
  static inline T ndp__fdivmod##H(T a, T b, T *modp) {                        \
    T mod = fmod##S(a, b);                                                    \
    if (b == 0) {                                                             \
      *modp = mod;                                                            \
      return a / b;                                                           \
    }                                                                         \
    T div = (a - mod) / b;                                                    \
    if (mod != 0) {                                                           \
      if ((b < 0) != (mod < 0)) {                                             \
        mod += b;                                                             \
        div -= 1;                                                             \
      }                                                                       \
    } else {                                                                  \
      mod = copysign##S(0, b);                                                \
    }                                                                         \
    T fl;                                                                     \
    if (div != 0) {                                                           \
      fl = floor##S(div);                                                     \
      if (div - fl > (T)0.5) fl += 1;                                         \
    } else {                                                                  \
      fl = copysign##S(0, a / b);                                             \
    }                                                                         \
    *modp = mod;                                                              \
    return fl;                                                                \
  }                                                                           \
  static inline T ndp__floordiv##H(T a, T b) {                                \
    T m;                                                                      \
    return ndp__fdivmod##H(a, b, &m);                                         \
  }                                                                           \
  static inline T ndp__rem##H(T a, T b) {                                     \
    T m;                                                                      \
    ndp__fdivmod##H(a, b, &m);                                                \
    return m;                                                                 \
  }
NDP__FDIVMOD(double, , _d)
NDP__FDIVMOD(float, f, _f)

#define FLT_LOOPS(DT, T, S, H)                                                   \
  UNARY(exp_##DT, T, T, exp##S(x))                                            \
  UNARY(expm1_##DT, T, T, expm1##S(x))                                        \
  UNARY(exp2_##DT, T, T, exp2##S(x))                                          \
  UNARY(log_##DT, T, T, log##S(x))                                            \
  UNARY(log1p_##DT, T, T, log1p##S(x))                                        \
  UNARY(log2_##DT, T, T, log2##S(x))                                          \
  UNARY(log10_##DT, T, T, log10##S(x))                                        \
  UNARY(sqrt_##DT, T, T, sqrt##S(x))                                          \
  UNARY(cbrt_##DT, T, T, cbrt##S(x))                                          \
  UNARY(sin_##DT, T, T, sin##S(x))                                            \
  UNARY(cos_##DT, T, T, cos##S(x))                                            \
  UNARY(tan_##DT, T, T, tan##S(x))                                            \
  UNARY(arcsin_##DT, T, T, asin##S(x))                                        \
  UNARY(arccos_##DT, T, T, acos##S(x))                                        \
  UNARY(arctan_##DT, T, T, atan##S(x))                                        \
  UNARY(sinh_##DT, T, T, sinh##S(x))                                          \
  UNARY(cosh_##DT, T, T, cosh##S(x))                                          \
  UNARY(tanh_##DT, T, T, tanh##S(x))                                          \
  UNARY(arcsinh_##DT, T, T, asinh##S(x))                                      \
  UNARY(arccosh_##DT, T, T, acosh##S(x))                                      \
  UNARY(arctanh_##DT, T, T, atanh##S(x))                                      \
  UNARY(abs_##DT, T, T, fabs##S(x))                                           \
  UNARY(negative_##DT, T, T, -x)                                              \
  UNARY(floor_##DT, T, T, floor##S(x))                                        \
  UNARY(ceil_##DT, T, T, ceil##S(x))                                          \
  UNARY(trunc_##DT, T, T, trunc##S(x))                                        \
  UNARY(rint_##DT, T, T, rint##S(x))                                          \
  UNARY(square_##DT, T, T, x * x)                                             \
  UNARY(reciprocal_##DT, T, T, (T)1 / x)                                      \
  UNARY(sign_##DT, T, T, x > 0 ? (T)1 : (x < 0 ? (T)-1 : (x == 0 ? (T)0 : x))) \
  UNARY(isnan_##DT, T, ndp_bool_t, x != x)                                    \
  UNARY(isinf_##DT, T, ndp_bool_t, fabs##S(x) == (T)INFINITY)                 \
  UNARY(isfinite_##DT, T, ndp_bool_t, fabs##S(x) < (T)INFINITY)               \
  BINARY(add_##DT, T, T, a + b)                                               \
  BINARY(subtract_##DT, T, T, a - b)                                          \
  BINARY(multiply_##DT, T, T, a * b)                                          \
  BINARY(divide_##DT, T, T, a / b)                                            \
  BINARY(floor_divide_##DT, T, T, ndp__floordiv##H(a, b))                \
  BINARY(remainder_##DT, T, T, ndp__rem##H(a, b))                        \
  BINARY(power_##DT, T, T, pow##S(a, b))                                      \
  BINARY(minimum_##DT, T, T, (a < b || a != a) ? a : b)                       \
  BINARY(maximum_##DT, T, T, (a > b || a != a) ? a : b)                       \
  BINARY(fmin_##DT, T, T, (a < b || b != b) ? a : b)                          \
  BINARY(fmax_##DT, T, T, (a > b || b != b) ? a : b)                          \
  BINARY(arctan2_##DT, T, T, atan2##S(a, b))                                  \
  BINARY(hypot_##DT, T, T, hypot##S(a, b))                                    \
  BINARY(equal_##DT, T, ndp_bool_t, a == b)                                   \
  BINARY(not_equal_##DT, T, ndp_bool_t, a != b)                               \
  BINARY(less_##DT, T, ndp_bool_t, a < b)                                     \
  BINARY(less_equal_##DT, T, ndp_bool_t, a <= b)                              \
  BINARY(greater_##DT, T, ndp_bool_t, a > b)                                  \
  BINARY(greater_equal_##DT, T, ndp_bool_t, a >= b)                           \
  BINARY(logical_and_##DT, T, ndp_bool_t, (a != 0) & (b != 0))                \
  BINARY(logical_or_##DT, T, ndp_bool_t, (a != 0) | (b != 0))                 \
  BINARY(logical_xor_##DT, T, ndp_bool_t, (a != 0) ^ (b != 0))

NDP__FLTS(FLT_LOOPS)

/* ---- integers ------------------------------------------------------------- */

#define INT_POWER(DT, T, UT, SGN)                                            \
  static int power_##DT(const char *const *in, char *out, size_t n) {      \
    const T *pa = (const T *)in[0], *pb = (const T *)in[1];                 \
    T *o = (T *)out;                                                        \
    for (size_t i = 0; i < n; i++) {                                        \
      T b = pb[i];                                                          \
      if (SGN && b < 0) return NDP_EDOMAIN;                                 \
      UT base = (UT)pa[i], r = 1;                                           \
      uint64_t e = (uint64_t)b;                                             \
      while (e) {                                                           \
        if (e & 1) r = (UT)(r * base);                                      \
        base = (UT)(base * base);                                           \
        e >>= 1;                                                            \
      }                                                                     \
      o[i] = (T)r;                                                          \
    }                                                                       \
    return 0;                                                               \
  }

#define INT_LOOPS(DT, T, UT, SGN, MIN)                                        \
  UNARY(abs_##DT, T, T, (SGN && x < 0) ? (T)((UT)0 - (UT)x) : x)              \
  UNARY(negative_##DT, T, T, (T)((UT)0 - (UT)x))                              \
  UNARY(floor_##DT, T, T, x)                                                  \
  UNARY(ceil_##DT, T, T, x)                                                   \
  UNARY(trunc_##DT, T, T, x)                                                  \
  UNARY(square_##DT, T, T, (T)((UT)x * (UT)x))                                \
  UNARY(reciprocal_##DT, T, T,                                                \
        x == 1 ? (T)1                                                         \
               : (SGN && x == (T)-1) ? (T)-1                                  \
                                     : (x == 0 && SGN && sizeof(T) >= 4)      \
                                           ? (T)(MIN) : (T)0)                 \
  UNARY(sign_##DT, T, T, x > 0 ? (T)1 : (x < 0 ? (T)-1 : (T)0))               \
  UNARY(isnan_##DT, T, ndp_bool_t, 0 * x)                                     \
  UNARY(isinf_##DT, T, ndp_bool_t, 0 * x)                                     \
  UNARY(isfinite_##DT, T, ndp_bool_t, 1 + 0 * x)                              \
  BINARY(add_##DT, T, T, (T)((UT)a + (UT)b))                                  \
  BINARY(subtract_##DT, T, T, (T)((UT)a - (UT)b))                             \
  BINARY(multiply_##DT, T, T, (T)((UT)a * (UT)b))                             \
  BINARY(floor_divide_##DT, T, T,                                             \
         b == 0 ? (T)0                                                        \
         : (SGN && b == (T)-1) ? (T)((UT)0 - (UT)a)                           \
         : (T)(a / b - (SGN && (a % b != 0) && ((a < 0) != (b < 0)))))        \
  BINARY(remainder_##DT, T, T,                                                \
         (b == 0 || (SGN && b == (T)-1)) ? (T)0                               \
         : (T)(a % b + ((SGN && (a % b != 0) && ((a % b < 0) != (b < 0))) ? b : 0))) \
  INT_POWER(DT, T, UT, SGN)                                                   \
  BINARY(minimum_##DT, T, T, a < b ? a : b)                                   \
  BINARY(maximum_##DT, T, T, a > b ? a : b)                                   \
  BINARY(fmin_##DT, T, T, a < b ? a : b)                                      \
  BINARY(fmax_##DT, T, T, a > b ? a : b)                                      \
  BINARY(equal_##DT, T, ndp_bool_t, a == b)                                   \
  BINARY(not_equal_##DT, T, ndp_bool_t, a != b)                               \
  BINARY(less_##DT, T, ndp_bool_t, a < b)                                     \
  BINARY(less_equal_##DT, T, ndp_bool_t, a <= b)                              \
  BINARY(greater_##DT, T, ndp_bool_t, a > b)                                  \
  BINARY(greater_equal_##DT, T, ndp_bool_t, a >= b)                           \
  BINARY(logical_and_##DT, T, ndp_bool_t, (a != 0) & (b != 0))                \
  BINARY(logical_or_##DT, T, ndp_bool_t, (a != 0) | (b != 0))                 \
  BINARY(logical_xor_##DT, T, ndp_bool_t, (a != 0) ^ (b != 0))

NDP__INTS(INT_LOOPS)

/* ---- bool ----------------------------------------------------------------- */

UNARY(abs_BOOL, ndp_bool_t, ndp_bool_t, x != 0)
UNARY(floor_BOOL, ndp_bool_t, ndp_bool_t, x != 0)
UNARY(ceil_BOOL, ndp_bool_t, ndp_bool_t, x != 0)
UNARY(trunc_BOOL, ndp_bool_t, ndp_bool_t, x != 0)
UNARY(isnan_BOOL, ndp_bool_t, ndp_bool_t, 0 * x)
UNARY(isinf_BOOL, ndp_bool_t, ndp_bool_t, 0 * x)
UNARY(isfinite_BOOL, ndp_bool_t, ndp_bool_t, 1 + 0 * x)
BINARY(add_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) | (b != 0))
BINARY(multiply_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) & (b != 0))
BINARY(minimum_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) & (b != 0))
BINARY(maximum_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) | (b != 0))
BINARY(fmin_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) & (b != 0))
BINARY(fmax_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) | (b != 0))
BINARY(equal_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) == (b != 0))
BINARY(not_equal_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) != (b != 0))
BINARY(less_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) < (b != 0))
BINARY(less_equal_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) <= (b != 0))
BINARY(greater_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) > (b != 0))
BINARY(greater_equal_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) >= (b != 0))
BINARY(logical_and_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) & (b != 0))
BINARY(logical_or_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) | (b != 0))
BINARY(logical_xor_BOOL, ndp_bool_t, ndp_bool_t, (a != 0) ^ (b != 0))

/* ---- int64 vs uint64 comparisons (exact, as NumPy 2) ------------------------ */

#define MIXED_CMP(op, expr_qQ, expr_Qq)                                        \
  BINARY_MIXED(op##_qQ, int64_t, uint64_t, expr_qQ)                            \
  BINARY_MIXED(op##_Qq, uint64_t, int64_t, expr_Qq)
#define BINARY_MIXED(name, TA, TB, expr)                                      \
  static int name(const char *const *in, char *out, size_t n) {              \
    const TA *pa = (const TA *)in[0];                                        \
    const TB *pb = (const TB *)in[1];                                        \
    ndp_bool_t *o = (ndp_bool_t *)out;                                       \
    for (size_t i = 0; i < n; i++) {                                         \
      const TA a = pa[i];                                                    \
      const TB b = pb[i];                                                    \
      o[i] = (ndp_bool_t)(expr);                                             \
    }                                                                        \
    return 0;                                                                \
  }
/* signed s vs unsigned u: s < u  <=>  s < 0 || (uint64_t)s < u */
MIXED_CMP(equal, a >= 0 && (uint64_t)a == b, b >= 0 && a == (uint64_t)b)
MIXED_CMP(not_equal, a < 0 || (uint64_t)a != b, b < 0 || a != (uint64_t)b)
MIXED_CMP(less, a < 0 || (uint64_t)a < b, b >= 0 && a < (uint64_t)b)
MIXED_CMP(less_equal, a < 0 || (uint64_t)a <= b, b >= 0 && a <= (uint64_t)b)
MIXED_CMP(greater, a >= 0 && (uint64_t)a > b, b < 0 || a > (uint64_t)b)
MIXED_CMP(greater_equal, a >= 0 && (uint64_t)a >= b, b < 0 || a >= (uint64_t)b)

/* ---- registration ----------------------------------------------------------- */

#define REG(OP, name, DT) t->fn[NDP_OP_##OP][NDP_##DT] = name##_##DT;

#define REG_FLT_ONLY(DT, ...)                                                 \
  REG(EXP, exp, DT) REG(EXPM1, expm1, DT) REG(EXP2, exp2, DT)                  \
  REG(LOG, log, DT) REG(LOG1P, log1p, DT) REG(LOG2, log2, DT)                  \
  REG(LOG10, log10, DT) REG(SQRT, sqrt, DT) REG(CBRT, cbrt, DT)                \
  REG(SIN, sin, DT) REG(COS, cos, DT) REG(TAN, tan, DT)                        \
  REG(ARCSIN, arcsin, DT) REG(ARCCOS, arccos, DT) REG(ARCTAN, arctan, DT)      \
  REG(SINH, sinh, DT) REG(COSH, cosh, DT) REG(TANH, tanh, DT)                  \
  REG(ARCSINH, arcsinh, DT) REG(ARCCOSH, arccosh, DT)                          \
  REG(ARCTANH, arctanh, DT) REG(RINT, rint, DT) REG(DIVIDE, divide, DT)        \
  REG(ARCTAN2, arctan2, DT) REG(HYPOT, hypot, DT)

#define REG_NUM(DT, ...)                                                       \
  REG(NEGATIVE, negative, DT) REG(SQUARE, square, DT)                          \
  REG(RECIPROCAL, reciprocal, DT) REG(SIGN, sign, DT)                          \
  REG(SUBTRACT, subtract, DT) REG(FLOOR_DIVIDE, floor_divide, DT)              \
  REG(REMAINDER, remainder, DT) REG(POWER, power, DT)

#define REG_ALL(DT, ...)                                                       \
  REG(ABS, abs, DT) REG(FLOOR, floor, DT) REG(CEIL, ceil, DT)                  \
  REG(TRUNC, trunc, DT) REG(ISNAN, isnan, DT) REG(ISINF, isinf, DT)            \
  REG(ISFINITE, isfinite, DT) REG(ADD, add, DT) REG(MULTIPLY, multiply, DT)    \
  REG(MINIMUM, minimum, DT) REG(MAXIMUM, maximum, DT) REG(FMIN, fmin, DT)      \
  REG(FMAX, fmax, DT) REG(EQUAL, equal, DT) REG(NOT_EQUAL, not_equal, DT)      \
  REG(LESS, less, DT) REG(LESS_EQUAL, less_equal, DT)                          \
  REG(GREATER, greater, DT) REG(GREATER_EQUAL, greater_equal, DT)              \
  REG(LOGICAL_AND, logical_and, DT) REG(LOGICAL_OR, logical_or, DT)            \
  REG(LOGICAL_XOR, logical_xor, DT)

#define REG_MIXED(OP, name)                                                    \
  t->cmp_qQ[NDP_OP_##OP] = name##_qQ;                                          \
  t->cmp_Qq[NDP_OP_##OP] = name##_Qq;

void NDP_KREGISTER(ndp__ktable *t);
void NDP_KREGISTER(ndp__ktable *t) {
  NDP__FLTS(REG_FLT_ONLY)
  NDP__FLTS(REG_NUM)
  NDP__FLTS(REG_ALL)
  NDP__INTS(REG_NUM)
  NDP__INTS(REG_ALL)
  REG_ALL(BOOL)
  REG_MIXED(EQUAL, equal)
  REG_MIXED(NOT_EQUAL, not_equal)
  REG_MIXED(LESS, less)
  REG_MIXED(LESS_EQUAL, less_equal)
  REG_MIXED(GREATER, greater)
  REG_MIXED(GREATER_EQUAL, greater_equal)
#ifdef NDP_KREGISTER_EXTRA
  NDP_KREGISTER_EXTRA(t);
#endif
}
