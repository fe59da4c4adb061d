/*
 * tests/c/test_npy.c - the .npy reader and writer (src/io/npy.c).
 *
 * Round trips create -> close -> open for every dtype and for 0-d, 1-d,
 * 3-d, empty and Fortran-ordered arrays; hand-written headers of versions
 * 1.0, 2.0 and 3.0; tables of malformed headers (NDP_EFORMAT) and of
 * unsupported dtypes (NDP_ETYPE), each with a message; every truncation
 * and single-byte mutation of a real header; truncated files; bad
 * arguments; and files written by NumPy itself, embedded below as bytes
 * (C tests cannot assume NumPy is installed).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "ndpar.h"

/* Generated with NumPy 2.4.6 (np.save / np.lib.format.write_array). */
/* np_i4_2x3: <i4 shape (2, 3) C */
static const unsigned char np_i4_2x3[152] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27,
    0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x69, 0x34,
    0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f,
    0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73,
    0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27, 0x3a, 0x20,
    0x28, 0x32, 0x2c, 0x20, 0x33, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
};
/* np_f8_be: >f8 shape (3,) C */
static const unsigned char np_f8_be[152] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27,
    0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3e, 0x66, 0x38,
    0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f,
    0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73,
    0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27, 0x3a, 0x20,
    0x28, 0x33, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a, 0x3f, 0xf8, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x40, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* np_u2_fortran: <u2 shape (2, 3) F */
static const unsigned char np_u2_fortran[140] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27,
    0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x75, 0x32,
    0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f,
    0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x54, 0x72, 0x75, 0x65,
    0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27, 0x3a, 0x20, 0x28,
    0x32, 0x2c, 0x20, 0x33, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a, 0x00, 0x00, 0x03, 0x00,
    0x01, 0x00, 0x04, 0x00, 0x02, 0x00, 0x05, 0x00,
};
/* np_bool_0d: |b1 shape () C */
static const unsigned char np_bool_0d[129] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27,
    0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x7c, 0x62, 0x31,
    0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f,
    0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73,
    0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27, 0x3a, 0x20,
    0x28, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a, 0x01,
};
/* np_f4_empty: <f4 shape (0, 3) F */
static const unsigned char np_f4_empty[128] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27,
    0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x66, 0x34,
    0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f,
    0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73,
    0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27, 0x3a, 0x20,
    0x28, 0x30, 0x2c, 0x20, 0x33, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a,
};
/* np_i8_v2: <i8 shape (2,) C */
static const unsigned char np_i8_v2[144] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x02, 0x00, 0x74, 0x00, 0x00, 0x00,
    0x7b, 0x27, 0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c,
    0x69, 0x38, 0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61,
    0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61,
    0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27,
    0x3a, 0x20, 0x28, 0x32, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* np_u1_v3: |u1 shape (3,) C */
static const unsigned char np_u1_v3[131] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x03, 0x00, 0x74, 0x00, 0x00, 0x00,
    0x7b, 0x27, 0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x7c,
    0x75, 0x31, 0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61,
    0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61,
    0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27,
    0x3a, 0x20, 0x28, 0x33, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a, 0x07, 0x08, 0x09,
};
/* np_c16: <c16 shape (1,) C */
static const unsigned char np_c16[144] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27,
    0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x63, 0x31,
    0x36, 0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e,
    0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c,
    0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27, 0x3a,
    0x20, 0x28, 0x31, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f,
};
/* np_struct: |V12 shape (1,) C */
static const unsigned char np_struct[140] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27,
    0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x5b, 0x28, 0x27, 0x61,
    0x27, 0x2c, 0x20, 0x27, 0x3c, 0x69, 0x34, 0x27, 0x29, 0x2c, 0x20, 0x28,
    0x27, 0x62, 0x27, 0x2c, 0x20, 0x27, 0x3c, 0x66, 0x38, 0x27, 0x29, 0x5d,
    0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f,
    0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65,
    0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27, 0x3a, 0x20, 0x28,
    0x31, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* ---- helpers ----------------------------------------------------------- */

