"""The prediction experiments' measures and protocol (``curvecast.experiments.prediction``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray
from scipy import stats
from sklearn.metrics import r2_score

from curvecast import CurveSet
from curvecast.experiments.prediction import (
    PredictionSettings,
    quality,
    run_prediction_experiments,
    tau_for,
)
from curvecast.predictors import SRM, LastSeenValue, Prediction, Predictor
from synthetic_curves import synthetic


def test_quality_matches_scikit_learn_scipy_and_a_hand_count() -> None:
    rng = np.random.default_rng(3)
    truth = np.round(rng.normal(0.7, 0.1, 40), 2)  # rounded: ties in the truth
    mean = np.round(truth + rng.normal(0, 0.03, 40), 2)  # and in the predictions
    std = np.full(40, 0.03)
    q = quality(truth, mean, std)
    assert q["r2"] == pytest.approx(r2_score(truth, mean), rel=1e-12)
    assert q["rmse"] == pytest.approx(float(np.sqrt(np.mean((truth - mean) ** 2))), rel=1e-12)
    assert q["kendall_tau"] == pytest.approx(stats.kendalltau(mean, truth).statistic, rel=1e-12)
    inside_68 = sum(abs(t - m) <= 0.03 for t, m in zip(truth, mean, strict=True))
    inside_95 = sum(abs(t - m) <= 1.96 * 0.03 for t, m in zip(truth, mean, strict=True))
    assert q["coverage_68"] == inside_68 / 40
    assert q["coverage_95"] == inside_95 / 40


def test_quality_of_undefined_cases_is_nan_not_a_number_that_looks_real() -> None:
    constant = quality(np.full(5, 0.9), np.linspace(0.8, 1.0, 5), np.full(5, 0.1))
    assert np.isnan(constant["r2"]) and np.isnan(constant["kendall_tau"])
    assert constant["rmse"] == pytest.approx(float(np.sqrt(np.mean(np.linspace(-0.1, 0.1, 5)
                                                                      ** 2))))
    one = quality(np.array([0.5]), np.array([0.6]), np.array([0.2]))
    assert np.isnan(one["r2"]) and np.isnan(one["kendall_tau"])
    assert one["coverage_68"] == 1.0 and one["rmse"] == pytest.approx(0.1)


def test_a_point_prediction_that_hits_the_truth_covers_it() -> None:
    """std 0 is a point prediction (Prediction's docstring): 0/0 was NaN, counted as outside."""
    truth = np.array([0.5, 0.6, 0.7])
    q = quality(truth, np.array([0.5, 0.6, 0.75]), np.zeros(3))
    assert q["coverage_68"] == pytest.approx(2 / 3)
    assert q["coverage_95"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_prediction_is_named_not_a_scikit_learn_error(bad: float) -> None:
    truth = np.linspace(0.5, 0.9, 10)
    mean = truth.copy()
    mean[[2, 7]] = bad
    with pytest.raises(ValueError, match=r"NaN or ±inf mean .* for 2 of 10 test curves "
                                         r"\(position 2, position 7\)"):
        quality(truth, mean, np.full(10, 0.1))
    with pytest.raises(ValueError, match=r"no test curve"):
        quality(np.zeros(0), np.zeros(0), np.zeros(0))


class _FailsOnOne(Predictor):
    """The last-seen value, but NaN for the config named ``c7`` (a per-curve fit that failed)."""

    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> _FailsOnOne:
        self.inner_ = LastSeenValue().fit(curves)
        return self

    def predict(self, configs: pd.DataFrame, partial: NDArray[np.float64]) -> Prediction:
        pred = self.inner_.predict(configs, partial)
        mean = np.where(configs.index == "c7", np.nan, pred.mean)
        return Prediction(mean=mean, std=pred.std)


def test_an_experiment_cell_with_a_failed_prediction_says_which_config() -> None:
    """The cell was skipped with scikit-learn's "Input contains NaN." and no config named."""
    cs = synthetic(n=30, epochs=8)
    out = run_prediction_experiments(
        cs, {"fails": lambda groups, seed: _FailsOnOne()},
        PredictionSettings(train_size=6, repeats=3, fractions=(0.5,), experiments=("table1",)))
    reasons = {s["reason"] for s in out["skipped"]}
    assert reasons, "some repeat tests c7"
    assert all("NaN or ±inf mean" in r and "c7" in r for r in reasons), reasons


def test_srm_refuses_a_bad_sigma_folds_when_made_not_when_first_predicting() -> None:
    for bad in (1, -1):
        with pytest.raises(ValueError, match=f"sigma_folds must be 0 .* got {bad}"):
            SRM(sigma_folds=bad)
    SRM(sigma_folds=0)
    SRM(sigma_folds=2)


@pytest.mark.parametrize("kwargs", [{"fractions": (0.0,)}, {"fractions": (1.0,)},
                                    {"fractions": (1.5,)}, {"fractions": (float("nan"),)},
                                    {"fractions": ()}, {"repeats": 0}, {"train_size": 5},
                                    {"experiments": ("table9",)}, {"sample_sizes": (-5,)},
                                    {"sample_sizes": (10, 0)}, {"max_test": 0}])
def test_bad_settings_are_refused_with_the_value(kwargs: dict[str, object]) -> None:
    """A sample size of -5 trained on all but 5 configs, the test curves among them."""
    with pytest.raises(ValueError, match=r"must|unknown"):
        PredictionSettings(**kwargs)  # type: ignore[arg-type]


def test_tau_is_the_ceiling_of_the_share_within_one_and_t_minus_one() -> None:
    assert [tau_for(f, 20) for f in (0.1, 0.25, 0.5, 0.75)] == [2, 5, 10, 15]
    assert tau_for(0.25, 59) == 15 and tau_for(0.25, 140) == 35
    assert tau_for(0.1, 30) == 3  # 0.1 · 30 = 3.0000000000000004 in floats
    assert tau_for(0.01, 20) == 1 and tau_for(0.99, 20) == 19


class _Records(Predictor):
    """The last-seen value, keeping the partial curves it was asked about."""

    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> _Records:
        self.inner_ = LastSeenValue().fit(curves)
        self.seen_: list[NDArray[np.float64]] = []
        return self

    def predict(self, configs: pd.DataFrame, partial: NDArray[np.float64]) -> Prediction:
        self.seen_.append(np.array(partial, dtype=np.float64))
        return self.inner_.predict(configs, partial)


def test_a_diverged_test_input_does_not_read_other_test_curves_beyond_tau() -> None:
    """A test curve's diverged epoch counted as the worst value of the whole test set, every
    epoch of every test curve: another test curve's final value changed its input at τ."""
    from curvecast.experiments.prediction import _evaluate

    cs = synthetic(n=60, epochs=8)
    train = cs.subset(np.arange(30))
    seen = []
    for late in (None, -5.0):
        values = np.array(cs.values)
        values[30, :2] = np.nan  # test curve 0 diverged in its first two epochs
        if late is not None:
            values[31, 7] = late  # test curve 1's final value, beyond τ = 4
        test = CurveSet(values=values, observed=cs.observed, epochs=cs.epochs, metric="m",
                        direction=cs.direction, configs=cs.configs).subset(np.arange(30, 60))
        spy = _Records()
        _evaluate(lambda groups, seed, spy=spy: spy, frozenset({"ts"}), 0, train, test, 4)
        seen.append(spy.seen_[-1])
    np.testing.assert_array_equal(seen[0], seen[1])
    assert seen[0][0, 0] == pytest.approx(train.diverged_fill)  # the training curves' worst


def test_depth_generalisation_without_a_depth_number_is_skipped_with_why() -> None:
    """An n_layers column with no number warned "All-NaN slice" and said "median depth nan"."""
    cs = synthetic(n=40, epochs=8)
    no_depth = CurveSet(values=cs.values, observed=cs.observed, epochs=cs.epochs, metric="m",
                        direction=cs.direction, configs=cs.configs.assign(n_layers=np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = run_prediction_experiments(
            no_depth, {"lv": lambda groups, seed: LastSeenValue()},
            PredictionSettings(train_size=20, repeats=1, fractions=(0.5,),
                               experiments=("depth_generalisation",)))
    assert [s["reason"] for s in out["skipped"]] == [
        "the configs' n_layers column has no number (each architecture's depth)"]


class _AllNaN(Predictor):
    """A predictor whose every prediction failed (NaN): quality() refuses to score it."""

    def fit(self, curves: CurveSet, *, target_epoch: int | None = None) -> _AllNaN:
        return self

    def predict(self, configs: pd.DataFrame, partial: NDArray[np.float64]) -> Prediction:
        n = len(configs)
        return Prediction(mean=np.full(n, np.nan), std=np.full(n, 0.1))


def test_depth_generalisation_with_a_failed_prediction_is_skipped_not_a_crash() -> None:
    """Table 1's cells catch quality()'s ValueError and skip the cell; the depth experiment
    let it end the whole run (every other experiment's results lost)."""
    cs = synthetic(n=60, epochs=8)
    deep = CurveSet(values=cs.values, observed=cs.observed, epochs=cs.epochs, metric="m",
                    direction=cs.direction,
                    configs=cs.configs.assign(n_layers=np.arange(60) % 2 + 2))
    out = run_prediction_experiments(
        deep, {"nan": lambda groups, seed: _AllNaN()},
        PredictionSettings(train_size=20, repeats=1, fractions=(0.5,),
                           experiments=("table1", "depth_generalisation")))
    experiments = {s["experiment"] for s in out["skipped"]}
    assert experiments == {"table1", "depth_generalisation"}, out["skipped"]
    assert all("NaN or ±inf mean" in s["reason"] for s in out["skipped"])


def test_a_diverged_test_input_counts_no_better_than_its_own_earlier_values() -> None:
    """With no stated diverged value the fill is the worst value in the view (History's one
    rule): the training curves *and* the test inputs up to τ.  The training curves' worst
    alone can be better than a test curve's own values before it diverged, so a run that was
    worse than every training curve and then diverged looked as if it had improved."""
    from curvecast.experiments.prediction import _evaluate

    cs = synthetic(n=60, epochs=8)
    train = cs.subset(np.arange(30))
    values = np.array(cs.values)
    floor = float(np.min(train.values)) - 1.0
    values[30, :2] = floor  # test curve 0: worse than every training value ...
    values[30, 2] = np.nan  # ... then diverged, before τ = 4
    test = CurveSet(values=values, observed=cs.observed, epochs=cs.epochs, metric="m",
                    direction=cs.direction, configs=cs.configs).subset(np.arange(30, 60))
    spy = _Records()
    _evaluate(lambda groups, seed, spy=spy: spy, frozenset({"ts"}), 0, train, test, 4)
    assert spy.seen_[-1][0, 2] <= floor  # maximise: no better than the curve's own values
