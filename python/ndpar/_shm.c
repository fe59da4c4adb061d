/*
 * python/ndpar/_shm.c - shared-memory segments for Python.
 *
 * _ndpar.Segment wraps one ndp_shm. Arrays made by Segment.array() hold a
 * reference to it (their base), so the memory stays mapped while any view
 * exists; unpublish() only withdraws the name. The mapping is released
 * when the segment object and every array on it are gone. Names are
 * checked by the library's rule before anything else (ValueError naming
 * 'name'); attach waits with the GIL released but wakes every 50 ms to
 * run the signal handlers, so Ctrl-C interrupts it.
 */
#define NO_IMPORT_ARRAY
#include "_common.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

typedef struct {
  PyObject_HEAD
  ndp_shm *s;
} Segment;

static void segment_dealloc(Segment *p) {
  ndp_shm_close(p->s);
  Py_TYPE(p)->tp_free((PyObject *)p);
}

static PyObject *raise_shm(int rc, const ndp_status *st) {
  if (PyErr_Occurred()) return NULL; /* e.g. KeyboardInterrupt from the attach poll */
  PyErr_Format(ndpar_exception_for(rc), "ndpar: %s", st->msg[0] ? st->msg : ndp_strerror(rc));
  return NULL;
}

static PyObject *wrap(PyTypeObject *type, ndp_shm *s) {
  Segment *p = (Segment *)type->tp_alloc(type, 0);
  if (!p) {
    ndp_shm_close(s);
    return NULL;
  }
  p->s = s;
  return (PyObject *)p;
}

static PyTypeObject SegmentType;

/* The UTF-8 bytes of a segment name, checked by the library's rule
 * (ndp_shm_check_name): a new reference, or NULL with TypeError (not a
 * str) or ValueError naming 'name'. Lone surrogates are encoded as such
 * ("surrogatepass") so that they fail the rule like any other character
 * outside A-Z a-z 0-9 . _ - rather than as a UnicodeEncodeError. */
static PyObject *name_bytes(PyObject *obj) {
  if (!PyUnicode_Check(obj)) {
    PyErr_Format(PyExc_TypeError, "ndpar: 'name' must be a str, got %s", Py_TYPE(obj)->tp_name);
    return NULL;
  }
  PyObject *b = PyUnicode_AsEncodedString(obj, "utf-8", "surrogatepass");
  if (!b) return NULL;
  const char *name = PyBytes_AS_STRING(b);
  if ((size_t)PyBytes_GET_SIZE(b) != strlen(name)) {
    Py_DECREF(b);
    PyErr_SetString(PyExc_ValueError, "ndpar: 'name' must not contain NUL characters");
    return NULL;
  }
  ndp_status st = {0};
  if (ndp_shm_check_name(name, &st) != 0) {
    Py_DECREF(b);
    PyErr_Format(PyExc_ValueError, "ndpar: 'name' %R is not a valid name: %s", obj, st.msg);
    return NULL;
  }
  return b;
}

/* shm_create(name or None, shape: tuple of int, typenum, touch, nthreads) */
static PyObject *py_shm_create(PyObject *m, PyObject *args) {
  (void)m;
  PyObject *name_obj, *shape_obj;
  int typenum, touch, nthreads;
  if (!PyArg_ParseTuple(args, "OO!ipi:shm_create", &name_obj, &PyTuple_Type, &shape_obj, &typenum,
                        &touch, &nthreads))
    return NULL;
  Py_ssize_t nd = PyTuple_GET_SIZE(shape_obj);
  if (nd > NDP_MAXDIMS) {
    PyErr_Format(PyExc_ValueError, "ndpar: 'shape' has %zd dimensions (at most %d)", nd, NDP_MAXDIMS);
    return NULL;
  }
  int64_t shape[NDP_MAXDIMS];
  for (Py_ssize_t i = 0; i < nd; i++) {
    shape[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(shape_obj, i));
    if (shape[i] == -1 && PyErr_Occurred()) return NULL;
    if (shape[i] < 0) {
      PyErr_SetString(PyExc_ValueError, "ndpar: 'shape' must not have negative dimensions");
      return NULL;
    }
  }
  ndp_dtype dt;
  if (!ndpar_from_typenum(typenum, &dt)) {
    PyErr_SetString(PyExc_TypeError,
                    "ndpar: 'dtype' must be bool, int8..int64, uint8..uint64, float32 or float64");
    return NULL;
  }
  PyObject *name_b = NULL;
  if (name_obj != Py_None && !(name_b = name_bytes(name_obj))) return NULL;
  const char *name = name_b ? PyBytes_AS_STRING(name_b) : NULL;
  ndp_status st = {0};
  ndp_shm *s = NULL;
  int rc;
  if (!nthreads) nthreads = ndpar_nthreads();
  Py_BEGIN_ALLOW_THREADS
  rc = ndp_shm_create(name, dt, (int)nd, shape, touch ? 0u : NDP_SHM_NOTOUCH, nthreads, &s, &st);
  Py_END_ALLOW_THREADS
  Py_XDECREF(name_b);
  if (rc) return raise_shm(rc, &st);
  return wrap(&SegmentType, s);
}

/* The interrupt callback of ndp_shm_attach_ex: takes the GIL back for a
 * moment and runs the signal handlers (Ctrl-C: KeyboardInterrupt), so an
 * attach to a creator that does not answer can be interrupted. */
typedef struct {
  PyThreadState *ts;
} attach_ctx;

