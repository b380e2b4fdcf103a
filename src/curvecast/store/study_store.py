"""The study database's API: studies, trials and their claims, every value and decision, the
state a searcher or scheduler resumes from, and the export to a CurveSet."""

from __future__ import annotations

import json
import math
import numbers
import sqlite3
import time
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast.curves import CurveSet, Direction
from curvecast.curves.config_columns import config_frame
from curvecast.stopping import Action, Decision
from curvecast.store.database import SQLiteFile
from curvecast.store.database import to_json as _json
from curvecast.store.names import check_study_name
from curvecast.store.records import StoredTrial, StudyUpdates, TrialState
from curvecast.store.workers import GRACE, worker_alive

#: The decision values a study stores (the ``Action`` enum's values).
_ACTIONS = tuple(a.value for a in Action)


class Store(SQLiteFile):
    """A study database (see :mod:`curvecast.store`).

    Args:
        storage: ``sqlite:///PATH`` or a path; the file is created when missing, its folder must
            exist.
        timeout: seconds a writer waits for another process's lock before failing.
        read_only: open an existing database for reading only (``show``, ``studies``,
            ``export``, ``report``): nothing is created, migrated or locked, so a file the user
            cannot write (a colleague's copy, an archive) can be inspected.  Writes then fail.

    Raises:
        StoreWriteError: (an ``OSError``, from any write) the file cannot be written: it or its
            folder is read-only, or the disk is full.
        ValueError: the file is not a curvecast study database (another program's SQLite
            file, or one of a newer curvecast's schema).
    """

    # ------------------------------------------------------------------ studies
    def create_study(self, name: str, *, metric: str, direction: Direction | str,
                     settings: Mapping[str, Any] | None = None,
                     load_if_exists: bool = True) -> int:
        """The id of study ``name``, created when missing.

        Raises:
            ValueError: the study exists with another metric or direction, or exists and
                ``load_if_exists`` is False; or it is new and its name starts or ends with white
                space (an existing one, made before that rule, is still opened).  A name that
                differs from a stored one only in its Unicode composition (NFC or NFD) opens
                that study.
        """
        direction = Direction.parse(direction)
        check_study_name(name)
        with self._write() as db:
            row = _named(db, name, "id, metric, direction")
            if row is None:
                if name != name.strip():  # "S1 " and "S1" would be two studies that look alike
                    raise ValueError(f"study name {name!r} starts or ends with white space; a new "
                                     "study's name may not (it would look like another's)")
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
        row = _named(self._db, name, "id")
        if row is None:
            raise KeyError(f"no study {name!r} in {self.path}; studies: {self.study_names()}")
        return int(row[0])

    def study_names(self) -> list[str]:
        """Names of all studies, oldest first."""
        return [r[0] for r in self._db.execute("SELECT name FROM studies ORDER BY id")]

    def study_info(self, name: str) -> dict[str, Any]:
        """Metric, direction, settings and trial counts by state of study ``name``
        (``"trials"``), the study's grace (``"grace"``, seconds: :meth:`grace`) and how many of
        the RUNNING trials have lost their owner by it (``"interrupted"``:
        :meth:`StoredTrial.interrupted`)."""
        sid = self.study_id(name)
        metric, direction, settings = self._db.execute(
            "SELECT metric, direction, settings FROM studies WHERE id = ?", (sid,)).fetchone()
        where = f"{self.path}: study {name!r}"
        settings = _json_field(settings, dict, f"{where}: its settings")
        # T, as every reader takes it (a security review: [1] was a TypeError traceback in
        # show and report, 1e308 a float budget in the report's figures)
        epochs = settings.get("epochs")
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int)
                                   or not 1 <= epochs <= MAX_STORED_EPOCHS):
            shown = (str(epochs)[:80] if isinstance(epochs, int) and not isinstance(epochs, bool)
                     else repr(str(epochs)[:80]))  # a number as the export's check names it
            raise ValueError(f"{where}: its epochs are {shown}, not a whole number "
                             f"in 1..{MAX_STORED_EPOCHS}: the database was not written by "
                             "curvecast")
        for field_name, text in (("metric", metric), ("direction", direction)):
            if not isinstance(text, str):
                raise ValueError(f"{where}: its {field_name} is {text!r}, not a text: the "
                                 "database was not written by curvecast")
        counts = dict(self._db.execute(
            "SELECT state, COUNT(*) FROM trials WHERE study_id = ? GROUP BY state", (sid,)))
        grace = self.grace(name)
        interrupted = sum(not worker_alive(worker, _number(beat, f"{where}: a heartbeat"),
                                           grace=grace) for worker, beat in
                          self._db.execute("SELECT worker, heartbeat FROM trials WHERE "
                                           "study_id = ? AND state = ?",
                                           (sid, TrialState.RUNNING.value)))
        return {"study": name, "metric": metric, "direction": direction,
                "settings": settings, "trials": counts, "grace": grace,
                "interrupted": interrupted}

    def set_grace(self, study: str, grace: float) -> None:
        """Record ``grace`` (seconds) as the study's: how long its searches wait for a RUNNING
        trial's heartbeat before taking the trial over, and so how ``show``, ``studies``,
        ``export`` and ``report`` tell an interrupted trial (:meth:`grace`).  Every search of
        the study records its own; the last one's stands.

        ``math.inf`` (a search that never takes a trial over by the age of its heartbeat, only
        once its owner's pid has exited on this host) is recorded as it is.

        Raises:
            ValueError: ``grace`` is not a positive number (NaN, zero, negative, not a number).
        """
        if not _is_grace(grace):
            raise ValueError(f"grace must be a positive number of seconds, got {grace!r}")
        self.set_study_state(study, _GRACE_STATE, float(grace))

    def grace(self, study: str) -> float:
        """Seconds without a heartbeat after which a RUNNING trial of ``study`` counts as
        interrupted: the grace its last search recorded (:meth:`set_grace`), or :data:`GRACE`
        for a study recorded without one (by an older curvecast, or not by a search).

        Raises:
            ValueError: the recorded grace is not a positive number (the database was not
                written by curvecast).
        """
        grace = self.get_study_state(study, _GRACE_STATE, GRACE)
        if not _is_grace(grace):
            raise ValueError(f"{self.path}: study {study!r}: its grace is {str(grace)[:80]!r}, "
                             "not a positive number of seconds: the database was not written "
                             "by curvecast")
        return float(grace)

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

    def release_trials(self, study: str, worker: str) -> int:
        """Give up ``worker``'s RUNNING trials of ``study`` (their heartbeat cleared): they are
        interrupted, and any worker — this process too, in a search run again after an error —
        may claim them at once.  Returns how many."""
        with self._write() as db:
            cur = db.execute("UPDATE trials SET heartbeat = NULL WHERE study_id = ? AND worker = ? "
                             "AND state = ?", (self.study_id(study), worker,
                                               TrialState.RUNNING.value))
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

    def decided_at(self, study: str, number: int, epoch: int) -> bool:
        """Whether any decision about trial ``number`` is recorded at ``epoch`` (1-based)."""
        row = self._db.execute("SELECT 1 FROM decisions WHERE trial_id = ? AND epoch = ? LIMIT 1",
                               (self._trial_id(study, number), epoch)).fetchone()
        return row is not None

    def _trial_id(self, study: str, number: int) -> int:
        row = self._db.execute("SELECT id FROM trials WHERE study_id = ? AND number = ?",
                               (self.study_id(study), number)).fetchone()
        if row is None:
            raise KeyError(f"study {study!r} has no trial {number}")
        return int(row[0])

    def trials(self, study: str) -> list[StoredTrial]:
        """Every trial of ``study`` with its values and decisions, by number, read from one
        snapshot (a search writing meanwhile adds nothing half-way); each carries the study's
        grace (:meth:`grace`), by which it tells whether it was interrupted."""
        with self._read():
            return self._trials(study)

    def _trials(self, study: str) -> list[StoredTrial]:
        sid = self.study_id(study)
        out: dict[int, StoredTrial] = {}
        ids: dict[int, int] = {}
        where = f"{self.path}: study {study!r}"
        grace = self.grace(study)
        for tid, number, config, state, worker, predicted, test, beat in self._db.execute(
                "SELECT id, number, config, state, worker, predicted_value, test_value, heartbeat "
                "FROM trials WHERE study_id = ? ORDER BY number", (sid,)):
            at = f"{where}: trial {number!r}"
            if state not in _STATES:
                raise ValueError(f"{at}: its state is {state!r}, not one curvecast records "
                                 f"({', '.join(_STATES)})")
            out[tid] = StoredTrial(int(_number(number, f"{at}: its number") or 0),
                                   _json_field(config, dict, f"{at}: its config"),
                                   TrialState(state), worker,
                                   _number(predicted, f"{at}: its predicted value"),
                                   _number(test, f"{at}: its test value"),
                                   heartbeat=_number(beat, f"{at}: its heartbeat"),
                                   grace=grace)
            ids[number] = tid
        for tid, epoch, value, seconds in self._db.execute(
                "SELECT o.trial_id, o.epoch, o.value, o.seconds FROM observations o JOIN trials t "
                "ON o.trial_id = t.id WHERE t.study_id = ? ORDER BY o.trial_id, o.epoch", (sid,)):
            at = f"{where}: trial {out[tid].number}: an observation"
            given = _number(value, f"{at}'s value")
            out[tid].values.append((int(_number(epoch, f"{at}'s epoch") or 0),
                                    math.nan if given is None else given,
                                    _number(seconds, f"{at}'s seconds")))
        for tid, epoch, action, mean, std, prob, reason in self._db.execute(
                "SELECT d.trial_id, d.epoch, d.action, d.mean, d.std, d.probability, d.reason "
                "FROM decisions d JOIN trials t ON d.trial_id = t.id WHERE t.study_id = ? "
                "ORDER BY d.id", (sid,)):
            if action not in _ACTIONS:
                raise ValueError(f"study {study!r}: trial {out[tid].number} has a decision "
                                 f"{action!r}, not one curvecast records ({', '.join(_ACTIONS)}): "
                                 "the database was written by something else")
            at = f"{where}: trial {out[tid].number}: a decision"
            out[tid].decisions.append(Decision(
                Action(action), int(_number(epoch, f"{at}'s epoch") or 0),
                _number(mean, f"{at}'s mean"), _number(std, f"{at}'s σ"),
                _number(prob, f"{at}'s probability"), str(reason or "")))
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
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except (TypeError, ValueError, RecursionError):
            raise ValueError(f"{self.path}: study {study!r}: its saved state {key!r} is "
                             f"{str(row[0])[:80]!r}, not JSON: the database was not written by "
                             "curvecast") from None

    # ------------------------------------------------------------------ export
    def to_curveset(self, study: str, *, epochs: int | None = None) -> CurveSet:
        """The study's curves as a CurveSet (configs as the config table, ids ``t<number>``,
        the complete trials' recorded test values as its ``test_values``).

        ``epochs`` sets the budget axis 1..epochs (default: the largest epoch observed).  A
        trial with no recorded value (failed or stopped before its first epoch, or not started)
        has no curve: it is left out and named, with its state, in the provenance's
        ``"without_values"``.

        Raises:
            ValueError: the study has no observed value yet.
        """
        info = self.study_info(study)
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int)
                                   or not 1 <= epochs <= MAX_STORED_EPOCHS):
            raise ValueError(f"{self.path}: study {study!r}: its epochs are {epochs!r}, not a "
                             f"whole number in 1..{MAX_STORED_EPOCHS}")
        every = self.trials(study)
        trials = [t for t in every if t.values]
        if not trials:
            raise ValueError(f"study {study!r} has no observed values to export")
        long = pd.DataFrame([(f"t{t.number}", e, v, s) for t in trials for e, v, s in t.values],
                            columns=["config_id", "epoch", "value", "seconds"])
        configs = config_frame([t.config for t in trials], [f"t{t.number}" for t in trials])
        last = int(long["epoch"].max()) if epochs is None else epochs
        return CurveSet.from_long(
            long, configs, metric=info["metric"], direction=info["direction"],
            epochs=np.arange(1, last + 1),
            test_values={f"t{t.number}": t.test_value for t in trials
                         if t.test_value is not None},
            provenance={"study": study, "storage": str(self.path), "settings": info["settings"],
                        "states": {f"t{t.number}": t.shown_state for t in trials},
                        "without_values": {f"t{t.number}": t.shown_state for t in every
                                           if not t.values}},
            source=f"{self.path}:{study}")


