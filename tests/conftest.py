"""Shared pytest fixtures: the shared crack collection (``$SAC_DATA``, default ``../shared/data``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sac.files import data_root as _data_root


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shared_data: needs the shared crack data ($SAC_DATA)")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Root of the shared crack collection; skips the test when it is absent."""
    root = _data_root()
    if not (root / "manifest.csv").is_file() or not (root / "splits.csv").is_file():
        pytest.skip(f"shared crack data not found at {root}; set SAC_DATA")
    return root
