"""The interface every predictor of final performance implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.curves import CurveSet


@dataclass(frozen=True)
class Prediction:
    """Predicted values with their uncertainty, both shape ``(n,)``, in the metric's units.

    ``std`` is the standard deviation of a Gaussian around ``mean`` (always > 0).
    """

    mean: NDArray[np.float64]
    std: NDArray[np.float64]

    def __post_init__(self) -> None:
        if self.mean.shape != self.std.shape:
            raise ValueError(f"mean has shape {self.mean.shape}, std {self.std.shape}")

    def __len__(self) -> int:
        return int(self.mean.shape[0])


class Predictor(ABC):
    """Predicts the value of a learning curve at a target epoch from its first τ epochs.

    ``fit(curves)`` learns from fully observed curves (predictors that need no training data, such
    as the last-seen value or per-curve parametric fits, accept and ignore them).  ``predict``
    takes config rows and partial curves of one length τ.  The target is the curve's last epoch
    unless ``target_epoch`` (an epoch on the CurveSet's axis) says otherwise, as f-Hyperband needs
    y_r at the end of a rung.  Predictors are pure: no I/O, randomness only through their seed.
    """

    @abstractmethod
    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> Predictor:
        """Learn from the configs of ``curves`` observed up to the target epoch."""

    @abstractmethod
    def predict(self, configs: pd.DataFrame, partial: NDArray[np.float64]) -> Prediction:
        """Predict the target for ``len(configs)`` configs from ``partial``, shape ``(n, tau)``.

        ``partial[:, t]`` is the value after the ``t``-th epoch of the fitted CurveSet's axis
        (epoch 0 excluded when it has one).  NaN/±inf entries count as diverged (the CurveSet rule).
        """

    def predict_curves(self, curves: CurveSet, tau: int) -> Prediction:
        """Predict for every config of ``curves`` from its first ``tau`` trained epochs."""
        trained = curves.without_untrained_epoch()
        if not 1 <= tau <= trained.n_epochs:
            raise ValueError(f"tau must be in 1..{trained.n_epochs}, got {tau}")
        return self.predict(trained.configs, trained.filled_values()[:, :tau])


def target_column(curves: CurveSet, target_epoch: int | None) -> int:
    """Column of ``curves`` (epoch 0 already removed) holding the target: the last one by default.

    Raises:
        ValueError: ``target_epoch`` is not on the epoch axis.
    """
    if target_epoch is None:
        return curves.n_epochs - 1
    hits = np.flatnonzero(curves.epochs == target_epoch)
    if hits.size == 0:
        raise ValueError(f"target epoch {target_epoch} is not on the axis {curves.epochs.tolist()}")
    return int(hits[0])
