"""Issue 13, items 9–14: one rule for NaN, out-of-range values and dropped data said out loud,
strict JSON, output that a log file keeps intact, and a compact ``show``."""

from __future__ import annotations

import io
import json
import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from curvecast import CurveSet, Direction
from curvecast.cli import app
from curvecast.datasets.baker2018 import load_baker2018
from curvecast.execution.live import Progress, run_search
from curvecast.report.terminal import LineProgress
from curvecast.search import RandomSampler
from curvecast.stopping import Action, Decision, NeverStop
from curvecast.store import Store, TrialState
from sgd_workload import SGDDigits
from synthetic_curves import synthetic


def run(*args: str | Path, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def strict(text: str) -> Any:
    """Parse JSON as strict parsers (and jq) do: NaN and Infinity are errors."""
    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def with_values(curves: CurveSet, values: np.ndarray, metric: str | None = None) -> CurveSet:
    return CurveSet(values=values, observed=~np.isnan(values), epochs=curves.epochs,
                    metric=metric or curves.metric, direction=curves.direction,
                    configs=curves.configs)


# ------------------------------------------------------------------ 9: NaN inside a curve
def test_a_nan_inside_a_curve_is_diverged_and_trailing_nans_are_unobserved(tmp_path: Path) -> None:
    csv = tmp_path / "tiny.csv"
    pd.DataFrame({"net": ["[C(64,1,1), GAP(10), SM(10)]", "[C(64,3,1), SM(10)]"],
                  "num_params": [832, 5824], "depth": [3, 2], "lr": [1e-3, 1e-4],
                  "acc_1": [0.2, 0.3], "acc_2": [np.nan, 0.5], "acc_3": [0.4, np.nan]}
                 ).to_csv(csv, index=False)
    curves = load_baker2018(csv)
    assert curves.observed.tolist() == [[True, True, True], [True, True, False]]
    assert curves.n_observed().tolist() == [3, 2] and curves.is_complete().tolist() == [True, False]
    assert curves.diverged().tolist() == [[False, True, False], [False, False, False]]
    assert curves.filled_values()[0, 1] == pytest.approx(0.1)  # metaqnn's chance accuracy
    # the same rule for a long table with a missing row in the middle
    long = pd.DataFrame({"config_id": ["a", "a"], "epoch": [1, 3], "value": [0.2, 0.4]})
    gap = CurveSet.from_long(long, pd.DataFrame(index=["a"]), metric="acc",
                             direction="maximize", epochs=[1, 2, 3])
    assert gap.observed.tolist() == [[True, True, True]] and gap.diverged()[0, 1]


# ------------------------------------------------------------------ 10: out-of-range values
def test_an_accuracy_outside_0_1_is_warned_about(tmp_path: Path) -> None:
    base = synthetic(n=8, epochs=3)
    values = np.array(base.values)
    values[0, 0], values[1, 2] = -0.5, 57.3
    data = tmp_path / "acc.parquet"
    with_values(base, values, metric="val_accuracy").save(data)
    result = run("data", "summary", data, "--json")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ")
    assert "2 val_accuracy values lie outside [0, 1] (the values run -0.5..57.3)" in lines[0]
    fine = tmp_path / "fine.parquet"
    with_values(base, np.clip(values, 0, 1), metric="val_accuracy").save(fine)
    assert run("data", "summary", fine, "--json").stderr == ""


def test_the_arcsine_error_shows_the_real_range(tmp_path: Path) -> None:
    values = np.array(synthetic(n=30, epochs=6, direction=Direction.MINIMIZE).values)
    values[:3, 4:] = np.nan  # three runs recorded to epoch 4 only
    data = tmp_path / "ppl.parquet"
    with_values(synthetic(n=30, epochs=6), values, metric="val_perplexity").save(data)
    result = run("simulate", data, "--arcsine-target", "--stopper", "never")
    assert result.exit_code == 2
    low, high = np.nanmin(values), np.nanmax(values)
    assert f"run {low:g}..{high:g}" in result.stderr and "nan" not in result.stderr


# ------------------------------------------------------------------ 11: dropped data said
def test_simulate_says_which_configs_it_leaves_out_and_never_prints_minus_zero(
        tmp_path: Path) -> None:
    cs = synthetic(n=30, epochs=6, direction=Direction.MINIMIZE)
    values = np.array(cs.values)
    values[:4, 3:] = np.nan  # 4 runs end at epoch 3, 1 at epoch 5
    values[4, 5] = np.nan
    data, out = tmp_path / "short.parquet", tmp_path / "r.json"
    with_values(cs, values).save(data)
    result = run("simulate", data, "--stopper", "never", "--orderings", "2", "--json", out)
    assert result.exit_code == 0, result.stderr
    assert ("note: 5 of 30 configs are left out: their curves end before the final epoch 6 "
            "(at epochs 3..5)") in result.stderr
    # the regret (metric units, 3 significant digits) is 0 in both orderings, never -0
    table = result.stdout.split("results ->")[0]
    assert "-0" not in table and re.search(r"(?<![\d.-])0±0(?![\d.])", table)
    assert "-0.0" not in out.read_text()  # a regret of 0 is sign * 0.0 for a metric to minimise
    output = strict(out.read_text())
    assert output["settings"]["configs_left_out"] == 5
    # a curve that ends in a diverged report (an Optuna trial failed on its NaN loss) is said so
    observed = np.array(cs.observed)
    observed[:4, 3:] = False
    observed[4, 5] = False
    observed[0, 3] = True  # run 0 reports NaN at epoch 4 and ends there
    with_nan = np.where(observed, values, np.nan)
    diverged = CurveSet(values=with_nan, observed=observed, epochs=cs.epochs, metric=cs.metric,
                        direction=cs.direction, configs=cs.configs)
    diverged.save(tmp_path / "failed.parquet")
    said = run("simulate", tmp_path / "failed.parquet", "--stopper", "never", "--orderings", "1")
    assert said.exit_code == 0, said.stderr
    assert ("5 of 30 configs are left out: their curves end before the final epoch 6 (at epochs "
            "3..5); 1 of them end in a diverged report (NaN or ±inf") in " ".join(
                said.stderr.split())
    assert output["settings"]["configs"] == 25
    regret = next(r for r in output["results"] if r["metric"] == "regret")
    assert regret["mean"] == 0.0 and math.copysign(1.0, regret["mean"]) == 1.0
    pytest.importorskip("matplotlib")
    for record in output["results"]:  # what strict JSON holds where a number is missing
        record["stderr"] = None
    out.write_text(json.dumps(output))
    page = run("report", out, "--out", tmp_path / "r.html")  # and the report reads it back
    assert page.exit_code == 0, page.stderr
    html = (tmp_path / "r.html").read_text()
    assert ">1.00</td>" in html and "nan" not in html  # the mean alone, no "± nan"


# ------------------------------------------------------------------ 12: strict JSON
def test_json_output_is_strict(tmp_path: Path) -> None:
    data = tmp_path / "s.parquet"
    synthetic(n=8, epochs=3).save(data)  # no seconds: their median is missing
    result = run("data", "summary", data, "--json")
    assert result.exit_code == 0 and "NaN" not in result.stdout
    assert strict(result.stdout)["seconds_per_epoch_median"] is None
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.create_study("s", metric="val_accuracy", direction="maximize")
        store.add_trial("s", {"lr": 0.1})
        store.record_value("s", 0, 1, math.nan)
        store.record_decision("s", 0, Decision(Action.CONTINUE, 1, math.inf, math.nan, None, "x"))
    shown = run("show", "--storage", f"sqlite:///{db}", "--study", "s", "--json")
    got = strict(shown.stdout)
    assert got["trials"][0]["values"] == [[1, "NaN"]]  # a number, not no value (null)
    assert got["trials"][0]["decisions"][0]["mean"] == "Infinity"
    assert got["trials"][0]["decisions"][0]["std"] is None  # SQLite keeps a NaN as NULL


# ------------------------------------------------------------------ 13: not a terminal
def test_progress_off_a_terminal_is_a_plain_line_every_few_seconds() -> None:
    out = io.StringIO()
    with LineProgress(Console(file=out, width=20), every=0.05) as bar:
        task = bar.add_task("[dim]trials[/]", total=10)
        bar.update(task, completed=3)
        time.sleep(0.3)
        bar.update(task, completed=10)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 3, lines  # a line every 0.05 s, and one at the end
    # (the elapsed time may read a second or two on a loaded machine)
    assert re.match(r"3/10 trials \| elapsed 0:00:0\d", lines[0]), lines
    assert re.fullmatch(r"10/10 trials \| elapsed 0:00:0\d", lines[-1]), lines
    waiting = io.StringIO()
    with LineProgress(Console(file=waiting), every=0.05) as bar:
        bar.add_task("replays", total=None)
        time.sleep(0.3)  # a long first step: the time passing still shows
    assert re.fullmatch(r"0 replays \| elapsed 0:00:0\d", waiting.getvalue().splitlines()[0])
    silent = io.StringIO()
    with LineProgress(Console(file=silent), every=5.0) as bar:
        bar.add_task("trials", total=10)
    assert silent.getvalue() == ""  # a command that ends (or fails) at once prints no line


def test_nothing_is_hard_wrapped_off_a_terminal(tmp_path: Path) -> None:
    csv = tmp_path / "tiny.csv"
    pd.DataFrame({"net": ["[C(64,1,1), GAP(10), SM(10)]"], "num_params": [832], "depth": [3],
                  "lr": [1e-3], "acc_1": [0.2]}).to_csv(csv, index=False)
    deep = tmp_path / ("a-long-folder-name-" * 6)
    deep.mkdir()
    out = deep / "curves-with-a-long-name.parquet"
    result = run("data", "import", "baker2018", csv, "--out", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"tiny.csv: 1 config (1 complete) x 1 trained epoch, val_accuracy (maximize) -> {out}"]
    data = tmp_path / "s.parquet"
    synthetic(n=20, epochs=4).save(data)
    simulated = run("simulate", data, "--stopper", "never", "--orderings", "2")
    assert simulated.exit_code == 0, simulated.stderr
    assert simulated.stderr.splitlines()[-1].startswith("2/2 ordering 2 random never | elapsed ")


# ------------------------------------------------------------------ 14: small output defects
def make_study(db: Path, n: int) -> None:
    with Store(db) as store:
        store.create_study("s", metric="val_accuracy", direction="maximize")
        for number in range(n):
            store.add_trial("s", {"lr": number})
            for epoch in (1, 2):
                store.record_value("s", number, epoch, 0.5 + 0.01 * number)
            store.record_decision("s", number, Decision(
                Action.STOP, 2, 0.4, 0.05, 0.999, "P(final 0.4 ± 0.05 worse than 0.8) = 0.999 ≥ Δ = "
                "0.99, a long reason that a terminal of 80 columns cannot hold on one line"))
            store.set_state("s", number, TrialState.STOPPED, predicted_value=0.4)


def test_show_is_one_row_per_trial_with_detail_behind_verbose(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    make_study(db, 30)
    args = ["show", "--storage", f"sqlite:///{db}", "--study", "s"]
    compact = run(*args, env={"COLUMNS": "80"})
    assert compact.exit_code == 0, compact.stderr
    lines = compact.stdout.splitlines()
    assert len(lines) <= 30 + 4, compact.stdout
    assert max(len(line) for line in lines) <= 80
    # the headers and numbers stay whole; the decision's reason is what gets cut
    assert lines[1].split() == ["trial", "state", "epochs", "last", "value", "predicted", "last",
                                "decision"]
    assert lines[2].split()[:5] == ["t0", "stopped", "2", "0.5", "0.4"]
    assert lines[-1] == "30 trials: 30 stopped"  # no full training (T) recorded: no cost line
    verbose = run(*args, "--verbose", env={"COLUMNS": "80"}).stdout.splitlines()
    assert "t7 stopped values 1:0.57 2:0.57" in verbose
    assert sum(line.startswith("  epoch 2 stop: P(final 0.4") for line in verbose) == 30


def test_a_finished_study_reports_its_trials_at_once(tmp_path: Path) -> None:
    wl = SGDDigits()
    seen: list[Progress] = []
    with Store(tmp_path / "s.db") as store:
        for _ in range(2):
            seen.clear()
            run_search(wl, RandomSampler(wl.space, seed=0), NeverStop(), store, study="s",
                       trials=2, epochs=2, on_progress=lambda p: seen.append(
                           Progress(p.trials, p.complete)))
    assert [(p.trials, p.complete) for p in seen] == [(2, 2)]  # the rerun: done, nothing trained


def test_help_and_errors_name_every_choice() -> None:
    text = run("search", "--help", env={"COLUMNS": "200"}).stdout
    assert "Training processes" in text and "0: one per core" in text and "all cores" not in text
    result = run("search", "--workload", "digits-metaqnn", "--trials", "1", "--epochs", "1",
                 "--searcher", "bogus", "--storage", "sqlite:///nowhere/x.db")
    assert result.exit_code == 2
    assert ("choose from ['fhyperband', 'hyperband', 'metaqnn', 'random', 'tpe']"
            in result.stderr)


def test_an_r2_far_below_zero_is_printed_in_scientific_notation() -> None:
    data = Path(__file__).resolve().parents[1] / "data" / "friedman-sgd.parquet"
    result = CliRunner().invoke(app, ["evaluate", str(data), "--predictors", "last-value",
                                      "--repeats", "1", "--fractions", "0.1", "--experiments",
                                      "table1"], terminal_width=200)
    assert result.exit_code == 0, result.output
    # its diverged runs' RMSEs (up to 2.6e18) make the last value seen a hopeless predictor
    row = next(line for line in result.stdout.splitlines() if "last-value" in line)
    assert "-2.6e+34" in row and "…" not in row
    assert "±" not in row and "(one value, 1 repeat)" in result.stdout  # no s.e. from one


def test_evaluate_refuses_an_ablation_of_a_predictor_without_feature_groups(
        tmp_path: Path) -> None:
    """A researcher's review: ``evaluate --experiments table2`` with ``chain`` first printed the
    same R² under seven feature subsets, and ``--features`` was ignored by it without a word;
    predictions clipped to the training curves' range were never counted."""
    data = tmp_path / "s.parquet"
    synthetic(n=40, epochs=6).save(data)
    base = ["evaluate", str(data), "--repeats", "1", "--train-size", "20", "--fractions", "0.5"]
    refused = run(*base, "--predictors", "chain,ols", "--experiments", "table2")
    assert refused.exit_code == 2
    assert "ablates the feature groups of the first predictor, and chain takes none" in (
        refused.stderr)
    only = run(*base, "--predictors", "chain,last-value", "--experiments", "table1",
               "--features", "hp")
    assert only.exit_code == 2 and "none of chain, last-value takes them" in only.stderr
    mixed = run(*base, "--predictors", "ols,chain", "--experiments", "table1,table2",
                "--features", "ts", "--json", tmp_path / "e.json")
    assert mixed.exit_code == 0, mixed.stderr
    assert "note: chain takes no feature groups; --features applies to the others" in mixed.stderr
    records = json.loads((tmp_path / "e.json").read_text())["results"]
    assert {r["stderr"] for r in records} == {None}  # one repeat
    clipped = [r for r in records if r["metric"] == "clipped" and r["experiment"] == "table1"]
    assert {r["predictor"] for r in clipped} == {"ols", "chain"}
    assert all(0.0 <= r["mean"] <= 1.0 for r in clipped)


def test_a_folder_given_as_a_table_is_named_a_folder(tmp_path: Path) -> None:
    result = run("data", "import", "table", tmp_path, "--curves", r"a_(\d+)", "--metric", "m",
                 "--direction", "maximize", "--out", tmp_path / "x.parquet")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path}: is a folder; give a CSV or Parquet file"


def test_a_curveset_file_named_as_another_format_is_refused(tmp_path: Path) -> None:
    data = Path(__file__).resolve().parents[1] / "data" / "text-lstm.parquet"
    result = run("data", "import", "baker2018", data, "--out", tmp_path / "demo.csv")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path / 'demo.csv'}: a CurveSet is written as "
                                    "Parquet; name the file .parquet")
    assert not (tmp_path / "demo.csv").exists()