/* A fresh empty temporary file; the caller unlinks it. */
static void tmp_path(char *buf, size_t cap) {
  snprintf(buf, cap, "/tmp/ndp_test_npy_XXXXXX");
  int fd = mkstemp(buf);
  assert_true(fd >= 0);
  close(fd);
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(p, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

/* A file image: magic, version major.0, the length field, then text. */
static size_t image(unsigned char *buf, size_t cap, int major,
                    const char *text) {
  size_t n = strlen(text), pre = major == 1 ? 10 : 12;
  assert_true(pre + n <= cap);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)major;
  buf[7] = 0;
  for (size_t i = 0; i < pre - 8; i++)
    buf[8 + i] = (unsigned char)(n >> (8 * i));
  memcpy(buf + pre, text, n);
  return pre + n;
}

static int parse_text(int major, const char *text, ndp_npy_header *h,
                      ndp_status *st) {
  static unsigned char buf[8192];
  size_t n = image(buf, sizeof buf, major, text);
  return ndp_npy_parse_header(buf, n, h, st);
}

/* rc and st agree on the expected failure, and the message says `want`. */
static void check_fail(int rc, int code, const ndp_status *st,
                       const char *want) {
  if (rc != code || st->code != code || st->msg[0] == '\0' ||
      (want && !strstr(st->msg, want)))
    print_message("got %s \"%s\", want %s \"%s\"\n", ndp_err_name(rc),
                  st->msg, ndp_err_name(code), want ? want : "");
  assert_int_equal(rc, code);
  assert_int_equal(st->code, code);
  assert_true(st->msg[0] != '\0');
  if (want) assert_non_null(strstr(st->msg, want));
}

static int64_t expect_c_stride(int d, int ndim, const int64_t *shape,
                               size_t isz) {
  int64_t s = (int64_t)isz;
  for (int k = d + 1; k < ndim; k++) s *= shape[k] ? shape[k] : 1;
  return s;
}

static int64_t expect_f_stride(int d, const int64_t *shape, size_t isz) {
  int64_t s = (int64_t)isz;
  for (int k = 0; k < d; k++) s *= shape[k] ? shape[k] : 1;
  return s;
}

/* Creates path with this dtype/shape/order, fills byte i with pattern(i),
 * closes, reopens read-only and checks header, strides and bytes. */
static void round_trip(ndp_dtype dt, int fortran, int ndim,
                       const int64_t *shape) {
  char path[64];
  ndp_npy f;
  ndp_status st;
  size_t isz = ndp_dtype_size(dt);
  tmp_path(path, sizeof path);
  assert_int_equal(ndp_npy_create(path, dt, fortran, ndim, shape, &f, &st), 0);
  assert_int_equal(st.code, 0);
  int64_t n = ndp_array_size(&f.arr);
  size_t nbytes = (size_t)n * isz;
  unsigned char *p = f.arr.data;
  for (size_t i = 0; i < nbytes; i++)
    p[i] = (unsigned char)(dt == NDP_BOOL ? i & 1 : i * 7 + (size_t)dt);
  assert_int_equal(f.hdr.data_offset % 64, 0);
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  assert_null(f.map_);

  assert_int_equal(ndp_npy_open(path, 0, &f, &st), 0);
  assert_int_equal(f.hdr.major, 1);
  assert_int_equal(f.hdr.minor, 0);
  assert_int_equal(f.hdr.dtype, dt);
  assert_int_equal(f.hdr.byteswapped, 0);
  assert_int_equal(f.hdr.fortran_order, fortran);
  assert_int_equal(f.hdr.ndim, ndim);
  assert_int_equal(f.writable, 0);
  assert_int_equal(f.arr.dtype, dt);
  assert_int_equal(f.arr.ndim, ndim);
  assert_int_equal(f.arr.flags, 0);
  assert_ptr_equal(f.arr.data, (char *)f.map_ + f.hdr.data_offset);
  for (int d = 0; d < ndim; d++) {
    assert_int_equal(f.hdr.shape[d], shape[d]);
    assert_int_equal(f.arr.shape[d], shape[d]);
    assert_int_equal(f.arr.strides[d],
                     fortran ? expect_f_stride(d, shape, isz)
                             : expect_c_stride(d, ndim, shape, isz));
  }
  assert_int_equal(ndp_array_size(&f.arr), n);
  assert_int_equal(f.map_len_, f.hdr.data_offset + nbytes);
  p = f.arr.data;
  for (size_t i = 0; i < nbytes; i++)
    assert_int_equal(p[i], (unsigned char)(dt == NDP_BOOL ? i & 1
                                                         : i * 7 + (size_t)dt));
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  unlink(path);
}

/* ---- round trips --------------------------------------------------------- */

static void test_round_trip_every_dtype(void **state) {
  (void)state;
  const int64_t shape[2] = {3, 4};
  for (int dt = 0; dt < NDP_NTYPES; dt++) {
    round_trip((ndp_dtype)dt, 0, 2, shape);
    round_trip((ndp_dtype)dt, 1, 2, shape);
  }
}

static void test_round_trip_shapes(void **state) {
  (void)state;
  static const struct {
    int ndim;
    int64_t shape[4];
  } cases[] = {
      {0, {0}},         {1, {5}},          {1, {1}},          {1, {0}},
      {2, {0, 5}},      {2, {5, 0}},       {3, {2, 3, 4}},    {3, {4, 1, 3}},
      {4, {2, 0, 3, 2}}, {4, {1, 1, 1, 1}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    round_trip(NDP_FLOAT64, 0, cases[i].ndim, cases[i].shape);
    round_trip(NDP_FLOAT64, 1, cases[i].ndim, cases[i].shape);
    round_trip(NDP_UINT16, 1, cases[i].ndim, cases[i].shape);
  }
}

static void test_strides_by_hand(void **state) {
  (void)state;
  char path[64];
  ndp_npy f;
  const int64_t shape[3] = {2, 3, 4};
  tmp_path(path, sizeof path);
  assert_int_equal(ndp_npy_create(path, NDP_FLOAT64, 0, 3, shape, &f, NULL), 0);
  assert_int_equal(f.arr.strides[0], 96);
  assert_int_equal(f.arr.strides[1], 32);
  assert_int_equal(f.arr.strides[2], 8);
  assert_int_equal(ndp_npy_close(&f, NULL), 0);
  assert_int_equal(ndp_npy_create(path, NDP_FLOAT64, 1, 3, shape, &f, NULL), 0);
  assert_int_equal(f.arr.strides[0], 8);
  assert_int_equal(f.arr.strides[1], 16);
  assert_int_equal(f.arr.strides[2], 48);
  assert_int_equal(ndp_npy_close(&f, NULL), 0);
  unlink(path);
}

static void test_zero_d(void **state) {
  (void)state;
  char path[64];
  ndp_npy f;
  ndp_status st;
  double v = -0.25, w = 0;
  tmp_path(path, sizeof path);
  assert_int_equal(ndp_npy_create(path, NDP_FLOAT64, 0, 0, NULL, &f, &st), 0);
  assert_int_equal(f.arr.ndim, 0);
  assert_int_equal(ndp_array_size(&f.arr), 1);
  memcpy(f.arr.data, &v, sizeof v);
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  assert_int_equal(ndp_npy_open(path, 0, &f, &st), 0);
  assert_int_equal(f.hdr.ndim, 0);
  assert_int_equal(f.map_len_, f.hdr.data_offset + 8);
  memcpy(&w, f.arr.data, sizeof w);
  assert_true(w == v);
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  unlink(path);
}

static void test_writable_open(void **state) {
  (void)state;
  char path[64];
  ndp_npy f;
  ndp_status st;
  const int64_t shape[1] = {4};
  int32_t v[4] = {1, 2, 3, 4}, w[4];
  tmp_path(path, sizeof path);
  assert_int_equal(ndp_npy_create(path, NDP_INT32, 0, 1, shape, &f, &st), 0);
  assert_int_equal(f.writable, 1);
  memcpy(f.arr.data, v, sizeof v);
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  assert_int_equal(ndp_npy_open(path, 1, &f, &st), 0);
  assert_int_equal(f.writable, 1);
  ((int32_t *)f.arr.data)[2] = -30;
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  assert_int_equal(ndp_npy_open(path, 0, &f, &st), 0);
  memcpy(w, f.arr.data, sizeof w);
  assert_int_equal(w[0], 1);
  assert_int_equal(w[2], -30);
  assert_int_equal(w[3], 4);
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  unlink(path);
}

static void test_create_truncates(void **state) {
  (void)state;
  char path[64];
  ndp_npy f;
  const int64_t big[1] = {1000}, small[1] = {3};
  struct stat sb;
  tmp_path(path, sizeof path);
  assert_int_equal(ndp_npy_create(path, NDP_INT64, 0, 1, big, &f, NULL), 0);
  assert_int_equal(ndp_npy_close(&f, NULL), 0);
  assert_int_equal(ndp_npy_create(path, NDP_UINT8, 0, 1, small, &f, NULL), 0);
  assert_int_equal(ndp_npy_close(&f, NULL), 0);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_size, 128 + 3);
  unlink(path);
}

/* ---- header text ------------------------------------------------------ */

static void test_parse_versions(void **state) {
  (void)state;
  ndp_npy_header h;
  ndp_status st;
  const char *text = "{'descr': '<f8', 'fortran_order': False, "
                     "'shape': (3, 4), }\n";
  size_t n = strlen(text);
  for (int major = 1; major <= 3; major++) {
    assert_int_equal(parse_text(major, text, &h, &st), 0);
    assert_int_equal(st.code, 0);
    assert_string_equal(st.msg, "");
    assert_int_equal(h.major, major);
    assert_int_equal(h.minor, 0);
    assert_int_equal(h.data_offset, (major == 1 ? 10 : 12) + n);
    assert_int_equal(h.dtype, NDP_FLOAT64);
    assert_int_equal(h.ndim, 2);
    assert_int_equal(h.shape[0], 3);
    assert_int_equal(h.shape[1], 4);
    assert_int_equal(h.fortran_order, 0);
    assert_int_equal(h.byteswapped, 0);
  }
}

static void test_parse_accepts(void **state) {
  (void)state;
  static const struct {
    int major;
    const char *text;
    ndp_dtype dt;
    int swapped, fortran, ndim;
    int64_t shape0;
  } ok[] = {
      {1, "{'shape': (2, 3), 'fortran_order': True, 'descr': '<i2'}",
       NDP_INT16, 0, 1, 2, 2},
      {1, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (7,)}",
       NDP_FLOAT32, 0, 0, 1, 7},
      {1, " \n{ 'descr' : '>f8' ,\n 'fortran_order' : False ,\t'shape' : "
          "( 2 , 3 , ) , } \r\n",
       NDP_FLOAT64, 1, 0, 2, 2},
      {2, "{'descr': 'f8', 'fortran_order': False, 'shape': ()}",
       NDP_FLOAT64, 0, 0, 0, 0},
      {1, "{'descr': '=f8', 'fortran_order': False, 'shape': (0,)}",
       NDP_FLOAT64, 0, 0, 1, 0},
      {1, "{'descr': '|f8', 'fortran_order': False, 'shape': (1,)}",
       NDP_FLOAT64, 0, 0, 1, 1},
      {1, "{'descr': 'float64', 'fortran_order': False, 'shape': (1,)}",
       NDP_FLOAT64, 0, 0, 1, 1},
      {1, "{'descr': '<?', 'fortran_order': False, 'shape': (1,)}",
       NDP_BOOL, 0, 0, 1, 1},
      {1, "{'descr': '|b1', 'fortran_order': False, 'shape': (1,)}",
       NDP_BOOL, 0, 0, 1, 1},
      {1, "{'descr': '>i1', 'fortran_order': False, 'shape': (1,)}",
       NDP_INT8, 0, 0, 1, 1},
      {1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1,)}",
       NDP_UINT8, 0, 0, 1, 1},
      {1, "{'descr': '>u2', 'fortran_order': False, 'shape': (1,)}",
       NDP_UINT16, 1, 0, 1, 1},
      {1, "{'descr': '>i4', 'fortran_order': False, 'shape': (1,)}",
       NDP_INT32, 1, 0, 1, 1},
      {1, "{'descr': '<u4', 'fortran_order': False, 'shape': (1,)}",
       NDP_UINT32, 0, 0, 1, 1},
      {1, "{'descr': '>i8', 'fortran_order': False, 'shape': (1,)}",
       NDP_INT64, 1, 0, 1, 1},
      {1, "{'descr': '>u8', 'fortran_order': False, 'shape': (1,)}",
       NDP_UINT64, 1, 0, 1, 1},
      {1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}",
       NDP_FLOAT32, 1, 0, 1, 1},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3L, 4L)}",
       NDP_FLOAT64, 0, 0, 2, 3},
      {2, "{'descr': '<f8', 'fortran_order': False, 'shape': (3L,)}",
       NDP_FLOAT64, 0, 0, 1, 3},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-0,)}",
       NDP_FLOAT64, 0, 0, 1, 0},
      {3, "{'descr': '<i8', 'fortran_order': True, 'shape': (10,), }"
          "        \n",
       NDP_INT64, 0, 1, 1, 10},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    ndp_npy_header h;
    ndp_status st;
    int rc = parse_text(ok[i].major, ok[i].text, &h, &st);
    if (rc != 0) print_message("case %zu: %s\n", i, st.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(h.dtype, ok[i].dt);
    assert_int_equal(h.byteswapped, ok[i].swapped);
    assert_int_equal(h.fortran_order, ok[i].fortran);
    assert_int_equal(h.ndim, ok[i].ndim);
    if (ok[i].ndim > 0) assert_int_equal(h.shape[0], ok[i].shape0);
  }
}

