/*
 * python/ndpar/_ndpar.c - the Python face of libndpar, on the CPython and
 * NumPy C APIs. Thin by design: it turns arguments into ndp_array
 * descriptors over the arrays' own memory (never a copy of an ndarray),
 * releases the GIL, calls the library, and maps NDP_E* codes to Python
 * exceptions. All computing happens in libndpar.
 *
 * Every ufunc is a module-level PyCFunction (METH_FASTCALL, no tuple or
 * dict built) whose thin entry passes its op code to one shared body.
 * A Python scalar is passed as a weak 0-d operand (NDP_ARRAY_WEAK_*):
 * libndpar applies NumPy 2's rules for it (NEP 50).
 * Ctrl-C: while a job runs, the calling thread polls every 50 ms, takes
 * the GIL briefly and runs PyErr_CheckSignals; a pending KeyboardInterrupt
 * cancels the job, which stops at the next chunk (chunks are <= 1M items).
 */
#include "_common.h"

#include <string.h>

/* ---- operands ------------------------------------------------------------- */

typedef struct {
  PyArrayObject *arr; /* owned reference, or NULL for a Python scalar */
  ndp_array a;        /* a Python scalar: a weak 0-d array over buf */
  union { uint8_t b; int64_t i64; uint64_t u64; double f64; } buf;
} operand;

/* A Python int, float or bool becomes a weak operand holding its value
 * exactly (libndpar applies NEP 50); anything else an array. */
static int take_operand(PyObject *obj, operand *op, const char *fname, const char *argname) {
  memset(op, 0, sizeof *op);
  if (PyArray_Check(obj)) {
    Py_INCREF(obj);
    op->arr = (PyArrayObject *)obj;
    return ndpar_fill_desc(op->arr, &op->a, fname, argname);
  }
  if (PyBool_Check(obj)) {
    op->buf.b = obj == Py_True;
    return ndp_array_init_weak(&op->a, &op->buf, NDP_ARRAY_WEAK_BOOL, NDP_BOOL);
  }
  if (PyLong_CheckExact(obj) || (PyLong_Check(obj) && !PyArray_IsScalar(obj, Generic))) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    ndp_dtype dt = NDP_INT64;
    op->buf.i64 = v;
    if (overflow > 0) {
      unsigned long long u = PyLong_AsUnsignedLongLong(obj);
      if (!PyErr_Occurred()) {
        dt = NDP_UINT64;
        op->buf.u64 = u;
      } else {
        PyErr_Clear();
      }
    }
    if (overflow && dt == NDP_INT64) { /* beyond 64 bits: as a double, inf beyond that */
      dt = NDP_FLOAT64;
      op->buf.f64 = PyLong_AsDouble(obj);
      if (op->buf.f64 == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        op->buf.f64 = overflow > 0 ? Py_HUGE_VAL : -Py_HUGE_VAL;
      }
    }
    return ndp_array_init_weak(&op->a, &op->buf, NDP_ARRAY_WEAK_INT, dt);
  }
  if (PyFloat_CheckExact(obj) || (PyFloat_Check(obj) && !PyArray_IsScalar(obj, Generic))) {
    op->buf.f64 = PyFloat_AsDouble(obj);
    if (op->buf.f64 == -1.0 && PyErr_Occurred()) return -1;
    return ndp_array_init_weak(&op->a, &op->buf, NDP_ARRAY_WEAK_FLOAT, NDP_FLOAT64);
  }
  PyObject *arr = PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
  if (!arr) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "ndpar.%s: argument '%s' must be an array, a number or "
                 "a sequence of numbers, not %.100s", fname, argname, Py_TYPE(obj)->tp_name);
    return -1;
  }
  op->arr = (PyArrayObject *)arr;
  return ndpar_fill_desc(op->arr, &op->a, fname, argname);
}

/* ---- keyword arguments ------------------------------------------------------ */

static int parse_casting(PyObject *o, ndp_casting *c, const char *fname) {
  static const char *names[] = {"no", "equiv", "safe", "same_kind", "unsafe"};
  if (!PyUnicode_Check(o)) {
    PyErr_Format(PyExc_TypeError, "ndpar.%s: argument 'casting' must be a string", fname);
    return -1;
  }
  for (int i = 0; i < 5; i++)
    if (PyUnicode_CompareWithASCIIString(o, names[i]) == 0) {
      *c = (ndp_casting)i;
      return 0;
    }
  PyErr_Format(PyExc_ValueError, "ndpar.%s: argument 'casting' must be one of 'no', 'equiv', "
               "'safe', 'same_kind', 'unsafe', not %R", fname, o);
  return -1;
}

