"""`curvecast search --backend ray`: the one loop's epoch task run as Ray tasks on a local Ray
(127.0.0.1 only), recorded like the local backend's run of the same command — for Hyperband the
same curves and pause / promote / stop decisions, for FIFO + the median rule the same curves and
the median rule's decisions."""

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


HYPERBAND = ("--searcher", "hyperband", "--study", "hb")
MEDIAN = ("--stopper", "median", "--min-complete", "2", "--study", "f")


def search(db: Path, backend: str, how: tuple[str, ...] = HYPERBAND
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "curvecast.cli", "search", "--workload", "digits-metaqnn",
         *how, "--backend", backend, "--trials", "4", "--epochs", "3",
         "--workers", "1", "--storage", f"sqlite:///{db}", "--seed", "1"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})


def shown(db: Path, study: str = "hb") -> list[dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "curvecast.cli", "show", "--storage",
                           f"sqlite:///{db}", "--study", study, "--json"],
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
    assert "epoch 1 pause: rung of 1 epoch reached" in listed
    assert "epoch 1 promote: promoted: trains on to 3 epochs" in listed


def test_fifo_on_ray_records_what_the_local_backend_records(tmp_path: Path) -> None:
    """``--backend ray`` with FIFO + ``--stopper median --min-complete 2``: the one loop with its
    epoch task run as Ray tasks (not Ray Tune), so curvecast's median rule decides with the
    user's settings; the same curves and decisions as the local backend, listed by ``show``."""
    on_ray = search(tmp_path / "ray.db", "ray", MEDIAN)
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    local = search(tmp_path / "local.db", "local", MEDIAN)
    assert local.returncode == 0, local.stderr[-3000:]
    ray_trials, local_trials = shown(tmp_path / "ray.db", "f"), shown(tmp_path / "local.db", "f")
    assert [(t["number"], t["state"], t["values"], t["decisions"]) for t in ray_trials] == [
        (t["number"], t["state"], t["values"], t["decisions"]) for t in local_trials]
    assert len(ray_trials) == 4 and [t["state"] for t in ray_trials].count("complete") >= 2
    reasons = [d["reason"] for t in ray_trials for d in t["decisions"]]
    assert all("(needs 2)" in r or "median" in r for r in reasons), reasons  # --min-complete 2
    assert any("than the median" in r for r in reasons), reasons
    listed = subprocess.run([sys.executable, "-m", "curvecast.cli", "show", "--storage",
                             f"sqlite:///{tmp_path / 'ray.db'}", "--study", "f", "--verbose"],
                            capture_output=True, text=True, timeout=120).stdout
    assert "than the median" in listed, listed


def test_a_search_keeps_its_sigterm_handler_when_ray_starts() -> None:
    """A review (stop 34): ``ray.init`` replaced the search's SIGTERM handler with its own
    (``sys.exit``), so SIGTERM ended a ``--backend ray`` search with 15 or 134 and no word on
    how to resume, where the local backend exits 143 and says it."""
    import signal

    from curvecast.integrations.ray_session import ray_session

    def ours(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, ours)
    try:
        with ray_session(None, 1) as cpus:
            assert cpus == 1 and signal.getsignal(signal.SIGTERM) is ours
    finally:
        signal.signal(signal.SIGTERM, previous)
