/*
 * core/array.c - dtypes, NumPy's casting rules, type promotion and the
 * array descriptor helpers.
 *
 * The safe-cast table is NumPy's for the twelve dtypes ndpar supports;
 * promotion is "the first dtype in type-list order ('?bBhHiIqQefd') that
 * both cast to safely", which is what np.result_type gives for these
 * types. float16's enum value comes last (array.h), so walks in NumPy's
 * order go through order[].
 */
#include <string.h>
#include <strings.h>

#include "core/internal.h"

static const size_t sizes[NDP_NTYPES] = {1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 2};
static const char *const names[NDP_NTYPES] = {
    "bool",   "int8",   "uint8", "int16",  "uint16",  "int32",
    "uint32", "int64", "uint64", "float32", "float64", "float16"};
static const ndp_dtype order[NDP_NTYPES] = {
    NDP_BOOL,  NDP_INT8,   NDP_UINT8,  NDP_INT16,   NDP_UINT16,  NDP_INT32,
    NDP_UINT32, NDP_INT64, NDP_UINT64, NDP_FLOAT16, NDP_FLOAT32, NDP_FLOAT64};

ndp_dtype ndp_dtype_order(int i) {
  return (i >= 0 && i < NDP_NTYPES) ? order[i] : NDP_NTYPES;
}

size_t ndp_dtype_size(ndp_dtype dt) {
  return ((unsigned)dt < NDP_NTYPES) ? sizes[dt] : 0;
}

const char *ndp_dtype_name(ndp_dtype dt) {
  return ((unsigned)dt < NDP_NTYPES) ? names[dt] : "invalid";
}

ndp_dtype ndp_dtype_from_name(const char *name) {
  static const struct {
    const char *s;
    ndp_dtype t;
  } alias[] = {
      {"?", NDP_BOOL},     {"b1", NDP_BOOL},      {"i1", NDP_INT8},
      {"u1", NDP_UINT8},   {"i2", NDP_INT16},     {"u2", NDP_UINT16},
      {"i4", NDP_INT32},   {"u4", NDP_UINT32},    {"i8", NDP_INT64},
      {"u8", NDP_UINT64},  {"f4", NDP_FLOAT32},   {"f8", NDP_FLOAT64},
      {"f2", NDP_FLOAT16}, {"e", NDP_FLOAT16},    {"half", NDP_FLOAT16},
      {"int", NDP_INT64},  {"float", NDP_FLOAT64}, {"double", NDP_FLOAT64},
      {"single", NDP_FLOAT32}, {"b", NDP_INT8},   {"B", NDP_UINT8},
      {"h", NDP_INT16},    {"H", NDP_UINT16},     {"i", NDP_INT32},
      {"I", NDP_UINT32},   {"l", NDP_INT64},      {"L", NDP_UINT64},
      {"q", NDP_INT64},    {"Q", NDP_UINT64},     {"f", NDP_FLOAT32},
      {"d", NDP_FLOAT64},
  };
  if (!name) return NDP_NTYPES;
  if ((name[0] == '<' || name[0] == '=' || name[0] == '|') && name[1])
    name++;
  for (int t = 0; t < NDP_NTYPES; t++)
    if (strcmp(name, names[t]) == 0) return (ndp_dtype)t;
  for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
    if (strcmp(name, alias[i].s) == 0) return alias[i].t;
  return NDP_NTYPES;
}

/* safe[from] has bit `to` set when NumPy casts from -> to safely. */
#define B(t) (1u << NDP_##t)
static const unsigned safe[NDP_NTYPES] = {
    /* bool  */ (1u << NDP_NTYPES) - 1u,
    /* i8    */ B(INT8) | B(INT16) | B(INT32) | B(INT64) | B(FLOAT16) | B(FLOAT32) |
        B(FLOAT64),
    /* u8    */ B(UINT8) | B(INT16) | B(UINT16) | B(INT32) | B(UINT32) | B(INT64) |
        B(UINT64) | B(FLOAT16) | B(FLOAT32) | B(FLOAT64),
    /* i16   */ B(INT16) | B(INT32) | B(INT64) | B(FLOAT32) | B(FLOAT64),
    /* u16   */ B(UINT16) | B(INT32) | B(UINT32) | B(INT64) | B(UINT64) | B(FLOAT32) |
        B(FLOAT64),
    /* i32   */ B(INT32) | B(INT64) | B(FLOAT64),
    /* u32   */ B(UINT32) | B(INT64) | B(UINT64) | B(FLOAT64),
    /* i64   */ B(INT64) | B(FLOAT64),
    /* u64   */ B(UINT64) | B(FLOAT64),
    /* f32   */ B(FLOAT32) | B(FLOAT64),
    /* f64   */ B(FLOAT64),
    /* f16   */ B(FLOAT16) | B(FLOAT32) | B(FLOAT64),
};
#undef B

