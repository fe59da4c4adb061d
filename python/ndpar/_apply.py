"""ndpar.apply_indexed: a table of functions chosen per point."""
from __future__ import annotations

import ctypes
import functools
from typing import Any, Sequence

import numpy as np

from . import _ndpar

__all__ = ["apply_indexed"]

_SUPPORTED = frozenset("?bBhHiIlLqQfd")


@functools.lru_cache(maxsize=65536)
def _compile(src: str, typenums: tuple) -> Any:
    return _ndpar.ApplyExpr(src, typenums)


def _native_address(f: Any) -> int | None:
    """The address of a native function pointer, or None if f is not one."""
    if isinstance(f, ctypes._CFuncPtr):  # ctypes
        restype = getattr(f, "restype", None)
        if restype is not None and restype not in (ctypes.c_int, ctypes.c_int32):
            raise TypeError(
                "a ctypes entry must return c_int (0 on success), not %r" % (restype,)
            )
        return ctypes.cast(f, ctypes.c_void_p).value
    mod = type(f).__module__
    if mod == "_cffi_backend":  # cffi function pointer
        import cffi  # only present if f came from it

        ffi = cffi.FFI()
        kind = ffi.typeof(f).kind
        if kind != "function" and not (kind == "pointer" and ffi.typeof(f).item.kind == "function"):
            raise TypeError("a cffi entry must be a function pointer, not %s" % kind)
        return int(ffi.cast("uintptr_t", f))
    if mod.startswith("numba") and hasattr(f, "address") and hasattr(f, "native_name"):
        return int(f.address)  # numba.cfunc
    return None


def _entry(e: Any, pos: int, typenums: tuple, cache: dict) -> Any:
    if isinstance(e, str):
        got = cache.get(e)
        if got is None:
            try:
                got = _compile(e, typenums)
            except (SyntaxError, NameError, TypeError, ValueError, OverflowError) as err:
                raise type(err)("ndpar.apply_indexed: table[%d] %r: %s" % (pos, e, err)) from None
            cache[e] = got
        return got
    try:
        addr = _native_address(e)
    except TypeError as err:
        raise TypeError("ndpar.apply_indexed: table[%d]: %s" % (pos, err)) from None
    if addr is not None:
        if not addr:
            raise ValueError("ndpar.apply_indexed: table[%d] is a NULL function pointer" % pos)
        return addr
    if callable(e) and not isinstance(e, (int, float, bytes)):
        return e
    raise TypeError(
        "ndpar.apply_indexed: table[%d] is %s, which is neither an expression string, "
        "a callable, nor a native function pointer (ctypes, cffi, numba.cfunc)"
        % (pos, type(e).__name__)
    )


