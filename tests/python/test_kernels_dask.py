"""Kernels on dask arrays (lazy) and pickled: vectorize through NumPy's
ufunc protocol (blockwise), guvectorize through dask's apply_gufunc; module
level kernels pickle by reference, text kernels as their source. Values
against the functions run as plain Python."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import ndpar

da = pytest.importorskip("dask.array")
RNG = np.random.default_rng(11)


@ndpar.vectorize
def clipped_newton(x, iters):
    y = x if x > 1.0 else 1.0
    for _ in range(iters):
        y = y - (y * y * y - x) / (3.0 * y * y)
    return y


@ndpar.guvectorize("(n)->(n)")
def running_max_reset(x, out):
    m = x[0]
    for j in range(len(x)):
        if x[j] < 0:
            m = x[j]
        m = max(m, x[j])
        out[j] = m


def _py_rows(f, x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        f.py_func(x[i], out[i])
    return out


@pytest.mark.parametrize("chunks", [250, 97, 1000])
def test_vectorize_on_dask_is_lazy_and_exact(chunks):
    x = RNG.uniform(0, 30, 1000)
    d = da.from_array(x, chunks=chunks)
    r = clipped_newton(d, 6)
    assert isinstance(r, da.Array)
    want = np.array([clipped_newton.py_func(v, 6) for v in x])
    np.testing.assert_array_equal(r.compute(), want)
    np.testing.assert_array_equal(r.compute(), clipped_newton(x, 6))


@pytest.mark.parametrize("chunks", [(10, 40), (33, 40), (200, 40)])
def test_guvectorize_on_dask_is_lazy_and_exact(chunks):
    x = RNG.normal(size=(200, 40))
    d = da.from_array(x, chunks=chunks)
    r = running_max_reset(d)
    assert isinstance(r, da.Array) and r.dtype == np.float64
    np.testing.assert_array_equal(r.compute(), _py_rows(running_max_reset, x))


def test_kernels_pickle():
    assert pickle.loads(pickle.dumps(clipped_newton)) is clipped_newton
    assert pickle.loads(pickle.dumps(running_max_reset)) is running_max_reset
    k = ndpar.kernel("def f(x, out):\n    out[0] = x[0] * 2 + x[1]\n", signature="(n)->()")
    k2 = pickle.loads(pickle.dumps(k))
    x = RNG.random((5, 3))
    np.testing.assert_array_equal(k2(x), x[:, 0] * 2 + x[:, 1])
