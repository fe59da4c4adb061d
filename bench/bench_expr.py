#!/usr/bin/env python3
"""Expression benchmark: ndpar.evaluate against NumPy, numexpr and Numba.

In one process and on the same arrays (a, b, c uniform in [0, 1), n float64
elements each, and a as float32 for the float32 case):

* ``a*2+c``, ``((.25*a + .75)*a - 1.5)*a - 2``,
  ``where(a > 0.5, exp(a), log1p(c))``, ``exp(a)`` in float32 and ``sum(a*b)``;
* each with NumPy on one thread (the natural code with temporaries, and the
  same with ``out=`` where it applies), numexpr (all cores), Numba
  ``@njit(parallel=True)`` with ``prange`` (compiled before timing) and
  ``ndpar.evaluate`` (all cores and 1 thread, with ``out=``); for ``sum(a*b)``
  also ``np.dot(a, b)`` (OpenBLAS, its default threads);
* STREAM triad (``ndpar.measure_bandwidth``) once in every timing round, and
  each expression's effective bandwidth (bytes of inputs read + output
  written) as a share of the best;
* the memory ndpar uses beyond the inputs and the output (peak RSS growth and
  tracemalloc), against NumPy's.

Outputs are preallocated and pre-touched; each timing is the best of several
runs, taken in turns with the other peers' (see run_exprs), after a warm-up
whose result is checked against NumPy. Checks the
project's targets on this run's own measurements, prints the report and
writes the "Expressions" section of BENCHMARKS.md and bench/expr.png.

    python bench/bench_expr.py            # full size (1e8), as `make bench`
    python bench/bench_expr.py --quick    # 1e6 elements, smoke test
"""
from __future__ import annotations

import argparse
import ctypes
import os
import time
from pathlib import Path

import numba
import numexpr
import numpy as np

import ndpar
from _common import (best_time, grouped_bars, keep_freed_memory, log, machine_info,
                     md_kv, md_table, ncores, verdict, versions, write_section)
from bench_core import rss_growth, touched, traced_peak

CHART = Path(__file__).resolve().parent / "expr.png"
MIB = 2**20

# Targets
T_TRIAD = 0.85        # algebraic expressions: effective GB/s / STREAM triad
T_WHERE = 5.0         # where/exp/log1p: ndpar versus NumPy and versus numexpr
T_MEM_SLACK = 64 * MIB  # peak memory <= inputs + output + this
SLOW_CALL = 1.0       # seconds: a call slower than this is repeated fewer times
MIN_REPEATS = 3


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000_000, help="elements per array")
    p.add_argument("--repeats", type=int, default=5,
                   help=f"timed runs, best kept ({MIN_REPEATS} for calls over {SLOW_CALL:g} s)")
    p.add_argument("--pause", type=float, default=0.15,
                   help="seconds of rest before each timed call (0.01 with --quick)")
    p.add_argument("--quick", action="store_true", help="n = 1e6, smoke test")
    p.add_argument("--no-write", action="store_true", help="print only")
    a = p.parse_args()
    if a.quick:
        a.n = 1_000_000
        a.pause = min(a.pause, 0.01)
    a.repeats = max(MIN_REPEATS, a.repeats)
    return a


# --- the expressions -------------------------------------------------------------

class Expr:
    """One benchmarked expression: its text, its variables, its output and what
    it moves through memory."""

    def __init__(self, key, ex, names, dtype, out, algebraic, rtol, atol):
        self.key, self.ex, self.names, self.dtype = key, ex, names, np.dtype(dtype)
        self.has_out = out          # output is an array (not a reduction)
        self.algebraic = algebraic  # bandwidth-bound: checked against triad
        self.rtol, self.atol = rtol, atol
        self.label = ex + (" (float32)" if self.dtype == np.float32 else "")

    def bytes_per_elem(self) -> int:
        return self.dtype.itemsize * (len(self.names) + (1 if self.has_out else 0))


