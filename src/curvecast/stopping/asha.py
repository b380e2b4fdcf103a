"""Asynchronous successive halving as a stopping rule (Li et al. 2020, ASHA; Ray Tune's variant)."""

from __future__ import annotations

import math

import numpy as np

from curvecast.stopping._base import (
    Action,
    Decision,
    History,
    Stopper,
    Trial,
    check_count,
    check_eta,
    check_min_complete,
    trial_epoch,
)


class ASHA(Stopper):
    """At each rung τ = ``min_epochs``·η^k, stop a trial unless its value is in the top 1/η of the
    values at τ of every trial that reached τ so far (itself included): it must not be below the
    (1 − 1/η) quantile (linear interpolation), mirrored for metrics to minimise.

    Ray Tune's variant, not Optuna's ``SuccessiveHalvingPruner``, which keeps the top ⌊n/η⌋ by
    rank of the trials that recorded the rung and judges nothing before a trial completes: on
    the same curves the two stop different trials (a review, stop 36: about 30 of 100 in one
    ordering of digits-metaqnn).

    Args:
        eta: reduction factor η (a finite number > 1; close to 1, every epoch is a rung).
        min_epochs: the first rung, in trained epochs (a whole number ≥ 1).
        min_complete: complete trials needed before any stop.
    """

    def __init__(self, eta: float = 3.0, min_epochs: int = 1, min_complete: int = 0) -> None:
        self.eta = check_eta(eta)
        self.min_epochs = check_count("min_epochs", min_epochs, 1)
        self.min_complete = check_min_complete(min_complete)

    def __repr__(self) -> str:
        return (f"ASHA(eta={self.eta:g}, min_epochs={self.min_epochs}, "
                f"min_complete={self.min_complete})")

    def rungs(self, n_epochs: int) -> list[int]:
        """The rungs (trained epochs) below full training of ``n_epochs`` epochs."""
        out: list[int] = []
        k = 0
        while (rung := round(self.min_epochs * self.eta ** k)) < n_epochs:
            if not out or rung > out[-1]:
                out.append(rung)
            # skip the powers that round to this rung again (an η near 1 has many): the next
            # rung needs min_epochs·η^k ≥ rung + 0.5, one power early for rounding errors
            k = max(k + 1, math.floor(math.log((rung + 0.5) / self.min_epochs)
                                      / math.log(self.eta)) - 1)
        return out

    def decide(self, trial: Trial, history: History) -> Decision:
        tau = trial.tau
        epoch = trial_epoch(trial, history)
        n = history.n_complete
        if tau not in self.rungs(history.n_epochs):
            return Decision(Action.CONTINUE, epoch=epoch, reason="not at a rung")
        if n < self.min_complete:
            return Decision(Action.CONTINUE, epoch=epoch,
                            reason=f"rung {tau}: {n} of {self.min_complete} complete trials "
                                   "before any stop")
        sign = history.direction.sign
        reached = history.n_observed >= tau
        values = sign * history.values[reached, tau - 1]
        if not values.size:  # (min_complete 0: nothing to compare with yet)
            return Decision(Action.CONTINUE, epoch=epoch,
                            reason=f"rung {tau}: no trial has reached it yet")
        cutoff = _upper_quantile(values, self.eta)
        mine = sign * float(trial.values[-1])
        how = f"rung {tau}: {mine * sign:.4g} vs cutoff {sign * cutoff:.4g} of {values.size} trials"
        if mine < cutoff:
            return Decision(Action.STOP, epoch=epoch, reason=how)
        return Decision(Action.CONTINUE, epoch=epoch, reason=how)


def _upper_quantile(values: np.ndarray, eta: float) -> float:
    """The (1 − 1/η) quantile of ``values`` (linear interpolation), with the order statistic
    itself where the quantile falls on one: its position (n − 1)(1 − 1/η) is then a whole number,
    which ``np.quantile`` can miss by an ulp (1 − 1/3 is 0.6666666666666667, so with 10 values
    it interpolated 1e-15 of the way to the next one) — and a trial tied with that value, common
    with accuracies on a finite validation set, was stopped instead of kept."""
    pos = (values.size - 1) * (eta - 1.0) / eta
    k = round(pos)
    # (a NaN: np.quantile's NaN, whatever the position; np.partition would sort it above every
    # number and give a finite order statistic when the position is whole)
    if math.isclose(pos, k, rel_tol=1e-12, abs_tol=1e-12) and not np.isnan(values).any():
        return float(np.partition(values, k)[k])
    return float(np.quantile(values, 1.0 - 1.0 / eta))
