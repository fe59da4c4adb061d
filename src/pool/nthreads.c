/*
 * pool/nthreads.c - how many threads a job uses.
 *
 * The default is NDPAR_NUM_THREADS when it is a positive integer, else
 * OMP_NUM_THREADS when its first entry is a positive integer (the Dask
 * Nanny sets it to 1 in each worker process, so workers sharing a host do
 * not oversubscribe it; OpenMP's list form "4,2" gives 4), else the hint
 * (ndp_set_num_threads_hint: the Python package's Dask-worker rule), else
 * the CPUs in this process' affinity mask, lowered to the cgroup
 * CPU quota (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us /
 * cpu.cfs_period_us), rounded up. The environment and the CPUs are read
 * once; ndp_set_num_threads changes the value used afterwards, above all
 * of these (atomics: safe from any thread; a job reads the count once
 * when it starts).
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "pool/pool_internal.h"

static long read_long(const char *path) {
  long v = 0;
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  if (fscanf(f, "%ld", &v) != 1) v = 0;
  fclose(f);
  return v;
}

/* CPUs allowed by the cgroup quota, rounded up; 0 when there is none. */
static int cgroup_quota_cpus(void) {
  long q = 0, p = 0;
  char buf[64];
  FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r"); /* v2: "max 100000" */
  if (f) {
    int ok = fscanf(f, "%63s %ld", buf, &p) == 2;
    fclose(f);
    if (ok && strcmp(buf, "max") != 0) q = strtol(buf, NULL, 10);
  } else { /* v1 */
    q = read_long("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    p = read_long("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  }
  return (q > 0 && p > 0) ? (int)((q + p - 1) / p) : 0;
}

int ndp__cpus_available(void) {
  int n = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (n <= 0) n = 1;
  int quota = cgroup_quota_cpus();
  if (quota > 0 && quota < n) n = quota;
  return n;
}

int ndp_cpus_available(void) {
  static _Atomic int cpus = 0;
  int n = atomic_load(&cpus);
  if (n == 0) atomic_store(&cpus, n = ndp__cpus_available());
  return n;
}

/* A positive integer in variable `name` (with `list`, the first entry of a
 * comma-separated list, as OpenMP reads OMP_NUM_THREADS); 0 otherwise
 * (ignored, as documented). */
static int env_threads(const char *name, int list) {
  const char *s = getenv(name);
  if (!s || !*s) return 0;
  char *end;
  long v = strtol(s, &end, 10);
  while (*end == ' ') end++;
  if ((*end && !(list && *end == ',')) || v < 1 || end == s) return 0;
  return v > NDP_MAX_THREADS ? NDP_MAX_THREADS : (int)v;
}

static _Atomic int ndpar_env = -1;  /* NDPAR_NUM_THREADS; -1: not read yet */
static _Atomic int omp_env = -1;    /* OMP_NUM_THREADS; -1: not read yet */
static _Atomic int cpus_env = 0;    /* the CPUs; 0: not yet */
static _Atomic int hint_threads = 0;
static _Atomic int current_threads = 0;

int ndp_default_num_threads(void) {
  int e = atomic_load(&ndpar_env);
  if (e < 0) atomic_store(&ndpar_env, e = env_threads("NDPAR_NUM_THREADS", 0));
  if (e > 0) return e;
  int o = atomic_load(&omp_env);
  if (o < 0) atomic_store(&omp_env, o = env_threads("OMP_NUM_THREADS", 1));
  if (o > 0) return o;
  const int h = atomic_load_explicit(&hint_threads, memory_order_relaxed);
  if (h > 0) return h;
  int d = atomic_load(&cpus_env);
  if (d == 0) atomic_store(&cpus_env, d = ndp_cpus_available());
  return d;
}

int ndp_set_num_threads_hint(int n) {
  if (n < 0 || n > NDP_MAX_THREADS) return NDP_EINVAL;
  atomic_store(&hint_threads, n);
  return 0;
}

int ndp_get_num_threads(void) {
  int c = atomic_load_explicit(&current_threads, memory_order_relaxed);
  return c > 0 ? c : ndp_default_num_threads();
}

int ndp_set_num_threads(int n) {
  if (n < 1 || n > NDP_MAX_THREADS) return NDP_EINVAL;
  atomic_store(&current_threads, n);
  return 0;
}
