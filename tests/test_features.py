"""Featurizer: TS / AP / HP groups, names, diverged values, minimize metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from curvecast import CurveSet, Direction
from curvecast.features import Featurizer, groups_label, parse_groups
from synthetic_curves import synthetic


def curves(direction: Direction = Direction.MAXIMIZE, provenance: dict | None = None) -> CurveSet:
    values = np.array([[0.1, 0.3, 0.6, 0.7], [0.2, 0.25, 0.27, 0.3], [0.05, np.nan, np.nan, np.nan]])
    configs = pd.DataFrame({"lr": [1e-4, 1e-2, 1e-1], "momentum": [0.9, 0.5, 0.0],
                            "schedule": ["step", "cosine", "step"],
                            "n_params": [1000, 50_000, 2_000_000], "n_layers": [2, 4, 8],
                            "net": ["a", "b", "c"]}, index=["a", "b", "c"])
    return CurveSet(values=values, observed=np.ones_like(values, dtype=bool),
                    epochs=np.arange(1, 5), metric="acc", direction=direction, configs=configs,
                    provenance=provenance or {})


def test_ts_features_are_values_and_differences() -> None:
    cs = curves()
    f = Featurizer(groups=frozenset({"ts"})).fit(cs)
    X = f.transform_curves(cs, 3)
    assert f.feature_names(3) == ["y1", "y2", "y3", "dy2", "dy3", "ddy3"]
    np.testing.assert_allclose(X[0], [0.1, 0.3, 0.6, 0.2, 0.3, 0.1])
    # diverged values (NaN after epoch 1) count as the worst value seen, 0.05
    np.testing.assert_allclose(X[2], [0.05, 0.05, 0.05, 0, 0, 0])


def test_ap_and_hp_groups_encode_log_scale_and_one_hot() -> None:
    cs = curves()
    f = Featurizer().fit(cs)
    names = f.feature_names(2)
    assert names[3:] == ["log10_n_params", "n_layers", "log10_lr", "momentum",
                         "schedule=cosine", "schedule=step"]
    X = f.transform_curves(cs, 2)
    assert X.shape == (3, len(names))
    np.testing.assert_allclose(X[1, 3:], [np.log10(50_000), 4, -2, 0.5, 1, 0])


def test_declared_columns_win_over_guessing() -> None:
    cs = curves(provenance={"columns": {"architecture": ["n_params"],
                                        "hyperparameters": ["lr"]}})
    f = Featurizer(groups=frozenset({"ap", "hp"})).fit(cs)
    assert f.feature_names(1) == ["log10_n_params", "log10_lr"]


def test_minimize_metrics_fill_diverged_with_the_largest_value() -> None:
    cs = curves(Direction.MINIMIZE)
    f = Featurizer(groups=frozenset({"ts"})).fit(cs)
    assert f.transform_curves(cs, 2)[2, 1] == pytest.approx(0.7)


def test_group_parsing() -> None:
    assert parse_groups("ts+ap") == {"ts", "ap"}
    assert groups_label({"hp", "ts"}) == "ts+hp"
    with pytest.raises(ValueError, match="'ts,xx'"):
        parse_groups("ts,xx")


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=32)))
def test_features_are_finite_for_any_partial_curve(partial: np.ndarray) -> None:
    cs = curves()
    f = Featurizer(groups=frozenset({"ts"})).fit(cs)
    X = f.transform(pd.DataFrame(index=range(partial.shape[0])), partial)
    assert X.shape == (partial.shape[0], len(f.feature_names(partial.shape[1])))
    assert np.isfinite(X).all()


def test_last_row_cache_keeps_an_encoding_while_the_row_is_the_same() -> None:
    from curvecast.predictors.study_configs import LastRowCache

    calls: list[list[object]] = []

    def encode(table: pd.DataFrame, row: list[object]) -> np.ndarray:
        calls.append(row)
        return np.array([[float(len(calls))]])

    cache = LastRowCache()
    nan_row = pd.DataFrame({"lr": [float("nan")], "opt": ["adam"]})
    assert cache.get(nan_row, encode)[0, 0] == 1.0
    assert cache.get(nan_row.copy(), encode)[0, 0] == 1.0  # NaN counts as the same value
    assert cache.get(pd.DataFrame({"lr": [0.1], "opt": ["adam"]}), encode)[0, 0] == 2.0
    assert cache.get(pd.DataFrame({"rate": [0.1], "opt": ["adam"]}), encode)[0, 0] == 3.0
    listed = pd.DataFrame({"layers": [[64, 32]]})
    assert cache.get(listed, encode)[0, 0] == 4.0
    assert cache.get(pd.DataFrame({"layers": [[64, 32]]}), encode)[0, 0] == 4.0
    assert cache.get(pd.DataFrame({"layers": [[64, 16]]}), encode)[0, 0] == 5.0
    arrays = pd.DataFrame({"w": [np.ones(2)]})
    assert cache.get(arrays, encode)[0, 0] == 6.0
    assert cache.get(pd.DataFrame({"w": [np.ones(2)]}), encode)[0, 0] == 7.0  # not one bool
    assert len(calls) == 7


def test_a_missing_config_value_counts_as_the_fitted_mean() -> None:
    """A conditional hyperparameter a config lacks (NaN), a column the rows do not have and a
    number a log column cannot take are the column's mean over the fitted table, so regressors
    that refuse NaN (the SRM's scikit-learn pipeline) get numbers."""
    cs = curves()
    configs = cs.configs.copy()
    configs.loc["b", "momentum"] = np.nan  # fitted on a table with a hole
    cs = CurveSet(values=cs.values, observed=cs.observed, epochs=cs.epochs, metric="acc",
                  direction=cs.direction, configs=configs)
    f = Featurizer(groups=frozenset({"hp", "ap"})).fit(cs)
    names = f.feature_names(1)
    X = f.transform_curves(cs, 1)
    assert np.isfinite(X).all()
    momentum = names.index("momentum")
    assert X[1, momentum] == pytest.approx((0.9 + 0.0) / 2)  # the mean of the known values
    query = pd.DataFrame({"lr": [0.0], "schedule": ["step"], "n_params": [5000]})  # no momentum
    Q = f.transform(query, np.zeros((1, 0)))
    assert Q[0, momentum] == pytest.approx(0.45)
    lr = names.index("log10_lr")  # log10(0) cannot be taken: the mean of log10(lr)
    assert Q[0, lr] == pytest.approx(np.mean(np.log10([1e-4, 1e-2, 1e-1])))
    assert Q[0, names.index("log10_n_params")] == pytest.approx(np.log10(5000))
    assert Q[0, names.index("n_layers")] == pytest.approx(np.mean([2, 4, 8]))
    # a review (stop 34): a missing or unseen level of a one-hot column was all zeros, not the
    # column's mean as documented (and as HorizonChain's ConfigInputs counts it)
    onehot = [i for i, n in enumerate(names) if n.startswith("schedule=")]
    for schedule in (np.nan, None, "a level never seen"):
        row = f.transform(query.assign(schedule=[schedule]), np.zeros((1, 0)))[0, onehot]
        np.testing.assert_allclose(row, f.config_means_[[i - (len(names) - len(
            f.config_means_)) for i in onehot]])
        assert row.sum() == pytest.approx(1.0)


def test_an_srm_fits_and_predicts_with_missing_config_values() -> None:
    from curvecast.predictors import SRM
    from synthetic_curves import synthetic

    cs = synthetic(n=40, epochs=6)
    lr0 = float(cs.configs.iloc[0, 0])
    configs = cs.configs.copy()
    configs.iloc[::5, 0] = np.nan
    cs = CurveSet(values=cs.values, observed=cs.observed, epochs=cs.epochs, metric=cs.metric,
                  direction=cs.direction, configs=configs)
    model = SRM(n_draws=3).fit(cs)
    prediction = model.predict(configs.iloc[:4], cs.values[:4, :2])
    assert np.isfinite(prediction.mean).all() and np.isfinite(prediction.std).all()
    # row 0 lacks its lr: it is predicted as with the fitted table's mean of log10(lr) (lr is
    # a log column), and that is not what the row's own lr gives
    known = configs["lr"].dropna()
    as_mean = configs.iloc[:4].copy()
    as_mean.iloc[0, 0] = 10 ** np.mean(np.log10(known))
    np.testing.assert_allclose(model.predict(as_mean, cs.values[:4, :2]).mean, prediction.mean)
    own = configs.iloc[:4].copy()
    own.iloc[0, 0] = lr0
    assert model.predict(own, cs.values[:4, :2]).mean[0] != pytest.approx(prediction.mean[0])


def test_pandas_nullable_dtypes_encode_as_plain_ones() -> None:
    """A review (stop 35): a text column of pandas' "string" dtype (``convert_dtypes()``, a
    common idiom) holds ``pd.NA`` for a missing value, whose comparison with a level is NA and
    whose truth is an error: every predictor crashed, the default rule once 50 runs had finished
    (when its links start to read the configs).  Nullable dtypes now encode as the plain ones."""
    import dataclasses

    from curvecast.predictors import SRM, HorizonChain

    curves = synthetic(80, 10)
    configs = curves.configs.copy()
    configs["optimizer"] = np.where(np.arange(80) % 7 == 0, None,
                                    np.where(np.arange(80) % 2 == 0, "adam", "sgd"))
    plain = dataclasses.replace(curves, configs=configs)
    nullable = dataclasses.replace(curves, configs=configs.convert_dtypes())
    assert str(nullable.configs["optimizer"].dtype).startswith("string")
    partial = curves.values[:6, :4]
    for predictor in (HorizonChain(), SRM(n_draws=2)):
        want = predictor.fit(plain).predict(plain.configs.iloc[:6], partial)
        got = predictor.fit(nullable).predict(nullable.configs.iloc[:6], partial)
        np.testing.assert_allclose(got.mean, want.mean, rtol=1e-12)
        np.testing.assert_allclose(got.std, want.std, rtol=1e-12)
