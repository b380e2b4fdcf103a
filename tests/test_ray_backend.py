"""`curvecast search --searcher hyperband --backend ray`: the scheduled search's epoch task run as
Ray tasks on a local Ray (127.0.0.1 only), recorded like the local backend's run of the same
command — the same curves and the same pause / promote / stop decisions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Ray reads this when it is imported: every Ray listener of this process binds 127.0.0.1 (as
# tests/test_ray_search.py checks, whichever module imports ray first)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
pytest.importorskip("ray", reason="the Ray backend needs curvecast[ray]")

pytestmark = pytest.mark.slow


def search(db: Path, backend: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "curvecast.cli", "search", "--workload", "digits-metaqnn",
         "--searcher", "hyperband", "--backend", backend, "--trials", "4", "--epochs", "3",
         "--workers", "1", "--storage", f"sqlite:///{db}", "--study", "hb", "--seed", "1"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})


def shown(db: Path) -> list[dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "curvecast.cli", "show", "--storage",
                           f"sqlite:///{db}", "--study", "hb", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    trials: list[dict[str, Any]] = json.loads(proc.stdout)["trials"]
    return trials


def test_hyperband_on_ray_records_what_the_local_backend_records(tmp_path: Path) -> None:
    on_ray = search(tmp_path / "ray.db", "ray")
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    assert "2 complete, 2 stopped early, 0 failed" in on_ray.stdout
    local = search(tmp_path / "local.db", "local")
    assert local.returncode == 0, local.stderr[-3000:]
    ray_trials, local_trials = shown(tmp_path / "ray.db"), shown(tmp_path / "local.db")
    actions = [d["action"] for t in ray_trials for d in t["decisions"]]
    assert "pause" in actions and "promote" in actions and "stop" in actions
    assert [(t["number"], t["state"], t["values"], t["decisions"]) for t in ray_trials] == [
        (t["number"], t["state"], t["values"], t["decisions"]) for t in local_trials]
    listed = subprocess.run([sys.executable, "-m", "curvecast.cli", "show", "--storage",
                             f"sqlite:///{tmp_path / 'ray.db'}", "--study", "hb", "--verbose"],
                            capture_output=True, text=True, timeout=120).stdout
    assert "epoch 1 pause: rung of 1 epochs reached" in listed
    assert "epoch 1 promote: promoted: trains on to 3 epochs" in listed


def test_fifo_on_ray_tasks_records_what_this_process_records(tmp_path: Path) -> None:
    """The FIFO search's one loop with its epoch task run as Ray tasks (``run_search(...,
    executor=RayExecutor())``): the same curves and decisions as trained in this process."""
    from curvecast.execution.live import run_search
    from curvecast.integrations.ray_backend import RayExecutor
    from curvecast.integrations.ray_session import ray_session
    from curvecast.registry import WORKLOADS
    from curvecast.search import RandomSampler
    from curvecast.stopping import MedianRule
    from curvecast.store import Store

    workload = WORKLOADS["digits-metaqnn"]()

    def search(db: Path, executor: Any) -> list[Any]:
        with Store(db) as store:
            run_search(workload, RandomSampler(workload.space, seed=1), MedianRule(min_complete=2),
                       store, study="f", trials=4, epochs=3, seed=1, executor=executor)
            return [(t.number, t.state, [v for _, v, _ in t.values],
                     [(d.action, d.epoch, d.reason) for d in t.decisions])
                    for t in store.trials("f")]

    with ray_session(None, 1):
        on_ray = search(tmp_path / "ray.db", RayExecutor())
    here = search(tmp_path / "here.db", None)
    assert on_ray == here
    assert [t[1].value for t in here].count("complete") >= 2 and len(here) == 4
