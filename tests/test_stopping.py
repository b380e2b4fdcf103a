"""Stoppers through the public API: hand-computed decisions and property-based invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from curvecast import CurveSet, Direction
from curvecast.predictors import SRM, LastSeenValue, Prediction, Predictor
from curvecast.stopping import (
    ASHA,
    Action,
    History,
    MedianRule,
    NeverStop,
    Oracle,
    PredictiveStopper,
    Stopper,
    Trial,
)


def history(complete: np.ndarray, running: np.ndarray | None = None,
            direction: Direction = Direction.MAXIMIZE, study: str = "s") -> tuple[History, Trial]:
    """A history of complete curves ``(n, T)`` plus one running trial with curve ``running``."""
    complete = np.asarray(complete, dtype=np.float64)
    n, T = complete.shape
    values = np.full((n + 1, T), np.nan)
    values[:n] = complete
    running = np.array([0.5] if running is None else running, dtype=np.float64)
    values[n, : running.size] = running
    ids = [f"c{i}" for i in range(n + 1)]
    configs = pd.DataFrame({"n_params": np.arange(n + 1.0), "n_layers": np.ones(n + 1)},
                           index=pd.Index(ids, name="config_id"))
    observed = np.array([T] * n + [running.size])
    h = History(values, observed, ids, configs, np.arange(1, T + 1), "acc", direction, study)
    return h, Trial(ids[-1], configs.iloc[[n]], running)


def lsv_stopper(**kwargs: object) -> PredictiveStopper:
    return PredictiveStopper(predictor=LastSeenValue(), **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- hand-computed numbers
def test_history_view_is_read_only_and_counts_complete_trials() -> None:
    h, trial = history([[0.1, 0.2, 0.3], [0.2, 0.4, 0.6]], [0.1])
    assert (h.n_trials, h.n_epochs, h.n_complete) == (3, 3, 2)
    assert h.complete.tolist() == [True, True, False]
    np.testing.assert_array_equal(h.final_values(), [0.3, 0.6])
    with pytest.raises(ValueError, match="read-only"):
        h.values[0, 0] = 1.0
    done = h.completed()
    assert isinstance(done, CurveSet) and done.config_ids == ["c0", "c1"]
    assert trial.tau == 1


def test_never_stop_continues() -> None:
    h, trial = history(np.zeros((200, 4)), [0.0])
    assert NeverStop().decide(trial, h).action is Action.CONTINUE


def test_predictive_probability_is_the_papers_formula() -> None:
    # complete curves: final - value at τ=1 is exactly 0.1, so LastSeenValue's σ_1 = 0.1
    finals = np.array([0.5, 0.7, 0.9, 0.6])
    complete = np.column_stack([finals - 0.1, finals - 0.05, finals])
    h, trial = history(complete, [0.75])
    d = lsv_stopper(delta=0.8, min_complete=4).decide(trial, h)
    # ŷ = 0.75, σ = 0.1, y_best = 0.9: P = Φ((0.9 - 0.75) / 0.1) = Φ(1.5) = 0.933
    assert d.mean == pytest.approx(0.75) and d.std == pytest.approx(0.1)
    assert d.probability == pytest.approx(norm.cdf(1.5))
    assert d.action is Action.STOP and d.epoch == 1
    assert lsv_stopper(delta=0.95, min_complete=4).decide(trial, h).action is Action.CONTINUE
    # δ = 0.1: y_ref = 0.8, P = Φ(0.5) = 0.69 < 0.8
    d = lsv_stopper(delta=0.8, margin=0.1, min_complete=4).decide(trial, h)
    assert d.probability == pytest.approx(norm.cdf(0.5)) and not d.stop
    # k = 2: y_ref = 0.7, P = Φ(-0.5)
    d = lsv_stopper(delta=0.3, keep_top_k=2, min_complete=4).decide(trial, h)
    assert d.probability == pytest.approx(norm.cdf(-0.5)) and d.stop


def test_predictive_minimize_mirrors_maximize_numbers() -> None:
    finals = np.array([0.5, 0.7, 0.9, 0.6])
    complete = np.column_stack([finals - 0.1, finals - 0.05, finals])
    h_max, t_max = history(complete, [0.75])
    h_min, t_min = history(-complete, [-0.75], direction=Direction.MINIMIZE)
    stopper = lsv_stopper(delta=0.8, min_complete=4)
    a, b = stopper.decide(t_max, h_max), stopper.decide(t_min, h_min)
    assert b.probability == pytest.approx(a.probability)
    assert b.mean == pytest.approx(-0.75)
    assert a.action is b.action is Action.STOP


def test_predictive_fits_once_by_default_and_on_schedule_with_refit_every() -> None:
    rng = np.random.default_rng(0)
    curves = np.sort(rng.uniform(0, 1, (30, 4)), axis=1)
    once, every = lsv_stopper(min_complete=10), lsv_stopper(min_complete=10, refit_every=5)
    for n in range(10, 30):
        h, trial = history(curves[:n], [0.2, 0.3])
        for _ in range(3):  # several reports at the same completion count: no refit
            once.decide(trial, h)
            every.decide(trial, h)
    assert once.n_fits_ == 1
    assert every.n_fits_ == 4  # at 10, 15, 20, 25 completions
    assert [every.fit_key(n) for n in (10, 14, 15, 29)] == [10, 10, 15, 25]
    h, trial = history(curves[:29], [0.2, 0.3], study="another study")
    once.decide(trial, h)
    assert once.n_fits_ == 2


def test_median_rule_numbers() -> None:
    complete = np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6], [0.3, 0.5, 0.7]])
    # running averages at τ = 2: 0.2, 0.3, 0.4 → median 0.3
    rule = MedianRule(min_complete=3)
    h, trial = history(complete, [0.25, 0.29])
    assert rule.decide(trial, h).action is Action.STOP
    h, trial = history(complete, [0.31, 0.1])  # best so far 0.31 is not worse
    assert rule.decide(trial, h).action is Action.CONTINUE
    h, trial = history(complete, [0.25, 0.29])
    assert MedianRule(min_complete=4).decide(trial, h).action is Action.CONTINUE
    assert MedianRule(min_complete=3, warmup_epochs=2).decide(trial, h).action is Action.CONTINUE
    h, trial = history(-complete, [-0.25, -0.29], direction=Direction.MINIMIZE)
    assert rule.decide(trial, h).action is Action.STOP


def test_oracle_keeps_only_runs_that_become_best() -> None:
    finals = np.array([0.5, 0.7, 0.9, 0.6, 0.95, 0.8])
    values = np.column_stack([finals - 0.1, finals])
    configs = pd.DataFrame({"n_params": np.arange(6.0)}, index=[f"c{i}" for i in range(6)])
    recorded = CurveSet(values=values, observed=np.ones((6, 2), bool), epochs=np.array([1, 2]),
                        metric="acc", direction=Direction.MAXIMIZE, configs=configs)
    oracle = Oracle(recorded, min_complete=3)
    h, _ = history(values[:3], [0.0])
    for row, expect in ((3, Action.STOP), (4, Action.CONTINUE), (5, Action.STOP)):
        trial = Trial(f"c{row}", configs.iloc[[row]], values[row, :1])
        d = oracle.decide(trial, h)
        assert d.action is expect and d.mean == pytest.approx(finals[row])
    h2, _ = history(values[:2], [0.0])
    assert Oracle(recorded, min_complete=3).decide(
        Trial("c3", configs.iloc[[3]], values[3, :1]), h2).action is Action.CONTINUE


def test_asha_rungs_and_top_third() -> None:
    asha = ASHA(eta=3, min_epochs=1)
    assert asha.rungs(20) == [1, 3, 9]
    assert ASHA(eta=2, min_epochs=2).rungs(20) == [2, 4, 8, 16]
    complete = np.tile(np.linspace(0.1, 0.9, 9)[:, None], (1, 4))
    # values at rung 1: 0.1..0.9 and the trial's own 0.55; their 2/3 quantile is 0.6
    h, trial = history(complete, [0.55])
    d = asha.decide(trial, h)
    assert d.action is Action.STOP
    h, trial = history(complete, [0.75])
    assert asha.decide(trial, h).action is Action.CONTINUE
    h, trial = history(complete, [0.1, 0.1])  # τ = 2 is not a rung
    assert asha.decide(trial, h).action is Action.CONTINUE


def test_every_rule_continues_a_trial_in_an_empty_history() -> None:
    """A review of stop 33: ``ASHA(min_complete=0)`` asked about a trial in a History with no
    row (nothing has reached the rung) raised numpy's IndexError from ``np.quantile``."""
    empty = History(np.zeros((0, 10)), np.zeros(0, dtype=np.int64), [], pd.DataFrame(),
                    np.arange(1, 11), "acc", "maximize")
    trial = Trial("x", pd.DataFrame(index=["x"]), np.array([0.5]))
    for rule in (ASHA(min_complete=0), ASHA(), MedianRule(), MedianRule(min_complete=0),
                 PredictiveStopper(), NeverStop()):
        assert rule.decide(trial, empty).action is Action.CONTINUE, rule
    assert "no trial has reached it" in ASHA(min_complete=0).decide(trial, empty).reason


