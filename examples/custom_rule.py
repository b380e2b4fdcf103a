"""Your own stopping rule and your own predictor, compared with curvecast's by replay.

    .venv/bin/python examples/custom_rule.py                       # digits-metaqnn, 3 orderings
    .venv/bin/python examples/custom_rule.py --data data/text-lstm.parquet --orderings 5

A stopping rule is a :class:`curvecast.stopping.Stopper`: ``decide(trial, history)`` is called
after every epoch but the last of every trial and returns a :class:`~curvecast.stopping.Decision`
to CONTINUE or STOP.  ``trial.values`` is the running trial's curve so far (``trial.tau`` epochs);
``history`` holds every trial of the study so far, the running one included (``values`` of shape
``(n_trials, n_epochs)`` with NaN beyond what was observed, ``n_observed``, ``complete``,
``final_values()``, ``direction``).  ``history`` is valid for the call only: copy what you keep.

A predictor is a :class:`curvecast.predictors.Predictor`: ``fit(curves)`` learns from complete
curves and returns ``self``; ``predict(configs, partial)`` gets ``partial`` of shape ``(n, tau)``
and returns a :class:`~curvecast.predictors.Prediction` (a mean and a σ > 0 per row).
``PredictiveStopper(predictor=...)`` turns it into the paper's rule: stop when P(final worse
than the best so far) ≥ Δ.  The same predictor goes into ``CurvecastPruner(predictor=...)``
(Optuna) and ``CurvecastScheduler(predictor=...)`` (Ray Tune); a rule of your own goes into
``CurvecastScheduler(stopper=...)`` and into ``replay`` (below).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast import CurveSet
from curvecast.execution.replay import replay
from curvecast.predictors import Prediction, Predictor
from curvecast.search import RandomSearch
from curvecast.stopping import (
    Action,
    Decision,
    History,
    MedianRule,
    PredictiveStopper,
    Stopper,
    Trial,
    trial_epoch,
)


class PercentileRule(Stopper):
    """Stop a trial whose value after τ epochs is in the worst ``share`` of the values every
    trial had after τ epochs (once ``min_trials`` trials got there)."""

    def __init__(self, share: float = 0.5, min_trials: int = 10) -> None:
        self.share, self.min_trials = share, min_trials

    def decide(self, trial: Trial, history: History) -> Decision:
        tau = trial.tau
        epoch = trial_epoch(trial, history)  # the epoch on the study's axis (checks τ)
        reached = history.n_observed >= tau
        if reached.sum() < self.min_trials:
            return Decision(Action.CONTINUE, epoch=epoch, reason="too few trials got here")
        sign = history.direction.sign  # +1: larger is better; -1: smaller is better
        cutoff = float(np.quantile(sign * history.values[reached, tau - 1], self.share))
        mine = sign * float(trial.values[-1])
        action = Action.STOP if mine < cutoff else Action.CONTINUE
        return Decision(action, epoch=epoch, reason=f"{mine:.4g} vs {cutoff:.4g}")


class LinearExtrapolation(Predictor):
    """The last value plus the last step times the epochs to go, shrunk by ``shrink``; σ: the
    root-mean-square error of that guess on the complete curves at the same τ."""

    uses_configs = False  # the curve alone

    def __init__(self, shrink: float = 0.3) -> None:
        self.shrink = shrink

    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> LinearExtrapolation:
        trained = curves.without_untrained_epoch()
        self.curves_ = trained.filled_values()[np.asarray(trained.is_complete(), dtype=bool)]
        return self

    def _guess(self, partial: NDArray[np.float64]) -> NDArray[np.float64]:
        tau, to_go = partial.shape[1], self.curves_.shape[1] - partial.shape[1]
        step = partial[:, -1] - partial[:, -2] if tau > 1 else np.zeros(len(partial))
        return partial[:, -1] + self.shrink * step * to_go

    def predict(self, configs: pd.DataFrame, partial: NDArray[np.float64]) -> Prediction:
        partial = np.asarray(partial, dtype=np.float64)
        tau = partial.shape[1]
        errors = self._guess(self.curves_[:, :tau]) - self.curves_[:, -1]
        sigma = max(float(np.sqrt(np.mean(errors ** 2))), 1e-9)
        return Prediction(mean=self._guess(partial), std=np.full(len(partial), sigma))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/digits-metaqnn.parquet"))
    parser.add_argument("--orderings", type=int, default=3)
    parser.add_argument("--trials", type=int, default=200, help="trials per ordering")
    args = parser.parse_args()
    curves = CurveSet.load(args.data)
    rules = {
        "PercentileRule(0.5)": lambda: PercentileRule(0.5),
        "MedianRule()": MedianRule,
        "PredictiveStopper(predictor=LinearExtrapolation())":
            lambda: PredictiveStopper(predictor=LinearExtrapolation()),
        "PredictiveStopper() (curvecast's default)": PredictiveStopper,
    }
    print(f"{args.data}: {curves.n_configs} configs x {curves.n_epochs} epochs, "
          f"{args.orderings} orderings of {args.trials} trials")
    print(f"{'rule':52s} {'speedup':>8s} {'best kept':>10s}")
    for name, make in rules.items():
        results = [replay(curves, RandomSearch.from_curves(curves, seed=seed,
                                                           max_trials=args.trials), make())
                   for seed in range(args.orderings)]  # a fresh rule per replay
        speedup = sum(r.full_epochs for r in results) / sum(r.total_epochs for r in results)
        kept = sum(bool(r.best_kept) for r in results)
        print(f"{name:52s} {speedup:7.2f}x {kept:>6d}/{len(results)}")


if __name__ == "__main__":
    main()
