"""Plain reference implementations of ndpar's moving-window functions, for
tests/python/test_rolling.py.

Deliberately naive: for every output position, collect the window's values
(a Python-level loop), drop NaN, and compute the statistic with NumPy in
float64. Nothing here is clever, so it can be read and believed.

Semantics (include/ndpar/rolling.h, ndpar's docs):
  * the window of output i covers the positions
        trailing: i-w+1 .. i
        center:   i-w//2 .. i-w//2+w-1   (pandas' rolling(center=True))
        edge:     as center, positions outside [0, n) take a[0] / a[n-1]
                  (np.pad(a, ..., mode='edge'))
    for trailing/center, positions outside [0, n) are absent: they only
    lower the window's count;
  * NaN values are skipped; a window with fewer than min_count non-NaN
    values gives NaN (min_count None means window); this applies to every
    function but count;
  * count is pandas' rolling(w, min_periods=min_count, center).count(): the
    number of non-NaN values (0 included), NaN only when the window holds
    fewer than min_count positions (NaN or not; padding counts for edge);
  * argmin/argmax: the extreme's distance back from the window's last
    position (start + w - 1, which may lie outside the array for center),
    0 = newest; among equal extremes the newest wins (bottleneck's rule);
  * var/std: divisor count - ddof; count <= ddof gives NaN;
  * quantile: numpy.quantile's default linear interpolation;
  * median: numpy.median.
"""
from __future__ import annotations

import numpy as np

FUNCS = ("sum", "mean", "var", "std", "min", "max", "argmin", "argmax", "median",
         "quantile", "count")
KINDS = ("trailing", "center", "edge")


def window_start(i: int, w: int, kind: str) -> int:
    return i - w + 1 if kind == "trailing" else i - w // 2


def window(a: np.ndarray, i: int, w: int, kind: str):
    """(values, virtual positions) of output i's window in the 1-D float64 a."""
    n = a.shape[0]
    s = window_start(i, w, kind)
    pos = np.arange(s, s + w)
    if kind == "edge":
        return a[np.clip(pos, 0, n - 1)], pos
    pos = pos[(pos >= 0) & (pos < n)]
    return a[pos], pos


def reduce_window(fn: str, vals, pos, last: int, min_count: int, q=None, ddof=0):
    ok = ~np.isnan(vals)
    v, p = vals[ok], pos[ok]
    c = v.size
    if fn == "count":  # pandas: min_count counts the window's positions
        return float(c) if vals.size >= min_count else np.nan
    if c < min_count or c == 0:
        return np.nan
    if fn == "sum":
        return float(np.sum(v))
    if fn == "mean":
        return float(np.sum(v)) / c
    if fn in ("var", "std"):
        if c <= ddof:
            return np.nan
        with np.errstate(invalid="ignore"):
            mu = np.sum(v) / c                         # two-pass
            var = float(np.sum((v - mu) ** 2)) / (c - ddof)
        return float(np.sqrt(var)) if fn == "std" else var
    if fn == "min":
        return float(v.min())
    if fn == "max":
        return float(v.max())
    if fn in ("argmin", "argmax"):
        ext = v.min() if fn == "argmin" else v.max()
        newest = p[v == ext].max()
        return float(last - newest)
    if fn == "median":
        return float(np.median(v))
    if fn == "quantile":
        with np.errstate(invalid="ignore"):
            return float(np.quantile(v, q))
    raise ValueError(fn)


def ref_1d(fn, a, w, min_count=None, kind="trailing", q=None, ddof=0, positions=None):
    """Reference over a 1-D array; float64 result (NaN where not computed
    when `positions` restricts the outputs computed)."""
    a = np.asarray(a).astype(np.float64)
    n = a.shape[0]
    mc = w if min_count is None else min_count
    out = np.full(n, np.nan)
    with np.errstate(all="ignore"):  # inf - inf, overflow: NumPy's values, quietly
        for i in (range(n) if positions is None else positions):
            vals, pos = window(a, i, w, kind)
            last = window_start(i, w, kind) + w - 1
            out[i] = reduce_window(fn, vals, pos, last, mc, q, ddof)
    return out


def ref(fn, a, w, min_count=None, axis=-1, kind="trailing", q=None, ddof=0):
    """Reference along `axis` of an N-D array (float64 result)."""
    a = np.moveaxis(np.asarray(a), axis, -1)
    out = np.empty(a.shape, np.float64)
    for idx in np.ndindex(*a.shape[:-1]):
        out[idx] = ref_1d(fn, a[idx], w, min_count, kind, q, ddof)
    return np.moveaxis(out, -1, axis)


def pad_then_trailing(fn, a, w, min_count=None, q=None, ddof=0):
    """mode='edge' computed a second, independent way: np.pad(mode='edge')
    then trailing windows fully inside the padded array."""
    a = np.asarray(a).astype(np.float64)
    left, right = w // 2, w - 1 - w // 2
    p = np.pad(a, (left, right), mode="edge")
    full = ref_1d(fn, p, w, min_count, "trailing", q, ddof)
    return full[w - 1:]


# ---- helpers for tolerances (vectorized; not references of results) -------------

def _bounds(n, w, kind):
    s = np.arange(n) - (w - 1 if kind == "trailing" else w // 2)  # window_start
    return s, s + w


def counts(a, w, axis=-1, kind="trailing"):
    """Non-NaN values in each window (edge positions counted), along axis."""
    a = np.moveaxis(np.asarray(a), axis, -1).astype(np.float64)
    n = a.shape[-1]
    s, e = _bounds(n, w, kind)
    ok = ~np.isnan(a)
    c = np.concatenate([np.zeros(a.shape[:-1] + (1,), np.int64),
                        np.cumsum(ok, axis=-1)], axis=-1)
    inside = c[..., np.clip(e, 0, n)] - c[..., np.clip(s, 0, n)]
    if kind == "edge":
        inside = inside + ok[..., :1] * np.clip(-s, 0, None) \
            + ok[..., -1:] * np.clip(e - n, 0, None)
    return np.moveaxis(inside.astype(np.float64), -1, axis)


def local_scale(a, w, axis=-1, kind="trailing", back=None):
    """Largest finite |value| among the positions [start - back, start + w)
    of each output's window (back defaults to max(w, 256): the span a
    running computation restarted every max(w, 256) outputs has seen)."""
    back = max(w, 256) if back is None else back
    a = np.moveaxis(np.asarray(a), axis, -1).astype(np.float64)
    n = a.shape[-1]
    v = np.where(np.isfinite(a), np.abs(a), 0.0)
    s, e = _bounds(n, w, kind)
    lo = np.clip(s - back, 0, n - 1)
    hi = np.maximum(np.clip(e, 1, n), lo + 1)
    # sparse table of maxima over [i, i + 2**k)
    table = [v]
    k = 1
    while 2 ** k <= n:
        prev = table[-1]
        h = 2 ** (k - 1)
        table.append(np.maximum(prev[..., :-h], prev[..., h:]))
        k += 1
    length = hi - lo
    lev = np.floor(np.log2(length)).astype(np.int64)
    out = np.empty(a.shape)
    for k in np.unique(lev):
        sel = lev == k
        t = table[k]
        out[..., sel] = np.maximum(t[..., lo[sel]], t[..., hi[sel] - 2 ** k])
    return np.moveaxis(out, -1, axis)
