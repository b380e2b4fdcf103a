"""Development runs of a hybrid of curvecast's rule and the median rule (tried for issue 12, not
shipped; ``docs/results-benchmark.md``).

Stop when ``PredictiveStopper()`` stops (P(final worse than the best so far) ≥ Δ = 0.99), or when
the trial's best value so far is below the median (``--kinds median``; ``qNN``: the top NN %) of
the complete trials' values at this epoch, or (``asha``) at a rung of 1, 3, 9, … epochs its value
is not in the top third of every trial's that reached the rung, *and* that P is ≥ Δ_rank.  Studies are
``bench/protocol_sim.py``'s (200 trials, ``--seeds`` seeds), on the development sets.

    .venv/bin/python bench/median_hybrid.py --kinds median --rank-deltas 0.8,0.9,0.95,0.97,0.98
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import protocol_sim
from stopping_benchmark import DATA, load

from curvecast.stopping import History, PredictiveStopper, Trial


def hybrid_rule(sign: float, rank_delta: float, kind: str) -> protocol_sim.Rule:
    """The hybrid's decision for one study (a fresh stopper)."""
    stopper = PredictiveStopper()
    config = pd.DataFrame(index=["x"])
    keep = 50.0 if kind in ("median", "asha") else float(kind[1:])

    def decide(values: np.ndarray, history: History) -> bool:
        trial = Trial(config_id=history.config_ids[-1], config=config, values=values)
        decision = stopper.decide(trial, history)
        if decision.stop:
            return True
        if decision.probability is None or decision.probability < rank_delta:
            return False
        tau = len(values)
        if kind == "asha":  # Optuna's successive halving, η = 3, rungs 1, 3, 9, … epochs
            if not _is_rung(tau, 3):
                return False
            reached = history.n_observed[:-1] >= tau
            competing = np.sort(np.append(sign * history.values[:-1][reached, tau - 1],
                                          sign * values[-1]))[::-1]
            return bool(sign * values[-1] < competing[max(competing.size // 3 - 1, 0)])
        complete = history.complete.copy()
        complete[-1] = False
        ref = sign * history.values[complete, tau - 1]
        return bool(np.max(sign * values) < np.percentile(ref, 100 - keep))
    return decide


def _is_rung(tau: int, eta: int) -> bool:
    """Whether ``tau`` epochs is a rung (1, η, η², …)."""
    while tau % eta == 0:
        tau //= eta
    return tau == 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="all", help="comma-separated names (substrings) or all")
    parser.add_argument("--kinds", default="median")
    parser.add_argument("--rank-deltas", default="0.8,0.9,0.95,0.97,0.98")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--exclude", default="friedman-sgd", help="data sets left out")
    args = parser.parse_args()
    for name in protocol_sim.data_names(args.data, args.exclude):
        curves = load(DATA[name])
        values, sign = curves.filled_values(), curves.direction.sign
        for kind in args.kinds.split(","):
            for rank_delta in (float(x) for x in args.rank_deltas.split(",")):
                records = [protocol_sim.run_study(
                    values, sign, lambda k=kind, r=rank_delta, s=sign: hybrid_rule(s, r, k), 200, seed)
                    for seed in range(args.first_seed, args.first_seed + args.seeds)]
                summary = protocol_sim.summarise(records)
                print(json.dumps({"data": name, "kind": kind, "rank_delta": rank_delta,
                                  "speedup": summary["speedup"], "kept": summary["kept"]}),
                      flush=True)


if __name__ == "__main__":
    main()