#define HDR(shape) \
  "{'descr': '<f8', 'fortran_order': False, 'shape': " shape "}"

static void test_parse_malformed(void **state) {
  (void)state;
  static const struct {
    int major;
    const char *text, *want;
  } bad[] = {
      {1, "", "expected '{'"},
      {1, "   \n", "expected '{'"},
      {1, "[]", "expected '{'"},
      {1, "{}", "missing key 'descr'"},
      {1, "{'descr': '<f8', 'fortran_order': False}", "missing key 'shape'"},
      {1, "{'descr': '<f8', 'shape': (3,)}", "missing key 'fortran_order'"},
      {1, "{'fortran_order': False, 'shape': (3,)}", "missing key 'descr'"},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), "
          "'extra': 1}", "unexpected key 'extra'"},
      {1, "{'a_very_long_key_that_goes_on_and_on_and_on': 1}",
       "unexpected key 'a_very_long_key_that_goes_on_and_on_...'"},
      {1, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, "
          "'shape': (3,)}", "duplicate key 'descr'"},
      {1, "{'descr': '<f8', 'fortran_order': 0, 'shape': (3,)}",
       "True or False"},
      {1, "{'descr': '<f8', 'fortran_order': Falsey, 'shape': (3,)}",
       "True or False"},
      {1, "{'descr': '<f8', 'fortran_order': false, 'shape': (3,)}",
       "True or False"},
      {1, "{'descr': '<f8', 'fortran_order': 'False', 'shape': (3,)}",
       "True or False"},
      {1, HDR("(-2,)"), "'shape' entry 0 is negative"},
      {1, HDR("(3, -1)"), "'shape' entry 1 is negative"},
      {1, HDR("(3, -99999999999999999999)"), "'shape' entry 1 is negative"},
      {1, HDR("3"), "'shape' must be a tuple"},
      {1, HDR("[3]"), "'shape' must be a tuple"},
      {1, HDR("(3)"), "not a tuple"},
      {1, HDR("(3,,)"), "expected an integer"},
      {1, HDR("(,)"), "expected an integer"},
      {1, HDR("(3,"), "expected an integer"},
      {1, HDR("(3"), "expected ',' or ')'"},
      {1, HDR("(03,)"), "leading zero"},
      {1, HDR("(3.0,)"), "expected ',' or ')'"},
      {1, HDR("(0x10,)"), "expected ',' or ')'"},
      {1, HDR("(1 2)"), "expected ',' or ')'"},
      {1, HDR("(- 2,)"), "expected an integer"},
      {1, HDR("(+2,)"), "expected an integer"},
      {1, HDR("(3LL,)"), "expected ',' or ')'"},
      {3, HDR("(3L,)"), "expected ',' or ')'"},
      {1, HDR("(99999999999999999999,)"), "does not fit in 64 bits"},
      {1, HDR("(9223372036854775808,)"), "does not fit in 64 bits"},
      {1, HDR("(9223372036854775807,)"), "too large"},
      {1, HDR("(4294967296, 4294967296)"), "too large"},
      {1, HDR("(0, 4294967296, 4294967296)"), "too large"},
      {1, HDR("(576460752303423489,)"), "too large"},
      {1, "{'descr': '<f8' 'fortran_order': False, 'shape': (3,)}",
       "expected ',' or '}'"},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)",
       "expected ',' or '}'"},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)} x",
       "unexpected text after the dict"},
      {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}}",
       "unexpected text after the dict"},
      {1, "{descr: '<f8', 'fortran_order': False, 'shape': (3,)}",
       "expected a quoted string"},
      {1, "{,}", "expected a quoted string"},
      {1, "{'descr': '<f8',, 'fortran_order': False, 'shape': (3,)}",
       "expected a quoted string"},
      {1, "{'descr' '<f8', 'fortran_order': False, 'shape': (3,)}",
       "expected ':'"},
      {1, "{'descr': '<f8\n', 'fortran_order': False, 'shape': (3,)}",
       "unterminated string"},
      {1, "{'descr': \"<f8', 'fortran_order': False, 'shape': (3,)}",
       "unterminated string"},
      {1, "{'descr': <f8, 'fortran_order': False, 'shape': (3,)}",
       "expected a quoted string"},
      {1, "{'descr': [('a', '<i4')}, 'fortran_order': False, 'shape': (3,)}",
       "unbalanced brackets"},
      {1, "{'descr': [('a', '<i4')", "unterminated descr"},
      {1, "{'descr': [('a', '<i4", "unterminated string"},
      {1, "{'descr': [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
          "[[[[[[[[[[[[[[[[[[[[[]]]", "nested too deeply"},
      /* format errors win over type errors */
      {1, "{'descr': '<c16', 'fortran_order': False, 'shape': (-1,)}",
       "negative"},
      {1, "{'descr': '<c16', 'fortran_order': False}", "missing key"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ndp_npy_header h;
    ndp_status st;
    memset(&h, 0x5a, sizeof h);
    int rc = parse_text(bad[i].major, bad[i].text, &h, &st);
    if (rc != NDP_EFORMAT) print_message("case %zu: %s\n", i, bad[i].text);
    check_fail(rc, NDP_EFORMAT, &st, bad[i].want);
    assert_int_equal(h.ndim, 0); /* zeroed on failure */
  }
}

