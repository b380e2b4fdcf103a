"""Imported tables that pandas would misread without a word, found by the stop-25 audit: a
repeated header name, a row of more fields than the header, a skipped epoch, a non-finite
``diverged_value``.  Each is refused with one ``error:`` line or answered with a warning and a
documented behaviour."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import curvecast
from curvecast import CurveSet
from curvecast.cli import main

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """``run(*args)``: ``curvecast ARGS`` → (exit code, stdout, stderr)."""

    def invoke(*args: str | Path) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["curvecast", *map(str, args)])
        with pytest.raises(SystemExit) as exit_:
            main()
        out, err = capsys.readouterr()
        return int(exit_.value.code or 0), out, err

    return invoke


def import_table(run: Run, path: Path, text: str) -> tuple[int, str, str]:
    path.write_text(text)
    return run("data", "import", "table", path, "--curves", r"acc_(\d+)", "--metric", "acc",
               "--direction", "maximize", "--out", path.with_suffix(".parquet"))


@pytest.mark.parametrize(("text", "message"), [
    ("acc_1,acc_1\n0.1,0.2\n", "the header repeats the column name 'acc_1'"),
    ("acc_1,acc_2\n0.1,0.2\n0.1,0.2,0.5\n", "line 3 has 3 fields, the header 2"),
    ("acc_1,acc_2\n0.1,0.2,0.7\n0.1,0.2\n", "line 2 has 3 fields, the header 2"),
])
def test_a_table_pandas_would_misread_is_refused(tmp_path: Path, run: Run, text: str,
                                                 message: str) -> None:
    code, out, err = import_table(run, tmp_path / "t.csv", text)
    assert code == 2, (out, err)
    assert err == f"error: {tmp_path / 't.csv'}: {message}\n"
    assert not (tmp_path / "t.parquet").exists()
    with pytest.raises(curvecast.CurveSetFormatError, match=message):
        curvecast.from_table(tmp_path / "t.csv", r"acc_(\d+)", "acc", "max")


def test_a_row_with_fewer_fields_has_empty_cells(tmp_path: Path, run: Run) -> None:
    code, _, err = import_table(run, tmp_path / "t.csv", "acc_1,acc_2\n0.1,0.2\n0.3\n")
    assert code == 0, err
    curves = CurveSet.load(tmp_path / "t.parquet")
    np.testing.assert_array_equal(curves.n_observed(), [2, 1])
    assert curves.gap_warning() is None


def test_a_skipped_epoch_counts_as_diverged_and_the_import_says_so(tmp_path: Path,
                                                                   run: Run) -> None:
    code, out, err = import_table(run, tmp_path / "t.csv",
                                  "acc_1,acc_2,acc_3\n,0.2,0.3\n0.1,,0.3\n0.2,0.4,\n")
    assert code == 0, err
    assert "3 configs (2 complete)" in out
    assert err.startswith("warning: t.csv: 2 empty value(s) lie before a later epoch's value")
    assert err.count("\n") == 1
    curves = CurveSet.load(tmp_path / "t.parquet")
    assert curves.provenance["gap_cells"] == 2
    np.testing.assert_array_equal(curves.diverged().sum(axis=1), [1, 1, 0])
    # the worst value observed stands in for the two gaps
    np.testing.assert_allclose(curves.filled_values()[:2], [[0.1, 0.2, 0.3], [0.1, 0.1, 0.3]])
    # the third run simply stopped after two epochs: not a gap
    assert curves.n_observed()[2] == 2


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), "0.1", True])
def test_diverged_value_must_be_a_finite_number(tmp_path: Path, value: object) -> None:
    path = tmp_path / "t.csv"
    path.write_text("acc_1,acc_2\n0.1,nan\n0.2,0.3\n")
    with pytest.raises(ValueError, match="diverged_value must be None"):
        curvecast.from_table(path, r"acc_(\d+)", "acc", "max",
                             diverged_value=value)  # type: ignore[arg-type]
    ok = curvecast.from_table(path, r"acc_(\d+)", "acc", "max", diverged_value=0)
    assert ok.diverged_value == 0.0 and ok.filled_values()[0, 1] == 0.0
