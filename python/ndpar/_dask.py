"""Dask arrays in, lazy dask arrays out, for ndpar's non-ufunc entry points.

Imported only when a dask array reaches ndpar (_containers.kind), so dask
stays optional. Nothing here computes anything: each function builds a
graph whose tasks call ndpar on NumPy blocks, with the result dtype given
to dask explicitly (from ndpar's own rules, never by running user code or
ndpar on made-up data):

- evaluate / compile, elementwise: ``da.blockwise`` with NumPy broadcasting
  (aligned from the right, size-1 dimensions broadcast); every block is the
  same bits as in memory.
- evaluate / compile ending in a reduction (sum prod min max mean any all,
  with or without axis=): ``da.blockwise`` runs the whole program on each
  block (the chunk step; for mean the same program with sum), then
  ``da.reduction`` combines the partial results with ndpar's reductions
  and, for mean, divides by the count. Values agree with in-memory ndpar to
  rounding (the partials are rounded to the result's dtype).
- move_*: ``map_overlap`` along the axis, depth (w-1, 0) for trailing
  windows with no boundary, (w, w) for centered ones, and boundary
  'nearest' for mode='edge' (the end values repeated, as the edge padding);
  chunks smaller than the depth are merged first, and an axis in one chunk
  needs no overlap at all. The dtype comes from the C function's rule,
  asked on a 0-size array of the input's dtype.
- apply_indexed: ``da.blockwise`` over x and index chunked alike.
- map_chunks: ``da.map_blocks`` over blocks whose only chunked axis is the
  first; the dtype is what func returns for an empty chunk (the rule
  map_chunks itself uses for N == 0), and ``index=`` gets global positions.

The callables put in the graphs are small classes holding names and
texts, not compiled programs, so a graph pickles (for a distributed
cluster) as long as the user's own functions do.
"""
from __future__ import annotations

import operator
from typing import Any, Callable, Optional

import numpy as np
import dask.array as da

# ---- evaluate / compile ----------------------------------------------------------------


class _Program:
    """Runs ex (compiled for the given kinds) on the values: the arrays in
    the block arguments, the rest fixed. Pickles by its text and kinds."""

    def __init__(self, ex: str, names: tuple, kinds: tuple, consts: tuple,
                 positions: tuple) -> None:
        self.ex, self.names, self.kinds = ex, names, kinds
        self.consts, self.positions = consts, positions

    def values(self, blocks: tuple) -> tuple:
        vals = list(self.consts)
        for p, b in zip(self.positions, blocks):
            vals[p] = b
        return tuple(vals)

    def run(self, blocks: tuple) -> Any:
        from . import _evaluate
        prog = _evaluate._program(self.ex, self.names, self.kinds)
        return prog.run(self.values(blocks), out=None, casting="same_kind", order="K")


class _Elementwise(_Program):
    def __call__(self, *blocks: Any) -> np.ndarray:
        return np.asarray(self.run(blocks))


class _Partial(_Program):
    """The chunk step of a reduction: the program's result on one block, with
    the reduced axes kept (as length 1)."""

    def __init__(self, *args: Any, ndim: int, axis: Optional[int]) -> None:
        super().__init__(*args)
        self.ndim, self.axis = ndim, axis

    def __call__(self, *blocks: Any) -> np.ndarray:
        r = np.asarray(self.run(blocks))
        if self.axis is None:
            return r.reshape((1,) * self.ndim)
        return np.expand_dims(r, self.axis)


def _ndpar_reduce(op: str, x: np.ndarray, axis: tuple, keepdims: bool) -> np.ndarray:
    """ndpar's reduction op of x over the axes (all of them, or one)."""
    from . import _evaluate
    if len(axis) == x.ndim:
        ex = "%s(p)" % op
    elif len(axis) == 1:
        ex = "%s(p, axis=%d)" % (op, axis[0])
    else:  # pragma: no cover - da.reduction is given one axis or all of them
        raise ValueError("ndpar: internal: reduction over axes %s of %d" % (axis, x.ndim))
    prog = _evaluate._program(ex, ("p",), (x.dtype.name,))
    r = np.asarray(prog.run((x,), out=None, casting="same_kind", order="K"))
    if keepdims:
        r = r.reshape((1,) * x.ndim) if len(axis) == x.ndim else np.expand_dims(r, axis[0])
    return r


