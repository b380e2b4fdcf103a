"""``curvecast search --backend ray``: the real search run through Ray Tune (extra ``curvecast[ray]``).

:func:`run_ray_search` takes what :func:`curvecast.execution.live.run_search` takes — a workload, a
curvecast searcher, a stopper and a :class:`~curvecast.store.Store` — and runs the search as one
Ray Tune experiment, on a local Ray (the default) or on an existing cluster (``address``):

* each trial is a Tune trial whose trainable trains the workload's config one epoch per
  ``tune.report`` (the metric, ``epoch`` and the epoch's seconds), saving a checkpoint with every
  report so Tune can pause a trial and continue it, or restart it after a failure, where it was;
* the curvecast searcher proposes the configs (a Tune ``Searcher`` asks it, one config per trial);
* the stopper decides on the driver: whatever the rule (predictive, median, ASHA, never), it is
  the curvecast stopper itself, with all its settings, run by
  :class:`~curvecast.integrations.ray_tune.CurvecastScheduler` over the same study view
  (:meth:`curvecast.stopping.History.from_curves`) as on the local backend;
* every value, decision and trial state is written into the store's study *on the driver*, as
  results arrive (a Tune ``Callback``), as the local backend writes them, so
  ``curvecast show / report / export`` read a Ray study like any other.

The driver takes part in the store's coordination like a local worker process (see
:func:`curvecast.execution.live.run_search`): its trials are owned by its worker id and kept alive
by heartbeats, a new trial is created in the transaction that counts the study's trials against
the budget, and every ask and tell goes through the searcher state saved in the study.  So a rerun
with the same study resumes it: finished trials count toward ``trials``, the completed curves are
loaded into the scheduler, the searcher continues, and trials a dead driver (or worker) left
RUNNING are claimed and trained again from their first epoch (same seed, so they reproduce the
recorded values, which are kept).

Ray is started on 127.0.0.1 only: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is set for it (unless
the environment sets it), which makes every Ray listener bind the loopback interface.  A cluster
is started with ``ray start --head`` (and ``ray start --address HEAD:6379`` on the other nodes);
pass its address.  Its nodes need curvecast (with the workload's extras) installed, and on more
than one node ``storage_path`` must be storage every node reaches (a shared folder or a cloud URI)
for the trials' checkpoints.

Beside this module, one job each: ``_ray_trainable`` (the trainable, in the workers),
``_ray_study_scheduler`` (the stopper as a Tune scheduler), ``_ray_study_book`` (the driver's
book of the study, and the Tune searcher and callback that feed it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from curvecast.curves import Direction
from curvecast.execution.live import open_study
from curvecast.execution.study import Progress, SearchResult, search_result
from curvecast.integrations.ray_session import ray_session, resolve_address
from curvecast.search import ConfigSearcher
from curvecast.stopping import Stopper
from curvecast.store import Store
from curvecast.workloads._base import Workload

try:
    from ray import tune

    from curvecast.integrations._ray_study_book import StudyBook, StudyRecorder, StudySearcher
    from curvecast.integrations._ray_study_scheduler import StudyScheduler, scheduler_for
    from curvecast.integrations._ray_trainable import _train
except ImportError as error:  # pragma: no cover - exercised without ray installed
    raise ImportError("curvecast.integrations.ray_search needs Ray Tune: "
                      "pip install 'curvecast[ray]'") from error

__all__ = ["StudyScheduler", "run_ray_search", "scheduler_for"]

#: The driver's book under its former name (tests build one directly).
_Book = StudyBook


def run_ray_search(
    workload: Workload,
    searcher: ConfigSearcher,
    stopper: Stopper,
    store: Store,
    *,
    study: str,
    trials: int,
    epochs: int,
    workers: int = 0,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    address: str | None = None,
    storage_path: str | os.PathLike[str] | None = None,
    max_failures: int = 1,
) -> SearchResult:
    """Run (or resume) study ``study`` through Ray Tune until ``trials`` trials are complete,
    stopped or failed (see the module docstring).

    Args:
        workload, searcher, stopper, store, study, trials, epochs, seed, settings, on_progress:
            as for :func:`curvecast.execution.live.run_search`.
        workers: trials trained at once (one CPU each); 0: the local Ray's CPUs (all cores), or
            the cluster's.
        address: an existing Ray cluster (``HOST:PORT`` of its head, or ``auto``); None: the
            one in the ``RAY_ADDRESS`` environment variable when set, else a new local Ray on
            127.0.0.1 with ``workers`` CPUs, stopped at the end.  When Ray is already initialised
            in this process it is used as it is (and left running).
        storage_path: where Tune keeps the experiment (results, trial checkpoints): a folder or
            a URI Tune supports (``s3://…``); default: the folder ``<database>.ray`` beside the
            study database.  On a cluster of several nodes, every node must reach it.
        max_failures: times Tune restarts a failed trial from its last checkpoint before the
            trial is recorded as failed.

    Raises:
        ValueError: ``trials``/``epochs`` below 1, ``workers`` below 0, a Ray Client
            (``ray://``) address, a stopper this backend cannot run, or the study exists with
            other settings (workload, epochs, seed).
        ConnectionError: no Ray cluster answers at ``address``.
    """
    for name, value in (("trials", trials), ("epochs", epochs)):
        if value < 1:
            raise ValueError(f"--{name} must be at least 1, got {value}")
    if workers < 0:
        raise ValueError(f"--workers must be at least 0 (0: every CPU), got {workers}")
    address = resolve_address(address)
    open_study(store, study, workload, epochs, seed, settings)
    scheduler = scheduler_for(stopper, epochs, workload)
    book = StudyBook(workload, searcher, scheduler, store, study=study, trials=trials, epochs=epochs,
                 seed=seed, on_progress=on_progress)
    budget = trials - book.progress.finished
    if budget > 0:
        folder = (os.fspath(storage_path) if storage_path is not None
                  else str(store.path.with_name(store.path.name + ".ray")))
        if "://" not in folder:  # a local folder (Tune wants it absolute), else a URI (s3://…)
            folder = str(Path(folder).resolve())
        with ray_session(address, workers) as cpus, _quiet_tune():
            concurrency = workers or max(1, cpus)
            tuner = tune.Tuner(
                tune.with_parameters(_train, workload=workload, epochs=epochs),
                tune_config=tune.TuneConfig(
                    metric=workload.metric,
                    mode="max" if workload.direction is Direction.MAXIMIZE else "min",
                    scheduler=scheduler, search_alg=StudySearcher(book), num_samples=budget,
                    max_concurrent_trials=concurrency, reuse_actors=True),
                run_config=tune.RunConfig(
                    name=f"study-{store.study_id(study)}-{time.strftime('%Y%m%d-%H%M%S')}",
                    storage_path=folder,
                    callbacks=[StudyRecorder(book)], verbose=0,
                    failure_config=tune.FailureConfig(max_failures=max_failures),
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=1)))
            tuner.fit()
    return search_result(store, study, book.progress, epochs)


@contextmanager
def _quiet_tune() -> Iterator[None]:
    """Tune without its console output (the caller reports progress) and without its warning
    about frequent experiment snapshots (one per epoch checkpoint, as ``num_to_keep=1`` asks)."""
    quiet = {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0"}
    added = [k for k in quiet if k not in os.environ]
    os.environ.update({k: quiet[k] for k in added})
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)
