/*
 * core/errors.c - messages and names for the NDP_E* codes, generated from
 * the one table in ndpar/errors.h, and the status helper.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

/* The table's codes are -1, -2, ... in order, so NDP_ERRNO_MIN covers them. */
#define XX(name, code, msg, exit, py) \
  _Static_assert((code) == -(NDP__INDEX_##name + 1), "NDP_" #name " breaks the code sequence");
NDP_ERRNO_MAP(XX)
#undef XX

const char *ndp_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define XX(name, code, msg, exit, py) \
  case code:                          \
    return msg;
    NDP_ERRNO_MAP(XX)
#undef XX
  default:
    return "unknown error";
  }
}

const char *ndp_err_name(int err) {
  switch (err) {
  case 0:
    return "NDP_OK";
#define XX(name, code, msg, exit, py) \
  case code:                          \
    return "NDP_" #name;
    NDP_ERRNO_MAP(XX)
#undef XX
  default:
    return "NDP_EUNKNOWN";
  }
}

int ndp_err_exit_status(int err) {
  switch (err) {
  case 0:
    return 0;
#define XX(name, code, msg, exit, py) \
  case code:                          \
    return exit;
    NDP_ERRNO_MAP(XX)
#undef XX
  default:
    return 1;
  }
}

const char *ndp_err_pyexc(int err) {
  switch (err) {
  case 0:
    return NULL;
#define XX(name, code, msg, exit, py) \
  case code:                          \
    return #py;
    NDP_ERRNO_MAP(XX)
#undef XX
  default:
    return "RuntimeError";
  }
}

int ndp__fail(ndp_status *st, int code, const char *fmt, ...) {
  if (st) {
    va_list ap;
    st->code = code;
    st->pos = -1;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}
