/*
 * python/ndpar/_expr.c - compiled expressions for Python: the type
 * _ndpar.Program wraps an immutable ndp_expr compiled for given variable
 * names and types. ndpar.evaluate / ndpar.compile (in __init__.py) find
 * the variables, cache Programs by (text, types) and call them.
 */
#define NO_IMPORT_ARRAY
#include "_common.h"

#include <string.h>

typedef struct {
  PyObject_HEAD
  ndp_expr *e;
  int nvars;
  PyObject *names; /* tuple of str */
} Program;

static void program_dealloc(Program *p) {
  ndp_expr_free(p->e);
  Py_XDECREF(p->names);
  Py_TYPE(p)->tp_free((PyObject *)p);
}

/* Raises SyntaxError (with the column) / NameError / TypeError ... */
static PyObject *raise_expr(const char *src, int rc, const ndp_status *st) {
  if (rc == NDP_ESYNTAX || rc == NDP_ENAME) {
    long pos = st->pos >= 0 ? st->pos : 0;
    char caret[512];
    long n = pos < (long)sizeof caret - 2 ? pos : (long)sizeof caret - 2;
    memset(caret, ' ', (size_t)n);
    caret[n] = '^';
    caret[n + 1] = '\0';
    PyErr_Format(ndpar_exception_for(rc),
                 "ndpar: %s (column %ld)\n    %s\n    %s", st->msg, pos + 1, src, caret);
    return NULL;
  }
  return ndpar_raise_status("evaluate", rc, st);
}

/* Program(src, names, kinds): kinds[i] is a dtype name, or 'int' / 'float'
 * for a Python scalar (weak, NEP 50). */
static PyObject *program_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
  const char *src;
  PyObject *names, *kinds;
  static char *kwlist[] = {"src", "names", "kinds", NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "sO!O!:Program", kwlist, &src, &PyTuple_Type,
                                   &names, &PyTuple_Type, &kinds))
    return NULL;
  Py_ssize_t n = PyTuple_GET_SIZE(names);
  if (n != PyTuple_GET_SIZE(kinds) || n > 4096) {
    PyErr_SetString(PyExc_ValueError, "ndpar: names and kinds must have the same length (<= 4096)");
    return NULL;
  }
  ndp_var *vars = PyMem_Calloc((size_t)(n ? n : 1), sizeof *vars);
  if (!vars) return PyErr_NoMemory();
  Program *p = NULL;
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *nm = PyTuple_GET_ITEM(names, i), *k = PyTuple_GET_ITEM(kinds, i);
    if (!PyUnicode_Check(nm) || !PyUnicode_Check(k)) {
      PyErr_SetString(PyExc_TypeError, "ndpar: names and kinds must be strings");
      goto done;
    }
    vars[i].name = PyUnicode_AsUTF8(nm);
    const char *ks = PyUnicode_AsUTF8(k);
    if (!vars[i].name || !ks) goto done;
    if (strcmp(ks, "int") == 0) {
      vars[i].kind = NDP_VAR_WEAK_INT;
      vars[i].dtype = NDP_INT64;
    } else if (strcmp(ks, "float") == 0) {
      vars[i].kind = NDP_VAR_WEAK_FLOAT;
      vars[i].dtype = NDP_FLOAT64;
    } else {
      vars[i].kind = NDP_VAR_ARRAY;
      vars[i].dtype = ndp_dtype_from_name(ks);
      if (vars[i].dtype == NDP_NTYPES) {
        PyErr_Format(PyExc_TypeError, "ndpar: variable '%s' has unsupported dtype %s",
                     vars[i].name, ks);
        goto done;
      }
    }
  }
  ndp_expr *e = NULL;
  ndp_status st = {0, {0}, -1};
  int rc = ndp_expr_compile(src, (int)n, vars, &e, &st);
  if (rc) {
    raise_expr(src, rc, &st);
    goto done;
  }
  p = (Program *)type->tp_alloc(type, 0);
  if (!p) {
    ndp_expr_free(e);
    goto done;
  }
  p->e = e;
  p->nvars = (int)n;
  Py_INCREF(names);
  p->names = names;
done:
  PyMem_Free(vars);
  return (PyObject *)p;
}

typedef union {
  int64_t i;
  double d;
} scalar_slot;

/* run(values, out=None, casting='same_kind', order='K'): values in the
 * order of names; a new result gets NumPy's layout for order
 * (ndp_expr_layout), and the library walks it in its memory order. */
