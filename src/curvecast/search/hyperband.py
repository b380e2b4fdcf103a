"""Hyperband (Li et al. 2018) and the paper's f-Hyperband (Baker et al. 2017, §3.3) as schedulers.

Hyperband runs *iterations*; one iteration runs the brackets s = s_max … 0, and bracket s is
successive halving: draw n configs from the searcher, train each for r_0 epochs, keep the best
⌊n_i/η⌋ … up to R epochs.  A promoted config resumes its curve (it is paused, not retrained).
With budgets in whole epochs, r_i = round(R·η^(i−s)) (at least 1).  A bracket the searcher
cannot fill (a replay set, or a live search's ``--trials``, running out mid-bracket) is
successive halving of the n' configs it drew: rung i keeps max(1, ⌊n'·η^(−i)⌋), i.e. with an
integer η ⌊m_i/η⌋ of the m_i configs of the previous rung and at least 1, so a partial bracket
still trains its best config to R.

f-Hyperband adds early stopping inside each rung: while a config trains towards the rung's end
r_i, an SRM fitted to predict y_{r_i} (``Predictor.fit(curves, target_epoch=r_i)``) gives ŷ ± σ,
and the config is stopped when Φ((v_k − δ − ŷ)/σ) ≥ Δ (mirrored for metrics to minimise), v_k the
k-th best value at r_i of the configs that already finished this rung, k = ⌈κ·n_next⌉ with n_next
the configs the rung promotes (1 for a bracket's last rung: its winner).  The predictor for r_i is
fitted once, when ``min_curves`` (the paper's d = 100) configs of the search have reached r_i, and
kept for every later bracket and Hyperband iteration.

A config whose last report is NaN or ±inf (a diverged run) is stopped at once, without a
prediction and whether or not the rung's predictor is ready, by the predictive stopper's rule
(:func:`curvecast.stopping.diverged_run`: not when a complete trial reported NaN or ±inf at that
epoch and still ended finite).  Plain Hyperband stops nothing inside a rung: a diverged config
trains to the rung's end, where its value counts as the diverged fill (the worst value seen).

A config stopped inside a rung counts among that rung's m configs, from which n_next follows as
in Hyperband, and ranks below every config that finished the rung: it is never promoted.  So
f-Hyperband promotes Hyperband's number and, when its stops are right, Hyperband's configs
(Baker et al.: the same configurations in about half the compute); k must be known before the
first stop, which counting only the configs trained to r_i would not allow.  With κ = 1 at least
n_next configs finish before any stop on a prediction, so every rung promotes n_next unless
diverged runs (below) leave fewer finished; with κ < 1 stops can leave fewer than n_next
finished, and the rung promotes those.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from curvecast.curves import CurveSet, Direction
from curvecast.predictors import SRM, Predictor
from curvecast.search._base import Searcher
from curvecast.search._scheduler import Closed, Job, Scheduler
from curvecast.stopping import (
    Action,
    Decision,
    FitCache,
    History,
    Trial,
    check_delta,
    check_eta,
    diverged_run,
    reaches_delta,
)

_EPS = 1e-9


#: The fewest curves at a rung's end f-Hyperband fits a rung predictor on (its d): an SRM needs
#: 2 × 3 folds.
MIN_CURVES = 6


@dataclass(frozen=True)
class Rung:
    """One rung of a bracket: ``n`` configs trained until ``epochs`` trained epochs."""

    n: int
    epochs: int


@dataclass(frozen=True)
class BracketPlan:
    """Bracket ``s`` of Hyperband: its rungs, first to last (the last at R)."""

    s: int
    rungs: tuple[Rung, ...]

    @property
    def epochs(self) -> int:
        """Epochs the bracket trains when every config runs its rungs to the end."""
        out, prev = 0, 0
        for rung in self.rungs:
            out += rung.n * (rung.epochs - prev)
            prev = rung.epochs
        return out


def _is_int(value: object) -> bool:
    """Whether ``value`` is an integer (Python or NumPy), bool excluded."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


#: The most brackets (s_max) per epoch of R that :func:`hyperband_brackets` builds.
_BRACKETS_PER_EPOCH = 10

#: The most brackets (s_max) :func:`hyperband_brackets` builds whatever R: the table has about
#: s_max²/2 rungs (1000 brackets: 0.5·10⁶ rungs, a second or two; R = 10⁵ epochs with
#: η = 1.001, within the per-epoch bound, made 1.2·10⁴ brackets and did not finish in minutes).
_MOST_BRACKETS = 1000


