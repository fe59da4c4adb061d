"""Containers keep their type through the non-ufunc entry points (move_*,
evaluate / compile, apply_indexed, map_chunks): pandas Series and DataFrame
(checked against pandas' own rolling), numpy.ma masked arrays (honoured by
elementwise evaluate, refused with TypeError elsewhere, never unmasked) and
xarray DataArrays (coords, dims, attrs, name). The rules are in
python/ndpar/_containers.py; dask is in test_dask_lazy.py."""
from __future__ import annotations

import numpy as np
import pytest

import ndpar

pd = pytest.importorskip("pandas")
xr = pytest.importorskip("xarray")

RNG = np.random.default_rng(12)


def _series(n=200, nan_every=7):
    v = RNG.standard_normal(n)
    v[::nan_every] = np.nan
    idx = pd.date_range("2020-01-01", periods=n, freq="h")
    return pd.Series(v, index=idx, name="load")


# pandas' rolling method, and the keyword ndpar takes for it
ROLL = [
    ("move_sum", "sum", {}), ("move_mean", "mean", {}),
    ("move_std", "std", {"ddof": 1}), ("move_var", "var", {"ddof": 1}),
    ("move_min", "min", {}), ("move_max", "max", {}), ("move_median", "median", {}),
    ("move_count", "count", {}),
]


