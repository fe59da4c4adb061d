"""ndpar.apply_indexed: a table of functions chosen per point.

Compiled expression entries are cached per (source, input dtypes), least
recently used first out, within _CACHE_MAX_BYTES: each program is charged
its size as the extension reports it (ApplyExpr.nbytes, from
ndp_apply_expr_bytes) or, where the extension cannot, a bound from the
source's length that tests/c/test_apply.c checks the real size against.
"""
from __future__ import annotations

import ctypes
import threading
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from . import _containers, _ndpar

__all__ = ["apply_indexed"]

_SUPPORTED = frozenset("?bBhHiIlLqQfd")

# ---- the compiled-expression cache --------------------------------------------

_CACHE_MAX_BYTES = 4 << 20
_ENTRY_OVERHEAD = 512  # the key tuple, its dict slot and the Python object
_cache: "OrderedDict[tuple, tuple]" = OrderedDict()  # key -> (program, bytes)
_cache_bytes = 0
_cache_lock = threading.Lock()


def _program_bytes(src: str, prog: Any) -> int:
    """What the cache charges for prog: its reported size, else the bound
    1152 * len(src) + 5120 on ndp_apply_expr_bytes (tests/c/test_apply.c),
    plus the key and the Python objects."""
    n = getattr(prog, "nbytes", None)
    if not isinstance(n, int) or n <= 0:
        n = 1152 * len(src.encode()) + 5120
    return n + len(src) + _ENTRY_OVERHEAD


def _compile(src: str, typenums: tuple) -> Any:
    global _cache_bytes
    key = (src, typenums)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit[0]
    prog = _ndpar.ApplyExpr(src, typenums)  # outside the lock: may take a while
    size = _program_bytes(src, prog)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:  # another thread compiled it meanwhile
            _cache.move_to_end(key)
            return hit[0]
        if size <= _CACHE_MAX_BYTES:
            _cache[key] = (prog, size)
            _cache_bytes += size
            while _cache_bytes > _CACHE_MAX_BYTES:
                _, (_, b) = _cache.popitem(last=False)
                _cache_bytes -= b
    return prog


def _clear_cache() -> None:
    """Forgets every compiled expression (programs in use stay alive)."""
    global _cache_bytes
    with _cache_lock:
        _cache.clear()
        _cache_bytes = 0


def _cache_info() -> tuple:
    """(entries, bytes charged) of the compiled-expression cache."""
    with _cache_lock:
        return len(_cache), _cache_bytes


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


def _describe(f: Any) -> str:
    """A short name for a table entry: math.sin, mymod.f, or its repr."""
    mod, name = getattr(f, "__module__", None), getattr(f, "__qualname__", None)
    if isinstance(name, str):
        return "%s.%s" % (mod, name) if isinstance(mod, str) and mod != "builtins" else name
    r = repr(f)
    return r if len(r) <= 80 else r[:77] + "..."


def _cast_problem(what: str, out_dtype: np.dtype, how: str) -> str:
    """'... cannot be cast to <the output> under the 'same_kind' rule (<what
    to do>)', by how the output dtype was chosen: 'out', 'dtype' or
    'default' (the result type of the inputs and expressions)."""
    if how == "out":
        return ("%s, which cannot be cast to the dtype of 'out' (%s) under the 'same_kind' "
                "rule (give an 'out' of a dtype it casts to)" % (what, out_dtype))
    if how == "dtype":
        return ("%s, which cannot be cast to dtype=%s under the 'same_kind' rule (pass a "
                "dtype it casts to)" % (what, out_dtype))
    return ("%s, which cannot be cast to the output dtype %s (the result type of the "
            "inputs and expression entries) under the 'same_kind' rule (pass dtype= or out=)"
            % (what, out_dtype))