def hyperband_brackets(max_epochs: int, eta: float = 3.0) -> list[BracketPlan]:
    """Li et al.'s bracket table for R = ``max_epochs`` and η = ``eta``, largest s first.

    s_max = ⌊log_η R⌋; bracket s starts n = ⌈(s_max + 1)/(s + 1)·η^s⌉ configs at r = R·η^(−s) and
    rung i keeps n_i = ⌊n·η^(−i)⌋ configs at r_i = r·η^i, rounded to whole epochs (≥ 1).  With
    η near 1, neighbouring rungs can round to the same epoch; only the first of them is kept
    (the later ones would select among the same values without training: the same winners).

    Raises:
        ValueError: ``max_epochs`` not an integer >= 1, ``eta`` not a finite number > 1, or so
            close to 1 that there would be more than :data:`_BRACKETS_PER_EPOCH` brackets per
            epoch (s_max > 10·R: their first rungs round onto the same few epochs, and
            η = 1 + 1e-7 made a table of 3·10⁷ brackets that never finished) or more than
            :data:`_MOST_BRACKETS` brackets in all.
    """
    if not _is_int(max_epochs) or max_epochs < 1:
        raise ValueError(f"max_epochs (R) must be >= 1, got {max_epochs!r} (a whole number "
                         "of epochs)")
    check_eta(eta)
    most = min(_BRACKETS_PER_EPOCH * max_epochs, _MOST_BRACKETS)
    if math.log(max_epochs) > most * math.log(eta):
        why = (f"{_BRACKETS_PER_EPOCH} per epoch, whose first rungs round to the same epochs"
               if most < _MOST_BRACKETS else
               "the most brackets Hyperband builds: its table grows with their square")
        raise ValueError(f"eta (η) {eta} is too close to 1 for R = {max_epochs} epochs: "
                         f"log_η R = {math.log(max_epochs) / math.log(eta):.3g} brackets, more "
                         f"than {most} ({why}); use η >= "
                         f"{math.ceil(max_epochs ** (1 / most) * 1e4) / 1e4:g}")
    s_max = 0
    while eta ** (s_max + 1) <= max_epochs * (1 + _EPS):
        s_max += 1
    return [_bracket_plan(max_epochs, eta, s, math.ceil((s_max + 1) / (s + 1) * eta ** s - _EPS))
            for s in range(s_max, -1, -1)]


def _bracket_plan(max_epochs: int, eta: float, s: int, n: int) -> BracketPlan:
    """Bracket ``s`` of Hyperband over R = ``max_epochs`` started with ``n`` configs: rung i
    keeps n_i = max(1, ⌊n·η^(−i)⌋) configs at r_i = round(R·η^(i−s)) epochs (≥ 1), a rung that
    rounds onto its predecessor's epoch dropped (see :func:`hyperband_brackets`).

    With Li et al.'s n = ⌈(s_max + 1)/(s + 1)·η^s⌉ this is their bracket (every n_i ≥ 1).  With
    fewer configs (the searcher ran out mid-bracket) it is successive halving of those: with an
    integer η a rung of m_i configs promotes ⌊m_i/η⌋ of them, and at least 1, so a partial
    bracket still trains its best config to R.
    """
    rungs: list[Rung] = []
    for i in range(s + 1):
        epochs = max(1, round(max_epochs * eta ** (i - s)))
        if not rungs or epochs > rungs[-1].epochs:
            rungs.append(Rung(n=max(1, math.floor(n * eta ** (-i) + _EPS)), epochs=epochs))
    return BracketPlan(s=s, rungs=tuple(rungs))


@dataclass(frozen=True)
class Selection:
    """A bracket's result: its winner (the best config at R) and that value."""

    iteration: int
    s: int
    config_id: str
    value: float


@dataclass
class _Bracket:
    iteration: int
    plan: BracketPlan
    rung: int = 0
    members: list[str] = field(default_factory=list)  # this rung's configs, in run order
    pending: list[str] = field(default_factory=list)  # not started yet in this rung
    running: set[str] = field(default_factory=set)
    finished: dict[str, float] = field(default_factory=dict)  # value at the rung's end

    @property
    def until(self) -> int:
        return self.plan.rungs[self.rung].epochs

    @property
    def previous(self) -> int:
        return self.plan.rungs[self.rung - 1].epochs if self.rung else 0

    @property
    def last(self) -> bool:
        return self.rung == len(self.plan.rungs) - 1

    @property
    def n_next(self) -> int:
        """Configs this rung promotes (1 at the last rung: the winner); a partial bracket's plan
        is scaled to the configs it drew (:func:`_bracket_plan`), so this is at least 1."""
        return 1 if self.last else self.plan.rungs[self.rung + 1].n


