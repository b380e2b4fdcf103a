"""``curvecast search --backend ray``: the real search run through Ray Tune (extra ``curvecast[ray]``).

:func:`run_ray_search` takes what :func:`curvecast.execution.live.run_search` takes — a workload, a
curvecast searcher, a stopper and a :class:`~curvecast.store.Store` — and runs the search as one
Ray Tune experiment, on a local Ray (the default) or on an existing cluster (``address``):

* each trial is a Tune trial whose trainable trains the workload's config one epoch per
  ``tune.report`` (the metric, ``epoch`` and the epoch's seconds), saving a checkpoint with every
  report so Tune can pause a trial and continue it, or restart it after a failure, where it was;
* the curvecast searcher proposes the configs (a Tune ``Searcher`` asks it, one config per trial);
* the stopper decides on the driver: whatever the rule (predictive, median, ASHA, never), it is
  the curvecast stopper itself, with all its settings, run by
  :class:`~curvecast.integrations.ray_tune.CurvecastScheduler` over the same study view
  (:meth:`curvecast.stopping.History.from_curves`) as on the local backend;
* every value, decision and trial state is written into the store's study *on the driver*, as
  results arrive (a Tune ``Callback``), as the local backend writes them, so
  ``curvecast show / report / export`` read a Ray study like any other.

The driver takes part in the store's coordination like a local worker process (see
:func:`curvecast.execution.live.run_search`): its trials are owned by its worker id and kept alive
by heartbeats, a new trial is created in the transaction that counts the study's trials against
the budget, and every ask and tell goes through the searcher state saved in the study.  So a rerun
with the same study resumes it: finished trials count toward ``trials``, the completed curves are
loaded into the scheduler, the searcher continues, and trials a dead driver (or worker) left
RUNNING are claimed and trained again from their first epoch (same seed, so they reproduce the
recorded values, which are kept).

Ray is started on 127.0.0.1 only: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is set for it (unless
the environment sets it), which makes every Ray listener bind the loopback interface.  A cluster
is started with ``ray start --head`` (and ``ray start --address HEAD:6379`` on the other nodes);
pass its address.  Its nodes need curvecast (with the workload's extras) installed, and on more
than one node ``storage_path`` must be storage every node reaches (a shared folder or a cloud URI)
for the trials' checkpoints.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from curvecast.curves import Direction, DivergedFill
from curvecast.execution.collect import run_seed
from curvecast.execution.live import GRACE, HEARTBEAT, ask_shared, open_study, tell_shared
from curvecast.execution.study import Progress, SearchResult, search_result
from curvecast.integrations.ray_session import ray_session, resolve_address
from curvecast.search import ConfigSearcher
from curvecast.stopping import Action, Decision, Oracle, Stopper
from curvecast.store import Store, StoredTrial, TrialState, worker_id
from curvecast.workloads._base import CheckpointError, TrainingRun, Workload

try:
    from ray import tune
    from ray.tune.callback import Callback
    from ray.tune.experiment import Trial as TuneTrial
    from ray.tune.schedulers import TrialScheduler
    from ray.tune.search import Searcher

    from curvecast.integrations.ray_tune import CurvecastScheduler
except ImportError as error:  # pragma: no cover - exercised without ray installed
    raise ImportError("curvecast.integrations.ray_search needs Ray Tune: "
                      "pip install 'curvecast[ray]'") from error

logger = logging.getLogger(__name__)

_KEY = "_curvecast"  # the trial's number and seed, inside its Tune config
_CKPT = "run.ckpt"
_TEST = "curvecast/test_value"


def run_ray_search(
    workload: Workload,
    searcher: ConfigSearcher,
    stopper: Stopper,
    store: Store,
    *,
    study: str,
    trials: int,
    epochs: int,
    workers: int = 0,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    address: str | None = None,
    storage_path: str | os.PathLike[str] | None = None,
    max_failures: int = 1,
) -> SearchResult:
    """Run (or resume) study ``study`` through Ray Tune until ``trials`` trials are complete,
    stopped or failed (see the module docstring).

    Args:
        workload, searcher, stopper, store, study, trials, epochs, seed, settings, on_progress:
            as for :func:`curvecast.execution.live.run_search`.
        workers: trials trained at once (one CPU each); 0: the local Ray's CPUs (all cores), or
            the cluster's.
        address: an existing Ray cluster (``HOST:PORT`` of its head, or ``auto``); None: the
            one in the ``RAY_ADDRESS`` environment variable when set, else a new local Ray on
            127.0.0.1 with ``workers`` CPUs, stopped at the end.  When Ray is already initialised
            in this process it is used as it is (and left running).
        storage_path: where Tune keeps the experiment (results, trial checkpoints): a folder or
            a URI Tune supports (``s3://…``); default: the folder ``<database>.ray`` beside the
            study database.  On a cluster of several nodes, every node must reach it.
        max_failures: times Tune restarts a failed trial from its last checkpoint before the
            trial is recorded as failed.

    Raises:
        ValueError: ``trials``/``epochs`` below 1, ``workers`` below 0, a Ray Client
            (``ray://``) address, a stopper this backend cannot run, or the study exists with
            other settings (workload, epochs, seed).
        ConnectionError: no Ray cluster answers at ``address``.
    """
    for name, value in (("trials", trials), ("epochs", epochs)):
        if value < 1:
            raise ValueError(f"--{name} must be at least 1, got {value}")
    if workers < 0:
        raise ValueError(f"--workers must be at least 0 (0: every CPU), got {workers}")
    address = resolve_address(address)
    open_study(store, study, workload, epochs, seed, settings)
    scheduler = scheduler_for(stopper, epochs, workload)
    book = _Book(workload, searcher, scheduler, store, study=study, trials=trials, epochs=epochs,
                 seed=seed, on_progress=on_progress)
    budget = trials - book.progress.finished
    if budget > 0:
        folder = (os.fspath(storage_path) if storage_path is not None
                  else str(store.path.with_name(store.path.name + ".ray")))
        if "://" not in folder:  # a local folder (Tune wants it absolute), else a URI (s3://…)
            folder = str(Path(folder).resolve())
        with ray_session(address, workers) as cpus, _quiet_tune():
            concurrency = workers or max(1, cpus)
            tuner = tune.Tuner(
                tune.with_parameters(_train, workload=workload, epochs=epochs),
                tune_config=tune.TuneConfig(
                    metric=workload.metric,
                    mode="max" if workload.direction is Direction.MAXIMIZE else "min",
                    scheduler=scheduler, search_alg=_StudySearcher(book), num_samples=budget,
                    max_concurrent_trials=concurrency, reuse_actors=True),
                run_config=tune.RunConfig(
                    name=f"study-{store.study_id(study)}-{time.strftime('%Y%m%d-%H%M%S')}",
                    storage_path=folder,
                    callbacks=[_StudyRecorder(book)], verbose=0,
                    failure_config=tune.FailureConfig(max_failures=max_failures),
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=1)))
            tuner.fit()
    return search_result(store, study, book.progress, epochs)


# ---------------------------------------------------------------------------------- the trainable
def _train(config: dict[str, Any], workload: Workload, epochs: int) -> None:
    """A Tune trainable: train ``config`` one epoch per report, from its checkpoint when Tune
    continues a paused or failed trial (runs in a Ray worker)."""
    meta = config[_KEY]
    checkpoint = tune.get_checkpoint()
    run: TrainingRun | None = None
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            try:
                run = workload.resume(Path(folder) / _CKPT)
            except CheckpointError as err:  # treated as missing: restart from epoch 0
                print(f"warning: {err}; restarted from epoch 0", file=sys.stderr)
    if run is None:
        run = workload.start({k: v for k, v in config.items() if k != _KEY},
                             seed=int(meta["seed"]), epochs=epochs)
    while run.epochs_done < epochs:
        result = run.train_epoch()
        metrics: dict[str, Any] = {workload.metric: float(result.value), "epoch": result.epoch,
                                   "seconds": result.seconds}
        if run.epochs_done >= epochs:
            metrics[_TEST] = float(run.test_value())
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as folder:
            run.save_checkpoint(Path(folder) / _CKPT)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


# ---------------------------------------------------------------------------------- stoppers
class StudyScheduler(CurvecastScheduler):
    """:class:`CurvecastScheduler` for :func:`run_ray_search`: keeps every decision it takes (for
    the store), sees a trial's workload config without curvecast's bookkeeping key, and can be
    given the completed curves of an earlier run of the study (:meth:`preload`)."""

    def __init__(self, max_t: int, **kwargs: Any) -> None:
        super().__init__(max_t, **kwargs)
        self.last_decisions: dict[str, Decision] = {}

    @classmethod
    def from_stopper(cls, stopper: Stopper, epochs: int,
                     describe: Callable[[Mapping[str, Any]], Mapping[str, Any]],
                     diverged_value: float | None = None) -> StudyScheduler:
        """A scheduler deciding with ``stopper`` itself (all its settings; a predictive one's
        predictor and prior too) and the workload's ``diverged_value``."""
        return cls(epochs, describe=describe, time_attr="epoch", stopper=stopper,
                   diverged_value=diverged_value)

    def decide(self, trial_id: str) -> Decision | None:
        decision = super().decide(trial_id)
        if decision is not None:
            self.last_decisions[str(trial_id)] = decision
        return decision

    def _encode(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return super()._encode({k: v for k, v in config.items() if k != _KEY})

    def preload(self, key: str, config: Mapping[str, Any], values: list[float]) -> None:
        """Add a trial of an earlier run (its curve; complete when it has ``max_t`` values)."""
        self._configs[key] = self._encode(config)
        self._curves[key] = {e: float(v) for e, v in enumerate(values[: self.max_t], start=1)}
        if len(values) >= self.max_t and key not in self._completed:
            self._completed.append(key)


def scheduler_for(stopper: Stopper, epochs: int, workload: Workload) -> TrialScheduler:
    """The Tune scheduler that runs curvecast ``stopper`` itself (any rule, with its settings:
    the same decisions as on the local backend), over the same study view.

    Raises:
        ValueError: the oracle (it reads recorded final values no search has).
    """
    if isinstance(stopper, Oracle):
        raise ValueError(f"--backend ray runs the predictive, median, asha and never stoppers, "
                         f"not {stopper!r}")
    return StudyScheduler.from_stopper(stopper, epochs, workload.describe,
                                       workload.diverged_value)


# ---------------------------------------------------------------------------------- the driver
class _Book:
    """The driver's side of the search: proposes configs, records every result, decision and
    state in the store, tells the searcher, keeps the progress."""

    def __init__(self, workload: Workload, searcher: ConfigSearcher, scheduler: TrialScheduler,
                 store: Store, *, study: str, trials: int, epochs: int, seed: int,
                 on_progress: Callable[[Progress], None] | None) -> None:
        self.workload, self.searcher, self.scheduler, self.store = (workload, searcher, scheduler,
                                                                    store)
        self.study, self.epochs, self.seed = study, epochs, seed
        self.direction = workload.direction
        self.on_progress = on_progress
        self.progress = Progress(trials=trials)
        self.configs: dict[int, dict[str, Any]] = {}
        self.values: dict[int, dict[int, float]] = {}
        self.states: dict[int, TrialState] = {}
        self.numbers: dict[str, int] = {}  # Tune trial id -> trial number in the study
        self.diverged = DivergedFill(workload.direction, workload.diverged_value)
        self.worker = worker_id()  # the owner of the trials this driver trains (see run_search)
        self._last_beat = time.monotonic()
        for t in store.trials(study):
            self._load(t)
            self._count(t.state)
            if t.state is TrialState.COMPLETE and isinstance(scheduler, StudyScheduler):
                scheduler.preload(f"t{t.number}", t.config,
                                  [self.fill(v) for v in self.curve(t.number)])
        self._update_best()

    def _load(self, t: StoredTrial) -> None:
        self.configs[t.number] = t.config
        self.values.setdefault(t.number, {})
        for epoch, value, _ in t.values:
            self._observe(t.number, epoch, value)
        self.states[t.number] = t.state

    # ---------------------------------------------------------------- values
    def curve(self, number: int) -> list[float]:
        values = self.values[number]
        return [values[e] for e in sorted(values)]

    def fill(self, value: float) -> float:
        """What a reported value counts as (the one diverged-value rule)."""
        return self.diverged.fill(value)

    def _observe(self, number: int, epoch: int, value: float) -> bool:
        """Keep a value; False when this epoch was recorded before (a restarted trial)."""
        if epoch in self.values[number]:
            return False
        self.values[number][epoch] = value
        self.progress.epochs_used += 1
        self.diverged.see(value)
        return True

    # ---------------------------------------------------------------- Tune's events
    def propose(self, trial_id: str) -> dict[str, Any] | None:
        """The Tune config of a new trial: a claimed pending or orphaned trial of the study (one
        an interrupted run left, trained again from its first epoch), else the searcher's next
        config within the budget; None when there is none (as the local backend takes work)."""
        while True:
            number = self.store.claim_trial(self.study, self.worker,
                                            (TrialState.PENDING, TrialState.PAUSED),
                                            orphans_after=GRACE)
            if number is None:
                number = self._new_trial()
                if number is None:
                    return None
                break
            for t in self.store.trials(self.study):
                if t.number == number:
                    self._load(t)
            self.states[number] = TrialState.RUNNING
            if len(self.values[number]) < self.epochs:
                break
            # fully recorded but never marked (the driver died at its last epoch)
            self._finish_complete(number, None)
        self.numbers[trial_id] = number
        self.progress.running += 1
        self.progress.last_event = f"t{number} started (Tune trial {trial_id})"
        self._report()
        return {**self.configs[number],
                _KEY: {"trial": number, "seed": run_seed(self.seed, number)}}

    def _new_trial(self) -> int | None:
        """Ask the study's searcher (its state in the store) for a config and record it as this
        driver's RUNNING trial, in one transaction that counts the trials against the budget."""
        asked = ask_shared(self.store, self.study, self.searcher, worker=self.worker,
                           budget=self.progress.trials)
        if asked is None:
            return None
        number, config = asked
        self.configs[number], self.values[number] = dict(config), {}
        self.states[number] = TrialState.RUNNING
        return number

    def beat(self) -> None:
        """Refresh the heartbeat of this driver's RUNNING trials (every HEARTBEAT seconds), so a
        local ``curvecast search`` on the same study does not take them over."""
        if time.monotonic() - self._last_beat >= HEARTBEAT:
            self._last_beat = time.monotonic()
            try:
                self.store.heartbeat(self.worker)
            except sqlite3.OperationalError:  # busy for longer than the store's timeout: later
                pass

    def record(self, trial: TuneTrial, result: Mapping[str, Any]) -> None:
        """One epoch's result (and the scheduler's decision on it) into the store."""
        number = self.numbers.get(str(trial.trial_id))
        metric = self.workload.metric
        if number is None or "epoch" not in result or metric not in result:
            return
        epoch, value = int(result["epoch"]), float(result[metric])
        if self._observe(number, epoch, value):
            self.store.record_value(self.study, number, epoch, value, result.get("seconds"))
        if isinstance(self.scheduler, StudyScheduler):
            decision = self.scheduler.last_decisions.pop(str(trial.trial_id), None)
            if decision is not None and decision.epoch == epoch:
                self.store.record_decision(self.study, number, decision)
        self.progress.last_event = f"t{number} epoch {epoch}: {value:.4g}"
        self.beat()
        self._report()

    def finish(self, trial: TuneTrial) -> None:
        """A trial Tune terminated: complete (trained for ``epochs``) or stopped by the scheduler."""
        tid = str(trial.trial_id)
        number = self.numbers.get(tid)
        if number is None or not self._owns(number):
            return
        curve = self.curve(number)
        if not curve:  # terminated before its first epoch
            self._fail(number, 1, "the trial ended before reporting an epoch")
            self._report()
            return
        if len(curve) >= self.epochs:
            test = (trial.last_result or {}).get(_TEST)
            self._finish_complete(number, None if test is None else float(test))
            self._report()
            return
        last = len(curve)
        predicted = None
        if isinstance(self.scheduler, StudyScheduler):
            record = self.scheduler.decisions_.get(tid)
            if record is not None and record["stopped"]:
                predicted = record["predicted"]
        else:
            self.store.record_decision(self.study, number, Decision(
                Action.STOP, last, reason=f"stopped at epoch {last} by Ray Tune's "
                                     f"{type(self.scheduler).__name__}"))
        if predicted is None or not math.isfinite(predicted):
            predicted = self.fill(curve[-1])
        with self.store.transaction():
            self.store.set_state(self.study, number, TrialState.STOPPED,
                                 predicted_value=predicted if math.isfinite(predicted) else None)
            self._tell(self.configs[number], predicted, predicted=True)
        self._done(number, TrialState.STOPPED)
        self.progress.last_event = f"t{number} stopped at epoch {last}"
        self._report()

    def _finish_complete(self, number: int, test_value: float | None) -> None:
        final = self.curve(number)[-1]
        with self.store.transaction():
            self.store.set_state(self.study, number, TrialState.COMPLETE, test_value=test_value)
            self._tell(self.configs[number], self.fill(final), predicted=False)
        self._done(number, TrialState.COMPLETE)
        self._update_best()
        self.progress.last_event = f"t{number} complete: {final:.4g}"

    def _owns(self, number: int) -> bool:
        """Whether trial ``number`` is still this driver's (RUNNING, owned by it)."""
        if self.states.get(number) is not TrialState.RUNNING:
            return False
        if self.store.owner(self.study, number) == self.worker:
            return True
        self._done(number, TrialState.RUNNING)  # another worker took it over: theirs to record
        self.progress.last_event = f"t{number} was taken over by another worker"
        return False

    def error(self, trial: TuneTrial) -> None:
        """A trial that failed (after Tune's retries)."""
        number = self.numbers.get(str(trial.trial_id))
        if number is None or not self._owns(number):
            return
        try:
            err = trial.get_error()
            message = str(err).strip().splitlines()[-1] if err is not None else "failed"
        except Exception:  # the error file is unreadable: the fact is enough
            message = "failed"
        self._fail(number, len(self.values[number]) + 1, message)
        self._report()

    # ---------------------------------------------------------------- helpers
    def _fail(self, number: int, epoch: int, reason: str) -> None:
        with self.store.transaction():
            self.store.record_decision(self.study, number,
                                       Decision(Action.FAIL, epoch, reason=reason))
            self.store.set_state(self.study, number, TrialState.FAILED)
        self._done(number, TrialState.FAILED)
        self.progress.last_event = f"t{number} failed: {reason}"

    def _done(self, number: int, state: TrialState) -> None:
        """Trial ``number`` is no longer this driver's to train (it ended in ``state``)."""
        self.states[number] = state
        self.progress.running = max(0, self.progress.running - 1)
        self._count(state)

    def _count(self, state: TrialState) -> None:
        if state is TrialState.COMPLETE:
            self.progress.complete += 1
        elif state is TrialState.STOPPED:
            self.progress.stopped += 1
        elif state is TrialState.FAILED:
            self.progress.failed += 1

    def _tell(self, config: Mapping[str, Any], value: float, *, predicted: bool) -> None:
        """Tell the study's searcher (its state in the store) a final value (inside the caller's
        transaction)."""
        if not math.isfinite(value):  # nothing finite seen yet: no value to tell
            logger.warning("curvecast: no finite value to tell the searcher about %s", config)
            return
        tell_shared(self.store, self.study, self.searcher, config, value, predicted=predicted)

    def _update_best(self) -> None:
        best: tuple[float, int] | None = None
        for number, state in self.states.items():
            if state is TrialState.COMPLETE and self.values[number]:
                value = self.fill(self.curve(number)[-1])
                if best is None or self.direction.is_better(value, best[0]):
                    best = (value, number)
        if best is not None:
            self.progress.best_value, self.progress.best_trial = best

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress)


class _StudySearcher(Searcher):
    """A Tune searcher that asks the study's curvecast searcher (through the driver's book)."""

    def __init__(self, book: _Book) -> None:
        super().__init__()
        self.book: _Book | None = book

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.book is None:
            raise RuntimeError("curvecast's Tune searcher was restored without its study; rerun "
                               "`curvecast search --backend ray` to resume the study instead")
        config = self.book.propose(trial_id)
        if config is None:
            return Searcher.FINISHED  # type: ignore[return-value]  # Tune's typing omits it
        return config

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None,
                          error: bool = False) -> None:
        pass  # recorded by _StudyRecorder, which sees the Trial

    def save(self, checkpoint_path: str) -> None:
        pass  # the searcher's state is in the study (store), saved after every trial

    def restore(self, checkpoint_path: str) -> None:
        pass

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["book"] = None  # the store stays with the driver (Tune pickles its searcher)
        return state


class _StudyRecorder(Callback):
    """A Tune callback on the driver writing every result and trial end into the study."""

    def __init__(self, book: _Book) -> None:
        self.book: _Book | None = book

    def on_trial_result(self, iteration: int, trials: list[TuneTrial], trial: TuneTrial,
                        result: dict[str, Any], **info: Any) -> None:
        if self.book is not None:
            self.book.record(trial, result)

    def on_step_end(self, iteration: int, trials: list[TuneTrial], **info: Any) -> None:
        if self.book is not None:
            self.book.beat()

    def on_trial_complete(self, iteration: int, trials: list[TuneTrial], trial: TuneTrial,
                          **info: Any) -> None:
        if self.book is not None:
            self.book.finish(trial)

    def on_trial_error(self, iteration: int, trials: list[TuneTrial], trial: TuneTrial,
                       **info: Any) -> None:
        if self.book is not None:
            self.book.error(trial)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["book"] = None  # the store stays with the driver (Tune pickles its callbacks)
        return state


@contextmanager
def _quiet_tune() -> Iterator[None]:
    """Tune without its console output (the caller reports progress) and without its warning
    about frequent experiment snapshots (one per epoch checkpoint, as ``num_to_keep=1`` asks)."""
    quiet = {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0"}
    added = [k for k in quiet if k not in os.environ]
    os.environ.update({k: quiet[k] for k in added})
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)
