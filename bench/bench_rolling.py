#!/usr/bin/env python3
"""Rolling-window benchmark: ndpar.move_* against bottleneck, pandas, numbagg
and the seed's own code.

In one process and on the same float64 arrays (standard normal, no NaN):

* the seed's case: centered mean, window 21 (half-width 10), ends padded by
  repeating the first and last values, on 2e6 points: the seed's own loop and
  its Pool.imap version (measured on a shorter series and scaled linearly),
  NumPy's convolve, bottleneck, pandas and numbagg on the padded series, and
  ndpar.move_mean(..., mode='edge');
* trailing windows 21 and 1001 on 1e8 points for mean, sum, std, min, max and
  median: bottleneck, pandas rolling, numbagg (mean, sum, std), ndpar on one
  thread and on every core; and centered windows (window 21): pandas
  rolling(center=True) against ndpar center=True;
* time against window size (3 .. 10001) on 1e7 points for mean, std, max
  and median, as a table and the chart bench/rolling.png.

Checks the project's targets (ndpar at least 1.5x bottleneck for each function)
on this run's own measurements, prints the report and writes the "Rolling
windows" section of BENCHMARKS.md and bench/rolling.png.

    python bench/bench_rolling.py            # full size, as `make bench`
    python bench/bench_rolling.py --quick    # small sizes, smoke test
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from pathlib import Path
from typing import Callable

import bottleneck as bn
import numba
import numbagg
import numpy as np
import pandas as pd

import ndpar
from _common import (checked_runs, keep_freed_memory, line_panels, log, machine_info, md_kv, md_table,
                     ncores, verdict, versions, write_section)

CHART = Path(__file__).resolve().parent / "rolling.png"
FUNCS = ("mean", "sum", "std", "min", "max", "median")
NUMBAGG_FUNCS = ("mean", "sum", "std")           # numbagg has no moving min, max, median
BIG_WINDOWS = (21, 1001)
CENTER_WINDOW = 21
SWEEP_FUNCS = ("mean", "std", "max", "median")
SWEEP_WINDOWS = (3, 11, 21, 101, 1001, 10001)
SEED_HALF = 10                                    # the seed's `window`: half-width
TARGET = {f: 1.5 for f in FUNCS}                  # ndpar (all cores) / bottleneck
RTOL = ATOL = 1e-6                                # agreement between peers
COLD = "†"                                        # marks a single, cold run
PREFAULT = 5                                      # inputs' worth of memory touched first


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000_000, help="points, trailing/centered")
    p.add_argument("--seed-n", type=int, default=2_000_000, help="points, seed's case")
    p.add_argument("--seed-measured", type=int, default=200_000,
                   help="points the seed's loop and Pool run on (scaled to --seed-n)")
    p.add_argument("--sweep-n", type=int, default=10_000_000, help="points, window sweep")
    p.add_argument("--repeats", type=int, default=3, help="most timed runs after the first")
    p.add_argument("--budget", type=float, default=3.0,
                   help="seconds one measurement may take before it stops repeating")
    p.add_argument("--quick", action="store_true", help="small sizes, smoke test")
    p.add_argument("--no-write", action="store_true", help="print only")
    a = p.parse_args()
    if a.quick:
        a.n, a.seed_n, a.seed_measured, a.sweep_n = 1_000_000, 200_000, 20_000, 100_000
        a.budget = 1.0
    a.repeats = max(1, a.repeats)
    a.seed_measured = min(a.seed_measured, a.seed_n)
    return a


# --- timing and checking ---------------------------------------------------------

class Timing:
    """Best time of one call: the first call is timed and checked; more calls are
    timed while the budget lasts and the best of those is kept. A call too slow
    to repeat keeps its first (cold) time, marked ``cold``."""

    def __init__(self, seconds: float, runs: int, cold: bool):
        self.seconds, self.runs, self.cold = seconds, runs, cold

    def fmt(self) -> str:
        return sec(self.seconds) + (COLD if self.cold else "")


def sec(x: float) -> str:
    """Seconds to three significant figures, without an exponent."""
    digits = 2 - int(np.floor(np.log10(x))) if x > 0 else 3
    return f"{x:.{min(max(digits, 0), 7)}f}"


def times(r: float) -> str:
    """A speed ratio: three significant figures, whole numbers from 100, and
    1/N below 0.01."""
    if r < 0.01:
        return f"1/{1 / r:,.0f}×"
    return f"{r:,.0f}×" if r >= 100 else f"{r:.3g}×"


def measure(fn: Callable[[], np.ndarray], check: Callable[[np.ndarray], None],
            repeats: int, budget: float) -> Timing:
    first, runs = checked_runs(fn, check, repeats, budget)
    if runs:
        return Timing(min(runs), len(runs), False)
    return Timing(first, 1, True)


def sample_index(n: int) -> np.ndarray:
    """Where results are compared: both ends in full, every 101st point between."""
    k = min(n, 5000)
    return np.unique(np.concatenate([np.arange(k), np.arange(0, n, 101),
                                     np.arange(n - k, n)]))


def checker(expected: np.ndarray, idx: np.ndarray, what: str):
    """Check that a result agrees with ``expected`` (its values at ``idx``)."""
    def check(r) -> None:
        got = np.asarray(r)[idx]
        if not np.allclose(got, expected, rtol=RTOL, atol=ATOL, equal_nan=True):
            bad = ~np.isclose(got, expected, rtol=RTOL, atol=ATOL, equal_nan=True)
            j = int(np.argmax(bad))
            raise SystemExit(f"{what}: result differs at index {idx[j]}: "
                             f"{got[j]!r} against {expected[j]!r}")
    return check


# --- the seed's code (the user's public code, verbatim apart from the names) ---------

def seed_parallel_rolling_mean(data, window, output):
    def windows(data, window):
        padded = np.pad(data, window, mode='edge')
        for i in range(len(data)):
            yield padded[i:i + 2*window + 1]
    pool = multiprocessing.Pool()
    results = pool.imap(np.mean, windows(data, window), chunksize=1000)
    for i, result in enumerate(results):
        output[i] = result
    pool.close()


def seed_sequential_rolling_mean(data, window, output):
    padded = np.pad(data, window, mode='edge')
    for i in range(len(data)):
        output[i] = np.mean(padded[i:i + 2*window + 1])


def seed_expected(data: np.ndarray) -> np.ndarray:
    """The seed's result, computed another way: np.convolve on the padded series."""
    h, w = SEED_HALF, 2 * SEED_HALF + 1
    return np.convolve(np.pad(data, h, mode="edge"), np.full(w, 1.0 / w), "valid")