class Hyperband(Scheduler):
    """Hyperband (Li et al. 2018, JMLR 18(185)) over configs drawn from ``searcher``.

    Iterations run until the searcher has nothing left (or ``max_iterations``).  Brackets of one
    iteration start in order; with several workers, a worker with nothing to do in the running
    brackets starts the next bracket (Li et al.'s parallel variant), so W = 1 is the sequential
    algorithm.  Inside a rung configs run in order: first rung in the order drawn, later rungs
    best first.  A config leaving the search is told its last observed value, marked predicted
    unless it was trained to T.  When the searcher runs out mid-bracket, the bracket's rungs keep
    max(1, ⌊n'·η^(−i)⌋) of the n' configs it drew (see the module docstring), not the numbers
    planned for a full bracket.

    Args:
        searcher: proposes configs (each once).
        eta: η, the reduction factor (Li et al.: 3).
        max_epochs: R in trained epochs (default: T, the data's full training).  Below T no
            trial is trained to the end: the brackets' winners leave at R as stopped trials, and
            a replay's ``best_config`` is None and its regret NaN (its
            ``selected()`` names the winners).
        max_iterations: Hyperband iterations to run (default: until the searcher is exhausted).

    Attributes:
        plans_: the bracket table (set by :meth:`start`).
        selections_: every finished bracket's winner, in the order the brackets finished.
        iteration_epochs_: epochs trained per iteration.
    """

    def __init__(self, searcher: Searcher, eta: float = 3.0, max_epochs: int | None = None,
                 max_iterations: int | None = None) -> None:
        check_eta(eta)
        if max_epochs is not None and (not _is_int(max_epochs) or max_epochs < 1):
            raise ValueError(f"max_epochs (R) must be >= 1 or None, got {max_epochs!r} (a "
                             "whole number of epochs)")
        if max_iterations is not None and (not _is_int(max_iterations) or max_iterations < 1):
            raise ValueError(f"max_iterations must be >= 1 or None, got {max_iterations!r} (a "
                             "whole number)")
        self.searcher = searcher
        self.eta = float(eta)
        self.max_epochs = max_epochs
        self.max_iterations = max_iterations
        self.plans_: list[BracketPlan] = []
        self.selections_: list[Selection] = []
        self.iteration_epochs_: dict[int, int] = {}
        self.n_epochs_ = 0
        self._active: list[_Bracket] = []
        self._owner: dict[str, _Bracket] = {}
        self._started = 0  # brackets started
        self._exhausted = False

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.searcher!r}, eta={self.eta:g}, "
                f"max_epochs={self.max_epochs})")

    def start(self, n_epochs: int) -> None:
        R = n_epochs if self.max_epochs is None else self.max_epochs
        if R > n_epochs:
            raise ValueError(f"max_epochs (R) = {R} is more than the {n_epochs} epochs recorded")
        self.n_epochs_ = int(n_epochs)
        self.plans_ = hyperband_brackets(R, self.eta)

    # ------------------------------------------------------------------ executor calls
    def next_job(self) -> Job | None:
        if not self.plans_:
            raise RuntimeError("call start(n_epochs) before asking for jobs")
        for bracket in self._active:
            if bracket.pending:
                return self._launch(bracket)
        new = self._new_bracket()
        return None if new is None else self._launch(new)

    def report(self, trial: Trial, history: History, until: int) -> Decision:
        epoch = int(history.epochs[trial.tau - 1])
        return Decision(Action.CONTINUE, epoch=epoch, reason=f"rung to {until} epochs")

    def job_ended(self, trial: Trial, history: History, decision: Decision | None) -> list[Closed]:
        cid = trial.config_id
        bracket = self._owner[cid]
        bracket.running.discard(cid)
        it = bracket.iteration
        self.iteration_epochs_[it] = self.iteration_epochs_.get(it, 0) + trial.tau - bracket.previous
        closed: list[Closed] = []
        if decision is not None:
            closed.append(self._close(cid, float(trial.values[-1]), decision))
        else:
            bracket.finished[cid] = float(trial.values[-1])
        if not bracket.pending and not bracket.running:
            closed += self._end_rung(bracket, history.direction)
        return closed

    def selected(self) -> list[str]:
        """Every finished bracket's winner, in bracket order (iteration, then s from s_max down),
        whatever order the brackets finished in on several workers."""
        ranked = sorted(self.selections_, key=lambda sel: (sel.iteration, -sel.s))
        return [sel.config_id for sel in ranked]

    # ------------------------------------------------------------------ internals
    def _launch(self, bracket: _Bracket) -> Job:
        cid = bracket.pending.pop(0)
        bracket.running.add(cid)
        return Job(cid, bracket.until)

    def _new_bracket(self) -> _Bracket | None:
        if self._exhausted:
            return None
        iteration, index = divmod(self._started, len(self.plans_))
        if self.max_iterations is not None and iteration >= self.max_iterations:
            return None
        plan = self.plans_[index]
        drawn: list[str] = []
        while len(drawn) < plan.rungs[0].n:
            cid = self.searcher.ask()
            if cid is None:
                self._exhausted = True
                break
            if cid in self._owner:
                raise ValueError(f"config {cid!r} was proposed twice by the searcher")
            drawn.append(cid)
        if not drawn:
            return None
        if len(drawn) < plan.rungs[0].n:  # a partial bracket: successive halving of what it drew
            plan = _bracket_plan(plan.rungs[-1].epochs, self.eta, plan.s, len(drawn))
        self._started += 1
        bracket = _Bracket(iteration=iteration, plan=plan, members=list(drawn), pending=list(drawn))
        for cid in drawn:
            self._owner[cid] = bracket
        self._active.append(bracket)
        return bracket

    def _close(self, cid: str, value: float, decision: Decision | None = None,
               at_end: bool = False) -> Closed:
        predicted = not at_end
        self.searcher.tell(cid, value, predicted)
        return Closed(cid, value, predicted, decision)

    def _end_rung(self, bracket: _Bracket, direction: Direction) -> list[Closed]:
        sign = direction.sign
        order = {cid: i for i, cid in enumerate(bracket.members)}
        ranked = sorted(bracket.finished, key=lambda c: (-sign * bracket.finished[c], order[c]))
        at_end = bracket.until >= self.n_epochs_
        if bracket.last:
            keep: list[str] = []
            if ranked:
                best = ranked[0]
                self.selections_.append(Selection(bracket.iteration, bracket.plan.s, best,
                                                  bracket.finished[best]))
        else:
            keep = ranked[: bracket.n_next]
        closed = [self._close(c, bracket.finished[c], at_end=at_end) for c in ranked
                  if c not in keep]
        if keep:
            bracket.rung += 1
            bracket.members, bracket.pending, bracket.finished = list(keep), list(keep), {}
        else:
            self._active.remove(bracket)
        return closed


