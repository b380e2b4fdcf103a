"""Learning curves from an Optuna study (extra ``curvecast[optuna]``; Optuna imported on call).

Each trial's intermediate values (``trial.report(value, step)``) are its curve, the steps the epochs
(report epochs 1, 2, …, T, as :class:`curvecast.integrations.optuna.CurvecastPruner` expects).  The
config table holds the trials' parameters and user attributes (curvecast's own ``curvecast:*``
attributes excepted), encoded as :func:`curvecast.datasets.config_rows.config_row` does; config ids
are ``t<number>``, as the pruner names trials.

Which trials become curves:

* complete trials: their curve (a complete trial that reported nothing is left out);
* pruned trials: their partial curve (epochs after the pruning step unobserved); one pruned
  after it reported the last epoch (by the objective's own check) is not a complete run and
  is read one epoch short (``cut_at_last_step`` in the provenance), as the pruner reads it;
* failed trials (an objective that raised, or returned NaN): their partial curve, as for pruned
  ones (a NaN or infinite report is a diverged value, counted as the worst by curvecast's one
  rule); the epochs they reported before the failure show how they were learning, and
  ``CurvecastPruner`` learns from them in the live study too;
* running and waiting trials are left out.

A trial that skipped steps others report (an evaluation every other epoch, one evaluation
missed) is read as :class:`~curvecast.integrations.optuna.CurvecastPruner` reads it: the
skipped steps interpolated between its reports (``filled_steps`` in the provenance), or, when it
reported fewer than half the steps up to its last, up to its first gap
(``sparse_reports_left_out``); a skipped step is never read as a diverged report.

The epochs are the steps most complete trials report (as the pruner reads them): a step that no
more than half of the complete trials that ran that far reported (one trial's extra report at
step 11 of 10, or at step 0) is left out of every curve and named in the provenance
(``left_out_steps``), so that it does not cut every other curve short.

The metric is the study's metric name (``study.set_metric_names``), else ``metric``, else
``"objective"`` (an unnamed objective, which a prior check matches to any metric name).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast.curves import CurveSet, CurveSetFormatError, Direction
from curvecast.curves.config_columns import config_frame
from curvecast.datasets.config_rows import config_row
from curvecast.datasets.import_warnings import warns_of_what_it_read
from curvecast.datasets.priors import UNNAMED_METRIC
from curvecast.datasets.step_axis import along_axis, cut_unfinished, gap_counts, majority_axis_of

__all__ = ["from_optuna", "redact"]

_OWN_ATTRS = "curvecast"


def redact(url: str) -> str:
    """``url`` without its password (``postgresql://user:***@host/db``); one without a password
    as given (SQLAlchemy's rendering percent-encodes a path: ``my dir é`` became ``my dir %C3%A9``,
    which is not a path a user can paste back: a review, stop 36)."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        return url if parsed.password is None else parsed.render_as_string(hide_password=True)
    except Exception:  # not a SQLAlchemy URL: shown as given
        return url


def _check_url(url: str) -> None:
    """``url`` must be a storage URL of a database SQLAlchemy knows, with its driver installed
    (a file name, an unknown scheme or a missing driver otherwise fail inside SQLAlchemy or
    Optuna with their own exceptions)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError  # also NoSuchModuleError, an unknown dialect

    try:
        dialect = make_url(url).get_dialect()
    except ArgumentError as err:
        raise ValueError(f"{redact(url)}: not an Optuna storage URL ({err}); expected e.g. "
                         "sqlite:///last.db or postgresql://user@host/db") from None
    try:
        dialect.import_dbapi()
    except ImportError as err:
        raise ValueError(f"{redact(url)}: its database driver is not installed ({err})"
                         ) from None


def _check_sqlite(url: str) -> None:
    """An SQLite URL must name an existing Optuna database (Optuna would create an empty one, or
    add its tables to another program's database)."""
    if not url.startswith("sqlite:///"):
        return _check_url(url)
    path = Path(url.removeprefix("sqlite:///"))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such Optuna storage file ({url})")
    try:
        tables = _tables(path, "mode=ro")
    except sqlite3.OperationalError:  # e.g. a WAL database in a folder it cannot write to:
        try:  # read as a file that does not change (a review, stop 35: "not an SQLite database")
            tables = _tables(path, "mode=ro&immutable=1")
        except sqlite3.DatabaseError as err:
            raise CurveSetFormatError(f"{path}: not an SQLite database ({err})") from None
    except sqlite3.DatabaseError as err:
        raise CurveSetFormatError(f"{path}: not an SQLite database ({err})") from None
    if views := sorted(t for t in tables if t.startswith("view ")):  # Optuna makes none
        raise CurveSetFormatError(f"{path}: not an Optuna storage (it holds a view, "
                                  f"{views[0][5:65]!r}, which Optuna never makes)")
    if generated := sorted(t for t in tables if t.startswith("generated ")):  # nor these
        raise CurveSetFormatError(f"{path}: not an Optuna storage (it holds a generated column, "
                                  f"{generated[0][10:70]!r}, which Optuna never makes)")
    if "version_info" not in tables or "trial_intermediate_values" not in tables:
        raise CurveSetFormatError(f"{path}: not an Optuna storage (no Optuna tables; tables: "
                                  f"{sorted(tables)[:8]})")


def _tables(path: Path, query: str) -> set[str]:
    """The table names of the SQLite file ``path``, opened with the URI ``query``, its views,
    triggers and virtual tables as ``"view NAME"`` (a view named as Optuna's table over an
    endless recursive query made the import run forever: a security review), and its generated
    columns as ``"generated TABLE.COLUMN"`` (one computes its value on every read: a few KB
    can make each row a value of 1 GB)."""
    with sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True) as db:
        found = {r[1] if r[0] == "table" and r[2] != 0 else f"view {r[1]}" for r in db.execute(
            "SELECT type, name, rootpage FROM sqlite_master "  # a virtual table has no root
            "WHERE type IN ('table', 'view', 'trigger')")}  # page (its text can be forged)
        found |= {f"generated {r[0]}.{r[1]}" for r in db.execute(
            "SELECT t.name, c.name FROM sqlite_master AS t, pragma_table_xinfo(t.name) AS c "
            "WHERE t.type = 'table' AND c.hidden IN (2, 3)")}
    return found


@warns_of_what_it_read
def from_optuna(storage: str, study: str, *, metric: str | None = None,
                max_step: int | None = None) -> CurveSet:
    """The learning curves of Optuna study ``study`` in ``storage`` (see the module docstring).

    A trial is read as far as it reported; one the user's own code pruned (or that failed)
    after its last step is read one step short, a partial curve, as ``CurvecastPruner`` reads
    it in the live study (it did not complete, so it must not set the target: stop 35).

    Args:
        storage: an Optuna storage URL (``sqlite:///last.db``, ``postgresql://…``).
        study: the study's name.
        metric: the metric's name when the study did not set one with
            ``study.set_metric_names`` (it must agree when the study did).
        max_step: leave out the reports after this step (e.g. a test metric one trial also
            logged at step T + 1, which would make every other complete trial a partial
            curve); None: keep every step.

    Raises:
        ModuleNotFoundError: Optuna is not installed (``pip install 'curvecast[optuna]'``).
        FileNotFoundError: an SQLite storage file that does not exist.
        ValueError: ``storage`` is not a database URL SQLAlchemy knows, or its driver is
            missing.
        CurveSetFormatError: not an Optuna storage, no such study (the message lists the
            study names), a multi-objective study, a metric that disagrees with the study's, or no
            trial that reported intermediate values.
    """
    if metric is not None and not metric.strip():
        raise CurveSetFormatError("--metric: an empty name (leave it out to use the study's)")
    if max_step is not None and (isinstance(max_step, bool) or not isinstance(max_step, int)
                                 or max_step < 0):
        raise ValueError(f"max_step must be a whole number >= 0, got {max_step!r}")
    import optuna
    from optuna.trial import TrialState

    _check_sqlite(storage)
    where = f"{redact(storage)} study {study!r}"
    try:
        loaded = optuna.load_study(study_name=study, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise CurveSetFormatError(f"{redact(storage)}: no study {study!r} (studies: {names})"
                                  ) from None
    if len(loaded.directions) != 1:
        raise CurveSetFormatError(f"{where}: has {len(loaded.directions)} objectives; curvecast "
                                  "imports single-objective studies")
    metric_names = loaded.metric_names
    if metric_names and metric is not None and metric_names[0] != metric:
        raise CurveSetFormatError(f"{where}: its metric is {metric_names[0]!r}, not {metric!r}")
    name = metric_names[0] if metric_names else (metric or UNNAMED_METRIC)
    direction = (Direction.MAXIMIZE if loaded.direction is optuna.study.StudyDirection.MAXIMIZE
                 else Direction.MINIMIZE)
    kept, left_out = [], {"no_reports": 0, "running": 0}
    try:
        trials = loaded.get_trials(deepcopy=False)
    except (AssertionError, TypeError, LookupError, ValueError) as err:  # rows Optuna did not write
        raise CurveSetFormatError(f"{where}: Optuna cannot read its trials ({type(err).__name__}: "
                                  f"{err}): the storage was changed by another program") from None
    for trial in trials:
        reports = trial.intermediate_values
        if trial.state in (TrialState.RUNNING, TrialState.WAITING):
            left_out["running"] += 1
        elif not reports:
            left_out["no_reports"] += 1
        else:
            kept.append(trial)
    if not kept:
        raise CurveSetFormatError(f"{where}: no trial reported intermediate values "
                                  f"(trial.report(value, step)); left out: {left_out}")
    ids = [f"t{t.number}" for t in kept]
    for t in kept:  # what Optuna writes: whole steps and numbers (another program may not)
        bad = next(((k, v) for k, v in t.intermediate_values.items()
                    if isinstance(k, bool) or not isinstance(k, int)
                    or isinstance(v, bool) or not isinstance(v, int | float)), None)
        if bad is not None:
            raise CurveSetFormatError(f"{where}: trial {t.number} reported {bad[1]!r} at step "
                                      f"{bad[0]!r}: a step is a whole number and a value a "
                                      "number (the storage was changed by another program)")
    complete = [t.intermediate_values.keys() for t in kept if t.state is TrialState.COMPLETE]
    _, extra = majority_axis_of(complete) if complete else ((), ())
    skip = set(extra)
    axis = sorted({step for t in kept for step in t.intermediate_values
                   if step not in skip and (max_step is None or step <= max_step)})
    rows, filled, sparse = [], Counter[str](), Counter[str]()
    for i, t in zip(ids, kept, strict=True):  # as the pruner reads them: gaps interpolated
        values, filled[i], sparse[i] = along_axis(axis, t.intermediate_values)
        rows += [{"config_id": i, "epoch": int(step), "value": value}
                 for step, value in zip(axis, values, strict=False)]
    if not rows:
        raise CurveSetFormatError(f"{where}: no trial reported a step to import (at or before "
                                  f"--max-step {max_step}, and on the steps most complete "
                                  "trials report)")
    reported = pd.DataFrame(rows)
    epochs = np.unique(reported["epoch"].to_numpy())  # before the cut: its last epoch stays
    long, cut = cut_unfinished(reported,
                                [i for i, t in zip(ids, kept, strict=True)
                                 if t.state is not TrialState.COMPLETE
                                 and (max_step is None or max(t.intermediate_values) <= max_step)])
    configs = config_frame([_row(t) for t in kept], pd.Index(ids, name="config_id"))
    states = pd.Series([t.state.name.lower() for t in kept]).value_counts()
    provenance: dict[str, Any] = {"importer": "optuna", "storage": redact(storage), "study": study,
                  "trials": {str(k): int(v) for k, v in states.items()}, "left_out": left_out}
    if extra:
        provenance["left_out_steps"] = [int(s) for s in extra]
    if max_step is not None:
        provenance["max_step"] = max_step
    if cut:
        provenance["cut_at_last_step"] = cut
    provenance.update(gap_counts(filled, sparse))
    last = int(long["epoch"].max())
    ends = [max(t.intermediate_values) if max_step is None
            else min(max(t.intermediate_values), max_step)
            for t in kept if t.state is TrialState.COMPLETE]
    short = sum(end < last for end in ends)
    if ends and 2 * short > len(ends):  # most complete trials end before the last step
        reporters = [t.number for t in kept if last in t.intermediate_values]
        provenance["short_complete"] = {"trials": short, "complete": len(ends), "last": last,
                                        "reported_by": reporters[:5]}
    return CurveSet.from_long(long, configs, metric=name, direction=direction,
                              epochs=epochs, provenance=provenance,
                              source=where)


def _row(trial: Any) -> dict[str, Any]:
    """Parameters, then user attributes (curvecast's own excepted; a parameter wins a clash)."""
    attrs = {k: v for k, v in trial.user_attrs.items()
             if not k.startswith(_OWN_ATTRS) and k not in trial.params}
    return config_row({**trial.params, **attrs})
