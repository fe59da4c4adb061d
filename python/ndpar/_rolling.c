/*
 * python/ndpar/_rolling.c - move_* functions with bottleneck's names and
 * argument order (a, window, min_count=None, axis=-1), plus ndpar's
 * center=, mode= and out=, and the private keyword-only _anchor= (the global
 * index of a's first element along the axis, for chunked callers: see
 * ndp_rolling_at). Arguments are checked here with messages that
 * name them; the computing is ndp_rolling in the library.
 */
#define NO_IMPORT_ARRAY
#include "_common.h"

#include <string.h>

static int get_int64(PyObject *o, const char *fname, const char *arg, int64_t *v) {
  if (!PyLong_Check(o) || PyBool_Check(o)) {
    if (PyArray_IsScalar(o, Integer)) {
      *v = PyLong_AsLongLong(o);
      return (*v == -1 && PyErr_Occurred()) ? -1 : 0;
    }
    PyErr_Format(PyExc_TypeError, "ndpar.%s: argument '%s' must be an int, not %.100s", fname,
                 arg, Py_TYPE(o)->tp_name);
    return -1;
  }
  int overflow = 0;
  long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
  if (overflow) {
    PyErr_Format(PyExc_ValueError, "ndpar.%s: argument '%s' is out of range", fname, arg);
    return -1;
  }
  if (x == -1 && PyErr_Occurred()) return -1;
  *v = x;
  return 0;
}

