"""Tests of `ndpar eval`: NumPy-style expressions over .npy files.

Every result is compared with NumPy evaluating the same text in Python (the
language is Python's expression syntax with NumPy's functions), on the same
arrays, dtype and shape included: exact for integer and bool results, within
rtol 1e-12 (float64) or 1e-5 (float32) for floats. A NAME=NUMBER operand is
a Python int or float on the NumPy side, so NEP 50's weak-scalar rules are
what both sides follow.
"""
import os
import re

import numpy as np
import pytest

from test_cli import BAR, run_on_pty, save

# ---------------------------------------------------------------------------
# the reference

FUNCS = ["where", "exp", "log", "log1p", "sqrt", "sin", "cos", "tanh", "arctan2",
         "minimum", "maximum", "abs", "sum", "mean", "max", "min", "prod", "any",
         "all", "hypot"]
NS = {name: getattr(np, name) for name in FUNCS}
NS.update(pi=np.pi, e=np.e, nan=np.nan, inf=np.inf)


def np_eval(src, env):
    """src evaluated by NumPy: statements split at ';' and newlines, all but
    the last assignments."""
    ns = dict(NS)
    ns.update(env)
    stmts = [s for s in re.split(r"[;\n]", src) if s.strip() and not s.strip().startswith("#")]
    with np.errstate(all="ignore"):
        for s in stmts[:-1]:
            name, value = s.split("=", 1)
            ns[name.strip()] = eval(value, {"__builtins__": {}}, ns)
        return np.asarray(eval(stmts[-1], {"__builtins__": {}}, ns))


def scalar_value(text):
    if text in ("true", "True"):
        return True
    if text in ("false", "False"):
        return False
    try:
        return int(text)
    except ValueError:
        return float(text)


def assert_same(out, ref, atol=0.0):
    assert out.dtype == ref.dtype, f"dtype {out.dtype}, NumPy gives {ref.dtype}"
    assert out.shape == ref.shape, f"shape {out.shape}, NumPy gives {ref.shape}"
    if ref.dtype.kind == "f":
        rtol = 1e-12 if ref.dtype == np.float64 else 1e-5
        if ref.dtype == np.float32:
            atol = max(atol, 1e-6) if atol else 0.0
        np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(out, ref)