static void test_parse_unsupported_dtype(void **state) {
  (void)state;
  static const char *const descr[] = {
      "'<c16'", "'<c8'", "'<U10'", "'|S5'", "'|O'", "'<f16'",
      "'<M8[ns]'", "'<m8[s]'", "'|V8'", "''", "'<'", "'zz'", "'<<f8'",
      "'>>i4'", "'f 8'", "'<f8\\'x'", "'<i3'",
      "[('a', '<i4'), ('b', '<f8')]", "('<f8', (2,))", "[]",
  };
  for (size_t i = 0; i < sizeof descr / sizeof descr[0]; i++) {
    char text[256];
    ndp_npy_header h;
    ndp_status st;
    snprintf(text, sizeof text,
             "{'descr': %s, 'fortran_order': False, 'shape': (3,), }",
             descr[i]);
    int rc = parse_text(1, text, &h, &st);
    if (rc != NDP_ETYPE) print_message("case %s\n", descr[i]);
    check_fail(rc, NDP_ETYPE, &st, "is not supported");
  }
  ndp_status st;
  ndp_npy_header h;
  check_fail(parse_text(1, "{'descr': '<c16', 'fortran_order': False, "
                           "'shape': ()}", &h, &st),
             NDP_ETYPE, &st, "dtype '<c16'");
  check_fail(parse_text(1, "{'descr': '<not_a_dtype_and_a_name_too_long_for_"
                           "any_message_at_all', 'fortran_order': False, "
                           "'shape': ()}", &h, &st),
             NDP_ETYPE, &st,
             "dtype '<not_a_dtype_and_a_name_too_long_for_any_mes...'");
  check_fail(parse_text(1, "{'descr': [('a', '<i4')], 'fortran_order': "
                           "False, 'shape': ()}", &h, &st),
             NDP_ETYPE, &st, "dtype [('a', '<i4')]");
}

