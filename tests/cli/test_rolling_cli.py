"""Tests of `ndpar rolling`: moving-window statistics on .npy files.

Every result is compared with a plain NumPy reference written here (not with
the library's Python binding): for each output position, the window's points
are taken from a padded copy of the series and the statistic is computed
over their non-NaN values with NumPy's nan* functions.

  trailing  output i covers points i-w+1 .. i
  center    output i covers points i-w//2 .. i-w//2+w-1 (pandas center=True)
  edge      as center, the series padded with np.pad(a, (w//2, w-1-w//2),
            mode='edge'); the windows are then plain trailing windows of
            the padded series
Positions outside the series are absent for trailing and center (padding
with NaN gives exactly that). A window with fewer than min_count non-NaN
values (default w) gives NaN; argmin/argmax count back from the window's
newest point (0 = newest) and ties go to the newest point (bottleneck);
quantile is numpy.quantile's 'linear'; var/std divide by count - ddof and
give NaN when count <= ddof. count is pandas' rolling().count() instead:
the non-NaN values (0 included), NaN only where the window holds fewer than
min_count positions of the series (padding counts for edge).
"""
import os
import re
import warnings

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from test_cli import BAR, cpu_seconds, run_on_pty, save

FUNCS = ["sum", "mean", "var", "std", "min", "max", "argmin", "argmax", "median",
         "quantile", "count"]
ALIGNS = ["trailing", "center", "edge"]
ALIGN_ARGS = {"trailing": [], "center": ["--center"], "edge": ["--mode", "edge"]}

# ---------------------------------------------------------------------------
# the reference