EXPRS = [
    Expr("axpy", "a*2+c", ("a", "c"), np.float64, True, True, 1e-12, 1e-12),
    Expr("poly", "((.25*a + .75)*a - 1.5)*a - 2", ("a",), np.float64, True, True,
         1e-12, 1e-12),
    Expr("where", "where(a > 0.5, exp(a), log1p(c))", ("a", "c"), np.float64, True,
         False, 1e-12, 1e-12),
    Expr("exp32", "exp(a)", ("a",), np.float32, True, False, 1e-5, 1e-6),
    Expr("dot", "sum(a*b)", ("a", "b"), np.float64, False, False, 1e-9, 0.0),
]


def numpy_natural(key: str, v: dict):
    """The natural NumPy code, temporaries and all."""
    a = v["a"]
    if key == "axpy":
        c = v["c"]
        return lambda: a * 2 + c
    if key == "poly":
        return lambda: ((.25 * a + .75) * a - 1.5) * a - 2
    if key == "where":
        c = v["c"]
        return lambda: np.where(a > 0.5, np.exp(a), np.log1p(c))
    if key == "exp32":
        return lambda: np.exp(a)
    b = v["b"]
    return lambda: np.sum(a * b)


def numpy_out(key: str, v: dict, o: np.ndarray):
    """The same with out=: no temporary the size of an input (the where case
    keeps its boolean mask; sum(a*b) uses o as scratch for the products)."""
    a = v["a"]
    if key == "axpy":
        c = v["c"]

        def f():
            np.multiply(a, 2, out=o)
            return np.add(o, c, out=o)
    elif key == "poly":
        def f():
            np.multiply(a, .25, out=o)
            np.add(o, .75, out=o)
            np.multiply(o, a, out=o)
            np.subtract(o, 1.5, out=o)
            np.multiply(o, a, out=o)
            return np.subtract(o, 2, out=o)
    elif key == "where":
        c = v["c"]

        def f():
            np.log1p(c, out=o)
            return np.exp(a, out=o, where=a > 0.5)
    elif key == "exp32":
        def f():
            return np.exp(a, out=o)
    else:
        b = v["b"]

        def f():
            return np.multiply(a, b, out=o).sum()
    return f


# Numba kernels: the plain loop over prange, one per expression.

@numba.njit(parallel=True)
def nb_axpy(a, c, out):
    for i in numba.prange(a.size):
        out[i] = a[i] * 2 + c[i]


@numba.njit(parallel=True)
def nb_poly(a, out):
    for i in numba.prange(a.size):
        x = a[i]
        out[i] = ((.25 * x + .75) * x - 1.5) * x - 2


@numba.njit(parallel=True)
def nb_where(a, c, out):
    for i in numba.prange(a.size):
        out[i] = np.exp(a[i]) if a[i] > 0.5 else np.log1p(c[i])


@numba.njit(parallel=True)
def nb_exp(a, out):
    for i in numba.prange(a.size):
        out[i] = np.exp(a[i])


@numba.njit(parallel=True)
def nb_dot(a, b):
    s = 0.0
    for i in numba.prange(a.size):
        s += a[i] * b[i]
    return s


NUMBA = {"axpy": nb_axpy, "poly": nb_poly, "where": nb_where, "exp32": nb_exp,
         "dot": nb_dot}


def numba_fn(e: Expr, v: dict, o: np.ndarray):
    kern, args = NUMBA[e.key], tuple(v[n] for n in e.names)
    small = tuple(x[:1000].copy() for x in args)
    if e.has_out:
        kern(*small, np.empty(1000, e.dtype))  # compile for these types now

        def f():
            kern(*args, o)
            return o
    else:
        kern(*small)

        def f():
            return kern(*args)
    return f


