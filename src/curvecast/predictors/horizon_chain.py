"""curvecast's default predictor: chained Bayesian linear regressions over a ladder of horizons,
learned from partially trained runs as well as finished ones."""

from __future__ import annotations

import copy
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast import defaults
from curvecast.curves import CurveSet, Direction
from curvecast.predictors._base import (
    Prediction,
    Predictor,
    config_rows,
    least_std,
    partial_curves,
    refuse_nothing_to_learn,
    target_column,
)
from curvecast.predictors.study_configs import StudyConfigs

#: Curves a later link needs before it also sees the anchor (its 4 columns, with room to spare).
ANCHOR_ROWS = 10
#: Curves a first link needs before its variance depends on its input (``spread="by-input"``).
SPREAD_ROWS = 10
#: The most the input-dependent variance may differ from the pooled one: a factor of 10 each way.
SPREAD_CLIP = float(np.log(10.0))
#: Curves a link needs per column before it also sees the configs (besides ``config_rows``).
CONFIG_ROWS_PER_COLUMN = 3


@dataclass(frozen=True)
class _Link:
    """One fitted regression ``u_b ~ x(u_1..u_a)``: coefficients, the posterior scale matrix,
    the residual variance and degrees of freedom, and the targets' range (for the bound)."""

    beta: NDArray[np.float64]
    a_inv: NDArray[np.float64]
    s2: float
    dof: float
    low: float
    high: float
    anchored: bool = False
    clip: float = 0.0  # the bound: the targets' range widened by clip times it on each side
    #: ``spread="by-input"``: the variance at input x is ``s2·exp(slope·(x − centre))``
    slope: float = 0.0
    centre: float = 0.0
    #: a link that also regresses on the run's config (its last ``configs_.inputs.width`` columns)
    configured: bool = False
    #: a first link that also regresses on the last step, ``u_a − u_{a−1}``
    sloped: bool = False

    def variance_factor(self, x: Any) -> Any:
        """``spread="by-input"``: the variance factor at the first input ``x`` (a float or an
        array of shape (n,))."""
        return np.exp(np.clip(self.slope * (x - self.centre), -SPREAD_CLIP, SPREAD_CLIP))

    @cached_property
    def bound(self) -> tuple[float, float]:
        """The lowest and highest mean the link may predict (modelled scale)."""
        return widened(self.low, self.high, self.clip)

    @cached_property
    def markov(self) -> tuple[float, float, float, float, float]:
        """A ``[1, value]`` link's coefficients and scale matrix as floats:
        ``(β₀, β₁, A⁻¹₀₀, A⁻¹₀₁, A⁻¹₁₁)``."""
        return (float(self.beta[0]), float(self.beta[1]), float(self.a_inv[0, 0]),
                float(self.a_inv[0, 1]), float(self.a_inv[1, 1]))


