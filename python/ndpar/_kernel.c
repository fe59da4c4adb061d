/*
 * python/ndpar/_kernel.c - user kernels for Python: the type
 * _ndpar.Kernel wraps an immutable ndp_kernel compiled for given argument
 * dtypes and core dimensions, and kernel_check parses a text without
 * compiling it. ndpar.vectorize / guvectorize / kernel (_vectorize.py)
 * get the source, cache Kernels per dtypes, allocate outputs and call run.
 * kernel_ufunc makes a vectorize kernel a numpy.ufunc: a promoter takes
 * the argument dtypes NumPy sees (a Python int as int64, a float as
 * float64), compiles the kernel for them through the Python object's
 * _kernel_for and adds that loop on first use, as Numba's DUFunc does; the
 * loop runs the span with ndp_kernel_eval (in order, one element at a
 * time, when NumPy aliases the output with an input for reduce or
 * accumulate).
 */
#define NO_IMPORT_ARRAY
#define NO_IMPORT_UFUNC
#include "_common.h"

#include <numpy/dtype_api.h>
#include <numpy/ufuncobject.h>

#include <fenv.h>
#include <string.h>

typedef struct {
  PyObject_HEAD
  ndp_kernel *k;
  int nargs;
} Kernel;

static void kernel_dealloc(Kernel *p) {
  ndp_kernel_free(p->k);
  Py_TYPE(p)->tp_free((PyObject *)p);
}

/* SyntaxError with filename/lineno, TypeError, NameError, ... */
static PyObject *raise_kernel(int rc, const ndp_status *st, const char *filename) {
  if (PyErr_Occurred()) return NULL;
  const char *msg = st->msg[0] ? st->msg : ndp_strerror(rc);
  if (rc == NDP_ESYNTAX) {
    PyObject *fixed = Py_BuildValue("(s(slOO))", msg, filename ? filename : "<kernel>",
                                    st->pos > 0 ? st->pos : 1L, Py_None, Py_None);
    if (!fixed) return NULL;
    PyErr_SetObject(PyExc_SyntaxError, fixed);
    Py_DECREF(fixed);
    return NULL;
  }
  PyObject *exc;
  switch (rc) {
  case NDP_ETYPE: exc = PyExc_TypeError; break;
  case NDP_ENAME: exc = PyExc_NameError; break;
  case NDP_EINDEX: exc = PyExc_IndexError; break;
  case NDP_EOVERFLOW: exc = PyExc_OverflowError; break;
  case NDP_EDOMAIN:
    exc = strncmp(msg, "integer division", 16) == 0 ? PyExc_ZeroDivisionError : PyExc_ValueError;
    break;
  case NDP_ECANCELED: exc = PyExc_KeyboardInterrupt; break;
  case NDP_ENOMEM: exc = PyExc_MemoryError; break;
  case NDP_EUSER: case NDP_EINVAL: case NDP_ESHAPE: exc = PyExc_ValueError; break;
  default: exc = PyExc_RuntimeError; break;
  }
  PyErr_Format(exc, "ndpar kernel: %s", msg);
  return NULL;
}

static int parse_consts(PyObject *consts, ndp_kernel_const **out, int *n) {
  *out = NULL;
  *n = 0;
  if (!consts || consts == Py_None) return 0;
  if (!PyTuple_Check(consts)) {
    PyErr_SetString(PyExc_TypeError, "ndpar: consts must be a tuple of (name, value)");
    return -1;
  }
  Py_ssize_t m = PyTuple_GET_SIZE(consts);
  if (m > 4096) {
    PyErr_SetString(PyExc_ValueError, "ndpar: too many constants");
    return -1;
  }
  ndp_kernel_const *c = PyMem_Calloc((size_t)(m ? m : 1), sizeof *c);
  if (!c) {
    PyErr_NoMemory();
    return -1;
  }
  for (Py_ssize_t i = 0; i < m; i++) {
    PyObject *it = PyTuple_GET_ITEM(consts, i);
    if (!PyTuple_Check(it) || PyTuple_GET_SIZE(it) != 2 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(it, 0))) {
      PyErr_SetString(PyExc_TypeError, "ndpar: consts must be a tuple of (name, value)");
      PyMem_Free(c);
      return -1;
    }
    c[i].name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(it, 0));
    PyObject *v = PyTuple_GET_ITEM(it, 1);
    if (!c[i].name) {
      PyMem_Free(c);
      return -1;
    }
    if (PyBool_Check(v)) {
      c[i].kind = 2;
      c[i].i = v == Py_True;
    } else if (PyLong_Check(v)) {
      int ovf = 0;
      c[i].i = PyLong_AsLongLongAndOverflow(v, &ovf);
      c[i].kind = ovf ? 3 : 0;
    } else if (PyFloat_Check(v)) {
      c[i].kind = 1;
      c[i].d = PyFloat_AsDouble(v);
    } else {
      c[i].kind = 3;
    }
  }
  *out = c;
  *n = (int)m;
  return 0;
}

