/*
 * kernels/x86_sse2/loops_sse2.c - kernels for x86 sse2: the reference loops
 * compiled with this directory's -m flags (auto-vectorized arithmetic,
 * comparisons, casts), with float transcendentals replaced by SLEEF's
 * sse2 functions. Only called after the CPU was found to support sse2.
 */
#include <emmintrin.h>

#define NDP_KREGISTER ndp__kregister_sse2_loops
#include "kernels/loops_body.h"

#define NDP_VD __m128d
#define NDP_VF __m128
#define NDP_ND 2
#define NDP_NF 4
#define NDP_LOADD _mm_loadu_pd
#define NDP_STORED _mm_storeu_pd
#define NDP_LOADF _mm_loadu_ps
#define NDP_STOREF _mm_storeu_ps
#define NDP_STREAMD _mm_stream_pd
#define NDP_STREAMF _mm_stream_ps
#define NDP_SFENCE() _mm_sfence()
#define NDP_SD(f, acc) Sleef_##f##d2_##acc##sse2
#define NDP_SF(f, acc) Sleef_##f##f4_##acc##sse2
#include "kernels/sleef_loops.h"

void ndp__kregister_sse2(ndp__ktable *t) {
  ndp__kregister_sse2_loops(t);
  ndp__sleef_register(t);
}
