"""One SQLite study database file: its schema, opening it (created, migrated, WAL journal; or
read-only) and its write and read transactions.  :class:`curvecast.store.Store` adds the
studies, trials, values and decisions on top."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


#: The schema this curvecast writes, kept in the file's ``PRAGMA user_version`` (0: a file of a
#: curvecast before it was recorded, migrated on open).  A file of a newer schema is refused.
SCHEMA_VERSION = 1

#: The columns of ``trials`` that a later schema added, with how a file without them gets them:
#: ``test_value`` came with ``curvecast search`` (129745e; none recorded before: NULL) and
#: ``heartbeat`` with shared studies (03d5047; the last update stands for it).  A database of
#: the first store (a927c57) has neither.
_ADDED_TRIAL_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("test_value", "REAL", None),
    ("heartbeat", "REAL", "UPDATE trials SET heartbeat = updated"),
)

#: The tables every study database has: a non-empty SQLite file without them is someone else's.
_OWN_TABLES = {"studies", "trials"}


#: What a database that another process holds locked is told as (a review, stop 34: it was
#: called "not a curvecast study database", or damaged, which could have a user delete it).
LOCKED = ("locked by another process (an open write transaction, waited for in vain): "
          "the study is intact; rerun the same command once that process is done, and a search "
          "resumes where it stopped")


def is_locked(err: BaseException) -> bool:
    """Whether ``err`` is SQLite's "database is locked" (or "table is locked")."""
    return isinstance(err, sqlite3.OperationalError) and "is locked" in str(err)


class StoreWriteError(OSError):
    """The study database could not be written (its file or folder is read-only, the disk is
    full, …).  Nothing recorded is lost: every write is its own transaction."""


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
        existed = self.path.exists()
        if self.path.is_dir():
            raise ValueError(f"{self.path}: is a folder; give the path of a study database "
                             "file (sqlite:///PATH/curvecast.db)")
        try:
            # by its file: URI, as the readers open it: a plain name SQLite would read as
            # ":memory:" (an in-memory database: nothing recorded) or as a "file:" URI (another
            # file than the readers' and the checkpoints') is a file like any other
            self._db = sqlite3.connect(self.path.resolve().as_uri(), timeout=timeout,
                                       isolation_level=None, uri=True)
            self._check_own()
            self._wal(timeout)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._write():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._migrate()
        except StoreWriteError:
            raise
        except sqlite3.DatabaseError as err:
            if existed and self.path.is_file() and (
                    not _writable(self.path)
                    or any(key in str(err) for key in ("readonly", "unable to open"))):
                raise StoreWriteError(f"{self.path}: read-only (the file or its folder cannot be "
                                      "written, and a search records its trials there; `show`, "
                                      "`studies`, `export` and `report` read it as it is)"
                                      ) from None
            if not existed and "unable to open" in str(err):
                raise StoreWriteError(f"{self.path}: cannot create the study database in folder "
                                      f"{str(self.path.parent)!r} (it cannot be written)"
                                      ) from None
            if is_locked(err):
                raise ValueError(f"{self.path}: {LOCKED}") from None
            raise ValueError(f"{self.path}: not a curvecast study database ({err})") from None

    def _check_own(self) -> None:
        """Refuse, before anything is written, an SQLite file of something else (tables, but not
        a study database's), and one a newer curvecast wrote (:data:`SCHEMA_VERSION`)."""
        tables = {row[0] for row in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and not _OWN_TABLES <= tables:
            shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
            raise ValueError(f"{self.path}: an SQLite database of something else (tables: "
                             f"{shown}), not a curvecast study database; give a new file name")
        self._refuse_newer(self._db)
        _refuse_views(self._db, self.path)

    def _refuse_newer(self, db: sqlite3.Connection) -> None:
        """Refuse a database a newer curvecast wrote (its ``PRAGMA user_version`` above
        :data:`SCHEMA_VERSION`)."""
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise ValueError(f"{self.path}: written by a newer curvecast (database schema "
                             f"{version}; this one reads up to {SCHEMA_VERSION}): upgrade "
                             "curvecast (pip install -U curvecast)")

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
        """A read-only connection (``mode=ro``).  When SQLite cannot even make the
        shared-memory file of a WAL database, as in a read-only folder, ``immutable=1``; and
        when such a database has a write-ahead log (the trials since the last checkpoint: a
        search killed, or a copy taken with its ``-wal``), which ``immutable=1`` would ignore,
        or comes from an older curvecast (its schema not yet migrated, which only a writer
        does), an in-memory copy of it with the log applied and the schema brought up."""
        if self.path.is_dir():
            raise ValueError(f"{self.path}: is a folder; give the path of a study database "
                             "file (sqlite:///PATH/curvecast.db)")
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such study database")
        uri = self.path.resolve().as_uri()
        problem: Exception | None = None
        for mode in ("mode=ro", "immutable=1"):
            try:
                if mode == "immutable=1" and _has_log(self.path):  # (the tables may be in it)
                    db = _copy_with_log(self.path)
                else:
                    db = sqlite3.connect(f"{uri}?{mode}", uri=True, timeout=timeout,
                                         isolation_level=None)
                _refuse_views(db, self.path)  # before any query reads one
                db.execute("SELECT name, metric, direction, settings FROM studies LIMIT 1")
                db.execute("SELECT number, config, state FROM trials LIMIT 1")
                try:
                    self._refuse_newer(db)
                except ValueError:
                    db.close()
                    raise
                if _missing_columns(db):  # an older curvecast's: migrated in memory
                    db = _in_memory(db)
                    _migrate(db)
                return db
            except (sqlite3.DatabaseError, OSError) as err:  # (OSError: an unreadable log)
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
        _migrate(self._db)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (``BEGIN IMMEDIATE``) so writers serialise.

        Inside an open transaction (:meth:`transaction`) it joins that one.
        """
        if self._db.in_transaction:
            yield self._db
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            raise self._unwritable(err) from None
        try:
            yield self._db
        except sqlite3.OperationalError as err:
            self._rollback()
            raise self._unwritable(err) from None
        except BaseException:
            self._rollback()
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as err:
            self._rollback()
            raise self._unwritable(err) from None

    def _rollback(self) -> None:
        """Roll the open transaction back (SQLite may already have, e.g. on a full disk)."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _unwritable(self, err: sqlite3.OperationalError) -> Exception:
        """A write that failed for the file's sake (read-only, full disk, I/O error) as a
        :class:`StoreWriteError` naming the cause; any other error (a lock held past the
        timeout) as it was."""
        text = str(err)
        causes = {"readonly": "the file or its folder is read-only",
                  "disk is full": "the disk is full", "disk I/O error": "a disk I/O error",
                  "unable to open": "the file or its folder cannot be written"}
        cause = next((c for key, c in causes.items() if key in text), None)
        if cause is None:
            return err
        return StoreWriteError(f"{self.path}: cannot write the study database: {cause} ({text})")

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


def _writable(path: os.PathLike[str]) -> bool:
    """Whether ``path`` and its folder can be written (SQLite's WAL journal makes files beside
    the database)."""
    folder = os.path.dirname(os.path.abspath(path))
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK)


