"""Tests of the ndpar command: info, map, demo, help and the error contract.

Results of `map` are compared with NumPy on the same .npy files, dtype
included (float16 too: within 1 float16 ULP). Every bad input must
exit 2 with exactly one line "ndpar: ..." on stderr and leave no output file.
The `cli` fixture (conftest.py) runs the command found through NDPAR_CLI or
PATH.
"""
import os
import re
import select
import signal
import subprocess
import time

import numpy as np
import pytest

# ---------------------------------------------------------------------------
# helpers


def save(path, arr, **kw):
    np.save(str(path), arr, **kw)
    return str(path)


def ndpar_dtype(numpy_dtype):
    """The dtype ndpar gives where NumPy gives numpy_dtype (the same)."""
    return np.dtype(numpy_dtype)


def reference(func, *operands, **kw):
    """NumPy's result."""
    with np.errstate(all="ignore"):
        ref = getattr(np, func)(*operands, **kw)
    return np.asarray(ref)


def assert_matches(out, ref):
    assert out.dtype == ndpar_dtype(ref.dtype), f"dtype {out.dtype}, expected {ref.dtype}"
    assert out.shape == ref.shape
    if out.dtype == np.float16:  # float32 results rounded: 1 float16 ULP
        np.testing.assert_allclose(out, ref, rtol=2.0**-10, atol=0, equal_nan=True)
    elif out.dtype.kind == "f":
        np.testing.assert_allclose(out, ref, rtol=1e-6, atol=0, equal_nan=True)
    else:
        np.testing.assert_array_equal(out, ref)


