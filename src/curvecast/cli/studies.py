"""``curvecast studies / show / export / report``: read a study database (read-only) and
result files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from curvecast import registry
from curvecast.cli._app import app
from curvecast.cli._common import (
    check_html_out,
    check_parquet_out,
    console,
    dumps,
    existing_store,
    friendly_errors,
    shown,
    study_summary,
    trial_counts,
)
from curvecast.curves import CurveSet
from curvecast.curves.wording import counted


@app.command()
@friendly_errors
def studies(
    storage: Annotated[str, typer.Option(help="sqlite:///PATH of the study database.")] = (
        "sqlite:///curvecast.db"),
) -> None:
    """List the studies in a database with their trial counts."""
    with existing_store(storage) as db:
        table = Table("study", "metric", "direction", "trials by state")
        for column in table.columns[:2]:  # a name is what the user types next: never cut
            column.overflow = "fold"
        for name in db.study_names():
            info = db.study_info(name)
            counts = ", ".join(f"{k} {v}" for k, v in trial_counts(info).items())
            table.add_row(shown(name), shown(info["metric"]), shown(info["direction"]), counts)
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
    """Print a study's trials, one row each (with --verbose: their curves and every decision).

    A running trial whose process is gone (interrupted or killed: its heartbeat is older than
    the study's grace, 120 s unless its search chose another, or more than that ahead of this
    machine's clock) is listed as interrupted; the next search of the study takes it over.
    """
    with existing_store(storage) as db:
        trials = db.trials(study)
        info = db.study_info(study)
    if as_json:
        print(dumps({"study": study, "metric": info["metric"], "direction": info["direction"],
                      "settings": info["settings"],
                      "trials": [{"number": t.number, "state": t.state.value,
                                  "interrupted": t.interrupted(), "config": t.config,
                                  "values": [[e, v] for e, v, _ in t.values],
                                  "predicted_value": t.predicted_value,
                                  "test_value": t.test_value,
                                  "decisions": [d.as_record() for d in t.decisions]}
                                 for t in trials]}))
        return
    table = Table("trial", "state", "epochs", "last value", "predicted", "last decision",
                  title=shown(f"{study}: {info['metric']} ({info['direction']})"), box=None)
    for column in table.columns:
        column.no_wrap = True
        # a narrow terminal cuts the decision's reason, not the headers and numbers
        column.min_width = max(len(str(column.header)), 6)
    table.columns[-1].overflow = "ellipsis"
    # what the other columns leave (their headers and values, with padding, take ~55)
    table.columns[-1].max_width = max(10, console.width - 55)
    for t in trials:
        last = f"{t.values[-1][1]:.4g}" if t.values else ""
        # a rule that predicts no final value (the median rule, ASHA, f-Hyperband's rungs)
        # leaves it empty: the value stored for such a stop is the one the searcher was told
        predicted = t.predicted_value is not None and any(
            d.mean == t.predicted_value for d in t.decisions[-1:])
        pred = f"{t.predicted_value:.4g}" if predicted else ""
        reason = t.decisions[-1].reason if t.decisions else ""
        table.add_row(f"t{t.number}", t.shown_state, str(len(t.values)), last, pred,
                      shown(reason))
    console.print(table)
    counts = dict(sorted(Counter(t.shown_state for t in trials).items()))  # as the rows say
    listed = ", ".join(f"{v} {k}" for k, v in counts.items())
    console.print(f"{counted(len(trials), 'trial')}: {listed or 'none yet'}", highlight=False)
    if "interrupted" in counts:
        console.print(f"{counted(counts['interrupted'], 'trial')} lost the process that trained "
                      f"{'it' if counts['interrupted'] == 1 else 'them'}: the next `curvecast "
                      "search` of this study takes over from the last checkpoint", highlight=False,
                      markup=False)
    for line in study_summary(trials, info):
        console.print(shown(line), highlight=False)
    if verbose:
        for t in trials:
            curve = " ".join(f"{e}:{v:.4g}" for e, v, _ in t.values)
            console.print(f"t{t.number} {t.shown_state} values {curve or '-'}", highlight=False)
            for d in t.decisions:
                console.print(shown(f"  epoch {d.epoch} {d.action.value}: {d.reason}"),
                              highlight=False)


@app.command()
@friendly_errors
def export(
    study: Annotated[str, typer.Option(help="Study name.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write (replaced if it exists).")],
    storage: Annotated[str, typer.Option(help="sqlite:///PATH of the study database.")] = (
        "sqlite:///curvecast.db"),
) -> None:
    """Turn a study's curves into a CurveSet (training data for the next search)."""
    from curvecast.store import parse_storage

    check_parquet_out(out, reads=[parse_storage(storage)])
    with existing_store(storage) as db:
        info = db.study_info(study)
        curves = db.to_curveset(study, epochs=info["settings"].get("epochs"))
    curves = _with_described_columns(curves, info["settings"].get("workload"))
    curves.save(out)
    console.print(f"{counted(curves.n_configs, 'trial')} x {counted(curves.n_epochs, 'epoch')} "
                  f"-> {out}")
    states = Counter(dict(curves.provenance.get("states") or {}).values())
    partial = {k: n for k, n in states.items() if k not in ("complete", "pending")}
    if partial:  # said, as the Optuna importer says what it leaves out
        listed = ", ".join(f"{n} {k}" for k, n in sorted(partial.items()))
        failed = (" (a failed trial's epochs are kept: they show how it was learning until it "
                  "crashed)" if "failed" in partial else "")
        console.print(f"note: {listed}: partial curves, up to their last recorded epoch"
                      f"{failed}", highlight=False)
    empty = dict(curves.provenance.get("without_values") or {})
    if empty:  # a review (stop 34): they were dropped without a word
        named = ", ".join(f"{k} {v}" for k, v in list(empty.items())[:8])
        more = f" and {len(empty) - 8} more" if len(empty) > 8 else ""
        console.print(f"note: {counted(len(empty), 'trial')} left out: no value recorded "
                      f"({named}{more})", highlight=False)


def _with_described_columns(curves: CurveSet, workload: Any) -> CurveSet:
    """``curves`` with the columns a known workload describes each config by (an architecture's
    ``n_params``, ``final_size``, …), as `collect` records them and as the search's predictors
    saw them, so that `simulate --searcher metaqnn` and the architecture features read an
    export as they read a recording; the set as it is for a workload curvecast does not know."""
    import dataclasses

    import pandas as pd

    build = registry.WORKLOADS.get(workload) if isinstance(workload, str) else None
    if build is None or not curves.n_configs:
        return curves
    made = build()
    configs = curves.configs
    try:
        described = pd.DataFrame([made.describe({str(k): v for k, v in row.dropna().items()})
                                  for _, row in configs.iterrows()], index=configs.index)
    except (ValueError, KeyError, TypeError):  # a config the workload cannot describe now
        return curves
    extra = [c for c in described.columns if c not in configs.columns]
    if not extra:
        return curves
    return dataclasses.replace(curves, configs=pd.concat([configs, described[extra]], axis=1))


@app.command()
@friendly_errors
def report(
    result: Annotated[Path | None, typer.Argument(
        help="A JSON result of `curvecast evaluate --json` or `curvecast simulate --json` "
             "(instead of --study).", show_default=False)] = None,
    study: Annotated[str | None, typer.Option(help="Study name.", show_default=False)] = None,
    out: Annotated[Path, typer.Option(help="HTML file to write (replaced if it exists).")] = (
        Path("report.html")),
    storage: Annotated[str, typer.Option(help="sqlite:///PATH of the study database.")] = (
        "sqlite:///curvecast.db"),
    title: Annotated[str | None, typer.Option(help="Title of the page (default: the result "
                                                   "file's name, or 'Study NAME').",
                                              show_default=False)] = None,
) -> None:
    """Write a self-contained HTML report (figures embedded) of a study (--study NAME) or of an
    `evaluate` / `simulate` result (RESULT.json): its tables and figures."""
    if result is not None and study is not None:
        raise ValueError("give either RESULT.json (an evaluate or simulate result) or "
                         "--study NAME, not both")
    check_html_out(out)
    if result is not None:
        if storage != "sqlite:///curvecast.db":  # the option's default
            raise ValueError("--storage names a study's database; a RESULT.json report reads "
                             "the file alone: leave --storage out")
        from curvecast.report.result_report import write_result_report

        write_result_report(result, out, title=title)
        console.print(f"report -> {out}")
        return
    if study is None:
        raise ValueError("give RESULT.json (an evaluate or simulate result) or --study NAME "
                         "(a study in --storage)")
    from curvecast.execution.shared import RERUNS_STATE
    from curvecast.report.study_report import write_study_report

    with existing_store(storage) as db:
        info = db.study_info(study)
        info["settings"] = {**info["settings"], "storage": storage}
        trials = db.trials(study)
        searcher_state = db.get_study_state(study, "searcher")
        reruns = db.get_study_state(study, RERUNS_STATE) or []
    write_study_report(info, trials, out, searcher_state=searcher_state,
                       reruns=[str(c) for c in reruns] if isinstance(reruns, list) else [],
                       title=title)
    console.print(f"report -> {out}")
