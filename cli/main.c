/*
 * cli/main.c - the ndpar command: dispatcher, `info`, `map`, `rolling`, and
 * the helpers the commands share (options, errors, numbers).
 *
 *   ndpar info [--bandwidth] [--threads N]
 *   ndpar map FUNC IN.npy [IN2.npy|SCALAR] -o OUT.npy [--dtype D]
 *             [--casting RULE] [--threads N]
 *   ndpar rolling FUNC --window W [--center] [--mode edge] [--min-count N]
 *             [--axis A] [--q Q] [--ddof D] IN.npy -o OUT.npy [--threads N]
 *   ndpar eval EXPR NAME=IN.npy ... [NAME=NUMBER ...] -o OUT.npy
 *             [--casting RULE] [--threads N]
 *   ndpar eval --explain EXPR [NAME=IN.npy|NAME=NUMBER|NAME=DTYPE ...]
 *   ndpar apply --index IDX.npy --table TABLE.txt x=X.npy ... -o OUT.npy
 *   ndpar kernel FILE.py:FUNC ARG... -o OUT.npy                   (cmd_kernel.c)
 *             [--default V] [--dtype D] [--threads N]   (cmd_apply.c)
 *   ndpar demo [--size SIZE] [--threads N]          (demo.c)
 *
 * Only the public header is used. `map`, `rolling` and `eval` map their
 * inputs (ndp_npy_open), create the output at its final size
 * (ndp_npy_create) and let ndp_ufunc / ndp_rolling / ndp_expr_eval write
 * straight into that mapping, so no file is ever read whole and files larger
 * than memory work. Everything that can be checked is checked before the
 * output is created, and a new output is a temporary renamed over -o only
 * when the run succeeds (output.c): a failed run leaves a file that was at
 * -o as it was, and no new file.
 *
 * A scalar operand follows NumPy 2's rule for Python scalars (NEP 50): it is
 * "weak", standing for the array operand's dtype when its kind allows while
 * the loop is chosen, so `map add u8.npy 1` stays uint8, and it is then
 * converted to the loop's dtype, so `map divide u8.npy 300` runs in float64.
 * The command only turns the literal into a weak operand (make_weak);
 * libndpar applies the rule (ndp_ufunc_resolve, ndp_ufunc).
 *
 * Exit status: 0 success; 2 bad usage or bad input; 1 unexpected failure;
 * 130 interrupted. Every failure prints exactly one line "ndpar: ..." on
 * stderr. A mapped file that shrinks under us or a full disk raises SIGBUS;
 * the handler reports it in the same form and removes the partial output.
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

/* Reports a failed call about `what` (a path, a function name): the
 * library's message, prefixed with `what` unless it names it already. */
static int fail_about(int status, const char *what, int err, const ndp_status *st) {
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

static const cli_opt *find_short(const cli_opt *opts, char c) {
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
  const cli_opt *o = find_short(opts, a[1]);
  if (!o || (!o->has_arg && a[2])) return unknown_option(p, a, strlen(a));
  if (!o->has_arg) return o->id;
  return take_value(p, o, a[2] ? a + 2 : NULL);
}

/* ======================================================================== */
/* Numbers                                                                   */
/* ======================================================================== */

enum { SC_NONE = 0, SC_BOOL, SC_INT, SC_FLOAT };

/* What kind of Python literal s is, if any. Hexadecimal and other strtod
 * extensions are not literals here (so "0x10" names a file). */
static int literal_kind(const char *s) {
  if (!s || !*s) return SC_NONE;
  if (!strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "True") ||
      !strcmp(s, "False"))
    return SC_BOOL;
  const char *d = s + (*s == '+' || *s == '-');
  if (*d >= '0' && *d <= '9' && d[strspn(d, "0123456789")] == '\0')
    return SC_INT;
  if (strpbrk(s, "xXpP") || !(*d == '.' || (*d >= '0' && *d <= '9') ||
                              !strncasecmp(d, "inf", 3) || !strncasecmp(d, "nan", 3)))
    return SC_NONE;
  char *end;
  errno = 0;
  (void)strtod(s, &end);
  return (end != s && *end == '\0') ? SC_FLOAT : SC_NONE;
}

int cli_is_number(const char *s) {
  int k = literal_kind(s);
  return k == SC_INT || k == SC_FLOAT;
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

static void install_sigbus(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigbus;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, NULL);
}

/* ======================================================================== */
/* info                                                                      */
/* ======================================================================== */

static const char info_usage[] =
    "usage: ndpar info [--bandwidth] [--threads N]\n"
    "\n"
    "Print the library version, the threads jobs use, the instruction set in\n"
    "use and the best one this CPU has, and the vectorized math library.\n"
    "\n"
    "options:\n"
    "  --bandwidth   also measure STREAM-style copy and triad memory\n"
    "                bandwidth with all threads (a few seconds)\n"
    "  --threads N   threads to use (default: every CPU this process may use)\n"
    "  -h, --help    show this help\n";

enum { OPT_BANDWIDTH = CLI_OPT_FIRST_FREE };

static int cmd_info(int argc, char **argv) {
  static const cli_opt opts[] = {
      {CLI_OPT_HELP, "help", 'h', 0},
      {CLI_OPT_THREADS, "threads", 0, 1},
      {OPT_BANDWIDTH, "bandwidth", 0, 0},
      {0, NULL, 0, 0}};
  cli_parser p;
  int bandwidth = 0, id, rc;
  cli_parser_init(&p, "info", argc, argv);
  while ((id = cli_next(&p, opts)) != CLI_END) {
    switch (id) {
    case CLI_BAD: return CLI_USAGE;
    case CLI_OPT_HELP: fputs(info_usage, stdout); return CLI_OK;
    case CLI_OPT_THREADS:
      if ((rc = cli_apply_threads(p.arg))) return rc;
      break;
    case OPT_BANDWIDTH: bandwidth = 1; break;
    default:
      return cli_fail(CLI_USAGE, "info: unexpected argument '%.200s'", p.arg);
    }
  }
  const char *isa = ndp_isa_name(ndp_get_isa());
  const char *best = ndp_isa_name(ndp_cpu_isa());
  printf("ndpar %s\n", ndp_version());
  printf("threads: %d (default %d)\n", ndp_get_num_threads(),
         ndp_default_num_threads());
  printf("isa: %s (cpu best: %s)\n", isa ? isa : "?", best ? best : "?");
  printf("mathlib: %s\n", ndp_mathlib());
  if (bandwidth) {
    ndp_bandwidth bw;
    ndp_status st = {0, "", -1};
    char size[32];
    fflush(stdout);
    int err = ndp_measure_bandwidth(0, 0, 0, &bw, &st);
    if (err)
      return cli_fail(cli_status_for(err), "bandwidth: %s", cli_errmsg(err, &st));
    printf("bandwidth: copy %.1f GB/s, triad %.1f GB/s (%d thread%s, arrays of %s)\n",
           bw.copy_gbs, bw.triad_gbs, bw.nthreads, bw.nthreads == 1 ? "" : "s",
           cli_fmt_bytes(bw.bytes, size, sizeof size));
  }
  return CLI_OK;
}

