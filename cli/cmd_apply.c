/*
 * cli/cmd_apply.c - `ndpar apply`: a table of expressions chosen per point.
 *
 *   ndpar apply --index IDX.npy --table TABLE.txt x=X.npy [x1=X1.npy ...]
 *               -o OUT.npy [--default V] [--dtype D] [--threads N]
 *
 *     OUT[i] = (line index[i] of TABLE.txt)(x0[i], x1[i], ...)
 *
 * The table file holds one expression per line (line 1 is entry 0); every
 * line is an entry, so an empty line is an error naming it (a newline at
 * the end of the file is fine, and so is a '\r' before a newline). The
 * inputs are named x0, x1, ... (one input may also be named x, and its
 * expressions may use x or x0). The output's dtype is --dtype, else the
 * promotion (np.result_type) of every entry's dtype.
 *
 * As `map` and `eval`: inputs are memory-mapped, everything that can be
 * checked is checked before the output is created at its final size, and
 * the output is a temporary renamed over -o only when the run succeeds (an
 * index out of range shows only during the run): a failed run leaves a file
 * that was at -o as it was, and no new file. Inputs stored in non-native
 * byte order are copied to native order first (ndp_apply reads native
 * order only). Every failure is one line "ndpar: ..."; a bad table line is
 * named "TABLE.txt:LINE: ...", a bad index "index[i] = v is outside
 * [0, k) ...".
 *
 * Only the public header is used.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define MAX_INPUTS 64
#define MAX_TABLE_BYTES ((size_t)1 << 30)

static void print_apply_usage(FILE *out) {
  fputs("usage: ndpar apply --index IDX.npy --table TABLE.txt x=X.npy [x1=X1.npy ...]\n"
        "                   -o OUT.npy [options]\n"
        "\n"
        "Evaluate a table of expressions chosen per point: OUT[i] is line\n"
        "IDX[i] of TABLE.txt (counting from 0) evaluated at x0[i], x1[i], ...\n"
        "The points are grouped by index with a parallel counting sort, each\n"
        "group is evaluated on every core, and the results are scattered back.\n"
        "Inputs are memory-mapped and the result is written straight into a\n"
        "new file that replaces OUT.npy when the run succeeds: a failed run (an\n"
        "index out of range, ^C) leaves OUT.npy as it was.\n"
        "\n"
        "the table:\n"
        "  one expression per line, in the language of 'ndpar eval' (elementwise:\n"
        "  no sum/mean/...), over the inputs x0, x1, ...; with one input, x and x0\n"
        "  both name it. Every line is an entry: an empty line is an error (a\n"
        "  newline at the end of the file is fine).\n"
        "\n"
        "inputs:\n"
        "  x=X.npy or x0=X.npy, x1=X1.npy, ...   one-dimensional arrays of the\n"
        "                         index's length, any dtype\n"
        "  --index IDX.npy        one-dimensional, any integer dtype\n"
        "\n"
        "options:\n"
        "  -o, --output OUT.npy   the result (required; not one of the inputs)\n"
        "  --table TABLE.txt      the expressions (required)\n"
        "  --default V            the value of points whose index is negative or\n"
        "                         not below the number of lines (default: such a\n"
        "                         point is an error)\n"
        "  --dtype D              the result's dtype (default: the promotion of\n"
        "                         every line's dtype); same_kind casting\n"
        "  --threads N            threads to use (default: every CPU)\n"
        "  -h, --help             show this help\n"
        "\n"
        "example:\n"
        "  printf 'x * 2\\nsqrt(x)\\nx - 1\\n' > table.txt\n"
        "  ndpar apply --index idx.npy --table table.txt x=x.npy -o y.npy\n",
        out);
}

enum { OPT_OUTPUT = CLI_OPT_FIRST_FREE, OPT_INDEX, OPT_TABLE, OPT_DEFAULT, OPT_DTYPE };

typedef struct apply_args {
  const char *index, *table, *out, *defv;
  ndp_dtype dtype;                 /* NDP_NTYPES: promote */
  int ninputs;
  const char *inputs[MAX_INPUTS];  /* by position: x0, x1, ... */
  int given[MAX_INPUTS];
  int named_x;                     /* "x=" was used */
} apply_args;

