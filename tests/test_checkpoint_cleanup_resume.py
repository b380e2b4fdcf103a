"""A trial that leaves the search leaves no checkpoint behind, also when the search that closed it
was killed before it deleted them, or closed it when it resumed (a review of the execution layer:
checkpoints of stopped trials stayed on disk for good; a real model's checkpoint is gigabytes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from curvecast.execution.live import Progress
from curvecast.store import Store, TrialState
from test_search_unjudged_resume import Killed, StopAtThree, _search


def _checkpoints(db: Path) -> list[str]:
    with Store(db) as store:
        folder = store.checkpoint_folder("s")
    return sorted(p.name for p in folder.iterdir())


def _states(db: Path) -> dict[int, tuple[TrialState, int]]:
    with Store(db) as store:
        return {t.number: (t.state, t.last_epoch) for t in store.trials("s")}


def test_a_trial_stopped_when_its_unjudged_epoch_is_judged_on_resume_keeps_no_checkpoint(
        tmp_path: Path) -> None:
    """Killed after epoch 3 of the last trial was recorded, before it was judged: the resume
    judges it, stops it, and has nothing else to train — its checkpoint was left behind."""
    db = tmp_path / "s.db"
    with pytest.raises(Killed):
        _search(db, StopAtThree(die_at=("t0", 3)), trials=1)
    assert "t0-e3.ckpt" in _checkpoints(db)
    _search(db, StopAtThree(), trials=1)
    assert _states(db) == {0: (TrialState.STOPPED, 3)}
    assert _checkpoints(db) == []


def test_checkpoints_of_finished_trials_left_by_a_killed_search_are_deleted_on_resume(
        tmp_path: Path) -> None:
    """A search killed between recording a trial's end and deleting its checkpoints leaves them
    (here: t0 stopped at epoch 3, its last checkpoint put back as the kill leaves it); the
    resume deletes them, and keeps the checkpoint of the interrupted t1, which it continues
    from (no "restarted from epoch 0")."""
    db = tmp_path / "s.db"
    with pytest.raises(Killed):
        _search(db, StopAtThree(die_at=("t1", 2)), trials=2)
    assert _states(db) == {0: (TrialState.STOPPED, 3), 1: (TrialState.RUNNING, 2)}
    with Store(db) as store:
        folder = store.checkpoint_folder("s")
    assert "t1-e2.ckpt" in _checkpoints(db) and not any(
        n.startswith("t0-") for n in _checkpoints(db))
    shutil.copyfile(folder / "t1-e2.ckpt", folder / "t0-e3.ckpt")  # as the kill leaves it
    shutil.copyfile(folder / "t1-e2.ckpt", folder / "t0-e2.ckpt")
    seen: list[Progress] = []
    _search(db, StopAtThree(), trials=2, on_progress=seen.append)
    assert _states(db) == {0: (TrialState.STOPPED, 3), 1: (TrialState.STOPPED, 3)}
    assert _checkpoints(db) == []
    assert not any("restarted" in n for p in seen for n in p.notices)
