"""Containers keep their type: the one rule for ndpar's non-ufunc entry points.

move_*, evaluate / compile, apply_indexed and map_chunks call ``kind(x)`` on
an argument that is not a plain ndarray (the entry points check
``type(x) is np.ndarray`` first, so the plain path pays nothing more) and
then:

- pandas Series / DataFrame: computed on ``.to_numpy()``, returned as the
  same type with the index (and name / columns). A DataFrame's moving
  windows run down the index (axis 0, per column), as ``df.rolling``.
  evaluate: every Series operand must have the same index, every DataFrame
  the same index and columns (ValueError otherwise, naming ``.align``;
  ndpar does not reindex); a Series and a DataFrame do not mix.
- numpy.ma masked arrays: evaluate's elementwise programs honour the mask
  (the result is masked where any input is); everything else (reductions,
  moving windows, apply_indexed, map_chunks) raises TypeError saying why:
  the mask is never dropped silently.
- xarray DataArray: computed on ``.data`` (NumPy or dask), returned with
  its coords, dims, attrs and name.
- dask arrays (``__dask_graph__``): the result is a lazy dask array built in
  _dask.py; dask is imported only then. Other dask collections (dask
  DataFrames, delayed objects) raise TypeError: nothing is computed
  implicitly.

With out= (an ndarray) the entry point writes into it and returns it, as
for plain arrays; with a dask array out= raises TypeError.

pandas, xarray and dask are never imported here: an object is recognised by
its type's module, and the library is taken from sys.modules (it is loaded,
since one of its objects exists).
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Optional, Sequence

import numpy as np

_PLAIN = (np.ndarray, int, float, bool, complex, list, tuple, type(None))

PANDAS, XARRAY, MASKED, DASK = "pandas", "xarray", "masked", "dask"


def _is_dask(x: Any) -> bool:
    g = getattr(type(x), "__dask_graph__", None)
    if g is None:
        return False
    try:
        return x.__dask_graph__() is not None
    except Exception:  # noqa: BLE001 - not a dask collection after all
        return False


def kind(x: Any) -> Optional[str]:
    """PANDAS, XARRAY, MASKED, DASK, or None for anything handled as before
    (ndarrays, numbers, sequences, other array-likes)."""
    t = type(x)
    if t in _PLAIN or isinstance(x, np.generic):
        return None
    mod = t.__module__ or ""
    if mod.startswith("pandas"):
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(x, (pd.Series, pd.DataFrame)):
            return PANDAS
    elif mod.startswith("xarray"):
        xr = sys.modules.get("xarray")
        if xr is not None and isinstance(x, xr.DataArray):
            return XARRAY
        if xr is not None and isinstance(x, xr.Dataset):
            raise TypeError("ndpar: an xarray Dataset is not an array; pass its variables "
                            "(ds['name']) one by one")
    if isinstance(x, np.ma.MaskedArray):
        return MASKED
    if _is_dask(x):
        da = sys.modules.get("dask.array")
        if da is not None and isinstance(x, da.Array):
            return DASK
        raise TypeError("ndpar: %s is a dask collection but not a dask array; ndpar does not "
                        "compute it implicitly (pass a dask array, or .compute() it first)"
                        % t.__name__)
    return None


def kinds(values: Sequence[Any]) -> Optional[set]:
    """The set of kinds among values, or None if all are plain."""
    got = None
    for v in values:
        if type(v) is np.ndarray:
            continue
        k = kind(v)
        if k is not None:
            if got is None:
                got = set()
            got.add(k)
    return got


def refuse_masked(fname: str, why: str) -> TypeError:
    return TypeError("ndpar.%s: masked arrays are not supported here (%s); pass "
                     "m.filled(value) or m.compressed() to say what masked points mean"
                     % (fname, why))


def refuse_dask_out(fname: str) -> TypeError:
    return TypeError("ndpar.%s: 'out' cannot be given with a dask array (the result is a "
                     "lazy dask array; store it with dask.array.store)" % fname)


# ---- moving windows ----------------------------------------------------------------------

def move(cfunc: Callable, fname: str, a: Any, bound: dict) -> Any:
    """A move_* call whose 'a' is a container; bound holds the other arguments
    by name (as given: the C function checks them)."""
    k = kind(a)
    if k is None:
        return cfunc(a, **bound)
    if k == MASKED:
        raise refuse_masked(fname, "a moving window over a masked array would read the "
                            "values under the mask")
    if k == DASK:
        if bound.get("out") is not None:
            raise refuse_dask_out(fname)
        from . import _dask
        return _dask.move(cfunc, fname, a, bound)
    if k == XARRAY:
        ax = bound.get("axis")
        if isinstance(ax, str):
            bound = dict(bound, axis=a.get_axis_num(ax))
        data = a.data
        if bound.get("out") is not None:
            return move(cfunc, fname, data, bound)
        return a.copy(data=move(cfunc, fname, data, bound))
    # pandas
    pd = sys.modules["pandas"]
    if isinstance(a, pd.DataFrame) and bound.get("axis") is None:
        bound = dict(bound, axis=0)  # down the index, per column (df.rolling)
    r = cfunc(a.to_numpy(), **bound)
    if bound.get("out") is not None:
        return r
    if isinstance(a, pd.Series):
        return pd.Series(r, index=a.index, name=a.name)
    return pd.DataFrame(r, index=a.index, columns=a.columns)


# ---- evaluate / compile ------------------------------------------------------------------

def _same_pandas(fname: str, names: Sequence[str], values: Sequence[Any]) -> Any:
    """The template (first pandas operand) once every pandas operand is
    checked to share its labels."""
    pd = sys.modules["pandas"]
    tmpl, tname = None, None
    for n, v in zip(names, values):
        if kind(v) != PANDAS:
            continue
        if tmpl is None:
            tmpl, tname = v, n
            continue
        if isinstance(v, pd.DataFrame) != isinstance(tmpl, pd.DataFrame):
            raise ValueError("ndpar.%s: '%s' and '%s' mix a Series and a DataFrame, whose "
                             "positional broadcasting differs from pandas' alignment; pass "
                             "arrays (.to_numpy()) or operands of one kind" % (fname, tname, n))
        same = v.index.equals(tmpl.index)
        if same and isinstance(v, pd.DataFrame):
            same = v.columns.equals(tmpl.columns)
        if not same:
            raise ValueError("ndpar.%s: '%s' and '%s' have different labels; ndpar does not "
                             "align pandas objects (align them first: a, b = a.align(b))"
                             % (fname, tname, n))
    return tmpl


def _same_xarray(fname: str, names: Sequence[str], values: Sequence[Any]) -> Any:
    xr = sys.modules["xarray"]
    tmpl, tname = None, None
    for n, v in zip(names, values):
        if kind(v) != XARRAY:
            continue
        if tmpl is None:
            tmpl, tname = v, n
            continue
        if v.dims != tmpl.dims or v.shape != tmpl.shape:
            raise ValueError("ndpar.%s: '%s' has dims %s, '%s' has %s; ndpar needs DataArrays "
                             "of the same dims in the same order (use xarray's transpose / "
                             "broadcast)" % (fname, n, dict(v.sizes), tname, dict(tmpl.sizes)))
        try:
            xr.align(tmpl, v, join="exact", copy=False)
        except ValueError:
            raise ValueError("ndpar.%s: '%s' and '%s' have different coordinates; ndpar does "
                             "not align DataArrays (use xarray.align first)"
                             % (fname, tname, n)) from None
    return tmpl


def _reduction_axis(prog: Any, ndim: int) -> Optional[int]:
    """For a program ending in a reduction: its axis (normalized), or None
    for a reduction of the whole result."""
    import re

    last = prog.explain().rstrip().splitlines()[-1]
    m = re.search(r"result = \w+\([^)]*?(?:, axis=(-?\d+))?\)", last)
    if m is None or m.group(1) is None:
        return None
    ax = int(m.group(1))
    return ax + ndim if ax < 0 else ax


def evaluate(fname: str, names: tuple, values: tuple, found: set, run: Callable,
             program: Callable, out: Any, lazy: Callable) -> Any:
    """evaluate / CompiledExpression with a container among the values.
    run(values) runs the expression on values (containers inside them
    again go through here); program(values) gives the compiled program for
    them (for its dtype and reduction); lazy(values) the dask result."""
    if DASK in found and not (found & {PANDAS, XARRAY}):
        if out is not None:
            raise refuse_dask_out(fname)
        if MASKED in found:
            raise refuse_masked(fname, "dask arrays and masked arrays together")
        return lazy(values)
    if PANDAS in found:
        if XARRAY in found:
            raise TypeError("ndpar.%s: pandas and xarray operands do not mix" % fname)
        tmpl = _same_pandas(fname, names, values)
        vals = tuple(v.to_numpy() if kind(v) == PANDAS else v for v in values)
        r = run(vals)
        if out is not None:
            return r
        return _wrap_pandas(fname, tmpl, r, program(vals))
    if XARRAY in found:
        tmpl = _same_xarray(fname, names, values)
        vals = tuple(v.data if kind(v) == XARRAY else v for v in values)
        r = run(vals)
        if out is not None:
            return r
        return _wrap_xarray(fname, tmpl, r, program(vals))
    if MASKED in found:
        if out is not None:
            raise refuse_masked(fname, "out= would not carry the mask")
        data = tuple(np.ma.getdata(v) if kind(v) == MASKED else v for v in values)
        prog = program(data)
        if prog.reduction:
            raise refuse_masked(fname, "a reduction would include the values under the mask")
        r = run(data)
        mask = np.zeros(np.shape(r), dtype=bool)
        for v in values:
            if kind(v) == MASKED:
                mask |= np.ma.getmaskarray(v)  # broadcasts: v is an operand of r
        res = np.ma.MaskedArray(r, mask=mask)
        return res[()] if res.ndim == 0 else res
    return run(values)


def _wrap_pandas(fname: str, tmpl: Any, r: Any, prog: Any) -> Any:
    pd = sys.modules["pandas"]
    if _is_dask(r):
        raise TypeError("ndpar.%s: pandas objects and dask arrays do not mix" % fname)
    shape = np.shape(r)
    if prog.reduction:
        ax = _reduction_axis(prog, tmpl.ndim)
        if ax is None or tmpl.ndim == 1:
            return r
        return pd.Series(r, index=tmpl.columns if ax == 0 else tmpl.index)
    if shape != tmpl.shape:
        raise ValueError("ndpar.%s: the result has shape %s, the pandas operand %s: the labels "
                         "would not fit (pass arrays instead)" % (fname, shape, tmpl.shape))
    if isinstance(tmpl, pd.Series):
        return pd.Series(r, index=tmpl.index, name=tmpl.name)
    return pd.DataFrame(r, index=tmpl.index, columns=tmpl.columns)


def _wrap_xarray(fname: str, tmpl: Any, r: Any, prog: Any) -> Any:
    xr = sys.modules["xarray"]
    if prog.reduction:
        ax = _reduction_axis(prog, tmpl.ndim)
        if ax is None:
            return r
        dim = tmpl.dims[ax]
        coords = {k: c for k, c in tmpl.coords.items() if dim not in c.dims}
        return xr.DataArray(r, dims=tmpl.dims[:ax] + tmpl.dims[ax + 1:], coords=coords,
                            attrs=dict(tmpl.attrs), name=tmpl.name)
    if np.shape(r) != tmpl.shape:
        raise ValueError("ndpar.%s: the result has shape %s, the DataArray operand %s: its "
                         "coordinates would not fit" % (fname, np.shape(r), tmpl.shape))
    return tmpl.copy(data=r)


# ---- apply_indexed and map_chunks ----------------------------------------------------------

def _first_dim_wrap(tmpl: Any, r: Any, offset: int = 0) -> Any:
    """r (its first axis is tmpl's first axis, possibly shortened by offset
    trailing-window positions) with tmpl's labels along that axis."""
    if r is None:
        return None
    k = kind(tmpl)
    if k == PANDAS:
        pd = sys.modules["pandas"]
        index = tmpl.index[offset:]
        if r.ndim == 1:
            return pd.Series(r, index=index, name=getattr(tmpl, "name", None)
                             if isinstance(tmpl, pd.Series) else None)
        if r.ndim == 2:
            cols = tmpl.columns if (isinstance(tmpl, pd.DataFrame)
                                    and r.shape[1] == tmpl.shape[1]) else None
            return pd.DataFrame(r, index=index, columns=cols)
        return r
    if k == XARRAY:
        xr = sys.modules["xarray"]
        if offset == 0 and r.shape == tmpl.shape:
            return tmpl.copy(data=r)
        d0 = tmpl.dims[0]
        dims = (d0,) + tuple("%s_%d" % (d0, i) for i in range(1, r.ndim))
        coords = {d0: tmpl[d0].values[offset:]} if d0 in tmpl.coords else None
        return xr.DataArray(r, dims=dims, coords=coords, attrs=dict(tmpl.attrs), name=tmpl.name)
    return r


