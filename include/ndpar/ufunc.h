/*
 * ndpar/ufunc.h - elementwise functions over strided arrays, on all cores.
 *
 * Names, type resolution, casting rules and results follow NumPy's ufuncs
 * (see docs/design.md for the deliberate differences: no floating-point
 * warnings). float16 loops compute in float32 and round to float16, as
 * NumPy's 'e' loops do. A bool byte is True when nonzero
 * (any byte, as NumPy) and bool results are 0/1; float min/max functions
 * give the second operand on ties (-0 vs +0), as NumPy.
 */
#ifndef NDPAR_UFUNC_H
#define NDPAR_UFUNC_H

#include "export.h"

#include "array.h"
#include "errors.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Type classes of the operations (which loops exist):
 *   FLT   e,f,d           ->same     (transcendentals, sqrt, cbrt, rint)
 *   ALL   ?,ints,e,f,d    ->same     (abs, floor, ...)
 *   NUM   ints,e,f,d      ->same     (negative, square, subtract, ...)
 *   PRED  any             ->bool     (isnan, comparisons, logical_*)
 *   DIV   e,f,d; ints->d  ->same     (divide)
 */
#define NDP_OP_MAP(XX)                   \
  XX(EXP, "exp", 1, FLT)                 \
  XX(EXPM1, "expm1", 1, FLT)             \
  XX(EXP2, "exp2", 1, FLT)               \
  XX(LOG, "log", 1, FLT)                 \
  XX(LOG1P, "log1p", 1, FLT)             \
  XX(LOG2, "log2", 1, FLT)               \
  XX(LOG10, "log10", 1, FLT)             \
  XX(SQRT, "sqrt", 1, FLT)               \
  XX(CBRT, "cbrt", 1, FLT)               \
  XX(SIN, "sin", 1, FLT)                 \
  XX(COS, "cos", 1, FLT)                 \
  XX(TAN, "tan", 1, FLT)                 \
  XX(ARCSIN, "arcsin", 1, FLT)           \
  XX(ARCCOS, "arccos", 1, FLT)           \
  XX(ARCTAN, "arctan", 1, FLT)           \
  XX(SINH, "sinh", 1, FLT)               \
  XX(COSH, "cosh", 1, FLT)               \
  XX(TANH, "tanh", 1, FLT)               \
  XX(ARCSINH, "arcsinh", 1, FLT)         \
  XX(ARCCOSH, "arccosh", 1, FLT)         \
  XX(ARCTANH, "arctanh", 1, FLT)         \
  XX(ABS, "abs", 1, ALL)                 \
  XX(NEGATIVE, "negative", 1, NUM)       \
  XX(FLOOR, "floor", 1, ALL)             \
  XX(CEIL, "ceil", 1, ALL)               \
  XX(TRUNC, "trunc", 1, ALL)             \
  XX(RINT, "rint", 1, FLT)               \
  XX(SQUARE, "square", 1, NUM)           \
  XX(RECIPROCAL, "reciprocal", 1, NUM)   \
  XX(SIGN, "sign", 1, NUM)               \
  XX(ISNAN, "isnan", 1, PRED)            \
  XX(ISINF, "isinf", 1, PRED)            \
  XX(ISFINITE, "isfinite", 1, PRED)      \
  XX(ADD, "add", 2, ALL)                 \
  XX(SUBTRACT, "subtract", 2, NUM)       \
  XX(MULTIPLY, "multiply", 2, ALL)       \
  XX(DIVIDE, "divide", 2, DIV)           \
  XX(FLOOR_DIVIDE, "floor_divide", 2, NUM) \
  XX(REMAINDER, "remainder", 2, NUM)     \
  XX(POWER, "power", 2, NUM)             \
  XX(MINIMUM, "minimum", 2, ALL)         \
  XX(MAXIMUM, "maximum", 2, ALL)         \
  XX(FMIN, "fmin", 2, ALL)               \
  XX(FMAX, "fmax", 2, ALL)               \
  XX(ARCTAN2, "arctan2", 2, FLT)         \
  XX(HYPOT, "hypot", 2, FLT)             \
  XX(EQUAL, "equal", 2, PRED)            \
  XX(NOT_EQUAL, "not_equal", 2, PRED)    \
  XX(LESS, "less", 2, PRED)              \
  XX(LESS_EQUAL, "less_equal", 2, PRED)  \
  XX(GREATER, "greater", 2, PRED)        \
  XX(GREATER_EQUAL, "greater_equal", 2, PRED) \
  XX(LOGICAL_AND, "logical_and", 2, PRED) \
  XX(LOGICAL_OR, "logical_or", 2, PRED)  \
  XX(LOGICAL_XOR, "logical_xor", 2, PRED)

