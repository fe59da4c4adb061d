/*
 * ndpar/shm.h - arrays in shared memory.
 *
 * A segment is a memfd (not a file in the size-limited /dev/shm) mapped
 * MAP_SHARED, so every process forked after its creation sees the same
 * memory. Pages are touched first in parallel by the pool's threads (the
 * threads that will use them, and a page fault per page on many cores
 * rather than one), with transparent huge pages requested (MADV_HUGEPAGE)
 * where the system allows them for shared memory
 * (/sys/kernel/mm/transparent_hugepage/shmem_enabled set to advise,
 * within_size or always; many systems default to never).
 *
 * Named segments can also be attached by unrelated processes of the same
 * user. The name lives in Linux's abstract socket namespace, served by one
 * background thread of the creating process that hands the memfd to an
 * attaching process (SCM_RIGHTS) after checking its user id. So the name
 * disappears when the creator unpublishes or closes the segment, or exits
 * in any way (a crash included): nothing is left in /dev/shm or any file
 * system, and an attaching process never removes the name. The socket
 * address carries the effective uid ("\0ndpar/<uid>/<name>"), so users
 * have separate namespaces; the attacher also checks the server's uid.
 *
 * An abstract name has no permissions: another local user can bind the
 * exact address of one of our names first. It can neither block the name
 * nor serve us memory. When create finds the address held by anything
 * but a process of this user (another uid, or a socket that refuses
 * connections: ndpar creators listen from the moment they bind), the name
 * becomes a socket file in a directory only this user can enter: the
 * first of $XDG_RUNTIME_DIR/ndpar (if that variable names a directory of
 * ours with mode 0700), /run/user/<uid>/ndpar (the same test), and
 * /tmp/ndpar-<uid>, created with mode 0700 if missing. It must be a real
 * directory owned by this user with no group or other access, else
 * create fails with NDP_EIO naming its owner or mode. The file is
 * "<dir>/<name>" (a hash where that is too long for a socket address); it
 * is removed by unpublish/close and at a normal exit; a crashed creator's
 * file is stale (it refuses connections), is never attached, and is
 * replaced by the next create. Attach tries the abstract address, then
 * the file in each candidate directory of its own environment (so a
 * process whose XDG_RUNTIME_DIR is neither the creator's nor
 * /run/user/<uid> does not see names that fell back to the creator's
 * XDG_RUNTIME_DIR); it trusts only a server of this user. One name is one
 * segment: create fails with NDP_EEXIST while a process of this user
 * serves the name at either place (checked under a lock on the directory;
 * two creators whose XDG_RUNTIME_DIR differ can race only while the
 * abstract address is held by someone else).
 *
 * Processes that attached keep their mapping until they close it; the
 * memory is freed when the last mapping and descriptor are gone. A child
 * forked from the creator does not serve the name (nor remove its file).
 * The server thread exists only while this process publishes at least one
 * name (it is joined when the last one is unpublished). Abstract names
 * are per network namespace: processes in different containers do not
 * see each other's names.
 *
 * Thread-safety: all functions may be called from any thread; one
 * ndp_shm must not be closed while another thread uses it.
 */
#ifndef NDPAR_SHM_H
#define NDPAR_SHM_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "array.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ndp_shm ndp_shm;

/* Names: 1 to 200 characters from [A-Za-z0-9._-]. */
#define NDP_SHM_NAME_MAX 200

/* Checks a name (see above): 0, or NDP_EINVAL with a message saying what
 * is wrong (empty, too long, the first bad character). name NULL:
 * NDP_EINVAL. */
NDP_API int ndp_shm_check_name(const char *name, ndp_status *st);

/* Flags for ndp_shm_create. */
#define NDP_SHM_NOTOUCH 1u  /* do not touch the pages now (they are zero
                               anyway; first use faults them in) */
#define NDP_SHM_NOHUGE  2u  /* do not ask for transparent huge pages */

/* Creates a C-contiguous array of `shape` and `dtype` in a new segment,
 * all zeros. name NULL: anonymous (shared with processes forked later
 * only); else a named segment others may attach to (NDP_EEXIST when a
 * process of this user holds the name, NDP_EINVAL when it is malformed,
 * NDP_EIO when its abstract address is held by another user and the
 * directory for its socket file is not safe; see above). nthreads: threads that
 * touch the pages (0: ndp_get_num_threads(); at most NDP_MAX_THREADS).
 * flags: NDP_SHM_* (other bits: NDP_EINVAL). A zero-size array is
 * allowed; as in NumPy, the non-zero extents must not overflow even when
 * another extent is zero. OUT: *out (NULL on failure). Returns 0,
 * NDP_EINVAL, NDP_EEXIST, NDP_ENOMEM (the system refused the memory),
 * NDP_EOVERFLOW (size overflows), NDP_EIO. */
NDP_API int ndp_shm_create(const char *name, ndp_dtype dtype, int ndim,
                           const int64_t *shape, unsigned flags, int nthreads,
                           ndp_shm **out, ndp_status *st);

/* Maps the named segment created by another process (or this one).
 * Waits at most 5 s for the creator's answer (also while the creator is
 * still building the segment). OUT: *out (NULL on failure). Returns 0,
 * NDP_ENOENT (no such name: never created, or its creator closed it or
 * exited; only held by another user, which is named), NDP_EINVAL (bad
 * name), NDP_EFORMAT (not an ndpar segment: the segment's header is
 * checked as untrusted input), NDP_EIO (no answer in time, or a system
 * call failed). */
NDP_API int ndp_shm_attach(const char *name, ndp_shm **out, ndp_status *st);

/* Like ndp_shm_attach, and interruptible: while it waits for the creator
 * (connecting, then receiving), it wakes about every 50 ms and calls
 * interrupt(ctx) (NULL: never); a non-zero return stops the wait at once
 * with NDP_ECANCELED. The 5 s overall limit is unchanged. interrupt is
 * called from the calling thread (a language binding can check its
 * signals there, e.g. Python's PyErr_CheckSignals with the GIL). */
NDP_API int ndp_shm_attach_ex(const char *name, int (*interrupt)(void *ctx),
                              void *ctx, ndp_shm **out, ndp_status *st);

/* The array (valid until ndp_shm_close). Always C-contiguous, aligned to
 * at least 64 bytes, writable. */
NDP_API const ndp_array *ndp_shm_array(const ndp_shm *s);

/* The name ("" for an anonymous segment); whether this handle created it
 * (still 1 in a forked child, which does not serve the name); the size of
 * the data in bytes. NULL handle: "", 0, 0 (and NULL for ndp_shm_array). */
NDP_API const char *ndp_shm_name(const ndp_shm *s);
NDP_API int ndp_shm_is_creator(const ndp_shm *s);
NDP_API size_t ndp_shm_nbytes(const ndp_shm *s);

/* Creator: stops serving the name (later attaches get NDP_ENOENT); the
 * memory stays mapped here and in processes that attached. Does nothing
 * for an attached or anonymous segment, or when already unpublished. */
NDP_API void ndp_shm_unpublish(ndp_shm *s);

/* Unpublishes (creator), unmaps and frees the handle. NULL is allowed. */
NDP_API void ndp_shm_close(ndp_shm *s);

#ifdef __cplusplus
}
#endif
#endif /* NDPAR_SHM_H */