/* One mapped input, with a native-order copy when the file is not. */
typedef struct apply_input {
  const char *path;
  ndp_npy f;
  struct stat sb;
  void *copy;              /* owned, or NULL */
  ndp_array native;
  const ndp_array *arr;    /* what ndp_apply reads */
} apply_input;

/* State of one run, released by apply_cleanup. */
typedef struct apply_run {
  apply_input in[MAX_INPUTS + 1]; /* the inputs, then the index */
  int nin;
  char *text;              /* owned: the table file */
  int64_t k;
  ndp_expr **exprs;        /* owned: k programs */
  long *lines;             /* owned: k line numbers (1-based) */
  ndp_apply_entry *table;  /* owned */
  cli_output outf;         /* the output (a temporary until the run succeeds) */
} apply_run;

static int apply_cleanup(apply_run *r, int status) {
  ndp_status st = {0, "", -1};
  status = cli_output_finish(&r->outf, status);
  for (int j = 0; j < r->nin; j++) {
    int err = ndp_npy_close(&r->in[j].f, &st);
    if (err && status == CLI_OK)
      status = cli_fail(CLI_RUNTIME, "%.300s: %s", r->in[j].path, cli_errmsg(err, &st));
    free(r->in[j].copy);
  }
  for (int64_t j = 0; r->exprs && j < r->k; j++) ndp_expr_free(r->exprs[j]);
  free(r->exprs);
  free(r->lines);
  free(r->table);
  free(r->text);
  return status;
}

/* ---- arguments ---------------------------------------------------------------------- */

/* NAME=FILE: x, or x0 .. x63. */
static int add_input(apply_args *a, const char *arg) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg || eq[1] == '\0')
    return cli_fail(CLI_USAGE, "apply: expected x=FILE.npy or xJ=FILE.npy, got '%.100s'",
                    arg);
  size_t len = (size_t)(eq - arg);
  long j = -1;
  size_t digits = len > 1 ? strspn(arg + 1, "0123456789") : 0;
  if (len == 1 && arg[0] == 'x') {
    j = 0;
    a->named_x = 1;
  } else if (arg[0] == 'x' && digits == len - 1 && digits <= 2 &&
             !(arg[1] == '0' && digits > 1)) {
    j = strtol(arg + 1, NULL, 10);
  }
  if (j < 0 || j >= MAX_INPUTS)
    return cli_fail(CLI_USAGE,
                    "apply: bad input name '%.*s' (the inputs are x0, x1, ... up to x%d; one "
                    "input may be called x)", (int)(len > 60 ? 60 : len), arg, MAX_INPUTS - 1);
  if (a->given[j])
    return cli_fail(CLI_USAGE, "apply: input x%ld given twice (x and x0 are the same input)", j);
  a->given[j] = 1;
  a->inputs[j] = eq + 1;
  if (j + 1 > a->ninputs) a->ninputs = (int)j + 1;
  return CLI_OK;
}

