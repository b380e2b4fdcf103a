"""The regressors an SRM can use, and a scikit-learn estimator that tunes one and knows its error.

Baker et al. 2017 compare ν-SVR with an RBF kernel (their default), ν-SVR with a linear kernel,
random forests and ordinary least squares, each tuned by random search with 3-fold
cross-validation over C ~ LogUniform(1e-5, 10), ν ~ Uniform(0, 1), γ ~ LogUniform(1e-5, 10)
(ν is drawn from Uniform(0.01, 0.99) here: ν-SVR is undefined at 0 and degenerate at 1).
:class:`TunedRegressor` does that search (standardised features), refits the best setting, and
estimates its error σ from K-fold (default 10) or leave-one-out out-of-fold residuals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold, LeaveOneOut, RandomizedSearchCV, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import NuSVR
from sklearn.utils.validation import check_is_fitted, validate_data

from curvecast.predictors._base import least_std, scaled_rms


@dataclass(frozen=True)
class RegressorSpec:
    """A scikit-learn regressor and the distributions its hyperparameters are drawn from.

    ``search_space`` maps the estimator's parameter names to scipy distributions or lists; empty
    means no tuning.  A list of such mappings, each with an ``"estimator"`` entry (a list of
    estimators), searches each regressor kind with the full budget of draws and keeps the kind
    with the best cross-validation score.
    """

    name: str
    estimator: Any
    search_space: Mapping[str, Any] | Sequence[Mapping[str, Any]] = field(default_factory=dict)


def nu_svr_rbf() -> RegressorSpec:
    """ν-SVR with an RBF kernel over the paper's ranges, ν within (0.01, 0.99) (the paper's
    default regressor)."""
    return RegressorSpec("svr-rbf", NuSVR(kernel="rbf"), {
        "C": stats.loguniform(1e-5, 10), "nu": stats.uniform(0.01, 0.98),
        "gamma": stats.loguniform(1e-5, 10)})


def nu_svr_linear() -> RegressorSpec:
    """ν-SVR with a linear kernel over the paper's ranges of C and ν (ν within (0.01, 0.99))."""
    return RegressorSpec("svr-linear", NuSVR(kernel="linear"), {
        "C": stats.loguniform(1e-5, 10), "nu": stats.uniform(0.01, 0.98)})


def random_forest(n_estimators: int = 100) -> RegressorSpec:
    """A random forest tuned over the share of features per split and the leaf size."""
    return RegressorSpec("rf", RandomForestRegressor(n_estimators=n_estimators), {
        "max_features": stats.uniform(0.1, 0.9), "min_samples_leaf": [1, 2, 4, 8]})


def ridge() -> RegressorSpec:
    """Ridge regression tuned over its penalty α ~ LogUniform(1e-4, 1e3)."""
    return RegressorSpec("ridge", Ridge(), {"alpha": stats.loguniform(1e-4, 1e3)})


def svr_rbf_or_ridge() -> RegressorSpec:
    """curvecast's default: the random search ranges over ν-SVR RBF *and* ridge regression, and
    cross-validation picks the kind as well as its settings.

    Why: an RBF kernel cannot extrapolate beyond the targets it was trained on, so on heavy-tailed
    targets (the paper's LSTM perplexities, final values 65 to over 600) the test configs in the
    tail are predicted near the training mean (R² 0.08 without, 0.69 with a log target, measured
    on lstm_ptb.csv); a linear model extrapolates (R² 0.99).  On curves where RBF wins, CV picks it.
    """
    rbf, lin = nu_svr_rbf(), ridge()
    return RegressorSpec("svr-rbf|ridge", rbf.estimator, [
        {"estimator": [rbf.estimator], **rbf.search_space},  # type: ignore[dict-item]
        {"estimator": [lin.estimator], **lin.search_space},  # type: ignore[dict-item]
    ])


def ols() -> RegressorSpec:
    """Ordinary least squares (nothing to tune)."""
    return RegressorSpec("ols", LinearRegression())


def _pipeline_space(space: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
                    ) -> dict[str, Any] | list[dict[str, Any]]:
    """A search space in the names of the ``scale → reg`` pipeline (``estimator`` → ``reg``)."""
    def one(d: Mapping[str, Any]) -> dict[str, Any]:
        return {("reg" if k == "estimator" else f"reg__{k}"): v for k, v in d.items()}

    if space is None or isinstance(space, Mapping):
        return one(space or {})
    return [one(d) for d in space]


