"""Shared PyTorch machinery for the real training workloads.

**Import rule.**  This module never imports torch at module level: every function imports it on
call.  A workload module may therefore import ``_torch`` at its top, and ``import curvecast`` /
``import curvecast.workloads`` work without torch installed.  Torch types appear only in
annotations (under ``TYPE_CHECKING``).

What is here:

* :func:`choose_device` — CPU by default, CUDA when available or when ``device`` names it;
* :func:`configure_threads` — one-thread setup for the one-process-per-core worker plan;
* :func:`derive_seeds` / :func:`seeded` — independent seeds per random stream, and a context that
  runs code (e.g. building a model) under a seed without disturbing the global torch RNG;
* :func:`accuracy` / :func:`perplexity` / :func:`rmse` — evaluation helpers with the divergence
  rule built in;
* :func:`shuffled_batches`, :func:`cross_entropy_loss`, :func:`mse_loss`, :func:`epoch_schedule` —
  the usual pieces of a classification or regression run (reshuffled mini-batches, cross-entropy,
  squared error, constant/step/cosine schedules with an optional linear warm-up);
* :class:`SupervisedRun` — a generic :class:`~curvecast.workloads._base.TrainingRun`: one epoch per
  :meth:`~SupervisedRun.train_epoch`, divergence handling, checkpoint and bit-identical resume.

The pieces before :class:`SupervisedRun` live beside this module, one job each, and are
re-exported here: :mod:`._torch_setup` (device, threads, seeds), :mod:`._torch_metrics`
(evaluation), :mod:`._torch_pieces` (batches, losses, schedules).

**Randomness.**  A run owns three random streams, all derived from its seed and all checkpointed:
the torch CPU RNG state used while it trains (dropout), a CPU ``torch.Generator`` for the data
order, and a numpy ``Generator`` for anything else the workload wants.  The run swaps its torch RNG
state in around training and evaluation and swaps the caller's state back afterwards, so runs
interleaved in one process do not disturb each other and are still deterministic.

**Divergence rule.**  A run *diverges* the first time a training batch's loss is NaN or ±inf.  From
then on its weights are frozen (that batch's update is not applied, no later update is) and every
validation value and the test value it reports is the workload's ``diverged_report`` (NaN for
accuracy, +inf for perplexity and RMSE), without evaluating the model.  Independently of that, the
evaluation helpers report NaN accuracy / +inf perplexity / +inf RMSE when the model's outputs are
not finite.
The :class:`~curvecast.curves.CurveSet` keeps these values as diverged observations.
"""

from __future__ import annotations

import json
import os
import pickle
import stat
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from curvecast.curves.atomic_write import write_atomically
from curvecast.workloads._base import CheckpointError, EpochResult, TrainingRun, Workload
from curvecast.workloads._torch_metrics import accuracy, perplexity, rmse
from curvecast.workloads._torch_pieces import (
    SCHEDULES,
    Batch,
    BatchFn,
    EvalFn,
    LossFn,
    cross_entropy_loss,
    epoch_schedule,
    mse_loss,
    shuffled_batches,
)
from curvecast.workloads._torch_setup import (
    choose_device,
    configure_threads,
    derive_seeds,
    model_seed,
    rng_swapped,
    seeded,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "CHECKPOINT_FORMAT",
    "SCHEDULES",
    "Batch",
    "BatchFn",
    "EvalFn",
    "LossFn",
    "SupervisedRun",
    "accuracy",
    "choose_device",
    "configure_threads",
    "cross_entropy_loss",
    "derive_seeds",
    "epoch_schedule",
    "load_checkpoint",
    "model_seed",
    "mse_loss",
    "perplexity",
    "rmse",
    "seeded",
    "shuffled_batches",
]

#: Version tag stored in every checkpoint written by :class:`SupervisedRun`.
CHECKPOINT_FORMAT = "curvecast-supervised-run/1"


