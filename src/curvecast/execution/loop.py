"""The one loop: ``run(scheduler, backend, recorder)`` drives any
:class:`~curvecast.search.Scheduler` (FIFO + a stopper, Hyperband, f-Hyperband) over any
:class:`~curvecast.execution.backends.Backend` — recorded curves on a simulated clock, or real
training on a wall clock — telling a :class:`~curvecast.execution.recorder.Recorder` what happens.

Each free worker takes the scheduler's next job (a config and the epoch to train it to); a config
met before, or recorded before by an earlier run of the same study, goes on where it is (its last
recorded epoch judged first if it never was: its process died in between).  The backend hands
back finished epochs in its clock's order; after every epoch but a job's last the scheduler may
stop the job; an epoch that failed ends its job with a FAIL decision; when a job ends the
scheduler says which configs leave the search and what their searcher was told (one
:class:`~curvecast.execution.records.TrialRecord` each, given to the recorder).  The loop holds
no state of its own beyond one run: resuming a study is the scheduler's and the recorder's
business (they read the store), so it works the same on every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from curvecast.execution.backends import Backend, Finished
from curvecast.execution.recorder import Recorder, as_recorder
from curvecast.execution.records import ReplayResult, TrialRecord
from curvecast.search._scheduler import Job, Scheduler
from curvecast.stopping import Action, Decision, History, Trial


@dataclass
class _State:
    """The trials the loop has started: their curves so far and where they are."""

    backend: Backend
    recorder: Recorder
    workers: int
    token: Hashable
    T: int
    values: np.ndarray  # (capacity, T): values[slot, epoch - 1], NaN where not observed
    n_obs: np.ndarray  # (capacity,): epochs observed per slot
    ids: list[str] = field(default_factory=list)
    slots: dict[str, int] = field(default_factory=dict)
    frames: list[pd.DataFrame] = field(default_factory=list)
    finals: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    until: dict[int, int] = field(default_factory=dict)  # running slot -> epochs of its job
    records: dict[int, TrialRecord] = field(default_factory=dict)
    lost: set[int] = field(default_factory=set)  # slots another process took over
    unjudged: set[int] = field(default_factory=set)  # slots whose last recorded epoch awaits a
    # judgement (a process died between recording and judging it)

    def history(self) -> History:
        n = len(self.ids)
        return self.backend.history(self.values[:n], self.n_obs[:n], self.ids[:n], self.token)

    def trial(self, slot: int) -> Trial:
        tau = int(self.n_obs[slot])
        return self.backend.trial(self.ids[slot], self.frames[slot], self.values[slot, :tau])

    def grow(self) -> None:
        """Double the rows of ``values`` and ``n_obs`` (more configs than the backend's hint)."""
        n = max(1, self.values.shape[0])
        self.values = np.vstack([self.values, np.full((n, self.T), np.nan)])
        self.n_obs = np.concatenate([self.n_obs, np.zeros(n, dtype=np.int64)])


def run(scheduler: Scheduler, backend: Backend,
        recorder: Recorder | Callable[[TrialRecord], None] | None = None, *,
        workers: int = 1, study: Hashable | None = None) -> ReplayResult:
    """Run ``scheduler`` over ``backend`` with ``workers`` jobs at once.

    Args:
        scheduler: decides jobs, stops and promotions.
        backend: computes the epochs and keeps the clock.
        recorder: told what happens (a callable: called with each trial's record when it leaves
            the search).
        workers: jobs running at once, ≥ 1.
        study: the token stoppers key their caches by (default: a new one per run).

    Returns:
        One record per trial the scheduler closed in this run, in the order the trials started
        (times on the backend's clock).

    Raises:
        ValueError: ``workers < 1``; a config the backend cannot run, started while running, or
            given a job with nothing to train.
        RuntimeError: the scheduler left a config neither running nor closed at the end.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    T, rows = backend.n_epochs, max(1, backend.capacity)
    st = _State(backend, as_recorder(recorder), workers,
                object() if study is None else study, T, np.full((rows, T), np.nan),
                np.zeros(rows, dtype=np.int64))
    scheduler.start(T)
    now = _loop(scheduler, st)
    open_ = [st.ids[s] for s in range(len(st.ids)) if s not in st.records and s not in st.lost]
    if open_:
        raise RuntimeError(f"the scheduler never closed {len(open_)} config(s), e.g. {open_[0]!r}")
    trials = tuple(st.records[s] for s in range(len(st.ids)) if s in st.records)
    return ReplayResult(trials=trials, n_epochs=T, direction=backend.direction,
                        workers=workers, simulated_time=now)


def _loop(scheduler: Scheduler, st: _State) -> float:
    """Launch, take finished epochs, report, end jobs; the time the last epoch finished."""
    _launch(scheduler, st, 0.0)
    now = 0.0
    while (done := st.backend.next()) is not None:
        now, slot = done.time, done.slot
        go_on = _take(scheduler, st, done)
        if go_on:
            go_on = _judge(scheduler, st, slot, now)
        st.recorder.step()
        if go_on:
            st.backend.submit(slot, st.ids[slot], int(st.n_obs[slot]) + 1, now)
        else:
            _launch(scheduler, st, now)
    return now


def _take(scheduler: Scheduler, st: _State, done: Finished) -> bool:
    """Record a finished epoch (ending its job when it was the job's last, or failed); True:
    the job goes on, to be judged."""
    slot, cid = done.slot, st.ids[done.slot]
    with st.recorder.atomic():
        if not st.recorder.owns(cid):
            return _lose(st, slot)
        tau = int(st.n_obs[slot])
        if done.error is not None:
            failed = Decision(Action.FAIL, tau + 1, reason=done.error)
            _end_job(scheduler, st, slot, done.time, failed)
            return False
        st.values[slot, tau] = done.value
        st.n_obs[slot] = tau + 1
        st.recorder.observed(cid, tau + 1, done)
        if tau + 1 < st.until[slot]:
            return True
        _end_job(scheduler, st, slot, done.time, None)
    return False


def _judge(scheduler: Scheduler, st: _State, slot: int, now: float) -> bool:
    """Ask the scheduler about the job of ``slot`` (not at its budget); True: it goes on."""
    decision = scheduler.report(st.trial(slot), st.history(), st.until[slot])
    cid = st.ids[slot]
    with st.recorder.atomic():
        if not st.recorder.owns(cid):
            return _lose(st, slot)
        st.recorder.decided(cid, decision)
        if decision.stop:
            _end_job(scheduler, st, slot, now, decision)
    return not decision.stop


def _lose(st: _State, slot: int) -> bool:
    """Another process took the trial of ``slot`` over: drop its job (should the trial come back
    to this run, it is met afresh, with what the other process recorded)."""
    del st.until[slot]
    del st.slots[st.ids[slot]]
    st.lost.add(slot)
    return False


def _launch(scheduler: Scheduler, st: _State, now: float) -> None:
    """Start the scheduler's next jobs while a worker is free."""
    while len(st.until) < st.workers:
        with st.recorder.atomic():
            job = scheduler.next_job()
            if job is None:
                return
            slot = _slot(st, job, now)
            st.until[slot] = job.until
            st.recorder.started(job, int(st.n_obs[slot]))
        if slot in st.unjudged:  # judged first, as the process that recorded it would have
            st.unjudged.discard(slot)
            go_on = _judge(scheduler, st, slot, now)
            st.recorder.step()  # (a trial it stops leaves its checkpoints: deleted now)
            if not go_on:
                continue
        st.backend.submit(slot, job.config_id, int(st.n_obs[slot]) + 1, now)


def _slot(st: _State, job: Job, now: float) -> int:
    """The trial slot of ``job``'s config (a new one the first time it is met), checked."""
    config_id, T = job.config_id, st.T
    slot = st.slots.get(config_id)
    if slot is None:
        slot = _meet(st, config_id, now)
    elif slot in st.until or slot in st.records:
        raise ValueError(f"config {config_id!r} was asked for twice")
    if not int(st.n_obs[slot]) < job.until <= T:
        raise ValueError(f"job for {config_id!r} to {job.until} epochs: it has "
                         f"{int(st.n_obs[slot])} of {T}")
    return slot


def _meet(st: _State, config_id: str, now: float) -> int:
    """A new slot for ``config_id``, with the values the backend already has for it."""
    opened = st.backend.open(config_id)
    slot = len(st.ids)
    if slot == st.values.shape[0]:
        st.grow()
    tau = len(opened.values)
    st.values[slot, :tau] = opened.values
    st.n_obs[slot] = tau
    if opened.unjudged:
        st.unjudged.add(slot)
    st.slots[config_id] = slot
    st.ids.append(config_id)
    st.frames.append(opened.frame)
    st.finals.append(opened.final)
    st.starts.append(now)
    st.ends.append(now)
    return slot


def _end_job(scheduler: Scheduler, st: _State, slot: int, now: float,
             decision: Decision | None) -> None:
    """The job of ``slot`` ended (``decision`` None: at its budget); record the configs the
    scheduler closes now (inside the caller's atomic block)."""
    until = st.until.pop(slot)
    st.ends[slot] = now
    trial = st.trial(slot)
    closed = scheduler.job_ended(trial, st.history(), decision)
    st.recorder.ended(trial, until, decision, closed)
    for c in closed:  # a config paused by an earlier run of the study is met here first
        s = st.slots[c.config_id] if c.config_id in st.slots else _meet(st, c.config_id, now)
        if s in st.until or s in st.records:
            raise RuntimeError(f"the scheduler closed {c.config_id!r} while running or twice")
        n = int(st.n_obs[s])
        record = TrialRecord(c.config_id, n, n < st.T, c.value, c.predicted, st.finals[s],
                             st.starts[s], st.ends[s], c.decision)
        st.records[s] = record
        st.recorder.closed(record)
