"""Robustness of ndpar.evaluate / ndpar.compile against NumPy (issue [robust]).

Names the user binds win over built-in constants and functions; NEP 50 is
applied against the dtype an operation runs in; empty arrays of any
dimension; signed zeros and NaN in min/max; booleans whose bytes are not
0/1; the language's documentation. Every expected value comes from NumPy
(or math) on the same inputs.
"""
import math

import numpy as np
import pytest

import ndpar


def ev(ex, **kw):
    """ndpar.evaluate with exactly these variables (no frame lookup)."""
    return ndpar.evaluate(ex, local_dict=kw, global_dict={})


def same_bits(got, exp):
    """Same dtype, shape and bytes; a bool compares by truth (byte != 0:
    NumPy's max of bools may pass a byte 2 through, ndpar writes 1)."""
    got, exp = np.asarray(got), np.asarray(exp)
    assert got.dtype == exp.dtype, (got.dtype, exp.dtype)
    assert got.shape == exp.shape, (got.shape, exp.shape)
    if got.dtype == bool:
        assert set(got.view(np.uint8).ravel().tolist()) <= {0, 1}  # ndpar writes 0/1
        got, exp = got.view(np.uint8) != 0, exp.view(np.uint8) != 0
    assert got.tobytes() == exp.tobytes(), (got, exp)


# ---- 1. user names win over constants and functions ---------------------------------

X = np.array([1.0, 2.0, -3.5])


@pytest.mark.parametrize("name", ["e", "pi", "inf", "nan"])
def test_keyword_named_like_a_constant_is_the_variable(name):
    same_bits(ndpar.evaluate(f"{name} * 2", **{name: X}), X * 2)
    same_bits(ev(f"{name} * 2", **{name: X}), X * 2)


@pytest.mark.parametrize("name, value", [("e", math.e), ("pi", math.pi), ("inf", math.inf)])
def test_unbound_constant_is_the_constant(name, value):
    same_bits(ev(f"{name} * 2 + a", a=X), value * 2 + X)


def test_caller_frame_binds_a_constant_name():
    e = np.array([3.0, 4.0])  # noqa: F841 (read by evaluate from this frame)
    pi = np.float32(2.0)  # noqa: F841
    same_bits(ndpar.evaluate("e * 2 + pi"), np.array([3.0, 4.0]) * 2 + np.float32(2.0))


def test_assignment_target_named_like_a_constant_wins():
    same_bits(ev("e = a * 3; e + 1", a=X), X * 3 + 1)
    same_bits(ev("pi = a; nan = pi * 2; nan - pi", a=X), X * 2 - X)


def test_variables_named_like_functions_are_values():
    exp = np.array([1.0, 5.0, 9.0])
    s = np.array([2, 3, 4])
    same_bits(ev("exp + 1", exp=exp), exp + 1)
    same_bits(ev("where * 2", where=s), s * 2)
    same_bits(ev("sum(sum)", sum=s), np.sum(s))
    # and a call still is the function, next to a variable of that name
    same_bits(ev("exp(exp) - exp", exp=exp), np.exp(exp) - exp)
    same_bits(ev("where(where > 2, where, 0)", where=s), np.where(s > 2, s, 0))


def test_compiled_expression_binds_constant_names_by_keyword():
    f = ndpar.compile("e * a")
    assert f.names == ("a",)
    assert f.optional_names == ("e",)
    same_bits(f(X), math.e * X)
    same_bits(f(X, e=X), X * X)
    same_bits(f(a=X, e=np.float32(2)), np.float32(2) * X)
    with pytest.raises(TypeError):
        f(X, pi=1.0)  # not a name of the expression


def test_unbound_name_is_name_error_and_syntax_error_comes_first():
    with pytest.raises(NameError):
        ev("a + b", a=X)
    with pytest.raises(SyntaxError):
        ev("a + + ) b")


def test_true_false_are_literals():
    same_bits(ev("a & True", a=np.array([True, False])), np.array([True, False]))


# ---- 2. NEP 50 against the loop dtype ---------------------------------------------

U8 = np.array([0, 1, 2, 250, 255], np.uint8)
I8 = np.array([-128, -1, 0, 1, 127], np.int8)


@pytest.mark.parametrize("ex", ["u8 / 1000", "u8 / 300", "u8 / a", "1000 / (u8 + 1)",
                                "u8 * 1.5", "u8 / 2**40"])
def test_weak_int_in_float_loop_does_not_overflow(ex):
    env = {"u8": U8, "a": 1000}
    with np.errstate(all="ignore"):
        exp = eval(ex, {}, env)
    same_bits(ev(ex, **env), exp)


