"""HorizonChain (curvecast's default predictor) and the default PredictiveStopper, through the
public API: learning from partial curves, bounded predictions, honest uncertainty, the
minimise mirror, and judging from the 5th complete trial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curvecast import CurveSet, Direction
from curvecast.predictors import SRM, HorizonChain, Prediction
from curvecast.stopping import DEFAULT_DELTA, History, PredictiveStopper, Trial
from synthetic_curves import split, synthetic


def _partial(cs: CurveSet, lengths: np.ndarray) -> CurveSet:
    observed = np.arange(cs.n_epochs)[None, :] < lengths[:, None]
    return CurveSet(values=np.where(observed, cs.values, np.nan), observed=observed,
                    epochs=cs.epochs, metric=cs.metric, direction=cs.direction,
                    configs=cs.configs)


def test_predicts_held_out_finals_with_calibrated_intervals() -> None:
    train, test = split(synthetic(n=300, epochs=12, seed=1), n_train=200)
    model = HorizonChain().fit(train)
    truth = test.values[:, -1]
    for tau, r2_min in ((2, 0.5), (6, 0.8)):
        p = model.predict_curves(test, tau)
        r2 = 1 - np.sum((p.mean - truth) ** 2) / np.sum((truth - truth.mean()) ** 2)
        assert r2 > r2_min
        assert np.all(p.std > 0) and np.all(np.isfinite(p.std))
        # calibrated: the held-out finals' PIT values P(y <= truth) are roughly uniform, so
        # the central 80 % interval holds about 80 % of them
        pit = np.array([p.cdf(float(v))[i] for i, v in enumerate(truth)])
        assert 0.65 <= np.mean((pit > 0.1) & (pit < 0.9)) <= 0.95


def test_a_fitted_chain_does_not_read_the_callers_arrays_again() -> None:
    """A review of stop 33: ``fit_arrays`` kept the caller's ``n_observed`` and fitted its links
    from it lazily, so a runner that reused its buffer after the fit got NaN predictions."""
    rng = np.random.default_rng(0)
    t = np.arange(1, 11)
    values = rng.uniform(0.3, 0.9, (40, 1)) * (1 - np.exp(-t / 5))
    n_observed = np.full(40, 10)
    n_observed[20:] = 4
    values[20:, 4:] = np.nan
    kept = HorizonChain().fit_arrays(values.copy(), n_observed.copy(), "maximize")
    reused = HorizonChain().fit_arrays(values, n_observed, "maximize")
    n_observed[20:] = 10
    values[:] = 0.0
    partial = np.array([[0.2, 0.3], [0.3, 0.4], [0.1, 0.15]])
    expected = kept.predict(None, partial).mean
    assert np.isfinite(expected).all()
    assert reused.predict(None, partial).mean == pytest.approx(expected)


def test_learns_from_partial_curves() -> None:
    cs = synthetic(n=120, epochs=12, seed=2)
    lengths = np.full(cs.n_configs, 3)
    lengths[:6] = 12  # 6 complete curves, 114 stopped after 3 epochs
    model = HorizonChain().fit(_partial(cs, lengths))
    # the link 1 → 2 is fitted on every curve that reached epoch 2, not just the 6 complete ones
    _, _, dof_early, _ = model.predict_latent(cs.values[:3, :1])
    assert model.links_[(1, 2, 0)] is not None and model.links_[(1, 2, 0)].dof >= 110
    # the chain's last links only have the complete curves (4 dof each): by Welch–Satterthwaite
    # its t has between the fewest dof of a link and their sum, far fewer than the first link's
    # (120 curves less [1, value, best] and the 3 config columns that vary: lr, width, n_params)
    links = [link for link in model.links_.values() if link is not None]
    assert [link.dof for link in links] == [114.0, 4.0, 4.0, 4.0]
    assert model.links_[(1, 2, 0)].configured
    assert np.all(dof_early >= 4.0) and np.all(dof_early <= 20.0)
    only_complete = HorizonChain().fit(cs.subset(np.arange(6)))
    assert only_complete.links_ == {}  # fitted lazily
    with pytest.raises(ValueError,
                       match="min_rows must be >= 5 with features='last\\+best\\+slope'"):
        HorizonChain(min_rows=4)  # could not fit a 3-column link on 4 curves mid-study
    assert HorizonChain(features="last", min_rows=4).min_rows == 4
    with pytest.raises(ValueError, match="at least 5 curves observed to the target epoch 12"):
        HorizonChain().fit(_partial(cs, np.where(np.arange(cs.n_configs) < 4, 12, 3)))


def test_predictions_stay_inside_what_the_curves_support_and_say_so() -> None:
    """The language-model failure of issue 12: one run's perplexity spikes to 3.8e10 early."""
    rng = np.random.default_rng(0)
    t = np.arange(1, 21)
    finals = rng.uniform(60, 400, 80)
    values = finals[:, None] * (1 + 3 * np.exp(-t[None, :] / 3))
    spike = values[0].copy()
    spike[1] = 3.8e10
    cs = CurveSet(values=values, observed=np.ones_like(values, dtype=bool), epochs=t,
                  metric="val_perplexity", direction=Direction.MINIMIZE,
                  configs=pd.DataFrame(index=[f"c{i}" for i in range(80)]))
    model = HorizonChain().fit(cs)
    p = model.predict(cs.configs.iloc[:1], spike[None, :2])
    assert p.clipped is not None and bool(p.clipped[0])
    assert 60 * 0.5 < float(p.mean[0]) < 400 * 4  # within the bound, not 1e11
    ok = model.predict(cs.configs.iloc[:1], values[1:2, :2])
    assert ok.clipped is not None and not bool(ok.clipped[0])
    # the stopper marks a decision driven by a clipped prediction and counts it
    history = History(values, np.full(80, 20), list(cs.config_ids), cs.configs, t,
                      "val_perplexity", Direction.MINIMIZE)
    stopper = PredictiveStopper()
    running = np.vstack([values, spike])
    ids = [*cs.config_ids, "spiky"]
    configs = pd.DataFrame(index=ids)
    history = History(np.where(np.arange(20)[None, :] < np.r_[np.full(80, 20), 2][:, None],
                               running, np.nan), np.r_[np.full(80, 20), 2], ids, configs, t,
                      "val_perplexity", Direction.MINIMIZE)
    decision = stopper.decide(Trial("spiky", configs.iloc[-1:], spike[:2]), history)
    assert decision.clipped and "clipped" in decision.reason
    assert stopper.n_clipped_ == 1


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=10), st.integers(min_value=0, max_value=1000))
def test_minimise_mirrors_maximise(tau: int, seed: int) -> None:
    cs = synthetic(n=40, epochs=11, seed=seed)
    mirrored = CurveSet(values=-cs.values, observed=cs.observed, epochs=cs.epochs,
                        metric="m", direction=Direction.MINIMIZE, configs=cs.configs)
    up = HorizonChain().fit(cs).predict_curves(cs, tau)
    down = HorizonChain().fit(mirrored).predict_curves(mirrored, tau)
    np.testing.assert_allclose(down.mean, -up.mean, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(down.std, up.std, rtol=1e-9)
    ref = float(np.median(cs.values[:, -1]))
    np.testing.assert_allclose(down.prob_worse(-ref, Direction.MINIMIZE),
                               up.prob_worse(ref, Direction.MAXIMIZE), atol=1e-9)


def test_student_t_and_log_scale_probabilities() -> None:
    p = Prediction(mean=np.array([0.0]), std=np.array([1.0]), dof=np.array([3.0]))
    assert float(p.cdf(-4.541)[0]) == pytest.approx(0.01, abs=1e-3)  # t_3's 1 % quantile
    log = Prediction(mean=np.exp(np.array([2.0])), std=np.array([1.0]), latent="log",
                     latent_mean=np.array([2.0]), latent_std=np.array([0.5]))
    assert float(log.cdf(float(np.exp(2.0)))[0]) == pytest.approx(0.5)
    assert float(log.prob_worse(float(np.exp(2.5)), Direction.MINIMIZE)[0]) == pytest.approx(
        0.1587, abs=1e-3)


def _study(cs: CurveSet, n_complete: int, tau: int) -> tuple[Trial, History]:
    n = n_complete + 1
    lengths = np.r_[np.full(n_complete, cs.n_epochs), tau]
    values = np.where(np.arange(cs.n_epochs)[None, :] < lengths[:, None], cs.values[:n], np.nan)
    ids = list(cs.config_ids[:n])
    history = History(values, lengths, ids, cs.configs, cs.epochs, cs.metric, cs.direction)
    return Trial(ids[-1], cs.configs.iloc[[n - 1]], cs.values[n - 1, :tau]), history


def test_default_stopper_judges_from_the_fifth_complete_trial() -> None:
    cs = synthetic(n=60, epochs=12, seed=3)
    worst = int(np.argmin(cs.values[:, -1]))
    order = [*[i for i in range(60) if i != worst][:30], worst]
    cs = cs.subset(np.array(order))
    stopper = PredictiveStopper()
    assert stopper.delta == DEFAULT_DELTA and stopper.min_complete == 5
    trial, history = _study(cs.subset(np.r_[np.arange(4), 30]), 4, 3)
    assert not stopper.decide(trial, history).stop  # 4 complete: not yet
    assert "4 complete trials" in stopper.decide(trial, history).reason
    trial, history = _study(cs, 30, 3)
    decision = stopper.decide(trial, history)
    assert decision.stop and decision.probability is not None and decision.probability >= 0.99
    with pytest.raises(ValueError, match="min_complete must be >= 5"):
        PredictiveStopper(min_complete=3)


def test_refits_only_when_another_trial_changed() -> None:
    cs = synthetic(n=40, epochs=12, seed=4)
    stopper = PredictiveStopper()
    for tau in (1, 2, 3):
        trial, history = _study(cs, 30, tau)
        stopper.decide(trial, history)
    assert stopper.n_fits_ == 1  # only the running trial advanced
    trial, history = _study(cs, 31, 2)
    stopper.decide(trial, history)
    assert stopper.n_fits_ == 2


def test_paper_preset_is_the_srm_after_100_complete_trials() -> None:
    stopper = PredictiveStopper.paper()
    assert isinstance(stopper.predictor, SRM) and stopper.min_complete == 100
    assert stopper.delta == 0.99 and not stopper.online
    assert repr(SRM.paper()) == repr(SRM())


def _skewed(n: int, seed: int, jump: float) -> CurveSet:
    """Accuracy-like curves whose final value follows the early one, except that 15 % of the runs
    move by ``jump`` ± 0.1 in their last epochs: down (< 0), a heavy *worse* side as collapsing
    or diverging runs give, or up (> 0), late bloomers."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, 11)
    start = rng.uniform(0.3, 0.8, n)
    final = 0.2 + 0.9 * start + rng.normal(0, 0.01, n)
    values = final[:, None] - (final - start)[:, None] * np.exp(-(t[None, :] - 1) / 2)
    moved = rng.random(n) < 0.15
    values[moved, 7:] += (jump + rng.uniform(-0.1, 0.1, moved.sum()))[:, None]
    return CurveSet(values=values, observed=np.ones_like(values, dtype=bool), epochs=t,
                    metric="val_acc", direction=Direction.MAXIMIZE,
                    configs=pd.DataFrame(index=[f"c{i}" for i in range(n)]))


def _upper_tail_share(p: Prediction, truth: np.ndarray, level: float) -> float:
    """The share of ``truth`` above each prediction's ``level`` quantile."""
    return float(np.mean([float(p.cdf(float(v))[i]) > level for i, v in enumerate(truth)]))


@pytest.mark.parametrize("seed", [4, 5])
def test_one_sided_sigma_ignores_collapses_but_not_late_bloomers(seed: int) -> None:
    """The one-sided σ on its own (``trim_worse=None``; the trim, default since stop 28, narrows
    σ further after collapses: the test below)."""
    tau = 3
    train, test = split(_skewed(400, seed=seed, jump=-0.3), n_train=300)
    upper = HorizonChain(trim_worse=None).fit(train)
    both = HorizonChain(tail="both", trim_worse=None).fit(train)
    assert upper.tail == "upper"  # the default
    p_up, p_both = upper.predict_curves(test, tau), both.predict_curves(test, tau)
    np.testing.assert_allclose(p_up.mean, p_both.mean)  # the same means, only σ differs
    # collapsing runs no longer widen the better side much ...
    assert float(np.median(p_both.std / p_up.std)) > 1.5
    # ... and it stays safe: no held-out final ends above the upper 99 % quantile
    assert _upper_tail_share(p_up, test.values[:, -1], 0.99) <= 0.01
    # late bloomers are errors on the better side: they widen it (by ~1.3x here), so fewer of
    # them end above the upper 99 % quantile than with the symmetric σ (6-8 % of the runs)
    train, test = split(_skewed(400, seed=seed, jump=+0.3), n_train=300)
    p_up = HorizonChain(trim_worse=None).fit(train).predict_curves(test, tau)
    p_both = HorizonChain(tail="both", trim_worse=None).fit(train).predict_curves(test, tau)
    assert float(np.median(p_up.std / p_both.std)) > 1.2
    truth = test.values[:, -1]
    assert _upper_tail_share(p_up, truth, 0.99) <= 0.03
    assert _upper_tail_share(p_up, truth, 0.99) < _upper_tail_share(p_both, truth, 0.99)
    with pytest.raises(ValueError, match="tail must be 'upper' or 'both'"):
        HorizonChain(tail="lower")


def test_a_diverged_value_in_a_partial_curve_counts_as_the_worst() -> None:
    """The Predictor contract: NaN/±inf in ``partial`` are diverged values, the worst value."""
    cs = synthetic(n=60, epochs=10, seed=6)
    model = HorizonChain().fit(cs)
    partial = cs.values[:4, :3].copy()
    partial[0, -1], partial[1, 1] = np.nan, np.inf
    p = model.predict(cs.configs.iloc[:4], partial)
    assert np.all(np.isfinite(p.mean)) and np.all(np.isfinite(p.std)) and np.all(p.std > 0)
    worst = partial.copy()
    worst[0, -1] = worst[1, 1] = float(np.min(cs.values))  # maximised: the worst is the smallest
    np.testing.assert_allclose(p.mean, model.predict(cs.configs.iloc[:4], worst).mean)
    # a stated diverged value (e.g. chance accuracy) is what it counts as
    stated = CurveSet(values=cs.values, observed=cs.observed, epochs=cs.epochs, metric=cs.metric,
                      direction=cs.direction, configs=cs.configs, diverged_value=0.1)
    chance = partial.copy()
    chance[0, -1] = chance[1, 1] = 0.1
    model = HorizonChain().fit(stated)
    np.testing.assert_allclose(model.predict(cs.configs.iloc[:4], partial).mean,
                               model.predict(cs.configs.iloc[:4], chance).mean)


def test_anchored_links_keep_what_the_first_epochs_said() -> None:
    # each run's value: its skill times a growing share plus noise independent per epoch, so one
    # later epoch's value carries less of the skill than the first τ epochs did; a Markov chain
    # forgets the first epochs at every link, an anchored one keeps them
    rng = np.random.default_rng(0)
    n, T = 300, 64
    skill = rng.normal(size=n)
    t = np.arange(1, T + 1)
    v = 0.5 + 0.1 * skill[:, None] * (0.3 + 0.7 * t / T) + rng.normal(scale=0.03, size=(n, T))
    truth = v[200:, -1]
    r2 = {}
    for links in ("markov", "anchored"):
        model = HorizonChain(links=links).fit_arrays(v[:200], np.full(200, T), Direction.MAXIMIZE)
        mean = model.predict(pd.DataFrame(index=range(100)), v[200:, :8]).mean
        r2[links] = 1 - np.sum((mean - truth) ** 2) / np.sum((truth - truth.mean()) ** 2)
    assert r2["markov"] == pytest.approx(0.633, abs=0.01)
    assert r2["anchored"] == pytest.approx(0.807, abs=0.01)
    # a later link sees the anchor only once it has 10 curves: with 6 finished curves the links
    # to T stay Markov (4 columns would leave 2 dof), so a young study still gets predictions
    few = HorizonChain(links="anchored").fit_arrays(
        np.where(np.arange(T)[None, :] < np.r_[np.full(6, T), np.full(194, 8)][:, None], v[:200],
                 np.nan), np.r_[np.full(6, T), np.full(194, 8)], Direction.MAXIMIZE)
    assert np.all(np.isfinite(few.predict(pd.DataFrame(index=range(3)), v[200:203, :4]).mean))
    with pytest.raises(ValueError, match="links must be 'markov' or 'anchored'"):
        HorizonChain(links="direct")


@pytest.mark.parametrize(("links", "added"), [("markov", 3), ("markov", 4), ("markov", 2),
                                               ("anchored", 4)])
def test_refit_with_reuse_predicts_the_same_and_keeps_what_new_rows_cannot_change(
        links: str, added: int) -> None:
    cs = synthetic(n=90, epochs=12, seed=7)
    values = cs.filled_values()
    lengths = np.random.default_rng(0).choice([1, 2, 3, 6, 12], size=90)
    lengths[:12] = 12
    lengths[80:] = added  # the rows added later: observed for `added` epochs (on a horizon: 2, 4)
    # runs stuck at chance, as many studies have: the worst values' level, from which the
    # values are measured, is the same for the 80 rows and the 90 (the fresh fit's too)
    values[12:20] = values.min()
    old = HorizonChain(links=links).fit_arrays(values[:80], lengths[:80], cs.direction)
    for tau in range(1, 12):
        old.predict_latent(values[:4, :tau])
    new = HorizonChain(links=links).fit_arrays(values, lengths, cs.direction, reuse=old)
    # a link a → b is fitted on the curves observed for ≥ b epochs: unchanged when b > added
    assert set(new.links_) == {key for key in old.links_ if key[1] > added} != set()
    assert all(new.links_[key] is old.links_[key] for key in new.links_)
    assert set(new.calibration_) == {tau for tau in old.calibration_ if tau >= added}
    fresh = HorizonChain(links=links).fit_arrays(values, lengths, cs.direction)
    assert new.centre_ == old.centre_ == fresh.centre_
    for tau in range(1, 12):
        for got, want in zip(new.predict_latent(values[:5, :tau]),
                             fresh.predict_latent(values[:5, :tau]), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12)
    # added rows below the worst values move the origin: nothing is kept, and the refit
    # predicts as a fresh fit (the origin is a function of the values alone)
    lower = values.copy()
    lower[80:] = values.min() - 1.0
    moved = HorizonChain(links=links).fit_arrays(lower, lengths, cs.direction, reuse=old)
    assert moved.centre_ != old.centre_ and moved.links_ == {}
    # nothing is kept when the old rows changed, or from a chain with other settings
    changed = values.copy()
    changed[0, 0] += 0.01
    assert HorizonChain(links=links).fit_arrays(changed, lengths, cs.direction,
                                                reuse=old).links_ == {}
    assert HorizonChain(ladder=3, links=links).fit_arrays(values, lengths, cs.direction,
                                                          reuse=old).links_ == {}
    # a new complete row changes the finished curves: no calibration is kept
    grown = lengths.copy()
    grown[-1] = 12
    assert HorizonChain(links=links).fit_arrays(values, grown, cs.direction,
                                                reuse=old).calibration_ == {}


def test_spread_by_input_widens_sigma_where_futures_spread_wider() -> None:
    """Slow starters (low after 2 epochs) whose finals spread 10x wider than the fast starters':
    ``spread="by-input"`` gives them the wider σ and the fast ones the narrower; ``"pooled"``
    gives both the same.  Below 10 curves the pooled variance is used."""
    rng = np.random.default_rng(0)
    n, T = 400, 4  # from 2 epochs one link to T: the first link is the whole chain
    start = rng.uniform(0.1, 0.9, n)
    width = np.where(start < 0.5, 0.1, 0.01)  # the slow starters' futures spread wider
    final = 0.5 + 0.4 * start + width * rng.standard_normal(n)
    values = np.linspace(start, final, T).T
    curves_n = np.full(n, T)
    query = np.array([[0.15, 0.2], [0.85, 0.9]])  # a slow and a fast starter after 2 epochs
    # the first link on the value and the best value (with the last step, these straight
    # lines would tell their finals exactly)
    pooled = HorizonChain(features="last+best", tail="both").fit_arrays(values, curves_n,
                                                                        "maximize")
    by_input = HorizonChain(features="last+best", tail="both", spread="by-input").fit_arrays(
        values, curves_n, "maximize")
    p, b = pooled.predict(None, query), by_input.predict(None, query)  # type: ignore[arg-type]
    assert p.std[0] == pytest.approx(p.std[1], rel=0.05)
    assert b.std[0] > 3 * b.std[1]
    assert b.std[1] < p.std[1] < p.std[0] < b.std[0]
    few = HorizonChain(spread="by-input").fit_arrays(values[:9], np.full(9, T), "maximize")
    same = HorizonChain().fit_arrays(values[:9], np.full(9, T), "maximize")
    np.testing.assert_array_equal(few.predict(None, query).std,  # type: ignore[arg-type]
                                  same.predict(None, query).std)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="spread"):
        HorizonChain(spread="local")
    assert "spread='by-input'" in repr(by_input) and "spread" not in repr(pooled)


