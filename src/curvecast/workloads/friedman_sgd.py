"""``friedman-sgd``: MLP regression by SGD with a learning-rate warm-up, then decay; RMSE, minimise.

**Data.**  Friedman's first regression problem (Friedman 1991, "Multivariate adaptive regression
splines"): ten inputs uniform on [0, 1], of which only the first five matter,
``y = 10 sin(pi x1 x2) + 20 (x3 - 0.5)^2 + 10 x4 + 5 x5 + noise``, noise Gaussian with standard
deviation :data:`NOISE`.  It is generated locally by scikit-learn's
``make_friedman1(n_samples=4000, n_features=10, noise=1.0, random_state=0)`` (milliseconds, nothing
downloaded).  Splits: the first :data:`N_TRAIN` rows train, the next :data:`N_VAL` validate, the
last :data:`N_TEST` test.  Inputs and target are standardised with the training split's mean and
standard deviation, so predicting the training mean scores an RMSE of about 1 and the noise alone
costs about 0.2 (1 / the target's standard deviation of ~5).

**Model.**  An MLP: ``depth`` hidden layers of ``width`` units, each ``Linear -> activation ->
Dropout``, then ``Linear(width, 1)``; PyTorch's default initialisation under the run's model seed.

**Training.**  SGD with momentum and weight decay on the mean squared error, one pass over the
training rows per epoch in reshuffled mini-batches.  The learning rate ramps up linearly over the
first ``round(warmup_fraction * epochs)`` epochs (epoch ``e`` of ``W`` uses ``(e + 1) / (W + 1)`` of
the peak ``learning_rate``), then decays by ``schedule`` over the remaining epochs (constant, ÷10
after a third and two thirds, or cosine to zero; :func:`curvecast.workloads._torch.epoch_schedule`).
Long warm-ups, small peak rates and large batches make good runs start slowly (late bloomers).

**Metric.**  ``val_rmse``: root mean squared error on the standardised validation targets after each
epoch; minimise.  A run whose training loss turns NaN/inf (a too-high rate) stops updating and
reports +inf from then on (see :mod:`curvecast.workloads._torch`).  Such a run counts as having no
skill: ``diverged_value`` = 1.0, the RMSE of predicting the training mean (1.002 on the validation
split), as chance accuracy does for the classifiers.  Before its loss turns NaN a run often reports
a few finite but huge RMSEs (up to 1e18 in the recording); those are kept as they are.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Direction
from curvecast.space import Categorical, Float, ParamSpace
from curvecast.workloads._torch import (
    SCHEDULES,
    SupervisedRun,
    TorchWorkload,
    choose_device,
    epoch_schedule,
    model_seed,
    mse_loss,
    rmse,
    seeded,
    shuffled_batches,
)

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ACTIVATIONS", "FriedmanSGD", "build_mlp", "friedman_splits", "warmup_epochs"]

#: Rows per split and input features (the first five informative).
N_TRAIN, N_VAL, N_TEST, N_FEATURES = 2000, 1000, 1000, 10
#: Standard deviation of the Gaussian noise added to the target (before standardising).
NOISE = 1.0
#: Seed of ``make_friedman1``.
DATA_SEED = 0
#: Hidden-layer activations a config may choose.
ACTIVATIONS = ("relu", "tanh", "silu")


@functools.lru_cache(maxsize=1)
def friedman_splits() -> dict[str, NDArray[Any]]:
    """The fixed splits: ``{train,val,test}_{x,y}``.

    ``*_x`` are float32 of shape ``(n, 10)``, ``*_y`` float32 of shape ``(n,)``, both standardised
    with the training split's statistics; n = 2000 / 1000 / 1000.  Cached per process.
    """
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=N_TRAIN + N_VAL + N_TEST, n_features=N_FEATURES,
                          noise=NOISE, random_state=DATA_SEED)
    bounds = {"train": (0, N_TRAIN), "val": (N_TRAIN, N_TRAIN + N_VAL),
              "test": (N_TRAIN + N_VAL, N_TRAIN + N_VAL + N_TEST)}
    x_mean, x_std = x[:N_TRAIN].mean(axis=0), x[:N_TRAIN].std(axis=0)
    y_mean, y_std = float(y[:N_TRAIN].mean()), float(y[:N_TRAIN].std())
    out: dict[str, NDArray[Any]] = {}
    for name, (lo, hi) in bounds.items():
        out[f"{name}_x"] = ((x[lo:hi] - x_mean) / x_std).astype(np.float32)
        out[f"{name}_y"] = ((y[lo:hi] - y_mean) / y_std).astype(np.float32)
    return out


def warmup_epochs(warmup_fraction: float, epochs: int) -> int:
    """Warm-up epochs of a run planned for ``epochs``: ``round(warmup_fraction * epochs)``, at most
    ``epochs - 1``."""
    return min(round(warmup_fraction * epochs), epochs - 1)


def _n_params(depth: int, width: int) -> int:
    """Exact parameter count of the MLP."""
    return (N_FEATURES + 1) * width + (depth - 1) * (width + 1) * width + width + 1


def build_mlp(depth: int, width: int, activation: str, dropout: float) -> nn.Module:
    """The MLP: input ``(B, 10)`` float32, output ``(B, 1)``.

    Raises:
        ValueError: ``activation`` not one of :data:`ACTIVATIONS`.
    """
    from torch import nn

    kinds: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}
    if activation not in kinds:
        raise ValueError(f"unknown activation {activation!r}: expected one of {ACTIVATIONS}")
    modules: list[nn.Module] = []
    fan_in = N_FEATURES
    for _ in range(depth):
        modules += [nn.Linear(fan_in, width), kinds[activation](), nn.Dropout(dropout)]
        fan_in = width
    modules.append(nn.Linear(fan_in, 1))
    return nn.Sequential(*modules)


class FriedmanSGD(TorchWorkload):
    """``friedman-sgd``: MLP regression on Friedman #1 by SGD with warm-up and decay (see the
    module docstring)."""

    schedule_by_epochs = True  # the learning-rate schedule spans the planned epochs

    name = "friedman-sgd"
    metric = "val_rmse"
    direction = Direction.MINIMIZE
    diverged_value = 1.0

    @property
    def space(self) -> ParamSpace:
        """Peak learning rate 1e-3..1 (log), momentum 0..0.95, weight decay 1e-6..1e-2 (log),
        warm-up 0..40 % of the epochs, schedule, batch size, depth, width, activation and dropout
        0..0.2."""
        return ParamSpace([
            Float("learning_rate", 1e-3, 1.0, log=True),
            Float("momentum", 0.0, 0.95),
            Float("weight_decay", 1e-6, 1e-2, log=True),
            Float("warmup_fraction", 0.0, 0.4),
            Categorical("schedule", SCHEDULES),
            Categorical("batch_size", (32, 64, 128, 256, 512)),
            Categorical("depth", (1, 2, 3, 4)),
            Categorical("width", (16, 32, 64, 128)),
            Categorical("activation", ACTIVATIONS),
            Float("dropout", 0.0, 0.2),
        ])

    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``n_params`` (exact weight count of the MLP) and ``n_layers`` (linear layers:
        depth + 1)."""
        self.space.validate(config)
        depth = int(config["depth"])
        return {"n_params": _n_params(depth, int(config["width"])), "n_layers": depth + 1}

    def _build(self, meta: dict[str, Any], device: str | None) -> SupervisedRun:
        import torch

        config, seed, epochs = meta["config"], int(meta["seed"]), int(meta["epochs"])
        dev = choose_device(device)
        data = {k: torch.from_numpy(v).to(dev) for k, v in friedman_splits().items()}
        with seeded(model_seed(seed)):
            model = build_mlp(int(config["depth"]), int(config["width"]),
                              str(config["activation"]), float(config["dropout"])).to(dev)
        optimizer = torch.optim.SGD(model.parameters(), lr=float(config["learning_rate"]),
                                    momentum=float(config["momentum"]),
                                    weight_decay=float(config["weight_decay"]))
        warmup = warmup_epochs(float(config["warmup_fraction"]), epochs)
        return SupervisedRun(
            model=model, optimizer=optimizer,
            scheduler=epoch_schedule(optimizer, str(config["schedule"]), epochs, warmup=warmup),
            batches=shuffled_batches(data["train_x"], data["train_y"], int(config["batch_size"])),
            loss_fn=mse_loss,
            validate=lambda m: rmse(m, data["val_x"], data["val_y"]),
            test=lambda m: rmse(m, data["test_x"], data["test_y"]),
            seed=seed, diverged_report=float("inf"), meta=meta, device=dev,
        )
