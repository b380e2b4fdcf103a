"""Record learning curves by really training sampled configs: the engine behind ``curvecast collect``.

Config ``i`` of a collection is drawn from ``numpy.random.default_rng([seed, i])`` and trained
with seed ``seed * 1_000_003 + i``, so a collection is a deterministic function of (workload, seed,
epochs) and ``--configs 6`` after ``--configs 3`` trains exactly configs 3, 4 and 5.

Crash safety: the output file only ever holds fully trained configs and is replaced atomically after
each one finishes (:meth:`CurveSet.save`), so it is readable at any moment.  While a config trains,
its checkpoint and the epochs it has reported so far live in ``<out>.partial/``; a rerun after an
interruption (Ctrl-C, ``kill -9``) skips the finished configs and continues unfinished ones from
their last checkpoint.  Training runs in ``workers`` single-thread processes.  One process
collects into a file at a time (an advisory lock on ``.<name>.lock`` beside it, removed at the
end): a second is refused.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import glob
import json
import multiprocessing as mp
import os
import platform
import re
import shutil
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast.curves import CurveSet
from curvecast.curves.atomic_write import write_text_atomically
from curvecast.execution.workers import (
    WorkerPool,
    ctrl_c_ignored_at_start,
    exit_with_parent,
    one_torch_thread,
    quiet_worker,
)
from curvecast.workloads._base import CheckpointError, EpochResult, TrainingRun, Workload

_VERSIONED_PACKAGES = ("curvecast", "numpy", "scipy", "scikit-learn", "pandas", "pyarrow",
                       "torch", "mnist1d")


@dataclass(frozen=True)
class CollectStep:
    """One step of :func:`collect`: config ``config_id`` reached ``epoch`` (of ``epochs``) with
    ``value``.  (A search's snapshot is :class:`~curvecast.execution.live.Progress`.)

    ``done`` is True on the event that finishes the config.
    """

    config_id: str
    epoch: int
    epochs: int
    value: float
    done: bool = False


@dataclass
class CollectResult:
    """What a :func:`collect` call did.

    Attributes:
        curves: everything in the output file at the end.
        trained: ids of configs trained to completion in this call.
        skipped: ids of configs found complete in the file and not retrained.
        resumed: ids of configs continued from a checkpoint left by an interrupted call.
    """

    curves: CurveSet
    trained: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a recording depends on (absent ones omitted)."""
    versions = {"python": platform.python_version()}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def config_id(seed: int, index: int) -> str:
    """The id of config ``index`` of the collection with ``seed``."""
    return f"s{seed}-{index:05d}"


def run_seed(seed: int, index: int) -> int:
    """The training seed of config ``index`` of the collection with ``seed``."""
    return seed * 1_000_003 + index


def sample_config(workload: Workload, seed: int, index: int) -> dict[str, Any]:
    """Config ``index`` of the collection with ``seed`` (independent of how many are collected)."""
    return workload.space.sample(np.random.default_rng([seed, index]))


@dataclass(frozen=True)
class _Job:
    workload: Workload
    config_id: str
    config: dict[str, Any]
    seed: int
    epochs: int
    partial_dir: Path


@dataclass(frozen=True)
class _Outcome:
    config_id: str
    results: list[EpochResult]
    test_value: float
    resumed: bool


def _train(job: _Job, report: Callable[[CollectStep], None]) -> _Outcome:
    """Train one config to ``job.epochs``, checkpointing after every epoch (runs in a worker)."""
    ckpt = job.partial_dir / f"{job.config_id}.ckpt"
    log = job.partial_dir / f"{job.config_id}.json"
    results: list[EpochResult] = []
    resumed = False
    run: TrainingRun | None = None
    if ckpt.exists() and log.exists():
        try:
            run = job.workload.resume(ckpt, expect={"config": job.config, "seed": job.seed,
                                                    "epochs": job.epochs})
            results = [EpochResult(**r) for r in json.loads(log.read_text())]
            if len(results) < run.epochs_done:  # a checkpoint ahead of its values (a run
                # stopped between the two writes before stop 32 wrote the values first)
                raise ValueError(f"its checkpoint is at epoch {run.epochs_done} and its "
                                 f"values reach epoch {len(results)}")
            results = results[: run.epochs_done]
            resumed = True
        except (CheckpointError, ValueError, TypeError) as err:  # treated as missing
            print(f"warning: {job.config_id}: {err}; restarted from epoch 0", file=sys.stderr)
            run, results = None, []
    if run is None:
        run = job.workload.start(job.config, seed=job.seed, epochs=job.epochs)
    while run.epochs_done < job.epochs:
        result = run.train_epoch()
        results.append(result)
        if run.epochs_done < job.epochs:  # the values first: a stop between the two writes
            # leaves values ahead of the checkpoint (its epoch is trained again), never a hole
            write_text_atomically(log, json.dumps([r.__dict__ for r in results]),
                                  follow_links=False)
            run.save_checkpoint(ckpt)
        report(CollectStep(job.config_id, result.epoch, job.epochs, result.value))
    return _Outcome(job.config_id, results, float(run.test_value()), resumed)


_QUEUE: Any = None


def _set_queue(queue: Any, parent: int | None = None) -> None:
    global _QUEUE
    quiet_worker(parent)
    _QUEUE = queue


def _train_in_worker(job: _Job) -> _Outcome:
    return _train(job, lambda p: _QUEUE.put(p))


def _check_compatible(existing: CurveSet, workload: Workload, seed: int, epochs: int,
                      out: Path) -> None:
    prov = existing.provenance
    if "workload" not in prov:  # an imported or exported set: no collection to go on with
        raise ValueError(f"{out}: holds curves `curvecast collect` did not make (an import or "
                         "an export; it is left as it is); choose another --out")
    expected = {"workload": workload.name, "seed": seed, "epochs": epochs}
    for key, value in expected.items():
        if prov.get(key) != value:
            raise ValueError(
                f"{out}: holds a collection with {key}={prov.get(key)!r}, not {value!r}; "
                "rerun with the arguments that made it, or choose another --out"
            )


def _check_ids(ids: Sequence[str], seed: int, out: Path) -> None:
    """Refuse a file whose config ids are not those :func:`config_id` makes for ``seed``: the
    ids name partial files to delete (``<out>.partial/<id>.*``), so an id such as
    ``../../x-1`` from a file made elsewhere would delete files outside (a security review)."""
    made = re.compile(rf"s{seed}-\d{{5,}}")
    bad = next((c for c in ids if not made.fullmatch(str(c))), None)
    if bad is not None:
        raise ValueError(f"{out}: holds config id {str(bad)[:80]!r}, not made by `curvecast "
                         f"collect` (its ids are s{seed}-00000, s{seed}-00001, …); choose another "
                         "--out")


def check_arguments(*, n_configs: int, epochs: int, workers: int,
                    out: str | os.PathLike[str]) -> Path:
    """Validate :func:`collect`'s arguments before any work starts; returns ``out`` as a Path.

    Raises:
        ValueError: a count below 1.
        FileNotFoundError: the folder of ``out`` does not exist.
    """
    if n_configs < 1:
        raise ValueError(f"--configs must be at least 1, got {n_configs}")
    if epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {epochs}")
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    path = Path(out)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: folder {str(path.parent)!r} does not exist")
    return path


def collect(
    workload: Workload,
    *,
    n_configs: int,
    epochs: int,
    seed: int,
    out: str | os.PathLike[str],
    workers: int = 1,
    on_progress: Callable[[CollectStep], None] | None = None,
    command: str | None = None,
) -> CollectResult:
    """Sample ``n_configs`` configs of ``workload``, train each for ``epochs``, save to ``out``.

    Resumable (see the module docstring).  ``workers`` > 1 trains in that many single-thread
    processes.  ``on_progress`` receives a :class:`CollectStep` after every epoch of every config.

    Raises:
        ValueError: ``n_configs`` or ``epochs`` or ``workers`` below 1, or ``out`` holding a
            collection of another workload, seed or epoch count.
        FileNotFoundError: the folder of ``out`` does not exist.
        CurveSetFormatError: ``out`` exists but is not a readable CurveSet.
    """
    out = check_arguments(n_configs=n_configs, epochs=epochs, workers=workers, out=out)
    with _only_collector(out):
        return _collect(workload, n_configs=n_configs, epochs=epochs, seed=seed, out=out,
                        workers=workers, report=on_progress or (lambda _p: None),
                        command=command)


@contextlib.contextmanager
def _only_collector(out: Path) -> Iterator[None]:
    """Hold the lock of ``out``'s collection (a hidden ``.<name>.lock`` beside it, removed at
    the end) for the block: two processes collecting into one file would train the same configs
    twice and trip over each other's partial files.

    The lock is opened without following a link (a security review: a link planted at its
    path made collect create a file where the link pointed) and must be a regular file.

    Raises:
        ValueError: another process holds it, or its path is a link or not a regular file.
    """
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: one collect per file is on you
        yield
        return
    lock = out.with_name(f".{out.name}.lock")
    flags = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))  # (a pipe: no wait)
    try:
        fd = os.open(lock, flags, 0o644)
    except OSError:
        if not lock.is_symlink():
            raise
        raise ValueError(f"{lock}: collect's lock file of {out} is a symbolic link, not followed "
                         "(curvecast makes it a regular file); remove the link and rerun") from None
    with open(fd, "a") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{lock}: collect's lock file of {out} is not a regular file; "
                             "remove it and rerun")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"{out}: another process is collecting into it (it holds {lock}); "
                             "run one collect per --out, or wait for it to end and rerun to "
                             "resume") from None
        try:
            yield
        finally:  # removed while still held, so that a waiting process finds no stale lock
            lock.unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _collect(workload: Workload, *, n_configs: int, epochs: int, seed: int, out: Path,
             workers: int, report: Callable[[CollectStep], None],
             command: str | None) -> CollectResult:
    """:func:`collect` of ``out``, its lock held."""

    result = CollectResult(curves=None)  # type: ignore[arg-type]
    long_rows, config_rows, tests = _recorded(out, workload, seed, epochs, n_configs, result)
    partial_dir = out.with_name(out.name + ".partial")
    partial_dir.mkdir(exist_ok=True)
    for cid in config_rows:  # recorded, but stopped before its partial files were removed
        for leftover in partial_dir.glob(f"{glob.escape(cid)}.*"):
            leftover.unlink()
    jobs, pending_rows = _jobs(workload, seed, n_configs, epochs, partial_dir, config_rows)
    provenance = _provenance(workload, seed, epochs, command)

    def record(outcome: _Outcome) -> None:
        cid = outcome.config_id
        config_rows[cid] = pending_rows.pop(cid)
        for r in outcome.results:
            long_rows.append({"config_id": cid, "epoch": r.epoch, "value": r.value,
                              "seconds": r.seconds})
        tests[cid] = outcome.test_value
        _save(out, workload, epochs, long_rows, config_rows, tests, provenance)
        for leftover in partial_dir.glob(f"{glob.escape(cid)}.*"):
            leftover.unlink()
        result.trained.append(cid)
        if outcome.resumed:
            result.resumed.append(cid)
        report(CollectStep(cid, epochs, epochs, outcome.results[-1].value, done=True))

    for outcome in _run_jobs(jobs, workers, report):
        record(outcome)
    if not any(partial_dir.iterdir()):
        shutil.rmtree(partial_dir, ignore_errors=True)
    if not out.exists():  # nothing was trained and nothing was there: cannot happen with n >= 1
        raise RuntimeError(f"{out}: no configs were recorded")
    result.curves = CurveSet.load(out)
    return result


