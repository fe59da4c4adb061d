"""Helpers shared by the tests of the ndpar Python package (imported by the
test modules and conftest.py; a uniquely named module so it cannot clash with
tests/cli/conftest.py).

Helpers here compare ndpar against NumPy, with ndpar's documented
deliberate differences applied:
  * float16 results are float32 results rounded to float16, as NumPy's:
    exact operations match bit for bit, transcendentals within 1 float16 ULP;
  * no RuntimeWarnings (NumPy's are silenced with np.errstate);
  * transcendentals may differ by the documented ULP bound (plus NumPy's
    own error), checked as a distance in ULPs.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import ndpar

# ---- dtypes, names ----------------------------------------------------------------

DTYPES = [np.dtype(t) for t in (
    "bool", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "float32", "float64")]
INT_DTYPES = [d for d in DTYPES if d.kind in "iu"]
FLOAT_DTYPES = [np.dtype("float32"), np.dtype("float64")]

UNARY = list(ndpar.UNARY)
BINARY = list(ndpar.BINARY)
ALIASES = {"absolute": "abs", "true_divide": "divide", "mod": "remainder", "pow": "power"}

# Operations whose float results are not exact in ndpar (documented bound
# above 0.5 ULP at some ISA, or SLEEF's 0.5+ ULP hypot).
TRANSCENDENTAL = {
    "exp", "expm1", "exp2", "log", "log1p", "log2", "log10", "cbrt", "sin", "cos",
    "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
    "arccosh", "arctanh", "arctan2", "hypot", "power",
}
# Exact float operations where ndpar and NumPy may differ in the sign of a
# zero result: compared with ==, not bitwise.
# fmin/fmax: NumPy gives the first operand on a ±0 tie in short arrays and
# loop tails, the second elsewhere; ndpar always the second (docs/design.md)
ZERO_SIGN_UNSPECIFIED = {"fmin", "fmax"}

# NumPy's allowance: its own SIMD float64/float32 transcendentals are
# documented within 4 ULP (SVML / NumPy's AVX512F kernels).
NUMPY_ULP = 4.0


def np_func(name):
    return getattr(np, name)


def nd_func(name):
    return getattr(ndpar, name)


# ---- instruction sets ------------------------------------------------------------

def _available_isas():
    orig = ndpar.get_isa()
    ok = []
    for isa in ("ref", "sse2", "avx2", "avx512"):
        try:
            ndpar.set_isa(isa)
        except ValueError:
            continue
        ok.append(isa)
    ndpar.set_isa(orig)
    # The quick tier (make check) runs the matrices at the best level and the
    # reference only: NDPAR_TEST_ISAS=quick, or a comma-separated list.
    want = os.environ.get("NDPAR_TEST_ISAS", "")
    if want == "quick":
        return [i for i in ok if i in ("ref", ok[-1])]
    if want:
        return [i for i in ok if i in want.split(",")] or ok[-1:]
    return ok


ISAS = _available_isas()


# ---- test values ----------------------------------------------------------------------

def special_floats(dt):
    dt = np.dtype(dt)
    fi = np.finfo(dt)
    vals = [
        np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5,
        2.5, -2.5, 3.5, 2.0, -2.0, 3.0, 0.1, -0.1, 0.9999, 1.0001, -0.9999, 10.0,
        -10.0, 100.0, 1e5, -1e5, np.pi, -np.pi, np.pi / 2, np.e,
        float(fi.max), -float(fi.max), float(fi.tiny), -float(fi.tiny),
        float(fi.smallest_subnormal), -float(fi.smallest_subnormal),
        float(fi.eps), float(fi.max) / 2, 4503599627370497.0, -4503599627370497.5,
        2.0 ** 52 + 0.5 if dt == np.float64 else 2.0 ** 23 + 0.5,
        709.0, -745.0, 88.0, -103.0, 1e10, -1e10, 1e-10, 7.0, -7.0,
    ]
    return np.array(vals, dtype=np.float64).astype(dt)


def special_ints(dt):
    dt = np.dtype(dt)
    ii = np.iinfo(dt)
    cands = [0, 1, 2, 3, 5, 7, 10, 100, 127, 128, 255, 256, 1000, 65535, 65536,
             2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 53 + 1, 2 ** 63 - 1,
             ii.max, ii.max - 1, ii.min, ii.min + 1]
    if ii.min < 0:
        cands += [-1, -2, -3, -5, -7, -10, -100, -128, -129, -2 ** 31, -2 ** 63]
    vals = sorted({v for v in cands if ii.min <= v <= ii.max})
    return np.array(vals, dtype=dt)


def random_values(dt, n, rng):
    dt = np.dtype(dt)
    if dt == np.bool_:
        return rng.integers(0, 2, n).astype(bool)
    if dt.kind in "iu":
        ii = np.iinfo(dt)
        half = n // 2
        wide = rng.integers(ii.min, ii.max, half, dtype=dt, endpoint=True)
        small = rng.integers(max(ii.min, -50), min(ii.max, 50), n - half, endpoint=True)
        return np.concatenate([wide, small.astype(dt)])
    third = n // 3
    a = rng.uniform(-10, 10, third)
    b = rng.standard_normal(third) * 10.0 ** rng.uniform(-8, 8, third)
    maxexp = 300 if dt == np.float64 else 36
    c = rng.choice([-1.0, 1.0], n - 2 * third) * 10.0 ** rng.uniform(-maxexp, maxexp,
                                                                   n - 2 * third)
    return np.concatenate([a, b, c]).astype(dt)


def test_values(dt, n_random=300, seed=0):
    """Specials then random values; an odd length (tails of SIMD loops)."""
    dt = np.dtype(dt)
    rng = np.random.default_rng(seed)
    if dt == np.bool_:
        spec = np.array([False, True], dtype=bool)
    elif dt.kind in "iu":
        spec = special_ints(dt)
    else:
        spec = special_floats(dt)
    return np.concatenate([spec, random_values(dt, n_random, rng)])


test_values.__test__ = False  # not a pytest test


# ---- expected results ----------------------------------------------------------------

def numpy_expected(name, *args, **kw):
    """NumPy's result of `name`, or the exception NumPy raises."""
    f = np_func(ALIASES.get(name, name))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = f(*args, **kw)
        except (TypeError, ValueError, OverflowError) as e:
            return e
    return res


