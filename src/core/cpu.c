/*
 * core/cpu.c - which instruction set the kernels use.
 *
 * The CPU is probed once (cpuid and the OS's saved-state mask, through the
 * compiler's __builtin_cpu_supports). NDPAR_ISA=ref|sse2|avx2|avx512 lowers
 * the choice so that tests can run every kernel variant on one machine;
 * asking for more than the CPU has falls back to the CPU's best.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

static const char *const isa_names[NDP_NISAS] = {"ref", "sse2", "avx2", "avx512"};

const char *ndp_isa_name(ndp_isa isa) {
  return ((unsigned)isa < NDP_NISAS) ? isa_names[isa] : NULL;
}

#if defined(NDP_HAVE_X86) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
/* CPUID.1:ECX.F16C[bit 29] (not every compiler's __builtin_cpu_supports
 * knows "f16c") */
static int has_f16c(void) {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#endif

ndp_isa ndp_cpu_isa(void) {
#if defined(NDP_HAVE_X86) && (defined(__GNUC__) || defined(__clang__))
  static _Atomic int cached = -1;
  int c = atomic_load(&cached);
  if (c >= 0) return (ndp_isa)c;
  __builtin_cpu_init();
  c = NDP_ISA_SSE2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      has_f16c()) { /* float16 loops use F16C */
    c = NDP_ISA_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
      c = NDP_ISA_AVX512;
  }
  atomic_store(&cached, c);
  return (ndp_isa)c;
#else
  return NDP_ISA_REF;
#endif
}

static _Atomic int active = -1;

ndp_isa ndp_get_isa(void) {
  int a = atomic_load_explicit(&active, memory_order_relaxed);
  if (NDP__LIKELY(a >= 0)) return (ndp_isa)a;
  a = ndp_cpu_isa();
  const char *env = getenv("NDPAR_ISA");
  if (env) {
    for (int i = 0; i < NDP_NISAS; i++)
      if (strcmp(env, isa_names[i]) == 0 && i < a) a = i;
  }
  atomic_store(&active, a);
  return (ndp_isa)a;
}

int ndp_set_isa(ndp_isa isa) {
  if ((unsigned)isa >= NDP_NISAS || isa > ndp_cpu_isa()) return NDP_EINVAL;
  atomic_store(&active, (int)isa);
  return 0;
}

/* The last-level cache this CPU shares, in bytes. sysfs first: sysconf may
 * report a whole socket's L3 (320 MB for 32 MB slices on some virtual
 * machines). 32 MiB when nothing says. */
int64_t ndp__llc_bytes(void) {
  static _Atomic int64_t cached = 0;
  int64_t c = atomic_load_explicit(&cached, memory_order_relaxed);
  if (c > 0) return c;
  FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
  if (f) {
    long v = 0;
    char unit = 0;
    if (fscanf(f, "%ld%c", &v, &unit) >= 1 && v > 0)
      c = (int64_t)v << (unit == 'K' ? 10 : unit == 'M' ? 20 : 0);
    fclose(f);
  }
  if (c <= 0) c = (int64_t)sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (c <= 0) c = (int64_t)32 << 20;
  atomic_store(&cached, c);
  return c;
}
