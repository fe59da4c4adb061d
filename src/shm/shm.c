/*
 * shm/shm.c - arrays in shared memory segments (see ndpar/shm.h).
 *
 * create: memfd_create (sealed against shrinking and growing once sized,
 * so an attached process can never fault past the end) -> ftruncate to
 * the header page + the data rounded up to a page -> mmap MAP_SHARED ->
 * MADV_HUGEPAGE (unless NDP_SHM_NOHUGE; honoured where
 * /sys/kernel/mm/transparent_hugepage/shmem_enabled allows) -> header ->
 * first touch of the data in parallel on the pool (unless
 * NDP_SHM_NOTOUCH), so the pages are allocated and zeroed by the threads
 * that will use them, many at a time. The touch asks the kernel to
 * populate each chunk (MADV_POPULATE_WRITE: no fault per page, and an
 * out-of-memory shows as an error rather than a SIGBUS) and falls back to
 * writing a zero into every page on kernels without it.
 *
 * A named segment's name is bound before the memory is built (so a taken
 * name fails at once) and served once the header is written (server.c).
 * attach: connect to the name (the abstract address, else the socket file
 * in each candidate directory: server.c), trusting only a server of our
 * uid, receive the memfd, map it and check the header as untrusted input
 * (shm_internal.h). The socket is non-blocking
 * and every wait is a poll of at most 50 ms, between which the caller's
 * interrupt callback runs (ndp_shm_attach_ex), within a 5 s overall limit.
 *
 * Thread-safety: create/attach/close from any thread; a handle must not
 * be closed while another thread uses it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm_internal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE ((size_t)4096)
#define ATTACH_TIMEOUT_S 5

_Static_assert(sizeof(ndp__shm_header) <= NDP__SHM_DATA_OFFSET,
               "header must fit its page");

/* ---- validation --------------------------------------------------------- */

int ndp_shm_check_name(const char *name, ndp_status *st) {
  if (!name) return ndp__fail(st, NDP_EINVAL, "shared array name is NULL");
  size_t n = 0;
  for (; name[n]; n++) {
    char c = name[n];
    if (n >= NDP_SHM_NAME_MAX)
      return ndp__fail(st, NDP_EINVAL,
                       "shared array name longer than %d characters",
                       NDP_SHM_NAME_MAX);
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return ndp__fail(st, NDP_EINVAL,
                       "shared array name: character %d (0x%02x) is not "
                       "one of A-Z a-z 0-9 . _ -", (int)n + 1,
                       (unsigned)(unsigned char)c);
  }
  if (n == 0) return ndp__fail(st, NDP_EINVAL, "shared array name is empty");
  return 0;
}

/* Bytes of data for dtype/shape; 0 or NDP_EINVAL/NDP_EOVERFLOW. The caller
 * checked dtype and ndim. The total mapping (header page + data rounded up
 * to a page) must also fit in off_t. */
static int data_bytes(ndp_dtype dt, int ndim, const int64_t *shape,
                      uint64_t *nbytes, ndp_status *st) {
  int64_t n = (int64_t)ndp_dtype_size(dt);
  bool zero = false;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return ndp__fail(st, NDP_EINVAL, "shape[%d] is negative (%lld)", i,
                       (long long)shape[i]);
    /* NumPy's rule: the non-zero extents must not overflow even when
     * another extent is zero (the strides would) */
    if (shape[i] == 0) zero = true;
    else if (ndp__mul_overflow(n, shape[i], &n))
      return ndp__fail(st, NDP_EOVERFLOW, "shared array size overflows");
  }
  if (zero) n = 0;
  if ((uint64_t)n > (uint64_t)INT64_MAX - NDP__SHM_DATA_OFFSET - PAGE ||
      (uint64_t)n > SIZE_MAX - NDP__SHM_DATA_OFFSET - PAGE)
    return ndp__fail(st, NDP_EOVERFLOW, "shared array size overflows");
  *nbytes = (uint64_t)n;
  return 0;
}

static size_t map_len(uint64_t nbytes) {
  return NDP__SHM_DATA_OFFSET + (size_t)((nbytes + PAGE - 1) / PAGE * PAGE);
}

