"""The heartbeat thread of a real search (:class:`curvecast.execution.heartbeat.Heartbeat`)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from curvecast.execution.heartbeat import Heartbeat
from curvecast.store import Store, TrialState


def test_a_heartbeat_outlives_a_storage_path_it_cannot_write_for_a_while(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A review of the execution layer: a beat that failed with an OSError (the database's
    folder gone for a moment, a full disk: a StoreWriteError) killed the heartbeat thread with a
    traceback, and the search trained on with no heartbeat, so after the grace another process
    took its live trials over.  A failed beat is skipped like a locked one; the next beats
    refresh the trials once the database can be written again."""
    crashes: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    home, away = tmp_path / "runs", tmp_path / "moved"
    home.mkdir()
    with Store(home / "s.db") as store:
        store.create_study("s", metric="val_accuracy", direction="maximize")
        store.add_trial("s", {"x": 1}, state=TrialState.RUNNING, worker="w")
    home.rename(away)  # the storage path cannot be opened for now
    with Heartbeat(home / "s.db", "w", interval=0.02):
        time.sleep(0.2)
        away.rename(home)
        back = time.time()
        time.sleep(0.3)
    assert crashes == []
    with Store(home / "s.db") as store:
        (trial,) = store.trials("s")
    assert trial.heartbeat is not None and trial.heartbeat >= back


@pytest.mark.parametrize("grace", [5.0, 10.0, float("nan")])
def test_a_hyperband_grace_the_heartbeat_cannot_keep_is_refused(tmp_path: Path,
                                                                grace: float) -> None:
    """A review of the execution layer: ``run_scheduled_search`` took any ``grace``, but its
    runner refreshes its claim on the study every ``HEARTBEAT`` (10) seconds, so with a grace
    of 5 s its claim went stale during every epoch longer than that and a second process took
    the study over from a live runner (two schedulers writing one journal).  ``run_search``
    already refused a heartbeat not below its grace; this one now does too, before the study
    is made."""
    from curvecast.execution.live_hyperband import run_scheduled_search
    from curvecast.search import Hyperband, RandomSampler
    from sgd_workload import SGDDigits

    workload = SGDDigits()
    with Store(tmp_path / "h.db") as store:
        with pytest.raises(ValueError, match=r"grace must be above the heartbeat interval "
                                             r"\(10\.0 s\), got"):
            run_scheduled_search(workload, RandomSampler(workload.space, seed=0),
                                 lambda s: Hyperband(s, eta=3), store, study="h", trials=3,
                                 epochs=3, grace=grace)
        assert store.study_names() == []
