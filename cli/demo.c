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
 * The expression job refills the matrix with values hashed from the index
 * (uniform in [0, 1)) and evaluates where(a > 0.5, exp(a), log1p(a)) over it
 * in place with ndp_expr_eval, as `ndpar eval` does: one pass, no temporary
 * the size of the matrix; it is checked against the plain C expression.
 *
 * A further job is a user's smoothing step: a centered moving mean over a
 * series of 2 million float64 points, window 21, the ends padded with the
 * first and last values (np.pad mode='edge'). Their multiprocessing.Pool
 * version took 10.9 s on 2 cores, slower than their sequential loop;
 * ndp_rolling splits the one series into blocks instead. It is timed with
 * one thread and with all threads, reported in points per second too, and
 * checked against a plain C loop (and the two runs against each other: the
 * library promises bit-identical results for any thread count).
 *
 * The last job is the second user's table of functions: out[i] =
 * table[idx[i]](x[i]) with k = 250 entries j * x (their trivial_functional;
 * their NumPy argsort version takes about a second for 1e7 points), 1e7
 * points (fewer when --size gives the matrix fewer elements), run by
 * ndp_apply: counting sort by index, grouped evaluation, scatter back. It
 * is timed with one thread and with all threads and checked point by point
 * against the plain C loop (and the runs against each other, bitwise).
 *
 * The shared job is the first user's own: a matrix in memory shared with
 * processes forked later (their RawArray, whose allocation alone took
 * 0.42 s for 512 MiB), its rows filled with i + 1 in parallel by a native
 * kernel over row ranges (ndp_run_kernel: ndpar.map_chunks /
 * ndpar.parallel_for in Python), timed from allocation (ndp_shm_create,
 * pages touched in parallel) to the last row; a forked child then checks
 * every row's first and last element through the shared mapping.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)
#define MAX_ROWS 256
#define MIN_ROW_ELEMS 1024   /* fewer rows than MAX_ROWS below this */
#define BW_MAX_BYTES (512.0 * MIB)
#define BW_MIN_BYTES (1.0 * MIB)
#define REPS_MAX 5           /* runs of a short job; the best is reported */
#define REPS_BUDGET_S 0.5    /* ... while they take less than this */

/* The rolling job: the user's series and window. */
#define ROLL_POINTS 2000000
#define ROLL_WINDOW 21
#define ROLL_TOL 1e-12       /* relative error of a sampled mean */
#define ROLL_SAMPLES 256

/* The table job: the seed's k and N. */
#define APPLY_K 250
#define APPLY_POINTS 10000000

typedef struct demo {
  double *m;             /* owned: rows x cols, C order */
  int64_t rows, cols;
  size_t bytes;          /* rows * cols * 8 */
  ndp_array arr;         /* describes m */
  int nthreads;          /* "all threads" */
  /* the rolling job */
  double *series;        /* owned: ROLL_POINTS inputs */
  double *smooth;        /* owned: ROLL_POINTS outputs */
  double *first;         /* owned: the first run's outputs, to compare */
  int have_first;
  ndp_array series_arr, smooth_arr;
  ndp_expr *where_expr;  /* owned: WHERE_SRC, compiled on first use */
  /* the table job */
  int64_t ap_n;          /* points */
  double *ap_x, *ap_out, *ap_first; /* owned: ap_n each */
  int64_t *ap_idx;       /* owned: ap_n */
  int ap_have_first;
  ndp_expr *ap_exprs[256]; /* owned: APPLY_K programs */
  ndp_apply_entry ap_table[256];
  /* the shared job */
  ndp_shm *sh;           /* owned: the last run's segment */
  /* the kernel job (on the table job's points) */
  ndp_kernel *kern;      /* owned: KERNEL_SRC compiled for float64 */
} demo;

/* The outcome of a check: worst sample and where a failure was. */
typedef struct check_result {
  long samples;
  double max_err;        /* relative */
  int failed;
  char where[128];       /* the failure's place, "row 3, column 7" */
  double got, want;
} check_result;

