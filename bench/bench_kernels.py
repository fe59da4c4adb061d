#!/usr/bin/env python3
"""User-kernel benchmark: ndpar.vectorize / guvectorize against Numba
``@njit(parallel=True)`` with ``prange`` on the same work, in one process.

* Mandelbrot escape counts, 1200 x 800 points, at most 200 iterations
  (target: ndpar >= 2x Numba);
* Newton's cube root per point over 1e7 points (target >= 1x);
* per-row running maximum that resets on a negative value, 4000 x 5000
  (target >= 1x);
* decorating a fresh kernel plus its first call on 1,000 elements (target
  <= 20 ms; Numba's first call compiles).

Both run on all cores (ndpar's pool, Numba's threading layer); Numba is
compiled before timing; each timing is the best of several runs taken in
turns, after a warm-up whose result is checked against the other.
Writes bench/out/kernels.md (the lead merges it into BENCHMARKS.md).

    python bench/bench_kernels.py           # full size
    python bench/bench_kernels.py --quick   # small sizes, smoke test
"""
from __future__ import annotations

import argparse
import math
import os
import time
import types
from pathlib import Path

import numpy as np

import ndpar

OUT = Path(__file__).resolve().parent / "out" / "kernels.md"


def mandel_py(cr, ci):
    zr = 0.0
    zi = 0.0
    n = 0
    while n < 200 and zr * zr + zi * zi <= 4.0:
        zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
        n += 1
    return n


def cbrt_py(a):
    x = a if a > 1.0 else 1.0
    for _ in range(100):
        nx = x - (x * x * x - a) / (3.0 * x * x)
        if abs(nx - x) <= 1e-12 * x:
            x = nx
            break
        x = nx
    return x


def runmax_py(x, out):
    m = -math.inf
    for j in range(len(x)):
        v = x[j]
        if v < 0:
            m = -math.inf
        if v > m:
            m = v
        out[j] = m


