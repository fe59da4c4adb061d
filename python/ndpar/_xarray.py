"""The xarray accessor: ``DataArray.ndpar`` and ``Dataset.ndpar``.

Registered when xarray is imported (before or after ndpar; ndpar never
imports xarray itself). It names dimensions instead of axes:

    da.ndpar.move_mean(24, dim="time", min_count=12, center=False, mode=None)
    ds.ndpar.move_std(24, dim="time")          # every variable with that dim
    ds.ndpar.evaluate("where(t > 0, t * w, 0)")  # the variables by name

Results keep dims, coords, attrs and names; dask-backed data stay lazy
(the move_* run through map_overlap with their blocks anchored at global
positions, evaluate blockwise). All checks are the move_* functions' own.
"""
from __future__ import annotations

from typing import Any, Optional

from . import _threads

MOVES = ("sum", "mean", "var", "std", "min", "max", "argmin", "argmax", "median", "count")


def _axis(obj: Any, dim: Optional[str]) -> int:
    if dim is None:
        return obj.ndim - 1
    if dim not in obj.dims:
        raise ValueError(f"ndpar: dim {dim!r} is not one of {tuple(obj.dims)}")
    return obj.get_axis_num(dim)


def _move_array(da: Any, fname: str, args: tuple, kw: dict) -> Any:
    import ndpar

    data = getattr(ndpar, fname)(da.data, *args, axis=_axis(da, kw.pop("dim", None)), **kw)
    return da.copy(data=data)


class _Base:
    def __init__(self, obj: Any) -> None:
        self._obj = obj


class DataArrayAccessor(_Base):
    """ndpar on a DataArray: move_*(window, dim=None, ...) and
    move_quantile(window, q, dim=None, ...)."""


class DatasetAccessor(_Base):
    """ndpar on a Dataset: move_* over every data variable that has `dim`
    (the others are kept as they are), and evaluate over the variables."""

    def evaluate(self, ex: str, **kw: Any) -> Any:
        """The expression over the data variables (by name) and keyword
        values; a DataArray with the variables' dims, coords and attrs of the
        first variable the expression names."""
        import ndpar

        ds = self._obj
        local = {name: ds[name] for name in ds.data_vars}
        local.update(kw)
        return ndpar.evaluate(ex, local_dict=local)


def _make(fname: str, quantile: bool) -> tuple:
    def on_array(self, window, *args, dim=None, **kw):
        q = args[:1] if quantile else ()
        return _move_array(self._obj, fname, (window,) + q, dict(kw, dim=dim))

    def on_dataset(self, window, *args, dim=None, **kw):
        ds = self._obj
        out = ds.copy()
        for name, v in ds.data_vars.items():
            if dim is None or dim in v.dims:
                out[name] = on_array(DataArrayAccessor(v), window, *args, dim=dim, **kw)
        return out

    for f in (on_array, on_dataset):
        f.__name__ = fname
        f.__doc__ = f"ndpar.{fname} along dim (default: the last one); dims, coords and attrs kept."
    return on_array, on_dataset


for _n in MOVES + ("quantile",):
    _fa, _fd = _make("move_" + _n, _n == "quantile")
    setattr(DataArrayAccessor, "move_" + _n, _fa)
    setattr(DatasetAccessor, "move_" + _n, _fd)
del _n, _fa, _fd


def _register() -> None:
    import sys
    import warnings

    xr = sys.modules["xarray"]
    with warnings.catch_warnings():  # re-registering (a reload) is harmless
        warnings.simplefilter("ignore")
        xr.register_dataarray_accessor("ndpar")(DataArrayAccessor)
        xr.register_dataset_accessor("ndpar")(DatasetAccessor)


def install() -> None:
    """At ndpar's import: register now if xarray is loaded, else when it is."""
    _threads.when_imported("xarray", _register)
