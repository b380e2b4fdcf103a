"""The predictive rule's exploration: a share of the trials it would stop runs on to twice its
epochs, the same trials in every run of the same study, through the library, the registry, the
Optuna pruner and the Ray Tune scheduler."""

from __future__ import annotations

import numpy as np
import pytest

from curvecast import CurveSet, defaults, registry
from curvecast.stopping import History, PredictiveStopper, Trial
from synthetic_curves import synthetic


def _study(n_hopeless: int, tau: int, epochs: int = 20) -> tuple[CurveSet, History, list[str]]:
    """30 complete trials and ``n_hopeless`` copies of the study's worst curve observed for
    ``tau`` epochs (the last of them running)."""
    cs = synthetic(n=60, epochs=epochs, seed=3)
    worst = int(np.argmin(cs.values[:, -1]))
    rows = np.array([*[i for i in range(60) if i != worst][:30], *[worst] * n_hopeless])
    values = cs.values[rows]
    lengths = np.r_[np.full(30, epochs), np.full(n_hopeless, tau)]
    values = np.where(np.arange(epochs)[None, :] < lengths[:, None], values, np.nan)
    ids = [f"t{i}" for i in range(rows.size)]
    configs = cs.configs.iloc[rows].set_axis(ids)
    history = History(values, lengths, ids, configs, cs.epochs, cs.metric, cs.direction,
                      study="s")
    return cs, history, ids


def _decide(stopper: PredictiveStopper, history: History, ids: list[str], row: int,
            tau: int) -> tuple[bool, str]:
    trial = Trial(ids[row], history.configs.iloc[[row]], history.values[row, :tau])
    decision = stopper.decide(trial, history)
    return decision.stop, decision.reason


def test_a_share_of_would_be_stops_runs_on_to_twice_its_epochs() -> None:
    _, history, ids = _study(200, tau=3)  # 230 trials: exploring in every one of them
    stopper = PredictiveStopper(explore=0.25, explore_trials=None)
    stops = [_decide(stopper, history, ids, row, 3) for row in range(30, 230)]
    let_on = [reason for stop, reason in stops if not stop]
    # every one of the 200 hopeless trials would be stopped; about a quarter run on, to epoch 6
    assert 0.17 <= len(let_on) / 200 <= 0.33
    assert stopper.n_explored_ == len(let_on)
    assert all("; let run on to epoch 6 (explore" in reason for reason in let_on)
    # the same trials in a second run of the study (decided in the same order)
    again = PredictiveStopper(explore=0.25, explore_trials=None)
    assert [_decide(again, history, ids, row, 3)[0] for row in range(30, 230)] == \
        [stop for stop, _ in stops]
    # a trial let run on is judged again once it has twice the epochs: hopeless, it stops then
    row = 30 + next(i for i, (stop, _) in enumerate(stops) if not stop)
    _, later, later_ids = _study(200, tau=5)
    assert not _decide(stopper, later, later_ids, row, 5)[0]
    _, later, later_ids = _study(200, tau=6)
    assert _decide(stopper, later, later_ids, row, 6)[0]
    # a trial stopped at its first would-be stop would be stopped again: no second draw
    stopped = 30 + next(i for i, (stop, _) in enumerate(stops) if stop)
    assert _decide(stopper, later, later_ids, stopped, 6)[0]


def test_exploration_can_end_with_a_studys_young_trials() -> None:
    """``explore_trials``: the study's trials (the running one included) up to which would-be
    stops are drawn; a trial let run on before stays let on."""
    _, history, ids = _study(200, tau=3)  # 230 trials
    old = PredictiveStopper(explore=0.25, explore_trials=100)
    assert all(_decide(old, history, ids, row, 3)[0] for row in range(30, 230))
    assert old.n_explored_ == 0
    young = PredictiveStopper(explore=0.25, explore_trials=230)
    let_on = [row for row in range(30, 230) if not _decide(young, history, ids, row, 3)[0]]
    assert 0.17 <= len(let_on) / 200 <= 0.33
    young.explore_trials = 100  # the study grew past it: what was let run on stays let on
    _, later, later_ids = _study(200, tau=5)
    assert not _decide(young, later, later_ids, let_on[0], 5)[0]
    with pytest.raises(ValueError, match="explore_trials"):
        PredictiveStopper(explore_trials=0)


