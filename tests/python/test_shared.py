"""Shared-memory arrays (shared_empty, shared_zeros, SharedArray) and
parallel_for with native kernels."""
from __future__ import annotations

import ctypes
import gc
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import numpy as np
import pytest

import ndpar
from ndpar_testutil import DTYPES


def fd_count():
    return len(os.listdir("/proc/self/fd"))


def memfd_count():
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if "memfd:ndpar" in os.readlink("/proc/self/fd/" + fd):
                n += 1
        except OSError:
            pass
    return n


def ndpar_maps():
    with open("/proc/self/maps") as f:
        return sum("memfd:ndpar" in line for line in f)


def unique_name():
    return "ndpar-test-" + uuid.uuid4().hex[:12]


def run_python(code, timeout=60):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env)


# ---- anonymous shared arrays ------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_shared_zeros_every_dtype(dtype):
    a = ndpar.shared_zeros((3, 1000), dtype)
    assert a.shape == (3, 1000) and a.dtype == dtype
    assert a.flags.c_contiguous and a.flags.writeable and a.flags.aligned
    assert a.ctypes.data % 64 == 0
    assert not a.any()
    b = ndpar.shared_empty(17, dtype)
    assert b.shape == (17,) and b.dtype == dtype


def test_shapes_and_argument_errors():
    assert ndpar.shared_zeros(0).shape == (0,)
    assert ndpar.shared_zeros((0, 5)).size == 0
    assert ndpar.shared_zeros(()).shape == ()
    assert ndpar.shared_zeros(np.int64(4)).shape == (4,)
    with pytest.raises(ValueError, match="shape"):
        ndpar.shared_zeros((-1, 2))
    with pytest.raises(TypeError, match="shape"):
        ndpar.shared_zeros("abc")
    with pytest.raises(TypeError, match="dtype"):
        ndpar.shared_zeros(3, np.complex128)
    with pytest.raises(TypeError, match="dtype"):
        ndpar.shared_zeros(3, object)
    with pytest.raises((OverflowError, ValueError, MemoryError)):
        ndpar.shared_zeros((2**62, 2**62))


def test_forked_child_writes_are_seen_by_the_parent():
    m = ndpar.shared_zeros((8, 4096), np.uint8)
    pids = []
    for w in range(2):
        pid = os.fork()
        if pid == 0:  # child: the first seed's write_m on its rows
            try:
                for i in range(w * 4, w * 4 + 4):
                    m[i, :] = i + 1
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    np.testing.assert_array_equal(m, np.arange(1, 9, dtype=np.uint8)[:, None].repeat(4096, 1))


def test_memory_is_released_with_the_last_view():
    gc.collect()
    maps0, fds0 = ndpar_maps(), fd_count()
    a = ndpar.shared_zeros((1 << 20,))
    v = a[10:20]
    del a
    gc.collect()
    assert ndpar_maps() > maps0  # the view keeps it mapped
    v[:] = 1
    del v
    gc.collect()
    assert ndpar_maps() == maps0
    assert fd_count() == fds0


# ---- named segments ---------------------------------------------------------------------

def test_create_attach_same_process():
    name = unique_name()
    with ndpar.SharedArray.create(name, (100, 3), np.int32) as s:
        assert s.is_creator and s.name == name and not s.closed
        s.array[:] = np.arange(300).reshape(100, 3)
        t = ndpar.SharedArray.attach(name)
        assert not t.is_creator
        assert t.array.shape == (100, 3) and t.array.dtype == np.int32
        np.testing.assert_array_equal(t.array, s.array)
        t.array[5, 1] = -7
        assert s.array[5, 1] == -7
        sa, ta = s.array, t.array
        t.close()
        # an attached close never removes the name
        u = ndpar.SharedArray.attach(name)
        u.close()
        with pytest.raises(FileExistsError, match=name):
            ndpar.SharedArray.create(name, 3)
    assert s.closed
    with pytest.raises(FileNotFoundError, match=name):
        ndpar.SharedArray.attach(name)
    # arrays taken before close stay valid; the closed objects refuse use
    assert sa[5, 1] == -7 and ta[5, 1] == -7
    assert "SharedArray(" in repr(s)
    with pytest.raises(ValueError, match="closed"):
        s.array