def _name_entry(err: Exception, pos: int, f: Any) -> None:
    """Makes err (raised by table[pos], the callable f) say so, in place:
    its type, identity and traceback stay the user's."""
    msg = "%s: %s" % (type(err).__name__, err) if str(err) else type(err).__name__
    if isinstance(err, TypeError) and (
            "scalar" in str(err) or getattr(f, "__module__", None) in ("math", "cmath")):
        msg += (" (a callable entry is called once per group with an array of the group's "
                "points, not with one value: use a function of arrays, e.g. NumPy's, or "
                "np.vectorize)")
    text = "ndpar.apply_indexed: table[%d] (%s) raised %s" % (pos, _describe(f), msg)
    plain = type(err).__str__ is BaseException.__str__ and len(err.args) <= 1
    if plain:
        err.args = (text,)
    elif hasattr(err, "add_note"):
        err.add_note(text)


def _wrap_callable(f: Any, pos: int, out_dtype: np.dtype, how: str) -> Any:
    """f as the extension calls it: its exceptions name the entry, and a
    result of a dtype that cannot reach out_dtype says why."""
    ok: set = set()

    def call(*args: Any) -> Any:
        try:
            r = np.asarray(f(*args))
        except Exception as err:
            _name_entry(err, pos, f)
            raise
        if r.dtype not in ok:
            if not np.can_cast(r.dtype, out_dtype, casting="same_kind"):
                raise TypeError("ndpar.apply_indexed: table[%d] " % pos
                                + _cast_problem("returned dtype %s" % r.dtype, out_dtype, how))
            ok.add(r.dtype)
        return r
    return call


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

    x: one array (anything np.asarray takes: a list is one array, as in
    NumPy), or a tuple of arrays for functions of several arguments (all
    one-dimensional, of the same length N); only a tuple means several. index: N integers of any
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

    Containers: a pandas Series or an xarray DataArray x comes back as one
    with x's labels (an index that is a Series must share them:
    ValueError otherwise); a masked array raises TypeError; dask arrays
    give a lazy dask array (blockwise; x and index are chunked alike, the
    dtype fixed up front), and out= is then refused.
    """
    xs = x if isinstance(x, tuple) else (x,)
    if not xs:
        raise ValueError("ndpar.apply_indexed: 'x' must hold at least one array")
    if type(index) is not np.ndarray or any(type(a) is not np.ndarray for a in xs):
        found = _containers.kinds(xs + (index,))
        if found:
            return _apply_containers(xs, isinstance(x, tuple), index, table, out, default,
                                     dtype, found)
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

    how = "out" if out is not None else "dtype" if dtype is not None else "default"
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
            raise TypeError("ndpar.apply_indexed: table[%d] %r " % (pos, table[pos])
                            + _cast_problem("gives %s" % c.dtype, out.dtype, how))
    if default is not None:
        default = _default_value(default, out.dtype)
    for i, e in enumerate(entries):
        if callable(e) and not isinstance(e, (int, _ndpar.ApplyExpr)):
            entries[i] = _wrap_callable(e, i, out.dtype, how)
    return _ndpar.apply(tuple(arrs), idx, entries, out, default)


def _apply_containers(xs: tuple, several: bool, index: Any, table: Any, out: Any,
                      default: Any, dtype: Any, found: set) -> Any:
    """apply_indexed with a pandas / xarray / masked / dask argument (the
    rules are _containers.py's): labels come back on the result, x and the
    index must share them; masked arrays raise TypeError; dask is lazy."""
    if found & {_containers.PANDAS, _containers.XARRAY, _containers.MASKED}:
        tmpl = None
        raw = []
        for j, a in enumerate(xs):
            v, tmpl = _containers.unwrap_labelled(
                "apply_indexed", "x" if not several else "x[%d]" % j, a, tmpl)
            raw.append(v)
        idx, tmpl = _containers.unwrap_labelled("apply_indexed", "index", index, tmpl)
        r = apply_indexed(tuple(raw) if several else raw[0], idx, table, out=out,
                          default=default, dtype=dtype)
        return r if out is not None else _containers._first_dim_wrap(tmpl, r)
    if out is not None:
        raise _containers.refuse_dask_out("apply_indexed")
    from . import _dask
    import dask.array as da
    conv = [a if _containers.kind(a) == _containers.DASK else da.asarray(np.asarray(a))
            for a in xs + (index,)]
    return _dask.apply_indexed(tuple(conv[:-1]), several, conv[-1], table, default, dtype)


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
