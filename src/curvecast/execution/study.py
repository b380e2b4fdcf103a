"""A real search's study as one process sees it: :class:`LiveStudy` (the store, the study and this
process's part in it), :class:`StudyMirror` (configs, curves and states read from the store, the
study view its stopper or scheduler reads), :class:`Progress` and the :class:`SearchResult` every
backend returns (:func:`search_result`)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast.curves import DivergedFill
from curvecast.stopping import History, Trial
from curvecast.store import Store, TrialState
from curvecast.workloads._base import Workload


@dataclass
class Progress:
    """A snapshot of a running search, passed to ``on_progress`` after every recorded epoch.

    Counts are of the whole study (every process running it); ``running`` counts RUNNING trials,
    ``epochs_used`` every recorded epoch, ``epochs_finished`` those of the complete and stopped
    trials (what they cost, against ``(complete + stopped) × T`` in full), ``best_*`` the best
    complete trial.
    """

    trials: int
    complete: int = 0
    stopped: int = 0
    failed: int = 0
    running: int = 0
    epochs_used: int = 0
    epochs_finished: int = 0
    best_value: float | None = None
    best_trial: int | None = None
    last_event: str = ""
    #: Things the user should know that are not errors (e.g. a trial restarted because its
    #: checkpoint did not load), oldest first.
    notices: list[str] = field(default_factory=list)

    @property
    def finished(self) -> int:
        """Trials complete, stopped or failed (by any process of the study)."""
        return self.complete + self.stopped + self.failed


@dataclass
class SearchResult:
    """The outcome of :func:`run_search` (the study's state at the end)."""

    study: str
    progress: Progress
    epochs: int
    best_config: dict[str, Any] | None = None
    best_test_value: float | None = None
    trials: list[dict[str, Any]] = field(default_factory=list)

    @property
    def full_epochs(self) -> int:
        """Epochs the finished trials would have cost without early stopping."""
        return (self.progress.complete + self.progress.stopped) * self.epochs

    @property
    def speedup(self) -> float:
        """``full_epochs / epochs used`` by the finished trials."""
        used = sum(t["epochs"] for t in self.trials if t["state"] in ("complete", "stopped"))
        return self.full_epochs / used if used else float("nan")


def trial_number(config_id: str) -> int:
    """The study's trial number of config id ``t<number>``."""
    return int(config_id[1:])


class StudyMirror:
    """What this process knows of the study: configs, curves and states by trial number.

    Kept up to date from the store by :meth:`sync`, which reads only what changed since the last
    call, so trials run by other processes are part of the stopper's history too.
    """

    def __init__(self, workload: Workload, epochs: int) -> None:
        self.workload = workload
        self.metric = workload.metric
        self.direction = workload.direction
        self.T = epochs
        self.diverged = DivergedFill(workload.direction, workload.diverged_value)
        self.configs: dict[int, dict[str, Any]] = {}
        self.rows: dict[int, dict[str, Any]] = {}  # config + architecture fields
        self.values: dict[int, dict[int, float]] = {}  # number → epoch → value
        self.states: dict[int, TrialState] = {}
        self._cursor = 0  # the last observation read from the store

    def sync(self, store: Store, study: str) -> None:
        """Read the trials, states and observations recorded since the last call."""
        updates = store.updates(study, after_trial=max(self.configs, default=-1),
                                after_observation=self._cursor)
        for t in updates.new_trials:
            self.configs[t.number] = t.config
            self.rows[t.number] = {**t.config, **self.workload.describe(t.config)}
            self.values[t.number] = {}
        self.states.update(updates.states)
        for number, epoch, value, _ in updates.values:
            self.values[number][epoch] = value
            self.diverged.see(value)
        self._cursor = updates.cursor

    def curve(self, number: int) -> list[float]:
        """Trial ``number``'s recorded values, by epoch (diverged values as recorded)."""
        return [v for _, v in sorted(self.values[number].items())]

    def fill(self, value: float) -> float:
        """What a reported value counts as (the one diverged-value rule)."""
        return self.diverged.fill(value)

    def history(self, study: Hashable) -> History:
        """The study view: every trial's curve as recorded (``study``: the token stoppers key
        their caches by)."""
        numbers = sorted(self.values)
        ids = [f"t{n}" for n in numbers]
        configs = pd.DataFrame([self.rows[n] for n in numbers], index=ids)
        return History.from_curves([self.curve(n) for n in numbers], ids, configs,
                                   np.arange(1, self.T + 1, dtype=np.int64), self.metric,
                                   self.direction, study,
                                   diverged_value=self.diverged.diverged_value)

    def trial(self, number: int, tau: int | None = None) -> Trial:
        """Trial ``number`` as the scheduler sees it after ``tau`` epochs (default: all recorded),
        diverged values filled; a trial with no epoch (it failed in its first): one NaN, nothing
        to rank it by."""
        values = [self.fill(v) for v in self.curve(number)[:tau]] or [float("nan")]
        return Trial(f"t{number}", pd.DataFrame([self.rows[number]], index=[f"t{number}"]),
                     np.array(values, dtype=np.float64))

    def update(self, progress: Progress) -> Progress:
        """Set ``progress``'s counts and best trial to the study's (every process's) state."""
        states = list(self.states.values())
        progress.complete = states.count(TrialState.COMPLETE)
        progress.stopped = states.count(TrialState.STOPPED)
        progress.failed = states.count(TrialState.FAILED)
        progress.running = states.count(TrialState.RUNNING)
        progress.epochs_used = sum(len(v) for v in self.values.values())
        progress.epochs_finished = sum(
            len(self.values[n]) for n, s in self.states.items()
            if s in (TrialState.COMPLETE, TrialState.STOPPED) and n in self.values)
        best: tuple[float, int] | None = None
        for number, state in sorted(self.states.items()):
            if state is TrialState.COMPLETE and self.values[number]:
                value = self.fill(self.curve(number)[-1])
                if best is None or self.direction.is_better(value, best[0]):
                    best = (value, number)
        if best is not None:
            progress.best_value, progress.best_trial = best
        return progress


def search_result(store: Store, study: str, progress: Progress, epochs: int) -> SearchResult:
    trials = store.trials(study)
    result = SearchResult(study=study, progress=progress, epochs=epochs)
    for t in trials:
        result.trials.append({"number": t.number, "state": t.state.value, "epochs": len(t.values),
                              "final": t.values[-1][1] if t.values else None,
                              "predicted": t.predicted_value, "test": t.test_value,
                              "worker": t.worker})
        if t.number == progress.best_trial:
            result.best_config, result.best_test_value = t.config, t.test_value
    return result


@dataclass
class LiveStudy:
    """This process's part in a real search's study, shared by the training backend, the store
    recorder and the store-backed searchers of one run.

    Attributes:
        store: the study database.
        study: the study's name.
        worker: this process's worker id (the owner of the trials it trains).
        workload: what is trained.
        epochs: T, the epochs of full training.
        seed: seed of training (trial ``n`` trains with ``run_seed(seed, n)``).
        checkpoints: the study's checkpoint folder.
        mirror: the study as this process last read it.
    """

    store: Store
    study: str
    worker: str
    workload: Workload
    epochs: int
    seed: int
    checkpoints: Path
    mirror: StudyMirror

    def sync(self) -> StudyMirror:
        """Read what changed in the study since the last call; the mirror."""
        self.mirror.sync(self.store, self.study)
        return self.mirror
