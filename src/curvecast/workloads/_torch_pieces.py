"""The usual pieces of a supervised torch run: what a batch and the loss and metric callables
are, reshuffled mini-batches, cross-entropy and squared-error losses, and constant / step / cosine
learning-rate schedules with an optional linear warm-up.  torch is imported on call only."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn

#: One training batch: a tuple of tensors (e.g. ``(x, y)``), already on the run's device.
Batch = tuple["torch.Tensor", ...]
#: Yields one epoch's batches, drawing its order from the given CPU generator.
BatchFn = Callable[["torch.Generator"], Iterable[Batch]]
#: Mean training loss of one batch (a scalar tensor with grad), given the model in train mode.
LossFn = Callable[["nn.Module", Batch], "torch.Tensor"]
#: A metric of the model on a fixed split (called in eval mode under ``torch.no_grad``).
EvalFn = Callable[["nn.Module"], float]


# --------------------------------------------------------------------------- building blocks
#: Learning-rate schedules :func:`epoch_schedule` knows (a categorical hyperparameter's choices).
SCHEDULES = ("constant", "step", "cosine")


def epoch_schedule(optimizer: torch.optim.Optimizer, kind: str, epochs: int, *,
                   warmup: int = 0) -> torch.optim.lr_scheduler.LambdaLR:
    """An epoch-level schedule multiplying the initial learning rate, planned for ``epochs``.

    With ``warmup`` = W epochs, epoch ``e`` (0-based) for ``e < W`` uses the factor
    ``(e + 1) / (W + 1)`` (a linear ramp towards the peak); after it, the decay ``kind`` runs over
    the remaining ``epochs - W`` epochs, with ``d = e - W`` epochs of it done:

    * ``"constant"``: factor 1;
    * ``"step"``: factor ``0.1 ** floor(3 * d / (epochs - W))`` (÷10 after a third and two thirds);
    * ``"cosine"``: ``0.5 * (1 + cos(pi * d / (epochs - W)))`` (reaches 0 at ``epochs``).

    Past ``epochs`` the factor stays at its last value.

    Raises:
        ValueError: unknown ``kind``, ``epochs`` below 1, or ``warmup`` outside ``0..epochs - 1``.
    """
    import torch

    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if kind not in SCHEDULES:
        raise ValueError(f"unknown schedule {kind!r}: expected one of {SCHEDULES}")
    if not 0 <= warmup < epochs:
        raise ValueError(f"warmup must be in 0..{epochs - 1} (epochs - 1), got {warmup}")
    decay = epochs - warmup

    def factor(e: int) -> float:
        if e < warmup:
            return (e + 1) / (warmup + 1)
        d = min(e - warmup, decay)
        if kind == "step":
            return float(0.1 ** min(3 * d // decay, 2))
        if kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * d / decay))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def shuffled_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> BatchFn:
    """A :data:`BatchFn` over ``(x, y)``, reshuffled each epoch (the last batch may be short).

    Args:
        x: inputs, shape ``(n, ...)``, on the training device.
        y: targets, shape ``(n, ...)``, same device.
        batch_size: examples per batch.

    Raises:
        ValueError: ``batch_size`` below 1, or ``x`` and ``y`` of different lengths.
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    n = int(x.shape[0])
    if int(y.shape[0]) != n:
        raise ValueError(f"x has {n} rows but y has {int(y.shape[0])}")

    def batches(generator: torch.Generator) -> Iterator[Batch]:
        order = torch.randperm(n, generator=generator).to(x.device)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            yield (x[idx], y[idx])

    return batches


def cross_entropy_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Mean cross-entropy (nats) of ``model(batch[0])`` logits against labels ``batch[1]``."""
    import torch

    return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])


def mse_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Mean squared error of ``model(batch[0])`` (flattened to ``(B,)``) against ``batch[1]``."""
    import torch

    return torch.nn.functional.mse_loss(model(batch[0]).reshape(-1), batch[1])
