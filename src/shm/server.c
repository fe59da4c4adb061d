/*
 * shm/server.c - the name service of named shared segments.
 *
 * A name is a listening unix socket in Linux's abstract namespace (see
 * ndp__shm_address). Nothing is left behind in any file system: the kernel
 * drops the name when the last descriptor of the socket closes, which
 * happens when the creator unpublishes, closes, or dies in any way.
 *
 * One server thread per process answers for all of its names. It poll()s
 * the listening sockets plus an eventfd that wakes it when the set
 * changes; on a connection it checks the peer's uid (SO_PEERCRED) and
 * sends the segment's memfd (SCM_RIGHTS) with NDP__SHM_HELLO, then hangs
 * up. A name that is taken is reported with its holder: create connects
 * to it and names the listening process from SO_PEERCRED (taken()). It
 * starts with the first served name and is joined when the last
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
 * its segments marked unpublished, so a child never keeps a name alive.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
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

static void atfork_prepare(void) { pthread_mutex_lock(&S.mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&S.mu); }
static void atfork_child(void) {
  /* Only the forking thread exists; it held S.mu through fork, so the
   * list is consistent. Close every name's socket copy here. */
  for (ndp_shm *s = S.head, *next; s; s = next) {
    next = s->next;
    close(s->lfd);
    s->lfd = -1;
    s->bound = s->serving = s->dying = false;
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
}

static void install_atfork(void) {
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- publish / unpublish ------------------------------------------------ */

/* Why the address of `name` is taken: connects to it (without waiting:
 * a listening socket completes the connection from its backlog) and asks
 * the kernel who listens (SO_PEERCRED). Sets the NDP_EEXIST message. */
static int taken(const char *name, const struct sockaddr_un *sa,
                 socklen_t len, ndp_status *st) {
  int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (c < 0)
    return ndp__fail(st, NDP_EEXIST, "shared array name '%s' already "
                     "exists", name);
  int rc = connect(c, (const struct sockaddr *)sa, len);
  int e = errno;
  struct ucred cr;
  socklen_t crlen = sizeof cr;
  bool known = rc == 0 &&
               getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0 &&
               crlen == sizeof cr;
  close(c);
  if (known && cr.uid == geteuid())
    return ndp__fail(st, NDP_EEXIST, "shared array name '%s' is already "
                     "used by process %ld", name, (long)cr.pid);
  if (known)
    return ndp__fail(st, NDP_EEXIST, "shared array name '%s' is held by "
                     "process %ld of another user (uid %lu): abstract socket "
                     "names cannot be protected, choose another name", name,
                     (long)cr.pid, (unsigned long)cr.uid);
  if (rc != 0 && e == ECONNREFUSED)
    return ndp__fail(st, NDP_EEXIST, "shared array name '%s' is already "
                     "bound by a process that does not serve it (yet: it "
                     "may be creating it right now)", name);
  return ndp__fail(st, NDP_EEXIST, "shared array name '%s' already exists "
                   "(the holder does not answer: %s)", name,
                   rc == 0 ? "unknown peer" : strerror(e));
}

int ndp__shm_bind(ndp_shm *s, ndp_status *st) {
  pthread_once(&atfork_once, install_atfork);
  struct sockaddr_un sa;
  socklen_t len;
  ndp__shm_address(s->name, &sa, &len);
  int rc = 0;
  pthread_mutex_lock(&S.mu);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    rc = ndp__fail(st, errno == ENOMEM || errno == ENOBUFS ? NDP_ENOMEM : NDP_EIO,
                   "socket for shared array '%s': %s", s->name, strerror(errno));
  } else if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
    int e = errno;
    close(fd);
    if (e == EADDRINUSE)
      rc = NDP_EEXIST; /* the message after unlocking: see taken() */
    else
      rc = ndp__fail(st, e == ENOMEM ? NDP_ENOMEM : NDP_EIO,
                     "binding shared array name '%s': %s", s->name, strerror(e));
  } else {
    s->lfd = fd;
    s->bound = true;
    s->serving = s->dying = false;
    link_locked(s);
  }
  pthread_mutex_unlock(&S.mu);
  if (rc == NDP_EEXIST) rc = taken(s->name, &sa, len, st);
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
  } else if (listen(s->lfd, 128) < 0) {
    rc = ndp__fail(st, NDP_EIO, "listen for shared array '%s': %s", s->name,
                   strerror(errno));
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