def _recorded(out: Path, workload: Workload, seed: int, epochs: int, n_configs: int,
              result: CollectResult
              ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], dict[str, float]]:
    """``(long rows, config rows, test values)`` of the complete configs ``out`` already holds
    (all empty when it does not exist); the ones among the first ``n_configs`` go to
    ``result.skipped``.

    Raises:
        ValueError: ``out`` holds a collection of another workload, seed or epoch count.
        CurveSetFormatError: ``out`` is not a readable CurveSet.
    """
    long_rows: list[dict[str, Any]] = []
    config_rows: dict[str, dict[str, Any]] = {}
    tests: dict[str, float] = {}
    if out.exists():
        existing = CurveSet.load(out)
        _check_compatible(existing, workload, seed, epochs, out)
        _check_ids(existing.config_ids, seed, out)
        complete = existing.is_complete()
        existing = existing.subset(complete)
        long_rows = existing.to_long().to_dict(orient="records")  # type: ignore[assignment]
        config_rows = {str(k): {str(c): v for c, v in row.items()}
                       for k, row in existing.configs.to_dict(orient="index").items()}
        assert existing.test_values is not None
        tests = dict(zip(existing.config_ids, existing.test_values.tolist(), strict=True))
        result.skipped = [c for c in existing.config_ids
                          if int(c.rsplit("-", 1)[1]) < n_configs]
    return long_rows, config_rows, tests


