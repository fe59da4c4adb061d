"""ndpar.evaluate and ndpar.compile: numexpr's interface on ndpar's engine.

The expression is parsed and compiled by the C library (never by Python's
eval), which also says which names a variable may bind. This module
only collects their values (keyword arguments, then local_dict / the
caller's locals, then global_dict / the caller's globals; an unbound
built-in constant stays the constant) and caches compiled programs by
expression text and variable types.
"""
from __future__ import annotations

import sys
import threading
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from . import _containers, _ndpar

_CACHE: Dict[Tuple[str, Tuple[str, ...], Tuple[str, ...]], Any] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 256


def _clear_cache() -> None:
    """Drops every cached compiled program (ndpar.clear_caches calls it)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _free_names(ex: str) -> Tuple[Tuple[str, bool], ...]:
    """The names ex reads that a variable may bind, in order of first use,
    each with whether it has a built-in meaning (the constants e, pi, inf,
    nan) to fall back on. The C parser decides (it raises SyntaxError)."""
    return _ndpar.Program.free_names(ex)


_PLAIN_TYPES = frozenset((np.ndarray, int, float, bool))  # never a container
_DTYPE_NAMES: Dict[Any, str] = {}  # dtype -> its name (dtype.name costs microseconds)


def _kind(name: str, value: Any) -> Tuple[str, Any]:
    if isinstance(value, np.ndarray):
        dt = value.dtype
        n = _DTYPE_NAMES.get(dt)
        if n is None:
            n = _DTYPE_NAMES.setdefault(dt, dt.name)
        return n, value
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


def _run(ex: str, names: Tuple[str, ...], values: Tuple[Any, ...], out, casting,
         order: str = "K") -> Any:
    for v in values:  # one cheap check per value on the plain path
        if type(v) not in _PLAIN_TYPES:
            found = _containers.kinds(values)
            if found:
                return _run_containers(ex, names, values, out, casting, order, found)
            break
    kinds, vals = zip(*map(_kind, names, values)) if names else ((), ())
    prog = _program(ex, names, kinds)
    # the C core lays a new result out for order and walks it in memory order
    return prog.run(vals, out=out, casting=casting, order=order)


def _lazy_kind(name: str, value: Any) -> Tuple[str, Any]:
    """_kind, but a dask array (never converted: that would compute it) is
    its dtype's name."""
    if _containers.kind(value) == _containers.DASK:
        return value.dtype.name, value
    return _kind(name, value)


def _run_containers(ex: str, names: Tuple[str, ...], values: Tuple[Any, ...], out, casting,
                    order: str, found: set) -> Any:
    """_run where a value is a pandas / xarray / masked / dask object (the
    rules are _containers.py's)."""
    def run(vals: Tuple[Any, ...]) -> Any:
        return _run(ex, names, vals, out, casting, order)

    def converted(vals: Tuple[Any, ...]) -> Tuple[Tuple[str, ...], Tuple[Any, ...]]:
        if not names:
            return (), ()
        return tuple(zip(*map(_lazy_kind, names, vals)))  # type: ignore[return-value]

    def program(vals: Tuple[Any, ...]) -> Any:
        return _program(ex, names, converted(vals)[0])

    def lazy(vals: Tuple[Any, ...]) -> Any:
        kinds, cvals = converted(vals)
        from . import _dask
        return _dask.evaluate(ex, names, cvals, kinds, _program(ex, names, kinds))

    return _containers.evaluate("evaluate", names, values, found, run, program, out, lazy)