def unwrap_labelled(fname: str, what: str, v: Any, tmpl: Any) -> tuple:
    """(plain value, template): a pandas / xarray argument's data, checked
    to share the first axis' labels with the template (the first such
    argument, which it becomes when tmpl is None)."""
    k = kind(v)
    if k == MASKED:
        raise refuse_masked(fname, "'%s' is masked, and the mask would be lost" % what)
    if k == PANDAS:
        if tmpl is not None and kind(tmpl) == PANDAS and not v.index.equals(tmpl.index):
            raise ValueError("ndpar.%s: '%s' has a different index from the first pandas "
                             "argument; ndpar does not align (use .align or .reindex)"
                             % (fname, what))
        return v.to_numpy(), (v if tmpl is None else tmpl)
    if k == XARRAY:
        if tmpl is not None and kind(tmpl) == XARRAY:
            d0 = tmpl.dims[0]
            if v.dims[:1] != (d0,) or (d0 in tmpl.coords and (
                    d0 not in v.coords or not v.indexes[d0].equals(tmpl.indexes[d0]))):
                raise ValueError("ndpar.%s: '%s' does not share the first dimension (and its "
                                 "coordinate) of the first DataArray" % (fname, what))
        return v.data, (v if tmpl is None else tmpl)
    return v, tmpl
