/*
 * ndpar/kernel.h - user kernels: a function written in a subset of Python,
 * compiled by ndpar's own parser to a register bytecode and run SPMD on
 * blocks of lanes under per-lane masks, on all cores.
 *
 * A kernel is one `def` (decorator lines and docstrings are skipped). Its
 * parameters are, in order, the arguments described by ndp_kernel_arg:
 *  - core_ndim 0: a scalar per lane (each element of a vectorize call, or a
 *    "()" input of a guvectorize signature);
 *  - core_ndim 1 or 2: a row (or 2-D block) per lane, read as x[j] or
 *    x[i, j], sized by x.shape[k] / len(x); `output` ones may be written.
 * A kernel that returns a value (vectorize) has one result per lane; one
 * with output parameters (guvectorize) returns nothing.
 *
 * The language: int/float/bool literals, locals with inferred stable types
 * (int widens to float as Python would), + - * / // % ** (Python's
 * semantics for // % on ints and floats), & | ^ ~ on ints and bools,
 * comparisons (chained), and/or/not (short-circuit), x if c else y,
 * if/elif/else, while, for over range(1-3 args), break, continue, return,
 * tuple and augmented assignment, math.* / np.* functions, abs, min, max,
 * int, float, bool, round(x), and numeric module-level constants.
 * Differences from Python, by design: ints are int64 and wrap on overflow;
 * float division or modulo by zero gives inf/nan as in NumPy (integer
 * division or modulo by zero is an error, NDP_EDOMAIN); math.* functions
 * return NaN/inf where Python's raise ValueError; an int ** a negative int
 * exponent is an error unless the exponent is a literal (then float).
 * Floats are float64 unless every operand of an operation is float32 or a
 * literal/constant (then float32).
 *
 * Thread-safety: a compiled ndp_kernel is immutable; any number of threads
 * may evaluate it at once.
 */
#ifndef NDPAR_KERNEL_H
#define NDPAR_KERNEL_H

#include "export.h"

#include "array.h"
#include "errors.h"
#include "ufunc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ndp_kernel ndp_kernel;

typedef struct ndp_kernel_arg {
  ndp_dtype dtype; /* inputs: the argument's dtype (not uint64);
                      outputs: a dtype, or NDP_NTYPES to infer it from
                      what the kernel stores */
  int core_ndim;   /* 0, 1 or 2 */
  int output;      /* 1: an output parameter (must have core_ndim >= 1) */
} ndp_kernel_arg;

/* A module-level name the kernel may read. kind: 0 int, 1 float, 2 bool,
 * 3 not a number (using it is a NDP_ETYPE error naming it). */
typedef struct ndp_kernel_const {
  const char *name;
  int kind;
  int64_t i;
  double d;
} ndp_kernel_const;

typedef struct ndp_kernel_opts {
  int first_line;                 /* line number of the text's first line;
                                     0 means 1 */
  int nconsts;
  const ndp_kernel_const *consts; /* borrowed, only during the call */
} ndp_kernel_opts;

/* Parses src and finds `func` (NULL: the first def). OUT: *nparams (may be
 * NULL). Returns 0, NDP_ESYNTAX or NDP_ENAME (no such def). Errors in the
 * text: st->msg ends with "(line N)" and st->pos = N (a line number, with
 * opts->first_line applied), for every error of this header. */
NDP_API int ndp_kernel_check(const char *src, const char *func, const ndp_kernel_opts *opts,
                             int *nparams, ndp_status *st);

/* Compiles `func` of src for nargs arguments (one per parameter). OUT:
 * *out, owned (release with ndp_kernel_free). Returns 0, NDP_ESYNTAX
 * (unsupported construct), NDP_ETYPE (a type that does not fit, an unknown
 * function, a non-number global), NDP_ENAME (an undefined name), NDP_EINVAL
 * (arguments that do not match the parameters) or NDP_ENOMEM. */
NDP_API int ndp_kernel_compile(const char *src, const char *func, int nargs,
                               const ndp_kernel_arg *args, const ndp_kernel_opts *opts,
                               ndp_kernel **out, ndp_status *st);

NDP_API void ndp_kernel_free(ndp_kernel *k);

/* The result dtype (bool, int64, float32 or float64), or NDP_NTYPES for a
 * kernel that returns nothing. */
NDP_API ndp_dtype ndp_kernel_result_dtype(const ndp_kernel *k);
/* Parameter i's dtype: an input's own, an output's given or inferred one
 * (float64 for an output never written); NDP_NTYPES when out of range. */
NDP_API ndp_dtype ndp_kernel_arg_dtype(const ndp_kernel *k, int i);
NDP_API int ndp_kernel_nargs(const ndp_kernel *k);

/* Runs the kernel. args: nargs borrowed arrays; an argument's last
 * core_ndim dimensions are its core, the leading ones are loop dimensions,
 * broadcast together (NumPy's rules) into the loop shape. Outputs must
 * have exactly the loop shape in front of their core, and a dtype the
 * stored values cast to under 'same_kind' (or, for int values, any
 * integer dtype: they wrap). out: for a kernel with a result, an array of
 * the loop shape (any dtype the result casts to under 'same_kind'); NULL
 * otherwise. Outputs must not overlap inputs
 * except exactly (each lane reads its own elements before writing).
 * Results are the same bits for any thread count.
 * Returns 0 or NDP_ESHAPE, NDP_ETYPE, NDP_EINVAL, NDP_EDOMAIN (integer
 * division by zero, negative exponent, range() step 0, int() of NaN),
 * NDP_EOVERFLOW (int() of a float out of the int64 range), NDP_EINDEX
 * (index out of range), NDP_EUSER (a lane reached the end of a function
 * that returns a value elsewhere), NDP_ECANCELED, NDP_ENOMEM; runtime
 * errors name the line (st->pos = the line). */
NDP_API int ndp_kernel_eval(const ndp_kernel *k, const ndp_array *const *args,
                            const ndp_array *out, const ndp_exec *ex, ndp_status *st);

/* The bytecode as text (for debugging). Writes at most cap bytes
 * (NUL-terminated when cap > 0); returns the length needed. */
NDP_API size_t ndp_kernel_explain(const ndp_kernel *k, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* NDPAR_KERNEL_H */
