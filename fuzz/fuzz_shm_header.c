/*
 * fuzz/fuzz_shm_header.c - libFuzzer target for the shared-segment header
 * check (what ndp_shm_attach trusts about a segment another process made).
 *
 * Input: 8 bytes of segment size (little-endian), then the header bytes
 * (zero-padded to the header's size). Any input must be accepted or
 * refused with NDP_EFORMAT and a message; an accepted header must describe
 * an array that fits the segment after the header page, with a valid dtype
 * and dimensions whose product times the item size is the data size.
 * Violations trap. Built with clang -fsanitize=fuzzer for fuzzing, and with
 * replay.c as a plain program that the test suite runs over
 * corpus/shm_header/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ndpar.h"
#include "shm/shm_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
  if (!ok) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 8) return 0;
  uint64_t seg = 0;
  for (int i = 0; i < 8; i++) seg |= (uint64_t)data[i] << (8 * i);
  ndp__shm_header h;
  memset(&h, 0, sizeof h);
  size_t n = size - 8 < sizeof h ? size - 8 : sizeof h;
  memcpy(&h, data + 8, n);
  /* the name the attacher asked for: the header's own when it is a valid
     C string (so the other checks are reached), else "fuzz" */
  char name[NDP_SHM_NAME_MAX + 1] = "fuzz";
  if (memchr(h.name, 0, sizeof h.name) && h.name[0]) memcpy(name, h.name, sizeof name);
  ndp_shm s;
  memset(&s, 0, sizeof s);
  static char fake_base[64] __attribute__((aligned(64)));
  s.base = fake_base; /* never dereferenced by the check */
  ndp_status st;
  memset(&st, 0, sizeof st);
  int rc = ndp__shm_check_header(&s, &h, seg, name, &st);
  if (rc != 0) {
    check(rc == NDP_EFORMAT && st.code == rc && st.msg[0] != '\0');
    return 0;
  }
  check((unsigned)s.arr.dtype < NDP_NTYPES && s.arr.ndim >= 0 && s.arr.ndim <= NDP_MAXDIMS);
  uint64_t items = 1;
  for (int d = 0; d < s.arr.ndim; d++) {
    check(s.arr.shape[d] >= 0);
    check(!__builtin_mul_overflow(items, (uint64_t)s.arr.shape[d], &items));
  }
  check(items * ndp_dtype_size(s.arr.dtype) == s.nbytes);
  check(s.nbytes <= seg && seg - s.nbytes >= 4096);
  return 0;
}
