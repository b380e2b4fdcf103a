"""A long table ``(config_id, epoch, value[, seconds])`` turned into a CurveSet's arrays.

:func:`long_to_arrays` checks the table and the config table (each error names the source, the
config and the field) and places every row on the ``(config, epoch)`` grid;
:meth:`curvecast.curves.CurveSet.from_long` builds the CurveSet from what it returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.curves.direction import Direction
from curvecast.curves.errors import CurveSetFormatError
from curvecast.curves.errors import where as _where


class LongArrays(NamedTuple):
    """The checked parts of a CurveSet read from a long table (shapes as in :class:`CurveSet`)."""

    direction: Direction
    configs: pd.DataFrame
    epochs: NDArray[np.int64]
    values: NDArray[np.float64]
    observed: NDArray[np.bool_]
    seconds: NDArray[np.float64] | None
    test_values: NDArray[np.float64]


def long_to_arrays(
    long: pd.DataFrame,
    configs: pd.DataFrame,
    *,
    direction: Direction | str,
    epochs: Sequence[int] | NDArray[np.int64] | None,
    test_values: Mapping[str, float] | None,
    source: str | None,
) -> LongArrays:
    """The arrays of the CurveSet that ``long`` and ``configs`` describe (see
    :meth:`curvecast.curves.CurveSet.from_long` for the arguments and the errors)."""
    _check_columns(long, source)
    try:
        direction = Direction.parse(direction)
    except ValueError as err:
        raise CurveSetFormatError(f"{_where(source, field_='direction')}{err}") from None
    configs = _config_table(configs, source)
    ids, ep, rows = _rows(long, configs, source)
    axis, cols = _columns(ids, ep, epochs, source)
    shape = (len(configs), axis.size)
    last = np.full(shape[0], -1, dtype=np.int64)  # each config's last epoch column
    np.maximum.at(last, rows, cols)
    check_table_size(shape, len(long), source, reached=int((last + 1).sum()))
    values = np.full(shape, np.nan)
    observed = np.zeros(shape, dtype=bool)
    values[rows, cols] = _numbers(long, "value", ids, source)
    observed[rows, cols] = True
    seconds = None
    if "seconds" in long.columns:
        seconds = np.full(shape, np.nan)
        seconds[rows, cols] = _numbers(long, "seconds", ids, source)
    tests = np.full(len(configs), np.nan)
    if test_values is not None:
        for cid, v in test_values.items():
            if str(cid) not in configs.index:
                raise CurveSetFormatError(f"{_where(source, str(cid), 'test_values')}a test "
                                          "value of a config the curves do not have")
            try:
                tests[configs.index.get_loc(str(cid))] = float(v)
            except (TypeError, ValueError):
                raise CurveSetFormatError(f"{_where(source, str(cid), 'test_values')}{v!r} is "
                                          "not a number") from None
    return LongArrays(direction, configs, axis, values, observed, seconds, tests)


#: How a NaN is written in a text cell (lower case): a diverged run's value, not a typo.
NAN_TEXT = frozenset({"nan", "+nan", "-nan"})


def _numbers(long: pd.DataFrame, column: str, ids: _Ids, source: str | None
             ) -> NDArray[np.float64]:
    """The long table's ``column`` as floats; a cell that is not a number (text, None) is
    refused naming its config (NaN and ±inf, a diverged run's, are numbers)."""
    raw = long[column]
    numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)

    def not_a_number(cell: Any) -> bool:  # NaN (written "nan", or missing) is a number here
        if isinstance(cell, str):
            return cell.strip().lower() not in NAN_TEXT
        return not (cell is None or cell is pd.NA or isinstance(cell, int | float | np.number))

    if raw.dtype.kind in "fiub":  # a numeric column: every cell is a number (a review, stop
        return numbers  # 36: the check below cost a Python call per cell, seconds per million)
    missing = np.flatnonzero(np.isnan(numbers))  # only those can be text
    bad = missing[raw.iloc[missing].map(not_a_number).to_numpy(dtype=bool)]
    if bad.size:
        i = int(bad[0])
        raise CurveSetFormatError(f"{_where(source, ids[i], column)}{raw.iloc[i]!r} is not a "
                                  "number")
    return numbers


def _check_columns(long: pd.DataFrame, source: str | None) -> None:
    """Refuse a curve table without ``config_id``, ``epoch`` or ``value``."""
    for col in ("config_id", "epoch", "value"):
        if col not in long.columns:
            raise CurveSetFormatError(f"{_where(source)}missing column {col!r} in the curve table "
                                      f"(has {list(long.columns)})")


