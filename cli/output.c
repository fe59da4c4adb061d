/*
 * cli/output.c - the output file of `map`, `eval`, `rolling` and `apply`:
 * written through a temporary and renamed over -o only on success.
 *
 * A run checks what it can before creating anything, but some failures only
 * show while the job runs (an index out of range in `apply`, an integer to a
 * negative power, an interrupt). So the result is never written into the -o
 * path itself: cli_output_create makes a temporary next to it (same
 * directory, hence the same file system), the job writes into its mapping,
 * and cli_output_finish renames it over -o when the run succeeded or removes
 * it when it failed. A file that was at -o before a failed run is left
 * exactly as it was, and a failed run leaves no file behind. The SIGBUS
 * handler and a second ^C remove the temporary too (cli_set_partial_output).
 *
 * The replaced file keeps its permission bits; a new one gets 0644 less the
 * umask, as before. When -o is a symbolic link, the file it points to is
 * replaced and the link kept. (A file with several hard links is replaced by
 * a new file: the other links keep the old data.)
 *
 * Only the public header is used. Single-threaded, as the whole command.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* The library's message about the temporary, told about -o instead. */
static int fail_output(const cli_output *o, int status, int err, const ndp_status *st) {
  const char *msg = cli_errmsg(err, st);
  const char *at = o->tmp ? strstr(msg, o->tmp) : NULL;
  if (at) {
    size_t before = (size_t)(at - msg);
    return cli_fail(status, "%.*s%.300s%s", (int)(before > 300 ? 300 : before), msg,
                    o->path, at + strlen(o->tmp));
  }
  if (strstr(msg, o->path)) return cli_fail(status, "%s", msg);
  return cli_fail(status, "%.300s: %s", o->path, msg);
}

/* Bad usage if -o cannot be written: a directory, not a regular file, a
 * file we may not write, or a directory that is missing or not writable
 * (the library would fail later with a less precise I/O error). */
int cli_check_output_path(const char *path) {
  struct stat sb;
  if (stat(path, &sb) == 0) {
    if (S_ISDIR(sb.st_mode)) return cli_fail(CLI_USAGE, "%.300s: is a directory", path);
    if (!S_ISREG(sb.st_mode))
      return cli_fail(CLI_USAGE, "%.300s: not a regular file (the output is mapped)", path);
    if (access(path, W_OK) != 0)
      return cli_fail(CLI_USAGE, "cannot write %.300s: %s", path, strerror(errno));
  }
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (!slash) {
    snprintf(dir, sizeof dir, ".");
  } else if (slash == path) {
    snprintf(dir, sizeof dir, "/");
  } else {
    size_t len = (size_t)(slash - path);
    if (len >= sizeof dir) return CLI_OK; /* let the library judge */
    memcpy(dir, path, len);
    dir[len] = '\0';
  }
  if (access(dir, W_OK | X_OK) != 0)
    return cli_fail(CLI_USAGE, "cannot create %.300s: %s", path, strerror(errno));
  return CLI_OK;
}

/* o->target: path, or the file a symbolic link at path points to.
 * o->tmp: a new empty file ".NAME.ndpar-PID-N" in the target's directory. */
static int make_temporary(cli_output *o) {
  struct stat lsb;
  o->target = NULL;
  if (lstat(o->path, &lsb) == 0 && S_ISLNK(lsb.st_mode)) o->target = realpath(o->path, NULL);
  if (!o->target) o->target = strdup(o->path);
  if (!o->target) return cli_fail(CLI_RUNTIME, "out of memory");
  const char *slash = strrchr(o->target, '/');
  size_t dirlen = slash ? (size_t)(slash - o->target) + 1 : 0;
  const char *base = o->target + dirlen;
  size_t cap = strlen(o->target) + 64;
  o->tmp = malloc(cap);
  if (!o->tmp) return cli_fail(CLI_RUNTIME, "out of memory");
  for (unsigned n = 0;; n++) {
    snprintf(o->tmp, cap, "%.*s.%s.ndpar-%ld-%u", (int)dirlen, o->target, base,
             (long)getpid(), n);
    int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      close(fd);
      return CLI_OK;
    }
    if (errno != EEXIST || n >= 1000) {
      int e = errno;
      free(o->tmp);
      o->tmp = NULL;
      return cli_fail(e == ENOMEM ? CLI_RUNTIME : CLI_USAGE, "cannot create %.300s: %s",
                      o->path, strerror(e));
    }
  }
}

int cli_output_create(cli_output *o, const char *path, ndp_dtype dt, int fortran,
                      int ndim, const int64_t *shape) {
  memset(o, 0, sizeof *o);
  o->path = path;
  int rc = cli_check_output_path(path);
  if (rc) return rc;
  struct stat sb;
  if (stat(path, &sb) == 0) {
    o->existed = 1;
    o->mode = sb.st_mode & 07777;
  }
  if ((rc = make_temporary(o))) return cli_output_finish(o, rc);
  cli_set_partial_output(o->tmp);
  ndp_status st = {0, "", -1};
  int err = ndp_npy_create(o->tmp, dt, fortran, ndim, shape, &o->f, &st);
  if (err) return cli_output_finish(o, fail_output(o, cli_status_for(err), err, &st));
  o->open = 1;
  return CLI_OK;
}

int cli_output_finish(cli_output *o, int status) {
  if (o->open) {
    ndp_status st = {0, "", -1};
    int err = ndp_npy_close(&o->f, &st);
    o->open = 0;
    if (err && status == CLI_OK) status = fail_output(o, CLI_RUNTIME, err, &st);
  }
  if (o->tmp) {
    if (status == CLI_OK && o->existed && chmod(o->tmp, o->mode) != 0)
      status = cli_fail(CLI_RUNTIME, "%.300s: cannot set the permissions: %s", o->path,
                        strerror(errno));
    if (status == CLI_OK && rename(o->tmp, o->target) != 0)
      status = cli_fail(CLI_RUNTIME, "cannot replace %.300s: %s", o->path, strerror(errno));
    if (status != CLI_OK) unlink(o->tmp);
    cli_set_partial_output(NULL);
  }
  free(o->tmp);
  free(o->target);
  o->tmp = o->target = NULL;
  return status;
}
