"""ndpar.vectorize / guvectorize / kernel: every construct of the kernel
language against the same function run as plain Python (.py_func) on
random inputs with NaN, +-inf, +-0 and integer edge values, for each
dtype; thread-count invariance; refused constructs with their message and
line; Ctrl-C on an endless loop; the examples."""
from __future__ import annotations

import math
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ndpar

RNG = np.random.default_rng(1234)
N = 517  # not a multiple of the block size

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e300, -1e-300,
                    5e-324, 3.0, 7.0])
INT_EDGE = np.array([0, 1, -1, 2, -2, 7, -7, 2**31 - 1, -2**31, 2**62, -2**62, 2**63 - 1,
                     -2**63], dtype=np.int64)

SCALE = 2**40  # max magnitude of "moderate" ints: products stay in int64


def floats(n=N, dtype=np.float64, special=True):
    x = RNG.standard_normal(n) * 10.0
    if special:
        k = min(n, len(SPECIAL))
        x[:k] = SPECIAL[:k]
    return RNG.permutation(x).astype(dtype)


def ints(n=N, dtype=np.int64, edge=True, lo=-1000, hi=1000):
    x = RNG.integers(lo, hi, n).astype(np.int64)
    if edge:
        info = np.iinfo(dtype)
        e = INT_EDGE[(INT_EDGE >= info.min) & (INT_EDGE <= info.max)]
        x[: len(e)] = e
    return RNG.permutation(x).astype(dtype)


def pyvals(a):
    """Python scalars as py_func sees them from a plain loop."""
    if a.dtype == np.float32:
        return list(a)  # np.float32 scalars: float32 arithmetic, like the kernel
    return a.tolist()


def reference(f, *arrays, dtype=None):
    arrays = np.broadcast_arrays(*arrays)
    cols = [pyvals(a.ravel()) for a in arrays]
    out = [f.py_func(*vals) for vals in zip(*cols)]
    return np.array(out, dtype=dtype).reshape(arrays[0].shape)


def check(f, *arrays, rtol=0.0):
    got = f(*arrays)
    want = reference(f, *arrays, dtype=np.asarray(got).dtype)
    if rtol:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0)
    else:
        np.testing.assert_array_equal(got, want)
        if got.dtype.kind == "f":  # the same zeros' signs too
            assert np.array_equal(np.signbit(got), np.signbit(want))
    return got


# ---- constructs, each against py_func ----------------------------------------


@ndpar.vectorize
def arith(x, y):
    a = x * y + x - y / 2.0
    b = -x + (+y) * 3
    return a - b * 0.25


def test_arith_floats_and_specials():
    for dt in (np.float64, np.float32):
        x, y = floats(dtype=dt), floats(dtype=dt)
        r = check(arith, x, y, rtol=0 if dt == np.float64 else 1e-6)
        assert r.dtype == dt


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int16, np.int32, np.int64, np.bool_])
def test_arith_int_dtypes(dt):
    x = ints(dtype=dt, edge=False, lo=0 if dt != np.int8 else -100, hi=100) if dt != np.bool_ \
        else RNG.integers(0, 2, N).astype(bool)
    y = ints(dtype=dt, edge=False, lo=0, hi=100) if dt != np.bool_ else RNG.integers(0, 2, N).astype(bool)
    r = check(arith, x, y)
    assert r.dtype == np.float64  # y / 2.0 is float math


@ndpar.vectorize
def intops(a, b):
    q = a // b
    r = a % b
    p = (a % 13) ** 3
    return q * 1000003 + r - p + (a & 255) - (b | 6) + (a ^ b) + ~b


def test_int_floordiv_mod_pow_bitwise():
    # magnitudes where Python's unbounded ints and int64 agree (wrap-around
    # is tested against NumPy in test_int64_wraps_like_numpy)
    a = ints(edge=False, lo=-10**9, hi=10**9)
    a[:6] = [0, 1, -1, 7, -7, -(10**9)]
    b = ints(edge=False, lo=-9, hi=9)
    b[b == 0] = 5
    b[:4] = [-1, 1, 2**20, -(2**20)]
    r = check(intops, a, b)
    assert r.dtype == np.int64


def test_int_division_by_zero_raises():
    with pytest.raises(ZeroDivisionError, match="line"):
        intops(np.array([1, 2, 3]), np.array([1, 0, 2]))


@ndpar.vectorize
def flmod(x, y):
    return x // y + 100.0 * (x % y)


