"""KernelChain: the chain's prediction corrected from the whole partial curve and the config."""

from __future__ import annotations

import numpy as np
import pandas as pd
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
    assert chain == pytest.approx(0.735, abs=0.01)  # 0.747 before the last step (stop 25)
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


def _partial_arrays(cs: CurveSet, n_finished: int, seed: int = 3
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``cs``'s values with every curve after the first ``n_finished`` cut at a random epoch
    (1..T−1): a study's finished, stopped and running trials."""
    T = cs.n_epochs
    n_observed = np.full(cs.n_configs, T)
    n_observed[n_finished:] = np.random.default_rng(seed).integers(
        1, T, cs.n_configs - n_finished)
    values = np.where(np.arange(T)[None, :] < n_observed[:, None], cs.values, np.nan)
    return values, n_observed


def test_fit_arrays_learns_from_partial_curves_and_corrects_from_min_finished(
        sets: tuple[CurveSet, CurveSet]) -> None:
    train, test = sets
    values, n_observed = _partial_arrays(train, 30)
    ids = list(train.config_ids)
    chain = HorizonChain().fit_arrays(values, n_observed, train.direction,
                                      configs=train.configs, config_ids=ids)
    below = KernelChain(min_finished=40).fit_arrays(values, n_observed, train.direction,
                                                    configs=train.configs, config_ids=ids)
    assert not below.corrected
    want = chain.predict(test.configs, test.values[:, :3])
    got = below.predict(test.configs, test.values[:, :3])
    np.testing.assert_array_equal(got.mean, want.mean)  # exactly the chain, configs and all
    np.testing.assert_array_equal(got.std, want.std)
    above = KernelChain(min_finished=20).fit_arrays(values, n_observed, train.direction,
                                                    configs=train.configs, config_ids=ids)
    assert above.corrected
    truth = test.values[:, -1]
    corrected = _r2(truth, above.predict(test.configs, test.values[:, :2]).mean)
    assert corrected == pytest.approx(0.859, abs=0.01)  # 30 finished curves teach the lr effect
    assert corrected > _r2(truth, chain.predict(test.configs, test.values[:, :2]).mean) + 0.1


def test_a_refit_keeps_the_corrections_until_a_tenth_more_curves_finished(
        sets: tuple[CurveSet, CurveSet]) -> None:
    train, test = sets
    direction = train.direction
    stuck = train.values.copy()
    stuck[:10] = train.values.min()  # runs stuck at chance: the values' origin (their worst
    # values' level) stays where it is as curves finish, so the chain's scale is the same
    train = CurveSet(values=stuck, observed=train.observed, epochs=train.epochs,
                     metric=train.metric, direction=direction, configs=train.configs)

    def fit(n_finished: int, reuse: KernelChain | None) -> KernelChain:
        values, n_observed = _partial_arrays(train, n_finished)
        return KernelChain(min_finished=20).fit_arrays(
            values, n_observed, direction, reuse=reuse, configs=train.configs,
            config_ids=list(train.config_ids))

    first = fit(40, None)
    first.predict(test.configs.iloc[:1], test.values[:1, :3])  # τ = 3's correction fitted
    assert 3 in first.state_.corrections  # type: ignore[union-attr]
    kept = fit(43, first)  # 3 more finished: under a tenth
    assert kept.state_ is first.state_
    renewed = fit(44, kept)  # 4 more: a tenth
    assert renewed.state_ is not first.state_ and renewed.state_ is not None
    assert renewed.state_.values.shape[0] == 44 and not renewed.state_.corrections
    fresh = KernelChain(min_finished=20, refresh=0.0).fit_arrays(
        *_partial_arrays(train, 41), direction, reuse=first, configs=train.configs,
        config_ids=list(train.config_ids))
    assert fresh.state_ is not first.state_  # refresh=0: anew at every new finished curve
    with pytest.raises(ValueError, match="refresh"):
        KernelChain(refresh=-0.1)


def test_the_stopper_runs_it_from_the_fifth_complete_trial(sets: tuple[CurveSet, CurveSet]
                                                           ) -> None:
    from curvecast.execution import replay
    from curvecast.search import RandomSearch
    from curvecast.stopping import PredictiveStopper

    train, _ = sets
    results = {}
    for name, predictor in (("chain", HorizonChain()), ("kernel", KernelChain(min_finished=10))):
        stopper = PredictiveStopper(predictor=predictor)
        results[name] = replay(train, RandomSearch.from_curves(train, seed=0), stopper)
    finished = {k: sum(t.epochs == train.n_epochs for t in r.trials) for k, r in results.items()}
    assert finished == {"chain": 15, "kernel": 14}
    # both judge from the 5th complete trial; once 10 have finished, the correction (which
    # sees the learning rate that sets the final value) stops more, and both keep the best
    # (327, 385 before the chain's first link also saw the last step, stop 25; 326 for the
    # kernel before stop 34 measured the values from their worst level, which moves as runs
    # are added, so its corrections are refitted more often)
    assert (results["kernel"].total_epochs, results["chain"].total_epochs) == (320, 367)
    assert results["kernel"].best_kept and results["chain"].best_kept


def test_min_scale_keeps_sigma_at_least_the_chains(sets: tuple[CurveSet, CurveSet]) -> None:
    train, test = sets
    free = KernelChain().fit(train)
    floored = KernelChain(min_scale=1.0).fit(train)
    chain = free.chain_.predict(test.configs, test.values[:, :2])
    a, b = free.predict_curves(test, 2), floored.predict_curves(test, 2)
    np.testing.assert_array_equal(a.mean, b.mean)  # the same correction of the mean
    assert np.all(a.std < chain.std)  # the correction earned a narrower σ here
    np.testing.assert_allclose(b.std, chain.std)  # held at the chain's
    with pytest.raises(ValueError, match="min_scale"):
        KernelChain(min_scale=-1.0)


def test_corrected_fits_refuse_config_tables_that_do_not_match(
        sets: tuple[CurveSet, CurveSet]) -> None:
    train, _ = sets
    values, n_observed = _partial_arrays(train, 40)
    ids = list(train.config_ids)
    model = KernelChain(min_finished=20)
    with pytest.raises(ValueError, match="150 config rows for 100 curves"):
        model.fit_arrays(values, n_observed, train.direction,
                         configs=pd.concat([train.configs, train.configs.iloc[:50]]))
    with pytest.raises(ValueError, match="99 config ids for 100 curves"):
        model.fit_arrays(values, n_observed, train.direction, configs=train.configs,
                         config_ids=ids[:99])
    repeated = pd.concat([train.configs, train.configs.iloc[:1]])
    with pytest.raises(ValueError, match="repeats a label"):
        model.fit_arrays(values, n_observed, train.direction, configs=repeated, config_ids=ids)
    with pytest.raises(ValueError, match="no row"):
        model.fit_arrays(values, n_observed, train.direction, configs=train.configs.iloc[1:],
                         config_ids=ids)


def test_a_refit_for_another_target_epoch_learns_anew(sets: tuple[CurveSet, CurveSet]) -> None:
    train, test = sets
    values, n_observed = _partial_arrays(train, 40)
    first = KernelChain(min_finished=20).fit_arrays(values, n_observed, train.direction)
    first.predict(test.configs.iloc[:1], test.values[:1, :3])
    shorter = KernelChain(min_finished=20).fit_arrays(
        values[:, :10], np.minimum(n_observed, 10), train.direction, reuse=first)
    assert shorter.state_ is not first.state_ and shorter.state_ is not None
    assert shorter.state_.values.shape[1] == 10
