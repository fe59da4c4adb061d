"""ndpar map_chunks' processes backend: a pool of forked workers.

What: ``_map_processes`` runs a map_chunks job (a ``_map._Job``) in forked
worker processes: it forks the workers, hands out chunk numbers over one
socketpair per worker, gathers their answers, reaps them, enforces the
timeout, widens the shared output when a result needs a wider dtype, and
carries the workers' exceptions back (RemoteError, WorkerDiedError). The
API, its argument checks, chunk sizing and the threads backend are in
_map.py.

Protocol of the processes backend: func runs only in workers. One
socketpair per worker. When the output's shape and dtype are not known
(out=None) or chunks='auto', one worker first runs the first items alone
(the timing probe, or the first chunk) and answers ``('probed', items
done, seconds per item, kinds, results or None)``; the parent allocates the
shared output from those results. Then nworkers workers are forked (they
see the output). The parent writes chunk numbers (int64; the worker reads
them in order) and keeps two in flight per worker, handing out the next
when a worker reports one done: dynamic scheduling. A worker answers each
chunk with one frame (uint32 length + pickle): ``('ok', cid,
returned_a_value)``; ``('widen', cid, result)`` when the result needs a
wider dtype than the shared output has (the parent then hands out no more
chunks, lets the queued ones finish, widens the output itself, stores the
results sent back and forks fresh workers for the remaining chunks); or
``('err', cid, exception, traceback text)`` / ``('exit', cid, ...)`` (func
raised SystemExit or KeyboardInterrupt), after which it stops. The parent
polls all sockets with a 0.1 s timeout (or less, up to timeout=) and checks
its children with waitpid(WNOHANG) at that pace, so a worker that dies
(end of file on its socket, or an exit status) is reported as
WorkerDiedError within about 0.1 s. Workers ignore SIGINT (the parent
turns Ctrl-C into KeyboardInterrupt and kills them), run ndpar with one
thread, and always leave with os._exit, never through the parent's cleanup
code.

Invariants: whichever way a call ends, every child has been waited for and
every socket is closed before _map_processes returns or raises.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pickle
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import warnings
from typing import Any, Callable, Iterator

import numpy as np

from . import _ndpar
from ._map import (_NAME, _Job, _Widen, _auto_size, _check_writes_visible, _cut, _left,
                   _probe)

_POLL_S = 0.1       # parent's poll timeout and waitpid pace
_INFLIGHT = 2       # chunk numbers queued per worker
_EXIT_WAIT_S = 2.0  # a worker told to stop gets this long to exit
_HDR = struct.Struct("<I")
_CID = struct.Struct("<q")
_SENDFLAGS = getattr(socket, "MSG_NOSIGNAL", 0)

# The parent ends of every live worker socket in this process, for all
# calls (several threads may run map_chunks at once): a new worker closes
# them all, so no worker keeps another's connection open.
_PARENT_FDS: set = set()


class WorkerDiedError(RuntimeError):
    """A worker process of ``map_chunks(..., backend='processes')`` died.

    Also raised when func raises SystemExit or KeyboardInterrupt in a
    worker (the worker ends; the caller never exits because of it).

    Attributes: ``pid``; ``signal`` (the signal number that killed it, or
    None); ``exitcode`` (its exit status, or the status SystemExit asked
    for, or None); ``chunk`` (the slice of items it was running, or None if
    it was idle).
    """

    def __init__(self, msg: str, pid: int = 0, signal: int | None = None,
                 exitcode: int | None = None, chunk: slice | None = None) -> None:
        super().__init__(msg)
        self.pid = pid
        self.signal = signal
        self.exitcode = exitcode
        self.chunk = chunk

    def __reduce__(self) -> Any:
        return (type(self), (str(self), self.pid, self.signal, self.exitcode, self.chunk))


class RemoteError(RuntimeError):
    """An exception raised by func in a worker process of
    ``map_chunks(..., backend='processes')`` that cannot be raised as
    itself in the caller: it does not survive pickling, and its class
    cannot be imported in the caller (a class defined inside a function)
    or made from its args.

    Attributes: ``type_name`` (``'module.QualName'`` of the original
    class), ``remote_traceback`` (its traceback in the worker, as text; it
    is also the ``__cause__``).
    """

    def __init__(self, msg: str, type_name: str = "", remote_traceback: str = "") -> None:
        super().__init__(msg)
        self.type_name = type_name
        self.remote_traceback = remote_traceback

    def __reduce__(self) -> Any:
        return (type(self), (str(self), self.type_name, self.remote_traceback))


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process (its text)."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return "\n\n--- traceback in the worker process ---\n" + self.tb.rstrip("\n")


# ---- processes backend: worker side ------------------------------------------------------

_IN_WORKER = False  # True in a worker process


def _send(sock: socket.socket, msg: tuple) -> None:
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HDR.pack(len(data)) + data, _SENDFLAGS)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            return None
        buf += part
    return buf


def _survives_pickle(x: Any) -> bytes | None:
    try:
        data = pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
        return data
    except Exception:  # noqa: BLE001 - anything pickle may raise
        return None


def _pack_exception(e: BaseException) -> tuple:
    """('pickle', data) if e survives a pickle round trip, else ('class',
    module, qualname, args, str(e)): each arg that does not survive pickle
    is replaced by its repr."""
    data = _survives_pickle(e)
    if data is not None:
        return ("pickle", data)
    t = type(e)
    args = tuple(a if _survives_pickle(a) is not None else repr(a)
                 for a in getattr(e, "args", ()))
    try:
        text = str(e)
    except Exception:  # noqa: BLE001
        text = "<str() failed>"
    return ("class", t.__module__, t.__qualname__, args, text)


def _send_error(sock: socket.socket, cid: int, e: BaseException) -> None:
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    if isinstance(e, Exception):
        _send(sock, ("err", cid, _pack_exception(e), tb))
        return
    # SystemExit, KeyboardInterrupt, GeneratorExit: the worker ends; in the
    # caller that is a WorkerDiedError, never an exit
    code = None
    if isinstance(e, SystemExit):
        c = e.code
        code = 0 if c is None else c if isinstance(c, int) and not isinstance(c, bool) else 1
    try:
        text = "%s(%s)" % (type(e).__name__, ", ".join(repr(a) for a in e.args))
    except Exception:  # noqa: BLE001
        text = type(e).__name__
    _send(sock, ("exit", cid, text, code, tb))


def _prefault_list(job: _Job) -> list:
    """The shared, writeable arrays whose rows a worker writes: a forked
    process has no page-table entries for shared memory, so mapping a
    chunk's rows in one call (MADV_POPULATE_WRITE) beats faulting each
    4 KiB page on first write (about 2x, measured). Only ndpar's own shared
    memory qualifies: private arrays would be copied, and a file mapping
    (np.memmap) would have every page dirtied and written back."""
    cands = [] if job.windowed else list(job.arrays)
    if job.target is not None:
        cands.append(job.target)
    return [a for a in cands
            if isinstance(a, np.ndarray) and a.ndim >= 1 and len(a) == job.nitems
            and a.flags.writeable and _on_segment(a)]


def _on_segment(a: np.ndarray) -> bool:
    """True if a is a view of an ndpar shared segment."""
    b = a
    while isinstance(b, np.ndarray):
        b = b.base
    return isinstance(b, _ndpar.Segment)


def _worker_loop(sock: socket.socket, job: _Job, bounds: list) -> None:
    job.report_widen = True
    prefault = _prefault_list(job)
    while True:
        raw = _recv_exact(sock, _CID.size)
        if raw is None:
            return
        cid = _CID.unpack(raw)[0]
        if cid < 0:
            return
        lo, hi = bounds[cid]
        try:
            for a in prefault:
                _ndpar.prefault(a[lo:hi])
            kind = job.run(lo, hi)
        except _Widen as w:  # the parent widens the output and stores it
            _send(sock, ("widen", cid, w.result))
            continue
        except BaseException as e:  # noqa: BLE001 - every failure goes to the parent
            _send_error(sock, cid, e)
            return
        _send(sock, ("ok", cid, kind))


def _worker_first(sock: socket.socket, job: _Job, task: tuple) -> None:
    """The first items, alone in one worker: ('probe', nworkers) times them
    (chunks='auto'), ('first', hi) runs [0, hi). Results go to a private
    array and back to the parent (which allocates the shared output from
    them) when map_chunks allocates the output, else into the output."""
    if job.own:
        job._alloc = np.empty
    try:
        if task[0] == "probe":
            done, per_item = _probe(job, task[1])
        else:
            done, per_item = task[1], 0.0
            job.run(0, done)
        data = job.target[:done] if job.own and job.target is not None else None
    except BaseException as e:  # noqa: BLE001
        _send_error(sock, 0, e)
        return
    _send(sock, ("probed", done, per_item, tuple(job.kinds), data))


def _worker_main(sock: socket.socket, job: _Job, bounds: list, task: tuple | None) -> None:
    """The child's whole life; never returns."""
    global _IN_WORKER
    code = 70
    try:
        try:
            _IN_WORKER = True
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            # The collector must not walk the parent's objects: that would
            # write to (and so copy) every page holding one.
            gc.freeze()
            for fd in list(_PARENT_FDS):  # every call's, other threads' included
                try:
                    os.close(fd)
                except OSError:
                    pass
            _ndpar.set_num_threads(1)
            if task is None:
                _worker_loop(sock, job, bounds)
            else:
                _worker_first(sock, job, task)
            code = 0
        finally:
            for f in (sys.stdout, sys.stderr):
                try:
                    if f is not None:
                        f.flush()
                except BaseException:  # noqa: BLE001
                    pass
    except BaseException:  # noqa: BLE001 - a protocol failure: the parent sees the status
        pass
    finally:
        os._exit(code)


