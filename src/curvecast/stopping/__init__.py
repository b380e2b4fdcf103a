"""Early-stopping rules: ``decide(trial, history) -> Decision`` (one file per rule)."""

from curvecast.stopping._base import (
    Action,
    Decision,
    History,
    Stopper,
    Trial,
    check_count,
    check_delta,
    check_eta,
    checked_decision,
    reaches_delta,
    trial_epoch,
    versus_delta,
)
from curvecast.stopping.asha import ASHA
from curvecast.stopping.median import MedianRule
from curvecast.stopping.never import NeverStop
from curvecast.stopping.oracle import Oracle
from curvecast.stopping.predictive import (
    DEFAULT_DELTA,
    FitCache,
    PredictiveStopper,
    diverged_run,
)

__all__ = [
    "ASHA",
    "DEFAULT_DELTA",
    "Action",
    "Decision",
    "FitCache",
    "History",
    "MedianRule",
    "NeverStop",
    "Oracle",
    "PredictiveStopper",
    "Stopper",
    "Trial",
    "check_count",
    "check_delta",
    "check_eta",
    "checked_decision",
    "diverged_run",
    "reaches_delta",
    "trial_epoch",
    "versus_delta",
]
