/*
 * kernel/compile.c - type inference and code generation for kernels.
 *
 * Types: bool, int (int64), float32, float64, each strong or weak (a
 * literal or module constant, which adapts to the other operand the way
 * NumPy treats Python scalars: float32 * 2.0 stays float32). A local's
 * type is the join of every value assigned to it; the inference walks the
 * function repeatedly until no local (and no inferred output element
 * type) changes, then one more walk emits code with the final types.
 *
 * Code generation is SPMD with masks (see kernel_internal.h): register 0
 * is the execution mask M, register 1 the lanes that returned.
 *   if c: A else: B   Ms = M; M = Ms & c; [A if any]; Mt = M;
 *                     M = Ms & ~c; [B if any]; M = Mt | M
 *   while c: A        Me = M; top: M &= c (per `and` operand); exit if none;
 *                     compact; A; M |= continued; goto top (polls);
 *                     exit: uncompact; M = Me & ~R
 *   for over a range whose bounds are the same in every lane (constants,
 *   x.shape[k], arithmetic on those) with no break or return inside: lane 0
 *   runs the loop control and M is left alone.
 *   Where M holds every lane that has not returned (not inside a branch or
 *   a while, no break/continue before), locals are written unmasked, by the
 *   instruction that computes the value.
 *   break / continue / return clear M (continue and return remember the
 *   lanes); a side whose mask is empty is jumped over, so a coherent block
 *   runs one side only. `and`, `or` and `x if c else y` evaluate a side
 *   under a narrowed mask when it holds an operation that can fail
 *   (division, indexing, int()), so Python's short-circuit is kept.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/kernel_internal.h"

enum { TY_UNSET = 0, TY_BOOL, TY_INT, TY_F32, TY_F64 };
typedef struct ty {
  int t, weak;
} ty;

typedef struct val {
  int reg;
  ty t;
  int isconst;
  int64_t ci;
  double cd;
  int uni;      /* the same in every lane (a constant, a core extent, or
                   arithmetic on those) */
} val;

enum { SYM_LOCAL, SYM_ARRAY, SYM_CONST };
typedef struct sym {
  const char *name;
  int kind;
  ty t;
  int reg;
  int arg;      /* parameter index, or -1 */
  ndp_kernel_const c;
} sym;

#define MAXSYMS 1024
#define CONST_BASE (1 << 24)

typedef struct cc {
  ndp_kernel *k;
  ndp_status *st;
  int err;
  int emit;
  int changed;
  sym syms[MAXSYMS];
  int nsyms;
  ndp__kins *code;
  int ncode, capcode;
  ndp__kconst *consts;
  int nconsts, capconsts;
  int tmp, maxtmp, first_tmp;
  int loops;          /* nesting of loops */
  int cont[NDP__KMAXDEPTH + 1]; /* continue-mask register per loop */
  ty ret;
  int gu;             /* has output parameters */
  const char *fname;
  ty out_t[NDP__KMAXARGS];
  int single_use;     /* the value being assigned has one target */
  int full;           /* M holds every lane that has not returned (no branch,
                         while, break or continue narrowed it): a local may
                         be written unmasked */
  int exits;          /* break/continue statements compiled so far */
  int mask;           /* mask register of assignments (0: M; else an if-converted side) */
} cc;

static const ty T_BOOL = {TY_BOOL, 0}, T_INT = {TY_INT, 0}, T_F64 = {TY_F64, 0};

static int isflt(int t) { return t == TY_F32 || t == TY_F64; }
static int storage(ty t) { return t.t == TY_F64 ? ST_D : t.t == TY_F32 ? ST_F : ST_I; }
static const char *tyname(ty t) {
  static const char *n[] = {"unset", "bool", "int", "float32", "float"};
  return n[t.t];
}

