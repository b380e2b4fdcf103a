"""A search killed after an epoch was recorded but before the stopper judged it judges that epoch
when it resumes, before it trains the trial on (stop 32's review, defect 8: the resumed search
trained on unjudged, so a trial the rule would have stopped cost an epoch more, and the study
held an epoch with no decision)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from curvecast.execution.live import run_search
from curvecast.search import RandomSampler
from curvecast.stopping import Action, Decision, History, Stopper, Trial
from curvecast.store import Store
from sgd_workload import SGDDigits

EPOCHS = 5


class Killed(BaseException):
    """Stands for ``kill -9``: raised where the process would die."""


class StopAtThree(Stopper):
    """Stops every trial after epoch 3; asked about ``(trial, epoch)`` pairs, kept in order;
    with ``die_at``, dies when asked about that pair (the epoch is recorded, not judged)."""

    def __init__(self, die_at: tuple[str, int] | None = None) -> None:
        self.die_at = die_at
        self.asked: list[tuple[str, int]] = []

    def decide(self, trial: Trial, history: History) -> Decision:
        if (trial.config_id, trial.tau) == self.die_at:
            raise Killed
        self.asked.append((trial.config_id, trial.tau))
        action = Action.STOP if trial.tau >= 3 else Action.CONTINUE
        return Decision(action, epoch=trial.tau, reason=f"rule at epoch {trial.tau}")


def _search(db: Path, stopper: Stopper, trials: int, on_progress: Any = None) -> None:
    workload = SGDDigits()
    with Store(db) as store:
        run_search(workload, RandomSampler(workload.space, seed=1), stopper, store, study="s",
                   trials=trials, epochs=EPOCHS, workers=1, on_progress=on_progress)


def test_the_epoch_recorded_before_the_kill_is_judged_on_resume(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with pytest.raises(Killed):
        _search(db, StopAtThree(die_at=("t1", 3)), trials=3)
    resumed = StopAtThree()
    _search(db, resumed, trials=3)
    assert resumed.asked[0] == ("t1", 3)  # judged before anything else is trained
    with Store(db) as store:
        trials = {t.number: t for t in store.trials("s")}
    t1 = trials[1]
    assert t1.last_epoch == 3  # stopped where the rule says, not trained on to epoch 4
    assert [(d.action, d.epoch) for d in t1.decisions] == [
        (Action.CONTINUE, 1), (Action.CONTINUE, 2), (Action.STOP, 3)]
    for t in trials.values():  # every trained epoch but the last has exactly one judgement
        assert [d.epoch for d in t.decisions] == list(range(1, t.last_epoch + 1)), t.number


def test_an_epoch_judged_before_the_kill_is_not_judged_again(tmp_path: Path) -> None:
    """Killed once epoch 2 of the first trial is recorded and judged (while epoch 3 would
    train): the resume trains epoch 3 without asking about epoch 2 again."""
    db = tmp_path / "s.db"
    calls: list[object] = []

    def die_on_the_third_call(progress: object) -> None:  # before training, epochs 1 and 2
        calls.append(progress)
        if len(calls) == 3:
            raise Killed

    first = StopAtThree()
    with pytest.raises(Killed):
        _search(db, first, trials=2, on_progress=die_on_the_third_call)
    assert first.asked == [("t0", 1), ("t0", 2)]
    resumed = StopAtThree()
    _search(db, resumed, trials=2)
    assert resumed.asked == [("t0", 3), ("t1", 1), ("t1", 2), ("t1", 3)]
