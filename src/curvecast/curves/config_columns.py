"""Config columns that a Parquet file and the feature encoder can hold: a column whose values are
not all of one plain kind (text, numbers or booleans) is kept as text.

Tools record configs loosely: Optuna's ``suggest_categorical("width", [None, 64, "auto"])`` and
Ray Tune's ``tune.choice`` give one column of mixed kinds, and an architecture is often logged as
a list (``[64, 64, 32]``).  Arrow cannot store a column of mixed kinds, and a list is no category,
so such a column becomes text: lists, tuples, dicts and arrays as JSON (``"[64, 64, 32]"``),
anything else as its ``str``; missing values (None, NaN) stay missing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["EXACT_WHOLE", "ID_COLUMN_RENAMED", "config_frame", "exact_whole_numbers",
           "plain_config_columns", "text_cell"]

#: What a config column (a hyperparameter) named ``config_id`` is called instead: that name is
#: the ids' (the config table's index, and a column of the long format).
ID_COLUMN_RENAMED = "param/config_id"


#: The largest whole number every smaller one of which a float holds exactly (2^53): beyond it
#: a float rounds (2^60 + 1 and 2^60 + 3 become one value).
EXACT_WHOLE = 2 ** 53

_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def exact_whole_numbers(cells: Sequence[Any]) -> pd.api.extensions.ExtensionArray | None:
    """``cells`` as a nullable ``Int64`` array when they are whole numbers (Python's or numpy's,
    not booleans) or missing (None, NaN), at least one is missing and at least one lies beyond
    :data:`EXACT_WHOLE`: a column pandas would make floats of, rounding those numbers (a seed,
    an id logged as a number).  None otherwise (the column is left as pandas makes it)."""
    present = [v for v in cells if not _missing(v)]
    if len(present) == len(cells) or not all(
            isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)
            for v in present):
        return None
    whole = [int(v) for v in present]
    if not any(abs(v) > EXACT_WHOLE for v in whole) or not all(
            _INT64[0] <= v <= _INT64[1] for v in whole):
        return None
    return pd.array([None if _missing(v) else int(v) for v in cells], dtype="Int64")


def config_frame(rows: Sequence[Mapping[str, Any]], index: list[str] | pd.Index
                 ) -> pd.DataFrame:
    """The config table of ``rows`` (one mapping per config, a key missing from some rows is
    missing there), as ``pd.DataFrame(rows, index=index)`` makes it, except that a column of
    whole numbers beyond 2^53 with a missing cell stays whole numbers (:func:`exact_whole_numbers`)
    instead of floats that round them."""
    rows = list(rows)
    frame = pd.DataFrame(rows, index=index)
    for name in frame.columns:
        column = frame[name]
        # (vectorised first: only a float column with a missing cell and a number at or beyond
        # 2^53, which is what a bigger whole number becomes, can qualify; a Python pass over
        # every float column's cells doubled the time of a 100k-row table)
        if (column.dtype.kind != "f" or not column.isna().any()
                or not (column.abs() >= EXACT_WHOLE).any()):
            continue
        exact = exact_whole_numbers([row.get(name) for row in rows])
        if exact is not None:
            frame[name] = pd.Series(exact, index=frame.index)
    return frame


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | np.integer | np.floating):
        return "number"
    return "other"


def text_cell(value: Any) -> str:
    """``value`` as a text cell: lists, tuples, dicts, sets and arrays as JSON
    (``'["a", "b"]'``), anything else as its ``str``."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, set):
        value = sorted(value, key=str)
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str)
    return str(value)


def plain_config_columns(configs: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``configs`` with every object column of mixed kinds, or holding lists, dicts or
    arrays, turned into text (see the module docstring), and a column named ``config_id`` (a
    hyperparameter of that name) renamed :data:`ID_COLUMN_RENAMED`.

    Column names become text, as a file holds them (``0`` and ``"0"`` would load as one name).

    Raises:
        ValueError: both ``config_id`` and :data:`ID_COLUMN_RENAMED` are columns; the columns
            are a MultiIndex; two names are the same as text."""
    out = configs.copy()
    if isinstance(out.columns, pd.MultiIndex):
        raise ValueError("the config table's columns are a MultiIndex "
                         f"({list(out.columns)[:3]}…): give one name per column (e.g. join the "
                         "levels: table.columns = ['/'.join(map(str, c)) for c in table.columns])")
    names = [str(c) for c in out.columns]
    if len(set(names)) < len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"config column {dup!r} appears more than once (as text, which a file "
                         "holds): give each column its own name")
    out.columns = pd.Index(names, dtype=object)
    configs = out
    if "config_id" in out.columns:  # a hyperparameter of that name: see ID_COLUMN_RENAMED
        if ID_COLUMN_RENAMED in out.columns:
            raise ValueError(f"config columns 'config_id' and {ID_COLUMN_RENAMED!r}: 'config_id' "
                             f"names the ids and would be renamed {ID_COLUMN_RENAMED!r}; rename "
                             "one of them")
        out = out.rename(columns={"config_id": ID_COLUMN_RENAMED})
        configs = out
    for name in configs.columns:
        column = configs[name]
        if column.dtype != object:
            continue
        kinds = {_kind(v) for v in column.tolist() if not _missing(v)}
        if len(kinds) <= 1 and "other" not in kinds:
            continue
        out[name] = pd.Series([None if _missing(v) else text_cell(v) for v in column.tolist()],
                              index=column.index, dtype=object)
    return out
