/*
 * kernels/dispatch.c - one kernel table per instruction set, built once.
 *
 * Each table starts as the reference table and is then overridden by what
 * the instruction set's directory implements. Built lazily under
 * pthread_once; read-only afterwards, so any thread may use it.
 */
#include <pthread.h>

#include "kernels/kernels.h"

static ndp__ktable tables[NDP_NISAS];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
  for (int i = 0; i < NDP_NISAS; i++) ndp__kregister_ref(&tables[i]);
#if defined(NDP_HAVE_X86)
  ndp__kregister_sse2(&tables[NDP_ISA_SSE2]);
  ndp_isa cpu = ndp_cpu_isa();
  if (cpu >= NDP_ISA_AVX2) ndp__kregister_avx2(&tables[NDP_ISA_AVX2]);
  if (cpu >= NDP_ISA_AVX512) ndp__kregister_avx512(&tables[NDP_ISA_AVX512]);
#endif
}

const ndp__ktable *ndp__ktable_for(ndp_isa isa) {
  pthread_once(&once, build);
  if ((unsigned)isa >= NDP_NISAS) isa = NDP_ISA_REF;
  return &tables[isa];
}