@pytest.mark.parametrize("fname,method,kw", ROLL)
@pytest.mark.parametrize("window,min_count", [(5, None), (5, 2), (1, None), (24, 10)])
def test_series_matches_pandas_rolling(fname, method, kw, window, min_count):
    s = _series()
    r = getattr(ndpar, fname)(s, window, min_count=min_count, **kw)
    roll = s.rolling(window, min_periods=min_count)
    ref = getattr(roll, method)(**kw)
    assert isinstance(r, pd.Series)
    assert r.index.equals(s.index) and r.name == "load"
    np.testing.assert_allclose(r.to_numpy(), ref.to_numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fname,method,kw", ROLL)
def test_dataframe_rolls_down_the_index(fname, method, kw):
    df = pd.DataFrame({c: _series(60, 5 + j).to_numpy() for j, c in enumerate("abc")},
                      index=pd.RangeIndex(100, 160))
    r = getattr(ndpar, fname)(df, 4, min_count=2, **kw)
    ref = getattr(df.rolling(4, min_periods=2), method)(**kw)
    assert isinstance(r, pd.DataFrame)
    assert r.index.equals(df.index) and r.columns.equals(df.columns)
    np.testing.assert_allclose(r.to_numpy(), ref.to_numpy(), rtol=1e-10, atol=1e-12)


def test_series_centered_matches_pandas():
    s = _series()
    r = ndpar.move_mean(s, 7, min_count=1, center=True)
    ref = s.rolling(7, min_periods=1, center=True).mean()
    np.testing.assert_allclose(r.to_numpy(), ref.to_numpy(), rtol=1e-12)


def test_dataframe_axis_given_is_honoured():
    df = pd.DataFrame(RNG.standard_normal((5, 6)))
    r = ndpar.move_mean(df, 3, axis=1)
    np.testing.assert_array_equal(r.to_numpy(), ndpar.move_mean(df.to_numpy(), 3, axis=1))


def test_plain_arrays_unchanged():
    a = RNG.standard_normal(50)
    r = ndpar.move_mean(a, 3)
    assert type(r) is np.ndarray
    assert type(ndpar.move_mean(list(a), 3)) is np.ndarray
    assert ndpar.move_mean.__name__ == "move_mean" and ndpar.move_mean.__module__ == "ndpar"
    assert "window" in str(__import__("inspect").signature(ndpar.move_quantile))
    with pytest.raises(TypeError, match="window"):
        ndpar.move_mean(pd.Series(a), "3")  # the C core's checks, with containers too


# ---- evaluate / compile with pandas ------------------------------------------------------

def test_evaluate_series_keeps_index_and_name():
    s = _series(30, 100)
    t = s * 2 + 1
    t.name = "load"
    r = ndpar.evaluate("where(a > 0, exp(a), b)", a=s, b=t)
    ref = np.where(s > 0, np.exp(s.to_numpy()), t.to_numpy())
    assert isinstance(r, pd.Series) and r.index.equals(s.index) and r.name == "load"
    np.testing.assert_array_equal(r.to_numpy(), ndpar.evaluate(
        "where(a > 0, exp(a), b)", a=s.to_numpy(), b=t.to_numpy()))
    np.testing.assert_allclose(r.to_numpy(), ref, rtol=1e-15)


def test_evaluate_series_with_different_index_refuses():
    s = pd.Series([1.0, 2.0, 3.0], index=[0, 1, 2])
    # pandas would align (s + s[::-1] == [2, 4, 6]); ndpar refuses rather than pair by position
    with pytest.raises(ValueError, match="align"):
        ndpar.evaluate("a + b", a=s, b=s[::-1])
    f = ndpar.compile("a + b")
    with pytest.raises(ValueError, match="align"):
        f(s, s[::-1])
    a, b = s.align(s[::-1])
    np.testing.assert_array_equal(ndpar.evaluate("a + b", a=a, b=b).to_numpy(), (s + s[::-1]).to_numpy())


def test_evaluate_series_and_dataframe_do_not_mix():
    df = pd.DataFrame(np.ones((3, 3)))
    with pytest.raises(ValueError, match="Series and a DataFrame"):
        ndpar.evaluate("a + b", a=df, b=df[0])


def test_evaluate_pandas_reductions():
    df = pd.DataFrame(RNG.standard_normal((8, 3)), columns=list("xyz"), index=list("abcdefgh"))
    r0 = ndpar.evaluate("sum(a, axis=0)", a=df)
    assert isinstance(r0, pd.Series) and r0.index.equals(df.columns)
    np.testing.assert_allclose(r0.to_numpy(), df.sum(axis=0).to_numpy(), rtol=1e-14)
    r1 = ndpar.evaluate("max(a * 2, axis=1)", a=df)
    assert r1.index.equals(df.index)
    np.testing.assert_array_equal(r1.to_numpy(), (df * 2).max(axis=1).to_numpy())
    tot = ndpar.evaluate("sum(a)", a=df["x"])
    assert np.ndim(tot) == 0
    np.testing.assert_allclose(tot, df["x"].sum(), rtol=1e-14)


def test_compile_with_series_and_dataframe():
    s = _series(40, 100)
    f = ndpar.compile("a * k")
    r = f(s, 3.0)
    assert isinstance(r, pd.Series) and r.index.equals(s.index)
    np.testing.assert_array_equal(r.to_numpy(), s.to_numpy() * 3.0)
    df = s.to_frame()
    r = f(a=df, k=2)
    assert isinstance(r, pd.DataFrame) and r.columns.equals(df.columns)


def test_evaluate_pandas_result_that_does_not_fit_refuses():
    s = pd.Series([1.0, 2.0])
    with pytest.raises(ValueError, match="labels"):
        ndpar.evaluate("a + b", a=s, b=np.ones((3, 2)))


# ---- masked arrays -----------------------------------------------------------------------

def test_evaluate_masked_elementwise_honours_the_mask():
    a = np.ma.array([1.0, -2.0, 3.0, 4.0], mask=[0, 1, 0, 0])
    b = np.ma.array([[1.0, 1.0, 2.0, 2.0], [0.0, 1.0, 2.0, 3.0]],
                    mask=[[0, 0, 1, 0], [0, 0, 0, 0]])
    r = ndpar.evaluate("a * b + sqrt(abs(a))", a=a, b=b)
    ref = a * b + np.ma.sqrt(np.ma.abs(a))
    assert isinstance(r, np.ma.MaskedArray)
    np.testing.assert_array_equal(np.ma.getmaskarray(r), np.ma.getmaskarray(ref))
    np.testing.assert_allclose(r.compressed(), ref.compressed(), rtol=1e-15)
    # with a plain operand and a scalar
    r = ndpar.compile("a + c + 1")(a, np.arange(4.0))
    np.testing.assert_array_equal(r.mask, a.mask)


def test_masked_reduction_never_adds_masked_values():
    m = np.ma.array([1.0, 1e300, 2.0], mask=[0, 1, 0])
    with pytest.raises(TypeError, match="mask"):
        ndpar.evaluate("sum(m)", m=m)
    with pytest.raises(TypeError, match="mask"):
        ndpar.compile("max(m, axis=0)")(m)


def test_masked_refused_elsewhere():
    m = np.ma.array(np.arange(10.0), mask=[0, 1] * 5)
    with pytest.raises(TypeError, match="masked"):
        ndpar.move_mean(m, 3)
    with pytest.raises(TypeError, match="masked"):
        ndpar.apply_indexed(m, np.zeros(10, np.int64), ["x * 2"])
    with pytest.raises(TypeError, match="masked"):
        ndpar.map_chunks(lambda a: a * 2, m)
    with pytest.raises(TypeError, match="mask"):
        ndpar.evaluate("m * 2", m=m, out=np.empty(10))


# ---- xarray ------------------------------------------------------------------------------

def _dataarray():
    return xr.DataArray(RNG.standard_normal((3, 40)), dims=("station", "time"),
                        coords={"station": ["a", "b", "c"], "time": np.arange(40) * 10,
                                "height": ("station", [1.0, 2.0, 3.0])},
                        attrs={"units": "K"}, name="temp")


def _same_labels(r, a):
    assert isinstance(r, xr.DataArray)
    assert r.dims == a.dims and r.attrs == a.attrs and r.name == a.name
    for k in a.coords:
        assert r.coords[k].equals(a.coords[k])


@pytest.mark.parametrize("fname", ["move_mean", "move_std", "move_max", "move_median"])
def test_dataarray_move_keeps_everything(fname):
    a = _dataarray()
    r = getattr(ndpar, fname)(a, 5, min_count=2)
    _same_labels(r, a)
    np.testing.assert_array_equal(r.values, getattr(ndpar, fname)(a.values, 5, min_count=2))
    r0 = getattr(ndpar, fname)(a, 2, axis="station")
    np.testing.assert_array_equal(r0.values, getattr(ndpar, fname)(a.values, 2, axis=0))


def test_dataarray_evaluate():
    a = _dataarray()
    r = ndpar.evaluate("exp(a) * 2", a=a)
    _same_labels(r, a)
    np.testing.assert_array_equal(r.values, ndpar.evaluate("exp(a) * 2", a=a.values))
    s = ndpar.evaluate("sum(a, axis=1)", a=a)
    assert s.dims == ("station",) and "time" not in s.coords
    assert s.coords["height"].equals(a.coords["height"])
    np.testing.assert_allclose(s.values, a.values.sum(axis=1), rtol=1e-14)
    b = a.assign_coords(time=a.time + 1)
    with pytest.raises(ValueError, match="coordinates"):
        ndpar.evaluate("a + b", a=a, b=b)


# ---- apply_indexed and map_chunks ----------------------------------------------------------

def test_apply_indexed_series():
    s = _series(50, 100)
    idx = pd.Series(RNG.integers(0, 2, 50), index=s.index)
    r = ndpar.apply_indexed(s, idx, ["x * 2", "x - 1"])
    assert isinstance(r, pd.Series) and r.index.equals(s.index) and r.name == "load"
    ref = np.where(idx == 0, s * 2, s - 1)
    np.testing.assert_array_equal(r.to_numpy(), ref)
    with pytest.raises(ValueError, match="index"):
        ndpar.apply_indexed(s, idx.reset_index(drop=True), ["x"])


def test_apply_indexed_dataarray():
    a = _dataarray().isel(station=0)
    r = ndpar.apply_indexed(a, np.zeros(40, np.int8), ["x + 1"])
    _same_labels(r, a)
    np.testing.assert_array_equal(r.values, a.values + 1)


def test_map_chunks_pandas():
    s = _series(100, 100)
    r = ndpar.map_chunks(lambda v: v * 2, s, chunks=7)
    assert isinstance(r, pd.Series) and r.index.equals(s.index)
    np.testing.assert_array_equal(r.to_numpy(), s.to_numpy() * 2)
    w = ndpar.map_chunks(np.mean, s, windows=(5, None))
    ref = s.rolling(5).mean().dropna()
    assert w.index.equals(s.index[4:])  # labelled by each window's last point, as rolling
    np.testing.assert_allclose(w.to_numpy(), s.rolling(5).mean().to_numpy()[4:], rtol=1e-12)
    assert len(ref) <= len(w)
    df = pd.DataFrame(RNG.standard_normal((30, 2)), columns=["p", "q"])
    r = ndpar.map_chunks(lambda v: v + 1, df)
    assert isinstance(r, pd.DataFrame) and r.columns.equals(df.columns)
    np.testing.assert_array_equal(r.to_numpy(), df.to_numpy() + 1)


def test_map_chunks_dataarray():
    a = _dataarray().transpose("time", "station")
    r = ndpar.map_chunks(lambda v: v * 3, a)
    _same_labels(r, a)
    np.testing.assert_array_equal(r.values, a.values * 3)
