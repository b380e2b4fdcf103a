"""The interface every predictor of final performance implements."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import ndtr, stdtr

from curvecast.curves import CurveSet, Direction


@dataclass(frozen=True)
class Prediction:
    """Predicted values with their uncertainty, both shape ``(n,)``, in the metric's units.

    ``std`` is the standard deviation of a Gaussian around ``mean`` (≥ 0; 0 is a point
    prediction, whose :meth:`cdf` is a step).  A predictor
    that models a transformed scale (``latent="arcsine"``: arcsin(√value), see
    :class:`~curvecast.predictors.SRM`; ``latent="log"``: log(value), see
    :class:`~curvecast.predictors.HorizonChain`) also gives the distribution there
    (``latent_mean``, ``latent_std``); :meth:`cdf` then uses it, so probabilities keep the skew
    that a Gaussian in metric units would lose, while ``mean``/``std`` summarise it in metric
    units.  With ``dof`` (shape ``(n,)``) the distribution is a Student-t with those degrees of
    freedom and scale ``std`` (or ``latent_std``) instead of a Gaussian.  ``clipped`` (shape
    ``(n,)``) marks predictions a bounded predictor moved back inside what its training curves
    support.
    """

    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    latent: str = "identity"
    latent_mean: NDArray[np.float64] | None = None
    latent_std: NDArray[np.float64] | None = None
    dof: NDArray[np.float64] | None = None
    clipped: NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        for name in ("mean", "std", "latent_mean", "latent_std", "dof", "clipped"):
            given = getattr(self, name)
            if given is not None and not isinstance(given, np.ndarray):  # a list, a tuple
                object.__setattr__(self, name, np.asarray(
                    given, dtype=bool if name == "clipped" else np.float64))
        if self.mean.shape != self.std.shape:
            raise ValueError(f"mean has shape {self.mean.shape}, std {self.std.shape}")
        if np.any(self.std < 0):
            raise ValueError(f"std must be >= 0, got {self.std[self.std < 0][:3].tolist()}")
        if self.latent not in ("identity", "arcsine", "log"):
            raise ValueError(f"latent must be 'identity', 'arcsine' or 'log', got "
                             f"{self.latent!r}")
        for name in ("dof", "clipped"):
            extra = getattr(self, name)
            if extra is not None and extra.shape != self.mean.shape:
                raise ValueError(f"{name} has shape {extra.shape}, mean {self.mean.shape}")
        if self.latent != "identity" and (self.latent_mean is None or self.latent_std is None
                                          or self.latent_mean.shape != self.mean.shape
                                          or self.latent_std.shape != self.mean.shape):
            raise ValueError(f"latent={self.latent!r} needs latent_mean and latent_std of shape "
                             f"{self.mean.shape}")

    def cdf(self, value: float) -> NDArray[np.float64]:
        """P(y ≤ value) for every prediction, shape ``(n,)``; a zero or non-finite std counts as
        a point mass at the mean."""
        if self.latent == "arcsine":
            assert self.latent_mean is not None and self.latent_std is not None
            loc, scale = self.latent_mean, self.latent_std
            x = float(np.arcsin(np.sqrt(np.clip(value, 0.0, 1.0))))
        elif self.latent == "log":
            assert self.latent_mean is not None and self.latent_std is not None
            loc, scale = self.latent_mean, self.latent_std
            x = float(np.log(value)) if value > 0 else -np.inf
        else:
            loc, scale, x = self.mean, self.std, float(value)
        ok = (scale > 0) & np.isfinite(scale)
        z = np.where(ok, (x - loc) / np.where(ok, scale, 1.0), 0.0)
        cdf = ndtr(z) if self.dof is None else stdtr(self.dof, z)
        return np.where(ok, cdf, (loc <= x).astype(np.float64))

    def prob_worse(self, reference: float, direction: Direction | str) -> NDArray[np.float64]:
        """P(y is worse than ``reference``) for every prediction, shape ``(n,)``: P(y < ref) for a
        metric to maximise, P(y > ref) to minimise.  With a zero or non-finite std (on the scale
        the prediction lives on) it is 1 when the mean is strictly worse than the reference, else
        0 — a tie is not worse."""
        loc, scale = ((self.latent_mean, self.latent_std) if self.latent != "identity"
                      else (self.mean, self.std))
        assert loc is not None and scale is not None
        direction = Direction.parse(direction)  # "maximize"/"minimize" too, as CurveSet takes
        below = self.cdf(reference)
        continuous = below if direction is Direction.MAXIMIZE else 1.0 - below
        ok = (scale > 0) & np.isfinite(scale)
        strictly_worse = direction.sign * (float(reference) - self.mean) > 0
        return np.where(ok, continuous, strictly_worse.astype(np.float64))

    def __len__(self) -> int:
        return int(self.mean.shape[0])


def refuse_nothing_to_learn(curves: CurveSet, who: object) -> None:
    """Refuse to fit ``who`` (a predictor) on trained ``curves`` whose observed values are all
    NaN or ±inf with no value stated for a diverged run: the diverged-value rule has nothing to
    go from, so every prediction would be NaN (a review, stop 35: the chains returned NaN means
    and σ without a word, the SRM a scikit-learn traceback).

    Raises:
        ValueError: naming the predictor and the metric.
    """
    if curves.observed.any() and not math.isfinite(curves.diverged_fill):
        raise ValueError(f"{type(who).__name__}: every observed {curves.metric} value of the "
                         f"{curves.n_configs} curves is NaN or ±inf (every run diverged) and "
                         "they state no value for a diverged run (diverged_value): nothing to "
                         "learn from")


class Predictor(ABC):
    """Predicts the value of a learning curve at a target epoch from its first τ epochs.

    ``fit(curves)`` learns from fully observed curves (predictors that need no training data, such
    as the last-seen value or per-curve parametric fits, accept and ignore them).  ``predict``
    takes config rows and partial curves of one length τ.  The target is the curve's last epoch
    unless ``target_epoch`` (an epoch on the CurveSet's axis) says otherwise, as f-Hyperband needs
    y_r at the end of a rung.  Predictors are pure: no I/O, randomness only through their seed.

    A predictor whose ``learns_from_partial_curves`` is True also learns from curves observed
    only part of the way (stopped or running trials) and has ``fit_arrays(values, n_observed,
    direction, reuse=None)``, a fit cheap enough to redo whenever the study changes (``reuse``:
    the previous fit in the same study, whose parts the new rows leave unchanged it may keep);
    the predictive stopper then fits it on every trial of the study instead of on the complete
    ones only.  It calls ``fit_arrays`` with ``values`` of shape ``(n, T)``: the prior's curves
    first, then every trial of the study but the one it judges, in the order they started,
    diverged values filled (the worst value seen, or the data's own diverged value), NaN after
    each row's ``n_observed`` epochs; and, when ``fit_arrays`` names them, ``configs`` (a table
    indexed by config id) and ``config_ids`` (each row's id).

    Writing one: subclass, give ``fit`` (returning ``self``) and ``predict`` (returning a
    :class:`Prediction` of one value per row of ``partial``); ``examples/custom_rule.py`` does
    it and compares the result with the built-in rules by replay.
    """

    #: Whether ``fit`` uses partially observed curves too (and ``fit_arrays`` exists).
    learns_from_partial_curves: bool = False
    #: Whether predictions depend on the config table (False: on the curves only, so callers
    #: may pass configs without columns).
    uses_configs: bool = True
    #: Whether a config table without the columns is fine too (the predictor then uses the
    #: curves alone), so a prior need not record the study's config columns.
    configs_optional: bool = False

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
        """Predict for every config of ``curves`` from its first ``tau`` trained epochs.

        A NaN or ±inf report of ``curves`` counts as the *fitted* curves' diverged value, as in
        :meth:`predict` (not as the worst value of ``curves`` themselves).

        Raises:
            ValueError: ``tau`` is off the axis, or some config was not observed for its first
                ``tau`` epochs (an epoch never reached is not a diverged report: subset those
                configs out, or predict them from fewer epochs).
        """
        trained = curves.without_untrained_epoch()
        if not 1 <= tau <= trained.n_epochs:
            raise ValueError(f"tau must be in 1..{trained.n_epochs}, got {tau}")
        short = np.flatnonzero(~trained.observed[:, :tau].all(axis=1))
        if short.size:
            ids = [trained.config_ids[i] for i in short[:3]]
            more = f" and {short.size - 3} more" if short.size > 3 else ""
            raise ValueError(f"{short.size} of {trained.n_configs} configs were not observed for "
                             f"their first {tau} epochs ({', '.join(map(repr, ids))}{more}): "
                             "predict them from fewer epochs, or leave them out with "
                             "curves.subset(...)")
        return self.predict(trained.configs, trained.values[:, :tau])


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


#: The largest value (in magnitude) a predictor that squares its raw targets (the SRM's
#: scikit-learn regressors, the BNN) models as it is: squares overflow past ~1e154.
MAX_SQUARED_VALUE = 1e150


def refuse_overflowing_values(values: NDArray[np.float64], who: str) -> None:
    """Refuse ``values`` (raw, not logged) whose squares would overflow; ``who`` names the
    predictor ("an SRM", "a BNN").

    Raises:
        ValueError: saying what to do instead.
    """
    largest = float(np.abs(values).max(initial=0.0))
    if largest > MAX_SQUARED_VALUE:
        raise ValueError(f"{who} cannot fit values as large as {largest:.3g} (beyond "
                         f"±{MAX_SQUARED_VALUE:g} their squares overflow): report the metric in "
                         "larger units, or use the default predictor (HorizonChain), which "
                         "measures them in their own unit")


def scaled_rms(x: NDArray[np.float64]) -> float:
    """The root mean square of ``x``; where its squares overflow, computed on ``x`` divided by
    its largest magnitude, so that values near 1e160 (a run that blew up) give a finite RMS
    instead of an infinite σ (every prediction then a point mass)."""
    with np.errstate(over="ignore"):
        plain = float(np.sqrt(np.mean(x**2))) if x.size else 0.0
    if np.isfinite(plain):  # the usual case, computed as it always was (the same last digits)
        return plain
    size = float(np.max(np.abs(x), initial=0.0))
    if not 0.0 < size < np.inf:
        return size
    return size * float(np.sqrt(np.mean((x / size) ** 2)))


def least_std(mean: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """The least std of a prediction of ``mean`` (metric units, any shape): 1e-12 of its size,
    so that a loss in units of 1e-13 is not given a σ ten times itself (reviews, stops 34 and
    36)."""
    return np.maximum(1e-12 * np.abs(mean), 1e-300)


def partial_curves(partial: NDArray[np.float64] | list[list[float]]) -> NDArray[np.float64]:
    """``partial`` as a float array of shape ``(n, tau)`` (a copy; one curve may be given as a
    1-D array).

    Raises:
        ValueError: more than two dimensions, or no epoch (``tau`` < 1).
    """
    y = np.array(partial, dtype=np.float64, ndmin=2)
    if y.ndim != 2 or y.shape[1] < 1:
        raise ValueError(f"partial must have shape (n, tau) with tau >= 1, got {y.shape}")
    return y


def config_rows(configs: pd.DataFrame | None, n: int) -> pd.DataFrame:
    """``configs`` (one row per curve), or for None a table of ``n`` rows without columns: every
    config then counts as the fitted configs' mean.

    Raises:
        ValueError: ``configs`` has another number of rows than ``n``.
    """
    if configs is None:
        return pd.DataFrame(index=pd.RangeIndex(n))
    if len(configs) != n:
        raise ValueError(f"{len(configs)} config rows but {n} partial curves")
    return configs
