/*
 * kernels/x86_avx512/loops_avx512.c - kernels for x86 avx512: the reference loops
 * compiled with this directory's -m flags (auto-vectorized arithmetic,
 * comparisons, casts), with float transcendentals replaced by SLEEF's
 * avx512f functions. Only called after the CPU was found to support avx512.
 */
#include <immintrin.h>

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

void ndp__kregister_avx512(ndp__ktable *t) {
  ndp__kregister_avx512_loops(t);
  ndp__sleef_register(t);
}
