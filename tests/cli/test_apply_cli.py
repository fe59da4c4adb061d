"""Tests of `ndpar apply`: a table of expressions chosen per point.

The reference is NumPy point by point: out[i] is line index[i] of the table
evaluated by NumPy (the language is Python's expression syntax with NumPy's
functions) at the inputs' point i, cast to the output's dtype (the
promotion of every line's dtype, or --dtype). Exact for integer results,
within rtol 1e-12 (float64) or 1e-6 (float32) for floats. Every failure
must exit 2 with one line "ndpar: ..." on stderr and leave no output file.
"""
import numpy as np
import pytest

from test_cli import save

NS = {name: getattr(np, name) for name in
      ["where", "exp", "log", "log1p", "sqrt", "sin", "cos", "minimum", "maximum", "abs"]}


def np_line(src, inputs):
    """One table line evaluated by NumPy over whole arrays (elementwise, so
    the same as point by point), as an array of the inputs' length."""
    ns = dict(NS)
    ns.update({f"x{j}": a for j, a in enumerate(inputs)})
    if len(inputs) == 1:
        ns["x"] = inputs[0]
    with np.errstate(all="ignore"):
        r = np.asarray(eval(src, {"__builtins__": {}}, ns))
    return np.broadcast_to(r, inputs[0].shape)


def reference(lines, inputs, index, dtype=None, default=None):
    """out[i] = lines[index[i]](inputs at i), NumPy's way."""
    vals = [np_line(src, inputs) for src in lines]
    if dtype is None:
        dtype = np.result_type(*[v.dtype for v in vals])
    out = np.empty(index.shape, dtype=dtype)
    idx = index.astype(np.int64) if index.dtype != np.uint64 else index
    ok = (idx >= 0) & (idx < len(lines))
    if not ok.all():
        assert default is not None
        out[~ok] = default
    for j, v in enumerate(vals):
        sel = ok & (idx == j)
        out[sel] = v[sel].astype(dtype)
    return out


def assert_same(out, ref):
    assert out.dtype == ref.dtype, f"dtype {out.dtype}, NumPy gives {ref.dtype}"
    assert out.shape == ref.shape
    if ref.dtype.kind == "f":
        rtol = 1e-12 if ref.dtype == np.float64 else 1e-6
        np.testing.assert_allclose(out, ref, rtol=rtol, atol=0, equal_nan=True)
    else:
        np.testing.assert_array_equal(out, ref)


def write_table(path, lines, end="\n"):
    path.write_text(end.join(lines) + end)
    return str(path)


def run_apply(cli, tmp_path, lines, inputs, index, extra=(), names=None):
    """Saves everything, runs ndpar apply, returns the result."""
    args = []
    for j, a in enumerate(inputs):
        name = names[j] if names else f"x{j}"
        args.append(f"{name}={save(tmp_path / f'in{j}.npy', a)}")
    idx = save(tmp_path / "idx.npy", index)
    table = write_table(tmp_path / "table.txt", lines)
    out = tmp_path / "out.npy"
    cli.ok("apply", "--index", idx, "--table", table, *args, "-o", out, *extra)
    return np.load(out)


def rand(n, seed, lo=0.0, hi=1.0, dtype=np.float64):
    return (np.random.default_rng(seed).random(n) * (hi - lo) + lo).astype(dtype)


def rand_index(n, k, seed, dtype=np.int64):
    return np.random.default_rng(seed).integers(0, k, n).astype(dtype)


# ---------------------------------------------------------------------------
# results against NumPy

TABLES = [
    ["x * 2", "sqrt(x)", "x - 1"],
    ["where(x > 0.5, exp(x), log1p(x))", "x * x + 0.25", "sin(x) * cos(x)", "-x"],
    ["x0 / 3"],
    ["2.5", "x * 0", "abs(x - 0.5)", "maximum(x, 0.3)", "x ** 2", "x + 1"],
]


@pytest.mark.parametrize("lines", TABLES)
def test_tables(cli, tmp_path, lines):
    x = rand(20011, 1)
    idx = rand_index(x.size, len(lines), 2)
    out = run_apply(cli, tmp_path, lines, [x], idx, names=["x"])
    assert_same(out, reference(lines, [x], idx))


@pytest.mark.parametrize("dt", ["int8", "uint8", "int16", "uint16", "int32", "uint32",
                                "int64", "uint64"])
def test_index_dtypes(cli, tmp_path, dt):
    lines = [f"x * {j} - {j}" for j in range(7)]
    x = rand(5003, 3, -2, 2)
    idx = rand_index(x.size, len(lines), 4, dt)
    out = run_apply(cli, tmp_path, lines, [x], idx, names=["x0"])
    assert_same(out, reference(lines, [x], idx))


def test_seed_trivial_functional(cli, tmp_path):
    """The issue's example: k = 250 functions j * x, random indices."""
    lines = [f"{j} * x" for j in range(250)]
    x = rand(200000, 5)
    idx = rand_index(x.size, 250, 6)
    out = run_apply(cli, tmp_path, lines, [x], idx, names=["x"])
    np.testing.assert_array_equal(out, idx * x)


