"""Learning curves from a Ray Tune experiment directory (plain files: Ray is not needed).

Tune writes one folder per trial inside the experiment directory
(``~/ray_results/NAME/`` or ``RunConfig(storage_path=..., name=NAME)``), holding ``params.json``
(the trial's config) and its reports, one per ``tune.report``: ``result.json`` (JSON lines; read
first) or ``progress.csv``.  ``training_iteration`` (1, 2, …) is the epoch and ``metric`` the
value; ``time_this_iter_s`` the seconds of that epoch.  Nested configs and results are flattened
with ``/`` (``{"opt": {"lr": 0.1}}`` → ``opt/lr``), as Tune names them in ``progress.csv``.

As for Optuna studies: a trial stopped early (by a scheduler) is a partial curve, and so is a trial
that errored (``error.txt``): the epochs it reported before the failure show how it was learning,
and :class:`~curvecast.integrations.ray_tune.CurvecastScheduler` learns from them in the live run
too. One that errored after it reported the last epoch is not a complete run and is read one epoch
short (``cut_at_last_step`` in the provenance), unless it was restarted after its last failure
(Ray's retries: more attempts, counted by ``iterations_since_restore`` 1, than ``Failure #``
entries). A trial that reported nothing is left out. A trial that skipped epochs others report is
read as the Optuna importer reads one (:func:`~curvecast.datasets.step_axis.along_axis`): the
skipped epochs interpolated between its reports (``filled_steps`` in the provenance), or up to its
first gap when it reported fewer than half the epochs up to its last (``sparse_reports_left_out``);
a skipped epoch is never read as a diverged report. Config ids are the Tune trial ids. A trial
restarted after a failure reports epochs again: from the first repeated epoch on, the later run's
reports replace the earlier ones (as :class:`~curvecast.integrations.ray_tune.CurvecastScheduler`
does); the provenance counts the reports so replaced (``replaced_reports``). A ``result.json``
whose last line was cut off (a process killed while writing it) loses that line only
(``truncated_lines`` counts them); any other line that is not JSON is an error.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast.curves import CurveSet, CurveSetFormatError, Direction
from curvecast.curves.config_columns import config_frame
from curvecast.datasets.config_rows import config_row, flatten
from curvecast.datasets.import_warnings import warns_of_what_it_read
from curvecast.datasets.step_axis import along_axis, cut_unfinished, gap_counts
from curvecast.datasets.table_io import cell, read_columns, read_table

__all__ = ["from_ray"]

_EPOCH = "training_iteration"
_RESTORED = "iterations_since_restore"
_SECONDS = "time_this_iter_s"
#: One report: (epoch, value, seconds).
Report = tuple[int, float, float]


def _number(value: Any, where: str, column: str) -> float:
    if value is None:  # Ray's JSON encoder writes some NaNs as null
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CurveSetFormatError(f"{where}, column {column!r}: {value!r} is not a number")
    return float(value)


def _text(path: Path) -> str:
    """The file's text, refused naming the file when it is not UTF-8 (JSON is)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CurveSetFormatError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start}): "
                                  "not a file Ray Tune wrote") from None


@dataclass
class _JsonLines:
    """What one read of a ``result.json`` gives: the reports of the metric, 1 when its last
    line was cut off (a process killed while writing it: that report is left out) else 0, the
    first result's ``trial_id`` (None when it has none) and how many results started an attempt
    (``iterations_since_restore`` 1: a restart after a failure starts one)."""

    reports: list[Report]
    truncated: int
    trial_id: str | None
    attempts: int


def _from_json_lines(path: Path, metric: str) -> _JsonLines:
    """The reports of ``metric`` in a ``result.json`` and what else is read of it, in one read."""
    reports: list[Report] = []
    text = _text(path)
    lines = text.splitlines()
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    trial_id: str | None = None
    attempts = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        where = f"{path}: row {i + 1} (line {i + 1})"
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError as err:
            if i == last and not text.endswith("\n"):
                return _JsonLines(reports, 1, trial_id, attempts)
            raise CurveSetFormatError(f"{where}: not JSON ({err.msg})") from None
        if not isinstance(parsed, dict):
            raise CurveSetFormatError(f"{where}: not a JSON object (one tune.report's result)")
        if trial_id is None and "trial_id" in parsed:
            trial_id = str(parsed["trial_id"])
        attempts += parsed.get(_RESTORED) == 1
        try:
            result = flatten(parsed)
        except ValueError as err:
            raise CurveSetFormatError(f"{where}: {err}") from None
        if metric not in result:
            continue
        if _EPOCH not in result:
            raise CurveSetFormatError(f"{where}, column {_EPOCH!r}: missing")
        epoch = _number(result[_EPOCH], where, _EPOCH)
        if not (math.isfinite(epoch) and epoch >= 0 and epoch == int(epoch)):
            raise CurveSetFormatError(f"{where}, column {_EPOCH!r}: {epoch!r} is not a whole "
                                      "number >= 0")
        reports.append((int(epoch), _number(result[metric], where, metric),
                        _number(result.get(_SECONDS), where, _SECONDS)))
    return _JsonLines(reports, 0, trial_id, attempts)


