/*
 * pool/pool.c - persistent worker threads and ndp_parallel_for.
 *
 * Design
 *  - One process-wide pool. Workers sleep on `work_cv` until a job with
 *    free helper slots is queued. A job is a range [0, n) cut into
 *    `nchunks` chunks; threads take chunks with one atomic fetch-add each,
 *    so no lock is held while user code runs.
 *  - Any number of callers may run jobs at once: each queues its own job,
 *    works on it itself, then unlinks it and waits (on `done_cv`) until the
 *    helpers that joined it have left. Workers pick the oldest job that
 *    still has chunks and helper slots, so concurrent jobs share workers.
 *  - A job never needs a worker to finish: the caller alone can run every
 *    chunk. So nested jobs cannot deadlock and an over-subscribed pool only
 *    loses speed.
 *  - The first error (or a cancel from the poll callback) sets `stop`;
 *    threads finish the chunk in hand and take no more.
 *  - fork(): pthread_atfork takes the pool lock around fork; the child
 *    forgets the parent's workers and jobs (they do not exist there) and
 *    starts new workers on its first parallel job.
 *
 * Lock order: only `mu` exists. Job fields read by workers without the lock
 * are atomics or immutable after queueing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "pool/pool_internal.h"

typedef struct job {
  ndp_range_fn fn;
  void *ctx;
  int64_t n, chunk, nchunks;
  _Atomic int64_t next;   /* next chunk to take */
  _Atomic int64_t done;   /* chunks finished (progress) */
  _Atomic int err;        /* first failure, 0 if none */
  _Atomic int stop;       /* no more chunks to be taken */
  _Atomic int next_tid;   /* tids handed out; caller has 0 */
  int slots;              /* helpers that may still join (under mu) */
  int inside;             /* helpers inside (under mu) */
  bool queued;            /* linked in the queue (under mu) */
  struct job *qnext;
} job;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t work_cv;
  pthread_cond_t done_cv;
  job *head, *tail;       /* queued jobs, oldest first */
  pthread_t *threads;     /* started workers */
  int nworkers, cap;
  int idle;               /* workers waiting on work_cv */
  bool quit;
  unsigned generation;    /* bumped by fork in the child */
} P = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
       PTHREAD_COND_INITIALIZER, NULL, NULL, NULL, 0, 0, 0, false, 0};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* ---- job execution ------------------------------------------------------ */

static void run_chunks(job *j, int tid) {
  while (!atomic_load_explicit(&j->stop, memory_order_relaxed)) {
    int64_t c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
    if (c >= j->nchunks) break;
    int64_t b = c * j->chunk;
    int64_t e = b + j->chunk < j->n ? b + j->chunk : j->n;
    int rc = j->fn(j->ctx, b, e, tid);
    if (NDP__UNLIKELY(rc != 0)) {
      int zero = 0;
      atomic_compare_exchange_strong(&j->err, &zero, rc < 0 ? rc : NDP_EUSER);
      atomic_store(&j->stop, 1);
    }
    atomic_fetch_add_explicit(&j->done, 1, memory_order_relaxed);
  }
}

static bool has_work(const job *j) {
  return j->slots > 0 && !atomic_load_explicit(&j->stop, memory_order_relaxed) &&
         atomic_load_explicit(&j->next, memory_order_relaxed) < j->nchunks;
}

static job *pick_job_locked(void) {
  for (job *j = P.head; j; j = j->qnext)
    if (has_work(j)) return j;
  return NULL;
}

static void unlink_locked(job *j) {
  job **pp = &P.head, *prev = NULL;
  while (*pp && *pp != j) {
    prev = *pp;
    pp = &(*pp)->qnext;
  }
  if (*pp) {
    *pp = j->qnext;
    if (P.tail == j) P.tail = prev;
  }
  j->queued = false;
}

