/*
 * cli/job.c - the pieces of a job over .npy files that `map`, `rolling` and
 * `eval` share: the SIGBUS handler (a mapped file truncated, a full disk),
 * opening the file operands (cli_open_operand), the output a result goes
 * to (cli_open_output: an input updated in place, or a new file through
 * output.c), closing the operands at the end of a run
 * (cli_close_operands), and the --casting option. Declared in cli.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ======================================================================== */
/* SIGBUS: a mapped file shrank, or the disk filled while writing a sparse    */
/* output. Report it in the usual form, remove a partial output, exit 1.     */
/* ======================================================================== */

static const char *volatile partial_output; /* removed on SIGBUS */

static void on_sigbus(int sig) {
  (void)sig;
  static const char msg[] =
      "\r\033[Kndpar: bus error on a mapped file (file truncated by another "
      "process, or disk full)\n";
  const char *p = partial_output;
  if (p) unlink(p);
  /* The "\r\033[K" only makes sense on a terminal. */
  size_t skip = isatty(STDERR_FILENO) == 1 ? 0 : 4;
  ssize_t r = write(STDERR_FILENO, msg + skip, sizeof msg - 1 - skip);
  (void)r;
  _exit(CLI_RUNTIME);
}

void cli_set_partial_output(const char *path) { partial_output = path; }

const char *cli_partial_output(void) { return partial_output; }

void cli_install_sigbus(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigbus;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, NULL);
}


int cli_parse_casting(const char *cmd, const char *s, ndp_casting *c) {
  static const char *const names[] = {"no", "equiv", "safe", "same_kind", "unsafe"};
  for (int k = 0; k < 5; k++)
    if (!strcmp(s, names[k])) {
      *c = (ndp_casting)k;
      return CLI_OK;
    }
  return cli_fail(CLI_USAGE,
                  "%s: --casting must be no, equiv, safe, same_kind or unsafe, "
                  "got '%.100s'", cmd, s);
}

static void fmt_shape(int ndim, const int64_t *shape, char *buf, size_t cap) {
  size_t n = 0;
  n += (size_t)snprintf(buf, cap, "(");
  for (int d = 0; d < ndim && n < cap; d++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? ", " : "",
                          (long long)shape[d]);
  if (n < cap) snprintf(buf + n, cap - n, ndim == 1 ? ",)" : ")");
}

int cli_open_operand(cli_operand *ops, int k, const struct stat *out_sb) {
  cli_operand *o = &ops[k];
  if (stat(o->text, &o->sb) != 0)
    return cli_fail(CLI_USAGE, "%.300s: %s", o->text, strerror(errno));
  if (S_ISDIR(o->sb.st_mode))
    return cli_fail(CLI_USAGE, "%.300s: is a directory", o->text);
  if (!S_ISREG(o->sb.st_mode)) /* a FIFO would block, a device not map */
    return cli_fail(CLI_USAGE, "%.300s: not a regular file (inputs are mapped)",
                    o->text);
  o->is_out = out_sb && o->sb.st_dev == out_sb->st_dev &&
              o->sb.st_ino == out_sb->st_ino;
  for (int j = 0; j < k; j++)
    if (ops[j].kind == CLI_LIT_NONE && ops[j].sb.st_dev == o->sb.st_dev &&
        ops[j].sb.st_ino == o->sb.st_ino) {
      o->npy = ops[j].npy;
      o->arr = &o->npy->arr;
      return CLI_OK;
    }
  ndp_status st = {0, "", -1};
  int err = ndp_npy_open(o->text, o->is_out, &o->f, &st);
  if (err) {
    return cli_fail_about(cli_status_for(err), o->text, err, &st);
  }
  o->npy = &o->f;
  o->arr = &o->f.arr;
  return CLI_OK;
}
static const char *const casting_names[] = {"no", "equiv", "safe", "same_kind",
                                             "unsafe"};

int cli_open_output(cli_operand *ops, int nops, const char *path, ndp_casting casting,
                       ndp_dtype out_dt, int ndim, const int64_t *shape, cli_output *outf,
                       const ndp_array **out) {
  char want[256], have[256];
  for (int k = 0; k < nops; k++) {
    cli_operand *o = &ops[k];
    if (o->kind != CLI_LIT_NONE || !o->is_out) continue;
    const ndp_array *x = o->arr;
    int same_shape = x->ndim == ndim;
    for (int d = 0; same_shape && d < ndim; d++) same_shape = x->shape[d] == shape[d];
    if (!same_shape || !ndp_can_cast(out_dt, x->dtype, casting)) {
      fmt_shape(ndim, shape, want, sizeof want);
      fmt_shape(x->ndim, x->shape, have, sizeof have);
      return cli_fail(CLI_USAGE,
                      "cannot write %.300s in place: the result is %s %s, the file "
                      "holds %s %s (casting '%s' not allowed or shapes differ)",
                      path, ndp_dtype_name(out_dt), want, ndp_dtype_name(x->dtype),
                      have, casting_names[casting]);
    }
    *out = x;
    return CLI_OK;
  }
  int fortran = 1, nfiles = 0;
  for (int k = 0; k < nops; k++) {
    if (ops[k].kind != CLI_LIT_NONE) continue;
    nfiles++;
    fortran &= ops[k].npy->hdr.fortran_order && ops[k].arr->ndim > 1;
  }
  fortran &= nfiles > 0;
  int rc = cli_output_create(outf, path, out_dt, fortran, ndim, shape);
  if (rc) return rc;
  *out = &outf->f.arr;
  return CLI_OK;
}

int cli_close_operands(cli_operand *ops, int nops, int status) {
  ndp_status st = {0, "", -1};
  for (int k = 0; ops && k < nops; k++) {
    cli_operand *o = &ops[k];
    if (o->kind != CLI_LIT_NONE || o->npy != &o->f) continue;
    int err = ndp_npy_close(&o->f, &st);
    if (err && status == CLI_OK) status = cli_fail_about(CLI_RUNTIME, o->text, err, &st);
  }
  return status;
}
