"""A real search: configs from a searcher, trained epoch by epoch in worker processes, judged by a
stopper after every epoch, everything recorded in a :class:`~curvecast.store.Store` as it happens.

The scheduling is the FIFO + stopper loop of the replay simulator on a real clock: this process
asks the searcher for configs, hands one epoch of a trial at a time to a worker, records the
value, asks the stopper, and either hands out the next epoch, marks the trial STOPPED (telling the
searcher its predicted final value) or COMPLETE.  A worker continues a trial from its checkpoint
of the last recorded epoch (``<checkpoints>/t<number>-e<epoch>.ckpt``), so:

* a search killed at any moment (``kill -9``) and rerun with the same arguments resumes — no
  recorded value is lost, no finished trial is retrained, and a trial that was mid-training
  continues from its last recorded epoch;
* epochs reported by a worker that died before its value was recorded are simply retrained.

Several processes may run the same study against one database file at once (on one host: SQLite's
WAL mode needs shared memory, so not over a network file system); the store coordinates them —
see :func:`run_search`.
"""

from __future__ import annotations

import concurrent.futures as cf
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curvecast.curves import CurveSet
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
from curvecast.execution.study import Progress, SearchResult, StudyMirror, search_result
from curvecast.search import ConfigSearcher
from curvecast.stopping import Action, Decision, Stopper
from curvecast.store import Store, TrialState, worker_id
from curvecast.workloads._base import Workload

__all__ = ["GRACE", "HEARTBEAT", "Progress", "SearchResult", "ask_shared", "check_prior",
           "load_shared", "open_study", "run_search", "tell_shared"]

#: Seconds between the heartbeats of a process's RUNNING trials, and without one after which
#: another process may take a trial over (defaults of every real search).
HEARTBEAT, GRACE = 10.0, 120.0


class _Heartbeat:
    """Refreshes the heartbeat of this worker's RUNNING trials every ``interval`` seconds.

    A thread with its own database connection does it, since training may hold the main thread
    for a whole epoch.  A beat that finds the database locked is skipped (the next one retries).
    """

    def __init__(self, path: Path, worker: str, interval: float) -> None:
        self.path = path
        self.worker = worker
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="curvecast-heartbeat",
                                        daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        store: Store | None = None
        try:
            while not self._stop.wait(self.interval):
                try:
                    store = store or Store(self.path)
                    store.heartbeat(self.worker)
                except (sqlite3.Error, ValueError):  # busy for longer than the store's timeout
                    continue
        finally:
            if store is not None:
                store.close()


