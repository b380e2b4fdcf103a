"""A study's grace — how long its searches wait for a RUNNING trial's heartbeat before taking the
trial over — is recorded in the study, and every reader judges its trials by it."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from curvecast.execution.live import run_search
from curvecast.execution.live_hyperband import StudyBusyError, run_scheduled_search
from curvecast.search import Hyperband, RandomSampler
from curvecast.stopping import NeverStop
from curvecast.store import GRACE, Store, TrialState, worker_id
from sgd_workload import SGDDigits


def _fifo(store: Store, study: str, grace: float) -> None:
    workload = SGDDigits()
    run_search(workload, RandomSampler(workload.space, seed=0), NeverStop(), store, study=study,
               trials=1, epochs=2, grace=grace)


def _hyperband(store: Store, study: str, grace: float) -> None:
    workload = SGDDigits()
    run_scheduled_search(workload, RandomSampler(workload.space, seed=0),
                         lambda s: Hyperband(s, eta=3), store, study=study, trials=1, epochs=2,
                         grace=grace)


@pytest.mark.parametrize("search", [_fifo, _hyperband])
def test_studies_and_show_judge_a_trial_by_the_grace_of_its_study(
        tmp_path: Path, search: Callable[[Store, str, float], None]) -> None:
    """``Store.study_info`` (read by ``studies``) counted interrupted trials with the default
    grace of 120 s, and ``show``, ``export`` and ``report`` judged each trial by it, whatever
    grace the study's searches took trials over by: a trial silent for 60 s in a study searched
    with a grace of 30 s (which the next search takes over at once) was listed as running.
    Each search records its grace in the study now, and the readers take it from there."""
    db = tmp_path / "g.db"
    with Store(db) as store:
        search(store, "g", 30.0)
        # a process on another machine (judged by its heartbeat alone), silent for 60 s
        number = store.add_trial("g", {"alpha": 1e-3}, state=TrialState.RUNNING,
                                 worker="elsewhere:4242:abcd")
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE trials SET heartbeat = ? WHERE number = ?", (time.time() - 60, number))
    raw.close()
    with Store(db, read_only=True) as store:
        info = store.study_info("g")
        assert info["interrupted"] == 1
        assert [t.interrupted() for t in store.trials("g")][number] is True
        assert store.to_curveset("g").provenance["without_values"] == {f"t{number}": "interrupted"}
        assert info["grace"] == store.grace("g") == 30.0
    studies = subprocess.run([sys.executable, "-m", "curvecast.cli", "studies", "--storage",
                              f"sqlite:///{db}"], capture_output=True, text=True, timeout=120)
    assert studies.returncode == 0, studies.stderr
    assert "interrupted 1" in studies.stdout
    show = subprocess.run([sys.executable, "-m", "curvecast.cli", "show", "--study", "g",
                           "--storage", f"sqlite:///{db}", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert show.returncode == 0, show.stderr
    shown = {t["number"]: t["interrupted"] for t in json.loads(show.stdout)["trials"]}
    assert shown[number] is True and not any(v for n, v in shown.items() if n != number)


def test_a_study_recorded_without_a_grace_reads_the_default_and_a_bad_one_is_refused(
        tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    with Store(db) as store:
        store.create_study("d", metric="val_accuracy", direction="maximize")
        number = store.add_trial("d", {"x": 1}, state=TrialState.RUNNING,
                                 worker="elsewhere:4242:abcd")
        assert store.grace("d") == GRACE == 120.0
    with sqlite3.connect(db) as raw:  # silent for 60 s: within the default grace
        raw.execute("UPDATE trials SET heartbeat = ? WHERE number = ?", (time.time() - 60, number))
    raw.close()
    with Store(db) as store:
        assert store.study_info("d")["interrupted"] == 0
        for bad in (0, -1.0, float("nan"), -math.inf, True, "30", None):
            with pytest.raises(ValueError, match="grace must be a positive number of seconds"):
                store.set_grace("d", bad)  # type: ignore[arg-type]
        store.set_study_state("d", "grace", "soon")  # a tampered database
        with pytest.raises(ValueError, match=r"its grace is 'soon', not a positive number"):
            store.study_info("d")


@pytest.mark.parametrize("search", [_fifo, _hyperband])
def test_a_grace_every_search_took_before_it_was_recorded_is_still_taken(
        tmp_path: Path, search: Callable[[Store, str, float], None]) -> None:
    """A review: recording the study's grace refused ``grace=math.inf`` (never take a trial
    over by its heartbeat's age, only once its owner's pid has exited here), which
    ``run_search`` and ``run_scheduled_search`` had always taken, and a numpy integer of
    seconds: the search stopped before it trained anything ("grace must be a positive number
    of seconds, got inf").  Both are recorded now, and read back."""
    with Store(tmp_path / "i.db") as store:
        for study, grace in (("inf", math.inf), ("np", np.int64(60))):
            search(store, study, grace)  # type: ignore[arg-type]
            assert [t.state for t in store.trials(study)] == [TrialState.COMPLETE]
            assert store.grace(study) == store.study_info(study)["grace"] == float(grace)
        number = store.add_trial("inf", {"alpha": 1e-3}, state=TrialState.RUNNING,
                                 worker="elsewhere:4242:abcd")
    with sqlite3.connect(tmp_path / "i.db") as raw:  # silent for a day: within an endless grace
        raw.execute("UPDATE trials SET heartbeat = ? WHERE number = ?",
                    (time.time() - 86400, number))
    raw.close()
    with Store(tmp_path / "i.db", read_only=True) as store:
        assert store.study_info("inf")["interrupted"] == 0
        assert not store.trials("inf")[number].interrupted()


def test_a_hyperband_search_refused_a_busy_study_leaves_its_grace(tmp_path: Path) -> None:
    """A review: a Hyperband search refused because another live process runs the study
    (``StudyBusyError``) had already recorded its own grace as the study's, so ``show`` and
    ``studies`` judged the running process's trials by the grace of one that never ran."""
    db = tmp_path / "b.db"
    with Store(db) as store:
        _hyperband(store, "busy", 600.0)  # the study, searched with a grace of 600 s
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:  # a live process of this host runs it now (one of its own, as the test before does)
        other = f"{worker_id().rsplit(':', 2)[0]}:{child.pid}:cafe"
        with Store(db) as store:
            store.set_study_state("busy", "scheduler_owner", {"worker": other,
                                                              "heartbeat": time.time()})
            with pytest.raises(StudyBusyError, match="is being run by process"):
                _hyperband(store, "busy", 30.0)
            assert store.grace("busy") == store.study_info("busy")["grace"] == 600.0
    finally:
        child.kill()
        child.wait()
