#!/usr/bin/env python3
"""Kernel benchmark: the user's own per-element and per-row logic, written as
plain Python, compiled by ``ndpar.vectorize`` / ``ndpar.guvectorize``, against
Numba ``@njit(parallel=True)`` with ``prange`` on the same work.

In one process and on the same arrays, every core for both:

* Mandelbrot escape counts, 1200 x 800 points, at most 200 iterations
  (vectorize; Numba: prange over rows, a scalar loop per point);
* Newton's cube root per point over 1e7 points (vectorize);
* a per-row running maximum that resets on a negative value, 4000 x 5000
  (guvectorize ``(n)->(n)``; Numba: prange over rows);
* decorating a fresh kernel and its first call on 1,000 elements (the
  compile wait), against Numba's first call of a fresh ``njit`` function;
* the same functions run as plain Python, on a slice, for scale.

Results are checked against Numba's (Mandelbrot counts may differ on the
chaotic boundary where a last-bit difference in x*x+y*y decides: at most
0.1% of the points), prints the report and writes the "kernels" section of
BENCHMARKS.md and bench/kernels.png.

    python bench/bench_kernels.py            # full size, as `make bench`
    python bench/bench_kernels.py --quick    # small sizes, smoke test; writes nothing
"""
from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

import ndpar
from _common import (checked_runs, grouped_bars, log, machine_info, md_kv, md_table, ncores,
                     verdict, versions, write_section)

CHART = Path(__file__).resolve().parent / "kernels.png"

T_MANDEL = 2.0      # x Numba
T_NEWTON = 1.0
T_RUNMAX = 1.0
T_FIRST_MS = 20.0   # decorate + first call on 1,000 elements


# ---- the user's functions, as plain Python ------------------------------------

def mandel(cx, cy):
    x = 0.0
    y = 0.0
    n = 0
    while n < 200 and x * x + y * y <= 4.0:
        x, y = x * x - y * y + cx, 2.0 * x * y + cy
        n += 1
    return n


def newton_cbrt(a):
    x = a if a > 1.0 else 1.0
    for _ in range(100):
        nx = x - (x * x * x - a) / (3.0 * x * x)
        if abs(nx - x) <= 1e-12 * nx:
            return nx
        x = nx
    return x


def runmax(x, out):
    run = 0.0
    for j in range(x.shape[0]):
        v = x[j]
        if v < 0.0:
            run = 0.0
        elif v > run:
            run = v
        out[j] = run


# ---- Numba's versions (the same bodies, prange over the outer loop) ----------

