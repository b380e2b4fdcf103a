"""Fit time and prediction latency of every curvecast predictor (issue 4; PAPER.md §1 "Timing").

Setting: ``metaqnn_cifar10.csv`` (Baker et al.'s published MetaQNN CIFAR-10 curves, 20 epochs),
``--train-size`` random fully observed curves (100, the paper's n) as training set, τ = ``--tau``
observed epochs (5 = 25 % of 20).  For every predictor:

* ``fit_seconds`` — the time to make it ready to predict at τ: ``fit(train)`` and, for an SRM,
  ``fit_taus([tau])`` (the random search over ``--draws`` settings with 3-fold CV, the refit and
  the 10-fold out-of-fold σ); for the BNN the whole ensemble (it serves every τ); for
  LastSeenValue and LCE, which learn nothing across curves, the bookkeeping only;
* ``predict_ms_per_config`` — the time of one ``predict`` call over a batch of test configs divided
  by the batch size (``--batch`` configs; LCE: ``--lce-curves``, one MCMC per curve);
* ``predict_ms_single`` — the latency of a ``predict`` call for one config (what an early-stopping
  rule pays when one run reports an epoch).

Each number is the median over ``repeats`` (different training draws for the fit, the same fitted
model for the predictions); min and max are kept too.  A row ``svr-rbf-one-fit`` times a single
ν-SVR RBF fit with fixed settings (standardise + NuSVR on the 100 × features matrix of τ = 5,
no search, no σ), which is what the paper's "0.006 s to train on 100 points" measures.

The machine is shared (other jobs may run); its load average at start and end is recorded.

    .venv/bin/python bench/predictors.py --out bench/results/predictors.json
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from curvecast import predictors as p
from curvecast.curves import CurveSet
from curvecast.datasets.baker2018 import load_baker2018

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/baker2018/metaqnn_cifar10.csv"

#: The paper's timings (one CPU core): PAPER.md §1.
PAPER = {
    "svr-rbf": {"fit_seconds": 0.006, "predict_seconds_per_config": 0.00006,
                "note": "nu-SVR trains on 100 points in 0.006 s, predicts in 0.00006 s"},
    "lce": {"predict_seconds_per_config": 60.0, "note": "~60 s per prediction (MCMC)"},
    "bnn": {"seconds": 0.024, "note": "0.024 s (the paper does not say fit or predict)"},
}


def _machine() -> dict[str, Any]:
    packages = {}
    for name in ("curvecast", "numpy", "scipy", "scikit-learn", "pandas", "emcee", "torch"):
        try:
            packages[name] = md.version(name)
        except md.PackageNotFoundError:
            packages[name] = None
    return {"platform": platform.platform(), "machine": platform.machine(),
            "processor": platform.processor(), "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "packages": packages,
            "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}}


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def _factories(draws: int) -> dict[str, Callable[[int], p.Predictor]]:
    def srm(spec: Callable[[], p.RegressorSpec]) -> Callable[[int], p.Predictor]:
        return lambda seed: p.SRM(regressor=spec(), n_draws=draws, random_state=seed)

    return {
        "srm": srm(p.svr_rbf_or_ridge),
        "svr-rbf": srm(p.nu_svr_rbf),
        "svr-linear": srm(p.nu_svr_linear),
        "rf": srm(p.random_forest),
        "ols": srm(p.ols),
        "last-value": lambda seed: p.LastSeenValue(),
        "bnn": lambda seed: p.BNN(random_state=seed),
        "lce-fast": lambda seed: p.LCE.fast(random_state=seed),
        "lce": lambda seed: p.LCE(random_state=seed),
    }


def bench_one(name: str, make: Callable[[int], p.Predictor], curves: CurveSet, *, tau: int,
              train_size: int, repeats: int, predict_repeats: int, batch: int, seed: int
              ) -> dict[str, Any]:
    fits: list[float] = []
    model: p.Predictor | None = None
    test: CurveSet | None = None
    for rep in range(repeats):
        order = np.random.default_rng([seed, rep]).permutation(curves.n_configs)
        train = curves.subset(order[:train_size])
        if test is None:
            test = curves.subset(order[train_size: train_size + batch])

        def fit(train: CurveSet = train, rep: int = rep) -> p.Predictor:
            m = make(seed + rep).fit(train)
            if isinstance(m, p.SRM):
                m.fit_taus([tau])
            return m

        seconds, fitted = _timed(fit)
        fits.append(seconds)
        model = model or fitted
    assert model is not None and test is not None
    values = test.filled_values()[:, :tau]
    batch_ms: list[float] = []
    single_ms: list[float] = []
    if predict_repeats > 1:  # warm-up (imports, caches): not counted
        model.predict(test.configs.iloc[:1], values[:1])
    for _ in range(predict_repeats):
        seconds, _ = _timed(model.predict, test.configs, values)
        batch_ms.append(1000 * seconds / test.n_configs)
        one = test.configs.iloc[:1]
        seconds, _ = _timed(model.predict, one, values[:1])
        single_ms.append(1000 * seconds)
    return {"predictor": name, "model": repr(model), "tau": tau, "train_size": train_size,
            "fit_seconds": _summary(fits), "batch_size": test.n_configs,
            "predict_ms_per_config": _summary(batch_ms), "predict_ms_single": _summary(single_ms)}


def bench_one_svr_fit(curves: CurveSet, *, tau: int, train_size: int, repeats: int, seed: int
                      ) -> dict[str, Any]:
    """A single ν-SVR RBF fit with scikit-learn's default settings: the paper's 0.006 s."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import NuSVR

    from curvecast.features import Featurizer

    fits: list[float] = []
    preds: list[float] = []
    for rep in range(repeats):
        order = np.random.default_rng([seed, rep]).permutation(curves.n_configs)
        train = curves.subset(order[:train_size])
        test = curves.subset(order[train_size: train_size + 200])
        feat = Featurizer().fit(train)
        X = feat.transform(train.configs, train.filled_values()[:, :tau])
        Xt = feat.transform(test.configs, test.filled_values()[:, :tau])
        y = train.final_values()
        model = make_pipeline(StandardScaler(), NuSVR(kernel="rbf"))
        seconds, _ = _timed(model.fit, X, y)
        fits.append(seconds)
        seconds, _ = _timed(model.predict, Xt)
        preds.append(1000 * seconds / Xt.shape[0])
    return {"predictor": "svr-rbf-one-fit",
            "model": "StandardScaler + NuSVR(kernel='rbf') with default C, nu, gamma; "
                     "features precomputed",
            "tau": tau, "train_size": train_size, "n_features": int(X.shape[1]),
            "fit_seconds": _summary(fits), "batch_size": 200,
            "predict_ms_per_config": _summary(preds), "predict_ms_single": None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=Path("bench/results/predictors.json"))
    ap.add_argument("--predictors", default="srm,svr-rbf,svr-linear,rf,ols,last-value,bnn,"
                                            "lce-fast,lce")
    ap.add_argument("--tau", type=int, default=5)
    ap.add_argument("--train-size", type=int, default=100)
    ap.add_argument("--draws", type=int, default=50, help="random-search draws per SRM model")
    ap.add_argument("--repeats", type=int, default=5, help="fits per predictor")
    ap.add_argument("--slow-repeats", type=int, default=3,
                    help="fits for svr-linear, rf and bnn")
    ap.add_argument("--predict-repeats", type=int, default=20)
    ap.add_argument("--batch", type=int, default=200, help="test configs per predict call")
    ap.add_argument("--lce-curves", type=int, default=5,
                    help="curves per predict call for lce-fast (lce: 3, one repeat)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    curves = load_baker2018(args.data).without_untrained_epoch()
    factories = _factories(args.draws)
    names = [n.strip() for n in args.predictors.split(",") if n.strip()]
    unknown = [n for n in names if n not in factories]
    if unknown:
        ap.error(f"unknown predictors {unknown}: choose from {sorted(factories)}")
    load_start = os.getloadavg()
    started = time.time()
    rows = [bench_one_svr_fit(curves, tau=args.tau, train_size=args.train_size,
                              repeats=args.repeats * 4, seed=args.seed)]
    print(json.dumps(rows[-1]), flush=True)
    for name in names:
        repeats, predict_repeats, batch = args.repeats, args.predict_repeats, args.batch
        if name in ("svr-linear", "rf", "bnn"):
            repeats = args.slow_repeats
        if name == "lce-fast":
            repeats, predict_repeats, batch = 1, 3, args.lce_curves
        if name == "lce":
            repeats, predict_repeats, batch = 1, 1, 3
        row = bench_one(name, factories[name], curves, tau=args.tau, train_size=args.train_size,
                        repeats=repeats, predict_repeats=predict_repeats, batch=batch,
                        seed=args.seed)
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = {"benchmark": "predictors", "data": str(args.data), "seed": args.seed,
           "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
           "machine": _machine(), "load_average_start": load_start,
           "load_average_end": os.getloadavg(),
           "wall_seconds": time.time() - started, "paper": PAPER, "results": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
