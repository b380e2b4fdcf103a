"""The recorded datasets in data/ load through the public API and are worth predicting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from curvecast import CurveSet, Direction

DATA = Path(__file__).resolve().parents[1] / "data"

#: name → (epochs, direction, minimum 10–90 % spread of the final values)
EXPECTED = {
    "digits-metaqnn": (20, Direction.MAXIMIZE, 0.2),
    "mnist1d-hp": (30, Direction.MAXIMIZE, 0.3),
    "text-lstm": (20, Direction.MINIMIZE, 5.0),  # perplexity (characters)
    "friedman-sgd": (40, Direction.MINIMIZE, 0.2),  # RMSE (standardised target); held out
}

#: name → configs the committed recording holds at least
CONFIGS = {"digits-metaqnn": 1000, "mnist1d-hp": 1000, "text-lstm": 300, "friedman-sgd": 600}
#: name → share of configs with a finite test value at least (diverged runs have none)
FINITE_TESTS = {"friedman-sgd": 0.9}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_dataset(name: str) -> None:
    path = DATA / f"{name}.parquet"
    assert path.exists(), f"{path} is committed with the repository"
    epochs, direction, spread = EXPECTED[name]
    cs = CurveSet.load(path)
    assert cs.n_epochs == epochs and cs.direction is direction
    # every recording is complete
    assert cs.n_configs >= CONFIGS[name]
    assert cs.is_complete().all()
    assert cs.provenance["workload"] == name and cs.provenance["seed"] == 0
    assert {"n_params", "n_layers"} <= set(cs.configs.columns)
    finals = cs.final_values()
    q10, q90 = np.quantile(finals[np.isfinite(finals)], [0.1, 0.9])
    assert q90 - q10 > spread
    assert np.isfinite(cs.test_values).mean() > FINITE_TESTS.get(name, 0.95)  # type: ignore[arg-type]


def test_friedman_sgd_has_late_bloomers_and_bounded_finals() -> None:
    cs = CurveSet.load(DATA / "friedman-sgd.parquet")
    filled = cs.filled_values()
    assert cs.diverged_fill == 1.0  # a diverged regressor counts as predicting the mean
    assert filled[:, -1].max() < 1.2  # finals are bounded; earlier epochs may explode (1e16+)
    assert np.nanmax(cs.values[np.isfinite(cs.values)]) > 1e15
    # of the 10 % best finals, some rank in the worse half a quarter into training
    quarter = int(np.ceil(0.25 * cs.n_epochs)) - 1
    rank_then = filled[:, quarter].argsort().argsort() / cs.n_configs
    best = filled[:, -1] <= np.quantile(filled[:, -1], 0.1)
    assert (rank_then[best] > 0.5).sum() >= 3