static int parse_dtype(PyObject *o, ndp_dtype *dt, const char *fname) {
  PyArray_Descr *d = NULL;
  if (!PyArray_DescrConverter2(o, &d) || !d) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "ndpar.%s: argument 'dtype' is not a dtype: %R", fname, o);
    Py_XDECREF(d);
    return -1;
  }
  int ok = ndpar_from_typenum(d->type_num, dt);
  if (!ok)
    PyErr_Format(PyExc_TypeError, "ndpar.%s: argument 'dtype' %S is not supported", fname,
                 (PyObject *)d);
  Py_DECREF(d);
  return ok ? 0 : -1;
}

/* ---- the ufunc call ---------------------------------------------------------- */

static PyObject *ufunc_call(int op, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames) {
  const int nin = ndp_op_nin(op);
  const char *fname = ndp_op_name(op);
  static const char *const argn1[] = {"x"}, *const argn2[] = {"x1", "x2"};
  const char *const *argn = nin == 1 ? argn1 : argn2;
  PyObject *out_obj = NULL, *dtype_obj = NULL, *casting_obj = NULL;
  operand ops[2];
  memset(ops, 0, sizeof ops);
  PyArrayObject *out = NULL;
  PyObject *result = NULL;
  int nops = 0;

  if (nargs < nin || nargs > nin + 1) {
    PyErr_Format(PyExc_TypeError, "ndpar.%s() takes %d positional argument%s (and out), %zd given",
                 fname, nin, nin == 1 ? "" : "s", nargs);
    return NULL;
  }
  if (nargs == nin + 1) out_obj = args[nin];
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t i = 0; i < nkw; i++) {
    PyObject *k = PyTuple_GET_ITEM(kwnames, i), *v = args[nargs + i];
    if (PyUnicode_CompareWithASCIIString(k, "out") == 0 && !out_obj) out_obj = v;
    else if (PyUnicode_CompareWithASCIIString(k, "dtype") == 0) dtype_obj = v;
    else if (PyUnicode_CompareWithASCIIString(k, "casting") == 0) casting_obj = v;
    else {
      PyErr_Format(PyExc_TypeError, "ndpar.%s() got an unexpected or repeated keyword "
                   "argument %R", fname, k);
      return NULL;
    }
  }
  ndp_casting casting = NDP_CASTING_SAME_KIND;
  ndp_dtype loop = NDP_NTYPES;
  if (casting_obj && parse_casting(casting_obj, &casting, fname)) return NULL;
  if (dtype_obj && dtype_obj != Py_None && parse_dtype(dtype_obj, &loop, fname)) return NULL;

  for (; nops < nin; nops++)
    if (take_operand(args[nops], &ops[nops], fname, argn[nops])) {
      nops++;
      goto done;
    }
  if (out_obj && PyTuple_Check(out_obj)) {
    if (PyTuple_GET_SIZE(out_obj) != 1) {
      PyErr_Format(PyExc_ValueError, "ndpar.%s: argument 'out' tuple must have one element", fname);
      goto done;
    }
    out_obj = PyTuple_GET_ITEM(out_obj, 0);
  }
  if (out_obj == Py_None) out_obj = NULL;

  ndp_status st = {0, {0}, -1};
  int nd, rc;
  const ndp_array *in[2] = {&ops[0].a, &ops[1].a};
  int64_t shape[NDP_MAXDIMS];
  if ((rc = ndp_broadcast_shape(nin, in, &nd, shape, &st))) {
    PyErr_Format(PyExc_ValueError, "ndpar.%s: operands could not be broadcast together (%s)",
                 fname, st.msg);
    goto done;
  }
  /* the result's dtype, Python scalars (weak) included: the library owns
   * NEP 50 and names the argument at fault */
  ndp_dtype odt;
  if ((rc = ndp_ufunc_resolve(op, in, loop, casting, NDP_NTYPES, argn, NULL, &odt, &st))) {
    ndpar_raise_status(fname, rc, &st);
    goto done;
  }
  ndp_array oa;
  if (out_obj) {
    if (!PyArray_Check(out_obj)) {
      PyErr_Format(PyExc_TypeError, "ndpar.%s: argument 'out' must be a numpy array, not %.100s",
                   fname, Py_TYPE(out_obj)->tp_name);
      goto done;
    }
    out = (PyArrayObject *)out_obj;
    Py_INCREF(out);
    if (!PyArray_ISWRITEABLE(out)) {
      PyErr_Format(PyExc_ValueError, "ndpar.%s: argument 'out' is read-only", fname);
      goto done;
    }
    if (ndpar_fill_desc(out, &oa, fname, "out")) goto done;
    /* the operands must broadcast to out's shape (which may be larger) */
    const ndp_array *all[3] = {in[0], nin > 1 ? in[1] : &oa, &oa};
    int nd2;
    int64_t shape2[NDP_MAXDIMS];
    int same = ndp_broadcast_shape(nin + 1, all, &nd2, shape2, &st) == 0 && nd2 == oa.ndim;
    for (int d = 0; same && d < nd2; d++) same = oa.shape[d] == shape2[d];
    if (!same) {
      PyErr_Format(PyExc_ValueError, "ndpar.%s: argument 'out' has the wrong shape: the "
                   "operands do not broadcast to it", fname);
      goto done;
    }
  } else {
    npy_intp dims[NDP_MAXDIMS];
    int fortran = nd > 1;
    for (int d = 0; d < nd; d++) dims[d] = (npy_intp)shape[d];
    for (int k = 0; k < nin; k++)
      if (ops[k].arr && PyArray_NDIM(ops[k].arr) == nd &&
          !(PyArray_IS_F_CONTIGUOUS(ops[k].arr) && !PyArray_IS_C_CONTIGUOUS(ops[k].arr)))
        fortran = 0;
    if (fortran) { /* only if some input really is F-ordered */
      int any = 0;
      for (int k = 0; k < nin; k++) any |= ops[k].arr && PyArray_NDIM(ops[k].arr) == nd;
      fortran = any;
    }
    out = (PyArrayObject *)PyArray_New(&PyArray_Type, nd, dims, ndpar_typenums[odt], NULL, NULL, 0,
                                       fortran, NULL);
    if (!out) goto done;
    ndpar_fill_desc(out, &oa, fname, "out");
  }
  int64_t n = ndp_array_size(&oa);
  if (n >= GIL_RELEASE_MIN) {
    ndpar_gil_poll g;
    ndp_exec ex = {ndpar_nthreads(), ndpar_poll_signals, &g, 0.05};
    g.ts = PyEval_SaveThread();
    rc = ndp_ufunc(op, in, &oa, loop, casting, &ex, &st);
    PyEval_RestoreThread(g.ts);
  } else {
    rc = ndp_ufunc(op, in, &oa, loop, casting, NULL, &st);
  }
  if (rc) {
    ndpar_raise_status(fname, rc, &st);
    goto done;
  }
  /* out= given: return it; else NumPy's convention (0-d -> scalar) */
  result = (out_obj) ? (PyObject *)out : PyArray_Return(out);
  out = NULL;
