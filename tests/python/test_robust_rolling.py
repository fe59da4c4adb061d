"""Issue [robust], moving windows: move_count against pandas, mode='edge'
with windows longer than the data, and booleans whose bytes are not 0/1.

References: pandas' Series.rolling(...).count() for move_count (ndpar
follows it: the number of non-NaN values, NaN only where the window holds
fewer than min_count positions of the series); np.pad(mode='edge') then
the window statistic per point (rolling_reference.pad_then_trailing) for
mode='edge'; the reference on a.astype(bool) for odd boolean bytes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ndpar
import rolling_reference as R
from test_rolling import assert_rolling, call

nan = np.nan


# ---- move_count is pandas' rolling().count() --------------------------------------

def pandas_count(a, w, min_count=None, center=False):
    """pandas along the last axis of a 1-D or 2-D array."""
    a = np.asarray(a, np.float64)
    if a.ndim == 1:
        return pd.Series(a).rolling(w, min_periods=min_count, center=center).count().to_numpy()
    return pd.DataFrame(a.T).rolling(w, min_periods=min_count, center=center).count() \
        .to_numpy().T


def test_count_issue_example():
    a = [1, nan, 3, 4, 5]
    for center in (False, True):
        for mc in (None, 1, 2, 3):
            got = ndpar.move_count(a, 3, min_count=mc, center=center)
            np.testing.assert_array_equal(got, pandas_count(a, 3, mc, center),
                                          err_msg=f"min_count={mc} center={center}")
    # the issue's case: full windows holding a NaN are counted, not NaN
    np.testing.assert_array_equal(ndpar.move_count(a, 3), pandas_count(a, 3))
    assert ndpar.move_count(a, 3)[2] == 2


def test_count_all_nan_windows_count_zero():
    a = np.full(6, nan)
    for center in (False, True):
        for mc in (None, 1, 2):
            np.testing.assert_array_equal(ndpar.move_count(a, 3, min_count=mc, center=center),
                                          pandas_count(a, 3, mc, center))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_count_against_pandas(data):
    n = data.draw(st.integers(1, 80))
    seed = data.draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    a[rng.random(n) < data.draw(st.sampled_from([0.0, 0.2, 0.6, 1.0]))] = nan
    a[rng.random(n) < 0.05] = np.inf
    w = data.draw(st.integers(1, n))
    mc = data.draw(st.one_of(st.none(), st.integers(1, w)))
    center = data.draw(st.booleans())
    dt = data.draw(st.sampled_from(["float64", "float32", ">f8"]))
    got = ndpar.move_count(a.astype(dt), w, min_count=mc, center=center)
    np.testing.assert_array_equal(got, pandas_count(a, w, mc, center),
                                  err_msg=f"w={w} min_count={mc} center={center} {dt}")


def test_count_long_series_against_pandas():
    """More than one block (16384 outputs), windows on both sides of 8192,
    NaN runs; 2-D along either axis."""
    rng = np.random.default_rng(5)
    n = 40_000
    a = rng.standard_normal(n)
    a[rng.random(n) < 0.3] = nan
    a[10_000:21_000] = nan
    for w in (1, 2, 7, 5000, 9001, 20_000):
        for mc in (None, 1, w // 2 + 1):
            for center in (False, True):
                got = ndpar.move_count(a, w, min_count=mc, center=center)
                np.testing.assert_array_equal(got, pandas_count(a, w, mc, center),
                                              err_msg=f"w={w} mc={mc} center={center}")
    b = a[:3000].reshape(30, 100)
    np.testing.assert_array_equal(ndpar.move_count(b, 9, min_count=4, center=True),
                                  pandas_count(b, 9, 4, True))
    np.testing.assert_array_equal(ndpar.move_count(b.T, 9, axis=0),
                                  pandas_count(b, 9).T)
    # out= of another layout, and in place over the input
    out = np.empty((100, 30)).T
    ndpar.move_count(b, 5, out=out)
    np.testing.assert_array_equal(out, pandas_count(b, 5))
    c = b.copy()
    ndpar.move_count(c, 5, min_count=2, out=c)
    np.testing.assert_array_equal(c, pandas_count(b, 5, 2))


def test_count_edge_counts_the_padding():
    """mode='edge': every window holds w positions (padding included), so
    it is never NaN: the count of the padded window's non-NaN values."""
    a = np.array([nan, 2, nan, 4, 5, nan, 7])
    for w in (1, 2, 3, 6, 7):
        for mc in (None, 1, w):
            exp = R.pad_then_trailing("count", a, w, mc)
            p = np.pad(a, (w // 2, w - 1 - w // 2), mode="edge")
            direct = pd.Series(p).rolling(w).count().to_numpy()[w - 1:]  # pandas, on the pad
            np.testing.assert_array_equal(exp, direct)
            np.testing.assert_array_equal(ndpar.move_count(a, w, min_count=mc, mode="edge"),
                                          exp)


# ---- mode='edge' takes windows longer than the data -------------------------------

FNS = R.FUNCS


@pytest.mark.parametrize("fn", FNS)
def test_edge_window_longer_than_data(fn):
    rng = np.random.default_rng(11)
    for n in (1, 2, 3, 8):
        for trial in range(2):
            a = np.round(rng.standard_normal(n) * 10, 2)
            if trial:
                a[rng.random(n) < 0.4] = nan
            for w in sorted({n + 1, n + 2, 2 * n + 1, 3 * n + 4, 50, 1001}):
                for mc in (None, 1, w // 2 + 1):
                    for dt in ("float64", "float32"):
                        x = a.astype(dt)
                        got = call(fn, x, w, mc, kind="edge", q=0.3, ddof=1)
                        exp = R.pad_then_trailing(fn, x, w, mc, q=0.3, ddof=1)
                        assert_rolling(fn, got, x, w, mc, kind="edge", q=0.3, ddof=1,
                                       exp=exp, ctx=f"n={n} trial={trial}")


@pytest.mark.parametrize("fn", FNS)
def test_edge_window_much_longer_2d(fn):
    """Along either axis of a 2-D array, strided, windows 100x the axis."""
    rng = np.random.default_rng(12)
    a = np.round(rng.standard_normal((4, 3)) * 5, 1)
    a[1, 1] = nan
    for axis in (0, 1):
        n = a.shape[axis]
        for w in (n + 1, 100 * n, 100 * n + 1):
            got = call(fn, a, w, None, axis=axis, kind="edge", q=0.7)
            exp = np.apply_along_axis(lambda v: R.pad_then_trailing(fn, v, w, q=0.7), axis, a)
            assert_rolling(fn, got, a, w, None, axis=axis, kind="edge", q=0.7, exp=exp)


def test_edge_long_window_values_spelled_out():
    # [1, 2, 3], w = 7: padded [1 1 1 | 1 2 3 | 3 3 3]
    a = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ndpar.move_sum(a, 7, mode="edge"),
                                  [np.sum(np.pad(a, 3, mode="edge")[i:i + 7]) for i in range(3)])
    # length-1 data: every window is that value
    for fn in ("sum", "mean", "min", "max", "median", "count"):
        got = getattr(ndpar, "move_" + fn)(np.array([4.0]), 9, mode="edge")
        np.testing.assert_array_equal(got, [{"sum": 36.0, "count": 9.0}.get(fn, 4.0)])


@pytest.mark.parametrize("fn", FNS)
def test_no_edge_still_refuses_long_windows(fn):
    """Without mode='edge' the window must fit the axis, as bottleneck."""
    import bottleneck as bn
    a = np.arange(3.0)
    with pytest.raises(ValueError):  # bottleneck's rule
        bn.move_sum(a, 4)
    for kind in ("trailing", "center"):
        with pytest.raises(ValueError, match="window"):
            call(fn, a, 4, kind=kind)
    # an empty axis admits no window, with edge padding either (np.pad refuses)
    with pytest.raises(ValueError):
        np.pad(np.zeros(0), 1, mode="edge")
    with pytest.raises(ValueError, match="window"):
        call(fn, np.zeros(0), 1, kind="edge")
    with pytest.raises(ValueError, match="window"):
        call(fn, np.zeros(0), 3, kind="edge")


def test_edge_absurd_window_is_an_error_not_a_crash():
    with pytest.raises((ValueError, MemoryError), match="window|memory"):
        ndpar.move_mean(np.ones(3), 2 ** 50, mode="edge")


# ---- booleans whose bytes are not 0/1 ---------------------------------------------

@pytest.mark.parametrize("fn", FNS)
def test_bool_bytes_read_as_numpy(fn):
    rng = np.random.default_rng(3)
    raw = rng.choice(np.array([0, 1, 2, 255, 128, 7], np.uint8), 200)
    raw[:4] = [0, 1, 2, 255]
    m = raw.view(bool)
    norm = m.astype(bool)  # NumPy: any nonzero byte is True
    assert (norm.astype(np.uint8) <= 1).all() and (norm == (raw != 0)).all()
    for kind in ("trailing", "center", "edge"):
        for w, mc in ((3, None), (7, 2), (250, None)):
            if w > m.size and kind != "edge":
                continue
            got = call(fn, m, w, mc, kind=kind, q=0.4)
            exp = R.ref(fn, norm, w, mc, kind=kind, q=0.4)
            assert_rolling(fn, got, norm, w, mc, kind=kind, q=0.4, exp=exp, ctx="bool bytes")
    # strided (the gather path) and 2-D
    raw2 = rng.choice(np.array([0, 3, 255], np.uint8), (6, 40))
    m2 = raw2.view(bool)[:, ::2]
    got = call(fn, m2, 5, 2, q=0.4)
    exp = R.ref(fn, m2.astype(bool), 5, 2, q=0.4)
    assert_rolling(fn, got, m2.astype(bool), 5, 2, q=0.4, exp=exp, ctx="bool bytes strided")
