"""A :class:`HorizonChain` whose final-value prediction a kernel ridge regression corrects, from the
partial curve and the config, once enough runs have finished."""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics.pairwise import rbf_kernel

from curvecast.curves import CurveSet
from curvecast.features import GROUPS, Featurizer
from curvecast.predictors._base import Prediction, Predictor, target_column
from curvecast.predictors.horizon_chain import HorizonChain, widened

#: Kernel widths tried, as multiples of 1 / (number of features) on standardised features.
GAMMAS = (0.1, 0.3, 1.0, 3.0)
#: Ridge penalties tried.
PENALTIES = (1e-3, 1e-2, 1e-1, 1.0, 10.0)


class KernelChain(Predictor):
    """:class:`HorizonChain`'s prediction plus a kernel ridge correction of its error.

    The chain (curve only, linear links) learns from every curve, partial ones too, but sees
    only the value and the best value after τ epochs, and no config.  On the finished curves,
    an RBF kernel ridge regression learns the chain's error at the target epoch from what the
    chain does not use — the whole partial curve with its first and second differences (TS), the
    architecture (AP) and the hyperparameters (HP), see :mod:`curvecast.features` — plus the
    chain's own prediction; all on the chain's modelled scale (``log`` of a perplexity or a loss,
    "larger is better").  Its kernel width and penalty are chosen per τ by closed-form
    leave-one-out error (the mean offset counted in the hat diagonal: close to, not exactly,
    refitting without each curve) over the grids :data:`GAMMAS` × :data:`PENALTIES` (one
    eigendecomposition per width), so nothing is tuned by hand per data set.

    σ: the chain's σ, rescaled so that the leave-one-out errors of the corrected prediction on
    the finished curves have unit mean square in units of it (with the chain's ``tail``: only
    the errors on the better side, doubled).  The mean is kept inside the chain's bound (the
    finished curves' final values widened by ``clip`` times their range) and flagged
    ``clipped`` when it is moved.  With fewer than ``min_finished`` finished curves it
    predicts exactly as the chain.

    It needs the configs (``uses_configs``) and refits one kernel regression per τ after every
    fit, so it is a predictor for ``curvecast evaluate`` and the API; the stopping rule's default
    stays the chain (``docs/results-prediction.md`` says why and what it measured).

    Args:
        chain: the unfitted chain (default: ``HorizonChain(config_rows=None)``, the curves
            alone, as it was measured: the correction is what sees the configs here, so a chain
            that regressed on them too would use them twice).
        features: the correction's feature groups, a subset of ``{"ts", "ap", "hp"}``.
        min_finished: finished curves the correction needs (≥ 10).
    """

    def __init__(self, chain: HorizonChain | None = None,
                 features: Collection[str] | str = GROUPS, min_finished: int = 20) -> None:
        if min_finished < 10:
            raise ValueError(f"min_finished must be >= 10, got {min_finished}")
        self.chain = HorizonChain(config_rows=None) if chain is None else chain
        self.featurizer = Featurizer(groups=features)  # type: ignore[arg-type]  # parsed there
        self.min_finished = int(min_finished)

    @property
    def min_rows(self) -> int:
        """Finished curves the chain needs before it can be fitted."""
        return self.chain.min_rows

    def __repr__(self) -> str:
        return (f"KernelChain(chain={self.chain!r}, features={sorted(self.featurizer.groups)}, "
                f"min_finished={self.min_finished})")

    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> KernelChain:
        """Fit the chain on every curve and keep the finished ones for the correction.

        Raises:
            ValueError: as :meth:`HorizonChain.fit` (too few curves observed to the target).
        """
        trained = curves.without_untrained_epoch()
        col = target_column(trained, target_epoch)
        self.chain_ = copy.deepcopy(self.chain).fit(trained, target_epoch=target_epoch)
        self.featurizer_ = copy.deepcopy(self.featurizer)
        finished = np.asarray(trained.observed[:, : col + 1].all(axis=1), dtype=bool)
        train = trained.subset(finished)
        self.featurizer_.fit(train)
        self.target_col_ = col
        self.configs_ = train.configs
        self.values_ = train.filled_values()[:, : col + 1]
        finals = self.chain_._to_u(self.values_[:, -1])
        self.bound_ = widened(float(finals.min()), float(finals.max()), self.chain_.clip)
        self.corrections_: dict[int, _Correction | None] = {}
        return self

    def _features(self, configs: pd.DataFrame, u: NDArray[np.float64],
                  chain_mean: NDArray[np.float64]) -> NDArray[np.float64]:
        """The correction's inputs: TS/AP/HP features of the modelled-scale partial curves ``u``
        (shape ``(n, τ)``) and the chain's mean (shape ``(n,)``)."""
        return np.column_stack([self.featurizer_.transform(configs, u), chain_mean])

    def correction(self, tau: int) -> _Correction | None:
        """The fitted correction for curves observed for ``tau`` epochs (None: too few finished
        curves), fitted on first use."""
        if not hasattr(self, "corrections_"):
            raise RuntimeError("call fit(curves) before predict")
        if tau not in self.corrections_:
            self.corrections_[tau] = None
            n = self.values_.shape[0]
            if n >= self.min_finished:
                u = self.chain_._to_u(self.values_)
                mean, std, _, _ = self.chain_.predict_latent(self.values_[:, :tau],
                                                             self.configs_)
                X = self._features(self.configs_, u[:, :tau], mean)
                self.corrections_[tau] = _Correction.fit(X, u[:, -1] - mean, std,
                                                         self.chain_._squared)
        return self.corrections_[tau]

    def predict(self, configs: pd.DataFrame, partial: NDArray[np.float64]) -> Prediction:
        y = np.array(partial, dtype=np.float64, ndmin=2)
        tau = y.shape[1]
        if not hasattr(self, "corrections_"):
            raise RuntimeError("call fit(curves) before predict")
        if len(configs) != y.shape[0]:
            raise ValueError(f"{len(configs)} config rows but {y.shape[0]} partial curves")
        if tau > self.target_col_:
            return self.chain_.predict(configs, y)
        fix = self.correction(tau)
        if fix is None:
            return self.chain_.predict(configs, y)
        chain = self.chain_
        mean, std, dof, clipped = chain.predict_latent(y, configs)
        u = chain._to_u(chain._filled(y))
        mean = mean + fix.predict(self._features(configs, u, mean))
        low, high = self.bound_
        clipped = clipped | (mean < low) | (mean > high)
        mean = np.clip(mean, low, high)
        return chain.to_prediction(mean, std * fix.scale, dof, clipped)


