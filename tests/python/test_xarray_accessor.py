"""The xarray accessor (DataArray.ndpar, Dataset.ndpar): dims by name,
coords and attrs kept, dask-backed data lazy; values are ndpar's own
move_* along that axis, and pandas' rolling for the mean."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import ndpar

xr = pytest.importorskip("xarray")
RNG = np.random.default_rng(21)


def _da(chunks=None):
    v = RNG.normal(size=(3, 200))
    v[1, 17] = np.nan
    a = xr.DataArray(v, dims=("site", "time"), name="t",
                     coords={"site": ["a", "b", "c"], "time": np.arange(200)},
                     attrs={"units": "K"})
    return a.chunk({"time": chunks}) if chunks else a


@pytest.mark.parametrize("fn", ["move_mean", "move_std", "move_max", "move_median", "move_count"])
def test_dataarray_moves_along_a_named_dim(fn):
    a = _da()
    r = getattr(a.ndpar, fn)(10, dim="time", min_count=3)
    assert r.dims == a.dims and r.attrs == a.attrs and r.name == "t"
    xr.testing.assert_identical(r.coords.to_dataset(), a.coords.to_dataset())
    want = getattr(ndpar, fn)(a.values, 10, min_count=3, axis=1)
    assert np.array_equal(r.values, want, equal_nan=True)
    r0 = getattr(a.ndpar, fn)(2, dim="site")
    assert np.array_equal(r0.values, getattr(ndpar, fn)(a.values, 2, axis=0), equal_nan=True)


def test_mean_matches_pandas_rolling():
    a = _da()
    r = a.ndpar.move_mean(7, dim="time", min_count=1)
    want = a.to_pandas().T.rolling(7, min_periods=1).mean().T.values
    np.testing.assert_allclose(r.values, want, rtol=1e-12)


def test_dask_backed_stays_lazy_with_the_same_bits():
    pytest.importorskip("dask.array")
    a = _da(chunks=45)
    r = a.ndpar.move_std(12, dim="time", min_count=4)
    assert hasattr(r.data, "__dask_graph__")
    assert r.values.tobytes() == ndpar.move_std(a.values, 12, min_count=4, axis=1).tobytes()
    assert r.attrs == {"units": "K"}


def test_dataset_moves_and_evaluate():
    a = _da()
    ds = xr.Dataset({"t": a, "w": a * 2, "k": ("site", np.arange(3.0))})
    r = ds.ndpar.move_sum(5, dim="time")
    assert np.array_equal(r["t"].values, ndpar.move_sum(a.values, 5, axis=1), equal_nan=True)
    assert np.array_equal(r["k"].values, ds["k"].values)  # no 'time' dim: kept
    e = ds.ndpar.evaluate("where(t > 0, t * w, 0)")
    assert e.dims == a.dims
    assert np.array_equal(e.values, np.where(a.values > 0, a.values * 2 * a.values, 0))


def test_bad_dim():
    with pytest.raises(ValueError, match="dim"):
        _da().ndpar.move_mean(3, dim="nope")


def test_registered_when_xarray_comes_after_ndpar():
    code = ("import sys, ndpar; assert 'xarray' not in sys.modules; import xarray as xr, numpy as np; "
            "a = xr.DataArray(np.arange(5.0), dims=('x',)); "
            "print(a.ndpar.move_sum(2, dim='x').values.tolist())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ), timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[nan, 1.0, 3.0, 5.0, 7.0]"