@pytest.mark.parametrize("make, match", [
    (lambda: PredictiveStopper(delta=0.0), r"delta .* got 0\.0"),
    (lambda: PredictiveStopper(delta=1.5), r"got 1\.5"),
    (lambda: PredictiveStopper(margin=-1), r"margin .* got -1"),
    (lambda: PredictiveStopper(margin=float("inf")), r"margin .* finite .* got inf"),
    (lambda: PredictiveStopper(margin=float("nan")), r"margin .* got nan"),
    (lambda: PredictiveStopper(keep_top_k=0), r"keep_top_k .* got 0"),
    (lambda: PredictiveStopper(refit_every=0), r"refit_every .* got 0"),
    (lambda: PredictiveStopper(min_complete=-3), r"min_complete .* got -3"),
    (lambda: PredictiveStopper(min_complete=float("nan")), r"min_complete must be a whole .*nan"),
    (lambda: PredictiveStopper(keep_top_k=2.5), r"keep_top_k must be a whole number, got 2\.5"),
    (lambda: PredictiveStopper(refit_every=float("inf")), r"refit_every must be a whole .*inf"),
    (lambda: PredictiveStopper(final_stretch=True), r"final_stretch must be in \[0, 1\)"),
    (lambda: MedianRule(warmup_epochs=-1), r"warmup_epochs .* got -1"),
    (lambda: ASHA(eta=1), r"eta .* got 1"),
    (lambda: ASHA(min_epochs=0), r"min_epochs .* got 0"),
    (lambda: ASHA(min_epochs=1.5), r"min_epochs must be a whole number, got 1\.5"),
    (lambda: ASHA(min_epochs=float("nan")), r"min_epochs must be a whole number, got nan"),
    (lambda: ASHA(eta=float("inf")), r"eta \(η\) must be a finite number > 1, got inf"),
    (lambda: MedianRule(warmup_epochs=1.5), r"warmup_epochs must be a whole number, got 1\.5"),
    (lambda: MedianRule(warmup_epochs=float("nan")), r"warmup_epochs must be a whole .*nan"),
])
def test_bad_arguments_raise_value_error_naming_the_value(make: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("make, match", [
    (lambda: PredictiveStopper(predictor="chain"), r"predictor must be a curvecast Predictor"),
    (lambda: PredictiveStopper(prior="curves.parquet"), r"prior must be a CurveSet .*CurveSet.load"),
    (lambda: PredictiveStopper(keep_top_k="2"), r"keep_top_k must be a whole number, got '2'"),
    (lambda: PredictiveStopper(min_complete=True), r"min_complete must be a whole number"),
    (lambda: PredictiveStopper(delta=True), r"delta \(Δ\) must be a number in \(0, 1\], got True"),
    (lambda: PredictiveStopper(delta="0.9"), r"delta \(Δ\) must be a number .*got '0.9'"),
    (lambda: ASHA(eta="3"), r"eta \(η\) must be a number, got '3'"),
    (lambda: MedianRule(warmup_epochs="2"), r"warmup_epochs must be a whole number, got '2'"),
])
def test_arguments_of_the_wrong_type_raise_type_error_at_once(make: object, match: str) -> None:
    """Caught when the stopper is made, not at its first decision (an AttributeError there)."""
    with pytest.raises(TypeError, match=match):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("rule", [PredictiveStopper(min_complete=5), MedianRule(), ASHA(),
                                  NeverStop()], ids=repr)
def test_a_trial_longer_than_the_budget_axis_is_refused_by_name(rule: Stopper) -> None:
    """Every rule (a user's review, stop 30: the median rule, ASHA and NeverStop raised
    numpy's IndexError)."""
    h, _ = history(np.tile(np.linspace(0.1, 0.9, 9)[:, None], (1, 4)), [0.5])
    trial = Trial("long", h.configs.iloc[:1], np.ones(6))
    with pytest.raises(ValueError, match="trial 'long' has 6 values; the study's budget axis "
                                         "has 4 epochs"):
        rule.decide(trial, h)


def test_a_trial_missing_from_the_history_is_refused_by_name() -> None:
    """The predictive rule needs the running trial's row (a bare AssertionError before)."""
    h, _ = history(np.tile(np.linspace(0.1, 0.9, 9)[:, None], (1, 4)), [0.5])
    with pytest.raises(ValueError, match="trial 'elsewhere' is not a row of the history"):
        PredictiveStopper(min_complete=5).decide(Trial("elsewhere", h.configs.iloc[:1],
                                                       np.array([0.5])), h)


def test_an_eta_near_one_makes_every_epoch_a_rung_at_once() -> None:
    """ASHA(eta=1.000001) took 0.8 s per decision listing its rungs (a user's review)."""
    assert ASHA(eta=1.000001).rungs(140) == list(range(1, 140))
    assert ASHA(eta=3, min_epochs=2).rungs(60) == [2, 6, 18, 54]
    assert ASHA(eta=1.5).rungs(30) == [1, 2, 3, 5, 8, 11, 17, 26]


def test_a_prior_of_another_metric_or_direction_is_refused_at_the_first_decision() -> None:
    """A user's review (stop 30): the study maximises accuracy and the prior recorded the same
    runs as an error rate (minimised); the stopper stopped 17 of 30 trials at P = 1.  The
    integrations refused such a prior already; the stopper itself now does too."""
    finals = np.linspace(0.1, 0.9, 9)
    curves = np.tile(finals[:, None], (1, 4))
    h, trial = history(curves, [0.5, 0.5])

    def prior(values: np.ndarray, metric: str, direction: str) -> CurveSet:
        configs = pd.DataFrame({"n_params": np.arange(9.0)}, index=[f"p{i}" for i in range(9)])
        return CurveSet(values=values, observed=np.ones(values.shape, bool),
                        epochs=np.arange(1, 5), metric=metric,
                        direction=Direction.parse(direction), configs=configs)

    for bad, match in ((prior(1 - curves, "acc", "minimize"), "minimized but the study maximizes"),
                       (prior(curves * 1000, "reward", "maximize"), "the prior's metric is "
                                                                   "'reward' but the study measures 'acc'")):
        with pytest.raises(ValueError, match=match):
            PredictiveStopper(min_complete=5, prior=bad).decide(trial, h)
    for good in (prior(curves, "acc", "maximize"), prior(curves, "objective", "maximize")):
        PredictiveStopper(min_complete=5, prior=good).decide(trial, h)


# ------------------------------------------------------------------------- invariants
@st.composite
def histories(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    T = draw(st.integers(2, 6))
    n = draw(st.integers(0, 25))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    complete = np.cumsum(rng.uniform(0, 0.2, (n, T)), axis=1)
    tau = draw(st.integers(1, T - 1))
    running = np.cumsum(rng.uniform(0, 0.2, tau))
    return complete, running


@settings(max_examples=60, deadline=None)
@given(histories(), st.floats(0.5, 0.99), st.floats(0.5, 0.999), st.integers(1, 3),
       st.floats(0, 0.1))
def test_raising_delta_never_stops_more(data: tuple[np.ndarray, np.ndarray], d1: float, d2: float,
                                        k: int, margin: float) -> None:
    low, high = min(d1, d2), max(d1, d2)
    h, trial = history(*data)
    kw = {"min_complete": 3, "keep_top_k": k, "margin": margin}
    stop_high = lsv_stopper(delta=high, **kw).decide(trial, h).stop
    stop_low = lsv_stopper(delta=low, **kw).decide(trial, h).stop
    assert stop_low or not stop_high


@settings(max_examples=60, deadline=None)
@given(histories(), st.floats(0.5, 0.99))
def test_a_predictive_stop_always_carries_its_prediction(data: tuple[np.ndarray, np.ndarray],
                                                         delta: float) -> None:
    h, trial = history(*data)
    d = lsv_stopper(delta=delta, min_complete=2).decide(trial, h)
    if d.stop:
        assert d.mean is not None and np.isfinite(d.mean)
        assert d.std is not None and d.std > 0
        assert d.probability is not None and d.probability >= delta


def _all_stoppers(min_complete: int, data: tuple[np.ndarray, np.ndarray]) -> list[Stopper]:
    complete = data[0]
    n, T = complete.shape
    values = np.vstack([complete, np.zeros((1, T))])
    recorded = CurveSet(values=values, observed=np.ones(values.shape, bool),
                        epochs=np.arange(1, T + 1), metric="acc", direction="max",
                        configs=pd.DataFrame(index=[f"c{i}" for i in range(n + 1)]))
    return [lsv_stopper(delta=0.5, min_complete=min_complete),
            MedianRule(min_complete=min_complete), ASHA(min_complete=min_complete),
            Oracle(recorded, min_complete=min_complete)]


@settings(max_examples=60, deadline=None)
@given(histories(), st.integers(1, 30))
def test_no_stop_before_min_complete(data: tuple[np.ndarray, np.ndarray], m: int) -> None:
    h, trial = history(*data)
    for stopper in _all_stoppers(m, data):
        if h.n_complete < m:
            assert not stopper.decide(trial, h).stop, stopper


@settings(max_examples=60, deadline=None)
@given(histories())
def test_minimize_mirrors_maximize(data: tuple[np.ndarray, np.ndarray]) -> None:
    complete, running = data
    h_max, t_max = history(complete, running)
    h_min, t_min = history(-complete, -running, direction=Direction.MINIMIZE)
    for stopper in [lsv_stopper(delta=0.6, min_complete=2), MedianRule(min_complete=2),
                    ASHA(min_complete=0)]:
        assert stopper.decide(t_max, h_max).action is stopper.decide(t_min, h_min).action


def test_fit_cache_is_shared_by_training_data() -> None:
    from curvecast.stopping import FitCache

    rng = np.random.default_rng(1)
    curves = np.sort(rng.uniform(0, 1, (12, 3)), axis=1)
    fits = FitCache()
    a = lsv_stopper(delta=0.8, min_complete=10, fits=fits)
    b = lsv_stopper(delta=0.99, min_complete=10, fits=fits)
    h, trial = history(curves[:10], [0.3], study="one")
    a.decide(trial, h)
    h2, trial2 = history(curves[:10], [0.3], study="two")  # another study, same training data
    b.decide(trial2, h2)
    assert fits.n_fits_ == 1 and (a.n_fits_, b.n_fits_) == (1, 1)
    h3, trial3 = history(curves[1:11], [0.3], study="three")  # other data: a new fit
    b.decide(trial3, h3)
    assert fits.n_fits_ == 2
    with pytest.raises(ValueError, match="max_size must be >= 1, got 0"):
        FitCache(max_size=0)


def _scaled_study(scale: float) -> tuple[History, Trial]:
    """40 finished saturating curves and a slow starter after 3 epochs, all times ``scale``."""
    T = 10
    rng = np.random.default_rng(0)
    base = (rng.uniform(0.1, 1.0, (40, 1)) * (1 - np.exp(-np.arange(1, T + 1) / 3))
            + rng.normal(0.0, 0.002, (40, T)))
    ids = [f"c{i}" for i in range(41)]
    configs = pd.DataFrame(index=ids)
    values = np.vstack([base, np.full((1, T), np.nan)]) * scale
    values[40, :3] = base[0, :3] * 0.5 * scale
    h = History(values, np.array([T] * 40 + [3]), ids, configs, np.arange(1, T + 1), "m",
                "maximize")
    return h, Trial("c40", configs.iloc[40:41], values[40, :3])


@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1e3, 1e7, 1e300])
def test_the_rule_decides_alike_at_any_scale_of_the_metric(scale: float) -> None:
    """The chain's links have a fixed ridge; measured in a power of ten near their range, the
    values give the same prediction at any scale (a metric in millions made a link singular,
    LinAlgError; one in millionths was shrunk to its mean and never stopped)."""
    import warnings

    h, trial = _scaled_study(1.0)
    unit = PredictiveStopper(explore=0).decide(trial, h)
    h, trial = _scaled_study(scale)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = PredictiveStopper(explore=0).decide(trial, h)
    assert scaled.action is unit.action is Action.STOP
    assert unit.mean is not None and scaled.mean is not None and scaled.std is not None
    # measured from their median, the rescaled values differ from the raw ones by rounding and
    # the ridge's pull only
    assert scaled.mean / scale == pytest.approx(unit.mean, rel=1e-4)
    assert scaled.std / scale == pytest.approx(unit.std, rel=0.02)


