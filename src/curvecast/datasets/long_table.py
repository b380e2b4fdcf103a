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

from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.curves import CurveSet, CurveSetFormatError, Direction
from curvecast.curves.long import MAX_EPOCH, first_repeat
from curvecast.datasets.import_warnings import warns_of_what_it_read
from curvecast.datasets.table_blocks import read_blocks
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


class _Kept:
    """What a long table's checked blocks keep: each row's config as a code into the distinct
    ids (in order of first appearance), epoch, value and seconds (26 to 35 bytes a row)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.codes: list[NDArray[np.int64]] = []
        self.numbers: list[NDArray[np.float64]] = []
        self.seen: list[NDArray[np.bool_]] = []

    def codes_of(self, ids: pd.Series) -> NDArray[np.int64]:
        """The codes of a block's (non-empty) ids, new ids numbered on."""
        local, uniques = pd.factorize(ids)
        text = [str(u) for u in np.asarray(uniques, dtype=object)]
        mapped = np.array([self.index.setdefault(t, len(self.index)) for t in text],
                          dtype=np.int64)
        return mapped[local] if len(local) else np.empty(0, dtype=np.int64)

    def first_repeat(self, codes: NDArray[np.int64], epoch: NDArray[np.float64]) -> int | None:
        """The first row, among the kept blocks' and this block's, that repeats an earlier
        row's (config id, epoch)."""
        return first_repeat(np.concatenate([*self.codes, codes]),
                            np.concatenate([*(n[:, 0] for n in self.numbers), epoch]
                                           ).astype(np.int64))

    def ids(self) -> pd.Series:
        """Every kept row's config id (a categorical Series over the distinct ids)."""
        codes: NDArray[np.int64] = (np.concatenate(self.codes) if self.codes
                                    else np.empty(0, dtype=np.int64))
        return pd.Series(pd.Categorical.from_codes(codes, pd.Index(list(self.index))))


def _check_block(path: Path, first: int, ids: pd.Series, numbers: np.ndarray,
                 seen: np.ndarray, kept: _Kept) -> np.ndarray:
    """Refuse the first bad cell of a block whose first row is the file's row ``first``
    (0-based); return its rows' config codes."""
    row = _first(ids.isna().to_numpy())
    if row is not None:
        raise CurveSetFormatError(f"{cell(path, first + row, 'config_id')}the config id is "
                                  "empty")
    codes = kept.codes_of(ids)
    epoch = numbers[:, 0]
    whole = seen[:, 0] & (epoch >= 0) & (np.mod(epoch, 1) == 0) & (epoch <= MAX_EPOCH)
    # a repeat within the block (a decompressed file's 10^8 copies of one line) is found
    # here; one across blocks once every block is read (first_repeat in CurveSet.from_long
    # would find it too, but name no row)
    repeat = None
    if whole.all() and first_repeat(codes, epoch.astype(np.int64)) is not None:
        repeat = kept.first_repeat(codes, epoch)
    for col, mask, what in (
            ("epoch", ~seen[:, 0], "is empty"),
            ("epoch", seen[:, 0] & ~whole, f"is not a whole number in 0..{MAX_EPOCH:.3g}"),
            ("value", ~seen[:, 1], _EMPTY_PARQUET_VALUE if is_parquet(path) else
             "is empty (a row is one observation; write nan for a diverged run)")):
        row = _first(mask)
        if row is not None:
            shown = "" if col == "value" or not seen[row, 0] else f" ({epoch[row]:g})"
            raise CurveSetFormatError(f"{cell(path, first + row, col)}the {col}{shown} {what}")
    if repeat is not None:
        _refuse_repeat(path, repeat, kept, numbers, first)
    if numbers.shape[1] > 2:
        seconds = numbers[:, 2]
        row = _first(seen[:, 2] & (np.isinf(seconds) | (seconds < 0)))
        if row is not None:
            raise CurveSetFormatError(f"{cell(path, first + row, 'seconds')}{seconds[row]:g} "
                                      "seconds: an epoch's time is a number >= 0 (or empty, "
                                      "or nan: unknown)")
    return codes


def _refuse_repeat(path: Path, row: int, kept: _Kept, numbers: np.ndarray, first: int) -> None:
    """Raise for the file's row ``row`` (0-based), which repeats an earlier row's (config id,
    epoch); ``numbers``: the block whose first row is ``first``, after the kept blocks."""
    if row >= first:
        epoch = float(numbers[row - first, 0])
    else:
        epoch = float(np.concatenate([n[:, 0] for n in kept.numbers])[row])
    raise CurveSetFormatError(f"{cell(path, row, 'epoch')}the epoch ({epoch:g}) repeats an "
                              "earlier row's (config_id, epoch)")


def _read_long(path: Path, numeric: list[str]) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """The long table's checked rows: config ids, numbers (n, len(numeric)) and observed."""
    kept = _Kept()
    with closing(read_blocks(path, numeric, ["config_id"])) as blocks:  # the file, at once
        for first, rest, (numbers, seen) in blocks:
            codes = _check_block(path, first, rest["config_id"], numbers, seen, kept)
            kept.codes.append(codes)
            kept.numbers.append(numbers)
            kept.seen.append(seen)
    n = len(numeric)
    numbers = np.concatenate(kept.numbers) if kept.numbers else np.empty((0, n))
    seen = np.concatenate(kept.seen) if kept.seen else np.empty((0, n), bool)
    if len(kept.codes) > 1:  # a repeat across blocks (one within a block is refused above)
        row = kept.first_repeat(np.empty(0, np.int64), np.empty(0))
        if row is not None:
            _refuse_repeat(path, row, kept, numbers, 0)
    return kept.ids(), numbers, seen


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


def _as_number_or_text(config_id: object) -> str:
    """An id as a spreadsheet might have rewritten it: a whole number without leading zeros or
    a trailing ``.0`` (``"007"``, ``"7.0"`` → ``"7"``), else the text without outer spaces."""
    text = str(config_id).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _written_otherwise(config_id: object, table_ids: pd.Index) -> str:
    """``"; the config table has '007' …"`` when ``config_id`` is one of the table's ids
    written another way (a leading zero or a ``.0`` a spreadsheet dropped or added, a space),
    else ``""``: ids are compared as written."""
    key = _as_number_or_text(config_id)
    near = [t for t in table_ids if _as_number_or_text(t) == key]
    if not near:
        return ""
    return (f"; the config table has {str(near[0])!r}: ids are compared as written (a leading "
            "zero, a '.0' or a space counts), so write them alike in both files")


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
            epoch repeated for a config, a config the config table lacks).  The file is read
            in blocks (:mod:`curvecast.datasets.table_blocks`), each checked as it is read: the
            error is the first block's that has one (a repeat across blocks: once all are read).
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
    ids, numbers, seen = _read_long(path, numeric)
    epoch, value = numbers[:, 0], numbers[:, 1]
    if configs is None:
        table = pd.DataFrame(index=pd.Index(pd.unique(ids), dtype=object, name="config_id"))
    else:
        table = _read_configs(Path(configs))
        row = _first(~ids.isin(table.index).to_numpy())
        if row is not None:
            raise CurveSetFormatError(f"{cell(path, row, 'config_id')}config {ids.iloc[row]!r} "
                                      f"has no row in the config table {configs}"
                                      + _written_otherwise(ids.iloc[row], table.index))
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
