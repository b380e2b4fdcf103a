"""Predictors: SRM and LastSeenValue through the public API, on synthetic and published curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import r2_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from curvecast import CurveSet, Direction
from curvecast.predictors import SRM, LastSeenValue, TunedRegressor, nu_svr_linear, ols
from synthetic_curves import split, synthetic


def test_srm_beats_last_seen_value_on_saturating_curves() -> None:
    train, test = split(synthetic())
    srm = SRM(n_draws=20).fit(train)
    last = LastSeenValue().fit(train)
    truth = test.final_values()
    r2_srm = r2_score(truth, srm.predict_curves(test, 3).mean)
    r2_last = r2_score(truth, last.predict_curves(test, 3).mean)
    assert r2_srm > 0.9
    assert r2_srm > r2_last + 0.3


def test_srm_sigma_is_calibrated_on_held_out_curves() -> None:
    train, test = split(synthetic(n=400, seed=1), n_train=150)
    srm = SRM(n_draws=20).fit(train)
    pred = srm.predict_curves(test, 4)
    z = np.abs(test.final_values() - pred.mean) / pred.std
    assert 0.55 <= np.mean(z <= 1) <= 0.85  # nominal 68 %
    assert 0.85 <= np.mean(z <= 2) <= 1.0  # nominal 95 %


def test_log_target_is_chosen_for_positive_minimize_metrics() -> None:
    train, test = split(synthetic(direction=Direction.MINIMIZE))
    srm = SRM(n_draws=10).fit(train)
    assert srm.log_target_
    assert r2_score(test.final_values(), srm.predict_curves(test, 3).mean) > 0.8
    assert not SRM().fit(split(synthetic())[0]).log_target_


def test_target_epoch_predicts_an_earlier_budget() -> None:
    train, test = split(synthetic())
    srm = SRM(n_draws=10).fit(train, target_epoch=6)
    pred = srm.predict_curves(test, 2)
    assert r2_score(test.values[:, 5], pred.mean) > 0.8
    with pytest.raises(ValueError, match=r"tau must be in 1\.\.5"):
        srm.model(6)


def test_fully_observed_curve_is_returned_as_is() -> None:
    train, test = split(synthetic())
    pred = SRM(n_draws=5).fit(train).predict_curves(test, 12)
    np.testing.assert_allclose(pred.mean, test.final_values())


def test_regressor_choices_and_fit_errors() -> None:
    train, _ = split(synthetic())
    for spec in (ols(), nu_svr_linear()):
        assert SRM(regressor=spec, n_draws=5).fit(train).sigma(3) > 0
    with pytest.raises(ValueError, match="at least 6 curves"):
        SRM().fit(train.subset([0, 1, 2]))
    with pytest.raises(ValueError, match="n_draws must be at least 1, got 0"):
        SRM(n_draws=0)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 11)),
                  elements=st.floats(-1e6, 1e6) | st.sampled_from([np.nan, np.inf, -np.inf])))
def test_predictions_finite_and_sigma_positive_for_any_input(partial: np.ndarray) -> None:
    srm = _fitted_srm()
    configs = split(synthetic())[1].configs.iloc[: partial.shape[0]]
    pred = srm.predict(configs, partial)
    assert np.isfinite(pred.mean).all()
    assert (pred.std > 0).all()


_CACHE: dict[str, SRM] = {}


def _fitted_srm() -> SRM:
    if "srm" not in _CACHE:
        _CACHE["srm"] = SRM(n_draws=5).fit(split(synthetic())[0])
    return _CACHE["srm"]


@parametrize_with_checks([TunedRegressor(n_iter=3), TunedRegressor(ols().estimator),
                          TunedRegressor(nu_svr_linear().estimator, n_iter=2, sigma_folds=0)])
def test_tuned_regressor_is_a_scikit_learn_estimator(estimator: object, check: object) -> None:
    check(estimator)  # type: ignore[operator]


def test_paper_metaqnn_r2_at_25_percent(baker2018: Path) -> None:
    """The paper's Table 1, ν-SVR RBF on MetaQNN CIFAR-10: R² 0.942 ± 0.003 at 25 %."""
    from curvecast.datasets.baker2018 import load_baker2018

    cs = load_baker2018(baker2018 / "metaqnn_cifar10.csv")
    r2 = []
    for seed in range(2):
        train, test = split(cs, 100, seed)
        pred = SRM(random_state=seed).fit(train).predict_curves(test, 5)
        r2.append(r2_score(test.final_values(), pred.mean))
    assert np.mean(r2) >= 0.93


def test_feature_group_without_columns_is_a_clear_error_and_skipped_in_experiments() -> None:
    from curvecast.experiments.prediction import PredictionSettings, run_prediction_experiments

    cs = synthetic(n=130)
    constant = CurveSet(values=cs.values, observed=cs.observed, epochs=cs.epochs, metric="m",
                        direction=cs.direction,
                        configs=cs.configs.assign(lr=0.1, width=8))
    with pytest.raises(ValueError, match=r"feature groups \['hp'\] give no columns"):
        SRM(features="hp").fit(constant)
    out = run_prediction_experiments(
        constant, {"srm": lambda groups, seed: SRM(features=groups, n_draws=3)},
        PredictionSettings(repeats=1, fractions=(0.25,), experiments=("table2",)))
    assert {s["features"] for s in out["skipped"]} == {"hp"}
    assert {r["features"] for r in out["results"]} >= {"ts", "ts+ap+hp"}
