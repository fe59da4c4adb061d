"""Fixtures for the tests of the ndpar Python package (helpers are in
ndpar_testutil.py).

The package under test is the *installed* one: run pytest from tests/ so the
source tree's python/ directory is not on sys.path.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

import ndpar
from ndpar_testutil import ISAS

# ---- hypothesis profile: modest and deterministic ------------------------------

settings.register_profile(
    "ndpar",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "quick",  # make check: the same properties on fewer examples
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ndpar"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "bigmem: needs a few GB of memory (array of more than 2**31 items)")


# ---- instruction sets --------------------------------------------------------------



@pytest.fixture(params=ISAS)
def isa(request):
    """Runs the test with ndpar forced to one instruction set, then restores."""
    orig = ndpar.get_isa()
    ndpar.set_isa(request.param)
    assert ndpar.get_isa() == request.param
    try:
        yield request.param
    finally:
        ndpar.set_isa(orig)


@pytest.fixture(autouse=True)
def _restore_global_state():
    """No test may leak a thread count or an ISA into the next."""
    threads, isa = ndpar.get_num_threads(), ndpar.get_isa()
    yield
    if ndpar.get_num_threads() != threads:
        ndpar.set_num_threads(threads)
    if ndpar.get_isa() != isa:
        ndpar.set_isa(isa)


