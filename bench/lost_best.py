"""Where the benchmark's Optuna part loses the best run: for a curvecast grid point with the
configs and given seeds, the trials that drew the study's best config, their state, the epochs
they reported, how many trials were complete when they started, their first values, and the
rank of the best config's first-epoch value among the study's 200 (stop 24,
``docs/results-benchmark.md``).  One line per seed.

    .venv/bin/python bench/lost_best.py --data mnist1d-hp --delta 0.97 --seeds 1,3
    .venv/bin/python bench/lost_best.py --data digits-metaqnn --delta 0.97 --seeds 5,6
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stopping_benchmark as sb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, choices=sorted(sb.DATA))
    parser.add_argument("--delta", type=float, default=0.97)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    studies: list[Any] = []
    curves = sb.load(sb.DATA[args.data])
    values, sign = curves.filled_values(), curves.direction.sign
    rule = sb.grid_name(args.delta, "last+best", "markov", 0.2, 0.1, "pooled", "all")
    for seed in (int(s) for s in args.seeds.split(",")):
        record = sb.run_optuna_study(values, sign, sb.optuna_pruners()[rule](), args.trials,
                                     seed, params=curves.configs, studies=studies)
        study = studies[-1]
        drawn = [t.user_attrs["config"] for t in study.trials]
        finals = sign * values[drawn, -1]
        best = finals.max()
        trials = [{"trial": t.number, "state": t.state.name,
                   "epochs": len(t.intermediate_values),
                   "complete_before": sum(u.state.name == "COMPLETE"
                                          for u in study.trials[: t.number]),
                   "first": [round(float(v), 3) for v in list(t.intermediate_values.values())[:3]]}
                  for t, f in zip(study.trials, finals, strict=True) if f >= best - 1e-12]
        first = sign * values[drawn, 0]
        rank = int(np.sum(first > first[int(np.argmax(finals))])) + 1
        print({"data": args.data, "rule": rule, "seed": seed, "best_kept": record["best_kept"],
               "regret": round(float(record["regret"]), 6), "best_trials": trials,
               "first_epoch_rank_of_best": f"{rank}/{len(drawn)}"}, flush=True)


if __name__ == "__main__":
    main()
