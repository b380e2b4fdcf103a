"""``curvecast search`` from names: the workload, searcher, stopper or scheduler, and backend a
real search runs with, built from the registry's tables and checked before anything trains."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from curvecast import defaults
from curvecast.curves import CurveSet
from curvecast.curves.long import machine_memory
from curvecast.registry import (
    PARTIAL_CURVE_PREDICTORS,
    PROMOTING,
    SCHEDULERS,
    SEARCHERS,
    STOPPERS,
    WORKLOADS,
    Context,
    Settings,
    build_predictor,
    build_stopper,
    check_fit_possible,
    lookup,
)
from curvecast.search.hyperband import MIN_CURVES as FHYPERBAND_MIN_CURVES
from curvecast.store.study_store import MAX_STORED_EPOCHS
from curvecast.workloads import Workload

#: The backends a search runs on.
BACKENDS = ("local", "ray")

#: What ``--ray-storage`` (Ray Tune's experiment folder, before Ray searches ran on the one loop)
#: says now.
RAY_STORAGE_GONE = ("--ray-storage is no longer used: a Ray search keeps its checkpoints in the "
                    "study's checkpoint folder beside the database (DATABASE.checkpoints); drop "
                    "the option, and on several nodes make that folder shared storage every node "
                    "reaches (e.g. a link to it)")


@dataclass(frozen=True)
class SearchRequest:
    """What ``curvecast search`` was asked for (names and numbers, as typed).

    Attributes:
        workload, searcher, stopper, backend: registry names.
        trials: trials to finish; epochs: T; workers: training processes (0: one per core).
        prior: a warm-start prior spec (:func:`curvecast.execution.prior.load_prior`), or None.
        address: Ray's cluster address (``backend="ray"`` only).
        ray_storage: the removed ``--ray-storage``; any value is refused (:data:`RAY_STORAGE_GONE`).
        settings: the numbers of the stoppers, schedulers and predictor.
        command: the command line, recorded in the study.
    """

    workload: str
    trials: int
    epochs: int
    searcher: str = "random"
    stopper: str = "predictive"
    backend: str = "local"
    workers: int = 0
    prior: str | None = None
    address: str | None = None
    ray_storage: str | None = None
    settings: Settings = field(default_factory=Settings)
    command: str = ""


@dataclass(frozen=True)
class SearchPlan:
    """A search ready to run: ``runner(workload, proposer, stop, store, study=…, trials=…,
    epochs=…, workers=…, seed=…, settings=…, on_progress=…)``.

    Attributes:
        workload: the training task.
        proposer: the generative searcher.
        stop: the stopper (FIFO) or ``factory(searcher) -> Scheduler`` (Hyperband, f-Hyperband).
        runner: :func:`~curvecast.execution.live.run_search`,
            :func:`~curvecast.execution.live_hyperband.run_scheduled_search`, or their Ray
            counterparts in :mod:`curvecast.integrations.ray_backend`.
        workers: the workers to pass the runner.
        recorded: the settings recorded in the study.
    """

    workload: Workload
    proposer: Any
    stop: Any
    runner: Callable[..., Any]
    workers: int
    recorded: dict[str, Any]


def plan_search(request: SearchRequest) -> SearchPlan:
    """Build and check everything ``request`` names, before anything is trained.

    Raises:
        ValueError: an unknown name, an impossible number, a prior that does not fit.
    """
    r = request
    for option, value, least in (("--trials", r.trials, 1), ("--epochs", r.epochs, 1),
                                 ("--workers", r.workers, 0)):
        if value < least:
            raise ValueError(f"{option} must be at least {least}, got {value}")
    _check_table_fits(r.trials, r.epochs)
    workload = lookup(WORKLOADS, r.workload, "workload")()
    runner = _runner(r)
    prior = _prior(r, workload)
    predictor = build_predictor(r.settings)
    n_prior = 0
    if prior is not None:  # before any training: a wrong prior costs nothing
        from curvecast.execution.live import check_prior

        check_prior(prior, workload, str(r.prior),
                    columns=predictor.uses_configs and not predictor.configs_optional,
                    epochs=r.epochs)
        n_prior = int(prior.is_complete().sum())
    min_complete = r.settings.complete_before_stop
    context = Context(predictor=predictor, prior=prior, epochs=r.epochs)
    if r.searcher == "fhyperband":  # its rung predictors need d >= 6 curves (FHyperband)
        if r.settings.min_complete is None:
            min_complete = max(min_complete, FHYPERBAND_MIN_CURVES)
        elif min_complete < FHYPERBAND_MIN_CURVES:
            raise ValueError(f"--searcher fhyperband fits its rung predictors on --min-complete "
                             f"curves at a rung's end, at least {FHYPERBAND_MIN_CURVES}, got "
                             f"{min_complete}")
    _refuse_unread(r)
    if r.searcher in PROMOTING:
        if r.stopper != "predictive":  # the option's default: given or not, it is not used
            raise ValueError(f"--searcher {r.searcher} stops runs itself, at its rungs: "
                             f"--stopper {r.stopper} would not be used; leave --stopper out")
        runner = _scheduled_runner(r)
        proposer = SEARCHERS["random"].over_space(workload.space, r.settings.seed, r.trials,
                                                  workload.direction)
        stop: Any = scheduler_factory(r.searcher, replace(r.settings, min_curves=min_complete),
                                       context)
    else:
        if r.stopper == "predictive":
            check_fit_possible(predictor, min_complete, n_prior)
        stop = build_stopper(r.stopper, r.settings, context)
        entry = lookup({**SEARCHERS, **dict.fromkeys(PROMOTING)}, r.searcher, "searcher")
        assert entry is not None
        proposer = entry.over_space(workload.space, r.settings.seed, r.trials,
                                    workload.direction)
    workers = r.workers if r.backend == "ray" else (r.workers or os.cpu_count() or 1)
    recorded = _recorded(r, min_complete, stop)
    recorded["prior_digest"] = None if prior is None else curves_digest(prior)
    return SearchPlan(workload, proposer, stop, runner, workers, recorded)


def _runner(r: SearchRequest) -> Callable[..., Any]:
    """The FIFO runner of ``r.backend``: the one loop, its epoch task in local processes or Ray
    tasks."""
    if r.backend not in BACKENDS:
        raise ValueError(f"unknown backend {r.backend!r}: choose local or ray")
    if r.ray_storage is not None:
        raise ValueError(RAY_STORAGE_GONE)
    if r.address is not None and r.backend != "ray":
        raise ValueError("--address is for Ray: use it with --backend ray")
    if r.backend == "local":
        from curvecast.execution.live import run_search

        return run_search
    return _ray_runner("run_ray_search", r.address)


def _scheduled_runner(r: SearchRequest) -> Callable[..., Any]:
    """The runner of a Hyperband-family search on ``r.backend``: the same epoch task in local
    processes or Ray tasks."""
    if r.backend == "local":
        from curvecast.execution.live_hyperband import run_scheduled_search

        return run_scheduled_search
    return _ray_runner("run_ray_scheduled_search", r.address)


def _ray_runner(name: str, address: str | None) -> Callable[..., Any]:
    """``name`` of :mod:`curvecast.integrations.ray_backend` with ``address`` bound; a missing
    Ray is a ``ValueError`` naming the extra."""
    try:
        from curvecast.integrations import ray_backend
    except ImportError as err:
        raise ValueError(str(err)) from None
    runner = getattr(ray_backend, name)

    def ray_runner(*args: Any, **kwargs: Any) -> Any:
        return runner(*args, address=address, **kwargs)

    return ray_runner


def _prior(r: SearchRequest, workload: Workload) -> CurveSet | None:
    """The prior ``r`` names, its metric checked against the workload's."""
    if r.prior is None:
        return None
    from curvecast.datasets import check_prior_metric
    from curvecast.execution.prior import load_prior

    prior = load_prior(r.prior)
    check_prior_metric(prior, metric=workload.metric, direction=workload.direction,
                       target=f"workload {r.workload!r}")
    return prior


