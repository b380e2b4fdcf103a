"""Experiment (stop 22, not adopted): calibrate the chain's σ on the furthest horizon many runs
reach, instead of on the few finished runs.

``HorizonChain.calibration(τ)`` scales the propagated variance by the mean squared standardised
error (the better side only) of the chain's predictions for the *finished* curves, floored at 1.
In a 200-trial Optuna study those are 10–30 runs.  This variant, for a chain from τ epochs, takes
the furthest horizon h < T of its ladder that at least ``cal_rows`` curves reach (and that is at
least the second horizon, so at least two links are composed), runs the chain from τ to h for
those curves, and uses the same mean squared standardised error at h as the factor, floored at
``floor`` instead of 1; without such a horizon it keeps the finished curves' factor.  It runs the
stand-in Optuna protocol of ``bench/protocol_sim.py`` (200 trials, seeds ``--first-seed`` …,
``PredictiveStopper()`` at its defaults around the variant) and prints one JSON line per set, as
``protocol_sim`` does.

    .venv/bin/python bench/horizon_calibration.py --data all --seeds 10 --first-seed 0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import add_study_arguments, report_sets, stopper_rule

from curvecast.predictors import HorizonChain
from curvecast.stopping import PredictiveStopper


class HorizonCalibratedChain(HorizonChain):
    """:class:`HorizonChain` whose calibration factor comes from the furthest well-populated
    horizon (see the module docstring)."""

    def __init__(self, cal_rows: int = 30, floor: float = 0.5, **settings: object) -> None:
        super().__init__(**settings)  # type: ignore[arg-type]
        self.cal_rows = cal_rows
        self.floor = floor

    def _calibrate(self, tau: int, final: NDArray[np.float64], mean: NDArray[np.float64],
                   var: NDArray[np.float64]) -> None:
        super()._calibrate(tau, final, mean, var)
        ladder = self._ladder(tau)
        reached = [b for b in ladder[:-1] if self._reaching(b).size >= self.cal_rows]
        if len(reached) < 2:  # one link: its in-sample error says nothing about the chain
            return
        h = reached[-1]
        rows = self._reaching(h)
        self.ladders_[tau] = ladder[: ladder.index(h) + 1]  # the chain from tau to h
        try:
            m, v, _, _ = self._chain(self.u_[rows], self.best_[rows], tau)
        finally:
            self.ladders_[tau] = ladder
        factor = float(np.mean(self._squared(self.u_[rows, h - 1] - m) / v))
        self.calibration_[tau] = max(self.floor, factor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--cal-rows", type=int, default=30)
    parser.add_argument("--floor", type=float, default=0.5)
    args = parser.parse_args()
    settings = {"cal_rows": args.cal_rows, "floor": args.floor}
    report_sets(args, {"rule": f"horizon-calibrated {settings}"},
                lambda curves, seed: lambda: stopper_rule(PredictiveStopper(
                    predictor=HorizonCalibratedChain(**settings))))


if __name__ == "__main__":
    main()
