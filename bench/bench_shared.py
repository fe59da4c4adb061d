#!/usr/bin/env python3
"""Shared-memory and process benchmark: ndpar.map_chunks and ndpar.shared_zeros
against the seeds' multiprocessing code.

In one process:

(a) the second seed's case, a per-window Python function that holds the GIL:
    the centered mean of every window of 21 points (half-width 10, ends
    repeated: ``np.pad(x, 10, mode='edge')``) over 2e6 points, x the seed's
    ``rng.random(n).cumsum()``: the plain loop ``[np.mean(padded[i:i+21]) for i
    in range(n)]``, the seed's ``Pool.imap(np.mean, windows, chunksize=1000)``
    (on a shorter series, scaled linearly), ``ndpar.map_chunks(np.mean, x,
    windows=(21, 'edge'))`` with backend='processes' and 'threads', and
    ``ndpar.move_mean`` (native) for reference; every result checked against
    the plain loop's (exactly: the same np.mean on the same 21 values);
(b) the first seed's case: allocating an 8 GiB uint8 matrix in shared memory
    and filling row i with i+1: ``ndpar.shared_zeros`` + ``map_chunks`` (both
    backends), against ``multiprocessing.sharedctypes.RawArray`` +
    ``np.frombuffer`` (filled in one process, and by the seed's forked
    Processes), ``multiprocessing.shared_memory.SharedMemory`` (both fills) and
    private ``np.zeros``; allocation and allocation + fill timed apart; one
    8 GiB array alive at a time.

Checks the project's targets on this run's own measurements, prints the report
and writes the "shared" section of BENCHMARKS.md and bench/shared.png.

    python bench/bench_shared.py            # full size, as `make bench`
    python bench/bench_shared.py --quick    # 2e5 points, 256 MiB; writes nothing
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import multiprocessing
import multiprocessing.sharedctypes
import os
import time
from multiprocessing import shared_memory
from pathlib import Path
from typing import Callable

import numpy as np

import ndpar
from _common import (checked_runs, log, machine_info, md_kv, md_table, ncores, verdict, versions,
                     write_section)

CHART = Path(__file__).resolve().parent / "shared.png"
GIB, MIB = 2**30, 2**20
COLD = "†"
HALF = 10                    # the seed's `window` (half-width)
W = 2 * HALF + 1
MARGIN = int(1.5 * GIB)      # memory kept free beside one big array

# Targets
T_VS_LOOP = 1.8              # map_chunks(processes) vs the plain loop
T_VS_POOL = 3.5              # map_chunks(processes) vs the seed's Pool.imap
T_VS_RAW = 3.0               # shared_zeros + fill vs RawArray + fill


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2_000_000, help="points, windows case")
    p.add_argument("--pool-measured", type=int, default=200_000,
                   help="points the seed's Pool.imap runs on (scaled to --n)")
    p.add_argument("--loop-limit", type=float, default=60.0,
                   help="seconds the plain loop may take on --n; beyond, a part is timed")
    p.add_argument("--gib", type=float, default=8.0, help="GiB of the shared matrix")
    p.add_argument("--rows", type=int, default=16, help="rows of the matrix (<= 255)")
    p.add_argument("--repeats", type=int, default=2,
                   help="runs of each allocation case (best kept); most timed runs after "
                        "the first for the windows case")
    p.add_argument("--budget", type=float, default=8.0,
                   help="seconds one windows measurement may take before it stops repeating")
    p.add_argument("--quick", action="store_true",
                   help="2e5 points, 256 MiB, smoke test (implies --no-write)")
    p.add_argument("--no-write", action="store_true", help="print only")
    a = p.parse_args()
    if a.quick:
        a.n, a.pool_measured, a.gib, a.budget = 200_000, 20_000, 0.25, 1.0
        a.no_write = True
    a.rows = min(max(a.rows, 1), 255)
    a.pool_measured = min(a.pool_measured, a.n)
    a.repeats = max(1, a.repeats)
    return a


# --- timing -------------------------------------------------------------------------

class Unavailable(Exception):
    """ndpar's part is not built yet."""


