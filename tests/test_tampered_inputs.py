"""Files changed by another program, or made to break a reader: each is one ``error:`` line and
exit code 2, never a traceback (a user's review, stop 30, found 15 tracebacks)."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from curvecast.cli import app
from curvecast.store import Store


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stderr


@pytest.fixture()
def study(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.create_study("base", metric="acc", direction="maximize", settings={"epochs": 2})
        for number in range(2):
            store.add_trial("base", {"lr": 0.1 * (number + 1)})
            for epoch in (1, 2):
                store.record_value("base", number, epoch, 0.5 + 0.1 * epoch)
    return path


@pytest.mark.parametrize(("change", "command", "fragment"), [
    ("UPDATE trials SET heartbeat='abc', state='running' WHERE number=0", "studies",
     "study 'base': a heartbeat is 'abc', not a number"),
    ("DROP TABLE decisions", "show", "cannot be read as curvecast's (no such table: decisions)"),
    ("UPDATE studies SET settings='[1]'", "show", "its settings is '[1]', not a JSON dict"),
    ("UPDATE studies SET settings=json_set(settings,'$.epochs','abc')", "export",
     "its epochs are 'abc', not a whole number in 1..1000000"),
    ("UPDATE studies SET settings=json_set(settings,'$.epochs',30000000)", "export",
     "its epochs are 30000000, not a whole number"),
    ("UPDATE trials SET config='[1,2]' WHERE number=0", "show",
     "trial 0: its config is '[1,2]', not a JSON dict"),
    ("UPDATE trials SET state='weird' WHERE number=0", "show", "its state is 'weird'"),
    ("UPDATE observations SET value='abc'", "show", "an observation's value is 'abc'"),
    ("UPDATE trials SET test_value='x' WHERE number=0", "show", "its test value is 'x'"),
])
def test_a_tampered_study_database_is_one_error_line(study: Path, tmp_path: Path, change: str,
                                                      command: str, fragment: str) -> None:
    db = sqlite3.connect(study)
    db.executescript(change)
    db.commit()
    db.close()
    args: list[str | Path] = [command, "--storage", f"sqlite:///{study}"]
    if command != "studies":
        args += ["--study", "base"]
    if command == "export":
        args += ["--out", tmp_path / "out.parquet"]
    code, stderr = run(*args)
    assert code == 2, stderr
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert fragment in stderr, stderr


def test_json_nested_too_deep_and_numbers_too_large_are_one_error_line(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    code, stderr = run("report", deep, "--out", tmp_path / "r.html")
    assert code == 2 and "nested too deeply to read" in stderr, stderr
    wide = tmp_path / "wide.csv"
    wide.write_text("config_id,acc_1,acc_99999999999999999999999\na,0.5,0.6\n")
    code, stderr = run("data", "import", "table", wide, "--curves", r"acc_(\d+)", "--metric",
                       "acc", "--direction", "maximize", "--out", tmp_path / "w.parquet")
    assert code == 2 and stderr.startswith("error: ") and stderr.count("\n") == 1, stderr


def test_escape_sequences_from_a_file_never_reach_the_terminal(tmp_path: Path) -> None:
    """A user's review (stop 30): a study database or a Parquet file whose metric, decision
    reason or provenance held escape sequences set the terminal's title and cleared its screen
    under ``show``, ``studies`` and ``data summary``; they are now shown as ``\\x1b``."""
    import numpy as np
    import pandas as pd

    from curvecast import CurveSet, Direction
    from curvecast.stopping import Action, Decision

    hostile = "m\x1b]0;PWNED\x07\x1b[31mRED"
    path = tmp_path / "esc.db"
    with Store(path) as store:
        store.create_study("base", metric=hostile, direction="minimize")
        store.add_trial("base", {"lr": 0.1})
        store.record_value("base", 0, 1, 0.5)
        store.record_decision("base", 0, Decision(Action.CONTINUE, 1, reason="r\x1b[2J"))
    curves = CurveSet(values=np.ones((1, 2)), observed=np.ones((1, 2), bool),
                      epochs=np.arange(1, 3), metric=hostile, direction=Direction.MAXIMIZE,
                      configs=pd.DataFrame(index=["a"]), provenance={"source": "x\x1b[2Jy"})
    parquet = curves.save(tmp_path / "esc.parquet")
    for args in (("show", "--study", "base", "-v", "--storage", f"sqlite:///{path}"),
                 ("studies", "--storage", f"sqlite:///{path}"), ("data", "summary", parquet)):
        result = CliRunner().invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.stderr
        assert "\x1b" not in result.stdout and "\\x1b" in result.stdout, (args, result.stdout)


def test_a_small_file_that_asks_for_a_huge_table_is_refused_before_it_is_made(
        tmp_path: Path) -> None:
    """A user's review (stop 30): a 160 KB long table, config *i* seen at epoch *i* only, made
    curvecast allocate 5.3 GB and write a 70 MB file of gaps."""
    diag = tmp_path / "diag.csv"
    diag.write_text("config_id,epoch,value\n" + "".join(f"c{i},{i + 1},0.5\n"
                                                        for i in range(8000)))
    code, stderr = run("data", "import", "long", diag, "--metric", "acc", "--direction",
                       "maximize", "--out", tmp_path / "d.parquet")
    assert code == 2, stderr
    assert "8000 configs x 8000 epochs (6.4e+07 cells" in stderr and "under 1 %" in stderr
    assert not (tmp_path / "d.parquet").exists()


def test_unreadable_parts_are_named(tmp_path: Path, study: Path) -> None:
    """A user's review (stop 30): "Expecting value: line 1 column 1", "'utf-8' codec can't
    decode byte 0xe9" and "fraction" named no file, study or field."""
    with Store(study) as store:
        store.set_study_state("base", "searcher", {"a": 1})
    db = sqlite3.connect(study)
    db.execute("UPDATE study_state SET value='not json'")
    db.commit()
    db.close()
    with Store(study) as store:
        with pytest.raises(ValueError, match="study 'base': its saved state 'searcher' is "
                                             "'not json', not JSON"):
            store.get_study_state("base", "searcher")
    ray = tmp_path / "ray" / "t1"
    ray.mkdir(parents=True)
    (ray / "params.json").write_bytes(b'{"lr": "caf\xe9"}')
    (ray / "result.json").write_text('{"training_iteration": 1, "acc": 0.5}\n')
    code, stderr = run("data", "import", "ray", tmp_path / "ray", "--metric", "acc",
                       "--direction", "maximize", "--out", tmp_path / "r.parquet")
    assert code == 2 and "params.json: not UTF-8 text" in stderr, stderr


