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

Searcher state (e.g. how many configs were proposed, a Q-table) is saved in the store after
every finished trial.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast.curves import Direction
from curvecast.execution.collect import _one_torch_thread, _quiet_worker
from curvecast.search import ConfigSearcher
from curvecast.stopping import Decision, History, Stopper, Trial
from curvecast.store import Decision as StoredDecision
from curvecast.store import Store, TrialState
from curvecast.workloads._base import EpochResult, Workload


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


def _checkpoint(folder: Path, number: int, epoch: int) -> Path:
    return folder / f"t{number}-e{epoch}.ckpt"


def _train_one_epoch(task: _Task) -> _Outcome:
    """Continue trial ``task.number`` from its checkpoint and train one epoch (runs in a worker)."""
    try:
        ckpt = _checkpoint(task.checkpoints, task.number, task.done)
        if task.done > 0 and ckpt.exists():
            run = task.workload.resume(ckpt)
        else:  # a fresh trial, or its checkpoint is gone: retrain the recorded epochs (same seed)
            run = task.workload.start(task.config, seed=task.seed, epochs=task.epochs)
            for _ in range(task.done):
                run.train_epoch()
        result = run.train_epoch()
        test = None
        if run.epochs_done >= task.epochs:
            test = float(run.test_value())
        else:
            run.save_checkpoint(_checkpoint(task.checkpoints, task.number, run.epochs_done))
        return _Outcome(task.number, result, test)
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
    """A snapshot of a running search, passed to ``on_progress`` after every recorded epoch."""

    trials: int
    complete: int = 0
    stopped: int = 0
    failed: int = 0
    running: int = 0
    epochs_used: int = 0
    best_value: float | None = None
    best_trial: int | None = None
    last_event: str = ""

    @property
    def finished(self) -> int:
        """Trials complete, stopped or failed."""
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
    """What this process knows of the study: configs, curves and states by trial number."""

    def __init__(self, metric: str, direction: Direction, epochs: int, fill: float | None) -> None:
        self.metric = metric
        self.direction = direction
        self.T = epochs
        self.fixed_fill = fill
        self.configs: dict[int, dict[str, Any]] = {}
        self.rows: dict[int, dict[str, Any]] = {}  # config + architecture fields
        self.values: dict[int, list[float]] = {}
        self.states: dict[int, TrialState] = {}
        self.worst_seen = float("nan")

    def add(self, number: int, config: dict[str, Any], row: dict[str, Any],
            state: TrialState, values: list[float]) -> None:
        self.configs[number], self.rows[number] = config, row
        self.states[number] = state
        self.values[number] = []
        for v in values:
            self.observe(number, v)

    def observe(self, number: int, value: float) -> None:
        self.values[number].append(value)
        if np.isfinite(value):
            worst = self.direction.worst(np.array([value, self.worst_seen]))
            self.worst_seen = worst

    def fill(self, value: float) -> float:
        if np.isfinite(value):
            return value
        return self.fixed_fill if self.fixed_fill is not None else self.worst_seen

    def history(self, study: str) -> History:
        numbers = sorted(self.values)
        T = self.T
        grid = np.full((len(numbers), T), np.nan)
        n_observed = np.zeros(len(numbers), dtype=np.int64)
        for i, n in enumerate(numbers):
            vals = [self.fill(v) for v in self.values[n][:T]]
            grid[i, : len(vals)] = vals
            n_observed[i] = len(vals)
        ids = [f"t{n}" for n in numbers]
        configs = pd.DataFrame([self.rows[n] for n in numbers], index=ids)
        return History(grid, n_observed, ids, configs, np.arange(1, T + 1, dtype=np.int64),
                       metric=self.metric, direction=self.direction, study=study)

    def trial(self, number: int) -> Trial:
        values = np.array([self.fill(v) for v in self.values[number]])
        return Trial(f"t{number}", pd.DataFrame([self.rows[number]], index=[f"t{number}"]),
                     values)


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
) -> SearchResult:
    """Run (or resume) study ``study`` until ``trials`` trials are complete, stopped or failed.

    Raises:
        ValueError: ``trials``/``epochs``/``workers`` below 1, or the study exists with other
            settings (workload, epochs, seed).
    """
    for name, value in (("trials", trials), ("epochs", epochs), ("workers", workers)):
        if value < 1:
            raise ValueError(f"--{name} must be at least 1, got {value}")
    fixed: dict[str, Any] = {"workload": workload.name, "epochs": epochs, "seed": seed}
    store.create_study(study, metric=workload.metric, direction=workload.direction,
                       settings={**fixed, **(settings or {})})
    recorded = store.study_info(study)["settings"]
    for key, wanted in fixed.items():
        if recorded.get(key) != wanted:
            raise ValueError(f"study {study!r} was started with {key}={recorded.get(key)!r}, "
                             f"not {wanted!r}: rerun with its settings or choose another --study")
    checkpoints = store.path.with_name(f"{store.path.name}.checkpoints") / study
    checkpoints.mkdir(parents=True, exist_ok=True)
    mirror = _Mirror(workload.metric, workload.direction, epochs, workload.diverged_value)
    progress = Progress(trials=trials)
    resumable: list[int] = []
    for t in store.trials(study):
        values = [v for _, v, _ in t.values]
        mirror.add(t.number, t.config, {**t.config, **workload.describe(t.config)}, t.state,
                   values)
        progress.epochs_used += len(values)
        if t.state in (TrialState.RUNNING, TrialState.PENDING, TrialState.PAUSED):
            resumable.append(t.number)
        _count(progress, t.state, +1)
    saved = store.get_study_state(study, "searcher")
    if saved is not None:  # a resumed study: the searcher continues where it was
        searcher.load_state_dict(saved)
    _update_best(progress, mirror, workload.direction)

    def task(number: int) -> _Task:
        return _Task(workload, number, mirror.configs[number], seed * 1_000_003 + number,
                     epochs, len(mirror.values[number]), checkpoints)

    def new_trial() -> int | None:
        if progress.finished + len(running) >= trials:
            return None
        config = searcher.ask_config()
        if config is None:
            return None
        number = store.add_trial(study, config, state=TrialState.RUNNING, worker=str(os.getpid()))
        mirror.add(number, config, {**config, **workload.describe(config)}, TrialState.RUNNING, [])
        store.set_study_state(study, "searcher", searcher.state_dict())
        return number

    running: dict[cf.Future[_Outcome], int] = {}
    with _executor(workers) as pool:
        def launch() -> None:
            while len(running) < workers:
                number = resumable.pop(0) if resumable else new_trial()
                if number is None:
                    return
                running[pool.submit(_train_one_epoch, task(number))] = number

        launch()
        while running:
            done, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
            for future in done:
                number = running.pop(future)
                outcome = future.result()
                next_epoch = _record(outcome, number, store, study, mirror, stopper, searcher,
                                     progress, checkpoints, epochs)
                if next_epoch:
                    running[pool.submit(_train_one_epoch, task(number))] = number
                progress.running = len(running)
                if on_progress:
                    on_progress(progress)
            launch()
            progress.running = len(running)
    return _result(store, study, progress, epochs)