def call(fn: Callable[[], object]):
    """fn(), with ndpar's "not built yet" / NotImplementedError as Unavailable."""
    try:
        return fn()
    except NotImplementedError as e:
        raise Unavailable(f"NotImplementedError: {e}") from None
    except (ValueError, RuntimeError, OSError) as e:
        if "not built yet" in str(e):
            raise Unavailable(str(e)) from None
        raise


def sec(x: float) -> str:
    digits = 2 - int(np.floor(np.log10(x))) if x > 0 else 3
    return f"{x:.{min(max(digits, 0), 7)}f}"


def times(r: float) -> str:
    return f"{r:,.0f}×" if r >= 100 else f"{r:.3g}×"


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def shm_free() -> int:
    try:
        st = os.statvfs("/dev/shm")
        return st.f_bavail * st.f_frsize
    except OSError:
        return 0


def thp_setting(name: str) -> str:
    try:
        with open(f"/sys/kernel/mm/transparent_hugepage/{name}") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


FORK = multiprocessing.get_context("fork")   # the seeds ran on Linux, where fork is the default


# --- (a) the seed's windows -----------------------------------------------------------------

def seed_parallel_rolling_mean(data, window, output):
    """The second seed's Pool version (its code, with range for xrange)."""
    def windows(data, window):
        padded = np.pad(data, window, mode='edge')
        for i in range(len(data)):
            yield padded[i:i + 2*window + 1]
    pool = FORK.Pool()
    results = pool.imap(np.mean, windows(data, window), chunksize=1000)
    for i, result in enumerate(results):
        output[i] = result
    pool.close()


def plain_loop(padded: np.ndarray, m: int) -> np.ndarray:
    """The plain loop over the first m windows of the padded series."""
    return np.array([np.mean(padded[i:i + W]) for i in range(m)])


class Timing:
    def __init__(self, seconds: float, runs: int, cold: bool, note: str = ""):
        self.seconds, self.runs, self.cold, self.note = seconds, runs, cold, note

    def fmt(self) -> str:
        return sec(self.seconds) + (COLD if self.cold else "")


def measure(fn, check, repeats: int, budget: float) -> Timing:
    first, runs = checked_runs(lambda: call(fn), check, repeats, budget)
    if runs:
        return Timing(min(runs), len(runs), False, f"best of {len(runs)} after a first run")
    return Timing(first, 1, True, "one run")


