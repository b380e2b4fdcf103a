"""Every registered stopper, replayed over small synthetic curves: nothing is stopped before
``min_complete`` trials are complete, every decision has a reason and the epoch it was taken at,
a predicting rule's STOP carries its prediction, and a larger Δ never stops more."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from curvecast import CurveSet, Direction
from curvecast.execution import replay
from curvecast.registry import STOPPERS, Context, Settings, build_stopper
from curvecast.search import RandomSearch
from curvecast.stopping import Decision, History, Stopper, Trial
from synthetic_curves import synthetic

MIN_COMPLETE = 6


@dataclass
class Recording(Stopper):
    """Asks ``inner`` and keeps (complete trials, trained epochs, epoch axis value, decision)."""

    inner: Stopper
    seen: list[tuple[int, int, int, Decision]] = field(default_factory=list)

    def decide(self, trial: Trial, history: History) -> Decision:
        decision = self.inner.decide(trial, history)
        self.seen.append((history.n_complete, trial.tau, int(history.epochs[trial.tau - 1]),
                          decision))
        return decision


def _curves(direction: Direction) -> CurveSet:
    return synthetic(n=40, epochs=8, seed=5, direction=direction)


def _stopper(name: str, curves: CurveSet, delta: float = 0.9,
             explore: float | None = None) -> Stopper:
    settings = Settings(predictor="chain", delta=delta, min_complete=MIN_COMPLETE, eta=2.0,
                        explore=explore)
    return build_stopper(name, settings, Context(curves=curves))


@pytest.mark.parametrize("direction", list(Direction))
@pytest.mark.parametrize("name", sorted(STOPPERS))
def test_no_stop_before_min_complete_and_a_reason_on_every_decision(
        name: str, direction: Direction) -> None:
    curves = _curves(direction)
    rec = Recording(_stopper(name, curves))
    result = replay(curves, RandomSearch.from_curves(curves, seed=1), rec)
    assert rec.seen, "the stopper was never asked"
    for n_complete, tau, epoch, decision in rec.seen:
        assert decision.reason.strip(), decision
        assert decision.epoch == epoch and 1 <= tau < curves.n_epochs
        if decision.stop:
            assert n_complete >= MIN_COMPLETE, (n_complete, decision)
            if STOPPERS[name].uses_predictor:
                assert decision.mean is not None and decision.std is not None
                assert decision.probability is not None
    stops = sum(d.stop for *_, d in rec.seen)
    assert stops == result.n_stopped
    if name != "never":
        assert stops > 0, f"{name} stopped nothing on curves made to be stopped"


@pytest.mark.parametrize("name", sorted(n for n, e in STOPPERS.items() if e.sweeps_delta))
def test_a_larger_delta_never_stops_a_trial_a_smaller_one_keeps(name: str) -> None:
    curves = _curves(Direction.MAXIMIZE)
    # the decisions of one replay, asked again at every Δ on the same trial and history
    rec = Recording(_stopper(name, curves, delta=0.5))
    asked: list[tuple[Trial, History]] = []

    class Keep(Stopper):
        def decide(self, trial: Trial, history: History) -> Decision:
            asked.append((trial, History(  # a copy: a replay's view changes as it runs
                np.array(history.values), np.array(history.n_observed),
                list(history.config_ids), history.configs, history.epochs, history.metric,
                history.direction, history.study)))
            return rec.decide(trial, history)

    replay(curves, RandomSearch.from_curves(curves, seed=2), Keep())
    deltas = (0.5, 0.8, 0.95, 0.999)
    # without exploration, which lets a random share of would-be stops run on (by design not
    # monotone in Δ: each Δ reaches its first would-be stop of a trial at another epoch)
    stoppers = [_stopper(name, curves, delta=d, explore=0.0) for d in deltas]
    n_stops = [0] * len(deltas)
    for trial, history in asked:
        stops = [s.decide(trial, history).stop for s in stoppers]
        assert stops == sorted(stops, reverse=True), (trial.config_id, stops)  # monotone in Δ
        n_stops = [a + b for a, b in zip(n_stops, stops, strict=True)]
    assert n_stops[0] > n_stops[-1], n_stops  # Δ matters on these curves