def _transformed_study(values_of: object, direction: str) -> tuple[History, Trial]:
    """``_scaled_study(1)``'s curves mapped by ``values_of`` (an accuracy array → metric)."""
    h, _ = _scaled_study(1.0)
    values = values_of(h.values)  # type: ignore[operator]
    h = History(values, h.n_observed, h.config_ids, h.configs, h.epochs, "m", direction)
    return h, Trial("c40", h.configs.iloc[40:41], values[40, :3])


@pytest.mark.parametrize("scale", [0.1, 0.01, 100.0])
def test_an_accuracy_in_tenths_or_percent_decides_as_the_fraction(scale: float) -> None:
    """A user's review (stop 30): values within [0.01, 100] were modelled as they were, so the
    links' fixed ridge shrank accuracies in tenths towards their mean (σ twice as wide) and let
    accuracies in percent go unregularised.  A power-of-ten unit now brings every scale to the
    same values: the same prediction in the metric's units, the same decision."""
    h, trial = _transformed_study(lambda v: v, "maximize")
    unit = PredictiveStopper(explore=0).decide(trial, h)
    h, trial = _transformed_study(lambda v: scale * v, "maximize")
    scaled = PredictiveStopper(explore=0).decide(trial, h)
    assert scaled.action is unit.action
    assert unit.mean is not None and scaled.mean is not None and scaled.std is not None
    assert unit.std is not None and unit.probability is not None
    assert scaled.mean / scale == pytest.approx(unit.mean, rel=1e-9)
    assert scaled.std / scale == pytest.approx(unit.std, rel=1e-9)
    assert scaled.probability == pytest.approx(unit.probability, abs=1e-9)