def _executor(workers: int) -> cf.Executor:
    if workers == 1:
        _one_torch_thread()
        return _InProcess()
    ctx = mp.get_context("spawn")
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_quiet_worker)


def _record(outcome: _Outcome, number: int, store: Store, study: str, mirror: _Mirror,
            stopper: Stopper, searcher: ConfigSearcher, progress: Progress, checkpoints: Path,
            epochs: int) -> bool:
    """Record one epoch's outcome and decide what happens next; True: train another epoch."""
    config = mirror.configs[number]
    if outcome.error is not None:
        store.record_decision(study, number, StoredDecision(outcome.result.epoch, "fail",
                                                            reason=outcome.error))
        store.set_state(study, number, TrialState.FAILED)
        mirror.states[number] = TrialState.FAILED
        _count(progress, TrialState.FAILED, +1)
        progress.last_event = f"t{number} failed: {outcome.error}"
        _clean(checkpoints, number)
        return False
    r = outcome.result
    store.record_value(study, number, r.epoch, r.value, r.seconds)
    mirror.observe(number, r.value)
    progress.epochs_used += 1
    for old in checkpoints.glob(f"t{number}-e*.ckpt"):
        if old.name != _checkpoint(checkpoints, number, r.epoch).name:
            old.unlink(missing_ok=True)
    if r.epoch >= epochs:
        store.set_state(study, number, TrialState.COMPLETE, test_value=outcome.test_value)
        mirror.states[number] = TrialState.COMPLETE
        _count(progress, TrialState.COMPLETE, +1)
        searcher.tell_config(config, mirror.fill(r.value), predicted=False)
        store.set_study_state(study, "searcher", searcher.state_dict())
        _update_best(progress, mirror, mirror.direction)
        progress.last_event = f"t{number} complete: {r.value:.4g}"
        _clean(checkpoints, number)
        return False
    decision: Decision = stopper.decide(mirror.trial(number), mirror.history(study))
    store.record_decision(study, number, StoredDecision(
        decision.epoch, decision.action.value, decision.mean, decision.std,
        decision.probability, decision.reason))
    if not decision.stop:
        return True
    predicted = decision.mean if decision.mean is not None else mirror.fill(r.value)
    store.set_state(study, number, TrialState.STOPPED, predicted_value=predicted)
    mirror.states[number] = TrialState.STOPPED
    _count(progress, TrialState.STOPPED, +1)
    searcher.tell_config(config, predicted, predicted=True)
    store.set_study_state(study, "searcher", searcher.state_dict())
    progress.last_event = f"t{number} stopped at epoch {r.epoch}: {decision.reason}"
    _clean(checkpoints, number)
    return False


def _clean(checkpoints: Path, number: int) -> None:
    for old in checkpoints.glob(f"t{number}-e*.ckpt"):
        old.unlink(missing_ok=True)


def _count(progress: Progress, state: TrialState, step: int) -> None:
    if state is TrialState.COMPLETE:
        progress.complete += step
    elif state is TrialState.STOPPED:
        progress.stopped += step
    elif state is TrialState.FAILED:
        progress.failed += step


def _update_best(progress: Progress, mirror: _Mirror, direction: Direction) -> None:
    best: tuple[float, int] | None = None
    for number, state in mirror.states.items():
        if state is TrialState.COMPLETE and mirror.values[number]:
            value = mirror.fill(mirror.values[number][-1])
            if best is None or direction.is_better(value, best[0]):
                best = (value, number)
    if best is not None:
        progress.best_value, progress.best_trial = best


def _result(store: Store, study: str, progress: Progress, epochs: int) -> SearchResult:
    trials = store.trials(study)
    result = SearchResult(study=study, progress=progress, epochs=epochs)
    for t in trials:
        result.trials.append({"number": t.number, "state": t.state.value, "epochs": len(t.values),
                              "final": t.values[-1][1] if t.values else None,
                              "predicted": t.predicted_value, "test": t.test_value})
        if t.number == progress.best_trial:
            result.best_config, result.best_test_value = t.config, t.test_value
    return result
