"""Tests of compiled expressions: ndpar.evaluate and ndpar.compile.

Every result is compared with NumPy computing the same thing (NumPy's
result dtype, NEP 50 weak Python scalars, integer // and % by zero giving
0, float division by zero giving inf / nan), with ndpar's documented
differences applied (float16 results are float32 results rounded;
transcendentals within ndpar.ulp_bound(name) plus NumPy's own error).

Parts:
  1. an operator / function matrix in the spirit of numexpr's test suite;
  2. reductions (sum prod min max mean any all; whole or axis=),
     including bit-identical results for any thread count;
  3. Hypothesis-generated expressions against a NumPy evaluation of the
     same tree (expr_cases.py);
  4. the interface: name lookup, out=, casting, ndpar.compile, errors,
     pathological inputs, memory layouts.
"""
from __future__ import annotations

import math
import operator
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ndpar
from ndpar_testutil import (
    BINARY, UNARY, assert_same, numpy_expected, special_floats,
    test_values, tolerance,
)
import expr_cases

EV = ndpar.evaluate
DTS = ["int32", "int64", "float32", "float64"]
FLOATS = ["float32", "float64"]
INTS = ["int32", "int64"]

ARITH = ["+", "-", "*", "/", "//", "%", "**"]
CMPS = ["==", "!=", "<", "<=", ">", ">="]
BITS = ["&", "|", "^"]
OPS = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": operator.pow,
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
    "&": operator.and_, "|": operator.or_, "^": operator.xor,
}
OP_NAMES = {
    "+": "add", "-": "subtract", "*": "multiply", "/": "divide", "//": "floor_divide",
    "%": "remainder", "**": "power", "==": "equal", "!=": "not_equal", "<": "less",
    "<=": "less_equal", ">": "greater", ">=": "greater_equal",
    "&": "bitwise_and", "|": "bitwise_or", "^": "bitwise_xor",
}


# ---- helpers --------------------------------------------------------------------------

def ev(ex, **kw):
    """ndpar.evaluate with exactly these variables (no frame lookup)."""
    return EV(ex, local_dict=kw, global_dict={})