static void *worker_main(void *arg) {
  unsigned gen = (unsigned)(uintptr_t)arg;
  pthread_mutex_lock(&P.mu);
  for (;;) {
    job *j;
    while (!P.quit && gen == P.generation && !(j = pick_job_locked())) {
      P.idle++;
      pthread_cond_wait(&P.work_cv, &P.mu);
      P.idle--;
    }
    if (P.quit || gen != P.generation) break;
    j->slots--;
    j->inside++;
    pthread_mutex_unlock(&P.mu);

    run_chunks(j, atomic_fetch_add(&j->next_tid, 1));

    pthread_mutex_lock(&P.mu);
    if (--j->inside == 0) pthread_cond_broadcast(&P.done_cv);
  }
  pthread_mutex_unlock(&P.mu);
  return NULL;
}

/* ---- fork safety -------------------------------------------------------- */

static void atfork_prepare(void) { pthread_mutex_lock(&P.mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&P.mu); }
static void atfork_child(void) {
  /* Only the forking thread exists here. Drop everything the parent's
   * threads owned; the thread array leaks by design (tiny, once per fork
   * of a process that used the pool) because its memory may be in any
   * state only if another thread was allocating - it is not freed. */
  pthread_mutex_init(&P.mu, NULL);
  pthread_cond_init(&P.work_cv, NULL);
  pthread_cond_init(&P.done_cv, NULL);
  P.head = P.tail = NULL;
  P.threads = NULL;
  P.nworkers = P.cap = 0;
  P.idle = 0;
  P.quit = false;
  P.generation++;
}

static void install_atfork(void) {
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Starts workers until `want` exist. Called with mu held. Returns 0 or
 * NDP_ETHREAD/NDP_ENOMEM; a partial start is fine (fewer helpers). */
static int grow_locked(int want) {
  if (want > NDP_MAX_THREADS - 1) want = NDP_MAX_THREADS - 1;
  if (want > P.cap) {
    int cap = P.cap ? P.cap : 8;
    while (cap < want) cap *= 2;
    pthread_t *t = ndp__malloc((size_t)cap * sizeof *t);
    if (!t) return NDP_ENOMEM;
    if (P.nworkers) memcpy(t, P.threads, (size_t)P.nworkers * sizeof *t);
    ndp__free(P.threads);
    P.threads = t;
    P.cap = cap;
  }
  while (P.nworkers < want) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1u << 20);
    int rc = pthread_create(&P.threads[P.nworkers], &attr, worker_main,
                            (void *)(uintptr_t)P.generation);
    pthread_attr_destroy(&attr);
    if (rc != 0) return NDP_ETHREAD;
    P.nworkers++;
  }
  return 0;
}

void ndp_shutdown(void) {
  pthread_mutex_lock(&P.mu);
  P.quit = true;
  pthread_cond_broadcast(&P.work_cv);
  int n = P.nworkers;
  pthread_t *t = P.threads;
  P.threads = NULL;
  P.nworkers = P.cap = 0;
  pthread_mutex_unlock(&P.mu);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  ndp__free(t);
  pthread_mutex_lock(&P.mu);
  P.quit = false;
  pthread_mutex_unlock(&P.mu);
}

/* ---- parallel_for ------------------------------------------------------- */

static int poll_now(const ndp_pf_opts *o, job *j) {
  double frac = (double)atomic_load(&j->done) / (double)j->nchunks;
  if (o->poll(o->poll_ud, frac) != 0) {
    atomic_store(&j->stop, 1);
    return 1;
  }
  return 0;
}