def _config_table(configs: pd.DataFrame, source: str | None) -> pd.DataFrame:
    """A copy of ``configs`` indexed by string ``config_id``; refused when empty or duplicated."""
    if "config_id" in configs.columns:
        configs = configs.set_index("config_id")
    configs = configs.copy()
    configs.index = pd.Index([str(i) for i in configs.index], name="config_id")
    if len(configs) == 0:
        raise CurveSetFormatError(f"{_where(source)}empty CurveSet: the config table has no rows")
    if configs.index.has_duplicates:
        dup = configs.index[configs.index.duplicated()][0]
        raise CurveSetFormatError(f"{_where(source, dup, 'config_id')}duplicated in the "
                                  "config table")
    return configs


#: Where a Linux container's memory limit is read (cgroup v2, then v1).
_CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"),
                  Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def machine_memory() -> int:
    """This machine's memory in bytes: the physical memory, or a container's cgroup limit when
    that is less (a CI runner of 2 GiB on a 64 GiB host: the size checks compared with the
    host's); 0 where neither can be read (no ``sysconf``, as on Windows): then no table is
    refused for its size."""
    try:
        physical = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        physical = 0
    limits = [physical] if physical > 0 else []
    for file in _CGROUP_LIMITS:
        try:
            text = file.read_text().strip()
        except (OSError, ValueError):
            continue
        if text.isdigit() and int(text) > 0:  # "max": no limit
            limits.append(int(text))
    return min(limits, default=0)


#: A table of configs × epochs with at least this many cells must have 1 % of them observed.
SPARSE_CELLS = 50_000_000


def check_table_size(shape: tuple[int, int], observations: int, source: str | None,
                     reached: int | None = None) -> None:
    """Refuse a configs × epochs table that would not fit in memory (a CurveSet keeps about four
    arrays of it: more than a quarter of the machine's memory per array), or that is large and
    almost empty where its runs went (under 1 % of the ``reached`` cells, each config's up to
    its last epoch, observed, from :data:`SPARSE_CELLS` cells on: a file of 20,000 rows, config
    *i* at epoch *i*, asked for a 3 GB table of which all but the rows' last cell count as
    diverged gaps), before it is allocated.  Runs stopped early (ASHA's, most after 1, 3 or 9
    of 5000 epochs) reach few cells and are fine.

    Raises:
        CurveSetFormatError: naming the source, the table's shape and why.
    """
    cells = shape[0] * shape[1]
    memory = machine_memory()
    what = (f"{_where(source)}{shape[0]} configs x {shape[1]} epochs ({cells:.3g} cells, "
            f"{8 * cells / 2**30:.3g} GiB per array)")
    if memory > 0 and 8 * cells > memory / 4:
        raise CurveSetFormatError(f"{what}: more than this machine's memory "
                                  f"({memory / 2**30:.3g} GiB) holds")
    reached = cells if reached is None else reached
    if cells >= SPARSE_CELLS and observations < reached / 100:
        raise CurveSetFormatError(f"{what} with {observations} observations: under 1 % of the "
                                  "cells up to each run's last epoch, not learning curves (each "
                                  "run's epochs far apart on one axis); give each run's values "
                                  "at the epochs they share")


#: The largest epoch number read: every whole number up to it is exact as a float (2^53), and
#: far beyond it a count wraps to a negative int64.
MAX_EPOCH = 2 ** 53


def whole_epochs(epochs: Any) -> NDArray[np.int64]:
    """``epochs`` as int64, refusing what a cast would silently change: fractions (0.5 → 0),
    NaN or infinite values, text."""
    raw = np.asarray(epochs)
    if raw.dtype.kind in "iu":
        if raw.size and raw.max() > MAX_EPOCH:
            raise ValueError(f"epochs must be at most {MAX_EPOCH:.3g}, got {int(raw.max())}")
        return np.array(raw, dtype=np.int64, copy=True)
    if raw.dtype.kind == "b":
        return np.array(raw, dtype=np.int64, copy=True)
    try:
        as_float = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"epochs must be whole numbers >= 0, got {raw.tolist()}") from None
    if np.any(np.abs(as_float) > MAX_EPOCH):  # beyond int64 it would wrap to a negative
        raise ValueError(f"epochs must be at most {MAX_EPOCH:.3g}, got "
                         f"{float(as_float[np.abs(as_float) > MAX_EPOCH][0]):g}")
    bad = ~np.isfinite(as_float) | (as_float != np.round(as_float))
    if bad.any():
        raise ValueError(f"epochs must be whole numbers >= 0 (count epochs, or give the values "
                         f"at whole epochs), got {as_float[bad][:5].tolist()}")
    return as_float.astype(np.int64)