def test_the_last_step_tells_a_riser_from_a_flat_run() -> None:
    """``features="last+best+slope"``: two runs at the same value after 2 epochs, one that just
    rose to it and one that stayed there.  Where risers go on rising (the training curves), the
    riser is predicted higher; ``"last+best"`` cannot tell them apart.  A first link with fewer
    than 6 curves leaves the step out (it needs a curve per column and two more)."""
    rng = np.random.default_rng(0)
    n, T = 60, 8
    start = rng.uniform(0.1, 0.5, n)
    rate = rng.uniform(0.0, 0.1, n)  # the per-epoch rise: what the run ends at
    values = np.clip(start[:, None] + rate[:, None] * np.arange(T)[None, :]
                     + rng.normal(0, 0.005, (n, T)), 0, 1)
    observed = np.full(n, T)
    riser, flat = np.array([[0.2, 0.3]]), np.array([[0.3, 0.3]])
    sloped = HorizonChain(features="last+best+slope", config_rows=None).fit_arrays(
        values, observed, Direction.MAXIMIZE)
    plain = HorizonChain(features="last+best", config_rows=None).fit_arrays(
        values, observed, Direction.MAXIMIZE)
    gap = sloped.predict(None, riser).mean[0] - sloped.predict(None, flat).mean[0]  # type: ignore[arg-type]
    assert gap > 0.2  # 0.28 here: the later (Markov) links carry part of the step's news
    plain_gap = plain.predict(None, riser).mean[0] - plain.predict(None, flat).mean[0]  # type: ignore[arg-type]
    assert abs(plain_gap) < 0.02
    few = HorizonChain(features="last+best+slope", config_rows=None).fit_arrays(
        values[:5], np.full(5, T), Direction.MAXIMIZE)
    assert np.isfinite(few.predict(None, riser).mean).all()  # type: ignore[arg-type]
    assert not any(link is not None and link.sloped for link in few.links_.values())
    with pytest.raises(ValueError, match="'last', 'last\\+best' or 'last\\+best\\+slope'"):
        HorizonChain(features="slope")


