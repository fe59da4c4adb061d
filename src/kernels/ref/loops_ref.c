/*
 * kernels/ref/loops_ref.c - the reference kernels: portable C and libm,
 * compiled without any instruction-set flag. Always built; the ground
 * truth the other levels are tested against (NDPAR_ISA=ref selects them).
 */
#define NDP_KREGISTER ndp__kregister_ref
#include "kernels/loops_body.h"
