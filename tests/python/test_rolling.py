"""Moving-window statistics: ndpar.move_* against plain references.

The references (rolling_reference.py) loop over output positions, collect
each window's values, drop NaN and compute with NumPy in float64. Where
bottleneck has the function, trailing windows are also compared with it
(bottleneck and pandas are test-only dependencies, from requirements-dev.txt).

Tolerances. min, max, argmin, argmax and count are compared exactly. The
others are allowed the error of a running computation that restarts from an
exact window at least every max(w, 256) outputs (include/ndpar/rolling.h,
src/rolling/moments.c): with u = 2**-53,
  sum    4 u (w + max(w,256)) w M
  mean   that / count
  var    16 u (w + max(w,256)) w M**2 / (count - ddof)
  std    sqrt(var's) + 4 u std
  median, quantile  4 u M (one interpolation, differently written)
with M the largest finite |value| among the max(w, 256) positions before
the window and the window itself (rolling_reference.local_scale).
These are far below any logic error on the test data (values of order 1 to
1e3); precision on hard data (a 1e9 offset) is tested separately with
tighter, justified bounds. float32 results may in addition differ by one
float32 ULP from the float64 reference rounded to float32.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ndpar
import rolling_reference as R

FUNCS = R.FUNCS
KINDS = R.KINDS
EXACT = {"min", "max", "argmin", "argmax", "count"}
U = 2.0 ** -53


def nd(fn):
    return getattr(ndpar, "move_" + fn)


def call(fn, a, w, min_count=None, axis=-1, kind="trailing", q=0.25, ddof=0, out=None,
         **extra):
    kw = dict(min_count=min_count, axis=axis, **extra)
    if kind == "center":
        kw["center"] = True
    elif kind == "edge":
        kw["mode"] = "edge"
    if out is not None:
        kw["out"] = out
    if fn == "quantile":
        return nd(fn)(a, w, q, **kw)
    if fn in ("var", "std"):
        kw["ddof"] = ddof
    return nd(fn)(a, w, **kw)


def out_dtype(dt):
    """float32 for float32 (either byte order), float64 for the rest; native."""
    dt = np.dtype(dt)
    return np.dtype(np.float32) if (dt.kind, dt.itemsize) == ("f", 4) else np.dtype(np.float64)


def tolerance(fn, exp, count, w, M, ddof):
    """M: largest finite |value| the computation of each output has seen
    (rolling_reference.local_scale)."""
    u4 = 4 * U * (w + max(w, 256))
    with np.errstate(invalid="ignore", divide="ignore"):
        if fn == "sum":
            return u4 * w * M
        if fn == "mean":
            return u4 * w * M / count
        tv = 4 * u4 * w * M * M / np.maximum(count - ddof, 1)
        if fn == "var":
            return tv
        if fn == "std":
            return np.sqrt(tv) + 4 * U * np.abs(exp)
    return 4 * U * M  # median, quantile


def assert_rolling(fn, got, a, w, min_count=None, axis=-1, kind="trailing", q=0.25, ddof=0,
                   exp=None, ctx="", back=None):
    """got (ndpar's result) against the reference on a. `back`: how far
    before the window values may influence the tolerance (default
    max(w, 256); 0 = the window's own values only)."""
    a = np.asarray(a)
    where = f"[move_{fn} w={w} min_count={min_count} axis={axis} {kind} q={q} ddof={ddof} " \
            f"dtype={a.dtype} {ctx}]"
    odt = out_dtype(a.dtype)
    assert isinstance(got, np.ndarray), where
    assert got.dtype == odt, f"dtype {got.dtype} != {odt} {where}"
    assert got.shape == a.shape, f"shape {got.shape} != {a.shape} {where}"
    if exp is None:
        exp = R.ref(fn, a, w, min_count, axis, kind, q, ddof)
    g = got.astype(np.float64)
    if fn in EXACT:
        e = exp.astype(odt).astype(np.float64)
        bad = ~((g == e) | (np.isnan(g) & np.isnan(e)))
        if bad.any():
            i = np.argwhere(bad)[:5]
            raise AssertionError(
                f"{bad.sum()} of {bad.size} differ {where}: at {i.tolist()} got "
                f"{g[tuple(i.T)]} expected {e[tuple(i.T)]}")
        return
    M = R.local_scale(a, w, axis, kind, back)
    count = R.counts(a, w, axis, kind)
    tol = tolerance(fn, exp, count, w, M, ddof)
    e = exp
    if odt == np.float32:
        e32 = exp.astype(np.float32)
        e = e32.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            tol = tol + np.spacing(np.abs(e32)).astype(np.float64)
    special = ~np.isfinite(e)
    bad = special & ~((g == e) | (np.isnan(g) & np.isnan(e)))
    with np.errstate(invalid="ignore"):
        bad |= ~special & ~(np.abs(g - e) <= tol)
    if bad.any():
        i = np.argwhere(bad)[:5]
        raise AssertionError(
            f"{bad.sum()} of {bad.size} differ {where}: at {i.tolist()} got "
            f"{g[tuple(i.T)].tolist()} expected {e[tuple(i.T)].tolist()} "
            f"(tol {tol[tuple(i.T)].tolist()})")


def series(n, seed=0, nan_frac=0.15, nan_run=None, scale=100.0):
    """Floats of order `scale` (two decimals), some NaN, one NaN run."""
    rng = np.random.default_rng(seed)
    a = np.round(rng.standard_normal(n) * scale, 2)
    a[rng.random(n) < nan_frac] = np.nan
    if nan_run:
        s = n // 3
        a[s:s + nan_run] = np.nan
    return a


# ---- every function x window kind x window x min_count (float64, 1-D) ---------

N_GRID = 61
GRID_A = series(N_GRID, seed=1, nan_run=25)  # NaN run longer than w = 1, 2, 3, 21


@pytest.mark.parametrize("mc", ["default", "1", "half"])
@pytest.mark.parametrize("w", [1, 2, 3, 21, N_GRID])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fn", FUNCS)
def test_grid_float64(fn, kind, w, mc):
    min_count = {"default": None, "1": 1, "half": w // 2 + 1}[mc]
    for q in ([0.0, 0.3, 0.5, 1.0] if fn == "quantile" else [0.25]):
        for ddof in ([0, 1] if fn in ("var", "std") else [0]):
            got = call(fn, GRID_A, w, min_count, kind=kind, q=q, ddof=ddof)
            assert_rolling(fn, got, GRID_A, w, min_count, kind=kind, q=q, ddof=ddof)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fn", FUNCS)
def test_no_nan_fast_path(fn, kind):
    """All-finite input (the kernels' fast paths), a few windows, every
    min_count placement of partial windows."""
    a = series(300, seed=2, nan_frac=0.0)
    for w in (1, 4, 21, 300):
        for mc in (None, 1, max(1, w - 2)):
            got = call(fn, a, w, mc, kind=kind, q=0.7, ddof=1)
            assert_rolling(fn, got, a, w, mc, kind=kind, q=0.7, ddof=1)


# ---- dtypes -------------------------------------------------------------------------

def typed(dt, n, seed):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dt)
    if dt == np.bool_:
        return rng.integers(0, 2, n).astype(bool)
    if dt.kind in "iu":
        ii = np.iinfo(dt)
        lo, hi = max(int(ii.min), -10 ** 6), min(int(ii.max), 10 ** 6)
        a = rng.integers(lo, hi, n, endpoint=True).astype(dt)
        a[::7] = ii.max
        a[3::11] = ii.min
        return a
    a = series(n, seed, nan_run=9).astype(dt)
    a[5] = np.inf
    a[40] = -np.inf
    return a


@pytest.mark.parametrize("w", [3, 21, 60])
@pytest.mark.parametrize("dt", ["float32", "int64", "int32", "int8", "uint8", "uint64",
                                "bool"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fn", FUNCS)
def test_dtypes(fn, kind, dt, w):
    a = typed(dt, 90, seed=3)
    if fn in ("median", "quantile") and dt == "float32":
        a = a.copy()
        a[~np.isfinite(a)] = np.nan  # numpy.quantile's own lerp is NaN next to inf
    for mc in (None, 1):
        got = call(fn, a, w, mc, kind=kind, q=0.4)
        assert_rolling(fn, got, a, w, mc, kind=kind, q=0.4)


@pytest.mark.parametrize("fn", ["sum", "mean", "min", "max", "argmin", "argmax", "median",
                                "count"])
def test_integer_input_exact(fn):
    """Small integers: sums are exact in float64, so sum, mean (= exact sum /
    count, rounded once), count, min, max, argmin/argmax and median are
    exactly the reference's."""
    rng = np.random.default_rng(4)
    a = rng.integers(-1000, 1000, 5000).astype(np.int64)
    for kind in KINDS:
        for w in (5, 300):
            got = call(fn, a, w, 1, kind=kind)
            exp = R.ref(fn, a, w, 1, kind=kind)
            np.testing.assert_array_equal(got, exp, err_msg=f"move_{fn} {kind} w={w}")


def test_output_dtypes():
    for dt in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
               "uint64", "float64", ">f8", ">i4", "float32", ">f4"):
        a = np.arange(10).astype(dt)
        for fn in FUNCS:
            got = call(fn, a, 3)
            assert got.dtype == out_dtype(dt), (fn, dt, got.dtype)
            assert got.dtype.isnative


# ---- axes and memory layouts ------------------------------------------------------

def layouts():
    base = series(9 * 17 * 2, seed=5, nan_frac=0.2).reshape(9, 17, 2)
    m = np.ascontiguousarray(base[:, :, 0])  # (9, 17)
    yield "2d-axis1", m, 1
    yield "2d-axis0", m, 0
    yield "2d-axis-1", m, -1
    yield "2d-axis-2", m, -2
    yield "3d-middle", base, 1  # (9, 17, 2) along the middle axis
    yield "3d-middle-view", base.transpose(2, 1, 0), 1  # (2, 17, 9), a strided view
    yield "3d-middle-copy", np.ascontiguousarray(base.transpose(2, 1, 0)), 1
    yield "fortran-axis1", np.asfortranarray(m), 1
    yield "fortran-axis0", np.asfortranarray(m), 0
    yield "strided", base[:, :, 1], 1  # non-contiguous, stride 16
    yield "negative", m[::-1, ::-1], 1
    yield "negative-axis0", m[::-2, ::-1], 0
    yield "bigendian", m.astype(">f8"), 1
    yield "bigendian-f32", m.astype(">f4"), 0
    yield "bigendian-i4", np.nan_to_num(m).astype(">i4"), 1
    yield "1d-strided", base[2, :, 1], 0


LAYOUTS = list(layouts())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name,a,axis", LAYOUTS, ids=[x[0] for x in LAYOUTS])
@pytest.mark.parametrize("fn", FUNCS)
def test_layouts(fn, name, a, axis, kind):
    before = a.copy()
    for w in (1, 4, a.shape[axis]):
        got = call(fn, a, w, 2 if w >= 2 else 1, axis=axis, kind=kind, q=0.6, ddof=1)
        assert_rolling(fn, got, a, w, 2 if w >= 2 else 1, axis=axis, kind=kind, q=0.6,
                       ddof=1, ctx=name)
    np.testing.assert_array_equal(a, before)  # input untouched
    assert a.dtype == before.dtype


def test_list_input():
    a = [1.0, 2.0, float("nan"), 4.0, 5.0]
    np.testing.assert_array_equal(ndpar.move_sum(a, 2, min_count=1),
                                  R.ref_1d("sum", a, 2, 1))
    np.testing.assert_array_equal(ndpar.move_max([[1, 5, 2], [7, 0, 3]], 2, axis=0),
                                  [[np.nan] * 3, [7, 5, 3]])


def test_empty_lanes():
    for fn in FUNCS:
        got = call(fn, np.zeros((0, 5)), 3)
        assert got.shape == (0, 5) and got.dtype == np.float64
        got = call(fn, np.zeros((4, 0), np.float32), 3, axis=0)
        assert got.shape == (4, 0) and got.dtype == np.float32


# ---- hypothesis: random series, windows, min_count, kinds -------------------------

ELEMS_FINITE = st.one_of(
    st.integers(-20, 20).map(float),
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
    st.just(float("nan")),
)
ELEMS_INF = st.one_of(ELEMS_FINITE, st.sampled_from([np.inf, -np.inf]))


ELEMS_TIES = st.one_of(st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 0.5]),
                       st.just(float("nan")))


@st.composite
def rolling_case(draw, fn, max_size=70):
    elems = ELEMS_FINITE if fn in ("median", "quantile") else ELEMS_INF
    elems = draw(st.sampled_from([elems, ELEMS_TIES]))  # many equal values: ties
    vals = draw(st.lists(elems, min_size=1, max_size=max_size))
    a = np.array(vals, dtype=np.float64)
    if draw(st.booleans()):  # NaN run somewhere
        s = draw(st.integers(0, len(a) - 1))
        a[s:s + draw(st.integers(1, len(a)))] = np.nan
    dt = draw(st.sampled_from(["float64", "float32"]))
    a = a.astype(dt)
    w = draw(st.integers(1, len(a)))
    mc = draw(st.one_of(st.none(), st.integers(1, w)))
    kind = draw(st.sampled_from(KINDS))
    q = draw(st.floats(0.0, 1.0)) if fn == "quantile" else 0.25
    ddof = draw(st.integers(0, 3)) if fn in ("var", "std") else 0
    return a, w, mc, kind, q, ddof


@pytest.mark.parametrize("fn", FUNCS)
def test_hypothesis(fn):
    @given(rolling_case(fn))
    def check(case):
        a, w, mc, kind, q, ddof = case
        got = call(fn, a, w, mc, kind=kind, q=q, ddof=ddof)
        assert_rolling(fn, got, a, w, mc, kind=kind, q=q, ddof=ddof)

    check()


@pytest.mark.parametrize("fn", FUNCS)
def test_hypothesis_long(fn):
    """Longer series (blocks of more than 256 inputs: median/quantile's
    rank tree rather than a sorted array), NaN runs that empty a window and
    refill it."""
    @settings(max_examples=30)
    @given(rolling_case(fn, max_size=400))
    def check(case):
        a, w, mc, kind, q, ddof = case
        got = call(fn, a, w, mc, kind=kind, q=q, ddof=ddof)
        assert_rolling(fn, got, a, w, mc, kind=kind, q=q, ddof=ddof)

    check()


# ---- semantics spelled out -------------------------------------------------------

def test_window_placements_explicit():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    nan = np.nan
    np.testing.assert_array_equal(ndpar.move_sum(a, 3), [nan, nan, 6, 9, 12])
    np.testing.assert_array_equal(ndpar.move_sum(a, 3, min_count=1), [1, 3, 6, 9, 12])
    np.testing.assert_array_equal(ndpar.move_sum(a, 3, center=True), [nan, 6, 9, 12, nan])
    np.testing.assert_array_equal(ndpar.move_sum(a, 3, min_count=1, center=True),
                                  [3, 6, 9, 12, 9])
    # even window: starts at i - w//2 (pandas)
    np.testing.assert_array_equal(ndpar.move_sum(a, 4, min_count=1, center=True),
                                  [3, 6, 10, 14, 12])
    np.testing.assert_array_equal(ndpar.move_sum(a, 3, mode="edge"), [4, 6, 9, 12, 14])
    # padded [1, 1, 1, 2, 3, 4, 5, 5]
    np.testing.assert_array_equal(ndpar.move_sum(a, 4, mode="edge"), [5, 7, 10, 14, 17])
    # mode='edge' centers whatever center says
    for c in (False, True):
        np.testing.assert_array_equal(ndpar.move_mean(a, 4, mode="edge", center=c),
                                      ndpar.move_mean(a, 4, mode="edge"))
    np.testing.assert_array_equal(ndpar.move_count([1, nan, 3, nan], 2, min_count=1),
                                  [1, 1, 1, 1])
    # count is pandas' rolling().count(): a window of NaN only counts 0
    np.testing.assert_array_equal(ndpar.move_count([1, nan, nan, 4], 2, min_count=1),
                                  [1, 1, 0, 1])


def test_argmin_argmax_conventions():
    nan = np.nan
    # counted back from the window's last position, ties: the newest wins
    np.testing.assert_array_equal(ndpar.move_argmin(np.array([1.0, 1, 1, 2, 1]), 3),
                                  [nan, nan, 0, 1, 0])
    np.testing.assert_array_equal(ndpar.move_argmax(np.array([3.0, 1, 2, 0, 5]), 3),
                                  [nan, nan, 2, 1, 0])
    np.testing.assert_array_equal(
        ndpar.move_argmin(np.array([1.0, nan, 1, nan, 1]), 3, min_count=1), [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(
        ndpar.move_argmax(np.array([nan, np.inf, np.inf, -np.inf]), 2, min_count=1),
        [nan, 0, 0, 1])
    # center: the window's last position may lie past the end of the array
    a = np.array([3.0, 1.0, 2.0])
    np.testing.assert_array_equal(ndpar.move_argmin(a, 3, min_count=1, center=True),
                                  [0, 1, 2])
    np.testing.assert_array_equal(ndpar.move_argmin(a, 3, mode="edge"), [0, 1, 2])
    # edge: padding repeats a[0]; among equal values the newest (rightmost)
    np.testing.assert_array_equal(ndpar.move_argmin(np.array([0.0, 5, 6]), 3, mode="edge"),
                                  [1, 2, 2])
    np.testing.assert_array_equal(ndpar.move_argmax(np.array([0.0, 5, 6]), 3, mode="edge"),
                                  [0, 0, 0])


def test_nan_all_and_runs():
    for fn in FUNCS:
        for kind in KINDS:
            # count (pandas' rolling().count()) counts 0 where the others give NaN
            empty = (lambda g: (g == 0).all()) if fn == "count" else (lambda g: np.isnan(g).all())
            a = np.full(50, np.nan)
            got = call(fn, a, 7, 1, kind=kind)
            assert empty(got), (fn, kind)
            # NaN run much longer than the window: NaN inside, values again after
            b = series(200, seed=6, nan_frac=0.0)
            b[50:150] = np.nan
            got = call(fn, b, 9, 1, kind=kind)
            assert_rolling(fn, got, b, 9, 1, kind=kind)
            assert empty(got[70:130]), (fn, kind)
            assert not np.isnan(got[160:190]).any(), (fn, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_inf_enters_and_leaves(kind):
    """A running sum would stay NaN (inf - inf) after an infinity leaves."""
    w = 5
    for fast in (True, False):
        a = np.ones(60)
        if not fast:
            a[45] = np.nan
        a[10] = np.inf
        a[25] = -np.inf
        a[33] = np.inf
        a[35] = -np.inf  # both signs in one window: NaN
        for fn in ("sum", "mean", "var", "std", "min", "max", "count", "argmax", "argmin"):
            got = call(fn, a, w, 1, kind=kind)
            assert_rolling(fn, got, a, w, 1, kind=kind, ctx=f"fast={fast}")
        s = call("sum", a, w, 1, kind=kind)
        start = (lambda i: i - w + 1) if kind == "trailing" else (lambda i: i - w // 2)
        for i in range(5, 55):
            lo, hi = start(i), start(i) + w  # window [lo, hi)
            has = [p for p in (10, 25, 33, 35) if lo <= p < hi]
            if not has:
                assert np.isfinite(s[i]), (kind, i, s[i])
            if has == [10]:
                assert s[i] == np.inf
            if 33 in has and 35 in has:
                assert np.isnan(s[i])
        v = call("var", a, w, 1, kind=kind)
        assert np.isnan(v[11]) and v[20] == 0.0, v[:22]


def test_overflowing_sum_recovers():
    """A running sum that overflowed must come back to the window's sum."""
    big = np.finfo(np.float64).max
    nan, inf = np.nan, np.inf
    a = np.array([big, big, -big, -big, 1.0, 2.0, 3.0, big, 0.0, 5.0, 4.0])
    exp = [big, inf, 0.0, -inf, -big, 3.0, 5.0, big, big, 5.0, 9.0]
    for tail in ([], [nan], [nan, 1.0]):  # all-finite (fast) and general paths
        b = np.concatenate([a, tail])
        with np.errstate(over="ignore"):
            for fn in ("sum", "mean"):
                got = call(fn, b, 2, 1)
                assert_rolling(fn, got, b, 2, 1, ctx=f"tail={tail}")
        np.testing.assert_array_equal(ndpar.move_sum(b, 2, 1)[:11], exp)
    np.testing.assert_array_equal(ndpar.move_sum(np.array([big, big, -big, 1.0, 1.0]), 2),
                                  [nan, inf, 0.0, -big, 2.0])


@pytest.mark.parametrize("w", [10, 37, 300])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fn", ["sum", "mean", "var", "std"])
def test_spikes_next_to_nan_gaps(fn, kind, w):
    """Values of order 1, NaN gaps, and spikes of 1e8 next to the gaps.
    Every result must be as accurate as a direct computation on its own
    window (tolerance from the window's own values only): a spike outside
    the window -- one that left it, or one beyond a NaN gap that a shift or
    a running state picked up -- must not cost precision."""
    rng = np.random.default_rng(20)
    n = 3000
    a = rng.uniform(-1, 1, n) + 3
    for k, s in enumerate(rng.integers(1, n - 2 * w, 30)):
        gap = int(rng.integers(1, 2 * w))
        a[s:s + gap] = np.nan
        if k % 3 != 1:
            a[s + gap] = 1e8 * rng.choice([-1, 1])  # spike after the gap
        if k % 3 != 0:
            a[s - 1] = 1e8  # spike before the gap
    for mc in (1, 2):
        for ddof in ((0, 1) if fn in ("var", "std") else (0,)):
            got = call(fn, a, w, mc, kind=kind, ddof=ddof)
            assert_rolling(fn, got, a, w, mc, kind=kind, ddof=ddof, back=0)


def test_var_shift_outside_window():
    """Regression: values 1..9, a NaN gap, then a spike of 1e8 that the
    windows do not hold."""
    a = np.full(60, np.nan)
    a[0:9] = np.arange(1.0, 10.0)
    a[18] = 1e8
    got = ndpar.move_var(a, 10, min_count=2)
    exp = R.ref_1d("var", a, 10, 2)
    np.testing.assert_allclose(got, exp, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got[10:15], [5.25, 4.0, 35 / 12, 2.0, 1.25], rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_quantile_ends_are_min_max(kind):
    """q = 0 is the window's minimum and q = 1 its maximum, exactly, for
    small (sorted array) and large (rank tree) windows; the maximum leaving
    the window while the quantile sits on it is the interesting step."""
    rng = np.random.default_rng(21)
    a = np.round(rng.standard_normal(20_000) * 100)
    a[rng.random(a.size) < 0.1] = np.nan
    a[5000:5300] = np.nan
    # strictly decreasing: the maximum leaves at every step; increasing: the minimum
    a[9000:12000] = np.sort(rng.standard_normal(3000))[::-1]
    a[14000:16000] = np.sort(rng.standard_normal(2000))
    for w in (5, 48, 49, 100, 1000):
        for mc in (1, w):
            np.testing.assert_array_equal(call("quantile", a, w, mc, kind=kind, q=0.0),
                                          call("min", a, w, mc, kind=kind), err_msg=f"q=0 {w}")
            np.testing.assert_array_equal(call("quantile", a, w, mc, kind=kind, q=1.0),
                                          call("max", a, w, mc, kind=kind), err_msg=f"q=1 {w}")


def test_median_with_infinities():
    """np.median's values: the mean of the two middle values."""
    a = np.array([1.0, np.inf, np.inf, 2.0, -np.inf, np.inf, -np.inf, -np.inf, 3.0])
    for w in (1, 2, 3, 4):
        got = ndpar.move_median(a, w, min_count=1)
        exp = R.ref_1d("median", a, w, 1)
        np.testing.assert_array_equal(got, exp, err_msg=f"w={w}")


def test_var_ddof_rule():
    """divisor count - ddof; count <= ddof gives NaN (ndpar's rule: bottleneck
    gives NaN, -0.0 or inf there)."""
    a = np.array([1.0, 2.0, np.nan, 4.0, np.nan, np.nan, 7.0])
    nan = np.nan
    np.testing.assert_array_equal(ndpar.move_var(a, 3, min_count=1, ddof=1),
                                  [nan, 0.5, 0.5, 2.0, nan, nan, nan])
    np.testing.assert_array_equal(ndpar.move_std(a[:2], 2, min_count=1, ddof=2), [nan, nan])
    np.testing.assert_array_equal(ndpar.move_var(np.arange(3.0), 3, ddof=3), [nan] * 3)
    np.testing.assert_array_equal(ndpar.move_var(np.arange(4.0), 3, ddof=2), [nan, nan, 2, 2])
    np.testing.assert_array_equal(ndpar.move_var(np.arange(4.0), 1), [0.0] * 4)
    np.testing.assert_array_equal(ndpar.move_std(np.arange(4.0), 1, ddof=1), [nan] * 4)
    np.testing.assert_array_equal(ndpar.move_var(np.arange(4.0), 2, ddof=10 ** 6), [nan] * 4)


def test_window_one_is_identity():
    a = series(100, seed=7)
    ok = ~np.isnan(a)
    for kind in KINDS:
        for fn in ("min", "max", "median", "quantile"):
            np.testing.assert_array_equal(call(fn, a, 1, kind=kind, q=0.3), a, err_msg=fn)
        for fn in ("sum", "mean"):  # running sums: within the documented tolerance
            assert_rolling(fn, call(fn, a, 1, kind=kind), a, 1, kind=kind)
        for fn, v in (("var", 0.0), ("std", 0.0), ("argmin", 0.0), ("argmax", 0.0)):
            got = call(fn, a, 1, kind=kind)
            np.testing.assert_array_equal(got, np.where(ok, v, np.nan), err_msg=fn)
        # count (pandas): the one position is there, NaN or not
        np.testing.assert_array_equal(call("count", a, 1, kind=kind), ok.astype(float))


# ---- windows longer than a block (> 16384) ------------------------------------------

def sample_positions(n, w, rng):
    pos = set(range(0, 20)) | set(range(n - 20, n))
    for step in (4096, 16384, 2 * w):
        for k in range(step, n, step):
            pos |= {k - 1, k, k + 1}
    for k in (w - 2, w - 1, w, w // 2 - 1, w // 2, w // 2 + 1, n - w // 2 - 1, n - w // 2):
        pos.add(k)
    pos |= set(rng.integers(0, n, 40).tolist())
    return sorted(p for p in pos if 0 <= p < n)


@pytest.fixture(scope="module")
def big_case():
    rng = np.random.default_rng(8)
    n, w = 50_000, 20_000
    a = rng.integers(-1000, 1000, n).astype(np.float64)
    a[rng.random(n) < 0.05] = np.nan
    a[27_000:47_010] = np.nan  # a NaN run longer than the window
    return a, w, sample_positions(n, w, rng)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fn", FUNCS)
def test_big_window(big_case, fn, kind):
    a, w, pos = big_case
    mc = w // 3
    got = call(fn, a, w, mc, kind=kind, q=0.9, ddof=1)
    exp = np.full(a.shape, np.nan)
    exp[pos] = R.ref_1d(fn, a, w, mc, kind, q=0.9, ddof=1, positions=pos)[pos]
    sub = np.zeros(a.shape, bool)
    sub[pos] = True
    got_s = np.where(sub, got, np.nan)
    assert_rolling(fn, got_s.astype(got.dtype), a, w, mc, kind=kind, q=0.9, ddof=1, exp=exp)
    if fn in ("sum", "count"):
        # every output, exactly: integer-valued data, prefix sums are exact
        s = R.window_start(np.arange(a.size), w, kind)
        e = s + w
        if kind == "edge":
            p = np.pad(a, (w // 2, w - 1 - w // 2), mode="edge")
            s, e = s + w // 2, e + w // 2
        else:
            p = a
            s, e = np.clip(s, 0, a.size), np.clip(e, 0, a.size)
        val = np.concatenate([[0.0], np.cumsum(np.nan_to_num(p))])
        cnt = np.concatenate([[0], np.cumsum(~np.isnan(p))])
        c = cnt[e] - cnt[s]
        if fn == "sum":
            full = np.where(c >= mc, val[e] - val[s], np.nan)
        else:  # pandas: min_count counts the window's positions
            full = np.where(e - s >= mc, c, np.nan)
        np.testing.assert_array_equal(got, full)
    # blocks never depend on the thread count
    for t in (2, 3):
        with ndpar.threads(t):
            again = call(fn, a, w, mc, kind=kind, q=0.9, ddof=1)
        assert np.array_equal(again.view(np.uint64), got.view(np.uint64)), (fn, kind, t)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fn", FUNCS)
def test_layout_and_dtype_invariance_big(fn, kind):
    """Several blocks per lane: every input layout, byte order and integer
    dtype holding the same values gives bit-identical results to a native
    contiguous float64 input; float32 input gives exactly the float64
    result rounded to float32 (computed in float64, rounded once)."""
    rng = np.random.default_rng(19)
    n, w = 40_000, 1001
    v = rng.integers(-3000, 3000, n).astype(np.int16)
    f = v.astype(np.float64)
    base = call(fn, f, w, 5, kind=kind, q=0.7, ddof=1)
    rev = np.ascontiguousarray(f[::-1])
    wide = np.zeros((n, 3))
    wide[:, 1] = f
    variants = {
        "int16": v, "int16-be": v.astype(">i2"), "int64-strided": np.repeat(v, 2)[::2]
        .astype(np.int64), "f64-be": f.astype(">f8"), "f64-reversed": rev[::-1],
        "f64-column": wide[:, 1], "f64-fortran-col": np.asfortranarray(wide)[:, 1],
    }
    for name, a in variants.items():
        got = call(fn, a, w, 5, kind=kind, q=0.7, ddof=1)
        assert got.dtype == np.float64
        assert np.array_equal(got.view(np.uint64), base.view(np.uint64)), name
    # 2-D along axis 0 (strided lanes), several lanes
    m2 = np.stack([f, f[::-1], f], axis=1)
    got = call(fn, m2, w, 5, axis=0, kind=kind, q=0.7, ddof=1)
    np.testing.assert_array_equal(got[:, 0], base)
    np.testing.assert_array_equal(got[:, 2], base)
    np.testing.assert_array_equal(got[:, 1], call(fn, np.ascontiguousarray(f[::-1]), w, 5,
                                                  kind=kind, q=0.7, ddof=1))
    # strided and big-endian outputs
    o = np.zeros((n, 2))
    call(fn, f, w, 5, kind=kind, q=0.7, ddof=1, out=o[:, 1])
    np.testing.assert_array_equal(o[:, 1], base)
    o = np.zeros(n, ">f8")
    call(fn, f, w, 5, kind=kind, q=0.7, ddof=1, out=o)
    np.testing.assert_array_equal(o, base)
    # float32
    f32 = (f / 7).astype(np.float32)
    got32 = call(fn, f32, w, 5, kind=kind, q=0.7, ddof=1)
    exp32 = call(fn, f32.astype(np.float64), w, 5, kind=kind, q=0.7, ddof=1).astype(np.float32)
    assert got32.dtype == np.float32
    assert np.array_equal(got32.view(np.uint32), exp32.view(np.uint32))
    got32 = call(fn, f32.astype(">f4")[::-1][::-1], w, 5, kind=kind, q=0.7, ddof=1)
    assert np.array_equal(got32.view(np.uint32), exp32.view(np.uint32))


@pytest.mark.parametrize("fn", FUNCS)
def test_unaligned_readonly_broadcast(fn):
    """Misaligned and read-only inputs, a broadcast (zero-stride) input, a
    misaligned output: same results as a plain array."""
    rng = np.random.default_rng(22)
    n, w = 20_000, 33
    f = rng.standard_normal(n)
    f[rng.random(n) < 0.05] = np.nan
    base = call(fn, f, w, 3, q=0.2)
    raw = np.zeros(8 * n + 1, np.uint8)
    una = raw[1:].view(np.float64)
    una[:] = f
    assert not una.flags.aligned
    np.testing.assert_array_equal(call(fn, una, w, 3, q=0.2), base)
    ro = np.frombuffer(f.tobytes(), np.float64)
    assert not ro.flags.writeable
    np.testing.assert_array_equal(call(fn, ro, w, 3, q=0.2), base)
    b = np.broadcast_to(f, (3, n))
    got = call(fn, b, w, 3, q=0.2)
    for r in range(3):
        np.testing.assert_array_equal(got[r], base)
    got = call(fn, b, 2, 1, axis=0, q=0.2)  # along the zero-stride axis
    np.testing.assert_array_equal(got[1], call(fn, np.stack([f, f]), 2, 1, axis=0, q=0.2)[1])
    oraw = np.zeros(8 * n + 3, np.uint8)
    out = oraw[3:].view(np.float64)
    assert call(fn, f, w, 3, q=0.2, out=out) is out
    np.testing.assert_array_equal(out, base)
    i16 = np.zeros(2 * n + 1, np.uint8)[1:].view(np.int16)  # misaligned integers
    i16[:] = np.nan_to_num(f * 100).astype(np.int16)
    np.testing.assert_array_equal(call(fn, i16, w, 3, q=0.2),
                                  call(fn, i16.astype(np.float64), w, 3, q=0.2))


def test_concurrent_calls():
    """Several Python threads calling at once (the GIL is released for big
    arrays): each gets the result it gets alone."""
    import threading
    rng = np.random.default_rng(23)
    arrays = [rng.standard_normal(200_000) for _ in range(6)]
    jobs = [(fn, a, w) for fn, w in (("median", 101), ("var", 1001), ("argmax", 21))
            for a in arrays[:2]]
    alone = [call(fn, a, w) for fn, a, w in jobs]
    results = [None] * len(jobs)

    def run(k):
        fn, a, w = jobs[k]
        for _ in range(3):
            results[k] = call(fn, a, w)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, (fn, _, w) in enumerate(jobs):
        assert np.array_equal(results[k].view(np.uint64), alone[k].view(np.uint64)), (fn, w)


@pytest.mark.parametrize("fn", FUNCS)
def test_window_equals_length_big(fn):
    rng = np.random.default_rng(9)
    n = 16_400
    a = rng.standard_normal(n) * 50
    a[rng.random(n) < 0.01] = np.nan
    pos = sorted({0, 1, 2, n // 2 - 1, n // 2, n // 2 + 1, n - 2, n - 1,
                  *rng.integers(0, n, 10).tolist()})
    for kind in KINDS:
        got = call(fn, a, n, 1, kind=kind, q=0.1)
        exp = np.full(n, np.nan)
        exp[pos] = R.ref_1d(fn, a, n, 1, kind, q=0.1, positions=pos)[pos]
        got_s = np.full(n, np.nan)
        got_s[pos] = got[pos]
        assert_rolling(fn, got_s, a, n, 1, kind=kind, q=0.1, exp=exp)


# ---- thread-count invariance on 1e6 points -------------------------------------------

@pytest.fixture(scope="module")
def million():
    rng = np.random.default_rng(10)
    n = 1_000_000
    a = rng.standard_normal(n)
    a[200_000:300_000] += 1e9  # an offset region
    a[rng.random(n) < 0.002] = np.nan  # sparse NaN in most blocks ...
    a[600_000:700_000] = rng.standard_normal(100_000)  # ... but not all
    a[500_000:502_000] = np.nan  # a run longer than both windows
    a[400_000] = np.inf
    a[400_500] = -np.inf
    return a


THREAD_CASES = [(fn, "trailing", w) for fn in FUNCS for w in (21, 1001)] + \
               [(fn, kind, 1001) for fn in ("mean", "var", "argmax", "median")
                for kind in ("center", "edge")]


@pytest.mark.parametrize("fn,kind,w", THREAD_CASES)
def test_thread_count_invariance(million, fn, kind, w):
    a = million
    with ndpar.threads(1):
        base = call(fn, a, w, w // 2, kind=kind, q=0.3, ddof=1)
    assert base.shape == a.shape
    # spot-check the single-threaded result against the reference
    pos = [0, w - 2, w - 1, w, 199_990, 250_000, 400_010, 500_500, 502_010, 650_000,
           999_999]
    exp = np.full(a.shape, np.nan)
    exp[pos] = R.ref_1d(fn, a, w, w // 2, kind, q=0.3, ddof=1, positions=pos)[pos]
    got_s = np.full(a.shape, np.nan)
    got_s[pos] = base[pos]
    assert_rolling(fn, got_s, a[:], w, w // 2, kind=kind, q=0.3, ddof=1, exp=exp)
    for t in (2, 3, 8):
        with ndpar.threads(t):
            other = call(fn, a, w, w // 2, kind=kind, q=0.3, ddof=1)
        diff = other.view(np.uint64) != base.view(np.uint64)
        assert not diff.any(), f"move_{fn} {kind} w={w}: {t} threads differ from 1 at " \
                               f"{np.flatnonzero(diff)[:10]}"


def test_thread_count_invariance_2d():
    rng = np.random.default_rng(11)
    a = rng.standard_normal((64, 5000))
    a[rng.random(a.shape) < 0.01] = np.nan
    for fn in ("sum", "var", "min", "median"):
        for axis in (0, 1):
            with ndpar.threads(1):
                base = call(fn, a, 33, 5, axis=axis)
            for t in (2, 3, 8):
                with ndpar.threads(t):
                    other = call(fn, a, 33, 5, axis=axis)
                assert np.array_equal(base.view(np.uint64), other.view(np.uint64)), \
                    (fn, axis, t)


# ---- precision with a large offset ------------------------------------------------

@pytest.fixture(scope="module")
def offset_series():
    rng = np.random.default_rng(12)
    return 1e9 + rng.uniform(-1.0, 1.0, 1_000_000)


def two_pass(x, starts, w):
    """Per-window mean and variance (ddof 0), float64 two-pass."""
    sw = np.lib.stride_tricks.sliding_window_view(x, w)
    means, vars_ = [], []
    for k in range(0, len(starts), 20_000):
        win = sw[starts[k:k + 20_000]]
        m = win.sum(axis=1) / w
        d = win - m[:, None]
        means.append(m)
        vars_.append((d * d).sum(axis=1) / w)
    return np.concatenate(means), np.concatenate(vars_)


@pytest.mark.parametrize("w", [21, 1001])
def test_precision_large_offset(offset_series, w):
    """1e9 + uniform(-1, 1) noise, 1e6 points.

    mean: a running sum restarted from a direct sum every max(w, 256)
    outputs has relative error at most (w + max(w, 256)) u ~ 2.2e-13 for
    w = 1001; allowed 1e-12. var (true value ~1/3): a shifted update has
    relative error ~ (w + max(w, 256)) u * (max deviation)**2 / var ~ 1e-12;
    allowed 1e-9 -- a running sum of squares would be off by O(1) and an
    unshifted running update by ~1e-7 (deviations ~1 carried at the 1e9
    scale, ulp 1.2e-7). std: half of var's relative error; allowed 5e-10.
    """
    x = offset_series
    n = x.size
    if w == 21:
        starts = np.arange(n - w + 1)
    else:
        starts = np.unique(np.concatenate([np.arange(0, 3000), np.arange(0, n - w + 1, 97),
                                           np.arange(n - w - 3000, n - w + 1)]))
    ends = starts + w - 1
    m_ref, v_ref = two_pass(x, starts, w)
    mean = ndpar.move_mean(x, w)
    var = ndpar.move_var(x, w)
    std = ndpar.move_std(x, w)
    assert np.isnan(mean[:w - 1]).all() and np.isnan(var[:w - 1]).all()

    def rel(got, exp):
        return np.max(np.abs(got - exp) / np.abs(exp))

    assert rel(mean[ends], m_ref) <= 1e-12, rel(mean[ends], m_ref)
    assert rel(var[ends], v_ref) <= 1e-9, rel(var[ends], v_ref)
    assert rel(std[ends], np.sqrt(v_ref)) <= 5e-10, rel(std[ends], np.sqrt(v_ref))


def test_float32_computed_in_float64():
    """float32 in, float32 out, computed in float64 and rounded once: on a
    long series with an offset a float32 accumulator would drift by many
    float32 ULPs; allowed: one ULP of the float64 reference rounded."""
    rng = np.random.default_rng(13)
    a = (1000.0 + rng.uniform(-1, 1, 200_000)).astype(np.float32)
    w = 101
    fa = a.astype(np.float64)
    sw = np.lib.stride_tricks.sliding_window_view(fa, w)
    m = sw.sum(axis=1) / w
    exp = {"sum": sw.sum(axis=1), "mean": m,
           "var": ((sw - m[:, None]) ** 2).sum(axis=1) / w}
    for fn, e in exp.items():
        got = nd(fn)(a, w)
        assert got.dtype == np.float32
        e32 = e.astype(np.float32)
        ulps = np.abs(got[w - 1:].astype(np.float64) - e32) / np.spacing(np.abs(e32))
        assert ulps.max() <= 1.0, (fn, ulps.max(), np.argmax(ulps))


# ---- the seed's use --------------------------------------------------------------

def rolling_mean_seed(data, h):
    """The user's RollingMean: edge padding, then the mean of each window."""
    padded = np.pad(data, h, mode="edge")
    return np.array([padded[i:i + 2 * h + 1].mean() for i in range(len(data))])


@pytest.mark.parametrize("h", [0, 1, 2, 7, 50])
def test_seed_rolling_mean(h):
    rng = np.random.default_rng(14)
    data = rng.standard_normal(500) * 3 + 10
    got = ndpar.move_mean(data, 2 * h + 1, mode="edge")
    exp = rolling_mean_seed(data, h)
    np.testing.assert_allclose(got, exp, rtol=0, atol=4 * U * (4 * h + 2 + 256) * 20)
    # integer data: every window sum is exact, so the means are too
    idata = rng.integers(-100, 100, 500)
    np.testing.assert_array_equal(ndpar.move_mean(idata, 2 * h + 1, mode="edge"),
                                  rolling_mean_seed(idata.astype(float), h))


# ---- out= ------------------------------------------------------------------------

@pytest.mark.parametrize("fn", FUNCS)
def test_out(fn):
    a = series(40, seed=15).reshape(4, 10)
    exp = call(fn, a, 3, 1, q=0.5)
    out = np.full(a.shape, -7.0)
    res = call(fn, a, 3, 1, q=0.5, out=out)
    assert res is out
    np.testing.assert_array_equal(out, exp)
    # non-contiguous, reversed and big-endian outs
    buf = np.full((4, 20), -7.0)
    res = call(fn, a, 3, 1, q=0.5, out=buf[:, ::-2])
    np.testing.assert_array_equal(buf[:, ::-2], exp)
    assert (buf[:, -2::-2] == -7.0).all()
    be = np.zeros(a.shape, ">f8")
    assert call(fn, a, 3, 1, q=0.5, out=be) is be
    np.testing.assert_array_equal(be, exp)
    # float32 -> float32 out
    o32 = np.zeros(a.shape, np.float32)
    assert call(fn, a.astype(np.float32), 3, 1, q=0.5, out=o32) is o32
    # in place: out is the input
    b = a.copy()
    assert call(fn, b, 3, 1, q=0.5, out=b) is b
    np.testing.assert_array_equal(b, exp)
    # overlapping views of one buffer
    c = np.concatenate([a.ravel(), np.zeros(5)])
    src = c[:40].reshape(4, 10)
    dst = c[5:45].reshape(4, 10)
    call(fn, src, 3, 1, q=0.5, out=dst)
    np.testing.assert_array_equal(dst, exp)


def test_out_errors():
    a = np.arange(12.0).reshape(3, 4)
    for fn in FUNCS:
        with pytest.raises(TypeError, match="out"):
            call(fn, a, 2, out=np.zeros(a.shape, np.float32))
        with pytest.raises(TypeError, match="out"):
            call(fn, a.astype(np.int64), 2, out=np.zeros(a.shape, np.int64))
        with pytest.raises(TypeError, match="out"):
            call(fn, a.astype(np.float32), 2, out=np.zeros(a.shape, np.float64))
        with pytest.raises(TypeError, match="out"):
            call(fn, a, 2, out=[[0.0] * 4] * 3)
        for shape in ((4, 3), (3, 5), (12,), (1, 3, 4), (3, 1)):
            with pytest.raises(ValueError):
                call(fn, a, 2, out=np.zeros(shape))
        ro = np.zeros(a.shape)
        ro.flags.writeable = False
        with pytest.raises(ValueError, match="out"):
            call(fn, a, 2, out=ro)


# ---- bad arguments --------------------------------------------------------------

A = np.arange(20.0).reshape(4, 5)


@pytest.mark.parametrize("fn", FUNCS)
def test_bad_window(fn):
    for w in (0, -1, 6, 10 ** 12, -(2 ** 40)):
        with pytest.raises(ValueError, match="window"):
            call(fn, A, w)
    with pytest.raises(ValueError, match="window"):
        call(fn, A, 5, axis=0)  # axis 0 has length 4
    with pytest.raises((ValueError, TypeError), match="window"):
        call(fn, A, 2 ** 70)
    for w in (2.0, 2.5, "3", None, True, [2], np.float64(2.0)):
        with pytest.raises(TypeError, match="window"):
            call(fn, A, w)
    # NumPy integers are ints
    np.testing.assert_array_equal(call(fn, A, np.int64(2)), call(fn, A, 2))
    np.testing.assert_array_equal(call(fn, A, np.uint8(2)), call(fn, A, 2))


@pytest.mark.parametrize("fn", FUNCS)
def test_window_on_empty_axis(fn):
    """window must be in 1..length of the axis (rolling.h; bottleneck raises
    too): an empty axis admits no window."""
    for a, axis in ((np.zeros(0), -1), (np.zeros((3, 0)), 1), (np.zeros((0, 3)), 0)):
        with pytest.raises(ValueError, match="window"):
            call(fn, a, 1, axis=axis)


@pytest.mark.parametrize("fn", FUNCS)
def test_bad_min_count(fn):
    for mc in (0, -1, 4, 10 ** 9):
        with pytest.raises(ValueError, match="min_count"):
            call(fn, A, 3, mc)
    for mc in (1.0, "1", [1]):
        with pytest.raises(TypeError, match="min_count"):
            call(fn, A, 3, mc)
    np.testing.assert_array_equal(call(fn, A, 3, 3), call(fn, A, 3))  # None = window


@pytest.mark.parametrize("fn", FUNCS)
def test_bad_axis(fn):
    for axis in (2, -3, 64, -100):
        with pytest.raises(ValueError, match="axis"):
            call(fn, A, 2, axis=axis)
    for axis in (1.0, "0", [0]):
        with pytest.raises(TypeError, match="axis"):
            call(fn, A, 2, axis=axis)


@pytest.mark.parametrize("fn", FUNCS)
def test_bad_mode_and_a(fn):
    for mode in ("reflect", "constant", "EDGE", "", 1, b"edge"):
        with pytest.raises(ValueError, match="mode"):
            call(fn, A, 2, mode=mode)
    for a in (np.arange(5) + 1j, np.array([1, 2, 3], dtype=object), np.array(["a", "b"]),
              "abc", [1.0, "x"], np.array(["2020-01-01", "2020-01-02"], "datetime64[D]"),
              {1: 2}, None):
        with pytest.raises(TypeError, match="'a'"):
            call(fn, a, 1)
    with pytest.raises(ValueError, match="'a'"):
        call(fn, np.float64(3.0), 1)
    with pytest.raises(ValueError, match="'a'"):
        call(fn, 3.0, 1)


def test_bad_q():
    for q in (-0.1, 1.1, -1e-300, 1 + 1e-15, np.nan, np.inf, -np.inf, 2):
        with pytest.raises(ValueError, match="q"):
            ndpar.move_quantile(A, 2, q)
    for q in ("0.5", None, [0.5], np.array([0.5, 0.6]), 1j):
        with pytest.raises(TypeError, match="q"):
            ndpar.move_quantile(A, 2, q)
    with pytest.raises(TypeError):
        ndpar.move_quantile(A, 2)  # q is required
    for q in (0, 1, 0.5, np.float32(0.5), np.float64(0.25), np.int64(1)):
        got = ndpar.move_quantile(A, 2, q)
        assert_rolling("quantile", got, A, 2, q=float(q))


def test_bad_ddof():
    for fn in ("var", "std"):
        for ddof in (-1, -(2 ** 40)):
            with pytest.raises(ValueError, match="ddof"):
                nd(fn)(A, 2, ddof=ddof)
        for ddof in (1.0, "1", [1]):
            with pytest.raises(TypeError, match="ddof"):
                nd(fn)(A, 2, ddof=ddof)
    for fn in set(FUNCS) - {"var", "std"}:
        with pytest.raises(TypeError):
            nd(fn)(A, 2, ddof=1)  # only var and std take ddof


def test_signatures():
    """bottleneck's positional order: (a, window, min_count, axis[, ddof])."""
    a = series(30, seed=16).reshape(3, 10)
    np.testing.assert_array_equal(ndpar.move_mean(a, 3, 2, 0), ndpar.move_mean(
        a, window=3, min_count=2, axis=0))
    np.testing.assert_array_equal(ndpar.move_std(a, 3, 2, 1, 1), ndpar.move_std(
        a, 3, min_count=2, axis=1, ddof=1))
    np.testing.assert_array_equal(ndpar.move_quantile(a, 3, 0.2, 2, 0), ndpar.move_quantile(
        a, 3, q=0.2, min_count=2, axis=0))
    for fn in FUNCS:
        assert nd(fn).__name__ == "move_" + fn
        assert ("move_" + fn) in nd(fn).__doc__
        assert ("move_" + fn) in ndpar.ROLLING


# ---- bottleneck (trailing windows) ----------------------------------------------

BN_FUNCS = ("sum", "mean", "var", "std", "min", "max", "argmin", "argmax", "median")


def bn_tol(fn, dt, w):
    """bottleneck computes with running sums (in float32 for float32 input)
    and loses about sqrt(eps) * scale in move_std near zero; values here
    are of order 100."""
    if fn in EXACT:
        return dict(rtol=0, atol=0)
    if dt == "float32":
        # float32 running sums: even move_std(w=1) is off by up to ~0.1
        return dict(rtol=1e-4, atol={"sum": 0.05, "var": 0.1, "std": 0.5}.get(fn, 1e-2))
    if fn == "median":
        return dict(rtol=1e-15, atol=0)
    return dict(rtol=1e-9, atol={"sum": 1e-9, "mean": 1e-10, "var": 1e-8, "std": 1e-4}[fn])


@pytest.fixture(scope="module")
def bn():
    import bottleneck  # a test reference, installed by requirements-dev.txt

    return bottleneck


@pytest.mark.parametrize("dt", ["float64", "float32", "int64", "int32", "int8", "bool"])
@pytest.mark.parametrize("fn", BN_FUNCS)
def test_against_bottleneck(bn, fn, dt):
    rng = np.random.default_rng(17)
    if dt == "bool":
        a = rng.integers(0, 2, (3, 200)).astype(bool)
    elif dt.startswith("int"):
        a = rng.integers(-100, 100, (3, 200)).astype(dt)
    else:
        a = series(600, seed=17, nan_run=30).reshape(3, 200).astype(dt)
    f = getattr(bn, "move_" + fn)
    for w in (1, 2, 3, 21, 200):
        for mc in (None, 1, (w + 1) // 2):
            for axis in (-1, 0):
                if axis == 0 and w > 3:
                    continue
                for ddof in ((0, 1) if fn in ("var", "std") else (0,)):
                    kw = {"ddof": ddof} if fn in ("var", "std") else {}
                    if ddof and (mc or w) <= ddof:
                        continue  # bottleneck's count <= ddof output is NaN/-0/inf
                    e = f(a, w, mc, axis, **kw)
                    g = nd(fn)(a, w, mc, axis, **kw)
                    ctx = f"move_{fn} dtype={dt} w={w} mc={mc} axis={axis} {kw}"
                    assert g.dtype == e.dtype, ctx
                    assert g.shape == e.shape, ctx
                    np.testing.assert_allclose(g, e, err_msg=ctx, **bn_tol(fn, dt, w))


def test_bottleneck_ddof_difference(bn):
    """Where the count is <= ddof, bottleneck divides by count - ddof (0/0,
    x/0 or x/-1); ndpar gives NaN, as its contract says."""
    a = np.array([1.0, 2.0, 4.0])
    e = bn.move_std(a, 2, min_count=1, ddof=2)
    assert not np.isnan(e).all()  # bottleneck: [-0, inf, inf]
    assert np.isnan(ndpar.move_std(a, 2, min_count=1, ddof=2)).all()


def test_bottleneck_inf_difference(bn):
    """bottleneck's running sum stays NaN after an infinity leaves; ndpar's
    does not (documented)."""
    a = np.array([1.0, np.inf, 1.0, 1.0, 1.0])
    assert np.isnan(bn.move_sum(a, 2)[3])
    np.testing.assert_array_equal(ndpar.move_sum(a, 2), [np.nan, np.inf, np.inf, 2, 2])


# ---- pandas (centered windows: an independent check of the placement) -----------

@pytest.mark.parametrize("fn", ["sum", "mean", "min", "max", "median", "std", "quantile"])
def test_against_pandas_center(fn):
    import pandas as pd  # a test reference, installed by requirements-dev.txt

    a = series(120, seed=18, nan_run=10)
    s = pd.Series(a)
    for w in (1, 2, 5, 6, 31, 120):
        for mc in (1, w):
            r = s.rolling(w, min_periods=mc, center=True)
            e = (r.quantile(0.35) if fn == "quantile" else
                 r.std(ddof=1) if fn == "std" else getattr(r, fn)()).to_numpy()
            g = call(fn, a, w, mc, kind="center", q=0.35, ddof=1)
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-7, err_msg=f"{fn} w={w}")