def test_a_run_below_every_trained_curve_is_not_lifted_to_them_with_the_run_bound() -> None:
    """A user's review: f-Hyperband's rung predictor, fitted on its first six curves (all good
    runs), predicted 0.71 for two runs stuck at chance (0.10): the link's bound, the targets'
    range widened by a quarter, lifted their means to its floor, and they ran on.  With
    ``bound="targets+run"`` the bound stretches to the run's own value: it is not lifted."""
    rng = np.random.default_rng(2)
    t = np.arange(1, 10)
    finals = rng.uniform(0.85, 0.97, 6)
    values = finals[:, None] - 0.4 * np.exp(-t[None, :] / 2)
    cs = CurveSet(values=values, observed=np.ones_like(values, dtype=bool), epochs=t,
                  metric="val_accuracy", direction=Direction.MAXIMIZE,
                  configs=pd.DataFrame(index=[f"c{i}" for i in range(6)]))
    stuck = np.full((1, 2), 0.10)
    lifted = HorizonChain().fit(cs).predict(cs.configs.iloc[:1], stuck)
    assert lifted.clipped is not None and bool(lifted.clipped[0])
    assert float(lifted.mean[0]) > 0.6  # the targets' floor
    own = HorizonChain(bound="targets+run").fit(cs).predict(cs.configs.iloc[:1], stuck)
    assert float(own.mean[0]) < float(lifted.mean[0]) - 0.15
    assert float(own.prob_worse(0.9, Direction.MAXIMIZE)[0]) > float(
        lifted.prob_worse(0.9, Direction.MAXIMIZE)[0])
    good = values[:1, :2]  # a run inside the targets: the same prediction either way
    np.testing.assert_allclose(HorizonChain(bound="targets+run").fit(cs).predict(
        cs.configs.iloc[:1], good).mean, HorizonChain().fit(cs).predict(
        cs.configs.iloc[:1], good).mean)
    with pytest.raises(ValueError, match="bound must be 'targets' or 'targets\\+run'"):
        HorizonChain(bound="run")


