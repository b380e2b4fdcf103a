"""Replay: a search over recorded learning curves on a simulated clock, with W simulated workers.

One executor loop (:func:`replay_schedule`) drives any :class:`~curvecast.search.Scheduler`:
FIFO + a stopper (:func:`replay`, the paper's random-search experiments), Hyperband, f-Hyperband.
Each job a scheduler hands out is "trained" by reading the config's recorded curve one epoch at a
time (a paused config resumes where it stopped); an epoch costs its recorded seconds
(``CurveSet.seconds``) or 1 time unit where that is unknown.  An event queue ordered by simulated
time (ties broken by the order events were made, so a replay is deterministic) hands the finished
epochs to the scheduler, which may stop the job; when a job ends the scheduler says which configs
leave the search and what their searcher was told (a stopped trial: the stopper's predicted final
value, or its last observed value when the rule predicts nothing, marked as predicted).  Epoch 0
(the untrained network), if recorded, is not replayed: it costs nothing and is never decided on.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from curvecast.curves import CurveSet, Direction
from curvecast.search import Searcher
from curvecast.search._scheduler import FIFO, Scheduler
from curvecast.stopping import Decision, History, Stopper, Trial


@dataclass(frozen=True)
class TrialRecord:
    """What happened to one trial of a replay.

    Attributes:
        config_id: the config.
        epochs: epochs trained (T when trained to the end).
        stopped: whether it left the search before the final epoch (stopped, or not
            promoted by a Hyperband rung).
        value: the value told to the searcher (metric units): observed final, or predicted.
        predicted: whether ``value`` is a prediction.
        true_final: the recorded final value (diverged-filled), whatever happened.
        start: simulated time it started.
        end: simulated time it ended.
        decision: the STOP decision, None when trained to the end.
    """

    config_id: str
    epochs: int
    stopped: bool
    value: float
    predicted: bool
    true_final: float
    start: float
    end: float
    decision: Decision | None = None


@dataclass(frozen=True)
class ReplayResult:
    """The outcome of a replay: per-trial records (in start order) and the totals.

    Attributes:
        trials: one record per trial, in the order the trials started.
        n_epochs: T, the epochs of full training.
        direction: the metric's direction.
        workers: simulated workers.
        simulated_time: when the last trial ended (seconds, or epochs where seconds are unknown).
    """

    trials: tuple[TrialRecord, ...]
    n_epochs: int
    direction: Direction
    workers: int
    simulated_time: float

    @property
    def total_epochs(self) -> int:
        """Epochs trained over all trials."""
        return sum(t.epochs for t in self.trials)

    @property
    def full_epochs(self) -> int:
        """Epochs full training of the same trials takes (``n_trials * T``)."""
        return len(self.trials) * self.n_epochs

    @property
    def speedup(self) -> float:
        """``full_epochs / total_epochs`` (≥ 1)."""
        return self.full_epochs / self.total_epochs if self.total_epochs else float("nan")

    @property
    def n_stopped(self) -> int:
        """Trials stopped early."""
        return sum(t.stopped for t in self.trials)

    def _best(self, records: list[TrialRecord]) -> TrialRecord | None:
        sign = self.direction.sign
        return max(records, key=lambda t: sign * t.true_final, default=None)

    @property
    def best_trial(self) -> TrialRecord | None:
        """The best fully trained trial (by its observed final value): what the search found."""
        return self._best([t for t in self.trials if not t.stopped])

    @property
    def best_config(self) -> str | None:
        """Id of :attr:`best_trial`."""
        best = self.best_trial
        return None if best is None else best.config_id

    @property
    def true_best_final(self) -> float:
        """The best recorded final value among all trials (the one an oracle would find)."""
        best = self._best(list(self.trials))
        return float("nan") if best is None else best.true_final

    @property
    def best_kept(self) -> bool:
        """Whether a trial with the true best final value was trained to the end."""
        best = self.best_trial
        return best is not None and best.true_final == self.true_best_final

    @property
    def regret(self) -> float:
        """How much worse the best fully trained final is than the true best (≥ 0, metric units)."""
        best = self.best_trial
        if best is None:
            return float("nan")
        return self.direction.sign * (self.true_best_final - best.true_final)

    def regret_at(self, times: ArrayLike) -> NDArray[np.float64]:
        """Any-time regret: :attr:`regret` of the search as it stood at each simulated time.

        Args:
            times: simulated times (seconds, or epochs where seconds are unknown), any shape.

        Returns:
            float64 array of ``times``' shape: the true best final value of all this replay's
            trials minus the true final value of the best trial trained to the end by then
            (≥ 0, metric units, sign-corrected); NaN before the first trial was trained to the end.
        """
        at = np.asarray(times, dtype=np.float64)
        sign = self.direction.sign
        done = sorted((t for t in self.trials if not t.stopped), key=lambda t: t.end)
        ends = np.array([t.end for t in done], dtype=np.float64)
        best_so_far = np.maximum.accumulate(
            np.array([sign * t.true_final for t in done], dtype=np.float64)) if done else ends
        idx = np.searchsorted(ends, at, side="right") - 1
        found = idx >= 0
        out = np.full(at.shape, np.nan)
        out[found] = sign * self.true_best_final - best_so_far[idx[found]]
        return out


def replay(curves: CurveSet, searcher: Searcher, stopper: Stopper, workers: int = 1,
           study: Hashable | None = None,
           on_trial: Callable[[TrialRecord], None] | None = None) -> ReplayResult:
    """Run ``searcher`` with ``stopper`` over the recorded ``curves`` on ``workers`` simulated workers.

    The FIFO schedule: :func:`replay_schedule` with ``FIFO(searcher, stopper)``.

    Args:
        curves: recorded curves; every config the searcher asks for must be complete in it.
        searcher: proposes config ids of ``curves`` (``ask()`` returning None ends the search).
        stopper: asked after every epoch but the last of every trial.
        workers: simulated workers (trials running at once), ≥ 1.
        study: the token stoppers key their caches by (default: a new one per replay).
        on_trial: called with each trial's record when it ends.

    Raises:
        ValueError: ``workers < 1``; a config that is unknown, asked twice, or not complete.
    """
    return replay_schedule(curves, FIFO(searcher, stopper), workers=workers, study=study,
                           on_trial=on_trial)


def replay_schedule(curves: CurveSet, scheduler: Scheduler, workers: int = 1,
                    study: Hashable | None = None,
                    on_trial: Callable[[TrialRecord], None] | None = None) -> ReplayResult:
    """Run ``scheduler`` over the recorded ``curves`` on ``workers`` simulated workers.

    Each free worker takes the scheduler's next job (a config and the epoch to train it to); a
    config met before resumes its recorded curve where it paused.  After every epoch but a job's
    last the scheduler may stop the job; when a job ends the scheduler says which configs leave
    the search (one :class:`TrialRecord` each, in the order the configs first started).

    Args:
        curves: recorded curves; every config the scheduler runs must be complete in it.
        scheduler: decides jobs, stops and promotions (:class:`~curvecast.search.FIFO`,
            :class:`~curvecast.search.Hyperband`, ...).
        workers: simulated workers (jobs running at once), ≥ 1.
        study: the token stoppers key their caches by (default: a new one per replay).
        on_trial: called with each trial's record when it leaves the search.

    Raises:
        ValueError: ``workers < 1``; a config that is unknown, not complete, started while
            running, or given a job with nothing to train.
        RuntimeError: the scheduler left a config neither running nor closed at the end.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    trained = curves.without_untrained_epoch()
    T = trained.n_epochs
    if T < 1:
        raise ValueError("the CurveSet has no trained epochs to replay")
    filled = trained.filled_values()
    complete = trained.is_complete() & (trained.n_observed() == T)
    cost = np.ones(filled.shape)
    if trained.seconds is not None:
        known = np.isfinite(trained.seconds)
        cost[known] = trained.seconds[known]
    epochs = np.array(trained.epochs)
    rows = {cid: i for i, cid in enumerate(trained.config_ids)}
    token: Hashable = object() if study is None else study

    values = np.full((trained.n_configs, T), np.nan)
    n_obs = np.zeros(trained.n_configs, dtype=np.int64)
    ids: list[str] = []
    slots: dict[str, int] = {}
    trial_rows: list[int] = []
    frames: list[pd.DataFrame] = []
    starts: list[float] = []
    ends: list[float] = []
    until: dict[int, int] = {}  # running slot -> epochs its job trains to
    records: dict[int, TrialRecord] = {}
    queue: list[tuple[float, int, int]] = []  # (time the epoch ends, sequence, trial slot)
    seq = 0
    scheduler.start(T)

    def launch(now: float) -> None:
        nonlocal seq
        while len(until) < workers:
            job = scheduler.next_job()
            if job is None:
                return
            config_id = job.config_id
            if config_id not in rows:
                raise ValueError(f"config {config_id!r} asked by the searcher is not in the curves")
            row = rows[config_id]
            if not complete[row]:
                raise ValueError(f"config {config_id!r} is not recorded to the final epoch "
                                 f"({int(trained.n_observed()[row])} of {T} epochs)")
            slot = slots.get(config_id)
            if slot is None:
                slot = len(ids)
                slots[config_id] = slot
                ids.append(config_id)
                trial_rows.append(row)
                frames.append(trained.configs.iloc[[row]])
                starts.append(now)
                ends.append(now)
            elif slot in until or slot in records:
                raise ValueError(f"config {config_id!r} was asked for twice")
            if not int(n_obs[slot]) < job.until <= T:
                raise ValueError(f"job for {config_id!r} to {job.until} epochs: it has "
                                 f"{int(n_obs[slot])} of {T}")
            until[slot] = job.until
            heapq.heappush(queue, (now + float(cost[row, n_obs[slot]]), seq, slot))
            seq += 1

    def history() -> History:
        n = len(ids)
        return History(values[:n], n_obs[:n], ids[:n], trained.configs, epochs, trained.metric,
                       trained.direction, token)

    def end_job(slot: int, now: float, decision: Decision | None) -> None:
        del until[slot]
        ends[slot] = now
        tau = int(n_obs[slot])
        trial = Trial(ids[slot], frames[slot], values[slot, :tau].copy())
        for closed in scheduler.job_ended(trial, history(), decision):
            s = slots[closed.config_id]
            if s in until or s in records:
                raise RuntimeError(f"the scheduler closed {closed.config_id!r} while running "
                                   "or twice")
            row = trial_rows[s]
            record = TrialRecord(closed.config_id, int(n_obs[s]), int(n_obs[s]) < T,
                                 closed.value, closed.predicted, float(filled[row, -1]),
                                 starts[s], ends[s], closed.decision)
            records[s] = record
            if on_trial is not None:
                on_trial(record)

    launch(0.0)
    now = 0.0
    while queue:
        now, _, slot = heapq.heappop(queue)
        row = trial_rows[slot]
        tau = int(n_obs[slot]) + 1
        values[slot, tau - 1] = filled[row, tau - 1]
        n_obs[slot] = tau
        if tau == until[slot]:
            end_job(slot, now, None)
            launch(now)
            continue
        trial = Trial(ids[slot], frames[slot], values[slot, :tau].copy())
        decision = scheduler.report(trial, history(), until[slot])
        if decision.stop:
            end_job(slot, now, decision)
            launch(now)
        else:
            heapq.heappush(queue, (now + float(cost[row, tau]), seq, slot))
            seq += 1
    open_ = [ids[s] for s in range(len(ids)) if s not in records]
    if open_:
        raise RuntimeError(f"the scheduler never closed {len(open_)} config(s), e.g. {open_[0]!r}")
    return ReplayResult(trials=tuple(records[i] for i in range(len(ids))), n_epochs=T,
                        direction=trained.direction, workers=workers, simulated_time=now)