typedef struct workload {
  const char *name;      /* the table row's label */
  double traffic;        /* bytes moved per byte of the job's data */
  int with_one_thread;   /* also run on one thread, for the speedup */
  size_t (*data_bytes)(const demo *d);                   /* NULL: the matrix */
  const char *points;    /* non-NULL: also report float64 points per second,
                            after the table, with this description */
  int (*prepare)(demo *d, ndp_status *st);               /* untimed; may be NULL */
  int (*run)(demo *d, int nthreads, cli_progress *prog, ndp_status *st);
  void (*check)(demo *d, check_result *res);             /* may be NULL */
} workload;

/* Records a failed sample in res (the first one only). */
static void check_fail(check_result *res, double got, double want, const char *fmt,
                       ...) CLI_PRINTF(4, 5);
static void check_fail(check_result *res, double got, double want, const char *fmt,
                       ...) {
  if (res->failed) return;
  res->failed = 1;
  res->got = got;
  res->want = want;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->where, sizeof res->where, fmt, ap);
  va_end(ap);
}

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
      if (!(err < tol))
        check_fail(res, got, want, "row %lld, column %lld", (long long)r,
                   (long long)c);
    }
  }
}

static double identity(double x) { return x; }

static void check_fill(demo *d, check_result *res) {
  check_values(d, res, identity, DBL_MIN);
}

/* ---- exp in place ------------------------------------------------------- */

static int run_exp(demo *d, int nthreads, cli_progress *prog, ndp_status *st) {
  const ndp_array *in[1] = {&d->arr};
  ndp_exec ex = {nthreads, cli_progress_poll, prog, 0.0};
  return ndp_ufunc(NDP_OP_EXP, in, &d->arr, NDP_NTYPES, NDP_CASTING_SAME_KIND,
                   &ex, st);
}

static void check_exp(demo *d, check_result *res) {
  /* 1e-15 is about 4.5 ulp; widen it only if the kernels document worse. */
  double tol = fmax(1e-15, 2.0 * ndp_op_ulp_bound(NDP_OP_EXP, 0) * DBL_EPSILON);
  check_values(d, res, exp, tol);
}

/* ---- an expression, in place -------------------------------------------- */

/* A branchy expression over the matrix, evaluated in place by the expression
 * engine: one pass, no array-sized temporaries, each branch computed only on
 * its own lanes. The matrix is refilled with values hashed from the index,
 * uniform in [0, 1), so the condition splits the elements about 50/50 at
 * random (the hard case for a branch). */
#define WHERE_SRC "where(a > 0.5, exp(a), log1p(a))"

static double where_input(int64_t i) {
  uint64_t z = (uint64_t)i * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
  z ^= z >> 29;
  return (double)(z >> 11) * 0x1p-53;
}

static double where_plain(double a) { return a > 0.5 ? exp(a) : log1p(a); }

static int fill_where_rows(void *ctx, int64_t begin, int64_t end, int tid) {
  const demo *d = ctx;
  (void)tid;
  for (int64_t r = begin; r < end; r++) {
    double *row = d->m + r * d->cols;
    for (int64_t c = 0; c < d->cols; c++) row[c] = where_input(r * d->cols + c);
  }
  return 0;
}

static int prepare_where(demo *d, ndp_status *st) {
  if (!d->where_expr) {
    ndp_var v = {"a", NDP_FLOAT64, NDP_VAR_ARRAY};
    int err = ndp_expr_compile(WHERE_SRC, 1, &v, &d->where_expr, st);
    if (err) return err;
  }
  ndp_pf_opts o;
  memset(&o, 0, sizeof o);
  o.grain = 1;
  o.nthreads = d->nthreads;
  int err = ndp_parallel_for(d->rows, fill_where_rows, d, &o);
  if (err && st) {
    st->code = err;
    snprintf(st->msg, sizeof st->msg, "fill: %s", cli_errmsg(err, NULL));
  }
  return err;
}

static int run_where(demo *d, int nthreads, cli_progress *prog, ndp_status *st) {
  const ndp_array *in[1] = {&d->arr};
  ndp_exec ex = {nthreads, cli_progress_poll, prog, 0.0};
  return ndp_expr_eval(d->where_expr, in, &d->arr, NDP_CASTING_SAME_KIND, &ex, st);
}