static int sys_fail(ndp_status *st, int e, const char *what, const char *name) {
  int code = (e == ENOMEM || e == ENOSPC) ? NDP_ENOMEM
           : e == EFBIG ? NDP_EOVERFLOW : NDP_EIO;
  return ndp__fail(st, code, "%s for shared array '%s': %s", what,
                   name[0] ? name : "(anonymous)", strerror(e));
}

/* ---- the handle --------------------------------------------------------- */

static ndp_shm *new_handle(const char *name) {
  ndp_shm *s = ndp__calloc(1, sizeof *s);
  if (!s) return NULL;
  s->memfd = -1;
  s->lfd = -1;
  if (name) snprintf(s->name, sizeof s->name, "%s", name);
  return s;
}

static void free_handle(ndp_shm *s) {
  ndp__shm_unbind(s);
  if (s->base) munmap(s->base, s->maplen);
  if (s->memfd >= 0) close(s->memfd);
  ndp__free(s);
}

/* ---- first touch -------------------------------------------------------- */

typedef struct {
  char *data;     /* page aligned */
  size_t len;     /* bytes, a multiple of the page size */
  _Atomic int populate; /* MADV_POPULATE_WRITE still worth trying */
} touch_ctx;

static int touch_chunk(void *vctx, int64_t b, int64_t e, int tid) {
  (void)tid;
  touch_ctx *t = vctx;
  char *p = t->data + (size_t)b * PAGE;
  size_t len = (size_t)(e - b) * PAGE;
  if (atomic_load_explicit(&t->populate, memory_order_relaxed)) {
    int rc;
    while ((rc = madvise(p, len, MADV_POPULATE_WRITE)) != 0 && errno == EINTR) {
    }
    if (rc == 0) return 0;
    if (errno == ENOMEM || errno == EFAULT || errno == EHWPOISON)
      return NDP_ENOMEM; /* EFAULT: the kernel would have sent SIGBUS */
    atomic_store_explicit(&t->populate, 0, memory_order_relaxed); /* EINVAL */
  }
  for (size_t off = 0; off < len; off += PAGE)
    *(volatile char *)(p + off) = 0;
  return 0;
}

/* Whether touching len bytes could succeed at all: not more than RAM +
 * swap (the kernel's own overcommit heuristic for one allocation). Past
 * that, populating would end in the OOM killer, not in an error. */
static bool could_fit(uint64_t len) {
  struct sysinfo si;
  if (sysinfo(&si) != 0) return true;
  uint64_t unit = si.mem_unit ? si.mem_unit : 1, total;
  if (__builtin_add_overflow((uint64_t)si.totalram, (uint64_t)si.totalswap, &total) ||
      __builtin_mul_overflow(total, unit, &total))
    return true;
  return len <= total;
}

static int touch(char *data, size_t len, int nthreads) {
  touch_ctx t = {data, len, 1};
  ndp_pf_opts o = {0};
  o.nthreads = nthreads;
  o.grain = 512;       /* pages: 2 MiB, whole huge pages */
  o.max_chunk = 16384; /* 64 MiB: balance, and prompt on a busy pool */
  return ndp_parallel_for((int64_t)(len / PAGE), touch_chunk, &t, &o);
}

/* ---- create ------------------------------------------------------------- */

