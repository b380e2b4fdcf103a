"""The backend of real training for the one loop (:func:`curvecast.execution.loop.run`): every
epoch is the epoch task (:func:`~curvecast.execution.epoch_task.train_one_epoch`: continue the
trial from its checkpoint, train one epoch, save the next checkpoint) handed to an executor — this
process, local worker processes (:func:`~curvecast.execution.epoch_task.local_executor`) or Ray
tasks (:class:`curvecast.integrations.ray_backend.RayExecutor`) — on the wall clock.

Config ids are the study's trial ids ``t<number>``; a trial's configs and the values it already
has come from the store, and the study view the scheduler reads is the whole study's (every
process's trials, :class:`~curvecast.execution.study.StudyMirror`).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import time
from collections.abc import Hashable
from concurrent.futures.process import BrokenProcessPool
from functools import partial

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.execution.backends import Backend, Finished, Opened
from curvecast.execution.collect import run_seed
from curvecast.execution.epoch_task import (
    EpochOutcome,
    EpochTask,
    clean_finished_checkpoints,
    local_executor,
    train_one_epoch,
)
from curvecast.execution.heartbeat import Heartbeat
from curvecast.execution.loop import run
from curvecast.execution.recorder import Recorder
from curvecast.execution.resume import beat_owner, release_trials
from curvecast.execution.study import LiveStudy, trial_number
from curvecast.search._scheduler import Scheduler
from curvecast.stopping import History, Trial
from curvecast.store import TrialState

#: The states of a trial that has left the search (nothing trains it again).
_FINISHED = (TrialState.COMPLETE, TrialState.STOPPED, TrialState.FAILED)


class WorkerDied(RuntimeError):
    """A process of the training pool died while it trained an epoch (``kill -9``, the
    out-of-memory killer): the pool is broken, so the search ends; its trials resume on a
    rerun."""


class TrainingBackend(Backend):
    """Real training of a study's trials, one epoch task at a time, in ``executor``.

    Args:
        live: the study and this process's part in it.
        executor: where the epoch tasks run (the caller shuts it down).
        capacity: the trials the loop should expect (the study's budget).
    """

    def __init__(self, live: LiveStudy, executor: cf.Executor, capacity: int) -> None:
        self.live = live
        self.executor = executor
        self.n_epochs = live.epochs
        self.direction = live.workload.direction
        self.capacity = capacity
        self._running: dict[cf.Future[EpochOutcome], int] = {}  # future -> loop slot
        self._trials: dict[cf.Future[EpochOutcome], str] = {}  # future -> its trial's id
        self._t0 = time.monotonic()

    def open(self, config_id: str) -> Opened:
        number = trial_number(config_id)
        mirror = self.live.sync()
        if number not in mirror.configs:
            raise ValueError(f"study {self.live.study!r} has no trial {number}")
        values = np.array(mirror.curve(number), dtype=np.float64)
        tau = len(values)
        unjudged = 0 < tau < self.live.epochs and not self.live.store.decided_at(
            self.live.study, number, tau)
        return Opened(self._frame(number), values, float("nan"), unjudged)

    def submit(self, slot: int, config_id: str, epoch: int, now: float) -> None:
        live, number = self.live, trial_number(config_id)
        task = EpochTask(live.workload, number, live.mirror.configs[number],
                         run_seed(live.seed, number), live.epochs, epoch - 1, live.checkpoints)
        future = self.executor.submit(train_one_epoch, task)
        self._running[future] = slot
        self._trials[future] = config_id

    def next(self) -> Finished | None:
        if not self._running:
            return None
        done = [f for f in self._running if f.done()]
        if not done:
            done = list(cf.wait(list(self._running), return_when=cf.FIRST_COMPLETED)[0])
        future = min(done, key=lambda f: self._running[f])  # several at once: lowest slot first
        slot = self._running.pop(future)
        config_id = self._trials.pop(future)
        try:
            outcome = future.result()
        except BrokenProcessPool:
            training = ", ".join(sorted([config_id, *self._trials.values()]))
            raise WorkerDied(f"a training process died (killed from outside, e.g. by the "
                             f"out-of-memory killer) while it trained {training}: the search "
                             "stops here; rerun the same command to resume (lower --workers "
                             "if memory ran out)") from None
        r = outcome.result
        return Finished(time.monotonic() - self._t0, slot, r.value, r.seconds,
                        outcome.test_value, outcome.error, outcome.note)

    def history(self, values: NDArray[np.float64], n_obs: NDArray[np.int64], ids: list[str],
                token: Hashable) -> History:
        """The whole study's view (every process's trials), read from the store now."""
        return self.live.sync().history(token)

    def trial(self, config_id: str, frame: pd.DataFrame, values: NDArray[np.float64]) -> Trial:
        """The trial as recorded, diverged values filled by the study's rule
        (:meth:`~curvecast.execution.study.StudyMirror.trial`)."""
        return self.live.mirror.trial(trial_number(config_id))

    def _frame(self, number: int) -> pd.DataFrame:
        return pd.DataFrame([self.live.mirror.rows[number]], index=[f"t{number}"])


def train_study(live: LiveStudy, scheduler: Scheduler, recorder: Recorder, *, trials: int,
                workers: int, heartbeat: float, executor: cf.Executor | None = None,
                owns_study: bool = False) -> None:
    """Run ``scheduler`` over real training of ``live``'s study (the one loop, with this
    process's heartbeat and ``executor``, by default ``workers`` local worker processes; with
    ``owns_study``, a study this process claimed, :func:`~curvecast.execution.resume.claim_study`,
    the heartbeat keeps the claim too).  Ended
    by any error or interrupt, it gives up the trials it was training
    (:func:`~curvecast.execution.resume.release_trials`), so a rerun — in this process too —
    takes them over at once, and re-raises.  It first deletes the checkpoints an earlier run,
    killed before it could, left of trials that have since left the search."""
    finished = {n for n, s in live.sync().states.items() if s in _FINISHED}
    with contextlib.suppress(OSError):  # a stale checkpoint costs disk, not the search
        clean_finished_checkpoints(live.checkpoints, finished)
    try:
        claim = (partial(beat_owner, study=live.study, worker=live.worker) if owns_study
                 else None)
        with Heartbeat(live.store.path, live.worker, heartbeat, also=claim), \
                executor if executor is not None else local_executor(workers) as pool:
            run(scheduler, TrainingBackend(live, pool, trials), recorder, workers=workers,
                study=live.study)
    except BaseException:  # interrupted, or the disk filled: the trials left running resume
        release_trials(live)
        raise
