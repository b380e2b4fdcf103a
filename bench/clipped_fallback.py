"""The default rule with a fallback for clipped predictions, in the stand-in protocol
(``bench/protocol_sim.py``: 200-trial studies, the trials' configs, the six development sets).

Issue 12 allows a prediction far outside what the curves support to be "clipped or fall back".
The default clips (``HorizonChain``'s bound), and a run far below the first complete runs is then
predicted at the bound and may run on (``docs/user-guide.md``).  Here, a decision to *continue*
on a prediction clipped on the worse side (its mean worse than the reference) falls back to the
median rule at that step: stop when the run's best value so far is worse than the median of the
other trials' values at this step (at least 5 of them).  ``default`` runs the rule unchanged.

    .venv/bin/python bench/clipped_fallback.py fallback 0 10    # seeds 0-9 (and 10 20)
    .venv/bin/python bench/clipped_fallback.py default 0 10

One JSON line per data set: speedup, best kept, regret, …, how often the fallback was asked and
how often it stopped the run (``bench/results/clipped_fallback.jsonl``; stop 32).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import (
    DATA,
    Rule,
    data_names,
    load,
    run_study,
    stopper_decisions,
    study_configs,
    summarise,
)

from curvecast.predictors import HorizonChain
from curvecast.stopping import History, PredictiveStopper

MIN_AT_STEP = 5  # other trials observed at the step before the median is asked, as MedianPruner


def fallback_rule(fallback: bool, counts: list[int]) -> Rule:
    """The default ``PredictiveStopper``; with ``fallback``, its worse-side clipped continues go
    to the median rule.  ``counts`` gathers [fallbacks asked, fallbacks that stopped]."""
    stopper = PredictiveStopper(predictor=HorizonChain())
    ask = stopper_decisions(stopper)

    def decide(values: np.ndarray, history: History) -> bool:
        decision = ask(values, history)
        if decision.stop or not fallback or not decision.clipped or decision.mean is None:
            return decision.stop
        sign = history.direction.sign
        if sign * decision.mean >= sign * stopper.reference(history):
            return False  # clipped on the better side
        tau = len(values)
        seen = history.n_observed >= tau
        seen[-1] = False  # the running trial is the history's last row
        if seen.sum() < MIN_AT_STEP:
            return False
        counts[0] += 1
        below = bool(np.nanmax(sign * values) < np.median(sign * history.values[seen, tau - 1]))
        counts[1] += below
        return below
    return decide


def main() -> None:
    mode = sys.argv[1]
    if mode not in ("default", "fallback"):
        raise SystemExit("the first argument is default or fallback")
    seeds = range(int(sys.argv[2]), int(sys.argv[3]))
    for data in data_names("all", "friedman-sgd"):
        curves = load(DATA[data])
        values, sign = curves.filled_values(), curves.direction.sign
        table = study_configs(curves.configs, "all")
        counts = [0, 0]
        t0 = time.time()
        records = [run_study(values, sign, lambda c=counts: fallback_rule(mode == "fallback", c),
                             200, s, table) for s in seeds]
        print(json.dumps({"data": data, "mode": mode, "seeds": f"{seeds[0]}-{seeds[-1]}",
                          **summarise(records), "fallback_asked": counts[0],
                          "fallback_stopped": counts[1], "s": round(time.time() - t0)}),
              flush=True)


if __name__ == "__main__":
    main()
