"""Hyperband and f-Hyperband on the replay executor: bracket arithmetic, promotions that resume a
curve, and f-Hyperband's early stopping against plain Hyperband, with exact numbers."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from curvecast import CurveSet
from curvecast.execution import replay
from curvecast.execution.replay import replay_schedule
from curvecast.experiments.speedup import SchedulerSpec, SpeedupSettings, run_speedup, select
from curvecast.predictors import SRM, LastSeenValue, Prediction
from curvecast.search import FHyperband, Hyperband, RandomSearch, Rung, hyperband_brackets
from curvecast.search.hyperband import compare_hyperbands, warm_rung_predictors, warm_speedup
from curvecast.stopping import FitCache, NeverStop
from test_replay import saturating


def _table(R: int, eta: float = 3) -> list[tuple[int, list[tuple[int, int]]]]:
    return [(p.s, [(r.n, r.epochs) for r in p.rungs]) for p in hyperband_brackets(R, eta)]


def test_brackets_for_r27_eta3_by_hand() -> None:
    # s_max = 3, B = 4R; n = ceil(4/(s+1) 3^s), r_i = 27 * 3^(i-s), n_i = floor(n / 3^i)
    assert _table(27) == [
        (3, [(27, 1), (9, 3), (3, 9), (1, 27)]),
        (2, [(12, 3), (4, 9), (1, 27)]),
        (1, [(6, 9), (2, 27)]),
        (0, [(4, 27)]),
    ]
    assert [p.epochs for p in hyperband_brackets(27)] == [81, 78, 90, 108]


def test_brackets_match_li_et_al_table_for_r81() -> None:
    # Li et al. 2018, Table 1 (R = 81, η = 3): n_i / r_i per bracket
    assert _table(81) == [
        (4, [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]),
        (3, [(34, 3), (11, 9), (3, 27), (1, 81)]),
        (2, [(15, 9), (5, 27), (1, 81)]),
        (1, [(8, 27), (2, 81)]),
        (0, [(5, 81)]),
    ]


def test_brackets_with_whole_epochs_and_bad_arguments() -> None:
    # the paper's MetaQNN curves: R = 20 epochs -> rungs rounded to whole epochs
    assert _table(20) == [(2, [(9, 2), (3, 7), (1, 20)]), (1, [(5, 7), (1, 20)]), (0, [(3, 20)])]
    assert hyperband_brackets(1)[0].rungs == (Rung(1, 1),)
    with pytest.raises(ValueError, match=r"eta .* must be a finite number > 1, got 1"):
        hyperband_brackets(27, 1)
    with pytest.raises(ValueError, match=r"eta .* must be a finite number > 1, got inf"):
        Hyperband(RandomSearch.from_curves(saturating(n=10, epochs=5), seed=0), eta=math.inf)
    # a review (stop 35): η = 1 + 1e-7 built a table of 3e7 brackets that never finished
    with pytest.raises(ValueError, match=r"η\) 1.0000001 is too close to 1 for R = 20 epochs: "
                                         r"log_η R = 3e\+07 brackets, more than 200 .* use η >= "
                                         r"1.015"):
        hyperband_brackets(20, 1.0000001)
    with pytest.raises(ValueError, match=r"max_epochs .* must be >= 1, got 0"):
        hyperband_brackets(0)


@pytest.mark.parametrize(("max_epochs", "eta"), [(20, 1.3), (8, 1.1), (2, 1.3)])
def test_an_eta_near_1_keeps_one_rung_per_epoch_and_replays(max_epochs: int, eta: float) -> None:
    """A review (stop 32): η = 1.3 rounded neighbouring rungs to the same epoch, and the replay
    failed mid-way ("job for 'metaqnn-0900' to 1 epochs: it has 1 of 20")."""
    for plan in hyperband_brackets(max_epochs, eta):
        epochs = [r.epochs for r in plan.rungs]
        assert epochs == sorted(set(epochs)) and epochs[-1] == max_epochs
        assert all(a.n >= b.n >= 1 for a, b in zip(plan.rungs, plan.rungs[1:], strict=False))
    cs = saturating(n=80, epochs=max_epochs, seed=2)
    result = replay_schedule(cs, Hyperband(RandomSearch.from_curves(cs, seed=0), eta=eta))
    assert result.best_trial is not None and not result.best_trial.stopped


def test_one_hyperband_iteration_trains_exactly_the_bracket_budget() -> None:
    cs = saturating(n=60, epochs=27, seed=4)
    hb = Hyperband(RandomSearch.from_curves(cs, seed=1), max_iterations=1)
    result = replay_schedule(cs, hb)
    # 27 + 12 + 6 + 4 configs drawn; promoted configs resume their curve (no retraining)
    assert len(result.trials) == 49
    assert result.total_epochs == 81 + 78 + 90 + 108
    assert sorted(t.epochs for t in result.trials) == sorted(
        [1] * 18 + [3] * 6 + [9] * 2 + [27] + [3] * 8 + [9] * 3 + [27] + [9] * 4 + [27] * 2
        + [27] * 4)
    assert [(s.iteration, s.s) for s in hb.selections_] == [(0, 3), (0, 2), (0, 1), (0, 0)]
    assert hb.iteration_epochs_ == {0: 357}
    # each winner is the best final value among the configs its bracket trained to R
    by_id = {t.config_id: t for t in result.trials}
    assert all(not by_id[s.config_id].stopped and s.value == by_id[s.config_id].true_final
               for s in hb.selections_)
    finals = sorted((t.true_final for t in result.trials if not t.stopped), reverse=True)
    last = max(result.trials[-4:], key=lambda t: t.true_final)  # bracket s = 0 started last
    assert hb.selections_[-1].config_id == last.config_id
    assert result.best_trial is not None and result.best_trial.true_final == finals[0]
    # not promoted: told their last observed value, marked as standing in for a final value
    search = hb.searcher
    assert isinstance(search, RandomSearch)
    for t in result.trials:
        assert search.results_[t.config_id].predicted is t.stopped


@pytest.mark.parametrize(("n", "epochs"), [
    (2, {1: 1, 27: 1}),  # ⌊2/3⌋ = 0: at least 1 goes on, to R
    (10, {1: 7, 3: 2, 27: 1}),  # 10 → ⌊10/3⌋ = 3 → 1 → 1
    (20, {1: 14, 3: 4, 9: 1, 27: 1}),  # 20 → 6 → 2 → 1
])
def test_a_partial_bracket_promotes_a_third_of_what_it_drew(n: int, epochs: dict[int, int]) -> None:
    """A review: a bracket planned for 27 configs that drew only n kept the planned 9 → 3 → 1
    (10 configs: 9 of them promoted, 64 epochs); successive halving keeps ⌊m_i/η⌋, at least 1."""
    cs = saturating(n=n, epochs=27)
    hb = Hyperband(RandomSearch.from_curves(cs, seed=0), eta=3)
    result = replay_schedule(cs, hb)
    assert dict(Counter(t.epochs for t in result.trials)) == epochs
    assert result.total_epochs == sum(e * k for e, k in epochs.items())  # 10 configs: 40
    # the promoted are the best at the rung's end; the winner is trained to R
    at_1 = sorted(range(n), key=lambda i: -cs.values[i, 0])
    promoted = {t.config_id for t in result.trials if t.epochs > 1}
    assert promoted == {f"c{i}" for i in at_1[: max(1, n // 3)]}
    assert [s.s for s in hb.selections_] == [3]
    assert result.best_trial is not None and result.best_trial.epochs == 27
    assert result.best_trial.config_id == hb.selections_[0].config_id


def test_fhyperband_compares_a_partial_bracket_with_what_it_promotes() -> None:
    """f-Hyperband's k = ⌈κ·n_next⌉ follows the partial bracket: the rung to 3 epochs of 10 drawn
    configs promotes 1, so the first finisher's value is v_1 and the others can stop (the old
    code waited for 3 finishers of 9 promoted configs: 48 epochs)."""
    cs = saturating(n=10, epochs=27)
    warm = warm_rung_predictors(LastSeenValue(), saturating(n=40, epochs=27, seed=11), 27)
    fhb = FHyperband(RandomSearch.from_curves(cs, seed=0), delta=0.5, min_curves=6,
                     predictor=LastSeenValue(), predictors=warm)
    result = replay_schedule(cs, fhb)
    assert dict(Counter(t.epochs for t in result.trials)) == {1: 7, 2: 2, 27: 1}
    assert result.total_epochs == 38
    (winner,) = [t for t in result.trials if t.epochs == 27]
    v_1 = cs.values[int(winner.config_id[1:]), 2]  # its value at the rung's end, epoch 3
    stopped = [t for t in result.trials if t.decision is not None]
    assert len(stopped) == 2
    for t in stopped:
        assert t.decision is not None and t.decision.action.value == "stop"
        assert f"worse than {v_1:.4g})" in t.decision.reason


def test_fhyperband_promotes_hyperbands_number_however_many_it_stopped() -> None:
    """A stopped config counts among the m configs of its rung and ranks below every config that
    finished it: the rung to 3 epochs of the one full bracket (27 → 9 → 3 → 1) stops 6 of its 9
    configs and still promotes ⌊9/3⌋ = 3, as Hyperband does, not ⌊3/3⌋ = 1 of those it trained
    to the rung's end (k = ⌈κ·3⌉ = 3 must be known before the first stop)."""
    cs = saturating(n=27, epochs=27, seed=1)
    warm = warm_rung_predictors(LastSeenValue(), saturating(n=40, epochs=27, seed=11), 27)
    fhb = FHyperband(RandomSearch.from_curves(cs, seed=0), delta=0.5, min_curves=6,
                     predictor=LastSeenValue(), predictors=warm)
    result = replay_schedule(cs, fhb)
    hb = Hyperband(RandomSearch.from_curves(cs, seed=0))
    plain = replay_schedule(cs, hb)
    assert dict(Counter(t.epochs for t in plain.trials)) == {1: 18, 3: 6, 9: 2, 27: 1}
    assert dict(Counter(t.epochs for t in result.trials)) == {1: 18, 2: 6, 4: 2, 27: 1}
    stopped = [t for t in result.trials if t.decision is not None]
    assert sorted(t.epochs for t in stopped) == [2] * 6 + [4] * 2
    promoted = [t for t in result.trials if t.epochs > 3]  # went on from the rung to 3 epochs
    assert len(promoted) == 3 and not {t.config_id for t in promoted} & {
        t.config_id for t in stopped if t.epochs < 3}
    assert (result.total_epochs, plain.total_epochs) == (65, 81)
    assert fhb.selected() == hb.selected()


