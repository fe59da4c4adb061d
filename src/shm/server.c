/*
 * shm/server.c - the name service of named shared segments.
 *
 * A name is a listening unix socket: in Linux's abstract namespace (see
 * ndp__shm_address), where the kernel drops the name when the last
 * descriptor of the socket closes (the creator unpublishes, closes, or
 * dies in any way), so nothing is left behind in any file system. The
 * socket listens from the moment it is bound (connections wait in the
 * backlog until the segment is served), so an address that is bound but
 * refuses connections is never an ndpar creator's.
 *
 * Any local user can bind an abstract address. When ours is held by
 * anything but a process of this user (probe(): connect, SO_PEERCRED;
 * another uid, a socket that refuses connections, or a backlog still full
 * after 200 ms), the name becomes a socket file instead (ndp__shm_bind):
 * "<dir>/<name>" in the first candidate directory (candidate_dirs():
 * $XDG_RUNTIME_DIR/ndpar, /run/user/<uid>/ndpar, /tmp/ndpar-<uid>), which
 * must be a real directory of this user with mode 0700 (lstat; created so
 * if missing; otherwise NDP_EIO naming its owner or mode). Other users can
 * neither enter it nor replace it (/tmp is sticky). Under an flock on
 * that directory (taken with fs_mu held, so a fork never copies a held
 * lock, and before S.mu), create retries the abstract address, checks
 * that no process of ours serves the name from any candidate directory,
 * unlinks a stale file (it refuses connections: its creator died), binds
 * and listens. A creator that got the abstract address also checks the
 * candidate directories under that lock, so a name is never served at
 * both places. The file is unlinked by unbind (under the lock, and only
 * if it is still the inode this process bound) and by an atexit handler;
 * a forked child forgets it. Attach (shm.c) tries the abstract address,
 * then each candidate file (ndp__shm_fs_paths), trusting only our uid.
 *
 * One server thread per process answers for all of its names. It poll()s
 * the listening sockets plus an eventfd that wakes it when the set
 * changes; on a connection it checks the peer's uid (SO_PEERCRED) and
 * sends the segment's memfd (SCM_RIGHTS) with NDP__SHM_HELLO, then hangs
 * up. A name held by a process of ours is reported with its pid. The
 * thread starts with the first served name and is joined when the last
 * one is unpublished, so a process that closed its segments has no extra
 * thread or descriptor (leak checkers and fd-counting tests see nothing).
 *
 * Invariants, all under S.mu:
 *  - every socket bound to a name is in the list S.head (so fork can close
 *    the child's copies of all of them; binding happens under the lock);
 *  - a socket is closed only after the thread acknowledged (S.ack) an
 *    epoch in which it no longer polls it, or has exited: a closed number
 *    is never polled, accepted on or reused behind the thread's back;
 *  - the thread handles connections holding S.mu (accept, one
 *    non-blocking sendmsg, close), so fork never copies a half-served
 *    connection and unpublish never races a send.
 *  - state: IDLE (no thread) -> RUNNING (nserving > 0) -> STOPPING (the
 *    unpublisher that made nserving 0 joins it) -> IDLE. A publisher waits
 *    while STOPPING.
 *
 * fork(): the child has no server thread. Its copies of the listening
 * sockets and of the eventfd are closed in the atfork child handler and
 * its segments marked unpublished (their socket files forgotten), so a
 * child never keeps a name alive nor removes its creator's file.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm_internal.h"

enum { IDLE, RUNNING, STOPPING };

typedef struct pollbuf {
  struct pollfd *pfd;
  ndp_shm **who;
  int cap;
} pollbuf;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;    /* ack and state changes */
  ndp_shm *head;        /* bound sockets */
  int nserving;         /* entries with serving && !dying */
  int state;
  pthread_t tid;
  int wake_fd;          /* eventfd while a thread exists, else -1 */
  uint64_t epoch;       /* bumped when the polled set shrinks */
  uint64_t ack;         /* last epoch the thread polls no stale socket of */
  pollbuf buf;          /* the thread's */
  pollbuf spare;        /* grown by publishers, taken by the thread */
} S = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, IDLE,
       0, -1, 0, 0, {NULL, NULL, 0}, {NULL, NULL, 0}};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;
