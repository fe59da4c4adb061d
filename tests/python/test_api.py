"""The package's surface: names, reprs, stubs and caches."""
from __future__ import annotations

import ast
import pathlib

import numpy as np

import ndpar


def test_dir_has_no_helper_modules():
    names = set(dir(ndpar))
    for leaked in ("contextlib", "Iterator", "annotations", "_name"):
        assert leaked not in names
    for name in ndpar.__all__:
        assert hasattr(ndpar, name), name


def test_function_repr_names_the_function():
    assert "int object" not in repr(ndpar.exp)
    assert "exp" in repr(ndpar.exp)


def test_stub_lists_every_public_name():
    stub = pathlib.Path(ndpar.__file__).with_name("__init__.pyi")
    tree = ast.parse(stub.read_text())
    declared = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            declared.add(node.name)
        elif isinstance(node, ast.Assign):
            declared.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            declared.add(node.target.id)
    missing = [n for n in ndpar.__all__ if n not in declared]
    assert not missing, missing


def test_clear_caches_drops_both_caches():
    from ndpar import _apply, _evaluate

    x = np.arange(10.0)
    np.testing.assert_array_equal(ndpar.evaluate("x * 3 + 1", local_dict={"x": x}), x * 3 + 1)
    ndpar.apply_indexed(x, np.zeros(10, np.int64), ["x * 7"])
    assert _apply._cache_info()[0] >= 1
    assert len(_evaluate._CACHE) >= 1
    ndpar.clear_caches()
    assert _apply._cache_info() == (0, 0)
    assert len(_evaluate._CACHE) == 0
    # still right afterwards (compiled again)
    np.testing.assert_array_equal(ndpar.evaluate("x * 3 + 1", local_dict={"x": x}), x * 3 + 1)
    np.testing.assert_array_equal(ndpar.apply_indexed(x, np.zeros(10, np.int64), ["x * 7"]), x * 7)


def test_readme_kernel_example_runs_and_is_right(tmp_path):
    """The README's vectorize/guvectorize example, as written there (saved
    as a module: ndpar reads a kernel's source from its file)."""
    import importlib.util

    readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
    blocks = readme.read_text().split("```python\n")[1:]
    code = next(b.split("```")[0] for b in blocks if "@ndpar.vectorize" in b)
    path = tmp_path / "readme_example.py"
    path.write_text("import numpy as np\nimport ndpar\n" + code)
    spec = importlib.util.spec_from_file_location("readme_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ns = vars(mod)
    newton, r = ns["newton"], ns["r"]
    sample = np.random.default_rng(0).random(200) * 1000
    np.testing.assert_array_equal(newton(sample), [newton.py_func(v) for v in sample])
    assert r.shape == (10_000_000,) and r.dtype == np.float64
    np.testing.assert_allclose(r ** 3, ns["np"].cbrt(r ** 3) ** 3)
    rm, m = ns["running_max"], ns["m"]
    assert m.shape == (4000, 5000)
    x = np.random.default_rng(1).standard_normal((3, 50))
    want = np.empty_like(x)
    for i in range(3):
        rm.py_func(x[i], want[i])
    np.testing.assert_array_equal(rm(x), want)