def test_another_process_attaches_and_writes():
    name = unique_name()
    with ndpar.SharedArray.create(name, (4, 1000), np.float64) as s:
        r = run_python(f"""
            import numpy as np, ndpar
            t = ndpar.SharedArray.attach({name!r})
            assert t.array.shape == (4, 1000), t.array.shape
            t.array[2, :] = 2.5
            print(t.array[0, 0])
            t.close()
        """)
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""  # no warnings (resource_tracker or other)
        np.testing.assert_array_equal(s.array[2], 2.5)
        assert s.array[[0, 1, 3]].sum() == 0
        # the attaching process exited: the name is still there
        ndpar.SharedArray.attach(name).close()


def test_two_processes_attach_one_segment():
    name = unique_name()
    with ndpar.SharedArray.create(name, 2, np.int64) as s:
        code = """
            import sys, ndpar
            t = ndpar.SharedArray.attach({name!r})
            t.array[{i}] = {i} + 10
        """
        procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code.format(name=name, i=i))])
                 for i in range(2)]
        assert [p.wait(60) for p in procs] == [0, 0]
        np.testing.assert_array_equal(s.array, [10, 11])


def test_name_disappears_when_the_creator_crashes():
    name = unique_name()
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time, ndpar
        s = ndpar.SharedArray.create({name!r}, (10,), 'float64')
        s.array[:] = 3
        print('ready', flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        t = ndpar.SharedArray.attach(name)
        assert (t.array == 3).all()
        p.send_signal(signal.SIGKILL)
        p.wait(30)
        deadline = time.monotonic() + 5
        while True:
            try:
                ndpar.SharedArray.attach(name).close()
            except FileNotFoundError:
                break
            assert time.monotonic() < deadline, "name survived its creator"
            time.sleep(0.05)
        # the attached mapping survives the creator
        assert (t.array == 3).all()
        t.close()
    finally:
        p.kill()
        p.stdout.close()
        p.wait()


def test_forked_child_of_creator_does_not_keep_the_name():
    name = unique_name()
    s = ndpar.SharedArray.create(name, 4)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(w)
            os.read(r, 1)  # until the parent has closed
        finally:
            os._exit(0)
    os.close(r)
    try:
        s.close()
        with pytest.raises(FileNotFoundError):
            ndpar.SharedArray.attach(name)
    finally:
        os.close(w)
        os.waitpid(pid, 0)


def test_bad_names():
    for bad in ["", "a/b", "x" * 300, "sp ace", "nul\0"]:
        with pytest.raises(ValueError):
            ndpar.SharedArray.create(bad, 3)
    with pytest.raises(TypeError):
        ndpar.SharedArray.create(5, 3)
    with pytest.raises(TypeError):
        ndpar.SharedArray.attach(None)


def test_no_leaks_after_many_cycles():
    gc.collect()
    fds0, maps0, memfds0 = fd_count(), ndpar_maps(), memfd_count()
    shm0 = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    for i in range(50):
        name = unique_name()
        with ndpar.SharedArray.create(name, (64, 64), np.float32) as s:
            with ndpar.SharedArray.attach(name) as t:
                t.array[0, 0] = i
            assert s.array[0, 0] == i
        a = ndpar.shared_zeros(10_000)
        a += 1
    del s, t, a
    gc.collect()
    assert fd_count() == fds0
    assert ndpar_maps() == maps0
    assert memfd_count() == memfds0
    if os.path.isdir("/dev/shm"):
        assert set(os.listdir("/dev/shm")) == shm0


# ---- parallel_for --------------------------------------------------------------------

KERNEL_SRC = r"""
#include <stdint.h>
#include <math.h>
/* the first seed's write_m: m[i,:] = i + 1 on rows of a (rows x 4096) uint8 */
int write_rows(int64_t b, int64_t e, void **data, void *ud) {
  uint8_t *m = data[0]; (void)ud;
  for (int64_t i = b; i < e; i++)
    for (int j = 0; j < 4096; j++) m[i * 4096 + j] = (uint8_t)(i + 1);
  return 0;
}
/* sequential per-row logic: a running maximum with a reset rule */
int row_logic(int64_t b, int64_t e, void **data, void *ud) {
  const double *x = data[0]; double *y = data[1]; int64_t cols = *(int64_t *)ud;
  for (int64_t i = b; i < e; i++) {
    double run = 0;
    for (int64_t j = 0; j < cols; j++) {
      double v = x[i * cols + j];
      run = v < 0 ? 0 : (v > run ? v : run);
      y[i * cols + j] = run;
    }
  }
  return 0;
}
int fail_at_500(int64_t b, int64_t e, void **data, void *ud) {
  (void)data; (void)ud;
  return (b <= 500 && 500 < e) ? 9 : 0;
}
"""


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("kernels")
    (d / "k.c").write_text(KERNEL_SRC)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", str(d / "k.c"), "-o", str(d / "k.so")], check=True)
    lib = ctypes.CDLL(str(d / "k.so"))
    sig = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int64, ctypes.c_int64,
                           ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p)
    return lib, sig


