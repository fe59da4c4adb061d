/*
 * python/ndpar/_callpy.c - user code on the pool's threads.
 *
 *   run_threads(func, n, nthreads=0)      func(i) for i in range(n)
 *   apply(xs, index, entries, out, default)   the engine of apply_indexed
 *   parallel_for(address, n, data, chunk, nthreads)   a native kernel
 *   ApplyExpr(src, typenums)              a table expression, compiled
 *
 * Python callables run on the pool's threads: each call takes the GIL
 * (PyGILState_Ensure), so they run concurrently wherever they release it
 * (NumPy does inside its loops). The caller releases the GIL for the whole
 * job and works on it like every pool thread.
 *
 * Errors: the first exception raised by a callable (or a result check, or
 * a Ctrl-C seen by the caller's poll) is fetched with its traceback into
 * the job's slot and stops the job; later ones are dropped. Once the job
 * has returned (so no thread is still running user code) the caller
 * restores that exception. Everything in a job's slot is touched only with
 * the GIL held.
 *
 * Interruption (run_threads): a job may keep a table of the threads now
 * inside a callable (their idents, by pool tid, written with the GIL).
 * When its first error is KeyboardInterrupt, or its timeout passes (a
 * watchdog thread waits for the deadline), every other thread in the table
 * gets that exception raised asynchronously (PyThreadState_SetAsyncExc):
 * Python code stops at its next bytecode; a long C call (a NumPy loop,
 * time.sleep) first finishes. A thread leaving a callable of an
 * interrupted job clears what may still be pending for it, so nothing
 * leaks into the pool thread's next job.
 */
#define NO_IMPORT_ARRAY
#include "_common.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

typedef struct {
  PyObject *type, *value, *tb;
  int failed;         /* read without the GIL as a hint only */
  PyThreadState *ts;  /* the caller's, while the GIL is released */
  PyInterpreterState *interp;
  PyObject *ctx;      /* the caller's context, copied at the start */
  unsigned long *inside; /* NULL, or by tid: ident of the thread in a callable (0: none) */
  int ninside;
  int interrupted;       /* the others were sent an asynchronous exception */
} pyjob;

/* With the GIL: raise exc (a class) asynchronously in every thread of
 * j->inside but this one; they stop at their next bytecode. */
static void job_interrupt(pyjob *j, PyObject *exc) {
  if (!j->inside || j->interrupted) return;
  j->interrupted = 1;
  unsigned long self = PyThread_get_thread_ident();
  for (int t = 0; t < j->ninside; t++)
    if (j->inside[t] && j->inside[t] != self) PyThreadState_SetAsyncExc(j->inside[t], exc);
}

/* With the GIL: keep the current exception if it is the first. A first
 * KeyboardInterrupt interrupts the job's other callables. */
static void job_keep_error(pyjob *j) {
  if (!j->type) {
    PyErr_Fetch(&j->type, &j->value, &j->tb);
    PyErr_NormalizeException(&j->type, &j->value, &j->tb);
    if (j->tb && j->value) PyException_SetTraceback(j->value, j->tb);
    if (j->type && PyErr_GivenExceptionMatches(j->type, PyExc_KeyboardInterrupt))
      job_interrupt(j, PyExc_KeyboardInterrupt);
  } else {
    PyErr_Clear();
  }
  __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
}

/* With the GIL, after the job: raise the kept exception. */
static void job_raise(pyjob *j) {
  PyErr_Restore(j->type, j->value, j->tb);
  j->type = j->value = j->tb = NULL;
}

static void job_clear(pyjob *j) {
  Py_CLEAR(j->ctx);
  Py_CLEAR(j->type);
  Py_CLEAR(j->value);
  Py_CLEAR(j->tb);
}

/* Poll on the caller thread: Ctrl-C becomes the job's error. */
static int job_poll(void *ud, double frac) {
  pyjob *j = ud;
  (void)frac;
  if (__atomic_load_n(&j->failed, __ATOMIC_RELAXED)) return 1;
  PyEval_RestoreThread(j->ts);
  int r = PyErr_CheckSignals();
  if (r) job_keep_error(j);
  j->ts = PyEval_SaveThread();
  return r != 0;
}

