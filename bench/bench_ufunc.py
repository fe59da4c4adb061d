#!/usr/bin/env python3
"""Ufunc-object benchmark: ndpar's ufuncs (numpy.ufunc objects whose loops
run on ndpar's pool) beside NumPy's, in one process on the same arrays.

* exp over 1e8 float64 (through NumPy's ufunc machinery);
* add.reduce of a 4000 x 2500 float64 array along axis 0, axis 1 and all;
* exp in float16 and in complex128 (reported as MISSED when ndpar has no
  loop of that dtype yet: NumPy then casts, and the measurement says so).

Checks the [ufunc] speed targets on this run's own measurements, prints the
report and writes the "ufunc" section of BENCHMARKS.md.

    python bench/bench_ufunc.py            # as `make bench`
    python bench/bench_ufunc.py --quick    # smaller arrays; writes nothing
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import ndpar
from _common import best_time, log, machine_info, md_kv, md_table, verdict, versions, write_section


def has_loop(f, dt):
    return any(t.startswith(np.dtype(dt).char) for t in f.types)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    n = 10**6 if args.quick else 10**8
    shape = (400, 250) if args.quick else (4000, 2500)
    reps = 3 if args.quick else 5
    rng = np.random.default_rng(5)
    rows, ratios = [], {}

    def pair(label, nd, npf, check):
        check(nd(), npf())
        tn, tp = best_time(nd, reps), best_time(npf, reps)
        ratios[label] = tp / tn
        rows.append((label, f"{tn * 1e3:.1f}", f"{tp * 1e3:.1f}", f"{tp / tn:.2f}x"))

    def close(rtol):
        return lambda a, b: np.testing.assert_allclose(a, b, rtol=rtol)

    log("exp float64")
    x = rng.random(n)
    pair("exp, %g float64" % n, lambda: ndpar.exp(x), lambda: np.exp(x), close(1e-15))
    del x
    log("add.reduce")
    m = rng.random(shape)
    for axis in (0, 1, None):
        pair(f"add.reduce {shape[0]}x{shape[1]} axis={axis}",
             lambda: ndpar.add.reduce(m, axis=axis), lambda: np.add.reduce(m, axis=axis),
             close(1e-12))
    del m
    half = rng.random(n // 4).astype(np.float16)
    comp = (rng.random(n // 4) + 1j * rng.random(n // 4)).astype(np.complex128)
    log("exp float16, complex128")
    f16_loop, c_loop = has_loop(ndpar.exp, np.float16), has_loop(ndpar.exp, np.complex128)
    pair("exp, %g float16" % (n // 4), lambda: ndpar.exp(half), lambda: np.exp(half),
         (lambda a, b: np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32),
                                                  rtol=2e-3)) if f16_loop else
         (lambda a, b: None))
    c_ok = True
    try:
        ndpar.exp(comp[:4])
    except TypeError:
        c_ok = False
    if c_ok:
        pair("exp, %g complex128" % (n // 4), lambda: ndpar.exp(comp), lambda: np.exp(comp),
             close(1e-14))
    else:
        rows.append(("exp, complex128", "-", "-", "no complex loops"))

    tgt = [
        ("exp over 1e8 float64 >= 1.6x NumPy", "%.2fx" % ratios["exp, %g float64" % n],
         verdict(ratios["exp, %g float64" % n] >= 1.6)),
        ("add.reduce(axis=0) of 4000x2500 >= 1.3x NumPy",
         "%.2fx" % ratios[f"add.reduce {shape[0]}x{shape[1]} axis=0"],
         verdict(ratios[f"add.reduce {shape[0]}x{shape[1]} axis=0"] >= 1.3)),
        ("exp in float16 >= 2x NumPy", "%.2fx%s" % (ratios["exp, %g float16" % (n // 4)],
                                                  "" if f16_loop else " (no float16 loop: "
                                                  "NumPy casts to float32)"),
         verdict(f16_loop and ratios["exp, %g float16" % (n // 4)] >= 2)),
        ("exp in complex128 >= 2x NumPy",
         "%.2fx" % ratios["exp, %g complex128" % (n // 4)] if c_ok else "no complex loops",
         verdict(c_ok and ratios.get("exp, %g complex128" % (n // 4), 0) >= 2)),
    ]
    body = [
        "## Ufunc objects\n",
        "ndpar's ufuncs are numpy.ufunc objects: NumPy's machinery calls "
        "ndpar's loops. Best of %d runs, in ms; ratio = NumPy's time / ndpar's.\n" % reps,
        "### Machine\n", md_kv(machine_info()),
        "\n### Versions\n", md_kv(versions(["numpy", "ndpar"])),
        "\n### Results\n",
        md_table(["workload", "ndpar ms", "NumPy ms", "speed-up"], rows, "lrrr"),
        "\n### Targets\n",
        md_table(["target", "measured", ""], tgt),
        "\nThe 1,000-element call overhead is in \"Small calls\". "
        "`add.reduce(axis=0)`: NumPy's iterator drives the outer loop and hands "
        "each loop call one row (2,500 elements, out += row), too little to "
        "split over threads; ndpar's loop sees no more than NumPy's does. "
        "Along the last axis each row is one span (2,500 elements: one "
        "serial tree each, against NumPy's unrolled pairwise sum); over all "
        "axes the array is one span, which ndpar reduces on both threads.\n",
        "\n### Reproduce\n", "`python bench/bench_ufunc.py` (part of `make bench`).\n",
    ]
    text = "\n".join(body)
    print(text)
    if not args.quick:
        write_section("ufunc", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