@pytest.mark.parametrize("seed", [4, 5])
def test_trimming_the_worse_side_narrows_sigma_after_collapses_and_leaves_bloomers(
        seed: int) -> None:
    """Runs that collapse late pull each link's least-squares line down, which leaves the other
    runs' errors on the better side and widens the one-sided σ a stop is decided on.  Refitted
    without the rows far on the worse side (``trim_worse``), σ narrows and the upper tail is
    about as honest as it says; late bloomers (errors on the better side) are never trimmed."""
    tau = 3
    train, test = split(_skewed(400, seed=seed, jump=-0.3), n_train=300)
    kept = HorizonChain(trim_worse=None).fit(train).predict_curves(test, tau)
    trimmed = HorizonChain(trim_worse=5.0).fit(train).predict_curves(test, tau)
    # here the first epochs tell the final of a run that does not collapse almost exactly: the
    # collapses had widened σ 20-fold, so that no final came near the upper 95 % quantile
    assert float(np.median(kept.std / trimmed.std)) > 10
    assert _upper_tail_share(kept, test.values[:, -1], 0.95) == 0.0
    # trimmed, the upper quantiles are about what they say (100 held-out runs: 1-3 above the
    # 99 % quantile, 4-8 above the 95 % one on seeds 4-7)
    assert _upper_tail_share(trimmed, test.values[:, -1], 0.99) <= 0.03
    assert _upper_tail_share(trimmed, test.values[:, -1], 0.95) <= 0.10
    train, test = split(_skewed(400, seed=seed, jump=+0.3), n_train=300)
    plain = HorizonChain(trim_worse=None).fit(train).predict_curves(test, tau)
    bloom = HorizonChain(trim_worse=5.0).fit(train).predict_curves(test, tau)
    np.testing.assert_allclose(bloom.mean, plain.mean)
    np.testing.assert_allclose(bloom.std, plain.std)
    with pytest.raises(ValueError, match="trim_worse must be None or > 0"):
        HorizonChain(trim_worse=0.0)


