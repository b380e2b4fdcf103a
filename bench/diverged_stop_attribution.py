"""Replay one data set with curvecast's default rule, exploration on or off, 10 orderings: the
epochs and best kept per ordering.  Stop 26 ran it with ``--explore 0`` on friedman-sgd at the
commit before the diverged stop (``git worktree add /tmp/pre 0c03744``, run from there with
``PYTHONPATH=/tmp/pre/src``) and after it, to tell the stop's own effect from that of
exploration's draws (which the stop changes by changing which trials reach a decision).

    .venv/bin/python bench/diverged_stop_attribution.py --data friedman-sgd --explore 0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stopping_benchmark import DATA, load

from curvecast.execution import replay
from curvecast.predictors import HorizonChain
from curvecast.search import RandomSearch
from curvecast.stopping import PredictiveStopper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="friedman-sgd", choices=sorted(DATA))
    parser.add_argument("--explore", type=float, default=0.0)
    parser.add_argument("--orderings", type=int, default=10)
    args = parser.parse_args()
    curves = load(DATA[args.data])
    for seed in range(args.orderings):
        stopper = PredictiveStopper(predictor=HorizonChain(features="last+best+slope",
                                                           config_links="all"),
                                    final_stretch=0.2, explore=args.explore)
        result = replay(curves, RandomSearch.from_curves(curves, seed=seed), stopper)
        print(json.dumps({"data": args.data, "explore": args.explore, "seed": seed,
                          "epochs": result.total_epochs, "full": result.full_epochs,
                          "best_kept": bool(result.best_kept)}), flush=True)


if __name__ == "__main__":
    main()
