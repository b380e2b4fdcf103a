"""How a real search resumes: the scheduler of a rerun is rebuilt from the store, and its first
jobs are the ones a dead process left, trained on from their last recorded epoch.

The one mechanism, for every scheduler: the store holds everything (configs, values, decisions,
states, the searcher's state), each RUNNING trial has an owner (``host:pid:token``) with a
heartbeat, and a trial whose owner is dead (its pid gone, or silent for ``grace`` seconds) is
taken over — ``kill -9`` at any moment, then the same command again, loses no recorded value and
trains no finished trial again.  What differs is only what a scheduler must remember between
runs:

* FIFO + a stopper remembers nothing but its searcher, whose state is saved in the study
  (:mod:`curvecast.execution.shared`): its store-backed searcher (:class:`SharedSearcher`)
  returns a trial claimed from a dead owner before asking for a new config.  Claims are atomic,
  so several processes may run one study at once.
* Hyperband and f-Hyperband remember brackets and rungs: every call to the scheduler is
  journaled in the study in the transaction that records its effect
  (:class:`JournaledScheduler`); a rerun replays the journal into a fresh scheduler and hands
  out the jobs journaled but not ended first.  One scheduler state means one process per study
  (:func:`claim_study`; a second live one gets :class:`StudyBusyError`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import Any

from curvecast.execution.shared import ask_shared, tell_shared
from curvecast.execution.study import LiveStudy, trial_number
from curvecast.search import ConfigSearcher, Job, Scheduler, Searcher
from curvecast.search._scheduler import Closed
from curvecast.stopping import Decision, History, Trial
from curvecast.store import Store, TrialState, worker_alive

_SCHEDULE = "schedule"  # study_state key of the journal
_OWNER = "scheduler_owner"  # study_state key: {"worker": id, "heartbeat": time} of the runner


class StudyBusyError(ValueError):
    """Another live process is running this Hyperband study (one process per study)."""


class SharedSearcher(Searcher):
    """FIFO's searcher over a study several processes may run: ``ask()`` claims a PENDING or
    PAUSED trial, or one whose owner is dead, else asks the study's shared ``configs`` for a new
    trial within the budget; ``tell()`` tells the shared searcher (a stopped trial: its predicted
    value).  Both run inside the loop's transaction with the trial's state.

    Args:
        live: the study and this process's part in it.
        configs: proposes configs; its state is the one saved in the study.
        trials: the study's budget of trials (all states).
        grace: seconds without a heartbeat after which a RUNNING trial's owner counts as dead.
    """

    def __init__(self, live: LiveStudy, configs: ConfigSearcher, trials: int,
                 grace: float) -> None:
        self.live = live
        self.configs = configs
        self.trials = trials
        self.grace = grace

    def __repr__(self) -> str:
        return f"SharedSearcher({self.configs!r}, trials={self.trials})"

    def ask(self) -> str | None:
        live = self.live
        while True:
            number = live.store.claim_trial(live.study, live.worker,
                                            (TrialState.PENDING, TrialState.PAUSED),
                                            orphans_after=self.grace)
            if number is None:
                asked = ask_shared(live.store, live.study, self.configs, worker=live.worker,
                                   budget=self.trials)
                number = None if asked is None else asked[0]
            if number is None:
                return None
            mirror = live.sync()
            if len(mirror.values[number]) < live.epochs:
                return f"t{number}"
            # fully recorded, never marked (a run killed between the two): complete it now
            live.store.set_state(live.study, number, TrialState.COMPLETE)
            self.tell(f"t{number}", mirror.fill(mirror.curve(number)[-1]), False)
            live.sync()

    def tell(self, config_id: str, value: float, predicted: bool) -> None:
        live = self.live
        tell_shared(live.store, live.study, self.configs,
                    live.mirror.configs[trial_number(config_id)], value, predicted=predicted)


class StoreSearcher(Searcher):
    """The :class:`~curvecast.search.Searcher` a Hyperband-family scheduler asks for config ids.

    ``ask()`` returns the trials already in the study first (in number order: a resumed
    scheduler meets the configs it drew before), then draws a config from ``configs``, records
    it as a PENDING trial and returns its id ``t<number>``; None once ``trials`` were drawn.
    ``tell()`` is not passed on: the trial's final state lives in the store, and Hyperband's
    configs are sampled independently of results.

    Args:
        configs: draws new configs (its state is saved in the study after each draw).
        live: the study.
        trials: configs to draw at most.
    """

    def __init__(self, configs: ConfigSearcher, live: LiveStudy, trials: int) -> None:
        self.configs = configs
        self.live = live
        self.trials = trials
        self.asked = 0

    def __repr__(self) -> str:
        return f"StoreSearcher({self.configs!r}, trials={self.trials})"

    def ask(self) -> str | None:
        store, study = self.live.store, self.live.study
        if self.asked >= self.trials:
            return None
        if self.asked >= store.count_trials(study):
            saved = store.get_study_state(study, "searcher")
            if saved is not None:
                self.configs.load_state_dict(saved)
            config = self.configs.ask_config()
            if config is None:
                return None
            number = store.add_trial(study, config, state=TrialState.PENDING)
            store.set_study_state(study, "searcher", self.configs.state_dict())
            if number != self.asked:
                raise RuntimeError(f"study {study!r}: drew trial {number}, expected "
                                   f"{self.asked} (was it run by another kind of search?)")
        self.asked += 1
        return f"t{self.asked - 1}"

    def tell(self, config_id: str, value: float, predicted: bool) -> None:
        """Nothing: the trial's outcome is recorded in the store."""


