"""ndpar.map_chunks: the user's Python function over chunks, on all cores.

What: ``map_chunks(func, *arrays)`` cuts the first axis of the arrays into
ranges [lo, hi) ("chunks") and calls ``func`` on views of each range; or,
with ``windows=(w, mode)``, calls it once per moving window, the windows
being taken chunk by chunk. Results are gathered into one output array, or
func writes into shared memory itself and returns None.

Two backends:

- threads: the chunks run on ndpar's C thread pool
  (``_ndpar.run_threads``); every call takes the GIL, so this pays off
  where func releases it (most NumPy). The first exception stops the job
  and is raised with its own traceback; a KeyboardInterrupt or the
  timeout also interrupts the chunks running on other threads.
- processes: for pure Python that holds the GIL. Workers are forked for
  each call, so func may be a closure or a lambda and the inputs reach the
  children by fork (copy-on-write: nothing is pickled or copied). The
  gathered output lives in ndpar shared memory (a memfd mapped MAP_SHARED)
  allocated before the fork, so the children's writes land in the parent's
  array.

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

Invariants: whichever way a call ends (result, exception, dead worker, timeout,
KeyboardInterrupt) every child has been waited for and every socket is
closed before it returns or raises; the shared temporary used when ``out``
is not shared is released too (the names holding it are cleared, so a
traceback that keeps the frame does not keep the memory).

Thread-safety: map_chunks may be called from several threads at once and
from inside func (nested calls); the processes backend called from a
worker process runs with one worker (in that process) unless nworkers is
given.
"""
from __future__ import annotations

import contextlib
import gc
import importlib
import inspect
import math
import mmap
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
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from . import _ndpar
from ._shared import SharedArray, shared_empty

__all__ = ["map_chunks", "WorkerDiedError", "RemoteError"]

_NAME = "ndpar.map_chunks"

# chunks='auto': the probe runs at least this long (or until it has covered
# 1/64 of a worker's share), then chunks are cut to take about _TARGET_S.
_PROBE_S = 0.002
_TARGET_S = 0.02
_CHUNKS_PER_WORKER = 4

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


# ---- arguments ------------------------------------------------------------------------

def _check_arrays(arrays: Sequence[Any]) -> list:
    if not arrays:
        raise TypeError("%s: needs at least one array after func" % _NAME)
    out = []
    for j, a in enumerate(arrays):
        if isinstance(a, SharedArray):
            a = a.array
        if not isinstance(a, np.ndarray):
            raise TypeError("%s: arrays[%d] must be a numpy array, got %s"
                            % (_NAME, j, type(a).__name__))
        if a.ndim == 0:
            raise ValueError("%s: arrays[%d] is 0-dimensional (chunks are taken along the "
                             "first axis)" % (_NAME, j))
        if j and len(a) != len(out[0]):
            raise ValueError("%s: arrays[%d] has length %d along the first axis, arrays[0] "
                             "has %d (all must be equal)" % (_NAME, j, len(a), len(out[0])))
        out.append(a)
    return out


def _check_int(name: str, v: Any, low: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError("%s: '%s' must be an int, got %s" % (_NAME, name, type(v).__name__))
    v = int(v)
    if v < low:
        raise ValueError("%s: '%s' must be >= %d, got %d" % (_NAME, name, low, v))
    return v


def _check_chunks(chunks: Any) -> int | None:
    if isinstance(chunks, str):
        if chunks != "auto":
            raise ValueError("%s: 'chunks' must be 'auto' or an int >= 1, got %r" % (_NAME, chunks))
        return None
    return _check_int("chunks", chunks, 1)


def _check_windows(windows: Any) -> tuple | None:
    if windows is None:
        return None
    if not isinstance(windows, (tuple, list)) or len(windows) != 2:
        raise ValueError("%s: 'windows' must be a pair (w, mode) with mode 'edge' or None, "
                         "got %r" % (_NAME, windows))
    w, mode = windows
    if isinstance(w, bool) or not isinstance(w, (int, np.integer)):
        raise ValueError("%s: 'windows': the window length must be an int, got %r" % (_NAME, w))
    if w < 1:
        raise ValueError("%s: 'windows': the window length must be >= 1, got %d" % (_NAME, w))
    if mode is not None and mode != "edge":
        raise ValueError("%s: 'windows': mode must be 'edge' or None, got %r" % (_NAME, mode))
    return int(w), mode


def _wants_index(func: Callable) -> bool:
    """True if func has a parameter named index that a keyword can fill."""
    try:
        p = inspect.signature(func).parameters.get("index")
    except (TypeError, ValueError):
        return False
    return p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)


