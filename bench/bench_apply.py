#!/usr/bin/env python3
"""Function-table benchmark: ndpar.apply_indexed against the seed's algorithm
and NumPy's np.select.

The seed's case: k functions f_j(x) = j*x (its ``trivial_functional``), a
float64 abscissa x = rng.random(N) and an int64 index = rng.integers(0, k, N);
out[i] = f_{index[i]}(x[i]). In one process and on the same arrays:

* for N = 1e6 and 1e7 and k = 250 and 10,000: the seed's algorithm
  (``apply_indexed_fast``: argsort the index, searchsorted for each function's
  run, one fancy-indexed call per function; one thread), ``np.select`` (N = 1e6,
  k = 250 only: it needs every condition and every choice as a full array at
  once), and ``ndpar.apply_indexed`` with the table as expression strings
  (``"%d*x" % j``) and as the seed's Python closures, on one thread and on
  every core;
* the memory one ``apply_indexed`` call adds (peak RSS growth), against N*8
  bytes, and the seed's;
* time against table size, k = 1, 250, 10,000 and 1,000,000 at N = 1e7, with
  the expression table (compilation timed apart where it can be).

Every result is checked to be exactly the seed's (j*x is exact either way).
Checks the project's targets on this run's own measurements, prints the report
and writes the "apply" section of BENCHMARKS.md and bench/apply.png.

    python bench/bench_apply.py            # full size, as `make bench`
    python bench/bench_apply.py --quick    # small sizes, smoke test; writes nothing
"""
from __future__ import annotations

import argparse
import gc
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

import ndpar
from _common import (checked_runs, grouped_bars, keep_freed_memory, log, machine_info, md_kv, md_table,
                     ncores, verdict, versions, write_section)
from bench_core import rss_growth

CHART = Path(__file__).resolve().parent / "apply.png"
MIB = 2**20
COLD = "†"                   # marks a single run that could not be repeated

# Targets, at N = 1e7, k = 250, every core, against the seed's algorithm.
T_EXPR = 10.0                # expression table
T_CLOSURE = 4.0              # the seed's closures


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ns", type=int, nargs="+", default=[1_000_000, 10_000_000],
                   help="numbers of points")
    p.add_argument("--ks", type=int, nargs="+", default=[250, 10_000], help="table sizes")
    p.add_argument("--select-n", type=int, default=1_000_000,
                   help="the one N where np.select runs (with k = --select-k)")
    p.add_argument("--select-k", type=int, default=250)
    p.add_argument("--scale-n", type=int, default=10_000_000, help="points, table-size line")
    p.add_argument("--scale-ks", type=int, nargs="+", default=[1, 250, 10_000, 1_000_000],
                   help="table sizes, table-size line")
    p.add_argument("--compile-budget", type=float, default=150.0,
                   help="seconds the largest table of distinct strings may take to "
                        "compile (twice); beyond that only a repeated string is timed")
    p.add_argument("--repeats", type=int, default=3, help="most timed runs after the first")
    p.add_argument("--budget", type=float, default=4.0,
                   help="seconds one measurement may take before it stops repeating")
    p.add_argument("--quick", action="store_true",
                   help="small sizes, smoke test (implies --no-write)")
    p.add_argument("--no-write", action="store_true", help="print only")
    a = p.parse_args()
    if a.quick:
        a.ns, a.scale_n = [100_000, 1_000_000], 1_000_000
        a.select_n = 100_000
        a.scale_ks = [1, 250, 10_000, 100_000]
        a.compile_budget, a.budget = 15.0, 0.5
        a.no_write = True
    a.repeats = max(1, a.repeats)
    return a


# --- the seed's code --------------------------------------------------------------

def trivial_functional(i):
    """The seed's table entry: a closure computing i*x."""
    def f(x):
        return i * x
    return f


def seed_apply(abcissa: np.ndarray, func_indices: np.ndarray, func_table) -> np.ndarray:
    """The seed's algorithm (its apply_indexed_fast), written out: order the points
    by their function with argsort, find where each function's run of points starts
    with searchsorted, then call each function once on its run."""
    order = func_indices.argsort()
    bounds = np.searchsorted(func_indices[order], np.arange(len(func_table) + 1))
    out = np.zeros_like(abcissa)
    for j, f in enumerate(func_table):
        ix = order[bounds[j]:bounds[j + 1]]
        out[ix] = f(abcissa[ix])
    return out


