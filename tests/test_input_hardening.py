"""Bad input found by a hardening audit of the command line: each is answered with one
``error:`` line and exit code 2 (before any work), or a documented behaviour — never a traceback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from curvecast.cli import app
from curvecast.store import Store
from synthetic_curves import synthetic


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception)
    return result.exit_code, result.stdout, result.stderr


def refused(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def wide_table(path: Path) -> Path:
    curves = synthetic(n=30, epochs=4)
    pd.DataFrame({"lr": curves.configs["lr"].to_numpy(),
                  **{f"acc_{e}": curves.values[:, e - 1] for e in range(1, 5)}}
                 ).to_csv(path, index=False)
    return path


def test_rich_markup_in_names_is_printed_literally(tmp_path: Path) -> None:
    """Study names, metric names and file names are the user's: ``[/x]`` or ``[red]`` in one
    is printed as written (it used to raise rich's MarkupError, or vanish as a style)."""
    db = tmp_path / "s.db"
    with Store(db) as store:
        for name in ("[/x]", "[red]y"):
            store.create_study(name, metric="[/m]", direction="maximize")
            store.add_trial(name, {"lr": 0.1})
            store.record_value(name, 0, 1, 0.5)
    code, out, err = run("studies", "--storage", f"sqlite:///{db}")
    assert code == 0, err
    assert "[/x]" in out and "[red]y" in out and "[/m]" in out
    code, out, err = run("show", "--study", "[/x]", "--storage", f"sqlite:///{db}", "-v")
    assert code == 0, err
    assert out.startswith("[/x]: [/m] (maximize)")

    folder = tmp_path / "["  # a path holding a closing tag: '[/x].parquet'
    folder.mkdir()
    code, out, err = run("data", "import", "table", wide_table(tmp_path / "w.csv"), "--curves",
                         r"acc_(\d+)", "--metric", "[/m]", "--direction", "max",
                         "--out", folder / "x].parquet")
    assert code == 0, err
    assert "[/m] (maximize)" in out
    code, out, err = run("data", "summary", tmp_path / "[/x].parquet")
    assert code == 0, err
    assert "[/x].parquet" in out and "[/m]" in out
