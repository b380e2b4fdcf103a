"""R² of the default chain's final-value prediction at 10 % and 25 % of the curve, with the first
link's features ``last+best`` and ``last+best+slope`` (stop 25, ``docs/results-benchmark.md``).

The splits are ``curvecast evaluate``'s (``default_rng([0, repeat])``, the first 100 configs of
the permutation to train, every other one to test, 3 repeats). The chain is fitted on the 100
finished training curves with their configs (``HorizonChain()``'s config links), as in
``docs/results-prediction.md``. Its ``last+best`` column reproduces that page's table to the third
decimal. friedman-sgd is the held-out set: its row is the check, not a choice.

    .venv/bin/python bench/chain_features_r2.py > bench/results/chain_features_r2.jsonl

``--bound`` sets ``HorizonChain(bound=...)`` (default ``targets``, the bound of those runs; stop 28
made ``targets+run`` the default, whose keys carry a `` bound targets+run`` suffix):

    .venv/bin/python bench/chain_features_r2.py --features last+best+slope \
        --bound targets,targets+run > bench/results/chain_bound_r2.jsonl

``--trim-worse K`` sets ``HorizonChain(trim_worse=K)`` (default none, as in those runs; stop 28
made 5 the default, whose keys carry a `` trim 5`` suffix):

    .venv/bin/python bench/chain_features_r2.py --features last+best+slope --trim-worse 5 \
        > bench/results/chain_trim_r2.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chain_r2_ladder import r2
from protocol_sim import data_names
from stopping_benchmark import DATA, load

from curvecast.predictors import HorizonChain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="all")
    parser.add_argument("--features", default="last+best,last+best+slope")
    parser.add_argument("--bound", default="targets")
    parser.add_argument("--trim-worse", type=float, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for name in data_names(args.data, "none"):
        curves = load(DATA[name])
        values = curves.filled_values()
        n, T = values.shape
        row: dict[str, object] = {"data": name}
        for fraction in (0.1, 0.25):
            tau = int(np.ceil(fraction * T))
            for features, bound in ((f, b) for f in args.features.split(",")
                                    for b in args.bound.split(",")):
                scores = []
                for repeat in range(args.repeats):
                    perm = np.random.default_rng([0, repeat]).permutation(n)
                    train = np.zeros(n, dtype=bool)
                    train[perm[:100]] = True
                    test = perm[100:]
                    model = HorizonChain(features=features, bound=bound,
                                         trim_worse=args.trim_worse).fit(curves.subset(train))
                    predicted = model.predict(curves.configs.iloc[test], values[test, :tau]).mean
                    scores.append(r2(values[test, -1], predicted))
                key = (f"{fraction:g} {features}{'' if bound == 'targets' else ' bound ' + bound}"
                       f"{'' if args.trim_worse is None else f' trim {args.trim_worse:g}'}")
                row[key] = round(float(np.mean(scores)), 3)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
