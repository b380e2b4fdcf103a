"""One CurvecastPruner with a prior used on two studies whose config columns differ."""

from __future__ import annotations

import numpy as np
import pytest

optuna = pytest.importorskip("optuna", reason="the Optuna integration needs curvecast[optuna]")

from curvecast import CurveSet, Direction  # noqa: E402
from curvecast.integrations.optuna import CurvecastPruner  # noqa: E402
from test_optuna_pruner import synthetic_curves as _curves  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _prior() -> CurveSet:
    values, configs = _curves(40, seed=1)
    return CurveSet(values=values, observed=np.ones(values.shape, dtype=bool),
                    epochs=np.arange(1, 11), metric="val_accuracy",
                    direction=Direction.MAXIMIZE,
                    configs=configs.set_axis([f"p{i}" for i in range(40)]))


def _lockstep(pruner: CurvecastPruner, with_b: bool) -> list[tuple[str, int]]:
    """Study A's 20 trials (lr and width), each run next to one of study B (lr only) when
    ``with_b``, their reports and ``should_prune`` calls taking turns: A's (state, last step)
    per trial."""
    values, configs = _curves(40, seed=2)
    a = optuna.create_study(direction="maximize", pruner=pruner)
    b = optuna.create_study(direction="maximize", pruner=pruner)
    for i in range(0, 40, 2):
        running = [(a, a.ask(), i)] + ([(b, b.ask(), i + 1)] if with_b else [])
        for study, trial, k in running:
            trial.suggest_float("lr", float(configs.lr[k]), float(configs.lr[k]))
            if study is a:
                trial.set_user_attr("width", int(configs.width[k]))
        pruned: set[int] = set()
        for epoch in range(1, 11):
            for study, trial, k in running:
                if id(trial) in pruned:
                    continue
                trial.report(float(values[k, epoch - 1]), step=epoch)
                if trial.should_prune():
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    pruned.add(id(trial))
        for study, trial, k in running:
            if id(trial) not in pruned:
                study.tell(trial, float(values[k, -1]))
    return [(t.state.name, max(t.intermediate_values)) for t in a.get_trials()]


def test_trials_of_two_studies_with_other_config_columns_keep_their_exploration() -> None:
    """A review (stop 40): with a prior, the pruner cut it to the judged study's config columns
    and, when they changed (two studies used in turn, a notebook's pattern, or trials of both
    running at once), built a new rule: what exploration had decided was lost (a trial let run
    on to twice its steps was drawn for again at each switch), its generator started from the
    seed again and the counters from 0.  With every would-be stop let run on (explore near 1),
    A's decisions no longer depend on B's trials running next to them."""
    def pruner() -> CurvecastPruner:
        return CurvecastPruner(delta=0.5, explore=0.999999, explore_trials=None, prior=_prior(),
                               config_attrs=["width"])

    alone = _lockstep(pruner(), with_b=False)
    assert sum(state == "PRUNED" for state, _ in alone) >= 5  # the rule had work to do
    both = pruner()
    assert _lockstep(both, with_b=True) == alone
    # the counters go on across the switches: every trial let run on is counted
    assert both.stopper.n_explored_ >= sum(state == "PRUNED" for state, _ in alone)