static void check_where(demo *d, check_result *res) {
  double ulp = fmax(ndp_op_ulp_bound(NDP_OP_EXP, 0), ndp_op_ulp_bound(NDP_OP_LOG1P, 0));
  double tol = fmax(1e-15, 2.0 * ulp * DBL_EPSILON);
  uint64_t seed = 777;
  memset(res, 0, sizeof *res);
  for (int64_t r = 0; r < d->rows; r++)
    for (int k = 0; k < SAMPLES_PER_ROW; k++) {
      int64_t c = sample_col(d, k, &seed);
      double a = where_input(r * d->cols + c);
      double want = where_plain(a);
      double got = d->m[r * d->cols + c];
      double err = want == 0.0 ? fabs(got) : fabs(got - want) / fabs(want);
      res->samples++;
      if (!(err <= res->max_err)) res->max_err = err; /* NaN sticks */
      if (!(err < tol))
        check_fail(res, got, want, "%s, row %lld, column %lld (a = %.17g)", WHERE_SRC,
                   (long long)r, (long long)c, a);
    }
}

/* ---- rolling mean, centered, edge padding ------------------------------- */

/* The series: a slow sine around 3 plus noise in [-0.5, 0.5) hashed from
 * the index (splitmix64's mixer), so any thread fills any part the same;
 * values stay in [1.5, 4.5], so relative errors are meaningful. */
static int fill_series(void *ctx, int64_t begin, int64_t end, int tid) {
  demo *d = ctx;
  (void)tid;
  for (int64_t i = begin; i < end; i++) {
    uint64_t z = (uint64_t)i * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
    z ^= z >> 29;
    double noise = (double)(z >> 11) * 0x1p-53 - 0.5;
    d->series[i] = 3.0 + sin((double)i * 6.283185307179586 / 10000.0) + noise;
  }
  return 0;
}

static size_t rolling_bytes(const demo *d) {
  (void)d;
  return (size_t)ROLL_POINTS * sizeof(double);
}

/* Every run starts from an output of NaN: a job that wrote nothing fails
 * the check. */
static int prepare_rolling(demo *d, ndp_status *st) {
  (void)st;
  memset(d->smooth, 0xff, rolling_bytes(d));
  return 0;
}

static int run_rolling(demo *d, int nthreads, cli_progress *prog, ndp_status *st) {
  ndp_roll_opts o;
  memset(&o, 0, sizeof o);
  o.window = ROLL_WINDOW;
  o.align = NDP_ROLL_CENTER_EDGE;
  o.axis = 0;
  ndp_exec ex = {nthreads, cli_progress_poll, prog, 0.0};
  return ndp_rolling(NDP_ROLL_MEAN, &d->series_arr, &d->smooth_arr, &o, &ex, st);
}

/* The plain loop: the mean of x[i - w/2 .. i - w/2 + w - 1], positions
 * outside the series taking the first or last value. */
static double rolling_mean_at(const double *x, int64_t n, int64_t w, int64_t i) {
  double s = 0.0;
  for (int64_t k = 0; k < w; k++) {
    int64_t j = i - w / 2 + k;
    s += x[j < 0 ? 0 : j >= n ? n - 1 : j];
  }
  return s / (double)w;
}

static void check_rolling(demo *d, check_result *res) {
  const int64_t n = ROLL_POINTS, w = ROLL_WINDOW;
  uint64_t seed = 54321;
  memset(res, 0, sizeof *res);
  for (int k = 0; k < ROLL_SAMPLES; k++) {
    int64_t i;
    if (k < w) i = k;                        /* the left edge */
    else if (k < 2 * w) i = n - 1 - (k - w); /* the right edge */
    else if (k == 2 * w) i = n / 2;
    else {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      i = (int64_t)((seed >> 33) % (uint64_t)n);
    }
    double want = rolling_mean_at(d->series, n, w, i);
    double got = d->smooth[i];
    double err = fabs(got - want) / fabs(want);
    res->samples++;
    if (!(err <= res->max_err)) res->max_err = err; /* NaN sticks */
    if (!(err < ROLL_TOL)) check_fail(res, got, want, "rolling mean, point %lld",
                                      (long long)i);
  }
  /* Any thread count gives the same bits: compare with the first run. */
  if (!d->have_first) {
    memcpy(d->first, d->smooth, rolling_bytes(d));
    d->have_first = 1;
    return;
  }
  for (int64_t i = 0; i < n; i++)
    if (memcmp(&d->first[i], &d->smooth[i], sizeof(double)) != 0) {
      check_fail(res, d->smooth[i], d->first[i],
                 "rolling mean, point %lld (differs from the first run's result)",
                 (long long)i);
      break;
    }
}

