"""BNN (deep-ensemble LC-Net baseline) through the public API, on synthetic saturating curves."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score

from curvecast import CurveSet, Direction
from curvecast.predictors import BNN, LastSeenValue
from synthetic_curves import split, synthetic

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def fitted() -> tuple[BNN, CurveSet, CurveSet]:
    train, test = split(synthetic())
    return BNN(random_state=0).fit(train), train, test


def test_bnn_beats_last_seen_value_on_saturating_curves(
        fitted: tuple[BNN, CurveSet, CurveSet]) -> None:
    bnn, train, test = fitted
    last = LastSeenValue().fit(train)
    truth = test.final_values()
    for tau in (2, 3, 6):
        r2_bnn = r2_score(truth, bnn.predict_curves(test, tau).mean)
        r2_last = r2_score(truth, last.predict_curves(test, tau).mean)
        assert r2_bnn > 0.95, tau
        assert r2_bnn > r2_last + 0.3, tau


def test_uncertainty_is_positive_finite_and_roughly_calibrated(
        fitted: tuple[BNN, CurveSet, CurveSet]) -> None:
    bnn, _, test = fitted
    pred = bnn.predict_curves(test, 4)
    assert np.all(np.isfinite(pred.std)) and np.all(pred.std > 0)
    z = np.abs(test.final_values() - pred.mean) / pred.std
    assert 0.5 <= np.mean(z <= 1) <= 0.85  # nominal 68 %
    assert np.mean(z <= 2) >= 0.85  # nominal 95 %


def test_same_seed_same_predictions_other_seed_differs() -> None:
    train, test = split(synthetic(n=60), n_train=40)
    a = BNN(n_members=2, epochs=30, random_state=3).fit(train).predict_curves(test, 3)
    b = BNN(n_members=2, epochs=30, random_state=3).fit(train).predict_curves(test, 3)
    c = BNN(n_members=2, epochs=30, random_state=4).fit(train).predict_curves(test, 3)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.std, b.std)
    assert not np.allclose(a.mean, c.mean)


def test_fit_leaves_global_torch_state_alone() -> None:
    train, _ = split(synthetic(n=30), n_train=20)
    threads = torch.get_num_threads()
    state = torch.random.get_rng_state()
    BNN(n_members=2, epochs=5).fit(train)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), state)


def test_nan_and_inf_partial_curves_get_finite_positive_std(
        fitted: tuple[BNN, CurveSet, CurveSet]) -> None:
    bnn, train, test = fitted
    configs = test.configs.iloc[:4]
    partial = np.array([[np.nan, np.nan, np.nan], [0.3, np.inf, -np.inf],
                        [np.nan, 0.5, 0.6], [1e300, -1e300, 0.0]])
    pred = bnn.predict(configs, partial)
    assert np.all(np.isfinite(pred.mean))
    assert np.all(np.isfinite(pred.std)) and np.all(pred.std > 0)
    # A diverged entry counts as the worst value of the training curves (accuracy: their
    # lowest): the same as passing that value explicitly.
    worst = float(np.nanmin(train.values[train.observed]))
    filled = np.where(np.isfinite(partial), partial, worst)
    np.testing.assert_allclose(bnn.predict(configs, filled).mean, pred.mean)


def test_minimize_metric_uses_log_target_and_predicts_well() -> None:
    train, test = split(synthetic(direction=Direction.MINIMIZE))
    bnn = BNN(random_state=0).fit(train)
    assert bnn.log_target_
    pred = bnn.predict_curves(test, 3)
    assert r2_score(test.final_values(), pred.mean) > 0.8
    assert np.all(pred.mean > 0) and np.all(np.isfinite(pred.std)) and np.all(pred.std > 0)
    bad = np.full((2, 3), np.nan)
    nan_pred = bnn.predict(test.configs.iloc[:2], bad)
    assert np.all(np.isfinite(nan_pred.std)) and np.all(nan_pred.std > 0)


def test_target_epoch_and_observed_target(fitted: tuple[BNN, CurveSet, CurveSet]) -> None:
    bnn, _, test = fitted
    full = bnn.predict_curves(test, test.n_epochs)  # the target is already seen
    np.testing.assert_array_equal(full.mean, test.final_values())
    assert np.all(full.std > 0)
    train, test = split(synthetic())
    early = BNN(n_members=2, epochs=60).fit(train, target_epoch=6)
    assert early.target_col_ == 5
    assert r2_score(test.values[:, 5], early.predict_curves(test, 2).mean) > 0.7


def test_feature_groups_without_ts_predict_from_config_only() -> None:
    train, test = split(synthetic())
    bnn = BNN(n_members=2, epochs=60, features=["ap", "hp"]).fit(train)
    a = bnn.predict_curves(test, 2).mean
    b = bnn.predict_curves(test, 6).mean
    np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("kwargs", [{"n_members": 0}, {"hidden": ()}, {"hidden": 0},
                                    {"epochs": 0}, {"lr": 0.0}, {"weight_decay": -1.0},
                                    {"batch_size": 0}, {"features": "xx"}])
def test_bad_arguments_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BNN(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"n_members": 2.5}, {"epochs": 2.5}, {"batch_size": 2.5},
                                    {"random_state": -1}, {"random_state": 1.5},
                                    {"hidden": "ab"}, {"hidden": (8, 2.5)},
                                    {"weight_decay": float("nan")}])
def test_arguments_that_failed_only_in_fit_are_refused_at_once(kwargs: dict[str, object]) -> None:
    # before: accepted, then fit raised numpy's or torch's TypeError/ValueError (or AdamW's)
    # without naming the argument
    name, value = next(iter(kwargs.items()))
    with pytest.raises(ValueError, match=f"{name} .*{re.escape(repr(value))}"):
        BNN(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("hidden", [8.0, None])
def test_a_hidden_that_is_not_widths_is_refused_naming_it(hidden: object) -> None:
    # before: tuple(8.0) raised "'float' object is not iterable", not naming hidden
    with pytest.raises(ValueError, match="hidden must be positive layer widths"):
        BNN(hidden=hidden)  # type: ignore[arg-type]


@pytest.mark.parametrize("hidden", [np.int64(8), np.array([8, 4]), [np.int64(8)]])
def test_numpy_widths_are_taken_as_the_counts_are(hidden: object) -> None:
    # n_members, epochs, batch_size take NumPy integers; one NumPy width raised a TypeError
    assert BNN(hidden=hidden).hidden == tuple(int(w) for w in np.atleast_1d(hidden))  # type: ignore[arg-type]


def test_predict_before_fit_raises() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        BNN().predict(pd.DataFrame({"a": [1.0]}), np.ones((1, 2)))


def test_importing_predictors_does_not_import_torch() -> None:
    code = "import sys, curvecast.predictors; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_metric_in_tiny_units_is_predicted_as_in_its_own_and_a_huge_one_refused() -> None:
    """A review (stop 36): at values x 1e-20 the BNN's absolute spread floor of 1e-12 squashed
    the targets onto their mean (predictions off by 3e-15 against values near 6e-21), and at
    x 1e160 its squares overflowed to a mean of -inf, silently; the SRM refused such values."""
    import dataclasses

    train, test = split(synthetic(n=60, seed=4), n_train=40)
    base = BNN(n_members=2, epochs=30, random_state=0).fit(train).predict_curves(test, 3)
    tiny = BNN(n_members=2, epochs=30, random_state=0).fit(
        dataclasses.replace(train, values=train.values * 1e-20)).predict_curves(
        dataclasses.replace(test, values=test.values * 1e-20), 3)
    np.testing.assert_allclose(tiny.mean / 1e-20, base.mean, rtol=1e-9)
    np.testing.assert_allclose(tiny.std / 1e-20, base.std, rtol=1e-9)
    with pytest.raises(ValueError, match="cannot fit values as large as"):
        BNN(n_members=2, epochs=5).fit(dataclasses.replace(train, values=train.values * 1e160))
