"""Every stopping rule at its defaults over every curve set the project has, two ways, with the
default rule's settings chosen leave-one-data-set-out.

* **replay** (``curvecast simulate`` semantics): random search visits every complete config of
  a data set once, in ``--orderings`` seeded random orders; rules: curvecast's default
  ``PredictiveStopper()``, ``MedianRule()``, ``ASHA()``, and (``--paper``, slow) the paper's
  ``PredictiveStopper.paper()`` (no stopping is every config's T epochs, computed, not replayed;
  metaqnn_cifar10's ``never`` row in the JSON is from an early run).
* **optuna**: an Optuna client, as a user runs it: ``--trials`` 200-trial studies, ``--seeds``
  10 seeds, ``RandomSampler(seed)`` picks a recorded config per trial (with replacement), the
  trial reports its recorded curve epoch by epoch and asks ``should_prune()``; pruners:
  ``CurvecastPruner()``, ``MedianPruner()``, ``SuccessiveHalvingPruner()``,
  ``HyperbandPruner()``, ``PatientPruner(MedianPruner(), patience=1)`` and ``NopPruner()``.

Per data set and rule: epochs used, speedup over no stopping (the same configs trained fully),
best kept (out of orderings or seeds: the best final value among the configs visited was
trained to the end), mean regret (metric units, ≥ 0), CPU ms per decision (median over
decisions of ``time.process_time`` around ``decide`` / ``prune``), and for curvecast the
predictions clipped to their bound.

Leave one data set out: curvecast's settings are a grid (``GRID``: Δ × the predictor's
features × its links × the final stretch × exploration).
For each data set, the grid point is chosen on the *other* data sets — most data sets
with the best kept in ≥ 9 of 10, then the highest geometric-mean speedup — and scored on the
held-out one (``loo`` in the output); ``default`` is the point chosen on all of them, which is
what the library ships.  The rows named ``curvecast`` in the tables are the LOO-chosen ones.

    .venv/bin/python bench/stopping_benchmark.py --part both --out bench/results/stopping_benchmark.json

(about an hour on 2 cores; ``--data NAME=PATH`` restricts the sets, ``--orderings/--seeds`` the
repeats).  ``--markdown FILE`` writes the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast import CurveSet, registry
from curvecast.execution.collect import package_versions
from curvecast.execution.replay import replay
from curvecast.predictors import HorizonChain, KernelChain, Predictor
from curvecast.search import RandomSearch
from curvecast.stopping import (
    Decision,
    History,
    Stopper,
    Trial,
)

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT.parent / "shared" / "data" / "baker2018"
DATA = {
    "metaqnn_cifar10": PAPER / "metaqnn_cifar10.csv",
    "lstm_ptb": PAPER / "lstm_ptb.csv",
    "deep_resnets_tinyimagenet": PAPER / "deep_resnets_tinyimagenet.csv",
    **{p.stem: p for p in sorted((ROOT / "data").glob("*.parquet"))},
}
Point = tuple[float, str, str, float, float, str, str]
#: curvecast's settings searched leave-one-data-set-out: (Δ, HorizonChain features, links,
#: the final stretch in which nothing is stopped, the share of would-be stops let run on, the
#: first link's spread, which links also regress on the run's config: "none" (the curves
#: alone, as every point before stop 23), "first" or "all"; "all+run": "all" with
#: ``HorizonChain(bound="targets+run")``).
GRID: tuple[Point, ...] = (
    *((d, "last+best", links, 0.0, 0.0, "pooled", "none") for links in ("markov", "anchored")
      for d in (0.95, 0.99)),
    *((d, "last+best", "markov", 0.2, x, "pooled", "none") for x in (0.0, 0.1)
      for d in (0.95, 0.99)),
    *((d, "last+best", "markov", 0.2, 0.1, "pooled", "all") for d in (0.99, 0.95, 0.97, 0.98)),
    # stop 25: the first link also sees the last step (development runs in the stand-in first)
    (0.99, "last+best+slope", "markov", 0.2, 0.1, "pooled", "all"),
    # stop 28: stop 25's point with the links refitted without the rows far on the worse side
    # (``trim_worse``, scaled MADs below the median residual; stand-in runs first)
    *((0.99, "last+best+slope", "markov", 0.2, 0.1, "pooled", f"all+trim{k}") for k in (3, 5)),
    # exploring only in a study's first 100 trials (stop 32: stand-in, then this benchmark)
    (0.99, "last+best+slope", "markov", 0.2, 0.1, "pooled", "all+trim5+young100"),
    # stop 34: the same without the trim (under stop 34's origin the trimmed points lost the
    # best in one more seed on digits-metaqnn, and leave one out chose stop 25's point)
    (0.99, "last+best+slope", "markov", 0.2, 0.1, "pooled", "all+young100"))
#: Settings measured the same way and reported, but not chosen from (added to the runs after the
#: grid's choice was made; docs/results-benchmark.md says what they gave and why they stay out).
TRIED: tuple[Point, ...] = (
    (0.99, "last+best", "markov", 0.2, 0.1, "by-input", "none"),
    (0.995, "last+best", "markov", 0.2, 0.1, "pooled", "none"),
    (0.99, "last+best", "markov", 0.2, 0.1, "pooled", "all+kernel"),
    # stop 28: stop 25's default with each link's bound stretched to the run's own value.  Run as
    # a grid point, and leave one out chose it (docs/results-benchmark.md, History, stop 28), but
    # it lets a run whose perplexity spikes early keep a prediction far outside what the training
    # curves support (tests/test_horizon_chain.py), which issue 12 forbids: so it is not chosen
    # from.
    (0.99, "last+best+slope", "markov", 0.2, 0.1, "pooled", "all+run"))
KEEP = 9  # best kept in at least this many of 10 orderings/seeds counts as safe
KEEP_SHARE = KEEP / 10  # the same share of another number of runs (a quick run with 3 seeds)


def load(path: Path) -> CurveSet:
    """The complete curves of a data set, epoch 0 dropped."""
    if path.suffix == ".csv":
        from curvecast.datasets.baker2018 import load_baker2018

        curves = load_baker2018(path)
    else:
        curves = CurveSet.load(path)
    curves = curves.without_untrained_epoch()
    return curves.subset(np.asarray(curves.is_complete(), dtype=bool))


def optuna_draws(n: int, trials: int, seed: int) -> np.ndarray:
    """The recorded configs (row indices among ``n``) that :func:`run_optuna_study`'s
    ``RandomSampler(seed)`` draws for its ``trials`` trials, in order, without running Optuna:
    the sampler's ``RandomState(seed).uniform`` over ``[-0.5, n - 0.5]``, rounded (checked
    against Optuna 5.1's draws on every set, seeds 0-9), so that a numpy stand-in studies the
    very configs the benchmark's Optuna studies visit."""
    u = np.random.RandomState(seed).uniform(-0.5, n - 0.5, size=trials)
    return np.clip(np.round(u), 0, n - 1).astype(np.int64)