/* Takes the GIL on this thread and enters a copy of the caller's context
 * (contextvars: np.errstate and the like), so a callable sees the same
 * settings on every thread and its changes stay inside its call. A pool
 * thread gets a thread state once and keeps it for its life (it is
 * persistent), rather than PyGILState_Ensure's new state per call: 10,000
 * short calls spent most of their time there. The calling thread has its
 * own state already. Returns the entered context, or NULL without the GIL
 * (the job's error is set when it could be). */
static PyObject *gil_enter(pyjob *j) {
  PyThreadState *ts = PyGILState_GetThisThreadState();
  if (!ts) ts = PyThreadState_New(j->interp); /* registers itself for this thread */
  if (!ts) return NULL;
  PyEval_RestoreThread(ts);
  PyObject *c = PyContext_Copy(j->ctx);
  if (c && PyContext_Enter(c) == 0) return c;
  Py_XDECREF(c);
  job_keep_error(j);
  PyEval_SaveThread();
  return NULL;
}

static void gil_leave(PyObject *c) {
  if (PyContext_Exit(c) < 0) PyErr_Clear();
  Py_DECREF(c);
  PyEval_SaveThread();
}

/* ---- run_threads ------------------------------------------------------------ */

typedef struct {
  pyjob job;
  PyObject *func;
  double timeout; /* seconds; <= 0: none */
} rtjob;

static int rt_chunk(void *ctx, int64_t b, int64_t e, int tid) {
  rtjob *r = ctx;
  if (__atomic_load_n(&r->job.failed, __ATOMIC_RELAXED)) return NDP_EUSER;
  PyObject *cx = gil_enter(&r->job);
  if (!cx) return NDP_EUSER;
  int rc = 0;
  unsigned long self = PyThread_get_thread_ident();
  for (int64_t i = b; i < e && !rc; i++) {
    if (r->job.failed) { rc = NDP_EUSER; break; }
    PyObject *arg = PyLong_FromLongLong(i);
    if (tid < r->job.ninside) r->job.inside[tid] = self;
    PyObject *res = arg ? PyObject_CallOneArg(r->func, arg) : NULL;
    if (tid < r->job.ninside) r->job.inside[tid] = 0;
    if (r->job.interrupted) PyThreadState_SetAsyncExc(self, NULL); /* one that came too late */
    Py_XDECREF(arg);
    if (!res) {
      job_keep_error(&r->job);
      rc = NDP_EUSER;
    }
    Py_XDECREF(res);
  }
  gil_leave(cx);
  return rc;
}

/* The timeout of run_threads: a thread that waits for the deadline or the
 * end of the job, whichever comes first. At the deadline it takes the GIL,
 * makes TimeoutError the job's error (unless it has one) and interrupts
 * the threads running callables. */
typedef struct {
  rtjob *r;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct timespec deadline; /* CLOCK_MONOTONIC */
  int over;
} watchdog;

static void *watchdog_main(void *arg) {
  watchdog *w = arg;
  pthread_mutex_lock(&w->mu);
  int fire = 0;
  while (!w->over) {
    if (pthread_cond_timedwait(&w->cv, &w->mu, &w->deadline) == ETIMEDOUT) {
      fire = !w->over;
      break;
    }
  }
  pthread_mutex_unlock(&w->mu);
  if (!fire) return NULL;
  PyGILState_STATE g = PyGILState_Ensure();
  pyjob *j = &w->r->job;
  if (!j->type) {
    PyErr_SetString(PyExc_TimeoutError, "ndpar.map_chunks: timed out (timeout= seconds passed)");
    job_keep_error(j);
  }
  job_interrupt(j, PyExc_TimeoutError);
  PyGILState_Release(g);
  return NULL;
}

