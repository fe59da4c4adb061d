"""`ndpar kernel FILE.py:FUNC ARG... -o OUT.npy`: the user's function, read as
text by ndpar's parser, run per element; checked against the same function
run as plain Python."""
from __future__ import annotations

import importlib.util
import textwrap

import numpy as np
import pytest

SRC = textwrap.dedent('''
    import math
    LIMIT = 100

    def newton(a, tol):
        x = a if a > 1.0 else 1.0
        for i in range(LIMIT):
            nx = x - (x * x * x - a) / (3.0 * x * x)
            if abs(nx - x) <= tol * nx:
                return nx
            x = nx
        return x

    def steps(n):
        k = 0
        while n != 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            k += 1
        return k

    def bad(x):
        return [x]
''')


@pytest.fixture()
def mod(tmp_path):
    path = tmp_path / "k.py"
    path.write_text(SRC)
    spec = importlib.util.spec_from_file_location("k_under_test", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return path, m


def test_float_kernel_matches_python(cli, tmp_path, mod):
    path, m = mod
    a = np.random.default_rng(1).random(1000) * 1000
    np.save(tmp_path / "a.npy", a)
    cli.ok("kernel", f"{path}:newton", tmp_path / "a.npy", "1e-12", "-o", tmp_path / "r.npy")
    r = np.load(tmp_path / "r.npy")
    assert r.dtype == np.float64 and r.shape == a.shape
    np.testing.assert_array_equal(r, [m.newton(v, 1e-12) for v in a])


def test_int_kernel_keeps_int64(cli, tmp_path, mod):
    path, m = mod
    n = np.arange(1, 300, dtype=np.int64)
    np.save(tmp_path / "n.npy", n)
    cli.ok("kernel", f"{path}:steps", tmp_path / "n.npy", "-o", tmp_path / "r.npy")
    r = np.load(tmp_path / "r.npy")
    assert r.dtype == np.int64
    np.testing.assert_array_equal(r, [m.steps(int(v)) for v in n])


def test_broadcast_args(cli, tmp_path, mod):
    path, m = mod
    a = np.linspace(1, 50, 12).reshape(3, 4)
    tol = np.array([1e-3, 1e-6, 1e-9, 1e-12])
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "t.npy", tol)
    cli.ok("kernel", f"{path}:newton", tmp_path / "a.npy", tmp_path / "t.npy", "-o",
           tmp_path / "r.npy")
    want = np.array([[m.newton(a[i, j], tol[j]) for j in range(4)] for i in range(3)])
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), want)


@pytest.mark.parametrize("case", ["no such func", "refused construct", "missing file",
                                  "wrong arg count", "bad scalar"])
def test_errors_leave_existing_output(cli, tmp_path, mod, case):
    path, _ = mod
    np.save(tmp_path / "a.npy", np.arange(4.0))
    out = tmp_path / "out.npy"
    out.write_bytes(b"keep me")
    args = {
        "no such func": [f"{path}:nope", tmp_path / "a.npy", "1e-9"],
        "refused construct": [f"{path}:bad", tmp_path / "a.npy"],
        "missing file": [f"{tmp_path / 'absent.py'}:newton", tmp_path / "a.npy", "1e-9"],
        "wrong arg count": [f"{path}:newton", tmp_path / "a.npy"],
        "bad scalar": [f"{path}:newton", tmp_path / "a.npy", "1e-9x"],
    }[case]
    r = cli.fails("kernel", *args, "-o", out)
    assert out.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["a.npy", "k.py", "out.npy"] + (["__pycache__"] if (tmp_path / "__pycache__").exists() else []))
    if case == "refused construct":
        assert "line" in r.stderr
