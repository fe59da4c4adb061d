/*
 * ndpar/npy.h - NumPy .npy files, memory-mapped.
 *
 * Format versions 1.0, 2.0 and 3.0; C or Fortran order; little- or
 * big-endian items on input (described by NDP_ARRAY_BYTESWAPPED on the
 * mapped array, which every ndpar operation accepts). Files are mapped,
 * never read whole, so files larger than RAM work; a file created for
 * output is sized first and written in place through the mapping.
 *
 * Thread-safety: an ndp_npy is used by one thread at a time; distinct
 * files are independent.
 */
#ifndef NDPAR_NPY_H
#define NDPAR_NPY_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "array.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A parsed header. */
typedef struct ndp_npy_header {
  int major, minor;        /* format version */
  ndp_dtype dtype;
  int byteswapped;         /* 1 when items are not in native byte order */
  int fortran_order;
  int ndim;
  int64_t shape[NDP_MAXDIMS];
  size_t data_offset;      /* bytes from the file start to the data */
} ndp_npy_header;

/* Parses the header at the start of buf[0..len). Never reads past len.
 * Returns 0, NDP_EFORMAT (message says what is wrong; also more than
 * NDP_MAXDIMS dimensions or over 2^62 bytes of data), NDP_ETYPE (a valid
 * header whose dtype ndpar does not support) or NDP_EINVAL (hdr NULL, or
 * buf NULL with len > 0). */
NDP_API int ndp_npy_parse_header(const void *buf, size_t len, ndp_npy_header *hdr,
                                 ndp_status *st);

/* Writes a version 1.0 header (2.0 if it does not fit) for the given array
 * into buf (capacity cap). OUT: *written, which is a multiple of 64.
 * Returns 0, NDP_EINVAL or NDP_EOVERFLOW (cap too small). */
NDP_API int ndp_npy_format_header(ndp_dtype dt, int fortran_order, int ndim,
                                  const int64_t *shape, void *buf, size_t cap,
                                  size_t *written, ndp_status *st);

/* An open, mapped .npy file. */
typedef struct ndp_npy {
  ndp_npy_header hdr;
  ndp_array arr;           /* describes the mapped data (strides for the
                              file's order; flags say if byteswapped) */
  int writable;
  /* private */
  int fd_;
  void *map_;
  size_t map_len_;
} ndp_npy;

/* Opens and maps an existing file; writable = 1 maps it shared read-write.
 * With writable = 0 the mapping is read-only: f->arr.data must not be
 * written (that faults). The data may be unaligned (files not written by
 * NumPy); ndpar's operations accept that. The file must hold at least
 * data_offset + size bytes (else NDP_EFORMAT). As with any mapping, a file
 * truncated by another process while mapped raises SIGBUS on access.
 * Returns 0 or NDP_EINVAL / NDP_EIO / NDP_EFORMAT / NDP_ETYPE.
 * On success release with ndp_npy_close. */
NDP_API int ndp_npy_open(const char *path, int writable, ndp_npy *f, ndp_status *st);

/* Creates (or truncates) path as a .npy file of this dtype and shape,
 * sizes it, reserves its blocks where the file system supports fallocate
 * (so a full disk fails here, not while writing), and maps it read-write.
 * Returns 0 or NDP_EINVAL / NDP_EOVERFLOW / NDP_EIO. On failure after the
 * file was created it is left on disk (truncated). Release with
 * ndp_npy_close. */
NDP_API int ndp_npy_create(const char *path, ndp_dtype dt, int fortran_order,
                           int ndim, const int64_t *shape, ndp_npy *f,
                           ndp_status *st);

/* Unmaps and closes; flushes a writable mapping (msync) first. Returns 0 or
 * NDP_EIO if the flush failed. Safe on NULL, on a zeroed (never opened) or
 * an already closed f: whether f is open is told by its mapping, not fd_. */
NDP_API int ndp_npy_close(ndp_npy *f, ndp_status *st);

#ifdef __cplusplus
}
#endif
#endif /* NDPAR_NPY_H */