def test_multi_input(cli, tmp_path):
    n = 7001
    x0 = rand(n, 7, -1, 1, np.float32)
    x1 = np.random.default_rng(8).integers(-5, 6, n).astype(np.int16)
    x2 = rand(n, 9, 0, 3)
    lines = ["x0 * x1", "x2 - x0", "where(x1 > 0, x0, x2)", "x1 + 1"]
    idx = rand_index(n, len(lines), 10, np.int32)
    out = run_apply(cli, tmp_path, lines, [x0, x1, x2], idx)
    ref = reference(lines, [x0, x1, x2], idx)
    assert out.dtype == np.float64
    assert_same(out, ref)


def test_integer_output(cli, tmp_path):
    x = np.random.default_rng(11).integers(-1000, 1000, 3000).astype(np.int32)
    lines = ["x + 1", "x * 3", "x // 7", "x % 5"]
    idx = rand_index(x.size, 4, 12, np.uint8)
    out = run_apply(cli, tmp_path, lines, [x], idx, names=["x"])
    assert out.dtype == np.int32
    assert_same(out, reference(lines, [x], idx))


def test_dtype_option(cli, tmp_path):
    x = rand(4000, 13)
    lines = ["x * 3", "exp(x)"]
    idx = rand_index(x.size, 2, 14)
    out = run_apply(cli, tmp_path, lines, [x], idx, extra=["--dtype", "float32"])
    assert_same(out, reference(lines, [x], idx, dtype=np.float32))


@pytest.mark.parametrize("default,dtype", [("-3", None), ("-3", "int64"), ("100000", "int32")])
def test_default(cli, tmp_path, default, dtype):
    n = 9000
    x = np.random.default_rng(15).integers(0, 100, n).astype(np.int16)
    lines = ["x * 2", "x + 3", "x - x"]
    idx = np.random.default_rng(16).integers(-3, 6, n)  # a third out of range
    extra = ["--default", default] + (["--dtype", dtype] if dtype else [])
    out = run_apply(cli, tmp_path, lines, [x], idx, extra=extra)
    want_dt = np.dtype(dtype) if dtype else np.dtype(np.int16)
    assert_same(out, reference(lines, [x], idx, dtype=want_dt, default=int(default)))


def test_default_float(cli, tmp_path):
    n = 9000
    x = rand(n, 17)
    lines = ["x * 2", "x + 3"]
    idx = np.random.default_rng(18).integers(-2, 4, n).astype(np.int8)
    for default in ["-7.5", "nan", "inf"]:
        out = run_apply(cli, tmp_path, lines, [x], idx, extra=["--default", default])
        assert_same(out, reference(lines, [x], idx, default=float(default)))


def test_threads_give_the_same_bits(cli, tmp_path):
    x = rand(300000, 19, 0, 3)
    lines = [f"where(x > 1, exp(x * 0.{j}), log1p(x) * sin(x))" for j in range(10)]
    idx = np.where(rand(x.size, 20) < 0.5, 0, rand_index(x.size, 10, 21))
    one = run_apply(cli, tmp_path, lines, [x], idx, extra=["--threads", "1"]).tobytes()
    for t in ["2", "3"]:
        assert run_apply(cli, tmp_path, lines, [x], idx, extra=["--threads", t]).tobytes() == one


def test_line_endings(cli, tmp_path):
    x = rand(100, 22)
    idx = rand_index(100, 2, 23)
    for text in ["x * 2\nx + 1", "x * 2\nx + 1\n", "x * 2\r\nx + 1\r\n"]:
        (tmp_path / "t.txt").write_bytes(text.encode())
        p = save(tmp_path / "x.npy", x)
        i = save(tmp_path / "i.npy", idx)
        cli.ok("apply", "--index", i, "--table", tmp_path / "t.txt", f"x={p}", "-o",
               tmp_path / "o.npy")
        assert_same(np.load(tmp_path / "o.npy"), reference(["x * 2", "x + 1"], [x], idx))


def test_big_endian_files(cli, tmp_path):
    x = rand(3000, 24).astype(">f8")
    idx = rand_index(3000, 3, 25).astype(">i4")
    lines = ["x + 1", "x * 2", "x - 3"]
    out = run_apply(cli, tmp_path, lines, [x], idx)
    assert_same(out, reference(lines, [x.astype("<f8")], idx.astype("<i4")))


def test_empty_input(cli, tmp_path):
    out = run_apply(cli, tmp_path, ["x + 1"], [np.zeros(0)], np.zeros(0, np.int64))
    assert out.shape == (0,) and out.dtype == np.float64


# ---------------------------------------------------------------------------
# errors: exit 2, one line, no output left behind


@pytest.fixture
def files(tmp_path):
    x = save(tmp_path / "x.npy", rand(500, 26))
    idx = rand_index(500, 3, 27)
    idx[123] = -5
    idx[200] = 7
    return {
        "x": x,
        "idx_bad": save(tmp_path / "idx_bad.npy", idx),
        "idx": save(tmp_path / "idx.npy", rand_index(500, 3, 28)),
        "table": write_table(tmp_path / "table.txt", ["x * 2", "x + 1", "sqrt(x)"]),
        "out": str(tmp_path / "out.npy"),
    }