def test_float_floordiv_mod_python_semantics():
    x = floats()
    y = floats()
    y[y == 0] = 3.0  # Python raises on float division by zero
    y[:3] = [np.inf, -np.inf, -0.75]
    check(flmod, x, y)


@ndpar.vectorize
def powers(x, k):
    return abs(x) ** 0.5 + x ** 2 + 2.0 ** k + abs(x) ** k


def test_float_powers():
    x = floats()
    x[np.isfinite(x) & (np.abs(x) > 1e30)] = 3.5  # Python raises OverflowError there
    k = ints(edge=False, lo=-5, hi=6)
    check(powers, x, k, rtol=4e-16)


@ndpar.vectorize
def ipow(a, k):
    return a ** k


def test_int_power_and_negative_exponent():
    a = ints(edge=False, lo=-30, hi=30)
    k = ints(edge=False, lo=0, hi=12)
    check(ipow, a, k)
    with pytest.raises(ValueError, match="negative integer power"):
        ipow(np.array([2]), np.array([-1]))


@ndpar.vectorize
def compares(x, y):
    n = 0
    if 0 < x < 1:
        n += 1
    if x == y != 0:
        n += 2
    if x <= y >= -1.0 > x:
        n += 4
    if not x > y:
        n += 8
    if x != x:
        n += 16
    return n


def test_chained_comparisons_and_nan():
    x, y = floats(), floats()
    y[::5] = x[::5]
    r = check(compares, x, y)
    assert r.dtype == np.int64


@ndpar.vectorize
def logic(x, y):
    a = (x and y) or -1.0
    b = x or y
    c = 1.0 if (x > 0 and not y > 0) or x != x else 2.0
    return a * 10.0 + b + c


def test_and_or_not_values():
    x, y = floats(), floats()
    x[::7] = 0.0
    y[::3] = 0.0
    check(logic, x, y)