def reference(a, func, w, align="trailing", min_count=None, axis=-1, q=None, ddof=0):
    """func over moving windows of a along axis, in float64 (see the module
    docstring for the rules)."""
    x = np.moveaxis(np.asarray(a).astype(np.float64), axis, -1)
    minc = w if min_count is None else min_count
    left, right = (w - 1, 0) if align == "trailing" else (w // 2, w - 1 - w // 2)
    pad = [(0, 0)] * (x.ndim - 1) + [(left, right)]
    if align == "edge":
        p = np.pad(x, pad, mode="edge")
    else:
        p = np.pad(x, pad, mode="constant", constant_values=np.nan)
    win = sliding_window_view(p, w, axis=-1)  # (..., n, w), oldest first
    valid = ~np.isnan(win)
    cnt = valid.sum(axis=-1)
    inside = np.pad(np.ones(x.shape), pad, mode="edge" if align == "edge" else "constant")
    npos = sliding_window_view(inside, w, axis=-1).sum(axis=-1)  # positions, NaN or not
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if func == "sum":
            r = np.nansum(win, axis=-1)
        elif func == "mean":
            r = np.nansum(win, axis=-1) / cnt
        elif func in ("var", "std"):
            r = np.nanvar(win, axis=-1, ddof=ddof)
            r = np.where(cnt > ddof, r, np.nan)
            if func == "std":
                r = np.sqrt(r)
        elif func in ("min", "max"):
            r = (np.nanmin if func == "min" else np.nanmax)(win, axis=-1)
        elif func in ("argmin", "argmax"):
            newest_first = win[..., ::-1]
            fill = np.inf if func == "argmin" else -np.inf
            filled = np.where(~np.isnan(newest_first), newest_first, fill)
            # argmin/argmax give the first hit: in newest-first order, the newest
            r = (np.argmin if func == "argmin" else np.argmax)(filled, axis=-1)
            r = r.astype(np.float64)
        elif func == "median":
            r = np.nanmedian(win, axis=-1)
        elif func == "quantile":
            r = np.nanquantile(win, q, axis=-1)
        elif func == "count":
            r = cnt.astype(np.float64)
        else:
            raise ValueError(func)
    r = np.where((npos if func == "count" else cnt) >= minc, r, np.nan)
    return np.moveaxis(r, -1, axis)


def out_dtype(in_dtype):
    """float32 for float32 input (either byte order), else float64."""
    dt = np.dtype(in_dtype)
    return np.dtype(np.float32) if dt.kind == "f" and dt.itemsize == 4 else np.dtype(np.float64)


def check(got, a, func, w, **kw):
    want = reference(a, func, w, **kw)
    assert got.shape == a.shape
    assert got.dtype == out_dtype(a.dtype), f"dtype {got.dtype} for {a.dtype} input"
    scale = max(1.0, float(np.max(np.abs(want[np.isfinite(want)]), initial=0)))
    if got.dtype == np.float32:
        want = want.astype(np.float32)
        rtol, atol = 2e-6, 1e-6 * scale
    else:
        rtol, atol = 1e-10, 1e-12 * scale
    if func in ("argmin", "argmax", "count", "min", "max"):
        rtol = atol = 0
    # NaN exactly where the reference has NaN
    bad = np.isnan(got) != np.isnan(want)
    assert not bad.any(), (
        f"NaN mismatch at {np.argwhere(bad)[:5].tolist()}: got "
        f"{got[bad][:5]}, want {want[bad][:5]}")
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def run_rolling(cli, tmp_path, a, func, w, align="trailing", extra=(), name="in.npy",
                **save_kw):
    src = save(tmp_path / name, a, **save_kw)
    out = tmp_path / "out.npy"
    args = ["rolling", func, "--window", str(w), *ALIGN_ARGS[align], *extra]
    if func == "quantile" and not any(str(e).startswith("--q") for e in extra):
        args += ["--q", "0.3"]
    cli.ok(*args, src, "-o", out)
    return np.load(out)


def func_kw(func, extra=()):
    """The reference's keyword arguments implied by run_rolling's defaults."""
    return {"q": 0.3} if func == "quantile" and "--q" not in extra else {}


def data(dtype, n=157, seed=0, nans=False):
    """A series without ties (ints: a permutation), optionally with NaN."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        return (rng.permutation(n) - n // 3).astype(dt)
    a = (rng.normal(size=n) * 10 + 3).astype(dt)
    if nans:
        a[rng.random(n) < 0.2] = np.nan
        a[20:31] = np.nan      # a run longer than the windows
        a[0] = np.nan          # edge mode repeats it
    return a


# ---------------------------------------------------------------------------
# results against the reference


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("min_count", [None, 1, 2, 3])
def test_rolling_count_is_pandas(cli, tmp_path, min_count, center):
    """`ndpar rolling count` follows pandas' rolling().count() (the
    library's move_count): full windows holding a NaN are counted."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    for a in (np.array([1, np.nan, 3, 4, 5]), np.where(rng.random(300) < 0.4, np.nan,
                                                       rng.normal(size=300))):
        extra = (["--center"] if center else []) + (
            ["--min-count", str(min_count)] if min_count else [])
        src = save(tmp_path / "c.npy", a)
        out = tmp_path / "c_out.npy"
        cli.ok("rolling", "count", "--window", "3", *extra, src, "-o", out)
        want = pd.Series(a).rolling(3, min_periods=min_count, center=center).count()
        np.testing.assert_array_equal(np.load(out), want.to_numpy())


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
@pytest.mark.parametrize("align", ALIGNS)
@pytest.mark.parametrize("func", FUNCS)
def test_rolling_1d(cli, tmp_path, func, align, dtype):
    a = data(dtype)
    got = run_rolling(cli, tmp_path, a, func, 7, align)
    check(got, a, func, 7, align=align, **func_kw(func))


@pytest.mark.parametrize("align", ALIGNS)
@pytest.mark.parametrize("func", FUNCS)
def test_rolling_nan(cli, tmp_path, func, align):
    a = data("float64", nans=True)
    got = run_rolling(cli, tmp_path, a, func, 6, align)
    check(got, a, func, 6, align=align, **func_kw(func))
    got = run_rolling(cli, tmp_path, a, func, 6, align, extra=["--min-count", "2"])
    check(got, a, func, 6, align=align, min_count=2, **func_kw(func))


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_rolling_2d(cli, tmp_path, func, axis):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(9, 23))
    a[rng.random(a.shape) < 0.1] = np.nan
    got = run_rolling(cli, tmp_path, a, func, 4, "center",
                      extra=["--axis", str(axis), "--min-count", "1"])
    check(got, a, func, 4, align="center", axis=axis, min_count=1, **func_kw(func))
    assert got.flags.c_contiguous


