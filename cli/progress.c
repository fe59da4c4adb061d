/*
 * cli/progress.c - the progress bar of the ndpar command.
 *
 * A job hands cli_progress_poll to the library as its ndp_poll_fn; the
 * library calls it on the calling thread between chunks with the fraction
 * done. Nothing is drawn unless stderr is a terminal, and nothing during the
 * first second, so quick jobs and pipelines stay silent. Once drawing, the
 * line is redrawn at most ten times a second ("\r" then the line, erased to
 * its end) and cleared when the job ends, so later output starts on a clean
 * line.
 *
 * The poll is also how an interrupt stops a job: the SIGINT handler only sets
 * cli_interrupted, and the next poll returns non-zero, which makes the
 * library cancel the job (NDP_ECANCELED) and the command exit cleanly.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

volatile sig_atomic_t cli_interrupted = 0;

/* The progress whose line is on the terminal, if any (for cli_fail). */
static cli_progress *on_screen;

#define DELAY_S 1.0    /* draw only for jobs running longer than this */
#define PERIOD_S 0.1   /* at most ten redraws a second */

void cli_progress_start(cli_progress *p, const char *label) {
  p->label = label ? label : "";
  p->tty = isatty(STDERR_FILENO) == 1;
  p->t0 = cli_now();
  p->last = 0.0;
  p->drawn = 0;
}

static int term_columns(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 80;
}

static void draw(cli_progress *p, double frac, double now) {
  char line[512], bar[64];
  double elapsed = now - p->t0;
  int cols = term_columns();
  int width = cols - 40 - (int)strlen(p->label);
  if (width > 40) width = 40;
  if (frac < 0.0) frac = 0.0;
  if (frac > 1.0) frac = 1.0;
  int n = 0;
  if (width >= 5) {
    int fill = (int)(frac * width + 0.5);
    bar[n++] = '[';
    for (int k = 0; k < width; k++) bar[n++] = k < fill ? '#' : '.';
    bar[n++] = ']';
  }
  bar[n] = '\0';
  char eta[32] = "";
  if (frac > 0.01 && frac < 1.0)
    snprintf(eta, sizeof eta, ", %.0fs left", elapsed * (1.0 - frac) / frac);
  int len = snprintf(line, sizeof line, "\r%.24s %s %3d%% %.1fs%s\033[K",
                     p->label, bar, (int)(frac * 100.0), elapsed, eta);
  if (len < 0) return;
  if ((size_t)len >= sizeof line) len = (int)sizeof line - 1;
  fwrite(line, 1, (size_t)len, stderr);
  fflush(stderr);
  p->drawn = 1;
  on_screen = p;
}

int cli_progress_poll(void *ud, double fraction_done) {
  cli_progress *p = ud;
  if (cli_interrupted) return 1;
  if (!p || !p->tty) return 0;
  double now = cli_now();
  if (now - p->t0 < DELAY_S || now - p->last < PERIOD_S) return 0;
  p->last = now;
  draw(p, fraction_done, now);
  return 0;
}

void cli_progress_done(cli_progress *p) {
  if (p && p->drawn) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->drawn = 0;
  }
  if (on_screen == p) on_screen = NULL;
}

void cli_progress_clear(void) {
  if (on_screen) cli_progress_done(on_screen);
}

/* The first ^C asks the job to stop; a second one removes the output being
 * written (a temporary) and kills the process as usual. */
static void on_sigint(int sig) {
  if (!cli_interrupted) {
    cli_interrupted = 1;
    return;
  }
  const char *p = cli_partial_output();
  if (p) unlink(p);
  signal(sig, SIG_DFL);
  raise(sig);
}

void cli_progress_install_sigint(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* the handler itself lets a second ^C kill */
  sigaction(SIGINT, &sa, NULL);
}
