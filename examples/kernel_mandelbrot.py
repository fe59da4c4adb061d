"""Mandelbrot escape counts with ndpar.vectorize: a while loop with an early
exit per pixel, run as SIMD lanes on every core.

Checks a slice against the same function run as plain Python and prints OK.
"""
import numpy as np

import ndpar


@ndpar.vectorize
def escape(cr, ci):
    zr = 0.0
    zi = 0.0
    n = 0
    while n < 200 and zr * zr + zi * zi <= 4.0:
        zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
        n += 1
    return n


def main():
    x = np.linspace(-2.0, 1.0, 1200)
    y = np.linspace(-1.2, 1.2, 800)[:, None]
    counts = escape(x, y)  # broadcasting: (800, 1200) int64
    assert counts.shape == (800, 1200) and counts.dtype == np.int64
    rows = [0, 399, 400, 799]
    ref = np.array([[escape.py_func(a, b) for a in x] for b in y[rows, 0]])
    assert np.array_equal(counts[rows], ref)
    inside = (counts == 200).mean()
    print(f"{inside:.3%} of the points stay bounded for 200 iterations")
    for r in range(0, 800, 100):  # a coarse picture
        print("".join("#" if c == 200 else "+" if c > 20 else "." for c in counts[r, ::30]))
    print("OK")


if __name__ == "__main__":
    main()
