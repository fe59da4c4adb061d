/* pool/pool_internal.h - what the pool's two files share. */
#ifndef NDP_POOL_INTERNAL_H
#define NDP_POOL_INTERNAL_H

/* CPUs this process may use: affinity mask bounded by the cgroup quota. */
int ndp__cpus_available(void);

#endif
