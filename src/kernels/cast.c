/*
 * kernels/cast.c - dtype conversions and strided gather/scatter, used by
 * the engine's buffered path (strided, byte-swapped or cast operands).
 *
 * Conversions follow C (and so NumPy) for in-range values: to bool is
 * "!= 0", integer narrowing wraps. A bool is read as "byte != 0" (NumPy
 * treats any nonzero byte as True), so bool -> bool normalises to 0/1. A float that does not fit the target
 * integer (or is NaN) gives the x86-64 "integer indefinite" pattern via
 * int64 (INT64_MIN, truncated): defined behaviour, where plain C would be
 * undefined; NumPy leaves that case unspecified as well.
 */
#include <stdint.h>
#include <string.h>

#include "core/half.h"
#include "kernels/engine_internal.h"

typedef uint8_t ndp_bool_t;

static inline int64_t f2i64(double x) {
  return (x >= -9223372036854775808.0 && x < 9223372036854775808.0) ? (int64_t)x
                                                                     : INT64_MIN;
}
static inline uint64_t f2u64(double x) {
  return (x >= 0.0 && x < 18446744073709551616.0) ? (uint64_t)x : (uint64_t)f2i64(x);
}

/* kinds: 0 bool, 1 integer, 2 float */
#define NDP__CTYPES(X, ...)                                                  \
  X(__VA_ARGS__, BOOL, ndp_bool_t, 0) X(__VA_ARGS__, INT8, int8_t, 1)        \
  X(__VA_ARGS__, UINT8, uint8_t, 1) X(__VA_ARGS__, INT16, int16_t, 1)        \
  X(__VA_ARGS__, UINT16, uint16_t, 1) X(__VA_ARGS__, INT32, int32_t, 1)      \
  X(__VA_ARGS__, UINT32, uint32_t, 1) X(__VA_ARGS__, INT64, int64_t, 1)      \
  X(__VA_ARGS__, UINT64, uint64_t, 1) X(__VA_ARGS__, FLOAT32, float, 2)      \
  X(__VA_ARGS__, FLOAT64, double, 2)

/* the same list again: a macro cannot expand itself when nested */
#define NDP__CTYPES_TO(X, ...)                                                  \
  X(__VA_ARGS__, BOOL, ndp_bool_t, 0) X(__VA_ARGS__, INT8, int8_t, 1)        \
  X(__VA_ARGS__, UINT8, uint8_t, 1) X(__VA_ARGS__, INT16, int16_t, 1)        \
  X(__VA_ARGS__, UINT16, uint16_t, 1) X(__VA_ARGS__, INT32, int32_t, 1)      \
  X(__VA_ARGS__, UINT32, uint32_t, 1) X(__VA_ARGS__, INT64, int64_t, 1)      \
  X(__VA_ARGS__, UINT64, uint64_t, 1) X(__VA_ARGS__, FLOAT32, float, 2)      \
  X(__VA_ARGS__, FLOAT64, double, 2)

#define CVT(F, FK, T, TK, x)                                                 \
  ((TK) == 0   ? (T)((x) != 0)                                               \
   : (FK) == 0 ? (T)((x) != 0)                                               \
   : (FK) == 2 && (TK) == 1                                                  \
       ? (sizeof(T) == 8 && (T)-1 > 0 ? (T)f2u64((double)(x)) : (T)f2i64((double)(x))) \
       : (T)(x))

#define DEF_CAST(FD, F, FK, TD, T, TK)                                       \
  static void cast_##FD##_##TD(const void *src, void *dst, size_t n) {       \
    const F *a = (const F *)src;                                             \
    T *o = (T *)dst;                                                         \
    for (size_t i = 0; i < n; i++) o[i] = CVT(F, FK, T, TK, a[i]);           \
  }
#define DEF_FROM(_, FD, F, FK) NDP__CTYPES_TO(DEF_CAST, FD, F, FK)
NDP__CTYPES(DEF_FROM, 0)