/* Held while a directory lock is (taken before S.mu, never after it). */
static pthread_mutex_t fs_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- addresses ---------------------------------------------------------- */

static uint64_t fnv1a(const char *s, uint64_t h) {
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33; /* murmur3's finalizer spreads the last bytes */
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

void ndp__shm_address(const char *name, struct sockaddr_un *sa,
                      socklen_t *len) {
  char path[sizeof sa->sun_path];
  unsigned uid = (unsigned)geteuid();
  int n = snprintf(path, sizeof path, "ndpar/%u/%s", uid, name);
  if (n < 0 || (size_t)n >= sizeof path - 1)
    n = snprintf(path, sizeof path, "ndpar/%u/#%016llx%016llx", uid,
                 (unsigned long long)fnv1a(name, 0xcbf29ce484222325ull),
                 (unsigned long long)fnv1a(name, 0x84222325cbf29ce4ull));
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  memcpy(sa->sun_path + 1, path, (size_t)n); /* sun_path[0] = 0: abstract */
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* ---- the list ----------------------------------------------------------- */

static void link_locked(ndp_shm *s) {
  s->prev = NULL;
  s->next = S.head;
  if (S.head) S.head->prev = s;
  S.head = s;
}

static void unlink_locked(ndp_shm *s) {
  if (s->prev) s->prev->next = s->next;
  else S.head = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
}

static void pollbuf_free(pollbuf *b) {
  ndp__free(b->pfd);
  ndp__free(b->who);
  b->pfd = NULL;
  b->who = NULL;
  b->cap = 0;
}

/* Makes sure the thread can poll `want` descriptors at its next rebuild. */
static int reserve_locked(int want) {
  if (S.buf.cap >= want || S.spare.cap >= want) return 0;
  int cap = S.buf.cap > 8 ? S.buf.cap : 8;
  while (cap < want) cap *= 2;
  pollbuf b = {ndp__malloc((size_t)cap * sizeof *b.pfd),
               ndp__malloc((size_t)cap * sizeof *b.who), cap};
  if (!b.pfd || !b.who) {
    pollbuf_free(&b);
    return NDP_ENOMEM;
  }
  pollbuf_free(&S.spare);
  S.spare = b;
  return 0;
}

static void wake_locked(void) {
  uint64_t one = 1;
  if (S.wake_fd >= 0 && write(S.wake_fd, &one, sizeof one) < 0) {
    /* EAGAIN only: the counter is already non-zero, the thread will wake */
  }
}

/* ---- the thread --------------------------------------------------------- */

/* Answers the pending connections on s's socket. Under S.mu. Returns 1
 * when the process is out of descriptors or memory (the connection stays
 * queued: the caller backs off instead of polling it in a tight loop). */
static int answer_locked(ndp_shm *s) {
  for (int k = 0; k < 64; k++) {
    int c = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) /* EAGAIN: none left (or the client gave up) */
      return errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM;
    struct ucred cr;
    socklen_t crlen = sizeof cr;
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0 &&
        crlen == sizeof cr && cr.uid == geteuid()) {
      union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int))];
      } ctl;
      memset(&ctl, 0, sizeof ctl);
      char hello[8];
      memcpy(hello, NDP__SHM_HELLO, sizeof hello);
      struct iovec iov = {hello, sizeof hello};
      struct msghdr m = {0};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = ctl.b;
      m.msg_controllen = sizeof ctl.b;
      struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(cm), &s->memfd, sizeof(int));
      /* a fresh connection's buffer is empty: this never blocks; if it
       * fails the client sees EOF and reports it */
      (void)sendmsg(c, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    close(c);
  }
  return 0;
}

/* Fills the thread's poll set from the list; acknowledges the epoch. */
static int rebuild_locked(void) {
  if (S.spare.cap > S.buf.cap) {
    pollbuf t = S.buf;
    S.buf = S.spare;
    S.spare = t;
    pollbuf_free(&S.spare);
  }
  int n = 0;
  S.buf.pfd[n] = (struct pollfd){S.wake_fd, POLLIN, 0};
  S.buf.who[n++] = NULL;
  for (ndp_shm *s = S.head; s && n < S.buf.cap; s = s->next) {
    if (!s->serving || s->dying) continue;
    S.buf.pfd[n] = (struct pollfd){s->lfd, POLLIN, 0};
    S.buf.who[n++] = s;
  }
  S.ack = S.epoch;
  pthread_cond_broadcast(&S.cv);
  return n;
}

