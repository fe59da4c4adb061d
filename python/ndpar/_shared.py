"""Shared-memory arrays and native kernels on the pool.

``shared_empty`` / ``shared_zeros`` give NumPy arrays whose memory is a
memfd mapped MAP_SHARED: processes forked later (ndpar's worker processes
included) see and write the same memory. ``SharedArray`` adds a name that
other processes of the same user can attach to. ``parallel_for`` runs a
native kernel over index ranges without the GIL.
"""
from __future__ import annotations

import ctypes
import operator
from typing import Any, Iterator

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from . import _ndpar
from ._apply import _native_address

__all__ = ["shared_empty", "shared_zeros", "SharedArray", "parallel_for"]

_SUPPORTED = frozenset("?bBhHiIlLqQfd")
_DTYPES = "bool, int8..int64, uint8..uint64, float32 or float64"


def _shape(shape: Any) -> tuple:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError("ndpar: 'shape' must be an int or a tuple of ints") from None
    if any(s < 0 for s in shape):
        raise ValueError("ndpar: 'shape' must not have negative dimensions, got %s" % (shape,))
    return shape


def _dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError) as err:
        raise TypeError("ndpar: 'dtype' must be %s, got %r (%s)" % (_DTYPES, dtype, err)) from None
    if dt.char not in _SUPPORTED or dt.fields is not None or dt.subdtype is not None:
        raise TypeError("ndpar: 'dtype' must be %s, got %s" % (_DTYPES, dt))
    if not dt.isnative:
        # segments hold native-endian data (the header has no byte order):
        # refuse rather than hand back an array of another dtype
        raise ValueError("ndpar: 'dtype' %s is not in native byte order; shared arrays are "
                         "native-endian (use %s)" % (dt.str, dt.newbyteorder("=").str))
    return dt


def _segment(name: str | None, shape: Any, dtype: Any, touch: bool) -> Any:
    shape, dt = _shape(shape), _dtype(dtype)
    return _ndpar.shm_create(name, shape, dt.num, touch, 0)


def shared_empty(shape: Any, dtype: Any = float) -> np.ndarray:
    """A new array in memory shared with processes forked later.

    Not the size-limited /dev/shm: an anonymous memfd, touched first in
    parallel by the pool's threads, with transparent huge pages where the
    system allows them for shared memory. The memory is zero (as for
    ``shared_zeros``: fresh shared pages always are). It is freed when the
    array and every view of it are gone, in every process. dtype: bool,
    int8..int64, uint8..uint64, float32 or float64 (TypeError otherwise),
    in native byte order (ValueError for e.g. '>f8' on a little-endian
    machine).
    """
    return _segment(None, shape, dtype, True).array()


def shared_zeros(shape: Any, dtype: Any = float) -> np.ndarray:
    """Like ``shared_empty``; the array is all zeros."""
    return _segment(None, shape, dtype, True).array()


def _unwrap(x: Any) -> Any:
    """x with every SharedArray in it (at any depth of tuples, lists and
    dict values) replaced by its ndarray."""
    if isinstance(x, SharedArray):
        return x._arr()
    if isinstance(x, tuple):
        return tuple(_unwrap(v) for v in x)
    if isinstance(x, list):
        return [_unwrap(v) for v in x]
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