def first_repeat(codes: NDArray[np.integer], ep: NDArray[np.integer]) -> int | None:
    """The first row whose (``codes``, ``ep``) pair an earlier row has (as
    ``DataFrame.duplicated`` finds it, by a sort of whole numbers: ten times faster on 10^7
    rows), or None."""
    codes = np.asarray(codes, dtype=np.int64)
    ep = np.asarray(ep, dtype=np.int64)
    if codes.size < 2:
        return None
    span = int(ep.max()) - int(ep.min()) + 1 if ep.size else 1
    if int(codes.max()) + 1 > (2**62) // span:  # the pair does not fit one int64
        found = pd.DataFrame({"c": codes, "e": ep}).duplicated().to_numpy()
        return int(np.flatnonzero(found)[0]) if found.any() else None
    key = codes * span + (ep - ep.min())
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    later = order[1:][ordered[1:] == ordered[:-1]]
    return int(later.min()) if later.size else None


class _Ids:
    """A long table's config ids as text, kept as codes into the distinct ids (10^7 rows of
    10^5 configs were 10^7 Python strings, copied three times): ``ids[i]`` is row i's id."""

    def __init__(self, column: pd.Series) -> None:
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
        # equal as text, distinct as values (1 and "1"): one id
        text = np.array([str(u) for u in np.asarray(uniques, dtype=object)], dtype=object)
        merged, self.uniques = pd.factorize(text)
        self.uniques = np.asarray(self.uniques, dtype=object)
        self.codes = merged[codes]

    def __getitem__(self, i: int) -> str:
        return str(self.uniques[self.codes[i]])


def distinct_ids(column: pd.Series) -> NDArray[np.object_]:
    """A long table's distinct config ids as text, in order of first appearance (1 and "1" are
    one id)."""
    return _Ids(column).uniques


def _rows(long: pd.DataFrame, configs: pd.DataFrame, source: str | None
          ) -> tuple[_Ids, NDArray[np.int64], NDArray[np.intp]]:
    """Each long row's config id, epoch and row in ``configs``; refuses a non-integer epoch, a
    (config, epoch) given twice and a config missing from the config table."""
    ids = _Ids(long["config_id"])
    raw = pd.to_numeric(long["epoch"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(raw) | (raw != np.round(raw)) | (raw < 0) | (raw > MAX_EPOCH)
    if bad.any():  # a cast would cut 0.5 to 0 (the untrained epoch) without a word
        i = int(np.flatnonzero(bad)[0])
        given = long["epoch"].iloc[i]
        given = given.item() if isinstance(given, np.generic) else given
        raise CurveSetFormatError(f"{_where(source, ids[i], 'epoch')}the epoch ({given!r}) is "
                                  f"not a whole number in 0..{MAX_EPOCH:.3g}")
    ep = raw.astype(np.int64)
    repeat = first_repeat(ids.codes, ep)
    if repeat is not None:
        raise CurveSetFormatError(f"{_where(source, ids[repeat], 'epoch')}epoch {ep[repeat]} "
                                  "appears more than once")
    rows = configs.index.get_indexer(pd.Index(ids.uniques, dtype=object))[ids.codes]
    if (rows < 0).any():
        bad = ids[int(np.flatnonzero(rows < 0)[0])]
        raise CurveSetFormatError(f"{_where(source, bad, 'config_id')}has curve values but "
                                  "no row in the config table")
    return ids, ep, rows


def _columns(ids: _Ids, ep: NDArray[np.int64],
             epochs: Sequence[int] | NDArray[np.int64] | None, source: str | None
             ) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """The epoch axis (``epochs``, or the epochs present) and each long row's column on it;
    refuses an empty axis and an epoch off it."""
    axis = np.unique(ep) if epochs is None else whole_epochs(epochs)
    if axis.size == 0:
        raise CurveSetFormatError(f"{_where(source)}empty CurveSet: no epochs")
    cols = np.searchsorted(axis, ep)
    off = (cols >= axis.size) | (axis[np.minimum(cols, axis.size - 1)] != ep)
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise CurveSetFormatError(f"{_where(source, ids[i], 'epoch')}epoch {ep[i]} is not "
                                  f"on the epoch axis {axis.tolist()}")
    return axis, cols