static int build_segment(ndp_shm *s, ndp_dtype dtype, int ndim,
                         const int64_t *shape, uint64_t nbytes, unsigned flags,
                         int nthreads, ndp_status *st) {
  char label[sizeof "ndpar:" + NDP_SHM_NAME_MAX];
  snprintf(label, sizeof label, "ndpar:%s", s->name[0] ? s->name : "anon");
  s->memfd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (s->memfd < 0) return sys_fail(st, errno, "memfd_create", s->name);
  size_t len = map_len(nbytes);
  int rc;
  while ((rc = ftruncate(s->memfd, (off_t)len)) != 0 && errno == EINTR) {
  }
  if (rc != 0) return sys_fail(st, errno, "sizing the segment", s->name);
  if (fcntl(s->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    return sys_fail(st, errno, "sealing the segment", s->name);
  void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, s->memfd, 0);
  if (base == MAP_FAILED) return sys_fail(st, errno, "mmap", s->name);
  s->base = base;
  s->maplen = len;
  s->nbytes = (size_t)nbytes;
  if (!(flags & NDP_SHM_NOHUGE)) (void)madvise(base, len, MADV_HUGEPAGE);

  ndp__shm_header *h = base;
  memcpy(h->magic, NDP__SHM_MAGIC, sizeof h->magic);
  h->version = NDP__SHM_VERSION;
  h->dtype = (uint32_t)dtype;
  h->ndim = (uint32_t)ndim;
  h->data_offset = NDP__SHM_DATA_OFFSET;
  h->nbytes = nbytes;
  for (int i = 0; i < ndim; i++) h->shape[i] = shape[i];
  memcpy(h->name, s->name, sizeof h->name);

  char *data = (char *)base + NDP__SHM_DATA_OFFSET;
  rc = ndp_array_init(&s->arr, data, dtype, ndim, shape);
  if (rc != 0) return ndp__fail(st, rc, "bad array description");
  if ((flags & NDP_SHM_NOTOUCH) || nbytes == 0) return 0;
  rc = touch(data, len - NDP__SHM_DATA_OFFSET, nthreads);
  if (rc == NDP_ENOMEM)
    return ndp__fail(st, rc, "out of memory touching shared array '%s' "
                     "(%llu bytes)", s->name[0] ? s->name : "(anonymous)",
                     (unsigned long long)nbytes);
  if (rc != 0) return ndp__fail(st, rc, "touching the pages failed");
  return 0;
}

int ndp_shm_create(const char *name, ndp_dtype dtype, int ndim,
                   const int64_t *shape, unsigned flags, int nthreads,
                   ndp_shm **out, ndp_status *st) {
  if (!out) return ndp__fail(st, NDP_EINVAL, "out is NULL");
  *out = NULL;
  int rc;
  if (name && (rc = ndp_shm_check_name(name, st)) != 0) return rc;
  if (ndp_dtype_size(dtype) == 0)
    return ndp__fail(st, NDP_EINVAL, "invalid dtype %d", (int)dtype);
  if (ndim < 0 || ndim > NDP_MAXDIMS)
    return ndp__fail(st, NDP_EINVAL, "ndim must be 0..%d, got %d",
                     NDP_MAXDIMS, ndim);
  if (ndim > 0 && !shape) return ndp__fail(st, NDP_EINVAL, "shape is NULL");
  if (flags & ~(NDP_SHM_NOTOUCH | NDP_SHM_NOHUGE))
    return ndp__fail(st, NDP_EINVAL, "unknown flags 0x%x", flags);
  if (nthreads < 0 || nthreads > NDP_MAX_THREADS)
    return ndp__fail(st, NDP_EINVAL, "nthreads must be 0..%d, got %d",
                     NDP_MAX_THREADS, nthreads);
  uint64_t nbytes;
  if ((rc = data_bytes(dtype, ndim, shape, &nbytes, st)) != 0) return rc;
  if (!(flags & NDP_SHM_NOTOUCH) && !could_fit(nbytes))
    return ndp__fail(st, NDP_ENOMEM, "shared array of %llu bytes is larger "
                     "than this machine's memory and swap",
                     (unsigned long long)nbytes);

  ndp_shm *s = new_handle(name);
  if (!s) return ndp__fail(st, NDP_ENOMEM, "out of memory");
  s->creator = true;
  /* the name first: a taken name fails before any memory is built */
  if (name && (rc = ndp__shm_bind(s, st)) != 0) goto err;
  if ((rc = build_segment(s, dtype, ndim, shape, nbytes, flags, nthreads, st)))
    goto err;
  if (name) {
    if ((rc = ndp__shm_serve(s, st)) != 0) goto err;
  } else {
    close(s->memfd); /* the mapping keeps the memory */
    s->memfd = -1;
  }
  *out = s;
  ndp__ok(st);
  return 0;
err:
  free_handle(s);
  return rc;
}

/* ---- attach ------------------------------------------------------------- */

/* The wait for the creator: a deadline, checked in slices of SLICE_MS so
 * that the caller's interrupt callback runs promptly. */
#define SLICE_MS 50

typedef struct {
  struct timespec deadline;
  int (*interrupt)(void *);
  void *ctx;
} waiter;

static int64_t ms_left(const waiter *w) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)(w->deadline.tv_sec - now.tv_sec) * 1000 +
         (w->deadline.tv_nsec - now.tv_nsec) / 1000000;
}

