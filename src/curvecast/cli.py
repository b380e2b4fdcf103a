"""The ``curvecast`` command line; the only place where strings become classes.

Every command turns bad input (an unknown workload, a malformed file, an impossible number) into a
one-line ``error: ...`` on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import math
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from curvecast.curves import CurveSet, CurveSetFormatError
from curvecast.defaults import DELTA as DEFAULT_DELTA
from curvecast.defaults import MIN_COMPLETE
from curvecast.report.terminal import UnwrappedConsole, progress
from curvecast.workloads._base import Workload

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                  help="Predict where learning curves end; stop the runs that will not win.")
data_app = typer.Typer(add_completion=False, help="Learning-curve data sets: import, inspect.")
import_app = typer.Typer(add_completion=False, help="Import learning curves (a table, an Optuna "
                                                    "study, a Ray Tune experiment, the paper's "
                                                    "files) as a CurveSet Parquet file.")
app.add_typer(data_app, name="data")
data_app.add_typer(import_app, name="import")

err_console = UnwrappedConsole(stderr=True)
console = UnwrappedConsole()

P = ParamSpec("P")
R = TypeVar("R")


def _workloads() -> dict[str, Callable[[], Workload]]:
    """Workload names → constructors (imports stay lazy: no torch until a run starts)."""
    from curvecast import workloads

    return {
        "digits-metaqnn": workloads.DigitsMetaQNN,
        "mnist1d-hp": workloads.MNIST1DHP,
        "text-lstm": workloads.TextLSTM,
        "friedman-sgd": workloads.FriedmanSGD,
    }


def _fail(message: str) -> typer.Exit:
    """Print ``error: message`` on one line (taken literally: "[ray]" is not rich markup; line
    breaks become spaces) and exit code 2."""
    message = " ".join(message.split())
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors bad input raises into a one-line message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (CurveSetFormatError, ValueError, FileNotFoundError, KeyError) as err:
            text = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise _fail(str(text)) from None
        except ModuleNotFoundError as err:
            raise _fail(f"{err}: install the extra that provides it, e.g. "
                        "pip install 'curvecast[torch]'") from None
        except OSError as err:  # no permission, a folder where a file goes, a name too long …
            where = f"{err.filename}: " if err.filename else ""
            raise _fail(f"{where}{err.strerror or err}") from None

    return wrapper


def _check_out(path: Path | None) -> None:
    """Refuse, before any work, a file to write whose folder is missing or that is a folder."""
    if path is None:
        return
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: folder {str(path.parent)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give the name of a file to write")


def _load(path: Path, warn: bool = True) -> CurveSet:
    return _checked(CurveSet.load(path), path, warn)


def _checked(curves: CurveSet, path: Path, warn: bool = True) -> CurveSet:
    """``curves``, after a one-line warning on stderr when ``warn`` and its values look wrong."""
    warning = curves.range_warning(str(path)) if warn else None
    if warning is not None:
        err_console.print(f"warning: {warning}", markup=False, highlight=False)
    return curves


@app.command()
@friendly_errors
def collect(
    workload: Annotated[str, typer.Option(help="Workload to train: " + ", ".join(
        ["digits-metaqnn", "mnist1d-hp", "text-lstm", "friedman-sgd"]))],
    configs: Annotated[int, typer.Option(help="Number of configs to sample and train.")],
    epochs: Annotated[int, typer.Option(help="Epochs per config.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write (appended to, resumable).")],
    seed: Annotated[int, typer.Option(help="Seed of config sampling and training.")] = 0,
    workers: Annotated[int, typer.Option(help="Parallel single-thread training processes; 0: "
                                              "one per core.")] = 0,
) -> None:
    """Train sampled configs of a workload and record their learning curves to OUT.

    Interrupted and rerun with the same arguments, it continues where it stopped and never
    retrains a finished config.
    """
    import os

    from curvecast.execution import collect as run_collect
    from curvecast.execution.collect import CollectStep as Step
    from curvecast.execution.collect import check_arguments

    factories = _workloads()
    if workload not in factories:
        raise ValueError(f"unknown workload {workload!r}: choose one of {sorted(factories)}")
    if workers < 0:
        raise ValueError(f"--workers must be at least 1 (or 0 for all cores), got {workers}")
    n_workers = workers or os.cpu_count() or 1
    check_arguments(n_configs=configs, epochs=epochs, workers=n_workers, out=out)
    command = "curvecast " + shlex.join(sys.argv[1:])
    with progress(err_console) as bar:
        configs_task = bar.add_task("configs", total=configs)
        epochs_task = bar.add_task("epochs", total=configs * epochs)
        running: dict[str, int] = {}

        def on_progress(step: Step) -> None:
            if step.done:
                running.pop(step.config_id, None)
                bar.advance(configs_task)
            else:
                running[step.config_id] = step.epoch
                bar.advance(epochs_task)
            now = ", ".join(f"{c} ep {e}/{epochs}" for c, e in sorted(running.items())[:3])
            bar.update(epochs_task, description=f"epochs [dim]{now}[/]")

        try:
            result = run_collect(factories[workload](), n_configs=configs, epochs=epochs,
                                 seed=seed, out=out, workers=n_workers,
                                 on_progress=on_progress, command=command)
        except KeyboardInterrupt:
            err_console.print(f"interrupted: finished configs are saved in {out}; rerun the "
                              "same command to continue")
            raise typer.Exit(code=130) from None
        done = len(result.skipped)
        bar.update(configs_task, completed=done + len(result.trained))
        bar.update(epochs_task, completed=(done + len(result.trained)) * epochs)
    console.print(f"recorded {result.curves.n_configs} configs x {epochs} epochs "
                  f"({len(result.trained)} trained now, {len(result.skipped)} already there, "
                  f"{len(result.resumed)} resumed) -> {out}")


@data_app.command("summary")
@friendly_errors
def data_summary(
    path: Annotated[Path, typer.Argument(help="A curvecast Parquet file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Configs, epochs, metric, direction, provenance and final-value quantiles of a data set."""
    from curvecast.datasets.summary import summarize

    summary = summarize(_load(path))
    if as_json:
        print(_dumps(summary, indent=2))
        return
    table = Table(title=str(path), show_header=False)
    for key, value in summary.items():
        if key == "final_quantiles":
            value = "  ".join(f"q{float(q):.2f}={v:.4g}" for q, v in value.items())
        elif key == "provenance":
            value = json.dumps(value, default=str)[:300]
        elif isinstance(value, float):
            value = "nan" if math.isnan(value) else f"{value:.4g}"
        table.add_row(key, str(value))
    console.print(table)


