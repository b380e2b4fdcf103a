"""Backends of the one loop (:func:`curvecast.execution.loop.run`): where an epoch comes from and
which clock ticks.  :class:`Backend` is what the loop needs; real training is
:class:`curvecast.execution.training.TrainingBackend`.

:class:`RecordedBackend` serves recorded curves on a simulated clock: an epoch costs its
recorded seconds (``CurveSet.seconds``), or 1 time unit where that is unknown, and finished
epochs come back in order of simulated time (ties in the order they were started, so a run is
deterministic).  Its epochs are computed in this process (replay) or handed, as a task, to an
executor — local worker processes (:func:`curvecast.execution.epoch_task.local_executor`, the
one real searches use) or Ray tasks — whose results still come back in simulated-time order:
the same scheduler therefore takes the same decisions on every backend for the same recorded
curves.
"""

from __future__ import annotations

import concurrent.futures as cf
import heapq
import warnings
from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.curves import CurveSet, Direction
from curvecast.stopping import History, Trial


@dataclass(frozen=True)
class Finished:
    """An epoch that finished: of trial ``slot``, at ``time`` on the backend's clock.

    Attributes:
        time: when it finished on the backend's clock (simulated time units, or wall seconds).
        slot: the loop's trial slot.
        value: the metric after the epoch (metric units; recorded curves: diverged values
            already filled; real training: as reported, NaN kept); NaN with ``error``.
        seconds: the epoch's wall seconds when measured.
        test_value: the test-set metric after a run's final epoch, when measured.
        error: why the epoch failed (the trial cannot go on), None when it did not.
        note: something the user should know that is not an error (e.g. a trial restarted
            from epoch 0 because its checkpoint did not load).
    """

    time: float
    slot: int
    value: float
    seconds: float | None = None
    test_value: float | None = None
    error: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Opened:
    """A config as the loop first meets it: its one-row config table, the values already recorded
    for it (metric units, as :meth:`Backend.trial` counts them; a resumed study's trial goes on
    from there), its true final value for the record (NaN when unknown), and whether the last of
    those values was never judged (a process died between recording it and judging it: the loop
    judges it before the trial trains on)."""

    frame: pd.DataFrame
    values: NDArray[np.float64]
    final: float
    unjudged: bool = False


class Backend(ABC):
    """What the loop needs from where epochs are computed: the configs it may run, their epochs in
    its clock's order, and the study view the scheduler reads.

    Attributes:
        n_epochs: T, the epochs of full training.
        direction: the metric's direction.
        capacity: how many configs the loop should expect (a hint that sizes its arrays).
    """

    n_epochs: int
    direction: Direction
    capacity: int

    @abstractmethod
    def open(self, config_id: str) -> Opened:
        """``config_id`` as the loop first meets it.

        Raises:
            ValueError: the backend cannot run ``config_id``.
        """

    @abstractmethod
    def submit(self, slot: int, config_id: str, epoch: int, now: float) -> None:
        """Start trained epoch ``epoch`` (1-based) of ``config_id`` for trial ``slot`` at
        ``now``."""

    @abstractmethod
    def next(self) -> Finished | None:
        """The next epoch to finish on this backend's clock; None when none is in flight."""

    @abstractmethod
    def history(self, values: NDArray[np.float64], n_obs: NDArray[np.int64], ids: list[str],
                token: Hashable) -> History:
        """The study view after the loop's ``values[slot, epoch]`` (``n_obs[slot]`` observed;
        rows of ``ids``, in slot order), the scheduler's caches keyed by ``token``."""

    def trial(self, config_id: str, frame: pd.DataFrame, values: NDArray[np.float64]) -> Trial:
        """Trial ``config_id`` as the scheduler sees it after the loop's ``values`` (shape
        ``(tau,)``)."""
        return Trial(config_id, frame, values.copy())


@dataclass(frozen=True)
class _EpochTask:
    """One recorded epoch to compute in a worker: the config's filled value after ``epoch``."""

    config_id: str
    epoch: int
    curve: tuple[float, ...]


def recorded_epoch(task: _EpochTask) -> float:
    """The epoch task of recorded curves: the value after ``task.epoch`` (runs in a worker)."""
    return float(task.curve[task.epoch - 1])


