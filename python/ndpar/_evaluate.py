"""ndpar.evaluate and ndpar.compile: numexpr's interface on ndpar's engine.

The expression is parsed and compiled by the C library (never by Python's
eval). This module only finds which names are variables, collects their
values (keyword arguments, then local_dict / the caller's locals, then
global_dict / the caller's globals), and caches compiled programs by
expression text and variable types.
"""
from __future__ import annotations

import io
import sys
import threading
import tokenize
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from . import _ndpar

_CONSTANTS = {"True", "False", "nan", "inf", "pi", "e"}
_CACHE: Dict[Tuple[str, Tuple[str, ...], Tuple[str, ...]], Any] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 256


def _names(ex: str) -> Tuple[str, ...]:
    """Variables of ex: names that are not calls, keywords, constants or
    temporaries assigned by an earlier statement, in order of first use. A text Python's
    tokenizer cannot read is left to the C parser, which reports it."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(ex).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return ()
    skip = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    toks = [t for t in toks if t.type not in skip]
    temps, out = set(), []
    at_start, target = True, None
    for i, t in enumerate(toks):
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        if t.type == tokenize.NAME:
            if at_start and nxt == "=":
                target = t.string  # a temporary from the end of this statement
            elif nxt == "(" or t.string in _CONSTANTS or t.string in temps:
                pass
            elif nxt == "=" and t.string == "axis":
                pass
            elif t.string not in out:
                out.append(t.string)
        at_start = t.type in (tokenize.NEWLINE, tokenize.ENDMARKER) or t.string == ";"
        if at_start and target is not None:  # `a = a * 2`: the right side's a is the input
            temps.add(target)
            target = None
    return tuple(out)


def _kind(name: str, value: Any) -> Tuple[str, Any]:
    if isinstance(value, np.ndarray):
        return value.dtype.name, value
    if isinstance(value, (bool, np.bool_)):
        return "bool", np.asarray(value, dtype=bool)
    if isinstance(value, int) and not isinstance(value, np.integer):
        return "int", value
    if isinstance(value, float) and not isinstance(value, np.floating):
        return "float", value
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001
        raise TypeError(f"ndpar.evaluate: variable '{name}' is not an array or a number") from exc
    if arr.dtype == object:
        raise TypeError(f"ndpar.evaluate: variable '{name}' is not an array or a number")
    return arr.dtype.name, arr


def _program(ex: str, names: Tuple[str, ...], kinds: Tuple[str, ...]) -> Any:
    key = (ex, names, kinds)
    prog = _CACHE.get(key)
    if prog is None:
        prog = _ndpar.Program(ex, names, kinds)
        with _CACHE_LOCK:
            if len(_CACHE) >= _CACHE_MAX:
                _CACHE.clear()
            _CACHE[key] = prog
    return prog


_REDUCTIONS = {"sum", "prod", "min", "max", "mean", "any", "all"}


def _has_reduction(ex: str) -> bool:
    try:
        toks = [t.string for t in tokenize.generate_tokens(io.StringIO(ex).readline)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return True  # let the C parser report it; C order meanwhile
    return any(t in _REDUCTIONS and n == "(" for t, n in zip(toks, toks[1:]))


def _fortran_result(ex: str, vals: Tuple[Any, ...], order: str) -> bool:
    """Whether a new result is made in Fortran order: order 'F', or 'K' /
    'A' with every array input Fortran-ordered. Done by evaluating on the
    transposed inputs, which is exact for elementwise programs whose array
    inputs all have the same number of dimensions (>= 2); others give C
    order."""
    if order == "C":
        return False
    arrs = [v for v in vals if isinstance(v, np.ndarray) and v.ndim > 0]
    if not arrs or arrs[0].ndim < 2 or any(a.ndim != arrs[0].ndim for a in arrs):
        return False
    if _has_reduction(ex):
        return False
    if order == "F":
        return True
    return all(a.flags.f_contiguous and not a.flags.c_contiguous for a in arrs)


def _run(ex: str, names: Tuple[str, ...], values: Tuple[Any, ...], out, casting,
         order: str = "K") -> Any:
    kinds_values = [_kind(n, v) for n, v in zip(names, values)]
    kinds = tuple(k for k, _ in kinds_values)
    vals = tuple(v for _, v in kinds_values)
    prog = _program(ex, names, kinds)
    if out is None and _fortran_result(ex, vals, order):
        vals = tuple(v.T if isinstance(v, np.ndarray) else v for v in vals)
        return prog.run(vals, out=None, casting=casting).T
    return prog.run(vals, out=out, casting=casting)


def evaluate(ex: str, local_dict: Optional[Mapping[str, Any]] = None,
             global_dict: Optional[Mapping[str, Any]] = None, out=None, order: str = "K",
             casting: str = "same_kind", **kwargs: Any) -> Any:
    """Evaluate ex (numexpr's signature) on all cores, in cache-sized blocks.

    Variables come from keyword arguments, then local_dict (default: the
    caller's locals), then global_dict (default: the caller's globals).
    order: the layout of a new result: 'C', 'F', or 'K'/'A' (Fortran when
    every array input is Fortran-ordered). Fortran order applies to
    elementwise programs whose array inputs have equal dimensions; others
    give C order.
    """
    if not isinstance(ex, str):
        raise TypeError(f"ndpar.evaluate: argument 'ex' must be a str, not {type(ex).__name__}")
    if order not in ("K", "A", "C", "F"):
        raise ValueError(f"ndpar.evaluate: argument 'order' must be 'K', 'A', 'C' or 'F', not {order!r}")
    names = _names(ex)
    frame = None
    if local_dict is None or global_dict is None:
        frame = sys._getframe(1)
    loc = frame.f_locals if local_dict is None else local_dict
    glo = frame.f_globals if global_dict is None else global_dict
    values = []
    for n in names:
        if n in kwargs:
            values.append(kwargs[n])
        elif n in loc:
            values.append(loc[n])
        elif n in glo:
            values.append(glo[n])
        else:
            # a syntax error elsewhere in ex is the clearer message: compile
            # with placeholder types first, which raises it if there is one
            _ndpar.Program(ex, names, tuple("float64" for _ in names))
            raise NameError(f"ndpar.evaluate: name '{n}' is not defined")
    del frame
    return _run(ex, names, tuple(values), out, casting, order)


class CompiledExpression:
    """ndpar.compile(ex): call it with the variables, by keyword or in the
    order of first use (``.names``). Compiled once per combination of
    variable types, then reused."""

    def __init__(self, ex: str) -> None:
        if not isinstance(ex, str):
            raise TypeError(f"ndpar.compile: argument 'ex' must be a str, not {type(ex).__name__}")
        self.ex = ex
        self.names = _names(ex)
        # compile once with float64 arrays so syntax and name errors surface now
        _ndpar.Program(ex, self.names, tuple("float64" for _ in self.names))

    def __call__(self, *args: Any, out=None, casting: str = "same_kind", **kwargs: Any) -> Any:
        if len(args) > len(self.names):
            raise TypeError(f"ndpar.compile: expected at most {len(self.names)} positional values")
        values = dict(zip(self.names, args))
        for k, v in kwargs.items():
            if k not in self.names:
                raise TypeError(f"ndpar.compile: '{k}' is not a variable of {self.ex!r}")
            if k in values:
                raise TypeError(f"ndpar.compile: '{k}' given twice")
            values[k] = v
        missing = [n for n in self.names if n not in values]
        if missing:
            raise TypeError(f"ndpar.compile: missing value for {missing[0]!r}")
        return _run(self.ex, self.names, tuple(values[n] for n in self.names), out, casting)

    def explain(self) -> str:
        return _program(self.ex, self.names, tuple("float64" for _ in self.names)).explain()

    def __repr__(self) -> str:
        return f"ndpar.compile({self.ex!r})"


def compile(ex: str) -> CompiledExpression:  # noqa: A001 (numexpr-like name)
    return CompiledExpression(ex)
