"""How a trial's first ``should_prune()`` grows with the study (``docs/user-guide.md``).

A study of N finished trials (a tenth run to T = 20 steps, the rest pruned after 1–5, three
parameters) is built with ``add_trials``; then 31 new trials each report step 1 and ask once —
the call that refits and rebuilds the study's tables.  Prints the median of the last 30, for
``CurvecastPruner()`` and ``MedianPruner()``:

    .venv/bin/python bench/first_call_cost.py 200 1000 3000

Stop 31, the 2-core machine with a test run beside it: 1.79, 3.50 and 8.90 ms at 200, 1000 and
3000 trials for ``CurvecastPruner()``; 0.08, 0.14 and 0.39 ms for ``MedianPruner()`` (another
run, before the config table grew incrementally: 1.88 and 11.5 ms at 200 and 3000).  Since
stop 32 it also prints the median ``study.ask`` of the same studies, Optuna's default
``TPESampler`` drawing the next trial's parameters, for scale.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from curvecast.integrations.optuna import CurvecastPruner

optuna.logging.set_verbosity(optuna.logging.WARNING)
T = 20
SPACE = {"a": FloatDistribution(0.3, 1), "lr": FloatDistribution(1e-5, 1, log=True),
         "opt": CategoricalDistribution(["sgd", "adam"])}


def first_call_ms(n: int, pruner: optuna.pruners.BasePruner, seed: int = 0,
                  asks: list[float] | None = None) -> float:
    """The median first ``should_prune()`` of 30 new trials in a study of ``n`` finished ones
    (``asks``: gets the seconds of each ``study.ask``, the default ``TPESampler``'s draw)."""
    rng = np.random.default_rng(seed)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trials = []
    for i in range(n):
        params = {"a": rng.uniform(0.3, 1), "lr": 10 ** rng.uniform(-5, 0),
                  "opt": ["sgd", "adam"][i % 2]}
        curve = [params["a"] * (1 - math.exp(-0.3 * e)) for e in range(1, T + 1)]
        steps = T if i % 10 == 0 else int(rng.integers(1, 6))
        trials.append(create_trial(
            params=params, distributions=SPACE,
            intermediate_values={e + 1: curve[e] for e in range(steps)},
            value=curve[-1] if steps == T else None,
            state=TrialState.COMPLETE if steps == T else TrialState.PRUNED))
    study.add_trials(trials)
    times = []
    for _ in range(31):
        start = time.perf_counter()
        trial = study.ask(SPACE)
        if asks is not None:
            asks.append(time.perf_counter() - start)
        trial.report(0.3, 1)
        start = time.perf_counter()
        trial.should_prune()
        times.append(time.perf_counter() - start)
        study.tell(trial, state=TrialState.PRUNED)
    return 1e3 * float(np.median(times[1:]))


if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1:]] or [200, 1000, 3000]:
        asks: list[float] = []
        for pruner in (CurvecastPruner(), optuna.pruners.MedianPruner()):
            print(f"{n} trials  {type(pruner).__name__}: "
                  f"{first_call_ms(n, pruner, asks=asks):.2f} ms", flush=True)
        print(f"{n} trials  study.ask (TPESampler, for scale): "
              f"{1e3 * float(np.median(asks)):.2f} ms", flush=True)
