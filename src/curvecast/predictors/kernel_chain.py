"""A :class:`HorizonChain` whose final-value prediction a kernel ridge regression corrects, from the
partial curve and the config, once enough runs have finished."""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics.pairwise import rbf_kernel

from curvecast import defaults
from curvecast.curves import CurveSet, Direction
from curvecast.features import GROUPS, Featurizer
from curvecast.predictors._base import (
    Prediction,
    Predictor,
    config_rows,
    partial_curves,
    refuse_nothing_to_learn,
    target_column,
)
from curvecast.predictors.horizon_chain import HorizonChain, widened
from curvecast.predictors.study_configs import LastRowCache, index_positions, positions_of

#: Kernel widths tried, as multiples of 1 / (number of features) on standardised features.
GAMMAS = (0.1, 0.3, 1.0, 3.0)
#: Ridge penalties tried.
PENALTIES = (1e-3, 1e-2, 1e-1, 1.0, 10.0)


class KernelChain(Predictor):
    """:class:`HorizonChain`'s prediction plus, once enough runs have finished, a kernel ridge
    correction of its error.

    With fewer than ``min_finished`` finished curves it predicts exactly as ``chain`` (by
    default ``HorizonChain()``, whose links also regress on the run's config).  From then on the
    prediction is that of the same chain on the curves alone plus a correction: on the finished
    curves, an RBF kernel ridge regression learns that chain's error at the target epoch from
    what it does not use — the whole partial curve with its first and second differences (TS),
    the architecture (AP) and the hyperparameters (HP), see :mod:`curvecast.features` — plus the
    chain's own prediction; all on the chain's modelled scale (``log`` of a perplexity or a loss,
    "larger is better").  (The chain corrected sees the curves alone so that the kernel is the one
    part that reads the config: corrected, the config-regressing chain scored lower R² on six of
    the 14 cells of ``docs/results-prediction.md``.)  Its kernel width and penalty are chosen per
    τ by closed-form leave-one-out error (the mean offset counted in the hat diagonal: close to,
    not exactly, refitting without each curve) over the grids :data:`GAMMAS` ×
    :data:`PENALTIES` (one eigendecomposition per width), so nothing is tuned by hand per data
    set.

    σ: the chain's σ, rescaled so that the leave-one-out errors of the corrected prediction on
    the finished curves have unit mean square in units of it (with the chain's ``tail``: only
    the errors on the better side, doubled).  The mean is kept inside the chain's bound (the
    finished curves' final values widened by ``clip`` times their range) and flagged
    ``clipped`` when it is moved.

    It learns from partial curves (the chain does) and can be refitted whenever a study changes
    (:meth:`fit_arrays`, as the stopper does): the chain is refitted as
    :meth:`HorizonChain.fit_arrays` does; a τ's correction is fitted when first asked for, and
    the corrections are kept by the fits that ``reuse`` them until the finished curves have grown
    by ``refresh`` (a tenth) since they were learned.

    **Not the stopping rule's default** (``docs/results-benchmark.md``, stop 24).  No study of
    the benchmark reaches 100 finished trials on its own, so there it decides as the chain.
    Warm-started with a prior of 120 complete curves of the same workload (correction on from
    the first decision), it stopped as early as the chain or earlier, with the best kept in 10 of
    10 seeds, on the five other development sets, and kept it in 0 of 10 on TinyImageNet, whose
    best runs bloom late; with ``min_scale=1`` it was safe and slower than the chain.

    Args:
        chain: the unfitted chain (default: ``HorizonChain()``).
        features: the correction's feature groups, a subset of ``{"ts", "ap", "hp"}``.
        min_finished: finished curves the correction needs (≥ 10; default
            :data:`curvecast.defaults.CORRECTION_ROWS` = 100).
        refresh: the growth of the finished curves, as a share, after which a refit learns the
            corrections anew (≥ 0; 0: at every refit with a new finished curve).
        min_scale: the least factor the correction may scale the chain's σ by (0: none; 1: the
            corrected σ is never narrower than the chain's).
    """

    learns_from_partial_curves = True
    configs_optional = True

    def __init__(self, chain: HorizonChain | None = None,
                 features: Collection[str] | str = GROUPS,
                 min_finished: int = defaults.CORRECTION_ROWS, refresh: float = 0.1,
                 min_scale: float = 0.0) -> None:
        if min_finished < 10:
            raise ValueError(f"min_finished must be >= 10, got {min_finished}")
        if not refresh >= 0.0:
            raise ValueError(f"refresh must be >= 0, got {refresh}")
        self.chain = HorizonChain() if chain is None else chain
        self.featurizer = Featurizer(groups=features)  # type: ignore[arg-type]  # parsed there
        self.min_finished = int(min_finished)
        self.refresh = float(refresh)
        if not min_scale >= 0.0:
            raise ValueError(f"min_scale must be >= 0, got {min_scale}")
        self.min_scale = float(min_scale)

    @property
    def min_rows(self) -> int:
        """Finished curves the chain needs before it can be fitted."""
        return self.chain.min_rows

    def __repr__(self) -> str:
        return (f"KernelChain(chain={self.chain!r}, features={sorted(self.featurizer.groups)}, "
                f"min_finished={self.min_finished})")

    @property
    def corrected(self) -> bool:
        """Whether the fitted predictor corrects the chain (enough curves had finished)."""
        if not hasattr(self, "chain_"):
            raise RuntimeError("call fit(curves) before predict")
        return self.state_ is not None

    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> KernelChain:
        """Fit the chain on every curve and keep the finished ones for the correction.

        Raises:
            ValueError: as :meth:`HorizonChain.fit` (too few curves observed to the target).
        """
        trained = curves.without_untrained_epoch()
        refuse_nothing_to_learn(trained, self)
        col = target_column(trained, target_epoch)
        values = trained.filled_values()[:, : col + 1]
        n_observed = np.minimum(trained.n_observed(), col + 1)
        declared = (trained.provenance.get("columns", {})
                    if isinstance(trained.provenance, dict) else {})
        return self._fit(values, n_observed, trained.direction, trained.diverged_fill, None,
                         trained.configs, None, declared)

    def fit_arrays(self, values: NDArray[np.float64], n_observed: NDArray[np.int64],
                   direction: Direction, diverged_fill: float | None = None,
                   reuse: KernelChain | None = None, configs: pd.DataFrame | None = None,
                   config_ids: Sequence[Hashable] | None = None) -> KernelChain:
        """Fit on raw arrays, as :meth:`HorizonChain.fit_arrays` (same arguments); ``reuse``, an
        earlier fit in the same study, also hands over its corrections while they are fresh
        (see the class notes: same target epoch, same modelled scale — a metric far from zero
        is measured from its median, which moves with every refit, so there they are learned
        anew each time).  The correction's config columns are chosen from the table as
        :meth:`Featurizer.fit_table` does without declared columns (``fit`` reads a CurveSet's
        declared architecture and hyperparameter columns).

        Raises:
            ValueError: as :meth:`HorizonChain.fit_arrays`; with the correction on, a config
                table or ids that do not match the curves.
        """
        values = np.asarray(values, dtype=np.float64)
        return self._fit(values, np.asarray(n_observed, dtype=np.int64), direction,
                         diverged_fill, reuse, configs, config_ids, {})

    def _fit(self, values: NDArray[np.float64], n_observed: NDArray[np.int64],
             direction: Direction, diverged_fill: float | None, reuse: KernelChain | None,
             configs: pd.DataFrame | None, config_ids: Sequence[Hashable] | None,
             declared: dict[str, Any]) -> KernelChain:
        T = values.shape[1]
        finished = np.flatnonzero(n_observed >= T)
        corrected = finished.size >= self.min_finished
        prototype = self.chain.on_curves_alone() if corrected else self.chain
        before = getattr(reuse, "chain_", None)
        if before is not None and before._settings() != prototype._settings():
            before = None  # the other chain (the correction started since)
        self.chain_ = copy.copy(prototype).fit_arrays(
            values, n_observed, direction, diverged_fill=diverged_fill, reuse=before,
            configs=configs, config_ids=config_ids)
        self.state_: _State | None = None
        if not corrected:
            return self
        old = getattr(reuse, "state_", None)
        if old is not None and old.fresh(self.chain_, finished.size, self.refresh):
            self.state_ = old
            return self
        rows = _finished_rows(configs, config_ids, finished, values.shape[0])
        featurizer = copy.deepcopy(self.featurizer).fit_table(
            rows, self.chain_.diverged_fill_, declared)
        self.state_ = _State(self.chain_, featurizer, values[finished], rows)
        return self

    def _features(self, config_block: NDArray[np.float64], u: NDArray[np.float64],
                  chain_mean: NDArray[np.float64]) -> NDArray[np.float64]:
        """The correction's inputs: the TS features of the modelled-scale partial curves ``u``
        (shape ``(n, τ)``), the AP/HP block of their configs (``Featurizer.config_features``)
        and the chain's mean (shape ``(n,)``)."""
        assert self.state_ is not None
        return np.column_stack([self.state_.featurizer.curve_features(u), config_block,
                                chain_mean])

    def _config_block(self, configs: pd.DataFrame) -> NDArray[np.float64]:
        """``configs``' AP/HP block; a one-row table's is kept, keyed by its column names and
        values (a running trial's config, asked about on every decision)."""
        state = self.state_
        assert state is not None
        if len(configs) != 1:
            return state.featurizer.config_features(configs)
        return state.query.get(configs, lambda table, _: state.featurizer.config_features(table))

    def correction(self, tau: int) -> _Correction | None:
        """The fitted correction for curves observed for ``tau`` epochs (None: too few finished
        curves), fitted on first use."""
        if not self.corrected:
            return None
        state = self.state_
        assert state is not None
        if tau not in state.corrections:
            chain = self.chain_
            u = chain._to_u(state.values)
            mean, std, _, _ = chain.predict_latent(state.values[:, :tau])
            X = self._features(state.config_block, u[:, :tau], mean)
            state.corrections[tau] = _Correction.fit(X, u[:, -1] - mean, std, chain._squared)
        return state.corrections[tau]

    def predict(self, configs: pd.DataFrame, partial: NDArray[np.float64]) -> Prediction:
        y = partial_curves(partial)
        configs = config_rows(configs, y.shape[0])
        tau = y.shape[1]
        if not self.corrected or tau >= self.chain_.n_epochs_:
            return self.chain_.predict(configs, y)
        fix = self.correction(tau)
        assert fix is not None and self.state_ is not None
        chain = self.chain_
        mean, std, dof, clipped = chain.predict_latent(y)
        u = chain._to_u(chain._filled(y))
        mean = mean + fix.predict(self._features(self._config_block(configs), u, mean))
        low, high = self.state_.bound
        clipped = clipped | (mean < low) | (mean > high)
        mean = np.clip(mean, low, high)
        return chain.to_prediction(mean, std * max(fix.scale, self.min_scale), dof, clipped)


