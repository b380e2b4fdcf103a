"""LCE: learning-curve extrapolation by a Bayesian combination of parametric curve families.

T. Domhan, J. T. Springenberg, F. Hutter. *Speeding up Automatic Hyperparameter Optimization of
Deep Neural Networks by Extrapolation of Learning Curves.* IJCAI 2015.  Baker et al. 2017 use it as
their "LCE" baseline (§1 of PAPER.md: ~60 s per prediction, worse than the SRM).

The model of one curve z_1..z_τ (observed at epochs x_1..x_τ, on the working scale below) is

    z_t = f_comb(x_t | ξ) + ε_t,   ε_t ~ N(0, σ²),   f_comb(x) = Σ_k w_k f_k(x | θ_k) / Σ_k w_k,

over the 11 families f_k of Domhan et al.'s Table 1, with the formulas, parameter names and
least-squares starting values of their code (github.com/automl/pylearningcurvepredictor,
``curvefunctions.py``; the same file ships in automl/pybnn):

=========================  ===========================================  ==========================
family                     f(x)                                         start
=========================  ===========================================  ==========================
vap (vapor pressure)       exp(a + b/x + c·log x)                       a=-0.622, b=-0.470, c=0.042
ilog2                      c − a / log(x + 1)                           c=0.78, a=0.43
weibull                    α − (α−β)·exp(−(κx)^δ)                       α=0.7, β=0.1, κ=0.01, δ=1
pow3                       c − a·x^(−α)                                 c=0.84, a=0.52, α=0.01
pow4                       c − (a·x + b)^(−α)                           c=0.8, a=200, b=0, α=0.1
log_log_linear             log(a·log x + b)                             a=1, b=1
mmf (Morgan-Mercer-Flodin) α − (α−β) / (1 + (κx)^δ)                     α=0.7, β=0.1, κ=0.01, δ=5
janoschek                  α − (α−β)·exp(−κ·x^δ)                        α=0.73, β=0.07, κ=0.355,
                                                                        δ=0.46
dr_hill_zero_background    θ·x^η / (κ^η + x^η)                          θ=0.772, η=0.586, κ=2.461
log_power                  a / (1 + (x / e^b)^c)                        a=0.77, b=2.98, c=−0.51
exp4                       c − exp(−a·x^α + b)                          c=0.7, a=0.8, b=−0.8, α=0.3
=========================  ===========================================  ==========================

Fitting one curve follows their ``MCMCCurveModelCombination`` (the "curve_combination" model):

1. each family is fitted alone by least squares from its start values (MINPACK's
   Levenberg–Marquardt, ``scipy.optimize.leastsq``, at most 100·(p+1) evaluations — a fit that
   used them all is kept as a starting point; L-BFGS-B when that fails or when τ < p); a family
   is kept when its fit is finite and satisfies the prior below;
2. the weights start equal, σ at the standard deviation of the residuals of that equal-weight
   combination; the walkers start in a ball of radius 1e-6 around this point;
3. ``emcee``'s affine-invariant ensemble sampler (Foreman-Mackey et al. 2013) draws from the
   posterior with a flat prior restricted to: every weight w_k ≥ 0 (weights are unnormalised in the
   chain and normalised in f_comb); for every family the curve does not fall between the first
   epoch and the target epoch, f_k(x_1) ≤ f_k(x_T) (their "soft monotonicity" constraint — the
   paper's prior that the curve increases; their code compares x = 2, we the first epoch of the
   axis); f_k(x_T) finite and inside a sanity range (their y_lim check is [0, 100]; ours is the
   metric's scale, below, or ``value_range``); and σ in [1e-4, σ_max] (σ ≥ 1e-4 keeps a
   constant curve's posterior proper; the ceiling σ_max is ours: their combination's σ is
   unbounded, their single-family noise prior U(0, 1)).  A constant is a limit of every family,
   so no fit leaves more residual spread than s = std(z); but n points around a constant leave
   n·s²/σ² ~ χ²(n − 1), s falls short of σ, and σ's posterior lies mostly above s, so σ_max is
   the one-sided 99.9 % upper confidence bound sqrt(n·s² / χ²_{n−1}(0.001)) — 39·s for 3
   points, 7.4·s for 5, 3.0·s for 10 — at least 4e-4 and at most 1.  Without a ceiling a curve
   that more parameters than points fit exactly (a flat one above all) let σ wander up to 1,
   and the chain drifted there at a pace set by the seed: a flat accuracy's std ran from 0.035
   to 0.24 over ten seeds of :meth:`fast`, from 0.46 to 3.2 with the faithful chain; now
   0.0005–0.0012 and 0.0019–0.0021.  With s itself as the ceiling, noisy curves' intervals were
   too narrow: 40 flat accuracies with N(0, 0.02) noise, 5 of 20 epochs seen, held 48 % of
   their finals in the 68 % interval and 75 % in the 95 % one (now 70 % and 88 %).  The family
   parameters θ_k are otherwise unbounded,
   as in their code.  Their defaults: 100 walkers (raised to 2·ndim when the parameter vector is
   longer), 2500 steps, 500 of them burn-in;
4. the prediction is the posterior predictive of y at the target epoch x_T:
   mean = E_s[f_comb(x_T | ξ_s)] and std = sqrt(Var_s[f_comb(x_T | ξ_s)] + E_s[σ_s²]), over the
   kept samples s (their ``predictive_std`` leaves out the noise term; we include it so the std
   is that of y_T itself, which the stopping rule compares against).

**Working scale** (the families and start values assume accuracy-like curves: increasing,
saturating, roughly in [0, 1]).  ``fit`` fixes an affine map z = (s·y − offset) / scale from the
fitted CurveSet, s = +1 to maximise and −1 to minimise:

* all finite values in [0, 1] — a fraction: accuracies are fitted as they are (z = y), error
  rates as z = 1 − y; the sanity range of f_k(x_T) is the fraction's own, z in [0, 1] (an
  accuracy or an error rate stays in [0, 1]; a loss that happens to lie in [0, 1] stays ≥ 0);
  the same for values in [−1, 0] (negated accuracies to minimise, z = −y; negated error rates
  to maximise, z = 1 + y), so that a metric and its negation predict mirror images.  Domhan et
  al.'s code checks [0, 100] on accuracies in [0, 1] — "not insanely big", allowing > 1 on
  purpose — which let short accuracy curves' means pass 1 (``docs/results-prediction.md``);
  ``value_range=(0, 100)`` restores it for an accuracy;
* otherwise (perplexity, loss, any other scale): the *negated* values for a metric to minimise,
  mapped so the worst finite value of the set is z = 0 and the best z = 1 (perplexity 873 → 0,
  65 → 1 on Penn Treebank), leaving out a curve whose range is more than 10 times the median
  curve's (a run that spiked to 1e10 would squeeze every other curve onto z ≈ 1); the sanity
  range is [−1, 2], i.e. no further than one range of the data set beyond its extremes.  A
  CurveSet states no bounds of its metric, and the values cannot tell a percentage from a loss
  or a score that has no bound, so none is assumed: ``value_range`` states one (``(0, 100)``
  for an accuracy in per cent, ``(0, inf)`` for a loss).

The map is linear, so the mean and std convert back exactly (std × scale).  The working values
are rounded to 1e-9 and seed the chain, so the same curves shifted, scaled or mirrored (an
accuracy and its error rate) give the same draws and predictions that transform with them.

**Epoch axis.**  x is the CurveSet's epoch number (epoch 0, the untrained network, excluded), as
Domhan et al. use the epoch count; a budget axis in very different units (iterations) would need
other start values.

**Fallbacks** (never an exception for a curve): with τ ≤ 2 points (fewer than the smallest
family's parameters plus the noise), or when no family passes its least-squares fit and the
prior, the prediction is the last seen value with the std of a uniform distribution over the
working range (scale/√12, e.g. 0.29 for accuracies in [0, 1]).  NaN/±inf in a partial curve count
as the fitted CurveSet's diverged fill (the CurveSet rule).  When the target epoch is already
observed, its value is returned with std 1e-4·scale.

**Clipped** (``Prediction.clipped``, counted by the stopper in ``n_clipped_`` and by
``evaluate``): as a bounded predictor flags a mean it moved back inside what its training curves
support (:class:`~curvecast.predictors.HorizonChain`), LCE flags a prediction that is not the
curve's extrapolation: every fallback above (the observed target excepted), and a prediction
whose families' own extrapolation lies outside the sanity range — the median of f_k(x_T) over
the families whose least-squares fit is finite and monotone, before the range check, is below
its low end or above its high end, so the range, not the curve, sets the prediction.  A family
dropped by the range while that median stays inside does not flag it.

**Short curves.**  The prior is flat over up to 48 unbounded parameters; with few observed
epochs it, not the likelihood, shapes the posterior: a family with a small weight, or one that
fits the observed epochs exactly whatever it does after them, can take any f_k(x_T) the sanity
range allows (σ can no longer drift above its ceiling to widen that room).  The
posterior median stays near the least-squares extrapolation while the mean follows an upper
tail toward the top of the range, and a longer chain makes the tail heavier.  On MetaQNN
CIFAR-10 at τ = 5 of 20 (:meth:`fast`, ``evaluate``'s splits, 3 repeats;
``docs/results-prediction.md``): mean R² = 0.80 (0.97 at τ = 10); with the [0, 100] range it
was −1.18 (−7.67 before the noise ceiling).  On 60-of-100-epoch power-law curves the
prediction is within 0.01 of the truth.  The sanity range dominates short curves: state it
(``value_range``) in any comparison with other data.

Speed: the log-posterior is vectorised over walkers (``emcee``'s ``vectorize=True``, as pybnn's
port of the same model does), so the faithful setting costs a few seconds per curve here
(~2.4 s for 5 points on a busy 2-core machine), not the ~60 s Baker et al. report for the
original per-walker code; :meth:`LCE.fast` (~0.3 s) is for experiments over many curves.

The families are in :mod:`curvecast.predictors.lce_families`, the model of one curve (working
scale, prior, posterior, least-squares starts) in :mod:`curvecast.predictors.lce_posterior`.
"""