/* Starts w (returns 0) or fails with errno-like non-zero. */
static int watchdog_start(watchdog *w, rtjob *r, pthread_t *th) {
  w->r = r;
  w->over = 0;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, &ca);
  pthread_condattr_destroy(&ca);
  clock_gettime(CLOCK_MONOTONIC, &w->deadline);
  double s = r->timeout;
  if (s > 1e9) s = 1e9;
  time_t whole = (time_t)s;
  long ns = w->deadline.tv_nsec + (long)((s - (double)whole) * 1e9);
  w->deadline.tv_sec += whole + ns / 1000000000L;
  w->deadline.tv_nsec = ns % 1000000000L;
  int rc = pthread_create(th, NULL, watchdog_main, w);
  if (rc) {
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
  }
  return rc;
}

/* Without the GIL: ends w and waits for it (it may be taking the GIL). */
static void watchdog_stop(watchdog *w, pthread_t th) {
  pthread_mutex_lock(&w->mu);
  w->over = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(th, NULL);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
}

static PyObject *py_run_threads(PyObject *m, PyObject *args, PyObject *kw) {
  (void)m;
  PyObject *func, *timeout_obj = Py_None;
  long long n;
  int nthreads = 0;
  static char *kwlist[] = {"func", "n", "nthreads", "timeout", NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OL|iO:run_threads", kwlist, &func, &n, &nthreads,
                                   &timeout_obj))
    return NULL;
  if (!PyCallable_Check(func)) {
    PyErr_SetString(PyExc_TypeError, "ndpar.run_threads: 'func' must be callable");
    return NULL;
  }
  if (n < 0 || nthreads < 0) {
    PyErr_SetString(PyExc_ValueError, "ndpar.run_threads: 'n' and 'nthreads' must be >= 0");
    return NULL;
  }
  double timeout = 0;
  if (timeout_obj != Py_None) {
    timeout = PyFloat_AsDouble(timeout_obj);
    if (timeout == -1.0 && PyErr_Occurred()) return NULL;
    if (!(timeout > 0)) {
      PyErr_SetString(PyExc_ValueError, "ndpar.run_threads: 'timeout' must be > 0 or None");
      return NULL;
    }
  }
  int nt = nthreads ? nthreads : ndpar_nthreads();
  if (nt > NDP_MAX_THREADS) nt = NDP_MAX_THREADS;
  rtjob r = {{0}, func, timeout};
  r.job.interp = PyThreadState_Get()->interp;
  r.job.inside = PyMem_Calloc((size_t)nt, sizeof *r.job.inside);
  if (!r.job.inside) return PyErr_NoMemory();
  r.job.ninside = nt;
  if (!(r.job.ctx = PyContext_CopyCurrent())) {
    PyMem_Free(r.job.inside);
    return NULL;
  }
  watchdog w;
  pthread_t wt;
  int dog = 0;
  if (timeout > 0) {
    if (watchdog_start(&w, &r, &wt)) {
      job_clear(&r.job);
      PyMem_Free(r.job.inside);
      PyErr_SetString(PyExc_RuntimeError, "ndpar.run_threads: cannot start the timeout's thread");
      return NULL;
    }
    dog = 1;
  }
  ndp_pf_opts o = {1, 1, nt, job_poll, &r.job, 0.05};
  r.job.ts = PyEval_SaveThread();
  int rc = ndp_parallel_for(n, rt_chunk, &r, &o);
  if (dog) watchdog_stop(&w, wt);
  PyEval_RestoreThread(r.job.ts);
  if (r.job.interrupted) PyThreadState_SetAsyncExc(PyThread_get_thread_ident(), NULL);
  PyMem_Free(r.job.inside);
  r.job.inside = NULL;
  if (r.job.type) {
    job_raise(&r.job);
    job_clear(&r.job);
    return NULL;
  }
  job_clear(&r.job);
  if (rc) {
    ndp_status st = {0};
    return ndpar_raise_status("run_threads", rc, &st);
  }
  Py_RETURN_NONE;
}

/* ---- ApplyExpr ------------------------------------------------------------------- */

typedef struct {
  PyObject_HEAD
  ndp_expr *e;
  int typenum; /* the result's NumPy type */
} ApplyExpr;

