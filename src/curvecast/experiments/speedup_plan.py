"""The replays ``curvecast simulate`` runs, built from registry names (no name → class here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from curvecast import registry
from curvecast.curves import CurveSet
from curvecast.experiments.speedup import SchedulerSpec, StopperSpec
from curvecast.search import Scheduler, Searcher
from curvecast.search.hyperband import compare_hyperbands
from curvecast.stopping import FitCache, Stopper

SearcherFactory = Callable[[CurveSet, int], Searcher]


@dataclass(frozen=True)
class SpeedupPlan:
    """What :func:`curvecast.experiments.speedup.run_speedup` replays.

    Attributes:
        searchers: searcher name → ``factory(curves, seed)`` (each run with every stopper).
        stoppers: the stoppers' specs (Δ-sweeping ones run once per Δ).
        schedulers: the promoting schedulers' specs (Hyperband before f-Hyperband).
    """

    searchers: dict[str, SearcherFactory]
    stoppers: list[StopperSpec]
    schedulers: list[SchedulerSpec]


def speedup_plan(curves: CurveSet, searchers: str, stoppers: str, settings: registry.Settings,
                 *, prior: CurveSet | None = None, n_prior: int = 0,
                 budget: int | None = None) -> SpeedupPlan:
    """The replays of ``simulate --searcher SEARCHERS --stopper STOPPERS``.

    Args:
        curves: the recorded curves replayed (the oracle reads their final values).
        searchers: comma-separated :data:`~curvecast.registry.SEARCHERS` or promoting
            :data:`~curvecast.registry.SCHEDULERS` names (f-Hyperband brings Hyperband, its
            reference).
        stoppers: comma-separated :data:`~curvecast.registry.STOPPERS` names.
        settings: the numbers (Δ is replaced by each Δ of a sweep).
        prior: warm-start curves of the predictive stopper.
        n_prior: complete curves in ``prior``.
        budget: trials per search (None: every recorded config).

    Raises:
        ValueError: an unknown name (the message lists the choices).
    """
    choices = {**registry.SEARCHERS, **{n: None for n in registry.PROMOTING}}
    s_names = registry.names(searchers, choices, "searcher")
    sched = [n for n in registry.PROMOTING if n in s_names]
    if "fhyperband" in sched and "hyperband" not in sched:
        sched.insert(0, "hyperband")  # f-Hyperband is measured against it
    stop_names = registry.names(stoppers, registry.STOPPERS, "stopper")
    prototype = registry.build_predictor(settings)
    context = registry.Context(predictor=prototype, prior=prior, curves=curves, n_prior=n_prior)
    found = {n: _searcher(n, budget) for n in s_names if n in registry.SEARCHERS}
    return SpeedupPlan(found, [_stopper_spec(n, settings, context) for n in stop_names],
                       [_scheduler_spec(n, settings, context, budget) for n in sched])


def _searcher(name: str, budget: int | None) -> SearcherFactory:
    over_curves = registry.SEARCHERS[name].over_curves
    return lambda cs, seed: over_curves(cs, seed, budget)


def _stopper_spec(name: str, settings: registry.Settings, context: registry.Context
                  ) -> StopperSpec:
    entry = registry.STOPPERS[name]

    def make(delta: float | None, fits: FitCache) -> Stopper:
        s = settings if delta is None else replace(settings, delta=delta)
        return entry.build(s, replace(context, fits=fits))

    return StopperSpec(name, make, sweeps_delta=entry.sweeps_delta)


def _scheduler_spec(name: str, settings: registry.Settings, context: registry.Context,
                    budget: int | None = None) -> SchedulerSpec:
    entry = registry.SCHEDULERS[name]
    random = registry.SEARCHERS["random"].over_curves
    no_prior = replace(context, prior=None)  # the prior warm-starts the predictive stopper only

    def make(cs: CurveSet, seed: int, delta: float | None, fits: FitCache) -> Scheduler:
        s = settings if delta is None else replace(settings, delta=delta)
        return entry.build(random(cs, seed, budget), s, replace(no_prior, fits=fits))

    return SchedulerSpec(name, make, stopper=entry.stopper, sweeps_delta=entry.sweeps_delta,
                         reference=entry.reference,
                         compare=compare_hyperbands if entry.reference else None)