def apply_indexed(
    x: Any,
    index: Any,
    table: Sequence[Any],
    out: np.ndarray | None = None,
    default: Any = None,
    dtype: Any = None,
) -> np.ndarray:
    """``out[i] = table[index[i]](x[i])`` for every point i, on all cores.

    x: one array, or a tuple of arrays for functions of several arguments
    (all one-dimensional, of the same length N). index: N integers of any
    integer dtype, each in [0, len(table)). table: a sequence whose entries
    may be, in any mix:

    - expression strings in ndpar's expression language, with the argument
      named ``x`` (or ``x0``, ``x1``, ... for several), evaluated without
      the GIL: ``"where(x > 0, sqrt(x), 0)"``;
    - Python callables taking and returning arrays, called once per
      non-empty group with a new contiguous array of that group's points
      (closures and lambdas work: nothing is pickled). They run on the
      pool's threads, concurrently where they release the GIL (NumPy does);
      the result must have the group's length (or be a scalar);
    - native function pointers (ctypes, cffi or numba.cfunc) of signature
      ``int32 f(int64 n, void **args, void *out, void *ud)`` that set
      ``out[i]`` from ``args[j][i]`` for i < n (contiguous arrays of the
      inputs' and output's dtypes; ud is NULL) and return 0, run without
      the GIL on any piece of a group.

    The points are grouped by a parallel counting sort (O(N + k)); extra
    memory is about N * (4 + input item sizes + output item size) bytes.

    out: where to write (length N); else a new array of ``dtype``, which
    defaults to the result type of the inputs and the expression entries.
    Results are cast to it under the 'same_kind' rule.
    default: the value for points whose index is outside [0, len(table));
    without it such a point raises ValueError naming its position.
    An exception in a callable stops the job and is raised here with its
    traceback once every thread has stopped.
    """
    xs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    if not xs:
        raise ValueError("ndpar.apply_indexed: 'x' must hold at least one array")
    arrs = []
    for j, a in enumerate(xs):
        a = np.asarray(a)
        name = "x" if len(xs) == 1 else "x[%d]" % j
        if a.ndim != 1:
            raise ValueError("ndpar.apply_indexed: '%s' must be one-dimensional, got shape %s" % (name, a.shape))
        if a.dtype.char not in _SUPPORTED:
            raise TypeError("ndpar.apply_indexed: '%s' has unsupported dtype %s" % (name, a.dtype))
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))
        arrs.append(a)
    n = arrs[0].shape[0]
    for j, a in enumerate(arrs):
        if a.shape[0] != n:
            raise ValueError(
                "ndpar.apply_indexed: x[%d] has %d points, x[0] has %d" % (j, a.shape[0], n)
            )
    idx = np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError("ndpar.apply_indexed: 'index' must be an integer array, got dtype %s" % idx.dtype)
    if idx.ndim != 1 or idx.shape[0] != n:
        raise ValueError(
            "ndpar.apply_indexed: 'index' must be one-dimensional with %d points, got shape %s"
            % (n, idx.shape)
        )
    if not idx.dtype.isnative:
        idx = idx.astype(idx.dtype.newbyteorder("="))
    if isinstance(table, (str, bytes)) or not hasattr(table, "__len__"):
        raise TypeError("ndpar.apply_indexed: 'table' must be a sequence of entries")
    table = list(table)
    if not table:
        raise ValueError("ndpar.apply_indexed: 'table' is empty")
    typenums = tuple(a.dtype.num for a in arrs)
    cache: dict = {}
    entries = [_entry(e, i, typenums, cache) for i, e in enumerate(table)]

    if out is None:
        if dtype is None:
            dtype = np.result_type(*arrs, *[c.dtype for c in cache.values()])
        dtype = np.dtype(dtype)
        if dtype.char not in _SUPPORTED:
            raise TypeError("ndpar.apply_indexed: unsupported 'dtype' %s" % dtype)
        out = np.empty(n, dtype=dtype)
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError("ndpar.apply_indexed: 'out' must be a numpy array")
        if out.ndim != 1 or out.shape[0] != n:
            raise ValueError("ndpar.apply_indexed: 'out' must have shape (%d,), got %s" % (n, out.shape))
        if not out.flags.writeable:
            raise ValueError("ndpar.apply_indexed: 'out' is read-only")
        if dtype is not None and np.dtype(dtype) != out.dtype:
            raise TypeError("ndpar.apply_indexed: 'dtype' and 'out' disagree")
        if out.dtype.char not in _SUPPORTED or not out.dtype.isnative:
            raise TypeError("ndpar.apply_indexed: unsupported 'out' dtype %s" % out.dtype)
        for j, a in enumerate(arrs + [idx]):
            if np.may_share_memory(out, a):
                what = "index" if j == len(arrs) else ("x" if len(arrs) == 1 else "x[%d]" % j)
                raise ValueError("ndpar.apply_indexed: 'out' overlaps '%s'" % what)
    for c in cache.values():
        if not np.can_cast(c.dtype, out.dtype, casting="same_kind"):
            pos = next(i for i, e in enumerate(table) if isinstance(e, str) and cache.get(e) is c)
            raise TypeError(
                "ndpar.apply_indexed: table[%d] %r gives %s, which cannot be cast to the output "
                "dtype %s under the 'same_kind' rule (pass dtype= or out=)"
                % (pos, table[pos], c.dtype, out.dtype)
            )
    if default is not None:
        default = _default_value(default, out.dtype)
    return _ndpar.apply(tuple(arrs), idx, entries, out, default)


def _default_value(default: Any, dtype: np.dtype) -> np.ndarray:
    """default as one value of dtype, under the rule results obey
    ('same_kind'; a Python int/float/bool is weak, as NEP 50)."""
    name = "ndpar.apply_indexed: 'default'"
    if isinstance(default, (bool, int, float)) and not isinstance(default, np.generic):
        ok = np.result_type(dtype, default) == dtype
        src = type(default).__name__
    else:
        d = np.asarray(default)
        if d.size != 1:
            raise ValueError("%s must be one value, got shape %s" % (name, d.shape))
        ok = np.can_cast(d.dtype, dtype, casting="same_kind")
        src = str(d.dtype)
    if not ok:
        raise TypeError("%s (%s %r) cannot be cast to the output dtype %s under the "
                        "'same_kind' rule" % (name, src, default, dtype))
    try:
        return np.asarray(np.array(default, dtype=dtype).reshape(()))
    except (OverflowError, ValueError) as e:
        raise type(e)("%s %r does not fit the output dtype %s" % (name, default, dtype)) from None
