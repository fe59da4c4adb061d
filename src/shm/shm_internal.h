/*
 * shm/shm_internal.h - what the segment code (shm.c) and the name server
 * (server.c) share; tests include it to build bogus segments.
 *
 * Segment layout (a memfd, sealed against shrinking and growing):
 *
 *   offset 0     shm_header (below), rest of the first page zero
 *   offset 4096  the array's data, C order, nbytes bytes
 *   ...          zero padding up to a multiple of the page size
 *
 * The data start at 4096 rather than at 2 MiB: with transparent huge pages
 * the kernel aligns the mapping to 2 MiB itself, so header and data share
 * the first huge page and no memory is wasted on small arrays.
 *
 * The header is native-endian (a segment never leaves the machine) and is
 * untrusted input on attach: it is copied out of the shared page and every
 * field is checked before use.
 */
#ifndef NDP_SHM_INTERNAL_H
#define NDP_SHM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "core/internal.h"

#define NDP__SHM_MAGIC "NDPARSHM"  /* 8 bytes, no NUL */
#define NDP__SHM_VERSION 1u
#define NDP__SHM_DATA_OFFSET 4096u /* also the header page's size */
/* What the name server sends with the descriptor. */
#define NDP__SHM_HELLO "ndpshm01"  /* 8 bytes, no NUL */

typedef struct ndp__shm_header {
  char magic[8];          /* NDP__SHM_MAGIC */
  uint32_t version;       /* NDP__SHM_VERSION */
  uint32_t dtype;         /* ndp_dtype */
  uint32_t ndim;          /* 0 .. NDP_MAXDIMS */
  uint32_t reserved;      /* 0 */
  uint64_t data_offset;   /* NDP__SHM_DATA_OFFSET */
  uint64_t nbytes;        /* product(shape) * itemsize */
  int64_t shape[NDP_MAXDIMS];          /* first ndim used, rest 0 */
  char name[NDP_SHM_NAME_MAX + 1];     /* NUL-terminated; "" anonymous */
} ndp__shm_header;

struct ndp_shm {
  ndp_array arr;          /* over base + data offset */
  void *base;             /* the whole mapping */
  size_t maplen;
  size_t nbytes;          /* data bytes */
  int memfd;              /* creator of a named segment: kept to serve it;
                             else -1 (closed after mmap) */
  bool creator;
  /* Name service, all under the server's lock (server.c): */
  int lfd;                /* listening socket, -1 if none */
  bool bound;             /* lfd is bound to the name; in the served list */
  bool serving;           /* lfd listens; the server thread polls it */
  bool dying;             /* being unpublished: the thread skips it */
  struct ndp_shm *next, *prev;  /* the served list */
  /* A file-system name (server.c), set while lfd is bound to a socket file
   * rather than to the abstract address; "" otherwise: */
  char fspath[sizeof ((struct sockaddr_un *)0)->sun_path];
  char fsdir[sizeof ((struct sockaddr_un *)0)->sun_path];
  dev_t fsdev;            /* the socket file as bound (lstat): only that */
  ino_t fsino;            /* file is ever unlinked */
  char name[NDP_SHM_NAME_MAX + 1];
};

/* Directories that may hold file-system names, at most this many. */
#define NDP__SHM_NDIRS 3

/* Abstract socket address of a name: "\0ndpar/<uid>/<name>", or, where
 * that does not fit sun_path, "\0ndpar/<uid>/#<32 hex digits>" (a 128-bit
 * hash; '#' is not a name character, and the attacher checks the full
 * name stored in the header). The name must be valid. OUT: *sa, *len. */
void ndp__shm_address(const char *name, struct sockaddr_un *sa,
                      socklen_t *len);

/* The socket files that may serve `name` (valid), one per candidate
 * directory that exists and is safe (a directory of this user, no access
 * for group or others), in lookup order (server.c's header). OUT:
 * paths[0..n-1]; returns n (0..NDP__SHM_NDIRS). */
int ndp__shm_fs_paths(const char *name,
                      char paths[NDP__SHM_NDIRS][sizeof ((struct sockaddr_un *)0)->sun_path]);

/* Binds the name and adds s to the served list, listening but not yet
 * served: an attach meanwhile waits for the answer (or gets NDP_ENOENT
 * if the creation fails). The abstract address first; a socket file in a
 * per-user directory when the address is held by another user (server.c).
 * NDP_EEXIST when a process of this user holds the name. Needs s->name
 * and s->memfd. */
int ndp__shm_bind(ndp_shm *s, ndp_status *st);
/* Validates an attached segment's header h (a private copy; untrusted) for
 * a segment of `size` bytes mapped at s->base and expected to be called
 * `name`; on success fills s->arr and s->nbytes. NDP_EFORMAT otherwise.
 * The libFuzzer target fuzz/fuzz_shm_header.c drives it. */
int ndp__shm_check_header(ndp_shm *s, const ndp__shm_header *h, uint64_t size,
                          const char *name, ndp_status *st);
/* Lets the server thread (started if needed) answer. */
int ndp__shm_serve(ndp_shm *s, ndp_status *st);
/* Stops serving, removes the socket file (if any, and if it is still the
 * one s bound) and closes the socket; returns when no thread of this
 * process uses it any more. No-op when not bound. */
void ndp__shm_unbind(ndp_shm *s);

#endif