# --------------------------------------------------------------------------- the generic run
def load_checkpoint(path: Path, device: torch.device | str | None = None) -> dict[str, Any]:
    """Read a checkpoint written by :meth:`SupervisedRun.save_checkpoint`.

    The file is read with ``torch.load(weights_only=True)``: tensors, numbers, strings and
    containers only, so a planted file cannot run code.  The workload reads ``ckpt["meta"]``
    (what it stored: config, seed, epochs, …) to rebuild the model, optimiser and scheduler, then
    calls :meth:`SupervisedRun.load_state` with ``ckpt``.

    Raises:
        CheckpointError: the file cannot be read that way, is not a regular file (a named pipe
            would be read for ever), or is not a curvecast supervised-run checkpoint.
    """
    # opened once, without blocking, and checked as opened: a named pipe or a device planted
    # there would be read for ever (a security review), and a check of the path before opening
    # it again could be raced by a swap in between
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise CheckpointError(f"{path}: unreadable checkpoint ({err.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CheckpointError(f"{path}: unreadable checkpoint (not a regular file; it was "
                                  "not read)")
        ckpt = _torch_load(handle, path, device)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        fmt = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path}: not a {CHECKPOINT_FORMAT} checkpoint (found {fmt!r})")
    return dict(ckpt)


def _torch_load(handle: Any, path: Path, device: torch.device | str | None) -> Any:
    """``torch.load(weights_only=True)`` of the open checkpoint ``handle`` (``path``: its name in
    messages).

    Raises:
        CheckpointError: it holds more than tensors, numbers and strings, or is no torch file.
    """
    import torch

    try:
        return torch.load(handle, map_location=device if device is not None else "cpu",
                          weights_only=True)
    except pickle.UnpicklingError:  # what weights_only refuses: objects that could run code
        raise CheckpointError(f"{path}: unreadable checkpoint (it holds more than tensors, "
                              "numbers and strings; it was not loaded)") from None
    except Exception as err:  # truncated file, not a torch file, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: unreadable checkpoint ({first[:200]})") from None