def run_windows(x: np.ndarray, args, nthr: int) -> dict:
    n, pm = x.size, args.pool_measured
    padded = np.pad(x, HALF, mode="edge")
    rows: dict = {}

    # The seed's Pool first: it forks, best before any thread pool exists.
    part = np.ascontiguousarray(x[:pm])
    pool_out = np.empty(pm)
    t0 = time.perf_counter()
    seed_parallel_rolling_mean(part, HALF, pool_out)
    t = time.perf_counter() - t0
    rows["pool"] = Timing(t * n / pm, 1, True,
                          f"one run on {pm:,} points ({t:.2f} s), × {n / pm:g}")
    log(f"  seed Pool.imap   {t:8.3f} s on {pm:,} -> {t * n / pm:8.2f} s on {n:,}")

    # The plain loop: on everything if it fits --loop-limit, else on a part.
    m0 = min(n, 20_000 if args.quick else 50_000)
    t0 = time.perf_counter()
    plain_loop(padded, m0)
    est = (time.perf_counter() - t0) * n / m0
    m = n if est <= args.loop_limit else max(m0, int(n * args.loop_limit / est / 2))
    t0 = time.perf_counter()
    ref = plain_loop(padded, m)
    t = time.perf_counter() - t0
    rows["loop"] = Timing(t * n / m, 1, True, "one run" if m == n else
                          f"one run on the first {m:,} windows ({t:.2f} s), × {n / m:g}")
    log(f"  plain loop       {t:8.3f} s on {m:,} -> {t * n / m:8.2f} s on {n:,}")

    # The seed's output matches the loop's away from its cut end (padded differently).
    good = min(pm - HALF, m)
    if not np.array_equal(pool_out[:good], ref[:good]):
        raise SystemExit("seed Pool.imap: differs from the plain loop")

    def check_exact(what):
        def check(r):
            r = np.asarray(r)
            if r.shape != (n,) or not np.array_equal(r[:m], ref):
                bad = "shape %s" % (r.shape,) if r.shape != (n,) else \
                    "at %d" % int(np.argmax(r[:m] != ref))
                raise SystemExit(f"{what}: differs from the plain loop ({bad})")
            if m < n:  # the rest against NumPy's own sliding-window mean
                rest = np.lib.stride_tricks.sliding_window_view(padded, W)[m:].mean(axis=1)
                if not np.allclose(r[m:], rest, rtol=1e-13, atol=0):
                    raise SystemExit(f"{what}: differs from the sliding-window mean")
        return check

    def check_close(r):
        got = np.asarray(r)[:m]
        if not np.allclose(got, ref, rtol=1e-9, atol=1e-9):
            raise SystemExit("ndpar.move_mean: differs from the plain loop")

    peers = [
        ("mc_proc", lambda: ndpar.map_chunks(np.mean, x, windows=(W, "edge"),
                                             backend="processes"), check_exact("processes")),
        ("mc_thr", lambda: ndpar.map_chunks(np.mean, x, windows=(W, "edge"),
                                            backend="threads"), check_exact("threads")),
        ("move_mean", lambda: ndpar.move_mean(x, W, mode="edge"), check_close),
    ]
    for key, fn, chk in peers:
        try:
            rows[key] = measure(fn, chk, args.repeats, args.budget)
            log(f"  {key:16} {rows[key].fmt()} s")
        except Unavailable as e:
            rows[key] = str(e)
            log(f"  {key:16} n/a: {e}")
    return {"n": n, "m": m, "pm": pm, "rows": rows, "nthr": nthr}


# --- (b) allocating and filling a shared matrix --------------------------------------------------

def fill_rows(m: np.ndarray, rows) -> None:
    """The seed's fill: row i gets i+1."""
    for i in rows:
        m[i, :] = i + 1