static void test_parse_limits(void **state) {
  (void)state;
  char text[1024];
  ndp_npy_header h;
  ndp_status st;
  for (int ndim = 31; ndim <= 33; ndim++) {
    int n = snprintf(text, sizeof text,
                     "{'descr': '|u1', 'fortran_order': False, 'shape': (");
    for (int d = 0; d < ndim; d++)
      n += snprintf(text + n, sizeof text - (size_t)n, "%d, ", d % 3 + 1);
    snprintf(text + n, sizeof text - (size_t)n, ")}");
    int rc = parse_text(1, text, &h, &st);
    if (ndim <= NDP_MAXDIMS) {
      assert_int_equal(rc, 0);
      assert_int_equal(h.ndim, ndim);
      assert_int_equal(h.shape[ndim - 1], (ndim - 1) % 3 + 1);
    } else {
      check_fail(rc, NDP_EFORMAT, &st, "more than 32 dimensions");
    }
  }
  /* the data-size limit is 2^62 bytes, whatever the dtype */
  assert_int_equal(parse_text(1, "{'descr': '|u1', 'fortran_order': False, "
                                 "'shape': (4611686018427387904,)}",
                              &h, &st),
                   0);
  check_fail(parse_text(1, "{'descr': '|u1', 'fortran_order': False, "
                           "'shape': (4611686018427387905,)}", &h, &st),
             NDP_EFORMAT, &st, "too large");
  assert_int_equal(parse_text(1, HDR("(576460752303423488,)"), &h, &st), 0);
  assert_int_equal(parse_text(1, HDR("(0, 1099511627776)"), &h, &st), 0);
  assert_int_equal(h.shape[1], 1099511627776LL);
}

static void test_parse_prefix(void **state) {
  (void)state;
  unsigned char buf[256];
  ndp_npy_header h;
  ndp_status st;
  const char *text = HDR("(3,)");
  size_t n = image(buf, sizeof buf, 1, text);
  assert_int_equal(ndp_npy_parse_header(buf, n, &h, &st), 0);
  /* every proper prefix of a valid header is malformed */
  for (size_t len = 0; len < n; len++)
    check_fail(ndp_npy_parse_header(buf, len, &h, &st), NDP_EFORMAT, &st,
               NULL);
  n = image(buf, sizeof buf, 2, text);
  for (size_t len = 0; len < n; len++)
    check_fail(ndp_npy_parse_header(buf, len, &h, &st), NDP_EFORMAT, &st,
               NULL);
  check_fail(ndp_npy_parse_header(buf, 11, &h, &st), NDP_EFORMAT, &st,
             "too short (11 bytes) for a version 2.0 header");
  n = image(buf, sizeof buf, 1, text);
  check_fail(ndp_npy_parse_header(NULL, 0, &h, &st), NDP_EFORMAT, &st,
             "too short");
  check_fail(ndp_npy_parse_header(buf, n - 1, &h, &st), NDP_EFORMAT, &st,
             "exceeds");
  buf[0] = 0x92;
  check_fail(ndp_npy_parse_header(buf, n, &h, &st), NDP_EFORMAT, &st,
             "bad magic");
  buf[0] = 0x93;
  static const unsigned char versions[][2] = {{0, 0}, {4, 0}, {1, 1},
                                              {2, 1}, {3, 5}, {255, 0}};
  for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
    buf[6] = versions[i][0];
    buf[7] = versions[i][1];
    check_fail(ndp_npy_parse_header(buf, n, &h, &st), NDP_EFORMAT, &st,
               "unsupported format version");
  }
  /* a version 2.0 length field of 4 GiB - 1 */
  n = image(buf, sizeof buf, 2, text);
  memset(buf + 8, 0xff, 4);
  check_fail(ndp_npy_parse_header(buf, n, &h, &st), NDP_EFORMAT, &st,
             "header length 4294967295 exceeds");
  /* the dict may not run past the length field's end */
  n = image(buf, sizeof buf, 1, text);
  buf[8] = (unsigned char)(buf[8] - 1);
  check_fail(ndp_npy_parse_header(buf, n, &h, &st), NDP_EFORMAT, &st,
             "expected ',' or '}'");
  /* nor can trailing garbage hide in it */
  n = image(buf, sizeof buf, 1, HDR("(3,)") "\n\0");
  buf[8] = (unsigned char)(buf[8] + 1);
  buf[n] = 0;
  check_fail(ndp_npy_parse_header(buf, n + 1, &h, &st), NDP_EFORMAT, &st,
             "unexpected text");
}

/* Every single-byte change of a real header parses or fails cleanly. */
static void test_parse_mutations(void **state) {
  (void)state;
  static const unsigned char subst[] = {0x00, ' ', '\'', '"', '(', ')', ',',
                                        '-', '0', '9', 'L', '{', '}', '[',
                                        ':', 0x80, 0xff};
  unsigned char buf[152];
  ndp_npy_header h;
  ndp_status st;
  for (size_t pos = 0; pos < 128; pos++) {
    for (size_t k = 0; k < sizeof subst; k++) {
      memcpy(buf, np_i4_2x3, sizeof buf);
      buf[pos] = subst[k];
      int rc = ndp_npy_parse_header(buf, sizeof buf, &h, &st);
      assert_true(rc == 0 || rc == NDP_EFORMAT || rc == NDP_ETYPE);
      assert_int_equal(st.code, rc);
      if (rc != 0) assert_true(st.msg[0] != '\0');
      if (rc == 0) assert_true(h.data_offset <= sizeof buf);
    }
  }
}

static void test_parse_args(void **state) {
  (void)state;
  ndp_npy_header h;
  ndp_status st;
  check_fail(ndp_npy_parse_header(np_i4_2x3, sizeof np_i4_2x3, NULL, &st),
             NDP_EINVAL, &st, "hdr");
  check_fail(ndp_npy_parse_header(NULL, 10, &h, &st), NDP_EINVAL, &st, "buf");
  /* st may be NULL */
  assert_int_equal(ndp_npy_parse_header(np_i4_2x3, 9, &h, NULL), NDP_EFORMAT);
  assert_int_equal(ndp_npy_parse_header(np_i4_2x3, sizeof np_i4_2x3, &h, NULL),
                   0);
}