class FHyperband(Hyperband):
    """f-Hyperband (Baker et al. 2017, §3.3): Hyperband with predictive early stopping in rungs.

    See the module docstring for the rule.  The per-rung predictors live in ``predictors_``
    (rung end in trained epochs → fitted predictor; none for a rung ending after epoch 1, which
    leaves nothing to predict from), fitted once and kept across brackets and iterations; pass
    them to a new scheduler (``predictors=``) to keep them across searches.

    Args:
        searcher: proposes configs (each once).
        delta: Δ in (0, 1]; larger stops less (the paper: 0.95 with Hyperband); 1: no
            prediction stops a config (P rounds to 1 only for one some 8σ short).
        margin: δ ≥ 0 in metric units.
        kappa: κ in (0, 1]: compare with the ⌈κ·n_next⌉-th best value of the rung so far.
        min_curves: d, configs that must have reached a rung's end before its predictor is fitted.
        predictor: an unfitted predictor, copied before every fit (default: ``SRM()``).
        predictors: predictors already fitted for some rung ends (kept, not refitted).
        fits: a :class:`~curvecast.stopping.FitCache` shared with other schedulers (a Δ sweep).
        eta, max_epochs, max_iterations: as :class:`Hyperband`.

    Attributes:
        predictors_: rung end (trained epochs) → fitted predictor.
        ready_: rung end → the iteration during which its predictor was fitted.
        n_clipped_: decisions on a prediction its predictor flagged ``clipped`` (clipped to
            its bound, or, LCE, a fallback); such a decision says so in its reason.
    """

    def __init__(self, searcher: Searcher, delta: float = 0.95, margin: float = 0.0,
                 kappa: float = 1.0, min_curves: int = 100, predictor: Predictor | None = None,
                 predictors: Mapping[int, Predictor] | None = None, fits: FitCache | None = None,
                 eta: float = 3.0, max_epochs: int | None = None,
                 max_iterations: int | None = None) -> None:
        super().__init__(searcher, eta=eta, max_epochs=max_epochs, max_iterations=max_iterations)
        delta = check_delta(delta)
        if not 0.0 <= margin < math.inf:
            raise ValueError(f"margin (δ) must be a finite number >= 0, got {margin}")
        if not 0.0 < kappa <= 1.0:
            raise ValueError(f"kappa (κ) must be in (0, 1], got {kappa}")
        if not _is_int(min_curves) or min_curves < MIN_CURVES:
            raise ValueError(f"min_curves (d) must be >= {MIN_CURVES} (an SRM needs 2 × 3 "
                             f"folds) and an integer, got {min_curves!r}")
        self.delta = float(delta)
        self.margin = float(margin)
        self.kappa = float(kappa)
        self.min_curves = int(min_curves)
        self.predictor = SRM() if predictor is None else predictor
        self.fits = FitCache(max_size=8) if fits is None else fits
        self.predictors_: dict[int, Predictor] = dict(predictors or {})
        self.ready_: dict[int, int] = {}
        self.n_clipped_ = 0

    def __repr__(self) -> str:
        return (f"FHyperband({self.searcher!r}, delta={self.delta:g}, margin={self.margin:g}, "
                f"kappa={self.kappa:g}, min_curves={self.min_curves}, eta={self.eta:g})")

    def rung_predictor(self, until: int, history: History, iteration: int = -1) -> Predictor | None:
        """The predictor of y at ``until`` trained epochs: kept, fitted now on the configs that
        reached it (when at least ``min_curves`` did), or None."""
        if until in self.predictors_:
            return self.predictors_[until]
        reached = np.flatnonzero(history.n_observed >= until)
        if reached.size < self.min_curves:
            return None
        ids = [history.config_ids[int(i)] for i in reached]
        values = history.values[reached, :until]
        curves = CurveSet(values=values, observed=np.ones(values.shape, dtype=bool),
                          epochs=history.epochs[:until], metric=history.metric,
                          direction=history.direction, configs=history.configs.loc[ids])
        model = self.fits.get(self.predictor, curves)  # target: the last epoch, i.e. y_until
        self.predictors_[until] = model
        self.ready_[until] = iteration
        return model

    def report(self, trial: Trial, history: History, until: int) -> Decision:
        tau = trial.tau
        epoch = int(history.epochs[tau - 1])
        bracket = self._owner[trial.config_id]
        if diverged_run(trial, history):
            # the predictive stopper's rule: a diverged run does not come back; it would train
            # to the rung's end for a value that ranks last, and its fill would be predicted
            return Decision(Action.STOP, epoch=epoch, probability=1.0,
                            reason=f"diverged: its last report was NaN or ±inf; a diverged run "
                                   f"is stopped in rung {until} (never promoted)")
        k = math.ceil(self.kappa * bracket.n_next - _EPS)
        if len(bracket.finished) < k:
            return Decision(Action.CONTINUE, epoch=epoch,
                            reason=f"{len(bracket.finished)} configs finished rung {until} "
                                   f"(stops after {k})")
        model = self.rung_predictor(until, history, bracket.iteration)
        if model is None:
            return Decision(Action.CONTINUE, epoch=epoch,
                            reason=f"fewer than {self.min_curves} curves reached epoch {until}")
        prediction = model.predict(trial.config, trial.values[None, :])
        mean, std = float(prediction.mean[0]), float(prediction.std[0])
        sign = history.direction.sign
        ranked = sorted((sign * v for v in bracket.finished.values()), reverse=True)
        ref = sign * (ranked[k - 1] - self.margin)
        probability = float(prediction.prob_worse(ref, history.direction)[0])  # vs v_k − δ
        if not (np.isfinite(mean) and np.isfinite(std) and np.isfinite(probability)):
            # an infinite σ reads as a point mass (P 0 or 1): decide nothing on it, as the
            # predictive rule does not (a review, stop 37)
            return Decision(Action.CONTINUE, epoch=epoch,
                            reason=f"no finite prediction at rung {until} (mean {mean:.4g}, "
                                   f"σ {std:.2g}): the trial continues")
        action = Action.STOP if reaches_delta(probability, self.delta) else Action.CONTINUE
        # a prediction the predictor clipped (or, LCE, a fallback) is flagged and counted, as
        # the predictive stopper does: it never drives a decision silently
        clipped = prediction.clipped is not None and bool(prediction.clipped[0])
        self.n_clipped_ += clipped
        note = " (prediction clipped to what the curves support)" if clipped else ""
        return Decision(action, epoch=epoch, mean=mean, std=std, probability=probability,
                        horizon=int(history.epochs[until - 1]), clipped=clipped,
                        reason=f"P(y at rung {until}: {mean:.4g} ± {std:.2g} worse than "
                               f"{ref:.4g}) = {probability:.3f} vs Δ = {self.delta:g}"
                               f"{': no prediction stops a config' if self.delta >= 1 else ''}"
                               f"{note}")