typedef enum ndp_op {
#define NDP__XX(id, name, nin, cls) NDP_OP_##id,
  NDP_OP_MAP(NDP__XX)
#undef NDP__XX
  NDP_NOPS
} ndp_op;

/* Operation by NumPy name ("exp", "add"; also the aliases "absolute",
 * "true_divide", "mod", "pow"). Returns the op (>= 0) or NDP_ENOFUNC. */
NDP_API int ndp_op_lookup(const char *name);
/* Static name of an op; NULL when out of range. */
NDP_API const char *ndp_op_name(int op);
/* Number of inputs (1 or 2); 0 when out of range. */
NDP_API int ndp_op_nin(int op);

/* Resolves the loop NumPy would pick for these input dtypes.
 * `loop` is NDP_NTYPES to choose (NumPy's first loop that every input casts
 * to safely), or a dtype forced by the caller (NumPy's dtype= argument;
 * inputs must cast to it under `casting`).
 * OUT: *loop_dtype, the dtype the computation runs in;
 *      *out_dtype, the dtype of the result (bool for predicates).
 * Returns 0, NDP_ENOFUNC, NDP_ETYPE (no loop) or NDP_ECAST. */
NDP_API int ndp_op_resolve(int op, const ndp_dtype *in_dtypes, ndp_dtype loop,
                           ndp_casting casting, ndp_dtype *loop_dtype,
                           ndp_dtype *out_dtype, ndp_status *st);

/* One loop of an operation: input dtypes (in[1] is NDP_NTYPES for a unary
 * operation) and the output dtype. */
typedef struct ndp_loop_sig {
  ndp_dtype in[2];
  ndp_dtype out;
} ndp_loop_sig;
#define NDP_MAX_LOOPS 32

/* The loops of op in NumPy's type-list order, the order ndp_op_resolve
 * tries them in (the first one every input casts to safely wins), for a
 * face whose dispatcher walks a type list itself (NumPy's ufunc objects).
 * An entry with out == NDP_NTYPES is a signature the operation refuses
 * (negative and sign of a bool, subtract of two bools); ndp_op_resolve
 * gives the reason. Writes at most cap entries to sig (which may be NULL)
 * and returns the number of loops (at most NDP_MAX_LOOPS), or
 * NDP_ENOFUNC. */
NDP_API int ndp_op_loops(int op, ndp_loop_sig *sig, int cap);

/* Resolves a call of ndp_ufunc before it runs, weak operands included
 * (Python scalars: see NDP_ARRAY_WEAK_INT in array.h), as NumPy 2 does
 * (NEP 50): the loop is chosen with a weak int standing for the other
 * operand's dtype when that is an integer or float one (a float for a
 * float one; else int64, float64; a bool is a bool), then the value is
 * converted to the loop's dtype: an int that does not fit an integer loop
 * is NDP_EOVERFLOW ("Python integer 300 (argument 2) is out of bounds for
 * uint8"), except in comparisons, which widen it and compare exactly;
 * logical functions take its truth; a value of a higher kind than the loop
 * keeps its default dtype and meets the casting rule; under 'equiv' a
 * value is not converted to a dtype other than its default (NDP_ECAST).
 * A unary function's weak operand is an array of its default dtype.
 * in: nin descriptors (only dtype, flags and a weak one's value are read);
 * out: the output's dtype, checked under `casting`, or NDP_NTYPES;
 * names: NULL, or nin names for the messages ("argument 'x2'").
 * OUT: *loop_dtype, *out_dtype as in ndp_op_resolve (either may be NULL).
 * Returns 0, NDP_EOVERFLOW, NDP_ECAST, NDP_ETYPE, NDP_EINVAL, NDP_ENOFUNC. */
NDP_API int ndp_ufunc_resolve(int op, const ndp_array *const *in, ndp_dtype loop,
                              ndp_casting casting, ndp_dtype out, const char *const *names,
                              ndp_dtype *loop_dtype, ndp_dtype *out_dtype, ndp_status *st);

/* Execution options shared by the engine's entry points; NULL means
 * defaults (all threads, no polling). */
typedef struct ndp_exec {
  int nthreads;         /* 0: ndp_get_num_threads() */
  ndp_poll_fn poll;     /* see pool.h; lets a caller show progress/cancel */
  void *poll_ud;
  double poll_interval; /* seconds; 0 means 0.05 */
} ndp_exec;

