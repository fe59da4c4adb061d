"""Thread counts from the host: OMP_NUM_THREADS (honoured below
NDPAR_NUM_THREADS, as the Dask Nanny sets it), the Dask-worker rule's
precedence, and the threadpoolctl controller (threadpool_limits limits
ndpar, whichever of the two is imported first). Each case runs in a fresh
interpreter, as the environment is read once."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

CPUS = len(os.sched_getaffinity(0))


def _child(code: str, **env) -> str:
    e = {k: v for k, v in os.environ.items()
         if k not in ("OMP_NUM_THREADS", "NDPAR_NUM_THREADS")}
    e.update(env)
    r = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


COUNT = "import ndpar; print(ndpar.get_num_threads(), ndpar.default_num_threads())"


@pytest.mark.parametrize("omp, want", [("1", 1), ("3", 3), ("5,2", 5), ("0", CPUS),
                                       ("x", CPUS), ("", CPUS)])
def test_omp_num_threads(omp, want):
    assert _child(COUNT, OMP_NUM_THREADS=omp) == f"{want} {want}"


def test_ndpar_num_threads_beats_omp():
    assert _child(COUNT, OMP_NUM_THREADS="1", NDPAR_NUM_THREADS="3") == "3 3"


def test_set_num_threads_beats_env():
    code = "import ndpar; ndpar.set_num_threads(4); print(ndpar.get_num_threads())"
    assert _child(code, OMP_NUM_THREADS="1", NDPAR_NUM_THREADS="3") == "4"


def test_worker_rule_precedence():
    # a stand-in 'distributed' whose get_worker() gives a worker of 1 thread
    # (the real thing: test_dask_cluster.py): OMP_NUM_THREADS (the Nanny's
    # 1) and NDPAR_NUM_THREADS beat the rule, set_num_threads beats those,
    # threads() beats all
    code = """
import sys, types
import ndpar
print(ndpar.get_num_threads())
class W:
    class state: nthreads = 1
    class status: name = 'running'
d = types.ModuleType('distributed')
d.get_worker = lambda: W
sys.modules['distributed'] = d
print(ndpar.get_num_threads())
W.state.nthreads = 10**6
print(ndpar.get_num_threads())
W.state.nthreads = 1
with ndpar.threads(1):
    print(ndpar.get_num_threads())
ndpar.set_num_threads(7)
print(ndpar.get_num_threads())
del sys.modules['distributed']
"""
    out = _child(code).split()
    assert out == [str(CPUS), str(CPUS), "1", "1", "7"]
    out = _child(code, OMP_NUM_THREADS="1").split()
    assert out == ["1", "1", "1", "1", "7"]
    out = _child(code, OMP_NUM_THREADS="1", NDPAR_NUM_THREADS="3").split()
    assert out == ["3", "3", "3", "1", "7"]


@pytest.mark.parametrize("first", ["ndpar", "threadpoolctl"])
def test_threadpoolctl_limits(first):
    pytest.importorskip("threadpoolctl")
    other = "threadpoolctl" if first == "ndpar" else "ndpar"
    code = f"""
import {first}, {other}
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
info = [i for i in threadpool_info() if i['user_api'] == 'ndpar']
assert len(info) == 1 and info[0]['internal_api'] == 'ndpar', info
print(info[0]['num_threads'])
with threadpool_limits(1):
    print(ndpar.get_num_threads())
print(ndpar.get_num_threads())
with threadpool_limits(limits=1, user_api='ndpar'):
    print(ndpar.get_num_threads())
print(ndpar.threadpoolctl_controller().user_api)
"""
    assert _child(code, NDPAR_NUM_THREADS="2").split() == ["2", "1", "2", "1", "ndpar"]


def test_no_eager_imports():
    code = ("import sys, ndpar, numpy as np; ndpar.exp(np.ones(10**6)); ndpar.get_num_threads();"
            "print(any(m in sys.modules for m in ('dask', 'distributed', 'threadpoolctl')))")
    assert _child(code) == "False"
