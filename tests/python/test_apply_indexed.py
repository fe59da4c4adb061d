"""ndpar.apply_indexed against the obvious per-point loop."""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import threading
import traceback

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ndpar
from ndpar_testutil import INT_DTYPES


def loop_reference(xs, index, funcs, dtype, default=None):
    """out[i] = funcs[index[i]](*[x[i] for x in xs]), one point at a time."""
    n = len(index)
    out = np.empty(n, dtype=dtype)
    for i in range(n):
        j = int(index[i])
        if 0 <= j < len(funcs):
            out[i] = funcs[j](*[x[i:i + 1] for x in xs])[0]
        else:
            out[i] = default
    return out


def scale(j):
    """The second seed's trivial_functional: a closure."""
    def f(x):
        return j * x
    return f


def rng_data(n, k, seed=0, dtype=np.float64, idx_dtype=np.int64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(dtype)
    index = rng.integers(0, k, n).astype(idx_dtype)
    return x, index


# ---- expression tables --------------------------------------------------------------

def test_seed_closures_and_expressions_agree():
    k, n = 250, 100_000
    x, index = rng_data(n, k)
    closures = [scale(j) for j in range(k)]
    exprs = ["%d*x" % j for j in range(k)]
    expected = loop_reference([x], index, closures, np.float64)
    np.testing.assert_array_equal(ndpar.apply_indexed(x, index, closures), expected)
    np.testing.assert_array_equal(ndpar.apply_indexed(x, index, exprs), expected)
    # the seed's own argsort algorithm
    order = index.argsort()
    ranges = list(np.searchsorted(index[order], range(k))) + [None]
    seed = np.zeros_like(x)
    for j in range(k):
        ix = order[ranges[j]:ranges[j + 1]]
        seed[ix] = closures[j](x[ix])
    np.testing.assert_array_equal(expected, seed)


def test_conditional_expressions():
    x, index = rng_data(20_000, 3, seed=1)
    table = ["where(x > 0, sqrt(x), -x)", "expm1(x)", "x ** 2 + 3*x"]
    funcs = [lambda v: np.where(v > 0, np.sqrt(np.abs(v)), -v),
             np.expm1, lambda v: v ** 2 + 3 * v]
    got = ndpar.apply_indexed(x, index, table)
    np.testing.assert_allclose(got, loop_reference([x], index, funcs, np.float64), rtol=1e-14)


def test_k_equals_one_and_k_equals_n():
    x, _ = rng_data(5000, 1, seed=2)
    np.testing.assert_array_equal(
        ndpar.apply_indexed(x, np.zeros(5000, np.int32), ["x + 1"]), x + 1)
    n = 3000
    x = np.arange(n, dtype=np.float64)
    index = np.random.default_rng(3).permutation(n)
    table = ["x * %d" % j for j in range(n)]
    np.testing.assert_array_equal(ndpar.apply_indexed(x, index, table), x * index)
    calls = []
    table = [(lambda j: (lambda v: calls.append(len(v)) or v + j))(j) for j in range(n)]
    np.testing.assert_array_equal(ndpar.apply_indexed(x, index, table), x + index)
    assert sorted(calls) == [1] * n


def test_empty_groups_are_not_called():
    k = 50
    x, index = rng_data(10_000, k, seed=4)
    index[np.isin(index, [0, 7, 49])] = 8
    seen = set()

    def make(j):
        def f(v):
            seen.add(j)
            return v * j
        return f
    got = ndpar.apply_indexed(x, index, [make(j) for j in range(k)])
    np.testing.assert_array_equal(got, x * index)
    assert seen == set(np.unique(index).tolist())


def test_callable_called_once_per_group_with_all_points():
    k = 20
    x, index = rng_data(200_000, k, seed=5)
    sizes = {}
    lock = threading.Lock()

    def make(j):
        def f(v):
            with lock:
                assert j not in sizes
                sizes[j] = len(v)
            assert v.flags.c_contiguous
            return v - j
        return f
    got = ndpar.apply_indexed(x, index, [make(j) for j in range(k)])
    np.testing.assert_array_equal(got, x - index)
    assert sizes == {j: int((index == j).sum()) for j in range(k)}


def test_same_callable_object_at_several_positions():
    x, index = rng_data(30_000, 6, seed=6)
    f, g = (lambda v: v * 2), (lambda v: v - 1)
    table = [f, g, f, "x*2", g, f]
    expected = np.where(np.isin(index, [0, 2, 3, 5]), x * 2, x - 1)
    np.testing.assert_array_equal(ndpar.apply_indexed(x, index, table), expected)


def test_several_arguments():
    rng = np.random.default_rng(7)
    n, k = 40_000, 4
    a, b, c = rng.random(n), rng.random(n), rng.integers(0, 10, n)
    index = rng.integers(0, k, n).astype(np.uint16)
    table = ["x0 + x1", lambda p, q, r: p * q + r, "where(x2 > 5, x0, x1)", "hypot(x0, x1) * x2"]
    funcs = [lambda p, q, r: p + q, table[1], lambda p, q, r: np.where(r > 5, p, q),
             lambda p, q, r: np.hypot(p, q) * r]
    got = ndpar.apply_indexed((a, b, c), index, table)
    np.testing.assert_allclose(got, loop_reference([a, b, c], index, funcs, np.float64), rtol=1e-15)


@pytest.mark.parametrize("idx_dtype", INT_DTYPES, ids=str)
def test_every_index_dtype(idx_dtype):
    k = 5 if idx_dtype.itemsize == 1 else 300
    x, index = rng_data(20_000, k, seed=8, idx_dtype=idx_dtype)
    table = ["x + %d" % j for j in range(k)]
    np.testing.assert_array_equal(ndpar.apply_indexed(x, index, table), x + index.astype(np.float64))


def test_strided_and_byteswapped_inputs():
    rng = np.random.default_rng(9)
    base = rng.random(60_000)
    x = base[::3]
    idx = rng.integers(0, 7, 40_000)[::2]
    table = ["x * %d" % j for j in range(7)]
    out_base = np.zeros(60_000)
    out = out_base[1::3]
    ndpar.apply_indexed(x, idx, table, out=out)
    np.testing.assert_array_equal(out, x * idx)
    assert (out_base[0::3] == 0).all() and (out_base[2::3] == 0).all()
    xs = x.astype(">f8")
    np.testing.assert_array_equal(ndpar.apply_indexed(xs, idx.astype(">i4"), table), x * idx)


def test_output_dtype_rules():
    x = np.arange(100, dtype=np.int32)
    idx = np.arange(100) % 2
    got = ndpar.apply_indexed(x, idx, ["x * 2", "x + 1"])
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.where(idx == 0, x * 2, x + 1))
    got = ndpar.apply_indexed(x, idx, ["x / 2", "x + 1"])
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, np.where(idx == 0, x / 2, x + 1))
    got = ndpar.apply_indexed(x, idx, [lambda v: v * 0.5, lambda v: v], dtype=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.where(idx == 0, x * 0.5, x).astype(np.float32))
    with pytest.raises(TypeError, match=r"table\[0\].*same_kind"):
        ndpar.apply_indexed(x, idx, [lambda v: v * 0.5, lambda v: v])
    with pytest.raises(TypeError, match=r"table\[1\]"):
        ndpar.apply_indexed(x, idx, ["x", "x / 2"], out=np.empty(100, np.int64))