def test_constant_curves_are_predicted_without_a_clipped_flag() -> None:
    """A user's review (stop 30): every prediction from constant curves was flagged clipped
    (the bound has zero width, and the ridge's pull leaves the mean a hair off it), which the
    stopper and the Optuna attribute counted as predictions the bound had stopped."""
    ids = [f"c{i}" for i in range(30)]
    const = CurveSet(values=np.full((30, 20), 0.5), observed=np.ones((30, 20), bool),
                     epochs=np.arange(1, 21), metric="acc", direction=Direction.MAXIMIZE,
                     configs=pd.DataFrame(index=ids))
    got = HorizonChain().fit(const).predict_curves(const.subset([0, 1, 2]), 5)
    np.testing.assert_allclose(got.mean, 0.5)
    assert not got.clipped.any()


def test_a_log_target_on_values_that_reach_zero_is_refused() -> None:
    acc = synthetic(n=40, epochs=8, seed=2)
    error = CurveSet(values=np.clip(1.0 - acc.values - 0.1, 0.0, None), observed=acc.observed,
                     epochs=acc.epochs, metric="error", direction=Direction.MINIMIZE,
                     configs=acc.configs)
    assert float(error.values.min()) == 0.0
    with pytest.raises(ValueError, match="log_target=True needs positive values"):
        HorizonChain(log_target=True).fit(error)
    pred = HorizonChain().fit(error).predict_curves(error.subset([0, 1]), 3)  # None: as they are
    assert np.all(np.isfinite(pred.mean)) and np.all(pred.std < 1)