def test_hyperband_runs_until_the_searcher_is_exhausted_and_is_deterministic_on_4_workers() -> None:
    cs = saturating(n=130, epochs=9, seed=5, seconds=True)

    def run(workers: int) -> list[tuple[str, int, float]]:
        res = replay_schedule(cs, Hyperband(RandomSearch.from_curves(cs, seed=2)), workers=workers)
        assert len(res.trials) == 130  # every config drawn, the last bracket partial
        return [(t.config_id, t.epochs, t.end) for t in res.trials]

    one, four = run(1), run(4)
    assert four == run(4)
    assert sum(e for _, e, _ in one) == sum(e for _, e, _ in four)  # same brackets, same epochs
    assert max(t for _, _, t in four) < max(t for _, _, t in one)
    fifo = replay(cs, RandomSearch.from_curves(cs, seed=2), NeverStop())
    assert sum(e for _, e, _ in one) < fifo.total_epochs


def _fhb(cs: CurveSet, delta: float, fits: FitCache, min_curves: int = 30) -> FHyperband:
    return FHyperband(RandomSearch.from_curves(cs, seed=3), delta=delta, min_curves=min_curves,
                      predictor=SRM(n_draws=4, sigma_folds=5), fits=fits)


def test_fhyperband_keeps_hyperbands_picks_and_stops_less_with_larger_delta() -> None:
    cs = saturating(n=200, epochs=9, seed=6)
    hb = Hyperband(RandomSearch.from_curves(cs, seed=3))
    plain = replay_schedule(cs, hb)
    fits = FitCache()
    stops, epochs = [], []
    for delta in (0.5, 0.95, 0.999):
        fhb = _fhb(cs, delta, fits)
        res = replay_schedule(cs, fhb)
        stops.append(sum(t.decision is not None for t in res.trials))
        epochs.append(res.total_epochs)
        assert {t.config_id for t in res.trials} == {t.config_id for t in plain.trials}
        assert set(fhb.predictors_) == {3, 9}  # rung ends 1 have no τ < 1 to predict from
        if delta >= 0.95:
            assert res.best_config == plain.best_config  # the best of plain Hyperband is kept
            same = sum(a == b for a, b in zip(hb.selected(), fhb.selected(), strict=True))
            assert same >= 0.9 * len(hb.selected())
            assert res.total_epochs < plain.total_epochs
            assert compare_hyperbands(hb, fhb)["warm_speedup_vs_reference"] == warm_speedup(hb, fhb)
    assert stops == sorted(stops, reverse=True) and stops[0] > stops[-1]
    assert epochs == sorted(epochs)
    with pytest.raises(TypeError, match="needs Hyperband and FHyperband"):
        compare_hyperbands(hb, hb)


