"""Issue 13, item 4: the commands that only read open the study database read-only."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curvecast import CurveSet
from curvecast.cli import app
from curvecast.stopping import Action, Decision
from curvecast.store import Store, TrialState


def make_study(db: Path) -> None:
    with Store(db) as store:
        store.create_study("s", metric="val_accuracy", direction="maximize",
                           settings={"epochs": 2})
        for number, values in enumerate([[0.5, 0.75], [0.25]]):
            store.add_trial("s", {"lr": 0.1 * (number + 1)})
            for epoch, value in enumerate(values, 1):
                store.record_value("s", number, epoch, value, 0.5)
        store.record_decision("s", 1, Decision(Action.STOP, 1, 0.3, 0.05, 0.995, "P = 0.995"))
        store.set_state("s", 0, TrialState.COMPLETE)
        store.set_state("s", 1, TrialState.STOPPED, predicted_value=0.3)


def read_commands(db: Path, out: Path) -> list[list[str]]:
    url = f"sqlite:///{db}"
    return [["studies", "--storage", url], ["show", "--storage", url, "--study", "s", "--json"],
            ["export", "--storage", url, "--study", "s", "--out", str(out)]]


def test_reading_commands_take_no_write_lock(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    make_study(db)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a search holds the write lock: readers must not wait
    try:
        for args in read_commands(db, tmp_path / "e.parquet"):
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 0, result.stderr
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    shown = json.loads(CliRunner().invoke(app, read_commands(db, tmp_path)[1]).stdout)
    assert [len(t["values"]) for t in shown["trials"]] == [2, 1]
    from curvecast.store import StoreWriteError

    with Store(db, read_only=True) as store, pytest.raises(StoreWriteError, match="read-only"):
        store.add_trial("s", {"lr": 1.0})


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="file permissions do not bind root")
def test_a_database_the_user_cannot_write_can_be_inspected(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    make_study(archive / "s.db")
    for extra in archive.glob("s.db-*"):
        extra.unlink()
    (archive / "s.db").chmod(stat.S_IRUSR)
    archive.chmod(stat.S_IRUSR | stat.S_IXUSR)  # nor its folder: no -shm file can be made
    try:
        for args in read_commands(archive / "s.db", tmp_path / "e.parquet"):
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 0, result.stderr
    finally:
        archive.chmod(stat.S_IRWXU)
        shutil.rmtree(archive)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="root mounts the folder read-only in a private mount namespace")
def on_read_only_mount(folder: Path, commands: list[list[str]]
                       ) -> subprocess.CompletedProcess[str]:
    """``curvecast COMMAND`` for each of ``commands``, with ``folder`` bind-mounted read-only
    (inside ``unshare -m``, so nothing outside sees the mount); the test is skipped only when
    the machine cannot make the mount, and fails when a command does (its exit 51, 52, …)."""
    cli = f"{shlex.quote(sys.executable)} -m curvecast.cli"
    where = shlex.quote(str(folder))
    script = (f"mount --bind -o ro {where} {where} || exit 99; "
              f"touch {shlex.quote(str(folder / 'x'))} 2>/dev/null && exit 98; "
              + "; ".join(f"{cli} {shlex.join(c)} || exit {51 + i}"
                          for i, c in enumerate(commands)))
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode == 99 or (proc.returncode == 1 and proc.stderr.startswith("unshare:")):
        pytest.skip(f"no private read-only mount here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr
    return proc


def test_a_database_on_a_read_only_file_system_can_be_inspected(tmp_path: Path) -> None:
    """What file permissions cannot show to root: the folder bind-mounted read-only (inside
    ``unshare -m``, so nothing outside the test sees the mount)."""
    archive = tmp_path / "archive"
    archive.mkdir()
    make_study(archive / "s.db")
    for extra in archive.glob("s.db-*"):
        extra.unlink()
    proc = on_read_only_mount(archive, [["studies", "--storage", f"sqlite:///{archive / 's.db'}"],
                                        ["show", "--study", "s", "--json", "--storage",
                                         f"sqlite:///{archive / 's.db'}"]])
    assert "val_accuracy" in proc.stdout and '"predicted_value": 0.3' in proc.stdout
    assert sorted(p.name for p in archive.iterdir()) == ["s.db"]


def test_a_file_that_is_not_a_study_database(tmp_path: Path) -> None:
    bad = tmp_path / "x.db"
    bad.write_text("hello")
    result = CliRunner().invoke(app, ["studies", "--storage", f"sqlite:///{bad}"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "not a curvecast study database" in result.stderr
    assert bad.read_text() == "hello"


def test_a_folder_or_an_unwritable_folder_as_storage_is_named_so(tmp_path: Path) -> None:
    """A review of stop 33: ``--storage sqlite:///somefolder`` and a database to be made in a
    folder that cannot be written were both called "not a curvecast study database"."""
    folder = tmp_path / "runs"
    folder.mkdir()
    for argv in (["studies", "--storage", f"sqlite:///{folder}"],
                 ["search", "--workload", "digits-metaqnn", "--trials", "1", "--epochs", "1",
                  "--storage", f"sqlite:///{folder}"]):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 2, result.output
        assert f"error: {folder}: is a folder; give the path of a study database" in result.stderr
    if Path("/proc/self").is_dir():  # a folder no file can be made in, even by root
        with pytest.raises(OSError, match=r"cannot create the study database in folder '/proc'"):
            Store("/proc/curvecast-test.db")


def test_a_decision_curvecast_does_not_record_is_a_clear_error(tmp_path: Path) -> None:
    """Decisions are stored as the ``Action`` enum's values; a database holding another value
    (written by something else) is refused with a message, not a stack trace."""
    db = tmp_path / "s.db"
    make_study(db)
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE decisions SET action = 'abandon'")
    result = CliRunner().invoke(app, ["show", "--storage", f"sqlite:///{db}", "--study", "s"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "trial 1 has a decision 'abandon', not one curvecast records" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_an_sqlite_file_of_something_else_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """A user's review (stop 29): given an SQLite file of another program (a ``notes`` table),
    a search added curvecast's five tables to it and switched it to the WAL journal for good."""
    db = tmp_path / "notes.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    before = db.read_bytes()
    with pytest.raises(ValueError, match=r"an SQLite database of something else \(tables: "
                                         r"notes\), not a curvecast study database"):
        Store(db)
    assert db.read_bytes() == before
    result = CliRunner().invoke(app, ["studies", "--storage", f"sqlite:///{db}"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_a_database_of_a_newer_curvecast_is_refused_by_its_schema_version(tmp_path: Path) -> None:
    """The schema's version is kept in ``PRAGMA user_version``: a file of an older curvecast
    (version 0) is migrated on open; one a newer curvecast wrote is refused, to write and to
    read, instead of failing mid-search on a constraint it does not know."""
    from curvecast.store import SCHEMA_VERSION

    db = tmp_path / "s.db"
    make_study(db)
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        con.execute("PRAGMA user_version = 0")  # as an older curvecast left it
    Store(db).close()
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    for read_only in (False, True):
        with pytest.raises(ValueError, match=r"written by a newer curvecast \(database schema "
                                             rf"{SCHEMA_VERSION + 1}"):
            Store(db, read_only=read_only)


def test_a_database_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    """A read-only database (or a full disk under it) failed a search with a traceback from
    sqlite3; now a StoreWriteError (an OSError) names the file and the cause, and nothing is
    half-written.  (``PRAGMA query_only`` makes SQLite refuse writes as a read-only file does;
    the tests run as root, for whom file modes do not.)"""
    from curvecast.store import StoreWriteError

    db = tmp_path / "s.db"
    make_study(db)
    with Store(db) as store:
        n = len(store.trials("s"))
        store._db.execute("PRAGMA query_only = 1")
        with pytest.raises(StoreWriteError, match=r"s\.db: cannot write the study database: the "
                                                  r"file or its folder is read-only"):
            store.add_trial("s", {"x": 1})
        store._db.execute("PRAGMA query_only = 0")
        assert len(store.trials("s")) == n


def test_export_says_which_trials_are_partial_curves(tmp_path: Path) -> None:
    """A user's review (stop 29): a failed trial's recorded epochs were exported as a partial
    curve without a word, while the Optuna importer leaves failed trials out."""
    db = tmp_path / "s.db"
    make_study(db)
    with Store(db) as store:
        store.add_trial("s", {"lr": 0.5})
        store.record_value("s", 2, 1, 0.6, 0.5)
        store.set_state("s", 2, TrialState.FAILED)
    result = CliRunner().invoke(app, ["export", "--storage", f"sqlite:///{db}", "--study", "s",
                                      "--out", str(tmp_path / "e.parquet")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "note: 1 failed, 1 stopped: partial curves, up to their last recorded epoch" in said
    assert "a failed trial's epochs are kept" in said and "leaves failed" not in said


def test_export_names_the_trials_it_leaves_out_for_having_no_value(tmp_path: Path) -> None:
    """A user's review (stop 34): a trial that failed before its first epoch was dropped
    without a word (``1 trials x 4 epochs``, ``note: 1 failed``)."""
    db = tmp_path / "s.db"
    make_study(db)
    with Store(db) as store:
        store.add_trial("s", {"lr": 0.5})
        store.set_state("s", 2, TrialState.FAILED)
        store.add_trial("s", {"lr": 0.7})  # pending: not started
    out = tmp_path / "e.parquet"
    result = CliRunner().invoke(app, ["export", "--storage", f"sqlite:///{db}", "--study", "s",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "note: 2 trials left out: no value recorded (t2 failed, t3 pending)" in said
    assert CurveSet.load(out).provenance["without_values"] == {"t2": "failed", "t3": "pending"}


def test_an_export_of_a_metaqnn_search_replays_with_the_metaqnn_searcher(tmp_path: Path) -> None:
    """A review of stop 33: the export of a digits-metaqnn search held only the sampled
    parameters, so ``simulate --searcher metaqnn`` on it failed ("cannot tell the input size
    from the config table"), while a `collect` recording of the same workload worked.  The
    export adds the columns the workload describes each config by."""
    import numpy as np

    from curvecast import CurveSet, registry

    workload = registry.WORKLOADS["digits-metaqnn"]()
    rng = np.random.default_rng(0)
    db = tmp_path / "m.db"
    with Store(db) as store:
        store.create_study("m", metric="val_accuracy", direction="maximize",
                           settings={"workload": "digits-metaqnn", "epochs": 2})
        for number in range(12):
            store.add_trial("m", workload.space.sample(rng))
            for epoch in (1, 2):
                store.record_value("m", number, epoch, 0.5 + 0.01 * number + 0.1 * epoch)
            store.set_state("m", number, TrialState.COMPLETE)
    out = tmp_path / "m.parquet"
    result = CliRunner().invoke(app, ["export", "--storage", f"sqlite:///{db}", "--study", "m",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    configs = CurveSet.load(out).configs
    assert {"net", "n_params", "n_layers", "final_size"} <= set(configs.columns)
    assert configs["n_params"].gt(0).all()
    result = CliRunner().invoke(app, ["simulate", str(out), "--searcher", "metaqnn",
                                      "--stopper", "never", "--orderings", "1"])
    assert result.exit_code == 0, result.output


def test_export_calls_an_interrupted_trial_interrupted(tmp_path: Path) -> None:
    """A user's review (stop 31): a trial whose process was killed, listed as "interrupted" by
    `show` and `studies`, was "running" in `export`'s note and provenance."""
    db = tmp_path / "s.db"
    make_study(db)
    with Store(db) as store:
        import socket

        gone = f"{socket.gethostname()}:{2**22 + 17}:dead"  # a pid above Linux's maximum
        store.add_trial("s", {"lr": 0.5}, state=TrialState.RUNNING, worker=gone)
        store.record_value("s", 2, 1, 0.6, 0.5)
        assert store.trials("s")[2].shown_state == "interrupted"
    result = CliRunner().invoke(app, ["export", "--storage", f"sqlite:///{db}", "--study", "s",
                                      "--out", str(tmp_path / "e.parquet")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "1 interrupted" in said and "running" not in said


@pytest.mark.parametrize("checkpoint", [2, -1])  # -1: never checkpointed, the tables in the log
def test_a_read_only_copy_with_its_write_ahead_log_shows_every_trial(tmp_path: Path,
                                                                    checkpoint: int) -> None:
    """A review (stop 32): in a read-only folder the database was opened ``immutable=1``,
    which ignores the ``-wal`` file, so the trials recorded since the last checkpoint (a search
    killed, a copy taken with its log) were silently missing from `studies` and `export`."""
    archive = tmp_path / "archive"
    archive.mkdir()
    writer = (
        "import os, sqlite3, sys\n"
        "from curvecast.store import Store, TrialState\n"
        "store = Store(sys.argv[1])\n"
        "store.create_study('s', metric='acc', direction='maximize', settings={})\n"
        "for n in range(8):\n"
        "    store.add_trial('s', {'lr': n})\n"
        "    store.record_value('s', n, 1, 0.1 * n, 0.5)\n"
        "    store.set_state('s', n, TrialState.COMPLETE)\n"
        f"    if n == {checkpoint}:\n"
        "        sqlite3.connect(sys.argv[1]).execute('PRAGMA wal_checkpoint(TRUNCATE)')\n"
        "os._exit(0)  # as kill -9: no checkpoint at close\n")
    subprocess.run([sys.executable, "-c", writer, str(archive / "w.db")], check=True, timeout=60)
    assert (archive / "w.db-wal").stat().st_size > 0
    (archive / "w.db-shm").unlink(missing_ok=True)  # the copy as a colleague hands it over
    proc = on_read_only_mount(archive, [["show", "--study", "s", "--json", "--storage",
                                         f"sqlite:///{archive / 'w.db'}"]])
    assert len(json.loads(proc.stdout)["trials"]) == 8


def test_a_database_of_an_older_curvecast_is_read_without_migrating_the_file(
        tmp_path: Path) -> None:
    """Schema 0 (before trials had a heartbeat) is migrated by a search; the reading commands
    called it damaged.  They now read it, and leave the file as it was."""
    db = tmp_path / "old.db"
    make_study(db)
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute("ALTER TABLE trials DROP COLUMN heartbeat")
        con.execute("PRAGMA user_version=0")
    before = db.read_bytes()
    for command in read_commands(db, tmp_path / "e.parquet"):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, result.output
    assert '"predicted_value": 0.3' in CliRunner().invoke(app, read_commands(db, db)[1]).stdout
    assert db.read_bytes() == before


@pytest.mark.parametrize("name", ["copy.db", "runs.sqlite", "no-suffix"])
def test_export_never_writes_over_a_study_database(tmp_path: Path, name: str) -> None:
    db, other = tmp_path / "s.db", tmp_path / name
    make_study(db)
    make_study(other)
    before = other.read_bytes()
    result = CliRunner().invoke(app, ["export", "--storage", f"sqlite:///{db}", "--study", "s",
                                      "--out", str(other)])
    assert result.exit_code == 2
    assert "SQLite database" in result.output or "Parquet" in result.output
    assert other.read_bytes() == before


def test_a_database_another_process_holds_locked_is_called_locked_not_damaged(
        tmp_path: Path) -> None:
    """A review (stop 34): a study database held in an open write transaction by another
    program was called "not a curvecast study database" when opened, and "damaged" when the
    lock came mid-run; a user could have deleted a healthy study."""
    import sqlite3

    db = tmp_path / "s.db"
    make_study(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ValueError, match=r"s\.db: locked by another process .* the study "
                                             r"is intact; rerun the same command"):
            Store(db, timeout=0.1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Store(db) as store:  # released: as it was
        assert store.count_trials("s") == 2


#: The tables of the first curvecast store (commit a927c57), as it created them: its trials had
#: neither ``test_value`` (added with ``curvecast search``) nor ``heartbeat``.
_FIRST_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, metric TEXT NOT NULL,
    direction TEXT NOT NULL, settings TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL, worker TEXT,
    predicted_value REAL, created REAL NOT NULL, updated REAL NOT NULL,
    UNIQUE (study_id, number));
CREATE TABLE IF NOT EXISTS observations (
    trial_id INTEGER NOT NULL REFERENCES trials(id), epoch INTEGER NOT NULL,
    value REAL, seconds REAL, PRIMARY KEY (trial_id, epoch));
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY, trial_id INTEGER NOT NULL REFERENCES trials(id),
    epoch INTEGER NOT NULL, action TEXT NOT NULL, mean REAL, std REAL, probability REAL,
    reason TEXT, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS study_state (
    study_id INTEGER NOT NULL REFERENCES studies(id), key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (study_id, key));
"""


def make_first_schema_study(db: Path) -> None:
    """The study of :func:`make_study` as the first curvecast store wrote it."""
    with sqlite3.connect(db) as con:
        con.executescript(_FIRST_SCHEMA)
        con.execute("INSERT INTO studies VALUES (1, 's', 'val_accuracy', 'maximize', "
                    "'{\"epochs\": 2}', 1.0)")
        con.execute("INSERT INTO trials VALUES (1, 1, 0, '{\"lr\": 0.1}', 'complete', NULL, "
                    "NULL, 1.0, 2.0)")
        con.execute("INSERT INTO trials VALUES (2, 1, 1, '{\"lr\": 0.2}', 'stopped', NULL, "
                    "0.3, 1.0, 2.0)")
        con.executemany("INSERT INTO observations VALUES (?, ?, ?, 0.5)",
                        [(1, 1, 0.5), (1, 2, 0.75), (2, 1, 0.25)])
        con.execute("INSERT INTO decisions VALUES (1, 2, 1, 'stop', 0.3, 0.05, 0.995, "
                    "'P = 0.995', 2.0)")


def test_a_database_of_the_first_curvecast_store_is_read_and_migrated(tmp_path: Path) -> None:
    """A review: a database of the first store (no ``trials.test_value`` nor ``heartbeat``)
    failed show, export and report with "no such column: test_value", read-only and even
    after a writer had opened it, as the upgrade added only ``heartbeat``.  The reading
    commands read it and leave the file as it was; a writer adds every missing column."""
    db = tmp_path / "first.db"
    make_first_schema_study(db)
    before = db.read_bytes()
    for command in [*read_commands(db, tmp_path / "e.parquet"),
                    ["report", "--storage", f"sqlite:///{db}", "--study", "s", "--out",
                     str(tmp_path / "r.html")]]:
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, (command, result.output)
    shown = json.loads(CliRunner().invoke(app, read_commands(db, db)[1]).stdout)
    assert [t["state"] for t in shown["trials"]] == ["complete", "stopped"]
    assert '"predicted_value": 0.3' in json.dumps(shown)
    assert db.read_bytes() == before
    Store(db).close()  # a writer brings the file up to the current schema
    with sqlite3.connect(db) as con:
        columns = {row[1] for row in con.execute("PRAGMA table_info(trials)")}
    assert {"test_value", "heartbeat"} <= columns
    with Store(db, read_only=True) as store:
        assert [t.test_value for t in store.trials("s")] == [None, None]
    result = CliRunner().invoke(app, read_commands(db, tmp_path / "e2.parquet")[2])
    assert result.exit_code == 0, result.output
