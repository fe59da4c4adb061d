/*
 * ndpar/expr.h - compiled elementwise expressions and small programs.
 *
 * The language is NumPy-like: + - * / // % **, unary -, the six
 * comparisons, & | ^ ~ on booleans and integers, where(cond, a, b), every
 * function of ufunc.h by name (exp, arctan2, ...; also abs, absolute,
 * minimum, ...), constants (integers, floats, True, False, nan, inf, pi,
 * e; a variable or temporary named e, pi, inf or nan hides the constant),
 * variables, and statements separated by ';' or newlines where all but
 * the last are assignments to temporaries:
 *     t = a * 2; u = where(t > 1, exp(t), log1p(t)); u - b
 * The last statement may be a reduction over the whole result or one
 * axis: sum(x), prod(x), min(x), max(x), mean(x), any(x), all(x), or with
 * an axis: sum(x, axis=0) (also sum(x, 0)).
 *
 * Precedence is Python's (** binds tighter than a unary minus on its
 * left: -2**2 == -4); comparisons do not chain (a < b < c is a syntax
 * error: write (a < b) & (b < c)). Functions also include logical_not,
 * bitwise_and/or/xor and invert; a reduction's axis may be given by
 * position: sum(x, 0).
 *
 * Types follow NumPy's rules for arrays (float32 stays float32, integer
 * division by zero gives 0, comparisons give bool); a variable declared
 * as a scalar follows NEP 50's weak-scalar rules like Python scalars. A
 * weak integer constant that does not fit the dtype it meets is
 * NDP_EOVERFLOW (NumPy's OverflowError) when the operation runs in an
 * integer dtype (u8 + 1000; but u8 / 1000 runs in float64), except in
 * comparisons, which are exact as in NumPy 2 (u8 == -2 is all false),
 * also for a Python int variable. Booleans are read as byte != 0.
 * where() of two scalars gives an array (not weak).
 * A compiled program is immutable: any number of threads may evaluate it
 * at the same time.
 */
#ifndef NDPAR_EXPR_H
#define NDPAR_EXPR_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "array.h"
#include "errors.h"
#include "ufunc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ndp_expr ndp_expr;

/* Kinds of input variable. */
typedef enum ndp_var_kind {
  NDP_VAR_ARRAY = 0,   /* an array of the given dtype (any shape)          */
  NDP_VAR_WEAK_INT,    /* a Python int: takes the other operand's dtype    */
  NDP_VAR_WEAK_FLOAT   /* a Python float: likewise (NEP 50)                */
} ndp_var_kind;

typedef struct ndp_var {
  const char *name;    /* borrowed during compile only */
  ndp_dtype dtype;     /* for NDP_VAR_ARRAY (also the storage dtype of a
                          weak scalar's 0-d array at evaluation: int64 for
                          WEAK_INT, float64 for WEAK_FLOAT) */
  ndp_var_kind kind;
} ndp_var;

/* Compiles src for these variables. Names in src that are not variables,
 * temporaries, functions or constants give NDP_ENAME; syntax errors
 * NDP_ESYNTAX; both set st->pos to the byte offset at fault. Type errors
 * (e.g. ~ on a float) give NDP_ETYPE naming the operator. Nesting deeper
 * than 512 or more than 65536 nodes gives NDP_EINVAL (never a stack
 * overflow). OUT: *out, release with ndp_expr_free. */
NDP_API int ndp_expr_compile(const char *src, int nvars, const ndp_var *vars,
                             ndp_expr **out, ndp_status *st);

NDP_API void ndp_expr_free(ndp_expr *e);

/* A free name of a program: one a variable may bind. */
typedef struct ndp_expr_name {
  int pos, len;  /* its first use: src[pos .. pos + len) */
  int builtin;   /* 1: a built-in constant (e, pi, inf, nan), used when no
                    variable of that name is given */
} ndp_expr_name;

/* The names src reads as values and no earlier statement assigns, each
 * once, in the order of first use: the variables ndp_expr_compile wants
 * (`a = a * 2; a + b` reads a and b). Function names, the axis keyword and
 * True/False are not among them. A variable, like a temporary, always wins
 * over a built-in constant or a function of the same name (`e * 2` with a
 * variable e reads it; `exp + 1` with a variable exp too).
 * OUT: names[0 .. min(*n, cap)), *n the count (call again with a larger
 * cap when *n > cap). Returns 0 or the parse errors of ndp_expr_compile. */
NDP_API int ndp_expr_names(const char *src, ndp_expr_name *names, int cap, int *n,
                           ndp_status *st);

/* The result's dtype. */
NDP_API ndp_dtype ndp_expr_dtype(const ndp_expr *e);

/* 1 when the program ends in a reduction (sum, prod, min, max, mean, any,
 * all), else 0. */
NDP_API int ndp_expr_reduces(const ndp_expr *e);

