"""On Ray every stopper is curvecast's own: CurvecastScheduler runs MedianRule and ASHA (with
``min_complete``) over the same study view, so Tune stops a trial exactly where the rule does."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before ray is imported
pytest.importorskip("ray", reason="the Ray scheduler needs curvecast[ray]")

from ray.tune.schedulers import TrialScheduler

from curvecast import Direction
from curvecast.integrations.ray_tune import CurvecastScheduler
from curvecast.stopping import ASHA, History, MedianRule, Stopper

T = 4
#: Six trials' curves, run one after another (trial i reports its epochs before trial i + 1).
CURVES = [[0.5, 0.6, 0.7, 0.8], [0.4, 0.5, 0.6, 0.7], [0.1, 0.15, 0.2, 0.25],
          [0.55, 0.65, 0.75, 0.85], [0.2, 0.3, 0.35, 0.4], [0.45, 0.62, 0.7, 0.72]]


@dataclass
class FakeTrial:
    """What the scheduler reads of a Tune trial."""

    trial_id: str
    config: dict[str, Any] = field(default_factory=dict)
    local_path: None = None
    storage: None = None


def expected_stops(stopper: Stopper) -> list[int | None]:
    """Per trial, the epoch at which the rule itself stops it (None: trained to T)."""
    done: list[list[float]] = []
    stops: list[int | None] = []
    for i, curve in enumerate(CURVES):
        stopped = None
        for tau in range(1, T):
            ids = [f"t{j}" for j in range(len(done))] + [f"t{i}"]
            history = History.from_curves([*done, curve[:tau]], ids, pd.DataFrame(index=ids),
                                          np.arange(1, T + 1), "acc", Direction.MAXIMIZE)
            if stopper.decide(history.trial(len(ids) - 1), history).stop:
                stopped = tau
                break
        stops.append(stopped)
        done.append(curve if stopped is None else curve[:stopped])
    return stops


@pytest.mark.parametrize("make", [lambda: MedianRule(min_complete=2),
                                  lambda: ASHA(eta=2.0, min_complete=2)], ids=["median", "asha"])
def test_tune_stops_where_the_rule_stops(make: Any) -> None:
    expected = expected_stops(make())
    assert any(s is not None for s in expected)  # the curves are made to be stopped
    scheduler = CurvecastScheduler(T, metric="acc", mode="max", stopper=make())
    got: list[int | None] = []
    for i, curve in enumerate(CURVES):
        trial = FakeTrial(f"t{i}")
        scheduler.on_trial_add(None, trial)  # type: ignore[arg-type]
        stopped = None
        for epoch, value in enumerate(curve, start=1):
            answer = scheduler.on_trial_result(None, trial,  # type: ignore[arg-type]
                                               {"acc": value, "training_iteration": epoch})
            if answer == TrialScheduler.STOP:
                stopped = epoch if epoch < T else None
                break
        if stopped is None:
            scheduler.on_trial_complete(None, trial, {})  # type: ignore[arg-type]
        got.append(stopped)
    assert got == expected
    assert scheduler.n_stopped_ == sum(s is not None for s in expected)