/* ======================================================================== */
/* map                                                                       */
/* ======================================================================== */

static void print_map_usage(FILE *out) {
  fputs("usage: ndpar map FUNC IN.npy [IN2.npy|SCALAR] -o OUT.npy [options]\n"
        "\n"
        "Apply the NumPy ufunc FUNC elementwise to .npy files, on every core.\n"
        "Inputs are memory-mapped and the result is written straight into a\n"
        "new file that replaces OUT.npy when the run succeeds (a failed run\n"
        "leaves OUT.npy as it was), so files larger than memory work.\n"
        "Operands broadcast as in NumPy; the result has NumPy's dtype (float32\n"
        "where NumPy would give float16). OUT.npy may be an input: it is then\n"
        "updated in place.\n"
        "A SCALAR (3, -1.5, nan, inf, true) is a Python scalar to NumPy 2: it\n"
        "takes the dtype of the array operand when its kind allows, and must fit\n"
        "the dtype the loop runs in (add u8.npy 300 is an error, divide u8.npy\n"
        "300 runs in float64; comparisons are exact).\n"
        "\n"
        "options:\n"
        "  -o, --output OUT.npy   the result (required)\n"
        "  --dtype D              dtype the computation runs in, as NumPy's\n"
        "                         dtype= (float64, float32, int32, uint8, ...)\n"
        "  --casting RULE         no, equiv, safe, same_kind (default), unsafe\n"
        "  --threads N            threads to use (default: every CPU)\n"
        "  -h, --help             show this help\n"
        "\n"
        "functions:",
        out);
  int col = 80;
  for (int op = 0; op < NDP_NOPS; op++) {
    const char *name = ndp_op_name(op);
    if (!name) continue;
    int len = (int)strlen(name) + 1;
    if (col + len > 78) {
      fputs("\n ", out);
      col = 1;
    }
    fprintf(out, " %s", name);
    col += len;
  }
  fputs("\n  (aliases: absolute, true_divide, mod, pow)\n", out);
}

enum { OPT_OUTPUT = CLI_OPT_FIRST_FREE, OPT_DTYPE, OPT_CASTING };

/* One input of `map`: a mapped file or a scalar literal. */
typedef struct operand {
  const char *text;         /* as given on the command line */
  int kind;                 /* SC_NONE for a file, else the literal's kind */
  ndp_npy f;                /* the mapping, when this operand owns it */
  ndp_npy *npy;             /* the mapping used (maybe another operand's) */
  struct stat sb;           /* the file's identity */
  int is_out;               /* same file as the output */
  union {                   /* storage of a scalar's 0-d array */
    uint8_t b;
    int8_t i8;
    uint8_t u8;
    int16_t i16;
    uint16_t u16;
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    float f32;
    double f64;
  } v;
  ndp_array sarr;           /* a scalar as a 0-d array over v */
  const ndp_array *arr;     /* what ndp_ufunc reads */
} operand;

/* A scalar as a Python literal for NumPy 2: a weak 0-d operand holding
 * its value (an int as int64, uint64 above INT64_MAX, else as a double; a
 * float as float64; true/false as a bool). ndp_ufunc applies NEP 50. */
static int make_weak(operand *o) {
  int kind = NDP_ARRAY_WEAK_FLOAT;
  ndp_dtype dt = NDP_FLOAT64;
  if (o->kind == SC_BOOL) {
    kind = NDP_ARRAY_WEAK_BOOL;
    dt = NDP_BOOL;
    o->v.b = o->text[0] == 't' || o->text[0] == 'T';
  } else if (o->kind == SC_INT) {
    const char *d = o->text + (o->text[0] == '+' || o->text[0] == '-');
    int neg = o->text[0] == '-';
    errno = 0;
    uint64_t mag = strtoull(d, NULL, 10);
    kind = NDP_ARRAY_WEAK_INT;
    if (errno == ERANGE || (neg && mag > (uint64_t)INT64_MAX + 1)) {
      o->v.f64 = strtod(o->text, NULL); /* beyond 64 bits */
    } else if (!neg && mag > (uint64_t)INT64_MAX) {
      dt = NDP_UINT64;
      o->v.u64 = mag;
    } else {
      dt = NDP_INT64;
      o->v.i64 = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag)
                     : (int64_t)mag;
    }
  } else {
    o->v.f64 = strtod(o->text, NULL);
  }
  int err = ndp_array_init_weak(&o->sarr, &o->v, kind, dt);
  if (err) return cli_fail(CLI_RUNTIME, "map: scalar: %s", ndp_strerror(err));
  o->arr = &o->sarr;
  return CLI_OK;
}