SIGMA_MODELS = ("constant", "local")


def local_sigma(predictions: NDArray[np.float64], residuals: NDArray[np.float64], sigma: float,
                *, min_bin: int = 25, max_bins: int = 8, prior_weight: float = 10.0,
                floor: float = 0.1) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """σ as a function of the prediction, from out-of-fold predictions and residuals.

    The ``n`` out-of-fold predictions ŷ are cut into ``min(max_bins, n // min_bin)`` bins of equal
    count (quantile bins); a bin's σ² is its mean squared residual shrunk toward the global σ²
    with ``prior_weight`` pseudo-observations, ``(Σ r² + w σ²) / (n_b + w)``, and is at least
    ``floor × σ`` — so a small or lucky bin never gives σ ≈ 0.  Between bin centres (the median ŷ
    of each bin) σ is interpolated linearly; beyond them it stays at the outer bins' value.

    Args:
        predictions: out-of-fold predictions ŷ, shape ``(n,)``, units of the target.
        residuals: ``y − ŷ``, shape ``(n,)``, same units.
        sigma: the global RMS residual (> 0), same units.

    Returns:
        ``(knots, values)``, each of shape ``(n_bins,)`` (``n_bins >= 1``; knots non-decreasing):
        bin centres in ŷ and σ at them, in the units of the target.
    """
    pred = np.asarray(predictions, dtype=np.float64)
    res = np.asarray(residuals, dtype=np.float64)
    n = pred.size
    n_bins = max(1, min(max_bins, n // max(min_bin, 1)))
    if n_bins == 1:
        return np.array([float(np.median(pred)) if n else 0.0]), np.array([sigma])
    order = np.argsort(pred, kind="stable")
    knots, values = [], []
    for idx in np.array_split(order, n_bins):
        ss = float(np.sum(res[idx] ** 2))
        var = (ss + prior_weight * sigma**2) / (idx.size + prior_weight)
        knots.append(float(np.median(pred[idx])))
        values.append(max(float(np.sqrt(var)), floor * sigma))
    return np.array(knots), np.array(values)


class TunedRegressor(RegressorMixin, BaseEstimator):
    """Random-search-tuned, standardised regressor that also reports its own error.

    Args:
        estimator: an unfitted scikit-learn regressor (default ν-SVR RBF).
        search_space: its parameter distributions (see :class:`RegressorSpec`); None or empty:
            no tuning.
        n_iter: random-search draws (the paper used 1000).
        cv: folds of the tuning cross-validation (the paper: 3).
        sigma_folds: folds for the out-of-fold residuals that give ``sigma_``; 0 means
            leave-one-out.
        log_target: fit ``log(y)`` and predict ``exp`` of it (for positive, heavy-tailed
            targets such as perplexity); residuals and ``sigma_`` stay in the units of ``y``.
        random_state: seed of the search and of the folds.
        sigma_model: ``"constant"`` (default): one σ for every input, the RMS out-of-fold
            error.  ``"local"``: σ depends on the prediction ŷ — see :func:`local_sigma`.

    Fitted attributes: ``best_estimator_`` (a Pipeline), ``best_params_``, ``sigma_`` (RMS
    out-of-fold error, > 0), ``oof_residuals_`` and ``oof_predictions_`` (shape
    ``(n_samples,)``, units of ``y``), ``n_features_in_``; with ``sigma_model="local"`` also
    ``sigma_knots_`` and ``sigma_values_`` (shape ``(n_bins,)``: ŷ at the bin centres and σ there,
    both in the units of ``y``).
    """

    def __init__(self, estimator: Any = None,
                 search_space: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
                 n_iter: int = 50, cv: int = 3, sigma_folds: int = 10, log_target: bool = False,
                 random_state: int | None = 0, sigma_model: str = "constant") -> None:
        self.estimator = estimator
        self.search_space = search_space
        self.n_iter = n_iter
        self.cv = cv
        self.sigma_folds = sigma_folds
        self.log_target = log_target
        self.random_state = random_state
        self.sigma_model = sigma_model

    def _pipeline(self) -> Pipeline:
        est = NuSVR(kernel="rbf") if self.estimator is None else clone(self.estimator)
        return Pipeline([("scale", StandardScaler()), ("reg", est)])

    def fit(self, X: Any, y: Any) -> TunedRegressor:
        """Tune on ``X`` (n_samples, n_features) and ``y`` (n_samples,), then estimate σ."""
        if self.sigma_model not in SIGMA_MODELS:
            raise ValueError(f"sigma_model must be one of {SIGMA_MODELS}, got "
                             f"{self.sigma_model!r}")
        X, y = validate_data(self, X, y, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        if self.n_iter < 1 or self.cv < 2 or self.sigma_folds < 0 or self.sigma_folds == 1:
            raise ValueError(f"need n_iter >= 1, cv >= 2, sigma_folds 0 or >= 2; got n_iter="
                             f"{self.n_iter}, cv={self.cv}, sigma_folds={self.sigma_folds}")
        if self.log_target and np.any(y <= 0):
            raise ValueError("log_target=True needs positive targets, got min "
                             f"{float(np.min(y))}")
        target = np.log(y) if self.log_target else y
        pipe = self._pipeline()
        space = _pipeline_space(self.search_space)
        n = X.shape[0]
        spaces = [d for d in (space if isinstance(space, list) else [space]) if d]
        if spaces and n >= 2 * self.cv:
            # one search per regressor kind, each with the full budget; the best CV score wins
            best: RandomizedSearchCV | None = None
            for kind in spaces:
                search = RandomizedSearchCV(
                    pipe, kind, n_iter=self.n_iter, scoring="neg_mean_squared_error",
                    cv=KFold(self.cv, shuffle=True, random_state=self.random_state),
                    random_state=self.random_state, refit=False, error_score=np.nan)
                search.fit(X, target)
                if best is None or search.best_score_ > best.best_score_:
                    best = search
            assert best is not None
            # clone after set_params: the search space holds estimator *instances*, shared by
            # every model fitted from it
            self.best_estimator_ = clone(pipe.set_params(**best.best_params_)).fit(X, target)
            self.best_params_ = {("estimator" if k == "reg" else k.removeprefix("reg__")): v
                                 for k, v in best.best_params_.items()}
        else:
            self.best_estimator_ = pipe.fit(X, target)
            self.best_params_ = {}
        self.oof_residuals_ = self._oof_residuals(X, y, target)
        self.oof_predictions_ = y - self.oof_residuals_
        # (a log-target regressor's residuals in metric units reach 1e160 for one run that
        # blew up: scaled_rms keeps σ finite)
        scale = scaled_rms(y - np.mean(y)) if n > 1 else 1.0
        rms = scaled_rms(self.oof_residuals_) if n > 1 else scale
        # floors relative to the values' own size: a metric in units of 1e-13 keeps its σ
        # (a review, stop 36: the absolute 1e-12 made σ ten times the values)
        self.sigma_ = max(rms, 1e-9 * scale, float(least_std(np.max(np.abs(y), initial=0.0))))
        if self.sigma_model == "local":
            self.sigma_knots_, self.sigma_values_ = local_sigma(
                self.oof_predictions_, self.oof_residuals_, self.sigma_)
        return self

    def _oof_residuals(self, X: NDArray[np.float64], y: NDArray[np.float64],
                       target: NDArray[np.float64]) -> NDArray[np.float64]:
        n = X.shape[0]
        if n < 3:
            return np.zeros(n)
        folds = LeaveOneOut() if self.sigma_folds == 0 or self.sigma_folds >= n else KFold(
            self.sigma_folds, shuffle=True, random_state=self.random_state)
        oof = cross_val_predict(clone(self.best_estimator_), X, target, cv=folds)
        return y - self._back(oof)

    def _back(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.exp(np.clip(t, -700, 700)) if self.log_target else t

    def predict(self, X: Any, return_std: bool = False) -> Any:
        """Predicted ``y`` for ``X``; with ``return_std=True`` also σ for every row."""
        check_is_fitted(self, "best_estimator_")
        X = validate_data(self, X, reset=False)
        mean = self._back(self.best_estimator_.predict(X))
        if return_std:
            return mean, self.std_at(mean)
        return mean

    def std_at(self, prediction: Any) -> NDArray[np.float64]:
        """σ for predictions ``prediction`` (any shape, units of ``y``), same shape."""
        check_is_fitted(self, "sigma_")
        pred = np.asarray(prediction, dtype=np.float64)
        if self.sigma_model != "local":
            return np.full(pred.shape, self.sigma_)
        # outside the knots: the σ of the outermost bin (np.interp holds the end values)
        return np.interp(pred, self.sigma_knots_, self.sigma_values_)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags
