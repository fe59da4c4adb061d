"""An array of more than 2**31 elements (64-bit sizes and offsets
everywhere). About 2.2 GB of memory; part of `make test`."""
from __future__ import annotations

import numpy as np
import pytest

import ndpar

N = 2 ** 31 + 4099   # past the int32 limit, with an odd tail
PERIOD = 251         # prime: a 2**32 (or 2**31) index wrap would show
STEP = 1 << 22


def _fill_pattern(a):
    """a[i] = i % PERIOD, written in blocks (no full-size temporaries)."""
    block = np.tile(np.arange(PERIOD, dtype=np.uint8), STEP // PERIOD + 2)
    for s in range(0, a.size, STEP):
        e = min(s + STEP, a.size)
        off = s % PERIOD
        a[s:e] = block[off:off + (e - s)]


def _check(a, fn, what):
    """a[i] == fn(i % PERIOD) for every i, checked in blocks; reports the
    first bad index."""
    one = fn(np.arange(PERIOD, dtype=np.int64)).astype(a.dtype)
    block = np.tile(one, STEP // PERIOD + 2)
    for s in range(0, a.size, STEP):
        e = min(s + STEP, a.size)
        off = s % PERIOD
        exp = block[off:off + (e - s)]
        got = a[s:e]
        if not np.array_equal(got, exp):
            i = int(np.argmax(got != exp))
            raise AssertionError(f"{what}: a[{s + i}] = {got[i]}, expected {exp[i]}")


@pytest.mark.bigmem
def test_more_than_2_31_elements():
    a = np.empty(N, dtype=np.uint8)
    _fill_pattern(a)
    assert a.size > 2 ** 31
    with ndpar.threads(max(2, ndpar.get_num_threads())):
        # direct path: contiguous, native, loop dtype == array dtype
        r = ndpar.add(a, 1, out=a)
        assert r is a
        for i in (0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32 % N, N - 1):
            assert a[i] == (i % PERIOD + 1) % 256, i
        _check(a, lambda p: (p + 1) % 256, "add")
        # buffered path: uint8 loop, result cast into an int8 view of itself
        v = a.view(np.int8)
        r = ndpar.negative(a, out=v)
        assert r is v
        _check(a, lambda p: (-(p + 1)) % 256, "negative")
        # a predicate over the whole array, output of another size
        small = ndpar.less(a[::2 ** 20], 128)
        assert small.dtype == np.bool_ and small.size == (N - 1) // 2 ** 20 + 1
        idx = np.arange(0, N, 2 ** 20)
        np.testing.assert_array_equal(small, ((-(idx % PERIOD + 1)) % 256) < 128)
    del a, v