/* Kernel(src, name, args, first_line=1, consts=(), filename=None):
 * args[i] = (dtype name or None, core_ndim, is_output) */
static PyObject *kernel_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
  const char *src, *name = NULL, *filename = NULL;
  PyObject *targs, *consts = NULL;
  int first_line = 1;
  static char *kwlist[] = {"src", "name", "args", "first_line", "consts", "filename", NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "szO!|iOz:Kernel", kwlist, &src, &name,
                                   &PyTuple_Type, &targs, &first_line, &consts, &filename))
    return NULL;
  Py_ssize_t n = PyTuple_GET_SIZE(targs);
  if (n > 64) {
    PyErr_SetString(PyExc_ValueError, "ndpar: a kernel takes at most 64 arguments");
    return NULL;
  }
  ndp_kernel_arg ka[64];
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *t = PyTuple_GET_ITEM(targs, i);
    PyObject *dt;
    int core, output;
    if (!PyTuple_Check(t) || !PyArg_ParseTuple(t, "Oip", &dt, &core, &output)) {
      if (!PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "ndpar: args must be (dtype, core_ndim, output) tuples");
      return NULL;
    }
    ka[i].core_ndim = core;
    ka[i].output = output;
    if (dt == Py_None) ka[i].dtype = NDP_NTYPES;
    else {
      const char *s = PyUnicode_AsUTF8(dt);
      if (!s) return NULL;
      ka[i].dtype = ndp_dtype_from_name(s);
      if (ka[i].dtype == NDP_NTYPES) {
        PyErr_Format(PyExc_TypeError, "ndpar: argument %zd has dtype %s, which kernels do not "
                     "support", i, s);
        return NULL;
      }
    }
  }
  ndp_kernel_const *c;
  int nc;
  if (parse_consts(consts, &c, &nc)) return NULL;
  ndp_kernel_opts o = {first_line, nc, c};
  ndp_kernel *k = NULL;
  ndp_status st = {0, {0}, -1};
  int rc = ndp_kernel_compile(src, name, (int)n, ka, &o, &k, &st);
  PyMem_Free(c);
  if (rc) return raise_kernel(rc, &st, filename);
  Kernel *p = (Kernel *)type->tp_alloc(type, 0);
  if (!p) {
    ndp_kernel_free(k);
    return NULL;
  }
  p->k = k;
  p->nargs = (int)n;
  return (PyObject *)p;
}

/* run(arrays, out=None): arrays are ndarrays in parameter order (outputs
 * included, already allocated); out receives the result of a kernel that
 * returns one. */
static PyObject *kernel_run(Kernel *p, PyObject *args, PyObject *kw) {
  PyObject *arrays, *out_obj = Py_None;
  static char *kwlist[] = {"arrays", "out", NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|O:run", kwlist, &PyTuple_Type, &arrays,
                                   &out_obj))
    return NULL;
  if (PyTuple_GET_SIZE(arrays) != p->nargs) {
    PyErr_Format(PyExc_ValueError, "ndpar: expected %d arrays, got %zd", p->nargs,
                 PyTuple_GET_SIZE(arrays));
    return NULL;
  }
  ndp_array desc[65];
  const ndp_array *ptrs[65];
  for (int i = 0; i < p->nargs; i++) {
    PyObject *a = PyTuple_GET_ITEM(arrays, i);
    char nm[32];
    snprintf(nm, sizeof nm, "argument %d", i);
    if (!PyArray_Check(a)) {
      PyErr_Format(PyExc_TypeError, "ndpar: %s must be a numpy array", nm);
      return NULL;
    }
    if (ndpar_fill_desc((PyArrayObject *)a, &desc[i], "kernel", nm)) return NULL;
    ptrs[i] = &desc[i];
  }
  ndp_array od;
  if (out_obj != Py_None) {
    if (!PyArray_Check(out_obj) || !PyArray_ISWRITEABLE((PyArrayObject *)out_obj)) {
      PyErr_SetString(PyExc_TypeError, "ndpar: out must be a writeable numpy array");
      return NULL;
    }
    if (ndpar_fill_desc((PyArrayObject *)out_obj, &od, "kernel", "out")) return NULL;
  }
  ndp_status st = {0, {0}, -1};
  ndpar_gil_poll g;
  ndp_exec ex = {ndpar_nthreads(), ndpar_poll_signals, &g, 0.02};
  g.ts = PyEval_SaveThread();
  int rc = ndp_kernel_eval(p->k, ptrs, out_obj != Py_None ? &od : NULL, &ex, &st);
  PyEval_RestoreThread(g.ts);
  if (rc) return raise_kernel(rc, &st, NULL);
  Py_RETURN_NONE;
}