def sample(dtype, shape=(3, 5), seed=0):
    """Values in the domain of log (positive) with a few special ones."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dt.kind in "iu":
        hi = min(np.iinfo(dt).max, 100)
        return rng.integers(1, hi, size=shape).astype(dt)
    return (rng.random(shape) * 4 + 0.25).astype(dt)


DTYPES = ["float64", "float32", "int32", "uint8", "bool"]

# ---------------------------------------------------------------------------
# help, version, info


def test_version(cli):
    res = cli.ok("--version")
    assert re.fullmatch(r"ndpar \d+\.\d+\.\d+\n", res.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h"],
        ["info", "--help"],
        ["map", "--help"],
        ["map", "-h"],
        ["demo", "--help"],
        ["rolling", "--help"],
        ["help"],
        ["help", "map"],
    ],
)
def test_help(cli, args):
    res = cli.ok(*args)
    assert res.stdout.startswith("usage: ndpar")


def test_map_help_lists_functions(cli):
    res = cli.ok("map", "--help")
    for name in ("exp", "log", "add", "floor_divide", "logical_xor"):
        assert re.search(rf"\b{name}\b", res.stdout)


def test_info(cli):
    res = cli.ok("info")
    out = res.stdout
    assert re.search(r"^ndpar \d+\.\d+\.\d+$", out, re.M)
    m = re.search(r"^threads: (\d+) \(default (\d+)\)$", out, re.M)
    assert m and int(m.group(1)) >= 1 and int(m.group(2)) >= 1
    assert re.search(r"^isa: (ref|sse2|avx2|avx512) \(cpu best: (ref|sse2|avx2|avx512)\)$",
                     out, re.M)
    assert re.search(r"^mathlib: \S+", out, re.M)
    assert "bandwidth" not in out


def test_info_threads(cli):
    res = cli.ok("info", "--threads", "3")
    assert re.search(r"^threads: 3 \(default \d+\)$", res.stdout, re.M)
    res = cli.ok("--threads", "2", "info")
    assert re.search(r"^threads: 2 \(default \d+\)$", res.stdout, re.M)


def test_info_bandwidth(cli):
    res = cli.ok("info", "--bandwidth")
    m = re.search(r"^bandwidth: copy ([\d.]+) GB/s, triad ([\d.]+) GB/s", res.stdout, re.M)
    assert m, res.stdout
    assert float(m.group(1)) > 0 and float(m.group(2)) > 0


# ---------------------------------------------------------------------------
# map: results against NumPy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", ["exp", "log", "sin"])
def test_map_unary(cli, tmp_path, func, dtype):
    x = sample(dtype)
    src = save(tmp_path / "x.npy", x)
    out = tmp_path / "out.npy"
    cli.ok("map", func, src, "-o", out)
    assert_matches(np.load(out), reference(func, x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", ["add", "power", "less", "floor_divide"])
def test_map_binary_arrays(cli, tmp_path, func, dtype):
    a, b = sample(dtype, seed=1), sample(dtype, seed=2)
    if func == "power" and dtype == "uint8":
        b = (b % 4).astype(np.uint8)  # keep uint8 powers from wrapping wildly
    out = tmp_path / "out.npy"
    cli.ok("map", func, save(tmp_path / "a.npy", a), save(tmp_path / "b.npy", b),
           "-o", out)
    # (for bool, NumPy has no power/floor_divide loop and computes in int8)
    assert_matches(np.load(out), reference(func, a, b))


def test_map_mixed_dtypes(cli, tmp_path):
    a = sample("int32", seed=3)
    b = sample("float32", seed=4)
    out = tmp_path / "out.npy"
    cli.ok("map", "add", save(tmp_path / "a.npy", a), save(tmp_path / "b.npy", b),
           "-o", out)
    assert_matches(np.load(out), reference("add", a, b))  # float64


SCALAR_CASES = [
    # func, dtype, scalar as typed, the Python scalar NumPy sees
    ("add", "uint8", "3", 3),
    ("add", "uint8", "255", 255),
    ("add", "int32", "-7", -7),
    ("add", "int32", "1.5", 1.5),
    ("add", "float32", "1.5", 1.5),
    ("add", "float32", "2", 2),
    ("add", "float64", "1e3", 1e3),
    ("add", "bool", "5", 5),
    ("add", "bool", "2.5", 2.5),
    ("add", "bool", "true", True),
    ("add", "int32", "true", True),
    ("add", "float64", "nan", float("nan")),
    ("add", "float64", "-inf", float("-inf")),
    ("add", "float32", "inf", float("inf")),
    ("power", "float64", "2", 2),
    ("power", "float32", "0.5", 0.5),
    ("power", "int32", "3", 3),
    ("less", "float32", "2.5", 2.5),
    ("less", "int32", "50", 50),
    ("less", "uint8", "300", 300),      # NumPy 2 compares out-of-range ints exactly
    ("less", "uint8", "-1", -1),
    ("floor_divide", "int32", "-3", -3),
    ("floor_divide", "uint8", "7", 7),
    ("floor_divide", "float64", "0.75", 0.75),
]


@pytest.mark.parametrize("func,dtype,text,value", SCALAR_CASES)
def test_map_scalar(cli, tmp_path, func, dtype, text, value):
    a = sample(dtype, seed=5)
    out = tmp_path / "out.npy"
    cli.ok("map", func, save(tmp_path / "a.npy", a), text, "-o", out)
    assert_matches(np.load(out), reference(func, a, value))


def test_map_scalar_first(cli, tmp_path):
    a = sample("float64", seed=6)
    out = tmp_path / "out.npy"
    cli.ok("map", "subtract", "10", save(tmp_path / "a.npy", a), "-o", out)
    assert_matches(np.load(out), reference("subtract", 10, a))


# NEP 50 against the loop's dtype: NumPy converts a Python scalar to the
# dtype the loop runs in (divide on integers runs in float64, so 300 fits),
# and refuses it (OverflowError) only when it does not fit that dtype;
# comparisons are exact.
NEP50_FUNCS = ["divide", "add", "multiply", "equal", "less", "logical_and"]
NEP50_DTYPES = ["uint8", "int8", "float32"]
NEP50_SCALARS = ["300", "-1", "-2", "1000", "2.5"]


@pytest.mark.parametrize("scalar_first", [False, True], ids=["array-scalar", "scalar-array"])
@pytest.mark.parametrize("text", NEP50_SCALARS)
@pytest.mark.parametrize("dtype", NEP50_DTYPES)
@pytest.mark.parametrize("func", NEP50_FUNCS)
def test_map_scalar_nep50_grid(cli, tmp_path, func, dtype, text, scalar_first):
    a = np.array([0, 1, 2, 3, 100, 127], dtype=dtype)
    value = float(text) if "." in text else int(text)
    operands = (value, a) if scalar_first else (a, value)
    try:
        with np.errstate(all="ignore"):
            want = np.asarray(getattr(np, func)(*operands))
    except OverflowError:
        want = None
    src = save(tmp_path / "a.npy", a)
    out = tmp_path / "out.npy"
    args = [text, src] if scalar_first else [src, text]
    if want is None:
        res = cli.fails("map", func, *args, "-o", out)
        assert text in res.stderr and "out of bounds" in res.stderr, res.stderr
        assert not out.exists()
        return
    cli.ok("map", func, *args, "-o", out)
    got = np.load(out)
    assert got.dtype == want.dtype, f"dtype {got.dtype}, NumPy gives {want.dtype}"
    np.testing.assert_array_equal(got, want)  # divide is correctly rounded


@pytest.mark.parametrize("casting", ["no", "equiv", "safe", "same_kind"])
@pytest.mark.parametrize("func,text", [("add", "3"), ("less", "300"), ("less", "-1"),
                                       ("add", "2.5"), ("logical_and", "300"),
                                       ("divide", "300"), ("multiply", "-2")])
def test_map_scalar_casting(cli, tmp_path, func, text, casting):
    """--casting with a scalar as NumPy's casting=: an int out of range still
    compares exactly under 'no' and 'equiv'; 'equiv' refuses to convert a
    Python int or float to another dtype in arithmetic ('no' does not)."""
    a = np.array([1, 2, 200], dtype=np.uint8)
    value = float(text) if "." in text else int(text)
    try:
        want = np.asarray(getattr(np, func)(a, value, casting=casting))
    except (TypeError, OverflowError):
        want = None
    src = save(tmp_path / "a.npy", a)
    out = tmp_path / "out.npy"
    if want is None:
        cli.fails("map", func, src, text, "--casting", casting, "-o", out)
        assert not out.exists()
        return
    cli.ok("map", func, src, text, "--casting", casting, "-o", out)
    got = np.load(out)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_map_fortran_order(cli, tmp_path):
    a = np.asfortranarray(sample("float64", shape=(4, 6), seed=7))
    src = save(tmp_path / "f.npy", a)
    out = tmp_path / "out.npy"
    cli.ok("map", "exp", src, "-o", out)
    got = np.load(out)
    assert_matches(got, reference("exp", a))
    assert got.flags.f_contiguous and not got.flags.c_contiguous
    # Fortran with a scalar stays Fortran; with a C input it becomes C.
    cli.ok("map", "multiply", src, "2", "-o", out)
    assert np.load(out).flags.f_contiguous
    c = sample("float64", shape=(4, 6), seed=8)
    cli.ok("map", "add", src, save(tmp_path / "c.npy", c), "-o", out)
    got = np.load(out)
    assert got.flags.c_contiguous
    assert_matches(got, reference("add", a, c))


@pytest.mark.parametrize("dtype", [">f8", ">f4", ">i4", ">u2"])
def test_map_big_endian(cli, tmp_path, dtype):
    a = sample("float64", seed=9).astype(dtype)
    if a.dtype.kind in "iu":
        a = (sample("int32", seed=9) % 50).astype(dtype)
    src = save(tmp_path / "be.npy", a)
    out = tmp_path / "out.npy"
    cli.ok("map", "sqrt", src, "-o", out)
    assert_matches(np.load(out), reference("sqrt", a))
    cli.ok("map", "add", src, "1", "-o", out)
    assert_matches(np.load(out), reference("add", a, 1))


def test_map_big_endian_in_place(cli, tmp_path):
    a = sample("float64", seed=10).astype(">f8")
    src = save(tmp_path / "be.npy", a)
    cli.ok("map", "exp", src, "-o", src)
    got = np.load(src)
    assert got.dtype == np.dtype(">f8")
    np.testing.assert_allclose(got, np.exp(a), rtol=1e-6)


def test_map_zero_d(cli, tmp_path):
    src = save(tmp_path / "z.npy", np.array(2.5))
    out = tmp_path / "out.npy"
    cli.ok("map", "exp", src, "-o", out)
    got = np.load(out)
    assert got.shape == () and got.dtype == np.float64
    np.testing.assert_allclose(got, np.exp(2.5), rtol=1e-15)
    vec = save(tmp_path / "v.npy", np.arange(4.0))
    cli.ok("map", "add", src, vec, "-o", out)
    assert_matches(np.load(out), reference("add", np.array(2.5), np.arange(4.0)))


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4, 2)])
def test_map_empty(cli, tmp_path, shape):
    a = np.zeros(shape, dtype=np.float32)
    src = save(tmp_path / "e.npy", a)
    out = tmp_path / "out.npy"
    cli.ok("map", "exp", src, "-o", out)
    got = np.load(out)
    assert got.shape == shape and got.dtype == np.float32
    cli.ok("map", "add", src, "1", "-o", out)
    assert np.load(out).shape == shape


def test_map_broadcast(cli, tmp_path):
    a = np.arange(3.0).reshape(3, 1)
    b = np.arange(4, dtype=np.int16)
    out = tmp_path / "out.npy"
    cli.ok("map", "add", save(tmp_path / "a.npy", a), save(tmp_path / "b.npy", b),
           "-o", out)
    got = np.load(out)
    assert got.shape == (3, 4)
    assert_matches(got, reference("add", a, b))
    cli.ok("map", "less", save(tmp_path / "b.npy", b), save(tmp_path / "a.npy", a),
           "-o", out)
    assert_matches(np.load(out), reference("less", b, a))


def test_map_in_place(cli, tmp_path):
    a = sample("float64", seed=11)
    src = save(tmp_path / "a.npy", a)
    ino = os.stat(src).st_ino
    cli.ok("map", "exp", src, "-o", src)
    assert os.stat(src).st_ino == ino
    np.testing.assert_allclose(np.load(src), np.exp(a), rtol=1e-6)
    # same file twice, in place: a <- a * a
    b = np.load(src)
    cli.ok("map", "multiply", src, src, "-o", src)
    np.testing.assert_allclose(np.load(src), b * b, rtol=1e-6)
    # through another name for the same file
    link = tmp_path / "link.npy"
    os.symlink(src, link)
    c = np.load(src)
    cli.ok("map", "negative", src, "-o", link)
    assert os.path.islink(link)
    np.testing.assert_array_equal(np.load(src), -c)


def test_map_in_place_mismatch(cli, tmp_path):
    a = np.arange(15, dtype=np.int32).reshape(3, 5)  # exp stays within int32
    src = save(tmp_path / "a.npy", a)
    before = open(src, "rb").read()
    cli.fails("map", "exp", src, "-o", src)  # float64 result into int32
    v = np.arange(10, dtype=np.int32).reshape(2, 1, 5)
    cli.fails("map", "add", src, save(tmp_path / "v.npy", v), "-o", src)  # (2, 3, 5)
    assert open(src, "rb").read() == before
    # NumPy's out= with casting='unsafe' allows it
    cli.ok("map", "exp", src, "-o", src, "--casting", "unsafe")
    ref = a.copy()
    np.exp(a, out=ref, casting="unsafe")
    np.testing.assert_array_equal(np.load(src), ref)


def test_map_dtype_option(cli, tmp_path):
    u8 = np.array([1, 2, 250], dtype=np.uint8)
    src = save(tmp_path / "u8.npy", u8)
    out = tmp_path / "out.npy"
    cli.ok("map", "add", src, "300", "--dtype", "int16", "-o", out)
    assert_matches(np.load(out), np.add(u8, 300, dtype=np.int16))
    f64 = sample("float64", seed=13)
    src = save(tmp_path / "f.npy", f64)
    cli.ok("map", "exp", src, "--dtype", "float32", "-o", out)
    assert_matches(np.load(out), np.exp(f64, dtype=np.float32))
    cli.ok("map", "exp", src, "--dtype=f8", "--casting=safe", "--output=" + str(out))
    assert_matches(np.load(out), np.exp(f64))


def test_map_threads(cli, tmp_path):
    a = np.linspace(-5, 5, 100_001)
    src = save(tmp_path / "a.npy", a)
    for n in ("1", "2", "7"):
        out = tmp_path / f"out{n}.npy"
        cli.ok("map", "tanh", src, "-o", out, "--threads", n)
        np.testing.assert_allclose(np.load(out), np.tanh(a), rtol=1e-6, atol=1e-300)


def test_map_aliases(cli, tmp_path):
    a = sample("float64", seed=14)
    src = save(tmp_path / "a.npy", a)
    out = tmp_path / "out.npy"
    cli.ok("map", "absolute", src, "-o", out)
    assert_matches(np.load(out), np.absolute(a))
    cli.ok("map", "true_divide", src, "4", "-o", out)
    assert_matches(np.load(out), np.true_divide(a, 4))


def test_map_integer_division_by_zero(cli, tmp_path):
    a = np.array([7, -7, 7, 0], dtype=np.int32)
    b = np.array([0, 2, -2, 0], dtype=np.int32)
    out = tmp_path / "out.npy"
    cli.ok("map", "floor_divide", save(tmp_path / "a.npy", a),
           save(tmp_path / "b.npy", b), "-o", out)
    assert_matches(np.load(out), reference("floor_divide", a, b))


def test_map_overwrites_existing_output(cli, tmp_path):
    out = save(tmp_path / "out.npy", np.zeros((100, 100)))
    a = np.arange(3.0)
    cli.ok("map", "exp", save(tmp_path / "a.npy", a), "-o", out)
    assert_matches(np.load(out), np.exp(a))


# ---------------------------------------------------------------------------
# map: bad input


@pytest.fixture
def files(tmp_path):
    """A few good and bad .npy files, by name."""
    good = np.arange(100.0)
    f = {"good": save(tmp_path / "good.npy", good)}
    raw = open(f["good"], "rb").read()

    def write(name, data):
        path = tmp_path / name
        path.write_bytes(data)
        f[name.split(".")[0]] = str(path)

    write("trunc_data.npy", raw[:-40])
    write("trunc_header.npy", raw[:30])
    write("magic_only.npy", raw[:8])
    write("empty.npy", b"")
    write("garbage.npy", np.random.default_rng(0).bytes(300))
    f["complex"] = save(tmp_path / "complex.npy", np.arange(4, dtype=np.complex128))
    f["object"] = save(tmp_path / "object.npy", np.array([1, "a"], dtype=object),
                       allow_pickle=True)
    f["struct"] = save(tmp_path / "struct.npy",
                       np.zeros(3, dtype=[("a", "<f8"), ("b", "<i4")]))

    def header(text, version=1):
        body = text.encode("latin1")
        total = 10 + len(body) + 1
        pad = (64 - total % 64) % 64
        body += b" " * pad + b"\n"
        return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body

    write("bad_descr.npy", header("{'descr': '<c16', 'fortran_order': False, "
                                  "'shape': (2,), }") + bytes(32))
    write("no_shape.npy", header("{'descr': '<f8', 'fortran_order': False, }")
          + bytes(16))
    write("neg_shape.npy", header("{'descr': '<f8', 'fortran_order': False, "
                                  "'shape': (-3,), }") + bytes(16))
    write("huge_shape.npy", header("{'descr': '<f8', 'fortran_order': False, "
                                   "'shape': (4611686018427387904, 4), }") + bytes(16))
    write("not_dict.npy", header("[1, 2, 3]") + bytes(16))
    write("bad_version.npy", b"\x93NUMPY\x09\x00" + raw[8:])
    long_hdr = bytearray(raw)
    long_hdr[8:10] = (65535).to_bytes(2, "little")
    write("long_header_len.npy", bytes(long_hdr))
    f["dir"] = str(tmp_path)
    os.mkfifo(tmp_path / "fifo.npy")
    f["fifo"] = str(tmp_path / "fifo.npy")
    f["device"] = "/dev/zero"
    f["missing"] = str(tmp_path / "nope.npy")
    return f


BAD_FILES = ["trunc_data", "trunc_header", "magic_only", "empty", "garbage", "complex",
             "object", "struct", "bad_descr", "no_shape", "neg_shape",
             "huge_shape", "not_dict", "bad_version", "long_header_len", "dir",
             "fifo", "device", "missing"]


@pytest.mark.parametrize("name", BAD_FILES)
def test_map_bad_file(cli, tmp_path, files, name):
    out = tmp_path / "out.npy"
    cli.fails("map", "exp", files[name], "-o", out)
    assert not out.exists()
    cli.fails("map", "add", files["good"], files[name], "-o", out)
    assert not out.exists()


BAD_USAGE = [
    ["map", "frobnicate", "{good}", "-o", "{out}"],          # unknown function
    ["map", "exp", "{good}", "{good}", "-o", "{out}"],       # too many operands
    ["map", "add", "{good}", "-o", "{out}"],                 # too few
    ["map", "add", "{good}", "{good}", "{good}", "-o", "{out}"],
    ["map", "exp", "-o", "{out}"],
    ["map"],
    ["map", "exp", "{good}"],                                # missing -o
    ["map", "exp", "{good}", "-o"],                          # -o without value
    ["map", "exp", "{good}", "-o", "{out}", "--frob"],       # unknown option
    ["map", "exp", "{good}", "-o", "{out}", "-x"],
    ["map", "add", "{good}", "{v4}", "-o", "{out}"],         # (100,) vs (4,)
    ["map", "add", "{m34}", "{v4x}", "-o", "{out}"],         # (3,4) vs (3,)
    ["map", "exp", "{good}", "-o", "{out}", "--threads", "0"],
    ["map", "exp", "{good}", "-o", "{out}", "--threads", "-1"],
    ["map", "exp", "{good}", "-o", "{out}", "--threads", "abc"],
    ["map", "exp", "{good}", "-o", "{out}", "--threads", ""],
    ["map", "exp", "{good}", "-o", "{out}", "--threads", "100000"],
    ["map", "exp", "{good}", "-o", "{out}", "--threads"],
    ["map", "exp", "{good}", "-o", "{out}", "--dtype", "complex128"],
    ["map", "exp", "{good}", "-o", "{out}", "--dtype", "nonsense"],
    ["map", "exp", "{good}", "-o", "{out}", "--casting", "sometimes"],
    ["map", "exp", "{i32}", "-o", "{out}", "--casting", "no"],
    ["map", "add", "{good}", "{i32}", "-o", "{out}", "--dtype", "int32"],  # f8 -> i4
    ["map", "add", "{u8}", "300", "-o", "{out}"],            # out of bounds for uint8
    ["map", "add", "{u8}", "-1", "-o", "{out}"],
    ["map", "add", "{i32}", "99999999999999999999999", "-o", "{out}"],
    ["map", "add", "1", "2", "-o", "{out}"],                 # no array at all
    ["map", "power", "{i32}", "-2", "-o", "{out}"],          # int to negative power
    ["map", "exp", "{good}", "-o", "{nodir}/out.npy"],       # no such directory
    ["map", "exp", "{good}", "-o", "{tmp}"],                 # output is a directory
    ["map", "exp", "{good}", "-o", "/dev/null"],             # cannot be mapped
    ["info", "--threads", "0"],
    ["info", "extra"],
    ["info", "--bandwidth=yes"],
    ["--threads", "0", "info"],
    ["frobnicate"],
    [],
    ["--frob"],
    ["demo", "--size", "0"],
    ["demo", "--size", "abc"],
    ["demo", "--size", "-5M"],
    ["demo", "--size", "1.5x"],
    ["demo", "--size", "1e30"],
    ["demo", "--threads", "-1"],
    ["demo", "extra"],
    ["help", "frobnicate"],
]


@pytest.mark.parametrize("args", BAD_USAGE, ids=[" ".join(a) or "(none)" for a in BAD_USAGE])
def test_bad_usage(cli, tmp_path, files, args):
    names = {
        "good": files["good"],
        "out": str(tmp_path / "out.npy"),
        "v4": save(tmp_path / "v4.npy", np.arange(4.0)),
        "v4x": save(tmp_path / "v3.npy", np.arange(3.0)),
        "m34": save(tmp_path / "m34.npy", np.zeros((3, 4))),
        "i32": save(tmp_path / "i32.npy", np.arange(5, dtype=np.int32)),
        "u8": save(tmp_path / "u8.npy", np.arange(5, dtype=np.uint8)),
        "nodir": str(tmp_path / "no" / "such"),
        "tmp": str(tmp_path),
    }
    cli.fails(*[a.format(**names) for a in args])
    assert not (tmp_path / "out.npy").exists()


def test_write_error_is_runtime_failure(cli):
    if not os.path.exists("/dev/full"):
        pytest.fail("/dev/full is needed for this test")
    with open("/dev/full", "w") as full:
        res = subprocess.run([cli.path, "--version"], stdout=full,
                             stderr=subprocess.PIPE, text=True)
    assert res.returncode == 1
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ndpar: ")


# ---------------------------------------------------------------------------
# demo


def test_demo(cli):
    res = cli.ok("demo", "--size", "64M")
    out = res.stdout
    assert re.search(r"float64 matrix 256 x 32768 \(64 MiB\)", out), out
    assert re.search(r"^bandwidth: copy [\d.]+ GB/s, triad [\d.]+ GB/s", out, re.M)
    assert re.search(r"^job\s+threads\s+seconds\s+GB/s\s+speedup", out, re.M)
    row = r"\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\d+)%$"
    fill = re.search(r"^fill" + row, out, re.M)
    exps = re.findall(r"^exp in place" + row, out, re.M)
    assert fill and len(exps) == 2, out
    assert exps[0][0] == "1" and exps[0][3] == "1.00x"
    assert re.fullmatch(r"[\d.]+x", exps[1][3])
    # the user's rolling mean: 2e6 points, window 21, centered, edge padding
    rolls = re.findall(r"^rolling mean" + row, out, re.M)
    assert len(rolls) == 2, out
    assert rolls[0][0] == "1" and rolls[0][3] == "1.00x"
    assert re.fullmatch(r"[\d.]+x", rolls[1][3])
    assert all(float(r[1]) > 0 for r in rolls)
    m = re.search(r"^rolling mean \(2000000 points, window 21, centered, edge padding\):\n"
                  r"  ([\d.]+) Mpoints/s on 1 thread, ([\d.]+) Mpoints/s on (\d+) threads? "
                  r"\(([\d.]+)x\)$", out, re.M)
    assert m, out
    assert float(m.group(1)) > 0 and float(m.group(2)) > 0
    # the user's own logic: a kernel from Python text, checked against C
    kerns = re.findall(r"^kernel cbrt" + row, out, re.M)
    assert len(kerns) == 2 and kerns[0][0] == "1", out
    assert re.search(r"^kernel cbrt \(\d+ points, Newton's cube root", out, re.M), out
    assert re.search(r"^check: ok\b", out, re.M)


def test_demo_small_sizes_and_threads(cli):
    for size in ("1K", "8", "100KB", "1.5MiB"):
        res = cli.ok("demo", "--size", size, "--threads", "2")
        assert re.search(r"^check: ok\b", res.stdout, re.M)
        assert re.search(r"^exp in place\s+2\s", res.stdout, re.M)
        assert re.search(r"^rolling mean\s+2\s", res.stdout, re.M)
    res = cli.ok("demo", "--size", "1K")
    assert "matrix 1 x 128 " in res.stdout


# ---------------------------------------------------------------------------
# progress bar and interrupt, on a pseudo-terminal
#
# Nothing here waits for a number of seconds: an interrupt is sent once the
# progress bar is on the terminal (the event that shows the job is running),
# and a job that must outlast the bar's one-second delay is sized by the CPU
# time a probe run took, which a busy machine does not shrink (wall-clock
# time would). Timeouts are only a safety net that fails the test.

BAR = re.compile(r"\d+%")


def run_on_pty(argv, env=None, interrupt_when=None, timeout=300):
    """Runs argv with stderr on a pseudo-terminal (stdout a pipe). With
    interrupt_when (a regex), sends SIGINT once what the terminal got
    matches it. Past `timeout` seconds (a safety net) the process is killed
    and the test fails. Returns (exit status, what the terminal got, stdout,
    seconds, whether SIGINT was sent)."""
    import pty

    master, slave = pty.openpty()
    full_env = dict(os.environ)
    full_env.update(env or {})
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, env=full_env)
    os.close(slave)
    tty = b""
    sent = False
    try:
        while True:
            if (interrupt_when is not None and not sent and
                    re.search(interrupt_when, tty.decode("utf-8", "replace"))):
                proc.send_signal(signal.SIGINT)
                sent = True
            r, _, _ = select.select([master], [], [], 0.05)
            if r:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    data = b""
                if not data:
                    break
                tty += data
            elif proc.poll() is not None:
                break
            if time.monotonic() - t0 > timeout:
                proc.kill()
                proc.wait()
                pytest.fail(f"{argv[1:3]} still running after {timeout} s (safety net; "
                            f"interrupt sent: {sent}); terminal: {tty[-300:]!r}")
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stdout = proc.stdout.read()
        proc.stdout.close()
        os.close(master)
    seconds = time.monotonic() - t0
    return rc, tty.decode("utf-8", "replace"), stdout, seconds, sent


def cpu_seconds(argv, env=None):
    """Runs argv to completion; returns the CPU time it used (user + system,
    all its threads)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, env={**os.environ, **(env or {})}, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def listing(d):
    """The names in directory d (an output's temporary would show here)."""
    return sorted(p.name for p in d.iterdir())