static void *server_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&S.mu);
  while (S.state == RUNNING) {
    int n = rebuild_locked();
    pthread_mutex_unlock(&S.mu);
    int r = poll(S.buf.pfd, (nfds_t)n, -1);
    pthread_mutex_lock(&S.mu);
    if (r <= 0) continue; /* EINTR; signals are blocked, but be safe */
    if (S.buf.pfd[0].revents) {
      uint64_t v;
      if (read(S.wake_fd, &v, sizeof v) < 0) { /* EAGAIN: nothing to drain */
      }
    }
    int starved = 0;
    for (int i = 1; i < n; i++) {
      ndp_shm *s = S.buf.who[i];
      /* s is valid and its socket open: not acknowledged as gone yet */
      if ((S.buf.pfd[i].revents & POLLIN) && !s->dying) starved |= answer_locked(s);
    }
    if (starved) { /* wait 100 ms (or a wake-up) before trying again */
      struct pollfd w = {S.wake_fd, POLLIN, 0};
      pthread_mutex_unlock(&S.mu);
      (void)poll(&w, 1, 100);
      pthread_mutex_lock(&S.mu);
    }
  }
  S.ack = S.epoch;
  pthread_cond_broadcast(&S.cv);
  pthread_mutex_unlock(&S.mu);
  return NULL;
}

static int start_locked(ndp_status *st) {
  S.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (S.wake_fd < 0)
    return ndp__fail(st, errno == ENOMEM ? NDP_ENOMEM : NDP_EIO,
                     "eventfd for the shared-array name server: %s",
                     strerror(errno));
  /* the thread takes no signals: they go to the application's threads */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 1u << 20);
  S.state = RUNNING;
  int rc = pthread_create(&S.tid, &attr, server_main, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    S.state = IDLE;
    close(S.wake_fd);
    S.wake_fd = -1;
    return ndp__fail(st, rc == EAGAIN ? NDP_ENOMEM : NDP_EIO,
                     "could not start the shared-array name server: %s",
                     strerror(rc));
  }
  return 0;
}

/* Called by the unpublisher that made nserving 0; returns with S.mu held. */
static void stop_locked(void) {
  S.state = STOPPING;
  wake_locked();
  pthread_t t = S.tid;
  pthread_mutex_unlock(&S.mu);
  pthread_join(t, NULL);
  pthread_mutex_lock(&S.mu);
  close(S.wake_fd);
  S.wake_fd = -1;
  pollbuf_free(&S.buf);
  pollbuf_free(&S.spare);
  S.state = IDLE;
  pthread_cond_broadcast(&S.cv);
}

/* ---- fork --------------------------------------------------------------- */

static void atfork_prepare(void) {
  pthread_mutex_lock(&fs_mu); /* no directory lock is held across fork */
  pthread_mutex_lock(&S.mu);
}
static void atfork_parent(void) {
  pthread_mutex_unlock(&S.mu);
  pthread_mutex_unlock(&fs_mu);
}
static void atfork_child(void) {
  /* Only the forking thread exists; it held S.mu through fork, so the
   * list is consistent. Close every name's socket copy here. */
  for (ndp_shm *s = S.head, *next; s; s = next) {
    next = s->next;
    close(s->lfd);
    s->lfd = -1;
    s->bound = s->serving = s->dying = false;
    s->fspath[0] = 0; /* the parent's file: never unlinked here */
    s->next = s->prev = NULL;
  }
  S.head = NULL;
  S.nserving = 0;
  if (S.wake_fd >= 0) close(S.wake_fd);
  S.wake_fd = -1;
  pollbuf_free(&S.buf);
  pollbuf_free(&S.spare);
  S.state = IDLE;
  S.epoch = S.ack = 0;
  /* no thread waits on cv here; mu is held by this thread (prepare) */
  pthread_cond_init(&S.cv, NULL);
  pthread_mutex_unlock(&S.mu);
  pthread_mutex_unlock(&fs_mu);
}

