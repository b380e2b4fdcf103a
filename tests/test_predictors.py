"""Predictors: SRM and LastSeenValue through the public API, on synthetic and published curves."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import r2_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from curvecast import CurveSet, Direction
from curvecast.predictors import (
    LCE,
    SRM,
    HorizonChain,
    KernelChain,
    LastSeenValue,
    TunedRegressor,
    nu_svr_linear,
    ols,
)
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


def test_what_a_researcher_can_get_wrong_is_refused_not_misread() -> None:
    """A researcher's review: ``predict_curves`` read epochs a run never reached as diverged
    reports (an accuracy of −0.09 predicted for runs heading to 0.84); LastSeenValue took the
    last column of a curve observed past the target where every other predictor takes the
    target's; τ = 0 was an IndexError; ``prob_worse`` refused a direction named as text."""
    from curvecast.predictors import HorizonChain

    train, test = split(synthetic(n=60, epochs=8), n_train=30)
    observed = np.array(test.observed)
    observed[:3, 3:] = False  # three runs stopped after 3 epochs
    stopped = dataclasses.replace(test, observed=observed)
    chain = HorizonChain().fit(train)
    assert chain.predict_curves(stopped, 3).mean.shape == (test.n_configs,)
    with pytest.raises(ValueError, match=r"3 of \d+ configs were not observed for their first 8 "
                                         r"epochs \('"):
        chain.predict_curves(stopped, 8)

    last = LastSeenValue().fit(train, target_epoch=4)
    longer = np.asarray(test.values)[:, :6]
    assert last.predict(test.configs, longer).mean == pytest.approx(longer[:, 3])
    with pytest.raises(ValueError, match=r"tau >= 1, got \(30, 0\)"):
        last.predict(test.configs, longer[:, :0])

    with pytest.raises(RuntimeError, match="call fit"):
        SRM(n_draws=2).predict(test.configs, longer)
    pred = chain.predict_curves(test, 4)
    for name, direction in (("minimize", Direction.MINIMIZE), ("max", Direction.MAXIMIZE)):
        np.testing.assert_array_equal(pred.prob_worse(0.5, name), pred.prob_worse(0.5, direction))


def test_fractional_epochs_are_refused_not_cut() -> None:
    """``CurveSet(epochs=[0.5, 1.5, 2.5])`` stored [0, 1, 2], so the first column became the
    untrained epoch 0 and every predictor dropped it; a long table did the same."""


    from curvecast.curves import CurveSetFormatError

    with pytest.raises(ValueError, match=r"epochs must be whole numbers >= 0 .* got \[0\.5, 1\.5"):
        CurveSet(values=np.zeros((1, 3)), observed=np.ones((1, 3), dtype=bool),
                 epochs=[0.5, 1.5, 2.5], metric="acc", direction=Direction.MAXIMIZE,
                 configs=pd.DataFrame(index=["a"]))
    long = pd.DataFrame({"config_id": ["a", "a"], "epoch": [1.0, 1.5], "value": [0.1, 0.2]})
    with pytest.raises(CurveSetFormatError, match=r"config 'a': field 'epoch': the epoch \(1\.5\) "
                                                  r"is not a whole number in 0\.\."):
        CurveSet.from_long(long, pd.DataFrame(index=["a"]), metric="acc", direction="max")
    long["epoch"] = [1.0, 2.0]  # whole numbers written as floats are fine
    assert CurveSet.from_long(long, pd.DataFrame(index=["a"]), metric="acc",
                              direction="max").epochs.tolist() == [1, 2]


