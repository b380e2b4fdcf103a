"""Replay: a search over recorded learning curves on a simulated clock, with W simulated workers.

Each trial a searcher asks for is "trained" by reading its recorded curve one epoch at a time; an
epoch costs its recorded seconds (``CurveSet.seconds``) or 1 time unit where that is unknown.  An
event queue ordered by simulated time (ties broken by the order events were made, so a replay is
deterministic) hands the finished epochs to the stopper, which may stop the trial; a stopped
trial's result told to the searcher is the stopper's predicted final value (its last observed
value when the rule predicts nothing), marked as predicted.  Epoch 0 (the untrained network), if
recorded, is not replayed: it costs nothing and is never decided on.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from curvecast.curves import CurveSet, Direction
from curvecast.search import Searcher
from curvecast.stopping import Decision, History, Stopper, Trial


@dataclass(frozen=True)
class TrialRecord:
    """What happened to one trial of a replay.

    Attributes:
        config_id: the config.
        epochs: epochs trained (T when trained to the end).
        stopped: whether the stopper stopped it.
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


def replay(curves: CurveSet, searcher: Searcher, stopper: Stopper, workers: int = 1,
           study: Hashable | None = None,
           on_trial: Callable[[TrialRecord], None] | None = None) -> ReplayResult:
    """Run ``searcher`` with ``stopper`` over the recorded ``curves`` on ``workers`` simulated workers.

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
    asked: set[str] = set()
    trial_rows: list[int] = []
    frames: list[pd.DataFrame] = []
    starts: list[float] = []
    records: dict[int, TrialRecord] = {}
    queue: list[tuple[float, int, int]] = []  # (time the epoch ends, sequence, trial slot)
    seq = 0
    free = workers

    def launch(now: float) -> None:
        nonlocal seq, free
        while free > 0:
            config_id = searcher.ask()
            if config_id is None:
                return
            if config_id not in rows:
                raise ValueError(f"config {config_id!r} asked by the searcher is not in the curves")
            row = rows[config_id]
            if not complete[row]:
                raise ValueError(f"config {config_id!r} is not recorded to the final epoch "
                                 f"({int(trained.n_observed()[row])} of {T} epochs)")
            if config_id in asked:
                raise ValueError(f"config {config_id!r} was asked for twice")
            asked.add(config_id)
            slot = len(ids)
            ids.append(config_id)
            trial_rows.append(row)
            frames.append(trained.configs.iloc[[row]])
            starts.append(now)
            heapq.heappush(queue, (now + float(cost[row, 0]), seq, slot))
            seq += 1
            free -= 1

    def finish(slot: int, now: float, value: float, decision: Decision | None) -> None:
        nonlocal free
        row, tau = trial_rows[slot], int(n_obs[slot])
        predicted = decision is not None
        searcher.tell(ids[slot], value, predicted)
        record = TrialRecord(ids[slot], tau, predicted, value, predicted,
                             float(filled[row, -1]), starts[slot], now, decision)
        records[slot] = record
        if on_trial is not None:
            on_trial(record)
        free += 1

    launch(0.0)
    now = 0.0
    while queue:
        now, _, slot = heapq.heappop(queue)
        row = trial_rows[slot]
        tau = int(n_obs[slot]) + 1
        values[slot, tau - 1] = filled[row, tau - 1]
        n_obs[slot] = tau
        if tau == T:
            finish(slot, now, float(filled[row, -1]), None)
            launch(now)
            continue
        n = len(ids)
        history = History(values[:n], n_obs[:n], ids[:n], trained.configs, epochs, trained.metric,
                          trained.direction, token)
        trial = Trial(ids[slot], frames[slot], values[slot, :tau].copy())
        decision = stopper.decide(trial, history)
        if decision.stop:
            value = decision.mean if decision.mean is not None else float(values[slot, tau - 1])
            finish(slot, now, float(value), decision)
            launch(now)
        else:
            heapq.heappush(queue, (now + float(cost[row, tau]), seq, slot))
            seq += 1
    return ReplayResult(trials=tuple(records[i] for i in range(len(ids))), n_epochs=T,
                        direction=trained.direction, workers=workers, simulated_time=now)