static void install_atfork(void) {
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* At a normal exit, the socket files still served are removed (each only
 * if it is still the file this process bound). */
static void unlink_at_exit(void) {
  pthread_mutex_lock(&S.mu);
  for (ndp_shm *s = S.head; s; s = s->next) {
    struct stat sb;
    if (s->fspath[0] && lstat(s->fspath, &sb) == 0 &&
        sb.st_dev == s->fsdev && sb.st_ino == s->fsino)
      unlink(s->fspath);
  }
  pthread_mutex_unlock(&S.mu);
}

static void install_atexit(void) { (void)atexit(unlink_at_exit); }

/* ---- file-system names -------------------------------------------------- */

#define SUNMAX (sizeof ((struct sockaddr_un *)0)->sun_path)

/* Room a directory must leave in sun_path for "/#<32 hex>" and the NUL. */
#define FILE_ROOM 35

enum { DIR_OK, DIR_MISSING, DIR_BAD };

/* Whether path is a real directory (not a symlink) of this user with no
 * access for group or others. *sb: what lstat saw. */
static int check_dir(const char *path, struct stat *sb) {
  if (lstat(path, sb) != 0) return errno == ENOENT ? DIR_MISSING : DIR_BAD;
  if (!S_ISDIR(sb->st_mode) || sb->st_uid != geteuid() || (sb->st_mode & 077))
    return DIR_BAD;
  return DIR_OK;
}

/* The candidate directories of file-system names, in lookup order:
 * $XDG_RUNTIME_DIR/ndpar (when that variable names a safe directory),
 * /run/user/<uid>/ndpar (when that is a safe directory), /tmp/ndpar-<uid>
 * (always; created by the first creator that needs it). Duplicates (the
 * usual XDG_RUNTIME_DIR is /run/user/<uid>) and paths too long for a
 * socket address are left out. Returns how many. */
static int candidate_dirs(char dirs[NDP__SHM_NDIRS][SUNMAX]) {
  unsigned uid = (unsigned)geteuid();
  char base[2][64 + SUNMAX];
  int nb = 0, n = 0;
  struct stat sb, seen[2];
  const char *x = getenv("XDG_RUNTIME_DIR");
  if (x && x[0] == '/' && strlen(x) < SUNMAX) snprintf(base[nb++], sizeof base[0], "%s", x);
  snprintf(base[nb++], sizeof base[0], "/run/user/%u", uid);
  for (int i = 0; i < nb; i++) {
    if (check_dir(base[i], &sb) != DIR_OK) continue;
    bool dup = false;
    for (int j = 0; j < n; j++)
      dup |= seen[j].st_dev == sb.st_dev && seen[j].st_ino == sb.st_ino;
    int len = snprintf(dirs[n], SUNMAX, "%s/ndpar", base[i]);
    if (dup || len < 0 || (size_t)len + FILE_ROOM > SUNMAX) continue;
    seen[n++] = sb;
  }
  snprintf(dirs[n++], SUNMAX, "/tmp/ndpar-%u", uid);
  return n;
}

/* The socket file of name in dir: "<dir>/<name>", or "<dir>/#<hash>" (as
 * for the abstract address) where that does not fit sun_path. */
static void fs_file(const char *dir, const char *name, char out[SUNMAX]) {
  int n = snprintf(out, SUNMAX, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= SUNMAX) /* fits: dirs leave FILE_ROOM */
    n = snprintf(out, SUNMAX, "%.*s/#%016llx%016llx", (int)(SUNMAX - FILE_ROOM), dir,
                 (unsigned long long)fnv1a(name, 0xcbf29ce484222325ull),
                 (unsigned long long)fnv1a(name, 0x84222325cbf29ce4ull));
  (void)n;
}

static socklen_t fs_address(const char *path, struct sockaddr_un *sa) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  size_t n = strlen(path);
  memcpy(sa->sun_path, path, n);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

int ndp__shm_fs_paths(const char *name, char paths[NDP__SHM_NDIRS][SUNMAX]) {
  char dirs[NDP__SHM_NDIRS][SUNMAX];
  int nd = candidate_dirs(dirs), n = 0;
  struct stat sb;
  for (int i = 0; i < nd; i++)
    if (check_dir(dirs[i], &sb) == DIR_OK) fs_file(dirs[i], name, paths[n++]);
  return n;
}

/* Creates dir if needed and checks it is safe; else NDP_EIO with a
 * message naming its owner. why: the holder of the abstract address. */
static int ensure_dir(const char *dir, const char *name, const char *why,
                      ndp_status *st) {
  struct stat sb;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return ndp__fail(st, NDP_EIO, "shared array name '%s': its abstract "
                     "address is held by %s, and the directory '%s' for its "
                     "socket file cannot be created: %s", name, why, dir,
                     strerror(errno));
  int k = check_dir(dir, &sb);
  if (k == DIR_OK) return 0;
  if (k != DIR_MISSING && !S_ISDIR(sb.st_mode))
    return ndp__fail(st, NDP_EIO, "shared array name '%s': its abstract "
                     "address is held by %s, and '%s' (owned by uid %lu) is "
                     "not a directory: remove it", name, why, dir,
                     (unsigned long)sb.st_uid);
  if (k != DIR_MISSING && sb.st_uid != geteuid())
    return ndp__fail(st, NDP_EIO, "shared array name '%s': its abstract "
                     "address is held by %s, and the directory '%s' for its "
                     "socket file is owned by uid %lu, not by this user (uid "
                     "%lu): remove it, or set XDG_RUNTIME_DIR to a directory "
                     "of yours", name, why, dir, (unsigned long)sb.st_uid,
                     (unsigned long)geteuid());
  if (k != DIR_MISSING)
    return ndp__fail(st, NDP_EIO, "shared array name '%s': its abstract "
                     "address is held by %s, and the directory '%s' for its "
                     "socket file has mode %04o: group and others must have "
                     "no access (chmod 700 it)", name, why, dir,
                     (unsigned)(sb.st_mode & 07777));
  return ndp__fail(st, NDP_EIO, "shared array name '%s': the directory '%s' "
                   "vanished", name, dir);
}

/* Takes the directory's lock (flock on the directory itself, so nothing
 * is created for it); waits at most 5 s. The descriptor, or a negative
 * code. Called under fs_mu, so a fork never copies a held lock. */
static int lock_dir(const char *dir, ndp_status *st) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return ndp__fail(st, NDP_EIO, "opening directory '%s': %s", dir,
                     strerror(errno));
  for (int i = 0;; i++) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    int e = errno;
    if (e == EINTR) continue;
    if (e != EWOULDBLOCK || i >= 5000) {
      close(fd);
      return ndp__fail(st, NDP_EIO, "locking directory '%s': %s", dir,
                       e == EWOULDBLOCK ? "held by another process for 5 s"
                                        : strerror(e));
    }
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
}

