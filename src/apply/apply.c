/* apply/apply.c - placeholder until the engine lands (see ndpar/apply.h). */
#include "core/internal.h"
#include "ndpar/apply.h"

int ndp_apply_compile(const char *src, int nargs, const ndp_dtype *dtypes,
                      ndp_expr **out, ndp_status *st) {
  (void)src; (void)nargs; (void)dtypes; (void)out;
  return ndp__fail(st, NDP_ENOFUNC, "ndp_apply_compile: not built yet");
}

int ndp_apply(int nargs, const ndp_array *const *x, const ndp_array *index,
              int64_t k, const ndp_apply_entry *table, const ndp_array *out,
              const void *default_value, const ndp_exec *ex, ndp_status *st) {
  (void)nargs; (void)x; (void)index; (void)k; (void)table; (void)out;
  (void)default_value; (void)ex;
  return ndp__fail(st, NDP_ENOFUNC, "ndp_apply: not built yet");
}
