"""How well the default stopper's probabilities are calibrated where it decides.

Replays the Optuna protocol of ``bench/protocol_sim.py`` (200 trials, ``--seeds`` seeds, the
default ``PredictiveStopper()``, optionally with ``HorizonChain(tail=...)``) and, for every
decision that had a prediction, pairs ``1 − P(final worse than the best so far)`` — the predicted
chance of ending better than the best complete trial at that moment — with what happened: did the
trial's recorded final value beat that best?  A calibrated rule's bins show observed ≈ predicted;
observed ≪ predicted means the rule keeps runs going that it could stop.  Development data only
(friedman-sgd is excluded).

    .venv/bin/python bench/p_better_calibration.py --tail upper \
        --out bench/results/p_better_calibration_upper.json
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
from protocol_sim import run_study
from stopping_benchmark import DATA, load

from curvecast.predictors import HorizonChain
from curvecast.stopping import History, PredictiveStopper, Trial

BINS = (0.0, 0.001, 0.01, 0.03, 0.1, 0.3, 1.0001)


def decisions(values: np.ndarray, sign: float, tail: str, seed: int, trials: int
              ) -> list[tuple[float, bool]]:
    """(predicted P(better than the best so far), whether it did) for every predicted decision,
    in ``protocol_sim``'s study."""
    stopper = PredictiveStopper(predictor=HorizonChain(tail=tail))
    config = pd.DataFrame(index=["x"])
    seen: list[tuple[int, float, float]] = []  # (trial row, P(better), best final so far)

    def rule(curve: np.ndarray, history: History) -> bool:
        d = stopper.decide(Trial(history.config_ids[-1], config, curve), history)
        if d.probability is not None:
            best = float(np.max(sign * history.final_values()))
            seen.append((history.n_trials - 1, 1.0 - d.probability, best))
        return d.stop

    picked = run_study(values, sign, lambda: rule, trials, seed)["picked"]
    finals = sign * values[np.asarray(picked), -1]
    return [(p, bool(finals[row] > best)) for row, p, best in seen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tail", choices=("upper", "both"), default="upper")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result: dict[str, object] = {"command": "python " + " ".join(sys.argv), "bins": BINS}
    for name, path in DATA.items():
        if name == "friedman-sgd":
            continue
        curves = load(path)
        pairs = [p for seed in range(args.seeds)
                 for p in decisions(curves.filled_values(), curves.direction.sign, args.tail,
                                    seed, args.trials)]
        p = np.array([x[0] for x in pairs])
        y = np.array([x[1] for x in pairs])
        rows = []
        for lo, hi in itertools.pairwise(BINS):
            m = (p >= lo) & (p < hi)
            if m.any():
                rows.append({"bin": [lo, hi], "n": int(m.sum()), "predicted": float(p[m].mean()),
                             "observed": float(y[m].mean())})
                print(f"{name:28s} P(better) in [{lo:g}, {hi:g}): n={m.sum():6d} "
                      f"predicted {p[m].mean():.4f} observed {y[m].mean():.4f}", flush=True)
        result[name] = rows
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
