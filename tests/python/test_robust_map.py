"""ndpar.map_chunks robustness: the result dtype over all chunks, user code
only in worker processes under backend='processes', timeout=, prompt
Ctrl-C on threads, exception types from workers, the stub's types.

Every test that could kill or hang the process running it runs the call
in a forked child (ndpar_testutil.run_child): the child's exit code says
whether the caller survived and raised what it should."""
from __future__ import annotations

import ast
import ctypes
import faulthandler
import os
import resource
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import ndpar
from ndpar_testutil import run_child
from ndpar._map import RemoteError, WorkerDiedError

BACKENDS = ["threads", "processes"]


def kw(backend):
    return {"backend": backend, "nworkers": 2}


def no_children():
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.fixture(autouse=True)
def _no_children_left():
    yield
    assert no_children()


# ---- 1. the result dtype is np.result_type over every chunk ----------------------------

def half_range(w):
    return 0 if w.max() == w.min() else (w[-1] - w[0]) / 2


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("chunks", [4, "auto"])
def test_windows_int_then_float_results_are_not_truncated(backend, chunks):
    y = np.r_[np.zeros(40), np.arange(0.0, 300.0, 1.5)]
    ref = np.asarray([half_range(w) for w in np.lib.stride_tricks.sliding_window_view(y, 3)])
    assert ref.dtype == np.float64 and (ref % 1 != 0).any()
    got = ndpar.map_chunks(half_range, y, windows=(3, None), chunks=chunks, **kw(backend))
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


CHUNK_KINDS = {
    # first chunks' result -> later chunks' result
    "int_then_float": (lambda a: a.astype(np.int64), lambda a: a + 0.5),
    "bool_then_int": (lambda a: a > 1e9, lambda a: a.astype(np.int64) * 3),
    "int8_then_int64": (lambda a: a.astype(np.int8), lambda a: a.astype(np.int64) * 1000),
    "uint64_then_int64": (lambda a: a.astype(np.uint64), lambda a: -a.astype(np.int64)),
    "float32_then_float64": (lambda a: (a + 0.1).astype(np.float32), lambda a: a + 1e-9),
    "str_short_then_long": (lambda a: a.astype(np.int64).astype("U1"),
                            lambda a: a.astype(np.int64).astype("U8")),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(CHUNK_KINDS))
def test_chunk_results_promote_like_asarray(backend, case):
    first, later = CHUNK_KINDS[case]
    x = np.arange(300.0)

    def f(a, index):
        return first(a) if index.start < 100 else later(a)

    ref = np.concatenate([f(x[k:k + 20], slice(k, k + 20)) for k in range(0, 300, 20)])
    got = ndpar.map_chunks(f, x, chunks=20, **kw(backend))
    assert got.dtype == ref.dtype, (got.dtype, ref.dtype)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("backend", BACKENDS)