def np_call(f, *args):
    """NumPy's result, or the exception it raises (no warnings)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return f(*args)
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as e:
            return e


def check(ex, exp, name="", env=None, exact=None, maxulp=None):
    """Evaluates ex with env and compares with exp (value or exception)."""
    env = env or {}
    ctx = f"{ex!r} " + ", ".join(f"{k}:{np.asarray(v).dtype}{list(np.shape(v))}"
                                  for k, v in env.items())
    if isinstance(exp, Exception):
        with pytest.raises(type(exp) if not isinstance(exp, TypeError) else TypeError):
            ev(ex, **env)
        return None
    got = ev(ex, **env)
    expa = np.asarray(exp)
    if exact is None:
        exact, maxulp = tolerance(name, expa.dtype) if name else (True, 0.0)
    assert_same(got, expa, name, exact, maxulp, ctx)
    return got


def pair_values(dt, n_random=300, seed=1):
    """Cartesian product of the special values of dt with themselves, then
    random pairs (as test_ufuncs does)."""
    s = test_values(dt, 0)
    a, b = (m.ravel() for m in np.meshgrid(s, s, indexing="ij"))
    ra = test_values(dt, n_random, seed)[len(s):]
    rb = test_values(dt, n_random, seed + 1)[len(s):]
    return np.concatenate([a, ra]), np.concatenate([b, rb])


def small_nonneg(x, mod=20):
    """Integer exponents: small and >= 0 (a negative one is an error)."""
    return (np.asarray(x) % mod).astype(np.asarray(x).dtype)


def op_name(op):
    return OP_NAMES[op]


# ======================================================================================
# 1. the operator / function matrix
# ======================================================================================

@pytest.mark.parametrize("dt", DTS + ["bool"])
@pytest.mark.parametrize("op", ARITH + CMPS + BITS)
def test_binary_operator_array_array(op, dt):
    a, b = pair_values(dt) if dt != "bool" else (
        np.array([False, False, True, True]), np.array([False, True, False, True]))
    if op == "**" and np.dtype(dt).kind in "iu":
        # NumPy raises for negative integer exponents: ndpar must too
        check(f"a {op} b", np_call(OPS[op], a, b), op_name(op), {"a": a, "b": b})
        b = small_nonneg(b)
    exp = np_call(OPS[op], a, b)
    check(f"a {op} b", exp, op_name(op), {"a": a, "b": b})


SCALARS_INT = [0, 3, -2, 1, 2.5, 0.0, -0.5]
SCALARS_FLOAT = [0.0, -0.0, 2.5, -1.5, 3, 0, -1, 1e300, float("inf"), float("nan")]


def _scalar_literal(s):
    r = repr(s)
    if r in ("inf", "nan"):
        return r
    if r == "-inf":
        return "(-inf)"
    return f"({r})" if r.startswith("-") else r


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("op", ARITH + CMPS + BITS)
def test_binary_operator_with_scalar(op, dt):
    """array op scalar and scalar op array; the scalar as a Python value in
    a variable and as a literal (both weak, NEP 50)."""
    a = test_values(dt, 200)
    scalars = SCALARS_INT if np.dtype(dt).kind in "iu" else SCALARS_FLOAT
    for s in scalars:
        for arr in ([a, small_nonneg(a)] if op == "**" and a.dtype.kind == "i" else [a]):
            lit = _scalar_literal(s)
            exp = np_call(OPS[op], arr, s)
            check(f"a {op} s", exp, op_name(op), {"a": arr, "s": s})
            check(f"a {op} {lit}", exp, op_name(op), {"a": arr})
            exp = np_call(OPS[op], s, arr)
            check(f"s {op} a", exp, op_name(op), {"a": arr, "s": s})
            check(f"{lit} {op} a", exp, op_name(op), {"a": arr})


@pytest.mark.parametrize("dt1,dt2", [
    ("int32", "float32"), ("int64", "float32"), ("int32", "int64"),
    ("float32", "float64"), ("int32", "float64"), ("int64", "float64"),
    ("bool", "int32"), ("bool", "float32"), ("int8", "uint8"), ("uint32", "int32"),
    ("uint64", "int64"), ("int16", "float32"),
])
@pytest.mark.parametrize("op", ARITH + CMPS)
def test_binary_operator_mixed_dtypes(op, dt1, dt2):
    rng = np.random.default_rng(7)
    a = test_values(dt1, 100, seed=3)
    b = test_values(dt2, 100, seed=4)
    n = min(len(a), len(b))
    a, b = rng.permutation(a)[:n], rng.permutation(b)[:n]
    if op == "**" and np.dtype(dt2).kind in "iub":
        b = small_nonneg(b.astype(np.int64), 8).astype(dt2)
    exp = np_call(OPS[op], a, b)
    check(f"a {op} b", exp, op_name(op), {"a": a, "b": b})


@pytest.mark.parametrize("dt", DTS)
def test_integer_division_by_zero_gives_zero(dt):
    a = test_values(dt, 100)
    z = np.zeros_like(a)
    for op in ("//", "%", "/"):
        exp = np_call(OPS[op], a, z)
        got = check(f"a {op} b", exp, op_name(op), {"a": a, "b": z})
        if np.dtype(dt).kind == "i" and op != "/":
            assert (got == 0).all()
        check(f"a {op} 0", exp, op_name(op), {"a": a})
    if np.dtype(dt).kind == "i":
        # INT_MIN // -1 and INT_MIN % -1 (overflow; NumPy wraps / gives 0)
        m = np.array([np.iinfo(dt).min] * 3, dtype=dt)
        for op in ("//", "%"):
            check(f"a {op} (-1)", np_call(OPS[op], m, -1), op_name(op), {"a": m})
            check(f"a {op} b", np_call(OPS[op], m, np.full(3, -1, dt)), op_name(op),
                  {"a": m, "b": np.full(3, -1, dt)})


@pytest.mark.parametrize("dt", DTS + ["bool", "int8", "uint16"])
def test_unary_minus_and_invert(dt):
    a = test_values(dt, 100)
    check("-a", np_call(operator.neg, a), "negative", {"a": a})
    check("-(-a)", np_call(lambda x: -(-x), a), "negative", {"a": a})
    check("~a", np_call(operator.invert, a), "", {"a": a})
    check("~~a", np_call(lambda x: ~~x, a), "", {"a": a})


def test_bitwise_on_bool_and_mixed():
    rng = np.random.default_rng(0)
    p, q = rng.integers(0, 2, 101).astype(bool), rng.integers(0, 2, 101).astype(bool)
    i = rng.integers(-1000, 1000, 101).astype(np.int32)
    for op in BITS:
        check(f"p {op} q", OPS[op](p, q), "", {"p": p, "q": q})
        check(f"p {op} i", OPS[op](p, i), "", {"p": p, "i": i})
        check(f"i {op} 6", OPS[op](i, 6), "", {"i": i})
        check(f"(i > 0) {op} p", OPS[op](i > 0, p), "", {"p": p, "i": i})
        check(f"i {op} True", OPS[op](i, True), "", {"i": i})
        check(f"p {op} True", OPS[op](p, True), "", {"p": p})
    check("~(p & q) | (i < 0)", ~(p & q) | (i < 0), "", {"p": p, "q": q, "i": i})


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("ex", ["a & b", "a | b", "a ^ b", "~a", "a & 1", "1 | a"])
def test_bitwise_on_float_is_type_error(ex, dt):
    a = np.ones(5, dt)
    with pytest.raises(TypeError):
        ev(ex, a=a, b=a)


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("name", UNARY)
def test_unary_function_by_name(name, dt):
    x = test_values(dt, 300)
    if name == "reciprocal" and np.dtype(dt).kind in "iu":
        x = x[x != 0]  # 1/0 for integers: out-of-range cast (unspecified)
    exp = numpy_expected(name, x)
    check(f"{name}(a)", exp, name, {"a": x})
    if np.asarray(exp).dtype.kind == "f" and np.dtype(dt).kind == "f":
        # nested in an expression (a temporary register, not the output)
        exp2 = np_call(lambda v: np.asarray(numpy_expected(name, v)) * 1, x)
        check(f"{name}(a) * 1", exp2, name, {"a": x})


@pytest.mark.parametrize("name", ["absolute", "true_divide", "mod", "pow", "abs"])
def test_function_aliases(name):
    a, b = pair_values("float64", 100)
    if name in ("absolute", "abs"):
        check(f"{name}(a)", np.abs(a), "abs", {"a": a})
    else:
        f = {"true_divide": np.divide, "mod": np.remainder, "pow": np.power}[name]
        check(f"{name}(a, b)", np_call(f, a, b), name, {"a": a, "b": b})


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("name", BINARY)
def test_binary_function_by_name(name, dt):
    a, b = pair_values(dt, 300)
    if name == "power" and np.dtype(dt).kind in "iu":
        check(f"{name}(a, b)", numpy_expected(name, a, b), name, {"a": a, "b": b})
        b = small_nonneg(b)
    check(f"{name}(a, b)", numpy_expected(name, a, b), name, {"a": a, "b": b})
    # with a weak scalar on either side
    for s in (2, 0.5) if np.dtype(dt).kind == "f" else (2, 0):
        check(f"{name}(a, {s!r})", numpy_expected(name, a, s), name, {"a": a})
        sa = small_nonneg(a) if name == "power" and np.dtype(dt).kind in "iu" else a
        check(f"{name}({s!r}, a)", numpy_expected(name, s, sa), name, {"a": sa})


@pytest.mark.parametrize("dt", ["bool", "int8", "uint8"])
@pytest.mark.parametrize("name", ["exp", "sqrt", "sin", "log1p", "arctan2", "hypot"])
def test_float16_results(name, dt):
    """Where NumPy's result is float16, so is ndpar's (float32 rounded)."""
    x = test_values(dt, 100)
    if name in ("arctan2", "hypot"):
        exp = numpy_expected(name, x, x[::-1].copy())
        got = check(f"{name}(a, b)", exp, name, {"a": x, "b": x[::-1].copy()})
    else:
        exp = numpy_expected(name, x)
        got = check(f"{name}(a)", exp, name, {"a": x})
    assert got.dtype == np.float16


POWER_CASES = ["a**2", "a**0.5", "a**-1", "a**3", "2**a", "a**0", "a**1", "a**-2",
               "a**1.5", "a**-0.5", "0.5**a", "(-2)**a", "a**a", "-a**2", "2**-a"]


def _np_power_case(ex, a):
    # the same expression with Python semantics of precedence, on NumPy arrays
    return np_call(lambda v: eval(ex, {"__builtins__": {}}, {"a": v}), a)  # noqa: S307


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("ex", POWER_CASES)
def test_integer_and_fractional_powers(ex, dt):
    a = test_values(dt, 200)
    # NumPy's exception for negative integer exponents is mirrored
    check(ex, _np_power_case(ex, a), "power", {"a": a})
    if np.dtype(dt).kind in "iu":
        a = small_nonneg(a, 40)
        check(ex, _np_power_case(ex, a), "power", {"a": a})


def test_power_special_values_exact():
    """Exact cases of pow that NumPy computes exactly."""
    a = special_floats("float64")
    with np.errstate(all="ignore"):
        for ex, f in [("a**2", np.square), ("a**0", np.ones_like), ("a**0.5", np.sqrt),
                      ("a**-1", np.reciprocal)]:
            assert_same(ev(ex, a=a), f(a), "power", True, 0.0, ex)
    # x**1 is x in NumPy (fast path); in ndpar a pow within its ULP bound
    # (at DBL_MAX, inf: "one ULP past" the largest finite value)
    assert_same(ev("a**1", a=a), a.copy(), "power", *tolerance("power", "float64"), "a**1")


BCAST = ["a + b", "a - b", "a * b", "a / b", "a // b", "a % b", "a < b", "a >= b",
         "where(a > b, a, b)", "arctan2(a, b)", "exp(a) - b", "minimum(a, b) * 2",
         "a * b + a", "where(a > 0, b, 0)"]


def _np_expr(ex, **env):
    """A few fixed expressions evaluated by NumPy (no ndpar involved)."""
    ns = {"where": np.where, "exp": np.exp, "log1p": np.log1p, "arctan2": np.arctan2,
          "minimum": np.minimum, "maximum": np.maximum, "sqrt": np.sqrt, "sin": np.sin,
          "abs": np.abs, "log": np.log, "cos": np.cos, "tanh": np.tanh,
          "__builtins__": {}}
    ns.update(env)
    return np_call(lambda: eval(ex, ns))  # noqa: S307


@pytest.mark.parametrize("dt", DTS)
@pytest.mark.parametrize("ex", BCAST)
def test_broadcasting_2d(ex, dt):
    rng = np.random.default_rng(5)
    raw = test_values(dt, 40)
    a = rng.permutation(raw)[:3].reshape(3, 1)
    b = rng.permutation(raw)[:4]
    a[0, 0] = 0 if np.dtype(dt).kind in "iu" else a[0, 0]
    b[1] = 0
    name = "arctan2" if "arctan2" in ex else "exp" if "exp" in ex else ""
    exact, maxulp = (tolerance(name, "float64") if name else (True, 0.0))
    if name and np.dtype(dt) == np.float32:
        exact, maxulp = tolerance(name, dt)
    exp = _np_expr(ex, a=a, b=b)
    check(ex, exp, name, {"a": a, "b": b}, exact, maxulp)
    # (3,1) with (4,) the other way round, and 3-D with 2-D
    check(ex, _np_expr(ex, a=b, b=a), name, {"a": b, "b": a}, exact, maxulp)
    a3 = rng.permutation(test_values(dt, 60))[:2 * 3 * 1].reshape(2, 3, 1)
    b2 = rng.permutation(test_values(dt, 60))[:1 * 5].reshape(1, 5)
    check(ex, _np_expr(ex, a=a3, b=b2), name, {"a": a3, "b": b2}, exact, maxulp)
    # 0-d arrays broadcast like NumPy's
    z = np.asarray(raw[3])
    check(ex, _np_expr(ex, a=z, b=b), name, {"a": z, "b": b}, exact, maxulp)


def test_broadcast_mismatch_is_value_error():
    with pytest.raises(ValueError):
        ev("a + b", a=np.ones(3), b=np.ones(4))
    with pytest.raises(ValueError):
        ev("a + b", a=np.ones((2, 3)), b=np.ones((3, 2)))


@pytest.mark.parametrize("dt", DTS)
def test_where(dt):
    rng = np.random.default_rng(11)
    a = rng.permutation(test_values(dt, 150))
    b = rng.permutation(test_values(dt, 150))
    c = rng.integers(0, 2, len(a)).astype(bool)
    env = {"a": a, "b": b, "c": c}
    cases = [
        ("where(c, a, b)", lambda: np.where(c, a, b)),
        ("where(a > b, a, b)", lambda: np.where(a > b, a, b)),
        ("where(a > 0, a, 0)", lambda: np.where(a > 0, a, 0)),
        ("where(a > 0, 0, a)", lambda: np.where(a > 0, 0, a)),
        ("where(a > 0, 1.5, b)", lambda: np.where(a > 0, 1.5, b)),
        ("where(c, 1, 2)", lambda: np.where(c, 1, 2)),
        ("where(c, 1.5, 2)", lambda: np.where(c, 1.5, 2)),
        ("where(c, True, False)", lambda: np.where(c, True, False)),
        ("where(a != a, -1, a)", lambda: np.where(a != a, -1, a)),
        ("where(c, a, where(a < b, b, 7))", lambda: np.where(c, a, np.where(a < b, b, 7))),
        ("where((a > 0) & c, a * 2, b - 1)", lambda: np.where((a > 0) & c, a * 2, b - 1)),
        ("where(a, b, 0)", lambda: np.where(a, b, 0)),
        ("where(c, a, 2.5)", lambda: np.where(c, a, 2.5)),
    ]
    for ex, f in cases:
        check(ex, np_call(f), "", env)


def test_where_mixed_branch_dtypes():
    rng = np.random.default_rng(2)
    c = rng.integers(0, 2, 50).astype(bool)
    for d1, d2 in [("int32", "float32"), ("int64", "float32"), ("int8", "uint8"),
                   ("float32", "float64"), ("bool", "int16")]:
        a = test_values(d1, 50)[:50]
        b = test_values(d2, 50)[:50]
        check("where(c, a, b)", np.where(c, a, b), "", {"a": a, "b": b, "c": c})


def test_where_of_python_scalars_is_a_strong_array():
    """np.where(c, 1, -1) is an int64 array (where() does not keep Python
    scalars weak), so it promotes like one: times float32 is float64, plus
    int8 is int64 (no int8 wraparound)."""
    f32 = np.linspace(0, 1, 5, dtype=np.float32)
    i8 = np.array([100, 100, -100, 120, 0], dtype=np.int8)
    c = np.array([True, False, True, True, False])
    env = {"a": f32, "i": i8, "c": c}
    for ex, f in [
        ("where(c, 1, -1) * a", lambda: np.where(c, 1, -1) * f32),
        ("where(c, 1.5, 2) * a", lambda: np.where(c, 1.5, 2) * f32),
        ("where(c, 100, 0) + i", lambda: np.where(c, 100, 0) + i8),
        ("t = where(c, 2, 3); t * a", lambda: np.where(c, 2, 3) * f32),
        ("where(True, 1.5, 2) * a", lambda: np.where(True, 1.5, 2) * f32),
        ("where(True, 100, 0) + i", lambda: np.where(True, 100, 0) + i8),
    ]:
        check(ex, np_call(f), "", env)


def test_functions_of_python_scalars_are_strong():
    # np.exp(2.5) is a float64 scalar (strong): exp(2.5) * float32 is float64
    f32 = np.linspace(0, 1, 5, dtype=np.float32)
    i8 = np.arange(5, dtype=np.int8)
    for ex, f, v in [
        ("exp(2.5) * a", lambda: np.exp(2.5) * f32, f32),
        ("exp(s) * a", lambda: np.exp(2.5) * f32, f32),
        ("sqrt(2) * a", lambda: np.sqrt(2) * f32, f32),
        ("abs(-2) * a", lambda: np.abs(-2) * i8, i8),
        ("maximum(1, 2) * a", lambda: np.maximum(1, 2) * f32, f32),
        ("(2.5 * 3) * a", lambda: (2.5 * 3) * f32, f32),  # Python arithmetic: weak
        ("(s > 1) * a", lambda: (2.5 > 1) * f32, f32),
    ]:
        check(ex, np_call(f), "exp" if "exp" in ex else "", {"a": v, "s": 2.5})


@pytest.mark.parametrize("dt", DTS)
def test_temporaries(dt):
    a = test_values(dt, 300)
    b = test_values(dt, 300, seed=9)
    ex = "t = a*2; u = where(t > 1, exp(t), log1p(t)); u - b"

    def ref():
        t = a * 2
        u = np.where(t > 1, np.exp(t), np.log1p(t))
        return u - b
    exp = np_call(ref)
    rt = np.asarray(exp).dtype
    exact, maxulp = tolerance("exp", rt)
    # the subtraction may turn a few ULPs of u into more ULPs of u - b:
    # compare u itself (in ULPs) and u - b (absolute, scaled by |u|)
    check("t = a*2; u = where(t > 1, exp(t), log1p(t)); u", np_call(
        lambda: np.where(a * 2 > 1, np.exp(a * 2), np.log1p(a * 2))), "exp", {"a": a})
    got = ev(ex, a=a, b=b)
    assert got.dtype == rt
    u = np_call(lambda: np.where(a * 2 > 1, np.exp(a * 2), np.log1p(a * 2)))
    with np.errstate(all="ignore"):
        tol = (maxulp + 1) * np.abs(np.spacing(u.astype(rt))).astype(np.float64) \
            + np.abs(np.spacing(np.asarray(exp, dtype=rt))).astype(np.float64)
        diff = np.abs(got.astype(np.float64) - exp.astype(np.float64))
    same_nan = np.isnan(got) == np.isnan(exp)
    fin = np.isfinite(exp)
    assert same_nan.all(), (ex, dt, got[~same_nan][:5], exp[~same_nan][:5])
    assert (got[~fin & ~np.isnan(exp)] == exp[~fin & ~np.isnan(exp)]).all()
    bad = fin & ~(diff <= tol)
    assert not bad.any(), (ex, dt, got[bad][:5], exp[bad][:5])
    # newline-separated statements, temporaries reused and CSE'd
    ex2 = "t = a + b\nu = t * t\nv = exp(a) + exp(a)\nu - t + v * 0"
    exp2 = np_call(lambda: (a + b) * (a + b) - (a + b) + (np.exp(a) + np.exp(a)) * 0)
    check(ex2, exp2, "exp", {"a": a, "b": b})


@pytest.mark.parametrize("dt", DTS)
def test_constants(dt):
    a = test_values(dt, 200)
    cases = [
        ("a * pi", lambda: a * math.pi, "multiply"),
        ("a + e", lambda: a + math.e, "add"),
        ("pi * e + a", lambda: math.pi * math.e + a, "add"),
        ("where(a > 0, a, nan)", lambda: np.where(a > 0, a, math.nan), ""),
        ("a < inf", lambda: a < math.inf, ""),
        ("a > -inf", lambda: a > -math.inf, ""),
        ("a + inf", lambda: a + math.inf, ""),
        ("a * nan", lambda: a * math.nan, ""),
        ("a + True", lambda: a + True, ""),
        ("a * False", lambda: a * False, ""),
        ("where(True, a, 0)", lambda: np.where(True, a, 0), ""),
        ("(a > 0) == True", lambda: (a > 0) == True, ""),  # noqa: E712
        ("(a > 0) | False", lambda: (a > 0) | False, ""),
        ("sin(pi * a)", lambda: np.sin(math.pi * a), "sin"),
    ]
    for ex, f, name in cases:
        check(ex, np_call(f), name, {"a": a})


def test_constant_only_expressions():
    for ex, exp in [("pi", math.pi), ("e", math.e), ("True", True), ("False", False),
                    ("1 + 2", 3), ("2.5 * 2", 5.0), ("7 // 2", 3), ("-7 // 2", -4),
                    ("-7 % 3", 2), ("7 % -3", -2), ("2 ** 10", 1024), ("2 ** 0.5", 2 ** 0.5),
                    ("1 / 4", 0.25), ("3 < 4", True), ("inf", math.inf)]:
        got = ev(ex)
        assert got == exp, (ex, got, exp)
        assert np.asarray(got).shape == ()
    assert math.isnan(ev("nan"))
    assert np.asarray(ev("1 + 2")).dtype == np.int64
    assert np.asarray(ev("1 + 2.0")).dtype == np.float64
    assert np.asarray(ev("True")).dtype == np.bool_


def test_comparisons_do_not_chain():
    a = np.arange(5.0)
    with pytest.raises(SyntaxError):
        ev("0 < a < 3", a=a)
    assert_same(ev("(0 < a) & (a < 3)", a=a), (0 < a) & (a < 3))


def test_operator_precedence():
    a = np.arange(-5, 6).astype(np.float64)
    b = np.linspace(-2, 2, 11)
    for ex in ["a + b * 2", "(a + b) * 2", "-a ** 2", "a ** b ** 2 * 0 + a", "a - b - 1",
               "a / b / 2", "a * b % 3", "a // 2 * 2", "a + b > 1", "2 ** -a",
               "-a * -b", "a - -b", "--a"]:
        exp = np_call(lambda: eval(ex, {"__builtins__": {}}, {"a": a, "b": b}))  # noqa: S307
        check(ex, exp, "power" if "**" in ex else "", {"a": a, "b": b})
    # & | ^ bind tighter than comparisons in Python / numexpr
    p = np.array([1, 2, 3, 4])
    check("p & 1 == 1", (p & 1) == 1, "", {"p": p})
    check("p | 2 > 2", (p | 2) > 2, "", {"p": p})


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_nep50_numpy_scalars_are_strong(dt):
    a = test_values(dt, 50)
    for s in (np.float64(2.5), np.int64(3), np.float32(0.5), np.int8(2)):
        exp = np_call(lambda: a * s)
        check("a * s", exp, "", {"a": a, "s": s})
        exp = np_call(lambda: s - a)
        check("s - a", exp, "", {"a": a, "s": s})


def test_python_int_out_of_range_is_overflow_error():
    # NumPy: OverflowError ("Python integer 300 out of bounds for int8"),
    # as ndpar.add does
    a = np.arange(3, dtype=np.int8)
    with pytest.raises(OverflowError):
        a + 300
    with pytest.raises(OverflowError):
        ndpar.add(a, 300)
    with pytest.raises(OverflowError):
        ev("a + 300", a=a)
    with pytest.raises(OverflowError):
        ev("a + s", a=a, s=300)


def test_comparison_with_out_of_range_python_int():
    # NumPy 2 (NEP 50) allows comparing with any Python int: int8 > -200 is
    # True everywhere, uint8 < -1 False, int8 == 1000 False
    i8 = np.arange(-3, 4, dtype=np.int8)
    u8 = np.arange(7, dtype=np.uint8)
    for ex, v in [("a > -200", i8), ("a == 1000", i8), ("a < -1", u8), ("a != 300", u8),
                  ("prod(a > -200)", i8)]:
        exp = _np_expr(ex.replace("prod(", "np_prod("), a=v, np_prod=np.prod)
        assert not isinstance(exp, Exception)
        check(ex, exp, "", {"a": v})


def test_python_int_beyond_int64():
    # a Python int that does not fit int64 is refused cleanly (documented in
    # _expr.c: weak ints are stored as int64)
    with pytest.raises(OverflowError):
        ev("a + s", a=np.arange(3.0), s=2 ** 70)


def test_functions_under_every_isa():
    from ndpar_testutil import ISAS
    orig = ndpar.get_isa()
    try:
        for i in ISAS:
            ndpar.set_isa(i)
            for dt in FLOATS:
                a = test_values(dt, 100)
                for name in ("exp", "log1p", "sin", "tanh", "sqrt"):
                    ex = f"where(a > 0, {name}(a), a * 2)"
                    exp = np_call(lambda: np.where(a > 0, getattr(np, name)(a), a * 2))
                    check(ex, exp, name, {"a": a})
                b = test_values(dt, 100, seed=3)
                check("a ** b", np_call(np.power, a, b), "power", {"a": a, "b": b})
    finally:
        ndpar.set_isa(orig)


# ======================================================================================
# 2. reductions
# ======================================================================================

RED = ["sum", "prod", "min", "max", "mean", "any", "all"]
RED_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint32", "uint64",
              "float32", "float64"]


def _red_input(dt, shape, rng, red):
    dt = np.dtype(dt)
    n = int(np.prod(shape))
    if dt == np.bool_:
        v = rng.random(n) < (0.97 if red == "all" else 0.03)
    elif dt.kind in "iu":
        lo = 0 if dt.kind == "u" else -100
        if red == "prod":
            v = rng.integers(max(lo, -3), 4, n)
        else:
            v = rng.integers(lo, 100, n)
        if red in ("min", "max", "sum"):
            ii = np.iinfo(dt)
            v = v.astype(object)
            v[::17] = ii.max
            v[5::23] = ii.min
        v = np.asarray(v).astype(dt)
    else:
        if red == "prod":
            v = rng.uniform(0.95, 1.05, n)
        else:
            v = rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n)
        v = v.astype(dt)
    return v.reshape(shape)


def _red_expected(red, x, axis):
    return np_call(lambda: getattr(np, red)(x, axis=axis))


def _check_reduction(ex, red, x, axis, exp):
    got = ev(ex, a=x)
    expa = np.asarray(exp)
    assert np.asarray(got).dtype == expa.dtype, (ex, x.dtype, np.asarray(got).dtype, expa.dtype)
    assert np.shape(got) == expa.shape, (ex, np.shape(got), expa.shape)
    if axis is None:
        assert np.ndim(got) == 0
    if expa.dtype.kind != "f" or red in ("min", "max"):
        np.testing.assert_array_equal(got, expa, err_msg=f"{ex} {x.dtype} {x.shape}")
        return
    # float sum / prod / mean: relative to the sum of magnitudes (the
    # summation order is not NumPy's pairwise order)
    eps = float(np.finfo(expa.dtype).eps)
    n = x.size if axis is None else x.shape[axis]
    xf = x.astype(np.float64)
    if red == "prod":
        scale = np.abs(np.prod(xf, axis=axis))
        tol = 4 * n * eps * scale
    else:
        scale = np.sum(np.abs(xf), axis=axis)
        if red == "mean":
            scale = scale / n
        tol = (16 if expa.dtype == np.float32 else 4) * eps * scale * max(1, math.log2(n))
    diff = np.abs(np.asarray(got, np.float64) - expa.astype(np.float64))
    assert (diff <= tol + 1e-300).all(), (ex, x.dtype, np.max(diff / (scale + 1e-300)))


@pytest.mark.parametrize("dt", RED_DTYPES)
@pytest.mark.parametrize("red", RED)
def test_reductions_2d_3d(red, dt):
    rng = np.random.default_rng(hash((red, dt)) % 2 ** 32)
    for shape in [(37, 53), (5, 7, 11), (1, 64), (300,)]:
        x = _red_input(dt, shape, rng, red)
        axes = [None] + list(range(len(shape))) + [-1]
        for axis in axes:
            ex = f"{red}(a)" if axis is None else f"{red}(a, axis={axis})"
            exp = _red_expected(red, x, axis)
            if isinstance(exp, Exception):
                with pytest.raises(type(exp)):
                    ev(ex, a=x)
                continue
            _check_reduction(ex, red, x, axis, exp)
        if len(shape) > 1:
            # positional axis
            _check_reduction(f"{red}(a, 1)", red, x, 1, _red_expected(red, x, 1))


@pytest.mark.parametrize("dt", ["int8", "uint8", "int16", "bool", "int32", "uint32"])
def test_reduction_dtypes_like_numpy(dt):
    x = _red_input(dt, (10, 12), np.random.default_rng(0), "sum")
    for red in RED:
        for axis in (None, 0):
            got = ev(f"{red}(a)" if axis is None else f"{red}(a, axis=0)", a=x)
            exp = getattr(np, red)(x, axis=axis)
            assert np.asarray(got).dtype == np.asarray(exp).dtype, (red, dt, axis)


def test_reduction_of_expressions():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((40, 30))
    b = rng.standard_normal((40, 30))
    i8 = rng.integers(-128, 128, (40, 30)).astype(np.int8)
    env = {"a": a, "b": b, "i": i8}
    cases = [
        ("sum(a * b)", lambda: np.sum(a * b)),
        ("mean(a + 1, axis=1)", lambda: np.mean(a + 1, axis=1)),
        ("max(where(a > 0, a, -a), axis=0)", lambda: np.max(np.abs(a), axis=0)),
        ("min(exp(a) - b)", lambda: np.min(np.exp(a) - b)),
        ("any(a > 3)", lambda: np.any(a > 3)),
        ("all(a == a)", lambda: np.all(a == a)),
        ("sum(a > 0)", lambda: np.sum(a > 0)),
        ("sum(a > 0, axis=1)", lambda: np.sum(a > 0, axis=1)),
        ("sum(i * 2)", lambda: np.sum(i8 * 2)),  # wraps in int8, then sums in int64
        ("sum(i * 2, axis=0)", lambda: np.sum(i8 * 2, axis=0)),
        ("t = a - b; sum(t * t, axis=1)", lambda: np.sum((a - b) ** 2, axis=1)),
        ("mean(i)", lambda: np.mean(i8)),
        ("mean(i, axis=1)", lambda: np.mean(i8, axis=1)),
    ]
    for ex, f in cases:
        exp = f()
        got = ev(ex, **env)
        assert np.asarray(got).dtype == np.asarray(exp).dtype, (ex, np.asarray(got).dtype)
        if np.asarray(exp).dtype.kind == "f":
            np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-12, err_msg=ex)
        else:
            np.testing.assert_array_equal(got, exp, err_msg=ex)


def test_reduction_special_values():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0], [-np.inf, 0.0, np.inf]])
    for red in RED:
        for axis in (None, 0, 1):
            ex = f"{red}(a)" if axis is None else f"{red}(a, axis={axis})"
            exp = np_call(lambda: getattr(np, red)(x, axis=axis))
            got = ev(ex, a=x)
            np.testing.assert_array_equal(got, exp, err_msg=ex)
    # -0.0 and +0.0: sum of -0.0 is -0.0 in NumPy
    z = np.array([-0.0, -0.0, -0.0])
    assert np.signbit(ev("sum(a)", a=z)) == np.signbit(np.sum(z))


def test_reduction_empty_and_errors():
    e = np.zeros((0, 3))
    assert ev("sum(a)", a=e) == 0.0
    assert ev("prod(a)", a=e) == 1.0
    assert ev("any(a)", a=e) == np.False_
    assert ev("all(a)", a=e) == np.True_
    np.testing.assert_array_equal(ev("sum(a, axis=0)", a=e), np.sum(e, axis=0))
    assert ev("sum(a, axis=1)", a=e).shape == (0,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(ev("mean(a)", a=e)) and math.isnan(np.mean(e))
    for red in ("min", "max"):
        with pytest.raises(ValueError):
            ev(f"{red}(a)", a=e)
        with pytest.raises(ValueError):
            np.min(e)
    with pytest.raises(ValueError):
        ev("sum(a, axis=2)", a=np.ones((2, 3)))
    with pytest.raises(ValueError):
        ev("sum(a, axis=-3)", a=np.ones((2, 3)))
    with pytest.raises(SyntaxError):
        ev("sum(a) + 1", a=np.ones(3))
    with pytest.raises(SyntaxError):
        ev("exp(sum(a))", a=np.ones(3))
    with pytest.raises(SyntaxError):
        ev("sum(a, axis=b)", a=np.ones(3), b=0)


@pytest.mark.parametrize("ex", [
    "sum(a)", "sum(a * b + 1)", "mean(a)", "prod(1 + a * 1e-7)", "min(a)", "max(a - b)",
    "sum(a, axis=0)", "sum(a, axis=1)", "mean(a * b, axis=0)", "mean(a, axis=1)",
    "prod(1 + a * 1e-6, axis=1)", "sum(a > 0)",
])
@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_reductions_bit_identical_for_any_thread_count(ex, dt):
    rng = np.random.default_rng(17)
    shape = (1000, 1000) if "axis" in ex else (1_000_003,)
    a = (rng.standard_normal(shape) * 10.0 ** rng.uniform(-2, 2, shape)).astype(dt)
    b = rng.standard_normal(shape).astype(dt)
    results = []
    for n in (1, 2, 3):
        with ndpar.threads(n):
            r = np.asarray(ev(ex, a=a, b=b))
        results.append(r)
    for n, r in zip((2, 3), results[1:]):
        assert r.dtype == results[0].dtype
        assert r.tobytes() == results[0].tobytes(), (ex, dt, n)
    # and close to NumPy
    exp = _np_expr(ex.replace("sum(", "np_sum(").replace("mean(", "np_mean(")
                   .replace("prod(", "np_prod(").replace("min(", "np_min(")
                   .replace("max(", "np_max("), a=a, b=b, np_sum=np.sum, np_mean=np.mean,
                   np_prod=np.prod, np_min=np.min, np_max=np.max)
    assert results[0].dtype == np.asarray(exp).dtype
    rtol = 1e-11 if dt == "float64" else 2e-3
    np.testing.assert_allclose(results[0], exp, rtol=rtol,
                               atol=rtol * float(np.abs(a).sum() / a.size) * 20, err_msg=ex)


# ======================================================================================
# 3. Hypothesis: random expressions against NumPy evaluating the same tree
# ======================================================================================

def _elements(dt):
    dt = np.dtype(dt)
    if dt.kind == "f":
        w = 8 * dt.itemsize
        return st.one_of(
            st.floats(-1e6, 1e6, width=w),
            st.floats(-3.0, 3.0, width=w),
            st.sampled_from([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 0.5]),
            st.floats(width=w, allow_nan=True, allow_infinity=True),
        )
    ii = np.iinfo(dt)
    return st.one_of(st.integers(-20, 20), st.integers(-1000, 1000),
                     st.sampled_from([int(ii.min), int(ii.max), 0, -1]))


HYP_DTS = ["float64", "float32", "int32", "int64"]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), tree=expr_cases.trees(), dt=st.sampled_from(HYP_DTS),
       shapes=st.one_of(
           st.integers(1, 24).map(lambda n: [(n,)] * 3),
           hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=5).map(
               lambda s: s.input_shapes)))
def test_hypothesis_random_expressions(data, tree, dt, shapes):
    env = {k: data.draw(hnp.arrays(dt, shp, elements=_elements(dt)), label=k)
           for k, shp in zip("abc", shapes)}
    ex = expr_cases.text(tree)
    exp, err = expr_cases.reference(tree, env)
    exp = np.asarray(exp)
    if exp.dtype == np.float16:  # cannot happen with these dtypes
        return
    got = ev(ex, **env)
    expr_cases.compare(got, exp, err, f"{ex} with {dt}")


# ======================================================================================
# 4. the interface
# ======================================================================================

GLOBAL_X = np.arange(4.0)
shadowed = np.full(4, 100.0)


def test_lookup_order():
    shadowed = np.full(4, 1.0)  # noqa: F811 (local shadows the global)
    y = np.full(4, 2.0)
    # caller's locals, then caller's globals
    np.testing.assert_array_equal(EV("shadowed + y"), np.full(4, 3.0))
    np.testing.assert_array_equal(EV("GLOBAL_X + y"), GLOBAL_X + 2)
    # kwargs beat local_dict beat global_dict
    ld = {"shadowed": np.full(4, 10.0), "y": np.full(4, 20.0)}
    gd = {"shadowed": np.full(4, 1000.0), "y": np.full(4, 2000.0), "z": np.full(4, 5.0)}
    np.testing.assert_array_equal(EV("shadowed + y", local_dict=ld, global_dict=gd),
                                  np.full(4, 30.0))
    np.testing.assert_array_equal(EV("shadowed + z", local_dict=ld, global_dict=gd),
                                  np.full(4, 15.0))
    np.testing.assert_array_equal(EV("shadowed + y", local_dict=ld, global_dict=gd,
                                     y=np.full(4, 0.5)), np.full(4, 10.5))
    # local_dict given, global_dict not: the caller's globals
    np.testing.assert_array_equal(EV("shadowed + GLOBAL_X", local_dict={}),
                                  np.full(4, 100.0) + GLOBAL_X)
    # global_dict given, local_dict not: the caller's locals
    np.testing.assert_array_equal(EV("shadowed + z", global_dict=gd), np.full(4, 6.0))
    # the caller is the frame that calls evaluate, not the module
    def inner():
        shadowed = np.full(4, 7.0)  # noqa: F841
        return EV("shadowed * 2")
    np.testing.assert_array_equal(inner(), np.full(4, 14.0))
    # unknown names
    with pytest.raises(NameError, match="nosuchname"):
        EV("y + nosuchname")
    with pytest.raises(NameError):
        EV("y + GLOBAL_X", global_dict={})
    del y


def test_calls_are_functions_and_user_names_win_over_constants():
    # a variable called like a function is not called; a variable named
    # like a constant is the variable (numexpr's behaviour), else the constant
    exp = np.exp(np.arange(3.0))
    np.testing.assert_array_equal(ev("exp(a)", a=np.arange(3.0), exp=123), exp)
    assert ev("pi", pi=3) == 3
    assert ev("pi", local_dict={}, global_dict={}) == math.pi


def test_out_argument():
    a = np.arange(12.0).reshape(3, 4)
    out = np.empty((3, 4))
    r = ev_out("a * 2 + 1", out, a=a)
    assert r is out
    np.testing.assert_array_equal(out, a * 2 + 1)
    # wrong shape
    with pytest.raises(ValueError):
        ev_out("a * 2", np.empty((4, 3)), a=a)
    with pytest.raises(ValueError):
        ev_out("a * 2", np.empty(12), a=a)
    # broadcasting result into out of the right shape
    r = ev_out("a + b", np.empty((3, 4)), a=np.ones((3, 1)), b=np.arange(4.0))
    np.testing.assert_array_equal(r, np.ones((3, 1)) + np.arange(4.0))
    # reductions into out
    o = np.empty(4)
    assert ev_out("sum(a, axis=0)", o, a=a) is o
    np.testing.assert_array_equal(o, a.sum(axis=0))
    # non-contiguous out
    big = np.zeros((3, 8))
    view = big[:, ::2]
    assert ev_out("a - 1", view, a=a) is view
    np.testing.assert_array_equal(big[:, ::2], a - 1)
    assert (big[:, 1::2] == 0).all()
    # read-only out, non-array out
    ro = np.empty((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        ev_out("a * 2", ro, a=a)
    with pytest.raises(TypeError):
        ev_out("a * 2", [0.0] * 12, a=a)


def ev_out(ex, out, casting="same_kind", **kw):
    return EV(ex, local_dict=kw, global_dict={}, out=out, casting=casting)


def test_casting():
    a = np.arange(6.0) + 0.75
    i = np.arange(6, dtype=np.int32)
    # same_kind (default): float64 -> float32 fine, float -> int refused
    o32 = np.empty(6, np.float32)
    ev_out("a * 2", o32, a=a)
    np.testing.assert_array_equal(o32, (a * 2).astype(np.float32))
    with pytest.raises(TypeError):
        ev_out("a * 2", np.empty(6, np.int32), a=a)
    # unsafe: casts like astype
    oi = np.empty(6, np.int32)
    ev_out("a * 2", oi, casting="unsafe", a=a)
    np.testing.assert_array_equal(oi, (a * 2).astype(np.int32))
    # safe / no
    with pytest.raises(TypeError):
        ev_out("a * 2", np.empty(6, np.float32), casting="safe", a=a)
    with pytest.raises(TypeError):
        ev_out("a * 2", np.empty(6, np.float32), casting="no", a=a)
    o = np.empty(6)
    ev_out("i * 2", o, casting="safe", i=i)
    np.testing.assert_array_equal(o, i * 2.0)
    ev_out("a * 2", o, casting="no", a=a)
    # equiv: byte order may differ
    obe = np.empty(6, ">f8")
    ev_out("a * 2", obe, casting="equiv", a=a)
    np.testing.assert_array_equal(obe, a * 2)
    with pytest.raises(ValueError):
        ev_out("a * 2", o, casting="bogus", a=a)
    # bool result into int out under same_kind is a safe cast
    oi = np.empty(6, np.int64)
    ev_out("a > 3", oi, a=a)
    np.testing.assert_array_equal(oi, (a > 3).astype(np.int64))
    with pytest.raises(ValueError):
        EV("a", local_dict={"a": a}, global_dict={}, order="Q")
    # a cast on the way out, over many blocks, with a reduction too
    big = np.random.default_rng(3).standard_normal(200_001)
    o = np.empty(200_001, np.float32)
    ev_out("exp(a) * 3 - a", o, a=big)
    np.testing.assert_allclose(o, (np.exp(big) * 3 - big).astype(np.float32), rtol=1e-6)
    o2 = np.empty((), np.float32)
    ev_out("sum(a)", o2, a=big)
    assert abs(float(o2) - big.sum()) <= 1e-5 * np.abs(big).sum()


def test_compile():
    c = ndpar.compile("exp(a) * b + sin(c) - a")
    assert c.names == ("a", "b", "c")
    text = c.explain()
    assert isinstance(text, str)
    assert "exp" in text and "sin" in text
    a, b, cc = np.linspace(-1, 1, 7), np.linspace(0, 2, 7), np.linspace(3, 4, 7)
    exp = np.exp(a) * b + np.sin(cc) - a
    maxulp = tolerance("exp", "float64")[1] + tolerance("sin", "float64")[1] + 4
    for r in (c(a, b, cc), c(a, b, c=cc), c(c=cc, b=b, a=a), c(a, c=cc, b=b)):
        assert_same(r, exp, "exp", False, maxulp)
    # reuse with other dtypes
    a32, b32, c32 = (v.astype(np.float32) for v in (a, b, cc))
    r32 = c(a32, b32, c32)
    assert r32.dtype == np.float32
    ri = c(np.arange(7, dtype=np.int32), np.arange(7, dtype=np.int32), np.arange(7))
    assert ri.dtype == np.float64
    r = c(a, b, cc)
    assert_same(r, exp, "exp", False, maxulp)
    # scalars
    assert c(0.0, 1.0, 0.0) == pytest.approx(1.0)
    # out= and casting through the compiled object
    o = np.empty(7, np.float32)
    assert c(a, b, cc, out=o) is o
    # argument errors
    with pytest.raises(TypeError):
        c(a, b, cc, a)
    with pytest.raises(TypeError):
        c(a, b)
    with pytest.raises(TypeError):
        c(a, b, cc, d=a)
    with pytest.raises(TypeError):
        c(a, b, a=a, c=cc)
    with pytest.raises(TypeError):
        ndpar.compile(42)
    with pytest.raises(SyntaxError):
        ndpar.compile("a +")
    with pytest.raises(NameError):
        ndpar.compile("nosuchfn(a)")
    # names: order of first use, temporaries and constants excluded
    assert ndpar.compile("t = y * 2; t + x + y + pi").names == ("y", "x")
    assert ndpar.compile("sum(q, axis=0)").names == ("q",)
    assert ndpar.compile("where(p > 0, r, 1)").names == ("p", "r")
    assert "ndpar.compile" in repr(c)


def test_compile_shared_between_threads():
    c = ndpar.compile("where(a > 0.5, exp(a), log1p(a)) * 2 - a")
    rng = np.random.default_rng(0)
    inputs = [rng.random(50_000 + k) for k in range(8)]
    expected = [c(x) for x in inputs]
    errors = []

    def work(k):
        try:
            for _ in range(5):
                r = c(inputs[k])
                if r.tobytes() != expected[k].tobytes():
                    errors.append(k)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    for x, r in zip(inputs, expected):
        np.testing.assert_allclose(
            r, np.where(x > 0.5, np.exp(x), np.log1p(x)) * 2 - x, rtol=1e-14)


@pytest.mark.parametrize("ex,col", [
    ("a + * b", 5), ("a +", 4), ("(a", 3), ("a)", 2), ("a b", 3), ("a $ b", 3),
    ("exp(a,", 7), ("a + + ", 7), ("1 < a < 2", 7), ("a = ", 5), ("3a", None),
])
def test_syntax_errors_have_column_and_caret(ex, col):
    with pytest.raises(SyntaxError) as ei:
        ev(ex, a=np.ones(2), b=np.ones(2))
    msg = str(ei.value)
    m = __import__("re").search(r"\(column (\d+)\)", msg)
    assert m, msg
    lines = msg.split("\n")
    assert any(ln.strip() == ex.strip() for ln in lines[1:]), msg
    caret = [ln for ln in lines if ln.strip() == "^"]
    assert len(caret) == 1, msg
    src_line = [ln for ln in lines[1:] if ln.strip() == ex.strip()][0]
    pos = caret[0].index("^") - src_line.index(ex.strip()[0])
    assert pos == int(m.group(1)) - 1, msg
    if col is not None:
        assert int(m.group(1)) == col, msg


def test_other_syntax_errors():
    for ex in ["", "   ", "t = a", "sum(a) + 1", "a ** ", "where(a, b)", "exp()",
               "exp(a, b)", "arctan2(a)", "a[0]", "a.b", "lambda: a", "a if b else a",
               "not a", "a and b", "'s'", "sum(a, axis=1.5)", "a,b", "1e", "0x"]:
        with pytest.raises(SyntaxError):
            ev(ex, a=np.ones(2), b=np.ones(2))
    # temporaries may be reassigned; they shadow variables of the same name
    assert ev("t = 1; t = 2; t") == 2


def test_name_errors():
    with pytest.raises(NameError) as ei:
        ev("a + foo(a)", a=np.ones(2))
    assert "foo" in str(ei.value) and "^" in str(ei.value)
    with pytest.raises(NameError, match="zz"):
        ev("a + zz", a=np.ones(2))
    # a syntax error elsewhere wins over a missing variable
    with pytest.raises(SyntaxError):
        ev("a + zz +", a=np.ones(2))


def test_type_errors():
    with pytest.raises(TypeError):
        ev("~a", a=np.ones(3))
    with pytest.raises(TypeError) as ei:
        ev("a + 1", a=np.ones(3, complex))
    assert "'a'" in str(ei.value)
    with pytest.raises(TypeError) as ei:
        ev("x * 2", x=np.array([1, "s"], dtype=object))
    assert "'x'" in str(ei.value)
    with pytest.raises(TypeError) as ei:
        ev("x * 2", x=object())
    assert "'x'" in str(ei.value)
    with pytest.raises(TypeError):
        ev("x * 2", x=np.array(["ab", "cd"]))
    for bad in (b"a + 1", None, 3, ["a"]):
        with pytest.raises(TypeError):
            EV(bad, local_dict={"a": np.ones(2)}, global_dict={})
    with pytest.raises(TypeError):
        ev("-p", p=np.array([True, False]))  # NumPy refuses negative of bool too


def test_lists_and_numpy_scalars_as_values():
    np.testing.assert_array_equal(ev("a + 1", a=[1, 2, 3]), np.array([2, 3, 4]))
    r = ev("a * 2", a=np.float32(1.5))
    assert r.dtype == np.float32 and r == 3.0
    r = ev("a + b", a=np.arange(3, dtype=np.int16), b=True)
    assert r.dtype == np.int16


def test_pathological_expressions_do_not_crash():
    code = textwrap.dedent("""
        import numpy as np, ndpar
        a = np.arange(3.0)
        for ex in ["(" * 100000 + "a" + ")" * 100000, "-" * 100000 + "a",
                   "exp(" * 5000 + "a" + ")" * 5000, "a**" * 20000 + "a",
                   "(" * 100000, ")" * 1000, "where(" * 3000 + "a",
                   "+".join(["a"] * 70000)]:
            try:
                ndpar.evaluate(ex, local_dict={"a": a}, global_dict={})
            except (ValueError, SyntaxError, RecursionError, MemoryError) as exc:
                print("ERR", type(exc).__name__)
            else:
                print("OK")
        print("DONE")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().endswith("DONE"), r.stdout[-2000:]
    # 100,000 nested parentheses: an error, not a result
    assert r.stdout.split()[0] == "ERR"


