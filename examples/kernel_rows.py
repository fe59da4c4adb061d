"""Per-row work with ndpar.guvectorize (Numba's signature strings): one lane
per row, all rows of a block walking their columns in lockstep.

- a running maximum that resets on a negative value,
- an exponential moving average with a per-row (or one) smoothing factor,
- the maximum drawdown of each row (a scalar output, written out[0] = v),
- the first seed's fill: row i gets the value i + 1, in place into a uint8
  matrix (its multiprocessing + shared-memory program in five lines).

Each is checked against the same function run row by row in plain Python;
prints OK.
"""
import numpy as np

import ndpar


@ndpar.guvectorize("(n)->(n)")
def running_max_reset(x, out):
    m = -np.inf
    for j in range(len(x)):
        if x[j] < 0:
            m = -np.inf
        m = max(m, x[j])
        out[j] = m


@ndpar.guvectorize(["void(float64[:], float64, float64[:])"], "(n),()->(n)")
def ema(x, alpha, out):
    acc = x[0]
    for j in range(x.shape[0]):
        acc = alpha * x[j] + (1.0 - alpha) * acc
        out[j] = acc


@ndpar.guvectorize("(n)->()")
def max_drawdown(prices, out):
    peak = prices[0]
    worst = 0.0
    for j in range(len(prices)):
        if prices[j] > peak:
            peak = prices[j]
        elif peak - prices[j] > worst:
            worst = peak - prices[j]
    out[0] = worst


@ndpar.guvectorize("(n),()->(n)")
def fill_row(m, i, out):
    for j in range(len(m)):
        out[j] = i + 1


def rowwise(f, x, *scalars, scalar_out=False):
    out = np.zeros(x.shape[0]) if scalar_out else np.zeros(x.shape)
    for i in range(x.shape[0]):
        args = [s[i] if np.ndim(s) else s for s in scalars]
        if scalar_out:
            o = np.zeros(1)
            f.py_func(x[i], *args, o)
            out[i] = o[0]
        else:
            f.py_func(x[i], *args, out[i])
    return out


def main():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((400, 500))
    assert np.array_equal(running_max_reset(x), rowwise(running_max_reset, x))
    alpha = np.linspace(0.05, 0.5, 400)
    assert np.array_equal(ema(x, alpha), rowwise(ema, x, alpha))
    assert np.array_equal(ema(x, 0.2), rowwise(ema, x, 0.2))
    prices = 100 + np.cumsum(rng.standard_normal((400, 500)), axis=1)
    dd = max_drawdown(prices)
    assert dd.shape == (400,)
    assert np.array_equal(dd, rowwise(max_drawdown, prices, scalar_out=True))

    m = np.empty((16, 1 << 16), dtype=np.uint8)  # the seed's shared matrix, smaller
    fill_row(m, np.arange(m.shape[0]), out=m)
    assert all((m[i] == i + 1).all() for i in range(m.shape[0]))
    print("row 3 of the filled matrix starts", m[3, :5])
    print("OK")


if __name__ == "__main__":
    main()
