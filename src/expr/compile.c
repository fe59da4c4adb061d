/*
 * expr/compile.c - from the AST to checked bytecode.
 *
 * 1. Typing and CSE, one pass over the AST array in index order (children
 *    come first, so no recursion). Each node becomes a typed value: an IR
 *    node id plus a "weak" flag for Python scalars (NEP 50). IR nodes are
 *    hash-consed: building a node equal to an existing one returns the
 *    existing id, which is common subexpression elimination (including
 *    across statements: `t = exp(a); t + exp(a)` computes exp once).
 *    Names resolve to temporaries, then variables, then the constants
 *    (True/False are literals). Operators resolve their loop with
 *    ndp__settle (NumPy's rules, NEP 50 for the weak operands: the same
 *    code as ndp_ufunc's, which converts a weak constant to the dtype it
 *    takes or refuses it, and gives a weak value known only at evaluation
 *    its dtype); the casts this needs become IR nodes. Casts of constants, and
 *    operations whose operands are all constants, are folded (evaluated
 *    once here with the same kernels).
 * 2. Bytecode: the nodes reachable from the result, in id order (a valid
 *    schedule), one instruction each. Variables and constants are
 *    read-only registers; the other values get block registers by linear
 *    scan (a register is reused once its value's last reader has run; an
 *    instruction may write over an operand of its own item size, which
 *    every loop allows). The result has a register of its own so the VM
 *    can point it at the output. A block register holds whatever dtype
 *    its current value has (at most 8-byte items). A where whose branch is
 *    one costly operation (transcendental, power, ...) read nowhere else
 *    gets that operation fused in, so the VM runs it only on the lanes
 *    that take the branch. The program is then verified once: registers
 *    in range and written before read, operand dtypes those each
 *    instruction expects (tracked through register reuse), a kernel for
 *    every loop.
 * The program is immutable after compile; vm.c only reads it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "expr/expr_internal.h"
#include "kernels/engine_internal.h"
#include "kernels/kernels.h"

enum { I_VAR, I_CONST, I_UFUNC, I_CAST, I_WHERE, I_BIT, I_NOT };
enum { W_NONE, W_INT, W_FLOAT };

typedef struct irn {
  uint8_t kind, dtype, ldt, mixed;
  int16_t op;
  int32_t arg[3];
  int32_t var;
  unsigned char cval[8];
} irn;

typedef struct tv {
  int id;
  int weak; /* W_* */
} tv;

typedef struct comp {
  const ndp__ast *a;
  int nvars;
  const ndp_var *vars;
  irn *ir;
  int nir, ircap;
  int *hash;
  int hcap;
  tv *val;      /* per AST node */
  int cur_stmt; /* statements before it are bound */
  const ndp__ktable *kt;
  ndp_status *st;
  ndp__evar *evars; /* the program's variables (integer cast targets) */
} comp;

static int is_float_dt(int dt) {
  return dt == NDP_FLOAT16 || dt == NDP_FLOAT32 || dt == NDP_FLOAT64;
}
static int is_int_dt(int dt) { return dt != NDP_BOOL && !is_float_dt(dt); }
static int is_unsigned_dt(int dt) {
  return dt == NDP_UINT8 || dt == NDP_UINT16 || dt == NDP_UINT32 || dt == NDP_UINT64;
}

/* ---- hash-consing -------------------------------------------------------- */

