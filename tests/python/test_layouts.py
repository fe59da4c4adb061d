"""Memory layouts, out=, aliasing, dtype=/casting= and thread-count
independence, against NumPy and against ndpar on contiguous copies."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import ndpar
from ndpar_testutil import (
    DTYPES, assert_same, check_against_numpy, numpy_expected, test_values, tolerance,
)

N = 1001  # odd: SIMD tails


# ---- layouts ---------------------------------------------------------------------

def _unaligned_copy(c, writeable=True):
    """A copy of 1-D `c` whose data start one byte past an aligned address
    (read-only when made from a bytes object)."""
    raw = bytearray(c.nbytes + 1)
    raw[1:] = c.tobytes()
    return np.frombuffer(raw if writeable else bytes(raw), dtype=c.dtype, count=c.size,
                         offset=1)


def layout(c, kind):
    """A view equal to 1-D contiguous `c` but with another memory layout.
    2-D kinds reshape `c` to (k, m)."""
    n = c.size
    if kind == "contig":
        return c
    if kind == "step3":
        big = np.zeros(3 * n, dtype=c.dtype)
        big[::3] = c
        return big[::3]
    if kind == "reversed":
        return c[::-1].copy()[::-1]
    if kind == "neg_step2":
        big = np.zeros(2 * n, dtype=c.dtype)
        big[::-2] = c[::-1]
        v = big[::-2][::-1]
        return v
    if kind == "bigendian":
        return c.astype(c.dtype.newbyteorder(">"))
    if kind == "unaligned":
        return _unaligned_copy(c)
    if kind == "unaligned_ro":
        return _unaligned_copy(c, writeable=False)
    raise ValueError(kind)


LAYOUTS_1D = ["contig", "step3", "reversed", "neg_step2", "bigendian", "unaligned",
              "unaligned_ro"]


def layout2d(c2, kind):
    """A view equal to 2-D C-contiguous `c2` with another layout."""
    if kind == "C":
        return c2
    if kind == "F":
        return np.asfortranarray(c2)
    if kind == "T":  # transpose of a C array: F-ordered view
        return np.ascontiguousarray(c2.T).T
    if kind == "sliced":
        big = np.zeros((c2.shape[0] * 2, c2.shape[1] * 3), dtype=c2.dtype)
        big[::2, ::3] = c2
        return big[::2, ::3]
    if kind == "flipped":
        return c2[::-1, ::-1].copy()[::-1, ::-1]
    if kind == "bigendian_F":
        return np.asfortranarray(c2.astype(c2.dtype.newbyteorder(">")))
    raise ValueError(kind)


LAYOUTS_2D = ["C", "F", "T", "sliced", "flipped", "bigendian_F"]

LAYOUT_DTYPES = [np.dtype(t) for t in ("float64", "float32", "int32", "uint8", "int64",
                                       "bool", "uint16")]
UNARY_OPS = ["exp", "sin", "sqrt", "negative", "floor", "abs", "isnan", "square", "rint"]
BINARY_OPS = ["add", "subtract", "multiply", "divide", "floor_divide", "remainder",
              "power", "maximum", "less", "arctan2", "logical_xor", "equal"]


def _vals(dt, n=N, seed=0):
    x = np.resize(test_values(dt, n, seed), n)
    return x


def _fix(name, b):
    if name == "power" and b.dtype.kind in "iu":
        return (b.astype(np.int64) % 9).astype(b.dtype)
    return b


def _ndpar_or_exc(f, *a, **kw):
    try:
        return f(*a, **kw)
    except (TypeError, ValueError) as e:
        return e


@pytest.mark.parametrize("kind", LAYOUTS_1D)
@pytest.mark.parametrize("dt", LAYOUT_DTYPES, ids=str)
def test_unary_1d_layouts(isa, dt, kind):
    c = _vals(dt)
    v = layout(c, kind)
    np.testing.assert_array_equal(v, c)
    for name in UNARY_OPS:
        check_against_numpy(name, [v], ctx=(isa, str(dt), kind))
        ref = _ndpar_or_exc(getattr(ndpar, name), c)
        if isinstance(ref, Exception):
            continue
        got = getattr(ndpar, name)(v)
        # same kernels: bitwise equal to the contiguous result
        assert_same(got, ref, name + " vs contiguous", True, 0, ctx=(isa, str(dt), kind))
    np.testing.assert_array_equal(v, c)  # inputs untouched


@pytest.mark.parametrize("k2", LAYOUTS_1D)
@pytest.mark.parametrize("k1", ["contig", "step3", "bigendian", "unaligned"])
@pytest.mark.parametrize("dt", [np.dtype("float64"), np.dtype("int16"), np.dtype("float32")],
                         ids=str)
def test_binary_1d_layouts(dt, k1, k2):
    a = _vals(dt, seed=1)
    b = _vals(dt, seed=2)
    for name in BINARY_OPS:
        bb = _fix(name, b)
        x1, x2 = layout(a, k1), layout(bb, k2)
        check_against_numpy(name, [x1, x2], ctx=(str(dt), k1, k2))
        ref = _ndpar_or_exc(getattr(ndpar, name), a, bb)
        if not isinstance(ref, Exception):
            assert_same(getattr(ndpar, name)(x1, x2), ref, name + " vs contiguous", True, 0,
                        ctx=(str(dt), k1, k2))


@pytest.mark.parametrize("kind", LAYOUTS_2D)
@pytest.mark.parametrize("dt", LAYOUT_DTYPES, ids=str)
def test_2d_layouts(isa, dt, kind):
    c2 = _vals(dt, 37 * 29).reshape(37, 29)
    v = layout2d(c2, kind)
    np.testing.assert_array_equal(v, c2)
    for name in ("exp", "negative", "floor", "isfinite"):
        got = check_against_numpy(name, [v], ctx=(isa, str(dt), kind))
        if got is not None and kind in ("F", "T"):
            # order='K' like NumPy: an F-ordered input gives an F-ordered result
            assert got.flags.f_contiguous, (name, kind)
    d2 = _vals(dt, 37 * 29, seed=7).reshape(37, 29)
    for k2 in LAYOUTS_2D:
        w = layout2d(d2, k2)
        for name in ("add", "multiply", "less", "arctan2", "maximum"):
            check_against_numpy(name, [v, w], ctx=(isa, str(dt), kind, k2))
    # a transposed operand against a C one: broadcasting walks both correctly
    check_against_numpy("subtract", [v, np.ascontiguousarray(c2.T).T.copy(order="C")],
                        ctx=(str(dt), kind, "C copy"))


def test_3d_layouts():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 7, 8))
    views = [a, a.transpose(2, 0, 1), a.transpose(1, 2, 0)[::-1], a[::2, ::-3, 1::2],
             np.moveaxis(a, 0, -1)[:, ::2]]
    for v in views:
        check_against_numpy("cos", [v])
        check_against_numpy("multiply", [v, v[..., :1]])
        check_against_numpy("hypot", [v, np.ascontiguousarray(v)])


# ---- broadcasting --------------------------------------------------------------------

BROADCAST_SHAPES = [
    ((3, 1), (4,)),
    ((4,), (3, 1)),
    ((), (5, 3)),
    ((5, 3), ()),
    ((2, 1, 4), (3, 1)),
    ((1,), (7,)),
    ((0,), (1,)),
    ((0, 3), (1, 3)),
    ((2, 0), (2, 1)),
    ((1, 1, 1), ()),
    ((6, 1, 5, 1), (1, 4, 1, 3)),
]


@pytest.mark.parametrize("s1,s2", BROADCAST_SHAPES, ids=str)
def test_broadcasting(s1, s2):
    rng = np.random.default_rng(11)
    for dt in (np.float64, np.int32, np.uint8):
        a = (rng.standard_normal(s1) * 50).astype(dt)
        b = (rng.standard_normal(s2) * 50).astype(dt)
        for name in ("add", "subtract", "power", "arctan2", "less", "floor_divide"):
            bb = _fix(name, b)
            check_against_numpy(name, [a, bb], ctx=(str(np.dtype(dt)), s1, s2))


def test_broadcast_zero_d_and_big():
    x = np.linspace(-5, 5, 300_006)
    check_against_numpy("add", [np.array(2.5), x])
    check_against_numpy("multiply", [x, np.float64(3.0)])
    check_against_numpy("hypot", [x.reshape(3, -1), np.array([1.0, 2.0, 3.0])[:, None]])
    check_against_numpy("maximum", [x.reshape(-1, 7), np.arange(7.0)])


def test_broadcast_mismatch_raises():
    with pytest.raises(ValueError, match="broadcast"):
        ndpar.add(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="broadcast"):
        ndpar.add(np.zeros((2, 3)), np.zeros((3, 2)))


# ---- out= ------------------------------------------------------------------------------

def test_out_is_returned():
    x = np.linspace(0, 1, 100)
    out = np.empty_like(x)
    r = ndpar.exp(x, out)
    assert r is out
    np.testing.assert_allclose(out, np.exp(x), rtol=1e-15)
    out2 = np.empty_like(x)
    r = ndpar.exp(x, out=out2)
    assert r is out2
    out3 = np.empty_like(x)
    r = ndpar.exp(x, out=(out3,))
    assert r is out3  # a 1-tuple: the array itself comes back, like NumPy
    np.testing.assert_array_equal(out3, out)
    assert ndpar.exp(x, out=None).shape == x.shape
    out4 = np.empty_like(x)
    r = ndpar.add(x, x, out4)
    assert r is out4
    np.testing.assert_array_equal(out4, x + x)
    r = ndpar.add(x, x, out=(out4,))
    assert r is out4
    # 0-d out: the array comes back, not a scalar
    o0 = np.empty((), dtype=np.float64)
    r = ndpar.sqrt(np.float64(4.0), out=o0)
    assert r is o0 and o0 == 2.0


@pytest.mark.parametrize("odt", ["float64", "float32", ">f8", ">f4", "<f8"])
@pytest.mark.parametrize("okind", ["contig", "step3", "reversed", "unaligned"])
def test_out_layouts_and_dtypes(odt, okind):
    x = np.linspace(-3, 3, N)
    y = np.linspace(5, -5, N)
    odt = np.dtype(odt)
    base = np.zeros(N, dtype=odt)
    out = layout(base, okind) if okind != "unaligned" else _unaligned_copy(base)
    assert out.dtype == odt
    for name, args in (("sin", (x,)), ("add", (x, y)), ("less", (x, y)), ("floor", (x,))):
        exp_out = np.zeros(N, dtype=odt)
        with np.errstate(all="ignore"):
            exp = getattr(np, name)(*args, out=exp_out)
        r = getattr(ndpar, name)(*args, out=out)
        assert r is out
        assert out.dtype == odt
        exact, maxulp = tolerance(name, np.float32 if odt.itemsize == 4 else np.float64)
        assert_same(np.asarray(out, dtype=odt.newbyteorder("=")),
                    np.asarray(exp, dtype=odt.newbyteorder("=")), name, exact, maxulp,
                    ctx=(str(odt), okind))


def test_big_endian_out_bytes():
    x = np.array([1.0, 2.0, -0.5, 1e300])
    out = np.zeros(4, dtype=">f8")
    ndpar.negative(x, out=out)
    assert out.tobytes() == (-x).astype(">f8").tobytes()
    out_i = np.zeros(4, dtype=">i4")
    ndpar.add(np.array([1, 2, 3, 2 ** 30], dtype=">i4"), np.int32(1), out=out_i)
    assert out_i.tobytes() == np.array([2, 3, 4, 2 ** 30 + 1], dtype=">i4").tobytes()
    out_b = np.zeros(4, dtype=">u2")
    ndpar.multiply(np.array([1, 2, 300, 65535], dtype=">u2"), np.array(2, dtype="<u2"),
                   out=out_b)
    assert out_b.tolist() == [2, 4, 600, 65534]


def test_out_2d_layouts():
    a = np.arange(12.0).reshape(3, 4)
    for out in (np.zeros((3, 4), order="F"), np.zeros((4, 3)).T, np.zeros((3, 8))[:, ::2],
                np.zeros((3, 4))[::-1], np.zeros((3, 4), dtype=">f8")):
        r = ndpar.multiply(a, a.T.T, out=out)
        assert r is out
        np.testing.assert_array_equal(out, a * a)


def test_out_dtype_casting_vs_numpy():
    x = np.array([1.5, -2.5, 3.25, 10.75])  # every result fits every output dtype
    xi = np.array([1, 2, 3, 100], dtype=np.int8)
    cases = [
        ("add", (xi, xi), np.int16, "same_kind"),
        ("add", (xi, xi), np.float32, "same_kind"),
        ("add", (xi, xi), np.float64, "safe"),
        ("add", (xi, xi), np.uint8, "same_kind"),
        ("add", (xi, xi), np.uint8, "safe"),
        ("add", (x, x), np.int64, "same_kind"),
        ("add", (x, x), np.int64, "unsafe"),
        ("add", (x, x), np.float32, "same_kind"),
        ("add", (x, x), np.float32, "safe"),
        ("add", (x, x), np.float64, "no"),
        ("add", (x, x), np.float32, "no"),
        ("add", (x, x), np.float64, "equiv"),
        ("exp", (x,), np.float32, "same_kind"),
        ("exp", (x,), np.int32, "same_kind"),
        ("exp", (x,), np.int32, "unsafe"),
        ("less", (x, x[::-1]), np.float64, "same_kind"),
        ("less", (x, x[::-1]), np.int8, "safe"),
        ("less", (x, x[::-1]), np.bool_, "no"),
        ("divide", (xi, xi), np.float32, "same_kind"),
        ("divide", (xi, xi), np.int8, "same_kind"),
        ("negative", (xi,), np.int16, "safe"),
        ("negative", (xi,), np.uint8, "safe"),
        ("floor", (x,), np.int64, "same_kind"),
        ("floor", (x,), np.int64, "unsafe"),
    ]
    for name, args, odt, casting in cases:
        ctx = (name, np.dtype(odt).name, casting)
        exp_out = np.zeros(args[0].shape, dtype=odt)
        got_out = np.zeros(args[0].shape, dtype=odt)
        exp = numpy_expected(name, *args, out=exp_out, casting=casting)
        if isinstance(exp, Exception):
            with pytest.raises(TypeError):
                getattr(ndpar, name)(*args, out=got_out, casting=casting)
            continue
        r = getattr(ndpar, name)(*args, out=got_out, casting=casting)
        assert r is got_out, ctx
        exact, maxulp = tolerance(name, odt)
        assert_same(got_out, exp_out, name, exact, maxulp, ctx=ctx)


def test_out_same_kind_error_and_unsafe():
    f = np.array([1.5, 2.5])
    iout = np.zeros(2, dtype=np.int64)
    with pytest.raises(TypeError, match="cast"):
        ndpar.add(f, f, out=iout)
    assert (iout == 0).all()  # nothing written
    r = ndpar.add(f, f, out=iout, casting="unsafe")
    assert r is iout and iout.tolist() == [3, 5]


DTYPE_KW_OPS = ["add", "exp", "divide", "floor", "negative", "less", "power", "sqrt",
                "maximum", "floor_divide"]
KW_DTYPES = [np.dtype(t) for t in ("bool", "int8", "int16", "uint32", "int64", "float32",
                                   "float64")]


@pytest.mark.parametrize("casting", ["no", "equiv", "safe", "same_kind", "unsafe"])
@pytest.mark.parametrize("name", DTYPE_KW_OPS)
def test_dtype_and_casting_kw_vs_numpy(name, casting):
    """dtype= and casting= on every input dtype of a subset, against NumPy.
    Values are small non-negative numbers so every cast is in range."""
    for idt in KW_DTYPES:
        x = (np.arange(1, 8) % (2 if idt == np.bool_ else 8)).astype(idt)
        args = [x] if name in ("exp", "floor", "negative", "sqrt") else [x, x[::-1]]
        for dt in [None] + KW_DTYPES:
            kw = {"casting": casting}
            if dt is not None:
                kw["dtype"] = dt
            check_against_numpy(name, args, kw, ctx=(str(idt), dt, casting))


def test_mixed_input_casting_kw_vs_numpy():
    """casting= also governs the inputs' cast to the loop NumPy picks."""
    a8 = np.arange(5, dtype=np.int8)
    a16 = np.arange(5, dtype=np.int16)
    f32 = np.arange(5, dtype=np.float32)
    for casting in ("no", "equiv", "safe", "same_kind", "unsafe"):
        check_against_numpy("add", [a8, a16], {"casting": casting}, ctx=casting)
        check_against_numpy("multiply", [f32, a16], {"casting": casting}, ctx=casting)
        check_against_numpy("exp", [a16], {"casting": casting}, ctx=casting)
        check_against_numpy("less", [a8, f32], {"casting": casting}, ctx=casting)


