"""A lower bound on the epochs of any rule that stops a trial when its best value so far falls
below a bar that never falls during the study, and keeps the best run in ≥ 9 of 10 seeds
(stop 25, ``docs/results-benchmark.md``).

Issue 12 asks for fewer epochs than ``MedianPruner()`` with the best kept in ≥ 9 of 10 seeds.
``bench/stopping_frontier.py`` tuned the median rule's own families in hindsight; this bound
covers every rule of a wider class, with its bars chosen knowing each study's answer.

**The class.** After each epoch τ < T, trial t is stopped when its best value so far is below a
bar θ_t(τ). The bar may be anything: it may depend on the study's history, the epoch, even the
answer. It has one restriction: at each epoch it never falls from one trial to the next. The
median rule's bar, the median of the complete trials, rises as better trials complete (it can
dip a little, so it is only close to this class). So do a rule's bars that compare a prediction
from the curve alone with the best so far. A rule that reads a trial's config, or the shape of its
curve beyond the best value so far, is not in the class.

**The bound.** Let k be a trial that ends with the study's best value. To keep it, every bar
for k must be at most k's own best-so-far curve. Bars never fall, so every trial before k meets
bars no higher than that. Such a trial therefore runs at least until its best so far drops below
k's at some epoch. Every trial after k runs at least 1 epoch, and k itself runs all T. The least of
that over the trials k that end best is the seed's bound. The ten seeds' bounds are sorted. A rule
that keeps the best in 9 of them spends at least the 9 smallest bounds, plus 1 epoch per trial in
the seed it gives up.

``fixed_bars`` is the same with bars that do not change during a study (the cheapest such bars
are the best run's own best-so-far curve, from the first trial on). It is not a bound for rules
whose bars rise; it says what knowing the best run's curve ahead would be worth.

The draws are the benchmark's Optuna part's (``RandomSampler(seed)``, 200 trials;
``best_config_draws.optuna_draws``). ``MedianPruner()``'s epochs are read from
``bench/results/stopping_benchmark.json``, for the same seeds.

    .venv/bin/python bench/threshold_bound.py --out bench/results/threshold_bound.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stopping_benchmark as sb
from best_config_draws import optuna_draws

MEDIAN = "MedianPruner()"


def seed_bound(curves: np.ndarray, fixed: bool = False) -> tuple[int, int]:
    """The least epochs with which a rule of the class keeps a best run of the study whose
    trials' curves are ``curves`` (shape ``(trials, T)``, larger is better, in trial order), and
    the trial that attains it.  ``fixed``: bars that are the same for every trial of the study
    (then the trials after the best one meet its curve too)."""
    n, T = curves.shape
    best_so_far = np.maximum.accumulate(curves, axis=1)
    final = curves[:, -1]
    bounds: list[tuple[int, int]] = []
    for k in np.flatnonzero(final >= final.max() - 1e-12):
        met = n if fixed else int(k)  # the trials that meet bars no higher than k's curve
        # such a trial is let through epoch τ while its best so far is ≥ k's at every epoch ≤ τ
        level = best_so_far[:met, : T - 1] >= best_so_far[k, : T - 1]
        through = np.cumprod(level, axis=1).sum(axis=1)  # decisions passed before the first stop
        if fixed:
            bounds.append((int(np.sum(1 + through)), int(k)))
        else:
            bounds.append((int(np.sum(1 + through)) + T + (n - 1 - int(k)), int(k)))
    return min(bounds)


def describe(name: str, seeds: int, trials: int, median: dict[int, int]) -> dict[str, Any]:
    """The bound on one data set, next to ``MedianPruner()``'s epochs."""
    curves = sb.load(sb.DATA[name])
    values = curves.filled_values()
    sign = curves.direction.sign
    per_seed = []
    for seed in range(seeds):
        drawn = optuna_draws(values, sign, seed, trials)
        epochs, k = seed_bound(sign * values[drawn])
        per_seed.append({"seed": seed, "bound": epochs, "best_trial": k,
                         "fixed_bars": seed_bound(sign * values[drawn], fixed=True)[0],
                         "median_pruner": median.get(seed)})
    full = seeds * trials * values.shape[1]

    def nine(key: str) -> int:
        """The 9 smallest seeds' epochs, plus 1 epoch per trial of the seed given up."""
        epochs = sorted(r[key] for r in per_seed)
        return sum(epochs[: sb.KEEP]) + (seeds - sb.KEEP) * trials

    total, fixed = nine("bound"), nine("fixed_bars")
    median_total = sum(median.values()) if len(median) == seeds else None
    return {"data": name, "epochs": values.shape[1], "bound_9_of_10": total,
            "bound_speedup": round(full / total, 2), "fixed_bars_9_of_10": fixed,
            "fixed_bars_speedup": round(full / fixed, 2), "median_pruner": median_total,
            "median_speedup": round(full / median_total, 2) if median_total else None,
            "bound_above_median": bool(median_total is not None and total > median_total),
            "seeds": per_seed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=",".join(sb.DATA))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--benchmark", type=Path,
                        default=sb.ROOT / "bench/results/stopping_benchmark.json")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    records = json.loads(args.benchmark.read_text())["parts"]["optuna"]["records"]
    lines = []
    for name in args.data.split(","):
        median = {r["seed"]: r["epochs"] for r in records.get(name, []) if r["rule"] == MEDIAN}
        lines.append(describe(name, args.seeds, args.trials, median))
        print(json.dumps({k: v for k, v in lines[-1].items() if k != "seeds"}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(lines, indent=1) + "\n")


if __name__ == "__main__":
    main()
