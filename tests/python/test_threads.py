"""Thread settings, the GIL, Ctrl-C, fork and concurrent use."""
from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

import ndpar
from ndpar_testutil import run_child


# ---- settings -------------------------------------------------------------------

def test_defaults_and_info():
    d = ndpar.default_num_threads()
    assert isinstance(d, int) and d >= 1
    n = ndpar.get_num_threads()
    assert isinstance(n, int) and n >= 1
    env = os.environ.get("NDPAR_NUM_THREADS")
    if env is None:
        assert d == len(os.sched_getaffinity(0))
    info = ndpar.info()
    assert info["threads"] == n and info["default_threads"] == d
    assert info["isa"] == ndpar.get_isa() and info["cpu_isa"] == ndpar.cpu_isa()
    assert info["version"] == ndpar.__version__
    assert isinstance(info["mathlib"], str) and info["mathlib"]


def test_set_get_and_context_manager():
    before = ndpar.get_num_threads()
    with ndpar.threads(1):
        assert ndpar.get_num_threads() == 1
        with ndpar.threads(3):
            assert ndpar.get_num_threads() == 3
        assert ndpar.get_num_threads() == 1
    assert ndpar.get_num_threads() == before
    # restored on an exception too
    with pytest.raises(ZeroDivisionError):
        with ndpar.threads(5):
            assert ndpar.get_num_threads() == 5
            1 / 0
    assert ndpar.get_num_threads() == before
    ndpar.set_num_threads(4)
    try:
        assert ndpar.get_num_threads() == 4
        assert ndpar.info()["threads"] == 4
        ndpar.set_num_threads(1024)
        assert ndpar.get_num_threads() == 1024
        x = np.arange(100_000.0)
        np.testing.assert_array_equal(ndpar.add(x, 1), x + 1)  # 1024 threads work
    finally:
        ndpar.set_num_threads(before)


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (2000, ValueError),
                                     (1025, ValueError), (2 ** 70, ValueError),
                                     (1.5, TypeError), ("a", TypeError), (None, TypeError),
                                     (True, TypeError), (np.float64(2), TypeError)])
def test_set_num_threads_bad_values(bad, exc):
    before = ndpar.get_num_threads()
    with pytest.raises(exc, match="'n'"):
        ndpar.set_num_threads(bad)
    assert ndpar.get_num_threads() == before
    with pytest.raises(exc, match="'n'"):
        with ndpar.threads(bad):
            pass
    assert ndpar.get_num_threads() == before


def test_set_num_threads_accepts_integer_like():
    before = ndpar.get_num_threads()
    try:
        ndpar.set_num_threads(np.int64(3))  # a NumPy integer is an integer too
        assert ndpar.get_num_threads() == 3
        ndpar.set_num_threads(np.uint8(2))
        assert ndpar.get_num_threads() == 2
        with ndpar.threads(np.int32(1)):
            assert ndpar.get_num_threads() == 1
    finally:
        ndpar.set_num_threads(before)


# ---- the per-context limit ------------------------------------------------------

def _threads_used(n_chunks=64):
    """Idents of the threads that ran the chunks of one map_chunks call."""
    seen = set()
    lock = threading.Lock()

    def f(block):
        with lock:
            seen.add(threading.get_ident())
        return block * 2

    x = np.arange(float(n_chunks))
    r = ndpar.map_chunks(f, x, chunks=1, backend="threads")
    np.testing.assert_array_equal(r, x * 2)
    return seen


def test_threads_block_limits_calls_in_it():
    with ndpar.threads(1):
        assert _threads_used() == {threading.get_ident()}


