/*
 * python/ndpar/_common.c - what the extension's files share: dtype mapping,
 * array descriptors over an ndarray's own memory, error mapping, and the
 * signal poll that lets Ctrl-C cancel a running job.
 */
#define NO_IMPORT_ARRAY
#include "_common.h"

#include <string.h>

/* ---- dtype mapping -------------------------------------------------------- */

int ndpar_from_typenum(int t, ndp_dtype *out) {
  switch (t) {
  case NPY_BOOL: *out = NDP_BOOL; return 1;
  case NPY_BYTE: *out = NDP_INT8; return 1;
  case NPY_UBYTE: *out = NDP_UINT8; return 1;
  case NPY_SHORT: *out = NDP_INT16; return 1;
  case NPY_USHORT: *out = NDP_UINT16; return 1;
  case NPY_INT: *out = NDP_INT32; return 1;
  case NPY_UINT: *out = NDP_UINT32; return 1;
  case NPY_LONG: *out = sizeof(long) == 8 ? NDP_INT64 : NDP_INT32; return 1;
  case NPY_ULONG: *out = sizeof(long) == 8 ? NDP_UINT64 : NDP_UINT32; return 1;
  case NPY_LONGLONG: *out = NDP_INT64; return 1;
  case NPY_ULONGLONG: *out = NDP_UINT64; return 1;
  case NPY_FLOAT: *out = NDP_FLOAT32; return 1;
  case NPY_DOUBLE: *out = NDP_FLOAT64; return 1;
  case NPY_HALF: *out = NDP_FLOAT16; return 1;
  default: return 0;
  }
}

const int ndpar_typenums[NDP_NTYPES] = {
    NPY_BOOL, NPY_INT8, NPY_UINT8, NPY_INT16, NPY_UINT16, NPY_INT32,
    NPY_UINT32, NPY_INT64, NPY_UINT64, NPY_FLOAT32, NPY_FLOAT64, NPY_HALF};

/* ---- errors --------------------------------------------------------------- */

PyObject *ndpar_exception_for(int rc) {
  /* one class per code, looked up once by the name the error table gives */
  static PyObject *cache[NDP__ERRNO_COUNT + 1];
  int k = rc < 0 && rc >= NDP_ERRNO_MIN ? -rc : 0;
  if (cache[k]) return cache[k];
  PyObject *exc = PyExc_RuntimeError;
  const char *name = ndp_err_pyexc(rc ? rc : NDP_ERRNO_MIN - 1);
  PyObject *builtins = PyImport_ImportModule("builtins");
  if (builtins) {
    PyObject *e = PyObject_GetAttrString(builtins, name);
    if (e && PyExceptionClass_Check(e)) exc = e;
    Py_XDECREF(e); /* builtins keeps the class alive */
    Py_DECREF(builtins);
  }
  PyErr_Clear();
  return cache[k] = exc;
}

PyObject *ndpar_raise_status(const char *fname, int rc, const ndp_status *st) {
  if (PyErr_Occurred()) return NULL; /* e.g. KeyboardInterrupt from polling */
  PyErr_Format(ndpar_exception_for(rc), "ndpar.%s: %s", fname,
               (st && st->msg[0]) ? st->msg : ndp_strerror(rc));
  return NULL;
}

/* ---- the GIL while a job runs --------------------------------------------- */

/* ---- the per-context thread limit ----------------------------------------- */

PyObject *ndpar_threads_var;

/* The Dask-worker rule (ndpar/_threads.py): once `distributed` is imported
 * (never imported here), ndpar._threads._worker_nthreads() gives the
 * threads of the worker this process hosts (0: none); the CPUs divided by
 * that, at least 1, becomes the core's hint (ndp_set_num_threads_hint), below
 * set_num_threads, NDPAR_NUM_THREADS and OMP_NUM_THREADS. Looked up
 * on every call (a dictionary lookup while distributed is not loaded), so
 * a worker that starts or stops later is seen. GIL held. */
static void refresh_worker_hint(void) {
  static int had_hint = 0;
  if (PyErr_Occurred()) return; /* never swallow the caller's exception */
  PyObject *mods = PyImport_GetModuleDict(); /* borrowed */
  PyObject *th = mods && PyDict_GetItemString(mods, "distributed")
                     ? PyDict_GetItemString(mods, "ndpar._threads")
                     : NULL;
  long n = 0;
  if (th) {
    PyObject *r = PyObject_CallMethod(th, "_worker_nthreads", NULL);
    const long wt = r && PyLong_Check(r) ? PyLong_AsLong(r) : 0;
    Py_XDECREF(r);
    PyErr_Clear();
    if (wt > 0) n = ndp_cpus_available() / wt > 1 ? ndp_cpus_available() / wt : 1;
  }
  if (n < 0 || n > NDP_MAX_THREADS) n = 0;
  if (n > 0 || had_hint) ndp_set_num_threads_hint((int)n);
  had_hint = n > 0;
}

int ndpar_nthreads(void) {
  PyObject *v = NULL;
  if (!ndpar_threads_var || PyContextVar_Get(ndpar_threads_var, NULL, &v) < 0) {
    PyErr_Clear();
    return 0;
  }
  if (!v) {
    refresh_worker_hint();
    return 0;
  }
  long n = PyLong_AsLong(v);
  Py_DECREF(v);
  if (n < 1 || n > NDP_MAX_THREADS) {
    PyErr_Clear();
    return 0;
  }
  return (int)n;
}

int ndpar_poll_signals(void *ud, double frac) {
  ndpar_gil_poll *g = ud;
  (void)frac;
  PyEval_RestoreThread(g->ts);
  int r = PyErr_CheckSignals();
  g->ts = PyEval_SaveThread();
  return r != 0;
}

int ndpar_fill_desc(PyArrayObject *arr, ndp_array *a, const char *fname,
                     const char *argname) {
  ndp_dtype dt;
  PyArray_Descr *d = PyArray_DESCR(arr);
  if (!ndpar_from_typenum(d->type_num, &dt)) {
    PyErr_Format(PyExc_TypeError,
                 "ndpar.%s: argument '%s' has dtype %S, which ndpar does not support "
                 "(bool, int8..int64, uint8..uint64, float16, float32, float64)",
                 fname, argname, (PyObject *)d);
    return -1;
  }
  int nd = PyArray_NDIM(arr);
  if (nd > NDP_MAXDIMS) {
    PyErr_Format(PyExc_ValueError, "ndpar.%s: argument '%s' has %d dimensions (at most %d)",
                 fname, argname, nd, NDP_MAXDIMS);
    return -1;
  }
  memset(a, 0, sizeof *a);
  a->data = PyArray_DATA(arr);
  a->dtype = dt;
  a->ndim = nd;
  a->flags = PyArray_ISBYTESWAPPED(arr) ? NDP_ARRAY_BYTESWAPPED : 0;
  for (int i = 0; i < nd; i++) {
    a->shape[i] = PyArray_DIM(arr, i);
    a->strides[i] = PyArray_STRIDE(arr, i);
  }
  return 0;
}