def test_one_run_that_spiked_at_the_first_epoch_does_not_break_the_fit() -> None:
    rng = np.random.default_rng(0)
    n, T = 40, 10
    values = (-1.0 + np.exp(-rng.uniform(0.1, 1, (n, 1)) * np.arange(1, T + 1))
              + rng.normal(0, 0.01, (n, T)))  # a negative log-likelihood: not modelled as a log
    values[0, 0] = 1e9  # one run's loss spiked at epoch 1, then came back
    nll = CurveSet(values=values, observed=np.ones_like(values, bool), epochs=np.arange(1, T + 1),
                   metric="val_nll", direction=Direction.MINIMIZE,
                   configs=pd.DataFrame(index=[f"c{i}" for i in range(n)]))
    pred = HorizonChain().fit(nll).predict_curves(nll.subset([1, 2, 3]), 1)
    assert np.all(np.isfinite(pred.mean)) and np.all(np.isfinite(pred.std))
    low, high = values[:, -1].min(), values[:, -1].max()
    assert np.all((pred.mean >= low - (high - low)) & (pred.mean <= high + (high - low)))


@settings(max_examples=40, deadline=None)
@given(ladder=st.floats(1.0 + 1e-12, 4.0), tau=st.integers(1, 19))
def test_the_ladder_is_the_powers_rounded_up_at_any_factor(ladder: float, tau: int) -> None:
    """A user's review (stop 34): the ladder stepped through every power of ``ladder``, so one
    near 1 (1 + 1e-12) never returned.  The horizons are ⌈ladderᵏ⌉ above τ, then T."""
    values = np.tile(np.linspace(0.1, 0.9, 20), (6, 1)) + np.arange(6)[:, None] * 0.01
    chain = HorizonChain(ladder=ladder).fit_arrays(values, np.full(6, 20), Direction.MAXIMIZE)
    powers, k = set(range(2, 20)), 1  # near 1: every integer from 2
    if ladder > 1.001:
        powers = set()
        while int(np.ceil(ladder ** k)) < 20:
            powers.add(int(np.ceil(ladder ** k)))
            k += 1
    assert chain.horizons(tau) == [*sorted(b for b in powers if b > tau), 20]
    assert HorizonChain().fit_arrays(values, np.full(6, 20), Direction.MAXIMIZE
                                     ).horizons(2) == [4, 8, 16, 20]


