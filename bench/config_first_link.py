"""Experiment (stop 22, the lead left open): the chain's first link also regresses on the run's
config, in the stand-in Optuna protocol of ``bench/protocol_sim.py``.

The config's numeric columns (e.g. learning rate, weight decay, batch size, parameter count;
text columns such as the architecture string are left out), a log taken of positive columns
spanning more than a factor of 20, each standardised over the set's configs, are extra inputs of
the chain's first link once at least 50 curves reach its horizon; fewer, and the link is the
default one.  Every other part of the rule is the default (``PredictiveStopper()``, with
exploration).  The stand-in gives each trial its recorded config, as an Optuna study would give
its params.  Prints one JSON line per set, as ``protocol_sim`` does (``docs/results-benchmark.md``,
stop 22).

    .venv/bin/python bench/config_first_link.py --data all --seeds 10 [--first-seed 10]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import (
    RefittingStopper,
    Rule,
    add_study_arguments,
    draw_configs,
    report_sets,
    stopper_rule,
)

from curvecast import CurveSet
from curvecast.predictors import HorizonChain, Predictor
from curvecast.predictors.horizon_chain import _Link
from curvecast.stopping import History

MIN_ROWS = 50  # curves a first link needs before it takes the config columns


def config_features(configs: pd.DataFrame) -> NDArray[np.float64]:
    """The configs' numeric columns that vary, logged when positive and spanning > 20x,
    standardised: shape ``(n_configs, k)``."""
    numeric = configs.select_dtypes("number").astype(float)
    numeric = numeric.loc[:, numeric.nunique() > 1]
    out = pd.DataFrame(index=numeric.index)
    for name, x in numeric.items():
        out[name] = np.log(x) if (x > 0).all() and x.max() / x.min() > 20 else x
    return np.asarray(((out - out.mean()) / out.std()).to_numpy(), dtype=np.float64)


class ConfigChain(HorizonChain):
    """:class:`HorizonChain` whose first link also sees ``Z_`` (config features of the fitted
    curves) and ``Zq_`` (of the curve being predicted)."""

    def __init__(self, **settings: object) -> None:
        settings.setdefault("features", "last+best")  # stop 22's chain (before the last step)
        super().__init__(**settings)  # type: ignore[arg-type]
        self.Z_: NDArray[np.float64] = np.zeros((0, 0))
        self.Zq_: NDArray[np.float64] = np.zeros((0, 0))
        self._fitting = False
        self._fit_z: NDArray[np.float64] | None = None
        self._chain_z: NDArray[np.float64] | None = None
        self._first: _Link | None = None

    def _design(self, u: NDArray[np.float64], best: NDArray[np.float64], a: int,
                first: bool, sloped: bool = False) -> NDArray[np.float64]:
        X = super()._design(u, best, a, first, sloped)
        if not first:
            return X
        if self._fitting:
            return X if self._fit_z is None else np.column_stack([X, self._fit_z])
        if self._first is not None and self._first.beta.shape[0] > X.shape[1]:
            assert self._chain_z is not None  # set by predict_latent before every chain
            return np.column_stack([X, self._chain_z])
        return X

    def _link(self, a: int, b: int, first: bool, tau: int) -> _Link | None:
        new = (a if first else -a, b, 0) not in self.links_
        if first and new and self._reaching(b).size >= MIN_ROWS:
            self._fit_z = self.Z_[self._reaching(b)]
        self._fitting = True
        try:
            link = super()._link(a, b, first, tau)
        finally:
            self._fitting, self._fit_z = False, None
        if first:
            self._first = link
        return link

    def predict_latent(self, partial: NDArray[np.float64],
                       configs: pd.DataFrame | None = None
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                                  NDArray[np.bool_]]:
        y = self._filled(partial)
        tau = y.shape[1]
        u = self._to_u(y)
        best = np.fmax.accumulate(u, axis=1)
        if tau not in self.calibration_:  # on the finished curves, with their own configs
            rows = np.flatnonzero(self.n_observed_ >= self.n_epochs_)
            self._chain_z = self.Z_[rows]
            m, v, _, _ = self._chain(self.u_[rows], self.best_[rows], tau)
            self._calibrate(tau, self.u_[rows, -1], m, v)
        self._chain_z = self.Zq_
        mean, var, dof, clipped = self._chain(u, best, tau)
        return mean, np.sqrt(var * self.calibration_[tau]), dof, clipped


class ConfigStopper(RefittingStopper):
    """``PredictiveStopper`` that hands its :class:`ConfigChain` the trials' config features
    (``features[picked[i]]`` for trial i)."""

    def __init__(self, features: NDArray[np.float64], picked: NDArray[np.int64]) -> None:
        super().__init__(predictor=ConfigChain())
        self.features = features
        self.picked = picked

    def prepare(self, model: Predictor, history: History, keep: np.ndarray) -> None:
        model.Z_ = self.features[self.picked[: history.n_trials][keep]]  # type: ignore[attr-defined]

    def ask(self, model: Predictor, row: int) -> None:
        model.Zq_ = self.features[self.picked[row]][None, :]  # type: ignore[attr-defined]


def config_rule(curves: CurveSet, seed: int) -> Callable[[], Rule]:
    """The rule of a study of seed ``seed`` on ``curves``: trial i gets the features of the
    config ``draw_configs`` gives it."""
    features = config_features(curves.configs)
    picked = draw_configs(curves.n_configs, 200, seed)
    return lambda: stopper_rule(ConfigStopper(features, picked))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    args = parser.parse_args()
    report_sets(args, {"rule": "config first link"}, config_rule)


if __name__ == "__main__":
    main()
