"""CurvecastPruner through Optuna's public API, on recorded learning curves (no mocks)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna", reason="the Optuna integration needs curvecast[optuna]")

from curvecast.integrations.optuna import CurvecastPruner, predicted_value  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def replay_objective(values: np.ndarray, epochs_used: list[int]):  # type: ignore[no-untyped-def]
    """An objective that 'trains' recorded config i by reporting its curve epoch by epoch."""

    def objective(trial: optuna.Trial) -> float:
        i = trial.suggest_int("config", 0, len(values) - 1)
        lr_like = trial.suggest_float("noise", 0.0, 1.0)  # a second, irrelevant parameter
        del lr_like
        for epoch, value in enumerate(values[i], start=1):
            trial.report(float(value), step=epoch)
            epochs_used.append(1)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(values[i, -1])

    return objective


def test_pruning_saves_epochs_and_keeps_the_best(baker2018: Path) -> None:
    from curvecast.datasets.baker2018 import load_baker2018

    values = load_baker2018(baker2018 / "metaqnn_cifar10.csv").filled_values()
    used: list[int] = []
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=CurvecastPruner(delta=0.99, min_complete=30,
                                                       refit_every=20))
    study.optimize(replay_objective(values, used), n_trials=150)
    trials = study.get_trials()
    pruned = [t for t in trials if t.state is optuna.trial.TrialState.PRUNED]
    full = 150 * values.shape[1]
    assert len(pruned) > 30
    assert full / len(used) > 1.5  # epochs saved
    # the best sampled config was trained to the end, not pruned
    sampled = {t.params["config"] for t in trials}
    best = max(sampled, key=lambda i: values[i, -1])
    assert any(t.params["config"] == best and t.state is optuna.trial.TrialState.COMPLETE
               for t in trials)
    # every pruned trial says why, and its predicted final value is available
    for t in pruned:
        assert t.user_attrs["curvecast:pruned"] is True
        assert t.user_attrs["curvecast:probability"] >= 0.99
        assert predicted_value(t) == pytest.approx(t.user_attrs["curvecast:predicted"])
    assert predicted_value(study.best_trial) == study.best_value


def test_minimize_and_no_pruning_before_min_complete() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(1, 11)
    finals = rng.uniform(70, 400, 60)
    values = finals[:, None] * (1 + 3 * np.exp(-t[None, :] / 2))  # perplexity-like, decreasing
    used: list[int] = []
    pruner = CurvecastPruner(delta=0.95, min_complete=15, refit_every=None)
    study = optuna.create_study(direction="minimize",
                                sampler=optuna.samplers.RandomSampler(seed=1), pruner=pruner)
    study.optimize(replay_objective(values, used), n_trials=60)
    states = [t.state for t in study.get_trials()]
    first_pruned = states.index(optuna.trial.TrialState.PRUNED)
    complete_before = states[:first_pruned].count(optuna.trial.TrialState.COMPLETE)
    assert complete_before >= 15
    assert states.count(optuna.trial.TrialState.PRUNED) >= 10
    best = min(range(len(values)), key=lambda i: values[i, -1] if any(
        tr.params["config"] == i for tr in study.get_trials()) else math.inf)
    assert study.best_params["config"] == best


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_warmup_steps must be >= 0, got -1"):
        CurvecastPruner(n_warmup_steps=-1)
    with pytest.raises(ValueError, match="delta"):
        CurvecastPruner(delta=1.5)
    with pytest.raises(ValueError, match="min_complete must be >= 6"):
        CurvecastPruner(min_complete=2)


WORKER = """
import sys, numpy as np, optuna
from curvecast.integrations.optuna import CurvecastPruner
optuna.logging.set_verbosity(optuna.logging.WARNING)
rng = np.random.default_rng(0)
t = np.arange(1, 9)
finals = rng.uniform(0.3, 0.95, 200)
values = finals[:, None] - 0.3 * np.exp(-t[None, :] / 2)
def objective(trial):
    i = trial.suggest_int("config", 0, 199)
    for epoch, v in enumerate(values[i], start=1):
        trial.report(float(v), step=epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return float(values[i, -1])
study = optuna.load_study(study_name="shared", storage=sys.argv[1],
                          sampler=optuna.samplers.RandomSampler(seed=int(sys.argv[2])),
                          pruner=CurvecastPruner(delta=0.9, min_complete=10, refit_every=10))
study.optimize(objective, n_trials=40)
"""


def test_sqlite_storage_shared_by_two_processes(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(study_name="shared", storage=storage, direction="maximize")
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, storage, str(k)],
                              stderr=subprocess.PIPE, text=True) for k in range(2)]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    study = optuna.load_study(study_name="shared", storage=storage)
    trials = study.get_trials()
    assert len(trials) == 80
    pruned = [t for t in trials if t.state is optuna.trial.TrialState.PRUNED]
    assert pruned and all("curvecast:predicted" in t.user_attrs for t in pruned)