class SupervisedRun(TrainingRun):
    """A generic epoch-by-epoch supervised training run (see the module docstring for the rules).

    One :meth:`train_epoch` call: model in train mode; for each batch from ``batches``: zero grads,
    ``loss_fn``, backward, optional gradient-norm clipping, optimiser step; then one
    ``scheduler.step()`` (the scheduler counts epochs); then ``validate`` in eval mode under
    ``torch.no_grad``.

    Args:
        model: the network, already on ``device``.
        optimizer: over ``model``'s parameters.
        scheduler: an epoch-level learning-rate scheduler (stepped once per epoch), or None.
        batches: yields one epoch's batches from a CPU ``torch.Generator`` (the data order).
        loss_fn: mean loss of one batch.
        validate: validation metric of the model (the value each epoch reports).
        test: test metric of the model (:meth:`test_value`).
        seed: seeds the run's dropout RNG, data order and numpy generator (see :func:`derive_seeds`;
            build the model under ``seeded(model_seed(seed))`` so its initial weights follow too).
        diverged_report: the metric reported once the run has diverged (NaN for accuracy, +inf for
            perplexity).
        clip_grad_norm: max gradient 2-norm, or None for no clipping.
        meta: JSON-like data the workload needs to rebuild the run on resume (config, seed, planned
            epochs, …); stored in the checkpoint as is.
        device: where the model lives (for reading back checkpoints).
    """

    def __init__(
        self,
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None,
        batches: BatchFn,
        loss_fn: LossFn,
        validate: EvalFn,
        test: EvalFn,
        seed: int,
        diverged_report: float,
        clip_grad_norm: float | None = None,
        meta: Mapping[str, Any] | None = None,
        device: torch.device | None = None,
    ) -> None:
        import torch

        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValueError(f"clip_grad_norm must be positive or None, got {clip_grad_norm}")
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.batches = batches
        self.loss_fn = loss_fn
        self.validate = validate
        self.test = test
        self.diverged_report = float(diverged_report)
        self.clip_grad_norm = clip_grad_norm
        self.meta: dict[str, Any] = dict(meta or {})
        self.device = device if device is not None else torch.device("cpu")
        torch_seed, data_seed, numpy_seed, _ = derive_seeds(seed, 4)
        gen = torch.Generator()
        gen.manual_seed(torch_seed)
        self._torch_rng: torch.Tensor = gen.get_state()
        self.data_generator = torch.Generator()
        self.data_generator.manual_seed(data_seed)
        self.numpy_rng = np.random.default_rng(numpy_seed)
        self._epochs_done = 0
        self._diverged = False
        self._last_value = float("nan")

    # ------------------------------------------------------------------ TrainingRun
    @property
    def epochs_done(self) -> int:
        return self._epochs_done

    @property
    def diverged(self) -> bool:
        """Whether a training loss has been NaN or ±inf (weights frozen since)."""
        return self._diverged

    @property
    def last_value(self) -> float:
        """Validation value reported by the last epoch (NaN before the first)."""
        return self._last_value

    def train_epoch(self) -> EpochResult:
        start = time.perf_counter()
        with rng_swapped(self._torch_rng) as box:
            if not self._diverged:
                self._train_batches()
            if self._diverged:
                value = self.diverged_report
            else:
                value = self._evaluate(self.validate)
        self._torch_rng = box[0]
        self._epochs_done += 1
        self._last_value = float(value)
        return EpochResult(epoch=self._epochs_done, value=float(value),
                           seconds=time.perf_counter() - start)

    def test_value(self) -> float:
        if self._diverged:
            return self.diverged_report
        with rng_swapped(self._torch_rng) as box:
            value = self._evaluate(self.test)
        self._torch_rng = box[0]
        return float(value)

    def save_checkpoint(self, path: Path) -> None:
        """Write weights, optimiser, scheduler, the RNG states, epoch and ``meta`` to ``path``.

        The file is written to a temporary name first and renamed, so a crash never leaves a torn
        checkpoint.

        Raises:
            OSError: it cannot be written (torch's own report of a full disk included); the
                temporary file is removed.
        """
        import torch

        path = Path(path)
        state = {
            "format": CHECKPOINT_FORMAT,
            "meta": self.meta,
            "epochs_done": self._epochs_done,
            "diverged": self._diverged,
            "last_value": self._last_value,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "torch_rng": self._torch_rng.clone(),
            "data_rng": self.data_generator.get_state(),
            "numpy_rng": self.numpy_rng.bit_generator.state,
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # a temporary file of its own name, renamed over the checkpoint (never a fixed
            # "<path>.tmp" a planted link could send elsewhere: a security review, stop 37),
            # and over whatever is at the path: a link planted there is replaced, not followed
            write_atomically(path, lambda name: torch.save(state, name), follow_links=False)
        except RuntimeError as err:  # torch reports a full disk as a RuntimeError (the
            # temporary file is removed by write_atomically)
            raise OSError(str(err).splitlines()[0]) from None

    def load_state(self, ckpt: Mapping[str, Any]) -> None:
        """Restore the state saved by :meth:`save_checkpoint` (as read by :func:`load_checkpoint`).

        The run must have been built exactly as the saved one (same config, model, optimiser and
        scheduler construction); everything that changes during training is then overwritten.
        """
        import torch

        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None:
            if ckpt["scheduler"] is None:
                raise ValueError("checkpoint has no scheduler state but the run has a scheduler")
            self.scheduler.load_state_dict(ckpt["scheduler"])
        self._torch_rng = torch.as_tensor(ckpt["torch_rng"], dtype=torch.uint8).cpu().clone()
        self.data_generator.set_state(
            torch.as_tensor(ckpt["data_rng"], dtype=torch.uint8).cpu().clone())
        self.numpy_rng.bit_generator.state = ckpt["numpy_rng"]
        self._epochs_done = int(ckpt["epochs_done"])
        self._diverged = bool(ckpt["diverged"])
        self._last_value = float(ckpt["last_value"])

    # ------------------------------------------------------------------ internals
    def _train_batches(self) -> None:
        import torch

        self.model.train()
        params: Sequence[torch.Tensor] = [p for p in self.model.parameters() if p.requires_grad]
        for batch in self.batches(self.data_generator):
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.model, batch)
            if not bool(torch.isfinite(loss.detach())):
                self._diverged = True
                break
            loss.backward()
            if self.clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, self.clip_grad_norm)
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if not self._diverged and self.scheduler is not None:
            self.scheduler.step()

    def _evaluate(self, fn: EvalFn) -> float:
        import torch

        self.model.eval()
        with torch.no_grad():
            return float(fn(self.model))


