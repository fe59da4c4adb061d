/*
 * python/ndpar/_ndpar.c - the Python face of libndpar, on the CPython and
 * NumPy C APIs: the module, its settings functions, and the init that adds
 * the ufuncs (_ufunc.c), moving windows, expressions, user code, shared
 * memory and kernels. Thin by design: the faces turn arguments into
 * ndp_array descriptors over the arrays' own memory (never a copy of an
 * ndarray), release the GIL, call the library, and map NDP_E* codes to
 * Python exceptions. All computing happens in libndpar.
 * Ctrl-C: while a job runs, the calling thread polls every 50 ms, takes
 * the GIL briefly and runs PyErr_CheckSignals; a pending KeyboardInterrupt
 * cancels the job, which stops at the next chunk (chunks are <= 1M items).
 */
#include "_common.h"

#include <string.h>

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

PyMODINIT_FUNC PyInit__ndpar(void) {
  import_array();
  PyObject *m = PyModule_Create(&moduledef);
  if (!m) return NULL;
  if (ndpar_add_ufuncs(m) < 0) goto fail;
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
