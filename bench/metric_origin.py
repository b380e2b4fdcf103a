"""How far HorizonChain's predictions move when the same curves are given in other units or
shifted (stop 34): lstm_ptb's perplexity ×1000 (its log shifted by log 1000) and the digits
accuracies less 0.97, against the curves as recorded; 100 training curves, the rest predicted
from 10 % of their epochs.  Prints one JSON line per case: the median and largest relative
change of the predicted final values.

    .venv/bin/python bench/metric_origin.py
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from curvecast import CurveSet
from curvecast.datasets.baker2018 import load_baker2018
from curvecast.predictors import HorizonChain

ROOT = Path(__file__).resolve().parents[1]


def moved(cs: CurveSet, change: Callable[[np.ndarray], np.ndarray],
          back: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float]:
    """Median and largest relative change of the predicted finals under ``change``."""
    values = cs.filled_values()
    idx = np.random.default_rng(0).permutation(cs.n_configs)
    train, test = idx[:100], idx[100:]
    tau = max(2, int(np.ceil(0.1 * cs.n_epochs)))
    means = []
    for f, g in ((lambda v: v, lambda v: v), (change, back)):
        chain = HorizonChain().fit_arrays(f(values[train]), np.full(100, cs.n_epochs),
                                          cs.direction, configs=cs.configs.iloc[train])
        means.append(g(chain.predict(cs.configs.iloc[test], f(values[test, :tau])).mean))
    rel = np.abs(means[1] / means[0] - 1)
    return float(np.median(rel)), float(rel.max())


def main() -> None:
    ptb = load_baker2018(ROOT.parent / "shared" / "data" / "baker2018" / "lstm_ptb.csv")
    digits = CurveSet.load(ROOT / "data" / "digits-metaqnn.parquet")
    digits = digits.subset(np.flatnonzero(digits.is_complete()))
    for name, cs, f, g in (
            ("lstm_ptb, perplexity x1000", ptb.without_untrained_epoch(),
             lambda v: v * 1000.0, lambda v: v / 1000.0),
            ("digits-metaqnn, accuracy - 0.97", digits.without_untrained_epoch(),
             lambda v: v - 0.97, lambda v: v + 0.97)):
        median, largest = moved(cs, f, g)
        print(json.dumps({"case": name, "median_rel_change": median,
                          "largest_rel_change": largest}))


if __name__ == "__main__":
    main()