def test_fhyperband_stops_nothing_before_d_curves_reach_a_rung() -> None:
    cs = saturating(n=60, epochs=9, seed=7)
    fhb = _fhb(cs, 0.5, FitCache(), min_curves=1000)
    res = replay_schedule(cs, fhb)
    assert all(t.decision is None for t in res.trials) and not fhb.predictors_
    plain = replay_schedule(cs, Hyperband(RandomSearch.from_curves(cs, seed=3)))
    assert res.total_epochs == plain.total_epochs
    with pytest.raises(ValueError, match=r"kappa .* must be in \(0, 1\], got 0"):
        FHyperband(RandomSearch(["a"]), kappa=0)
    with pytest.raises(ValueError, match=r"delta .* must be in \(0, 1\], got 1.5"):
        FHyperband(RandomSearch(["a"]), delta=1.5)


def test_run_speedup_compares_fhyperband_with_hyperband() -> None:
    cs = saturating(n=150, epochs=9, seed=8)
    specs = [
        SchedulerSpec("hyperband", lambda c, s, d, f: Hyperband(RandomSearch.from_curves(c, seed=s)),
                      stopper="sh"),
        SchedulerSpec("fhyperband", lambda c, s, d, f: FHyperband(
            RandomSearch.from_curves(c, seed=s), delta=0.95 if d is None else d, min_curves=30,
            predictor=LastSeenValue(), fits=f), stopper="sh+predictive",
            sweeps_delta=True, reference="hyperband", compare=compare_hyperbands),
    ]
    out = run_speedup(cs, {}, [], SpeedupSettings(deltas=(0.95,), orderings=2), schedulers=specs)
    res = out["results"]
    # the run is deterministic (seeded orderings): its numbers, measured once
    hb = select(res, searcher="hyperband", metric="speedup")[0]
    assert hb["n"] == 2 and hb["mean"] == pytest.approx(2.2727, abs=1e-4)  # 9 × 150 / 594
    assert not select(res, searcher="hyperband", metric="speedup_vs_reference")
    vs = select(res, searcher="fhyperband", delta=0.95, metric="speedup_vs_reference")[0]
    assert vs["n"] == 2 and vs["mean"] == pytest.approx(1.0683, abs=1e-4)
    # f-Hyperband picked the same config as Hyperband in both orderings
    same = select(res, searcher="fhyperband", metric="same_selections")[0]
    assert same["mean"] == 1.0
    with pytest.raises(ValueError, match="its reference 'hb' must be one of"):
        run_speedup(cs, {}, [], SpeedupSettings(), schedulers=[
            SchedulerSpec("f", specs[1].make, reference="hb")])


