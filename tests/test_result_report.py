"""`curvecast report RESULT.json`: the page of an evaluate or simulate result, and bad files."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from curvecast.cli import app
from curvecast.report.result_report import load_result

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
EVALUATE = RESULTS / "prediction" / "metaqnn_cifar10.json"
SIMULATE = RESULTS / "speedup" / "metaqnn_cifar10-random.json"
HYPERBAND = RESULTS / "speedup" / "metaqnn_cifar10-hyperband.json"
PNG = b"\x89PNG\r\n\x1a\n"


def report(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def figures(page: str) -> list[bytes]:
    """The embedded PNGs of a page, decoded."""
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def rows(page: str, heading: str) -> list[list[str]]:
    """The body rows (cell texts) of the first table after ``heading``."""
    section = page.split(heading, 1)[1]
    table = section.split("<table>", 1)[1].split("</table>", 1)[0]
    out = []
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]:
        out.append([re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)])
    return out


def assert_self_contained(page: str) -> None:
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from elsewhere


def test_evaluate_result_has_tables_1_and_2_and_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "evaluate.html"
    code, stdout, stderr = report(EVALUATE, "--out", out)
    assert code == 0, stderr
    assert f"report -> {out}" in stdout.replace("\n", "")  # rich wraps long paths
    page = out.read_text()
    assert_self_contained(page)
    records = json.loads(EVALUATE.read_text())["results"]
    r2 = {(r["predictor"], r["fraction"]): r for r in records
          if r["experiment"] == "table1" and r["metric"] == "r2"}
    table1 = rows(page, "Table 1")
    assert [r[0] for r in table1] == ["srm", "svr-rbf", "ols", "last-value", "bnn"]
    for row in table1:
        for cell, fraction in zip(row[1:5], (0.1, 0.25, 0.5, 0.75), strict=True):
            rec = r2[(row[0], fraction)]
            assert cell == f"{rec['mean']:.3f} ± {rec['stderr']:.3f}"
    # bold marks the best of each column: at 10 % observed, srm
    assert '<td class="num best">0.843 ± 0.003</td>' in page
    # coverage: bold is the share nearest the nominal one, not the largest (too wide)
    for metric, nominal in (("coverage_68", 0.68), ("coverage_95", 0.95)):
        shares = [r for r in records if r["experiment"] == "table1" and r["metric"] == metric
                  and r["fraction"] == 0.25]
        nearest = min(shares, key=lambda r: abs(r["mean"] - nominal))
        widest = max(shares, key=lambda r: r["mean"])
        section = page.split("More measures", 1)[1].split("</table>", 1)[0]
        assert f'<td class="num best">{nearest["mean"]:.3f}' in section
        if widest["predictor"] != nearest["predictor"]:
            assert f'<td class="num best">{widest["mean"]:.3f}' not in section
    table2 = rows(page, "Table 2")
    assert [r[0] for r in table2] == ["ts", "ap", "hp", "ts+ap", "ts+hp", "ap+hp", "ts+ap+hp"]
    assert table2[0][1] == "0.937 ± 0.001"
    assert [r[0] for r in rows(page, "Sample efficiency")] == ["10", "20", "30", "50", "75", "100"]
    pngs = figures(page)
    assert len(pngs) == 4 and all(p[:8] == PNG and len(p) > 5_000 for p in pngs)
    for alt in ("r2 vs fraction", "sample efficiency", "feature ablation", "coverage"):
        assert f'alt="{alt}"' in page


def test_simulate_result_has_the_speedup_table_and_figure(tmp_path: Path) -> None:
    out = tmp_path / "simulate.html"
    code, _, stderr = report(SIMULATE, "--out", out, "--title", "cifar10 random")
    assert code == 0, stderr
    page = out.read_text()
    assert_self_contained(page)
    assert "<h1>Early-stopping results: cifar10 random</h1>" in page
    records = json.loads(SIMULATE.read_text())["results"]
    keys = list(dict.fromkeys((r["searcher"], r["stopper"], r["delta"]) for r in records))
    table = rows(page, "Speedup of early stopping")
    assert [(r[0], r[1], r[2]) for r in table] == [
        (s, st, "–" if d is None else f"{d:g}") for s, st, d in keys]
    first = next(r for r in records if r["metric"] == "speedup")
    assert table[0][3] == f"{first['mean']:.2f} ± {first['stderr']:.2f}"
    kept = next(r for r in records if r["metric"] == "best_kept")
    assert table[0][4] == f"{kept['mean']:.2f} ± {kept['stderr']:.2f}"
    assert "vs Hyperband" not in page
    pngs = figures(page)
    assert len(pngs) == 2 and all(p[:8] == PNG for p in pngs)
    assert 'alt="speedup"' in page and 'alt="anytime-regret"' in page


def test_hyperband_result_adds_the_comparison_columns_and_figure(tmp_path: Path) -> None:
    out = tmp_path / "hb.html"
    assert report(HYPERBAND, "--out", out)[0] == 0
    page = out.read_text()
    table = rows(page, "Speedup of early stopping")
    assert table[0][:3] == ["hyperband", "sh", "–"] and table[0][-2:] == ["–", "–"]
    assert all(r[0] == "fhyperband" and r[-2] != "–" for r in table[1:])
    assert "vs Hyperband" in page and len(figures(page)) == 2


@pytest.mark.parametrize(("content", "fragment"), [
    ("{not json", "not a JSON file"),
    ('{"lstm_target": {}}', "not a result of `curvecast evaluate` or `curvecast simulate`"),
    ('{"settings": {}, "results": []}', "the result has no records"),
    ('{"settings": {}, "results": [{"speedup": 2}]}', "neither an `evaluate` record"),
    ('{"settings": {}, "results": [{"searcher": "random", "stopper": "never", "delta": null, '
     '"metric": "speedup", "mean": 1.0}]}', "results[0] of this `simulate` result lacks stderr"),
    ("[1, 2]", "found list"),
    ('{"settings": {}, "results": [{"searcher": "random", "stopper": "never", "delta": null, '
     '"metric": "speedup", "mean": "abc", "stderr": 0}]}',
     "results[0].mean is 'abc', not a number or null"),
    ('{"settings": {}, "results": [{"experiment": "table1", "predictor": "srm", "features": '
     '"ts", "fraction": "abc", "train_size": 100, "metric": "r2", "mean": 0.5, "stderr": 0.1}]}',
     "results[0].fraction is 'abc', not a number"),
    ('{"settings": {"workers": null}, "results": [{"searcher": "random", "stopper": "never", '
     '"delta": null, "metric": "speedup", "mean": 1.0, "stderr": 0}]}',
     "settings.workers is None, not a whole number"),
    ('{"settings": {"orderings": {}}, "results": [{"searcher": "random", "stopper": "never", '
     '"delta": null, "metric": "speedup", "mean": 1.0, "stderr": 0}]}',
     "settings.orderings is {}, not a whole number"),
    ('{"settings": {"trials": "x", "configs": 3}, "results": [{"searcher": "random", '
     '"stopper": "never", "delta": null, "metric": "speedup", "mean": 1.0, "stderr": 0}]}',
     "settings.trials is 'x', not a whole number"),
])
def test_a_bad_result_file_is_a_one_line_error(tmp_path: Path, content: str,
                                               fragment: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, _, stderr = report(bad, "--out", tmp_path / "x.html")
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], stderr
    assert str(bad) in lines[0]
    assert not (tmp_path / "x.html").exists()


@pytest.mark.parametrize(("which", "edit", "fragment"), [
    ("simulate", lambda o: o.__setitem__("anytime", -1), "anytime is -1, not a list of records"),
    ("evaluate", lambda o: o["settings"].__setitem__("predictors", -1),
     "settings.predictors is -1, not a list of names"),
    ("evaluate", lambda o: [r.__setitem__("n", []) for r in o["results"]],
     "results[0].n is [], not a whole number ≥ 0 or null"),
    ("evaluate", lambda o: o.__setitem__("empty_groups", -1),
     "empty_groups is -1, not a list of records"),
])
def test_a_result_field_of_the_wrong_type_is_a_one_line_error(
        tmp_path: Path, which: str, edit: Any, fragment: str) -> None:
    """A review (stop 35): one field of a real result edited to the wrong type (settings.deltas
    null, anytime null or -1, settings.predictors -1, every n null or [], empty_groups -1)
    ended in a traceback from the figure code.  Null is read as absent; another type is
    refused in one line."""
    output = json.loads((EVALUATE if which == "evaluate" else SIMULATE).read_text())
    edit(output)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(output))
    code, _, stderr = report(bad, "--out", tmp_path / "x.html")
    assert code == 2 and stderr.startswith("error:") and fragment in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("which", "edit"), [
    ("simulate", lambda o: o["settings"].__setitem__("deltas", None)),
    ("simulate", lambda o: o.__setitem__("anytime", None)),
    ("evaluate", lambda o: o["settings"].__setitem__("predictors", None)),
    ("evaluate", lambda o: [r.__setitem__("n", None) for r in o["results"]]),
])
def test_a_null_result_field_is_read_as_absent(tmp_path: Path, which: str, edit: Any) -> None:
    output = json.loads((EVALUATE if which == "evaluate" else SIMULATE).read_text())
    edit(output)
    bad = tmp_path / "null.json"
    bad.write_text(json.dumps(output))
    code, _, stderr = report(bad, "--out", tmp_path / "x.html")
    assert code == 0, stderr
    assert (tmp_path / "x.html").read_text().startswith("<!doctype html>")


def test_report_needs_exactly_one_of_a_result_and_a_study(tmp_path: Path) -> None:
    code, _, stderr = report(EVALUATE, "--study", "s", "--out", tmp_path / "x.html")
    assert code == 2 and "not both" in stderr
    code, _, stderr = report("--out", tmp_path / "x.html")
    assert code == 2 and "give RESULT.json" in stderr
    code, _, stderr = report(tmp_path / "missing.json", "--out", tmp_path / "x.html")
    assert code == 2 and "no such result file" in stderr
    code, _, stderr = report(EVALUATE, "--out", tmp_path / "no" / "x.html")
    assert code == 2 and "does not exist" in stderr


def test_load_result_tells_the_kind_by_the_records() -> None:
    assert load_result(EVALUATE)[0] == "evaluate"
    kind, output = load_result(SIMULATE)
    assert kind == "simulate" and output["settings"]["deltas"] == [0.8, 0.9, 0.95, 0.99]


@pytest.mark.parametrize("title", ["lr/bs sweep", "../../x", "Ünïcode <b>x</b>", "t" * 300])
def test_a_title_is_shown_as_given_and_never_becomes_a_path(tmp_path: Path, title: str) -> None:
    """A user's review (stop 29): ``report sim.json --title "lr/bs sweep"`` failed ("No such
    file or directory: …/lr/bs sweep-speedup.png"): the title named the figures' files.  Now
    the page shows it as given (escaped) and the figures are embedded as ever."""
    out = tmp_path / "r.html"
    code, _, stderr = report(SIMULATE, "--out", out, "--title", title)
    assert code == 0, stderr
    page = out.read_text()
    shown = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert f"<h1>Early-stopping results: {shown}</h1>" in page
    assert len(figures(page)) == 2 and 'alt="speedup"' in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_the_header_says_what_ran_and_huge_numbers_stay_short(tmp_path: Path) -> None:
    """A user's review (stop 30): a Hyperband-only page named a predictor, min complete and
    Δ that no rule used; configs left out (curves that end early) were said in the terminal
    only; an R² of -4.7e31 was printed as a 33-digit fixed-point number."""
    from curvecast.report._html import mean_se

    result = json.loads(HYPERBAND.read_text())
    result["results"] = [r for r in result["results"] if r["searcher"] == "hyperband"]
    result["settings"]["configs_left_out"] = 10
    path = tmp_path / "hb.json"
    path.write_text(json.dumps(result))
    out = tmp_path / "hb.html"
    assert report(path, "--out", out)[0] == 0
    header = re.search(r'<p class="muted">([^<]*)', out.read_text())
    assert header is not None
    assert "configs left out (curves that end early) 10" in header[1]
    assert not any(word in header[1] for word in ("predictor", "Δ", "min complete"))
    page = (tmp_path / "full.html")
    assert report(HYPERBAND, "--out", page)[0] == 0  # f-Hyperband predicts: they are named
    assert "predictor" in re.search(r'<p class="muted">([^<]*)', page.read_text())[1]  # type: ignore[index]
    assert mean_se(-4.7319276256233887e31, 5.81e29) == "-4.73e+31 ± 5.81e+29"
    assert mean_se(0.9432, 0.0012) == "0.943 ± 0.001"


def test_a_feature_group_the_data_lacks_is_said_by_evaluate_and_the_report(tmp_path: Path) -> None:
    """A researcher's review (stop 31): on curves without architecture columns, table 2's rows
    with ``ap`` repeated those without it, and neither `evaluate` nor the report said why."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    rows_ = [{"run": f"r{i}", "lr": 10 ** rng.uniform(-4, -1),
              **{f"acc_{e}": a - (a - 0.1) * e ** -0.6 + rng.normal(0, 0.01) for e in range(1, 21)}}
             for i, a in enumerate(rng.uniform(0.5, 0.95, 60))]
    pd.DataFrame(rows_).to_csv(tmp_path / "noarch.csv", index=False)
    runner = CliRunner()
    imported = runner.invoke(app, ["data", "import", "table", str(tmp_path / "noarch.csv"),
                                   "--curves", r"acc_(\d+)", "--metric", "acc", "--direction",
                                   "maximize", "--id-column", "run", "--out",
                                   str(tmp_path / "n.parquet")])
    assert imported.exit_code == 0, imported.stderr
    result = runner.invoke(app, ["evaluate", str(tmp_path / "n.parquet"), "--predictors", "ols",
                                 "--experiments", "table2", "--repeats", "1", "--train-size",
                                 "40", "--json", str(tmp_path / "ev.json")])
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert ("note: n.parquet has no architecture columns (n_params, n_layers, or those its "
            "provenance names): feature group ap is empty") in said
    assert "hp is empty" not in said
    assert json.loads((tmp_path / "ev.json").read_text())["empty_groups"] == ["ap"]
    code, _, stderr = report(tmp_path / "ev.json", "--out", tmp_path / "ev.html")
    assert code == 0, stderr
    assert ("the data has no architecture column, so every row with ap equals the row without "
            "it") in (tmp_path / "ev.html").read_text()


