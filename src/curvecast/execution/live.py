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
import multiprocessing as mp
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast.curves import CurveSet, DivergedFill
from curvecast.execution.collect import _one_torch_thread, _quiet_worker
from curvecast.search import ConfigSearcher
from curvecast.stopping import Action, Decision, History, Stopper, Trial
from curvecast.store import Store, TrialState, worker_id
from curvecast.workloads._base import CheckpointError, EpochResult, TrainingRun, Workload

#: Seconds between the heartbeats of a process's RUNNING trials, and without one after which
#: another process may take a trial over (defaults of every real search).
HEARTBEAT, GRACE = 10.0, 120.0


@dataclass(frozen=True)
class _Task:
    workload: Workload
    number: int
    config: dict[str, Any]
    seed: int
    epochs: int  # the planned length of the run, T
    done: int  # epochs already recorded
    checkpoints: Path


@dataclass(frozen=True)
class _Outcome:
    number: int
    result: EpochResult
    test_value: float | None
    error: str | None = None
    note: str | None = None  # e.g. a checkpoint that did not load: the trial restarted


def _checkpoint(folder: Path, number: int, epoch: int) -> Path:
    return folder / f"t{number}-e{epoch}.ckpt"


def _train_one_epoch(task: _Task) -> _Outcome:
    """Continue trial ``task.number`` from its checkpoint and train one epoch (runs in a worker)."""
    try:
        ckpt = _checkpoint(task.checkpoints, task.number, task.done)
        run: TrainingRun | None = None
        note = None
        if task.done > 0 and ckpt.exists():
            try:
                run = task.workload.resume(ckpt)
            except CheckpointError as err:  # treated as missing: never trust, never run it
                ckpt.unlink(missing_ok=True)
                note = f"t{task.number}: {err}; restarted from epoch 0"
        if run is None:  # a fresh trial, or no usable checkpoint: retrain the recorded epochs
            run = task.workload.start(task.config, seed=task.seed, epochs=task.epochs)
            for _ in range(task.done):
                run.train_epoch()
        result = run.train_epoch()
        test = None
        if run.epochs_done >= task.epochs:
            test = float(run.test_value())
        else:
            run.save_checkpoint(_checkpoint(task.checkpoints, task.number, run.epochs_done))
        return _Outcome(task.number, result, test, note=note)
    except Exception as err:  # a config that cannot train fails alone, the search goes on
        return _Outcome(task.number, EpochResult(task.done + 1, float("nan"), 0.0), None,
                        error=f"{type(err).__name__}: {err}")


class _InProcess(cf.Executor):
    """Runs each task when submitted (one worker, no process start-up, same results)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:
            future.set_exception(err)
        return future


@dataclass
class Progress:
    """A snapshot of a running search, passed to ``on_progress`` after every recorded epoch.

    Counts are of the whole study (every process running it); ``running`` counts RUNNING trials,
    ``epochs_used`` every recorded epoch, ``best_*`` the best complete trial.
    """

    trials: int
    complete: int = 0
    stopped: int = 0
    failed: int = 0
    running: int = 0
    epochs_used: int = 0
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


class _Mirror:
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

    def history(self, study: str) -> History:
        numbers = sorted(self.values)
        ids = [f"t{n}" for n in numbers]
        configs = pd.DataFrame([self.rows[n] for n in numbers], index=ids)
        return History.from_curves([self.curve(n) for n in numbers], ids, configs,
                                   np.arange(1, self.T + 1, dtype=np.int64), self.metric,
                                   self.direction, study,
                                   diverged_value=self.diverged.diverged_value)

    def trial(self, number: int) -> Trial:
        values = np.array([self.fill(v) for v in self.curve(number)])
        return Trial(f"t{number}", pd.DataFrame([self.rows[number]], index=[f"t{number}"]),
                     values)

    def update(self, progress: Progress) -> Progress:
        """Set ``progress``'s counts and best trial to the study's (every process's) state."""
        states = list(self.states.values())
        progress.complete = states.count(TrialState.COMPLETE)
        progress.stopped = states.count(TrialState.STOPPED)
        progress.failed = states.count(TrialState.FAILED)
        progress.running = states.count(TrialState.RUNNING)
        progress.epochs_used = sum(len(v) for v in self.values.values())
        best: tuple[float, int] | None = None
        for number, state in sorted(self.states.items()):
            if state is TrialState.COMPLETE and self.values[number]:
                value = self.fill(self.curve(number)[-1])
                if best is None or self.direction.is_better(value, best[0]):
                    best = (value, number)
        if best is not None:
            progress.best_value, progress.best_trial = best
        return progress


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
    mirror: _Mirror
    progress: Progress
    checkpoints: Path
    trials: int
    epochs: int
    seed: int
    grace: float

    def task(self, number: int) -> _Task:
        """The next epoch of trial ``number`` as a task for a worker."""
        return _Task(self.workload, number, self.mirror.configs[number],
                     self.seed * 1_000_003 + number, self.epochs,
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

    def record(self, outcome: _Outcome) -> bool:
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
            if old.name != _checkpoint(self.checkpoints, number, r.epoch).name:
                old.unlink(missing_ok=True)
        if final:
            self.progress.last_event = f"t{number} complete: {r.value:.4g}"
            _clean(self.checkpoints, number)
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
        _clean(self.checkpoints, number)
        return False

    def _fail(self, outcome: _Outcome) -> bool:
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
        _clean(self.checkpoints, number)
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
    mirror = _Mirror(workload, epochs)
    mirror.sync(store, study)
    session = _Session(store, study, worker_id(), workload, searcher, stopper, mirror,
                       mirror.update(Progress(trials=trials)), checkpoints, trials, epochs, seed,
                       grace)
    if on_progress:  # the study's state before this call trains anything (a finished study: all)
        on_progress(session.progress)
    running: dict[cf.Future[_Outcome], int] = {}
    with _Heartbeat(store.path, session.worker, heartbeat), _executor(workers) as pool:
        def launch() -> None:
            while len(running) < workers:
                number = session.take()
                if number is None:
                    return
                running[pool.submit(_train_one_epoch, session.task(number))] = number

        def after() -> None:
            mirror.update(session.progress)
            if on_progress:
                on_progress(session.progress)

        drive(pool, running, launch, session.record, session.task, after)
    mirror.sync(store, study)
    return _result(store, study, mirror.update(session.progress), epochs)


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


def drive(pool: cf.Executor, running: dict[cf.Future[_Outcome], int], launch: Callable[[], None],
          record: Callable[[_Outcome], bool], task: Callable[[int], _Task],
          after: Callable[[], None]) -> None:
    """The executor loop of a real search: ``launch()`` submits new work into ``running``
    (future → trial number); every finished epoch goes to ``record``, and when it says the trial
    goes on its next epoch (``task(number)``) is submitted; ``after()`` runs after each epoch;
    until nothing runs and ``launch()`` adds nothing."""
    launch()
    while running:
        done, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
        for future in done:
            number = running.pop(future)
            if record(future.result()):
                running[pool.submit(_train_one_epoch, task(number))] = number
            after()
        launch()


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


def _executor(workers: int) -> cf.Executor:
    if workers == 1:
        _one_torch_thread()
        return _InProcess()
    ctx = mp.get_context("spawn")
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_quiet_worker,
                                  initargs=(os.getpid(),))


def _clean(checkpoints: Path, number: int) -> None:
    for old in checkpoints.glob(f"t{number}-e*.ckpt"):
        old.unlink(missing_ok=True)


def _result(store: Store, study: str, progress: Progress, epochs: int) -> SearchResult:
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