@dataclass
class _Session:
    """This process's part in a study: who it is, what it knows of the study, and every write it
    makes to the store (each one transaction that first checks the trial is still its own)."""

    store: Store
    study: str
    worker: str
    workload: Workload
    searcher: ConfigSearcher
    stopper: Stopper
    mirror: StudyMirror
    progress: Progress
    checkpoints: Path
    trials: int
    epochs: int
    seed: int
    grace: float

    def task(self, number: int) -> EpochTask:
        """The next epoch of trial ``number`` as a task for a worker."""
        return EpochTask(self.workload, number, self.mirror.configs[number],
                     run_seed(self.seed, number), self.epochs,
                     len(self.mirror.values[number]), self.checkpoints)

    def take(self) -> int | None:
        """A trial for this process to train: a claimed pending or orphaned one, else a new one
        within the budget; None when there is none."""
        while True:
            number = self.store.claim_trial(self.study, self.worker,
                                            (TrialState.PENDING, TrialState.PAUSED),
                                            orphans_after=self.grace)
            if number is None:
                number = self._new_trial()
            if number is None:
                return None
            self.mirror.sync(self.store, self.study)
            if len(self.mirror.values[number]) < self.epochs:
                return number
            self._complete_trained(number)  # fully recorded, never marked (an older database)

    def _new_trial(self) -> int | None:
        """A new RUNNING trial of this worker from the shared searcher (see :func:`ask_shared`)."""
        asked = ask_shared(self.store, self.study, self.searcher, worker=self.worker,
                           budget=self.trials)
        return None if asked is None else asked[0]

    def _finish(self, number: int, state: TrialState, told: float, *,
                predicted_value: float | None = None, test_value: float | None = None) -> None:
        """Mark trial ``number`` COMPLETE or STOPPED and tell the shared searcher ``told`` (inside
        the caller's transaction)."""
        self.store.set_state(self.study, number, state, predicted_value=predicted_value,
                             test_value=test_value)
        tell_shared(self.store, self.study, self.searcher, self.mirror.configs[number], told,
                    predicted=state is TrialState.STOPPED)

    def _owns(self, number: int) -> bool:
        if self.store.owner(self.study, number) == self.worker:
            return True
        self.progress.last_event = f"t{number} was taken over by another worker"
        return False

    def _complete_trained(self, number: int) -> None:
        with self.store.transaction():
            if self._owns(number):
                self._finish(number, TrialState.COMPLETE,
                             self.mirror.fill(self.mirror.curve(number)[-1]))
        self.mirror.sync(self.store, self.study)

    def record(self, outcome: EpochOutcome) -> bool:
        """Record one epoch's outcome and decide what happens next; True: train another epoch."""
        number, r = outcome.number, outcome.result
        if outcome.note is not None:
            self.progress.notices.append(outcome.note)
        if outcome.error is not None:
            return self._fail(outcome)
        final = r.epoch >= self.epochs
        with self.store.transaction():
            if not self._owns(number):
                return False
            self.store.record_value(self.study, number, r.epoch, r.value, r.seconds)
            if final:
                self._finish(number, TrialState.COMPLETE, self.mirror.fill(r.value),
                             test_value=outcome.test_value)
        self.mirror.sync(self.store, self.study)
        for old in self.checkpoints.glob(f"t{number}-e*.ckpt"):
            if old.name != checkpoint_path(self.checkpoints, number, r.epoch).name:
                old.unlink(missing_ok=True)
        if final:
            self.progress.last_event = f"t{number} complete: {r.value:.4g}"
            clean_checkpoints(self.checkpoints, number)
            return False
        return self._judge(number, r.epoch)

    def _judge(self, number: int, epoch: int) -> bool:
        """Ask the stopper about trial ``number`` after ``epoch``; True: continue it."""
        decision: Decision = self.stopper.decide(self.mirror.trial(number),
                                                 self.mirror.history(self.study))
        with self.store.transaction():
            if not self._owns(number):
                return False
            self.store.record_decision(self.study, number, decision)
            if not decision.stop:
                return True
            last = self.mirror.curve(number)[-1]
            predicted = decision.mean if decision.mean is not None else self.mirror.fill(last)
            self._finish(number, TrialState.STOPPED, predicted, predicted_value=predicted)
        self.mirror.sync(self.store, self.study)
        self.progress.last_event = f"t{number} stopped at epoch {epoch}: {decision.reason}"
        clean_checkpoints(self.checkpoints, number)
        return False

    def _fail(self, outcome: EpochOutcome) -> bool:
        """Mark the trial FAILED with its error (a failed trial is not told to the searcher)."""
        number = outcome.number
        with self.store.transaction():
            if not self._owns(number):
                return False
            self.store.record_decision(self.study, number, Decision(
                Action.FAIL, outcome.result.epoch, reason=outcome.error or ""))
            self.store.set_state(self.study, number, TrialState.FAILED)
        self.mirror.sync(self.store, self.study)
        self.progress.last_event = f"t{number} failed: {outcome.error}"
        clean_checkpoints(self.checkpoints, number)
        return False