def grid_name(delta: float, features: str, links: str = "markov", stretch: float = 0.0,
              explore: float = 0.0, spread: str = "pooled", configs: str = "none") -> str:
    """A grid point's rule name (Markov links, no final stretch, no exploration, the pooled
    spread and no configs unnamed, as in the runs before they existed)."""
    return (f"curvecast[Δ={delta:g},{features}{'' if links == 'markov' else ',' + links}"
            f"{f',final {stretch:g}' if stretch else ''}"
            f"{f',explore {explore:g}' if explore else ''}"
            f"{'' if spread == 'pooled' else ',spread ' + spread}"
            f"{'' if configs == 'none' else ',configs ' + configs}]")


def young(configs: str) -> tuple[str, int | None]:
    """A grid point's ``configs`` without its ``+youngN`` suffix, and N: the study's trials up
    to which it explores (``explore_trials``; stop 32); None without the suffix (every trial,
    as every point measured before it)."""
    head, _, n = configs.partition("+young")
    return head, int(n) if n else None


def chain(features: str, links: str, spread: str, configs: str) -> Predictor:
    """A grid point's predictor (``configs``: "none", or which links see the run's config;
    "all+kernel": every link, and ``KernelChain``'s correction once 100 curves have finished;
    "all+run": every link, each link's bound stretched to take in the run's own value;
    "all+trimK": every link, each refitted without the rows K scaled MADs or more below the
    median residual; every other point clips to the targets' range and trims nothing, as it
    did when it was measured; a ``+youngN`` suffix is the stopper's, not the predictor's)."""
    configs = young(configs)[0]
    if configs == "none":
        return HorizonChain(features=features, links=links, spread=spread, config_rows=None,
                            bound="targets", trim_worse=None)
    if configs == "all+kernel":
        return KernelChain(chain=chain(features, links, spread, "all"))
    if configs == "all+run":  # (no trim, as when it was measured: stop 28 made trim the default)
        return HorizonChain(features=features, links=links, spread=spread, config_links="all",
                            bound="targets+run", trim_worse=None)
    if configs.startswith("all+trim"):
        return HorizonChain(features=features, links=links, spread=spread, config_links="all",
                            bound="targets", trim_worse=float(configs.removeprefix("all+trim")))
    return HorizonChain(features=features, links=links, spread=spread, config_links=configs,
                        bound="targets", trim_worse=None)


