"""ndpar's elementwise functions are numpy.ufunc objects: NumPy's methods
(reduce, accumulate, outer, at), where=, out= tuples and the container
protocols (pandas, xarray, masked arrays, dask) work, with NumPy's own
ufuncs as the oracle."""
from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest

import ndpar

RNG = np.random.default_rng(7)
INT_DTS = [np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint64]
FLOAT_DTS = [np.float32, np.float64]
REDUCE_OPS = ["add", "multiply", "minimum", "maximum", "fmin", "fmax",
              "logical_and", "logical_or", "logical_xor", "subtract", "floor_divide",
              "remainder", "power", "equal"]


def _data(dt, shape):
    if np.dtype(dt).kind == "f":
        return RNG.uniform(-3, 3, shape).astype(dt)
    info = np.iinfo(dt)
    return RNG.integers(max(info.min, -5), min(info.max, 6), shape, endpoint=True).astype(dt)


def _check(got, exp, dt, exact=True):
    got, exp = np.asarray(got), np.asarray(exp)
    assert got.dtype == exp.dtype and got.shape == exp.shape
    if exact or got.dtype.kind != "f":
        assert np.array_equal(got, exp, equal_nan=True), (got, exp)
    else:
        tol = 1e-5 if got.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, exp, rtol=tol, atol=tol)


def _np(name):
    return getattr(np, "absolute" if name == "abs" else name)


@pytest.mark.parametrize("dt", INT_DTS + FLOAT_DTS, ids=str)
@pytest.mark.parametrize("name", REDUCE_OPS)
def test_reduce_like_numpy(name, dt):
    f, g = getattr(ndpar, name), _np(name)
    if name == "power" and np.dtype(dt).kind in "iu":
        a = RNG.integers(0, 3, (5, 7)).astype(dt)
    elif name in ("floor_divide", "remainder") and np.dtype(dt).kind in "iu":
        a = RNG.integers(1, 4, (5, 7)).astype(dt)
    else:
        a = _data(dt, (5, 7))
    # sums and products of floats reduce as a tree, not in NumPy's order
    exact = name not in ("add", "multiply", "subtract") or np.dtype(dt).kind != "f"
    with np.errstate(all="ignore"):
        for axis in (0, 1, -1, None) if f.identity is not None or name in (
                "minimum", "maximum", "fmin", "fmax") else (0, 1, -1):
            for keepdims in (False, True):
                try:
                    exp = g.reduce(a, axis=axis, keepdims=keepdims)
                except (TypeError, ValueError) as e:
                    with pytest.raises(type(e)):
                        f.reduce(a, axis=axis, keepdims=keepdims)
                    continue
                _check(f.reduce(a, axis=axis, keepdims=keepdims), exp, dt, exact)
        if name in ("add", "multiply", "maximum", "minimum"):
            w = RNG.random((5, 7)) < 0.6
            kw = dict(axis=1, initial=1, where=w)
            _check(f.reduce(a, **kw), g.reduce(a, **kw), dt, exact)


@pytest.mark.parametrize("dt", INT_DTS + FLOAT_DTS, ids=str)
@pytest.mark.parametrize("name", ["add", "multiply", "maximum", "subtract", "logical_or"])
def test_accumulate_outer_at_like_numpy(name, dt):
    f, g = getattr(ndpar, name), _np(name)
    a, b = _data(dt, (4, 6)), _data(dt, (3,))
    exact = name not in ("add", "multiply", "subtract") or np.dtype(dt).kind != "f"
    with np.errstate(all="ignore"):
        for axis in (0, 1):
            _check(f.accumulate(a, axis=axis), g.accumulate(a, axis=axis), dt, exact)
        _check(f.outer(a[0], b), g.outer(a[0], b), dt)
        if g(a[0, :1], a[0, :1]).dtype == a.dtype:
            x1, x2 = a[0].copy(), a[0].copy()
            idx = [0, 0, 2, 5, 2]
            f.at(x1, idx, b[0])
            g.at(x2, idx, b[0])
            _check(x1, x2, dt)


def test_long_accumulate_is_in_order():
    a = np.arange(100_000, dtype=np.int64)
    assert np.array_equal(ndpar.add.accumulate(a), np.cumsum(a))
    x = RNG.random(50_000)
    assert np.array_equal(ndpar.maximum.accumulate(x), np.maximum.accumulate(x))


@pytest.mark.parametrize("name", ["exp", "add", "less", "sqrt"])
def test_where_and_out(name):
    f, g = getattr(ndpar, name), _np(name)
    a, b = RNG.random(1000) + 0.5, RNG.random(1000)
    args = (a,) if f.nin == 1 else (a, b)
    w = RNG.random(1000) < 0.5
    o1 = np.full(1000, 7, dtype=g(*args).dtype)
    o2 = o1.copy()
    r = f(*args, out=(o1,), where=w)
    g(*args, out=(o2,), where=w)
    assert r is o1
    _check(o1, o2, None, exact=name != "exp")


def test_out_aliasing_an_input_like_numpy():
    a = RNG.random(10_000)
    b, c = a.copy(), a.copy()
    ndpar.add(b[1:], b[:-1], out=b[1:])
    np.add(c[1:], c[:-1], out=c[1:])
    assert np.array_equal(b, c)