def _identity(x: np.ndarray, axis: Any = None, keepdims: bool = True) -> np.ndarray:
    return x


class _Combine:
    def __init__(self, op: str) -> None:
        self.op = op

    def __call__(self, x: np.ndarray, axis: Any = None, keepdims: bool = True) -> np.ndarray:
        return _ndpar_reduce(self.op, x, tuple(axis), keepdims)


class _Aggregate(_Combine):
    """The last step: combine, then (mean) divide by the count; cast to the
    program's result dtype."""

    def __init__(self, op: str, count: Optional[int], dtype: str) -> None:
        super().__init__(op)
        self.count, self.dtype = count, dtype

    def __call__(self, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        r = _ndpar_reduce(self.op, x, tuple(axis), keepdims)
        if self.count is not None:
            from . import _evaluate
            prog = _evaluate._program("s / n", ("s", "n"), (r.dtype.name, "int"))
            r = np.asarray(prog.run((r, self.count), out=None, casting="same_kind",
                                    order="K"))
        return r.astype(self.dtype, copy=False)


def _reduction_op(prog: Any) -> str:
    import re
    last = prog.explain().rstrip().splitlines()[-1]
    m = re.search(r"result = (\w+)\(", last)
    if m is None:  # pragma: no cover - the C core's explain names the reduction
        raise TypeError("ndpar.evaluate: internal: cannot read the reduction from %r" % last)
    return m.group(1)


def _last_statement(ex: str) -> int:
    """Offset of the first character of ex's last statement (statements are
    separated by ';' or a newline outside parentheses; '#' starts a comment)."""
    depth, i, n = 0, 0, len(ex)
    fresh, last = True, 0
    while i < n:
        c = ex[i]
        if c == "#":
            while i < n and ex[i] != "\n":
                i += 1
            continue
        if c in ";\n" and depth == 0:
            fresh = True
        elif not c.isspace():
            if fresh:
                last, fresh = i, False
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
        i += 1
    return last


def evaluate(ex: str, names: tuple, values: tuple, kinds: tuple, prog: Any) -> Any:
    """The lazy result of ex over values (dask arrays among them); kinds are
    the values' kinds as _evaluate gives them, prog the program for them
    (already compiled: types are checked)."""
    darrs = [i for i, v in enumerate(values)
             if isinstance(v, da.Array) or (isinstance(v, np.ndarray) and v.ndim > 0)]
    shapes = [values[i].shape for i in darrs]
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError("ndpar.evaluate: operands could not be broadcast together with "
                         "shapes %s" % " ".join(str(s) for s in shapes)) from None
    ndim = len(shape)
    consts = tuple(None if i in darrs else v for i, v in enumerate(values))
    pairs = []
    for i in darrs:
        v = values[i]
        pairs += [v, tuple(range(ndim - v.ndim, ndim))]
    out_ind = tuple(range(ndim))
    dtype = np.dtype(prog.dtype)
    if not prog.reduction:
        fn = _Elementwise(ex, names, kinds, consts, tuple(darrs))
        return da.blockwise(fn, out_ind, *pairs, dtype=dtype, concatenate=True,
                            meta=np.empty((0,) * ndim, dtype))
    from ._containers import _reduction_axis
    op = _reduction_op(prog)
    axis = _reduction_axis(prog, ndim)
    chunk_ex = ex
    if op == "mean":
        at = _last_statement(ex)
        if ex[at:at + 4] != "mean":  # pragma: no cover - the last statement is the reduction
            raise TypeError("ndpar.evaluate: internal: cannot find the mean in %r" % ex)
        chunk_ex = ex[:at] + "sum" + ex[at + 4:]
    from . import _evaluate
    chunk_prog = _evaluate._program(chunk_ex, names, kinds)
    pdt = np.dtype(chunk_prog.dtype)
    part = _Partial(chunk_ex, names, kinds, consts, tuple(darrs), ndim=ndim, axis=axis)
    red_axes = tuple(range(ndim)) if axis is None else (axis,)
    partials = da.blockwise(part, out_ind, *pairs, dtype=pdt, concatenate=True,
                            adjust_chunks={a: 1 for a in red_axes},
                            meta=np.empty((0,) * ndim, pdt))
    count = None
    cop = op
    if op == "mean":
        cop = "sum"
        count = int(np.prod([shape[a] for a in red_axes], dtype=np.int64))
    return da.reduction(partials, _identity, _Aggregate(cop, count, prog.dtype),
                        combine=_Combine(cop), axis=red_axes, keepdims=False, dtype=dtype,
                        concatenate=True, meta=np.empty((0,) * (ndim - len(red_axes)), dtype))


# ---- move_* ------------------------------------------------------------------------------

def _anchor_kwargs(block_info: Any, axis: int, start: int) -> dict:
    """The keyword that anchors the C rolling function's internal blocks at
    global positions, so that every chunking gives the single-machine bits.

    start is the global index (along axis) of element 0 of the block the
    function is called on, overlap included (negative where boundary
    'nearest' padded the start: those blocks keep their own grid, since
    the padding is no global position); block_info is dask's.
    """
    return {"_anchor": start} if start >= 0 else {}


class _Move:
    """One block of a moving window: the C function on the overlapped block."""

    def __init__(self, name: str, kw: dict, axis: int, starts: tuple, left: int) -> None:
        self.name, self.kw, self.axis, self.starts, self.left = name, kw, axis, starts, left

    def __call__(self, block: np.ndarray, block_info: Any = None) -> np.ndarray:
        from . import _ndpar
        start = 0
        if block_info is not None:
            k = block_info[0]["chunk-location"][self.axis]
            start = self.starts[k] - self.left
        kw = dict(self.kw, **_anchor_kwargs(block_info, self.axis, start))
        return getattr(_ndpar, self.name)(block, **kw)


def _merge_chunks(chunks: tuple, least: int) -> tuple:
    """chunks with neighbours merged until each is at least `least` long."""
    out: list = []
    for c in chunks:
        if out and out[-1] < least:
            out[-1] += c
        else:
            out.append(c)
    if len(out) > 1 and out[-1] < least:
        out[-2] += out.pop()
    return tuple(out)


def move(cfunc: Callable, fname: str, a: Any, bound: dict) -> Any:
    kw = {k: v for k, v in bound.items() if k != "out"}
    ndim = a.ndim
    ax = kw.get("axis")
    ax = -1 if ax is None else ax
    try:
        ax = operator.index(ax)
    except TypeError:
        raise TypeError("ndpar.%s: argument 'axis' must be an int, not %s"
                        % (fname, type(ax).__name__)) from None
    if ndim == 0:
        raise ValueError("ndpar.%s: argument 'a' must have at least one dimension" % fname)
    if not -ndim <= ax < ndim:
        raise ValueError("ndpar.%s: argument 'axis' %d is out of range for %d dimensions"
                         % (fname, ax, ndim))
    ax %= ndim
    w = kw.get("window")
    # the C rule for the result dtype (and its checks of every argument), on
    # a 0-size array of a's dtype whose axis is as long as the window
    try:
        wlen = max(operator.index(w), 1)
    except TypeError:
        wlen = 1
    probe = cfunc(np.empty((0, wlen), a.dtype), **dict(kw, axis=-1))
    dtype = probe.dtype
    w = operator.index(w)
    edge = kw.get("mode") is not None
    centered = edge or bool(kw.get("center", False))
    n = a.shape[ax]
    if not edge and w > n:
        cfunc(np.empty((0,) * ax + (n,), a.dtype), **dict(kw, axis=ax))  # its error
    kw["axis"] = ax
    meta = np.empty((0,) * ndim, dtype)
    if len(a.chunks[ax]) == 1:
        return da.map_blocks(_Move(fname, kw, ax, (0,), 0), a, dtype=dtype, meta=meta)
    if centered:
        left = right = w
    else:
        left, right = w - 1, 0
    need = max(left, right, w)  # and the first block (no overlap before it) holds a window
    chunks = a.chunks[ax]
    if min(chunks) < need:
        merged = _merge_chunks(chunks, need)
        a = a.rechunk({ax: merged})
        chunks = merged
        if len(chunks) == 1:
            return da.map_blocks(_Move(fname, kw, ax, (0,), 0), a, dtype=dtype, meta=meta)
    starts = tuple(int(s) for s in np.cumsum((0,) + chunks[:-1]))
    depth = {i: 0 for i in range(ndim)}
    depth[ax] = (left, right) if not edge else left
    boundary = "nearest" if edge else "none"
    # element 0 of block k is at starts[k] - left (boundary 'none' trims the
    # missing overlap of the first block: there left is 0)
    fn = _MoveOverlap(fname, kw, ax, starts, left, edge)
    return da.map_overlap(fn, a, depth=depth, boundary=boundary, trim=True, dtype=dtype,
                          meta=meta, allow_rechunk=False)


class _MoveOverlap(_Move):
    def __init__(self, name: str, kw: dict, axis: int, starts: tuple, left: int,
                 edge: bool) -> None:
        super().__init__(name, kw, axis, starts, left)
        self.edge = edge

    def __call__(self, block: np.ndarray, block_info: Any = None) -> np.ndarray:
        from . import _ndpar
        start = 0
        if block_info is not None:
            k = block_info[0]["chunk-location"][self.axis]
            start = self.starts[k] - (self.left if (k > 0 or self.edge) else 0)
        kw = dict(self.kw, **_anchor_kwargs(block_info, self.axis, start))
        return getattr(_ndpar, self.name)(block, **kw)


# ---- apply_indexed -----------------------------------------------------------------------

class _Apply:
    def __init__(self, table: Any, default: Any, dtype: Any, nx: int, several: bool) -> None:
        self.table, self.default, self.dtype, self.nx = table, default, dtype, nx
        self.several = several

    def __call__(self, *blocks: Any) -> np.ndarray:
        from ._apply import apply_indexed
        xs = blocks[:self.nx]
        x = tuple(xs) if self.several else xs[0]
        return apply_indexed(x, blocks[self.nx], self.table, default=self.default,
                             dtype=self.dtype)


def apply_indexed(xs: tuple, several: bool, index: Any, table: Any, default: Any,
                  dtype: Any) -> Any:
    from ._apply import apply_indexed as eager
    for j, v in enumerate(list(xs) + [index]):
        if getattr(v, "ndim", 1) != 1:
            what = "index" if j == len(xs) else ("x" if not several else "x[%d]" % j)
            raise ValueError("ndpar.apply_indexed: '%s' must be one-dimensional, got shape %s"
                             % (what, v.shape))
    # the result dtype by apply_indexed's own rule, on 0-length arrays of the
    # inputs' dtypes (this also checks the table and the dtypes)
    empty = tuple(np.empty(0, np.dtype(v.dtype)) for v in xs)
    probe = eager(empty if several else empty[0], np.empty(0, np.dtype(index.dtype)), table,
                  default=default, dtype=dtype)
    odt = probe.dtype
    n = xs[0].shape[0]
    for j, v in enumerate(xs):
        if v.shape[0] != n:
            raise ValueError("ndpar.apply_indexed: x[%d] has %d points, x[0] has %d"
                             % (j, v.shape[0], n))
    if index.shape[0] != n:
        raise ValueError("ndpar.apply_indexed: 'index' must be one-dimensional with %d points, "
                         "got shape %s" % (n, index.shape))
    pairs = []
    for v in list(xs) + [index]:
        pairs += [v, (0,)]
    fn = _Apply(table, default, odt, len(xs), several)
    return da.blockwise(fn, (0,), *pairs, dtype=odt, concatenate=True, align_arrays=True,
                        meta=np.empty((0,), odt))


# ---- map_chunks --------------------------------------------------------------------------

class _Chunks:
    """One block of map_chunks: the eager map_chunks on the block's arrays;
    with wants_index, the last block is the block's global positions
    (a da.arange chunked alike), so index= gets global slices."""

    def __init__(self, func: Callable, kw: dict, dtype: np.dtype, wants_index: bool) -> None:
        self.func, self.kw, self.dtype, self.wants_index = func, kw, dtype, wants_index

    def __call__(self, *blocks: Any) -> np.ndarray:
        from ._map import map_chunks
        func = self.func
        if self.wants_index:
            pos, blocks = blocks[-1], blocks[:-1]
            off = int(pos[0]) if len(pos) else 0
            user = func

            def func(*a: Any, index: slice) -> Any:
                return user(*a, index=slice(index.start + off, index.stop + off))
        r = map_chunks(func, *blocks, **self.kw)
        if r is None:
            raise ValueError("ndpar.map_chunks: func returned None on a dask block; with dask "
                             "arrays func must return its part of the result")
        if r.dtype != self.dtype:
            if not np.can_cast(r.dtype, self.dtype, casting="safe"):
                raise TypeError("ndpar.map_chunks: a dask block's result has dtype %s, but "
                                "func gives %s on an empty chunk (the lazy result's dtype); "
                                "make func return one dtype" % (r.dtype, self.dtype))
            r = r.astype(self.dtype)
        return r


def map_chunks(func: Callable, arrays: tuple, kw: dict, wants_index: bool) -> Any:
    from ._map import map_chunks as eager
    arrs = [a if isinstance(a, da.Array) else da.asarray(a) for a in arrays]
    for j, a in enumerate(arrs):
        if a.ndim == 0:
            raise ValueError("ndpar.map_chunks: arrays[%d] is 0-dimensional (chunks are taken "
                             "along the first axis)" % j)
        if a.shape[0] != arrs[0].shape[0]:
            raise ValueError("ndpar.map_chunks: arrays[%d] has length %d along the first axis, "
                             "arrays[0] has %d (all must be equal)"
                             % (j, a.shape[0], arrs[0].shape[0]))
    first = arrs[0].chunks[0]
    arrs = [a.rechunk({0: first, **{i: -1 for i in range(1, a.ndim)}}) for a in arrs]
    # the result's dtype and trailing shape: map_chunks' own rule for N == 0
    empty = [np.empty((0,) + a.shape[1:], a.dtype) for a in arrs]
    probe = eager(func, *empty, **dict(kw, backend="threads"))
    if probe is None:
        raise ValueError("ndpar.map_chunks: func returned None on an empty chunk; with dask "
                         "arrays func must return its part of the result (lazily)")
    tail = probe.shape[1:]
    fn = _Chunks(func, kw, probe.dtype, wants_index)
    out_ind = ("n",) + tuple("o%d" % i for i in range(1, 1 + len(tail)))
    args: list = []
    for j, a in enumerate(arrs):
        args += [a, ("n",) + tuple("a%d_%d" % (j, i) for i in range(1, a.ndim))]
    if wants_index:
        args += [da.arange(arrs[0].shape[0], chunks=(first,)), ("n",)]
    return da.blockwise(fn, out_ind, *args, dtype=probe.dtype, concatenate=True,
                        new_axes={"o%d" % i: t for i, t in enumerate(tail, 1)},
                        meta=np.empty((0,) * len(out_ind), probe.dtype))
