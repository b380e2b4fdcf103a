"""CurvecastPruner through Optuna's public API, on recorded learning curves (no mocks)."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

optuna = pytest.importorskip("optuna", reason="the Optuna integration needs curvecast[optuna]")

from curvecast.integrations.optuna import ATTRS, CurvecastPruner, predicted_value  # noqa: E402

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
        assert t.user_attrs[ATTRS["pruned"]] is True
        assert t.user_attrs[ATTRS["probability"]] >= 0.99
        assert predicted_value(t) == pytest.approx(t.user_attrs[ATTRS["predicted"]])
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
    with pytest.raises(ValueError, match="min_complete must be >= 5"):
        CurvecastPruner(min_complete=2)
    with pytest.raises(ValueError, match="n_warmup_steps must be a whole number, got nan"):
        CurvecastPruner(n_warmup_steps=float("nan"))
    with pytest.raises(ValueError, match="min_complete must be a whole number, got nan"):
        CurvecastPruner(min_complete=float("nan"))
    with pytest.raises(TypeError, match="predictor must be a curvecast Predictor"):
        CurvecastPruner(predictor="chain")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fallback must be an Optuna pruner"):
        CurvecastPruner(fallback="median")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"prior must be a CurveSet \(load a file with"):
        CurvecastPruner(prior="x.parquet")  # type: ignore[arg-type]


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
    assert pruned and all(ATTRS["predicted"] in t.user_attrs for t in pruned)


def synthetic_curves(n: int, seed: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Accuracy-like curves whose final value depends on lr and width."""
    rng = np.random.default_rng(seed)
    lr = 10 ** rng.uniform(-4, -1, n)
    width = rng.choice([16, 32, 64, 128], n)
    final = 0.9 - 0.08 * (np.log10(lr) + 2.5) ** 2 + 0.02 * np.log2(width / 16) \
        + rng.normal(0, 0.01, n)
    t = np.arange(1, 11)
    values = final[:, None] - (0.5 + 0.1 * rng.random(n))[:, None] * np.exp(-t[None, :] / 3)
    return values, pd.DataFrame({"lr": lr, "width": width})


def test_warm_start_from_a_prior_prunes_from_the_second_trial() -> None:
    from curvecast import CurveSet, Direction
    from curvecast.predictors import SRM

    prior_values, prior_configs = synthetic_curves(40, seed=1)
    prior = CurveSet(values=prior_values, observed=np.ones(prior_values.shape, dtype=bool),
                     epochs=np.arange(1, 11), metric="val_accuracy", direction=Direction.MAXIMIZE,
                     configs=prior_configs.set_axis([f"p{i}" for i in range(40)]))
    values, configs = synthetic_curves(60, seed=2)  # the study's configs: none is in the prior

    def objective(trial: optuna.Trial) -> float:
        i = trial.suggest_int("config", 0, len(values) - 1)  # not in the prior: left out
        trial.suggest_float("lr", float(configs.lr[i]), float(configs.lr[i]))
        trial.set_user_attr("width", int(configs.width[i]))  # known once the net is built
        for epoch, value in enumerate(values[i], start=1):
            trial.report(float(value), step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(values[i, -1])

    pruner = CurvecastPruner(delta=0.95, min_complete=30, refit_every=None, prior=prior,
                             config_attrs=["width"], predictor=SRM(n_draws=5))
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner)
    study.optimize(objective, n_trials=40)
    states = [t.state for t in study.get_trials()]
    # 40 prior curves count toward min_complete = 30: judged after the first completion
    assert states.index(optuna.trial.TrialState.PRUNED) <= 3
    pruned = [t for t in study.get_trials() if t.state is optuna.trial.TrialState.PRUNED]
    assert len(pruned) >= 15
    assert all(ATTRS["predicted"] in t.user_attrs for t in pruned)
    assert sorted(pruner.stopper.prior.configs.columns) == ["lr", "width"]  # type: ignore[union-attr]
    sampled = {t.params["config"] for t in study.get_trials()}
    assert study.best_value == max(values[i, -1] for i in sampled)

    minimize = optuna.create_study(direction="minimize", pruner=CurvecastPruner(prior=prior))
    with pytest.raises(ValueError, match=r"maximized but study .* minimizes its objective"):
        minimize.optimize(objective, n_trials=3)


def test_fallback_decides_until_the_predictor_can_be_fitted() -> None:
    from curvecast.predictors import SRM

    values, configs = synthetic_curves(80, seed=3)

    def objective(trial: optuna.Trial) -> float:
        i = trial.suggest_int("config", 0, len(values) - 1)
        if configs.width[i] >= 64:  # a conditional parameter: only some trials have it
            trial.suggest_float("dropout", 0.0, 0.5)
        for epoch, value in enumerate(values[i], start=1):
            trial.report(float(value), step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(values[i, -1])

    pruner = CurvecastPruner(delta=0.95, min_complete=8, refit_every=None,
                             predictor=SRM(n_draws=5),
                             fallback=optuna.pruners.MedianPruner(n_startup_trials=3))
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner)
    study.optimize(objective, n_trials=80)
    trials = study.get_trials()
    by_fallback = [t for t in trials if t.user_attrs.get(ATTRS["fallback"])]
    by_prediction = [t for t in trials if t.user_attrs.get(ATTRS["pruned"]) is True
                     and ATTRS["predicted"] in t.user_attrs]
    assert by_fallback and by_prediction
    assert max(t.number for t in by_fallback) < min(t.number for t in by_prediction)
    assert all(t.state is optuna.trial.TrialState.PRUNED for t in by_fallback)
    assert all(predicted_value(t) is None for t in by_fallback)  # no prediction to give