def test_dtype_kw_examples():
    xi = np.arange(5, dtype=np.int64)
    r = ndpar.exp(xi, dtype=np.float32)
    assert r.dtype == np.float32
    assert_same(r, np.exp(xi, dtype=np.float32), "exp", *tolerance("exp", np.float32))
    r = ndpar.add(np.int8(100), np.int8(100), dtype=np.int16)
    assert r == 200 and r.dtype == np.int16
    r = ndpar.add(np.array([1.5]), np.array([1.5]), dtype="float32")
    assert r.dtype == np.float32
    r = ndpar.less(np.array([1, 2]), 2, dtype=bool)
    assert r.tolist() == [True, False]
    with pytest.raises(TypeError):
        ndpar.add(np.array([1.5]), np.array([1.5]), dtype=np.int64)
    r = ndpar.add(np.array([1.5]), np.array([1.5]), dtype=np.int64, casting="unsafe")
    assert r.dtype == np.int64 and r.tolist() == [2]


def test_out_broadcasts_inputs_like_numpy():
    """NumPy lets the inputs broadcast up to out's shape."""
    x = np.arange(3.0)
    for name, args in (("negative", (x,)), ("add", (x, 1.0)), ("exp", (np.float64(1.0),))):
        exp_out = np.zeros((2, 3))
        got_out = np.zeros((2, 3))
        getattr(np, name)(*args, out=exp_out)
        r = getattr(ndpar, name)(*args, out=got_out)
        assert r is got_out
        np.testing.assert_allclose(got_out, exp_out, rtol=1e-15)


