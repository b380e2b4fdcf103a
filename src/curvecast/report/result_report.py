"""A self-contained HTML page of one experiment result (``curvecast report RESULT.json``): the
paper's tables and figures for the JSON of ``curvecast evaluate --json`` (prediction: R² of the
final value against the observed share of the curve, Tables 1 and 2 of Baker et al. 2017) or
``curvecast simulate --json`` (early stopping: speedup against Δ, with the baselines).

Which of the two a file is, is told by its records: ``evaluate`` records carry ``experiment``,
``predictor`` and ``fraction``; ``simulate`` records carry ``searcher``, ``stopper`` and ``delta``.
The figures are those of :mod:`curvecast.report.prediction_plots` and
:mod:`curvecast.report.speedup_plots`, embedded.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from curvecast.curves import json_numbers
from curvecast.experiments.prediction import select as select_prediction
from curvecast.experiments.speedup import select as select_speedup
from curvecast.features import GROUPS
from curvecast.report import _html
from curvecast.report.anytime_plots import plot_anytime_regret
from curvecast.report.file_names import file_stem
from curvecast.report.prediction_plots import plot_prediction_results
from curvecast.report.replay_settings import rule_settings, searched_trials
from curvecast.report.speedup_plots import plot_speedup_results

Kind = Literal["evaluate", "simulate"]

_EVALUATE_KEYS = ("experiment", "predictor", "features", "fraction", "train_size", "metric",
                  "mean", "stderr")
_SIMULATE_KEYS = ("searcher", "stopper", "delta", "metric", "mean", "stderr")

#: Figure captions by file name (prediction) or name suffix (speedup).
_CAPTIONS = {
    "r2_vs_fraction.png": "R² of the predicted final value against the share of the curve "
                          "observed (Table 1 as a figure); right: 1 − R² on a log axis.",
    "sample_efficiency.png": "R² against the number of fully observed training curves.",
    "feature_ablation.png": "R² with each set of feature groups (Table 2 as a figure).",
    "coverage.png": "How often the true final value falls inside the predicted ±1σ and ±1.96σ "
                    "intervals (dashed: the nominal 68 % and 95 %).",
    "-speedup.png": "Left: speedup (epochs of full training ÷ epochs used) against Δ; rules "
                    "without Δ are horizontal lines; a filled marker means the true best config "
                    "was trained to the end in at least 90 % of the orderings. Right: that share.",
    "-anytime-regret.png": "Any-time regret: how far the best config trained to the end so far "
                           "is from the true best, against the time spent as a share of "
                           "training every config fully (mean ± s.e. over orderings).",
    "-fhyperband.png": "f-Hyperband against plain Hyperband: speedup over the reference and the "
                       "share of brackets that pick the reference's winner.",
}


def load_result(path: Path) -> tuple[Kind, dict[str, Any]]:
    """Read a result file and tell which command wrote it (a number written ``"NaN"``,
    ``"Infinity"`` or ``"-Infinity"`` read as that float: :mod:`curvecast.curves.json_numbers`;
    the text fields, :data:`~curvecast.curves.json_numbers.RESULT_TEXT`, as written).

    Returns:
        ``("evaluate" | "simulate", the parsed output)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not JSON, not an object with ``settings`` and a non-empty ``results`` list,
            or records that are neither ``evaluate`` nor ``simulate`` records (the message names
            the file, the record and the missing fields).
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such result file")
    try:
        output = json_numbers.loads(path.read_text(encoding="utf-8"),
                                    keep=json_numbers.RESULT_TEXT)  # a file named NaN: text
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a JSON file ({err})") from None
    if not isinstance(output, dict) or not isinstance(output.get("results"), list) \
            or not isinstance(output.get("settings"), dict):
        keys = sorted(output) if isinstance(output, dict) else type(output).__name__
        raise ValueError(f"{path}: not a result of `curvecast evaluate` or `curvecast simulate` "
                         f"(expected an object with 'settings' and 'results'; found {keys})")
    records = output["results"]
    if not records:
        raise ValueError(f"{path}: the result has no records")
    for key in ("deltas", "predictors"):  # null: as if absent (filled from the records below)
        if key in output["settings"] and output["settings"][key] is None:
            del output["settings"][key]
    predictors = output["settings"].get("predictors")
    if predictors is not None and (not isinstance(predictors, list)
                                   or not all(isinstance(p, str) for p in predictors)):
        raise ValueError(f"{path}: settings.predictors is {predictors!r}, not a list of names")
    for key, kind_of in (("anytime", list), ("empty_groups", list)):
        if output.get(key) is not None and not isinstance(output[key], kind_of):
            raise ValueError(f"{path}: {key} is {output[key]!r}, not a list of records")
    deltas = output["settings"].get("deltas")
    if deltas is not None and (not isinstance(deltas, list) or not all(
            isinstance(d, int | float) and not isinstance(d, bool) for d in deltas)):
        raise ValueError(f"{path}: settings.deltas is {deltas!r}, not a list of numbers")
    for key in ("orderings", "workers", "trials", "configs", "epochs"):  # counts a figure reads
        value = output["settings"].get(key)
        if key in output["settings"] and (isinstance(value, bool) or not isinstance(value, int)
                                          or value < 0):
            raise ValueError(f"{path}: settings.{key} is {value!r}, not a whole number ≥ 0")
    for i, record in enumerate(records):  # null: no value, which evaluate's code holds as NaN
        if not isinstance(record, dict):
            continue
        n = record.get("n")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError(f"{path}: results[{i}].n is {n!r}, not a whole number ≥ 0 or null")
        numbers = ("stderr", "mean") if "experiment" in record else ("stderr",)
        for key in numbers:  # (a simulate mean stays None: "n/a", no value at all)
            if key in record and record[key] is None:
                record[key] = math.nan
    first = records[0]
    if not isinstance(first, dict):
        raise ValueError(f"{path}: results[0] is not an object: {first!r}")
    kind: Kind
    needed: tuple[str, ...]
    if "experiment" in first and "predictor" in first:
        kind, needed = "evaluate", _EVALUATE_KEYS
    elif "searcher" in first and "stopper" in first:
        kind, needed = "simulate", _SIMULATE_KEYS
    else:
        raise ValueError(f"{path}: results[0] has fields {sorted(first)}: neither an `evaluate` "
                         f"record ({', '.join(_EVALUATE_KEYS)}) nor a `simulate` record "
                         f"({', '.join(_SIMULATE_KEYS)})")
    for i, rec in enumerate(records):
        missing = [k for k in needed if not isinstance(rec, dict) or k not in rec]
        if missing:
            raise ValueError(f"{path}: results[{i}] of this `{kind}` result lacks "
                             f"{', '.join(missing)}")
        for key in needed:
            if not _of_type(key, rec[key]):
                raise ValueError(f"{path}: results[{i}].{key} is {rec[key]!r}, not "
                                 f"{_TYPES.get(key, 'a string')}")
    if kind == "evaluate":
        output["settings"].setdefault("predictors", _ordered(r["predictor"] for r in records))
    else:
        output["settings"].setdefault("deltas", sorted({r["delta"] for r in records
                                                        if r["delta"] is not None}))
    return kind, output


