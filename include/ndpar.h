/*
 * ndpar.h - the public interface of libndpar.
 *
 * Users include this one file. It pulls in the per-topic headers under
 * include/ndpar/: export.h (NDP_API), errors.h (codes and ndp_status),
 * array.h (arrays and dtypes), pool.h (the thread pool), ufunc.h
 * (elementwise functions and instruction sets), npy.h (.npy files),
 * rolling.h (moving-window functions), expr.h (compiled expressions),
 * apply.h (a function table chosen per point), shm.h (named shared-memory
 * arrays) and kernel.h (user kernels in a Python subset).
 *
 * Conventions (see docs/design.md):
 *  - public names start with ndp_ / NDP_; internal ones with ndp__;
 *  - every public function is declared NDP_API: a shared libndpar exports
 *    those and nothing else;
 *  - every fallible function returns 0 or a negative NDP_E* code; where a
 *    function takes an `ndp_status *st` (which may be NULL) a one-line
 *    message describing the failure is written there;
 *  - pointers are borrowed unless the declaration says otherwise;
 *  - nothing in the library calls abort() or exit() on input it can receive.
 */
#ifndef NDPAR_H
#define NDPAR_H

#define NDPAR_VERSION_MAJOR 0
#define NDPAR_VERSION_MINOR 1
#define NDPAR_VERSION_PATCH 0
#define NDPAR_VERSION_STRING "0.1.0"

#include "ndpar/export.h"
#include "ndpar/errors.h"
#include "ndpar/array.h"
#include "ndpar/pool.h"
#include "ndpar/ufunc.h"
#include "ndpar/npy.h"
#include "ndpar/rolling.h"
#include "ndpar/expr.h"
#include "ndpar/apply.h"
#include "ndpar/shm.h"
#include "ndpar/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library version, "MAJOR.MINOR.PATCH". Static storage. */
NDP_API const char *ndp_version(void);

/* The vectorized math library the kernels call, e.g. "SLEEF 3.5.1". */
NDP_API const char *ndp_mathlib(void);

/* STREAM-style memory bandwidth, measured with the pool's threads over
 * arrays of `bytes` bytes each (0: 4 x the last-level cache, at least
 * 256 MiB). Best of `reps` runs (0: 5). Bytes moved are counted as STREAM
 * does: copy 16 B/element (a[i] = b[i]), triad 24 B/element
 * (a[i] = b[i] + s*c[i]); write-allocate traffic is not counted. */
typedef struct ndp_bandwidth {
  double copy_gbs;   /* 1e9 bytes per second */
  double triad_gbs;
  size_t bytes;      /* per array */
  int nthreads;
} ndp_bandwidth;
/* OUT: *bw. nthreads 0 means ndp_get_num_threads(). Returns 0, NDP_ENOMEM
 * or NDP_EINVAL. */
NDP_API int ndp_measure_bandwidth(size_t bytes, int nthreads, int reps,
                                  ndp_bandwidth *bw, ndp_status *st);

/* Joins the worker threads and frees the pool. Optional: for leak checkers
 * and for programs that unload the library. Must not be called while any
 * thread runs an ndpar job. Later calls restart the pool lazily. */
NDP_API void ndp_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif /* NDPAR_H */