def _dumps(obj: Any, **kwargs: Any) -> str:
    """Strict JSON (what ``jq`` and every parser read): NaN and ±inf become null, numpy values
    plain numbers, anything else JSON cannot hold its ``str``."""
    return json.dumps(_strict(obj), allow_nan=False, default=str, **kwargs)


def _strict(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, dict):
        return {k.item() if isinstance(k, np.generic) else k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [_strict(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj + 0.0 if math.isfinite(obj) else None  # + 0.0: no -0.0
    return obj


@data_app.command("plot")
@friendly_errors
def data_plot(
    path: Annotated[Path, typer.Argument(help="A curvecast Parquet file or a baker2018 CSV.")],
    out: Annotated[Path, typer.Option(help="PNG file to write.")],
    n: Annotated[int, typer.Option(help="How many random curves to draw.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the random sample.")] = 0,
    y_max: Annotated[float | None, typer.Option(
        help="End the y axis here (curves above it are counted in the figure).")] = None,
) -> None:
    """Draw a random sample of a data set's learning curves to a PNG file."""
    from curvecast.report.curve_plots import plot_curves

    _check_out(out)
    curves = _load_any(path)
    plot_curves(curves, out, n=n, seed=seed, title=f"{path.name}: {min(n, curves.n_configs)} of "
                f"{curves.n_configs} curves", y_max=y_max)
    console.print(f"figure -> {out}")


@import_app.command("baker2018")
@friendly_errors
def import_baker2018(
    csv: Annotated[Path, typer.Argument(help="One of the paper's published CSV files.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
) -> None:
    """Convert one of Baker et al.'s published learning-curve CSV files to a CurveSet."""
    from curvecast.datasets.baker2018 import load_baker2018

    _check_out(out)
    curves = load_baker2018(csv)
    curves.save(out)
    console.print(f"{csv.name}: {curves.n_configs} configs x {curves.n_epochs} epochs, "
                  f"{curves.metric} ({curves.direction.value}) -> {out}")


def _saved(curves: CurveSet, source: str, out: Path) -> None:
    """Write an imported CurveSet and say what it holds."""
    curves.save(out)
    complete = int(curves.is_complete().sum())
    console.print(f"{source}: {curves.n_configs} configs ({complete} complete) x "
                  f"{curves.n_epochs} epochs, {curves.metric} ({curves.direction.value}) -> {out}")


OutOption = Annotated[Path, typer.Option(help="Parquet file to write.")]
MetricOption = Annotated[str, typer.Option(help="The metric's name, e.g. val_accuracy.")]
DirectionOption = Annotated[str, typer.Option(help="maximize or minimize.")]


@import_app.command("table")
@friendly_errors
def import_table(
    file: Annotated[Path, typer.Argument(help="A wide CSV or Parquet table: one row per config.")],
    curves: Annotated[str, typer.Option(help="Regex matching the curve columns' whole names; "
                                             "its one group is the epoch, e.g. 'acc_(\\d+)'.")],
    metric: MetricOption,
    direction: DirectionOption,
    out: OutOption,
    id_column: Annotated[str | None, typer.Option(help="Column of config ids (default: "
                                                       "row-0001, … in file order).")] = None,
) -> None:
    """Import a wide table: curve columns by --curves, every other column a config feature.

    An empty cell is an epoch the run did not reach; nan or inf is a diverged run.
    """
    from curvecast.datasets import from_table

    _saved(from_table(file, curves, metric, direction, id_column=id_column), file.name, out)


@import_app.command("long")
@friendly_errors
def import_long(
    file: Annotated[Path, typer.Argument(help="A long CSV or Parquet table: columns config_id, "
                                              "epoch, value[, seconds].")],
    metric: MetricOption,
    direction: DirectionOption,
    out: OutOption,
    configs: Annotated[Path | None, typer.Option(help="Config table (CSV or Parquet) with a "
                                                      "config_id column.")] = None,
) -> None:
    """Import a long table: one row per (config, epoch) observation."""
    from curvecast.datasets import from_long_table

    _saved(from_long_table(file, metric, direction, configs=configs), file.name, out)


@import_app.command("optuna")
@friendly_errors
def import_optuna(
    storage: Annotated[str, typer.Argument(help="Optuna storage URL, e.g. sqlite:///last.db.")],
    study: Annotated[str, typer.Option(help="The study's name.")],
    out: OutOption,
    metric: Annotated[str | None, typer.Option(help="The metric's name, when the study did not "
                                                    "set one (study.set_metric_names).")] = None,
) -> None:
    """Import an Optuna study's intermediate values (steps = epochs) as curves.

    Params and user attrs are the config table; pruned trials are partial curves; failed trials
    are kept only when they reported NaN (diverged).
    """
    from curvecast.datasets import from_optuna
    from curvecast.datasets.optuna_study import redact

    _saved(from_optuna(storage, study, metric=metric), f"{redact(storage)} study {study!r}", out)


@import_app.command("ray")
@friendly_errors
def import_ray(
    experiment: Annotated[Path, typer.Argument(help="A Ray Tune experiment directory (one "
                                                    "folder per trial).")],
    metric: Annotated[str, typer.Option(help="The reported metric to read.")],
    direction: DirectionOption,
    out: OutOption,
) -> None:
    """Import a Ray Tune experiment directory's trials as curves.

    Each trial folder's result.json (or progress.csv) gives the curve (training_iteration =
    epoch) and params.json the config; trials stopped early are partial curves.
    """
    from curvecast.datasets import from_ray

    _saved(from_ray(experiment, metric, direction), experiment.name, out)


def _load_any(path: Path, warn: bool = True) -> CurveSet:
    """A curvecast Parquet file, or one of the paper's published CSV files (``warn``: say when
    an accuracy lies outside [0, 1])."""
    if path.suffix.lower() == ".csv":
        from curvecast.datasets.baker2018 import load_baker2018

        return _checked(load_baker2018(path), path, warn)
    return _load(path, warn)


#: ``--sigma-model`` and ``--arcsine-target`` of the commands that build an SRM.
SigmaModelOption = Annotated[str, typer.Option(help="σ of the SRM: per_tau (one per epoch, the "
                                                    "paper's) or local (depends on the predicted "
                                                    "value).")]
ArcsineTargetOption = Annotated[bool, typer.Option(help="The SRM models arcsin(√y), the "
                                                        "variance-stabilising scale of an "
                                                        "accuracy in [0, 1].")]


def _predictor_factories(draws: int, sigma_model: str = "per_tau",
                         arcsine_target: bool = False) -> dict[str, Any]:
    """Predictor names → ``factory(feature_groups, seed)``; ``sigma_model`` and
    ``arcsine_target`` of every SRM."""
    from curvecast import predictors as p

    def srm(spec: Callable[[], Any]) -> Any:
        return lambda groups, seed: p.SRM(regressor=spec(), features=groups, n_draws=draws,
                                          random_state=seed, sigma_model=sigma_model,
                                          arcsine_target=arcsine_target)

    return {
        "chain": lambda groups, seed: p.HorizonChain(),
        "paper": lambda groups, seed: p.SRM(features=groups, n_draws=draws,
                                            random_state=seed),  # SRM.paper() at the defaults
        "srm": srm(p.svr_rbf_or_ridge),
        "svr-rbf": srm(p.nu_svr_rbf),
        "ridge": srm(p.ridge),
        "svr-linear": srm(p.nu_svr_linear),
        "rf": srm(p.random_forest),
        "ols": srm(p.ols),
        "last-value": lambda groups, seed: p.LastSeenValue(),
        "lce": lambda groups, seed: p.LCE(random_state=seed),
        "lce-fast": lambda groups, seed: p.LCE.fast(random_state=seed),
        "bnn": lambda groups, seed: p.BNN(features=groups, random_state=seed),
    }


#: Complete trials before the first stop when ``--min-complete`` is not given, per predictor:
#: curvecast's default predictor judges from the 5th (like Optuna's MedianPruner); an SRM is
#: fitted on complete curves only and, as in the paper, waits for 100.
DEFAULT_MIN_COMPLETE = {"chain": MIN_COMPLETE}
PAPER_MIN_COMPLETE = 100


def _min_complete(min_complete: int | None, predictor: str) -> int:
    """``--min-complete``, or the predictor's default when it was not given."""
    if min_complete is not None:
        return min_complete
    return DEFAULT_MIN_COMPLETE.get(predictor, PAPER_MIN_COMPLETE)


def _floats(text: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"{option} must be comma-separated numbers, got {text!r}") from None


@app.command()
@friendly_errors
def evaluate(
    data: Annotated[Path, typer.Argument(help="A CurveSet Parquet file or a baker2018 CSV.")],
    predictors: Annotated[str, typer.Option(help="Comma-separated predictors.")] = (
        "srm,svr-rbf,svr-linear,rf,ols,last-value"),
    train_size: Annotated[int, typer.Option(help="Fully observed training curves.")] = 100,
    repeats: Annotated[int, typer.Option(help="Random training sets.")] = 10,
    fractions: Annotated[str, typer.Option(help="Observed shares of the curve.")] = "0.1,0.25,0.5,0.75",
    features: Annotated[str, typer.Option(help="Feature groups: ts, ap, hp.")] = "ts,ap,hp",
    experiments: Annotated[str, typer.Option(help="table1, table2, sample_efficiency, "
                                                  "depth_generalisation.")] =
    "table1,table2,sample_efficiency,depth_generalisation",
    draws: Annotated[int, typer.Option(help="Random-search draws per SRM model.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the training-set draws.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write tidy JSON here.")] = None,
    plots: Annotated[Path | None, typer.Option(help="Write PNG figures into this folder.")] = None,
) -> None:
    """Re-make the paper's prediction experiments (R² of the final value vs % of curve seen)."""
    from curvecast.experiments.prediction import (
        PredictionSettings,
        run_prediction_experiments,
        select,
    )
    from curvecast.features import parse_groups

    factories = _predictor_factories(draws)
    names = [n.strip() for n in predictors.split(",") if n.strip()]
    unknown = [n for n in names if n not in factories]
    if unknown or not names:
        raise ValueError(f"unknown predictor(s) {unknown or predictors!r}: choose from "
                         f"{sorted(factories)}")
    _check_out(json_out)
    settings = PredictionSettings(
        train_size=train_size, repeats=repeats, fractions=_floats(fractions, "--fractions"),
        features=parse_groups(features), seed=seed,
        experiments=tuple(e.strip() for e in experiments.split(",") if e.strip()),
        slow=frozenset({"lce", "lce-fast"}))
    curves = _load_any(data)
    with progress(err_console) as bar:
        task = bar.add_task("repeats", total=None)

        def on_step(what: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=what[:40])

        output = run_prediction_experiments(curves, {n: factories[n] for n in names}, settings,
                                            on_step=on_step)
    output = {"dataset": str(data), **output}
    table = Table(title=f"{data.name}: R² of the final value (mean ± s.e., {repeats} repeats)")
    table.add_column("predictor")
    fr = settings.fractions
    for f in fr:
        table.add_column(f"{100 * f:g} %", justify="right")
    for name in names:
        cells = []
        for f in fr:
            rec = select(output["results"], experiment="table1", predictor=name, fraction=f,
                         metric="r2")
            cells.append(f"{rec[0]['mean']:.3f} ± {rec[0]['stderr']:.3f}" if rec else "")
        table.add_row(name, *cells)
    console.print(table)
    clipped = [r for r in output["results"] if r["metric"] == "clipped" and r["mean"]]
    for rec in clipped:  # a clipped prediction never drives a decision unnoticed
        console.print(f"{rec['searcher']}+{rec['stopper']} Δ={rec['delta']:g}: "
                      f"{rec['mean']:.1f} decisions per ordering on a prediction clipped to "
                      "what the training curves support")
    if json_out is not None:
        json_out.write_text(_dumps(output, indent=1))
        console.print(f"results -> {json_out}")
    if plots is not None:
        from curvecast.report.prediction_plots import plot_prediction_results

        for path in plot_prediction_results(output, plots, data.stem):
            console.print(f"figure -> {path}")

@app.command()
@friendly_errors
def simulate(
    data: Annotated[Path, typer.Argument(help="A CurveSet Parquet file or a baker2018 CSV.")],
    searcher: Annotated[str, typer.Option(help="Comma-separated searchers: random, metaqnn "
                                               "(needs a 'net' column), tpe (each with every "
                                               "stopper), hyperband, fhyperband (f-Hyperband "
                                               "sweeps Δ; compared with Hyperband).")] = "random",
    trials: Annotated[int, typer.Option(help="Trials per search (0: every recorded "
                                             "config).")] = 0,
    stopper: Annotated[str, typer.Option(help="Comma-separated stoppers: predictive, median, "
                                              "asha, never, oracle.")] = "predictive,median,never,oracle",
    delta: Annotated[str, typer.Option(help="Δ values swept by the predictive stopper.")] = (
        "0.8,0.9,0.95,0.99"),
    orderings: Annotated[int, typer.Option(help="Random orderings of the configs.")] = 10,
    workers: Annotated[int, typer.Option(help="Simulated workers.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the orderings and the predictor.")] = 0,
    min_complete: Annotated[int | None, typer.Option(help="Complete trials before any stopper "
                                                          "stops (default: 5 with the chain "
                                                          "predictor, 100 — the paper's — with "
                                                          "the others).")] = None,
    predictor: Annotated[str, typer.Option(help="Predictor of the predictive stopper: chain "
                                                "(curvecast's default, HorizonChain), paper "
                                                "(SRM.paper(), the paper reproductions), srm, "
                                                "svr-rbf, svr-linear, rf, ols, "
                                                "last-value.")] = "chain",
    draws: Annotated[int, typer.Option(help="Random-search draws per SRM model.")] = 50,
    sigma_model: SigmaModelOption = "per_tau",
    arcsine_target: ArcsineTargetOption = False,
    refit_every: Annotated[int, typer.Option(help="Refit the predictor every k completions "
                                                  "(0: fit once, the paper's).")] = 0,
    keep_top_k: Annotated[int, typer.Option(help="Compare with the k-th best final value.")] = 1,
    margin: Annotated[float, typer.Option(help="δ: compare with y_best − δ (metric units).")] = 0.0,
    eta: Annotated[float, typer.Option(help="Reduction factor η of ASHA and Hyperband.")] = 3.0,
    kappa: Annotated[float, typer.Option(help="f-Hyperband's κ: compare with the ⌈κ·n_next⌉-th "
                                              "best value of the rung.")] = 1.0,
    min_curves: Annotated[int, typer.Option(help="f-Hyperband's d: curves that reach a rung's "
                                                 "end before its predictor is fitted.")] = 100,
    prior_fraction: Annotated[float, typer.Option(help="Hold out this share of the configs "
                                                       "(at random, --seed) as the predictive "
                                                       "stopper's warm-start prior; the search "
                                                       "replays only the others.")] = 0.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write tidy JSON here.")] = None,
    plots: Annotated[Path | None, typer.Option(help="Write speedup-vs-Δ PNGs here.")] = None,
) -> None:
    """Replay a search over recorded curves with early stopping; speedup vs Δ (paper §4.2–4.3).

    With ``--prior-fraction f`` a random share f of the complete configs is the predictive
    stopper's warm start (its curves count toward ``--min-complete``) and never replayed; the
    oracle then stops after ``max(0, min_complete − prior configs)`` complete trials, the fewest
    a warm-started rule could wait for.
    """
    from curvecast import search, stopping
    from curvecast.experiments.speedup import (
        SchedulerSpec,
        SpeedupSettings,
        StopperSpec,
        run_speedup,
        select,
    )

    curves = _load_any(data, warn=not arcsine_target)  # --arcsine-target: an error says it
    _check_out(json_out)
    if refit_every < 0:
        raise ValueError(f"--refit-every must be >= 0, got {refit_every}")
    if arcsine_target:  # before the replays start: fail with one line, not mid-progress-bar
        from curvecast.predictors.srm import check_arcsine_values

        check_arcsine_values(curves.filled_values(), f"{data.name}'s {curves.metric} values")
    short = ~curves.is_complete()
    if short.any():  # the replays use complete curves only: say what is left out, and why
        ends = [int(curves.epochs[k - 1]) if k else 0 for k in curves.n_observed()[short]]
        err_console.print(f"note: {int(short.sum())} of {curves.n_configs} configs are left out: "
                          f"their curves end before the final epoch {int(curves.epochs[-1])} "
                          f"(at epochs {min(ends)}..{max(ends)})", highlight=False)
    prior, curves = _split_prior(curves, prior_fraction, seed)
    n_prior = 0 if prior is None else prior.n_configs
    min_complete = _min_complete(min_complete, predictor)
    groups = frozenset({"ts", "ap", "hp"})
    if sigma_model not in ("per_tau", "local"):
        raise ValueError(f"sigma_model must be 'per_tau' or 'local', got {sigma_model!r}")
    predictor_factories: dict[str, Any] = _predictor_factories(draws, sigma_model, arcsine_target)
    if predictor not in predictor_factories:
        raise ValueError(f"unknown predictor {predictor!r}: choose from "
                         f"{sorted(predictor_factories)}")
    prototype = predictor_factories[predictor](groups, seed)
    if "predictive" in [n.strip() for n in stopper.split(",")]:
        _check_fit_possible(prototype, min_complete, n_prior)
    if trials < 0:
        raise ValueError(f"--trials must be >= 0, got {trials}")
    budget = trials or None
    searcher_factories: dict[str, Any] = {
        "random": lambda cs, s: search.RandomSearch.from_curves(cs, seed=s, max_trials=budget),
        "metaqnn": lambda cs, s: search.MetaQNN.from_curves(cs, budget, seed=s),
        "tpe": lambda cs, s: search.TPE.from_curves(cs, budget, seed=s)}
    scheduler_specs = {
        "hyperband": SchedulerSpec("hyperband", lambda cs, s, d, fits: search.Hyperband(
            search.RandomSearch.from_curves(cs, seed=s), eta=eta), stopper="sh"),
        "fhyperband": SchedulerSpec("fhyperband", lambda cs, s, d, fits: search.FHyperband(
            search.RandomSearch.from_curves(cs, seed=s), delta=0.95 if d is None else d,
            margin=margin, kappa=kappa, min_curves=min_curves, predictor=prototype, fits=fits,
            eta=eta), stopper="sh+predictive", sweeps_delta=True, reference="hyperband",
            compare=search.hyperband.compare_hyperbands),
    }
    stopper_specs = {
        "predictive": StopperSpec("predictive", lambda d, fits: stopping.PredictiveStopper(
            delta=0.99 if d is None else d, margin=margin, keep_top_k=keep_top_k, min_complete=min_complete,
            refit_every=refit_every or None, predictor=prototype, fits=fits, prior=prior),
            sweeps_delta=True),
        "median": StopperSpec("median", lambda d, fits: stopping.MedianRule(
            min_complete=min_complete)),
        "asha": StopperSpec("asha", lambda d, fits: stopping.ASHA(eta=eta,
                                                                  min_complete=min_complete)),
        "never": StopperSpec("never", lambda d, fits: stopping.NeverStop()),
        "oracle": StopperSpec("oracle", lambda d, fits: stopping.Oracle(
            curves, min_complete=max(0, min_complete - n_prior))),
    }
    s_names = [n.strip() for n in searcher.split(",") if n.strip()]
    unknown = [n for n in s_names if n not in searcher_factories and n not in scheduler_specs]
    if unknown or not s_names:
        raise ValueError(f"unknown searcher(s) {unknown or searcher!r}: choose from "
                         f"{sorted([*searcher_factories, *scheduler_specs])}")
    sched_names = [n for n in scheduler_specs if n in s_names]
    if "fhyperband" in sched_names and "hyperband" not in sched_names:
        sched_names.insert(0, "hyperband")  # f-Hyperband is measured against it
    s_names = [n for n in s_names if n in searcher_factories]
    names = [n.strip() for n in stopper.split(",") if n.strip()]
    unknown = [n for n in names if n not in stopper_specs]
    if unknown or not names:
        raise ValueError(f"unknown stopper(s) {unknown or stopper!r}: choose from "
                         f"{sorted(stopper_specs)}")
    settings = SpeedupSettings(deltas=_floats(delta, "--delta"), orderings=orderings,
                               workers=workers, seed=seed)
    for name in s_names:  # a searcher that cannot use this data fails here, before any replay
        searcher_factories[name](curves, seed)
    with progress(err_console) as bar:
        task = bar.add_task("replays", total=None)

        def on_step(what: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=what[:40])

        output = run_speedup(curves, {n: searcher_factories[n] for n in s_names},
                             [stopper_specs[n] for n in names] if s_names else [], settings,
                             on_step=on_step,
                             schedulers=[scheduler_specs[n] for n in sched_names])
    output = {"dataset": str(data), **output}
    output["settings"].update(trials=trials, min_complete=min_complete, predictor=predictor,
                              sigma_model=sigma_model, arcsine_target=arcsine_target,
                              prior_fraction=prior_fraction, prior_configs=n_prior,
                              draws=draws, refit_every=refit_every, keep_top_k=keep_top_k, margin=margin,
                              eta=eta, kappa=kappa, min_curves=min_curves,
                              configs_left_out=int(short.sum()))
    table = Table(title=f"{data.name}: early stopping (mean ± s.e. over {orderings} orderings, "
                        f"{workers} worker(s))")
    for col in ("search+stop", "Δ", "speedup", "best kept", "regret", "epochs",
                *(("vs hyperband", "same picks") if sched_names else ())):
        table.add_column(col, justify="left" if col == "search+stop" else "right",
                         no_wrap=True)
    extra = (("speedup_vs_reference", ".2f"), ("same_selections", ".2f")) if sched_names else ()
    keys = []
    for rec in output["results"]:
        key = (rec["searcher"], rec["stopper"], rec["delta"])
        if key not in keys:
            keys.append(key)
    for sname, stop_name, d in keys:
        cells = []
        for metric, fmt in (("speedup", ".2f"), ("best_kept", ".2f"), ("regret", ".3f"),
                            ("epochs", ".0f"), *extra):
            recs = select(output["results"], searcher=sname, stopper=stop_name, delta=d,
                          metric=metric)
            cells.append("" if not recs else "n/a" if recs[0]["mean"] is None else
                         f"{_fixed(recs[0]['mean'], fmt)}±{_fixed(recs[0]['stderr'], fmt)}")
        table.add_row(f"{sname}+{stop_name}", "" if d is None else f"{d:g}", *cells)
    console.print(table)
    if json_out is not None:
        json_out.write_text(_dumps(output, indent=1))
        console.print(f"results -> {json_out}")
    if plots is not None:
        from curvecast.report.anytime_plots import plot_anytime_regret
        from curvecast.report.speedup_plots import plot_speedup_results

        for path in [*plot_speedup_results(output, plots, data.stem),
                     *plot_anytime_regret([output], plots, data.stem)]:
            console.print(f"figure -> {path}")


def _check_fit_possible(predictor: Any, min_complete: int, n_prior: int) -> None:
    """Refuse a ``--min-complete`` at which the predictive stopper's first fit would fail mid-run:
    it fits on ``max(min_complete, n_prior + 1)`` complete curves (prior curves included), and an
    SRM needs ``2 * cv`` of them; the chain predictor judges from ``min_rows`` (5) on."""
    cv = getattr(predictor, "cv", None)
    rows = getattr(predictor, "min_rows", None)
    if rows is not None and min_complete < rows:  # the chain: at least min_rows, prior or not
        raise ValueError(f"--min-complete {min_complete} is too few: the predictive stopper's "
                         f"{type(predictor).__name__} needs {rows} complete curves to fit; use "
                         f"--min-complete {rows} or more")
    if cv is None:
        return
    need = 2 * int(cv)
    if max(min_complete, n_prior + 1) < need:
        prior = f" and {n_prior} complete prior curves" if n_prior else ""
        raise ValueError(f"--min-complete {min_complete}{prior} is too few: the predictive "
                         f"stopper's SRM needs {need} complete curves to fit; use "
                         f"--min-complete {need} or more")


def _fixed(value: float, fmt: str) -> str:
    """``value`` in format ``fmt``, never as a negative zero (``-0.000``)."""
    text = f"{value:{fmt}}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _split_prior(curves: CurveSet, fraction: float, seed: int) -> tuple[CurveSet | None, CurveSet]:
    """``(prior, rest)`` of ``--prior-fraction``: :meth:`CurveSet.random_split`, or
    ``(None, curves)`` for 0."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"--prior-fraction must be in [0, 1), got {fraction}")
    if fraction == 0.0:
        return None, curves
    prior, rest = curves.random_split(fraction, seed)
    if prior.n_configs < 6:
        raise ValueError(f"--prior-fraction {fraction} holds out {prior.n_configs} configs; the "
                         "predictor needs at least 6")
    return prior, rest


def _stopper_for_search(name: str, *, delta: float, min_complete: int, refit_every: int,
                        prior: CurveSet | None, epochs: int, predictor: Any = None) -> Any:
    """Stopper names → stoppers for ``search`` (the only place the names become classes)."""
    from curvecast import stopping

    if prior is not None and name != "predictive":
        raise ValueError(f"--prior warm-starts the predictive stopper; --stopper {name} has no "
                         "predictor to warm-start")
    if name == "predictive":
        if prior is not None:
            _check_prior_epochs(prior, epochs)
        return stopping.PredictiveStopper(delta=delta, min_complete=min_complete,
                                          refit_every=refit_every or None, prior=prior,
                                          predictor=predictor)
    if name == "median":
        return stopping.MedianRule(min_complete=min(min_complete, 5))
    if name == "asha":
        return stopping.ASHA()
    if name == "never":
        return stopping.NeverStop()
    raise ValueError(f"unknown stopper {name!r}: choose predictive, median, asha or never")


def _check_prior_epochs(prior: CurveSet, epochs: int) -> CurveSet:
    """The prior's trained epochs (epoch 0 dropped), which must cover the search's ``epochs``."""
    trained = prior.without_untrained_epoch()
    if trained.n_epochs < epochs:
        raise ValueError(f"the prior has {trained.n_epochs} epochs, the search trains {epochs}; "
                         "a prior must cover the search's epochs")
    return trained


def _load_prior(spec: str) -> CurveSet:
    """``search --prior``: a CurveSet Parquet file, or ``STORAGE#STUDY``, a study in an Optuna
    storage URL (``sqlite:///last.db#name``, ``postgresql://…#name``) or in an SQLite file
    (``last.db#name``: an Optuna database or curvecast's own study database)."""
    if Path(spec).is_file() or "#" not in spec:
        return CurveSet.load(Path(spec))
    storage, _, study = spec.rpartition("#")
    if not storage or not study:
        raise ValueError(f"--prior {spec!r}: expected a Parquet file or STORAGE#STUDY, e.g. "
                         "last.db#study or sqlite:///last.db#study")
    if "://" not in storage:
        path = Path(storage)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such study database (--prior {spec})")
        if _is_curvecast_store(path):
            with _existing_store(f"sqlite:///{path}") as db:
                info = db.study_info(study)
                return db.to_curveset(study, epochs=info["settings"].get("epochs"))
        storage = f"sqlite:///{path}"
    from curvecast.datasets import from_optuna

    return from_optuna(storage, study)


def _is_curvecast_store(path: Path) -> bool:
    """Whether the SQLite file at ``path`` is a curvecast study database (not an Optuna one)."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError:
        return False
    return {"studies", "observations", "decisions"} <= tables


def _searcher_for_search(name: str, workload: Workload, seed: int, trials: int) -> Any:
    """Searcher names → generative searchers for ``search``."""
    from curvecast import search
    from curvecast.space import MetaQNNSpace, ParamSpace

    space = workload.space
    if name == "random":
        return search.RandomSampler(space, seed=seed)
    if name == "metaqnn":
        if not isinstance(space, MetaQNNSpace):
            raise ValueError(f"--searcher metaqnn needs an architecture (MetaQNN layer) space; "
                             f"workload {workload.name!r} has fixed architectures")
        return search.MetaQNN(space, n_trials=trials, seed=seed, direction=workload.direction)
    if name == "tpe":
        if not isinstance(space, ParamSpace):
            raise ValueError(f"--searcher tpe needs a hyperparameter space; workload "
                             f"{workload.name!r} searches layer sequences (use metaqnn or random)")
        return search.TPE(space, n_trials=trials, seed=seed, direction=workload.direction)
    raise ValueError(f"unknown searcher {name!r}: choose random, metaqnn, tpe, hyperband or "
                     "fhyperband")


def _scheduled_search(name: str, workload: Workload, *, seed: int, delta: float,
                      min_complete: int, prior: CurveSet | None, epochs: int,
                      eta: float = 3.0, predictor: Any = None) -> tuple[Callable[..., Any], Any, Any]:
    """``search --searcher hyperband|fhyperband`` → (runner, config sampler, scheduler factory),
    called like :func:`~curvecast.execution.live.run_search` (workload, searcher, stopper, ...).

    f-Hyperband: Δ = ``delta``, d = ``min_complete`` (at least 6); ``prior`` warm-starts its rung
    predictors (one SRM per rung end, fitted on the prior's complete curves cut there);
    ``predictor``: the unfitted rung predictor (default ``SRM()``).
    """
    import numpy as np

    from curvecast import search
    from curvecast.execution.live_hyperband import run_scheduled_search
    from curvecast.predictors import SRM, Predictor
    from curvecast.stopping import FitCache

    if name == "hyperband":
        if prior is not None:
            raise ValueError("--prior warm-starts a predictor; --searcher hyperband has none "
                             "(use fhyperband)")
        return (run_scheduled_search, search.RandomSampler(workload.space, seed=seed),
                lambda s: search.Hyperband(s, eta=eta))
    predictors: dict[int, Predictor] = {}
    prototype: Predictor = SRM() if predictor is None else predictor
    if prior is not None:
        trained = _check_prior_epochs(prior, epochs)
        complete = trained.subset(np.flatnonzero(trained.is_complete()))
        if complete.n_configs < 6:
            raise ValueError(f"the prior has {complete.n_configs} complete curves; "
                             "warm-starting f-Hyperband's rung predictors needs at least 6")
        fits = FitCache()
        ends = {r.epochs for plan in search.hyperband_brackets(epochs, eta) for r in plan.rungs
                if r.epochs > 1}
        predictors = {r: fits.get(prototype, complete.epoch_slice(0, r)) for r in sorted(ends)}
    return (run_scheduled_search, search.RandomSampler(workload.space, seed=seed),
            lambda s: search.FHyperband(s, delta=delta, min_curves=min_complete,
                                        predictors=predictors, predictor=prototype, eta=eta))


@app.command("search")
@friendly_errors
def search_command(
    workload: Annotated[str, typer.Option(help="Workload to train, e.g. digits-metaqnn.")],
    trials: Annotated[int, typer.Option(help="Trials to finish (complete, stopped or failed).")],
    epochs: Annotated[int, typer.Option(help="Epochs of full training, T.")],
    storage: Annotated[str, typer.Option(help="sqlite:///PATH of the study database.")] = (
        "sqlite:///curvecast.db"),
    study: Annotated[str, typer.Option(help="Study name (rerun the same command to resume; run "
                                            "it in several processes to share the work).")] = (
        "search"),
    searcher: Annotated[str, typer.Option(help="random, metaqnn (architectures), tpe "
                                               "(hyperparameters), or hyperband / fhyperband "
                                               "(schedulers: --trials configs drawn at random, "
                                               "R = --epochs, η = 3; one process per study; "
                                               "--stopper is not used).")] = "random",
    stopper: Annotated[str, typer.Option(help="predictive, median, asha or never.")] = (
        "predictive"),
    workers: Annotated[int, typer.Option(help="Training processes; 0: one per core.")] = 0,
    min_complete: Annotated[int | None, typer.Option(help="Complete curves (prior included) "
                                                          "before the first stop (default: 5 "
                                                          "with the chain predictor, 100 with "
                                                          "srm).")] = None,
    delta: Annotated[float, typer.Option(help="Δ of the predictive rule.")] = DEFAULT_DELTA,
    predictor: Annotated[str, typer.Option(help="Predictor of the predictive rule: chain "
                                                "(curvecast's default, HorizonChain) or srm "
                                                "(the paper's SRM; --sigma-model and "
                                                "--arcsine-target apply to it).")] = "chain",
    refit_every: Annotated[int, typer.Option(help="Refit the predictor every K completions "
                                                  "(0: fit once).")] = 10,
    prior: Annotated[str | None, typer.Option(help="Recorded curves of the same workload and "
                                                   "metric to warm-start the predictor: a "
                                                   "Parquet file, or STORAGE#STUDY, a study in "
                                                   "an Optuna storage (sqlite:///last.db#name, "
                                                   "postgresql://…#name) or an SQLite file "
                                                   "(last.db#name: Optuna's or curvecast's).")
                                                   ] = None,
    sigma_model: SigmaModelOption = "per_tau",
    arcsine_target: ArcsineTargetOption = False,
    seed: Annotated[int, typer.Option(help="Seed of config sampling and training.")] = 1,
    backend: Annotated[str, typer.Option(help="local (worker processes) or ray (Ray Tune, "
                                              "CurvecastScheduler).")] = "local",
    address: Annotated[str | None, typer.Option(help="With --backend ray: a running Ray cluster "
                                                     "(HOST:6379 of `ray start --head`); "
                                                     "default: a local Ray.")] = None,
    ray_storage: Annotated[str | None, typer.Option(help="With --backend ray: where Tune keeps "
                                                         "results and trial checkpoints, a folder "
                                                         "or URI every node reaches (default: "
                                                         "beside the database).")] = None,
) -> None:
    """Search a workload's space with real training, stopping runs by predicted final value."""
    import os

    from curvecast.execution.live import Progress, run_search
    from curvecast.store import Store, check_study_name

    check_study_name(study)  # before the database is created or touched
    for option, value, least in (("--trials", trials, 1), ("--epochs", epochs, 1),
                                 ("--workers", workers, 0)):
        if value < least:
            raise ValueError(f"{option} must be at least {least}, got {value}")
    factories = _workloads()
    if workload not in factories:
        raise ValueError(f"unknown workload {workload!r}: choose one of {sorted(factories)}")
    if backend not in ("local", "ray"):
        raise ValueError(f"unknown backend {backend!r}: choose local or ray")
    if (address is not None or ray_storage is not None) and backend != "ray":
        raise ValueError("--address and --ray-storage are for Ray: use them with --backend ray")
    runner: Callable[..., Any] = run_search
    if backend == "ray":
        try:
            from curvecast.integrations.ray_search import run_ray_search
        except ImportError as err:
            raise _fail(str(err)) from None
        runner = functools.partial(run_ray_search, address=address, storage_path=ray_storage)
    n_workers = workers or os.cpu_count() or 1
    wl = factories[workload]()
    prior_curves = None if prior is None else _load_prior(prior)
    if prior_curves is not None:  # refused before anything runs
        from curvecast.datasets import check_prior_metric

        check_prior_metric(prior_curves, metric=wl.metric, direction=wl.direction,
                           target=f"workload {workload!r}")
    from curvecast.predictors import SRM, HorizonChain

    if predictor not in ("chain", "srm"):
        raise ValueError(f"unknown predictor {predictor!r}: choose chain or srm")
    if sigma_model not in ("per_tau", "local"):
        raise ValueError(f"sigma_model must be 'per_tau' or 'local', got {sigma_model!r}")
    if predictor == "chain" and (sigma_model != "per_tau" or arcsine_target):
        raise ValueError("--sigma-model and --arcsine-target set the SRM: use them with "
                         "--predictor srm")
    min_complete = _min_complete(min_complete, predictor)
    srm = (HorizonChain() if predictor == "chain"
           else SRM(sigma_model=sigma_model, arcsine_target=arcsine_target))
    from curvecast.execution.live import check_prior

    n_prior = 0
    if prior_curves is not None:  # before any training: a wrong prior costs nothing
        check_prior(prior_curves, wl, str(prior), columns=srm.uses_configs)
        n_prior = int(prior_curves.is_complete().sum())
    if searcher not in ("hyperband", "fhyperband") and stopper == "predictive":
        _check_fit_possible(srm, min_complete, n_prior)
    if searcher in ("hyperband", "fhyperband"):
        if backend != "local":
            raise ValueError(f"--searcher {searcher} runs with --backend local only")
        runner, proposer, stop = _scheduled_search(searcher, wl, seed=seed, delta=delta,
                                                   min_complete=min_complete,
                                                   prior=prior_curves, epochs=epochs,
                                                   predictor=srm)
    else:
        stop = _stopper_for_search(stopper, delta=delta, min_complete=min_complete,
                                   refit_every=refit_every, prior=prior_curves,
                                   epochs=epochs, predictor=srm)
        proposer = _searcher_for_search(searcher, wl, seed, trials)
    settings = {"searcher": searcher, "stopper": stopper, "delta": delta,
                "predictor": predictor, "min_complete": min_complete, "refit_every": refit_every,
                "prior": None if prior is None else str(prior), "backend": backend,
                "sigma_model": sigma_model, "arcsine_target": arcsine_target,
                "command": "curvecast " + shlex.join(sys.argv[1:])}
    with Store(storage) as db, progress(err_console) as bar:
        task = bar.add_task("trials", total=trials)
        shown: list[str] = []

        def on_progress(p: Progress) -> None:
            for notice in p.notices[len(shown):]:
                bar.console.print(f"warning: {notice}", highlight=False, markup=False,
                                  soft_wrap=True)
                shown.append(notice)
            best = "–" if p.best_value is None else f"{p.best_value:.4g} (t{p.best_trial})"
            full = (p.complete + p.stopped) * epochs
            bar.update(task, completed=p.finished,
                       description=f"{p.complete} done {p.stopped} stopped {p.running} running"
                                   f"{f' {p.failed} failed' if p.failed else ''} | best {best}"
                                   f" | epochs {p.epochs_used}/{full}")

        try:
            result = runner(wl, proposer, stop, db, study=study, trials=trials, epochs=epochs,
                            workers=workers if backend == "ray" else n_workers, seed=seed,
                            settings=settings, on_progress=on_progress)
        except ConnectionError as err:  # --address: no Ray cluster there
            raise _fail(str(err)) from None
        except KeyboardInterrupt:
            err_console.print(f"interrupted: everything recorded is in {storage} (study "
                              f"{study!r}); rerun the same command to resume")
            raise typer.Exit(code=130) from None
    p = result.progress
    console.print(f"study {study!r} in {storage}: {p.complete} complete, {p.stopped} stopped "
                  f"early, {p.failed} failed")
    if result.best_config is not None:
        console.print(f"best: trial t{p.best_trial}, {wl.metric} {p.best_value:.4f}, test "
                      f"{result.best_test_value:.4f}")
        console.print(f"best config: {_dumps(result.best_config)}", markup=False)
    console.print(f"epochs used: {sum(t['epochs'] for t in result.trials)} of "
                  f"{result.full_epochs} for full training of the finished trials "
                  f"(speedup {result.speedup:.2f}x)")
    console.print(f"details: curvecast show --storage {storage} --study {study}; report: "
                  f"curvecast report --storage {storage} --study {study} --out report.html")


def _existing_store(storage: str) -> Any:
    """Open an existing study database read-only (a missing file is an error, not a new
    database; a file the user cannot write can still be read)."""
    from curvecast.store import Store

    return Store(storage, read_only=True)


@app.command()
@friendly_errors
def studies(
    storage: Annotated[str, typer.Option(help="sqlite:///PATH of the study database.")] = (
        "sqlite:///curvecast.db"),
) -> None:
    """List the studies in a database with their trial counts."""
    with _existing_store(storage) as db:
        table = Table("study", "metric", "direction", "trials by state")
        for name in db.study_names():
            info = db.study_info(name)
            counts = ", ".join(f"{k} {v}" for k, v in sorted(info["trials"].items()))
            table.add_row(name, info["metric"], info["direction"], counts)
        console.print(table)


@app.command()
@friendly_errors
def show(
    study: Annotated[str, typer.Option(help="Study name.")],
    storage: Annotated[str, typer.Option(help="sqlite:///PATH of the study database.")] = (
        "sqlite:///curvecast.db"),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also print every trial's "
                                                                 "values by epoch and every "
                                                                 "decision.")] = False,
) -> None:
    """Print a study's trials, one row each (with --verbose: their curves and every decision)."""
    with _existing_store(storage) as db:
        trials = db.trials(study)
        info = db.study_info(study)
    if as_json:
        print(_dumps({"study": study, "metric": info["metric"], "direction": info["direction"],
                      "settings": info["settings"],
                      "trials": [{"number": t.number, "state": t.state.value, "config": t.config,
                                  "values": [[e, v] for e, v, _ in t.values],
                                  "predicted_value": t.predicted_value,
                                  "test_value": t.test_value,
                                  "decisions": [d.as_record() for d in t.decisions]}
                                 for t in trials]}))
        return
    table = Table("trial", "state", "epochs", "last value", "predicted", "last decision",
                  title=f"{study}: {info['metric']} ({info['direction']})", box=None)
    for column in table.columns:
        column.no_wrap = True
    table.columns[-1].overflow = "ellipsis"
    for t in trials:
        last = f"{t.values[-1][1]:.4g}" if t.values else ""
        pred = "" if t.predicted_value is None else f"{t.predicted_value:.4g}"
        reason = t.decisions[-1].reason if t.decisions else ""
        table.add_row(f"t{t.number}", t.state.value, str(len(t.values)), last, pred, reason)
    console.print(table)
    counts = ", ".join(f"{v} {k}" for k, v in sorted(info["trials"].items()))
    console.print(f"{len(trials)} trials: {counts or 'none yet'}", highlight=False)
    if verbose:
        for t in trials:
            curve = " ".join(f"{e}:{v:.4g}" for e, v, _ in t.values)
            console.print(f"t{t.number} {t.state.value} values {curve or '-'}", highlight=False)
            for d in t.decisions:
                console.print(f"  epoch {d.epoch} {d.action.value}: {d.reason}", highlight=False,
                              markup=False)


@app.command()
@friendly_errors
def export(
    study: Annotated[str, typer.Option(help="Study name.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
    storage: Annotated[str, typer.Option(help="sqlite:///PATH of the study database.")] = (
        "sqlite:///curvecast.db"),
) -> None:
    """Turn a study's curves into a CurveSet (training data for the next search)."""
    _check_out(out)
    with _existing_store(storage) as db:
        info = db.study_info(study)
        curves = db.to_curveset(study, epochs=info["settings"].get("epochs"))
    curves.save(out)
    console.print(f"{curves.n_configs} trials x {curves.n_epochs} epochs -> {out}")


@app.command()
@friendly_errors
def report(
    result: Annotated[Path | None, typer.Argument(
        help="A JSON result of `curvecast evaluate --json` or `curvecast simulate --json` "
             "(instead of --study).", show_default=False)] = None,
    study: Annotated[str | None, typer.Option(help="Study name.", show_default=False)] = None,
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    storage: Annotated[str, typer.Option(help="sqlite:///PATH of the study database.")] = (
        "sqlite:///curvecast.db"),
    title: Annotated[str | None, typer.Option(help="Title of a result's page (default: the "
                                                   "file's name).", show_default=False)] = None,
) -> None:
    """Write a self-contained HTML report (figures embedded) of a study (--study NAME) or of an
    `evaluate` / `simulate` result (RESULT.json): its tables and figures."""
    if result is not None and study is not None:
        raise ValueError("give either RESULT.json (an evaluate or simulate result) or "
                         "--study NAME, not both")
    if result is not None:
        from curvecast.report.result_report import write_result_report

        write_result_report(result, out, title=title)
        console.print(f"report -> {out}")
        return
    if study is None:
        raise ValueError("give RESULT.json (an evaluate or simulate result) or --study NAME "
                         "(a study in --storage)")
    from curvecast.report.study_report import write_study_report

    with _existing_store(storage) as db:
        info = db.study_info(study)
        info["settings"] = {**info["settings"], "storage": storage}
        trials = db.trials(study)
        searcher_state = db.get_study_state(study, "searcher")
    write_study_report(info, trials, out, searcher_state=searcher_state)
    console.print(f"report -> {out}")


def _print_version(value: bool) -> None:
    if value:
        from curvecast import __version__

        console.print(f"curvecast {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print curvecast's version and exit.")] = False,
) -> None:
    """Predict where learning curves end; stop the runs that will not win."""


def main() -> None:
    """Entry point of the ``curvecast`` script: usage errors (a missing option, a word where a
    number goes) are one ``error:`` line too, with exit code 2."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        sys.exit(130)
    except Exception as err:
        exit_code = getattr(err, "exit_code", None)
        if not hasattr(err, "format_message") or not isinstance(exit_code, int):
            raise  # not click's usage error (the commands turn bad input into `error:` lines)
        ctx = getattr(err, "ctx", None)
        where = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        message = " ".join(str(err.format_message()).split())
        err_console.print(f"[bold red]error:[/] {escape(message)}{escape(where)}",
                          highlight=False, soft_wrap=True)
        sys.exit(exit_code)  # 2 for usage errors
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