/* ---- who holds an address ----------------------------------------------- */

enum { H_NONE, H_OURS, H_OTHER, H_REFUSED, H_BUSY, H_ERR };

typedef struct {
  int kind;
  long pid;
  unsigned long uid;
} holder;

/* Connects to the address without waiting (a listening socket completes
 * the connection from its backlog) and asks the kernel who listens
 * (SO_PEERCRED). A full backlog is retried for about busy_ms: an ndpar
 * server accepts at once. */
static holder probe(const struct sockaddr_un *sa, socklen_t len, int busy_ms) {
  holder h = {H_ERR, 0, 0};
  for (int waited = 0;;) {
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c < 0) return h;
    int rc = connect(c, (const struct sockaddr *)sa, len), e = errno;
    if (rc == 0) {
      struct ucred cr;
      socklen_t crlen = sizeof cr;
      if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0 &&
          crlen == sizeof cr)
        h = (holder){cr.uid == geteuid() ? H_OURS : H_OTHER, (long)cr.pid,
                     (unsigned long)cr.uid};
      close(c);
      return h;
    }
    close(c);
    if (e == EINTR) continue;
    if (e == EAGAIN && waited++ < busy_ms) {
      nanosleep(&(struct timespec){0, 1000000}, NULL);
      continue;
    }
    h.kind = e == ECONNREFUSED ? H_REFUSED : e == ENOENT ? H_NONE
           : e == EAGAIN ? H_BUSY : H_ERR;
    return h;
  }
}