def test_a_trial_judged_after_later_trials_finished_sees_all_of_them() -> None:
    """In a parallel study trials finish out of order: trial 0 is judged after trials 1-80 have
    finished.  The study view curvecast builds must hold every one of them (a config row for
    each trial, as curvecast's History requires), and the decision must use them."""
    from curvecast.integrations.optuna import _StudyCurves

    t = np.arange(1, 11)
    rng = np.random.default_rng(3)
    values = rng.uniform(0.5, 0.9, (81, 1)) * (1 - np.exp(-t[None, :] / 3))
    pruner = CurvecastPruner()
    study = optuna.create_study(direction="maximize", pruner=pruner)
    first = study.ask()  # trial 0: starts first, reports last
    for i in range(1, 81):
        trial = study.ask()
        for epoch, value in enumerate(values[i], start=1):
            trial.report(float(value), step=epoch)
        study.tell(trial, float(values[i, -1]))
    first.report(0.01, step=1)  # far below every finished curve
    frozen = study._storage.get_trial(first._trial_id)
    history, running = _StudyCurves((), None, with_configs=False).history(study, frozen)
    assert history is not None and running is not None
    assert history.n_trials == 81 and history.completed().n_configs == 80
    assert pruner.prune(study, frozen)


def test_trials_in_threads_share_one_pruner() -> None:
    """``study.optimize(n_jobs=4)`` runs trials in four threads that call one pruner: every
    decision must see a consistent study view (without the pruner's lock, a thread rebuilt
    the finished-trial matrix while another added rows, and the study crashed with an
    IndexError).  Every finished trial is then in the view exactly once, and the pruner
    still prunes most trials."""
    import time

    pruner = CurvecastPruner()

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        noise = np.random.default_rng(trial.number).normal(0.0, 0.01, 20)
        value = 0.0
        for epoch in range(1, 21):
            value = x * (1.0 - math.exp(-epoch / 5.0)) + float(noise[epoch - 1])
            trial.report(value, step=epoch)
            time.sleep(0.0005)  # lets the other threads in between reports
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    study = optuna.create_study(direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, inside decisions too
    try:
        study.optimize(objective, n_trials=200, n_jobs=4, catch=())  # errors propagate
    finally:
        sys.setswitchinterval(interval)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) >= 150
    ids = [row[0] for row in pruner._study(study).curves._rows]
    assert len(ids) == len(set(ids)) >= 195  # the last finishers may not have been read yet


def test_a_copied_or_pickled_pruner_decides_alone() -> None:
    """The pruner's lock is not shared by its copies: a deep copy and a pickled copy work."""
    import copy
    import pickle

    def states(pruner: CurvecastPruner) -> list[str]:
        study = optuna.create_study(direction="maximize", pruner=pruner,
                                    sampler=optuna.samplers.RandomSampler(seed=0))
        study.optimize(_hopeless_or_good, n_trials=16)
        return [t.state.name for t in study.trials]

    pruner = CurvecastPruner(delta=0.95)
    original = states(copy.deepcopy(pruner))
    assert original.count("PRUNED") >= 3  # the hopeless trials after the first 5 complete
    for twin in (copy.deepcopy(pruner), pickle.loads(pickle.dumps(pruner))):
        assert twin.stopper.delta == 0.95 and twin._lock is not pruner._lock
        assert states(twin) == original