def test_text_is_shown_as_written_but_for_control_characters_and_bidi_overrides() -> None:
    """A review of stop 30's escaping: an emoji family (zero-width joiners), Persian (a
    zero-width non-joiner) and a soft hyphen were escaped too; only what can drive or reorder
    the terminal is."""
    from curvecast.cli._common import shown

    for text in ("team \U0001f468\u200d\U0001f469\u200d\U0001f467 run", "می\u200cخواهم",
                 "soft\xadhyphen", "café 東京 🚀", "two\nlines\tand a tab"):
        assert str(shown(text)) == text
    assert str(shown("a\x1b[2Jb")) == "a\\x1b[2Jb"
    assert str(shown("x\u202ey")) == "x\\u202ey"
    assert str(shown("[red]no markup[/]")) == "[red]no markup[/]"


def test_runs_stopped_early_on_a_long_axis_are_not_taken_for_a_sparse_table(
        tmp_path: Path) -> None:
    """A review of stop 30's size check: an ASHA experiment (10,000 trials, most stopped after 1
    of 5000 iterations) was refused as "under 1 % observed"; the share is now taken of the cells
    up to each run's last epoch."""
    rows = [f"c{i},1,0.5\n" for i in range(9000)] + [f"long,{e},0.6\n" for e in range(1, 6001)]
    table = tmp_path / "asha.csv"
    table.write_text("config_id,epoch,value\n" + "".join(rows))
    code, stderr = run("data", "import", "long", table, "--metric", "acc", "--direction",
                       "maximize", "--out", tmp_path / "a.parquet")
    assert code == 0, stderr


