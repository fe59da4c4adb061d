"""Kernels inside the other entry points: an apply_indexed table entry and a
map_chunks function (threads), checked against the user's function run as
plain Python."""
from __future__ import annotations

import numpy as np

import ndpar
from test_kernels import drawdown  # the same per-row kernel as there


@ndpar.vectorize
def halvings(x):
    s = 0
    while x > 1.0:
        x = x / 2.0
        s += 1
    return s


def _py_halvings(v):
    return np.array([halvings.py_func(float(t)) for t in v], dtype=np.int64)


def test_kernel_as_apply_indexed_entry():
    rng = np.random.default_rng(4)
    x = rng.random(20_000) * 1e6
    idx = rng.integers(0, 3, x.size)
    r = ndpar.apply_indexed(x, idx, [halvings, "x * 2", halvings], dtype=np.float64)
    want = np.where(idx == 1, x * 2, _py_halvings(x))
    np.testing.assert_array_equal(r, want)


def test_kernels_in_map_chunks_threads():
    rng = np.random.default_rng(5)
    x = rng.random(50_000) * 1e6
    np.testing.assert_array_equal(ndpar.map_chunks(halvings, x, backend="threads"),
                                  _py_halvings(x))
    rows = rng.standard_normal((300, 40)).cumsum(axis=1)
    got = ndpar.map_chunks(drawdown, rows, backend="threads")
    want = np.empty(300)
    for i in range(300):
        o = np.zeros(1)
        drawdown.py_func(rows[i], o)
        want[i] = o[0]
    np.testing.assert_array_equal(got, want)
