/*
 * examples/shared_rows.c - a named shared array filled in parallel and
 * read by another process.
 *
 * Creates a 2000 x 1000 float64 array in a named shared segment, fills
 * row i with i + 1 on all cores (ndp_run_kernel, one index per row), then
 * forks a child that attaches by name - as an unrelated process of the
 * same user would - and checks a few rows. Prints "ok".
 *
 * Uses the public header only:
 *     cc shared_rows.c $(pkg-config --cflags --libs ndpar) -o shared_rows
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ndpar.h"

enum { ROWS = 2000, COLS = 1000 };

/* rows [begin, end) of data[0] get i + 1 */
static int fill_rows(int64_t begin, int64_t end, void *const *data, void *ud) {
  (void)ud;
  double *m = data[0];
  for (int64_t i = begin; i < end; i++)
    for (int64_t j = 0; j < COLS; j++) m[i * COLS + j] = (double)(i + 1);
  return 0;
}

/* In the child: attach by name and check rows. Returns an exit status. */
static int check_in_child(const char *name) {
  ndp_shm *s = NULL;
  ndp_status st;
  if (ndp_shm_attach(name, &s, &st) != 0) {
    fprintf(stderr, "child: attach: %s\n", st.msg);
    return 1;
  }
  const ndp_array *a = ndp_shm_array(s);
  const double *m = a->data;
  int bad = a->ndim != 2 || a->shape[0] != ROWS || a->shape[1] != COLS;
  static const int64_t rows[] = {0, 1, 999, ROWS - 1};
  for (size_t k = 0; !bad && k < sizeof rows / sizeof *rows; k++)
    for (int64_t j = 0; j < COLS; j++)
      if (m[rows[k] * COLS + j] != (double)(rows[k] + 1)) bad = 1;
  ndp_shm_close(s); /* an attached process never removes the name */
  if (bad) fprintf(stderr, "child: wrong contents\n");
  return bad;
}

int main(void) {
  char name[64];
  snprintf(name, sizeof name, "example-rows-%ld", (long)getpid());
  int64_t shape[2] = {ROWS, COLS};
  ndp_shm *s = NULL;
  ndp_status st;
  if (ndp_shm_create(name, NDP_FLOAT64, 2, shape, 0, 0, &s, &st) != 0) {
    fprintf(stderr, "create: %s\n", st.msg);
    return 1;
  }
  void *data[1] = {ndp_shm_array(s)->data};
  if (ndp_run_kernel(ROWS, fill_rows, data, NULL, 0, NULL, &st) != 0) {
    fprintf(stderr, "fill: %s\n", st.msg);
    ndp_shm_close(s);
    return 1;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(check_in_child(name));
  int status = 1;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) perror("fork/wait");
  ndp_shm_close(s); /* the name disappears with its creator */
  ndp_shutdown();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  puts("ok");
  return 0;
}
