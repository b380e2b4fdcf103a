"""The model of one curve in LCE: the working scale, Domhan et al.'s prior on a family's values,
the log-posterior of the family combination (vectorised over walkers) and the least-squares start
of each family.  The model is described in :mod:`curvecast.predictors.lce`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from curvecast.curves import Direction
from curvecast.predictors.lce_families import CurveFamily, FloatArray

#: Bounds of the noise σ on the working scale (see :mod:`curvecast.predictors.lce`).
SIGMA_MIN = 1e-4
SIGMA_MAX = 1.0
#: The noise ceiling of a curve is never below this many times ``SIGMA_MIN`` (a constant curve's
#: own spread is zero, and σ needs room above the floor).
CEILING_ROOM = 4.0
#: The noise ceiling is the one-sided 1 − NOISE_ALPHA upper confidence bound of σ under the
#: constant model (``noise_ceiling``).
NOISE_ALPHA = 1e-3
#: Sanity range of f(x_T) on the working scale of a fraction (every fitted value in [0, 1], or
#: in [-1, 0] negated): the fraction's own bounds, where Domhan et al.'s code has [0, 100].
FRACTION_RANGE = (0.0, 1.0)
#: A fitted curve whose range (best − worst value) exceeds this many times the median curve's
#: range does not set the working scale (a run that spiked or blew up; see ``working_scale``).
OUTLIER_RANGE = 10.0


@dataclass(frozen=True)
class Scale:
    """The affine working scale z = (sign·y − offset) / scale and the sanity range of f(x_T)."""

    sign: float
    offset: float
    scale: float
    low: float
    high: float

    def to_z(self, y: FloatArray) -> FloatArray:
        return (self.sign * y - self.offset) / self.scale

    def to_y(self, z: float) -> float:
        return self.sign * (self.offset + self.scale * z)


def working_scale(values: FloatArray, direction: Direction) -> Scale:
    """The working scale for curves like the finite entries of ``values`` (module docstring)."""
    sign = direction.sign
    finite = values[np.isfinite(values)]
    low, high = FRACTION_RANGE
    if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
        # accuracies as they are, error rates as 1 - error: either stays a fraction
        return Scale(sign, 0.0 if sign > 0 else -1.0, 1.0, low, high)
    if finite.size and finite.min() >= -1.0 and finite.max() <= 0.0:
        # the same negated: -accuracy to minimise as the accuracy, -error to maximise as 1 - error
        return Scale(sign, 0.0 if sign < 0 else -1.0, 1.0, low, high)
    if finite.size == 0:
        return Scale(sign, 0.0, 1.0, -1.0, 2.0)
    lo, hi = _typical_extremes(sign * values)
    if hi - lo <= 0.0:  # one value everywhere: put it in the middle of a unit range
        width = max(abs(lo), 1.0)
        return Scale(sign, lo - 0.5 * width, width, -1.0, 2.0)
    return Scale(sign, lo, hi - lo, -1.0, 2.0)


def noise_ceiling(z: FloatArray) -> float:
    """Upper bound of the noise σ for one curve ``z`` on the working scale: an upper confidence
    bound of σ under the constant model, within [``CEILING_ROOM``·``SIGMA_MIN``, ``SIGMA_MAX``].

    A constant is a limit of every family, so no family's best fit leaves more residual spread
    than the constant's, s = ``std(z)``.  That spread is not the noise: n points around a
    constant leave n·s²/σ² ~ χ²(n − 1), so s falls short of σ (by a factor 0.56 on average at
    n = 2, 0.84 at n = 5), and σ's posterior lies mostly above it.  The ceiling is therefore the
    one-sided ``1 − NOISE_ALPHA`` bound sqrt(n·s² / χ²_{n−1}(``NOISE_ALPHA``)): 39·s for 3
    points, 7.4·s for 5, 3.0·s for 10 (capped at the ceiling 1 of the old prior), and still
    ``CEILING_ROOM``·``SIGMA_MIN`` for a constant curve.  Without a bound the flat prior on σ
    let a curve that more parameters than points fit exactly (a constant one above all) drift:
    σ wandered up to 1 while the curve parameters took the room that gave them, at a pace set
    by the seed; with ``std(z)`` itself as the bound, noisy curves' 68 % intervals held 33–48 %
    of their final values (:mod:`curvecast.predictors.lce`).
    """
    n = z.size
    if n < 2:
        return SIGMA_MAX
    spread2 = float(np.var(z))
    bound = np.sqrt(n * spread2 / float(stats.chi2.ppf(NOISE_ALPHA, n - 1)))
    if not np.isfinite(bound):
        return SIGMA_MAX
    return float(np.clip(bound, CEILING_ROOM * SIGMA_MIN, SIGMA_MAX))


def _typical_extremes(s: FloatArray) -> tuple[float, float]:
    """Worst and best finite value of the curves ``s`` (sign applied, shape ``(n, T)``), leaving
    out a curve whose own range is more than ``OUTLIER_RANGE`` times the median curve's: one run
    whose perplexity spiked to 1e10 would otherwise squeeze every other curve onto z ≈ 1."""
    s = np.atleast_2d(s)
    s = s[np.isfinite(s).any(axis=1)]
    with np.errstate(invalid="ignore"):
        worst = np.nanmin(np.where(np.isfinite(s), s, np.nan), axis=1)
        best = np.nanmax(np.where(np.isfinite(s), s, np.nan), axis=1)
    spread = best - worst
    typical = float(np.median(spread))
    keep = spread <= OUTLIER_RANGE * typical if typical > 0 else np.ones(spread.size, dtype=bool)
    return float(worst[keep].min()), float(best[keep].max())


def family_prior_ok(values: FloatArray, low: float, high: float) -> NDArray[np.bool_]:
    """Domhan et al.'s prior on one family's values ``(..., τ + 1)`` at x_1..x_τ, x_T.

    True where f(x_T) is finite, inside ``[low, high]`` and not below f(x_1) (soft
    monotonicity).  Shape ``values.shape[:-1]``.
    """
    last = values[..., -1]
    with np.errstate(invalid="ignore"):
        return np.isfinite(last) & (last >= low) & (last <= high) & (values[..., 0] <= last)


class Posterior:
    """Log-posterior of Domhan et al.'s model combination for one curve, vectorised over walkers.

    θ = (θ_1, …, θ_K, σ, w_1, …, w_K), shape ``(ndim,)``; :meth:`__call__` takes ``(n, ndim)``
    and returns ``(n, 2)``: the log-posterior and f_comb(x_T) (an emcee blob).  The prior on σ
    is flat on [``SIGMA_MIN``, ``sigma_max``] (:func:`noise_ceiling` of the curve).
    """

    def __init__(self, families: list[CurveFamily], x: FloatArray, z: FloatArray,
                 x_target: float, low: float, high: float,
                 sigma_max: float = SIGMA_MAX) -> None:
        self.families = families
        self.sigma_max = sigma_max
        self.x_all = np.append(x, x_target)[None, :]  # (1, τ + 1): observed epochs, then x_T
        self.z = z
        self.low = low
        self.high = high
        bounds = np.cumsum([0] + [f.n_params for f in families])
        self.slices = [slice(int(a), int(b)) for a, b in pairwise(bounds)]
        self.sigma_index = int(bounds[-1])
        self.ndim = self.sigma_index + 1 + len(families)

    def family_values(self, theta: FloatArray) -> FloatArray:
        """f_k at the observed epochs and x_T: shape ``(n, K, τ + 1)``."""
        out = np.empty((theta.shape[0], len(self.families), self.x_all.shape[1]))
        for k, (family, sl) in enumerate(zip(self.families, self.slices, strict=True)):
            p = theta[:, sl]
            out[:, k, :] = family.function(self.x_all, *(p[:, j:j + 1] for j in range(p.shape[1])))
        return out

    def __call__(self, theta: FloatArray) -> FloatArray:
        theta = np.atleast_2d(theta)
        n = theta.shape[0]
        out = np.full((n, 2), -np.inf)
        out[:, 1] = np.nan
        sigma = theta[:, self.sigma_index]
        weights = theta[:, self.sigma_index + 1:]
        total = weights.sum(axis=1)
        ok = ((sigma >= SIGMA_MIN) & (sigma <= self.sigma_max) & np.all(weights >= 0, axis=1)
              & (total > 0))
        if not ok.any():
            return out
        with np.errstate(all="ignore"):
            f = self.family_values(theta[ok])
            ok_families = family_prior_ok(f, self.low, self.high).all(axis=1)
            w = weights[ok] / total[ok, None]
            comb = np.einsum("nk,nkm->nm", w, f)
            resid = (self.z[None, :] - comb[:, :-1]) / sigma[ok, None]
            m = self.z.size
            log_lik = -0.5 * np.sum(resid ** 2, axis=1) - m * np.log(sigma[ok]) \
                - 0.5 * m * np.log(2 * np.pi)
        log_post = np.where(ok_families & np.isfinite(log_lik), log_lik, -np.inf)
        out[ok, 0] = log_post
        out[ok, 1] = np.where(np.isfinite(log_post), comb[:, -1], np.nan)
        return out


def least_squares(family: CurveFamily, x: FloatArray, z: FloatArray) -> FloatArray | None:
    """Least-squares θ of one family from its start values; ``None`` when both methods fail."""
    start = np.array(family.start)

    def residuals(p: FloatArray) -> FloatArray:
        r = family.function(x, *p) - z
        return np.where(np.isfinite(r), r, 1e6)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if z.size >= family.n_params:  # MINPACK's Levenberg-Marquardt needs m >= n
            try:
                theta, _, _, _, status = optimize.leastsq(
                    residuals, start, full_output=True, maxfev=100 * (family.n_params + 1))
                # status 5 (evaluation budget used up) still gives a usable starting point
                if status in (1, 2, 3, 4, 5) and np.all(np.isfinite(theta)):
                    return np.asarray(theta, dtype=np.float64)
            except (ValueError, TypeError, FloatingPointError, np.linalg.LinAlgError):
                pass
        try:
            res = optimize.minimize(lambda p: float(np.sum(residuals(p) ** 2)), start,
                                    method="L-BFGS-B", options={"maxiter": 100})
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            return None
    if res.success and np.all(np.isfinite(res.x)):
        return np.asarray(res.x, dtype=np.float64)
    return None
