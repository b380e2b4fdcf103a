"""How well the default rule's P(better) is calibrated over every config, not only where it decides.

``bench/p_better_calibration.py`` pairs each decision the rule made with what happened, so its
bins hold the trials the rule was still running, a sample its earlier decisions chose.  This
script asks the predictor a cleaner question: in ``bench/protocol_sim.py``'s study (200 trials,
the default ``PredictiveStopper(explore=0)``), when trial ``--at`` N asks for its first decision,
take the predictor the rule uses then (fitted on every other trial of the study) and the
reference (the best complete final so far), and predict, for **every** recorded config of the
set, the chance that it ends better than that reference from its first τ epochs (τ the shares
``--shares`` of the set's T epochs, rounded, at least 1).  Binned by that chance, the sum of
the predicted chances is set against how many of those configs' recorded finals did end
better.  Calibrated bins show sum ≈ count; a bin near the rule's threshold (1 − Δ = 1 %) is
what decides which runs are stopped.  Development data only
(friedman-sgd is excluded unless named).

    .venv/bin/python bench/p_better_population.py --seeds 3 --out bench/results/p_better_population.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import data_names, run_study
from stopping_benchmark import DATA, load

from curvecast.predictors import HorizonChain
from curvecast.stopping import History, PredictiveStopper, Trial

BINS = (0.0, 0.001, 0.01, 0.03, 0.1, 0.3, 1.0001)


def snapshots(values: np.ndarray, sign: float, seed: int, trials: int, at: list[int],
              shares: list[float]) -> list[dict[str, object]]:
    """One record per (snapshot trial, τ, bin): configs in the bin, their summed predicted
    P(better than the reference), how many did end better, and the study's state."""
    stopper = PredictiveStopper(predictor=HorizonChain(), explore=0.0)
    config = pd.DataFrame(index=["x"])
    every = pd.DataFrame(index=[f"c{i}" for i in range(values.shape[0])])
    finals = sign * values[:, -1]
    taus = [max(1, round(share * values.shape[1])) for share in shares]
    out: list[dict[str, object]] = []

    def rule(curve: np.ndarray, history: History) -> bool:
        trial = Trial(history.config_ids[-1], config, curve)
        decision = stopper.decide(trial, history)
        row = history.n_trials - 1
        if row in at and trial.tau == 1 and decision.probability is not None:
            model = stopper.fitted_online(trial, history)
            ref = stopper.reference(history)
            for share, tau in zip(shares, taus, strict=True):
                better = 1.0 - model.predict(every, values[:, :tau]).prob_worse(
                    ref, history.direction)
                ended_better = finals > sign * ref
                for lo, hi in itertools.pairwise(BINS):
                    inside = (better >= lo) & (better < hi)
                    out.append({"seed": seed, "trial": row, "n_complete": history.n_complete,
                                "share": share, "tau": tau, "bin": f"{lo:g}-{min(hi, 1):g}",
                                "configs": int(inside.sum()),
                                "predicted": float(better[inside].sum()),
                                "ended_better": int(ended_better[inside].sum())})
        return decision.stop

    run_study(values, sign, lambda: rule, trials, seed)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="all", help="comma-separated names (substrings) or all")
    parser.add_argument("--exclude", default="friedman-sgd")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--at", default="60,150", help="the trials (0-based) that snapshot")
    parser.add_argument("--shares", default="0.05,0.1,0.2",
                        help="epochs observed per config, as shares of T")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    at = [int(a) for a in args.at.split(",")]
    shares = [float(s) for s in args.shares.split(",")]
    results: dict[str, list[dict[str, object]]] = {}
    for data in data_names(args.data, args.exclude):
        curves = load(DATA[data])
        values, sign = curves.filled_values(), curves.direction.sign
        records = [r for seed in range(args.seeds)
                   for r in snapshots(values, sign, seed, args.trials, at, shares)]
        results[data] = records
        table = (pd.DataFrame(records).groupby(["trial", "tau", "bin"], sort=False)
                 [["configs", "predicted", "ended_better"]].sum())
        print(f"## {data}\n{table.round(2).to_string()}\n", flush=True)
    args.out.write_text(json.dumps({"command": " ".join(sys.argv), "seeds": args.seeds,
                                    "at": at, "shares": shares, "results": results}, indent=1))


if __name__ == "__main__":
    main()