def numpy_select(x: np.ndarray, index: np.ndarray, table) -> np.ndarray:
    """NumPy's vectorised way: one condition and one choice array per function."""
    return np.select([index == j for j in range(len(table))], [f(x) for f in table])


def choose_limit() -> int:
    """The most choices np.choose accepts in this NumPy."""
    x = np.zeros(4)
    lo, hi = 1, 4096
    while lo < hi:  # largest m that works
        m = (lo + hi + 1) // 2
        try:
            np.choose(np.zeros(4, np.intp), [x] * m)
            lo = m
        except ValueError:
            hi = m - 1
    return lo


# --- timing -----------------------------------------------------------------------

class Unavailable(Exception):
    """ndpar's part is not built yet."""


class Timing:
    """Best time of one call after a first, checked call (kept in ``first``); a call
    too slow to repeat keeps its first time, marked ``cold``."""

    def __init__(self, seconds: float, runs: int, cold: bool, first: float):
        self.seconds, self.runs, self.cold, self.first = seconds, runs, cold, first

    def fmt(self) -> str:
        return sec(self.seconds) + (COLD if self.cold else "")


def sec(x: float) -> str:
    """Seconds to three significant figures, without an exponent."""
    digits = 2 - int(np.floor(np.log10(x))) if x > 0 else 3
    return f"{x:.{min(max(digits, 0), 7)}f}"


def times(r: float) -> str:
    return f"{r:,.0f}×" if r >= 100 else f"{r:.3g}×"


def call(fn: Callable[[], object]):
    """fn(), with ndpar's "not built yet" / NotImplementedError as Unavailable."""
    try:
        return fn()
    except NotImplementedError as e:
        raise Unavailable(f"NotImplementedError: {e}") from None
    except (ValueError, RuntimeError) as e:
        if "not built yet" in str(e):
            raise Unavailable(str(e)) from None
        raise


def measure(fn: Callable[[], np.ndarray], check: Callable[[np.ndarray], None],
            repeats: int, budget: float) -> Timing:
    first, runs = checked_runs(lambda: call(fn), check, repeats, budget)
    if runs:
        return Timing(min(runs), len(runs), False, first)
    return Timing(first, 1, True, first)


def exact(expected: np.ndarray, what: str) -> Callable[[np.ndarray], None]:
    def check(r) -> None:
        r = np.asarray(r)
        if r.dtype != expected.dtype or r.shape != expected.shape:
            raise SystemExit(f"{what}: got {r.dtype}{r.shape}, expected "
                             f"{expected.dtype}{expected.shape}")
        if not np.array_equal(r, expected):
            j = int(np.argmax(r != expected))
            raise SystemExit(f"{what}: differs from the seed's result at {j}: "
                             f"{r[j]!r} against {expected[j]!r}")
    return check


# --- the cases ----------------------------------------------------------------------

def expr_table(k: int) -> list[str]:
    return ["%d*x" % j for j in range(k)]


def closure_table(k: int) -> list:
    return [trivial_functional(j) for j in range(k)]


def run_case(x: np.ndarray, index: np.ndarray, k: int, args, nthr: int,
             with_select: bool) -> dict:
    """Every peer on one (N, k). Returns {key: Timing or None (unavailable) or
    an error string}; the seed's result is the reference."""
    exprs, closures = expr_table(k), closure_table(k)
    res: dict = {}
    ref = {}

    def keep(r):
        ref["out"] = np.asarray(r)

    res["seed"] = measure(lambda: seed_apply(x, index, closures), keep,
                          args.repeats, args.budget)
    expected = ref.pop("out")
    if with_select:
        res["select"] = measure(lambda: numpy_select(x, index, closures),
                                exact(expected, "np.select"), args.repeats, args.budget)
        gc.collect()
    for key, table, threads in (("expr1", exprs, 1), ("expr", exprs, nthr),
                                ("clos1", closures, 1), ("clos", closures, nthr)):
        with ndpar.threads(threads):
            try:
                res[key] = measure(lambda: ndpar.apply_indexed(x, index, table),
                                   exact(expected, f"ndpar {key} N={x.size} k={k}"),
                                   args.repeats, args.budget)
            except Unavailable as e:
                res[key] = str(e)
    log(f"  N={x.size:<11,} k={k:<8,} " + " ".join(
        f"{key}={t.fmt() if isinstance(t, Timing) else 'n/a'}" for key, t in res.items()))
    return res


