"""Issue [robust], apply_indexed: messages that name the entry and say what
went wrong, a list as x is one array (as np.asarray), the cast hint that
fits how the output dtype was chosen, and a compiled-expression cache
bounded by bytes (least recently used out).

References: NumPy (np.asarray for x, the loop below for results).
"""
from __future__ import annotations

import math
import sys
import traceback

import numpy as np
import pytest

import ndpar
from ndpar import _apply


def loop(x, index, funcs):
    """Plain per-point reference: funcs[index[i]](x[i])."""
    return np.array([funcs[j](v) for v, j in zip(x, index)])


def data(n=1000, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random(n), rng.integers(0, k, n)


# ---- a callable that fails names its entry -------------------------------------------

def test_scalar_function_entry_names_the_entry_and_the_problem():
    x, index = data()
    with pytest.raises(TypeError) as info:
        ndpar.apply_indexed(x, index, ["x", "x * 2", math.sin])
    msg = str(info.value)
    assert "table[2]" in msg and "math.sin" in msg, msg
    assert "converted to Python scalar" in msg, msg  # NumPy's own words kept
    assert "array of the group's points" in msg and "np.vectorize" in msg, msg
    # with np.sin it works (the hint is right)
    np.testing.assert_array_equal(ndpar.apply_indexed(x, index, ["x", "x * 2", np.sin]),
                                  np.where(index == 0, x, np.where(index == 1, x * 2, np.sin(x))))


class Boom(Exception):
    pass


class Odd(Exception):
    """An exception whose str() is not its args."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code

    def __str__(self):
        return "odd code %d" % self.code


def test_error_keeps_its_type_identity_and_traceback():
    x, index = data()
    raised = []

    def f(v):
        e = Boom("bad group")
        raised.append(e)
        raise e
    with pytest.raises(Boom, match=r"table\[1\] .*f\) raised Boom: bad group") as info:
        ndpar.apply_indexed(x, index, ["x", f, "x"])
    assert info.value is raised[0]
    frames = traceback.extract_tb(info.value.__traceback__)
    assert any(fr.name == "f" and "raise e" in (fr.line or "") for fr in frames)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes: Python 3.11")
def test_error_with_its_own_str_gets_a_note():
    x, index = data()

    def g(v):
        raise Odd(7)
    with pytest.raises(Odd) as info:
        ndpar.apply_indexed(x, index, ["x", "x", g])
    assert str(info.value) == "odd code 7" and info.value.code == 7
    assert any("table[2]" in n and "odd code 7" in n for n in info.value.__notes__)


# ---- a list as x is one array ----------------------------------------------------------

def test_list_x_is_one_array():
    x = [1.0, 2.0, 3.0, 4.0]
    index = [0, 1, 0, 1]
    got = ndpar.apply_indexed(x, np.array(index), ["x * 2", "x + 1"])
    exp = loop(np.asarray(x), index, [lambda v: v * 2, lambda v: v + 1])
    np.testing.assert_array_equal(got, exp)
    assert got.dtype == np.asarray(x).dtype
    # ints, callables
    got = ndpar.apply_indexed([5, 6, 7], np.array([1, 0, 1]), [lambda v: v * 3, "x - 1"])
    np.testing.assert_array_equal(got, loop(np.asarray([5, 6, 7]), [1, 0, 1],
                                            [lambda v: v * 3, lambda v: v - 1]))
    # a list of lists is one 2-D array: refused as such, naming x
    with pytest.raises(ValueError, match=r"'x' must be one-dimensional, got shape \(2, 3\)"):
        ndpar.apply_indexed([[1.0, 2, 3], [4, 5, 6]], np.array([0, 0]), ["x"])
    # a tuple means several arguments, lists inside it included
    got = ndpar.apply_indexed(([1.0, 2.0], [10.0, 20.0]), np.array([0, 1]), ["x0 + x1", "x0 * x1"])
    np.testing.assert_array_equal(got, [11.0, 40.0])


# ---- the cast hint fits how the output dtype was chosen -----------------------------------

def test_cast_message_with_out_does_not_ask_for_out():
    x = np.arange(10, dtype=np.int32)
    index = np.zeros(10, np.int64)
    out = np.empty(10, np.int32)
    for entry, word in (("x * 1.5", "gives float64"), (lambda v: v * 1.5, "returned dtype float64")):
        with pytest.raises(TypeError) as info:
            ndpar.apply_indexed(x, index, [entry], out=out)
        msg = str(info.value)
        assert "table[0]" in msg and word in msg and "same_kind" in msg, msg
        assert "pass dtype= or out=" not in msg, msg
        assert "'out' (int32)" in msg, msg
        with pytest.raises(TypeError) as info:
            ndpar.apply_indexed(x, index, [entry], dtype=np.int32)
        msg = str(info.value)
        assert "dtype=int32" in msg and "pass dtype= or out=" not in msg, msg
    # neither given: the output dtype came from the inputs, so the hint is right
    with pytest.raises(TypeError) as info:
        ndpar.apply_indexed(x, index, [lambda v: v * 1j])
    msg = str(info.value)
    assert "table[0]" in msg and "complex128" in msg and "(pass dtype= or out=)" in msg, msg
    # and the advice works
    np.testing.assert_array_equal(ndpar.apply_indexed(x, index, ["x * 1.5"], dtype=np.float64),
                                  x * 1.5)


# ---- the compiled-expression cache is bounded by bytes -----------------------------------------

def test_cache_bounded_by_bytes_and_results_right_after_eviction():
    _apply._clear_cache()
    assert _apply._cache_info() == (0, 0)
    x = np.linspace(-2.0, 2.0, 64)
    index = np.arange(64) % 2
    bound = _apply._CACHE_MAX_BYTES
    assert bound <= 8 << 20
    n_expr = 3000
    for i in range(n_expr):
        got = ndpar.apply_indexed(x, index, ["x * %d + %d.5" % (i, i + 1), "x - %d" % i])
        np.testing.assert_array_equal(got, np.where(index == 0, x * i + (i + 1.5), x - i))
        entries, nbytes = _apply._cache_info()
        assert nbytes <= bound, (i, entries, nbytes)
    entries, nbytes = _apply._cache_info()
    assert 0 < entries < 2 * n_expr  # evicted, and still caching
    assert nbytes > bound // 2
    # the oldest were evicted: compiled again, still right
    assert ("x * 0 + 1.5", (x.dtype.num,)) not in _apply._cache
    for i in range(5):
        got = ndpar.apply_indexed(x, index, ["x * %d + %d.5" % (i, i + 1), "x - %d" % i])
        np.testing.assert_array_equal(got, np.where(index == 0, x * i + (i + 1.5), x - i))
    _apply._clear_cache()
    assert _apply._cache_info() == (0, 0)


def test_cache_keeps_the_recently_used():
    _apply._clear_cache()
    x = np.arange(8.0)
    index = np.zeros(8, np.int64)
    hot = "x * 7 - 3"
    key = (hot, (x.dtype.num,))
    for i in range(2000):
        np.testing.assert_array_equal(ndpar.apply_indexed(x, index, [hot]), x * 7 - 3)
        ndpar.apply_indexed(x, index, ["x + %d" % i])
        assert key in _apply._cache
    assert _apply._cache_info()[1] <= _apply._CACHE_MAX_BYTES
    _apply._clear_cache()


def test_program_larger_than_the_cache_is_not_kept():
    _apply._clear_cache()
    x = np.arange(5.0)
    src = "+".join(["x"] * 5000)  # 10 kB of source
    got = ndpar.apply_indexed(x, np.zeros(5, np.int64), [src])
    np.testing.assert_array_equal(got, x * 5000)
    charged = _apply._program_bytes(src, _apply._ndpar.ApplyExpr(src, (x.dtype.num,)))
    entries, nbytes = _apply._cache_info()
    assert (entries, nbytes) == ((1, charged) if charged <= _apply._CACHE_MAX_BYTES else (0, 0))
    _apply._clear_cache()