def peers(e: Expr, v: dict, o: np.ndarray, nthr: int) -> list[tuple[str, str, object, int]]:
    """(key, label, fn() -> result, ndpar threads) for each peer."""
    out = o if e.has_out else None
    ex = e.ex

    def ne():
        return numexpr.evaluate(ex, local_dict=v, out=out)

    def nd():
        return ndpar.evaluate(ex, local_dict=v, out=out)

    rows = [("numpy", "NumPy (1 thread, temporaries)", numpy_natural(e.key, v), nthr),
            ("numpy_out", "NumPy (1 thread, out=)", numpy_out(e.key, v, o), nthr)]
    if e.key == "dot":
        a, b = v["a"], v["b"]
        rows.append(("npdot", f"np.dot (OpenBLAS, {blas_threads() or '?'} threads)",
                     lambda: np.dot(a, b), nthr))
    rows += [("numexpr", f"numexpr ({nthr} threads)", ne, nthr),
             ("numba", f"Numba parallel ({nthr} threads)", numba_fn(e, v, o), nthr),
             ("ndpar", f"ndpar.evaluate ({nthr} threads)", nd, nthr),
             ("ndpar1", "ndpar.evaluate (1 thread)", nd, 1)]
    return rows


# --- inputs, checks, timing ----------------------------------------------------

def make_inputs(n: int) -> dict:
    rng = np.random.default_rng(2024)
    a, b, c = (rng.random(n) for _ in range(3))
    return {"a": a, "b": b, "c": c, "a32": a.astype(np.float32)}


def variables(e: Expr, arrays: dict) -> dict:
    if e.dtype == np.float32:
        return {"a": arrays["a32"]}
    return {k: arrays[k] for k in e.names}


def reference(e: Expr, v: dict, step: int):
    """NumPy's result on every step-th element (the whole sum for sum(a*b))."""
    if e.key == "dot":
        return float(np.sum(v["a"] * v["b"]))
    sub = {k: x[::step] for k, x in v.items()}
    return numpy_natural(e.key, sub)()


def check(e: Expr, res, ref, step: int, label: str) -> None:
    got = float(res) if e.key == "dot" else np.asarray(res)[::step]
    if not np.allclose(got, ref, rtol=e.rtol, atol=e.atol):
        raise SystemExit(f"{label}: {e.label}: result differs from NumPy")