@pytest.mark.parametrize("ex, env", [
    ("u8 == a", {"a": -2}), ("u8 != a", {"a": -2}), ("u8 < a", {"a": -2}),
    ("u8 >= a", {"a": 1000}), ("a > u8", {"a": 1000}), ("u8 == a", {"a": 250}),
    ("i8 < a", {"a": -129}), ("i8 == a", {"a": 2**40}), ("i8 <= a", {"a": 127}),
    ("u8 == -2", {}), ("u8 < 1000", {}),
])
def test_comparison_with_out_of_range_python_int_is_exact(ex, env):
    env = dict(env, u8=U8, i8=I8)
    same_bits(ev(ex, **env), eval(ex, {}, env))


def test_comparison_with_python_int_uint64_and_int64():
    q = np.array([0, 2**64 - 1, 2**63], np.uint64)
    i = np.array([-2**63, -1, 2**63 - 1], np.int64)
    for a in (-1, 2**63 - 1, -2**63, 0):
        same_bits(ev("q == a", q=q, a=a), q == a)
        same_bits(ev("q > a", q=q, a=a), q > a)
        same_bits(ev("i < a", i=i, a=a), i < a)


@pytest.mark.parametrize("ex, env", [("u8 + 1000", {}), ("u8 + a", {"a": 1000}),
                                     ("u8 // 1000", {}), ("i8 * a", {"a": 200})])
def test_weak_int_in_integer_loop_still_overflows(ex, env):
    env = dict(env, u8=U8, i8=I8)
    with pytest.raises(OverflowError):
        eval(ex, {}, env)
    with pytest.raises(OverflowError):
        ev(ex, **env)


def test_compiled_program_comparison_with_int_variable():
    f = ndpar.compile("u8 == a")
    for a in (-2, 0, 250, 256, 2**40):
        same_bits(f(U8, a), U8 == a)


# ---- 3. empty arrays --------------------------------------------------------------

EMPTY_SHAPES = [(0,), (0, 3), (3, 0), (2, 0, 3), (0, 0), (1, 0, 1)]


def np_or_exc(f):
    try:
        with np.errstate(all="ignore"):
            return f()
    except ValueError as e:
        return e


@pytest.mark.parametrize("shape", EMPTY_SHAPES)
@pytest.mark.parametrize("dt", ["float64", "float32", "int32", "bool"])
def test_empty_elementwise(shape, dt):
    x = np.zeros(shape, dt)
    same_bits(ev("x + 1", x=x), x + 1)
    same_bits(ndpar.compile("x * 2 + x")(x), x * 2 + x)
    same_bits(ev("where(x > 0, x, 1)", x=x), np.where(x > 0, x, 1))
    y = np.zeros(shape[-1:], dt)
    same_bits(ev("x * y", x=x, y=y), x * y)


@pytest.mark.parametrize("shape", EMPTY_SHAPES)
@pytest.mark.parametrize("red", ["sum", "prod", "max", "min", "mean", "any", "all"])
@pytest.mark.parametrize("dt", ["float64", "float32", "int64", "uint8", "bool"])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_empty_reductions(shape, red, dt, axis):
    x = np.zeros(shape, dt)
    npf = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min,
           "mean": np.mean, "any": np.any, "all": np.all}[red]
    exp = np_or_exc(lambda: npf(x, axis=axis))
    ex = f"{red}(x)" if axis is None else f"{red}(x, axis={axis})"
    if isinstance(exp, Exception):
        with pytest.raises(ValueError, match="zero-size array to reduction operation"):
            ev(ex, x=x)
        return
    got = ev(ex, x=x)
    exp = np.asarray(exp)
    if red == "mean" and dt not in ("float32", "float64"):
        exp = exp.astype(np.float64)  # NumPy: float64 for integer means too
    np.testing.assert_array_equal(np.asarray(got), exp)
    assert np.asarray(got).shape == exp.shape
    assert np.asarray(got).dtype == exp.dtype, (np.asarray(got).dtype, exp.dtype)


def test_empty_out_argument():
    x = np.zeros((0, 3))
    out = np.empty((0, 3))
    assert ev_out("x + 1", out, x=x) is out


def ev_out(ex, out, **kw):
    return ndpar.evaluate(ex, local_dict=kw, global_dict={}, out=out)


# ---- 4. signed zeros and NaN in min / max -------------------------------------------

