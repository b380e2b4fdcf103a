"""The SQLite study store: durable records, resume state, export, two processes on one file."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from curvecast import Direction
from curvecast.stopping import Action, Decision
from curvecast.store import Store, TrialState, parse_storage


def test_trials_values_decisions_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    with Store(url) as store:
        store.create_study("a", metric="val_accuracy", direction="maximize", settings={"T": 3})
        n0 = store.add_trial("a", {"lr": 0.1, "net": "[C(8,3,1), SM(10)]"})
        n1 = store.add_trial("a", {"lr": 1.0})
        assert (n0, n1) == (0, 1)
        for epoch, value in enumerate([0.2, 0.5, 0.7], start=1):
            store.record_value("a", n0, epoch, value, seconds=0.5)
        store.record_value("a", n0, 3, 0.99)  # a resumed worker repeating an epoch: ignored
        store.set_state("a", n0, TrialState.COMPLETE)
        store.record_value("a", n1, 1, math.nan)
        store.record_value("a", n1, 2, math.inf)
        store.record_decision("a", n1, Decision(Action.STOP, 2, 0.1, 0.02, 0.999, "hopeless"))
        store.set_state("a", n1, TrialState.STOPPED, predicted_value=0.1)
    with Store(url) as store:  # a new connection sees everything
        t0, t1 = store.trials("a")
        assert t0.values == [(1, 0.2, 0.5), (2, 0.5, 0.5), (3, 0.7, 0.5)]
        assert t0.state is TrialState.COMPLETE and t0.config["net"] == "[C(8,3,1), SM(10)]"
        assert math.isnan(t1.values[0][1]) and t1.values[1][1] == math.inf
        assert t1.state is TrialState.STOPPED and t1.predicted_value == 0.1
        assert t1.decisions == [Decision(Action.STOP, 2, 0.1, 0.02, 0.999, "hopeless")]
        assert store.study_info("a")["trials"] == {"complete": 1, "stopped": 1}


def test_export_to_curveset(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.create_study("lm", metric="val_perplexity", direction=Direction.MINIMIZE)
        for lr, curve in ((0.1, [300.0, 200.0, 150.0]), (0.5, [400.0, math.inf])):
            n = store.add_trial("lm", {"lr": lr})
            for epoch, value in enumerate(curve, start=1):
                store.record_value("lm", n, epoch, value)
        cs = store.to_curveset("lm")
    assert cs.direction is Direction.MINIMIZE and cs.config_ids == ["t0", "t1"]
    assert cs.observed.tolist() == [[True, True, True], [True, True, False]]
    assert cs.diverged().tolist() == [[False, False, False], [False, True, False]]
    np.testing.assert_allclose(cs.configs["lr"], [0.1, 0.5])


def test_study_state_for_resume(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.create_study("q", metric="acc", direction="max")
        assert store.get_study_state("q", "qtable", {}) == {}
        store.set_study_state("q", "qtable", {"s0": {"a": 0.5}})
        store.set_study_state("q", "qtable", {"s0": {"a": 0.6}})
        assert store.get_study_state("q", "qtable") == {"s0": {"a": 0.6}}


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.create_study("a", metric="acc", direction="max")
        with pytest.raises(ValueError, match="records acc"):
            store.create_study("a", metric="loss", direction="min")
        with pytest.raises(KeyError, match=r"no study 'b'.*'a'"):
            store.trials("b")
        with pytest.raises(KeyError, match="no trial 7"):
            store.record_value("a", 7, 1, 0.5)
    with pytest.raises(ValueError, match="only sqlite"):
        parse_storage("postgresql://localhost/db")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Store(tmp_path / "missing" / "s.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ValueError, match="not a curvecast study database"):
        Store(junk)



def test_an_sqlite_url_without_its_slashes_is_said_to_need_them() -> None:
    """A review: ``--storage sqlite:runs/c.db`` (a URL missing its slashes) was read as a path
    and refused with "folder 'sqlite:runs' does not exist"."""
    from typer.testing import CliRunner

    from curvecast.cli import app

    said = ("a storage URL is sqlite:///relative/path.db or sqlite:////absolute/path.db (three "
            "slashes, then the path)")
    for url in ("sqlite:runs/c.db", "sqlite:/runs/c.db", "sqlite://runs/c.db"):
        with pytest.raises(ValueError) as err:
            parse_storage(url)
        assert str(err.value) == f"storage {url!r}: {said}"
    result = CliRunner().invoke(app, ["studies", "--storage", "sqlite:runs/c.db"])
    assert result.exit_code == 2
    assert result.stderr == f"error: storage 'sqlite:runs/c.db': {said}\n"
    assert parse_storage("sqlite:///runs/c.db") == Path("runs/c.db")
    assert parse_storage("sqlite:////abs/c.db") == Path("/abs/c.db")

WORKER = """
import sys
from curvecast.store import Store, TrialState
store = Store(sys.argv[1])
claimed = []
while (n := store.claim_trial("shared", sys.argv[2])) is not None:
    store.record_value("shared", n, 1, float(n))
    store.set_state("shared", n, TrialState.COMPLETE)
    claimed.append(n)
