"""The paper's prediction experiments (Baker et al. 2017, §4): how well is y_T predicted from y_1..y_τ?

Protocol (the paper's): draw ``train_size`` fully observed curves at random as training set, test
on all the other complete curves, repeat ``repeats`` times with different draws, report mean ±
standard error.  τ = ⌈fraction · T⌉ epochs (epoch 0, the untrained network, is not counted).

Experiments (``experiment`` field of each record):

* ``table1`` — every predictor, the chosen feature groups, every fraction (the paper's Table 1 is
  the 25 % column; its Figure 3 is R² against the fraction);
* ``table2`` — feature ablation: the first predictor on every non-empty subset of TS/AP/HP, at the
  fraction nearest 25 %;
* ``sample_efficiency`` — the first predictor at 25 % with training sets of 10 … ``train_size``;
* ``depth_generalisation`` — trained on configs with ``n_layers`` at or below the median, tested
  on the deeper ones (the paper's shallow → deep ResNet result), when the data has ``n_layers``.

Metrics: ``r2``, ``rmse``, ``kendall_tau`` (predicted vs true final values), ``coverage_68`` and
``coverage_95`` (share of test finals inside mean ± 1σ / ± 1.96σ).  Timings (``fit_seconds``,
``predict_ms_per_config``) vary from run to run, so they are kept apart in ``timings``: the
``results`` of two runs with the same seed are identical.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import r2_score

from curvecast.curves import CurveSet, diverged_fill, fill_diverged
from curvecast.features import GROUPS, groups_label
from curvecast.predictors import Predictor

#: Builds a predictor for a feature-group set and a seed.
PredictorFactory = Callable[[frozenset[str], int], Predictor]

EXPERIMENTS = ("table1", "table2", "sample_efficiency", "depth_generalisation")
QUALITY_METRICS = ("r2", "rmse", "kendall_tau", "coverage_68", "coverage_95")


@dataclass(frozen=True)
class PredictionSettings:
    """Settings of :func:`run_prediction_experiments` (recorded in the JSON output).

    ``max_test`` caps the test configs per repeat for every predictor named in ``slow`` (per-curve
    MCMC predictors cost seconds per config); the cap is a random subset, the same for all of them.
    """

    train_size: int = 100
    repeats: int = 10
    fractions: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75)
    features: frozenset[str] = frozenset(GROUPS)
    seed: int = 0
    experiments: tuple[str, ...] = EXPERIMENTS
    sample_sizes: tuple[int, ...] = (10, 20, 30, 50, 75, 100)
    max_test: int = 50
    slow: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.train_size < 6:
            raise ValueError(f"train_size must be at least 6, got {self.train_size}")
        if self.repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {self.repeats}")
        if not self.fractions or any(not 0 < f < 1 for f in self.fractions):
            raise ValueError(f"fractions must lie in (0, 1), got {self.fractions}")
        # a size of -5 trained on order[:-5], test curves among them (a review)
        if any(n < 1 for n in self.sample_sizes):
            raise ValueError(f"sample_sizes must be whole numbers >= 1, got {self.sample_sizes}")
        if self.max_test < 1:
            raise ValueError(f"max_test must be at least 1, got {self.max_test}")
        unknown = set(self.experiments) - set(EXPERIMENTS)
        if unknown:
            raise ValueError(f"unknown experiments {sorted(unknown)}: choose from {EXPERIMENTS}")

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["features"] = groups_label(self.features)
        out["slow"] = sorted(self.slow)
        return out


def tau_for(fraction: float, n_epochs: int) -> int:
    """Observed epochs for a fraction of a curve of ``n_epochs``: ⌈fraction·T⌉, within 1..T−1."""
    return min(max(math.ceil(fraction * n_epochs - 1e-9), 1), n_epochs - 1)


def quality(truth: np.ndarray, mean: np.ndarray, std: np.ndarray,
            labels: Sequence[Any] | None = None) -> dict[str, float]:
    """The quality metrics of one prediction of ``truth`` (all shape ``(n,)``; ``labels``, the
    test configs' names, only for the error message).

    R² and RMSE are computed on values divided by a power of ten near the largest ``|truth|``
    (RMSE scaled back), so that metrics of 1e-170 or 1e300 do not underflow or overflow when
    squared (R² = 1 or NaN, silently); they do not depend on the metric's units.  R² is NaN when
    every ``truth`` is the same (undefined, as Kendall's τ is).  A ``std`` of 0 is a point
    prediction: it covers ``truth`` only when it equals it.

    Raises:
        ValueError: no value to score, or a prediction that is NaN or ±inf (or a NaN std): the
            measures would be undefined (scikit-learn's "Input contains NaN"), so the caller
            learns which predictions failed instead.
    """
    truth, mean, std = (np.asarray(a, dtype=np.float64) for a in (truth, mean, std))
    if truth.size == 0:
        raise ValueError("no test curve to score: quality needs at least one prediction")
    bad = ~np.isfinite(mean) | np.isnan(std)
    if bad.any():
        where = ", ".join(str(labels[i]) if labels is not None else f"position {i}"
                          for i in np.flatnonzero(bad)[:5])
        raise ValueError(f"the predictor returned a NaN or ±inf mean (or a NaN std) for "
                         f"{int(bad.sum())} of {mean.size} test curves ({where}"
                         f"{', …' if bad.sum() > 5 else ''}): R², RMSE, Kendall's τ and the "
                         "coverages are undefined")
    gap = np.abs(truth - mean)
    point = std == 0  # a point prediction covers the truth only when it hits it (0/0 is NaN)
    z = np.where(point, np.where(gap == 0, 0.0, np.inf), gap / np.where(point, 1.0, std))
    tau = stats.kendalltau(mean, truth).statistic if len(truth) > 1 else float("nan")
    finite = np.abs(truth[np.isfinite(truth)])
    top = float(finite.max()) if finite.size else 0.0
    scale = 10.0 ** math.floor(math.log10(top)) if top > 0 else 1.0
    t, m = truth / scale, mean / scale
    # R² of final values that are all equal is undefined (no variance to explain), not 0
    # (scikit-learn's force_finite); NaN, as Kendall's τ is there
    r2 = float(r2_score(t, m)) if np.ptp(t) > 0 else float("nan")
    return {
        "r2": r2,
        "rmse": float(np.sqrt(np.mean((t - m) ** 2))) * scale,
        "kendall_tau": float(tau),
        "coverage_68": float(np.mean(z <= 1.0)),
        "coverage_95": float(np.mean(z <= 1.96)),
    }


@dataclass
class _Collector:
    results: list[dict[str, Any]] = field(default_factory=list)
    timings: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    _cells: dict[tuple[Any, ...], list[dict[str, float]]] = field(default_factory=dict)
    _times: dict[tuple[Any, ...], list[dict[str, float]]] = field(default_factory=dict)

    def skip(self, key: tuple[Any, ...], reason: str) -> None:
        names = ("experiment", "predictor", "features", "fraction", "train_size")
        record = {**dict(zip(names, key, strict=True)), "reason": reason}
        if record not in self.skipped:
            self.skipped.append(record)

    def add(self, key: tuple[Any, ...], metrics: dict[str, float], times: dict[str, float]) -> None:
        self._cells.setdefault(key, []).append(metrics)
        self._times.setdefault(key, []).append(times)

    def finish(self) -> None:
        names = ("experiment", "predictor", "features", "fraction", "train_size")
        for store, out in ((self._cells, self.results), (self._times, self.timings)):
            for key, rows in store.items():
                for metric in rows[0]:
                    vals = np.array([r[metric] for r in rows], dtype=np.float64)
                    ok = vals[np.isfinite(vals)]
                    n = int(ok.size)
                    out.append({**dict(zip(names, key, strict=True)), "metric": metric,
                                "mean": float(ok.mean()) if n else float("nan"),
                                "stderr": float(ok.std(ddof=1) / np.sqrt(n)) if n > 1 else None,
                                "n": n})


def _evaluate(factory: PredictorFactory, groups: frozenset[str], seed: int, train: CurveSet,
              test: CurveSet, tau: int) -> tuple[dict[str, float], dict[str, float]]:
    t0 = time.perf_counter()
    predictor = factory(groups, seed).fit(train)
    # a diverged input counts as the worst value of what is known when the prediction is made
    # (History's one rule: every value in the view): the training curves and the test curves up
    # to τ.  The test set's own worst value (test.filled_values()) is taken over every test
    # curve to its last epoch, beyond τ (a review); the training curves' alone can be better
    # than a test curve's own values before it diverged (a later review).  The targets keep
    # the test set's fill (test.final_values()).  With a stated diverged_value both are that
    # value, and the published tables' data has none diverged: their numbers are unchanged.
    trained = test.without_untrained_epoch()
    if not 1 <= tau <= trained.n_epochs:
        raise ValueError(f"tau must be in 1..{trained.n_epochs}, got {tau}")
    seen_train = train.without_untrained_epoch()
    known = np.concatenate([seen_train.values[seen_train.observed],
                            trained.values[:, :tau][trained.observed[:, :tau]]])
    inputs = fill_diverged(trained.values[:, :tau], trained.observed[:, :tau], trained.direction,
                           diverged_fill(trained.direction, known, train.diverged_value))
    predictor.predict(test.configs.iloc[:1], inputs[:1])  # counts lazily fitted models as fitting
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    pred = predictor.predict(test.configs, inputs)
    per_config_ms = 1000 * (time.perf_counter() - t1) / max(test.n_configs, 1)
    metrics = quality(test.final_values(), pred.mean, pred.std, labels=list(test.configs.index))
    # the share of predictions a bounded predictor clipped to what its training curves support
    metrics["clipped"] = float(np.mean(pred.clipped)) if pred.clipped is not None else 0.0
    return metrics, {"fit_seconds": fit_s, "predict_ms_per_config": per_config_ms}


def run_prediction_experiments(
    curves: CurveSet,
    predictors: Mapping[str, PredictorFactory],
    settings: PredictionSettings,
    on_step: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the selected experiments; returns ``{"settings", "results", "timings", "skipped"}``.

    ``results`` and ``timings`` are tidy records; ``skipped`` lists the cells a predictor refused
    (e.g. a feature group with no columns on this data), with the reason, instead of losing the run.

    ``on_step(description, done, total)`` is called after every repeat of every experiment.

    Raises:
        ValueError: fewer complete curves than ``train_size + 10``, or, for table 1, two
            fractions that observe the same epochs (⌈f·T⌉: one result under two labels).
    """
    trained = curves.without_untrained_epoch()
    complete = trained.subset(np.asarray(trained.is_complete(), dtype=bool))
    if complete.n_configs < settings.train_size + 10:
        raise ValueError(f"{complete.n_configs} complete curves: need at least train_size + 10 = "
                         f"{settings.train_size + 10}")
    T = complete.n_epochs
    by_tau: dict[int, list[float]] = {}
    for f in settings.fractions:
        by_tau.setdefault(tau_for(f, T), []).append(f)
    # every clash at once, so one correction is enough (a review: 0.1,0.25,0.5,0.75 of 3
    # epochs named only 0.1 and 0.25, and the next try refused 0.5 and 0.75)
    same = [fs for fs in by_tau.values() if len(fs) > 1]
    # table 1 reports every fraction (the others read the one nearest 25 %); with one epoch
    # there is nothing to observe, and each cell says so
    if same and T > 1 and "table1" in settings.experiments:
        clashes = "; ".join(f"fractions {', '.join(f'{f:g}' for f in fs)} all observe "
                            f"{tau_for(fs[0], T)} of the {T} epochs" for fs in same)
        raise ValueError(f"{clashes} (⌈fraction·T⌉, at least 1 and at most T − 1): give "
                         "fractions that observe different epochs")
    names = list(predictors)
    first = names[0]
    col = _Collector()
    quarter = min(settings.fractions, key=lambda f: abs(f - 0.25))
    plan: list[tuple[str, str, frozenset[str], float, int]] = []
    if "table1" in settings.experiments:
        plan += [("table1", p, settings.features, f, settings.train_size)
                 for p in names for f in settings.fractions]
    if "table2" in settings.experiments:
        subsets = [frozenset(c) for k in (1, 2, 3) for c in itertools.combinations(GROUPS, k)]
        plan += [("table2", first, s, quarter, settings.train_size) for s in subsets]
    if "sample_efficiency" in settings.experiments:
        plan += [("sample_efficiency", first, settings.features, quarter, n)
                 for n in settings.sample_sizes if n <= settings.train_size]
    total = settings.repeats * (len(plan) + ("depth_generalisation" in settings.experiments))
    done = 0
    for rep in range(settings.repeats):
        rng = np.random.default_rng([settings.seed, rep])
        order = rng.permutation(complete.n_configs)
        for exp, name, groups, fraction, size in plan:
            train = complete.subset(order[:size])
            test_rows = order[settings.train_size:]
            if name in settings.slow:
                test_rows = test_rows[: settings.max_test]
            test = complete.subset(test_rows)
            key = (exp, name, groups_label(groups), fraction, size)
            try:
                metrics, times = _evaluate(predictors[name], groups, settings.seed + rep, train,
                                           test, tau_for(fraction, T))
            except ValueError as err:  # e.g. a feature group with no columns on this data
                col.skip(key, str(err))
            else:
                col.add(key, metrics, times)
            done += 1
            if on_step:
                on_step(f"{exp} {name} {groups_label(groups)} {fraction:g}", done, total)
        if "depth_generalisation" in settings.experiments:
            key = ("depth_generalisation", first, groups_label(settings.features), quarter,
                   settings.train_size)
            depth = (pd.to_numeric(complete.configs["n_layers"], errors="coerce")
                     .to_numpy(dtype=np.float64) if "n_layers" in complete.configs else None)
            if depth is None:
                col.skip(key, "the configs have no n_layers column (each architecture's depth)")
            elif not np.isfinite(depth).any():  # was a RuntimeWarning and "median depth nan"
                col.skip(key, "the configs' n_layers column has no number (each "
                              "architecture's depth)")
            else:
                cut = float(np.nanmedian(depth))
                shallow = np.flatnonzero(depth <= cut)
                deep = np.flatnonzero(depth > cut)
                if shallow.size >= 10 and deep.size >= 10:
                    pick = rng.permutation(shallow)[: settings.train_size]
                    cell = ("depth_generalisation", first, groups_label(settings.features),
                            quarter, int(pick.size))
                    try:  # as the other experiments' cells: skipped with why, not a crash
                        metrics, times = _evaluate(predictors[first], settings.features,
                                                   settings.seed + rep, complete.subset(pick),
                                                   complete.subset(deep), tau_for(quarter, T))
                    except ValueError as err:
                        col.skip(cell, str(err))
                    else:
                        col.add(cell, metrics, times)
                else:
                    col.skip(key, f"too few complete configs on one side of the median depth "
                                  f"{cut:g} ({shallow.size} at or below it, {deep.size} above; "
                                  "10 on each side needed)")
            done += 1
            if on_step:
                on_step(f"depth_generalisation {first}", done, total)
    col.finish()
    return {"settings": {**settings.as_dict(), "predictors": names, "epochs": T,
                         "complete_configs": complete.n_configs},
            "results": col.results, "timings": col.timings, "skipped": col.skipped}


def paper_table1() -> dict[str, dict[str, float]]:
    """The paper's Table 1 (R² at 25 %, 100 training configs), by baker2018 file stem."""
    return {
        "metaqnn_cifar10": {"svr-rbf": 0.9422, "svr-linear": 0.9444, "rf": 0.9227, "ols": 0.9322},
        "deep_resnets_tinyimagenet": {"svr-rbf": 0.8578, "svr-linear": 0.918, "rf": 0.9137,
                                      "ols": 0.9015},
        "lstm_ptb": {"svr-rbf": 0.8329, "svr-linear": 0.9859, "rf": 0.9138, "ols": 0.898},
    }


def select(records: Sequence[Mapping[str, Any]], **where: Any) -> list[Mapping[str, Any]]:
    """The records whose fields equal every ``where`` item."""
    return [r for r in records if all(r.get(k) == v for k, v in where.items())]