def float_ordered(a):
    """Float bits mapped to integers that are ordered like the floats, so the
    difference of two is a distance in ULPs (-0 and +0 map to 0; inf is
    one past the largest finite value)."""
    a = np.asarray(a)
    it = {8: np.int64, 4: np.int32, 2: np.int16}[a.dtype.itemsize]
    i = a.view(it).astype(np.int64)
    mask = np.int64(np.iinfo(it).max)
    return np.where(i < 0, -(i & mask), i)


def ulp_distance(got, exp):
    """Distance in ULPs between two float arrays of one dtype (NaN excluded)."""
    og = float_ordered(got)
    oe = float_ordered(exp)
    with np.errstate(over="ignore"):
        exact = np.abs(og - oe).astype(np.float64)  # wraps only for opposite signs
    rough = np.abs(og.astype(np.float64) - oe.astype(np.float64))
    return np.where((og < 0) == (oe < 0), exact, rough)


def assert_same(got, exp, name="", exact=True, maxulp=0.0, ctx=None):
    """got (ndpar) against exp (NumPy): dtype, shape, then values.

    Exact: equal, NaN in the same places, and for floats the same sign of
    zero (except for min/max-type ops). Not exact: NaN and inf in the same
    places, and at most `maxulp` ULPs apart elsewhere.
    """
    where = f" [{name}{'' if ctx is None else ', ' + str(ctx)}]"
    got_a = np.asarray(got)
    exp_a = np.asarray(exp)
    assert got_a.dtype == exp_a.dtype, f"dtype {got_a.dtype} != NumPy's {exp_a.dtype}{where}"
    assert got_a.shape == exp_a.shape, f"shape {got_a.shape} != NumPy's {exp_a.shape}{where}"
    if got_a.dtype.kind not in "f":
        bad = got_a != exp_a
        if bad.any():
            idx = np.argwhere(bad)[:5]
            raise AssertionError(
                f"{int(bad.sum())} values differ{where}; first at {idx.tolist()}: "
                f"got {got_a[tuple(idx.T)].tolist()} expected {exp_a[tuple(idx.T)].tolist()}")
        return
    gnan, enan = np.isnan(got_a), np.isnan(exp_a)
    bad = gnan != enan
    if exact:
        bad |= ~enan & (got_a != exp_a)
        if name not in ZERO_SIGN_UNSPECIFIED:
            bad |= ~enan & (np.signbit(got_a) != np.signbit(exp_a))
    else:
        if got_a.dtype == np.float16:  # float32 results rounded: 1 float16 ULP
            maxulp = 1.0
        # inf is one ULP past the largest finite value, so an overflow
        # boundary rounded either way is 1 ULP, and inf vs finite is huge
        dist = np.where(enan | gnan, 0.0, ulp_distance(got_a, exp_a))
        bad |= dist > maxulp
    if bad.any():
        idx = np.argwhere(bad)[:5]
        sel = tuple(idx.T)
        raise AssertionError(
            f"{int(bad.sum())} of {bad.size} values differ{where}"
            f"{'' if exact else f' (max {maxulp} ULP)'}; first at {idx.tolist()}: "
            f"got {got_a[sel].tolist()} expected {exp_a[sel].tolist()}")


def tolerance(name, dtype):
    """(exact, maxulp) for comparing ndpar's `name` with NumPy's."""
    dtype = np.dtype(dtype)
    name = ALIASES.get(name, name)
    if dtype.kind != "f" or name not in TRANSCENDENTAL:
        return True, 0.0
    bound = ndpar.ulp_bound(name, dtype == np.float32)
    return False, bound + NUMPY_ULP + 1.0


def check_against_numpy(name, args, kw=None, ctx=None):
    """Calls ndpar and NumPy the same way; checks exceptions, dtype, values."""
    kw = kw or {}
    exp = numpy_expected(name, *args, **kw)
    if isinstance(exp, Exception):
        with pytest.raises(type(exp) if not isinstance(exp, TypeError) else TypeError):
            nd_func(name)(*args, **kw)
        return None
    got = nd_func(name)(*args, **kw)
    exact, maxulp = tolerance(name, np.asarray(exp).dtype)
    # 0-d results: both NumPy and ndpar give a scalar
    assert type(got) is type(exp) or (isinstance(got, np.ndarray) and isinstance(exp, np.ndarray)), \
        f"type {type(got)} != NumPy's {type(exp)} [{name}, {ctx}]"
    assert_same(got, exp, name, exact, maxulp, ctx)
    return got


# ---- processes -------------------------------------------------------------------------------

def run_child(fn, timeout=30.0):
    """Runs fn() in a forked child; returns its exit code (0: fn returned
    true, 3: false, 2: it raised) or "timeout" (the child is then killed)."""
    import os
    import signal
    import time

    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            code = 0 if fn() else 3
        except BaseException:
            code = 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wpid, status = os.waitpid(pid, os.WNOHANG)
        if wpid == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "timeout"