def test_curves_that_all_end_alike_are_drawn_and_reported_with_r2_undefined(
        tmp_path: Path) -> None:
    """A review with a researcher's 20 identical curves (a seed sweep of one config): R² is
    undefined in every cell, and ``evaluate --plots`` and ``report`` both failed with
    "error: Data cannot be log-scaled because all values are <= 0." (matplotlib's, from the
    1 − R² panel with no value); the feature-ablation figure was an empty frame with one
    label.  Now every figure is drawn and says why it has no point, and so does the page."""
    import numpy as np
    import pandas as pd

    from curvecast.curves import CurveSet, Direction

    curve = 0.9 - 0.5 * np.exp(-np.arange(1, 11) / 3)
    path = CurveSet(values=np.tile(curve, (20, 1)), observed=np.ones((20, 10), bool),
                    epochs=np.arange(1, 11), metric="acc", direction=Direction.MAXIMIZE,
                    configs=pd.DataFrame({"lr": np.linspace(0.01, 0.1, 20)})).save(
        tmp_path / "same.parquet")
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", str(path), "--predictors", "ols,last-value",
                                 "--experiments", "table1,table2", "--repeats", "2",
                                 "--train-size", "6", "--json", str(tmp_path / "ev.json"),
                                 "--plots", str(tmp_path / "figs")])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "same-coverage.png", "same-feature_ablation.png", "same-r2_vs_fraction.png"]
    code, _, stderr = report(tmp_path / "ev.json", "--out", tmp_path / "ev.html")
    assert code == 0, stderr
    page = (tmp_path / "ev.html").read_text()
    assert len(figures(page)) == 3
    assert ("R² is undefined in every cell (n/a):</strong> the test curves' final values do "
            "not vary") in page


