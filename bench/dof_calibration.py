"""Upper-tail calibration of ``HorizonChain``'s Student-t with few finished curves: the
Welch–Satterthwaite degrees of freedom (the default) against the links' variance estimates taken
as fully correlated (``dof_rule="correlated"``: s = Σ vᵢ/√dofᵢ carried through the links,
dof = var²/s²; never above Welch's).

The correlated rule is not in the library (stop 28 kept Welch); apply its patch to a scratch
clone first:

    git clone -q . /tmp/dof && git -C /tmp/dof apply "$PWD/bench/patches/dof_rule.patch"
    PYTHONPATH=/tmp/dof/src .venv/bin/python bench/dof_calibration.py 40 \\
        > bench/results/dof_calibration.jsonl

Per development set (friedman-sgd, the held-out set, is not used), 40 repeats: ``n`` finished
training curves (5, 10, 20), plus ``3n`` partial ones cut at a uniform epoch in 1..T−1 or none,
τ = 10 % and 25 % of T; 100 held-out finished curves per repeat.  One JSON line per set, setting
and rule: the share of held-out finals above the predicted 90/95/99 % upper quantile (modelled
scale), P(final better than the best training final) predicted and observed, the median dof, and
``bins``: [count, Σ predicted, observed] for P(better) in [0, 1e-3), [1e-3, 1e-2), [1e-2, 3e-2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stopping_benchmark import DATA, load

from curvecast.predictors import HorizonChain

QUANTILES = (0.90, 0.95, 0.99)
BINS = ((0.0, 1e-3), (1e-3, 1e-2), (1e-2, 3e-2))
HELD = 100


def main() -> None:
    repeats = int(sys.argv[1])
    try:
        HorizonChain(dof_rule="correlated")  # type: ignore[call-arg]
    except TypeError:
        sys.exit("HorizonChain has no dof_rule: apply bench/patches/dof_rule.patch (docstring)")
    for name in [d for d in DATA if d != "friedman-sgd"]:
        curves = load(DATA[name])
        values, configs = curves.filled_values(), curves.configs
        n_curves, T = values.shape
        for partial in (0, 3):
            for n_fin in (5, 10, 20):
                for fraction in (0.10, 0.25):
                    tau = max(2, round(fraction * T))
                    rows = {r: {"exc": np.zeros(3), "pb": 0.0, "ob": 0, "n": 0, "dof": [],
                                "bins": np.zeros((3, 3))} for r in ("welch", "correlated")}
                    for repeat in range(repeats):
                        rng = np.random.default_rng(1000 * repeat + 7)
                        order = rng.permutation(n_curves)
                        n_partial = partial * n_fin
                        train = order[: n_fin + n_partial]
                        held = order[n_fin + n_partial: n_fin + n_partial + HELD]
                        observed = np.full(train.size, T)
                        observed[n_fin:] = rng.integers(1, T, n_partial)
                        for rule, acc in rows.items():
                            chain = HorizonChain(dof_rule=rule).fit_arrays(  # type: ignore[call-arg]
                                values[train].copy(), observed, curves.direction,
                                configs=configs.iloc[train])
                            m, s, d, _ = chain.predict_latent(values[held, :tau],
                                                              configs.iloc[held])
                            y = chain._to_u(values[held, -1])
                            best = float(np.max(chain.u_[:n_fin, -1]))
                            acc["exc"] += [(y > m + s * stats.t.ppf(q, d)).sum()
                                           for q in QUANTILES]
                            p_better = stats.t.sf((best - m) / s, d)
                            acc["pb"] += float(p_better.sum())
                            acc["ob"] += int((y > best).sum())
                            acc["n"] += held.size
                            acc["dof"].append(np.median(d))
                            for k, (lo, hi) in enumerate(BINS):
                                sel = (p_better >= lo) & (p_better < hi)
                                acc["bins"][k] += [sel.sum(), p_better[sel].sum(),
                                                   (y[sel] > best).sum()]
                    for rule, acc in rows.items():
                        print(json.dumps({
                            "data": name, "partial": partial, "n_fin": n_fin,
                            "tau_frac": fraction, "tau": tau, "rule": rule, "n": acc["n"],
                            **{f"exc{int(q * 100)}": acc["exc"][i] / acc["n"]
                               for i, q in enumerate(QUANTILES)},
                            "p_better_pred": acc["pb"] / acc["n"],
                            "p_better_obs": acc["ob"] / acc["n"],
                            "median_dof": float(np.median(acc["dof"])),
                            "bins": acc["bins"].tolist()}), flush=True)


if __name__ == "__main__":
    main()
