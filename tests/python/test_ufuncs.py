"""Every ndpar function on every dtype against NumPy, at every ISA the CPU has.

Exact comparisons (bitwise, NaN positions, sign of zero) for integer/bool
results and exact float operations; transcendentals within ndpar's
documented ULP bound plus NumPy's own error (the precise bound is checked
against a long double reference in test_accuracy.py).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import ndpar
from ndpar_testutil import (
    ALIASES, BINARY, DTYPES, FLOAT_DTYPES, INT_DTYPES, UNARY, assert_same,
    check_against_numpy, numpy_expected, test_values, tolerance,
)


def _unary_input(name, dt, n_random=300):
    x = test_values(dt, n_random)
    if name == "reciprocal" and np.dtype(dt).kind in "iu":
        # 1/0 for integers is an out-of-range float->int cast (unspecified)
        x = x[x != 0]
    return x


def _pairs(dt1, dt2, n_random=400, seed=1):
    """Cartesian product of the special values of two dtypes, then random pairs."""
    s1, s2 = test_values(dt1, 0), test_values(dt2, 0)
    a, b = (m.ravel() for m in np.meshgrid(s1, s2, indexing="ij"))
    r1 = test_values(dt1, n_random, seed)[len(s1):]
    r2 = test_values(dt2, n_random, seed + 1)[len(s2):]
    return np.concatenate([a, r1]), np.concatenate([b, r2])


def _fix_power(x2):
    """Integer exponents must be >= 0 (a negative one is an error); small."""
    if x2.dtype.kind in "iu":
        return (x2.astype(np.int64) % 70).astype(x2.dtype)
    return x2


# ---- the list of functions -----------------------------------------------------

def test_names_and_aliases():
    assert len(UNARY) == 33 and len(BINARY) == 22
    for name in UNARY + BINARY:
        assert callable(getattr(ndpar, name)), name
        assert hasattr(np, name), name
    assert ndpar.absolute is ndpar.abs
    assert ndpar.true_divide is ndpar.divide
    assert ndpar.mod is ndpar.remainder
    assert ndpar.pow is ndpar.power
    for alias, name in ALIASES.items():
        x = np.array([-2.5, 3.0, 7.0])
        args = (x,) if name in UNARY else (x, np.array([2.0, -2.0, 0.5]))
        np.testing.assert_array_equal(getattr(ndpar, alias)(*args),
                                      getattr(np, alias)(*args))
    for name in UNARY:
        assert name in getattr(ndpar, name).__doc__
    assert set(ndpar.__all__) >= set(UNARY + BINARY)


# ---- every function x every dtype x every ISA -------------------------------------

@pytest.mark.parametrize("dt", DTYPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_vs_numpy(isa, name, dt):
    x = _unary_input(name, dt)
    check_against_numpy(name, [x], ctx=(isa, str(dt)))
    # a single element and an empty array of the same dtype
    check_against_numpy(name, [x[-1:]], ctx=(isa, str(dt), "1 item"))
    check_against_numpy(name, [x[:0]], ctx=(isa, str(dt), "empty"))


@pytest.mark.parametrize("dt", DTYPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_vs_numpy(isa, name, dt):
    a, b = _pairs(dt, dt)
    if name == "power":
        b = _fix_power(b)
    check_against_numpy(name, [a, b], ctx=(isa, str(dt)))
    check_against_numpy(name, [a[:0], b[:0]], ctx=(isa, str(dt), "empty"))


PAIR_OPS = ["add", "subtract", "multiply", "divide", "floor_divide", "remainder",
            "power", "maximum", "less", "equal", "logical_and", "arctan2"]


@pytest.mark.parametrize("dt1", DTYPES, ids=str)
@pytest.mark.parametrize("name", PAIR_OPS)
def test_binary_dtype_pairs(isa, name, dt1):
    """All 11x11 input dtype pairs for a representative set of operations."""
    for dt2 in DTYPES:
        a, b = _pairs(dt1, dt2, n_random=100)
        if name == "power":
            b = _fix_power(b)
        check_against_numpy(name, [a, b], ctx=(isa, f"{dt1},{dt2}"))


def test_unary_larger_arrays(isa):
    """Arrays large enough to be split into chunks on several threads."""
    rng = np.random.default_rng(5)
    for dt in (np.float32, np.float64, np.int32, np.uint8):
        base = test_values(dt, 2000, seed=3)
        x = np.resize(base, 200_003)
        rng.shuffle(x)
        for name in ("sin", "exp", "log", "sqrt", "floor", "rint", "negative",
                     "abs", "sign", "isnan", "square"):
            check_against_numpy(name, [x], ctx=(isa, str(np.dtype(dt)), "large"))


# ---- special values, one by one ----------------------------------------------------

SPECIAL_CASES = [
    ("exp", [np.inf, -np.inf, np.nan, 0.0, -0.0, 710.0, -746.0]),
    ("expm1", [np.inf, -np.inf, 0.0, -0.0, -1000.0, 1e-300]),
    ("exp2", [np.inf, -np.inf, 1024.0, -1075.0, 0.0, 3.0]),
    ("log", [0.0, -0.0, -1.0, np.inf, -np.inf, 1.0, np.nan]),
    ("log1p", [-1.0, -2.0, 0.0, -0.0, np.inf, 1e-300]),
    ("log2", [0.0, 8.0, 0.5, -1.0, np.inf]),
    ("log10", [0.0, 1000.0, -1.0, np.inf, 1e-300]),
    ("sqrt", [-1.0, -0.0, 0.0, 4.0, np.inf, -np.inf, 2.0]),
    ("cbrt", [-8.0, -0.0, 27.0, np.inf, -np.inf]),
    ("sin", [0.0, -0.0, np.inf, -np.inf, np.nan, 1e22]),
    ("cos", [0.0, np.inf, -np.inf, 1e22]),
    ("tan", [0.0, -0.0, np.inf, 1e22]),
    ("arcsin", [1.0, -1.0, 1.0000001, -2.0, 0.0, -0.0]),
    ("arccos", [1.0, -1.0, 2.0, 0.0]),
    ("arctan", [np.inf, -np.inf, 0.0, -0.0]),
    ("sinh", [np.inf, -np.inf, 1000.0, -0.0]),
    ("cosh", [np.inf, -np.inf, 1000.0, 0.0]),
    ("tanh", [np.inf, -np.inf, 1000.0, -0.0, 20.0]),
    ("arcsinh", [np.inf, -np.inf, -0.0]),
    ("arccosh", [1.0, 0.5, np.inf, -1.0]),
    ("arctanh", [1.0, -1.0, 2.0, -0.0]),
    ("rint", [0.5, 1.5, 2.5, -0.5, -2.5, 4503599627370495.5, -0.0, np.inf]),
    ("floor", [-0.5, -0.0, 0.5, np.inf, np.nan]),
    ("ceil", [-0.5, -0.0, 0.5, np.inf]),
    ("trunc", [-0.5, -1.5, 1.5, np.inf]),
    ("sign", [-0.0, 0.0, np.nan, -np.inf, 5.0]),
    ("reciprocal", [0.0, -0.0, np.inf, 2.0]),
    ("abs", [-0.0, -np.inf, np.nan]),
    ("negative", [0.0, np.nan, np.inf]),
    ("square", [1e200, -3.0, np.nan]),
    ("isnan", [np.nan, np.inf, 0.0]),
    ("isinf", [np.nan, np.inf, -np.inf, 1e308]),
    ("isfinite", [np.nan, np.inf, 1e308, 5e-324]),
]


@pytest.mark.parametrize("fdt", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("name,vals", SPECIAL_CASES, ids=[c[0] for c in SPECIAL_CASES])
def test_unary_special_values(isa, name, vals, fdt):
    with np.errstate(all="ignore"):
        x = np.array(vals, dtype=np.float64).astype(fdt)
    got = ndpar.__dict__[name](x)
    exp = numpy_expected(name, x)
    exact, maxulp = tolerance(name, fdt)
    assert_same(got, exp, name, exact, maxulp, ctx=(isa, str(fdt)))
    # specials map to specials: inf/nan/zero results are exact even for
    # transcendentals
    exp = np.asarray(exp)
    special = np.isinf(exp) | np.isnan(exp) | (exp == 0)
    if exp.dtype.kind == "f":
        assert_same(got[special], exp[special], name, True, 0, ctx=(isa, "specials"))


BINARY_SPECIALS = [
    ("floor_divide", [7.0, -7.0, 7.0, -7.0, 1.0, 0.0, np.inf, 5.0, -0.0, 1e308],
     [2.0, 2.0, -2.0, -2.0, 0.0, 0.0, 3.0, np.inf, 3.0, 1e-308]),
    ("remainder", [7.0, -7.0, 7.0, -7.0, 1.0, np.inf, 5.0, -5.0, 0.0, -0.0, 6.0],
     [2.0, 2.0, -2.0, -2.0, 0.0, 3.0, np.inf, np.inf, 3.0, 3.0, -3.0]),
    ("power", [0.0, 0.0, -0.0, 2.0, -2.0, np.nan, 1.0, -1.0, np.inf, -8.0, 0.5],
     [0.0, -1.0, -1.0, np.inf, 3.0, 0.0, np.nan, np.inf, -1.0, 1.0 / 3, -np.inf]),
    ("arctan2", [0.0, -0.0, 0.0, -0.0, 1.0, np.inf, -np.inf, np.inf, np.nan],
     [0.0, 0.0, -0.0, -0.0, 0.0, np.inf, np.inf, -np.inf, 1.0]),
    ("hypot", [np.inf, np.nan, 3.0, 1e308, 0.0, -np.inf],
     [np.nan, np.inf, 4.0, 1e308, -0.0, 1.0]),
    ("minimum", [np.nan, 1.0, np.nan, -np.inf], [1.0, np.nan, np.nan, np.inf]),
    ("maximum", [np.nan, 1.0, np.nan, -np.inf], [1.0, np.nan, np.nan, np.inf]),
    ("fmin", [np.nan, 1.0, np.nan, -np.inf], [1.0, np.nan, np.nan, np.inf]),
    ("fmax", [np.nan, 1.0, np.nan, -np.inf], [1.0, np.nan, np.nan, np.inf]),
    ("divide", [1.0, -1.0, 0.0, np.inf, 1.0], [0.0, 0.0, 0.0, np.inf, -0.0]),
    ("equal", [np.nan, 0.0, np.inf], [np.nan, -0.0, np.inf]),
    ("not_equal", [np.nan, 0.0, np.inf], [np.nan, -0.0, np.inf]),
    ("less", [np.nan, -0.0, -np.inf], [1.0, 0.0, np.inf]),
    ("greater_equal", [np.nan, -0.0, np.inf], [np.nan, 0.0, np.inf]),
    ("logical_and", [np.nan, 0.0, -0.0, 1.0], [1.0, 1.0, 1.0, np.inf]),
    ("logical_xor", [np.nan, 0.0, -0.0], [0.0, np.nan, 0.0]),
]


@pytest.mark.parametrize("fdt", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("name,a,b", BINARY_SPECIALS, ids=[c[0] for c in BINARY_SPECIALS])
def test_binary_special_values(isa, name, a, b, fdt):
    with np.errstate(over="ignore"):
        x1 = np.array(a, dtype=np.float64).astype(fdt)
        x2 = np.array(b, dtype=np.float64).astype(fdt)
    got = ndpar.__dict__[name](x1, x2)
    exp = numpy_expected(name, x1, x2)
    exact, maxulp = tolerance(name, fdt)
    assert_same(got, exp, name, exact, maxulp, ctx=(isa, str(fdt)))
    exp = np.asarray(exp)
    if exp.dtype.kind == "f":
        special = np.isinf(exp) | np.isnan(exp) | (exp == 0)
        assert_same(got[special], exp[special], name, True, 0, ctx=(isa, "specials"))


# ---- integer edge cases --------------------------------------------------------------

@pytest.mark.parametrize("dt", INT_DTYPES, ids=str)
def test_integer_division_edges(isa, dt):
    ii = np.iinfo(dt)
    a = np.array([ii.min, ii.max, 7, 0, ii.min, 5, ii.max], dtype=dt)
    z = np.zeros_like(a)
    # division and modulo by zero are 0, like NumPy
    np.testing.assert_array_equal(ndpar.floor_divide(a, z), np.zeros_like(a))
    np.testing.assert_array_equal(ndpar.remainder(a, z), np.zeros_like(a))
    check_against_numpy("floor_divide", [a, z], ctx=(isa, "by zero"))
    check_against_numpy("remainder", [a, z], ctx=(isa, "by zero"))
    if ii.min < 0:
        m1 = np.full_like(a, -1)
        got = ndpar.floor_divide(a, m1)
        assert got[0] == ii.min  # MIN // -1 wraps to MIN
        check_against_numpy("floor_divide", [a, m1], ctx=(isa, "by -1"))
        check_against_numpy("remainder", [a, m1], ctx=(isa, "by -1"))
        # Python's floor semantics
        x = np.array([-7, 7, -7, 7, -1, 0], dtype=dt)
        y = np.array([2, -2, -2, 2, 3, -3], dtype=dt)
        np.testing.assert_array_equal(ndpar.floor_divide(x, y), [-4, -4, 3, 3, -1, 0])
        np.testing.assert_array_equal(ndpar.remainder(x, y), [1, -1, -1, 1, 2, 0])


@pytest.mark.parametrize("dt", INT_DTYPES + [np.dtype(bool)], ids=str)
def test_integer_power(isa, dt):
    dt = np.dtype(dt)
    base = test_values(dt, 50)
    zero = np.zeros_like(base)
    got = ndpar.power(base, zero)
    assert np.asarray(got).dtype == numpy_expected("power", base, zero).dtype
    assert (got == 1).all()  # x ** 0 == 1, 0 ** 0 included
    check_against_numpy("power", [base, zero])
    if dt == np.bool_:
        return
    ii = np.iinfo(dt)
    e = np.array([0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 100, ii.max], dtype=dt)
    for b in (0, 1, 2, 3, ii.max):
        check_against_numpy("power", [np.full_like(e, b), e], ctx=(isa, b))
    if ii.min < 0:
        for b in (-1, -2, ii.min):
            check_against_numpy("power", [np.full_like(e, b), e], ctx=(isa, b))
        # a negative integer exponent is an error, like NumPy
        with pytest.raises(ValueError, match="negative"):
            ndpar.power(np.array([2, 3], dtype=dt), np.array([1, -1], dtype=dt))
        with pytest.raises(ValueError):
            np.power(np.array([2, 3], dtype=dt), np.array([1, -1], dtype=dt))
        with pytest.raises(ValueError):
            ndpar.power(np.arange(10000, dtype=dt) % 5, np.array(-1, dtype=dt))
        with pytest.raises(ValueError):
            ndpar.power(np.array([2], dtype=dt), -1)


@pytest.mark.parametrize("dt", INT_DTYPES, ids=str)
def test_integer_wraparound(isa, dt):
    ii = np.iinfo(dt)
    a = np.array([ii.max, ii.min, ii.max, ii.min], dtype=dt)
    b = np.array([1, 1, ii.max, ii.min], dtype=dt)
    for name in ("add", "subtract", "multiply"):
        check_against_numpy(name, [a, b], ctx=(isa, name))
    for name in ("negative", "abs", "square", "sign"):
        check_against_numpy(name, [a], ctx=(isa, name))
    if ii.min < 0:
        assert ndpar.abs(np.array([ii.min], dtype=dt))[0] == ii.min
        assert ndpar.negative(np.array([ii.min], dtype=dt))[0] == ii.min


def test_int64_uint64_comparisons_exact(isa):
    big = np.array([2 ** 64 - 1, 2 ** 63, 2 ** 63 - 1, 0, 1, 2 ** 53 + 1], dtype=np.uint64)
    sgn = np.array([-1, -(2 ** 63), 2 ** 63 - 1, 0, 1, 2 ** 53], dtype=np.int64)
    a, b = (m.ravel() for m in np.meshgrid(big, sgn))
    for name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"):
        for x, y in ((a, b), (b, a)):
            got = getattr(ndpar, name)(x, y)
            exp = getattr(np, name)(x, y)
            assert_same(got, exp, name, ctx=(isa, str(x.dtype)))
            # and against Python's exact integers
            ref = [getattr(int, f"__{ {'equal': 'eq', 'not_equal': 'ne', 'less': 'lt', 'less_equal': 'le', 'greater': 'gt', 'greater_equal': 'ge'}[name]}__")(int(p), int(q))
                   for p, q in zip(x, y)]
            assert got.tolist() == ref, name
    # smaller signed ints against uint64 are exact too
    for dt in (np.int8, np.int16, np.int32):
        x = np.array([-1, 0, 1], dtype=dt)
        y = np.array([2 ** 64 - 1, 0, 2 ** 63], dtype=np.uint64)
        assert_same(ndpar.less(x, y), np.less(x, y), "less")
        assert ndpar.less(x, y).tolist() == [True, False, True]
        assert ndpar.equal(y, x).tolist() == [False, True, False]


def test_bool_refusals_like_numpy():
    t = np.array([True, False])
    with pytest.raises(TypeError):
        np.negative(t)
    with pytest.raises(TypeError, match="negative"):
        ndpar.negative(t)
    with pytest.raises(TypeError):
        np.subtract(t, t)
    with pytest.raises(TypeError, match="subtract"):
        ndpar.subtract(t, t)
    # one bool with a number is fine
    assert_same(ndpar.subtract(t, np.int8(1)), np.subtract(t, np.int8(1)), "subtract")
    with pytest.raises(TypeError):
        np.sign(t)
    with pytest.raises(TypeError):
        ndpar.sign(t)


# ---- Python scalars (NEP 50), NumPy scalars, lists, 0-d -------------------------------

def test_weak_python_scalars():
    u8 = np.arange(3, dtype=np.uint8)
    r = ndpar.add(u8, 3)
    assert r.dtype == np.uint8 and r.tolist() == [3, 4, 5]
    r = ndpar.add(3, u8)
    assert r.dtype == np.uint8
    with pytest.raises(OverflowError, match="300"):
        ndpar.add(u8, 300)
    with pytest.raises(OverflowError, match="-1"):
        ndpar.add(-1, u8)
    with pytest.raises(OverflowError):
        np.add(u8, 300)
    r = ndpar.add(np.arange(3, dtype=np.int16), 2.5)
    assert r.dtype == np.float64
    r = ndpar.add(np.arange(3, dtype=np.float32), 2.5)
    assert r.dtype == np.float32
    r = ndpar.multiply(np.arange(3, dtype=np.float32), 0.1)
    assert_same(r, np.multiply(np.arange(3, dtype=np.float32), 0.1), "multiply")
    r = ndpar.add(np.array([True, False]), 1)
    assert r.dtype == np.int64
    r = ndpar.add(np.arange(3, dtype=np.int8), True)
    assert r.dtype == np.int8
    # uint64 takes Python ints above int64's range
    r = ndpar.add(np.zeros(2, dtype=np.uint64), 2 ** 64 - 1)
    assert r.dtype == np.uint64 and r.tolist() == [2 ** 64 - 1] * 2
    with pytest.raises(OverflowError):
        ndpar.add(np.zeros(2, dtype=np.uint64), 2 ** 64)
    with pytest.raises(OverflowError):
        ndpar.add(np.zeros(2, dtype=np.int64), 2 ** 63)


SCALAR_CASES = [
    ("add", (np.arange(5, dtype=np.uint8), 3)),
    ("add", (3, np.arange(5, dtype=np.int8))),
    ("add", (np.arange(5, dtype=np.int8), -128)),
    ("add", (np.arange(5, dtype=np.uint16), 65535)),
    ("add", (np.arange(5, dtype=np.int32), 2.5)),
    ("add", (np.arange(5, dtype=np.float32), 2.5)),
    ("add", (np.arange(5, dtype=np.float32), 2 ** 70)),
    ("add", (np.arange(5, dtype=np.float32), 1e300)),
    ("add", (np.arange(5, dtype=np.float64), 10 ** 400)),
    ("add", (np.array([True, False]), 1)),
    ("add", (np.array([True, False]), 1.5)),
    ("add", (np.array([True, False]), True)),
    ("add", (np.arange(5, dtype=np.int8), True)),
    ("add", (1, 2)),
    ("add", (1, 2.0)),
    ("add", (True, 1)),
    ("add", (True, False)),
    ("add", (2.0, 3.0)),
    ("multiply", (np.arange(5, dtype=np.uint64), 2 ** 63)),
    ("subtract", (np.arange(5, dtype=np.uint8), 1)),
    ("subtract", (1, np.arange(5, dtype=np.uint8))),
    ("subtract", (np.array([True, False]), True)),
    ("divide", (np.arange(5, dtype=np.int8), 2)),
    ("divide", (np.arange(5, dtype=np.float32), 3)),
    ("divide", (7, 2)),
    ("floor_divide", (np.arange(-5, 5, dtype=np.int16), 3)),
    ("floor_divide", (np.arange(-5, 5, dtype=np.int16), -3.0)),
    ("remainder", (np.arange(-5, 5, dtype=np.int64), 3)),
    ("remainder", (-7.5, np.arange(1, 5, dtype=np.float32))),
    ("power", (np.arange(5, dtype=np.uint8), 2)),
    ("power", (2, np.arange(5, dtype=np.uint8))),
    ("power", (np.arange(5, dtype=np.float32), 0.5)),
    ("power", (np.arange(5, dtype=np.int32), 0.5)),
    ("power", (2.0, 10)),
    ("maximum", (np.arange(5, dtype=np.uint8), 2)),
    ("minimum", (np.arange(5, dtype=np.float32), np.nan)),
    ("fmin", (np.arange(5, dtype=np.float32), np.nan)),
    ("arctan2", (np.arange(5, dtype=np.int8), 1)),
    ("arctan2", (np.arange(5, dtype=np.float32), 1.0)),
    ("hypot", (3, 4)),
    ("equal", (np.arange(5, dtype=np.uint8), 3)),
    ("less", (np.arange(5, dtype=np.int64), 2.5)),
    ("less", (np.arange(5, dtype=np.uint64), 3)),
    ("logical_and", (np.arange(5, dtype=np.int8), 2)),
    ("logical_or", (np.arange(5, dtype=np.float32), 0.0)),
    ("logical_xor", (True, np.arange(3))),
    ("exp", (1,)),
    ("exp", (1.0,)),
    ("exp", (True,)),
    ("sqrt", (2,)),
    ("negative", (5,)),
    ("negative", (-2.5,)),
    ("abs", (-3,)),
    ("floor", (2.5,)),
    ("isnan", (1.0,)),
    ("sign", (-3,)),
    ("square", (2 ** 40,)),
    ("negative", (2 ** 62,)),
    ("add", (2 ** 62, -(2 ** 62))),
    # NumPy scalars are strong (their dtype counts)
    ("add", (np.arange(5, dtype=np.int8), np.float32(2))),
    ("add", (np.float32(2), np.arange(5, dtype=np.int8))),
    ("add", (np.arange(5, dtype=np.int8), np.float64(2))),
    ("add", (np.arange(5, dtype=np.uint8), np.int64(300))),
    ("add", (np.arange(5, dtype=np.float32), np.float64(2))),
    ("add", (np.int8(3), np.uint8(200))),
    ("add", (np.uint64(3), np.int64(2))),
    ("less", (np.uint64(3), np.int64(-2))),
    ("exp", (np.float32(2),)),
    ("exp", (np.int8(2),)),
    ("sqrt", (np.float64(2),)),
    ("negative", (np.uint8(3),)),
    ("multiply", (np.bool_(True), np.int16(3))),
    # lists and tuples are arrays (strong)
    ("add", ([1, 2, 3], [4, 5, 6])),
    ("add", (np.arange(3, dtype=np.uint8), [1, 2, 3])),
    ("add", ([1.5, 2.5], 1)),
    ("add", ((1, 2), 3.0)),
    ("multiply", ([[1, 2], [3, 4]], [10, 20])),
    ("exp", ([0.0, 1.0],)),
    ("exp", ([0, 1],)),
    ("negative", ([True, False],)),
    ("less", ([1, 2, 3], 2)),
    ("power", ([2, 3], [-1, 2])),
    # 0-d arrays
    ("add", (np.array(3, dtype=np.int8), np.array(4, dtype=np.int16))),
    ("add", (np.array(3.0, dtype=np.float32), np.arange(3, dtype=np.float32))),
    ("sin", (np.array(0.5),)),
    ("sin", (np.array(0.5, dtype=np.float32),)),
    ("negative", (np.array(7, dtype=np.uint16),)),
]


@pytest.mark.parametrize("name,args", SCALAR_CASES,
                         ids=[f"{i}-{c[0]}" for i, c in enumerate(SCALAR_CASES)])
def test_scalars_lists_0d(name, args):
    got = check_against_numpy(name, list(args), ctx=args)
    if got is not None and all(np.ndim(a) == 0 for a in args):
        # 0-d results come back as NumPy scalars, like NumPy's ufuncs
        assert isinstance(got, np.generic), type(got)


# Comparisons with out-of-range Python ints: NumPy 2 compares exactly
# (e.g. uint8 array < 300 is all True) instead of raising OverflowError.
CMP_OOB = [
    ("less", (np.arange(5, dtype=np.uint8), 300)),
    ("equal", (np.arange(5, dtype=np.uint8), -1)),
    ("greater", (-1, np.arange(5, dtype=np.uint16))),
    ("not_equal", (np.arange(5, dtype=np.int8), 1000)),
    ("less_equal", (np.arange(5, dtype=np.uint64), -1)),
    ("greater_equal", (np.arange(5, dtype=np.int64), 2 ** 63 - 1)),
    ("less", (np.arange(5, dtype=np.int64), -2 ** 63)),
]


def test_comparison_with_python_int_beyond_64_bits():
    # documented difference (docs/design.md): NumPy compares exactly, ndpar's
    # ufuncs raise (the dispatcher picks int64 before it sees the value)
    with pytest.raises(OverflowError):
        ndpar.greater_equal(np.arange(5, dtype=np.int64), 2 ** 64)


@pytest.mark.parametrize("name,args", CMP_OOB, ids=[c[0] for c in CMP_OOB])
def test_comparison_with_out_of_range_python_int(name, args):
    check_against_numpy(name, list(args), ctx=args)


# ---- float16 results (as NumPy: float32 results rounded to float16) --------------------

@pytest.mark.parametrize("dt", ["bool", "int8", "uint8"])
@pytest.mark.parametrize("name", ["exp", "sqrt", "sin", "log", "rint", "cbrt"])
def test_float16_results(name, dt):
    x = np.array([0, 1, 2, 3, 100, 127], dtype=np.int64).astype(dt)
    with np.errstate(all="ignore"):
        exp = getattr(np, name)(x)
    assert exp.dtype == np.float16
    got = getattr(ndpar, name)(x)
    assert got.dtype == np.float16
    exact, maxulp = tolerance(name, np.float16)
    assert_same(got, exp, name, exact, maxulp)


def test_float16_results_binary():
    a = np.arange(5, dtype=np.int8)
    b = np.arange(5, dtype=np.uint8)
    for name in ("arctan2", "hypot"):
        exp = getattr(np, name)(a, b)
        assert exp.dtype == np.float16
        got = getattr(ndpar, name)(a, b)
        assert_same(got, exp, name, *tolerance(name, np.float16))
    # true division of small ints is float64 in NumPy (not float16)
    assert ndpar.divide(a, b).dtype == np.float64


# ---- hypothesis: random arrays, dtypes and broadcast shapes ----------------------------

ALL_DT_STRAT = st.sampled_from(DTYPES)


def _arrays(dt, shape):
    dt = np.dtype(dt)
    if dt.kind == "f":
        elems = st.floats(width=dt.itemsize * 8, allow_nan=True, allow_infinity=True)
    else:
        elems = None
    return hnp.arrays(dt, shape, elements=elems)


@given(data=st.data(), name=st.sampled_from(BINARY), dt1=ALL_DT_STRAT, dt2=ALL_DT_STRAT,
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=5))
def test_hypothesis_binary(data, name, dt1, dt2, shapes):
    s1, s2 = shapes.input_shapes
    a = data.draw(_arrays(dt1, s1), label="x1")
    b = data.draw(_arrays(dt2, s2), label="x2")
    if name == "power":
        b = _fix_power(b)
    if name == "reciprocal":
        return
    # avoid out-of-range float->int casts: only arise with dtype=/out=, not here
    check_against_numpy(name, [a, b], ctx=(str(a.dtype), str(b.dtype), s1, s2))


@given(data=st.data(), name=st.sampled_from(UNARY), dt=ALL_DT_STRAT,
       shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
def test_hypothesis_unary(data, name, dt, shape):
    x = data.draw(_arrays(dt, shape), label="x")
    if name == "reciprocal" and x.dtype.kind in "iu":
        x = np.where(x == 0, 1, x).astype(x.dtype)
    check_against_numpy(name, [x], ctx=(str(x.dtype), shape))
