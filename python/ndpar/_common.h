/* python/ndpar/_common.h - declarations shared by the extension's files. */
#ifndef NDPAR_PY_COMMON_H
#define NDPAR_PY_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_2_0_API_VERSION
#define NPY_TARGET_VERSION NPY_2_0_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL ndpar_ARRAY_API
#define PY_UFUNC_UNIQUE_SYMBOL ndpar_UFUNC_API
#include <numpy/arrayobject.h>

#include "ndpar.h"

/* NumPy type number -> ndpar dtype; 0 when ndpar does not support it. */
int ndpar_from_typenum(int typenum, ndp_dtype *out);
extern const int ndpar_typenums[NDP_NTYPES];

/* Describes arr's memory (no copy). TypeError/ValueError naming argname
 * and -1 when ndpar cannot use it. */
int ndpar_fill_desc(PyArrayObject *arr, ndp_array *a, const char *fname,
                    const char *argname);

/* The Python exception class for an NDP_E* code, from the error table's
 * column (borrowed; RuntimeError for an unknown code). Needs the GIL. */
PyObject *ndpar_exception_for(int rc);

/* Sets the Python exception for a failed call (unless one is set) and
 * returns NULL. */
PyObject *ndpar_raise_status(const char *fname, int rc, const ndp_status *st);

/* ndp_poll_fn that takes the GIL briefly and runs PyErr_CheckSignals. */
typedef struct {
  PyThreadState *ts;
} ndpar_gil_poll;
int ndpar_poll_signals(void *ud, double frac);

/* The context variable 'ndpar.threads' (an int, unset by default) that
 * `with ndpar.threads(n)` sets: a per-context limit, so threads and asyncio
 * tasks each have their own; Python callables on the pool run in a copy of
 * the caller's context, so they see it too. */
extern PyObject *ndpar_threads_var;
/* The limit for a job started now from this context: the context's value,
 * or 0 (the process default, ndp_get_num_threads()). Needs the GIL. */
int ndpar_nthreads(void);

/* Below this many elements the GIL is kept: the job is one inline chunk,
 * shorter than a GIL hand-off. */
#define GIL_RELEASE_MIN 4096

/* Adds the elementwise functions as numpy.ufunc objects (and
 * _legacy_calls). */
int ndpar_add_ufuncs(PyObject *m);
/* Adds move_* functions to the module. */
int ndpar_add_rolling(PyObject *m);
/* Adds the Program type (compiled expressions). */
int ndpar_add_expr(PyObject *m);
/* Adds run_threads, apply, parallel_for and the ApplyExpr type. */
int ndpar_add_callpy(PyObject *m);
/* Adds shm_create, shm_attach and the Segment type. */
int ndpar_add_shm(PyObject *m);
/* Adds the Kernel type (user kernels) and kernel_check. */
int ndpar_add_kernel(PyObject *m);
/* Adds exact_sum_partial, exact_dot_partial, exact_sum_combine, exact_sum_finish. */
int ndpar_add_exact(PyObject *m);

#endif
