"""Fixtures for the tests of the ndpar command.

The command is NDPAR_CLI when that is set, else `ndpar` on PATH. Not finding
it is a failure, not a skip: these tests are how the command is checked.
"""
import os
import shutil
import subprocess

import pytest


def _find_cli():
    path = os.environ.get("NDPAR_CLI")
    if path:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            pytest.fail(f"NDPAR_CLI={path!r} is not an executable file", pytrace=False)
        return os.path.abspath(path)
    path = shutil.which("ndpar")
    if not path:
        pytest.fail(
            "the ndpar command was not found: build it (meson setup build && "
            "ninja -C build) and set NDPAR_CLI=build/ndpar, or put it on PATH",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def cli_path():
    return _find_cli()


class Cli:
    """Runs the command and checks the shape of its output."""

    def __init__(self, path):
        self.path = path

    def run(self, *args, cwd=None, env=None, timeout=600):
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        return subprocess.run(
            [self.path, *map(str, args)],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def ok(self, *args, **kw):
        """Runs and asserts success with nothing on stderr."""
        res = self.run(*args, **kw)
        assert res.returncode == 0, (
            f"ndpar {' '.join(map(str, args))} exited {res.returncode}: {res.stderr}"
        )
        assert res.stderr == "", f"unexpected stderr: {res.stderr!r}"
        return res

    def fails(self, *args, status=2, **kw):
        """Runs and asserts exit `status` with exactly one 'ndpar: ...' line on
        stderr and nothing on stdout."""
        res = self.run(*args, **kw)
        assert res.returncode == status, (
            f"ndpar {' '.join(map(str, args))}: expected exit {status}, got "
            f"{res.returncode}; stdout={res.stdout!r} stderr={res.stderr!r}"
        )
        lines = res.stderr.splitlines()
        assert len(lines) == 1 and res.stderr.endswith("\n"), (
            f"expected exactly one line on stderr, got {res.stderr!r}"
        )
        assert lines[0].startswith("ndpar: "), f"bad message {lines[0]!r}"
        assert len(lines[0]) > len("ndpar: ") + 3
        assert res.stdout == "", f"unexpected stdout: {res.stdout!r}"
        return res


@pytest.fixture(scope="session")
def cli(cli_path):
    return Cli(cli_path)