done:
  for (int k = 0; k < nin; k++) Py_XDECREF(ops[k].arr);
  Py_XDECREF(out);
  return result;
}

/* One C entry per op, so that each ufunc is a plain module-level builtin
 * (repr "<built-in function exp>", __module__ 'ndpar', picklable by name). */
#define NDP__ENTRY(id, name, nin, cls)                                                \
  static PyObject *ufunc_##id(PyObject *m, PyObject *const *args, Py_ssize_t nargs,  \
                              PyObject *kwnames) {                                   \
    (void)m;                                                                         \
    return ufunc_call(NDP_OP_##id, args, nargs, kwnames);                            \
  }
NDP_OP_MAP(NDP__ENTRY)
#undef NDP__ENTRY
#define NDP__ENTRY(id, name, nin, cls) ufunc_##id,
static PyObject *(*const ufunc_entries[NDP_NOPS])(PyObject *, PyObject *const *, Py_ssize_t,
                                                  PyObject *) = {NDP_OP_MAP(NDP__ENTRY)};
#undef NDP__ENTRY

/* ---- module functions ----------------------------------------------------- */

static PyObject *py_get_num_threads(PyObject *m, PyObject *unused) {
  (void)m, (void)unused;
  int n = ndpar_nthreads();
  return PyLong_FromLong(n ? n : ndp_get_num_threads());
}

static PyObject *py_default_num_threads(PyObject *m, PyObject *unused) {
  (void)m, (void)unused;
  return PyLong_FromLong(ndp_default_num_threads());
}

/* n as a thread count (any integer type, NumPy's included; not bool):
 * 1 <= n <= NDP_MAX_THREADS, else TypeError/ValueError naming 'n'. */
static int thread_count(PyObject *arg, const char *fname, long *n) {
  if (PyBool_Check(arg) || !PyIndex_Check(arg)) {
    PyErr_Format(PyExc_TypeError, "ndpar.%s: argument 'n' must be an int, not %.100s", fname,
                 Py_TYPE(arg)->tp_name);
    return -1;
  }
  PyObject *i = PyNumber_Index(arg);
  if (!i) return -1;
  int overflow = 0;
  *n = PyLong_AsLongAndOverflow(i, &overflow);
  Py_DECREF(i);
  if (overflow || *n < 1 || *n > NDP_MAX_THREADS) {
    PyErr_Format(PyExc_ValueError, "ndpar.%s: argument 'n' must be between 1 and %d, not %R",
                 fname, NDP_MAX_THREADS, arg);
    return -1;
  }
  return 0;
}

static PyObject *py_set_num_threads(PyObject *m, PyObject *arg) {
  (void)m;
  long n;
  if (thread_count(arg, "set_num_threads", &n) < 0) return NULL;
  ndp_set_num_threads((int)n);
  Py_RETURN_NONE;
}

/* check_threads(n) -> int: n validated as set_num_threads does (for
 * `with ndpar.threads(n)`). */
static PyObject *py_check_threads(PyObject *m, PyObject *arg) {
  (void)m;
  long n;
  if (thread_count(arg, "threads", &n) < 0) return NULL;
  return PyLong_FromLong(n);
}

static PyObject *py_get_isa(PyObject *m, PyObject *unused) {
  (void)m, (void)unused;
  return PyUnicode_FromString(ndp_isa_name(ndp_get_isa()));
}

static PyObject *py_cpu_isa(PyObject *m, PyObject *unused) {
  (void)m, (void)unused;
  return PyUnicode_FromString(ndp_isa_name(ndp_cpu_isa()));
}

static PyObject *py_set_isa(PyObject *m, PyObject *arg) {
  (void)m;
  if (!PyUnicode_Check(arg)) {
    PyErr_SetString(PyExc_TypeError, "ndpar.set_isa: argument 'isa' must be a string");
    return NULL;
  }
  for (int i = 0; i < NDP_NISAS; i++)
    if (PyUnicode_CompareWithASCIIString(arg, ndp_isa_name((ndp_isa)i)) == 0) {
      if (ndp_set_isa((ndp_isa)i)) {
        PyErr_Format(PyExc_ValueError, "ndpar.set_isa: this CPU does not support %R "
                     "(best: %s)", arg, ndp_isa_name(ndp_cpu_isa()));
        return NULL;
      }
      Py_RETURN_NONE;
    }
  PyErr_Format(PyExc_ValueError, "ndpar.set_isa: argument 'isa' must be 'ref', 'sse2', "
               "'avx2' or 'avx512', not %R", arg);
  return NULL;
}

static PyObject *py_ulp_bound(PyObject *m, PyObject *args) {
  (void)m;
  const char *name;
  int f32 = 0;
  if (!PyArg_ParseTuple(args, "s|p:ulp_bound", &name, &f32)) return NULL;
  int op = ndp_op_lookup(name);
  if (op < 0) {
    PyErr_Format(PyExc_ValueError, "ndpar.ulp_bound: no function named %s", name);
    return NULL;
  }
  return PyFloat_FromDouble(ndp_op_ulp_bound(op, f32));
}

static PyObject *py_measure_bandwidth(PyObject *m, PyObject *args, PyObject *kw) {
  (void)m;
  static char *kwlist[] = {"nbytes", "nthreads", "reps", NULL};
  Py_ssize_t nbytes = 0;
  int nthreads = 0, reps = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|nii:measure_bandwidth", kwlist, &nbytes,
                                   &nthreads, &reps))
    return NULL;
  if (nbytes < 0) {
    PyErr_SetString(PyExc_ValueError, "ndpar.measure_bandwidth: argument 'nbytes' must be >= 0");
    return NULL;
  }
  ndp_bandwidth bw;
  ndp_status st = {0, {0}, -1};
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = ndp_measure_bandwidth((size_t)nbytes, nthreads, reps, &bw, &st);
  Py_END_ALLOW_THREADS
  if (rc) return ndpar_raise_status("measure_bandwidth", rc, &st);
  return Py_BuildValue("{s:d,s:d,s:n,s:i}", "copy_gbs", bw.copy_gbs, "triad_gbs", bw.triad_gbs,
                       "nbytes", (Py_ssize_t)bw.bytes, "nthreads", bw.nthreads);
}