def run_exprs(arrays: dict, outs: dict, nthr: int, repeats: int, pause: float,
              triad_bytes: int) -> tuple[list[dict], list[dict]]:
    """Every (expression, peer) pair: a warm-up call, timed and its result checked
    against NumPy's; then ``repeats`` rounds that time each pair once in turn
    (pairs whose warm-up took over SLOW_CALL seconds drop out after MIN_REPEATS
    rounds), the best time kept. Taking turns spreads each pair's runs over the
    whole measurement, so that a burst of other work on the machine does not hit
    one peer's runs only. Each call follows a pause of ``pause`` seconds, so that the
    previous call's threads (OpenBLAS's spin after np.dot) are idle. Each round
    also measures STREAM triad (``ndpar.measure_bandwidth``, all threads), so
    that the reference bandwidth is sampled under the same conditions."""
    n = arrays["a"].size
    step = max(1, n // 200_000)
    cases = []
    for e in EXPRS:
        v, o = variables(e, arrays), outs[e.dtype.type]
        ref = reference(e, v, step)
        for key, label, fn, threads in peers(e, v, o, nthr):
            o.fill(np.nan)  # a stale result from the previous peer must not pass
            time.sleep(pause)
            with ndpar.threads(threads):
                t0 = time.perf_counter()
                res = fn()
                first = time.perf_counter() - t0
            check(e, res, ref, step, label)
            del res
            cases.append(dict(expr=e, key=key, label=label, fn=fn, threads=threads,
                              first=first, times=[]))
            log(f"  warm-up {e.label:40} {label:34} {first * 1e3:9.2f} ms")
    triads = []
    for r in range(repeats):
        time.sleep(pause)
        triads.append(ndpar.measure_bandwidth(nbytes=triad_bytes, reps=3))
        for c in cases:
            if r >= MIN_REPEATS and c["first"] > SLOW_CALL:
                continue
            time.sleep(pause)
            with ndpar.threads(c["threads"]):
                c["times"].append(best_time(c["fn"], 1, warmup=0))
        log(f"  round {r + 1}/{repeats} done (triad {triads[-1]['triad_gbs']:.1f} GB/s)")
    rows = []
    for c in cases:
        e, t = c["expr"], min(c["times"])
        gbs = e.bytes_per_elem() * n / t / 1e9
        rows.append(dict(expr=e.key, key=c["key"], label=c["label"], seconds=t, gbs=gbs,
                         runs=len(c["times"]), median=float(np.median(c["times"]))))
        log(f"  {e.label:40} {c['label']:34} {t * 1e3:9.2f} ms {gbs:7.2f} GB/s "
            f"(median {rows[-1]['median'] * 1e3:.2f} ms)")
    return rows, triads


# --- bandwidth, memory, BLAS -------------------------------------------------------

def blas_threads() -> int | None:
    """OpenBLAS's thread count (NumPy's bundled library), None if not found."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return None
    for lib in sorted(libs):
        try:
            dll = ctypes.CDLL(lib)
        except OSError:
            continue
        for sym in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                    "openblas_get_num_threads"):
            fn = getattr(dll, sym, None)
            if fn is not None:
                fn.restype = ctypes.c_int
                return int(fn())
    return None


def memory(arrays: dict, outs: dict, nthr: int) -> list[dict]:
    """Memory beyond the inputs and the (preallocated) output for each expression:
    ndpar with out=, ndpar without out= (it allocates the output) and NumPy's
    natural code. Run before keep_freed_memory, so that any allocation shows in
    RSS."""
    res = []
    for e in EXPRS:
        v, o = variables(e, arrays), outs[e.dtype.type]
        ex = e.ex
        calls = {"ndpar": lambda: ndpar.evaluate(ex, local_dict=v,
                                                 out=o if e.has_out else None)}
        if e.has_out:
            calls["ndpar_alloc"] = lambda: ndpar.evaluate(ex, local_dict=v)
        calls["numpy"] = numpy_natural(e.key, v)
        row = dict(expr=e.key, inputs=sum(x.nbytes for x in v.values()),
                   output=o.nbytes if e.has_out else np.dtype(np.float64).itemsize)
        with ndpar.threads(nthr):
            for name, fn in calls.items():
                row[name] = (traced_peak(fn), rss_growth(fn))
        res.append(row)
        log(f"  {e.label:40} " + "  ".join(
            f"{k} {fmt_mb(max(x for x in row[k] if x is not None))}"
            for k in calls))
    return res


class OtherWork:
    """CPU time that other processes used while this one ran, from /proc/stat
    (all CPUs' busy time) less this process's own (os.times)."""

    def __init__(self) -> None:
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy(), self._own()

    @staticmethod
    def _busy() -> float | None:
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        # user nice system idle iowait irq softirq steal: busy = all but idle, iowait
        return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system

    def cores(self) -> float | None:
        """Average number of cores the others kept busy since construction."""
        busy = self._busy()
        if busy is None or self.busy0 is None:
            return None
        wall = time.perf_counter() - self.t0
        return max(0.0, (busy - self.busy0) - (self._own() - self.own0)) / wall


def extra(m: tuple) -> int:
    return max(x for x in m if x is not None)


# --- targets and report ------------------------------------------------------------

def ms(seconds: float) -> str:
    """Milliseconds to three significant figures."""
    return f"{seconds * 1e3:.3g}"


def fmt_mb(b: int | None) -> str:
    return "n/a" if b is None else f"{b / MIB:,.1f} MiB"


def lookup(rows: list[dict], expr: str) -> dict:
    return {r["key"]: r for r in rows if r["expr"] == expr}


def by_key(key: str) -> Expr:
    return next(e for e in EXPRS if e.key == key)


def targets(rows, bw: list[dict], mem) -> list[tuple[str, str, bool]]:
    """Each target judged on best times (and the best triad); the same ratio on
    medians is shown beside it, to tell a quiet moment from the usual."""
    tri = max(b["triad_gbs"] for b in bw)
    tri_med = float(np.median([b["triad_gbs"] for b in bw]))
    out = []
    for e in EXPRS:
        if e.algebraic:
            nd = lookup(rows, e.key)["ndpar"]
            frac = nd["gbs"] / tri
            gbs_med = nd["gbs"] * nd["seconds"] / nd["median"]  # GB/s of the median time
            out.append((f"`{e.ex}` ≥ {T_TRIAD:.0%} of STREAM triad",
                        f"{nd['gbs']:.1f} / {tri:.1f} GB/s = {frac:.0%} "
                        f"(medians: {gbs_med:.1f} / {tri_med:.1f} = {gbs_med / tri_med:.0%})",
                        frac >= T_TRIAD))
    w = lookup(rows, "where")
    nd = w["ndpar"]
    np_best = min((w["numpy"], w["numpy_out"]), key=lambda r: r["seconds"])
    for name, r in (("NumPy (the faster of its two forms)", np_best),
                    ("numexpr", w["numexpr"])):
        t = r["seconds"]
        out.append((f"`{by_key('where').ex}` ≥ {T_WHERE:g}× {name}",
                    f"{ms(t)} / {ms(nd['seconds'])} ms = {t / nd['seconds']:.2f}× "
                    f"(medians: {r['median'] / nd['median']:.2f}×)",
                    t / nd["seconds"] >= T_WHERE))
    d = lookup(rows, "dot")
    nd, dot = d["ndpar"], d["npdot"]
    out.append(("`sum(a*b)` at least as fast as `np.dot(a, b)`",
                f"{ms(nd['seconds'])} ms vs {ms(dot['seconds'])} ms "
                f"({dot['seconds'] / nd['seconds']:.2f}×; medians: {ms(nd['median'])} vs "
                f"{ms(dot['median'])} ms)", nd["seconds"] <= dot["seconds"]))
    for m in mem:
        e = by_key(m["expr"])
        x_out = extra(m["ndpar"])
        ok = x_out <= T_MEM_SLACK
        got = f"{fmt_mb(x_out)} over inputs + output"
        if "ndpar_alloc" in m:
            # without out= the output itself is part of what the call adds
            x_alloc = extra(m["ndpar_alloc"]) - m["output"]
            ok = ok and x_alloc <= T_MEM_SLACK
            got += f" with out=, {fmt_mb(max(x_alloc, 0))} without"
        out.append((f"`{e.label}` peak memory ≤ inputs + output + "
                    f"{T_MEM_SLACK // MIB} MiB", got, ok))
    return out


def results_table(rows: list[dict], tri: float) -> str:
    body = []
    for r in rows:
        e = by_key(r["expr"])
        base = lookup(rows, r["expr"])["numpy"]["seconds"]
        body.append((f"`{e.label}`", r["label"], f"{r['seconds'] * 1e3:.1f}",
                     f"{r['median'] * 1e3:.1f}", r["runs"],
                     f"{r['gbs']:.1f}", f"{r['gbs'] / tri:.0%}",
                     f"{base / r['seconds']:.2f}×"))
    return md_table(["expression", "peer", "best (ms)", "median (ms)", "runs", "GB/s",
                     "% of triad", "vs NumPy (temporaries)"], body, "llrrrrrr")


def bytes_note() -> str:
    parts = [f"`{e.label}` {e.bytes_per_elem()} B" for e in EXPRS]
    return ("GB/s is effective bandwidth: bytes of inputs read + output written per "
            "element (" + ", ".join(parts) + "), whatever the peer really moves "
            "(NumPy's temporaries move more).")


def memory_table(mem: list[dict]) -> str:
    rows = []
    for m in mem:
        e = by_key(m["expr"])
        a = m.get("ndpar_alloc")
        rows.append((f"`{e.label}`", fmt_mb(m["inputs"]),
                     fmt_mb(m["output"]) if e.has_out else "scalar",
                     fmt_mb(m["ndpar"][0]), fmt_mb(m["ndpar"][1]),
                     fmt_mb(a[0]) if a else "—", fmt_mb(a[1]) if a else "—",
                     fmt_mb(m["numpy"][0]), fmt_mb(m["numpy"][1])))
    head = ("Memory a call adds beyond the inputs and the preallocated output: peak "
            "tracemalloc-traced bytes (NumPy reports its buffers there) / peak RSS growth "
            "(VmHWM after resetting it through /proc/self/clear_refs; catches any "
            "allocation). Without out=, what ndpar adds includes the output it "
            "allocates. Measured before the timings, with glibc's default allocator "
            "settings: an allocation over 32 MiB is always a fresh mapping and shows in RSS "
            "(smaller ones may reuse pages already counted, as at --quick sizes).\n\n")
    return head + md_table(
        ["expression", "inputs", "output", "ndpar out= traced", "ndpar out= RSS",
         "ndpar no out= traced", "ndpar no out= RSS", "NumPy (temporaries) traced",
         "NumPy (temporaries) RSS"], rows, "lrrrrrrrr")


def bandwidth_table(bw: list[dict], tri: float) -> str:
    rows = [(f"round {k + 1}", f"{b['triad_gbs']:.1f}", f"{b['copy_gbs']:.1f}")
            for k, b in enumerate(bw)]
    rows.append(("**best**", f"**{tri:.1f}**", f"{max(b['copy_gbs'] for b in bw):.1f}"))
    rows.append(("median", f"{np.median([b['triad_gbs'] for b in bw]):.1f}",
                 f"{np.median([b['copy_gbs'] for b in bw]):.1f}"))
    note = (f"`ndpar.measure_bandwidth(nbytes={bw[0]['nbytes']}, reps=3)` "
            f"({bw[0]['nthreads']} threads, arrays of {bw[0]['nbytes'] / MIB:,.0f} MiB), once "
            "in every timing round; triad counts 24 B/element, copy 16. The best triad is "
            "the reference for the % of triad figures, as the best time is for the "
            "expressions.")
    return md_table(["STREAM", "triad GB/s", "copy GB/s"], rows, "lrr") + "\n\n" + note


def targets_table(tg) -> str:
    return md_table(["target", "measured", "status"],
                    [(t, m, f"**{verdict(ok)}**") for t, m, ok in tg], "lll")


def report(args, mach, vers, info, bw, tri, rows, mem, tg, loads, others) -> str:
    nthr = mach["cores (affinity)"]
    load = ", ".join(f"{k}: {' / '.join(f'{x:.2f}' for x in v)}" for k, v in loads.items())
    busy = ("unknown" if others is None else
            f"{others:.2f} of {nthr} cores on average during the run")
    return "\n\n".join([
        "## Expressions",
        f"`ndpar.evaluate` against NumPy (one thread), numexpr and Numba "
        f"(`@njit(parallel=True)`, `prange`; {nthr} threads) on n = {args.n:,} elements: "
        "a, b, c uniform in [0, 1) as float64, and a as float32 for the float32 case, "
        "the same arrays for every peer. Outputs preallocated and pre-touched (NumPy's "
        "natural code allocates its own result and temporaries; glibc is set to keep "
        "freed memory, so these reuse pages the process already touched instead of "
        "faulting in new ones). Each (expression, peer) pair has a warm-up call whose "
        f"result is checked against NumPy, then {args.repeats} rounds time every pair once "
        f"in turn ({MIN_REPEATS} for calls over {SLOW_CALL:g} s), each call after "
        f"{args.pause:g} s of rest; the best time is kept, the median shown beside it. "
        + bytes_note(),
        "### Machine\n\n" + md_kv(mach) + f"\n\nLoad average (1 / 5 / 15 min) — {load}. "
        f"CPU time used by other processes: {busy}. Other work on the machine changes "
        "every figure.",
        "### Versions\n\n" + md_kv(vers) + "\n\n`ndpar.info()`: `" + repr(info) + "`",
        "### Memory bandwidth\n\n" + bandwidth_table(bw, tri),
        "### Results\n\n" + results_table(rows, tri)
        + "\n\n![effective GB/s per expression and peer](bench/expr.png)",
        "### Memory\n\n" + memory_table(mem),
        "### Targets\n\n" + targets_table(tg),
        "### Reproduce\n\n`python bench/bench_expr.py` (rewrites this section and "
        "`bench/expr.png`); `python bench/bench_expr.py --quick --no-write` is a smoke "
        "test. Run on a quiet machine.",
    ]) + "\n"


def chart(rows: list[dict], tri: float, mach: dict, n: int) -> None:
    labels = list(dict.fromkeys(r["label"] for r in rows))
    series = {lab: [next((r["gbs"] for r in rows if r["expr"] == e.key and r["label"] == lab),
                         float("nan")) for e in EXPRS] for lab in labels}
    groups = [e.label.replace("where(a > 0.5, exp(a), log1p(c))", "where(a>.5,\nexp(a),log1p(c))")
              .replace("((.25*a + .75)*a - 1.5)*a - 2", "((.25*a+.75)*a\n-1.5)*a-2")
              .replace(" (float32)", "\nfloat32") for e in EXPRS]
    title = (f"Expressions, n = {n:,}: effective GB/s (inputs read + output written) — "
             f"{mach['CPU']}, {mach['cores (affinity)']} cores")
    grouped_bars(CHART, groups, series, "effective GB/s", title,
                 [(tri, f"STREAM triad ({tri:.1f} GB/s)"),
                  (T_TRIAD * tri, f"{T_TRIAD:.0%} of triad (target)")])


# --- main -----------------------------------------------------------------------

def main() -> None:
    args = parse_args()
    t_start = time.perf_counter()
    nthr = ncores()
    ndpar.set_num_threads(nthr)
    numexpr.set_num_threads(nthr)
    numba.set_num_threads(nthr)
    loads = {"start": os.getloadavg()}
    others = OtherWork()
    mach = machine_info()
    log(f"inputs: a, b, c float64 and a float32, {args.n:,} elements each")
    arrays = make_inputs(args.n)
    outs = {np.float64: touched(args.n, np.float64), np.float32: touched(args.n, np.float32)}
    ndpar.evaluate("a*2+c", local_dict={"a": arrays["a"][:1000], "c": arrays["c"][:1000]})
    log("memory (ndpar and NumPy, default allocator)")
    mem = memory(arrays, outs, nthr)
    # NumPy's natural code allocates its result and temporaries (up to 3 arrays
    # of n float64 plus a mask): let it reuse touched pages from now on
    keep_freed_memory(prefault_bytes=4 * 8 * args.n)
    log("expressions")
    triad_bytes = (64 << 20) if args.quick else 8 * args.n
    rows, bw = run_exprs(arrays, outs, nthr, args.repeats, args.pause, triad_bytes)
    tri = max(b["triad_gbs"] for b in bw)
    loads["end"] = os.getloadavg()
    busy = others.cores()
    vers = versions(["numpy", "numexpr", "numba", "ndpar"])
    vers["numba threading layer"] = numba.threading_layer()
    vers["numexpr threads"] = numexpr.get_num_threads()
    vers["numexpr VML"] = numexpr.use_vml
    vers["OpenBLAS threads (np.dot)"] = blas_threads() or "unknown"
    tg = targets(rows, bw, mem)
    text = report(args, mach, vers, ndpar.info(), bw, tri, rows, mem, tg, loads, busy)
    print(text)
    if not args.no_write:
        write_section("expr", text)
        chart(rows, tri, mach, args.n)
        log(f"wrote BENCHMARKS.md and {CHART}")
    log(f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
