/*
 * pool/nthreads.c - how many threads a job uses.
 *
 * The default is NDPAR_NUM_THREADS when it is a positive integer, else the
 * CPUs in this process' affinity mask, lowered to the cgroup CPU quota
 * (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us), rounded
 * up. Read once; ndp_set_num_threads changes the value used afterwards
 * (an atomic: safe from any thread; a job reads it once when it starts).
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

static int env_threads(void) {
  const char *s = getenv("NDPAR_NUM_THREADS");
  if (!s || !*s) return 0;
  char *end;
  long v = strtol(s, &end, 10);
  while (*end == ' ') end++;
  if (*end || v < 1) return 0; /* ignored, as documented */
  return v > NDP_MAX_THREADS ? NDP_MAX_THREADS : (int)v;
}

static _Atomic int default_threads = 0; /* 0: not computed yet */
static _Atomic int current_threads = 0;

int ndp_default_num_threads(void) {
  int d = atomic_load(&default_threads);
  if (d == 0) {
    d = env_threads();
    if (d == 0) d = ndp__cpus_available();
    atomic_store(&default_threads, d);
  }
  return d;
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
