"""Train (and score leave one data set out) the learned, transferred stopping model.

The model (``curvecast.stopping.learned``) outputs P(a running trial's final value ends better
than the best complete final so far | what the study has seen), from scale-free, study-relative
features.  Its training rows come from simulated studies over the recorded development sets
(``protocol_sim``'s protocol: 200 trials, a config drawn with replacement per trial, its curve
reported epoch by epoch), with a stopping policy running so that the mix of partial and
complete curves looks like a real study's: Optuna-style percentile rules (25th, 50th and 75th
percentile of the complete trials at the same step) and, in a second round, the learned rule
itself at a few thresholds (data aggregation).  Each row is labelled from the recorded final
value.  The model is a small MLP (scikit-learn), exported to ``.npz`` (plain arrays).

Two commands:

* ``--loo``: for every development set d, train on the other five, choose the threshold (and
  minimum of complete trials) on those five with ``protocol_sim.run_study``, then score d with
  ``run_study`` (``--seeds`` seeds) next to ``median`` and ``curvecast``; writes a JSON.
* ``--ship``: train on all six development sets, choose the threshold on them the same way,
  write ``src/curvecast/stopping/transfer_model.npz``;
* ``--held-out``: score the shipped model (and the baselines) on friedman-sgd, once.

friedman-sgd is never read except by ``--held-out``.

    .venv/bin/python bench/train_transfer.py --loo --out bench/results/transfer_loo.json
    .venv/bin/python bench/train_transfer.py --ship --out bench/results/transfer_ship.json
    .venv/bin/python bench/train_transfer.py --held-out --out bench/results/transfer_held_out.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import Rule, curvecast_rule, median_rule, run_study
from stopping_benchmark import DATA, load

from curvecast.stopping import History, Trial
from curvecast.stopping.learned import FEATURES, LearnedStopper, TransferModel, transfer_features

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "curvecast" / "stopping" / "transfer_model.npz"
HELD_OUT = "friedman-sgd"
DEVELOPMENT = tuple(d for d in DATA if d != HELD_OUT)
THRESHOLDS = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)  # the grid the threshold is chosen from
POLICY_THRESHOLDS = (0.003, 0.01, 0.03, 0.1)  # the learned rule's settings in round 2
MIN_COMPLETE = (5,)
HIDDEN = (32, 16)
KEEP = 0.9  # best kept in ≥ 90 % of the seeds counts as safe (9 of 10)
TRAIN_SEEDS = range(1000, 1012)  # studies per set and round, never the scoring seeds 0..9
ROUND2_SEEDS = range(1100, 1108)  # the learned rule's own studies (second round)
SELECT_SEEDS = range(2000, 2005)  # threshold selection studies on the training sets


def percentile_policy(sign: float, q: float) -> Callable[[np.ndarray, np.ndarray, np.ndarray, int], bool]:
    """Optuna's PercentilePruner(q) with 5 startup trials and no warm-up, on arrays."""
    def decide(rows: np.ndarray, n_obs: np.ndarray, curve: np.ndarray, i: int) -> bool:
        T = rows.shape[1]
        complete = n_obs[:i] == T
        if complete.sum() < 5:
            return False
        ref = np.percentile(sign * rows[:i][complete, len(curve) - 1], q)
        return bool(np.max(sign * curve) < ref)
    return decide


def learned_policy(model: TransferModel, sign: float, threshold: float, min_complete: int
                   ) -> Callable[[np.ndarray, np.ndarray, np.ndarray, int], bool]:
    def decide(rows: np.ndarray, n_obs: np.ndarray, curve: np.ndarray, i: int) -> bool:
        if int(np.count_nonzero(n_obs[:i] == rows.shape[1])) < min_complete:
            return False
        x = transfer_features(rows[: i + 1], n_obs[: i + 1], i, sign)
        return x is not None and float(model.predict_proba(x)[0]) < threshold
    return decide


