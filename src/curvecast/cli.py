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
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from curvecast.curves import CurveSet, CurveSetFormatError
from curvecast.workloads._base import Workload

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                  help="Predict where learning curves end; stop the runs that will not win.")
data_app = typer.Typer(add_completion=False, help="Learning-curve data sets: import, inspect.")
import_app = typer.Typer(add_completion=False, help="Import published learning curves.")
app.add_typer(data_app, name="data")
data_app.add_typer(import_app, name="import")

err_console = Console(stderr=True)
console = Console()

P = ParamSpec("P")
R = TypeVar("R")


def _workloads() -> dict[str, Callable[[], Workload]]:
    """Workload names → constructors (imports stay lazy: no torch until a run starts)."""
    from curvecast import workloads

    return {
        "digits-metaqnn": workloads.DigitsMetaQNN,
        "mnist1d-hp": workloads.MNIST1DHP,
        "text-lstm": workloads.TextLSTM,
    }


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
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

    return wrapper


def _load(path: Path) -> CurveSet:
    return CurveSet.load(path)


@app.command()
@friendly_errors
def collect(
    workload: Annotated[str, typer.Option(help="Workload to train: " + ", ".join(
        ["digits-metaqnn", "mnist1d-hp", "text-lstm"]))],
    configs: Annotated[int, typer.Option(help="Number of configs to sample and train.")],
    epochs: Annotated[int, typer.Option(help="Epochs per config.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write (appended to, resumable).")],
    seed: Annotated[int, typer.Option(help="Seed of config sampling and training.")] = 0,
    workers: Annotated[int, typer.Option(help="Parallel single-thread training processes "
                                              "(default: number of cores).")] = 0,
) -> None:
    """Train sampled configs of a workload and record their learning curves to OUT.

    Interrupted and rerun with the same arguments, it continues where it stopped and never
    retrains a finished config.
    """
    import os

    from curvecast.execution import collect as run_collect
    from curvecast.execution.collect import Progress as Step

    factories = _workloads()
    if workload not in factories:
        raise ValueError(f"unknown workload {workload!r}: choose one of {sorted(factories)}")
    if workers < 0:
        raise ValueError(f"--workers must be at least 1 (or 0 for all cores), got {workers}")
    n_workers = workers or os.cpu_count() or 1
    command = "curvecast " + shlex.join(sys.argv[1:])
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=False) as bar:
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
        print(json.dumps(summary, indent=2, default=_json_default))
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


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


@import_app.command("baker2018")
@friendly_errors
def import_baker2018(
    csv: Annotated[Path, typer.Argument(help="One of the paper's published CSV files.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
) -> None:
    """Convert one of Baker et al.'s published learning-curve CSV files to a CurveSet."""
    from curvecast.datasets.baker2018 import load_baker2018

    curves = load_baker2018(csv)
    curves.save(out)
    console.print(f"{csv.name}: {curves.n_configs} configs x {curves.n_epochs} epochs, "
                  f"{curves.metric} ({curves.direction.value}) -> {out}")


def main() -> None:
    """Entry point of the ``curvecast`` script."""
    app()


if __name__ == "__main__":
    main()
