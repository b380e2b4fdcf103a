"""A user's own stopping rule or predictor, plugged into curvecast's runners: what it must
return is checked where a runner receives it, and a failure is named (a user's review, stop 30:
a rule returning a bool gave "'bool' object has no attribute 'stop'", a predictor returning a
tuple "'tuple' object has no attribute 'prob_worse'", and a predictor that failed on every call
silently stopped nothing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from curvecast import CurveSet
from curvecast.execution.replay import replay
from curvecast.predictors import LastSeenValue, Prediction, Predictor
from curvecast.search import RandomSearch
from curvecast.stopping import Action, Decision, History, PredictiveStopper, Stopper, Trial
from synthetic_curves import synthetic


@pytest.fixture(scope="module")
def curves() -> CurveSet:
    return synthetic(n=40, epochs=8, seed=3)


def run(curves: CurveSet, stopper: Stopper) -> object:
    return replay(curves, RandomSearch.from_curves(curves, seed=1), stopper)


class Returns(Stopper):
    """A rule that returns ``value`` from the 2nd epoch on (CONTINUE before)."""

    def __init__(self, value: object) -> None:
        self.value = value

    def decide(self, trial: Trial, history: History) -> Decision:
        if trial.tau < 2:
            return Decision(Action.CONTINUE, epoch=int(history.epochs[trial.tau - 1]))
        return self.value  # type: ignore[return-value]


@pytest.mark.parametrize(("value", "error", "match"), [
    (True, TypeError, "Returns.decide must return a curvecast Decision, got True"),
    (None, TypeError, "must return a curvecast Decision, got None"),
    (Decision(Action.PAUSE, epoch=2), ValueError, "returned 'pause': a stopping rule continues "
                                                  "or stops a trial"),
    (Decision(Action.STOP, epoch=2, mean=float("nan")), ValueError,
     "a Decision whose mean is nan, not a finite number or None"),
])
def test_a_rule_that_returns_no_decision_is_named(curves: CurveSet, value: object,
                                                   error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        run(curves, Returns(value))


def test_a_rules_decisions_are_replayed_as_returned(curves: CurveSet) -> None:
    result = run(curves, Returns(Decision(Action.STOP, epoch=2)))
    assert result.total_epochs == 2 * curves.n_configs  # type: ignore[attr-defined]


class Broken(LastSeenValue):
    """LastSeenValue whose ``predict`` returns ``make(prediction)``."""

    def __init__(self, make: object) -> None:
        super().__init__()
        self.make = make

    def predict(self, configs: pd.DataFrame, partial: np.ndarray) -> Prediction:
        return self.make(super().predict(configs, partial))  # type: ignore[operator,no-any-return]


def stopper(predictor: Predictor) -> PredictiveStopper:
    return PredictiveStopper(predictor=predictor, min_complete=5, explore=0)


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda p: (p.mean, p.std), TypeError, r"Broken\.predict must return a Prediction of one "
                                           r"value per curve given \(1 here\)"),
    (lambda p: Prediction(mean=np.r_[p.mean, 0.0], std=np.r_[p.std, 1.0]), TypeError,
     "one value per curve given"),
    (lambda p: Prediction(mean=p.mean, std=-p.std), ValueError, "std must be >= 0"),
])
def test_a_predictor_that_returns_no_prediction_is_named(curves: CurveSet, make: object,
                                                          error: type[Exception],
                                                          match: str) -> None:
    with pytest.raises(error, match=match):
        run(curves, stopper(Broken(make)))


def test_a_prediction_of_lists_is_taken_and_fit_must_return_the_predictor(
        curves: CurveSet) -> None:
    listed = Broken(lambda p: Prediction(mean=list(p.mean), std=list(p.std)))
    as_arrays = run(curves, stopper(Broken(lambda p: p)))
    assert run(curves, stopper(listed)).total_epochs == as_arrays.total_epochs  # type: ignore[attr-defined]

    class FitsNothing(LastSeenValue):
        def fit(self, curves: CurveSet, **kwargs: object) -> None:  # type: ignore[override]
            super().fit(curves)

    with pytest.raises(TypeError, match=r"FitsNothing\.fit must return the fitted predictor "
                                        r"\(self\), got None"):
        run(curves, stopper(FitsNothing()))


def test_a_predictor_that_never_predicts_is_warned_about_once(curves: CurveSet) -> None:
    def singular(p: Prediction) -> Prediction:
        raise np.linalg.LinAlgError("singular in the user's code")

    rule = stopper(Broken(singular))
    with pytest.warns(RuntimeWarning, match=r"Broken gave no finite prediction .*singular in "
                                            r"the user's code") as caught:
        result = run(curves, rule)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    assert result.speedup == 1.0 and rule.n_clipped_ > 0  # type: ignore[attr-defined]


def test_a_rule_that_changes_the_config_table_leaves_the_curves_as_they_were(
        curves: CurveSet) -> None:
    """A user's review (stop 30): ``history.configs`` was the replayed CurveSet's own table, so
    a rule's ``h.configs["lr"] = np.log10(...)`` changed every row of the user's CurveSet."""
    before = curves.configs.copy()

    class Logs(Stopper):
        def decide(self, trial: Trial, history: History) -> Decision:
            history.configs["seen"] = 1.0
            history.configs[history.configs.columns[0]] = -1.0
            return Decision(Action.CONTINUE, epoch=int(history.epochs[trial.tau - 1]))

    run(curves, Logs())
    pd.testing.assert_frame_equal(curves.configs, before)


def test_exploration_draws_follow_the_seed(curves: CurveSet) -> None:
    """A user's review (stop 30): exploration's generator was always seeded 0, so ``--seed``
    could not vary it, and one stopper reused for a second replay drew other trials than a
    fresh one (the docstring now says so)."""
    def explored(seed: int) -> tuple[int, int]:
        rule = PredictiveStopper(min_complete=5, explore=0.5, seed=seed)
        return run(curves, rule).total_epochs, rule.n_explored_  # type: ignore[attr-defined]

    assert explored(0) == explored(0)
    assert len({explored(s) for s in range(4)}) > 1
    with pytest.raises(ValueError, match="seed must be >= 0"):
        PredictiveStopper(seed=-1)


def test_the_extension_example_runs_and_compares_its_rules() -> None:
    """``examples/custom_rule.py`` (the user guide's "Your own rule or predictor") writes a rule
    and a predictor from the documented contracts and replays them beside the built-in ones."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "examples" / "custom_rule.py"),
                           "--orderings", "1", "--trials", "60"], cwd=root, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.rstrip().endswith("/1")]
    assert [r.split("  ")[0] for r in rows] == [
        "PercentileRule(0.5)", "MedianRule()",
        "PredictiveStopper(predictor=LinearExtrapolation())",
        "PredictiveStopper() (curvecast's default)"]
    speedups = [float(r.split()[-2].rstrip("x")) for r in rows]
    assert all(s >= 1.0 for s in speedups)