static int parse_apply_args(int argc, char **argv, apply_args *a, int *help) {
  static const cli_opt opts[] = {{CLI_OPT_HELP, "help", 'h', 0},
                                 {CLI_OPT_THREADS, "threads", 0, 1},
                                 {OPT_OUTPUT, "output", 'o', 1},
                                 {OPT_INDEX, "index", 0, 1},
                                 {OPT_TABLE, "table", 0, 1},
                                 {OPT_DEFAULT, "default", 0, 1},
                                 {OPT_DTYPE, "dtype", 0, 1},
                                 {0, NULL, 0, 0}};
  cli_parser p;
  int id, rc;
  memset(a, 0, sizeof *a);
  a->dtype = NDP_NTYPES;
  *help = 0;
  cli_parser_init(&p, "apply", argc, argv);
  while ((id = cli_next(&p, opts)) != CLI_END) {
    switch (id) {
    case CLI_BAD: return CLI_USAGE;
    case CLI_OPT_HELP: *help = 1; return CLI_OK;
    case CLI_OPT_THREADS:
      if ((rc = cli_apply_threads(p.arg))) return rc;
      break;
    case OPT_OUTPUT: a->out = p.arg; break;
    case OPT_INDEX: a->index = p.arg; break;
    case OPT_TABLE: a->table = p.arg; break;
    case OPT_DEFAULT: a->defv = p.arg; break;
    case OPT_DTYPE:
      a->dtype = ndp_dtype_from_name(p.arg);
      if (a->dtype == NDP_NTYPES)
        return cli_fail(CLI_USAGE, "apply: unknown dtype '%.100s' (float64, float32, int32, "
                        "uint8, bool, ...)", p.arg);
      break;
    default:
      if ((rc = add_input(a, p.arg))) return rc;
      break;
    }
  }
  if (!a->index) return cli_fail(CLI_USAGE, "apply: missing --index IDX.npy");
  if (!a->table) return cli_fail(CLI_USAGE, "apply: missing --table TABLE.txt");
  if (!a->out) return cli_fail(CLI_USAGE, "apply: missing -o OUT.npy");
  if (a->ninputs == 0) return cli_fail(CLI_USAGE, "apply: missing the input x=X.npy");
  for (int j = 0; j < a->ninputs; j++)
    if (!a->given[j])
      return cli_fail(CLI_USAGE, "apply: x%d is missing (inputs are x0, x1, ... without gaps)",
                      j);
  if (a->named_x && a->ninputs > 1)
    return cli_fail(CLI_USAGE, "apply: with several inputs name them x0, x1, ... (not x)");
  return CLI_OK;
}

/* ---- the table --------------------------------------------------------------------- */

static int read_table(apply_run *r, const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return cli_fail(CLI_USAGE, "%.300s: %s", path, strerror(errno));
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  int rc = CLI_OK;
  while (buf) {
    if (len + 1 >= cap) {
      if (cap >= MAX_TABLE_BYTES) {
        rc = cli_fail(CLI_USAGE, "%.300s: larger than 1 GiB; is it a table?", path);
        break;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) break;
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - 1 - len, fp);
    len += got;
    if (got == 0) {
      if (ferror(fp)) rc = cli_fail(CLI_USAGE, "%.300s: %s", path, strerror(errno));
      break;
    }
  }
  fclose(fp);
  if (!buf) return cli_fail(CLI_RUNTIME, "apply: out of memory reading %.300s", path);
  if (rc) {
    free(buf);
    return rc;
  }
  buf[len] = '\0';
  r->text = buf;
  if (memchr(buf, '\0', len))
    return cli_fail(CLI_USAGE, "%.300s: holds a NUL byte; the table is text, one expression "
                    "a line", path);
  if (len == 0) return cli_fail(CLI_USAGE, "%.300s: is empty (one expression a line)", path);
  /* lines: split at '\n' (a final '\n' ends the last line) */
  int64_t k = 0;
  for (size_t i = 0; i < len; i++) k += buf[i] == '\n';
  if (buf[len - 1] != '\n') k++;
  r->k = k;
  r->exprs = calloc((size_t)k, sizeof *r->exprs);
  r->lines = calloc((size_t)k, sizeof *r->lines);
  r->table = calloc((size_t)k, sizeof *r->table);
  if (!r->exprs || !r->lines || !r->table)
    return cli_fail(CLI_RUNTIME, "apply: out of memory (%lld table lines)", (long long)k);
  return CLI_OK;
}

/* The j-th line of the text, NUL-terminated in place ('\r' before the
 * newline dropped). */
static char *next_line(char **cursor) {
  char *line = *cursor, *nl = strchr(line, '\n');
  if (nl) {
    *nl = '\0';
    *cursor = nl + 1;
  } else {
    *cursor = line + strlen(line);
  }
  size_t n = strlen(line);
  if (n > 0 && line[n - 1] == '\r') line[n - 1] = '\0';
  return line;
}

static int blank(const char *s) {
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\v' && *s != '\f') return 0;
  return 1;
}

