"""Bad arguments, and what ndpar does to its inputs (nothing) and to memory
(no hidden copies)."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import ndpar
from ndpar_testutil import BINARY, UNARY, test_values

X = np.linspace(-1, 1, 10)


def _args(name):
    return (X,) if name in UNARY else (X, X[::-1].copy())


def _argnames(name):
    return ("x",) if name in UNARY else ("x1", "x2")


# ---- argument count and keywords ------------------------------------------------------

@pytest.mark.parametrize("name", UNARY + BINARY)
def test_argument_count(name):
    f = getattr(ndpar, name)
    nin = 1 if name in UNARY else 2
    with pytest.raises(TypeError, match=name):
        f()
    if nin == 2:
        with pytest.raises(TypeError, match=name):
            f(X)
    out = np.empty_like(X)
    with pytest.raises(TypeError, match=name):
        f(*_args(name), out, out)  # one positional too many
    with pytest.raises(TypeError, match="bogus"):
        f(*_args(name), bogus=1)
    with pytest.raises(TypeError, match="out"):
        f(*_args(name), out, out=out)  # out twice
    with pytest.raises(TypeError):
        f(x=X) if nin == 1 else f(x1=X, x2=X)  # inputs are positional-only
    with pytest.raises(TypeError):
        f(*_args(name), where=True)  # not supported: NumPy's where=, order=, ...
    with pytest.raises(TypeError):
        f(*_args(name), order="C")


@pytest.mark.parametrize("name", ["exp", "add", "less", "negative"])
@pytest.mark.parametrize("bad", [
    np.array([1 + 2j]), np.array([None], dtype=object),
    np.array(["a"]), np.array([b"a"]), np.array([1.0], dtype=np.longdouble),
    np.array(["2020-01-01"], dtype="datetime64[D]"), np.array([1], dtype="timedelta64[s]"),
    np.zeros(1, dtype=[("a", "f8")]), np.array([1j], dtype=np.complex64),
    1 + 2j, "abc", None, object(), [1, "a"], {"a": 1},
])
def test_unsupported_input_types(name, bad):
    names = ("x",) if name in ("exp", "negative") else ("x1", "x2")
    good = np.array([1.0])
    for pos, argname in enumerate(names):
        args = [good] * len(names)
        args[pos] = bad
        with pytest.raises(TypeError, match=f"'{argname}'"):
            getattr(ndpar, name)(*args)


def test_unsupported_types_message_lists_supported():
    with pytest.raises(TypeError) as ei:
        ndpar.exp(np.array([1.0], dtype=np.complex64))
    msg = str(ei.value)
    assert "'x'" in msg and "complex64" in msg and "float16" in msg and "float64" in msg


@pytest.mark.parametrize("name", ["exp", "add"])
def test_bad_casting(name):
    args = _args(name)
    f = getattr(ndpar, name)
    for bad in ("", "SAFE", "unsafe ", "fast", "none"):
        with pytest.raises(ValueError, match="'casting'"):
            f(*args, casting=bad)
    for bad in (1, None, b"safe", ["safe"]):
        with pytest.raises(TypeError, match="'casting'"):
            f(*args, casting=bad)
    for ok in ("no", "equiv", "safe", "same_kind", "unsafe"):
        f(*args, casting=ok)


@pytest.mark.parametrize("name", ["exp", "add"])
def test_bad_dtype(name):
    args = _args(name)
    f = getattr(ndpar, name)
    for bad in ("nonsense", 3.5, object(), [1, 2], "f9"):
        with pytest.raises(TypeError, match="'dtype'"):
            f(*args, dtype=bad)
    for bad in (np.complex128, "U5", object, np.longdouble, "M8[s]"):
        with pytest.raises(TypeError, match="'dtype'"):
            f(*args, dtype=bad)
    # a dtype with no loop for the function
    with pytest.raises(TypeError):
        ndpar.sqrt(X, dtype=np.int32)
    with pytest.raises(TypeError):
        ndpar.less(X, X, dtype=np.float64)
    # fine: NumPy's spellings of a dtype
    for ok in (None, "float64", "f8", np.float64, np.dtype("float64"), float, "d", "<f8"):
        r = f(*args, dtype=ok)
        assert r.dtype == np.float64
    assert f(*args, dtype=">f4").dtype == np.float32


# ---- out --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["exp", "add", "less"])
def test_bad_out(name):
    args = (X,) if name == "exp" else (X, X)
    f = getattr(ndpar, name)
    with pytest.raises(ValueError, match="'out'"):
        f(*args, out=np.empty(11))
    with pytest.raises(ValueError, match="'out'"):
        f(*args, out=np.empty((10, 1)))
    with pytest.raises(ValueError, match="'out'"):
        f(*args, out=np.empty(()))
    ro = np.empty(10)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="'out'"):
        f(*args, out=ro)
    assert not ro.flags.writeable
    with pytest.raises(TypeError, match="'out'"):
        f(*args, out=[0.0] * 10)
    with pytest.raises(TypeError, match="'out'"):
        f(*args, out=3.0)
    with pytest.raises(TypeError, match="'out'"):
        f(*args, out=np.empty(10, dtype=np.complex128))
    if name == "exp":  # float64 -> float16 is same_kind, as NumPy
        assert f(*args, out=np.empty(10, dtype=np.float16)).dtype == np.float16
    with pytest.raises(ValueError, match="'out'"):
        f(*args, out=(np.empty(10), np.empty(10)))
    with pytest.raises(ValueError, match="'out'"):
        f(*args, out=())
    with pytest.raises(TypeError, match="'out'"):
        f(*args, out=([0.0] * 10,))
    # a zero-stride (broadcast) out cannot hold distinct results: refused
    with pytest.raises(ValueError):
        f(*args, out=np.lib.stride_tricks.as_strided(np.empty(1), (10,), (0,)))


def test_out_cast_not_allowed_writes_nothing():
    out = np.full(10, 7, dtype=np.int32)
    with pytest.raises(TypeError, match="cast"):
        ndpar.exp(X, out=out)
    assert (out == 7).all()
    with pytest.raises(TypeError):
        ndpar.add(X, X, out=np.zeros(10, dtype=bool))


def test_not_broadcastable():
    with pytest.raises(ValueError, match="broadcast"):
        ndpar.add(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="broadcast"):
        ndpar.arctan2(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError):
        ndpar.add(np.zeros((2, 3)), np.zeros(3), out=np.zeros((3, 2)))


def test_too_many_dims():
    ok = np.zeros((1,) * 32)
    assert ndpar.exp(ok).shape == (1,) * 32
    assert ndpar.add(ok, ok).shape == (1,) * 32
    big = np.zeros((1,) * 33)
    with pytest.raises(ValueError, match="'x'"):
        ndpar.exp(big)
    with pytest.raises(ValueError, match="'x2'"):
        ndpar.add(ok, big)
    with pytest.raises(ValueError, match="'out'"):
        ndpar.exp(np.float64(1.0), out=np.zeros((1,) * 33))
    # 0-d with 32-d broadcasts fine
    assert ndpar.add(np.float64(1.0), ok).shape == (1,) * 32


def test_python_int_out_of_bounds_names_argument():
    with pytest.raises(OverflowError, match="'x2'"):
        ndpar.add(np.zeros(3, dtype=np.int8), 128)
    with pytest.raises(OverflowError, match="'x1'"):
        ndpar.multiply(-1, np.zeros(3, dtype=np.uint32))
    with pytest.raises(OverflowError, match="'x'"):
        ndpar.negative(2 ** 70)


def test_negative_integer_power_message():
    with pytest.raises(ValueError, match="negative"):
        ndpar.power(np.arange(5), -2)
    with pytest.raises(ValueError, match="negative"):
        ndpar.power(np.arange(5_000_000), np.array([-1]))  # threaded path too


def test_error_types_are_plain_builtins():
    """Exceptions are the documented builtin classes (pickle-able, catchable)."""
    for call, exc in ((lambda: ndpar.add(np.zeros(3), np.zeros(4)), ValueError),
                      (lambda: ndpar.exp(np.array(["a"])), TypeError),
                      (lambda: ndpar.add(np.zeros(3, np.uint8), 300), OverflowError)):
        with pytest.raises(exc) as ei:
            call()
        assert type(ei.value) is exc
        assert str(ei.value).startswith("ndpar.")


# ---- inputs are never modified --------------------------------------------------------

def _inputs_for(name, dt):
    x1 = test_values(dt, 200)
    x2 = test_values(dt, 200, seed=5)[: x1.size]
    x2 = np.resize(x2, x1.size)
    if name == "power" and x2.dtype.kind in "iu":
        x2 = (x2.astype(np.int64) % 5).astype(x2.dtype)
    return x1, x2


@pytest.mark.parametrize("dt", ["bool", "int8", "uint16", "int64", "float32", "float64"])
def test_inputs_never_modified(dt):
    for name in UNARY + BINARY:
        x1, x2 = _inputs_for(name, dt)
        views = [x1, x1[::-1], x1[::2], x1.astype(x1.dtype.newbyteorder(">"))]
        for v in views:
            args = [v] if name in UNARY else [v, x2[: v.size]]
            before = [a.copy() for a in args]
            flags = [a.flags.writeable for a in args]
            try:
                getattr(ndpar, name)(*args)
                getattr(ndpar, name)(*args, out=np.zeros(v.shape, dtype=np.float64),
                                     casting="unsafe")
            except (TypeError, ValueError):
                pass
            for a, b, w in zip(args, before, flags):
                assert a.tobytes() == b.tobytes(), (name, dt)
                assert a.flags.writeable == w


def test_read_only_inputs_are_fine():
    x = np.linspace(0, 1, 50_000)
    x.flags.writeable = False
    np.testing.assert_array_equal(ndpar.multiply(x, x), x * x)
    buf = np.linspace(0, 1, 1000).tobytes()
    y = np.frombuffer(buf, dtype=np.float64)
    assert not y.flags.writeable
    np.testing.assert_array_equal(ndpar.add(y, 1.0), y + 1.0)


# ---- no hidden copies of ndarray inputs ------------------------------------------------

def _peak_allocated(fn):
    """Peak bytes NumPy allocated (traced by tracemalloc) while fn ran."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base