@pytest.mark.parametrize("level", [1e4, 1e9])
def test_a_level_far_from_zero_decides_as_the_curves_near_zero(level: float) -> None:
    """A score of ``level`` + 1e3·accuracy: measured from its median, the level does not make
    the links collinear (at 1e9 it raised LinAlgError: 'Singular matrix')."""
    h, trial = _transformed_study(lambda v: 1e3 * v, "maximize")
    near = PredictiveStopper(explore=0).decide(trial, h)
    h, trial = _transformed_study(lambda v: level + 1e3 * v, "maximize")
    far = PredictiveStopper(explore=0).decide(trial, h)
    assert far.action is near.action is Action.STOP
    assert near.mean is not None and far.mean is not None and far.std is not None
    # the far curves and the near ones are both measured from their worst values' level
    assert far.mean - level == pytest.approx(near.mean, rel=1e-9)
    assert far.std == pytest.approx(near.std, rel=1e-6)


@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1e3])
def test_a_rescaled_loss_on_the_log_scale_decides_alike(scale: float) -> None:
    """A positive loss is modelled as its log, which a rescaling shifts: far enough from zero,
    the shift is measured out (σ/scale was 3x wider at 1e-6)."""
    h, trial = _transformed_study(lambda v: 2.0 - v, "minimize")
    unit = PredictiveStopper(explore=0).decide(trial, h)
    h, trial = _transformed_study(lambda v: scale * (2.0 - v), "minimize")
    scaled = PredictiveStopper(explore=0).decide(trial, h)
    assert unit.mean is not None and scaled.mean is not None and scaled.std is not None
    assert scaled.mean / scale == pytest.approx(unit.mean, rel=1e-9)
    assert scaled.std / scale == pytest.approx(unit.std, rel=1e-6)