def test_callable_may_return_a_scalar_and_keep_its_argument():
    x, index = rng_data(1000, 2, seed=10)
    kept = []
    got = ndpar.apply_indexed(x, index, [lambda v: 7.0, lambda v: kept.append(v) or v])
    np.testing.assert_array_equal(got, np.where(index == 0, 7.0, x))
    assert len(kept) == 1
    np.testing.assert_array_equal(kept[0], x[index == 1])  # still valid after the call


# ---- native pointers -----------------------------------------------------------------

NATIVE_SRC = r"""
#include <stdint.h>
int triple(int64_t n, void **args, void *out, void *ud) {
  const double *x = args[0]; double *y = out; (void)ud;
  for (int64_t i = 0; i < n; i++) y[i] = 3.0 * x[i];
  return 0;
}
int axpy(int64_t n, void **args, void *out, void *ud) {
  const double *a = args[0], *b = args[1]; double *y = out; (void)ud;
  for (int64_t i = 0; i < n; i++) y[i] = 2.0 * a[i] + b[i];
  return 0;
}
int fails(int64_t n, void **args, void *out, void *ud) {
  (void)n; (void)args; (void)out; (void)ud; return 5;
}
"""


@pytest.fixture(scope="module")
def native_lib(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler to build the native test functions")
    d = tmp_path_factory.mktemp("native")
    src, so = d / "fns.c", d / "fns.so"
    src.write_text(NATIVE_SRC)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", str(src), "-o", str(so)], check=True)
    lib = ctypes.CDLL(str(so))
    sig = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int64, ctypes.POINTER(ctypes.c_void_p),
                           ctypes.c_void_p, ctypes.c_void_p)
    return {name: sig(("%s" % name, lib)) for name in ("triple", "axpy", "fails")} | {"lib": lib}