class Timed(Stopper):
    """A stopper that records the CPU time of every decision."""

    def __init__(self, inner: Stopper) -> None:
        self.inner = inner
        self.seconds: list[float] = []

    def decide(self, trial: Trial, history: History) -> Decision:
        t0 = time.process_time()
        decision = self.inner.decide(trial, history)
        self.seconds.append(time.process_time() - t0)
        return decision


def replay_rules(with_paper: bool) -> dict[str, Callable[[], Stopper]]:
    """The replay part's rules, built through curvecast's registry (the CLI's names and
    defaults): the predictive rule over ``GRID``, ``median`` and ``asha`` as ``simulate`` builds
    them, except that ASHA keeps its class default of judging from the first trial
    (``min_complete=0``, as in every run of this benchmark)."""
    def predictive(d: float, f: str, links: str, stretch: float,
                   explore: float, spread: str, configs: str) -> Callable[[], Stopper]:
        return lambda: registry.build_stopper(
            "predictive", registry.Settings(delta=d, final_stretch=stretch, explore=explore,
                                            explore_trials=young(configs)[1]),
            registry.Context(predictor=chain(f, links, spread, configs)))

    rules = {grid_name(*point): predictive(*point) for point in (*GRID, *TRIED)}
    rules["median"] = lambda: registry.build_stopper("median", registry.Settings())
    rules["asha"] = lambda: registry.build_stopper("asha", registry.Settings(min_complete=0))
    if with_paper:
        rules["paper"] = lambda: registry.build_stopper(
            "predictive", registry.Settings(predictor="paper"))
    return rules


def run_replay(curves: CurveSet, orderings: int, with_paper: bool,
               only: Sequence[str] = ()) -> list[dict[str, Any]]:
    out = []
    for name, make in replay_rules(with_paper).items():
        if only and name not in only:
            continue
        for seed in range(orderings):
            stopper = Timed(make())
            result = replay(curves, RandomSearch.from_curves(curves, seed=seed), stopper)
            inner = stopper.inner
            out.append({"rule": name, "seed": seed, "epochs": result.total_epochs,
                        "full": result.full_epochs, "best_kept": bool(result.best_kept),
                        "regret": float(result.regret),
                        "ms": 1000 * float(np.median(stopper.seconds)),
                        "clipped": getattr(inner, "n_clipped_", None)})
            print(json.dumps({"part": "replay", **out[-1]}), flush=True)
    return out


def optuna_pruners() -> dict[str, Callable[[], Any]]:
    import optuna

    from curvecast.integrations.optuna import CurvecastPruner

    pruners: dict[str, Callable[[], Any]] = {
        grid_name(d, f, k, x, e, v, c): (lambda d=d, f=f, k=k, x=x, e=e, v=v, c=c: CurvecastPruner(  # type: ignore[misc]
            delta=d, predictor=chain(f, k, v, c), final_stretch=x, explore=e,
            explore_trials=young(c)[1]))
        for d, f, k, x, e, v, c in (*GRID, *TRIED)}
    pruners.update({
        "MedianPruner()": optuna.pruners.MedianPruner,
        "SuccessiveHalvingPruner()": optuna.pruners.SuccessiveHalvingPruner,
        "HyperbandPruner()": optuna.pruners.HyperbandPruner,
        "PatientPruner(MedianPruner(), patience=1)": lambda: optuna.pruners.PatientPruner(
            optuna.pruners.MedianPruner(), patience=1),
        "NopPruner()": optuna.pruners.NopPruner,
    })
    return pruners


