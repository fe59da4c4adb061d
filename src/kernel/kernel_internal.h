/*
 * kernel/kernel_internal.h - what the kernel parser, compiler, VM and
 * driver share: the arena-allocated AST, the register bytecode and the
 * frame one block of lanes runs in. Not installed.
 *
 * Registers are blocks of NDP__KB lanes of 8 bytes (int64 for ints and
 * bools 0/1, double, or float in the first half). Register 0 is the
 * execution mask M (int64 0/1 per lane), register 1 the lanes that have
 * returned. Instructions compute temporaries on every lane and write
 * variables only where M is set (MOVM); instructions that can fail
 * (integer division, indexing, int()) look at M so inactive lanes never
 * raise.
 */
#ifndef NDP_KERNEL_INTERNAL_H
#define NDP_KERNEL_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"
#include "kernels/kernels.h"
#include "ndpar.h"
#include "ndpar/kernel.h"

#define NDP__KB 64            /* lanes per register */
#define NDP__KMAXDEPTH 64      /* nesting of expressions/statements */
#define NDP__KMAXNODES 200000
#define NDP__KMAXHEIGHT 200    /* expression tree height (the compiler recurses) */
#define NDP__KMAXREGS 4096
#define NDP__KMAXARGS 64
#define NDP__KMAXSRC (1 << 22)

/* ---- AST ----------------------------------------------------------------- */

enum {
  N_INT, N_FLOAT, N_BOOL, N_NAME, N_BINOP, N_UNOP, N_CMP, N_BOOLOP, N_IFEXP, N_CALL,
  N_ATTR, N_SUBSCR, N_TUPLE, N_STR, N_NONE,
  S_EXPR, S_ASSIGN, S_AUG, S_IF, S_WHILE, S_FOR, S_BREAK, S_CONTINUE, S_RETURN, S_PASS,
  S_DEF
};

/* operators (BINOP/AUG/UNOP/CMP/BOOLOP) */
enum {
  O_ADD, O_SUB, O_MUL, O_DIV, O_FLOORDIV, O_MOD, O_POW, O_BAND, O_BOR, O_BXOR,
  O_NEG, O_POS, O_INV, O_NOT,
  O_EQ, O_NE, O_LT, O_LE, O_GT, O_GE,
  O_AND, O_OR
};

typedef struct ndp__knode {
  int kind, op, line;
  int depth;                  /* height of the expression tree */
  int64_t ival;
  double fval;
  const char *name;           /* NUL-terminated, in the arena */
  struct ndp__knode *a, *b, *c;
  struct ndp__knode **list;   /* operands, arguments, body */
  int n;
  struct ndp__knode **list2;  /* else body */
  int n2;
  int *ops;                   /* CMP: n-1 operators */
} ndp__knode;

typedef struct ndp__karena {
  struct ndp__kchunk *head;
  size_t used, cap;
  long nodes;
} ndp__karena;

void *ndp__karena_alloc(ndp__karena *a, size_t n);
void ndp__karena_free(ndp__karena *a);

/* Parses src (NUL-terminated); OUT: *fn, the def named func (NULL: the
 * first def), and the module's constant assignments NAME = number in
 * *mod (S_ASSIGN nodes, may be NULL). Errors: NDP_ESYNTAX / NDP_ENAME with
 * st->pos = line (first_line applied). */
int ndp__kparse(ndp__karena *ar, const char *src, const char *func, int first_line,
                ndp__knode **fn, ndp__knode ***mod, int *nmod, ndp_status *st);

/* Records an error "msg (line N)" with st->pos = line. */
int ndp__kfail(ndp_status *st, int code, int line, const char *fmt, ...) NDP__PRINTF(4, 5);

/* ---- bytecode ------------------------------------------------------------ */

/* storage types */
enum { ST_I = 0, ST_D = 1, ST_F = 2 };