@pytest.mark.parametrize("scale", [1e308])
def test_the_whole_float_range_is_predicted(scale: float) -> None:
    h, trial = _scaled_study(scale)
    values = h.values.copy()
    values[:20] *= -1.0  # half the curves at -1e308: their range is beyond the largest float
    h = History(values, h.n_observed, h.config_ids, h.configs, h.epochs, "m", "maximize")
    decision = PredictiveStopper(explore=0).decide(trial, h)
    assert decision.mean is not None and np.isfinite(decision.mean) and not decision.clipped


class _Diverging(Predictor):
    """A predictor whose predictions are NaN (as a regression that overflowed gives)."""

    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> _Diverging:
        return self

    def predict(self, configs: pd.DataFrame, partial: np.ndarray) -> Prediction:
        return Prediction(mean=np.full(len(partial), np.nan), std=np.full(len(partial), np.nan))


def test_a_prediction_that_is_not_finite_continues_and_says_so() -> None:
    """A NaN prediction must not drive a decision (it read 'P = 0.000 < Δ' before): the trial
    continues, the decision says why and counts as clipped."""
    h, trial = _scaled_study(1.0)
    stopper = PredictiveStopper(predictor=_Diverging(), min_complete=5)
    decision = stopper.decide(trial, h)
    assert decision.action is Action.CONTINUE and decision.clipped
    assert "no finite prediction" in decision.reason and stopper.n_clipped_ == 1


# ------------------------------------------------------------------------- diverged runs
def _diverging_study(running: list[float], n_complete: int = 6
                     ) -> tuple[History, Trial]:
    """``n_complete`` rising accuracy curves over 10 epochs, then a trial whose curve is
    ``running`` as reported (NaN or ±inf where it diverged)."""
    rng = np.random.default_rng(0)
    complete = 0.5 + np.cumsum(rng.uniform(0.0, 0.04, (n_complete, 10)), axis=1)
    ids = [f"c{i}" for i in range(n_complete + 1)]
    h = History.from_curves([*complete, running], ids, pd.DataFrame(index=ids),
                            np.arange(1, 11), "acc", Direction.MAXIMIZE)
    return h, h.trial(n_complete)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_trial_whose_last_report_diverged_is_stopped_once_the_rule_judges(bad: float) -> None:
    h, trial = _diverging_study([0.55, bad])
    assert trial.values.tolist()[1] == pytest.approx(h.values[:6].min())  # filled: the worst
    decision = PredictiveStopper().decide(trial, h)  # exploration on, as by default
    assert decision.stop and decision.probability == 1.0 and decision.mean is None
    assert "diverged" in decision.reason
    # in the final stretch too, where nothing else is stopped
    late, trial = _diverging_study([0.55] * 8 + [bad])
    assert PredictiveStopper().decide(trial, late).stop
    # not before min_complete complete trials, as every stop
    few, trial = _diverging_study([0.55, bad], n_complete=4)
    assert not PredictiveStopper().decide(trial, few).stop


def test_a_run_that_came_back_from_a_diverged_report_is_judged_by_its_prediction() -> None:
    h, trial = _diverging_study([0.55, float("nan"), 0.9])
    decision = PredictiveStopper(explore=0.0).decide(trial, h)
    assert decision.mean is not None and "diverged" not in decision.reason


@pytest.mark.parametrize("make", [lambda: PredictiveStopper(explore=0), lambda: lsv_stopper(explore=0)],
                         ids=["chain", "last-value"])
def test_one_stopper_asked_about_two_studies_fits_each(make: object) -> None:
    """A user's review (stop 30): one stopper asked about study A, then about another study B
    of the same shape (both with the default study token ``""``), judged B with A's model (P
    0.326 against 0.877 from a fresh stopper)."""
    rng = np.random.default_rng(3)
    a = np.sort(rng.uniform(0.3, 0.9, (12, 1)), axis=0) * np.linspace(0.6, 1.0, 6)
    b = 0.5 * a[::-1] + rng.normal(0, 0.01, a.shape)
    h_a, t_a = history(a, a[0, :3], study="")
    h_b, t_b = history(b, b[0, :3], study="")
    shared = make()  # type: ignore[operator]
    shared.decide(t_a, h_a)
    got = shared.decide(t_b, h_b)
    fresh = make().decide(t_b, h_b)  # type: ignore[operator]
    assert (got.mean, got.std, got.probability) == (fresh.mean, fresh.std, fresh.probability)


@pytest.mark.parametrize("predictor", [LastSeenValue(), SRM(n_draws=3)], ids=["last-value", "srm"])
def test_steps_counted_from_zero_decide_as_from_one(predictor: Predictor) -> None:
    """A user's review (stop 30): with Optuna steps 0, 1, …, T−1, a predictor fitted on
    complete curves took step 0 for the untrained network and dropped it, while the trial it
    judged still had it: every feature was one epoch off (the SRM predicted 0.791 for a run
    ending at 0.895 that it predicts at 0.889 from steps 1, …, T)."""
    rng = np.random.default_rng(4)
    finals = rng.uniform(0.2, 0.9, 14)
    curves = finals[:, None] * (1 - np.exp(-np.arange(1, 9) / rng.uniform(1, 4, (14, 1))))
    decided = []
    for first in (1, 0):
        h, _ = history(curves[:13], curves[13, :3])
        h = History(h.values, h.n_observed, h.config_ids, h.configs,
                    np.arange(first, first + 8), "acc", Direction.MAXIMIZE, "s")
        trial = Trial(h.config_ids[-1], h.configs.iloc[[13]], curves[13, :3])
        got = PredictiveStopper(predictor=predictor, min_complete=10, explore=0,
                                final_stretch=0).decide(trial, h)
        decided.append((got.action, got.mean, got.std, got.probability))
    assert decided[0] == pytest.approx(decided[1])


