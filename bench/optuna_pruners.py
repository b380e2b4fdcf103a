"""CurvecastPruner against Optuna's MedianPruner (and no pruning) on recorded learning curves.

Each study replays recorded curves: a trial picks config ``i`` of a pool with ``suggest_int``
(RandomSampler, so every pruner sees the same configs in the same order), sets the config's
numeric columns (architecture and hyperparameters, e.g. ``n_params``, ``lr``) as user attributes
the way a real objective would once it has built the network, and reports the recorded curve
epoch by epoch.

With ``--prior-fraction f`` each data set's configs are split once (``--split-seed``): a random
fraction f is the warm-start prior, and every study samples only from the other configs, so the
prior never contains a config the study trains.  Pruners (``--pruners``):

* ``none``: no pruning; ``median``: ``MedianPruner(n_startup_trials=5)``;
* ``curvecast``: ``CurvecastPruner`` fitted on the study's own completions (cold start);
* ``curvecast+median``: the same with ``fallback=MedianPruner(n_startup_trials=5)`` deciding until
  the predictor can be fitted;
* ``curvecast+prior``: warm start from the prior's curves (they count toward ``min_complete``).

Reported per pruner and seed: total epochs, the best final value found, the best final value among
the sampled configs, and whether every pruned trial carries curvecast's prediction.

    cp data/digits-metaqnn.parquet /tmp/digits-prune-snap.parquet   # a recording keeps growing
    nice -n 5 .venv/bin/python bench/optuna_pruners.py ../shared/data/baker2018/metaqnn_cifar10.csv \
        /tmp/digits-prune-snap.parquet --trials 200 --seeds 5 --prior-fraction 0.3 --delta 0.9 \
        --min-complete 20 --pruners median,curvecast+prior --out bench/results/optuna_pruners_d90.json

(the runs behind docs/results-integrations.md are listed there).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from curvecast import CurveSet
from curvecast.execution.collect import package_versions
from curvecast.integrations.optuna import ATTRS, CurvecastPruner
from curvecast.predictors import SRM


def load(path: Path) -> CurveSet:
    if path.suffix == ".csv":
        from curvecast.datasets.baker2018 import load_baker2018

        return load_baker2018(path).without_untrained_epoch()
    return CurveSet.load(path).without_untrained_epoch()


def numeric_columns(configs: pd.DataFrame) -> list[str]:
    return [c for c in configs.columns if pd.api.types.is_numeric_dtype(configs[c])
            and not pd.api.types.is_bool_dtype(configs[c])]


def run(values: np.ndarray, attrs: list[dict[str, float]], pruner: optuna.pruners.BasePruner,
        trials: int, seed: int) -> dict[str, Any]:
    used = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal used
        i = trial.suggest_int("config", 0, len(values) - 1)
        for key, value in attrs[i].items():
            trial.set_user_attr(key, value)
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
    first = next((t.number for t in pruned), None)
    return {"epochs": used, "best_value": study.best_value,
            "best_sampled": float(max(values[i, -1] for i in sampled)),
            "complete": sum(t.state is optuna.trial.TrialState.COMPLETE for t in study.trials),
            "pruned": len(pruned),
            "pruned_with_prediction": sum(ATTRS["predicted"] in t.user_attrs for t in pruned),
            "pruned_by_fallback": sum(bool(t.user_attrs.get(ATTRS["fallback"]))
                                      for t in pruned),
            "first_pruned_trial": first,
            "fits": getattr(getattr(pruner, "stopper", None), "n_fits_", None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", type=Path)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--min-complete", type=int, default=50)
    parser.add_argument("--delta", type=float, default=0.99)
    parser.add_argument("--refit-every", type=int, default=25,
                        help="refit after this many completions (0: fit once)")
    parser.add_argument("--draws", type=int, default=50, help="SRM random-search draws per τ")
    parser.add_argument("--sigma", choices=("per_tau", "local"), default="per_tau",
                        help="the SRM's σ model (SRM(sigma_model=...))")
    parser.add_argument("--arcsine", action="store_true",
                        help="the SRM models arcsin(sqrt(y)) (SRM(arcsine_target=True))")
    parser.add_argument("--prior-fraction", type=float, default=0.0,
                        help="share of each data set's configs held out as the warm-start prior")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--pruners", default="none,median,curvecast")
    parser.add_argument("--out", type=Path, default=Path("bench/results/optuna_pruners.json"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    refit = args.refit_every or None
    results = []
    datasets = []
    for path in args.data:
        curves = load(path)  # read once: a recording in progress may grow meanwhile
        curves = curves.subset(np.asarray(curves.is_complete(), dtype=bool))
        prior, pool = (curves.random_split(args.prior_fraction, args.split_seed)
                       if args.prior_fraction > 0 else (None, curves))
        n_prior = 0 if prior is None else prior.n_configs
        values = pool.filled_values()
        columns = numeric_columns(pool.configs)
        attrs = [{str(c): float(v) for c, v in row.items()}
                 for row in pool.configs[columns].to_dict(orient="records")]
        datasets.append({"path": str(path), "configs": curves.n_configs, "prior": n_prior,
                         "pool": pool.n_configs, "config_attrs": columns,
                         "sha256_ids": hashlib.sha256(
                             "\n".join(curves.config_ids).encode()).hexdigest()[:16]})

        def curvecast(columns: list[str] = columns, **extra: Any) -> Callable[[], CurvecastPruner]:
            return lambda: CurvecastPruner(
                delta=args.delta, min_complete=args.min_complete, refit_every=refit,
                predictor=SRM(n_draws=args.draws, sigma_model=args.sigma,
                              arcsine_target=args.arcsine),
                config_attrs=columns, **extra)

        pruners: dict[str, Callable[[], optuna.pruners.BasePruner]] = {
            "none": lambda: optuna.pruners.NopPruner(),
            "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5),
            "curvecast": curvecast(),
            "curvecast+median": curvecast(
                fallback=optuna.pruners.MedianPruner(n_startup_trials=5)),
            "curvecast+prior": curvecast(prior=prior),
        }
        for name in args.pruners.split(","):
            if name == "curvecast+prior" and prior is None:
                raise SystemExit("curvecast+prior needs --prior-fraction > 0")
            make = pruners[name]
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                t0 = time.perf_counter()
                record = run(values, attrs, make(), args.trials, seed)
                record.update(data=str(path), pruner=name, seed=seed,
                              seconds=time.perf_counter() - t0)
                results.append(record)
                print(json.dumps(record), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "optuna_pruners",
        "command": "python " + " ".join(sys.argv),
        "settings": {"trials": args.trials, "seeds": list(range(args.first_seed,
                                                                args.first_seed + args.seeds)),
                     "prior_fraction": args.prior_fraction, "split_seed": args.split_seed,
                     "median": {"n_startup_trials": 5},
                     "curvecast": {"delta": args.delta, "min_complete": args.min_complete,
                                   "refit_every": refit, "draws": args.draws,
                                   "sigma_model": args.sigma, "arcsine_target": args.arcsine}},
        "data": datasets,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "packages": {**package_versions(), "optuna": optuna.__version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results}, indent=1))


if __name__ == "__main__":
    main()
