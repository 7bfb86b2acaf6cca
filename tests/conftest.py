"""Shared pytest fixtures: the shared crack collection (``$SAC_DATA``, default ``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sac.files import data_root as _data_root

try:  # the property tests (tests/test_properties.py); hypothesis is a dev extra
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - without the dev extras those tests skip
    pass
else:
    _QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
    # "ci" (default): the same examples on every run (derandomize), no per-example deadline (a loaded CI
    # machine is slow, not wrong), no example database written into the checkout
    settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True,
                              suppress_health_check=_QUIET)
    # "fuzz": fresh random examples each run (combine with SAC_FUZZ_EXAMPLES=N for more of them)
    settings.register_profile("fuzz", derandomize=False, deadline=None, database=None, print_blob=True,
                              suppress_health_check=_QUIET)
    settings.load_profile(os.environ.get("SAC_HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shared_data: needs the shared crack data ($SAC_DATA)")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Root of the shared crack collection; skips the test when it is absent."""
    root = _data_root()
    if not (root / "manifest.csv").is_file() or not (root / "splits.csv").is_file():
        pytest.skip(f"shared crack data not found at {root}; set SAC_DATA")
    return root