def run_optuna_study(values: np.ndarray, sign: float, pruner: Any, trials: int,
                     seed: int, storage: str | None = None,
                     params: pd.DataFrame | None = None,
                     studies: list[Any] | None = None,
                     reports: np.ndarray | None = None) -> dict[str, Any]:
    """One Optuna study (``storage``: its URL; default in memory), every ``prune`` call timed.

    The study's ``RandomSampler(seed)`` draws the recorded config of each trial (an index into
    ``values``; the draw is not a parameter of the trial, so a pruner that reads the trials'
    parameters does not see it).  ``params``: one row per config, whose finite numbers the
    trial then suggests as its parameters, each a single value (``suggest_float(name, v, v)``,
    which draws nothing: the same configs are drawn with and without), as an objective that
    suggested the recorded hyperparameters would; None: the trials have no parameters.
    ``studies``: a list the finished study is appended to (to look at its trials).
    ``reports``: what each trial reports and returns, as ``values`` but with a diverged run's
    NaN and ±inf as recorded (what a user's objective reports; stop 37, ``--reports raw``); None:
    ``values`` (the filled values, as until stop 36).  The best run is the best of ``values``.
    """
    import optuna
    from optuna.distributions import IntDistribution

    columns = [] if params is None else list(params.select_dtypes("number").columns)
    table = None if params is None else params[columns].to_numpy(dtype=np.float64)
    draw = IntDistribution(0, len(values) - 1)

    used = 0
    seconds: list[float] = []
    prune = pruner.prune

    def timed_prune(study: Any, trial: Any) -> bool:
        t0 = time.process_time()
        answer = prune(study, trial)
        seconds.append(time.process_time() - t0)
        return bool(answer)

    pruner.prune = timed_prune  # measured where Optuna calls it, through should_prune()

    def objective(trial: optuna.Trial) -> float:
        nonlocal used
        i = int(study.sampler.sample_independent(study, trial, "config", draw))
        trial.set_user_attr("config", i)
        if table is not None:
            for name, v in zip(columns, table[i], strict=True):
                if np.isfinite(v):
                    trial.suggest_float(str(name), float(v), float(v))
        reported = values if reports is None else reports
        for epoch, value in enumerate(reported[i], start=1):
            trial.report(float(value), step=epoch)
            used += 1
            if epoch < values.shape[1] and trial.should_prune():
                raise optuna.TrialPruned()
        return float(reported[i, -1])  # NaN: Optuna records the trial as failed

    # a fixed name: Optuna's HyperbandPruner puts each trial in a bracket by a hash of the study's
    # name and the trial's number, so a random name (the default) made its rows irreproducible
    study = optuna.create_study(direction="maximize" if sign > 0 else "minimize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=seed), storage=storage,
                                study_name=f"benchmark-seed-{seed}")
    study.optimize(objective, n_trials=trials)
    if studies is not None:
        studies.append(study)
    sampled = [t.user_attrs["config"] for t in study.trials]
    true_best = float(np.max(sign * values[sampled, -1]))
    complete = [t for t in study.trials if t.state is optuna.trial.TrialState.COMPLETE]
    found = max((sign * float(t.value) for t in complete if t.value is not None), default=-math.inf)
    clipped = getattr(pruner, "n_clipped_", 0)  # decisions on a clipped prediction
    ms = 1000 * np.asarray(seconds) if seconds else np.zeros(1)
    return {"epochs": used, "full": trials * values.shape[1],
            "best_kept": bool(found >= true_best - 1e-12), "regret": true_best - found,
            "ms": float(np.median(ms)), "ms_mean": float(np.mean(ms)),
            "ms_p90": float(np.quantile(ms, 0.9)),
            "ms_max": float(ms.max()), "calls": len(seconds), "clipped": clipped}