@ndpar.vectorize
def shortcircuit(a, b):
    if b != 0 and a // b > 2:
        return 1
    return 0 if b == 0 or a % b == 0 else (a // b if b else -1)


def test_short_circuit_guards_division():
    a = ints(edge=False)
    b = ints(edge=False, lo=-3, hi=4)
    check(shortcircuit, a, b)


@ndpar.vectorize
def branches(x):
    if x > 10:
        return 3
    elif x > 0:
        y = x * 2
        if y > 5:
            return 2
        return 1
    elif x == 0:
        return 0
    else:
        return -1


def test_if_elif_else_and_several_returns():
    check(branches, floats())
    check(branches, ints(edge=True))


@ndpar.vectorize
def loops(x, n):
    s = 0.0
    i = 0
    while i < n:
        i += 1
        if i % 3 == 0:
            continue
        s += x / i
        if s > 100:
            break
    for j in range(n):
        s -= j
    for j in range(2, n):
        s += j * 0.5
    for j in range(n, -3, -2):
        if j == 5:
            continue
        s += j
        if j < -1:
            break
    return s + j


def test_while_for_break_continue():
    x = floats(special=False)
    n = ints(edge=False, lo=0, hi=40)
    check(loops, x, n)


@ndpar.vectorize
def steps(a, b, c):
    t = 0
    for i in range(a, b, c):
        t = t * 3 + i
    return t


def test_range_with_variable_step():
    a = ints(edge=False, lo=-20, hi=20)
    b = ints(edge=False, lo=-20, hi=20)
    c = ints(edge=False, lo=-4, hi=5)
    c[c == 0] = 1
    check(steps, a, b, c)
    with pytest.raises(ValueError, match="must not be zero"):
        steps(np.array([0]), np.array([3]), np.array([0]))


@ndpar.vectorize
def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def test_tuple_assignment():
    n = ints(edge=False, lo=0, hi=90)
    check(fib, n)


@ndpar.vectorize
def augmented(x, k):
    y = x
    y += 1.5
    y -= k
    y *= 2
    y /= 3
    z = k
    z //= 2
    z %= 7
    z **= 2
    z &= 63
    z |= 1
    z ^= 5
    return y + z


def test_augmented_assignment():
    check(augmented, floats(), ints(edge=False, lo=-100, hi=100))


@ndpar.vectorize
def widen(k):
    v = 0
    if k > 3:
        v = 0.5 * k  # int local widens to float, as Python would
    return v


def test_int_to_float_widening():
    r = check(widen, ints(edge=False, lo=-10, hi=10))
    assert r.dtype == np.float64


@ndpar.vectorize
def builtins(x, k):
    a = abs(x) + abs(k) + min(x, 2.0) + max(x, k, -1)
    b = float(k) + int(x) + bool(x) + round(x) + min(k, 3) + max(k, 2)
    return a + b


def test_builtins():
    x = floats(special=False)
    x[:4] = [0.5, 1.5, 2.5, -2.5]  # round half to even
    check(builtins, x, ints(edge=False))


@ndpar.vectorize
def minmax_nan(x, y):
    return min(x, y) * 3.0 + max(x, y)


def test_min_max_python_order_with_nan():
    check(minmax_nan, floats(), floats())


@ndpar.vectorize
def mathf(x):
    ax = abs(x) + 0.5
    return (math.sin(x) + math.cos(x) + math.exp(-ax) + math.log(ax) + math.sqrt(ax)
            + math.atan2(x, 2.0) + math.hypot(x, 3.0) + math.tanh(x) + math.log1p(ax)
            + math.log10(ax) + math.log2(ax) + math.floor(x) + math.ceil(x) + math.trunc(x)
            + math.fabs(x) + math.copysign(2.0, x) + math.fmod(x, 3.0) + math.pi + math.e
            + math.degrees(x) + math.radians(x) + math.log(ax, 3.0) + math.expm1(-ax)
            + math.atan(x) + math.asinh(x) + math.cosh(x / 100.0) + math.sinh(x / 100.0))


def test_math_functions():
    x = floats(special=False)
    x[:4] = [0.0, -0.0, 1.0, -1.0]
    check(mathf, x, rtol=1e-13)


@ndpar.vectorize
def npf(x):
    return (np.where(np.isnan(x), -1.0, 0.0) + np.isinf(x) * 2 + np.isfinite(x) * 4
            + np.fmax(np.sqrt(x), -5.0) * 0 + np.sign(x) * 8 + np.square(np.minimum(x, 1.0)) * 0)


def test_numpy_functions_with_specials():
    x = floats()
    got = npf(x)
    with np.errstate(all="ignore"):
        want = reference(npf, x, dtype=float)
    np.testing.assert_array_equal(got, want)


@ndpar.vectorize
def f32math(x):
    return math.sqrt(x * x + 1.0) * 2.0


def test_float32_stays_float32():
    x = floats(dtype=np.float32, special=False)
    r = f32math(x)
    assert r.dtype == np.float32
    np.testing.assert_allclose(r, np.sqrt(x.astype(np.float64) ** 2 + 1) * 2, rtol=1e-6)


@ndpar.vectorize
def count(x):
    n = 0
    while x > 1.0:
        x = x / 2.0
        n += 1
    return n


def test_count_stays_int64_and_params_are_locals():
    x = np.abs(floats(special=False)) * 1000
    for dt in (np.float64, np.float32):
        r = check(count, x.astype(dt))
        assert r.dtype == np.int64


@ndpar.vectorize
def wrap(a, b):
    return a * b + a


def test_int64_wraps_like_numpy():
    a, b = ints(), ints()
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(wrap(a, b), a * b + a)


LIMIT = 3.5
COUNT = 4
FLAG = True


@ndpar.vectorize
def consts(x):
    return x * COUNT if x < LIMIT and FLAG else -x


def test_module_constants():
    check(consts, floats())


def test_broadcasting_scalars_out_and_0d():
    x = floats(12).reshape(3, 4)
    y = floats(4)
    np.testing.assert_array_equal(arith(x, y), reference(arith, x, y, dtype=float))
    np.testing.assert_array_equal(arith(x, 2.0), reference(arith, x, np.float64(2.0), dtype=float))
    out = np.empty((3, 4))
    assert arith(x, y, out=out) is out
    np.testing.assert_array_equal(out, reference(arith, x, y, dtype=float))
    r = arith(1.5, 2)
    assert isinstance(r, np.floating) and r == arith.py_func(1.5, 2)
    with pytest.raises(TypeError, match="same_kind"):
        arith(x, y, out=np.empty((3, 4), np.int64))
    with pytest.raises(ValueError, match="shape"):
        arith(x, y, out=np.empty((2, 4)))
    with pytest.raises(TypeError, match="positional arguments"):
        arith(x)
    strided = floats(40)[::3]
    np.testing.assert_array_equal(arith(strided, 1.0), reference(arith, strided, np.float64(1.0), dtype=float))
    assert arith(np.empty((0, 3)), 1.0).shape == (0, 3)


def test_decorator_forms_and_metadata():
    def f(x):
        """doc"""
        return x + 1

    a = ndpar.vectorize(f)
    b = ndpar.vectorize()(f)
    c = ndpar.vectorize(["float64(float64)", "int64(int64)"], target="parallel")(f)
    for v in (a, b, c):
        assert v.py_func is f and v.__name__ == "f" and v.__doc__ == "doc"
        np.testing.assert_array_equal(v(np.arange(5)), np.arange(5) + 1)


def test_cached_per_dtypes():
    x = np.arange(10.0)
    count(x)
    count(x)
    count(x.astype(np.float32))
    assert len(count._kernel._cache) == 2


def test_vectorize_is_a_numpy_ufunc():
    """A vectorize kernel is a numpy.ufunc: NumPy's methods, where= and the
    container protocols apply, checked against the function run as Python."""
    import pickle
    assert isinstance(arith, np.ufunc) and arith.nin == 2 and arith.nout == 1
    x, y = floats(12), floats(12)[::-1].copy()
    py = np.vectorize(arith.py_func, otypes=[float])
    np.testing.assert_array_equal(arith.outer(x[:3], y[:4]), py.outer(x[:3], y[:4])
                                  if hasattr(py, "outer") else
                                  py(x[:3, None], y[None, :4]))
    acc, red = arith.accumulate(x), arith.reduce(x)
    ref, r = [x[0]], x[0]
    for v in x[1:]:
        r = arith.py_func(r, v)
        ref.append(r)
    np.testing.assert_array_equal(acc, np.array(ref))
    np.testing.assert_array_equal(red, r)
    w = np.arange(12) % 3 == 0
    o = np.full(12, -7.0)
    arith(x, y, out=o, where=w)
    np.testing.assert_array_equal(o, np.where(w, py(x, y), -7.0))
    assert pickle.loads(pickle.dumps(arith)) is arith
    pd = pytest.importorskip("pandas")
    s = pd.Series(x, index=list("abcdefghijkl"))
    r = arith(s, 2.0)
    assert isinstance(r, pd.Series) and list(r.index) == list(s.index)
    np.testing.assert_array_equal(r.to_numpy(), py(x, 2.0))
    da = pytest.importorskip("dask.array")
    d = arith(da.from_array(x, chunks=5), 2.0)
    assert isinstance(d, da.Array)
    np.testing.assert_array_equal(d.compute(), py(x, 2.0))


def test_unread_local_is_zero_not_garbage():
    @ndpar.vectorize
    def f(x):
        if x > 0:
            y = x
        return y + 0.0  # Python would raise UnboundLocalError where x <= 0

    r = f(np.array([-1.0, 2.0] * 100))
    np.testing.assert_array_equal(r, [0.0, 2.0] * 100)


def test_fell_off_the_end_raises():
    @ndpar.vectorize
    def f(x):
        if x > 0:
            return 1

    with pytest.raises(ValueError, match="without a return"):
        f(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [1, 1])


def test_int_of_nan_raises():
    @ndpar.vectorize
    def f(x):
        return int(x)

    with pytest.raises(ValueError, match="NaN"):
        f(np.array([1.0, np.nan]))
    with pytest.raises(OverflowError):
        f(np.array([np.inf]))


def test_kernel_from_text():
    k = ndpar.kernel("SCALE = 3\n\ndef g(x, y):\n    return (x + y) * SCALE\n")
    assert k.py_func is None
    np.testing.assert_array_equal(k(np.arange(4), 1), (np.arange(4) + 1) * 3)
    k2 = ndpar.kernel("def h(x, out):\n    for j in range(len(x)):\n        out[j] = x[j] * 2\n",
                      signature="(n)->(n)")
    np.testing.assert_array_equal(k2(np.ones((2, 3))), np.full((2, 3), 2.0))


# ---- thread-count invariance -------------------------------------------------


@ndpar.vectorize
def heavy(x):
    s = 0.0
    n = 0
    while n < 30 and abs(s) < 1e6:
        s = s * 0.5 + math.sin(x * n) + math.exp(-abs(x)) + math.sqrt(abs(x) + n)
        n += 1
    return s


def test_bits_identical_for_any_thread_count():
    x = floats(200_001)
    with ndpar.threads(1):
        one = heavy(x)
    many = heavy(x)
    with ndpar.threads(3):
        three = heavy(x)
    assert one.tobytes() == many.tobytes() == three.tobytes()
    X = floats(64 * 301).reshape(64, 301)
    with ndpar.threads(1):
        g1 = ema(X, 0.3)
    assert g1.tobytes() == ema(X, 0.3).tobytes()


# ---- guvectorize -------------------------------------------------------------


@ndpar.guvectorize("(n)->(n)")
def runmax(x, out):
    m = -math.inf
    for j in range(len(x)):
        if x[j] < 0:
            m = -math.inf
        m = max(m, x[j])
        out[j] = m


@ndpar.guvectorize(["void(float64[:], float64, float64[:])"], "(n),()->(n)")
def ema(x, alpha, out):
    acc = x[0]
    for j in range(x.shape[0]):
        acc = alpha * x[j] + (1 - alpha) * acc
        out[j] = acc


@ndpar.guvectorize("(n)->()")
def drawdown(x, out):
    peak = x[0]
    worst = 0.0
    for j in range(len(x)):
        peak = max(peak, x[j])
        worst = max(worst, peak - x[j])
    out[0] = worst


@ndpar.guvectorize("(m,n)->(n)")
def colsum(a, out):
    for j in range(a.shape[1]):
        s = 0
        for i in range(a.shape[0]):
            s += a[i, j]
        out[j] = s


@ndpar.guvectorize("(n),(n)->(n),()")
def two_outputs(x, y, d, total):
    t = 0.0
    for j in range(len(x)):
        d[j] = x[-1 - j] - y[j]
        t += d[j]
    total[0] = t


def rowwise(f, *arrays, out_shapes, dtypes):
    """Calls py_func row by row, the way Numba users write the loop."""
    loop = np.broadcast_shapes(*[a.shape[: a.ndim - c] for a, c in arrays])
    outs = [np.zeros(loop + s, d) for s, d in zip(out_shapes, dtypes)]
    for idx in np.ndindex(*loop):
        ins = []
        for a, c in arrays:
            b = np.broadcast_to(a, loop + a.shape[a.ndim - c:])[idx]
            ins.append(b.item() if c == 0 else b)
        os_ = [o[idx] if o.ndim > len(loop) else o[idx + (np.newaxis,)] for o in outs]
        os_ = [o if o.ndim else o.reshape(1) for o in os_]
        f.py_func(*ins, *os_)
    return outs


def test_gu_running_max_with_reset():
    X = floats(40 * 33).reshape(40, 33)
    want, = rowwise(runmax, (X, 1), out_shapes=[(33,)], dtypes=[float])
    got = runmax(X)
    np.testing.assert_array_equal(got, want)
    for dt in (np.int32, np.int64):
        Xi = ints(40 * 33, dtype=dt, edge=False).reshape(40, 33)
        want, = rowwise(runmax, (Xi, 1), out_shapes=[(33,)], dtypes=[float])
        np.testing.assert_array_equal(runmax(Xi), want)


def test_gu_ema_scalar_input_broadcast():
    X = floats(7 * 20, special=False).reshape(7, 20)
    alpha = np.linspace(0.1, 0.9, 7)
    want, = rowwise(ema, (X, 1), (alpha, 0), out_shapes=[(20,)], dtypes=[float])
    np.testing.assert_array_equal(ema(X, alpha), want)
    want, = rowwise(ema, (X, 1), (np.float64(0.25), 0), out_shapes=[(20,)], dtypes=[float])
    np.testing.assert_array_equal(ema(X, 0.25), want)
    out = np.empty_like(X)
    assert ema(X, 0.25, out=out) is out
    np.testing.assert_array_equal(out, want)
    out2 = np.empty_like(X)
    ema(X, 0.25, out2)  # Numba's positional output
    np.testing.assert_array_equal(out2, want)


def test_gu_scalar_output_and_2d_core():
    X = floats(9 * 15, special=False).reshape(3, 3, 15)
    want, = rowwise(drawdown, (X, 1), out_shapes=[()], dtypes=[float])
    got = drawdown(X)
    assert got.shape == (3, 3)
    np.testing.assert_array_equal(got, want)
    A = ints(5 * 4 * 6, edge=False).reshape(5, 4, 6)
    got = colsum(A)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, A.sum(axis=1))


