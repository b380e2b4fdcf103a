"""Copies and pickles of CurvecastPruner: what they copy, and how many study views they carry."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import pytest

optuna = pytest.importorskip("optuna", reason="the Optuna integration needs curvecast[optuna]")

from curvecast.integrations.optuna import CurvecastPruner  # noqa: E402
from curvecast.predictors import HorizonChain  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


class _CountedChain(HorizonChain):
    """The default predictor, noting each deep copy: of which object, and the copy made."""

    copied: ClassVar[list[tuple[HorizonChain, HorizonChain]]] = []

    def __deepcopy__(self, memo: dict[int, Any]) -> _CountedChain:
        made = type(self).__new__(type(self))
        memo[id(self)] = made
        made.__dict__.update(copy.deepcopy(self.__dict__, memo))
        type(self).copied.append((self, made))
        return made


def _judged(pruner: CurvecastPruner, name: str = "s") -> optuna.Study:
    """A new in-memory study named ``name`` with 6 complete trials rising to 0.5-0.9, and a
    seventh judged at its first step (the pruner holds the study's view)."""
    study = optuna.create_study(study_name=name, direction="maximize", pruner=pruner)
    for k in range(6):
        trial = study.ask()
        for epoch in range(1, 6):
            trial.report((0.5 + 0.08 * k) * (1 - 0.5 ** epoch), step=epoch)
        study.tell(trial, (0.5 + 0.08 * k) * (1 - 0.5 ** 5))
    trial = study.ask()
    trial.report(0.05, step=1)
    trial.should_prune()
    return study


def test_a_deep_copy_copies_the_pruner_once() -> None:
    """``copy.deepcopy(pruner)`` copied the state in ``__getstate__`` (under the lock), then
    ``copy.deepcopy``'s machinery copied that copy again: twice the time and memory for a study
    of thousands of trials.  It is now copied once, under the lock, with the caller's memo (so
    what the pruner shares with other copied objects stays shared)."""
    predictor = _CountedChain()
    pruner = CurvecastPruner(predictor=predictor)
    _judged(pruner)  # a view of the study and a fitted stopper
    _CountedChain.copied = []
    twin, its_predictor = copy.deepcopy([pruner, predictor])
    sources = [id(source) for source, _ in _CountedChain.copied]
    made = {id(copied) for _, copied in _CountedChain.copied}
    # the prototype and the fitted chain in the stopper's cache: each copied once, and no
    # copy copied again
    assert len(sources) == len(set(sources)) == 2 and not made & set(sources)
    assert twin.stopper.predictor is its_predictor is not predictor
    assert twin._lock is not pruner._lock and not twin._lock.locked()


def test_a_line_of_copies_carries_at_most_eight_study_views() -> None:
    """A copy kept the views of the studies it brought until it met them again, and passed
    them on to its own copies: a copy of a copy, each used on a study of its own, carried every
    view its line ever held.  At most eight now go along with a copy, its own first."""
    import pickle

    pruner = CurvecastPruner()
    _judged(pruner, "s0")
    sizes = []
    for k in range(1, 13):
        pruner = copy.deepcopy(pruner) if k % 2 else pickle.loads(pickle.dumps(pruner))
        _judged(pruner, f"s{k}")
        sizes.append(len(pickle.dumps(pruner)))
        assert len(pruner._detached) == min(k, 8)
        assert [e.name for e in pruner._detached] == [f"s{i}" for i in range(max(0, k - 8), k)]
    # a pickle's size stops growing with the line (each view adds about 5 kB: 72.6 kB at
    # the 12th copy before, 46.4 kB from the 7th on now)
    assert sizes[-1] < 1.02 * sizes[6]
    _judged(pruner, "s11")  # a study of the name met again, made anew: its view is dropped
    assert [e.name for e in pruner._detached] == [f"s{i}" for i in range(4, 11)]


def test_a_copy_used_on_a_study_made_anew_drops_the_old_studys_view() -> None:
    """A notebook cell run again: a copy of the pruner given a new study of the same name (and
    id) could not take the old study's view (its trials are not the old ones), and kept it for
    good, passing it on to its copies: one more view at every run.  Once the copy has a view of
    the new study, the old one is dropped."""
    pruner = CurvecastPruner()
    _judged(pruner, "s")
    for _ in range(4):  # the cell run again
        pruner = copy.deepcopy(pruner)
        assert [e.name for e in pruner._detached] == ["s"]
        _judged(pruner, "s")
        assert pruner._detached == []


def _rising(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0, 1)
    for step in range(1, 9):
        value = x * (1 - 0.5 ** step)
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def _fifty_studies(pruner: CurvecastPruner, keep: list[optuna.Study] | None
                   ) -> list[tuple[str, int]]:
    """50 studies of 10 trials each, one after another, by one pruner (``keep``: the studies
    are kept alive in it, else dropped); each trial's state and last step."""
    import gc

    seen = []
    for i in range(50):
        study = optuna.create_study(direction="maximize", pruner=pruner,
                                    sampler=optuna.samplers.RandomSampler(seed=i))
        study.optimize(_rising, n_trials=10)
        seen += [(t.state.name, max(t.intermediate_values)) for t in study.trials]
        if keep is not None:
            keep.append(study)
        del study
        gc.collect()
    return seen


def test_a_long_lived_pruner_keeps_exploration_records_of_the_studies_it_holds_only() -> None:
    """The predictive rule keeps, for each trial it would have stopped, whether exploration let
    it run on; one pruner used on 50 studies in a loop kept those records of all 50 studies
    (227 records, the pickle 19 kB instead of 14 kB) though it had dropped their views.  They
    now go with the views: the dropped studies' records are dropped, a copy takes those of the
    (at most eight) studies whose views it takes, and no decision changes."""
    import pickle

    pruner = CurvecastPruner(delta=0.5, explore=0.5)
    dropped = _fifty_studies(pruner, keep=None)
    assert len(pruner.stopper.explored_studies) <= 1  # the last study's, whose view is held
    assert len(pickle.dumps(pruner)) < 15_000
    assert sum(state == "PRUNED" for state, _ in dropped) > 100  # exploration had work to do

    kept: list[optuna.Study] = []
    holding = CurvecastPruner(delta=0.5, explore=0.5)
    assert _fifty_studies(holding, keep=kept) == dropped  # the same decisions, trial by trial
    assert len(holding.stopper.explored_studies) > 40  # views held: their records too
    copied = copy.deepcopy(holding)
    assert len(copied.stopper.explored_studies) <= 8
    assert copied.stopper.explored_studies <= {e.key for e in copied._detached}
    assert len(holding.stopper.explored_studies) > 40  # the original keeps its own


def test_a_deep_copy_holding_the_pruner_and_its_stopper_gets_one_stopper() -> None:
    """A review (stop 40): a copy takes the exploration records of the (at most eight) studies
    whose views it takes, in a stopper copied apart from the pruner's own; a deep copy that
    held both the pruner and ``pruner.stopper`` gave back two stoppers, the copied pruner's
    not the one the list held.  Either order now gives one."""
    pruner = CurvecastPruner(delta=0.5, explore=0.5)
    kept: list[optuna.Study] = []
    _fifty_studies(pruner, keep=kept)
    assert len(pruner.stopper.explored_studies) > 8  # the copy takes fewer: a stopper apart
    copied, stopper = copy.deepcopy([pruner, pruner.stopper])
    assert copied.stopper is stopper
    assert len(stopper.explored_studies) <= 8
    stopper, copied = copy.deepcopy([pruner.stopper, pruner])
    assert copied.stopper is stopper  # the stopper copied first, whole
    assert stopper is not pruner.stopper
    assert len(pruner.stopper.explored_studies) > 40  # the original keeps its own
