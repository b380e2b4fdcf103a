"""SQLite persistence of studies: trials, every observed value, every stopping decision.

One database file (standard-library ``sqlite3``, WAL journal) holds any number of studies.  Every
write is its own transaction and is on disk when the call returns, so a study killed at any
moment (``kill -9``) loses nothing it recorded.  Several processes may share one file: trial
numbers and the claim of a pending trial are taken inside ``BEGIN IMMEDIATE`` transactions, so two
workers never get the same trial.

Tables: ``studies`` (name, metric, direction, settings), ``trials`` (per study: number, config,
state, worker, predicted value when stopped), ``observations`` (trial, epoch, value, seconds; a
diverged run's NaN/inf is stored as is), ``decisions`` (trial, epoch, action, predicted mean and
std, probability, reason) and ``study_state`` (named JSON blobs a searcher or scheduler needs to
resume, e.g. a Q-table or a Hyperband bracket position).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast.curves import CurveSet, Direction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, metric TEXT NOT NULL,
    direction TEXT NOT NULL, settings TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL, worker TEXT,
    predicted_value REAL, test_value REAL, created REAL NOT NULL, updated REAL NOT NULL,
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


class TrialState(StrEnum):
    """Where a trial is in its life."""

    PENDING = "pending"  # proposed, waiting for a worker
    RUNNING = "running"
    PAUSED = "paused"  # stopped for now by a scheduler, may be continued (Hyperband)
    COMPLETE = "complete"
    STOPPED = "stopped"  # stopped early for good; predicted_value holds its prediction
    FAILED = "failed"


@dataclass(frozen=True)
class Decision:
    """One recorded stopping decision (what the stopper saw and concluded)."""

    epoch: int
    action: str
    mean: float | None = None
    std: float | None = None
    probability: float | None = None
    reason: str = ""


@dataclass
class Trial:
    """A trial as stored: its config, state and every value observed so far."""

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


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=lambda o: o.item() if hasattr(o, "item")
                      else str(o))


class Store:
    """A study database (see the module docstring).

    Args:
        storage: ``sqlite:///PATH`` or a path; the file is created when missing, its folder must
            exist.
        timeout: seconds a writer waits for another process's lock before failing.
    """

    def __init__(self, storage: str | os.PathLike[str], timeout: float = 30.0) -> None:
        self.path = parse_storage(storage)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"{self.path}: folder {str(self.path.parent)!r} does not exist")
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._write():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
        except sqlite3.DatabaseError as err:
            raise ValueError(f"{self.path}: not a curvecast study database ({err})") from None

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (``BEGIN IMMEDIATE``) so writers serialise."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

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
                       "updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (sid, number, _json(dict(config)), state.value, worker, now, now))
        return int(number)

    def claim_trial(self, study: str, worker: str,
                    states: tuple[TrialState, ...] = (TrialState.PENDING,)) -> int | None:
        """Atomically take the oldest trial in one of ``states`` for ``worker`` (it becomes
        RUNNING); None when there is none.  Two processes never claim the same trial."""
        sid = self.study_id(study)
        marks = ",".join("?" * len(states))
        with self._write() as db:
            row = db.execute(f"SELECT id, number FROM trials WHERE study_id = ? AND state IN "
                             f"({marks}) ORDER BY number LIMIT 1",
                             (sid, *[s.value for s in states])).fetchone()
            if row is None:
                return None
            db.execute("UPDATE trials SET state = ?, worker = ?, updated = ? WHERE id = ?",
                       (TrialState.RUNNING.value, worker, time.time(), row[0]))
        return int(row[1])

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
            db.execute("UPDATE trials SET updated = ? WHERE id = ?", (time.time(), tid))

    def record_decision(self, study: str, number: int, decision: Decision) -> None:
        """Record one stopping decision of a trial."""
        tid = self._trial_id(study, number)
        with self._write() as db:
            db.execute("INSERT INTO decisions (trial_id, epoch, action, mean, std, probability, "
                       "reason, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (tid, decision.epoch, decision.action, decision.mean, decision.std,
                        decision.probability, decision.reason, time.time()))

    def _trial_id(self, study: str, number: int) -> int:
        row = self._db.execute("SELECT id FROM trials WHERE study_id = ? AND number = ?",
                               (self.study_id(study), number)).fetchone()
        if row is None:
            raise KeyError(f"study {study!r} has no trial {number}")
        return int(row[0])

    def trials(self, study: str) -> list[Trial]:
        """Every trial of ``study`` with its values and decisions, by number."""
        sid = self.study_id(study)
        out: dict[int, Trial] = {}
        ids: dict[int, int] = {}
        for tid, number, config, state, worker, predicted, test in self._db.execute(
                "SELECT id, number, config, state, worker, predicted_value, test_value FROM trials "
                "WHERE study_id = ? ORDER BY number", (sid,)):
            out[tid] = Trial(number, json.loads(config), TrialState(state), worker, predicted, test)
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
            out[tid].decisions.append(Decision(int(epoch), action, mean, std, prob, reason or ""))
        return list(out.values())

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