def warm_speedup(reference: Hyperband, run: FHyperband) -> float:
    """Epochs of ``reference`` ÷ epochs of ``run`` over the Hyperband iterations that ``run``
    started with every rung predictor already fitted (its predictors reused from earlier
    iterations, the paper's "SRMs kept across consecutive Hyperband runs"); NaN when none did.

    Both must have run the same configs in the same brackets (same searcher and seed).
    """
    rungs = {r.epochs for plan in run.plans_ for r in plan.rungs if r.epochs > 1}
    if not rungs <= set(run.predictors_):
        return float("nan")
    first = 1 + max((run.ready_.get(r, -1) for r in rungs), default=-1)
    ref = sum(e for it, e in reference.iteration_epochs_.items() if it >= first)
    own = sum(e for it, e in run.iteration_epochs_.items() if it >= first)
    return ref / own if own else float("nan")


def compare_hyperbands(reference: Scheduler, run: Scheduler) -> dict[str, float]:
    """Extra metrics of an f-Hyperband run against its plain Hyperband reference
    (``warm_speedup_vs_reference``: :func:`warm_speedup`).

    Raises:
        TypeError: ``reference`` is not a :class:`Hyperband` or ``run`` not an :class:`FHyperband`.
    """
    if not isinstance(reference, Hyperband) or not isinstance(run, FHyperband):
        raise TypeError(f"compare_hyperbands needs Hyperband and FHyperband, got "
                        f"{type(reference).__name__} and {type(run).__name__}")
    return {"warm_speedup_vs_reference": warm_speedup(reference, run)}