def test_threads_blocks_interleaved_across_threads():
    """A enters, B enters, A leaves, B leaves: each thread sees its own limit
    throughout and the process default is untouched afterwards (the limit
    used to be process-wide, and this order left the process at 1 thread)."""
    before = ndpar.get_num_threads()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with ndpar.threads(1):
            a_in.set()
            b_in.wait()
            seen["a_in"] = ndpar.get_num_threads()
        a_out.set()
        seen["a_after"] = ndpar.get_num_threads()

    def b():
        a_in.wait()
        with ndpar.threads(3):
            b_in.set()
            a_out.wait()
            seen["b_in"] = ndpar.get_num_threads()
        seen["b_after"] = ndpar.get_num_threads()

    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen == {"a_in": 1, "a_after": before, "b_in": 3, "b_after": before}
    assert ndpar.get_num_threads() == before


def test_threads_block_is_per_thread_not_global():
    before = ndpar.get_num_threads()
    inside, done = threading.Event(), threading.Event()
    other = {}

    def limited():
        with ndpar.threads(1):
            inside.set()
            done.wait()
            other["used"] = _threads_used()

    t = threading.Thread(target=limited)
    t.start()
    try:
        inside.wait()
        assert ndpar.get_num_threads() == before  # not 1: the block is the other thread's
    finally:
        done.set()
        t.join()
    assert other["used"] == {t.ident}


def test_threads_block_per_asyncio_task():
    import asyncio

    async def task(n, gate, seen):
        with ndpar.threads(n):
            await gate.wait()          # the other task enters meanwhile
            seen[n] = ndpar.get_num_threads()
            x = np.arange(10_000.0)
            np.testing.assert_array_equal(ndpar.add(x, 1.0), x + 1)

    async def main():
        gate, seen = asyncio.Event(), {}
        ts = [asyncio.create_task(task(n, gate, seen)) for n in (1, 2, 5)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*ts)
        return seen

    before = ndpar.get_num_threads()
    assert asyncio.run(main()) == {1: 1, 2: 2, 5: 5}
    assert ndpar.get_num_threads() == before


def test_threads_limit_seen_by_callables_on_the_pool():
    seen = []

    def f(v):
        seen.append(ndpar.get_num_threads())
        return v

    x = np.arange(100.0)
    with ndpar.threads(1):
        ndpar.apply_indexed(x, np.zeros(100, np.int64), [f])
    assert seen and set(seen) == {1}


def test_isa_control():
    cpu = ndpar.cpu_isa()
    assert cpu in ("ref", "sse2", "avx2", "avx512")
    order = ["ref", "sse2", "avx2", "avx512"]
    before = ndpar.get_isa()
    try:
        for isa in order:
            if order.index(isa) <= order.index(cpu):
                ndpar.set_isa(isa)
                assert ndpar.get_isa() == isa
                assert ndpar.info()["isa"] == isa
                assert ndpar.cpu_isa() == cpu
                b64, b32 = ndpar.ulp_bound("exp"), ndpar.ulp_bound("exp", True)
                assert b64 >= 0.5 and b32 >= 0.5
                assert ndpar.ulp_bound("add") == 0.5
                assert ndpar.ulp_bound("absolute") == ndpar.ulp_bound("abs")
            else:
                with pytest.raises(ValueError):
                    ndpar.set_isa(isa)
        for bad in ("avx1024", "", "AVX2"):
            with pytest.raises(ValueError, match="isa"):
                ndpar.set_isa(bad)
        with pytest.raises(TypeError):
            ndpar.set_isa(2)
        with pytest.raises(ValueError):
            ndpar.ulp_bound("nosuchfunction")
    finally:
        ndpar.set_isa(before)


def test_measure_bandwidth():
    r = ndpar.measure_bandwidth(1 << 22, 1, 2)
    assert set(r) >= {"copy_gbs", "triad_gbs", "nbytes", "nthreads"}
    assert r["copy_gbs"] > 0 and r["triad_gbs"] > 0
    assert r["nthreads"] == 1
    r = ndpar.measure_bandwidth(nbytes=1 << 20, nthreads=2, reps=1)
    assert r["nthreads"] == 2 and r["nbytes"] > 0
    with pytest.raises(ValueError, match="nbytes"):
        ndpar.measure_bandwidth(-1)