def row_logic_reference(x):
    y = np.empty_like(x)
    for i in range(x.shape[0]):
        run = 0.0
        for j in range(x.shape[1]):
            v = x[i, j]
            run = 0.0 if v < 0 else max(v, run)
            y[i, j] = run
    return y


def test_parallel_for_ctypes(kernels):
    lib, sig = kernels
    m = ndpar.shared_zeros((64, 4096), np.uint8)
    ndpar.parallel_for(sig(("write_rows", lib)), 64, m)
    np.testing.assert_array_equal(m, (np.arange(64) + 1).astype(np.uint8)[:, None].repeat(4096, 1))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 50))
    y = np.zeros_like(x)
    cols = ctypes.c_int64(50)
    for chunk in (None, 1, 7, 1000):
        y[:] = 0
        ndpar.parallel_for(sig(("row_logic", lib)), 300, x, y, chunk=chunk,
                           userdata=ctypes.pointer(cols))
        np.testing.assert_array_equal(y, row_logic_reference(x))


def test_parallel_for_errors(kernels):
    lib, sig = kernels
    with pytest.raises(RuntimeError, match="returned 9"):
        ndpar.parallel_for(sig(("fail_at_500", lib)), 1000, chunk=10)
    with pytest.raises(TypeError, match="kernel"):
        ndpar.parallel_for(lambda b, e: 0, 10)
    with pytest.raises(TypeError, match="kernel"):
        ndpar.parallel_for(12345, 10)
    with pytest.raises(ValueError, match="C-contiguous"):
        ndpar.parallel_for(sig(("write_rows", lib)), 4, np.zeros((8, 4096), np.uint8)[::2])
    with pytest.raises(TypeError, match=r"arrays\[0\]"):
        ndpar.parallel_for(sig(("write_rows", lib)), 4, [1, 2, 3])
    with pytest.raises(ValueError, match="n"):
        ndpar.parallel_for(sig(("write_rows", lib)), -1)
    with pytest.raises(ValueError, match="chunk"):
        ndpar.parallel_for(sig(("write_rows", lib)), 4, chunk=0)
    ndpar.parallel_for(sig(("fail_at_500", lib)), 0)  # nothing to do


def test_parallel_for_cffi(kernels, tmp_path):
    cffi = pytest.importorskip("cffi")
    lib, _ = kernels
    ffi = cffi.FFI()
    ffi.cdef("int write_rows(int64_t, int64_t, void **, void *);")
    clib = ffi.dlopen(lib._name)
    m = np.zeros((10, 4096), np.uint8)
    ndpar.parallel_for(ffi.addressof(clib, "write_rows"), 10, m)
    assert (m[:, 0] == np.arange(1, 11)).all()


def test_parallel_for_numba_cfunc():
    pytest.importorskip("numba")
    from numba import cfunc, types

    # a real kernel: y[i] = x[i]**2
    @cfunc(types.int32(types.int64, types.int64, types.CPointer(types.CPointer(types.float64)),
                       types.voidptr))
    def sq(b, e, data, ud):
        x = data[0]
        y = data[1]
        for i in range(b, e):
            y[i] = x[i] * x[i]
        return 0

    x = np.arange(100_000, dtype=np.float64)
    y = np.empty_like(x)
    ndpar.parallel_for(sq, len(x), x, y)
    np.testing.assert_array_equal(y, x * x)