def test_fitted_once_stays_fitted_when_an_earlier_trial_finishes_late() -> None:
    """A review of stop 30's cache key: keyed by the first *complete* trial, a predictor fitted
    on complete curves with ``refit_every=None`` (the paper's "fitted once") was refitted when a
    trial that started first finished after others (parallel workers)."""
    rng = np.random.default_rng(0)
    T, n = 10, 12
    curves = [0.9 - 0.5 * np.exp(-np.arange(1, T + 1) / rng.uniform(1, 5)) for _ in range(n)]
    ids = [str(i) for i in range(n)]
    configs = pd.DataFrame({"x": rng.random(n)}, index=ids)
    rule = PredictiveStopper(predictor=LastSeenValue(), min_complete=8, refit_every=None)
    lengths = [3, T, T, T, T, T, T, T, T, 4, 0, 0]
    for change, tau in (((10, T), 4), ((0, T), 5)):
        h = History.from_curves([c[:k] for c, k in zip(curves, lengths, strict=True)], ids,
                                configs, np.arange(1, T + 1), "acc", "maximize")
        rule.decide(Trial(ids[9], configs.loc[[ids[9]]], curves[9][:tau]), h)
        lengths[change[0]] = change[1]
    h = History.from_curves([c[:k] for c, k in zip(curves, lengths, strict=True)], ids, configs,
                            np.arange(1, T + 1), "acc", "maximize")
    rule.decide(Trial(ids[9], configs.loc[[ids[9]]], curves[9][:6]), h)
    assert rule.n_fits_ == 1


def test_a_shared_fit_cache_does_not_hand_over_a_fit_for_another_direction_or_configs() -> None:
    """A user's review (stop 34): ``FitCache`` keyed on the ids and values only, so a study
    minimising the same numbers, or with other configs, got the first study's fitted model."""
    from curvecast.predictors import SRM
    from curvecast.stopping import FitCache

    rng = np.random.default_rng(0)
    t = np.arange(1, 11)
    v = rng.uniform(0.5, 0.9, (12, 1)) * (1 - np.exp(-rng.uniform(0.2, 1, (12, 1)) * t))
    n = np.array([10] * 11 + [3])
    ids = [f"c{i}" for i in range(12)]
    configs = pd.DataFrame({"lr": np.linspace(0, 1, 12)}, index=ids)
    fits = FitCache()
    for direction, table in (("maximize", configs), ("minimize", configs),
                             ("minimize", configs[::-1].set_axis(ids))):
        h = History.from_matrix(v, n, ids, table, t, "acc", direction, study=direction)
        shared = PredictiveStopper(predictor=SRM(n_draws=5), min_complete=6,
                                   fits=fits).decide(h.trial(11), h)
        own = PredictiveStopper(predictor=SRM(n_draws=5), min_complete=6).decide(h.trial(11), h)
        assert shared.mean == own.mean and shared.probability == own.probability
    assert fits.n_fits_ == 3


def test_a_prior_with_no_finite_value_is_refused() -> None:
    """A user's review (stop 34): a prior whose curves were all NaN turned every link NaN, so
    the rule stopped nothing for the whole study, with one warning."""
    t = np.arange(1, 11)
    prior = CurveSet(values=np.full((60, 10), np.nan), observed=np.ones((60, 10), bool),
                     epochs=t, metric="acc", direction="maximize",
                     configs=pd.DataFrame(index=[f"p{i}" for i in range(60)]))
    with pytest.raises(ValueError, match="the prior's 60 complete curves hold no finite acc "
                                         "value and it states no value for a diverged run"):
        PredictiveStopper(prior=prior)
    stated = CurveSet(values=prior.values, observed=prior.observed, epochs=t, metric="acc",
                      direction="maximize", configs=prior.configs, diverged_value=0.0)
    assert PredictiveStopper(prior=stated).n_prior == 60  # every run diverged, to 0: kept


def test_the_same_accuracies_less_a_baseline_are_replayed_alike() -> None:
    """A user's review (stop 34): digits-metaqnn's accuracies less 0.97 (or 1e9 + 1e3·acc)
    took 39 % more epochs in a replay than the accuracies themselves, single decisions moving
    by up to 0.3 in P: the links' ridge drew their intercepts towards 0, wherever the values
    sat.  They are now measured from their worst values' level, which a shift moves along."""
    from curvecast.execution.replay import replay
    from curvecast.search import RandomSearch
    from synthetic_curves import synthetic

    cs = synthetic(n=120, seed=2)
    results = []
    for shifted in (cs.values, cs.values - 0.97, 1e9 + 1e3 * cs.values):
        curves = CurveSet(values=shifted, observed=cs.observed, epochs=cs.epochs,
                          metric=cs.metric, direction=cs.direction, configs=cs.configs)
        r = replay(curves, RandomSearch.from_curves(curves, seed=0), PredictiveStopper())
        results.append((r.total_epochs, r.n_stopped))
    assert results[0][1] > 20 and results[1:] == results[:1] * 2, results


def test_a_history_that_cannot_hold_its_trials_is_refused_in_words() -> None:
    """A review (stop 34): a config table without the trial's row raised pandas' KeyError in
    every rule, and epochs observed beyond the axis (or below 0) were taken as they came."""
    v = np.sort(np.random.default_rng(0).uniform(0, 1, (12, 4)), axis=1)
    ids = [f"c{i}" for i in range(12)]
    configs = pd.DataFrame({"lr": np.arange(11.0)}, index=ids[:11])
    h = History(v, np.array([4] * 11 + [2]), ids, configs, np.arange(1, 5), "acc",
                Direction.MAXIMIZE)
    for rule in (PredictiveStopper(), MedianRule(), ASHA()):
        with pytest.raises(ValueError, match="trial 'c11' has no row in the history's config"):
            rule.decide(h.trial(11), h)
    for bad in (np.array([5] * 12), np.array([-1] + [4] * 11)):
        with pytest.raises(ValueError, match=r"n_observed must be in 0\.\.4"):
            History(v, bad, ids, configs, np.arange(1, 5), "acc", Direction.MAXIMIZE)
    # two rows under one id: its config lookup returned both rows, and a rule judged the pair
    twice = [*ids[:11], "c3"]
    with pytest.raises(ValueError, match=r"config ids must be unique .* got 'c3' twice"):
        History(v, np.array([4] * 11 + [2]), twice, configs, np.arange(1, 5), "acc",
                Direction.MAXIMIZE)