def test_rung_predictors_are_kept_across_searches() -> None:
    cs = saturating(n=120, epochs=9, seed=9)
    first_half, second_half = cs.subset(list(range(60))), cs.subset(list(range(60, 120)))
    first = FHyperband(RandomSearch.from_curves(first_half, seed=1), delta=0.9, min_curves=12,
                       predictor=LastSeenValue())
    replay_schedule(first_half, first)
    assert set(first.predictors_) == {3, 9}
    # a second search over other configs reuses them from its first bracket on
    second = FHyperband(RandomSearch.from_curves(second_half, seed=1), delta=0.9,
                        min_curves=1000, predictor=LastSeenValue(), predictors=first.predictors_)
    res = replay_schedule(second_half, second)
    assert not second.ready_ and set(second.predictors_) == {3, 9}
    assert any(t.decision is not None for t in res.trials[:17])  # first Hyperband iteration


class _InfiniteSigma(LastSeenValue):
    """The last value with an infinite σ (a regression that overflowed)."""

    def predict(self, configs: object, partial: np.ndarray) -> Prediction:  # type: ignore[override]
        prediction = super().predict(None, partial)
        return Prediction(mean=prediction.mean, std=np.full_like(prediction.mean, np.inf))


def test_fhyperband_decides_nothing_on_an_infinite_sigma() -> None:
    """A review (stop 37): f-Hyperband read an infinite σ as a point mass and stopped on the
    mean alone (P(worse) 0 or 1); it now lets such a trial continue, as the predictive rule
    does, so it trains what plain Hyperband trains."""
    cs = saturating(n=60, epochs=9, seed=7)
    fhb = FHyperband(RandomSearch.from_curves(cs, seed=3), delta=0.5, min_curves=6,
                     predictor=_InfiniteSigma(), fits=FitCache())
    res = replay_schedule(cs, fhb)
    assert fhb.predictors_  # the rung predictors were fitted and asked
    plain = replay_schedule(cs, Hyperband(RandomSearch.from_curves(cs, seed=3)))
    assert res.total_epochs == plain.total_epochs
    assert all(t.decision is None or t.decision.action.value != "stop" for t in res.trials)


