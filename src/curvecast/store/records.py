"""What a study database holds, as Python values: a trial's state, a stored trial, and what
changed in a study since a reader's last look."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from curvecast.stopping import Decision
from curvecast.store.workers import GRACE, worker_alive


class TrialState(StrEnum):
    """Where a trial is in its life."""

    PENDING = "pending"  # proposed, waiting for a worker
    RUNNING = "running"
    PAUSED = "paused"  # stopped for now by a scheduler, may be continued (Hyperband)
    COMPLETE = "complete"
    STOPPED = "stopped"  # stopped early for good; predicted_value holds its prediction
    FAILED = "failed"


@dataclass
class StoredTrial:
    """A trial as stored: its config, state, every value observed so far and every
    :class:`~curvecast.stopping.Decision` recorded about it.

    (The running-trial view a stopper reads is :class:`curvecast.stopping.Trial`.)
    """

    number: int
    config: dict[str, Any]
    state: TrialState
    worker: str | None = None
    predicted_value: float | None = None
    test_value: float | None = None
    values: list[tuple[int, float, float | None]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    heartbeat: float | None = None  # the owner's last heartbeat (seconds since the epoch)
    grace: float = GRACE  # the study's grace (Store.grace): seconds before an owner is gone

    def interrupted(self, grace: float | None = None, now: float | None = None) -> bool:
        """Whether the trial is RUNNING but its owner is gone (its process was interrupted or
        killed, or has sent no heartbeat for ``grace`` seconds, or its last one lies more than
        ``grace`` ahead of ``now``: :func:`~curvecast.store.worker_alive`): nothing trains it
        until a search of the study runs again and takes it over from its last checkpoint.
        ``grace`` defaults to the study's (:attr:`grace`)."""
        return self.state is TrialState.RUNNING and not worker_alive(
            self.worker, self.heartbeat, grace=self.grace if grace is None else grace, now=now)

    @property
    def shown_state(self) -> str:
        """The state as ``show`` and ``studies`` list it: the stored one, but ``interrupted``
        for a RUNNING trial whose owner is gone (:meth:`interrupted`)."""
        return "interrupted" if self.interrupted() else self.state.value

    @property
    def last_epoch(self) -> int:
        """The last epoch observed (0 when none)."""
        return self.values[-1][0] if self.values else 0


@dataclass(frozen=True)
class StudyUpdates:
    """What changed in a study since a reader's last look (see :meth:`Store.updates`).

    Attributes:
        new_trials: trials numbered above the reader's last known number (configs, no values).
        states: the state of every trial, by number.
        values: ``(number, epoch, value, seconds)`` of every observation recorded since.
        cursor: pass as ``after_observation`` next time.
    """

    new_trials: list[StoredTrial]
    states: dict[int, TrialState]
    values: list[tuple[int, int, float, float | None]]
    cursor: int

