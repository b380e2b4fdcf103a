"""Ray as a backend of the epoch task: ``curvecast search --backend ray`` on a local Ray or a
cluster (extra ``curvecast[ray]``), for FIFO + a stopper (:func:`run_ray_search`) and for the
scheduled search, Hyperband and f-Hyperband (:func:`run_ray_scheduled_search`).

The local backend hands each epoch — continue a trial from its checkpoint, train one epoch, save
the next checkpoint (:func:`curvecast.execution.epoch_task.train_one_epoch`) — to a worker
process; this one hands the same task to a Ray task (one CPU), through :class:`RayExecutor`, a
``concurrent.futures`` executor that :class:`~curvecast.execution.training.TrainingBackend` runs
its tasks in.  Everything else is the local run: the one loop, the searcher, the stopper or
scheduler (curvecast's own, with all its settings), the journal and the store stay with the
driver, so a study resumes the same way (rerun the command: the store is the truth), and
``curvecast show`` lists its decisions.  Checkpoints live in the study's checkpoint folder beside
the database (:meth:`curvecast.store.Store.checkpoint_folder`): on a cluster of several nodes,
every node must reach it (a shared folder).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import Any

from curvecast.execution.live import run_search
from curvecast.execution.live_hyperband import run_scheduled_search
from curvecast.execution.study import Progress, SearchResult
from curvecast.integrations.ray_session import ray, ray_session, resolve_address
from curvecast.search import ConfigSearcher, Hyperband, Searcher
from curvecast.stopping import Stopper
from curvecast.store import Store
from curvecast.workloads import Workload

__all__ = ["RayExecutor", "run_ray_scheduled_search", "run_ray_search"]


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


class RayExecutor(cf.Executor):
    """Runs each submitted call as a Ray task with one CPU (Ray must be initialised)."""

    def __init__(self) -> None:
        self._remote = ray.remote(num_cpus=1)(_call)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = self._remote.remote(fn, *args, **kwargs).future()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to stop: the Ray session is the caller's."""


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
) -> SearchResult:
    """:func:`~curvecast.execution.live.run_search` (FIFO + ``stopper``, the one loop) with
    every epoch a Ray task.

    Args:
        workload, searcher, stopper, store, study, trials, epochs, seed, settings, on_progress:
            as for ``run_search``.
        workers: epochs trained at once; 0: the Ray's CPUs.
        address: a Ray cluster (``HOST:PORT`` of its head, or ``auto``); None: ``RAY_ADDRESS``,
            else a new local Ray on 127.0.0.1 with ``workers`` CPUs (0: every core), stopped at
            the end.  A Ray already initialised in this process is used as it is.

    Raises:
        ValueError: as ``run_search``; a Ray Client (``ray://``) address.
        ConnectionError: no Ray cluster answers at ``address``.
    """
    return _on_ray(run_search, (workload, searcher, stopper, store), workers, address,
                   study=study, trials=trials, epochs=epochs, seed=seed, settings=settings,
                   on_progress=on_progress)


def run_ray_scheduled_search(
    workload: Workload,
    configs: ConfigSearcher,
    make_scheduler: Callable[[Searcher], Hyperband],
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
) -> SearchResult:
    """:func:`~curvecast.execution.live_hyperband.run_scheduled_search` with every epoch a Ray
    task.

    Args:
        workload, configs, make_scheduler, store, study, trials, epochs, seed, settings,
            on_progress: as for ``run_scheduled_search``.
        workers, address: as for :func:`run_ray_search`.

    Raises:
        ValueError: as ``run_scheduled_search``; a Ray Client (``ray://``) address.
        ConnectionError: no Ray cluster answers at ``address``.
    """
    return _on_ray(run_scheduled_search, (workload, configs, make_scheduler, store), workers,
                   address, study=study, trials=trials, epochs=epochs, seed=seed,
                   settings=settings, on_progress=on_progress)


def _on_ray(runner: Callable[..., SearchResult], args: tuple[Any, ...], workers: int,
            address: str | None, **kwargs: Any) -> SearchResult:
    """``runner(*args, **kwargs)`` inside the Ray session of ``address``, its epoch tasks run
    as Ray tasks, ``workers`` of them at once (0: the Ray's CPUs)."""
    if workers < 0:
        raise ValueError(f"--workers must be at least 0 (0: every CPU), got {workers}")
    address = resolve_address(address)
    with ray_session(address, workers) as cpus:
        return runner(*args, workers=workers or max(1, cpus), executor=RayExecutor(), **kwargs)