class _Sure(LastSeenValue):
    """LastSeenValue with σ = 1e-6: P(worse) is 0, or rounds to 1 for a config short of v_k."""

    def predict(self, configs: object, partial: np.ndarray) -> Prediction:
        p = super().predict(configs, partial)  # type: ignore[arg-type]
        return Prediction(mean=p.mean, std=np.full_like(p.std, 1e-6))


def test_fhyperband_at_delta_one_stops_no_config_on_a_prediction() -> None:
    # the partial-bracket study above: its σ = 1e-6 predictor gives P = 1.0 to every config
    # below the rung's v_1; Δ = 0.999 stops them, Δ = 1 none (before: the same 2 as Δ = 0.999)
    cs = saturating(n=10, epochs=27)
    warm = warm_rung_predictors(_Sure(), saturating(n=40, epochs=27, seed=11), 27)
    stops = {}
    for delta in (0.999, 1.0):
        fhb = FHyperband(RandomSearch.from_curves(cs, seed=0), delta=delta, min_curves=6,
                         predictor=_Sure(), predictors=warm)
        res = replay_schedule(cs, fhb)
        stops[delta] = [t.decision for t in res.trials if t.decision is not None]
    assert len(stops[0.999]) == 2 and all(d.probability == 1.0 for d in stops[0.999])
    assert stops[1.0] == []