def numba_versions():
    import numba
    from numba import njit, prange

    numba.set_num_threads(ncores())
    mandel_s = njit(mandel)
    cbrt_s = njit(newton_cbrt)

    @njit(parallel=True)
    def mandel_nb(cx, cy, out):
        for i in prange(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = mandel_s(cx[j], cy[i])

    @njit(parallel=True)
    def cbrt_nb(a, out):
        for i in prange(a.shape[0]):
            out[i] = cbrt_s(a[i])

    @njit(parallel=True)
    def runmax_nb(x, out):
        for i in prange(x.shape[0]):
            run = 0.0
            for j in range(x.shape[1]):
                v = x[i, j]
                if v < 0.0:
                    run = 0.0
                elif v > run:
                    run = v
                out[i, j] = run

    return numba, mandel_nb, cbrt_nb, runmax_nb


# ---- the compile wait ----------------------------------------------------------

FRESH = '''
def fresh_{k}(a, b):
    s = 0.0
    t = a
    for i in range(8):
        if t > b:
            t = t * 0.5 - b
        else:
            t = t + {k}.0 * 0.001
        s += t
    return s
'''


def fresh_module(k: int):
    """A new module file with a new function (so nothing is cached anywhere)."""
    d = Path(tempfile.mkdtemp(prefix="ndpar_bench_"))
    (d / f"fresh_mod_{k}.py").write_text(textwrap.dedent(FRESH.format(k=k)))
    sys.path.insert(0, str(d))
    try:
        mod = importlib.import_module(f"fresh_mod_{k}")
    finally:
        sys.path.pop(0)
    return getattr(mod, f"fresh_{k}")


def first_call_ms(make, reps: int, base: int) -> float:
    a = np.linspace(-1, 1, 1000)
    b = np.linspace(0, 0.5, 1000)
    best = float("inf")
    for r in range(reps):
        f = fresh_module(base + r)
        t0 = time.perf_counter()
        k = make(f)
        k(a, b)
        best = min(best, (time.perf_counter() - t0) * 1e3)
    return best


# ---- what the measurements say about a miss ------------------------------------

BLOCK = 64  # lanes of a VM block (NDP__KB)


def lane_work(counts):
    """Loop-top evaluations per lane are count + 1 (the last one fails).
    Returns (useful, lane-iterations of whole blocks, the same with the VM's
    compaction: it runs round_up(active, 16) lanes once at most half of the
    lanes in flight remain)."""
    it = counts.ravel().astype(np.int64) + 1
    pad = (-len(it)) % BLOCK
    it = np.concatenate([it, np.zeros(pad, np.int64)]).reshape(-1, BLOCK)
    full = int(it.max(axis=1).sum()) * BLOCK
    comp = 0
    for blk in it:
        nv = BLOCK
        for t in range(int(blk.max())):
            cnt = int((blk > t).sum())
            if nv > 16 and 2 * cnt <= nv:
                nv = (cnt + 15) // 16 * 16
            comp += nv
    return int(it.sum()), full, comp


def loop_ops(kernel_obj):
    """VM instructions per iteration of the first loop, from the bytecode
    listing (None when the listing is not reachable)."""
    try:
        k = next(iter(getattr(kernel_obj, "_kernel", kernel_obj)._cache.values()))
        text = k.explain()
    except Exception:  # noqa: BLE001 - private API; the note is optional
        return None
    for line in text.splitlines():
        f = line.split()
        if len(f) > 1 and f[1] == "JMP":
            imm = int(next(x for x in f if x.startswith("imm="))[4:])
            return int(f[0]) - imm + 1
    return None


# ---- main ------------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes; writes nothing")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--budget", type=float, default=20.0, help="seconds per timed case")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    q = args.quick
    W, H = (240, 160) if q else (1200, 800)
    N = 200_000 if q else 10_000_000
    R, C = (400, 500) if q else (4000, 5000)
    rng = np.random.default_rng(7)
    numba, mandel_nb, cbrt_nb, runmax_nb = numba_versions()

    cx = np.linspace(-2.2, 1.0, W)
    cy = np.linspace(-1.2, 1.2, H)
    a = rng.random(N) * 1000.0
    x2 = rng.standard_normal((R, C)) + 0.3

    vm = ndpar.vectorize(mandel)
    vc = ndpar.vectorize(newton_cbrt)
    gr = ndpar.guvectorize("(n)->(n)")(runmax)

    rows = []
    series = {"ndpar": [], "Numba parallel": []}
    verdicts = []

    def case(name, nd_fn, nb_fn, check, target):
        log(f"{name}: Numba (compile + first call)")
        nb_fn()  # compile outside the timing
        log(f"{name}: ndpar first call")
        nd_fn()
        f_nb, r_nb = checked_runs(nb_fn, lambda r: None, args.repeats, args.budget)
        f_nd, r_nd = checked_runs(nd_fn, check, args.repeats, args.budget)
        t_nb, t_nd = min(r_nb or [f_nb]), min(r_nd or [f_nd])
        ratio = t_nb / t_nd
        rows.append((name, f"{t_nd * 1e3:.1f}", f"{t_nb * 1e3:.1f}", f"{ratio:.2f}x",
                     f">= {target:g}x", verdict(ratio >= target)))
        series["ndpar"].append(t_nd * 1e3)
        series["Numba parallel"].append(t_nb * 1e3)
        verdicts.append((name, ratio >= target))
        return ratio

    # Mandelbrot: ndpar broadcasts a row of cx against a column of cy
    ref_m = np.empty((H, W), np.int64)
    mandel_nb(cx, cy, ref_m)

    def check_m(r):
        assert r.shape == (H, W), r.shape
        bad = np.count_nonzero(r != ref_m)
        assert bad <= 0.001 * r.size, f"{bad} of {r.size} counts differ from Numba's"

    case(f"Mandelbrot {W}x{H}, <= 200 iterations",
         lambda: vm(cx[None, :], cy[:, None]),
         lambda: mandel_nb(cx, cy, np.empty((H, W), np.int64)), check_m, T_MANDEL)

    ref_c = np.empty_like(a)
    cbrt_nb(a, ref_c)
    case(f"Newton cube root, {N:.0e} points", lambda: vc(a),
         lambda: cbrt_nb(a, np.empty_like(a)),
         lambda r: np.testing.assert_allclose(r, ref_c, rtol=1e-12), T_NEWTON)

    ref_r = np.empty_like(x2)
    runmax_nb(x2, ref_r)
    case(f"running max with reset, {R}x{C}", lambda: gr(x2),
         lambda: runmax_nb(x2, np.empty_like(x2)),
         lambda r: np.testing.assert_array_equal(r, ref_r), T_RUNMAX)

    # the compile wait
    log("first calls of fresh kernels")
    nd_first = first_call_ms(ndpar.vectorize, 3 if q else 5, 0)
    nb_first = first_call_ms(lambda f: numba.vectorize(["float64(float64, float64)"])(f),
                             1 if q else 2, 100)
    ok_first = nd_first <= T_FIRST_MS
    verdicts.append(("decorate + first call", ok_first))

    # plain Python, on a slice, for scale (per element / per row)
    t0 = time.perf_counter()
    for i in range(2000):
        mandel(cx[i % W], cy[(i * 7) % H])
    py_mandel = (time.perf_counter() - t0) / 2000 * W * H
    t0 = time.perf_counter()
    for v in a[:20000]:
        newton_cbrt(v)
    py_cbrt = (time.perf_counter() - t0) / 20000 * N

    body = [f"## Kernels: the user's own logic (vectorize / guvectorize)\n",
            "Plain Python functions compiled by ndpar (its own parser; SIMD lanes "
            "with per-lane masks on the block VM) against Numba `@njit(parallel=True)` "
            f"with `prange`, every core ({ncores()}) for both, in one run.\n",
            "### Machine\n", md_kv(machine_info()), "\n### Versions\n",
            md_kv(versions(["numpy", "numba", "ndpar"])), "\n### Results\n",
            md_table(["workload", "ndpar ms", "Numba ms", "ndpar vs Numba", "target", ""],
                     rows, "lrrrll"),
            "\n### Compile wait\n",
            md_table(["", "ms"], [
                ("ndpar: `vectorize(f)` + first call on 1,000 elements (best of fresh kernels)",
                 f"{nd_first:.2f}"),
                ("Numba: `vectorize([sig])(f)` + first call (best of fresh functions)",
                 f"{nb_first:.0f}"),
                (f"target <= {T_FIRST_MS:g} ms", verdict(ok_first))], "lr"),
            "\n### Plain Python, for scale (estimated from a slice)\n",
            md_table(["workload", "s"], [("Mandelbrot", f"{py_mandel:.1f}"),
                                         ("Newton cube root", f"{py_cbrt:.1f}")], "lr"),
            "\n### Targets\n",
            md_table(["target", ""], [(n, verdict(ok)) for n, ok in verdicts]),
            "\n### Reproduce\n", "`python bench/bench_kernels.py` (part of `make bench`).\n"]
    # why a target is missed: the work each side does, measured
    notes = []
    ratios = {r[0]: float(r[3][:-1]) for r in rows}
    name_m = rows[0][0]
    if ratios[name_m] < T_MANDEL:
        useful, full, comp = lane_work(ref_m)
        ops = loop_ops(vm)
        t_nd = float(rows[0][1]) / 1e3
        t_nb = float(rows[0][2]) / 1e3
        notes.append(
            f"- Mandelbrot ({verdict(False)}): {useful / 1e6:.1f} M loop iterations are needed; "
            f"whole blocks of {BLOCK} lanes would run {full / 1e6:.1f} M lane-iterations, "
            f"the VM's while-loop compaction runs {comp / 1e6:.1f} M "
            f"({100 * (1 - comp / full):.0f}% fewer). "
            + (f"Each iteration is {ops} VM instructions, each a pass over the block's "
               "registers in memory (loads and a 64-lane store per instruction), " if ops else "")
            + f"so ndpar spends {t_nd * ncores() / comp * 1e9:.2f} ns per lane-iteration per core "
            f"against Numba's {t_nb * ncores() / useful * 1e9:.2f} ns per iteration per core "
            "(its scalar loop keeps x, y and n in registers). The target needs the loop body "
            "compiled to fused SIMD code (fewer passes), not the lane count.")
    name_r = rows[2][0]
    ops_r = loop_ops(gr)
    if ratios[name_r] < T_RUNMAX or ops_r:
        notes.append(
            f"- running max ({verdict(ratios[name_r] >= T_RUNMAX)}): "
            + (f"{ops_r} VM instructions per column step for a block of {BLOCK} rows "
               "(the uniform range loop is run by lane 0, the elif is if-converted, locals "
               "are written unmasked), " if ops_r else "")
            + f"{ratios[name_r]:.2f}x Numba; both are bounded by reading and writing "
            f"{2 * R * C * 8 / 1e6:.0f} MB.")
    if notes:
        body.insert(body.index("\n### Targets\n"),
                    "\n### Notes (measured in this run)\n\n" + "\n".join(notes) + "\n"
                    "\nThe machine is shared: timings move by tens of percent between runs.\n")
    text = "\n".join(body)
    print(text)
    if not q:
        write_section("kernels", text)
        grouped_bars(CHART, [r[0] for r in rows], series, "ms (lower is better)",
                     f"Kernels: ndpar vs Numba parallel=True ({ncores()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