static int parse_casting(const char *cmd, const char *s, ndp_casting *c) {
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

/* Opens file operand k (sharing an earlier operand's mapping when it is the
 * same file). Returns CLI_OK or an exit status after printing the error. */
static int open_operand(operand *ops, int k, const struct stat *out_sb) {
  operand *o = &ops[k];
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
    if (ops[j].kind == SC_NONE && ops[j].sb.st_dev == o->sb.st_dev &&
        ops[j].sb.st_ino == o->sb.st_ino) {
      o->npy = ops[j].npy;
      o->arr = &o->npy->arr;
      return CLI_OK;
    }
  ndp_status st = {0, "", -1};
  int err = ndp_npy_open(o->text, o->is_out, &o->f, &st);
  if (err) {
    return fail_about(cli_status_for(err), o->text, err, &st);
  }
  o->npy = &o->f;
  o->arr = &o->f.arr;
  return CLI_OK;
}

typedef struct map_args {
  const char *func;
  const char *inputs[2];
  int ninputs;
  const char *out;
  ndp_dtype loop;           /* NDP_NTYPES unless --dtype */
  ndp_casting casting;
} map_args;

static int parse_map_args(int argc, char **argv, map_args *a, int *help) {
  static const cli_opt opts[] = {
      {CLI_OPT_HELP, "help", 'h', 0},
      {CLI_OPT_THREADS, "threads", 0, 1},
      {OPT_OUTPUT, "output", 'o', 1},
      {OPT_DTYPE, "dtype", 0, 1},
      {OPT_CASTING, "casting", 0, 1},
      {0, NULL, 0, 0}};
  cli_parser p;
  int id, rc, npos = 0;
  const char *pos[3] = {NULL, NULL, NULL};
  memset(a, 0, sizeof *a);
  a->loop = NDP_NTYPES;
  a->casting = NDP_CASTING_SAME_KIND;
  *help = 0;
  cli_parser_init(&p, "map", argc, argv);
  while ((id = cli_next(&p, opts)) != CLI_END) {
    switch (id) {
    case CLI_BAD: return CLI_USAGE;
    case CLI_OPT_HELP: *help = 1; return CLI_OK;
    case CLI_OPT_THREADS:
      if ((rc = cli_apply_threads(p.arg))) return rc;
      break;
    case OPT_OUTPUT: a->out = p.arg; break;
    case OPT_DTYPE:
      a->loop = ndp_dtype_from_name(p.arg);
      if (a->loop == NDP_NTYPES)
        return cli_fail(CLI_USAGE, "map: unknown or unsupported dtype '%.100s'", p.arg);
      break;
    case OPT_CASTING:
      if ((rc = parse_casting("map", p.arg, &a->casting))) return rc;
      break;
    default:
      if (npos < 3) pos[npos] = p.arg;
      npos++;
      break;
    }
  }
  if (npos == 0)
    return cli_fail(CLI_USAGE, "map: missing FUNC (see 'ndpar map --help')");
  a->func = pos[0];
  int op = ndp_op_lookup(a->func);
  if (op < 0)
    return cli_fail(CLI_USAGE, "map: unknown function '%.100s' (see 'ndpar map --help')",
                    a->func);
  int nin = ndp_op_nin(op);
  if (npos - 1 != nin)
    return cli_fail(CLI_USAGE, "map: %s takes %d input%s, got %d", ndp_op_name(op),
                    nin, nin == 1 ? "" : "s", npos - 1);
  a->ninputs = nin;
  a->inputs[0] = pos[1];
  a->inputs[1] = nin == 2 ? pos[2] : NULL;
  if (!a->out) return cli_fail(CLI_USAGE, "map: missing -o OUT.npy");
  return CLI_OK;
}

/* State of one `map` run, released by map_cleanup. */
typedef struct map_run {
  operand ops[2];
  int nops;
  cli_output outf;          /* a new output (not an input updated in place) */
} map_run;

static int map_cleanup(map_run *r, int status) {
  ndp_status st = {0, "", -1};
  status = cli_output_finish(&r->outf, status);
  for (int k = 0; k < r->nops; k++) {
    operand *o = &r->ops[k];
    if (o->kind != SC_NONE || o->npy != &o->f) continue;
    int err = ndp_npy_close(&o->f, &st);
    if (err && status == CLI_OK) status = fail_about(CLI_RUNTIME, o->text, err, &st);
  }
  return status;
}

static const char *const casting_names[] = {"no", "equiv", "safe", "same_kind",
                                             "unsafe"};

/* The output of `map` and `eval`: the input among ops[0..nops) that is the
 * output file, updated in place (its shape must be the result's and the
 * result must cast to its dtype), or a new file for path (cli_output_create:
 * renamed over path on success), in Fortran order when every file input is
 * a Fortran array of more than one dimension.
 * OUT: *out. Returns CLI_OK or an exit status after printing the error. */
static int open_output(operand *ops, int nops, const char *path, ndp_casting casting,
                       ndp_dtype out_dt, int ndim, const int64_t *shape, cli_output *outf,
                       const ndp_array **out) {
  char want[256], have[256];
  for (int k = 0; k < nops; k++) {
    operand *o = &ops[k];
    if (o->kind != SC_NONE || !o->is_out) continue;
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
    if (ops[k].kind != SC_NONE) continue;
    nfiles++;
    fortran &= ops[k].npy->hdr.fortran_order && ops[k].arr->ndim > 1;
  }
  fortran &= nfiles > 0;
  int rc = cli_output_create(outf, path, out_dt, fortran, ndim, shape);
  if (rc) return rc;
  *out = &outf->f.arr;
  return CLI_OK;
}

static int map_run_job(map_run *r, const map_args *a) {
  int op = ndp_op_lookup(a->func);
  int rc, nfiles = 0;
  struct stat out_sb;
  int have_out = stat(a->out, &out_sb) == 0 && S_ISREG(out_sb.st_mode);
  r->nops = a->ninputs;
  for (int k = 0; k < r->nops; k++) {
    r->ops[k].text = a->inputs[k];
    r->ops[k].kind = literal_kind(a->inputs[k]);
    if (r->ops[k].kind != SC_NONE) continue;
    nfiles++;
    if ((rc = open_operand(r->ops, k, have_out ? &out_sb : NULL))) return rc;
  }
  if (nfiles == 0)
    return cli_fail(CLI_USAGE, "map: %s needs at least one .npy input, got '%.100s'",
                    a->func, a->inputs[0]);
  for (int k = 0; k < r->nops; k++)
    if (r->ops[k].kind != SC_NONE && (rc = make_weak(&r->ops[k]))) return rc;
  const ndp_array *in[2] = {r->ops[0].arr, r->nops > 1 ? r->ops[1].arr : NULL};
  ndp_status st = {0, "", -1};
  int ndim = 0, err;
  int64_t shape[NDP_MAXDIMS];
  ndp_dtype out_dt;
  err = ndp_broadcast_shape(r->nops, in, &ndim, shape, &st);
  if (err) return cli_fail(cli_status_for(err), "map: %s", cli_errmsg(err, &st));
  /* the result's dtype, scalars included (NEP 50, in the library) */
  err = ndp_ufunc_resolve(op, in, a->loop, a->casting, NDP_NTYPES, NULL, NULL, &out_dt, &st);
  if (err) return cli_fail(cli_status_for(err), "map: %s", cli_errmsg(err, &st));
  const ndp_array *out = NULL;
  if ((rc = open_output(r->ops, r->nops, a->out, a->casting, out_dt, ndim, shape,
                       &r->outf, &out)))
    return rc;
  cli_progress prog;
  cli_progress_start(&prog, ndp_op_name(op));
  ndp_exec ex = {0, cli_progress_poll, &prog, 0.0};
  err = ndp_ufunc(op, in, out, a->loop, a->casting, &ex, &st);
  cli_progress_done(&prog);
  if (err) return fail_about(cli_status_for(err), ndp_op_name(op), err, &st);
  return CLI_OK;
}

static int cmd_map(int argc, char **argv) {
  map_args a;
  int help;
  int rc = parse_map_args(argc, argv, &a, &help);
  if (rc) return rc;
  if (help) {
    print_map_usage(stdout);
    return CLI_OK;
  }
  map_run r;
  memset(&r, 0, sizeof r);
  rc = map_run_job(&r, &a);
  return map_cleanup(&r, rc);
}

/* ======================================================================== */
/* rolling                                                                   */
/* ======================================================================== */

static void print_rolling_usage(FILE *out) {
  fputs("usage: ndpar rolling FUNC --window W IN.npy -o OUT.npy [options]\n"
        "\n"
        "Moving-window statistics along one axis of a .npy file, on every core,\n"
        "as bottleneck's move_* functions: the result has the input's shape,\n"
        "NaN values are skipped, and a window with fewer than --min-count\n"
        "non-NaN values gives NaN. The input is memory-mapped and the result\n"
        "written straight into a new file that replaces OUT.npy when the run\n"
        "succeeds (a failed run leaves OUT.npy as it was); float32 for float32\n"
        "input, float64 otherwise, in the input's C or Fortran order. OUT.npy\n"
        "may be IN.npy when those dtypes match: it is then updated in place (an\n"
        "interrupted run leaves it partly updated). Results do not depend on\n"
        "--threads.\n"
        "\n"
        "windows (W points, for output position i):\n"
        "  default       trailing: points i-W+1 .. i\n"
        "  --center      centered: points i-W/2 .. i-W/2+W-1 (pandas'\n"
        "                center=True); points outside the series are left out\n"
        "  --mode edge   centered, and points outside the series repeat the\n"
        "                first or last value (np.pad mode='edge'); --center may\n"
        "                be given too\n"
        "\n"
        "options:\n"
        "  -o, --output OUT.npy  the result (required)\n"
        "  -w, --window W        points in a window, 1 .. the axis length, any with\n"
        "                        --mode edge (required)\n"
        "  --min-count N         fewest non-NaN values that give a result, 1 .. W;\n"
        "                        for count: the fewest positions of the series a\n"
        "                        window must hold, NaN or not (pandas' min_periods)\n"
        "                        (default W)\n"
        "  --axis A              the axis to move along (default -1, the last)\n"
        "  --q Q                 quantile only, and required for it: 0 <= Q <= 1,\n"
        "                        linear interpolation as numpy.quantile\n"
        "  --ddof D              var and std only: the divisor is count - D\n"
        "                        (default 0)\n"
        "  --threads N           threads to use (default: every CPU)\n"
        "  -h, --help            show this help\n"
        "\n"
        "functions:\n ",
        out);
  for (int fn = 0; fn < NDP_NROLL; fn++) {
    const char *name = ndp_roll_name(fn);
    if (name) fprintf(out, " %s", name);
  }
  fputs("\n  (argmin, argmax: where the extreme is, counted back from the\n"
        "  window's newest point, 0 = newest; count: the non-NaN values)\n"
        "\n"
        "example: ndpar rolling mean --window 21 --mode edge x.npy -o smooth.npy\n",
        out);
}

enum {
  OPT_WINDOW = OPT_CASTING + 1,
  OPT_CENTER,
  OPT_MODE,
  OPT_MIN_COUNT,
  OPT_AXIS,
  OPT_Q,
  OPT_DDOF
};

typedef struct roll_args {
  int fn;                   /* ndp_roll_fn */
  const char *in;
  const char *out;
  ndp_roll_opts o;
  int have_window, have_q, have_ddof;
} roll_args;

/* s as a decimal integer (sign allowed) within [lo, hi]. 1 on success. */
static int parse_int_in(const char *s, long long lo, long long hi, long long *v) {
  const char *d = s + (*s == '+' || *s == '-');
  if (!(*d >= '0' && *d <= '9')) return 0;
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (errno || *end || x < lo || x > hi) return 0;
  *v = x;
  return 1;
}

static int parse_rolling_args(int argc, char **argv, roll_args *a, int *help) {
  static const cli_opt opts[] = {
      {CLI_OPT_HELP, "help", 'h', 0},
      {CLI_OPT_THREADS, "threads", 0, 1},
      {OPT_OUTPUT, "output", 'o', 1},
      {OPT_WINDOW, "window", 'w', 1},
      {OPT_CENTER, "center", 0, 0},
      {OPT_MODE, "mode", 0, 1},
      {OPT_MIN_COUNT, "min-count", 0, 1},
      {OPT_AXIS, "axis", 0, 1},
      {OPT_Q, "q", 0, 1},
      {OPT_DDOF, "ddof", 0, 1},
      {0, NULL, 0, 0}};
  cli_parser p;
  int id, rc, npos = 0, center = 0, edge = 0;
  const char *pos[3] = {NULL, NULL, NULL};
  long long v;
  memset(a, 0, sizeof *a);
  a->o.axis = -1;
  *help = 0;
  cli_parser_init(&p, "rolling", argc, argv);
  while ((id = cli_next(&p, opts)) != CLI_END) {
    switch (id) {
    case CLI_BAD: return CLI_USAGE;
    case CLI_OPT_HELP: *help = 1; return CLI_OK;
    case CLI_OPT_THREADS:
      if ((rc = cli_apply_threads(p.arg))) return rc;
      break;
    case OPT_OUTPUT: a->out = p.arg; break;
    case OPT_WINDOW:
      if (!parse_int_in(p.arg, 1, INT64_MAX, &v))
        return cli_fail(CLI_USAGE,
                        "rolling: --window must be a positive whole number, got '%.100s'",
                        p.arg);
      a->o.window = v;
      a->have_window = 1;
      break;
    case OPT_CENTER: center = 1; break;
    case OPT_MODE:
      if (strcmp(p.arg, "edge") != 0)
        return cli_fail(CLI_USAGE,
                        "rolling: --mode must be 'edge' (the centered window with "
                        "edge padding), got '%.100s'", p.arg);
      edge = 1;
      break;
    case OPT_MIN_COUNT:
      if (!parse_int_in(p.arg, 1, INT64_MAX, &v))
        return cli_fail(CLI_USAGE,
                        "rolling: --min-count must be a positive whole number, got "
                        "'%.100s'", p.arg);
      a->o.min_count = v;
      break;
    case OPT_AXIS:
      if (!parse_int_in(p.arg, -INT_MAX, INT_MAX, &v)) /* range: once ndim is known */
        return cli_fail(CLI_USAGE, "rolling: --axis must be a whole number, got '%.100s'",
                        p.arg);
      a->o.axis = (int)v;
      break;
    case OPT_Q: {
      int k = literal_kind(p.arg);
      double q = (k == SC_INT || k == SC_FLOAT) ? strtod(p.arg, NULL) : NAN;
      if (!(q >= 0.0 && q <= 1.0))
        return cli_fail(CLI_USAGE,
                        "rolling: --q must be a number from 0 to 1, got '%.100s'", p.arg);
      a->o.q = q;
      a->have_q = 1;
      break;
    }
    case OPT_DDOF:
      if (!parse_int_in(p.arg, 0, INT_MAX, &v))
        return cli_fail(CLI_USAGE,
                        "rolling: --ddof must be a whole number >= 0, got '%.100s'",
                        p.arg);
      a->o.ddof = (int)v;
      a->have_ddof = 1;
      break;
    default:
      if (npos < 3) pos[npos] = p.arg;
      npos++;
      break;
    }
  }
  if (npos == 0)
    return cli_fail(CLI_USAGE, "rolling: missing FUNC (see 'ndpar rolling --help')");
  a->fn = ndp_roll_lookup(pos[0]);
  if (a->fn < 0)
    return cli_fail(CLI_USAGE,
                    "rolling: unknown function '%.100s' (see 'ndpar rolling --help')",
                    pos[0]);
  const char *name = ndp_roll_name(a->fn);
  if (npos < 2) return cli_fail(CLI_USAGE, "rolling: missing IN.npy");
  if (npos > 2)
    return cli_fail(CLI_USAGE, "rolling: takes one input, got %d (extra '%.100s')",
                    npos - 1, pos[2]);
  a->in = pos[1];
  if (!a->out) return cli_fail(CLI_USAGE, "rolling: missing -o OUT.npy");
  if (!a->have_window) return cli_fail(CLI_USAGE, "rolling: missing --window W");
  if (a->o.min_count > a->o.window)
    return cli_fail(CLI_USAGE,
                    "rolling: --min-count must be from 1 to the window (%lld), got %lld",
                    (long long)a->o.window, (long long)a->o.min_count);
  if (a->fn == NDP_ROLL_QUANTILE && !a->have_q)
    return cli_fail(CLI_USAGE, "rolling: quantile needs --q Q (0 <= Q <= 1)");
  if (a->fn != NDP_ROLL_QUANTILE && a->have_q)
    return cli_fail(CLI_USAGE, "rolling: --q is for quantile only, not %s", name);
  if (a->fn != NDP_ROLL_VAR && a->fn != NDP_ROLL_STD && a->have_ddof)
    return cli_fail(CLI_USAGE, "rolling: --ddof is for var and std only, not %s", name);
  a->o.align = edge ? NDP_ROLL_CENTER_EDGE : center ? NDP_ROLL_CENTER : NDP_ROLL_TRAILING;
  return CLI_OK;
}

/* State of one `rolling` run, released by rolling_cleanup. */
typedef struct roll_run {
  operand in;               /* the input file (only its file fields are used) */
  cli_output outf;          /* a new output (not the input updated in place) */
} roll_run;

static int rolling_cleanup(roll_run *r, int status) {
  ndp_status st = {0, "", -1};
  status = cli_output_finish(&r->outf, status);
  if (r->in.npy == &r->in.f) {
    int err = ndp_npy_close(&r->in.f, &st);
    if (err && status == CLI_OK) status = fail_about(CLI_RUNTIME, r->in.text, err, &st);
  }
  return status;
}

static int rolling_run_job(roll_run *r, const roll_args *a) {
  const char *name = ndp_roll_name(a->fn);
  int rc;
  struct stat out_sb;
  int have_out = stat(a->out, &out_sb) == 0 && S_ISREG(out_sb.st_mode);
  r->in.text = a->in;
  r->in.kind = SC_NONE;
  if ((rc = open_operand(&r->in, 0, have_out ? &out_sb : NULL))) return rc;
  const ndp_array *x = r->in.arr;
  ndp_dtype out_dt;
  if (ndp_roll_out_dtype(a->fn, x->dtype, &out_dt) != 0)
    return cli_fail(CLI_USAGE, "rolling: %s does not support dtype %s", name,
                    ndp_dtype_name(x->dtype));
  /* Checked here, before any output exists, with the file's numbers. */
  if (x->ndim == 0)
    return cli_fail(CLI_USAGE, "rolling: %.300s holds a 0-d array: no axis to move along",
                    a->in);
  if (a->o.axis < -x->ndim || a->o.axis >= x->ndim)
    return cli_fail(CLI_USAGE,
                    "rolling: --axis %d is out of range for %.300s (%d-d: -%d .. %d)",
                    a->o.axis, a->in, x->ndim, x->ndim, x->ndim - 1);
  const ndp_array *out = NULL;
  if (r->in.is_out) {
    if (x->dtype != out_dt)
      return cli_fail(CLI_USAGE,
                      "cannot write %.300s in place: the result is %s, the file holds %s",
                      a->out, ndp_dtype_name(out_dt), ndp_dtype_name(x->dtype));
    out = x;
  } else {
    int fortran = r->in.npy->hdr.fortran_order && x->ndim > 1;
    if ((rc = cli_output_create(&r->outf, a->out, out_dt, fortran, x->ndim, x->shape)))
      return rc;
    out = &r->outf.f.arr;
  }
  char label[64];
  snprintf(label, sizeof label, "rolling %s", name);
  cli_progress prog;
  cli_progress_start(&prog, label);
  ndp_exec ex = {0, cli_progress_poll, &prog, 0.0};
  ndp_status st = {0, "", -1};
  int err = ndp_rolling(a->fn, x, out, &a->o, &ex, &st);
  cli_progress_done(&prog);
  if (err) return fail_about(cli_status_for(err), label, err, &st);
  return CLI_OK;
}

static int cmd_rolling(int argc, char **argv) {
  roll_args a;
  int help;
  int rc = parse_rolling_args(argc, argv, &a, &help);
  if (rc) return rc;
  if (help) {
    print_rolling_usage(stdout);
    return CLI_OK;
  }
  roll_run r;
  memset(&r, 0, sizeof r);
  rc = rolling_run_job(&r, &a);
  return rolling_cleanup(&r, rc);
}

/* ======================================================================== */
/* eval                                                                      */
/* ======================================================================== */

static void print_eval_usage(FILE *out) {
  fputs("usage: ndpar eval EXPR NAME=IN.npy ... [NAME=NUMBER ...] -o OUT.npy [options]\n"
        "       ndpar eval --explain EXPR [NAME=IN.npy|NAME=NUMBER|NAME=DTYPE ...]\n"
        "\n"
        "Evaluate a NumPy-style expression over .npy files, on every core, in\n"
        "cache-sized blocks with no array-sized temporaries. Inputs are\n"
        "memory-mapped and the result is written straight into a new file that\n"
        "replaces OUT.npy when the run succeeds (a failed run leaves OUT.npy as\n"
        "it was), so files larger than memory work. Operands broadcast and\n"
        "types promote as in NumPy; the result has the expression's dtype and\n"
        "shape, in Fortran order when every file input is a Fortran array of\n"
        "more than one dimension. OUT.npy may be an input of the result's\n"
        "shape: it is then updated in place (an interrupted run leaves it partly\n"
        "updated).\n"
        "\n"
        "variables:\n"
        "  NAME=IN.npy    an array from a .npy file (an existing file wins)\n"
        "  NAME=NUMBER    a Python scalar (3, -1.5, 1e-3, nan, inf): it takes the\n"
        "                 dtype of the array it meets when its kind allows (NEP 50);\n"
        "                 true/false is a bool\n"
        "  NAME=DTYPE     with --explain only: an array of that dtype (float64,\n"
        "                 float32, int32, ...), to see a program without files\n"
        "\n"
        "the language:\n"
        "  + - * / // % ** and unary -, == != < <= > >=, & | ^ ~ on booleans and\n"
        "  integers, where(cond, a, b), the functions of 'ndpar map' by name\n"
        "  (exp, log1p, arctan2, minimum, abs, ...), constants (2, 1.5, True,\n"
        "  False, nan, inf, pi, e; a variable or temporary of the same name wins:\n"
        "  'e*2' e=x.npy reads x), and statements separated by ';' or newlines,\n"
        "  all but the last assigning a temporary:  t = a * 2; exp(t) - b\n"
        "  The last may reduce: sum, prod, min, max, mean, any, all over the\n"
        "  whole result, sum(x), or one axis, sum(x, axis=0).\n"
        "  An EXPR may start with '-' ('-a + b'); one starting with -o or -h goes\n"
        "  after '--': the argument after '--' is the EXPR, whatever it starts\n"
        "  with, and later arguments are NAME=VALUE or -o/--output OUT.npy (the\n"
        "  one option still read after '--'):\n"
        "    ndpar eval -- '-h * 2' h=x.npy -o q.npy\n"
        "\n"
        "options:\n"
        "  -o, --output OUT.npy   the result (required unless --explain)\n"
        "  --explain              print the compiled program instead of running it\n"
        "  --casting RULE         casting into an input updated in place: no,\n"
        "                         equiv, safe, same_kind (default), unsafe\n"
        "  --threads N            threads to use (default: every CPU)\n"
        "  -h, --help             show this help\n"
        "\n"
        "examples:\n"
        "  ndpar eval 'where(a > 0.5, exp(a), log1p(a))' a=x.npy -o y.npy\n"
        "  ndpar eval 'a * s + b' a=x.npy b=y.npy s=2.5 -o z.npy\n"
        "  ndpar eval 'mean(a, axis=0)' a=x.npy -o col_means.npy\n"
        "  ndpar eval --explain 't = a * 2; exp(t) - c' a=float64 c=float32\n",
        out);
}

enum { OPT_EXPLAIN = OPT_DDOF + 1 };

/* A NAME=VALUE operand that declares a dtype (--explain only). */
enum { SC_DECL = SC_FLOAT + 1 };

typedef struct eval_args {
  const char *src;
  int nvars;
  char **names;             /* owned: nvars names, each malloc'ed */
  const char **values;      /* owned array; the values are argv's */
  const char *out;
  ndp_casting casting;
  int explain;
} eval_args;

static void eval_args_free(eval_args *a) {
  if (a->names)
    for (int k = 0; k < a->nvars; k++) free(a->names[k]);
  free(a->names);
  free((void *)a->values);
  a->names = NULL;
  a->values = NULL;
}

static int is_ident(const char *s, size_t len) {
  if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
  for (size_t k = 1; k < len; k++)
    if (!(isalnum((unsigned char)s[k]) || s[k] == '_')) return 0;
  return 1;
}

/* NAME=VALUE into a->names / a->values. */
static int add_eval_var(eval_args *a, const char *arg) {
  const char *eq = strchr(arg, '=');
  if (!eq)
    return cli_fail(CLI_USAGE,
                    "eval: expected NAME=FILE.npy or NAME=NUMBER, got '%.100s' (the "
                    "expression goes first, once)", arg);
  size_t len = (size_t)(eq - arg);
  if (!is_ident(arg, len))
    return cli_fail(CLI_USAGE,
                    "eval: bad variable name '%.*s' in '%.100s' (letters, digits and _, "
                    "not starting with a digit)", (int)(len > 100 ? 100 : len), arg, arg);
  if (eq[1] == '\0')
    return cli_fail(CLI_USAGE, "eval: %.100s has no value (NAME=FILE.npy or NAME=NUMBER)",
                    arg);
  for (int k = 0; k < a->nvars; k++)
    if (strlen(a->names[k]) == len && !strncmp(a->names[k], arg, len))
      return cli_fail(CLI_USAGE, "eval: variable '%.100s' given twice", a->names[k]);
  char *name = malloc(len + 1);
  if (!name) return cli_fail(CLI_RUNTIME, "eval: out of memory");
  memcpy(name, arg, len);
  name[len] = '\0';
  a->names[a->nvars] = name;
  a->values[a->nvars] = eq + 1;
  a->nvars++;
  return CLI_OK;
}

static int parse_eval_args(int argc, char **argv, eval_args *a, int *help) {
  static const cli_opt opts[] = {
      {CLI_OPT_HELP, "help", 'h', 0},
      {CLI_OPT_THREADS, "threads", 0, 1},
      {OPT_OUTPUT, "output", 'o', 1},
      {OPT_CASTING, "casting", 0, 1},
      {OPT_EXPLAIN, "explain", 0, 0},
      {0, NULL, 0, 0}};
  cli_parser p;
  int id, rc;
  memset(a, 0, sizeof *a);
  a->casting = NDP_CASTING_SAME_KIND;
  *help = 0;
  a->names = calloc((size_t)argc + 1, sizeof *a->names);
  a->values = calloc((size_t)argc + 1, sizeof *a->values);
  if (!a->names || !a->values) return cli_fail(CLI_RUNTIME, "eval: out of memory");
  cli_parser_init(&p, "eval", argc, argv);
  for (;;) {
    /* An expression may start with '-' ("-a + b"): before the expression,
     * "-X..." is an option only for the short options there are; right
     * after "--" the next argument is the expression, whatever it is. */
    const char *next = p.i < p.argc ? p.argv[p.i] : NULL;
    if (!a->src && !p.only_pos && next && !strcmp(next, "--")) {
      p.only_pos = 1;
      p.i++;
      continue;
    }
    if (!a->src && next &&
        (p.only_pos || (next[0] == '-' && next[1] != '-' && next[1] != '\0' &&
                        !find_short(opts, next[1])))) {
      a->src = next;
      p.i++;
      continue;
    }
    if ((id = cli_next(&p, opts)) == CLI_END) break;
    switch (id) {
    case CLI_BAD: return CLI_USAGE;
    case CLI_OPT_HELP: *help = 1; return CLI_OK;
    case CLI_OPT_THREADS:
      if ((rc = cli_apply_threads(p.arg))) return rc;
      break;
    case OPT_OUTPUT: a->out = p.arg; break;
    case OPT_CASTING:
      if ((rc = parse_casting("eval", p.arg, &a->casting))) return rc;
      break;
    case OPT_EXPLAIN: a->explain = 1; break;
    default:
      if (!a->src) {
        a->src = p.arg;
        break;
      }
      if ((rc = add_eval_var(a, p.arg))) return rc;
      break;
    }
  }
  if (!a->src) return cli_fail(CLI_USAGE, "eval: missing EXPR (see 'ndpar eval --help')");
  if (a->explain && a->out)
    return cli_fail(CLI_USAGE, "eval: --explain runs nothing: -o is not used with it");
  if (!a->explain && !a->out) return cli_fail(CLI_USAGE, "eval: missing -o OUT.npy");
  return CLI_OK;
}

/* State of one `eval` run, released by eval_cleanup. */
typedef struct eval_run {
  int nops;
  operand *ops;             /* owned: one per variable */
  ndp_var *vars;            /* owned */
  const ndp_array **arrs;   /* owned */
  ndp_expr *e;
  cli_output outf;          /* a new output (not an input updated in place) */
} eval_run;

static int eval_cleanup(eval_run *r, int status) {
  ndp_status st = {0, "", -1};
  status = cli_output_finish(&r->outf, status);
  for (int k = 0; r->ops && k < r->nops; k++) {
    operand *o = &r->ops[k];
    if (o->kind != SC_NONE || o->npy != &o->f) continue;
    int err = ndp_npy_close(&o->f, &st);
    if (err && status == CLI_OK) status = fail_about(CLI_RUNTIME, o->text, err, &st);
  }
  ndp_expr_free(r->e);
  free(r->ops);
  free(r->vars);
  free((void *)r->arrs);
  return status;
}

/* Classifies and opens variable k: an existing file, else a number, else
 * (with --explain) a dtype name. Fills r->vars[k] and r->arrs[k]. */
static int eval_open_var(eval_run *r, const eval_args *a, int k,
                         const struct stat *out_sb) {
  operand *o = &r->ops[k];
  ndp_var *v = &r->vars[k];
  const char *name = a->names[k];
  struct stat sb;
  o->text = a->values[k];
  v->name = name;
  v->kind = NDP_VAR_ARRAY;
  int exists = stat(o->text, &sb) == 0;
  int err = 0, rc;
  o->kind = exists ? SC_NONE : literal_kind(o->text);
  switch (o->kind) {
  case SC_NONE: {
    ndp_dtype dt = ndp_dtype_from_name(o->text);
    if (!exists && a->explain && dt != NDP_NTYPES) {
      o->kind = SC_DECL;
      v->dtype = dt;
      return CLI_OK;
    }
    if (!exists && dt != NDP_NTYPES)
      return cli_fail(CLI_USAGE,
                      "eval: %s=%.100s names a dtype, which only --explain takes; give "
                      "a .npy file or a number", name, o->text);
    if ((rc = open_operand(r->ops, k, out_sb))) return rc;
    v->dtype = o->arr->dtype;
    r->arrs[k] = o->arr;
    return CLI_OK;
  }
  case SC_BOOL:
    o->v.b = o->text[0] == 't' || o->text[0] == 'T';
    v->dtype = NDP_BOOL;
    break;
  case SC_INT: {
    char *end;
    errno = 0;
    long long x = strtoll(o->text, &end, 10);
    if (errno == ERANGE)
      return cli_fail(CLI_USAGE, "eval: %s=%.100s is out of the int64 range", name,
                      o->text);
    o->v.i64 = (int64_t)x;
    v->dtype = NDP_INT64;
    v->kind = NDP_VAR_WEAK_INT;
    break;
  }
  default: /* SC_FLOAT */
    o->v.f64 = strtod(o->text, NULL);
    v->dtype = NDP_FLOAT64;
    v->kind = NDP_VAR_WEAK_FLOAT;
    break;
  }
  err = ndp_array_init(&o->sarr, &o->v, v->dtype, 0, NULL);
  if (err) return cli_fail(CLI_RUNTIME, "eval: scalar: %s", ndp_strerror(err));
  o->arr = &o->sarr;
  r->arrs[k] = o->arr;
  return CLI_OK;
}

/* On a terminal: the source line holding byte `pos` and a caret under it. */
static void show_caret(const char *src, long pos) {
  if (isatty(STDERR_FILENO) != 1) return;
  size_t n = strlen(src);
  if (pos < 0 || (size_t)pos > n) return;
  size_t begin = (size_t)pos, end = (size_t)pos;
  while (begin > 0 && src[begin - 1] != '\n') begin--;
  while (end < n && src[end] != '\n') end++;
  if (end - begin > 200) return; /* too long to be of help */
  fputs("  ", stderr);
  for (size_t k = begin; k < end; k++) {
    unsigned char c = (unsigned char)src[k];
    fputc(c < 0x20 || c == 0x7f ? ' ' : c, stderr);
  }
  fputs("\n  ", stderr);
  for (size_t k = begin; k < (size_t)pos; k++) {
    unsigned char c = (unsigned char)src[k];
    if ((c & 0xc0) != 0x80) fputc(' ', stderr); /* a UTF-8 character is one column */
  }
  fputs("^\n", stderr);
}

static int eval_compile_error(const char *src, int err, const ndp_status *st) {
  const char *msg = cli_errmsg(err, st);
  long pos = st->code == err ? st->pos : -1;
  if ((err == NDP_ESYNTAX || err == NDP_ENAME) && pos >= 0 &&
      (size_t)pos <= strlen(src)) {
    int rc;
    if (err == NDP_ESYNTAX)
      rc = cli_fail(CLI_USAGE, "syntax error at column %ld: %s", pos + 1, msg);
    else
      rc = cli_fail(CLI_USAGE, "%s at column %ld", msg, pos + 1);
    show_caret(src, pos);
    return rc;
  }
  return cli_fail(cli_status_for(err), "eval: %s", msg);
}

static int eval_explain(const ndp_expr *e) {
  size_t len = ndp_expr_explain(e, NULL, 0);
  char *buf = malloc(len + 1);
  if (!buf) return cli_fail(CLI_RUNTIME, "eval: out of memory");
  ndp_expr_explain(e, buf, len + 1);
  fputs(buf, stdout);
  if (len == 0 || buf[len - 1] != '\n') fputc('\n', stdout);
  free(buf);
  return CLI_OK;
}

static int eval_run_job(eval_run *r, const eval_args *a) {
  int rc;
  struct stat out_sb;
  int have_out = a->out && stat(a->out, &out_sb) == 0 && S_ISREG(out_sb.st_mode);
  r->nops = a->nvars;
  size_t n = (size_t)a->nvars + 1;
  r->ops = calloc(n, sizeof *r->ops);
  r->vars = calloc(n, sizeof *r->vars);
  r->arrs = calloc(n, sizeof *r->arrs);
  if (!r->ops || !r->vars || !r->arrs) return cli_fail(CLI_RUNTIME, "eval: out of memory");
  for (int k = 0; k < a->nvars; k++)
    if ((rc = eval_open_var(r, a, k, have_out ? &out_sb : NULL))) return rc;
  ndp_status st = {0, "", -1};
  int err = ndp_expr_compile(a->src, a->nvars, r->vars, &r->e, &st);
  if (err) return eval_compile_error(a->src, err, &st);
  if (a->explain) return eval_explain(r->e);
  int ndim = 0;
  int64_t shape[NDP_MAXDIMS];
  err = ndp_expr_shape(r->e, r->arrs, &ndim, shape, &st);
  if (err) return cli_fail(cli_status_for(err), "eval: %s", cli_errmsg(err, &st));
  ndp_dtype out_dt = ndp_expr_dtype(r->e);
  const ndp_array *out = NULL;
  if ((rc = open_output(r->ops, r->nops, a->out, a->casting, out_dt, ndim, shape,
                        &r->outf, &out)))
    return rc;
  cli_progress prog;
  cli_progress_start(&prog, "eval");
  ndp_exec ex = {0, cli_progress_poll, &prog, 0.0};
  err = ndp_expr_eval(r->e, r->arrs, out, a->casting, &ex, &st);
  cli_progress_done(&prog);
  if (err) return cli_fail(cli_status_for(err), "eval: %s", cli_errmsg(err, &st));
  return CLI_OK;
}

static int cmd_eval(int argc, char **argv) {
  eval_args a;
  int help;
  int rc = parse_eval_args(argc, argv, &a, &help);
  if (rc == CLI_OK && help) print_eval_usage(stdout);
  if (rc == CLI_OK && !help) {
    eval_run r;
    memset(&r, 0, sizeof r);
    rc = eval_run_job(&r, &a);
    rc = eval_cleanup(&r, rc);
  }
  eval_args_free(&a);
  return rc;
}

/* ======================================================================== */
/* main                                                                      */
/* ======================================================================== */

static const char main_usage[] =
    "usage: ndpar [--threads N] COMMAND [options]\n"
    "\n"
    "Run NumPy-style elementwise and moving-window work on every core.\n"
    "\n"
    "commands:\n"
    "  info    version, threads, instruction set, math library;\n"
    "          --bandwidth measures memory bandwidth\n"
    "  map     apply a NumPy ufunc (exp, add, less, ...) to .npy files,\n"
    "          memory-mapped: ndpar map exp in.npy -o out.npy\n"
    "  rolling moving-window sum, mean, var, std, min, max, argmin, argmax,\n"
    "          median, quantile, count along an axis of a .npy file:\n"
    "          ndpar rolling mean --window 21 --center in.npy -o out.npy\n"
    "  eval    evaluate a NumPy-style expression over .npy files in one pass,\n"
    "          memory-mapped: ndpar eval 'where(a > 0, exp(a), b)' a=x.npy\n"
    "          b=y.npy -o out.npy\n"
    "  apply   a table of expressions chosen per point by an index, one per\n"
    "          line of a text file: ndpar apply --index idx.npy --table\n"
    "          table.txt x=x.npy -o out.npy\n"
    "  kernel  a Python function of scalars (a subset of Python: loops,\n"
    "          branches) compiled by ndpar and run per element on all cores:\n"
    "          ndpar kernel f.py:newton x.npy 1e-12 -o out.npy\n"
    "  demo    fill a large float64 matrix in parallel and run exp over it in\n"
    "          place, evaluate where(a > 0.5, exp(a), log1p(a)) over it in\n"
    "          place, then a centered moving mean over 2 million points, with\n"
    "          1 thread and with all threads; compare with the memory bandwidth\n"
    "\n"
    "options:\n"
    "  --threads N   threads to use (also accepted after the command)\n"
    "  --version     print the version\n"
    "  -h, --help    show this help; 'ndpar COMMAND --help' for a command\n"
    "\n"
    "After '--', a command reads arguments starting with '-' as operands, not\n"
    "options, except -o/--output OUT.npy, which is still the output.\n";

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"info", cmd_info},
    {"map", cmd_map},
    {"rolling", cmd_rolling},
    {"eval", cmd_eval},
    {"apply", cmd_apply},
    {"kernel", cmd_kernel},
    {"demo", cli_cmd_demo},
};

