/*
 * ndpar/pool.h - the thread pool and parallel_for.
 *
 * One process-wide pool of persistent worker threads, started lazily.
 * Any number of caller threads may run jobs at the same time: each job is
 * queued and idle workers help whichever job has chunks left; no lock is
 * held while chunks run. The calling thread always works on its own job,
 * so a job with one chunk (or a pool of one thread) runs inline with no
 * wake-up at all.
 *
 * Thread-safety: every function here may be called from any thread.
 * Fork: a child process gets a fresh, empty pool (pthread_atfork); jobs
 * in the child start new workers.
 */
#ifndef NDPAR_POOL_H
#define NDPAR_POOL_H

#include "export.h"

#include <stdint.h>

#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Threads a job uses by default (the caller included), the first of:
 * ndp_set_num_threads' value; NDPAR_NUM_THREADS when it is a positive
 * integer; OMP_NUM_THREADS when it is a positive integer (its first entry,
 * as "4,2"; the Dask Nanny sets it to 1 in each worker process); the hint
 * (ndp_set_num_threads_hint); the CPUs this process may run on
 * (ndp_cpus_available). */
NDP_API int ndp_get_num_threads(void);
/* A default from the host the library runs in (the Python package sets it
 * on a Dask worker: the CPUs divided by the worker's threads), below
 * ndp_set_num_threads, NDPAR_NUM_THREADS and OMP_NUM_THREADS, above the
 * CPU count. 0 clears it. Returns 0 or NDP_EINVAL (n < 0 or above
 * NDP_MAX_THREADS). Any thread (an atomic store). */
NDP_API int ndp_set_num_threads_hint(int n);
/* CPUs this process may run on: the affinity mask, lowered to a cgroup
 * CPU quota (rounded up); at least 1. Read once. */
NDP_API int ndp_cpus_available(void);
/* Sets the default for later jobs. n >= 1, at most NDP_MAX_THREADS.
 * Process-global (one atomic store): may be called from any thread, also
 * while jobs run; a job reads the value once when it starts, so jobs
 * already running keep the thread count they started with.
 * Returns 0 or NDP_EINVAL. */
NDP_API int ndp_set_num_threads(int n);
/* What the environment allows, ignoring set_num_threads: the list above
 * without its first entry. */
NDP_API int ndp_default_num_threads(void);

#define NDP_MAX_THREADS 1024

/* Runs chunk [begin, end) of a job. `tid` is in [0, nthreads) and unique
 * among the threads working on this job at one time (use it to index
 * per-thread scratch). Return 0, or a negative code to stop the job. */
typedef int (*ndp_range_fn)(void *ctx, int64_t begin, int64_t end, int tid);

/* Called on the calling thread between its chunks, at most every
 * poll_interval seconds, with the fraction of chunks done. Return 0 to go
 * on, non-zero to cancel the job (ndp_parallel_for then returns
 * NDP_ECANCELED unless a chunk failed first). */
typedef int (*ndp_poll_fn)(void *ud, double fraction_done);

typedef struct ndp_pf_opts {
  int64_t grain;        /* smallest chunk, in indices; 0 means 1 */
  int64_t max_chunk;    /* largest chunk; 0 means no limit */
  int nthreads;         /* 0 means ndp_get_num_threads() */
  ndp_poll_fn poll;     /* may be NULL */
  void *poll_ud;
  double poll_interval; /* seconds; 0 means 0.05 */
} ndp_pf_opts;

/* Calls fn over [0, n) split into chunks, on up to opts->nthreads threads
 * (the caller one of them). Every index is visited exactly once unless the
 * job stops early. Returns 0, the first negative code a chunk returned, or
 * NDP_ECANCELED, or NDP_EINVAL (n < 0, fn NULL). opts may be NULL.
 * Jobs may nest: a chunk may call ndp_parallel_for (the inner job runs on
 * whatever threads are free, at least the caller). */
NDP_API int ndp_parallel_for(int64_t n, ndp_range_fn fn, void *ctx,
                             const ndp_pf_opts *opts);


/* A native kernel for ndp_run_kernel (and Python's ndpar.parallel_for,
 * which passes the arrays' data pointers and ud = NULL):
 *     int32 kernel(int64 begin, int64 end, void **data, void *ud)
 * processes indices [begin, end); data[j] is the j-th array's first
 * element. Return 0, or non-zero to stop the job. */
typedef int (*ndp_kernel_fn)(int64_t begin, int64_t end, void *const *data,
                             void *ud);

/* Runs kernel over [0, n) on the pool in chunks of `chunk` indices (0: an
 * even split into about 8 chunks per thread, at least 1 index each).
 * Returns 0, NDP_EINVAL, NDP_ECANCELED, or NDP_EUSER when a kernel
 * returned non-zero (st->msg names the value and the chunk; st->pos = the
 * chunk's begin). */
NDP_API int ndp_run_kernel(int64_t n, ndp_kernel_fn kernel, void *const *data,
                           void *ud, int64_t chunk, const ndp_pf_opts *opts,
                           ndp_status *st);

#ifdef __cplusplus
}
#endif
#endif /* NDPAR_POOL_H */
