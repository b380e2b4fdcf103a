"""The predictive rule's final stretch: in the last share of training nothing is stopped, through
the library, the registry, the Optuna pruner and the Ray Tune scheduler."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curvecast import CurveSet, defaults, registry
from curvecast.stopping import History, PredictiveStopper, Trial
from synthetic_curves import synthetic


def _hopeless_study(tau: int, epochs: int = 20) -> tuple[CurveSet, Trial, History]:
    """30 complete trials and, running, the study's worst config observed for ``tau`` epochs."""
    cs = synthetic(n=60, epochs=epochs, seed=3)
    worst = int(np.argmin(cs.values[:, -1]))
    cs = cs.subset(np.array([*[i for i in range(60) if i != worst][:30], worst]))
    lengths = np.r_[np.full(30, epochs), tau]
    values = np.where(np.arange(epochs)[None, :] < lengths[:, None], cs.values, np.nan)
    ids = list(cs.config_ids)
    history = History(values, lengths, ids, cs.configs, cs.epochs, cs.metric, cs.direction)
    return cs, Trial(ids[-1], cs.configs.iloc[[30]], cs.values[30, :tau]), history


def test_nothing_is_stopped_in_the_final_stretch() -> None:
    stopper = PredictiveStopper(final_stretch=0.2)  # 20 epochs: judged up to epoch 16
    _, trial, history = _hopeless_study(16)
    assert stopper.decide(trial, history).stop
    _, trial, history = _hopeless_study(17)
    decision = stopper.decide(trial, history)
    assert not decision.stop and decision.probability is None
    assert decision.reason == "in the final stretch: nothing is stopped after 16 of 20 epochs"
    # without a final stretch the same trial is stopped at epoch 17 (and 19)
    for tau in (17, 19):
        _, trial, history = _hopeless_study(tau)
        assert PredictiveStopper(final_stretch=0.0).decide(trial, history).stop


@settings(max_examples=25, deadline=None)
@given(stretch=st.floats(0.0, 0.95), tau=st.integers(1, 19))
def test_a_stop_never_falls_in_the_final_stretch(stretch: float, tau: int) -> None:
    _, trial, history = _hopeless_study(tau)
    decision = PredictiveStopper(final_stretch=stretch).decide(trial, history)
    if decision.stop:
        assert tau <= (1 - stretch) * 20 + 1e-9


def test_the_default_rule_has_it_and_the_papers_does_not() -> None:
    assert PredictiveStopper().final_stretch == defaults.FINAL_STRETCH
    assert PredictiveStopper.paper().final_stretch == 0.0  # reproduced as published
    assert PredictiveStopper.paper(final_stretch=0.3).final_stretch == 0.3
    stopper = registry.build_stopper("predictive", registry.Settings(final_stretch=0.25),
                                     registry.Context())
    assert stopper.final_stretch == 0.25  # type: ignore[attr-defined]
    default = registry.build_stopper("predictive", registry.Settings(), registry.Context())
    assert default.final_stretch == defaults.FINAL_STRETCH  # type: ignore[attr-defined]
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="final_stretch must be in \\[0, 1\\)"):
            PredictiveStopper(final_stretch=bad)


@pytest.mark.parametrize(("name", "default"), [("final_stretch", defaults.FINAL_STRETCH),
                                             ("explore", defaults.EXPLORE)])
def test_the_optuna_pruner_and_the_ray_scheduler_pass_it_on(name: str, default: float) -> None:
    """The predictive rule's final stretch, and its exploration (tests/test_explore.py)."""
    pytest.importorskip("optuna")
    from curvecast.integrations.optuna import CurvecastPruner

    assert getattr(CurvecastPruner(**{name: 0.3}).stopper, name) == 0.3
    assert getattr(CurvecastPruner().stopper, name) == default
    pytest.importorskip("ray")
    from curvecast.integrations.ray_tune import CurvecastScheduler

    scheduler = CurvecastScheduler(max_t=20, metric="acc", mode="max", **{name: 0.3})
    assert getattr(scheduler.stopper, name) == 0.3
