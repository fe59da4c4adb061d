"""Sequential per-row logic on every core with ndpar.parallel_for.

Each row of x is scanned left to right with a rule no expression can say (a
running maximum that resets after a negative value); rows are independent,
so ndpar's pool runs ranges of rows on all cores, without the GIL. The
kernel is C compiled at run time and loaded with ctypes; with Numba
installed, the same kernel written in Python as a numba.cfunc runs too.

    python examples/parallel_for.py
"""
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import ndpar

KERNEL = r"""
#include <stdint.h>
/* int32 kernel(int64 begin, int64 end, void **data, void *ud) */
int running_max(int64_t b, int64_t e, void **data, void *ud) {
  const double *x = data[0]; double *y = data[1]; int64_t cols = *(const int64_t *)ud;
  for (int64_t i = b; i < e; i++) {
    double run = 0;
    for (int64_t j = 0; j < cols; j++) {
      double v = x[i * cols + j];
      run = v < 0 ? 0 : (v > run ? v : run);
      y[i * cols + j] = run;
    }
  }
  return 0;
}
"""
SIG = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int64, ctypes.c_int64,
                       ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p)


def plain(x):
    y = np.empty_like(x)
    for i in range(x.shape[0]):
        run = 0.0
        for j in range(x.shape[1]):
            v = x[i, j]
            run = 0.0 if v < 0 else max(v, run)
            y[i, j] = run
    return y


def main():
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        print("no C compiler found; nothing to run")
        return 0
    rows, cols = 4000, 2000
    x = np.random.default_rng(0).standard_normal((rows, cols))
    y = np.empty_like(x)
    with tempfile.TemporaryDirectory() as d:
        src, so = os.path.join(d, "k.c"), os.path.join(d, "k.so")
        with open(src, "w") as f:
            f.write(KERNEL)
        subprocess.run([cc, "-O2", "-shared", "-fPIC", src, "-o", so], check=True)
        kernel = SIG(("running_max", ctypes.CDLL(so)))
        ncols = ctypes.c_int64(cols)
        t0 = time.perf_counter()
        ndpar.parallel_for(kernel, rows, x, y, userdata=ctypes.pointer(ncols))
        t = time.perf_counter() - t0
    want = plain(x[:50])
    assert np.array_equal(y[:50], want), "mismatch"
    print("ctypes kernel: %d x %d in %.1f ms on %d threads; first 50 rows equal the plain loop"
          % (rows, cols, t * 1e3, ndpar.get_num_threads()))
    try:
        from numba import cfunc, types
    except ImportError:
        return 0

    @cfunc(types.int32(types.int64, types.int64,
                       types.CPointer(types.CPointer(types.float64)), types.voidptr))
    def running_max_nb(b, e, data, ud):
        x, y = data[0], data[1]
        for i in range(b, e):
            run = 0.0
            for j in range(cols):
                v = x[i * cols + j]
                run = 0.0 if v < 0 else (v if v > run else run)
                y[i * cols + j] = run
        return 0

    y2 = np.empty_like(x)
    ndpar.parallel_for(running_max_nb, rows, x, y2)
    assert np.array_equal(y2, y)
    print("numba.cfunc kernel: same result")
    return 0


if __name__ == "__main__":
    sys.exit(main())