@pytest.mark.parametrize("axis", ["0", "1", "-2"])
def test_rolling_fortran_order(cli, tmp_path, axis):
    a = np.asfortranarray(np.random.default_rng(4).normal(size=(11, 8)))
    got = run_rolling(cli, tmp_path, a, "mean", 3, "edge", extra=["--axis", axis])
    check(got, a, "mean", 3, align="edge", axis=int(axis))
    assert got.flags.f_contiguous and not got.flags.c_contiguous


def test_rolling_3d_default_axis(cli, tmp_path):
    a = np.random.default_rng(5).normal(size=(3, 4, 30)).astype(np.float32)
    got = run_rolling(cli, tmp_path, a, "std", 5, "trailing", extra=["--ddof", "1"])
    check(got, a, "std", 5, ddof=1)


@pytest.mark.parametrize("w", [1, 2, 5, 8, 157])
@pytest.mark.parametrize("align", ALIGNS)
def test_rolling_windows(cli, tmp_path, align, w):
    """Odd and even windows (w // 2 placement), w = 1 and w = the axis."""
    a = data("float64", seed=6, nans=True)
    for func in ("mean", "argmax", "median"):
        got = run_rolling(cli, tmp_path, a, func, w, align, extra=["--min-count", "1"])
        check(got, a, func, w, align=align, min_count=1)


@pytest.mark.parametrize("func", ["var", "std"])
@pytest.mark.parametrize("ddof", ["0", "1", "2", "6"])
def test_rolling_ddof(cli, tmp_path, func, ddof):
    a = data("float64", seed=7, nans=True)
    got = run_rolling(cli, tmp_path, a, func, 6, "center",
                      extra=["--ddof", ddof, "--min-count", "1"])
    check(got, a, func, 6, align="center", min_count=1, ddof=int(ddof))


@pytest.mark.parametrize("q", ["0", "0.25", "0.5", "0.9", "1", "1.0", ".75"])
def test_rolling_quantile(cli, tmp_path, q):
    a = data("float64", seed=8, nans=True)
    got = run_rolling(cli, tmp_path, a, "quantile", 8, "trailing",
                      extra=["--q", q, "--min-count", "3"])
    check(got, a, "quantile", 8, min_count=3, q=float(q))
    if float(q) == 0.5:
        med = run_rolling(cli, tmp_path, a, "median", 8, "trailing",
                          extra=["--min-count", "3"])
        # (NumPy's median averages, its quantile interpolates: 1 ulp apart)
        np.testing.assert_allclose(got, med, rtol=4e-16, atol=0)


def test_rolling_ties_go_to_newest(cli, tmp_path):
    a = np.random.default_rng(9).integers(0, 4, size=200).astype(np.int32)
    for func in ("argmin", "argmax"):
        for align in ALIGNS:
            got = run_rolling(cli, tmp_path, a, func, 6, align)
            check(got, a, func, 6, align=align)
    small = np.array([1, 0, 0, 2, 0], dtype=np.int32)
    got = run_rolling(cli, tmp_path, small, "argmin", 3, "trailing")
    np.testing.assert_array_equal(got, [np.nan, np.nan, 0, 1, 0])


def test_rolling_infinities(cli, tmp_path):
    a = np.array([1.0, np.inf, 2.0, 3.0, -np.inf, 4.0, 5.0, 6.0, np.nan, 7.0, 8.0])
    for func in ("sum", "mean", "min", "max", "count"):
        got = run_rolling(cli, tmp_path, a, func, 3, "trailing", extra=["--min-count", "1"])
        check(got, a, func, 3, min_count=1)


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int16", "int64", "uint64", ">f8", ">f4",
                                   ">i4"])