def _recovered(folder: Path, attempts: int | None) -> bool:
    """Whether the trial in ``folder``, which failed (``error.txt``), was restarted after its
    last failure: Ray (``FailureConfig(max_failures=k)``, ``Tuner.restore(restart_errored=True)``)
    writes one ``Failure # n`` entry per failure, and each attempt's first report has
    ``iterations_since_restore`` 1, so more attempts than failures mean the last attempt did
    not fail.  ``attempts``: those counted in its ``result.json`` (None: the trial has none, and
    ``progress.csv`` is read).  False when the reports do not say (no such field)."""
    failures = max(1, sum(line.startswith("Failure # ")
                          for line in _text(folder / "error.txt").splitlines()))
    if attempts is None:
        attempts = 0
        if (folder / "progress.csv").is_file() and _RESTORED in read_columns(
                folder / "progress.csv"):
            _, (numbers, seen) = read_table(folder / "progress.csv", [_RESTORED],
                                            keep_written=False)
            attempts = int((seen[:, 0] & (numbers[:, 0] == 1)).sum())
    return attempts > failures


def _reported(folders: list[Path]) -> list[str]:
    """The numeric results the first trial folder with a report holds (for an error that names
    what the experiment did report)."""
    for folder in folders:
        source = folder / "result.json"
        if source.is_file():
            for line in _text(source).splitlines():
                try:
                    result = flatten(json.loads(line))
                except (json.JSONDecodeError, AttributeError, ValueError):
                    continue
                return sorted(k for k, v in result.items()
                              if isinstance(v, int | float) and not isinstance(v, bool))
        if (folder / "progress.csv").is_file():
            return read_columns(folder / "progress.csv")
    return []


def _from_csv(path: Path, metric: str) -> list[Report]:
    columns = read_columns(path)
    if metric not in columns:
        return []
    if _EPOCH not in columns:
        raise CurveSetFormatError(f"{cell(path, column=_EPOCH)}missing")
    wanted = [_EPOCH, metric, *([_SECONDS] if _SECONDS in columns else [])]
    _, (numbers, seen) = read_table(path, wanted, keep_written=False)
    reports = []
    for i in np.flatnonzero(seen[:, 1]):
        epoch = numbers[i, 0]
        if not (seen[i, 0] and epoch >= 0 and epoch == int(epoch)):
            raise CurveSetFormatError(f"{cell(path, int(i), _EPOCH)}{epoch!r} is not a whole "
                                      "number >= 0")
        seconds = numbers[i, 2] if len(wanted) == 3 and seen[i, 2] else math.nan
        reports.append((int(epoch), float(numbers[i, 1]), float(seconds)))
    return reports


def _trial(folder: Path, metric: str
           ) -> tuple[str, dict[str, Any], list[Report], int, int, int | None]:
    """A trial folder → (trial id, config row, reports, how many reports a restart replaced,
    1 when its result.json's last line was cut off else 0, the attempts its result.json
    counts or None when the reports were not read from one)."""
    params = folder / "params.json"
    try:
        config = json.loads(_text(params))
    except json.JSONDecodeError as err:
        raise CurveSetFormatError(f"{params}: line {err.lineno}: not JSON ({err.msg})") from None
    if not isinstance(config, dict):
        raise CurveSetFormatError(f"{params}: not a JSON object (a trial's config)")
    reports: list[Report] = []
    truncated = 0
    trial_id = folder.name
    attempts: int | None = None
    source = folder / "result.json"
    if source.is_file() and source.stat().st_size:
        lines = _from_json_lines(source, metric)
        reports, truncated, attempts = lines.reports, lines.truncated, lines.attempts
        if reports and lines.trial_id is not None:
            trial_id = lines.trial_id
    elif (folder / "progress.csv").is_file() and (folder / "progress.csv").stat().st_size:
        source = folder / "progress.csv"
        reports = _from_csv(source, metric)
    latest: dict[int, Report] = {}  # epochs ascending, in insertion order
    for report in reports:  # a restarted trial reports again from its checkpoint's epoch (or 1)
        if latest and report[0] <= next(reversed(latest)):  # a pass per restart, not per
            latest = {e: r for e, r in latest.items() if e < report[0]}  # report (quadratic)
        latest[report[0]] = report
    replaced = len(reports) - len(latest)
    reports = list(latest.values())
    try:
        row = config_row(config)
    except ValueError as err:
        raise CurveSetFormatError(f"{params}: {err}") from None
    return trial_id, row, reports, replaced, truncated, attempts


#: The files of a trial folder the importer reads.
_TRIAL_FILES = ("params.json", "result.json", "progress.csv", "error.txt")