def simulate(values: np.ndarray, sign: float,
             policy: Callable[[np.ndarray, np.ndarray, np.ndarray, int], bool],
             trials: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training rows (features, label) of one study run under ``policy`` (run_study's protocol:
    the same draw of configs for a seed)."""
    rng = np.random.default_rng(seed)
    n, T = values.shape
    rows = np.full((trials, T), np.nan)
    n_obs = np.zeros(trials, dtype=np.int64)
    picked = rng.integers(0, n, size=trials)
    finals = sign * values[picked, -1]
    xs: list[np.ndarray] = []
    ys: list[bool] = []
    for i, c in enumerate(picked):
        curve = values[c]
        complete = n_obs[:i] == T
        best = float(np.max(finals[:i][complete])) if complete.any() else -math.inf
        for tau in range(1, T + 1):
            rows[i, tau - 1] = curve[tau - 1]
            n_obs[i] = tau
            if tau == T:
                break
            x = transfer_features(rows[: i + 1], n_obs[: i + 1], i, sign)
            if x is not None:
                xs.append(x)
                ys.append(bool(finals[i] > best))
            if policy(rows, n_obs, curve[:tau], i):
                break
    if not xs:
        return np.empty((0, len(FEATURES))), np.empty(0, dtype=bool)
    return np.array(xs), np.array(ys)


def collect(sets: dict[str, tuple[np.ndarray, float]], model: TransferModel | None,
            seeds: Sequence[int], trials: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Training rows per data set: percentile policies (round 1) or the learned rule at every
    threshold of POLICY_THRESHOLDS (round 2, ``model`` given)."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (values, sign) in sets.items():
        parts = []
        for k, seed in enumerate(seeds):
            if model is None:
                policy = percentile_policy(sign, (25.0, 50.0, 75.0)[k % 3])
            else:
                policy = learned_policy(model, sign, POLICY_THRESHOLDS[k % len(POLICY_THRESHOLDS)], 5)
            parts.append(simulate(values, sign, policy, trials, seed))
        out[name] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    return out


def fit(rows: dict[str, tuple[np.ndarray, np.ndarray]], seed: int = 0) -> dict[str, np.ndarray]:
    """An MLP on every set's rows, each set weighted equally; its arrays for the ``.npz``."""
    X = np.concatenate([x for x, _ in rows.values()])
    y = np.concatenate([t for _, t in rows.values()])
    w = np.concatenate([np.full(len(t), len(y) / (len(rows) * len(t))) for _, t in rows.values()])
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    net = MLPClassifier(hidden_layer_sizes=HIDDEN, alpha=1e-3, batch_size=512,
                        learning_rate_init=1e-3, max_iter=60, random_state=seed,
                        early_stopping=False, tol=1e-5)
    with warnings.catch_warnings():  # a fixed budget of epochs, on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit((X - mean) / scale, y, sample_weight=w)
    arrays: dict[str, np.ndarray] = {"features": np.array(FEATURES), "mean": mean,
                                     "scale": scale, "n_layers": np.array(len(net.coefs_))}
    for i, (W, b) in enumerate(zip(net.coefs_, net.intercepts_, strict=True)):
        arrays[f"W{i}"] = W.astype(np.float32)
        arrays[f"b{i}"] = b.astype(np.float32)
    return arrays


def save(arrays: dict[str, np.ndarray], path: Path, threshold: float, min_complete: int,
         info: dict[str, str]) -> TransferModel:
    arrays = dict(arrays, threshold=np.array(threshold), min_complete=np.array(min_complete),
                  **{f"info_{k}": np.array(v) for k, v in info.items()})
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    return TransferModel(path)


def learned_rule(model: TransferModel, threshold: float, min_complete: int) -> Rule:
    stopper = LearnedStopper(threshold=threshold, min_complete=min_complete, model=model)
    config = pd.DataFrame(index=["x"])

    def decide(values: np.ndarray, history: History) -> bool:
        trial = Trial(config_id=history.config_ids[-1], config=config, values=values)
        return stopper.decide(trial, history).stop
    return decide


def score(values: np.ndarray, sign: float, make: Callable[[], Rule], seeds: Sequence[int],
          trials: int) -> dict[str, Any]:
    records = [run_study(values, sign, make, trials, seed) for seed in seeds]
    epochs = sum(int(r["epochs"]) for r in records)  # type: ignore[call-overload]
    full = sum(int(r["full"]) for r in records)  # type: ignore[call-overload]
    return {"speedup": full / epochs, "epochs": epochs, "seeds": len(records),
            "kept": sum(bool(r["best_kept"]) for r in records),
            "regret": float(np.mean([r["regret"] for r in records])),  # type: ignore[misc]
            "ms": float(np.median([r["ms"] for r in records]))}  # type: ignore[misc]


def choose(model: TransferModel, sets: dict[str, tuple[np.ndarray, float]], trials: int
           ) -> tuple[float, int, list[dict[str, Any]]]:
    """The (threshold, min_complete) that keeps the best in ≥ 90 % of the seeds on the most of
    ``sets``, then the highest geometric-mean speedup over them."""
    table = []
    for threshold in THRESHOLDS:
        for mc in MIN_COMPLETE:
            rows = {name: score(v, s, lambda t=threshold, m=mc: learned_rule(model, t, m),  # type: ignore[misc]
                                SELECT_SEEDS, trials) for name, (v, s) in sets.items()}
            safe = sum(r["kept"] >= KEEP * r["seeds"] for r in rows.values())
            geo = float(np.exp(np.mean([np.log(r["speedup"]) for r in rows.values()])))
            table.append({"threshold": threshold, "min_complete": mc, "safe": safe,
                          "geomean_speedup": geo, "per_set": rows})
            print(f"    θ={threshold:g} min_complete={mc}: safe on {safe}/{len(rows)}, "
                  f"geo-mean {geo:.2f}x  " + "  ".join(
                      f"{k[:10]} {r['speedup']:.2f}x {r['kept']}/{r['seeds']}"
                      for k, r in rows.items()), flush=True)
    best = max(table, key=lambda r: (r["safe"], r["geomean_speedup"]))
    return float(best["threshold"]), int(best["min_complete"]), table


def train(sets: dict[str, tuple[np.ndarray, float]], first: dict[str, tuple[np.ndarray, np.ndarray]],
          path: Path, trials: int, info: dict[str, str]) -> tuple[TransferModel, dict[str, Any]]:
    """Two rounds of data and fit, then the threshold chosen on ``sets``; ``first``: the
    first round's rows of every set (percentile policies: the same for every fold)."""
    t0 = time.time()
    rows = {k: first[k] for k in sets}
    model = save(fit(rows), path, 0.01, 5, info)
    more = collect(sets, model, ROUND2_SEEDS, trials)
    rows = {k: (np.concatenate([rows[k][0], more[k][0]]), np.concatenate([rows[k][1], more[k][1]]))
            for k in rows}
    arrays = fit(rows)
    model = save(arrays, path, 0.01, 5, info)
    print(f"  trained on {sum(len(t) for _, t in rows.values())} rows "
          f"({', '.join(f'{k}: {len(t)}, {t.mean():.3f} positive' for k, (_, t) in rows.items())}) "
          f"in {time.time() - t0:.0f} s", flush=True)
    threshold, mc, table = choose(model, sets, trials)
    model = save(arrays, path, threshold, mc, info)
    return model, {"threshold": threshold, "min_complete": mc, "selection": table,
                   "rows": {k: [len(t), float(t.mean())] for k, (_, t) in rows.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loo", action="store_true")
    parser.add_argument("--ship", action="store_true")
    parser.add_argument("--held-out", action="store_true")
    parser.add_argument("--data", default="all", help="--loo: the sets to score (substrings)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--baselines", default="median,curvecast")
    parser.add_argument("--models", type=Path, help="--loo: keep each fold's model here")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    loaded = {}
    for name in DEVELOPMENT:
        curves = load(DATA[name])
        loaded[name] = (curves.filled_values(), float(curves.direction.sign))
    result: dict[str, Any] = {"command": "python " + " ".join(sys.argv), "features": FEATURES,
                              "hidden": HIDDEN, "thresholds": THRESHOLDS, "keep": KEEP,
                              "trials": args.trials, "seeds": args.seeds, "loo": {}}
    baselines = [b for b in args.baselines.split(",") if b]
    if args.loo or args.ship:
        t0 = time.time()
        first = collect(loaded, None, TRAIN_SEEDS, args.trials)
        print(f"first round: {time.time() - t0:.0f} s", flush=True)

    def baseline(name: str, sign: float) -> Rule:
        return median_rule(sign) if name == "median" else curvecast_rule(None, {})

    if args.loo:
        targets = [d for d in DEVELOPMENT if args.data == "all"
                   or any(k in d for k in args.data.split(","))]
        for target in targets:
            print(f"{target}: trained on the other five", flush=True)
            train_sets = {k: v for k, v in loaded.items() if k != target}
            with tempfile.TemporaryDirectory() as tmp:
                folder = args.models or Path(tmp)
                folder.mkdir(parents=True, exist_ok=True)
                model, fitted = train(train_sets, first, folder / f"without_{target}.npz",
                                      args.trials, {"trained_on": ",".join(train_sets)})
            values, sign = loaded[target]
            rows = {"learned": score(values, sign, lambda m=model, f=fitted: learned_rule(
                m, f["threshold"], f["min_complete"]), range(args.seeds), args.trials)}
            for b in baselines:
                rows[b] = score(values, sign, lambda b=b, s=sign: baseline(b, s), range(args.seeds),
                                args.trials)
            result["loo"][target] = {"chosen": fitted, "scores": rows}
            print("  " + "  ".join(f"{k} {r['speedup']:.2f}x {r['kept']}/{r['seeds']} "
                                   f"{r['ms']:.3f} ms" for k, r in rows.items()), flush=True)
            if args.out:
                args.out.write_text(json.dumps(result, indent=1, default=float))
    if args.ship:
        print("shipped model: trained on the six development sets", flush=True)
        model, fitted = train(loaded, first, SHIPPED, args.trials,
                              {"trained_on": ",".join(loaded), "command": result["command"]})
        result["shipped"] = fitted | {"bytes": SHIPPED.stat().st_size}
    if args.held_out:
        model = TransferModel(SHIPPED)
        curves = load(DATA[HELD_OUT])
        values, sign = curves.filled_values(), float(curves.direction.sign)
        rows = {"learned": score(values, sign, lambda: learned_rule(
            model, model.threshold, model.min_complete), range(args.seeds), args.trials)}
        for b in baselines:
            rows[b] = score(values, sign, lambda b=b, s=sign: baseline(b, s), range(args.seeds),
                            args.trials)
        result["held_out"] = {HELD_OUT: rows}
        print(f"{HELD_OUT}: " + "  ".join(f"{k} {r['speedup']:.2f}x {r['kept']}/{r['seeds']} "
                                        f"{r['ms']:.3f} ms" for k, r in rows.items()), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
