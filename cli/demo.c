/*
 * cli/demo.c - `ndpar demo`: the README's main job, measured.
 *
 * The job: a float64 matrix of about 2 GiB with 256 rows; row i is filled
 * with i + 1 (the rows in parallel, as the user's multiprocessing code did),
 * then exp runs over the whole matrix in place. The demo times that job with
 * one thread and with all threads and sets the speeds against the memory
 * bandwidth measured in the same run, which is the ceiling for work this
 * simple: exp in place reads and writes every byte once (2 x the matrix),
 * the fill writes it once.
 *
 * The work is a table of workloads (name, traffic, prepare/run/check); a
 * later feature adds a row by adding an entry. Each workload is prepared
 * untimed (the matrix refilled, so every run starts from the same data and
 * the memory has been touched once: page faults are not timed), run once per
 * thread count, and its result checked on a sample against plain C/libm.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)
#define MAX_ROWS 256
#define MIN_ROW_ELEMS 1024   /* fewer rows than MAX_ROWS below this */
#define BW_MAX_BYTES (512.0 * MIB)
#define BW_MIN_BYTES (1.0 * MIB)
#define REPS_MAX 5           /* runs of a short job; the best is reported */
#define REPS_BUDGET_S 0.5    /* ... while they take less than this */

typedef struct demo {
  double *m;             /* owned: rows x cols, C order */
  int64_t rows, cols;
  size_t bytes;          /* rows * cols * 8 */
  ndp_array arr;         /* describes m */
  int nthreads;          /* "all threads" */
} demo;

/* The outcome of a check: worst sample and where a failure was. */
typedef struct check_result {
  long samples;
  double max_err;        /* relative */
  int failed;
  int64_t row, col;
  double got, want;
} check_result;

typedef struct workload {
  const char *name;      /* the table row's label */
  double traffic;        /* bytes moved per byte of the matrix */
  int with_one_thread;   /* also run on one thread, for the speedup */
  int (*prepare)(demo *d, ndp_status *st);               /* untimed; may be NULL */
  int (*run)(demo *d, int nthreads, cli_progress *prog, ndp_status *st);
  void (*check)(const demo *d, check_result *res);       /* may be NULL */
} workload;

/* ---- the fill ----------------------------------------------------------- */

static int fill_rows(void *ctx, int64_t begin, int64_t end, int tid) {
  const demo *d = ctx;
  (void)tid;
  for (int64_t r = begin; r < end; r++) {
    double v = (double)(r + 1);
    double *row = d->m + r * d->cols;
    for (int64_t c = 0; c < d->cols; c++) row[c] = v;
  }
  return 0;
}

static int run_fill(demo *d, int nthreads, cli_progress *prog, ndp_status *st) {
  ndp_pf_opts o;
  memset(&o, 0, sizeof o);
  o.grain = 1;
  o.nthreads = nthreads;
  o.poll = prog ? cli_progress_poll : NULL;
  o.poll_ud = prog;
  int err = ndp_parallel_for(d->rows, fill_rows, d, &o);
  if (err && st) {
    st->code = err;
    snprintf(st->msg, sizeof st->msg, "fill: %s", cli_errmsg(err, NULL));
  }
  return err;
}

static int prepare_fill(demo *d, ndp_status *st) {
  return run_fill(d, d->nthreads, NULL, st);
}

/* Sample columns: the ends, the middle and a few spread by a fixed LCG. */
static int64_t sample_col(const demo *d, int k, uint64_t *seed) {
  switch (k) {
  case 0: return 0;
  case 1: return d->cols - 1;
  case 2: return d->cols / 2;
  default:
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return (int64_t)((*seed >> 33) % (uint64_t)d->cols);
  }
}

#define SAMPLES_PER_ROW 8

static void check_values(const demo *d, check_result *res, double (*f)(double),
                         double tol) {
  uint64_t seed = 12345;
  memset(res, 0, sizeof *res);
  for (int64_t r = 0; r < d->rows; r++) {
    double want = f((double)(r + 1));
    for (int k = 0; k < SAMPLES_PER_ROW; k++) {
      int64_t c = sample_col(d, k, &seed);
      double got = d->m[r * d->cols + c];
      double err = isinf(want) ? (got == want ? 0.0 : INFINITY)
                               : fabs(got - want) / fabs(want);
      res->samples++;
      if (!(err <= res->max_err)) res->max_err = err; /* NaN sticks */
      if (!(err < tol) && !res->failed) {
        res->failed = 1;
        res->row = r;
        res->col = c;
        res->got = got;
        res->want = want;
      }
    }
  }
}