/* ---- the writer ---------------------------------------------------------- */

static void test_format_exact(void **state) {
  (void)state;
  unsigned char buf[256];
  size_t n;
  ndp_status st;
  const int64_t shape[2] = {3, 4};
  static const struct {
    ndp_dtype dt;
    int fortran, ndim;
    const char *text;
  } cases[] = {
      {NDP_FLOAT64, 0, 2,
       "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }"},
      {NDP_BOOL, 1, 2,
       "{'descr': '|b1', 'fortran_order': True, 'shape': (3, 4), }"},
      {NDP_INT8, 0, 1,
       "{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }"},
      {NDP_UINT8, 0, 0,
       "{'descr': '|u1', 'fortran_order': False, 'shape': (), }"},
      {NDP_UINT64, 0, 1,
       "{'descr': '<u8', 'fortran_order': False, 'shape': (3,), }"},
      {NDP_FLOAT32, 0, 1,
       "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t tl = strlen(cases[i].text);
    assert_int_equal(ndp_npy_format_header(cases[i].dt, cases[i].fortran,
                                           cases[i].ndim, shape, buf,
                                           sizeof buf, &n, &st), 0);
    assert_int_equal(n % 64, 0);
    assert_true(n >= 10 + tl + 1 && n < 10 + tl + 1 + 64);
    assert_memory_equal(buf, "\x93NUMPY\x01\x00", 8);
    assert_int_equal(buf[8] | buf[9] << 8, n - 10);
    assert_memory_equal(buf + 10, cases[i].text, tl);
    for (size_t k = 10 + tl; k < n - 1; k++) assert_int_equal(buf[k], ' ');
    assert_int_equal(buf[n - 1], '\n');
  }
}

static void test_format_reparse(void **state) {
  (void)state;
  unsigned char buf[1024];
  int64_t shape[NDP_MAXDIMS];
  ndp_npy_header h;
  size_t n;
  for (int ndim = 0; ndim <= NDP_MAXDIMS; ndim++) {
    for (int d = 0; d < ndim; d++) /* long numbers, some zeros, size OK */
      shape[d] = d == 0 ? 123456789012LL : d % 5 == 1 ? 0 : d % 7 == 2 ? 2 : 1;
    for (int dt = 0; dt < NDP_NTYPES; dt++) {
      int fortran = (ndim + dt) & 1;
      assert_int_equal(ndp_npy_format_header((ndp_dtype)dt, fortran, ndim,
                                             shape, buf, sizeof buf, &n, NULL),
                       0);
      assert_int_equal(n % 64, 0);
      assert_int_equal(ndp_npy_parse_header(buf, n, &h, NULL), 0);
      assert_int_equal(h.dtype, dt);
      assert_int_equal(h.fortran_order, fortran);
      assert_int_equal(h.ndim, ndim);
      assert_int_equal(h.data_offset, n);
      assert_memory_equal(h.shape, shape, sizeof shape[0] * (size_t)ndim);
    }
  }
}

static void test_format_errors(void **state) {
  (void)state;
  unsigned char buf[256];
  size_t n = 99;
  ndp_status st;
  const int64_t shape[2] = {3, 4}, neg[2] = {3, -4};
  const int64_t huge[3] = {0, 1LL << 40, 1LL << 40};
  check_fail(ndp_npy_format_header(NDP_FLOAT64, 0, 2, shape, buf, 127, &n,
                                   &st),
             NDP_EOVERFLOW, &st, "needs 128 bytes");
  check_fail(ndp_npy_format_header(NDP_FLOAT64, 0, 2, shape, NULL, 0, &n, &st),
             NDP_EOVERFLOW, &st, NULL);
  check_fail(ndp_npy_format_header(NDP_NTYPES, 0, 2, shape, buf, sizeof buf,
                                   &n, &st),
             NDP_EINVAL, &st, "dtype");
  check_fail(ndp_npy_format_header((ndp_dtype)-1, 0, 2, shape, buf,
                                   sizeof buf, &n, &st),
             NDP_EINVAL, &st, "dtype");
  check_fail(ndp_npy_format_header(NDP_FLOAT64, 0, -1, shape, buf, sizeof buf,
                                   &n, &st),
             NDP_EINVAL, &st, "ndim");
  check_fail(ndp_npy_format_header(NDP_FLOAT64, 0, NDP_MAXDIMS + 1, shape,
                                   buf, sizeof buf, &n, &st),
             NDP_EINVAL, &st, "ndim");
  check_fail(ndp_npy_format_header(NDP_FLOAT64, 0, 2, NULL, buf, sizeof buf,
                                   &n, &st),
             NDP_EINVAL, &st, "shape is NULL");
  check_fail(ndp_npy_format_header(NDP_FLOAT64, 0, 2, neg, buf, sizeof buf,
                                   &n, &st),
             NDP_EINVAL, &st, "shape[1] is negative");
  check_fail(ndp_npy_format_header(NDP_FLOAT64, 0, 2, shape, NULL, 10, &n,
                                   &st),
             NDP_EINVAL, &st, "buf");
  check_fail(ndp_npy_format_header(NDP_FLOAT64, 0, 2, shape, buf, sizeof buf,
                                   NULL, &st),
             NDP_EINVAL, &st, "written");
  check_fail(ndp_npy_format_header(NDP_UINT8, 0, 3, huge, buf, sizeof buf, &n,
                                   &st),
             NDP_EOVERFLOW, &st, "too large");
  /* ndim 0 needs no shape */
  assert_int_equal(ndp_npy_format_header(NDP_FLOAT64, 0, 0, NULL, buf,
                                         sizeof buf, &n, &st), 0);
}

/* ---- files ------------------------------------------------------------ */

static void open_bytes(const unsigned char *p, size_t n, ndp_npy *f,
                       char *path) {
  ndp_status st;
  tmp_path(path, 64);
  write_file(path, p, n);
  int rc = ndp_npy_open(path, 0, f, &st);
  if (rc != 0) print_message("%s\n", st.msg);
  assert_int_equal(rc, 0);
}

static void test_numpy_files(void **state) {
  (void)state;
  char path[64];
  ndp_npy f;
  const unsigned char *p;

  open_bytes(np_i4_2x3, sizeof np_i4_2x3, &f, path);
  assert_int_equal(f.arr.dtype, NDP_INT32);
  assert_int_equal(f.arr.ndim, 2);
  assert_int_equal(f.arr.strides[0], 12);
  assert_int_equal(f.arr.strides[1], 4);
  for (int32_t i = 0; i < 6; i++) {
    int32_t v;
    memcpy(&v, (char *)f.arr.data + 4 * i, 4);
    assert_int_equal(v, i);
  }
  ndp_npy_close(&f, NULL);
  unlink(path);

  open_bytes(np_f8_be, sizeof np_f8_be, &f, path);
  assert_int_equal(f.hdr.byteswapped, 1);
  assert_int_equal(f.arr.flags, NDP_ARRAY_BYTESWAPPED);
  assert_int_equal(f.arr.dtype, NDP_FLOAT64);
  static const double be[3] = {1.5, -2.0, 3.25};
  for (int i = 0; i < 3; i++) {
    unsigned char b[8];
    double v;
    p = (const unsigned char *)f.arr.data + 8 * i;
    for (int k = 0; k < 8; k++) b[k] = p[7 - k];
    memcpy(&v, b, 8);
    assert_true(v == be[i]);
  }
  ndp_npy_close(&f, NULL);
  unlink(path);

  open_bytes(np_u2_fortran, sizeof np_u2_fortran, &f, path);
  assert_int_equal(f.hdr.fortran_order, 1);
  assert_int_equal(f.arr.strides[0], 2);
  assert_int_equal(f.arr.strides[1], 4);
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++) {
      uint16_t v;
      memcpy(&v, (char *)f.arr.data + i * 2 + j * 4, 2);
      assert_int_equal(v, i * 3 + j);
    }
  ndp_npy_close(&f, NULL);
  unlink(path);

  open_bytes(np_bool_0d, sizeof np_bool_0d, &f, path);
  assert_int_equal(f.arr.dtype, NDP_BOOL);
  assert_int_equal(f.arr.ndim, 0);
  assert_int_equal(*(unsigned char *)f.arr.data, 1);
  ndp_npy_close(&f, NULL);
  unlink(path);

  open_bytes(np_f4_empty, sizeof np_f4_empty, &f, path);
  assert_int_equal(f.arr.dtype, NDP_FLOAT32);
  assert_int_equal(f.arr.shape[0], 0);
  assert_int_equal(f.arr.shape[1], 3);
  assert_int_equal(f.arr.strides[0], 12);
  assert_int_equal(ndp_array_size(&f.arr), 0);
  ndp_npy_close(&f, NULL);
  unlink(path);

  open_bytes(np_i8_v2, sizeof np_i8_v2, &f, path);
  assert_int_equal(f.hdr.major, 2);
  assert_int_equal(f.arr.dtype, NDP_INT64);
  int64_t w[2];
  memcpy(w, f.arr.data, sizeof w);
  assert_int_equal(w[0], -1);
  assert_int_equal(w[1], 2);
  ndp_npy_close(&f, NULL);
  unlink(path);

  open_bytes(np_u1_v3, sizeof np_u1_v3, &f, path);
  assert_int_equal(f.hdr.major, 3);
  assert_int_equal(f.arr.dtype, NDP_UINT8);
  assert_memory_equal(f.arr.data, "\x07\x08\x09", 3);
  ndp_npy_close(&f, NULL);
  unlink(path);
}

