"""``curvecast evaluate``: the paper's prediction experiments (R² of the final value vs % seen)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from curvecast import registry
from curvecast.cli._app import app
from curvecast.cli._common import (
    check_folder,
    check_json_out,
    err_console,
    fillable,
    floats,
    friendly_errors,
    human_console,
    load_any,
    unused_columns_text,
    write_json_result,
)
from curvecast.curves.wording import counted
from curvecast.report.terminal import progress


@app.command()
@friendly_errors
def evaluate(
    data: Annotated[Path, typer.Argument(help="A CurveSet Parquet file or a baker2018 CSV.")],
    predictors: Annotated[str, typer.Option(help=(
        "Comma-separated predictors: chain (the stopping rule's default), chain-kernel, paper "
        "(the paper's SRM), srm, svr-rbf, ridge, svr-linear, rf, ols, last-value, lce, "
        "lce-fast, bnn."))] = (
        "srm,svr-rbf,svr-linear,rf,ols,last-value"),
    train_size: Annotated[int, typer.Option(help="Fully observed training curves.")] = 100,
    repeats: Annotated[int, typer.Option(help="Random training sets.")] = 10,
    fractions: Annotated[str, typer.Option(help="Observed shares of the curve.")] = "0.1,0.25,0.5,0.75",
    features: Annotated[str, typer.Option(help="Feature groups: ts, ap, hp.")] = "ts,ap,hp",
    experiments: Annotated[str, typer.Option(help="table1, table2, sample_efficiency, "
                                                  "depth_generalisation.")] =
    "table1,table2,sample_efficiency,depth_generalisation",
    draws: Annotated[int, typer.Option(help="Random-search draws per SRM model.")] = 50,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the training-set draws.")] = 0,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Write tidy JSON here (replaced if it exists; - : standard output, and "
                       "the tables go to standard error).")] = None,
    plots: Annotated[Path | None, typer.Option(help="Write PNG figures into this folder.")] = None,
) -> None:
    """Re-make the paper's prediction experiments (R² of the final value vs % of curve seen)."""
    from curvecast.experiments.prediction import (
        PredictionSettings,
        run_prediction_experiments,
        select,
    )
    from curvecast.features import parse_groups

    if draws < 1:
        raise ValueError(f"--draws must be >= 1, got {draws}")
    names = registry.names(predictors, registry.PREDICTORS, "predictor")
    factories = {n: _factory(n, registry.Settings(predictor=n, draws=draws)) for n in names}
    check_json_out(json_out, reads=[data])
    check_folder(plots)
    if not any(e.strip() for e in experiments.split(",")):
        raise ValueError(f"--experiments names none, got {experiments!r}: choose from table1, "
                         "table2, sample_efficiency, depth_generalisation")
    settings = PredictionSettings(
        train_size=train_size, repeats=repeats, fractions=floats(fractions, "--fractions"),
        features=parse_groups(features), seed=seed,
        experiments=tuple(e.strip() for e in experiments.split(",") if e.strip()),
        slow=registry.SLOW_PREDICTORS)
    _check_features(names, settings.features, settings.experiments)
    curves = fillable(load_any(data), data)
    trained = int((curves.epochs > 0).sum())
    if trained < 2:  # every cell would be skipped ("tau must be in 1..1"), exit 0 (a review)
        raise ValueError(f"{data}: the curves have {counted(trained, 'trained epoch')}: there is "
                         "no partial curve to predict a final value from (evaluate needs 2 or "
                         "more)")
    finals = curves.final_values()[curves.is_complete()]
    if finals.size and finals.max() == finals.min():  # a review (stop 35): every R² was nan
        err_console.print(f"note: every complete curve of {data.name} ends at {finals[0]:g}: R² "
                          "is undefined (the final values have no variance to explain), so the "
                          "tables show nan; compare the predictors by their RMSE (--json)",
                          highlight=False)
    _note_fallbacks(names, factories, settings.fractions, trained
                    if "table1" in settings.experiments else 0)
    empty = _empty_groups(curves)
    used = set(settings.features) | ({"ap", "hp"} if "table2" in settings.experiments else set())
    for group in sorted(set(empty) & used):
        err_console.print(f"note: {data.name} has no {_GROUP_WORDS[group]}: feature group "
                          f"{group} is empty, so every result with it equals the one without "
                          "it (e.g. table 2's ts+" + group + " row and its ts row)"
                          + (_unused_words(curves) if group == "hp" else ""), highlight=False)
    with progress(err_console) as bar:
        task = bar.add_task("repeats", total=None)

        def on_step(what: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=what[:40])

        output = run_prediction_experiments(curves, factories, settings,
                                            on_step=on_step)
    output = {"dataset": str(data), **output, "empty_groups": empty}
    shown = f"{'mean ± s.e.' if repeats > 1 else 'one value'}, {counted(repeats, 'repeat')}"
    shows = human_console(json_out)  # standard error when the JSON goes to standard output
    if "table1" in settings.experiments:
        shows.print(_r2_table(f"{data.name}: R² of the final value ({shown})", "predictor",
                              {n: select(output["results"], experiment="table1", predictor=n,
                                         metric="r2") for n in names}))
    for experiment, key, heading in _OTHER_TABLES:  # the other experiments asked for
        records = select(output["results"], experiment=experiment, metric="r2")
        if experiment in settings.experiments and records:
            rows: dict[str, list[Mapping[str, Any]]] = {
                str(r[key]) if key else "shallow → deep": [] for r in records}
            for r in records:
                rows[str(r[key]) if key else "shallow → deep"].append(r)
            shows.print(_r2_table(f"{data.name}: {heading}, {records[0]['predictor']} "
                                  f"({shown})", key or "trained on", rows))
    _note_skipped(output["skipped"])
    clipped = [r for r in output["results"] if r["metric"] == "clipped"
               and r["experiment"] == "table1" and r["mean"]]
    for rec in clipped:  # a clipped prediction is counted, never silent
        err_console.print(f"note: {rec['predictor']} at {100 * rec['fraction']:g} % of the "
                          f"curve: {100 * rec['mean']:.1f} % of its predictions were clipped to "
                          "what the training curves support or were a fallback (LCE: the last "
                          "value)", highlight=False)
    if json_out is not None:
        write_json_result(json_out, _as_written(output))
    if plots is not None:
        from curvecast.report.prediction_plots import plot_prediction_results

        for path in plot_prediction_results(output, plots, data.stem):
            shows.print(f"figure -> {path}")

