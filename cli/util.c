/*
 * cli/util.c - the small helpers every command of ndpar uses: the one-line
 * error messages (cli_fail, cli_errmsg, cli_status_for, cli_fail_about),
 * option parsing (cli_next), number literals and --threads, the clock,
 * /proc/meminfo and byte counts. Declared in cli.h.
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
/* Errors                                                                    */
/* ======================================================================== */

int cli_fail(int status, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) snprintf(msg, sizeof msg, "error");
  /* Exactly one line, whatever a file name or library message holds. */
  for (char *c = msg; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
  cli_progress_clear();
  fflush(stdout);
  fprintf(stderr, "ndpar: %s\n", msg);
  return status;
}

int cli_status_for(int err) {
  /* the error table's column; a cancel that was not our ^C is a failure */
  if (err == NDP_ECANCELED && !cli_interrupted) return CLI_RUNTIME;
  return ndp_err_exit_status(err);
}

const char *cli_errmsg(int err, const ndp_status *st) {
  if (err == NDP_ECANCELED && cli_interrupted) return "interrupted";
  if (st && st->code == err && st->msg[0]) return st->msg;
  return ndp_strerror(err);
}

int cli_fail_about(int status, const char *what, int err, const ndp_status *st) {
  const char *msg = cli_errmsg(err, st);
  if (strstr(msg, what)) return cli_fail(status, "%s", msg);
  return cli_fail(status, "%.300s: %s", what, msg);
}

/* ======================================================================== */
/* Option parsing                                                            */
/* ======================================================================== */

void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv) {
  memset(p, 0, sizeof *p);
  p->cmd = cmd;
  p->argc = argc;
  p->argv = argv;
  p->i = 1; /* argv[0] is the command's name */
}

static const cli_opt *find_long(const cli_opt *opts, const char *name,
                                size_t len) {
  for (; opts->id; opts++)
    if (opts->name && strlen(opts->name) == len &&
        strncmp(opts->name, name, len) == 0)
      return opts;
  return NULL;
}

const cli_opt *cli_find_short(const cli_opt *opts, char c) {
  for (; opts->id; opts++)
    if (opts->short_name && opts->short_name == c) return opts;
  return NULL;
}

static int take_value(cli_parser *p, const cli_opt *o, const char *inline_val) {
  if (inline_val) {
    p->arg = inline_val;
    return o->id;
  }
  if (p->i >= p->argc)
    return cli_fail(CLI_USAGE, "%s%soption %s needs a value", p->cmd ? p->cmd : "",
                    p->cmd ? ": " : "", p->opt),
           CLI_BAD;
  p->arg = p->argv[p->i++];
  return o->id;
}

static int unknown_option(const cli_parser *p, const char *a, size_t len) {
  int n = len > 200 ? 200 : (int)len;
  if (p->cmd)
    cli_fail(CLI_USAGE, "%s: unknown option '%.*s' (see 'ndpar %s --help')", p->cmd,
             n, a, p->cmd);
  else
    cli_fail(CLI_USAGE, "unknown option '%.*s' (see 'ndpar --help')", n, a);
  return CLI_BAD;
}

/* After "--", -o/--output (with its value) is still the output option. */
static int is_output_option(const cli_opt *opts, const char *a) {
  const cli_opt *o = find_long(opts, "output", 6);
  if (!o || a[0] != '-') return 0;
  if (o->short_name && a[1] == o->short_name) return 1;
  return !strncmp(a, "--output", 8) && (a[8] == '\0' || a[8] == '=');
}

int cli_next(cli_parser *p, const cli_opt *opts) {
  if (p->i >= p->argc) return CLI_END;
  const char *a = p->argv[p->i++];
  p->opt = a;
  p->arg = NULL;
  if ((p->only_pos && !is_output_option(opts, a)) || a[0] != '-' || a[1] == '\0' ||
      cli_is_number(a)) {
    p->arg = a;
    return CLI_POS;
  }
  if (a[1] == '-') {
    if (a[2] == '\0') { /* "--": the rest are positionals */
      p->only_pos = 1;
      return cli_next(p, opts);
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const cli_opt *o = find_long(opts, name, len);
    if (!o) return unknown_option(p, a, len + 2);
    if (!o->has_arg) {
      if (eq)
        return cli_fail(CLI_USAGE, "%s%soption --%s takes no value",
                        p->cmd ? p->cmd : "", p->cmd ? ": " : "", o->name),
               CLI_BAD;
      return o->id;
    }
    return take_value(p, o, eq ? eq + 1 : NULL);
  }
  const cli_opt *o = cli_find_short(opts, a[1]);
  if (!o || (!o->has_arg && a[2])) return unknown_option(p, a, strlen(a));
  if (!o->has_arg) return o->id;
  return take_value(p, o, a[2] ? a + 2 : NULL);
}

/* ======================================================================== */
/* Numbers                                                                   */
/* ======================================================================== */

int cli_literal_kind(const char *s) {
  if (!s || !*s) return CLI_LIT_NONE;
  if (!strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "True") ||
      !strcmp(s, "False"))
    return CLI_LIT_BOOL;
  const char *d = s + (*s == '+' || *s == '-');
  if (*d >= '0' && *d <= '9' && d[strspn(d, "0123456789")] == '\0')
    return CLI_LIT_INT;
  if (strpbrk(s, "xXpP") || !(*d == '.' || (*d >= '0' && *d <= '9') ||
                              !strncasecmp(d, "inf", 3) || !strncasecmp(d, "nan", 3)))
    return CLI_LIT_NONE;
  char *end;
  errno = 0;
  (void)strtod(s, &end);
  return (end != s && *end == '\0') ? CLI_LIT_FLOAT : CLI_LIT_NONE;
}

int cli_is_number(const char *s) {
  int k = cli_literal_kind(s);
  return k == CLI_LIT_INT || k == CLI_LIT_FLOAT;
}

int cli_apply_threads(const char *s) {
  char *end;
  errno = 0;
  long n = (s && *s >= '0' && *s <= '9') ? strtol(s, &end, 10) : -1;
  if (n < 1 || errno || *end || n > NDP_MAX_THREADS)
    return cli_fail(CLI_USAGE,
                    "--threads: expected a whole number from 1 to %d, got '%.100s'",
                    NDP_MAX_THREADS, s ? s : "");
  int err = ndp_set_num_threads((int)n);
  if (err)
    return cli_fail(CLI_USAGE, "--threads %ld: %s", n, ndp_strerror(err));
  return CLI_OK;
}

/* ======================================================================== */
/* Time, memory                                                              */
/* ======================================================================== */

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t cli_meminfo(const char *field) {
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  size_t len = strlen(field);
  uint64_t kib = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, field, len) == 0 && line[len] == ':') {
      unsigned long long v;
      if (sscanf(line + len + 1, "%llu", &v) == 1) kib = v;
      break;
    }
  }
  fclose(f);
  return kib > UINT64_MAX / 1024 ? 0 : kib * 1024;
}

char *cli_fmt_bytes(uint64_t bytes, char *buf, size_t cap) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = (double)bytes;
  int u = 0;
  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    u++;
  }
  if (u == 0 || v == floor(v))
    snprintf(buf, cap, "%.0f %s", v, unit[u]);
  else
    snprintf(buf, cap, "%.2f %s", v, unit[u]);
  return buf;
}