static void applyexpr_dealloc(ApplyExpr *p) {
  ndp_expr_free(p->e);
  Py_TYPE(p)->tp_free((PyObject *)p);
}

/* ApplyExpr(src, typenums): compiled for inputs of these NumPy types. */
static PyObject *applyexpr_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
  const char *src;
  PyObject *types;
  static char *kwlist[] = {"src", "typenums", NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "sO!:ApplyExpr", kwlist, &src, &PyTuple_Type, &types))
    return NULL;
  Py_ssize_t m = PyTuple_GET_SIZE(types);
  ndp_dtype dts[64];
  if (m < 1 || m > 64) {
    PyErr_SetString(PyExc_ValueError, "ndpar.apply_indexed: between 1 and 64 inputs");
    return NULL;
  }
  for (Py_ssize_t j = 0; j < m; j++) {
    int tn = (int)PyLong_AsLong(PyTuple_GET_ITEM(types, j));
    if (PyErr_Occurred()) return NULL;
    if (!ndpar_from_typenum(tn, &dts[j])) {
      PyErr_SetString(PyExc_TypeError, "ndpar.apply_indexed: unsupported input dtype");
      return NULL;
    }
  }
  ndp_status st = {0};
  ndp_expr *e = NULL;
  int rc = ndp_apply_compile(src, (int)m, dts, &e, &st);
  if (rc) {
    PyObject *exc = ndpar_exception_for(rc);
    if (st.pos >= 0 && (rc == NDP_ESYNTAX || rc == NDP_ENAME))
      PyErr_Format(exc, "%s (column %ld)", st.msg, st.pos + 1);
    else
      PyErr_Format(exc, "%s", st.msg[0] ? st.msg : ndp_strerror(rc));
    return NULL;
  }
  ApplyExpr *p = (ApplyExpr *)type->tp_alloc(type, 0);
  if (!p) {
    ndp_expr_free(e);
    return NULL;
  }
  p->e = e;
  p->typenum = ndpar_typenums[ndp_expr_dtype(e)];
  return (PyObject *)p;
}

static PyObject *applyexpr_dtype(ApplyExpr *p, void *c) {
  (void)c;
  return (PyObject *)PyArray_DescrFromType(p->typenum);
}

static PyObject *applyexpr_nbytes(ApplyExpr *p, void *c) {
  (void)c;
  return PyLong_FromSize_t(ndp_apply_expr_bytes(p->e) + sizeof(ApplyExpr));
}

