#!/usr/bin/env python3
"""Small-call benchmark: the fixed cost of one call on 1,000 float64 elements,
ndpar beside numexpr and NumPy in one process on the same arrays.

* ``evaluate("where(a > 0.5, exp(a), log1p(c))")`` against
  ``numexpr.evaluate`` of the same text and NumPy's ``np.where(a > .5,
  np.exp(a), np.log1p(c))``;
* a compiled program's call (``ndpar.compile(...)(a=a, c=c)``) against
  numexpr's ``re_evaluate``, and the call of a compiled ``a + c`` (the
  call's own cost, which the 3 µs target is about);
* a ufunc call, ``ndpar.add(a, c)`` and ``ndpar.exp(a)``, against NumPy's;

each as the best of several timeit repeats, in microseconds. Checks the
[arch] targets on this run's own measurements (evaluate no slower than
numexpr; a compiled call at most 3 µs; a ufunc call at most NumPy's + 0.5 µs),
prints the report and writes the "calls" section of BENCHMARKS.md.

    python bench/bench_calls.py            # as `make bench`
    python bench/bench_calls.py --quick    # fewer repeats; writes nothing
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import ndpar
from _common import log, machine_info, md_kv, md_table, per_call_us, verdict, versions, write_section

N = 1000
EXPR = "where(a > 0.5, exp(a), log1p(c))"
T_COMPILED_US = 3.0
SMALL_KEY = "compiled: small(a=a, c=c) of `a + c`"
T_UFUNC_EXTRA_US = 0.5


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    number, repeat = (2000, 3) if args.quick else (20000, 7)
    import numexpr

    rng = np.random.default_rng(3)
    a, c = rng.random(N), rng.random(N)
    want = np.where(a > 0.5, np.exp(a), np.log1p(c))
    np.testing.assert_allclose(ndpar.evaluate(EXPR), want, rtol=1e-15)
    prog = ndpar.compile(EXPR)
    small = ndpar.compile("a + c")  # the call's own cost: almost no work
    np.testing.assert_array_equal(small(a=a, c=c), a + c)
    np.testing.assert_allclose(prog(a=a, c=c), want, rtol=1e-15)
    numexpr.evaluate(EXPR)

    def t(fn):
        return per_call_us(fn, number=number, repeat=repeat)

    def nd_frame(a=a, c=c):  # the names come from the caller's frame
        return ndpar.evaluate(EXPR)

    def ne_frame(a=a, c=c):
        return numexpr.evaluate(EXPR)

    log("timing")
    r = {
        "ndpar.evaluate": t(nd_frame),
        "ndpar.evaluate(local_dict=)": t(lambda: ndpar.evaluate(EXPR, local_dict={"a": a, "c": c})),
        "numexpr.evaluate": t(ne_frame),
        "numexpr.evaluate(local_dict=)": t(lambda: numexpr.evaluate(EXPR, local_dict={"a": a, "c": c})),
        "NumPy (np.where of np.exp, np.log1p)": t(lambda: np.where(a > 0.5, np.exp(a), np.log1p(c))),
        "compiled: prog(a=a, c=c)": t(lambda: prog(a=a, c=c)),
        SMALL_KEY: t(lambda: small(a=a, c=c)),
        "numexpr.re_evaluate": t(lambda: numexpr.re_evaluate(local_dict={"a": a, "c": c})),
        "ndpar.add(a, c)": t(lambda: ndpar.add(a, c)),
        "np.add(a, c)": t(lambda: np.add(a, c)),
        "ndpar.exp(a)": t(lambda: ndpar.exp(a)),
        "np.exp(a)": t(lambda: np.exp(a)),
    }
    ok_eval = r["ndpar.evaluate"] <= r["numexpr.evaluate"]
    ok_prog = r[SMALL_KEY] <= T_COMPILED_US
    ok_add = r["ndpar.add(a, c)"] <= r["np.add(a, c)"] + T_UFUNC_EXTRA_US
    ok_exp = r["ndpar.exp(a)"] <= r["np.exp(a)"] + T_UFUNC_EXTRA_US
    body = [
        "## Small calls (1,000 float64 elements)\n",
        "The fixed cost of one call, ndpar beside numexpr and NumPy in one run "
        "(best of %d repeats of %d calls each).\n" % (repeat, number),
        "### Machine\n", md_kv(machine_info()),
        "\n### Versions\n", md_kv(versions(["numpy", "numexpr", "ndpar"])),
        "\n### Results\n",
        md_table(["call", "µs per call"], [(k, f"{v:.2f}") for k, v in r.items()], "lr"),
        "\n### Targets\n",
        md_table(["target", "measured", ""], [
            (f"`evaluate` of `{EXPR}` no slower than numexpr",
             f"{r['ndpar.evaluate']:.2f} vs {r['numexpr.evaluate']:.2f} µs", verdict(ok_eval)),
            (f"a compiled program's call <= {T_COMPILED_US:g} µs (`a + c`: the call's own "
             "cost; the where/exp/log1p program's call is mostly its math)",
             "%.2f µs" % r[SMALL_KEY], verdict(ok_prog)),
            (f"`add` <= NumPy's + {T_UFUNC_EXTRA_US:g} µs",
             f"{r['ndpar.add(a, c)']:.2f} vs {r['np.add(a, c)']:.2f} µs", verdict(ok_add)),
            (f"`exp` <= NumPy's + {T_UFUNC_EXTRA_US:g} µs",
             f"{r['ndpar.exp(a)']:.2f} vs {r['np.exp(a)']:.2f} µs", verdict(ok_exp)),
        ]),
        "\n### Reproduce\n", "`python bench/bench_calls.py` (part of `make bench`).\n",
    ]
    text = "\n".join(body)
    print(text)
    if not args.quick:
        write_section("calls", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