def test_summary_shows_the_whole_provenance(tmp_path: Path) -> None:
    """``data summary`` printed the provenance as JSON cut at 300 characters, so the command
    that remakes a data set lost its tail; it is now one row per entry, whole."""
    import dataclasses

    data = tmp_path / "p.parquet"
    command = "curvecast collect " + " ".join(f"--opt{i} {i}" for i in range(32)) + " --out END.parquet"
    curves = dataclasses.replace(synthetic(n=4, epochs=3), provenance={
        "command": command, "packages": {"numpy": "9.9", "scikit-learn": "8.8"},
        "columns": {"hyperparameters": ["lr", "width"]}})
    curves.save(data)
    result = CliRunner().invoke(app, ["data", "summary", str(data)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    # the row as printed, its wrapped lines joined (the terminal's width decides the wrapping)
    lines = result.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if "provenance.command" in line)
    row = [lines[first].split("│")[2].strip()]
    for line in lines[first + 1:]:
        left, right = line.split("│")[1:3]
        if left.strip():  # the next entry
            break
        row.append(right.strip())
    assert " ".join(row) == command
    assert "numpy=9.9  scikit-learn=8.8" in result.stdout
    assert "hyperparameters=lr, width" in result.stdout


def test_show_says_what_the_search_cost_and_its_best_trial(tmp_path: Path) -> None:
    """A user's review: only the end-of-run summary and the report said the epochs used, the
    speedup and the best trial; ``show`` now says them too, from the study."""
    db = tmp_path / "c.db"
    with Store(db) as store:
        store.create_study("c", metric="val_accuracy", direction="maximize",
                           settings={"epochs": 4})
        for number, (values, state) in enumerate((([0.5, 0.6, 0.7, 0.8], TrialState.COMPLETE),
                                                  ([0.4, 0.5, 0.6, 0.9], TrialState.COMPLETE),
                                                  ([0.1], TrialState.STOPPED),
                                                  ([0.2, 0.3], TrialState.RUNNING),
                                                  ([0.3, float("nan")], TrialState.FAILED))):
            store.add_trial("c", {"lr": number})
            for epoch, value in enumerate(values, 1):
                store.record_value("c", number, epoch, value)
            store.set_state("c", number, state, test_value=0.85 if number == 1 else None)
    lines = run("show", "--storage", f"sqlite:///{db}", "--study", "c").stdout.splitlines()
    assert lines[-2:] == ["epochs used: 9 of 12 for full training of the complete and stopped "
                          "trials (speedup 1.33x); 2 more in failed trials",
                          "best: trial t1, val_accuracy 0.9, test 0.85"]
    page = run("report", "--storage", f"sqlite:///{db}", "--study", "c", "--out",
               tmp_path / "c.html")  # a review of stop 33: the failed trials' epochs were left out
    assert page.exit_code == 0, page.output
    html = (tmp_path / "c.html").read_text()
    assert "epochs used (complete and stopped)" in html and "epochs of failed trials" in html


def test_show_and_studies_say_which_running_trials_lost_their_process(tmp_path: Path) -> None:
    """A user's review: after Ctrl-C (or a killed process) ``show`` and ``studies`` listed the
    trial it was training as ``running``, as if something trained it.  A RUNNING trial whose
    owner is gone is listed as ``interrupted`` (JSON: ``"interrupted": true``, the stored state
    unchanged), with how it goes on; one whose owner lives is still ``running``."""
    import os
    import socket

    from curvecast.store import worker_id

    db = tmp_path / "i.db"
    gone = f"{socket.gethostname()}:{os.getpid()}:{'0' * 8}"  # this pid, an earlier process
    with Store(db) as store:
        store.create_study("i", metric="loss", direction="minimize", settings={"epochs": 3})
        for number, worker in enumerate((worker_id(), gone)):
            store.add_trial("i", {"lr": number})
            store.assign_trial("i", number, worker)
            store.record_value("i", number, 1, 0.5)
    url = f"sqlite:///{db}"
    shown = run("show", "--storage", url, "--study", "i")
    rows = {line.split()[0]: line.split()[1] for line in shown.stdout.splitlines()
            if line.strip().startswith("t") and line.split()[0][1:].isdigit()}
    assert rows == {"t0": "running", "t1": "interrupted"}
    assert "2 trials: 1 interrupted, 1 running" in shown.stdout
    assert ("1 trial lost the process that trained it: the next `curvecast search` of this "
            "study takes over from the last checkpoint") in shown.stdout
    listed = strict(run("show", "--storage", url, "--study", "i", "--json").stdout)
    assert [(t["state"], t["interrupted"]) for t in listed["trials"]] == [("running", False),
                                                                          ("running", True)]
    assert "interrupted 1, running 1" in run("studies", "--storage", url).stdout
    page = tmp_path / "i.html"
    assert run("report", "--storage", url, "--study", "i", "--out", page).exit_code == 0
    assert '<td class="running">interrupted</td>' in page.read_text()


@pytest.mark.parametrize("argv", [
    ("simulate", "{data}", "--orderings", "1", "--stopper", "never", "--json", "{data}"),
    ("evaluate", "{data}", "--predictors", "last-value", "--repeats", "1", "--json", "{data}"),
    ("data", "plot", "{data}", "--out", "{data}"),
])
def test_a_result_is_never_written_over_the_data_it_was_made_from(
        tmp_path: Path, argv: tuple[str, ...]) -> None:
    """A user's review (stop 29): ``simulate … --json x.parquet`` on ``x.parquet`` replaced the
    recorded curves with the JSON result (and ``evaluate --json``, ``data plot --out`` the same):
    refused before any work, the data untouched."""
    data = synthetic(n=20, epochs=5).save(tmp_path / "runs.parquet")
    before = data.read_bytes()
    result = run(*(a.format(data=tmp_path / "." / "runs.parquet") for a in argv))
    assert result.exit_code == 2, result.output
    assert "is the file this command reads" in result.stderr and "Traceback" not in result.stderr
    assert data.read_bytes() == before


def test_a_json_result_named_as_a_data_format_is_refused_and_written_whole(
        tmp_path: Path) -> None:
    """``--json results.parquet`` would name a JSON file after Parquet; a .json result is
    written through a temporary file, so no half-written result is left behind."""
    data = synthetic(n=20, epochs=5).save(tmp_path / "runs.parquet")
    result = run("simulate", data, "--orderings", "1", "--stopper", "never", "--json",
                 tmp_path / "results.parquet")
    assert result.exit_code == 2
    assert "the result is JSON; name the file .json" in result.stderr
    assert not (tmp_path / "results.parquet").exists()
    result = run("simulate", data, "--orderings", "1", "--stopper", "never", "--json",
                 tmp_path / "results.json")
    assert result.exit_code == 0, result.output
    assert strict((tmp_path / "results.json").read_text())["results"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "runs.parquet"]


def test_evaluate_shows_every_experiment_it_ran(tmp_path: Path) -> None:
    """A user's review (stop 29): ``evaluate --experiments table2`` printed an empty Table 1 and
    nothing of Table 2: its numbers were in ``--json`` only.  Each experiment asked for is a
    table of its own; Table 1 only when asked for."""
    data = synthetic(n=80, epochs=8).save(tmp_path / "runs.parquet")
    result = run("evaluate", data, "--predictors", "ols", "--repeats", "1", "--train-size", "30",
                 "--fractions", "0.25", "--experiments", "table2,sample_efficiency",
                 "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    records = strict((tmp_path / "r.json").read_text())["results"]
    ts = next(r for r in records if r["experiment"] == "table2" and r["features"] == "ts"
              and r["metric"] == "r2")
    assert "R² by feature groups (Table 2), ols" in result.stdout
    assert re.search(rf"│ ts +│ +{ts['mean']:.3f} │", result.stdout)
    assert "R² by training curves, ols" in result.stdout and "│ 30 " in result.stdout
    assert "R² of the final value" not in result.stdout


def test_show_leaves_predicted_empty_for_a_rule_that_predicts_nothing(tmp_path: Path) -> None:
    """A user's review (stop 29): trials the median rule or ASHA stopped showed their last value
    in the "predicted" column (it is what the searcher was told); only a prediction is shown."""
    db = tmp_path / "s.db"
    make_study(db, 1)
    with Store(db) as store:
        store.add_trial("s", {"lr": 9})
        store.record_value("s", 1, 1, 0.3)
        store.record_decision("s", 1, Decision(Action.STOP, 1, reason="below the median"))
        store.set_state("s", 1, TrialState.STOPPED, predicted_value=0.3)
    lines = run("show", "--storage", f"sqlite:///{db}", "--study", "s").stdout.splitlines()
    assert lines[2].split()[:5] == ["t0", "stopped", "2", "0.5", "0.4"]
    assert lines[3].split()[:6] == ["t1", "stopped", "1", "0.3", "below", "the"]


def test_a_keep_top_k_no_replay_can_reach_is_said(tmp_path: Path) -> None:
    """A user's review (stop 29): ``--keep-top-k 1000`` on 300 configs silently stopped
    nothing (the reference is the 1000th best final value, which never exists)."""
    data = synthetic(n=20, epochs=5).save(tmp_path / "runs.parquet")
    result = run("simulate", data, "--orderings", "1", "--stopper", "predictive",
                 "--keep-top-k", "50")
    assert result.exit_code == 0, result.output
    assert ("note: --keep-top-k 50 compares with the 50-th best final value, but a replay here "
            "completes at most 20 trials: the predictive rule will stop nothing") in " ".join(
                result.stderr.split())


def test_outputs_write_through_links_into_streams_and_refuse_unwritable_folders_first(
        tmp_path: Path) -> None:
    """A researcher's review (stop 33): every output was renamed over its path, so ``--json
    link.json`` replaced the link (its target kept the old text) and, as root, ``--json
    /dev/full`` replaced the device with a file; ``--json /dev/stdout`` waited forever (the
    check for an SQLite file opened the pipe to read it); and an unwritable folder was found
    only after the whole run, in an error naming a temporary file."""
    import os
    import threading

    data = synthetic(n=20, epochs=5).save(tmp_path / "runs.parquet")
    sim = ("simulate", data, "--orderings", "1", "--stopper", "never")
    (tmp_path / "real.json").write_text("{}")
    (tmp_path / "link.json").symlink_to("real.json")
    assert run(*sim, "--json", tmp_path / "link.json").exit_code == 0
    assert (tmp_path / "link.json").is_symlink()
    assert strict((tmp_path / "real.json").read_text())["results"]
    (tmp_path / "kept.parquet").symlink_to("runs.parquet")
    assert run("data", "import", "long", _long_csv(tmp_path), "--metric", "acc", "--direction",
               "maximize", "--out", tmp_path / "kept.parquet").exit_code == 0
    assert (tmp_path / "kept.parquet").is_symlink()
    assert CurveSet.load(tmp_path / "runs.parquet").n_configs == 2  # the target was replaced

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    assert run(*sim, "--json", fifo).exit_code == 0
    reader.join(timeout=30)
    assert strict(got[0])["results"] and fifo.is_fifo()  # written into, still a pipe
    # a Parquet file into a pipe (a review of stop 33: pyarrow seeks back for its footer, failed
    # with "lseek failed" and removed the pipe)
    parquet_fifo = tmp_path / "pipe.parquet"
    os.mkfifo(parquet_fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(parquet_fifo.read_bytes()),
                              daemon=True)
    reader.start()
    assert run("data", "import", "long", _long_csv(tmp_path), "--metric", "acc", "--direction",
               "maximize", "--out", parquet_fifo).exit_code == 0
    reader.join(timeout=30)
    (tmp_path / "received.parquet").write_bytes(received[0])
    assert CurveSet.load(tmp_path / "received.parquet").n_configs == 2 and parquet_fifo.is_fifo()

    if Path("/proc/self").is_dir():  # a folder no file can be made in, even by root
        result = run(*sim, "--json", "/proc/result.json")
        assert result.exit_code == 2
        assert "/proc/result.json: cannot write in folder '/proc'" in result.stderr
        assert "ordering" not in result.output  # refused before the run


def _long_csv(tmp_path: Path) -> Path:
    path = tmp_path / "long.csv"
    path.write_text("config_id,epoch,value\na,1,0.5\na,2,0.6\nb,1,0.4\nb,2,0.5\n")
    return path


def test_values_in_tiny_units_are_not_printed_as_zero(tmp_path: Path) -> None:
    """A user's review (stop 34): a loss in units of 1e-9 printed as ``val_loss 0.0000`` in
    ``show``'s best line, and ``simulate``'s regret as ``0.000±0.000`` where the best run was
    lost in half the orderings, in the terminal and in the HTML report."""
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.create_study("s", metric="val_loss", direction="minimize", settings={"epochs": 2})
        store.add_trial("s", {"lr": 0.1})
        for epoch, value in ((1, 9e-10), (2, 4.25e-10)):
            store.record_value("s", 0, epoch, value)
        store.set_state("s", 0, TrialState.COMPLETE, test_value=4e-10)
    shown = run("show", "--storage", f"sqlite:///{db}", "--study", "s").stdout
    assert shown.splitlines()[-1] == "best: trial t0, val_loss 4.25e-10, test 4e-10"
    cs = synthetic(n=60, seed=6)  # the median rule loses the best run in 1 of 4 orderings
    tiny = CurveSet(values=cs.values * 1e-9, observed=cs.observed, epochs=cs.epochs,
                    metric=cs.metric, direction=cs.direction, configs=cs.configs)
    tiny.save(tmp_path / "tiny.parquet")
    out = tmp_path / "tiny.json"
    table = run("simulate", tmp_path / "tiny.parquet", "--stopper", "median", "--orderings", "4",
                "--json", out).stdout
    regret = next(r for r in json.loads(out.read_text())["results"]
                  if r["metric"] == "regret" and r["stopper"] == "median")
    assert 0 < regret["mean"] < 1e-9  # the case: the best lost in some orderings
    assert "0.000±0.000" not in table and f"{regret['mean']:.3g}" in table
    run("report", out, "--out", tmp_path / "tiny.html")
    html = (tmp_path / "tiny.html").read_text()
    assert f"{regret['mean']:.3g} ± {regret['stderr']:.3g}" in html


def test_studies_lists_a_long_study_name_whole(tmp_path: Path) -> None:
    """A review (stop 34): the `studies` table cut a long study name to 'exp-…', the name a
    user then has to type into `show --study`."""
    db = tmp_path / "n.db"
    name = "resnet-sweep-2026-12-03-lr-warmup-cosine-decay-seed-17-final-attempt"
    with Store(db) as store:
        store.create_study(name, metric="val_accuracy", direction="maximize",
                           settings={"epochs": 3})
    out = run("studies", "--storage", f"sqlite:///{db}", env={"COLUMNS": "60"}).stdout
    assert "…" not in out
    first = [line.split("│")[1].strip() for line in out.splitlines() if line.count("│") > 2]
    assert "".join(first) == name  # the study column, folded over lines
