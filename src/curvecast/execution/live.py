"""A real search with FIFO + a stopper: configs from a searcher, trained epoch by epoch, judged by
a stopper after every epoch, everything recorded in a :class:`~curvecast.store.Store` as it
happens — the one loop (:func:`curvecast.execution.loop.run`) with ``FIFO(searcher, stopper)``
over real training (:class:`~curvecast.execution.training.TrainingBackend`) and the study's
recorder (:class:`~curvecast.execution.store_recorder.StoreRecorder`).

A worker continues a trial from its checkpoint of the last recorded epoch
(``<checkpoints>/t<number>-e<epoch>.ckpt``), so a search killed at any moment (``kill -9``) and
rerun with the same arguments resumes — no recorded value is lost, no finished trial is retrained,
and a trial that was mid-training continues from its last recorded epoch
(:mod:`curvecast.execution.resume`).  Several processes may run the same study against one
database file at once (on one host: SQLite's WAL mode needs shared memory, so not over a network
file system); the store coordinates them — see :func:`run_search`.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import Any

import numpy as np

from curvecast.curves import CurveSet
from curvecast.execution.resume import SharedSearcher
from curvecast.execution.shared import (
    GRACE,
    HEARTBEAT,
    SharedExplorationFIFO,
    ask_shared,
    load_shared,
    open_live,
    open_study,
    tell_shared,
)
from curvecast.execution.store_recorder import StoreRecorder
from curvecast.execution.study import Progress, SearchResult, search_result
from curvecast.execution.training import train_study
from curvecast.search import ConfigSearcher
from curvecast.stopping import Stopper
from curvecast.store import Store
from curvecast.workloads._base import Workload

__all__ = ["GRACE", "HEARTBEAT", "Progress", "SearchResult", "ask_shared", "check_prior",
           "load_shared", "open_study", "run_search", "tell_shared"]


def run_search(
    workload: Workload,
    searcher: ConfigSearcher,
    stopper: Stopper,
    store: Store,
    *,
    study: str,
    trials: int,
    epochs: int,
    workers: int = 1,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    heartbeat: float = HEARTBEAT,
    grace: float = GRACE,
    executor: cf.Executor | None = None,
) -> SearchResult:
    """Run (or resume, or join) study ``study`` until it has ``trials`` trials complete, stopped
    or failed.

    Several processes may run the same study against one database file at once, each calling
    this with the same arguments; the store coordinates them:

    * **Who trains what.**  Each trial records its owner (``host:pid:token``,
      :func:`~curvecast.store.worker_id`) and a heartbeat this call refreshes every ``heartbeat``
      seconds.  A process takes work only by an atomic claim (one ``BEGIN IMMEDIATE``
      transaction, :meth:`~curvecast.store.Store.claim_trial`): a PENDING or PAUSED trial, or a
      RUNNING one whose owner is dead — its pid has exited on this host, or it sent no heartbeat
      for ``grace`` seconds, or its last one lies more than ``grace`` ahead of this process's
      clock (:func:`~curvecast.store.worker_alive`: the clocks of the machines sharing a study
      must agree within ``grace``) — which then continues from its checkpoint (how a rerun after
      ``kill -9`` resumes).  Every later write checks ownership in the same transaction, so a
      worker presumed dead that comes back drops the trial instead of recording twice.
    * **Budget.**  A new trial is created in the transaction that counts the study's trials (all
      states), so the study never holds more than ``trials``.
    * **Searcher.**  The state saved in the store is the one searcher of the study: every ask
      (with the creation of its trial) and every tell (with the trial's final state) is one
      transaction that loads the saved state into ``searcher``, calls it, and saves it back, so
      a second process proposes nothing the first already did.  A failed trial is not told.
    * **Stopper.**  Before each decision this process reads the observations recorded since its
      last read, by any process, so the stopper's History holds every trial of the study.

    A process returns when it can neither claim nor create a trial and trains none; trials that
    other live processes still train are theirs to finish.

    Args:
        workload: what to train (its name, the epochs and the seed must match a resumed study).
        searcher: proposes configs; its state is shared through the store (above).
        stopper: judges a trial after every epoch but the last.
        store: the study database.
        study: the study's name.
        trials: the study's budget of trials (complete, stopped or failed).
        epochs: epochs of full training, T.
        workers: training processes of this call (1: train in this process).
        seed: seed of training (trial ``n`` trains with ``seed * 1_000_003 + n``).
        settings: more settings to record with a new study.
        on_progress: called with the study's :class:`Progress` after every recorded epoch.
        heartbeat: seconds between this process's heartbeats.
        grace: seconds without a heartbeat after which another process takes over a trial;
            recorded as the study's, by which ``show`` and ``studies`` call a trial interrupted.
        executor: where the epoch tasks run (default: ``workers`` local processes, or this
            process for 1); e.g. :class:`curvecast.integrations.ray_backend.RayExecutor`: the
            same task on Ray.

    Raises:
        ValueError: ``trials``/``epochs``/``workers`` below 1, ``heartbeat`` not in
            ``(0, grace)``, or the study exists with other settings (workload, epochs, seed).
    """
    for name, value in (("trials", trials), ("epochs", epochs), ("workers", workers)):
        if value < 1:
            raise ValueError(f"--{name} must be at least 1, got {value}")
    if not 0 < heartbeat < grace:
        raise ValueError(f"heartbeat must be positive and below grace, got heartbeat={heartbeat} "
                         f"s, grace={grace} s")
    live = open_live(store, study, workload, epochs, seed, settings, grace)
    progress = live.mirror.update(Progress(trials=trials))
    if on_progress:  # the study's state before this call trains anything (a finished study: all)
        on_progress(progress)
    recorder = StoreRecorder(live, progress, every_decision=True, on_progress=on_progress)
    scheduler = SharedExplorationFIFO(live, SharedSearcher(live, searcher, trials, grace),
                                      stopper)
    train_study(live, scheduler, recorder, trials=trials, workers=workers, heartbeat=heartbeat,
                executor=executor)
    live.sync()
    return search_result(store, study, live.mirror.update(progress), epochs)


def check_prior(prior: CurveSet, workload: Workload, source: str,
                columns: bool = True, epochs: int | None = None) -> None:
    """Raise ``ValueError`` unless ``prior`` holds curves of ``workload``: its workload name when
    recorded (by ``collect``, or in the settings of a study's exported or stored curves), and
    (with ``columns``: for a predictor that reads the config table) every config column the
    workload's trials have; and, for a workload that plans its schedule over a run's epochs
    (:attr:`Workload.schedule_by_epochs`), runs planned for the search's ``epochs``.  Called
    before a search starts, so a wrong ``--prior`` never costs training; the metric and
    direction are checked before it by :func:`curvecast.datasets.check_prior_metric` (an
    unnamed Optuna objective matches any).
    """
    recorded = prior.provenance.get("workload")
    settings = prior.provenance.get("settings")
    if recorded is None and isinstance(settings, dict):  # a study's curves (`export`, DB#study)
        recorded = settings.get("workload")
    if recorded is not None and recorded != workload.name:
        raise ValueError(f"{source}: curves of workload {recorded!r}, not {workload.name!r}: a "
                         "prior must come from the same workload")
    planned = prior.provenance.get("epochs")
    if planned is None and isinstance(settings, dict):
        planned = settings.get("epochs")
    if isinstance(planned, int | float) and not isinstance(planned, bool):
        planned = int(planned)
    else:
        planned = prior.without_untrained_epoch().n_epochs
    if workload.schedule_by_epochs and epochs is not None and planned != epochs:
        raise ValueError(f"{source}: runs planned for {planned} epochs, and workload "
                         f"{workload.name!r} plans its learning-rate schedule over a run's "
                         f"epochs, so their first {epochs} are not what a {epochs}-epoch run "
                         f"does: record the prior with --epochs {epochs}, or search with "
                         f"--epochs {planned}")
    if not columns:
        return
    example = workload.space.sample(np.random.default_rng(0))
    missing = sorted((set(example) | set(workload.describe(example))) - set(prior.configs.columns))
    if missing:
        raise ValueError(f"{source}: its config table lacks {missing}, which workload "
                         f"{workload.name!r} records: a prior must come from the same workload")
