/*
 * kernels/x86_avx2/loops_avx2.c - kernels for x86 avx2: the reference loops
 * compiled with this directory's -m flags (auto-vectorized arithmetic,
 * comparisons, casts), with float transcendentals replaced by SLEEF's
 * avx2 functions. Only called after the CPU was found to support avx2.
 */
#include <immintrin.h>

#include "core/half.h"

#define NDP_KREGISTER ndp__kregister_avx2_loops
#include "kernels/loops_body.h"

#define NDP_VD __m256d
#define NDP_VF __m256
#define NDP_ND 4
#define NDP_NF 8
#define NDP_LOADD _mm256_loadu_pd
#define NDP_STORED _mm256_storeu_pd
#define NDP_LOADF _mm256_loadu_ps
#define NDP_STOREF _mm256_storeu_ps
#define NDP_STREAMD _mm256_stream_pd
#define NDP_STREAMF _mm256_stream_ps
#define NDP_SFENCE() _mm_sfence()
#define NDP_SD(f, acc) Sleef_##f##d4_##acc##avx2
#define NDP_SF(f, acc) Sleef_##f##f8_##acc##avx2
#include "kernels/sleef_loops.h"

/* float16 <-> float32 with F16C (part of the avx2 level: core/cpu.c);
 * vcvtps2ph rounds to nearest even, as core/half.h does */
__attribute__((target("f16c"))) static void h2f_f16c(const uint16_t *src, float *dst,
                                                      size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
  for (; i < n; i++) dst[i] = ndp__f16_to_f32(src[i]);
}
__attribute__((target("f16c"))) static void f2h_f16c(const float *src, uint16_t *dst,
                                                      size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++) dst[i] = ndp__f32_to_f16(src[i]);
}

void ndp__kregister_avx2(ndp__ktable *t) {
  ndp__kregister_avx2_loops(t);
  ndp__sleef_register(t);
  t->h2f = h2f_f16c;
  t->f2h = f2h_f16c;
}
