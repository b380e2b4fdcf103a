"""Evaluation metrics of a torch model with the divergence rule built in: NaN accuracy, +inf
perplexity and +inf RMSE when the model's outputs are not finite.  torch is imported on call only."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn


# --------------------------------------------------------------------------- evaluation helpers
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
             batch_size: int = 1024) -> float:
    """Fraction (0..1) of rows of ``x`` whose argmax logit equals ``y``.

    Args:
        model: maps ``x[i:j]`` to logits of shape ``(j - i, n_classes)``.
        x: inputs, first axis the examples, on the model's device.
        y: int64 labels, shape ``(n,)``.
        batch_size: examples per forward pass.

    Returns:
        The accuracy, or NaN when any logit is NaN or ±inf (a diverged model).
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    correct = 0
    with torch.no_grad():
        for i in range(0, int(x.shape[0]), batch_size):
            logits = model(x[i:i + batch_size])
            if not bool(torch.isfinite(logits).all()):
                return float("nan")
            correct += int((logits.argmax(dim=1) == y[i:i + batch_size]).sum())
    return correct / int(x.shape[0])


def perplexity(total_nll: float, n_tokens: int) -> float:
    """``exp(total_nll / n_tokens)``: perplexity from a summed token cross-entropy (nats).

    Returns +inf when the mean is NaN, ±inf, or too large to exponentiate.

    Raises:
        ValueError: ``n_tokens`` is below 1.
    """
    if n_tokens < 1:
        raise ValueError(f"n_tokens must be at least 1, got {n_tokens}")
    mean = total_nll / n_tokens
    if not math.isfinite(mean):
        return math.inf
    try:
        return math.exp(mean)
    except OverflowError:
        return math.inf


def rmse(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1024) -> float:
    """Root mean squared error of ``model(x)`` against ``y`` (in the units of ``y``).

    Args:
        model: maps ``x[i:j]`` to predictions of shape ``(j - i,)`` or ``(j - i, 1)``.
        x: inputs, first axis the examples, on the model's device.
        y: float targets, shape ``(n,)``.
        batch_size: examples per forward pass.

    Returns:
        The RMSE (accumulated in float64), or +inf when any prediction is NaN or ±inf or the sum of
        squares overflows (a diverged model).
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    total = 0.0
    with torch.no_grad():
        for i in range(0, int(x.shape[0]), batch_size):
            pred = model(x[i:i + batch_size]).reshape(-1).double()
            if not bool(torch.isfinite(pred).all()):
                return math.inf
            total += float(((pred - y[i:i + batch_size].double()) ** 2).sum())
    mse = total / int(x.shape[0])
    return math.sqrt(mse) if math.isfinite(mse) else math.inf