_LANGUAGE = """
    The language (parsed and compiled by ndpar's C core, never by Python):

    * Operators, loosest first: comparisons ``== != < <= > >=`` (they do
      not chain: write ``(a < b) & (b < c)``), ``|``, ``^``, ``&``,
      ``+ -``, ``* / // %``, unary ``- + ~``, ``**`` (right-associative;
      ``-2**2 == -4``, ``2**-1 == 0.5``). ``& | ^ ~`` take booleans and
      integers (on booleans they are logical). Parentheses group; ``#``
      starts a comment.
    * Functions, NumPy's by name: exp expm1 exp2 log log1p log2 log10 sqrt
      cbrt sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh
      arctanh abs absolute negative floor ceil trunc rint square reciprocal
      sign isnan isinf isfinite add subtract multiply divide true_divide
      floor_divide remainder mod power pow minimum maximum fmin fmax
      arctan2 hypot equal not_equal less less_equal greater greater_equal
      logical_and logical_or logical_xor logical_not invert bitwise_not
      bitwise_and bitwise_or bitwise_xor, and ``where(cond, a, b)``.
    * Constants: integers, floats (``1.5``, ``1e-3``), ``True``, ``False``,
      ``nan``, ``inf``, ``pi``, ``e``. A name the user binds (a keyword,
      local_dict / global_dict or the caller's variables, a temporary)
      always wins over a built-in constant or function of the same name:
      ``evaluate("e * 2", e=x)`` reads x, and a variable named ``exp`` or
      ``sum`` may be used as a value. Only True and False cannot be rebound.
    * Statements separated by ``;`` or newlines; all but the last assign a
      temporary: ``t = a * 2; u = where(t > 1, exp(t), t); u - b``. An
      assignment's right side still reads the input of that name
      (``a = a * 2; a + 1``); the temporary exists from the next statement.
    * The last statement may be one reduction, outermost: ``sum prod min
      max mean any all`` of the whole result (``sum(x)``, a scalar) or of
      one axis (``sum(x, axis=0)``, also ``sum(x, 0)``; a literal integer,
      negative counts from the end). Integer sums and products accumulate in
      int64 (uint64 for unsigned; booleans count as 0/1), floats in float64
      (pairwise sums) and keep their dtype (float32 stays float32); min and
      max keep the dtype; mean is float64 (float32 for float32); any/all
      give bool. Results are the same bits for any
      thread count. Of an empty array: sum 0, prod 1, mean nan, any False,
      all True, min/max ValueError (zero-size array to reduction
      operation). Between 0.0 and -0.0, min and max keep the later element
      (as NumPy's for arrays of zeros); a NaN propagates (the first one).

    Types follow NumPy 2: arrays broadcast and promote as in NumPy, integer
    division by zero gives 0, comparisons give bool, booleans are read as
    byte != 0. A Python int or float (given as a value or written in the
    text) is a weak scalar (NEP 50): it takes the dtype the operation runs
    in (``u8 + 1`` stays uint8; ``u8 / 1000`` is float64), and an int that
    does not fit an integer operation's dtype is OverflowError
    (``u8 + 1000``), except in comparisons, which are exact (``u8 == -2``
    is all False). ``where`` of two scalars gives an array.

    Errors: SyntaxError (with the column) for bad text, a reduction not
    outermost or wrong arguments; NameError for a name that is not bound
    and not built in, or an unknown function; TypeError for an operand type
    an operator does not take (``~`` on a float), an unsupported dtype, or a
    value that is not an array or number; ValueError for shapes that do not
    broadcast, a bad axis, out of the wrong shape, a bad casting or order;
    OverflowError as above.
"""


def evaluate(ex: str, local_dict: Optional[Mapping[str, Any]] = None,
             global_dict: Optional[Mapping[str, Any]] = None, out=None, order: str = "K",
             casting: str = "same_kind", **kwargs: Any) -> Any:
    if not isinstance(ex, str):
        raise TypeError(f"ndpar.evaluate: argument 'ex' must be a str, not {type(ex).__name__}")
    if order not in ("K", "A", "C", "F"):
        raise ValueError(f"ndpar.evaluate: argument 'order' must be 'K', 'A', 'C' or 'F', not {order!r}")
    free = _free_names(ex)
    frame = None
    if local_dict is None or global_dict is None:
        frame = sys._getframe(1)
    loc = frame.f_locals if local_dict is None else local_dict
    glo = frame.f_globals if global_dict is None else global_dict
    names, values = [], []
    for n, builtin in free:
        if n in kwargs:
            v = kwargs[n]
        elif n in loc:
            v = loc[n]
        elif n in glo:
            v = glo[n]
        elif builtin:
            continue  # the constant
        else:
            raise NameError(f"ndpar.evaluate: name '{n}' is not defined")
        names.append(n)
        values.append(v)
    del frame
    return _run(ex, tuple(names), tuple(values), out, casting, order)