def test_no_copies_of_ndarray_inputs():
    n = 4_000_000  # 32 MB of float64
    x = np.linspace(-1, 1, n)
    y = np.linspace(1, 2, n)
    out = np.empty(n)
    xs = np.linspace(0, 1, 3 * n)[::3]
    xb = x.astype(">f8")
    xi = np.arange(n, dtype=np.int32)
    limit = 1 << 20  # far below one operand
    cases = {
        "contiguous": lambda: ndpar.add(x, y, out=out),
        "strided": lambda: ndpar.sin(xs, out=out),
        "reversed": lambda: ndpar.multiply(x[::-1], y, out=out),
        "big-endian": lambda: ndpar.exp(xb, out=out),
        "cast int32->float64": lambda: ndpar.divide(xi, 3, out=out),
        "in place": lambda: ndpar.negative(out, out=out),
        "broadcast": lambda: ndpar.add(x.reshape(2000, 2000), y[:2000], out=out.reshape(2000, 2000)),
    }
    for what, fn in cases.items():
        peak = _peak_allocated(fn)
        assert peak < limit, f"{what}: {peak} bytes allocated"
    # without out=, only the result is allocated
    peak = _peak_allocated(lambda: ndpar.add(xs, xb))
    assert peak < n * 8 + limit, peak


