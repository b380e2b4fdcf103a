"""The one table of names → predictors, stoppers, searchers and schedulers, with their defaults.

The only place where a name becomes a class: the CLI (``evaluate``, ``simulate``, ``search``), its
help texts (and so ``docs/cli.md``) and the conformance tests (``tests/conformance``) read it.
Every default a registered constructor uses is a field of :class:`Settings`, defined once here.

* :data:`PREDICTORS`: ``name → build(settings)`` an unfitted :class:`~curvecast.predictors.Predictor`.
* :data:`STOPPERS`: ``name →`` :class:`StopperEntry`, ``build(settings, context)`` a ``Stopper``.
* :data:`SEARCHERS`: ``name →`` :class:`SearcherEntry`: over recorded curves, over a search space.
* :data:`WORKLOADS`: ``name → build()`` a real training task (torch imported when it trains).
* :data:`SCHEDULERS`: ``name →`` :class:`SchedulerEntry`, ``build(searcher, settings, context)`` a
  :class:`~curvecast.search.Scheduler` that asks ``searcher`` for its configs (``fifo`` runs each
  config to the end unless the context's stopper stops it; Hyperband and f-Hyperband promote).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from curvecast import defaults
from curvecast.curves import CurveSet, Direction
from curvecast.datasets.priors import check_prior_epochs

if TYPE_CHECKING:  # the classes are imported when a name is built, not with this module
    from curvecast.predictors import Predictor
    from curvecast.search import ConfigSearcher, Scheduler, Searcher
    from curvecast.space import SearchSpace
    from curvecast.stopping import FitCache, Stopper
    from curvecast.workloads import Workload

_T = TypeVar("_T")

#: Complete trials before the first stop with an SRM-like predictor, as in the paper.
PAPER_MIN_COMPLETE = 100
#: The predictors that judge from :data:`curvecast.defaults.MIN_COMPLETE` complete trials on.
_EARLY_PREDICTORS = frozenset({"chain"})


@dataclass(frozen=True)
class Settings:
    """Every number a registered constructor reads, with its one default.

    Attributes:
        seed: seed of the searcher and of a randomised predictor.
        predictor: name (in :data:`PREDICTORS`) of the predictive rule's predictor.
        delta: Δ in (0, 1] of the predictive rule and f-Hyperband.
        margin: δ ≥ 0 (metric units): compare with the best value moved toward worse by δ.
        keep_top_k: compare with the k-th best final value.
        min_complete: complete trials (prior included) before any stopper stops; None: the
            predictor's default (:func:`default_min_complete`).
        refit_every: refit the predictive rule's predictor every k completions (None: once).
        eta: η of ASHA and Hyperband.
        kappa: f-Hyperband's κ.
        min_curves: f-Hyperband's d (curves at a rung's end before its predictor is fitted).
        draws: random-search draws per SRM model selection.
        sigma_model: σ of an SRM: ``per_tau`` or ``local``.
        arcsine_target: an SRM models arcsin(√y).
        features: the feature groups of an SRM or BNN (``ts``, ``ap``, ``hp``).
        final_stretch, explore: the predictive rule's last share of training without stops,
            and share of would-be stops let run on (None: see ``PredictiveStopper``).
        explore_trials: the study's trials up to which it explores (None: every trial).
    """

    seed: int = 0
    predictor: str = "chain"
    delta: float = defaults.DELTA
    margin: float = 0.0
    keep_top_k: int = 1
    min_complete: int | None = None
    refit_every: int | None = None
    eta: float = 3.0
    kappa: float = 1.0
    min_curves: int = 100
    draws: int = 50
    sigma_model: str = "per_tau"
    arcsine_target: bool = False
    features: frozenset[str] = field(default_factory=lambda: frozenset({"ts", "ap", "hp"}))
    final_stretch: float | None = None
    explore: float | None = None
    explore_trials: int | None = defaults.EXPLORE_TRIALS

    def __post_init__(self) -> None:
        if self.sigma_model not in ("per_tau", "local"):
            raise ValueError(f"sigma_model must be 'per_tau' or 'local', got {self.sigma_model!r}")
        from curvecast.stopping._base import check_min_complete, check_share

        if self.min_complete is not None:
            check_min_complete(self.min_complete)
        check_share("final_stretch", self.final_stretch)
        check_share("explore", self.explore)
        if self.explore_trials is not None:
            from curvecast.stopping._base import check_count

            check_count("explore_trials", self.explore_trials, 1)  # (None: every trial)

    @property
    def complete_before_stop(self) -> int:
        """``min_complete``, or the predictor's default when it is None."""
        if self.min_complete is not None:
            return self.min_complete
        return default_min_complete(self.predictor)