evaluate.__doc__ = """Evaluate the expression ex (numexpr's signature) on all cores.

    evaluate(ex, local_dict=None, global_dict=None, out=None, order='K',
             casting='same_kind', **kwargs)

    Runs in cache-sized blocks with no array-sized temporaries. Variables
    come from keyword arguments, then local_dict (default: the caller's
    locals), then global_dict (default: the caller's globals). Returns a
    new array (a NumPy scalar for a 0-d result), or out.

    out: an array of the result's shape to write into (it may be an input,
    for an update in place); the result is cast to out's dtype under
    ``casting`` ('no', 'equiv', 'safe', 'same_kind', 'unsafe').
    order: the layout of a new result, as NumPy's: 'C', 'F', 'A' (Fortran
    when every array input is Fortran-contiguous, else C) or 'K' (the
    inputs' memory order, as ``np.add(a, b)`` lays out its result; for a
    reduction along an axis, that order without the axis, as ``np.sum``).

    Containers (the rules of ndpar/_containers.py): pandas Series /
    DataFrame operands come back as one, with the index (and name /
    columns); they must share their labels (ValueError otherwise: ndpar
    does not align; ``a, b = a.align(b)`` first), and a reduction along an
    axis of a DataFrame gives a Series. xarray DataArrays keep coords,
    dims, attrs and name (all must have the same dims and coordinates).
    Masked arrays: an elementwise result is masked where any input is; a
    reduction, or out=, raises TypeError (masked values would be read).
    dask arrays give a lazy dask array (blockwise with broadcasting; a
    reduction through da.reduction, 0-d when of the whole result; order=
    does not apply); out= is then refused.
""" + _LANGUAGE


def _placeholder_program(ex: str, names: Tuple[str, ...]) -> Any:
    """Compiles ex with every variable a float64 array, else int64, else
    bool (``~a`` takes no floats), so that syntax errors and unknown
    functions raise at ndpar.compile; type errors are left to each call
    (returns None when no placeholder type compiles)."""
    for dt in ("float64", "int64", "bool"):
        try:
            return _ndpar.Program(ex, names, tuple(dt for _ in names))
        except (TypeError, OverflowError):
            continue
    return None