def run_search(
    workload: Workload,
    searcher: ConfigSearcher,
    stopper: Stopper,
    store: Store,
    *,
    study: str,
    trials: int,
    epochs: int,
    workers: int = 1,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    heartbeat: float = HEARTBEAT,
    grace: float = GRACE,
) -> SearchResult:
    """Run (or resume, or join) study ``study`` until it has ``trials`` trials complete, stopped
    or failed.

    Several processes may run the same study against one database file at once, each calling
    this with the same arguments; the store coordinates them:

    * **Who trains what.**  Each trial records its owner (``host:pid:token``,
      :func:`~curvecast.store.worker_id`) and a heartbeat this call refreshes every ``heartbeat``
      seconds.  A process takes work only by an atomic claim (one ``BEGIN IMMEDIATE``
      transaction, :meth:`~curvecast.store.Store.claim_trial`): a PENDING or PAUSED trial, or a
      RUNNING one whose owner is dead — its pid has exited on this host, or it sent no heartbeat
      for ``grace`` seconds — which then continues from its checkpoint (how a rerun after
      ``kill -9`` resumes).  Every later write checks ownership in the same transaction, so a
      worker presumed dead that comes back drops the trial instead of recording twice.
    * **Budget.**  A new trial is created in the transaction that counts the study's trials (all
      states), so the study never holds more than ``trials``.
    * **Searcher.**  The state saved in the store is the one searcher of the study: every ask
      (with the creation of its trial) and every tell (with the trial's final state) is one
      transaction that loads the saved state into this process's ``searcher``, calls it, and
      saves it back.  Asks are thus serialised through one state (a random sampler's count,
      MetaQNN's ε schedule and Q-table, TPE's trials) and a second process proposes nothing the
      first already did.  A failed trial is not told.
    * **Stopper.**  Before each decision this process reads the observations recorded since its
      last read, by any process, so the stopper's History holds every trial of the study.

    A process returns when it can neither claim nor create a trial and trains none; trials that
    other live processes still train are theirs to finish.

    Args:
        workload: what to train (its name, the epochs and the seed must match a resumed study).
        searcher: proposes configs; its state is shared through the store (above).
        stopper: judges a trial after every epoch but the last.
        store: the study database.
        study: the study's name.
        trials: the study's budget of trials (complete, stopped or failed).
        epochs: epochs of full training, T.
        workers: training processes of this call (1: train in this process).
        seed: seed of training (trial ``n`` trains with ``seed * 1_000_003 + n``).
        settings: more settings to record with a new study.
        on_progress: called with the study's :class:`Progress` after every recorded epoch.
        heartbeat: seconds between this process's heartbeats.
        grace: seconds without a heartbeat after which another process takes over a trial.

    Raises:
        ValueError: ``trials``/``epochs``/``workers`` below 1, ``heartbeat`` not in
            ``(0, grace)``, or the study exists with other settings (workload, epochs, seed).
    """
    for name, value in (("trials", trials), ("epochs", epochs), ("workers", workers)):
        if value < 1:
            raise ValueError(f"--{name} must be at least 1, got {value}")
    if not 0 < heartbeat < grace:
        raise ValueError(f"heartbeat must be positive and below grace, got heartbeat={heartbeat} "
                         f"s, grace={grace} s")
    open_study(store, study, workload, epochs, seed, settings)
    checkpoints = store.checkpoint_folder(study)
    checkpoints.mkdir(parents=True, exist_ok=True)
    mirror = StudyMirror(workload, epochs)
    mirror.sync(store, study)
    session = _Session(store, study, worker_id(), workload, searcher, stopper, mirror,
                       mirror.update(Progress(trials=trials)), checkpoints, trials, epochs, seed,
                       grace)
    if on_progress:  # the study's state before this call trains anything (a finished study: all)
        on_progress(session.progress)
    running: dict[cf.Future[EpochOutcome], int] = {}
    with _Heartbeat(store.path, session.worker, heartbeat), local_executor(workers) as pool:
        def launch() -> None:
            while len(running) < workers:
                number = session.take()
                if number is None:
                    return
                running[pool.submit(train_one_epoch, session.task(number))] = number

        def after() -> None:
            mirror.update(session.progress)
            if on_progress:
                on_progress(session.progress)

        drive(pool, running, launch, session.record, session.task, after)
    mirror.sync(store, study)
    return search_result(store, study, mirror.update(session.progress), epochs)


#: Settings of a study that a rerun (a resume, or another process joining) must repeat.
_RERUN_SETTINGS = ("searcher", "stopper", "delta", "min_complete", "refit_every", "prior",
                   "sigma_model", "arcsine_target")