#: The most epochs a study's budget axis may have when its curves are exported: a search
#: refuses a table this machine cannot hold before it starts, so more is a tampered setting
#: (a review's 40 KB database declared 3e7 epochs and took 7 GB).
MAX_STORED_EPOCHS = 1_000_000

#: The study-state key of the study's grace (:meth:`Store.set_grace`).
_GRACE_STATE = "grace"


def _is_grace(value: Any) -> bool:
    """Whether ``value`` is a grace a search may take: a positive real number of seconds (numpy's
    too; ``inf``: never by the heartbeat's age, as ``run_search`` always allowed), not a bool."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
            and float(value) > 0)  # (NaN is not)

#: The trial states a study records (the ``TrialState`` enum's values).
_STATES = tuple(t.value for t in TrialState)


def _number(value: Any, what: str) -> float | None:
    """A number read from the database as a float (None stays None); anything else (text a
    program other than curvecast wrote) is refused naming ``what``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} is {value!r}, not a number: the database was not written by "
                         "curvecast")
    return float(value)


def _json_field(text: Any, kind: type, what: str) -> Any:
    """The JSON ``text`` read from the database, refused (naming ``what``) unless it is JSON of
    ``kind`` (a config or the settings: an object)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        value = None
    if not isinstance(value, kind):
        raise ValueError(f"{what} is {str(text)[:80]!r}, not a JSON {kind.__name__}: the database "
                         "was not written by curvecast")
    return value


def _named(db: sqlite3.Connection, name: str, columns: str) -> tuple[Any, ...] | None:
    """The row (``columns``) of the study called ``name``, or None.  A name stored in another
    Unicode composition (``"café"`` typed as ``e`` + a combining accent, NFD, as macOS file
    names and some keyboards give it, against the one-character NFC ``é``) names the same
    study: the two look identical, so they must not make two studies."""
    row = db.execute(f"SELECT {columns} FROM studies WHERE name = ?", (name,)).fetchone()
    if row is not None:
        return tuple(row)
    wanted = unicodedata.normalize("NFC", name)
    for (stored,) in db.execute("SELECT name FROM studies ORDER BY id"):
        if unicodedata.normalize("NFC", stored) == wanted:
            found = db.execute(f"SELECT {columns} FROM studies WHERE name = ?",
                               (stored,)).fetchone()
            return tuple(found)
    return None