/* 0 bool, 1 unsigned, 2 signed, 3 float: same_kind allows kind(from) <= kind(to). */
static int kind(ndp_dtype t) {
  switch (t) {
  case NDP_BOOL: return 0;
  case NDP_UINT8: case NDP_UINT16: case NDP_UINT32: case NDP_UINT64: return 1;
  case NDP_FLOAT16: case NDP_FLOAT32: case NDP_FLOAT64: return 3;
  default: return 2;
  }
}

int ndp_can_cast(ndp_dtype from, ndp_dtype to, ndp_casting casting) {
  if ((unsigned)from >= NDP_NTYPES || (unsigned)to >= NDP_NTYPES) return 0;
  switch (casting) {
  case NDP_CASTING_NO:
  case NDP_CASTING_EQUIV:
    return from == to;
  case NDP_CASTING_SAFE:
    return (safe[from] >> to) & 1u;
  case NDP_CASTING_SAME_KIND:
    return ((safe[from] >> to) & 1u) || kind(from) <= kind(to);
  case NDP_CASTING_UNSAFE:
    return 1;
  }
  return 0;
}

ndp_dtype ndp_promote(ndp_dtype a, ndp_dtype b) {
  if ((unsigned)a >= NDP_NTYPES || (unsigned)b >= NDP_NTYPES) return NDP_NTYPES;
  for (int i = 0; i < NDP_NTYPES; i++) {
    const ndp_dtype t = order[i];
    if (((safe[a] >> t) & 1u) && ((safe[b] >> t) & 1u)) return t;
  }
  return NDP_FLOAT64; /* not reached: everything casts safely to float64 */
}

int ndp_array_init(ndp_array *a, void *data, ndp_dtype dt, int ndim,
                   const int64_t *shape) {
  if (!a || (unsigned)dt >= NDP_NTYPES || ndim < 0 || ndim > NDP_MAXDIMS ||
      (ndim > 0 && !shape))
    return NDP_EINVAL;
  memset(a, 0, sizeof *a);
  a->data = data;
  a->dtype = dt;
  a->ndim = ndim;
  int64_t stride = (int64_t)sizes[dt];
  for (int d = ndim - 1; d >= 0; d--) {
    if (shape[d] < 0) return NDP_EINVAL;
    a->shape[d] = shape[d];
    a->strides[d] = stride;
    if (shape[d] > 0 && ndp__mul_overflow(stride, shape[d], &stride))
      return NDP_EOVERFLOW;
  }
  return 0;
}

int ndp_array_init_weak(ndp_array *a, void *value, int kind, ndp_dtype dt) {
  int ok = (kind == NDP_ARRAY_WEAK_INT &&
            (dt == NDP_INT64 || dt == NDP_UINT64 || dt == NDP_FLOAT64)) ||
           (kind == NDP_ARRAY_WEAK_FLOAT && dt == NDP_FLOAT64) ||
           (kind == NDP_ARRAY_WEAK_BOOL && dt == NDP_BOOL);
  if (!a || !value || !ok) return NDP_EINVAL;
  int rc = ndp_array_init(a, value, dt, 0, NULL);
  a->flags = kind;
  return rc;
}

int64_t ndp_array_size(const ndp_array *a) {
  int64_t n = 1;
  if (!a || a->ndim < 0 || a->ndim > NDP_MAXDIMS) return -1;
  for (int d = 0; d < a->ndim; d++) {
    if (a->shape[d] < 0 || ndp__mul_overflow(n, a->shape[d], &n)) return -1;
  }
  return n;
}