/* ---- a table of functions chosen per point ------------------------------ */

/* The index: uniform in [0, APPLY_K), hashed from the point's position. */
static int64_t apply_index(int64_t i) {
  uint64_t z = ((uint64_t)i + 0x632BE59BD9B4E019ull) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z ^= z >> 27;
  return (int64_t)((z >> 11) % APPLY_K);
}

static int fill_apply(void *ctx, int64_t begin, int64_t end, int tid) {
  demo *d = ctx;
  (void)tid;
  for (int64_t i = begin; i < end; i++) {
    d->ap_x[i] = where_input(i);
    d->ap_idx[i] = apply_index(i);
  }
  return 0;
}

static char apply_points_text[96];

static size_t apply_bytes(const demo *d) { return (size_t)d->ap_n * sizeof(double); }

/* Every run starts from an output of NaN. */
static int prepare_apply(demo *d, ndp_status *st) {
  (void)st;
  memset(d->ap_out, 0xff, apply_bytes(d));
  return 0;
}

static int run_apply(demo *d, int nthreads, cli_progress *prog, ndp_status *st) {
  ndp_array x, idx, out;
  int64_t n = d->ap_n;
  ndp_array_init(&x, d->ap_x, NDP_FLOAT64, 1, &n);
  ndp_array_init(&idx, d->ap_idx, NDP_INT64, 1, &n);
  ndp_array_init(&out, d->ap_out, NDP_FLOAT64, 1, &n);
  const ndp_array *xs[1] = {&x};
  ndp_exec ex = {nthreads, cli_progress_poll, prog, 0.0};
  return ndp_apply(1, xs, &idx, APPLY_K, d->ap_table, &out, NULL, &ex, st);
}

/* The plain loop: out[i] = idx[i] * x[i], every point; then the same bits
 * as the first run. */
static void check_apply(demo *d, check_result *res) {
  memset(res, 0, sizeof *res);
  for (int64_t i = 0; i < d->ap_n; i++) {
    double want = (double)d->ap_idx[i] * d->ap_x[i], got = d->ap_out[i];
    double err = want == 0.0 ? fabs(got) : fabs(got - want) / fabs(want);
    res->samples++;
    if (!(err <= res->max_err)) res->max_err = err; /* NaN sticks */
    if (!(err == 0.0)) {
      check_fail(res, got, want, "table job, point %lld (%lld * x)", (long long)i,
                 (long long)d->ap_idx[i]);
      return;
    }
  }
  if (!d->ap_have_first) {
    memcpy(d->ap_first, d->ap_out, apply_bytes(d));
    d->ap_have_first = 1;
    return;
  }
  if (memcmp(d->ap_first, d->ap_out, apply_bytes(d)) != 0)
    check_fail(res, 0, 0, "table job (differs from the first run's result)");
}

/* ---- a shared matrix filled by rows --------------------------------------- */

static int shared_fill_rows(int64_t begin, int64_t end, void *const *data, void *ud) {
  const demo *d = ud;
  double *m = data[0];
  for (int64_t r = begin; r < end; r++) {
    double v = (double)(r + 1), *row = m + r * d->cols;
    for (int64_t c = 0; c < d->cols; c++) row[c] = v;
  }
  return 0;
}

static int prepare_shared(demo *d, ndp_status *st) {
  (void)st;
  ndp_shm_close(d->sh);
  d->sh = NULL;
  return 0;
}