def test_an_anytime_record_without_its_fields_is_named(tmp_path: Path) -> None:
    """A user's review (stop 30): a result whose ``anytime`` entries lacked ``fraction`` ended
    in "error: fraction"."""
    import json

    result = json.loads((Path(__file__).resolve().parents[1] / "docs" / "results" / "speedup"
                         / "metaqnn_cifar10-random.json").read_text())
    result["anytime"] = [{"searcher": "random"}]
    path = tmp_path / "any.json"
    path.write_text(json.dumps(result))
    code, stderr = run("report", path, "--out", tmp_path / "r.html")
    assert code == 2 and "anytime[0] of the result lacks ['stopper', 'fraction'" in stderr, stderr


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail the test (not hang it) when the block runs longer than ``seconds``."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _ray_trial(folder: Path, trial_id: str, lr: float) -> None:
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(f'{{"lr": {lr}}}')
    (folder / "result.json").write_text("".join(
        f'{{"training_iteration": {e}, "acc": {0.1 * e}, "trial_id": "{trial_id}"}}\n'
        for e in (1, 2)))


@pytest.mark.parametrize("planted", ["outside", "device", "fifo"])
def test_a_ray_trial_file_that_links_outside_or_is_no_regular_file_is_refused(
        tmp_path: Path, planted: str) -> None:
    """A security review (rev8): a ``params.json`` linked to a file outside the experiment was
    read into the CurveSet (a secret's fields became config columns), one linked to
    ``/dev/zero`` read until memory ran out, and a named pipe waited forever."""
    import os

    exp = tmp_path / "exp"
    _ray_trial(exp / "t1", "a", 0.1)
    (exp / "t2").mkdir(parents=True)
    (exp / "t2" / "result.json").write_text('{"training_iteration": 1, "acc": 0.5}\n')
    params = exp / "t2" / "params.json"
    if planted == "outside":
        secret = tmp_path / "creds.json"
        secret.write_text('{"api_key": "SECRET-123"}')
        params.symlink_to(secret)
        fragment = "outside the experiment"
    elif planted == "device":
        params.symlink_to("/dev/zero")
        fragment = "outside the experiment"
    else:
        os.mkfifo(params)
        fragment = "not a regular file"
    with _deadline(20):  # a pipe read would wait forever
        code, err = run("data", "import", "ray", exp, "--metric", "acc", "--direction", "max",
                        "--out", tmp_path / "o.parquet")
    assert code == 2 and fragment in err, err
    assert "SECRET" not in err and not (tmp_path / "o.parquet").exists()