#: What a record's fields hold, beside strings: a number, or a number or null.
_TYPES = {"fraction": "a number", "train_size": "a whole number", "mean": "a number or null",
          "stderr": "a number or null", "delta": "a number or null"}


def _of_type(key: str, value: Any) -> bool:
    """Whether a record's ``value`` of field ``key`` has the type its writer gives it."""
    if isinstance(value, bool):
        return False
    if key == "train_size":
        return isinstance(value, int)
    if key == "fraction":
        return isinstance(value, int | float)
    if key in _TYPES:
        return value is None or isinstance(value, int | float)
    return isinstance(value, str)


def _ordered(items: Any) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def write_result_report(path: Path, out: Path, *, title: str | None = None) -> Path:
    """Write the HTML page of the ``evaluate`` or ``simulate`` result ``path`` to ``out``.

    Raises:
        FileNotFoundError: no file ``path``, or no folder for ``out``.
        ValueError: see :func:`load_result`.
    """
    kind, output = load_result(path)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out}: folder {str(out.parent)!r} does not exist")
    name = title or path.stem
    with tempfile.TemporaryDirectory(prefix="curvecast-report-") as tmp:
        if kind == "evaluate":
            heading = f"Prediction results: {name}"
            body = _evaluate_body(output, Path(tmp), name)
        else:
            heading = f"Early-stopping results: {name}"
            body = _simulate_body(output, Path(tmp), name)
    footer = f"Made by curvecast from {_html.esc(path)} (<code>curvecast {kind}</code>)."
    return _html.write(out, _html.page(heading, body, footer=footer))