class CompiledExpression:
    def __init__(self, ex: str) -> None:
        if not isinstance(ex, str):
            raise TypeError(f"ndpar.compile: argument 'ex' must be a str, not {type(ex).__name__}")
        self.ex = ex
        free = _free_names(ex)
        self.names = tuple(n for n, builtin in free if not builtin)
        # names of built-in constants (e, pi, inf, nan) a keyword may bind
        self.optional_names = tuple(n for n, builtin in free if builtin)
        self._placeholder = _placeholder_program(ex, self.names)
        self._by_dtypes: Dict[Tuple[Any, ...], Any] = {}  # the keyword fast path

    def __call__(self, *args: Any, out=None, casting: str = "same_kind", **kwargs: Any) -> Any:
        if not args and len(kwargs) == len(self.names):
            # the common call, every variable by keyword: straight to the program
            try:
                values = tuple(kwargs[n] for n in self.names)
            except KeyError:
                pass
            else:
                if all(type(v) is np.ndarray for v in values):
                    # arrays only: the program for these dtypes, kept on the object
                    key = tuple([v.dtype for v in values])
                    prog = self._by_dtypes.get(key)
                    if prog is None:
                        kinds = tuple([_kind(n, v)[0] for n, v in zip(self.names, values)])
                        prog = _program(self.ex, self.names, kinds)
                        if len(self._by_dtypes) < 64:
                            self._by_dtypes[key] = prog
                    return prog.run(values, out=out, casting=casting, order="K")
                return _run(self.ex, self.names, values, out, casting)
        if len(args) > len(self.names):
            raise TypeError(f"ndpar.compile: expected at most {len(self.names)} positional values")
        values = dict(zip(self.names, args))
        for k, v in kwargs.items():
            if k not in self.names and k not in self.optional_names:
                raise TypeError(f"ndpar.compile: '{k}' is not a variable of {self.ex!r}")
            if k in values:
                raise TypeError(f"ndpar.compile: '{k}' given twice")
            values[k] = v
        missing = [n for n in self.names if n not in values]
        if missing:
            raise TypeError(f"ndpar.compile: missing value for {missing[0]!r}")
        names = tuple(n for n in self.names + self.optional_names if n in values)
        return _run(self.ex, names, tuple(values[n] for n in names), out, casting)

    def __reduce__(self) -> Any:
        # by its text and the dtypes it was compiled for (recompiled on load)
        keys = tuple(tuple(dt.str for dt in key) for key in list(self._by_dtypes))
        return (_load_compiled, (self.ex, keys))

    def explain(self) -> str:
        """The compiled program, as text, for float64 array variables (int64
        or bool ones when the program takes no floats, e.g. ``~a``)."""
        if self._placeholder is None:
            raise TypeError(f"ndpar.compile: {self.ex!r} compiles for no single dtype of its "
                            "variables; call it with values instead")
        return self._placeholder.explain()

    def __repr__(self) -> str:
        return f"ndpar.compile({self.ex!r})"


CompiledExpression.__doc__ = """An expression compiled by ndpar.compile(ex).

    Call it with the variables' values, by keyword or by position in the
    order of first use (``.names``): ``f(a, b, out=None,
    casting='same_kind')``. A keyword may also bind a name in
    ``.optional_names`` (e, pi, inf, nan used in ex), which otherwise is the
    constant. The text is parsed and checked once; the program is compiled
    once per combination of variable types, then reused (a bounded cache;
    calls from any number of threads are safe). ``.explain()`` shows the
    compiled program. A call returns what ndpar.evaluate would; ``out`` and
    ``casting`` as there (a new result's layout follows the inputs, as
    order='K'). It pickles by its text and the dtypes it has been called
    with (compiled again on loading, in any process).
""" + _LANGUAGE


def _load_compiled(ex: str, keys: Tuple[Tuple[str, ...], ...]) -> CompiledExpression:
    """Unpickles a CompiledExpression: compiles ex again, and its programs
    for the dtypes it had been called with."""
    ce = CompiledExpression(ex)
    for key in keys:
        dts = tuple(np.dtype(s) for s in key)
        if len(dts) != len(ce.names):
            continue
        kinds = tuple(_kind(n, np.empty(0, dt))[0] for n, dt in zip(ce.names, dts))
        try:
            ce._by_dtypes[dts] = _program(ex, ce.names, kinds)
        except (TypeError, OverflowError, ValueError):
            continue  # compiled then: cannot fail now, but a pickle is data
    return ce


def compile(ex: str) -> CompiledExpression:  # noqa: A001 (numexpr-like name)
    return CompiledExpression(ex)


compile.__doc__ = """Compile the expression ex once; returns a CompiledExpression.

    ``f = ndpar.compile("where(a > 0, a * s, 0)"); f(x, 2.0)`` or
    ``f(a=x, s=2.0)``: the names in order of first use are ``f.names``.
    Syntax errors and unknown functions raise here (SyntaxError /
    NameError); types are checked at each call (``ndpar.compile("~a")``
    is fine, and a float ``a`` then raises TypeError).
""" + _LANGUAGE