def zero_arrays():
    rng = np.random.default_rng(7)
    yield np.array([-0.0, 0.0])
    yield np.array([0.0, -0.0])
    yield np.array([-0.0, -0.0, 0.0])
    for n in (1, 2, 3, 7, 8, 9, 31, 256, 257, 1000, 5000, 70000):
        yield np.where(rng.integers(0, 2, n) == 1, -0.0, 0.0)
    yield np.full(100000, -0.0)
    z = np.full(100000, -0.0)
    z[-1] = 0.0
    yield z
    yield np.array([1.0, np.nan, 2.0])
    yield np.array([np.nan, -np.inf, np.inf])
    yield np.array([-0.0, np.nan, 0.0])


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("red", ["max", "min"])
def test_signed_zero_and_nan_in_reductions_match_numpy(dt, red):
    npf = np.max if red == "max" else np.min
    for a in zero_arrays():
        a = a.astype(dt)
        exp = npf(a)
        for nt in (1, None):
            if nt is None:
                got = ev(f"{red}(a)", a=a)
            else:
                with ndpar.threads(nt):
                    got = ev(f"{red}(a)", a=a)
            same_bits(got, exp)


@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_signed_zero_in_axis_reductions_match_numpy(dt):
    rng = np.random.default_rng(3)
    a = np.where(rng.integers(0, 2, (37, 300)) == 1, -0.0, 0.0).astype(dt)
    for red, npf in (("max", np.max), ("min", np.min)):
        for axis in (0, 1, -1):
            for nt in (1, None):
                if nt is None:
                    got = ev(f"{red}(a, axis={axis})", a=a)
                else:
                    with ndpar.threads(nt):
                        got = ev(f"{red}(a, axis={axis})", a=a)
                same_bits(got, npf(a, axis=axis))


@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_elementwise_maximum_minimum_signed_zero(dt):
    # ties between 0.0 and -0.0 give the second operand, as NumPy's SIMD
    # loops (64 elements: no scalar tail in NumPy, whose own scalar fmax
    # of one element keeps the first)
    a = np.tile(np.array([-0.0, 0.0, -0.0, 0.0, np.nan, 1.0, -np.nan, np.nan], dt), 8)
    b = np.tile(np.array([0.0, -0.0, -0.0, 0.0, 1.0, np.nan, np.nan, -np.nan], dt), 8)
    for f in ("maximum", "minimum", "fmax", "fmin"):
        same_bits(ev(f"{f}(a, b)", a=a, b=b), getattr(np, f)(a, b))


# ---- 5. booleans whose bytes are not 0/1 --------------------------------------------

M = np.array([0, 1, 2, 255, 0, 128, 1, 3], np.uint8).view(bool)
N = np.array([1, 2, 0, 4, 0, 128, 254, 1], np.uint8).view(bool)
F = np.arange(8.0)
I = np.arange(8, dtype=np.int32)


def big(mask_bytes):
    return np.tile(np.asarray(mask_bytes, np.uint8), 1000).view(bool)


@pytest.mark.parametrize("ex", [
    "~m", "m & n", "m | n", "m ^ n", "logical_not(m)", "invert(m)",
    "where(m, f, -f)", "where(m, 1, 2)", "where(m & n, f, i)", "where(m, n, m)",
    "m == n", "m != n", "m < n", "m >= n", "m == True", "m != False",
    "logical_and(m, n)", "logical_or(m, n)", "logical_xor(m, n)",
])
def test_bool_bytes_elementwise(ex):
    env = {"m": M, "n": N, "f": F, "i": I}
    exp = eval(ex, {"where": np.where, "logical_not": np.logical_not,
                    "invert": np.invert, "logical_and": np.logical_and,
                    "logical_or": np.logical_or, "logical_xor": np.logical_xor,
                    "True": True, "False": False}, env)
    np.testing.assert_array_equal(ev(ex, **env), exp)
    assert np.asarray(ev(ex, **env)).dtype == np.asarray(exp).dtype
    # the result's bytes are 0/1 where it is a bool
    got = np.asarray(ev(ex, **env))
    if got.dtype == bool:
        assert set(got.view(np.uint8).tolist()) <= {0, 1}
    # long arrays (blocks, threads) and broadcasting a scalar mask
    bm, bn = big(M.view(np.uint8)), big(N.view(np.uint8))
    benv = {"m": bm, "n": bn, "f": np.tile(F, 1000), "i": np.tile(I, 1000)}
    np.testing.assert_array_equal(ev(ex, **benv), eval(ex, {
        "where": np.where, "logical_not": np.logical_not, "invert": np.invert,
        "logical_and": np.logical_and, "logical_or": np.logical_or,
        "logical_xor": np.logical_xor}, benv))


