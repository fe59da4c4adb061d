/*
 * cli/cmd_eval.c - `ndpar eval EXPR NAME=IN.npy ... -o OUT.npy`: a
 * NumPy-style expression compiled by libndpar (ndp_expr_compile) and
 * evaluated over memory-mapped .npy files in cache-sized blocks
 * (ndp_expr_eval); `--explain` prints the compiled program instead. Syntax
 * errors are shown with a caret under the column on a terminal.
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

enum { OPT_OUTPUT = CLI_OPT_FIRST_FREE, OPT_CASTING, OPT_EXPLAIN };

/* A NAME=VALUE operand that declares a dtype (--explain only). */
enum { SC_DECL = CLI_LIT_FLOAT + 1 };

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
                        !cli_find_short(opts, next[1])))) {
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
      if ((rc = cli_parse_casting("eval", p.arg, &a->casting))) return rc;
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
  cli_operand *ops;             /* owned: one per variable */
  ndp_var *vars;            /* owned */
  const ndp_array **arrs;   /* owned */
  ndp_expr *e;
  cli_output outf;          /* a new output (not an input updated in place) */
} eval_run;

static int eval_cleanup(eval_run *r, int status) {
  status = cli_output_finish(&r->outf, status);
  status = cli_close_operands(r->ops, r->nops, status);
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
  cli_operand *o = &r->ops[k];
  ndp_var *v = &r->vars[k];
  const char *name = a->names[k];
  struct stat sb;
  o->text = a->values[k];
  v->name = name;
  v->kind = NDP_VAR_ARRAY;
  int exists = stat(o->text, &sb) == 0;
  int err = 0, rc;
  o->kind = exists ? CLI_LIT_NONE : cli_literal_kind(o->text);
  switch (o->kind) {
  case CLI_LIT_NONE: {
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
    if ((rc = cli_open_operand(r->ops, k, out_sb))) return rc;
    v->dtype = o->arr->dtype;
    r->arrs[k] = o->arr;
    return CLI_OK;
  }
  case CLI_LIT_BOOL:
    o->v.b = o->text[0] == 't' || o->text[0] == 'T';
    v->dtype = NDP_BOOL;
    break;
  case CLI_LIT_INT: {
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
  default: /* CLI_LIT_FLOAT */
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
  if ((rc = cli_open_output(r->ops, r->nops, a->out, a->casting, out_dt, ndim, shape,
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

int cmd_eval(int argc, char **argv) {
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
