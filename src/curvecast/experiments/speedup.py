"""The paper's speedup experiment (Baker et al. 2017, §4.2, Figure 4): replay a search over recorded
curves with early stopping, in several random orderings, and count the epochs it saves.

Protocol (the paper's): random search visits every recorded config once, in a random order
(``orderings`` of them, seeded); the stopper may stop a config after any epoch; results are mean ±
standard error over orderings.  Only configs recorded to the final epoch take part.

Metrics (``metric`` field of each record):

* ``speedup`` — epochs of full training of the same configs ÷ epochs used;
* ``time_speedup`` — simulated wall-clock time of full training of the same configs (in the order
  they started) on the same W workers ÷ the replay's (epochs cost their recorded seconds, or 1
  unit); a searcher whose configs depend on what it was told (MetaQNN, TPE) visits other configs
  under each rule, so full training is of each rule's own;
* ``best_kept`` — 1 when the true best config of the ordering was trained to the end, else 0;
* ``regret`` — true final value of the true best config minus that of the best fully trained
  config (≥ 0, metric units, sign-corrected for metrics to minimise);
* ``best_value`` — the true final value of the best config trained to the end (what the search
  found; compares searchers that sample different configs under a ``trials`` budget);
* ``epochs`` — epochs used; ``stopped`` — configs stopped early; ``clipped`` — decisions the
  predictive stopper took on a prediction clipped to its predictor's bound (predictive only);
* ``stop_precision`` — share of the stopped configs whose true final value would not have beaten
  the best complete config at the time they were stopped (NaN when none was stopped).

Any-time regret (``anytime`` in the output): the regret of the search as it stood after each
fraction of the full-training time (:data:`ANYTIME_FRACTIONS` of the NeverStop replay's simulated
time of the same ordering), mean ± standard error over the orderings in which some config had been
trained to the end by then (``found``: the share of orderings in which one had; no standard error
from fewer than two).  Time here, as in ``time_speedup``, is the simulated cluster's wall clock
(when the last of its W workers finished), not the sum of the workers' busy time.

Schedulers that draw their own configs (Hyperband, f-Hyperband: :class:`SchedulerSpec`) are
replayed the same way, over the same orderings (the seed of their searcher); ``speedup`` is then
against full training of the configs they drew.  A scheduler compared with a reference scheduler
(f-Hyperband with plain Hyperband) also gets:

* ``speedup_vs_reference`` — epochs of the reference ÷ epochs used;
* ``same_best_as_reference`` — 1 when its best fully trained config is the reference's;
* ``same_selections`` — share of the reference's selections (Hyperband: each bracket's winner)
  it selected too, bracket by bracket;
* and whatever its ``compare`` hook adds (f-Hyperband: ``warm_speedup_vs_reference``, the speedup
  over the Hyperband iterations run with every rung predictor already fitted).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import CurveSet
from curvecast.execution.replay import ReplayResult, replay, replay_schedule
from curvecast.search import Scheduler, Searcher
from curvecast.stopping import FitCache, NeverStop, Stopper

#: Builds a searcher over a CurveSet for one ordering's seed.
SearcherFactory = Callable[[CurveSet, int], Searcher]

METRICS = ("speedup", "time_speedup", "best_kept", "regret", "best_value", "epochs", "stopped",
           "clipped",
           "stop_precision", "speedup_vs_reference", "same_best_as_reference", "same_selections",
           "warm_speedup_vs_reference")


#: Fractions of the full-training time at which any-time regret is reported (log-spaced).
ANYTIME_FRACTIONS: tuple[float, ...] = tuple(float(f) for f in np.geomspace(0.002, 1.0, 41))


@dataclass(frozen=True)
class StopperSpec:
    """How to build a fresh stopper for one replay.

    Attributes:
        name: the label in the results.
        make: ``make(delta, fits)``: a new stopper for threshold ``delta`` (None for rules
            without one), sharing fitted predictors through ``fits`` (one cache per ordering).
        sweeps_delta: whether the stopper is run once per Δ of the settings (else once).
    """

    name: str
    make: Callable[[float | None, FitCache], Stopper]
    sweeps_delta: bool = False


@dataclass(frozen=True)
class SchedulerSpec:
    """How to build a fresh scheduler that draws its own configs (Hyperband, f-Hyperband).

    Attributes:
        name: the label in the results' ``searcher`` field.
        make: ``make(curves, seed, delta, fits)``: a new scheduler over ``curves`` whose searcher
            uses ``seed`` (the ordering's), for threshold ``delta`` (None for schedulers without
            one), sharing fitted predictors through ``fits`` (one cache per ordering).
        stopper: the label in the results' ``stopper`` field.
        sweeps_delta: whether it is run once per Δ of the settings (else once).
        reference: name of another spec (run without Δ) this one is compared with.
        compare: ``compare(reference_scheduler, scheduler)``: extra metrics of the comparison.
    """

    name: str
    make: Callable[[CurveSet, int, float | None, FitCache], Scheduler]
    stopper: str = "none"
    sweeps_delta: bool = False
    reference: str | None = None
    compare: Callable[[Scheduler, Scheduler], dict[str, float]] | None = None


class _InOrder(Searcher):
    """Asks the given configs in order (full training of a scheduler's configs, for timing)."""

    def __init__(self, config_ids: Sequence[str]) -> None:
        self._ids = list(config_ids)

    def ask(self) -> str | None:
        return self._ids.pop(0) if self._ids else None

    def tell(self, config_id: str, value: float, predicted: bool) -> None:
        pass


def compare_runs(reference: ReplayResult, ref_scheduler: Scheduler, result: ReplayResult,
                 scheduler: Scheduler) -> dict[str, float]:
    """The comparison metrics of a run with its reference run (see the module docstring)."""
    ref_sel, sel = ref_scheduler.selected(), scheduler.selected()
    same = sum(a == b for a, b in zip(ref_sel, sel, strict=False))
    return {
        "speedup_vs_reference": (reference.total_epochs / result.total_epochs
                                 if result.total_epochs else float("nan")),
        "same_best_as_reference": float(result.best_config == reference.best_config),
        "same_selections": same / len(ref_sel) if ref_sel else float("nan"),
    }


@dataclass(frozen=True)
class SpeedupSettings:
    """Settings of a speedup experiment.

    Attributes:
        deltas: the Δ values swept by stoppers that have one.
        orderings: random orderings of the configs (the paper: 10).
        workers: simulated workers.
        seed: seed of the orderings.
    """

    deltas: tuple[float, ...] = (0.8, 0.9, 0.95, 0.99)
    orderings: int = 10
    workers: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.orderings < 1:
            raise ValueError(f"orderings must be >= 1, got {self.orderings}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        bad = [d for d in self.deltas if not 0.0 < d <= 1.0]
        if bad or not self.deltas:
            raise ValueError(f"deltas must be in (0, 1], got {list(self.deltas)}")

    def ordering_seed(self, ordering: int) -> int:
        """The searcher seed of ordering number ``ordering``."""
        return int(np.random.SeedSequence([self.seed, ordering]).generate_state(1)[0])


def run_metrics(result: ReplayResult, full_time: float) -> dict[str, float]:
    """The metrics of one replay (see the module docstring); ``full_time``: its NeverStop time."""
    sign = result.direction.sign
    done = sorted((t for t in result.trials if not t.stopped), key=lambda t: t.end)
    stopped = [t for t in result.trials if t.stopped]
    good = 0
    for rec in stopped:
        before = [sign * t.true_final for t in done if t.end <= rec.end]
        good += bool(before) and sign * rec.true_final <= max(before)
    return {
        "speedup": result.speedup,
        "time_speedup": full_time / result.simulated_time if result.simulated_time else np.nan,
        "best_kept": float(result.best_kept),
        "regret": result.regret,
        "best_value": float("nan") if result.best_trial is None else result.best_trial.true_final,
        "epochs": float(result.total_epochs),
        "stopped": float(len(stopped)),
        "stop_precision": good / len(stopped) if stopped else float("nan"),
    }


def _summary(values: Sequence[float]) -> tuple[float, float, int]:
    arr = np.asarray(values, dtype=np.float64)
    ok = arr[np.isfinite(arr)]
    n = int(ok.size)
    mean = float(ok.mean()) if n else float("nan")
    return mean, float(ok.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"), n


def run_speedup(
    curves: CurveSet,
    searchers: Mapping[str, SearcherFactory],
    stoppers: Sequence[StopperSpec],
    settings: SpeedupSettings,
    on_step: Callable[[str, int, int], None] | None = None,
    schedulers: Sequence[SchedulerSpec] = (),
) -> dict[str, Any]:
    """Replay every searcher × stopper (× Δ), and every scheduler (× Δ), over
    ``settings.orderings`` orderings.

    Returns ``{"settings", "results", "runs"}``: ``results`` are tidy records
    ``{searcher, stopper, delta, workers, metric, mean, stderr, n}`` (mean and stderr None when no
    run has a finite value, ``n`` = 0); ``runs`` one record per replay with its metrics (None for
    NaN) and the seconds it took.  ``on_step(description, done, total)`` is
    called after every replay.

    Raises:
        ValueError: nothing to run (no searcher × stopper and no scheduler), a scheduler's
            reference that is not among the schedulers, or fewer than 2 complete curves.
    """
    if not (searchers and stoppers) and not schedulers:
        raise ValueError("need at least one searcher and one stopper, or a scheduler")
    _check_references(schedulers)
    trained = curves.without_untrained_epoch()
    complete = trained.subset(np.asarray(trained.is_complete(), dtype=bool))
    if complete.n_configs < 2:
        raise ValueError(f"{complete.n_configs} complete curves: need at least 2 to replay")
    plan = _with_deltas(stoppers, settings.deltas)
    # references first, so every comparison finds its reference run
    splan = _with_deltas(sorted(schedulers, key=lambda sched: sched.reference is not None),
                         settings.deltas)
    if searchers and stoppers:
        total = settings.orderings * (len(searchers) * len(plan) + len(splan))
    else:
        total = settings.orderings * len(splan)
    sweep = _Sweep(complete, settings, on_step, total)
    for ordering in range(settings.orderings):
        seed = settings.ordering_seed(ordering)
        if stoppers:
            sweep.stopper_runs(ordering, seed, searchers, plan)
        sweep.scheduler_runs(ordering, seed, splan)
    keys = ("searcher", "stopper", "delta", "workers")
    results = _summaries(sweep.runs, keys)
    for run in sweep.runs:  # JSON has no NaN
        run.update({k: None for k, v in run.items() if isinstance(v, float) and np.isnan(v)})
    return {"settings": {**asdict(settings), "searchers": list(searchers),
                         "stoppers": [s.name for s in stoppers],
                         "schedulers": [s.name for s in schedulers], "configs": complete.n_configs,
                         "epochs": complete.n_epochs},
            "results": results, "runs": sweep.runs,
            "anytime": [_anytime_record(dict(zip(keys, key, strict=True)), traces)
                        for key, traces in sweep.anytime.items()]}


def _check_references(schedulers: Sequence[SchedulerSpec]) -> None:
    """Refuse a scheduler whose reference is not a scheduler run once without one of its own."""
    by_name = {sched.name: sched for sched in schedulers}
    for sched in schedulers:
        if sched.reference is None:
            continue
        ref = by_name.get(sched.reference)
        if ref is None or ref.sweeps_delta or ref.reference is not None:
            raise ValueError(f"scheduler {sched.name!r}: its reference {sched.reference!r} must be "
                             f"one of the schedulers {sorted(by_name)} run once, without a "
                             "reference of its own")


_Spec = TypeVar("_Spec", StopperSpec, SchedulerSpec)


def _with_deltas(specs: Sequence[_Spec], deltas: Sequence[float]
                 ) -> list[tuple[_Spec, float | None]]:
    """Each spec with each Δ of ``deltas`` when it sweeps Δ, else once with None."""
    return [(spec, d) for spec in specs for d in (deltas if spec.sweeps_delta else (None,))]


class _Sweep:
    """The replays of one :func:`run_speedup` call over complete curves: their records, the
    any-time regret traces by rule, and the progress reported through ``on_step``."""

    def __init__(self, complete: CurveSet, settings: SpeedupSettings,
                 on_step: Callable[[str, int, int], None] | None, total: int) -> None:
        self.complete = complete
        self.settings = settings
        self.on_step = on_step
        self.total = total
        self.done = 0
        self.runs: list[dict[str, Any]] = []
        self.anytime: dict[tuple[Any, ...], list[NDArray[np.float64]]] = {}
        self.fractions = np.asarray(ANYTIME_FRACTIONS)

    def _record(self, run: dict[str, Any], key: tuple[Any, ...], result: ReplayResult,
                full_time: float, label: str) -> None:
        """Keep one replay's record and regret trace, and report the step."""
        self.runs.append(run)
        self.anytime.setdefault(key, []).append(result.regret_at(self.fractions * full_time))
        self.done += 1
        if self.on_step is not None:
            self.on_step(label, self.done, self.total)

    def stopper_runs(self, ordering: int, seed: int, searchers: Mapping[str, SearcherFactory],
                     plan: Sequence[tuple[StopperSpec, float | None]]) -> None:
        """Every searcher × stopper (× Δ) of one ordering, each against its full training."""
        complete, workers = self.complete, self.settings.workers
        for sname, make_searcher in searchers.items():
            full = replay(complete, make_searcher(complete, seed), NeverStop(), workers=workers)
            # full training of each rule's own configs (an adaptive searcher's differ by rule)
            full_times = {tuple(t.config_id for t in full.trials): full.simulated_time}
            fits = FitCache()
            for spec, delta in plan:
                t0 = time.perf_counter()
                stopper = spec.make(delta, fits)
                result = replay(complete, make_searcher(complete, seed), stopper, workers=workers)
                order = tuple(t.config_id for t in result.trials)
                if order not in full_times:
                    full_times[order] = replay(complete, _InOrder(order), NeverStop(),
                                               workers=workers).simulated_time
                clipped = getattr(stopper, "n_clipped_", None)
                run = {"searcher": sname, "stopper": spec.name, "delta": delta,
                       "workers": workers, "ordering": ordering,
                       **run_metrics(result, full_times[order]),
                       **({} if clipped is None else {"clipped": float(clipped)}),
                       "seconds": time.perf_counter() - t0}
                label = spec.name if delta is None else f"{spec.name} Δ={delta:g}"
                self._record(run, (sname, spec.name, delta, workers), result,
                             full.simulated_time, f"ordering {ordering + 1} {sname} {label}")

    def scheduler_runs(self, ordering: int, seed: int,
                       splan: Sequence[tuple[SchedulerSpec, float | None]]) -> None:
        """Every scheduler (× Δ) of one ordering, references first, each against full training
        of the configs it drew and, with a reference, compared with that run."""
        complete, workers = self.complete, self.settings.workers
        fits = FitCache()
        ran: dict[str, tuple[ReplayResult, Scheduler]] = {}
        full_times: dict[tuple[str, ...], float] = {}
        for sspec, delta in splan:
            t0 = time.perf_counter()
            scheduler = sspec.make(complete, seed, delta, fits)
            result = replay_schedule(complete, scheduler, workers=workers)
            order = tuple(t.config_id for t in result.trials)
            if order not in full_times:
                full_times[order] = replay(complete, _InOrder(order), NeverStop(),
                                           workers=workers).simulated_time
            metrics = run_metrics(result, full_times[order])
            if sspec.reference is not None:
                ref_result, ref_scheduler = ran[sspec.reference]
                metrics.update(compare_runs(ref_result, ref_scheduler, result, scheduler))
                if sspec.compare is not None:
                    metrics.update(sspec.compare(ref_scheduler, scheduler))
            if delta is None:
                ran[sspec.name] = (result, scheduler)
            run = {"searcher": sspec.name, "stopper": sspec.stopper, "delta": delta,
                   "workers": workers, "ordering": ordering, **metrics,
                   "selections": len(scheduler.selected()),
                   "seconds": time.perf_counter() - t0}
            label = sspec.name if delta is None else f"{sspec.name} Δ={delta:g}"
            self._record(run, (sspec.name, sspec.stopper, delta, workers), result,
                         full_times[order], f"ordering {ordering + 1} {label}")


def _summaries(runs: Sequence[Mapping[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per rule (the ``keys`` of a run) and metric: mean, stderr and n over its orderings (the
    stderr None from fewer than two: one ordering says nothing of the spread)."""
    results = []
    seen: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for run in runs:
        seen.setdefault(tuple(run[k] for k in keys), []).append(run)
    for key, group in seen.items():
        for metric in METRICS:
            if not any(metric in r for r in group):
                continue
            mean, stderr, n = _summary([r.get(metric, np.nan) for r in group])
            results.append({**dict(zip(keys, key, strict=True)), "metric": metric,
                            "mean": mean if n else None, "stderr": stderr if n > 1 else None, "n": n})
    return results


def _anytime_record(rule: dict[str, Any], traces: Sequence[NDArray[np.float64]]
                    ) -> dict[str, Any]:
    """One rule's any-time regret over orderings: ``fraction``, ``regret_mean``,
    ``regret_stderr`` (None where fewer than two orderings had a complete config: one says
    nothing of the spread) and ``found``."""
    stacked = np.vstack(traces)
    found = np.isfinite(stacked)
    n = found.sum(axis=0)
    filled = np.where(found, stacked, 0.0)
    mean = np.divide(filled.sum(axis=0), n, out=np.full(n.shape, np.nan), where=n > 0)
    dev = np.where(found, stacked - mean, 0.0)
    var = np.divide((dev ** 2).sum(axis=0), n - 1, out=np.zeros(n.shape), where=n > 1)
    stderr = np.where(n > 1, np.sqrt(var / np.maximum(n, 1)), np.nan)  # none from one

    def listed(a: NDArray[np.float64]) -> list[float | None]:
        return [None if not np.isfinite(v) else float(v) for v in a]

    return {**rule, "fraction": list(ANYTIME_FRACTIONS), "regret_mean": listed(mean),
            "regret_stderr": listed(stderr), "found": [float(v) for v in n / len(traces)],
            "n": len(traces)}


def paper_speedups() -> dict[str, str]:
    """What the paper reports for the speedup experiments (Baker et al. 2017, §4.2 and Figure 4)."""
    return {
        "metaqnn_cifar10": "3-6x fewer epochs over Δ = 0.8-0.99 (Figure 4: about 2-6x); "
                           "Δ = 0.99 keeps the best",
        "real_metaqnn": "3.8x at Δ = 0.99, best architectures kept",
        "resnets": "3.4x at Δ = 0.99",
    }


def select(records: Sequence[Mapping[str, Any]], **where: Any) -> list[Mapping[str, Any]]:
    """The records whose fields equal every ``where`` item."""
    return [r for r in records if all(r.get(k) == v for k, v in where.items())]


def split_prior(curves: CurveSet, fraction: float, seed: int) -> tuple[CurveSet | None, CurveSet]:
    """``(prior, rest)``: a random share ``fraction`` of the configs held out as the predictive
    stopper's warm start (:meth:`CurveSet.random_split`), or ``(None, curves)`` for 0.

    Raises:
        ValueError: ``fraction`` outside [0, 1), or a prior of fewer than 6 configs.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"--prior-fraction must be in [0, 1), got {fraction}")
    if fraction == 0.0:
        return None, curves
    prior, rest = curves.random_split(fraction, seed)
    if prior.n_configs < 6:
        raise ValueError(f"--prior-fraction {fraction} holds out {prior.n_configs} configs; the "
                         "predictor needs at least 6")
    return prior, rest
