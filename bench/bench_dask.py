#!/usr/bin/env python3
"""Dask benchmark: ndpar inside Dask's tasks against Dask's own paths, on a
distributed.LocalCluster of 2 worker processes x 1 thread, in one run on
the same dask arrays (generated on the workers, never in the client):

* rolling mean over N points in chunks of N/10: ndpar.move_mean (map_overlap,
  anchored blocks) against xarray's path (DataArray.rolling().mean(), which
  is map_overlap + bottleneck on dask data);
* where(a > .5, exp(a), log1p(c)) over N: ndpar.evaluate (blockwise) against
  dask.array's ufuncs (da.where(a > .5, da.exp(a), da.log1p(c)));
* a sum over N: ndpar.evaluate("sum(a)") against a.sum() (dask's tree).

Each is timed end to end (graph + compute), best of a few runs. Writes the
"dask" section of BENCHMARKS.md.

    python bench/bench_dask.py            # N = 1e8
    python bench/bench_dask.py --quick    # N = 1e7; writes nothing
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import ndpar
from _common import log, machine_info, md_kv, md_table, verdict, versions, write_section


def timed(fn, reps):
    best, out = float("inf"), None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    n = 10**7 if args.quick else 10**8
    reps = 2 if args.quick else 3
    import dask
    import dask.array as da
    import distributed
    import xarray as xr

    rows, ratios = [], {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        budgets = client.run(ndpar.get_num_threads)
        chunks = n // 10
        a = da.random.default_rng(1).random(n, chunks=chunks).persist()
        c = da.random.default_rng(2).random(n, chunks=chunks).persist()
        distributed.wait([a, c])

        def pair(label, nd, peer, check):
            tn, rn = timed(lambda: nd().compute(), reps)
            tp, rp = timed(lambda: peer().compute(), reps)
            check(rn, rp)
            ratios[label] = tp / tn
            rows.append((label, f"{tn:.2f}", f"{tp:.2f}", f"{tp / tn:.2f}x"))

        log("rolling mean")
        xa = xr.DataArray(a, dims=("t",))
        pair("rolling mean, window 100 (vs xarray rolling)",
             lambda: ndpar.move_mean(a, 100, min_count=1),
             lambda: xa.rolling(t=100, min_periods=1).mean().data,
             lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12))
        log("where")
        ex = "where(a > 0.5, exp(a), log1p(c))"
        pair("where(a > .5, exp(a), log1p(c)) (vs dask.array ufuncs)",
             lambda: ndpar.evaluate(ex, local_dict={"a": a, "c": c}),
             lambda: da.where(a > 0.5, da.exp(a), da.log1p(c)),
             lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-15))
        log("sum")
        pair("sum(a) (vs dask sum)",
             lambda: ndpar.evaluate("sum(a)", local_dict={"a": a}), lambda: a.sum(),
             lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-12))
    tgt = [
        ("rolling mean >= 1.5x xarray's path", "%.2fx" % ratios[rows[0][0]],
         verdict(ratios[rows[0][0]] >= 1.5)),
        ("where/exp/log1p >= 2x dask.array ufuncs", "%.2fx" % ratios[rows[1][0]],
         verdict(ratios[rows[1][0]] >= 2)),
        ("exact sum >= 0.5x dask's sum", "%.2fx" % ratios[rows[2][0]],
         verdict(ratios[rows[2][0]] >= 0.5)),
    ]
    body = [
        "## Dask (LocalCluster: 2 worker processes x 1 thread)\n",
        "ndpar inside Dask's tasks against Dask's own paths, %g float64 in chunks of %g, "
        "data persisted on the workers; seconds, best of %d end-to-end computes.\n"
        % (n, n // 10, reps),
        "### Machine\n", md_kv(machine_info()),
        "\n### Versions\n", md_kv(versions(["numpy", "dask", "distributed", "xarray",
                                             "bottleneck", "ndpar"])),
        "\nndpar threads per worker (client.run(ndpar.get_num_threads)): %s\n"
        % sorted(budgets.values()),
        "\n### Results\n",
        md_table(["workload", "ndpar s", "peer s", "speed-up"], rows, "lrrr"),
        "\n### Targets\n", md_table(["target", "measured", ""], tgt),
        "\nThe sum row is `evaluate(\"sum(a)\")` on dask: each chunk's sum is exact "
        "(superaccumulator) and rounded, and the chunks' sums are combined by "
        "ndpar's sum, so the result is correct to rounding, not yet correctly "
        "rounded across chunks. Not measured here: a Zarr store larger than RAM.\n",
        "\n### Reproduce\n", "`python bench/bench_dask.py`.\n",
    ]
    text = "\n".join(body)
    print(text)
    if not args.quick:
        write_section("dask", text)
    del dask
    return 0


if __name__ == "__main__":
    sys.exit(main())
