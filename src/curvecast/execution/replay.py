"""Replay: a search over recorded learning curves on a simulated clock, with W simulated workers.

:func:`replay_schedule` is the one loop (:func:`curvecast.execution.loop.run`) over a
:class:`~curvecast.execution.backends.RecordedBackend` computed in this process; it drives any
:class:`~curvecast.search.Scheduler`: FIFO + a stopper (:func:`replay`, the paper's
random-search experiments), Hyperband, f-Hyperband.
Each job a scheduler hands out is "trained" by reading the config's recorded curve one epoch at a
time (a paused config resumes where it stopped); an epoch costs its recorded seconds
(``CurveSet.seconds``) or 1 time unit where that is unknown.  An event queue ordered by simulated
time (ties broken by the order events were made, so a replay is deterministic) hands the finished
epochs to the scheduler, which may stop the job; when a job ends the scheduler says which configs
leave the search and what their searcher was told (a stopped trial: the stopper's predicted final
value, or its last observed value when the rule predicts nothing, marked as predicted).  Epoch 0
(the untrained network), if recorded, is not replayed: it costs nothing and is never decided on.
An epoch here is one recorded evaluation: curves evaluated every k epochs, or on a log-spaced
axis, are replayed in evaluations (their epochs, rungs and speedups count evaluations; the CLI
says so, :meth:`CurveSet.spacing_note`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from curvecast.curves import CurveSet
from curvecast.execution.backends import RecordedBackend
from curvecast.execution.loop import run
from curvecast.execution.records import ReplayResult, TrialRecord
from curvecast.search import Searcher
from curvecast.search._scheduler import FIFO, Scheduler
from curvecast.stopping import Stopper

__all__ = ["ReplayResult", "TrialRecord", "replay", "replay_schedule"]


def replay(curves: CurveSet, searcher: Searcher, stopper: Stopper, workers: int = 1,
           study: Hashable | None = None,
           on_trial: Callable[[TrialRecord], None] | None = None) -> ReplayResult:
    """Run ``searcher`` with ``stopper`` over the recorded ``curves`` on ``workers`` simulated workers.

    The FIFO schedule: :func:`replay_schedule` with ``FIFO(searcher, stopper)``.

    Args:
        curves: recorded curves; every config the searcher asks for must be complete in it.
        searcher: proposes config ids of ``curves`` (``ask()`` returning None ends the search).
        stopper: asked after every epoch but the last of every trial.
        workers: simulated workers (trials running at once), ≥ 1.
        study: the token stoppers key their caches by (default: a new one per replay).
        on_trial: called with each trial's record when it ends.

    Raises:
        ValueError: ``workers < 1``; a config that is unknown, asked twice, or not complete.
    """
    return replay_schedule(curves, FIFO(searcher, stopper), workers=workers, study=study,
                           on_trial=on_trial)


def replay_schedule(curves: CurveSet, scheduler: Scheduler, workers: int = 1,
                    study: Hashable | None = None,
                    on_trial: Callable[[TrialRecord], None] | None = None) -> ReplayResult:
    """Run ``scheduler`` over the recorded ``curves`` on ``workers`` simulated workers.

    Each free worker takes the scheduler's next job (a config and the epoch to train it to); a
    config met before resumes its recorded curve where it paused.  After every epoch but a job's
    last the scheduler may stop the job; when a job ends the scheduler says which configs leave
    the search (one :class:`TrialRecord` each, in the order the configs first started).

    Args:
        curves: recorded curves; every config the scheduler runs must be complete in it.
        scheduler: decides jobs, stops and promotions (:class:`~curvecast.search.FIFO`,
            :class:`~curvecast.search.Hyperband`, ...).
        workers: simulated workers (jobs running at once), ≥ 1.
        study: the token stoppers key their caches by (default: a new one per replay).
        on_trial: called with each trial's record when it leaves the search.

    Raises:
        ValueError: ``workers < 1``; a config that is unknown, not complete, started while
            running, or given a job with nothing to train.
        RuntimeError: the scheduler left a config neither running nor closed at the end.
    """
    return run(scheduler, RecordedBackend(curves), on_trial, workers=workers, study=study)