/* The result's shape for these inputs (vars[i] describes variable i, in
 * the order given to compile; a weak scalar is a 0-d array). Broadcasts
 * the inputs, then applies the reduction if any.
 * OUT: *ndim, shape[NDP_MAXDIMS]. Returns 0 or NDP_ESHAPE / NDP_EINVAL. */
NDP_API int ndp_expr_shape(const ndp_expr *e, const ndp_array *const *vars,
                           int *ndim, int64_t *shape, ndp_status *st);

/* The shape (as ndp_expr_shape) and the byte strides, for items of
 * itemsize bytes, of a new result under NumPy's order rule: 'C', 'F',
 * 'A' (F when every array variable is F-contiguous, else C) or 'K' (the
 * variables' memory order, as NumPy's iterator allocates it; a reduced
 * axis leaves that order). ndp_expr_eval walks any output in its own
 * memory order. OUT: *ndim, shape[], strides[] (NDP_MAXDIMS each).
 * Returns 0, ndp_expr_shape's errors or NDP_EINVAL for another order. */
NDP_API int ndp_expr_layout(const ndp_expr *e, const ndp_array *const *vars, char order,
                            size_t itemsize, int *ndim, int64_t *shape, int64_t *strides,
                            ndp_status *st);

/* Evaluates into out (shape from ndp_expr_shape; the result is cast to
 * out->dtype under `casting`). Runs in cache-sized blocks on the pool with
 * no array-sized temporaries but the one below; reductions are
 * deterministic (the same bits for any thread count). out may alias an
 * input exactly; an input that overlaps out only partly is copied first
 * (NumPy's rule), so the result is as if every input were read before out
 * is written. */
NDP_API int ndp_expr_eval(const ndp_expr *e, const ndp_array *const *vars,
                          const ndp_array *out, ndp_casting casting,
                          const ndp_exec *ex, ndp_status *st);

/* Writes a readable listing of the compiled program into buf (always
 * NUL-terminated when cap > 0). Returns the length it needed. */
NDP_API size_t ndp_expr_explain(const ndp_expr *e, char *buf, size_t cap);

/* ---- exact sums ------------------------------------------------------------
 * A superaccumulator (after Neal, "Fast exact summation using small and
 * large superaccumulators", 2015): float64 values are added exactly, as
 * fixed-point integers in 67 signed 64-bit chunks of 32 bits each (chunk i
 * weighs 2^(32 i - 1074), the whole double range and carries beyond it),
 * and rounded once, to nearest even. So a sum is correctly rounded, and
 * the same for any order, thread count or chunking: partial states of
 * any split of the data, merged in any order, round to the same double.
 * Infinities and NaN are counted apart: NaN if any term is NaN or both
 * infinities occur, else the infinity; a zero sum is +0.0, also of
 * terms that are all -0.0 (NumPy's sum, which starts from +0.0). ndp_expr_eval's
 * float64 sum and mean use it (mean: the rounded sum divided by the
 * count). Any thread may use its own state; a state is plain data. */
#define NDP_XSUM_CHUNKS 67
#define NDP_XSUM_BYTES (16 + 8 * NDP_XSUM_CHUNKS) /* serialized state */

typedef struct ndp_xsum {
  int64_t chunk[NDP_XSUM_CHUNKS];
  int64_t pending; /* terms added since the last carry propagation */
  uint32_t flags;  /* NDP_XSUM_* below */
} ndp_xsum;

#define NDP_XSUM_PINF 1u    /* a +inf term */
#define NDP_XSUM_NINF 2u    /* a -inf term */
#define NDP_XSUM_NAN 4u     /* a NaN term */

NDP_API void ndp_xsum_init(ndp_xsum *s);
/* s += x[0 .. n), exactly. */
NDP_API void ndp_xsum_add(ndp_xsum *s, const double *x, int64_t n);
/* s += sum of a[i] * b[i], exactly (each product split by an FMA into its
 * rounded value and its exact error; exact unless a product underflows
 * below 2^-1022, where the error term is itself rounded). */
NDP_API void ndp_xsum_add_dot(ndp_xsum *s, const double *a, const double *b, int64_t n);
/* s += t, exactly (t unchanged). */
NDP_API void ndp_xsum_merge(ndp_xsum *s, const ndp_xsum *t);
/* The correctly rounded value of s (s unchanged). */
NDP_API double ndp_xsum_round(const ndp_xsum *s);
/* Canonical serialized form: NDP_XSUM_BYTES bytes ("NDPXSUM1", flags as
 * little-endian uint32, 4 zero bytes, then the carried chunks as
 * little-endian int64): equal sums give equal bytes. */
NDP_API void ndp_xsum_to_bytes(const ndp_xsum *s, unsigned char *out);
/* Reads ndp_xsum_to_bytes' form. Returns 0, or NDP_EINVAL (wrong length,
 * magic or out-of-range chunks: the message says which). */
NDP_API int ndp_xsum_from_bytes(ndp_xsum *s, const unsigned char *b, size_t n,
                                ndp_status *st);

#ifdef __cplusplus
}
#endif
#endif /* NDPAR_EXPR_H */
