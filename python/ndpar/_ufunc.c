/*
 * python/ndpar/_ufunc.c - ndpar's elementwise functions as numpy.ufunc
 * objects whose loops run on ndpar's pool.
 *
 * Each ufunc is built from libndpar's loop list (ndp_op_loops, NumPy's
 * type-list order): NumPy walks that list to resolve a call, Python
 * scalars (NEP 50), dtype=, signature= and casting= included, so type
 * resolution is NumPy's own over ndpar's loops. Every loop is an
 * ArrayMethod (PyUFunc_AddLoopFromSpec) that hands NumPy's span to
 * ndp_ufunc_strided: elementwise, reduce and accumulate spans alike. A
 * unary function has a loop for every input dtype libndpar resolves
 * (libndpar casts inside its own blocks, so exp(int16) is not buffered by
 * NumPy); binary ones have the list's loops, and NumPy casts mixed inputs.
 * A loop keeps the GIL (NPY_METH_REQUIRES_PYAPI) so that it can release it
 * itself around a long span, poll Ctrl-C and raise libndpar's error; it
 * raises no floating-point warnings (NPY_METH_NO_FLOATINGPOINT_ERRORS).
 */
#define NO_IMPORT_ARRAY
#include "_common.h"

#include <numpy/dtype_api.h>
#include <numpy/ufuncobject.h>

#include <fenv.h>
#include <string.h>

/* ---- the loops ---------------------------------------------------------- */

static int run_span(int op, PyArrayMethod_Context *ctx, char *const *data,
                    const npy_intp *dims, const npy_intp *strides) {
  const int nin = ndp_op_nin(op);
  ndp_dtype dt[3];
  int64_t s[3];
  for (int k = 0; k <= nin; k++) {
    if (!ndpar_from_typenum(ctx->descriptors[k]->type_num, &dt[k])) {
      PyErr_Format(PyExc_TypeError, "ndpar.%s: dtype %S is not supported", ndp_op_name(op),
                   (PyObject *)ctx->descriptors[k]);
      return -1;
    }
    s[k] = strides[k];
  }
  const npy_intp n = dims[0];
  ndp_status st = {0, {0}, -1};
  int rc;
  if (n >= GIL_RELEASE_MIN) {
    ndpar_gil_poll g;
    ndp_exec ex = {ndpar_nthreads(), ndpar_poll_signals, &g, 0.05};
    g.ts = PyEval_SaveThread();
    rc = ndp_ufunc_strided(op, dt, data, n, s, &ex, &st);
    PyEval_RestoreThread(g.ts);
  } else {
    rc = ndp_ufunc_strided(op, dt, data, n, s, NULL, &st);
  }
  /* no floating-point warnings: NumPy checks the flags after a step that
   * may raise them (a cast), and ours are not its business */
  feclearexcept(FE_ALL_EXCEPT);
  if (rc) {
    ndpar_raise_status(ndp_op_name(op), rc, &st);
    return -1;
  }
  return 0;
}

