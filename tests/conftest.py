"""Shared fixtures: where the paper's published curves live."""

from __future__ import annotations

from pathlib import Path

import pytest

#: ../shared/data/baker2018 relative to the repository root (see ../shared/data/README.md).
BAKER2018 = Path(__file__).resolve().parents[2] / "shared" / "data" / "baker2018"


@pytest.fixture(scope="session")
def baker2018() -> Path:
    """The folder of the paper's CSV files; skips the test when it is absent."""
    if not (BAKER2018 / "metaqnn_cifar10.csv").is_file():
        pytest.skip(f"the paper's published curves are not at {BAKER2018} (../shared/data/baker2018)")
    return BAKER2018