def run_seed_code(data: np.ndarray, args) -> list[dict]:
    """The seed's loop and Pool version on the first --seed-measured points,
    timed once each and scaled linearly to the whole series."""
    h, n, m = SEED_HALF, data.size, args.seed_measured
    part = np.ascontiguousarray(data[:m])
    seq_out, pool_out = np.empty(m), np.empty(m)
    rows = []
    for key, label, fn, out in (
            ("seed_pool", f"seed: Pool.imap, chunksize=1000 ({os.cpu_count()} processes)",
             seed_parallel_rolling_mean, pool_out),
            ("seed_loop", "seed: sequential loop (1 thread)",
             seed_sequential_rolling_mean, seq_out)):
        t0 = time.perf_counter()
        fn(part, h, out)
        t = time.perf_counter() - t0
        rows.append(dict(key=key, label=label, seconds=t * n / m, measured_n=m,
                         measured_s=t, timing=Timing(t * n / m, 1, True)))
        log(f"  {label:56} {t:8.3f} s on {m:,} -> {t * n / m:8.3f} s on {n:,}")
    # Away from the cut end (its padding differs), the seed's output is the full one's.
    expected, good = seed_expected(part), m - h
    for what, out in (("seed loop", seq_out), ("seed Pool", pool_out)):
        if not np.allclose(out[:good], expected[:good], rtol=1e-12, atol=1e-12):
            raise SystemExit(f"{what}: differs from np.convolve on the padded series")
    return rows


