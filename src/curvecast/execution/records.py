"""What a search over recorded curves returns: one :class:`TrialRecord` per trial and the totals
(:class:`ReplayResult`), whichever backend computed the epochs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.curves import Direction
from curvecast.stopping import Decision


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