@pytest.mark.parametrize("name", ["chain", "last", "srm"])
def test_a_diverged_run_to_predict_counts_as_the_fitted_curves_diverged_value(name: str) -> None:
    from curvecast.predictors import HorizonChain

    train = synthetic(n=60, seed=3)
    model = {"chain": HorizonChain(), "last": LastSeenValue(), "srm": SRM(n_draws=3)}[name]
    model.fit(train)
    T = train.n_epochs
    partial = np.full((1, T), np.nan)
    partial[0, :3] = [0.80, 0.85, np.nan]  # diverged at its third epoch
    observed = np.zeros((1, T), dtype=bool)
    observed[0, :3] = True
    query = CurveSet(values=partial, observed=observed, epochs=train.epochs, metric=train.metric,
                     direction=train.direction, configs=train.configs.iloc[[0]])
    direct = model.predict(query.configs, partial[:, :3]).mean
    assert model.predict_curves(query, 3).mean == pytest.approx(direct)
    if name == "last":  # the fitted set's worst value, not the query's own (0.80)
        assert direct[0] == pytest.approx(train.diverged_fill)


def test_an_unfitted_last_seen_value_counts_a_diverged_run_as_the_curves_worst() -> None:
    curves = synthetic(n=20, seed=5)
    T = curves.n_epochs
    values = np.array(curves.values)
    values[0, 1] = np.nan  # diverged at its second epoch
    broken = CurveSet(values=values, observed=curves.observed, epochs=curves.epochs,
                      metric=curves.metric, direction=curves.direction, configs=curves.configs)
    pred = LastSeenValue().predict_curves(broken, 2)
    assert pred.mean[0] == pytest.approx(broken.diverged_fill) and np.isfinite(pred.mean).all()
    assert T > 2


def test_values_near_1e160_get_a_finite_sigma_or_a_clear_refusal() -> None:
    """A review (stop 34): rewards near 1e160 gave LastSeenValue σ = inf (the gaps' squares
    overflowed) and crashed a replay with an SRM in scikit-learn ("All the 15 fits failed")."""


    rng = np.random.default_rng(0)
    t = np.arange(1, 11)
    v = rng.uniform(0.5, 0.9, (30, 1)) * (1 - np.exp(-rng.uniform(0.2, 1, (30, 1)) * t))
    configs = pd.DataFrame({"lr": rng.uniform(0, 1, 30)}, index=[f"c{i}" for i in range(30)])
    sigmas = []
    for scale in (1.0, 1e160):
        cs = CurveSet(values=v * scale, observed=np.ones(v.shape, bool), epochs=t,
                      metric="reward", direction="maximize", configs=configs)
        sigmas.append(LastSeenValue().fit(cs).predict_curves(cs, 3).std / scale)
    np.testing.assert_allclose(sigmas[1], sigmas[0], rtol=1e-12)
    with pytest.raises(ValueError, match=r"an SRM cannot fit values as large as 8\.96e"):
        SRM(n_draws=2).fit(cs)


def test_last_seen_value_decides_a_metric_in_small_units_as_in_large_ones() -> None:
    """A review (stop 37): LastSeenValue's std floor was an absolute 1e-6, so the same curves
    in units of 1e-6 or less got σ = 1e-6, as large as the values: every P(worse) was 0.5 and
    a PredictiveStopper(predictor=LastSeenValue()) replay stopped nothing."""
    rng = np.random.default_rng(0)
    t = np.arange(1, 11)
    v = rng.uniform(0.5, 0.9, (30, 1)) * (1 - np.exp(-rng.uniform(0.2, 1, (30, 1)) * t))
    configs = pd.DataFrame({"lr": rng.uniform(0, 1, 30)}, index=[f"c{i}" for i in range(30)])
    probabilities = []
    for scale in (1.0, 1e-6, 1e-9):
        cs = CurveSet(values=v * scale, observed=np.ones(v.shape, bool), epochs=t,
                      metric="reward", direction="maximize", configs=configs)
        prediction = LastSeenValue().fit(cs).predict_curves(cs, 3)
        probabilities.append(prediction.prob_worse(float(cs.final_values().max()), "maximize"))
    np.testing.assert_allclose(probabilities[1], probabilities[0], atol=1e-9)
    np.testing.assert_allclose(probabilities[2], probabilities[0], atol=1e-9)
    assert probabilities[0].max() > 0.99


