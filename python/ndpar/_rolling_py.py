"""The move_* functions as Python functions over the C ones (_rolling.c).

Each ``ndpar.move_<name>`` is a Python function named ``move_<name>`` in
module ``ndpar``, so that it pickles by reference
(``pickle.loads(pickle.dumps(ndpar.move_mean)) is ndpar.move_mean``; a C
function made with PyCFunction_NewEx pickles as ``getattr(<int>, name)``).
A plain ndarray goes straight to the C function after one type check; any
other ``a`` goes through _containers.move (pandas, xarray, masked arrays,
dask). The C core keeps all validation of the arguments.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from . import _ndpar

NAMES = tuple(
    "move_" + f
    for f in "sum mean var std min max argmin argmax median quantile count".split()
)

_PLAIN = ("a", "window", "min_count", "axis", "center", "mode", "out")
_VAR = ("a", "window", "min_count", "axis", "ddof", "center", "mode", "out")
_QUANTILE = ("a", "window", "q", "min_count", "axis", "center", "mode", "out")


def _params(name: str) -> tuple:
    if name in ("move_var", "move_std"):
        return _VAR
    if name == "move_quantile":
        return _QUANTILE
    return _PLAIN


def _bind(fname: str, params: tuple, args: tuple, kwargs: dict) -> dict:
    """The arguments after 'a' by name; what the C function would refuse
    (too many, twice, unknown) is left to it, by calling it the same way."""
    if len(args) > len(params) - 1:
        raise TypeError("ndpar.%s: takes at most %d positional arguments (%d given)"
                        % (fname, len(params), len(args) + 1))
    bound = dict(zip(params[1:], args))
    for k, v in kwargs.items():
        if k in bound:
            raise TypeError("ndpar.%s: argument '%s' given by position and by keyword"
                            % (fname, k))
        bound[k] = v
    return bound


def _make(name: str) -> Callable:
    cfunc = getattr(_ndpar, name)
    params = _params(name)
    ndarray = np.ndarray

    def f(a: Any, *args: Any, **kwargs: Any) -> Any:
        if type(a) is ndarray:
            return cfunc(a, *args, **kwargs)
        from . import _containers
        if _containers.kind(a) is None:
            return cfunc(a, *args, **kwargs)
        return _containers.move(cfunc, name, a, _bind(name, params, args, kwargs))

    f.__name__ = f.__qualname__ = name
    f.__module__ = "ndpar"
    f.__doc__ = (cfunc.__doc__ or "") + (
        "\n\nContainers keep their type: a pandas Series or DataFrame comes back as one "
        "with its index (a DataFrame's windows run down the index, axis=0, as "
        "df.rolling), an xarray DataArray with its coords, dims, attrs and name (axis "
        "may be a dim name), a dask array as a lazy dask array (map_overlap); a masked "
        "array raises TypeError.")
    try:
        f.__signature__ = inspect.signature(cfunc)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        pass
    f._cfunc = cfunc  # type: ignore[attr-defined]
    return f


FUNCS = {name: _make(name) for name in NAMES}
