"""Every registered predictor: a finite positive σ, bounded predictions, minimising mirrors
maximising, diverged (NaN) values in the curves it learns from and predicts from."""

from __future__ import annotations

import math

import numpy as np
import pytest

from curvecast import CurveSet, Direction
from curvecast.predictors import Predictor
from curvecast.registry import PREDICTORS, SLOW_PREDICTORS, Settings, build_predictor
from synthetic_curves import split, synthetic

#: τ at which predictions are checked (of 10 epochs).
TAU = 4


#: Known failures of a check (xfail, strict: a fix makes the suite fail until it is removed).
KNOWN: dict[tuple[str, str], str] = {}


def names(check: str) -> list[object]:
    """Every registered predictor, a known failure of ``check`` marked xfail(strict)."""
    return [pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN[check, n], strict=True))
            if (check, n) in KNOWN else n for n in sorted(PREDICTORS)]


def make(name: str) -> Predictor:
    """The registered predictor, with few model-selection draws (fast)."""
    return build_predictor(Settings(predictor=name, draws=3, seed=0))


def _negated(cs: CurveSet) -> CurveSet:
    return CurveSet(values=-cs.values, observed=cs.observed, epochs=cs.epochs, metric=cs.metric,
                    direction=Direction.MINIMIZE, configs=cs.configs)


@pytest.fixture(scope="module")
def sets() -> tuple[CurveSet, CurveSet]:
    return split(synthetic(n=40, epochs=10, seed=3), n_train=30, seed=0)


@pytest.fixture
def data(name: str, sets: tuple[CurveSet, CurveSet]) -> tuple[CurveSet, CurveSet]:
    """30 training curves and 10 to predict (1 for a slow predictor: LCE's MCMC per curve)."""
    train, test = sets
    return (train, test.subset([0])) if name in SLOW_PREDICTORS else (train, test)


@pytest.mark.parametrize("name", names("sigma"))
def test_sigma_is_finite_and_positive_and_predictions_bounded(
        name: str, data: tuple[CurveSet, CurveSet]) -> None:
    train, test = data
    pred = make(name).fit(train).predict_curves(test, TAU)
    assert pred.mean.shape == pred.std.shape == (test.n_configs,)
    assert np.all(np.isfinite(pred.mean)), pred.mean
    assert np.all(np.isfinite(pred.std)) and np.all(pred.std > 0), pred.std
    lo, hi = float(np.min(train.values)), float(np.max(train.values))
    span = hi - lo  # the curves run 0.2..0.9: a prediction far outside is unbounded
    assert np.all((pred.mean >= lo - span) & (pred.mean <= hi + span)), (lo, hi, pred.mean)


@pytest.mark.parametrize("name", names("mirror"))
def test_minimising_mirrors_maximising(name: str, data: tuple[CurveSet, CurveSet]) -> None:
    train, test = data
    up = make(name).fit(train).predict_curves(test, TAU)
    down = make(name).fit(_negated(train)).predict_curves(_negated(test), TAU)
    scale = float(np.ptp(train.values))
    np.testing.assert_allclose(-down.mean, up.mean, atol=0.05 * scale)
    np.testing.assert_allclose(down.std, up.std, rtol=0.5, atol=0.02 * scale)


@pytest.mark.parametrize("name", names("nan"))
def test_diverged_values_count_as_the_worst(name: str, data: tuple[CurveSet, CurveSet]) -> None:
    train, test = data
    values = train.values.copy()
    values[0, 5:] = np.nan  # a run that diverged at epoch 6: observed NaN, the worst value
    diverged = CurveSet(values=values, observed=train.observed, epochs=train.epochs,
                        metric=train.metric, direction=train.direction, configs=train.configs)
    model = make(name).fit(diverged)
    partial = test.values[:, :TAU].copy()
    partial[0, -1] = math.nan
    pred = model.predict(test.configs, partial)
    assert np.all(np.isfinite(pred.mean)) and np.all(np.isfinite(pred.std))
    assert np.all(pred.std > 0)