# ---- aliasing -----------------------------------------------------------------------

def test_in_place():
    for dt in (np.float64, np.float32, np.int32, np.uint8):
        a = np.arange(100_003).astype(dt)
        orig = a.copy()
        r = ndpar.negative(a, out=a)
        assert r is a
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(a, np.negative(orig))
        b = a.copy()
        r = ndpar.add(a, b, out=a)
        assert r is a
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(a, np.negative(orig) * 2)
        a = orig.copy()
        ndpar.multiply(a, a, out=a)  # both inputs are the output
        np.testing.assert_array_equal(a, orig * orig)
    # in place on strided, reversed, transposed and big-endian arrays
    base = np.linspace(0.1, 5, 3000)
    for v in (base.copy()[::3], base.copy()[::-1], base.copy().reshape(30, 100).T,
              base.astype(">f8"), _unaligned_copy(base)):
        orig = v.copy()
        r = ndpar.sqrt(v, out=v)
        assert r is v
        np.testing.assert_array_equal(v, np.sqrt(orig))


OVERLAPS = [
    ("negative", lambda a: ((a[:-1],), a[1:])),
    ("negative", lambda a: ((a[1:],), a[:-1])),
    ("negative", lambda a: ((a,), a[::-1])),
    ("negative", lambda a: ((a[::2],), a[1::2][: a[::2].size])),
    ("negative", lambda a: ((a[:-5:2],), a[5:].reshape(-1)[: a[:-5:2].size])),
    ("add", lambda a: ((a[:-1], a[1:]), a[1:])),
    ("add", lambda a: ((a[:-1], a[1:]), a[:-1])),
    ("subtract", lambda a: ((a[2:], a[:-2]), a[1:-1])),
    ("multiply", lambda a: ((a[::-1], a), a)),
    ("sin", lambda a: ((a[3:],), a[:-3])),
    ("add", lambda a: ((a.reshape(10, -1), a.reshape(10, -1).T.T), a.reshape(10, -1).T.T)),
]