def test_gu_two_outputs_negative_index():
    x, y = floats(6 * 8, special=False).reshape(6, 8), floats(8, special=False)
    want = rowwise(two_outputs, (x, 1), (y, 1), out_shapes=[(8,), ()], dtypes=[float, float])
    d, t = two_outputs(x, y)
    np.testing.assert_array_equal(d, want[0])
    np.testing.assert_array_equal(t, want[1])


def test_gu_errors():
    @ndpar.guvectorize("(n)->(n)")
    def bad_index(x, out):
        for j in range(len(x) + 1):
            out[j] = x[j]

    with pytest.raises(IndexError, match="line"):
        bad_index(np.ones((3, 4)))
    with pytest.raises(ValueError, match="core dimension"):
        two_outputs(np.ones((2, 3)), np.ones(4))
    with pytest.raises(TypeError, match="parameters"):
        ndpar.guvectorize("(n)->(n)")(lambda_free)


def lambda_free(x, y, z):
    for j in range(len(x)):
        z[j] = y[j]


def test_gu_first_seed_row_fill():
    @ndpar.guvectorize("(n),()->(n)")
    def fill_rows(m, i, out):
        for j in range(len(m)):
            out[j] = i + 1

    m = np.zeros((6, 5), np.uint8)
    rows = np.arange(6)
    np.testing.assert_array_equal(fill_rows(m, rows), np.repeat(np.arange(1, 7), 5).reshape(6, 5))
    fill_rows(m, rows, out=m)  # in place, into the uint8 matrix
    np.testing.assert_array_equal(m, np.repeat(np.arange(1, 7), 5).reshape(6, 5))