def _check_trial_files(root: Path, folder: Path) -> None:
    """Refuse a trial file that is a link to a file outside the experiment directory ``root``,
    or that is not a regular file (a named pipe waits forever, ``/dev/zero`` never ends): Ray
    writes neither, and reading one would put another file's content in the CurveSet (a
    security review)."""
    top = root.resolve()
    for name in _TRIAL_FILES:
        path = folder / name
        if not (path.is_symlink() or path.exists()):
            continue
        target = path.resolve()
        if not target.is_relative_to(top):
            raise CurveSetFormatError(f"{path}: a link to {str(target)!r}, outside the "
                                      f"experiment directory {str(root)!r}: not a file Ray Tune "
                                      "wrote")
        try:
            regular = stat.S_ISREG(os.stat(path).st_mode)
        except OSError as err:
            raise CurveSetFormatError(f"{path}: cannot be read ({err.strerror or err})"
                                      ) from None
        if not regular:
            raise CurveSetFormatError(f"{path}: not a regular file (a pipe, a device or a "
                                      "folder): not a file Ray Tune wrote")


@warns_of_what_it_read
def from_ray(experiment: str | Path, metric: str, direction: Direction | str) -> CurveSet:
    """The learning curves of a Ray Tune experiment directory (see the module docstring).

    Args:
        experiment: the experiment directory (holding one folder per trial).
        metric: the reported metric (nested names joined by ``/``).
        direction: ``"maximize"`` or ``"minimize"`` (Tune's ``mode`` ``"max"``/``"min"`` too).

    Raises:
        FileNotFoundError: no such directory, or a file where it goes.
        CurveSetFormatError: no trial folder, a malformed ``params.json`` or result (naming the
            file, row and column), or no trial that reported ``metric``.
    """
    root = Path(experiment).expanduser()
    if root.exists() and not root.is_dir():
        raise FileNotFoundError(f"{root}: a file, not a Ray Tune experiment directory (give the "
                                "folder that holds one folder per trial)")
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such experiment directory")
    try:
        direction = Direction.parse(direction)
    except ValueError as err:
        raise CurveSetFormatError(f"--direction: {err}") from None
    folders = sorted({p.parent for p in root.rglob("params.json")})
    if not folders:
        raise CurveSetFormatError(f"{root}: no Ray Tune trial folder (none holds params.json)")
    for folder in folders:  # before any is read
        _check_trial_files(root, folder)
    configs: list[dict[str, Any]] = []
    ids: list[str] = []
    by_trial: list[tuple[str, dict[int, tuple[float, float]]]] = []
    left_out = {"no_reports": 0}
    replaced = truncated = 0
    errored: list[str] = []
    for folder in folders:
        trial_id, config, reports, restarts, cut, attempts = _trial(folder, metric)
        truncated += cut
        if not reports:
            left_out["no_reports"] += 1
            continue
        if trial_id in ids:
            trial_id = f"{trial_id}:{folder.name}"
        if (folder / "error.txt").is_file() and not _recovered(folder, attempts):
            errored.append(trial_id)
        replaced += restarts
        ids.append(trial_id)
        configs.append(config)
        by_trial.append((trial_id, {e: (v, s) for e, v, s in reports}))
    if not ids:
        reported = _reported(folders)
        named = ("" if metric in reported or not reported else
                 f"; the trials report {', '.join(repr(k) for k in reported[:20])}"
                 f"{' …' if len(reported) > 20 else ''}")
        raise CurveSetFormatError(f"{root}: no trial reported {metric!r} with {_EPOCH} "
                                  f"({len(folders)} trial folders; left out: {left_out}){named}")
    axis = sorted({e for _, reports_at in by_trial for e in reports_at})
    rows, filled, sparse = [], Counter[str](), Counter[str]()
    for trial_id, reports_at in by_trial:  # skipped epochs interpolated (along_axis)
        values, filled[trial_id], sparse[trial_id] = along_axis(
            axis, {e: v for e, (v, _) in reports_at.items()})
        rows += [{"config_id": trial_id, "epoch": e, "value": v,
                  "seconds": reports_at.get(e, (math.nan, math.nan))[1]}
                 for e, v in zip(axis, values, strict=False)]
    table = pd.DataFrame(rows)
    long, cut_short = cut_unfinished(table, errored)
    provenance: dict[str, Any] = {"importer": "ray", "experiment": str(root), "trials": len(ids),
                                  "left_out": left_out, "replaced_reports": replaced,
                                  "truncated_lines": truncated}
    if errored:
        provenance["errored"] = len(errored)
    if cut_short:
        provenance["cut_at_last_step"] = cut_short
    provenance.update(gap_counts(filled, sparse))
    return CurveSet.from_long(long, config_frame(configs, pd.Index(ids, name="config_id")),
                              metric=metric, direction=direction, provenance=provenance,
                              epochs=np.unique(table["epoch"].to_numpy()),  # before the cut
                              source=str(root))