def test_mixed_table_of_strings_callables_and_pointers(native_lib):
    x, index = rng_data(50_000, 4, seed=11)
    table = ["x + 1", lambda v: v * v, native_lib["triple"], native_lib["lib"].triple]
    native_lib["lib"].triple.restype = ctypes.c_int
    expected = np.select([index == 0, index == 1], [x + 1, x * x], 3.0 * x)
    np.testing.assert_array_equal(ndpar.apply_indexed(x, index, table), expected)


def test_pointer_with_two_arguments(native_lib):
    rng = np.random.default_rng(12)
    a, b = rng.random(30_000), rng.random(30_000)
    index = rng.integers(0, 2, 30_000)
    got = ndpar.apply_indexed((a, b), index, [native_lib["axpy"], "x0 - x1"])
    np.testing.assert_array_equal(got, np.where(index == 0, 2.0 * a + b, a - b))


def test_cffi_pointer(native_lib, tmp_path):
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    ffi.cdef("int triple(int64_t n, void **args, void *out, void *ud);")
    lib = ffi.dlopen(native_lib["lib"]._name)
    x, index = rng_data(20_000, 2, seed=21)
    got = ndpar.apply_indexed(x, index, ["x", ffi.addressof(lib, "triple")])
    np.testing.assert_array_equal(got, np.where(index == 1, 3.0 * x, x))
    with pytest.raises(TypeError, match=r"table\[0\]"):
        ndpar.apply_indexed(x, index, [ffi.new("int *"), "x"])


def test_numba_cfunc_pointer():
    pytest.importorskip("numba")
    from numba import cfunc, types

    @cfunc(types.int32(types.int64, types.CPointer(types.CPointer(types.float64)),
                       types.CPointer(types.float64), types.voidptr))
    def cube(n, args, out, ud):
        x = args[0]
        for i in range(n):
            out[i] = x[i] * x[i] * x[i]
        return 0

    x, index = rng_data(50_000, 3, seed=22)
    got = ndpar.apply_indexed(x, index, [cube, "x", lambda v: -v])
    np.testing.assert_array_equal(got, np.select([index == 0, index == 1], [x * x * x, x], -x))


def test_pointer_failure_names_the_entry(native_lib):
    x, index = rng_data(1000, 2, seed=13)
    with pytest.raises(RuntimeError, match=r"table\[1\]"):
        ndpar.apply_indexed(x, index, ["x", native_lib["fails"]])


# ---- errors ----------------------------------------------------------------------------

def test_bad_index_names_the_first_position():
    x = np.arange(1000.0)
    index = np.zeros(1000, np.int64)
    index[[700, 350, 900]] = [-1, 5, 7]
    out = np.full(1000, 42.0)
    with pytest.raises(ValueError, match=r"index\[350\] = 5"):
        ndpar.apply_indexed(x, index, ["x", "x*2"], out=out)
    assert (out == 42.0).all()  # not written
    got = ndpar.apply_indexed(x, index, ["x", "x*2"], default=-3.5)
    expected = x.copy()
    expected[[350, 700, 900]] = -3.5
    np.testing.assert_array_equal(got, expected)
    idx8 = np.full(1000, 200, np.uint8)
    with pytest.raises(ValueError, match=r"index\[0\] = 200"):
        ndpar.apply_indexed(x, idx8, ["x"])