@pytest.mark.parametrize("dt", FLOAT_DTS + [np.int64, np.uint8], ids=str)
@pytest.mark.parametrize("name", ["add", "multiply", "maximum", "fmin"])
def test_parallel_reduce_same_bits_for_any_thread_count(name, dt):
    f = getattr(ndpar, name)
    a = _data(dt, 3_000_001) if np.dtype(dt).kind == "f" else _data(dt, 3_000_001)
    if name == "multiply" and np.dtype(dt).kind == "f":
        # ones with a few 2s and halves: the product is exact in any order
        a = np.ones(a.size, dt)
        pos = RNG.permutation(a.size)[:190]
        a[pos[:100]], a[pos[100:]] = 2, 0.5
    with ndpar.threads(1):
        one = f.reduce(a)
    with ndpar.threads(2):
        two = f.reduce(a)
    assert np.asarray(one).tobytes() == np.asarray(two).tobytes()
    if np.dtype(dt).kind == "f" and name in ("add", "multiply"):
        # a tree is more accurate than NumPy's float32 loops: float64 is the oracle
        ref = _np(name).reduce(a.astype(np.float64))
        np.testing.assert_allclose(two, ref, rtol=1e-5 if dt == np.float32 else 1e-12)
    else:
        _check(two, _np(name).reduce(a), dt)


def test_reduce_along_strided_axis():
    a = RNG.random((3000, 700))
    got = ndpar.add.reduce(a, axis=0)
    np.testing.assert_allclose(got, a.sum(axis=0), rtol=1e-12)
    got = ndpar.maximum.reduce(a.T, axis=1)
    assert np.array_equal(got, a.max(axis=0))


def test_empty_reductions():
    assert ndpar.add.reduce(np.array([])) == 0.0
    assert ndpar.multiply.reduce(np.array([], np.int32)) == 1
    assert ndpar.logical_and.reduce(np.array([], bool))
    with pytest.raises(ValueError):
        ndpar.maximum.reduce(np.array([]))
    r = ndpar.add.reduce(np.array([-0.0]))
    assert r == 0 and np.signbit(r)


def test_identities_match_numpy():
    for name in ndpar.BINARY:
        f, g = getattr(ndpar, name), _np(name)
        if name in ("add", "multiply", "logical_and", "logical_or", "logical_xor"):
            assert f.identity == g.identity, name


def test_concurrent_calls_from_threads():
    xs = [RNG.random(200_000) + i for i in range(8)]
    out = [None] * 8

    def work(i):
        for _ in range(5):
            out[i] = ndpar.log(xs[i])

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for i in range(8):
        np.testing.assert_allclose(out[i], np.log(xs[i]), rtol=1e-15)


def test_every_ufunc_pickles_by_reference():
    for name in ndpar.UNARY + ndpar.BINARY:
        f = getattr(ndpar, name)
        assert pickle.loads(pickle.dumps(f, protocol=pickle.HIGHEST_PROTOCOL)) is f


# ---- containers, through NumPy's protocols --------------------------------------------

def test_pandas_series_align_and_keep_their_index():
    pd = pytest.importorskip("pandas")
    s = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"], name="v")
    r = ndpar.add(s, s[::-1])
    e = np.add(s, s[::-1])
    assert isinstance(r, pd.Series)
    pd.testing.assert_series_equal(r, e)
    r = ndpar.exp(s)
    pd.testing.assert_series_equal(r, np.exp(s))
    df = pd.DataFrame({"x": [1.0, 4.0], "y": [9.0, 16.0]}, index=[10, 20])
    pd.testing.assert_frame_equal(ndpar.sqrt(df), np.sqrt(df))


def test_xarray_keeps_coords_and_attrs():
    xr = pytest.importorskip("xarray")
    da = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=("t", "x"),
                      coords={"t": [0, 1], "x": [10, 20, 30]}, attrs={"units": "m"})
    r = ndpar.exp(da)
    assert isinstance(r, xr.DataArray)
    xr.testing.assert_identical(r, xr.apply_ufunc(np.exp, da, keep_attrs=True))
    assert r.attrs == {"units": "m"}


def test_masked_arrays_keep_their_mask():
    m = np.ma.masked_array([1.0, -1.0, 2.0, 3.0], mask=[0, 0, 1, 0])
    r = ndpar.exp(m)
    e = np.exp(m)
    assert isinstance(r, np.ma.MaskedArray)
    assert np.array_equal(r.mask, e.mask)
    assert np.array_equal(r.compressed(), e.compressed())
    r = ndpar.add(m, m)
    assert np.array_equal(r.mask, np.add(m, m).mask)


def test_dask_arrays_stay_lazy():
    da = pytest.importorskip("dask.array")
    x = da.from_array(RNG.random(1000), chunks=100)
    r = ndpar.exp(x)
    assert hasattr(r, "__dask_graph__") and isinstance(r, da.Array)
    assert np.array_equal(r.compute(), ndpar.exp(x.compute()))
    s = ndpar.add(x, 1.5)
    assert isinstance(s, da.Array)
    np.testing.assert_array_equal(s.compute(), x.compute() + 1.5)


def test_no_legacy_loop_was_used():
    assert ndpar._ndpar._legacy_calls() == 0