static double identity(double x) { return x; }

static void check_fill(const demo *d, check_result *res) {
  check_values(d, res, identity, DBL_MIN);
}

/* ---- exp in place ------------------------------------------------------- */

static int run_exp(demo *d, int nthreads, cli_progress *prog, ndp_status *st) {
  const ndp_array *in[1] = {&d->arr};
  ndp_exec ex = {nthreads, cli_progress_poll, prog, 0.0};
  return ndp_ufunc(NDP_OP_EXP, in, &d->arr, NDP_NTYPES, NDP_CASTING_SAME_KIND,
                   &ex, st);
}

static void check_exp(const demo *d, check_result *res) {
  /* 1e-15 is about 4.5 ulp; widen it only if the kernels document worse. */
  double tol = fmax(1e-15, 2.0 * ndp_op_ulp_bound(NDP_OP_EXP, 0) * DBL_EPSILON);
  check_values(d, res, exp, tol);
}

static const workload workloads[] = {
    {"fill", 1.0, 0, prepare_fill, run_fill, check_fill},
    {"exp in place", 2.0, 1, prepare_fill, run_exp, check_exp},
};

/* ---- sizes -------------------------------------------------------------- */

/* "512M", "2G", "1.5GiB", "100MB", "65536": K/M/G/T and KiB.. are powers of
 * 1024, KB.. powers of 1000. Returns CLI_OK or CLI_USAGE after the error. */
static int parse_size(const char *s, double *bytes) {
  static const struct {
    const char *unit;
    double mult;
  } units[] = {
      {"", 1.0},        {"b", 1.0},
      {"k", 1024.0},    {"kib", 1024.0},   {"kb", 1e3},
      {"m", MIB},       {"mib", MIB},      {"mb", 1e6},
      {"g", GIB},       {"gib", GIB},      {"gb", 1e9},
      {"t", GIB * 1024}, {"tib", GIB * 1024}, {"tb", 1e12},
  };
  const char *p = s;
  while (isdigit((unsigned char)*p)) p++;
  if (*p == '.') {
    p++;
    while (isdigit((unsigned char)*p)) p++;
  }
  if (p == s || (p == s + 1 && *s == '.')) goto bad;
  char *end;
  double v = strtod(s, &end);
  if (end != p || !isfinite(v)) goto bad;
  for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
    if (!strcasecmp(p, units[k].unit)) {
      v *= units[k].mult;
      if (v < 8.0) goto bad;
      if (v > 1e15) goto bad;
      *bytes = v;
      return CLI_OK;
    }
bad:
  return cli_fail(CLI_USAGE,
                  "demo: bad --size '%.100s' (expected e.g. 64M, 512MiB, 2G, 1.5GiB; "
                  "at least 8 bytes)", s);
}

/* The default: 2 GiB, or a quarter of the available memory if less. */
static double default_size(void) {
  double avail = (double)cli_meminfo("MemAvailable");
  double size = 2.0 * GIB;
  if (avail > 0 && avail / 4 < size) size = avail / 4;
  return size < 8.0 ? 8.0 : size;
}

/* ---- running and reporting ---------------------------------------------- */

typedef struct timing {
  const workload *w;
  int nthreads;
  double seconds;
} timing;

static void print_row(const demo *d, const timing *t, double base_s, double copy_gbs) {
  double gbs = t->w->traffic * (double)d->bytes / t->seconds / 1e9;
  char speedup[32] = "-";
  if (t->w->with_one_thread && base_s > 0)
    snprintf(speedup, sizeof speedup, "%.2fx", base_s / t->seconds);
  printf("%-16s %7d %9.4f %9.1f %9s %10.0f%%\n", t->w->name, t->nthreads, t->seconds,
         gbs, speedup, copy_gbs > 0 ? 100.0 * gbs / copy_gbs : 0.0);
}

