"""``bench/explore_young.py``'s rule (exploration only in a study's first ``YOUNG`` trials) as
an Optuna pruner, in the benchmark's Optuna part (``bench/stopping_benchmark.py``: 200-trial
studies, ``RandomSampler(seed)``, the recorded configs as the trials' parameters), on every set.

    .venv/bin/python bench/explore_young_optuna.py 100 > bench/results/explore_young_optuna.jsonl

``YOUNG`` larger than the trials gives ``CurvecastPruner()`` itself (a check against the
benchmark's records).  One JSON line per data set: epochs, speedup, best kept of 10 (stop 32).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from explore_young import explore_young
from stopping_benchmark import DATA, load, run_optuna_study

from curvecast.integrations.optuna import CurvecastPruner


def young_pruner(young: int) -> CurvecastPruner:
    """``CurvecastPruner()`` whose stopper explores only in the first ``young`` trials."""
    pruner = CurvecastPruner()
    pruner.stopper = explore_young(young, **(pruner._settings | {"explore_trials": young}))
    return pruner


def main() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    young = int(sys.argv[1])
    names = sys.argv[2].split(",") if len(sys.argv) > 2 else list(DATA)
    for data in names:
        curves = load(DATA[data])
        values = curves.filled_values()
        records = [run_optuna_study(values, curves.direction.sign, young_pruner(young), 200,
                                    seed, params=curves.configs) for seed in range(10)]
        epochs = sum(r["epochs"] for r in records)
        full = sum(r["full"] for r in records)
        print(json.dumps({"data": data, "young": young, "epochs": epochs,
                          "speedup": round(full / epochs, 2),
                          "best_kept": sum(r["best_kept"] for r in records)}), flush=True)


if __name__ == "__main__":
    main()