static int compile_table(apply_run *r, const char *path, int m, const ndp_dtype *dts) {
  char *cursor = r->text;
  for (int64_t j = 0; j < r->k; j++) {
    long line = (long)j + 1;
    char *src = next_line(&cursor);
    if (blank(src))
      return cli_fail(CLI_USAGE, "%.300s:%ld: empty line (every line is one entry of the "
                      "table; only a newline at the end of the file is allowed)", path, line);
    ndp_status st = {0, "", -1};
    int err = ndp_apply_compile(src, m, dts, &r->exprs[j], &st);
    if (err) {
      const char *msg = cli_errmsg(err, &st);
      long pos = st.code == err ? st.pos : -1;
      if (err == NDP_ESYNTAX && pos >= 0)
        return cli_fail(CLI_USAGE, "%.300s:%ld: syntax error at column %ld: %.200s", path,
                        line, pos + 1, msg);
      if (err == NDP_ENAME && pos >= 0)
        return cli_fail(CLI_USAGE, "%.300s:%ld: %.200s at column %ld", path, line, msg,
                        pos + 1);
      return cli_fail(cli_status_for(err), "%.300s:%ld: %s", path, line, msg);
    }
    r->lines[j] = line;
    r->table[j].kind = NDP_ENTRY_EXPR;
    r->table[j].expr = r->exprs[j];
  }
  return CLI_OK;
}

/* ---- inputs ------------------------------------------------------------------------ */

static int open_input(apply_input *in, const char *what) {
  ndp_status st = {0, "", -1};
  if (stat(in->path, &in->sb) != 0)
    return cli_fail(CLI_USAGE, "%.300s: %s", in->path, strerror(errno));
  if (S_ISDIR(in->sb.st_mode)) return cli_fail(CLI_USAGE, "%.300s: is a directory", in->path);
  if (!S_ISREG(in->sb.st_mode))
    return cli_fail(CLI_USAGE, "%.300s: not a regular file (inputs are mapped)", in->path);
  int err = ndp_npy_open(in->path, 0, &in->f, &st);
  if (err) {
    const char *msg = cli_errmsg(err, &st);
    int status = cli_status_for(err);
    if (strstr(msg, in->path)) return cli_fail(status, "%s", msg);
    return cli_fail(status, "%.300s: %s", in->path, msg);
  }
  in->arr = &in->f.arr;
  if (in->arr->ndim != 1)
    return cli_fail(CLI_USAGE, "apply: %s %.300s is %d-dimensional; apply takes "
                    "one-dimensional arrays", what, in->path, in->arr->ndim);
  if (!(in->arr->flags & NDP_ARRAY_BYTESWAPPED) || ndp_dtype_size(in->arr->dtype) == 1)
    return CLI_OK;
  /* non-native byte order: a native copy */
  int64_t n = in->arr->shape[0];
  size_t bytes = (size_t)n * ndp_dtype_size(in->arr->dtype);
  in->copy = malloc(bytes ? bytes : 1);
  if (!in->copy) return cli_fail(CLI_RUNTIME, "apply: out of memory copying %.300s", in->path);
  ndp_array_init(&in->native, in->copy, in->arr->dtype, 1, &n);
  err = ndp_copy(in->arr, &in->native, NDP_CASTING_UNSAFE, NULL, &st);
  if (err)
    return cli_fail(cli_status_for(err), "%.300s: %s", in->path, cli_errmsg(err, &st));
  in->arr = &in->native;
  return CLI_OK;
}

static int open_inputs(apply_run *r, const apply_args *a) {
  char what[16];
  int rc;
  for (int j = 0; j <= a->ninputs; j++) {
    apply_input *in = &r->in[j];
    in->path = j < a->ninputs ? a->inputs[j] : a->index;
    if (j < a->ninputs) snprintf(what, sizeof what, "x%d", j);
    else snprintf(what, sizeof what, "--index");
    r->nin = j + 1;
    if ((rc = open_input(in, what))) return rc;
  }
  const ndp_array *idx = r->in[a->ninputs].arr;
  if (idx->dtype < NDP_INT8 || idx->dtype > NDP_UINT64)
    return cli_fail(CLI_USAGE, "apply: the index %.300s is %s; it must hold integers",
                    a->index, ndp_dtype_name(idx->dtype));
  int64_t n = idx->shape[0];
  for (int j = 0; j < a->ninputs; j++)
    if (r->in[j].arr->shape[0] != n)
      return cli_fail(CLI_USAGE, "apply: x%d %.300s has %lld elements, the index %.300s has "
                      "%lld", j, r->in[j].path, (long long)r->in[j].arr->shape[0], a->index,
                      (long long)n);
  return CLI_OK;
}

