"""A resumed search draws its exploration on where the interrupted one stopped (a Ray-like
promise kept in the study), so it decides as the uninterrupted search would."""

from __future__ import annotations

from pathlib import Path

from curvecast.execution.live import run_search
from curvecast.execution.shared import EXPLORATION_STATE, SharedExplorationFIFO
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


def test_two_processes_keep_each_others_promises(tmp_path: Path) -> None:
    """A regression review (stop 31): two processes of one study deciding at the same moment
    each wrote back the whole exploration state, so the later write dropped the other's "let run
    on" promise, and that trial was stopped before the epoch it was promised.  The write merges
    with what was saved meanwhile.  (Two schedulers on one database stand for the processes;
    the second decides while the first is mid-decision.)"""
    from types import SimpleNamespace
    from typing import Any

    import numpy as np

    from curvecast.stopping import Action, Decision

    # a seed whose first two draws are "let run on" (< 0.5) for both schedulers' first trials
    seed = next(s for s in range(100) if np.random.default_rng(s).random() < 0.5)

    class RuleSaysStop(PredictiveStopper):
        """The predictive rule where every trial reaches Δ: what decide does in that branch."""

        hook: Any = None

        def decide(self, trial: Any, history: Any) -> Decision:
            until = self.runs_on_until(history.study, trial.config_id, trial.tau, 8)
            if self.hook is not None:
                hook, self.hook = self.hook, None
                hook()  # the other process decides now
            if trial.tau < until:
                return Decision(Action.CONTINUE, epoch=trial.tau,
                                reason=f"let run on to epoch {until}")
            return Decision(Action.STOP, epoch=trial.tau, reason="stop")

    db = tmp_path / "s.db"
    with Store(db) as store:
        store.create_study("s", metric="acc", direction="maximize")
    stores = [Store(db), Store(db)]
    a, b = (SharedExplorationFIFO(SimpleNamespace(store=s, study="s"), None,
                                   RuleSaysStop(explore=0.5, seed=seed)) for s in stores)
    history = SimpleNamespace(study="s")

    def trial(cid: str, tau: int) -> Any:
        return SimpleNamespace(config_id=cid, tau=tau)

    said: list[str] = []
    a.stopper.hook = lambda: said.append(b.report(trial("t1", 2), history, 8).reason)
    said.append(a.report(trial("t0", 2), history, 8).reason)
    assert said == ["let run on to epoch 4", "let run on to epoch 4"]
    saved = stores[0].get_study_state("s", EXPLORATION_STATE)
    assert saved["runs_on"] == {"t0": 4, "t1": 4} and saved["n_explored"] == 2
    assert b.report(trial("t1", 3), history, 8).reason == "let run on to epoch 4"  # kept
    for s in stores:
        s.close()
