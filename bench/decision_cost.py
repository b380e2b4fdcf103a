"""CPU time of one pruning decision in a 200-trial, 50-epoch Optuna study (issue 12's bar: a median
≤ 1 ms per ``should_prune`` call), for ``CurvecastPruner()`` and ``MedianPruner()`` at their
defaults.

The curves are synthetic (saturating accuracies with config-dependent level, rate and noise, a
few late bloomers), so the study has the issue's shape exactly; each trial also has five
hyperparameters (learning rate, weight decay, batch size, dropout, width: Optuna parameters, or
the Ray trial's config), which the default predictor encodes and regresses on (stop 23); each
trial reports its curve epoch by epoch (``stopping_benchmark.run_optuna_study``).  The time of
every ``pruner.prune`` call Optuna makes is measured with ``time.process_time`` (CPU, not
wall-clock: other jobs on the machine do not count); ``ms`` is the median, ``ms_mean`` the
mean, ``ms_p90`` and ``ms_max`` the tail.

The same study is also run through Ray Tune's ``CurvecastScheduler()`` (``--ray``; Ray need not
be started: the trials are stand-ins with the two attributes the scheduler reads, as Ray's own
scheduler tests do), timing every ``on_trial_result`` call — the scheduler's decision.

    .venv/bin/python bench/decision_cost.py --out bench/results/decision_cost.json
    .venv/bin/python bench/decision_cost.py --links anchored --out /tmp/anchored_cost.json

``--sqlite`` keeps each study in a fresh SQLite file instead of in memory, as a study shared by
several processes would be: the calls then also pay Optuna's storage reads (and curvecast's
user-attribute writes on every trial it prunes).

    .venv/bin/python bench/decision_cost.py --sqlite --seeds 1 \
        --out bench/results/decision_cost_sqlite.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
import types
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from stopping_benchmark import run_optuna_study  # bench/ is on the path of its own scripts

from curvecast.execution.collect import package_versions
from curvecast.integrations.optuna import CurvecastPruner
from curvecast.predictors import HorizonChain


def curves(n: int, epochs: int, seed: int) -> np.ndarray:
    """``(n, epochs)`` accuracy-like curves."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, epochs + 1)[None, :]
    level = rng.uniform(0.3, 0.95, (n, 1))
    rate = rng.uniform(1, 15, (n, 1))
    delay = np.where(rng.random((n, 1)) < 0.1, rng.uniform(5, 20, (n, 1)), 0.0)  # late bloomers
    values = level * (1 - np.exp(-np.maximum(t - delay, 0) / rate)) + 0.1
    return np.clip(values + rng.normal(0, 0.01, values.shape), 0, 1)


def params(n: int, seed: int) -> pd.DataFrame:
    """``n`` configs' hyperparameters, as an objective would suggest them (five numbers; the
    curves do not depend on them): what the pruner's predictor encodes and regresses on."""
    rng = np.random.default_rng(seed + 1000)
    return pd.DataFrame({"lr": 10 ** rng.uniform(-4, -1, n),
                         "weight_decay": 10 ** rng.uniform(-6, -2, n),
                         "batch_size": rng.choice([16, 32, 64, 128], n),
                         "dropout": rng.uniform(0.0, 0.5, n),
                         "width": rng.integers(8, 256, n)})


def run_ray_study(values: np.ndarray, trials: int, seed: int,
                  table: pd.DataFrame) -> dict[str, object]:
    """A ``trials``-trial study through ``CurvecastScheduler()``, trials one after another (each
    with its row of ``table`` as its config); the CPU time of each ``on_trial_result`` call."""
    from curvecast.integrations.ray_tune import CurvecastScheduler

    rng = np.random.default_rng(seed)
    epochs = values.shape[1]
    scheduler = CurvecastScheduler(max_t=epochs, metric="acc", mode="max")
    seconds, used = [], 0
    for i in range(trials):
        config = int(rng.integers(0, len(values)))
        trial = types.SimpleNamespace(trial_id=f"t{i}", config=table.iloc[config].to_dict())
        scheduler.on_trial_add(None, trial)
        for epoch in range(1, epochs + 1):
            t0 = time.process_time()
            answer = scheduler.on_trial_result(
                None, trial, {"acc": float(values[config, epoch - 1]),
                              "training_iteration": epoch})
            seconds.append(time.process_time() - t0)
            used += 1
            if answer == "STOP":
                break
        scheduler.on_trial_complete(None, trial, {})
    ms = 1000 * np.asarray(seconds)
    return {"epochs": used, "full": trials * epochs, "ms": float(np.median(ms)),
            "ms_mean": float(np.mean(ms)), "ms_p90": float(np.quantile(ms, 0.9)),
            "ms_max": float(ms.max()),
            "calls": len(seconds), "stopped": scheduler.n_stopped_}


def _pruner_with_links(links: str) -> CurvecastPruner:
    return CurvecastPruner(predictor=HorizonChain(links=links))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/decision_cost.json"))
    parser.add_argument("--ray", action="store_true", help="also time CurvecastScheduler()")
    parser.add_argument("--links", choices=("markov", "anchored"), default=None,
                        help="time CurvecastPruner(predictor=HorizonChain(links=...)) too")
    parser.add_argument("--sqlite", action="store_true",
                        help="each study in a fresh SQLite file (default: in memory)")
    args = parser.parse_args()
    for option, value, least in (("--trials", args.trials, 2), ("--epochs", args.epochs, 2),
                                 ("--seeds", args.seeds, 1)):
        if value < least:  # a study of one trial or one epoch asks for no decision to time
            parser.error(f"{option} must be at least {least}, got {value}")
    folder = Path(tempfile.mkdtemp(prefix="decision_cost-"))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = []
    for seed in range(args.seeds):
        values = curves(1000, args.epochs, seed)
        table = params(1000, seed)
        pruners: list[tuple[str, Callable[[], Any]]] = [
            ("CurvecastPruner()", CurvecastPruner),
            ("MedianPruner()", optuna.pruners.MedianPruner)]
        if args.links is not None:
            pruners.append((f"CurvecastPruner(HorizonChain(links={args.links!r}))",
                            partial(_pruner_with_links, args.links)))
        for name, make in pruners:
            storage = (f"sqlite:///{folder / f'{len(results)}.db'}" if args.sqlite else None)
            record = {"pruner": name, "seed": seed, "storage": "sqlite" if args.sqlite else "memory",
                      **run_optuna_study(values, 1.0, make(), args.trials, seed, storage,
                                         params=table)}
            results.append(record)
            print(json.dumps(record), flush=True)
        if args.ray:
            record = {"pruner": "CurvecastScheduler() (Ray Tune)", "seed": seed,
                      **run_ray_study(values, args.trials, seed, table)}
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
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