/* The caller's share: chunks, with the poll callback between them. */
static void caller_run(job *j, const ndp_pf_opts *o) {
  if (!o || !o->poll) {
    run_chunks(j, 0);
    return;
  }
  double interval = o->poll_interval > 0 ? o->poll_interval : 0.05;
  double next_poll = ndp__now() + interval;
  while (!atomic_load_explicit(&j->stop, memory_order_relaxed)) {
    int64_t c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
    if (c >= j->nchunks) break;
    int64_t b = c * j->chunk, e = b + j->chunk < j->n ? b + j->chunk : j->n;
    int rc = j->fn(j->ctx, b, e, 0);
    if (rc != 0) {
      int zero = 0;
      atomic_compare_exchange_strong(&j->err, &zero, rc < 0 ? rc : NDP_EUSER);
      atomic_store(&j->stop, 1);
    }
    atomic_fetch_add_explicit(&j->done, 1, memory_order_relaxed);
    double now = ndp__now();
    if (now >= next_poll) {
      if (poll_now(o, j)) break;
      next_poll = now + interval;
    }
  }
}

/* Waits until no helper is inside j; polls meanwhile. Called with mu held. */
static void wait_helpers_locked(job *j, const ndp_pf_opts *o) {
  while (j->inside > 0) {
    if (!o || !o->poll) {
      pthread_cond_wait(&P.done_cv, &P.mu);
      continue;
    }
    double interval = o->poll_interval > 0 ? o->poll_interval : 0.05;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long ns = ts.tv_nsec + (long)(interval * 1e9);
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    if (pthread_cond_timedwait(&P.done_cv, &P.mu, &ts) == ETIMEDOUT &&
        j->inside > 0) {
      pthread_mutex_unlock(&P.mu);
      poll_now(o, j);
      pthread_mutex_lock(&P.mu);
    }
  }
}

static int64_t pick_chunk(int64_t n, int nthreads, const ndp_pf_opts *o) {
  int64_t grain = (o && o->grain > 0) ? o->grain : 1;
  int64_t maxc = (o && o->max_chunk > 0) ? o->max_chunk : INT64_MAX;
  /* about 16 chunks per thread: enough to balance uneven threads, few
   * enough that the atomic counter is never contended */
  int64_t c = n / ((int64_t)nthreads * 16);
  if (c < grain) c = grain;
  if (c > maxc) c = maxc < grain ? grain : maxc;
  return c;
}

int ndp_parallel_for(int64_t n, ndp_range_fn fn, void *ctx,
                     const ndp_pf_opts *opts) {
  if (n < 0 || !fn) return NDP_EINVAL;
  if (n == 0) return 0;
  int nthreads = (opts && opts->nthreads > 0) ? opts->nthreads
                                              : ndp_get_num_threads();
  if (nthreads > NDP_MAX_THREADS) nthreads = NDP_MAX_THREADS;

  job j;
  memset(&j, 0, sizeof j);
  j.fn = fn;
  j.ctx = ctx;
  j.n = n;
  j.chunk = pick_chunk(n, nthreads, opts);
  j.nchunks = (n - 1) / j.chunk + 1;
  atomic_init(&j.next_tid, 1);

  int helpers = nthreads - 1;
  if (helpers > j.nchunks - 1) helpers = (int)(j.nchunks - 1);
  if (helpers <= 0) { /* inline: no lock, no wake-up */
    caller_run(&j, opts);
  } else {
    pthread_once(&atfork_once, install_atfork);
    pthread_mutex_lock(&P.mu);
    if (P.nworkers < helpers) grow_locked(helpers); /* fewer is fine */
    j.slots = helpers;
    j.queued = true;
    if (P.tail) P.tail->qnext = &j;
    else P.head = &j;
    P.tail = &j;
    if (P.idle > 0) pthread_cond_broadcast(&P.work_cv);
    pthread_mutex_unlock(&P.mu);

    caller_run(&j, opts);

    pthread_mutex_lock(&P.mu);
    unlink_locked(&j);
    wait_helpers_locked(&j, opts);
    pthread_mutex_unlock(&P.mu);
  }
  int err = atomic_load(&j.err);
  if (err) return err;
  if (atomic_load(&j.stop)) return NDP_ECANCELED;
  return 0;
}
