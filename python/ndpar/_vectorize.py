"""User kernels: ``ndpar.vectorize``, ``ndpar.guvectorize`` and ``ndpar.kernel``.

The function's source (``inspect.getsource``) is parsed and compiled by
ndpar's own C parser -- never by Python's ``eval`` or ``exec`` -- to a
register bytecode that runs SPMD on blocks of lanes (elements for
vectorize, rows for guvectorize) under per-lane masks, on all cores with
the GIL released. A program is compiled once per argument dtypes and
cached on the object.

The language is a subset of Python: numbers, bools, locals with inferred
types (int widens to float), arithmetic with Python's ``//``, ``%`` and
``**`` on ints, comparisons (chained), and/or/not, ``x if c else y``,
if/elif/else, while, ``for i in range(...)``, break, continue, return,
tuple and augmented assignment, ``math.*`` / ``np.*`` functions, abs, min,
max, int, float, bool, round(x), module-level numeric constants, and for
guvectorize ``x[j]``, ``x[i, j]``, ``x.shape[k]``, ``len(x)`` and writes to
the output parameters. Anything else raises SyntaxError / TypeError /
NameError naming the construct and its line.

Differences from Python, by design: ints are int64 and wrap on overflow;
float division by zero gives inf/nan (as NumPy and Numba's vectorize; an
integer division by zero raises ZeroDivisionError); ``math`` functions give
NaN/inf where Python raises ValueError; a local read before it is assigned
is 0 (Python raises UnboundLocalError).
"""
from __future__ import annotations

import inspect
import re
import textwrap
import types

import numpy as np

from . import _ndpar

__all__ = ["vectorize", "guvectorize", "kernel"]

_SUPPORTED = {"bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "float32",
              "float64"}


def _as_array(a, name, fname):
    arr = np.asarray(a)
    if arr.dtype.name not in _SUPPORTED:
        raise TypeError(f"ndpar.{fname}: argument '{name}' has dtype {arr.dtype}, which ndpar "
                        "kernels do not support (bool, int8..int64, uint8..uint32, float32, "
                        "float64)")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _source(func, what):
    if not isinstance(func, types.FunctionType):
        raise TypeError(f"ndpar.{what} needs a Python function, not {type(func).__name__}")
    if func.__name__ == "<lambda>":
        raise TypeError(f"ndpar.{what}: lambda is not supported; use a def function")
    try:
        src = inspect.getsource(func)
    except (OSError, TypeError) as e:
        raise TypeError(f"ndpar.{what}: cannot read the source of {func.__name__!r} ({e}); "
                        "use ndpar.kernel(source_text)") from None
    src = textwrap.dedent(src)
    first = func.__code__.co_firstlineno
    filename = func.__code__.co_filename
    return src, first, filename


_NUM = (bool, int, float, np.bool_, np.integer, np.floating)


def _constants(func):
    """Module-level (and closure) numbers the function may read; other
    globals it names are passed as 'not a number' so using one is a
    TypeError naming it."""
    out = {}
    g = func.__globals__
    code = func.__code__
    names = set(code.co_names)
    for n in names:
        if n in g:
            v = g[n]
            if isinstance(v, types.ModuleType):
                continue
            out[n] = _num(v)
    if func.__closure__:
        for n, cell in zip(code.co_freevars, func.__closure__):
            try:
                out[n] = _num(cell.cell_contents)
            except ValueError:
                pass
    return tuple(out.items())


