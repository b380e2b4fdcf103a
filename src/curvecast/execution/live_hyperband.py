"""Hyperband and f-Hyperband with real training: the replay simulator's schedulers on a real clock.

:func:`run_scheduled_search` drives an unchanged :class:`~curvecast.search.Hyperband` (or
:class:`~curvecast.search.FHyperband`) through the three executor calls of
:class:`~curvecast.search.Scheduler` — ``next_job()``, ``report()``, ``job_ended()`` — exactly as
:func:`~curvecast.execution.replay.replay_schedule` does over recorded curves, but each epoch is
trained by a worker (:func:`~curvecast.execution.live._train_one_epoch`, the epoch task of
:func:`~curvecast.execution.live.run_search`) and recorded in the :class:`~curvecast.store.Store`:

* the scheduler's searcher is a :class:`StoreSearcher`: ``ask()`` draws a config from the
  workload's :class:`~curvecast.search.ConfigSearcher` (a random sampler: Hyperband samples at
  random), adds it to the store as a PENDING trial and returns ``t<number>`` as the config id;
* a job trains its trial from its last recorded epoch (its checkpoint) to the job's ``until``
  epochs; between rungs the trial is PAUSED, a promoted trial resumes from its checkpoint, so no
  epoch is trained twice;
* decisions are recorded per trial: ``pause`` (a rung's budget reached, waiting for the rung to
  end), ``promote`` (resumed for the next rung), ``stop`` (not promoted, or stopped inside a rung
  by f-Hyperband's prediction: then with its mean, std and probability), ``fail``.  A trial
  trained to T is COMPLETE, one that left the search earlier STOPPED.

Resume (``kill -9`` at any moment, then the same call again): every call to the scheduler is
journaled in the study's ``schedule`` state in the transaction that records its effect (a job
with its trial's RUNNING state and any trials its brackets drew; a job's end with the epoch that
ended it, the states and the decisions).  A rerun builds a fresh scheduler with the same settings
and replays the journal into it — ``next_job()`` again (the searcher returns the trials already
in the store instead of drawing), ``job_ended()`` with the recorded curves — so the scheduler is
where it was (bracket, rung, rung contents) without a second Hyperband implementation or a
state format to keep in step with it; jobs journaled but not ended continue from their last
recorded epoch.  f-Hyperband's rung predictors are not journaled: after a resume a rung's
predictor is fitted again, when first needed, on the curves recorded by then.

One process per study: a second process that tries to run a study another live process is
running raises :class:`StudyBusyError` (``curvecast search`` exits with code 2).  Within that
process ``workers`` jobs train at once (Li et al.'s parallel Hyperband: a free worker with nothing
to do in the running brackets starts the next bracket).
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from curvecast.execution.collect import run_seed
from curvecast.execution.epoch_task import (
    EpochOutcome,
    EpochTask,
    checkpoint_path,
    clean_checkpoints,
    drive,
    local_executor,
    train_one_epoch,
)
from curvecast.execution.live import GRACE, open_study
from curvecast.execution.study import Progress, SearchResult, StudyMirror, search_result
from curvecast.search import ConfigSearcher, Hyperband, Job, Searcher
from curvecast.stopping import Action, Decision, Trial
from curvecast.store import Store, TrialState, worker_alive, worker_id
from curvecast.workloads._base import Workload

_SCHEDULE = "schedule"  # study_state key of the journal
_OWNER = "scheduler_owner"  # study_state key: {"worker": id, "heartbeat": time} of the runner


class StudyBusyError(ValueError):
    """Another live process is running this Hyperband study (one process per study)."""


class StoreSearcher(Searcher):
    """The :class:`~curvecast.search.Searcher` a scheduler asks for config ids, backed by a store.

    ``ask()`` returns the trials already in the study first (in number order: a resumed
    scheduler meets the configs it drew before), then draws a config from ``configs``, records
    it as a PENDING trial and returns its id ``t<number>``; None once ``trials`` were drawn.
    ``tell()`` is not passed on: the trial's final state lives in the store, and Hyperband's
    configs are sampled independently of results.

    Args:
        configs: draws new configs (its state is saved in the study after each draw).
        store: the study database.
        study: the study's name.
        trials: configs to draw at most.
    """

    def __init__(self, configs: ConfigSearcher, store: Store, study: str, trials: int) -> None:
        self.configs = configs
        self.store = store
        self.study = study
        self.trials = trials
        self.asked = 0
        self.told: dict[str, tuple[float, bool]] = {}

    def __repr__(self) -> str:
        return f"StoreSearcher({self.configs!r}, trials={self.trials})"

    def ask(self) -> str | None:
        if self.asked >= self.trials:
            return None
        if self.asked >= self.store.count_trials(self.study):
            saved = self.store.get_study_state(self.study, "searcher")
            if saved is not None:
                self.configs.load_state_dict(saved)
            config = self.configs.ask_config()
            if config is None:
                return None
            number = self.store.add_trial(self.study, config, state=TrialState.PENDING)
            self.store.set_study_state(self.study, "searcher", self.configs.state_dict())
            if number != self.asked:
                raise RuntimeError(f"study {self.study!r}: drew trial {number}, expected "
                                   f"{self.asked} (was it run by another kind of search?)")
        self.asked += 1
        return f"t{self.asked - 1}"

    def tell(self, config_id: str, value: float, predicted: bool) -> None:
        self.told[config_id] = (float(value), bool(predicted))


def _number(config_id: str) -> int:
    return int(config_id[1:])


def _trial_at(mirror: StudyMirror, number: int, tau: int) -> Trial:
    """Trial ``number`` as it was after ``tau`` epochs (a trial that failed before its first
    epoch: one NaN, nothing to rank it by)."""
    values = [mirror.fill(v) for v in mirror.curve(number)[:tau]] or [float("nan")]
    return Trial(f"t{number}", pd.DataFrame([mirror.rows[number]], index=[f"t{number}"]),
                 np.array(values, dtype=np.float64))


def _decision_json(decision: Decision | None, error: str | None = None) -> dict[str, Any] | None:
    return None if decision is None else {**decision.as_record(), "error": error}


def _decision_from(data: dict[str, Any] | None) -> Decision | None:
    return None if data is None else Decision.from_record(data)


class _Runner:
    """This process's run of one scheduled study: the scheduler, its journal and the store."""

    def __init__(self, store: Store, study: str, workload: Workload, scheduler: Hyperband,
                 searcher: StoreSearcher, mirror: StudyMirror, progress: Progress, epochs: int,
                 seed: int, checkpoints: Any, worker: str) -> None:
        self.store = store
        self.study = study
        self.workload = workload
        self.scheduler = scheduler
        self.searcher = searcher
        self.mirror = mirror
        self.progress = progress
        self.epochs = epochs
        self.seed = seed
        self.checkpoints = checkpoints
        self.worker = worker
        self.journal: list[list[Any]] = []
        self.until: dict[int, int] = {}  # running trial → epochs its job trains to

    # ------------------------------------------------------------------ resume
    def replay_journal(self) -> None:
        """Bring the fresh scheduler to where the journal left it; ``until`` → the jobs that
        were running (journaled, not ended)."""
        saved = self.store.get_study_state(self.study, _SCHEDULE) or []
        history = self.mirror.history(self.study)
        for event in saved:
            if event[0] == "job":
                job = self.scheduler.next_job()
                number, until = int(event[1]), int(event[2])
                if job != Job(f"t{number}", until):
                    raise ValueError(f"study {self.study!r}: its recorded schedule does not "
                                     f"replay ({job} instead of t{number} to {until} epochs); "
                                     "rerun with the study's settings")
                self.until[number] = until
            else:
                number, tau = int(event[1]), int(event[2])
                if tau > len(self.mirror.values[number]):
                    raise ValueError(f"study {self.study!r}: trial {number} has "
                                     f"{len(self.mirror.values[number])} recorded epochs, its "
                                     f"schedule {tau}")
                self.scheduler.job_ended(_trial_at(self.mirror, number, tau), history,
                                         _decision_from(event[3]))
                del self.until[number]
        self.journal = list(saved)

    # ------------------------------------------------------------------ the loop
    def _save(self, event: list[Any]) -> None:
        self.journal.append(event)
        self.store.set_study_state(self.study, _SCHEDULE, self.journal)
        self.store.set_study_state(self.study, _OWNER, {"worker": self.worker,
                                                         "heartbeat": time.time()})

    def next_task(self, limit: int) -> EpochTask | None:
        """Start the scheduler's next job (one transaction with its journal entry)."""
        if len(self.until) >= limit:
            return None
        with self.store.transaction():
            job = self.scheduler.next_job()
            if job is None:
                return None
            number = _number(job.config_id)
            self.until[number] = job.until
            self.mirror.sync(self.store, self.study)
            done = len(self.mirror.values[number])
            if done:
                self.store.record_decision(self.study, number, Decision(
                    Action.PROMOTE, done, reason=f"promoted: trains on to {job.until} epochs"))
            self.store.assign_trial(self.study, number, self.worker)
            self._save(["job", number, job.until])
        self.mirror.sync(self.store, self.study)
        self.progress.last_event = f"t{number}: trains to {job.until} epochs"
        return self.task(number)

    def task(self, number: int) -> EpochTask:
        return EpochTask(self.workload, number, self.mirror.configs[number],
                     run_seed(self.seed, number), self.epochs,
                     len(self.mirror.values[number]), self.checkpoints)

    def record(self, outcome: EpochOutcome) -> bool:
        """Record one trained epoch and ask the scheduler; True: train the next epoch."""
        number, r = outcome.number, outcome.result
        if outcome.note is not None:
            self.progress.notices.append(outcome.note)
        with self.store.transaction():
            if outcome.error is not None:
                decision = Decision(Action.STOP, epoch=r.epoch, reason=outcome.error)
                self._end(number, decision, error=outcome.error)
                return False
            self.store.record_value(self.study, number, r.epoch, r.value, r.seconds)
            self.store.set_study_state(self.study, _OWNER, {"worker": self.worker,
                                                             "heartbeat": time.time()})
            self.mirror.sync(self.store, self.study)
            tau = len(self.mirror.values[number])
            if tau >= self.until[number]:
                self._end(number, None, test_value=outcome.test_value)
                go_on = False
            else:
                decision = self.scheduler.report(self.mirror.trial(number),
                                                 self.mirror.history(self.study),
                                                 self.until[number])
                if decision.probability is not None or decision.stop:
                    self.store.record_decision(self.study, number, decision)
                if decision.stop:
                    self._end(number, decision)
                go_on = not decision.stop
        self.mirror.sync(self.store, self.study)
        for old in self.checkpoints.glob(f"t{number}-e*.ckpt"):
            if old.name != checkpoint_path(self.checkpoints, number, r.epoch).name:
                old.unlink(missing_ok=True)
        return go_on

    def _end(self, number: int, decision: Decision | None, *, error: str | None = None,
             test_value: float | None = None) -> None:
        """The job of ``number`` ended (inside the caller's transaction): tell the scheduler,
        record the states and decisions of the trials it closes, journal the end."""
        until = self.until.pop(number)
        tau = len(self.mirror.values[number])
        closed = self.scheduler.job_ended(_trial_at(self.mirror, number, tau),
                                          self.mirror.history(self.study), decision)
        gone = {_number(c.config_id) for c in closed}
        if error is not None:
            self.store.record_decision(self.study, number, Decision(Action.FAIL, tau + 1,
                                                                          reason=error))
            self.store.set_state(self.study, number, TrialState.FAILED)
            self.progress.last_event = f"t{number} failed: {error}"
        elif decision is not None:
            self.store.set_state(self.study, number, TrialState.STOPPED,
                                 predicted_value=decision.mean)
            self.progress.last_event = f"t{number} stopped at epoch {tau}: {decision.reason}"
        elif tau >= self.epochs:
            self.store.set_state(self.study, number, TrialState.COMPLETE, test_value=test_value)
            self.progress.last_event = f"t{number} complete"
        elif number in gone:
            self.progress.last_event = f"t{number} not promoted after {tau} epochs"
        else:
            self.store.record_decision(self.study, number, Decision(
                Action.PAUSE, tau, reason=f"rung of {until} epochs reached"))
            self.store.set_state(self.study, number, TrialState.PAUSED)
            self.progress.last_event = f"t{number} paused after {tau} epochs"
        for c in closed:
            other = _number(c.config_id)
            done = len(self.mirror.values[other])
            if other == number and (error is not None or decision is not None):
                continue
            if done < self.epochs:
                self.store.record_decision(self.study, other, Decision(
                    Action.STOP, done, reason=f"not promoted after the rung of {done} epochs"))
                self.store.set_state(self.study, other, TrialState.STOPPED)
        self._save(["end", number, tau, _decision_json(decision, error)])
        for c in closed:
            if len(self.mirror.values[_number(c.config_id)]) < self.epochs or c.decision:
                clean_checkpoints(self.checkpoints, _number(c.config_id))


