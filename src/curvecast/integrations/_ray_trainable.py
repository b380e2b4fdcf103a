"""The Tune trainable of :func:`curvecast.integrations.ray_search.run_ray_search` (it runs in a
Ray worker) and the names it shares with the driver.  Imported through ``ray_search``, which
names the extra when Ray is missing."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from ray import tune

from curvecast.workloads._base import CheckpointError, TrainingRun, Workload

CONFIG_KEY = "_curvecast"  # the trial's number and seed, inside its Tune config
CHECKPOINT_FILE = "run.ckpt"
TEST_METRIC = "curvecast/test_value"


def _train(config: dict[str, Any], workload: Workload, epochs: int) -> None:
    """A Tune trainable: train ``config`` one epoch per report, from its checkpoint when Tune
    continues a paused or failed trial (runs in a Ray worker)."""
    meta = config[CONFIG_KEY]
    checkpoint = tune.get_checkpoint()
    run: TrainingRun | None = None
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            try:
                run = workload.resume(Path(folder) / CHECKPOINT_FILE)
            except CheckpointError as err:  # treated as missing: restart from epoch 0
                print(f"warning: {err}; restarted from epoch 0", file=sys.stderr)
    if run is None:
        run = workload.start({k: v for k, v in config.items() if k != CONFIG_KEY},
                             seed=int(meta["seed"]), epochs=epochs)
    while run.epochs_done < epochs:
        result = run.train_epoch()
        metrics: dict[str, Any] = {workload.metric: float(result.value), "epoch": result.epoch,
                                   "seconds": result.seconds}
        if run.epochs_done >= epochs:
            metrics[TEST_METRIC] = float(run.test_value())
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as folder:
            run.save_checkpoint(Path(folder) / CHECKPOINT_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