@pytest.mark.parametrize("case", range(len(OVERLAPS)))
@pytest.mark.parametrize("n", [40, 100_000])
def test_partial_overlap_like_numpy(case, n):
    name, make = OVERLAPS[case]
    a = np.linspace(-1, 1, n)
    b = a.copy()
    ins, out = make(a)
    ins_b, out_b = make(b)
    if out.shape != ins[0].shape:
        pytest.fail("bad test case")
    r = getattr(ndpar, name)(*ins, out=out)
    assert r is out
    getattr(np, name)(*ins_b, out=out_b)  # NumPy: as if the inputs were copied
    exact, maxulp = tolerance(name, np.float64)
    assert_same(a, b, name, exact, maxulp, ctx=("overlap", case, n))


def test_transpose_overlap_2d():
    a = np.arange(36.0).reshape(6, 6)
    b = a.copy()
    ndpar.add(a, a.T, out=a)
    np.add(b, b.T, out=b)
    np.testing.assert_array_equal(a, b)
    a = np.arange(36.0).reshape(6, 6)
    ndpar.negative(a.T, out=a)
    np.testing.assert_array_equal(a, -np.arange(36.0).reshape(6, 6).T)


# ---- thread count independence ------------------------------------------------------

def test_results_independent_of_thread_count():
    rng = np.random.default_rng(42)
    n = 1_000_003
    x = rng.standard_normal(n) * 100
    y = rng.standard_normal(n) * 10
    xi = rng.integers(-1000, 1000, n).astype(np.int32)
    yi = rng.integers(-20, 20, n).astype(np.int32)
    cases = [
        ("sin", (x,)), ("exp", (y,)), ("log1p", (np.abs(x),)), ("power", (np.abs(y), y / 5)),
        ("add", (x, y)), ("floor_divide", (x, y)), ("remainder", (xi, yi)),
        ("arctan2", (x, y)), ("less", (x, y)), ("negative", (x[::3],)),
        ("sqrt", (x[:1_000_000].reshape(1000, -1).T,)), ("multiply", (xi, np.float32(1.5))),
        ("hypot", (x.astype(">f8"), y)), ("tanh", (x.astype(np.float32),)),
        ("maximum", (x[::-1], y)),
    ]
    results = {}
    for nt in (1, 2, 7):
        with ndpar.threads(nt):
            assert ndpar.get_num_threads() == nt
            results[nt] = [getattr(ndpar, name)(*args) for name, args in cases]
    for (name, _), r1, r2, r7 in zip(cases, results[1], results[2], results[7]):
        assert r1.tobytes() == r2.tobytes(), name
        assert r1.tobytes() == r7.tobytes(), name