def test_widening_while_other_chunks_are_written(backend):
    """Many small chunks on several threads/processes, alternating int and
    float results: every chunk ends up in the (widened) output."""
    x = np.arange(6000) % 100 * 0.25
    kinds = [np.int8, np.int16, np.int32, np.float64]

    def f(a, index):
        return a.astype(kinds[(index.start // 10) % 4])

    ref = np.concatenate([f(x[k:k + 10], slice(k, k + 10)) for k in range(0, len(x), 10)])
    assert ref.dtype == np.float64
    for _ in range(3):
        got = ndpar.map_chunks(f, x, chunks=10, backend=backend, nworkers=4)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, ref)


def test_results_without_a_common_dtype_raise():
    x = np.arange(100)
    with pytest.raises(TypeError, match="common dtype"):
        ndpar.map_chunks(lambda a, index: a if index.start < 50 else np.datetime64("2020-01-01")
                         + a.astype("m8[D]"), x, chunks=10)


def test_out_keeps_numpy_casting():
    """With out= given the output's dtype is the user's (out[lo:hi] = r)."""
    x = np.arange(100.0) + 0.5
    out = np.zeros(100, np.int64)
    ndpar.map_chunks(lambda a: a, x, out=out, chunks=10, nworkers=2)
    np.testing.assert_array_equal(out, x.astype(np.int64))


# ---- 2. under processes, user code runs only in workers ----------------------------------

@pytest.mark.parametrize("chunks", ["auto", 7])
@pytest.mark.parametrize("windows", [None, (3, "edge")])
def test_processes_never_call_func_in_the_caller(chunks, windows):
    me = os.getpid()
    pids = ndpar.shared_zeros(500, np.int64)
    x = np.arange(500.0)

    def f(a, index):
        pids[index] = os.getpid()
        return a.sum() if windows else a

    got = ndpar.map_chunks(f, x, chunks=chunks, windows=windows, backend="processes",
                           nworkers=2)
    assert (pids != 0).all() and (pids != me).all()
    assert got.shape == (500,)
    for nworkers in (1, 2):  # an empty input: func sees empty views once, in a worker
        seen = ndpar.shared_zeros(1, np.int64)

        def g(a):
            seen[0] = os.getpid()
            return a * 2

        e = ndpar.map_chunks(g, np.zeros((0, 3)), backend="processes", nworkers=nworkers)
        assert e.shape == (0, 3) and seen[0] not in (0, me)


def _quiet_crash():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    faulthandler.disable()


DEATHS = {
    "sigkill": lambda: os.kill(os.getpid(), signal.SIGKILL),
    "os_exit": lambda: os._exit(7),
    "segfault": lambda: (_quiet_crash(), ctypes.string_at(0)),
}


@pytest.mark.parametrize("how", sorted(DEATHS))
@pytest.mark.parametrize("chunks", ["auto", 10])
def test_func_that_kills_its_process_on_the_first_chunk(how, chunks):
    """The first items used to run in the caller (the timing probe, or the
    first chunk with out=None): the caller died."""
    die = DEATHS[how]

    def call():
        try:
            ndpar.map_chunks(lambda a: die(), np.arange(100.0), chunks=chunks,
                             backend="processes", nworkers=2)
        except WorkerDiedError as e:
            return e.chunk is not None and e.chunk.start == 0 and no_children()
        return False

    assert run_child(call) == 0


def raiser(e):
    def leave():
        raise e
    return leave


EXITS = {
    "sys_exit": (lambda: sys.exit(5), 5, "SystemExit"),
    "system_exit_none": (raiser(SystemExit()), 0, "SystemExit"),
    "keyboard_interrupt": (raiser(KeyboardInterrupt()), None, "KeyboardInterrupt"),
}


@pytest.mark.parametrize("how", sorted(EXITS))
@pytest.mark.parametrize("first", [True, False])
@pytest.mark.parametrize("out", [True, False])
def test_system_exit_in_a_worker_is_an_exception_here(how, first, out):
    leave, code, name = EXITS[how]

    def f(a, index):
        if first or index.start == 40:
            leave()
        return a

    def call():
        try:
            ndpar.map_chunks(f, np.arange(100.0), chunks=10, backend="processes", nworkers=2,
                             out=np.zeros(100) if out else None)
        except WorkerDiedError as e:
            return (e.exitcode == code and e.signal is None and name in str(e)
                    and isinstance(e.chunk, slice) and e.__cause__ is not None
                    and no_children())
        return False

    assert run_child(call) == 0


# ---- 3. timeout= -------------------------------------------------------------------------

def stop_self():
    os.kill(os.getpid(), signal.SIGSTOP)


def deadlock():
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()


@pytest.mark.parametrize("hang", [stop_self, deadlock])
@pytest.mark.parametrize("out", [False, True])
def test_processes_timeout_kills_stopped_or_deadlocked_workers(hang, out):
    def f(a, index):
        if index.start == 30:
            hang()
        return a

    def call():
        fds = sorted(os.listdir("/proc/self/fd"))
        t0 = time.monotonic()
        try:
            ndpar.map_chunks(f, np.arange(100.0), chunks=10, backend="processes", nworkers=2,
                             timeout=0.5, out=np.zeros(100) if out else None)
        except TimeoutError as e:
            return ("timed out" in str(e) and no_children() and time.monotonic() - t0 < 20
                    and sorted(os.listdir("/proc/self/fd")) == fds)
        return False

    assert run_child(call, timeout=60) == 0


def test_threads_timeout_interrupts_python_loops():
    def call():
        entered, left = [], []

        def f(a):
            entered.append(threading.get_ident())
            try:
                while True:
                    pass
            finally:
                left.append(threading.get_ident())

        try:
            ndpar.map_chunks(f, np.arange(8.0), chunks=1, nworkers=2, out=np.zeros(8),
                             timeout=0.5)
        except TimeoutError:
            # every thread that entered f (one or two, depending on how fast
            # the pool's thread came) left it, and no chunk started after
            return (entered and sorted(left) == sorted(entered)
                    and len(set(entered)) == len(entered))
        return False

    assert run_child(call, timeout=60) == 0


def spin(a):
    while True:
        pass


def test_threads_timeout_in_the_probe():
    """chunks='auto' times the first items in the caller: a hang there
    is interrupted too."""
    def call():
        try:
            ndpar.map_chunks(spin, np.arange(8.0), timeout=0.3)
        except TimeoutError:
            return True
        return False

    assert run_child(call, timeout=60) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_timeout_not_reached_gives_the_result(backend):
    x = np.arange(1000.0)
    np.testing.assert_array_equal(
        ndpar.map_chunks(lambda a: a * 2, x, chunks=50, timeout=60, **kw(backend)), x * 2)


def test_timeout_is_checked():
    x = np.arange(10.0)
    for bad in (0, -1, float("nan"), -0.5):
        with pytest.raises(ValueError, match="'timeout'"):
            ndpar.map_chunks(lambda a: a, x, timeout=bad)
    for bad in ("1", True, [1]):
        with pytest.raises(TypeError, match="'timeout'"):
            ndpar.map_chunks(lambda a: a, x, timeout=bad)
    np.testing.assert_array_equal(ndpar.map_chunks(lambda a: a, x, timeout=np.float32(5)), x)


# ---- 4. Ctrl-C under threads stops Python chunks at once ---------------------------------

@pytest.mark.parametrize("caller_loops", [True, False])
def test_ctrl_c_interrupts_python_chunks_on_pool_threads(caller_loops):
    """Two chunks, two threads. A pool thread's chunk sets a flag, sends
    SIGINT (once the caller is inside its chunk) and loops in Python forever; the caller's chunk loops too, or
    waits for the flag and returns (then the caller sees the signal in its
    wait for the pool). KeyboardInterrupt must come, and both loops end."""
    def call():
        main = threading.main_thread()
        started, main_in = threading.Event(), threading.Event()
        left = []

        def f(a):
            try:
                if threading.current_thread() is main:
                    main_in.set()
                    started.wait()
                    while caller_loops:
                        pass
                    return a
                started.set()
                main_in.wait()  # the caller is inside f: it gets the signal there or later
                os.kill(os.getpid(), signal.SIGINT)
                while True:
                    pass
            finally:
                left.append(threading.current_thread() is main)

        try:
            ndpar.map_chunks(f, np.arange(2.0), chunks=1, nworkers=2, out=np.zeros(2))
        except KeyboardInterrupt:
            # the pool thread's loop ended; the caller's too when it looped
            # (when it returned, the signal may be handled inside its
            # finally block, before the append)
            return False in left and (True in left or not caller_loops)
        return False

    assert run_child(call, timeout=60) == 0


def test_pool_threads_have_no_pending_interrupt_afterwards():
    """An interrupted call leaves nothing pending on the pool's threads:
    the next call on them runs normally."""
    def call():
        try:
            ndpar.map_chunks(spin, np.arange(4.0), chunks=1, nworkers=2, timeout=0.3)
        except TimeoutError:
            pass
        else:
            return False
        x = np.arange(20_000.0)
        for _ in range(20):
            got = ndpar.map_chunks(lambda a: [v for v in a] and a + 1, x, chunks=100,
                                   nworkers=2)
            if not np.array_equal(got, x + 1):
                return False
        return True

    assert run_child(call, timeout=60) == 0


# ---- 5. exception types from worker processes --------------------------------------------

class LockedError(Exception):
    """Its argument (a lock) cannot be pickled."""


class TwoArgError(ValueError):
    def __init__(self, a, b):  # pickle calls cls(*args) with one arg: fails
        super().__init__("%s/%s" % (a, b))


def test_unpicklable_exception_keeps_its_class():
    def f(a, index):
        if index.start == 30:
            raise LockedError("held", threading.Lock())
        return a

    with pytest.raises(LockedError) as info:
        ndpar.map_chunks(f, np.arange(100.0), chunks=10, backend="processes", nworkers=2)
    e = info.value
    assert e.args[0] == "held" and "lock" in e.args[1]  # the lock's repr
    assert "raise LockedError" in str(e.__cause__)

    def g(a, index):
        if index.start == 30:
            raise TwoArgError(1, 2)
        return a

    with pytest.raises(TwoArgError, match="1/2") as info:
        ndpar.map_chunks(g, np.arange(100.0), chunks=10, backend="processes", nworkers=2)
    assert "raise TwoArgError" in str(info.value.__cause__)


def test_exception_of_a_local_class_is_a_remote_error():
    class Local(Exception):
        pass

    def f(a, index):
        if index.start == 30:
            raise Local("from a local class")
        return a

    with pytest.raises(RemoteError, match="from a local class") as info:
        ndpar.map_chunks(f, np.arange(100.0), chunks=10, backend="processes", nworkers=2)
    e = info.value
    assert isinstance(e, RuntimeError)
    assert e.type_name.endswith("Local") and "<locals>" in e.type_name
    assert 'raise Local("from a local class")' in e.remote_traceback
    assert e.__cause__ is not None and "raise Local" in str(e.__cause__)


# ---- 6. the stub -------------------------------------------------------------------------

def test_stub_types_chunk_as_a_slice_and_has_timeout():
    stub = Path(ndpar.__file__).with_name("__init__.pyi")
    if not stub.exists():
        stub = Path(__file__).parents[2] / "python" / "ndpar" / "__init__.pyi"
    tree = ast.parse(stub.read_text())
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    wde = defs["WorkerDiedError"]
    ann = {s.target.id: ast.unparse(s.annotation) for s in wde.body
           if isinstance(s, ast.AnnAssign)}
    assert ann["chunk"] == "Optional[slice]"
    kwonly = {a.arg: ast.unparse(a.annotation) for a in defs["map_chunks"].args.kwonlyargs}
    assert kwonly["timeout"] == "Optional[float]"


# ---- nworkers follows ndpar.threads(n) at call time --------------------------------------

def test_default_nworkers_is_read_at_call_time():
    x = np.arange(64.0)
    idents = set()

    def f(a):
        idents.add(threading.get_ident())
        time.sleep(0.001)
        return a

    with ndpar.threads(1):
        ndpar.map_chunks(f, x, chunks=1)
    assert idents == {threading.get_ident()}
