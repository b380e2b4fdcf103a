"""The interface every early-stopping rule implements, and the read-only view of a search it reads.

A :class:`Stopper` is asked after each trained epoch of a running trial whether to go on:
``decide(trial, history) -> Decision``.  It reads the running :class:`Trial` (its config and its
partial curve) and a :class:`History` (every trial of the study so far, complete, stopped or
running, as filled curves).  Both are read-only; a stopper keeps no state except caches that are a
pure function of what it has been shown (the predictive stopper's fitted predictor).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.curves import CurveSet, Direction

_A = TypeVar("_A", bound=np.ndarray[Any, Any])


class Action(Enum):
    """What a stopper tells the runner to do with a trial after an epoch."""

    CONTINUE = "continue"
    STOP = "stop"


@dataclass(frozen=True)
class Decision:
    """A stopper's answer, with the numbers behind it.

    Attributes:
        action: CONTINUE or STOP.
        epoch: the epoch (on the CurveSet's axis) after which the decision was taken.
        mean: predicted final value y_T (metric units), None when the rule predicts nothing.
        std: standard deviation of that prediction (metric units), None with ``mean``.
        probability: the probability that drove the decision (e.g. P(y_T worse than the
            reference)), None when the rule has none.
        reason: one line for humans.
        clipped: whether the prediction was outside what the training curves support and was
            clipped back to its bound (a bounded predictor's flag; False without a prediction).
    """

    action: Action
    epoch: int
    mean: float | None = None
    std: float | None = None
    probability: float | None = None
    reason: str = ""
    clipped: bool = False

    @property
    def stop(self) -> bool:
        """Whether the decision is STOP."""
        return self.action is Action.STOP


@dataclass(frozen=True)
class Trial:
    """The running trial a decision is about.

    Attributes:
        config_id: its id.
        config: its row of the config table (a one-row DataFrame indexed by ``config_id``), the
            shape :meth:`curvecast.predictors.Predictor.predict` takes.
        values: its curve so far, shape ``(tau,)``: the value after each trained epoch 1..τ
            (epoch 0 excluded), diverged values already filled by the CurveSet rule.
    """

    config_id: str
    config: pd.DataFrame
    values: NDArray[np.float64]

    def __post_init__(self) -> None:
        if np.ndim(self.values) != 1 or len(self.values) == 0:
            raise ValueError(f"trial {self.config_id!r}: values must be a non-empty 1-D curve, "
                             f"got shape {np.shape(self.values)}")

    @property
    def tau(self) -> int:
        """Number of epochs trained so far."""
        return len(self.values)


class History:
    """A read-only view of every trial of a study so far (complete, stopped and running).

    Args:
        values: shape ``(n_trials, n_epochs)``, the value after each trained epoch (epoch 0
            excluded), diverged values filled by the CurveSet rule, NaN beyond what was observed.
            Rows are trials in the order they started.
        n_observed: shape ``(n_trials,)``, epochs observed per trial (a trial is complete when
            this equals ``n_epochs``).
        config_ids: the trials' ids, in row order.
        configs: a config table indexed by config id with (at least) a row for every trial.
        epochs: shape ``(n_epochs,)``, the trained epochs of the budget axis.
        metric: the metric's name.
        direction: whether larger or smaller values are better.
        study: an opaque token naming the study; caches of fitted models are keyed by it.
    """

    __slots__ = ("_complete", "config_ids", "configs", "direction", "epochs", "metric",
                 "n_observed", "study", "values")

    def __init__(self, values: NDArray[np.float64], n_observed: NDArray[np.int64],
                 config_ids: Sequence[str], configs: pd.DataFrame, epochs: NDArray[np.int64],
                 metric: str, direction: Direction, study: Hashable = "") -> None:
        values = np.asarray(values, dtype=np.float64)
        n_observed = np.asarray(n_observed, dtype=np.int64)
        epochs = np.asarray(epochs, dtype=np.int64)
        if values.ndim != 2 or values.shape[1] != epochs.shape[0]:
            raise ValueError(f"values must have shape (n_trials, {epochs.shape[0]}), "
                             f"got {values.shape}")
        if n_observed.shape != (values.shape[0],) or len(config_ids) != values.shape[0]:
            raise ValueError(f"{values.shape[0]} trials but n_observed has shape "
                             f"{n_observed.shape} and {len(config_ids)} config ids")
        self.values: NDArray[np.float64] = _read_only(values)
        self.n_observed: NDArray[np.int64] = _read_only(n_observed)
        self.epochs: NDArray[np.int64] = _read_only(epochs)
        self.config_ids: Sequence[str] = config_ids
        self.configs: pd.DataFrame = configs
        self.metric: str = metric
        self.direction: Direction = Direction.parse(direction)
        self.study: Hashable = study
        self._complete: NDArray[np.bool_] = _read_only(self.n_observed >= self.n_epochs)

    @property
    def n_trials(self) -> int:
        """Trials started so far."""
        return int(self.values.shape[0])

    @property
    def n_epochs(self) -> int:
        """T: the epochs of full training."""
        return int(self.epochs.shape[0])

    @property
    def complete(self) -> NDArray[np.bool_]:
        """Shape ``(n_trials,)``: whether each trial was trained to the final epoch."""
        return self._complete

    @property
    def n_complete(self) -> int:
        """Trials trained to the final epoch."""
        return int(self._complete.sum())

    def final_values(self) -> NDArray[np.float64]:
        """Final values of the complete trials, shape ``(n_complete,)``, in start order."""
        return np.array(self.values[self._complete, -1])

    def completed(self) -> CurveSet:
        """The complete trials as a CurveSet (built on each call: meant for fitting models)."""
        rows = np.flatnonzero(self._complete)
        ids = [self.config_ids[int(r)] for r in rows]
        values = self.values[rows]
        return CurveSet(values=values, observed=np.ones(values.shape, dtype=bool),
                        epochs=self.epochs, metric=self.metric, direction=self.direction,
                        configs=self.configs.loc[ids])


def _read_only(array: _A) -> _A:
    view = array.view()
    view.flags.writeable = False
    return view


class Stopper(ABC):
    """Decides, after each trained epoch of a running trial, whether to stop it."""

    @abstractmethod
    def decide(self, trial: Trial, history: History) -> Decision:
        """CONTINUE or STOP ``trial`` (observed for ``trial.tau`` epochs) given ``history``.

        ``history`` holds the running trial too.  Called for 1 ≤ τ < T only: a trial at the final
        epoch is complete.
        """


def check_min_complete(min_complete: int) -> int:
    """Validate a ``min_complete`` argument (complete trials needed before any stop)."""
    if min_complete < 0:
        raise ValueError(f"min_complete must be >= 0, got {min_complete}")
    return int(min_complete)
