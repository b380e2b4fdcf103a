"""``curvecast collect`` and ``curvecast data …``: record curves by training, import and inspect
data sets."""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from curvecast import registry
from curvecast.cli._app import app, data_app, import_app
from curvecast.cli._common import (
    check_out,
    check_parquet_out,
    console,
    dumps,
    err_console,
    friendly_errors,
    interrupted_exit,
    load,
    load_any,
    no_trained_epoch,
    nothing_to_learn,
    refuse_inputs,
    require,
    shown,
    terminate_as_interrupt,
    unused_columns_text,
)
from curvecast.curves import CurveSet
from curvecast.curves.config_columns import ID_COLUMN_RENAMED
from curvecast.curves.sense_warnings import direction_warning, diverged_value_warning
from curvecast.curves.wording import counted
from curvecast.report.terminal import progress


@app.command()
@friendly_errors
def collect(
    workload: Annotated[str, typer.Option(help="Workload to train: " + ", ".join(
        registry.WORKLOADS))],
    configs: Annotated[int, typer.Option(help="Number of configs to sample and train.")],
    epochs: Annotated[int, typer.Option(help="Epochs per config.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write (appended to, resumable).")],
    seed: Annotated[int, typer.Option(min=0, help="Seed of config sampling and training.")] = 0,
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

    make = registry.lookup(registry.WORKLOADS, workload, "workload")
    if workers < 0:
        raise ValueError(f"--workers must be at least 1 (or 0 for all cores), got {workers}")
    check_parquet_out(out)
    n_workers = workers or os.cpu_count() or 1
    check_arguments(n_configs=configs, epochs=epochs, workers=n_workers, out=out)
    require("torch")  # every workload trains with PyTorch, in worker processes
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
            with terminate_as_interrupt():
                result = run_collect(make(), n_configs=configs, epochs=epochs,
                                     seed=seed, out=out, workers=n_workers,
                                     on_progress=on_progress, command=command)
        except KeyboardInterrupt as err:
            bar.stop()  # the line below is the last one, not another frame of the bar
            saved = (f"finished configs are saved in {out}" if out.exists() else
                     f"no config finished yet (the epochs trained so far are in "
                     f"{out.name}.partial)")
            err_console.print(f"interrupted: {saved}; rerun the same command to continue",
                              markup=False, highlight=False)
            raise interrupted_exit(err) from None
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

    summary = summarize(load(path))
    if as_json:  # its NaN numbers are no value (too few curves, no seconds): null, not "NaN"
        print(dumps({k: None if isinstance(v, float) and math.isnan(v) else v
                     for k, v in summary.items()}, indent=2))
        return
    table = Table(title=str(path), show_header=False)
    for key, value in summary.items():
        if key == "final_quantiles":
            value = "  ".join(f"q{float(q):.2f}={v:.4g}" for q, v in value.items())
        elif key == "provenance":
            for name, item in value.items():
                table.add_row(shown(f"provenance.{name}"), shown(provenance_cell(item)))
            continue
        elif isinstance(value, float):
            value = "nan" if math.isnan(value) else f"{value:.4g}"
        table.add_row(key, shown(value))
    console.print(table)


def provenance_cell(item: object) -> str:
    """One provenance entry as a table cell, whole: a mapping as ``key=value`` pairs (a list
    value joined by commas), a list joined by commas, anything else as text."""
    if isinstance(item, dict):
        return "  ".join(f"{k}={provenance_cell(v)}" for k, v in item.items())
    if isinstance(item, list | tuple):
        return ", ".join(str(v) for v in item)
    return str(item)


@data_app.command("plot")
@friendly_errors
def data_plot(
    path: Annotated[Path, typer.Argument(help="A curvecast Parquet file or a baker2018 CSV.")],
    out: Annotated[Path, typer.Option(help="PNG file to write (replaced if it exists).")],
    n: Annotated[int, typer.Option(help="How many random curves to draw.")] = 50,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the random sample.")] = 0,
    y_max: Annotated[float | None, typer.Option(
        help="End the y axis here (curves above it are counted in the figure).")] = None,
) -> None:
    """Draw a random sample of a data set's learning curves to a PNG file."""
    from curvecast.report.curve_plots import plot_curves

    check_out(out)
    refuse_inputs(out, [path], "the figure")
    curves = load_any(path)
    plot_curves(curves, out, n=n, seed=seed, title=f"{path.name}: {min(n, curves.n_configs)} of "
                f"{curves.n_configs} curves", y_max=y_max)
    console.print(f"figure -> {out}")


@import_app.command("baker2018")
@friendly_errors
def import_baker2018(
    csv: Annotated[Path, typer.Argument(help="One of the paper's published CSV files.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write (replaced if it exists).")],
) -> None:
    """Convert one of Baker et al.'s published learning-curve CSV files to a CurveSet."""
    from curvecast.datasets.baker2018 import load_baker2018

    check_parquet_out(out, reads=[csv])
    _saved(load_baker2018(csv), csv.name, out, paper=True)


def _saved(curves: CurveSet, source: str, out: Path, paper: bool = False) -> None:
    """Write an imported CurveSet and say what it holds (``paper``: one of the paper's files,
    whose epoch 0 is the untrained network for certain)."""
    curves.save(out)
    complete = int(curves.is_complete().sum())
    trained = int((curves.epochs > 0).sum())
    untrained = (" (epoch 0 read as the untrained network: if your steps count trained epochs "
                 "from 0, add 1 to them and import again)" if not paper and curves.epochs.size
                 and curves.epochs[0] == 0 else "")
    console.print(f"{source}: {counted(curves.n_configs, 'config')} ({complete} complete) x "
                  f"{counted(trained, 'trained epoch')}{untrained}, {curves.metric} "
                  f"({curves.direction.value}) -> {out}")
    left_out = curves.provenance.get("left_out") or {}
    if isinstance(left_out, dict) and any(left_out.values()):
        reasons = {"no_reports": "reported nothing of the metric",
                   "running": "still running"}
        said = "; ".join(f"{n} {reasons.get(k, k)}" for k, n in left_out.items() if n)
        err_console.print(f"warning: {source}: trials left out: {said}", markup=False,
                          highlight=False)
    short = curves.provenance.get("short_complete")
    if isinstance(short, dict):
        by = ", ".join(map(str, short.get("reported_by", [])))
        err_console.print(
            f"warning: {source}: {short['trials']} of the {short['complete']} complete trials end "
            f"before step {short['last']}, the last (reported by trial(s) {by}): they are partial "
            f"curves, which a replay leaves out; if step {short['last']} is an extra report, "
            "import again with --max-step set to the trials' last step", markup=False,
            highlight=False)
    steps = curves.provenance.get("left_out_steps") or []
    if steps:
        shown = ", ".join(map(str, steps[:5])) + (", …" if len(steps) > 5 else "")
        err_console.print(f"warning: {source}: step(s) {shown} left out of every curve: no more "
                          "than half of the complete trials that ran that far reported them",
                          markup=False, highlight=False)
    filled = curves.provenance.get("filled_steps")
    if isinstance(filled, dict):
        err_console.print(f"note: {source}: {counted(filled['trials'], 'trial')} skipped steps "
                          f"the others report: {counted(filled['steps'], 'step')} interpolated "
                          "between their reports", markup=False,
                          highlight=False)
    sparse = curves.provenance.get("sparse_reports_left_out")
    if isinstance(sparse, dict):
        err_console.print(f"warning: {source}: {counted(sparse['trials'], 'trial')} reported "
                          "fewer than half the steps up to their last: each is read up to its "
                          f"first gap ({counted(sparse['steps'], 'later report')} left out)",
                          markup=False, highlight=False)
    unfinished = curves.provenance.get("cut_at_last_step") or []
    if unfinished:
        shown = ", ".join(map(str, unfinished[:5])) + (", …" if len(unfinished) > 5 else "")
        err_console.print(f"note: {source}: {counted(len(unfinished), 'trial')} stopped or failed "
                          f"after reporting the last step ({shown}) read as partial curves, one "
                          "step short: they did not complete", markup=False, highlight=False)
    if ID_COLUMN_RENAMED in curves.configs.columns:
        err_console.print(f"note: {source}: the config column (hyperparameter) 'config_id' is "
                          f"named {ID_COLUMN_RENAMED!r}: 'config_id' names the runs' ids",
                          markup=False, highlight=False)
    cut = int(curves.provenance.get("truncated_lines") or 0)
    if cut:
        err_console.print(f"note: {source}: the last line of {counted(cut, 'result.json')} was "
                          "cut off (a process killed while writing it) and is left out",
                          markup=False, highlight=False)
    replaced = int(curves.provenance.get("replaced_reports") or 0)
    if replaced:
        err_console.print(f"note: {source}: {counted(replaced, 'report')} replaced: trials "
                          "restored from a checkpoint reported those epochs again, and the later "
                          "reports are kept", markup=False, highlight=False)
    spike = None if paper else curves.spike_warning(source)
    for warning in (curves.gap_warning(source), curves.range_warning(source),
                    curves.axis_warning(source), spike, direction_warning(curves, source),
                    diverged_value_warning(curves, source)):
        if warning is not None:
            err_console.print(f"warning: {warning}", markup=False, highlight=False)
    spacing = curves.spacing_note(source)
    if spacing is not None:
        err_console.print(f"note: {spacing}", markup=False, highlight=False)
    if not paper:
        _config_notes(curves, source)


def _short_runs_note(curves: CurveSet, source: str) -> None:
    """Say how many runs of an imported table end before the last epoch: an empty cell reads as
    "not reached", so diverged values written as empty cells (pandas' ``to_csv`` default) would
    make diverged runs look stopped, and they drop out of a replay."""
    untrained = no_trained_epoch(curves)
    if curves.observed.any() and untrained is not None:
        err_console.print(f"warning: {source}: {untrained}; simulate and evaluate will refuse "
                          "this set", markup=False, highlight=False)
        return
    if curves.observed.any() and nothing_to_learn(curves):
        err_console.print(f"warning: {source}: every value is NaN or ±inf (every run diverged, "
                          "or the metric column holds no number): there is nothing to learn "
                          "from, and simulate and evaluate will refuse this set",
                          markup=False, highlight=False)
        return
    import numpy as np
    import pandas as pd

    short = int((~curves.is_complete()).sum())
    complete = curves.n_configs - short
    # the runs with a value: a config-table row no observation names ends at no epoch
    reached = curves.observed.any(axis=1)
    runs = int(reached.sum())
    if short and 0 < complete < runs - complete and curves.n_epochs > 1:
        # a few runs past the epoch most end at (one extra report) make every other run short
        seen = curves.observed[reached]
        ends = curves.epochs[curves.n_epochs - 1 - np.argmax(seen[:, ::-1], axis=1)]
        common = int(pd.Series(ends).mode().iloc[0])
        if common < int(curves.epochs[-1]) and int((ends == common).sum()) > runs / 2:
            err_console.print(
                f"warning: {source}: only {complete} of {runs} runs reach the last "
                f"epoch {int(curves.epochs[-1])}; {int((ends == common).sum())} end at epoch "
                f"{common}, and a replay leaves them out as partial: if the later epochs are "
                f"extra reports, import again with --max-step {common}",
                markup=False, highlight=False)
    if short:
        err_console.print(f"note: {source}: {short} of {curves.n_configs} runs end before the "
                          "last epoch (their later cells are empty: not reached); if some "
                          "diverged, write their values as nan or inf (pandas: "
                          "to_csv(na_rep=\"nan\"))", markup=False, highlight=False)
    empty = int((~curves.observed.any(axis=1)).sum())
    if empty:  # e.g. rows of a long import's --configs table that no observation names
        err_console.print(f"note: {source}: {empty} of them have no value at all (kept, with "
                          "no curve: a replay leaves them out)", markup=False, highlight=False)


def _with_diverged_value(curves: CurveSet, value: float | None) -> CurveSet:
    """``curves`` with ``value`` as what a diverged report counts as (None: as imported)."""
    if value is None:
        return curves
    import dataclasses

    return dataclasses.replace(curves, diverged_value=value)


def _config_notes(curves: CurveSet, source: str) -> None:
    """Say which columns became config features (hyperparameters), and warn of those that look
    like something else: a column that ranks the complete runs' final values almost exactly (a
    summary of the curve, such as a best value, would hand predictors the answer), a family of
    numbered columns (another metric's curve), or a pandas index written with the table."""
    from curvecast.datasets.config_leaks import suspicious_config_columns
    from curvecast.features import unused_config_columns

    unused = unused_config_columns(curves.configs)
    names = [str(c) for c in curves.configs.columns if str(c) not in unused]
    if names:
        shown = ", ".join(names[:8]) + (f", … ({len(names)} in all)" if len(names) > 8 else "")
        err_console.print(f"note: {source}: config columns (features of every predictor): "
                          f"{shown}", markup=False, highlight=False)
    if unused:
        err_console.print(f"note: {source}: config columns kept in the file but not used by "
                          f"the predictors: {unused_columns_text(curves.configs)}",
                          markup=False, highlight=False)
    for warning in suspicious_config_columns(curves):
        err_console.print(f"warning: {source}: {warning}", markup=False, highlight=False)


OutOption = Annotated[Path, typer.Option(help="Parquet file to write (replaced if it exists).")]
MetricOption = Annotated[str, typer.Option(help="The metric's name, e.g. val_accuracy.")]
DirectionOption = Annotated[str, typer.Option(help="maximize or minimize.")]
DivergedOption = Annotated[float | None, typer.Option(
    help="What a diverged run's NaN or inf counts as (e.g. chance accuracy, or the RMSE of "
         "predicting the mean); default: the worst value seen in the file.")]


@import_app.command("table")
@friendly_errors
def import_table(
    file: Annotated[Path, typer.Argument(help="A wide CSV or Parquet table: one row per config.")],
    curves: Annotated[str, typer.Option(help="Regex matching the curve columns' whole names; "
                                             "its one group is the epoch, e.g. 'acc_(\\d+)'.")],
    metric: MetricOption,
    direction: DirectionOption,
    out: OutOption,
    diverged_value: DivergedOption = None,
    id_column: Annotated[str | None, typer.Option(help="Column of config ids (default: "
                                                       "config_id if the table has one, else "
                                                       "row-0001, … in file order).")] = None,
    max_step: Annotated[int | None, typer.Option(
        help="Leave out the curve columns after this epoch (e.g. one run's extra report at "
             "epoch T + 1).", min=0)] = None,
) -> None:
    """Import a wide table: curve columns by --curves, every other column a config feature.

    An empty cell is an epoch the run did not reach; nan or inf is a diverged run. An empty cell
    before a later value of the same run counts as a diverged report (the worst value), and the
    import says how many there were.
    """
    from curvecast.datasets import from_table
    from curvecast.datasets.near_curve_columns import near_curve_columns_warning
    from curvecast.datasets.table_io import read_columns

    check_parquet_out(out, reads=[file])
    imported = from_table(file, curves, metric, direction, id_column=id_column,
                          max_epoch=max_step)
    imported = _with_diverged_value(imported, diverged_value)
    _saved(imported, file.name, out)
    misspelt = near_curve_columns_warning(read_columns(file), curves, file.name)
    if misspelt is not None:
        err_console.print(f"warning: {misspelt}", markup=False, highlight=False)
    _short_runs_note(imported, file.name)


@import_app.command("long")
@friendly_errors
def import_long(
    file: Annotated[Path, typer.Argument(help="A long CSV or Parquet table: columns config_id, "
                                              "epoch, value[, seconds].")],
    metric: MetricOption,
    direction: DirectionOption,
    out: OutOption,
    diverged_value: DivergedOption = None,
    configs: Annotated[Path | None, typer.Option(help="Config table (CSV or Parquet) with a "
                                                      "config_id column.")] = None,
    max_step: Annotated[int | None, typer.Option(
        help="Leave out the rows after this epoch (e.g. one run's extra report at epoch "
             "T + 1).", min=0)] = None,
) -> None:
    """Import a long table: one row per (config, epoch) observation."""
    from curvecast.datasets import from_long_table

    check_parquet_out(out, reads=[file, configs])
    imported = from_long_table(file, metric, direction, configs=configs, max_epoch=max_step)
    imported = _with_diverged_value(imported, diverged_value)
    _saved(imported, file.name, out)
    _short_runs_note(imported, file.name)


@import_app.command("optuna")
@friendly_errors
def import_optuna(
    storage: Annotated[str, typer.Argument(help="Optuna storage URL, e.g. sqlite:///last.db.")],
    study: Annotated[str, typer.Option(help="The study's name.")],
    out: OutOption,
    diverged_value: DivergedOption = None,
    metric: Annotated[str | None, typer.Option(help="The metric's name, when the study did not "
                                                    "set one (study.set_metric_names).")] = None,
    max_step: Annotated[int | None, typer.Option(
        help="Leave out the reports after this step (e.g. one trial's extra report at step "
             "T + 1).", min=0)] = None,
) -> None:
    """Import an Optuna study's intermediate values (steps = epochs) as curves.

    Params and user attrs are the config table; pruned and failed trials are partial curves.
    """
    from curvecast.datasets import from_optuna
    from curvecast.datasets.optuna_study import redact
    from curvecast.store import parse_storage

    check_parquet_out(out, reads=[parse_storage(storage) if storage.startswith("sqlite:")
                                  else None])  # a database server's study is no file here
    _saved(_with_diverged_value(from_optuna(storage, study, metric=metric, max_step=max_step),
                                diverged_value), f"{redact(storage)} study {study!r}", out)


@import_app.command("ray")
@friendly_errors
def import_ray(
    experiment: Annotated[Path, typer.Argument(help="A Ray Tune experiment directory (one "
                                                    "folder per trial).")],
    metric: Annotated[str, typer.Option(help="The reported metric to read.")],
    direction: DirectionOption,
    out: OutOption,
    diverged_value: DivergedOption = None,
) -> None:
    """Import a Ray Tune experiment directory's trials as curves.

    Each trial folder's result.json (or progress.csv) gives the curve (training_iteration =
    epoch) and params.json the config; trials stopped early are partial curves.
    """
    from curvecast.datasets import from_ray

    check_parquet_out(out)
    _saved(_with_diverged_value(from_ray(experiment, metric, direction), diverged_value),
           experiment.name, out)
