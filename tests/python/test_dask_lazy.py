"""Dask arrays through ndpar's non-ufunc entry points stay lazy: the result
is a dask array, nothing is computed before .compute() (a counting
scheduler says so), and the values are in-memory ndpar's: bit for bit for
elementwise expressions, apply_indexed, map_chunks and the order-statistic
windows, for several chunkings (ragged, smaller than the window, 2-D
chunked on both axes); reductions and running-sum windows to rounding
(bit for bit once the C rolling functions take ``_anchor``: _dask.py's
``_anchor_kwargs``)."""
from __future__ import annotations

import numpy as np
import pytest

import ndpar

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

RNG = np.random.default_rng(15)


class Counter:
    """A dask scheduler that counts the graphs it is asked to compute."""

    def __init__(self):
        self.calls = 0

    def __call__(self, dsk, keys, **kwargs):
        self.calls += 1
        return dask.get(dsk, keys, **kwargs)


@pytest.fixture
def sched():
    c = Counter()
    with dask.config.set(scheduler=c):
        yield c


def _lazy(r, sched):
    assert isinstance(r, da.Array)
    assert sched.calls == 0, "computed before .compute()"
    v = r.compute()
    assert sched.calls == 1
    return v


# ---- evaluate / compile ------------------------------------------------------------------

CHUNKS_2D = [(30, 40), (7, 9), ((3, 20, 7), (1, 39)), (30, 1)]


@pytest.mark.parametrize("chunks", CHUNKS_2D)
@pytest.mark.parametrize("ex", ["where(a > 0.5, exp(a), log1p(c))", "a * b + 1", "t = a * 2; sqrt(t) - b",
                                "a > b"])
def test_evaluate_elementwise_bit_identical(sched, chunks, ex):
    a = RNG.random((30, 40))
    b = RNG.random(40)
    c = RNG.random((30, 1))
    r = ndpar.evaluate(ex, a=da.from_array(a, chunks=chunks), b=b, c=c)
    want = ndpar.evaluate(ex, a=a, b=b, c=c)
    assert r.dtype == want.dtype and r.shape == want.shape
    got = _lazy(r, sched)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_evaluate_two_dask_operands_broadcast_and_dtypes(sched):
    a = RNG.integers(0, 200, (20, 12)).astype(np.uint8)
    b = RNG.random((1, 12)).astype(np.float32)
    f = ndpar.compile("a * b + 1")
    r = f(da.from_array(a, chunks=(6, 5)), da.from_array(b, chunks=(1, 4)))
    want = f(a, b)
    assert r.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(_lazy(r, sched), want)
    r = ndpar.evaluate("a + 1", a=da.from_array(a, chunks=7))  # weak int: stays uint8
    assert r.dtype == np.uint8


REDUCTIONS = ["sum(a)", "prod(a * 0.01 + 1)", "min(a)", "max(a)", "mean(a)", "any(a > 0.99)",
              "all(a > 0.001)", "sum(a, axis=0)", "mean(a, axis=1)", "max(a * b, axis=-1)",
              "t = a - b\nmean(t)  # the mean", "sum(a * b)", "min(a, 0)"]


@pytest.mark.parametrize("chunks", CHUNKS_2D)
@pytest.mark.parametrize("ex", REDUCTIONS)
def test_evaluate_reductions(sched, chunks, ex):
    a = RNG.random((30, 40))
    b = RNG.random(40)
    r = ndpar.evaluate(ex, a=da.from_array(a, chunks=chunks), b=b)
    want = ndpar.evaluate(ex, a=a, b=b)
    assert r.shape == np.shape(want) and r.dtype == np.asarray(want).dtype
    got = _lazy(r, sched)
    if ex.startswith(("min", "max", "any", "all")):
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-13)


@pytest.mark.parametrize("dt", ["int32", "uint8", "float32", "bool"])
def test_evaluate_reduction_dtypes(sched, dt):
    a = (RNG.random(100) * 100).astype(dt)
    d = da.from_array(a, chunks=13)
    for ex in ("sum(a)", "mean(a)", "max(a)"):
        want = ndpar.evaluate(ex, a=a)
        r = ndpar.evaluate(ex, a=d)
        assert r.dtype == np.asarray(want).dtype
        sched.calls = 0
        np.testing.assert_allclose(_lazy(r, sched), want, rtol=1e-6)


def test_evaluate_dask_out_refused():
    with pytest.raises(TypeError, match="out"):
        ndpar.evaluate("a * 2", a=da.ones(4, chunks=2), out=np.empty(4))


# ---- move_* ------------------------------------------------------------------------------

EXACT = ["move_min", "move_max", "move_median", "move_count", "move_argmin", "move_argmax"]
SUMS = ["move_sum", "move_mean", "move_std", "move_var"]


