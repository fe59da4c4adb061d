/*
 * kernels/x86_avx2/loops_avx2.c - kernels for x86 avx2: the reference loops
 * compiled with this directory's -m flags (auto-vectorized arithmetic,
 * comparisons, casts), with float transcendentals replaced by SLEEF's
 * avx2 functions. Only called after the CPU was found to support avx2.
 */
#include <immintrin.h>

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

void ndp__kregister_avx2(ndp__ktable *t) {
  ndp__kregister_avx2_loops(t);
  ndp__sleef_register(t);
}
