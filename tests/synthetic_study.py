"""A MetaQNN study in a real Store, with synthetic learning curves instead of training (no torch).

The agent is a real generative :class:`~curvecast.search.MetaQNN`; its configs are recorded as
trials, each "trains" a saturating curve towards a random final accuracy, trials clearly worse
than the best so far are stopped at epoch 3 with a recorded prediction, one trial fails and one
is left running.  The agent is told observed or predicted final values and its state saved, as
``curvecast search`` does.  Halfway, the search is "resumed" with a larger budget, so the ε
schedule changes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from curvecast.search import MetaQNN
from curvecast.space import MetaQNNSpace
from curvecast.stopping import Action, Decision
from curvecast.store import Store, TrialState

STUDY = "synthetic"
EPOCHS = 8
FIRST_BUDGET = 4  # ε of its third trial is 0.8; scaled to BUDGET it would be 1.0
BUDGET = 24
STOP_EPOCH = 3


def make_study(db: Path, *, delta: float = 0.9, min_complete: int = 5) -> MetaQNN:
    """Record the study ``STUDY`` in the SQLite file ``db``; returns the agent as it ended."""
    rng = np.random.default_rng(7)
    space = MetaQNNSpace()
    settings = {"workload": "digits-metaqnn", "epochs": EPOCHS, "seed": 1,
                "searcher": "metaqnn", "stopper": "predictive", "delta": delta,
                "min_complete": min_complete, "refit_every": 10, "prior": None,
                "command": f"curvecast search --workload digits-metaqnn --searcher metaqnn "
                           f"--trials {BUDGET} --epochs {EPOCHS}"}
    agent = MetaQNN(space, n_trials=FIRST_BUDGET, seed=3)
    best = -math.inf
    with Store(f"sqlite:///{db}") as store:
        store.create_study(STUDY, metric="accuracy", direction="maximize", settings=settings)
        for i in range(BUDGET):
            if i == FIRST_BUDGET - 1:  # resumed with a larger budget: another ε schedule
                resumed = MetaQNN(space, n_trials=BUDGET, seed=3)
                resumed.load_state_dict(agent.state_dict())
                agent = resumed
            config = agent.ask_config()
            assert config is not None
            number = store.add_trial(STUDY, config, state=TrialState.RUNNING, worker="w0")
            store.set_study_state(STUDY, "searcher", agent.state_dict())
            final = float(rng.uniform(0.3, 0.97))
            curve = [final * (1 - math.exp(-(e + 1) / 2.5)) for e in range(EPOCHS)]
            if i == 4:  # a config whose training raises
                store.record_decision(STUDY, number, Decision(Action.FAIL, 1,
                                                             reason="RuntimeError: boom"))
                store.set_state(STUDY, number, TrialState.FAILED)  # not told, as in a search
                continue
            running = i == BUDGET - 1
            judged = i >= min_complete + 1
            stop = judged and final < best - 0.1
            last = STOP_EPOCH if stop else (4 if running else EPOCHS)
            for epoch in range(1, last + 1):
                store.record_value(STUDY, number, epoch, curve[epoch - 1], 0.5)
                if epoch == EPOCHS:
                    break
                if not judged:
                    store.record_decision(STUDY, number, Decision(
                        Action.CONTINUE, epoch, reason="waiting for complete trials"))
                    continue
                std = 0.04
                p = 0.5 * (1 + math.erf((best - final) / (std * math.sqrt(2))))
                p = min(p, 0.85) if not (stop and epoch == STOP_EPOCH) else max(p, delta)
                store.record_decision(STUDY, number, Decision(
                    Action.STOP if stop and epoch == STOP_EPOCH else Action.CONTINUE, epoch,
                    final + 0.01, std, p, f"P(final worse than {best:.3f}) = {p:.3f}"))
            if running:
                continue
            if stop:
                store.set_state(STUDY, number, TrialState.STOPPED, predicted_value=final + 0.01)
                agent.tell_config(config, final + 0.01, predicted=True)
            else:
                store.set_state(STUDY, number, TrialState.COMPLETE, test_value=final - 0.02)
                agent.tell_config(config, curve[-1], predicted=False)
                best = max(best, curve[-1])
            store.set_study_state(STUDY, "searcher", agent.state_dict())
    return agent