/* Waits up to one slice for events on fd (fd < 0: just sleeps). Returns
 * 1 when fd is ready, 0 after a quiet slice, NDP_ECANCELED when the
 * callback asked to stop, NDP_EIO when the deadline passed. */
static int wait_slice(waiter *w, int fd, short events, const char *name,
                      ndp_status *st) {
  if (w->interrupt && w->interrupt(w->ctx))
    return ndp__fail(st, NDP_ECANCELED, "attaching shared array '%s' was "
                     "interrupted", name);
  int64_t left = ms_left(w);
  if (left <= 0)
    return ndp__fail(st, NDP_EIO, "no answer from the creator of shared "
                     "array '%s' within %d s", name, ATTACH_TIMEOUT_S);
  struct pollfd p = {fd, events, 0};
  int r = poll(fd >= 0 ? &p : NULL, fd >= 0 ? 1 : 0,
               (int)(left < SLICE_MS ? left : SLICE_MS));
  return r > 0 ? 1 : 0; /* EINTR: a quiet slice; the callback runs next */
}

/* Takes the descriptors out of a received message: the first in *fd (if
 * *fd < 0), the others closed; counts them in *nfds. */
static void take_fds(struct msghdr *m, int *fd, int *nfds) {
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int got;
      memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof got);
      if (*fd < 0) *fd = got;
      else close(got);
      (*nfds)++;
    }
  }
}

/* Receives the memfd on connected non-blocking socket c. Returns it or a
 * negative code. */