# ---- windows ----------------------------------------------------------------------------

def _window_stack(a: np.ndarray, w: int, mode: str | None) -> np.ndarray:
    """Views of every window of a: shape (nwindows, w, *a.shape[1:]).

    'edge': window i covers [i - w//2, i - w//2 + w) of a padded copy (one
    copy, made here); None: window k covers [k, k + w), complete ones only.
    """
    if mode == "edge":
        pad = [(w // 2, w - 1 - w // 2)] + [(0, 0)] * (a.ndim - 1)
        a = np.pad(a, pad, mode="edge")
    if len(a) < w:
        return np.empty((0, w) + a.shape[1:], a.dtype)
    s = np.lib.stride_tricks.sliding_window_view(a, w, axis=0)
    return np.moveaxis(s, -1, 1) if a.ndim > 1 else s


def _window_caller(func: Callable, stacks: list, want_index: bool) -> Callable:
    """call(lo, hi): the list of func's results for windows lo..hi-1."""
    if len(stacks) == 1:
        s = stacks[0]
        if want_index:
            def call(lo: int, hi: int) -> list:
                return [func(v, index=i) for i, v in zip(range(lo, hi), s[lo:hi])]
        else:
            def call(lo: int, hi: int) -> list:
                return [func(v) for v in s[lo:hi]]
    elif want_index:
        def call(lo: int, hi: int) -> list:
            vs = zip(*[t[lo:hi] for t in stacks])
            return [func(*v, index=i) for i, v in zip(range(lo, hi), vs)]
    else:
        def call(lo: int, hi: int) -> list:
            return [func(*v) for v in zip(*[t[lo:hi] for t in stacks])]
    return call


def _chunk_caller(func: Callable, arrays: list, want_index: bool) -> Callable:
    """call(lo, hi): func on the views [lo:hi] of every array."""
    if len(arrays) == 1:
        a = arrays[0]
        if want_index:
            return lambda lo, hi: func(a[lo:hi], index=slice(lo, hi))
        return lambda lo, hi: func(a[lo:hi])
    if want_index:
        return lambda lo, hi: func(*[x[lo:hi] for x in arrays], index=slice(lo, hi))
    return lambda lo, hi: func(*[x[lo:hi] for x in arrays])


# ---- shared memory -----------------------------------------------------------------------

def _shared_alloc(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """An array in memory that forked workers write into (any plain dtype)."""
    if dtype.hasobject:
        raise TypeError("%s: backend='processes' cannot gather results of dtype %s (Python "
                        "objects cannot live in shared memory); use backend='threads'"
                        % (_NAME, dtype))
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes == 0:
        return np.empty(shape, dtype)
    return shared_empty((nbytes,), np.uint8).view(dtype).reshape(shape)


def _shared_ranges() -> list | None:
    """[(start, end)] of this process's MAP_SHARED mappings, or None."""
    try:
        with open("/proc/self/maps", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    ranges = []
    for line in lines:
        parts = line.split(None, 2)
        if len(parts) >= 2 and parts[1][3:4] == b"s":
            lo, _, hi = parts[0].partition(b"-")
            ranges.append((int(lo, 16), int(hi, 16)))
    return ranges


def _is_shared(a: np.ndarray, ranges: list | None) -> bool:
    """True if a's memory is shared with processes forked later."""
    b = a
    while b is not None:
        if isinstance(b, (_ndpar.Segment, mmap.mmap)):
            return True
        b = getattr(b, "base", None) if isinstance(b, np.ndarray) else getattr(b, "obj", None)
    if ranges and a.size:
        addr = a.__array_interface__["data"][0]
        return any(lo <= addr < hi for lo, hi in ranges)
    return False


def _reachable_arrays(func: Any) -> list:
    """Arrays func can see directly: closure cells, defaults, globals it
    names, partial arguments, its instance's attributes."""
    found: list = []
    seen = 0
    while seen < 8:
        seen += 1
        if hasattr(func, "func") and hasattr(func, "args"):  # functools.partial
            found += list(func.args) + list((getattr(func, "keywords", None) or {}).values())
            func = func.func
            continue
        if hasattr(func, "__self__") and hasattr(func, "__func__"):  # bound method
            found.append(func.__self__)
            found += list(getattr(func.__self__, "__dict__", {}).values())
            func = func.__func__
            continue
        break
    code = getattr(func, "__code__", None)
    if code is None:  # a callable object
        found += list(getattr(func, "__dict__", {}).values())
        call = getattr(type(func), "__call__", None)
        code = getattr(call, "__code__", None)
        func = call
    if code is not None:
        for cell in getattr(func, "__closure__", None) or ():
            try:
                found.append(cell.cell_contents)
            except ValueError:
                pass
        found += list(getattr(func, "__defaults__", None) or ())
        found += list((getattr(func, "__kwdefaults__", None) or {}).values())
        g = getattr(func, "__globals__", {})
        found += [g[n] for n in code.co_names if n in g]
    return [x.array if isinstance(x, SharedArray) else x
            for x in found if isinstance(x, (np.ndarray, SharedArray))]


def _check_writes_visible(func: Any, arrays: list, out: Any) -> None:
    """func returned None in worker processes: its writes only count if
    they went to shared memory, so some array it sees must be shared."""
    ranges = _shared_ranges()
    cands = list(arrays) + ([out] if out is not None else []) + _reachable_arrays(func)
    if any(_is_shared(a, ranges) for a in cands):
        return
    raise ValueError(
        "%s: func returned None under backend='processes', but none of the arrays it sees "
        "(inputs, out=, closure, globals) is in shared memory, so what the worker processes "
        "wrote is lost. Allocate the array it writes into with ndpar.shared_zeros / "
        "ndpar.shared_empty (and pass it as an argument or out=), return the results "
        "instead, or use backend='threads'" % _NAME)


# ---- one job: calling func on a range and storing the result -----------------------------

class _Widen(Exception):
    """In a worker process: a chunk's result does not fit the shared output
    (a wider dtype, or no output yet); it goes back to the parent."""

    def __init__(self, result: np.ndarray) -> None:
        super().__init__()
        self.result = result


def _promote(t: np.dtype, r: np.dtype, lo: int, hi: int, what: str) -> np.dtype:
    """np.result_type of the output's dtype and a new result's, or TypeError."""
    if t == r:
        return t
    try:
        return np.result_type(t, r)
    except TypeError:
        raise TypeError("%s: func returned dtype %s for %s [%d:%d) but %s before; they have no "
                        "common dtype" % (_NAME, r, what, lo, hi, t)) from None


class _Job:
    """func over items [0, nitems); run(lo, hi) does one chunk, stores its
    result into self.target and returns True, or returns False if func
    returned None.

    Output dtype: when map_chunks allocates the output (``own``), its dtype
    is np.result_type of every chunk's result: a chunk that needs a wider
    dtype widens it (a new array, the part already written copied over,
    under self.lock). A thread that stored into the old array while a
    widening was under way (``busy``) stores again into the new one, so
    nothing written concurrently is lost. In a worker process
    (``report_widen``) the shared output cannot be replaced: such a result
    raises _Widen and goes back to the parent."""

    def __init__(self, func: Callable, arrays: list, windows: tuple | None,
                 target: np.ndarray | None, alloc: Callable, own: bool) -> None:
        want_index = _wants_index(func)
        self.windowed = windows is not None
        if self.windowed:
            w, mode = windows
            stacks = [_window_stack(a, w, mode) for a in arrays]
            self.nitems = len(stacks[0])
            self.call = _window_caller(func, stacks, want_index)
        else:
            self.nitems = len(arrays[0])
            self.call = _chunk_caller(func, arrays, want_index)
        self.arrays = arrays
        self.target = target
        self.own = own
        self._alloc = alloc
        self.alloc_s = 0.0  # time spent allocating the output (not func's cost)
        self.kinds: set = set()  # True: a result was returned; False: None
        self.lock = threading.Lock()
        self.busy = False  # a widening is copying the output
        self.report_widen = False

    def alloc(self, shape: tuple, dtype: np.dtype) -> np.ndarray:
        t0 = time.perf_counter()
        a = self._alloc(shape, dtype)
        self.alloc_s += time.perf_counter() - t0
        return a

    def note(self, kind: bool, lo: int, hi: int) -> None:
        if self.kinds and kind not in self.kinds:
            self.kinds.add(kind)
            raise ValueError(
                "%s: func returned %s for chunk [%d:%d) but %s for another chunk; return a "
                "result for every chunk, or None for every chunk (after writing into shared "
                "memory)" % (_NAME, "a result" if kind else "None", lo, hi,
                             "None" if kind else "a result"))
        self.kinds.add(kind)

    def compute(self, lo: int, hi: int) -> np.ndarray | None:
        """func's result for items [lo, hi) as an array, or None."""
        r = self.call(lo, hi)
        if self.windowed:
            try:
                a = np.asarray(r)
            except ValueError as e:
                raise ValueError("%s: func's results for windows [%d:%d) have different "
                                 "shapes: %s" % (_NAME, lo, hi, e)) from None
            if a.dtype.hasobject:
                for k, v in enumerate(r):
                    if v is None:
                        raise ValueError("%s: func returned None for window %d; with windows= "
                                         "it must return a value per window" % (_NAME, lo + k))
            return a
        if r is None:
            self.note(False, lo, hi)
            return None
        self.note(True, lo, hi)
        r = np.asarray(r)
        if r.ndim == 0 or len(r) != hi - lo:
            raise ValueError(
                "%s: func returned shape %s for chunk [%d:%d) of %d items; a result must have "
                "the chunk's length along its first axis (or func returns None)"
                % (_NAME, r.shape, lo, hi, hi - lo))
        return r

    def run(self, lo: int, hi: int) -> bool:
        r = self.compute(lo, hi)
        if r is None:
            return False
        self.store(lo, hi, r)
        return True

    def _check_shape(self, t: np.ndarray, lo: int, hi: int, r: np.ndarray) -> None:
        if r.shape[1:] != t.shape[1:]:
            if self.windowed:
                raise ValueError("%s: func returned shape %s for window %d; expected %s"
                                 % (_NAME, r.shape[1:], lo, t.shape[1:]))
            raise ValueError("%s: func returned shape %s for chunk [%d:%d); expected %s"
                             % (_NAME, r.shape, lo, hi, (hi - lo,) + t.shape[1:]))

    def store(self, lo: int, hi: int, r: np.ndarray) -> None:
        t = self.target
        if t is not None:
            self._check_shape(t, lo, hi, r)
        if t is None or (self.own and r.dtype != t.dtype
                         and _promote(t.dtype, r.dtype, lo, hi, self._what()) != t.dtype):
            if self.report_widen:
                raise _Widen(r)
            with self.lock:
                self._grow(lo, hi, r)
                self.target[lo:hi] = r
            return
        t[lo:hi] = r
        if self.busy or self.target is not t:  # a widening copied t meanwhile
            with self.lock:
                self.target[lo:hi] = r

    def _what(self) -> str:
        return "windows" if self.windowed else "chunk"

    def _grow(self, lo: int, hi: int, r: np.ndarray) -> None:
        """With self.lock: an output that holds r (allocated, or widened)."""
        t = self.target
        if t is None:
            self.target = self.alloc((self.nitems,) + r.shape[1:], r.dtype)
            return
        self._check_shape(t, lo, hi, r)
        dt = _promote(t.dtype, r.dtype, lo, hi, self._what())
        if dt == t.dtype:
            return
        self.busy = True
        try:
            t0 = time.perf_counter()
            new = self._alloc(t.shape, dt)
            new[...] = t
            self.alloc_s += time.perf_counter() - t0
            self.target = new
        finally:
            self.busy = False


# ---- chunk sizes -------------------------------------------------------------------------

def _probe(job: _Job, nworkers: int) -> tuple:
    """Runs the first items, in steps 1, 2, 4, ... until func has taken
    _PROBE_S or 1/64 of a worker's share is done. Returns (items done,
    seconds per item). The output's allocation (on the first result) is not
    func's cost: it is left out."""
    n = job.nitems
    cap = max(1, n // (64 * nworkers))
    done, step = 0, 1
    t0 = time.perf_counter()
    spent = 0.0
    while done < cap:
        k = min(step, cap - done)
        job.run(done, done + k)
        done += k
        spent = time.perf_counter() - t0 - job.alloc_s
        if spent >= _PROBE_S:
            break
        step *= 2
    return done, max(spent, 0.0) / done


def _auto_size(n: int, start: int, per_item: float, nworkers: int) -> int:
    size = max(1, round(_TARGET_S / per_item)) if per_item > 0 else n
    share = -(-(n - start) // (_CHUNKS_PER_WORKER * nworkers))
    return max(1, min(size, share))


def _cut(lo: int, hi: int, size: int) -> list:
    return [(b, min(b + size, hi)) for b in range(lo, hi, size)]


def _left(deadline: float | None) -> float | None:
    """Seconds to the deadline (None: no deadline); TimeoutError once past."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("%s: timed out (timeout= seconds passed)" % _NAME)
    return left


# ---- threads backend (and calls in the caller) -------------------------------------------

def _run_threads(job: _Job, bounds: list, nworkers: int, deadline: float | None) -> None:
    run = job.run

    def chunk(i: int) -> None:
        lo, hi = bounds[i]
        run(lo, hi)

    _ndpar.run_threads(chunk, len(bounds), nworkers, _left(deadline))


def _in_caller(fn: Callable, deadline: float | None) -> Any:
    """fn() on this thread, under the deadline (run_threads of one item:
    its timeout interrupts Python code), returning fn's result."""
    box: list = []
    _ndpar.run_threads(lambda i: box.append(fn()), 1, 1, _left(deadline))
    return box[0]


def _map_local(job: _Job, size: int | None, nworkers: int, deadline: float | None) -> None:
    """The threads backend, and the processes backend inside a worker with
    one worker: every chunk runs in this process."""
    n = job.nitems
    if n == 0:
        _in_caller(lambda: job.run(0, 0), deadline)  # the result's shape and dtype
        return
    start = 0
    if size is None:
        start, per_item = _in_caller(lambda: _probe(job, nworkers), deadline)
        size = _auto_size(n, start, per_item, nworkers)
    bounds = _cut(start, n, size)
    if bounds:
        _run_threads(job, bounds, nworkers, deadline)


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


# ---- the API -----------------------------------------------------------------------------

def _check_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.integer,
                                                               np.floating)):
        raise TypeError("%s: 'timeout' must be a number of seconds or None, got %s"
                        % (_NAME, type(timeout).__name__))
    t = float(timeout)
    if not t > 0:
        raise ValueError("%s: 'timeout' must be > 0 seconds, got %r" % (_NAME, timeout))
    return None if math.isinf(t) else t


def map_chunks(func: Callable, *arrays: Any, out: np.ndarray | None = None,
               chunks: int | str = "auto", backend: str = "threads",
               windows: tuple | None = None, nworkers: int | None = None,
               timeout: float | None = None) -> Any:
    """Calls ``func`` on chunks of the arrays in parallel and gathers the results.

    func receives views of one range ``[lo, hi)`` along the first axis of
    every array (rows of a matrix); all arrays must have the same length
    along it. If func has a parameter named ``index`` it is also passed
    ``index=slice(lo, hi)``. func either

    - returns its part of the result, with the chunk's length along its
      first axis: the parts are gathered into ``out`` (``out[lo:hi] =
      result``, NumPy's casting); when ``out`` is None, a new array of
      length N with the chunks' trailing shape, of the dtype
      ``np.result_type`` of all the chunks' results (as ``np.asarray`` of
      all of them would give: an int chunk and a float chunk give float64,
      never a silent truncation), and map_chunks returns it; or
    - writes into an array itself and returns None for every chunk; then
      map_chunks returns None. Under backend='processes' that array must be
      in shared memory (``ndpar.shared_zeros``/``shared_empty``): if func
      returns None and no array it can see (inputs, out=, closure cells,
      globals it names, defaults) is shared, ValueError is raised, before
      most chunks run when the first items tell (else after the run).

    Returning None for some chunks and results for others is a ValueError.

    backend:
        ``'threads'`` (default): chunks run on ndpar's thread pool, each
        call holding the GIL; fast where func releases it (most NumPy).
        The caller's thread runs chunks too.
        ``'processes'``: for Python code that holds the GIL. func runs
        only in worker processes, never in the caller, so a func that
        crashes, is killed or exits cannot take the caller down. Workers
        are forked for each call, so closures and lambdas work and nothing
        is pickled; inputs reach them by fork (copy-on-write); the gathered
        output is allocated in shared memory (when ``out`` is given but not
        shared, results go through a shared temporary and are copied into
        it). When chunks='auto', or when ``out`` is None (the output's
        shape and dtype are not known yet), the first items run alone in
        one worker first and their results come back pickled. A chunk whose
        result needs a wider dtype than the output has comes back pickled
        too: the output is widened and fresh workers take the remaining
        chunks. Workers run ndpar with one thread. An exception in a worker
        is raised here with the worker's traceback as ``__cause__``: the
        same exception if it can be pickled; else rebuilt from its class
        (if the caller can import it) and args; else ``ndpar.RemoteError``
        (a RuntimeError with ``type_name`` and ``remote_traceback``). A
        worker that dies, or whose func raises SystemExit or
        KeyboardInterrupt, raises ``WorkerDiedError`` (within about 0.1 s
        of a death); Ctrl-C kills the workers. Results of dtype object need
        ``'threads'``.
    nworkers:
        Threads or processes to use: default ``ndpar.get_num_threads()``
        read at call time (so ``with ndpar.threads(n)`` applies; for
        processes, at most the CPUs this process may run on). Threads: with
        one, everything runs in the caller's thread. Processes: at least one
        worker process; inside a worker process (a nested call) one worker
        means the call runs in that worker itself.
    chunks:
        An int: items per chunk (chunk k is ``[k*chunks, (k+1)*chunks)``).
        ``'auto'``: the first items run alone (threads: in the caller;
        processes: in one worker), in steps of 1, 2, 4, ... until func has
        taken 2 ms (allocating the output is not counted) or 1/64 of a
        worker's share (``N // (64 * nworkers)`` items, at least one) is
        done; that gives the cost per item, and the rest is cut into chunks
        of about 20 ms each, but no larger than a quarter of a worker's
        share, so every worker gets at least about 4 chunks (load balance).
    timeout:
        Seconds (a positive number) the whole call may take, or None (no
        limit). Processes: past it every worker is killed (SIGKILL, which
        also ends a stopped or deadlocked one) and reaped, then the builtin
        ``TimeoutError`` is raised. Threads: no further chunk starts, the
        running chunks are interrupted as for Ctrl-C (below), and
        ``TimeoutError`` is raised once they have returned.
    windows:
        ``(w, mode)``: func is called once per moving window of w points
        along the first axis, with a view of that window of each array
        (shape ``(w, *trailing)``, never a copy), and must return one value
        (a scalar, or an array of one fixed shape) per window; the values
        are gathered into ``out`` (default: length = number of windows,
        dtype ``np.result_type`` of all the values' arrays). mode
        ``'edge'``: one centered window per point, covering ``[i - w//2, i
        - w//2 + w)``, the ends padded by repeating the end values (like
        ``np.pad(x, ..., mode='edge')``; one padded copy is made, once).
        mode None: trailing windows ``[k, k + w)`` for k in ``range(N - w +
        1)``, complete ones only. An ``index`` parameter gets the window's
        position in the output (an int). Chunks are ranges of windows
        ('auto' applies). ``ndpar.map_chunks(np.mean, x, windows=(21,
        'edge'), backend='processes')`` is ``[np.mean(p[i:i+21]) for i in
        range(len(x))]`` with ``p = np.pad(x, 10, mode='edge')``.

    Ctrl-C with backend='threads' (the call made from the main thread):
    the KeyboardInterrupt reaches the caller's thread either inside the
    chunk it is running, or within 0.05 s while it waits for the pool's
    threads. Then no further chunk starts, and every other thread running a
    chunk of this call gets KeyboardInterrupt raised asynchronously: a
    chunk running Python code stops at its next bytecode. A chunk inside a
    long C call (a big NumPy operation, ``time.sleep``, a blocking read or
    lock) cannot be interrupted: it finishes that call first, then gets
    KeyboardInterrupt at its next bytecode (an exception handler or
    ``finally`` in func runs as usual; a chunk that returns without running
    any more bytecode returns normally and its result is dropped). The
    caller's own chunk is in the main thread, where the signal also cuts
    short ``time.sleep`` and lock waits, as in any Python code.
    A func that catches the exception (``except BaseException``, or
    ``except Exception`` for TimeoutError) goes on until it returns.
    map_chunks raises KeyboardInterrupt once every chunk has returned, so
    the wait is as long as the longest such C call. The same holds for
    ``timeout=`` with TimeoutError (the caller's own chunk is interrupted
    too). Under backend='processes' Ctrl-C and timeout= kill the workers
    at once, whatever they run.
    """
    if not callable(func):
        raise TypeError("%s: 'func' must be callable, got %s" % (_NAME, type(func).__name__))
    arrays = _check_arrays(arrays)
    size = _check_chunks(chunks)
    if backend not in ("threads", "processes"):
        raise ValueError("%s: 'backend' must be 'threads' or 'processes', got %r"
                         % (_NAME, backend))
    win = _check_windows(windows)
    timeout = _check_timeout(timeout)
    procs = backend == "processes"
    if nworkers is None:
        nworkers = _ndpar.get_num_threads()
        if procs:
            nworkers = max(1, min(nworkers, len(os.sched_getaffinity(0))))
    else:
        nworkers = _check_int("nworkers", nworkers, 1)
    if out is not None:
        if isinstance(out, SharedArray):
            out = out.array
        if not isinstance(out, np.ndarray):
            raise TypeError("%s: 'out' must be a numpy array, got %s" % (_NAME, type(out).__name__))
        if not out.flags.writeable:
            raise ValueError("%s: 'out' is read-only" % _NAME)
    forks = procs and not (_IN_WORKER and nworkers == 1)

    target = out
    alloc: Callable = _shared_alloc if procs else np.empty
    if forks and out is not None and not _is_shared(out, _shared_ranges()):
        if out.dtype.hasobject:
            raise TypeError("%s: backend='processes' cannot gather into an 'out' of dtype "
                            "object; use backend='threads'" % _NAME)
        target = _shared_alloc(out.shape, out.dtype)  # the workers' copy of out
    job = _Job(func, arrays, win, target, alloc, out is None)
    try:
        return _map(job, func, arrays, out, size, nworkers, forks, timeout)
    finally:
        job.target = target = None  # the shared temporary, even if a traceback keeps this frame


def _map(job: _Job, func: Callable, arrays: list, out: np.ndarray | None,
         size: int | None, nworkers: int, forks: bool, timeout: float | None) -> Any:
    n = job.nitems
    if out is not None and (out.ndim == 0 or len(out) != n):
        raise ValueError("%s: 'out' has shape %s; expected length %d along the first axis"
                         % (_NAME, out.shape, n))
    if n == 0 and job.windowed:
        return out if out is not None else np.empty(0)
    deadline = None if timeout is None else time.monotonic() + timeout
    if forks:
        _map_processes(job, func, arrays, out, size, nworkers, deadline)
    else:
        _map_local(job, size, nworkers, deadline)
    return _result(job, out)


def _result(job: _Job, out: np.ndarray | None) -> Any:
    if len(job.kinds) > 1:
        raise ValueError("%s: func returned None for some chunks and a result for others; "
                         "return a result for every chunk, or None for every chunk (after "
                         "writing into shared memory)" % _NAME)
    if job.kinds == {False}:
        return None
    if out is None:
        return job.target
    if job.target is not out:
        out[...] = job.target
    return out