static PyGetSetDef applyexpr_getset[] = {
    {"dtype", (getter)applyexpr_dtype, NULL, "the result's dtype", NULL},
    {"nbytes", (getter)applyexpr_nbytes, NULL, "bytes the compiled program holds", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ApplyExprType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ndpar._ndpar.ApplyExpr",
    .tp_basicsize = sizeof(ApplyExpr),
    .tp_dealloc = (destructor)applyexpr_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A table expression of apply_indexed, compiled for given input types.",
    .tp_new = applyexpr_new,
    .tp_getset = applyexpr_getset,
};

/* ---- apply ----------------------------------------------------------------------- */

/* Calls on groups smaller than this take turns (a mutex taken before the
 * GIL): their time is the interpreter's, so two threads would only trade
 * the GIL back and forth, each hand-off a context switch. Larger groups
 * run concurrently: NumPy releases the GIL inside them. */
#define SMALL_GROUP 8192

typedef struct {
  pyjob job;
  int nargs;
  int in_types[64];
  PyArray_Descr *out_descr; /* borrowed from out */
  pthread_mutex_t small;
} applyjob;

typedef struct {
  applyjob *aj;
  PyObject *callable; /* borrowed: the entries list keeps it */
  Py_ssize_t pos;     /* table position, for messages */
} pyentry;

/* Copies a group's points into a new array the callable owns (it may keep
 * it: the engine's buffers die with the call). */
static PyObject *group_array(int64_t n, int typenum, const void *src) {
  npy_intp dim = (npy_intp)n;
  PyObject *a = PyArray_SimpleNew(1, &dim, typenum);
  if (a && n) memcpy(PyArray_DATA((PyArrayObject *)a), src, (size_t)PyArray_NBYTES((PyArrayObject *)a));
  return a;
}

/* The ndp_apply_fn of a Python callable: once per group, GIL taken. */
static int pyentry_call(int64_t n, void *const *args, void *out, void *ud) {
  pyentry *pe = ud;
  applyjob *aj = pe->aj;
  if (__atomic_load_n(&aj->job.failed, __ATOMIC_RELAXED)) return -1;
  int turns = n < SMALL_GROUP;
  if (turns) pthread_mutex_lock(&aj->small);
  PyObject *cx = gil_enter(&aj->job);
  if (!cx) {
    if (turns) pthread_mutex_unlock(&aj->small);
    return -1;
  }
  PyObject *argv[64] = {0};
  PyObject *res = NULL, *arr = NULL, *dst = NULL;
  int rc = -1, m = aj->nargs;
  if (aj->job.failed) goto done;
  for (int j = 0; j < m; j++)
    if (!(argv[j] = group_array(n, aj->in_types[j], args[j]))) goto fail;
  res = PyObject_Vectorcall(pe->callable, argv, (size_t)m, NULL);
  if (!res) goto fail;
  arr = PyArray_FromAny(res, NULL, 0, 0, 0, NULL);
  if (!arr) goto fail;
  PyArrayObject *ra = (PyArrayObject *)arr;
  if (!(PyArray_NDIM(ra) == 0 || (PyArray_NDIM(ra) == 1 && PyArray_DIM(ra, 0) == n))) {
    PyObject *shape = PyObject_GetAttrString(arr, "shape");
    PyErr_Format(PyExc_ValueError,
                 "ndpar.apply_indexed: table[%zd] returned shape %R for a group of %lld points "
                 "(expected (%lld,) or a scalar)",
                 pe->pos, shape ? shape : Py_None, (long long)n, (long long)n);
    Py_XDECREF(shape);
    goto fail;
  }
  if (!PyArray_CanCastTypeTo(PyArray_DESCR(ra), aj->out_descr, NPY_SAME_KIND_CASTING)) {
    PyErr_Format(PyExc_TypeError,
                 "ndpar.apply_indexed: table[%zd] returned dtype %S, which cannot be cast to the "
                 "output dtype %S under the 'same_kind' rule (pass dtype= or out=)",
                 pe->pos, (PyObject *)PyArray_DESCR(ra), (PyObject *)aj->out_descr);
    goto fail;
  }
  npy_intp dim = (npy_intp)n;
  Py_INCREF(aj->out_descr);
  dst = PyArray_NewFromDescr(&PyArray_Type, aj->out_descr, 1, &dim, NULL, out,
                             NPY_ARRAY_CARRAY, NULL);
  if (!dst || PyArray_CopyInto((PyArrayObject *)dst, ra) < 0) goto fail;
  rc = 0;
  goto done;
fail:
  job_keep_error(&aj->job);
done:
  for (int j = 0; j < m; j++) Py_XDECREF(argv[j]);
  Py_XDECREF(res);
  Py_XDECREF(arr);
  Py_XDECREF(dst);
  gil_leave(cx);
  if (turns) pthread_mutex_unlock(&aj->small);
  return rc;
}

/* apply(xs, index, entries, out, default): entries is a list whose items
 * are ApplyExpr objects, ints (native function addresses) or callables. */
static PyObject *py_apply(PyObject *m, PyObject *args) {
  (void)m;
  PyObject *xs, *entries, *dflt;
  PyArrayObject *index, *out;
  if (!PyArg_ParseTuple(args, "O!O!O!O!O:apply", &PyTuple_Type, &xs, &PyArray_Type, &index,
                        &PyList_Type, &entries, &PyArray_Type, &out, &dflt))
    return NULL;
  Py_ssize_t nargs = PyTuple_GET_SIZE(xs), k = PyList_GET_SIZE(entries);
  if (nargs < 1 || nargs > 64 || k < 1) {
    PyErr_SetString(PyExc_ValueError, "ndpar.apply_indexed: 1 to 64 inputs and a non-empty table");
    return NULL;
  }
  PyObject *result = NULL;
  ndp_array xa[64], ia, oa;
  const ndp_array *xp[64];
  ndp_apply_entry *table = PyMem_Calloc((size_t)k, sizeof *table);
  pyentry *pes = PyMem_Calloc((size_t)k, sizeof *pes);
  applyjob aj;
  memset(&aj, 0, sizeof aj);
  pthread_mutex_init(&aj.small, NULL);
  aj.job.interp = PyThreadState_Get()->interp;
  if (!(aj.job.ctx = PyContext_CopyCurrent())) {
    pthread_mutex_destroy(&aj.small);
    PyMem_Free(table);
    PyMem_Free(pes);
    return NULL;
  }
  if (!table || !pes) {
    PyErr_NoMemory();
    goto done;
  }
  aj.nargs = (int)nargs;
  aj.out_descr = PyArray_DESCR(out);
  for (Py_ssize_t j = 0; j < nargs; j++) {
    PyObject *x = PyTuple_GET_ITEM(xs, j);
    if (!PyArray_Check(x)) {
      PyErr_SetString(PyExc_TypeError, "ndpar.apply_indexed: inputs must be arrays");
      goto done;
    }
    if (ndpar_fill_desc((PyArrayObject *)x, &xa[j], "apply_indexed", "x") < 0) goto done;
    xp[j] = &xa[j];
    aj.in_types[j] = PyArray_DESCR((PyArrayObject *)x)->type_num;
  }
  if (ndpar_fill_desc(index, &ia, "apply_indexed", "index") < 0 ||
      ndpar_fill_desc(out, &oa, "apply_indexed", "out") < 0)
    goto done;
  for (Py_ssize_t i = 0; i < k; i++) {
    PyObject *e = PyList_GET_ITEM(entries, i);
    if (Py_IS_TYPE(e, &ApplyExprType)) {
      table[i].kind = NDP_ENTRY_EXPR;
      table[i].expr = ((ApplyExpr *)e)->e;
    } else if (PyLong_Check(e)) {
      void *addr = PyLong_AsVoidPtr(e);
      if (!addr) {
        if (!PyErr_Occurred())
          PyErr_Format(PyExc_ValueError, "ndpar.apply_indexed: table[%zd] is a NULL function pointer", i);
        goto done;
      }
      table[i].kind = NDP_ENTRY_FN;
      table[i].fn = (ndp_apply_fn)(uintptr_t)addr;
    } else if (PyCallable_Check(e)) {
      pes[i].aj = &aj;
      pes[i].callable = e;
      pes[i].pos = i;
      table[i].kind = NDP_ENTRY_FN;
      table[i].fn = pyentry_call;
      table[i].ud = &pes[i];
      table[i].whole_group = 1;
    } else {
      PyErr_Format(PyExc_TypeError, "ndpar.apply_indexed: table[%zd] is not an entry", i);
      goto done;
    }
  }
  /* the default, as one value of out's dtype */
  PyArrayObject *dv = NULL;
  if (dflt != Py_None) {
    Py_INCREF(aj.out_descr);
    dv = (PyArrayObject *)PyArray_FromAny(dflt, aj.out_descr, 0, 0, NPY_ARRAY_CARRAY | NPY_ARRAY_FORCECAST, NULL);
    if (!dv) goto done;
    if (PyArray_SIZE(dv) != 1) {
      Py_DECREF(dv);
      PyErr_SetString(PyExc_ValueError, "ndpar.apply_indexed: 'default' must be one value");
      goto done;
    }
  }
  ndp_status st = {0};
  st.pos = -1;
  ndp_exec ex = {ndpar_nthreads(), job_poll, &aj.job, 0.05};
  aj.job.ts = PyEval_SaveThread();
  int rc = ndp_apply((int)nargs, xp, &ia, (int64_t)k, table, &oa, dv ? PyArray_DATA(dv) : NULL, &ex, &st);
  PyEval_RestoreThread(aj.job.ts);
  Py_XDECREF(dv);
  if (aj.job.type) {
    job_raise(&aj.job);
    goto done;
  }
  if (rc) {
    if (rc == NDP_EUSER && st.pos >= 0)
      PyErr_Format(PyExc_RuntimeError,
                   "ndpar.apply_indexed: table[%ld] (a native function) returned non-zero", st.pos);
    else if (rc == NDP_EINDEX)
      PyErr_Format(PyExc_ValueError, "ndpar.apply_indexed: %s (pass default= to fill such points)",
                   st.msg);
    else
      ndpar_raise_status("apply_indexed", rc, &st);
    goto done;
  }
  Py_INCREF(out);
  result = (PyObject *)out;
done:
  job_clear(&aj.job);
  pthread_mutex_destroy(&aj.small);
  PyMem_Free(table);
  PyMem_Free(pes);
  return result;
}

/* ---- parallel_for ---------------------------------------------------------------- */

static PyObject *py_parallel_for(PyObject *m, PyObject *args) {
  (void)m;
  PyObject *addr_obj, *data, *ud_obj;
  long long n, chunk;
  int nthreads;
  if (!PyArg_ParseTuple(args, "OLO!OLi:parallel_for", &addr_obj, &n, &PyTuple_Type, &data, &ud_obj,
                        &chunk, &nthreads))
    return NULL;
  void *addr = PyLong_AsVoidPtr(addr_obj);
  if (!addr) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "ndpar.parallel_for: 'kernel' is NULL");
    return NULL;
  }
  void *ud = ud_obj == Py_None ? NULL : PyLong_AsVoidPtr(ud_obj);
  if (PyErr_Occurred()) return NULL;
  Py_ssize_t na = PyTuple_GET_SIZE(data);
  void **ptrs = PyMem_Calloc((size_t)(na ? na : 1), sizeof *ptrs);
  if (!ptrs) return PyErr_NoMemory();
  for (Py_ssize_t j = 0; j < na; j++) {
    ptrs[j] = PyLong_AsVoidPtr(PyTuple_GET_ITEM(data, j));
    if (PyErr_Occurred()) {
      PyMem_Free(ptrs);
      return NULL;
    }
  }
  pyjob job = {0};
  ndp_pf_opts o = {0, 0, nthreads ? nthreads : ndpar_nthreads(), job_poll, &job, 0.05};
  ndp_status st = {0};
  job.ts = PyEval_SaveThread();
  int rc = ndp_run_kernel(n, (ndp_kernel_fn)(uintptr_t)addr, ptrs, ud, chunk, &o, &st);
  PyEval_RestoreThread(job.ts);
  PyMem_Free(ptrs);
  if (job.type) {
    job_raise(&job);
    return NULL;
  }
  if (rc) return ndpar_raise_status("parallel_for", rc, &st);
  Py_RETURN_NONE;
}

static PyMethodDef callpy_methods[] = {
    {"run_threads", (PyCFunction)(void (*)(void))py_run_threads, METH_VARARGS | METH_KEYWORDS,
     "run_threads(func, n, nthreads=0, timeout=None): func(i) for i in range(n) on the pool's "
     "threads; after timeout seconds, TimeoutError (running calls are interrupted)."},
    {"apply", py_apply, METH_VARARGS, "The engine of ndpar.apply_indexed."},
    {"parallel_for", py_parallel_for, METH_VARARGS, "The engine of ndpar.parallel_for."},
    {NULL, NULL, 0, NULL}};

int ndpar_add_callpy(PyObject *m) {
  if (PyType_Ready(&ApplyExprType) < 0) return -1;
  Py_INCREF(&ApplyExprType);
  if (PyModule_AddObject(m, "ApplyExpr", (PyObject *)&ApplyExprType) < 0) {
    Py_DECREF(&ApplyExprType);
    return -1;
  }
  return PyModule_AddFunctions(m, callpy_methods);
}
