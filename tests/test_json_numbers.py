"""The CLI's JSON keeps a NaN or ±inf number apart from no value: strict JSON, ``null`` for no
value, the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` for the numbers (all three were
``null``: a diverged run read as one that reported nothing), and the result files read back with
those strings as numbers again."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from curvecast.cli import app
from curvecast.report.result_report import load_result
from curvecast.stopping import Action, Decision
from curvecast.store import Store
from synthetic_curves import synthetic


def strict(text: str) -> Any:
    """Parse JSON as strict parsers (and jq) do: bare NaN and Infinity are errors."""
    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def test_show_json_writes_nan_and_infinities_as_strings_and_no_value_as_null(
        tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.create_study("s", metric="val_loss", direction="minimize")
        store.add_trial("s", {"lr": 0.1})
        for epoch, value in enumerate((0.5, math.inf, -math.inf, math.nan), start=1):
            store.record_value("s", 0, epoch, value)
        store.record_decision("s", 0, Decision(Action.CONTINUE, 2, math.inf, -math.inf, None,
                                               "x"))
    shown = CliRunner().invoke(app, ["show", "--storage", f"sqlite:///{db}", "--study", "s",
                                     "--json"])
    assert shown.exit_code == 0, shown.output
    trial = strict(shown.stdout)["trials"][0]
    assert trial["values"] == [[1, 0.5], [2, "Infinity"], [3, "-Infinity"], [4, "NaN"]]
    decision = trial["decisions"][0]
    assert (decision["mean"], decision["std"], decision["probability"]) == (
        "Infinity", "-Infinity", None)
    assert trial["predicted_value"] is None and trial["test_value"] is None  # no value: null
    # what a user parsing it reads: Python's float() and pandas read the strings as numbers
    read = [float(v) for _, v in trial["values"]]
    assert read[:3] == [0.5, math.inf, -math.inf] and math.isnan(read[3])
    frame = pd.read_json(io.StringIO(json.dumps([{"v": v} for _, v in trial["values"]])))
    assert frame["v"].dtype == "float64" and frame["v"].iloc[1] == math.inf


def test_a_result_file_reads_back_its_non_finite_numbers(tmp_path: Path) -> None:
    """``report RESULT.json`` reads what ``evaluate --json`` writes: a mean that overflowed to
    +inf, a stderr that is NaN, and null (no value) as NaN, as before."""
    path = tmp_path / "r.json"
    record = {"experiment": "table1", "predictor": "ols", "features": "ts", "fraction": 0.25,
              "train_size": 30, "metric": "rmse"}
    path.write_text(json.dumps({"settings": {}, "results": [
        {**record, "mean": "Infinity", "stderr": "NaN", "n": 2},
        {**record, "metric": "r2", "mean": None, "stderr": None, "n": 0}]}))
    kind, output = load_result(path)
    first, second = output["results"]
    assert kind == "evaluate" and first["mean"] == math.inf and math.isnan(first["stderr"])
    assert math.isnan(second["mean"]) and math.isnan(second["stderr"])
    assert first["predictor"] == "ols"  # text stays text


@pytest.mark.parametrize("name", ["NaN", "Infinity"])
def test_a_data_file_named_like_a_non_finite_number_stays_text_on_read_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The result's ``dataset`` is the data file's path as given, text: read back, a file named
    ``NaN`` (or ``Infinity``) was the float nan (inf), and the report said "Data: nan"."""
    monkeypatch.chdir(tmp_path)
    synthetic(n=12, epochs=4).save(tmp_path / name)
    ran = CliRunner().invoke(app, ["simulate", name, "--stopper", "never", "--orderings", "1",
                                   "--json", "r.json"])
    assert ran.exit_code == 0, ran.output
    assert strict((tmp_path / "r.json").read_text())["dataset"] == name
    kind, output = load_result(tmp_path / "r.json")
    assert kind == "simulate" and output["dataset"] == name
    assert output["results"][0]["searcher"] == "random"
    reported = CliRunner().invoke(app, ["report", "r.json", "--out", "r.html"])
    assert reported.exit_code == 0, reported.output
    assert f"Data: <code>{name}</code>" in (tmp_path / "r.html").read_text()