static int run_command(const char *name, int argc, char **argv) {
  for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
    if (!strcmp(name, commands[k].name)) return commands[k].run(argc, argv);
  if (!strcmp(name, "help")) {
    if (argc > 1) {
      static char help_opt[] = "--help";
      char *help_argv[] = {argv[1], help_opt, NULL};
      for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (!strcmp(argv[1], commands[k].name))
          return commands[k].run(2, help_argv);
      return cli_fail(CLI_USAGE, "unknown command '%.100s' (see 'ndpar --help')",
                      argv[1]);
    }
    fputs(main_usage, stdout);
    return CLI_OK;
  }
  return cli_fail(CLI_USAGE, "unknown command '%.100s' (see 'ndpar --help')", name);
}

enum { OPT_VERSION = CLI_OPT_FIRST_FREE };

static int run_main(int argc, char **argv) {
  static const cli_opt opts[] = {
      {CLI_OPT_HELP, "help", 'h', 0},
      {CLI_OPT_THREADS, "threads", 0, 1},
      {OPT_VERSION, "version", 'V', 0},
      {0, NULL, 0, 0}};
  cli_parser p;
  int id, rc;
  cli_parser_init(&p, NULL, argc, argv);
  while ((id = cli_next(&p, opts)) != CLI_END) {
    switch (id) {
    case CLI_BAD: return CLI_USAGE;
    case CLI_OPT_HELP: fputs(main_usage, stdout); return CLI_OK;
    case OPT_VERSION: printf("ndpar %s\n", ndp_version()); return CLI_OK;
    case CLI_OPT_THREADS:
      if ((rc = cli_apply_threads(p.arg))) return rc;
      break;
    default: /* the command; its own argv starts at its name */
      return run_command(p.arg, argc - (p.i - 1), argv + (p.i - 1));
    }
  }
  return cli_fail(CLI_USAGE, "missing command (see 'ndpar --help')");
}

int main(int argc, char **argv) {
  install_sigbus();
  cli_progress_install_sigint();
  if (argc < 1 || !argv[0]) return cli_fail(CLI_USAGE, "no arguments");
  int rc = run_main(argc, argv);
  /* Output that could not be written (a full disk, a closed pipe) is a
   * failure too. */
  if (fflush(stdout) != 0 || ferror(stdout)) {
    if (rc == CLI_OK) rc = cli_fail(CLI_RUNTIME, "writing output: %s", strerror(errno));
  }
  return rc;
}
