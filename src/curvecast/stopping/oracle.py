"""Oracle: knows every final value — the physical limit of early stopping's speedup (replay only)."""

from __future__ import annotations

from curvecast.curves import CurveSet
from curvecast.stopping._base import (
    Action,
    Decision,
    History,
    Stopper,
    Trial,
    check_min_complete,
    trial_epoch,
)


class Oracle(Stopper):
    """Stops a trial at its first decision (after epoch 1) unless its true final value will beat
    every complete trial's — only runs that become the best so far are trained to the end.

    After ``min_complete`` complete trials this is the fewest epochs any stopper that keeps the
    best-so-far sequence can use: on the paper's 1000 MetaQNN curves with 100 complete curves first,
    about 6.8x fewer epochs than full training.

    Args:
        curves: the recorded curves the replay runs over (their final values are the oracle's).
        min_complete: complete trials needed before any stop.
    """

    def __init__(self, curves: CurveSet, min_complete: int = 100) -> None:
        self.min_complete = check_min_complete(min_complete)
        finals = curves.final_values()
        self.finals_ = dict(zip(curves.config_ids, (float(v) for v in finals), strict=True))

    def __repr__(self) -> str:
        return f"Oracle(min_complete={self.min_complete}, configs={len(self.finals_)})"

    def decide(self, trial: Trial, history: History) -> Decision:
        epoch = trial_epoch(trial, history)
        n = history.n_complete
        if n < max(self.min_complete, 1) or trial.tau >= history.n_epochs:
            return Decision(Action.CONTINUE, epoch=epoch,
                            reason=f"{n} complete trials (needs {self.min_complete})")
        try:
            final = self.finals_[trial.config_id]
        except KeyError:
            raise KeyError(f"config {trial.config_id!r} is not in the oracle's curves") from None
        best = history.direction.best(history.final_values())
        if history.direction.is_better(final, best):
            return Decision(Action.CONTINUE, epoch=epoch, mean=final, std=0.0, probability=0.0,
                            reason=f"final {final:.4g} will beat the best so far {best:.4g}")
        return Decision(Action.STOP, epoch=epoch, mean=final, std=0.0, probability=1.0,
                        reason=f"final {final:.4g} will not beat the best so far {best:.4g}")
