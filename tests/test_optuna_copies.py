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
