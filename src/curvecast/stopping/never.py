"""NeverStop: every trial is trained to the end (the baseline every speedup is measured against)."""

from __future__ import annotations

from curvecast.stopping._base import Action, Decision, History, Stopper, Trial, trial_epoch


class NeverStop(Stopper):
    """Always CONTINUE: full training of every configuration."""

    def __repr__(self) -> str:
        return "NeverStop()"

    def decide(self, trial: Trial, history: History) -> Decision:
        return Decision(Action.CONTINUE, epoch=trial_epoch(trial, history),
                        reason="never stops")
