"""Files changed by another program, or made to break a reader: each is one ``error:`` line and
exit code 2, never a traceback (a user's review, stop 30, found 15 tracebacks)."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

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
