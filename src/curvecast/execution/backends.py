"""Backends of the one loop (:func:`curvecast.execution.loop.run`): where an epoch comes from and
which clock ticks.

:class:`RecordedBackend` serves recorded curves on a simulated clock: an epoch costs its
recorded seconds (``CurveSet.seconds``), or 1 time unit where that is unknown, and finished
epochs come back in order of simulated time (ties in the order they were started, so a run is
deterministic).  Its epochs are computed in this process (replay) or handed, as a task, to an
executor — local worker processes (:func:`process_pool`) or Ray tasks — whose results still come
back in simulated-time order: the same scheduler therefore takes the same decisions on every
backend for the same recorded curves.
"""

from __future__ import annotations

import concurrent.futures as cf
import heapq
import multiprocessing as mp
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.curves import CurveSet


@dataclass(frozen=True)
class Finished:
    """An epoch that finished: of trial ``slot``, at ``time`` on the backend's clock, with
    ``value`` (metric units, diverged values already filled)."""

    time: float
    slot: int
    value: float


class Backend(ABC):
    """What the loop needs from where epochs are computed: the configs it can run (recorded
    curves, epoch 0 dropped) and, in its clock's order, the epochs that finished.

    Args:
        curves: the configs the backend runs (their recorded curves).

    Attributes:
        curves: ``curves`` without the untrained epoch 0: the epoch axis, metric, direction and
            config table the loop's study view reads.
        filled: ``curves``' values, diverged values filled (the one rule).
        rows: config id → row of ``curves``.

    Raises:
        ValueError: no trained epochs.
    """

    def __init__(self, curves: CurveSet) -> None:
        self.curves = curves.without_untrained_epoch()
        if self.curves.n_epochs < 1:
            raise ValueError("the CurveSet has no trained epochs to replay")
        self.filled: NDArray[np.float64] = self.curves.filled_values()
        self.rows = {cid: i for i, cid in enumerate(self.curves.config_ids)}

    @abstractmethod
    def submit(self, slot: int, config_id: str, epoch: int, now: float) -> None:
        """Start trained epoch ``epoch`` (1-based) of ``config_id`` for trial ``slot`` at
        ``now``."""

    @abstractmethod
    def next(self) -> Finished | None:
        """The next epoch to finish on this backend's clock; None when none is in flight."""

    def config(self, config_id: str) -> pd.DataFrame:
        """The one-row config table of ``config_id``."""
        return self.curves.configs.iloc[[self.rows[config_id]]]


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

    Args:
        curves: recorded curves (epoch 0, if recorded, is not replayed: it costs nothing and is
            never decided on).
        executor: where each epoch is computed (None: in this process); the caller shuts it
            down.

    Raises:
        ValueError: no trained epochs.
    """

    def __init__(self, curves: CurveSet, executor: cf.Executor | None = None) -> None:
        super().__init__(curves)
        self.executor = executor
        self.cost = np.ones(self.filled.shape)
        if self.curves.seconds is not None:
            known = np.isfinite(self.curves.seconds)
            self.cost[known] = self.curves.seconds[known]
        self._queue: list[tuple[float, int, int, str, int]] = []
        self._futures: dict[int, cf.Future[float]] = {}
        self._seq = 0

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


def process_pool(workers: int) -> cf.Executor:
    """``workers`` local worker processes (spawned) for a backend's epoch tasks."""
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