static void test_numpy_unsupported(void **state) {
  (void)state;
  char path[64];
  ndp_npy f;
  ndp_status st;
  tmp_path(path, sizeof path);
  write_file(path, np_c16, sizeof np_c16);
  check_fail(ndp_npy_open(path, 0, &f, &st), NDP_ETYPE, &st, "'<c16'");
  assert_non_null(strstr(st.msg, path));
  assert_null(f.map_);
  write_file(path, np_struct, sizeof np_struct);
  check_fail(ndp_npy_open(path, 0, &f, &st), NDP_ETYPE, &st, "[('a', '<i4')");
  unlink(path);
}

static void test_truncated_files(void **state) {
  (void)state;
  char path[64];
  ndp_npy f;
  ndp_status st;
  unsigned char longer[sizeof np_i4_2x3 + 100];
  tmp_path(path, sizeof path);
  static const size_t lens[] = {0, 5, 9, 10, 11, 100, 127, 128, 129, 151};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    write_file(path, np_i4_2x3, lens[i]);
    check_fail(ndp_npy_open(path, 0, &f, &st), NDP_EFORMAT, &st, path);
    assert_null(f.map_);
    if (lens[i] >= 128)
      assert_non_null(strstr(st.msg, "file truncated: expected 24 bytes of "
                                     "data, found"));
  }
  /* trailing bytes after the data are allowed */
  memcpy(longer, np_i4_2x3, sizeof np_i4_2x3);
  memset(longer + sizeof np_i4_2x3, 0xee, 100);
  write_file(path, longer, sizeof longer);
  assert_int_equal(ndp_npy_open(path, 0, &f, &st), 0);
  assert_int_equal(ndp_array_size(&f.arr), 6);
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  /* a zero-size array needs no data bytes at all */
  write_file(path, np_f4_empty, sizeof np_f4_empty);
  assert_int_equal(ndp_npy_open(path, 1, &f, &st), 0);
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  unlink(path);
}

static void test_open_errors(void **state) {
  (void)state;
  char path[64];
  ndp_npy f;
  ndp_status st;
  check_fail(ndp_npy_open("/nonexistent/dir/x.npy", 0, &f, &st), NDP_EIO, &st,
             "cannot open '/nonexistent/dir/x.npy'");
  check_fail(ndp_npy_open("/tmp", 0, &f, &st), NDP_EIO, &st,
             "not a regular file");
  check_fail(ndp_npy_open(NULL, 0, &f, &st), NDP_EINVAL, &st, "path");
  check_fail(ndp_npy_open("/tmp/x.npy", 0, NULL, &st), NDP_EINVAL, &st, "f");
  tmp_path(path, sizeof path);
  write_file(path, np_i4_2x3, sizeof np_i4_2x3);
  if (geteuid() != 0) { /* root may write anything */
    assert_int_equal(chmod(path, 0444), 0);
    check_fail(ndp_npy_open(path, 1, &f, &st), NDP_EIO, &st, "cannot open");
    assert_int_equal(ndp_npy_open(path, 0, &f, &st), 0);
    assert_int_equal(ndp_npy_close(&f, &st), 0);
  }
  unlink(path);
}