def test_srm_sigma_stays_finite_when_one_logged_loss_blew_up() -> None:
    """A review (stop 37): a loss (modelled on the log scale) with one run that blew up to a
    finite 1e200 gave the SRM σ = inf at every τ (its out-of-fold residuals in metric units
    squared to inf), and a Prediction reads an infinite σ as a point mass (P(worse) 0 or 1)."""
    rng = np.random.default_rng(0)
    t = np.arange(1, 11)
    v = rng.uniform(1, 3, (40, 1)) + 3 * np.exp(-t / 3) + rng.normal(0, 0.02, (40, 10))
    v[7, 6:] = [1e10, 1e80, 1e160, 1e200]
    configs = pd.DataFrame({"lr": rng.uniform(0, 1, 40)}, index=[f"c{i}" for i in range(40)])
    cs = CurveSet(values=v, observed=np.ones(v.shape, bool), epochs=t, metric="loss",
                  direction="minimize", configs=configs)
    prediction = SRM(n_draws=2).fit(cs).predict_curves(cs.subset(np.arange(8, 12)), 4)
    assert np.all(np.isfinite(prediction.std))


def test_every_predictor_reads_partial_curves_and_configs_alike() -> None:
    """A review (stop 34): a 3-D ``partial`` raised numpy's error in the chains, an empty one
    scikit-learn's in the SRM, and ``predict(None, …)`` a TypeError in the SRM and KernelChain
    (the HorizonChain took None as "every config at the fitted mean")."""
    train, test = split(synthetic(n=120, seed=1), n_train=80)
    for predictor in (HorizonChain(), KernelChain(min_finished=10), SRM(n_draws=3),
                      LastSeenValue(), LCE.fast()):  # LCE: stop 35's review
        fitted = predictor.fit(train)
        with pytest.raises(ValueError, match=r"partial must have shape \(n, tau\)"):
            fitted.predict(test.configs, test.values[:, :2][None])
        empty = fitted.predict(test.configs.iloc[:0], test.values[:0, :2])
        assert empty.mean.shape == empty.std.shape == (0,)
        blind = fitted.predict(None, test.values[:3, :2])  # type: ignore[arg-type]
        same = fitted.predict(pd.DataFrame(index=range(3)), test.values[:3, :2])
        np.testing.assert_allclose(blind.mean, same.mean)
        assert np.all(np.isfinite(blind.mean))


def _every_predictor() -> list[Any]:
    out: list[Any] = [HorizonChain(), KernelChain(min_finished=10), SRM(n_draws=3),
                      LastSeenValue(), LCE.fast()]
    try:
        import torch  # noqa: F401

        from curvecast.predictors import BNN
    except ImportError:  # the torch extra is optional
        return out
    return [*out, BNN(n_members=2, epochs=5, random_state=0)]


def test_a_config_table_of_another_length_and_curves_past_the_target() -> None:
    """A review (stop 36): the HorizonChain and LastSeenValue took a config table of 3 rows
    for 2 curves without a word, the BNN refused ``predict(None, …)`` and 3-D input with a
    TypeError/unpacking error, and the LCE alone refused a curve observed past the target
    epoch (the others give the value there)."""
    train, test = split(synthetic(n=120, seed=1), n_train=80)
    for predictor in _every_predictor():
        fitted = predictor.fit(train)
        with pytest.raises(ValueError, match="3 config rows but 2 partial curves"):
            fitted.predict(test.configs.iloc[:3], test.values[:2, :3])
        with pytest.raises(ValueError, match=r"partial must have shape \(n, tau\)"):
            fitted.predict(test.configs.iloc[:2], np.zeros((2, 3, 1)))
        blind = fitted.predict(None, test.values[:2, :3])
        assert blind.mean.shape == (2,) and np.all(np.isfinite(blind.mean)), predictor
        longer = np.hstack([test.values[:2], test.values[:2]])  # twice the target's epochs
        seen = fitted.predict(test.configs.iloc[:2], longer)
        np.testing.assert_allclose(seen.mean, test.values[:2, -1], err_msg=repr(predictor))