def fails(cli, *args, out=None, match=None):
    res = cli.fails(*args)
    if match:
        assert match in res.stderr, res.stderr
    if out:
        import os
        assert not os.path.exists(out), "a failed run left its output"
    return res


def test_bad_index(cli, files):
    f = files
    fails(cli, "apply", "--index", f["idx_bad"], "--table", f["table"], f"x={f['x']}",
          "-o", f["out"], out=f["out"], match="ndpar: index[123] = -5 is outside [0, 3)")


def test_bad_table_lines(cli, tmp_path, files):
    f = files
    cases = {
        "x * 2\n\nx\n": "table.txt:2: empty line",
        "x * 2\n   \nx\n": "table.txt:2: empty line",
        "x\nx\nx +* 2\n": "table.txt:3: syntax error at column",
        "x\ny + 1\n": "table.txt:2:",
        "x\nsum(x)\n": "table.txt:2:",
        "x\n~x\n": "table.txt:2:",
        "": "is empty",
        "x\n\n": "table.txt:2: empty line",
    }
    for text, match in cases.items():
        (tmp_path / "table.txt").write_text(text)
        fails(cli, "apply", "--index", f["idx"], "--table", tmp_path / "table.txt",
              f"x={f['x']}", "-o", f["out"], out=f["out"], match=match)


def test_usage_errors(cli, tmp_path, files):
    f = files
    base = ["--index", f["idx"], "--table", f["table"]]
    x2d = save(tmp_path / "x2d.npy", np.zeros((4, 5)))
    short = save(tmp_path / "short.npy", np.zeros(499))
    fidx = save(tmp_path / "fidx.npy", np.zeros(500))
    bidx = save(tmp_path / "bidx.npy", np.zeros(500, bool))
    xi = save(tmp_path / "xi.npy", np.zeros(500, np.int16))
    ibase = ["--index", f["idx"], "--table", write_table(tmp_path / "itable.txt", ["x * 2", "x - 3"])]
    cases = [
        (["apply", "--table", f["table"], f"x={f['x']}", "-o", f["out"]], "--index"),
        (["apply", "--index", f["idx"], f"x={f['x']}", "-o", f["out"]], "--table"),
        (["apply", *base, f"x={f['x']}"], "-o"),
        (["apply", *base, "-o", f["out"]], "input"),
        (["apply", *base, f"y={f['x']}", "-o", f["out"]], "bad input name"),
        (["apply", *base, f"x={f['x']}", f"x0={f['x']}", "-o", f["out"]], "twice"),
        (["apply", *base, f"x={f['x']}", f"x1={f['x']}", "-o", f["out"]], "x0, x1"),
        (["apply", *base, f"x0={f['x']}", f"x2={f['x']}", "-o", f["out"]], "x1 is missing"),
        (["apply", *base, f"x={tmp_path / 'nope.npy'}", "-o", f["out"]], "nope.npy"),
        (["apply", "--index", f["idx"], "--table", tmp_path / "nope.txt", f"x={f['x']}",
          "-o", f["out"]], "nope.txt"),
        (["apply", *base, f"x={x2d}", "-o", f["out"]], "one-dimensional"),
        (["apply", *base, f"x={short}", "-o", f["out"]], "499"),
        (["apply", "--index", fidx, "--table", f["table"], f"x={f['x']}", "-o", f["out"]],
         "integers"),
        (["apply", "--index", bidx, "--table", f["table"], f"x={f['x']}", "-o", f["out"]],
         "integers"),
        (["apply", *base, f"x={f['x']}", "-o", f["out"], "--dtype", "int32"], "table.txt:1"),
        (["apply", *base, f"x={f['x']}", "-o", f["out"], "--dtype", "float16x"], "dtype"),
        (["apply", *base, f"x={f['x']}", "-o", f["out"], "--default", "abc"], "--default"),
        (["apply", *base, f"x={f['x']}", "-o", f["out"], "--dtype", "float32", "--default",
          "1e40"], "--default"),
        (["apply", *base, f"x={f['x']}", "-o", f["out"], "--bogus"], "unknown option"),
        (["apply", *ibase, f"x={xi}", "-o", f["out"], "--default", "1.5"], "--default"),
        (["apply", *ibase, f"x={xi}", "-o", f["out"], "--default", "40000"], "--default"),
        (["apply", *ibase, f"x={xi}", "-o", f["out"], "--dtype", "uint8"], "itable.txt:1"),
    ]
    for args, match in cases:
        fails(cli, *args, out=f["out"], match=match)
    # the output may not be an input
    fails(cli, "apply", *base, f"x={f['x']}", "-o", f["x"], match="also an input")
    assert np.load(f["x"]).shape == (500,)


def test_help(cli):
    res = cli.ok("apply", "--help")
    assert "--index" in res.stdout and "--table" in res.stdout
    assert "apply" in cli.ok("--help").stdout