/* Prepares, runs (timed) and checks workload w on n threads. Short runs are
 * repeated (prepared again each time) and the best time kept, so small
 * sizes give stable numbers too. */
static int run_one(demo *d, const workload *w, int n, timing *t, check_result *all) {
  ndp_status st = {0, "", -1};
  char label[64];
  snprintf(label, sizeof label, "%s, %d thread%s", w->name, n, n == 1 ? "" : "s");
  double start = cli_now();
  t->seconds = INFINITY;
  for (int rep = 0; rep < 1 || (rep < REPS_MAX && cli_now() - start < REPS_BUDGET_S);
       rep++) {
    int err = w->prepare ? w->prepare(d, &st) : 0;
    if (err)
      return cli_fail(cli_status_for(err), "demo: %s: %s", w->name, cli_errmsg(err, &st));
    cli_progress prog;
    cli_progress_start(&prog, label);
    double t0 = cli_now();
    err = w->run(d, n, &prog, &st);
    double s = cli_now() - t0;
    cli_progress_done(&prog);
    if (err)
      return cli_fail(cli_status_for(err), "demo: %s: %s", w->name, cli_errmsg(err, &st));
    if (s < t->seconds) t->seconds = s;
  }
  if (t->seconds <= 0) t->seconds = 1e-9;
  t->w = w;
  t->nthreads = n;
  if (w->check) {
    check_result r;
    w->check(d, &r);
    all->samples += r.samples;
    if (!(r.max_err <= all->max_err)) all->max_err = r.max_err;
    if (r.failed && !all->failed) *all = (check_result){all->samples, all->max_err, 1,
                                                        r.row, r.col, r.got, r.want};
  }
  return CLI_OK;
}

static int demo_alloc(demo *d, double size) {
  int64_t n = (int64_t)(size / sizeof(double));
  d->rows = n / MIN_ROW_ELEMS;
  if (d->rows > MAX_ROWS) d->rows = MAX_ROWS;
  if (d->rows < 1) d->rows = 1;
  d->cols = n / d->rows;
  d->bytes = (size_t)(d->rows * d->cols) * sizeof(double);
  size_t alloc = (d->bytes + 4095) / 4096 * 4096;
  d->m = aligned_alloc(4096, alloc);
  if (!d->m) {
    char b[32];
    return cli_fail(CLI_RUNTIME, "demo: out of memory allocating %s",
                    cli_fmt_bytes(alloc, b, sizeof b));
  }
  int64_t shape[2] = {d->rows, d->cols};
  int err = ndp_array_init(&d->arr, d->m, NDP_FLOAT64, 2, shape);
  if (err) return cli_fail(CLI_RUNTIME, "demo: %s", ndp_strerror(err));
  return CLI_OK;
}

static int measure_bandwidth(double size, ndp_bandwidth *bw) {
  double bytes = size < BW_MIN_BYTES ? BW_MIN_BYTES : size;
  if (bytes > BW_MAX_BYTES) bytes = BW_MAX_BYTES;
  ndp_status st = {0, "", -1};
  int err = ndp_measure_bandwidth((size_t)bytes, 0, 0, bw, &st);
  if (err)
    return cli_fail(cli_status_for(err), "demo: bandwidth: %s", cli_errmsg(err, &st));
  return CLI_OK;
}