static void test_create_errors(void **state) {
  (void)state;
  ndp_npy f;
  ndp_status st;
  const int64_t shape[1] = {3}, neg[1] = {-3};
  const int64_t huge[2] = {1LL << 40, 1LL << 40};
  char path[64];
  tmp_path(path, sizeof path);
  check_fail(ndp_npy_create("/nonexistent/dir/x.npy", NDP_INT8, 0, 1, shape,
                            &f, &st),
             NDP_EIO, &st, "cannot create");
  assert_null(f.map_);
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  check_fail(ndp_npy_create(NULL, NDP_INT8, 0, 1, shape, &f, &st), NDP_EINVAL,
             &st, "path");
  check_fail(ndp_npy_create(path, NDP_INT8, 0, 1, shape, NULL, &st),
             NDP_EINVAL, &st, "f");
  check_fail(ndp_npy_create(path, NDP_NTYPES, 0, 1, shape, &f, &st),
             NDP_EINVAL, &st, "ndp_npy_create: invalid dtype");
  check_fail(ndp_npy_create(path, NDP_INT8, 0, 33, shape, &f, &st),
             NDP_EINVAL, &st, "ndim");
  check_fail(ndp_npy_create(path, NDP_INT8, 0, 1, neg, &f, &st), NDP_EINVAL,
             &st, "negative");
  check_fail(ndp_npy_create(path, NDP_INT8, 0, 1, NULL, &f, &st), NDP_EINVAL,
             &st, "shape is NULL");
  check_fail(ndp_npy_create(path, NDP_FLOAT64, 0, 2, huge, &f, &st),
             NDP_EOVERFLOW, &st, "too large");
  assert_null(f.map_);
  unlink(path);
}

/* Write and ftruncate failures, forced with a file-size limit. */
static void test_create_io_errors(void **state) {
  (void)state;
  ndp_npy f;
  ndp_status st;
  char path[64];
  struct rlimit old, lim;
  const int64_t shape[1] = {100000};
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  tmp_path(path, sizeof path);
  lim = old;
  lim.rlim_cur = 4096; /* the header fits, the data does not */
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  check_fail(ndp_npy_create(path, NDP_FLOAT64, 0, 1, shape, &f, &st), NDP_EIO,
             &st, "cannot size");
  assert_null(f.map_);
  lim.rlim_cur = 50; /* not even the header */
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  check_fail(ndp_npy_create(path, NDP_FLOAT64, 0, 1, shape, &f, &st), NDP_EIO,
             &st, "cannot write");
  assert_null(f.map_);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_handler);
  unlink(path);
}

static void test_close_is_safe(void **state) {
  (void)state;
  ndp_npy f;
  ndp_status st;
  char path[64];
  const int64_t shape[1] = {3};
  memset(&f, 0, sizeof f); /* a zeroed struct: fd_ 0 must not be closed */
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  assert_int_equal(ndp_npy_close(NULL, &st), 0);
  tmp_path(path, sizeof path);
  assert_int_equal(ndp_npy_create(path, NDP_INT8, 0, 1, shape, &f, &st), 0);
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  assert_int_equal(f.fd_, -1);
  assert_null(f.arr.data);
  assert_int_equal(ndp_npy_close(&f, &st), 0);
  unlink(path);
}

/* The module allocates nothing: failing every allocation changes nothing. */
static void test_no_allocation(void **state) {
  (void)state;
  char path[64];
  ndp_npy f;
  ndp_npy_header h;
  unsigned char buf[128];
  size_t n;
  const int64_t shape[2] = {2, 2};
  tmp_path(path, sizeof path);
  for (long k = 0; k < 4; k++) {
    ndp__fail_alloc_after(k);
    assert_int_equal(ndp_npy_create(path, NDP_FLOAT32, 1, 2, shape, &f, NULL),
                     0);
    assert_int_equal(ndp_npy_close(&f, NULL), 0);
    assert_int_equal(ndp_npy_open(path, 0, &f, NULL), 0);
    assert_int_equal(ndp_npy_close(&f, NULL), 0);
    assert_int_equal(ndp_npy_parse_header(np_i4_2x3, sizeof np_i4_2x3, &h,
                                          NULL), 0);
    assert_int_equal(ndp_npy_format_header(NDP_FLOAT32, 0, 2, shape, buf,
                                           sizeof buf, &n, NULL), 0);
  }
  ndp__fail_alloc_after(-1);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_every_dtype),
      cmocka_unit_test(test_round_trip_shapes),
      cmocka_unit_test(test_strides_by_hand),
      cmocka_unit_test(test_zero_d),
      cmocka_unit_test(test_writable_open),
      cmocka_unit_test(test_create_truncates),
      cmocka_unit_test(test_parse_versions),
      cmocka_unit_test(test_parse_accepts),
      cmocka_unit_test(test_parse_malformed),
      cmocka_unit_test(test_parse_unsupported_dtype),
      cmocka_unit_test(test_parse_limits),
      cmocka_unit_test(test_parse_prefix),
      cmocka_unit_test(test_parse_mutations),
      cmocka_unit_test(test_parse_args),
      cmocka_unit_test(test_format_exact),
      cmocka_unit_test(test_format_reparse),
      cmocka_unit_test(test_format_errors),
      cmocka_unit_test(test_numpy_files),
      cmocka_unit_test(test_numpy_unsupported),
      cmocka_unit_test(test_truncated_files),
      cmocka_unit_test(test_open_errors),
      cmocka_unit_test(test_create_errors),
      cmocka_unit_test(test_create_io_errors),
      cmocka_unit_test(test_close_is_safe),
      cmocka_unit_test(test_no_allocation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
