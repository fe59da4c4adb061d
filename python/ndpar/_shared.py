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
from typing import Any

import numpy as np

from . import _ndpar
from ._apply import _native_address

__all__ = ["shared_empty", "shared_zeros", "SharedArray", "parallel_for"]

_SUPPORTED = frozenset("?bBhHiIlLqQfd")


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
    dt = np.dtype(dtype)
    if dt.char not in _SUPPORTED:
        raise TypeError(
            "ndpar: 'dtype' must be bool, int8..int64, uint8..uint64, float32 or float64, got %s" % dt
        )
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
    array and every view of it are gone, in every process.
    """
    return _segment(None, shape, dtype, True).array()


def shared_zeros(shape: Any, dtype: Any = float) -> np.ndarray:
    """Like ``shared_empty``; the array is all zeros."""
    return _segment(None, shape, dtype, True).array()


class SharedArray:
    """A named array in shared memory.

    ``SharedArray.create(name, shape, dtype)`` makes one (all zeros); any
    process of the same user can then ``SharedArray.attach(name)`` to it.
    ``.array`` is the NumPy array. The name lives in Linux's abstract socket
    namespace, served by the creating process: it disappears when the
    creator calls ``close()`` (or leaves its ``with`` block) or exits in any
    way, a crash included; nothing is left in /dev/shm. ``close()`` in a
    process that attached never removes the name. Memory stays mapped while
    arrays on it exist, in each process.
    """

    __slots__ = ("_seg", "array", "name", "is_creator")

    def __init__(self, seg: Any) -> None:
        self._seg = seg
        self.array: np.ndarray = seg.array()
        self.name: str = seg.name
        self.is_creator: bool = seg.is_creator

    @classmethod
    def create(cls, name: str, shape: Any, dtype: Any = float) -> "SharedArray":
        if not isinstance(name, str):
            raise TypeError("ndpar.SharedArray.create: 'name' must be a str")
        return cls(_segment(name, shape, dtype, True))

    @classmethod
    def attach(cls, name: str) -> "SharedArray":
        if not isinstance(name, str):
            raise TypeError("ndpar.SharedArray.attach: 'name' must be a str")
        return cls(_ndpar.shm_attach(name))

    def close(self) -> None:
        """Withdraw the name (creator) and drop this object's reference."""
        seg = self._seg
        if seg is not None:
            seg.unpublish()
            self._seg = None

    @property
    def closed(self) -> bool:
        return self._seg is None

    def __enter__(self) -> "SharedArray":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy:
            return np.array(self.array, dtype=dtype, copy=True)
        return self.array if dtype is None else self.array.astype(dtype, copy=False)

    def __repr__(self) -> str:
        state = "closed" if self._seg is None else ("creator" if self.is_creator else "attached")
        return "SharedArray(%r, shape=%s, dtype=%s, %s)" % (
            self.name, self.array.shape, self.array.dtype, state)


def parallel_for(kernel: Any, n: int, *arrays: Any, chunk: int | None = None,
                 userdata: Any = None, nthreads: int = 0) -> None:
    """Run a native kernel over ``range(n)`` on all cores, without the GIL.

    kernel: a ctypes, cffi or numba.cfunc function pointer of signature
    ``int32 kernel(int64 begin, int64 end, void **data, void *ud)`` that
    processes indices [begin, end) and returns 0 (non-zero stops the job:
    RuntimeError). ``data[j]`` is the first element of ``arrays[j]``, which
    must be C-contiguous (it may write into a writeable one); ``ud`` is
    ``userdata`` (an int address, a ctypes pointer, or None for NULL).
    chunk: indices per call (default: about 8 calls per thread).
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
    n = operator.index(n)
    if n < 0:
        raise ValueError("ndpar.parallel_for: 'n' must be >= 0, got %d" % n)
    if chunk is None:
        chunk = 0
    else:
        chunk = operator.index(chunk)
        if chunk < 1:
            raise ValueError("ndpar.parallel_for: 'chunk' must be >= 1, got %d" % chunk)
    ptrs = []
    for j, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):
            raise TypeError("ndpar.parallel_for: arrays[%d] must be a numpy array, got %s"
                            % (j, type(a).__name__))
        if not a.flags.c_contiguous:
            raise ValueError("ndpar.parallel_for: arrays[%d] must be C-contiguous" % j)
        ptrs.append(a.ctypes.data)
    if userdata is None:
        ud = None
    elif isinstance(userdata, int):
        ud = userdata
    else:
        ud = ctypes.cast(userdata, ctypes.c_void_p).value
    _ndpar.parallel_for(addr, n, tuple(ptrs), ud, chunk, operator.index(nthreads))