def run_grid(x_all: np.ndarray, indices: dict, args, nthr: int) -> dict:
    grid = {}
    for n in args.ns:
        for k in args.ks:
            grid[n, k] = run_case(x_all[:n], indices[k][:n], k, args, nthr,
                                  with_select=(n == args.select_n and k == args.select_k))
    return grid


def run_memory(x: np.ndarray, index: np.ndarray, k: int, nthr: int) -> dict:
    """Peak RSS growth of one call (default allocator: big blocks are fresh
    mappings and show in RSS), each call warmed up first."""
    exprs, closures = expr_table(k), closure_table(k)
    out = np.empty_like(x)
    out.fill(1.0)
    calls = {
        "seed": lambda: seed_apply(x, index, closures),
        "expr_out": lambda: ndpar.apply_indexed(x, index, exprs, out=out),
        "expr": lambda: ndpar.apply_indexed(x, index, exprs),
        "clos_out": lambda: ndpar.apply_indexed(x, index, closures, out=out),
        "clos": lambda: ndpar.apply_indexed(x, index, closures),
    }
    res = {}
    with ndpar.threads(nthr):
        for key, fn in calls.items():
            try:
                call(fn)
            except Unavailable as e:
                res[key] = str(e)
                continue
            gc.collect()
            res[key] = rss_growth(fn)
            log(f"  memory {key:9} " + (f"{res[key] / MIB:,.1f} MiB" if res[key] is not None
                                        else "n/a"))
    return res


def run_scaling(x: np.ndarray, indices: dict, args, nthr: int) -> dict:
    """The expression table against k at one N; the seed and ndpar's closures beside.
    Compilation is timed apart: with ndpar's cache of compiled programs emptied,
    the same table on k points (index 0..k-1) costs the compilation plus the O(k)
    table handling. A table within the cache is then timed cached (the usual
    case: the same table called again); a larger one is compiled on every call,
    so its full call is timed once (when the estimate fits --compile-budget) and a
    table of one repeated string shows the call without compilation."""
    n = x.size
    out = {}
    for k in args.scale_ks:
        idx = indices[k][:n]
        exprs, closures = expr_table(k), closure_table(k)
        row: dict = {"k": k}
        row["seed"] = measure(lambda: seed_apply(x, idx, closures),
                              lambda r: row.__setitem__("ref", np.asarray(r)),
                              args.repeats, args.budget)
        expected = row.pop("ref")
        chk = exact(expected, f"scaling k={k}")
        try:
            with ndpar.threads(nthr):
                row["clos"] = measure(lambda: ndpar.apply_indexed(x, idx, closures), chk,
                                      args.repeats, args.budget)
                if k <= CACHE_SIZE:
                    row["setup"] = setup_time(x, exprs)
                    clear_cache()
                    row["expr"] = measure(lambda: ndpar.apply_indexed(x, idx, exprs), chk,
                                          args.repeats, args.budget)
                else:
                    row.update(big_table(x, idx, exprs, expected, args))
        except Unavailable as e:
            row["error"] = str(e)
        out[k] = row
        log(f"  scaling k={k:<9,} " + " ".join(
            f"{key}={v.fmt() if isinstance(v, Timing) else sec(v) if isinstance(v, float) else v}"
            for key, v in row.items() if key != "k"))
        del exprs, closures
        gc.collect()
    return out


def clear_cache() -> bool:
    """Empty ndpar's cache of compiled expression programs (its Python layer's
    lru_cache), so that the next call compiles; False if there is none to empty."""
    try:
        from ndpar import _apply
        _apply._compile.cache_clear()
        return True
    except (ImportError, AttributeError):
        return False


def setup_time(x: np.ndarray, table: list[str]) -> float:
    """Seconds of one call on len(table) points (index 0..k-1), the cache emptied
    first: compilation plus the O(k) table handling, almost no points."""
    k = len(table)
    xs, ix = np.resize(x, k), np.arange(k)
    clear_cache()
    t0 = time.perf_counter()
    call(lambda: ndpar.apply_indexed(xs, ix, table))
    return time.perf_counter() - t0


