"""``mnist1d-hp``: the paper's fixed-network hyperparameter search, on MNIST-1D.

One fixed 1-D CNN classifies the MNIST-1D signals (Greydanus 2020: 10 digit templates turned into
length-40 signals by padding, shear, translation and noise).  The data set is generated locally by
``mnist1d.data.make_dataset(get_dataset_args())`` (seed 42, about 1-3 s; nothing is downloaded) and
cached per process (and on disk when the workload is given a ``cache_dir``).  Splits: the package's
4000 training signals are split once, with a fixed seed, into 3200 for training and 800 for
validation; the package's 1000 test signals are the test split.  The signals are standardised
by the package itself, with one mean and standard deviation over all 5000 (test signals included):
a scalar shift of 0.002 and scale of 0.3 % against the training split's own, kept because the
recording was made with it.

The network (``width`` = w channels, ``dropout`` = p)::

    (B, 1, 40) -> Conv1d(1, w, 5, pad 2) -> ReLU -> Conv1d(w, w, 3, stride 2, pad 1) -> ReLU
               -> Conv1d(w, w, 3, stride 2, pad 1) -> ReLU -> flatten (B, 10 w) -> Dropout(p)
               -> Linear(10 w, 10)

trained by SGD with momentum and weight decay on the mean cross-entropy, one pass over the 3200
training signals per epoch, with an epoch-level learning-rate schedule planned for the run's epochs.
The metric is validation accuracy (0..1, maximise); a diverged run (a NaN/inf training loss) reports
NaN, which counts as chance accuracy (``diverged_value`` = 0.1).  See
:mod:`curvecast.workloads._torch` for the run mechanics, seeding and the divergence rule.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Direction
from curvecast.curves.atomic_write import write_atomically
from curvecast.space import Categorical, Float, ParamSpace
from curvecast.workloads._torch import (
    SCHEDULES,
    SupervisedRun,
    TorchWorkload,
    accuracy,
    choose_device,
    cross_entropy_loss,
    epoch_schedule,
    model_seed,
    seeded,
    shuffled_batches,
)

if TYPE_CHECKING:
    from torch import nn

__all__ = ["MNIST1DHP", "build_model", "mnist1d_splits"]

#: Signals per split, and the signal length.
N_TRAIN, N_VAL, N_TEST, SIGNAL_LENGTH, N_CLASSES = 3200, 800, 1000, 40, 10
#: Seed of the fixed train/validation split.
SPLIT_SEED = 0
#: The fixed network's layer count (3 convolutions + 1 linear layer).
N_LAYERS = 4


def _generate() -> dict[str, NDArray[Any]]:
    """Generate MNIST-1D with the package defaults, leaving the global RNGs as they were."""
    import random

    from mnist1d.data import get_dataset_args, make_dataset

    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    try:
        data = make_dataset(get_dataset_args())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002
    return {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}


@functools.lru_cache(maxsize=4)
def mnist1d_splits(cache_dir: Path | None = None) -> dict[str, NDArray[Any]]:
    """The fixed splits: ``{train,val,test}_{x,y}``.

    ``*_x`` are float32 of shape ``(n, 40)`` (standardised by the package: module docstring),
    ``*_y`` int64 of shape ``(n,)`` (digit 0..9), with n = 3200 / 800 / 1000.  Cached per process;
    with ``cache_dir`` the generated data set is also stored there (``mnist1d-default.npz``) and
    read back by later processes.
    """
    raw: dict[str, NDArray[Any]] | None = None
    file = None if cache_dir is None else Path(cache_dir) / "mnist1d-default.npz"
    if file is not None and file.exists():
        with np.load(file) as f:
            raw = {k: f[k] for k in ("x", "y", "x_test", "y_test")}
    if raw is None:
        raw = _generate()
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            arrays = raw

            def save(name: str) -> None:  # a file object: np.savez would append ".npz"
                with open(name, "wb") as handle:
                    np.savez(handle, x=arrays["x"], y=arrays["y"], x_test=arrays["x_test"],
                             y_test=arrays["y_test"])

            write_atomically(file, save, follow_links=False)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(raw["y"]))
    train, val = order[:N_TRAIN], order[N_TRAIN:N_TRAIN + N_VAL]
    x, y = raw["x"].astype(np.float32), raw["y"].astype(np.int64)
    return {
        "train_x": x[train], "train_y": y[train],
        "val_x": x[val], "val_y": y[val],
        "test_x": raw["x_test"].astype(np.float32), "test_y": raw["y_test"].astype(np.int64),
    }


def _n_params(width: int) -> int:
    """Exact parameter count of the network of ``width`` channels."""
    conv1 = 1 * width * 5 + width
    conv23 = 2 * (width * width * 3 + width)
    linear = (width * SIGNAL_LENGTH // 4) * N_CLASSES + N_CLASSES
    return conv1 + conv23 + linear


def build_model(width: int, dropout: float) -> nn.Module:
    """The fixed 1-D CNN: input ``(B, 40)`` float32, output ``(B, 10)`` logits."""
    from torch import nn

    return nn.Sequential(
        nn.Unflatten(1, (1, SIGNAL_LENGTH)),
        nn.Conv1d(1, width, 5, padding=2), nn.ReLU(),
        nn.Conv1d(width, width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(width, width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Dropout(dropout),
        nn.Linear(width * SIGNAL_LENGTH // 4, N_CLASSES),
    )


class MNIST1DHP(TorchWorkload):
    """``mnist1d-hp``: hyperparameters of a fixed 1-D CNN on MNIST-1D (see the module docstring).

    Args:
        cache_dir: where to keep the generated data set between processes (None: memory only).
    """

    schedule_by_epochs = True  # the learning-rate schedule spans the planned epochs

    name = "mnist1d-hp"
    metric = "val_accuracy"
    direction = Direction.MAXIMIZE
    diverged_value = 1.0 / N_CLASSES

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir

    @property
    def space(self) -> ParamSpace:
        """learning rate 3e-3..1 (log), momentum 0..0.99, weight decay 1e-6..1e-2 (log), batch
        size, width, dropout 0..0.5 and the schedule."""
        return ParamSpace([
            Float("learning_rate", 3e-3, 1.0, log=True),
            Float("momentum", 0.0, 0.99),
            Float("weight_decay", 1e-6, 1e-2, log=True),
            Categorical("batch_size", (16, 32, 64, 128)),
            Categorical("width", (8, 16, 32, 64)),
            Float("dropout", 0.0, 0.5),
            Categorical("schedule", SCHEDULES),
        ])

    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``n_params`` (exact weight count of the network) and ``n_layers`` (4)."""
        self.space.validate(config)
        return {"n_params": _n_params(int(config["width"])), "n_layers": N_LAYERS}

    def _build(self, meta: dict[str, Any], device: str | None) -> SupervisedRun:
        import torch

        config, seed = meta["config"], int(meta["seed"])
        dev = choose_device(device)
        data = {k: torch.from_numpy(v).to(dev)
                for k, v in mnist1d_splits(self.cache_dir).items()}
        with seeded(model_seed(seed)):
            model = build_model(int(config["width"]), float(config["dropout"])).to(dev)
        optimizer = torch.optim.SGD(model.parameters(), lr=float(config["learning_rate"]),
                                    momentum=float(config["momentum"]),
                                    weight_decay=float(config["weight_decay"]))
        return SupervisedRun(
            model=model, optimizer=optimizer,
            scheduler=epoch_schedule(optimizer, str(config["schedule"]), int(meta["epochs"])),
            batches=shuffled_batches(data["train_x"], data["train_y"], int(config["batch_size"])),
            loss_fn=cross_entropy_loss,
            validate=lambda m: accuracy(m, data["val_x"], data["val_y"]),
            test=lambda m: accuracy(m, data["test_x"], data["test_y"]),
            seed=seed, diverged_report=float("nan"), meta=meta, device=dev,
        )