def run_optuna(curves: CurveSet, seeds: int, trials: int,
               only: Sequence[str] = (), raw: bool = False) -> list[dict[str, Any]]:
    """Every Optuna pruner (``only``: those named) over ``seeds`` studies of ``curves``; ``raw``:
    the trials report a diverged run's NaN and ±inf as recorded, not the filled values."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    values = curves.filled_values()
    reports = curves.values if raw else None
    out = []
    for name, make in optuna_pruners().items():
        if only and name not in only:
            continue
        for seed in range(seeds):
            record = run_optuna_study(values, curves.direction.sign, make(), trials, seed,
                                      params=curves.configs, reports=reports)
            out.append({"rule": name, "seed": seed, **record})
            print(json.dumps({"part": "optuna", **out[-1]}), flush=True)
    return out


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per rule: epochs, speedup, best kept, mean regret, median ms, clipped."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["rule"] for r in records):
        rs = [r for r in records if r["rule"] == name]
        epochs, full = sum(r["epochs"] for r in rs), sum(r["full"] for r in rs)
        clipped = [r["clipped"] for r in rs if r.get("clipped") is not None]
        out[name] = {"epochs": epochs, "speedup": full / epochs,
                     "best_kept": sum(r["best_kept"] for r in rs), "runs": len(rs),
                     "regret": float(np.mean([r["regret"] for r in rs])),
                     "ms": float(np.median([r["ms"] for r in rs])),
                     "clipped": sum(clipped) if clipped else None}
    return out


def choose(summaries: dict[str, dict[str, dict[str, Any]]], sets: Sequence[str]) -> str:
    """The grid point that keeps the best (in ≥ KEEP of 10 runs, or that share of another
    number) on most of ``sets``, then has the highest geometric-mean speedup over them; "n/a"
    when there is no set to choose on or no grid point ran on all of them."""
    def score(name: str) -> tuple[int, float]:
        safe = sum(summaries[d][name]["best_kept"] >= KEEP_SHARE * summaries[d][name]["runs"]
                   for d in sets)
        speed = float(np.mean([math.log(summaries[d][name]["speedup"]) for d in sets]))
        return safe, speed

    names = [grid_name(*point) for point in GRID
             if all(grid_name(*point) in summaries[s] for s in sets)]
    if not sets or not names:  # e.g. a --rules run of one part of a set: --merge chooses later
        return "n/a"
    return max(names, key=score)


def leave_one_out(summaries: dict[str, dict[str, dict[str, Any]]],
                  held_out: Sequence[str] = ()) -> dict[str, Any]:
    """Per data set, the grid point chosen on the others (``loo``); ``default``: the one chosen
    on every set but the ``held_out`` ones, which never take part in a choice and are scored with
    ``default``."""
    sets = [d for d in summaries if d not in held_out]
    default = choose(summaries, sets)
    loo = {held: choose(summaries, [d for d in sets if d != held]) for held in sets}
    loo.update({held: default for held in held_out if held in summaries})
    return {"default": default, "loo": loo, "held_out": list(held_out)}


def markdown(result: dict[str, Any]) -> str:
    lines = []
    for part in ("replay", "optuna"):
        if part not in result["parts"]:
            continue
        sel = result["parts"][part]["selection"]
        lines.append(f"### {part}\n")
        lines.append("| data set | rule | epochs | speedup | best kept | mean regret | "
                     "CPU ms/decision | clipped |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for d, summary in result["parts"][part]["summary"].items():
            chosen = sel["loo"][d]
            for name, s in summary.items():
                if name.startswith("curvecast[") and name != chosen and chosen != "n/a":
                    continue  # with no choice (one set, or a part of one), every row run
                how = "held out, default" if d in sel.get("held_out", []) else "LOO"
                label = f"**curvecast** ({how}: {chosen[10:-1]})" if name == chosen else name
                lines.append(f"| {d} | {label} | {s['epochs']} | {s['speedup']:.2f}x | "
                             f"{s['best_kept']}/{s['runs']} | {s['regret']:.4g} | "
                             f"{s['ms']:.3f} | {'' if s['clipped'] is None else s['clipped']} |")
        held = sel.get("held_out", [])
        lines.append(f"\nDefault chosen on all sets{' but ' + ', '.join(held) if held else ''}: "
                     f"`{sel['default']}`.\n")
    return "\n".join(lines)


def merge(results: Sequence[dict[str, Any]], held_out: Sequence[str] = ()) -> dict[str, Any]:
    """Runs over different data sets (or parts) as one result, the selection redone."""
    out: dict[str, Any] = {**results[0], "data": {}, "parts": {}, "grid": GRID, "tried": TRIED,
                           "command": [r["command"] for r in results]}
    for r in results:
        out["data"].update(r["data"])
        for part, content in r["parts"].items():
            into = out["parts"].setdefault(part, {"summary": {}, "records": {}})
            for name, records in content["records"].items():  # one set's rules may be split
                into["records"].setdefault(name, []).extend(records)
    for content in out["parts"].values():
        content["summary"] = {d: summarise(r) for d, r in content["records"].items()}
        content["selection"] = leave_one_out(content["summary"], held_out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("replay", "optuna", "both"), default="both")
    parser.add_argument("--data", action="append", default=[],
                        help="NAME=PATH (repeatable); default: every set the project has")
    parser.add_argument("--orderings", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--paper", action="store_true", help="also replay the paper's rule")
    parser.add_argument("--rules", default="",
                        help="';'-separated rule names to run (default: all), e.g. to run one "
                             "data set's rules in parallel processes and --merge them")
    parser.add_argument("--out", type=Path, required=True,
                        help="the JSON to write (the published one is "
                             "bench/results/stopping_benchmark.json: write it by --merge)")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--merge", type=Path, nargs="+",
                        help="combine the results of earlier runs (e.g. one per data set, run "
                             "in parallel) into --out, redoing the selection")
    parser.add_argument("--reports", choices=("filled", "raw"), default="raw",
                        help="Optuna part: what a diverged run reports, its NaN and ±inf as "
                             "recorded, as a user's objective would (the published records "
                             "since stop 38), or the filled values (the records before it)")
    parser.add_argument("--held-out", default="",
                        help="comma-separated data sets kept out of every choice (scored with "
                             "the default chosen on the others)")
    args = parser.parse_args()
    for option, value in (("--orderings", args.orderings), ("--seeds", args.seeds),
                          ("--trials", args.trials)):
        if value < 1:
            parser.error(f"{option} must be at least 1, got {value}")
    bad = [item for item in args.data if "=" not in item or not item.split("=", 1)[0]]
    if bad:
        parser.error(f"--data takes NAME=PATH, got {bad[0]!r}")
    only = [r for r in args.rules.split(";") if r]
    known = {*replay_rules(args.paper), *optuna_pruners()}
    unknown = [r for r in only if r not in known]
    if unknown:
        parser.error(f"unknown rule(s) {unknown}; the rules are {sorted(known)}")
    if args.merge:
        held = [h for h in args.held_out.split(",") if h]
        merged = merge([json.loads(p.read_text()) for p in args.merge], held)
        args.out.write_text(json.dumps(merged, indent=1))
        if args.markdown:
            args.markdown.write_text(markdown(merged))
        print(markdown(merged))
        return
    data = dict(item.split("=", 1) for item in args.data) if args.data else DATA
    parts = ("replay", "optuna") if args.part == "both" else (args.part,)
    result: dict[str, Any] = {
        "benchmark": "stopping_benchmark", "command": "python " + " ".join(sys.argv),
        "grid": GRID, "tried": TRIED, "keep": KEEP, "reports": args.reports, "data": {},
        "parts": {}, "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "packages": package_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for part in parts:
        records: dict[str, list[dict[str, Any]]] = {}
        for name, path in data.items():
            curves = load(Path(path))
            result["data"][name] = {"path": str(path), "configs": curves.n_configs,
                                    "epochs": curves.n_epochs,
                                    "direction": curves.direction.value}
            records[name] = (run_replay(curves, args.orderings, args.paper, only)
                             if part == "replay" else run_optuna(curves, args.seeds, args.trials,
                                                                 only, args.reports == "raw"))
        summary = {d: summarise(r) for d, r in records.items()}
        result["parts"][part] = {"summary": summary, "selection": leave_one_out(summary),
                                 "records": records}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    if args.markdown:
        args.markdown.write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