static int run_shared(demo *d, int nthreads, cli_progress *prog, ndp_status *st) {
  int64_t shape[2] = {d->rows, d->cols};
  int err = ndp_shm_create(NULL, NDP_FLOAT64, 2, shape, 0, nthreads, &d->sh, st);
  if (err) return err;
  void *data[1] = {ndp_shm_array(d->sh)->data};
  ndp_pf_opts o;
  memset(&o, 0, sizeof o);
  o.nthreads = nthreads;
  o.poll = prog ? cli_progress_poll : NULL;
  o.poll_ud = prog;
  return ndp_run_kernel(d->rows, shared_fill_rows, data, d, 1, &o, st);
}

/* A forked child reads every row's ends through the shared mapping. */
static void check_shared(demo *d, check_result *res) {
  memset(res, 0, sizeof *res);
  const double *m = ndp_shm_array(d->sh)->data;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    for (int64_t r = 0; r < d->rows; r++)
      if (m[r * d->cols] != (double)(r + 1) || m[r * d->cols + d->cols - 1] != (double)(r + 1))
        _exit((int)(r % 250) + 1);
    _exit(0);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    check_fail(res, pid < 0 ? -1 : (double)WEXITSTATUS(status), 0,
               "shared rows: a forked child saw a wrong row (exit status)");
    return;
  }
  res->samples = d->rows * 2;
}

/* ---- the user's own logic: a kernel from Python text ------------------- */

/* Newton's cube root per point, the user's loop with an early return, as
 * ndpar compiles it from text (ndpar.vectorize does the same from a file). */
static const char KERNEL_SRC[] =
    "def cbrt(a):\n"
    "    x = a if a > 1.0 else 1.0\n"
    "    for i in range(100):\n"
    "        nx = x - (x * x * x - a) / (3.0 * x * x)\n"
    "        if abs(nx - x) <= 1e-12 * nx:\n"
    "            return nx\n"
    "        x = nx\n"
    "    return x\n";

static char kernel_points_text[96];

static double kernel_plain(double a) { /* the same function in C */
  double x = a > 1.0 ? a : 1.0;
  for (int i = 0; i < 100; i++) {
    double nx = x - (x * x * x - a) / (3.0 * x * x);
    if (fabs(nx - x) <= 1e-12 * nx) return nx;
    x = nx;
  }
  return x;
}

static int run_kernel(demo *d, int nthreads, cli_progress *prog, ndp_status *st) {
  ndp_array x, out;
  int64_t n = d->ap_n;
  ndp_array_init(&x, d->ap_x, NDP_FLOAT64, 1, &n);
  ndp_array_init(&out, d->ap_out, NDP_FLOAT64, 1, &n);
  const ndp_array *xs[1] = {&x};
  ndp_exec ex = {nthreads, cli_progress_poll, prog, 0.0};
  return ndp_kernel_eval(d->kern, xs, &out, &ex, st);
}

/* Every point against the plain C loop (the same operations in the same
 * order: the same bits). */
static void check_kernel(demo *d, check_result *res) {
  memset(res, 0, sizeof *res);
  for (int64_t i = 0; i < d->ap_n; i++) {
    double want = kernel_plain(d->ap_x[i]), got = d->ap_out[i];
    res->samples++;
    if (!(got == want)) {
      check_fail(res, got, want, "kernel job, point %lld", (long long)i);
      return;
    }
  }
}