class JournaledScheduler(Scheduler):
    """``inner`` with every call journaled in the study (the study's ``schedule`` state), written
    in the loop's transaction with the call's effect; :meth:`start` replays the journal of an
    earlier run into ``inner`` — ``next_job()`` again (a :class:`StoreSearcher` returns the
    trials already drawn), ``job_ended()`` with the recorded curves — so ``inner`` is where it
    was (bracket, rung, rung contents) without a state format to keep in step with it.  The
    jobs journaled but not ended are the first :meth:`next_job` hands out.  f-Hyperband's rung
    predictors are not journaled: after a resume a rung's predictor is fitted again, when first
    needed, on the curves recorded by then.

    Args:
        inner: the scheduler (built with the same settings on every run of the study).
        live: the study and this process's part in it.

    Raises:
        ValueError: (from :meth:`start`) the journal does not replay into ``inner``.
    """

    def __init__(self, inner: Scheduler, live: LiveStudy) -> None:
        self.inner = inner
        self.live = live
        self.journal: list[list[Any]] = []
        self.resumed: list[Job] = []
        self._started: int | None = None  # the epochs it was started with

    def __repr__(self) -> str:
        return f"JournaledScheduler({self.inner!r})"

    def start(self, n_epochs: int) -> None:
        """Start ``inner`` and replay the journal into it; a second call with the same
        ``n_epochs`` does nothing (a caller may start it early, to refuse a journal that does
        not replay before it shows anything, and then hand it to the loop)."""
        if self._started == n_epochs:
            return
        self._started = n_epochs
        self.inner.start(n_epochs)
        live = self.live
        running: dict[int, Job] = {}
        # one transaction: the journal and the trials it replays are read from one snapshot,
        # and a schedule that does not replay leaves no trial the replay drew (a Hyperband
        # study's searcher adds the configs it is asked for to the study)
        with live.store.transaction():
            saved = live.store.get_study_state(live.study, _SCHEDULE) or []
            mirror = live.sync()
            self._replay(saved, mirror, mirror.history(live.study), running)
        self.journal = list(saved)
        self.resumed = list(running.values())

    def _replay(self, saved: list[list[Any]], mirror: Any, history: History,
                running: dict[int, Job]) -> None:
        """Replay the journal ``saved`` into ``inner`` (see the class docstring), collecting the
        jobs journaled but not ended in ``running``."""
        live = self.live
        for event in saved:
            number = int(event[1])
            if event[0] == "job":
                job = self.inner.next_job()
                if job != Job(f"t{number}", int(event[2])):
                    raise ValueError(f"study {live.study!r}: its recorded schedule does not "
                                     f"replay ({job} instead of t{number} to {event[2]} "
                                     "epochs); rerun with the study's settings (--trials "
                                     "among them: a Hyperband study's budget shapes its "
                                     "brackets). An older curvecast promoted as many from a "
                                     "bracket cut short by --trials as from a full one: such "
                                     "a study, recorded by it, does not replay here; go on "
                                     "as a new --study")
                running[number] = job
                continue
            tau = int(event[2])
            if tau > len(mirror.values[number]):
                raise ValueError(f"study {live.study!r}: trial {number} has "
                                 f"{len(mirror.values[number])} recorded epochs, its schedule "
                                 f"{tau}")
            data = event[3]
            self.inner.job_ended(mirror.trial(number, tau), history,
                                 None if data is None else Decision.from_record(data))
            del running[number]

    def next_job(self) -> Job | None:
        if self.resumed:
            return self.resumed.pop(0)
        job = self.inner.next_job()
        if job is not None:
            self._save(["job", trial_number(job.config_id), job.until])
        return job

    def report(self, trial: Trial, history: History, until: int) -> Decision:
        self._beat()
        return self.inner.report(trial, history, until)

    def job_ended(self, trial: Trial, history: History, decision: Decision | None) -> list[Closed]:
        closed = self.inner.job_ended(trial, history, decision)
        number = trial_number(trial.config_id)
        record = None if decision is None else {**decision.as_record(), "error": None}
        self._save(["end", number, len(self.live.mirror.values[number]), record])
        return closed

    def selected(self) -> list[str]:
        return self.inner.selected()

    def _save(self, event: list[Any]) -> None:
        self.journal.append(event)
        self.live.store.set_study_state(self.live.study, _SCHEDULE, self.journal)
        self._beat()

    def _beat(self) -> None:
        self.live.store.set_study_state(self.live.study, _OWNER, {"worker": self.live.worker,
                                                                  "heartbeat": time.time()})