def test_a_link_inside_the_experiment_is_read(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    _ray_trial(exp / "t1", "a", 0.1)
    _ray_trial(exp / "t2", "b", 0.2)
    (exp / "t2" / "params.json").unlink()
    (exp / "t2" / "params.json").symlink_to(exp / "t1" / "params.json")
    code, err = run("data", "import", "ray", exp, "--metric", "acc", "--direction", "max",
                    "--out", tmp_path / "o.parquet")
    assert code == 0, err


@pytest.mark.parametrize("command", [["studies"], ["show", "--study", "n1"],
                                     ["export", "--study", "n1", "--out", "o.parquet"]])
def test_a_study_database_whose_tables_are_views_is_refused_not_run(
        tmp_path: Path, command: list[str]) -> None:
    """A security review (rev8): a file whose ``studies`` is a view over an endless recursive
    query made ``studies``, ``show`` and ``export`` run forever (and spill to temporary
    files)."""
    path = tmp_path / "v.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE VIEW studies AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c)
              SELECT x AS id, 'n'||x AS name, 'acc' AS metric, 'maximize' AS direction,
                     '{}' AS settings, 0.0 AS created FROM c;
            CREATE TABLE trials (id INTEGER PRIMARY KEY, study_id INTEGER, number INTEGER,
                config TEXT, state TEXT, worker TEXT, predicted_value REAL, test_value REAL,
                created REAL, updated REAL, heartbeat REAL);
            PRAGMA user_version=1;""")
    args = [a if a != "o.parquet" else str(tmp_path / a) for a in command]
    with _deadline(20):
        code, err = run(*args, "--storage", f"sqlite:///{path}")
    assert code == 2 and "not a curvecast study database" in err, err


def test_escape_sequences_in_an_imported_table_never_reach_the_terminal(tmp_path: Path) -> None:
    """A security review: stop 30's escaping covered ``show``, ``studies`` and ``data summary``;
    an import's notes (a config column named ``h\\x1b]0;PWNED…``) and the warnings matplotlib
    gives for a figure of such a metric (``Glyph 27 (\\x1b) missing from font``) still wrote
    the escape sequences to the terminal as they were."""
    import numpy as np
    import pandas as pd

    from curvecast import CurveSet, Direction

    hostile = "h\x1b]0;PWNED\x07\x1b[2J"
    rng = np.random.default_rng(0)
    values = np.cumsum(rng.random((12, 4)), axis=1)
    table = pd.DataFrame({"config_id": [f"c{i}" for i in range(12)], hostile: rng.random(12),
                          **{f"acc_{e}": values[:, e - 1] for e in range(1, 5)}})
    table.to_csv(tmp_path / "w.csv", index=False)
    curves = CurveSet(values=values, observed=np.ones((12, 4), bool), epochs=np.arange(1, 5),
                      metric=hostile, direction=Direction.MAXIMIZE,
                      configs=pd.DataFrame(index=[f"c{i}" for i in range(12)]))
    parquet = curves.save(tmp_path / "esc.parquet")
    for args in (("data", "import", "table", tmp_path / "w.csv", "--curves", r"acc_(\d+)",
                  "--metric", "acc", "--direction", "maximize", "--out", tmp_path / "w.parquet"),
                 ("data", "plot", parquet, "--out", tmp_path / "p.png")):
        result = CliRunner().invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.stderr
        said = result.stdout + result.stderr
        assert "\x1b" not in said, (args, said)
        if args[1] == "import":
            assert "config columns (features of every predictor): h\\x1b]0;PWNED" in said


def test_the_console_escapes_what_it_prints_whatever_the_caller_passed() -> None:
    """The command line's consoles write control characters as escapes in every string they
    print (a caller that forgot :func:`~curvecast.cli._common.shown` cannot let a file drive
    the terminal); rich markup of curvecast's own, as in ``error:``, still styles."""
    import io

    from rich.table import Table

    from curvecast.report.terminal import UnwrappedConsole

    out = io.StringIO()
    console = UnwrappedConsole(file=out, force_terminal=True, color_system="standard")
    console.print("note: columns a\x1b[2Jb", highlight=False)
    table = Table("name", title="t\x1b]0;x\x07")
    table.add_row("r\x1b[31m")
    console.print(table)
    console.print("[bold red]error:[/] x", markup=True)
    text = out.getvalue()
    assert "a\\x1b[2Jb" in text and "r\\x1b[31m" in text and "t\\x1b]0;x\\x07" in text
    assert "\x1b[2J" not in text and "\x1b]0" not in text and "\x1b[31m" not in text
    assert "\x1b[1;31merror:" in text  # the style of the markup, not the escape of a name


def _rows_bomb(path: Path, rows: int) -> Path:
    """A curvecast Parquet file of one config and two epochs whose long table repeats its first
    row ``rows`` times: a few KB on disk (run-length encoded), ``rows`` rows when read."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curvecast import CurveSet, Direction

    good = CurveSet(values=np.ones((1, 2)), observed=np.ones((1, 2), bool),
                    epochs=np.arange(1, 3), metric="acc", direction=Direction.MAXIMIZE,
                    configs=pd.DataFrame(index=["a"])).save(path.with_name("good.parquet"))
    table = pq.read_table(good)
    table = table.take(pa.array(np.zeros(rows, dtype=np.int64)))
    pq.write_table(table, path, compression="zstd")
    return path


def test_a_small_curve_file_that_declares_a_huge_long_table_is_refused_before_it_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A security review: a 414 KB curvecast Parquet file whose long table repeats one row 3e7
    times (run-length encoding keeps it small) took 3.2 GB and 28 s before its duplicates were
    refused; a 3 MB one exhausts 23 GB.  The rows the file declares are checked against its own
    configs x epochs, and against the machine's memory, before the table is decoded."""
    import pyarrow.parquet as pq

    from curvecast import CurveSet
    from curvecast.curves import CurveSetFormatError
    from curvecast.curves import parquet as parquet_module

    bomb = _rows_bomb(tmp_path / "bomb.parquet", 1000)
    assert bomb.stat().st_size < 20_000
    decoded: list[Any] = []
    real_read = pq.ParquetFile.read
    real_read_table = pq.read_table

    def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        decoded.append(self)
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read", read)
    with pytest.raises(CurveSetFormatError, match=r"bomb.parquet: its curve table has 1000 rows, "
                                                  r"more than its 1 config\(s\) x 2 epochs"):
        CurveSet.load(bomb)
    assert decoded == []
    code, stderr = run("data", "summary", bomb)
    assert code == 2 and "has 1000 rows" in stderr, stderr
    # a file whose rows fit its table, but not this machine's memory, is refused as well
    monkeypatch.setattr(parquet_module, "machine_memory", lambda: 150)
    with pytest.raises(CurveSetFormatError, match=r"good.parquet: its curve table has 2 rows, "
                                                  r"too many to read in this machine's memory"):
        CurveSet.load(tmp_path / "good.parquet")
    assert decoded == []
    # and one whose few rows decode to more than half of it (a config id of 5e6 letters,
    # 5 KB compressed)
    import pyarrow as pa

    table = real_read_table(tmp_path / "good.parquet")
    long = table.set_column(0, "config_id", pa.array(["a" * 5_000_000] * 2))
    pq.write_table(long, tmp_path / "long_id.parquet", compression="zstd")
    assert (tmp_path / "long_id.parquet").stat().st_size < 20_000
    monkeypatch.setattr(parquet_module, "machine_memory", lambda: 2**23)
    with pytest.raises(CurveSetFormatError, match=r"long_id.parquet: its curve table takes "
                                                  r"0.00\d+ GiB decoded, more than half"):
        CurveSet.load(tmp_path / "long_id.parquet")
    assert decoded == []
    monkeypatch.setattr(parquet_module, "machine_memory", lambda: 0)  # unknown: not refused
    assert CurveSet.load(tmp_path / "good.parquet").n_configs == 1


def test_a_small_wide_parquet_table_that_decodes_to_more_than_memory_is_refused_unread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same review, for `data import table` of a Parquet file: one row repeated 10^5 times
    is a few KB on disk; the rows x columns it declares are checked against the machine's
    memory before the table is decoded."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curvecast.curves import parquet as parquet_module

    row = pa.table({"config_id": ["a"], "lr": [0.1], **{f"acc_{e}": [0.5] for e in (1, 2, 3)}})
    pq.write_table(row.take(pa.array(np.zeros(100_000, dtype=np.int64))),
                   tmp_path / "wide.parquet", compression="zstd")
    assert (tmp_path / "wide.parquet").stat().st_size < 20_000
    decoded: list[object] = []
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: decoded.append(a) or pytest.fail(
        "the table was decoded"))
    monkeypatch.setattr(parquet_module, "machine_memory", lambda: 2**21)  # 2 MiB
    code, stderr = run("data", "import", "table", tmp_path / "wide.parquet", "--curves",
                       r"acc_(\d+)", "--metric", "acc", "--direction", "maximize", "--out",
                       tmp_path / "w.parquet")
    assert code == 2, stderr
    assert "wide.parquet: its table has 100000 rows x 5 columns" in stderr, stderr
    assert "more than half this machine's memory" in stderr and decoded == []