static PyObject *roll_call(int fn, PyObject *args, PyObject *kw) {
  char fname[32];
  snprintf(fname, sizeof fname, "move_%s", ndp_roll_name(fn));
  const int is_q = fn == NDP_ROLL_QUANTILE, is_var = fn == NDP_ROLL_VAR || fn == NDP_ROLL_STD;
  static char *kw_plain[] = {"a", "window", "min_count", "axis", "center", "mode", "out", "_anchor", NULL};
  static char *kw_var[] = {"a", "window", "min_count", "axis", "ddof", "center", "mode", "out", "_anchor", NULL};
  static char *kw_q[] = {"a", "window", "q", "min_count", "axis", "center", "mode", "out", "_anchor", NULL};
  PyObject *a_obj, *win_obj, *q_obj = NULL, *mc_obj = Py_None, *axis_obj = NULL,
                             *ddof_obj = NULL, *mode_obj = Py_None, *out_obj = Py_None,
                             *anchor_obj = NULL;
  int center = 0;
  char fmt[64];
  int ok;
  if (is_q) {
    snprintf(fmt, sizeof fmt, "OOO|OOpOO$O:%s", fname);
    ok = PyArg_ParseTupleAndKeywords(args, kw, fmt, kw_q, &a_obj, &win_obj, &q_obj, &mc_obj,
                                     &axis_obj, &center, &mode_obj, &out_obj, &anchor_obj);
  } else if (is_var) {
    snprintf(fmt, sizeof fmt, "OO|OOOpOO$O:%s", fname);
    ok = PyArg_ParseTupleAndKeywords(args, kw, fmt, kw_var, &a_obj, &win_obj, &mc_obj,
                                     &axis_obj, &ddof_obj, &center, &mode_obj, &out_obj, &anchor_obj);
  } else {
    snprintf(fmt, sizeof fmt, "OO|OOpOO$O:%s", fname);
    ok = PyArg_ParseTupleAndKeywords(args, kw, fmt, kw_plain, &a_obj, &win_obj, &mc_obj,
                                     &axis_obj, &center, &mode_obj, &out_obj, &anchor_obj);
  }
  if (!ok) return NULL;

  ndp_roll_opts o;
  memset(&o, 0, sizeof o);
  o.axis = -1;
  if (get_int64(win_obj, fname, "window", &o.window)) return NULL;
  if (mc_obj != Py_None && get_int64(mc_obj, fname, "min_count", &o.min_count)) return NULL;
  if (mc_obj != Py_None && o.min_count < 1) {
    PyErr_Format(PyExc_ValueError, "ndpar.%s: argument 'min_count' must be between 1 and "
                 "window, not %lld", fname, (long long)o.min_count);
    return NULL;
  }
  if (axis_obj && axis_obj != Py_None) {
    int64_t ax;
    if (get_int64(axis_obj, fname, "axis", &ax)) return NULL;
    if (ax < -NDP_MAXDIMS || ax >= NDP_MAXDIMS) {
      PyErr_Format(PyExc_ValueError, "ndpar.%s: argument 'axis' %lld is out of range", fname,
                   (long long)ax);
      return NULL;
    }
    o.axis = (int)ax;
  }
  /* _anchor (private, for chunked callers such as the dask path): the
   * global index of a's first element along the axis (ndp_rolling_at) */
  int64_t anchor = 0;
  if (anchor_obj && anchor_obj != Py_None) {
    if (get_int64(anchor_obj, fname, "_anchor", &anchor)) return NULL;
    if (anchor < 0) {
      PyErr_Format(PyExc_ValueError, "ndpar.%s: argument '_anchor' must be >= 0, not %lld",
                   fname, (long long)anchor);
      return NULL;
    }
  }
  if (ddof_obj) {
    int64_t dd;
    if (get_int64(ddof_obj, fname, "ddof", &dd)) return NULL;
    if (dd < 0 || dd > INT32_MAX) {
      PyErr_Format(PyExc_ValueError, "ndpar.%s: argument 'ddof' must be >= 0", fname);
      return NULL;
    }
    o.ddof = (int)dd;
  }
  if (q_obj) {
    if (!PyFloat_Check(q_obj) && !PyLong_Check(q_obj) && !PyArray_IsScalar(q_obj, Number)) {
      PyErr_Format(PyExc_TypeError, "ndpar.%s: argument 'q' must be a number", fname);
      return NULL;
    }
    o.q = PyFloat_AsDouble(q_obj);
    if (o.q == -1.0 && PyErr_Occurred()) return NULL;
    if (!(o.q >= 0.0 && o.q <= 1.0)) {
      PyErr_Format(PyExc_ValueError, "ndpar.%s: argument 'q' must be in [0, 1], not %R", fname,
                   q_obj);
      return NULL;
    }
  }
  o.align = center ? NDP_ROLL_CENTER : NDP_ROLL_TRAILING;
  if (mode_obj != Py_None) {
    if (!PyUnicode_Check(mode_obj) || PyUnicode_CompareWithASCIIString(mode_obj, "edge") != 0) {
      PyErr_Format(PyExc_ValueError, "ndpar.%s: argument 'mode' must be None or 'edge', not %R",
                   fname, mode_obj);
      return NULL;
    }
    o.align = NDP_ROLL_CENTER_EDGE;
  }

  PyArrayObject *a = NULL, *out = NULL;
  PyObject *result = NULL;
  if (PyArray_Check(a_obj)) {
    Py_INCREF(a_obj);
    a = (PyArrayObject *)a_obj;
  } else {
    a = (PyArrayObject *)PyArray_FromAny(a_obj, NULL, 0, 0, 0, NULL);
    if (!a) {
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError, "ndpar.%s: argument 'a' must be an array or a sequence "
                   "of numbers, not %.100s", fname, Py_TYPE(a_obj)->tp_name);
      return NULL;
    }
  }
  ndp_array ia, oa;
  ndp_dtype odt;
  if (ndpar_fill_desc(a, &ia, fname, "a")) goto done;
  if (ia.ndim == 0) {
    PyErr_Format(PyExc_ValueError, "ndpar.%s: argument 'a' must have at least one dimension",
                 fname);
    goto done;
  }
  if (ndp_roll_out_dtype(fn, ia.dtype, &odt)) {
    PyErr_Format(PyExc_TypeError, "ndpar.%s: argument 'a' has an unsupported dtype", fname);
    goto done;
  }
  if (out_obj != Py_None) {
    if (!PyArray_Check(out_obj)) {
      PyErr_Format(PyExc_TypeError, "ndpar.%s: argument 'out' must be a numpy array", fname);
      goto done;
    }
    Py_INCREF(out_obj);
    out = (PyArrayObject *)out_obj;
    if (!PyArray_ISWRITEABLE(out)) {
      PyErr_Format(PyExc_ValueError, "ndpar.%s: argument 'out' is read-only", fname);
      goto done;
    }
    if (ndpar_fill_desc(out, &oa, fname, "out")) goto done;
    if (oa.dtype != odt) {
      PyErr_Format(PyExc_TypeError, "ndpar.%s: argument 'out' must have dtype %s", fname,
                   ndp_dtype_name(odt));
      goto done;
    }
  } else {
    out = (PyArrayObject *)PyArray_New(&PyArray_Type, PyArray_NDIM(a), PyArray_DIMS(a),
                                       ndpar_typenums[odt], NULL, NULL, 0, 0, NULL);
    if (!out) goto done;
    ndpar_fill_desc(out, &oa, fname, "out");
  }
  ndp_status st = {0, {0}, -1};
  int rc;
  if (ndp_array_size(&ia) >= GIL_RELEASE_MIN) {
    ndpar_gil_poll g;
    ndp_exec ex = {ndpar_nthreads(), ndpar_poll_signals, &g, 0.05};
    g.ts = PyEval_SaveThread();
    rc = ndp_rolling_at(fn, &ia, &oa, &o, anchor, &ex, &st);
    PyEval_RestoreThread(g.ts);
  } else {
    rc = ndp_rolling_at(fn, &ia, &oa, &o, anchor, NULL, &st);
  }
  if (rc) {
    ndpar_raise_status(fname, rc, &st);
    goto done;
  }
  result = (PyObject *)out;
  out = NULL;