static PyObject *program_run(Program *p, PyObject *args, PyObject *kw) {
  PyObject *values, *out_obj = Py_None;
  const char *casting_s = "same_kind", *order_s = "K";
  static char *kwlist[] = {"values", "out", "casting", "order", NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|Oss:run", kwlist, &PyTuple_Type, &values,
                                   &out_obj, &casting_s, &order_s))
    return NULL;
  if (strlen(order_s) != 1 || !strchr("KACF", order_s[0])) {
    PyErr_Format(PyExc_ValueError, "ndpar.evaluate: argument 'order' must be 'K', 'A', 'C' "
                 "or 'F', not '%s'", order_s);
    return NULL;
  }
  if (PyTuple_GET_SIZE(values) != p->nvars) {
    PyErr_Format(PyExc_ValueError, "ndpar: expected %d values, got %zd", p->nvars,
                 PyTuple_GET_SIZE(values));
    return NULL;
  }
  static const char *castings[] = {"no", "equiv", "safe", "same_kind", "unsafe"};
  int casting = -1;
  for (int i = 0; i < 5; i++)
    if (strcmp(casting_s, castings[i]) == 0) casting = i;
  if (casting < 0) {
    PyErr_Format(PyExc_ValueError, "ndpar.evaluate: argument 'casting' must be one of 'no', "
                 "'equiv', 'safe', 'same_kind', 'unsafe', not '%s'", casting_s);
    return NULL;
  }
  int n = p->nvars;
  ndp_array *arrs = PyMem_Calloc((size_t)(n ? n : 1), sizeof *arrs);
  const ndp_array **ptrs = PyMem_Calloc((size_t)(n ? n : 1), sizeof *ptrs);
  scalar_slot *slots = PyMem_Calloc((size_t)(n ? n : 1), sizeof *slots);
  PyArrayObject *out = NULL;
  PyObject *result = NULL;
  if (!arrs || !ptrs || !slots) {
    PyErr_NoMemory();
    goto done;
  }
  for (int i = 0; i < n; i++) {
    PyObject *v = PyTuple_GET_ITEM(values, i);
    const char *name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(p->names, i));
    ptrs[i] = &arrs[i];
    if (PyArray_Check(v)) {
      if (ndpar_fill_desc((PyArrayObject *)v, &arrs[i], "evaluate", name)) goto done;
    } else if (PyFloat_Check(v)) {
      slots[i].d = PyFloat_AsDouble(v);
      ndp_array_init(&arrs[i], &slots[i], NDP_FLOAT64, 0, NULL);
    } else if (PyLong_Check(v) && !PyBool_Check(v)) {
      int overflow = 0;
      slots[i].i = PyLong_AsLongLongAndOverflow(v, &overflow);
      if (overflow) {
        PyErr_Format(PyExc_OverflowError, "ndpar.evaluate: Python integer '%s' does not fit "
                     "int64", name);
        goto done;
      }
      ndp_array_init(&arrs[i], &slots[i], NDP_INT64, 0, NULL);
    } else {
      PyErr_Format(PyExc_TypeError, "ndpar.evaluate: variable '%s' must be an array or a "
                   "number", name);
      goto done;
    }
  }
  int nd;
  int64_t shape[NDP_MAXDIMS], strides[NDP_MAXDIMS];
  ndp_status st = {0, {0}, -1};
  ndp_dtype rdt = ndp_expr_dtype(p->e);
  int rc = ndp_expr_layout(p->e, ptrs, order_s[0], ndp_dtype_size(rdt), &nd, shape, strides,
                           &st);
  if (rc) {
    ndpar_raise_status("evaluate", rc, &st);
    goto done;
  }
  ndp_array oa;
  if (out_obj != Py_None) {
    if (!PyArray_Check(out_obj)) {
      PyErr_SetString(PyExc_TypeError, "ndpar.evaluate: argument 'out' must be a numpy array");
      goto done;
    }
    out = (PyArrayObject *)out_obj;
    Py_INCREF(out);
    if (!PyArray_ISWRITEABLE(out)) {
      PyErr_SetString(PyExc_ValueError, "ndpar.evaluate: argument 'out' is read-only");
      goto done;
    }
    if (ndpar_fill_desc(out, &oa, "evaluate", "out")) goto done;
    int same = oa.ndim == nd;
    for (int d = 0; same && d < nd; d++) same = oa.shape[d] == shape[d];
    if (!same) {
      PyErr_SetString(PyExc_ValueError, "ndpar.evaluate: argument 'out' has the wrong shape");
      goto done;
    }
  } else {
    npy_intp dims[NDP_MAXDIMS], strd[NDP_MAXDIMS];
    for (int d = 0; d < nd; d++) {
      dims[d] = (npy_intp)shape[d];
      strd[d] = (npy_intp)strides[d];
    }
    out = (PyArrayObject *)PyArray_New(&PyArray_Type, nd, dims, ndpar_typenums[rdt], strd, NULL,
                                       0, 0, NULL);
    if (!out) goto done;
    ndpar_fill_desc(out, &oa, "evaluate", "out");
  }
  ndpar_gil_poll g;
  ndp_exec ex = {ndpar_nthreads(), ndpar_poll_signals, &g, 0.05};
  g.ts = PyEval_SaveThread();
  rc = ndp_expr_eval(p->e, ptrs, &oa, (ndp_casting)casting, &ex, &st);
  PyEval_RestoreThread(g.ts);
  if (rc) {
    ndpar_raise_status("evaluate", rc, &st);
    goto done;
  }
  /* out= given: return it; else NumPy's convention (0-d -> scalar) */
  result = (out_obj != Py_None) ? (PyObject *)out : PyArray_Return(out);
  out = NULL;
