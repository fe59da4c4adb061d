/*
 * fuzz/fuzz_npy_header.c - libFuzzer target for the .npy header parser.
 *
 * Any input must parse or fail cleanly: 0, NDP_EFORMAT or NDP_ETYPE, with
 * the status agreeing and a message on failure. A header that parses must
 * satisfy the parser's invariants (ndim in range, extents >= 0, the text
 * inside the input) and survive a round trip: ndp_npy_format_header on
 * the parsed dtype, order and shape must succeed, and parsing its output
 * must give the same dtype, order and shape. Violations trap.
 *
 * Built with clang -fsanitize=fuzzer for fuzzing, and with replay.c as a
 * plain program that the test suite runs over corpus/npy_header/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ndpar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok) {
  if (!ok) __builtin_trap();
}

static void check_invariants(const ndp_npy_header *h, size_t size) {
  check(h->major >= 1 && h->major <= 3 && h->minor == 0);
  check((unsigned)h->dtype < NDP_NTYPES);
  check(h->ndim >= 0 && h->ndim <= NDP_MAXDIMS);
  check(h->data_offset <= size);
  for (int d = 0; d < h->ndim; d++) check(h->shape[d] >= 0);
}

static void round_trip(const ndp_npy_header *h) {
  unsigned char buf[4096];
  size_t n = 0;
  ndp_npy_header again;
  ndp_status st;
  check(ndp_npy_format_header(h->dtype, h->fortran_order, h->ndim, h->shape,
                              buf, sizeof buf, &n, &st) == 0);
  check(n % 64 == 0 && n <= sizeof buf);
  check(ndp_npy_parse_header(buf, n, &again, &st) == 0);
  check(again.dtype == h->dtype);
  check(again.fortran_order == h->fortran_order);
  check(again.byteswapped == 0);
  check(again.ndim == h->ndim);
  check(again.data_offset == n);
  check(memcmp(again.shape, h->shape, sizeof h->shape[0] * (size_t)h->ndim) ==
        0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ndp_npy_header h;
  ndp_status st;
  int rc = ndp_npy_parse_header(data, size, &h, &st);
  check(rc == 0 || rc == NDP_EFORMAT || rc == NDP_ETYPE);
  check(st.code == rc);
  if (rc != 0) {
    check(st.msg[0] != '\0' && memchr(st.msg, '\0', sizeof st.msg) != NULL);
    return 0;
  }
  check_invariants(&h, size);
  round_trip(&h);
  return 0;
}
