#!/usr/bin/env python3
"""Core benchmark: exp, log and sin on large arrays, ndpar against its peers.

In one process and on the same arrays: the machine and versions, STREAM-style
bandwidth, NumPy (1 thread), numexpr and Numba (all cores) and ndpar (all
cores and 1 thread) on n float64 and float32 elements, the per-call overhead
on 1000 elements, and the memory ndpar allocates. Checks the project's targets
against this run's own measurements, prints the report and writes the
"Core" section of BENCHMARKS.md and the chart bench/core.png.

    python bench/bench_core.py            # full size (1e8), as `make bench`
    python bench/bench_core.py --quick    # 1e6 elements, smoke test
"""
from __future__ import annotations

import argparse
import tracemalloc
from pathlib import Path

import numba
import numexpr
import numpy as np

import ndpar
from _common import (best_time, grouped_bars, log, machine_info, md_kv, md_table,
                     ncores, per_call_us, verdict, versions, write_section)

FUNCS = {"exp": (-5.0, 5.0), "log": (0.1, 100.0), "sin": (-100.0, 100.0)}
DTYPES = (np.float64, np.float32)
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
CHART = Path(__file__).resolve().parent / "core.png"
SMALL_N = 1000       # per-call overhead size
MEM_N = 10_000_000   # memory check size

# Targets: exp on float64 versus the peers, bandwidth, per-call time.
T_VS_NUMPY, T_VS_PARALLEL, T_COPY_FRACTION, T_CALL_US = 1.6, 4.0, 0.85, 2.0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000_000, help="elements per array")
    p.add_argument("--repeats", type=int, default=5, help="timed runs (best kept)")
    p.add_argument("--quick", action="store_true", help="n = 1e6, smoke test")
    p.add_argument("--no-write", action="store_true", help="print only")
    a = p.parse_args()
    if a.quick:
        a.n = 1_000_000
    a.repeats = max(1, a.repeats)
    return a


def touched(n: int, dtype) -> np.ndarray:
    """An output array whose pages are already mapped."""
    out = np.empty(n, dtype)
    out.fill(1)
    return out


def make_inputs(n: int) -> dict:
    rng = np.random.default_rng(12345)
    return {(f, dt): rng.uniform(lo, hi, n).astype(dt, copy=False)
            for f, (lo, hi) in FUNCS.items() for dt in DTYPES}


# --- peers -------------------------------------------------------------------

def numba_kernel(ufunc):
    @numba.njit(parallel=True)
    def kernel(x, out):
        for i in numba.prange(x.size):
            out[i] = ufunc(x[i])
    return kernel


def peers(fname: str, nthr: int) -> list[tuple[str, str, object, int]]:
    """(key, label, fn(x, out), ndpar threads) for each peer."""
    uf, nd, nb = getattr(np, fname), getattr(ndpar, fname), numba_kernel(getattr(np, fname))
    expr = f"{fname}(x)"
    return [
        ("numpy", "NumPy (1 thread)", lambda x, o: uf(x, out=o), nthr),
        ("numexpr", f"numexpr ({nthr} threads)",
         lambda x, o: numexpr.evaluate(expr, local_dict={"x": x}, out=o), nthr),
        ("numba", f"Numba parallel ({nthr} threads)", nb, nthr),
        ("ndpar", f"ndpar ({nthr} threads)", lambda x, o: nd(x, out=o), nthr),
        ("ndpar1", "ndpar (1 thread)", lambda x, o: nd(x, out=o), 1),
    ]