def test_many_operands():
    a = np.linspace(0, 1, 1001)
    r = ev("+".join(["a"] * 10000), a=a)
    # repeated addition, left to right, as NumPy would
    exp = a.copy()
    for _ in range(9999):
        exp = exp + a
    np.testing.assert_array_equal(r, exp)
    r = ev("-".join(["a"] * 10000), a=a)
    exp = a.copy()
    for _ in range(9999):
        exp = exp - a
    np.testing.assert_array_equal(r, exp)
    names = {f"v{k}": np.full(3, float(k)) for k in range(300)}
    r = ev(" + ".join(names), **names)
    np.testing.assert_array_equal(r, np.full(3, float(sum(range(300)))))


def test_inputs_never_modified():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((50, 40))
    b = rng.standard_normal(40).astype(np.float32)
    i = rng.integers(-5, 5, (50, 40)).astype(np.int32)
    saved = [x.copy() for x in (a, b, i)]
    for ex in ["t = a*2; u = where(t > 1, exp(t), log1p(t)); u - b",
               "a // i + i % 3 - b ** 2", "sum(a * b, axis=0)", "where(i > 0, a, b)",
               "-a", "~i", "i / 0", "mean(i, axis=1)"]:
        ev(ex, a=a, b=b, i=i)
    for x, s in zip((a, b, i), saved):
        assert x.tobytes() == s.tobytes()


