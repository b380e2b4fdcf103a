"""Experiments (stop 22, none adopted): three changes to the default rule's chain, in the stand-in
Optuna protocol of ``bench/protocol_sim.py`` (200 trials, ``PredictiveStopper()`` at its
defaults around the variant, exploration on).

* ``quadratic``: polynomial links of ``--degree`` (2: ``[1, u, u²]``, the first link also with
  the best value so far), on the first link only (``--links first``) or all along the chain
  (``--links all``); a later link carries the input's variance by its local slope at the mean.
  A link fitted on fewer than 20 curves stays linear.
* ``shrink``: the calibration factor may go below 1: a factor ``f < 1`` from ``n`` finished
  curves becomes ``(n·f + k) / (n + k)`` (shrunk towards 1 with a prior weight of ``--k`` curves);
  a factor ≥ 1 is kept as it is.
* ``ipw``: the links are weighted least squares in which a run the rule let run on by exploration
  (a would-be stop drawn with probability ``explore``) counts ``1 / explore`` times
  (Horvitz–Thompson), so the links learn from every kind of run, not only from those the rule
  let through.

Prints one JSON line per data set, as ``protocol_sim`` does (``docs/results-benchmark.md``, stop 22,
has the numbers).

    .venv/bin/python bench/chain_variants.py --variant ipw --data all --seeds 10
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import RefittingStopper, Rule, add_study_arguments, report_sets, stopper_rule

from curvecast.predictors import HorizonChain, Predictor
from curvecast.predictors.horizon_chain import _Link
from curvecast.stopping import History, PredictiveStopper

POLY_ROWS = 20  # curves a link needs before it gets the polynomial terms


class QuadraticChain(HorizonChain):
    """Polynomial links (Markov links only; see the module docstring)."""

    def __init__(self, degree: int = 2, which: str = "all", **settings: Any) -> None:
        super().__init__(**settings)
        self.degree = degree
        self.which = which
        self._poly = False

    def _design(self, last: NDArray[np.float64], best: NDArray[np.float64],
                first: bool) -> NDArray[np.float64]:
        X = super()._design(last, best, first)
        if self._poly:
            X = np.column_stack([X, *(last ** k for k in range(2, self.degree + 1))])
        return X

    def _link(self, a: int, b: int, first: bool, tau: int) -> _Link | None:
        self._poly = ((first or self.which == "all")
                      and self._reaching(b).size >= POLY_ROWS)
        return super()._link(a, b, first, tau)

    def _chain(self, u: NDArray[np.float64], best: NDArray[np.float64], tau: int,
               z: NDArray[np.float64] | None = None  # the stand-in's trials carry no configs
               ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                          NDArray[np.bool_]]:
        n = u.shape[0]
        mean, var, spread = np.zeros(n), np.zeros(n), np.zeros(n)
        clipped = np.zeros(n, dtype=bool)
        a, first = tau, True
        for b in self._ladder(tau):
            link = self._link(a, b, first, tau)
            if link is None:
                b = self.n_epochs_
                link = self._link(a, b, first, tau)
                if link is None:
                    raise ValueError(f"too few curves observed to epoch {b} to predict")
            poly = self._poly
            x = u[:, a - 1] if first else mean
            X = self._design(x, best[:, a - 1] if first else x, first)  # later links: no best
            m = X @ link.beta
            own = link.s2 * (1.0 + ((X @ link.a_inv) * X).sum(axis=1))
            if first:
                var, spread = own, own * own / link.dof
            else:
                slope = link.beta[1] + (sum(k * link.beta[k] * x ** (k - 1)
                                            for k in range(2, self.degree + 1)) if poly else 0.0)
                carry = slope * slope
                var = carry * var + own
                spread = carry * carry * spread + own * own / link.dof
            low, high = link.bound
            clipped = clipped | (m < low) | (m > high)
            mean = np.minimum(np.maximum(m, low), high)
            a, first = b, False
            if b == self.n_epochs_:
                break
        return mean, var, var ** 2 / spread, clipped


class ShrunkChain(HorizonChain):
    """A calibration factor below 1 shrunk towards 1 (see the module docstring)."""

    def __init__(self, k: float = 20.0, **settings: Any) -> None:
        super().__init__(**settings)
        self.k = k

    def _calibrate(self, tau: int, final: NDArray[np.float64], mean: NDArray[np.float64],
                   var: NDArray[np.float64]) -> None:
        raw = float(np.mean(self._squared(final - mean) / var))
        n = final.shape[0]
        self.calibration_[tau] = raw if raw >= 1.0 else (n * raw + self.k) / (n + self.k)


class WeightedChain(HorizonChain):
    """Links fitted by weighted least squares with per-curve weights ``weights_`` (set after
    ``fit_arrays``; normalised to mean 1 per link); ``None`` fits as the chain does."""

    weights_: NDArray[np.float64] | None = None

    def _link(self, a: int, b: int, first: bool, tau: int) -> _Link | None:
        if self.weights_ is None or self.links != "markov":
            return super()._link(a, b, first, tau)
        key = (a if first else -a, b, 0)
        if key in self.links_:
            return self.links_[key]
        rows = self._reaching(b)
        X = self._design(self.u_[rows, a - 1], self.best_[rows, a - 1], first)
        link = None
        if rows.size >= max(self.min_rows, X.shape[1] + 2):
            w = self.weights_[rows] / self.weights_[rows].mean()
            y = self.u_[rows, b - 1]
            a_inv = np.asarray(np.linalg.inv(X.T @ (w[:, None] * X)
                                             + self.ridge * np.eye(X.shape[1])), dtype=np.float64)
            beta = a_inv @ (X.T @ (w * y))
            resid = y - X @ beta
            p = X.shape[1]
            dof = max(float(w.sum() ** 2 / (w ** 2).sum()) - p, 1.0)
            centred = y - np.average(y, weights=w)
            floor = 1e-12 * (1.0 + float(np.average(centred ** 2, weights=w)))
            s2 = max(float(np.sum(w * self._squared(resid))) / max(float(w.sum()) - p, 1.0),
                     floor)
            link = _Link(beta, a_inv, s2, dof, float(y.min()), float(y.max()), False, self.clip)
        self.links_[key] = link
        return link


class WeightingStopper(RefittingStopper):
    """``PredictiveStopper`` whose predictor weighs each trial by ``1 / explore`` if exploration
    let it run on, else 1."""

    def prepare(self, model: Predictor, history: History, keep: np.ndarray) -> None:
        explored = [self._explored.get((history.study, str(c)), 0) > 0
                    for c in np.asarray(history.config_ids)[keep]]
        model.weights_ = np.where(explored, 1.0 / self.explore, 1.0)  # type: ignore[attr-defined]


def rule(variant: str, args: argparse.Namespace) -> Rule:
    stopper: PredictiveStopper
    if variant == "quadratic":
        stopper = PredictiveStopper(predictor=QuadraticChain(degree=args.degree, which=args.links))
    elif variant == "shrink":
        stopper = PredictiveStopper(predictor=ShrunkChain(k=args.k))
    else:
        stopper = WeightingStopper(predictor=WeightedChain())
    return stopper_rule(stopper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=("quadratic", "shrink", "ipw"), required=True)
    add_study_arguments(parser)
    parser.add_argument("--degree", type=int, default=2)
    parser.add_argument("--links", choices=("first", "all"), default="all")
    parser.add_argument("--k", type=float, default=20.0)
    args = parser.parse_args()
    report_sets(args, {"variant": args.variant},
                lambda curves, seed: lambda: rule(args.variant, args))


if __name__ == "__main__":
    main()