def check(fname: str, x: np.ndarray, out: np.ndarray, label: str) -> None:
    step = max(1, x.size // 100_000)
    ref = getattr(np, fname)(x[::step])
    if not np.allclose(out[::step], ref, rtol=RTOL[x.dtype.type], atol=RTOL[x.dtype.type]):
        raise SystemExit(f"{label} {fname} {x.dtype}: result differs from NumPy")


def time_peer(fname, x, out, peer, repeats) -> float:
    _, label, fn, nthr = peer
    with ndpar.threads(nthr):
        out.fill(0)
        t = best_time(lambda: fn(x, out), repeats)
    check(fname, x, out, label)
    return t


def run_math(inputs: dict, outs: dict, repeats: int, nthr: int) -> list[dict]:
    rows = []
    for (fname, dt), x in inputs.items():
        for peer in peers(fname, nthr):
            t = time_peer(fname, x, outs[dt], peer, repeats)
            gbs = 2 * x.itemsize * x.size / t / 1e9
            dtname = np.dtype(dt).name
            rows.append(dict(func=fname, dtype=dtname, key=peer[0],
                             label=peer[1], seconds=t, gbs=gbs))
            log(f"  {fname:4} {dtname:8} {peer[1]:28} {t * 1e3:9.2f} ms {gbs:7.2f} GB/s")
    return rows


# --- bandwidth, overhead, memory ---------------------------------------------

def bandwidth(src: np.ndarray, dst: np.ndarray, repeats: int, quick: bool) -> dict:
    nbytes = 64 << 20 if quick else 0
    bw = {"all": ndpar.measure_bandwidth(nbytes=nbytes),
          "one": ndpar.measure_bandwidth(nbytes=nbytes, nthreads=1)}
    t = best_time(lambda: np.copyto(dst, src), repeats)
    bw["numpy_copy_gbs"] = 16 * src.size / t / 1e9
    bw["numpy_copy_n"] = src.size
    return bw


def overhead(x: np.ndarray) -> dict:
    x = np.ascontiguousarray(x[:SMALL_N])
    o = touched(SMALL_N, x.dtype)
    return {
        "ndpar.exp(x)": per_call_us(lambda: ndpar.exp(x)),
        "ndpar.exp(x, out=o)": per_call_us(lambda: ndpar.exp(x, out=o)),
        "np.exp(x)": per_call_us(lambda: np.exp(x)),
        "np.exp(x, out=o)": per_call_us(lambda: np.exp(x, out=o)),
    }


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def rss_growth(fn) -> int | None:
    """Peak RSS above the starting RSS during fn(), or None if not measurable."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        base = _status_kb("VmRSS")
    except (OSError, KeyError):
        return None
    result = fn()
    grown = _status_kb("VmHWM") - base
    del result
    return grown


def traced_peak(fn) -> int:
    """Peak tracemalloc-traced bytes above the start during fn()."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    return peak


def memory(x: np.ndarray, out: np.ndarray) -> dict:
    x, o = x[:MEM_N], out[:MEM_N]
    calls = {"ndpar.exp(x, out=o)": lambda: ndpar.exp(x, out=o),
             "ndpar.exp(x)": lambda: ndpar.exp(x),
             "np.exp(x)": lambda: np.exp(x)}
    for fn in calls.values():
        fn()  # warm up: thread pool, caches
    res = {name: (traced_peak(fn), rss_growth(fn)) for name, fn in calls.items()}
    return {"n": x.size, "input_bytes": x.nbytes, "calls": res}


# --- targets and report -------------------------------------------------------

def lookup(rows: list[dict], func: str, dtype: str) -> dict:
    return {r["key"]: r for r in rows if r["func"] == func and r["dtype"] == dtype}


def targets(rows, bw, ovh, mem) -> list[tuple[str, str, bool]]:
    e = lookup(rows, "exp", "float64")
    nd = e["ndpar"]
    copy = bw["all"]["copy_gbs"]
    sp = {k: e[k]["seconds"] / nd["seconds"] for k in ("numpy", "numexpr", "numba")}
    out = [(f"exp float64 ≥ {T_VS_NUMPY}× NumPy (1 thread)", f"{sp['numpy']:.2f}×",
            sp["numpy"] >= T_VS_NUMPY)]
    for k, name in (("numexpr", "numexpr"), ("numba", "Numba parallel")):
        out.append((f"exp float64 ≥ {T_VS_PARALLEL:g}× {name}", f"{sp[k]:.2f}×",
                    sp[k] >= T_VS_PARALLEL))
    frac = nd["gbs"] / copy
    out.append((f"exp float64 ≥ {T_COPY_FRACTION:.0%} of copy bandwidth",
                f"{nd['gbs']:.1f} / {copy:.1f} GB/s = {frac:.0%}", frac >= T_COPY_FRACTION))
    for call in ("ndpar.exp(x)", "ndpar.exp(x, out=o)"):
        out.append((f"{SMALL_N}-element `{call}` ≤ {T_CALL_US:g} µs",
                    f"{ovh[call]:.2f} µs", ovh[call] <= T_CALL_US))
    out.append(memory_target(mem))
    return out


def extra_bytes(measures: tuple) -> int:
    return max(m for m in measures if m is not None)


def memory_target(mem: dict) -> tuple[str, str, bool]:
    size = mem["input_bytes"]
    with_out = extra_bytes(mem["calls"]["ndpar.exp(x, out=o)"]) / size
    no_out = extra_bytes(mem["calls"]["ndpar.exp(x)"]) / size
    ok = with_out < 0.5 and no_out < 1.5
    return ("no temporary the size of an input",
            f"extra memory: {with_out:.2f}× input with out=, {no_out:.2f}× input without "
            "(the output)", ok)


def fmt_mb(b: int | None) -> str:
    return "n/a" if b is None else f"{b / 2**20:.1f} MiB"


def results_table(rows: list[dict], copy_gbs: float) -> str:
    body = []
    for r in rows:
        base = lookup(rows, r["func"], r["dtype"])["numpy"]["seconds"]
        body.append((r["func"], r["dtype"], r["label"], f"{r['seconds'] * 1e3:.1f}",
                     f"{r['gbs']:.1f}", f"{base / r['seconds']:.2f}×",
                     f"{r['gbs'] / copy_gbs:.0%}"))
    return md_table(["function", "dtype", "peer", "time (ms)", "GB/s", "vs NumPy",
                     "% of copy BW"], body, "lllrrrr")


def bandwidth_table(bw: dict) -> str:
    a, o = bw["all"], bw["one"]
    rows = [(f"ndpar STREAM copy ({a['nthreads']} threads)", f"{a['copy_gbs']:.1f}"),
            (f"ndpar STREAM triad ({a['nthreads']} threads)", f"{a['triad_gbs']:.1f}"),
            ("ndpar STREAM copy (1 thread)", f"{o['copy_gbs']:.1f}"),
            ("ndpar STREAM triad (1 thread)", f"{o['triad_gbs']:.1f}"),
            (f"NumPy `np.copyto` float64, n={bw['numpy_copy_n']:,} (1 thread)",
             f"{bw['numpy_copy_gbs']:.1f}")]
    note = (f"STREAM arrays: {a['nbytes'] / 2**20:.0f} MiB each; copy counts 16 B/element, "
            "triad 24 B/element, best of the runs.")
    return md_table(["probe", "GB/s"], rows, "lr") + "\n\n" + note


def overhead_table(ovh: dict) -> str:
    return md_table(["call (1000 float64)", "µs per call"],
                    [(f"`{k}`", f"{v:.2f}") for k, v in ovh.items()], "lr")


def memory_table(mem: dict) -> str:
    rows = [(f"`{k}`", fmt_mb(t), fmt_mb(r)) for k, (t, r) in mem["calls"].items()]
    head = (f"n = {mem['n']:,} float64 (input {fmt_mb(mem['input_bytes'])}); extra memory "
            "during one call: peak tracemalloc-traced bytes (NumPy reports its buffers "
            "there) and peak RSS growth (VmHWM, catches any allocation).\n\n")
    return head + md_table(["call", "peak traced", "peak RSS growth"], rows, "lrr")


def targets_table(tg) -> str:
    return md_table(["target", "measured", "status"],
                    [(t, m, f"**{verdict(ok)}**") for t, m, ok in tg], "lll")


def report(args, mach, vers, info, bw, rows, ovh, mem, tg) -> str:
    return "\n\n".join([
        "## Core: elementwise math",
        f"`exp`, `log`, `sin` on n = {args.n:,} elements (float64 and float32), "
        f"inputs uniform in exp [-5, 5], log [0.1, 100], sin [-100, 100]; outputs "
        f"preallocated and pre-touched; best of {args.repeats} runs after a warm-up. "
        "GB/s counts bytes read + written (2 × itemsize × n).",
        "### Machine\n\n" + md_kv(mach),
        "### Versions\n\n" + md_kv(vers) + "\n\n`ndpar.info()`: `" + repr(info) + "`",
        "### Memory bandwidth\n\n" + bandwidth_table(bw),
        "### Results\n\n" + results_table(rows, bw["all"]["copy_gbs"])
        + "\n\n![GB/s per function and peer](bench/core.png)",
        "### Per-call overhead\n\n" + overhead_table(ovh),
        "### Memory\n\n" + memory_table(mem),
        "### Targets\n\n" + targets_table(tg),
        "### Reproduce\n\n`make bench` (installs the peers from requirements-bench.txt, "
        "runs `bench/bench_core.py`, rewrites this section and `bench/core.png`). "
        "`python bench/bench_core.py --quick --no-write` is a smoke test. Run on a quiet "
        "machine: other load changes every figure.",
    ]) + "\n"


def chart(rows: list[dict], bw: dict, mach: dict, n: int) -> None:
    cases = list(dict.fromkeys((r["func"], r["dtype"]) for r in rows))
    labels = list(dict.fromkeys(r["label"] for r in rows))
    series = {lab: [next(r["gbs"] for r in rows if (r["func"], r["dtype"]) == c
                         and r["label"] == lab) for c in cases] for lab in labels}
    groups = [f"{f} {d.replace('float', 'f')}" for f, d in cases]
    a, o = bw["all"], bw["one"]
    title = f"Elementwise math, n = {n:,} — {mach['CPU']}, {mach['cores (affinity)']} cores"
    grouped_bars(CHART, groups, series, "GB/s (read + write)", title,
                 [(a["copy_gbs"], f"STREAM copy, {a['nthreads']} threads ({a['copy_gbs']:.1f})"),
                  (o["copy_gbs"], f"STREAM copy, 1 thread ({o['copy_gbs']:.1f})")])


# --- main ---------------------------------------------------------------------

def main() -> None:
    args = parse_args()
    nthr = ncores()
    ndpar.set_num_threads(nthr)
    numexpr.set_num_threads(nthr)
    numba.set_num_threads(nthr)
    mach = machine_info()
    log(f"inputs: 6 arrays of {args.n:,} elements")
    inputs = make_inputs(args.n)
    outs = {dt: touched(args.n, dt) for dt in DTYPES}
    x64, o64 = inputs["exp", np.float64], outs[np.float64]
    log("bandwidth")
    bw = bandwidth(x64, o64, args.repeats, args.quick)
    log("elementwise math")
    rows = run_math(inputs, outs, args.repeats, nthr)
    log("per-call overhead, memory")
    ovh = overhead(x64)
    mem = memory(x64, o64)
    vers = versions(["numpy", "numexpr", "numba", "ndpar"])
    vers["numba threading layer"] = numba.threading_layer()
    vers["numexpr VML"] = numexpr.use_vml
    tg = targets(rows, bw, ovh, mem)
    text = report(args, mach, vers, ndpar.info(), bw, rows, ovh, mem, tg)
    print(text)
    if not args.no_write:
        write_section("core", text)
        chart(rows, bw, mach, args.n)
        log(f"wrote BENCHMARKS.md and {CHART}")


if __name__ == "__main__":
    main()