LAYOUT_EXPRS = ["a * 2 + b", "exp(a) - b", "where(a > b, a, b * 3)", "sum(a * b, axis=0)",
                "max(a - b, axis=1)", "mean(a + b)"]


def _layouts(dt, rng):
    base = rng.standard_normal((40, 60)).astype(dt)
    return {
        "C": base.copy(),
        "F": np.asfortranarray(base),
        "strided": np.repeat(base, 3, axis=1)[:, ::3],
        "reversed": base[::-1, ::-1].copy()[::-1, ::-1],
        "negstride": np.ascontiguousarray(base[::-1, ::-1])[::-1, ::-1],
        "transposed": np.ascontiguousarray(base.T).T,
        "bigendian": base.astype(np.dtype(dt).newbyteorder(">")),
        "unaligned": _unaligned(base),
    }


def _unaligned(x):
    buf = np.empty(x.nbytes + 1, np.uint8)
    u = buf[1:].view(x.dtype).reshape(x.shape)
    u[...] = x
    return u


@pytest.mark.parametrize("dt", ["float64", "float32", "int32"])
@pytest.mark.parametrize("ex", LAYOUT_EXPRS)
def test_layouts(ex, dt):
    rng = np.random.default_rng(4)
    la = _layouts(dt if dt != "int32" else "float64", rng)
    lb = _layouts(dt if dt != "int32" else "float64", rng)
    if dt == "int32":
        la = {k: (v * 10).astype(np.dtype("int32").newbyteorder(v.dtype.byteorder))
              if k == "bigendian" else (v * 10).astype(np.int32) for k, v in la.items()}
        lb = {k: (v * 10).astype(np.int32) for k, v in lb.items()}
    ref = ev(ex, a=np.ascontiguousarray(la["C"]), b=np.ascontiguousarray(lb["C"]))
    for ka, a in la.items():
        for kb, b in (("C", lb["C"]), (ka, lb.get(ka, lb["C"]))):
            got = ev(ex, a=a, b=b)
            if "sum" in ex or "mean" in ex:
                # reductions may associate differently over another layout
                np.testing.assert_allclose(got, ref, rtol=1e-5 if dt == "float32" else 1e-12,
                                           err_msg=f"{ex} {ka} {kb}")
            else:
                assert np.asarray(got).dtype == np.asarray(ref).dtype
                np.testing.assert_array_equal(got, ref, err_msg=f"{ex} {ka} {kb}")
    # and the C-order result against NumPy
    a, b = la["C"], lb["C"]
    exp = _np_expr(ex.replace("sum(", "np_sum(").replace("max(", "np_max(")
                   .replace("mean(", "np_mean("),
                   a=a, b=b, np_sum=np.sum, np_max=np.max, np_mean=np.mean)
    assert np.asarray(ref).dtype == np.asarray(exp).dtype
    # exp(a) - b cancels: an absolute tolerance on the scale of the terms
    scale = float(np.max(np.abs(exp))) if np.size(exp) else 1.0
    tol = 1e-6 if dt == "float32" else 1e-14
    np.testing.assert_allclose(ref, exp, rtol=tol, atol=tol * scale)


