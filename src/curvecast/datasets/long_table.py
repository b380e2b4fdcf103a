"""Learning curves from a long table: one row per (config, epoch) observation.

::

    config_id,epoch,value,seconds
    a,1,0.41,12.5
    a,2,0.55,12.1
    b,1,nan,11.9

``seconds`` (wall-clock seconds of that epoch) is optional.  A ``nan``/``inf`` value is a diverged
run (counted as the worst value, curvecast's one rule).  The config table, optional, is a second
CSV or Parquet file with a ``config_id`` column and one row per config; without it the configs
have no features but their curves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast.curves import CurveSet, CurveSetFormatError, Direction
from curvecast.curves.long import MAX_EPOCH, first_repeat
from curvecast.datasets.import_warnings import warns_of_what_it_read
from curvecast.datasets.table_io import cell, file_sha256, is_parquet, read_columns, read_table

__all__ = ["LONG_COLUMNS", "from_long_table"]

#: The columns of a long table (``seconds`` optional).
LONG_COLUMNS = ("config_id", "epoch", "value", "seconds")

#: What an empty value of a long Parquet file says: pandas' ``to_parquet`` writes NaN as null.
_EMPTY_PARQUET_VALUE = (
    "is null (a row is one observation). If it is a diverged run's NaN: pandas' to_parquet "
    "writes NaN as null; write the table with pyarrow, pa.table({..., 'value': pa.array(values, "
    "from_pandas=False)}), or as CSV (to_csv(na_rep='nan')); if the epoch was not reached, leave "
    "the row out")


def _repeats(ids: pd.Series, epoch: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Mask of the first row that repeats an earlier row's (config id, epoch) (the epochs are
    checked whole numbers by then; an empty or odd one is refused before this is read)."""
    mask = np.zeros(len(ids), dtype=bool)
    whole = seen & np.isfinite(epoch) & (epoch >= 0) & (epoch <= MAX_EPOCH)
    if not whole.all():  # refused by an earlier check; that one is said
        return mask
    row = first_repeat(pd.factorize(ids)[0], epoch.astype(np.int64))
    if row is not None:
        mask[row] = True
    return mask


def _first(mask: np.ndarray) -> int | None:
    return int(np.flatnonzero(mask)[0]) if mask.any() else None


def _read_configs(path: Path) -> pd.DataFrame:
    columns = read_columns(path)
    if "config_id" not in columns:
        raise CurveSetFormatError(f"{path}: the config table has no column 'config_id' "
                                  f"(columns: {columns})")
    configs, _ = read_table(path, [], text=["config_id"])
    ids = configs.pop("config_id")
    for mask, what in ((ids.isna().to_numpy(), "is empty"),
                       (ids.astype(str).duplicated().to_numpy(), "repeats an earlier row's id")):
        row = _first(mask)
        if row is not None:
            raise CurveSetFormatError(f"{cell(path, row, 'config_id')}the config id {what}")
    configs.index = pd.Index(ids.astype(str).to_numpy(), name="config_id")
    return configs