def big_table(x, idx, exprs, expected, args) -> dict:
    """A table of k distinct strings, more than the compiled-program cache holds:
    every call compiles. Estimate the compilation from the first k_est strings;
    time the repeated-string table; then, within budget, the full call (compile +
    run, once) and the compilation (the same table on k points)."""
    k = len(exprs)
    res: dict = {}
    k_est = min(k, 20_000)
    per = setup_time(x, exprs[:k_est]) / k_est
    res["compile_per_entry"] = per
    log(f"  compile estimate: {per * 1e6:.1f} µs per string -> {2 * per * k:.0f} s "
        f"for 2 calls with {k:,}")
    rep = ["2*x"] * k
    res["repeated"] = measure(lambda: ndpar.apply_indexed(x, idx, rep),
                              exact(2 * x, f"repeated string k={k}"), args.repeats, args.budget)
    if 2 * per * k > args.compile_budget:
        res["skipped"] = (f"{k:,} distinct strings: compiling them was estimated at "
                          f"{per * k:.0f} s per call, over the budget")
        return res
    clear_cache()
    t0 = time.perf_counter()
    r = ndpar.apply_indexed(x, idx, exprs)
    res["distinct_total"] = time.perf_counter() - t0
    exact(expected, f"distinct strings k={k}")(r)
    del r
    res["setup"] = setup_time(x, exprs)
    return res


def cache_size() -> int:
    """How many compiled expressions ndpar's Python layer keeps (its lru_cache)."""
    try:
        from ndpar import _apply
        return int(_apply._compile.cache_info().maxsize)
    except (ImportError, AttributeError, TypeError):
        return 65536


CACHE_SIZE = cache_size()


# --- report ---------------------------------------------------------------------------

LABELS = {
    "seed": "seed's algorithm (argsort + searchsorted + loop, closures; 1 thread)",
    "select": "np.select (closures on all of x; 1 thread)",
    "expr1": "ndpar, expression strings (1 thread)",
    "expr": "ndpar, expression strings ({nthr} threads)",
    "clos1": "ndpar, the seed's closures (1 thread)",
    "clos": "ndpar, the seed's closures ({nthr} threads)",
}


def fmt_t(t) -> str:
    return t.fmt() if isinstance(t, Timing) else "n/a"


def grid_table(grid: dict, nthr: int) -> str:
    body = []
    for (n, k), res in grid.items():
        seed = res["seed"].seconds
        for key, t in res.items():
            ok = isinstance(t, Timing)
            body.append((f"{n:,}", f"{k:,}", LABELS[key].format(nthr=nthr), fmt_t(t),
                         sec(t.first) if ok else "—",
                         f"{n / t.seconds / 1e6:,.1f}" if ok else "—",
                         times(seed / t.seconds) if ok else "—"))
    return md_table(["N", "k", "approach", "best (s)", "first call (s)", "Mpoints/s",
                     "vs seed"], body, "rrlrrrr")


def memory_table(mem: dict, n: int, k: int) -> str:
    base = n * 8
    labels = {"seed": "seed's algorithm (allocates out)",
              "expr_out": "ndpar, expressions, out= given",
              "expr": "ndpar, expressions, allocates out",
              "clos_out": "ndpar, closures, out= given",
              "clos": "ndpar, closures, allocates out"}
    body = []
    for key, lab in labels.items():
        v = mem.get(key)
        if isinstance(v, int):
            body.append((lab, f"{v / MIB:,.1f}", f"{v / base:.2f}"))
        else:
            body.append((lab, "n/a", "—"))
    return (f"Peak RSS growth during one call at N = {n:,}, k = {k:,} (VmHWM reset "
            "through /proc/self/clear_refs just before the call), measured before the "
            "timings with glibc's default settings, so that every block over 32 MiB is a "
            "fresh mapping and shows; each call warmed up first. N*8 = "
            f"{base / MIB:,.1f} MiB (one float64 array of N). apply.h's own figure for the "
            "scratch is N*(4 + 8 + 8) bytes = 2.5 × N*8 here (index permutation, grouped "
            "input, grouped output), plus the output when it is allocated.\n\n"
            + md_table(["call", "peak RSS growth (MiB)", "× N*8"], body, "lrr"))


