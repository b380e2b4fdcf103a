"""A fast stand-in for the Optuna protocol of ``bench/stopping_benchmark.py``, for development runs.

A study of ``--trials`` sequential trials; a seeded numpy generator picks a recorded config per
trial (with replacement); the trial reports its curve epoch by epoch and a rule decides after
each epoch whether to stop it.  The rule sees what an Optuna pruner sees: every earlier trial
(complete ones, and stopped ones as partial curves) and the running trial so far.  Rules:

* ``median``: Optuna's ``MedianPruner()`` (5 startup trials, no warm-up; prune when the trial's
  best value so far is worse than the median of the complete trials' values at this step);
* ``curvecast``: ``PredictiveStopper()`` at its defaults (``--delta`` to change Δ);
* ``curvecast:KEY=VALUE,...``: the same with ``HorizonChain(KEY=VALUE, ...)`` settings
  (``min_complete``, ``final_stretch`` and ``explore`` go to the stopper);
* ``learned:model=PATH``: ``bench/transfer_model.py``'s ``LearnedStopper`` with the weights a
  run of ``bench/train_transfer.py`` wrote (``,threshold=0.01,min_complete=5`` to override the
  settings stored with them);
* ``either:...`` (the same settings): stop when ``curvecast`` or ``learned`` would;
* ``early:n=20,...``: ``learned`` while fewer than ``n`` trials are complete, ``curvecast`` after.

It skips Optuna's storage, so a 200-trial study takes a second or two instead of ten; the
sampler differs from Optuna's ``RandomSampler``, so numbers are close to, not equal to, the
benchmark's.  Development only: the reported numbers come from ``bench/stopping_benchmark.py``.

    .venv/bin/python bench/protocol_sim.py --data cifar10 --rules median,curvecast --seeds 10
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stopping_benchmark import DATA, load
from transfer_model import LearnedStopper

from curvecast import CurveSet
from curvecast.predictors import HorizonChain, Predictor
from curvecast.stopping import Decision, History, PredictiveStopper, Stopper, Trial

Rule = Callable[[np.ndarray, History], bool]


def median_rule(sign: float) -> Rule:
    def decide(values: np.ndarray, history: History) -> bool:
        complete = history.complete.copy()
        complete[-1] = False
        if complete.sum() < 5:
            return False
        tau = len(values)
        ref = np.median(sign * history.values[complete, tau - 1])
        return bool(np.max(sign * values) < ref)
    return decide


def stopper_decisions(stopper: Stopper) -> Callable[[np.ndarray, History], Decision]:
    """``stopper``'s decision about the running trial (the history's last row, whose config
    row the history's table holds)."""
    empty = pd.DataFrame(index=["x"])
    running: list[object] = [None, empty]  # the running trial's id and its one-row table

    def decision(values: np.ndarray, history: History) -> Decision:
        cid = history.config_ids[-1]
        if running[0] != cid:
            table = history.configs
            running[:] = [cid, table.loc[[cid]] if len(table.columns) else empty]
        trial = Trial(config_id=cid, config=running[1], values=values)  # type: ignore[arg-type]
        return stopper.decide(trial, history)
    return decision


def stopper_rule(stopper: Stopper) -> Rule:
    """A rule that asks ``stopper`` about the running trial (:func:`stopper_decisions`)."""
    decision = stopper_decisions(stopper)
    return lambda values, history: decision(values, history).stop