from __future__ import annotations

import zlib
from dataclasses import replace

import emcee
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
from curvecast.predictors.lce_families import FAMILIES, CurveFamily, FloatArray
from curvecast.predictors.lce_posterior import (
    SIGMA_MIN,
    Posterior,
    family_prior_ok,
    least_squares,
    noise_ceiling,
    working_scale,
)

__all__ = ["FAMILIES", "LCE", "CurveFamily"]

#: Radius of the ball around the least-squares point the walkers start in (Domhan et al.'s code).
INIT_BALL = 1e-6
#: Constant start value of every (unnormalised) weight (Domhan et al.'s code).
INIT_WEIGHT = 10.0
#: Smallest number of observed epochs the MCMC is run on; fewer fall back to the last value.
MIN_POINTS = 3
#: Decimals the working-scale values are rounded to (1e-9, far below the noise floor
#: ``SIGMA_MIN``), so that the same curves shifted, scaled or mirrored fit identical values.
Z_DECIMALS = 9


class LCE(Predictor):
    """Domhan et al. 2015's learning-curve extrapolation: 11 parametric families, MCMC per curve.

    See the module docstring for the model, the prior, the working scale of metrics to minimise,
    and the fallbacks.  ``fit(curves)`` learns nothing from the curves' values beyond their scale:
    it records the epoch axis, the target epoch, the direction, the diverged fill and the working
    scale.  ``predict`` runs one MCMC per row (cost grows linearly with the rows).
    ``Prediction.clipped`` marks the rows predicted by a fallback (the last value with a fixed
    std: fewer than 3 observed epochs, no family fitted, no finite draw) or whose families'
    least-squares extrapolation (their median at the target) lies outside the sanity range
    (module docstring, "Clipped").

    Args:
        n_walkers: walkers of the ensemble sampler (raised to 2·ndim when the parameter vector,
            ndim ≤ 48, needs more — Domhan et al.'s rule); at least 2.
        n_steps: steps of every walker, burn-in included.
        burn_in: first steps discarded, ``0 <= burn_in < n_steps``.
        thin: keep every ``thin``-th step after the burn-in (≥ 1).
        random_state: seed (non-negative int).  A row's draws are seeded by the seed and the row's
            values on the working scale, so the same curve gets the same prediction in any batch,
            and the same curves shifted, scaled or mirrored (accuracy / error rate) get the same
            draws.
        value_range: ``(low, high)`` in the metric's units, the values the target can take
            (``-inf``/``inf`` for an open end), e.g. ``(0, 1)`` for an accuracy or ``(1, inf)``
            for a perplexity: the prior then keeps every family's f(x_T) inside it.  ``None``
            (default): the metric's scale as the fitted values show it (module docstring):
            [0, 1] for a fraction (every value in [0, 1]), else one range of the data set
            beyond its extremes; ``(0, 100)`` is Domhan et al.'s check for an accuracy.  This
            choice dominates the prediction on short curves (see the module docstring).

    Defaults are Domhan et al.'s (``MCMCCurveModelCombination``: 100 walkers, 2500 steps, 500
    burn-in); :meth:`fast` is a shorter chain.
    """

    #: A partial curve of fewer observed epochs is predicted as its last value (a fallback):
    #: ``evaluate`` says so for the shares of the curve that observe fewer.
    min_observed: int = MIN_POINTS

    def __init__(self, n_walkers: int = 100, n_steps: int = 2500, burn_in: int = 500,
                 thin: int = 1, random_state: int = 0,
                 value_range: tuple[float, float] | None = None) -> None:
        for name, value, least in (("n_walkers", n_walkers, 2), ("n_steps", n_steps, 1),
                                   ("thin", thin, 1), ("random_state", random_state, 0),
                                   ("burn_in", burn_in, 0)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
        if burn_in >= n_steps:
            raise ValueError(f"burn_in must be smaller than n_steps={n_steps}, got {burn_in}")
        if value_range is not None:
            try:
                low, high = (float(v) for v in value_range)
            except (TypeError, ValueError):
                low = high = float("nan")
            if not low < high:  # also rejects NaN
                raise ValueError(f"value_range must be (low, high) with low < high, "
                                 f"got {value_range!r}")
            value_range = (low, high)
        self.n_walkers = int(n_walkers)
        self.n_steps = int(n_steps)
        self.burn_in = int(burn_in)
        self.thin = int(thin)
        self.random_state = int(random_state)
        self.value_range = value_range

    @classmethod
    def fast(cls, random_state: int = 0,
             value_range: tuple[float, float] | None = None) -> LCE:
        """A short chain (2·ndim walkers, 300 steps, 200 burn-in): ~0.3 s per curve of 5 points.

        Same model and prior; the posterior is explored less (the walkers start in a tiny ball
        around the least-squares point and have less time to drift into the flat prior's tails),
        so its mean and std differ from the faithful chain's.
        """
        return cls(n_walkers=2, n_steps=300, burn_in=200, thin=1, random_state=random_state,
                   value_range=value_range)

    def __repr__(self) -> str:
        return (f"LCE(n_walkers={self.n_walkers}, n_steps={self.n_steps}, burn_in={self.burn_in}, "
                f"thin={self.thin}, random_state={self.random_state}, "
                f"value_range={self.value_range})")

    # ------------------------------------------------------------------------------ fit
    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> LCE:
        """Record the epoch axis, target epoch, direction, diverged fill and working scale."""
        trained = curves.without_untrained_epoch()
        refuse_nothing_to_learn(trained, self)
        col = target_column(trained, target_epoch)
        filled = trained.filled_values()
        self.epochs_ = trained.epochs.astype(np.float64)
        self.target_col_ = col
        self.target_epoch_ = int(trained.epochs[col])
        self.direction_ = trained.direction
        self.diverged_fill_ = float(trained.diverged_fill)
        scale = working_scale(filled, trained.direction)
        if self.value_range is not None:
            with np.errstate(all="ignore"):
                ends = scale.to_z(np.asarray(self.value_range, dtype=np.float64))
            scale = replace(scale, low=float(ends.min()), high=float(ends.max()))
        self.scale_ = scale
        return self

    # ------------------------------------------------------------------------------ predict
    def predict(self, configs: pd.DataFrame, partial: NDArray[np.float64]) -> Prediction:
        """Posterior-predictive mean and std of y at the target epoch, one MCMC per row.

        Args:
            configs: one row per curve (unused by the model; its length must match).
            partial: shape ``(n, tau)``, the values after the first ``tau`` trained epochs (a
                curve observed past the target epoch gets its value there).

        Returns:
            Prediction with ``mean`` and ``std`` of shape ``(n,)`` in the metric's units and
            ``clipped`` (a fallback, or an extrapolation outside the sanity range).
        """
        if not hasattr(self, "scale_"):
            raise RuntimeError("call fit(curves) before predict")
        y = partial_curves(partial)
        config_rows(configs, y.shape[0])  # None (no configs) as the other predictors take it
        mean = np.empty(y.shape[0])
        std = np.empty(y.shape[0])
        clipped = np.zeros(y.shape[0], dtype=bool)
        for i in range(y.shape[0]):
            mean[i], std[i], clipped[i] = self._predict_one(self._fill(y[i]))
        return Prediction(mean=mean, std=std, clipped=clipped)

    def _fill(self, row: FloatArray) -> FloatArray:
        """The row with NaN/±inf replaced by the diverged fill (worst finite value if none)."""
        row = row.copy()
        bad = ~np.isfinite(row)
        if bad.any():
            fill = self.diverged_fill_
            if not np.isfinite(fill):
                fill = self.direction_.worst(row)
            row[bad] = fill if np.isfinite(fill) else 0.0
        return row

    @staticmethod
    def _initial_walkers(post: Posterior, centre: FloatArray, n_walkers: int,
                         rng: np.random.Generator) -> FloatArray:
        """Walkers in a ball of radius ``INIT_BALL`` around ``centre``, shape ``(n_walkers, ndim)``.

        A walker the prior rejects is redrawn in a ball ten times smaller (up to five times), then
        put at ``centre`` itself (whose posterior is finite), so every walker starts finite.
        """
        p0 = centre + INIT_BALL * rng.standard_normal((n_walkers, post.ndim))
        bad = ~np.isfinite(post(p0)[:, 0])
        radius = INIT_BALL
        for _ in range(5):
            if not bad.any():
                return p0
            radius /= 10.0
            p0[bad] = centre + radius * rng.standard_normal((int(bad.sum()), post.ndim))
            bad[bad] = ~np.isfinite(post(p0[bad])[:, 0])
        p0[bad] = centre
        return p0

    def _predict_one(self, y: FloatArray) -> tuple[float, float, bool]:
        """(mean, std, clipped) of y_T for one filled row ``y`` of shape ``(tau,)``; clipped:
        a fallback, or a least-squares extrapolation outside the sanity range (class docstring)."""
        sc = self.scale_
        tau = y.size
        if tau > self.target_col_:  # the target is already observed
            return float(y[self.target_col_]), SIGMA_MIN * sc.scale, False
        fallback = (float(y[-1]), sc.scale / np.sqrt(12.0), True)
        if tau < MIN_POINTS:
            return fallback
        x = self.epochs_[:tau]
        # rounded far below the noise floor SIGMA_MIN: the last bits an affine map of the metric
        # leaves would otherwise steer the chain apart (+ 0.0 turns -0.0 into 0.0)
        z = np.round(sc.to_z(y), Z_DECIMALS) + 0.0
        x_target = float(self.epochs_[self.target_col_])
        families: list[CurveFamily] = []
        starts: list[FloatArray] = []
        x_check = np.append(x, x_target)
        unbounded: list[float] = []  # f(x_T) of the finite, monotone fits, whatever the range
        for family in FAMILIES:
            theta = least_squares(family, x, z)
            if theta is None:
                continue
            with np.errstate(all="ignore"):
                values = family.function(x_check, *theta)
            if not np.all(np.isfinite(values)):
                continue
            if bool(family_prior_ok(values, -np.inf, np.inf)):
                unbounded.append(float(values[-1]))
            if bool(family_prior_ok(values, sc.low, sc.high)):
                families.append(family)
                starts.append(theta)
        if not families:
            return fallback
        # the families' own extrapolation (their median) outside the sanity range: the range,
        # not the curve, sets the prediction, as a bounded predictor's clip does
        out_of_range = bool(unbounded) and not sc.low <= float(np.median(unbounded)) <= sc.high
        sigma_max = noise_ceiling(z)
        post = Posterior(families, x, z, x_target, sc.low, sc.high, sigma_max)
        with np.errstate(all="ignore"):
            comb = np.mean([f.function(x, *t) for f, t in zip(families, starts, strict=True)],
                           axis=0)
        sigma0 = float(np.clip(np.std(z - comb), 2 * SIGMA_MIN, sigma_max / 2))
        centre = np.concatenate([*starts, [sigma0], np.full(len(families), INIT_WEIGHT)])
        n_walkers = max(self.n_walkers, 2 * post.ndim)
        # seeded by the curve on the working scale (not its raw values), so that the same curves
        # shifted, scaled or mirrored (accuracy / error rate) draw the same chain
        seed = np.random.SeedSequence([self.random_state, zlib.crc32(z.tobytes()), tau])
        rng = np.random.default_rng(seed)
        if not np.isfinite(post(centre)[0, 0]):
            return fallback
        p0 = self._initial_walkers(post, centre, n_walkers, rng)
        sampler = emcee.EnsembleSampler(n_walkers, post.ndim, post, vectorize=True)
        state = emcee.State(p0, random_state=np.random.RandomState(
            int(rng.integers(2**32))).get_state())
        f_kept: list[FloatArray] = []
        s_kept: list[FloatArray] = []
        with np.errstate(all="ignore"):  # emcee subtracts -inf from -inf for rejected walkers
            for step, st in enumerate(sampler.sample(state, iterations=self.n_steps, store=False,
                                                     skip_initial_state_check=True)):
                if step >= self.burn_in and (step - self.burn_in) % self.thin == 0:
                    good = np.isfinite(st.log_prob)
                    f_kept.append(np.asarray(st.blobs, dtype=np.float64).reshape(-1)[good])
                    s_kept.append(st.coords[good, post.sigma_index])
        f_t = np.concatenate(f_kept)
        s_t = np.concatenate(s_kept)
        ok = np.isfinite(f_t) & np.isfinite(s_t)
        if not ok.any():
            return fallback
        f_t, s_t = f_t[ok], s_t[ok]
        mean_z = float(np.mean(f_t))
        std_z = float(np.sqrt(np.var(f_t) + np.mean(s_t ** 2)))
        std_z = max(std_z, SIGMA_MIN) if np.isfinite(std_z) else 1.0 / np.sqrt(12.0)
        return sc.to_y(mean_z), std_z * sc.scale, out_of_range