done:
  Py_XDECREF(out);
  PyMem_Free(arrs);
  PyMem_Free(ptrs);
  PyMem_Free(slots);
  return result;
}

static PyObject *program_explain(Program *p, PyObject *unused) {
  (void)unused;
  size_t need = ndp_expr_explain(p->e, NULL, 0);
  char *buf = PyMem_Malloc(need + 1);
  if (!buf) return PyErr_NoMemory();
  ndp_expr_explain(p->e, buf, need + 1);
  PyObject *s = PyUnicode_FromString(buf);
  PyMem_Free(buf);
  return s;
}

/* Program.free_names(src): ((name, builtin), ...), the names src reads
 * that a variable may bind (ndp_expr_names); builtin: a constant (e, pi,
 * inf, nan) is used when none does. Raises SyntaxError like Program(). */
static PyObject *program_free_names(PyObject *unused, PyObject *args) {
  (void)unused;
  const char *src;
  if (!PyArg_ParseTuple(args, "s:free_names", &src)) return NULL;
  ndp_status st = {0, {0}, -1};
  ndp_expr_name small[16], *names = small;
  int n = 0, rc = ndp_expr_names(src, small, 16, &n, &st);
  if (!rc && n > 16) {
    names = PyMem_Malloc(sizeof *names * (size_t)n);
    if (!names) return PyErr_NoMemory();
    int n2 = 0;
    rc = ndp_expr_names(src, names, n, &n2, &st);
  }
  PyObject *out = NULL;
  if (rc) {
    raise_expr(src, rc, &st);
    goto done;
  }
  out = PyTuple_New(n);
  for (int i = 0; out && i < n; i++) {
    PyObject *item = Py_BuildValue("(s#O)", src + names[i].pos, (Py_ssize_t)names[i].len,
                                   names[i].builtin ? Py_True : Py_False);
    if (!item) {
      Py_CLEAR(out);
      break;
    }
    PyTuple_SET_ITEM(out, i, item);
  }
done:
  if (names != small) PyMem_Free(names);
  return out;
}

static PyObject *program_reduction(Program *p, void *closure) {
  (void)closure;
  return PyBool_FromLong(ndp_expr_reduces(p->e));
}

static PyObject *program_dtype(Program *p, void *closure) {
  (void)closure;
  return PyUnicode_FromString(ndp_dtype_name(ndp_expr_dtype(p->e)));
}

static PyMethodDef program_methods[] = {
    {"run", (PyCFunction)(void (*)(void))program_run, METH_VARARGS | METH_KEYWORDS,
     "run(values, out=None, casting='same_kind'): evaluate with these values."},
    {"explain", (PyCFunction)program_explain, METH_NOARGS, "The compiled program, as text."},
    {"free_names", (PyCFunction)program_free_names, METH_VARARGS | METH_STATIC,
     "free_names(src): ((name, builtin), ...) in order of first use: the names src reads "
     "that a variable may bind; builtin names (e, pi, inf, nan) are constants when unbound."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef program_getset[] = {
    {"dtype", (getter)program_dtype, NULL, "Result dtype name.", NULL},
    {"reduction", (getter)program_reduction, NULL, "Whether the program ends in a reduction.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ProgramType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ndpar.Program",
    .tp_basicsize = sizeof(Program),
    .tp_dealloc = (destructor)program_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Program(src, names, kinds): an expression compiled for these variables.",
    .tp_methods = program_methods,
    .tp_getset = program_getset,
    .tp_new = program_new,
};

int ndpar_add_expr(PyObject *m) {
  if (PyType_Ready(&ProgramType) < 0) return -1;
  Py_INCREF(&ProgramType);
  if (PyModule_AddObject(m, "Program", (PyObject *)&ProgramType) < 0) {
    Py_DECREF(&ProgramType);
    return -1;
  }
  return 0;
}