@pytest.mark.parametrize("make", [HorizonChain, KernelChain, lambda: SRM(n_draws=2),
                                  LastSeenValue, LCE.fast])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_curves_that_all_diverged_are_refused_at_fit(make: Any, bad: float) -> None:
    """A review (stop 35): fitted on curves whose every value is NaN (or inf) with no stated
    diverged value, the chains predicted NaN means and σ without a word and the SRM raised
    scikit-learn's error; the stopper refuses such a prior by the same test."""
    values = np.full((8, 5), bad)
    curves = CurveSet(values=values, observed=np.ones((8, 5), dtype=bool),
                      epochs=np.arange(1, 6), metric="m", direction="max",
                      configs=pd.DataFrame({"x": np.arange(8.0)},
                                           index=[f"c{i}" for i in range(8)]))
    predictor = make()
    with pytest.raises(ValueError, match=f"{type(predictor).__name__}: every observed m value "
                                         r"of the 8 curves is NaN or ±inf .* nothing to learn"):
        predictor.fit(curves)
    stated = CurveSet(values=values, observed=curves.observed, epochs=curves.epochs, metric="m",
                      direction="max", configs=curves.configs, diverged_value=0.0)
    if not isinstance(predictor, SRM):  # a stated value is something to go from
        make().fit(stated)


@pytest.mark.parametrize("unit", [1e-16, 1e-13, 1.0])
def test_the_srm_sigma_scales_with_a_metric_in_tiny_units(unit: float) -> None:
    """A review (stop 36): the SRM's residual σ had an absolute floor of 1e-12, so a metric in
    units of 1e-13 got σ ten times its values (1e-16: ten thousand times); the chain's was made
    relative at stop 34."""
    train, test = split(synthetic(n=60, seed=4), n_train=40)
    got = [SRM(n_draws=2, random_state=0).fit(dataclasses.replace(
               c, values=c.values * s)).predict_curves(dataclasses.replace(
               test, values=test.values * s), 3) for c, s in ((train, 1.0), (train, unit))]
    np.testing.assert_allclose(got[1].mean / unit, got[0].mean, rtol=1e-6)
    np.testing.assert_allclose(got[1].std / unit, got[0].std, rtol=1e-6)
    seen = SRM(n_draws=2).fit(dataclasses.replace(train, values=train.values * unit)).predict(
        None, test.values[:2] * unit)  # the target already observed
    assert np.all(seen.std <= 1e-9 * np.abs(seen.mean))


def test_last_seen_value_s_floor_is_not_set_by_one_early_outlier() -> None:
    """The relative σ floor is the size of what is predicted: one run's finite first loss of
    1e12 made it 1e6 for losses of 0.01 (every P(worse) 0.5, nothing stopped)."""
    import pandas as pd

    from curvecast.curves import CurveSet
    from curvecast.predictors import LastSeenValue

    t = np.arange(1, 11)
    finals = np.linspace(0.01, 0.02, 12)
    values = finals[:, None] + 0.05 * np.exp(-t[None, :] / 2)
    clean = LastSeenValue().fit(CurveSet(
        values=values, observed=np.ones(values.shape, bool), epochs=t, metric="loss",
        direction="minimize", configs=pd.DataFrame(index=[f"c{i}" for i in range(12)])))
    values[0, 0] = 1e12
    spiked = LastSeenValue().fit(CurveSet(
        values=values, observed=np.ones(values.shape, bool), epochs=t, metric="loss",
        direction="minimize", configs=pd.DataFrame(index=[f"c{i}" for i in range(12)])))
    want = clean.predict(None, values[1:2, :5]).std
    assert want[0] < 0.01
    np.testing.assert_allclose(spiked.predict(None, values[1:2, :5]).std, want)
