"""Architecture search on the digits-metaqnn workload through Ray Tune, stopped by curvecast.

Real CNNs from the MetaQNN space are trained on the 8×8 digits, one Tune trial per config, and
:class:`curvecast.integrations.ray_tune.CurvecastScheduler` stops the trials whose predicted final
validation accuracy is probably worse than the best so far.  With ``--prior`` (the recorded
``data/digits-metaqnn.parquet``) the predictor is warm-started, so stopping starts at once.

    python examples/ray_tune_digits.py --trials 4 --epochs 5 --prior data/digits-metaqnn.parquet

Ray is started locally, listening on 127.0.0.1 only (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 must be
set before ``import ray``), unless ``--address`` names an existing cluster.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import ray
from ray import tune

from curvecast.curves import CurveSet
from curvecast.integrations.ray_tune import CurvecastScheduler
from curvecast.workloads import DigitsMetaQNN


def trainable(configs: list[dict[str, Any]], seed: int, epochs: int):  # type: ignore[no-untyped-def]
    """A Tune trainable training sampled config ``configs[i]`` epoch by epoch."""

    def train(config: dict[str, Any]) -> None:
        run = DigitsMetaQNN().start(configs[int(config["i"])], seed=seed, epochs=epochs)
        for _ in range(epochs):
            tune.report({"val_accuracy": run.train_epoch().value})

    return train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prior", help="recorded digits-metaqnn curves (Parquet) to warm-start")
    parser.add_argument("--min-complete", type=int, default=5)
    parser.add_argument("--address", help="an existing Ray cluster (default: a local Ray)")
    args = parser.parse_args()

    workload = DigitsMetaQNN()
    rng = np.random.default_rng(args.seed)
    configs = [dict(workload.space.sample(rng)) for _ in range(args.trials)]
    prior = CurveSet.load(args.prior) if args.prior else None
    scheduler = CurvecastScheduler(max_t=args.epochs, min_complete=args.min_complete,
                                   grace_period=2, prior=prior,
                                   # the config row the predictor sees: the architecture and
                                   # hyperparameters of configs[i], n_params and n_layers
                                   describe=lambda c: {**configs[int(c["i"])],
                                                       **workload.describe(configs[int(c["i"])])})
    if args.address:
        ray.init(address=args.address)
    else:
        ray.init(num_cpus=2, include_dashboard=False)
    try:
        tuner = tune.Tuner(
            trainable(configs, args.seed, args.epochs),
            param_space={"i": tune.grid_search(list(range(args.trials)))},
            tune_config=tune.TuneConfig(metric="val_accuracy", mode="max", scheduler=scheduler,
                                        max_concurrent_trials=2),
            run_config=tune.RunConfig(name="digits-curvecast", callbacks=[scheduler.callback()],
                                      verbose=1))
        grid = tuner.fit()
    finally:
        ray.shutdown()
    for k in range(len(grid)):
        m = grid[k].metrics or {}
        if not m.get("curvecast/stopped"):
            why = "trained to the end"
        elif m.get("curvecast/predicted") is None:  # stopped for reporting NaN (diverged)
            why = "stopped: diverged"
        else:
            why = (f"stopped: predicted {m['curvecast/predicted']:.3f} ± "
                   f"{m['curvecast/std']:.3f}, P(worse) = {m['curvecast/probability']:.2f}")
        print(f"epochs {m['training_iteration']:>2}  val_accuracy {m['val_accuracy']:.3f}  {why}")
    best = grid.get_best_result()
    metrics, config = best.metrics or {}, best.config or {}
    print(f"best: val_accuracy {metrics['val_accuracy']:.3f}, net {configs[config['i']]['net']}")


if __name__ == "__main__":
    main()
