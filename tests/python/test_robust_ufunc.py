"""Robustness of the elementwise engine against NumPy (issue [robust]):
booleans whose bytes are not 0/1, the casting names on inputs, dtype= and
out=, NEP 50 Python scalars checked against the loop's dtype, the signs of
zeros in minimum/maximum/fmin/fmax, and what a ufunc object looks like.

Every expectation is NumPy's own answer (or its exception type) for the
same call.
"""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import ndpar
from ndpar_testutil import DTYPES, TRANSCENDENTAL

# ---- helpers -------------------------------------------------------------------


def outcome(f, *args, **kw):
    """('ok', dtype, values) or ('err', exception family) for a call."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = f(*args, **kw)
    except OverflowError:
        return ("err", "OverflowError")
    except TypeError:  # numpy's UFuncTypeError is a TypeError
        return ("err", "TypeError")
    except ValueError:
        return ("err", "ValueError")
    r = np.asarray(r)
    return ("ok", r.dtype, r)


COMPARISONS = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")


def documented_difference(name, adt, scalar, casting="same_kind"):
    """The deliberate differences of docs/design.md ("ufuncs"): an integer
    array compared with a Python int of 2**63 or more in magnitude raises
    OverflowError (NumPy compares exactly), and such a comparison under
    casting='no'/'equiv' raises TypeError (NumPy allows it)."""
    if name not in COMPARISONS or type(scalar) is not int:
        return None
    if np.dtype(adt).kind not in "biu":
        return None
    if casting in ("no", "equiv"):
        return "TypeError"
    if not -2**63 <= scalar < 2**63:
        return "OverflowError"
    return None


def same_outcome(got, exp, ctx, zero_ties=True):
    assert got[0] == exp[0], (ctx, got, exp)
    if got[0] == "err":
        assert got[1] == exp[1], (ctx, got, exp)
        return
    assert got[1] == exp[2].dtype, (ctx, got[1], exp[1])
    g, e = got[2], exp[2]
    assert g.shape == e.shape, ctx
    if g.dtype.kind == "f":
        assert np.array_equal(g, e, equal_nan=True), (ctx, g, e)
        # NumPy's fmin/fmax give either operand on a -0/+0 tie depending on
        # the element's place in its loop (docs/design.md): zero_ties=False
        # skips those
        keep = np.ones(g.shape, bool) if zero_ties else (g != 0)
        assert np.array_equal(np.signbit(g)[keep], np.signbit(e)[keep]), (ctx, g, e)
    else:
        assert np.array_equal(g, e), (ctx, g, e)


def weird_bools(n=64):
    """A bool array whose bytes are 0, 1, 2, ..., 255 (NumPy: nonzero is True)."""
    raw = (np.arange(n) * 37 % 256).astype(np.uint8)
    raw[::5] = 0
    return raw.view(np.bool_)


NOT_BOOL_UNARY = {"negative", "sign"}  # NumPy refuses booleans
BOOL_UNARY = [n for n in ndpar.UNARY if n not in NOT_BOOL_UNARY]
BOOL_BINARY = [n for n in ndpar.BINARY if n != "subtract"]

# ---- 1. booleans read as byte != 0 ------------------------------------------------


def _numpy_result(name, args):
    """NumPy's result (float16 for float functions of bools, as ndpar's)."""
    with np.errstate(all="ignore"):
        return getattr(np, name)(*args)


def _normalised(a):
    if isinstance(a, np.ndarray) and a.dtype == np.bool_:
        return a.view(np.uint8) != 0
    return a


def _bits(x):
    x = np.asarray(x)
    return x.view(np.uint8) if x.dtype == np.bool_ else x


def _check_bool_op(name, args, ctx):
    with np.errstate(all="ignore"):
        got = getattr(ndpar, name)(*args)
        # the same call on the same truth values stored as 0/1
        ref = getattr(ndpar, name)(*[_normalised(a) for a in args])
    assert got.dtype == ref.dtype, ctx
    assert np.array_equal(_bits(got), _bits(ref), equal_nan=True), (ctx, got, ref)
    if got.dtype == np.bool_:
        assert _bits(got).max(initial=0) <= 1, ctx
    if name not in TRANSCENDENTAL:  # those are compared to NumPy in ULPs elsewhere
        exp = _numpy_result(name, args)
        assert got.dtype == exp.dtype, ctx
        assert np.array_equal(got, exp, equal_nan=True), (ctx, got, exp)  # truth, for bools


@pytest.mark.parametrize("name", BOOL_UNARY)
def test_weird_bool_unary(isa, name):
    m = weird_bools()
    _check_bool_op(name, [m], (isa, name, "direct"))
    _check_bool_op(name, [m[::3]], (isa, name, "strided"))


@pytest.mark.parametrize("name", BOOL_BINARY)
def test_weird_bool_binary(isa, name):
    m = weird_bools()
    k = weird_bools()[::-1].copy()  # different nonzero bytes at the same places
    for args, how in (([m, k], "bool,bool"), ([m[::2], k[1::2]], "strided"),
                      ([m, np.uint8(3)], "bool,uint8"), ([m, 3], "bool,int"),
                      ([m, 2.5], "bool,float"), ([m, True], "bool,True"),
                      ([m, np.int64(7)], "bool,int64"), ([k, m], "swapped")):
        _check_bool_op(name, args, (isa, name, how))


@pytest.mark.parametrize("dt", DTYPES, ids=str)
def test_weird_bool_casts_to_every_dtype(isa, dt):
    m = weird_bools()
    z = np.zeros(m.shape, dt)
    for a, b, how in ((m, z, "contiguous"), (m[::2], z[::2], "strided")):
        _check_bool_op("add", [a, b], (isa, str(dt), how))
        _check_bool_op("multiply", [b + 1 if dt != np.bool_ else b, a], (isa, str(dt), how))
    # into an out= of another dtype (the buffered output cast)
    out = np.empty(m.shape, dt)
    ndpar.logical_or(m, m, out=out, casting="unsafe")
    assert np.array_equal(out, np.logical_or(m, m).astype(dt))
    if dt != np.bool_:
        out = np.empty(m.shape, dt)
        ndpar.abs(m, out=out, casting="unsafe")
        assert np.array_equal(out, np.abs(m).astype(dt))


def test_weird_bool_examples_from_the_issue():
    m = np.array([0, 1, 2, 255], np.uint8).view(bool)
    assert ndpar.multiply(m, 3).tolist() == np.multiply(m, 3).tolist() == [0, 3, 3, 3]
    assert ndpar.equal(m, np.ones(4, bool)).tolist() == np.equal(m, np.ones(4, bool)).tolist()
    got = ndpar.maximum(m, m)
    assert got.view(np.uint8).tolist() == [0, 1, 1, 1]


def test_weird_bool_frombuffer_and_npy(tmp_path):
    raw = bytes([0, 7, 1, 128, 0, 255])
    m = np.frombuffer(raw, dtype="|b1")
    np.save(tmp_path / "m.npy", m)
    m2 = np.load(tmp_path / "m.npy")
    for a in (m, m2):
        assert ndpar.add(a, np.int16(1)).tolist() == np.add(a, np.int16(1)).tolist()
        assert ndpar.multiply(a, 2.0).tolist() == np.multiply(a, 2.0).tolist()
        assert ndpar.logical_xor(a, a[::-1]).tolist() == np.logical_xor(a, a[::-1]).tolist()


# ---- 2. casting names on inputs, dtype= and out= ---------------------------------------

CASTINGS = ["no", "equiv", "safe", "same_kind", "unsafe"]
CAST_OPS = ["add", "multiply", "divide", "maximum", "equal", "logical_and", "floor_divide"]


def _arr(dt):
    if dt == np.bool_:
        return np.array([True, False, True])
    return np.array([1, 2, 3], dt)


@pytest.mark.parametrize("casting", CASTINGS)
@pytest.mark.parametrize("name", CAST_OPS)
def test_casting_names_like_numpy(name, casting):
    nf, npf = getattr(ndpar, name), getattr(np, name)
    dts = [None, np.bool_, np.uint8, np.int16, np.int64, np.float32, np.float64]
    others = [np.array([1, 0, 2], np.int8), np.array([2.5, 1, 0], np.float32), -1, 3, 300,
              1.5, True]
    for adt in DTYPES:
        a = _arr(adt)
        for b in others:
            for dtype in dts:
                for out_dt in (None, np.bool_, np.uint8, np.float32, np.int64):
                    kw = {"casting": casting}
                    if dtype is not None:
                        kw["dtype"] = dtype
                    ctx = (name, casting, str(adt), repr(b), dtype, out_dt)
                    diff = documented_difference(name, adt, b, casting)
                    if out_dt is None:
                        exp = outcome(npf, a, b, **kw)
                        got = outcome(nf, a, b, **kw)
                    else:
                        o1, o2 = np.zeros(3, out_dt), np.zeros(3, out_dt)
                        exp = outcome(npf, a, b, out=o1, **kw)
                        got = outcome(nf, a, b, out=o2, **kw)
                        if exp[0] == "ok" and got[0] == "ok":
                            assert np.array_equal(o1, o2, equal_nan=True), ctx
                    if diff and got[0] == "err":
                        assert got[1] == diff, (ctx, got)
                        continue
                    same_outcome(got, exp, ctx)


def test_casting_examples_from_the_issue():
    b = np.array([True, False])
    with pytest.raises(OverflowError):
        np.add(b, -1, dtype=np.uint8, casting="unsafe")
    with pytest.raises(OverflowError):
        ndpar.add(b, -1, dtype=np.uint8, casting="unsafe")
    f32 = np.ones(3, np.float32)
    with pytest.raises(TypeError):
        np.add(f32, 300, out=np.empty(3, np.float32), casting="equiv")
    with pytest.raises(TypeError, match="equiv"):
        ndpar.add(f32, 300, out=np.empty(3, np.float32), casting="equiv")


# ---- 3. NEP 50: Python scalars against the loop's dtype -----------------------------

SCALARS = [0, 1, -1, 3, 127, 128, 255, 256, 300, -129, 2**31, -2**31 - 1, 2**32,
           2**63 - 1, 2**63, 2**64 - 1, -2**63, 1.5, -0.0, 1e300, float("nan"),
           float("inf"), True, False]
SCALAR_OPS = ["add", "subtract", "multiply", "divide", "floor_divide", "maximum", "fmin",
              "equal", "less", "greater_equal", "logical_and", "logical_xor"]
LOOP_DTYPES = [None, np.bool_, np.int8, np.uint8, np.int32, np.int64, np.uint64,
               np.float32, np.float64]


def exp_err_both(exp, got, name, adt):
    """'err' when both calls fail on a bool subtract (refused) given an int
    out of every range: NumPy reports the refusal, ndpar may report the
    int first; either way the call fails with no result."""
    if name == "subtract" and exp[0] == got[0] == "err" and \
            {exp[1], got[1]} == {"TypeError", "OverflowError"}:
        return "err"
    return None


@pytest.mark.parametrize("name", SCALAR_OPS)
@pytest.mark.parametrize("adt", DTYPES, ids=str)
def test_python_scalars_like_numpy(name, adt):
    nf, npf = getattr(ndpar, name), getattr(np, name)
    a = _arr(adt)
    for s in SCALARS:
        for dtype in LOOP_DTYPES:
            kw = {} if dtype is None else {"dtype": dtype}
            for args, side in (((a, s), "right"), ((s, a), "left")):
                ctx = (name, str(adt), repr(s), dtype, side)
                got = outcome(nf, *args, **kw)
                diff = documented_difference(name, adt, s)
                if diff:  # fails, never a silent result (dtype= may make it a TypeError)
                    assert got[0] == "err", (ctx, got)
                    continue
                if got[0] == exp_err_both(outcome(npf, *args, **kw), got, name, adt):
                    continue
                same_outcome(got, outcome(npf, *args, **kw), ctx,
                             zero_ties=name not in ("fmin", "fmax"))


@pytest.mark.parametrize("name", ["add", "multiply", "maximum", "equal", "logical_or"])
def test_two_python_scalars_like_numpy(name):
    nf, npf = getattr(ndpar, name), getattr(np, name)
    for s in [3, -1, 300, 2**63, 1.5, True]:
        for t in [2, 2.5, False, -2**63]:
            for dtype in LOOP_DTYPES:
                kw = {} if dtype is None else {"dtype": dtype}
                ctx = (name, s, t, dtype)
                got = outcome(nf, s, t, **kw)
                if type(t) is int and documented_difference(name, np.int64, s):
                    assert got[0] == "err", (ctx, got)
                    continue
                same_outcome(got, outcome(npf, s, t, **kw), ctx)


def test_scalar_examples_from_the_issue():
    u8 = np.array([1, 2, 250], np.uint8)
    for f, args, kw in ((ndpar.divide, (u8, 300), {}),
                        (ndpar.multiply, (u8, 300), {"dtype": np.float64}),
                        (ndpar.logical_and, (u8, -1), {})):
        exp = getattr(np, f.__name__)(*args, **kw)
        got = f(*args, **kw)
        assert got.dtype == exp.dtype and np.array_equal(got, exp)


# ---- 4. signed zeros and NaN in minimum/maximum/fmin/fmax ---------------------------


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin"])
def test_signed_zeros_and_nan_bitwise(isa, name, dt):
    nan = float("nan")
    base_a = [-0.0, 0.0, -0.0, 0.0, nan, 1.0, nan, -0.0, 2.0, -1.0, 0.0, nan]
    base_b = [0.0, -0.0, -0.0, 0.0, 1.0, nan, nan, 1.0, -0.0, -0.0, nan, 0.0]
    # long enough that NumPy's vectorized loops decide (they are the rule;
    # see docs/design.md for NumPy's own tiny-array fmin/fmax variance)
    a = np.array(base_a * 8, dt)
    b = np.array(base_b * 8, dt)
    nf, npf = getattr(ndpar, name), getattr(np, name)
    for x, y, how in ((a, b, "contiguous"), (b, a, "swapped"),
                      (a[::2].copy(), b[::2].copy(), "other pairs")):
        got, exp = nf(x, y), npf(x, y)
        assert np.array_equal(got, exp, equal_nan=True), (isa, how, got, exp)
        assert np.array_equal(np.signbit(got), np.signbit(exp)), (isa, how, got, exp)
    # the buffered path (strided inputs, an output of another dtype)
    got = nf(a[::2], b[::2])
    assert np.array_equal(np.signbit(got), np.signbit(npf(a[::2].copy(), b[::2].copy())))
    out = np.empty(a.shape, np.float64)
    nf(a, b, out=out)
    assert np.array_equal(np.signbit(out), np.signbit(npf(a, b).astype(np.float64)))
    # a scalar operand
    for s in (0.0, -0.0):
        got, exp = nf(a, dt(s)), npf(a, dt(s))
        assert np.array_equal(np.signbit(got), np.signbit(exp)), (isa, s)


def test_signed_zero_example_from_the_issue():
    got = ndpar.maximum([-0.0, 0.0], [0.0, -0.0])
    exp = np.maximum([-0.0, 0.0], [0.0, -0.0])
    assert np.signbit(got).tolist() == np.signbit(exp).tolist() == [False, True]


# ---- 5. what a ufunc object looks like -------------------------------------------------


@pytest.mark.parametrize("name", list(ndpar.UNARY) + list(ndpar.BINARY))
def test_function_identity(name):
    f = getattr(ndpar, name)
    g = getattr(np, name if name != "abs" else "absolute")
    assert isinstance(f, np.ufunc) and f is not g
    assert f.__name__ == name and f.__qualname__ == name
    assert f.__module__ == "ndpar"
    assert repr(f) == f"<ufunc '{name}'>"
    assert pickle.loads(pickle.dumps(f)) is f
    assert (f.nin, f.nout, f.nargs, f.signature) == (g.nin, g.nout, g.nargs, g.signature)
    assert ndpar._ndpar._legacy_calls() == 0