def test_writing_an_input_is_refused():
    @ndpar.guvectorize("(n)->(n)")
    def f(x, out):
        x[0] = 1.0
        out[0] = 2.0

    with pytest.raises(TypeError, match="cannot write to input argument 'x'"):
        f(np.ones((2, 2)))


# ---- refused constructs: message and line -------------------------------------

REFUSED = [
    ("    return [i for i in range(3)]", SyntaxError, "list comprehensions are not supported", 2),
    ("    import os\n    return x", SyntaxError, "import is not supported", 2),
    ("    y = 1\n    return foo(x)", TypeError, "unknown function 'foo'", 3),
    ("    return 'abc'", SyntaxError, "strings are not supported", 2),
    ("    s = x\n    return x.real", TypeError, "attribute access '.real' is not supported", 3),
    ("    return f(x)", TypeError, "recursion is not supported", 2),
    ("    return OBJ + x", TypeError, "global 'OBJ' is not a number", 2),
    ("    return lambda: 1", SyntaxError, "lambda is not supported", 2),
    ("    return {1: 2}", SyntaxError, "dicts", 2),
    ("    try:\n        pass\n    except:\n        pass", SyntaxError, "try is not supported", 2),
    ("    with x:\n        pass", SyntaxError, "with is not supported", 2),
    ("    global x\n    return x", SyntaxError, "global is not supported", 2),
    ("    return undefined_name", NameError, "name 'undefined_name' is not defined", 2),
    ("    for i in x:\n        pass\n    return 1", TypeError, "only supported over range", 2),
    ("    return x[1:2]", SyntaxError, "slices are not supported", 2),
    ("    return None", TypeError, "None is not supported", 2),
    ("    return print(x)", TypeError, "unknown function 'print'", 2),
    ("    return math.gamma(x)", TypeError, "unknown function math.gamma", 2),
    ("    return x ** 2 if x else\n", SyntaxError, "invalid syntax", 2),
    ("    if x:\n    return 1", SyntaxError, "expected an indented block", 3),
    ("    return 1\n  return 2", SyntaxError, "unindent does not match", 3),
    ("    return 1j", SyntaxError, "complex numbers", 2),
    ("    return x << 2", SyntaxError, "shift operators", 2),
    ("    return round(x, 2)", TypeError, "ndigits", 2),
    ("    break", SyntaxError, "'break' outside a loop", 2),
    ("    x = (1, 2)\n    return 1", TypeError, "tuple", 2),
    ("    def g():\n        pass\n    return 1", SyntaxError, "nested functions", 2),
    ("    return x is None", SyntaxError, "'is' is not supported", 2),
    ("    return 1.5 & 2", TypeError, "unsupported operand types for &", 2),
    ("    return 99999999999999999999", SyntaxError, "does not fit int64", 2),
]


