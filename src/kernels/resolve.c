/*
 * kernels/resolve.c - the operation table and NumPy's loop selection.
 *
 * NumPy picks, for most ufuncs, the first loop in the ufunc's type list
 * that every input casts to safely. ndpar stores, per operation, which of
 * its eleven dtypes have a loop (the class in NDP_OP_MAP) and walks them in
 * type-list order. Special cases, as in NumPy: true division of integers
 * runs in float64; comparing a signed integer with uint64 is exact;
 * negative and subtract refuse booleans. float16 has NumPy's loops
 * ('e->e', 'ee->e', 'e->?'): bool/int8/uint8 inputs of float functions get
 * float16 as in NumPy; the kernels compute them in float32 (dispatch.c).
 * Weak operands (Python scalars, NEP 50) are settled here too, for
 * ndp_ufunc, ndp_ufunc_resolve and the expression compiler alike.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/half.h"
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

#define FLOATS ((1u << NDP_FLOAT16) | (1u << NDP_FLOAT32) | (1u << NDP_FLOAT64))
#define ALLT ((1u << NDP_NTYPES) - 1u)
#define NUMT (ALLT & ~1u)
_Static_assert(NDP_NTYPES <= 32, "dtype bitmasks are unsigned");

/* The dtypes in NumPy's type-list order: the order loops are tried in. */
static const ndp_dtype type_order[] = {NDP_BOOL,    NDP_INT8,    NDP_UINT8,  NDP_INT16,
                                       NDP_UINT16,  NDP_INT32,   NDP_UINT32, NDP_INT64,
                                       NDP_UINT64,  NDP_FLOAT16, NDP_FLOAT32, NDP_FLOAT64};
