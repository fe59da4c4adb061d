/* core/version.c - version strings. */
#include <stdio.h>

#include "core/internal.h"

const char *ndp_version(void) { return NDPAR_VERSION_STRING; }

const char *ndp_mathlib(void) {
#if defined(NDP_HAVE_X86)
  return "SLEEF 3 (libsleef, run-time ISA: sse2/avx2/avx512f kernels)";
#else
  return "libm (scalar)";
#endif
}
