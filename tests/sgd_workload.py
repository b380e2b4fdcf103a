"""A small real workload without torch, for fast tests of the collection engine.

Logistic regression trained by scikit-learn's ``SGDClassifier.partial_fit`` on the bundled 8x8
digits, one pass over the training split per epoch.  Checkpoints are pickles of the estimator.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

from curvecast import Direction, Float, ParamSpace, SearchSpace
from curvecast.workloads._base import CheckpointError, EpochResult, TrainingRun, Workload


@lru_cache(maxsize=1)
def _splits() -> tuple[NDArray[np.float64], ...]:
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.4, random_state=0, stratify=y)
    xva, xte, yva, yte = train_test_split(xte, yte, test_size=0.5, random_state=0, stratify=yte)
    return xtr, ytr, xva, yva, xte, yte


class _Run(TrainingRun):
    def __init__(self, config: Mapping[str, Any], seed: int, epochs: int) -> None:
        self.config = dict(config)
        self.seed = seed
        self.epochs = epochs
        self.done = 0
        self.model = SGDClassifier(loss="log_loss", alpha=float(config["alpha"]),
                                   learning_rate="constant", eta0=float(config["eta0"]),
                                   random_state=seed)
        self.rng = np.random.default_rng(seed)

    @property
    def epochs_done(self) -> int:
        return self.done

    def train_epoch(self) -> EpochResult:
        start = time.perf_counter()
        xtr, ytr, xva, yva, _, _ = _splits()
        order = self.rng.permutation(len(ytr))
        self.model.partial_fit(xtr[order], ytr[order], classes=np.arange(10))
        self.done += 1
        value = float(self.model.score(xva, yva))
        return EpochResult(self.done, value, time.perf_counter() - start)

    def test_value(self) -> float:
        *_, xte, yte = _splits()
        return float(self.model.score(xte, yte))

    def save_checkpoint(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(self))


class SGDDigits(Workload):
    """Logistic regression on digits, SGD; ``val_accuracy``, maximize."""

    name = "sgd-digits"
    metric = "val_accuracy"
    direction = Direction.MAXIMIZE

    @property
    def space(self) -> SearchSpace:
        return ParamSpace([Float("eta0", 1e-4, 1.0, log=True), Float("alpha", 1e-6, 1e-1, log=True)])

    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"n_params": 64 * 10 + 10, "n_layers": 1}

    def start(self, config: Mapping[str, Any], *, seed: int, epochs: int,
              device: str | None = None) -> TrainingRun:
        return _Run(config, seed, epochs)

    def resume(self, checkpoint: Path, *, device: str | None = None,
               expect: Mapping[str, Any] | None = None) -> TrainingRun:
        run = pickle.loads(checkpoint.read_bytes())
        if not isinstance(run, _Run):
            raise ValueError(f"{checkpoint}: not a checkpoint of {self.name}")
        mine = {"config": run.config, "seed": run.seed, "epochs": run.epochs,
                "epochs_done": run.done}
        if expect is not None and any(mine[k] != v for k, v in expect.items()):
            raise CheckpointError(f"{checkpoint}: a checkpoint of another run")
        return run
