"""A user's rule may give its decision's numbers as numpy's (an epoch read from
``history.epochs``, a float32 prediction): a search records them as Python numbers, and a
probability that is no number is refused, naming the rule, before it reaches the study."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from curvecast.execution.live import run_search
from curvecast.search import RandomSampler
from curvecast.stopping import Action, Decision, History, Stopper, Trial
from curvecast.store import Store
from sgd_workload import SGDDigits


class NumpyRule(Stopper):
    """Stops every trial after its 2nd epoch, with numpy numbers in its decisions."""

    def __init__(self, probability: object) -> None:
        self.probability = probability

    def decide(self, trial: Trial, history: History) -> Decision:
        epoch = history.epochs[trial.tau - 1]  # np.int64
        return Decision(Action.STOP if trial.tau == 2 else Action.CONTINUE, epoch=epoch,
                        mean=np.float32(0.5), std=np.float32(0.25),
                        probability=self.probability)  # type: ignore[arg-type]


def _search(store: Store, rule: Stopper) -> None:
    workload = SGDDigits()
    run_search(workload, RandomSampler(workload.space, seed=0), rule, store, study="n",
               trials=2, epochs=3, workers=1)


def test_a_rules_numpy_numbers_are_recorded_as_numbers(tmp_path: Path) -> None:
    """A review: ``run_search`` wrote an ``np.float32`` mean (which the runners' check of a
    rule's decision accepts) into the study database as 4 bytes, and every later read of the
    study (the search's own, ``show``, ``export``) refused the database as "not written by
    curvecast": the study was lost to curvecast."""
    with Store(tmp_path / "n.db") as store:
        _search(store, NumpyRule(np.float32(0.75)))
    with Store(tmp_path / "n.db", read_only=True) as store:
        trials = store.trials("n")
    assert [t.state.value for t in trials] == ["stopped", "stopped"]
    for t in trials:
        assert t.predicted_value == 0.5
        assert [d.as_record() for d in t.decisions] == [
            {"epoch": e, "action": a, "mean": 0.5, "std": 0.25, "probability": 0.75,
             "reason": ""} for e, a in ((1, "continue"), (2, "stop"))]
        assert all(type(d.epoch) is int for d in t.decisions)


@pytest.mark.parametrize("probability", ["high", np.array(0.75), [0.75]])
def test_a_probability_that_is_no_number_is_refused_naming_the_rule(
        tmp_path: Path, probability: object) -> None:
    """A probability is never checked: a string went into the database as text (which then
    refused to be read), a 0-d array as bytes."""
    with Store(tmp_path / "p.db") as store:
        with pytest.raises(ValueError, match=r"NumpyRule\.decide returned a Decision whose "
                                             r"probability is .*, not a number or None"):
            _search(store, NumpyRule(probability))
        assert all(not t.decisions for t in store.trials("n"))  # nothing unreadable recorded