/* Opcodes. Operand letters: d dest, a, b, c sources; all registers. */
#define NDP__KOP_MAP(XX)                                                           \
  XX(ADD) XX(SUB) XX(MUL) XX(DIV) XX(FLOORDIV) XX(MOD) XX(POW) XX(MIN) XX(MAX)     \
  XX(BAND) XX(BOR) XX(BXOR) XX(ANDNOT) XX(COPYSIGN) XX(FMOD)                       \
  XX(EQ) XX(NE) XX(LT) XX(LE) XX(GT) XX(GE)                                        \
  XX(NEG) XX(ABS) XX(BNOT) XX(NOT) XX(TRUTH) XX(MOV)                               \
  XX(I2D) XX(I2F) XX(F2D) XX(D2F) XX(D2I)                                          \
  XX(SEL) XX(MOVM) XX(FILL0) XX(RANGECOND) XX(CHKSTEP)                             \
  XX(CALL1) XX(CALL2)                                                              \
  XX(LOADARG) XX(LOAD) XX(STORE) XX(DIM)                                           \
  XX(JMP) XX(JZ) XX(CHECK) XX(END)                                                 \
  XX(MULADD) XX(MULSUB) XX(RMULSUB) XX(CMPAND) XX(OPM)                          \
  XX(FORU) XX(WCOMPACT) XX(WEND)

enum {
#define NDP__XX(x) K_##x,
  NDP__KOP_MAP(NDP__XX)
#undef NDP__XX
  K_NOPS
};

typedef struct ndp__kins {
  uint8_t op, st;  /* opcode, storage type of the operation */
  int16_t aux;     /* CALL: ndp_op; LOAD/STORE/LOADARG/DIM: argument */
  int32_t d, a, b, c;
  int32_t line;
  int64_t imm;     /* JMP/JZ: target; DIM: axis; STORE: value register */
} ndp__kins;

typedef struct ndp__kconst {
  int32_t reg, st;  /* register, storage type (ST_F: the float in bits' low half) */
  int64_t bits;
} ndp__kconst;

struct ndp_kernel {
  ndp__kins *code;
  int ncode;
  ndp__kconst *consts;
  int nconsts;
  int nregs;
  int nargs;
  int has_result;
  int ret_reg;               /* register of the result (vectorize) */
  int first_local, first_tmp; /* locals are [first_local, first_tmp): zeroed per block */
  ndp_dtype result;
  ndp_kernel_arg args[NDP__KMAXARGS];
  ndp_dtype arg_dtype[NDP__KMAXARGS];
  int off_reg[NDP__KMAXARGS + 1];  /* per-lane byte offsets of each argument
                                      (and of out, last) */
  char func[64];
  uint8_t freg[NDP__KMAXREGS / 8]; /* bit r: register r holds a float32 local (4-byte
                                      lanes) where a while loop may compact */
};

/* What one block runs with. */
typedef struct ndp__kframe {
  char *regs;            /* nregs * NDP__KB * 8 bytes, 64-aligned */
  int n;                 /* lanes in this block (<= NDP__KB) */
  int nv;                /* lanes the instructions run over (NDP__KB, or fewer,
                            a multiple of 16, inside a compacted while loop) */
  const ndp__ktable *kt;
  char *const *data;     /* per argument (and out, last) */
  const ndp_dtype *dtype;
  const int64_t (*core_shape)[2];
  const int64_t (*core_stride)[2];
  atomic_int *cancel;
  int (*poll)(void *ud); /* non-NULL on the calling thread only */
  void *poll_ud;
  unsigned checks;
  ndp_status *st;
} ndp__kframe;

typedef int (*ndp__kvm_fn)(const ndp_kernel *k, ndp__kframe *f);
int ndp__kvm_run_ref(const ndp_kernel *k, ndp__kframe *f);
int ndp__kvm_run_avx2(const ndp_kernel *k, ndp__kframe *f);
int ndp__kvm_run_avx512(const ndp_kernel *k, ndp__kframe *f);

#endif
