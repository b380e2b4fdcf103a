"""CurvecastPruner against Optuna's MedianPruner (and no pruning) on recorded learning curves.

Each study replays recorded curves: a trial picks config ``i`` with ``suggest_int`` (RandomSampler,
so every pruner sees the same configs in the same order) and reports its recorded curve epoch by
epoch.  Reported per pruner and seed: total epochs, the best final value found, and whether every
pruned trial carries curvecast's prediction.

    .venv/bin/python bench/optuna_pruners.py ../shared/data/baker2018/metaqnn_cifar10.csv \
        data/digits-metaqnn.parquet --trials 200 --seeds 3 --out bench/results/optuna_pruners.json
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

from curvecast import CurveSet
from curvecast.execution.collect import package_versions
from curvecast.integrations.optuna import CurvecastPruner


def load(path: Path) -> CurveSet:
    if path.suffix == ".csv":
        from curvecast.datasets.baker2018 import load_baker2018

        return load_baker2018(path).without_untrained_epoch()
    return CurveSet.load(path).without_untrained_epoch()


def run(values: np.ndarray, pruner: optuna.pruners.BasePruner, trials: int, seed: int
        ) -> dict[str, Any]:
    used = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal used
        i = trial.suggest_int("config", 0, len(values) - 1)
        for epoch, value in enumerate(values[i], start=1):
            trial.report(float(value), step=epoch)
            used += 1
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(values[i, -1])

    study = optuna.create_study(direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    pruned = [t for t in study.trials if t.state is optuna.trial.TrialState.PRUNED]
    sampled = [t.params["config"] for t in study.trials]
    return {"epochs": used, "best_value": study.best_value,
            "best_sampled": float(max(values[i, -1] for i in sampled)),
            "pruned": len(pruned),
            "pruned_with_prediction": sum("curvecast:predicted" in t.user_attrs for t in pruned)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", type=Path)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--min-complete", type=int, default=50)
    parser.add_argument("--delta", type=float, default=0.99)
    parser.add_argument("--refit-every", type=int, default=25)
    parser.add_argument("--pruners", default="none,median,curvecast")
    parser.add_argument("--out", type=Path, default=Path("bench/results/optuna_pruners.json"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = []
    for path in args.data:
        values = load(path).filled_values()
        pruners = {
            "none": lambda: optuna.pruners.NopPruner(),
            "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5),
            "curvecast": lambda: CurvecastPruner(delta=args.delta, min_complete=args.min_complete,
                                                 refit_every=args.refit_every),
        }
        for name in args.pruners.split(","):
            make = pruners[name]
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                record = run(values, make(), args.trials, seed)
                record.update(data=str(path), pruner=name, seed=seed,
                              seconds=time.perf_counter() - t0)
                results.append(record)
                print(json.dumps(record), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "optuna_pruners",
        "settings": {"trials": args.trials, "seeds": args.seeds, "data": [str(p) for p in args.data],
                     "curvecast": {"delta": args.delta, "min_complete": args.min_complete,
                                   "refit_every": args.refit_every}},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "packages": {**package_versions(), "optuna": optuna.__version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results}, indent=1))


if __name__ == "__main__":
    main()
