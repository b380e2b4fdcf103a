"""Replay throughput: config-epochs per second of random search with predictive stopping.

The paper's 1000 MetaQNN curves (20 epochs) are tiled to the requested sizes (copies get new ids
and the same curves); each size is replayed once with ``PredictiveStopper(delta=0.99,
min_complete=100)`` and the default SRM fitted once (the paper's policy).  Reported: wall seconds,
simulated config-epochs, and their ratio.

    .venv/bin/python bench/simulate.py --sizes 1000,10000 --out bench/results/simulate.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from curvecast import CurveSet
from curvecast.datasets.baker2018 import load_baker2018
from curvecast.execution import replay
from curvecast.execution.collect import package_versions
from curvecast.search import RandomSearch
from curvecast.stopping import PredictiveStopper

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/baker2018/metaqnn_cifar10.csv"


def tiled(curves: CurveSet, n: int) -> CurveSet:
    """``n`` configs: copies of ``curves``' rows with distinct ids."""
    rows = np.arange(n) % curves.n_configs
    ids = [f"{curves.config_ids[r]}#{k // curves.n_configs}" for k, r in enumerate(rows)]
    return CurveSet(values=curves.values[rows], observed=curves.observed[rows],
                    epochs=curves.epochs, metric=curves.metric, direction=curves.direction,
                    configs=curves.configs.iloc[rows].set_axis(ids),
                    seconds=None if curves.seconds is None else curves.seconds[rows],
                    provenance=curves.provenance, diverged_value=curves.diverged_value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/simulate.json"))
    args = parser.parse_args()
    base = load_baker2018(args.data).without_untrained_epoch()
    results = []
    for n in (int(x) for x in args.sizes.split(",")):
        curves = tiled(base, n)
        t0 = time.perf_counter()
        result = replay(curves, RandomSearch.from_curves(curves, seed=args.seed),
                        PredictiveStopper(delta=0.99, min_complete=100))
        seconds = time.perf_counter() - t0
        record = {"configs": n, "epochs": int(curves.n_epochs), "seconds": seconds,
                  "config_epochs": int(result.total_epochs),
                  "config_epochs_per_second": result.total_epochs / seconds,
                  "speedup": result.speedup, "load_average": os.getloadavg()[0]}
        results.append(record)
        print(json.dumps(record), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "simulate", "settings": {"sizes": args.sizes, "seed": args.seed,
                                              "data": str(args.data)},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "packages": package_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results}, indent=1))


if __name__ == "__main__":
    main()
