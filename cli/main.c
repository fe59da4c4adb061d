/*
 * cli/main.c - the ndpar command's dispatcher: the command table,
 * `ndpar --help`, `--version` and the global --threads. The commands live in
 * cmd_*.c and demo.c, the helpers they share in util.c, job.c, output.c and
 * progress.c.
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
  cli_install_sigbus();
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
