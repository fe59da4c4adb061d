/*
 * cli/cmd_kernel.c - `ndpar kernel`: a vectorize kernel from a Python file,
 * applied per element to .npy files and scalars.
 *
 *   ndpar kernel FILE.py:FUNC ARG... -o OUT.npy [--threads N]
 *
 * Each ARG, in parameter order, is a .npy file (memory-mapped, native byte
 * order) or a number (an int becomes int64, anything else float64). The
 * arguments broadcast as in NumPy; OUT.npy gets the broadcast shape and the
 * kernel's result dtype. FILE.py is read as text and compiled by ndpar's
 * own parser (never run by Python): FUNC's def, and the file's module-level
 * NAME = number lines as constants. Errors are one line "ndpar: ...", with
 * the file and line for errors in the kernel. The result is written to a
 * temporary beside OUT.npy and renamed over it on success, so a failed or
 * interrupted run leaves an existing OUT.npy as it was. Ctrl-C stops the
 * run (exit 130).
 *
 * Only the public header is used.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define KMAX_ARGS 64

static char *read_text(const char *path, long *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 65536;
      if (cap > ((size_t)1 << 24)) break; /* 16 MiB of source is not a kernel */
      char *nb = realloc(buf, cap);
      if (!nb) break;
      buf = nb;
    }
    size_t r = fread(buf + n, 1, cap - n - 1, f);
    n += r;
    if (r == 0) break;
  }
  int bad = ferror(f) || !buf;
  fclose(f);
  if (bad) {
    free(buf);
    return NULL;
  }
  buf[n] = 0;
  *len = (long)n;
  return buf;
}

static int parse_number(const char *s, int64_t *iv, double *dv, int *isint) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*s && !*end && errno == 0) {
    *iv = v;
    *isint = 1;
    return 1;
  }
  errno = 0;
  double d = strtod(s, &end);
  if (*s && !*end) {
    *dv = d;
    *isint = 0;
    return 1;
  }
  return 0;
}

