/*
 * python/ndpar/_exact.c - exact sums for chunked callers (dask's
 * da.reduction: chunk, combine, aggregate), over the library's
 * superaccumulator (ndp_xsum_*, ndpar/expr.h):
 *
 *   exact_sum_partial(a) -> bytes        the exact sum of a chunk, as a state
 *   exact_dot_partial(a, b) -> bytes     the exact sum of a * b
 *   exact_sum_combine(states) -> bytes   states merged (exactly)
 *   exact_sum_finish(states) -> float    states merged, rounded once
 *
 * Any split of the data, combined in any order, finishes to the same,
 * correctly rounded, double. a: float64, float32, float16, bool or an
 * integer dtype of at most 32 bits (converted to float64 exactly); int64,
 * uint64 and others are refused (TypeError), since their conversion could
 * round.
 */
#define NO_IMPORT_ARRAY
#include "_common.h"

#include <string.h>

/* a as a C-contiguous float64 array (new reference), or NULL with
 * TypeError naming the argument. */
static PyArrayObject *as_f64(PyObject *obj, const char *fname, const char *arg) {
  PyArrayObject *a = (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
  if (!a) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "ndpar.%s: argument '%s' must be an array, not %.100s",
                 fname, arg, Py_TYPE(obj)->tp_name);
    return NULL;
  }
  const int t = PyArray_TYPE(a);
  const int ok = t == NPY_DOUBLE || t == NPY_FLOAT || t == NPY_HALF || t == NPY_BOOL ||
                 t == NPY_BYTE || t == NPY_UBYTE || t == NPY_SHORT || t == NPY_USHORT ||
                 t == NPY_INT || t == NPY_UINT;
  if (!ok) {
    PyErr_Format(PyExc_TypeError,
                 "ndpar.%s: argument '%s' has dtype %S: exact sums take float64, float32, "
                 "float16, bool or integers of at most 32 bits",
                 fname, arg, (PyObject *)PyArray_DESCR(a));
    Py_DECREF(a);
    return NULL;
  }
  PyArrayObject *r = (PyArrayObject *)PyArray_FromAny(
      (PyObject *)a, PyArray_DescrFromType(NPY_DOUBLE), 0, 0,
      NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST, NULL);
  Py_DECREF(a);
  return r;
}

static PyObject *state_bytes(const ndp_xsum *s) {
  PyObject *b = PyBytes_FromStringAndSize(NULL, NDP_XSUM_BYTES);
  if (b) ndp_xsum_to_bytes(s, (unsigned char *)PyBytes_AS_STRING(b));
  return b;
}

static PyObject *py_sum_partial(PyObject *m, PyObject *arg) {
  (void)m;
  PyArrayObject *a = as_f64(arg, "exact_sum_partial", "a");
  if (!a) return NULL;
  ndp_xsum s;
  ndp_xsum_init(&s);
  const double *x = PyArray_DATA(a);
  const npy_intp n = PyArray_SIZE(a);
  Py_BEGIN_ALLOW_THREADS ndp_xsum_add(&s, x, n);
  Py_END_ALLOW_THREADS Py_DECREF(a);
  return state_bytes(&s);
}

static PyObject *py_dot_partial(PyObject *m, PyObject *args) {
  (void)m;
  PyObject *ao, *bo;
  if (!PyArg_ParseTuple(args, "OO:exact_dot_partial", &ao, &bo)) return NULL;
  PyArrayObject *a = as_f64(ao, "exact_dot_partial", "a"), *b = NULL;
  if (!a) return NULL;
  if (!(b = as_f64(bo, "exact_dot_partial", "b"))) {
    Py_DECREF(a);
    return NULL;
  }
  PyObject *r = NULL;
  if (PyArray_NDIM(a) != PyArray_NDIM(b) ||
      !PyArray_CompareLists(PyArray_DIMS(a), PyArray_DIMS(b), PyArray_NDIM(a))) {
    PyErr_SetString(PyExc_ValueError,
                    "ndpar.exact_dot_partial: arguments 'a' and 'b' must have the same shape");
  } else {
    ndp_xsum s;
    ndp_xsum_init(&s);
    const double *x = PyArray_DATA(a), *y = PyArray_DATA(b);
    const npy_intp n = PyArray_SIZE(a);
    Py_BEGIN_ALLOW_THREADS ndp_xsum_add_dot(&s, x, y, n);
    Py_END_ALLOW_THREADS r = state_bytes(&s);
  }
  Py_DECREF(a);
  Py_DECREF(b);
  return r;
}

/* states (an iterable of bytes-like objects) merged into *s */
static int merge_all(PyObject *states, ndp_xsum *s, const char *fname) {
  ndp_xsum_init(s);
  if (PyBytes_Check(states) || PyByteArray_Check(states)) {
    PyErr_Format(PyExc_TypeError, "ndpar.%s: argument 'states' must be a sequence of states "
                 "(bytes), not one state", fname);
    return -1;
  }
  PyObject *it = PyObject_GetIter(states);
  if (!it) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "ndpar.%s: argument 'states' must be an iterable of bytes",
                 fname);
    return -1;
  }
  PyObject *o;
  Py_ssize_t i = 0;
  while ((o = PyIter_Next(it))) {
    Py_buffer v;
    if (PyObject_GetBuffer(o, &v, PyBUF_SIMPLE) < 0) {
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError, "ndpar.%s: states[%zd] must be bytes, not %.100s", fname,
                   i, Py_TYPE(o)->tp_name);
      Py_DECREF(o);
      Py_DECREF(it);
      return -1;
    }
    ndp_xsum t;
    ndp_status st;
    const int rc = ndp_xsum_from_bytes(&t, v.buf, (size_t)v.len, &st);
    PyBuffer_Release(&v);
    Py_DECREF(o);
    if (rc) {
      PyErr_Format(PyExc_ValueError, "ndpar.%s: states[%zd]: %s", fname, i, st.msg);
      Py_DECREF(it);
      return -1;
    }
    ndp_xsum_merge(s, &t);
    i++;
  }
  Py_DECREF(it);
  return PyErr_Occurred() ? -1 : 0;
}

static PyObject *py_combine(PyObject *m, PyObject *states) {
  (void)m;
  ndp_xsum s;
  if (merge_all(states, &s, "exact_sum_combine")) return NULL;
  return state_bytes(&s);
}

static PyObject *py_finish(PyObject *m, PyObject *states) {
  (void)m;
  ndp_xsum s;
  if (merge_all(states, &s, "exact_sum_finish")) return NULL;
  return PyFloat_FromDouble(ndp_xsum_round(&s));
}

static PyMethodDef exact_defs[] = {
    {"exact_sum_partial", py_sum_partial, METH_O,
     "exact_sum_partial(a) -> bytes: the exact sum of a's elements as a state for "
     "exact_sum_combine / exact_sum_finish."},
    {"exact_dot_partial", py_dot_partial, METH_VARARGS,
     "exact_dot_partial(a, b) -> bytes: the exact sum of a * b (same shape) as a state."},
    {"exact_sum_combine", py_combine, METH_O,
     "exact_sum_combine(states) -> bytes: the states merged exactly, as one state."},
    {"exact_sum_finish", py_finish, METH_O,
     "exact_sum_finish(states) -> float: the states merged and rounded once (correctly "
     "rounded; the same for any split and order). NaN if any term was NaN or both "
     "infinities occur."},
    {NULL, NULL, 0, NULL}};

int ndpar_add_exact(PyObject *m) { return PyModule_AddFunctions(m, exact_defs); }
