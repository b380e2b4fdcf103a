"""Checks every real training workload must pass, shared by the ``test_workload_*`` modules."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from curvecast.workloads import Workload


def check_resume_is_exact(workload: Workload, config: Mapping[str, Any], tmp_path: Path, *,
                          seed: int = 2, epochs: int = 3) -> None:
    """A run checkpointed after epoch 1 and resumed reports the same epochs 1 and 2 and test value
    as a run trained straight through."""
    straight = workload.start(config, seed=seed, epochs=epochs)
    expected = [straight.train_epoch().value for _ in range(2)]
    first = workload.start(config, seed=seed, epochs=epochs)
    assert first.train_epoch().value == expected[0]
    path = tmp_path / "ckpt.pt"
    first.save_checkpoint(path)
    resumed = workload.resume(path)
    assert resumed.epochs_done == 1
    assert resumed.train_epoch().value == expected[1]
    assert resumed.test_value() == straight.test_value()
