/*
 * cli/cmd_rolling.c - `ndpar rolling FUNC --window W IN.npy -o OUT.npy`:
 * moving-window statistics along one axis of a memory-mapped .npy file
 * (ndp_rolling), as bottleneck's move_* functions, written straight into
 * the output's mapping or into the input updated in place.
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
  OPT_OUTPUT = CLI_OPT_FIRST_FREE,
  OPT_WINDOW,
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
      int k = cli_literal_kind(p.arg);
      double q = (k == CLI_LIT_INT || k == CLI_LIT_FLOAT) ? strtod(p.arg, NULL) : NAN;
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
  cli_operand in;               /* the input file (only its file fields are used) */
  cli_output outf;          /* a new output (not the input updated in place) */
} roll_run;

static int rolling_cleanup(roll_run *r, int status) {
  status = cli_output_finish(&r->outf, status);
  return cli_close_operands(&r->in, 1, status);
}

static int rolling_run_job(roll_run *r, const roll_args *a) {
  const char *name = ndp_roll_name(a->fn);
  int rc;
  struct stat out_sb;
  int have_out = stat(a->out, &out_sb) == 0 && S_ISREG(out_sb.st_mode);
  r->in.text = a->in;
  r->in.kind = CLI_LIT_NONE;
  if ((rc = cli_open_operand(&r->in, 0, have_out ? &out_sb : NULL))) return rc;
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
  if (err) return cli_fail_about(cli_status_for(err), label, err, &st);
  return CLI_OK;
}

int cmd_rolling(int argc, char **argv) {
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