/* ---- output ------------------------------------------------------------------------ */

/* The output's dtype: --dtype, else the promotion of the entries'. */
static int output_dtype(const apply_run *r, const apply_args *a, ndp_dtype *dt) {
  ndp_dtype d = a->dtype;
  if (d == NDP_NTYPES) {
    d = ndp_expr_dtype(r->exprs[0]);
    for (int64_t j = 1; j < r->k; j++) d = ndp_promote(d, ndp_expr_dtype(r->exprs[j]));
  }
  for (int64_t j = 0; j < r->k; j++) {
    ndp_dtype e = ndp_expr_dtype(r->exprs[j]);
    if (!ndp_can_cast(e, d, NDP_CASTING_SAME_KIND))
      return cli_fail(CLI_USAGE, "%.300s:%ld: the expression gives %s, which does not cast to "
                      "--dtype %s (same_kind)", a->table, r->lines[j], ndp_dtype_name(e),
                      ndp_dtype_name(d));
  }
  *dt = d;
  return CLI_OK;
}

/* --default V as one value of dt. */
static int parse_default(const char *s, ndp_dtype dt, void *v) {
  char *end = NULL;
  errno = 0;
  if (dt == NDP_BOOL) {
    int b = !strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "1");
    if (!b && strcmp(s, "false") && strcmp(s, "False") && strcmp(s, "0")) goto bad;
    *(uint8_t *)v = (uint8_t)b;
    return CLI_OK;
  }
  if (dt == NDP_FLOAT32 || dt == NDP_FLOAT64 || dt == NDP_FLOAT16) {
    double d = strtod(s, &end);
    if (end == s || *end || strpbrk(s, "xXpP")) goto bad;
    if (dt == NDP_FLOAT64) {
      memcpy(v, &d, 8);
    } else if (dt == NDP_FLOAT16) { /* rounded as NumPy's astype */
      ndp_array a, b;
      ndp_status st;
      uint16_t h;
      ndp_array_init(&a, &d, NDP_FLOAT64, 0, NULL);
      ndp_array_init(&b, &h, NDP_FLOAT16, 0, NULL);
      if (ndp_copy(&a, &b, NDP_CASTING_UNSAFE, NULL, &st) ||
          ((h & 0x7fffu) == 0x7c00u && !isinf(d)))
        goto bad;
      memcpy(v, &h, 2);
    } else {
      float f = (float)d;
      if (isinf(f) && !isinf(d)) goto bad;
      memcpy(v, &f, 4);
    }
    return CLI_OK;
  }
  int neg = s[0] == '-';
  if (!(s[neg] >= '0' && s[neg] <= '9') || s[neg + strspn(s + neg, "0123456789")] != '\0')
    goto bad;
  if (dt == NDP_UINT64) {
    if (neg) goto bad;
    unsigned long long u = strtoull(s, &end, 10);
    if (errno) goto bad;
    uint64_t w = u;
    memcpy(v, &w, 8);
    return CLI_OK;
  }
  long long x = strtoll(s, &end, 10);
  if (errno) goto bad;
  static const long long lo[] = {[NDP_INT8] = INT8_MIN, [NDP_UINT8] = 0,
                                 [NDP_INT16] = INT16_MIN, [NDP_UINT16] = 0,
                                 [NDP_INT32] = INT32_MIN, [NDP_UINT32] = 0,
                                 [NDP_INT64] = INT64_MIN};
  static const long long hi[] = {[NDP_INT8] = INT8_MAX, [NDP_UINT8] = UINT8_MAX,
                                 [NDP_INT16] = INT16_MAX, [NDP_UINT16] = UINT16_MAX,
                                 [NDP_INT32] = INT32_MAX, [NDP_UINT32] = UINT32_MAX,
                                 [NDP_INT64] = INT64_MAX};
  if (x < lo[dt] || x > hi[dt]) goto bad;
  int64_t w = x;
  switch (ndp_dtype_size(dt)) {
  case 1: { int8_t t = (int8_t)w; memcpy(v, &t, 1); break; }
  case 2: { int16_t t = (int16_t)w; memcpy(v, &t, 2); break; }
  case 4: { int32_t t = (int32_t)w; memcpy(v, &t, 4); break; }
  default: memcpy(v, &w, 8); break;
  }
  return CLI_OK;
