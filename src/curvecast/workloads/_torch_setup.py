"""Where and how a torch run computes: the device, the thread count, the seeds of its random
streams and the swap of the torch RNG state around its work.  torch is imported on call only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


# --------------------------------------------------------------------------- device and threads
def choose_device(device: str | None = None) -> torch.device:
    """The device to train on: ``device`` when given, else CUDA when available, else the CPU.

    Raises:
        ValueError: ``device`` is not a device name torch knows, or names CUDA when none is present.
    """
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available")
    return dev


def configure_threads(n_threads: int = 1) -> None:
    """Make torch use ``n_threads`` intra-op threads (call once at the start of a worker process).

    The inter-op pool is set too when torch still allows it (only before its first parallel work).

    Raises:
        ValueError: ``n_threads`` is below 1.
    """
    import torch

    if n_threads < 1:
        raise ValueError(f"n_threads must be at least 1, got {n_threads}")
    torch.set_num_threads(n_threads)
    try:
        torch.set_num_interop_threads(n_threads)
    except RuntimeError:
        pass  # already fixed by earlier parallel work in this process


# --------------------------------------------------------------------------- seeds
def derive_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent 63-bit seeds derived from ``seed`` (one per random stream).

    Raises:
        ValueError: ``seed`` is negative or ``n`` is below 1.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    words = np.random.SeedSequence(seed).generate_state(n, dtype=np.uint64)
    return [int(w >> np.uint64(1)) for w in words]


def model_seed(seed: int) -> int:
    """The seed a workload should build a run's model under (see :func:`seeded`).

    It is the fourth stream of :func:`derive_seeds`; :class:`SupervisedRun` uses the first three
    (dropout RNG, data order, numpy), so all four are independent.
    """
    return derive_seeds(seed, 4)[3]


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the body with the global torch CPU RNG seeded by ``seed``, restoring it afterwards.

    Use it to build a model so its initial weights depend on ``seed`` only.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextmanager
def rng_swapped(state: torch.Tensor) -> Iterator[list[torch.Tensor]]:
    """Install ``state`` as the torch CPU RNG state; on exit, yield back the advanced state.

    The caller's RNG state is restored on exit.  The context value is a one-element list whose
    element is replaced by the advanced run state when the body finishes.
    """
    import torch

    outer = torch.get_rng_state()
    torch.set_rng_state(state)
    box = [state]
    try:
        yield box
    finally:
        box[0] = torch.get_rng_state()
        torch.set_rng_state(outer)
