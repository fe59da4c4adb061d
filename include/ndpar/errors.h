/*
 * ndpar/errors.h - error codes and the status object.
 *
 * One X-macro table is the single source of truth: each code's value,
 * message, the `ndpar` command's exit status and the Python exception
 * class. It generates the enum, ndp_strerror(), ndp_err_name(),
 * ndp_err_exit_status() (used by the CLI) and ndp_err_pyexc() (used by the
 * Python extension). ndp_status carries a failure's one-line message.
 */
#ifndef NDPAR_ERRORS_H
#define NDPAR_ERRORS_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Each code once: its value, its message, the `ndpar` command's exit
 * status for it (2: bad usage or input, 1: a failure while running, 130:
 * interrupted) and the Python exception class the extension raises (a
 * builtin's name). The faces derive their mappings from these columns.
 *      name        code  message                                        exit  Python */
#define NDP_ERRNO_MAP(XX)                                                                 \
  XX(EINVAL,    -1,  "invalid argument",                                   2, ValueError)        \
  XX(ENOMEM,    -2,  "out of memory",                                      1, MemoryError)       \
  XX(ETYPE,     -3,  "unsupported dtype for this operation",               2, TypeError)         \
  XX(ESHAPE,    -4,  "shapes do not match or cannot be broadcast",         2, ValueError)        \
  XX(ECAST,     -5,  "cast not allowed under the casting rule",            2, TypeError)         \
  XX(EIO,       -6,  "input/output error",                                 2, OSError)           \
  XX(EFORMAT,   -7,  "malformed or unsupported file",                      2, ValueError)        \
  XX(ECANCELED, -8,  "job cancelled",                                    130, KeyboardInterrupt) \
  XX(EDOMAIN,   -9,  "value outside the operation's domain",               2, ValueError)        \
  XX(ETHREAD,   -10, "could not start a worker thread",                    1, RuntimeError)      \
  XX(ENOFUNC,   -11, "no such function",                                   2, ValueError)        \
  XX(EOVERFLOW, -12, "size or index overflow",                             2, OverflowError)     \
  XX(EUSER,     -13, "a user callback failed",                             1, RuntimeError)      \
  XX(ESYNTAX,   -14, "syntax error",                                       2, SyntaxError)       \
  XX(ENAME,     -15, "unknown name",                                       2, NameError)         \
  XX(EINDEX,    -16, "index out of range",                                 2, ValueError)        \
  XX(EEXIST,    -17, "name already exists",                                2, FileExistsError)   \
  XX(ENOENT,    -18, "no such name",                                       2, FileNotFoundError)

/* Positions in the table: the codes run from -1 down without gaps (a
 * static assertion in core/errors.c checks it), so the lowest code is
 * derived from the table, never kept by hand. */
enum ndp__errno_index {
#define NDP__XX(name, code, msg, exit, py) NDP__INDEX_##name,
  NDP_ERRNO_MAP(NDP__XX)
#undef NDP__XX
  NDP__ERRNO_COUNT
};

typedef enum ndp_errno {
  NDP_OK = 0,
#define NDP__XX(name, code, msg, exit, py) NDP_##name = (code),
  NDP_ERRNO_MAP(NDP__XX)
#undef NDP__XX
  NDP_ERRNO_MIN = -(int)NDP__ERRNO_COUNT  /* the lowest code in the table */
} ndp_errno;

/* Static message for a code ("unknown error" for anything else). */
NDP_API const char *ndp_strerror(int err);
/* Static name of a code, e.g. "NDP_EINVAL". */
NDP_API const char *ndp_err_name(int err);
/* The command's exit status for a code: 0 for 0, the table's column for a
 * code (130 for NDP_ECANCELED), 1 for anything else. */
NDP_API int ndp_err_exit_status(int err);
/* The name of the Python builtin exception class for a code, e.g.
 * "ValueError" ("RuntimeError" for an unknown code, NULL for 0). */
NDP_API const char *ndp_err_pyexc(int err);

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
