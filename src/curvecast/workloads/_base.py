"""The interface every real training workload implements.

A :class:`Workload` knows its search space, its metric and direction, and how to start (or resume
from a checkpoint) a :class:`TrainingRun` for one config.  A run trains one epoch per
:meth:`TrainingRun.train_epoch` call and returns the validation metric after that epoch.  Runs are
deterministic under their seed, use the CPU unless CUDA is available (or ``device`` says so), and
import torch only when a run is created, so ``import curvecast`` works without torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curvecast.curves import Direction
from curvecast.space import SearchSpace


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (the disk is full, its folder is read-only): the
    machine's fault, not the trial's, so the search stops and can be resumed."""


class CheckpointError(ValueError):
    """A checkpoint cannot be read back: corrupt, of another format, or carrying anything but
    tensors, numbers, strings and containers of them (checkpoints never run code on load).

    Who resumes a run treats such a checkpoint as missing and restarts the config from epoch 0.
    """


@dataclass(frozen=True)
class EpochResult:
    """What one epoch of training reports.

    Attributes:
        epoch: 1-based index of the epoch just finished.
        value: validation metric after it (NaN or ±inf when the run diverged).
        seconds: wall-clock seconds of training plus validation for this epoch.
    """

    epoch: int
    value: float
    seconds: float


class TrainingRun(ABC):
    """One config being trained, epoch by epoch."""

    @property
    @abstractmethod
    def epochs_done(self) -> int:
        """Number of epochs trained so far (0 for a fresh run)."""

    @abstractmethod
    def train_epoch(self) -> EpochResult:
        """Train one more epoch and evaluate the validation metric."""

    @abstractmethod
    def test_value(self) -> float:
        """The metric on the held-out test split, for the current weights."""

    @abstractmethod
    def save_checkpoint(self, path: Path) -> None:
        """Write everything needed to continue this run (weights, optimiser, RNG, epoch) to ``path``.

        Raises:
            OSError: the file cannot be written (a full disk, a read-only folder); the search
                then stops, resumable, rather than failing the trial.
        """


class Workload(ABC):
    """A real training task: a search space, a metric, and runs of configs on real data."""

    #: Short name used by the CLI and in provenance (``"digits-metaqnn"``).
    name: str
    #: Name of the validation metric (``"val_accuracy"``, ``"val_perplexity"``).
    metric: str
    #: Whether larger or smaller metric values are better.
    direction: Direction
    #: Value a diverged run's NaN/inf counts as, when the task has a natural one (else None).
    diverged_value: float | None = None
    #: Whether a run's schedule is planned over the epochs it is started for (a cosine or step
    #: decay to the last epoch, a warm-up that is a share of them): then a run planned for 30
    #: epochs does not pass through what a 20-epoch run does, and a prior must be recorded for
    #: the search's epochs.
    schedule_by_epochs: bool = False

    @property
    @abstractmethod
    def space(self) -> SearchSpace:
        """The space configs are sampled from."""

    @abstractmethod
    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Architecture fields of a config: at least ``n_params`` and ``n_layers``."""

    @abstractmethod
    def start(self, config: Mapping[str, Any], *, seed: int, epochs: int,
              device: str | None = None) -> TrainingRun:
        """A fresh run of ``config`` planned for ``epochs`` epochs (the schedule may depend on it)."""

    @abstractmethod
    def resume(self, checkpoint: Path, *, device: str | None = None,
               expect: Mapping[str, Any] | None = None) -> TrainingRun:
        """Continue the run saved by :meth:`TrainingRun.save_checkpoint` at ``checkpoint``.

        ``expect``: what the run must be (any of ``config``, ``seed``, ``epochs`` planned and
        ``epochs_done``): a checkpoint of another run, left in the folder or put there, is
        refused rather than trained on and recorded as this one.

        Raises:
            CheckpointError: the file cannot be read back as a checkpoint of this workload, or
                is not the run ``expect`` describes.
        """
