/*
 * ndpar/errors.h - error codes and the status object.
 *
 * One X-macro table is the single source of truth: it generates the enum,
 * ndp_strerror(), ndp_err_name(), the CLI's messages and the Python
 * extension's exception mapping.
 */
#ifndef NDPAR_ERRORS_H
#define NDPAR_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/*      name        code  message                                         */
#define NDP_ERRNO_MAP(XX)                                                   \
  XX(EINVAL,    -1,  "invalid argument")                                    \
  XX(ENOMEM,    -2,  "out of memory")                                       \
  XX(ETYPE,     -3,  "unsupported dtype for this operation")                \
  XX(ESHAPE,    -4,  "shapes do not match or cannot be broadcast")          \
  XX(ECAST,     -5,  "cast not allowed under the casting rule")             \
  XX(EIO,       -6,  "input/output error")                                  \
  XX(EFORMAT,   -7,  "malformed or unsupported file")                       \
  XX(ECANCELED, -8,  "job cancelled")                                       \
  XX(EDOMAIN,   -9,  "value outside the operation's domain")                \
  XX(ETHREAD,   -10, "could not start a worker thread")                     \
  XX(ENOFUNC,   -11, "no such function")                                    \
  XX(EOVERFLOW, -12, "size or index overflow")                              \
  XX(EUSER,     -13, "a user callback failed")                             \
  XX(ESYNTAX,   -14, "syntax error")                                        \
  XX(ENAME,     -15, "unknown name")                                        \
  XX(EINDEX,    -16, "index out of range")                                  \
  XX(EEXIST,    -17, "name already exists")                                 \
  XX(ENOENT,    -18, "no such name")

/* Positions in the table: the codes run from -1 down without gaps (a
 * static assertion in core/errors.c checks it), so the lowest code is
 * derived from the table, never kept by hand. */
enum ndp__errno_index {
#define NDP__XX(name, code, msg) NDP__INDEX_##name,
  NDP_ERRNO_MAP(NDP__XX)
#undef NDP__XX
  NDP__ERRNO_COUNT
};

typedef enum ndp_errno {
  NDP_OK = 0,
#define NDP__XX(name, code, msg) NDP_##name = (code),
  NDP_ERRNO_MAP(NDP__XX)
#undef NDP__XX
  NDP_ERRNO_MIN = -(int)NDP__ERRNO_COUNT  /* the lowest code in the table */
} ndp_errno;

/* Static message for a code ("unknown error" for anything else). */
const char *ndp_strerror(int err);
/* Static name of a code, e.g. "NDP_EINVAL". */
const char *ndp_err_name(int err);

/* Filled by functions that fail: the code and a one-line message naming
 * the argument or position at fault. Callers may pass NULL. */
typedef struct ndp_status {
  int code;
  char msg[256];
  long pos;  /* for NDP_ESYNTAX/NDP_ENAME: byte offset in the source text
                of the fault; for NDP_EINDEX: the first position at fault;
                for NDP_EUSER from ndp_apply: the table entry that failed;
                else -1 (or untouched) */
} ndp_status;

#ifdef __cplusplus
}
#endif
#endif /* NDPAR_ERRORS_H */
