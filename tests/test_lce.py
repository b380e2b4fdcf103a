"""LCE (Domhan et al. 2015) through the public API: extrapolation, determinism, robustness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from curvecast import CurveSet, Direction
from curvecast.predictors import LCE

EPOCHS = 20


def pow_law(n: int = 4, seed: int = 0, direction: Direction = Direction.MAXIMIZE,
            noise: float = 0.002) -> CurveSet:
    """Curves y_t = c − a·t^(−α) + noise (accuracy-like), or perplexity-like 60 + 400·t^(−α)."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, EPOCHS + 1, dtype=np.float64)
    alpha = rng.uniform(0.5, 1.0, n)[:, None]
    if direction is Direction.MAXIMIZE:
        c = rng.uniform(0.6, 0.9, n)[:, None]
        a = rng.uniform(0.3, 0.5, n)[:, None]
        values = c - a * t[None, :] ** (-alpha) + rng.normal(0, noise, (n, EPOCHS))
    else:
        floor = rng.uniform(60, 90, n)[:, None]
        values = floor + 400 * t[None, :] ** (-alpha) + rng.normal(0, 100 * noise, (n, EPOCHS))
    configs = pd.DataFrame({"width": np.arange(n)}, index=[f"c{i}" for i in range(n)])
    return CurveSet(values=values, observed=np.ones_like(values, dtype=bool), epochs=t.astype(int),
                    metric="acc" if direction is Direction.MAXIMIZE else "ppl",
                    direction=direction, configs=configs)


def test_extrapolates_power_law_curves_close_to_the_truth() -> None:
    cs = pow_law()
    pred = LCE.fast(random_state=0).fit(cs).predict_curves(cs, 10)
    truth = cs.final_values()
    error = np.abs(pred.mean - truth)
    assert np.all(error < 0.05), (pred.mean, truth)
    # much closer than the last value seen, and the truth within 3 std
    assert error.mean() < 0.5 * np.abs(cs.values[:, 9] - truth).mean()
    assert np.all(error < 3 * pred.std)


def test_minimize_metric_extrapolates_downwards() -> None:
    cs = pow_law(direction=Direction.MINIMIZE)
    pred = LCE.fast(random_state=0).fit(cs).predict_curves(cs, 10)
    truth = cs.final_values()
    last = cs.values[:, 9]
    assert np.all(np.isfinite(pred.mean)) and np.all(pred.std > 0)
    assert np.all(pred.mean < last)  # perplexity keeps falling
    assert np.abs(pred.mean - truth).mean() < 0.5 * np.abs(last - truth).mean()


def test_deterministic_under_seed_and_independent_of_the_batch() -> None:
    cs = pow_law(n=3, seed=1)
    partial = cs.values[:, :6]
    a = LCE.fast(random_state=3).fit(cs).predict(cs.configs, partial)
    b = LCE.fast(random_state=3).fit(cs).predict(cs.configs, partial)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.std, b.std)
    one = LCE.fast(random_state=3).fit(cs).predict(cs.configs.iloc[[1]], partial[[1]])
    assert one.mean[0] == a.mean[1] and one.std[0] == a.std[1]
    c = LCE.fast(random_state=4).fit(cs).predict(cs.configs, partial)
    assert not np.array_equal(a.mean, c.mean)


def test_short_curves_fall_back_to_the_last_value_with_a_wide_std() -> None:
    cs = pow_law(n=2)
    model = LCE.fast().fit(cs)
    for tau in (1, 2):
        pred = model.predict_curves(cs, tau)
        np.testing.assert_array_equal(pred.mean, cs.values[:, tau - 1])
        np.testing.assert_allclose(pred.std, 1 / np.sqrt(12))  # accuracies: the unit range


def test_constant_curve_and_observed_target() -> None:
    cs = pow_law(n=1)
    model = LCE.fast().fit(cs)
    pred = model.predict(cs.configs, np.full((1, 6), 0.5))
    assert abs(pred.mean[0] - 0.5) < 0.1 and 0 < pred.std[0] < np.inf
    full = model.predict(cs.configs, cs.values)
    assert full.mean[0] == cs.values[0, -1] and full.std[0] > 0
    at5 = LCE.fast().fit(cs, target_epoch=5).predict(cs.configs, cs.values[:, :5])
    assert at5.mean[0] == cs.values[0, 4]


@settings(max_examples=8, deadline=None, derandomize=True)
@given(hnp.arrays(np.float64, st.integers(1, 6),
                  elements=st.one_of(st.floats(-2.0, 2.0),
                                     st.sampled_from([np.nan, np.inf, -np.inf]))))
def test_std_finite_and_positive_for_any_partial_curve(row: np.ndarray) -> None:
    cs = pow_law(n=1)
    pred = LCE.fast().fit(cs).predict(cs.configs, row[None, :])
    assert np.isfinite(pred.mean[0])
    assert np.isfinite(pred.std[0]) and pred.std[0] > 0


def test_diverged_values_count_as_the_diverged_fill() -> None:
    cs = pow_law(n=1)
    model = LCE.fast().fit(cs)
    row = np.array([[0.3, 0.4, np.nan, np.inf, -np.inf]])
    filled = row.copy()
    filled[0, 2:] = cs.diverged_fill
    a, b = model.predict(cs.configs, row), model.predict(cs.configs, filled)
    assert a.mean[0] == b.mean[0] and a.std[0] == b.std[0]


@pytest.mark.parametrize("kwargs", [{"n_walkers": 1}, {"n_steps": 0}, {"thin": 0},
                                    {"burn_in": -1}, {"burn_in": 10, "n_steps": 10},
                                    {"random_state": -1}, {"n_steps": 2.5}])
def test_bad_arguments_raise_value_error_naming_the_value(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=str(list(kwargs.values())[0])):
        LCE(**kwargs)  # type: ignore[arg-type]


def test_predict_checks_its_inputs() -> None:
    cs = pow_law(n=2)
    with pytest.raises(RuntimeError, match="fit"):
        LCE.fast().predict(cs.configs, cs.values[:, :5])
    model = LCE.fast().fit(cs)
    with pytest.raises(ValueError, match="rows"):
        model.predict(cs.configs.iloc[:1], cs.values[:, :5])
    with pytest.raises(ValueError, match="columns"):
        model.predict(cs.configs, np.zeros((2, EPOCHS + 1)))
