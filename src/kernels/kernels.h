/*
 * kernels/kernels.h - the contract between the engine and the kernels.
 *
 * A loop function computes n elements of one operation over contiguous,
 * aligned-to-item buffers already in the loop dtype: in[0] (and in[1]) of
 * the loop dtype, out of the loop's output dtype (the loop dtype, or bool
 * stored as one byte 0/1 for predicates). out may equal an input exactly.
 * It returns 0, or a negative NDP_E* code (integer negative powers).
 *
 * Each instruction set fills a table with what it implements; the engine
 * starts from the reference table and lets each higher level override.
 */
#ifndef NDP_KERNELS_H
#define NDP_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "ndpar.h"

typedef int (*ndp__loop_fn)(const char *const *in, char *out, size_t n);

typedef struct ndp__ktable {
  ndp__loop_fn fn[NDP_NOPS][NDP_NTYPES];
  /* the same with streaming stores, for outputs much larger than the
   * caches (NULL where an ISA has none); same contract as fn */
  ndp__loop_fn fn_nt[NDP_NOPS][NDP_NTYPES];
  /* comparisons of int64 with uint64 (NumPy's 'qQ->?' and 'Qq->?') */
  ndp__loop_fn cmp_qQ[NDP_NOPS];
  ndp__loop_fn cmp_Qq[NDP_NOPS];
  /* float16 bits <-> float32, n elements, unaligned (core/half.h's
   * conversions; F16C where the ISA has it). fn[op][NDP_FLOAT16] runs
   * fn[op][NDP_FLOAT32] over blocks converted with these (dispatch.c). */
  void (*h2f)(const uint16_t *src, float *dst, size_t n);
  void (*f2h)(const float *src, uint16_t *dst, size_t n);
} ndp__ktable;

void ndp__kregister_ref(ndp__ktable *t);
void ndp__kregister_sse2(ndp__ktable *t);
void ndp__kregister_avx2(ndp__ktable *t);
void ndp__kregister_avx512(ndp__ktable *t);

/* The table for an instruction set (built once, thread-safe). */
const ndp__ktable *ndp__ktable_for(ndp_isa isa);

#endif