@warns_of_what_it_read
def from_long_table(path: str | Path, metric: str, direction: Direction | str, *,
                    configs: str | Path | None = None,
                    diverged_value: float | None = None,
                    max_epoch: int | None = None) -> CurveSet:
    """Load a long CSV or Parquet table of learning curves (see the module docstring).

    Args:
        path: the observations: columns ``config_id, epoch, value[, seconds]``.
        metric: the metric's name (e.g. ``"val_loss"``).
        direction: ``"maximize"`` or ``"minimize"``.
        configs: the config table (a ``config_id`` column plus hyperparameters), optional.
        diverged_value: the value a NaN/inf observation counts as (default: the worst observed).

    Raises:
        FileNotFoundError: a file does not exist.
        CurveSetFormatError: naming the file, row and column of the first malformed cell (a
            missing or extra column, an empty value, an epoch that is not a whole number ≥ 0, an
            epoch repeated for a config, a config the config table lacks).
    """
    path = Path(path)
    try:
        direction = Direction.parse(direction)
    except ValueError as err:
        raise CurveSetFormatError(f"--direction: {err}") from None
    columns = read_columns(path)
    missing = [c for c in LONG_COLUMNS[:3] if c not in columns]
    extra = [c for c in columns if c not in LONG_COLUMNS]
    if missing or extra:
        raise CurveSetFormatError(
            f"{path}: a long table has the columns config_id, epoch, value[, seconds]; "
            + (f"missing {missing}" if missing else f"unexpected {extra} (config columns go in "
               "a separate config table)") + f" (columns: {columns})")
    numeric = [c for c in LONG_COLUMNS[1:] if c in columns]
    rest, (numbers, seen) = read_table(path, numeric, text=["config_id"])
    ids = rest["config_id"]
    row = _first(ids.isna().to_numpy())
    if row is not None:
        raise CurveSetFormatError(f"{cell(path, row, 'config_id')}the config id is empty")
    ids = ids.astype(str)
    epoch, value = numbers[:, 0], numbers[:, 1]
    for col, mask, what in (
            ("epoch", ~seen[:, 0], "is empty"),
            ("epoch", seen[:, 0] & ~((epoch >= 0) & (np.mod(epoch, 1) == 0)
                                     & (epoch <= MAX_EPOCH)),
             f"is not a whole number in 0..{MAX_EPOCH:.3g}"),
            ("value", ~seen[:, 1], _EMPTY_PARQUET_VALUE if is_parquet(path) else
             "is empty (a row is one observation; write nan for a diverged run)"),
            ("epoch", _repeats(ids, epoch, seen[:, 0]),
             "repeats an earlier row's (config_id, epoch)")):
        row = _first(mask)
        if row is not None:
            shown = "" if col == "value" or not seen[row, 0] else f" ({epoch[row]:g})"
            raise CurveSetFormatError(f"{cell(path, row, col)}the {col}{shown} {what}")
    if "seconds" in numeric:
        seconds = numbers[:, 2]
        row = _first(seen[:, 2] & (np.isinf(seconds) | (seconds < 0)))
        if row is not None:
            raise CurveSetFormatError(f"{cell(path, row, 'seconds')}{seconds[row]:g} seconds: "
                                      "an epoch's time is a number >= 0 (or empty, or nan: "
                                      "unknown)")
    if configs is None:
        table = pd.DataFrame(index=pd.Index(pd.unique(ids), dtype=object, name="config_id"))
    else:
        table = _read_configs(Path(configs))
        row = _first(~ids.isin(table.index).to_numpy())
        if row is not None:
            raise CurveSetFormatError(f"{cell(path, row, 'config_id')}config {ids.iloc[row]!r} "
                                      f"has no row in the config table {configs}")
    if max_epoch is not None:  # e.g. one run's extra report at T + 1, which made the others short
        keep = epoch <= max_epoch
        if not keep.any():
            raise CurveSetFormatError(f"{path}: no row has an epoch <= --max-step {max_epoch}")
        ids, epoch, value = ids[keep], epoch[keep], value[keep]
        numbers, seen = numbers[keep], seen[keep]
    long = pd.DataFrame({"config_id": ids.reset_index(drop=True), "epoch": epoch.astype(np.int64),
                         "value": value})
    if "seconds" in numeric:
        long["seconds"] = np.where(seen[:, 2], numbers[:, 2], np.nan)
    provenance: dict[str, Any] = {"source": path.name, "sha256": file_sha256(path),
                  "importer": "long-table"}
    if configs is not None:
        provenance["configs"] = Path(configs).name
    if max_epoch is not None:
        provenance["max_step"] = int(max_epoch)
    return CurveSet.from_long(long, table, metric=metric, direction=direction,
                              provenance=provenance, diverged_value=diverged_value,
                              source=str(path))
