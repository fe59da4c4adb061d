"""Booleans whose bytes are not 0 or 1, in a '|b1' .npy file (what
np.save writes for np.array([0, 1, 2, 255], np.uint8).view(bool)): NumPy
reads any nonzero byte as True, so every command must too. Each result is
compared with NumPy on the same array (np.load of the same file).
"""
import numpy as np
import pytest

from test_cli import save
from test_rolling_cli import check

BYTES = np.array([0, 1, 2, 255, 4, 0, 3, 128, 1, 7], np.uint8)


@pytest.fixture
def mfile(tmp_path):
    path = save(tmp_path / "m.npy", BYTES.view(bool))
    m = np.load(path)
    assert m.view(np.uint8).tolist() == BYTES.tolist()  # the odd bytes are in the file
    return path, m


def assert_same(got, want):
    want = np.asarray(want)
    assert got.dtype == want.dtype, f"dtype {got.dtype}, NumPy gives {want.dtype}"
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("func,args,ref", [
    ("multiply", ["3"], lambda m: np.multiply(m, 3)),
    ("add", ["1"], lambda m: np.add(m, 1)),
    ("add", ["{m}"], lambda m: np.add(m, m)),
    ("multiply", ["2.5"], lambda m: np.multiply(m, 2.5)),
    ("logical_xor", ["true"], lambda m: np.logical_xor(m, True)),
    ("logical_and", ["{m}"], lambda m: np.logical_and(m, m)),
    ("equal", ["true"], lambda m: np.equal(m, True)),
])
def test_map(cli, tmp_path, mfile, func, args, ref):
    path, m = mfile
    out = tmp_path / "out.npy"
    cli.ok("map", func, path, *[a.format(m=path) for a in args], "-o", out)
    assert_same(np.load(out), ref(m))


@pytest.mark.parametrize("src,ref", [
    ("sum(m)", lambda m: np.sum(m)),
    ("m * 3", lambda m: m * 3),
    ("where(m, 1, 0)", lambda m: np.where(m, 1, 0)),
    ("any(m & m)", lambda m: np.any(m & m)),
    ("mean(m)", lambda m: np.mean(m)),
])
def test_eval(cli, tmp_path, mfile, src, ref):
    path, m = mfile
    out = tmp_path / "out.npy"
    cli.ok("eval", src, f"m={path}", "-o", out)
    assert_same(np.load(out), ref(m))


@pytest.mark.parametrize("func", ["sum", "mean", "max", "count"])
def test_rolling(cli, tmp_path, mfile, func):
    path, m = mfile
    out = tmp_path / "out.npy"
    cli.ok("rolling", func, "--window", "2", path, "-o", out)
    check(np.load(out), m, func, 2)
