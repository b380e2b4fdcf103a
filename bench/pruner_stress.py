"""Two stress tests of ``CurvecastPruner()`` from a user's review (stop 28), as Optuna studies of
synthetic saturating curves (60 trials of 20 steps; the curve of trial n is drawn from
``default_rng(1000 · seed + n)``, so every pruner sees the same trials).

* ``collapse``: every fifth trial collapses after step 10 (reports 0.0, or +inf, which counts as
  the worst value) and completes.  Printed: the epochs the 48 other trials cost, per seed and in
  the mean, with the links' trim (``HorizonChain(trim_worse=5)``, the default since stop 28) and
  without it (``trim_worse=None``).
* ``step0``: trial 2 also reports step 0 (the untrained network); the others report 1 … 20.
  Printed: how many trials were pruned, against the same study without that report.  (On the
  code before the fix, 7711f2e~1, the study with that report pruned 0 trials in each of the five
  seeds, against 51, 39, 49, 50 and 53 without it; now both prune those.)

    .venv/bin/python bench/pruner_stress.py > bench/results/pruner_stress.jsonl
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable

import numpy as np
import optuna

from curvecast.integrations.optuna import CurvecastPruner
from curvecast.predictors import HorizonChain

T, TRIALS, SEEDS = 20, 60, 5
STEPS = np.arange(1, T + 1)


def curve(seed: int, number: int) -> np.ndarray:
    """Trial ``number``'s saturating accuracy curve, shape ``(T,)``."""
    r = np.random.default_rng(1000 * seed + number)
    return (r.uniform(0.5, 0.95) * (1 - np.exp(-r.uniform(0.1, 0.5) * STEPS))
            + r.normal(0, 0.005, T))


def study(seed: int, pruner: CurvecastPruner,
          reports: Callable[[int], list[tuple[int, float]]]) -> optuna.Study:
    """A study whose trial n reports ``reports(n)`` (step, value) pairs, asking to prune after
    each."""
    def objective(trial: optuna.Trial) -> float:
        value = 0.0
        for step, value in reports(trial.number):
            trial.report(float(value), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(value)

    out = optuna.create_study(direction="maximize", pruner=pruner,
                              sampler=optuna.samplers.RandomSampler(seed=seed))
    out.optimize(objective, n_trials=TRIALS)
    return out


def collapse(seed: int, mode: str) -> Callable[[int], list[tuple[int, float]]]:
    def reports(n: int) -> list[tuple[int, float]]:
        values = curve(seed, n)
        if mode != "none" and n % 5 == 0:
            values[10:] = np.inf if mode == "inf" else 0.0
        return list(zip(STEPS.tolist(), values.tolist(), strict=True))
    return reports


def step0(seed: int, with_step_0: bool) -> Callable[[int], list[tuple[int, float]]]:
    def reports(n: int) -> list[tuple[int, float]]:
        pairs = list(zip(STEPS.tolist(), curve(seed, n).tolist(), strict=True))
        return [(0, 0.1), *pairs] if with_step_0 and n == 2 else pairs
    return reports


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")  # the pruner's once-per-study notices
    for trim in (None, 5.0):
        for mode in ("none", "inf", "zero"):
            spent = []
            for seed in range(SEEDS):
                s = study(seed, CurvecastPruner(predictor=HorizonChain(trim_worse=trim)),
                          collapse(seed, mode))
                spent.append(sum(len(t.intermediate_values) for t in s.trials if t.number % 5))
            print(json.dumps({"test": "collapse", "trim_worse": trim, "collapse": mode,
                              "normal_trial_epochs": spent, "mean": float(np.mean(spent))}),
                  flush=True)
    for with_step_0 in (False, True):
        pruned = [sum(t.state is optuna.trial.TrialState.PRUNED
                      for t in study(seed, CurvecastPruner(), step0(seed, with_step_0)).trials)
                  for seed in range(SEEDS)]
        print(json.dumps({"test": "step0", "trial_2_reports_step_0": with_step_0,
                          "pruned": pruned, "trials": TRIALS}), flush=True)


if __name__ == "__main__":
    main()
