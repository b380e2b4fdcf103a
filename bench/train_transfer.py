"""Train (and score leave one data set out) a learned, transferred stopping model (issue 12 item 4).

**Result: it does not help; nothing of it ships.**  The model (``bench/transfer_model.py``)
outputs P(a running trial's final value ends better than the best complete final so far | what
the study has seen) from scale-free, study-relative features; the rule stops when that P is below
a threshold θ.  Left one data set out (train on five, θ chosen on those five, scored on the sixth
in ``protocol_sim``'s Optuna stand-in, 200 trials, seeds 0–9; speedup and best kept of 10):

| data set | median | curvecast | learned (θ) | either (curvecast or learned) |
|---|---|---|---|---|
| metaqnn_cifar10 | 6.88x 7/10 | 5.61x 10/10 | 2.92x 10/10 (0.001) | 5.61x 10/10 |
| lstm_ptb | 9.38x 2/10 | 3.39x 6/10 | 2.83x 3/10 (0.003) | 4.01x 3/10 |
| deep_resnets_tinyimagenet | 13.77x 1/10 | 2.40x 10/10 | 7.35x 3/10 (0.001) | 2.65x 9/10 |
| digits-metaqnn | 6.07x 5/10 | 2.47x 8/10 | 3.49x 7/10 (0.001) | 3.72x 7/10 |
| mnist1d-hp | 7.68x 9/10 | 4.35x 10/10 | 3.99x 10/10 (0.001) | 5.18x 9/10 |
| text-lstm | 6.61x 7/10 | 6.05x 10/10 | 2.65x 10/10 (0.001) | 6.11x 10/10 |
| friedman-sgd (held out, once) | 8.14x 6/10 | 3.39x 6/10 | 3.58x 8/10 (0.001) | not run |

Where it keeps the best as often as curvecast (CIFAR-10, mnist1d-hp, text-lstm) it uses 1.1–2.3x
more epochs; elsewhere it loses the best more often (lstm_ptb, TinyImageNet, digits); it never
uses fewer epochs than the median rule.  Only on the held-out set is it a little ahead of
curvecast (3.58x 8/10 against 3.39x 6/10).  The reason is in the calibration of its
probabilities on the left-out set (``calibration`` in the JSON): where the model is surest,
P < 0.1 %, runs ended better 0 times in 1083 on CIFAR-10 but 2.9 % of the time on lstm_ptb and
3.6 % on TinyImageNet (P 0.1–1 %: 4.4 % and 13 %) — perplexity spikes and late bloomers are
workload-specific, and features relative to the study cannot tell them apart from the curves
that really are hopeless.  So one θ must be tiny to be safe on the sets that have them, and then
it is slow on the sets that do not (the six folds chose θ = 0.001 five times; with a first grid
of 0.003–0.1, the CIFAR-10 fold chose 0.01 and scored 6.48x 10/10, but no θ of that grid was safe
on more than 1 of the 5 training sets).  Stopping when curvecast's rule *or* the learned one
would (``either``, the fold's θ) uses 0–34 % fewer epochs than curvecast and keeps the best in
1–3 fewer seeds wherever it saves more than 1 %, at 0.9–1.4 ms per decision (both models run).
The other hybrid, the learned rule while fewer than 20 trials are complete and curvecast's after
(``early:n=20``), seldom hands over: the learned rule lets runs go on longer than curvecast's
but stops nearly all of them (in CIFAR-10's seed 0, 20 trials never complete), so its numbers are
the learned rule's or close to them (CIFAR-10 2.93x 10/10, lstm_ptb 2.83x 3/10, digits 3.49x
7/10, mnist1d-hp 3.99x 10/10, text-lstm 2.71x 10/10) except on TinyImageNet (5.64x 4/10;
``early`` in the JSON).

**What it is.**  Training rows come from simulated studies over the development sets
(``protocol_sim``'s protocol: 200 trials, a config drawn with replacement per trial, its curve
reported epoch by epoch) with a stopping policy running, so that the mix of partial and complete
curves looks like a real study's: Optuna-style percentile rules (the 25th, 50th and 75th
percentile of the complete trials at the same step; 12 studies per set), then the learned rule
itself at θ = 0.003–0.1 (4 studies per set: data aggregation).  Each decision is a row, labelled
from the recorded final value; every set weighs the same.  The model is an MLP (14 inputs,
32 and 16 ReLU units, logistic output; scikit-learn, exported to a 7 KB ``.npz`` of plain arrays,
evaluated in numpy: 0.2–0.4 ms per decision with the features, on a loaded machine).  θ (and the
minimum of complete trials, fixed at 5) is chosen on the training sets with ``run_study`` over
3 seeds (2000–2002): the θ that keeps the best in all 3 seeds on the most sets, then the highest
geometric-mean speedup, as ``stopping_benchmark.py`` chooses Δ.

* ``--loo``: for every development set d, train on the other five, choose θ on those five, score
  d (``--seeds`` seeds) next to ``--baselines`` (the table's baselines came from
  ``protocol_sim.py --rules "median;curvecast" --seeds 10``, the same studies);
* ``--all``: train on all six development sets and choose θ on them the same way (θ = 0.001);
* ``--held-out``: score that model (and the baselines) on friedman-sgd, once.

friedman-sgd is never read except by ``--held-out``.  ``bench/results/transfer_loo.json`` holds
every number above (the selection tables, the held-out run, the ``either`` runs and the
calibration).

    .venv/bin/python bench/train_transfer.py --loo --baselines "" --first first.npz \
        --models folds/ --out loo.json
    .venv/bin/python bench/protocol_sim.py --data D --rules "either:model=folds/without_D.npz"
    .venv/bin/python bench/train_transfer.py --all --first first.npz --model transfer_model.npz \
        --out all.json
    .venv/bin/python bench/train_transfer.py --held-out --model transfer_model.npz --out held.json
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
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import Rule, curvecast_rule, median_rule, run_study
from stopping_benchmark import DATA, load
from transfer_model import FEATURES, LearnedStopper, TransferModel, transfer_features

from curvecast.stopping import History, Trial

HELD_OUT = "friedman-sgd"
DEVELOPMENT = tuple(d for d in DATA if d != HELD_OUT)
THRESHOLDS = (0.001, 0.003, 0.01, 0.03)  # the grid the threshold is chosen from
POLICY_THRESHOLDS = (0.003, 0.01, 0.03, 0.1)  # the learned rule's settings in round 2
MIN_COMPLETE = (5,)
HIDDEN = (32, 16)
KEEP = 0.9  # best kept in ≥ 90 % of the seeds counts as safe (9 of 10; all 3 in the selection)
TRAIN_SEEDS = range(1000, 1012)  # studies per set and round, never the scoring seeds 0..9
ROUND2_SEEDS = range(1100, 1104)  # the learned rule's own studies (second round)
SELECT_SEEDS = range(2000, 2003)  # threshold selection studies on the training sets


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
            "regret": float(np.mean([r["regret"] for r in records])),
            "ms": float(np.median([r["ms"] for r in records]))}


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
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--held-out", action="store_true")
    parser.add_argument("--data", default="all", help="--loo: the sets to score (substrings)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--baselines", default="median,curvecast")
    parser.add_argument("--models", type=Path, help="--loo: keep each fold's model here")
    parser.add_argument("--first", type=Path,
                        help="keep the first round's rows here (the same for every fold and the "
                             "all-six model; read back when the file exists)")
    parser.add_argument("--model", type=Path, default=Path("transfer_model.npz"),
                        help="--all: where to write the model trained on the six sets; "
                             "--held-out: the model to score")
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
    if args.loo or args.all:
        t0 = time.time()
        if args.first and args.first.exists():
            with np.load(args.first, allow_pickle=False) as saved:
                first = {k: (saved[f"{k}/X"], saved[f"{k}/y"]) for k in loaded}
        else:
            first = collect(loaded, None, TRAIN_SEEDS, args.trials)
            if args.first:
                np.savez(args.first, **{f"{k}/{a}": v for k, (X, y) in first.items()  # type: ignore[arg-type]
                                        for a, v in (("X", X), ("y", y))})
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
            rows = {"learned": score(values, sign, partial(
                learned_rule, model, fitted["threshold"], fitted["min_complete"]),
                range(args.seeds), args.trials)}
            for b in baselines:
                rows[b] = score(values, sign, partial(baseline, b, sign), range(args.seeds),
                                args.trials)
            result["loo"][target] = {"chosen": fitted, "scores": rows}
            print("  " + "  ".join(f"{k} {r['speedup']:.2f}x {r['kept']}/{r['seeds']} "
                                   f"{r['ms']:.3f} ms" for k, r in rows.items()), flush=True)
            if args.out:
                args.out.write_text(json.dumps(result, indent=1, default=float))
    if args.all:
        print("the model trained on all six development sets", flush=True)
        model, fitted = train(loaded, first, args.model, args.trials,
                              {"trained_on": ",".join(loaded), "command": result["command"]})
        result["all_six"] = fitted | {"bytes": args.model.stat().st_size}
    if args.held_out:
        model = TransferModel(args.model)
        curves = load(DATA[HELD_OUT])
        values, sign = curves.filled_values(), float(curves.direction.sign)
        rows = {"learned": score(values, sign, partial(
            learned_rule, model, model.threshold, model.min_complete), range(args.seeds),
            args.trials)}
        for b in baselines:
            rows[b] = score(values, sign, partial(baseline, b, sign), range(args.seeds),
                            args.trials)
        result["held_out"] = {HELD_OUT: rows}
        print(f"{HELD_OUT}: " + "  ".join(f"{k} {r['speedup']:.2f}x {r['kept']}/{r['seeds']} "
                                        f"{r['ms']:.3f} ms" for k, r in rows.items()), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
