"""Thread counts from the host ndpar runs in: the Dask-worker rule and the
threadpoolctl controller.

Precedence of the thread count of an ndpar call (first that applies):
``with ndpar.threads(n)`` (per context), ``ndpar.set_num_threads(n)``
(process; also what ``threadpoolctl.threadpool_limits`` sets),
``NDPAR_NUM_THREADS``, ``OMP_NUM_THREADS`` (a Dask Nanny sets it to 1 in
each worker process: worker processes sharing a host do not
oversubscribe it), the Dask-worker rule, the CPUs this process may use. The C core owns the last four
(``ndp_default_num_threads``); this module only finds the worker.

Dask-worker rule: in a process that hosts a ``distributed`` worker, ndpar
uses the CPUs the process may use divided by the worker's threads, at
least 1 (a worker running 4 tasks at once on 8 CPUs gives each call 2
threads). ``distributed`` is never imported here: the rule is looked up
only once ``distributed`` is in ``sys.modules`` (the C side calls
``_worker_nthreads`` then, on every thread-count lookup, so a worker
started or closed later is seen). It applies where OMP_NUM_THREADS is not
set: workers without a Nanny, or a Nanny whose
``distributed.nanny.pre-spawn-environ`` leaves it out.

threadpoolctl: ``threadpoolctl_controller()`` returns a
``threadpoolctl.LibController`` subclass for ndpar (user_api and
internal_api ``"ndpar"``, found through the loaded ``_ndpar`` extension),
registered with ``threadpoolctl.register`` when threadpoolctl is imported:
at ndpar's import if it already is, else by an import hook when it is
(``install``). Then ``threadpool_limits(1)`` (or ``limits=1,
user_api="ndpar"``) limits ndpar's process-wide count; a ``with
ndpar.threads(n)`` block, being per context, still wins inside it.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys

_CLOSED = {"closing", "closed", "closing_gracefully", "failed"}


def _current_worker():
    """The distributed Worker this process hosts (the one running the
    current task when there are several), or None; imports nothing."""
    d = sys.modules.get("distributed")
    if d is None:
        return None
    try:
        return d.get_worker()  # inside a task
    except Exception:
        pass
    wmod = sys.modules.get("distributed.worker")
    inst = getattr(getattr(wmod, "Worker", None), "_instances", None)
    if not inst:
        return None
    for w in list(inst):
        if getattr(getattr(w, "status", None), "name", "") not in _CLOSED:
            return w
    return None


def _worker_nthreads() -> int:
    """Threads of the distributed worker this process hosts, 0 for none
    (called by the C side; the budget is the CPUs divided by this)."""
    try:
        w = _current_worker()
        if w is None:
            return 0
        n = getattr(getattr(w, "state", None), "nthreads", None) or getattr(w, "nthreads", 0)
        return int(n) if n and int(n) > 0 else 0
    except Exception:
        return 0


_controller = None


def threadpoolctl_controller():
    """The threadpoolctl LibController subclass that controls ndpar
    (imports threadpoolctl)."""
    global _controller
    if _controller is not None:
        return _controller
    from threadpoolctl import LibController

    from . import _ndpar, __version__

    class NdparController(LibController):
        """ndpar's thread count for threadpoolctl: get_num_threads and
        set_num_threads are ndpar's process-wide ones."""

        user_api = "ndpar"
        internal_api = "ndpar"
        filename_prefixes = ("_ndpar",)
        check_symbols = ("PyInit__ndpar",)

        def get_num_threads(self):
            return _ndpar.get_num_threads()

        def set_num_threads(self, num_threads):
            _ndpar.set_num_threads(int(num_threads))

        def get_version(self):
            return __version__

    _controller = NdparController
    return _controller


_registered = False


def _register():
    global _registered
    if _registered:
        return
    tp = sys.modules.get("threadpoolctl")
    if tp is None or not hasattr(tp, "register"):
        return
    _registered = True
    tp.register(threadpoolctl_controller())


class _Hook(importlib.abc.MetaPathFinder):
    """Runs callback right after the module `name` is imported (once): how
    ndpar plugs into an optional library only when the user loads it."""

    def __init__(self, name, callback):
        self.name, self.callback = name, callback

    def find_spec(self, name, path=None, target=None):
        if name != self.name:
            return None
        sys.meta_path.remove(self)  # once; and find the real spec without us
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module
        callback = self.callback

        def exec_and_register(module):
            exec_module(module)
            sys.modules[name] = module
            callback()

        try:
            loader.exec_module = exec_and_register
        except AttributeError:  # a loader that refuses attributes: no hook
            return spec
        return spec


def when_imported(name, callback):
    """callback() now if module `name` is loaded, else right after it is."""
    if name in sys.modules:
        callback()
    elif not any(isinstance(f, _Hook) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _Hook(name, callback))


def install():
    """At ndpar's import: register now if threadpoolctl is loaded, else
    when it is."""
    when_imported("threadpoolctl", _register)
