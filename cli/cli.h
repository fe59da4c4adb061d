/*
 * cli/cli.h - declarations shared by the files of the ndpar command.
 *
 * The command uses the public API only (ndpar.h). main.c holds the command
 * dispatcher; util.c the small helpers every command needs (option parsing,
 * error reporting, number parsing); job.c what the jobs over .npy files
 * share (the SIGBUS handler, opening operands and the output); one file per
 * command: cmd_info.c, cmd_map.c, cmd_rolling.c, cmd_eval.c, cmd_apply.c,
 * cmd_kernel.c, demo.c; output.c the output file (written through a
 * temporary); progress.c the progress bar drawn on stderr.
 *
 * Error convention: a command prints at most one line, "ndpar: <message>",
 * on stderr (cli_fail) and returns its exit status: CLI_OK, CLI_USAGE for bad
 * usage or bad input, CLI_RUNTIME for an unexpected failure.
 *
 * Thread-safety: the command is single-threaded apart from the library's
 * workers; none of these functions is called from a worker thread.
 */
#ifndef NDPAR_CLI_H
#define NDPAR_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ndpar.h"

#if defined(__GNUC__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

enum {
  CLI_OK = 0,
  CLI_RUNTIME = 1,    /* unexpected failure: out of memory, I/O, ... */
  CLI_USAGE = 2,      /* bad usage or bad input */
  CLI_INTERRUPTED = 130
};

/* ---- errors (util.c) ---------------------------------------------------- */

/* Prints "ndpar: <message>" as one line on stderr (control characters in the
 * message are replaced, a progress line is cleared first) and returns
 * `status`. */
int cli_fail(int status, const char *fmt, ...) CLI_PRINTF(2, 3);
/* The exit status for a library error code: the error table's column
 * (ndp_err_exit_status: 2 bad input, 1 a failure while running, 130
 * interrupted), except NDP_ECANCELED with no ^C, which is CLI_RUNTIME.
 * Failures to finish writing an output (close, msync) are CLI_RUNTIME
 * whatever their code. */
int cli_status_for(int err);
/* The message of a failed call: st->msg when set, else ndp_strerror(err).
 * Borrowed from st or static storage. */
const char *cli_errmsg(int err, const ndp_status *st);
/* Reports a failed call about `what` (a path, a function name): the
 * library's message, prefixed with `what` unless it names it already.
 * Returns status. */
int cli_fail_about(int status, const char *what, int err, const ndp_status *st);

/* ---- the SIGBUS handler (job.c) ----------------------------------------- */

/* Installs the SIGBUS handler: a mapped file shrank, or the disk filled
 * while writing a sparse output. It reports it in the usual form, removes
 * the partial output and exits 1. */
void cli_install_sigbus(void);
/* The output file being written (a temporary), removed by the SIGBUS
 * handler (a mapped file truncated, a full disk) and by a second ^C; NULL
 * when none. path must stay valid until reset. */
void cli_set_partial_output(const char *path);
/* The file cli_set_partial_output was last given, or NULL (async-signal-
 * safe: a plain read). */
const char *cli_partial_output(void);

/* ---- the output file (output.c) ----------------------------------------- */

/* A new output: a temporary beside -o, renamed over it on success. */
typedef struct cli_output {
  const char *path;    /* borrowed: -o as given */
  char *target;        /* owned: the file replaced (path, or a link's target) */
  char *tmp;           /* owned: the temporary being written */
  int existed;         /* a file was at path */
  mode_t mode;         /* its permission bits, kept */
  int open;            /* f is mapped */
  ndp_npy f;           /* the temporary's mapping: write the result here */
} cli_output;

/* Bad usage (after printing it) if path cannot be an output: a directory,
 * not a regular file, not writable, or in a missing or read-only
 * directory. Returns CLI_OK or CLI_USAGE. */
int cli_check_output_path(const char *path);
/* Checks path, then creates the temporary .npy of this dtype and shape and
 * maps it (o->f.arr). Nothing at path is touched. Returns CLI_OK, or an
 * exit status after printing the error (nothing is then left on disk and
 * cli_output_finish need not be called). */
int cli_output_create(cli_output *o, const char *path, ndp_dtype dt, int fortran,
                      int ndim, const int64_t *shape);
/* Ends the output of a run that ends with `status`: closes the mapping,
 * then renames the temporary over -o if status (and the close) is CLI_OK,
 * else removes it. Returns the final status (a failed close or rename is
 * reported). Safe on a zeroed or finished o. */
int cli_output_finish(cli_output *o, int status);

/* ---- option parsing (util.c) -------------------------------------------- */

typedef struct cli_opt {
  int id;              /* > 0, returned by cli_next */
  const char *name;    /* long name without "--", or NULL */
  char short_name;     /* or 0 */
  int has_arg;         /* 1: takes a value ("--x V", "--x=V", "-xV") */
} cli_opt;

enum { CLI_END = -1, CLI_BAD = -2, CLI_POS = 0 };

typedef struct cli_parser {
  int argc;
  char **argv;         /* borrowed */
  int i;               /* next argument */
  int only_pos;        /* after "--" */
  const char *cmd;     /* for messages: "map"; NULL before the command */
  const char *arg;     /* OUT: the option's value or the positional */
  const char *opt;     /* OUT: the option as written, for messages */
} cli_parser;