def default_min_complete(predictor: str) -> int:
    """Complete trials before the first stop when none is given: curvecast's default predictor
    judges from the 5th (like Optuna's MedianPruner); an SRM is fitted on complete curves only
    and, as in the paper, waits for 100."""
    return defaults.MIN_COMPLETE if predictor in _EARLY_PREDICTORS else PAPER_MIN_COMPLETE


@dataclass
class Context:
    """What a stopper or scheduler is built with besides numbers.

    Attributes:
        predictor: the unfitted predictor of the predictive rule (default: built from
            ``Settings.predictor`` when needed).
        fits: a fit cache shared by the stoppers of one replay ordering (a Δ sweep).
        prior: recorded curves warm-starting the predictive rule or f-Hyperband.
        curves: the recorded curves a replay runs over (the oracle reads their final values).
        n_prior: complete prior curves (the oracle waits ``max(1, min_complete − n_prior)``).
        stopper: the stopper of the ``fifo`` scheduler.
        epochs: the search's epochs of full training (a prior's warm start is cut there).
        rung_predictors: f-Hyperband's rung predictors, already fitted (a warm start).
    """

    predictor: Predictor | None = None
    fits: FitCache | None = None
    prior: CurveSet | None = None
    curves: CurveSet | None = None
    n_prior: int = 0
    stopper: Stopper | None = None
    epochs: int | None = None
    rung_predictors: dict[int, Predictor] | None = None

    def predictor_for(self, settings: Settings) -> Predictor:
        """The context's predictor, or a new one named by ``settings.predictor``."""
        return self.predictor if self.predictor is not None else build_predictor(settings)


def lookup(table: Mapping[str, _T], name: str, kind: str) -> _T:
    """``table[name]``; a ValueError naming the choices for an unknown name."""
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}: choose from {sorted(table)}")
    return table[name]


def names(text: str, table: Mapping[str, Any], kind: str) -> list[str]:
    """The comma-separated names of ``text``, each checked against ``table``."""
    out = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in out if n not in table]
    if unknown or not out:
        raise ValueError(f"unknown {kind}(s) {unknown or text!r}: choose from {sorted(table)}")
    twice = sorted({n for n in out if out.count(n) > 1})
    if twice:
        raise ValueError(f"{kind}(s) {twice} named twice in {text!r}")
    return out


# ------------------------------------------------------------------------------ predictors
def _srm(spec: str) -> Callable[[Settings], Predictor]:
    def build(s: Settings) -> Predictor:
        from curvecast import predictors as p

        return p.SRM(regressor=getattr(p, spec)(), features=s.features, n_draws=s.draws,
                     random_state=s.seed, sigma_model=s.sigma_model,
                     arcsine_target=s.arcsine_target)

    return build


def _plain(name: str) -> Callable[[Settings], Predictor]:
    """The predictor class ``name`` at its defaults (no setting applies to it)."""
    def build(s: Settings) -> Predictor:
        from curvecast import predictors

        return getattr(predictors, name)()

    return build


def _chain_kernel(s: Settings) -> Predictor:  # the chain, corrected from the configs too
    from curvecast.predictors import KernelChain

    return KernelChain(features=s.features)


def _paper(s: Settings) -> Predictor:
    from curvecast.predictors import SRM

    # SRM.paper(), with the σ model and scale the user asked for (the paper's by default)
    return SRM(features=s.features, n_draws=s.draws, random_state=s.seed,
               sigma_model=s.sigma_model, arcsine_target=s.arcsine_target)