def test_every_name_from_the_result_file_is_escaped(tmp_path: Path) -> None:
    """A review (stop 36): the depth table's header showed a record's ``metric`` as HTML, so a
    result file could put a script in the page; every other field was escaped."""
    result = json.loads(EVALUATE.read_text())
    result["results"].append({"experiment": "depth_generalisation", "predictor": "ols",
                              "features": "ts", "fraction": 0.25, "train_size": 10,
                              "metric": "<script>alert(1)</script>", "mean": 0.5,
                              "stderr": 0.1, "n": 2})
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps(result))
    out = tmp_path / "r.html"
    code, _, stderr = report(planted, "--out", out)
    assert code == 0, stderr
    page = out.read_text()
    assert_self_contained(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("which", ["evaluate", "simulate"])
def test_a_name_matplotlib_reads_as_math_is_drawn_as_written(tmp_path: Path, which: str) -> None:
    """A security review (stop 37): a predictor, searcher or stopper name such as ``$\\bad$`` in
    a result file made matplotlib's math parser fail the report; names are drawn literally."""
    source = EVALUATE if which == "evaluate" else SIMULATE
    text = source.read_text()
    names = (["srm"] if which == "evaluate" else ["random"])
    for name in names:
        text = text.replace(f'"{name}"', json.dumps("$\\bad$ " + name))
    planted = tmp_path / "planted.json"
    planted.write_text(text)
    out = tmp_path / "r.html"
    code, _, stderr = report(planted, "--out", out)
    assert code == 0, stderr
    assert "$\\bad$ " + names[0] in out.read_text()


def test_the_depth_table_names_its_measures_as_the_other_tables_do(tmp_path: Path) -> None:
    """A review of an `evaluate` report: the table of generalisation to deeper networks was
    headed by the result file's keys ("r2 | rmse | kendall_tau | coverage_68 | coverage_95"),
    where every other table says "R²", "RMSE", "Kendall τ", "in ±1σ (68 %)", and did not say
    what share of the curve was observed (the terminal's table does: 25 %)."""
    out = tmp_path / "r.html"
    code, _, stderr = report(EVALUATE, "--out", out)
    assert code == 0, stderr
    page = out.read_text()
    heading = "<h2>Generalisation to deeper networks (25 % observed)</h2>"
    table = page.split(heading, 1)[1].split("</table>", 1)[0]
    header = re.findall(r"<th[^>]*>(.*?)</th>", table)
    assert header == ["predictor", "R²", "RMSE", "Kendall τ", "in ±1σ (68 %)",
                      "in ±1.96σ (95 %)"]
    records = {r["metric"]: r for r in json.loads(EVALUATE.read_text())["results"]
               if r["experiment"] == "depth_generalisation"}
    assert rows(page, heading)[0][:2] == [
        "srm", f"{records['r2']['mean']:.3f} ± {records['r2']['stderr']:.3f}"]


def test_a_simulate_result_of_one_ordering_claims_no_standard_error(tmp_path: Path) -> None:
    """A review of `simulate --orderings 1`: the terminal said "one value from 1 ordering",
    the report's table, showing the values alone, said "mean ± standard error over
    orderings"."""
    result = json.loads(SIMULATE.read_text())
    result["settings"]["orderings"] = 1
    result["runs"] = [r for r in result["runs"] if r["ordering"] == 0]
    for rec in result["results"]:
        run = next(r for r in result["runs"] if (r["searcher"], r["stopper"], r["delta"])
                   == (rec["searcher"], rec["stopper"], rec["delta"]))
        rec.update(mean=run.get(rec["metric"], rec["mean"]), stderr=None, n=1)
    page = _reported(result, tmp_path)
    assert "one ordering of the configs (no standard error). speedup:" in page
    assert "mean ± standard error over orderings" not in page
    # the any-time regret figure's caption too (it was fixed text)
    assert "training every config fully (one ordering)." in page
    assert "mean ± s.e. over orderings" not in page
    code, _, stderr = report(SIMULATE, "--out", tmp_path / "ten.html")
    assert code == 0, stderr
    assert "mean ± standard error over orderings of the configs. speedup:" in (
        tmp_path / "ten.html").read_text()


def _reported(result: dict[str, Any], tmp_path: Path) -> str:
    """The HTML page `curvecast report` writes of ``result`` (a result file's JSON)."""
    one = tmp_path / "one.json"
    one.write_text(json.dumps(result))
    code, _, stderr = report(one, "--out", tmp_path / "one.html")
    assert code == 0, stderr
    return (tmp_path / "one.html").read_text()


def test_an_evaluate_result_of_one_repeat_claims_no_standard_error(tmp_path: Path) -> None:
    """A review of `evaluate --repeats 1`: the terminal said "one value, 1 repeat", the
    report's Table 1, showing the values alone, said "mean ± standard error over random
    training sets"."""
    result = json.loads(EVALUATE.read_text())
    for rec in result["results"]:
        rec.update(stderr=None, n=1)
    page = _reported(result, tmp_path)
    assert "one random training set (no standard error); bold: best in its column" in page
    assert "mean ± standard error over random training sets" not in page
    assert " ± " not in "".join(c for r in rows(page, "Table 1") for c in r)


@pytest.mark.parametrize("edit", ["no_coverage_95", "one_coverage_95_gone", "unknown_group"])
def test_a_hand_edited_evaluate_result_draws_what_it_can(tmp_path: Path, edit: str) -> None:
    """A security review: coverage_68 records without their coverage_95 ones ended `report` in
    an IndexError traceback, and a table-2 record whose features name a group curvecast does
    not know in "error: tuple.index(x): x not in tuple".  The figures are drawn from the
    records there are (the coverage figure's title names the bars left out; the unknown group
    sorts last, as in the report's Table 2)."""
    result = json.loads(EVALUATE.read_text())
    if edit == "no_coverage_95":
        result["results"] = [r for r in result["results"] if r["metric"] != "coverage_95"]
    elif edit == "one_coverage_95_gone":
        result["results"] = [r for r in result["results"] if not (
            r["metric"] == "coverage_95" and r["predictor"] == "srm")]
    else:
        for r in result["results"]:
            if r["experiment"] == "table2" and r["features"] == "ts+ap":
                r["features"] = "ts+zz"
    page = _reported(result, tmp_path)
    for alt in ("r2 vs fraction", "feature ablation", "coverage"):
        assert f'alt="{alt}"' in page, alt
    if edit == "unknown_group":
        assert [r[0] for r in rows(page, "Table 2")] == ["ts", "ap", "hp", "ts+hp", "ts+zz",
                                                         "ap+hp", "ts+ap+hp"]
