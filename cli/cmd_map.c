/*
 * cli/cmd_map.c - `ndpar map FUNC IN.npy [IN2.npy|SCALAR] -o OUT.npy`: a
 * NumPy ufunc applied elementwise to memory-mapped .npy files (ndp_ufunc),
 * written straight into the output's mapping. A scalar operand is a weak
 * Python scalar (NEP 50, applied by the library: make_weak only builds it).
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
/* map                                                                       */
/* ======================================================================== */

static void print_map_usage(FILE *out) {
  fputs("usage: ndpar map FUNC IN.npy [IN2.npy|SCALAR] -o OUT.npy [options]\n"
        "\n"
        "Apply the NumPy ufunc FUNC elementwise to .npy files, on every core.\n"
        "Inputs are memory-mapped and the result is written straight into a\n"
        "new file that replaces OUT.npy when the run succeeds (a failed run\n"
        "leaves OUT.npy as it was), so files larger than memory work.\n"
        "Operands broadcast as in NumPy; the result has NumPy's dtype (float16\n"
        "is computed in float32 and rounded, as NumPy does). OUT.npy may be an\n"
        "input: it is then updated in place.\n"
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

/* A scalar as a Python literal for NumPy 2: a weak 0-d operand holding
 * its value (an int as int64, uint64 above INT64_MAX, else as a double; a
 * float as float64; true/false as a bool). ndp_ufunc applies NEP 50. */
static int make_weak(cli_operand *o) {
  int kind = NDP_ARRAY_WEAK_FLOAT;
  ndp_dtype dt = NDP_FLOAT64;
  if (o->kind == CLI_LIT_BOOL) {
    kind = NDP_ARRAY_WEAK_BOOL;
    dt = NDP_BOOL;
    o->v.b = o->text[0] == 't' || o->text[0] == 'T';
  } else if (o->kind == CLI_LIT_INT) {
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
      if ((rc = cli_parse_casting("map", p.arg, &a->casting))) return rc;
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
  cli_operand ops[2];
  int nops;
  cli_output outf;          /* a new output (not an input updated in place) */
} map_run;

static int map_cleanup(map_run *r, int status) {
  status = cli_output_finish(&r->outf, status);
  return cli_close_operands(r->ops, r->nops, status);
}

static int map_run_job(map_run *r, const map_args *a) {
  int op = ndp_op_lookup(a->func);
  int rc, nfiles = 0;
  struct stat out_sb;
  int have_out = stat(a->out, &out_sb) == 0 && S_ISREG(out_sb.st_mode);
  r->nops = a->ninputs;
  for (int k = 0; k < r->nops; k++) {
    r->ops[k].text = a->inputs[k];
    r->ops[k].kind = cli_literal_kind(a->inputs[k]);
    if (r->ops[k].kind != CLI_LIT_NONE) continue;
    nfiles++;
    if ((rc = cli_open_operand(r->ops, k, have_out ? &out_sb : NULL))) return rc;
  }
  if (nfiles == 0)
    return cli_fail(CLI_USAGE, "map: %s needs at least one .npy input, got '%.100s'",
                    a->func, a->inputs[0]);
  for (int k = 0; k < r->nops; k++)
    if (r->ops[k].kind != CLI_LIT_NONE && (rc = make_weak(&r->ops[k]))) return rc;
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
  if ((rc = cli_open_output(r->ops, r->nops, a->out, a->casting, out_dt, ndim, shape,
                       &r->outf, &out)))
    return rc;
  cli_progress prog;
  cli_progress_start(&prog, ndp_op_name(op));
  ndp_exec ex = {0, cli_progress_poll, &prog, 0.0};
  err = ndp_ufunc(op, in, out, a->loop, a->casting, &ex, &st);
  cli_progress_done(&prog);
  if (err) return cli_fail_about(cli_status_for(err), ndp_op_name(op), err, &st);
  return CLI_OK;
}

int cmd_map(int argc, char **argv) {
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