int cmd_kernel(int argc, char **argv) {
  const char *spec = NULL, *out_path = NULL;
  const char *vals[KMAX_ARGS];
  int nvals = 0, nthreads = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
      if (++i == argc) return cli_fail(CLI_USAGE, "kernel: -o needs a file name");
      out_path = argv[i];
    } else if (!strcmp(argv[i], "--threads")) {
      if (++i == argc) return cli_fail(CLI_USAGE, "kernel: --threads needs a number");
      char *end;
      long t = strtol(argv[i], &end, 10);
      if (*end || t < 1 || t > NDP_MAX_THREADS)
        return cli_fail(CLI_USAGE, "kernel: --threads must be 1..%d, not '%s'", NDP_MAX_THREADS,
                        argv[i]);
      nthreads = (int)t;
    } else if (!spec) {
      spec = argv[i];
    } else {
      if (nvals == KMAX_ARGS) return cli_fail(CLI_USAGE, "kernel: at most %d arguments", KMAX_ARGS);
      vals[nvals++] = argv[i];
    }
  }
  if (!spec || !out_path)
    return cli_fail(CLI_USAGE, "usage: ndpar kernel FILE.py:FUNC ARG... -o OUT.npy [--threads N]");
  const char *colon = strrchr(spec, ':');
  if (!colon || colon == spec || !colon[1])
    return cli_fail(CLI_USAGE, "kernel: '%s' must be FILE.py:FUNC", spec);
  char path[4096];
  size_t pl = (size_t)(colon - spec);
  if (pl >= sizeof path) return cli_fail(CLI_USAGE, "kernel: file name too long");
  memcpy(path, spec, pl);
  path[pl] = 0;
  const char *func = colon + 1;
  long len = 0;
  char *src = read_text(path, &len);
  if (!src) return cli_fail(CLI_USAGE, "kernel: cannot read %s: %s", path, strerror(errno));
  if ((long)strlen(src) != len) {
    free(src);
    return cli_fail(CLI_USAGE, "kernel: %s contains a NUL byte", path);
  }

  int status = CLI_OK, rc;
  ndp_status st = {0, {0}, -1};
  ndp_npy files[KMAX_ARGS];
  int opened[KMAX_ARGS] = {0};
  ndp_array arrs[KMAX_ARGS];
  const ndp_array *ptrs[KMAX_ARGS];
  union {
    int64_t i;
    double d;
  } scal[KMAX_ARGS];
  ndp_kernel_arg ka[KMAX_ARGS];
  ndp_kernel *k = NULL;
  cli_output out = {0};
  memset(&out, 0, sizeof out);

  int np = 0;
  if ((rc = ndp_kernel_check(src, func, NULL, &np, &st))) {
    status = cli_fail(CLI_USAGE, "%s: %s", path, cli_errmsg(rc, &st));
    goto done;
  }
  if (np != nvals) {
    status = cli_fail(CLI_USAGE, "kernel: %s takes %d argument%s, %d given", func, np,
                      np == 1 ? "" : "s", nvals);
    goto done;
  }
  for (int i = 0; i < nvals; i++) {
    int isint;
    if (parse_number(vals[i], &scal[i].i, &scal[i].d, &isint)) {
      ndp_array_init(&arrs[i], &scal[i], isint ? NDP_INT64 : NDP_FLOAT64, 0, NULL);
    } else {
      if ((rc = ndp_npy_open(vals[i], 0, &files[i], &st))) {
        status = cli_fail(cli_status_for(rc), "kernel: argument %d (%s): %s", i + 1, vals[i],
                          cli_errmsg(rc, &st));
        goto done;
      }
      opened[i] = 1;
      if (files[i].hdr.byteswapped) {
        status = cli_fail(CLI_USAGE, "kernel: argument %d (%s) is not in native byte order",
                          i + 1, vals[i]);
        goto done;
      }
      arrs[i] = files[i].arr;
    }
    ptrs[i] = &arrs[i];
    ka[i].dtype = arrs[i].dtype;
    ka[i].core_ndim = 0;
    ka[i].output = 0;
  }
  if ((rc = ndp_kernel_compile(src, func, nvals, ka, NULL, &k, &st))) {
    status = cli_fail(CLI_USAGE, "%s: %s", path, cli_errmsg(rc, &st));
    goto done;
  }
  if (ndp_kernel_result_dtype(k) == NDP_NTYPES) {
    status = cli_fail(CLI_USAGE, "kernel: %s returns nothing (only vectorize kernels here)", func);
    goto done;
  }
  int nd;
  int64_t shape[NDP_MAXDIMS];
  if (nvals && (rc = ndp_broadcast_shape(nvals, ptrs, &nd, shape, &st))) {
    status = cli_fail(CLI_USAGE, "kernel: %s", cli_errmsg(rc, &st));
    goto done;
  }
  if (!nvals) nd = 0;
  /* a temporary beside -o, renamed over it only on success */
  if ((status = cli_output_create(&out, out_path, ndp_kernel_result_dtype(k), 0, nd, shape)))
    goto done;
  cli_progress_install_sigint();
  cli_progress prog;
  cli_progress_start(&prog, "kernel");
  ndp_exec ex = {nthreads, cli_progress_poll, &prog, 0.05};
  rc = ndp_kernel_eval(k, ptrs, &out.f.arr, &ex, &st);
  cli_progress_done(&prog);
  if (rc) {
    status = rc == NDP_ECANCELED && cli_interrupted
                 ? cli_fail(CLI_INTERRUPTED, "kernel: interrupted")
                 : cli_fail(cli_status_for(rc), "kernel: %s", cli_errmsg(rc, &st));
    goto done;
  }
done:
  status = cli_output_finish(&out, status);
  for (int i = 0; i < nvals; i++)
    if (opened[i]) ndp_npy_close(&files[i], NULL);
  ndp_kernel_free(k);
  free(src);
  return status;
}
