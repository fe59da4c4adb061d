/*
 * fuzz/replay.c - runs a fuzz target over a corpus without libFuzzer.
 *
 * Usage: replay DIR. Feeds every regular file of DIR, in name order, to
 * LLVMFuzzerTestOneInput; a bad input traps inside the target. Prints
 * "replayed N inputs" and exits 0, or exits 1 when DIR or one of its
 * files cannot be read. This is how `meson test` replays the corpus and
 * every crash reproducer kept in it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads path whole. OUT: *data (free it), *size. Returns 0 or -1. */
static int read_whole(const char *path, uint8_t **data, size_t *size) {
  FILE *fp = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t n = 0, cap = 0;
  int ok = fp != NULL;
  while (ok) {
    if (n == cap) {
      uint8_t *p = realloc(buf, cap = cap ? 2 * cap : 4096);
      if (!p) {
        ok = 0;
        break;
      }
      buf = p;
    }
    size_t want = cap - n, got = fread(buf + n, 1, want, fp);
    n += got;
    if (got < want) {
      ok = !ferror(fp);
      break;
    }
  }
  if (fp) fclose(fp);
  if (!ok) {
    free(buf);
    return -1;
  }
  *data = buf;
  *size = n;
  return 0;
}

/* The names of DIR's regular files, sorted. OUT: *names, *count. */
static int list_dir(const char *dir, char ***names, size_t *count) {
  DIR *d = opendir(dir);
  char **v = NULL, path[4096];
  size_t n = 0, cap = 0;
  struct dirent *e;
  struct stat sb;
  if (!d) return -1;
  while ((e = readdir(d)) != NULL) {
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
    if (n == cap) {
      char **p = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof *v);
      if (!p) break;
      v = p;
    }
    if ((v[n] = strdup(e->d_name)) == NULL) break;
    n++;
  }
  int failed = e != NULL; /* stopped early: out of memory */
  closedir(d);
  if (n > 1) qsort(v, n, sizeof *v, by_name);
  *names = v;
  *count = n;
  return failed ? -1 : 0;
}

int main(int argc, char **argv) {
  char **names = NULL, path[4096];
  size_t count = 0, done = 0;
  int rc = 0;
  if (argc != 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  if (list_dir(argv[1], &names, &count) != 0) {
    fprintf(stderr, "%s: cannot read %s: %s\n", argv[0], argv[1],
            strerror(errno));
    rc = 1;
  }
  for (size_t i = 0; i < count; i++) {
    uint8_t *data = NULL;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/%s", argv[1], names[i]);
    if (read_whole(path, &data, &size) != 0) {
      fprintf(stderr, "%s: cannot read %s\n", argv[0], path);
      rc = 1;
    } else {
      LLVMFuzzerTestOneInput(data, size);
      done++;
    }
    free(data);
    free(names[i]);
  }
  free(names);
  printf("replayed %zu inputs\n", done);
  return rc;
}
