"""The paper's early-stopping rule (Baker et al. 2017, §3.2): stop when the predicted final value is
probably worse than the best so far."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import inspect
import warnings
from collections import OrderedDict
from collections.abc import Collection, Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast import defaults
from curvecast.curves import CurveSet
from curvecast.curves.wording import counted
from curvecast.datasets.priors import check_prior_metric
from curvecast.predictors import SRM, HorizonChain, Prediction, Predictor
from curvecast.stopping._base import (
    Action,
    Decision,
    History,
    Stopper,
    Trial,
    check_count,
    check_delta,
    check_min_complete,
    check_share,
    reaches_delta,
    trial_epoch,
    versus_delta,
)

#: Δ of curvecast's default rule (chosen leave-one-data-set-out: docs/results-benchmark.md).
DEFAULT_DELTA = defaults.DELTA


class FitCache:
    """Fitted predictors shared by stoppers that use the same unfitted predictor.

    Keyed by the unfitted predictor's class and settings and by the training data (the
    complete trials' ids, in order, their values and configs, the epochs, the metric, its
    direction and diverged value), so a predictor is fitted once per
    distinct training set — e.g. once per search ordering when the
    stoppers of a Δ sweep all fit on the same first ``min_complete`` completions.  Keeps the
    ``max_size`` most recently used fits.

    Attributes:
        n_fits_: predictors fitted so far.
    """

    def __init__(self, max_size: int = 16) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be >= 1, got {max_size}")
        self.max_size = max_size
        self._fits: OrderedDict[tuple[str, tuple[str, ...], str], Predictor] = OrderedDict()
        self.n_fits_ = 0

    def get(self, prototype: Predictor, curves: CurveSet) -> Predictor:
        """A copy of ``prototype`` fitted on ``curves``: cached, or fitted now."""
        key = (_prototype_key(prototype), tuple(curves.config_ids), _curves_digest(curves))
        if key in self._fits:
            self._fits.move_to_end(key)
            return self._fits[key]
        model = copy.deepcopy(prototype).fit(curves)
        if not isinstance(model, Predictor):
            raise TypeError(f"{type(prototype).__name__}.fit must return the fitted predictor "
                            f"(self), got {model!r}")
        self.n_fits_ += 1
        self._fits[key] = model
        if len(self._fits) > self.max_size:
            self._fits.popitem(last=False)
        return model


def _curves_digest(curves: CurveSet) -> str:
    """A digest of everything a fit on ``curves`` reads besides the ids: values, observed mask,
    epochs, configs (their text, so any cell type hashes), metric, direction and diverged
    value.  Two sets with the same ids and values but another direction or other configs
    (a user's review, stop 34) get other digests."""
    h = hashlib.blake2b(digest_size=16)
    for array in (curves.values, curves.observed, curves.epochs):
        h.update(np.ascontiguousarray(array).tobytes())
        h.update(b"|")
    h.update(repr((curves.metric, curves.direction.value, curves.diverged_value)).encode())
    h.update(curves.configs.to_csv(index=False).encode())
    return h.hexdigest()


def _prototype_key(prototype: Predictor) -> str:
    """An unfitted predictor's class and settings, as text: equal settings give equal keys
    (a scipy distribution is named by its family and parameters, not by its address); an
    object that cannot be described by value keeps its address, so it is never taken for
    another."""
    settings = {k: v for k, v in vars(prototype).items() if not k.endswith("_")}
    return f"{type(prototype).__qualname__}{_settings_text(settings)}"


def _settings_text(value: Any) -> str:
    """``value`` as text for :func:`_prototype_key`: recursing into mappings, sets, sequences,
    dataclasses, scikit-learn estimators (their ``get_params``) and other objects (their
    attributes not ending in ``_``, e.g. a predictor nested in another); a frozen scipy
    distribution by its family and parameters, or, defined by data (``rv_discrete(values=…)``),
    by its address: never taken for another."""
    if all(hasattr(value, a) for a in ("dist", "args", "kwds")):  # a frozen scipy distribution
        if not (value.args or value.kwds):
            return repr(value)
        return (f"{type(value.dist).__name__}:{value.dist.name}{value.args!r}"
                f"{sorted(value.kwds.items())!r}")
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_settings_text(v)}"
                               for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))) + "}"
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(_settings_text(v) for v in value)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_settings_text(v) for v in value) + "]"
    if value is None or isinstance(value, str | bytes | int | float | complex | np.generic):
        return repr(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value).__qualname__ + _settings_text(
            {f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if callable(getattr(value, "get_params", None)) and not isinstance(value, type):
        return type(value).__qualname__ + _settings_text(value.get_params(deep=False))
    if hasattr(value, "__dict__") and not isinstance(value, type) and not callable(value):
        return type(value).__qualname__ + _settings_text(
            {k: v for k, v in vars(value).items() if not k.endswith("_")})
    return repr(value)


def curves_to_fit(predictor: Predictor, min_complete: int, n_prior: int) -> int | None:
    """The ``min_complete`` at least needed for ``predictor``'s first fit, when ``min_complete``
    (with ``n_prior`` complete prior curves) is too few for it; None when it is enough.

    The chain (a predictor that learns from partial curves) judges from ``min_rows`` complete
    curves, prior or not.  A predictor fitted on complete curves only is first fitted on
    ``max(min_complete, n_prior + 1)`` of them, and an SRM's ``cv``-fold cross-validation needs
    ``2·cv``."""
    rows = getattr(predictor, "min_rows", None)
    if getattr(predictor, "learns_from_partial_curves", False):
        return int(rows) if rows is not None and min_complete < rows else None
    cv = getattr(predictor, "cv", None)
    if cv is not None and max(min_complete, n_prior + 1) < 2 * int(cv):
        return 2 * int(cv)
    return None


class PredictiveStopper(Stopper):
    """Stop a trial at epoch τ when ``P(y_T worse than y_ref) ≥ Δ`` under the predictor's
    distribution (:meth:`Prediction.prob_worse`: a Gaussian for the paper's SRM, a Student-t,
    on the log scale for a positive metric to minimise, for the default :class:`HorizonChain`).

    For a metric to maximise, with ŷ_T ± σ the prediction from y_1..y_τ and ``y_ref = v_k − δ``
    (v_k the k-th best final value of the complete trials; k = 1 is the paper's y_best), for a
    Gaussian: ``P = Φ((y_ref − ŷ_T) / σ)``.  For a metric to minimise, ``y_ref = v_k + δ`` and
    ``P = Φ((ŷ_T − y_ref) / σ)``.  Nothing is stopped before ``min_complete`` trials are complete.

    **Defaults** (curvecast's rule, chosen leave-one-data-set-out in ``bench/stopping_benchmark.py``,
    see ``docs/results-benchmark.md``): the predictor is a :class:`HorizonChain`, which learns
    from every trial of the study — stopped and running ones too, up to where they were observed
    — and is refitted whenever the study has changed (a cheap closed-form fit, cached while
    nothing else changed); it judges from the 5th complete trial on, like Optuna's
    ``MedianPruner``.  Its predictions are bounded; a clipped one is marked on the decision and
    counted in ``n_clipped_``.  Nothing is stopped in the last ``final_stretch`` = 20 % of
    training.

    The paper's setting is :meth:`paper`: an :class:`SRM` fitted on the complete trials when the
    first decision after ``min_complete`` (100) completions is asked for, and then either kept for
    the whole study (``refit_every=None``, the paper's behaviour) or refitted once every
    ``refit_every`` new completions — never on every report: the fitted predictor is cached, keyed
    by the study and the completions it was fitted at.  Any predictor without
    ``learns_from_partial_curves`` is used that way.

    Args:
        delta: Δ, the probability threshold, in (0, 1]; larger stops less (the paper: 0.8–0.99).
            Δ = 1 stops no trial on a prediction — a predicted P(worse) is never certain, and
            rounds to 1 only for a run some 8σ short — while a diverged run is still stopped;
            :class:`~curvecast.stopping.NeverStop` stops nothing at all.
        margin: δ ≥ 0 in metric units; lets near-best trials finish.
        keep_top_k: k ≥ 1: compare with the k-th best final value (keeps the top k fully trained).
        min_complete: complete trials before the first stop (the paper: 100; at least 5 with
            the default predictor, which needs 5 finished curves).
        refit_every: refit after this many further completions; None: fit once (not used by a
            predictor that learns from partial curves: it is refitted whenever the study changed).
        predictor: an unfitted predictor, copied before every fit (default: ``HorizonChain()``).
        fits: a :class:`FitCache` to share fitted predictors with other stoppers built with the
            same ``predictor`` (e.g. over a Δ sweep); default: a private one.
        prior: recorded curves of the same workload (a warm start, e.g. last week's runs): the
            predictor is fitted on them plus the study's complete trials, and they count toward
            ``min_complete``; the reference y_best still comes from the study's own trials.
            It must record the study's metric and direction: the first decision with it
            refuses another (``ValueError``; the metric name ``"objective"``, an unnamed
            Optuna study's, matches any).
        final_stretch: the last share of training, in [0, 1), in which nothing is stopped: a
            trial observed for more than ``(1 − final_stretch)·T`` of the T epochs runs to the
            end (0: judge up to the last epoch, as the paper does).  None (default): curvecast's
            ``defaults.FINAL_STRETCH`` with a predictor that learns from partial curves (the
            default rule), 0 with any other (the paper's kind of rule, reproduced as published).
            A stop there saves at most that share of one run, and the runs that get there are
            the study's contenders, whose late changes (a learning-rate drop a few epochs after
            the others') the finished curves have not shown yet.
        explore: the share, in [0, 1), of the trials the rule would stop that it lets run on
            to twice the epochs they had, then judges again (at the last epoch before the final
            stretch at the latest; which trials: drawn from the stopper's own seeded generator,
            so a study replayed in the same order decides the same way).  A predictor that
            learns from the study's own trials only sees the runs the rule let through: a kind
            of run it always stops early (a slow starter that takes off later) is never seen to
            take off, and the predictor stays sure.  The trials let run on show it what becomes
            of the runs it stops.  None (default): ``defaults.EXPLORE`` with a predictor that
            learns from partial curves, 0 with any other.
        explore_trials: explore only while the study has at most this many trials (the
            running one included): the predictor needs what exploration shows most while it
            has few curves, and it costs epochs in every trial.  None: every trial.  Default:
            ``defaults.EXPLORE_TRIALS``.
        seed: the seed of that generator (default 0).  The generator goes on from study to
            study: a stopper given a second replay draws other trials than a fresh one would,
            so build one stopper per replay to compare rules on the same draws (``simulate``
            does), and vary ``seed`` to see how much the draws move the results.

    Attributes:
        n_fits_: times this stopper needed a (new or shared) fitted predictor.
        n_clipped_: decisions whose prediction was clipped to the predictor's bound, or was not
            finite (the trial then continues, and the decision says why).
        n_explored_: trials let run on by ``explore`` instead of being stopped.
    """

    def __init__(self, delta: float = DEFAULT_DELTA, margin: float = 0.0, keep_top_k: int = 1,
                 min_complete: int = defaults.MIN_COMPLETE, refit_every: int | None = None,
                 predictor: Predictor | None = None, fits: FitCache | None = None,
                 prior: CurveSet | None = None,
                 final_stretch: float | None = None, explore: float | None = None,
                 explore_trials: int | None = defaults.EXPLORE_TRIALS, seed: int = 0) -> None:
        delta = check_delta(delta)
        if isinstance(margin, bool) or not isinstance(margin, int | float | np.integer | np.floating):
            raise TypeError(f"margin (δ) must be a number >= 0, got {margin!r}")
        if not 0.0 <= margin < float("inf"):  # an infinite margin would silently stop nothing
            raise ValueError(f"margin (δ) must be finite and >= 0, got {margin}")
        self.keep_top_k = check_count("keep_top_k", keep_top_k, 1)
        if refit_every is not None and check_count("refit_every", refit_every, None) < 1:
            raise ValueError(f"refit_every must be >= 1 or None, got {refit_every}")
        self.refit_every = None if refit_every is None else int(refit_every)
        check_share("final_stretch", final_stretch)
        check_share("explore", explore)
        if predictor is not None and not isinstance(predictor, Predictor):
            raise TypeError("predictor must be a curvecast Predictor such as HorizonChain() or "
                            f"SRM(), got {predictor!r}")
        if prior is not None and not isinstance(prior, CurveSet):
            raise TypeError("prior must be a CurveSet (load a file with CurveSet.load(path)), "
                            f"got {prior!r}")
        self.delta = float(delta)
        self.margin = float(margin)
        self.min_complete = check_min_complete(min_complete)
        self.predictor = HorizonChain() if predictor is None else predictor
        self.online = bool(getattr(self.predictor, "learns_from_partial_curves", False))
        # whether its fit_arrays takes the previous fit (``reuse``), as HorizonChain's does
        accepts = (inspect.signature(self.predictor.fit_arrays).parameters  # type: ignore[attr-defined]
                   if self.online else {})
        self._reuses = "reuse" in accepts
        # and the trials' configs, which it uses (HorizonChain's config_rows)
        self._with_configs = "configs" in accepts and bool(self.predictor.uses_configs)
        self.final_stretch = float(
            final_stretch if final_stretch is not None
            else defaults.FINAL_STRETCH if self.online else 0.0)
        self.explore = float(explore if explore is not None
                             else defaults.EXPLORE if self.online else 0.0)
        self.explore_trials = (None if explore_trials is None
                               else check_count("explore_trials", explore_trials, 1))
        self._explored: dict[tuple[Hashable, str], int] = {}  # trial → epochs it runs to
        self.seed = check_count("seed", seed)
        # drawn at a trial's first would-be stop
        self._explore_draws = np.random.default_rng(self.seed)
        self.fits = FitCache(max_size=1) if fits is None else fits
        self._cache: tuple[tuple[Hashable, bytes], int, Predictor] | None = None
        self._online: tuple[tuple[Hashable, ...], Predictor] | None = None
        self._prior_table: tuple[pd.DataFrame, pd.DataFrame] | None = None
        self._prior_cache: tuple[tuple[int, ...], tuple[CurveSet, NDArray[np.float64],
                                                         NDArray[np.int64]]] | None = None
        self.n_fits_ = 0
        self.n_clipped_ = 0
        self._warned_unpredicted = False
        self.n_explored_ = 0
        self.prior = None
        #: the prior's complete curves on its own axis, a step 0 kept: a study that counts
        #: epochs from 0 (as Optuna's Lightning and Keras callbacks report them) is matched
        #: with it; any other study with ``prior``, whose epoch 0 is the untrained network
        self._prior_from_0: CurveSet | None = None
        if prior is not None:
            complete = np.asarray(prior.without_untrained_epoch().is_complete(), dtype=bool)
            ids = [f"prior:{c}" for c in np.asarray(prior.config_ids, dtype=object)[complete]]
            kept = prior.subset(complete)
            kept = CurveSet(values=kept.values, observed=kept.observed, epochs=kept.epochs,
                            metric=kept.metric, direction=kept.direction,
                            configs=kept.configs.set_axis(ids), provenance=kept.provenance,
                            diverged_value=kept.diverged_value)
            self._prior_from_0 = kept if kept.has_untrained_epoch else None
            self.prior = kept.without_untrained_epoch()
            if self.prior.n_configs and not np.isfinite(self.prior.diverged_fill):
                # its diverged runs would count as NaN, which turns every link NaN: the rule
                # would stop nothing for the whole study (a user's review, stop 34)
                raise ValueError(
                    f"the prior's {counted(self.prior.n_configs, 'complete curve')} hold no "
                    f"finite {self.prior.metric} value and it states no value for a diverged "
                    "run (every run diverged): nothing to learn from")
        need = curves_to_fit(self.predictor, self.min_complete, self.n_prior)
        if need is not None:  # the first fit would fail mid-study
            raise ValueError(f"min_complete must be >= {need} with {self.predictor!r} (it needs "
                             f"that many complete curves to fit), got {self.min_complete}")

    @classmethod
    def paper(cls, delta: float = 0.99, min_complete: int = 100, **kwargs: object
              ) -> PredictiveStopper:
        """The paper's setting (Baker et al. 2017, §4.2): ``SRM.paper()`` fitted once on the first
        ``min_complete`` = 100 complete trials, Δ = 0.99 (other arguments as in the
        constructor)."""
        kwargs.setdefault("predictor", SRM.paper())
        return cls(delta=delta, min_complete=min_complete, **kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (f"PredictiveStopper(delta={self.delta:g}, margin={self.margin:g}, "
                f"keep_top_k={self.keep_top_k}, min_complete={self.min_complete}, "
                f"refit_every={self.refit_every}, final_stretch={self.final_stretch:g}, "
                f"explore={self.explore:g}"
                f"{'' if self.explore_trials is None else f', explore_trials={self.explore_trials}'}"
                f", predictor={self.predictor!r}"
                f"{'' if getattr(self, 'seed', 0) == 0 else f', seed={self.seed}'})")

    @property
    def start(self) -> int:
        """Complete trials (prior curves included) needed before the first stop."""
        return max(self.min_complete, self.keep_top_k)

    @property
    def n_prior(self) -> int:
        """Complete curves of the warm-start prior."""
        return 0 if self.prior is None else self.prior.n_configs

    def _training(self, history: History) -> CurveSet:
        """What the predictor is fitted on: the prior (cut to the study's epochs) and the study's
        complete trials.  In a study that counts its steps from 0 (Optuna's 0, 1, …, T−1) every
        step is a trained one, as :meth:`decide` passes them to ``predict``: the axis is
        counted from 1 here, so that a predictor does not take step 0 for the untrained network
        and drop it (its features would then be one epoch off those of the runs it judges)."""
        completed = history.completed()
        if self.prior is None:
            training = completed
        else:
            prior = self._training_prior(history)
            if prior.diverged_value is not None:  # the prior's rule reads the study's too
                completed = dataclasses.replace(completed, diverged_value=prior.diverged_value)
            training = prior if completed.n_configs == 0 else prior.merge(completed)
        if history.n_epochs and history.epochs[0] == 0:
            training = dataclasses.replace(training, epochs=training.epochs + 1)
        return training

    def fit_key(self, n_complete: int) -> int:
        """The completion count the predictor in use at ``n_complete`` completions is keyed by."""
        if self.refit_every is None or n_complete < self.start:
            return self.start
        return self.start + (n_complete - self.start) // self.refit_every * self.refit_every

    def fitted_online(self, trial: Trial, history: History) -> Predictor:
        """A predictor that learns from partial curves, fitted on every trial of ``history`` but
        ``trial`` (and the prior): reused while none of those trials changed."""
        row = _row_of(trial, history)
        if row is None:
            raise ValueError(f"trial {trial.config_id!r} is not a row of the history: the history "
                             "a rule decides with holds the running trial too")
        ids = history.config_ids
        version = (history.study, _study_mark(history), history.n_trials, row,
                   int(history.n_observed.sum()) - int(history.n_observed[row]),
                   _others_total(history, row))
        if self._online is not None and self._online[0] == version:
            return self._online[1]
        keep = np.arange(history.n_trials) != row
        values, n_observed = history.values[keep], history.n_observed[keep]
        extra: dict[str, Any] = {}
        # the trials' config rows, named by their ids in the order of their curves (the table
        # is handed over as it is: a predictor looks up only the rows it has not encoded yet);
        # with a prior, only when it records every config column the study has (else the
        # curves alone)
        with_configs = self._with_configs and (self.prior is None or set(
            history.configs.columns) <= set(self.prior.configs.columns))
        if with_configs:
            extra["configs"] = history.configs
            extra["config_ids"] = [c for c, k in zip(ids, keep, strict=True) if k]
        if self.prior is not None:
            prior, prior_values, prior_observed = self._prior_cut(history)
            values = np.concatenate([prior_values, values])
            n_observed = np.concatenate([prior_observed, n_observed])
            if with_configs:
                extra["configs"] = self._with_prior_configs(history.configs)
                extra["config_ids"] = [*prior.config_ids, *extra["config_ids"]]
        model = copy.copy(self.predictor)  # an unfitted prototype holds only its settings
        # the previous fit of the same study: what the rows added since cannot change is kept
        if self._reuses and self._online is not None and self._online[0][0] == history.study:
            extra["reuse"] = self._online[1]
        model.fit_arrays(values, n_observed, history.direction,  # type: ignore[attr-defined]
                         **extra)
        self._online = (version, model)
        self.n_fits_ += 1
        return model

    def _with_prior_configs(self, configs: pd.DataFrame) -> pd.DataFrame:
        """The prior's config rows (cut to ``configs``' columns) above the study's ``configs``:
        built once per study table (a History is a read-only view)."""
        assert self.prior is not None
        if self._prior_table is None or self._prior_table[0] is not configs:
            self._prior_table = (configs, pd.concat(
                [self.prior.configs[list(configs.columns)], configs]))
        return self._prior_table[1]

    def _training_prior(self, history: History) -> CurveSet:
        """The prior cut to the study's epochs."""
        return self._prior_cut(history)[0]

    def _prior_cut(self, history: History
                   ) -> tuple[CurveSet, NDArray[np.float64], NDArray[np.int64]]:
        """The prior cut to the study's epochs, its filled values and observed lengths: made
        once per epoch axis (a refit reads them again with every newly finished trial)."""
        key = tuple(history.epochs.tolist())
        if self._prior_cache is None or self._prior_cache[0] != key:
            cut = self._cut_prior(history)
            self._prior_cache = (key, (cut, cut.filled_values(), cut.n_observed()))
        return self._prior_cache[1]

    def _cut_prior(self, history: History) -> CurveSet:
        """:meth:`_prior_cut`'s CurveSet, refused when the prior records another metric or
        direction than the study, or does not cover the study's epochs."""
        assert self.prior is not None
        check_prior_metric(self.prior, metric=history.metric, direction=history.direction)
        T = history.n_epochs
        if history.n_epochs and history.epochs[0] == 0:  # a study that counts epochs from 0
            if self._prior_from_0 is None:
                raise ValueError(
                    f"the study counts epochs from 0 and the prior from "
                    f"{int(self.prior.epochs[0])}: report them the same way in both "
                    "(1, 2, … or 0, 1, …)")
            if self._prior_from_0.n_epochs >= T and np.array_equal(
                    self._prior_from_0.epochs[:T], history.epochs):
                return self._prior_from_0.epoch_slice(0, T)
        if self.prior.n_epochs < T or not np.array_equal(self.prior.epochs[:T], history.epochs):
            if self._prior_from_0 is not None:  # its epoch 0 was taken for the untrained net
                raise ValueError(
                    f"the prior counts epochs from 0 (taken as the untrained network, so it "
                    f"covers {self.prior.epochs.tolist()}) and the study's are "
                    f"{history.epochs.tolist()}: report them the same way in both (1, 2, … or "
                    "0, 1, …)")
            raise ValueError(f"the prior's epochs {self.prior.epochs.tolist()} do not cover the "
                             f"study's {history.epochs.tolist()}")
        return self.prior.epoch_slice(0, T)

    def fitted(self, history: History) -> Predictor:
        """The predictor for ``history``: cached, or fitted now on its complete trials."""
        key = self.fit_key(history.n_complete + self.n_prior)
        study = (history.study, _study_mark(history))
        if self._cache is not None and self._cache[:2] == (study, key):
            return self._cache[2]
        model = self.fits.get(self.predictor, self._training(history))
        self._cache = (study, key, model)
        self.n_fits_ += 1
        return model

    def reference(self, history: History) -> float:
        """y_ref: the k-th best complete final value, moved by δ towards worse (metric units).

        A final value that is NaN or ±inf (a diverged run in a history whose values were not
        filled) ranks below every finite one, as the one diverged-value rule counts it; with
        fewer than k finite finals y_ref is not finite (and :meth:`decide` stops nothing)."""
        sign = history.direction.sign
        finals = sign * history.final_values()
        ranked = np.sort(np.where(np.isfinite(finals), finals, -np.inf))[::-1]
        return float(sign * (ranked[self.keep_top_k - 1] - self.margin))

    def decide(self, trial: Trial, history: History) -> Decision:
        tau = trial.tau
        epoch = trial_epoch(trial, history)
        n = history.n_complete
        if n + self.n_prior < self.start or n < self.keep_top_k or tau >= history.n_epochs:
            return Decision(Action.CONTINUE, epoch=epoch,
                            reason=f"{counted(n, 'complete trial')} and "
                                   f"{counted(self.n_prior, 'prior curve')} (stops after "
                                   f"{self.start}, with at least {self.keep_top_k} complete)")
        if diverged_run(trial, history):
            # NaN or ±inf: the run counts as the worst value from here on, and a diverged run
            # does not come back; the final stretch and exploration are for contenders
            return Decision(Action.STOP, epoch=epoch, probability=1.0,
                            reason="diverged: its last report was NaN or ±inf; a diverged run "
                                   "is stopped (it counts as the data's diverged value, else the "
                                   "worst value seen)")
        last = int((1.0 - self.final_stretch) * history.n_epochs + 1e-9)
        if tau > last:
            return Decision(Action.CONTINUE, epoch=epoch,
                            reason=f"in the final stretch: nothing is stopped after {last} of "
                                   f"{history.n_epochs} epochs")
        ref = self.reference(history)
        if not np.isfinite(ref):
            return Decision(Action.CONTINUE, epoch=epoch,
                            reason=f"no finite final value to compare with: fewer than "
                                   f"{self.keep_top_k} complete trials ended on a finite value "
                                   "(the others' are NaN or ±inf)")
        model = self.fitted_online(trial, history) if self.online else self.fitted(history)
        failure = ""
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # non-finite: handled below
                prediction = model.predict(trial.config, trial.values[None, :])
                if not isinstance(prediction, Prediction) or prediction.mean.shape != (1,):
                    raise TypeError(f"{type(model).__name__}.predict must return a Prediction "
                                    f"of one value per curve given (1 here), got {prediction!r}")
                probability = float(prediction.prob_worse(ref, history.direction)[0])
            mean, std = float(prediction.mean[0]), float(prediction.std[0])
        except np.linalg.LinAlgError as err:  # a regression the values make singular
            mean = std = probability = float("nan")
            failure = f" ({type(model).__name__}: {err})"
        if not (np.isfinite(mean) and np.isfinite(std) and np.isfinite(probability)):
            # e.g. values near the float limit (~1e300): the regressions overflow
            self.n_clipped_ += 1
            if not getattr(self, "_warned_unpredicted", False):  # a failing predictor: say so
                self._warned_unpredicted = True
                warnings.warn(f"PredictiveStopper: {type(model).__name__} gave no finite "
                              f"prediction (mean {mean:.4g}, σ {std:.2g}){failure}; such trials "
                              "continue (counted in n_clipped_)", RuntimeWarning, stacklevel=2)
            return Decision(Action.CONTINUE, epoch=epoch, clipped=True,
                            reason=f"no finite prediction (mean {mean:.4g}, σ {std:.2g})"
                                   f"{failure}: the predictor could not regress on these "
                                   "values; the trial continues")
        clipped = prediction.clipped is not None and bool(prediction.clipped[0])
        self.n_clipped_ += clipped
        action = Action.STOP if reaches_delta(probability, self.delta) else Action.CONTINUE
        note = " (prediction clipped to what the curves support)" if clipped else ""
        if action is Action.STOP:
            until = self.runs_on_until(history.study, trial.config_id, tau, last,
                                       trials=history.trials_so_far)
            if tau < until:
                action = Action.CONTINUE
                note += (f"; let run on to epoch {int(history.epochs[until - 1])} "
                         "(explore: the predictor learns what becomes of runs it stops)")
        return Decision(action, epoch=epoch, mean=mean, std=std, probability=probability,
                        clipped=clipped,
                        reason=f"P(final {mean:.4g} ± {std:.2g} worse than {ref:.4g}) = "
                               f"{probability:.3f}{versus_delta(probability, self.delta)}{note}")

    def exploration_state(self, study: Hashable) -> dict[str, Any]:
        """What exploration decided in ``study`` and its generator's state, JSON-ready (a Ray
        Tune scheduler saves it with its own)."""
        return {"runs_on": {cid: until for (s, cid), until in self._explored.items()
                            if s == study},
                "generator": self._explore_draws.bit_generator.state,
                "n_explored": self.n_explored_}

    def load_exploration_state(self, study: Hashable, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`exploration_state` gave, for ``study`` (replacing what this
        stopper decided in it; the generator is the stopper's, shared by its studies).

        Raises:
            KeyError, TypeError, ValueError, AttributeError: ``state`` is not such a state; the
                stopper is left as it was (all of it is read before any of it is taken).
        """
        runs_on = {(study, str(cid)): int(until) for cid, until in state["runs_on"].items()}
        n_explored = int(state.get("n_explored", 0))
        draws = np.random.Generator(type(self._explore_draws.bit_generator)())
        draws.bit_generator.state = dict(state["generator"])  # refused here if malformed
        explored = {key: until for key, until in self._explored.items() if key[0] != study}
        explored.update(runs_on)
        self._explored, self._explore_draws, self.n_explored_ = explored, draws, n_explored

    @property
    def explored_studies(self) -> frozenset[Hashable]:
        """The studies of which the stopper keeps what exploration decided (one record per
        trial it would have stopped there)."""
        return frozenset(study for study, _ in self._explored)

    def forget_exploration(self, keep: Collection[Hashable]) -> None:
        """Drop what exploration decided in every study not in ``keep`` (a caller that holds
        many studies in turn, such as the Optuna pruner, keeps the records of the studies it
        still has a view of: one record per would-be stop, never dropped, grew with every
        study).  A dropped study's trials draw afresh if it is seen again; ``n_explored_`` and
        the generator are unchanged."""
        keep = set(keep)
        if any(study not in keep for study, _ in self._explored):
            self._explored = {key: until for key, until in self._explored.items()
                              if key[0] in keep}

    def runs_on_until(self, study: Hashable, config_id: str, tau: int, last: int,
                      trials: int | None = None) -> int:
        """The epochs a trial the rule would stop after ``tau`` epochs runs to before it is judged
        again (``0``: none, it is stopped), ``last`` being the last epoch the rule judges (the
        final stretch starts after it).  Decided the first time the rule would stop the trial:
        with probability ``explore`` (the stopper's own generator, seeded, so a study replayed
        in the same order decides the same way) it runs on to ``min(2·tau, last)`` epochs, if
        the study's ``trials`` so far (the running one included) are at most
        ``explore_trials``; the answer is kept for the rest of the trial (a Ray Tune scheduler
        saves it with its state, and ``search`` in its study, so a resumed one draws on where
        it stopped; a new Optuna pruner process draws again)."""
        if self.explore == 0.0:
            return 0
        key = (study, config_id)
        if (self.explore_trials is not None and trials is not None
                and trials > self.explore_trials and key not in self._explored):
            return 0  # a study past its young trials: no new draw
        until = self._explored.get(key)
        if until is None:
            runs_on = bool(self._explore_draws.random() < self.explore)
            until = min(2 * tau, last) if runs_on else 0
            self._explored[key] = until
            self.n_explored_ += until > tau
        return until


def _study_mark(history: History) -> bytes:
    """What tells one study from another that shares its ``study`` token (the default ``""``)
    and its shape, so that a fitted model is not reused for another study's trials: the first
    trial's id and first value (diverged: not its fill, which moves with the worst value seen).
    Fixed for a study from its first report on, so it never forces a refit within one."""
    if not history.n_trials:
        return b""
    first = history.values[0, 0]
    diverged = history.diverged is not None and bool(history.diverged[0, 0])
    return (f"{history.config_ids[0]}:{'diverged' if diverged else repr(float(first))}"
            .encode())


def _others_total(history: History, row: int) -> float:
    """The sum of every trial's last observed value but ``row``'s (diverged ones left out:
    their fill moves with the worst value seen), a cheap check (O(trials)) that the other
    trials' curves are the ones a cached fit saw.  Within a study the others' values only grow
    by new reports, which change the observed count too; this catches another history under
    the same study token and shape (a researcher's what-if histories built with
    ``History.from_curves``, study ``""``), unless it differs only before the curves' ends."""
    last = history.n_observed - 1
    rows = np.flatnonzero(last >= 0)
    rows = rows[rows != row]
    values = history.values[rows, last[rows]]
    if history.diverged is not None:
        values = values[~history.diverged[rows, last[rows]]]
    return float(np.nansum(values))


def diverged_run(trial: Trial, history: History) -> bool:
    """The one diverged-run rule of the schedulers that stop runs (the predictive stopper,
    f-Hyperband): whether ``trial``'s last report in ``history`` was NaN or ±inf
    (:meth:`History.diverged_last`) and no complete trial reported NaN or ±inf at that epoch
    and still ended on a finite value (then such a report is what the study's runs do, not a
    sign of divergence).  A diverged run counts as the worst value from there on and does not
    come back, so it is stopped without a prediction."""
    row = _row_of(trial, history)
    return (row is not None and history.diverged_last(row)
            and not _came_back(history, trial.tau))


def _came_back(history: History, tau: int) -> bool:
    """Whether a complete trial reported NaN or ±inf at epoch index ``tau − 1`` too and went on
    to the end with a finite final value: then a report that is not finite there is what the
    study's runs do (a metric logged as NaN before the first epoch, say) rather than a sign of
    divergence, and the trial is judged by its prediction like any other."""
    if history.diverged is None or tau < 1:
        return False
    done = history.complete
    return bool(np.any(history.diverged[done, tau - 1] & ~history.diverged[done, -1]))


def _row_of(trial: Trial, history: History) -> int | None:
    """The row of ``history`` that holds ``trial`` (usually the last), None when none does."""
    ids = history.config_ids
    if len(ids) and ids[-1] == trial.config_id:
        return len(ids) - 1
    try:
        return list(ids).index(trial.config_id)
    except ValueError:
        return None
