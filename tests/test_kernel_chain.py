"""KernelChain: the chain's prediction corrected from the whole partial curve and the config."""

from __future__ import annotations

import numpy as np
import pytest

from curvecast import CurveSet, Direction
from curvecast.predictors import HorizonChain, KernelChain
from curvecast.registry import Settings, build_predictor
from synthetic_curves import split, synthetic


def _r2(truth: np.ndarray, mean: np.ndarray) -> float:
    return float(1 - np.sum((truth - mean) ** 2) / np.sum((truth - truth.mean()) ** 2))


@pytest.fixture(scope="module")
def sets() -> tuple[CurveSet, CurveSet]:
    """150 saturating curves whose final value depends on the learning rate (a parabola in
    log lr) far more than on their first epochs."""
    return split(synthetic(n=150, epochs=12, seed=1), n_train=100, seed=0)


def test_the_config_lifts_r2_where_the_chain_cannot_see_it(sets: tuple[CurveSet, CurveSet]
                                                             ) -> None:
    train, test = sets
    truth = test.values[:, -1]
    chain = _r2(truth, HorizonChain().fit(train).predict_curves(test, 2).mean)
    kernel = _r2(truth, KernelChain().fit(train).predict_curves(test, 2).mean)
    curve_only = _r2(truth, KernelChain(features="ts").fit(train).predict_curves(test, 2).mean)
    assert chain == pytest.approx(0.747, abs=0.01)
    assert kernel == pytest.approx(0.985, abs=0.005)  # the learning rate sets the final value
    assert curve_only == pytest.approx(chain, abs=0.03)  # without it, nothing much to correct


def test_sigma_covers_the_errors_and_means_stay_in_the_bound(sets: tuple[CurveSet, CurveSet]
                                                             ) -> None:
    train, test = sets
    model = KernelChain(chain=HorizonChain(tail="both")).fit(train)
    pred = model.predict_curves(test, 3)
    inside = np.abs(test.values[:, -1] - pred.mean) <= pred.std
    assert 0.55 <= inside.mean() <= 0.95  # ±1σ of a calibrated Gaussian: 68 %
    finals = train.values[:, -1]
    span = finals.max() - finals.min()
    assert np.all(pred.mean >= finals.min() - 0.25 * span)
    assert np.all(pred.mean <= finals.max() + 0.25 * span)
    assert pred.clipped is not None and not pred.clipped.any()


def test_an_absurd_config_is_clipped_and_flagged(sets: tuple[CurveSet, CurveSet]) -> None:
    train, test = sets
    model = KernelChain().fit(train)
    configs = test.configs.iloc[:1].copy()
    partial = test.values[:1, :3]
    configs["lr"] = 1e6  # far outside every training config
    pred = model.predict(configs, partial)
    assert pred.clipped is not None and bool(pred.clipped[0])
    finals = train.values[:, -1]
    span = finals.max() - finals.min()
    assert pred.mean[0] == pytest.approx(finals.min() - 0.25 * span)  # held at the lower bound


def test_too_few_finished_curves_predict_as_the_chain(sets: tuple[CurveSet, CurveSet]) -> None:
    train, test = sets
    few = train.subset(np.arange(15))
    chain = HorizonChain().fit(few).predict_curves(test, 4)
    kernel = KernelChain(min_finished=20).fit(few).predict_curves(test, 4)
    np.testing.assert_array_equal(kernel.mean, chain.mean)
    np.testing.assert_array_equal(kernel.std, chain.std)


def test_a_minimised_perplexity_is_corrected_on_the_log_scale() -> None:
    train, test = split(synthetic(n=150, epochs=12, seed=1, direction=Direction.MINIMIZE),
                        n_train=100, seed=0)
    pred = KernelChain().fit(train).predict_curves(test, 2)
    assert pred.latent == "log" and np.all(pred.mean > 0)
    truth = test.values[:, -1]
    assert _r2(np.log(truth), np.log(pred.mean)) > 0.95


def test_diverged_values_and_bad_arguments(sets: tuple[CurveSet, CurveSet]) -> None:
    train, test = sets
    with pytest.raises(ValueError, match="min_finished"):
        KernelChain(min_finished=5)
    with pytest.raises(RuntimeError, match="fit"):
        KernelChain().predict(test.configs, test.values[:, :3])
    model = KernelChain().fit(train)
    with pytest.raises(ValueError, match="config rows"):
        model.predict(test.configs.iloc[:2], test.values[:3, :3])
    partial = test.values[:3, :3].copy()
    partial[0, 2] = np.nan  # a diverged run: counts as the worst value
    pred = model.predict(test.configs.iloc[:3], partial)
    assert np.all(np.isfinite(pred.mean)) and np.all(pred.std > 0)
    assert pred.mean[0] < model.predict(test.configs.iloc[:1], test.values[:1, :3]).mean[0]


def test_registered_as_chain_kernel() -> None:
    model = build_predictor(Settings(predictor="chain-kernel"))
    assert isinstance(model, KernelChain)
    assert repr(model).startswith("KernelChain(chain=HorizonChain(")


def test_fit_leaves_the_chain_it_was_given_unfitted(sets: tuple[CurveSet, CurveSet]) -> None:
    """Two KernelChains built on one HorizonChain do not share its fit."""
    train, test = sets
    chain = HorizonChain()
    first = KernelChain(chain=chain).fit(train)
    before = first.predict_curves(test, 3).mean
    KernelChain(chain=chain).fit(train.subset(np.arange(40)))
    assert not hasattr(chain, "u_")
    np.testing.assert_array_equal(first.predict_curves(test, 3).mean, before)
    assert first.min_rows == chain.min_rows == 5