def _figures(paths: Sequence[Path], name: str, *, one_ordering: bool = False) -> str:
    """The PNG files ``paths`` embedded with their captions (alt text: the file's stem without
    the ``name-`` prefix); ``one_ordering``: a simulate result of one ordering, whose any-time
    regret is that ordering's, not a mean ± s.e. (as the figure's title says)."""
    parts = []
    for p in paths:
        caption = _CAPTIONS.get(p.name) or next(
            (c for suffix, c in _CAPTIONS.items() if p.name.endswith(suffix)), "")
        if one_ordering:
            caption = caption.replace("(mean ± s.e. over orderings)", "(one ordering)")
        alt = p.stem.removeprefix(f"{file_stem(name)}-").replace("_", " ")
        parts.append(_html.figure(_html.file_uri(p), alt, caption))
    return "".join(parts)


def _settings_line(settings: Mapping[str, Any], keys: Sequence[tuple[str, str]]) -> str:
    parts = [f"{label} {_html.esc(_text(settings[key]))}" for key, label in keys
             if settings.get(key) not in (None, "", [])]
    return f'<p class="muted">{" · ".join(parts)}</p>\n'


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


# ------------------------------------------------------------------------------ evaluate
def _best_cells(cells: list[tuple[float | None, str]], higher: bool | float = True
                ) -> list[str]:
    """``(mean, text)`` cells of one column as ``<td>``s, the best mean marked bold: the
    highest (``higher`` True), the lowest (False), or the nearest a target (a float: an
    interval's nominal coverage, where more is too wide, not better)."""
    means = [m for m, _ in cells if m is not None]
    if not means:
        best = None
    elif isinstance(higher, bool):
        best = max(means) if higher else min(means)
    else:
        best = min(means, key=lambda m: abs(m - higher))
    return [f'<td class="num best">{text}</td>' if m is not None and m == best and len(means) > 1
            else f'<td class="num">{text}</td>' for m, text in cells]


def _evaluate_body(output: Mapping[str, Any], tmp: Path, name: str) -> str:
    records = output["results"]
    settings = output["settings"]
    names = list(settings["predictors"])
    parts = [f'<p>Data: <code>{_html.esc(output.get("dataset", "?"))}</code></p>',
             _settings_line(settings, (("complete_configs", "complete curves"),
                                       ("epochs", "epochs"), ("train_size", "training curves"),
                                       ("repeats", "repeats"), ("features", "features"),
                                       ("seed", "seed")))]
    r2 = [r for r in records if r.get("metric") == "r2"]
    if r2 and not any(isinstance(r["mean"], int | float) and math.isfinite(r["mean"])
                      for r in r2):  # as `evaluate` notes it on the terminal
        parts.append("<p><strong>R² is undefined in every cell (n/a):</strong> the test curves' "
                     "final values do not vary, so there is no variance to explain; compare "
                     "the predictors by their RMSE.</p>")
    parts += _table1_parts(records, names)
    parts += _ablation_parts(records, output.get("empty_groups") or [])
    parts += _efficiency_parts(records)
    parts += _depth_parts(records)
    parts.append("<h2>Figures</h2>")
    parts.append(_figures(plot_prediction_results(output, tmp, name), name))
    return "\n".join(parts)