def test_default_obeys_same_kind_and_fits():
    x = np.arange(10, dtype=np.int64)
    idx = np.full(10, 5)
    np.testing.assert_array_equal(ndpar.apply_indexed(x, idx, ["x"], default=-7), np.full(10, -7))
    with pytest.raises(TypeError, match="default"):
        ndpar.apply_indexed(x, idx, ["x"], default=np.nan)
    with pytest.raises(TypeError, match="default"):
        ndpar.apply_indexed(x, idx, ["x"], default=np.float32(1.5))
    with pytest.raises(OverflowError, match="default"):
        ndpar.apply_indexed(x.astype(np.uint8), idx, ["x"], default=-1)
    with pytest.raises(ValueError, match="one value"):
        ndpar.apply_indexed(x, idx, ["x"], default=np.zeros(2))
    got = ndpar.apply_indexed(x.astype(np.float32), idx, ["x"], default=2.5)
    assert got.dtype == np.float32 and (got == 2.5).all()


def test_callables_see_the_callers_context():
    import contextvars
    var = contextvars.ContextVar("ndpar_test_var", default="unset")
    token = var.set("caller")
    try:
        seen = []
        lock = threading.Lock()

        def f(v):
            with lock:
                seen.append(var.get())
            var.set("changed inside")  # must not leak out of the call
            return v
        x, index = rng_data(200_000, 8, seed=23)
        with ndpar.threads(2):
            ndpar.apply_indexed(x, index, [f] * 8)
        assert seen == ["caller"] * 8
        assert var.get() == "caller"
        with np.errstate(divide="raise"):
            with pytest.raises(FloatingPointError):
                ndpar.apply_indexed(x, index, [lambda v: v / 0.0] * 8)
    finally:
        var.reset(token)


@pytest.mark.parametrize("idx_dtype", [np.uint8, np.int16, np.int64], ids=str)
def test_index_changed_during_the_call(idx_dtype):
    """The grouping is fixed by the first pass: an entry that rewrites the
    index (or another thread doing so) cannot derail the later passes."""
    n = 400_000
    x = np.arange(n, dtype=np.float64)
    idx = (np.arange(n) % 2).astype(idx_dtype)
    original = idx.copy()

    def scribble(v):
        idx.fill(200 if idx_dtype == np.uint8 else 30_000)
        return v * 3
    got = ndpar.apply_indexed(x, idx, [scribble, "x * 5"])
    np.testing.assert_array_equal(got, np.where(original == 0, x * 3, x * 5))


def test_argument_errors():
    x = np.arange(10.0)
    idx = np.zeros(10, int)
    with pytest.raises(ValueError, match="index"):
        ndpar.apply_indexed(x, idx[:5], ["x"])
    with pytest.raises(ValueError, match=r"x\[1\]"):
        ndpar.apply_indexed((x, x[:5]), idx, ["x0"])
    with pytest.raises(TypeError, match="index"):
        ndpar.apply_indexed(x, idx.astype(float), ["x"])
    with pytest.raises(TypeError, match="index"):
        ndpar.apply_indexed(x, idx.astype(bool), ["x"])
    with pytest.raises(ValueError, match="empty"):
        ndpar.apply_indexed(x, idx, [])
    with pytest.raises(TypeError, match=r"table\[1\] is int"):
        ndpar.apply_indexed(x, idx, ["x", 3])
    with pytest.raises(TypeError, match=r"table\[0\] is NoneType"):
        ndpar.apply_indexed(x, idx, [None])
    with pytest.raises(SyntaxError, match=r"table\[2\]"):
        ndpar.apply_indexed(x, idx, ["x", "x", "x +"])
    with pytest.raises(NameError, match=r"table\[0\]"):
        ndpar.apply_indexed(x, idx, ["y + 1"])
    with pytest.raises(ValueError, match="one-dimensional"):
        ndpar.apply_indexed(x.reshape(2, 5), idx.reshape(2, 5), ["x"])
    with pytest.raises(ValueError, match="out"):
        ndpar.apply_indexed(x, idx, ["x"], out=np.empty(3))
    with pytest.raises(ValueError, match="overlaps"):
        ndpar.apply_indexed(x, idx, ["x"], out=x)
    with pytest.raises(TypeError, match="table"):
        ndpar.apply_indexed(x, idx, "x")


