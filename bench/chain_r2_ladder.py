"""R² of HorizonChain's final-value prediction at 10 % and 25 % of the curve, by ladder and links.

``docs/results-prediction.md`` compares ``HorizonChain()`` with ν-SVR RBF on ``curvecast evaluate``'s
splits (100 fully observed training curves drawn with ``default_rng([0, repeat])``, every other
curve to test).  This script re-draws those splits and fits the chain with other ``ladder``
factors; a ladder larger than T is a single direct link from τ epochs to T.  The chain composes
one linear regression per link, and each regression's slope shrinks towards the mean, so a long
chain can predict worse than one link on the same finished curves; this measures by how much,
and what ``links="anchored"`` (later links also see the values after τ epochs) gets back.
The held-out set (friedman-sgd) is left out unless ``--data`` names it.

    .venv/bin/python bench/chain_r2_ladder.py --ladders 2,1.5,1000 --links markov,anchored \
        --out bench/results/chain_r2_ladder.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import data_names
from stopping_benchmark import DATA, load

from curvecast.predictors import HorizonChain


def r2(y: np.ndarray, p: np.ndarray) -> float:
    """The coefficient of determination of predictions ``p`` for values ``y`` (both ``(n,)``)."""
    return float(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="all")
    parser.add_argument("--exclude", default="friedman-sgd")
    parser.add_argument("--ladders", default="2,1000")
    parser.add_argument("--links", default="markov")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train", type=int, default=100)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    for name in data_names(args.data, args.exclude):
        curves = load(DATA[name])
        v = curves.filled_values()
        n, T = v.shape
        for fraction in (0.1, 0.25):
            tau = int(np.ceil(fraction * T))
            row: dict[str, object] = {"data": name, "fraction": fraction, "tau": tau}
            for ladder, links in ((float(x), k) for x in args.ladders.split(",")
                                  for k in args.links.split(",")):
                scores = []
                for repeat in range(args.repeats):
                    perm = np.random.default_rng([0, repeat]).permutation(n)
                    train, test = perm[: args.train], perm[args.train:]
                    model = HorizonChain(features="last+best", ladder=ladder, links=links).fit_arrays(
                        v[train], np.full(args.train, T), curves.direction)
                    scores.append(r2(v[test, -1], model.predict(None, v[test, :tau]).mean))  # type: ignore[arg-type]
                row[f"ladder {ladder:g}, {links}"] = round(float(np.mean(scores)), 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"repeats": args.repeats, "train": args.train,
                                        "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
