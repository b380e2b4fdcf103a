"""The epoch task every backend of a real search runs: continue a trial from its checkpoint, train
one epoch, save the next checkpoint — in this process, in local worker processes
(:func:`local_executor`) or as Ray tasks (:class:`curvecast.integrations.ray_backend.RayExecutor`)
— the task :class:`~curvecast.execution.training.TrainingBackend` hands out."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import re
import signal
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curvecast.execution.workers import WorkerPool, one_torch_thread, quiet_worker
from curvecast.workloads._base import (
    CheckpointError,
    CheckpointWriteError,
    EpochResult,
    TrainingRun,
    Workload,
)


@dataclass(frozen=True)
class EpochTask:
    """Train epoch ``done + 1`` of trial ``number`` (``config``, training ``seed``) of a run
    planned for ``epochs`` epochs, from the checkpoint in ``checkpoints``."""

    workload: Workload
    number: int
    config: dict[str, Any]
    seed: int
    epochs: int  # the planned length of the run, T
    done: int  # epochs already recorded
    checkpoints: Path


@dataclass(frozen=True)
class EpochOutcome:
    """What an epoch task returns: the epoch's result, the test value after the last epoch, an
    error (the trial failed) or a note (e.g. it restarted from epoch 0)."""

    number: int
    result: EpochResult
    test_value: float | None
    error: str | None = None
    note: str | None = None  # e.g. a checkpoint that did not load: the trial restarted


def checkpoint_path(folder: Path, number: int, epoch: int) -> Path:
    return folder / f"t{number}-e{epoch}.ckpt"


def train_one_epoch(task: EpochTask) -> EpochOutcome:
    """Continue trial ``task.number`` from its checkpoint and train one epoch (runs in a worker).

    The epoch trains with one torch thread on every backend: curves are bit-identical only at a
    fixed thread count (text-lstm's differ at two), and a Ray task's thread count was otherwise
    its node's ``OMP_NUM_THREADS``, so a Ray search's curves depended on the environment.
    """
    one_torch_thread()
    try:
        ckpt = checkpoint_path(task.checkpoints, task.number, task.done)
        run: TrainingRun | None = None
        note = None
        if task.done > 0 and not ckpt.exists():  # moved without its checkpoints folder, or
            # a node that does not see it: the recorded epochs are trained again (the same
            # values, deterministic), which costs their time: said, as a failed load is
            note = (f"t{task.number}: no checkpoint after epoch {task.done} in {task.checkpoints}; "
                    "restarted from epoch 0")
        elif task.done > 0:
            try:
                run = task.workload.resume(ckpt, expect={
                    "config": task.config, "seed": task.seed, "epochs": task.epochs,
                    "epochs_done": task.done})
            except CheckpointError as err:  # treated as missing: never trust, never run it
                ckpt.unlink(missing_ok=True)
                note = f"t{task.number}: {err}; restarted from epoch 0"
        if run is None:  # a fresh trial, or no usable checkpoint: retrain the recorded epochs
            run = task.workload.start(task.config, seed=task.seed, epochs=task.epochs)
            for _ in range(task.done):
                run.train_epoch()
        result = run.train_epoch()
        test = None
        if run.epochs_done >= task.epochs:
            test = float(run.test_value())
        else:
            _save(run, checkpoint_path(task.checkpoints, task.number, run.epochs_done))
        return EpochOutcome(task.number, result, test, note=note)
    except CheckpointWriteError:  # the machine's fault, not the config's: the search stops
        raise
    except Exception as err:  # a config that cannot train fails alone, the search goes on
        return EpochOutcome(task.number, EpochResult(task.done + 1, float("nan"), 0.0), None,
                        error=f"{type(err).__name__}: {err}")


def _save(run: TrainingRun, path: Path) -> None:
    """``run``'s checkpoint to ``path``; a file system's refusal (full disk, read-only folder) as
    a :class:`CheckpointWriteError`, which stops the search instead of failing the trial."""
    try:
        run.save_checkpoint(path)
    except OSError as err:
        raise CheckpointWriteError(f"{path}: the checkpoint could not be written "
                                   f"({err.strerror or err}); is the disk full, or the folder "
                                   "read-only?") from None


class InProcess(cf.Executor):
    """Runs each task when submitted (one worker, no process start-up, same results)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:
            future.set_exception(err)
        return future


class _WorkerPool(WorkerPool):
    """A process pool whose workers ignore Ctrl-C from birth: the parent handles it (stops the
    search, says how to resume).  :func:`quiet_worker` ignores it too, but only once a worker has
    imported what it needs; a Ctrl-C before that (a terminal sends it to every process of the
    job) printed a KeyboardInterrupt traceback per worker.  A signal ignored when a process is
    started stays ignored in it, so SIGINT is ignored while one is started (main thread only)."""

    def __enter__(self) -> _WorkerPool:
        """While the pool is in use (main thread only), the first Ctrl-C raises
        KeyboardInterrupt and ignores the next ones until :meth:`__exit__` has stopped the
        workers: a second Ctrl-C 50 ms after the first could land inside the futures' own
        locking on the way out and leave the pool's manager thread blocked, so the process
        hung at exit (a flaky CI run, stop 37)."""
        self._outer_sigint: Any = None
        if threading.current_thread() is threading.main_thread():
            self._outer_sigint = signal.signal(signal.SIGINT, _interrupt_once)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool | None:
        """On Ctrl-C or SIGTERM (KeyboardInterrupt), stop the workers now instead of waiting for
        the epochs in flight: nothing they finish after the interrupt is recorded anyway (a
        rerun trains those epochs again from the last recorded checkpoint, and checkpoints are
        written atomically), and a second Ctrl-C during that wait deadlocked the pool's
        shutdown, the workers left running (a review, stop 35).  Other exits wait, as usual.
        The Ctrl-C handler the pool found is put back either way."""
        main = threading.current_thread() is threading.main_thread()
        try:
            if exc_type is None or not issubclass(exc_type, KeyboardInterrupt):
                return super().__exit__(exc_type, exc, tb)
            if main:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            workers = list((self._processes or {}).values())
            self.shutdown(wait=False, cancel_futures=True)
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.join(timeout=5)
            return None
        finally:
            outer = getattr(self, "_outer_sigint", None)
            if main and outer is not None:
                signal.signal(signal.SIGINT, outer)


def _interrupt_once(signum: int, frame: object) -> None:
    """Ctrl-C while the worker pool runs: ignore the next ones, then raise KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def local_executor(workers: int) -> cf.Executor:
    if workers == 1:
        one_torch_thread()
        return InProcess()
    ctx = mp.get_context("spawn")
    return _WorkerPool(max_workers=workers, mp_context=ctx, initializer=quiet_worker,
                       initargs=(os.getpid(),))


def clean_finished_checkpoints(checkpoints: Path, finished: Collection[int]) -> None:
    """Delete every checkpoint in ``checkpoints`` of the trials numbered in ``finished`` (trials
    that left the search: complete, stopped, failed), listing the folder once.  A search killed
    between recording a trial's end and deleting its checkpoints left them; nothing trains such
    a trial again, so nothing else would ever delete them."""
    pattern = re.compile(r"t(\d+)-e\d+\.ckpt")
    for path in checkpoints.glob("t*-e*.ckpt"):
        match = pattern.fullmatch(path.name)
        if match is not None and int(match.group(1)) in finished:
            path.unlink(missing_ok=True)


def clean_checkpoints(checkpoints: Path, number: int, keep: int | None = None) -> None:
    """Delete trial ``number``'s checkpoints, but the one after ``keep`` epochs (None: all)."""
    kept = None if keep is None else checkpoint_path(checkpoints, number, keep).name
    for old in checkpoints.glob(f"t{number}-e*.ckpt"):
        if old.name != kept:
            old.unlink(missing_ok=True)