def test_fhyperband_stops_a_diverged_config_at_the_epoch_it_diverges() -> None:
    """A diverged run (NaN from epoch 2 on) is stopped there, without a prediction (no rung
    predictor is ever fitted here: d = 100), as the predictive stopper stops one; it trained to
    its rung's end before (3 epochs) and its fill reached the predictor.  Plain Hyperband keeps
    training it to the rung's end, where it ranks last and is not promoted."""
    cs = saturating(n=10, epochs=27)
    best_at_1 = int(np.argmax(cs.values[:, 0]))  # promoted to the rung to 3 epochs
    values = cs.values.copy()
    values[best_at_1, 1:] = np.nan
    cs = CurveSet(values=values, observed=cs.observed, epochs=cs.epochs, metric=cs.metric,
                  direction=cs.direction, configs=cs.configs)
    diverged = f"c{best_at_1}"
    plain = replay_schedule(cs, Hyperband(RandomSearch.from_curves(cs, seed=0)))
    fhb = FHyperband(RandomSearch.from_curves(cs, seed=0), min_curves=100)
    result = replay_schedule(cs, fhb)
    assert not fhb.predictors_
    epochs = {t.config_id: t.epochs for t in result.trials}
    plain_epochs = {t.config_id: t.epochs for t in plain.trials}
    assert (plain_epochs[diverged], epochs[diverged]) == (3, 2)
    assert {c: e for c, e in epochs.items() if c != diverged} == {
        c: e for c, e in plain_epochs.items() if c != diverged}
    assert (plain.total_epochs, result.total_epochs) == (40, 39)
    (stopped,) = [t for t in result.trials if t.decision is not None]
    assert stopped.config_id == diverged and stopped.decision is not None
    assert stopped.decision.action.value == "stop" and stopped.decision.probability == 1.0
    assert stopped.decision.mean is None and stopped.decision.reason.startswith("diverged")
    assert diverged not in fhb.selected() and fhb.selected() == [
        t.config_id for t in result.trials if t.epochs == 27]


class _SureClipped(_Sure):
    """_Sure whose every prediction is flagged clipped (as LCE flags its fallbacks)."""

    def predict(self, configs: object, partial: np.ndarray) -> Prediction:
        p = super().predict(configs, partial)
        return Prediction(mean=p.mean, std=p.std, clipped=np.ones(p.mean.shape, dtype=bool))


def test_fhyperband_flags_and_counts_a_decision_on_a_clipped_prediction() -> None:
    """A rung prediction its predictor flagged clipped (LCE: a fallback or an extrapolation
    outside its sanity range) stops configs as before, but the decision says so and
    ``n_clipped_`` counts it, as the predictive stopper does: before, f-Hyperband dropped the
    flag and such a prediction stopped a config silently."""
    cs = saturating(n=10, epochs=27)
    warm = warm_rung_predictors(_SureClipped(), saturating(n=40, epochs=27, seed=11), 27)
    fhb = FHyperband(RandomSearch.from_curves(cs, seed=0), delta=0.999, min_curves=6,
                     predictor=_SureClipped(), predictors=warm)
    res = replay_schedule(cs, fhb)
    stops = [t.decision for t in res.trials if t.decision is not None]
    assert len(stops) == 2  # the same stops as _Sure's (above)
    assert all(d.clipped and d.reason.endswith("(prediction clipped to what the curves "
                                               "support)") for d in stops)
    assert fhb.n_clipped_ >= 2
    plain = FHyperband(RandomSearch.from_curves(cs, seed=0), delta=0.999, min_curves=6,
                       predictor=_Sure(), predictors=warm_rung_predictors(
                           _Sure(), saturating(n=40, epochs=27, seed=11), 27))
    replay_schedule(cs, plain)
    assert plain.n_clipped_ == 0