def run_scheduled_search(
    workload: Workload,
    configs: ConfigSearcher,
    make_scheduler: Callable[[Searcher], Hyperband],
    store: Store,
    *,
    study: str,
    trials: int,
    epochs: int,
    workers: int = 1,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    grace: float = GRACE,
    executor: cf.Executor | None = None,
) -> SearchResult:
    """Run (or resume) study ``study`` with the Hyperband-family scheduler ``make_scheduler``
    builds, training real networks (see the module docstring).

    Args:
        workload: what to train (its name, the epochs and the seed must match a resumed study).
        configs: draws the configs (e.g. a :class:`~curvecast.search.RandomSampler` of the
            workload's space); the scheduler asks it through a :class:`StoreSearcher`.
        make_scheduler: builds the scheduler over a searcher, e.g.
            ``lambda s: Hyperband(s, eta=3)``; called once per call of this function (a resumed
            study replays its journal into the new one), so it must build the same scheduler
            every time.
        store: the study database.
        study: the study's name.
        trials: configs to draw (Hyperband's brackets take what they need, the last bracket
            may be partial); the search ends when every drawn config left it.
        epochs: R = T, the epochs of full training (the largest rung).
        workers: jobs training at once (1: in this process).
        seed: seed of training (trial ``n`` trains with ``seed * 1_000_003 + n``).
        settings: more settings to record with a new study.
        on_progress: called with the study's :class:`~curvecast.execution.live.Progress` after
            every recorded epoch.
        grace: seconds after the runner's last journaled event before another process may take
            over its study when its pid cannot be checked (another host).
        executor: where the epoch tasks run (default: ``workers`` local processes, or this
            process for 1); e.g. :class:`curvecast.integrations.ray_backend.RayExecutor`: the
            same task on Ray.

    Raises:
        StudyBusyError: another live process is running this study.
        ValueError: ``trials``/``epochs``/``workers`` below 1, the study exists with other
            settings, or its journal does not replay into this scheduler.
    """
    for name, value in (("trials", trials), ("epochs", epochs), ("workers", workers)):
        if value < 1:
            raise ValueError(f"--{name} must be at least 1, got {value}")
    kind = type(make_scheduler(StoreSearcher(configs, store, study, 0))).__name__.lower()
    open_study(store, study, workload, epochs, seed, {"scheduler": kind, **(settings or {})})
    worker = worker_id()
    with store.transaction():
        owner = store.get_study_state(study, _OWNER)
        if owner and owner.get("worker") != worker and worker_alive(
                owner.get("worker"), owner.get("heartbeat"), grace=grace):
            raise StudyBusyError(f"study {study!r} is being run by process {owner['worker']}; "
                                 f"a {kind} study runs in one process (rerun after it ends to "
                                 "resume)")
        store.set_study_state(study, _OWNER, {"worker": worker, "heartbeat": time.time()})
    checkpoints = store.checkpoint_folder(study)
    checkpoints.mkdir(parents=True, exist_ok=True)
    mirror = StudyMirror(workload, epochs)
    mirror.sync(store, study)
    searcher = StoreSearcher(configs, store, study, trials)
    scheduler = make_scheduler(searcher)
    scheduler.start(epochs)
    runner = _Runner(store, study, workload, scheduler, searcher, mirror,
                     mirror.update(Progress(trials=trials)), epochs, seed, checkpoints, worker)
    if on_progress:  # the study's state before this call trains anything (a finished study: all)
        on_progress(runner.progress)
    try:
        runner.replay_journal()
        with store.transaction():
            for number in runner.until:  # jobs of a killed run: continue them
                store.assign_trial(study, number, worker)
        running: dict[cf.Future[EpochOutcome], int] = {}
        with executor if executor is not None else local_executor(workers) as pool:
            for number in list(runner.until):
                running[pool.submit(train_one_epoch, runner.task(number))] = number

            def launch() -> None:
                while (task := runner.next_task(workers)) is not None:
                    running[pool.submit(train_one_epoch, task)] = task.number

            def after() -> None:
                mirror.update(runner.progress)
                if on_progress:
                    on_progress(runner.progress)

            drive(pool, running, launch, runner.record, runner.task, after)
    finally:
        store.set_study_state(study, _OWNER, None)
    mirror.sync(store, study)
    return search_result(store, study, mirror.update(runner.progress), epochs)
