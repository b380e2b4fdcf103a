"""Experiment (stop 22): the default rule warm-started with a prior of complete curves of the same
workload, in the stand-in Optuna protocol of ``bench/protocol_sim.py``.

Each set's configs are split in two halves by a fixed draw (seed 99).  The prior is ``P``
complete curves of the first half (``--sizes``, 0 for none); the studies (200 trials, seeds
0 …) sample the second half, so no prior curve is a config the study runs.  The median rule's
row is on the same half.  It asks whether the runs the rule stops — whose futures a study
never observes — are what keeps its probabilities off: a prior shows it what becomes of every
kind of run.  Prints one JSON line per set (``docs/results-benchmark.md``, stop 22).

Stop 24: ``--configs numeric`` lets the trials (and the prior) carry the recorded number
columns, and ``--predictor kernel`` puts ``KernelChain()`` in place of ``HorizonChain()``: with a
prior of at least 100 complete curves its correction is on from the first decision, which no
study of the benchmark reaches on its own.

    .venv/bin/python bench/prior_warm_start.py --data all --sizes 0,50,150
    .venv/bin/python bench/prior_warm_start.py --data all --sizes 120 --configs numeric \
        --predictor chain|kernel|kernel-floor
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import (
    Rule,
    add_study_arguments,
    data_names,
    median_rule,
    run_study,
    stopper_rule,
    study_configs,
    summarise,
)
from stopping_benchmark import DATA, load

from curvecast import CurveSet
from curvecast.predictors import HorizonChain, KernelChain, Predictor
from curvecast.stopping import PredictiveStopper

PREDICTORS: dict[str, Callable[[], Predictor]] = {
    "chain": HorizonChain, "kernel": KernelChain,
    "kernel-floor": lambda: KernelChain(min_scale=1.0)}


def warm_rule(prior: CurveSet | None, predictor: str = "chain") -> Rule:
    """The default rule with ``predictor`` at its defaults, warm-started with ``prior`` (None:
    no prior)."""
    return stopper_rule(PredictiveStopper(predictor=PREDICTORS[predictor](), prior=prior))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--sizes", default="0,50,150", help="prior sizes (complete curves)")
    parser.add_argument("--predictor", default="chain", choices=sorted(PREDICTORS))
    args = parser.parse_args()
    for name in data_names(args.data, args.exclude):
        curves = load(DATA[name])
        sign = curves.direction.sign
        order = np.random.default_rng(99).permutation(curves.n_configs)
        half = curves.n_configs // 2
        study = np.sort(order[half:])
        values = curves.filled_values()[study]
        table = study_configs(curves.configs.iloc[study], args.configs)
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        row: dict[str, object] = {"data": name, "predictor": args.predictor,
                                  "configs": args.configs}
        median = summarise([run_study(values, sign, partial(median_rule, sign), 200, s)
                            for s in seeds])
        row["median"] = f"{median['speedup']}x {median['kept']}"
        for size in (int(p) for p in args.sizes.split(",")):
            chosen = np.zeros(curves.n_configs, dtype=bool)
            chosen[order[:size]] = True
            prior = curves.subset(chosen) if size else None
            result = summarise([run_study(values, sign,
                                          partial(warm_rule, prior, args.predictor), 200, s,
                                          table) for s in seeds])
            row[f"prior {size}"] = f"{result['speedup']}x {result['kept']} ({result['ms']} ms)"
        print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
