"""LastSeenValue: the paper's weakest baseline — the final value will be the last one seen."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.curves import CurveSet
from curvecast.predictors._base import (
    Prediction,
    Predictor,
    config_rows,
    partial_curves,
    refuse_nothing_to_learn,
    target_column,
)


class LastSeenValue(Predictor):
    """Predicts ``y_T = y_τ``; its std is the RMS gap between y_τ and y_T on the fitted curves.

    Without fitted curves (or with fewer than two), the std is ``min_std``; unfitted, a NaN or
    ±inf report counts as the worst value of the curves given to :meth:`predict_curves` (no
    fitted set says otherwise), and stays NaN in :meth:`predict`.

    Args:
        min_std: floor of the reported std, in the metric's units (must be > 0).
    """

    def __init__(self, min_std: float = 1e-6) -> None:
        if not min_std > 0:
            raise ValueError(f"min_std must be > 0, got {min_std}")
        self.min_std = min_std

    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> LastSeenValue:
        trained = curves.without_untrained_epoch()
        refuse_nothing_to_learn(trained, self)
        col = target_column(trained, target_epoch)
        keep = trained.observed[:, col]
        self.values_ = trained.filled_values()[keep, : col + 1]
        self.diverged_fill_ = trained.diverged_fill
        return self

    def predict_curves(self, curves: CurveSet, tau: int) -> Prediction:
        if hasattr(self, "diverged_fill_"):
            return super().predict_curves(curves, tau)
        given = copy.copy(self)  # unfitted: the given curves' own diverged value
        given.diverged_fill_ = curves.without_untrained_epoch().diverged_fill
        return Predictor.predict_curves(given, curves, tau)

    def predict(self, configs: pd.DataFrame | None, partial: NDArray[np.float64]) -> Prediction:
        y = partial_curves(partial)
        config_rows(configs, y.shape[0])  # the value alone decides, but a mismatch is refused
        fill = getattr(self, "diverged_fill_", np.nan)
        y[~np.isfinite(y)] = fill
        values = getattr(self, "values_", None)
        if values is not None:  # a curve observed past the target: its value there, as the
            y = y[:, : values.shape[1]]  # other predictors give (the target is seen)
        tau = y.shape[1]
        std = self.min_std
        if values is not None and values.shape[0] >= 2 and tau <= values.shape[1]:
            gap = values[:, -1] - values[:, tau - 1]
            with np.errstate(over="ignore"):
                rms = float(np.sqrt(np.mean(gap**2)))
            if not np.isfinite(rms):  # gaps near 1e160: their squares overflow; scaled first
                size = float(np.max(np.abs(gap)))
                rms = size * float(np.sqrt(np.mean((gap / size) ** 2)))
            std = max(rms, self.min_std)
        return Prediction(mean=y[:, -1].copy(), std=np.full(y.shape[0], std))
