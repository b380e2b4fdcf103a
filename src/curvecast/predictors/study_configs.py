"""The configs of a study's curves as a predictor regresses on them: each curve's row of the
config table (found by id), encoded once per study and extended as curves are added, and the
running trial's row, encoded once per change."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.features import ConfigInputs

#: a config table, its values as objects (shape ``(rows, columns)``) and each index label's row
Table = tuple[pd.DataFrame, NDArray[np.object_], dict[Any, int]]


def index_positions(configs: pd.DataFrame) -> dict[Any, int]:
    """Each index label of ``configs`` → its row position.

    Raises:
        ValueError: the index repeats a label (an id would name two rows).
    """
    if not configs.index.is_unique:
        raise ValueError("config_ids name rows of a config table whose index repeats a label")
    # .tolist(): iterating a pandas string index boxes each label (2 ms at 1500 rows, 0.25 ms so)
    return {c: i for i, c in enumerate(configs.index.tolist())}


def positions_of(lookup: dict[Any, int], ids: Sequence[Any]) -> NDArray[np.intp]:
    """The row positions of ``ids`` in :func:`index_positions`' ``lookup``.

    Raises:
        ValueError: an id without a row (the first three named).
    """
    rows = [lookup.get(c, -1) for c in ids]
    missing = [c for c, r in zip(ids, rows, strict=True) if r < 0]
    if missing:
        raise ValueError(f"config ids {missing[:3]} have no row in the config table")
    return np.asarray(rows, dtype=np.intp)


class LastRowCache:
    """The encoding of the last one-row config table asked about, kept while its column names
    and values stay the same: a running trial's config, which a predictor encodes on every
    decision.  Values are compared one by one (``is``, then ``==``; NaN equals NaN; a value
    whose comparison is not one bool, such as an array, counts as changed)."""

    def __init__(self) -> None:
        self._key: tuple[tuple[Any, ...], list[Any]] | None = None
        self._value: Any = None

    def get(self, configs: pd.DataFrame,
            encode: Callable[[pd.DataFrame, list[Any]], NDArray[np.float64]]
            ) -> NDArray[np.float64]:
        """``encode(configs, row)`` for the one-row table ``configs`` (``row``: its values as a
        list), or the kept result when the names and values are those of the last call."""
        row = configs.iloc[0].tolist()  # a few times faster than to_numpy for one row
        key = (tuple(configs.columns), row)
        if self._key is None or not _same_row(self._key, key):
            self._key, self._value = key, encode(configs, row)
        return self._value


def _same_row(a: tuple[tuple[Any, ...], list[Any]], b: tuple[tuple[Any, ...], list[Any]]
              ) -> bool:
    """Whether two (column names, values) keys of :class:`LastRowCache` are the same."""
    if a[0] != b[0] or len(a[1]) != len(b[1]):
        return False
    for x, y in zip(a[1], b[1], strict=True):
        if x is y:
            continue
        try:
            equal = x == y
            if not isinstance(equal, (bool, np.bool_)):
                return False
            if not equal and not (isinstance(x, float) and isinstance(y, float)
                                  and math.isnan(x) and math.isnan(y)):
                return False
        except (TypeError, ValueError):
            return False
    return True


class StudyConfigs:
    """The encoded configs of a study's curves.

    The encoding (:class:`ConfigInputs`: which columns, their log, levels, mean and scale) is
    learned once per study, at the first fit with ``min_rows`` curves (with fewer, no link could
    use it), then taken over by every later fit that reuses it while its curves are the first
    ones (the same ids): only the rows added since are looked up and encoded, and the
    regressions on the configs stay valid.

    Attributes:
        inputs: the encoding, None before it is learned.
        z: the curves' encoded configs, shape ``(n_curves, inputs.width)`` (width 0 before).
        ids: each curve's config id, shape ``(n_curves,)``, None before the encoding.
    """

    def __init__(self, n_curves: int) -> None:
        self.inputs: ConfigInputs | None = None
        self.z: NDArray[np.float64] = np.zeros((n_curves, 0))
        self.ids: NDArray[np.object_] | None = None
        #: with config ids: the table looked up (built once per table in a study)
        self.table: Table | None = None
        self.query = LastRowCache()  # the running trial's encoding

    @classmethod
    def of(cls, configs: pd.DataFrame, ids: NDArray[np.object_], in_order: bool,
           min_rows: int, reuse: StudyConfigs | None) -> StudyConfigs:
        """The curves' configs: their ``ids`` and the table ``configs`` (``in_order``: its rows
        are the curves', in order; otherwise looked up by index label), encoded with ``reuse``'s
        encoding while its curves are the first of these, or with one learned here once there are
        ``min_rows`` curves.

        Raises:
            ValueError: a repeated index label, or an id without a row.
        """
        self = cls(len(ids))
        names = tuple(configs.columns)
        table = None if in_order else self._lookup(configs, reuse)

        def at(start: int) -> NDArray[np.intp]:
            """The rows of ``configs`` of the curves from ``start`` on."""
            if table is None:
                return np.arange(start, len(ids))
            return positions_of(table[2], list(ids[start:]))

        def values(start: int) -> NDArray[np.object_]:
            """Those rows' values as objects, in ``names``' order."""
            if table is None:
                return configs.iloc[start:].to_numpy(dtype=object)
            return table[1][at(start)]

        old = None if reuse is None else reuse.inputs
        known = None if reuse is None else reuse.ids
        if (reuse is not None and old is not None and known is not None
                and len(known) <= len(ids) and np.array_equal(known, ids[: len(known)])):
            inputs = old
            z = np.concatenate([reuse.z, old.encode_values(values(len(known)), names)])
            self.query = reuse.query  # the running trial's encoding, still valid
        elif len(ids) >= min_rows:
            # learned once per study, on the rows as the table types them
            inputs = ConfigInputs.learn(configs if table is None else configs.iloc[at(0)])
            z = inputs.encode_values(values(0), names)
        else:
            return self
        # kept even when no column is usable (width 0), so the next fit does not learn again
        self.inputs, self.z, self.ids = inputs, z, ids
        return self

    def _lookup(self, configs: pd.DataFrame, reuse: StudyConfigs | None) -> Table:
        """``configs``, its values as objects and each id's row: built once per table in a study
        (taken over from ``reuse`` while it is the same table, which a study's read-only view is;
        replay's is the recorded set's, and a pandas lookup of a few of its rows cost more than
        the fit)."""
        if reuse is not None and reuse.table is not None and reuse.table[0] is configs:
            self.table = reuse.table
        else:
            self.table = (configs, configs.to_numpy(dtype=object), index_positions(configs))
        return self.table

    def encode(self, configs: pd.DataFrame | None, n: int) -> NDArray[np.float64] | None:
        """``configs`` (``n`` rows) encoded as the curves' are, shape ``(n, inputs.width)``; None
        without configs or a usable encoding.  The last one-row table's encoding is kept (a
        running trial's config, asked about on every decision).

        Raises:
            ValueError: ``configs`` has another number of rows than ``n``.
        """
        inputs = self.inputs
        if configs is None or inputs is None or not inputs.width:
            return None
        if len(configs) != n:
            raise ValueError(f"{len(configs)} config rows for {n} partial curves")
        if n != 1:
            return inputs.encode_values(configs.to_numpy(dtype=object), tuple(configs.columns))

        def encode(table: pd.DataFrame, row: list[Any]) -> NDArray[np.float64]:
            raw = np.empty((1, len(row)), dtype=object)
            for j, value in enumerate(row):  # element by element: a value may itself be a list
                raw[0, j] = value
            return inputs.encode_values(raw, tuple(table.columns))

        return self.query.get(configs, encode)
