"""The median stopping rule of Google Vizier (Golovin et al. 2017, §3.2.2)."""

from __future__ import annotations

import numpy as np

from curvecast.stopping._base import (
    Action,
    Decision,
    History,
    Stopper,
    Trial,
    check_count,
    check_min_complete,
    trial_epoch,
)


class MedianRule(Stopper):
    """Stop a trial at epoch τ if its best value so far is strictly worse than the median, over the
    complete trials, of their running averages ``mean(y_1..y_τ)``.

    Not Optuna's ``MedianPruner``, which compares the best value so far with the median of the
    complete trials' values *at* step τ: on the same curves the two stop different trials (a
    review, stop 36: 13 of 100 in one ordering of digits-metaqnn).  The benchmark runs Optuna's
    own pruners in its Optuna part.

    Args:
        min_complete: complete trials needed before any stop (at least 1).
        warmup_epochs: never stop at τ ≤ ``warmup_epochs``.
    """

    def __init__(self, min_complete: int = 5, warmup_epochs: int = 0) -> None:
        self.min_complete = max(check_min_complete(min_complete), 1)
        self.warmup_epochs = check_count("warmup_epochs", warmup_epochs)

    def __repr__(self) -> str:
        return f"MedianRule(min_complete={self.min_complete}, warmup_epochs={self.warmup_epochs})"

    def decide(self, trial: Trial, history: History) -> Decision:
        tau = trial.tau
        epoch = trial_epoch(trial, history)
        n = history.n_complete
        if n < self.min_complete or tau <= self.warmup_epochs or tau >= history.n_epochs:
            return Decision(Action.CONTINUE, epoch=epoch,
                            reason=f"{n} complete trials (needs {self.min_complete}), "
                                   f"warm-up {self.warmup_epochs} epochs")
        sign = history.direction.sign
        averages = history.values[history.complete, :tau].mean(axis=1)
        median = float(np.median(averages))
        best = float(sign * np.max(sign * trial.values))
        if sign * best < sign * median:
            return Decision(Action.STOP, epoch=epoch,
                            reason=f"best so far {best:.4g} worse than the median {median:.4g} "
                                   f"of {n} running averages")
        return Decision(Action.CONTINUE, epoch=epoch,
                        reason=f"best so far {best:.4g} not worse than the median {median:.4g}")
