"""The speedup experiment's metrics (:mod:`curvecast.experiments.speedup`) with hand numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from curvecast import CurveSet, Direction
from curvecast.experiments.speedup import (
    SpeedupSettings,
    StopperSpec,
    _anytime_record,
    run_speedup,
    select,
)
from curvecast.search import Searcher
from curvecast.stopping import Action, Decision, History, Stopper, Trial


class _Adaptive(Searcher):
    """Asks c0, then c2 (cheap) when c0's result was a prediction (it was stopped), else c1
    (expensive): a searcher whose configs depend on the rule, as MetaQNN's and TPE's do."""

    def __init__(self) -> None:
        self._next: str | None = "c0"

    def ask(self) -> str | None:
        asked, self._next = self._next, None
        return asked

    def tell(self, config_id: str, value: float, predicted: bool) -> None:
        if config_id == "c0":
            self._next = "c2" if predicted else "c1"


class _StopC0(Stopper):
    """Stops c0 after its first epoch, nothing else."""

    def decide(self, trial: Trial, history: History) -> Decision:
        tau = len(trial.values)
        if trial.config_id == "c0":
            return Decision(Action.STOP, tau, reason="test")
        return Decision(Action.CONTINUE, tau)


def _three_configs() -> CurveSet:
    values = np.array([[0.5, 0.6], [0.55, 0.7], [0.4, 0.5]])
    seconds = np.array([[1.0, 1.0], [10.0, 10.0], [1.0, 1.0]])
    configs = pd.DataFrame({"n_params": [1e4] * 3, "n_layers": [3] * 3},
                           index=["c0", "c1", "c2"])
    return CurveSet(values=values, observed=np.ones((3, 2), bool), epochs=np.array([1, 2]),
                    metric="acc", direction=Direction.MAXIMIZE, configs=configs,
                    seconds=seconds)


def test_time_speedup_is_against_full_training_of_the_same_configs() -> None:
    """A review (rev4): with a searcher whose configs depend on the rule (MetaQNN, TPE), the
    time speedup divided the full training of *never*'s configs (c0 and the expensive c1: 22 s)
    by the rule's replay (1 s of c0, 2 s of the cheap c2): 7.33x for a rule that saved one epoch
    of 4 (the epoch speedup, 1.33x, is against full training of the same configs)."""
    out = run_speedup(_three_configs(), {"adaptive": lambda cs, seed: _Adaptive()},
                      [StopperSpec("stop-c0", lambda delta, fits: _StopC0())],
                      SpeedupSettings(deltas=(0.9,), orderings=1))
    [run] = out["runs"]
    assert run["epochs"] == 3 and run["speedup"] == pytest.approx(4 / 3)
    assert run["time_speedup"] == pytest.approx(4 / 3)  # (2 + 2) s of full training ÷ (1 + 2) s
    [rec] = select(out["results"], metric="time_speedup")
    assert rec["mean"] == pytest.approx(4 / 3)


def test_anytime_regret_has_no_standard_error_from_one_ordering() -> None:
    """A review (rev4): where only one ordering had a complete config, the any-time record gave
    a standard error of 0 (as if certain), while every summary says None from fewer than two."""
    traces = [np.array([np.nan, np.nan, 0.2, 0.0]), np.array([np.nan, 0.4, 0.1, 0.0])]
    rec = _anytime_record({"searcher": "s", "stopper": "r"},
                          [np.resize(t, 41) for t in traces])
    assert rec["regret_mean"][:4] == [None, 0.4, pytest.approx(0.15), 0.0]
    assert rec["regret_stderr"][:2] == [None, None]
    assert rec["regret_stderr"][2] == pytest.approx(0.05)
    assert rec["found"][:4] == [0.0, 0.5, 1.0, 1.0]
