"""SQLite persistence of studies: trials, every observed value, every stopping decision.

One database file (standard-library ``sqlite3``, WAL journal) holds any number of studies.  Every
write is its own transaction and is on disk when the call returns, so a study killed at any
moment (``kill -9``) loses nothing it recorded.

Several processes may share one file and one study.  Writes serialise on SQLite's write lock
(``BEGIN IMMEDIATE``); :meth:`Store.transaction` groups several writes into one atomic step.  Each
trial records its owner, a worker id ``host:pid:token`` (:func:`worker_id`), and a heartbeat
timestamp the owner refreshes while it trains (:meth:`Store.heartbeat`).  :meth:`Store.claim_trial`
hands a pending trial — or a RUNNING one whose owner is dead (:func:`worker_alive`) — to exactly
one worker, so two workers never train the same trial.

Tables: ``studies`` (name, metric, direction, settings), ``trials`` (per study: number, config,
state, worker and its heartbeat, predicted value when stopped), ``observations`` (trial, epoch,
value, seconds; a diverged run's NaN/inf is stored as is), ``decisions`` (trial, epoch, action,
predicted mean and std, probability, reason) and ``study_state`` (named JSON blobs a searcher or
scheduler needs to resume, e.g. a Q-table or a Hyperband bracket position).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import socket
import sqlite3
import time
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast.curves import CurveSet, Direction
from curvecast.stopping import Action, Decision

_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, metric TEXT NOT NULL,
    direction TEXT NOT NULL, settings TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL, worker TEXT,
    predicted_value REAL, test_value REAL, created REAL NOT NULL, updated REAL NOT NULL,
    heartbeat REAL, UNIQUE (study_id, number));
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

#: The decision values a study stores (the ``Action`` enum's values).
_ACTIONS = tuple(a.value for a in Action)


class TrialState(StrEnum):
    """Where a trial is in its life."""

    PENDING = "pending"  # proposed, waiting for a worker
    RUNNING = "running"
    PAUSED = "paused"  # stopped for now by a scheduler, may be continued (Hyperband)
    COMPLETE = "complete"
    STOPPED = "stopped"  # stopped early for good; predicted_value holds its prediction
    FAILED = "failed"


@dataclass
class StoredTrial:
    """A trial as stored: its config, state, every value observed so far and every
    :class:`~curvecast.stopping.Decision` recorded about it.

    (The running-trial view a stopper reads is :class:`curvecast.stopping.Trial`.)
    """

    number: int
    config: dict[str, Any]
    state: TrialState
    worker: str | None = None
    predicted_value: float | None = None
    test_value: float | None = None
    values: list[tuple[int, float, float | None]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    @property
    def last_epoch(self) -> int:
        """The last epoch observed (0 when none)."""
        return self.values[-1][0] if self.values else 0


def parse_storage(url: str | os.PathLike[str]) -> Path:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or a plain path → the file's Path.

    Raises:
        ValueError: a URL of another database kind.
    """
    text = os.fspath(url)
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme != "sqlite":
            raise ValueError(f"storage {text!r}: only sqlite:///PATH is supported")
        text = rest[1:] if rest.startswith("/") else rest
    if not text:
        raise ValueError(f"storage {os.fspath(url)!r} names no file")
    return Path(text)


#: The longest study name a store accepts (names are shown in one-line messages and tables).
MAX_STUDY_NAME = 200