def scaling_table(scal: dict, n: int, nthr: int) -> str:
    body, notes = [], []
    for k, row in scal.items():
        seed, clos = row["seed"], row.get("clos")
        if "error" in row:
            body.append((f"{k:,}", fmt_t(seed), "n/a", "n/a", "n/a", "—"))
            continue
        if "expr" in row:
            e = row["expr"]
            body.append((f"{k:,}", fmt_t(seed), fmt_t(clos),
                         f"{fmt_t(e)} (cached; first call {sec(e.first)})",
                         sec(row["setup"]), times(seed.seconds / e.seconds)))
            continue
        rep, per = row["repeated"], row["compile_per_entry"]
        if "distinct_total" in row:
            tot, setup = row["distinct_total"], row["setup"]
            body.append((f"{k:,}", fmt_t(seed), fmt_t(clos),
                         f"{sec(tot)}{COLD} compiling every call; less compilation ≈ "
                         f"{sec(max(tot - setup, 0.0))}", sec(setup) + COLD,
                         times(seed.seconds / tot)))
        else:
            body.append((f"{k:,}", fmt_t(seed), fmt_t(clos), "not run: " + row["skipped"],
                         f"≈ {sec(per * k)} (estimated)", "—"))
        body.append((f"{k:,}, one string (`\"2*x\"` × {k:,})", "—", "—",
                     f"{fmt_t(rep)} (first call {sec(rep.first)})", "one string", "—"))
        notes.append(
            f"k = {k:,} is more than the {CACHE_SIZE:,} compiled programs that ndpar's Python "
            f"layer caches, so a table of {k:,} distinct strings is compiled again on every "
            f"call (timed once, {COLD}); compilation measured {per * 1e6:.1f} µs per string "
            f"on the first {min(k, 20_000):,}. The table of one repeated string (checked "
            f"against 2*x) shows the call without compilation: the O(k) handling of the "
            f"table and the grouping of the points.")
    head = ["k", "seed (s)", f"ndpar closures, {nthr} threads (s)",
            f"ndpar expressions, {nthr} threads (s)", "compilation + set-up (s)",
            "expressions vs seed"]
    return (f"N = {n:,}, the same x, index = rng.integers(0, k, N) for each k. "
            "\"compilation + set-up\" is one call on k points (index 0..k-1) with ndpar's "
            "cache of compiled programs emptied first: the strings' compilation and the "
            "O(k) table handling. The expression time is the cached call's (the same table "
            "called again) where the table fits the cache.\n\n"
            + md_table(head, body, "rrrlrl") + ("\n\n" + "\n\n".join(notes) if notes else ""))


def targets(grid: dict, args, nthr: int) -> list[tuple[str, str, bool]]:
    n, k = max(args.ns), 250 if 250 in args.ks else args.ks[0]
    res = grid[n, k]
    seed = res["seed"].seconds
    out = []
    for key, goal, what in (("expr", T_EXPR, "expression table"),
                            ("clos", T_CLOSURE, "the seed's closures")):
        t = res.get(key)
        name = f"{what} ≥ {goal:g}× the seed's algorithm (N = {n:,}, k = {k:,}, {nthr} threads)"
        if isinstance(t, Timing):
            r = seed / t.seconds
            out.append((name, f"{sec(seed)} / {sec(t.seconds)} s = {times(r)}", r >= goal))
        else:
            out.append((name, f"not measured: {t}", False))
    return out


def report(args, mach, vers, info, nthr, grid, mem, mem_case, scal, tg, load, wall,
           prefault, climit) -> str:
    sn, sk = args.select_n, args.select_k
    big = max(args.ns)
    select_gb = (sk * big * (1 + 8)) / 2**30
    return "\n\n".join([
        "## Function tables (apply_indexed)",
        "The seed's case: `out[i] = table[index[i]](x[i])` with table entry j computing "
        "`j*x` (the seed's `trivial_functional`), x = `rng.random(N)` (float64), index = "
        "`rng.integers(0, k, N)` (int64), the same arrays for every peer, all in one "
        "process. The seed's algorithm (`apply_indexed_fast`: `argsort` of the index, "
        "`searchsorted` for the start of each function's run, then one call per function "
        "on `x[ix]`, written to `out[ix]`) runs on one thread with the seed's closures. "
        "`ndpar.apply_indexed(x, index, table)` runs with the table as expression strings "
        "(`\"%d*x\" % j`, compiled to ndpar's bytecode, no GIL) and as the same Python "
        "closures (called once per group, on the pool's threads), on one thread and on "
        f"{nthr}. Every result is checked to equal the seed's exactly (j*x is exact in "
        "both). A time is the best of up to "
        f"{args.repeats} runs after a first, checked run (the first call with strings also "
        "compiles the strings not yet in ndpar's cache); a call too slow to "
        f"repeat within {args.budget:g} s is timed once and marked {COLD}. "
        + memory_note(prefault),
        f"`np.select` runs only at N = {sn:,}, k = {sk:,}: it needs all k conditions and "
        f"all k choices as full arrays at once (k × N × (1 + 8) bytes, "
        f"{sk * sn * 9 / 2**30:.1f} GiB there, {select_gb:.0f} GiB at N = {big:,}, more than "
        f"this machine's memory). `np.choose` takes at most {climit} choices in this NumPy "
        "(32 in NumPy 1.x), fewer than any table here, so it is not a peer.",
        "### Machine\n\n" + md_kv({**mach, "load average (1 min) at start / end":
                                   f"{load[0]:.2f} / {load[1]:.2f}",
                                   "benchmark wall time": f"{wall:.0f} s"}),
        "### Versions\n\n" + md_kv(vers) + "\n\n`ndpar.info()`: `" + repr(info) + "`",
        "### Results\n\n" + grid_table(grid, nthr)
        + "\n\n![points per second per (N, k) and approach](bench/apply.png)",
        "### Memory\n\n" + memory_table(mem, *mem_case),
        "### Time against table size (expression table)\n\n"
        + scaling_table(scal, args.scale_n, nthr),
        "### Targets\n\n" + md_table(["target", "measured", "status"],
                                     [(t, m, f"**{verdict(ok)}**") for t, m, ok in tg], "lll"),
        "### Reproduce\n\n`python bench/bench_apply.py` (rewrites this section and "
        "`bench/apply.png`); `python bench/bench_apply.py --quick` is a smoke test on small "
        "sizes that writes nothing. Run on a quiet machine: other load changes every figure.",
    ]) + "\n"