static PyObject *kernel_arg_dtype(Kernel *p, PyObject *arg) {
  long i = PyLong_AsLong(arg);
  if (i == -1 && PyErr_Occurred()) return NULL;
  ndp_dtype d = ndp_kernel_arg_dtype(p->k, (int)i);
  if (d == NDP_NTYPES) {
    PyErr_SetString(PyExc_IndexError, "ndpar: argument index out of range");
    return NULL;
  }
  return PyUnicode_FromString(ndp_dtype_name(d));
}

static PyObject *kernel_explain(Kernel *p, PyObject *unused) {
  (void)unused;
  size_t need = ndp_kernel_explain(p->k, NULL, 0);
  char *buf = PyMem_Malloc(need + 1);
  if (!buf) return PyErr_NoMemory();
  ndp_kernel_explain(p->k, buf, need + 1);
  PyObject *s = PyUnicode_FromString(buf);
  PyMem_Free(buf);
  return s;
}

static PyObject *kernel_result_dtype(Kernel *p, void *closure) {
  (void)closure;
  ndp_dtype d = ndp_kernel_result_dtype(p->k);
  if (d == NDP_NTYPES) Py_RETURN_NONE;
  return PyUnicode_FromString(ndp_dtype_name(d));
}

static PyMethodDef kernel_methods[] = {
    {"run", (PyCFunction)(void (*)(void))kernel_run, METH_VARARGS | METH_KEYWORDS,
     "run(arrays, out=None): run over these arrays (outputs included)."},
    {"arg_dtype", (PyCFunction)kernel_arg_dtype, METH_O,
     "arg_dtype(i): parameter i's dtype name (an output's inferred one)."},
    {"explain", (PyCFunction)kernel_explain, METH_NOARGS, "The bytecode, as text."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef kernel_getset[] = {
    {"result_dtype", (getter)kernel_result_dtype, NULL, "Result dtype name, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject KernelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ndpar.Kernel",
    .tp_basicsize = sizeof(Kernel),
    .tp_dealloc = (destructor)kernel_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Kernel(src, name, args, first_line=1, consts=(), filename=None): a compiled "
              "user kernel.",
    .tp_methods = kernel_methods,
    .tp_getset = kernel_getset,
    .tp_new = kernel_new,
};

/* kernel_check(src, name=None, first_line=1, filename=None) -> nparams */
static PyObject *kernel_check(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self;
  const char *src, *name = NULL, *filename = NULL;
  int first_line = 1;
  static char *kwlist[] = {"src", "name", "first_line", "filename", NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "s|ziz:kernel_check", kwlist, &src, &name,
                                   &first_line, &filename))
    return NULL;
  ndp_kernel_opts o = {first_line, 0, NULL};
  ndp_status st = {0, {0}, -1};
  int np = 0;
  int rc = ndp_kernel_check(src, name, &o, &np, &st);
  if (rc) return raise_kernel(rc, &st, filename);
  return PyLong_FromLong(np);
}


/* ---- a vectorize kernel as a numpy.ufunc ------------------------------------ */

typedef struct {
  NpyAuxData base;
  PyObject *kernel; /* a Kernel */
} kaux;

static void kaux_free(NpyAuxData *a) {
  PyGILState_STATE g = PyGILState_Ensure();
  Py_XDECREF(((kaux *)a)->kernel);
  PyGILState_Release(g);
  PyMem_Free(a);
}

static NpyAuxData *kaux_clone(NpyAuxData *a) {
  kaux *c = PyMem_Malloc(sizeof *c);
  if (!c) return NULL;
  memcpy(c, a, sizeof *c);
  PyGILState_STATE g = PyGILState_Ensure();
  Py_XINCREF(c->kernel);
  PyGILState_Release(g);
  return (NpyAuxData *)c;
}

/* The Vectorized object behind a kernel ufunc (borrowed from its dict). */
static PyObject *owner_of(PyObject *uf) {
  PyObject *d = PyObject_GenericGetDict(uf, NULL);
  PyObject *v = d ? PyDict_GetItemString(d, "_kernel") : NULL;
  Py_XDECREF(d);
  if (!v && !PyErr_Occurred())
    PyErr_SetString(PyExc_RuntimeError, "ndpar: a kernel ufunc lost its kernel");
  return v;
}

/* Kernel for these input dtypes (new reference), compiled once. */
static PyObject *kernel_for(PyObject *uf, PyArray_DTypeMeta *const *dts, int nin) {
  PyObject *v = owner_of(uf);
  if (!v) return NULL;
  PyObject *key = PyTuple_New(nin);
  if (!key) return NULL;
  for (int i = 0; i < nin; i++) {
    ndp_dtype dt;
    if (!ndpar_from_typenum(dts[i]->type_num, &dt)) {
      Py_DECREF(key);
      PyErr_Format(PyExc_TypeError, "ndpar kernel: argument %d has a dtype that kernels do "
                   "not support (%S)", i, (PyObject *)dts[i]);
      return NULL;
    }
    PyTuple_SET_ITEM(key, i, PyUnicode_FromString(ndp_dtype_name(dt)));
  }
  PyObject *meth = PyUnicode_FromString("_kernel_for");
  PyObject *k = meth ? PyObject_CallMethodOneArg(v, meth, key) : NULL;
  Py_XDECREF(meth);
  Py_DECREF(key);
  if (k && !PyObject_TypeCheck(k, &KernelType)) {
    Py_DECREF(k);
    PyErr_SetString(PyExc_TypeError, "ndpar: _kernel_for must return a Kernel");
    return NULL;
  }
  return k;
}

static int kloop(PyArrayMethod_Context *ctx, char *const *data, const npy_intp *dims,
                 const npy_intp *strides, NpyAuxData *aux) {
  const Kernel *kp = (const Kernel *)((kaux *)aux)->kernel;
  const int nin = kp->nargs;
  const npy_intp n = dims[0];
  ndp_array a[65];
  const ndp_array *in[64];
  for (int i = 0; i <= nin; i++) {
    memset(&a[i], 0, sizeof a[i]);
    if (!ndpar_from_typenum(ctx->descriptors[i]->type_num, &a[i].dtype)) {
      PyErr_SetString(PyExc_TypeError, "ndpar kernel: unsupported dtype");
      return -1;
    }
    a[i].ndim = 1;
    a[i].data = data[i];
    a[i].shape[0] = n;
    a[i].strides[0] = strides[i];
    if (i < nin) in[i] = &a[i];
  }
  /* NumPy's reduce/accumulate alias the output with an input on purpose:
   * then element by element, in order */
  int serial = strides[nin] == 0 && n > 1;
  for (int i = 0; i < nin && !serial; i++) {
    const char *lo = data[i], *hi = data[i] + (n - 1) * strides[i];
    const char *olo = data[nin], *ohi = data[nin] + (n - 1) * strides[nin];
    if (lo > hi) { const char *t = lo; lo = hi; hi = t; }
    if (olo > ohi) { const char *t = olo; olo = ohi; ohi = t; }
    int exact = data[i] == data[nin] && strides[i] == strides[nin];
    serial = !exact && lo < ohi + 8 && olo < hi + 8;
  }
  ndp_status st = {0, {0}, -1};
  int rc = 0;
  if (serial) {
    for (npy_intp j = 0; j < n && !rc; j++) {
      ndp_array e[65];
      const ndp_array *ein[64];
      for (int i = 0; i <= nin; i++) {
        e[i] = a[i];
        e[i].data = (char *)data[i] + j * strides[i];
        e[i].shape[0] = 1;
        if (i < nin) ein[i] = &e[i];
      }
      rc = ndp_kernel_eval(kp->k, ein, &e[nin], NULL, &st);
    }
  } else if (n >= GIL_RELEASE_MIN) {
    ndpar_gil_poll g;
    ndp_exec ex = {ndpar_nthreads(), ndpar_poll_signals, &g, 0.02};
    g.ts = PyEval_SaveThread();
    rc = ndp_kernel_eval(kp->k, in, &a[nin], &ex, &st);
    PyEval_RestoreThread(g.ts);
  } else {
    rc = ndp_kernel_eval(kp->k, in, &a[nin], NULL, &st);
  }
  feclearexcept(FE_ALL_EXCEPT); /* no floating-point warnings (see _ufunc.c) */
  if (rc) {
    raise_kernel(rc, &st, NULL);
    return -1;
  }
  return 0;
}

static int kget_loop(PyArrayMethod_Context *ctx, int aligned, int move_refs,
                     const npy_intp *strides, PyArrayMethod_StridedLoop **out_loop,
                     NpyAuxData **out_aux, NPY_ARRAYMETHOD_FLAGS *flags) {
  (void)aligned, (void)move_refs, (void)strides;
  PyUFuncObject *uf = (PyUFuncObject *)ctx->caller;
  if (!uf) {
    PyErr_SetString(PyExc_RuntimeError, "ndpar: a kernel loop without its ufunc");
    return -1;
  }
  PyArray_DTypeMeta *dts[64];
  for (int i = 0; i < uf->nin; i++) dts[i] = NPY_DTYPE(ctx->descriptors[i]);
  PyObject *k = kernel_for((PyObject *)uf, dts, uf->nin);
  if (!k) return -1;
  kaux *a = PyMem_Calloc(1, sizeof *a);
  if (!a) {
    Py_DECREF(k);
    PyErr_NoMemory();
    return -1;
  }
  a->base.free = kaux_free;
  a->base.clone = kaux_clone;
  a->kernel = k;
  *out_loop = kloop;
  *out_aux = (NpyAuxData *)a;
  *flags = NPY_METH_REQUIRES_PYAPI | NPY_METH_NO_FLOATINGPOINT_ERRORS;
  return 0;
}

/* The DType a kernel argument compiles as: Python scalars as int64 /
 * float64 (what np.asarray gives), arrays as they are. */
static PyArray_DTypeMeta *arg_dtype(PyArray_DTypeMeta *d, int i) {
  int tn = d == &PyArray_PyLongDType ? NPY_INT64 : d == &PyArray_PyFloatDType ? NPY_FLOAT64 : -1;
  if (tn < 0) {
    ndp_dtype dt;
    if (!ndpar_from_typenum(d->type_num, &dt) || dt == NDP_UINT64) {
      PyErr_Format(PyExc_TypeError, "ndpar kernel: argument %d has dtype %S, which ndpar "
                   "kernels do not support (bool, int8..int64, uint8..uint32, float32, "
                   "float64)", i, (PyObject *)d);
      return NULL;
    }
    return d;
  }
  PyArray_Descr *descr = PyArray_DescrFromType(tn);
  PyArray_DTypeMeta *m = NPY_DTYPE(descr);
  Py_DECREF(descr);
  return m;
}

static int kernel_promoter(PyObject *ufo, PyArray_DTypeMeta *const op_dtypes[],
                           PyArray_DTypeMeta *const signature[],
                           PyArray_DTypeMeta *new_op_dtypes[]) {
  PyUFuncObject *uf = (PyUFuncObject *)ufo;
  const int nin = uf->nin;
  PyArray_DTypeMeta *dts[65];
  PyArray_DTypeMeta *any = NULL; /* reduce passes no dtype for its accumulator */
  for (int i = 0; i < nin && !any; i++) any = signature[i] ? signature[i] : op_dtypes[i];
  for (int i = 0; i < nin; i++) {
    PyArray_DTypeMeta *d = signature[i] ? signature[i] : op_dtypes[i] ? op_dtypes[i] : any;
    if (!d || !(dts[i] = arg_dtype(d, i))) {
      if (!PyErr_Occurred())
        PyErr_Format(PyExc_TypeError, "ndpar kernel: argument %d has no dtype", i);
      return -1;
    }
  }
  PyObject *k = kernel_for(ufo, dts, nin);
  if (!k) return -1;
  ndp_dtype rdt = ndp_kernel_result_dtype(((Kernel *)k)->k);
  Py_DECREF(k);
  if (rdt == NDP_NTYPES) {
    PyErr_SetString(PyExc_TypeError, "ndpar kernel: the function returns no value");
    return -1;
  }
  PyArray_Descr *rd = PyArray_DescrFromType(ndpar_typenums[rdt]);
  dts[nin] = signature[nin] ? signature[nin] : NPY_DTYPE(rd);
  Py_DECREF(rd);
  /* the loop for this signature, added on first use */
  PyObject *v = owner_of(ufo);
  if (!v) return -1;
  PyObject *key = PyTuple_New(nin + 1);
  if (!key) return -1;
  for (int i = 0; i <= nin; i++) {
    Py_INCREF(dts[i]);
    PyTuple_SET_ITEM(key, i, (PyObject *)dts[i]);
  }
  PyObject *seen = PyObject_GetAttrString(v, "_ufunc_loops");
  int have = seen ? PySet_Contains(seen, key) : -1;
  if (have == 0) {
    PyType_Slot slots[] = {{NPY_METH_get_loop, (void *)kget_loop}, {0, NULL}};
    PyArrayMethod_Spec spec = {"ndpar_kernel_loop", nin, 1, NPY_NO_CASTING,
                               NPY_METH_REQUIRES_PYAPI | NPY_METH_NO_FLOATINGPOINT_ERRORS,
                               dts, slots};
    have = PyUFunc_AddLoopFromSpec(ufo, &spec) < 0 || PySet_Add(seen, key) < 0 ? -1 : 1;
  }
  Py_XDECREF(seen);
  Py_DECREF(key);
  if (have < 0) return -1;
  for (int i = 0; i <= nin; i++) {
    Py_INCREF(dts[i]);
    new_op_dtypes[i] = dts[i];
  }
  return 0;
}

/* kernel_ufunc(owner, nin, name) -> numpy.ufunc: owner._kernel_for(dtype
 * names) compiles; owner._ufunc_loops is a set the promoter fills. */
static PyObject *kernel_ufunc(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *owner;
  int nin;
  const char *name;
  if (!PyArg_ParseTuple(args, "Ois:kernel_ufunc", &owner, &nin, &name)) return NULL;
  if (nin < 1 || nin > 31) {
    PyErr_Format(PyExc_TypeError, "ndpar.vectorize: %s() must take 1 to 31 arguments, not %d",
                 name, nin);
    return NULL;
  }
  PyObject *namebytes = PyBytes_FromString(name); /* ufunc->name points into it */
  if (!namebytes) return NULL;
  PyObject *uf = PyUFunc_FromFuncAndData(NULL, NULL, NULL, 0, nin, 1, PyUFunc_None,
                                         PyBytes_AS_STRING(namebytes), NULL, 0);
  if (!uf) {
    Py_DECREF(namebytes);
    return NULL;
  }
  int bad = PyObject_SetAttrString(uf, "_name_bytes", namebytes) < 0 ||
            PyObject_SetAttrString(uf, "_kernel", owner) < 0;
  Py_DECREF(namebytes);
  PyObject *key = bad ? NULL : PyTuple_New(nin + 1);
  for (int i = 0; key && i <= nin; i++) {
    Py_INCREF(Py_None);
    PyTuple_SET_ITEM(key, i, Py_None);
  }
  PyObject *cap = key ? PyCapsule_New((void *)kernel_promoter, "numpy._ufunc_promoter", NULL)
                      : NULL;
  if (!cap || PyUFunc_AddPromoter(uf, key, cap) < 0) bad = 1;
  Py_XDECREF(key);
  Py_XDECREF(cap);
  if (bad) {
    Py_DECREF(uf);
    return NULL;
  }
  return uf;
}

static PyMethodDef module_methods[] = {
    {"kernel_ufunc", kernel_ufunc, METH_VARARGS,
     "kernel_ufunc(owner, nin, name) -> numpy.ufunc running owner's kernels."},
    {"kernel_check", (PyCFunction)(void (*)(void))kernel_check, METH_VARARGS | METH_KEYWORDS,
     "kernel_check(src, name=None, first_line=1, filename=None): parse; the parameter count."},
    {NULL, NULL, 0, NULL}};

int ndpar_add_kernel(PyObject *m) {
  if (PyType_Ready(&KernelType) < 0) return -1;
  Py_INCREF(&KernelType);
  if (PyModule_AddObject(m, "Kernel", (PyObject *)&KernelType) < 0) {
    Py_DECREF(&KernelType);
    return -1;
  }
  return PyModule_AddFunctions(m, module_methods);
}