def values(dtype, shape, seed, positive=False):
    """Test values: integers in [-20, 20] without 0 (so // and % are
    defined), or floats in [-4, 4) away from 0; positive=True: > 0."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dt.kind in "iu":
        lo = 1 if positive or dt.kind == "u" else -20
        x = rng.integers(lo, 21, size=shape)
        x[x == 0] = 7
        return x.astype(dt)
    x = rng.random(shape) * 4 + 0.25
    if not positive:
        x *= rng.choice([-1.0, 1.0], size=shape)
    return x.astype(dt)


def run_eval(cli, tmp_path, src, arrays, scalars=None, extra=(), out_name="out.npy",
             save_kw=None):
    """Saves the arrays, runs ndpar eval, returns (result, NumPy's result)."""
    args, env = [], {}
    for name, arr in arrays.items():
        p = save(tmp_path / f"in_{name}.npy", arr, **(save_kw or {}))
        args.append(f"{name}={p}")
        env[name] = np.load(p)
    for name, text in (scalars or {}).items():
        args.append(f"{name}={text}")
        env[name] = scalar_value(text)
    out = tmp_path / out_name
    cli.ok("eval", src, *args, "-o", out, *extra)
    return np.load(out), np_eval(src, env)


# ---------------------------------------------------------------------------
# expressions against NumPy

ARITH = ["a + b", "a - b * 2", "a * b - a", "a / b", "a // b", "a % b",
         "-a + b ** 2", "(a + 1) * (b - 3)"]
PAIRS = [("int32", "int32"), ("int32", "int64"), ("int64", "int64"),
         ("float32", "float32"), ("float32", "float64"), ("int32", "float32"),
         ("int64", "float64"), ("float64", "float64")]


@pytest.mark.parametrize("dta,dtb", PAIRS)
def test_arithmetic(cli, tmp_path, dta, dtb):
    a, b = values(dta, (4, 5), 1), values(dtb, (4, 5), 2)
    for src in ARITH:
        out, ref = run_eval(cli, tmp_path, src, {"a": a, "b": b})
        assert_same(out, ref)


CMP = ["a < b", "a == b", "a >= 2", "(a > 0) & (b < 2)", "~(a != b) | (a > b)",
       "(a < b) ^ (b > 1)", "a != a"]


@pytest.mark.parametrize("dta,dtb", [("int32", "float32"), ("float64", "float64"),
                                     ("int64", "int32"), ("bool", "int32")])
def test_comparisons_give_bool(cli, tmp_path, dta, dtb):
    a, b = values(dta, (30,), 3), values(dtb, (30,), 4)
    b[:5] = a[:5]  # some equal pairs
    for src in CMP:
        out, ref = run_eval(cli, tmp_path, src, {"a": a, "b": b})
        assert out.dtype == np.bool_
        assert_same(out, ref)


@pytest.mark.parametrize("dt", ["int32", "int64", "uint8"])
def test_bitwise_integers(cli, tmp_path, dt):
    a, b = values(dt, (6, 7), 5), values(dt, (6, 7), 6)
    for src in ["a & b", "a | 3", "~a", "a ^ b", "(a & 1) == 0"]:
        out, ref = run_eval(cli, tmp_path, src, {"a": a, "b": b})
        assert_same(out, ref)


@pytest.mark.parametrize("dta,dtb", [("float64", "float64"), ("int32", "float32"),
                                     ("float32", "float32"), ("int64", "int32")])
def test_where(cli, tmp_path, dta, dtb):
    a, b = values(dta, (5, 8), 7), values(dtb, (5, 8), 8)
    for src in ["where(a > b, a, b * 2)", "where(a > 0, a, 0)", "where(b < 1.5, a, -1)",
                "where(a == b, 1.5, b)"]:
        out, ref = run_eval(cli, tmp_path, src, {"a": a, "b": b})
        assert_same(out, ref)


FUNC_EXPRS = ["exp(a)", "log(a) + log1p(b)", "sqrt(a) * sin(b)", "arctan2(a, b)",
              "minimum(a, b) + maximum(a, b)", "abs(a - b)", "tanh(a) - cos(b)",
              "exp(a) ** 0.5", "where(a > 2, exp(a), log1p(a))", "hypot(a, b) * pi"]


@pytest.mark.parametrize("dt", ["float64", "float32", "int32"])
def test_functions(cli, tmp_path, dt):
    a, b = values(dt, (7, 9), 9, positive=True), values(dt, (7, 9), 10, positive=True)
    for src in FUNC_EXPRS:
        out, ref = run_eval(cli, tmp_path, src, {"a": a, "b": b})
        # sin, cos, tanh - cos can be near 0: relative error is not the measure
        assert_same(out, ref, atol=1e-14)


@pytest.mark.parametrize("src", [
    "t = a * 2; u = exp(t) - b; u * t",
    "t = a + b\nt * t",
    "t = a + b\n# a comment\nu = where(t > 1, t, -t)\nu - 1",
    "t = where(a > 1, a, b); sum(t * 2, axis=0)",
    "t = a > b; where(t, a, b)",
])
def test_temporaries(cli, tmp_path, src):
    a, b = values("float64", (4, 6), 11, True), values("float64", (4, 6), 12, True)
    out, ref = run_eval(cli, tmp_path, src, {"a": a, "b": b})
    assert_same(out, ref)


@pytest.mark.parametrize("sa,sb", [((3, 1), (4,)), ((2, 3, 1), (3, 4)), ((1,), (5,)),
                                   ((), (2, 3)), ((4, 1, 3), (1, 2, 1))])
def test_broadcasting(cli, tmp_path, sa, sb):
    a = values("float64", sa, 13, True)
    b = values("int32", sb, 14, True)
    for src in ["a * b + 1", "where(a > b, a, b)", "a < b"]:
        out, ref = run_eval(cli, tmp_path, src, {"a": a, "b": b})
        assert_same(out, ref)


# NEP 50: a Python scalar takes the array's dtype when its kind allows.
SCALAR_CASES = [
    ("int32", "a + n", {"n": "2"}, "int32"),
    ("int8", "a * n", {"n": "3"}, "int8"),
    ("uint8", "a + n", {"n": "200"}, "uint8"),
    ("int32", "a * x", {"x": "2.5"}, "float64"),
    ("float32", "a * x", {"x": "2.5"}, "float32"),
    ("float32", "a + n", {"n": "2"}, "float32"),
    ("float64", "a - x", {"x": "-1e-3"}, "float64"),
    ("int64", "a // n", {"n": "-3"}, "int64"),
    ("int32", "where(a > n, a, x)", {"n": "5", "x": "0.5"}, "float64"),
    ("int16", "n * x + a", {"n": "2", "x": "1.5"}, "float64"),
    ("bool", "a + n", {"n": "1"}, "int64"),
    ("float32", "a * x", {"x": "nan"}, "float32"),
    ("float32", "minimum(a, x)", {"x": "-inf"}, "float32"),
    ("int32", "a + f", {"f": "true"}, "int32"),
    ("float32", "a ** n", {"n": "2"}, "float32"),
    ("int32", "a > x", {"x": "2.5"}, "bool"),
]


@pytest.mark.parametrize("dt,src,scalars,want", SCALAR_CASES)
def test_scalars_nep50(cli, tmp_path, dt, src, scalars, want):
    a = values(dt, (3, 4), 15, positive=True)
    out, ref = run_eval(cli, tmp_path, src, {"a": a}, scalars)
    assert out.dtype == np.dtype(want)
    assert_same(out, ref)


def test_scalars_only(cli, tmp_path):
    out_path = tmp_path / "o.npy"
    cli.ok("eval", "n * x + 1", "n=3", "x=0.5", "-o", out_path)
    out = np.load(out_path)
    assert out.shape == () and out.dtype == np.float64 and out == 2.5
    cli.ok("eval", "2 ** 10", "-o", out_path)
    out = np.load(out_path)
    assert out.shape == () and out.dtype == np.int64 and out == 1024


def test_scalar_name_can_look_like_file(cli, tmp_path):
    """An existing file wins over a number; a missing one is a number."""
    a = values("float64", (5,), 16)
    p = save(tmp_path / "a.npy", a)
    (tmp_path / "2").write_bytes(open(p, "rb").read())
    out = tmp_path / "o.npy"
    cli.ok("eval", "a + b", "a=a.npy", "b=2", "-o", out, cwd=tmp_path)
    np.testing.assert_array_equal(np.load(out), a + a)
    cli.ok("eval", "a + b", "a=a.npy", "b=3", "-o", out, cwd=tmp_path)
    np.testing.assert_array_equal(np.load(out), a + 3)


REDUCTIONS = ["sum(a)", "mean(a)", "max(a)", "min(a)", "prod(a)", "sum(a, axis=0)",
              "sum(a, axis=1)", "sum(a, axis=-1)", "mean(a, axis=0)", "mean(a, axis=1)",
              "max(a, axis=0)", "max(a, axis=1)", "min(a, 1)", "prod(a, axis=0)",
              "any(a > 2, axis=1)", "all(a > 0)", "sum(a * 2 + 1, 1)",
              "mean(exp(a / 8), axis=0)"]


@pytest.mark.parametrize("dt", ["int32", "int64", "float32", "float64"])
def test_reductions(cli, tmp_path, dt):
    a = values(dt, (4, 5), 17)
    a.flat[3] = 2  # some ties
    for src in REDUCTIONS:
        out, ref = run_eval(cli, tmp_path, src, {"a": a})
        assert_same(out, ref)


def test_reduction_3d_and_threads_give_same_bits(cli, tmp_path):
    a = np.random.default_rng(18).random((30, 40, 50))
    p = save(tmp_path / "a.npy", a)
    for src in ["sum(a)", "mean(a, axis=1)", "sum(a * a, axis=0)", "max(a, axis=2)"]:
        outs = []
        for n in ("1", "2", "3"):
            o = tmp_path / f"o{n}.npy"
            cli.ok("eval", src, f"a={p}", "-o", o, "--threads", n)
            outs.append(np.load(o))
        ref = np_eval(src, {"a": a})
        assert_same(outs[0], ref)
        for o in outs[1:]:
            assert o.tobytes() == outs[0].tobytes(), src


# ---------------------------------------------------------------------------
# file layouts


@pytest.mark.parametrize("dta,dtb", [(">f8", ">i4"), (">f4", "<f4"), ("<i8", ">i2")])
def test_big_endian(cli, tmp_path, dta, dtb):
    a = values(dta[1:], (6, 5), 19, True).astype(dta)
    b = values(dtb[1:], (6, 5), 20, True).astype(dtb)
    for src in ["a * b + exp(a / 16)", "a < b", "sum(a * 2 - b, axis=0)"]:
        out, ref = run_eval(cli, tmp_path, src, {"a": a, "b": b})
        assert out.dtype.isnative
        assert_same(out, ref.astype(ref.dtype.newbyteorder("=")))


def test_fortran_order(cli, tmp_path):
    a = np.asfortranarray(values("float64", (5, 7), 21))
    b = np.asfortranarray(values("int32", (5, 7), 22))
    c = values("float64", (5, 7), 23)
    out, ref = run_eval(cli, tmp_path, "a * b - exp(a)", {"a": a, "b": b})
    assert_same(out, ref)
    assert out.flags.f_contiguous and not out.flags.c_contiguous
    # a C-order input: the output is in C order
    out, ref = run_eval(cli, tmp_path, "a * b - c", {"a": a, "b": b, "c": c})
    assert_same(out, ref)
    assert out.flags.c_contiguous
    # scalars do not count; reductions keep the order of what is left
    out, ref = run_eval(cli, tmp_path, "a * x", {"a": a}, {"x": "2"})
    assert_same(out, ref)
    assert out.flags.f_contiguous
    a3 = np.asfortranarray(values("float64", (3, 4, 5), 24))
    out, ref = run_eval(cli, tmp_path, "sum(a, axis=1)", {"a": a3})
    assert_same(out, ref)
    assert out.flags.f_contiguous


def test_in_place(cli, tmp_path):
    a = values("float64", (6, 7), 25)
    b = values("float64", (6, 7), 26)
    pa, pb = save(tmp_path / "a.npy", a), save(tmp_path / "b.npy", b)
    size = os.path.getsize(pa)
    cli.ok("eval", "where(a > 0, exp(a / 4), b) * 2", f"a={pa}", f"b={pb}", "-o", pa)
    np.testing.assert_allclose(np.load(pa), np.where(a > 0, np.exp(a / 4), b) * 2,
                               rtol=1e-12)
    assert os.path.getsize(pa) == size
    # the same file under two names
    cli.ok("eval", "x * y", f"x={pb}", f"y={pb}", "-o", pb)
    np.testing.assert_array_equal(np.load(pb), b * b)


def test_in_place_big_endian_and_casting(cli, tmp_path):
    a = values("float64", (4, 5), 27).astype(">f8")
    pa = save(tmp_path / "a.npy", a)
    cli.ok("eval", "a + 1", f"a={pa}", "-o", pa)
    got = np.load(pa)
    assert got.dtype == np.dtype(">f8")
    np.testing.assert_array_equal(got, a + 1)
    i = values("int32", (4, 5), 28)
    pi_ = save(tmp_path / "i.npy", i)
    before = open(pi_, "rb").read()
    res = cli.fails("eval", "i * 1.5", f"i={pi_}", "-o", pi_)
    assert "in place" in res.stderr and "float64" in res.stderr
    assert open(pi_, "rb").read() == before
    cli.ok("eval", "i * 1.5", f"i={pi_}", "-o", pi_, "--casting", "unsafe")
    np.testing.assert_array_equal(np.load(pi_), (i * 1.5).astype(np.int32))
    # a result of another shape cannot go in place
    before = open(pi_, "rb").read()
    cli.fails("eval", "sum(i, axis=0)", f"i={pi_}", "-o", pi_)
    assert open(pi_, "rb").read() == before


def test_overwrites_existing_output(cli, tmp_path):
    a = values("float32", (10,), 29)
    pa = save(tmp_path / "a.npy", a)
    out = tmp_path / "o.npy"
    save(out, np.zeros((50, 50)))
    cli.ok("eval", "a * 2", f"a={pa}", "-o", out)
    got = np.load(out)
    assert got.dtype == np.float32 and got.shape == (10,)
    np.testing.assert_array_equal(got, a * 2)


def test_empty_arrays(cli, tmp_path):
    for shape in [(0,), (3, 0)]:
        a = np.zeros(shape)
        out, ref = run_eval(cli, tmp_path, "exp(a) + 1", {"a": a})
        assert_same(out, ref)
    out, ref = run_eval(cli, tmp_path, "sum(a, axis=1)", {"a": np.zeros((3, 0))})
    assert_same(out, ref)


# ---------------------------------------------------------------------------
# --explain


def test_explain_with_dtypes(cli):
    res = cli.ok("eval", "--explain", "a*2+c", "a=float64", "c=float32")
    out = res.stdout
    assert "multiply" in out and "add" in out, out
    assert "cast.float64(c)" in out, out  # c declared float32
    res = cli.ok("eval", "--explain", "where(a > 0.5, exp(a), log1p(a))", "a=float64")
    for word in ("where", "exp", "log1p", "greater"):
        assert word in res.stdout, res.stdout


def test_explain_with_files_and_scalars(cli, tmp_path):
    pa = save(tmp_path / "a.npy", np.ones(5, dtype=np.float32))
    res = cli.ok("eval", "--explain", "t = a * s; sum(exp(t), axis=0)", f"a={pa}", "s=2.5")
    out = res.stdout
    assert "float32" in out and "exp" in out and "sum" in out, out
    assert sorted(os.listdir(tmp_path)) == ["a.npy"]


def test_explain_errors(cli, tmp_path):
    res = cli.fails("eval", "--explain", "a * 2")
    assert "unknown name 'a' at column 1" in res.stderr
    cli.fails("eval", "--explain", "a * 2", "a=float64", "-o", tmp_path / "o.npy")
    assert not (tmp_path / "o.npy").exists()
    res = cli.fails("eval", "--explain", "a * 2", "a=notadtype")
    assert "notadtype" in res.stderr


# ---------------------------------------------------------------------------
# errors


@pytest.fixture
def ab(tmp_path):
    return (save(tmp_path / "a.npy", np.arange(1.0, 4.0)),
            save(tmp_path / "b.npy", np.arange(4.0)))


@pytest.mark.parametrize("src,column,text", [
    ("a * (b + ", 10, "end of input"),
    ("a +* b", 4, "expected a value"),
    ("a $ b", 3, "'$'"),
    ("exp(a", 6, ""),
    ("", 1, "empty"),
    ("a ) + 1", 3, ")"),
    ("t = a; 1 = t", None, "assign"),
])
def test_syntax_error_column(cli, tmp_path, ab, src, column, text):
    res = cli.fails("eval", src, f"a={ab[0]}", "-o", tmp_path / "o.npy")
    m = re.fullmatch(r"ndpar: syntax error at column (\d+): (.+)\n", res.stderr)
    assert m, res.stderr
    if column is not None:
        assert int(m.group(1)) == column, res.stderr
    assert text in m.group(2)
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("src,name,column", [
    ("a + zz", "zz", 5),
    ("zz", "zz", 1),
    ("t = a; t * q2", "q2", 12),
    ("exp(b)", "b", 5),
])
def test_unknown_name(cli, tmp_path, ab, src, name, column):
    res = cli.fails("eval", src, f"a={ab[0]}", "-o", tmp_path / "o.npy")
    assert res.stderr == f"ndpar: unknown name '{name}' at column {column}\n"


def test_unknown_function(cli, tmp_path, ab):
    res = cli.fails("eval", "1 + foo(a)", f"a={ab[0]}", "-o", tmp_path / "o.npy")
    assert "'foo'" in res.stderr and "column 5" in res.stderr


def test_syntax_error_caret_on_terminal(cli_path, tmp_path, ab):
    rc, tty, stdout, _, _ = run_on_pty(
        [cli_path, "eval", "a +* 2", f"a={ab[0]}", "-o", str(tmp_path / "o.npy")])
    assert rc == 2
    lines = tty.replace("\r\n", "\n").splitlines()
    assert lines[0] == "ndpar: syntax error at column 4: expected a value", tty
    assert len(lines) == 3, tty
    expr_at = lines[1].index("a +* 2")
    assert lines[2] == " " * (expr_at + 3) + "^", tty


def bad_eval_cases(tmp_path, a, b):
    text = tmp_path / "text.npy"
    text.write_text("not a npy file")
    return [
        (["a + b", f"a={a}", f"b={b}"], "broadcast"),                 # (3,) with (4,)
        (["a + 1", f"a={a}"], "-o"),                                   # no -o
        (["a", f"a={a}", "b"], "NAME="),                               # not NAME=VALUE
        (["a", f"1a={a}"], "1a"),
        (["a", f"a-b={a}"], "a-b"),
        (["a", "a="], "a="),
        (["a", f"a={a}", f"a={b}"], "'a' given twice"),
        (["a * 2", "a=float64"], "--explain"),
        (["a", "a=nope.npy"], "nope.npy"),
        (["a", f"a={text}"], "text.npy"),
        (["a", f"a={tmp_path}"], "directory"),
        (["a", f"a={a}", "--casting", "sometimes"], "--casting"),
        (["~a", f"a={a}"], "~"),
        (["n", "n=99999999999999999999"], "int64"),
        ([], "EXPR"),
        (["a", f"a={a}", "--bogus"], "--bogus"),
        (["sum(a, axis=3)", f"a={a}"], "axis"),
        (["sum(a) + a", f"a={a}"], "reduction"),
    ]


def test_bad_usage(cli, tmp_path, ab):
    out = tmp_path / "out.npy"
    for args, text in bad_eval_cases(tmp_path, *ab):
        extra = [] if text == "-o" else ["-o", out]
        res = cli.fails("eval", *args, *extra)
        assert text in res.stderr, (args, res.stderr)
        assert not out.exists(), args


def test_output_in_missing_directory(cli, tmp_path, ab):
    cli.fails("eval", "a", f"a={ab[0]}", "-o", tmp_path / "nope" / "o.npy")


def test_weak_scalar_out_of_range_literal(cli, tmp_path):
    pa = save(tmp_path / "a.npy", np.arange(5, dtype=np.int8))
    res = cli.fails("eval", "a + 300", f"a={pa}", "-o", tmp_path / "o.npy")
    assert "300" in res.stderr and "int8" in res.stderr


# ---------------------------------------------------------------------------
# '--': the argument after it is the EXPR whatever it starts with; -o/--output
# is still an option after it, nothing else is


@pytest.mark.parametrize("argv_tail,name", [
    (["--", "-h*2", "h={x}", "-o", "{out}"], "h"),
    (["--", "-o*2", "o={x}", "--output={out}"], "o"),
    (["--", "-o * 2", "o={x}", "--output", "{out}"], "o"),
    (["-o", "{out}", "--", "-h*2", "h={x}"], "h"),
    (["--", "-h*2", "h={x}", "-o{out}"], "h"),
])
def test_double_dash(cli, tmp_path, argv_tail, name):
    x = np.arange(1.0, 5.0)
    names = {"x": save(tmp_path / "x.npy", x), "out": str(tmp_path / "q.npy")}
    cli.ok("eval", *[a.format(**names) for a in argv_tail])
    assert_same(np.load(tmp_path / "q.npy"), -x * 2)


def test_double_dash_after_expr(cli, tmp_path):
    x = np.arange(1.0, 5.0)
    px = save(tmp_path / "x.npy", x)
    cli.ok("eval", "a - 1", "--", f"a={px}", "-o", tmp_path / "q.npy")
    assert_same(np.load(tmp_path / "q.npy"), x - 1)


def test_double_dash_other_options_are_operands(cli, tmp_path):
    """After '--' only -o/--output is an option, as the help says."""
    px = save(tmp_path / "x.npy", np.arange(3.0))
    out = tmp_path / "q.npy"
    res = cli.fails("eval", "--", "-h*2", f"h={px}", "--threads", "2", "-o", out)
    assert "'--threads'" in res.stderr
    assert not out.exists()


def test_double_dash_rule_in_help(cli):
    text = " ".join(cli.ok("eval", "--help").stdout.split())
    assert "the argument after '--' is the EXPR, whatever it starts with" in text
    assert "-o/--output OUT.npy (the one option still read after '--')" in text
    assert "ndpar eval -- '-h * 2' h=x.npy -o q.npy" in text
    main = " ".join(cli.ok("--help").stdout.split())
    assert "After '--'" in main and "except -o/--output" in main


def test_double_dash_map(cli, tmp_path):
    """The same parser rule for map: after '--' arguments starting with '-'
    are operands, -o is still the output."""
    x = np.arange(1.0, 5.0)
    px = save(tmp_path / "x.npy", x)
    cli.ok("map", "add", "--", px, "-1.5", "-o", tmp_path / "q.npy")
    assert_same(np.load(tmp_path / "q.npy"), x + -1.5)
    res = cli.fails("map", "negative", "--", "-x.npy", "-o", tmp_path / "r.npy")
    assert "-x.npy" in res.stderr


# ---------------------------------------------------------------------------
# help


def test_help(cli):
    for args in (["eval", "--help"], ["eval", "-h"], ["help", "eval"]):
        res = cli.ok(*args)
        assert res.stdout.startswith("usage: ndpar eval")
        for word in ("--explain", "NAME=", "where", "axis=0", "NEP 50"):
            assert word in res.stdout
    res = cli.ok("--help")
    assert re.search(r"^  eval\s", res.stdout, re.M)


# ---------------------------------------------------------------------------
# progress and interrupt: a reduction over a large broadcast (the output is
# one number, so nothing large is written)


@pytest.fixture(scope="module")
def slow_eval(tmp_path_factory, cli_path):
    """A reduction over a broadcast of 10^6 x 4000 points on one thread:
    minutes of work, so it is still running whenever its bar shows (the
    test interrupts it then), and no probe run is needed."""
    d = tmp_path_factory.mktemp("slow_eval")
    env = {"NDPAR_ISA": "ref"}
    b = save(d / "b.npy", np.linspace(0.1, 3.0, 4000))
    rows = 1_000_000
    a = save(d / "a.npy", np.linspace(0.5, 2.0, rows).reshape(rows, 1))
    src = "sum(hypot(a, b) * exp(-a) + arctan2(a, b))"
    argv = [cli_path, "eval", src, f"a={a}", f"b={b}", "-o", str(d / "out.npy"),
            "--threads", "1"]
    return argv, env, d


def test_progress_and_interrupt(slow_eval):
    """^C once the bar shows: exit 130, one message, and a file that was at
    -o is left as it was (no temporary either)."""
    argv, env, d = slow_eval
    out = d / "out.npy"
    save(out, np.arange(5.0))
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    rc, tty, stdout, seconds, sent = run_on_pty(argv, env, interrupt_when=BAR)
    assert sent, f"the job ended in {seconds:.1f} s before drawing its bar: {tty!r}"
    assert rc == 130, tty
    assert "eval" in tty and BAR.search(tty), repr(tty)
    lines = [ln for ln in tty.replace("\r\x1b[K", "\n").splitlines() if ln.strip()]
    assert lines[-1].startswith("ndpar: ") and "interrupt" in lines[-1], repr(tty)
    assert sum(ln.startswith("ndpar: ") for ln in lines) == 1, repr(tty)
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before