def run_seed(data: np.ndarray, seed_rows: list[dict], args, nthr: int) -> dict:
    """The seed's centered, edge-padded mean with window 2h+1 on ``data``, by the
    peers and ndpar; ``seed_rows`` are the seed's own code's timings."""
    h, w, n = SEED_HALF, 2 * SEED_HALF + 1, data.size
    idx = sample_index(n)
    expected = seed_expected(data)
    rows = list(seed_rows)
    pad = lambda: np.pad(data, h, mode="edge")  # noqa: E731
    peers = [
        ("numpy", "NumPy: np.pad + np.convolve (1 thread)",
         lambda: np.convolve(pad(), np.full(w, 1.0 / w), "valid"), nthr),
        ("bottleneck", "bottleneck: np.pad + bn.move_mean, sliced",
         lambda: bn.move_mean(pad(), w)[2 * h:], nthr),
        ("pandas", "pandas: np.pad + Series.rolling(21).mean(), sliced",
         lambda: pd.Series(pad(), copy=False).rolling(w).mean().to_numpy()[2 * h:], nthr),
        ("numbagg", "numbagg: np.pad + numbagg.move_mean, sliced",
         lambda: numbagg.move_mean(pad(), window=w)[2 * h:], nthr),
        ("ndpar1", "ndpar: move_mean(x, 21, mode='edge') (1 thread)",
         lambda: ndpar.move_mean(data, w, mode="edge"), 1),
        ("ndpar", f"ndpar: move_mean(x, 21, mode='edge') ({nthr} threads)",
         lambda: ndpar.move_mean(data, w, mode="edge"), nthr),
    ]
    for key, label, fn, threads in peers:
        with ndpar.threads(threads):
            tm = measure(fn, checker(expected[idx], idx, label), args.repeats, args.budget)
        rows.append(dict(key=key, label=label, seconds=tm.seconds, timing=tm))
        log(f"  {label:56} {tm.fmt()} s")
    return {"n": n, "m": args.seed_measured, "window": w, "rows": rows}


# --- trailing and centered windows -----------------------------------------------------

def bn_call(fn: str, a: np.ndarray, w: int) -> np.ndarray:
    f = getattr(bn, "move_" + fn)
    return f(a, w, ddof=0) if fn == "std" else f(a, w)


def pd_call(fn: str, s: pd.Series, w: int, center: bool) -> np.ndarray:
    r = s.rolling(w, center=center)
    res = r.std(ddof=0) if fn == "std" else getattr(r, fn)()
    return res.to_numpy()


def nd_call(fn: str, a: np.ndarray, w: int, center: bool) -> np.ndarray:
    return getattr(ndpar, "move_" + fn)(a, w, center=center)


def numbagg_call(fn: str, a: np.ndarray, w: int) -> np.ndarray:
    return getattr(numbagg, "move_" + fn)(a, window=w)