def _lce(fast: bool) -> Callable[[Settings], Predictor]:
    def build(s: Settings) -> Predictor:
        from curvecast.predictors import LCE

        return LCE.fast(random_state=s.seed) if fast else LCE(random_state=s.seed)

    return build


def _bnn(s: Settings) -> Predictor:
    from curvecast.predictors import BNN

    return BNN(features=s.features, random_state=s.seed)


#: Predictor names → ``build(settings)``: an unfitted predictor.
PREDICTORS: dict[str, Callable[[Settings], Predictor]] = {
    "chain": _plain("HorizonChain"),
    "chain-kernel": _chain_kernel,
    "paper": _paper,
    "srm": _srm("svr_rbf_or_ridge"),
    "svr-rbf": _srm("nu_svr_rbf"),
    "ridge": _srm("ridge"),
    "svr-linear": _srm("nu_svr_linear"),
    "rf": _srm("random_forest"),
    "ols": _srm("ols"),
    "last-value": _plain("LastSeenValue"),
    "lce": _lce(fast=False),
    "lce-fast": _lce(fast=True),
    "bnn": _bnn,
}
#: The predictors that are an SRM, the ones ``--sigma-model`` and ``--arcsine-target`` set.
SRM_PREDICTORS = frozenset({"paper", "srm", "svr-rbf", "ridge", "svr-linear", "rf", "ols"})
#: The predictors that learn from every report of every trial (``learns_from_partial_curves``):
#: ``refit_every`` does not apply to them, and the rule's final stretch and exploration are on
#: by default with them.
PARTIAL_CURVE_PREDICTORS = frozenset({"chain", "chain-kernel"})
#: Predictors too slow for every repeat of an experiment (run on fewer).
SLOW_PREDICTORS = frozenset({"lce", "lce-fast"})
#: Predictors that take no feature groups (``Settings.features``): they read the curve (and the
#: chain the configs) as they are, so a feature ablation of them would label one number seven ways.
FEATURELESS_PREDICTORS = frozenset({"chain", "last-value", "lce", "lce-fast"})


def build_predictor(settings: Settings) -> Predictor:
    """The unfitted predictor named by ``settings.predictor``.

    Raises:
        ValueError: an unknown name; SRM-only settings (``sigma_model``, ``arcsine_target``)
            with a predictor that is not an SRM, which would ignore them.
    """
    build = lookup(PREDICTORS, settings.predictor, "predictor")
    if settings.predictor not in SRM_PREDICTORS and (settings.sigma_model != "per_tau"
                                                     or settings.arcsine_target):
        raise ValueError(f"--sigma-model and --arcsine-target set an SRM (--predictor "
                         f"{', '.join(sorted(SRM_PREDICTORS))}); --predictor "
                         f"{settings.predictor} would ignore them")
    return build(settings)


# ------------------------------------------------------------------------------ stoppers
@dataclass(frozen=True)
class StopperEntry:
    """A registered stopper.

    Attributes:
        build: ``build(settings, context)``: a new stopper.
        sweeps_delta: whether experiments run it once per Δ.
        uses_predictor: whether it predicts (a prior warm-starts only such a rule).
        needs_recorded_finals: whether it reads recorded final values (replay only: the oracle).
    """

    build: Callable[[Settings, Context], Stopper]
    sweeps_delta: bool = False
    uses_predictor: bool = False
    needs_recorded_finals: bool = False


def _predictive(s: Settings, c: Context) -> Stopper:
    from curvecast.stopping import PredictiveStopper

    prior = c.prior
    if prior is not None and c.epochs is not None:
        check_prior_epochs(prior, c.epochs, what="the search trains",
                           whose="the search's epochs")
    return PredictiveStopper(delta=s.delta, margin=s.margin, keep_top_k=s.keep_top_k,
                             min_complete=s.complete_before_stop, refit_every=s.refit_every,
                             predictor=c.predictor_for(s), fits=c.fits, prior=prior,
                             final_stretch=s.final_stretch, explore=s.explore,
                             explore_trials=s.explore_trials)


def _median(s: Settings, c: Context) -> Stopper:
    from curvecast.stopping import MedianRule

    return MedianRule(min_complete=s.complete_before_stop)


