"""ndpar inside the tasks of a real distributed cluster:
LocalCluster(n_workers=2, threads_per_worker=1, processes=True).

- each worker's thread budget (the Dask-worker rule: the CPUs the worker
  process may use divided by its threads, at least 1), from client.run and
  from inside a task;
- a ufunc shipped by name through map_blocks, bit-identical to in-memory;
- a worker killed in the middle of a compute: Dask retries the task on a
  restarted worker and the result is still bit-identical;
- map_chunks(backend='processes') inside a task leaves no child process.

Skipped when distributed is not installed. One cluster for the module.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import ndpar

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
cloudpickle = pytest.importorskip("cloudpickle")

# the workers need not import this module: its functions travel by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as c:
        yield c
    # the spawned workers left multiprocessing's resource tracker running as
    # a child of this process: stop it, so later tests see no children (it
    # restarts on demand)
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop is not None:
        stop()


def _cpus():
    return len(os.sched_getaffinity(0))


def _task_budget(_):
    return ndpar.get_num_threads()


def test_worker_thread_budget(client):
    cpus = client.run(_cpus)
    threads = client.run(ndpar.get_num_threads)
    assert len(threads) == 2
    # the Nanny sets OMP_NUM_THREADS=1 in each worker process: 1 thread
    # each, so the 2 processes sharing this host do not oversubscribe it;
    # without it, the worker rule (CPUs / worker threads)
    omp = client.run(lambda: os.environ.get("OMP_NUM_THREADS"))
    for addr, n in threads.items():
        want = 1 if omp[addr] == "1" else max(1, cpus[addr] // 1)
        assert n == want, (addr, n, cpus[addr], omp[addr])
    inside = client.gather(client.map(_task_budget, range(4)))
    assert inside == [threads[next(iter(threads))]] * 4  # same host, same rule
    # a per-context limit inside a task still wins
    def limited(_):
        with ndpar.threads(1):
            return ndpar.get_num_threads()
    assert client.gather(client.map(limited, range(2))) == [1, 1]


def test_ufunc_map_blocks(client):
    x = np.random.default_rng(1).standard_normal(1_000_003)
    d = da.from_array(x, chunks=(300_000,))  # ragged: the last chunk is shorter
    got = d.map_blocks(ndpar.exp, dtype=np.float64).compute()
    np.testing.assert_array_equal(got, ndpar.exp(x))
    got2 = d.map_blocks(ndpar.move_mean, 11, dtype=np.float64).compute()
    # map_blocks without overlap: compare each block with the in-memory call on it
    ref = np.concatenate([ndpar.move_mean(x[i:i + 300_000], 11)
                          for i in range(0, x.size, 300_000)])
    np.testing.assert_array_equal(got2, ref)


def _kill_once(block, marker):
    # the first attempt of the task holding element 0 of the second chunk
    # kills its worker process in the middle of the compute
    if block.size and not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        os._exit(1)
    return ndpar.sqrt(ndpar.exp(block))


def test_worker_killed_then_retried(client, tmp_path):
    x = np.random.default_rng(2).random(400_000)
    marker = str(tmp_path / "killed")
    d = da.from_array(x, chunks=(100_000,))
    parts = [d.blocks[i].map_blocks(_kill_once if i == 1 else
                                    (lambda b, m: ndpar.sqrt(ndpar.exp(b))),
                                    marker, meta=np.empty(0)) for i in range(4)]
    got = da.concatenate(parts).compute()
    assert os.path.exists(marker)  # the kill happened
    killed_pid = int(open(marker).read())
    pids = client.run(os.getpid)
    assert killed_pid not in pids.values()  # that process is gone, replaced
    np.testing.assert_array_equal(got, ndpar.sqrt(ndpar.exp(x)))
    client.wait_for_workers(2)


def _double(c):
    return c * 2.0


def _map_in_task(block):
    import psutil

    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    out = ndpar.map_chunks(_double, block, backend="processes", nworkers=2, chunks=1000)
    after = {p.pid for p in me.children(recursive=True) if p.is_running()
             and p.status() != psutil.STATUS_ZOMBIE}
    return out, sorted(after - before)


def test_map_chunks_processes_in_task_leaves_no_child(client):
    x = np.arange(8000.0)
    futs = client.map(_map_in_task, [x[:4000], x[4000:]], pure=False)
    for f, part in zip(futs, (x[:4000], x[4000:])):
        out, left = f.result()
        np.testing.assert_array_equal(out, part * 2.0)
        assert left == []