#define NORDER ((int)(sizeof type_order / sizeof type_order[0]))

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
static int is_float(ndp_dtype t) {
  return t == NDP_FLOAT16 || t == NDP_FLOAT32 || t == NDP_FLOAT64;
}

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
      for (int i = 0; i < NORDER && pick == NDP_NTYPES; i++) {
        const ndp_dtype t = type_order[i];
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

/* The same walk as ndp__resolve, written out as NumPy's type list. */
int ndp_op_loops(int op, ndp_loop_sig *sig, int cap) {
  if (op < 0 || op >= NDP_NOPS) return NDP_ENOFUNC;
  const int nin = ops[op].nin, cls = ops[op].cls;
  const unsigned allowed = loops_of(op);
  ndp_loop_sig all[NDP_MAX_LOOPS];
  int n = 0;
  if (op == NDP_OP_NEGATIVE || op == NDP_OP_SIGN || op == NDP_OP_SUBTRACT)
    all[n++] = (ndp_loop_sig){{NDP_BOOL, nin > 1 ? NDP_BOOL : NDP_NTYPES}, NDP_NTYPES};
  for (int i = 0; i < NORDER; i++) {
    const ndp_dtype t = type_order[i];
    const int is_f = is_float(t);
    if (cls == CLS_DIV && !is_f) /* true division of integers: float64 */
      all[n++] = (ndp_loop_sig){{t, t}, NDP_FLOAT64};
    else if ((allowed >> t) & 1u)
      all[n++] = (ndp_loop_sig){{t, nin > 1 ? t : NDP_NTYPES},
                                cls == CLS_PRED ? NDP_BOOL : t};
    if (t == NDP_UINT64 && nin == 2 && ndp__is_comparison(op)) { /* exact, as NumPy */
      all[n++] = (ndp_loop_sig){{NDP_INT64, NDP_UINT64}, NDP_BOOL};
      all[n++] = (ndp_loop_sig){{NDP_UINT64, NDP_INT64}, NDP_BOOL};
    }
  }
  for (int i = 0; i < n && i < cap && sig; i++) sig[i] = all[i];
  return n;
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

/* ---- weak operands (NEP 50) ------------------------------------------------ */

static int is_int(ndp_dtype t) { return t >= NDP_INT8 && t <= NDP_UINT64; }

static int weak_kind(const ndp_array *a) { return a->flags & NDP_ARRAY_WEAK; }

static ndp_dtype weak_default(int kind) {
  return kind == NDP_ARRAY_WEAK_BOOL ? NDP_BOOL
         : kind == NDP_ARRAY_WEAK_FLOAT ? NDP_FLOAT64 : NDP_INT64;
}

ndp_dtype ndp__weak_standin(int kind, ndp_dtype other) {
  if (kind == NDP_ARRAY_WEAK_BOOL) return NDP_BOOL;
  if (kind == NDP_ARRAY_WEAK_FLOAT) return is_float(other) ? other : NDP_FLOAT64;
  return (is_int(other) || is_float(other)) ? other : NDP_INT64;
}

/* The value of a weak operand (data set). */
typedef struct wval {
  int kind;
  ndp_dtype st; /* storage: int64, uint64, float64 (an int beyond 64 bits), bool */
  int64_t i;
  uint64_t u;
  double d;
} wval;

static wval wval_of(const ndp_array *w) {
  wval v = {weak_kind(w), w->dtype, 0, 0, 0.0};
  switch (w->dtype) {
  case NDP_INT64: memcpy(&v.i, w->data, 8); v.d = (double)v.i; break;
  case NDP_UINT64: memcpy(&v.u, w->data, 8); v.d = (double)v.u; break;
  case NDP_FLOAT64: memcpy(&v.d, w->data, 8); break;
  default: v.i = *(const unsigned char *)w->data != 0; v.d = (double)v.i; break;
  }
  return v;
}

static int store(const wval *v, ndp_dtype dt, void *dst) {
  if (dt == NDP_BOOL) {
    unsigned char b = v->st == NDP_FLOAT64 ? v->d != 0 : v->st == NDP_UINT64 ? v->u != 0 : v->i != 0;
    memcpy(dst, &b, 1);
    return 0;
  }
  if (is_float(dt)) {
    if (v->kind == NDP_ARRAY_WEAK_INT && v->st == NDP_FLOAT64 && isinf(v->d)) return 1;
    if (dt == NDP_FLOAT32) {
      float f = (float)v->d;
      memcpy(dst, &f, 4);
    } else if (dt == NDP_FLOAT16) { /* beyond its range: inf, as NumPy */
      ndp__half h = ndp__f64_to_f16(v->d);
      memcpy(dst, &h, 2);
    } else {
      memcpy(dst, &v->d, 8);
    }
    return 0;
  }
  if (v->st == NDP_FLOAT64) return 1; /* beyond 64 bits, or a float */
  if (v->st == NDP_UINT64) {
    if (dt != NDP_UINT64) return 1;
    memcpy(dst, &v->u, 8);
    return 0;
  }
  static const int64_t lo[] = {0, INT8_MIN, 0, INT16_MIN, 0, INT32_MIN, 0, INT64_MIN, 0};
  static const int64_t hi[] = {0, INT8_MAX, UINT8_MAX, INT16_MAX, UINT16_MAX, INT32_MAX,
                               UINT32_MAX, INT64_MAX, INT64_MAX};
  if (v->i < lo[dt] || v->i > hi[dt]) return 1;
  ndp__cast(NDP_INT64, dt)(&v->i, dst, 1); /* exact: it fits */
  return 0;
}

int ndp__weak_store(const ndp_array *w, ndp_dtype dt, void *dst) {
  wval v = wval_of(w);
  return store(&v, dt, dst);
}

/* " (argument 'x2')", " (argument 2)" without names, "" for a name "". */
static const char *argname(const char *const *names, int k, char *buf, size_t cap) {
  if (names && names[k] && !names[k][0]) snprintf(buf, cap, "%s", "");
  else if (names && names[k]) snprintf(buf, cap, " (argument '%s')", names[k]);
  else snprintf(buf, cap, " (argument %d)", k + 1);
  return buf;
}

static void fmt_int(const wval *v, char *buf, size_t cap) {
  if (v->st == NDP_INT64) snprintf(buf, cap, "%lld", (long long)v->i);
  else if (v->st == NDP_UINT64) snprintf(buf, cap, "%llu", (unsigned long long)v->u);
  else if (isinf(v->d)) snprintf(buf, cap, "%s", v->d > 0 ? "above 1.8e308" : "below -1.8e308");
  else snprintf(buf, cap, "about %.17g", v->d); /* beyond 64 bits: as a double */
}

enum { M_ARITH, M_COMPARE, M_LOGICAL };

/* NEP 50's second step for weak input k (value known): converts it into
 * s->buf[k] as the loop's dtype ldt, or widens it in a comparison. */
static int settle_one(const ndp_array *w, int k, ndp_dtype ldt, int mode, ndp_casting casting,
                      ndp_dtype other, int *widened, const char *name,
                      const char *const *names, ndp__settled *s, ndp_status *st) {
  wval v = wval_of(w);
  char an[80], num[48];
  ndp_dtype dt;
  void *dst = s->buf[k];
  if (v.kind == NDP_ARRAY_WEAK_BOOL) {
    dt = NDP_BOOL;
    store(&v, dt, dst);
  } else if (mode == M_LOGICAL) { /* its truth, in the loop's dtype; NumPy
                                     still reads an int as a C long first */
    if (v.kind == NDP_ARRAY_WEAK_INT && v.st != NDP_INT64) {
      fmt_int(&v, num, sizeof num);
      return ndp__fail(st, NDP_EOVERFLOW, "%s: Python integer %s%s is out of bounds for int64",
                       name, num, argname(names, k, an, sizeof an));
    }
    wval t = {NDP_ARRAY_WEAK_BOOL, NDP_INT64, v.st == NDP_FLOAT64 ? v.d != 0 : v.i != 0, 0, 0.0};
    t.d = (double)t.i;
    dt = ldt;
    store(&t, dt, dst);
  } else {
    const int isint = v.kind == NDP_ARRAY_WEAK_INT;
    const int fits_kind = is_float(ldt) || (isint && is_int(ldt));
    const ndp_dtype dflt = weak_default(v.kind);
    dt = fits_kind ? ldt : dflt;
    /* comparisons of an int with an integer loop are exact: no conversion */
    const int exact_cmp = mode == M_COMPARE && isint && is_int(ldt);
    if (fits_kind && dt != dflt && casting == NDP_CASTING_EQUIV && !exact_cmp)
      return ndp__fail(st, NDP_ECAST, "%s: cannot cast Python %s%s to %s under the "
                       "casting rule 'equiv'", name, isint ? "int" : "float",
                       argname(names, k, an, sizeof an), ndp_dtype_name(dt));
    if (store(&v, dt, dst)) {
      fmt_int(&v, num, sizeof num);
      if (is_float(dt))
        return ndp__fail(st, NDP_EOVERFLOW, "%s: Python integer %s%s is too large to "
                         "convert to float", name, num, argname(names, k, an, sizeof an));
      if (mode == M_COMPARE && is_int(other)) { /* widen: int64, uint64, float64 */
        *widened = 1;
        dt = v.st;
        if (dt == NDP_FLOAT64 && isinf(v.d))
          return ndp__fail(st, NDP_EOVERFLOW, "%s: Python integer %s%s is too large to "
                           "convert to float", name, num, argname(names, k, an, sizeof an));
        store(&v, dt, dst);
      } else if (dt == dflt) {
        return ndp__fail(st, NDP_EOVERFLOW, "%s: Python integer %s%s is too large for "
                         "int64", name, num, argname(names, k, an, sizeof an));
      } else {
        return ndp__fail(st, NDP_EOVERFLOW, "%s: Python integer %s%s is out of bounds "
                         "for %s", name, num, argname(names, k, an, sizeof an),
                         ndp_dtype_name(dt));
      }
    }
  }
  memset(&s->a[k], 0, sizeof s->a[k]);
  s->a[k].dtype = dt;
  s->a[k].data = dst;
  s->in[k] = &s->a[k];
  return 0;
}

/* The dtype a weak operand of unknown value takes (no check). */
static ndp_dtype settle_unknown(int kind, ndp_dtype ldt, int mode, ndp_dtype other) {
  if (kind == NDP_ARRAY_WEAK_BOOL) return NDP_BOOL;
  if (mode == M_LOGICAL) return ldt;
  if (mode == M_COMPARE && kind == NDP_ARRAY_WEAK_INT && is_int(other)) return NDP_INT64;
  return is_float(ldt) || (kind == NDP_ARRAY_WEAK_INT && is_int(ldt)) ? ldt : weak_default(kind);
}

int ndp__settle(int op, const ndp_array *const *in, ndp_dtype loop, ndp_casting casting,
                const char *const *names, ndp__settled *s, ndp_status *st) {
  const int nin = ndp_op_nin(op);
  if (nin == 0) return ndp__fail(st, NDP_ENOFUNC, "no operation with code %d", op);
  const char *name = ops[op].name;
  const int mode = op >= NDP_OP_LOGICAL_AND && op <= NDP_OP_LOGICAL_XOR ? M_LOGICAL
                   : ndp__is_comparison(op) ? M_COMPARE : M_ARITH;
  int nweak = 0, widened = 0, rc;
  s->casting = casting;
  for (int k = 0; k < 2; k++) s->in[k] = k < nin ? in[k] : NULL;
  for (int k = 0; k < nin; k++) {
    int kind = weak_kind(in[k]);
    if (!kind) continue;
    nweak++;
    int ok = (kind == NDP_ARRAY_WEAK_INT &&
              (in[k]->dtype == NDP_INT64 || in[k]->dtype == NDP_UINT64 ||
               in[k]->dtype == NDP_FLOAT64)) ||
             (kind == NDP_ARRAY_WEAK_FLOAT && in[k]->dtype == NDP_FLOAT64) ||
             (kind == NDP_ARRAY_WEAK_BOOL && in[k]->dtype == NDP_BOOL);
    if (!ok || in[k]->ndim != 0 || (in[k]->flags & NDP_ARRAY_BYTESWAPPED))
      return ndp__fail(st, NDP_EINVAL, "%s: input %d is not a valid weak operand (0-d, one "
                       "NDP_ARRAY_WEAK_* flag, its storage dtype, native order)", name, k);
  }
  if (nweak) {
    const int alone = nin == 1 || nweak == 2;
    ndp_dtype pdt[2] = {NDP_BOOL, NDP_BOOL};
    for (int k = 0; k < nin; k++) {
      int kind = weak_kind(in[k]);
      pdt[k] = !kind ? in[k]->dtype
               : alone ? weak_default(kind)
               : mode == M_LOGICAL ? NDP_BOOL : ndp__weak_standin(kind, in[1 - k]->dtype);
    }
    ndp__resolved r0;
    if ((rc = ndp__resolve(op, pdt, loop, NDP_CASTING_UNSAFE, &r0, st))) return rc;
    for (int k = 0; k < nin; k++) {
      int kind = weak_kind(in[k]);
      if (!kind) continue;
      if (!in[k]->data) { /* value known later */
        memset(&s->a[k], 0, sizeof s->a[k]);
        s->a[k].dtype = nin == 1 ? pdt[k] : settle_unknown(kind, r0.loop, mode, pdt[1 - k]);
        if (s->a[k].dtype == NDP_INT64 && mode == M_COMPARE && is_int(pdt[1 - k]) && !alone)
          widened = 1;
        s->in[k] = &s->a[k];
        continue;
      }
      if (nin == 1 && kind != NDP_ARRAY_WEAK_BOOL) {
        /* a unary function's scalar is an ordinary array of its default
         * dtype (NumPy checks its cast to the loop like an array's) */
        wval v = wval_of(in[k]);
        if (store(&v, pdt[k], s->buf[k])) {
          char an[80], num[48];
          fmt_int(&v, num, sizeof num);
          return ndp__fail(st, NDP_EOVERFLOW, "%s: Python integer %s%s is too large for "
                           "int64", name, num, argname(names, k, an, sizeof an));
        }
        memset(&s->a[k], 0, sizeof s->a[k]);
        s->a[k].dtype = pdt[k];
        s->a[k].data = s->buf[k];
        s->in[k] = &s->a[k];
        continue;
      }
      if ((rc = settle_one(in[k], k, r0.loop, mode, casting, pdt[1 - k], &widened, name, names,
                           s, st)))
        return rc;
    }
    /* an out-of-range int in a comparison widened the loop beyond what
     * the array casts to under 'no'/'equiv'; NumPy compares exactly under
     * every rule (the output still meets the rule given) */
    if (widened && casting < NDP_CASTING_SAFE) s->casting = NDP_CASTING_SAFE;
  }
  /* NumPy's logical functions cast any input to their bool loop whatever
   * the rule (only the output obeys it) */
  if (mode == M_LOGICAL) s->casting = NDP_CASTING_UNSAFE;
  ndp_dtype dts[2] = {s->in[0]->dtype, nin > 1 ? s->in[1]->dtype : NDP_BOOL};
  return ndp__resolve(op, dts, loop, s->casting, &s->r, st);
}

int ndp_ufunc_resolve(int op, const ndp_array *const *in, ndp_dtype loop,
                      ndp_casting casting, ndp_dtype out, const char *const *names,
                      ndp_dtype *loop_dtype, ndp_dtype *out_dtype, ndp_status *st) {
  const int nin = ndp_op_nin(op);
  if (nin == 0) return ndp__fail(st, NDP_ENOFUNC, "no operation with code %d", op);
  const char *name = ops[op].name;
  if (!in) return ndp__fail(st, NDP_EINVAL, "%s: inputs are NULL", name);
  for (int k = 0; k < nin; k++) {
    if (!in[k]) return ndp__fail(st, NDP_EINVAL, "%s: input %d is NULL", name, k);
    if ((unsigned)in[k]->dtype >= NDP_NTYPES)
      return ndp__fail(st, NDP_ETYPE, "%s: input %d has an invalid dtype", name, k);
    if (weak_kind(in[k]) && !in[k]->data)
      return ndp__fail(st, NDP_EINVAL, "%s: weak input %d has no data", name, k);
  }
  ndp__settled s;
  int rc = ndp__settle(op, in, loop, casting, names, &s, st);
  if (rc) return rc;
  if (out != NDP_NTYPES && !ndp_can_cast(s.r.out, out, casting))
    return ndp__fail(st, NDP_ECAST, "%s: cannot cast the result from %s to the output's %s "
                     "under the casting rule", name, ndp_dtype_name(s.r.out),
                     ndp_dtype_name(out));
  if (loop_dtype) *loop_dtype = s.r.loop;
  if (out_dtype) *out_dtype = s.r.out;
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