def test_rolling_other_dtypes(cli, tmp_path, dtype):
    rng = np.random.default_rng(10)
    if dtype == "bool":
        a = rng.integers(0, 2, size=60).astype(bool)
    elif np.dtype(dtype).kind in "iu":
        a = rng.integers(0, 100, size=60).astype(dtype)
    else:
        a = rng.normal(size=60).astype(dtype)
    for func in ("sum", "var", "argmax", "median"):
        got = run_rolling(cli, tmp_path, a, func, 5, "edge")
        check(got, a, func, 5, align="edge")


def test_rolling_long_series(cli, tmp_path):
    """Longer than one block (16384 outputs) and windows above the sorted-array
    limit of the median: the blocks must join seamlessly."""
    rng = np.random.default_rng(11)
    a = rng.normal(size=40_000) + 1e3
    a[rng.random(a.size) < 0.01] = np.nan
    for func, w in (("mean", 301), ("var", 301), ("max", 77), ("median", 101),
                    ("quantile", 50)):
        extra = ["--min-count", "10"] + (["--q", "0.8"] if func == "quantile" else [])
        got = run_rolling(cli, tmp_path, a, func, w, "center", extra=extra)
        check(got, a, func, w, align="center", min_count=10,
              **({"q": 0.8} if func == "quantile" else {}))


def test_rolling_thread_counts_identical(cli, tmp_path):
    a = np.random.default_rng(12).normal(size=100_000)
    a[::97] = np.nan
    src = save(tmp_path / "a.npy", a)
    outs = []
    for n in ("1", "2", "5"):
        out = tmp_path / f"o{n}.npy"
        cli.ok("rolling", "std", "--window", "33", "--min-count", "20", "--mode", "edge",
               src, "-o", out, "--threads", n)
        outs.append(np.load(out))
    assert outs[0].tobytes() == outs[1].tobytes() == outs[2].tobytes()
    check(outs[0], a, "std", 33, align="edge", min_count=20)


def test_rolling_option_forms(cli, tmp_path):
    a = data("float64", seed=13)
    src = save(tmp_path / "a.npy", a)
    out = tmp_path / "out.npy"
    want = reference(a, "mean", 5, align="edge", min_count=2)
    for args in (["mean", "--window", "5", "--mode", "edge", "--min-count", "2", src,
                  "-o", out],
                 ["mean", "-w", "5", "--center", "--mode=edge", "--min-count=2",
                  "--output=" + str(out), src],
                 ["--window=5", "--mode", "edge", "mean", src, "--min-count", "2", "-o",
                  out, "--axis", "-1", "--threads", "2"]):
        cli.ok("rolling", *args)
        np.testing.assert_allclose(np.load(out), want, rtol=1e-12, equal_nan=True)
    cli.ok("--threads", "1", "rolling", "mean", "--window", "5", "--mode", "edge",
           "--min-count", "2", src, "-o", out)
    np.testing.assert_allclose(np.load(out), want, rtol=1e-12, equal_nan=True)


