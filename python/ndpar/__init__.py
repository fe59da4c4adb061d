"""ndpar: NumPy work on every core.

Elementwise functions with NumPy's names: ``numpy.ufunc`` objects (so
``out=``, ``where=``, ``reduce``, ``accumulate``, ``outer``, ``at`` and the
pandas/xarray/dask protocols work) whose loops run on all cores of the
machine, with SIMD math, straight on the arrays' memory.
Switch by changing an import::

    import ndpar as np_par
    y = np_par.exp(x)            # like numpy.exp(x), on every core

Moving windows with bottleneck's names and argument order, parallel inside
one series: ``ndpar.move_mean(a, window, min_count=None, axis=-1,
center=False, mode=None, out=None)``, and move_sum, move_var, move_std
(``ddof=0``), move_min, move_max, move_argmin, move_argmax, move_median,
move_quantile (``a, window, q, ...``), move_count.

Expressions, compiled by ndpar's own parser and run in cache-sized blocks
on all cores (numexpr's signature): ``ndpar.evaluate("where(a > 0.5,
exp(a), log1p(c))")``; ``f = ndpar.compile("a*2 + c"); f(a=x, c=y)``.

User code in parallel: ``ndpar.apply_indexed(x, index, table)`` (a table
of functions chosen per point), ``ndpar.map_chunks(func, *arrays,
backend='threads'|'processes', windows=None)``, ``ndpar.parallel_for(kernel,
n, *arrays)`` (a native kernel without the GIL); shared memory with
``ndpar.shared_empty``, ``ndpar.shared_zeros`` and ``ndpar.SharedArray``.

Threads: ``ndpar.set_num_threads(n)``, ``ndpar.get_num_threads()``, or for a
block of code ``with ndpar.threads(n): ...``. The environment variable
NDPAR_NUM_THREADS sets the default.

Differences from NumPy, by design (docs/design.md): no floating-point
RuntimeWarnings are issued; float reductions are a tree over fixed blocks.
float16 works as in NumPy: computed in float32 and rounded to float16
(exact operations bit for bit, transcendentals within 1 float16 ULP).
"""
import contextlib as _contextlib

from . import _ndpar
from ._apply import apply_indexed  # noqa: F401
from ._map import RemoteError, WorkerDiedError, map_chunks  # noqa: F401
from ._shared import SharedArray, parallel_for, shared_empty, shared_zeros  # noqa: F401
from ._vectorize import guvectorize, kernel, vectorize  # noqa: F401
from ._evaluate import CompiledExpression, compile, evaluate  # noqa: F401
from ._threads import threadpoolctl_controller  # noqa: F401
from ._ndpar import (  # noqa: F401  (re-exported API)
    __version__,
    cpu_isa,
    default_num_threads,
    get_isa,
    get_num_threads,
    mathlib,
    measure_bandwidth,
    set_isa,
    set_num_threads,
    ulp_bound,
)

UNARY = tuple((
    "exp expm1 exp2 log log1p log2 log10 sqrt cbrt sin cos tan arcsin arccos "
    "arctan sinh cosh tanh arcsinh arccosh arctanh abs negative floor ceil "
    "trunc rint square reciprocal sign isnan isinf isfinite"
).split())
BINARY = tuple((
    "add subtract multiply divide floor_divide remainder power minimum maximum "
    "fmin fmax arctan2 hypot equal not_equal less less_equal greater "
    "greater_equal logical_and logical_or logical_xor"
).split())

ROLLING = tuple(
    "move_" + f
    for f in "sum mean var std min max argmin argmax median quantile count".split()
)

for _name in UNARY + BINARY + ROLLING:
    globals()[_name] = getattr(_ndpar, _name)
del _name
from ._rolling_py import FUNCS as _ROLLING_FUNCS  # noqa: E402  (move_*: containers, pickling)
globals().update(_ROLLING_FUNCS)

# NumPy's aliases
absolute = abs  # noqa: F821
true_divide = divide  # noqa: F821
mod = remainder  # noqa: F821
pow = power  # noqa: F821


@_contextlib.contextmanager
def threads(n):
    """Run the enclosed block with at most ``n`` threads per ndpar call.

    The limit belongs to the current context (a ``contextvars`` variable):
    it applies to every ndpar call made by this thread, or this asyncio
    task, inside the block, and to Python callables that ndpar runs on its
    pool for such a call; other threads and tasks keep their own setting.
    Blocks nest, and leaving one restores what was there before, whatever
    other threads do meanwhile. ``set_num_threads`` sets the process
    default, which applies where no ``threads`` block is active.
    """
    token = _ndpar.threads_var.set(_ndpar.check_threads(n))
    try:
        yield
    finally:
        _ndpar.threads_var.reset(token)


def clear_caches() -> None:
    """Drop every cache ndpar keeps: compiled expressions (evaluate) and
    apply_indexed's compiled table entries. Programs still referenced by a
    CompiledExpression stay alive with it."""
    from . import _apply, _evaluate

    _evaluate._clear_cache()
    _apply._clear_cache()


def info() -> dict:
    """Version, threads, instruction set and math library, as a dict."""
    return {
        "version": __version__,
        "threads": get_num_threads(),
        "default_threads": default_num_threads(),
        "isa": get_isa(),
        "cpu_isa": cpu_isa(),
        "mathlib": mathlib,
    }


from . import _threads as _threads_mod  # noqa: E402

_threads_mod.install()  # threadpoolctl: register now or when it is imported
from . import _xarray as _xarray_mod  # noqa: E402

_xarray_mod.install()  # DataArray.ndpar / Dataset.ndpar, when xarray is imported


__all__ = [
    "vectorize", "guvectorize", "kernel",
    "apply_indexed", "map_chunks", "WorkerDiedError", "RemoteError", "parallel_for", "shared_empty", "shared_zeros", "SharedArray",
    "evaluate", "compile", "CompiledExpression", "threads", "info", "clear_caches", "get_num_threads", "set_num_threads", "default_num_threads", "threadpoolctl_controller",
    "get_isa", "cpu_isa", "set_isa", "ulp_bound", "measure_bandwidth",
    "absolute", "true_divide", "mod", "pow",
] + list(UNARY + BINARY + ROLLING)