def test_one_stopper_asked_about_two_histories_of_one_shape_fits_each() -> None:
    """A review (stop 35): a researcher's what-if histories (``History.from_curves``, the
    default study token) with the same first trial and shape but other curves got the first
    history's fitted model back: a stale prediction, silently."""
    from synthetic_curves import synthetic

    cs = synthetic(40, 10)
    ids = cs.config_ids

    def history(curves: list[np.ndarray]) -> History:
        return History.from_curves(curves, ids[:len(curves)], cs.configs, cs.epochs, "m",
                                   "maximize")

    first = history([cs.values[i] for i in range(12)] + [cs.values[12, :3]])
    other = history([cs.values[0]] + [cs.values[i] + 0.3 for i in range(1, 12)]
                    + [cs.values[12, :3]])
    reused = PredictiveStopper(explore=0)
    on_first = reused.decide(first.trial(12), first)
    on_other = reused.decide(other.trial(12), other)
    fresh = PredictiveStopper(explore=0).decide(other.trial(12), other)
    assert on_other.mean == pytest.approx(fresh.mean, rel=1e-12)
    assert on_first.mean is not None and on_other.mean is not None
    assert abs(on_other.mean - on_first.mean) > 0.01


# ------------------------------------------------------------------------- a review of the rules
@pytest.mark.parametrize("direction", [Direction.MAXIMIZE, Direction.MINIMIZE])
def test_asha_keeps_a_trial_tied_with_the_order_statistic_its_quantile_falls_on(
        direction: Direction) -> None:
    """With 10 values at a rung and η = 3 the (1 − 1/η) quantile is the 7th smallest value
    (position 9·2/3 = 6), and a trial equal to it is not below it: kept.  ``np.quantile`` with
    q = 1 − 1/3 = 0.6666666666666667 put it 1e-15 of the way to the 8th, and the tied trial
    was stopped ('0.6722 vs cutoff 0.6722 of 52 trials' in the frozen digits replay)."""
    sign = direction.sign
    complete = sign * np.tile(np.array([1, 2, 3, 4, 5, 6, 8, 9, 10])[:, None] / 10, (1, 4))
    h, trial = history(complete, [sign * 0.7], direction=direction)
    d = ASHA(eta=3).decide(trial, h)
    assert d.action is Action.CONTINUE, d.reason
    h, trial = history(complete, [sign * 0.55], direction=direction)  # below (0.6): stopped
    assert ASHA(eta=3).decide(trial, h).action is Action.STOP
    # η = 1.5: the 1/3 quantile of 10 values is the 4th smallest (q = 0.33333333333333337)
    complete = sign * np.tile(np.array([1, 2, 3, 5, 6, 7, 8, 9, 10])[:, None] / 10, (1, 4))
    h, trial = history(complete, [sign * 0.4], direction=direction)
    assert ASHA(eta=1.5).decide(trial, h).action is Action.CONTINUE


