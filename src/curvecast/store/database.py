"""One SQLite study database file: its schema, opening it (created, migrated, WAL journal; or
read-only) and its write and read transactions.  :class:`curvecast.store.Store` adds the
studies, trials, values and decisions on top."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

from curvecast.store.names import parse_storage

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


def to_json(value: Any) -> str:
    """``value`` as the JSON text a study database stores (keys sorted; numpy scalars as numbers)."""
    return json.dumps(value, sort_keys=True, default=lambda o: o.item() if hasattr(o, "item")
                      else str(o))


class SQLiteFile:
    """An open study database (see :class:`curvecast.store.Store` for the arguments)."""

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

    def __enter__(self) -> Self:
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
    def transaction(self) -> Iterator[Self]:
        """Hold the database's write lock for several reads and writes, committed together (or
        rolled back together when the block raises).  Other processes' writes wait, for up to
        ``timeout`` seconds; keep the block short.  Calls inside join this transaction."""
        with self._write():
            yield self