class RecordedBackend(Backend):
    """Recorded curves on a simulated clock, epochs computed here or by ``executor``.

    An epoch costs its recorded seconds (``CurveSet.seconds``); where that is unknown, the
    median of its config's known epochs, else of the set's (:func:`epoch_costs`); a set with no
    recorded seconds runs on a clock of 1 time unit per epoch.

    Args:
        curves: recorded curves (epoch 0, if recorded, is not replayed: it costs nothing and is
            never decided on).
        executor: where each epoch is computed (None: in this process); the caller shuts it
            down.

    Attributes:
        curves: ``curves`` without the untrained epoch 0: the epoch axis, metric, direction and
            config table the loop's study view reads.
        filled: ``curves``' values, diverged values filled (the one rule).
        rows: config id → row of ``curves``.

    Raises:
        ValueError: no trained epochs.
    """

    def __init__(self, curves: CurveSet, executor: cf.Executor | None = None) -> None:
        self.curves = curves.without_untrained_epoch()
        if self.curves.n_epochs < 1:
            raise ValueError("the CurveSet has no trained epochs to replay")
        self.filled: NDArray[np.float64] = self.curves.filled_values()
        bad = self.curves.diverged()
        # which recorded values were NaN or ±inf (None: none), for the stopper
        self._diverged: NDArray[np.bool_] | None = bad if bad.any() else None
        self.rows = {cid: i for i, cid in enumerate(self.curves.config_ids)}
        # the rules' own copy: a rule that adds or changes a column (a log of the learning
        # rate) must not change the user's CurveSet
        self._configs = self.curves.configs.copy()
        self.n_epochs = self.curves.n_epochs
        self.direction = self.curves.direction
        self.capacity = self.curves.n_configs
        self._complete = self.curves.is_complete() & (self.curves.n_observed() == self.n_epochs)
        self._epochs = np.array(self.curves.epochs)
        self.executor = executor
        self.cost = epoch_costs(self.curves.seconds, self.filled.shape)
        self._queue: list[tuple[float, int, int, str, int]] = []
        self._futures: dict[int, cf.Future[float]] = {}
        self._seq = 0

    def open(self, config_id: str) -> Opened:
        row = self.rows.get(config_id)
        if row is None:
            raise ValueError(f"config {config_id!r} asked by the searcher is not in the curves")
        if not self._complete[row]:
            raise ValueError(f"config {config_id!r} is not recorded to the final epoch "
                             f"({int(self.curves.n_observed()[row])} of {self.n_epochs} epochs)")
        return Opened(self.curves.configs.iloc[[row]], np.empty(0),
                      float(self.filled[row, -1]))

    def history(self, values: NDArray[np.float64], n_obs: NDArray[np.int64], ids: list[str],
                token: Hashable) -> History:
        c = self.curves
        diverged = None
        if self._diverged is not None:  # the recorded runs' diverged reports, as far as seen
            seen = np.arange(self.n_epochs)[None, :] < np.asarray(n_obs)[:, None]
            diverged = self._diverged[[self.rows[i] for i in ids]] & seen
        return History(values, n_obs, ids, self._configs, self._epochs, c.metric, c.direction,
                       token, diverged=diverged)

    def submit(self, slot: int, config_id: str, epoch: int, now: float) -> None:
        row = self.rows[config_id]
        heapq.heappush(self._queue, (now + float(self.cost[row, epoch - 1]), self._seq, slot,
                                     config_id, epoch))
        if self.executor is not None:
            task = _EpochTask(config_id, epoch, tuple(float(v) for v in self.filled[row]))
            self._futures[self._seq] = self.executor.submit(recorded_epoch, task)
        self._seq += 1

    def next(self) -> Finished | None:
        if not self._queue:
            return None
        time, seq, slot, config_id, epoch = heapq.heappop(self._queue)
        if self.executor is None:
            value = float(self.filled[self.rows[config_id], epoch - 1])
        else:
            value = self._futures.pop(seq).result()
        return Finished(time, slot, value)


def epoch_costs(seconds: NDArray[np.float64] | None, shape: tuple[int, ...]) -> NDArray[np.float64]:
    """What each epoch of a replay costs on its clock, shape ``shape`` (configs, epochs): the
    recorded ``seconds`` (same shape; NaN where unknown); an unknown one costs the median of
    its config's known epochs, else of every known epoch of the set, so that epochs recorded
    without their time are not cheaper than the others; 1 time unit each when no epoch's
    seconds are known (``seconds`` None, or nothing finite and ≥ 0)."""
    if seconds is None:
        return np.ones(shape)
    known = np.isfinite(seconds) & (np.nan_to_num(seconds, nan=-1.0) >= 0)
    if not known.any():
        return np.ones(shape)
    cost = np.where(known, seconds, np.nan)
    overall = float(np.median(cost[known]))
    with warnings.catch_warnings():  # a config without a known epoch: the set's median
        warnings.simplefilter("ignore", RuntimeWarning)
        per_config = np.nanmedian(cost, axis=1)
    per_config = np.where(np.isfinite(per_config), per_config, overall)
    return np.where(known, cost, per_config[:, None])
