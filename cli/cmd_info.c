/*
 * cli/cmd_info.c - `ndpar info`: the library version, the threads jobs use,
 * the instruction set in use and the best one this CPU has, the vectorized
 * math library, and with --bandwidth a STREAM-style memory bandwidth.
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

int cmd_info(int argc, char **argv) {
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
