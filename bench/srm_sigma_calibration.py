"""Calibration of the SRM's σ: ``sigma_model="per_tau"`` (one σ_τ) against ``"local"`` (σ_τ(ŷ)),
in metric units and on the arcsin(√y) scale (``arcsine_target=True``, metrics in [0, 1]).

For each data set and split seed: train an SRM on a random ``--train`` complete configs, predict
the final value of every other complete config from its first τ epochs, and report per τ the
coverage of the ±1σ and ±1.96σ intervals (nominal 68.3 % / 95 %) and the mean Gaussian
log-likelihood of the true final values, over all test configs and over the quarter with the
highest predictions (``top25``: where a stopping rule's decisions are made).  Both σ models
share the same fitted regressors (the mean is identical); only σ differs, so one fit per τ
serves both.  The arcsine variants (``arcsine_per_tau``, ``arcsine_local``) are a second fit on
the transformed scale; their predictive distribution is Gaussian there, so coverage is read from
``Prediction.cdf`` (the central 68.3 % / 95 % intervals) and the log-likelihood is the density of y
in metric units (the Gaussian's density on the arcsine scale times d arcsin(√y)/dy).

    nice -n 5 .venv/bin/python bench/srm_sigma_calibration.py data/digits-metaqnn.parquet \\
        ../shared/data/baker2018/metaqnn_cifar10.csv --out bench/results/srm_sigma_calibration.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from curvecast import CurveSet
from curvecast.predictors import SRM


def load(path: Path) -> CurveSet:
    if path.suffix == ".csv":
        from curvecast.datasets.baker2018 import load_baker2018

        return load_baker2018(path).without_untrained_epoch()
    return CurveSet.load(path).without_untrained_epoch()  # read once: a recording may grow


def scores(y: np.ndarray, mean: np.ndarray, std: np.ndarray, *,
           arcsine: bool = False) -> dict[str, float]:
    """Coverage of the central ±1σ / ±1.96σ intervals, mean log-likelihood (metric units) and the
    median std, of Gaussians ``mean ± std`` — on the arcsin(√y) scale when ``arcsine``."""
    x = np.arcsin(np.sqrt(np.clip(y, 0.0, 1.0))) if arcsine else y
    z = np.abs(x - mean) / std
    loglik = -0.5 * np.log(2 * np.pi) - np.log(std) - 0.5 * z**2
    if arcsine:  # density of y: times |d arcsin(√y) / dy| = 1 / (2 √(y (1 − y)))
        loglik -= np.log(2 * np.sqrt(np.clip(y * (1 - y), 1e-12, None)))
    return {"cover_1sigma": float(np.mean(z <= 1.0)), "cover_1.96sigma": float(np.mean(z <= 1.96)),
            "mean_loglik": float(np.mean(loglik)), "median_std": float(np.median(std))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", type=Path)
    parser.add_argument("--train", type=int, default=200)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--taus", default="1,2,5,10")
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("bench/results/srm_sigma_calibration.json"))
    args = parser.parse_args()
    taus = [int(t) for t in args.taus.split(",")]
    rows: list[dict[str, Any]] = []
    for path in args.data:
        curves = load(path)
        curves = curves.subset(np.asarray(curves.is_complete(), dtype=bool))
        values = curves.filled_values()
        for split in range(args.splits):
            order = np.random.default_rng(split).permutation(curves.n_configs)
            tr, te = np.sort(order[: args.train]), np.sort(order[args.train:])
            t0 = time.perf_counter()
            srm = SRM(n_draws=args.draws, sigma_model="local", random_state=split)
            srm.fit(curves.subset(tr))
            bounded = bool(np.all((values >= 0) & (values <= 1)))
            arc = (SRM(n_draws=args.draws, sigma_model="local", random_state=split,
                       arcsine_target=True).fit(curves.subset(tr)) if bounded else None)
            test = curves.subset(te)
            y = values[te, -1]
            for tau in taus:
                model = srm.model(tau)
                pred = srm.predict(test.configs, values[te, :tau])
                mean, local = pred.mean, pred.std
                top = mean >= np.quantile(mean, 0.75)
                variants = [("per_tau", mean, np.full(mean.shape, model.sigma_), False),
                            ("local", mean, local, False)]
                if arc is not None:
                    a = arc.predict(test.configs, values[te, :tau])
                    assert a.latent_mean is not None and a.latent_std is not None
                    variants += [("arcsine_per_tau", a.latent_mean,
                                  np.full(mean.shape, arc.model(tau).sigma_), True),
                                 ("arcsine_local", a.latent_mean, a.latent_std, True)]
                for name, m, std, on_arcsine in variants:
                    for subset, sel in (("all", slice(None)), ("top25", top)):
                        rows.append({"data": path.name, "split": split, "tau": tau,
                                     "sigma": name, "subset": subset, "n_train": len(tr),
                                     "n_test": len(y[sel]),
                                     **scores(y[sel], m[sel], std[sel], arcsine=on_arcsine)})
                        print(json.dumps(rows[-1]), flush=True)
            print(f"# {path.name} split {split}: {time.perf_counter() - t0:.0f} s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "srm_sigma_calibration",
                                    "command": "python " + " ".join(sys.argv),
                                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                    "results": rows}, indent=1))


if __name__ == "__main__":
    main()
