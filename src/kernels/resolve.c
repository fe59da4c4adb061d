/*
 * kernels/resolve.c - the operation table and NumPy's loop selection.
 *
 * NumPy picks, for most ufuncs, the first loop in the ufunc's type list
 * that every input casts to safely. ndpar stores, per operation, which of
 * its eleven dtypes have a loop (the class in NDP_OP_MAP) and walks them in
 * type-list order. Special cases, as in NumPy: true division of integers
 * runs in float64; comparing a signed integer with uint64 is exact;
 * negative and subtract refuse booleans. NumPy's float16 loops do not
 * exist here, so bool/int8/uint8 inputs of float functions get float32.
 */
#include <string.h>

#include "core/internal.h"
#include "kernels/engine_internal.h"

enum { CLS_FLT, CLS_ALL, CLS_NUM, CLS_PRED, CLS_DIV };

static const struct {
  const char *name;
  int nin;
  int cls;
} ops[NDP_NOPS] = {
#define XX(id, name, nin, cls) {name, nin, CLS_##cls},
    NDP_OP_MAP(XX)
#undef XX
};

#define FLOATS ((1u << NDP_FLOAT32) | (1u << NDP_FLOAT64))
#define ALLT 0x7ffu
#define NUMT (ALLT & ~1u)

static unsigned loops_of(int op) {
  switch (ops[op].cls) {
  case CLS_FLT: case CLS_DIV: return FLOATS;
  case CLS_NUM: return NUMT;
  default: return ALLT;
  }
}

int ndp_op_lookup(const char *name) {
  static const struct {
    const char *alias;
    int op;
  } aliases[] = {{"absolute", NDP_OP_ABS},     {"true_divide", NDP_OP_DIVIDE},
                 {"mod", NDP_OP_REMAINDER},    {"pow", NDP_OP_POWER},
                 {"asin", NDP_OP_ARCSIN},      {"acos", NDP_OP_ARCCOS},
                 {"atan", NDP_OP_ARCTAN},      {"asinh", NDP_OP_ARCSINH},
                 {"acosh", NDP_OP_ARCCOSH},    {"atanh", NDP_OP_ARCTANH},
                 {"atan2", NDP_OP_ARCTAN2}};
  if (!name) return NDP_ENOFUNC;
  for (int i = 0; i < NDP_NOPS; i++)
    if (strcmp(name, ops[i].name) == 0) return i;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(name, aliases[i].alias) == 0) return aliases[i].op;
  return NDP_ENOFUNC;
}

const char *ndp_op_name(int op) {
  return (op >= 0 && op < NDP_NOPS) ? ops[op].name : NULL;
}

int ndp_op_nin(int op) { return (op >= 0 && op < NDP_NOPS) ? ops[op].nin : 0; }

int ndp__is_comparison(int op) {
  return op >= NDP_OP_EQUAL && op <= NDP_OP_GREATER_EQUAL;
}

static int is_signed_int(ndp_dtype t) {
  return t == NDP_INT8 || t == NDP_INT16 || t == NDP_INT32 || t == NDP_INT64;
}
static int is_float(ndp_dtype t) { return t == NDP_FLOAT32 || t == NDP_FLOAT64; }

/* Every input must cast to its loop dtype under the casting rule (NumPy
 * applies it to inputs as well as to the output). */
static int check_inputs(const char *name, const ndp_dtype *in, int nin,
                        const ndp_dtype *loop_in, ndp_casting casting, ndp_status *st) {
  for (int k = 0; k < nin; k++)
    if (!ndp_can_cast(in[k], loop_in[k], casting))
      return ndp__fail(st, NDP_ECAST,
                       "%s: cannot cast input %d from %s to %s under the casting rule",
                       name, k, ndp_dtype_name(in[k]), ndp_dtype_name(loop_in[k]));
  return 0;
}