#define ROW_ENTRY(FD, F, FK, TD, T, TK) cast_##FD##_##TD,
#define ROW(_, FD, F, FK) {NDP__CTYPES_TO(ROW_ENTRY, FD, F, FK)},
/* float16 (the last dtype) has its own row and column below */
static const ndp__cast_fn table[NDP_FLOAT16][NDP_FLOAT16] = {NDP__CTYPES(ROW, 0)};

/* x (of kind FK, C type F) as float16 bits */
#define TO_HALF(F, FK, x)                                                    \
  ((FK) == 0 ? (ndp__half)((x) != 0 ? 0x3c00u : 0u)                          \
   : (FK) == 2 && sizeof(F) == 4 ? ndp__f32_to_f16((float)(x))               \
                                 : ndp__f64_to_f16((double)(x)))
#define DEF_TO16(_, FD, F, FK)                                               \
  static void cast_##FD##_FLOAT16(const void *src, void *dst, size_t n) {    \
    const F *a = (const F *)src;                                             \
    ndp__half *o = (ndp__half *)dst;                                         \
    for (size_t i = 0; i < n; i++) o[i] = TO_HALF(F, FK, a[i]);              \
  }
NDP__CTYPES(DEF_TO16, 0)
#define DEF_FROM16(_, TD, T, TK)                                             \
  static void cast_FLOAT16_##TD(const void *src, void *dst, size_t n) {      \
    const ndp__half *a = (const ndp__half *)src;                             \
    T *o = (T *)dst;                                                         \
    for (size_t i = 0; i < n; i++) {                                         \
      if ((TK) == 2 && sizeof(T) == 8) { /* exact, payloads kept */          \
        double d = ndp__f16_to_f64(a[i]);                                    \
        memcpy(&o[i], &d, sizeof d);                                         \
      } else {                                                               \
        float v = ndp__f16_to_f32(a[i]);                                     \
        o[i] = CVT(float, 2, T, TK, v);                                      \
      }                                                                      \
    }                                                                        \
  }
NDP__CTYPES(DEF_FROM16, 0)
static void cast_FLOAT16_FLOAT16(const void *src, void *dst, size_t n) {
  memcpy(dst, src, n * sizeof(ndp__half));
}
#define ENTRY_TO16(_, FD, F, FK) cast_##FD##_FLOAT16,
#define ENTRY_FROM16(_, TD, T, TK) cast_FLOAT16_##TD,
static const ndp__cast_fn to16[NDP_FLOAT16] = {NDP__CTYPES(ENTRY_TO16, 0)};
static const ndp__cast_fn from16[NDP_FLOAT16] = {NDP__CTYPES(ENTRY_FROM16, 0)};

#if defined(NDP_HAVE_X86) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
/* F16C versions of float16 <-> float32/float64 for the buffered path, used
 * at the avx2 level and above (which require F16C). Blocks of 8 holding an
 * inf or NaN (float16 exponent 31, float32 exponent 255) go through the
 * portable code, because F16C quiets signalling NaNs and NumPy does not:
 * the results are the portable ones, bit for bit. */
#define F16C __attribute__((target("avx,f16c")))
F16C static void h2f_f16c(const void *src, void *dst, size_t n) {
  const ndp__half *a = src;
  float *o = dst;
  size_t i = 0;
  const __m128i e = _mm_set1_epi16(0x7c00);
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(a + i));
    if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(h, e), e))) {
      for (size_t k = i; k < i + 8; k++) o[k] = ndp__f16_to_f32(a[k]);
    } else {
      _mm256_storeu_ps(o + i, _mm256_cvtph_ps(h));
    }
  }
  for (; i < n; i++) o[i] = ndp__f16_to_f32(a[i]);
}
F16C static void h2d_f16c(const void *src, void *dst, size_t n) {
  const ndp__half *a = src;
  double *o = dst;
  size_t i = 0;
  const __m128i e = _mm_set1_epi16(0x7c00);
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(a + i));
    if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(h, e), e))) {
      for (size_t k = i; k < i + 8; k++) o[k] = ndp__f16_to_f64(a[k]);
    } else {
      __m256 f = _mm256_cvtph_ps(h);
      _mm256_storeu_pd(o + i, _mm256_cvtps_pd(_mm256_castps256_ps128(f)));
      _mm256_storeu_pd(o + i + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)));
    }
  }
  for (; i < n; i++) o[i] = ndp__f16_to_f64(a[i]);
}
F16C static void f2h_f16c(const void *src, void *dst, size_t n) {
  const float *a = src;
  ndp__half *o = dst;
  size_t i = 0;
  const __m256i e = _mm256_set1_epi32(0x7f800000);
  for (; i + 8 <= n; i += 8) {
    __m256 f = _mm256_loadu_ps(a + i);
    __m256 ex = _mm256_and_ps(f, _mm256_castsi256_ps(e));
    if (_mm256_movemask_ps(_mm256_cmp_ps(ex, _mm256_castsi256_ps(e), _CMP_EQ_UQ))) {
      for (size_t k = i; k < i + 8; k++) o[k] = ndp__f32_to_f16(a[k]);
    } else {
      _mm_storeu_si128((__m128i *)(void *)(o + i), _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT));
    }
  }
  for (; i < n; i++) o[i] = ndp__f32_to_f16(a[i]);
}
#endif

