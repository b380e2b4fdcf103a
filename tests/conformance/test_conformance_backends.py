"""Every backend of the one loop: the same scheduler, fed the same recorded curves, takes the same
decisions — in this process (replay), in local worker processes, and as Ray tasks — for every
registered scheduler (FIFO with every stopper that runs outside a replay too) on 1 and 3 workers."""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Iterator
from typing import Any

import pytest

from curvecast import CurveSet
from curvecast.execution.backends import RecordedBackend
from curvecast.execution.epoch_task import local_executor
from curvecast.execution.loop import run
from curvecast.registry import SCHEDULERS, SEARCHERS, STOPPERS, Context, Settings, build_stopper
from synthetic_curves import synthetic

# Ray reads this when it is imported: its listeners bind 127.0.0.1 (tests/test_ray_search.py)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

CURVES = synthetic(n=36, epochs=9, seed=8)
SETTINGS = Settings(predictor="chain", delta=0.9, min_complete=6, min_curves=6, eta=3.0)
#: (scheduler, stopper of the fifo scheduler): every registered scheduler and stopper.
PLANS = [("fifo", s) for s in sorted(STOPPERS)] + [(n, None) for n in sorted(SCHEDULERS)
                                                    if n != "fifo"]


@pytest.fixture(scope="module")
def executors() -> Iterator[dict[str, cf.Executor | None]]:
    """The backends' executors: none (this process), 2 worker processes, Ray (when installed)."""
    found: dict[str, cf.Executor | None] = {"replay": None, "processes": local_executor(2)}
    session = None
    try:
        from curvecast.integrations.ray_backend import RayExecutor
        from curvecast.integrations.ray_session import ray_session

        session = ray_session(None, 2)
        session.__enter__()
        found["ray"] = RayExecutor()
    except ImportError:
        pass
    yield found
    for executor in found.values():
        if executor is not None:
            executor.shutdown()
    if session is not None:
        session.__exit__(None, None, None)


def _records(curves: CurveSet, plan: tuple[str, str | None], executor: cf.Executor | None,
             workers: int) -> list[tuple[Any, ...]]:
    name, stopper = plan
    context = Context(curves=curves)
    if stopper is not None:
        context.stopper = build_stopper(stopper, SETTINGS, context)
    searcher = SEARCHERS["random"].over_curves(curves, 4, None)
    scheduler = SCHEDULERS[name].build(searcher, SETTINGS, context)
    result = run(scheduler, RecordedBackend(curves, executor), workers=workers)
    return [(t.config_id, t.epochs, t.stopped, t.value, t.predicted, t.start, t.end,
             None if t.decision is None else t.decision.as_record()) for t in result.trials]


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("plan", PLANS, ids=lambda p: "+".join(x for x in p if x))
def test_every_backend_takes_the_same_decisions(
        plan: tuple[str, str | None], workers: int,
        executors: dict[str, cf.Executor | None]) -> None:
    expected = _records(CURVES, plan, None, workers)
    assert any(r[2] for r in expected) or plan[1] == "never", "nothing was stopped"
    for name, executor in executors.items():
        if executor is not None:
            assert _records(CURVES, plan, executor, workers) == expected, name