#define NDP__LOOP(id, name, nin, cls)                                                     \
  static int loop_##id(PyArrayMethod_Context *ctx, char *const *data,                     \
                       const npy_intp *dims, const npy_intp *strides, NpyAuxData *aux) { \
    (void)aux;                                                                            \
    return run_span(NDP_OP_##id, ctx, data, dims, strides);                               \
  }
NDP_OP_MAP(NDP__LOOP)
#undef NDP__LOOP
#define NDP__LOOP(id, name, nin, cls) loop_##id,
static PyArrayMethod_StridedLoop *const loops[NDP_NOPS] = {NDP_OP_MAP(NDP__LOOP)};
#undef NDP__LOOP

/* A signature libndpar refuses (negative of a bool, ...): resolving it
 * raises libndpar's reason, where NumPy's list walk would otherwise pick a
 * wider loop silently. */
static NPY_CASTING refuse(int op, PyArray_DTypeMeta *const *dtypes) {
  ndp_dtype in[2] = {NDP_BOOL, NDP_BOOL}, l, o;
  (void)dtypes;
  ndp_status st = {0, {0}, -1};
  int rc = ndp_op_resolve(op, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, &st);
  PyErr_Format(ndpar_exception_for(rc ? rc : NDP_ETYPE), "ndpar.%s: %s", ndp_op_name(op),
               rc ? st.msg : "this signature is not supported");
  return (NPY_CASTING)-1;
}
#define NDP__REFUSE(id)                                                                \
  static NPY_CASTING refuse_##id(struct PyArrayMethodObject_tag *m, PyArray_DTypeMeta *const *dt, \
                                 PyArray_Descr *const *given, PyArray_Descr **loop,   \
                                 npy_intp *view_offset) {                              \
    (void)m, (void)given, (void)loop, (void)view_offset;                               \
    return refuse(NDP_OP_##id, dt);                                                    \
  }
NDP__REFUSE(NEGATIVE)
NDP__REFUSE(SIGN)
NDP__REFUSE(SUBTRACT)
#undef NDP__REFUSE

static PyArrayMethod_ResolveDescriptors *refuser(int op) {
  switch (op) {
  case NDP_OP_NEGATIVE: return (PyArrayMethod_ResolveDescriptors *)refuse_NEGATIVE;
  case NDP_OP_SIGN: return (PyArrayMethod_ResolveDescriptors *)refuse_SIGN;
  case NDP_OP_SUBTRACT: return (PyArrayMethod_ResolveDescriptors *)refuse_SUBTRACT;
  default: return NULL;
  }
}

/* NumPy's legacy loop slot: the type list needs one per entry, but every
 * entry has an ArrayMethod, which NumPy's dispatcher finds first; this
 * one counts its calls (tests assert none) and still computes right. */
static Py_ssize_t legacy_calls;
static ndp_loop_sig legacy_sig[NDP_NOPS][NDP_MAX_LOOPS];
static int legacy_op[NDP_NOPS][NDP_MAX_LOOPS];

static void legacy_loop(char **args, const npy_intp *dims, const npy_intp *steps, void *data) {
  const int *opp = data;
  const int op = *opp;
  const ndp_loop_sig *sig = &legacy_sig[op][opp - legacy_op[op]];
  const int nin = ndp_op_nin(op);
  ndp_dtype dt[3] = {sig->in[0], sig->in[1], sig->out};
  dt[nin] = sig->out;
  int64_t s[3] = {steps[0], steps[1], nin > 1 ? steps[2] : 0};
  ndp_status st = {0, {0}, -1};
  PyGILState_STATE g = PyGILState_Ensure();
  legacy_calls++;
  int rc = ndp_ufunc_strided(op, dt, args, dims[0], s, NULL, &st);
  if (rc) ndpar_raise_status(ndp_op_name(op), rc, &st);
  PyGILState_Release(g);
}

static PyObject *py_legacy_calls(PyObject *m, PyObject *unused) {
  (void)m, (void)unused;
  return PyLong_FromSsize_t(legacy_calls);
}

/* ---- building the ufuncs ------------------------------------------------- */

static int identity_of(int op) {
  switch (op) {
  case NDP_OP_ADD: case NDP_OP_LOGICAL_OR: case NDP_OP_LOGICAL_XOR: return PyUFunc_Zero;
  case NDP_OP_MULTIPLY: case NDP_OP_LOGICAL_AND: return PyUFunc_One;
  case NDP_OP_MINIMUM: case NDP_OP_MAXIMUM: case NDP_OP_FMIN: case NDP_OP_FMAX:
    return PyUFunc_ReorderableNone;
  default: return PyUFunc_None;
  }
}

static int logical(int op) {
  return op == NDP_OP_LOGICAL_AND || op == NDP_OP_LOGICAL_OR || op == NDP_OP_LOGICAL_XOR;
}

static int reorderable(int op) { return identity_of(op) != PyUFunc_None; }

/* The initial value of a reduction: NumPy's first item when there is one
 * (exact for every operation, -0.0 sums included); the identity for an
 * empty one. */
static int initial_of(int op, PyArrayMethod_Context *ctx, npy_bool empty, void *initial) {
  if (!empty) return 0;
  int id = identity_of(op);
  if (id != PyUFunc_Zero && id != PyUFunc_One) return 0;
  ndp_dtype dt;
  if (!ndpar_from_typenum(ctx->descriptors[0]->type_num, &dt)) return 0;
  PyObject *v = PyLong_FromLong(id == PyUFunc_One);
  if (!v) return -1;
  int rc = PyArray_Pack(ctx->descriptors[0], initial, v);
  Py_DECREF(v);
  return rc < 0 ? -1 : 1;
}
#define NDP__INIT(id, name, nin, cls)                                                  \
  static int init_##id(PyArrayMethod_Context *ctx, npy_bool empty, void *initial) {    \
    return initial_of(NDP_OP_##id, ctx, empty, initial);                                \
  }
NDP_OP_MAP(NDP__INIT)
#undef NDP__INIT
#define NDP__INIT(id, name, nin, cls) init_##id,
static PyArrayMethod_GetReductionInitial *const inits[NDP_NOPS] = {NDP_OP_MAP(NDP__INIT)};
#undef NDP__INIT

static PyArray_DTypeMeta *dtype_meta(ndp_dtype dt) {
  PyArray_Descr *d = PyArray_DescrFromType(ndpar_typenums[dt]);
  if (!d) return NULL;
  PyArray_DTypeMeta *m = NPY_DTYPE(d);
  Py_DECREF(d); /* the builtin DTypes live as long as NumPy */
  return m;
}

/* The casting NumPy is told a loop does to its inputs: what NumPy would
 * do to reach the loop its list walk picks for them (the first every input
 * casts to safely; integer true division: float64), so that casting='no'
 * refuses a loop that casts inside, as NumPy's own would. The logical
 * functions take any input's truth under any rule, as NumPy's. */
static NPY_CASTING inner_casting(int op, const ndp_loop_sig *sig, const ndp_loop_sig *list,
                                 int nlist) {
  const int nin = ndp_op_nin(op);
  if (logical(op)) return NPY_NO_CASTING;
  const ndp_loop_sig *e = NULL;
  for (int i = 0; i < nlist && !e; i++) {
    int ok = 1;
    for (int k = 0; k < nin; k++) ok &= ndp_can_cast(sig->in[k], list[i].in[k], NDP_CASTING_SAFE);
    if (ok) e = &list[i];
  }
  if (!e) return NPY_UNSAFE_CASTING;
  int level = NDP_CASTING_NO;
  for (int k = 0; k < nin; k++) {
    ndp_dtype to = op == NDP_OP_DIVIDE ? e->out : e->in[k];
    int c = NDP_CASTING_NO;
    while (c < NDP_CASTING_UNSAFE && !ndp_can_cast(sig->in[k], to, (ndp_casting)c)) c++;
    if (c > level) level = c;
  }
  return (NPY_CASTING)level;
}

static int add_loop(PyObject *uf, int op, const ndp_loop_sig *sig, NPY_CASTING casting) {
  const int nin = ndp_op_nin(op);
  const int refused = sig->out == NDP_NTYPES;
  PyArray_DTypeMeta *dts[3];
  for (int k = 0; k < nin; k++)
    if (!(dts[k] = dtype_meta(sig->in[k]))) return -1;
  if (!(dts[nin] = dtype_meta(refused ? sig->in[0] : sig->out))) return -1;
  PyType_Slot slots[4];
  int ns = 0;
  if (refused) {
    slots[ns++] = (PyType_Slot){NPY_METH_resolve_descriptors, (void *)refuser(op)};
  }
  slots[ns++] = (PyType_Slot){NPY_METH_strided_loop, (void *)loops[op]};
  if (nin == 2) slots[ns++] = (PyType_Slot){NPY_METH_get_reduction_initial, (void *)inits[op]};
  slots[ns] = (PyType_Slot){0, NULL};
  int flags = NPY_METH_REQUIRES_PYAPI | NPY_METH_NO_FLOATINGPOINT_ERRORS;
  if (reorderable(op)) flags |= NPY_METH_IS_REORDERABLE;
  /* the logical functions' bool loop takes any input's truth: NumPy casts
   * to it under any casting rule, as for its own logical functions */
  if (logical(op) && nin == 2 && sig->in[0] == NDP_BOOL && sig->in[1] == NDP_BOOL)
    flags |= _NPY_METH_FORCE_CAST_INPUTS;
  char name[64];
  snprintf(name, sizeof name, "ndpar_%s_loop", ndp_op_name(op));
  PyArrayMethod_Spec spec = {name, nin, 1, casting, (NPY_ARRAYMETHOD_FLAGS)flags, dts, slots};
  return PyUFunc_AddLoopFromSpec(uf, &spec);
}

/* ---- promoters: NumPy's special cases for Python ints ----------------------
 * NumPy's own comparison and logical ufuncs carry promoters that its list
 * walk lacks; ndpar's carry the same rules, which are libndpar's too
 * (ndp_ufunc_resolve): a logical function takes a Python scalar's truth
 * (all inputs as bool), and a comparison of an integer array with a
 * Python int is exact (both widened to int64, or uint64 vs int64), never
 * an OverflowError for an int outside the array's range. */
/* A DType the caller fixed (signature=, dtype=) wins; dtype= alone (the
 * output) stands for every operand, as in NumPy's list walk, unless
 * output_only (a comparison: its output is bool whatever it compares).
 * Takes the references of new_op_dtypes. */
static int honour_signature(PyArray_DTypeMeta *const signature[],
                            PyArray_DTypeMeta *new_op_dtypes[], int output_only) {
  PyArray_DTypeMeta *only = NULL;
  int given = 0;
  for (int i = 0; i < 3; i++) given += signature[i] != NULL;
  if (given == 1 && signature[2] && !output_only) only = signature[2];
  for (int i = 0; i < 3; i++) {
    if (signature[i]) new_op_dtypes[i] = signature[i];
    else if (only && i < 2) new_op_dtypes[i] = only;
    Py_INCREF(new_op_dtypes[i]);
  }
  return 0;
}

static int logical_promoter(PyObject *uf, PyArray_DTypeMeta *const op_dtypes[],
                            PyArray_DTypeMeta *const signature[],
                            PyArray_DTypeMeta *new_op_dtypes[]) {
  (void)uf, (void)op_dtypes;
  for (int i = 0; i < 3; i++) {
    PyArray_DTypeMeta *d = signature[i] ? signature[i] : &PyArray_BoolDType;
    Py_INCREF(d);
    new_op_dtypes[i] = d;
  }
  return 0;
}

static int compare_promoter(PyObject *uf, PyArray_DTypeMeta *const op_dtypes[],
                            PyArray_DTypeMeta *const signature[],
                            PyArray_DTypeMeta *new_op_dtypes[]) {
  (void)uf;
  int arr = op_dtypes[0] == &PyArray_PyLongDType ? 1 : 0;
  int wide_u = op_dtypes[arr] == dtype_meta(NDP_UINT64);
  new_op_dtypes[arr] = wide_u ? dtype_meta(NDP_UINT64) : dtype_meta(NDP_INT64);
  new_op_dtypes[1 - arr] = dtype_meta(NDP_INT64);
  new_op_dtypes[2] = &PyArray_BoolDType;
  return honour_signature(signature, new_op_dtypes, 1);
}

/* True division of an integer by a Python int runs in float64, as NumPy's
 * divide does (the int is never converted to the array's integer type). */
static int divide_promoter(PyObject *uf, PyArray_DTypeMeta *const op_dtypes[],
                           PyArray_DTypeMeta *const signature[],
                           PyArray_DTypeMeta *new_op_dtypes[]) {
  (void)uf, (void)op_dtypes;
  for (int i = 0; i < 3; i++) new_op_dtypes[i] = dtype_meta(NDP_FLOAT64);
  return honour_signature(signature, new_op_dtypes, 0);
}

static int add_promoter(PyObject *uf, PyObject *d0, PyObject *d1,
                        PyArrayMethod_PromoterFunction *fn) {
  PyObject *key = PyTuple_Pack(3, d0, d1, Py_None);
  PyObject *cap = PyCapsule_New((void *)fn, "numpy._ufunc_promoter", NULL);
  int rc = key && cap ? PyUFunc_AddPromoter(uf, key, cap) : -1;
  Py_XDECREF(key);
  Py_XDECREF(cap);
  return rc;
}

static int add_promoters(PyObject *uf, int op) {
  if (logical(op)) return add_promoter(uf, Py_None, Py_None, logical_promoter);
  PyArrayMethod_PromoterFunction *fn = op == NDP_OP_DIVIDE ? divide_promoter
                                       : op >= NDP_OP_EQUAL && op <= NDP_OP_GREATER_EQUAL
                                           ? compare_promoter
                                           : NULL;
  if (!fn) return 0;
  PyObject *pylong = (PyObject *)&PyArray_PyLongDType;
  for (int t = NDP_BOOL; t <= NDP_UINT64; t++) {
    PyObject *d = (PyObject *)dtype_meta((ndp_dtype)t);
    if (!d || add_promoter(uf, d, pylong, fn) < 0 || add_promoter(uf, pylong, d, fn) < 0)
      return -1;
  }
  return 0;
}

static char type_chars[NDP_NOPS][NDP_MAX_LOOPS * 3];
static PyUFuncGenericFunction legacy_fns[NDP_NOPS][NDP_MAX_LOOPS];
static void *legacy_data[NDP_NOPS][NDP_MAX_LOOPS];
static char docs[NDP_NOPS][240];

static PyObject *make_ufunc(int op) {
  const int nin = ndp_op_nin(op);
  const char *name = ndp_op_name(op);
  ndp_loop_sig *sig = legacy_sig[op];
  int n = ndp_op_loops(op, sig, NDP_MAX_LOOPS);
  if (n <= 0 || n > NDP_MAX_LOOPS) {
    PyErr_Format(PyExc_SystemError, "ndpar: no loop list for %s", name);
    return NULL;
  }
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < nin; k++) type_chars[op][i * (nin + 1) + k] = (char)ndpar_typenums[sig[i].in[k]];
    ndp_dtype o = sig[i].out == NDP_NTYPES ? sig[i].in[0] : sig[i].out;
    type_chars[op][i * (nin + 1) + nin] = (char)ndpar_typenums[o];
    legacy_fns[op][i] = (PyUFuncGenericFunction)legacy_loop;
    legacy_op[op][i] = op;
    legacy_data[op][i] = &legacy_op[op][i];
  }
  snprintf(docs[op], sizeof docs[op],
           "numpy.%s on all cores: a numpy.ufunc whose loops are ndpar's (threads, SIMD "
           "math). Same arguments and methods as numpy.%s.", name, name);
  /* created without a type list (NumPy would register legacy loops for
   * it); the list is set once the ArrayMethods hold every signature */
  PyObject *uf = PyUFunc_FromFuncAndData(NULL, NULL, NULL, 0, nin, 1, identity_of(op), name,
                                         docs[op], 0);
  if (!uf) return NULL;
  /* NumPy's walk finds the list's loops; the other signatures libndpar
   * resolves get their own loop so that NumPy does not cast them first */
  unsigned char done[NDP_NTYPES][NDP_NTYPES];
  memset(done, 0, sizeof done);
  for (int i = 0; i < n; i++) {
    if (add_loop(uf, op, &sig[i], inner_casting(op, &sig[i], sig, n)) < 0) goto fail;
    done[sig[i].in[0]][nin > 1 ? sig[i].in[1] : 0] = 1;
  }
  /* (binary ones only from the list: reduce and accumulate need loops
   * whose first input is their output's dtype, and NumPy would dispatch a
   * mixed one to them) */
  for (int a = 0; a < NDP_NTYPES && nin == 1; a++)
    for (int b = 0; b < 1; b++) {
      if (done[a][b]) continue;
      ndp_dtype in[2] = {(ndp_dtype)a, (ndp_dtype)b}, l, o;
      if (ndp_op_resolve(op, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL)) continue;
      ndp_loop_sig s = {{in[0], nin > 1 ? in[1] : NDP_NTYPES}, o};
      if (add_loop(uf, op, &s, inner_casting(op, &s, sig, n)) < 0) goto fail;
    }
  if (add_promoters(uf, op) < 0) goto fail;
  PyUFuncObject *u = (PyUFuncObject *)uf;
  u->ntypes = n;
  u->types = type_chars[op];
  u->functions = legacy_fns[op];
  u->data = legacy_data[op];
  PyObject *mod = PyUnicode_FromString("ndpar");
  PyObject *qual = PyUnicode_FromString(name);
  int bad = !mod || !qual || PyObject_SetAttrString(uf, "__module__", mod) < 0 ||
            PyObject_SetAttrString(uf, "__qualname__", qual) < 0;
  Py_XDECREF(mod);
  Py_XDECREF(qual);
  if (bad) goto fail;
  return uf;
fail:
  Py_DECREF(uf);
  return NULL;
}

static PyMethodDef methods[] = {
    {"_legacy_calls", py_legacy_calls, METH_NOARGS,
     "_legacy_calls() -> int: calls of NumPy's legacy loop slot (expected 0)."},
    {NULL, NULL, 0, NULL}};

int ndpar_add_ufuncs(PyObject *m) {
  import_umath1(-1);
  if (PyModule_AddFunctions(m, methods) < 0) return -1;
  for (int op = 0; op < NDP_NOPS; op++) {
    PyObject *uf = make_ufunc(op);
    if (!uf || PyModule_AddObject(m, ndp_op_name(op), uf) < 0) {
      Py_XDECREF(uf);
      return -1;
    }
  }
  return 0;
}
