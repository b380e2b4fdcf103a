"""The one loop: ``run(scheduler, backend, recorder)`` drives any
:class:`~curvecast.search.Scheduler` (FIFO + a stopper, Hyperband, f-Hyperband) over any
:class:`~curvecast.execution.backends.Backend` of recorded curves.

Each free worker takes the scheduler's next job (a config and the epoch to train it to); a config
met before resumes where it paused.  The backend hands back finished epochs in its clock's order;
after every epoch but a job's last the scheduler may stop the job; when a job ends the scheduler
says which configs leave the search and what their searcher was told (one
:class:`~curvecast.execution.records.TrialRecord` each, given to the recorder).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from curvecast.execution.backends import Backend
from curvecast.execution.records import ReplayResult, TrialRecord
from curvecast.search._scheduler import Job, Scheduler
from curvecast.stopping import Decision, History, Trial

#: Called with each trial's record when it leaves the search.
Recorder = Callable[[TrialRecord], None]


@dataclass
class _State:
    """The trials the loop has started: their curves so far and where they are."""

    backend: Backend
    workers: int
    token: Hashable
    T: int
    values: np.ndarray
    n_obs: np.ndarray
    ids: list[str] = field(default_factory=list)
    slots: dict[str, int] = field(default_factory=dict)
    frames: list[pd.DataFrame] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    until: dict[int, int] = field(default_factory=dict)  # running slot -> epochs of its job
    records: dict[int, TrialRecord] = field(default_factory=dict)

    def history(self) -> History:
        n = len(self.ids)
        c = self.backend.curves
        return History(self.values[:n], self.n_obs[:n], self.ids[:n], c.configs,
                       np.array(c.epochs), c.metric, c.direction, self.token)

    def trial(self, slot: int) -> Trial:
        tau = int(self.n_obs[slot])
        return Trial(self.ids[slot], self.frames[slot], self.values[slot, :tau].copy())


def run(scheduler: Scheduler, backend: Backend, recorder: Recorder | None = None, *,
        workers: int = 1, study: Hashable | None = None) -> ReplayResult:
    """Run ``scheduler`` over ``backend`` with ``workers`` jobs at once.

    Args:
        scheduler: decides jobs, stops and promotions.
        backend: computes the epochs and keeps the clock.
        recorder: called with each trial's record when it leaves the search.
        workers: jobs running at once, ≥ 1.
        study: the token stoppers key their caches by (default: a new one per run).

    Raises:
        ValueError: ``workers < 1``; a config that is unknown, not complete, started while
            running, or given a job with nothing to train.
        RuntimeError: the scheduler left a config neither running nor closed at the end.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    c = backend.curves
    st = _State(backend, workers, object() if study is None else study, c.n_epochs,
                np.full((c.n_configs, c.n_epochs), np.nan), np.zeros(c.n_configs, dtype=np.int64))
    complete = c.is_complete() & (c.n_observed() == st.T)
    scheduler.start(st.T)
    now = _loop(scheduler, st, complete, recorder)
    open_ = [st.ids[s] for s in range(len(st.ids)) if s not in st.records]
    if open_:
        raise RuntimeError(f"the scheduler never closed {len(open_)} config(s), e.g. {open_[0]!r}")
    return ReplayResult(trials=tuple(st.records[i] for i in range(len(st.ids))), n_epochs=st.T,
                        direction=c.direction, workers=workers, simulated_time=now)


def _loop(scheduler: Scheduler, st: _State, complete: np.ndarray,
          recorder: Recorder | None) -> float:
    """Launch, take finished epochs, report, end jobs; the time the last epoch finished."""
    _launch(scheduler, st, complete, 0.0)
    now = 0.0
    while (done := st.backend.next()) is not None:
        now, slot = done.time, done.slot
        tau = int(st.n_obs[slot]) + 1
        st.values[slot, tau - 1] = done.value
        st.n_obs[slot] = tau
        if tau == st.until[slot]:
            _end_job(scheduler, st, slot, now, None, recorder)
            _launch(scheduler, st, complete, now)
            continue
        decision = scheduler.report(st.trial(slot), st.history(), st.until[slot])
        if decision.stop:
            _end_job(scheduler, st, slot, now, decision, recorder)
            _launch(scheduler, st, complete, now)
        else:
            st.backend.submit(slot, st.ids[slot], tau + 1, now)
    return now


def _launch(scheduler: Scheduler, st: _State, complete: np.ndarray, now: float) -> None:
    """Start the scheduler's next jobs while a worker is free."""
    while len(st.until) < st.workers:
        job = scheduler.next_job()
        if job is None:
            return
        slot = _slot(st, job, complete, now)
        st.until[slot] = job.until
        st.backend.submit(slot, job.config_id, int(st.n_obs[slot]) + 1, now)


def _slot(st: _State, job: Job, complete: np.ndarray, now: float) -> int:
    """The trial slot of ``job``'s config (a new one the first time it is met), checked."""
    rows, T = st.backend.rows, st.T
    config_id = job.config_id
    if config_id not in rows:
        raise ValueError(f"config {config_id!r} asked by the searcher is not in the curves")
    row = rows[config_id]
    if not complete[row]:
        raise ValueError(f"config {config_id!r} is not recorded to the final epoch "
                         f"({int(st.backend.curves.n_observed()[row])} of {T} epochs)")
    slot = st.slots.get(config_id)
    if slot is None:
        slot = len(st.ids)
        st.slots[config_id] = slot
        st.ids.append(config_id)
        st.frames.append(st.backend.config(config_id))
        st.starts.append(now)
        st.ends.append(now)
    elif slot in st.until or slot in st.records:
        raise ValueError(f"config {config_id!r} was asked for twice")
    if not int(st.n_obs[slot]) < job.until <= T:
        raise ValueError(f"job for {config_id!r} to {job.until} epochs: it has "
                         f"{int(st.n_obs[slot])} of {T}")
    return slot


def _end_job(scheduler: Scheduler, st: _State, slot: int, now: float,
             decision: Decision | None, recorder: Recorder | None) -> None:
    """The job of ``slot`` ended (``decision`` None: at its budget); record the configs the
    scheduler closes now."""
    del st.until[slot]
    st.ends[slot] = now
    for closed in scheduler.job_ended(st.trial(slot), st.history(), decision):
        s = st.slots[closed.config_id]
        if s in st.until or s in st.records:
            raise RuntimeError(f"the scheduler closed {closed.config_id!r} while running "
                               "or twice")
        row = st.backend.rows[closed.config_id]
        n = int(st.n_obs[s])
        record = TrialRecord(closed.config_id, n, n < st.T, closed.value, closed.predicted,
                             float(st.backend.filled[row, -1]), st.starts[s], st.ends[s],
                             closed.decision)
        st.records[s] = record
        if recorder is not None:
            recorder(record)