ndp__cast_fn ndp__cast(ndp_dtype from, ndp_dtype to) {
  if ((unsigned)from >= NDP_NTYPES || (unsigned)to >= NDP_NTYPES) return NULL;
#if defined(NDP_HAVE_X86) && (defined(__GNUC__) || defined(__clang__))
  if ((from == NDP_FLOAT16 || to == NDP_FLOAT16) && ndp_get_isa() >= NDP_ISA_AVX2) {
    if (from == NDP_FLOAT16 && to == NDP_FLOAT32) return h2f_f16c;
    if (from == NDP_FLOAT16 && to == NDP_FLOAT64) return h2d_f16c;
    if (from == NDP_FLOAT32 && to == NDP_FLOAT16) return f2h_f16c;
  }
#endif
  if (from == NDP_FLOAT16) return to == NDP_FLOAT16 ? cast_FLOAT16_FLOAT16 : from16[to];
  if (to == NDP_FLOAT16) return to16[from];
  return table[from][to];
}

#define GATHER(T, SWAP)                                                      \
  for (size_t i = 0; i < n; i++) {                                           \
    T v;                                                                     \
    memcpy(&v, src + (ptrdiff_t)i * stride, sizeof v);                       \
    v = SWAP(v);                                                             \
    memcpy(dst + i * sizeof v, &v, sizeof v);                                \
  }
#define NOSWAP(v) (v)

void ndp__gather(const char *src, ptrdiff_t stride, size_t itemsize, int swap,
                 char *dst, size_t n) {
  switch (itemsize) {
  case 1: GATHER(uint8_t, NOSWAP) break;
  case 2: if (swap) { GATHER(uint16_t, __builtin_bswap16) } else { GATHER(uint16_t, NOSWAP) } break;
  case 4: if (swap) { GATHER(uint32_t, __builtin_bswap32) } else { GATHER(uint32_t, NOSWAP) } break;
  default: if (swap) { GATHER(uint64_t, __builtin_bswap64) } else { GATHER(uint64_t, NOSWAP) } break;
  }
}

#define SCATTER(T, SWAP)                                                     \
  for (size_t i = 0; i < n; i++) {                                           \
    T v;                                                                     \
    memcpy(&v, src + i * sizeof v, sizeof v);                                \
    v = SWAP(v);                                                             \
    memcpy(dst + (ptrdiff_t)i * stride, &v, sizeof v);                       \
  }

void ndp__scatter(const char *src, size_t itemsize, int swap, char *dst,
                  ptrdiff_t stride, size_t n) {
  switch (itemsize) {
  case 1: SCATTER(uint8_t, NOSWAP) break;
  case 2: if (swap) { SCATTER(uint16_t, __builtin_bswap16) } else { SCATTER(uint16_t, NOSWAP) } break;
  case 4: if (swap) { SCATTER(uint32_t, __builtin_bswap32) } else { SCATTER(uint32_t, NOSWAP) } break;
  default: if (swap) { SCATTER(uint64_t, __builtin_bswap64) } else { SCATTER(uint64_t, NOSWAP) } break;
  }
}