class HorizonChain(Predictor):
    """Predicts a curve's value at the target epoch T from its first τ epochs through a ladder of
    horizons τ → h₁ → h₂ → … → T (h = 2, 4, 8, … epochs, then T).

    Each link ``a → b`` is a Bayesian linear regression of the value after ``b`` epochs on the
    value after ``a`` epochs (the first link, by default, also on the best value so far and the
    last step: ``features="last+best+slope"``), fitted on **every curve observed for at least b
    epochs** — runs
    that were stopped or are still running teach the early links, finished runs the last ones.
    Uncertainty is propagated along the chain (the input variance times the squared slope, plus
    the link's predictive variance, which includes the uncertainty of its coefficients), scaled
    up by how far the chain's errors on the finished curves exceed that (:meth:`calibration`),
    and the prediction is a Student-t whose degrees of freedom combine the links' by
    Welch–Satterthwaite (each link's share of the variance with the rows it was estimated
    from), so a study with five finished runs gets wide intervals and one with a hundred narrow
    ones.  (Welch–Satterthwaite takes the links' variance estimates as independent, but the links
    share rows, so the combined dof is optimistic with few finished curves: with 5 finished and
    no partial curves, 2.5–2.7 % of held-out finals end above the predicted 99 % upper quantile,
    against 0.8–1.2 % with the estimates taken as fully correlated; from 10 finished curves, or
    with partial curves in the fit, the two rules' 99 % exceedances differ by at most 0.7
    points.  The correlated rule cost
    4–7 % of the speedup on four development sets and kept the best no more often, so Welch
    stays: ``docs/results-benchmark.md``, History, stop 28.)  With many finished curves the
    upper tail stays too light on accuracies: with 100 or 300 finished training curves and 25 %
    of each curve seen, 1.7–2.9 % of held-out finals end beyond the predicted 99 % quantile on
    the better side on the four accuracy sets (0–0.9 % on the three losses), while 3.6–14.4 %
    end beyond the 90 % one (``bench/chain_tail.py``, a review at stop 36).  A link with fewer than
    ``min_rows`` curves is skipped (the chain jumps to T on the finished curves).

    **One-sided σ** (``tail="upper"``, the default): a stopping rule needs one number from the
    prediction, the chance of ending *better* than the best so far.  Learning-curve errors are
    skewed: runs that collapse or diverge late make the worse side far heavier than the better
    one, and a symmetric σ lets them widen the better side too, which keeps hopeless runs going.
    So every residual variance (each link's, and the calibration) is the upper semi-variance,
    ``2·mean(max(error, 0)²)`` — the errors on the better side only, on the modelled scale (a
    late bloomer is such an error, so it still widens σ).  The returned σ then describes the
    better side of the distribution; ``tail="both"`` gives the usual symmetric σ.  (Measured in
    ``docs/results-benchmark.md``: in the development runs the one-sided σ stopped earlier on
    every development set and kept the best as often; in the benchmark it used 6–30 % fewer
    epochs and kept the best in 122 of 140 seeds and orderings, against 124.)

    **Runs that collapsed are left out of the links' fits** (``trim_worse=5``, the default since
    stop 28): each link is refitted without the rows whose residual lies 5 scaled MADs or more
    below the median residual (runs that collapsed or diverged after the link's input epoch),
    when enough rows remain; its bound still spans every row's target.  Such rows pull the
    least-squares line down, which leaves the other runs' errors on the better side and widens
    the one-sided σ; a late bloomer is an error on the better side and is never trimmed.  (In the
    benchmark: a 3.5 % higher speedup over the six development sets, the best kept in 57 of 60
    studies against 59; a study whose first complete runs include two that collapsed spent 41 %
    fewer epochs on its other runs.)

    **Anchored links** (``links="anchored"``): with ``"markov"`` links, a later link ``b → c``
    sees only the predicted value after ``b`` epochs, so the chain composes regressions that each
    shrink towards the mean and forget what came before ``b``.  On long curves whose runs take off
    late (TinyImageNet's ResNets, 140 epochs, five links from 10 % of the curve) that loses most of
    the signal: R² at 10 % of the curve 0.47 against 0.76 for one direct link on the same 100
    finished curves (``bench/chain_r2_ladder.py``).  An anchored later link also regresses on the
    observed value and best value after τ epochs (the anchor; links are then fitted per τ), and
    only the predicted input's variance is carried along the chain.

    **The run's config** (``config_rows``): a run's hyperparameters and size say what its first
    epochs cannot (a learning-rate schedule whose drop is still to come, a warm-up that makes a
    good run start slow).  Once at least ``config_rows`` curves reach a link's horizon, the
    link also regresses on the config's columns (:class:`curvecast.features.ConfigInputs`:
    numbers, logged when that makes them less skewed, and low-cardinality categories one-hot,
    standardised; a missing or unseen value counts as the mean) — the first link only
    (``config_links="first"``), or every link (``"all"``).  A fit given no configs, or a table
    with no usable column, is the chain on the curves alone.  A link needs 3 curves per column
    as well, so a wide table waits for more curves.

    Values are modelled on an increasing "better is larger" scale: ``log(value)`` for a metric to
    minimise whose values are all positive (perplexity, loss), the value itself otherwise; the
    mean and std come back in metric units (for the log scale the median ``exp(m)`` and half the
    width of the ±1σ interval; probabilities use the latent scale).

    **Bounded**: every link's mean is clipped to the range of the targets it was trained on,
    widened by ``clip`` times that range on each side.  Predictions that hit the bound are
    flagged in ``Prediction.clipped`` (and counted by the stopper), so an extrapolation far
    outside what the curves support never silently drives a decision.

    Fitting stores the curves; links are fitted on first use and cached (a few microseconds each),
    so refitting on every new observation is cheap.

    Args:
        features: ``"last"`` (the value after τ epochs), ``"last+best"`` (also the best value
            so far, robust to a noisy dip) or ``"last+best+slope"`` (also the last step,
            ``u_τ − u_{τ−1}``, from τ = 2 on and once a first link has 6 curves: a slow starter
            that has just risen is told from one that stayed low).
        ladder: the factor between successive horizons (> 1).
        min_rows: curves a link needs (≥ 5 with ``"last+best"``, ≥ 4 with ``"last"``: enough to
            fit the link and estimate its error; a link with fewer falls back to a direct link
            to T on the finished curves, which the stopper only asks for once ``min_rows``
            curves are finished).
        clip: how far outside the training targets' range a mean may go, as a share of it.
        ridge: the prior precision of the coefficients (a tiny ridge keeps ``A`` invertible).
        log_target: model ``log(value)``: None (default) decides like :class:`SRM`.
        tail: ``"upper"`` (σ from the errors on the better side) or ``"both"`` (symmetric).
        links: ``"markov"`` (each later link sees only the previous horizon's predicted value) or
            ``"anchored"`` (a later link with at least ``ANCHOR_ROWS`` = 10 curves also sees the
            value and the best value after τ epochs; see the class notes).
        spread: ``"pooled"`` (the first link has one residual variance) or ``"by-input"``: from
            ``SPREAD_ROWS`` = 10 curves on, the first link's variance is
            ``s²·exp(γ·(x − x̄))`` in its input x (the value after τ epochs), γ the slope of the
            log squared residuals on x (Harvey's multiplicative model), the factor clipped to
            [0.1, 10]; ``s²`` is then the (upper semi-)variance of the residuals divided by that
            factor.  Slow starters whose futures spread wider than the fast starters' get a
            wider σ, fast starters a narrower one.
        config_rows: curves that must reach a link's horizon before it also regresses on the
            run's config (see the class notes); None: never (the curves alone).
        config_links: ``"first"`` (only the first link sees the config) or ``"all"``.
        trim_worse: a link is refitted without the rows this many scaled MADs or more below its
            median residual (see the class notes); None: every row is kept.
        bound: what a link's mean is clipped to: ``"targets"`` (the widened range of the values
            it was trained on) or ``"targets+run"`` (that range stretched to take in the run's
            own value after τ epochs: a run below every curve that reached the horizon is not
            lifted to them, as it was while few curves had).  Not the default: it also lets
            a run whose value spikes far outside every training curve's (a diverging
            perplexity or RMSE) keep a prediction far outside them, unflagged — R² −8.9e33
            on friedman-sgd at 10 % (``docs/results-benchmark.md``, History, stop 28).
        monotone: fit the first link so that its mean never rises as the run's last value
            worsens (the last value and the best so far are nearly collinear, and their
            coefficients can come out of opposite signs: a run that dropped was then predicted
            to end better than the same run without the drop; reviews, stop 36).  Where the fit
            breaks that, below the best so far or at it (where the best moves with the value),
            it is redone with the mean flat in the last value there.  (P(worse) can
            still fall as a value worsens far beyond the training curves' steps: such an input
            gets a wide σ, ``bench/monotone_drop.py``.)
    """

    learns_from_partial_curves = True
    configs_optional = True

    def __init__(self, features: str = defaults.CHAIN_FEATURES, ladder: float = 2.0, min_rows: int = 5,
                 clip: float = 0.25, ridge: float = 1e-3, log_target: bool | None = None,
                 tail: str = defaults.CHAIN_TAIL, links: str = defaults.CHAIN_LINKS,
                 spread: str = defaults.CHAIN_SPREAD,
                 config_rows: int | None = defaults.CHAIN_CONFIG_ROWS,
                 config_links: str = defaults.CHAIN_CONFIG_LINKS,
                 bound: str = defaults.CHAIN_BOUND,
                 trim_worse: float | None = defaults.CHAIN_TRIM_WORSE,
                 monotone: bool = defaults.CHAIN_MONOTONE) -> None:
        if features not in ("last", "last+best", "last+best+slope"):
            raise ValueError("features must be 'last', 'last+best' or 'last+best+slope', got "
                             f"{features!r}")
        if not ladder > 1.0:
            raise ValueError(f"ladder must be > 1, got {ladder}")
        need = 4 if features == "last" else 5  # a link's columns + 2 (more wait in _link)
        if min_rows < need:
            raise ValueError(f"min_rows must be >= {need} with features={features!r}, got "
                             f"{min_rows}")
        if not clip >= 0.0:
            raise ValueError(f"clip must be >= 0, got {clip}")
        if not ridge > 0.0:
            raise ValueError(f"ridge must be > 0, got {ridge}")
        if tail not in ("upper", "both"):
            raise ValueError(f"tail must be 'upper' or 'both', got {tail!r}")
        if links not in ("markov", "anchored"):
            raise ValueError(f"links must be 'markov' or 'anchored', got {links!r}")
        if spread not in ("pooled", "by-input"):
            raise ValueError(f"spread must be 'pooled' or 'by-input', got {spread!r}")
        if config_rows is not None and config_rows < min_rows:
            raise ValueError(f"config_rows must be None or >= min_rows ({min_rows}), got "
                             f"{config_rows}")
        self.features = features
        self.ladder = float(ladder)
        self.min_rows = int(min_rows)
        self.clip = float(clip)
        self.ridge = float(ridge)
        self.log_target = log_target
        self.tail = tail
        self.links = links
        self.spread = spread
        if config_links not in ("first", "all"):
            raise ValueError(f"config_links must be 'first' or 'all', got {config_links!r}")
        if bound not in ("targets", "targets+run"):
            raise ValueError(f"bound must be 'targets' or 'targets+run', got {bound!r}")
        self.bound = bound
        if trim_worse is not None and not trim_worse > 0.0:
            raise ValueError(f"trim_worse must be None or > 0, got {trim_worse}")
        self.trim_worse = None if trim_worse is None else float(trim_worse)
        self.monotone = bool(monotone)
        self.config_rows = None if config_rows is None else int(config_rows)
        self.config_links = config_links
        #: whether predictions depend on the config table (with ``config_rows``)
        self.uses_configs = self.config_rows is not None

    def on_curves_alone(self) -> HorizonChain:
        """An unfitted chain with these settings whose links never see the config
        (``config_rows=None``)."""
        blind = copy.copy(self)
        blind.config_rows, blind.uses_configs = None, False
        return blind

    def __repr__(self) -> str:
        extra = "" if self.spread == "pooled" else f", spread={self.spread!r}"
        if self.config_rows != defaults.CHAIN_CONFIG_ROWS:
            extra += f", config_rows={self.config_rows}"
        if self.config_links != defaults.CHAIN_CONFIG_LINKS:
            extra += f", config_links={self.config_links!r}"
        if self.bound != defaults.CHAIN_BOUND:
            extra += f", bound={self.bound!r}"
        if self.trim_worse != defaults.CHAIN_TRIM_WORSE:
            extra += f", trim_worse={self.trim_worse}"
        if self.monotone != defaults.CHAIN_MONOTONE:
            extra += f", monotone={self.monotone}"
        return (f"HorizonChain(features={self.features!r}, ladder={self.ladder:g}, "
                f"min_rows={self.min_rows}, clip={self.clip:g}, tail={self.tail!r}, "
                f"links={self.links!r}{extra})")

    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> HorizonChain:
        """Keep every curve of ``curves`` (partially observed ones included) as training data.

        Raises:
            ValueError: fewer than ``min_rows`` curves observed to the target epoch.
        """
        trained = curves.without_untrained_epoch()
        refuse_nothing_to_learn(trained, self)
        col = target_column(trained, target_epoch)
        values = trained.filled_values()[:, : col + 1]
        n_observed = np.minimum(trained.n_observed(), col + 1)
        return self.fit_arrays(values, n_observed, trained.direction,
                               diverged_fill=trained.diverged_fill, configs=trained.configs)

    def fit_arrays(self, values: NDArray[np.float64], n_observed: NDArray[np.int64],
                   direction: Direction, diverged_fill: float | None = None,
                   reuse: HorizonChain | None = None,
                   configs: pd.DataFrame | None = None,
                   config_ids: Sequence[Hashable] | None = None) -> HorizonChain:
        """Fit on raw arrays (the stopper's fast path, no CurveSet built).

        Args:
            values: shape ``(n, T)``, the value after each of T trained epochs, diverged values
                already filled, anything beyond ``n_observed`` ignored.
            n_observed: shape ``(n,)``, epochs observed per curve (observed ones come first).
            direction: whether larger or smaller values are better.
            diverged_fill: what a NaN or ±inf value of a curve to predict counts as (metric
                units); default: the worst value observed here (the CurveSet rule).
            reuse: a chain with the same settings fitted earlier in the same study.  When its
                curves are the first rows of these, unchanged, the links and calibrations the
                new rows cannot change are taken over instead of refitted: a link ``a → b`` is
                fitted on the curves observed for ≥ b epochs, so rows observed for k epochs
                leave every link with b > k, and every calibration from τ ≥ k (when none is
                complete), as it was.  The predictions are those of a fit without ``reuse``
                (to rounding: a kept calibration was computed on its own, not along with a query)
                — except that the configs' encoding is ``reuse``'s, learned earlier in the study
                (see ``configs``).  Nothing is kept when the unit or the origin the values are
                measured from (their worst values' level, see ``_scale``) moved: the origin is
                a function of the values alone, so a resumed study decides as an uninterrupted
                one.
            configs: the curves' config table (used with ``config_rows``; None: the links see the
                curves only): one row per curve in the same order, or, with ``config_ids``, a
                table indexed by config id with (at least) a row for each.  Its encoding (which
                columns, their log, levels, mean and scale) is learned once, at the first fit
                with ``config_rows`` curves, and kept by the fits that ``reuse`` it while its
                curves stay the first ones (the same ids); only the added curves' rows are
                looked up and encoded.
            config_ids: each curve's row of ``configs`` (its index label), in order.

        Raises:
            ValueError: fewer than ``min_rows`` curves observed to epoch T, or a config table
                with another number of rows.
        """
        values = np.asarray(values, dtype=np.float64)
        n_observed = np.array(n_observed, dtype=np.int64)  # a copy: links are fitted lazily
        T = values.shape[1]
        n_complete = int(np.sum(n_observed >= T))
        if n_complete < self.min_rows:
            raise ValueError(f"a HorizonChain needs at least {self.min_rows} curves observed to "
                             f"the target epoch {T}, got {n_complete}")
        direction = Direction.parse(direction)
        seen = np.arange(T)[None, :] < n_observed[:, None]
        self.diverged_fill_ = float(direction.worst(values[seen]) if diverged_fill is None
                                    else diverged_fill)
        log = self.log_target
        if log is None:
            log = direction is Direction.MINIMIZE and bool(np.all(values[seen] > 0))
        elif log and np.any(values[seen] <= 0):
            raise ValueError("log_target=True needs positive values (it models log(value)), got "
                             f"min {float(np.min(values[seen])):g}: leave log_target to None, "
                             "which models such metrics as they are")
        self.log_target_ = bool(log)
        self.sign_ = float(direction.sign)
        self.direction_ = direction
        self.n_epochs_ = T
        self.n_observed_ = n_observed
        self.unit_, self.centre_ = 1.0, 0.0
        z = self._to_u(values)  # in units of 1 from 0, then scaled and centred
        self.unit_, self.centre_ = _scale(z[seen])
        self.u_ = np.where(seen, (z - self.centre_) / self.unit_, np.nan)
        self.best_ = np.fmax.accumulate(self.u_, axis=1)
        self.links_: dict[tuple[int, int, int], _Link | None] = {}
        self.rows_: dict[int, NDArray[np.intp]] = {}  # per horizon b: the curves that reach it
        self.calibration_: dict[int, float] = {}
        self.ladders_: dict[int, list[int]] = {}
        #: the curves' encoded configs (see :class:`StudyConfigs`)
        self.configs_ = StudyConfigs(values.shape[0])
        if configs is not None and self.config_rows is not None:
            ids = np.asarray(configs.index if config_ids is None else config_ids, dtype=object)
            if len(ids) != values.shape[0]:
                raise ValueError(f"{len(ids)} config rows for {values.shape[0]} curves")
            self.configs_ = StudyConfigs.of(configs, ids, config_ids is None, self.config_rows,
                                            None if reuse is None else reuse.configs_)
        if reuse is not None:
            self._take_over(reuse)
        return self

    def _settings(self) -> tuple[object, ...]:
        return (type(self), self.features, self.ladder, self.min_rows, self.clip, self.ridge,
                self.tail, self.links, self.spread, self.config_rows, self.config_links,
                self.bound, self.trim_worse, self.monotone)

    def _take_over(self, old: HorizonChain) -> None:
        """Keep ``old``'s links and calibrations that the rows added since cannot change (see
        :meth:`fit_arrays`); nothing when ``old``'s curves are not the first rows of these."""
        m = getattr(old, "u_", np.empty((0, 0))).shape[0]
        if (m == 0 or m > self.u_.shape[0] or old._settings() != self._settings()
                or old.u_.shape[1] != self.u_.shape[1] or old.sign_ != self.sign_
                or old.log_target_ != self.log_target_ or old.unit_ != self.unit_
                or old.centre_ != self.centre_
                or not np.array_equal(old.n_observed_, self.n_observed_[:m])
                or not np.array_equal(old.u_, self.u_[:m], equal_nan=True)):
            return
        added = self.n_observed_[m:]
        k = int(added.max()) if added.size else 0
        # a link on the configs is refitted when their encoding changed (it was learned at this
        # fit), and so is every calibration, which such a link may feed
        same_inputs = self.configs_.inputs == old.configs_.inputs
        self.links_ = {key: link for key, link in old.links_.items()
                       if key[1] > k and (same_inputs or link is None or not link.configured)}
        if k < self.n_epochs_ and same_inputs:  # the finished curves are the same
            self.calibration_ = {tau: c for tau, c in old.calibration_.items() if tau >= k}

    def _to_u(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Metric values → the modelled "larger is better" scale (same shape): in ``unit_``s
        from ``centre_``."""
        z = np.log(np.maximum(values, 1e-300)) if self.log_target_ else values
        return (self.sign_ * z - self.centre_) / self.unit_

    def _ladder(self, tau: int) -> list[int]:
        """:meth:`horizons`, cached per τ."""
        ladder = self.ladders_.get(tau)
        if ladder is None:
            ladder = self.ladders_[tau] = self.horizons(tau)
        return ladder

    def horizons(self, tau: int) -> list[int]:
        """The ladder from ``tau`` observed epochs: the horizons (epoch counts) after ``tau``,
        ending at T."""
        out: list[int] = []
        h, previous = 1.0, 1
        while True:
            h *= self.ladder
            b = int(np.ceil(h))
            if b <= previous:  # a ladder near 1: skip the powers that round up to this
                # horizon again (~1/log(ladder) of them; one fewer, for rounding errors)
                h *= self.ladder ** max(0, int(np.floor(np.log(previous / h)
                                                          / np.log(self.ladder))) - 1)
                continue
            if b >= self.n_epochs_:
                break
            if b > tau and (not out or b > out[-1]):
                out.append(b)
            previous = b
        return [*out, self.n_epochs_]

    def _design(self, u: NDArray[np.float64], best: NDArray[np.float64], a: int,
                first: bool, sloped: bool = False) -> NDArray[np.float64]:
        """A link's design matrix from the curves ``u`` and their running ``best`` (shape
        ``(n, ≥ a)`` each) after ``a`` epochs: ``[1, u_a, best_a]`` for a first link with
        ``"last+best"`` (and ``u_a − u_{a−1}`` when ``sloped``), ``[1, u_a]`` otherwise."""
        last = u[:, a - 1]
        if not first or self.features == "last":
            return np.column_stack([np.ones(last.shape[0]), last])
        if sloped:
            return np.column_stack([np.ones(last.shape[0]), last, best[:, a - 1],
                                    last - u[:, a - 2]])
        return np.column_stack([np.ones(last.shape[0]), last, best[:, a - 1]])

    def _reaching(self, b: int) -> NDArray[np.intp]:
        """The curves observed for at least ``b`` epochs (indices, cached per ``b``)."""
        rows = self.rows_.get(b)
        if rows is None:
            rows = self.rows_[b] = np.flatnonzero(self.n_observed_ >= b)
        return rows

    def _link(self, a: int, b: int, first: bool, tau: int) -> _Link | None:
        """The fitted link ``a → b`` of the chain from ``tau`` observed epochs (cached), None
        when too few curves reach ``b``."""
        rows = self._reaching(b)
        anchored = self.links == "anchored" and not first and rows.size >= ANCHOR_ROWS
        key = (a if first else -a, b, tau if anchored else 0)
        if key in self.links_:
            return self.links_[key]
        sloped = first and self.features == "last+best+slope" and a >= 2
        X = self._design(self.u_[rows, :a], self.best_[rows, :a], a, first, sloped)
        if sloped and rows.size < max(self.min_rows, X.shape[1] + 2):
            # too few curves for the step's column (two more than the columns, as for any
            # link): the link is fitted on the value and best value alone
            sloped = False
            X = self._design(self.u_[rows, :a], self.best_[rows, :a], a, first, sloped)
        if anchored:  # the anchor: the value and best value after tau epochs
            X = np.column_stack([X, self.u_[rows, tau - 1], self.best_[rows, tau - 1]])
        configured = ((first or self.config_links == "all") and self.config_rows is not None
                      and self.configs_.z.shape[1] > 0
                      and rows.size >= max(self.config_rows,
                                           CONFIG_ROWS_PER_COLUMN * (X.shape[1] + self.configs_.z.shape[1])))
        if configured:
            X = np.column_stack([X, self.configs_.z[rows]])
        link = None
        if rows.size >= max(self.min_rows, X.shape[1] + 2):
            y = self.u_[rows, b - 1]
            rising = self._rising(first, sloped, X.shape[1])
            a_inv, beta = self._solve(X, y, rising)
            resid = y - X @ beta
            low, high = float(y.min()), float(y.max())  # the bound: every row's target
            if self.trim_worse is not None:
                X, y, a_inv, beta, resid = self._trimmed(X, y, a_inv, beta, resid,
                                                         self.trim_worse, rising)
            dof = float(y.size - X.shape[1])
            centred = y - y.mean()
            spread = float(centred @ centred) / y.size  # var(y): the floor's scale
            floor = 1e-12 * (1.0 + spread)
            s2 = max(float(np.sum(self._squared(resid))) / dof, floor)
            link = _Link(beta, a_inv, s2, dof, low, high, anchored,
                         self.clip, configured=configured, sloped=sloped)
            if first and self.spread == "by-input" and rows.size >= SPREAD_ROWS:
                link = self._by_input(link, X[:, 1], resid, dof, floor)
        self.links_[key] = link
        return link

    def _rising(self, first: bool, sloped: bool, width: int) -> NDArray[np.float64] | None:
        """``monotone``: the weights of a first link's coefficients whose sums ``W β`` are the
        mean's slopes in the run's last value, shape ``(2, width)``: below its best so far (the
        value's column, and the last step's, which holds the value too) and at it (the best so
        far moves with the value then); None when there is nothing to constrain."""
        if not (self.monotone and first and self.features != "last"):
            return None
        w = np.zeros((2, width))
        w[:, 1] = 1.0  # the value
        w[1, 2] = 1.0  # the best so far, when the value is it
        if sloped:
            w[:, 3] = 1.0  # the last step
        return w

    def _solve(self, X: NDArray[np.float64], y: NDArray[np.float64],
               rising: NDArray[np.float64] | None
               ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The ridge posterior's scale matrix ``(XᵀX + ridge·I)⁻¹`` and mean ``β`` of
        ``y ~ X β`` (``X`` of shape ``(n, p)``).  With ``rising`` (``monotone``) and a fit whose
        mean falls as the run's last value rises (a slope ``W β`` below 0: the last value and the
        best so far are nearly collinear, and their coefficients' signs can come out opposed),
        the fit is redone with those slopes held at 0 (the same prior restricted to that
        subspace), adding a slope that the refit turns negative in turn: a run whose value drops
        is then never predicted to end better than the same run without the drop."""
        penalty = self.ridge * np.eye(X.shape[1])
        gram, moment = X.T @ X + penalty, X.T @ y
        a_inv = _inverse(gram)
        beta = a_inv @ moment
        if rising is None:
            return a_inv, beta
        held = np.zeros(rising.shape[0], dtype=bool)
        while True:
            falling = ~held & (rising @ beta < 0.0)
            if not falling.any():
                return a_inv, beta
            held |= falling
            # a basis of the subspace where the held slopes are 0: β = N γ
            active = rising[held]
            rank = int(np.linalg.matrix_rank(active))
            null = np.linalg.svd(active)[2][rank:].T
            a_inv = null @ _inverse(null.T @ gram @ null) @ null.T
            beta = a_inv @ moment

    def _trimmed(self, X: NDArray[np.float64], y: NDArray[np.float64],
                 a_inv: NDArray[np.float64], beta: NDArray[np.float64],
                 resid: NDArray[np.float64], k: float,
                 rising: NDArray[np.float64] | None = None) -> tuple[NDArray[np.float64], ...]:
        """The link refitted without the rows far on the worse side (residuals ``k`` scaled MADs
        or more below the median, ``trim_worse``): runs that collapsed or diverged
        after the link's input epoch.  They pull the least-squares line down, which leaves the
        other rows' errors on the better side, so they would widen the one-sided σ that decides
        a stop.  Kept as fitted when no row is that far, or too few would remain."""
        centre = float(np.median(resid))
        mad = 1.4826 * float(np.median(np.abs(resid - centre)))
        keep = resid > centre - k * mad
        if mad <= 0.0 or keep.all() or keep.sum() < max(self.min_rows, X.shape[1] + 2):
            return X, y, a_inv, beta, resid
        X, y = X[keep], y[keep]
        a_inv, beta = self._solve(X, y, rising)
        return X, y, a_inv, beta, y - X @ beta

    def _by_input(self, link: _Link, x: NDArray[np.float64], resid: NDArray[np.float64],
                  dof: float, floor: float) -> _Link:
        """``link`` with a variance that depends on its input ``x`` (shape ``(n,)``, the rows'
        values after τ epochs; ``resid`` their residuals): see ``spread`` in the class notes."""
        centre = float(x.mean())
        xc = x - centre
        log_sq = np.log(resid ** 2 + 1e-2 * float(np.mean(resid ** 2)) + 1e-300)
        denom = float(xc @ xc)
        slope = float(xc @ (log_sq - log_sq.mean())) / denom if denom > 0 else 0.0
        shaped = replace(link, slope=slope, centre=centre)
        s2 = max(float(np.sum(self._squared(resid) / shaped.variance_factor(x))) / dof, floor)
        return replace(shaped, s2=s2)

    def _squared(self, error: NDArray[np.float64]) -> NDArray[np.float64]:
        """Squared errors (modelled scale, better is larger) as they enter a variance: with
        ``tail="upper"`` only those on the better side, doubled (the upper semi-variance)."""
        if self.tail == "upper":
            return 2.0 * np.maximum(error, 0.0) ** 2
        return error ** 2

    def _chain(self, u: NDArray[np.float64], best: NDArray[np.float64], tau: int,
               z: NDArray[np.float64] | None = None
               ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                          NDArray[np.bool_]]:
        """The chain from ``tau`` observed epochs for the rows of ``u`` (modelled scale, shape
        ``(n, ≥ tau)``; ``best`` its running best; ``z`` their encoded configs, shape
        ``(n, configs_.inputs.width)``, None: the fitted configs' mean): mean, propagated variance, the
        Welch–Satterthwaite degrees of freedom, clipped; each of shape ``(n,)``."""
        n = u.shape[0]
        # arrays of shape (n,), or floats for one curve through Markov links (below)
        mean: Any = np.zeros(n)
        var: Any = np.zeros(n)
        clipped: Any = np.zeros(n, dtype=bool)
        # Welch–Satterthwaite: dof = (Σ vᵢ)² / Σ (vᵢ² / dofᵢ) over the links' variance terms vᵢ,
        # each carried through later links by their squared slopes (so both sums scale alike).
        spread: Any = np.zeros(n)  # Σ vᵢ² / dofᵢ
        a, first = tau, True
        # one curve through Markov links: Python floats after the first link, since the per-call
        # cost of ufuncs on one-element arrays dominates a decision (same arithmetic)
        scalar = n == 1 and self.links == "markov"
        # the run's own value after tau epochs, which bound="targets+run" lets a mean reach
        own_value: Any = (None if self.bound == "targets" else
                          float(u[0, tau - 1]) if scalar else u[:, tau - 1])
        for b in self._ladder(tau):
            link = self._link(a, b, first, tau)
            if link is None:  # too few curves reach b: jump to T on the finished curves
                b = self.n_epochs_
                link = self._link(a, b, first, tau)
                if link is None:
                    raise ValueError(f"too few curves observed to epoch {b} to predict")
            if first or link.anchored or link.configured:
                X = (self._design(u, best, a, True, link.sloped) if first
                     else np.column_stack([np.ones(n), np.atleast_1d(mean)]))
                if link.anchored:
                    X = np.column_stack([X, u[:, tau - 1], best[:, tau - 1]])
                if link.configured:
                    X = np.column_stack([X, np.zeros((n, self.configs_.z.shape[1])) if z is None else z])
                m: Any = X @ link.beta
                leverage: Any = ((X @ link.a_inv) * X).sum(axis=1)
                slope = float(link.beta[1])
                if scalar:
                    m, leverage = float(m[0]), float(leverage[0])
                    clipped = bool(np.atleast_1d(clipped)[0])
            else:  # [1, mean] written out: the same numbers without building X
                b0, slope, a00, a01, a11 = link.markov
                m = b0 + slope * mean
                leverage = a00 + (2.0 * a01 + a11 * mean) * mean
            own = link.s2 * (1.0 + leverage)
            if first and link.slope != 0.0:
                x = u[:, a - 1]
                own = own * (float(link.variance_factor(float(x[0]))) if scalar
                             else link.variance_factor(x))
            if first:
                var, spread = own, own * own / link.dof
            else:
                carry = slope * slope
                var = carry * var + own
                spread = carry * carry * spread + own * own / link.dof
            low, high = link.bound
            if own_value is not None:
                low, high = ((min(low, own_value), max(high, own_value)) if scalar else
                             (np.minimum(low, own_value), np.maximum(high, own_value)))
            # targets that are all one value (constant curves) leave a bound of zero width:
            # the mean is that value, which is not a prediction the bound had to stop
            clipped = clipped | ((high > low) & ((m < low) | (m > high)))
            mean = min(max(m, low), high) if scalar else np.minimum(np.maximum(m, low), high)
            a, first = b, False
            if b == self.n_epochs_:
                break
        if scalar:
            mean, var, spread, clipped = (np.atleast_1d(mean), np.atleast_1d(var),
                                          np.atleast_1d(spread), np.atleast_1d(clipped))
        return mean, var, var ** 2 / spread, clipped

    def calibration(self, tau: int) -> float:
        """The factor (≥ 1) the chain's propagated variance from ``tau`` epochs is scaled by: the
        mean squared standardised error of the chain's predictions for the finished curves.

        Propagating variances link by link assumes the links' errors are independent; a run that
        is slow at one horizon tends to stay slow, so the errors add up more than that.  The
        finished curves show by how much (cached per τ)."""
        if tau not in self.calibration_:
            u, best, z = self._finished()
            self._calibrate(tau, u[:, -1], *self._chain(u, best, tau, z)[:2])
        return self.calibration_[tau]

    def _finished(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """The finished curves and their running best, shape ``(n_finished, T)`` each, and
        their encoded configs, shape ``(n_finished, configs_.inputs.width)``."""
        rows = np.flatnonzero(self.n_observed_ >= self.n_epochs_)
        return self.u_[rows], self.best_[rows], self.configs_.z[rows]

    def _calibrate(self, tau: int, final: NDArray[np.float64], mean: NDArray[np.float64],
                   var: NDArray[np.float64]) -> None:
        """Store τ's factor from the chain's ``mean``/``var`` for the finished curves whose
        final values are ``final``."""
        self.calibration_[tau] = max(1.0, float(np.mean(self._squared(final - mean) / var)))

    def predict_latent(self, partial: NDArray[np.float64],
                       configs: pd.DataFrame | None = None
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                                  NDArray[np.bool_]]:
        """The prediction on the modelled scale: mean, std, degrees of freedom and a clipped flag,
        each of shape ``(n,)``, for ``partial``, shape ``(n, tau)`` (metric units; NaN or ±inf
        values count as diverged: the worst value, as in the curves fitted on), and the curves'
        ``configs`` (n rows; None: every config counts as the fitted configs' mean)."""
        if not hasattr(self, "u_"):
            raise RuntimeError("call fit(curves) before predict")
        y = self._filled(partial)
        tau = y.shape[1]
        if not 1 <= tau < self.n_epochs_:
            raise ValueError(f"tau must be in 1..{self.n_epochs_ - 1}, got {tau}")
        u = self._to_u(y)
        best = np.fmax.accumulate(u, axis=1)
        n = u.shape[0]
        z = self.configs_.encode(configs, n)
        calibrate = tau not in self.calibration_
        if calibrate:  # one pass for the query and the finished curves
            fu, fbest, fz = self._finished()
            u = np.concatenate([u, fu[:, :tau]])
            best = np.concatenate([best, fbest[:, :tau]])
            z = np.concatenate([np.zeros((n, fz.shape[1])) if z is None else z, fz])
        mean, var, dof, clipped = self._chain(u, best, tau, z)
        if calibrate:
            self._calibrate(tau, fu[:, -1], mean[n:], var[n:])
        scale = self.calibration_[tau]
        return mean[:n], np.sqrt(var[:n] * scale), dof[:n], clipped[:n]

    def _filled(self, partial: NDArray[np.float64]) -> NDArray[np.float64]:
        """``partial`` as a 2-D float array, NaN/±inf (diverged) replaced by the fill."""
        y = partial_curves(partial)
        return np.where(np.isfinite(y), y, self.diverged_fill_)

    def predict(self, configs: pd.DataFrame | None, partial: NDArray[np.float64]) -> Prediction:
        if not hasattr(self, "u_"):
            raise RuntimeError("call fit(curves) before predict")
        y = self._filled(partial)
        configs = None if configs is None else config_rows(configs, y.shape[0])
        if y.shape[1] >= self.n_epochs_:  # the target is already observed
            seen = y[:, self.n_epochs_ - 1]
            return Prediction(mean=seen, std=least_std(seen))
        return self.to_prediction(*self.predict_latent(y, configs))

    def to_prediction(self, u_mean: NDArray[np.float64], u_std: NDArray[np.float64],
                      dof: NDArray[np.float64], clipped: NDArray[np.bool_]) -> Prediction:
        """A :class:`Prediction` in metric units from the modelled scale's mean and std (and the
        degrees of freedom and clipped flags), each of shape ``(n,)``."""
        # back to the metric's own direction and scale
        z_mean = self.sign_ * (u_mean * self.unit_ + self.centre_)
        u_std = u_std * self.unit_
        if self.log_target_:
            hi, lo = np.exp(z_mean + u_std), np.exp(z_mean - u_std)
            return Prediction(mean=np.exp(z_mean), std=np.maximum((hi - lo) / 2,
                                                                  least_std(np.exp(z_mean))),
                              latent="log", latent_mean=z_mean, latent_std=u_std, dof=dof,
                              clipped=clipped)
        return Prediction(mean=z_mean, std=u_std, dof=dof, clipped=clipped)


def widened(low: float, high: float, clip: float) -> tuple[float, float]:
    """The range ``[low, high]`` widened by ``clip`` times its width on each side: the bound a
    prediction is clipped to (modelled scale)."""
    span = high - low
    return low - clip * span, high + clip * span


#: The decade a unit maps the values' half range into: ``[UNIT_DECADE, 10·UNIT_DECADE)``.  Every
#: development set (accuracies, log perplexities: half ranges 0.24–1.6 in the stand-in
#: studies' fits) lies in it, so they are modelled as they are; the same curves in percent, in
#: tenths or in millions are modelled in the same units as they (stop 30).
UNIT_DECADE = 0.18

#: The min–max half range counts as set by outliers, and the bulk's spread sets the unit, when
#: it is more than this many times the bulk's (a loss that spiked to 1e60; the development
#: sets' fits reach 12.6, digits-metaqnn's runs at chance below a bulk near 0.97).
OUTLIER_RATIO = 30.0

#: At most this many of the values (evenly strided) give the bulk's median and spread.
ROBUST_SAMPLE = 512

#: The modelled values are measured from this quantile of them (the worst values seen, on
#: the "larger is better" scale): the origin the links' ridge draws their intercept towards.
ORIGIN_QUANTILE = 0.01


def _unit(half: float) -> float:
    """The power of ten that maps a half range ``half`` into ``[UNIT_DECADE, 10·UNIT_DECADE)``
    (1 for 0 or a non-finite half)."""
    if not 0.0 < half < np.inf:
        return 1.0
    return float(10.0 ** np.floor(np.log10(half) - np.log10(UNIT_DECADE)))  # no overflow


def _inverse(A: NDArray[np.float64]) -> NDArray[np.float64]:
    """``A⁻¹`` of a link's normal equations; its pseudo-inverse when ``A`` is singular to
    working precision (one run's value far outside the rest, e.g. a loss that spiked to 1e9
    at the link's input epoch, makes ``XᵀX`` span more than 1e16), so such a link is fitted
    rather than failing every prediction that needs it."""
    try:
        return np.asarray(np.linalg.inv(A), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.pinv(A, hermitian=True), dtype=np.float64)


def _scale(u: NDArray[np.float64]) -> tuple[float, float]:
    """The unit and the centre the modelled values ``u`` (any shape, before centring and
    scaling) are measured in and from.

    The unit is the power of ten that brings half their range into ``[0.18, 1.8)``
    (:data:`UNIT_DECADE`), so that the links' fixed ``ridge`` means the same at any scale: the
    same curves as a fraction, in percent or in tenths give the same decisions (a reward in the
    millions made ``[1, u, best]`` singular to rounding; accuracies in tenths, or a narrow
    range, were shrunk towards their mean).  Every development set is in that decade, so is
    modelled as it is.  When the range is more than :data:`OUTLIER_RATIO` times the bulk's
    spread (±3 robust standard deviations, 1.4826 times the median absolute deviation, of up to
    :data:`ROBUST_SAMPLE` evenly strided values), the spread sets the unit instead, so that a
    few extreme reports (a loss spiking to 1e60 and back) do not
    shrink the other values to nothing next to the ridge.  Below that ratio a tail still widens
    the unit: one run stuck at −100 among values in −0.2…−2.6 about doubles a pruned study's
    epochs (stop 33; ``bench/unit_bulk.py`` measured the bulk's unit instead, which the
    held-out set did not support: docs/results-benchmark.md, History, stop 33).

    The centre is the worst values' level, their :data:`ORIGIN_QUANTILE` quantile: the links'
    ``ridge`` draws each intercept towards it, so a run is read as its gain over the worst runs,
    which the curves themselves set.  A shift of the values (a loss in other units, on the log
    scale; an accuracy less a baseline) moves the centre along and changes no prediction; so
    does a level far from zero (a score of 1e9 ± 1e3), which measured from 0 would make the
    links' ``[1, u, best]`` collinear to rounding.  The centre is a function of the values
    alone (a resumed study decides as an uninterrupted one).  Until stop 34 it was 0 for values
    near zero, else their median, so a shift changed the decisions (a review: 39 % more epochs
    for the same accuracies less 0.97)."""
    finite = u[np.isfinite(u)]
    if not finite.size:
        return 1.0, 0.0
    low, high = float(finite.min()), float(finite.max())
    half = high / 2 - low / 2  # no overflow
    unit = _unit(half)
    sample = finite[:: max(1, finite.size // ROBUST_SAMPLE)]
    middle = float(np.median(sample))
    with np.errstate(over="ignore"):  # values near ±1e308: the min–max unit stands
        spread = 3.0 * 1.4826 * float(np.median(np.abs(sample - middle)))
    origin = float(np.quantile(sample, ORIGIN_QUANTILE))
    with np.errstate(over="ignore"):
        if not np.isfinite(high - origin) or not np.isfinite(origin - low):
            origin = 0.0  # values spanning the float range (±1e308) are measured from 0
    if 0.0 < spread < np.inf and half > OUTLIER_RATIO * spread:
        return _unit(spread), origin
    return unit, origin