def test_callable_wrong_length_or_dtype():
    x, index = rng_data(1000, 3, seed=14)
    with pytest.raises(ValueError, match=r"table\[2\] returned shape \(3,\)"):
        ndpar.apply_indexed(x, index, ["x", "x", lambda v: v[:3]])
    with pytest.raises(TypeError, match=r"table\[1\] returned dtype"):
        ndpar.apply_indexed(x, index, ["x", lambda v: v.astype(complex), "x"])
    with pytest.raises(TypeError, match=r"table\[0\] returned dtype object"):
        ndpar.apply_indexed(x, index, [lambda v: np.array(["a"] * len(v), dtype=object), "x", "x"])


class Boom(Exception):
    pass


def test_exception_in_callable_has_its_traceback_and_stops_the_job():
    x, index = rng_data(200_000, 100, seed=15)
    calls = []

    def make(j):
        def f(v):
            calls.append(j)
            if j == 37:
                raise Boom("group %d" % j)
            return v
        return f
    threads_before = threading.active_count()
    with pytest.raises(Boom, match="group 37") as info:
        ndpar.apply_indexed(x, index, [make(j) for j in range(100)])
    frames = traceback.extract_tb(info.value.__traceback__)
    assert any(fr.name == "f" and "raise Boom" in (fr.line or "") for fr in frames)
    assert threading.active_count() == threads_before
    # the pool still works afterwards
    np.testing.assert_array_equal(ndpar.apply_indexed(x, index, ["x"] * 100), x)


def test_exception_stops_before_all_groups_run():
    ndpar.set_num_threads(1)
    x, index = rng_data(10_000, 50, seed=16)
    calls = []

    def f(v):
        calls.append(1)
        raise Boom("first")
    with pytest.raises(Boom):
        ndpar.apply_indexed(x, index, [f] * 50)
    assert len(calls) == 1


# ---- threads ----------------------------------------------------------------------------

@given(n=st.integers(0, 3000), k=st.integers(1, 40), seed=st.integers(0, 2**31 - 1))
def test_thread_count_invariance(n, k, seed):
    x, index = rng_data(n, k, seed=seed)
    table = ["x * %d + 1" % j if j % 2 else "exp(x) + %d" % j for j in range(k)]
    results = []
    for t in (1, 2, 3, 7):
        with ndpar.threads(t):
            results.append(ndpar.apply_indexed(x, index, table))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    funcs = [(lambda j: (lambda v: v * j + 1) if j % 2 else (lambda v: np.exp(v) + j))(j)
             for j in range(k)]
    np.testing.assert_allclose(results[0], loop_reference([x], index, funcs, np.float64),
                               rtol=4e-16 * 5, atol=0)  # exp: <= 1 ulp, then one rounding


def test_callables_run_concurrently_when_they_release_the_gil():
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU")
    seen = set()
    barrier = threading.Barrier(2, timeout=10)

    def f(v):
        seen.add(threading.get_ident())
        barrier.wait()  # releases the GIL while waiting: needs a second thread
        return v
    x, index = rng_data(40_000, 2, seed=17)  # groups large enough to run concurrently
    with ndpar.threads(2):
        np.testing.assert_array_equal(ndpar.apply_indexed(x, index, [f, f]), x)
    assert len(seen) == 2


def test_large_k():
    n, k = 400_000, 1_000_000
    rng = np.random.default_rng(18)
    x = rng.random(n)
    index = rng.integers(0, k, n)
    table = ["x"] * k
    table[int(index[0])] = "x + 1"
    got = ndpar.apply_indexed(x, index, table)
    np.testing.assert_array_equal(got, np.where(index == index[0], x + 1, x))


def test_nested_ndpar_calls_inside_callables():
    x, index = rng_data(100_000, 4, seed=19)
    table = [lambda v: ndpar.exp(v), lambda v: ndpar.evaluate("v * 2", local_dict={"v": v}),
             "x", lambda v: ndpar.apply_indexed(v, np.zeros(len(v), np.int8), ["x - 1"])]
    expected = loop_reference([x], index, [ndpar.exp, lambda v: v * 2, lambda v: v, lambda v: v - 1],
                              np.float64)
    np.testing.assert_array_equal(ndpar.apply_indexed(x, index, table), expected)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