static const workload workloads[] = {
    {"fill", 1.0, 0, NULL, NULL, prepare_fill, run_fill, check_fill},
    {"exp in place", 2.0, 1, NULL, NULL, prepare_fill, run_exp, check_exp},
    {"eval where", 2.0, 1, NULL, NULL, prepare_where, run_where, check_where},
    {"rolling mean", 2.0, 1, rolling_bytes,
     "2000000 points, window 21, centered, edge padding", prepare_rolling,
     run_rolling, check_rolling},
    {"table j*x", 3.0, 1, apply_bytes, apply_points_text, prepare_apply, run_apply,
     check_apply},
    {"shared rows", 1.0, 1, NULL, NULL, prepare_shared, run_shared, check_shared},
    {"kernel cbrt", 2.0, 1, apply_bytes, kernel_points_text, prepare_apply, run_kernel,
     check_kernel},
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

static double job_bytes(const demo *d, const workload *w) {
  return w->data_bytes ? (double)w->data_bytes(d) : (double)d->bytes;
}

static void print_row(const demo *d, const timing *t, double base_s, double copy_gbs) {
  double gbs = t->w->traffic * job_bytes(d, t->w) / t->seconds / 1e9;
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
    if (r.failed && !all->failed) {
      all->failed = 1;
      memcpy(all->where, r.where, sizeof all->where);
      all->got = r.got;
      all->want = r.want;
    }
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

/* The rolling job's series (filled once, in parallel) and its outputs
 * (touched once, so page faults are not timed). */
static int rolling_alloc(demo *d) {
  size_t bytes = rolling_bytes(d);
  d->series = malloc(bytes);
  d->smooth = malloc(bytes);
  d->first = malloc(bytes);
  if (!d->series || !d->smooth || !d->first) {
    char b[32];
    return cli_fail(CLI_RUNTIME, "demo: out of memory allocating 3 x %s",
                    cli_fmt_bytes(bytes, b, sizeof b));
  }
  memset(d->smooth, 0, bytes);
  memset(d->first, 0, bytes);
  int64_t n = ROLL_POINTS;
  int err = ndp_array_init(&d->series_arr, d->series, NDP_FLOAT64, 1, &n);
  if (!err) err = ndp_array_init(&d->smooth_arr, d->smooth, NDP_FLOAT64, 1, &n);
  if (err) return cli_fail(CLI_RUNTIME, "demo: %s", ndp_strerror(err));
  ndp_pf_opts o;
  memset(&o, 0, sizeof o);
  o.grain = 65536;
  o.nthreads = d->nthreads;
  err = ndp_parallel_for(n, fill_series, d, &o);
  if (err) return cli_fail(cli_status_for(err), "demo: %s", cli_errmsg(err, NULL));
  return CLI_OK;
}

/* The table job's inputs (filled once, in parallel), output and programs. */
static int apply_alloc(demo *d) {
  int64_t n = d->rows * d->cols;
  d->ap_n = n < APPLY_POINTS ? n : APPLY_POINTS;
  size_t bytes = apply_bytes(d);
  d->ap_x = malloc(bytes);
  d->ap_out = malloc(bytes);
  d->ap_first = malloc(bytes);
  d->ap_idx = malloc((size_t)d->ap_n * sizeof(int64_t));
  if (!d->ap_x || !d->ap_out || !d->ap_first || !d->ap_idx) {
    char b[32];
    return cli_fail(CLI_RUNTIME, "demo: out of memory allocating 4 x %s",
                    cli_fmt_bytes(bytes, b, sizeof b));
  }
  memset(d->ap_first, 0, bytes);
  snprintf(apply_points_text, sizeof apply_points_text,
           "%lld points, k = %d expressions j * x", (long long)d->ap_n, APPLY_K);
  ndp_dtype f8 = NDP_FLOAT64;
  for (int j = 0; j < APPLY_K; j++) {
    char src[32];
    ndp_status st = {0, "", -1};
    snprintf(src, sizeof src, "%d * x", j);
    int err = ndp_apply_compile(src, 1, &f8, &d->ap_exprs[j], &st);
    if (err) return cli_fail(cli_status_for(err), "demo: %s", cli_errmsg(err, &st));
    d->ap_table[j].kind = NDP_ENTRY_EXPR;
    d->ap_table[j].expr = d->ap_exprs[j];
  }
  ndp_pf_opts o;
  memset(&o, 0, sizeof o);
  o.grain = 65536;
  o.nthreads = d->nthreads;
  int err = ndp_parallel_for(d->ap_n, fill_apply, d, &o);
  if (err) return cli_fail(cli_status_for(err), "demo: %s", cli_errmsg(err, NULL));
  snprintf(kernel_points_text, sizeof kernel_points_text,
           "%lld points, Newton's cube root per point (a Python-text kernel)",
           (long long)d->ap_n);
  ndp_kernel_arg arg = {NDP_FLOAT64, 0, 0};
  ndp_status st = {0, "", -1};
  err = ndp_kernel_compile(KERNEL_SRC, "cbrt", 1, &arg, NULL, &d->kern, &st);
  if (err) return cli_fail(cli_status_for(err), "demo: kernel: %s", cli_errmsg(err, &st));
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
  if ((rc = rolling_alloc(d))) return rc;
  if ((rc = apply_alloc(d))) return rc;
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
  enum { NW = sizeof workloads / sizeof workloads[0] };
  double one_s[NW], all_s[NW];
  for (size_t k = 0; k < NW; k++) {
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
    one_s[k] = base_s;
    all_s[k] = t.seconds;
  }
  printf("(best of up to %d runs; GB/s counts the bytes a job must move: fill writes\n"
         " the matrix once, exp in place reads and writes it, eval where evaluates\n"
         " %s over it in place (reads and writes it; a\n"
         " is uniform in [0, 1)), rolling mean reads its series and writes the\n"
         " result, table j*x reads x and the int64 index and writes out[i] =\n"
         " idx[i] * x[i] through a table of %d expressions, kernel cbrt runs a\n"
         " Newton loop per point of x (Python text compiled by ndpar) and writes\n"
         " out; pages touched before, except shared rows: a new shared matrix each\n"
         " run, its pages touched and its rows filled, checked by a forked child)\n",
         REPS_MAX, WHERE_SRC, APPLY_K);
  for (size_t k = 0; k < NW; k++) {
    const workload *w = &workloads[k];
    if (!w->points) continue;
    double pts = job_bytes(d, w) / sizeof(double);
    printf("%s (%s):\n ", w->name, w->points);
    if (w->with_one_thread)
      printf(" %.1f Mpoints/s on 1 thread,", pts / one_s[k] / 1e6);
    printf(" %.1f Mpoints/s on %d thread%s", pts / all_s[k] / 1e6, d->nthreads,
           d->nthreads == 1 ? "" : "s");
    if (w->with_one_thread) printf(" (%.2fx)", one_s[k] / all_s[k]);
    printf("\n");
  }
  if (all.failed) {
    printf("check: FAILED\n");
    return cli_fail(CLI_RUNTIME, "demo: check failed at %s: got %.17g, expected %.17g",
                    all.where, all.got, all.want);
  }
  printf("check: ok (%ld samples against plain C loops and libm exp and log1p, max "
         "relative error %.2g)\n", all.samples, all.max_err);
  return CLI_OK;
}

static const char demo_usage[] =
    "usage: ndpar demo [--size SIZE] [--threads N]\n"
    "\n"
    "Fill a float64 matrix (256 rows; row i holds i + 1) in parallel, then run\n"
    "exp over it in place with 1 thread and with all threads; then refill it\n"
    "with values in [0, 1) and evaluate where(a > 0.5, exp(a), log1p(a)) over\n"
    "it in place with the expression engine (as 'ndpar eval'). Then a centered\n"
    "moving mean (window 21, ends padded with the edge values) over a series\n"
    "of 2 million float64 points, with 1 thread and with all threads. Prints\n"
    "seconds, GB/s, speedup and the share of the memory bandwidth measured in\n"
    "the same run (and points per second for the moving mean), and checks a\n"
    "sample of the results against libm and plain C loops. Last, a table of\n"
    "250 expressions j * x chosen per point by an index (ndpar apply) over up\n"
    "to 10 million points, with 1 thread and with all threads, checked point\n"
    "by point.\n"
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
  free(d.series);
  free(d.smooth);
  free(d.first);
  ndp_expr_free(d.where_expr);
  free(d.ap_x);
  free(d.ap_out);
  free(d.ap_first);
  free(d.ap_idx);
  for (int j = 0; j < APPLY_K; j++) ndp_expr_free(d.ap_exprs[j]);
  ndp_kernel_free(d.kern);
  ndp_shm_close(d.sh);
  return rc;
}