# ---- processes backend: parent side ------------------------------------------------------

class _Worker:
    __slots__ = ("pid", "sock", "buf", "inflight", "status")

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self.sock = sock
        self.buf = bytearray()
        self.inflight: list = []
        self.status: int | None = None  # wait status once reaped


@contextlib.contextmanager
def _deferred_sigint() -> Iterator[None]:
    """Holds off KeyboardInterrupt in the main thread for the block (forking
    and registering a worker, stopping the workers), then delivers it. In
    other threads there is nothing to hold off: Python raises it only in
    the main thread."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is None):  # None: a handler set from C
        yield
        return
    got: list = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        if got:
            signal.raise_signal(signal.SIGINT)


def _fork_worker(workers: list, job: _Job, bounds: list, task: tuple | None) -> None:
    """Forks one worker and appends it to workers (Ctrl-C held off, so a
    forked child is always recorded)."""
    sock, child_end = socket.socketpair()
    _PARENT_FDS.add(sock.fileno())
    try:
        with _deferred_sigint():
            with warnings.catch_warnings():
                # Python >= 3.12 warns about fork() in a process with threads
                # (ndpar's pool); the child only runs this module's loop.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                _worker_main(child_end, job, bounds, task)
            workers.append(_Worker(pid, sock))
    except BaseException:
        if not workers or workers[-1].sock is not sock:
            _PARENT_FDS.discard(sock.fileno())
            sock.close()
        raise
    finally:
        child_end.close()


def _died(w: _Worker, bounds: list) -> WorkerDiedError:
    st = w.status
    chunk = slice(*bounds[w.inflight[0]]) if w.inflight else None
    where = ("while running chunk [%d:%d)" % (chunk.start, chunk.stop)) if chunk else "while idle"
    sig = code = None
    if st is None:
        how = "closed its connection"
    elif os.WIFSIGNALED(st):
        sig = os.WTERMSIG(st)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "signal %d" % sig
        how = "was killed by signal %d (%s)" % (sig, name)
    else:
        code = os.waitstatus_to_exitcode(st)
        how = "exited with status %d" % code
    return WorkerDiedError("%s: worker process %d %s %s" % (_NAME, w.pid, how, where),
                           w.pid, sig, code, chunk)


def _reap(w: _Worker, block: bool) -> bool:
    """waitpid on w; True once it is reaped."""
    if w.status is not None:
        return True
    try:
        pid, st = os.waitpid(w.pid, 0 if block else os.WNOHANG)
    except ChildProcessError:  # reaped by someone else (waitpid(-1) in user code)
        w.status = 0
        return True
    if pid == 0:
        return False
    w.status = st
    return True


def _stop_all(workers: list, graceful: bool) -> None:
    """Ends every worker: closes the sockets (a worker reads end of file
    and exits), waits up to _EXIT_WAIT_S if graceful, then SIGKILL and
    waitpid. Ctrl-C is held off meanwhile."""
    with _deferred_sigint():
        for w in workers:
            _PARENT_FDS.discard(w.sock.fileno())
            w.sock.close()
        if graceful:
            deadline = time.monotonic() + _EXIT_WAIT_S
            pause = 0.0005
            while not all(_reap(w, False) for w in workers) and time.monotonic() < deadline:
                time.sleep(pause)
                pause = min(pause * 2, 0.02)
        for w in workers:
            if w.status is None:
                try:
                    os.kill(w.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for w in workers:
            _reap(w, True)


def _find_class(module: str, qualname: str) -> type | None:
    """The exception class module.qualname as the caller can import it."""
    if "<locals>" in qualname:
        return None
    mod = sys.modules.get(module)
    if mod is None:
        try:
            mod = importlib.import_module(module)
        except Exception:  # noqa: BLE001
            return None
    obj: Any = mod
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, type) and issubclass(obj, BaseException) else None


def _rebuild(packed: tuple, tb: str, pid: int) -> BaseException:
    """The exception a worker sent: unpickled, or rebuilt from its class
    and args, or a RemoteError."""
    if packed[0] == "pickle":
        try:
            exc = pickle.loads(packed[1])
            if isinstance(exc, BaseException):
                return exc
        except Exception:  # noqa: BLE001
            pass
        return RemoteError("%s: worker process %d raised an exception that could not be "
                           "unpickled" % (_NAME, pid), "?", tb)
    _, module, qualname, args, text = packed
    cls = _find_class(module, qualname)
    if cls is not None:
        try:
            exc = cls(*args)
        except Exception:  # noqa: BLE001 - an __init__ that wants other arguments
            try:
                exc = cls.__new__(cls, *args)
                exc.args = args
            except Exception:  # noqa: BLE001
                exc = None
        if isinstance(exc, cls):
            return exc
    name = qualname if module == "builtins" else "%s.%s" % (module, qualname)
    return RemoteError("%s: func raised %s: %s (it could not be sent from worker process %d, "
                       "and its class cannot be rebuilt here)" % (_NAME, name, text, pid),
                       name, tb)


def _remote_error(packed: tuple, tb: str, pid: int, chunk: tuple) -> BaseException:
    exc = _rebuild(packed, tb, pid)
    exc.__cause__ = _RemoteTraceback(tb)
    if hasattr(exc, "add_note"):
        exc.add_note("(raised by func in %s worker process %d, chunk [%d:%d))"
                     % (_NAME, pid, chunk[0], chunk[1]))
    return exc


class _Scheduler:
    """The parent's loop over one set of workers: hands out chunk numbers,
    reads reports, watches the deadline. With first=True its one worker
    runs the first items by itself (no chunk numbers are sent)."""

    def __init__(self, job: _Job, bounds: list, workers: list, deadline: float | None,
                 first: bool = False) -> None:
        self.job, self.bounds, self.workers = job, bounds, workers
        self.deadline = deadline
        self.next = 0
        self.done = 0
        self.widened: list = []   # (cid, result) of chunks the output could not hold
        self.probed: tuple | None = None
        if first:
            workers[0].inflight.append(0)
            self.next = 1

    def give(self, w: _Worker) -> None:
        if not self.widened and self.next < len(self.bounds):
            cid = self.next
            self.next += 1
            w.inflight.append(cid)
            try:
                w.sock.sendall(_CID.pack(cid), _SENDFLAGS)
            except OSError:
                pass  # it died: its end of file or status says so next

    def message(self, w: _Worker, msg: tuple) -> None:
        tag = msg[0]
        if tag in ("ok", "widen", "probed"):
            cid = 0 if tag == "probed" else msg[1]
            w.inflight.remove(cid)
            self.done += 1
            lo, hi = self.bounds[cid]
            if tag == "ok":
                self.job.note(msg[2], lo, hi)
                self.give(w)
            elif tag == "widen":  # no more chunks out: the output is replaced after these
                self.job.note(True, lo, hi)
                self.widened.append((cid, msg[2]))
            else:
                self.probed = msg[1:]
        elif tag == "err":
            _, cid, packed, tb = msg
            raise _remote_error(packed, tb, w.pid, self.bounds[cid])
        else:  # "exit": func raised SystemExit or KeyboardInterrupt
            _, cid, text, code, tb = msg
            lo, hi = self.bounds[cid]
            e = WorkerDiedError("%s: func raised %s in worker process %d while running chunk "
                                "[%d:%d)" % (_NAME, text, w.pid, lo, hi),
                                w.pid, None, code, slice(lo, hi))
            e.__cause__ = _RemoteTraceback(tb)
            raise e

    def read(self, w: _Worker) -> bool:
        """Reads what w sent; False at end of file."""
        try:
            data = w.sock.recv(1 << 16)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            return False
        buf = w.buf
        buf += data
        while len(buf) >= _HDR.size:
            n = _HDR.unpack_from(buf)[0]
            if len(buf) < _HDR.size + n:
                break
            msg = pickle.loads(bytes(buf[_HDR.size:_HDR.size + n]))
            del buf[:_HDR.size + n]
            self.message(w, msg)
        return True

    def dead(self, w: _Worker) -> WorkerDiedError:
        """w hung up or exited: read what it left, then its status."""
        w.sock.setblocking(False)
        try:
            while self.read(w):
                pass
        except BlockingIOError:
            pass
        deadline = time.monotonic() + 1.0
        while not _reap(w, False) and time.monotonic() < deadline:
            time.sleep(0.002)
        return _died(w, self.bounds)

    def finished(self) -> bool:
        if self.widened:
            return not any(w.inflight for w in self.workers)
        return self.done >= len(self.bounds) or (self.probed is not None)

    def run(self) -> None:
        byfd = {w.sock.fileno(): w for w in self.workers}
        poller = select.poll()
        for fd in byfd:
            poller.register(fd, select.POLLIN)
        for _ in range(_INFLIGHT):
            for w in self.workers:
                self.give(w)
        last_check = time.monotonic()
        while not self.finished():
            wait = _POLL_S
            if self.deadline is not None:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        "%s: timed out (timeout= seconds passed) with %d of %d chunks done; the "
                        "worker processes were killed" % (_NAME, self.done, len(self.bounds)))
                wait = min(wait, left)
            for fd, _ev in poller.poll(wait * 1000):
                w = byfd[fd]
                if not self.read(w):
                    raise self.dead(w)
                if self.finished():
                    return
            now = time.monotonic()
            if now - last_check >= _POLL_S:
                last_check = now
                for w in self.workers:
                    if _reap(w, False):
                        raise self.dead(w)


def _run_epoch(job: _Job, bounds: list, nworkers: int, deadline: float | None,
               task: tuple | None = None) -> _Scheduler:
    """Forks workers for bounds (one running task, if given), runs them to
    the end (or to a widening of the output) and stops them."""
    for f in (sys.stdout, sys.stderr):  # or the children print it again
        if f is not None:
            try:
                f.flush()
            except (OSError, ValueError):
                pass
    _left(deadline)
    workers: list = []
    graceful = False
    try:
        for _ in range(1 if task else min(nworkers, len(bounds))):
            _fork_worker(workers, job, bounds, task)
        s = _Scheduler(job, bounds, workers, deadline, task is not None)
        s.run()
        graceful = True
    finally:
        _stop_all(workers, graceful)
    return s


def _map_processes(job: _Job, func: Callable, arrays: list, out: np.ndarray | None,
                   size: int | None, nworkers: int, deadline: float | None) -> None:
    """User code runs only in worker processes. The first items run alone in
    one worker when chunks='auto' (timed there) or when the output's shape
    and dtype are not known yet; the rest in nworkers workers. A result the
    shared output cannot hold (a wider dtype) comes back to this process:
    no more chunks go out, the running ones finish, the output is widened
    here, and fresh workers (which see the new output) take the rest."""
    n = job.nitems
    start = 0
    checked = False
    if size is None or job.target is None:
        if n == 0:
            task: tuple = ("first", 0)
        elif size is None:
            task = ("probe", nworkers)
        else:
            task = ("first", min(size, n))
        hi = max(1, n // (64 * nworkers)) if task[0] == "probe" else task[1]
        s = _run_epoch(job, [(0, hi)], 1, deadline, task)
        start, per_item, kinds, data = s.probed
        job.kinds |= set(kinds)
        if data is not None:
            job.store(0, start, data)
        if size is None:
            size = _auto_size(n, start, per_item, nworkers)
        checked = job.kinds == {False} and n > 0
        if checked:  # known before forking the rest: fail early
            _check_writes_visible(func, arrays, out)
    bounds = _cut(start, n, size)
    while bounds:
        s = _run_epoch(job, bounds, nworkers, deadline)
        for cid, r in s.widened:
            job.store(*bounds[cid], r)
        bounds = bounds[s.next:]
    if job.kinds == {False} and not checked and n > 0:
        _check_writes_visible(func, arrays, out)