def test_rolling_user_workload(cli, tmp_path):
    """The user's job: a centered moving mean over 2 million points, window 21,
    ends padded with the edge values."""
    n, w = 2_000_000, 21
    a = np.random.default_rng(14).normal(size=n).cumsum()
    got = run_rolling(cli, tmp_path, a, "mean", w, "edge")
    p = np.pad(a, (w // 2, w - 1 - w // 2), mode="edge")
    c = np.concatenate(([0.0], np.cumsum(p)))
    approx = (c[w:] - c[:-w]) / w   # only to locate gross errors
    np.testing.assert_allclose(got, approx, rtol=1e-6, atol=1e-6)
    idx = np.r_[0:50, n - 50:n, np.random.default_rng(15).integers(0, n, 500)]
    exact = sliding_window_view(p, w)[idx].mean(axis=1)
    np.testing.assert_allclose(got[idx], exact, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# files: empty, in place, existing output


@pytest.mark.parametrize("shape,axis,w", [((3, 0), "0", "2"), ((0, 4), "1", "4")])
def test_rolling_empty(cli, tmp_path, shape, axis, w):
    a = np.zeros(shape, dtype=np.float32)
    got = run_rolling(cli, tmp_path, a, "mean", w, "trailing", extra=["--axis", axis])
    assert got.shape == shape and got.dtype == np.float32


@pytest.mark.parametrize("w", ["1", "5"])
def test_rolling_empty_axis_takes_no_window(cli, tmp_path, w):
    """The window must fit the axis, as bottleneck: an empty axis is exit 2."""
    src = save(tmp_path / "e.npy", np.zeros(0))
    res = cli.fails("rolling", "mean", "--window", w, src, "-o", str(tmp_path / "o.npy"))
    assert "window" in res.stderr


@pytest.mark.parametrize("dtype", ["float64", "float32", ">f8"])
def test_rolling_in_place(cli, tmp_path, dtype):
    a = data("float64", seed=16, nans=True).astype(dtype)
    src = save(tmp_path / "a.npy", a)
    ino = os.stat(src).st_ino
    cli.ok("rolling", "median", "--window", "9", "--center", "--min-count", "3", src,
           "-o", src)
    assert os.stat(src).st_ino == ino
    got = np.load(src)
    assert got.dtype == np.dtype(dtype)
    check(got.astype(got.dtype.newbyteorder("=")), a, "median", 9, align="center",
          min_count=3)
    # through a symlink to the same file
    link = tmp_path / "link.npy"
    os.symlink(src, link)
    b = np.load(src)
    cli.ok("rolling", "sum", "--window", "4", "--min-count", "1", src, "-o", link)
    assert os.path.islink(link)
    check(np.load(src).astype(np.dtype(dtype).newbyteorder("=")), b, "sum", 4,
          min_count=1)


@pytest.mark.parametrize("dtype", ["int32", "uint8", "bool"])
def test_rolling_in_place_dtype_mismatch(cli, tmp_path, dtype):
    a = np.arange(20).astype(dtype)
    src = save(tmp_path / "a.npy", a)
    before = open(src, "rb").read()
    res = cli.fails("rolling", "mean", "--window", "3", src, "-o", src)
    assert "in place" in res.stderr
    assert open(src, "rb").read() == before


def test_rolling_overwrites_existing_output(cli, tmp_path):
    out = save(tmp_path / "out.npy", np.zeros((50, 50)))
    a = data("float32", seed=17)
    src = save(tmp_path / "a.npy", a)
    cli.ok("rolling", "max", "--window", "3", src, "-o", out)
    check(np.load(out), a, "max", 3)


# ---------------------------------------------------------------------------
# help


@pytest.mark.parametrize("args", [["rolling", "--help"], ["rolling", "-h"],
                                  ["help", "rolling"],
                                  ["rolling", "mean", "--window", "3", "--help"]])
def test_rolling_help(cli, args):
    res = cli.ok(*args)
    assert res.stdout.startswith("usage: ndpar rolling")
    for name in FUNCS:
        assert re.search(rf"\b{name}\b", res.stdout), name
    for opt in ("--window", "--center", "--mode edge", "--min-count", "--axis", "--q",
                "--ddof", "--threads", "-o"):
        assert opt in res.stdout, opt


def test_main_help_lists_rolling(cli):
    res = cli.ok("--help")
    assert re.search(r"^  rolling\s", res.stdout, re.M)


# ---------------------------------------------------------------------------
# bad usage and bad input: exit 2, one line, no output file


@pytest.fixture
def rfiles(tmp_path):
    f = {
        "v10": save(tmp_path / "v10.npy", np.arange(10.0)),
        "m34": save(tmp_path / "m34.npy", np.zeros((3, 4))),
        "z0": save(tmp_path / "z0.npy", np.array(1.5)),
        "complex": save(tmp_path / "complex.npy", np.arange(4, dtype=np.complex128)),
        "str": save(tmp_path / "str.npy", np.array(["a", "b"])),
        "object": save(tmp_path / "object.npy", np.array([1, "a"], dtype=object),
                       allow_pickle=True),
        "out": str(tmp_path / "out.npy"),
        "missing": str(tmp_path / "nope.npy"),
        "dir": str(tmp_path),
        "nodir": str(tmp_path / "no" / "such"),
    }
    raw = open(f["v10"], "rb").read()
    for name, blob in (("trunc", raw[:-8]), ("garbage", b"not a numpy file" * 10),
                       ("empty", b"")):
        path = tmp_path / f"{name}.npy"
        path.write_bytes(blob)
        f[name] = str(path)
    return f


BAD = [
    ["rolling"],
    ["rolling", "mean"],                                            # no input
    ["rolling", "frobnicate", "--window", "3", "{v10}", "-o", "{out}"],
    ["rolling", "MEAN", "--window", "3", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "{v10}", "-o", "{out}"],                    # no --window
    ["rolling", "mean", "--window", "3", "{v10}"],                  # no -o
    ["rolling", "mean", "--window", "3", "{v10}", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "{v10}", "-o"],
    ["rolling", "mean", "--window", "0", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "-3", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "2.5", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3x", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "1e1", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "99999999999999999999", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "11", "{v10}", "-o", "{out}"],  # > axis (10)
    ["rolling", "mean", "--window", "4", "--axis", "0", "{m34}", "-o", "{out}"],  # > 3
    ["rolling", "mean", "--window", "3", "--min-count", "0", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "--min-count", "4", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "--min-count", "-1", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "--min-count", "x", "{v10}", "-o", "{out}"],
    ["rolling", "quantile", "--window", "3", "{v10}", "-o", "{out}"],  # no --q
    ["rolling", "quantile", "--window", "3", "--q", "1.5", "{v10}", "-o", "{out}"],
    ["rolling", "quantile", "--window", "3", "--q", "-0.1", "{v10}", "-o", "{out}"],
    ["rolling", "quantile", "--window", "3", "--q", "nan", "{v10}", "-o", "{out}"],
    ["rolling", "quantile", "--window", "3", "--q", "inf", "{v10}", "-o", "{out}"],
    ["rolling", "quantile", "--window", "3", "--q", "half", "{v10}", "-o", "{out}"],
    ["rolling", "quantile", "--window", "3", "--q", "0x1p-1", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "--q", "0.5", "{v10}", "-o", "{out}"],
    ["rolling", "median", "--window", "3", "--q", "0.5", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "--ddof", "1", "{v10}", "-o", "{out}"],
    ["rolling", "sum", "--window", "3", "--ddof", "0", "{v10}", "-o", "{out}"],
    ["rolling", "var", "--window", "3", "--ddof", "-1", "{v10}", "-o", "{out}"],
    ["rolling", "std", "--window", "3", "--ddof", "1.5", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "--axis", "1", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "--axis", "-2", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "2", "--axis", "2", "{m34}", "-o", "{out}"],
    ["rolling", "mean", "--window", "2", "--axis", "-3", "{m34}", "-o", "{out}"],
    ["rolling", "mean", "--window", "2", "--axis", "x", "{m34}", "-o", "{out}"],
    ["rolling", "mean", "--window", "2", "--axis", "99", "{m34}", "-o", "{out}"],
    ["rolling", "mean", "--window", "1", "{z0}", "-o", "{out}"],     # 0-d
    ["rolling", "mean", "--window", "3", "--mode", "center", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "--mode", "", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "--mode", "{v10}", "-o", "{out}"],  # eats file
    ["rolling", "mean", "--window", "3", "--center=yes", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "--frob", "{v10}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "{v10}", "-o", "{out}", "--threads", "0"],
    ["rolling", "mean", "--window", "3", "{complex}", "-o", "{out}"],
    ["rolling", "mean", "--window", "1", "{str}", "-o", "{out}"],
    ["rolling", "mean", "--window", "1", "{object}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "{trunc}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "{garbage}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "{empty}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "{missing}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "{dir}", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "/dev/zero", "-o", "{out}"],
    ["rolling", "mean", "--window", "3", "{v10}", "-o", "{nodir}/out.npy"],
    ["rolling", "mean", "--window", "3", "{v10}", "-o", "{dir}"],
    ["rolling", "mean", "--window", "3", "{v10}", "-o", "/dev/null"],
]


@pytest.mark.parametrize("args", BAD, ids=[" ".join(a[1:]) or "(none)" for a in BAD])
def test_rolling_bad_usage(cli, tmp_path, rfiles, args):
    cli.fails(*[a.format(**rfiles) for a in args])
    assert not os.path.exists(rfiles["out"])


def test_rolling_bad_usage_messages(cli, rfiles):
    """The messages name what is wrong."""
    f = rfiles
    cases = [
        (["mean", f["v10"], "-o", f["out"]], "--window"),
        (["mean", "--window", "0", f["v10"], "-o", f["out"]], "--window"),
        (["mean", "--window", "11", f["v10"], "-o", f["out"]], "larger than"),
        (["mean", "--window", "3", "--min-count", "4", f["v10"], "-o", f["out"]],
         "--min-count"),
        (["quantile", "--window", "3", f["v10"], "-o", f["out"]], "--q"),
        (["quantile", "--window", "3", "--q", "2", f["v10"], "-o", f["out"]], "--q"),
        (["mean", "--window", "3", "--q", "0.5", f["v10"], "-o", f["out"]], "quantile"),
        (["max", "--window", "3", "--ddof", "1", f["v10"], "-o", f["out"]], "--ddof"),
        (["mean", "--window", "3", "--axis", "1", f["v10"], "-o", f["out"]], "--axis"),
        (["nope", "--window", "3", f["v10"], "-o", f["out"]], "nope"),
        (["mean", "--window", "3", f["complex"], "-o", f["out"]], "complex.npy"),
        (["mean", "--window", "3", f["missing"], "-o", f["out"]], "nope.npy"),
    ]
    for args, needle in cases:
        res = cli.fails("rolling", *args)
        assert needle in res.stderr, (args, res.stderr)


# ---------------------------------------------------------------------------
# progress bar and interrupt, on a pseudo-terminal


@pytest.fixture(scope="module")
def slow_rolling(tmp_path_factory, cli_path):
    """A rolling median on one thread that needs about 3 s of CPU: the series
    is sized from the CPU time of a probe run (which a busy machine does not
    shrink, as it would wall-clock time)."""
    d = tmp_path_factory.mktemp("slow_rolling")
    rng = np.random.default_rng(18)

    def job(n):
        src = save(d / "a.npy", rng.random(n, dtype=np.float32))
        return [cli_path, "rolling", "median", "--window", str(n // 20), src,
                "-o", str(d / "out.npy"), "--threads", "1"]

    n = 1_000_000
    cpu = cpu_seconds(job(n))
    n = int(min(max(n * 3.0 / max(cpu, 1e-3), n), 40_000_000))
    yield job(n), d
    for name in ("a.npy", "out.npy"):
        (d / name).unlink(missing_ok=True)


def test_rolling_progress_and_interrupt(slow_rolling):
    """^C once the bar shows: exit 130, one message, and a file that was at
    -o is left as it was (no temporary either)."""
    argv, d = slow_rolling
    out = d / "out.npy"
    save(out, np.arange(5.0))
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.name != "a.npy"}
    rc, tty, stdout, seconds, sent = run_on_pty(argv, interrupt_when=BAR)
    assert sent, f"the job ended in {seconds:.1f} s before drawing its bar: {tty!r}"
    assert rc == 130, tty
    assert "rolling median" in tty and BAR.search(tty), repr(tty)
    lines = [ln for ln in tty.replace("\r\x1b[K", "\n").splitlines() if ln.strip()]
    assert lines[-1].startswith("ndpar: ") and "interrupt" in lines[-1], repr(tty)
    assert sum(ln.startswith("ndpar: ") for ln in lines) == 1, repr(tty)
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.name != "a.npy"} == before