static int err(cc *C, int code, int line, const char *fmt, ...) NDP__PRINTF(4, 5);
static int err(cc *C, int code, int line, const char *fmt, ...) {
  if (C->err) return C->err;
  char m[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  C->err = ndp__kfail(C->st, code, line, "%s", m);
  return C->err;
}

static ty promote(ty a, ty b) {
  ty r = {TY_INT, a.weak && b.weak};
  if (!isflt(a.t) && !isflt(b.t)) return r;
  int s64 = (a.t == TY_F64 && !a.weak) || (b.t == TY_F64 && !b.weak);
  int s32 = (a.t == TY_F32 && !a.weak) || (b.t == TY_F32 && !b.weak);
  if (s64) r.t = TY_F64;
  else if (s32) {
    ty o = (a.t == TY_F32 && !a.weak) ? b : a;
    r.t = (o.t == TY_INT && !o.weak) ? TY_F64 : TY_F32;
  } else r.t = TY_F64;
  return r;
}

static ty join(ty a, ty b) {
  if (!a.t) return b;
  if (!b.t) return a;
  if (a.t == TY_BOOL && b.t == TY_BOOL) return (ty){TY_BOOL, a.weak && b.weak};
  return promote(a, b);
}

static ty dtype_ty(ndp_dtype d) {
  if (d == NDP_BOOL) return T_BOOL;
  if (d == NDP_FLOAT32) return (ty){TY_F32, 0};
  if (d == NDP_FLOAT64) return T_F64;
  return T_INT;
}
static ndp_dtype ty_dtype(ty t) {
  switch (t.t) {
  case TY_BOOL: return NDP_BOOL;
  case TY_F32: return NDP_FLOAT32;
  case TY_F64: return NDP_FLOAT64;
  default: return NDP_INT64;
  }
}

/* ---- emission ------------------------------------------------------------ */

static int emit(cc *C, int op, int st, int d, int a, int b, int c, int line) {
  if (!C->emit || C->err) return -1;
  if (C->ncode == C->capcode) {
    int nc = C->capcode ? C->capcode * 2 : 256;
    if (nc > 4 * NDP__KMAXNODES) {
      err(C, NDP_ESYNTAX, line, "kernel too long");
      return -1;
    }
    ndp__kins *v = ndp__malloc(sizeof *v * (size_t)nc);
    if (!v) {
      C->err = ndp__fail(C->st, NDP_ENOMEM, "kernel: out of memory");
      return -1;
    }
    if (C->code) memcpy(v, C->code, sizeof *v * (size_t)C->ncode);
    ndp__free(C->code);
    C->code = v;
    C->capcode = nc;
  }
  ndp__kins *in = &C->code[C->ncode];
  memset(in, 0, sizeof *in);
  in->op = (uint8_t)op;
  in->st = (uint8_t)st;
  in->d = d;
  in->a = a;
  in->b = b;
  in->c = c;
  in->line = line;
  return C->ncode++;
}

/* Fusions with the instruction just emitted, whose result is a temporary
 * read only by the instruction being emitted (expression temporaries are
 * single-use): two roundings as before, one pass over the block fewer. */
static int last_is(cc *C, int op, int st, int reg) {
  if (!C->emit || C->err || C->ncode == 0 || reg < C->first_tmp || reg >= CONST_BASE) return 0;
  const ndp__kins *l = &C->code[C->ncode - 1];
  return l->op == op && l->st == st && l->d == reg && l->a != reg && l->b != reg;
}

/* d = a + b / a - b, fusing a product just computed into one of them */
static int fuse_addsub(cc *C, int op, int st, int d, int a, int b) {
  if (st == ST_I) return 0;
  ndp__kins *l = C->emit && C->ncode ? &C->code[C->ncode - 1] : NULL;
  if (last_is(C, K_MUL, st, b) && a != b) { /* a + x*y, a - x*y */
    l->op = op == K_ADD ? K_MULADD : K_RMULSUB;
    l->c = a;
    l->d = d;
    return 1;
  }
  if (last_is(C, K_MUL, st, a) && a != b) { /* x*y + b, x*y - b */
    l->op = op == K_ADD ? K_MULADD : K_MULSUB;
    l->c = b;
    l->d = d;
    return 1;
  }
  return 0;
}

/* d = a & b, fusing a comparison just computed */
static int fuse_band(cc *C, int d, int a, int b) {
  ndp__kins *l = C->emit && C->ncode ? &C->code[C->ncode - 1] : NULL;
  int other;
  if (!l || l->op < K_EQ || l->op > K_GE) return 0;
  if (last_is(C, l->op, l->st, b) && a != b) other = a;
  else if (last_is(C, l->op, l->st, a) && a != b) other = b;
  else return 0;
  l->aux = (int16_t)(l->op - K_EQ);
  l->op = K_CMPAND;
  l->c = other;
  l->d = d;
  return 1;
}

static int newtmp(cc *C) {
  int r = C->tmp++;
  if (C->tmp > C->maxtmp) C->maxtmp = C->tmp;
  if (C->tmp >= NDP__KMAXREGS - 64 && !C->err)
    err(C, NDP_ESYNTAX, 0, "kernel needs too many registers");
  return r;
}

static int constreg(cc *C, int st, int64_t bits) {
  if (!C->emit) return -1;
  for (int i = 0; i < C->nconsts; i++)
    if (C->consts[i].bits == bits && C->consts[i].st == st) return C->consts[i].reg;
  if (C->nconsts == C->capconsts) {
    int nc = C->capconsts ? C->capconsts * 2 : 32;
    ndp__kconst *v = ndp__malloc(sizeof *v * (size_t)nc);
    if (!v) {
      C->err = ndp__fail(C->st, NDP_ENOMEM, "kernel: out of memory");
      return -1;
    }
    if (C->consts) memcpy(v, C->consts, sizeof *v * (size_t)C->nconsts);
    ndp__free(C->consts);
    C->consts = v;
    C->capconsts = nc;
  }
  C->consts[C->nconsts].reg = CONST_BASE + C->nconsts;
  C->consts[C->nconsts].bits = bits;
  C->consts[C->nconsts].st = st;
  if (C->nconsts > 1000) err(C, NDP_ESYNTAX, 0, "kernel has too many constants");
  return CONST_BASE + C->nconsts++;
}

/* A constant register: int64 for I, double bits for D, float bits in the
 * low half for F (the driver fills every lane). */
static val mkconst(cc *C, ty t, int64_t ci, double cd) {
  val v = {-1, t, 1, ci, cd, 1};
  int64_t bits;
  if (t.t == TY_F64) memcpy(&bits, &cd, 8);
  else if (t.t == TY_F32) {
    float f = (float)cd;
    uint32_t u;
    memcpy(&u, &f, 4);
    bits = (int64_t)u;
  } else bits = ci;
  v.reg = constreg(C, storage(t), bits);
  return v;
}

/* Converts v to type t (same storage or a widening). */
static val cvt(cc *C, val v, ty t, int line) {
  int s = storage(v.t), d = storage(t);
  if (s == d) {
    val r = v;
    r.t = t;
    return r;
  }
  if (v.isconst) {
    double x = isflt(v.t.t) ? v.cd : (double)v.ci;
    return mkconst(C, t, (int64_t)x, x);
  }
  int op = s == ST_I ? (d == ST_D ? K_I2D : K_I2F) : s == ST_F ? K_F2D : K_D2F;
  if (s != ST_I && d == ST_I) {
    err(C, NDP_ETYPE, line, "cannot convert float to int implicitly");
    return v;
  }
  int r = newtmp(C);
  emit(C, op, d, r, v.reg, -1, -1, line);
  return (val){r, t, 0, 0, 0, v.uni};
}

static val truth(cc *C, val v, int line) {
  if (v.t.t == TY_BOOL) return v;
  if (v.isconst) {
    int b = isflt(v.t.t) ? v.cd != 0 : v.ci != 0;
    return mkconst(C, T_BOOL, b, b);
  }
  int r = newtmp(C);
  emit(C, K_TRUTH, storage(v.t), r, v.reg, -1, -1, line);
  return (val){r, T_BOOL, 0, 0, 0, 0};
}

static void patch(cc *C, int at) {
  if (at >= 0) C->code[at].imm = C->ncode;
}

/* ---- symbols ------------------------------------------------------------- */

static sym *find(cc *C, const char *name) {
  for (int i = 0; i < C->nsyms; i++)
    if (strcmp(C->syms[i].name, name) == 0) return &C->syms[i];
  return NULL;
}

static sym *addsym(cc *C, const char *name, int kind, int line) {
  if (C->nsyms == MAXSYMS) {
    err(C, NDP_ESYNTAX, line, "too many names in the kernel");
    return NULL;
  }
  sym *s = &C->syms[C->nsyms++];
  memset(s, 0, sizeof *s);
  s->name = name;
  s->kind = kind;
  s->arg = -1;
  s->reg = -1;
  return s;
}

/* Collects every name assigned in the body: those are locals. */
static void collect_target(cc *C, ndp__knode *t) {
  if (!t || C->err) return;
  if (t->kind == N_NAME) {
    sym *s = find(C, t->name);
    if (!s) addsym(C, t->name, SYM_LOCAL, t->line);
    else if (s->kind == SYM_CONST) { /* a local shadows a global */
      s->kind = SYM_LOCAL;
      s->t = (ty){0, 0};
    }
  } else if (t->kind == N_TUPLE) {
    for (int i = 0; i < t->n; i++) collect_target(C, t->list[i]);
  }
}
static void collect(cc *C, ndp__knode **body, int n) {
  for (int i = 0; i < n && !C->err; i++) {
    ndp__knode *s = body[i];
    switch (s->kind) {
    case S_ASSIGN:
      for (int j = 0; j < s->n; j++) collect_target(C, s->list[j]);
      break;
    case S_AUG: collect_target(C, s->a); break;
    case S_FOR: collect_target(C, s->a); collect(C, s->list, s->n); break;
    case S_WHILE: collect(C, s->list, s->n); break;
    case S_IF:
      collect(C, s->list, s->n);
      collect(C, s->list2, s->n2);
      break;
    default: break;
    }
  }
}

/* 1 if evaluating n can raise (so it must run under its own mask). */
static int guarded(const ndp__knode *n) {
  if (!n) return 0;
  switch (n->kind) {
  case N_BINOP:
    if (n->op == O_FLOORDIV || n->op == O_MOD || n->op == O_POW) return 1;
    return guarded(n->a) || guarded(n->b);
  case N_SUBSCR: return 1;
  case N_CALL: {
    if (n->a && n->a->kind == N_NAME &&
        (strcmp(n->a->name, "int") == 0 || strcmp(n->a->name, "round") == 0))
      return 1;
    if (n->a && n->a->kind == N_ATTR) {
      const char *f = n->a->name;
      if (!strcmp(f, "floor") || !strcmp(f, "ceil") || !strcmp(f, "trunc") ||
          !strcmp(f, "floor_divide") || !strcmp(f, "remainder") || !strcmp(f, "mod") ||
          !strcmp(f, "power") || !strcmp(f, "pow"))
        return 1;
    }
    for (int i = 0; i < n->n; i++)
      if (guarded(n->list[i])) return 1;
    return 0;
  }
  default:
    if (guarded(n->a) || guarded(n->b) || guarded(n->c)) return 1;
    for (int i = 0; i < n->n; i++)
      if (guarded(n->list[i])) return 1;
    return 0;
  }
}

/* ---- expressions --------------------------------------------------------- */

static val cexpr(cc *C, ndp__knode *n);

static ty type_of(cc *C, ndp__knode *n) {
  int e = C->emit, tmp = C->tmp;
  C->emit = 0;
  val v = cexpr(C, n);
  C->emit = e;
  C->tmp = tmp;
  return v.t;
}

static val bad(void) { return (val){-1, T_INT, 0, 0, 0, 0}; }

static val binop(cc *C, int op, val a, val b, int line) {
  static const char *opn[] = {"+", "-", "*", "/", "//", "%", "**", "&", "|", "^"};
  if (op == O_BAND || op == O_BOR || op == O_BXOR) {
    if (isflt(a.t.t) || isflt(b.t.t)) {
      err(C, NDP_ETYPE, line, "unsupported operand types for %s: '%s' and '%s'", opn[op],
          tyname(a.t), tyname(b.t));
      return bad();
    }
    ty t = (a.t.t == TY_BOOL && b.t.t == TY_BOOL) ? (ty){TY_BOOL, a.t.weak && b.t.weak}
                                                   : promote(a.t, b.t);
    int r = newtmp(C);
    int kop = op == O_BAND ? K_BAND : op == O_BOR ? K_BOR : K_BXOR;
    if (!(kop == K_BAND && fuse_band(C, r, a.reg, b.reg))) emit(C, kop, ST_I, r, a.reg, b.reg, -1, line);
    return (val){r, t, 0, 0, 0, 0};
  }
  ty t = promote(a.t, b.t);
  if (op == O_DIV && !isflt(t.t)) t.t = TY_F64;
  if (op == O_POW && !isflt(t.t) && b.isconst && b.ci < 0) t.t = TY_F64;
  /* x ** 2 is x * x (the same correctly rounded result) */
  if (op == O_POW && b.isconst && !isflt(b.t.t) && b.ci == 2) {
    val x = cvt(C, a, t, line);
    int r = newtmp(C);
    emit(C, K_MUL, storage(t), r, x.reg, x.reg, -1, line);
    return (val){r, t, 0, 0, 0, 0};
  }
  val x = cvt(C, a, t, line), y = cvt(C, b, t, line);
  int r = newtmp(C), s = storage(t);
  int uni = (a.uni || a.isconst) && (b.uni || b.isconst);
  switch (op) {
  case O_ADD:
    if (!fuse_addsub(C, K_ADD, s, r, x.reg, y.reg)) emit(C, K_ADD, s, r, x.reg, y.reg, -1, line);
    break;
  case O_SUB:
    if (!fuse_addsub(C, K_SUB, s, r, x.reg, y.reg)) emit(C, K_SUB, s, r, x.reg, y.reg, -1, line);
    break;
  case O_MUL: emit(C, K_MUL, s, r, x.reg, y.reg, -1, line); break;
  case O_DIV: emit(C, K_DIV, s, r, x.reg, y.reg, -1, line); break;
  case O_FLOORDIV: emit(C, K_FLOORDIV, s, r, x.reg, y.reg, 0, line); break;
  case O_MOD: emit(C, K_MOD, s, r, x.reg, y.reg, 0, line); break;
  case O_POW:
    if (s == ST_I) emit(C, K_POW, s, r, x.reg, y.reg, 0, line);
    else {
      int i = emit(C, K_CALL2, s, r, x.reg, y.reg, -1, line);
      if (i >= 0) C->code[i].aux = NDP_OP_POWER;
    }
    break;
  default: err(C, NDP_ESYNTAX, line, "unsupported operator"); break;
  }
  return (val){r, t, 0, 0, 0, uni};
}

static val compare(cc *C, int op, val a, val b, int line) {
  ty t = promote(a.t, b.t);
  if (a.t.t == TY_BOOL && b.t.t == TY_BOOL) t = T_INT;
  val x = cvt(C, a, t, line), y = cvt(C, b, t, line);
  static const int kop[] = {K_EQ, K_NE, K_LT, K_LE, K_GT, K_GE};
  int r = newtmp(C);
  emit(C, kop[op - O_EQ], storage(t), r, x.reg, y.reg, -1, line);
  return (val){r, T_BOOL, 0, 0, 0, 0};
}

/* Narrows M to M & cond (saving M in *save) and jumps over the code that
 * follows when no lane is left; end_masked restores M. */
static int begin_masked(cc *C, int cond, int neg, int *save, int line) {
  *save = newtmp(C);
  emit(C, K_MOV, ST_I, *save, 0, -1, -1, line);
  emit(C, neg ? K_ANDNOT : K_BAND, ST_I, 0, *save, cond, -1, line);
  return emit(C, K_JZ, ST_I, -1, 0, -1, -1, line);
}
static void end_masked(cc *C, int save, int jz, int line) {
  patch(C, jz);
  emit(C, K_MOV, ST_I, 0, save, -1, -1, line);
}

static val boolop(cc *C, ndp__knode *n) {
  ty t = {0, 0};
  int allbool = 1;
  for (int i = 0; i < n->n; i++) {
    ty ti = type_of(C, n->list[i]);
    allbool &= ti.t == TY_BOOL;
    t = join(t, ti);
  }
  if (C->err) return bad();
  int anyg = 0;
  for (int i = 1; i < n->n; i++) anyg |= guarded(n->list[i]);
  if (allbool && !anyg) {
    val acc = cexpr(C, n->list[0]);
    for (int i = 1; i < n->n && !C->err; i++) {
      val vi = cexpr(C, n->list[i]);
      int r = newtmp(C);
      if (!(n->op == O_AND && fuse_band(C, r, acc.reg, vi.reg)))
        emit(C, n->op == O_AND ? K_BAND : K_BOR, ST_I, r, acc.reg, vi.reg, -1, n->line);
      acc = (val){r, t, 0, 0, 0, 0};
    }
    return acc;
  }
  int r = newtmp(C);
  val v0 = cvt(C, cexpr(C, n->list[0]), t, n->line);
  emit(C, K_MOV, storage(t), r, v0.reg, -1, -1, n->line);
  for (int i = 1; i < n->n && !C->err; i++) {
    val cur = {r, t, 0, 0, 0, 0};
    val tr = truth(C, cur, n->line);
    int line = n->list[i]->line;
    if (guarded(n->list[i])) {
      int save, jz = begin_masked(C, tr.reg, n->op == O_OR, &save, line);
      val vi = cvt(C, cexpr(C, n->list[i]), t, line);
      emit(C, K_MOVM, storage(t), r, vi.reg, -1, 0, line);
      end_masked(C, save, jz, line);
    } else {
      val vi = cvt(C, cexpr(C, n->list[i]), t, line);
      if (n->op == O_AND) emit(C, K_SEL, storage(t), r, vi.reg, r, tr.reg, line);
      else emit(C, K_SEL, storage(t), r, r, vi.reg, tr.reg, line);
    }
  }
  (void)allbool;
  return (val){r, t, 0, 0, 0, 0};
}

static val ifexp(cc *C, ndp__knode *n) {
  ty t = join(type_of(C, n->b), type_of(C, n->c));
  if (t.t == TY_BOOL && (type_of(C, n->b).t != TY_BOOL || type_of(C, n->c).t != TY_BOOL))
    t = T_INT;
  val c = truth(C, cexpr(C, n->a), n->line);
  int r = newtmp(C), s = storage(t);
  if (guarded(n->b) || guarded(n->c)) {
    int save, jz = begin_masked(C, c.reg, 0, &save, n->line);
    val vb = cvt(C, cexpr(C, n->b), t, n->line);
    emit(C, K_MOVM, s, r, vb.reg, -1, 0, n->line);
    patch(C, jz);
    emit(C, K_ANDNOT, ST_I, 0, save, c.reg, -1, n->line);
    jz = emit(C, K_JZ, ST_I, -1, 0, -1, -1, n->line);
    val vc = cvt(C, cexpr(C, n->c), t, n->line);
    emit(C, K_MOVM, s, r, vc.reg, -1, 0, n->line);
    end_masked(C, save, jz, n->line);
  } else {
    val vb = cvt(C, cexpr(C, n->b), t, n->line);
    val vc = cvt(C, cexpr(C, n->c), t, n->line);
    emit(C, K_SEL, s, r, vb.reg, vc.reg, c.reg, n->line);
  }
  return (val){r, t, 0, 0, 0, 0};
}

static sym *array_arg(cc *C, ndp__knode *n, const char *what) {
  if (n->kind != N_NAME) {
    err(C, NDP_ETYPE, n->line, "%s needs an array argument", what);
    return NULL;
  }
  sym *s = find(C, n->name);
  if (!s || s->kind != SYM_ARRAY) {
    err(C, NDP_ETYPE, n->line, "'%s' is not an array argument (%s)", n->name, what);
    return NULL;
  }
  return s;
}

static val dim(cc *C, sym *s, int64_t axis, int line) {
  int nd = C->k->args[s->arg].core_ndim;
  if (axis < 0) axis += nd;
  if (axis < 0 || axis >= nd) {
    err(C, NDP_ETYPE, line, "axis out of range for '%s', which has %d core dimension%s", s->name,
        nd, nd == 1 ? "" : "s");
    return bad();
  }
  int r = newtmp(C);
  int i = emit(C, K_DIM, ST_I, r, -1, -1, -1, line);
  if (i >= 0) {
    C->code[i].aux = (int16_t)s->arg;
    C->code[i].imm = axis;
  }
  return (val){r, T_INT, 0, 0, 0, 1};
}

static ty elem_ty(cc *C, sym *s) {
  const ndp_kernel_arg *a = &C->k->args[s->arg];
  if (a->output && a->dtype == NDP_NTYPES) return C->out_t[s->arg].t ? C->out_t[s->arg] : T_F64;
  return dtype_ty(a->dtype);
}

/* indices of x[i] / x[i, j] into registers; returns the array symbol */
static sym *indices(cc *C, ndp__knode *n, int *i0, int *i1) {
  sym *s = array_arg(C, n->a, "indexing");
  if (!s) return NULL;
  int nd = C->k->args[s->arg].core_ndim;
  if (n->n != nd) {
    err(C, NDP_ETYPE, n->line, "'%s' has %d core dimension%s: index it with %d integer%s", s->name,
        nd, nd == 1 ? "" : "s", nd, nd == 1 ? "" : "s");
    return NULL;
  }
  int r[2] = {-1, -1};
  for (int k = 0; k < nd; k++) {
    val v = cexpr(C, n->list[k]);
    if (isflt(v.t.t)) {
      err(C, NDP_ETYPE, n->line, "indices must be integers, not %s", tyname(v.t));
      return NULL;
    }
    r[k] = v.reg;
  }
  *i0 = r[0];
  *i1 = r[1];
  return s;
}

static val subscript(cc *C, ndp__knode *n) {
  if (n->a->kind == N_ATTR && strcmp(n->a->name, "shape") == 0) {
    sym *s = array_arg(C, n->a->a, "'.shape'");
    if (!s) return bad();
    if (n->n != 1 || n->list[0]->kind != N_INT) {
      err(C, NDP_ETYPE, n->line, "'.shape' must be indexed with an integer literal");
      return bad();
    }
    return dim(C, s, n->list[0]->ival, n->line);
  }
  int i0, i1;
  sym *s = indices(C, n, &i0, &i1);
  if (!s) return bad();
  ty t = elem_ty(C, s);
  int r = newtmp(C);
  int i = emit(C, K_LOAD, storage(t), r, i0, i1, 0, n->line);
  if (i >= 0) C->code[i].aux = (int16_t)s->arg;
  return (val){r, t, 0, 0, 0, 0};
}

/* math / numpy functions */
enum { F_UN, F_BIN, F_TOINT, F_PRED, F_MINMAX, F_ABS, F_COPYSIGN, F_FMOD, F_WHERE, F_LOG,
       F_MUL, F_PYMOD, F_PYFDIV, F_DIV, F_NEG, F_SQUARE, F_ISNAN, F_ISINF, F_ISFIN };
typedef struct fdesc {
  const char *name;
  int mods; /* 1 math, 2 numpy */
  int kind, op, nargs;
  double k;
} fdesc;

static const fdesc funcs[] = {
    {"exp", 3, F_UN, NDP_OP_EXP, 1, 0},        {"expm1", 3, F_UN, NDP_OP_EXPM1, 1, 0},
    {"exp2", 3, F_UN, NDP_OP_EXP2, 1, 0},      {"log", 3, F_LOG, NDP_OP_LOG, 1, 0},
    {"log1p", 3, F_UN, NDP_OP_LOG1P, 1, 0},    {"log2", 3, F_UN, NDP_OP_LOG2, 1, 0},
    {"log10", 3, F_UN, NDP_OP_LOG10, 1, 0},    {"sqrt", 3, F_UN, NDP_OP_SQRT, 1, 0},
    {"cbrt", 3, F_UN, NDP_OP_CBRT, 1, 0},      {"sin", 3, F_UN, NDP_OP_SIN, 1, 0},
    {"cos", 3, F_UN, NDP_OP_COS, 1, 0},        {"tan", 3, F_UN, NDP_OP_TAN, 1, 0},
    {"asin", 1, F_UN, NDP_OP_ARCSIN, 1, 0},    {"acos", 1, F_UN, NDP_OP_ARCCOS, 1, 0},
    {"atan", 1, F_UN, NDP_OP_ARCTAN, 1, 0},    {"arcsin", 2, F_UN, NDP_OP_ARCSIN, 1, 0},
    {"arccos", 2, F_UN, NDP_OP_ARCCOS, 1, 0},  {"arctan", 2, F_UN, NDP_OP_ARCTAN, 1, 0},
    {"sinh", 3, F_UN, NDP_OP_SINH, 1, 0},      {"cosh", 3, F_UN, NDP_OP_COSH, 1, 0},
    {"tanh", 3, F_UN, NDP_OP_TANH, 1, 0},      {"asinh", 1, F_UN, NDP_OP_ARCSINH, 1, 0},
    {"acosh", 1, F_UN, NDP_OP_ARCCOSH, 1, 0},  {"atanh", 1, F_UN, NDP_OP_ARCTANH, 1, 0},
    {"arcsinh", 2, F_UN, NDP_OP_ARCSINH, 1, 0}, {"arccosh", 2, F_UN, NDP_OP_ARCCOSH, 1, 0},
    {"arctanh", 2, F_UN, NDP_OP_ARCTANH, 1, 0}, {"atan2", 1, F_BIN, NDP_OP_ARCTAN2, 2, 0},
    {"arctan2", 2, F_BIN, NDP_OP_ARCTAN2, 2, 0}, {"hypot", 3, F_BIN, NDP_OP_HYPOT, 2, 0},
    {"pow", 1, F_BIN, NDP_OP_POWER, 2, 0},     {"power", 2, F_BIN, NDP_OP_POWER, 2, 0},
    {"fabs", 3, F_ABS, 1, 1, 0},               {"abs", 2, F_ABS, 0, 1, 0},
    {"absolute", 2, F_ABS, 0, 1, 0},           {"floor", 1, F_TOINT, NDP_OP_FLOOR, 1, 0},
    {"ceil", 1, F_TOINT, NDP_OP_CEIL, 1, 0},   {"trunc", 1, F_TOINT, NDP_OP_TRUNC, 1, 0},
    {"floor", 2, F_UN, NDP_OP_FLOOR, 1, 0},    {"ceil", 2, F_UN, NDP_OP_CEIL, 1, 0},
    {"trunc", 2, F_UN, NDP_OP_TRUNC, 1, 0},    {"rint", 2, F_UN, NDP_OP_RINT, 1, 0},
    {"round", 2, F_UN, NDP_OP_RINT, 1, 0},     {"sign", 2, F_UN, NDP_OP_SIGN, 1, 0},
    {"isnan", 3, F_ISNAN, 0, 1, 0},            {"isinf", 3, F_ISINF, 0, 1, 0},
    {"isfinite", 3, F_ISFIN, 0, 1, 0},         {"minimum", 2, F_MINMAX, NDP_OP_MINIMUM, 2, 0},
    {"maximum", 2, F_MINMAX, NDP_OP_MAXIMUM, 2, 0}, {"fmin", 2, F_MINMAX, NDP_OP_FMIN, 2, 0},
    {"fmax", 2, F_MINMAX, NDP_OP_FMAX, 2, 0},  {"copysign", 3, F_COPYSIGN, 0, 2, 0},
    {"fmod", 3, F_FMOD, 0, 2, 0},              {"where", 2, F_WHERE, 0, 3, 0},
    {"degrees", 3, F_MUL, 0, 1, 180.0 / 3.141592653589793},
    {"radians", 3, F_MUL, 0, 1, 3.141592653589793 / 180.0},
    {"rad2deg", 2, F_MUL, 0, 1, 180.0 / 3.141592653589793},
    {"deg2rad", 2, F_MUL, 0, 1, 3.141592653589793 / 180.0},
    {"remainder", 2, F_PYMOD, 0, 2, 0},        {"mod", 2, F_PYMOD, 0, 2, 0},
    {"floor_divide", 2, F_PYFDIV, 0, 2, 0},    {"divide", 2, F_DIV, 0, 2, 0},
    {"true_divide", 2, F_DIV, 0, 2, 0},        {"negative", 2, F_NEG, 0, 1, 0},
    {"square", 2, F_SQUARE, 0, 1, 0},          {NULL, 0, 0, 0, 0, 0}};

/* float type for a float function of v: float32 stays, anything else f64 */
static ty flt_of(ty t) { return t.t == TY_F32 ? t : (ty){TY_F64, t.weak}; }

static val call1(cc *C, int op, val x, int line) {
  int r = newtmp(C);
  int i = emit(C, K_CALL1, storage(x.t), r, x.reg, -1, -1, line);
  if (i >= 0) C->code[i].aux = (int16_t)op;
  return (val){r, x.t, 0, 0, 0, 0};
}
static val call2(cc *C, int op, val x, val y, int line) {
  int r = newtmp(C);
  int i = emit(C, K_CALL2, storage(x.t), r, x.reg, y.reg, -1, line);
  if (i >= 0) C->code[i].aux = (int16_t)op;
  return (val){r, x.t, 0, 0, 0, 0};
}
static val unop(cc *C, int kop, val x, ty t, int line) {
  int r = newtmp(C);
  emit(C, kop, storage(x.t), r, x.reg, -1, -1, line);
  return (val){r, t, 0, 0, 0, 0};
}
static val d2i(cc *C, val x, int line) {
  if (!isflt(x.t.t)) return cvt(C, x, T_INT, line);
  if (x.t.t == TY_F32) x = cvt(C, x, T_F64, line);
  int r = newtmp(C);
  emit(C, K_D2I, ST_D, r, x.reg, -1, 0, line);
  return (val){r, T_INT, 0, 0, 0, 0};
}
static val minmax(cc *C, int kop, val a, val b, int line) {
  ty t = (a.t.t == TY_BOOL && b.t.t == TY_BOOL) ? T_BOOL : promote(a.t, b.t);
  val x = cvt(C, a, t, line), y = cvt(C, b, t, line);
  int r = newtmp(C);
  emit(C, kop, storage(t), r, x.reg, y.reg, -1, line);
  return (val){r, t, 0, 0, 0, 0};
}

static val modcall(cc *C, ndp__knode *n, const fdesc *f, val *v) {
  int line = n->line;
  switch (f->kind) {
  case F_UN: {
    val x = cvt(C, v[0], flt_of(v[0].t), line);
    return call1(C, f->op, x, line);
  }
  case F_LOG: {
    val x = cvt(C, v[0], flt_of(v[0].t), line);
    if (n->n == 1) return call1(C, NDP_OP_LOG, x, line);
    ty t = flt_of(promote(v[0].t, v[1].t));
    x = cvt(C, v[0], t, line);
    val y = cvt(C, v[1], t, line);
    return binop(C, O_DIV, call1(C, NDP_OP_LOG, x, line), call1(C, NDP_OP_LOG, y, line), line);
  }
  case F_BIN: {
    ty t = flt_of(promote(v[0].t, v[1].t));
    return call2(C, f->op, cvt(C, v[0], t, line), cvt(C, v[1], t, line), line);
  }
  case F_TOINT: {
    if (!isflt(v[0].t.t)) return cvt(C, v[0], T_INT, line);
    return d2i(C, call1(C, f->op, v[0], line), line);
  }
  case F_MINMAX: {
    ty t = promote(v[0].t, v[1].t);
    return call2(C, f->op, cvt(C, v[0], t, line), cvt(C, v[1], t, line), line);
  }
  case F_ABS: {
    if (f->op == 1 || v[0].t.t == TY_BOOL) { /* fabs: always float */
      val x = f->op == 1 ? cvt(C, v[0], flt_of(v[0].t), line) : cvt(C, v[0], T_INT, line);
      return unop(C, K_ABS, x, x.t, line);
    }
    return unop(C, K_ABS, v[0], v[0].t, line);
  }
  case F_COPYSIGN: case F_FMOD: {
    ty t = flt_of(promote(v[0].t, v[1].t));
    val x = cvt(C, v[0], t, line), y = cvt(C, v[1], t, line);
    int r = newtmp(C);
    emit(C, f->kind == F_COPYSIGN ? K_COPYSIGN : K_FMOD, storage(t), r, x.reg, y.reg, -1, line);
    return (val){r, t, 0, 0, 0, 0};
  }
  case F_WHERE: {
    val c = truth(C, v[0], line);
    ty t = join(v[1].t, v[2].t);
    val x = cvt(C, v[1], t, line), y = cvt(C, v[2], t, line);
    int r = newtmp(C);
    emit(C, K_SEL, storage(t), r, x.reg, y.reg, c.reg, line);
    return (val){r, t, 0, 0, 0, 0};
  }
  case F_MUL: {
    val x = cvt(C, v[0], flt_of(v[0].t), line);
    return binop(C, O_MUL, x, mkconst(C, (ty){TY_F64, 1}, 0, f->k), line);
  }
  case F_PYMOD: return binop(C, O_MOD, v[0], v[1], line);
  case F_PYFDIV: return binop(C, O_FLOORDIV, v[0], v[1], line);
  case F_DIV: return binop(C, O_DIV, v[0], v[1], line);
  case F_NEG: {
    val x = v[0].t.t == TY_BOOL ? cvt(C, v[0], T_INT, line) : v[0];
    return unop(C, K_NEG, x, x.t, line);
  }
  case F_SQUARE: return binop(C, O_MUL, v[0], v[0], line);
  case F_ISNAN: case F_ISINF: case F_ISFIN: {
    if (!isflt(v[0].t.t)) return mkconst(C, T_BOOL, f->kind == F_ISFIN, f->kind == F_ISFIN);
    val x = v[0];
    if (f->kind == F_ISNAN) {
      int r = newtmp(C);
      emit(C, K_NE, storage(x.t), r, x.reg, x.reg, -1, line);
      return (val){r, T_BOOL, 0, 0, 0, 0};
    }
    val ax = unop(C, K_ABS, x, x.t, line);
    val inf = mkconst(C, x.t, 0, INFINITY);
    int r = newtmp(C);
    emit(C, f->kind == F_ISINF ? K_EQ : K_LT, storage(x.t), r, ax.reg, inf.reg, -1, line);
    return (val){r, T_BOOL, 0, 0, 0, 0};
  }
  default: break;
  }
  err(C, NDP_ETYPE, line, "unsupported function");
  return bad();
}

static int is_module(cc *C, const char *name, int *mod) {
  sym *s = find(C, name);
  if (s) return 0; /* a parameter or local of that name */
  if (!strcmp(name, "math")) *mod = 1;
  else if (!strcmp(name, "np") || !strcmp(name, "numpy")) *mod = 2;
  else return 0;
  return 1;
}

static val call(cc *C, ndp__knode *n) {
  ndp__knode *f = n->a;
  int line = n->line;
  if (n->n > 8) {
    err(C, NDP_ETYPE, line, "too many arguments");
    return bad();
  }
  if (f->kind == N_ATTR) {
    int mod;
    if (f->a->kind != N_NAME || !is_module(C, f->a->name, &mod)) {
      err(C, NDP_ETYPE, line, "method calls are not supported ('.%s(...)')", f->name);
      return bad();
    }
    for (int i = 0; funcs[i].name; i++) {
      if (!(funcs[i].mods & mod) || strcmp(funcs[i].name, f->name)) continue;
      int want = funcs[i].nargs;
      int ok = n->n == want || (funcs[i].kind == F_LOG && mod == 1 && n->n == 2);
      if (!ok) {
        err(C, NDP_ETYPE, line, "%s.%s() takes %d argument%s, got %d", f->a->name, f->name,
            want, want == 1 ? "" : "s", n->n);
        return bad();
      }
      val v[3];
      for (int k = 0; k < n->n; k++) v[k] = cexpr(C, n->list[k]);
      if (C->err) return bad();
      return modcall(C, n, &funcs[i], v);
    }
    err(C, NDP_ETYPE, line, "unknown function %s.%s (not in ndpar's kernels)", f->a->name,
        f->name);
    return bad();
  }
  if (f->kind != N_NAME) {
    err(C, NDP_ETYPE, line, "this call is not supported");
    return bad();
  }
  const char *nm = f->name;
  sym *s = find(C, nm);
  if (s && s->kind != SYM_CONST) {
    err(C, NDP_ETYPE, line, "'%s' is not a function", nm);
    return bad();
  }
  if (!strcmp(nm, C->fname)) {
    err(C, NDP_ETYPE, line, "recursion is not supported (call to '%s')", nm);
    return bad();
  }
  if (!strcmp(nm, "len")) {
    if (n->n != 1) {
      err(C, NDP_ETYPE, line, "len() takes 1 argument");
      return bad();
    }
    sym *a = array_arg(C, n->list[0], "len()");
    return a ? dim(C, a, 0, line) : bad();
  }
  if (!strcmp(nm, "range")) {
    err(C, NDP_ETYPE, line, "range() is only supported as the iterable of a for loop");
    return bad();
  }
  static const char *builtins[] = {"abs", "min", "max", "int", "float", "bool", "round", NULL};
  int b = -1;
  for (int i = 0; builtins[i]; i++)
    if (!strcmp(nm, builtins[i])) b = i;
  if (b < 0) {
    if (s && s->c.kind == 3)
      err(C, NDP_ETYPE, line, "unknown function '%s' (only math.*, np.* and abs, min, max, "
          "int, float, bool, round can be called)", nm);
    else
      err(C, NDP_ETYPE, line, "unknown function '%s' (only math.*, np.* and abs, min, max, "
          "int, float, bool, round can be called)", nm);
    return bad();
  }
  int want_min = (b == 1 || b == 2) ? 2 : 1, want_max = (b == 1 || b == 2) ? 8 : 1;
  if (n->n < want_min || n->n > want_max) {
    if (b == 6 && n->n == 2)
      err(C, NDP_ETYPE, line, "round() with ndigits is not supported");
    else if ((b == 1 || b == 2) && n->n == 1)
      err(C, NDP_ETYPE, line, "%s() of one iterable is not supported; give 2 or more numbers", nm);
    else
      err(C, NDP_ETYPE, line, "%s() takes %s%d argument%s, got %d", nm,
          want_max > want_min ? "at least " : "", want_min, want_min == 1 ? "" : "s", n->n);
    return bad();
  }
  val v = cexpr(C, n->list[0]);
  if (C->err) return bad();
  switch (b) {
  case 0:
    if (v.t.t == TY_BOOL) v = cvt(C, v, T_INT, line);
    return unop(C, K_ABS, v, v.t, line);
  case 1: case 2:
    for (int i = 1; i < n->n && !C->err; i++)
      v = minmax(C, b == 1 ? K_MIN : K_MAX, v, cexpr(C, n->list[i]), line);
    return v;
  case 3: return d2i(C, v, line);
  case 4: return cvt(C, v, v.t.t == TY_F32 ? v.t : T_F64, line);
  case 5: return truth(C, v, line);
  case 6:
    if (!isflt(v.t.t)) return cvt(C, v, T_INT, line);
    return d2i(C, call1(C, NDP_OP_RINT, v, line), line);
  }
  return bad();
}

static val name(cc *C, ndp__knode *n) {
  sym *s = find(C, n->name);
  if (!s) {
    int mod;
    if (is_module(C, n->name, &mod)) {
      err(C, NDP_ETYPE, n->line, "module '%s' used as a value", n->name);
      return bad();
    }
    err(C, NDP_ENAME, n->line, "name '%s' is not defined", n->name);
    return bad();
  }
  switch (s->kind) {
  case SYM_ARRAY:
    err(C, NDP_ETYPE, n->line, "array argument '%s' used as a number (index it: %s[j])", s->name,
        s->name);
    return bad();
  case SYM_CONST:
    if (s->c.kind == 3) {
      err(C, NDP_ETYPE, n->line, "global '%s' is not a number", s->name);
      return bad();
    }
    if (s->c.kind == 1) return mkconst(C, (ty){TY_F64, 1}, 0, s->c.d);
    if (s->c.kind == 2) return mkconst(C, (ty){TY_BOOL, 1}, s->c.i != 0, (double)(s->c.i != 0));
    return mkconst(C, (ty){TY_INT, 1}, s->c.i, (double)s->c.i);
  default:
    if (!s->t.t) {
      if (C->emit) {
        err(C, NDP_ENAME, n->line, "local variable '%s' is never assigned a value", s->name);
        return bad();
      }
      return (val){s->reg, (ty){TY_INT, 1}, 0, 0, 0, 0};
    }
    return (val){s->reg, s->t, 0, 0, 0, 0};
  }
}

static val attr(cc *C, ndp__knode *n) {
  int mod;
  if (n->a->kind == N_NAME && is_module(C, n->a->name, &mod)) {
    static const struct {
      const char *n;
      double v;
    } k[] = {{"pi", 3.141592653589793}, {"e", 2.718281828459045}, {"tau", 6.283185307179586},
             {"inf", INFINITY}, {"nan", NAN}, {"Inf", INFINITY}, {"NaN", NAN}, {"NAN", NAN},
             {"NINF", -INFINITY}, {"PINF", INFINITY}, {"euler_gamma", 0.5772156649015329},
             {NULL, 0}};
    for (int i = 0; k[i].n; i++)
      if (!strcmp(n->name, k[i].n) && (i < 5 || mod == 2))
        return mkconst(C, (ty){TY_F64, 1}, 0, k[i].v);
    err(C, NDP_ETYPE, n->line, "'%s.%s' is not supported in a kernel", n->a->name, n->name);
    return bad();
  }
  if (!strcmp(n->name, "shape")) {
    err(C, NDP_ETYPE, n->line, "'.shape' must be indexed: x.shape[k]");
    return bad();
  }
  err(C, NDP_ETYPE, n->line, "attribute access '.%s' is not supported (only math.* and np.*)",
      n->name);
  return bad();
}

static val cexpr(cc *C, ndp__knode *n) {
  if (C->err) return bad();
  switch (n->kind) {
  case N_INT: return mkconst(C, (ty){TY_INT, 1}, n->ival, (double)n->ival);
  case N_FLOAT: return mkconst(C, (ty){TY_F64, 1}, 0, n->fval);
  case N_BOOL: return mkconst(C, (ty){TY_BOOL, 1}, n->ival, (double)n->ival);
  case N_STR: err(C, NDP_ESYNTAX, n->line, "strings are not supported in a kernel"); return bad();
  case N_NONE: err(C, NDP_ETYPE, n->line, "None is not supported in a kernel"); return bad();
  case N_NAME: return name(C, n);
  case N_TUPLE:
    err(C, NDP_ETYPE, n->line, "tuples are only supported in assignments");
    return bad();
  case N_ATTR: return attr(C, n);
  case N_SUBSCR: return subscript(C, n);
  case N_CALL: return call(C, n);
  case N_IFEXP: return ifexp(C, n);
  case N_BOOLOP: return boolop(C, n);
  case N_BINOP: {
    val a = cexpr(C, n->a);
    val b = cexpr(C, n->b);
    if (C->err) return bad();
    return binop(C, n->op, a, b, n->line);
  }
  case N_UNOP: {
    val a = cexpr(C, n->a);
    if (C->err) return bad();
    if (n->op == O_NOT) {
      val t = truth(C, a, n->line);
      return unop(C, K_NOT, t, T_BOOL, n->line);
    }
    if (a.t.t == TY_BOOL) a = cvt(C, a, (ty){TY_INT, a.t.weak}, n->line);
    if (n->op == O_POS) return a;
    if (n->op == O_INV) {
      if (isflt(a.t.t)) {
        err(C, NDP_ETYPE, n->line, "bad operand type for unary ~: 'float'");
        return bad();
      }
      return unop(C, K_BNOT, a, a.t, n->line);
    }
    return unop(C, K_NEG, a, a.t, n->line);
  }
  case N_CMP: {
    val prev = cexpr(C, n->list[0]);
    val acc = {-1, T_BOOL, 0, 0, 0, 0};
    int save = -1, jz = -1;
    for (int i = 0; i + 1 < n->n && !C->err; i++) {
      if (i > 0 && guarded(n->list[i + 1]) && save < 0) {
        jz = begin_masked(C, acc.reg, 0, &save, n->line);
      }
      val nxt = cexpr(C, n->list[i + 1]);
      if (C->err) return bad();
      val c = compare(C, n->ops[i], prev, nxt, n->line);
      if (i == 0) acc = c;
      else {
        int r = newtmp(C);
        if (!fuse_band(C, r, acc.reg, c.reg)) emit(C, K_BAND, ST_I, r, acc.reg, c.reg, -1, n->line);
        acc.reg = r;
      }
      prev = nxt;
    }
    if (save >= 0) {
      end_masked(C, save, jz, n->line);
    }
    return acc;
  }
  default: break;
  }
  err(C, NDP_ESYNTAX, n->line, "unsupported expression");
  return bad();
}

/* ---- statements ---------------------------------------------------------- */

static void stmts(cc *C, ndp__knode **body, int n);

static int retarget(cc *C, int reg, int dst);

static void set_local(cc *C, sym *s, val v, int line) {
  ty nt = join(s->t, v.t);
  if (nt.t != s->t.t || nt.weak != s->t.weak) {
    if (C->emit) {
      err(C, NDP_ETYPE, line, "internal: type of '%s' changed late", s->name);
      return;
    }
    s->t = nt;
    C->changed = 1;
  }
  if (!C->emit) return;
  val x = cvt(C, v, s->t, line);
  int st = storage(s->t);
  if (C->full && C->mask == 0) {
    /* every live lane is active: the instruction that computed the value
     * writes the local itself (elementwise, so in place is fine), or a
     * plain copy does */
    if (C->single_use && retarget(C, x.reg, s->reg)) return;
    if (x.reg != s->reg) emit(C, K_MOV, st, s->reg, x.reg, -1, -1, line);
    return;
  }
  if (C->single_use && st != ST_I) {
    ndp__kins *l = C->ncode ? &C->code[C->ncode - 1] : NULL;
    if ((last_is(C, K_ADD, st, x.reg) || last_is(C, K_SUB, st, x.reg) ||
         last_is(C, K_MUL, st, x.reg))) {
      l->aux = l->op;
      l->op = K_OPM;
      l->c = C->mask;
      l->d = s->reg;
      return;
    }
  }
  if (C->single_use && st == ST_I && (last_is(C, K_ADD, st, x.reg) || last_is(C, K_SUB, st, x.reg))) {
    ndp__kins *l = &C->code[C->ncode - 1];
    l->aux = l->op;
    l->op = K_OPM;
    l->c = C->mask;
    l->d = s->reg;
    return;
  }
  emit(C, K_MOVM, st, s->reg, x.reg, -1, C->mask, line);
}

/* Points the instruction just emitted, which computed temporary reg, at
 * dst instead (an elementwise instruction that may write in place). */
static int retarget(cc *C, int reg, int dst) {
  if (!C->emit || C->err || C->ncode == 0 || reg < C->first_tmp || reg >= CONST_BASE) return 0;
  ndp__kins *l = &C->code[C->ncode - 1];
  if (l->d != reg || l->a == reg || l->b == reg || l->c == reg) return 0;
  switch (l->op) {
  case K_ADD: case K_SUB: case K_MUL: case K_DIV: case K_MIN: case K_MAX: case K_BAND:
  case K_BOR: case K_BXOR: case K_ANDNOT: case K_COPYSIGN: case K_FMOD: case K_FLOORDIV:
  case K_MOD: case K_POW: case K_EQ: case K_NE: case K_LT: case K_LE: case K_GT: case K_GE:
  case K_NEG: case K_ABS: case K_BNOT: case K_NOT: case K_TRUTH: case K_I2D: case K_I2F:
  case K_F2D: case K_D2F: case K_D2I: case K_SEL: case K_LOAD: case K_LOADARG: case K_DIM:
  case K_MULADD: case K_MULSUB: case K_RMULSUB: case K_CMPAND:
    l->d = dst;
    return 1;
  default: return 0;
  }
}

static void assign(cc *C, ndp__knode *t, val v, int line) {
  if (C->err) return;
  if (t->kind == N_NAME) {
    sym *s = find(C, t->name);
    if (!s) {
      err(C, NDP_ENAME, line, "internal: unknown target '%s'", t->name);
      return;
    }
    if (s->kind == SYM_ARRAY) {
      err(C, NDP_ETYPE, line, "cannot assign to array argument '%s' (write its elements: %s[j] = ...)",
          s->name, s->name);
      return;
    }
    set_local(C, s, v, line);
    return;
  }
  if (t->kind == N_SUBSCR) {
    if (t->a->kind == N_NAME) {
      sym *s = find(C, t->a->name);
      if (s && s->kind == SYM_ARRAY && !C->k->args[s->arg].output) {
        err(C, NDP_ETYPE, line, "cannot write to input argument '%s' (only outputs are written)",
            s->name);
        return;
      }
    }
    int i0, i1;
    sym *s = indices(C, t, &i0, &i1);
    if (!s) return;
    const ndp_kernel_arg *a = &C->k->args[s->arg];
    if (a->dtype == NDP_NTYPES) {
      ty nt = join(C->out_t[s->arg], v.t);
      if (nt.t != C->out_t[s->arg].t) {
        if (C->emit) {
          err(C, NDP_ETYPE, line, "internal: type of output '%s' changed late", s->name);
          return;
        }
        C->out_t[s->arg] = (ty){nt.t, 0};
        C->changed = 1;
      }
    } else if (isflt(v.t.t) && !isflt(dtype_ty(a->dtype).t)) {
      err(C, NDP_ETYPE, line, "cannot store a float in output '%s' of dtype %s", s->name,
          ndp_dtype_name(a->dtype));
      return;
    }
    ty et = elem_ty(C, s);
    val x = cvt(C, v, et, line);
    int i = emit(C, K_STORE, storage(et), -1, i0, i1, C->mask, line);
    if (i >= 0) {
      C->code[i].aux = (int16_t)s->arg;
      C->code[i].imm = x.reg;
    }
    return;
  }
  if (t->kind == N_TUPLE) {
    err(C, NDP_ESYNTAX, line, "nested tuple targets are not supported");
    return;
  }
  err(C, NDP_ESYNTAX, line, "cannot assign to this expression");
}

static void s_assign(cc *C, ndp__knode *s) {
  ndp__knode *v = s->b;
  for (int k = 0; k < s->n && !C->err; k++) {
    ndp__knode *t = s->list[k];
    if (t->kind == N_TUPLE) {
      if (v->kind != N_TUPLE || v->n != t->n) {
        err(C, NDP_ETYPE, s->line, "tuple assignment needs a tuple of %d values on the right", t->n);
        return;
      }
    } else if (v->kind == N_TUPLE) {
      err(C, NDP_ETYPE, s->line, "tuples are only supported in assignments to as many names");
      return;
    }
  }
  if (v->kind == N_TUPLE) {
    val vals[64];
    if (v->n > 64) {
      err(C, NDP_ESYNTAX, s->line, "tuple too long");
      return;
    }
    for (int i = 0; i < v->n && !C->err; i++) {
      val x = cexpr(C, v->list[i]);
      if (!x.isconst && C->emit && x.reg < C->first_tmp) { /* a local: later targets may overwrite it */
        int r = newtmp(C);
        emit(C, K_MOV, storage(x.t), r, x.reg, -1, -1, s->line);
        x.reg = r;
      }
      vals[i] = x;
    }
    for (int k = 0; k < s->n; k++)
      for (int i = 0; i < v->n && !C->err; i++) assign(C, s->list[k]->list[i], vals[i], s->line);
    return;
  }
  val x = cexpr(C, v);
  C->single_use = s->n == 1;
  for (int k = 0; k < s->n && !C->err; k++) assign(C, s->list[k], x, s->line);
  C->single_use = 0;
}

static void s_return(cc *C, ndp__knode *s) {
  if (C->gu) {
    if (s->a) {
      err(C, NDP_ETYPE, s->line, "a guvectorize kernel returns nothing; write its output arguments");
      return;
    }
  } else {
    if (!s->a) {
      err(C, NDP_ETYPE, s->line, "return without a value (a vectorize kernel returns a number)");
      return;
    }
    if (s->a->kind == N_TUPLE) {
      err(C, NDP_ETYPE, s->line, "returning a tuple is not supported");
      return;
    }
    val v = cexpr(C, s->a);
    if (C->err) return;
    ty nt = join(C->ret, v.t);
    if (nt.t != C->ret.t || nt.weak != C->ret.weak) {
      if (C->emit) {
        err(C, NDP_ETYPE, s->line, "internal: return type changed late");
        return;
      }
      C->ret = nt;
      C->changed = 1;
    }
    if (C->emit) {
      val x = cvt(C, v, C->ret, s->line);
      emit(C, K_MOVM, storage(C->ret), C->k->ret_reg, x.reg, -1, 0, s->line);
    }
  }
  emit(C, K_BOR, ST_I, 1, 1, 0, -1, s->line);
  emit(C, K_FILL0, ST_I, 0, -1, -1, -1, s->line);
}

/* 1 if a side is only assignments of values that cannot fail to locals
 * (no control flow, no stores, no indexing): it can run on every lane
 * with its writes masked, with no jump */
static int simple_side(ndp__knode **b, int n, int depth) {
  if (n > 4 || depth > 3) return 0;
  for (int i = 0; i < n; i++) {
    ndp__knode *s = b[i];
    if (s->kind == S_PASS) continue;
    if (s->kind == S_IF) { /* elif: nested masks */
      if (guarded(s->a) || !simple_side(s->list, s->n, depth + 1) ||
          !simple_side(s->list2, s->n2, depth + 1))
        return 0;
      continue;
    }
    if (s->kind != S_ASSIGN && s->kind != S_AUG) return 0;
    if (s->kind == S_ASSIGN && (s->n != 1 || s->list[0]->kind != N_NAME)) return 0;
    if (s->kind == S_AUG && (s->a->kind != N_NAME || s->op == O_FLOORDIV || s->op == O_MOD ||
                             s->op == O_POW))
      return 0;
    if (guarded(s->b)) return 0;
  }
  return 1;
}

static void s_if(cc *C, ndp__knode *s) {
  val c = truth(C, cexpr(C, s->a), s->line);
  if (C->err) return;
  int full = C->full, exits = C->exits;
  C->full = 0;
  if (simple_side(s->list, s->n, 0) && simple_side(s->list2, s->n2, 0)) {
    /* if-conversion: both sides run on every lane, writes masked by
     * base & c and base & ~c (base: M, or the enclosing side's mask) */
    int base = C->mask, mt = newtmp(C);
    if (s->n2 || !fuse_band(C, mt, base, c.reg)) emit(C, K_BAND, ST_I, mt, base, c.reg, -1, s->line);
    C->mask = mt;
    stmts(C, s->list, s->n);
    if (s->n2) {
      emit(C, K_ANDNOT, ST_I, mt, base, c.reg, -1, s->line);
      stmts(C, s->list2, s->n2);
    }
    C->mask = base;
    C->full = full;
    return;
  }
  int ms = newtmp(C);
  emit(C, K_MOV, ST_I, ms, 0, -1, -1, s->line);
  emit(C, K_BAND, ST_I, 0, ms, c.reg, -1, s->line);
  int jz = emit(C, K_JZ, ST_I, -1, 0, -1, -1, s->line);
  stmts(C, s->list, s->n);
  patch(C, jz);
  int mt = newtmp(C);
  emit(C, K_MOV, ST_I, mt, 0, -1, -1, s->line);
  emit(C, K_ANDNOT, ST_I, 0, ms, c.reg, -1, s->line);
  if (s->n2) {
    jz = emit(C, K_JZ, ST_I, -1, 0, -1, -1, s->line);
    stmts(C, s->list2, s->n2);
    patch(C, jz);
  }
  emit(C, K_BOR, ST_I, 0, mt, 0, -1, s->line);
  C->full = full && C->exits == exits;
}

/* 1 if a return is in b, at any depth */
static int has_return(ndp__knode **b, int n) {
  for (int i = 0; i < n; i++) {
    ndp__knode *s = b[i];
    if (s->kind == S_RETURN) return 1;
    if (s->kind == S_IF && (has_return(s->list, s->n) || has_return(s->list2, s->n2))) return 1;
    if ((s->kind == S_WHILE || s->kind == S_FOR) && has_return(s->list, s->n)) return 1;
  }
  return 0;
}

/* 1 if a continue of this loop (not of a nested one) is in the body */
static int has_continue(ndp__knode **b, int n) {
  for (int i = 0; i < n; i++) {
    if (b[i]->kind == S_CONTINUE) return 1;
    if (b[i]->kind == S_IF && (has_continue(b[i]->list, b[i]->n) || has_continue(b[i]->list2, b[i]->n2)))
      return 1;
  }
  return 0;
}

static void loop_body(cc *C, ndp__knode *s, int me) {
  if (C->loops >= NDP__KMAXDEPTH) {
    err(C, NDP_ESYNTAX, s->line, "loops nested too deeply");
    return;
  }
  int hc = has_continue(s->list, s->n);
  int cont = hc ? newtmp(C) : -1;
  C->cont[++C->loops] = cont;
  if (hc) emit(C, K_FILL0, ST_I, cont, -1, -1, -1, s->line);
  stmts(C, s->list, s->n);
  C->loops--;
  if (hc) {
    emit(C, K_BOR, ST_I, 0, 0, cont, -1, s->line);
    emit(C, K_FILL0, ST_I, cont, -1, -1, -1, s->line);
  }
  (void)me;
}

/* M &= truth(c); `a and b and ...` narrows M operand by operand when the
 * later operands cannot fail (a lane's truth is the same) */
static void narrow_mask(cc *C, ndp__knode *c) {
  int split = c->kind == N_BOOLOP && c->op == O_AND;
  for (int i = 1; split && i < c->n; i++) split = !guarded(c->list[i]);
  int nops = split ? c->n : 1;
  for (int i = 0; i < nops && !C->err; i++) {
    int mark = C->tmp;
    val v = truth(C, cexpr(C, split ? c->list[i] : c), c->line);
    if (!fuse_band(C, 0, 0, v.reg)) emit(C, K_BAND, ST_I, 0, 0, v.reg, -1, c->line);
    C->tmp = mark;
  }
}

static void s_while(cc *C, ndp__knode *s) {
  int me = newtmp(C);
  emit(C, K_MOV, ST_I, me, 0, -1, -1, s->line);
  int full = C->full;
  C->full = 0;
  int top = C->ncode;
  narrow_mask(C, s->a);
  int jz = emit(C, K_JZ, ST_I, -1, 0, -1, -1, s->line);
  /* the lanes that left M stay out until the loop ends: compact the rest */
  int w = emit(C, K_WCOMPACT, ST_I, -1, -1, -1, -1, s->line);
  if (w >= 0) C->code[w].aux = (int16_t)C->loops;
  loop_body(C, s, me);
  int j = emit(C, K_JMP, ST_I, -1, -1, -1, -1, s->line);
  if (j >= 0) C->code[j].imm = top;
  patch(C, jz);
  w = emit(C, K_WEND, ST_I, -1, -1, -1, -1, s->line);
  if (w >= 0) C->code[w].aux = (int16_t)C->loops;
  emit(C, K_ANDNOT, ST_I, 0, me, 1, -1, s->line);
  C->full = full;
}

/* 1 if a break of this loop (not of a nested one) or a return is in b */
static int has_exit(ndp__knode **b, int n) {
  for (int i = 0; i < n; i++) {
    ndp__knode *s = b[i];
    if (s->kind == S_BREAK || s->kind == S_RETURN) return 1;
    if (s->kind == S_IF && (has_exit(s->list, s->n) || has_exit(s->list2, s->n2))) return 1;
    if ((s->kind == S_WHILE || s->kind == S_FOR) && has_return(s->list, s->n)) return 1;
  }
  return 0;
}

static void s_for(cc *C, ndp__knode *s) {
  ndp__knode *it = s->b;
  if (it->kind != N_CALL || it->a->kind != N_NAME || strcmp(it->a->name, "range") ||
      find(C, "range")) {
    err(C, NDP_ETYPE, s->line, "for loops are only supported over range(...)");
    return;
  }
  if (it->n < 1 || it->n > 3) {
    err(C, NDP_ETYPE, s->line, "range() takes 1 to 3 arguments, got %d", it->n);
    return;
  }
  val v[3];
  for (int i = 0; i < it->n; i++) {
    v[i] = cexpr(C, it->list[i]);
    if (C->err) return;
    if (isflt(v[i].t.t)) {
      err(C, NDP_ETYPE, s->line, "range() arguments must be integers, not float");
      return;
    }
    v[i] = cvt(C, v[i], T_INT, s->line);
  }
  val start = it->n >= 2 ? v[0] : mkconst(C, (ty){TY_INT, 1}, 0, 0);
  val stop = it->n >= 2 ? v[1] : v[0];
  val step = it->n == 3 ? v[2] : mkconst(C, (ty){TY_INT, 1}, 1, 1);
  if (!step.isconst) emit(C, K_CHKSTEP, ST_I, -1, step.reg, -1, 0, s->line);
  else if (step.ci == 0) {
    err(C, NDP_ETYPE, s->line, "range() arg 3 must not be zero");
    return;
  }
  /* hold start/stop/step in registers of their own for the whole loop */
  int cur = newtmp(C), stp = newtmp(C), inc = newtmp(C);
  emit(C, K_MOV, ST_I, cur, start.reg, -1, -1, s->line);
  emit(C, K_MOV, ST_I, stp, stop.reg, -1, -1, s->line);
  emit(C, K_MOV, ST_I, inc, step.reg, -1, -1, s->line);
  sym *lv = find(C, s->a->name);
  if (lv && lv->kind == SYM_ARRAY) {
    err(C, NDP_ETYPE, s->line, "cannot assign to array argument '%s'", lv->name);
    return;
  }
  if ((start.uni || start.isconst) && (stop.uni || stop.isconst) && (step.uni || step.isconst) &&
      !has_exit(s->list, s->n)) {
    /* the same trip count in every lane and no lane leaves early: lane 0
     * runs the loop control, M is the same after each iteration (continue
     * restores it) and at the end */
    int skip = emit(C, K_JZ, ST_I, -1, 0, -1, -1, s->line);
    int top = C->ncode;
    int t = emit(C, K_FORU, ST_I, -1, cur, stp, inc, s->line);
    if (t >= 0) C->code[t].aux = (int16_t)(step.isconst ? (step.ci > 0 ? 0 : 1) : 2);
    if (lv) set_local(C, lv, (val){cur, T_INT, 0, 0, 0, 1}, s->line);
    int full = C->full;
    loop_body(C, s, -1);
    C->full = full;
    emit(C, K_ADD, ST_I, cur, cur, inc, -1, s->line);
    int j = emit(C, K_JMP, ST_I, -1, -1, -1, -1, s->line);
    if (j >= 0) C->code[j].imm = top;
    patch(C, t);
    patch(C, skip);
    return;
  }
  int full = C->full;
  C->full = 0;
  int me = newtmp(C);
  emit(C, K_MOV, ST_I, me, 0, -1, -1, s->line);
  int top = C->ncode;
  int c = newtmp(C);
  if (step.isconst)
    emit(C, step.ci > 0 ? K_LT : K_GT, ST_I, c, cur, stp, -1, s->line);
  else
    emit(C, K_RANGECOND, ST_I, c, cur, inc, stp, s->line);
  if (!fuse_band(C, 0, 0, c)) emit(C, K_BAND, ST_I, 0, 0, c, -1, s->line);
  int jz = emit(C, K_JZ, ST_I, -1, 0, -1, -1, s->line);
  if (lv) set_local(C, lv, (val){cur, T_INT, 0, 0, 0, 0}, s->line);
  loop_body(C, s, me);
  emit(C, K_ADD, ST_I, cur, cur, inc, -1, s->line);
  int j = emit(C, K_JMP, ST_I, -1, -1, -1, -1, s->line);
  if (j >= 0) C->code[j].imm = top;
  patch(C, jz);
  emit(C, K_ANDNOT, ST_I, 0, me, 1, -1, s->line);
  C->full = full;
}

static void stmt(cc *C, ndp__knode *s) {
  int mark = C->tmp;
  switch (s->kind) {
  case S_PASS: break;
  case S_EXPR:
    if (s->a->kind != N_STR) cexpr(C, s->a); /* a docstring or bare string: nothing */
    break;
  case S_ASSIGN: s_assign(C, s); break;
  case S_AUG: {
    if (s->a->kind == N_TUPLE || s->b->kind == N_TUPLE) {
      err(C, NDP_ESYNTAX, s->line, "augmented assignment to a tuple is not supported");
      break;
    }
    val cur = cexpr(C, s->a);
    val v = cexpr(C, s->b);
    if (C->err) break;
    val r = binop(C, s->op, cur, v, s->line);
    C->single_use = 1;
    assign(C, s->a, r, s->line);
    C->single_use = 0;
    break;
  }
  case S_IF: s_if(C, s); break;
  case S_WHILE: s_while(C, s); break;
  case S_FOR: s_for(C, s); break;
  case S_BREAK:
  case S_CONTINUE:
    if (!C->loops) {
      err(C, NDP_ESYNTAX, s->line, "'%s' outside a loop", s->kind == S_BREAK ? "break" : "continue");
      break;
    }
    if (s->kind == S_CONTINUE)
      emit(C, K_BOR, ST_I, C->cont[C->loops], C->cont[C->loops], 0, -1, s->line);
    emit(C, K_FILL0, ST_I, 0, -1, -1, -1, s->line);
    C->exits++;
    C->full = 0;
    break;
  case S_RETURN: s_return(C, s); break;
  default: err(C, NDP_ESYNTAX, s->line, "unsupported statement"); break;
  }
  C->tmp = mark;
}

static void stmts(cc *C, ndp__knode **body, int n) {
  for (int i = 0; i < n && !C->err; i++) stmt(C, body[i]);
}

/* ---- driver -------------------------------------------------------------- */

static void run_pass(cc *C, ndp__knode *fn) {
  C->tmp = C->first_tmp;
  C->loops = 0;
  C->changed = 0;
  C->full = 1;
  C->exits = 0;
  C->ncode = 0;
  C->nconsts = 0;
  /* scalar parameters: load each lane's value */
  for (int i = 0; i < C->k->nargs; i++) {
    sym *s = find(C, fn->list2[i]->name);
    if (s->kind == SYM_LOCAL) {
      int j = emit(C, K_LOADARG, storage(s->t), s->reg, -1, -1, -1, fn->line);
      if (j >= 0) C->code[j].aux = (int16_t)i;
    }
  }
  stmts(C, fn->list, fn->n);
  emit(C, K_END, ST_I, -1, -1, -1, -1, fn->line);
}

static int build(cc *C, ndp__knode *fn, ndp__knode **mod, int nmod, const ndp_kernel_opts *o) {
  ndp_kernel *k = C->k;
  if (fn->n2 != k->nargs)
    return ndp__kfail(C->st, NDP_EINVAL, fn->line, "%s() takes %d parameter%s, %d argument%s given",
                      fn->name, fn->n2, fn->n2 == 1 ? "" : "s", k->nargs,
                      k->nargs == 1 ? "" : "s");
  /* parameters */
  for (int i = 0; i < k->nargs; i++) {
    const ndp_kernel_arg *a = &k->args[i];
    sym *s = addsym(C, fn->list2[i]->name, a->core_ndim ? SYM_ARRAY : SYM_LOCAL, fn->line);
    if (!s) return C->err;
    s->arg = i;
    if (!a->core_ndim) s->t = dtype_ty(a->dtype);
    if (a->output) C->gu = 1;
  }
  /* module constants: given ones, then the text's own NAME = number */
  for (int i = 0; o && i < o->nconsts; i++) {
    if (!o->consts[i].name || find(C, o->consts[i].name)) continue;
    sym *s = addsym(C, o->consts[i].name, SYM_CONST, fn->line);
    if (!s) return C->err;
    s->c = o->consts[i];
  }
  for (int i = 0; i < nmod; i++) {
    ndp__knode *a = mod[i];
    if (a->kind != S_ASSIGN || a->n != 1 || a->list[0]->kind != N_NAME) continue;
    if (find(C, a->list[0]->name)) continue;
    ndp__knode *v = a->b;
    sym *s = addsym(C, a->list[0]->name, SYM_CONST, a->line);
    if (!s) return C->err;
    s->c.name = s->name;
    if (v->kind == N_INT) s->c.kind = 0, s->c.i = v->ival;
    else if (v->kind == N_FLOAT) s->c.kind = 1, s->c.d = v->fval;
    else if (v->kind == N_BOOL) s->c.kind = 2, s->c.i = v->ival;
    else s->c.kind = 3;
  }
  collect(C, fn->list, fn->n);
  if (C->err) return C->err;
  /* inference passes */
  C->emit = 0;
  int pass = 0;
  do {
    run_pass(C, fn);
    if (C->err) return C->err;
  } while (C->changed && ++pass < 32);
  if (C->changed) return ndp__kfail(C->st, NDP_ETYPE, fn->line, "types do not settle");
  if (!C->gu && !C->ret.t)
    return ndp__kfail(C->st, NDP_ETYPE, fn->line,
                      "'%s' never returns a value (a vectorize kernel returns a number; "
                      "use guvectorize to write outputs)", fn->name);
  /* registers: 0 M, 1 R, 2 result, then offsets, locals, temporaries */
  int r = 3;
  k->ret_reg = 2;
  for (int i = 0; i <= k->nargs; i++) k->off_reg[i] = r++;
  k->first_local = r;
  for (int i = 0; i < C->nsyms; i++) {
    sym *s = &C->syms[i];
    if (s->kind != SYM_LOCAL) continue;
    if (!s->t.t) s->t = T_INT; /* only ever read: NameError at emission */
    s->reg = r++;
  }
  k->first_tmp = r;
  C->first_tmp = r;
  C->maxtmp = r;
  C->emit = 1;
  run_pass(C, fn);
  if (C->err) return C->err;
  if (C->changed) return ndp__kfail(C->st, NDP_ETYPE, fn->line, "internal: types changed");
  /* constants live after the temporaries */
  int base = C->maxtmp;
  for (int i = 0; i < C->ncode; i++) {
    ndp__kins *in = &C->code[i];
    if (in->d >= CONST_BASE) in->d = base + in->d - CONST_BASE;
    if (in->a >= CONST_BASE) in->a = base + in->a - CONST_BASE;
    if (in->b >= CONST_BASE) in->b = base + in->b - CONST_BASE;
    if (in->c >= CONST_BASE) in->c = base + in->c - CONST_BASE;
    if (in->op == K_STORE && in->imm >= CONST_BASE) in->imm = base + in->imm - CONST_BASE;
  }
  for (int i = 0; i < C->nconsts; i++) C->consts[i].reg = base + C->consts[i].reg - CONST_BASE;
  k->nregs = base + C->nconsts;
  if (k->nregs > NDP__KMAXREGS)
    return ndp__kfail(C->st, NDP_ESYNTAX, fn->line, "kernel needs too many registers");
  /* the registers a while loop's compaction moves as 4-byte lanes */
  memset(k->freg, 0, sizeof k->freg);
  for (int i = 0; i < C->nsyms; i++)
    if (C->syms[i].kind == SYM_LOCAL && storage(C->syms[i].t) == ST_F)
      k->freg[C->syms[i].reg >> 3] |= (uint8_t)(1 << (C->syms[i].reg & 7));
  if (!C->gu && storage(C->ret) == ST_F) k->freg[k->ret_reg >> 3] |= 1 << (k->ret_reg & 7);
  k->code = C->code;
  k->ncode = C->ncode;
  k->consts = C->consts;
  k->nconsts = C->nconsts;
  C->code = NULL;
  C->consts = NULL;
  k->has_result = !C->gu;
  k->result = C->gu ? NDP_NTYPES : ty_dtype(C->ret);
  for (int i = 0; i < k->nargs; i++) {
    const ndp_kernel_arg *a = &k->args[i];
    k->arg_dtype[i] = a->output && a->dtype == NDP_NTYPES
                          ? (C->out_t[i].t ? ty_dtype(C->out_t[i]) : NDP_FLOAT64)
                          : a->dtype;
  }
  snprintf(k->func, sizeof k->func, "%s", fn->name);
  return 0;
}

int ndp_kernel_check(const char *src, const char *func, const ndp_kernel_opts *opts,
                     int *nparams, ndp_status *st) {
  if (!src) return ndp__fail(st, NDP_EINVAL, "kernel: source is NULL");
  ndp__karena ar = {0};
  ndp__knode *fn;
  int rc = ndp__kparse(&ar, src, func, opts ? opts->first_line : 1, &fn, NULL, NULL, st);
  if (!rc && nparams) *nparams = fn->n2;
  ndp__karena_free(&ar);
  if (!rc) ndp__ok(st);
  return rc;
}

int ndp_kernel_compile(const char *src, const char *func, int nargs, const ndp_kernel_arg *args,
                       const ndp_kernel_opts *opts, ndp_kernel **out, ndp_status *st) {
  if (!out) return ndp__fail(st, NDP_EINVAL, "kernel: out is NULL");
  *out = NULL;
  if (!src) return ndp__fail(st, NDP_EINVAL, "kernel: source is NULL");
  if (nargs < 0 || nargs > NDP__KMAXARGS || (nargs && !args))
    return ndp__fail(st, NDP_EINVAL, "kernel: nargs must be 0..%d", NDP__KMAXARGS);
  for (int i = 0; i < nargs; i++) {
    const ndp_kernel_arg *a = &args[i];
    if (a->core_ndim < 0 || a->core_ndim > 2)
      return ndp__fail(st, NDP_EINVAL, "kernel: argument %d: core_ndim must be 0, 1 or 2", i);
    if (a->output && !a->core_ndim)
      return ndp__fail(st, NDP_EINVAL, "kernel: output argument %d needs core_ndim >= 1", i);
    if (a->dtype == NDP_UINT64)
      return ndp__fail(st, NDP_ETYPE, "kernel: argument %d: uint64 is not supported (kernel "
                       "ints are int64)", i);
    if ((unsigned)a->dtype > NDP_NTYPES || (a->dtype == NDP_NTYPES && !a->output) ||
        a->dtype == NDP_FLOAT16) /* not supported by kernels */
      return ndp__fail(st, NDP_ETYPE, "kernel: argument %d has an invalid dtype", i);
  }
  ndp_kernel *k = ndp__calloc(1, sizeof *k);
  cc *C = ndp__calloc(1, sizeof *C);
  ndp__karena ar = {0};
  int rc = NDP_ENOMEM;
  if (!k || !C) {
    ndp__fail(st, rc, "kernel: out of memory");
    goto done;
  }
  k->nargs = nargs;
  if (nargs) memcpy(k->args, args, sizeof *args * (size_t)nargs);
  C->k = k;
  C->st = st;
  ndp__knode *fn, **mod;
  int nmod;
  rc = ndp__kparse(&ar, src, func, opts ? opts->first_line : 1, &fn, &mod, &nmod, st);
  if (rc) goto done;
  C->fname = fn->name;
  rc = build(C, fn, mod, nmod, opts);
  if (rc) goto done;
  *out = k;
  k = NULL;
  ndp__ok(st);
done:
  if (C) {
    ndp__free(C->code);
    ndp__free(C->consts);
  }
  ndp__free(C);
  ndp_kernel_free(k);
  ndp__karena_free(&ar);
  return rc;
}

void ndp_kernel_free(ndp_kernel *k) {
  if (!k) return;
  ndp__free(k->code);
  ndp__free(k->consts);
  ndp__free(k);
}

ndp_dtype ndp_kernel_result_dtype(const ndp_kernel *k) { return k ? k->result : NDP_NTYPES; }
ndp_dtype ndp_kernel_arg_dtype(const ndp_kernel *k, int i) {
  return (k && i >= 0 && i < k->nargs) ? k->arg_dtype[i] : NDP_NTYPES;
}
int ndp_kernel_nargs(const ndp_kernel *k) { return k ? k->nargs : 0; }

size_t ndp_kernel_explain(const ndp_kernel *k, char *buf, size_t cap) {
  static const char *names[] = {
#define NDP__XX(x) #x,
      NDP__KOP_MAP(NDP__XX)
#undef NDP__XX
  };
  static const char stc[] = "IDF";
  size_t len = 0;
  char line[160];
  if (cap) buf[0] = 0;
  if (!k) return 0;
  for (int i = -1; i < k->ncode; i++) {
    int m;
    if (i < 0)
      m = snprintf(line, sizeof line, "; %d registers, %d constants, result %s\n", k->nregs,
                   k->nconsts, k->has_result ? ndp_dtype_name(k->result) : "none");
    else {
      const ndp__kins *in = &k->code[i];
      m = snprintf(line, sizeof line, "%4d %-9s.%c d=%d a=%d b=%d c=%d aux=%d imm=%lld line %d\n",
                   i, names[in->op], stc[in->st % 3], in->d, in->a, in->b, in->c, in->aux,
                   (long long)in->imm, in->line);
    }
    if (m < 0) m = 0;
    if (len + (size_t)m < cap) memcpy(buf + len, line, (size_t)m + 1);
    len += (size_t)m;
  }
  return len;
}
