"""The driver's side of :func:`curvecast.integrations.ray_search.run_ray_search`: the book that
proposes configs and records every result, decision and trial state in the study, and the Tune
searcher and callback that hand Tune's events to it.  Imported through ``ray_search``, which
names the extra when Ray is missing."""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import Any

from ray.tune.callback import Callback
from ray.tune.experiment import Trial as TuneTrial
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from curvecast.curves import DivergedFill
from curvecast.execution.collect import run_seed
from curvecast.execution.live import GRACE, HEARTBEAT, ask_shared, tell_shared
from curvecast.execution.study import Progress
from curvecast.integrations._ray_study_scheduler import StudyScheduler
from curvecast.integrations._ray_trainable import CONFIG_KEY, TEST_METRIC
from curvecast.search import ConfigSearcher
from curvecast.stopping import Action, Decision
from curvecast.store import Store, StoredTrial, TrialState, worker_id
from curvecast.workloads._base import Workload

logger = logging.getLogger("curvecast.integrations.ray_search")  # the name it always had


class StudyBook:
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
                CONFIG_KEY: {"trial": number, "seed": run_seed(self.seed, number)}}

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
            test = (trial.last_result or {}).get(TEST_METRIC)
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


class StudySearcher(Searcher):
    """A Tune searcher that asks the study's curvecast searcher (through the driver's book)."""

    def __init__(self, book: StudyBook) -> None:
        super().__init__()
        self.book: StudyBook | None = book

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
        pass  # recorded by StudyRecorder, which sees the Trial

    def save(self, checkpoint_path: str) -> None:
        pass  # the searcher's state is in the study (store), saved after every trial

    def restore(self, checkpoint_path: str) -> None:
        pass

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["book"] = None  # the store stays with the driver (Tune pickles its searcher)
        return state


class StudyRecorder(Callback):
    """A Tune callback on the driver writing every result and trial end into the study."""

    def __init__(self, book: StudyBook) -> None:
        self.book: StudyBook | None = book

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