@pytest.mark.parametrize("body,exc,msg,line", REFUSED)
def test_refused_construct_message_and_line(body, exc, msg, line):
    src = "def f(x):\n" + body + "\n"
    import ndpar._vectorize as v

    with pytest.raises(exc) as ei:
        k = v.Vectorized(None, src, 1, "<test>", (("OBJ", None),), "f")
        k(np.arange(3.0))
    text = str(ei.value)
    assert msg in text, text
    assert f"line {line}" in text, text
    if exc is SyntaxError:
        assert ei.value.lineno == line


def test_error_line_is_the_users_file_line():
    def user():
        @ndpar.vectorize
        def g(x):
            y = x + 1
            return y + [1][0]
        return g

    first = user.__code__.co_firstlineno
    with pytest.raises(SyntaxError) as ei:
        user()
    assert ei.value.lineno == first + 4
    assert ei.value.filename == __file__
    assert f"line {first + 4}" in str(ei.value)


def test_pathological_text_does_not_crash():
    for src in ["def f(x):\n    return " + "(" * 5000 + "x" + ")" * 5000,
                "def f(x):\n" + "".join("    " * (i + 1) + "if x:\n" for i in range(200))
                + "    " * 201 + "pass\n",
                "def f(x):\n    return " + "-" * 100000 + "x",
                "def f(x):\n    return " + " + ".join(["x"] * 30000),
                "", "def", "def f(", "\x00", "def f(x):\n    return 'unterminated\n"]:
        with pytest.raises((SyntaxError, TypeError, NameError, ValueError)):
            ndpar.kernel(src, name="f")(np.arange(2.0))


