"""Random expression trees for tests/python/test_expr.py: a small grammar,
its text for ndpar.evaluate, and a NumPy reference evaluator that also
carries a forward error bound, so results that differ only by the
documented ULP error of a transcendental (and what that error becomes
further up the tree) are accepted, while every value that is computed
only with correctly rounded operations on exact inputs must be identical.

A tree is a tuple:
    ("var", name)                 a, b or c (arrays of one dtype)
    ("const", value)              a Python int or float (weak, NEP 50)
    ("bin", op, x, y)             op in + - * / // %
    ("fn", name, x)               one-argument function by name
    ("neg", x)                    unary minus
    ("where", cmp, x, y, p, q)    where((x) cmp (y), p, q)

Error bound per element (float64 array `err`):
    0       the value must equal NumPy's bit for bit (NaN matches NaN);
    finite  |ndpar - numpy| <= err;
    inf     anything goes (e.g. a where() whose condition may flip because
            its operands carry an error, a floor of an inexact value).
"""
from __future__ import annotations

import operator
import warnings

import numpy as np
from hypothesis import strategies as st

import ndpar
from ndpar_testutil import tolerance

BIN_OPS = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod,
}
CMP_OPS = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}
# one-argument functions of the grammar
SMOOTH_FNS = ["exp", "expm1", "log", "log1p", "sqrt", "cbrt", "sin", "cos", "tanh",
              "arctan", "abs", "negative", "square"]
STEP_FNS = ["floor", "ceil", "trunc", "rint", "sign"]
FNS = SMOOTH_FNS + STEP_FNS
CONSTS = [0, 1, 2, 3, -1, -7, 0.5, 2.5, -1.5, 0.0, 1e-3, 100.0, 0.1]


def _is_const(t):
    return t[0] == "const"


def fix(t):
    """Makes sure every operator has at least one variable-dependent operand
    (an all-constant subtree is folded by ndpar with Python-scalar rules
    that NumPy scalars do not share, e.g. exp(1) would be a strong
    float64 in NumPy), so NEP 50 applies identically on both sides."""
    kind = t[0]
    if kind in ("var", "const"):
        return t
    if kind == "bin":
        x, y = fix(t[2]), fix(t[3])
        if _is_const(x) and _is_const(y):
            x = ("var", "a")
        return ("bin", t[1], x, y)
    if kind == "fn":
        x = fix(t[2])
        return ("fn", t[1], ("var", "b") if _is_const(x) else x)
    if kind == "neg":
        x = fix(t[1])
        return ("neg", ("var", "c") if _is_const(x) else x)
    if kind == "where":
        x, y, p, q = (fix(u) for u in t[2:])
        if _is_const(x) and _is_const(y):
            x = ("var", "b")
        if _is_const(p) and _is_const(q):
            p = ("var", "a")
        return ("where", t[1], x, y, p, q)
    raise AssertionError(t)


def _leaf():
    return st.one_of(
        st.sampled_from(["a", "b", "c"]).map(lambda n: ("var", n)),
        st.sampled_from(CONSTS).map(lambda v: ("const", v)),
    )


def _extend(children):
    return st.one_of(
        st.tuples(st.just("bin"), st.sampled_from(sorted(BIN_OPS)), children, children),
        st.tuples(st.just("fn"), st.sampled_from(FNS), children),
        st.tuples(st.just("neg"), children),
        st.tuples(st.just("where"), st.sampled_from(sorted(CMP_OPS)), children, children,
                  children, children),
    )


def trees(max_leaves=10):
    """Strategy: a tree that is not a bare leaf."""
    return st.recursive(_leaf(), _extend, max_leaves=max_leaves).filter(
        lambda t: t[0] not in ("var", "const")).map(fix)


def text(t):
    kind = t[0]
    if kind == "var":
        return t[1]
    if kind == "const":
        return f"({t[1]!r})" if (t[1] < 0 or repr(t[1]).startswith("-")) else repr(t[1])
    if kind == "bin":
        return f"({text(t[2])} {t[1]} {text(t[3])})"
    if kind == "fn":
        return f"{t[1]}({text(t[2])})"
    if kind == "neg":
        return f"(-{text(t[1])})"
    if kind == "where":
        return (f"where(({text(t[2])}) {t[1]} ({text(t[3])}), "
                f"{text(t[4])}, {text(t[5])})")
    raise AssertionError(t)


# ---- the reference --------------------------------------------------------------------

def _f64(v):
    return np.asarray(v).astype(np.float64)


def _zero_where_exact(e, val):
    """val where e > 0, else 0 (avoids 0 * inf = nan)."""
    with np.errstate(all="ignore"):
        return np.where(e > 0, val, 0.0)


def _finish(val, prop, slack_ulps):
    """Error of a node: propagated error plus rounding slack, made inf
    where it is NaN or where the value might overflow."""
    val = np.asarray(val)
    prop = np.asarray(prop, dtype=np.float64)
    if val.dtype.kind != "f":
        return np.where(prop > 0, np.inf, 0.0) * np.ones(val.shape)
    with np.errstate(all="ignore"):
        sp = np.abs(np.spacing(val)).astype(np.float64)
        sp = np.where(np.isfinite(val), sp, 0.0)
        err = prop + slack_ulps * sp
        err = np.where(np.isnan(err), np.inf, err)
        big = float(np.finfo(val.dtype).max)
        over = (err > 0) & ~(np.abs(_f64(val)) + err <= big)
        err = np.where(over, np.inf, err)
    return err * np.ones(val.shape)