/* ---- publish / unpublish ------------------------------------------------ */

/* Binds a new listening socket of s to sa (dir: the directory of a socket
 * file, else NULL) and links s. 0, 1 when the address is in use, or a
 * negative code. */
static int bind_sock(ndp_shm *s, const struct sockaddr_un *sa, socklen_t len,
                     const char *dir, ndp_status *st) {
  int rc = 0;
  pthread_mutex_lock(&S.mu);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    rc = ndp__fail(st, errno == ENOMEM || errno == ENOBUFS ? NDP_ENOMEM : NDP_EIO,
                   "socket for shared array '%s': %s", s->name, strerror(errno));
  } else if (bind(fd, (const struct sockaddr *)sa, len) < 0) {
    int e = errno;
    close(fd);
    rc = e == EADDRINUSE ? 1
       : ndp__fail(st, e == ENOMEM ? NDP_ENOMEM : NDP_EIO,
                   "binding shared array name '%s': %s", s->name, strerror(e));
  } else {
    struct stat sb;
    /* listening from the start: a bound address that refuses connections
     * is never an ndpar creator's (probe's H_REFUSED) */
    if (listen(fd, 128) < 0 || (dir && lstat(sa->sun_path, &sb) != 0)) {
      rc = ndp__fail(st, NDP_EIO, "listen for shared array '%s': %s",
                     s->name, strerror(errno));
      if (dir) unlink(sa->sun_path);
      close(fd);
    } else {
      s->lfd = fd;
      s->bound = true;
      s->serving = s->dying = false;
      if (dir) {
        snprintf(s->fspath, sizeof s->fspath, "%s", sa->sun_path);
        snprintf(s->fsdir, sizeof s->fsdir, "%s", dir);
        s->fsdev = sb.st_dev;
        s->fsino = sb.st_ino;
      }
      link_locked(s);
    }
  }
  pthread_mutex_unlock(&S.mu);
  return rc;
}

/* Whether a process of ours serves name through a socket file in one of
 * dirs: NDP_EEXIST naming it, else 0. A stale file (its creator died) in
 * dirs[locked] is removed. */
static int check_files(const char *name, char dirs[NDP__SHM_NDIRS][SUNMAX],
                       int n, int locked, ndp_status *st) {
  struct stat sb;
  for (int i = 0; i < n; i++) {
    if (check_dir(dirs[i], &sb) != DIR_OK) continue;
    char path[SUNMAX];
    fs_file(dirs[i], name, path);
    if (lstat(path, &sb) != 0 || !S_ISSOCK(sb.st_mode)) continue;
    struct sockaddr_un sa;
    socklen_t len = fs_address(path, &sa);
    holder h = probe(&sa, len, 200);
    if (h.kind == H_OURS)
      return ndp__fail(st, NDP_EEXIST, "shared array name '%s' is already "
                       "used by process %ld (socket %s)", name, h.pid, path);
    if (h.kind == H_BUSY)
      return ndp__fail(st, NDP_EEXIST, "shared array name '%s' is already "
                       "used (socket %s, busy)", name, path);
    if (h.kind == H_REFUSED && i == locked) unlink(path); /* stale */
  }
  return 0;
}

static void describe(const holder *h, char *buf, size_t size) {
  if (h->kind == H_OTHER)
    snprintf(buf, size, "process %ld of another user (uid %lu)", h->pid, h->uid);
  else if (h->kind == H_REFUSED)
    snprintf(buf, size, "a socket that is not an ndpar name (it refuses "
             "connections)");
  else
    snprintf(buf, size, "a process that does not accept connections");
}

/* The abstract address first; when it is held by anything but a process
 * of this user, a socket file in this user's directory (see the header). */