def seed_multi_run(m: np.ndarray, nproc: int) -> None:
    """The first seed's multi_run: the rows split into nproc near-equal runs, one
    forked Process per run writing its rows (the array reaches it by fork)."""
    r = m.shape[0]
    step = -(-r // nproc)
    procs = [FORK.Process(target=fill_rows, args=(m, range(lo, min(lo + step, r))),
                          daemon=True) for lo in range(0, r, step)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    if bad:
        raise SystemExit(f"seed multi_run: a Process exited with {bad}")


def chunk_fill(block: np.ndarray, index: slice) -> None:
    """map_chunks' func: block is rows index.start..index.stop-1 of the matrix."""
    for j, i in enumerate(range(index.start, index.stop)):
        block[j, :] = i + 1


def check_filled(m: np.ndarray, full: bool) -> None:
    r = m.shape[0]
    if full:
        for i in range(r):
            row = m[i]
            lo, hi = int(row.min()), int(row.max())
            if lo != i + 1 or hi != i + 1:
                raise SystemExit(f"fill: row {i} holds {lo}..{hi}, expected {i + 1}")
    else:
        want = np.arange(1, r + 1, dtype=np.uint8)[:, None]
        if not (m[:, ::4093] == want).all() or not (m[:, -1:] == want).all():
            raise SystemExit("fill: sampled rows differ")


class Case:
    """One way to get and fill the matrix: alloc() -> (array, handle);
    fill(array); release(array, handle)."""

    def __init__(self, key, label, alloc, fill, release=None, shm=False):
        self.key, self.label, self.alloc, self.fill = key, label, alloc, fill
        self.release, self.shm = release, shm


def cases(shape: tuple, nthr: int) -> list[Case]:
    r, c = shape
    n = r * c
    cpus = os.cpu_count()

    def raw_alloc():
        raw = multiprocessing.sharedctypes.RawArray(ctypes.c_uint8, n)
        return np.frombuffer(raw, dtype=np.uint8).reshape(shape), raw

    def shm_alloc():
        s = shared_memory.SharedMemory(create=True, size=n)
        return np.ndarray(shape, np.uint8, buffer=s.buf), s

    def shm_release(a, s):
        s.close()
        s.unlink()

    def nd_alloc():
        return ndpar.shared_zeros(shape, np.uint8), None

    def mc(backend):
        def fill(a):
            ndpar.map_chunks(chunk_fill, a, chunks=1, backend=backend)
        return fill

    single = lambda a: fill_rows(a, range(r))  # noqa: E731
    seedfill = lambda a: seed_multi_run(a, cpus)  # noqa: E731
    return [
        Case("nd_proc", "ndpar.shared_zeros + map_chunks(processes), one row per chunk",
             nd_alloc, mc("processes")),
        Case("nd_thr", "ndpar.shared_zeros + map_chunks(threads), one row per chunk",
             nd_alloc, mc("threads")),
        Case("nd_single", "ndpar.shared_zeros + fill in one process", nd_alloc, single),
        Case("raw_single", "RawArray + np.frombuffer + fill in one process", raw_alloc, single),
        Case("raw_seed", f"RawArray + np.frombuffer + the seed's multi_run ({cpus} Processes)",
             raw_alloc, seedfill),
        Case("shm_single", "SharedMemory(create=True) + fill in one process", shm_alloc, single,
             shm_release, shm=True),
        Case("shm_seed", f"SharedMemory(create=True) + multi_run ({cpus} Processes)",
             shm_alloc, seedfill, shm_release, shm=True),
        Case("np_single", "np.zeros (private memory, not shared) + fill in one process",
             lambda: (np.zeros(shape, np.uint8), None), single),
    ]


def run_alloc(args, nthr: int) -> dict:
    size = int(args.gib * GIB)
    note = ""
    avail = mem_available()
    if not args.quick and avail < size + MARGIN:
        size = min(size, 4 * GIB)
        note = (f"Only {avail / GIB:.1f} GiB of memory were available at the start, too "
                f"little for {args.gib:g} GiB plus {MARGIN / GIB:g} GiB to spare: the matrix "
                f"is {size / GIB:g} GiB.")
        log("  " + note)
    r = args.rows
    c = size // r // 4096 * 4096
    shape = (r, c)
    shm_ok = shm_free() >= r * c
    if not shm_ok:
        note += (f" /dev/shm has less than {r * c / GIB:.1f} GiB free: RawArray's arena is a "
                 "file in the temporary directory instead, and SharedMemory is skipped.")
    res: dict = {"shape": shape, "bytes": r * c, "note": note, "skipped": {},
                 "shm_free": shm_free(), "rows": {}}
    for case in cases(shape, nthr):
        if case.shm and not shm_ok:
            res["skipped"][case.key] = (f"/dev/shm has {res['shm_free'] / GIB:.1f} GiB free, "
                                        f"less than {r * c / GIB:.1f} GiB")
            continue
        runs = []
        for rep in range(args.repeats):
            gc.collect()
            if mem_available() < r * c + MARGIN:
                res["skipped"][case.key] = (f"only {mem_available() / GIB:.1f} GiB available "
                                            "before the run")
                break
            try:
                t0 = time.perf_counter()
                a, h = call(case.alloc)
                t_alloc = time.perf_counter() - t0
                # ndpar's pages are already touched: a sample of them must read zero
                if case.key.startswith("nd_") and a[:, ::4096].any():
                    raise SystemExit(f"{case.label}: the new array is not all zeros")
                t0 = time.perf_counter()
                call(lambda: case.fill(a))
                t_fill = time.perf_counter() - t0
            except Unavailable as e:
                res["skipped"][case.key] = str(e)
                break
            check_filled(a, full=(rep == 0))
            runs.append((t_alloc, t_alloc + t_fill))
            if case.release:
                case.release(a, h)
            del a, h
            gc.collect()
            log(f"  {case.key:10} run {rep + 1}: alloc {t_alloc:7.3f} s, "
                f"fill {t_fill:7.3f} s (then {mem_available() / GIB:.1f} GiB "
                "available)")
        if runs:
            best = min(runs, key=lambda t: t[1])
            res["rows"][case.key] = {"label": case.label, "alloc": best[0], "total": best[1],
                                     "runs": len(runs)}
    return res


# --- report -----------------------------------------------------------------------------------------

def window_table(win: dict) -> str:
    nthr = win["nthr"]
    labels = {
        "loop": "plain loop `[np.mean(padded[i:i+21]) for i in range(n)]` (1 process)",
        "pool": f"seed: `Pool.imap(np.mean, windows, chunksize=1000)` ({os.cpu_count()} "
                "processes)",
        "mc_proc": f"`ndpar.map_chunks(np.mean, x, windows=(21, 'edge'), "
                   f"backend='processes')` ({nthr} processes)",
        "mc_thr": f"`ndpar.map_chunks(..., backend='threads')` ({nthr} threads)",
        "move_mean": f"reference: `ndpar.move_mean(x, 21, mode='edge')` (native, {nthr} threads)",
    }
    rows = win["rows"]
    loop, pool = rows["loop"].seconds, rows["pool"].seconds
    body = []
    for key, lab in labels.items():
        t = rows.get(key)
        if isinstance(t, Timing):
            body.append((lab, t.fmt(), times(loop / t.seconds), times(pool / t.seconds),
                         t.note))
        else:
            body.append((lab, "n/a", "—", "—", f"not measured: {t}"))
    return md_table(["approach", "time (s)", "vs plain loop", "vs seed's Pool", "timing"],
                    body, "lrrrl")


def alloc_table(al: dict) -> str:
    rows = al["rows"]
    raw = rows.get("raw_single")
    body = []
    for key, r in rows.items():
        body.append((r["label"], sec(r["alloc"]), sec(r["total"] - r["alloc"]),
                     sec(r["total"]), f"{al['bytes'] / r['total'] / GIB:.2f}",
                     times(raw["total"] / r["total"]) if raw else "—", r["runs"]))
    for key, why in al["skipped"].items():
        body.append((key, "n/a", "n/a", "n/a", "—", "—", f"skipped: {why}"))
    return md_table(["approach", "allocation (s)", "fill (s)", "allocation + fill (s)",
                     "GiB/s (alloc + fill)", "vs RawArray + fill in one process", "runs"],
                    body, "lrrrrrl")


def targets(win: dict, al: dict) -> list[tuple[str, str, bool]]:
    out = []
    rows = win["rows"]
    mc = rows.get("mc_proc")
    for base, goal, what in (("loop", T_VS_LOOP, "the plain loop"),
                             ("pool", T_VS_POOL, "the seed's Pool.imap")):
        name = (f"map_chunks(np.mean, windows=(21, 'edge'), processes) ≥ {goal:g}× {what} "
                f"({win['n']:,} points)")
        if isinstance(mc, Timing):
            r = rows[base].seconds / mc.seconds
            out.append((name, f"{sec(rows[base].seconds)} / {sec(mc.seconds)} s = {times(r)}",
                        r >= goal))
        else:
            out.append((name, f"not measured: {mc}", False))
    ar = al["rows"]
    gib = f"{al['bytes'] / GIB:g} GiB"
    for base, what in (("raw_single", "RawArray + fill in one process"),
                       ("raw_seed", "RawArray + the seed's multi_run Processes (for information)")):
        name = f"shared_zeros + map_chunks(processes) fill ≥ {T_VS_RAW:g}× {what} ({gib})"
        if "nd_proc" in ar and base in ar:
            b, nd = ar[base]["total"], ar["nd_proc"]["total"]
            thr = ar.get("nd_thr")
            extra = (f" (threads: {sec(thr['total'])} s, {times(b / thr['total'])})"
                     if thr else "")
            out.append((name, f"{sec(b)} / {sec(nd)} s = {times(b / nd)}{extra}",
                        b / nd >= T_VS_RAW))
        else:
            why = al["skipped"].get("nd_proc") or al["skipped"].get(base) or "not measured"
            out.append((name, f"not measured: {why}", False))
    return out


def report(args, mach, vers, info, win, al, tg, load, wall) -> str:
    r, c = al["shape"]
    return "\n\n".join([
        "## Shared memory and worker processes",
        "The seeds' multiprocessing code against `ndpar.map_chunks` and "
        "`ndpar.shared_zeros`, all in one process. (a) The second seed's per-window Python "
        "function, which holds the GIL; (b) the first seed's big shared uint8 matrix, "
        "allocated and filled row by row. The seeds' `Pool` and `Process` use the fork "
        "start method, as they did on Linux.",
        "### Machine\n\n" + md_kv({
            **mach,
            "transparent huge pages (anon / shmem)":
                f"{thp_setting('enabled')} / {thp_setting('shmem_enabled')}",
            "/dev/shm free at the start": f"{al['shm_free'] / GIB:.1f} GiB",
            "load average (1 min) at start / end": f"{load[0]:.2f} / {load[1]:.2f}",
            "benchmark wall time": f"{wall:.0f} s"}),
        "### Versions\n\n" + md_kv(vers) + "\n\n`ndpar.info()`: `" + repr(info) + "`",
        f"### (a) A Python function per window: centered mean, {win['n']:,} points, "
        "window 21, ends repeated\n\n"
        "x is the seed's `rng.random(n).cumsum()`; `padded = np.pad(x, 10, mode='edge')`. "
        "The plain loop's result (its list made an array) is the reference: every other "
        "result equals it exactly (the same `np.mean` on the same 21 values), "
        "`ndpar.move_mean` (another algorithm, shown for scale) to 1e-9. The seed's Pool "
        f"version ran once on the first {win['pm']:,} points and is scaled linearly to "
        f"{win['n']:,} (its start-up, counted in its time, is scaled too; its output equals "
        "the loop's away from the cut end). A call slower than half the "
        f"{args.budget:g} s budget is timed once ({COLD}). map_chunks' processes are forked "
        "on each call and their fork is in the time; threads hold the GIL in `np.mean` on "
        "21 points, so they cannot gain.\n\n" + window_table(win),
        f"### (b) Allocating and filling a {al['bytes'] / GIB:g} GiB shared uint8 matrix\n\n"
        f"Shape ({r}, {c:,}) (rows of {c / MIB:,.0f} MiB; the seed's are 512 MiB); row i is "
        "set to "
        "i+1 (`m[i, :] = i + 1`). Allocation: `ndpar.shared_zeros` (a memfd whose pages "
        "the pool's threads touch in parallel), `RawArray(ctypes.c_uint8, n)` + "
        "`np.frombuffer` (a file in /dev/shm, unlinked, zeroed by one `memset`), "
        "`SharedMemory(create=True, size=n)` (/dev/shm; its pages are faulted in by the "
        "fill; closed and unlinked after each run) and private `np.zeros` (lazy; not shared, "
        "for reference; NumPy asks for transparent huge pages on it, which shared memory "
        "gets only where the shmem setting above allows). Fills: `map_chunks(func, m, chunks=1, backend=...)` with func "
        "writing its rows and returning None; one process; the seed's `multi_run` (one "
        "forked `Process` per CPU, each writing its run of rows). One big array exists at a "
        f"time (freed and collected between runs); of {args.repeats} runs the one with "
        "the best allocation + fill is shown; every value of the first run's matrix is "
        "checked (a sample in later runs). "
        + (al["note"] + " " if al["note"] else "") + "\n\n" + alloc_table(al)
        + "\n\n![time per approach](bench/shared.png)",
        "### Targets\n\n" + md_table(["target", "measured", "status"],
                                     [(t, m, f"**{verdict(ok)}**") for t, m, ok in tg], "lll"),
        "### Reproduce\n\n`python bench/bench_shared.py` (rewrites this section and "
        "`bench/shared.png`; needs about 10 GiB of free memory); `python bench/bench_shared.py "
        "--quick` is a smoke test on 2e5 points and 256 MiB that writes nothing.",
    ]) + "\n"


def chart(win: dict, al: dict, mach: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 5), gridspec_kw={"width_ratios": [2, 3]}, dpi=120)
    names = {"loop": "plain loop", "pool": "seed Pool.imap\n(scaled)",
             "mc_proc": "map_chunks\nprocesses", "mc_thr": "map_chunks\nthreads",
             "move_mean": "move_mean\n(native)"}
    ks = [k for k in names if isinstance(win["rows"].get(k), Timing)]
    vals = [win["rows"][k].seconds for k in ks]
    bars = ax1.bar([names[k] for k in ks], vals, color=[f"C{i}" for i in range(len(ks))])
    ax1.bar_label(bars, labels=[sec(v) for v in vals], fontsize=7)
    ax1.set_yscale("log")
    ax1.set_ylabel("seconds (log scale)")
    ax1.set_title(f"(a) mean of every 21-point window, {win['n']:,} points", fontsize=10)
    rows = al["rows"]
    short = {"nd_proc": "ndpar +\nmc processes", "nd_thr": "ndpar +\nmc threads",
             "nd_single": "ndpar +\n1 process", "raw_single": "RawArray +\n1 process",
             "raw_seed": "RawArray +\nseed Processes", "shm_single": "SharedMemory +\n1 process",
             "shm_seed": "SharedMemory +\nProcesses", "np_single": "np.zeros +\n1 process"}
    ks = [k for k in short if k in rows]
    al_s = [rows[k]["alloc"] for k in ks]
    fill = [max(rows[k]["total"] - rows[k]["alloc"], 0.0) for k in ks]
    xs = range(len(ks))
    ax2.bar(xs, al_s, label="allocation")
    b = ax2.bar(xs, fill, bottom=al_s, label="fill")
    ax2.bar_label(b, labels=[sec(rows[k]["total"]) for k in ks], fontsize=7)
    ax2.set_xticks(list(xs), [short[k] for k in ks], fontsize=6.5)
    ax2.set_ylabel("seconds")
    ax2.set_title(f"(b) allocate + fill {al['bytes'] / GIB:g} GiB uint8", fontsize=10)
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    fig.suptitle(f"Shared memory and worker processes — {mach['CPU']}, "
                 f"{mach['cores (affinity)']} cores", fontsize=11)
    fig.tight_layout()
    fig.savefig(CHART)
    plt.close(fig)


# --- main -------------------------------------------------------------------------------------------

def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    load0 = os.getloadavg()[0]
    nthr = ncores()
    mach = machine_info()
    x = np.random.default_rng(2024).random(args.n).cumsum()
    log(f"(a) windows: {args.n:,} points")
    win = run_windows(x, args, nthr)
    del x
    gc.collect()
    log(f"(b) shared matrix: {args.gib:g} GiB")
    al = run_alloc(args, nthr)
    vers = versions(["numpy", "ndpar"])
    tg = targets(win, al)
    wall = time.perf_counter() - start
    text = report(args, mach, vers, ndpar.info(), win, al, tg,
                  (load0, os.getloadavg()[0]), wall)
    print(text)
    for t, m, ok in tg:
        log(f"{verdict(ok):6} {t}: {m}")
    if not args.no_write:
        write_section("shared", text)
        chart(win, al, mach)
        log(f"wrote BENCHMARKS.md and {CHART}")
    log(f"done in {wall:.0f} s")


if __name__ == "__main__":
    main()