class TorchWorkload(Workload):
    """A workload whose runs are :class:`SupervisedRun` s rebuilt from a ``meta`` dict.

    ``start`` validates the config (:meth:`_validate`) and builds a run from ``meta`` (workload,
    config, seed, epochs and :meth:`_extra_meta`); ``resume`` reads a checkpoint, checks it
    belongs to this workload (and :meth:`_check_meta`, :meth:`_validate`), rebuilds the run from
    its ``meta`` and restores its state.  Subclasses implement :meth:`_build`.
    """

    def start(self, config: Mapping[str, Any], *, seed: int, epochs: int,
              device: str | None = None) -> SupervisedRun:
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        self._validate(config)
        # numpy scalars (a config read from a table) as Python numbers: a checkpoint holding
        # them is one torch.load(weights_only=True) refuses, so the run could never resume
        meta = {"workload": self.name, "config": _plain(dict(config)), "seed": int(seed),
                "epochs": int(epochs), **self._extra_meta()}
        return self._build(meta, device)

    def resume(self, checkpoint: Path, *, device: str | None = None,
               expect: Mapping[str, Any] | None = None) -> TrainingRun:
        ckpt = load_checkpoint(checkpoint, choose_device(device))
        meta = ckpt.get("meta")
        if not isinstance(meta, dict) or meta.get("workload") != self.name:
            found = meta.get("workload") if isinstance(meta, dict) else None
            raise CheckpointError(f"{checkpoint}: checkpoint of workload {found!r}, "
                                  f"not {self.name!r}")
        try:
            self._check_meta(checkpoint, meta)
            self._validate(meta["config"])  # a config the space could not have given
            _check_expected(checkpoint, meta, expect)
            run = self._build(meta, device)
            run.load_state(ckpt)
            if expect is not None and "epochs_done" in expect and \
                    run.epochs_done != int(expect["epochs_done"]):
                raise CheckpointError(f"{checkpoint}: a checkpoint after {run.epochs_done} "
                                      f"epochs, not {int(expect['epochs_done'])}")
        except CheckpointError:
            raise
        except (ValueError, KeyError, TypeError, RuntimeError) as err:
            raise CheckpointError(f"{checkpoint}: cannot resume from it ({err})") from None
        return run

    def _validate(self, config: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` when ``config`` is not one this workload trains (default: one
        not in its space, :meth:`~curvecast.space.SearchSpace.validate`)."""
        self.space.validate(config)

    def _extra_meta(self) -> dict[str, Any]:
        """Further facts a checkpoint must carry (default: none)."""
        return {}

    def _check_meta(self, checkpoint: Path, meta: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` when a checkpoint's ``meta`` cannot be resumed here (default: ok)."""

    def _build(self, meta: dict[str, Any], device: str | None) -> SupervisedRun:
        raise NotImplementedError


def _check_expected(checkpoint: Path, meta: Mapping[str, Any],
                    expect: Mapping[str, Any] | None) -> None:
    """Raise ``CheckpointError`` when the checkpoint's ``meta`` is not the run ``expect``
    describes (its config, seed or planned epochs; configs compared as JSON)."""
    if expect is None:
        return
    for key in ("config", "seed", "epochs"):
        if key not in expect:
            continue
        mine = json.dumps(_plain(meta.get(key)), sort_keys=True, default=str)
        wanted = json.dumps(_plain(expect[key]), sort_keys=True, default=str)
        if mine != wanted:
            raise CheckpointError(f"{checkpoint}: a checkpoint of another run (its {key} is "
                                  f"{mine[:120]}, this run's {wanted[:120]})")


def _plain(value: Any) -> Any:
    """``value`` with every numpy scalar in it (in dicts, lists and tuples too) as the Python
    number, string or bool it holds."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value