def centered(trailing: np.ndarray, w: int) -> np.ndarray:
    """The centered result (pandas' center=True, min_count = window) from the
    trailing one: out[i] = trailing[i + w//2], NaN where the window runs off."""
    c = np.full_like(trailing, np.nan)
    c[:trailing.size - w // 2] = trailing[w // 2:]
    return c


def run_case(fn: str, a: np.ndarray, s: pd.Series, w: int, args, nthr: int,
             center_too: bool, pandas_ok: bool = True) -> tuple[dict, dict | None]:
    """Every peer on one function and window, trailing (and centered when asked).
    Returns {peer key: Timing} for each placement."""
    idx = sample_index(a.size)
    ref = {}

    def keep(r):
        ref["trailing"] = np.asarray(r)

    tr = {"bottleneck": measure(lambda: bn_call(fn, a, w), keep, args.repeats, args.budget)}
    full = ref.pop("trailing")
    exp_tr = full[idx]
    exp_c = centered(full, w)[idx] if center_too else None
    del full
    chk = lambda what, e=exp_tr: checker(e, idx, f"{what} move_{fn} w={w}")  # noqa: E731
    if pandas_ok:
        tr["pandas"] = measure(lambda: pd_call(fn, s, w, False), chk("pandas"),
                               args.repeats, args.budget)
    if fn in NUMBAGG_FUNCS:
        e = exp_tr * np.sqrt(w / (w - 1)) if fn == "std" else exp_tr  # numbagg: ddof=1
        tr["numbagg"] = measure(lambda: numbagg_call(fn, a, w), chk("numbagg", e),
                                args.repeats, args.budget)
    for key, threads in (("ndpar1", 1), ("ndpar", nthr)):
        with ndpar.threads(threads):
            tr[key] = measure(lambda: nd_call(fn, a, w, False), chk(f"ndpar({threads})"),
                              args.repeats, args.budget)
    log(f"  trailing {fn:6} w={w:<6} n={a.size:<11,} "
        + " ".join(f"{k}={t.fmt()}" for k, t in tr.items()))
    if not center_too:
        return tr, None
    ce = {}
    if pandas_ok:
        ce["pandas"] = measure(lambda: pd_call(fn, s, w, True), chk("pandas center", exp_c),
                               args.repeats, args.budget)
    for key, threads in (("ndpar1", 1), ("ndpar", nthr)):
        with ndpar.threads(threads):
            ce[key] = measure(lambda: nd_call(fn, a, w, True),
                              chk(f"ndpar({threads}) center", exp_c), args.repeats, args.budget)
    log(f"  centered {fn:6} w={w:<6} n={a.size:<11,} "
        + " ".join(f"{k}={t.fmt()}" for k, t in ce.items()))
    return tr, ce


def run_big(a: np.ndarray, args, nthr: int) -> dict:
    s = pd.Series(a, copy=False)
    trailing, center = {}, {}
    for fn in FUNCS:
        for w in BIG_WINDOWS:
            tr, ce = run_case(fn, a, s, w, args, nthr, center_too=(w == CENTER_WINDOW))
            trailing[fn, w] = tr
            if ce is not None:
                center[fn, w] = ce
    return {"trailing": trailing, "center": center}


def run_sweep(a: np.ndarray, args, nthr: int) -> dict:
    s = pd.Series(a, copy=False)
    return {(fn, w): run_case(fn, a, s, w, args, nthr, center_too=False)[0]
            for fn in SWEEP_FUNCS for w in SWEEP_WINDOWS if w <= a.size}


def warm_up(nthr: int) -> None:
    """Compile numbagg's kernels and start ndpar's pool outside the timings."""
    x = np.random.default_rng(0).standard_normal(50_000)
    for fn in NUMBAGG_FUNCS:
        numbagg_call(fn, x, 5)
    for fn in FUNCS:
        bn_call(fn, x, 5)
        pd_call(fn, pd.Series(x), 5, False)
        with ndpar.threads(nthr):
            nd_call(fn, x, 5, False)
    ndpar.move_mean(x, 5, mode="edge")


# --- report -------------------------------------------------------------------------

PEERS = (("bottleneck", "bottleneck"), ("pandas", "pandas"), ("numbagg", "numbagg"),
         ("ndpar1", "ndpar 1 thread"))


def ratio(a: Timing | None, b: Timing | None) -> str:
    return times(a.seconds / b.seconds) if a and b else "—"


def fmt(t: Timing | None) -> str:
    return t.fmt() if t else "—"


def seed_table(seed: dict) -> str:
    rows = {r["key"]: r for r in seed["rows"]}
    loop, pool, bnr = rows["seed_loop"], rows["seed_pool"], rows["bottleneck"]
    body = []
    for r in seed["rows"]:
        how = (f"measured on {r['measured_n']:,} points ({r['measured_s']:.2f} s), "
               f"× {seed['n'] / r['measured_n']:g}" if "measured_n" in r
               else f"best of {r['timing'].runs}" if not r["timing"].cold else "one run")
        body.append((r["label"], sec(r["seconds"]), times(loop["seconds"] / r["seconds"]),
                     times(pool["seconds"] / r["seconds"]),
                     times(bnr["seconds"] / r["seconds"]), how))
    return md_table(["approach", "time (s)", "vs seed loop", "vs seed Pool",
                     "vs bottleneck", "timing"], body, "lrrrrl")


def case_table(res: dict, nthr: int, center: bool = False) -> str:
    peers = (("pandas", "pandas center=True"), ("ndpar1", "ndpar 1 thread")) if center \
        else PEERS
    head = ["function", "window"] + [lab + " (s)" for _, lab in peers] + \
        [f"ndpar {nthr} threads (s)",
         "ndpar vs pandas" if center else "ndpar vs bottleneck", f"{nthr} threads vs 1"]
    body = []
    for (fn, w), t in res.items():
        base = t.get("pandas") if center else t.get("bottleneck")
        body.append([fn, str(w)] + [fmt(t.get(k)) for k, _ in peers]
                    + [fmt(t["ndpar"]), ratio(base, t["ndpar"]),
                       ratio(t["ndpar1"], t["ndpar"])])
    return md_table(head, body, "lr" + "r" * (len(head) - 2))


def targets(big: dict, n: int, nthr: int) -> list[tuple[str, str, bool]]:
    out = []
    for fn in FUNCS:
        sp = {w: big["trailing"][fn, w]["bottleneck"].seconds / big["trailing"][fn, w]["ndpar"].seconds
              for w in BIG_WINDOWS}
        out.append((f"move_{fn} ≥ {TARGET[fn]:g}× bottleneck ({n:,} points, trailing, "
                    f"{nthr} threads)",
                    ", ".join(f"window {w}: {times(v)}" for w, v in sp.items()),
                    min(sp.values()) >= TARGET[fn]))
    return out


def memory_note(prefault) -> str:
    kept, nbytes, secs = prefault
    if not kept:
        return ("Every allocating call maps fresh memory and pays its page faults "
                "(glibc's mallopt was not available to keep freed memory).")
    return (f"So that those allocations measure the computation rather than the page "
            f"faults of fresh memory (costly and erratic on virtual machines), glibc is told "
            f"to keep the memory the process frees (`mallopt`: no mmap, no trim) and "
            f"{nbytes / 2**30:.1f} GiB were touched once beforehand ({secs:.1f} s): outputs "
            f"reuse pages the process already has, the same for every peer.")


def report(args, mach, vers, info, nthr, seed, big, sweep, tg, load, wall, prefault) -> str:
    n = f"{args.n:,}"
    return "\n\n".join([
        "## Rolling windows",
        f"`ndpar.move_*` against bottleneck, pandas `rolling`, numbagg and the seed's own "
        f"code, all in one process on the same float64 arrays (standard normal, no NaN). "
        f"Every call allocates its output, as bottleneck's does. {memory_note(prefault)} A time is the best of up "
        f"to {args.repeats} runs after a first, checked run; a call slower than about "
        f"{args.budget / 2:g} s is timed once, cold, and marked {COLD}. ndpar ran on "
        f"{nthr} threads and on 1; bottleneck, pandas and numbagg use one core on a "
        f"single series (numbagg parallelises over series, not inside one). Every result "
        f"is checked against bottleneck's (or NumPy's) to {RTOL:g}. numbagg has no moving "
        f"min, max or median, and its `move_std` has ddof=1 (bottleneck, pandas and ndpar "
        f"ran with ddof=0). numbagg's kernels were compiled before the timings.",
        "### Machine\n\n" + md_kv({**mach, "load average (1 min) at start / end":
                                   f"{load[0]:.2f} / {load[1]:.2f}",
                                   "benchmark wall time": f"{wall:.0f} s"}),
        "### Versions\n\n" + md_kv(vers) + "\n\n`ndpar.info()`: `" + repr(info) + "`",
        f"### The seed's case: centered mean, {seed['n']:,} points, window {seed['window']}, "
        "ends repeated\n\n"
        f"The seed's half-width {SEED_HALF} (`np.pad(data, {SEED_HALF}, mode='edge')`, "
        f"windows `padded[i:i+{2 * SEED_HALF + 1}]`) is "
        f"`ndpar.move_mean(data, {seed['window']}, mode='edge')`. The seed's loop and Pool "
        f"version ran once on the first {seed['m']:,} points and are scaled linearly to "
        f"{seed['n']:,} (the Pool's start-up, counted in its time, is scaled too); their "
        f"output matches. The peers without edge padding run on the padded series, padding "
        f"included in their time.\n\n" + seed_table(seed),
        f"### Trailing windows, {n} points\n\n" + case_table(big["trailing"], nthr),
        f"### Centered windows (`center=True`), {n} points\n\n"
        "bottleneck and numbagg have trailing windows only.\n\n"
        + case_table(big["center"], nthr, center=True),
        f"### Time against window size, {args.sweep_n:,} points (trailing)\n\n"
        + case_table(sweep, nthr)
        + "\n\n![time against window size per function and peer](bench/rolling.png)",
        "### Targets\n\n" + md_table(["target", "measured", "status"],
                                     [(t, m, f"**{verdict(ok)}**") for t, m, ok in tg], "lll"),
        "### Reproduce\n\n`python bench/bench_rolling.py` (needs bottleneck, pandas and "
        "numbagg; rewrites this section and `bench/rolling.png`). "
        "`python bench/bench_rolling.py --quick --no-write` is a smoke test. Run on a quiet "
        "machine: other load changes every figure.",
    ]) + "\n"


def chart(sweep: dict, mach: dict, n: int, nthr: int) -> None:
    labels = dict(PEERS) | {"ndpar": f"ndpar {nthr} threads"}
    panels = {}
    for fn in SWEEP_FUNCS:
        ws = [w for w in SWEEP_WINDOWS if (fn, w) in sweep]
        lines = {}
        for key, lab in labels.items():
            ys = [sweep[fn, w][key].seconds if key in sweep[fn, w] else None for w in ws]
            if any(y is not None for y in ys):
                lines[lab] = (ws, ys)
        panels[f"move_{fn}"] = lines
    line_panels(CHART, panels, "window", "seconds (log scale)",
                f"Trailing moving windows, n = {n:,} float64 — {mach['CPU']}, "
                f"{mach['cores (affinity)']} cores",
                styles={labels["ndpar"]: {"linewidth": 2.4},
                        labels["ndpar1"]: {"linestyle": "--"}})


def peak_rss_gib() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


# --- main -------------------------------------------------------------------------------

def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    load0 = os.getloadavg()[0]
    nthr = ncores()
    mach = machine_info()
    size = max(args.n, args.seed_n, args.sweep_n)
    log(f"keeping freed memory; touching {PREFAULT * size * 8 / 2**30:.1f} GiB first")
    t0 = time.perf_counter()
    kept = keep_freed_memory(PREFAULT * size * 8)
    prefault = (kept, PREFAULT * size * 8, time.perf_counter() - t0)
    log(f"input: {size:,} float64")
    a = np.random.default_rng(12345).standard_normal(size)
    # The seed's Pool forks: run it before any thread pool (ndpar, numba) starts.
    log(f"seed's case: {args.seed_n:,} points")
    seed_data = a[:args.seed_n]
    seed_rows = run_seed_code(seed_data, args)
    ndpar.set_num_threads(nthr)
    numba.set_num_threads(nthr)
    log("warm-up")
    warm_up(nthr)
    seed = run_seed(seed_data, seed_rows, args, nthr)
    log(f"trailing and centered windows: {args.n:,} points")
    big = run_big(a[:args.n], args, nthr)
    log(f"window sweep: {args.sweep_n:,} points")
    sweep = run_sweep(a[:args.sweep_n], args, nthr)
    vers = versions(["numpy", "bottleneck", "pandas", "numbagg", "numba", "ndpar"])
    tg = targets(big, args.n, nthr)
    wall = time.perf_counter() - start
    text = report(args, mach, vers, ndpar.info(), nthr, seed, big, sweep, tg,
                  (load0, os.getloadavg()[0]), wall, prefault)
    print(text)
    if not args.no_write:
        write_section("rolling", text)
        chart(sweep, mach, args.sweep_n, nthr)
        log(f"wrote BENCHMARKS.md and {CHART}")
    log(f"done in {wall:.0f} s; peak RSS {peak_rss_gib():.1f} GiB")


if __name__ == "__main__":
    main()