def check_study_name(name: str) -> str:
    """Return ``name`` if it can name a study: 1 to :data:`MAX_STUDY_NAME` characters, not only
    white space, no control characters (line breaks would break one-line output).  Any other
    text is fine: a study's files are named by its row id, never by its name.

    Raises:
        ValueError: the name is refused (the message says why).
    """
    if not name.strip():
        raise ValueError("a study name must not be empty")
    if len(name) > MAX_STUDY_NAME:
        raise ValueError(f"a study name has at most {MAX_STUDY_NAME} characters, got {len(name)}")
    bad = next((c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:
        raise ValueError(f"study name {name[:40]!r}: control character {bad!r} not allowed")
    return name


_TOKENS: dict[int, str] = {}  # pid → this process's random token (a forked child makes its own)


def worker_id() -> str:
    """This process's worker id, ``host:pid:token``.

    The random token tells this process apart from an earlier one that had the same pid (a
    restarted container reuses pids), so a trial left RUNNING by that one counts as orphaned.
    """
    pid = os.getpid()
    token = _TOKENS.setdefault(pid, secrets.token_hex(4))
    return f"{socket.gethostname()}:{pid}:{token}"


def _parse_worker(worker: str | None) -> tuple[str | None, int | None]:
    """``host:pid:token`` → (host, pid); a bare pid (older databases) is a pid of this host."""
    if worker is None:
        return None, None
    if worker.isdigit():
        return socket.gethostname(), int(worker)
    parts = worker.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return parts[0], int(parts[1])
    return None, None


def _pid_running(pid: int) -> bool:
    """Whether process ``pid`` of this host exists and is not a zombie (exited, not reaped)."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate it: rely on the heartbeat
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS): it exists
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def worker_alive(worker: str | None, heartbeat: float | None, *, grace: float,
                 now: float | None = None) -> bool:
    """Whether the owner of a RUNNING trial may still be training it.

    Dead when its heartbeat is missing or older than ``grace`` seconds, or — when it ran on this
    host — its pid has exited, or its pid is this process's under another token (an earlier
    process with the same pid).  An owner on another host is judged by its heartbeat alone.

    Args:
        worker: the owner's id (:func:`worker_id`; a bare pid from older databases).
        heartbeat: the owner's last heartbeat (seconds since the epoch).
        grace: seconds without a heartbeat after which an owner counts as dead.
        now: the current time (default: ``time.time()``).
    """
    now = time.time() if now is None else now
    if heartbeat is None or now - heartbeat > grace:
        return False
    host, pid = _parse_worker(worker)
    if host != socket.gethostname() or pid is None:
        return True
    if pid == os.getpid():
        return worker == worker_id()
    return _pid_running(pid)


@dataclass(frozen=True)
class StudyUpdates:
    """What changed in a study since a reader's last look (see :meth:`Store.updates`).

    Attributes:
        new_trials: trials numbered above the reader's last known number (configs, no values).
        states: the state of every trial, by number.
        values: ``(number, epoch, value, seconds)`` of every observation recorded since.
        cursor: pass as ``after_observation`` next time.
    """

    new_trials: list[StoredTrial]
    states: dict[int, TrialState]
    values: list[tuple[int, int, float, float | None]]
    cursor: int


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=lambda o: o.item() if hasattr(o, "item")
                      else str(o))


class Store:
    """A study database (see the module docstring).

    Args:
        storage: ``sqlite:///PATH`` or a path; the file is created when missing, its folder must
            exist.
        timeout: seconds a writer waits for another process's lock before failing.
        read_only: open an existing database for reading only (``show``, ``studies``,
            ``export``, ``report``): nothing is created, migrated or locked, so a file the user
            cannot write (a colleague's copy, an archive) can be inspected.  Writes then fail.
    """

    def __init__(self, storage: str | os.PathLike[str], timeout: float = 30.0, *,
                 read_only: bool = False) -> None:
        self.path = parse_storage(storage)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"{self.path}: folder {str(self.path.parent)!r} does not exist")
        if read_only:
            self._db = self._open_read_only(timeout)
            return
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._wal(timeout)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._write():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._migrate()
        except sqlite3.DatabaseError as err:
            raise ValueError(f"{self.path}: not a curvecast study database ({err})") from None

    def _wal(self, timeout: float) -> None:
        """Switch to the WAL journal.  SQLite does not wait on its busy timeout for this switch:
        two processes opening a new database at once see "database is locked", so retry (up to
        ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _open_read_only(self, timeout: float) -> sqlite3.Connection:
        """A read-only connection (``mode=ro``; ``immutable=1`` when SQLite cannot even make the
        shared-memory file of a WAL database, as in a read-only folder)."""
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such study database")
        uri = self.path.resolve().as_uri()
        problem: sqlite3.DatabaseError | None = None
        for mode in ("mode=ro", "immutable=1"):
            try:
                db = sqlite3.connect(f"{uri}?{mode}", uri=True, timeout=timeout,
                                     isolation_level=None)
                db.execute("SELECT name, metric, direction, settings FROM studies LIMIT 1")
                db.execute("SELECT number, config, state FROM trials LIMIT 1")
                return db
            except sqlite3.DatabaseError as err:
                problem = err
        raise ValueError(f"{self.path}: not a curvecast study database ({problem})")

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        """Bring a database of an older curvecast up to the current schema."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(trials)")}
        if "heartbeat" not in columns:
            self._db.execute("ALTER TABLE trials ADD COLUMN heartbeat REAL")
            self._db.execute("UPDATE trials SET heartbeat = updated")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (``BEGIN IMMEDIATE``) so writers serialise.

        Inside an open transaction (:meth:`transaction`) it joins that one.
        """
        if self._db.in_transaction:
            yield self._db
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: its queries see one snapshot of the database."""
        if self._db.in_transaction:
            yield self._db
            return
        self._db.execute("BEGIN")
        try:
            yield self._db
        finally:
            self._db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Hold the database's write lock for several reads and writes, committed together (or
        rolled back together when the block raises).  Other processes' writes wait, for up to
        ``timeout`` seconds; keep the block short.  Calls inside join this transaction."""
        with self._write():
            yield self

    # ------------------------------------------------------------------ studies
    def create_study(self, name: str, *, metric: str, direction: Direction | str,
                     settings: Mapping[str, Any] | None = None,
                     load_if_exists: bool = True) -> int:
        """The id of study ``name``, created when missing.

        Raises:
            ValueError: the study exists with another metric or direction, or exists and
                ``load_if_exists`` is False.
        """
        direction = Direction.parse(direction)
        check_study_name(name)
        with self._write() as db:
            row = db.execute("SELECT id, metric, direction FROM studies WHERE name = ?",
                             (name,)).fetchone()
            if row is None:
                cur = db.execute(
                    "INSERT INTO studies (name, metric, direction, settings, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (name, metric, direction.value, _json(dict(settings or {})), time.time()))
                return int(cur.lastrowid or 0)
        if not load_if_exists:
            raise ValueError(f"study {name!r} already exists in {self.path}")
        if row[1] != metric or row[2] != direction.value:
            raise ValueError(f"study {name!r} in {self.path} records {row[1]} ({row[2]}), "
                             f"not {metric} ({direction.value})")
        return int(row[0])

    def study_id(self, name: str) -> int:
        """The id of an existing study.

        Raises:
            KeyError: no such study (the message lists the ones there are).
        """
        row = self._db.execute("SELECT id FROM studies WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise KeyError(f"no study {name!r} in {self.path}; studies: {self.study_names()}")
        return int(row[0])

    def study_names(self) -> list[str]:
        """Names of all studies, oldest first."""
        return [r[0] for r in self._db.execute("SELECT name FROM studies ORDER BY id")]

    def study_info(self, name: str) -> dict[str, Any]:
        """Metric, direction, settings and trial counts by state of study ``name``."""
        sid = self.study_id(name)
        metric, direction, settings = self._db.execute(
            "SELECT metric, direction, settings FROM studies WHERE id = ?", (sid,)).fetchone()
        counts = dict(self._db.execute(
            "SELECT state, COUNT(*) FROM trials WHERE study_id = ? GROUP BY state", (sid,)))
        return {"study": name, "metric": metric, "direction": direction,
                "settings": json.loads(settings), "trials": counts}

    def checkpoint_folder(self, study: str) -> Path:
        """Where the trials of ``study`` keep their checkpoints: ``<database>.checkpoints/
        study-<id>`` beside the database file, named by the study's row id (never by its name,
        which may hold any text)."""
        return self.path.with_name(f"{self.path.name}.checkpoints") / f"study-{self.study_id(study)}"

    # ------------------------------------------------------------------ trials
    def add_trial(self, study: str, config: Mapping[str, Any], *,
                  state: TrialState = TrialState.PENDING, worker: str | None = None) -> int:
        """Record a new trial of ``config``; returns its number (0, 1, … per study)."""
        sid = self.study_id(study)
        now = time.time()
        with self._write() as db:
            number = db.execute("SELECT COALESCE(MAX(number) + 1, 0) FROM trials "
                                "WHERE study_id = ?", (sid,)).fetchone()[0]
            db.execute("INSERT INTO trials (study_id, number, config, state, worker, created, "
                       "updated, heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (sid, number, _json(dict(config)), state.value, worker, now, now, now))
        return int(number)

    def count_trials(self, study: str) -> int:
        """How many trials ``study`` has, in any state."""
        row = self._db.execute("SELECT COUNT(*) FROM trials WHERE study_id = ?",
                               (self.study_id(study),)).fetchone()
        return int(row[0])

    def claim_trial(self, study: str, worker: str,
                    states: tuple[TrialState, ...] = (TrialState.PENDING,), *,
                    orphans_after: float | None = None) -> int | None:
        """Atomically take the oldest trial in one of ``states`` for ``worker`` (it becomes
        RUNNING, owned by ``worker``, heartbeat now); None when there is none.

        With ``orphans_after`` (seconds), a RUNNING trial whose owner is dead
        (:func:`worker_alive` with that grace) may be taken too: this is how a worker resumes the
        trials of a killed one.  Two processes never claim the same trial.
        """
        sid = self.study_id(study)
        wanted = {s.value for s in states}
        if orphans_after is not None:
            wanted.add(TrialState.RUNNING.value)
        marks = ",".join("?" * len(wanted))
        with self._write() as db:
            now = time.time()
            rows = db.execute(f"SELECT id, number, state, worker, heartbeat FROM trials "
                              f"WHERE study_id = ? AND state IN ({marks}) ORDER BY number",
                              (sid, *sorted(wanted))).fetchall()
            for tid, number, state, owner, beat in rows:
                orphan = state == TrialState.RUNNING.value and TrialState.RUNNING not in states
                if orphan and worker_alive(owner, beat, grace=float(orphans_after or 0.0),
                                           now=now):
                    continue
                db.execute("UPDATE trials SET state = ?, worker = ?, updated = ?, heartbeat = ? "
                           "WHERE id = ?", (TrialState.RUNNING.value, worker, now, now, tid))
                return int(number)
        return None

    def assign_trial(self, study: str, number: int, worker: str) -> None:
        """Make trial ``number`` RUNNING, owned by ``worker`` (heartbeat now), whatever its state:
        for a scheduler that itself decides which trial runs (Hyperband), not by a claim."""
        with self._write() as db:
            now = time.time()
            cur = db.execute("UPDATE trials SET state = ?, worker = ?, updated = ?, heartbeat = ? "
                             "WHERE study_id = ? AND number = ?",
                             (TrialState.RUNNING.value, worker, now, now, self.study_id(study),
                              number))
            if cur.rowcount != 1:
                raise KeyError(f"study {study!r} has no trial {number}")

    def owner(self, study: str, number: int) -> str | None:
        """The worker id recorded for trial ``number`` (its trainer, while RUNNING)."""
        row = self._db.execute("SELECT worker FROM trials WHERE id = ?",
                               (self._trial_id(study, number),)).fetchone()
        return None if row[0] is None else str(row[0])

    def heartbeat(self, worker: str) -> int:
        """Mark every RUNNING trial of ``worker`` (in any study) alive now; returns how many."""
        with self._write() as db:
            cur = db.execute("UPDATE trials SET heartbeat = ? WHERE worker = ? AND state = ?",
                             (time.time(), worker, TrialState.RUNNING.value))
        return int(cur.rowcount)

    def set_state(self, study: str, number: int, state: TrialState, *,
                  predicted_value: float | None = None, test_value: float | None = None) -> None:
        """Move a trial to ``state`` (with the predicted final value of a stopped trial, or the
        test-set value of a complete one)."""
        with self._write() as db:
            cur = db.execute(
                "UPDATE trials SET state = ?, predicted_value = COALESCE(?, predicted_value), "
                "test_value = COALESCE(?, test_value), updated = ? "
                "WHERE study_id = ? AND number = ?",
                (state.value, predicted_value, test_value, time.time(), self.study_id(study),
                 number))
            if cur.rowcount != 1:
                raise KeyError(f"study {study!r} has no trial {number}")

    def record_value(self, study: str, number: int, epoch: int, value: float,
                     seconds: float | None = None) -> None:
        """Record the metric after ``epoch`` (NaN/±inf kept as reported).

        An epoch recorded before is left as it was (a worker resumed from a checkpoint may report
        it again).
        """
        tid = self._trial_id(study, number)
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO observations (trial_id, epoch, value, seconds) "
                       "VALUES (?, ?, ?, ?)",
                       (tid, epoch, float(value), seconds))  # sqlite3 stores NaN as NULL
            now = time.time()
            db.execute("UPDATE trials SET updated = ?, heartbeat = ? WHERE id = ?", (now, now, tid))

    def record_decision(self, study: str, number: int, decision: Decision) -> None:
        """Record one decision about a trial (its action is stored as the action's value)."""
        tid = self._trial_id(study, number)
        with self._write() as db:
            db.execute("INSERT INTO decisions (trial_id, epoch, action, mean, std, probability, "
                       "reason, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (tid, decision.epoch, decision.action.value, decision.mean, decision.std,
                        decision.probability, decision.reason, time.time()))

    def _trial_id(self, study: str, number: int) -> int:
        row = self._db.execute("SELECT id FROM trials WHERE study_id = ? AND number = ?",
                               (self.study_id(study), number)).fetchone()
        if row is None:
            raise KeyError(f"study {study!r} has no trial {number}")
        return int(row[0])

    def trials(self, study: str) -> list[StoredTrial]:
        """Every trial of ``study`` with its values and decisions, by number."""
        sid = self.study_id(study)
        out: dict[int, StoredTrial] = {}
        ids: dict[int, int] = {}
        for tid, number, config, state, worker, predicted, test in self._db.execute(
                "SELECT id, number, config, state, worker, predicted_value, test_value FROM trials "
                "WHERE study_id = ? ORDER BY number", (sid,)):
            out[tid] = StoredTrial(number, json.loads(config), TrialState(state), worker,
                                   predicted, test)
            ids[number] = tid
        for tid, epoch, value, seconds in self._db.execute(
                "SELECT o.trial_id, o.epoch, o.value, o.seconds FROM observations o JOIN trials t "
                "ON o.trial_id = t.id WHERE t.study_id = ? ORDER BY o.trial_id, o.epoch", (sid,)):
            out[tid].values.append((int(epoch), math.nan if value is None else float(value),
                                    seconds))
        for tid, epoch, action, mean, std, prob, reason in self._db.execute(
                "SELECT d.trial_id, d.epoch, d.action, d.mean, d.std, d.probability, d.reason "
                "FROM decisions d JOIN trials t ON d.trial_id = t.id WHERE t.study_id = ? "
                "ORDER BY d.id", (sid,)):
            if action not in _ACTIONS:
                raise ValueError(f"study {study!r}: trial {out[tid].number} has a decision "
                                 f"{action!r}, not one curvecast records ({', '.join(_ACTIONS)}): "
                                 "the database was written by something else")
            out[tid].decisions.append(Decision(Action(action), int(epoch), mean, std, prob,
                                               reason or ""))
        return list(out.values())

    def updates(self, study: str, *, after_trial: int = -1,
                after_observation: int = 0) -> StudyUpdates:
        """What changed since a reader's last look, read from one snapshot: the trials numbered
        above ``after_trial``, every trial's state, and the observations recorded after cursor
        ``after_observation`` (0: all).  Cheap to call after every epoch: it reads only new rows
        (and one state per trial)."""
        sid = self.study_id(study)
        with self._read() as db:
            new = [StoredTrial(int(n), json.loads(c), TrialState(s), w)
                   for n, c, s, w in db.execute(
                "SELECT number, config, state, worker FROM trials WHERE study_id = ? "
                "AND number > ? ORDER BY number", (sid, after_trial))]
            states = {int(n): TrialState(s) for n, s in db.execute(
                "SELECT number, state FROM trials WHERE study_id = ?", (sid,))}
            rows = db.execute(
                "SELECT o.rowid, t.number, o.epoch, o.value, o.seconds FROM observations o "
                "JOIN trials t ON o.trial_id = t.id WHERE t.study_id = ? AND o.rowid > ? "
                "ORDER BY o.rowid", (sid, after_observation)).fetchall()
        values = [(int(n), int(e), math.nan if v is None else float(v), s)
                  for _, n, e, v, s in rows]
        cursor = int(rows[-1][0]) if rows else after_observation
        return StudyUpdates(new, states, values, cursor)

    # ------------------------------------------------------------------ resume state
    def set_study_state(self, study: str, key: str, value: Any) -> None:
        """Keep a JSON-able value (searcher or scheduler state) under ``key``."""
        with self._write() as db:
            db.execute("INSERT INTO study_state (study_id, key, value) VALUES (?, ?, ?) "
                       "ON CONFLICT (study_id, key) DO UPDATE SET value = excluded.value",
                       (self.study_id(study), key, _json(value)))

    def get_study_state(self, study: str, key: str, default: Any = None) -> Any:
        """The value kept under ``key``, or ``default``."""
        row = self._db.execute("SELECT value FROM study_state WHERE study_id = ? AND key = ?",
                               (self.study_id(study), key)).fetchone()
        return default if row is None else json.loads(row[0])

    # ------------------------------------------------------------------ export
    def to_curveset(self, study: str, *, epochs: int | None = None) -> CurveSet:
        """The study's curves as a CurveSet (configs as the config table, ids ``t<number>``).

        ``epochs`` sets the budget axis 1..epochs (default: the largest epoch observed).

        Raises:
            ValueError: the study has no observed value yet.
        """
        info = self.study_info(study)
        trials = [t for t in self.trials(study) if t.values]
        if not trials:
            raise ValueError(f"study {study!r} has no observed values to export")
        long = pd.DataFrame([(f"t{t.number}", e, v, s) for t in trials for e, v, s in t.values],
                            columns=["config_id", "epoch", "value", "seconds"])
        configs = pd.DataFrame([t.config for t in trials], index=[f"t{t.number}" for t in trials])
        last = int(long["epoch"].max()) if epochs is None else epochs
        return CurveSet.from_long(
            long, configs, metric=info["metric"], direction=info["direction"],
            epochs=np.arange(1, last + 1),
            provenance={"study": study, "storage": str(self.path), "settings": info["settings"],
                        "states": {f"t{t.number}": t.state.value for t in trials}},
            source=f"{self.path}:{study}")