def memory_note(prefault) -> str:
    kept, nbytes, secs = prefault
    if not kept:
        return "Every allocation maps fresh memory (glibc's mallopt was not available)."
    return (f"For the timings glibc keeps the memory the process frees (`mallopt`: no mmap, "
            f"no trim) and {nbytes / 2**30:.1f} GiB were touched once beforehand "
            f"({secs:.1f} s), so that the seed's and ndpar's allocations alike reuse pages "
            "instead of paying fresh page faults.")


def chart(grid: dict, mach: dict, nthr: int) -> None:
    keys = {"seed": "seed's algorithm (1 thread)",
            "expr": f"ndpar, expression strings ({nthr} threads)",
            "clos": f"ndpar, closures ({nthr} threads)"}
    groups = [f"N={n:,}\nk={k:,}" for n, k in grid]
    series = {lab: [(n / res[key].seconds / 1e6) if isinstance(res.get(key), Timing)
                    else float("nan") for (n, _), res in grid.items()]
              for key, lab in keys.items()}
    grouped_bars(CHART, groups, series, "million points per second (higher is better)",
                 f"apply_indexed, table j -> j*x — {mach['CPU']}, "
                 f"{mach['cores (affinity)']} cores")


# --- main ---------------------------------------------------------------------------

def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    load0 = os.getloadavg()[0]
    nthr = ncores()
    ndpar.set_num_threads(nthr)
    mach = machine_info()
    nmax = max(max(args.ns), args.scale_n)
    rng = np.random.default_rng(20240611)
    log(f"inputs: x = rng.random({nmax:,}); index = rng.integers(0, k, {nmax:,}) per k")
    x = rng.random(nmax)
    indices = {k: rng.integers(0, k, nmax) for k in sorted(set(args.ks) | set(args.scale_ks))}

    mem_n, mem_k = max(args.ns), (250 if 250 in args.ks else args.ks[0])
    log(f"memory (default allocator), N = {mem_n:,}, k = {mem_k:,}")
    mem = run_memory(x[:mem_n], indices[mem_k][:mem_n], mem_k, nthr)

    size = 6 * nmax * 8
    log(f"keeping freed memory; touching {size / 2**30:.1f} GiB first")
    t0 = time.perf_counter()
    kept = keep_freed_memory(size)
    prefault = (kept, size, time.perf_counter() - t0)

    log("grid")
    grid = run_grid(x, indices, args, nthr)
    log(f"table size, N = {args.scale_n:,}")
    scal = run_scaling(x[:args.scale_n], indices, args, nthr)

    vers = versions(["numpy", "ndpar"])
    tg = targets(grid, args, nthr)
    wall = time.perf_counter() - start
    text = report(args, mach, vers, ndpar.info(), nthr, grid, mem, (mem_n, mem_k), scal, tg,
                  (load0, os.getloadavg()[0]), wall, prefault, choose_limit())
    print(text)
    for t, m, ok in tg:
        log(f"{verdict(ok):6} {t}: {m}")
    if not args.no_write:
        write_section("apply", text)
        chart(grid, mach, nthr)
        log(f"wrote BENCHMARKS.md and {CHART}")
    log(f"done in {wall:.0f} s")


if __name__ == "__main__":
    main()