int ndp__resolve(int op, const ndp_dtype *in, ndp_dtype loop, ndp_casting casting,
                 ndp__resolved *r, ndp_status *st) {
  if (op < 0 || op >= NDP_NOPS)
    return ndp__fail(st, NDP_ENOFUNC, "no operation with code %d", op);
  const int nin = ops[op].nin;
  const char *name = ops[op].name;
  for (int k = 0; k < nin; k++)
    if ((unsigned)in[k] >= NDP_NTYPES)
      return ndp__fail(st, NDP_ETYPE, "%s: input %d has an invalid dtype", name, k);
  if ((unsigned)casting > NDP_CASTING_UNSAFE)
    return ndp__fail(st, NDP_EINVAL, "%s: invalid casting rule %d", name, (int)casting);
  if ((unsigned)loop > NDP_NTYPES)
    return ndp__fail(st, NDP_EINVAL, "%s: invalid dtype %d", name, (int)loop);
  r->mixed = 0;
  if (loop == NDP_NTYPES) {
    if (op == NDP_OP_NEGATIVE && in[0] == NDP_BOOL)
      return ndp__fail(st, NDP_ETYPE, "negative: booleans are not supported "
                                      "(NumPy refuses them too); use logical_not");
    if (op == NDP_OP_SIGN && in[0] == NDP_BOOL)
      return ndp__fail(st, NDP_ETYPE, "sign: booleans are not supported "
                                      "(NumPy refuses them too)");
    if (op == NDP_OP_SUBTRACT && in[0] == NDP_BOOL && in[1] == NDP_BOOL)
      return ndp__fail(st, NDP_ETYPE, "subtract: two booleans are not supported "
                                      "(NumPy refuses them too); use logical_xor");
    if (nin == 2 && ndp__is_comparison(op) &&
        ((in[0] == NDP_UINT64 && is_signed_int(in[1])) ||
         (in[1] == NDP_UINT64 && is_signed_int(in[0])))) {
      r->mixed = 1;
      r->loop_in[0] = in[0] == NDP_UINT64 ? NDP_UINT64 : NDP_INT64;
      r->loop_in[1] = in[1] == NDP_UINT64 ? NDP_UINT64 : NDP_INT64;
      r->loop = NDP_INT64;
      r->out = NDP_BOOL;
      return check_inputs(name, in, nin, r->loop_in, casting, st);
    }
    unsigned allowed = loops_of(op);
    ndp_dtype pick = NDP_NTYPES;
    if (ops[op].cls == CLS_DIV && !is_float(in[0]) && !is_float(in[1])) {
      pick = NDP_FLOAT64;
    } else {
      for (int t = 0; t < NDP_NTYPES && pick == NDP_NTYPES; t++) {
        if (!((allowed >> t) & 1u)) continue;
        int ok = 1;
        for (int k = 0; k < nin; k++)
          ok &= ndp_can_cast(in[k], (ndp_dtype)t, NDP_CASTING_SAFE);
        if (ok) pick = (ndp_dtype)t;
      }
    }
    if (pick == NDP_NTYPES) /* not reached: float64 takes everything */
      return ndp__fail(st, NDP_ETYPE, "%s: no loop for these dtypes", name);
    loop = pick;
    ndp_dtype loops[2] = {loop, loop};
    int rc = check_inputs(name, in, nin, loops, casting, st);
    if (rc) return rc;
  } else {
    if (ops[op].cls == CLS_PRED) {
      /* dtype= names the output, which is always bool: resolve normally */
      if (loop != NDP_BOOL)
        return ndp__fail(st, NDP_ETYPE, "%s: dtype must be bool, not %s", name,
                         ndp_dtype_name(loop));
      return ndp__resolve(op, in, NDP_NTYPES, casting, r, st);
    }
    if (!((loops_of(op) >> loop) & 1u))
      return ndp__fail(st, NDP_ETYPE, "%s: no loop for dtype %s", name,
                       ndp_dtype_name(loop));
    ndp_dtype loops[2] = {loop, loop};
    int rc = check_inputs(name, in, nin, loops, casting, st);
    if (rc) return rc;
  }
  r->loop = loop;
  r->loop_in[0] = r->loop_in[1] = loop;
  r->out = ops[op].cls == CLS_PRED ? NDP_BOOL : loop;
  return 0;
}

int ndp_op_resolve(int op, const ndp_dtype *in_dtypes, ndp_dtype loop,
                   ndp_casting casting, ndp_dtype *loop_dtype,
                   ndp_dtype *out_dtype, ndp_status *st) {
  ndp__resolved r;
  if (!in_dtypes) return ndp__fail(st, NDP_EINVAL, "in_dtypes is NULL");
  int rc = ndp__resolve(op, in_dtypes, loop, casting, &r, st);
  if (rc) return rc;
  if (loop_dtype) *loop_dtype = r.loop;
  if (out_dtype) *out_dtype = r.out;
  ndp__ok(st);
  return 0;
}

/* SLEEF's documented bounds for the x86 levels; glibc's documented
 * double-precision bounds (libm-test-ulps, x86_64) for the reference. */
double ndp_op_ulp_bound(int op, int f32) {
  if (op < 0 || op >= NDP_NOPS) return -1.0;
  ndp_isa isa = ndp_get_isa();
  switch (op) {
  case NDP_OP_EXP: case NDP_OP_EXPM1: case NDP_OP_EXP2: case NDP_OP_LOG:
  case NDP_OP_LOG1P: case NDP_OP_LOG2: case NDP_OP_LOG10: case NDP_OP_CBRT:
  case NDP_OP_SIN: case NDP_OP_COS: case NDP_OP_TAN: case NDP_OP_ARCSIN:
  case NDP_OP_ARCCOS: case NDP_OP_ARCTAN: case NDP_OP_SINH: case NDP_OP_COSH:
  case NDP_OP_TANH: case NDP_OP_ARCSINH: case NDP_OP_ARCCOSH:
  case NDP_OP_ARCTANH: case NDP_OP_ARCTAN2: case NDP_OP_POWER:
    /* SLEEF's u10 bound; its sse2 atan2 measured 1.39 (f64) and 1.50 (f32)
     * ULP with subnormal arguments */
    if (op == NDP_OP_ARCTAN2 && isa == NDP_ISA_SSE2) return 1.5;
    if (isa != NDP_ISA_REF) return 1.0;
    return f32 ? 3.0 : 4.0; /* glibc: at most 2-4 ulp for these */
  case NDP_OP_HYPOT: /* SLEEF documents 0.5; measured 0.97 (f64, sse2) and
                       1.44 (f32, sse2) with subnormal arguments */
    return isa == NDP_ISA_SSE2 ? 1.5 : 1.0;
  default:
    return 0.5; /* exact or correctly rounded (sqrt, divide, ...) */
  }
}