class RefittingStopper(PredictiveStopper):
    """``PredictiveStopper`` for experiments on its predictor: the online predictor is refitted
    from scratch (no ``reuse``: a development run, not a cheap one) whenever the other trials
    change; :meth:`prepare` then sees each new fit and :meth:`ask` each query, so a variant can
    hand its predictor what the stopper knows (exploration draws, the trials' configs)."""

    def fitted_online(self, trial: Trial, history: History) -> Predictor:
        ids = list(history.config_ids)
        row = len(ids) - 1 if ids[-1] == trial.config_id else ids.index(trial.config_id)
        version = (history.study, history.n_trials, row,
                   int(history.n_observed.sum()) - int(history.n_observed[row]))
        if self._online is None or self._online[0] != version:
            keep = np.arange(history.n_trials) != row
            model = copy.copy(self.predictor)
            model.fit_arrays(history.values[keep], history.n_observed[keep],  # type: ignore[attr-defined]
                             history.direction)
            self.prepare(model, history, keep)
            self._online = (version, model)
        model = self._online[1]
        self.ask(model, row)
        return model

    def prepare(self, model: Predictor, history: History, keep: np.ndarray) -> None:
        """Called with each new fit (on the trials ``keep`` selects)."""

    def ask(self, model: Predictor, row: int) -> None:
        """Called before each query, about the trial in ``row`` of the history."""


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every stand-in experiment shares: data sets, exclusions, seeds."""
    parser.add_argument("--data", default="all", help="comma-separated names (substrings) or all")
    parser.add_argument("--exclude", default="friedman-sgd")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--configs", default="none", choices=("none", "numeric", "all"),
                        help="the config columns the trials carry (see study_configs)")


def curvecast_rule(delta: float | None, settings: dict[str, object]) -> Rule:
    kwargs: dict[str, object] = {} if delta is None else {"delta": delta}
    for key in ("min_complete", "final_stretch", "explore"):  # the stopper's, not the predictor's
        if key in settings:
            kwargs[key] = settings.pop(key)
    chain = HorizonChain(**settings)  # type: ignore[arg-type]
    return stopper_rule(PredictiveStopper(predictor=chain, **kwargs))  # type: ignore[arg-type]


def learned_rule(settings: dict[str, object]) -> Rule:
    return stopper_rule(LearnedStopper(**settings))  # type: ignore[arg-type]


def parse_rule(name: str, delta: float | None) -> Rule | str:
    if name == "median":
        return "median"
    settings: dict[str, object] = {}
    if ":" in name:
        for item in name.split(":", 1)[1].split(","):
            key, value = item.split("=")
            settings[key] = json.loads(value) if value[0] in "0123456789-[{tfn" else value
    kind = name.split(":", 1)[0]
    if kind == "learned":
        return learned_rule(settings)
    if kind in ("either", "early"):
        return hybrid_rule(kind, settings, delta)
    return curvecast_rule(delta, settings)


def hybrid_rule(kind: str, settings: dict[str, object], delta: float | None) -> Rule:
    """``either``: stop when the learned rule or curvecast's would (the learned one asked
    first); ``early``: the learned rule while fewer than ``n`` trials are complete, then
    curvecast's."""
    n = int(settings.pop("n", 20))  # type: ignore[call-overload]
    learned, chain = learned_rule(settings), curvecast_rule(delta, {})
    if kind == "either":
        return lambda values, history: learned(values, history) or chain(values, history)
    return lambda values, history: (learned(values, history) if history.n_complete < n
                                    else chain(values, history))


def draw_configs(n: int, trials: int, seed: int) -> np.ndarray:
    """The recorded configs (row indices among ``n``) a study of ``trials`` trials runs, in
    order (with replacement)."""
    return np.random.default_rng(seed).integers(0, n, size=trials)


def study_configs(table: pd.DataFrame, which: str) -> pd.DataFrame:
    """The recorded configs as the stand-in's trials carry them: ``none`` (no columns, as the
    rules before stop 23 were run), ``numeric`` (the number columns: what an Optuna objective
    would ``suggest``) or ``all``."""
    if which == "none":
        return table[[]]
    if which == "numeric":
        return table.select_dtypes("number")
    if which == "all":
        return table
    raise ValueError(f"--configs must be none, numeric or all, got {which!r}")