@pytest.fixture(scope="module")
def slow_job(tmp_path_factory, cli_path):
    """Arguments of a map job that needs about 2.5 s of CPU on one thread:
    arctan2 with the portable kernels over a broadcast float32 output, sized
    from the CPU time of a probe run."""
    d = tmp_path_factory.mktemp("slow")
    env = {"NDPAR_ISA": "ref"}
    b = save(d / "b.npy", np.linspace(0.1, 3.0, 6000, dtype=np.float32))

    def argv(rows):
        a = save(d / "a.npy", np.linspace(0.5, 2.0, rows, dtype=np.float32).reshape(rows, 1))
        return [cli_path, "map", "arctan2", a, b, "-o", str(d / "out.npy"), "--threads", "1"]

    probe = 1000
    cpu = cpu_seconds(argv(probe), env)
    rows = int(min(max(probe * 2.5 / max(cpu, 1e-3), probe), 40000))
    yield argv(rows), env, d
    for name in ("a.npy", "out.npy"):  # hundreds of MB
        (d / name).unlink(missing_ok=True)


def test_progress_bar_on_terminal(slow_job):
    argv, env, d = slow_job
    rc, tty, stdout, seconds, _ = run_on_pty(argv, env)
    assert rc == 0, tty
    assert BAR.search(tty) and "arctan2" in tty, (
        f"no progress bar in {seconds:.1f} s (drawn after 1 s): {tty!r}")
    assert tty.endswith("\r\x1b[K"), repr(tty[-40:])   # line cleared at the end
    assert tty.count("\r") <= 12 * seconds + 2        # at most ~10 redraws a second
    (d / "out.npy").unlink()


