/*
 * kernels/x86_avx512/loops_avx512.c - kernels for x86 avx512: the reference loops
 * compiled with this directory's -m flags (auto-vectorized arithmetic,
 * comparisons, casts), with float transcendentals replaced by SLEEF's
 * avx512f functions. Only called after the CPU was found to support avx512.
 */
#include <immintrin.h>

#include "core/half.h"

#define NDP_KREGISTER ndp__kregister_avx512_loops
#include "kernels/loops_body.h"

#define NDP_VD __m512d
#define NDP_VF __m512
#define NDP_ND 8
#define NDP_NF 16
#define NDP_LOADD _mm512_loadu_pd
#define NDP_STORED _mm512_storeu_pd
#define NDP_LOADF _mm512_loadu_ps
#define NDP_STOREF _mm512_storeu_ps
#define NDP_STREAMD _mm512_stream_pd
#define NDP_STREAMF _mm512_stream_ps
#define NDP_SFENCE() _mm_sfence()
#define NDP_SD(f, acc) Sleef_##f##d8_##acc##avx512f
#define NDP_SF(f, acc) Sleef_##f##f16_##acc##avx512f
#include "kernels/sleef_loops.h"

/* float16 <-> float32 with avx512f's vcvtph2ps/vcvtps2ph (round to
 * nearest even, as core/half.h) */
static void h2f_f16c(const uint16_t *src, float *dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
  for (; i < n; i++) dst[i] = ndp__f16_to_f32(src[i]);
}
static void f2h_f16c(const float *src, uint16_t *dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256((__m256i *)(dst + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++) dst[i] = ndp__f32_to_f16(src[i]);
}

void ndp__kregister_avx512(ndp__ktable *t) {
  ndp__kregister_avx512_loops(t);
  ndp__sleef_register(t);
  t->h2f = h2f_f16c;
  t->f2h = f2h_f16c;
}
