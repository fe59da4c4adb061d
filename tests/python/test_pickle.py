"""Everything public pickles by reference: every function in ndpar.__all__
comes back as the same object; CompiledExpression pickles by its text and
the dtypes it was compiled for, and works after loading in a fresh process;
SharedArray pickles by name (loading attaches). Concurrent calls of one
CompiledExpression (loaded or not) from threads give NumPy's values."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import types

import numpy as np
import pytest

import ndpar

FUNCS = [n for n in ndpar.__all__
         if isinstance(getattr(ndpar, n), (types.FunctionType, types.BuiltinFunctionType))
         or callable(getattr(ndpar, n)) and not isinstance(getattr(ndpar, n), type)]
TYPES = [n for n in ndpar.__all__ if isinstance(getattr(ndpar, n), type)]


def test_lists_are_not_empty():
    assert {"move_mean", "move_quantile", "evaluate", "compile", "map_chunks", "apply_indexed",
            "parallel_for", "vectorize", "shared_zeros", "threads", "exp"} <= set(FUNCS)
    assert {"CompiledExpression", "SharedArray"} <= set(TYPES)


@pytest.mark.parametrize("name", FUNCS + TYPES)
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_by_reference(name, protocol):
    f = getattr(ndpar, name)
    data = pickle.dumps(f, protocol=protocol)
    assert pickle.loads(data) is f
    assert len(data) < 100 + len(name) * 2  # a reference, not a value


def _run_child(code: str, payload: bytes) -> bytes:
    """Runs code in a fresh interpreter (stdin: payload; the result: its
    stdout), with this process's sys.path, so the same ndpar is imported."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


CHILD = """
import pickle, sys
import numpy as np
f, args = pickle.loads(sys.stdin.buffer.read())
sys.stdout.buffer.write(pickle.dumps((f(*args), sorted(map(str, getattr(f, '_by_dtypes', {}))))))
"""


def test_compiled_expression_by_text_and_types_in_a_fresh_process():
    f = ndpar.compile("where(a > 0.5, exp(a), b * k)")
    a = np.random.default_rng(1).random(1000)
    b32 = np.arange(1000, dtype=np.float32)
    f(a=a, b=b32, k=np.ones(1000))  # compiled for (float64, float32, float64)
    data = pickle.dumps(f)
    assert b"where(a > 0.5" in data
    assert len(data) < 400  # text and dtype names, no program or array
    g = pickle.loads(data)
    assert isinstance(g, ndpar.CompiledExpression) and g is not f
    assert g.ex == f.ex and g.names == f.names and g.optional_names == f.optional_names
    assert set(g._by_dtypes) == set(f._by_dtypes)  # the types it was compiled for
    np.testing.assert_array_equal(g(a, b32, 2.0), f(a, b32, 2.0))
    out, compiled = pickle.loads(_run_child(CHILD, pickle.dumps((f, (a, b32, 2.0)))))
    np.testing.assert_array_equal(out, f(a, b32, 2.0))
    np.testing.assert_allclose(out, np.where(a > 0.5, np.exp(a), b32 * 2.0), rtol=1e-15)
    assert len(compiled) == 1


def test_move_and_evaluate_in_a_fresh_process():
    x = np.random.default_rng(2).standard_normal(300)
    out, _ = pickle.loads(_run_child(CHILD, pickle.dumps((ndpar.move_std, (x, 7)))))
    np.testing.assert_array_equal(out, ndpar.move_std(x, 7))


def test_concurrent_calls_of_one_compiled_expression():
    f = pickle.loads(pickle.dumps(ndpar.compile("a * 2 + sqrt(abs(b))")))
    rng = np.random.default_rng(3)
    inputs = [(rng.standard_normal(5000).astype(dt), rng.standard_normal(5000))
              for dt in ("float64", "float32", "int32", "int64") * 4]
    want = [f(a, b) for a, b in inputs]
    for (a, b), w in zip(inputs, want):
        np.testing.assert_allclose(w, a * 2 + np.sqrt(np.abs(b)), rtol=1e-6)
    g = pickle.loads(pickle.dumps(f))
    errors, results = [], {}
    start = threading.Barrier(8)

    def work(t):
        try:
            start.wait()
            for rep in range(20):
                i = (t + rep) % len(inputs)
                fn = f if rep % 2 else g
                r = fn(a=inputs[i][0], b=inputs[i][1]) if rep % 3 else fn(*inputs[i])
                if not np.array_equal(r, want[i]):
                    raise AssertionError("thread %d, input %d differs" % (t, i))
            results[t] = True
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 8


def test_shared_array_by_name():
    name = "ndpar-pickle-%d" % os.getpid()
    with ndpar.SharedArray.create(name, (4, 5), np.int32) as s:
        s[:] = np.arange(20, dtype=np.int32).reshape(4, 5)
        data = pickle.dumps(s)
        assert name.encode() in data and len(data) < 200  # the name, not the data
        t = pickle.loads(data)
        assert isinstance(t, ndpar.SharedArray) and t.name == name and not t.is_creator
        t[0, 0] = 99  # the same memory
        assert s[0, 0] == 99
        code = """
import pickle, sys
s = pickle.loads(sys.stdin.buffer.read())
s[3, 4] = -7
sys.stdout.buffer.write(pickle.dumps(s.array.copy()))
"""
        seen = pickle.loads(_run_child(code, data))
        np.testing.assert_array_equal(seen[0], [99, 1, 2, 3, 4])
        assert s[3, 4] == -7  # written by the other process
        t.close()
    with pytest.raises(ValueError, match="closed"):
        pickle.dumps(s)
    with pytest.raises(Exception):
        pickle.loads(data)  # the creator withdrew the name