bad:
  return cli_fail(CLI_USAGE, "apply: --default %.100s is not a value of the output's dtype %s",
                  s, ndp_dtype_name(dt));
}

/* Bad usage if -o cannot be an output: a directory, an input, ... */
static int check_output(const apply_run *r, const char *path) {
  struct stat sb;
  int rc = cli_check_output_path(path);
  if (rc) return rc;
  if (stat(path, &sb) == 0)
    for (int j = 0; j < r->nin; j++)
      if (r->in[j].sb.st_dev == sb.st_dev && r->in[j].sb.st_ino == sb.st_ino)
        return cli_fail(CLI_USAGE, "apply: -o %.300s is also an input; write the result to "
                        "another file", path);
  return CLI_OK;
}

/* ---- the run ----------------------------------------------------------------------- */

/* A library error: a table entry's names its line, a bad index its point. */
static int apply_error(const apply_run *r, const apply_args *a, int err, const ndp_status *st) {
  const char *msg = cli_errmsg(err, st);
  if (err == NDP_EINDEX) {
    const char *m = strstr(msg, "index[");
    return cli_fail(CLI_USAGE, "%s in %.300s (give --default V for such points)",
                    m ? m : msg, a->index);
  }
  if (st->code == err && st->pos >= 0 && st->pos < r->k) {
    const char *m = strstr(msg, "]: ");
    return cli_fail(cli_status_for(err), "%.300s:%ld: %s", a->table, r->lines[st->pos],
                    m ? m + 3 : msg);
  }
  return cli_fail(cli_status_for(err), "apply: %s", msg);
}

static int apply_run_job(apply_run *r, const apply_args *a) {
  int rc;
  ndp_dtype dts[MAX_INPUTS], odt = NDP_FLOAT64;
  if ((rc = open_inputs(r, a))) return rc;
  for (int j = 0; j < a->ninputs; j++) dts[j] = r->in[j].arr->dtype;
  if ((rc = read_table(r, a->table))) return rc;
  if ((rc = compile_table(r, a->table, a->ninputs, dts))) return rc;
  if ((rc = output_dtype(r, a, &odt))) return rc;
  _Alignas(8) unsigned char defv[8];
  if (a->defv && (rc = parse_default(a->defv, odt, defv))) return rc;
  int64_t n = r->in[a->ninputs].arr->shape[0];
  if ((rc = check_output(r, a->out))) return rc;
  /* An index out of range is found during the run: the result goes to a
   * temporary, renamed over -o only on success. */
  if ((rc = cli_output_create(&r->outf, a->out, odt, 0, 1, &n))) return rc;
  const ndp_array *xs[MAX_INPUTS];
  for (int j = 0; j < a->ninputs; j++) xs[j] = r->in[j].arr;
  cli_progress prog;
  cli_progress_start(&prog, "apply");
  ndp_exec ex = {0, cli_progress_poll, &prog, 0.0};
  ndp_status st = {0, "", -1};
  int err = ndp_apply(a->ninputs, xs, r->in[a->ninputs].arr, r->k, r->table, &r->outf.f.arr,
                      a->defv ? defv : NULL, &ex, &st);
  cli_progress_done(&prog);
  if (err) return apply_error(r, a, err, &st);
  return CLI_OK;
}

int cmd_apply(int argc, char **argv) {
  apply_args a;
  int help;
  int rc = parse_apply_args(argc, argv, &a, &help);
  if (rc) return rc;
  if (help) {
    print_apply_usage(stdout);
    return CLI_OK;
  }
  apply_run *r = calloc(1, sizeof *r);
  if (!r) return cli_fail(CLI_RUNTIME, "apply: out of memory");
  rc = apply_run_job(r, &a);
  rc = apply_cleanup(r, rc);
  free(r);
  return rc;
}