# ---- Ctrl-C -------------------------------------------------------------------

CHILD = r"""
import sys, numpy as np, ndpar

@ndpar.vectorize
def spin(x):
    while True:
        x = x + 1.0
    return x

print("START", flush=True)
try:
    spin(np.zeros(100_000))
except KeyboardInterrupt:
    print("INTERRUPTED", flush=True)
    sys.exit(0)
sys.exit(5)
"""


def test_ctrl_c_stops_an_endless_loop(tmp_path):
    script = tmp_path / "spin.py"
    script.write_text(CHILD)
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ))
    try:
        assert p.stdout.readline().strip() == "START"
        import time
        time.sleep(0.2)  # let it enter the loop (not required for the test to pass)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, (p.returncode, out)
    assert "INTERRUPTED" in out


# ---- examples -------------------------------------------------------------------

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", ["kernel_mandelbrot.py", "kernel_newton.py",
                                  "kernel_rows.py"])
def test_kernel_examples(name):
    r = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK" in r.stdout


# ---- every instruction set ------------------------------------------------------


def test_every_isa_agrees():
    from ndpar_testutil import ISAS

    x, y = floats(), floats()
    before = ndpar.get_isa()
    res = {}
    try:
        for isa in ISAS:
            ndpar.set_isa(isa)
            res[isa] = (arith(x, y), heavy(x[:200]), runmax(x[:500].reshape(20, 25)))
    finally:
        ndpar.set_isa(before)
    ref = res[ISAS[0]]
    for isa, (a, h, r) in res.items():
        np.testing.assert_array_equal(a, ref[0])  # IEEE arithmetic: the same bits
        np.testing.assert_allclose(h, ref[1], rtol=1e-13)  # SLEEF vs libm: ulps
        np.testing.assert_array_equal(r, ref[2])


# ---- while-loop lane compaction, uniform range loops, nested if-conversion -------
# (a while loop whose lanes finish at very different iteration counts moves
# the live lanes together and runs over fewer of them; every lane's result
# must be the one py_func gives, on every instruction set and thread count)


@ndpar.vectorize
def collatz_steps(n):
    c = 0
    while n != 1 and c < 2000:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        c += 1
    return c * 1000003 + n  # n after the loop: each lane's own


@ndpar.vectorize
def escape32(cx, cy):
    x = cx * 0
    y = cy * 0
    k = 0
    while x * x + y * y <= 4 and k < 300:
        x, y = x * x - y * y + cx, 2 * x * y + cy
        k += 1
    return x + y * 0.5


@ndpar.vectorize
def nested_whiles(n):
    total = 0
    i = 0
    while i < n:
        i += 1
        if i % 3 == 0:
            continue
        j = 0
        while j < i:
            j += 1
            if j > 50:
                break
            total += j
        if total > 30000:
            return -total
    return total * 7 + i


