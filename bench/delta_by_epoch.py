"""Experiment (stop 24): a Δ that is stricter over a run's first epochs, in the stand-in Optuna
protocol of ``bench/protocol_sim.py`` (the trials carry the recorded number columns; 200
trials; seeds 0–9).  The lower Δ lose slow starters after one or two epochs
(``bench/lost_best.py``), and the default rule hesitates over epochs 2–4: does Δ 0.99 for
τ ≤ k and 0.97 after keep 0.99's safety at 0.97's cost?  One JSON line per set
(``docs/results-benchmark.md``, stop 24).

    .venv/bin/python bench/delta_by_epoch.py --data cifar10,digits,mnist1d
    .venv/bin/python bench/delta_by_epoch.py --data lstm,text,tinyimagenet
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import Rule, data_names, run_study, stopper_rule, study_configs, summarise
from stopping_benchmark import DATA, load

from curvecast.stopping import PredictiveStopper
from curvecast.stopping._base import Decision, History, Trial

#: name → (Δ for τ ≤ upto, Δ after, upto)
SCHEDULES = {"0.99": (0.99, 0.99, 0), "0.97": (0.97, 0.97, 0),
             "0.99 for τ ≤ 2, then 0.97": (0.99, 0.97, 2),
             "0.99 for τ = 1, then 0.97": (0.99, 0.97, 1)}


class ScheduledStopper(PredictiveStopper):
    """The default rule with Δ ``early`` for trials observed for at most ``upto`` epochs and
    ``late`` after."""

    def __init__(self, early: float, late: float, upto: int) -> None:
        super().__init__(delta=late)
        self.early, self.late, self.upto = early, late, upto

    def decide(self, trial: Trial, history: History) -> Decision:
        self.delta = self.early if trial.tau <= self.upto else self.late
        return super().decide(trial, history)


def scheduled_rule(early: float, late: float, upto: int) -> Rule:
    return stopper_rule(ScheduledStopper(early, late, upto))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="all")
    parser.add_argument("--exclude", default="friedman-sgd")
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    for name in data_names(args.data, args.exclude):
        curves = load(DATA[name])
        values, sign = curves.filled_values(), curves.direction.sign
        table = study_configs(curves.configs, "numeric")
        row: dict[str, object] = {"data": name}
        for label, spec in SCHEDULES.items():
            result = summarise([run_study(values, sign, partial(scheduled_rule, *spec), 200, s,
                                          table) for s in range(args.seeds)])
            row[label] = f"{result['speedup']}x {result['kept']}"
        print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