@pytest.mark.parametrize("fname", EXACT + SUMS + ["move_quantile"])
@pytest.mark.parametrize("chunks", [1000, 97, (400, 3, 597), 5])
@pytest.mark.parametrize("how", [{}, {"center": True}, {"mode": "edge"}, {"min_count": 3}])
def test_move_1d(sched, fname, chunks, how):
    x = RNG.standard_normal(1000)
    x[::11] = np.nan
    f = getattr(ndpar, fname)
    args = (10, 0.3) if fname == "move_quantile" else (10,)
    r = f(da.from_array(x, chunks=chunks), *args, **how)
    want = f(x, *args, **how)
    assert r.dtype == want.dtype and r.shape == want.shape
    got = _lazy(r, sched)
    if fname in SUMS:
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fname", ["move_max", "move_mean", "move_count"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_move_2d_chunked_both_axes(sched, fname, axis):
    x = RNG.standard_normal((40, 50))
    f = getattr(ndpar, fname)
    r = f(da.from_array(x, chunks=(9, 7)), 8, axis=axis, min_count=2)
    want = f(x, 8, axis=axis, min_count=2)
    got = _lazy(r, sched)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


@pytest.mark.parametrize("dt", ["int32", "uint8", "float32", "bool"])
def test_move_dtype_from_the_c_rule(dt):
    x = (RNG.random(50) * 10).astype(dt)
    for fname in ("move_mean", "move_min", "move_argmax", "move_count"):
        r = getattr(ndpar, fname)(da.from_array(x, chunks=9), 4)
        assert r.dtype == getattr(ndpar, fname)(x, 4).dtype


def test_move_errors_stay_the_c_cores():
    d = da.ones(10, chunks=3)
    with pytest.raises(TypeError, match="window"):
        ndpar.move_mean(d, 2.5)
    with pytest.raises(ValueError, match="larger than the axis"):
        ndpar.move_mean(d, 11)
    with pytest.raises(TypeError, match="out"):
        ndpar.move_mean(d, 2, out=np.empty(10))
    with pytest.raises(ValueError, match="axis"):
        ndpar.move_mean(d, 2, axis=1)


def test_xarray_on_dask_stays_lazy(sched):
    xr = pytest.importorskip("xarray")
    a = xr.DataArray(RNG.standard_normal((3, 60)), dims=("s", "t"),
                     coords={"t": np.arange(60)}, attrs={"units": "m"}, name="h")
    d = a.chunk({"t": 13})
    r = ndpar.move_max(d, 5)
    assert isinstance(r, xr.DataArray) and isinstance(r.data, da.Array)
    assert r.attrs == a.attrs and r.name == "h" and r.coords["t"].equals(a.coords["t"])
    e = ndpar.evaluate("exp(v) + 1", v=d)
    assert isinstance(e.data, da.Array) and sched.calls == 0
    np.testing.assert_array_equal(_lazy(r.data, sched), ndpar.move_max(a.values, 5))
    np.testing.assert_array_equal(e.values, ndpar.evaluate("exp(v) + 1", v=a.values))


# ---- apply_indexed, map_chunks ----------------------------------------------------------

@pytest.mark.parametrize("xchunks,ichunks", [(100, 100), (13, 13), (13, 7), ((50, 1, 49), 30)])
def test_apply_indexed_blockwise(sched, xchunks, ichunks):
    x = RNG.random(100)
    idx = RNG.integers(0, 4, 100)
    table = ["x * 2", "sqrt(x)", np.sin, "x - 1"]
    r = ndpar.apply_indexed(da.from_array(x, chunks=xchunks), da.from_array(idx, chunks=ichunks),
                            table, default=-1.0)
    want = ndpar.apply_indexed(x, idx, table, default=-1.0)
    assert r.dtype == want.dtype
    np.testing.assert_array_equal(_lazy(r, sched), want)
    idx = idx % 1
    r = ndpar.apply_indexed((da.from_array(x, chunks=xchunks), x), idx, ["x0 + x1"],
                            dtype=np.float32)
    assert r.dtype == np.float32
    sched.calls = 0
    np.testing.assert_array_equal(_lazy(r, sched), ndpar.apply_indexed((x, x), idx, ["x0 + x1"],
                                                                        dtype=np.float32))


@pytest.mark.parametrize("chunks", [60, 7, (1, 59)])
def test_map_chunks_map_blocks(sched, chunks):
    x = RNG.random((60, 3))

    def f(a, b, index):
        return a.sum(axis=1) * b + np.arange(index.start, index.stop)

    y = RNG.random(60)
    r = ndpar.map_chunks(f, da.from_array(x, chunks=(chunks, 2)), da.from_array(y, chunks=11),
                         chunks=4)
    want = ndpar.map_chunks(f, x, y, chunks=4)
    assert r.dtype == want.dtype and r.shape == want.shape
    np.testing.assert_array_equal(_lazy(r, sched), want)
    r = ndpar.map_chunks(lambda a: a[:, :2] * 2, da.from_array(x, chunks=(chunks, 2)))
    assert r.shape == (60, 2)
    sched.calls = 0
    np.testing.assert_array_equal(_lazy(r, sched), x[:, :2] * 2)