def scheduler_factory(name: str, settings: Settings, context: Context) -> Callable[[Any], Any]:
    """``factory(searcher)``: the scheduler ``name`` over a live run's searcher; a prior's warm
    start is fitted now, before anything trains."""
    entry = SCHEDULERS[name]
    if context.prior is not None:
        if not entry.uses_prior:
            raise ValueError(f"--prior warm-starts a predictor; --searcher {name} has none "
                             "(use fhyperband)")
        from curvecast.search.hyperband import warm_rung_predictors

        assert context.epochs is not None
        warm = warm_rung_predictors(context.predictor_for(settings), context.prior,
                                    context.epochs, settings.eta)
        context = replace(context, prior=None, rung_predictors=warm)
    return lambda searcher: entry.build(searcher, settings, context)


def curves_digest(curves: CurveSet) -> str:
    """A fingerprint of ``curves``' contents (values, observed cells, epochs, config ids): what a
    resumed study compares its ``--prior`` by, not the path that named it."""
    digest = hashlib.blake2b(digest_size=12)
    for array in (curves.values, curves.observed, curves.epochs):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update("\0".join(map(str, curves.config_ids)).encode())
    return digest.hexdigest()


#: The predictive rule's options of ``curvecast search``, by setting name.
_PREDICTIVE_OPTIONS = {"delta": "--delta", "predictor": "--predictor",
                       "final_stretch": "--final-stretch", "explore": "--explore",
                       "explore_trials": "--explore-trials", "refit_every": "--refit-every"}
#: The settings a rule may read of those the predictive rule reads (the predictor's too).
_PREDICTIVE_SETTINGS = frozenset({*_PREDICTIVE_OPTIONS, "min_complete", "sigma_model",
                                  "arcsine_target"})