@pytest.mark.parametrize("command", [["studies"], ["show", "--study", "base"],
                                     ["report", "--study", "base", "--out", "r.html"]])
def test_a_study_database_with_a_generated_column_is_refused_not_read(
        study: Path, tmp_path: Path, command: list[str]) -> None:
    """A security review: a 40 KB study database whose ``trials.config`` is a generated column
    (``printf('%.*c', 300000000, 'x')``, computed on every read) took 1.1 GB to ``show`` three
    trials, and a few more rows exhaust the machine; curvecast makes no generated column, so a
    database with one is refused before it is read, as one with a view is."""
    with sqlite3.connect(study) as db:
        db.executescript("""
            ALTER TABLE trials RENAME TO t_old;
            CREATE TABLE trials (
                id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id),
                number INTEGER NOT NULL, cfg TEXT,
                config TEXT GENERATED ALWAYS AS (printf('%.*c', 1000, 'x')) VIRTUAL,
                state TEXT NOT NULL, worker TEXT, predicted_value REAL, test_value REAL,
                created REAL NOT NULL, updated REAL NOT NULL, heartbeat REAL,
                UNIQUE (study_id, number));
            INSERT INTO trials (id, study_id, number, cfg, state, worker, predicted_value,
                                test_value, created, updated, heartbeat)
              SELECT id, study_id, number, config, state, worker, predicted_value, test_value,
                     created, updated, heartbeat FROM t_old;
            DROP TABLE t_old;""")
    db.close()
    args = [a if a != "r.html" else str(tmp_path / a) for a in command]
    code, err = run(*args, "--storage", f"sqlite:///{study}")
    assert code == 2, err
    assert "not a curvecast study database (it holds a generated column, 'trials.config'" in err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("epochs", ["[1]", '"abc"', "1e308", "true", "0", "-3"])
