"""Newton's iteration per point with ndpar.vectorize: the cube root of every
element, iterating until each converges (a different number of steps per
point), with break and several locals.

Checks against numpy.cbrt and the plain Python function, prints OK.
"""
import numpy as np

import ndpar


@ndpar.vectorize
def cube_root(a):
    if a == 0.0:
        return 0.0
    x = abs(a) if abs(a) > 1.0 else 1.0
    for _ in range(200):
        nx = x - (x * x * x - abs(a)) / (3.0 * x * x)
        if abs(nx - x) <= 1e-15 * x:
            x = nx
            break
        x = nx
    return x if a > 0 else -x


def main():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(1_000_000) * 1e3
    r = cube_root(a)
    assert np.allclose(r, np.cbrt(a), rtol=1e-14, atol=0)
    sample = a[:2000]
    ref = np.array([cube_root.py_func(v) for v in sample.tolist()])
    assert np.array_equal(r[:2000], ref)
    print("max relative error vs numpy.cbrt:", float(np.max(np.abs(r / np.cbrt(a) - 1))))
    print("OK")


if __name__ == "__main__":
    main()