def test_out_equal_to_input_works_in_place():
    x = np.linspace(0.5, 2.0, 100_001)
    orig = x.copy()
    r = ndpar.log(x, out=x)
    assert r is x and np.shares_memory(r, x)
    np.testing.assert_allclose(x, np.log(orig), rtol=1e-15)
    # a view: the base changes, nothing else allocated
    base = np.linspace(0.5, 2.0, 300_000)
    v = base[::3]
    before = base.copy()
    ndpar.square(v, out=v)
    np.testing.assert_array_equal(base[::3], before[::3] ** 2)
    np.testing.assert_array_equal(base[1::3], before[1::3])  # neighbours untouched
    np.testing.assert_array_equal(base[2::3], before[2::3])


def test_out_touches_only_its_elements():
    base = np.full(3000, -7.0)
    out = base[1::3]
    ndpar.add(np.ones(1000), 1.0, out=out)
    assert (base[1::3] == 2.0).all()
    assert (base[0::3] == -7.0).all() and (base[2::3] == -7.0).all()
    # unaligned, big-endian out: neighbours untouched too
    buf = bytearray(8 * 100 + 2)
    o = np.frombuffer(buf, dtype=">f8", count=100, offset=1)
    ndpar.negative(np.arange(100.0), out=o)
    assert buf[0] == 0 and buf[-1] == 0
    np.testing.assert_array_equal(o, -np.arange(100.0))