def open_study(store: Store, study: str, workload: Workload, epochs: int, seed: int,
               settings: dict[str, Any] | None) -> None:
    """Create study ``study`` or check that it was started with this workload, epochs and seed,
    and with the same scheduler (``settings["scheduler"]``: hyperband, fhyperband; absent: a
    FIFO search, as the local and the Ray backends run), and — where both the study and
    ``settings`` record them — the same searcher, stopper, Δ, min-complete, refit-every, prior,
    σ model and arcsine target (a changed rule would silently judge later trials differently).

    Raises:
        ValueError: the study exists with other settings.
    """
    fixed: dict[str, Any] = {"workload": workload.name, "epochs": epochs, "seed": seed}
    store.create_study(study, metric=workload.metric, direction=workload.direction,
                       settings={**fixed, **(settings or {})})
    recorded = store.study_info(study)["settings"]
    for key, wanted in fixed.items():
        if recorded.get(key) != wanted:
            raise ValueError(f"study {study!r} was started with {key}={recorded.get(key)!r}, "
                             f"not {wanted!r}: rerun with its settings or choose another --study")
    chosen = settings or {}
    for key in _RERUN_SETTINGS:  # what the command line chose: a rerun must choose the same
        if key in recorded and key in chosen and recorded[key] != chosen[key]:
            option = "--" + key.replace("_", "-")
            raise ValueError(f"study {study!r} was started with {option} {recorded[key]}, not "
                             f"{chosen[key]}: rerun with its settings or choose another --study")
    scheduler = (settings or {}).get("scheduler")  # hyperband, fhyperband; None: FIFO
    if recorded.get("scheduler") != scheduler:
        was, now = (f"scheduler {k!r}" if k else "a FIFO search"
                    for k in (recorded.get("scheduler"), scheduler))
        raise ValueError(f"study {study!r} was started with {was}, not {now}: rerun with its "
                         "settings or choose another --study")


def check_prior(prior: CurveSet, workload: Workload, source: str,
                columns: bool = True) -> None:
    """Raise ``ValueError`` unless ``prior`` holds curves of ``workload``: its workload name when
    recorded, and (with ``columns``: for a predictor that reads the config table) every config
    column the workload's trials have.  Called before a search starts, so a wrong ``--prior``
    never costs training; the metric and direction are checked before it by
    :func:`curvecast.datasets.check_prior_metric` (an unnamed Optuna objective matches any).
    """
    recorded = prior.provenance.get("workload")
    if recorded is not None and recorded != workload.name:
        raise ValueError(f"{source}: curves of workload {recorded!r}, not {workload.name!r}: a "
                         "prior must come from the same workload")
    if not columns:
        return
    example = workload.space.sample(np.random.default_rng(0))
    missing = sorted((set(example) | set(workload.describe(example))) - set(prior.configs.columns))
    if missing:
        raise ValueError(f"{source}: its config table lacks {missing}, which workload "
                         f"{workload.name!r} records: a prior must come from the same workload")


def load_shared(store: Store, study: str, searcher: ConfigSearcher) -> None:
    """Load the study's searcher state (saved in the store by any process) into ``searcher``."""
    saved = store.get_study_state(study, "searcher")
    if saved is not None:
        searcher.load_state_dict(saved)


def ask_shared(store: Store, study: str, searcher: ConfigSearcher, *, worker: str,
               budget: int) -> tuple[int, Mapping[str, Any]] | None:
    """Ask the study's shared searcher for a config and record it as ``worker``'s RUNNING trial,
    in one transaction that counts the study's trials against ``budget``.

    Returns:
        ``(trial number, config)``, or None when the budget is spent or the searcher has no
        config left.
    """
    with store.transaction():
        if store.count_trials(study) >= budget:
            return None
        load_shared(store, study, searcher)
        config = searcher.ask_config()
        if config is None:
            return None
        number = store.add_trial(study, config, state=TrialState.RUNNING, worker=worker)
        store.set_study_state(study, "searcher", searcher.state_dict())
    return number, config


def tell_shared(store: Store, study: str, searcher: ConfigSearcher, config: Mapping[str, Any],
                value: float, *, predicted: bool) -> None:
    """Tell the study's shared searcher a trial's final ``value`` (metric units; predicted for a
    stopped trial) and save its state — inside the caller's transaction."""
    load_shared(store, study, searcher)
    searcher.tell_config(config, value, predicted=predicted)
    store.set_study_state(study, "searcher", searcher.state_dict())


