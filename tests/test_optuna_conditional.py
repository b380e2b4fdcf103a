"""A conditional parameter a trial lacks: the live pruner and an imported prior read it alike."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

optuna = pytest.importorskip("optuna", reason="the Optuna integration needs curvecast[optuna]")

import curvecast  # noqa: E402
from curvecast.features import ConfigInputs  # noqa: E402
from curvecast.integrations.optuna import CurvecastPruner  # noqa: E402
from curvecast.predictors import HorizonChain, Prediction  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


class _Recording(HorizonChain):
    """The default predictor, keeping the running trials' config rows it is asked about (the
    last one per trial)."""

    asked: ClassVar[dict[str, pd.DataFrame]] = {}

    def predict(self, configs: pd.DataFrame | None, partial: np.ndarray) -> Prediction:
        if configs is not None:
            type(self).asked[str(configs.index[0])] = configs.copy()
        return super().predict(configs, partial)


def _objective(trial: optuna.Trial) -> float:
    """Five epochs rising to a top set by the learning rate and the optimizer's own
    parameters: ``momentum`` (a number) for SGD only, ``amsgrad`` (a string) for Adam only."""
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    if trial.suggest_categorical("opt", ["sgd", "adam"]) == "sgd":
        top = 0.9 - 0.2 * (0.9 - trial.suggest_float("momentum", 0.0, 0.99)) ** 2
    else:
        top = 0.85 + (0.02 if trial.suggest_categorical("amsgrad", ["yes", "no"]) == "yes" else 0)
    top -= 0.3 * (math.log10(lr) + 2) ** 2 / 4
    value = 0.0
    for epoch in range(1, 6):
        value = top * (1 - 0.5 ** epoch)
        trial.report(value, step=epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def _same(a: Any, b: Any) -> bool:
    """Whether two config cells are the same value, or both missing."""
    return bool(pd.isna(a) and pd.isna(b)) if pd.isna(a) or pd.isna(b) else bool(a == b)


def test_a_parameter_a_trial_lacks_is_encoded_as_in_an_imported_prior(tmp_path: Path) -> None:
    """The pruner filled a conditional parameter a trial lacks with the other trials' median
    (a number) or the text ``"None"`` (a string), a value or a level of its own, while
    ``from_optuna`` (a prior) leaves the cell missing, which the predictors count as the
    column's mean: one trial was two configs.  The running trial's row the pruner's predictor
    is asked about is now the row ``from_optuna`` imports for it, cell for cell and encoded."""
    storage = f"sqlite:///{tmp_path / 'cond.db'}"
    _Recording.asked = {}
    study = optuna.create_study(study_name="cond", storage=storage, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=CurvecastPruner(delta=0.9, predictor=_Recording()))
    study.optimize(_objective, n_trials=24)
    asked = _Recording.asked
    imported = curvecast.from_optuna(storage, "cond").configs
    columns = ["lr", "opt", "momentum", "amsgrad"]
    assert all(list(row.columns) == columns for row in asked.values())
    params = {f"t{t.number}": t.params for t in study.trials}
    assert {params[i]["opt"] for i in asked} == {"sgd", "adam"}  # asked about both kinds
    inputs = ConfigInputs.learn(imported[columns])
    assert {c.name for c in inputs.columns} == set(columns)  # each column is encoded
    for trial_id, row in asked.items():
        want = imported.loc[[trial_id], columns]
        assert all(_same(row[c].iloc[0], want[c].iloc[0]) for c in columns), (row, want)
        assert [c for c in columns if pd.isna(row[c].iloc[0])] == [
            c for c in columns if c not in params[trial_id]]  # the parameter it lacks
        np.testing.assert_array_equal(inputs.encode(row), inputs.encode(want))