def test_no_progress_bar_off_terminal(slow_job):
    argv, env, d = slow_job
    res = subprocess.run(argv, env={**os.environ, **env}, capture_output=True)
    assert res.returncode == 0 and res.stderr == b""
    (d / "out.npy").unlink()


def test_quick_job_draws_nothing_on_terminal(cli_path, tmp_path):
    """A job of microseconds (the bar waits 1 s: a bound 10^5 times that)."""
    src = save(tmp_path / "a.npy", np.arange(1000.0))
    rc, tty, stdout, seconds, _ = run_on_pty(
        [cli_path, "map", "exp", src, "-o", str(tmp_path / "o.npy")])
    assert rc == 0 and tty == ""


def test_interrupt(slow_job):
    """^C once the bar shows: exit 130, one message, no output file and no
    temporary left."""
    argv, env, d = slow_job
    out = d / "out.npy"
    out.unlink(missing_ok=True)
    before = listing(d)
    rc, tty, stdout, seconds, sent = run_on_pty(argv, env, interrupt_when=BAR)
    assert sent, f"the job ended in {seconds:.1f} s before drawing its bar: {tty!r}"
    assert rc == 130, tty
    lines = [ln for ln in tty.replace("\r\x1b[K", "\n").splitlines() if ln.strip()]
    assert lines[-1].startswith("ndpar: ") and "interrupt" in lines[-1], repr(tty)
    assert sum(ln.startswith("ndpar: ") for ln in lines) == 1, repr(tty)
    assert not out.exists()
    assert listing(d) == before