def _table1_parts(records: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[str]:
    """Table 1 (R² against the share of the curve observed) and more measures at the share
    nearest 25 %."""
    parts: list[str] = []
    table1 = select_prediction(records, experiment="table1", metric="r2")
    fractions = sorted({r["fraction"] for r in table1})
    if table1:
        columns = {f: _best_cells([_cell(select_prediction(table1, predictor=n, fraction=f))
                                   for n in names]) for f in fractions}
        rows = [[_html.esc(n), *(columns[f][i] for f in fractions),
                 _html.esc(_repeats(select_prediction(table1, predictor=n)))]
                for i, n in enumerate(names) if select_prediction(table1, predictor=n)]
        parts.append("<h2>Table 1: R² of the final value against the share of the curve "
                     "observed</h2>")
        parts.append(_html.table(["predictor", *(f"{100 * f:g} % observed" for f in fractions),
                                  "repeats"], rows, numeric=range(1, len(fractions) + 2),
                                 caption=("one random training set (no standard error); "
                                          if _repeats(table1) == "1" else
                                          "mean ± standard error over random training sets; ")
                                         + "bold: best in its column"))
        quarter = min(fractions, key=lambda f: abs(f - 0.25))
        measures: tuple[tuple[str, str, bool | float], ...] = (
            ("rmse", "RMSE", False), ("kendall_tau", "Kendall τ", True),
            ("coverage_68", "in ±1σ (68 %)", 0.68), ("coverage_95", "in ±1.96σ (95 %)", 0.95))
        shown = [m for m in measures
                 if select_prediction(records, experiment="table1", metric=m[0])]
        if shown:
            cols = {m: _best_cells([_cell(select_prediction(
                records, experiment="table1", metric=m, predictor=n, fraction=quarter),
                ".3g" if m == "rmse" else ".3f")  # the RMSE is in the metric's units
                for n in names], higher) for m, _, higher in shown}
            rows = [[_html.esc(n), *(cols[m][i] for m, _, _ in shown)]
                    for i, n in enumerate(names)
                    if select_prediction(table1, predictor=n, fraction=quarter)]
            parts.append(f"<h3>More measures at {100 * quarter:g} % observed</h3>")
            parts.append(_html.table(["predictor", *(label for _, label, _ in shown)], rows,
                                     numeric=range(1, len(shown) + 1),
                                     caption="coverage: share of test curves whose final value "
                                             "lies in the predicted interval; bold: best in its "
                                             "column (coverage: nearest the nominal share)"))
    return parts


def _ablation_parts(records: Sequence[Mapping[str, Any]], empty: Sequence[str] = ()
                    ) -> list[str]:
    """Table 2: the feature ablation (``empty``: the groups the data has no column for)."""
    parts: list[str] = []
    ablation = select_prediction(records, experiment="table2", metric="r2")
    if ablation:
        ablation = sorted(ablation, key=lambda r: (len(r["features"].split("+")),
                                                   [GROUPS.index(g) if g in GROUPS else len(GROUPS)
                                                    for g in r["features"].split("+")]))
        cells = _best_cells([_cell([r]) for r in ablation])
        rows = [[_html.esc(r["features"]), cells[i],
                 _cell(select_prediction(records, experiment="table2", metric="kendall_tau",
                                         features=r["features"], fraction=r["fraction"]))[1]]
                for i, r in enumerate(ablation)]
        parts.append(f"<h2>Table 2: feature ablation ({_html.esc(ablation[0]['predictor'])}, "
                     f"{100 * ablation[0]['fraction']:g} % observed)</h2>")
        none = "".join(f"; the data has no {'architecture' if g == 'ap' else 'hyperparameter'} "
                       f"column, so every row with {g} equals the row without it"
                       for g in empty if g in GROUPS)
        parts.append(_html.table(["feature groups", "R²", "Kendall τ"], rows, numeric=(1, 2),
                                 caption="ts: the observed curve and its differences, ap: "
                                         "architecture, hp: hyperparameters" + none))
    return parts


def _efficiency_parts(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """R² against the number of training curves."""
    parts: list[str] = []
    efficiency = sorted(select_prediction(records, experiment="sample_efficiency", metric="r2"),
                        key=lambda r: r["train_size"])
    if efficiency:
        rows = [[str(r["train_size"]), _cell([r])[1]] for r in efficiency]
        parts.append(f"<h2>Sample efficiency ({_html.esc(efficiency[0]['predictor'])}, "
                     f"{100 * efficiency[0]['fraction']:g} % observed)</h2>")
        parts.append(_html.table(["training curves", "R²"], rows, numeric=(0, 1)))
    return parts


#: The names the report's tables give the measures of a prediction result.
_MEASURES = {"r2": "R²", "rmse": "RMSE", "kendall_tau": "Kendall τ",
             "coverage_68": "in ±1σ (68 %)", "coverage_95": "in ±1.96σ (95 %)",
             "clipped": "clipped"}


def _depth_parts(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Generalisation to deeper networks."""
    parts: list[str] = []
    depth = select_prediction(records, experiment="depth_generalisation")
    if depth:
        metrics = _ordered(r["metric"] for r in depth)
        rows = [[_html.esc(n), *(_cell(select_prediction(depth, predictor=n, metric=m))[1]
                                 for m in metrics)]
                for n in _ordered(r["predictor"] for r in depth)]
        parts.append(f"<h2>Generalisation to deeper networks ("
                     f"{100 * float(depth[0]['fraction']):g} % observed)</h2>")
        # the measures by the names the other tables give them, not the result file's keys
        # (the header read "r2 | rmse | kendall_tau | coverage_68 | …": a review)
        parts.append(_html.table(["predictor", *(_html.esc(_MEASURES.get(m, m)) for m in metrics)],
                                 rows, numeric=range(1, len(metrics) + 1),
                                 caption="trained on configs with at most the median number "
                                         "of layers, tested on the deeper ones; clipped: share "
                                         "of predictions clipped to what the training curves "
                                         "support"))
    return parts


def _cell(recs: Sequence[Mapping[str, Any]], spec: str = ".3f") -> tuple[float | None, str]:
    """(mean, ``mean ± s.e.``, in format ``spec``) of the first record; ``(None, "–")`` when
    there is none."""
    if not recs:
        return None, "–"
    r = recs[0]
    return r["mean"], _html.mean_se(r["mean"], r["stderr"], spec)


def _repeats(recs: Sequence[Mapping[str, Any]]) -> str:
    ns = sorted({int(r["n"]) for r in recs if r.get("n") is not None})
    return "–" if not ns else "/".join(str(n) for n in ns)


# ------------------------------------------------------------------------------ simulate
_SPEEDUP_COLUMNS = (("speedup", "speedup", ".2f"), ("best_kept", "best kept", ".2f"),
                    ("regret", "regret", ".3g"), ("epochs", "epochs", ".0f"))
_REFERENCE_COLUMNS = (("speedup_vs_reference", "vs Hyperband", ".2f"),
                      ("same_selections", "same bracket winners", ".2f"))


def _simulate_body(output: Mapping[str, Any], tmp: Path, name: str) -> str:
    records = output["results"]
    settings = {**output["settings"], "trials": searched_trials(output["settings"])}
    predictive = any(r.get("delta") is not None for r in records)  # a rule that predicts ran
    shown = (("configs", "configs"), ("configs_left_out", "configs left out (curves that end "
                                                          "early)"),
             ("trials", "trials per search"), ("epochs", "epochs"), ("orderings", "orderings"),
             ("workers", "workers"),
             *((("predictor", "predictor"), ("deltas", "Δ")) if predictive else ()),
             ("seed", "seed"))
    parts = [f'<p>Data: <code>{_html.esc(output.get("dataset", "?"))}</code></p>',
             _settings_line({**settings, "configs_left_out": settings.get("configs_left_out")
                             or None}, shown)]
    ran_with = rule_settings(settings)
    if ran_with:
        parts.append(f'<p class="muted">{_html.esc("; ".join(ran_with))}</p>')
    columns = list(_SPEEDUP_COLUMNS)
    if select_speedup(records, metric="speedup_vs_reference"):
        columns += _REFERENCE_COLUMNS
    keys = _ordered((r["searcher"], r["stopper"], r["delta"]) for r in records)
    rows = []
    for searcher, stopper, delta in keys:
        cells = []
        for metric, _, spec in columns:
            recs = select_speedup(records, searcher=searcher, stopper=stopper, delta=delta,
                                  metric=metric)
            text = "–" if not recs else _html.mean_se(recs[0]["mean"], recs[0]["stderr"], spec)
            cells.append(text)
        rows.append([_html.esc(searcher), _html.esc(stopper),
                     "–" if delta is None else f"{delta:g}", *cells])
    header = ["searcher", "stopper", "Δ", *(label for _, label, _ in columns)]
    parts.append("<h2>Speedup of early stopping</h2>")
    parts.append(_html.table(header, rows, numeric=range(2, len(header)),
                             caption=("one ordering of the configs (no standard error). "
                                      if output["settings"].get("orderings") == 1 else
                                      "mean ± standard error over orderings of the configs. ")
                                     + "speedup: epochs of full training ÷ epochs used; best kept: "
                                     "share of orderings in which the true best config was "
                                     "trained to the end; regret: how much worse the best "
                                     "config trained to the end is than the true best, in the "
                                     "metric's units (≥ 0, for a metric maximised or "
                                     "minimised); epochs: epochs trained"))
    parts.append("<h2>Figures</h2>")
    parts.append(_figures([*plot_speedup_results(output, tmp, name),
                           *plot_anytime_regret([output], tmp, name)], name,
                          one_ordering=output["settings"].get("orderings") == 1))
    return "\n".join(parts)