def best(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import numba

    q = args.quick
    W, H = (300, 200) if q else (1200, 800)
    NPTS = 10**5 if q else 10**7
    R, C = (400, 500) if q else (4000, 5000)
    rng = np.random.default_rng(0)
    x = np.linspace(-2.0, 1.0, W)
    y = np.linspace(-1.2, 1.2, H)
    pts = rng.random(NPTS) * 1000.0 + 0.001
    rows = rng.standard_normal((R, C))

    # ndpar
    nd_mandel = ndpar.vectorize(mandel_py)
    nd_cbrt = ndpar.vectorize(cbrt_py)
    nd_runmax = ndpar.guvectorize("(n)->(n)")(runmax_py)

    # Numba: the same loops, parallel over points / rows
    nb_mandel_pt = numba.njit(mandel_py)
    nb_cbrt_pt = numba.njit(cbrt_py)

    @numba.njit(parallel=True)
    def nb_mandel(x, y, out):
        for i in numba.prange(y.shape[0]):
            for j in range(x.shape[0]):
                out[i, j] = nb_mandel_pt(x[j], y[i])

    @numba.njit(parallel=True)
    def nb_cbrt(a, out):
        for i in numba.prange(a.shape[0]):
            out[i] = nb_cbrt_pt(a[i])

    nb_runmax_row = numba.njit(runmax_py)

    @numba.njit(parallel=True)
    def nb_runmax(a, out):
        for i in numba.prange(a.shape[0]):
            nb_runmax_row(a[i], out[i])

    o_m = np.empty((H, W), np.int64)
    o_c = np.empty(NPTS)
    o_r = np.empty((R, C))
    rows_res = []

    def case(name, nd, nb, check, target_ratio):
        r_nd = nd()
        r_nb = nb()
        check(r_nd, r_nb)
        t_nd, t_nb = [], []
        for _ in range(args.repeats):  # in turns
            t_nd.append(best(nd, 1))
            t_nb.append(best(nb, 1))
        a, b = min(t_nd), min(t_nb)
        ratio = b / a
        ok = ratio >= target_ratio
        rows_res.append((name, a, b, ratio, f">= {target_ratio:g}x", "MET" if ok else "MISSED"))
        print(f"{name}: ndpar {a*1e3:.1f} ms, numba {b*1e3:.1f} ms, {ratio:.2f}x "
              f"({'MET' if ok else 'MISSED'})", flush=True)

    def chk_equal(a, b):
        assert np.array_equal(a, b)

    def chk_close(a, b):
        np.testing.assert_allclose(a, b, rtol=1e-12)

    o_m2, o_c2, o_r2 = np.empty_like(o_m), np.empty_like(o_c), np.empty_like(o_r)
    case(f"Mandelbrot {W}x{H}, <= 200 iterations",
         lambda: nd_mandel(x, y[:, None], out=o_m),
         lambda: (nb_mandel(x, y, o_m2), o_m2)[1], chk_equal, 2.0)
    case(f"Newton cube root, {NPTS:.0e} points", lambda: nd_cbrt(pts, out=o_c),
         lambda: (nb_cbrt(pts, o_c2), o_c2)[1], chk_close, 1.0)
    case(f"running max with reset, {R}x{C}", lambda: nd_runmax(rows, out=o_r),
         lambda: (nb_runmax(rows, o_r2), o_r2)[1], chk_equal, 1.0)

    # decorate a fresh kernel + its first call on 1,000 elements
    small = rng.random(1000) * 100
    ts = []
    for _ in range(max(args.repeats, 5)):
        fresh = types.FunctionType(cbrt_py.__code__, cbrt_py.__globals__, "cbrt_py")
        t0 = time.perf_counter()
        k = ndpar.vectorize(fresh)
        k(small)
        ts.append(time.perf_counter() - t0)
    t_first = sorted(ts)[len(ts) // 2]
    fresh = types.FunctionType(cbrt_py.__code__, cbrt_py.__globals__, "cbrt_py")
    t0 = time.perf_counter()
    nbv = numba.vectorize(["float64(float64)"], target="parallel")(fresh)
    nbv(small)
    t_nb_first = time.perf_counter() - t0
    ok_first = t_first <= 0.020
    print(f"decorate + first call: ndpar {t_first*1e3:.2f} ms (median), numba "
          f"{t_nb_first*1e3:.0f} ms ({'MET' if ok_first else 'MISSED'})")

    lines = ["## User kernels (ndpar.vectorize / guvectorize vs Numba parallel=True)", ""]
    lines.append(f"Machine: {os.cpu_count()} CPUs, ndpar threads {ndpar.get_num_threads()}, "
                 f"Numba threads {numba.get_num_threads()}, ISA {ndpar.get_isa()}, "
                 f"numba {numba.__version__}, numpy {np.__version__}; best of "
                 f"{args.repeats} runs taken in turns{' (--quick sizes)' if q else ''}.")
    try:
        load = os.getloadavg()[0]
        lines.append(f"Load average at the end of the run: {load:.1f}.")
    except OSError:
        pass
    lines += ["", "| workload | ndpar | Numba | Numba / ndpar | target | |", "|---|---|---|---|---|---|"]
    for name, a, b, ratio, tgt, v in rows_res:
        lines.append(f"| {name} | {a*1e3:.1f} ms | {b*1e3:.1f} ms | {ratio:.2f}x | {tgt} | {v} |")
    lines.append(f"| decorate a fresh kernel + first call, 1,000 elements | {t_first*1e3:.2f} ms "
                 f"| {t_nb_first*1e3:.0f} ms (compiles) | | <= 20 ms | "
                 f"{'MET' if ok_first else 'MISSED'} |")
    lines += ["", "Where ndpar loses (measured with perf on the development machine, 2 shared "
              "cores): about a quarter of the VM's time is the instruction dispatch (one "
              "indirect jump per instruction per 64-lane block, mispredicted); every "
              "instruction loads and stores its 64-lane registers through L1, so a loop body "
              "of ~13 instructions costs more than Numba's scalar, latency-bound loop on AVX2 "
              "(wider AVX-512 lanes would halve it); blocks whose lanes diverge run until "
              "their last lane finishes (1.26x extra lane-iterations for this Mandelbrot; no "
              "lane compaction yet). For the running maximum each lane walks its own row, so "
              "64 rows are gathered and scattered per step where Numba streams one row. "
              "Next steps: threaded (computed-goto) dispatch, compaction of active lanes, "
              "and a transposed tile for rows read in lockstep."]
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
