"""Sequential regression models (Baker et al. 2017, §3): one tuned regressor per observed length τ."""

from __future__ import annotations

from collections.abc import Collection, Iterable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.curves import CurveSet, Direction
from curvecast.features import GROUPS, Featurizer
from curvecast.predictors._base import (
    Prediction,
    Predictor,
    config_rows,
    least_std,
    partial_curves,
    refuse_nothing_to_learn,
    refuse_overflowing_values,
    target_column,
)
from curvecast.predictors.regressors import RegressorSpec, TunedRegressor, svr_rbf_or_ridge


class SRM(Predictor):
    """Predicts a curve's value at the target epoch with one regressor per observed length τ.

    Model τ sees the features of y_1..y_τ (TS), the architecture (AP) and the hyperparameters
    (HP) — see :mod:`curvecast.features` — and is a :class:`TunedRegressor`: the regressor of
    ``regressor`` tuned by ``n_draws`` random-search draws with ``cv``-fold cross-validation, its
    σ_τ taken from out-of-fold residuals (``sigma_folds``; 0 = leave-one-out).  Models are fitted
    lazily, the first time a τ is asked for (or all at once by :meth:`fit_taus`).

    Args:
        regressor: which regressor and search space (default: :func:`svr_rbf_or_ridge` — the
            paper's ν-SVR RBF or ridge regression, chosen by cross-validation per τ).
        features: feature groups, a subset of ``{"ts", "ap", "hp"}``.
        n_draws: random-search draws per τ (the paper: 1000).
        cv: folds of the tuning cross-validation.
        sigma_folds: folds of the σ estimate (0: leave-one-out).
        log_target: model log(value) — ``None`` (default) decides from the data: yes for a
            metric to minimise whose values are all positive (perplexity, loss: heavy-tailed),
            no otherwise.
        arcsine_target: model ``arcsin(√value)`` — the variance-stabilising transform of a
            proportion — for a metric in [0, 1] such as accuracy on a finite validation set.  An
            accuracy's run-to-run and epoch-to-epoch noise shrinks near 1 (a binomial's sd is
            √(p(1−p)/n)), so one σ in metric units is too wide for the top configs and too narrow
            for the rest; on this scale one σ fits both.  The regressors, their σ (and the
            ``"local"`` σ bins) and the curve features work on the transformed scale; predictions
            come back in metric units: the mean is ``sin²`` of the predicted mean and the std is
            half the width of the back-transformed ±1σ interval (clipped to [0, π/2]).
            Needs every value in [0, 1]; excludes ``log_target=True``.
        random_state: seed of the searches and folds.
        sigma_model: how σ is estimated from model τ's out-of-fold residuals. ``"per_tau"``
            (default): one σ_τ per τ, the RMS residual — every config observed for τ epochs gets
            the same σ.  ``"local"``: σ_τ(ŷ) depends on where the prediction ŷ lies — RMS
            residual in quantile bins of the out-of-fold ŷ, shrunk toward σ_τ and floored at
            0.1 σ_τ (see :func:`curvecast.predictors.regressors.local_sigma`); for data whose
            error differs between, e.g., the top cluster and a long tail of failed runs.  σ is in
            the metric's units either way; :meth:`sigma` still gives the global σ_τ.
    """

    def __init__(self, regressor: RegressorSpec | None = None,
                 features: Collection[str] | str = GROUPS, n_draws: int = 50, cv: int = 3,
                 sigma_folds: int = 10, log_target: bool | None = None,
                 random_state: int = 0, sigma_model: str = "per_tau",
                 arcsine_target: bool = False) -> None:
        if sigma_model not in ("per_tau", "local"):
            raise ValueError(f"sigma_model must be 'per_tau' or 'local', got {sigma_model!r}")
        if arcsine_target and log_target:
            raise ValueError("arcsine_target and log_target=True exclude each other")
        if n_draws < 1:
            raise ValueError(f"n_draws must be at least 1, got {n_draws}")
        if cv < 2:
            raise ValueError(f"cv must be at least 2, got {cv}")
        if sigma_folds < 0 or sigma_folds == 1:  # else refused only when model τ is fitted
            raise ValueError(f"sigma_folds must be 0 (leave-one-out) or a whole number >= 2, "
                             f"got {sigma_folds!r}")
        self.regressor = regressor or svr_rbf_or_ridge()
        self.featurizer = Featurizer(groups=frozenset(features) if not isinstance(features, str)
                                     else features)  # type: ignore[arg-type]
        self.n_draws = n_draws
        self.cv = cv
        self.sigma_folds = sigma_folds
        self.log_target = log_target
        self.random_state = random_state
        self.sigma_model = sigma_model
        self.arcsine_target = arcsine_target

    @classmethod
    def paper(cls, random_state: int = 0) -> SRM:
        """The model behind the paper reproductions in ``docs/results-prediction.md`` and the
        Figure 4 speedups in ``docs/results-speedup.md``: ν-SVR RBF or ridge per τ (chosen by
        cross-validation), one σ_τ per τ in metric units, a log target for positive metrics to
        minimise — the settings ``SRM()`` has always had.  σ_τ comes from 10-fold out-of-fold
        residuals, where the paper takes leave-one-out ones (``SRM(sigma_folds=0)``; a review
        found them within 3 % of each other on one MetaQNN CIFAR-10 split, stop 32).
        (curvecast's default predictor for stopping is
        :class:`~curvecast.predictors.HorizonChain`.)"""
        return cls(random_state=random_state)

    def __repr__(self) -> str:
        extra = "" if self.sigma_model == "per_tau" else f", sigma_model={self.sigma_model!r}"
        extra += ", arcsine_target=True" if self.arcsine_target else ""
        return (f"SRM(regressor={self.regressor.name!r}, features={sorted(self.featurizer.groups)}, "
                f"n_draws={self.n_draws}{extra})")

    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> SRM:
        """Keep the configs of ``curves`` observed up to the target epoch as training data.

        Raises:
            ValueError: fewer than ``2 * cv`` usable curves, or values beyond ±1e150 modelled as
                they are (their squares overflow in scikit-learn's fits).
        """
        trained = curves.without_untrained_epoch()
        refuse_nothing_to_learn(trained, self)
        col = target_column(trained, target_epoch)
        usable = np.asarray(trained.observed[:, : col + 1].all(axis=1), dtype=bool)
        if usable.sum() < 2 * self.cv:
            raise ValueError(f"an SRM needs at least {2 * self.cv} curves observed to epoch "
                             f"{trained.epochs[col]}, got {int(usable.sum())}")
        train = trained.subset(usable)
        self.featurizer.fit(train)
        if not self.featurizer.feature_names(1):
            raise ValueError(f"feature groups {sorted(self.featurizer.groups)} give no columns on "
                             "this data (e.g. every hyperparameter is constant)")
        values = train.filled_values()[:, : col + 1]
        if self.arcsine_target:
            check_arcsine_values(values)
        log = self.log_target
        if log is None:
            log = (not self.arcsine_target and train.direction is Direction.MINIMIZE
                   and bool(np.all(values > 0)))
        self.log_target_ = bool(log)
        if not self.log_target_:
            refuse_overflowing_values(values, "an SRM")
        self.target_col_ = col
        self.configs_ = train.configs
        self.values_ = values
        self.models_: dict[int, TunedRegressor] = {}
        return self

    def _inputs(self, configs: pd.DataFrame, partial: NDArray[np.float64]) -> NDArray[np.float64]:
        y = np.array(partial, dtype=np.float64, ndmin=2)
        y[~np.isfinite(y)] = self.featurizer.diverged_fill_
        if self.log_target_:
            y = np.log(np.maximum(y, 1e-300))
        elif self.arcsine_target:
            y = _arcsine(y)
        return self.featurizer.transform(configs, y)

    def model(self, tau: int) -> TunedRegressor:
        """The fitted regressor for curves observed for ``tau`` epochs (fitted on first use)."""
        if not hasattr(self, "models_"):
            raise RuntimeError("call fit(curves) before asking for a model")
        if not 1 <= tau <= self.target_col_:
            raise ValueError(f"tau must be in 1..{self.target_col_}, got {tau}")
        if tau not in self.models_:
            X = self._inputs(self.configs_, self.values_[:, :tau])
            reg = TunedRegressor(self.regressor.estimator, self.regressor.search_space,
                                 n_iter=self.n_draws, cv=self.cv, sigma_folds=self.sigma_folds,
                                 log_target=self.log_target_, random_state=self.random_state,
                                 sigma_model="local" if self.sigma_model == "local"
                                 else "constant")
            target = self.values_[:, -1]
            self.models_[tau] = reg.fit(X, _arcsine(target) if self.arcsine_target else target)
        return self.models_[tau]

    def fit_taus(self, taus: Iterable[int]) -> SRM:
        """Fit the models for every τ in ``taus`` now (instead of on first use)."""
        for tau in taus:
            self.model(tau)
        return self

    def sigma(self, tau: int) -> float:
        """σ_τ: the out-of-fold RMS error of model τ, in the metric's units (with
        ``arcsine_target``: on the arcsin(√value) scale)."""
        return float(self.model(tau).sigma_)

    def predict(self, configs: pd.DataFrame, partial: NDArray[np.float64]) -> Prediction:
        if not hasattr(self, "target_col_"):
            raise RuntimeError("call fit(curves) before predict")
        y = partial_curves(partial)
        configs = config_rows(configs, y.shape[0])
        tau = y.shape[1]
        if not y.shape[0]:  # no curve to predict (scikit-learn refuses an empty input)
            return Prediction(mean=np.zeros(0), std=np.zeros(0))
        if tau > self.target_col_:  # the target is already observed
            fill = self.featurizer.diverged_fill_
            seen = np.where(np.isfinite(y[:, self.target_col_]), y[:, self.target_col_], fill)
            return Prediction(mean=seen, std=least_std(seen))
        mean, std = self.model(tau).predict(self._inputs(configs, y), return_std=True)
        if self.arcsine_target:
            z_mean, z_std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
            mean, std = _from_arcsine(z_mean, z_std)
            return Prediction(mean=mean, std=std, latent="arcsine", latent_mean=z_mean,
                              latent_std=z_std)
        return Prediction(mean=np.asarray(mean, dtype=np.float64),
                          std=np.asarray(std, dtype=np.float64))


