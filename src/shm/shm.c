/* shm/shm.c - placeholder until shared segments land (see ndpar/shm.h). */
#include "core/internal.h"
#include "ndpar/shm.h"

int ndp_shm_create(const char *name, ndp_dtype dtype, int ndim,
                   const int64_t *shape, unsigned flags, int nthreads,
                   ndp_shm **out, ndp_status *st) {
  (void)name; (void)dtype; (void)ndim; (void)shape; (void)flags;
  (void)nthreads; (void)out;
  return ndp__fail(st, NDP_ENOFUNC, "ndp_shm_create: not built yet");
}
int ndp_shm_attach(const char *name, ndp_shm **out, ndp_status *st) {
  (void)name; (void)out;
  return ndp__fail(st, NDP_ENOFUNC, "ndp_shm_attach: not built yet");
}
const ndp_array *ndp_shm_array(const ndp_shm *s) { (void)s; return 0; }
const char *ndp_shm_name(const ndp_shm *s) { (void)s; return ""; }
int ndp_shm_is_creator(const ndp_shm *s) { (void)s; return 0; }
size_t ndp_shm_nbytes(const ndp_shm *s) { (void)s; return 0; }
void ndp_shm_unpublish(ndp_shm *s) { (void)s; }
void ndp_shm_close(ndp_shm *s) { (void)s; }
