"""A resumed search draws its exploration on where the interrupted one stopped (a Ray-like
promise kept in the study), so it decides as the uninterrupted search would."""

from __future__ import annotations

from pathlib import Path

from curvecast.execution.live import EXPLORATION_STATE, run_search
from curvecast.search import RandomSampler
from curvecast.stopping import PredictiveStopper
from curvecast.store import Store
from sgd_workload import SGDDigits

TRIALS, EPOCHS = 16, 6


def _search(db: Path, trials: int) -> None:
    workload = SGDDigits()
    with Store(db) as store:
        run_search(workload, RandomSampler(workload.space, seed=3),
                   PredictiveStopper(explore=0.5, seed=11), store, study="s", trials=trials,
                   epochs=EPOCHS, workers=1)


def _decisions(db: Path) -> list[tuple[int, str, int, str]]:
    with Store(db) as store:
        return [(t.number, d.action.value, d.epoch, d.reason.split(":")[0])
                for t in store.trials("s") for d in t.decisions]


def test_a_resumed_search_explores_as_the_uninterrupted_one(tmp_path: Path) -> None:
    """A user's review (stop 31): a search interrupted and run again re-seeded the stopper's
    exploration, so after the resume its "let run on" draws were other ones (a trial stopped at
    epoch 2 in the uninterrupted search ran on to epoch 4 in the resumed one).  The generator's
    state and the trials let run on are kept in the study."""
    _search(tmp_path / "whole.db", TRIALS)
    _search(tmp_path / "resumed.db", 9)  # a search that ended after 9 trials …
    _search(tmp_path / "resumed.db", TRIALS)  # … run again with the whole budget
    whole, resumed = _decisions(tmp_path / "whole.db"), _decisions(tmp_path / "resumed.db")
    assert any("let run on" in d[3] or "explor" in d[3] for d in whole), whole  # draws happened
    assert resumed == whole
    with Store(tmp_path / "resumed.db") as store:
        assert store.get_study_state("s", EXPLORATION_STATE)["generator"]["bit_generator"]