def check_arcsine_values(values: NDArray[np.float64], source: str = "the training curves") -> None:
    """Raise ``ValueError`` unless every value (any shape, diverged entries already filled; NaN =
    not observed, skipped) is in [0, 1], the domain of ``arcsine_target``."""
    seen = values[~np.isnan(values)]  # NaN: not observed; ±inf: out of range
    if not bool(np.all((seen >= 0) & (seen <= 1))):
        raise ValueError(f"arcsine_target=True needs every value in [0, 1]; {source} run "
                         f"{float(np.min(seen)):g}..{float(np.max(seen)):g}")


def _arcsine(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """arcsin(√v) of values in [0, 1] (clipped there), same shape, in [0, π/2]."""
    return np.arcsin(np.sqrt(np.clip(values, 0.0, 1.0)))


def _from_arcsine(mean: NDArray[np.float64], std: NDArray[np.float64]
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A Gaussian ``mean ± std`` on the arcsin(√v) scale back in metric units: ``sin²`` of the
    mean (clipped to [0, π/2]) and half the width of the back-transformed ±1 std interval (> 0)."""
    top = np.pi / 2
    m = np.clip(mean, 0.0, top)
    hi, lo = np.sin(np.minimum(m + std, top)) ** 2, np.sin(np.maximum(m - std, 0.0)) ** 2
    return np.sin(m) ** 2, np.maximum((hi - lo) / 2, 1e-12)