def _migrate(db: sqlite3.Connection) -> None:
    """Bring the database of ``db`` (an older curvecast's) up to the current schema."""
    for name, kind, fill in _missing_columns(db):
        db.execute(f"ALTER TABLE trials ADD COLUMN {name} {kind}")
        if fill is not None:
            db.execute(fill)
    if int(db.execute("PRAGMA user_version").fetchone()[0]) < SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _missing_columns(db: sqlite3.Connection) -> list[tuple[str, str, str | None]]:
    """The columns of :data:`_ADDED_TRIAL_COLUMNS` that the ``trials`` table of ``db`` lacks."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(trials)")}
    return [added for added in _ADDED_TRIAL_COLUMNS if added[0] not in columns]


def _refuse_views(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a database with a view, a trigger, a virtual table or a generated column:
    curvecast makes none, and a view named as its table (``studies`` over an endless recursive
    query) made every reading command run forever, a trigger runs its own SQL on every write,
    and a generated column computes its value on every read (``printf('%.*c', 300000000,
    'x')``: a 40 KB file took 1.1 GB to show three trials) (security reviews)."""
    found = db.execute("SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger') "
                       "OR (type = 'table' AND rootpage = 0) "  # a virtual table (not by its
                       # text: a forged "create   virtual table" reads all the same)
                       "ORDER BY name LIMIT 1").fetchone()
    if found is None:
        found = db.execute(
            "SELECT 'generated column', t.name || '.' || c.name FROM sqlite_master AS t, "
            "pragma_table_xinfo(t.name) AS c WHERE t.type = 'table' AND c.hidden IN (2, 3) "
            "ORDER BY t.name LIMIT 1").fetchone()
    if found is not None:
        kind = "virtual table" if found[0] == "table" else found[0]
        raise ValueError(f"{path}: not a curvecast study database (it holds a {kind}, "
                         f"{str(found[1])[:60]!r}, which curvecast never makes)")


def _has_log(path: Path) -> bool:
    """Whether the database at ``path`` has a non-empty write-ahead log beside it."""
    log = path.with_name(path.name + "-wal")
    return log.is_file() and log.stat().st_size > 0


def _in_memory(db: sqlite3.Connection) -> sqlite3.Connection:
    """An in-memory copy of ``db``'s database (``db`` is closed)."""
    memory = sqlite3.connect(":memory:", isolation_level=None)
    db.backup(memory)
    db.close()
    return memory


def _copy_with_log(path: Path) -> sqlite3.Connection:
    """The database at ``path`` with its write-ahead log applied, in memory: the file and its
    ``-wal`` are copied to a temporary folder, where SQLite can make what it needs to read the
    log, and the copies are deleted at once."""
    with tempfile.TemporaryDirectory(prefix="curvecast-read-") as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        shutil.copyfile(path.with_name(path.name + "-wal"), copy.with_name(copy.name + "-wal"))
        return _in_memory(sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True,
                                          isolation_level=None))