#: The one table of which of them each rule reads: what :func:`_refuse_unread` refuses when given
#: and :func:`_recorded` leaves out of a study's settings are the others.  Hyperband waits for no
#: complete trial and predicts nothing; f-Hyperband fits its rung predictors at every rung (no
#: refit cadence, no final stretch or exploration); a stopper without a predictor (median, ASHA,
#: …) reads only ``min_complete``.
_READS = {
    "hyperband": frozenset(),
    "fhyperband": frozenset({"delta", "predictor", "min_complete", "sigma_model",
                             "arcsine_target"}),
    "predicting stopper": _PREDICTIVE_SETTINGS,
    "other stopper": frozenset({"min_complete"}),
}


def _rule(r: SearchRequest) -> tuple[str, frozenset[str]]:
    """The rule that stops ``r``'s trials, as its option names it, and the settings of
    :data:`_PREDICTIVE_SETTINGS` it reads (``r.stopper`` a registered name unless a
    Hyperband-family searcher runs)."""
    if r.searcher in PROMOTING:
        return f"--searcher {r.searcher}", _READS[r.searcher]
    kind = "predicting stopper" if STOPPERS[r.stopper].uses_predictor else "other stopper"
    return f"--stopper {r.stopper}", _READS[kind]


def _refuse_unread(r: SearchRequest) -> None:
    """Refuse options given values other than their defaults that the search's rule never reads
    (``--stopper median --delta 0.9``: the user meant a rule that is not running).

    Raises:
        ValueError: naming the options and the rule.
    """
    if r.searcher not in PROMOTING and r.stopper not in STOPPERS:
        return  # (an unknown name is refused by name below)
    rule, reads = _rule(r)
    s, plain = r.settings, Settings()
    # refit_every: the library's default (None) or the CLI's (defaults.REFIT_EVERY) is not given
    unset = {**{n: (getattr(plain, n),) for n in _PREDICTIVE_OPTIONS},
             "refit_every": (None, defaults.REFIT_EVERY), "min_complete": (None,)}
    options = {**_PREDICTIVE_OPTIONS, "min_complete": "--min-complete"}
    given = {name: option for name, option in options.items() if name not in reads
             and getattr(s, name) not in unset[name]}
    if given:
        whose = "" if "min_complete" in given else " (the predictive rule's settings)"
        raise ValueError(f"{rule} does not read {', '.join(given.values())}{whose}: leave "
                         f"{'it' if len(given) == 1 else 'them'} out"
                         + ("" if r.searcher in PROMOTING else ", or use --stopper predictive"))


def _recorded(r: SearchRequest, min_complete: int, stop: Any) -> dict[str, Any]:
    """The settings a study records (and a rerun must repeat: ``open_study``); the predictive
    rule's final stretch and exploration as it applies them (its defaults resolved).  Settings
    the rule does not read (:data:`_READS`) are left out, so a rerun that gives other values of
    those options (they do nothing) is not refused."""
    s = r.settings
    _, reads = _rule(r)
    recorded: dict[str, Any] = {"searcher": r.searcher, "stopper": r.stopper, "delta": s.delta,
                "predictor": s.predictor, "min_complete": min_complete,
                "refit_every": s.refit_every or 0, "prior": r.prior, "backend": r.backend,
                "sigma_model": s.sigma_model, "arcsine_target": s.arcsine_target,
                "command": r.command}
    for key in ("final_stretch", "explore"):
        if key in reads and isinstance(getattr(stop, key, None), float):
            recorded[key] = getattr(stop, key)
    explore = getattr(stop, "explore", None)
    if "explore_trials" in reads and isinstance(explore, float) and explore > 0.0:
        recorded["explore_trials"] = getattr(stop, "explore_trials", None)  # None: every trial
    for key in _PREDICTIVE_SETTINGS - reads:
        recorded.pop(key, None)
    if s.predictor in PARTIAL_CURVE_PREDICTORS:  # it learns from every report: no refits
        recorded.pop("refit_every", None)  # (a review, stop 34: a rerun was refused over it)
    if r.searcher in PROMOTING:  # a scheduler stops trials itself: --stopper is not used
        del recorded["stopper"]
        # a schedule's brackets are drawn for its --trials: a rerun with others replays another
        # schedule (a review, stop 35)
        recorded["trials"] = r.trials
    return recorded


def _check_table_fits(trials: int, epochs: int) -> None:
    """Refuse a search whose table of values (float64, ``trials × epochs``, kept by the execution
    loop) is larger than this machine's memory, before a study is recorded or a run trained.

    Raises:
        ValueError: the table does not fit (where the memory size is unknown, nothing is checked).
    """
    if epochs > MAX_STORED_EPOCHS:  # such a study could never be exported or be a prior
        raise ValueError(f"--epochs {epochs}: at most {MAX_STORED_EPOCHS} epochs (a study's "
                         "budget axis)")
    memory = machine_memory()
    need = 8 * trials * epochs
    if memory > 0 and need > memory:
        raise ValueError(f"--trials {trials} x --epochs {epochs} needs a table of "
                         f"{need / 2**30:.3g} GiB of values, more than this machine's "
                         f"{memory / 2**30:.3g} GiB: lower --trials or --epochs")