# ---- hypothesis: random views -----------------------------------------------------------

@st.composite
def strided_views(draw, dt):
    """A random N-d array and a random view of it (steps, flips, transposes)."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=9))
    if np.dtype(dt).kind == "f":
        elems = st.floats(width=np.dtype(dt).itemsize * 8, allow_nan=True)
    else:
        elems = None
    base = draw(hnp.arrays(dt, shape, elements=elems))
    idx = tuple(slice(None, None, draw(st.sampled_from([1, 2, 3, -1, -2])))
                for _ in shape)
    v = base[idx]
    perm = draw(st.permutations(range(v.ndim)))
    v = v.transpose(perm)
    if draw(st.booleans()):
        v = v.astype(v.dtype.newbyteorder(">"))
    return v


@given(data=st.data(), dt=st.sampled_from(DTYPES),
       name=st.sampled_from(["add", "multiply", "maximum", "less", "subtract", "divide",
                             "remainder", "fmin", "logical_or", "hypot"]))
def test_hypothesis_strided_binary(data, dt, name):
    a = data.draw(strided_views(dt), label="x1")
    b = data.draw(strided_views(dt), label="x2")
    # shapes that do not broadcast: use one element of b (0-d) instead
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        b = b.ravel()[:1].reshape(())
    check_against_numpy(name, [a, b], ctx=(a.shape, a.strides, b.shape, b.strides))


@given(data=st.data(), dt=st.sampled_from(DTYPES),
       name=st.sampled_from(["exp", "negative", "floor", "abs", "sin", "isnan", "sqrt",
                             "square", "cbrt", "sign"]))
def test_hypothesis_strided_unary(data, dt, name):
    v = data.draw(strided_views(dt), label="x")
    check_against_numpy(name, [v], ctx=(v.shape, v.strides, v.dtype.str))
    # and with out= a strided float64 view: equals the result without out=, cast
    try:
        plain = getattr(ndpar, name)(v)
    except TypeError:
        with pytest.raises(TypeError):
            getattr(ndpar, name)(v, out=np.zeros(v.shape))
        return
    out = np.zeros(v.shape[::-1], dtype=np.float64).T
    r = getattr(ndpar, name)(v, out=out)
    assert r is out
    assert_same(out, np.asarray(plain).astype(np.float64), name, True, 0)


def test_expression_walks_any_out_layout():
    """The expression VM walks the output in its memory order (the shared
    iterator's sort): outputs and inputs in 3-d layouts, broadcast and of
    mixed ndim, large enough for several chunks, against NumPy."""
    rng = np.random.default_rng(11)
    a = rng.random((40, 50, 60))
    b = rng.random(60)
    c = rng.random((50, 1))
    want = a * b - c
    outs = [np.empty((40, 50, 60), order="F"), np.empty((60, 40, 50)).transpose(1, 2, 0),
            np.empty((40, 50, 60))[::-1, :, ::-1], np.empty((40, 100, 60))[:, ::2],
            np.empty((40, 50, 60))]
    ins = [a, np.asfortranarray(a), a[::-1].copy()[::-1], np.ascontiguousarray(a.transpose(2, 1, 0)).T]
    for x in ins:
        for out in outs:
            out[...] = 0
            r = ndpar.evaluate("x * b - c", out=out)
            assert r is out
            np.testing.assert_array_equal(out, want)