class SharedArray(NDArrayOperatorsMixin):
    """A named array in shared memory.

    ``SharedArray.create(name, shape, dtype)`` makes one (all zeros); any
    process of the same user can then ``SharedArray.attach(name)`` to it.
    The name lives in Linux's abstract socket namespace, served by the
    creating process: it disappears when the creator calls ``close()`` (or
    leaves its ``with`` block) or exits in any way, a crash included;
    nothing is left in /dev/shm. If another user already holds that
    address, the name is a socket file in a directory of yours instead
    (``$XDG_RUNTIME_DIR/ndpar``, ``/run/user/<uid>/ndpar`` or
    ``/tmp/ndpar-<uid>``, mode 0700; OSError naming the owner when that
    directory is not yours), removed by ``close()`` and at exit; a crashed
    creator's file is stale and is never attached. ``close()`` in a
    process that attached never removes the name. Memory stays mapped while arrays on it exist,
    in each process. Names: 1 to 200 characters from A-Z a-z 0-9 . _ -
    (ValueError otherwise); users have separate namespaces. Ctrl-C
    interrupts an ``attach`` waiting for a creator that does not answer.

    Not an ndarray subclass: a SharedArray delegates to the NumPy array it
    holds (``.array``). Indexing and assignment (``s[:] = 7``), ``len``,
    iteration, ``shape``/``dtype``/``ndim``/``size`` and every other
    ndarray attribute or method, operators (``s + 1``, ``s += 1`` in
    place), ufuncs (``np.exp(s)``, via ``__array_ufunc__``) and NumPy
    functions (``np.sum(s)``, via ``__array_function__``) act on that
    array and return plain ndarrays (an in-place operation returns the
    SharedArray). ``np.asarray(s)`` is the array itself, no copy. After
    ``close()`` every such use raises ValueError; arrays and views taken
    before stay valid (they keep the memory mapped).

    Pickling is by name: loading the pickle attaches to the array (in any
    process of the same user, this one included), so it works only while
    the creator still holds the name (until it closes it or exits); a
    closed SharedArray cannot be pickled (ValueError). The data itself is
    never copied into the pickle.
    """

    __slots__ = ("_seg", "_array", "name", "is_creator")

    def __init__(self, seg: Any) -> None:
        self._seg = seg
        self._array: np.ndarray | None = seg.array()
        self.name: str = seg.name
        self.is_creator: bool = seg.is_creator

    @classmethod
    def create(cls, name: str, shape: Any, dtype: Any = float) -> "SharedArray":
        if not isinstance(name, str):
            raise TypeError("ndpar.SharedArray.create: 'name' must be a str, got %s"
                            % type(name).__name__)
        return cls(_segment(name, shape, dtype, True))

    @classmethod
    def attach(cls, name: str) -> "SharedArray":
        if not isinstance(name, str):
            raise TypeError("ndpar.SharedArray.attach: 'name' must be a str, got %s"
                            % type(name).__name__)
        return cls(_ndpar.shm_attach(name))

    def close(self) -> None:
        """Withdraw the name (creator) and drop this object's references;
        using the object afterwards raises ValueError."""
        seg = self._seg
        if seg is not None:
            seg.unpublish()
            self._seg = None
            self._array = None

    @property
    def closed(self) -> bool:
        return self._seg is None

    def _arr(self) -> np.ndarray:
        a = self._array
        if a is None:
            raise ValueError("ndpar: SharedArray %r is closed" % self.name)
        return a

    @property
    def array(self) -> np.ndarray:
        """The NumPy array on the shared memory (ValueError once closed)."""
        return self._arr()

    def __enter__(self) -> "SharedArray":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- the array protocol -----------------------------------------------------------

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self._arr()
        if copy:
            return np.array(a, dtype=dtype, copy=True)
        if dtype is None or np.dtype(dtype) == a.dtype:
            return a
        if copy is False:
            raise ValueError("ndpar: SharedArray %r: cannot convert %s to %s without a copy"
                             % (self.name, a.dtype, np.dtype(dtype)))
        return a.astype(dtype)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = _unwrap(out if isinstance(out, tuple) else (out,))
        result = getattr(ufunc, method)(*_unwrap(inputs), **kwargs)
        if out is None:
            return result
        # an output that was a SharedArray is returned as that SharedArray
        outs = out if isinstance(out, tuple) else (out,)
        if isinstance(result, tuple):
            return tuple(o if isinstance(o, SharedArray) else r for o, r in zip(outs, result))
        return outs[0] if isinstance(outs[0], SharedArray) else result

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return func(*_unwrap(args), **_unwrap(kwargs))

    # ---- a sequence ---------------------------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        return self._arr()[_unwrap(key)]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._arr()[_unwrap(key)] = _unwrap(value)

    def __len__(self) -> int:
        return len(self._arr())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._arr())

    def __contains__(self, value: Any) -> bool:
        return _unwrap(value) in self._arr()

    def __bool__(self) -> bool:
        return bool(self._arr())

    def __int__(self) -> int:
        return int(self._arr())

    def __float__(self) -> float:
        return float(self._arr())

    def __complex__(self) -> complex:
        return complex(self._arr())

    @property
    def shape(self) -> tuple:
        return self._arr().shape

    @property
    def dtype(self) -> np.dtype:
        return self._arr().dtype

    @property
    def ndim(self) -> int:
        return self._arr().ndim

    @property
    def size(self) -> int:
        return self._arr().size

    def __getattr__(self, attr: str) -> Any:
        # every other ndarray attribute (T, nbytes, sum, reshape, ...)
        if attr.startswith("__") or attr in SharedArray.__slots__:
            raise AttributeError(attr)
        return getattr(self._arr(), attr)

    def __dir__(self) -> list:
        names = set(super().__dir__())
        if self._array is not None:
            names.update(dir(self._array))
        return sorted(names)

    def __repr__(self) -> str:
        if self._array is None:
            return "SharedArray(%r, closed)" % self.name
        state = "creator" if self.is_creator else "attached"
        return "SharedArray(%r, %s, %r)" % (self.name, state, self._array)

    def __str__(self) -> str:
        return str(self._arr())

    def __reduce__(self) -> Any:
        # by name: loading attaches (SharedArray.attach), in this process or
        # another one of the same user, while the creator keeps the name
        if self._seg is None:
            raise ValueError("ndpar: SharedArray %r is closed: it cannot be pickled" % self.name)
        return (_attach, (self.name,))