int ndp__shm_bind(ndp_shm *s, ndp_status *st) {
  pthread_once(&atfork_once, install_atfork);
  struct sockaddr_un sa;
  socklen_t len;
  ndp__shm_address(s->name, &sa, &len);
  char dirs[NDP__SHM_NDIRS][SUNMAX];
  int n = candidate_dirs(dirs), lk = -1;
  struct stat sb;
  holder h;
  pthread_mutex_lock(&fs_mu);
  int rc = bind_sock(s, &sa, len, NULL, st);
  if (rc == 0) { /* ours; unless a socket file of ours has the name */
    if (check_dir(dirs[0], &sb) == DIR_OK) lk = lock_dir(dirs[0], NULL);
    if ((rc = check_files(s->name, dirs, n, lk >= 0 ? 0 : -1, st)) != 0)
      ndp__shm_unbind(s);
    goto out;
  }
  if (rc < 0) goto out;
  h = probe(&sa, len, 200);
  if (h.kind != H_OURS) { /* fall back to the file system */
    char why[128];
    describe(&h, why, sizeof why);
    if ((rc = ensure_dir(dirs[0], s->name, why, st)) != 0) goto out;
    if ((lk = rc = lock_dir(dirs[0], st)) < 0) goto out;
    /* under the lock: the address may have been freed meanwhile */
    if ((rc = bind_sock(s, &sa, len, NULL, st)) == 0) {
      if ((rc = check_files(s->name, dirs, n, 0, st)) != 0) ndp__shm_unbind(s);
      goto out;
    }
    if (rc < 0) goto out;
    h = probe(&sa, len, 200);
  }
  if (h.kind == H_OURS) {
    rc = ndp__fail(st, NDP_EEXIST, "shared array name '%s' is already used "
                   "by process %ld", s->name, h.pid);
    goto out;
  }
  if ((rc = check_files(s->name, dirs, n, 0, st)) != 0) goto out;
  char path[SUNMAX];
  fs_file(dirs[0], s->name, path);
  struct sockaddr_un fsa;
  socklen_t flen = fs_address(path, &fsa);
  if ((rc = bind_sock(s, &fsa, flen, dirs[0], st)) == 1)
    rc = ndp__fail(st, NDP_EEXIST, "shared array name '%s': '%s' exists and "
                   "is not a socket of this user's", s->name, path);
out:
  if (lk >= 0) close(lk);
  pthread_mutex_unlock(&fs_mu);
  if (rc == 0 && s->fspath[0]) pthread_once(&atexit_once, install_atexit);
  return rc;
}

int ndp__shm_serve(ndp_shm *s, ndp_status *st) {
  int rc = 0;
  pthread_mutex_lock(&S.mu);
  while (S.state == STOPPING) pthread_cond_wait(&S.cv, &S.mu);
  if (!s->bound) {
    rc = ndp__fail(st, NDP_EIO, "shared array '%s' lost its name", s->name);
  } else if (reserve_locked(S.nserving + 2) != 0) {
    rc = ndp__fail(st, NDP_ENOMEM, "out of memory serving shared array '%s'",
                   s->name);
  } else if (S.state == IDLE && (rc = start_locked(st)) != 0) {
    /* message set */
  } else {
    s->serving = true;
    S.nserving++;
    wake_locked();
  }
  pthread_mutex_unlock(&S.mu);
  return rc;
}

void ndp__shm_unbind(ndp_shm *s) {
  if (s->fspath[0]) { /* remove the file while it is still ours */
    pthread_mutex_lock(&fs_mu);
    int lk = lock_dir(s->fsdir, NULL);
    struct stat sb;
    if (lstat(s->fspath, &sb) == 0 && sb.st_dev == s->fsdev &&
        sb.st_ino == s->fsino)
      unlink(s->fspath);
    if (lk >= 0) close(lk);
    s->fspath[0] = 0;
    pthread_mutex_unlock(&fs_mu);
  }
  pthread_mutex_lock(&S.mu);
  if (!s->bound) { /* never bound, already unbound, or after fork */
    pthread_mutex_unlock(&S.mu);
    return;
  }
  if (s->serving) {
    s->dying = true;
    if (--S.nserving == 0) {
      stop_locked();
    } else {
      uint64_t e = ++S.epoch;
      wake_locked();
      while (S.ack < e) pthread_cond_wait(&S.cv, &S.mu);
    }
  }
  close(s->lfd);
  s->lfd = -1;
  s->bound = s->serving = s->dying = false;
  unlink_locked(s);
  pthread_mutex_unlock(&S.mu);
}