def test_a_loss_in_tiny_units_gets_its_own_sigma() -> None:
    """A review (stop 34): on the log scale σ had an absolute floor of 1e-12 in the metric's
    units, so a loss in units of 1e-13 was reported with σ ten times itself."""
    rng = np.random.default_rng(0)
    t = np.arange(1, 11)
    loss = 2 - rng.uniform(0.5, 0.9, (30, 1)) * (1 - np.exp(-rng.uniform(0.2, 1, (30, 1)) * t))
    got = []
    for scale in (1.0, 1e-13):
        cs = CurveSet(values=loss * scale, observed=np.ones(loss.shape, bool), epochs=t,
                      metric="loss", direction="minimize",
                      configs=pd.DataFrame(index=[f"c{i}" for i in range(30)]))
        chain = HorizonChain().fit(cs)
        p = chain.predict_curves(cs, 3)
        seen = chain.predict(cs.configs, cs.values)  # the target is observed
        got.append((p.mean / scale, p.std / scale, seen.std / scale))
    np.testing.assert_allclose(got[1][0], got[0][0], rtol=1e-9)
    np.testing.assert_allclose(got[1][1], got[0][1], rtol=1e-6)
    assert np.all(got[1][2] < 1e-9)


def test_a_run_whose_last_value_drops_is_never_predicted_to_end_better() -> None:
    """A review (stop 36): on digits-metaqnn the first link's coefficients on the last value
    and the best so far came out of opposite signs (−0.43 and +1.14), so a run whose accuracy
    fell from 0.95 to 0.2 at epoch 4 was predicted to end at 1.03, above every training run,
    and was less likely to be stopped than the same run at 0.96."""
    from pathlib import Path

    digits = CurveSet.load(Path(__file__).resolve().parents[1] / "data" / "digits-metaqnn.parquet")
    train = digits.without_untrained_epoch().subset(range(200))
    best = float(train.final_values().max())
    lasts = [0.96, 0.9, 0.8, 0.6, 0.4, 0.2, 0.1]
    partial = np.array([[0.8, 0.9, 0.95, last] for last in lasts])
    for chain, monotone in ((HorizonChain(), True), (HorizonChain(monotone=False), False)):
        got = chain.fit(train).predict(None, partial)
        worse = got.prob_worse(best, Direction.MAXIMIZE)
        if monotone:  # the default
            assert np.all(np.diff(got.mean) <= 1e-12) and np.all(np.diff(worse) >= -1e-12)
            assert got.mean.max() < best
        else:  # what the review found
            assert got.mean[-1] > 1.0 and worse[-1] < worse[0] - 0.3