void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv);
/* Next argument. Returns an option id (> 0) with its value in p->arg,
 * CLI_POS with the positional in p->arg, CLI_END, or CLI_BAD after printing
 * the error (unknown option, missing value). Arguments that read as negative
 * numbers ("-1", "-inf", "-.5") are positionals. After "--" every argument
 * is a positional except -o/--output (and its value) when opts has an
 * "output" option: the output is still an option there. opts ends with
 * id 0. */
int cli_next(cli_parser *p, const cli_opt *opts);
/* The option of opts whose short name is c, or NULL. */
const cli_opt *cli_find_short(const cli_opt *opts, char c);

/* Option ids every command accepts. */
enum { CLI_OPT_HELP = 1, CLI_OPT_THREADS = 2, CLI_OPT_FIRST_FREE = 16 };

/* Parses and applies a --threads value (ndp_set_num_threads). Returns
 * CLI_OK or CLI_USAGE after printing the error. */
int cli_apply_threads(const char *s);
/* 1 if s is a number literal (integer, float, nan, inf), else 0. */
int cli_is_number(const char *s);

/* What kind of Python literal a command-line argument is. */
enum { CLI_LIT_NONE = 0, CLI_LIT_BOOL, CLI_LIT_INT, CLI_LIT_FLOAT };
/* The kind of Python literal s is, if any. Hexadecimal and other strtod
 * extensions are not literals here (so "0x10" names a file). */
int cli_literal_kind(const char *s);

/* ---- time and memory (util.c) ------------------------------------------- */

/* Monotonic clock, seconds. */
double cli_now(void);
/* A field of /proc/meminfo ("MemAvailable") in bytes; 0 when unknown. */
uint64_t cli_meminfo(const char *field);
/* Formats a byte count as "512 MiB", "1.50 GiB". Returns buf. */
char *cli_fmt_bytes(uint64_t bytes, char *buf, size_t cap);

/* ---- operands of a job over .npy files (job.c) ------------------------- */

/* One input of `map`, `rolling` or `eval`: a mapped file or a scalar
 * literal. */
typedef struct cli_operand {
  const char *text;         /* as given on the command line */
  int kind;                 /* CLI_LIT_NONE for a file, else the literal's kind */
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
} cli_operand;

/* Parses a --casting value of command cmd into *c. Returns CLI_OK or
 * CLI_USAGE after printing the error. */
int cli_parse_casting(const char *cmd, const char *s, ndp_casting *c);
/* Opens file operand k (sharing an earlier operand's mapping when it is the
 * same file); out_sb, when not NULL, is the output file's identity (sets
 * is_out). Returns CLI_OK or an exit status after printing the error. */
int cli_open_operand(cli_operand *ops, int k, const struct stat *out_sb);
/* The output of `map` and `eval`: the input among ops[0..nops) that is the
 * output file, updated in place (its shape must be the result's and the
 * result must cast to its dtype), or a new file for path (cli_output_create:
 * renamed over path on success), in Fortran order when every file input is
 * a Fortran array of more than one dimension.
 * OUT: *out. Returns CLI_OK or an exit status after printing the error. */
int cli_open_output(cli_operand *ops, int nops, const char *path, ndp_casting casting,
                    ndp_dtype out_dt, int ndim, const int64_t *shape, cli_output *outf,
                    const ndp_array **out);
/* Closes the mappings ops[0..nops) own (ops may be NULL). Returns status,
 * or CLI_RUNTIME after printing the error when status is CLI_OK and a close
 * fails. */
int cli_close_operands(cli_operand *ops, int nops, int status);

/* ---- progress bar (progress.c) ------------------------------------------ */

/* Set by the SIGINT handler; polls then ask the running job to stop. */
extern volatile sig_atomic_t cli_interrupted;

typedef struct cli_progress {
  const char *label;   /* borrowed; shown before the bar */
  int tty;             /* draw at all (stderr is a terminal) */
  double t0;           /* job start, cli_now() */
  double last;         /* last redraw */
  int drawn;           /* a line is on the terminal */
} cli_progress;

/* Starts timing a job; draws nothing yet. */
void cli_progress_start(cli_progress *p, const char *label);
/* ndp_poll_fn: ud is a cli_progress. Draws after the job has run 1 s, at
 * most 10 times a second. Returns non-zero (cancel) once interrupted. */
int cli_progress_poll(void *ud, double fraction_done);
/* Clears the line if one was drawn. */
void cli_progress_done(cli_progress *p);
/* Clears whatever progress line is on the terminal (before an error). */
void cli_progress_clear(void);
/* Installs the SIGINT handler that sets cli_interrupted (a second interrupt
 * kills the process as usual). */
void cli_progress_install_sigint(void);

/* ---- commands ----------------------------------------------------------- */

int cmd_info(int argc, char **argv);        /* cmd_info.c; argv[0] is "info" */
int cmd_map(int argc, char **argv);         /* cmd_map.c; argv[0] is "map" */
int cmd_rolling(int argc, char **argv);     /* cmd_rolling.c; argv[0] is "rolling" */
int cmd_eval(int argc, char **argv);        /* cmd_eval.c; argv[0] is "eval" */
int cli_cmd_demo(int argc, char **argv);   /* demo.c; argv[0] is "demo" */
int cmd_apply(int argc, char **argv);      /* cmd_apply.c; argv[0] is "apply" */
int cmd_kernel(int argc, char **argv);     /* cmd_kernel.c; argv[0] is "kernel" */

#endif /* NDPAR_CLI_H */
