"""The one study view (History.from_curves), the one diverged-value rule, typed decisions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curvecast import CurveSet, Direction
from curvecast.curves import DivergedFill, diverged_fill, fill_diverged
from curvecast.stopping import Action, Decision, History
from curvecast.store import Store


def _view(curves: list[list[float]], direction: Direction,
          diverged_value: float | None = None) -> History:
    ids = [f"t{i}" for i in range(len(curves))]
    return History.from_curves(curves, ids, pd.DataFrame(index=ids), np.arange(1, 4),
                               "m", direction, "s", diverged_value=diverged_value)


def test_from_curves_fills_diverged_values_with_the_worst_seen() -> None:
    h = _view([[0.5, 0.6, 0.7], [0.2, math.nan], [0.4]], Direction.MAXIMIZE)
    assert h.n_observed.tolist() == [3, 2, 1]
    assert h.values[1].tolist()[:2] == [0.2, 0.2]  # NaN → the lowest accuracy in the view
    assert np.isnan(h.values[2, 1:]).all()  # not observed: stays NaN
    assert h.complete.tolist() == [True, False, False]
    assert h.trial(1).values.tolist() == [0.2, 0.2]
    loss = _view([[3.0, 2.0, 1.0], [math.inf, 5.0]], Direction.MINIMIZE)
    assert loss.values[1, 0] == 5.0  # +inf → the highest loss seen
    stated = _view([[0.5, 0.6, 0.7], [math.nan]], Direction.MAXIMIZE, diverged_value=0.1)
    assert stated.values[1, 0] == 0.1


def test_the_view_and_the_curveset_apply_the_same_rule() -> None:
    values = np.array([[0.3, 0.5, np.nan], [0.2, -np.inf, 0.9]])
    observed = np.array([[True, True, False], [True, True, True]])
    cs = CurveSet(values=values, observed=observed, epochs=np.arange(1, 4), metric="acc",
                  direction=Direction.MAXIMIZE, configs=pd.DataFrame(index=["t0", "t1"]))
    view = _view([[0.3, 0.5], [0.2, -np.inf, 0.9]], Direction.MAXIMIZE)
    np.testing.assert_array_equal(cs.filled_values(), view.values)
    np.testing.assert_array_equal(fill_diverged(values, observed, Direction.MAXIMIZE),
                                  view.values)
    assert diverged_fill(Direction.MAXIMIZE, np.array([np.nan])) != 0.0  # no 0.0 fallback
    assert math.isnan(diverged_fill(Direction.MAXIMIZE, np.array([np.nan])))


def test_a_running_fill_is_the_worst_value_seen_so_far() -> None:
    fill = DivergedFill(Direction.MINIMIZE)
    assert math.isnan(fill.fill(math.nan))
    for v in (2.0, math.nan, 7.0, 3.0):
        fill.see(v)
    assert fill.fill(math.inf) == 7.0 and fill.fill(1.5) == 1.5
    assert DivergedFill(Direction.MAXIMIZE, diverged_value=0.1).fill(math.nan) == 0.1


def test_decisions_are_typed_and_stored_as_their_action_value(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="must be an Action"):
        Decision("stop", 3)  # type: ignore[arg-type]
    with Store(tmp_path / "s.db") as store:
        store.create_study("s", metric="m", direction="maximize")
        n = store.add_trial("s", {"x": 1})
        for action in Action:
            store.record_decision("s", n, Decision(action, 2, 0.5, 0.1, 0.9, action.value))
        got = store.trials("s")[0].decisions
        raw = [r[0] for r in store._db.execute("SELECT action FROM decisions ORDER BY id")]
    assert [d.action for d in got] == list(Action)
    assert raw == ["continue", "stop", "pause", "promote", "fail"]
    assert got[1].as_record() == {"epoch": 2, "action": "stop", "mean": 0.5, "std": 0.1,
                                  "probability": 0.9, "reason": "stop"}
    assert Decision.from_record(got[1].as_record()) == got[1]
