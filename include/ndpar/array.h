/*
 * ndpar/array.h - dtypes and the strided array descriptor.
 *
 * An ndp_array describes memory the caller owns; ndpar never frees it.
 * Strides are in bytes and may be zero (broadcast) or negative.
 */
#ifndef NDPAR_ARRAY_H
#define NDPAR_ARRAY_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* NumPy's type list is '?bBhHiIqQefd'. The values are NumPy's order
 * except float16 (NumPy 'e', IEEE binary16), appended after float64 so
 * that the other values stay what they were: code that walks dtypes in
 * NumPy's order uses ndp_dtype_order (float16 between uint64 and float32).
 * Do not reorder. */
typedef enum ndp_dtype {
  NDP_BOOL = 0,
  NDP_INT8,
  NDP_UINT8,
  NDP_INT16,
  NDP_UINT16,
  NDP_INT32,
  NDP_UINT32,
  NDP_INT64,
  NDP_UINT64,
  NDP_FLOAT32,
  NDP_FLOAT64,
  NDP_FLOAT16, /* IEEE binary16; computed in float32, stored rounded */
  NDP_NTYPES /* also "no dtype / choose automatically" where accepted */
} ndp_dtype;

/* The i-th dtype (0 <= i < NDP_NTYPES) in NumPy's type-list order
 * ('?bBhHiIqQefd'); NDP_NTYPES when i is out of range. */
NDP_API ndp_dtype ndp_dtype_order(int i);
/* Item size in bytes; 0 for an invalid dtype. */
NDP_API size_t ndp_dtype_size(ndp_dtype dt);
/* NumPy's name ("float64"); "invalid" for an invalid dtype. */
NDP_API const char *ndp_dtype_name(ndp_dtype dt);
/* Parses a NumPy name ("float32", "f4", "<f4", "int", "bool", ...).
 * Returns the dtype or NDP_NTYPES when not recognized. */
NDP_API ndp_dtype ndp_dtype_from_name(const char *name);

typedef enum ndp_casting {
  NDP_CASTING_NO = 0,
  NDP_CASTING_EQUIV,
  NDP_CASTING_SAFE,
  NDP_CASTING_SAME_KIND,
  NDP_CASTING_UNSAFE
} ndp_casting;

/* 1 if NumPy allows casting `from` to `to` under `casting`, else 0. */
NDP_API int ndp_can_cast(ndp_dtype from, ndp_dtype to, ndp_casting casting);
/* NumPy's np.result_type for two array dtypes. */
NDP_API ndp_dtype ndp_promote(ndp_dtype a, ndp_dtype b);

#define NDP_MAXDIMS 32

/* Flags of ndp_array.flags */
#define NDP_ARRAY_BYTESWAPPED 1 /* items are stored in non-native byte order */
/* A weak operand (NumPy 2's Python scalar, NEP 50): a 0-d array holding a
 * value exactly, whose dtype is only its storage; ndp_ufunc chooses the
 * loop and converts the value as NumPy does for a Python scalar.
 *   WEAK_INT: a Python int as int64, as uint64 when above INT64_MAX, or
 *             as float64 when it does not fit 64 bits (±inf beyond double);
 *   WEAK_FLOAT: a Python float as float64; WEAK_BOOL: a Python bool. */
#define NDP_ARRAY_WEAK_INT 2
#define NDP_ARRAY_WEAK_FLOAT 4
#define NDP_ARRAY_WEAK_BOOL 8
#define NDP_ARRAY_WEAK (NDP_ARRAY_WEAK_INT | NDP_ARRAY_WEAK_FLOAT | NDP_ARRAY_WEAK_BOOL)

typedef struct ndp_array {
  void *data;                     /* borrowed; element [0,...,0] */
  ndp_dtype dtype;
  int ndim;                       /* 0 .. NDP_MAXDIMS */
  int flags;                      /* NDP_ARRAY_* */
  int64_t shape[NDP_MAXDIMS];
  int64_t strides[NDP_MAXDIMS];   /* bytes */
} ndp_array;

/* Fills `a` as a C-contiguous array over `data`. Returns 0 or NDP_EINVAL
 * (bad dtype, ndim or negative extent) or NDP_EOVERFLOW. */
NDP_API int ndp_array_init(ndp_array *a, void *data, ndp_dtype dt, int ndim,
                           const int64_t *shape);
/* Fills `a` as a weak 0-d operand over `value` (see NDP_ARRAY_WEAK_INT):
 * kind is NDP_ARRAY_WEAK_INT, _FLOAT or _BOOL and dt its storage dtype.
 * Returns 0 or NDP_EINVAL (a dtype the kind cannot be stored as). */
NDP_API int ndp_array_init_weak(ndp_array *a, void *value, int kind, ndp_dtype dt);
/* Number of elements (product of the shape); -1 on overflow. */
NDP_API int64_t ndp_array_size(const ndp_array *a);

#ifdef __cplusplus
}
#endif
#endif /* NDPAR_ARRAY_H */