/* out = op(in[0] [, in[1]]) elementwise, with NumPy broadcasting.
 * in: nin borrowed descriptors, weak (0-d Python scalars) or not, resolved
 * as in ndp_ufunc_resolve; out: the inputs must broadcast to its
 * shape (usually their own broadcast shape; it may be larger, as NumPy). `loop` and `casting` as in ndp_op_resolve; the
 * result is cast to out->dtype, which must be allowed under `casting`.
 * Output may alias an input exactly (in place); an output that partially
 * overlaps an input is handled by buffering that input.
 * Returns 0 or a negative code (NDP_EDOMAIN: integer to a negative integer
 * power; NDP_ECANCELED: the poll callback asked to stop). */
NDP_API int ndp_ufunc(int op, const ndp_array *const *in, const ndp_array *out,
                      ndp_dtype loop, ndp_casting casting, const ndp_exec *ex,
                      ndp_status *st);

/* NumPy's inner-loop contract, for a face whose ufunc objects are NumPy's
 * (NumPy resolves, casts and iterates; ndpar runs the span): n elements of
 * op over 1-D strided operands, inputs data[0..nin-1] and output data[nin],
 * of dtypes dt[0..nin] (a signature ndp_op_loops lists or ndp_op_resolve
 * gives), strides in bytes. By the overlap NumPy leaves on purpose:
 *  - none, or an output that is an input exactly: elementwise, in parallel;
 *  - a binary op whose output has stride 0 and is input 0 (a reduction):
 *    *out = *out op (x[0] op x[1] op ...); add, multiply, minimum,
 *    maximum, fmin, fmax and the logical functions reduce in parallel in
 *    fixed blocks combined as a tree (the same bits for any thread count;
 *    sums are pairwise, not NumPy's exact order); the others fold in order;
 *  - any other (accumulate: input 0 is the output one element back): in
 *    order, element by element.
 * Returns 0 or a negative code as ndp_ufunc. */
NDP_API int ndp_ufunc_strided(int op, const ndp_dtype *dt, char *const *data, int64_t n,
                              const int64_t *strides, const ndp_exec *ex, ndp_status *st);

/* Broadcast shape of n arrays. OUT: *ndim, shape[NDP_MAXDIMS].
 * Returns 0 or NDP_ESHAPE. */
NDP_API int ndp_broadcast_shape(int n, const ndp_array *const *arrs, int *ndim,
                                int64_t *shape, ndp_status *st);

/* dst = src cast elementwise (shapes must be equal or src broadcastable),
 * under `casting`. In parallel. */
NDP_API int ndp_copy(const ndp_array *src, const ndp_array *dst, ndp_casting casting,
                     const ndp_exec *ex, ndp_status *st);

/* Instruction sets the kernels are compiled for. */
typedef enum ndp_isa {
  NDP_ISA_REF = 0,  /* portable C and libm, scalar (the reference) */
  NDP_ISA_SSE2,     /* x86-64 baseline, SLEEF 2-lane kernels */
  NDP_ISA_AVX2,     /* AVX2 + FMA */
  NDP_ISA_AVX512,   /* AVX-512 F/DQ/VL/BW */
  NDP_NISAS
} ndp_isa;

/* The instruction set in use: the last ndp_set_isa, else the best the CPU
 * supports, lowered by NDPAR_ISA (ref, sse2, avx2, avx512) when set (read
 * once, at the first call). */
NDP_API ndp_isa ndp_get_isa(void);
/* Best the CPU supports, ignoring NDPAR_ISA and ndp_set_isa. */
NDP_API ndp_isa ndp_cpu_isa(void);
/* Forces an instruction set for later calls; NDP_EINVAL if the CPU lacks it.
 * Process-global (one atomic store): may be called from any thread, also
 * while other calls run; each call (and each expression compile, for its
 * folded constants) reads the setting once when it starts, so calls
 * already running keep the kernels they started with. */
NDP_API int ndp_set_isa(ndp_isa isa);
/* "ref", "sse2", "avx2", "avx512"; NULL when out of range. */
NDP_API const char *ndp_isa_name(ndp_isa isa);

/* Documented worst-case error of op's float64 (f32 = 0) or float32
 * (f32 = 1) kernels at the instruction set in use, in ULPs; 0 for exact
 * operations. */
NDP_API double ndp_op_ulp_bound(int op, int f32);

#ifdef __cplusplus
}
#endif
#endif /* NDPAR_UFUNC_H */