def _asha(s: Settings, c: Context) -> Stopper:
    from curvecast.stopping import ASHA

    return ASHA(eta=s.eta, min_complete=s.complete_before_stop)


def _never(s: Settings, c: Context) -> Stopper:
    from curvecast.stopping import NeverStop

    return NeverStop()


def _oracle(s: Settings, c: Context) -> Stopper:
    from curvecast.stopping import Oracle

    if c.curves is None:
        raise ValueError("the oracle reads recorded final values: it runs in replays only")
    return Oracle(c.curves, min_complete=max(0, s.complete_before_stop - c.n_prior))


#: Stopper names → :class:`StopperEntry`.
STOPPERS: dict[str, StopperEntry] = {
    "predictive": StopperEntry(_predictive, sweeps_delta=True, uses_predictor=True),
    "median": StopperEntry(_median),
    "asha": StopperEntry(_asha),
    "never": StopperEntry(_never),
    "oracle": StopperEntry(_oracle, needs_recorded_finals=True),
}


def build_stopper(name: str, settings: Settings, context: Context | None = None) -> Stopper:
    """The stopper ``name`` with ``settings``.

    Raises:
        ValueError: an unknown name; a prior given to a rule without a predictor.
    """
    entry = lookup(STOPPERS, name, "stopper")
    context = Context() if context is None else context
    if context.prior is not None and not entry.uses_predictor:
        raise ValueError(f"--prior warm-starts the predictive stopper; --stopper {name} has no "
                         "predictor to warm-start")
    return entry.build(settings, context)


# ------------------------------------------------------------------------------ searchers
@dataclass(frozen=True)
class SearcherEntry:
    """A registered searcher, in its two forms.

    Attributes:
        over_curves: ``over_curves(curves, seed, budget)``: a searcher over recorded config ids
            (``budget``: trials, None for every config).
        over_space: ``over_space(space, seed, trials, direction)``: a generative searcher for
            real training.
    """

    over_curves: Callable[[CurveSet, int, int | None], Searcher]
    over_space: Callable[[SearchSpace, int, int, Direction], ConfigSearcher]


def _random_curves(cs: CurveSet, seed: int, budget: int | None) -> Searcher:
    from curvecast.search import RandomSearch

    return RandomSearch.from_curves(cs, seed=seed, max_trials=budget)


def _random_space(space: SearchSpace, seed: int, trials: int, direction: Direction
                  ) -> ConfigSearcher:
    from curvecast.search import RandomSampler

    return RandomSampler(space, seed=seed)


def _metaqnn_curves(cs: CurveSet, seed: int, budget: int | None) -> Searcher:
    from curvecast.search import MetaQNN

    return MetaQNN.from_curves(cs, budget, seed=seed)


def _metaqnn_space(space: SearchSpace, seed: int, trials: int, direction: Direction
                   ) -> ConfigSearcher:
    from curvecast.search import MetaQNN
    from curvecast.space import MetaQNNSpace

    if not isinstance(space, MetaQNNSpace):
        raise ValueError("--searcher metaqnn needs an architecture (MetaQNN layer) space; this "
                         "workload has fixed architectures")
    return MetaQNN(space, n_trials=trials, seed=seed, direction=direction)


def _tpe_curves(cs: CurveSet, seed: int, budget: int | None) -> Searcher:
    from curvecast.search import TPE

    return TPE.from_curves(cs, budget, seed=seed)


def _tpe_space(space: SearchSpace, seed: int, trials: int, direction: Direction
               ) -> ConfigSearcher:
    from curvecast.search import TPE
    from curvecast.space import ParamSpace

    if not isinstance(space, ParamSpace):
        raise ValueError("--searcher tpe needs a hyperparameter space; this workload searches "
                         "layer sequences (use metaqnn or random)")
    return TPE(space, n_trials=trials, seed=seed, direction=direction)


#: Searcher names → :class:`SearcherEntry`.
SEARCHERS: dict[str, SearcherEntry] = {
    "random": SearcherEntry(_random_curves, _random_space),
    "metaqnn": SearcherEntry(_metaqnn_curves, _metaqnn_space),
    "tpe": SearcherEntry(_tpe_curves, _tpe_space),
}