def _attach(name: str) -> SharedArray:
    """Unpickles a SharedArray: attaches to it by name."""
    return SharedArray.attach(name)


def _readonly(readonly: Any, narrays: int) -> frozenset:
    if isinstance(readonly, (int, np.integer)) and not isinstance(readonly, bool):
        readonly = (readonly,)
    try:
        pos = [operator.index(j) for j in readonly]
    except TypeError:
        raise TypeError("ndpar.parallel_for: 'readonly' must be a tuple of array positions "
                        "(ints), got %r" % (readonly,)) from None
    for j in pos:
        if not 0 <= j < narrays:
            raise ValueError("ndpar.parallel_for: 'readonly' position %d is not one of the %d "
                             "arrays (0..%d)" % (j, narrays, narrays - 1))
    return frozenset(pos)


def _count_arg(name: str, v: Any, lowest: int, note: str = "") -> int:
    """parallel_for's integer arguments: an int (NumPy's too), >= lowest."""
    try:
        v = operator.index(v)
    except TypeError:
        raise TypeError("ndpar.parallel_for: '%s' must be an int, got %s"
                        % (name, type(v).__name__)) from None
    if v < lowest:
        raise ValueError("ndpar.parallel_for: '%s' must be >= %d%s, got %d"
                         % (name, lowest, note, v))
    return v


def parallel_for(kernel: Any, n: int, *arrays: Any, chunk: int | None = None,
                 userdata: Any = None, nthreads: int = 0, readonly: Any = ()) -> None:
    """Run a native kernel over ``range(n)`` on all cores, without the GIL.

    kernel: a ctypes, cffi or numba.cfunc function pointer of signature
    ``int32 kernel(int64 begin, int64 end, void **data, void *ud)`` that
    processes indices [begin, end) and returns 0 (non-zero stops the job:
    RuntimeError). ``data[j]`` is the first element of ``arrays[j]``
    (ndarrays or SharedArrays), which must be C-contiguous and, unless
    0-dimensional, have at least ``n`` rows (ValueError naming 'n'
    otherwise). The kernel may write into any array, so each must be
    writeable, except those whose positions are listed in ``readonly``
    (a tuple of positions in ``arrays``): the caller promises the kernel
    only reads them (a read-only array not listed: ValueError). ``ud`` is
    ``userdata`` (an int address, a ctypes pointer, or None for NULL).
    chunk: indices per call (default: about 8 calls per thread).
    nthreads: 0 (default) for the pool's default (or the limit of an
    enclosing ``with ndpar.threads(k)``), else at most that many threads.
    A kernel that crashes takes the process down: test it on one thread
    first (``nthreads=1``).
    """
    try:
        addr = _native_address(kernel)
    except TypeError as err:
        raise TypeError("ndpar.parallel_for: 'kernel': %s" % err) from None
    if addr is None:
        raise TypeError(
            "ndpar.parallel_for: 'kernel' must be a native function pointer (ctypes, cffi, "
            "numba.cfunc), got %s" % type(kernel).__name__
        )
    n = _count_arg("n", n, 0)
    chunk = 0 if chunk is None else _count_arg("chunk", chunk, 1)
    nthreads = _count_arg("nthreads", nthreads, 0, " (0: the default)")
    ro = _readonly(readonly, len(arrays))
    ptrs, keep = [], []  # keep: the arrays stay alive while the kernel runs
    for j, a in enumerate(arrays):
        if isinstance(a, SharedArray):
            a = a.array
        if not isinstance(a, np.ndarray):
            raise TypeError("ndpar.parallel_for: arrays[%d] must be a numpy array, got %s"
                            % (j, type(a).__name__))
        if not a.flags.c_contiguous:
            raise ValueError("ndpar.parallel_for: arrays[%d] must be C-contiguous" % j)
        if not a.flags.writeable and j not in ro:
            raise ValueError("ndpar.parallel_for: array %d is read-only: pass readonly=(%d,) "
                             "if the kernel only reads it" % (j, j))
        if a.ndim and n > a.shape[0]:
            raise ValueError("ndpar.parallel_for: 'n' (%d) is larger than the first axis of "
                             "arrays[%d] (%d)" % (n, j, a.shape[0]))
        ptrs.append(a.ctypes.data)
        keep.append(a)
    if userdata is None:
        ud = None
    elif isinstance(userdata, int):
        ud = userdata
    else:
        ud = ctypes.cast(userdata, ctypes.c_void_p).value
    _ndpar.parallel_for(addr, n, tuple(ptrs), ud, chunk, nthreads)
    del keep
