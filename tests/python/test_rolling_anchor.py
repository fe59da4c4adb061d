"""move_*(..., _anchor=k): a chunk of a series, told where it starts, gives
the whole series' bits for every output whose window lies inside the chunk.

This is what the dask path (map_overlap with depth w - 1, or w // 2 and
w - 1 - w // 2 centered) relies on for "the same bits for any chunking".
The reference is ndpar on the whole in-memory series; the comparison is
bitwise (np.array_equal with equal_nan), over every move_* function,
several windows (below and above 8192, where the internal block grows),
chunk starts on and off the internal block grid, right-truncated chunks
(a dask middle chunk), min_count, centered windows and mode='edge',
NaN/inf patterns, float32 input and 2-D arrays.
"""
from __future__ import annotations

import numpy as np
import pytest

import ndpar

N = 50_000
FNS = ["sum", "mean", "var", "std", "min", "max", "argmin", "argmax", "median",
       "quantile", "count"]
WINDOWS = [1, 3, 100, 9000]
STARTS = [1, 999, 16383, 16384, 16385, 40000]


def _series(pattern: str) -> np.ndarray:
    rng = np.random.default_rng(15)
    a = rng.standard_normal(N) * 1e3 + 1e6  # an offset: var/std depend on the shifts
    if pattern == "nan":
        a[rng.integers(0, N, N // 20)] = np.nan
    elif pattern == "runs":
        a[(np.arange(N) // 37) % 3 == 1] = np.nan
        a[20000:31000] = np.nan  # longer than every window
    elif pattern == "inf":
        a[rng.integers(0, N, 200)] = np.inf
        a[rng.integers(0, N, 200)] = -np.inf
        a[rng.integers(0, N, 500)] = np.nan
    elif pattern == "ties":
        a = np.round(rng.standard_normal(N))
    return a


PATTERNS = {p: _series(p) for p in ["normal", "nan", "runs", "inf", "ties"]}


def _call(name, x, w, mc, placement, **kw):
    f = getattr(ndpar, "move_" + name)
    args = (x, w, 0.3) if name == "quantile" else (x, w)
    if placement == "center":
        kw["center"] = True
    elif placement == "edge":
        kw["mode"] = "edge"
    return f(*args, min_count=mc, **kw)


def _depth(w, placement):
    if placement == "trailing":
        return w - 1, 0
    return w // 2, w - 1 - w // 2


def _check(name, x, w, mc, placement, axis=-1):
    full = _call(name, x, w, mc, placement, axis=axis)
    left, right = _depth(w, placement)
    n = x.shape[axis]
    for k in STARTS:
        for stop in (n, k + 20000):  # a tail chunk, a middle chunk
            if stop > n or stop - k < 2 * w + 1:
                continue
            lo = k - left
            if lo < 0:
                continue
            hi = stop + right if stop < n else n
            sl = [slice(None)] * x.ndim
            sl[axis] = slice(lo, hi)
            part = _call(name, x[tuple(sl)], w, mc, placement, axis=axis, _anchor=lo)
            # keep the outputs whose windows lie inside the chunk
            want_stop = stop if stop < n else n - right
            psl = [slice(None)] * x.ndim
            psl[axis] = slice(left, left + (want_stop - k))
            fsl = [slice(None)] * x.ndim
            fsl[axis] = slice(k, want_stop)
            got, ref = part[tuple(psl)], full[tuple(fsl)]
            assert got.shape == ref.shape
            assert np.array_equal(got, ref, equal_nan=True), (name, w, mc, placement, k,
                                                               stop)


@pytest.mark.parametrize("placement", ["trailing", "center", "edge"])
@pytest.mark.parametrize("name", FNS)
def test_anchor_bit_identical(name, placement):
    for pattern, x in PATTERNS.items():
        for w in WINDOWS:
            for mc in (None, 1, w // 2 + 1):
                if mc is not None and mc > w:
                    continue
                _check(name, x, w, mc, placement)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "count", "median"])
def test_anchor_float32_and_ddof(name):
    x = PATTERNS["nan"].astype(np.float32)
    for w in (3, 100):
        _check(name, x, w, None, "trailing")
    if name in ("var", "std"):
        f = getattr(ndpar, "move_" + name)
        x = PATTERNS["nan"]
        full = f(x, 50, ddof=1)
        part = f(x[16000:], 50, ddof=1, _anchor=16000)
        assert np.array_equal(part[49:], full[16049:], equal_nan=True)


@pytest.mark.parametrize("axis", [0, 1])
def test_anchor_2d(axis):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 40000)) + 1e6
    x[:, 5000:5010] = np.nan
    if axis == 0:
        x = np.ascontiguousarray(x.T)
    for name in ("sum", "std", "max"):
        _check(name, x, 100, None, "trailing", axis=axis)


def test_anchor_matters():
    # without the anchor a chunk restarts the internal blocks at its own
    # start, and move_std differs in the last bits (what the anchor fixes)
    x = PATTERNS["normal"]
    full = ndpar.move_std(x, 1000)
    plain = ndpar.move_std(x[20001:], 1000)
    anchored = ndpar.move_std(x[20001:], 1000, _anchor=20001)
    assert not np.array_equal(plain[999:], full[20001 + 999:])
    assert np.array_equal(anchored[999:], full[20001 + 999:])
    np.testing.assert_allclose(plain[999:], full[20001 + 999:], rtol=1e-9)


def test_anchor_zero_is_default():
    x = PATTERNS["nan"]
    for name in FNS:
        assert np.array_equal(_call(name, x, 77, None, "trailing"),
                              _call(name, x, 77, None, "trailing", _anchor=0), equal_nan=True)


def test_anchor_bad():
    x = np.arange(10.0)
    with pytest.raises(ValueError, match="_anchor"):
        ndpar.move_mean(x, 3, _anchor=-1)
    with pytest.raises(TypeError, match="_anchor"):
        ndpar.move_mean(x, 3, _anchor=1.5)
    with pytest.raises(TypeError):
        ndpar.move_mean(x, 3, None, -1, False, None, None, 5)  # keyword-only
    with pytest.raises(ValueError, match="anchor"):
        ndpar.move_mean(x, 3, _anchor=2**63 - 1)


def test_move_functions_pickle_by_name():
    # a dask graph ships them: by name, to the same function
    import pickle

    for name in FNS:
        f = getattr(ndpar, "move_" + name)
        g = pickle.loads(pickle.dumps(f))
        assert g is f
        x = PATTERNS["nan"][:1000]
        assert np.array_equal(_call(name, x, 5, None, "trailing"),
                              _call(name, x, 5, None, "trailing"), equal_nan=True)
