"""Every fuzz case runs under a per-test timeout: a hang is a failure, not a stuck CI job."""
from __future__ import annotations

import pytest

import nuisance_zoo as nz

FUZZ_TIMEOUT_S = 30


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/fuzz/" in str(item.fspath).replace("\\", "/") and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(FUZZ_TIMEOUT_S))


@pytest.fixture(autouse=True)
def _full_input_checks():
    """The fuzz cases expect the default "full" checks (named errors, not async asserts)."""
    with nz.input_checks("full"):
        yield