# ---- the GIL -----------------------------------------------------------------------

def test_gil_released_during_long_call():
    x = np.linspace(0, 100, 50_000_000)
    count = [0]
    stop = threading.Event()
    started = threading.Event()

    def counter():
        started.set()
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=counter)
    t.start()
    started.wait()
    try:
        with ndpar.threads(1):
            c0 = count[0]
            t0 = time.perf_counter()
            ndpar.sin(x, out=x)
            dt = time.perf_counter() - t0
            c1 = count[0]
    finally:
        stop.set()
        t.join()
    # With the GIL held for the whole call the counter could not move
    # between c0 and c1 (both read while this thread holds the GIL).
    assert c1 - c0 > 1000, (c1 - c0, dt)
    assert x[1] == pytest.approx(np.sin(100 / (50_000_000 - 1)), rel=1e-12)


# ---- Ctrl-C ------------------------------------------------------------------------------

def _interrupt_after(delay, box):
    def fire():
        time.sleep(delay)
        box["sent"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=fire, daemon=True)
    t.start()
    return t


def test_ctrl_c_interrupts_long_call():
    # signals reach the main thread only, which is where pytest runs tests
    assert threading.current_thread() is threading.main_thread()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    before = ndpar.get_isa()
    try:
        ndpar.set_isa("ref")  # libm pow, one element at a time: slow
        with ndpar.threads(1):
            # calibrate: a call of ~2 s (at most 1.6 GB)
            probe = np.full(1_000_000, 1.0001)
            t0 = time.perf_counter()
            ndpar.power(probe, probe)
            per_item = (time.perf_counter() - t0) / probe.size
            n = int(min(max(20.0 / per_item, 1e7), 2e8))
            x = np.full(n, 1.0001)
            expected_s = per_item * n
            box = {}
            t = _interrupt_after(0.3, box)
            t0 = time.perf_counter()
            with pytest.raises(KeyboardInterrupt):
                ndpar.power(x, 1.5, out=x)
                # a KeyboardInterrupt that arrives only after the call (too
                # late) is caught here, and is a failure
                box["finished"] = time.perf_counter()
                time.sleep(2)
            caught = time.perf_counter()
            t.join()
        assert "finished" not in box, (
            f"the call ran to the end ({box['finished'] - t0:.2f} s, expected "
            f"{expected_s:.2f} s) instead of being interrupted")
        # generous: the point is that the call stops early, on a busy machine too
        assert caught - box["sent"] < 5, caught - box["sent"]
        # still usable afterwards, and gives right answers
        y = np.linspace(0, 1, 100_000)
        np.testing.assert_array_equal(ndpar.multiply(y, 2.0), y * 2)
    finally:
        ndpar.set_isa(before)


def test_ctrl_c_with_several_threads():
    """Cancel with helper threads running: the pool survives."""
    before = ndpar.get_isa()
    try:
        ndpar.set_isa("ref")
        with ndpar.threads(2):
            x = np.full(30_000_000, 1.0001)
            box = {}
            t = _interrupt_after(0.2, box)
            t0 = time.perf_counter()
            try:
                ndpar.power(x, 1.5, out=x)
                ndpar.power(x, 1.5, out=x)
                ndpar.power(x, 1.5, out=x)
                time.sleep(3)  # not interrupted inside ndpar: still raise here
            except KeyboardInterrupt:
                caught = time.perf_counter()
            else:
                pytest.fail("no KeyboardInterrupt")
            t.join()
            assert caught - box["sent"] < 5
            z = np.arange(1_000_000.0)
            np.testing.assert_array_equal(ndpar.add(z, z), z + z)
    finally:
        ndpar.set_isa(before)


