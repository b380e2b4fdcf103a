"""Every registered workload: a run checkpointed after epoch 1 and resumed reports bit-identical
values (epoch 2, the test value) to a run trained straight through.  Each workload names a small
config here; a workload registered without one fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from curvecast.registry import WORKLOADS
from workload_checks import check_resume_is_exact

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.slow]

#: Per workload: a small config, the seed and the epochs of the check.
SMALL: dict[str, tuple[dict[str, Any], int, int]] = {
    "digits-metaqnn": ({"net": "[C(16,3,1), P(2,2), FC(32), SM(10)]", "lr": 3e-3,
                        "weight_decay": 1e-4, "batch_size": 32}, 11, 2),
    "mnist1d-hp": ({"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 1e-4,
                    "batch_size": 32, "width": 32, "dropout": 0.1, "schedule": "cosine"}, 2, 3),
    "text-lstm": ({"layers": 1, "hidden": 64, "embed": 32, "dropout": 0.1,
                   "learning_rate": 0.01, "seq_len": 32, "batch_size": 16, "clip": 1.0}, 3, 2),
    "friedman-sgd": ({"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 1e-5,
                      "warmup_fraction": 0.3, "schedule": "step", "batch_size": 32, "depth": 2,
                      "width": 32, "activation": "silu", "dropout": 0.1}, 2, 4),
}


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_checkpoint_and_resume_are_bit_identical(name: str, tmp_path: Path) -> None:
    assert name in SMALL, f"workload {name!r} is registered without a small config here"
    config, seed, epochs = SMALL[name]
    workload = WORKLOADS[name]()
    assert workload.name == name
    check_resume_is_exact(workload, config, tmp_path, seed=seed, epochs=epochs)