static int attach_interrupted(void *vctx) {
  attach_ctx *c = vctx;
  PyEval_RestoreThread(c->ts);
  int r = PyErr_CheckSignals();
  c->ts = PyEval_SaveThread();
  return r < 0;
}

static PyObject *py_shm_attach(PyObject *m, PyObject *arg) {
  (void)m;
  PyObject *name_b = name_bytes(arg);
  if (!name_b) return NULL;
  ndp_status st = {0};
  ndp_shm *s = NULL;
  attach_ctx ctx;
  ctx.ts = PyEval_SaveThread();
  int rc = ndp_shm_attach_ex(PyBytes_AS_STRING(name_b), attach_interrupted, &ctx, &s, &st);
  PyEval_RestoreThread(ctx.ts);
  Py_DECREF(name_b);
  if (rc == NDP_ECANCELED && PyErr_Occurred()) return NULL; /* the handler's exception */
  if (rc) return raise_shm(rc, &st);
  return wrap(&SegmentType, s);
}

/* A new ndarray on the segment's memory; its base is the segment. */
static PyObject *segment_array(Segment *p, PyObject *unused) {
  (void)unused;
  const ndp_array *a = ndp_shm_array(p->s);
  npy_intp dims[NDP_MAXDIMS];
  for (int i = 0; i < a->ndim; i++) dims[i] = (npy_intp)a->shape[i];
  PyObject *arr = PyArray_New(&PyArray_Type, a->ndim, dims, ndpar_typenums[a->dtype], NULL,
                              a->data, 0, NPY_ARRAY_CARRAY, NULL);
  if (!arr) return NULL;
  Py_INCREF(p);
  if (PyArray_SetBaseObject((PyArrayObject *)arr, (PyObject *)p) < 0) {
    Py_DECREF(arr);
    return NULL;
  }
  return arr;
}

static PyObject *segment_unpublish(Segment *p, PyObject *unused) {
  (void)unused;
  ndp_shm_unpublish(p->s);
  Py_RETURN_NONE;
}

static PyObject *segment_name(Segment *p, void *c) {
  (void)c;
  return PyUnicode_FromString(ndp_shm_name(p->s));
}

static PyObject *segment_creator(Segment *p, void *c) {
  (void)c;
  return PyBool_FromLong(ndp_shm_is_creator(p->s));
}

static PyObject *segment_nbytes(Segment *p, void *c) {
  (void)c;
  return PyLong_FromSize_t(ndp_shm_nbytes(p->s));
}

static PyMethodDef segment_methods[] = {
    {"array", (PyCFunction)segment_array, METH_NOARGS, "A new ndarray on the segment."},
    {"unpublish", (PyCFunction)segment_unpublish, METH_NOARGS,
     "Withdraw the name (creator only); the memory stays mapped."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef segment_getset[] = {
    {"name", (getter)segment_name, NULL, "the name ('' when anonymous)", NULL},
    {"is_creator", (getter)segment_creator, NULL, "whether this process created it", NULL},
    {"nbytes", (getter)segment_nbytes, NULL, "bytes of array data", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject SegmentType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ndpar._ndpar.Segment",
    .tp_basicsize = sizeof(Segment),
    .tp_dealloc = (destructor)segment_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A shared-memory segment (see ndpar.SharedArray).",
    .tp_methods = segment_methods,
    .tp_getset = segment_getset,
};

/* prefault(array): maps the pages under a writeable array into this
 * process's page table in one call (MADV_POPULATE_WRITE). A process forked
 * after a shared array was touched gets no page-table entries for it (the
 * kernel copies none for shared mappings), so its first write to each
 * 4 KiB page is a fault; one madvise over a worker's rows costs about
 * half as much. Best effort: errors (old kernels, private memory) are
 * ignored. */
static PyObject *py_prefault(PyObject *m, PyObject *arg) {
  (void)m;
  if (!PyArray_Check(arg)) {
    PyErr_SetString(PyExc_TypeError, "ndpar.prefault: expected an ndarray");
    return NULL;
  }
  PyArrayObject *a = (PyArrayObject *)arg;
  if (!PyArray_ISWRITEABLE(a) || PyArray_SIZE(a) == 0) Py_RETURN_NONE;
  char *lo = PyArray_BYTES(a), *hi = lo;
  for (int d = 0; d < PyArray_NDIM(a); d++) {
    npy_intp ext = (PyArray_DIM(a, d) - 1) * PyArray_STRIDE(a, d);
    if (ext < 0) lo += ext; else hi += ext;
  }
  hi += PyArray_ITEMSIZE(a);
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t b = (uintptr_t)lo & ~(page - 1), e = ((uintptr_t)hi + page - 1) & ~(page - 1);
  Py_BEGIN_ALLOW_THREADS
  (void)madvise((void *)b, e - b, MADV_POPULATE_WRITE);
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

static PyMethodDef shm_methods[] = {
    {"shm_create", py_shm_create, METH_VARARGS, "shm_create(name, shape, typenum, touch, nthreads)"},
    {"shm_attach", py_shm_attach, METH_O, "shm_attach(name): Ctrl-C interrupts the wait"},
    {"prefault", py_prefault, METH_O, "prefault(array): map its pages now (best effort)"},
    {NULL, NULL, 0, NULL}};

int ndpar_add_shm(PyObject *m) {
  if (PyType_Ready(&SegmentType) < 0) return -1;
  Py_INCREF(&SegmentType);
  if (PyModule_AddObject(m, "Segment", (PyObject *)&SegmentType) < 0) {
    Py_DECREF(&SegmentType);
    return -1;
  }
  return PyModule_AddFunctions(m, shm_methods);
}