def _num(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    return None


def _copy_meta(obj, func, name):
    obj.py_func = func
    obj.__name__ = name
    obj.__qualname__ = getattr(func, "__qualname__", name) if func is not None else name
    obj.__doc__ = func.__doc__ if func is not None else None
    obj.__module__ = getattr(func, "__module__", None) if func is not None else None
    obj.__wrapped__ = func


class _Base:
    def __init__(self, func, src, first, filename, consts, name, what):
        self._src = src
        self._first = first
        self._filename = filename
        self._consts = consts
        self._fname = name
        self._what = what
        self._cache = {}
        self._nparams = _ndpar.kernel_check(src, name, first, filename)
        _copy_meta(self, func, name)

    def _compile(self, key, args):
        k = self._cache.get(key)
        if k is None:
            k = _ndpar.Kernel(self._src, self._fname, args, self._first, self._consts,
                              self._filename)
            self._cache[key] = k
        return k

    def __repr__(self):
        return f"<ndpar.{self._what} {self.__name__}>"

    def __reduce__(self):
        """By reference when importable (a module-level kernel), else as its
        source: compiled programs are process-local and never pickled."""
        import importlib

        try:
            obj = importlib.import_module(self.__module__)
            for part in self.__qualname__.split("."):
                obj = getattr(obj, part)
            if obj is self:
                return self.__qualname__ if "." not in self.__qualname__ else (
                    _by_name, (self.__module__, self.__qualname__))
        except Exception:  # noqa: BLE001 - not importable: ship the source
            pass
        return (_rebuild, (type(self).__name__, self._src, self._first, self._filename,
                           self._consts, self._fname, getattr(self, "signature", None)))


class Vectorized(_Base):
    """A function applied per element, with NumPy broadcasting, scalar
    arguments and ``out=``: the result of ``ndpar.vectorize``."""

    def __init__(self, func, src, first, filename, consts, name):
        super().__init__(func, src, first, filename, consts, name, "vectorize")
        self.signature = None
        self._ufunc_loops = set()  # the loops kernel_ufunc's promoter added

    def _kernel_for(self, key):
        """The Kernel for these argument dtype names, compiled once."""
        return self._compile(key, tuple((d, 0, False) for d in key))

    @property
    def nin(self):
        return self._nparams

    def __call__(self, *args, out=None):
        if len(args) != self._nparams:
            raise TypeError(f"ndpar: {self.__name__}() takes {self._nparams} arguments, "
                            f"got {len(args)}")
        arrs = tuple(_as_array(a, f"argument {i}", "vectorize") for i, a in enumerate(args))
        key = tuple(a.dtype.name for a in arrs)
        k = self._compile(key, tuple((d, 0, False) for d in key))
        shape = np.broadcast_shapes(*(a.shape for a in arrs))
        rdt = np.dtype(k.result_dtype)
        if out is None:
            o = np.empty(shape, rdt)
        else:
            if isinstance(out, tuple) and len(out) == 1:
                out = out[0]
            if not isinstance(out, np.ndarray):
                raise TypeError("ndpar: argument 'out' must be a numpy array")
            if not np.can_cast(rdt, out.dtype, "same_kind"):
                raise TypeError(f"ndpar: cannot store {rdt} results in 'out' of dtype "
                                f"{out.dtype} (casting='same_kind')")
            if np.broadcast_shapes(shape, out.shape) != out.shape:
                raise ValueError(f"ndpar: argument 'out' has shape {out.shape}, the result "
                                 f"has shape {shape}")
            o = out
        if o.dtype.name not in _SUPPORTED or not o.dtype.isnative:
            raise TypeError(f"ndpar: 'out' has unsupported dtype {o.dtype}")
        k.run(arrs, o)
        if out is not None:
            return out
        return o[()] if o.ndim == 0 else o


def _as_ufunc(v, func):
    """The numpy.ufunc for a Vectorized kernel: NumPy broadcasts, takes
    out=, where=, dtype=, and the methods (reduce, accumulate, outer, at);
    each new tuple of argument dtypes compiles the kernel once."""
    uf = _ndpar.kernel_ufunc(v, v._nparams, v.__name__)
    if func is not None:
        uf.py_func = func
        uf.__wrapped__ = func
        uf.__qualname__ = getattr(func, "__qualname__", v.__name__)
        uf.__module__ = getattr(func, "__module__", None)
        try:
            uf.__doc__ = func.__doc__
        except (AttributeError, TypeError):
            pass
    return uf


def _by_name(module, qualname):
    import importlib

    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _rebuild(kind, src, first, filename, consts, name, signature):
    if kind == "GUVectorized":
        return GUVectorized(None, src, first, filename, consts, name, signature)
    return Vectorized(None, src, first, filename, consts, name)


def _gu_dask(self, args):
    """Dask arrays in, a lazy dask array out: dask's apply_gufunc with this
    kernel's core dimensions and the output dtypes the kernel infers (it is
    compiled once here, for the blocks' dtypes; the blocks then reuse it)."""
    import dask.array as da

    arrs = [a if hasattr(a, "__dask_graph__") else np.asarray(a) for a in args]
    key = tuple(np.dtype(a.dtype).name for a in arrs)
    kargs = tuple((d, len(c), False) for d, c in zip(key, self._ins))
    kargs += tuple((None, max(len(c), 1), True) for c in self._outs)
    k = self._compile(key, kargs)
    nin = len(self._ins)
    dts = [np.dtype(k.arg_dtype(nin + j)) for j in range(len(self._outs))]
    r = da.apply_gufunc(self, self.signature, *arrs, output_dtypes=dts if len(dts) > 1 else dts[0],
                        allow_rechunk=False)
    return r


def _can_store(src, dst):
    """Element writes out[j] = v: NumPy's 'same_kind', and ints into any
    integer dtype (wrapping, as a C cast)."""
    return np.can_cast(src, dst, "same_kind") or (src.kind in "iub" and dst.kind in "iu")


_LAYOUT = re.compile(r"\s*\(([^()]*)\)\s*")


def _parse_layout(sig):
    if not isinstance(sig, str) or "->" not in sig:
        raise ValueError(f"ndpar.guvectorize: signature must look like '(n),()->(n)', not {sig!r}")
    lhs, rhs = sig.split("->", 1)

    def part(s):
        out = []
        s = s.strip()
        pos = 0
        while pos < len(s):
            m = _LAYOUT.match(s, pos)
            if not m:
                raise ValueError(f"ndpar.guvectorize: bad signature {sig!r}")
            dims = [d.strip() for d in m.group(1).split(",") if d.strip()]
            for d in dims:
                if not d.isidentifier():
                    raise ValueError(f"ndpar.guvectorize: bad core dimension {d!r} in {sig!r}")
            if len(dims) > 2:
                raise ValueError("ndpar.guvectorize: at most 2 core dimensions per argument")
            out.append(dims)
            pos = m.end()
            if pos < len(s):
                if s[pos] != ",":
                    raise ValueError(f"ndpar.guvectorize: bad signature {sig!r}")
                pos += 1
        return out

    ins, outs = part(lhs), part(rhs)
    if not outs:
        raise ValueError("ndpar.guvectorize: the signature needs at least one output")
    return ins, outs


class GUVectorized(_Base):
    """A function applied per row (a generalized ufunc): the result of
    ``ndpar.guvectorize``. Dask arrays give a lazy dask array
    (``dask.array.apply_gufunc``; core dimensions must be in one chunk)."""

    _dask = _gu_dask

    def __init__(self, func, src, first, filename, consts, name, signature):
        super().__init__(func, src, first, filename, consts, name, "guvectorize")
        self.signature = signature
        self._ins, self._outs = _parse_layout(signature)
        if self._nparams != len(self._ins) + len(self._outs):
            raise TypeError(f"ndpar.guvectorize: {name}() has {self._nparams} parameters but "
                            f"the signature {signature!r} has {len(self._ins)} inputs and "
                            f"{len(self._outs)} outputs (outputs are the trailing parameters)")

    def __call__(self, *args, out=None):
        nin, nout = len(self._ins), len(self._outs)
        if out is None and len(args) == nin and any(
                getattr(type(a), "__dask_graph__", None) is not None for a in args):
            return self._dask(args)
        if len(args) == nin + nout and out is None:
            out = args[nin:]
            args = args[:nin]
        if len(args) != nin:
            raise TypeError(f"ndpar: {self.__name__}() takes {nin} inputs, got {len(args)}")
        if out is not None and not isinstance(out, tuple):
            out = (out,)
        if out is not None and len(out) != nout:
            raise ValueError(f"ndpar: {self.__name__}() has {nout} outputs, 'out' gives {len(out)}")
        arrs = [_as_array(a, f"argument {i}", "guvectorize") for i, a in enumerate(args)]
        dims = {}
        loops = []
        for i, (a, core) in enumerate(zip(arrs, self._ins)):
            if a.ndim < len(core):
                raise ValueError(f"ndpar: argument {i} has {a.ndim} dimensions, its core "
                                 f"({','.join(core)}) needs {len(core)}")
            cs = a.shape[a.ndim - len(core):]
            for d, n in zip(core, cs):
                if dims.setdefault(d, n) != n:
                    raise ValueError(f"ndpar: core dimension '{d}' is {dims[d]} in one argument "
                                     f"and {n} in argument {i}")
            loops.append(a.shape[:a.ndim - len(core)])
        loop = np.broadcast_shapes(*loops) if loops else ()
        key = tuple(a.dtype.name for a in arrs)
        kargs = tuple((a.dtype.name, len(c), False) for a, c in zip(arrs, self._ins))
        kargs += tuple((None, max(len(c), 1), True) for c in self._outs)
        k = self._compile(key, kargs)
        outs, views = [], []
        for j, core in enumerate(self._outs):
            for d in core:
                if d not in dims:
                    raise ValueError(f"ndpar: output core dimension '{d}' is not set by any input")
            cshape = tuple(dims[d] for d in core)
            want = np.dtype(k.arg_dtype(nin + j))
            if out is None:
                o = np.zeros(loop + cshape, want)
            else:
                o = out[j]
                if not isinstance(o, np.ndarray):
                    raise TypeError("ndpar: outputs must be numpy arrays")
                if o.shape != loop + cshape:
                    raise ValueError(f"ndpar: output {j} has shape {o.shape}, expected "
                                     f"{loop + cshape}")
                if not _can_store(want, o.dtype):
                    raise TypeError(f"ndpar: cannot store {want} values in output {j} of dtype "
                                    f"{o.dtype} (casting='same_kind', ints to any int dtype)")
                if o.dtype.name not in _SUPPORTED or not o.dtype.isnative:
                    raise TypeError(f"ndpar: output {j} has unsupported dtype {o.dtype}")
            outs.append(o)
            views.append(o if core else o[..., np.newaxis])
        k.run(tuple(arrs) + tuple(views))
        if out is not None:
            return out[0] if nout == 1 else tuple(out)
        res = [o[()] if o.ndim == 0 else o for o in outs]
        return res[0] if nout == 1 else tuple(res)


def _is_sigs(x):
    return isinstance(x, (list, tuple, str)) or (x is not None and not callable(x))


def vectorize(func=None, /, *signatures, **options):
    """Compiles a function of scalars to a parallel, SIMD elementwise function.

    Usable as ``@ndpar.vectorize``, ``@ndpar.vectorize()`` and in Numba's form
    ``@ndpar.vectorize(['float64(float64)'], target='parallel')`` (the type
    signatures and options are accepted and ignored: ndpar compiles for the
    dtypes it is called with). The result dtype follows the function: a count
    stays int64, float math is float64, float32 inputs stay float32 where
    every operation allows it. ``.py_func`` is the original function.
    """
    del signatures, options

    def wrap(f):
        src, first, filename = _source(f, "vectorize")
        return _as_ufunc(Vectorized(f, src, first, filename, _constants(f), f.__name__), f)

    if func is None or _is_sigs(func):
        return wrap
    return wrap(func)


def guvectorize(*args, **options):
    """Compiles a function over rows: ``@ndpar.guvectorize("(n)->(n)")``.

    Also Numba's form ``@guvectorize([type signatures], "(n),()->(n)")`` (types
    ignored). Outputs are the trailing parameters; a scalar output "()" is
    written as ``out[0] = v``. The call broadcasts the loop dimensions,
    allocates the outputs (zero-filled) unless given (``out=`` or as the
    trailing arguments), with dtypes inferred from what the function stores.
    """
    layout = options.pop("signature", None)
    for a in args:
        if isinstance(a, str) and "->" in a:
            layout = a
    if layout is None:
        raise TypeError("ndpar.guvectorize needs a layout signature such as '(n)->(n)'")
    _parse_layout(layout)

    def wrap(f):
        src, first, filename = _source(f, "guvectorize")
        return GUVectorized(f, src, first, filename, _constants(f), f.__name__, layout)

    return wrap


def kernel(source, name=None, signature=None):
    """A kernel from text: ``ndpar.kernel("def f(x):\\n    return x + 1")``.

    ``name`` picks the def (default: the first); with ``signature`` (a
    gufunc layout) it behaves like guvectorize, else like vectorize. Module
    level ``NAME = number`` lines in the text are constants. ``.py_func`` is
    None: the text is never executed by Python.
    """
    if not isinstance(source, str):
        raise TypeError("ndpar.kernel: source must be a str")
    src = textwrap.dedent(source)
    if name is None:
        m = re.search(r"^\s*def\s+([A-Za-z_]\w*)", src, re.M)
        name = m.group(1) if m else None
    if name is None:
        _ndpar.kernel_check(src, None, 1, "<kernel>")
    if signature is None:
        v = _as_ufunc(Vectorized(None, src, 1, "<kernel>", (), name), None)
        v.py_func = None
    else:
        v = GUVectorized(None, src, 1, "<kernel>", (), name, signature)
    return v