def _hopeless_or_good(trial: optuna.Trial) -> float:
    """Trials of two kinds: rising to 0.9, or stuck near 0.1 (a third of them, drawn)."""
    x = trial.suggest_float("x", 0.0, 1.0)
    hopeless = x < 1 / 3 and trial.number >= 5
    top = 0.1 if hopeless else 0.8 + 0.1 * x  # the good ones end at 0.83-0.9
    for epoch in range(1, 6):
        trial.report(top * (1 - 0.5 ** epoch), step=epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return top * (1 - 0.5 ** 5)


def _report_and_finish(trial: optuna.Trial) -> float:
    for epoch in range(1, 6):
        trial.report(0.1 * epoch, step=epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return 0.5


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_two_extreme_reports_do_not_stop_all_pruning(direction: str) -> None:
    """Two trials report a spike of 1e100 at step 2 and recover (a loss that blew up for one
    epoch).  The study is pruned as the one without the spikes: before, the spike set the
    predictor's unit, the other values shrank to nothing next to its ridge, and nothing was
    pruned at all (1e3 was enough when maximising)."""
    def states(spike: float | None) -> str:
        rng = np.random.default_rng(0)

        def objective(trial: optuna.Trial) -> float:
            q = rng.uniform(0, 1)
            for epoch in range(1, 11):
                value = ((1 + q) * np.exp(-0.2 * epoch) if direction == "minimize"
                         else q * (1 - np.exp(-0.3 * epoch))) + 0.01 * rng.normal()
                if spike is not None and trial.number in (3, 7) and epoch == 2:
                    value = spike
                trial.report(value, epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return value

        study = optuna.create_study(direction=direction, pruner=CurvecastPruner())
        study.optimize(objective, n_trials=30)
        return "".join("P" if t.state.name == "PRUNED" else "C" for t in study.trials)

    plain, spiked = states(None), states(1e100)
    assert spiked.count("P") >= 17, spiked
    assert abs(spiked.count("P") - plain.count("P")) <= 2, (plain, spiked)


def _rising_study(nan_at: Callable[[int, int], bool], first_step: int = 1) -> optuna.Study:
    """A 20-trial study of rising curves (40 configs, 10 steps) under ``CurvecastPruner()``; a
    trial reports NaN at step 0 (when ``first_step`` is 0) and where ``nan_at(number, step)``."""
    rng = np.random.default_rng(3)
    values = 0.5 + np.cumsum(rng.uniform(0.0, 0.05, (40, 10)), axis=1)

    def objective(trial: optuna.Trial) -> float:
        i = trial.suggest_int("config", 0, len(values) - 1)
        for step in range(first_step, values.shape[1] + 1):
            nan = step == 0 or nan_at(trial.number, step)
            trial.report(float("nan") if nan else float(values[i, step - 1]), step=step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(values[i, -1])

    study = optuna.create_study(direction="maximize", pruner=CurvecastPruner(),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=20)
    return study


def test_a_trial_that_reports_nan_is_pruned_at_that_step_and_marked() -> None:
    study = _rising_study(lambda number, step: number >= 8 and number % 2 == 0 and step >= 3)
    diverging = [t for t in study.trials if t.number >= 8 and t.number % 2 == 0]
    for t in diverging:  # 5 complete trials before the first: each is judged at its NaN
        assert t.state is optuna.trial.TrialState.PRUNED, t.number
        assert t.last_step == 3
        assert t.user_attrs[ATTRS["diverged"]] is True and t.user_attrs[ATTRS["step"]] == 3
    assert sum(t.state is optuna.trial.TrialState.COMPLETE for t in study.trials[:8]) >= 5


def test_a_nan_every_trial_reports_at_its_first_step_does_not_prune_them_all() -> None:
    """A study whose every trial logs NaN at step 0 (a metric not defined before training):
    the complete trials came back from it, so it is no sign of divergence and the later trials
    are judged by their predictions, not all pruned at step 0 as diverged."""
    study = _rising_study(lambda number, step: False, first_step=0)
    at_step_0 = [t.number for t in study.trials if t.last_step == 0]
    assert not at_step_0, f"trials {at_step_0} were pruned at step 0 as diverged"
    assert not any(ATTRS["diverged"] in t.user_attrs for t in study.trials)
    assert any(t.state is optuna.trial.TrialState.PRUNED for t in study.trials)


def reporting(values: np.ndarray, first_step: int = 1, stop_at: int | None = None):  # type: ignore[no-untyped-def]
    """An objective reporting recorded config i from ``first_step``; with ``stop_at``, odd
    configs end after that many steps on their own (an objective's own early stopping)."""

    def objective(trial: optuna.Trial) -> float:
        i = trial.suggest_int("config", 0, len(values) - 1)
        steps = values[i] if stop_at is None or i % 2 == 0 else values[i, :stop_at]
        for k, value in enumerate(steps):
            trial.report(float(value), step=first_step + k)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(steps[-1])

    return objective


def test_trials_that_end_early_on_their_own_are_partial_curves_and_said() -> None:
    """A user's review: trials that completed after fewer steps than the longest (an objective's
    own early stopping, a suggested number of epochs) were dropped whole, and pruning silently
    never started. They are now partial curves, and the wait for full-length trials is said."""
    values, _ = synthetic_curves(60, seed=3)
    pruner = CurvecastPruner()
    study = optuna.create_study(direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    with pytest.warns(UserWarning, match=r"trial \d+ completed after 4 of the 10 steps") as seen:
        study.optimize(reporting(values, stop_at=4), n_trials=60)
    assert len([w for w in seen if "CurvecastPruner" in str(w.message)]) == 1  # once
    rows = pruner._study(study).curves._rows
    assert 4 in {k for _, _, k, _ in rows}  # the short ones teach, as partial curves
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) >= 10


def test_one_trial_with_a_step_the_others_lack_does_not_turn_pruning_off() -> None:
    """A user's review: one trial that also reported step 0 (the untrained network) made step 0
    the axis's first step, so no other trial had a curve and nothing was ever pruned, silently.
    Leading steps that fewer than half of the complete trials report are left out, and said;
    an extra last step is still waited for, and the warning names the trial that reported it."""
    values, _ = synthetic_curves(60, seed=3)
    plain = reporting(values)

    def with_step_0(trial: optuna.Trial) -> float:
        if trial.number == 2:
            trial.report(0.1, step=0)
        return float(plain(trial))

    pruner = CurvecastPruner()
    study = optuna.create_study(direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    with pytest.warns(UserWarning, match=r"step\(s\) 0 reported by trial 2 but by no more than "
                                         r"half of the complete trials that ran that far are "
                                         r"left out") as seen:
        study.optimize(with_step_0, n_trials=60)
    assert len([w for w in seen if "CurvecastPruner" in str(w.message)]) == 1
    pruned = [t for t in study.trials if t.state is optuna.trial.TrialState.PRUNED]
    reference = optuna.create_study(direction="maximize", pruner=CurvecastPruner(),
                                    sampler=optuna.samplers.RandomSampler(seed=0))
    reference.optimize(plain, n_trials=60)
    assert len(pruned) >= 10 and abs(len(pruned) - sum(
        t.state is optuna.trial.TrialState.PRUNED for t in reference.trials)) <= 3

    def with_last_step(trial: optuna.Trial) -> float:
        value = float(plain(trial))
        if trial.number == 2:
            trial.report(value, step=values.shape[1] + 1)  # e.g. a test metric logged last
        return value

    study = optuna.create_study(direction="maximize", pruner=CurvecastPruner(),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    with pytest.warns(UserWarning, match=r"completed after 10 of the 11 steps that trial 2, the "
                                         r"longest complete trial, reported"):
        study.optimize(with_last_step, n_trials=12)


def test_an_extra_step_in_one_trial_is_left_out_and_named() -> None:
    """A user's review (stop 29): every trial reports steps 10, 20, …, but trial 2 also reports
    step 55 (one extra evaluation).  Step 55 became part of the axis, every other trial was cut
    short at step 50, and nothing was pruned; the warning named trial 0.  A step that no more
    than half of the complete trials that ran that far report is left out, and the trial is
    named."""
    values, _ = synthetic_curves(60, seed=3)

    def every_tenth(extra: bool):  # type: ignore[no-untyped-def]
        def objective(trial: optuna.Trial) -> float:
            i = trial.suggest_int("config", 0, len(values) - 1)
            for k, value in enumerate(values[i]):
                trial.report(float(value), step=10 * (k + 1))
                if extra and trial.number == 2 and k == 4:
                    trial.report(float(value), step=55)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return float(values[i, -1])
        return objective

    def pruned(objective) -> int:  # type: ignore[no-untyped-def]
        study = optuna.create_study(direction="maximize", pruner=CurvecastPruner(),
                                    sampler=optuna.samplers.RandomSampler(seed=0))
        study.optimize(objective, n_trials=40)
        return sum(t.state is optuna.trial.TrialState.PRUNED for t in study.trials)

    with pytest.warns(UserWarning, match=r"step\(s\) 55 reported by trial 2 but by no more "
                                         r"than half .* \(its steps are the 10 that most report, "
                                         r"10 to 100\)"):
        with_extra = pruned(every_tenth(True))
    assert with_extra >= 10 and abs(with_extra - pruned(every_tenth(False))) <= 3


def test_a_copied_pruner_given_a_study_of_the_same_name_elsewhere_starts_afresh(
        tmp_path: Path) -> None:
    """A user's review (stop 29): a pickled or deep-copied pruner knows its studies by name and
    id only.  Given a new study of the same name in another SQLite file (id 1 as well), it
    failed every trial on a bare ``AssertionError``, or (without configs) pruned the new study's
    first trials against the old study's values.  The same study, resumed, keeps its cache."""
    import copy
    import pickle

    values, _ = synthetic_curves(60, seed=4)
    pruner = CurvecastPruner()
    first = optuna.create_study(study_name="exp", storage=f"sqlite:///{tmp_path / 'a.db'}",
                                direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    first.optimize(reporting(values * 100), n_trials=30)  # percent
    assert any(t.state is optuna.trial.TrialState.PRUNED for t in first.trials)
    for clone in (pickle.loads(pickle.dumps(pruner)), copy.deepcopy(pruner)):
        other = optuna.create_study(study_name="exp", storage=f"sqlite:///{tmp_path / 'b.db'}",
                                    direction="maximize", pruner=clone,
                                    sampler=optuna.samplers.RandomSampler(seed=1))
        other.optimize(reporting(values), n_trials=4)  # fewer than min_complete: no judging
        assert [t.state for t in other.trials] == [optuna.trial.TrialState.COMPLETE] * 4
        optuna.delete_study(study_name="exp", storage=f"sqlite:///{tmp_path / 'b.db'}")
    resumed = pickle.loads(pickle.dumps(pruner))
    (cached,) = [e.curves for e in resumed._detached if e.name == "exp"]
    again = optuna.load_study(study_name="exp", storage=f"sqlite:///{tmp_path / 'a.db'}",
                              pruner=resumed)
    again.optimize(reporting(values * 100), n_trials=5)
    assert resumed._study(again).curves is cached  # the same study: its view was kept


def test_a_study_made_anew_under_the_same_name_starts_afresh() -> None:
    """A user's review: one pruner reused for a new study of the same name (a notebook cell run
    again, a study deleted and made anew) crashed on a bare assert, or judged the new trials
    against the old study's."""
    values, _ = synthetic_curves(60, seed=4)
    pruner = CurvecastPruner()
    first = optuna.create_study(study_name="s", direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    first.optimize(reporting(values), n_trials=40)
    assert any(t.state is optuna.trial.TrialState.PRUNED for t in first.trials)
    again = optuna.create_study(study_name="s", direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=1))
    again.optimize(reporting(values), n_trials=4)  # fewer than min_complete: nothing is judged
    assert [t.state for t in again.trials] == [optuna.trial.TrialState.COMPLETE] * 4


def test_a_prior_from_a_study_that_reported_from_step_0(tmp_path: Path) -> None:
    """A user's review: Optuna's Lightning and Keras callbacks report from step 0; a prior from
    such a study lost its step 0, and the next study crashed at its first decision."""
    import curvecast

    values, _ = synthetic_curves(60, seed=5)
    storage = f"sqlite:///{tmp_path / 'last.db'}"
    last = optuna.create_study(study_name="last", storage=storage, direction="maximize",
                               sampler=optuna.samplers.RandomSampler(seed=0))
    last.optimize(reporting(values, first_step=0), n_trials=20)
    prior = curvecast.from_optuna(storage, "last")
    assert prior.epochs[0] == 0
    study = optuna.create_study(direction="maximize", pruner=CurvecastPruner(prior=prior),
                                sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(reporting(values, first_step=0), n_trials=30)
    assert sum(t.state is optuna.trial.TrialState.PRUNED for t in study.trials) >= 5
    one_based = optuna.create_study(direction="maximize", pruner=CurvecastPruner(prior=prior),
                                    sampler=optuna.samplers.RandomSampler(seed=1))
    with pytest.raises(ValueError, match=r"the prior counts epochs from 0 .* report them the "
                                         r"same way in both"):
        one_based.optimize(reporting(values, first_step=1), n_trials=30)


def test_runs_that_collapse_do_not_widen_what_the_pruner_is_unsure_of() -> None:
    """A user's stress test: two of the first complete trials collapsing to 0 after half their
    steps made the pruner spend 1.7x the epochs on the normal trials of the whole study: they
    pulled each link's line down and widened the one-sided σ.  The default now refits the links
    without such rows (``HorizonChain(trim_worse=5)``, stop 28)."""
    from curvecast.predictors import HorizonChain

    T = 20
    x = np.arange(1, T + 1)

    def normal_epochs(trim: float | None, collapse: bool) -> int:
        spent = 0
        for seed in range(3):
            def objective(trial: optuna.Trial, seed: int = seed) -> float:
                r = np.random.default_rng(1000 * seed + trial.number)
                curve = (r.uniform(0.5, 0.95) * (1 - np.exp(-r.uniform(0.1, 0.5) * x))
                         + r.normal(0, 0.005, T))
                value = 0.0
                for step, value in enumerate(curve, 1):
                    if collapse and trial.number % 5 == 0 and step > 10:
                        value = 0.0
                    trial.report(float(value), step)
                    if trial.should_prune():
                        raise optuna.TrialPruned()
                return float(value)

            pruner = CurvecastPruner(predictor=HorizonChain(trim_worse=trim))
            study = optuna.create_study(direction="maximize", pruner=pruner,
                                        sampler=optuna.samplers.RandomSampler(seed=seed))
            study.optimize(objective, n_trials=60)
            spent += sum(len(t.intermediate_values) for t in study.trials if t.number % 5)
        return spent

    clean = normal_epochs(5.0, collapse=False)
    assert clean == normal_epochs(None, collapse=False)  # nothing to trim: the same decisions
    untrimmed, trimmed = normal_epochs(None, collapse=True), normal_epochs(5.0, collapse=True)
    assert untrimmed > 1.4 * clean
    assert trimmed < 1.15 * clean
    assert HorizonChain().trim_worse == 5.0  # the default


def test_a_predictor_the_default_min_complete_cannot_fit_is_refused_at_once() -> None:
    """A user's review (stop 29): ``CurvecastPruner(predictor=SRM.paper())``, as the docstring
    suggests, failed the study at its 5th trial ("an SRM needs at least 6 curves"): an SRM's
    3-fold cross-validation needs 6.  Refused when made, naming the ``min_complete`` to use;
    a margin or share that is not a number is a TypeError, not a failed comparison."""
    from curvecast.predictors import SRM

    with pytest.raises(ValueError, match=r"min_complete must be >= 6 with SRM\(.*got 5"):
        CurvecastPruner(predictor=SRM.paper())
    assert CurvecastPruner(predictor=SRM.paper(), min_complete=6).stopper.min_complete == 6
    with pytest.raises(TypeError, match=r"margin \(δ\) must be a number >= 0, got 'x'"):
        CurvecastPruner(margin="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"explore must be a number in \[0, 1\) or None"):
        CurvecastPruner(explore="0.1")  # type: ignore[arg-type]
    for attrs in (3, [3], "n_params"):
        with pytest.raises(TypeError, match="config_attrs must be a sequence of user-attribute"):
            CurvecastPruner(config_attrs=attrs)  # type: ignore[arg-type]


def _every_other_step_study(a_best: float, every_best: int, hopeless_every: int,
                            report_nan: bool = False) -> optuna.study.Study:
    """Six ordinary trials (a·(1 − e^(−s/2)), steps 1–10), then the study's best (``a_best``,
    reporting every ``every_best`` step), three clearly worse, and a hopeless one reporting every
    ``hopeless_every`` step (NaN from step 4 with ``report_nan``)."""

    def objective(trial: optuna.Trial) -> float:
        a = trial.suggest_float("a", 0.1, 1.0)
        every = trial.suggest_categorical("eval_every", [1, 2, 5])
        for s in range(1, 11):
            if s % every:
                continue
            value = a * (1 - math.exp(-0.5 * s))
            trial.report(float("nan") if report_nan and a < 0.3 and s >= 4 else value, s)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return a * (1 - math.exp(-5.0))

    study = optuna.create_study(direction="maximize", pruner=CurvecastPruner())
    for a in (0.50, 0.52, 0.54, 0.56, 0.58, 0.60):
        study.enqueue_trial({"a": a, "eval_every": 1})
    study.enqueue_trial({"a": a_best, "eval_every": every_best})
    for a in (0.70, 0.75, 0.80):
        study.enqueue_trial({"a": a, "eval_every": 1})
    study.enqueue_trial({"a": 0.20, "eval_every": hopeless_every})
    study.optimize(objective, n_trials=11)
    return study


def test_a_trial_that_reports_every_other_step_counts_and_is_judged() -> None:
    """A user's review (stop 31): a trial that evaluated every other epoch lacked the axis's first
    step and was dropped whole, without a word, even as the study's best: the clearly worse
    trials after it ran to the end, and a hopeless one reporting every other step was never
    judged.  Its skipped steps are now filled (warned once)."""
    with pytest.warns(UserWarning, match=r"trial 6 skipped steps of the budget axis") as seen:
        study = _every_other_step_study(0.95, every_best=2, hopeless_every=2)
    assert len([w for w in seen if "CurvecastPruner" in str(w.message)]) == 1
    states = [t.state for t in study.trials]
    assert states[6] is optuna.trial.TrialState.COMPLETE  # the best ran to the end
    assert states[7:] == [optuna.trial.TrialState.PRUNED] * 4  # judged against it
    assert study.trials[10].last_step <= 4  # the hopeless one, by its second report
    # the one that evaluated every other epoch ran its 5 reports; the worse ones 1 or 2 steps
    assert [len(t.intermediate_values) for t in study.trials[6:10]] == [5, 1, 1, 2]


def test_a_diverged_report_after_a_skipped_step_is_pruned() -> None:
    """A trial reporting every other step that then reports NaN is pruned as diverged there
    (before, it was read only up to its first gap, so its NaN was never seen)."""
    study = _every_other_step_study(0.95, every_best=1, hopeless_every=2, report_nan=True)
    hopeless = study.trials[10]  # the last trial: pruned while it ran, so not said to skip
    assert hopeless.state is optuna.trial.TrialState.PRUNED



def test_steps_reported_out_of_order_are_not_skipped_and_a_later_real_skip_is_named() -> None:
    """A review: a trial reporting steps 1, 2, 4, 3, 5 … 10 was warned of as having "skipped
    steps of the budget axis" while it ran (step 3 had not come yet), and since that warning is
    given once per study, a trial that really skipped a step later was never named.  Only a
    finished trial's skipped steps are judged now."""
    import warnings

    orders = {3: [1, 2, 4, 3, *range(5, 11)], 5: [1, 2, *range(4, 11)]}  # trial 5 skips step 3

    def objective(trial: optuna.Trial) -> float:
        a = trial.suggest_float("a", 0.5 + 0.01 * trial.number, 0.5 + 0.01 * trial.number)
        for s in orders.get(trial.number, range(1, 11)):
            trial.report(a * (1 - math.exp(-0.5 * s)), s)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return a * (1 - math.exp(-5.0))

    def said(n_trials: int) -> list[str]:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            study.optimize(objective, n_trials=n_trials)
        return [str(w.message) for w in seen if "skipped steps" in str(w.message)]

    study = optuna.create_study(direction="maximize", pruner=CurvecastPruner())
    assert said(5) == []  # trial 3, out of order, ran and finished; trial 4 saw it finished
    assert said(2) == ["CurvecastPruner: trial 5 skipped steps of the budget axis (1 when first "
                       "seen); a trial's skipped steps are filled linearly between its reports, "
                       "and with its first report before it"]
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 7

def test_a_trial_that_reports_too_few_steps_is_read_to_its_first_gap_and_said() -> None:
    """A trial that reported fewer than half the axis steps up to its last report (every fifth)
    is not filled: it is read up to its first gap (here none), and that is said once."""
    with pytest.warns(UserWarning, match=r"trial 6 reported fewer than half the steps") as seen:
        study = _every_other_step_study(0.95, every_best=5, hopeless_every=1)
    assert len([w for w in seen if "CurvecastPruner" in str(w.message)]) == 1
    # the best is not a curve, so the reference stays the sixth trial's: the worse ones after it
    # still run (what a trial reporting every fifth step costs), the hopeless one is pruned
    assert [t.state for t in study.trials[7:10]] == [optuna.trial.TrialState.COMPLETE] * 3
    assert study.trials[10].state is optuna.trial.TrialState.PRUNED


def test_a_trial_the_user_prunes_after_its_last_step_is_not_the_best_so_far() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    levels = [0.6, 0.65, 0.7, 0.62, 0.68, 0.66, 0.99, 0.8, 0.85, 0.9, 0.82, 0.88]

    def objective(trial: optuna.Trial) -> float:
        level = levels[trial.number]
        trial.suggest_float("x", level, level)
        for epoch in range(1, 21):
            value = level * (1 - math.exp(-epoch / 3))
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        if trial.number == 6:  # the user's own limit (size, latency) rules this one out
            raise optuna.TrialPruned()
        return value

    study = optuna.create_study(direction="maximize", pruner=CurvecastPruner())
    study.optimize(objective, n_trials=len(levels))
    # judged against the best complete trial, not against trial 6's 0.99: 0.8, 0.85 and 0.9
    # each beat the best so far and run to the end; 0.82 and 0.88 then trail 0.9
    assert [t.state.name for t in study.trials[7:]] == ["COMPLETE"] * 3 + ["PRUNED"] * 2
    assert study.best_trial.number == 9


def test_failed_trials_teach_the_predictor_as_partial_curves() -> None:
    """A trial that raised (out of memory at epoch 4) or returned NaN after its reports is
    FAILED in Optuna; what it reported is still a partial curve the pruner learns from, and one
    that failed after its last step does not count as complete."""
    from curvecast.integrations.optuna import _StudyCurves

    t = np.arange(1, 11)
    rng = np.random.default_rng(5)
    values = rng.uniform(0.5, 0.9, (10, 1)) * (1 - np.exp(-t[None, :] / 3))
    study = optuna.create_study(direction="maximize", pruner=CurvecastPruner())
    for i in range(6):
        trial = study.ask()
        for epoch, value in enumerate(values[i], start=1):
            trial.report(float(value), step=epoch)
        study.tell(trial, float(values[i, -1]))
    raised = study.ask()  # fails after 4 epochs
    for epoch in range(1, 5):
        raised.report(float(values[6, epoch - 1]), step=epoch)
    study.tell(raised, state=optuna.trial.TrialState.FAIL)
    nan_end = study.ask()  # reports every step, then its objective returns NaN: FAILED
    for epoch, value in enumerate(values[7], start=1):
        nan_end.report(float(value), step=epoch)
    study.tell(nan_end, float("nan"))
    assert study.trials[7].state is optuna.trial.TrialState.FAIL
    running = study.ask()
    running.report(float(values[8, 0]), step=1)
    frozen = study._storage.get_trial(running._trial_id)
    history, judged = _StudyCurves((), None, with_configs=False).history(study, frozen)
    assert history is not None and judged is not None
    assert history.n_trials == 9
    assert history.n_complete == 6
    assert list(history.n_observed[6:8]) == [4, 9]


def test_a_step_beyond_int64_is_refused_in_words() -> None:
    """A review (stop 35): steps of 2**63 or more (Optuna's in-memory storage takes them) hit
    numpy's OverflowError deep inside the pruner."""
    study = optuna.create_study(direction="maximize", pruner=CurvecastPruner())
    trial = study.ask()
    trial.report(0.5, step=2**63 + 1)
    with pytest.raises(ValueError, match=r"reported at step 9223372036854775809; steps are "
                                         r"epochs, at most 9223372036854775807"):
        trial.should_prune()


def test_the_study_view_grown_trial_by_trial_is_the_one_built_at_once() -> None:
    """The rows, matrix and config table kept across calls (only new trials looked at) equal
    those of a view built from every finished trial at once, conditional parameters included."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import TrialState, create_trial

    from curvecast.integrations.optuna import _FINISHED, _StudyCurves

    study = optuna.create_study(direction="maximize")
    grown = _StudyCurves(("n",), None, with_configs=True)
    for i in range(150):
        params = {"a": 0.3 + (i % 7) / 10, "opt": ["sgd", "adam"][i % 2]}
        dists = {"a": FloatDistribution(0, 1), "opt": CategoricalDistribution(["sgd", "adam"])}
        if i % 2 == 0 and i > 40:  # a conditional parameter that appears late
            params["mom"], dists["mom"] = (i % 5) / 5, FloatDistribution(0, 1)
        steps = 8 if i % 4 == 0 else 1 + i % 5
        study.add_trial(create_trial(
            params=params, distributions=dists, user_attrs={"n": i} if i % 3 else {},
            intermediate_values={e: params["a"] * e / 8 for e in range(1, steps + 1)},
            value=params["a"] if steps == 8 else None,
            state=TrialState.COMPLETE if steps == 8 else TrialState.PRUNED))
        running = study.ask()
        running.report(0.1, 1)
        frozen = study.get_trials(deepcopy=False)[-1]
        finished = study.get_trials(deepcopy=False, states=_FINISHED)
        got, _ = grown.history(study, frozen, finished)
        want, _ = _StudyCurves(("n",), None, with_configs=True).history(study, frozen, finished)
        study.tell(running, state=TrialState.PRUNED)
        if want is None:
            assert got is None
            continue
        assert got is not None
        np.testing.assert_array_equal(got.values, want.values)
        np.testing.assert_array_equal(got.n_observed, want.n_observed)
        assert list(got.config_ids) == list(want.config_ids)
        pd.testing.assert_frame_equal(got.configs, want.configs)


def test_check_prior_refuses_a_study_of_several_objectives_with_no_prior_too() -> None:
    """A review (stop 37): ``check_prior`` returned silently on a multi-objective study when no
    prior was given, though the pruner can judge only one metric."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    with pytest.raises(ValueError, match="single-objective studies; this one has 2 objectives"):
        CurvecastPruner().check_prior(study)
    CurvecastPruner().check_prior(optuna.create_study(direction="maximize"))  # one: accepted


def _filled_study(pruner: CurvecastPruner, name: str, top: float) -> optuna.Study:
    """An in-memory study named ``name`` with 10 complete trials rising to about ``top``."""
    study = optuna.create_study(study_name=name, direction="maximize", pruner=pruner)
    for k in range(10):
        trial = study.ask()
        final = top + 0.01 * k
        for epoch in range(1, 11):
            trial.report(final * (1 - 0.5 ** epoch), step=epoch)
        study.tell(trial, final * (1 - 0.5 ** 10))
    return study


def test_two_studies_of_one_name_used_in_turn_keep_their_views_and_exploration() -> None:
    """Two studies named alike in different storages (two in-memory ones) share one pruner and
    run in turn.  The pruner knew its studies by name: each switch threw the other study's view
    away and rebuilt it under a new key, so what exploration had decided for a running trial
    was forgotten: a hopeless trial let run on from step 1 to step 2 was drawn for anew at each
    of its steps, and let run on again and again.  Known by storage and id, each study keeps its
    view and its decisions."""
    pruner = CurvecastPruner(delta=0.5, explore=0.99, explore_trials=None)
    a = _filled_study(pruner, "same", top=0.9)
    b = _filled_study(pruner, "same", top=0.9)
    hopeless = a.ask()
    other = b.ask()
    pruned_at = None
    for epoch in range(1, 11):
        hopeless.report(0.1 * (1 - 0.5 ** epoch), step=epoch)
        if hopeless.should_prune():
            pruned_at = epoch
            break
        other.report(0.9 * (1 - 0.5 ** epoch), step=epoch)
        assert not other.should_prune()
    assert pruned_at == 2  # judged hopeless at step 1, let run on to step 2 by exploration
    assert len({pruner._study(a).key, pruner._study(b).key}) == 2


def test_a_study_dropped_by_the_user_is_not_kept_alive_by_the_pruner() -> None:
    """Studies are known by their storage object, so the pruner must not hold the storages
    itself: a notebook that makes a new study per run would keep every old one (all its trials)
    in memory.  It held the last study of each name alive until another of that name came."""
    import gc
    import weakref

    values, _ = synthetic_curves(60, seed=4)
    pruner = CurvecastPruner()
    for seed in range(3):  # a notebook cell run three times
        study = optuna.create_study(direction="maximize", pruner=pruner,
                                    sampler=optuna.samplers.RandomSampler(seed=seed))
        study.optimize(reporting(values), n_trials=8)
        assert any(t.state is optuna.trial.TrialState.PRUNED for t in study.trials)
        storage = weakref.ref(study._storage)
        del study
        gc.collect()
        assert storage() is None
    assert len(pruner._curves) == 1  # the views of the freed storages were dropped


def test_a_new_storage_at_a_freed_storages_address_is_not_taken_for_it() -> None:
    """Views are found by the storage object's id, which Python gives again once the object
    is freed: a new in-memory study at a freed one's address, of the same name and id, must
    start afresh, not be judged against the freed study's curves (its trial 0 would meet the
    old trial 0)."""
    import gc

    values, _ = synthetic_curves(60, seed=4)
    pruner = CurvecastPruner()
    seen: set[int] = set()
    for seed in range(200):
        study = optuna.create_study(study_name="s", direction="maximize", pruner=pruner,
                                    sampler=optuna.samplers.RandomSampler(seed=seed))
        reused = id(study._storage) in seen
        seen.add(id(study._storage))
        study.optimize(reporting(values), n_trials=6, catch=())
        assert [t.state for t in study.trials[:5]] == [optuna.trial.TrialState.COMPLETE] * 5
        # the view the sixth trial was judged with: this study's first five trials, once
        assert [row[0] for row in pruner._study(study).curves._rows] == [f"t{i}" for i in range(5)]
        if reused:
            break
        del study
        gc.collect()
    assert reused  # CPython gives a freed address again within a few objects


def test_copying_the_pruner_or_checking_a_prior_waits_for_the_trials_in_other_threads() -> None:
    """``optimize(n_jobs=2)`` judges trials in threads that add views and rows to the pruner;
    a copy (or pickle) read those and ``check_prior`` added a view without the pruner's lock,
    so either could see the views change under it.  Both now wait while a trial holds it."""
    import copy
    import threading

    pruner = CurvecastPruner()
    study = optuna.create_study(direction="maximize", pruner=pruner)
    done: list[str] = []
    calls = (("copy", lambda: copy.deepcopy(pruner)),
             ("check_prior", lambda: pruner.check_prior(study)))
    with pruner._lock:  # a trial is being judged in another thread
        threads = [threading.Thread(target=lambda n=name, f=call: (f(), done.append(n)))
                   for name, call in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=0.3)
        assert done == []  # both wait for the trial's decision
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(done) == ["check_prior", "copy"]


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copy_or_pickle_reads_the_views_and_the_stopper_under_the_lock(
        how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``__getstate__`` took the lock, but returned the live views' curves and the stopper
    themselves: ``copy.deepcopy`` and ``pickle`` then walked them after the lock was released,
    while trials in other threads (``optimize(n_jobs=k)``) added rows to the curves and fits to
    the stopper's caches.  Everything a copy or a pickle reads is now read with the lock held."""
    import copy
    import pickle

    from curvecast.integrations import optuna as integration
    from curvecast.stopping.predictive import PredictiveStopper

    pruner = CurvecastPruner(delta=0.5)
    study = _filled_study(pruner, "locked", top=0.9)
    trial = study.ask()
    trial.report(0.1, step=1)
    trial.should_prune()  # the study has a view, the stopper a fit
    held: list[tuple[str, bool]] = []
    live = {id(pruner.stopper), *(id(entry.curves) for entry in pruner._curves.values())}

    def spy(cls: type, name: str) -> None:
        def getstate(self: Any) -> dict[str, Any]:
            if id(self) in live:  # the pruner's own (what a snapshot holds is its own)
                held.append((name, pruner._lock.locked()))
            return dict(self.__dict__)
        monkeypatch.setattr(cls, "__getstate__", getstate, raising=False)

    spy(integration._StudyCurves, "curves")
    spy(PredictiveStopper, "stopper")
    copied = copy.deepcopy(pruner) if how == "deepcopy" else pickle.loads(pickle.dumps(pruner))
    assert {name for name, _ in held} == {"curves", "stopper"}
    assert all(locked for _, locked in held), held
    assert copied._detached and copied.stopper is not pruner.stopper


def test_delta_one_prunes_no_trial_on_a_prediction() -> None:
    # five finished curves (LastSeenValue's σ_1 = 0.1), then a run 11.5σ short of the best at
    # step 1, whose P(worse) rounds to exactly 1.0: Δ = 0.999 prunes it, Δ = 1 lets it finish
    # (before: pruned at Δ = 1 too)
    from curvecast.predictors import LastSeenValue

    finals = np.array([0.5, 0.7, 0.9, 0.6, 0.8])
    values = np.vstack([np.column_stack([finals - 0.1, finals - 0.05, finals]),
                        [-0.25, -0.2, -0.15]])
    states = {}
    for delta in (0.999, 1.0):
        study = optuna.create_study(direction="maximize", pruner=CurvecastPruner(
            delta=delta, min_complete=5, predictor=LastSeenValue()))
        for i in range(len(values)):
            study.enqueue_trial({"config": i, "noise": 0.0})
        study.optimize(replay_objective(values, []), n_trials=len(values))
        last = study.get_trials()[-1]
        states[delta] = (last.state, last.user_attrs.get(ATTRS["probability"]))
    assert states[0.999] == (optuna.trial.TrialState.PRUNED, 1.0)
    assert states[1.0][0] is optuna.trial.TrialState.COMPLETE
