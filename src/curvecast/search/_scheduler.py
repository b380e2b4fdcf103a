"""The scheduler: which (config, budget) runs next, whether a running job goes on, what to promote.

An executor (the replay simulator, later real workers) drives a :class:`Scheduler` through three
calls and nothing else, so every policy — FIFO + a stopper, Hyperband, f-Hyperband — runs on the
same executor code path:

* ``next_job()`` → a :class:`Job` (train ``config_id`` until it has ``until`` trained epochs, from
  wherever it is: a paused config resumes its curve), or None when nothing can start now;
* ``report(trial, history, until)`` after every epoch of a job but its last → a
  :class:`~curvecast.stopping.Decision` (STOP ends the job early);
* ``job_ended(trial, history, decision)`` when a job reached ``until`` (``decision`` None), was
  stopped, or failed (a FAIL decision: an epoch of real training raised) → the configs that leave
  the search now (:class:`Closed`), each already told to the searcher (FIFO tells a failed
  config nothing: it has no value).

Budgets are counted in trained epochs (columns of the CurveSet, epoch 0 excluded), 1 ≤ until ≤ T.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from curvecast.search._base import Searcher
from curvecast.stopping import Action, Decision, History, Stopper, Trial, checked_decision


@dataclass(frozen=True)
class Job:
    """Train ``config_id`` until it has ``until`` trained epochs (1 ≤ until ≤ T)."""

    config_id: str
    until: int


@dataclass(frozen=True)
class Closed:
    """A config leaving the search, with what its searcher was told.

    Attributes:
        config_id: the config.
        value: the value told to the searcher (metric units).
        predicted: whether ``value`` stands in for a final value not observed.
        decision: the STOP decision that ended it, None when it ended at a budget.
    """

    config_id: str
    value: float
    predicted: bool
    decision: Decision | None = None


class Scheduler(ABC):
    """Decides which (config, budget) runs next, whether a running job goes on, and promotions."""

    def start(self, n_epochs: int) -> None:  # noqa: B027 (optional hook)
        """Called once by the executor before the first job: T, the epochs of full training."""

    @abstractmethod
    def next_job(self) -> Job | None:
        """The next job to start, or None when nothing can start now (none running: the end)."""

    @abstractmethod
    def report(self, trial: Trial, history: History, until: int) -> Decision:
        """CONTINUE or STOP a job of ``trial`` (trained ``trial.tau < until`` epochs so far)."""

    @abstractmethod
    def job_ended(self, trial: Trial, history: History, decision: Decision | None) -> list[Closed]:
        """A job of ``trial`` ended (``decision`` None: at its budget); the configs closed now."""

    def selected(self) -> list[str]:
        """The configs this scheduler returned as its results, in order (Hyperband: each
        bracket's winner).  Default: none."""
        return []


class FIFO(Scheduler):
    """First in, first out: each config the searcher asks for is trained to T unless ``stopper``
    stops it; a stopped config's searcher is told the stopper's predicted final value (its last
    observed value when the rule predicts nothing), marked as predicted; a failed config is not
    told (its record's value is NaN).

    Args:
        searcher: proposes the configs.
        stopper: asked after every epoch but the last.
    """

    def __init__(self, searcher: Searcher, stopper: Stopper) -> None:
        self.searcher = searcher
        self.stopper = stopper
        self.n_epochs_ = 0

    def __repr__(self) -> str:
        return f"FIFO({self.searcher!r}, {self.stopper!r})"

    def start(self, n_epochs: int) -> None:
        self.n_epochs_ = int(n_epochs)

    def next_job(self) -> Job | None:
        if self.n_epochs_ < 1:
            raise RuntimeError("call start(n_epochs) before asking for jobs")
        config_id = self.searcher.ask()
        return None if config_id is None else Job(config_id, self.n_epochs_)

    def report(self, trial: Trial, history: History, until: int) -> Decision:
        return checked_decision(self.stopper.decide(trial, history), self.stopper)

    def job_ended(self, trial: Trial, history: History, decision: Decision | None) -> list[Closed]:
        if decision is not None and decision.action is Action.FAIL:
            return [Closed(trial.config_id, float("nan"), False, decision)]
        if decision is None:
            value, predicted = float(trial.values[-1]), False
        else:
            value = float(decision.mean if decision.mean is not None else trial.values[-1])
            predicted = True
        self.searcher.tell(trial.config_id, value, predicted)
        return [Closed(trial.config_id, value, predicted, decision)]