def _jobs(workload: Workload, seed: int, n_configs: int, epochs: int, partial_dir: Path,
          config_rows: Mapping[str, Any]) -> tuple[list[_Job], dict[str, dict[str, Any]]]:
    """The training jobs of the first ``n_configs`` configs not recorded yet, and their future
    config-table rows (config and architecture fields) by id."""
    jobs: list[_Job] = []
    pending_rows: dict[str, dict[str, Any]] = {}
    for i in range(n_configs):
        cid = config_id(seed, i)
        if cid in config_rows:
            continue
        config = sample_config(workload, seed, i)
        pending_rows[cid] = {**config, **workload.describe(config)}
        jobs.append(_Job(workload, cid, config, run_seed(seed, i), epochs, partial_dir))
    return jobs, pending_rows


def _provenance(workload: Workload, seed: int, epochs: int, command: str | None
                ) -> dict[str, Any]:
    """What the collection records about how it was made (workload, seed, command, versions,
    machine, time, and which config columns are architecture and which hyperparameters)."""
    example = sample_config(workload, seed, 0)
    return {
        "workload": workload.name,
        "seed": seed,
        "epochs": epochs,
        "command": command or " ".join(sys.argv),
        "packages": package_versions(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        # which config columns the featurizer treats as architecture and as hyperparameters
        "columns": {"architecture": list(workload.describe(example)),
                    "hyperparameters": list(example)},
    }


def _run_jobs(jobs: list[_Job], workers: int, report: Callable[[CollectStep], None]
              ) -> Iterator[_Outcome]:
    """Train ``jobs`` in this process (``workers == 1``) or in a process pool; yield as they end."""
    if workers == 1 or len(jobs) <= 1:
        one_torch_thread()  # curves are bit-identical only at a fixed thread count
        for job in jobs:
            yield _train(job, report)
        return
    ctx = mp.get_context("spawn")
    manager = SyncManager(ctx=ctx)
    with ctrl_c_ignored_at_start():  # its server and the workers leave Ctrl-C to us from birth
        manager.start(exit_with_parent, (os.getpid(),))  # the queue's server goes with us too
    with manager:
        queue = manager.Queue()
        pool = WorkerPool(max_workers=min(workers, len(jobs)), mp_context=ctx,
                          initializer=_set_queue, initargs=(queue, os.getpid()))
        try:
            pending = {pool.submit(_train_in_worker, job) for job in jobs}
            while pending:
                finished, pending = cf.wait(pending, timeout=0.2,
                                            return_when=cf.FIRST_COMPLETED)
                while not queue.empty():  # a worker's epoch reports precede its result
                    report(queue.get_nowait())
                for fut in finished:
                    yield fut.result()
        except BaseException:
            # Ctrl-C or a failed config: stop the other workers now, not after their configs.
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in processes:
                proc.terminate()
            raise
        pool.shutdown(wait=True)


def _save(out: Path, workload: Workload, epochs: int, long_rows: list[dict[str, Any]],
          config_rows: Mapping[str, Mapping[str, Any]], tests: Mapping[str, float],
          provenance: Mapping[str, Any]) -> None:
    configs = pd.DataFrame.from_dict(dict(config_rows), orient="index")
    configs.index.name = "config_id"
    curves = CurveSet.from_long(
        pd.DataFrame(long_rows), configs,
        metric=workload.metric, direction=workload.direction,
        epochs=np.arange(1, epochs + 1), test_values=tests, provenance=provenance,
        diverged_value=workload.diverged_value,
    )
    curves.save(out)
