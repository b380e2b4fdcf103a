"""The recorder of a real search: everything the one loop (:func:`curvecast.execution.loop.run`)
does is written into the study as it happens, one transaction per event, each write checking that
the trial is still this process's (another process may have taken over a trial it presumed dead).

What a study records, whatever the scheduler:

* every trained epoch's value (as reported: NaN for a diverged run) and seconds;
* decisions: the stopper's after each epoch (FIFO: all of them; Hyperband-family: those that stop
  or carry a prediction), ``pause`` (a rung's budget reached), ``promote`` (a paused trial trains
  on), ``stop`` (stopped, or not promoted), ``fail`` (its epoch raised: the error);
* states: RUNNING while a job trains it, PAUSED between rungs, COMPLETE trained to T (with its
  test value), STOPPED left earlier (with the predicted final value that was told), FAILED.

Checkpoints older than a trial's last recorded epoch, and all of a trial that left the search,
are deleted once the event that makes them useless is committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from curvecast.curves.wording import counted
from curvecast.execution.backends import Finished
from curvecast.execution.epoch_task import clean_checkpoints
from curvecast.execution.recorder import Recorder
from curvecast.execution.study import LiveStudy, Progress, trial_number
from curvecast.search import Closed, Job
from curvecast.stopping import Action, Decision, Trial
from curvecast.store import TrialState


class StoreRecorder(Recorder):
    """Writes a run into its study (see the module docstring).

    Args:
        live: the study and this process's part in it.
        progress: updated after every event (the study's counts, the last event).
        every_decision: record every decision of the scheduler, not only those that stop or
            carry a prediction.
        on_progress: called with ``progress`` after every recorded epoch (outside any
            transaction: it may raise to interrupt the run).
    """

    def __init__(self, live: LiveStudy, progress: Progress, *, every_decision: bool,
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self.live = live
        self.progress = progress
        self.every_decision = every_decision
        self.on_progress = on_progress
        self._test: dict[int, float | None] = {}  # trial -> test value of its final epoch
        self._clean: list[tuple[int, int | None]] = []  # (trial, checkpoint to keep | None)

    def atomic(self) -> AbstractContextManager[object]:
        return self.live.store.transaction()

    def owns(self, config_id: str) -> bool:
        number = trial_number(config_id)
        if self.live.store.owner(self.live.study, number) == self.live.worker:
            return True
        self.progress.last_event = f"t{number} was taken over by another worker"
        return False

    def started(self, job: Job, done: int) -> None:
        live, number = self.live, trial_number(job.config_id)
        if done and live.sync().states.get(number) is TrialState.PAUSED:
            live.store.record_decision(live.study, number, Decision(
                Action.PROMOTE, done, reason=f"promoted: trains on to {job.until} epochs"))
        live.store.assign_trial(live.study, number, live.worker)
        live.sync()
        self.progress.last_event = f"t{number}: trains to {job.until} epochs"

    def observed(self, config_id: str, epoch: int, finished: Finished) -> None:
        live, number = self.live, trial_number(config_id)
        if finished.note is not None:
            self.progress.notices.append(finished.note)
        live.store.record_value(live.study, number, epoch, finished.value, finished.seconds)
        self._test[number] = finished.test_value
        live.sync()
        self._clean.append((number, epoch))

    def decided(self, config_id: str, decision: Decision) -> None:
        if self.every_decision or decision.stop or decision.probability is not None:
            self.live.store.record_decision(self.live.study, trial_number(config_id), decision)

    def ended(self, trial: Trial, until: int, decision: Decision | None,
              closed: Sequence[Closed]) -> None:
        live, number = self.live, trial_number(trial.config_id)
        store, study, T = live.store, live.study, live.epochs
        tau = len(live.mirror.values[number])
        gone = {trial_number(c.config_id): c for c in closed}
        if decision is not None and decision.action is Action.FAIL:
            store.record_decision(study, number, decision)
            store.set_state(study, number, TrialState.FAILED)
            self.progress.last_event = f"t{number} failed: {decision.reason}"
        elif decision is not None:
            told = gone[number].value if number in gone else None
            final = decision.mean is not None and decision.horizon is None  # not a rung's end
            store.set_state(study, number, TrialState.STOPPED,
                            predicted_value=decision.mean if final else told)
            self.progress.last_event = f"t{number} stopped at epoch {tau}: {decision.reason}"
        elif tau >= T:
            store.set_state(study, number, TrialState.COMPLETE,
                            test_value=self._test.pop(number, None))
            last = live.mirror.curve(number)[-1]
            self.progress.last_event = f"t{number} complete: {last:.4g}"
        elif number in gone:
            self.progress.last_event = f"t{number} not promoted after {tau} epochs"
        else:
            store.record_decision(study, number, Decision(
                Action.PAUSE, tau,
                reason=f"rung of {counted(until, 'epoch')} reached"))
            store.set_state(study, number, TrialState.PAUSED)
            self.progress.last_event = f"t{number} paused after {tau} epochs"
        for other in gone:
            done = len(live.mirror.values[other])
            if done < T and not (other == number and decision is not None):
                store.record_decision(study, other, Decision(
                    Action.STOP, done,
                    reason=f"not promoted after the rung of {counted(done, 'epoch')}"))
                store.set_state(study, other, TrialState.STOPPED)
            self._clean.append((other, None))
        live.sync()

    def step(self) -> None:
        for number, keep in self._clean:
            try:
                clean_checkpoints(self.live.checkpoints, number, keep)
            except OSError as err:  # a stale checkpoint costs disk, not the search (a review,
                # stop 35: a read-only checkpoint folder ended a search on a cleanup)
                note = (f"could not delete an old checkpoint of t{number} ({err}); the search "
                        "goes on, and the file can be deleted by hand")
                if note not in self.progress.notices:
                    self.progress.notices.append(note)
        self._clean.clear()
        self.live.mirror.update(self.progress)
        if self.on_progress is not None:
            self.on_progress(self.progress)
