/*
 * core/half.h - IEEE binary16 (NumPy's float16) <-> float32/float64, in
 * portable C, bit for bit as NumPy's npy_half conversions: narrowing is
 * correctly rounded (to nearest, ties to even; overflow to inf), subnormals
 * are exact, and a NaN keeps its sign and the top bits of its payload
 * (never quieted: NumPy converts in software too), a payload that would
 * vanish becoming 1. Widening is exact. float16 values are handled as their
 * uint16_t bits everywhere in ndpar.
 *
 * The per-ISA ufunc kernels convert with F16C instructions instead (same
 * results except that those quiet a signalling NaN).
 */
#ifndef NDP_CORE_HALF_H
#define NDP_CORE_HALF_H

#include <stdint.h>
#include <string.h>

typedef uint16_t ndp__half;

static inline ndp__half ndp__f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  const ndp__half sign = (ndp__half)((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) { /* inf, NaN */
    if (a == 0x7f800000u) return sign | 0x7c00u;
    ndp__half r = (ndp__half)(0x7c00u + ((a & 0x7fffffu) >> 13));
    return sign | (r == 0x7c00u ? 0x7c01u : r);
  }
  if (a >= 0x477ff000u) return sign | 0x7c00u;  /* >= 65520: rounds to inf */
  if (a >= 0x38800000u) {                       /* a normal half */
    const uint32_t m = a + 0xfffu + ((a >> 13) & 1u);
    return sign | (ndp__half)((m >> 13) - (112u << 10));
  }
  if (a <= 0x33000000u) return sign; /* <= 2^-25: rounds to (signed) zero */
  const uint32_t e = a >> 23, mant = (a & 0x7fffffu) | 0x800000u;
  const unsigned shift = 126u - e; /* 14..24: units of 2^-24 */
  uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u))) q++;
  return sign | (ndp__half)q;
}

static inline ndp__half ndp__f64_to_f16(double d) {
  uint64_t x;
  memcpy(&x, &d, 8);
  const ndp__half sign = (ndp__half)((x >> 48) & 0x8000u);
  const uint64_t a = x & 0x7fffffffffffffffull;
  if (a >= 0x7ff0000000000000ull) {
    if (a == 0x7ff0000000000000ull) return sign | 0x7c00u;
    ndp__half r = (ndp__half)(0x7c00u + ((a & 0xfffffffffffffull) >> 42));
    return sign | (r == 0x7c00u ? 0x7c01u : r);
  }
  if (a >= 0x40effe0000000000ull) return sign | 0x7c00u; /* >= 65520 */
  if (a >= 0x3f10000000000000ull) {                      /* >= 2^-14 */
    const uint64_t m = a + 0x1ffffffffffull + ((a >> 42) & 1u);
    return sign | (ndp__half)((m >> 42) - (1008u << 10));
  }
  if (a <= 0x3e60000000000000ull) return sign; /* <= 2^-25 */
  const uint64_t e = a >> 52, mant = (a & 0xfffffffffffffull) | (1ull << 52);
  const unsigned shift = (unsigned)(1051u - e); /* 43..53 */
  uint64_t q = mant >> shift;
  const uint64_t rem = mant & ((1ull << shift) - 1u), half = 1ull << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u))) q++;
  return sign | (ndp__half)q;
}

static inline float ndp__f16_to_f32(ndp__half h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu,
                 m = h & 0x3ffu;
  uint32_t x;
  if (e == 0x1fu) {
    x = sign | 0x7f800000u | (m << 13);
  } else if (e == 0) {
    float f = (float)m * 5.9604644775390625e-8f; /* exact: m * 2^-24 */
    memcpy(&x, &f, 4);
    x |= sign;
  } else {
    x = sign | ((e + 112u) << 23) | (m << 13);
  }
  float f;
  memcpy(&f, &x, 4);
  return f;
}

static inline double ndp__f16_to_f64(ndp__half h) {
  const uint64_t sign = (uint64_t)(h & 0x8000u) << 48, e = (h >> 10) & 0x1fu,
                 m = h & 0x3ffu;
  uint64_t x;
  if (e == 0x1fu) {
    x = sign | 0x7ff0000000000000ull | (m << 42);
  } else if (e == 0) {
    double d = (double)m * 5.9604644775390625e-8; /* exact */
    memcpy(&x, &d, 8);
    x |= sign;
  } else {
    x = sign | ((e + 1008u) << 52) | (m << 42);
  }
  double d;
  memcpy(&d, &x, 8);
  return d;
}

#endif