def claim_study(live: LiveStudy, grace: float, kind: str) -> None:
    """Make this process the one running the ``kind`` study (Hyperband, f-Hyperband).

    Raises:
        StudyBusyError: another live process runs it.
    """
    store, study, worker = live.store, live.study, live.worker
    with store.transaction():
        owner = store.get_study_state(study, _OWNER)
        if owner and owner.get("worker") != worker and worker_alive(
                owner.get("worker"), owner.get("heartbeat"), grace=grace):
            raise StudyBusyError(f"study {study!r} is being run by process {owner['worker']}; "
                                 f"a {kind} study runs in one process (rerun after it ends to "
                                 "resume)")
        store.set_study_state(study, _OWNER, {"worker": worker, "heartbeat": time.time()})


def release_trials(live: LiveStudy) -> None:
    """This process gives up the trials it was training (see :meth:`Store.release_trials`);
    a database it can no longer write (the error that ended the search) keeps them as they are,
    and they count as interrupted once its heartbeat is old."""
    with contextlib.suppress(OSError, sqlite3.Error):
        live.store.release_trials(live.study, live.worker)


def beat_owner(store: Store, study: str, worker: str) -> None:
    """Refresh ``worker``'s claim on ``study`` (:func:`claim_study`) while it still holds it;
    called by the :class:`~curvecast.execution.heartbeat.Heartbeat` thread, so a runner busy
    with an epoch longer than the grace keeps its study (a review, stop 36: the claim was
    refreshed only by journaled events, and after 120 s of one long epoch a second process of
    the same study took it over from a live runner)."""
    _if_owner(store, study, worker, {"worker": worker, "heartbeat": time.time()})


def release_study(live: LiveStudy) -> None:
    """This process no longer runs the study (another may, at once); a claim another process
    has taken meanwhile is left to it."""
    _if_owner(live.store, live.study, live.worker, None)


def _if_owner(store: Store, study: str, worker: str, claim: dict[str, Any] | None) -> None:
    """Set ``study``'s claim to ``claim`` (None: no claim) while ``worker`` holds it, in one
    transaction (another process's claim is left alone)."""
    with store.transaction():
        owner = store.get_study_state(study, _OWNER)
        if owner and owner.get("worker") == worker:
            store.set_study_state(study, _OWNER, claim)