static PyMethodDef module_methods[] = {
    {"get_num_threads", py_get_num_threads, METH_NOARGS,
     "get_num_threads() -> int: threads ndpar jobs use."},
    {"default_num_threads", py_default_num_threads, METH_NOARGS,
     "default_num_threads() -> int: NDPAR_NUM_THREADS or the CPUs this process may use."},
    {"check_threads", py_check_threads, METH_O,
     "check_threads(n) -> int: n validated as a thread count."},
    {"set_num_threads", py_set_num_threads, METH_O,
     "set_num_threads(n): threads for later jobs (1 <= n <= 1024)."},
    {"get_isa", py_get_isa, METH_NOARGS, "get_isa() -> str: instruction set the kernels use."},
    {"cpu_isa", py_cpu_isa, METH_NOARGS, "cpu_isa() -> str: best instruction set of this CPU."},
    {"set_isa", py_set_isa, METH_O, "set_isa(name): force 'ref', 'sse2', 'avx2' or 'avx512'."},
    {"ulp_bound", py_ulp_bound, METH_VARARGS,
     "ulp_bound(name, f32=False) -> float: documented error bound in ULPs."},
    {"measure_bandwidth", (PyCFunction)(void (*)(void))py_measure_bandwidth,
     METH_VARARGS | METH_KEYWORDS,
     "measure_bandwidth(nbytes=0, nthreads=0, reps=0) -> dict: STREAM copy/triad GB/s."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_ndpar",
                                       "The C extension behind ndpar.", -1, module_methods,
                                       NULL, NULL, NULL, NULL};

/* One PyMethodDef per ufunc, filled at import (names are static strings). */
static PyMethodDef ufunc_defs[NDP_NOPS];
static char ufunc_docs[NDP_NOPS][200];

PyMODINIT_FUNC PyInit__ndpar(void) {
  import_array();
  PyObject *m = PyModule_Create(&moduledef);
  if (!m) return NULL;
  for (int op = 0; op < NDP_NOPS; op++) {
    const char *name = ndp_op_name(op);
    if (ndp_op_nin(op) == 1)
      snprintf(ufunc_docs[op], sizeof ufunc_docs[op],
               "%s(x, /, out=None, *, dtype=None, casting='same_kind')\n--\n\n"
               "numpy.%s on all cores.", name, name);
    else
      snprintf(ufunc_docs[op], sizeof ufunc_docs[op],
               "%s(x1, x2, /, out=None, *, dtype=None, casting='same_kind')\n--\n\n"
               "numpy.%s on all cores.", name, name);
    ufunc_defs[op].ml_name = name;
    ufunc_defs[op].ml_meth = (PyCFunction)(void (*)(void))ufunc_entries[op];
    ufunc_defs[op].ml_flags = METH_FASTCALL | METH_KEYWORDS;
    ufunc_defs[op].ml_doc = ufunc_docs[op];
    PyObject *modname = PyUnicode_FromString("ndpar");
    PyObject *f = modname ? PyCFunction_NewEx(&ufunc_defs[op], m, modname) : NULL;
    Py_XDECREF(modname);
    if (!f || PyModule_AddObject(m, name, f) < 0) {
      Py_XDECREF(f);
      goto fail;
    }
  }
  if (ndpar_add_rolling(m) < 0 || ndpar_add_expr(m) < 0 || ndpar_add_callpy(m) < 0 ||
      ndpar_add_shm(m) < 0 || ndpar_add_kernel(m) < 0 || ndpar_add_exact(m) < 0)
    goto fail;
  if (!(ndpar_threads_var = PyContextVar_New("ndpar.threads", NULL)) ||
      PyModule_AddObjectRef(m, "threads_var", ndpar_threads_var) < 0)
    goto fail;
  if (PyModule_AddStringConstant(m, "__version__", ndp_version()) < 0 ||
      PyModule_AddStringConstant(m, "mathlib", ndp_mathlib()) < 0)
    goto fail;
  return m;
fail:
  Py_DECREF(m);
  return NULL;
}