def test_layouts_1d_views_and_big_arrays():
    rng = np.random.default_rng(8)
    x = rng.standard_normal(300_001)
    y = rng.standard_normal(300_001)
    for a, b in [(x[::2], y[::2]), (x[::-1], y), (x[::-3][:100_000], y[1::3]),
                 (x.astype(">f8"), y.astype(">f4"))]:
        got = ev("t = a * 2; u = where(t > 1, exp(t), log1p(t)); u - b", a=a, b=b)
        with np.errstate(all="ignore"):
            t = a * 2
            exp = np.where(t > 1, np.exp(t), np.log1p(t)) - b
        assert got.dtype == exp.dtype
        np.testing.assert_allclose(got, exp, rtol=1e-13, atol=1e-13, equal_nan=True)


def test_big_broadcasts_and_reductions():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((700, 1))
    y = rng.standard_normal((1, 900))
    got = ev("x * y + exp(x) - where(y > 0, y, 0)", x=x, y=y)
    exp = x * y + np.exp(x) - np.where(y > 0, y, 0)
    assert got.shape == (700, 900)
    np.testing.assert_allclose(got, exp, rtol=1e-14, atol=1e-14)
    for ax in (0, 1, -1):
        np.testing.assert_allclose(ev(f"sum(x * y, axis={ax})", x=x, y=y),
                                   np.sum(x * y, axis=ax), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(ev(f"max(x - y, axis={ax})", x=x, y=y),
                                      np.max(x - y, axis=ax))
    f = np.asfortranarray(rng.standard_normal((1000, 1000)))
    for ax in (0, 1):
        np.testing.assert_allclose(ev(f"sum(f, axis={ax})", f=f), f.sum(axis=ax),
                                   rtol=1e-12, atol=1e-11)
        np.testing.assert_array_equal(ev(f"min(f, axis={ax})", f=f), f.min(axis=ax))
    t3 = rng.standard_normal((30, 40, 50)).transpose(2, 0, 1)
    for ax in (None, 0, 1, 2):
        ex = "mean(t * 2)" if ax is None else f"mean(t * 2, axis={ax})"
        np.testing.assert_allclose(ev(ex, t=t3), np.mean(t3 * 2, axis=ax), rtol=1e-12,
                                   atol=1e-13)


def test_mean_of_big_integers():
    # NumPy's mean of integers sums in float64: no wraparound
    a = np.full(1000, 2 ** 62, np.int64)
    assert ev("mean(a)", a=a) == np.mean(a)
    u = np.full((10, 1000), 2 ** 63 + 5, np.uint64)
    np.testing.assert_array_equal(ev("mean(u, axis=1)", u=u), np.mean(u, axis=1))
    i8 = np.full((3, 500), 127, np.int8)
    np.testing.assert_array_equal(ev("mean(a, axis=1)", a=i8), np.mean(i8, axis=1))
    assert ev("mean(a)", a=i8) == np.mean(i8)


@pytest.mark.parametrize("order", ["K", "A", "C", "F"])
def test_order_argument(order):
    f = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(EV("f * 2", local_dict={"f": f}, global_dict={},
                                     order=order), f * 2)


def test_exact_in_place():
    a = np.arange(100_003, dtype=np.float64)
    orig = a.copy()
    r = ev_out("a * 2 + 1", a, a=a)
    assert r is a
    np.testing.assert_array_equal(a, orig * 2 + 1)
    # out is the second operand; a temporary-heavy program in place
    b = np.linspace(-1, 1, 100_003)
    bo = b.copy()
    ev_out("t = exp(b); where(t > 1, t - a, b * a)", b, a=orig, b=b)
    with np.errstate(all="ignore"):
        exp = np.where(np.exp(bo) > 1, np.exp(bo) - orig, bo * orig)
    np.testing.assert_allclose(b, exp, rtol=1e-14)
    # in place through a where() with a fused costly branch
    c = np.linspace(-0.9, 3, 100_003)
    co = c.copy()
    ev_out("where(c > 0.5, exp(c), log1p(c)) - c", c, c=c)
    np.testing.assert_allclose(c, np.where(co > 0.5, np.exp(co), np.log1p(co)) - co,
                               rtol=1e-14, atol=1e-15)
    # int in place, 2-D strided in place
    i = np.arange(60, dtype=np.int32).reshape(6, 10)[:, ::2]
    io = i.copy()
    ev_out("i * i - 3", i, i=i)
    np.testing.assert_array_equal(i, io * io - 3)


def test_overlapping_views_in_place():
    # out = a reversed view of an input: NumPy gives the result as if the
    # inputs were read first
    x = np.arange(100_000, dtype=np.float64)
    xo = x.copy()
    ev_out("a + b", x, a=x, b=x[::-1])
    np.testing.assert_array_equal(x, xo + xo[::-1])


def test_reassigning_an_input_name():
    """`a = a * 2` reads the input a on its right side, then names the
    temporary a for the statements after it (as in Python)."""
    a = np.arange(6.0)
    b = np.full(6, 0.5)
    np.testing.assert_array_equal(ndpar.evaluate("a = a * 2; a + b"), a * 2 + b)
    np.testing.assert_array_equal(ndpar.evaluate("t = a + 1; t = t * t; t - b"),
                                  (a + 1) * (a + 1) - b)
    f = ndpar.compile("a = a * 2; a = a + 1; a")
    assert f.names == ("a",)
    np.testing.assert_array_equal(f(a=a), a * 2 + 1)
    with pytest.raises(NameError):
        ndpar.evaluate("u = u + 1; u")  # u is neither an input nor defined before


def test_order_of_a_new_result():
    rng = np.random.default_rng(5)
    a = np.asfortranarray(rng.random((30, 40)))
    b = np.asfortranarray(rng.random((30, 40)))
    want = np.where(a > 0.5, a * 2, b - 1)
    for order, f_expected in (("K", True), ("A", True), ("F", True), ("C", False)):
        r = ndpar.evaluate("where(a > 0.5, a * 2, b - 1)", order=order)
        np.testing.assert_array_equal(r, want)
        assert r.flags.f_contiguous == f_expected and r.flags.c_contiguous != f_expected
    c = np.ascontiguousarray(a)
    r = ndpar.evaluate("c * 3 + 1", order="K")
    assert r.flags.c_contiguous
    r = ndpar.evaluate("c * 3 + 1", order="F")
    assert r.flags.f_contiguous and not r.flags.c_contiguous
    np.testing.assert_array_equal(r, c * 3 + 1)
    # mixed dimensions and reductions keep C order, with NumPy's values
    v = rng.random(40)
    r = ndpar.evaluate("a + v", order="F")
    np.testing.assert_array_equal(r, a + v)
    np.testing.assert_allclose(ndpar.evaluate("sum(a * b, axis=0)", order="F"),
                               (a * b).sum(axis=0), rtol=1e-13)
    np.testing.assert_array_equal(ndpar.evaluate("x + 1.5", local_dict={"x": a}, order="K"), a + 1.5)
