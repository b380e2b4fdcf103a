"""Replay results with explicit settings, frozen in ``tests/data/replay_reference.json``.

Recorded with the code from before the execution loop was unified (issue 14) so that a refactor
of replay, the schedulers or the stoppers shows whether any decision moved.  The predictive rules
use ``LastSeenValue``, not the default ``HorizonChain`` (whose tuning is still moving), so the
reference pins the loop and the rules' mechanics.  Regenerate (only on purpose) with
``PYTHONPATH=src python tests/replay_reference.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from curvecast import CurveSet
from curvecast.execution import replay_schedule
from curvecast.predictors import LastSeenValue
from curvecast.search import FIFO, FHyperband, Hyperband, RandomSearch, Scheduler
from curvecast.stopping import ASHA, MedianRule, NeverStop, PredictiveStopper

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "replay_reference.json"


def _curves() -> CurveSet:
    """The first 120 configs of the recorded digits-metaqnn curves (20 epochs, accuracy)."""
    return CurveSet.load(ROOT / "data" / "digits-metaqnn.parquet").subset(list(range(120)))


def _schedulers(curves: CurveSet, seed: int) -> dict[str, Callable[[], Scheduler]]:
    def rs() -> RandomSearch:
        return RandomSearch.from_curves(curves, seed=seed, max_trials=60)

    return {
        "predictive": lambda: FIFO(rs(), PredictiveStopper(delta=0.95, min_complete=5,
                                                           refit_every=5,
                                                           predictor=LastSeenValue())),
        "median": lambda: FIFO(rs(), MedianRule(min_complete=5)),
        "asha": lambda: FIFO(rs(), ASHA(eta=3.0, min_complete=5)),
        "never": lambda: FIFO(rs(), NeverStop()),
        "hyperband": lambda: Hyperband(RandomSearch.from_curves(curves, seed=seed), eta=3.0),
        "fhyperband": lambda: FHyperband(RandomSearch.from_curves(curves, seed=seed), delta=0.9,
                                         min_curves=6, predictor=LastSeenValue(), eta=3.0),
    }


def compute() -> dict[str, Any]:
    """Every scheduler above replayed on 1 and 3 simulated workers: per-trial records."""
    curves = _curves()
    out: dict[str, Any] = {}
    for workers in (1, 3):
        for name, make in _schedulers(curves, seed=7).items():
            result = replay_schedule(curves, make(), workers=workers)
            out[f"{name}/w{workers}"] = {
                "simulated_time": result.simulated_time,
                "trials": [_record(t) for t in result.trials]}
    return out


def _record(t: Any) -> dict[str, Any]:
    d = t.decision
    return {"config": t.config_id, "epochs": t.epochs, "stopped": t.stopped, "value": t.value,
            "predicted": t.predicted, "start": t.start, "end": t.end,
            "decision": None if d is None else {
                "action": d.action.value, "epoch": d.epoch, "mean": d.mean, "std": d.std,
                "probability": d.probability, "reason": d.reason}}


if __name__ == "__main__":
    REFERENCE.write_text(json.dumps(compute(), indent=0, sort_keys=True) + "\n")
    print(f"wrote {REFERENCE}")