def test_map_chunks_dask_refusals():
    d = da.ones(10, chunks=3)
    with pytest.raises(TypeError, match="windows"):
        ndpar.map_chunks(np.mean, d, windows=(3, None))
    with pytest.raises(TypeError, match="out"):
        ndpar.map_chunks(lambda a: a, d, out=np.empty(10))


def test_other_dask_collections_refused(sched):
    lazy = dask.delayed(np.arange)(10.0)
    with pytest.raises(TypeError, match="not a dask array"):
        ndpar.move_mean(lazy, 3)
    with pytest.raises(TypeError, match="not a dask array"):
        ndpar.evaluate("a * 2", a=lazy)
    with pytest.raises(TypeError, match="not a dask array"):
        ndpar.apply_indexed(lazy, np.zeros(10, np.int8), ["x"])
    with pytest.raises(TypeError, match="not a dask array"):
        ndpar.map_chunks(np.negative, lazy)
    assert sched.calls == 0


@pytest.mark.parametrize("how", [{}, {"center": True}, {"mode": "edge"}])
@pytest.mark.parametrize("chunks", [(30, 30, 40), (12,) * 8 + (4,), 100])
def test_anchor_is_the_global_index_of_each_block(monkeypatch, how, chunks):
    """The start handed to _anchor_kwargs (where the C functions' _anchor
    keyword is wired) is the global position of the block's element 0."""
    from ndpar import _dask, _ndpar
    seen = []
    real = _ndpar.move_sum

    def recording(block, **kw):
        start = kw.pop("_anchor")
        seen.append((start, block[0], len(block)))
        return real(block, **kw)

    monkeypatch.setattr(_ndpar, "move_sum", recording)
    monkeypatch.setattr(_dask, "_anchor_kwargs", lambda info, axis, start: {"_anchor": start})
    x = np.arange(100.0)
    r = ndpar.move_sum(da.from_array(x, chunks=chunks), 9, **how)
    with dask.config.set(scheduler="sync"):
        got = r.compute()
    np.testing.assert_array_equal(got, real(x, 9, **how))
    assert seen
    for start, first, n in seen:
        assert first == x[max(start, 0)]
        assert (start < 0) == ("mode" in how and start == -9)


def test_graphs_ship_to_a_process_cluster():
    """The graphs pickle: every entry point's lazy result computes on a
    LocalCluster of two worker processes, with in-memory ndpar's values.
    Run in a child interpreter, so the cluster's processes (and the
    resource tracker it starts) are never children of the test process."""
    pytest.importorskip("distributed")
    import os
    import subprocess
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [here] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    r = subprocess.run([sys.executable, "-c", "import test_dask_lazy as t; t._cluster_check(); "
                        "print('cluster ok')"], cwd=here, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0 and "cluster ok" in r.stdout, r.stdout + r.stderr


def _cluster_check():
    import distributed
    x = RNG.random((600, 8))
    d = da.from_array(x, chunks=(150, 8))
    f = ndpar.compile("where(a > 0.5, exp(a), a * 2)")
    cases = [
        (f(d), f(x)),
        (ndpar.evaluate("sum(a * a, axis=0)", a=d), ndpar.evaluate("sum(a * a, axis=0)", a=x)),
        (ndpar.move_max(d, 40, axis=0), ndpar.move_max(x, 40, axis=0)),
        (ndpar.apply_indexed(d[:, 0], da.zeros(600, dtype=np.int8, chunks=100), ["x + 1"]),
         x[:, 0] + 1),
        (ndpar.map_chunks(np.negative, d), -x),
    ]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = client.compute([r for r, _ in cases], sync=True)
        moved = client.submit(ndpar.move_mean, x[:, 0], 4).result()
    for g, (_, want) in zip(got, cases):
        np.testing.assert_allclose(g, want, rtol=1e-13)
    np.testing.assert_array_equal(moved, ndpar.move_mean(x[:, 0], 4))


@pytest.mark.parametrize("name", ["move_sum", "move_mean", "move_std", "move_var", "move_min",
                                  "move_median"])
@pytest.mark.parametrize("chunks", [7000, 33333, 999])
def test_chunked_windows_have_the_single_machine_bits(name, chunks):
    """Trailing windows on dask arrays: the blocks are anchored at their
    global positions (_anchor), so any chunking gives in-memory ndpar's
    bits exactly."""
    x = np.random.default_rng(3).normal(size=60_000)
    x[::97] = np.nan
    got = getattr(ndpar, name)(da.from_array(x, chunks=chunks), 50, min_count=10).compute()
    want = getattr(ndpar, name)(x, 50, min_count=10)
    assert got.tobytes() == want.tobytes()