@ndpar.guvectorize("(n)->()")
def first_above(x, out):
    j = 0
    while j < len(x) and x[j] <= 2.0:
        j += 1
    out[0] = j


@ndpar.guvectorize("(n)->(n)")
def fill_until(x, out):
    for j in range(len(x)):
        out[j] = -1.0
    j = 0
    while j < len(x):
        if x[j] > 2.5:
            break
        out[j] = x[j] * 2.0
        j += 1


def _skewed_ints(n, seed):
    """Mostly 1 (no iteration), a few lanes with long Collatz paths: the
    blocks' lanes finish at very different counts."""
    r = np.random.default_rng(seed)
    x = np.ones(n, np.int64)
    k = r.choice(n, n // 9, replace=False)
    x[k] = r.integers(2, 10**6, len(k))
    x[: 64] = np.arange(1, 65)  # one block of mixed lengths
    return x


def _for_each_isa(fn):
    from ndpar_testutil import ISAS

    before = ndpar.get_isa()
    try:
        for isa in ISAS:
            ndpar.set_isa(isa)
            fn(isa)
    finally:
        ndpar.set_isa(before)


def test_compaction_lanes_finishing_at_different_counts():
    x = _skewed_ints(3001, 5)
    cx = (RNG.random(2000) * 3.2 - 2.2).astype(np.float32)
    cy = (RNG.random(2000) * 2.4 - 1.2).astype(np.float32)
    cx[:300] = 0.0  # never escapes: 300 iterations
    cy[:300] = 0.0
    cx, cy = RNG.permutation(cx), RNG.permutation(cy)
    nn = RNG.integers(0, 400, 700)
    nn[RNG.choice(700, 500, replace=False)] = 0
    want_c = reference(collatz_steps, x, dtype=np.int64)
    want_e = reference(escape32, cx, cy, dtype=np.float32)
    want_n = reference(nested_whiles, nn, dtype=np.int64)

    def run(isa):
        np.testing.assert_array_equal(collatz_steps(x), want_c, err_msg=isa)
        got = escape32(cx, cy)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want_e, err_msg=isa)
        np.testing.assert_array_equal(nested_whiles(nn), want_n, err_msg=isa)

    _for_each_isa(run)


def test_compaction_with_loads_and_stores_per_row():
    X = floats(130 * 57, special=False).reshape(130, 57)
    X[::7] = 0.0  # rows that never stop early
    want_f, = rowwise(first_above, (X, 1), out_shapes=[()], dtypes=[np.int64])
    want_u, = rowwise(fill_until, (X, 1), out_shapes=[(57,)], dtypes=[float])

    def run(isa):
        np.testing.assert_array_equal(first_above(X), want_f, err_msg=isa)
        np.testing.assert_array_equal(fill_until(X), want_u, err_msg=isa)

    _for_each_isa(run)


def test_compaction_bits_identical_for_any_thread_count():
    x = _skewed_ints(20_011, 9)
    with ndpar.threads(1):
        one = collatz_steps(x)
    with ndpar.threads(3):
        three = collatz_steps(x)
    assert one.tobytes() == collatz_steps(x).tobytes() == three.tobytes()


@ndpar.vectorize
def uniform_loops(x):
    s = 0.0
    if x > 0:
        for k in range(10):
            if k == 3:
                continue
            s += x * k
    else:
        for k in range(10, 0, -2):
            s -= k
    t = 0.0
    for k in range(5):
        t = t * 0.5 + s
    for k in range(0):
        t = -1.0
    return t + k


@ndpar.vectorize
def elif_chain(x):
    if x < -1.0:
        y = -1.0
    elif x > 1.0:
        y = 1.0
    elif x != x:
        y = 0.0
    else:
        y = x * 2.0
    return y


@ndpar.guvectorize("(n)->(n)")
def runmax_elif(x, out):
    run = 0.0
    for j in range(x.shape[0]):
        v = x[j]
        if v < 0.0:
            run = 0.0
        elif v > run:
            run = v
        out[j] = run


def test_uniform_range_loops_and_elif_if_conversion():
    x = floats()
    X = floats(70 * 41).reshape(70, 41)
    want_r, = rowwise(runmax_elif, (X, 1), out_shapes=[(41,)], dtypes=[float])

    def run(isa):
        check(uniform_loops, x)
        check(elif_chain, x)
        np.testing.assert_array_equal(runmax_elif(X), want_r, err_msg=isa)

    _for_each_isa(run)