def warm_rung_predictors(prototype: Predictor, prior: CurveSet, epochs: int, eta: float = 3.0,
                         fits: FitCache | None = None) -> dict[int, Predictor]:
    """f-Hyperband's warm start: one fitted copy of ``prototype`` per rung end (after epoch 1)
    of Hyperband over ``epochs`` trained epochs, fitted on the complete curves of ``prior`` cut
    there; pass the result as ``FHyperband(predictors=...)``.

    Args:
        prototype: the unfitted rung predictor.
        prior: recorded curves of the same workload and metric (epoch 0, if recorded, dropped);
            they must cover ``epochs`` trained epochs.
        epochs: R, the search's epochs of full training.
        eta: Hyperband's η.
        fits: a cache to fit through (default: a private one).

    Raises:
        ValueError: the prior has fewer than ``epochs`` trained epochs, or fewer than 6
            complete curves (an SRM needs 2 × 3 folds).
    """
    trained = prior.without_untrained_epoch()
    if trained.n_epochs < epochs:
        raise ValueError(f"the prior has {trained.n_epochs} epochs, the search trains {epochs}; "
                         "a prior must cover the search's epochs")
    complete = trained.subset(np.flatnonzero(trained.is_complete()))
    if complete.n_configs < 6:
        raise ValueError(f"the prior has {complete.n_configs} complete curves; "
                         "warm-starting f-Hyperband's rung predictors needs at least 6")
    cache = FitCache() if fits is None else fits
    ends = {r.epochs for plan in hyperband_brackets(epochs, eta) for r in plan.rungs
            if r.epochs > 1}
    return {r: cache.get(prototype, complete.epoch_slice(0, r)) for r in sorted(ends)}