def test_the_first_link_is_monotone_above_the_best_so_far_too() -> None:
    """A review (stop 36): the constraint held the mean's slope in the last value below the
    best so far only; at or above it the best moves with the value, and on curves where the
    runs that rose higher end lower, a run that fell from 0.85 to 0.70 was predicted to end
    better than the one that did not."""
    rng = np.random.default_rng(0)
    n, t = 300, 10
    start = rng.uniform(0.2, 0.7, n)
    first = np.concatenate([start[:, None], start[:, None] + np.cumsum(
        rng.uniform(0.0, 0.08, (n, 3)), axis=1)], axis=1)
    final = -0.3 * first[:, -1] - 0.6 * first.max(axis=1) + 1.5 + rng.normal(0, 0.01, n)
    values = np.concatenate([first, np.linspace(first[:, -1], final, t - 3)[1:].T], axis=1)
    curves = CurveSet(values=values, observed=np.ones_like(values, bool),
                      epochs=np.arange(1, t + 1), metric="acc", direction=Direction.MAXIMIZE,
                      configs=pd.DataFrame(index=[f"c{i}" for i in range(n)]))
    partial = np.array([[0.6, 0.7, 0.8, last] for last in np.linspace(0.95, 0.3, 14)])
    monotone = HorizonChain().fit(curves).predict(None, partial).mean
    assert np.all(np.diff(monotone) <= 1e-12)  # the value falls along the rows: never better
    unconstrained = HorizonChain(monotone=False).fit(curves).predict(None, partial).mean
    assert np.all(np.diff(unconstrained) > 0.01)