print(",".join(map(str, claimed)))
"""


def test_two_processes_never_claim_the_same_trial(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    with Store(db) as store:
        store.create_study("shared", metric="acc", direction="max")
        for i in range(60):
            store.add_trial("shared", {"i": i})
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(db), f"w{k}"],
                              stdout=subprocess.PIPE, text=True) for k in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    claimed = [int(x) for out in outs for x in out.split(",") if x]
    assert sorted(claimed) == list(range(60))  # every trial once, none twice
    with Store(db) as store:
        trials = store.trials("shared")
        assert {t.state for t in trials} == {TrialState.COMPLETE}
        assert {t.worker for t in trials} <= {"w0", "w1"}


def test_worker_liveness() -> None:
    import socket
    import time

    from curvecast.store import worker_alive, worker_id

    now = time.time()
    me = worker_id()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host = socket.gethostname()
    assert worker_alive(me, now, grace=60, now=now)
    assert not worker_alive(me, now - 61, grace=60, now=now)  # no heartbeat for too long
    assert not worker_alive(me, None, grace=60, now=now)
    assert not worker_alive(f"{host}:{gone}:abcd", now, grace=60, now=now)  # exited
    assert not worker_alive(gone, now, grace=60, now=now)  # a bare pid of an older database
    assert not worker_alive(me.rsplit(":", 1)[0] + ":other", now, grace=60, now=now)  # my pid, reused
    assert worker_alive(f"elsewhere:{gone}:abcd", now, grace=60, now=now)  # judged by heartbeat


def test_claim_takes_over_the_trials_of_dead_workers_only(tmp_path: Path) -> None:
    import socket

    from curvecast.store import worker_id

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with Store(tmp_path / "o.db") as store:
        store.create_study("o", metric="acc", direction="max")
        mine = store.add_trial("o", {"i": 0}, state=TrialState.RUNNING, worker=worker_id())
        dead = store.add_trial("o", {"i": 1}, state=TrialState.RUNNING,
                               worker=f"{socket.gethostname()}:{gone}:abcd")
        assert store.claim_trial("o", "new") is None  # only pending trials without orphans_after
        assert store.claim_trial("o", "new", orphans_after=60) == dead
        assert store.owner("o", dead) == "new" and store.owner("o", mine) == worker_id()
        # nothing left: "new" lives by its fresh heartbeat, this process by its pid
        assert store.claim_trial("o", "other", orphans_after=60) is None
        assert store.heartbeat(worker_id()) == 1


def test_a_new_study_name_may_not_start_or_end_with_white_space(tmp_path: Path) -> None:
    """A user's review (stop 29): "S1", "S1 " and " S1" were three studies that `studies`
    printed alike.  A new study's name may not start or end with white space; one made before
    that rule is still opened."""
    with Store(tmp_path / "s.db") as store:
        store.create_study("S1", metric="m", direction="maximize")
        for name in ("S1 ", " S1", "S1\u00a0"):
            with pytest.raises(ValueError, match="starts or ends with white space"):
                store.create_study(name, metric="m", direction="maximize")
        store._db.execute("INSERT INTO studies (name, metric, direction, settings, created) "
                          "VALUES ('old ', 'm', 'maximize', '{}', 0)")
        assert store.create_study("old ", metric="m", direction="maximize") == \
            store.study_id("old ")
        assert store.study_names() == ["S1", "old "]


def test_a_name_in_another_unicode_composition_names_the_same_study(tmp_path: Path) -> None:
    """A user's review (stop 29): "café" typed as NFC (one ``é``) and as NFD (``e`` + U+0301,
    as macOS gives it) were two studies that look the same in every listing.  Either spelling
    now opens the study the other made, and no second study is created."""
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    with Store(tmp_path / "s.db") as store:
        sid = store.create_study(nfd, metric="m", direction="maximize")
        assert store.create_study(nfc, metric="m", direction="maximize") == sid
        assert store.study_id(nfc) == store.study_id(nfd) == sid
        store.add_trial(nfc, {"x": 1})
        assert [t.number for t in store.trials(nfd)] == [0]
        assert store.study_names() == [nfd]
        with pytest.raises(ValueError, match="already exists"):
            store.create_study(nfc, metric="m", direction="maximize", load_if_exists=False)
        with pytest.raises(KeyError, match="no study"):
            store.study_id("cafe")


def test_trials_are_read_from_one_snapshot_while_a_search_writes(tmp_path: Path) -> None:
    """A review (stop 32): trials, their values and their decisions were three reads; a trial
    added between them made `show` and `export` fail with a bare row id (KeyError)."""
    db = tmp_path / "s.db"
    writer = Store(db)
    writer.create_study("s", metric="acc", direction="maximize", settings={})
    writer.add_trial("s", {"lr": 0.1})
    writer.record_value("s", 0, 1, 0.5, 1.0)
    reader = Store(db, read_only=True)
    connection = reader._db

    class WriteAfterTheTrialsQuery:
        """The reader's connection; a trial is added just after the trials are read."""
        def __getattr__(self, name: str) -> object:
            return getattr(connection, name)

        def execute(self, sql: str, *args: object) -> object:
            cursor = connection.execute(sql, *args)
            if sql.lstrip().startswith("SELECT id, number, config"):
                rows = cursor.fetchall()
                writer.add_trial("s", {"lr": 0.2})
                writer.record_value("s", 1, 1, 0.6, 1.0)
                return iter(rows)
            return cursor

    reader._db = WriteAfterTheTrialsQuery()  # type: ignore[assignment]
    assert [(t.number, t.values) for t in reader.trials("s")] == [(0, [(1, 0.5, 1.0)])]
    reader._db = connection
    assert [t.number for t in reader.trials("s")] == [0, 1]


@pytest.mark.parametrize("name", [":memory:", "file:s.db", "file::memory:"])
def test_a_storage_path_that_sqlite_reads_specially_is_a_file_like_any_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # a review, stop 37: `--storage sqlite:///:memory:` ran a whole search in an in-memory
    # database (nothing recorded, yet "rerun the same command to resume"), and `file:s.db` was
    # written to s.db while every reader (`studies`, `show`, `report`) looked for file:s.db
    monkeypatch.chdir(tmp_path)
    with Store(f"sqlite:///{name}") as store:
        store.create_study("a", metric="val_accuracy", direction="maximize", settings={})
    assert (tmp_path / name).is_file()
    assert not (tmp_path / "s.db").exists()
    with Store(f"sqlite:///{name}") as store:  # written to the file: a rerun finds it
        assert store.study_names() == ["a"]
    with Store(f"sqlite:///{name}", read_only=True) as store:  # and so do the readers
        assert store.study_names() == ["a"]