def run_study(values: np.ndarray, sign: float, make: Callable[[], Rule], trials: int,
              seed: int, table: pd.DataFrame | None = None) -> dict[str, object]:
    """One study; ``table``: the recorded configs (one row per curve of ``values``) whose rows
    the trials carry, None: none."""
    n, T = values.shape
    rows = np.full((trials, T), np.nan)
    n_obs = np.zeros(trials, dtype=np.int64)
    picked = draw_configs(n, trials, seed)
    rule = make()
    ids = [str(i) for i in range(trials)]
    configs = (pd.DataFrame(index=ids) if table is None
               else table.iloc[picked].set_axis(ids))
    seconds: list[float] = []
    for i, c in enumerate(picked):
        curve = values[c]
        for tau in range(1, T + 1):
            rows[i, tau - 1] = curve[tau - 1]
            n_obs[i] = tau
            if tau == T:
                break
            history = History(rows[: i + 1], n_obs[: i + 1], configs.index[: i + 1], configs,
                              np.arange(1, T + 1), "m", "maximize" if sign > 0 else "minimize",
                              study=seed)
            t0 = time.process_time()
            stop = rule(curve[:tau], history)
            seconds.append(time.process_time() - t0)
            if stop:
                break
    finals = sign * values[picked, -1]
    complete = n_obs == T
    found = finals[complete].max() if complete.any() else -np.inf
    best = finals.max()
    per_trial = n_obs.copy()
    return {"epochs": int(n_obs.sum()), "full": trials * T, "picked": picked.tolist(),
            "best_kept": bool(found >= best - 1e-12), "regret": float(best - found),
            "ms": 1000 * float(np.median(seconds)),
            "early": float(per_trial[:40].mean()), "late": float(per_trial[-100:].mean()),
            "per_trial": per_trial.tolist()}


def data_names(data: str, exclude: str) -> list[str]:
    """The data sets of ``DATA`` named by ``data`` (comma-separated substrings, or ``all``),
    without those in ``exclude`` (comma-separated names)."""
    names = [d for d in DATA if d not in exclude.split(",")]
    if data != "all":
        names = [d for d in names if any(k in d for k in data.split(","))]
    return names


def report_sets(args: argparse.Namespace, label: dict[str, object],
                make: Callable[[CurveSet, int], Callable[[], Rule]]) -> None:
    """For each set ``args`` name (``add_study_arguments``): the studies of seeds
    ``args.first_seed`` …, 200 trials each, with the rule ``make(curves, seed)`` builds; one
    JSON line per set (``label``, the seeds and :func:`summarise`)."""
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for data in data_names(args.data, args.exclude):
        curves = load(DATA[data])
        values, sign = curves.filled_values(), curves.direction.sign
        table = study_configs(curves.configs, args.configs)
        records = [run_study(values, sign, make(curves, seed), 200, seed, table)
                   for seed in seeds]
        print(json.dumps({"data": data, **label, "seeds": f"{seeds[0]}-{seeds[-1]}",
                          **summarise(records)}, ensure_ascii=False), flush=True)


def summarise(records: list[dict[str, object]]) -> dict[str, object]:
    """One rule's studies on one data set: speedup over full training, best kept (count),
    mean regret, median ms per decision, mean epochs per trial early and late in a study."""
    epochs = sum(int(r["epochs"]) for r in records)  # type: ignore[call-overload]
    full = sum(int(r["full"]) for r in records)  # type: ignore[call-overload]
    return {
        "speedup": round(full / epochs, 2),
        "kept": sum(bool(r["best_kept"]) for r in records),
        "regret": float(np.mean([r["regret"] for r in records])),  # type: ignore[misc]
        "ms": round(float(np.median([r["ms"] for r in records])), 3),  # type: ignore[misc]
        "early_epochs": round(float(np.mean([r["early"] for r in records])), 2),  # type: ignore[misc]
        "late_epochs": round(float(np.mean([r["late"] for r in records])), 2),  # type: ignore[misc]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="all", help="comma-separated names (substrings) or all")
    parser.add_argument("--rules", default="median,curvecast")
    parser.add_argument("--delta", type=float)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--exclude", default="friedman-sgd")
    parser.add_argument("--configs", default="none", choices=("none", "numeric", "all"),
                        help="the config columns the trials carry (see study_configs)")
    args = parser.parse_args()
    for data in data_names(args.data, args.exclude):
        curves = load(DATA[data])
        values, sign = curves.filled_values(), curves.direction.sign
        table = study_configs(curves.configs, args.configs)
        for rule_name in args.rules.split(";"):
            records = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                def make(rule_name: str = rule_name, sign: float = sign) -> Rule:
                    rule = parse_rule(rule_name, args.delta)
                    return median_rule(sign) if rule == "median" else rule  # type: ignore[return-value]
                records.append(run_study(values, sign, make, args.trials, seed, table))
            print(json.dumps({"data": data, "rule": rule_name, "configs": args.configs,
                              **summarise(records)},
                             ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