static uint32_t hash_irn(const irn *x) {
  const unsigned char *p = (const unsigned char *)x;
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < sizeof *x; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static int rehash(comp *c) {
  int cap = c->hcap ? c->hcap * 2 : 256;
  int *h = ndp__malloc(sizeof *h * (size_t)cap);
  if (!h) return ndp__fail(c->st, NDP_ENOMEM, "out of memory compiling the expression");
  for (int i = 0; i < cap; i++) h[i] = -1;
  for (int i = 0; i < c->nir; i++) {
    uint32_t k = hash_irn(&c->ir[i]) & (uint32_t)(cap - 1);
    while (h[k] >= 0) k = (k + 1) & (uint32_t)(cap - 1);
    h[k] = i;
  }
  ndp__free(c->hash);
  c->hash = h;
  c->hcap = cap;
  return 0;
}

static int grow_ir(comp *c) {
  if (c->nir >= 4 * NDP__EXPR_MAXNODES)
    return ndp__fail(c->st, NDP_EINVAL, "expression too large");
  int cap = c->ircap ? c->ircap * 2 : 128;
  irn *n = ndp__malloc(sizeof *n * (size_t)cap);
  if (!n) return ndp__fail(c->st, NDP_ENOMEM, "out of memory compiling the expression");
  if (c->nir) memcpy(n, c->ir, sizeof *n * (size_t)c->nir);
  ndp__free(c->ir);
  c->ir = n;
  c->ircap = cap;
  return 0;
}

/* Returns the id of the node equal to *x, adding it when new; or < 0. */
static int intern(comp *c, const irn *x) {
  int rc;
  if (2 * (c->nir + 1) > c->hcap && (rc = rehash(c))) return rc;
  uint32_t k = hash_irn(x) & (uint32_t)(c->hcap - 1);
  while (c->hash[k] >= 0) {
    if (memcmp(&c->ir[c->hash[k]], x, sizeof *x) == 0) return c->hash[k];
    k = (k + 1) & (uint32_t)(c->hcap - 1);
  }
  if (c->nir == c->ircap && (rc = grow_ir(c))) return rc;
  c->ir[c->nir] = *x;
  c->hash[k] = c->nir;
  return c->nir++;
}

static void irn_init(irn *x, int kind, ndp_dtype dt) {
  memset(x, 0, sizeof *x);
  x->kind = (uint8_t)kind;
  x->dtype = (uint8_t)dt;
  x->arg[0] = x->arg[1] = x->arg[2] = -1;
  x->var = -1;
}

static int mk_const(comp *c, ndp_dtype dt, const void *val, int weak, tv *out) {
  irn x;
  irn_init(&x, I_CONST, dt);
  memcpy(x.cval, val, ndp_dtype_size(dt));
  int id = intern(c, &x);
  if (id < 0) return id;
  *out = (tv){id, weak};
  return 0;
}

/* x as dtype dt (strong). Constants are converted here. */
static int mk_cast(comp *c, tv x, ndp_dtype dt, tv *out) {
  const irn *n = &c->ir[x.id];
  if (n->dtype == dt) {
    *out = (tv){x.id, W_NONE};
    return 0;
  }
  if (n->kind == I_CONST) {
    unsigned char v[8] = {0};
    ndp__cast((ndp_dtype)n->dtype, dt)(n->cval, v, 1);
    return mk_const(c, dt, v, W_NONE, out);
  }
  irn y;
  irn_init(&y, I_CAST, dt);
  y.ldt = n->dtype;
  y.arg[0] = x.id;
  /* NEP 50: a computed Python-int value (n * 2 with n a Python int) must
   * fit the integer dtype it takes, like a constant or a variable; its
   * value is known only at evaluation, so the cast checks it there */
  if (x.weak == W_INT && is_int_dt(dt) && n->kind != I_VAR && n->kind != I_CONST)
    y.mixed = 1;
  int id = intern(c, &y);
  if (id < 0) return id;
  *out = (tv){id, W_NONE};
  return 0;
}

static int weak_flag(int weak) {
  return weak == W_INT ? NDP_ARRAY_WEAK_INT : weak == W_FLOAT ? NDP_ARRAY_WEAK_FLOAT : 0;
}

/* Value x as an operand descriptor for resolve.c: a weak one carries its
 * value when it is a constant (data NULL when known only at evaluation). */
static void as_operand(comp *c, tv x, ndp_array *a) {
  irn *n = &c->ir[x.id];
  memset(a, 0, sizeof *a);
  a->dtype = (ndp_dtype)n->dtype;
  a->flags = weak_flag(x.weak);
  if (x.weak && n->kind == I_CONST) a->data = n->cval;
}

/* The dtypes two operands take before loop resolution (NEP 50's first
 * step: a weak one stands for the other's dtype when its kind allows). */
static void operand_dtypes(const comp *c, tv x, tv y, ndp_dtype *dx, ndp_dtype *dy) {
  *dx = (ndp_dtype)c->ir[x.id].dtype;
  *dy = (ndp_dtype)c->ir[y.id].dtype;
  if (x.weak && !y.weak) *dx = ndp__weak_standin(weak_flag(x.weak), *dy);
  if (y.weak && !x.weak) *dy = ndp__weak_standin(weak_flag(y.weak), *dx);
}

static int weak_of_result(ndp_dtype dt) {
  return is_float_dt(dt) ? W_FLOAT : is_int_dt(dt) ? W_INT : W_NONE;
}

/* Folds node x when all its operands are constants. */
static int try_fold(comp *c, const irn *x, tv *out, int weak, int *done) {
  _Alignas(8) unsigned char v[3][8], r[8];
  *done = 0;
  int nin = x->kind == I_WHERE ? 3 : x->kind == I_NOT ? 1 : (x->arg[1] < 0 ? 1 : 2);
  for (int k = 0; k < nin; k++) {
    if (c->ir[x->arg[k]].kind != I_CONST) return 0;
    memcpy(v[k], c->ir[x->arg[k]].cval, 8);
  }
  memset(r, 0, sizeof r);
  size_t isz = ndp_dtype_size((ndp_dtype)x->dtype);
  if (x->kind == I_UFUNC) {
    const char *in[2] = {(const char *)v[0], (const char *)v[1]};
    ndp__loop_fn fn = x->mixed == 1 ? c->kt->cmp_qQ[x->op]
                      : x->mixed == 2 ? c->kt->cmp_Qq[x->op] : c->kt->fn[x->op][x->ldt];
    if (!fn || fn(in, (char *)r, 1) != 0) return 0; /* left to run time */
  } else if (x->kind == I_WHERE) {
    ndp__x_where(isz, (const char *)v[0], (const char *)v[1], (const char *)v[2], (char *)r, 1);
  } else if (x->kind == I_BIT) {
    ndp__x_bit(x->op, isz, (const char *)v[0], (const char *)v[1], (char *)r, 1);
  } else if (x->kind == I_NOT) {
    ndp__x_not((ndp_dtype)x->dtype, (const char *)v[0], (char *)r, 1);
  } else {
    return 0;
  }
  *done = 1;
  return mk_const(c, (ndp_dtype)x->dtype, r, weak, out);
}

static int finish(comp *c, irn *x, int weak, tv *out) {
  int done, rc = try_fold(c, x, out, weak, &done);
  if (rc || done) return rc;
  int id = intern(c, x);
  if (id < 0) return id;
  *out = (tv){id, weak};
  return 0;
}

/* ---- operators ------------------------------------------------------------ */

/* x ** k for a constant k of 2, 0.5 or -1 runs as square, sqrt or
 * reciprocal (exact, and what NumPy's fast scalar power does). */
static int power_shortcut(const comp *c, const irn *x) {
  const irn *k = &c->ir[x->arg[1]];
  if (x->op != NDP_OP_POWER || k->kind != I_CONST) return -1;
  double v;
  ndp__cast((ndp_dtype)k->dtype, NDP_FLOAT64)(k->cval, &v, 1);
  int fl = is_float_dt(x->ldt);
  return v == 2.0 ? NDP_OP_SQUARE : !fl ? -1 : v == 0.5 ? NDP_OP_SQRT
         : v == -1.0 ? NDP_OP_RECIPROCAL : -1;
}

/* NEP 50: a Python int constant that does not fit the integer dtype it
 * takes is an error (NumPy raises OverflowError); a Python int variable's
 * value is checked at evaluation. Used by where and the bitwise operators
 * (ufuncs settle their weak operands in ndp__settle). */
static int check_fit(comp *c, tv x, ndp_dtype dt, int pos) {
  const irn *n = &c->ir[x.id];
  if (x.weak != W_INT || !is_int_dt(dt)) return 0;
  if (n->kind == I_VAR && c->evars)
    c->evars[n->var].int_targets |= 1u << dt; /* its value is checked at eval */
  if (n->kind != I_CONST) return 0;
  ndp_array w;
  unsigned char t[8];
  as_operand(c, x, &w);
  if (!ndp__weak_store(&w, dt, t)) return 0;
  int64_t v;
  memcpy(&v, n->cval, 8);
  return ndp__fail_at(c->st, NDP_EOVERFLOW, pos, "Python integer %lld out of bounds for %s",
                      (long long)v, ndp_dtype_name(dt));
}

static int mk_ufunc(comp *c, int op, int nin, const tv *in_args, int pos, int weak_ok,
                    tv *out) {
  tv args[2] = {in_args[0], nin > 1 ? in_args[1] : in_args[0]};
  int allweak = args[0].weak && args[1].weak;
  /* NEP 50 in resolve.c: the loop, and the dtype each weak operand takes
   * (a constant converted there: u8 / 1000 runs in float64 and is fine, u8
   * + 1000 is an overflow, u8 < 1000 compares exactly in int64) */
  ndp_array w[2];
  const ndp_array *wp[2] = {&w[0], &w[1]};
  for (int k = 0; k < nin; k++) as_operand(c, args[k], &w[k]);
  ndp__settled s;
  static const char *const unnamed[2] = {"", ""}; /* the position says which */
  int rc = ndp__settle(op, wp, NDP_NTYPES, NDP_CASTING_UNSAFE, unnamed, &s, c->st);
  if (rc) {
    if (c->st) c->st->pos = pos;
    return rc;
  }
  const ndp__resolved r = s.r;
  irn x;
  irn_init(&x, I_UFUNC, r.out);
  x.op = (int16_t)op;
  x.ldt = r.loop;
  x.mixed = r.mixed ? (r.loop_in[0] == NDP_INT64 ? 1 : 2) : 0;
  for (int k = 0; k < nin; k++) {
    tv a = args[k];
    if (args[k].weak) {
      ndp_dtype dt = s.in[k]->dtype;
      if (c->ir[args[k].id].kind == I_CONST) rc = mk_const(c, dt, s.in[k]->data, W_NONE, &a);
      else if (!(rc = check_fit(c, args[k], dt, pos))) rc = mk_cast(c, args[k], dt, &a);
      if (rc) return rc;
    }
    if ((rc = mk_cast(c, a, r.loop_in[k], &a))) return rc;
    x.arg[k] = a.id;
  }
  int sop = nin == 2 ? power_shortcut(c, &x) : -1;
  if (sop >= 0) {
    x.op = (int16_t)sop;
    x.arg[1] = -1;
  }
  return finish(c, &x, weak_ok && allweak ? weak_of_result(r.out) : W_NONE, out);
}

/* Common dtype of two operands for where and the bitwise operators. */
static ndp_dtype common_dtype(const comp *c, tv x, tv y, int *weak) {
  ndp_dtype dx, dy;
  operand_dtypes(c, x, y, &dx, &dy);
  *weak = W_NONE;
  if (x.weak && y.weak) {
    *weak = x.weak > y.weak ? x.weak : y.weak;
    return *weak == W_FLOAT ? NDP_FLOAT64 : NDP_INT64;
  }
  return ndp_promote(dx, dy);
}

static int mk_bit(comp *c, int bop, const char *name, tv x, tv y, int pos, tv *out) {
  int weak, rc;
  ndp_dtype dt = common_dtype(c, x, y, &weak);
  if (is_float_dt(dt))
    return ndp__fail_at(c->st, NDP_ETYPE, pos,
                        "'%s': not supported for %s and %s (booleans and integers only)",
                        name, ndp_dtype_name((ndp_dtype)c->ir[x.id].dtype),
                        ndp_dtype_name((ndp_dtype)c->ir[y.id].dtype));
  irn n;
  irn_init(&n, I_BIT, dt);
  n.op = (int16_t)bop;
  tv a, b;
  if ((rc = check_fit(c, x, dt, pos)) || (rc = check_fit(c, y, dt, pos))) return rc;
  if ((rc = mk_cast(c, x, dt, &a)) || (rc = mk_cast(c, y, dt, &b))) return rc;
  n.arg[0] = a.id;
  n.arg[1] = b.id;
  return finish(c, &n, weak, out);
}

static int mk_not(comp *c, const char *name, tv x, int pos, tv *out) {
  ndp_dtype dt = (ndp_dtype)c->ir[x.id].dtype;
  if (is_float_dt(dt))
    return ndp__fail_at(c->st, NDP_ETYPE, pos,
                        "'%s': not supported for %s (booleans and integers only)", name,
                        ndp_dtype_name(dt));
  irn n;
  irn_init(&n, I_NOT, dt);
  n.arg[0] = x.id;
  return finish(c, &n, x.weak, out);
}

static int mk_where(comp *c, const tv *args, int pos, tv *out) {
  int weak, rc;
  tv cnd, a, b;
  ndp_dtype dt = common_dtype(c, args[1], args[2], &weak);
  if ((rc = check_fit(c, args[1], dt, pos)) || (rc = check_fit(c, args[2], dt, pos))) return rc;
  if ((rc = mk_cast(c, args[0], NDP_BOOL, &cnd)) || (rc = mk_cast(c, args[1], dt, &a)) ||
      (rc = mk_cast(c, args[2], dt, &b)))
    return rc;
  irn n;
  irn_init(&n, I_WHERE, dt);
  n.arg[0] = cnd.id;
  n.arg[1] = a.id;
  n.arg[2] = b.id;
  (void)weak; /* np.where's result is an array: never weak */
  return finish(c, &n, W_NONE, out);
}

static int binary_node(comp *c, const ndp__anode *n, tv *out) {
  static const int ufunc_of[T_NOPS] = {
      NDP_OP_ADD, NDP_OP_SUBTRACT, NDP_OP_MULTIPLY, NDP_OP_DIVIDE, NDP_OP_FLOOR_DIVIDE,
      NDP_OP_REMAINDER, NDP_OP_POWER, NDP_OP_EQUAL, NDP_OP_NOT_EQUAL, NDP_OP_LESS,
      NDP_OP_LESS_EQUAL, NDP_OP_GREATER, NDP_OP_GREATER_EQUAL, -1, -1, -1, -1, -1, -1};
  tv args[2] = {c->val[n->arg[0]], c->val[n->arg[1]]};
  switch (n->op) {
  case T_AND: return mk_bit(c, B_AND, "&", args[0], args[1], n->pos, out);
  case T_OR: return mk_bit(c, B_OR, "|", args[0], args[1], n->pos, out);
  case T_XOR: return mk_bit(c, B_XOR, "^", args[0], args[1], n->pos, out);
  default: break;
  }
  if (n->op == T_POW && args[0].weak == W_INT && args[1].weak == W_INT &&
      c->ir[args[1].id].kind == I_CONST) { /* Python: 2 ** -1 == 0.5 */
    int64_t k;
    memcpy(&k, c->ir[args[1].id].cval, 8);
    for (int i = 0; i < 2 && k < 0; i++) {
      int rc = mk_cast(c, args[i], NDP_FLOAT64, &args[i]);
      if (rc) return rc;
      args[i].weak = W_FLOAT;
    }
  }
  return mk_ufunc(c, ufunc_of[n->op], 2, args, n->pos, 1, out);
}

static int unary_node(comp *c, const ndp__anode *n, tv *out) {
  tv x = c->val[n->arg[0]];
  if (n->op == T_POS) {
    *out = x;
    return 0;
  }
  if (n->op == T_INV) return mk_not(c, "~", x, n->pos, out);
  return mk_ufunc(c, NDP_OP_NEGATIVE, 1, &x, n->pos, 1, out);
}

/* ---- names ---------------------------------------------------------------- */

static int name_is(const comp *c, int pos, int len, const char *s) {
  return (size_t)len == strlen(s) && memcmp(c->a->src + pos, s, (size_t)len) == 0;
}

/* The built-in float constants: a variable or temporary of the same name
 * hides them. */
static const struct {
  const char *name;
  double v;
} float_consts[] = {{"pi", 3.141592653589793}, {"e", 2.718281828459045}, {"inf", INFINITY},
                    {"nan", NAN}};

static int span_is(const char *src, int pos, int len, const char *s) {
  return (size_t)len == strlen(s) && memcmp(src + pos, s, (size_t)len) == 0;
}

/* True and False are literals (Python keywords): no variable can hide them. */
static int bool_literal(const char *src, int pos, int len) {
  return span_is(src, pos, len, "False") ? 0 : span_is(src, pos, len, "True") ? 1 : -1;
}

static int float_constant(const char *src, int pos, int len) {
  for (int i = 0; i < (int)(sizeof float_consts / sizeof float_consts[0]); i++)
    if (span_is(src, pos, len, float_consts[i].name)) return i;
  return -1;
}

/* The name's statement binds it when an earlier statement assigns it. */
static int bound_before(const ndp__ast *a, int stmt, int pos, int len) {
  for (int s = stmt - 1; s >= 0; s--)
    if (a->s[s].name_len == len && memcmp(a->src + a->s[s].name_pos, a->src + pos, (size_t)len) == 0)
      return s;
  return -1;
}

/* Temporaries (latest binding first), then variables, then constants:
 * a name the user binds always wins over a built-in one. */
static int name_node(comp *c, const ndp__anode *n, tv *out) {
  int b = bool_literal(c->a->src, n->pos, n->len);
  if (b >= 0) {
    unsigned char v = (unsigned char)b;
    return mk_const(c, NDP_BOOL, &v, W_NONE, out);
  }
  int s = bound_before(c->a, c->cur_stmt, n->pos, n->len);
  if (s >= 0) {
    *out = c->val[c->a->s[s].root];
    return 0;
  }
  for (int v = 0; v < c->nvars; v++)
    if (name_is(c, n->pos, n->len, c->vars[v].name)) {
      irn x;
      ndp_var_kind k = c->vars[v].kind;
      ndp_dtype dt = k == NDP_VAR_WEAK_INT ? NDP_INT64 : k == NDP_VAR_WEAK_FLOAT ? NDP_FLOAT64
                                                                                 : c->vars[v].dtype;
      irn_init(&x, I_VAR, dt);
      x.var = v;
      int id = intern(c, &x);
      if (id < 0) return id;
      *out = (tv){id, k == NDP_VAR_WEAK_INT ? W_INT : k == NDP_VAR_WEAK_FLOAT ? W_FLOAT : W_NONE};
      return 0;
    }
  int k = float_constant(c->a->src, n->pos, n->len);
  if (k >= 0) return mk_const(c, NDP_FLOAT64, &float_consts[k].v, W_FLOAT, out);
  return ndp__fail_at(c->st, NDP_ENAME, n->pos, "unknown name '%.*s'", n->len > 64 ? 64 : n->len,
                      c->a->src + n->pos);
}

/* ---- calls ---------------------------------------------------------------- */

static const char *const red_names[] = {"", "sum", "prod", "min", "max", "mean", "any", "all"};

static int reduction_of(const comp *c, const ndp__anode *n) {
  for (int r = R_SUM; r <= R_ALL; r++)
    if (name_is(c, n->pos, n->len, red_names[r])) return r;
  return R_NONE;
}

static int check_nargs(comp *c, const ndp__anode *n, int want) {
  for (int i = 0; i < n->nargs; i++)
    if (c->a->n[n->arg[i]].kind == A_KWARG)
      return ndp__fail_at(c->st, NDP_ESYNTAX, c->a->n[n->arg[i]].pos,
                          "%.*s() takes no keyword arguments", n->len, c->a->src + n->pos);
  if (n->nargs != want)
    return ndp__fail_at(c->st, NDP_ESYNTAX, n->pos, "%.*s() takes %d argument%s (%d given)",
                        n->len, c->a->src + n->pos, want, want == 1 ? "" : "s", n->nargs);
  return 0;
}

static int extra_call(comp *c, const ndp__anode *n, const tv *args, tv *out, int *found) {
  static const char *const names[] = {"where", "logical_not", "invert", "bitwise_not",
                                      "bitwise_and", "bitwise_or", "bitwise_xor"};
  static const int nins[] = {3, 1, 1, 1, 2, 2, 2};
  int rc;
  *found = 1;
  for (int i = 0; i < 7; i++) {
    if (!name_is(c, n->pos, n->len, names[i])) continue;
    if ((rc = check_nargs(c, n, nins[i]))) return rc;
    if (i == 0) return mk_where(c, args, n->pos, out);
    if (i == 1) {
      tv b;
      if ((rc = mk_cast(c, args[0], NDP_BOOL, &b))) return rc;
      return mk_not(c, "logical_not", b, n->pos, out);
    }
    if (i <= 3) return mk_not(c, names[i], args[0], n->pos, out);
    return mk_bit(c, i - 4, names[i], args[0], args[1], n->pos, out);
  }
  *found = 0;
  return 0;
}

static int call_node(comp *c, int idx, const ndp__anode *n, tv *out) {
  tv args[3];
  int rc, found;
  for (int i = 0; i < n->nargs; i++) args[i] = c->val[n->arg[i]];
  if (reduction_of(c, n)) {
    if (idx != c->a->s[c->a->ns - 1].root)
      return ndp__fail_at(c->st, NDP_ESYNTAX, n->pos,
                          "%.*s() is a reduction: only allowed as the outermost operation of "
                          "the last statement", n->len, c->a->src + n->pos);
    *out = args[0]; /* the reduction itself is recorded by reduction() */
    return 0;
  }
  if ((rc = extra_call(c, n, args, out, &found)) || found) return rc;
  char name[32];
  int op = NDP_ENOFUNC;
  if (n->len < (int)sizeof name) {
    memcpy(name, c->a->src + n->pos, (size_t)n->len);
    name[n->len] = '\0';
    op = ndp_op_lookup(name);
  }
  if (op < 0)
    return ndp__fail_at(c->st, NDP_ENAME, n->pos, "unknown function '%.*s'",
                        n->len > 64 ? 64 : n->len, c->a->src + n->pos);
  if ((rc = check_nargs(c, n, ndp_op_nin(op)))) return rc;
  return mk_ufunc(c, op, ndp_op_nin(op), args, n->pos, 0, out);
}

/* ---- the typing pass ------------------------------------------------------ */

static int type_node(comp *c, int i) {
  const ndp__anode *n = &c->a->n[i];
  tv *out = &c->val[i];
  switch (n->kind) {
  case A_INT: return mk_const(c, NDP_INT64, &n->ival, W_INT, out);
  case A_FLOAT: return mk_const(c, NDP_FLOAT64, &n->fval, W_FLOAT, out);
  case A_NAME: return name_node(c, n, out);
  case A_UNARY: return unary_node(c, n, out);
  case A_BINARY: return binary_node(c, n, out);
  case A_KWARG: *out = c->val[n->arg[0]]; return 0;
  default: return call_node(c, i, n, out);
  }
}

static int type_all(comp *c) {
  int rc;
  for (c->cur_stmt = 0; c->cur_stmt < c->a->ns; c->cur_stmt++) {
    const ndp__astmt *s = &c->a->s[c->cur_stmt];
    for (int i = s->first; i <= s->root; i++)
      if ((rc = type_node(c, i))) return rc;
  }
  return 0;
}

/* ---- reductions ----------------------------------------------------------- */

static int literal_int(const comp *c, int i, int64_t *v) {
  const ndp__anode *n = &c->a->n[i];
  if (n->kind == A_KWARG) n = &c->a->n[n->arg[0]];
  if (n->kind == A_INT) {
    *v = n->ival;
    return 1;
  }
  if (n->kind == A_UNARY && n->op == T_NEG && c->a->n[n->arg[0]].kind == A_INT) {
    *v = -c->a->n[n->arg[0]].ival;
    return 1;
  }
  return 0;
}

static int reduction_args(comp *c, ndp_expr *e, const ndp__anode *n) {
  const char *name = red_names[e->red];
  if (n->nargs < 1 || n->nargs > 2 || c->a->n[n->arg[0]].kind == A_KWARG)
    return ndp__fail_at(c->st, NDP_ESYNTAX, n->pos, "%s() takes a value and an optional axis",
                        name);
  if (n->nargs == 2) {
    const ndp__anode *k = &c->a->n[n->arg[1]];
    int64_t ax;
    if (k->kind == A_KWARG && !name_is(c, k->pos, k->len, "axis"))
      return ndp__fail_at(c->st, NDP_ESYNTAX, k->pos, "%s(): unknown keyword '%.*s'", name,
                          k->len, c->a->src + k->pos);
    if (!literal_int(c, n->arg[1], &ax) || ax < -NDP_MAXDIMS || ax >= NDP_MAXDIMS)
      return ndp__fail_at(c->st, NDP_ESYNTAX, k->pos,
                          "%s(): the axis must be an integer literal", name);
    e->axis = (int)ax;
    e->has_axis = 1;
  }
  return 0;
}

/* Accumulator and result dtypes of a reduction of values of dtype v. */
static void reduction_types(int red, ndp_dtype v, ndp_dtype *adt, ndp_dtype *rdt) {
  ndp_dtype wide = is_float_dt(v) ? NDP_FLOAT64 : is_unsigned_dt(v) ? NDP_UINT64 : NDP_INT64;
  switch (red) {
  case R_SUM: case R_PROD:
    *adt = wide;
    *rdt = is_float_dt(v) ? v : wide;
    return;
  case R_MEAN:
    *adt = NDP_FLOAT64;
    *rdt = v == NDP_FLOAT32 || v == NDP_FLOAT16 ? v : NDP_FLOAT64; /* as np.mean */
    return;
  case R_MIN: case R_MAX:
    *adt = wide;
    *rdt = v;
    return;
  default:
    *adt = NDP_BOOL;
    *rdt = NDP_BOOL;
  }
}

/* ---- bytecode --------------------------------------------------------------- */

typedef struct emitter {
  comp *c;
  ndp_expr *e;
  int root;        /* IR id of the value */
  int *reg;        /* IR id -> register (-1 none) */
  int *last;       /* IR id -> id of its last reader */
  int *freel;      /* free temp registers (stack) */
  int *uses;       /* IR id -> number of live readers */
  int *fused;      /* IR id -> the where it is fused into, or -1 */
  int nfree, ntemp, nleaf;
} emitter;

static int nin_of(const irn *x) {
  return x->kind == I_WHERE ? 3 : x->kind == I_CONST || x->kind == I_VAR ? 0
         : x->arg[1] >= 0 ? 2 : 1;
}

/* Costly enough that computing it only on the lanes a where takes pays
 * for packing those lanes. */
static int costly(const irn *x) {
  return x->kind == I_UFUNC && x->mixed == 0 &&
         (x->op <= NDP_OP_ARCTANH || x->op == NDP_OP_POWER || x->op == NDP_OP_ARCTAN2 ||
          x->op == NDP_OP_HYPOT);
}

/* Marks what the result needs (walking down from it: every reader has a
 * larger id than what it reads, so a node's readers are all counted when
 * it is reached); decides which where branches are fused; numbers the
 * leaves' registers. */
static void mark_live(emitter *m) {
  const comp *c = m->c;
  for (int i = 0; i < c->nir; i++) {
    m->last[i] = -1;
    m->uses[i] = 0;
    m->fused[i] = -1;
  }
  m->last[m->root] = c->nir; /* read by the end */
  for (int i = m->root; i >= 0; i--) {
    if (m->last[i] < 0) continue;
    const irn *x = &c->ir[i];
    const irn *w = i != m->root ? &c->ir[m->last[i]] : NULL; /* its one reader? */
    if (w && m->uses[i] == 1 && costly(x) && w->kind == I_WHERE &&
        (w->arg[1] == i || w->arg[2] == i) && w->arg[0] != i)
      m->fused[i] = m->last[i];
    int reader = m->fused[i] >= 0 ? m->fused[i] : i;
    for (int k = 0; k < nin_of(x); k++) {
      int a = x->arg[k];
      m->uses[a]++;
      if (m->last[a] < reader) m->last[a] = reader;
    }
  }
  m->nleaf = 0;
  for (int i = 0; i <= m->root; i++) {
    m->reg[i] = -1;
    if (m->last[i] >= 0 && nin_of(&c->ir[i]) == 0) m->reg[i] = m->nleaf++;
  }
}

static int alloc_temp(emitter *m) { return m->nfree ? m->freel[--m->nfree] : m->ntemp++; }

/* The IR ids an instruction for node i reads: its operands, with a fused
 * branch replaced by that branch's operands. OUT: ids[], returns count. */
static int operands(const emitter *m, int i, int *ids) {
  const irn *x = &m->c->ir[i];
  int n = 0;
  for (int k = 0; k < nin_of(x); k++) {
    int a = x->arg[k];
    if (m->fused[a] < 0) {
      ids[n++] = a;
      continue;
    }
    for (int j = 0; j < nin_of(&m->c->ir[a]); j++) ids[n++] = m->c->ir[a].arg[j];
  }
  return n;
}

/* Temp registers are numbered from 0 here and shifted past the leaves at
 * the end; the result's register is -2 until then. */
static void assign(emitter *m, int i, ndp__insn *in) {
  const irn *x = &m->c->ir[i];
  int ids[8], n = operands(m, i, ids), dst = -1, fusedw = 0;
  size_t isz = ndp_dtype_size((ndp_dtype)x->dtype);
  for (int k = 0; k < nin_of(x); k++) fusedw |= m->fused[x->arg[k]] >= 0;
  for (int k = 0; k < nin_of(x); k++) in->src[k] = m->reg[x->arg[k]];
  for (int k = 0; k < n && !fusedw && i != m->root; k++) {
    int a = ids[k];
    if (dst < 0 && x->kind != I_CAST && m->last[a] == i && nin_of(&m->c->ir[a]) > 0 &&
        ndp_dtype_size((ndp_dtype)m->c->ir[a].dtype) == isz)
      dst = m->reg[a] - m->nleaf;
  }
  if (i == m->root) dst = -2;
  else if (dst < 0) dst = alloc_temp(m);
  for (int k = 0; k < n; k++) { /* free operands read for the last time */
    int a = ids[k], dup = 0;
    for (int j = 0; j < k; j++) dup |= ids[j] == a;
    int r = m->reg[a] - m->nleaf;
    if (!dup && m->last[a] == i && nin_of(&m->c->ir[a]) > 0 && r != dst) m->freel[m->nfree++] = r;
  }
  in->dst = dst;
  m->reg[i] = dst == -2 ? -2 : dst + m->nleaf;
}

/* Fills the branch fields of a where's instruction. */
static void fuse_branches(const emitter *m, int i, ndp__insn *in) {
  const irn *x = &m->c->ir[i];
  for (int b = 0; b < 2; b++) {
    int a = x->arg[1 + b];
    if (x->kind != I_WHERE || m->fused[a] < 0) continue;
    const irn *f = &m->c->ir[a];
    in->bop[b] = f->op;
    in->bldt[b] = f->ldt;
    in->src[1 + b] = -1;
    for (int j = 0; j < nin_of(f); j++) in->bsrc[b][j] = m->reg[f->arg[j]];
  }
}

static void fill_insn(const irn *x, ndp__insn *in) {
  static const uint8_t code_of[] = {0, 0, X_UFUNC, X_CAST, X_WHERE, X_BIT, X_NOT};
  memset(in, 0, sizeof *in);
  in->code = code_of[x->kind];
  in->dtype = x->dtype;
  in->ldt = x->ldt;
  in->mixed = x->mixed;
  in->op = x->op;
  in->src[0] = in->src[1] = in->src[2] = -1;
  in->bop[0] = in->bop[1] = -1;
  in->bsrc[0][0] = in->bsrc[0][1] = in->bsrc[1][0] = in->bsrc[1][1] = -1;
}

static int emit_leaves(emitter *m) {
  ndp_expr *e = m->e;
  const comp *c = m->c;
  int nconst = 0;
  for (int i = 0; i <= m->root; i++)
    if (m->last[i] >= 0 && c->ir[i].kind == I_CONST) nconst++;
  e->consts = ndp__aligned_alloc(64, (size_t)(nconst ? nconst : 1) * NDP__EXPR_BLOCK * 8);
  if (!e->consts) return NDP_ENOMEM;
  size_t off = 0;
  for (int i = 0; i <= m->root; i++) {
    if (m->last[i] < 0 || nin_of(&c->ir[i]) != 0) continue;
    ndp__reg *r = &e->regs[m->reg[i]];
    const irn *x = &c->ir[i];
    r->dtype = (ndp_dtype)x->dtype;
    if (x->kind == I_VAR) {
      r->kind = REG_INPUT;
      r->var = x->var;
      e->vars[x->var].used = 1;
    } else {
      size_t isz = ndp_dtype_size(r->dtype);
      r->kind = REG_CONST;
      r->coff = off;
      memcpy(r->cval, x->cval, 8);
      for (int k = 0; k < NDP__EXPR_BLOCK; k++) memcpy(e->consts + off + (size_t)k * isz, x->cval, isz);
      off += NDP__EXPR_BLOCK * 8;
    }
  }
  return 0;
}

static int emit(emitter *m) {
  comp *c = m->c;
  ndp_expr *e = m->e;
  int n = 0;
  for (int i = 0; i <= m->root; i++) n += m->last[i] >= 0 && nin_of(&c->ir[i]) > 0 && m->fused[i] < 0;
  int copy = nin_of(&c->ir[m->root]) == 0; /* the result is a leaf: copy it */
  e->code = ndp__malloc(sizeof *e->code * (size_t)(n + copy));
  if (!e->code) return NDP_ENOMEM;
  for (int i = 0; i <= m->root; i++) {
    if (m->last[i] < 0 || nin_of(&c->ir[i]) == 0 || m->fused[i] >= 0) continue;
    ndp__insn *in = &e->code[e->ninsn++];
    fill_insn(&c->ir[i], in);
    assign(m, i, in);
    fuse_branches(m, i, in);
  }
  if (copy) {
    ndp__insn *in = &e->code[e->ninsn++];
    fill_insn(&c->ir[m->root], in);
    in->code = X_COPY;
    in->src[0] = m->reg[m->root];
    in->dst = -2;
  }
  e->nregs = m->nleaf + m->ntemp + 1;
  e->root = e->nregs - 1;
  for (int k = 0; k < e->ninsn; k++) {
    ndp__insn *in = &e->code[k];
    in->dst = in->dst == -2 ? e->root : in->dst + m->nleaf;
    for (int j = 0; j < 3; j++)
      if (in->src[j] == -2) in->src[j] = e->root;
  }
  e->regs = ndp__calloc((size_t)e->nregs, sizeof *e->regs);
  if (!e->regs) return NDP_ENOMEM;
  for (int k = m->nleaf; k < e->nregs; k++) e->regs[k].kind = REG_TEMP;
  e->regs[e->root].dtype = (ndp_dtype)c->ir[m->root].dtype; /* temps hold any dtype */
  return emit_leaves(m);
}

static int gen_code(comp *c, ndp_expr *e, int root) {
  emitter m = {.c = c, .e = e, .root = root};
  size_t n = (size_t)c->nir;
  m.reg = ndp__malloc(sizeof(int) * n);
  m.last = ndp__malloc(sizeof(int) * n);
  m.freel = ndp__malloc(sizeof(int) * n);
  m.uses = ndp__malloc(sizeof(int) * n);
  m.fused = ndp__malloc(sizeof(int) * n);
  int rc = NDP_ENOMEM;
  if (m.reg && m.last && m.freel && m.uses && m.fused) {
    mark_live(&m);
    rc = emit(&m);
  }
  ndp__free(m.reg);
  ndp__free(m.last);
  ndp__free(m.freel);
  ndp__free(m.uses);
  ndp__free(m.fused);
  if (rc == NDP_ENOMEM) ndp__fail(c->st, rc, "out of memory compiling the expression");
  return rc;
}

/* ---- verification -------------------------------------------------------- */

/* A where branch: a defined register of the result dtype, or a fused
 * ufunc with a kernel, defined operands of its loop dtype and that
 * dtype as result. */
static int verify_branch(const ndp_expr *e, const ndp__insn *in, int b,
                         const unsigned char *defined, const ndp__ktable *kt) {
  int r = in->src[1 + b];
  if (in->bop[b] < 0)
    return r >= 0 && r < e->nregs && defined[r] && defined[r] - 1 == in->dtype;
  if (r != -1 || in->bop[b] >= NDP_NOPS || in->bldt[b] != in->dtype ||
      !kt->fn[in->bop[b]][in->bldt[b]])
    return 0;
  for (int j = 0; j < ndp_op_nin(in->bop[b]); j++) {
    int s = in->bsrc[b][j];
    if (s < 0 || s >= e->nregs || !defined[s] || defined[s] - 1 != in->bldt[b]) return 0;
  }
  return 1;
}

static int verify_insn(const ndp_expr *e, const ndp__insn *in, const unsigned char *defined,
                       const ndp__ktable *kt) {
  int n = in->code == X_WHERE ? 1 : in->code == X_UFUNC || in->code == X_BIT ? 2 : 1;
  if (in->code == X_UFUNC && ndp_op_nin(in->op) == 1) n = 1;
  if (in->dst < 0 || in->dst >= e->nregs || e->regs[in->dst].kind != REG_TEMP) return 0;
  if (in->dtype >= NDP_NTYPES) return 0;
  for (int k = 0; k < n; k++)
    if (in->src[k] < 0 || in->src[k] >= e->nregs || !defined[in->src[k]]) return 0;
  switch (in->code) {
  case X_UFUNC: {
    if (in->op < 0 || in->op >= NDP_NOPS || in->ldt >= NDP_NTYPES) return 0;
    for (int k = 0; k < n; k++) {
      int want = in->mixed == 0 ? in->ldt : (in->mixed == 1) == (k == 0) ? NDP_INT64 : NDP_UINT64;
      if (defined[in->src[k]] - 1 != want) return 0;
    }
    return (in->mixed == 1 ? kt->cmp_qQ[in->op]
            : in->mixed == 2 ? kt->cmp_Qq[in->op] : kt->fn[in->op][in->ldt]) != NULL;
  }
  case X_CAST: return in->ldt < NDP_NTYPES && defined[in->src[0]] - 1 == in->ldt;
  case X_WHERE:
    return defined[in->src[0]] - 1 == NDP_BOOL && verify_branch(e, in, 0, defined, kt) &&
           verify_branch(e, in, 1, defined, kt);
  case X_BIT:
    return !is_float_dt(in->dtype) && in->op >= B_AND && in->op <= B_XOR &&
           defined[in->src[0]] - 1 == in->dtype && defined[in->src[1]] - 1 == in->dtype;
  case X_NOT: return !is_float_dt(in->dtype) && defined[in->src[0]] - 1 == in->dtype;
  case X_COPY: return defined[in->src[0]] - 1 == in->dtype;
  default: return 0;
  }
}

static int verify(const ndp_expr *e, ndp_status *st) {
  unsigned char *defined = ndp__calloc((size_t)e->nregs, 1);
  if (!defined) return ndp__fail(st, NDP_ENOMEM, "out of memory compiling the expression");
  const ndp__ktable *kt = ndp__ktable_for(ndp_get_isa());
  int ok = e->ninsn > 0 && e->code[e->ninsn - 1].dst == e->root;
  for (int r = 0; r < e->nregs; r++) /* 0: not written yet, else dtype + 1 */
    defined[r] = e->regs[r].kind != REG_TEMP ? (unsigned char)(e->regs[r].dtype + 1) : 0;
  for (int k = 0; ok && k < e->ninsn; k++) {
    ok = verify_insn(e, &e->code[k], defined, kt);
    if (ok) defined[e->code[k].dst] = (unsigned char)(e->code[k].dtype + 1);
  }
  ndp__free(defined);
  return ok ? 0 : ndp__fail(st, NDP_ETYPE, "internal error: the compiled program failed "
                                           "verification (no kernel for a type?)");
}

/* ---- entry points ----------------------------------------------------------- */

static int copy_vars(ndp_expr *e, int nvars, const ndp_var *vars, ndp_status *st) {
  e->vars = ndp__calloc((size_t)(nvars ? nvars : 1), sizeof *e->vars);
  if (!e->vars) return ndp__fail(st, NDP_ENOMEM, "out of memory");
  e->nvars = nvars;
  for (int i = 0; i < nvars; i++) {
    const ndp_var *v = &vars[i];
    if (!v->name || !v->name[0])
      return ndp__fail(st, NDP_EINVAL, "variable %d has no name", i);
    if ((unsigned)v->kind > NDP_VAR_WEAK_FLOAT ||
        (v->kind == NDP_VAR_ARRAY && (unsigned)v->dtype >= NDP_NTYPES))
      return ndp__fail(st, NDP_ETYPE, "variable '%.64s' has an invalid dtype or kind", v->name);
    size_t len = strlen(v->name);
    e->vars[i].name = ndp__malloc(len + 1);
    if (!e->vars[i].name) return ndp__fail(st, NDP_ENOMEM, "out of memory");
    memcpy(e->vars[i].name, v->name, len + 1);
    e->vars[i].kind = v->kind;
    e->vars[i].dtype = v->kind == NDP_VAR_WEAK_INT ? NDP_INT64
                       : v->kind == NDP_VAR_WEAK_FLOAT ? NDP_FLOAT64 : v->dtype;
  }
  return 0;
}

/* Types the program and fills e's reduction fields; OUT: *root (IR id). */
static int front(comp *c, ndp_expr *e, int *root) {
  int rc = type_all(c);
  if (rc) return rc;
  const ndp__anode *last = &c->a->n[c->a->s[c->a->ns - 1].root];
  if (last->kind == A_CALL && (e->red = reduction_of(c, last)) != R_NONE &&
      (rc = reduction_args(c, e, last)))
    return rc;
  tv v = c->val[c->a->s[c->a->ns - 1].root];
  if (v.weak) { /* a lone Python scalar: its default dtype */
    if ((rc = mk_cast(c, v, c->ir[v.id].dtype, &v))) return rc;
  }
  *root = v.id;
  e->vdt = (ndp_dtype)c->ir[v.id].dtype;
  e->rdt = e->vdt;
  if (e->red) reduction_types(e->red, e->vdt, &e->adt, &e->rdt);
  return 0;
}

int ndp_expr_compile(const char *src, int nvars, const ndp_var *vars, ndp_expr **out,
                     ndp_status *st) {
  if (!out) return ndp__fail(st, NDP_EINVAL, "expr_compile: out is NULL");
  *out = NULL;
  if (!src || nvars < 0 || (nvars > 0 && !vars))
    return ndp__fail(st, NDP_EINVAL, "expr_compile: invalid arguments");
  ndp__ast a;
  comp c = {.a = &a, .nvars = nvars, .vars = vars, .st = st,
            .kt = ndp__ktable_for(ndp_get_isa())};
  ndp_expr *e = ndp__calloc(1, sizeof *e);
  int rc = e ? 0 : ndp__fail(st, NDP_ENOMEM, "out of memory");
  if (!rc) rc = copy_vars(e, nvars, vars, st);
  if (!rc) rc = ndp__parse(src, &a, st);
  else memset(&a, 0, sizeof a);
  if (!rc && !(c.val = ndp__malloc(sizeof *c.val * (size_t)a.nn)))
    rc = ndp__fail(st, NDP_ENOMEM, "out of memory");
  int root = -1;
  c.evars = e ? e->vars : NULL;
  if (!rc) rc = front(&c, e, &root);
  if (!rc) rc = gen_code(&c, e, root);
  if (!rc) rc = verify(e, st);
  ndp__ast_free(&a);
  ndp__free(c.val);
  ndp__free(c.ir);
  ndp__free(c.hash);
  if (rc) {
    ndp_expr_free(e);
    return rc;
  }
  *out = e;
  ndp__ok(st);
  return 0;
}

int ndp_expr_names(const char *src, ndp_expr_name *names, int cap, int *n, ndp_status *st) {
  if (!src || !n || cap < 0 || (cap > 0 && !names))
    return ndp__fail(st, NDP_EINVAL, "expr_names: invalid arguments");
  *n = 0;
  ndp__ast a;
  int rc = ndp__parse(src, &a, st);
  ndp_expr_name *all = rc ? NULL : ndp__malloc(sizeof *all * (size_t)(a.nn ? a.nn : 1));
  if (!rc && !all) rc = ndp__fail(st, NDP_ENOMEM, "out of memory");
  int cnt = 0;
  for (int s = 0; !rc && s < a.ns; s++) {
    for (int i = a.s[s].first; i <= a.s[s].root; i++) {
      const ndp__anode *x = &a.n[i];
      if (x->kind != A_NAME || bool_literal(src, x->pos, x->len) >= 0 ||
          bound_before(&a, s, x->pos, x->len) >= 0)
        continue;
      int seen = -1; /* quadratic in distinct names, which are few */
      for (int j = 0; j < cnt && seen < 0; j++)
        if (all[j].len == x->len && memcmp(src + all[j].pos, src + x->pos, (size_t)x->len) == 0)
          seen = j;
      if (seen < 0)
        all[cnt++] = (ndp_expr_name){x->pos, x->len, float_constant(src, x->pos, x->len) >= 0};
      else if (x->pos < all[seen].pos)
        all[seen].pos = x->pos;
    }
  }
  for (int k = 1; !rc && k < cnt; k++) /* source order of first use */
    for (int j = k; j > 0 && all[j - 1].pos > all[j].pos; j--) {
      ndp_expr_name t = all[j];
      all[j] = all[j - 1];
      all[j - 1] = t;
    }
  if (!rc) {
    if (cap) memcpy(names, all, sizeof *all * (size_t)(cnt < cap ? cnt : cap));
    *n = cnt;
    ndp__ok(st);
  }
  ndp__free(all);
  ndp__ast_free(&a);
  return rc;
}

void ndp_expr_free(ndp_expr *e) {
  if (!e) return;
  if (e->vars)
    for (int i = 0; i < e->nvars; i++) ndp__free(e->vars[i].name);
  ndp__free(e->vars);
  ndp__free(e->regs);
  ndp__free(e->code);
  ndp__free(e->consts);
  ndp__free(e);
}

ndp_dtype ndp_expr_dtype(const ndp_expr *e) { return e ? e->rdt : NDP_NTYPES; }

int ndp_expr_reduces(const ndp_expr *e) { return e && e->red != R_NONE; }

/* ---- explain ------------------------------------------------------------------ */

typedef struct sbuf {
  char *buf;
  size_t cap, len;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) NDP__PRINTF(2, 3);
static void put(sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *at = b->len < b->cap ? b->buf + b->len : NULL;
  int n = vsnprintf(at, at ? b->cap - b->len : 0, fmt, ap);
  va_end(ap);
  if (n > 0) b->len += (size_t)n;
}

static void put_reg(sbuf *b, const ndp_expr *e, int r) {
  const ndp__reg *g = &e->regs[r];
  if (g->kind == REG_INPUT) {
    put(b, "%s", e->vars[g->var].name);
  } else if (g->kind == REG_CONST) {
    _Alignas(8) unsigned char v[8];
    memcpy(v, g->cval, 8);
    double d;
    ndp__cast(g->dtype, NDP_FLOAT64)(v, &d, 1);
    if (is_float_dt(g->dtype)) put(b, "%.17g:%s", d, ndp_dtype_name(g->dtype));
    else put(b, "%lld:%s", (long long)d, ndp_dtype_name(g->dtype));
  } else {
    put(b, "r%d", r);
  }
}

static void explain_insn(sbuf *b, const ndp_expr *e, const ndp__insn *in) {
  static const char *const bits[] = {"bitwise_and", "bitwise_or", "bitwise_xor"};
  const char *name = in->code == X_UFUNC ? ndp_op_name(in->op) : in->code == X_CAST ? "cast"
                     : in->code == X_WHERE ? "where" : in->code == X_BIT ? bits[in->op]
                     : in->code == X_NOT ? "invert" : "copy";
  int n = in->code == X_WHERE ? 3 : (in->code == X_BIT || (in->code == X_UFUNC && ndp_op_nin(in->op) == 2)) ? 2 : 1;
  put(b, "  r%d = %s.%s(", in->dst, name,
      ndp_dtype_name(in->code == X_UFUNC ? (ndp_dtype)in->ldt : (ndp_dtype)in->dtype));
  for (int k = 0; k < n; k++) {
    if (k) put(b, ", ");
    if (in->code == X_WHERE && k > 0 && in->bop[k - 1] >= 0) { /* fused branch */
      int br = k - 1;
      put(b, "%s.%s(", ndp_op_name(in->bop[br]), ndp_dtype_name((ndp_dtype)in->bldt[br]));
      for (int j = 0; j < ndp_op_nin(in->bop[br]); j++) {
        if (j) put(b, ", ");
        put_reg(b, e, in->bsrc[br][j]);
      }
      put(b, ") on its lanes");
      continue;
    }
    put_reg(b, e, in->src[k]);
  }
  put(b, ")\n");
}

size_t ndp_expr_explain(const ndp_expr *e, char *buf, size_t cap) {
  sbuf b = {buf, cap, 0};
  if (cap) buf[0] = '\0';
  if (!e) return 0;
  int ntemp = 0;
  for (int r = 0; r < e->nregs; r++) ntemp += e->regs[r].kind == REG_TEMP;
  put(&b, "program: %d instructions, %d registers (%d block temporaries), value %s\n",
      e->ninsn, e->nregs, ntemp, ndp_dtype_name(e->vdt));
  for (int k = 0; k < e->ninsn; k++) explain_insn(&b, e, &e->code[k]);
  if (e->red && e->has_axis)
    put(&b, "  result = %s(r%d, axis=%d) -> %s\n", red_names[e->red], e->root, e->axis,
        ndp_dtype_name(e->rdt));
  else if (e->red)
    put(&b, "  result = %s(r%d) -> %s\n", red_names[e->red], e->root, ndp_dtype_name(e->rdt));
  else
    put(&b, "  result = r%d\n", e->root);
  if (cap && b.len >= cap) buf[cap - 1] = '\0';
  return b.len;
}
