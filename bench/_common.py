"""Helpers shared by the bench/ scripts: machine and version records, timing,
markdown, BENCHMARKS.md sections and charts.

Each benchmark script owns one section of BENCHMARKS.md, kept between
``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``; ``write_section``
rewrites only that section and leaves the rest of the file as it is.
"""
from __future__ import annotations

import datetime
import importlib
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
MD_HEADER = (
    "# Benchmarks\n\n"
    "Written by the scripts in `bench/` (`make bench`); each section is "
    "rewritten by its own script. Every figure comes from the run that wrote "
    "the section.\n"
)


def log(msg: str) -> None:
    """Progress line on stderr (stdout carries the report)."""
    print(msg, file=sys.stderr, flush=True)


# --- machine and versions -------------------------------------------------

def _first_field(path: str, key: str) -> str | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def ncores() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


def machine_info() -> dict:
    mem_kb = _first_field("/proc/meminfo", "MemTotal")
    ram = f"{int(mem_kb.split()[0]) / 2**20:.1f} GiB" if mem_kb else "unknown"
    return {
        "CPU": _first_field("/proc/cpuinfo", "model name") or platform.processor(),
        "cores (affinity)": ncores(),
        "logical CPUs (os.cpu_count)": os.cpu_count(),
        "RAM": ram,
        "kernel": f"{platform.system()} {platform.release()}",
        "date (UTC)": datetime.datetime.now(datetime.timezone.utc)
        .isoformat(timespec="seconds"),
    }


def versions(modules: Iterable[str]) -> dict:
    """Python and the given modules' versions ('missing' when not importable)."""
    out = {"python": platform.python_version()}
    for name in modules:
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            out[name] = "missing"
    return out


# --- timing ----------------------------------------------------------------

def checked_runs(fn: Callable[[], object], check: Callable[[object], None], repeats: int,
                 budget: float) -> tuple:
    """A first run of fn whose result ``check`` verifies, then up to
    ``repeats`` more while the time spent stays within ``budget`` seconds.
    Returns (first run's seconds, [later runs' seconds])."""
    t0 = time.perf_counter()
    r = fn()
    first = time.perf_counter() - t0
    check(r)
    del r
    spent, runs = first, []
    while len(runs) < repeats and spent + (min(runs) if runs else first) <= budget:
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
        spent += runs[-1]
    return first, runs


def best_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Best wall time in seconds of ``repeats`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def per_call_us(fn: Callable[[], object], number: int = 20000, repeat: int = 7) -> float:
    """Best-of-``repeat`` microseconds per call, via timeit."""
    import timeit

    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


# --- markdown --------------------------------------------------------------

def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]],
             align: str | None = None) -> str:
    """Markdown table; ``align`` is one letter per column, 'l' or 'r'."""
    align = align or "l" * len(headers)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = [headers, sep] + [[str(c) for c in r] for r in rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def md_kv(d: dict) -> str:
    return md_table(["", ""], [(f"**{k}**", v) for k, v in d.items()])


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def write_section(name: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Put ``body`` between this script's markers in ``path``, keeping the rest."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else MD_HEADER
    i, j = text.find(begin), text.find(end)
    if i >= 0 and j > i:
        text = text[:i] + block + text[j + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


# --- charts ----------------------------------------------------------------

def grouped_bars(path: Path, groups: Sequence[str], series: dict[str, Sequence[float]],
                 ylabel: str, title: str, hlines: Sequence[tuple[float, str]] = ()) -> None:
    """PNG of grouped bars: one group per entry of ``groups``, one bar per series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nser = len(series)
    width = 0.8 / nser
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(groups) + 2), 5), dpi=120)
    for k, (label, values) in enumerate(series.items()):
        xs = [g + (k - (nser - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, values, width, label=label)
        # no label over a missing value (NaN): that peer does not run that case
        ax.bar_label(bars, labels=["" if v != v else f"{v:.1f}" for v in values],
                     fontsize=6, padding=1)
    styles = iter(["--", ":", "-."])
    for y, label in hlines:
        ax.axhline(y, color="black", linestyle=next(styles, "--"), linewidth=1, label=label)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def line_panels(path: Path, panels: dict[str, dict[str, tuple[Sequence[float], Sequence[float]]]],
                xlabel: str, ylabel: str, title: str, ncols: int = 2,
                logx: bool = True, logy: bool = True,
                styles: dict[str, dict] | None = None) -> None:
    """PNG of small multiples: one panel per entry of ``panels`` (title -> lines),
    one line per entry of a panel (label -> (xs, ys), None where there is no
    point); a label keeps its colour in every panel, the legend lists every
    label once, and ``styles`` gives extra matplotlib line keywords per label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(lab for lines in panels.values() for lab in lines))
    colours = {lab: f"C{k}" for k, lab in enumerate(labels)}
    styles = {lab: {"color": colours[lab], "marker": "o", "markersize": 3,
                    **(styles or {}).get(lab, {})} for lab in labels}
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.5 * ncols, 3.8 * nrows + 0.8),
                             dpi=120, squeeze=False)
    for ax, (name, lines) in zip(axes.flat, panels.items()):
        for lab, (xs, ys) in lines.items():
            pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
            if pts:
                ax.plot(*zip(*pts), label=lab, **styles[lab])
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(which="both", alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], **styles[lab]) for lab in labels]
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def keep_freed_memory(prefault_bytes: int = 0) -> bool:
    """Make glibc keep the memory a process frees, so that large arrays allocated
    later reuse pages this process already touched instead of new ones: every
    large allocation comes from the heap (no mmap) and the heap is never trimmed.
    Then ``prefault_bytes`` are allocated, touched and freed, so that the heap
    already holds them. Returns False where glibc's mallopt is not available.

    For timings of calls that allocate their output (as bottleneck's and
    pandas' do): without this, every call maps fresh pages and pays their
    first-touch faults, which on a virtual machine can cost more than the
    computation and vary from run to run."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        # -1: never trim (mallopt(3))
        ok = libc.mallopt(m_mmap_max, 0) == 1 and libc.mallopt(m_trim_threshold, -1) == 1
    except (OSError, AttributeError):
        return False
    if ok and prefault_bytes > 0:
        import numpy as np

        block = np.empty(prefault_bytes, np.uint8)
        block.fill(1)
        del block
    return ok

