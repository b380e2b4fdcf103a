"""CPU time of one pruning decision in a 200-trial, 50-epoch Optuna study (issue 12's bar: a median
≤ 1 ms per ``should_prune`` call), for ``CurvecastPruner()`` and ``MedianPruner()`` at their
defaults.

The curves are synthetic (saturating accuracies with config-dependent level, rate and noise, a
few late bloomers), so the study has the issue's shape exactly; each trial reports its curve
epoch by epoch.  The time of every ``pruner.prune`` call Optuna makes is measured with
``time.process_time`` (CPU, not wall-clock: other jobs on the machine do not count).

    .venv/bin/python bench/decision_cost.py --out bench/results/decision_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from curvecast.execution.collect import package_versions
from curvecast.integrations.optuna import CurvecastPruner


def curves(n: int, epochs: int, seed: int) -> np.ndarray:
    """``(n, epochs)`` accuracy-like curves."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, epochs + 1)[None, :]
    level = rng.uniform(0.3, 0.95, (n, 1))
    rate = rng.uniform(1, 15, (n, 1))
    delay = np.where(rng.random((n, 1)) < 0.1, rng.uniform(5, 20, (n, 1)), 0.0)  # late bloomers
    values = level * (1 - np.exp(-np.maximum(t - delay, 0) / rate)) + 0.1
    return np.clip(values + rng.normal(0, 0.01, values.shape), 0, 1)


def study(pruner: Any, values: np.ndarray, trials: int, seed: int) -> dict[str, Any]:
    seconds: list[float] = []
    prune = pruner.prune

    def timed(study: Any, trial: Any) -> bool:
        t0 = time.process_time()
        answer = prune(study, trial)
        seconds.append(time.process_time() - t0)
        return bool(answer)

    pruner.prune = timed
    used = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal used
        i = trial.suggest_int("config", 0, len(values) - 1)
        for epoch, value in enumerate(values[i], start=1):
            trial.report(float(value), step=epoch)
            used += 1
            if epoch < values.shape[1] and trial.should_prune():
                raise optuna.TrialPruned()
        return float(values[i, -1])

    s = optuna.create_study(direction="maximize", pruner=pruner,
                            sampler=optuna.samplers.RandomSampler(seed=seed))
    s.optimize(objective, n_trials=trials)
    ms = 1000 * np.asarray(seconds)
    return {"calls": len(seconds), "median_ms": float(np.median(ms)),
            "p90_ms": float(np.quantile(ms, 0.9)), "max_ms": float(ms.max()), "epochs": used}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/decision_cost.json"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = []
    for seed in range(args.seeds):
        values = curves(1000, args.epochs, seed)
        for name, make in (("CurvecastPruner()", CurvecastPruner),
                           ("MedianPruner()", optuna.pruners.MedianPruner)):
            record = {"pruner": name, "seed": seed,
                      **study(make(), values, args.trials, seed)}
            results.append(record)
            print(json.dumps(record), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "decision_cost", "trials": args.trials, "epochs": args.epochs,
        "load_average": os.getloadavg(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "packages": {**package_versions(), "optuna": optuna.__version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results}, indent=1))


if __name__ == "__main__":
    main()
