"""What the one loop (:func:`curvecast.execution.loop.run`) tells about a run as it happens: the
:class:`Recorder` hooks.

A replay needs only :meth:`Recorder.closed` (one :class:`~curvecast.execution.records.TrialRecord`
per trial leaving the search; a plain callable does, see :func:`as_recorder`); a real search
writes everything into its study as it happens
(:class:`~curvecast.execution.store_recorder.StoreRecorder`).  The loop calls the writing hooks
inside :meth:`Recorder.atomic` — one block per event: a job's start, an epoch with the end of a
job it completes, a decision with the end of a job it stops — so a run killed at any moment
leaves each event recorded whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

from curvecast.execution.backends import Finished
from curvecast.execution.records import TrialRecord
from curvecast.search._scheduler import Closed, Job
from curvecast.stopping import Decision, Trial


class Recorder:
    """Hooks the loop calls as a run goes; each does nothing unless overridden."""

    def atomic(self) -> AbstractContextManager[object]:
        """A block whose writes are committed together (default: no transaction)."""
        return nullcontext()

    def owns(self, config_id: str) -> bool:
        """Whether this run may still write ``config_id``'s trial (False: another process took
        it over; the loop drops the job without telling the scheduler).  Default: True."""
        return True

    def started(self, job: Job, done: int) -> None:
        """``job`` starts; its config has ``done`` trained epochs already."""

    def observed(self, config_id: str, epoch: int, finished: Finished) -> None:
        """Trained epoch ``epoch`` of ``config_id`` finished (``finished.error`` None)."""

    def decided(self, config_id: str, decision: Decision) -> None:
        """The scheduler's decision about ``config_id`` after an epoch that did not end its job."""

    def ended(self, trial: Trial, until: int, decision: Decision | None,
              closed: Sequence[Closed]) -> None:
        """The job of ``trial`` (to ``until`` epochs) ended — at its budget (``decision`` None),
        stopped, or failed (a FAIL decision) — and the scheduler closed ``closed``."""

    def closed(self, record: TrialRecord) -> None:
        """A trial left the search."""

    def step(self) -> None:
        """An event is recorded and committed (called outside :meth:`atomic`, before new work is
        handed out: the place for progress reports, which may raise to interrupt the run)."""


class _Callback(Recorder):
    """:meth:`Recorder.closed` is ``on_trial``."""

    def __init__(self, on_trial: Callable[[TrialRecord], None]) -> None:
        self.on_trial = on_trial

    def closed(self, record: TrialRecord) -> None:
        self.on_trial(record)


def as_recorder(recorder: Recorder | Callable[[TrialRecord], None] | None) -> Recorder:
    """``recorder`` as a :class:`Recorder`: a callable is called with each closed trial's
    record; None records nothing."""
    if recorder is None:
        return Recorder()
    if isinstance(recorder, Recorder):
        return recorder
    return _Callback(recorder)