done:
  Py_XDECREF(a);
  Py_XDECREF(out);
  return result;
}

/* One C function per move_*, bound to the module: they pickle by name
 * (ndpar.move_mean), as a dask graph ships them. */
#define NDP__XX(id, name)                                                   \
  static PyObject *roll_##id(PyObject *m, PyObject *args, PyObject *kw) {   \
    (void)m;                                                                \
    return roll_call(NDP_ROLL_##id, args, kw);                              \
  }
NDP_ROLL_MAP(NDP__XX)
#undef NDP__XX
static PyCFunctionWithKeywords const roll_impl[NDP_NROLL] = {
#define NDP__XX(id, name) roll_##id,
    NDP_ROLL_MAP(NDP__XX)
#undef NDP__XX
};

static PyMethodDef roll_defs[NDP_NROLL];
static char roll_names[NDP_NROLL][32];
static char roll_docs[NDP_NROLL][1024];

int ndpar_add_rolling(PyObject *m) {
  for (int fn = 0; fn < NDP_NROLL; fn++) {
    const char *name = ndp_roll_name(fn);
    const char *extra = fn == NDP_ROLL_QUANTILE ? "q, min_count=None, axis=-1"
                        : (fn == NDP_ROLL_VAR || fn == NDP_ROLL_STD)
                            ? "min_count=None, axis=-1, ddof=0"
                            : "min_count=None, axis=-1";
    snprintf(roll_names[fn], sizeof roll_names[fn], "move_%s", name);
    snprintf(roll_docs[fn], sizeof roll_docs[fn],
             "move_%s(a, window, %s, center=False, mode=None, out=None)\n--\n\n"
             "Moving-window %s along an axis, NaN skipped, in parallel (%s%s "
             "semantics). center=True centers the window (pandas); "
             "mode='edge' centers it and repeats the end values (np.pad mode='edge': "
             "then any window fits, also one longer than the axis).%s",
             name, extra, name, fn == NDP_ROLL_COUNT ? "pandas' rolling()." : "bottleneck's move_",
             fn == NDP_ROLL_COUNT ? "count(), below," : name,
             fn != NDP_ROLL_COUNT ? ""
             : "\n\nmove_count follows pandas' rolling(window, min_periods, center)"
               ".count() (bottleneck has no move_count): the number of non-NaN "
               "values, 0 included; min_count (pandas' min_periods, default window; "
               "min_count=1 is min_periods=0 or 1) is the fewest positions of the "
               "series, NaN or not, a window must hold, so the result is NaN only "
               "where the window reaches outside the series, never with "
               "mode='edge'.");
    roll_defs[fn].ml_name = roll_names[fn];
    roll_defs[fn].ml_meth = (PyCFunction)(void (*)(void))roll_impl[fn];
    roll_defs[fn].ml_flags = METH_VARARGS | METH_KEYWORDS;
    roll_defs[fn].ml_doc = roll_docs[fn];
    PyObject *modname = PyUnicode_FromString("ndpar");
    PyObject *f = modname ? PyCFunction_NewEx(&roll_defs[fn], m, modname) : NULL;
    Py_XDECREF(modname);
    if (!f || PyModule_AddObject(m, roll_names[fn], f) < 0) {
      Py_XDECREF(f);
      return -1;
    }
  }
  return 0;
}
