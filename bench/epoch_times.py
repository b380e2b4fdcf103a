"""Seconds per epoch of each real workload, one torch thread, on this machine.

Samples ``--configs`` configs of each workload (the same configs ``curvecast collect --seed 0``
trains first), trains each for ``--epochs`` epochs and reports the median, 90th percentile and
maximum of the per-epoch wall-clock seconds (training plus validation), with the machine's load
average, as JSON.

    .venv/bin/python bench/epoch_times.py --configs 12 --epochs 3 --out bench/results/epoch_times.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workloads", default="digits-metaqnn,mnist1d-hp,text-lstm,friedman-sgd")
    parser.add_argument("--out", type=Path, default=Path("bench/results/epoch_times.json"))
    args = parser.parse_args()

    import torch

    from curvecast.execution.collect import package_versions, run_seed, sample_config
    from curvecast.workloads import MNIST1DHP, DigitsMetaQNN, FriedmanSGD, TextLSTM

    torch.set_num_threads(1)
    factories = {"digits-metaqnn": DigitsMetaQNN, "mnist1d-hp": MNIST1DHP, "text-lstm": TextLSTM,
                 "friedman-sgd": FriedmanSGD}
    results = {}
    for name in args.workloads.split(","):
        workload = factories[name]()
        seconds: list[float] = []
        load_before = os.getloadavg()[0]
        for i in range(args.configs):
            config = sample_config(workload, args.seed, i)
            run = workload.start(config, seed=run_seed(args.seed, i), epochs=args.epochs)
            seconds += [run.train_epoch().seconds for _ in range(args.epochs)]
        arr = np.array(seconds)
        results[name] = {"median_s": float(np.median(arr)), "p90_s": float(np.quantile(arr, 0.9)),
                         "max_s": float(arr.max()), "epochs_timed": int(arr.size),
                         "load_average_before": load_before,
                         "load_average_after": os.getloadavg()[0]}
        print(name, json.dumps(results[name]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "epoch_times", "settings": vars(args) | {"out": str(args.out)},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads()},
        "packages": package_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results}, indent=1))


if __name__ == "__main__":
    main()
