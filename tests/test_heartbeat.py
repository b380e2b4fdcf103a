"""The heartbeat thread of a real search (:class:`curvecast.execution.heartbeat.Heartbeat`)."""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from curvecast.execution.heartbeat import Heartbeat
from curvecast.store import GRACE, Store, TrialState, worker_alive


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


def test_a_heartbeat_stamped_in_the_future_does_not_keep_a_dead_owner_alive(
        tmp_path: Path) -> None:
    """A heartbeat ahead of the reader's clock (a database copied from a machine whose clock is
    ahead, a clock set back, a hand-edited row) kept its owner alive until the clock caught up:
    a stamp an hour ahead held a dead owner's trial for an hour, one in the year 3000 for ever
    (``now - heartbeat`` is negative, never above the grace).  A heartbeat is fresh only within
    the grace of the reader's clock, on either side."""
    now = time.time()
    owner = "elsewhere:4242:abcd"  # another host's: judged by its heartbeat alone
    assert worker_alive(owner, now + 60, grace=60, now=now)  # a skew within the grace
    assert not worker_alive(owner, now + 61, grace=60, now=now)
    assert not worker_alive(owner, now + 86400 * 365 * 1000, grace=60, now=now)
    assert not worker_alive(owner, math.inf, grace=60, now=now)
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.create_study("s", metric="val_accuracy", direction="maximize")
        for i in range(3):
            store.add_trial("s", {"x": i}, state=TrialState.RUNNING, worker=owner)
    ahead = {0: now + 3600, 1: now + GRACE / 2, 2: now - GRACE / 2}  # trial → its heartbeat
    with sqlite3.connect(db) as raw:
        raw.executemany("UPDATE trials SET heartbeat = ? WHERE number = ?",
                        [(beat, number) for number, beat in ahead.items()])
    raw.close()
    with Store(db) as store:
        assert store.study_info("s")["interrupted"] == 1
        assert [t.shown_state for t in store.trials("s")] == ["interrupted", "running", "running"]
        assert store.claim_trial("s", "new", orphans_after=GRACE) == 0
        assert store.claim_trial("s", "other", orphans_after=GRACE) is None