class _Correction:
    """One τ's fitted kernel ridge regression of the chain's error (standardised inputs)."""

    def __init__(self, center: NDArray[np.float64], spread: NDArray[np.float64],
                 keep: NDArray[np.bool_], train: NDArray[np.float64], gamma: float,
                 dual: NDArray[np.float64], offset: float, scale: float) -> None:
        self.center, self.spread, self.keep, self.train = center, spread, keep, train
        self.gamma, self.dual, self.offset, self.scale = gamma, dual, offset, scale

    @classmethod
    def fit(cls, X: NDArray[np.float64], error: NDArray[np.float64],
            chain_std: NDArray[np.float64],
            squared: Callable[[NDArray[np.float64]], NDArray[np.float64]]) -> _Correction:
        """Fit on inputs ``X`` (shape ``(n, d)``) and the chain's errors (shape ``(n,)``);
        ``chain_std`` (shape ``(n,)``) and ``squared`` (the chain's error-to-variance map) set
        the σ scale from the leave-one-out errors."""
        center = np.nanmean(X, axis=0)
        X = np.where(np.isfinite(X), X, center)
        spread = X.std(axis=0)
        keep = spread > 1e-12
        Z = (X[:, keep] - center[keep]) / spread[keep]
        offset = float(error.mean())
        target = error - offset
        n = target.shape[0]
        best: tuple[float, float, float, NDArray[np.float64]] | None = None
        for g in GAMMAS:
            gamma = g / max(Z.shape[1], 1)
            values, vectors = np.linalg.eigh(rbf_kernel(Z, gamma=gamma))
            values = np.maximum(values, 0.0)
            projected = vectors.T @ target
            for penalty in PENALTIES:
                shrink = values / (values + penalty)
                fitted = vectors @ (shrink * projected)
                # the smoother, offset included: S(I − 11ᵀ/n) + 11ᵀ/n, so its diagonal is
                # S_ii − (S1)_i / n + 1/n (the offset's share of each fitted value counted)
                hat = (np.einsum("ij,j,ij->i", vectors, shrink, vectors)
                       - vectors @ (shrink * vectors.sum(axis=0)) / n + 1.0 / n)
                loo = (target - fitted) / np.maximum(1.0 - hat, 1e-9)
                score = float(np.mean(loo ** 2))
                if best is None or score < best[0]:
                    dual = vectors @ (projected / (values + penalty))
                    best = (score, gamma, penalty, np.column_stack([loo, dual]))
        assert best is not None
        _, gamma, _, both = best
        loo_error = both[:, 0]  # the corrected prediction's leave-one-out error (target − loo fit)
        scale = float(np.sqrt(max(float(np.mean(squared(loo_error) / chain_std ** 2)), 1e-4)))
        return cls(center, spread, keep, Z, gamma, both[:, 1], offset, scale)

    def predict(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """The correction for inputs ``X`` (shape ``(n, d)``), shape ``(n,)``."""
        X = np.where(np.isfinite(X), X, self.center)
        Z = (X[:, self.keep] - self.center[self.keep]) / self.spread[self.keep]
        return self.offset + rbf_kernel(Z, self.train, gamma=self.gamma) @ self.dual