static int receive_fd(int c, waiter *w, const char *name, ndp_status *st) {
  char hello[8];
  size_t got = 0;
  int fd = -1, nfds = 0, trunc = 0;
  while (got < sizeof hello) {
    union {
      struct cmsghdr h;
      char b[CMSG_SPACE(4 * sizeof(int))]; /* room to see (and close) extras */
    } ctl;
    struct iovec iov = {hello + got, sizeof hello - got};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.b;
    m.msg_controllen = sizeof ctl.b;
    ssize_t r = recvmsg(c, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (r > 0) {
      take_fds(&m, &fd, &nfds);
      trunc |= (m.msg_flags & MSG_CTRUNC) != 0;
      got += (size_t)r;
      continue;
    }
    int e = errno;
    if (r < 0 && e == EINTR) continue;
    if (r < 0 && (e == EAGAIN || e == EWOULDBLOCK)) {
      int rc = wait_slice(w, c, POLLIN, name, st);
      if (rc >= 0) continue;
      if (fd >= 0) close(fd);
      return rc;
    }
    if (fd >= 0) close(fd);
    if (r == 0 && got == 0) /* hung up without a word */
      return ndp__fail(st, NDP_ENOENT, "no shared array named '%s' (its "
                       "creator closed it)", name);
    if (r < 0 && e == ECONNRESET)
      return ndp__fail(st, NDP_ENOENT, "no shared array named '%s' (its "
                       "creator closed it)", name);
    if (r < 0)
      return ndp__fail(st, NDP_EIO, "receiving shared array '%s': %s", name,
                       strerror(e));
    break; /* EOF after a partial hello */
  }
  if (got != sizeof hello || memcmp(hello, NDP__SHM_HELLO, sizeof hello) ||
      nfds != 1 || trunc) {
    if (fd >= 0) close(fd);
    return ndp__fail(st, NDP_EFORMAT, "'%s' is not served as an ndpar "
                     "shared array", name);
  }
  return fd;
}

/* One connection attempt. Returns a socket connected to a process of this
 * user (>= 0), or: */
enum { T_NONE = -1,  /* nothing there, or a stale socket file */
       T_BUSY = -2,  /* a full backlog: try again */
       T_OTHER = -3, /* held by another user (*other): never trusted */
       T_FAIL = -4 };/* no socket (message in st) */

static int try_connect(const struct sockaddr_un *sa, socklen_t len,
                       struct ucred *other, const char *name, ndp_status *st) {
  int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (c < 0) {
    sys_fail(st, errno, "socket", name);
    return T_FAIL;
  }
  int rc;
  while ((rc = connect(c, (const struct sockaddr *)sa, len)) != 0 && errno == EINTR) {
  }
  if (rc != 0) {
    int e = errno;
    close(c);
    return e == EAGAIN ? T_BUSY : T_NONE;
  }
  /* anyone can bind an abstract name: only trust our own user */
  struct ucred cr;
  socklen_t crlen = sizeof cr;
  bool known = getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0 &&
               crlen == sizeof cr;
  if (known && cr.uid == geteuid()) return c;
  *other = known ? cr : (struct ucred){0, (uid_t)-1, (gid_t)-1};
  close(c);
  return T_OTHER;
}

/* Finds the name (the abstract address, then the socket files of
 * ndp__shm_fs_paths) and returns the segment's memfd, or a negative code.
 * The sockets are non-blocking: every wait is a slice of wait_slice. */
static int fetch_fd(const char *name, int (*interrupt)(void *), void *ctx,
                    ndp_status *st) {
  waiter w = {{0, 0}, interrupt, ctx};
  clock_gettime(CLOCK_MONOTONIC, &w.deadline);
  w.deadline.tv_sec += ATTACH_TIMEOUT_S;
  struct sockaddr_un sa;
  socklen_t len;
  ndp__shm_address(name, &sa, &len);
  struct ucred other;
  bool foreign = false;
  int c;
  for (;;) {
    /* a unix stream connect completes at once or fails with EAGAIN (the
     * creator's backlog is full: it does not accept): retry in slices */
    bool busy = false;
    if ((c = try_connect(&sa, len, &other, name, st)) == T_OTHER) foreign = true;
    if (c == T_FAIL) return NDP_EIO;
    busy |= c == T_BUSY;
    if (c < 0) { /* not served by us at the abstract address */
      char paths[NDP__SHM_NDIRS][sizeof sa.sun_path];
      int n = ndp__shm_fs_paths(name, paths);
      struct ucred ignored;
      for (int i = 0; i < n && c < 0; i++) {
        struct sockaddr_un fsa;
        memset(&fsa, 0, sizeof fsa);
        fsa.sun_family = AF_UNIX;
        memcpy(fsa.sun_path, paths[i], strlen(paths[i]));
        socklen_t flen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                     strlen(paths[i]) + 1);
        c = try_connect(&fsa, flen, &ignored, name, st);
        if (c == T_FAIL) return NDP_EIO;
        busy |= c == T_BUSY;
      }
    }
    if (c >= 0) break;
    if (!busy) {
      if (foreign)
        return ndp__fail(st, NDP_ENOENT, "no shared array named '%s' (its "
                         "abstract address is held by process %ld of another "
                         "user (uid %lu), which is never trusted)", name,
                         (long)other.pid, (unsigned long)other.uid);
      return ndp__fail(st, NDP_ENOENT, "no shared array named '%s' (never "
                       "created, or its creator closed it or exited)", name);
    }
    int w_rc = wait_slice(&w, -1, 0, name, st);
    if (w_rc < 0) {
      if (w_rc == NDP_EIO)
        return ndp__fail(st, NDP_EIO, "the creator of shared array '%s' "
                         "does not answer", name);
      return w_rc;
    }
  }
  int fd = receive_fd(c, &w, name, st);
  close(c);
  return fd;
}