def _finished_rows(configs: pd.DataFrame | None, config_ids: Sequence[Hashable] | None,
                   finished: NDArray[np.intp], n: int) -> pd.DataFrame:
    """The config rows of the ``finished`` curves among ``n``: from ``configs`` in the curves'
    order, or looked up by ``config_ids`` (None: a table without columns).

    Raises:
        ValueError: a table with another number of rows, ids of another number, a repeated
            index label or an id without a row.
    """
    if configs is None:
        return pd.DataFrame(index=pd.RangeIndex(finished.size))
    if config_ids is None:
        if len(configs) != n:
            raise ValueError(f"{len(configs)} config rows for {n} curves")
        return configs.iloc[finished]
    ids = list(config_ids)
    if len(ids) != n:
        raise ValueError(f"{len(ids)} config ids for {n} curves")
    return configs.iloc[positions_of(index_positions(configs), [ids[i] for i in finished])]


class _State:
    """What the corrections learn from — the finished curves (metric units, shape ``(n, T)``),
    their config rows and the fitted featurizer — the corrections fitted so far (per τ), and the
    bound, on the modelled scale of the chain fitted with them."""

    def __init__(self, chain: HorizonChain, featurizer: Featurizer,
                 values: NDArray[np.float64], configs: pd.DataFrame) -> None:
        self.featurizer, self.values = featurizer, values
        self.config_block = featurizer.config_features(configs)
        #: the last one-row query's AP/HP block
        self.query = LastRowCache()
        self.scale = chain.unit_, chain.centre_, chain.log_target_, chain.sign_
        finals = chain._to_u(values[:, -1])
        self.bound = widened(float(finals.min()), float(finals.max()), chain.clip)
        self.corrections: dict[int, _Correction] = {}

    def fresh(self, chain: HorizonChain, n_finished: int, refresh: float) -> bool:
        """Whether ``chain`` (refitted since, on the same scale) may keep these corrections:
        ``n_finished`` curves have finished, fewer than ``1 + refresh`` times those learned on."""
        n = self.values.shape[0]
        same_scale = self.scale == (chain.unit_, chain.centre_, chain.log_target_, chain.sign_)
        same_target = self.values.shape[1] == chain.n_epochs_
        return (same_scale and same_target
                and n <= n_finished < max(n * (1.0 + refresh), n + 1))


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
        # the RBF kernel in numpy (sklearn's validation costs more than the product for one row)
        d2 = (np.sum(Z ** 2, axis=1)[:, None] - 2.0 * Z @ self.train.T
              + np.sum(self.train ** 2, axis=1)[None, :])
        return self.offset + np.exp(-self.gamma * np.maximum(d2, 0.0)) @ self.dual
