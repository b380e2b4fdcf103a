"""The chain's unit set by the bulk of the values rather than their whole range (stop 33:
measured, not adopted).

A review of stop 33 found that one run stuck at a moderate value (a negative loss at −10 to −100
when the others lie in −0.2…−2.6) made ``CurvecastPruner()`` train about twice the epochs: the
min–max half range then sets ``HorizonChain``'s unit a decade or two higher
(:func:`curvecast.predictors.horizon_chain._scale`; only beyond :data:`OUTLIER_RATIO` times the
bulk's spread does the bulk set it), and the links' fixed ridge flattens the other runs' slopes.
The variant here takes the unit from the smaller of the half range and the bulk's spread (±3
robust standard deviations), so a tail or a few outliers no longer widen it.  Everything else is
the default rule.

    .venv/bin/python bench/unit_bulk.py optuna > bench/results/unit_bulk.jsonl    # ~2 min
    .venv/bin/python bench/unit_bulk.py outlier >> bench/results/unit_bulk.jsonl  # ~10 s

``optuna``: the benchmark's Optuna part (``bench/stopping_benchmark.py``: 200-trial studies,
seeds 0–9, ``RandomSampler``, the recorded configs as parameters) for every set, one JSON line
per set.  ``outlier``: the review's study (40 trials, 10 epochs, one trial stuck at ``spike``
from epoch 3), default and variant, seeds 0 and 1.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stopping_benchmark import DATA, load, run_optuna_study

import curvecast.predictors.horizon_chain as chain
from curvecast.integrations.optuna import CurvecastPruner

DEFAULT_SCALE = chain._scale


def bulk_scale(u: np.ndarray) -> tuple[float, float]:
    """``_scale`` with the unit from ``min(half range, bulk spread)``: the same centre rule."""
    unit, centre = DEFAULT_SCALE(u)
    finite = u[np.isfinite(u)]
    if not finite.size:
        return unit, centre
    half = float(finite.max()) / 2 - float(finite.min()) / 2
    sample = finite[:: max(1, finite.size // chain.ROBUST_SAMPLE)]
    middle = float(np.median(sample))
    with np.errstate(over="ignore"):
        spread = 3.0 * 1.4826 * float(np.median(np.abs(sample - middle)))
    if not 0.0 < spread < half or half > chain.OUTLIER_RATIO * spread:
        return unit, centre  # no tail, or the outlier branch already uses the bulk
    bulk = chain._unit(spread)
    near = (max(abs(float(finite.min())), abs(float(finite.max()))), abs(middle))
    zero = any(level / bulk <= 100.0 and level / bulk <= max(20.0 * half / bulk, 1.0)
               for level in near)
    return bulk, 0.0 if zero else middle


def optuna_part() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    chain._scale = bulk_scale
    for data in DATA:
        curves = load(DATA[data])
        values = curves.filled_values()
        records = [run_optuna_study(values, curves.direction.sign, CurvecastPruner(), 200, seed,
                                    params=curves.configs) for seed in range(10)]
        epochs = sum(r["epochs"] for r in records)
        full = sum(r["full"] for r in records)
        print(json.dumps({"part": "optuna", "unit": "bulk", "data": data, "epochs": epochs,
                          "speedup": round(full / epochs, 2),
                          "best_kept": sum(r["best_kept"] for r in records)}), flush=True)


def outlier_study(spike: float | None, seed: int) -> dict[str, Any]:
    """The review's study: maximise a negative loss; trial 2 stuck at ``spike`` from epoch 3."""
    import optuna

    def objective(trial: Any) -> float:
        x = trial.suggest_float("x", 0, 1)
        v = 0.0
        for epoch in range(1, 11):
            v = -(0.2 + 1.5 * (x - 0.8) ** 2 + 2.0 * math.exp(-epoch / 3))
            if spike is not None and trial.number == 2 and epoch >= 3:
                v = spike
            trial.report(v, step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return v

    study = optuna.create_study(direction="maximize", pruner=CurvecastPruner(),
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    study.optimize(objective, n_trials=40)
    return {"epochs": sum(len(t.intermediate_values) for t in study.trials),
            "pruned": sum(t.state.name == "PRUNED" for t in study.trials)}


def outlier_part() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    for unit, scale in (("range", DEFAULT_SCALE), ("bulk", bulk_scale)):
        chain._scale = scale
        for spike in (None, -10.0, -30.0, -100.0, -1000.0):
            for seed in (0, 1):
                print(json.dumps({"part": "outlier", "unit": unit, "spike": spike, "seed": seed,
                                  **outlier_study(spike, seed)}), flush=True)


if __name__ == "__main__":
    {"optuna": optuna_part, "outlier": outlier_part}[sys.argv[1]]()