# ---- fork -------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_after_use():
    x = np.linspace(-10, 10, 2_000_000)
    with ndpar.threads(2):
        ref = ndpar.sin(x)  # the pool's workers exist now

        def child():
            ndpar.set_num_threads(2)
            ok = np.array_equal(ndpar.sin(x), ref)
            ok &= np.array_equal(ndpar.add(x, x), x + x)
            with ndpar.threads(3):
                ok &= np.array_equal(ndpar.exp(x[:500_000]), ndpar.exp(x[:500_000]))
            return bool(ok)

        assert run_child(child) == 0
        # the parent's pool still works
        np.testing.assert_array_equal(ndpar.sin(x), ref)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_while_another_thread_computes():
    """fork() while a Python thread is inside an ndpar job: the child must
    not inherit a locked pool."""
    x = np.linspace(0, 1, 4_000_000)
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            ndpar.exp(x)

    t = threading.Thread(target=busy)
    with ndpar.threads(2):
        t.start()
        try:
            time.sleep(0.05)
            results = [run_child(lambda: np.array_equal(ndpar.add(x, 1.0), x + 1.0))
                       for _ in range(3)]
        finally:
            stop.set()
            t.join()
    assert results == [0, 0, 0]


def test_multiprocessing_fork_context():
    import multiprocessing as mp

    ctx = mp.get_context("fork")  # Linux: always there
    ndpar.add(np.arange(100_000.0), 1.0)
    with ndpar.threads(2):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            with ctx.Pool(2) as pool:
                res = pool.map_async(_child_sum, [10, 20, 30]).get(timeout=60)
    assert res == [float(np.sum(np.arange(n * 10_000.0) * 2)) for n in (10, 20, 30)]


def _child_sum(n):
    ndpar.set_num_threads(2)
    a = np.arange(n * 10_000.0)
    return float(np.sum(ndpar.multiply(a, 2.0)))


# ---- concurrent use ----------------------------------------------------------------------

def test_concurrent_calls_from_python_threads():
    rng = np.random.default_rng(9)
    data = [rng.standard_normal(300_000 + 17 * i) for i in range(6)]
    ops = [("sin", 1), ("exp", 1), ("add", 2), ("arctan2", 2), ("floor", 1), ("hypot", 2)]
    expected = []
    for i, (name, nin) in enumerate(ops):
        args = (data[i],) if nin == 1 else (data[i], data[i][::-1] * 0.5)
        expected.append((name, args, getattr(ndpar, name)(*args)))
    errors = []
    barrier = threading.Barrier(len(ops))

    def worker(k):
        name, args, exp = expected[k]
        try:
            barrier.wait()
            for _ in range(15):
                got = getattr(ndpar, name)(*args)
                if got.tobytes() != exp.tobytes():
                    errors.append((name, "mismatch"))
                    return
                out = np.empty_like(exp)
                getattr(ndpar, name)(*args, out=out)
                if out.tobytes() != exp.tobytes():
                    errors.append((name, "out mismatch"))
                    return
        except Exception as e:  # pragma: no cover - reported below
            errors.append((name, repr(e)))

    with ndpar.threads(2):
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(ops))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
    # and the results were right in the first place
    for name, args, exp in expected:
        with np.errstate(all="ignore"):
            np.testing.assert_allclose(exp, getattr(np, name)(*args), rtol=1e-13, atol=0)


def test_concurrent_thread_count_changes():
    """set_num_threads from one thread while others compute: no crash, right
    answers."""
    x = np.linspace(-1, 1, 2_000_001)
    ref = np.negative(x)
    stop = threading.Event()
    errors = []

    def compute():
        while not stop.is_set():
            r = ndpar.negative(x)
            if not np.array_equal(r, ref):
                errors.append("mismatch")
                return

    ts = [threading.Thread(target=compute) for _ in range(3)]
    before = ndpar.get_num_threads()
    for t in ts:
        t.start()
    try:
        for n in [1, 2, 3, 7, 1, 2] * 5:
            ndpar.set_num_threads(n)
            time.sleep(0.01)
    finally:
        stop.set()
        for t in ts:
            t.join()
        ndpar.set_num_threads(before)
    assert not errors