@pytest.mark.parametrize("command", ["show", "report"])
def test_a_study_whose_epochs_are_no_whole_number_is_one_error_line(
        study: Path, tmp_path: Path, epochs: str, command: str) -> None:
    """A security review: settings.epochs of ``[1]`` made ``show`` and ``report`` end in a
    TypeError traceback, and ``1e308`` drew a report with a float budget; each is named.  Its
    review: -3 got through (``show`` printed "9 of -9 epochs ... speedup -1.00x")."""
    with sqlite3.connect(study) as db:
        db.execute(f"UPDATE studies SET settings = json_set(settings, '$.epochs', json('{epochs}'))")
    db.close()
    extra = ["--out", str(tmp_path / "r.html")] if command == "report" else []
    code, stderr = run(command, "--study", "base", "--storage", f"sqlite:///{study}", *extra)
    assert code == 2, stderr
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert "study 'base': its epochs are " in stderr and "not a whole number" in stderr, stderr
    assert not (tmp_path / "r.html").exists()


def _forge_virtual_table(path: Path, sql: str) -> None:
    """Add an FTS5 virtual table to the database ``path``, its schema text then rewritten to
    ``sql`` (SQLite parses it on every open; a forged file needs no curvecast to make it)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE VIRTUAL TABLE notes USING fts5(body)")
        db.execute("PRAGMA writable_schema = ON")
        db.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'notes'", (sql,))
    db.close()


@pytest.mark.parametrize("sql", ["CREATE VIRTUAL TABLE notes USING fts5(body)",
                                 "create   virtual table notes using fts5(body)"])
def test_a_study_database_with_a_virtual_table_is_refused_however_its_sql_is_spelled(
        study: Path, sql: str) -> None:
    """A review of the security review: a virtual table was found by its schema text starting
    ``CREATE VIRTUAL``, which a forged file spells otherwise (SQLite reads it all the same);
    a virtual table is the only table without a root page."""
    _forge_virtual_table(study, sql)
    code, err = run("show", "--study", "base", "--storage", f"sqlite:///{study}")
    assert code == 2, err
    assert "not a curvecast study database (it holds a virtual table, 'notes'" in err, err


def test_a_study_without_epochs_in_its_settings_is_still_read(study: Path) -> None:
    """A study made elsewhere (or by an older curvecast) with no epochs, or null, is read."""
    for settings in ("{}", '{"epochs": null}'):
        with sqlite3.connect(study) as db:
            db.execute("UPDATE studies SET settings = ?", (settings,))
        db.close()
        code, err = run("show", "--study", "base", "--storage", f"sqlite:///{study}")
        assert code == 0, err
