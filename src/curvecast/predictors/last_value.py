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
    least_std,
    partial_curves,
    refuse_nothing_to_learn,
    scaled_rms,
    target_column,
)


class LastSeenValue(Predictor):
    """Predicts ``y_T = y_τ``; its std is the RMS gap between y_τ and y_T on the fitted curves.

    Without fitted curves (or with fewer than two), the std is the floor (``min_std``); unfitted, a NaN or
    ±inf report counts as the worst value of the curves given to :meth:`predict_curves` (no
    fitted set says otherwise), and stays NaN in :meth:`predict`.

    Args:
        min_std: floor of the reported std, in the metric's units (must be > 0).  None
            (default): 1e-6 of the values' size (the largest magnitude among the fitted curves'
            values at the target epoch and the curves' last values), so that a metric in units
            of 1e-6 or less is not given a σ as large as its values (every P(worse) then 0.5).
    """

    #: The default floor of the std, as a share of the values' size.
    RELATIVE_MIN_STD = 1e-6

    def __init__(self, min_std: float | None = None) -> None:
        if min_std is not None and not min_std > 0:
            raise ValueError(f"min_std must be > 0 or None, got {min_std}")
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
        std = self._floor(values, y)
        if values is not None and values.shape[0] >= 2 and tau <= values.shape[1]:
            gap = values[:, -1] - values[:, tau - 1]
            rms = scaled_rms(gap)  # gaps near 1e160: their squares would overflow
            std = max(rms, std)
        return Prediction(mean=y[:, -1].copy(), std=np.full(y.shape[0], std))

    def _floor(self, values: NDArray[np.float64] | None, y: NDArray[np.float64]) -> float:
        """The least std: ``min_std``, or by default 1e-6 of the values' size."""
        if self.min_std is not None:
            return self.min_std
        # the size of what is predicted: the fitted curves' values at the target and the
        # values last seen, not every epoch's (one run's first loss of 1e12 made the floor 1e6
        # for a loss of 0.01: every P(worse) 0.5)
        seen = y[:, -1] if values is None or not values.size else np.concatenate(
            [values[:, -1], y[:, -1]])
        finite = np.abs(seen[np.isfinite(seen)])
        size = float(finite.max()) if finite.size else 0.0
        return float(max(self.RELATIVE_MIN_STD * size, float(least_std(size))))
