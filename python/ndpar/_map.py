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

The processes backend's fork pool (forking workers, their socketpair
messages, reaping, timeouts, widening, exception transport) is in
_forkpool.py.

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

import inspect
import math
import mmap
import os
import threading
import time
from typing import Any, Callable, Sequence

import numpy as np

from . import _containers, _ndpar
from ._shared import SharedArray, shared_empty

__all__ = ["map_chunks", "WorkerDiedError", "RemoteError"]

_NAME = "ndpar.map_chunks"

# chunks='auto': the probe runs at least this long (or until it has covered
# 1/64 of a worker's share), then chunks are cut to take about _TARGET_S.
_PROBE_S = 0.002
_TARGET_S = 0.02
_CHUNKS_PER_WORKER = 4


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



# ---- processes backend: the fork pool (_forkpool.py) ------------------------------------
# Imported here, after the job and chunk-sizing names it uses from this module.
from . import _forkpool  # noqa: E402
from ._forkpool import RemoteError, WorkerDiedError, _map_processes  # noqa: E402

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

    Containers: func always gets NumPy chunks. pandas and xarray arrays give
    a result labelled along the first axis as the first of them (windows
    with mode None: by each window's last point, as ``rolling``); a masked
    array raises TypeError. dask arrays give a lazy dask array (one block
    per dask chunk of the first axis, each gathered by map_chunks; index=
    gets global positions; the dtype is what func returns for an empty
    chunk, as for N == 0); windows= and out= are then refused.
    """
    if not callable(func):
        raise TypeError("%s: 'func' must be callable, got %s" % (_NAME, type(func).__name__))
    if any(type(a) is not np.ndarray for a in arrays):
        found = _containers.kinds(arrays)
        if found:
            return _map_containers(func, arrays, found, out, dict(
                chunks=chunks, backend=backend, windows=windows, nworkers=nworkers,
                timeout=timeout))
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
    forks = procs and not (_forkpool._IN_WORKER and nworkers == 1)

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


def _map_containers(func: Callable, arrays: tuple, found: set, out: Any, kw: dict) -> Any:
    """map_chunks over pandas / xarray / masked / dask arguments (the rules
    are _containers.py's): func gets NumPy chunks; the result carries the
    first labelled argument's labels along the first axis (trailing windows:
    those of each window's last point); masked arrays raise TypeError; dask
    arrays give a lazy dask array (windows= is refused there)."""
    if found & {_containers.PANDAS, _containers.XARRAY, _containers.MASKED}:
        tmpl = None
        raw = []
        for j, a in enumerate(arrays):
            v, tmpl = _containers.unwrap_labelled("map_chunks", "arrays[%d]" % j, a, tmpl)
            raw.append(v)
        r = map_chunks(func, *raw, out=out, **kw)
        win = _check_windows(kw["windows"])
        offset = win[0] - 1 if win is not None and win[1] is None else 0
        return r if out is not None else _containers._first_dim_wrap(tmpl, r, offset)
    if out is not None:
        raise _containers.refuse_dask_out("map_chunks")
    if kw["windows"] is not None:
        raise TypeError("%s: windows= with a dask array is not supported (it would have to "
                        "be computed); use ndpar.move_* or dask's map_overlap" % _NAME)
    _check_chunks(kw["chunks"])
    from . import _dask
    return _dask.map_chunks(func, tuple(arrays), dict(kw, windows=None),
                            _wants_index(func))


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

