"""ndpar.evaluate's order= (and a compiled call's layout) against NumPy:
the result's layout is the one NumPy's iterator allocates for the same
operands (np.nditer([...inputs, None], order=...), what np.add(a, b,
order=...) returns), reductions along an axis take that order without
the axis (as np.sum), and values equal NumPy's for transposed, F-ordered,
negative-strided, broadcast and mixed-ndim inputs."""
from __future__ import annotations

import numpy as np
import pytest

import ndpar

ORDERS = ("K", "A", "C", "F")


def _base(shape, seed=0):
    return np.random.default_rng(seed).random(shape) - 0.5


def _inputs():
    """(name, a, b): pairs of float64 arrays in many layouts."""
    c = _base((4, 5, 6))
    d = _base((4, 5, 6), 1)
    yield "C,C", c, d
    yield "F,F", np.asfortranarray(c), np.asfortranarray(d)
    yield "C,F", c, np.asfortranarray(d)
    yield "F,C", np.asfortranarray(c), d
    yield "T,T", c.transpose(1, 0, 2), d.transpose(1, 0, 2)
    yield "T210,C", c.transpose(2, 1, 0), _base((6, 5, 4), 2)
    yield "neg", c[::-1, :, ::-1], d[::-1, :, ::-1]
    yield "negF", np.asfortranarray(c)[::-1], np.asfortranarray(d)[:, ::-1]
    yield "F,1d", np.asfortranarray(c), _base((6,), 3)
    yield "F,2d", np.asfortranarray(c), _base((5, 6), 4)
    yield "F,2dF", np.asfortranarray(c), np.asfortranarray(_base((5, 6), 4))
    yield "col,row", _base((4, 1), 5), _base((7,), 6)
    yield "strided", c[:, ::2, 1:], np.asfortranarray(d)[:, ::2, 1:]
    yield "2dF,0d", np.asfortranarray(_base((3, 7))), np.float64(2.5)
    yield "1x", _base((1, 5, 1)), np.asfortranarray(_base((3, 5, 2), 7))


def _numpy_layout(arrays, order):
    """The strides NumPy's iterator gives a new result of these operands."""
    ops = [np.asarray(a) for a in arrays] + [None]
    return np.nditer(ops, order=order).operands[-1]


def _same_layout(got, want):
    assert got.shape == want.shape
    assert got.flags.c_contiguous == want.flags.c_contiguous
    assert got.flags.f_contiguous == want.flags.f_contiguous
    # the memory order itself (strides of the dimensions that matter)
    for g, w, n in zip(got.strides, want.strides, got.shape):
        if n > 1:
            assert g == w, (got.strides, want.strides)


CASES = list(_inputs())


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("name,a,b", CASES, ids=[c[0] for c in CASES])
def test_elementwise_layout_and_values(name, a, b, order):
    got = ndpar.evaluate("a * 2 + b", local_dict={"a": a, "b": b}, order=order)
    want = np.add(np.multiply(a, 2), b, order=order)
    np.testing.assert_array_equal(got, want)
    _same_layout(got, _numpy_layout([a, b], order))
    # NumPy's own ufunc makes the same layout
    _same_layout(got, np.add(a, b, order=order))


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("name,a,b", CASES, ids=[c[0] for c in CASES])
def test_where_three_operands(name, a, b, order):
    c = np.float64(0.25)
    got = ndpar.evaluate("where(a > b, exp(a), b - c)", local_dict={"a": a, "b": b, "c": c},
                         order=order)
    want = np.where(a > b, np.exp(a), b - c)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
    _same_layout(got, _numpy_layout([a, b, np.asarray(c)], order))


def _reduced_layout(a, axis, order):
    """np.sum's result layout for a K-ordered intermediate of a's layout,
    or order 'C' / 'F' / 'A' as np.empty would make it."""
    shape = np.delete(np.array(a.shape), axis)
    if order == "C" or (order == "A" and not a.flags.f_contiguous):
        return np.empty(tuple(shape), order="C")
    if order in ("F", "A"):
        return np.empty(tuple(shape), order="F")
    return np.sum(_numpy_layout([a], "K"), axis=axis)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("kind", ["C", "F", "T", "neg"])
def test_reduction_layout(kind, axis, order):
    c = _base((4, 5, 6))
    a = {"C": c, "F": np.asfortranarray(c), "T": c.transpose(2, 0, 1),
         "neg": c[::-1, :, ::-1]}[kind]
    got = ndpar.evaluate(f"sum(a * 2, axis={axis})", local_dict={"a": a}, order=order)
    want = np.sum(a * 2, axis=axis)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)
    _same_layout(got, _reduced_layout(a, axis, order))
    # the result's layout does not change the bits
    ref = ndpar.evaluate(f"sum(a * 2, axis={axis})", local_dict={"a": a}, order="C")
    np.testing.assert_array_equal(got, ref)


def test_reduction_mixed_ndim_fortran():
    a = np.asfortranarray(_base((3, 4, 5)))
    b = _base((4, 5), 1)
    got = ndpar.evaluate("max(a - b, axis=1)", order="F")
    np.testing.assert_array_equal(got, np.max(a - b, axis=1))
    assert got.flags.f_contiguous and not got.flags.c_contiguous


def test_whole_reduction_is_a_scalar():
    a = np.asfortranarray(_base((3, 4)))
    for order in ORDERS:
        got = ndpar.evaluate("sum(a)", order=order)
        assert np.ndim(got) == 0
        assert got == ndpar.evaluate("sum(a)", local_dict={"a": np.ascontiguousarray(a)})


def test_fortran_order_mixed_ndim_was_c_before():
    """order='F' with inputs of different ndim (the transposing shortcut
    gave C order here)."""
    a = _base((3, 4, 5))
    b = _base((5,), 1)
    got = ndpar.evaluate("a + b", order="F")
    np.testing.assert_array_equal(got, a + b)
    assert got.flags.f_contiguous and not got.flags.c_contiguous


def test_compiled_call_follows_inputs():
    f = ndpar.compile("a * b")
    a = np.asfortranarray(_base((30, 40)))
    b = np.asfortranarray(_base((30, 40), 1))
    got = f(a, b)
    np.testing.assert_array_equal(got, a * b)
    assert got.flags.f_contiguous and not got.flags.c_contiguous
    got = f(a.T, b.T)
    assert got.flags.c_contiguous


@pytest.mark.parametrize("order", ORDERS)
def test_out_in_any_layout(order):
    """out= in any layout is written correctly (the walk follows it)."""
    a = _base((6, 7))
    b = np.asfortranarray(_base((6, 7), 1))
    for out in (np.zeros((6, 7)), np.zeros((6, 7), order="F"), np.zeros((7, 6)).T,
                np.zeros((6, 14))[:, ::-2]):
        r = ndpar.evaluate("a - b", out=out, order=order)
        assert r is out
        np.testing.assert_array_equal(out, a - b)


def test_large_fortran_matches_numpy():
    """Enough elements for several threads' chunks and the streaming path."""
    a = np.asfortranarray(_base((700, 900)))
    c = np.asfortranarray(_base((700, 900), 1))
    got = ndpar.evaluate("a * 2 + c")
    np.testing.assert_array_equal(got, a * 2 + c)
    assert got.flags.f_contiguous
    got = ndpar.evaluate("a * 2 + c", order="C")
    np.testing.assert_array_equal(got, a * 2 + c)
    assert got.flags.c_contiguous


def test_bad_order():
    with pytest.raises(ValueError, match="order"):
        ndpar.evaluate("a + 1", local_dict={"a": np.ones(3)}, order="X")