@pytest.mark.parametrize("red", ["sum", "prod", "max", "min", "any", "all", "mean"])
def test_bool_bytes_reductions(red):
    npf = getattr(np, red)
    for m in (M, N, big(M.view(np.uint8)), np.array([2, 4], np.uint8).view(bool)):
        same_bits(ev(f"{red}(m)", m=m), npf(m))
        m2 = m.reshape(-1, 2)
        for axis in (0, 1):
            same_bits(ev(f"{red}(m, axis={axis})", m=m2), npf(m2, axis=axis))


def test_bool_bytes_where_fused_branch():
    # a costly branch is computed only on its lanes: the lanes come from byte != 0
    m = big(M.view(np.uint8))
    f = np.tile(F, 1000)
    np.testing.assert_array_equal(ev("where(m, exp(f), log1p(f))", m=m, f=f),
                                  np.where(m, np.exp(f), np.log1p(f)))


def test_bool_bytes_zero_d_mask():
    m = np.array(2, np.uint8).view(bool)
    same_bits(ev("where(m, f, 0.0)", m=m, f=F), np.where(m, F, 0.0))
    same_bits(ev("~m & n", m=m, n=N), ~m & N)


def test_bool_bytes_arithmetic_depends_on_casts():
    # bool -> number reads byte != 0 in the casts (src/kernels/cast.c)
    env = {"m": M, "f": F}
    np.testing.assert_array_equal(ev("m + 0", **env), M + 0)
    np.testing.assert_array_equal(ev("m * f", **env), M * F)


# ---- 6. documentation ---------------------------------------------------------------

@pytest.mark.parametrize("obj", [ndpar.evaluate, ndpar.compile, ndpar.CompiledExpression
                                 if hasattr(ndpar, "CompiledExpression")
                                 else type(ndpar.compile("a"))])
def test_docstrings_describe_the_language(obj):
    doc = obj.__doc__ or ""
    for word in ["**", "//", "where(", "arctan2", "pi", "nan", "inf", "sum", "prod",
                 "mean", "any", "all", "axis", "t = a * 2", "casting", "SyntaxError",
                 "NameError", "OverflowError", "NEP 50", "always wins"]:
        assert word in doc, (obj, word)


def test_compile_of_integer_only_program():
    # ndpar.compile checks syntax and functions at once, types at each call
    f = ndpar.compile("~a & b")
    i = np.array([1, 2, 3])
    same_bits(f(i, 6), ~i & 6)
    assert "invert" in f.explain()
    with pytest.raises(TypeError):
        f(np.array([1.0]), 1)
    with pytest.raises(NameError):
        ndpar.compile("~a + nofunc(a)")
    with pytest.raises(SyntaxError):
        ndpar.compile("~a +")


def test_help_renders_language_section():
    import pydoc
    text = pydoc.render_doc(ndpar.evaluate, renderer=pydoc.plaintext)
    assert "always wins over a built-in constant" in text
    assert "zero-size array to reduction" in text


# ---- a Python int computed in the expression (n * 2 with n a Python int) --------------

_COMPUTED = ["a + n*2", "a - n", "a * (n + 1)", "a & (n*2)", "a | (n - 1)",
             "a < n*2", "a == n*2", "a >= -n", "(a + n*2) // 3"]


@pytest.mark.parametrize("ex,dt", [(ex, dt) for ex in _COMPUTED
                                   for dt in ["uint8", "int8", "int16", "uint32", "int64",
                                              "float32"]
                                   if not (dt == "float32" and ("&" in ex or "|" in ex))])
@pytest.mark.parametrize("n", [-300, -1, 0, 5, 63, 64, 127, 128, 200, 300, 2**40])
def test_computed_python_int_follows_nep50(ex, dt, n):
    """The computed value takes the dtype it meets and must fit it, as NumPy
    checks the Python int the same text computes (it used to wrap: a silent
    wrong result). Bitwise operators take integers only."""
    a = np.array([0, 1, 3, 100], dtype=dt)
    try:
        with np.errstate(all="ignore"):
            want = eval(ex, {}, {"a": a, "n": n})  # NumPy's own answer (test text only)
    except OverflowError:
        with pytest.raises(OverflowError):
            ndpar.evaluate(ex, local_dict={"a": a, "n": n})
        return
    got = ndpar.evaluate(ex, local_dict={"a": a, "n": n})
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
