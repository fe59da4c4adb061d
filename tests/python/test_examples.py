"""The examples in examples/ run and check their own results."""
from __future__ import annotations

import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def test_parallel_for_example():
    r = subprocess.run([sys.executable, str(EXAMPLES / "parallel_for.py")], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "equal the plain loop" in r.stdout or "no C compiler" in r.stdout