def test_a_trial_let_run_on_is_judged_again_before_the_final_stretch() -> None:
    """20 epochs, final stretch 0.2: epochs 1-16 are judged.  A would-be stop at epoch 10 runs
    on to epoch 16 (not 20), where it is judged again."""
    _, history, ids = _study(40, tau=10)
    stopper = PredictiveStopper(explore=0.5)
    let_on = [row for row in range(30, 70) if not _decide(stopper, history, ids, row, 10)[0]]
    assert let_on and all(stopper.runs_on_until("s", ids[row], 10, 16) == 16 for row in let_on)
    _, later, later_ids = _study(40, tau=16)
    assert all(_decide(stopper, later, later_ids, row, 16)[0] for row in let_on)


def test_no_exploration_stops_every_hopeless_trial() -> None:
    _, history, ids = _study(50, tau=3)
    stopper = PredictiveStopper(explore=0.0)
    assert all(_decide(stopper, history, ids, row, 3)[0] for row in range(30, 80))
    assert stopper.n_explored_ == 0


def test_defaults_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defaults, "EXPLORE", 0.15)
    assert PredictiveStopper().explore == 0.15  # the default, read when the stopper is built
    assert PredictiveStopper.paper().explore == 0.0  # reproduced as published
    monkeypatch.undo()
    assert PredictiveStopper().explore == defaults.EXPLORE
    # exploration ends with a study's first 100 trials (stop 32), in every front end
    assert PredictiveStopper().explore_trials == defaults.EXPLORE_TRIALS == 100
    assert registry.build_stopper("predictive", registry.Settings(),  # type: ignore[attr-defined]
                                  registry.Context()).explore_trials == 100
    stopper = registry.build_stopper("predictive", registry.Settings(explore=0.3),
                                     registry.Context())
    assert stopper.explore == 0.3  # type: ignore[attr-defined]
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="explore must be in \\[0, 1\\)"):
            PredictiveStopper(explore=bad)
        with pytest.raises(ValueError, match="explore must be in \\[0, 1\\)"):
            registry.Settings(explore=bad)



def test_an_optuna_study_counts_its_failed_trials_toward_explore_trials() -> None:
    """A review (stop 32): the pruner counted only trials with values, so a study whose trials
    fail explored far past ``explore_trials``."""
    optuna = pytest.importorskip("optuna")
    from curvecast.integrations.optuna import CurvecastPruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = CurvecastPruner(explore=0.9, explore_trials=10)
    levels = np.r_[np.linspace(0.15, 0.95, 6), np.full(34, 0.2)]  # the runs at 0.2 stop at 1

    def objective(trial: optuna.Trial) -> float:
        if trial.number % 2 and trial.number >= 7:
            raise RuntimeError("a run that crashed")
        for epoch in range(1, 11):
            trial.report(float(levels[trial.number] * (1 - np.exp(-epoch / 2))), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(levels[trial.number])

    study = optuna.create_study(direction="maximize", pruner=pruner)
    study.optimize(objective, n_trials=40, catch=(RuntimeError,))
    let_on = [t.number for t in study.trials if t.state.name == "PRUNED"
              and max(t.intermediate_values) >= 2]  # judged again at twice their epochs
    assert pruner.stopper.n_explored_ >= 1 and all(n < 10 for n in let_on), let_on


def test_a_study_made_before_explore_trials_resumes_only_as_it_was_made(
        tmp_path: pytest.TempPathFactory) -> None:
    """A review (stop 32): a study recorded without ``explore_trials`` (it explored in every
    trial) resumed under the new default without a word."""
    from curvecast.execution.live import open_study
    from curvecast.store import Store
    from sgd_workload import SGDDigits

    db = tmp_path / "old.db"  # type: ignore[operator]
    wl = SGDDigits()
    with Store(db) as store:
        open_study(store, "s", wl, 3, 0, {"stopper": "predictive", "explore": 0.1})
        with pytest.raises(ValueError, match="started with --explore-trials 0, not 100"):
            open_study(store, "s", wl, 3, 0, {"stopper": "predictive", "explore": 0.1,
                                             "explore_trials": 100})
        open_study(store, "s", wl, 3, 0, {"stopper": "predictive", "explore": 0.1,
                                         "explore_trials": None})
    with pytest.raises(ValueError, match="explore_trials must be >= 1"):
        registry.Settings(explore_trials=0)
