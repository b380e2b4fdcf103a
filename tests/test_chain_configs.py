"""HorizonChain's first link regressing on the run's config (``config_rows``), through the public
API: what it learns that the curve cannot show, when it starts, how bad config values count,
that a refit reusing the previous one predicts as a fresh fit, and that the stopper hands the
trials' configs over."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from curvecast import CurveSet, Direction
from curvecast.features import ConfigInputs
from curvecast.predictors import HorizonChain
from curvecast.stopping import History, PredictiveStopper, Trial


def _late_jump(n: int = 300, epochs: int = 10, seed: int = 0, at: int = 2) -> CurveSet:
    """Curves that are flat for ``at`` epochs, then jump by ``0.3·warm`` (warm ∈ [0, 1], a
    config column the first epochs do not show), with a categorical column that does nothing."""
    rng = np.random.default_rng(seed)
    warm = rng.uniform(0.0, 1.0, n)
    start = rng.uniform(0.3, 0.5, n)
    t = np.arange(1, epochs + 1)
    values = start[:, None] + 0.3 * warm[:, None] * (t[None, :] > at)
    values = values + rng.normal(0.0, 0.005, values.shape)
    configs = pd.DataFrame({"warm": warm, "optimizer": rng.choice(["sgd", "adam"], n)},
                           index=[f"c{i}" for i in range(n)])
    return CurveSet(values=values, observed=np.ones_like(values, dtype=bool), epochs=t,
                    metric="acc", direction="maximize", configs=configs)


def _r2(truth: np.ndarray, mean: np.ndarray) -> float:
    return float(1 - np.sum((mean - truth) ** 2) / np.sum((truth - truth.mean()) ** 2))


def test_the_config_predicts_what_the_first_epochs_cannot_show() -> None:
    cs = _late_jump()  # the jump comes after epoch 2, before the first link's horizon (4)
    train, test = cs.subset(np.arange(200)), cs.subset(np.arange(200, 300))
    truth = test.values[:, -1]
    with_configs = HorizonChain().fit(train).predict_curves(test, 2)
    curve_only = HorizonChain(config_rows=None).fit(train).predict_curves(test, 2)
    assert _r2(truth, with_configs.mean) > 0.95
    assert _r2(truth, curve_only.mean) < 0.6
    # and it is surer: the jump is no longer noise to it
    assert np.median(with_configs.std) < 0.5 * np.median(curve_only.std)


def test_a_jump_after_the_first_horizon_needs_the_configs_in_every_link() -> None:
    cs = _late_jump(at=5)  # after the first link's horizon: only a later link can see it
    train, test = cs.subset(np.arange(200)), cs.subset(np.arange(200, 300))
    truth = test.values[:, -1]
    first = HorizonChain(config_links="first").fit(train).predict_curves(test, 2)
    every = HorizonChain(config_links="all").fit(train).predict_curves(test, 2)
    assert _r2(truth, first.mean) < 0.6
    assert _r2(truth, every.mean) > 0.95
    with pytest.raises(ValueError, match="config_links must be 'first' or 'all'"):
        HorizonChain(config_links="later")


def test_the_configs_enter_only_once_enough_curves_reach_the_first_horizon() -> None:
    cs = _late_jump(n=40)
    few = HorizonChain(config_rows=50).fit(cs)  # 40 curves < 50: the chain ignores the configs
    plain = HorizonChain(config_rows=None).fit(cs)
    a, b = few.predict_curves(cs, 3), plain.predict_curves(cs, 3)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.std, b.std)
    assert not any(link.configured for link in few.links_.values() if link is not None)
    assert HorizonChain(config_rows=20).fit(cs).links_ == {}  # fitted lazily, on first use
    with pytest.raises(ValueError, match="config_rows must be None or >= min_rows"):
        HorizonChain(config_rows=3)


def test_bad_config_values_count_as_the_mean_config() -> None:
    cs = _late_jump()
    model = HorizonChain().fit(cs)
    partial = np.full((5, 2), 0.4)
    mean_config = model.predict(pd.DataFrame(index=range(5)), partial)  # no columns at all
    bad = pd.DataFrame({"warm": [np.nan, np.inf, -np.inf, None, np.nan],
                        "optimizer": ["sgd", "adam", "rmsprop", None, "sgd"]})
    p = model.predict(bad, partial)
    assert np.all(np.isfinite(p.mean)) and np.all(np.isfinite(p.std))
    # only the known levels move it (the optimizer does nothing here, so by little)
    np.testing.assert_allclose(p.mean, mean_config.mean, atol=0.02)
    assert p.mean[2] == pytest.approx(mean_config.mean[2])  # an unseen level: the mean
    assert p.mean[3] == pytest.approx(mean_config.mean[3])  # missing everywhere: the mean
    warm = model.predict(pd.DataFrame({"warm": [0.0, 1.0]}), np.full((2, 2), 0.4)).mean
    assert warm[1] - warm[0] == pytest.approx(0.3, abs=0.03)
    with pytest.raises(ValueError, match="3 config rows for 5 curves"):
        HorizonChain().fit_arrays(cs.values[:5], np.full(5, 10), cs.direction,
                                  configs=cs.configs.iloc[:3])


def test_the_encoding_leaves_out_names_and_constants() -> None:
    table = pd.DataFrame({"lr": [1e-4, 1e-3, 1e-2, 1e-1], "name": ["a", "b", "c", "d"],
                          "same": [3, 3, 3, 3], "flag": [True, False, True, False],
                          "act": ["relu", "tanh", "relu", "relu"]})
    inputs = ConfigInputs.learn(table)
    assert [c.name for c in inputs.columns] == ["lr", "flag", "act"]
    assert inputs.columns[0].log  # log-uniform over 3 orders of magnitude
    dropout = np.random.default_rng(0).uniform(0.0, 0.9, 200)  # 1e-3 … 0.9: uniform, not logged
    assert not ConfigInputs.learn(pd.DataFrame({"dropout": dropout})).columns[0].log
    z = inputs.encode(table)
    assert z.shape == (4, 4)  # lr, flag, act=relu, act=tanh
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1.0)
    assert ConfigInputs.learn(table[["name", "same"]]).width == 0


def test_a_refit_keeps_the_studys_encoding_and_predicts_as_one_that_refits_every_link() -> None:
    cs = _late_jump(n=260)
    values, configs = cs.values.copy(), cs.configs
    values[:20] = values.min()  # runs stuck at chance: the values' origin stays where it is
    n_observed = np.where(np.arange(260) % 3 == 0, 10, 4)
    n_observed[200:] = 3  # the 60 added runs: observed for 3 epochs, so links to 4+ are kept
    query = np.full((4, 2), 0.45)
    query_configs = configs.iloc[:4]

    def first_fit() -> HorizonChain:
        return HorizonChain().fit_arrays(values[:200], n_observed[:200], cs.direction,
                                         configs=configs.iloc[:200])

    first = first_fit()
    first.predict(query_configs, query)  # fits (and caches) the links and calibrations
    reused = HorizonChain().fit_arrays(values, n_observed, cs.direction, reuse=first,
                                       configs=configs)
    # the encoding learned on the first 200 rows is kept; the 60 added rows are encoded with it
    assert reused.configs_.inputs is first.configs_.inputs
    np.testing.assert_array_equal(reused.configs_.z[:200], first.configs_.z)
    assert any(link is not None and link.configured for link in reused.links_.values())
    refitted = HorizonChain().fit_arrays(values, n_observed, cs.direction, reuse=first_fit(),
                                         configs=configs)  # the same encoding, no link kept
    assert refitted.links_ == {}
    a, b = reused.predict(query_configs, query), refitted.predict(query_configs, query)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12)
    np.testing.assert_allclose(a.std, b.std, rtol=1e-12)
    fresh = HorizonChain().fit_arrays(values, n_observed, cs.direction, configs=configs)
    # a new study learns its own (from all 260 rows)
    assert fresh.configs_.inputs != first.configs_.inputs
    # fewer rows than config_rows: nothing is learned, and the next fit learns it
    few = HorizonChain().fit_arrays(values[:40], np.full(40, 10), cs.direction,
                                    configs=configs.iloc[:40])
    assert few.configs_.inputs is None
    assert HorizonChain().fit_arrays(values, n_observed, cs.direction, reuse=few,
                                     configs=configs).configs_.inputs == fresh.configs_.inputs


def test_the_stopper_hands_the_trials_configs_to_the_chain() -> None:
    """Two runs with the same first two epochs: the one whose config promises the largest jump
    is kept going when the chain sees the configs, the one whose config promises none is
    stopped; the chain blind to configs cannot tell them apart."""
    cs = _late_jump(n=120, seed=3)
    T = cs.n_epochs
    n_observed = np.where(np.arange(120) < 60, T, 4)  # 60 finished, 60 stopped after 4 epochs
    values = np.where(np.arange(T)[None, :] < n_observed[:, None], cs.values, np.nan)
    decisions = {}
    for warm in (1.3, 0.0):
        ids = [*cs.config_ids, "new"]
        configs = pd.concat([cs.configs, pd.DataFrame({"warm": [warm], "optimizer": ["sgd"]},
                                                      index=["new"])])
        running = np.full(T, np.nan)
        running[:2] = 0.45
        history = History(np.vstack([values, running]), np.append(n_observed, 2), ids,
                          configs, cs.epochs, "acc", "maximize")
        trial = Trial("new", configs.loc[["new"]], running[:2])
        for name, chain in (("seeing", HorizonChain()),
                            ("blind", HorizonChain(config_rows=None))):
            decisions[name, warm] = PredictiveStopper(explore=0.0, predictor=chain).decide(
                trial, history)
    best = float(np.nanmax(values[:60, -1]))
    assert not decisions["seeing", 1.3].stop and decisions["seeing", 1.3].mean > best
    assert decisions["seeing", 0.0].stop and decisions["seeing", 0.0].mean < 0.5
    blind = decisions["blind", 1.3], decisions["blind", 0.0]
    assert blind[0].mean == blind[1].mean and blind[0].stop == blind[1].stop


def test_configs_named_by_id_are_the_rows_in_order() -> None:
    """``config_ids``: a table indexed by config id (in any order, with extra rows) gives the
    fit the table of the curves' own rows in order would; a missing id or a repeated label is
    refused by name."""
    cs = _late_jump(n=120)
    n_observed = np.full(120, 10)
    shuffled = pd.concat([cs.configs, pd.DataFrame({"warm": [0.5], "optimizer": ["sgd"]},
                                                   index=["unused"])]).iloc[::-1]
    by_id = HorizonChain().fit_arrays(cs.values, n_observed, cs.direction, configs=shuffled,
                                      config_ids=list(cs.config_ids))
    in_order = HorizonChain().fit_arrays(cs.values, n_observed, cs.direction,
                                         configs=cs.configs)
    np.testing.assert_array_equal(by_id.configs_.z, in_order.configs_.z)
    query = cs.configs.iloc[:3]
    np.testing.assert_array_equal(by_id.predict(query, cs.values[:3, :2]).mean,
                                  in_order.predict(query, cs.values[:3, :2]).mean)
    with pytest.raises(ValueError, match=r"config ids \['nowhere'\] have no row"):
        HorizonChain().fit_arrays(cs.values, n_observed, cs.direction, configs=shuffled,
                                  config_ids=[*cs.config_ids[:-1], "nowhere"])
    repeated = shuffled.set_axis(["c0"] * len(shuffled))
    with pytest.raises(ValueError, match="whose index repeats a label"):
        HorizonChain().fit_arrays(cs.values, n_observed, cs.direction, configs=repeated,
                                  config_ids=list(cs.config_ids))


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_a_loss_in_other_units_is_predicted_alike_with_the_configs(scale: float) -> None:
    """A user's review (stop 33): a positive loss is modelled as its log, where other units are
    a shift; the links' ridge draws their intercept towards the origin the values are measured
    from, which was 0, so with the configs in every link lstm_ptb's perplexity in other units
    moved predictions by up to 38 %.  The origin is now the worst values' level, which a shift
    moves along."""
    cs = _late_jump()
    loss = np.exp(3.0 - 2.0 * cs.values)  # a perplexity-like loss, minimised
    configs, n_observed = cs.configs.iloc[:200], np.where(np.arange(200) % 4 == 0, 10, 3)

    def predicted(unit: float) -> tuple[np.ndarray, np.ndarray]:
        chain = HorizonChain().fit_arrays(unit * loss[:200], n_observed, Direction.MINIMIZE,
                                          configs=configs)
        p = chain.predict(cs.configs.iloc[200:], unit * loss[200:, :2])
        return p.mean / unit, p.std / unit

    (mean, std), (scaled_mean, scaled_std) = predicted(1.0), predicted(scale)
    np.testing.assert_allclose(scaled_mean, mean, rtol=1e-7)
    np.testing.assert_allclose(scaled_std, std, rtol=1e-6)
