/*
 * expr/expr_internal.h - shared by parse.c, compile.c and vm.c (and
 * read by apply/apply.c, which evaluates compiled programs per group).
 *
 * Pipeline: parse.c turns the source into an AST stored in one growable
 * array whose nodes are appended children first, so every child has a
 * smaller index than its parent. compile.c walks that array in index order
 * (no recursion: a 10,000-operand chain costs no stack) to build typed,
 * hash-consed IR nodes (common subexpressions become one node), then
 * emits bytecode over block registers. vm.c runs the bytecode over
 * BLOCK-element blocks of the broadcast result on the pool.
 */
#ifndef NDP_EXPR_INTERNAL_H
#define NDP_EXPR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"
#include "ndpar.h"

#define NDP__EXPR_MAXDEPTH 512
#define NDP__EXPR_MAXNODES 65536
#define NDP__EXPR_BLOCK 256 /* elements per block register (2 KiB): small blocks keep
                               * every input stream busy (measured: 2048 gave 60% less
                               * bandwidth on one core) */

/* ---- AST (parse.c) ------------------------------------------------------ */

enum { A_INT, A_FLOAT, A_NAME, A_UNARY, A_BINARY, A_CALL, A_KWARG };

/* operator tokens (also the AST's op field) */
enum {
  T_ADD, T_SUB, T_MUL, T_DIV, T_FDIV, T_MOD, T_POW,
  T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
  T_AND, T_OR, T_XOR, T_INV, T_NEG, T_POS, T_NOPS
};

typedef struct ndp__anode {
  int kind;      /* A_* */
  int op;        /* T_* for unary/binary */
  int arg[3];    /* children (-1: none); calls: positional or A_KWARG */
  int nargs;
  int pos, len;  /* source span of the name, operator or literal */
  int64_t ival;
  double fval;
} ndp__anode;

typedef struct ndp__astmt {
  int name_pos, name_len; /* assignment target; name_len 0: expression */
  int first, root;        /* its nodes are [first, root] */
} ndp__astmt;

typedef struct ndp__ast {
  const char *src;
  ndp__anode *n;
  int nn, ncap;
  ndp__astmt *s;
  int ns, scap;
} ndp__ast;

/* Parses src (NUL-terminated). Returns 0 or NDP_ESYNTAX / NDP_EINVAL /
 * NDP_ENOMEM with st->pos set. OUT: *a (free with ndp__ast_free, also
 * after a failure). */
int ndp__parse(const char *src, ndp__ast *a, ndp_status *st);
void ndp__ast_free(ndp__ast *a);
/* Fails with `code` at byte offset pos. */
int ndp__fail_at(ndp_status *st, int code, long pos, const char *fmt, ...)
    NDP__PRINTF(4, 5);

/* ---- program (compile.c, read by vm.c) ---------------------------------- */

enum { X_UFUNC, X_CAST, X_WHERE, X_BIT, X_NOT, X_COPY };
enum { B_AND, B_OR, B_XOR };
enum { R_NONE, R_SUM, R_PROD, R_MIN, R_MAX, R_MEAN, R_ANY, R_ALL };
enum { REG_TEMP, REG_INPUT, REG_CONST };

typedef struct ndp__insn {
  uint8_t code;   /* X_* */
  uint8_t dtype;  /* result dtype */
  uint8_t ldt;    /* X_UFUNC: loop dtype; X_CAST: source dtype */
  uint8_t mixed;  /* X_UFUNC: 1 int64-vs-uint64, 2 uint64-vs-int64;
                     X_CAST: 1 checked (a computed Python int into an
                     integer dtype: NDP_EOVERFLOW if a value does not fit) */
  int16_t op;     /* X_UFUNC: ndp_op; X_BIT: B_* */
  int32_t dst, src[3];
  /* X_WHERE: a branch whose value is one costly operation used nowhere
   * else is fused: bop[b] >= 0 is that ufunc, run only on the lanes that
   * take branch b, on registers bsrc[b]; src[1 + b] is then -1. */
  int16_t bop[2];
  uint8_t bldt[2];
  int32_t bsrc[2][2];
} ndp__insn;

typedef struct ndp__reg {
  int kind;       /* REG_* */
  ndp_dtype dtype;
  int var;        /* REG_INPUT: variable index */
  size_t coff;    /* REG_CONST: byte offset of its block in consts */
  unsigned char cval[8]; /* REG_CONST: the value (for explain) */
} ndp__reg;

typedef struct ndp__evar {
  char *name;
  ndp_dtype dtype; /* storage dtype */
  ndp_var_kind kind;
  int used;
  unsigned int_targets; /* weak ints: bit per integer dtype the value meets;
                           eval refuses a value that does not fit one */
} ndp__evar;

struct ndp_expr {
  int nvars;
  ndp__evar *vars;
  int nregs;
  ndp__reg *regs;
  int ninsn;
  ndp__insn *code;
  unsigned char *consts; /* NDP__EXPR_BLOCK items per constant register */
  int root;              /* register holding the elementwise value */
  ndp_dtype vdt;         /* its dtype */
  int red;               /* R_* */
  int axis, has_axis;
  ndp_dtype adt;         /* reduction accumulator dtype */
  ndp_dtype rdt;         /* the program's result dtype */
};

/* ---- helpers in vm.c, shared with compile.c's constant folding ---------- */

void ndp__x_bit(int op, size_t isz, const char *a, const char *b, char *o, size_t n);
void ndp__x_not(ndp_dtype dt, const char *a, char *o, size_t n);
void ndp__x_where(size_t isz, const char *c, const char *a, const char *b, char *o,
                  size_t n);

/* Exact float64 sums (xsum.c): a streaming accumulator for the
 * reductions, flushed into an ndp_xsum (ndpar/expr.h) at the end. */
typedef struct ndp__xacc {
  uint64_t big[2][4096]; /* by sign and exponent: sums of significands */
  int64_t s[NDP_XSUM_CHUNKS];
  int64_t cnt;        /* terms since the last flush of big */
  int emin, emax;     /* exponents used in big since then */
  uint32_t flags;
} ndp__xacc;
void ndp__xacc_init(ndp__xacc *a);
void ndp__xacc_add(ndp__xacc *a, const double *x, int64_t n);
void ndp__xacc_flush(ndp__xacc *a, ndp_xsum *s); /* s += a; a emptied, reusable */
void ndp__xsum_add1(ndp_xsum *s, double x); /* one term, straight into s */

#endif
