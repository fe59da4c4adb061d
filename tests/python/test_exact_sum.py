"""Exact float64 sums: evaluate's sum/mean (whole array and last axis) and
the chunked entry points exact_sum_partial / exact_dot_partial /
exact_sum_combine / exact_sum_finish, against math.fsum (correctly
rounded) on adversarial data: huge cancellation, mixed magnitudes over the
whole exponent range, subnormals, inf/nan, -0.0; the same bits for any
thread count and any split of the data, combined in any order."""
from __future__ import annotations

import math
import pickle
from fractions import Fraction

import numpy as np
import pytest

import ndpar
from ndpar import _ndpar as N


def _adversarial(seed: int, n: int = 20000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kind = seed % 4
    if kind == 0:  # every exponent, subnormals included, then cancelled
        e = rng.integers(-1074, 1000, n).astype(float)
        a = rng.standard_normal(n) * np.exp2(e)
    elif kind == 1:  # mixed magnitudes, huge cancellation
        a = rng.standard_normal(n) * np.exp2(rng.integers(-60, 60, n).astype(float))
    elif kind == 2:  # 1e16-scale pairs that cancel, small remainder
        a = np.concatenate([rng.standard_normal(n // 2) * 1e16, rng.standard_normal(n // 2)])
    else:  # subnormals only
        a = rng.integers(-2**40, 2**40, n).astype(float) * 5e-324
    a = a[np.isfinite(a)]
    a = np.concatenate([a, -a[: a.size // 2] * (1 + 2.0**-52), -a[a.size // 2:]])
    a = np.concatenate([a, rng.standard_normal(7)])
    rng.shuffle(a)
    return a


def _exact(a: np.ndarray) -> float:
    return float(sum((Fraction(x) for x in a.tolist()), Fraction(0)))


def _sum(a, **kw):
    return float(ndpar.evaluate("sum(a)", {"a": a}, **kw))


def _finish(parts):
    return N.exact_sum_finish([N.exact_sum_partial(p) for p in parts])


@pytest.mark.parametrize("seed", range(8))
def test_sum_is_correctly_rounded(seed):
    a = _adversarial(seed)
    want = math.fsum(a)
    for t in (1, 2, 3):
        with ndpar.threads(t):
            got = _sum(a)
        assert got == want, (t, got, want)
    assert _finish([a]) == want
    assert float(ndpar.evaluate("mean(a)", {"a": a})) == want / a.size


def test_against_fractions():
    a = _adversarial(5, 3000)
    assert _sum(a) == _exact(a)


@pytest.mark.parametrize("seed", range(4))
def test_split_and_combine_invariance(seed):
    a = _adversarial(seed)
    want = math.fsum(a)
    rng = np.random.default_rng(100 + seed)
    for _ in range(10):
        cuts = np.sort(rng.integers(0, a.size + 1, rng.integers(1, 12)))
        parts = np.split(a, cuts)  # ragged, some empty
        states = [N.exact_sum_partial(p) for p in parts]
        rng.shuffle(states)
        assert N.exact_sum_finish(states) == want
        # a combine tree (dask's split_every) in any grouping
        mid = len(states) // 2
        tree = [N.exact_sum_combine(states[:mid]), N.exact_sum_combine(states[mid:])]
        assert N.exact_sum_finish(tree) == want
        assert N.exact_sum_combine([N.exact_sum_combine(states)]) == N.exact_sum_combine(states)


def test_specials_and_zeros():
    cases = [
        ([], 0.0), ([-0.0], 0.0), ([-0.0, -0.0], 0.0), ([1e308, 1e308, -1e308], 1e308),
        ([1e308] * 3, math.inf), ([-1e308] * 3, -math.inf), ([5e-324, 5e-324], 1e-323),
        ([1.0, 2.0**-53], 1.0), ([1.0, 2.0**-53, 2.0**-106], 1.0 + 2.0**-52),
        ([1e100, 1.0, -1e100], 1.0), ([math.inf, 1.0], math.inf),
        ([-math.inf, 1e308], -math.inf),
    ]
    for vals, want in cases:
        a = np.array(vals, dtype=float)
        for got in (_finish([a]), _sum(a) if a.size else 0.0):
            assert got == want and math.copysign(1, got) == math.copysign(1, want), (vals, got)
    for vals in ([math.nan], [math.inf, -math.inf], [1.0, math.nan, 2.0]):
        a = np.array(vals)
        assert math.isnan(_finish([a])) and math.isnan(_sum(a))
        assert math.isnan(_finish([a[:1], a[1:]]))


def test_last_axis_rows_exact():
    a = np.resize(_adversarial(1), (500, 77))
    got = ndpar.evaluate("sum(a, axis=1)", {"a": a})
    assert [float(g) for g in got] == [math.fsum(r) for r in a]
    with ndpar.threads(1):
        assert np.array_equal(ndpar.evaluate("sum(a, axis=-1)", {"a": a}), got)


def test_expression_inside_sum():
    a = _adversarial(2)
    b = np.sqrt(np.abs(a)) + 1
    want = math.fsum(a * b)  # the products as NumPy rounds them, then summed exactly
    assert float(ndpar.evaluate("sum(a * b)", {"a": a, "b": b})) == want


def test_dot_partial_is_exact():
    rng = np.random.default_rng(7)
    a = rng.standard_normal(5000) * 1e10
    b = rng.standard_normal(5000)
    a = np.concatenate([a, a])
    b = np.concatenate([b, -b])  # exact dot is 0, the rounded products cancel too
    want = float(sum(Fraction(x) * Fraction(y) for x, y in zip(a.tolist(), b.tolist())))
    got = N.exact_sum_finish([N.exact_dot_partial(a[:3000], b[:3000]),
                              N.exact_dot_partial(a[3000:], b[3000:])])
    assert got == want
    a2 = rng.standard_normal(3000)
    b2 = rng.standard_normal(3000)
    want = float(sum(Fraction(x) * Fraction(y) for x, y in zip(a2.tolist(), b2.tolist())))
    assert N.exact_sum_finish([N.exact_dot_partial(a2, b2)]) == want


def test_dtypes_and_errors():
    assert _finish([np.arange(10, dtype=np.int32)]) == 45.0
    assert _finish([np.ones(5, dtype=np.float32) / 3]) == math.fsum([np.float32(1) / 3] * 5)
    assert _finish([np.array([True, True, False])]) == 2.0
    assert _finish([np.ones((3, 4))[:, ::2]]) == 6.0  # any layout
    with pytest.raises(TypeError, match="'a'"):
        N.exact_sum_partial(np.arange(3, dtype=np.int64))
    with pytest.raises(TypeError, match="'a'"):
        N.exact_sum_partial(np.ones(3, dtype=complex))
    with pytest.raises(ValueError, match="same shape"):
        N.exact_dot_partial(np.ones(3), np.ones(4))
    s = N.exact_sum_partial(np.ones(3))
    assert isinstance(s, bytes) and pickle.loads(pickle.dumps(s)) == s
    with pytest.raises(TypeError, match="states"):
        N.exact_sum_finish(s)
    with pytest.raises(ValueError, match="bytes"):
        N.exact_sum_finish([s[:-1]])
    with pytest.raises(ValueError, match="magic"):
        N.exact_sum_finish([b"X" * len(s)])
    bad = bytearray(s)
    bad[16 + 7] = 0x80  # chunk 0 negative: out of range
    with pytest.raises(ValueError, match="range"):
        N.exact_sum_finish([bytes(bad)])
    with pytest.raises(TypeError, match="states"):
        N.exact_sum_finish([1.0])
    assert N.exact_sum_finish([]) == 0.0


@pytest.mark.parametrize("axis", [0, 1])
def test_other_axes_exact(axis):
    a = np.resize(_adversarial(0), (3, 300, 41))
    got = ndpar.evaluate(f"sum(a, axis={axis})", {"a": a})
    ref = np.apply_along_axis(math.fsum, axis, a)
    assert np.array_equal(got, ref)
    m = ndpar.evaluate(f"mean(a, axis={axis})", {"a": a})
    assert np.array_equal(m, ref / a.shape[axis])
    with ndpar.threads(1):
        assert np.array_equal(ndpar.evaluate(f"sum(a, axis={axis})", {"a": a}), got)
