"""The paper's speedup experiment (Baker et al. 2017, §4.2, Figure 4): replay a search over recorded
curves with early stopping, in several random orderings, and count the epochs it saves.

Protocol (the paper's): random search visits every recorded config once, in a random order
(``orderings`` of them, seeded); the stopper may stop a config after any epoch; results are mean ±
standard error over orderings.  Only configs recorded to the final epoch take part.

Metrics (``metric`` field of each record):

* ``speedup`` — epochs of full training of the same configs ÷ epochs used;
* ``time_speedup`` — simulated wall-clock time of full training on the same W workers ÷ the
  replay's (epochs cost their recorded seconds, or 1 unit);
* ``best_kept`` — 1 when the true best config of the ordering was trained to the end, else 0;
* ``regret`` — true final value of the true best config minus that of the best fully trained
  config (≥ 0, metric units, sign-corrected for metrics to minimise);
* ``epochs`` — epochs used; ``stopped`` — configs stopped early;
* ``stop_precision`` — share of the stopped configs whose true final value would not have beaten
  the best complete config at the time they were stopped (NaN when none was stopped).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from curvecast.curves import CurveSet
from curvecast.execution.replay import ReplayResult, replay
from curvecast.search import Searcher
from curvecast.stopping import FitCache, NeverStop, Stopper

#: Builds a searcher over a CurveSet for one ordering's seed.
SearcherFactory = Callable[[CurveSet, int], Searcher]

METRICS = ("speedup", "time_speedup", "best_kept", "regret", "epochs", "stopped",
           "stop_precision")


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
        "epochs": float(result.total_epochs),
        "stopped": float(len(stopped)),
        "stop_precision": good / len(stopped) if stopped else float("nan"),
    }


def _summary(values: Sequence[float]) -> tuple[float, float, int]:
    arr = np.asarray(values, dtype=np.float64)
    ok = arr[np.isfinite(arr)]
    n = int(ok.size)
    mean = float(ok.mean()) if n else float("nan")
    return mean, float(ok.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0, n


def run_speedup(
    curves: CurveSet,
    searchers: Mapping[str, SearcherFactory],
    stoppers: Sequence[StopperSpec],
    settings: SpeedupSettings,
    on_step: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Replay every searcher × stopper (× Δ) over ``settings.orderings`` orderings.

    Returns ``{"settings", "results", "runs"}``: ``results`` are tidy records
    ``{searcher, stopper, delta, workers, metric, mean, stderr, n}`` (mean and stderr None when no
    run has a finite value, ``n`` = 0); ``runs`` one record per replay with its metrics (None for
    NaN) and the seconds it took.  ``on_step(description, done, total)`` is
    called after every replay.

    Raises:
        ValueError: no searcher or stopper, or fewer than 2 complete curves.
    """
    if not searchers or not stoppers:
        raise ValueError("need at least one searcher and one stopper")
    trained = curves.without_untrained_epoch()
    complete = trained.subset(np.asarray(trained.is_complete(), dtype=bool))
    if complete.n_configs < 2:
        raise ValueError(f"{complete.n_configs} complete curves: need at least 2 to replay")
    plan = [(spec, d) for spec in stoppers
            for d in (settings.deltas if spec.sweeps_delta else (None,))]
    total = settings.orderings * len(searchers) * len(plan)
    done = 0
    runs: list[dict[str, Any]] = []
    for ordering in range(settings.orderings):
        seed = settings.ordering_seed(ordering)
        for sname, make_searcher in searchers.items():
            full = replay(complete, make_searcher(complete, seed), NeverStop(),
                          workers=settings.workers)
            fits = FitCache()
            for spec, delta in plan:
                t0 = time.perf_counter()
                result = replay(complete, make_searcher(complete, seed), spec.make(delta, fits),
                                workers=settings.workers)
                runs.append({"searcher": sname, "stopper": spec.name, "delta": delta,
                             "workers": settings.workers, "ordering": ordering,
                             **run_metrics(result, full.simulated_time),
                             "seconds": time.perf_counter() - t0})
                done += 1
                if on_step is not None:
                    label = spec.name if delta is None else f"{spec.name} Δ={delta:g}"
                    on_step(f"ordering {ordering + 1} {sname} {label}", done, total)
    results = []
    keys = ("searcher", "stopper", "delta", "workers")
    seen: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for run in runs:
        seen.setdefault(tuple(run[k] for k in keys), []).append(run)
    for key, group in seen.items():
        for metric in METRICS:
            mean, stderr, n = _summary([r[metric] for r in group])
            results.append({**dict(zip(keys, key, strict=True)), "metric": metric,
                            "mean": mean if n else None, "stderr": stderr if n else None, "n": n})
    for run in runs:  # JSON has no NaN
        run.update({k: None for k, v in run.items() if isinstance(v, float) and np.isnan(v)})
    return {"settings": {**asdict(settings), "searchers": list(searchers),
                         "stoppers": [s.name for s in stoppers], "configs": complete.n_configs,
                         "epochs": complete.n_epochs},
            "results": results, "runs": runs}


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