/* Checks the header copy against the segment's size; fills s. */
int ndp__shm_check_header(ndp_shm *s, const ndp__shm_header *h, uint64_t size,
                        const char *name, ndp_status *st) {
  if (memcmp(h->magic, NDP__SHM_MAGIC, sizeof h->magic) != 0)
    return ndp__fail(st, NDP_EFORMAT, "shared array '%s': not an ndpar "
                     "segment (bad magic)", name);
  if (h->version != NDP__SHM_VERSION)
    return ndp__fail(st, NDP_EFORMAT, "shared array '%s': segment version "
                     "%u, expected %u", name, h->version, NDP__SHM_VERSION);
  if (h->dtype >= (uint32_t)NDP_NTYPES || h->ndim > NDP_MAXDIMS)
    return ndp__fail(st, NDP_EFORMAT, "shared array '%s': bad dtype %u or "
                     "ndim %u", name, h->dtype, h->ndim);
  if (strnlen(h->name, sizeof h->name) == sizeof h->name ||
      strcmp(h->name, name) != 0)
    return ndp__fail(st, NDP_EFORMAT, "shared array '%s': the segment is "
                     "named differently", name);
  uint64_t nbytes;
  ndp_status tmp;
  if (data_bytes((ndp_dtype)h->dtype, (int)h->ndim, h->shape, &nbytes, &tmp))
    return ndp__fail(st, NDP_EFORMAT, "shared array '%s': bad shape in the "
                     "header (%s)", name, tmp.msg);
  if (nbytes != h->nbytes || h->data_offset != NDP__SHM_DATA_OFFSET ||
      map_len(nbytes) > size)
    return ndp__fail(st, NDP_EFORMAT, "shared array '%s': header sizes do "
                     "not match the segment (%llu bytes)", name,
                     (unsigned long long)size);
  s->nbytes = (size_t)nbytes;
  return ndp_array_init(&s->arr, (char *)s->base + NDP__SHM_DATA_OFFSET,
                        (ndp_dtype)h->dtype, (int)h->ndim, h->shape)
             ? ndp__fail(st, NDP_EFORMAT, "shared array '%s': bad header", name)
             : 0;
}

/* Maps memfd fd (not consumed) into s and checks it. */
static int map_attached(ndp_shm *s, int fd, const char *name, ndp_status *st) {
  struct stat sb;
  if (fstat(fd, &sb) != 0) return sys_fail(st, errno, "fstat", name);
  int seals = fcntl(fd, F_GET_SEALS);
  if (!S_ISREG(sb.st_mode) || sb.st_size < (off_t)NDP__SHM_DATA_OFFSET ||
      seals < 0 || !(seals & F_SEAL_SHRINK))
    return ndp__fail(st, NDP_EFORMAT, "shared array '%s': not an ndpar "
                     "segment (not a sealed memfd of at least a page)", name);
  if ((uint64_t)sb.st_size > SIZE_MAX)
    return ndp__fail(st, NDP_EFORMAT, "shared array '%s': too large", name);
  size_t len = (size_t)sb.st_size;
  void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return sys_fail(st, errno, "mmap", name);
  s->base = base;
  s->maplen = len;
  ndp__shm_header h; /* a private copy: the shared page may change */
  memcpy(&h, base, sizeof h);
  return ndp__shm_check_header(s, &h, (uint64_t)len, name, st);
}

int ndp_shm_attach(const char *name, ndp_shm **out, ndp_status *st) {
  return ndp_shm_attach_ex(name, NULL, NULL, out, st);
}

int ndp_shm_attach_ex(const char *name, int (*interrupt)(void *ctx),
                      void *ctx, ndp_shm **out, ndp_status *st) {
  if (!out) return ndp__fail(st, NDP_EINVAL, "out is NULL");
  *out = NULL;
  int rc = ndp_shm_check_name(name, st);
  if (rc != 0) return rc;
  ndp_shm *s = new_handle(name);
  if (!s) return ndp__fail(st, NDP_ENOMEM, "out of memory");
  int fd = fetch_fd(name, interrupt, ctx, st);
  if (fd < 0) {
    ndp__free(s);
    return fd;
  }
  rc = map_attached(s, fd, name, st);
  close(fd);
  if (rc != 0) {
    free_handle(s);
    return rc;
  }
  *out = s;
  ndp__ok(st);
  return 0;
}

/* ---- accessors ---------------------------------------------------------- */

const ndp_array *ndp_shm_array(const ndp_shm *s) { return s ? &s->arr : NULL; }
const char *ndp_shm_name(const ndp_shm *s) { return s ? s->name : ""; }
int ndp_shm_is_creator(const ndp_shm *s) { return s ? s->creator : 0; }
size_t ndp_shm_nbytes(const ndp_shm *s) { return s ? s->nbytes : 0; }

void ndp_shm_unpublish(ndp_shm *s) {
  if (s) ndp__shm_unbind(s);
}

void ndp_shm_close(ndp_shm *s) {
  if (s) free_handle(s);
}