# ------------------------------------------------------------------------------ schedulers
@dataclass(frozen=True)
class SchedulerEntry:
    """A registered scheduler.

    Attributes:
        build: ``build(searcher, settings, context)``: a new scheduler drawing configs from
            ``searcher`` (any :class:`~curvecast.search.Searcher`).
        stopper: the label of its stopping rule in results (``sh``: successive halving).
        sweeps_delta: whether experiments run it once per Δ.
        reference: another scheduler (run without Δ) it is compared with in experiments.
        uses_prior: whether a prior warm-starts it.
    """

    build: Callable[[Searcher, Settings, Context], Scheduler]
    stopper: str = "none"
    sweeps_delta: bool = False
    reference: str | None = None
    uses_prior: bool = False


def _fifo(searcher: Searcher, s: Settings, c: Context) -> Scheduler:
    from curvecast.search import FIFO

    if c.stopper is None:
        raise ValueError("the fifo scheduler needs a stopper (Context.stopper)")
    return FIFO(searcher, c.stopper)


def _hyperband(searcher: Searcher, s: Settings, c: Context) -> Scheduler:
    from curvecast.search import Hyperband

    if c.prior is not None:
        raise ValueError("--prior warm-starts a predictor; --searcher hyperband has none "
                         "(use fhyperband)")
    return Hyperband(searcher, eta=s.eta)


def _fhyperband(searcher: Searcher, s: Settings, c: Context) -> Scheduler:
    from curvecast.search import FHyperband
    from curvecast.search.hyperband import warm_rung_predictors

    prototype = c.predictor_for(s)
    warm = dict(c.rung_predictors or {})
    if c.prior is not None:
        if c.epochs is None:
            raise ValueError("a warm-started f-Hyperband needs the search's epochs")
        warm = warm_rung_predictors(prototype, c.prior, c.epochs, s.eta, c.fits)
    return FHyperband(searcher, delta=s.delta, margin=s.margin, kappa=s.kappa,
                      min_curves=s.min_curves, predictor=prototype, predictors=warm,
                      fits=c.fits, eta=s.eta)


#: Scheduler names → :class:`SchedulerEntry`.
SCHEDULERS: dict[str, SchedulerEntry] = {
    "fifo": SchedulerEntry(_fifo),
    "hyperband": SchedulerEntry(_hyperband, stopper="sh"),
    "fhyperband": SchedulerEntry(_fhyperband, stopper="sh+predictive", sweeps_delta=True,
                                 reference="hyperband", uses_prior=True),
}
#: The schedulers that draw their own configs at random: ``--searcher hyperband|fhyperband``.
PROMOTING = ("hyperband", "fhyperband")


def check_fit_possible(predictor: Predictor, min_complete: int, n_prior: int) -> None:
    """Refuse a ``min_complete`` at which the predictive stopper's first fit would fail mid-run
    (:func:`curvecast.stopping.predictive.curves_to_fit`), naming the option to give.

    Raises:
        ValueError: naming the ``--min-complete`` to use.
    """
    from curvecast.stopping.predictive import curves_to_fit

    need = curves_to_fit(predictor, min_complete, n_prior)
    if need is None:
        return
    prior = f" and {n_prior} complete prior curves" if n_prior else ""
    raise ValueError(f"--min-complete {min_complete}{prior} is too few: the predictive stopper's "
                     f"{type(predictor).__name__} needs {need} complete curves to fit; use "
                     f"--min-complete {need} or more")


# ------------------------------------------------------------------------------ workloads
def _workload(cls: str) -> Callable[[], Workload]:
    def build() -> Workload:
        from curvecast import workloads

        made: Workload = getattr(workloads, cls)()
        return made

    return build


#: Workload names → ``build()`` (no torch is imported until a run starts).
WORKLOADS: dict[str, Callable[[], Workload]] = {
    "digits-metaqnn": _workload("DigitsMetaQNN"),
    "mnist1d-hp": _workload("MNIST1DHP"),
    "text-lstm": _workload("TextLSTM"),
    "friedman-sgd": _workload("FriedmanSGD"),
}
