"""The examples in examples/ run and check their own results."""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def test_parallel_for_example():
    if not (shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")):
        pytest.skip("no C compiler on PATH: the example builds its kernel with one")
    r = subprocess.run([sys.executable, str(EXAMPLES / "parallel_for.py")], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "equal the plain loop" in r.stdout
    # numba is a test requirement: its cfunc kernel must run too
    assert "numba.cfunc kernel: same result" in r.stdout, r.stdout