def _fn_prop(name, x, ex, val):
    """Propagated error of name(x) given the error ex of x."""
    X = _f64(x)
    V = _f64(val)
    with np.errstate(all="ignore"):
        if name in ("abs", "negative", "arctan"):
            p = ex
        elif name in ("sin", "cos", "tanh"):
            p = np.minimum(ex, 2.0)
        elif name == "exp":
            p = np.abs(V) * np.expm1(ex)
        elif name == "expm1":
            p = (np.abs(V) + 1.0) * np.expm1(ex)
        elif name == "log":
            p = np.where(X - ex > 0, ex / (X - ex), np.inf)
        elif name == "log1p":
            p = np.where(1.0 + X - ex > 0, ex / (1.0 + X - ex), np.inf)
        elif name == "sqrt":
            p = np.where(X - ex > 0, np.minimum(np.sqrt(ex), ex / np.sqrt(X - ex)), np.inf)
        elif name == "cbrt":
            p = 2.0 * np.cbrt(ex)
        elif name == "square":
            p = 2.0 * np.abs(X) * ex + ex * ex
        elif name in STEP_FNS:
            p = np.where(ex > 0, np.inf, 0.0)
        else:
            raise AssertionError(name)
    return _zero_where_exact(ex, p)


def reference(t, env):
    """(value, err) of tree t with NumPy; env maps names to arrays."""
    kind = t[0]
    if kind == "var":
        v = env[t[1]]
        return v, np.zeros(np.shape(v))
    if kind == "const":
        return t[1], np.zeros(())
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "bin":
            x, ex = reference(t[2], env)
            y, ey = reference(t[3], env)
            val = BIN_OPS[t[1]](x, y)
            X, Y, V = _f64(x), _f64(y), _f64(val)
            if t[1] in ("+", "-"):
                prop = ex + ey
            elif t[1] == "*":
                prop = (_zero_where_exact(ex, np.abs(Y) * ex)
                        + _zero_where_exact(ey, np.abs(X) * ey) + ex * ey)
            elif t[1] == "/":
                num = ex + _zero_where_exact(ey, np.abs(V) * ey)
                prop = np.where(np.abs(Y) > ey, num / (np.abs(Y) - ey), np.inf)
                prop = _zero_where_exact(ex + ey, prop)
            else:  # // and %: discontinuous
                prop = np.where(ex + ey > 0, np.inf, 0.0)
            return val, _finish(val, prop, np.where(prop > 0, 1.0, 0.0))
        if kind == "fn":
            x, ex = reference(t[2], env)
            f = np.abs if t[1] == "abs" else getattr(np, t[1])
            val = f(x)
            prop = _fn_prop(t[1], x, ex, val)
            exact, maxulp = tolerance(t[1], np.asarray(val).dtype)
            slack = np.where(prop > 0, 1.0 + maxulp, maxulp)
            return val, _finish(val, prop, slack)
        if kind == "neg":
            x, ex = reference(t[1], env)
            val = -x
            return val, _finish(val, ex, 0.0)
        if kind == "where":
            x, ex = reference(t[2], env)
            y, ey = reference(t[3], env)
            p, ep = reference(t[4], env)
            q, eq = reference(t[5], env)
            cond = CMP_OPS[t[1]](x, y)
            X, Y = _f64(x), _f64(y)
            flip = (ex + ey > 0) & ~(np.abs(X - Y) > ex + ey)
            val = np.where(cond, p, q)
            err = np.where(flip, np.inf, np.where(cond, ep, eq))
            return val, err * np.ones(np.shape(val))
    raise AssertionError(t)


def compare(got, exp, err, ctx):
    """Checks got (ndpar) against the reference (exp, err); raises
    AssertionError with the first differing elements."""
    got = np.asarray(got)
    exp = np.asarray(exp)
    assert got.dtype == exp.dtype, f"dtype {got.dtype} != NumPy's {exp.dtype} [{ctx}]"
    assert got.shape == exp.shape, f"shape {got.shape} != NumPy's {exp.shape} [{ctx}]"
    err = np.broadcast_to(err, exp.shape)
    exact = err == 0
    if got.dtype.kind == "f":
        gnan, enan = np.isnan(got), np.isnan(exp)
        bad_exact = exact & ((gnan != enan)
                             | (~enan & ((got != exp) | (np.signbit(got) != np.signbit(exp)))))
        tol = (err > 0) & np.isfinite(err)
        with np.errstate(all="ignore"):
            diff = np.abs(got.astype(np.float64) - exp.astype(np.float64))
        bad_tol = tol & (gnan | ~(diff <= err))
        bad = bad_exact | bad_tol
    else:
        bad = exact & (got != exp)
    if bad.any():
        idx = np.flatnonzero(bad)[:5]
        raise AssertionError(
            f"{int(bad.sum())} of {bad.size} values differ [{ctx}] at {idx.tolist()}: "
            f"got {got.ravel()[idx].tolist()} expected {exp.ravel()[idx].tolist()} "
            f"(allowed error {err.ravel()[idx].tolist()})")
    return int(exact.sum()), int(((err > 0) & np.isfinite(err)).sum())


__all__ = ["trees", "text", "reference", "compare", "ndpar"]