static int demo_run(demo *d, double size) {
  ndp_bandwidth bw;
  char b1[32], b2[32];
  int rc;
  /* Bandwidth first, so its arrays and the matrix are never all in memory. */
  if ((rc = measure_bandwidth(size, &bw))) return rc;
  if ((rc = demo_alloc(d, size))) return rc;
  const char *isa = ndp_isa_name(ndp_get_isa());
  printf("ndpar demo: float64 matrix %lld x %lld (%s), %d thread%s\n",
         (long long)d->rows, (long long)d->cols,
         cli_fmt_bytes(d->bytes, b1, sizeof b1), d->nthreads, d->nthreads == 1 ? "" : "s");
  printf("isa: %s, mathlib: %s\n", isa ? isa : "?", ndp_mathlib());
  printf("bandwidth: copy %.1f GB/s, triad %.1f GB/s (%d thread%s, arrays of %s)\n",
         bw.copy_gbs, bw.triad_gbs, bw.nthreads, bw.nthreads == 1 ? "" : "s",
         cli_fmt_bytes(bw.bytes, b2, sizeof b2));
  printf("\n%-16s %7s %9s %9s %9s %11s\n", "job", "threads", "seconds", "GB/s",
         "speedup", "of copy bw");
  fflush(stdout);
  check_result all;
  memset(&all, 0, sizeof all);
  for (size_t k = 0; k < sizeof workloads / sizeof workloads[0]; k++) {
    const workload *w = &workloads[k];
    double base_s = 0;
    timing t;
    if (w->with_one_thread) {
      if ((rc = run_one(d, w, 1, &t, &all))) return rc;
      base_s = t.seconds;
      print_row(d, &t, base_s, bw.copy_gbs);
      fflush(stdout);
    }
    if ((rc = run_one(d, w, d->nthreads, &t, &all))) return rc;
    print_row(d, &t, base_s, bw.copy_gbs);
    fflush(stdout);
  }
  printf("(best of up to %d runs; GB/s counts the bytes a job must move: fill writes\n"
         " the matrix once, exp in place reads and writes it; pages touched before)\n",
         REPS_MAX);
  if (all.failed) {
    printf("check: FAILED\n");
    return cli_fail(CLI_RUNTIME,
                    "demo: check failed at row %lld, column %lld: got %.17g, "
                    "expected %.17g",
                    (long long)all.row, (long long)all.col, all.got, all.want);
  }
  printf("check: ok (%ld samples against plain C and libm exp, max relative error "
         "%.2g)\n", all.samples, all.max_err);
  return CLI_OK;
}

static const char demo_usage[] =
    "usage: ndpar demo [--size SIZE] [--threads N]\n"
    "\n"
    "Fill a float64 matrix (256 rows; row i holds i + 1) in parallel, then run\n"
    "exp over it in place with 1 thread and with all threads. Prints seconds,\n"
    "GB/s, speedup and the share of the memory bandwidth measured in the same\n"
    "run, and checks a sample of the results against libm.\n"
    "\n"
    "options:\n"
    "  --size SIZE   matrix size: 64M, 512MiB, 2G, 1.5GiB, 100MB (K/M/G/T and\n"
    "                KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB of 1000);\n"
    "                default 2 GiB or a quarter of the available memory\n"
    "  --threads N   threads for \"all threads\" (default: every CPU)\n"
    "  -h, --help    show this help\n";

enum { OPT_SIZE = CLI_OPT_FIRST_FREE };

int cli_cmd_demo(int argc, char **argv) {
  static const cli_opt opts[] = {
      {CLI_OPT_HELP, "help", 'h', 0},
      {CLI_OPT_THREADS, "threads", 0, 1},
      {OPT_SIZE, "size", 0, 1},
      {0, NULL, 0, 0}};
  cli_parser p;
  int id, rc;
  double size = 0;
  cli_parser_init(&p, "demo", argc, argv);
  while ((id = cli_next(&p, opts)) != CLI_END) {
    switch (id) {
    case CLI_BAD: return CLI_USAGE;
    case CLI_OPT_HELP: fputs(demo_usage, stdout); return CLI_OK;
    case CLI_OPT_THREADS:
      if ((rc = cli_apply_threads(p.arg))) return rc;
      break;
    case OPT_SIZE:
      if ((rc = parse_size(p.arg, &size))) return rc;
      break;
    default:
      return cli_fail(CLI_USAGE, "demo: unexpected argument '%.200s'", p.arg);
    }
  }
  if (size == 0) size = default_size();
  double avail = (double)cli_meminfo("MemAvailable");
  if (avail > 0 && size > avail) {
    char b1[32], b2[32];
    return cli_fail(CLI_USAGE, "demo: --size %s is more than the %s of memory available",
                    cli_fmt_bytes((uint64_t)size, b1, sizeof b1),
                    cli_fmt_bytes((uint64_t)avail, b2, sizeof b2));
  }
  demo d;
  memset(&d, 0, sizeof d);
  d.nthreads = ndp_get_num_threads();
  rc = demo_run(&d, size);
  free(d.m);
  return rc;
}
