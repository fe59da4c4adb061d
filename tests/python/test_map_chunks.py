"""ndpar.map_chunks: user code over chunks and windows, on threads or forked
processes; faults (exceptions, dead workers, Ctrl-C) and leaks."""
from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import gc
import os
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ndpar
from ndpar_testutil import run_child
from ndpar._map import WorkerDiedError

BACKENDS = ["threads", "processes"]
WORKERS = 2  # processes: enough to exercise scheduling on any machine


# ---- helpers -----------------------------------------------------------------------------

def fds():
    return sorted(os.listdir("/proc/self/fd"))


def ndpar_maps():
    with open("/proc/self/maps") as f:
        return sum("memfd:ndpar" in line for line in f)


def assert_no_children():
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


@contextlib.contextmanager
def no_leaks():
    """Nothing left behind by the block: fds, children, mappings, /dev/shm."""
    gc.collect()
    fds0, maps0, shm0 = fds(), ndpar_maps(), set(os.listdir("/dev/shm"))
    yield
    gc.collect()
    assert fds() == fds0
    assert_no_children()
    assert ndpar_maps() == maps0
    assert set(os.listdir("/dev/shm")) <= shm0


@pytest.fixture(autouse=True)
def _no_children_left():
    yield
    assert_no_children()


def rolling_reference(func, x, w, mode):
    if mode == "edge":
        p = np.pad(x, [(w // 2, w - 1 - w // 2)] + [(0, 0)] * (x.ndim - 1), mode="edge")
        return np.array([func(p[i:i + w]) for i in range(len(x))])
    return np.array([func(x[k:k + w]) for k in range(len(x) - w + 1)])


def kw(backend):
    return {"backend": backend, "nworkers": WORKERS}


# ---- the seeds' workloads ----------------------------------------------------------------

def test_seed_rows_written_by_worker_processes():
    """The first seed: m[i, :] = i + 1 by rows in worker processes, into a
    shared matrix, then m = exp(m) per chunk."""
    rows, cols = 16, 4096
    m = ndpar.shared_zeros((rows, cols), np.float64)

    def write_m(chunk, index):
        chunk[:] = np.arange(index.start, index.stop)[:, None] + 1

    assert ndpar.map_chunks(write_m, m, chunks=3, **kw("processes")) is None
    np.testing.assert_array_equal(m, np.repeat(np.arange(1.0, rows + 1)[:, None], cols, axis=1))

    def calc_m(chunk):
        chunk[:] = np.exp(chunk)

    ndpar.map_chunks(calc_m, m, chunks=2, **kw("processes"))
    np.testing.assert_array_equal(m[:, 0], np.exp(np.arange(1.0, rows + 1)))
    assert (m == m[:, :1]).all()
    # the same, by returning the rows
    e = ndpar.map_chunks(np.log, m, **kw("processes"))
    np.testing.assert_allclose(e[:, -1], np.arange(1.0, rows + 1))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["edge", None])
def test_seed_rolling_mean_equals_plain_loop(backend, mode):
    """The second seed's RollingMean: a window of 21 points, np.mean."""
    x = np.random.default_rng(1).random(20_000).cumsum()
    got = ndpar.map_chunks(np.mean, x, windows=(21, mode), **kw(backend))
    ref = rolling_reference(np.mean, x, 21, mode)
    assert got.dtype == np.float64 and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    if mode == "edge":  # the seed's own formulation
        padded = np.pad(x, 10, mode="edge")
        np.testing.assert_array_equal(
            got, [np.mean(padded[i:i + 21]) for i in range(len(x))])


@settings(max_examples=60)
@given(n=st.integers(0, 60), w=st.integers(1, 12), mode=st.sampled_from(["edge", None]),
       chunks=st.one_of(st.just("auto"), st.integers(1, 70)))
def test_windows_property(n, w, mode, chunks):
    x = np.arange(n, dtype=np.float64) ** 1.5
    got = ndpar.map_chunks(lambda v: v.sum() * 10 + v[0], x, windows=(w, mode), chunks=chunks,
                           nworkers=3)
    nwin = n if mode == "edge" else max(0, n - w + 1)
    assert got.shape == (nwin,)
    if nwin:
        np.testing.assert_array_equal(
            got, rolling_reference(lambda v: v.sum() * 10 + v[0], x, w, mode))


@pytest.mark.parametrize("backend", BACKENDS)
def test_windows_are_views_with_index_and_several_arrays(backend):
    x = np.arange(50.0)
    y = np.arange(50.0) * 100
    z = np.arange(100.0).reshape(50, 2)

    def f(a, b, c, index):
        assert a.base is not None and not a.flags.owndata  # a view, not a copy
        assert a.shape == (5,) and b.shape == (5,) and c.shape == (5, 2)
        return a[2] + b[2] + c[2, 1] + 1000 * index

    got = ndpar.map_chunks(f, x, y, z, windows=(5, "edge"), chunks=7, **kw(backend))
    i = np.arange(50)
    np.testing.assert_array_equal(got, x + y + z[:, 1] + 1000 * i)
    # trailing windows: the index is the position in the output
    got = ndpar.map_chunks(lambda a, index: a[-1] - index, x, windows=(4, None), **kw(backend))
    np.testing.assert_array_equal(got, np.full(47, 3.0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_windows_non_scalar_results_and_given_out(backend):
    x = np.arange(30.0)
    got = ndpar.map_chunks(lambda v: np.array([v.min(), v.max()]), x, windows=(3, None),
                           **kw(backend))
    assert got.shape == (28, 2)
    np.testing.assert_array_equal(got[:, 0], x[:28])
    out = np.zeros(30, np.float32)
    r = ndpar.map_chunks(np.sum, x, windows=(3, "edge"), out=out, **kw(backend))
    assert r is out
    np.testing.assert_array_equal(out[1:-1], (x[:-2] + x[1:-1] + x[2:]).astype(np.float32))
    with pytest.raises(ValueError, match="None for window"):
        ndpar.map_chunks(lambda v: None, x, windows=(3, "edge"), **kw(backend))
    with pytest.raises(ValueError, match="None for window 17"):
        ndpar.map_chunks(lambda v, index: None if index == 17 else 1.0, x, windows=(3, "edge"),
                         chunks=4, **kw(backend))


def test_windows_too_long_gives_empty():
    x = np.arange(5.0)
    got = ndpar.map_chunks(np.mean, x, windows=(9, None))
    assert got.shape == (0,)
    got = ndpar.map_chunks(np.mean, x, windows=(9, "edge"))  # edge: any length works
    np.testing.assert_array_equal(got, rolling_reference(np.mean, x, 9, "edge"))


# ---- closures, lambdas, index, several arrays, gathering ---------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_closures_and_lambdas(backend):
    x = np.arange(10_000.0)
    scale = 3.0
    table = {"offset": 7.0}

    def make(k):
        def inner(a):
            return a * k + table["offset"]
        return inner

    np.testing.assert_array_equal(ndpar.map_chunks(lambda a: a * scale, x, **kw(backend)),
                                  x * 3)
    np.testing.assert_array_equal(ndpar.map_chunks(make(2.0), x, chunks=999, **kw(backend)),
                                  x * 2 + 7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_index_parameter(backend):
    x = np.zeros(1000)
    got = ndpar.map_chunks(lambda a, index: np.arange(index.start, index.stop) + a, x,
                           chunks=37, **kw(backend))
    np.testing.assert_array_equal(got, np.arange(1000.0))

    seen = ndpar.shared_zeros((1000, 2), np.int64)

    def record(a, *, index):
        assert isinstance(index, slice) and index.step is None
        seen[index, 0] = index.start
        seen[index, 1] = index.stop - index.start
        assert len(a) == index.stop - index.start

    assert ndpar.map_chunks(record, x, chunks=100, out=seen, **kw(backend)) is None
    np.testing.assert_array_equal(seen[:, 0], np.arange(1000) // 100 * 100)
    assert (seen[:, 1] == 100).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_several_arrays_and_trailing_shapes(backend):
    a = np.arange(600.0).reshape(200, 3)
    b = np.arange(200, dtype=np.int32)
    got = ndpar.map_chunks(lambda p, q: p * q[:, None], a, b, chunks=17, **kw(backend))
    assert got.shape == (200, 3) and got.dtype == np.float64
    np.testing.assert_array_equal(got, a * b[:, None])
    # result shape differs from the inputs': trailing shape of the first result
    got = ndpar.map_chunks(lambda p: np.stack([p, p, p, p], axis=1), b, **kw(backend))
    assert got.shape == (200, 4) and got.dtype == np.int32
    np.testing.assert_array_equal(got[:, 2], b)
    got = ndpar.map_chunks(lambda p: (p > 100).astype(np.complex128), b, **kw(backend))
    assert got.dtype == np.complex128
    np.testing.assert_array_equal(got.real, b > 100)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shared_out", [False, True])
def test_given_out(backend, shared_out):
    x = np.arange(5000.0)
    out = ndpar.shared_zeros((5000,), np.float32) if shared_out else np.zeros(5000, np.float32)
    with no_leaks():
        r = ndpar.map_chunks(lambda a: a + 1, x, out=out, chunks=300, **kw(backend))
        assert r is out
        del r
    np.testing.assert_array_equal(out, (x + 1).astype(np.float32))
    with pytest.raises(ValueError, match="'out'"):
        ndpar.map_chunks(lambda a: a, x, out=np.zeros(4999), **kw(backend))
    with pytest.raises(ValueError, match="'out'"):
        ndpar.map_chunks(lambda a: a, x, out=np.zeros(()), **kw(backend))


def test_results_of_wrong_shape():
    x = np.arange(100.0)
    with pytest.raises(ValueError, match=r"shape \(\) for chunk \[0:"):
        ndpar.map_chunks(np.sum, x)
    with pytest.raises(ValueError, match=r"chunk \[30:40\)"):
        ndpar.map_chunks(lambda a, index: a if index.start != 30 else a[:5], x, chunks=10)
    with pytest.raises(ValueError, match="expected"):
        ndpar.map_chunks(lambda a, index: a[:, None] if index.start else a, x, chunks=10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mixed_none_and_results(backend):
    x = ndpar.shared_zeros(100)
    with pytest.raises(ValueError, match="None for some chunks|None for chunk|but None"):
        ndpar.map_chunks(lambda a, index: None if index.start == 50 else a, x, chunks=10,
                         **kw(backend))
    out = np.zeros(100)
    with pytest.raises(ValueError, match="None"):
        ndpar.map_chunks(lambda a, index: None if index.start == 50 else a, x, chunks=10,
                         out=out, **kw(backend))


def test_processes_none_without_shared_memory_is_an_error():
    x = np.zeros(100)
    with no_leaks():
        with pytest.raises(ValueError, match="shared memory"):  # found by the first chunk
            ndpar.map_chunks(lambda a: a.fill(1), x, chunks=10, backend="processes",
                             nworkers=2)
        with pytest.raises(ValueError, match="shared memory"):  # found after the run
            ndpar.map_chunks(lambda a: a.fill(1), x, chunks=10, out=np.zeros(100),
                             backend="processes", nworkers=2)
    # a shared array func writes through its closure is fine
    s = ndpar.shared_zeros(100)

    def put(a, index):
        s[index] = index.start

    assert ndpar.map_chunks(put, x, chunks=10, backend="processes", nworkers=2) is None
    np.testing.assert_array_equal(s, np.arange(100) // 10 * 10)


def test_empty_input():
    x = np.zeros((0, 3))
    for backend in BACKENDS:
        got = ndpar.map_chunks(lambda a: a * 2, x, **kw(backend))
        assert got.shape == (0, 3)
        assert ndpar.map_chunks(lambda a: None, x, **kw(backend)) is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_object_results(backend):
    x = np.arange(10)
    if backend == "threads":
        got = ndpar.map_chunks(lambda a: np.array([str(v) for v in a], dtype=object), x)
        assert list(got) == [str(v) for v in x]
    else:
        with pytest.raises(TypeError, match="object"):
            ndpar.map_chunks(lambda a: np.array([str(v) for v in a], dtype=object), x,
                             chunks=3, **kw(backend))


# ---- chunks='auto' -----------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_auto_chunks_balance_and_cost(backend):
    """Slow items: chunks of about 20 ms, at least ~4 per worker."""
    n = 400
    sizes = ndpar.shared_zeros(n, np.int64)

    def slow(a, index):
        time.sleep(0.0005 * len(a))  # 0.5 ms per item
        sizes[index] = index.stop - index.start

    ndpar.map_chunks(slow, np.zeros(n), **kw(backend))
    chunk_sizes = sizes[sizes > 0]
    assert (sizes > 0).all()
    big = chunk_sizes.max()
    # 20 ms / 0.5 ms = 40 items on an idle machine, 400/(4*2) = 50 at most;
    # a busy machine stretches the sleeps of the timed chunk (smaller chunks),
    # so the lower bound only asks that slow items are still grouped
    assert 2 <= big <= 100
    # cheap items: capped by the balance rule
    sizes[:] = 0
    ndpar.map_chunks(lambda a, index: sizes.__setitem__(index, index.stop - index.start),
                     np.zeros(100_000), **kw(backend))
    assert sizes.max() <= 100_000 // (4 * WORKERS) + 1
    assert (sizes > 0).all()


def test_chunks_int_bounds():
    n = 103
    starts = []
    ndpar.map_chunks(lambda a, index: starts.append((index.start, index.stop)), np.zeros(n),
                     chunks=10, nworkers=3)
    assert sorted(starts) == [(b, min(b + 10, n)) for b in range(0, n, 10)]


# ---- exceptions --------------------------------------------------------------------------

class CustomError(Exception):
    pass


class Unpicklable(Exception):
    def __init__(self, a, b):  # pickle calls cls(*args) with one arg: fails
        super().__init__("%s/%s" % (a, b))


def boom(a, index):
    if index.start >= 500:
        raise CustomError("bad chunk at %d" % index.start)
    return a


@pytest.mark.parametrize("backend", BACKENDS)
def test_exception_type_message_and_traceback(backend):
    x = np.arange(2000.0)
    with no_leaks():
        with pytest.raises(CustomError, match=r"^bad chunk at \d+00") as info:
            ndpar.map_chunks(boom, x, chunks=100, **kw(backend))
        if backend == "threads":  # the original frames
            names = [e.name for e in info.traceback]
            assert "boom" in names
        else:  # the worker's traceback as the cause
            cause = info.value.__cause__
            assert cause is not None
            assert "in boom" in str(cause) and 'raise CustomError("bad chunk at' in str(cause)
        del info


def test_exception_that_cannot_be_pickled():
    def f(a, index):
        if index.start == 30:
            raise Unpicklable(1, 2)
        return a

    with no_leaks():  # rebuilt from its class (importable here) and args
        with pytest.raises(Unpicklable, match="^1/2") as info:
            ndpar.map_chunks(f, np.arange(100.0), chunks=10, backend="processes", nworkers=2)
        assert "raise Unpicklable(1, 2)" in str(info.value.__cause__)
        del info


@pytest.mark.parametrize("backend", BACKENDS)
def test_exception_stops_the_other_workers(backend):
    """After an error in one chunk the remaining chunks are not all run."""
    ran = ndpar.shared_zeros(200, np.int64)

    def f(a, index):
        if index.start == 20:
            raise CustomError("twentieth")
        time.sleep(0.01)
        ran[index] = 1

    with pytest.raises(CustomError):
        ndpar.map_chunks(f, ran, chunks=1, **kw(backend))
    time.sleep(0.05)
    assert ran.sum() < 100


# ---- dead workers ------------------------------------------------------------------------

def _quiet_crash():
    """In the worker about to crash: no core file, no faulthandler dump."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    faulthandler.disable()


DEATHS = {
    "sigkill": (lambda: os.kill(os.getpid(), signal.SIGKILL), "signal 9", signal.SIGKILL, None),
    "exit3": (lambda: os._exit(3), "status 3", None, 3),
    "segfault": (lambda: (_quiet_crash(), ctypes.string_at(0)), "signal 11", signal.SIGSEGV, None),
}


@pytest.mark.parametrize("how", sorted(DEATHS))
def test_worker_death_raises_quickly(how):
    die, text, sig, code = DEATHS[how]

    def f(a, index):
        if index.start == 40:
            die()
        time.sleep(0.001)
        return a

    with no_leaks():
        t0 = time.monotonic()
        with pytest.raises(WorkerDiedError, match=text) as info:
            ndpar.map_chunks(f, np.arange(400.0), chunks=10, backend="processes", nworkers=2)
        assert time.monotonic() - t0 < 2.0
        e = info.value
        assert isinstance(e, RuntimeError) and e.pid > 0
        assert e.signal == sig and e.exitcode == code
        assert e.chunk == slice(40, 50) and "[40:50)" in str(e)
        del info, e


def test_worker_death_while_others_run_long_chunks():
    """A death is seen even while the other worker is busy for a long time."""
    def f(a, index):
        if index.start == 0:
            time.sleep(30)
        else:
            os.kill(os.getpid(), signal.SIGKILL)

    with no_leaks():
        t0 = time.monotonic()
        with pytest.raises(WorkerDiedError):
            ndpar.map_chunks(f, ndpar.shared_zeros(2), chunks=1, out=ndpar.shared_zeros(2),
                             backend="processes", nworkers=2)
        assert time.monotonic() - t0 < 2.0


# ---- Ctrl-C ------------------------------------------------------------------------------

def _interrupt_after(delay, box):
    def fire():
        box["sent"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Timer(delay, fire)
    t.start()
    return t


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_stops_every_worker(backend):
    def long(a):
        time.sleep(0.02) if backend == "threads" else time.sleep(20)
        return a

    x = np.arange(400.0) if backend == "threads" else np.arange(40.0)
    out = np.zeros(len(x))  # so no chunk runs in the caller first
    with no_leaks():
        box = {}
        t0 = time.monotonic()
        t = _interrupt_after(0.4, box)
        try:
            with pytest.raises(KeyboardInterrupt):
                ndpar.map_chunks(long, x, chunks=1, out=out, **kw(backend))
                box["finished"] = True  # the interrupt came too late
                time.sleep(5)
        finally:
            t.join()
        caught = time.monotonic()
        assert "finished" not in box
        assert caught - box["sent"] < 1.0
        assert caught - t0 < 3.0


# ---- nesting, fork, leaks ----------------------------------------------------------------

def test_nested_calls():
    x = np.arange(4000.0)

    def inner_threads(a):
        return ndpar.map_chunks(lambda b: b + 1, a, chunks=50, nworkers=2)

    np.testing.assert_array_equal(ndpar.map_chunks(inner_threads, x, chunks=1000, nworkers=2),
                                  x + 1)

    def inner_processes(a):  # forked from a pool thread
        return ndpar.map_chunks(lambda b: b * 2, a, chunks=100, backend="processes",
                                nworkers=2)

    with no_leaks():
        np.testing.assert_array_equal(
            ndpar.map_chunks(inner_processes, x, chunks=2000, nworkers=2), x * 2)

    def in_worker(a):  # threads inside a worker process; processes there: in-process
        b = ndpar.map_chunks(lambda c: c - 1, a, chunks=30, nworkers=2)
        return ndpar.map_chunks(lambda c: c * 10, b, backend="processes")

    with no_leaks():
        np.testing.assert_array_equal(
            ndpar.map_chunks(in_worker, x, chunks=500, backend="processes", nworkers=2),
            (x - 1) * 10)


def test_concurrent_calls_from_python_threads():
    """Several threads fork workers at once: each call's workers get only
    their own connection (no call waits for another's workers to exit)."""
    x = np.arange(20_000.0)
    errors = []

    def work(k):
        try:
            for i in range(4):
                r = ndpar.map_chunks(lambda a: a * k + i, x, chunks=500, backend="processes",
                                     nworkers=2)
                np.testing.assert_array_equal(r, x * k + i)
                r = ndpar.map_chunks(lambda a: a - k, x, chunks=700, nworkers=2)
                np.testing.assert_array_equal(r, x - k)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    with no_leaks():
        t0 = time.monotonic()
        threads = [threading.Thread(target=work, args=(k,)) for k in (2, 3, 4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert time.monotonic() - t0 < 5.0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_after_use():
    x = np.arange(3000.0)
    ndpar.map_chunks(lambda a: a + 1, x, chunks=100, nworkers=2)
    ndpar.map_chunks(lambda a: a + 1, x, chunks=100, backend="processes", nworkers=2)

    def child():
        ok = np.array_equal(ndpar.map_chunks(lambda a: a * 3, x, chunks=100, nworkers=2), x * 3)
        ok &= np.array_equal(ndpar.map_chunks(np.mean, x, windows=(3, None),
                                              backend="processes", nworkers=2),
                             rolling_reference(np.mean, x, 3, None))
        return bool(ok)

    assert run_child(child) == 0


def test_no_leaks_after_many_calls():
    x = np.arange(1000.0)
    with no_leaks():
        for i in range(30):
            r = ndpar.map_chunks(lambda a: a + i, x, chunks=100, backend="processes",
                                 nworkers=2)
            assert r[0] == i
            r = ndpar.map_chunks(lambda a: a + i, x, chunks=100, out=np.zeros(1000),
                                 backend="processes", nworkers=2)
            with pytest.raises(CustomError):
                ndpar.map_chunks(boom, x, chunks=100, backend="processes", nworkers=2)
        del r


def test_shared_temporary_released_on_error():
    x = np.arange(1000.0)
    out = np.zeros(1000)
    gc.collect()
    maps0 = ndpar_maps()
    with pytest.raises(CustomError) as info:
        ndpar.map_chunks(boom, x, chunks=100, out=out, backend="processes", nworkers=2)
    # the traceback keeps map_chunks' frames alive: the temporary is gone anyway
    assert info.value.__traceback__ is not None
    assert ndpar_maps() == maps0


def test_output_printed_before_the_call_is_not_repeated():
    code = textwrap.dedent("""
        import sys, numpy as np, ndpar
        print("before", end="")
        sys.stdout.write("-more")
        ndpar.map_chunks(lambda a: a * 2, np.arange(100.0), chunks=10, backend="processes",
                         nworkers=2)
        def f(a, index):
            if index.start == 50:
                print("from-worker")
            return a
        ndpar.map_chunks(f, np.arange(100.0), chunks=10, backend="processes", nworkers=2)
        print("-after")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("before-more") == 1
    assert r.stdout.count("from-worker") == 1 and r.stdout.count("-after") == 1


def test_child_that_ignores_its_pipe_is_still_reaped():
    """func closes every fd in the worker: the call still finishes or fails cleanly."""
    def f(a, index):
        if index.start == 10:
            os.closerange(3, 1024)
            time.sleep(0.2)
        return a

    with no_leaks():
        with pytest.raises(WorkerDiedError):
            ndpar.map_chunks(f, np.arange(100.0), chunks=10, backend="processes", nworkers=2)


# ---- arguments ---------------------------------------------------------------------------

def test_bad_arguments():
    x = np.arange(10.0)
    with pytest.raises(TypeError, match="'func'"):
        ndpar.map_chunks(3, x)
    with pytest.raises(TypeError, match="at least one array"):
        ndpar.map_chunks(np.sin)
    with pytest.raises(TypeError, match=r"arrays\[1\]"):
        ndpar.map_chunks(np.add, x, [1, 2, 3])
    with pytest.raises(ValueError, match=r"arrays\[1\] has length 9"):
        ndpar.map_chunks(np.add, x, x[:9])
    with pytest.raises(ValueError, match=r"arrays\[0\] is 0-dimensional"):
        ndpar.map_chunks(np.sin, np.array(2.0))
    for bad in ("fast", "", "Auto"):
        with pytest.raises(ValueError, match="'chunks'"):
            ndpar.map_chunks(np.sin, x, chunks=bad)
    for bad in (0, -3):
        with pytest.raises(ValueError, match="'chunks'"):
            ndpar.map_chunks(np.sin, x, chunks=bad)
    for bad in (1.5, None, True):
        with pytest.raises(TypeError, match="'chunks'"):
            ndpar.map_chunks(np.sin, x, chunks=bad)
    for bad in ("thread", "process", None, 1):
        with pytest.raises(ValueError, match="'backend'"):
            ndpar.map_chunks(np.sin, x, backend=bad)
    for bad in (5, (5,), (5, "edge", 1), (0, "edge"), (-1, None), (3, "reflect"), (2.0, None),
                "ab"):
        with pytest.raises(ValueError, match="'windows'"):
            ndpar.map_chunks(np.mean, x, windows=bad)
    with pytest.raises(ValueError, match="'nworkers'"):
        ndpar.map_chunks(np.sin, x, nworkers=0)
    with pytest.raises(TypeError, match="'out'"):
        ndpar.map_chunks(np.sin, x, out=[0.0] * 10)
    ro = np.zeros(10)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="'out'"):
        ndpar.map_chunks(np.sin, x, out=ro)
    # numpy integers are accepted
    np.testing.assert_array_equal(ndpar.map_chunks(np.sin, x, chunks=np.int64(3),
                                                   windows=None, nworkers=np.int32(2)),
                                  np.sin(x))


def test_shared_array_objects_are_accepted():
    name = "ndpar-test-map-%d" % os.getpid()
    with ndpar.SharedArray.create(name, (10,), np.float64) as s, \
            ndpar.SharedArray.create(name + "-out", (10,), np.float64) as o:
        s.array[:] = np.arange(10.0)
        r = ndpar.map_chunks(lambda a: a + 1, s, out=o, chunks=3, backend="processes",
                             nworkers=2)
        assert r is o.array
        np.testing.assert_array_equal(o.array, np.arange(10.0) + 1)
