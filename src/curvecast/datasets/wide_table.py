"""Learning curves from a wide table: one row per config, one column per epoch.

A spreadsheet, a pandas export or one of the paper's published files::

    lr,width,acc_1,acc_2,acc_3
    0.01,64,0.41,0.55,0.61
    0.1,32,0.38,,

``curves`` is a regular expression with one group, the epoch number; it must match a whole column
name (``acc_(\\d+)`` matches ``acc_12`` but not ``acc_12_test``).  The other columns are the config
table; a column named ``config_id`` (the name curvecast's long tables and files use) holds the
config ids unless another ``id_column`` is named.  An empty cell (a null in Parquet) is an epoch
the run did not reach; ``nan``/``inf`` is a diverged run (counted as the worst value, curvecast's
one rule).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast.curves import CurveSet, CurveSetFormatError, CurveSetWarning, Direction
from curvecast.datasets.import_warnings import warns_of_what_it_read
from curvecast.datasets.near_curve_columns import near_curve_columns_warning
from curvecast.datasets.table_io import cell, file_sha256, read_columns, read_table

__all__ = ["curve_columns", "from_table"]


def curve_columns(columns: list[str], curves: str, source: str = "<table>") -> dict[int, str]:
    """Epoch → column name of the columns whose whole name matches ``curves``, by epoch.

    Raises:
        CurveSetFormatError: an invalid regex, a regex without exactly one group, no matching
            column, an epoch group that is not a whole number, or two columns of one epoch.
    """
    try:
        pattern = re.compile(curves)
    except re.error as err:
        raise CurveSetFormatError(f"--curves '{curves}': not a regular expression ({err})") from None
    if pattern.groups != 1:
        raise CurveSetFormatError(f"--curves '{curves}': needs exactly one group, the epoch "
                                  f"number (e.g. 'acc_(\\d+)'); it has {pattern.groups}")
    found: dict[int, str] = {}
    for col in columns:
        match = pattern.fullmatch(col)
        if not match:
            continue
        text = match.group(1)
        if text is None or not text.strip().isdigit():
            raise CurveSetFormatError(f"{source}: column {col!r}: the --curves group matched "
                                      f"{text!r}, not an epoch number")
        epoch = int(text)
        if epoch in found:
            raise CurveSetFormatError(f"{source}: columns {found[epoch]!r} and {col!r} are both "
                                      f"epoch {epoch}")
        found[epoch] = col
    if not found:
        shown = columns[:12] + (["…"] if len(columns) > 12 else [])
        raise CurveSetFormatError(f"{source}: no column matches --curves '{curves}' "
                                  f"(columns: {shown})")
    return dict(sorted(found.items()))


#: The column a table's config ids are read from when no other is named.
ID_COLUMN = "config_id"


@warns_of_what_it_read
def from_table(path: str | Path, curves: str, metric: str, direction: Direction | str, *,
               id_column: str | None = None, diverged_value: float | None = None,
               max_epoch: int | None = None) -> CurveSet:
    """Load a wide CSV or Parquet table of learning curves (see the module docstring).

    Args:
        path: a CSV file, or Parquet (suffix ``.parquet`` / ``.pq``).
        curves: regex whose one group is the epoch number, e.g. ``r"acc_(\\d+)"``.
        metric: the metric's name (e.g. ``"val_accuracy"``).
        direction: ``"maximize"`` or ``"minimize"``.
        id_column: the column holding config ids (default: ``config_id`` if the table has it,
            else ids ``row-0001``, … in file order).
        diverged_value: the value a NaN/inf observation counts as (default: the worst observed).
        max_epoch: leave out the curve columns of later epochs (e.g. one run's extra report at
            epoch T + 1, which makes every other run partial); they are not config columns
            either.  None: every curve column.

    Raises:
        FileNotFoundError: no such file.
        CurveSetFormatError: naming the file, row and column of the first malformed cell, or
            what is wrong with ``curves``, ``id_column`` or ``direction``.
    """
    path = Path(path)
    source = str(path)
    try:
        direction = Direction.parse(direction)
    except ValueError as err:
        raise CurveSetFormatError(f"--direction: {err}") from None
    columns = read_columns(path)
    by_epoch = curve_columns(columns, curves, source)
    misspelt = near_curve_columns_warning(columns, curves, source)
    if misspelt is not None:
        warnings.warn(misspelt, CurveSetWarning, stacklevel=3)
    later: list[str] = []
    if max_epoch is not None:
        later = [c for e, c in by_epoch.items() if e > max_epoch]
        by_epoch = {e: c for e, c in by_epoch.items() if e <= max_epoch}
        if not by_epoch:
            raise CurveSetFormatError(f"{source}: no curve column of an epoch <= --max-step "
                                      f"{max_epoch}")
    if id_column is None and ID_COLUMN in columns:
        id_column = ID_COLUMN
    configs, (values, observed) = read_table(path, list(by_epoch.values()),
                                             text=[] if id_column is None else [id_column])
    configs = configs.drop(columns=later)  # a later epoch's values are not a config feature
    if len(configs) == 0:
        raise CurveSetFormatError(f"{source}: the table has no rows")
    if id_column is not None:
        if id_column not in configs.columns:
            raise CurveSetFormatError(f"{source}: no id column {id_column!r} (columns: "
                                      f"{list(configs.columns)})")
        ids = configs.pop(id_column)
        missing = ids.isna().to_numpy()
        duplicated = ids.astype(str).duplicated().to_numpy()
        for mask, what in ((missing, "is empty"), (duplicated, "repeats an earlier row's id")):
            if mask.any():
                row = int(np.flatnonzero(mask)[0])
                raise CurveSetFormatError(f"{cell(path, row, id_column)}the config id {what}")
        configs.index = pd.Index(ids.astype(str).to_numpy(), name="config_id")
    else:
        configs.index = pd.Index([f"row-{i + 1:04d}" for i in range(len(configs))],
                                 name="config_id")
    provenance: dict[str, Any] = {"source": path.name, "sha256": file_sha256(path),
                                  "importer": "table", "curves": curves}
    if max_epoch is not None:
        provenance["max_step"] = int(max_epoch)
    return CurveSet(values=values, observed=observed,
                    epochs=np.array(list(by_epoch), dtype=np.int64), metric=metric,
                    direction=direction, configs=configs, provenance=provenance,
                    diverged_value=diverged_value)
