"""Hyperband and f-Hyperband with real training: the one loop (:func:`curvecast.execution.loop.run`)
with the replay simulator's scheduler, unchanged, over real training
(:class:`~curvecast.execution.training.TrainingBackend`) and the study's recorder
(:class:`~curvecast.execution.store_recorder.StoreRecorder`), exactly as
:func:`~curvecast.execution.replay.replay_schedule` runs it over recorded curves:

* the scheduler's searcher is a :class:`~curvecast.execution.resume.StoreSearcher`: ``ask()``
  draws a config from the workload's :class:`~curvecast.search.ConfigSearcher` (a random sampler:
  Hyperband samples at random), adds it to the store as a PENDING trial and returns
  ``t<number>`` as the config id;
* a job trains its trial from its last recorded epoch (its checkpoint) to the job's ``until``
  epochs; between rungs the trial is PAUSED, a promoted trial resumes from its checkpoint, so no
  epoch is trained twice;
* decisions are recorded per trial: ``pause``, ``promote``, ``stop`` (not promoted, or stopped
  inside a rung by f-Hyperband's prediction: then with its mean, std and probability), ``fail``.
  A trial trained to T is COMPLETE, one that left the search earlier STOPPED.

Resume (``kill -9`` at any moment, then the same call again): the scheduler's calls are journaled
in the study and replayed into a fresh scheduler by a rerun
(:class:`~curvecast.execution.resume.JournaledScheduler`); the jobs that were running continue
from their last recorded epoch.  One process per study: a second process that tries to run a
study another live process is running raises :class:`StudyBusyError` (``curvecast search`` exits
with code 2).  Within that process ``workers`` jobs train at once (Li et al.'s parallel
Hyperband: a free worker with nothing to do in the running brackets starts the next bracket).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import Any

from curvecast.execution.resume import (
    JournaledScheduler,
    StoreSearcher,
    StudyBusyError,
    claim_study,
    release_study,
)
from curvecast.execution.shared import GRACE, HEARTBEAT, open_live
from curvecast.execution.store_recorder import StoreRecorder
from curvecast.execution.study import Progress, SearchResult, search_result
from curvecast.execution.training import train_study
from curvecast.search import ConfigSearcher, Hyperband, Searcher
from curvecast.store import Store
from curvecast.workloads._base import Workload

__all__ = ["StudyBusyError", "run_scheduled_search"]


class _Nothing(Searcher):
    """A searcher with no config: builds a scheduler only to learn its kind."""

    def ask(self) -> str | None:
        return None

    def tell(self, config_id: str, value: float, predicted: bool) -> None:
        """Nothing is ever asked."""


def run_scheduled_search(
    workload: Workload,
    configs: ConfigSearcher,
    make_scheduler: Callable[[Searcher], Hyperband],
    store: Store,
    *,
    study: str,
    trials: int,
    epochs: int,
    workers: int = 1,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    grace: float = GRACE,
    executor: cf.Executor | None = None,
) -> SearchResult:
    """Run (or resume) study ``study`` with the Hyperband-family scheduler ``make_scheduler``
    builds, training real networks (see the module docstring).

    Args:
        workload: what to train (its name, the epochs and the seed must match a resumed study).
        configs: draws the configs (e.g. a :class:`~curvecast.search.RandomSampler` of the
            workload's space); the scheduler asks it through a
            :class:`~curvecast.execution.resume.StoreSearcher`.
        make_scheduler: builds the scheduler over a searcher, e.g.
            ``lambda s: Hyperband(s, eta=3)``; called once per call of this function (a resumed
            study replays its journal into the new one), so it must build the same scheduler
            every time.
        store: the study database.
        study: the study's name.
        trials: configs to draw (Hyperband's brackets take what they need, the last bracket
            may be partial: each rung promotes ⌊m/η⌋ of the m configs that entered it, at least 1);
            the search ends when every drawn config left it.
        epochs: R = T, the epochs of full training (the largest rung).
        workers: jobs training at once (1: in this process).
        seed: seed of training (trial ``n`` trains with ``seed * 1_000_003 + n``).
        settings: more settings to record with a new study.
        on_progress: called with the study's :class:`~curvecast.execution.study.Progress` after
            every recorded epoch.
        grace: seconds after the runner's last heartbeat (its heartbeat thread refreshes its
            claim on the study, as its journaled events do) before another process may take
            over its study; recorded as the study's, by which ``show`` and ``studies`` call
            a trial interrupted.
        executor: where the epoch tasks run (default: ``workers`` local processes, or this
            process for 1); e.g. :class:`curvecast.integrations.ray_backend.RayExecutor`: the
            same task on Ray.

    Raises:
        StudyBusyError: another live process is running this study.
        ValueError: ``trials``/``epochs``/``workers`` below 1, ``grace`` not above the
            heartbeat interval (``HEARTBEAT``), the study exists with other
            settings, or its journal does not replay into this scheduler.
    """
    for name, value in (("trials", trials), ("epochs", epochs), ("workers", workers)):
        if value < 1:
            raise ValueError(f"--{name} must be at least 1, got {value}")
    if not grace > HEARTBEAT:  # the claim would go stale between two heartbeats
        raise ValueError(f"grace must be above the heartbeat interval ({HEARTBEAT} s), got "
                         f"{grace} s")
    kind = type(make_scheduler(_Nothing())).__name__.lower()
    # the grace is recorded once the study is this process's: a process refused because
    # another runs the study (StudyBusyError) left its own grace as the study's, by which
    # show and studies then judged the running process's trials
    live = open_live(store, study, workload, epochs, seed, {"scheduler": kind, **(settings or {})},
                     None)
    claim_study(live, grace, kind)
    try:
        store.set_grace(study, grace)
        scheduler = JournaledScheduler(make_scheduler(StoreSearcher(configs, live, trials)), live)
        scheduler.start(epochs)  # a journal that does not replay is refused before any output
        progress = live.mirror.update(Progress(trials=trials))
        if on_progress:  # the study's state before this call trains anything (finished: all)
            on_progress(progress)
        recorder = StoreRecorder(live, progress, every_decision=False, on_progress=on_progress)
        train_study(live, scheduler, recorder, trials=trials, workers=workers,
                    heartbeat=HEARTBEAT, executor=executor, owns_study=True)
    finally:
        release_study(live)
    live.sync()
    return search_result(store, study, live.mirror.update(progress), epochs)