#: The experiments besides Table 1 that the terminal shows: (experiment, the key its rows differ
#: by — None: one row —, heading).
_OTHER_TABLES = (("table2", "features", "R² by feature groups (Table 2)"),
                 ("sample_efficiency", "train_size", "R² by training curves"),
                 ("depth_generalisation", None, "R² on deeper nets than trained on"))


def _as_written(output: Mapping[str, Any]) -> dict[str, Any]:
    """``output`` as its JSON holds it: a record's mean of no finite value (``n`` 0, e.g. the R²
    of final values that are all equal) is no value, null (as ``simulate`` writes it), not the
    number NaN, which the JSON would spell ``"NaN"``."""
    def record(r: Mapping[str, Any]) -> dict[str, Any]:
        return {**r, "mean": None} if r.get("n") == 0 else dict(r)

    return {**output, **{key: [record(r) for r in output[key]]
                         for key in ("results", "timings") if key in output}}


def _r2_table(title: str, label: str, rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> Table:
    """A table of R² records: one row per entry of ``rows`` (its records), one column per
    observed fraction of the curve."""
    fractions = sorted({r["fraction"] for records in rows.values() for r in records})
    table = Table(title=title)
    table.add_column(label)
    for f in fractions:
        table.add_column(f"{100 * f:g} %", justify="right")
    for name, records in rows.items():
        cells = []
        for f in fractions:
            rec = [r for r in records if r["fraction"] == f]
            cells.append("" if not rec else _r2(rec[0]["mean"]) if rec[0]["stderr"] is None
                         else f"{_r2(rec[0]['mean'])} ± {_r2(rec[0]['stderr'])}")
        table.add_row(name, *cells)
    return table


def _check_features(names: list[str], features: frozenset[str],
                    experiments: tuple[str, ...]) -> None:
    """Refuse a feature ablation (table2) of a predictor that takes no feature groups, and
    ``--features`` that no listed predictor reads; say which listed ones ignore it."""
    featureless = [n for n in names if n in registry.FEATURELESS_PREDICTORS]
    if "table2" in experiments and names[0] in featureless:
        raise ValueError(f"--experiments table2 ablates the feature groups of the first "
                         f"predictor, and {names[0]} takes none: list one that does first "
                         "(srm, svr-rbf, ols, chain-kernel, bnn, …) or leave table2 out")
    if features != frozenset({"ts", "ap", "hp"}) and featureless:
        if len(featureless) == len(names):
            raise ValueError(f"--features selects feature groups, and none of {', '.join(names)} "
                             "takes them")
        err_console.print(f"note: {', '.join(featureless)} take{'s' if len(featureless) == 1 else ''}"
                          " no feature groups; --features applies to the others",
                          highlight=False)


def _note_fallbacks(names: Sequence[str], factories: Mapping[str, Any],
                    fractions: Sequence[float], n_epochs: int) -> None:
    """Say which table-1 cells of a predictor that needs some observed epochs (LCE: 3, its
    ``min_observed``) are its fallback, the last value, on curves of ``n_epochs`` (0: no
    table 1): on 3-epoch curves every ``lce-fast`` cell equalled ``last-value``'s, unsaid (a
    review)."""
    from curvecast.experiments.prediction import tau_for

    if n_epochs < 2:
        return
    for name in names:
        least = getattr(factories[name](("ts",), 0), "min_observed", None)
        if not least:
            continue
        short = [f for f in fractions if tau_for(f, n_epochs) < least]
        if short:
            shares = ", ".join(f"{100 * f:g} %" for f in short)
            err_console.print(f"note: {name} needs {least} observed epochs to fit its curves; at "
                              f"{shares} of the curve ({n_epochs} epochs) it observes fewer, "
                              "so every prediction there is the last value (as last-value's)",
                              highlight=False)


def _factory(name: str, settings: registry.Settings) -> Any:
    """``factory(feature_groups, seed)``: the registry's predictor ``name``."""
    return lambda groups, seed: registry.build_predictor(replace(settings, features=groups,
                                                                 seed=seed))


#: What a feature group's columns are, for the note that the data has none.
_GROUP_WORDS = {"ap": "architecture columns (n_params, n_layers, or those its provenance names)",
                "hp": "hyperparameter columns (numbers, or categories of 2-20 levels, in its "
                      "config table)"}


def _unused_words(curves: Any) -> str:
    """The config columns the predictors leave out, and why (``"; not used: arch (25 levels:
    more than 20)"``), or ``""``."""
    listed = unused_columns_text(curves.configs, skip=("n_params", "n_layers"))
    return f"; not used: {listed}" if listed else ""


def _empty_groups(curves: Any) -> list[str]:
    """The config feature groups (``ap``, ``hp``) that have no column on ``curves``."""
    from curvecast.features import Featurizer, parse_groups

    probe = Featurizer(groups=parse_groups("ts+ap+hp")).fit(curves)
    return [g for g, columns in (("ap", probe.ap_columns_), ("hp", probe.hp_columns_))
            if not columns]


def _note_skipped(skipped: list[dict[str, Any]]) -> None:
    """One note on stderr per reason a predictor refused some cells (their table cells and JSON
    records are missing): which cells, and the reason's first line."""
    cells: dict[str, list[str]] = {}
    for rec in skipped:
        reason = str(rec["reason"]).strip().splitlines()[0] if rec["reason"] else "?"
        cells.setdefault(reason, []).append(f"{rec['experiment']} {rec['predictor']} "
                                            f"{rec['features']} {100 * rec['fraction']:g} %")
    for reason, where in cells.items():
        shown = ", ".join(where[:4]) + (f" and {len(where) - 4} more" if len(where) > 4 else "")
        err_console.print(f"note: {len(where)} cell(s) skipped ({shown}): {reason}",
                          highlight=False)


def _r2(value: float) -> str:
    """An R² (or its s.e.) as the table shows it: three decimals, or two significant digits in
    scientific notation when it is beyond ±1000 (a predictor far off: R² of −2.6e34)."""
    return f"{value:.3f}" if abs(value) < 1e3 else f"{value:.2g}"
