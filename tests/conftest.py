"""Shared fixtures: where the paper's published curves live; one torch thread for real training."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run and machine (a failure reproduces; CI does
# not turn red on a draw it never saw before), write no example database into the checkout, and
# have no per-example deadline (a loaded 2-core machine is not a failure).
settings.register_profile("curvecast", derandomize=True, database=None, deadline=None)
settings.load_profile("curvecast")

#: ../shared/data/baker2018 relative to the repository root (see ../shared/data/README.md).
BAKER2018 = Path(__file__).resolve().parents[2] / "shared" / "data" / "baker2018"


@pytest.fixture(scope="session")
def baker2018() -> Path:
    """The folder of the paper's CSV files; skips the test when it is absent."""
    if not (BAKER2018 / "metaqnn_cifar10.csv").is_file():
        pytest.skip(f"the paper's published curves are not at {BAKER2018} (../shared/data/baker2018)")
    return BAKER2018


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Train on one torch thread, as the workers do (results are bit-reproducible per thread count).

    Use it for a whole module with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