@st.composite
def quarter_histories(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Curves (not monotone) of multiples of 1/4, so that adding a whole number is exact."""
    T = draw(st.integers(2, 8))
    n = draw(st.integers(0, 12))
    value = st.integers(-40, 40).map(lambda v: v / 4)
    rows = draw(st.lists(st.lists(value, min_size=T, max_size=T), min_size=n, max_size=n))
    tau = draw(st.integers(1, T - 1))
    running = draw(st.lists(value, min_size=tau, max_size=tau))
    return np.array(rows, dtype=np.float64).reshape(n, T), np.array(running, dtype=np.float64)


_TIED = (np.array([[0.0, 0.0]] * 6 + [[-0.25, 0.0]] * 3), np.array([-0.25]))


@settings(max_examples=200, deadline=None)
@given(quarter_histories(), st.integers(-1000, 1000),
       st.sampled_from([Direction.MAXIMIZE, Direction.MINIMIZE]))
@example(_TIED, -1, Direction.MAXIMIZE)
@example((np.array([[v / 10, 0.0] for v in (1, 2, 3, 4, 5, 6, 8, 9, 10)]), np.array([0.7])), 3,
         Direction.MAXIMIZE)
def test_adding_a_constant_to_every_value_changes_no_median_or_asha_decision(
        data: tuple[np.ndarray, np.ndarray], shift: int, direction: Direction) -> None:
    """Both rules compare values with each other only (a median, a quantile): a constant added
    to every value moves nothing (exactly, on values that add exactly)."""
    complete, running = data
    h0, t0 = history(complete, running, direction=direction)
    h1, t1 = history(complete + shift, running + shift, direction=direction)
    for rule in (MedianRule(min_complete=1), MedianRule(min_complete=3, warmup_epochs=1),
                 ASHA(min_complete=0), ASHA(eta=2, min_complete=1), ASHA(eta=1.5)):
        assert rule.decide(t0, h0).action is rule.decide(t1, h1).action, rule


@settings(max_examples=200, deadline=None)
@given(quarter_histories())
@example(_TIED)
def test_a_maximised_study_negated_and_minimised_decides_alike_on_any_curves(
        data: tuple[np.ndarray, np.ndarray]) -> None:
    """The mirror invariant on curves that go up and down (the test above it draws rising
    curves), for the rules that compare values only."""
    complete, running = data
    h_max, t_max = history(complete, running)
    h_min, t_min = history(-complete, -running, direction=Direction.MINIMIZE)
    for rule in (MedianRule(min_complete=1), ASHA(min_complete=0), ASHA(eta=1.5)):
        assert rule.decide(t_max, h_max).action is rule.decide(t_min, h_min).action, rule


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("direction", [Direction.MAXIMIZE, Direction.MINIMIZE])
def test_a_complete_trial_whose_final_value_is_not_finite_ranks_as_the_worst(
        bad: float, direction: Direction) -> None:
    """A History built directly on values as reported (not filled): a complete trial that
    ended on +inf in a study that maximises made y_best +inf, and every trial was stopped at
    P = 1 whatever Δ; NaN made y_best NaN, and every trial continued with a warning that the
    predictor gave no finite prediction (its mean and σ were finite).  A non-finite value
    counts as the worst (the one diverged-value rule): y_best is the best finite final."""
    sign = direction.sign
    finals = np.array([0.5, 0.7, 0.9, 0.6])
    complete = np.column_stack([finals - 0.1, finals - 0.05, finals])
    complete[2, -1] = bad  # the run that would have been best diverged at the end
    h, trial = history(sign * complete, [sign * 0.45], direction=direction)
    d = lsv_stopper(delta=0.8, min_complete=4).decide(trial, h)
    # ŷ = 0.45 ± σ (LastSeenValue's fit fills the diverged value itself), y_ref = 0.7
    assert d.mean == pytest.approx(sign * 0.45)
    assert d.std is not None and d.probability == pytest.approx(norm.cdf(0.25 / d.std))
    assert f"worse than {sign * 0.7:.4g}" in d.reason
    # no finite final to compare with: nothing is stopped, and the decision says why
    complete[:, -1] = bad
    h, trial = history(sign * complete, [sign * 0.45], direction=direction)
    d = lsv_stopper(delta=0.8, min_complete=4).decide(trial, h)
    assert d.action is Action.CONTINUE and "no finite final value to compare with" in d.reason


@pytest.mark.parametrize("epochs", [[1, 3, 2, 4], [1, 1, 2, 3], [4, 3, 2, 1], [-1, 0, 1, 2]])
def test_a_history_whose_epochs_are_not_strictly_increasing_is_refused(epochs: list[int]) -> None:
    """The rules read the axis by position (τ trained epochs: ``epochs[τ − 1]``): the median
    rule and ASHA decided at 'epoch 3' after one epoch, and an SRM refused the axis only at its
    first fit, mid-study, with the CurveSet's words."""
    values = np.tile(np.linspace(0.1, 0.9, 4), (3, 1))
    configs = pd.DataFrame(index=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"epochs \(the budget axis\) must be non-negative and "
                                         r"strictly increasing, got \[" + ", ".join(
                                             str(e) for e in epochs).replace("-", r"\-") + r"\]"):
        History(values, np.array([4, 4, 1]), ["a", "b", "c"], configs, np.array(epochs), "acc",
                Direction.MAXIMIZE)
    History(values, np.array([4, 4, 1]), ["a", "b", "c"], configs, np.array([0, 1, 2, 3]),
            "acc", Direction.MAXIMIZE)  # counted from 0 (Optuna's steps): fine


def test_a_complete_trial_without_a_config_row_is_refused_by_name_when_fitting() -> None:
    """An SRM is fitted on ``History.completed()``, which raised pandas' KeyError
    ("['c3'] not in index")."""
    h, trial = history(np.tile(np.linspace(0.1, 0.9, 12)[:, None], (1, 4)), [0.5])
    h = History(np.array(h.values), h.n_observed, h.config_ids, h.configs.drop(index="c3"),
                h.epochs, h.metric, h.direction, "s")
    with pytest.raises(ValueError, match=r"1 complete trial\(s\), e\.g\. 'c3', have no row in "
                                         "the history's config table"):
        h.completed()
    with pytest.raises(ValueError, match="'c3', have no row"):
        PredictiveStopper(predictor=SRM(n_draws=2, cv=2), min_complete=4).decide(trial, h)


def test_asha_quantile_with_a_nan_does_not_depend_on_the_number_of_values() -> None:
    """A NaN at a rung (a History built on values not filled) made np.quantile's cutoff NaN
    (nothing stopped) when the quantile's position was fractional, but np.partition sorts NaN
    above every number, so with a whole position the cutoff was a finite order statistic and
    trials were stopped: one rule, two behaviours, by the count of trials alone."""
    from curvecast.stopping.asha import _upper_quantile

    for n in (10, 11):  # positions 6 (whole) and 6.67
        values = np.append(np.linspace(0.1, 0.9, n - 1), np.nan)
        assert np.isnan(_upper_quantile(values, 3.0)), n
        assert np.isnan(np.quantile(values, 1 - 1 / 3))


def test_delta_one_stops_no_trial_on_a_prediction_but_still_a_diverged_one() -> None:
    # ŷ = -0.25, σ = 0.1, y_best = 0.9: 11.5σ short, P = Φ(11.5) rounds to exactly 1.0 (before:
    # P ≥ Δ = 1 held and the run was stopped, as if the float's rounding were certainty)
    finals = np.array([0.5, 0.7, 0.9, 0.6])
    complete = np.column_stack([finals - 0.1, finals - 0.05, finals])
    h, trial = history(complete, [-0.25])
    d = lsv_stopper(delta=1.0, min_complete=4).decide(trial, h)
    assert d.probability == 1.0 and d.mean == pytest.approx(-0.25)
    assert d.action is Action.CONTINUE
    assert "Δ = 1: no prediction stops a trial" in d.reason
    assert lsv_stopper(delta=1 - 1e-9, min_complete=4).decide(trial, h).stop
    # a diverged report is no prediction: the run counts as the worst value and is stopped
    h, trial = _diverging_study([0.55, float("nan")])
    d = PredictiveStopper(delta=1.0).decide(trial, h)
    assert d.stop and d.mean is None and "diverged" in d.reason


def test_an_oracle_of_min_complete_0_still_waits_for_one_complete_trial() -> None:
    """What ``simulate --prior-fraction`` says of the oracle (``max(1, min_complete − prior)``
    complete trials): with no complete trial there is no best to beat, so nothing is stopped."""
    finals = np.array([0.9, 0.5])
    values = np.column_stack([finals - 0.1, finals])
    configs = pd.DataFrame({"n_params": [1.0, 2.0]}, index=["c0", "c1"])
    recorded = CurveSet(values=values, observed=np.ones((2, 2), bool), epochs=np.array([1, 2]),
                        metric="acc", direction=Direction.MAXIMIZE, configs=configs)
    oracle = Oracle(recorded, min_complete=0)
    trial = Trial("c1", configs.iloc[[1]], values[1, :1])
    none, _ = history(np.empty((0, 2)), [0.0])
    assert oracle.decide(trial, none).action is Action.CONTINUE
    one, _ = history(values[:1], [0.0])
    assert oracle.decide(trial, one).action is Action.STOP
