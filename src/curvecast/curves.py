"""Learning curves: the one data structure every part of curvecast reads.

A :class:`CurveSet` holds the validation curves of many configurations of one workload:

* ``values[config, epoch]`` (float64, shape ``(n_configs, n_epochs)``), NaN where not observed;
* ``observed[config, epoch]`` (bool, same shape): whether the run reported that epoch.  A run that
  diverged reports NaN or ±inf; those entries are *observed* and kept exactly as reported;
* ``epochs`` (int64, shape ``(n_epochs,)``, strictly increasing): the budget axis.  Epoch 0, where
  present, is the untrained network (``has_untrained_epoch``);
* ``seconds[config, epoch]`` (float64): wall-clock seconds the epoch took, NaN where unknown;
* ``configs``: one row per configuration (hyperparameters, architecture encoding, ``n_params``,
  ``n_layers``), indexed by a string ``config_id`` in the same order as the rows of ``values``;
* ``test_values`` (float64, shape ``(n_configs,)``): the test-set value after the last epoch, NaN
  where unknown;
* the metric's name and :class:`Direction`, and a ``provenance`` mapping.

**Diverged runs, the one rule.**  An observed value that is NaN or ±inf counts as the *worst value
of the metric*: :meth:`CurveSet.filled_values` replaces it by :attr:`CurveSet.diverged_fill`, which
is ``diverged_value`` when the data set states one (e.g. chance accuracy) and otherwise the worst
finite value observed anywhere in the set (lowest accuracy, highest perplexity).  Every later part
(features, predictors, stopping) reads curves through that rule; the raw values stay untouched.

**Gaps count as diverged.**  A curve ends at its last observed epoch; an epoch missing *before*
that one (an empty cell in the middle of a CSV row, a missing row of the long table) is a run
that reported no number there, so it is an observed NaN — diverged, by the rule above — and never
a shorter curve.  Only epochs after the last observed one are unobserved.

On disk a CurveSet is one Parquet file: a long table ``(config_id, epoch, value, seconds)`` with one
row per observed epoch, and in the file's metadata the metric, direction, epoch axis, provenance and
the config table (as an Arrow IPC stream, so dtypes and floats survive exactly).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

FORMAT_VERSION = "1"
_META_PREFIX = b"curvecast."
_TEST_COLUMN = "__curvecast_test_value__"
_LONG_COLUMNS = ("config_id", "epoch", "value", "seconds")


class Direction(StrEnum):
    """Whether a larger (accuracy) or a smaller (loss, perplexity) metric value is better."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"

    @classmethod
    def parse(cls, text: str | Direction) -> Direction:
        """Return the direction named by ``text`` (``"maximize"``/``"max"``/``"minimize"``/``"min"``).

        Raises:
            ValueError: naming the unknown direction.
        """
        if isinstance(text, Direction):
            return text
        aliases = {"max": cls.MAXIMIZE, "maximize": cls.MAXIMIZE,
                   "min": cls.MINIMIZE, "minimize": cls.MINIMIZE}
        try:
            return aliases[str(text).strip().lower()]
        except KeyError:
            raise ValueError(
                f"unknown direction {text!r}: expected 'maximize' or 'minimize'"
            ) from None

    @property
    def sign(self) -> float:
        """+1.0 when larger is better, -1.0 otherwise: ``sign * value`` is always 'higher is better'."""
        return 1.0 if self is Direction.MAXIMIZE else -1.0

    def is_better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self is Direction.MAXIMIZE else a < b

    def worst(self, values: NDArray[np.float64]) -> float:
        """The worst finite value in ``values`` (NaN when there is none)."""
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return float("nan")
        return float(finite.min() if self is Direction.MAXIMIZE else finite.max())

    def best(self, values: NDArray[np.float64]) -> float:
        """The best finite value in ``values`` (NaN when there is none)."""
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return float("nan")
        return float(finite.max() if self is Direction.MAXIMIZE else finite.min())


def diverged_fill(direction: Direction, seen: NDArray[np.float64],
                  diverged_value: float | None = None) -> float:
    """The value a diverged observation (NaN or ±inf) counts as: curvecast's one rule.

    Args:
        direction: the metric's direction.
        seen: the values observed so far (any shape; non-finite ones are ignored).
        diverged_value: the value the data states for a diverged run (e.g. chance accuracy).

    Returns:
        ``diverged_value`` when given, else the worst finite value in ``seen`` (metric units);
        NaN when there is neither.
    """
    if diverged_value is not None:
        return float(diverged_value)
    return direction.worst(np.asarray(seen, dtype=np.float64))


def fill_diverged(values: NDArray[np.float64], observed: NDArray[np.bool_], direction: Direction,
                  diverged_value: float | None = None) -> NDArray[np.float64]:
    """A copy of ``values`` with each observed non-finite entry replaced by :func:`diverged_fill`
    over the observed entries; unobserved entries are left as they are.

    Args:
        values: shape ``(n_curves, n_epochs)``, as reported.
        observed: same shape: which entries were reported.
        direction: the metric's direction.
        diverged_value: the value the data states for a diverged run, if any.
    """
    out = np.array(values, dtype=np.float64, copy=True)
    bad = observed & ~np.isfinite(out)
    if bad.any():
        out[bad] = diverged_fill(direction, out[observed], diverged_value)
    return out


class DivergedFill:
    """:func:`diverged_fill` over a stream of observations (a study that runs): call
    :meth:`see` with every value reported, then ``fill(value)`` maps a value to what it counts as.

    Args:
        direction: the metric's direction.
        diverged_value: the value the data states for a diverged run, if any.
    """

    def __init__(self, direction: Direction, diverged_value: float | None = None) -> None:
        self.direction = Direction.parse(direction)
        self.diverged_value = diverged_value
        self.worst_seen = float("nan")

    def see(self, value: float) -> None:
        """Take one reported value into account."""
        if np.isfinite(value):
            self.worst_seen = self.direction.worst(np.array([value, self.worst_seen]))

    def fill(self, value: float) -> float:
        """``value`` when finite, else what a diverged value counts as now (NaN when nothing
        finite was seen and the data states no value)."""
        if np.isfinite(value):
            return float(value)
        return diverged_fill(self.direction, np.array([self.worst_seen]), self.diverged_value)


class CurveSetFormatError(ValueError):
    """A file or table does not hold a valid CurveSet; the message names the file, config and field."""


def _where(source: str | None, config: str | None = None, field_: str | None = None) -> str:
    parts = [p for p in (source, f"config {config!r}" if config is not None else None,
                         f"field {field_!r}" if field_ is not None else None) if p]
    return ": ".join(parts) + ": " if parts else ""


@dataclass(frozen=True, eq=False)
class CurveSet:
    """Learning curves of many configurations of one workload (see the module docstring)."""

    values: NDArray[np.float64]
    observed: NDArray[np.bool_]
    epochs: NDArray[np.int64]
    metric: str
    direction: Direction
    configs: pd.DataFrame
    seconds: NDArray[np.float64] | None = None
    test_values: NDArray[np.float64] | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    diverged_value: float | None = None

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64, copy=True)
        observed = np.array(self.observed, dtype=bool, copy=True)
        epochs = np.array(self.epochs, dtype=np.int64, copy=True)
        if values.ndim != 2:
            raise ValueError(f"values must be 2-D (configs, epochs), got shape {values.shape}")
        if observed.shape != values.shape:
            raise ValueError(f"observed has shape {observed.shape}, values {values.shape}")
        if epochs.shape != (values.shape[1],):
            raise ValueError(f"epochs has shape {epochs.shape}, expected ({values.shape[1]},)")
        if epochs.size and (np.any(np.diff(epochs) <= 0) or epochs[0] < 0):
            raise ValueError(f"epochs must be non-negative and strictly increasing, got {epochs}")
        if len(self.configs) != values.shape[0]:
            raise ValueError(
                f"config table has {len(self.configs)} rows, values {values.shape[0]} configs"
            )
        configs = self.configs.copy()
        configs.index = pd.Index([str(i) for i in configs.index], name="config_id")
        if configs.index.has_duplicates:
            dup = configs.index[configs.index.duplicated()][0]
            raise ValueError(f"config {dup!r}: duplicated config_id in the config table")
        if observed.size:  # a gap before a curve's last observed epoch is a diverged report
            n = observed.shape[1]
            ends = np.where(observed.any(axis=1), n - np.argmax(observed[:, ::-1], axis=1), 0)
            gaps = (np.arange(n)[None, :] < ends[:, None]) & ~observed
            values[gaps] = np.nan
            observed |= gaps
        values[~observed] = np.nan
        seconds = None
        if self.seconds is not None:
            seconds = np.array(self.seconds, dtype=np.float64, copy=True)
            if seconds.shape != values.shape:
                raise ValueError(f"seconds has shape {seconds.shape}, values {values.shape}")
            seconds[~observed] = np.nan
        test_values = np.full(values.shape[0], np.nan)
        if self.test_values is not None:
            test_values = np.array(self.test_values, dtype=np.float64, copy=True)
            if test_values.shape != (values.shape[0],):
                raise ValueError(f"test_values has shape {test_values.shape}, "
                                 f"expected ({values.shape[0]},)")
        for array in (values, observed, epochs, test_values, seconds):
            if array is not None:
                array.setflags(write=False)
        set_ = object.__setattr__
        set_(self, "values", values)
        set_(self, "observed", observed)
        set_(self, "epochs", epochs)
        set_(self, "configs", configs)
        set_(self, "seconds", seconds)
        set_(self, "test_values", test_values)
        set_(self, "direction", Direction.parse(self.direction))
        set_(self, "provenance", dict(self.provenance))

    # ----------------------------------------------------------------- shape and access
    @property
    def n_configs(self) -> int:
        """Number of configurations (rows)."""
        return int(self.values.shape[0])

    @property
    def n_epochs(self) -> int:
        """Number of points on the budget axis (columns), epoch 0 included when present."""
        return int(self.values.shape[1])

    @property
    def config_ids(self) -> list[str]:
        """The configurations' ids, in row order."""
        return list(self.configs.index)

    @property
    def has_untrained_epoch(self) -> bool:
        """Whether the first column is epoch 0, the untrained network."""
        return bool(self.epochs.size and self.epochs[0] == 0)

    def __len__(self) -> int:
        return self.n_configs

    def __repr__(self) -> str:
        return (f"CurveSet(metric={self.metric!r}, direction={self.direction.value}, "
                f"configs={self.n_configs}, epochs={self.n_epochs}, "
                f"complete={int(self.is_complete().sum())})")

    def row(self, config: int | str) -> int:
        """Row index of a config given by position or by id."""
        if isinstance(config, str):
            try:
                return int(self.configs.index.get_loc(config))  # type: ignore[arg-type]
            except KeyError:
                raise KeyError(f"config {config!r} is not in this CurveSet") from None
        if not -self.n_configs <= config < self.n_configs:
            raise IndexError(f"config position {config} out of range for {self.n_configs}")
        return int(config) % self.n_configs

    # ----------------------------------------------------------------- diverged runs
    def diverged(self) -> NDArray[np.bool_]:
        """Mask ``(n_configs, n_epochs)`` of observed values that are NaN or ±inf."""
        return self.observed & ~np.isfinite(self.values)

    @property
    def diverged_fill(self) -> float:
        """The value a diverged observation counts as (see the module docstring)."""
        return diverged_fill(self.direction, self.values[self.observed], self.diverged_value)

    def filled_values(self) -> NDArray[np.float64]:
        """``values`` with diverged observations replaced by :attr:`diverged_fill`.

        Unobserved entries stay NaN.  Shape ``(n_configs, n_epochs)``.
        """
        return fill_diverged(self.values, self.observed, self.direction, self.diverged_value)

    def range_warning(self, source: str | None = None) -> str | None:
        """A one-line warning when an accuracy-named metric (its name holds ``acc``) has finite
        values outside [0, 1] — a percentage, or a loss under the wrong name — else None."""
        if "acc" not in self.metric.lower():
            return None
        seen = self.values[self.observed & np.isfinite(self.values)]
        outside = int(((seen < 0) | (seen > 1)).sum())
        if not outside:
            return None
        return (f"{_where(source)}{outside} {self.metric} values lie outside [0, 1] (the values "
                f"run {float(seen.min()):g}..{float(seen.max()):g}); an accuracy is a fraction: "
                "divide percentages by 100")

    # ----------------------------------------------------------------- curve summaries
    def n_observed(self) -> NDArray[np.int64]:
        """Per config, the length of the observed prefix (consecutive observed epochs from the first)."""
        not_seen = ~self.observed
        first_gap = np.where(not_seen.any(axis=1), not_seen.argmax(axis=1), self.n_epochs)
        return first_gap.astype(np.int64)

    def is_complete(self) -> NDArray[np.bool_]:
        """Per config, whether the final epoch was observed."""
        if self.n_epochs == 0:
            return np.zeros(self.n_configs, dtype=bool)
        return np.asarray(self.observed[:, -1], dtype=bool)

    def final_values(self, *, filled: bool = True) -> NDArray[np.float64]:
        """Value at the last epoch per config, shape ``(n_configs,)``; NaN where not observed.

        With ``filled=True`` (the default) a diverged final value counts as :attr:`diverged_fill`.
        """
        source = self.filled_values() if filled else self.values
        return np.array(source[:, -1], copy=True)

    def prefix(self, config: int | str, *, filled: bool = True
               ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """The observed prefix of one config: ``(epochs[:k], values[:k])`` with ``k = n_observed``."""
        r = self.row(config)
        k = int(self.n_observed()[r])
        source = self.filled_values() if filled else self.values
        return np.array(self.epochs[:k]), np.array(source[r, :k])

    # ----------------------------------------------------------------- derived sets
    def subset(self, configs: Sequence[int] | Sequence[str] | NDArray[Any]) -> CurveSet:
        """A CurveSet of the given configs (positions, ids or a boolean mask), in that order."""
        idx = np.asarray(configs)
        if idx.dtype == bool:
            if idx.shape != (self.n_configs,):
                raise ValueError(f"mask has shape {idx.shape}, expected ({self.n_configs},)")
            rows = np.flatnonzero(idx)
        elif idx.size and idx.dtype.kind in "US O":
            rows = np.array([self.row(str(c)) for c in idx], dtype=np.int64)
        else:
            rows = np.array([self.row(int(c)) for c in idx], dtype=np.int64)
        return replace(
            self,
            values=self.values[rows],
            observed=self.observed[rows],
            configs=self.configs.iloc[rows],
            seconds=None if self.seconds is None else self.seconds[rows],
            test_values=None if self.test_values is None else self.test_values[rows],
        )

    def random_split(self, fraction: float, seed: int) -> tuple[CurveSet, CurveSet]:
        """Split the complete configs at random: ``(held, rest)`` with ``round(fraction · n)``
        configs in ``held`` (e.g. a warm-start prior that a study never trains), both in their
        original order; the same ``seed`` gives the same split.

        Raises:
            ValueError: ``fraction`` outside (0, 1), or a side with no config.
        """
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must be in (0, 1), got {fraction}")
        complete = self.subset(np.asarray(self.is_complete(), dtype=bool))
        n_held = round(fraction * complete.n_configs)
        if not 0 < n_held < complete.n_configs:
            raise ValueError(f"a fraction of {fraction} of {complete.n_configs} complete configs "
                             f"holds {n_held} out: each side needs at least one")
        order = np.random.default_rng(seed).permutation(complete.n_configs)
        return complete.subset(np.sort(order[:n_held])), complete.subset(np.sort(order[n_held:]))

    def epoch_slice(self, start: int = 0, stop: int | None = None) -> CurveSet:
        """Columns ``start:stop`` of the budget axis (e.g. ``epoch_slice(1)`` drops epoch 0)."""
        cols = slice(start, stop)
        return replace(
            self,
            values=self.values[:, cols],
            observed=self.observed[:, cols],
            epochs=self.epochs[cols],
            seconds=None if self.seconds is None else self.seconds[:, cols],
        )

    def without_untrained_epoch(self) -> CurveSet:
        """This set without the epoch-0 column (the untrained network), if it has one."""
        return self.epoch_slice(1) if self.has_untrained_epoch else self

    def merge(self, other: CurveSet) -> CurveSet:
        """Union of two CurveSets of the same metric and direction.

        The budget axis becomes the union of both; config ids must not overlap; config-table
        columns missing on one side become NaN.  Provenance is kept as ``{"merged": [a, b]}``.
        """
        if other.metric != self.metric or other.direction is not self.direction:
            raise ValueError(
                f"cannot merge metric {other.metric!r} ({other.direction.value}) into "
                f"{self.metric!r} ({self.direction.value})"
            )
        overlap = self.configs.index.intersection(other.configs.index)
        if len(overlap):
            raise ValueError(f"config {overlap[0]!r}: present in both CurveSets")
        epochs = np.union1d(self.epochs, other.epochs)

        def widen(cs: CurveSet, arr: NDArray[Any] | None, fill: Any) -> NDArray[Any]:
            out = np.full((cs.n_configs, epochs.size), fill,
                          dtype=bool if isinstance(fill, bool) else np.float64)
            if arr is not None:
                out[:, np.searchsorted(epochs, cs.epochs)] = arr
            return out

        seconds = None
        if self.seconds is not None or other.seconds is not None:
            seconds = np.vstack([widen(self, self.seconds, np.nan),
                                 widen(other, other.seconds, np.nan)])
        assert self.test_values is not None and other.test_values is not None  # set in init
        return CurveSet(
            values=np.vstack([widen(self, self.values, np.nan), widen(other, other.values, np.nan)]),
            observed=np.vstack([widen(self, self.observed, False),
                                widen(other, other.observed, False)]),
            epochs=epochs,
            metric=self.metric,
            direction=self.direction,
            configs=pd.concat([self.configs, other.configs]),
            seconds=seconds,
            test_values=np.concatenate([self.test_values, other.test_values]),
            provenance={"merged": [dict(self.provenance), dict(other.provenance)]},
            diverged_value=self.diverged_value if self.diverged_value is not None
            else other.diverged_value,
        )

    # ----------------------------------------------------------------- tables
    def to_long(self) -> pd.DataFrame:
        """One row per observed (config, epoch): columns ``config_id, epoch, value, seconds``."""
        rows, cols = np.nonzero(self.observed)
        seconds = (np.full(rows.size, np.nan) if self.seconds is None
                   else self.seconds[rows, cols])
        return pd.DataFrame({
            "config_id": np.asarray(self.config_ids, dtype=object)[rows],
            "epoch": self.epochs[cols],
            "value": self.values[rows, cols],
            "seconds": seconds,
        })

    @classmethod
    def from_long(
        cls,
        long: pd.DataFrame,
        configs: pd.DataFrame,
        *,
        metric: str,
        direction: Direction | str,
        epochs: Sequence[int] | NDArray[np.int64] | None = None,
        test_values: Mapping[str, float] | None = None,
        provenance: Mapping[str, Any] | None = None,
        diverged_value: float | None = None,
        source: str | None = None,
    ) -> CurveSet:
        """Build a CurveSet from a long table ``(config_id, epoch, value[, seconds])``.

        ``configs`` is indexed by config id (or has a ``config_id`` column).  ``epochs`` is the
        budget axis (default: the epochs present in ``long``).  ``source`` names where the data
        came from in error messages.

        Raises:
            CurveSetFormatError: missing columns, an unknown direction, a duplicated
                (config, epoch), a config in the curves but not in the config table, an epoch
                off the axis, or an empty set.
        """
        where = _where(source)
        for col in ("config_id", "epoch", "value"):
            if col not in long.columns:
                raise CurveSetFormatError(f"{where}missing column {col!r} in the curve table "
                                          f"(has {list(long.columns)})")
        try:
            direction = Direction.parse(direction)
        except ValueError as err:
            raise CurveSetFormatError(f"{_where(source, field_='direction')}{err}") from None
        if "config_id" in configs.columns:
            configs = configs.set_index("config_id")
        configs = configs.copy()
        configs.index = pd.Index([str(i) for i in configs.index], name="config_id")
        if len(configs) == 0:
            raise CurveSetFormatError(f"{where}empty CurveSet: the config table has no rows")
        if configs.index.has_duplicates:
            dup = configs.index[configs.index.duplicated()][0]
            raise CurveSetFormatError(f"{_where(source, dup, 'config_id')}duplicated in the "
                                      "config table")
        ids = long["config_id"].astype(str).to_numpy()
        try:
            ep = long["epoch"].to_numpy(dtype=np.int64)
        except (TypeError, ValueError):
            raise CurveSetFormatError(f"{_where(source, field_='epoch')}epochs must be integers") from None
        dup_mask = pd.DataFrame({"c": ids, "e": ep}).duplicated().to_numpy()
        if dup_mask.any():
            i = int(np.flatnonzero(dup_mask)[0])
            raise CurveSetFormatError(f"{_where(source, ids[i], 'epoch')}epoch {ep[i]} appears "
                                      "more than once")
        rows = configs.index.get_indexer(pd.Index(ids))
        if (rows < 0).any():
            bad = ids[int(np.flatnonzero(rows < 0)[0])]
            raise CurveSetFormatError(f"{_where(source, bad, 'config_id')}has curve values but "
                                      "no row in the config table")
        axis = np.unique(ep) if epochs is None else np.asarray(epochs, dtype=np.int64)
        if axis.size == 0:
            raise CurveSetFormatError(f"{where}empty CurveSet: no epochs")
        cols = np.searchsorted(axis, ep)
        off = (cols >= axis.size) | (axis[np.minimum(cols, axis.size - 1)] != ep)
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise CurveSetFormatError(f"{_where(source, ids[i], 'epoch')}epoch {ep[i]} is not "
                                      f"on the epoch axis {axis.tolist()}")
        shape = (len(configs), axis.size)
        values = np.full(shape, np.nan)
        observed = np.zeros(shape, dtype=bool)
        values[rows, cols] = long["value"].to_numpy(dtype=np.float64)
        observed[rows, cols] = True
        seconds = None
        if "seconds" in long.columns:
            seconds = np.full(shape, np.nan)
            seconds[rows, cols] = long["seconds"].to_numpy(dtype=np.float64)
        tests = np.full(len(configs), np.nan)
        if test_values is not None:
            for cid, v in test_values.items():
                tests[configs.index.get_loc(str(cid))] = v
        try:
            return cls(values=values, observed=observed, epochs=axis, metric=str(metric),
                       direction=direction, configs=configs, seconds=seconds,
                       test_values=tests, provenance=dict(provenance or {}),
                       diverged_value=diverged_value)
        except ValueError as err:
            raise CurveSetFormatError(f"{where}{err}") from None

    # ----------------------------------------------------------------- Parquet
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write this set to a Parquet file, atomically (a reader never sees a half-written file).

        Raises:
            FileNotFoundError: when the destination folder does not exist.
        """
        path = Path(path)
        if not path.parent.exists():
            raise FileNotFoundError(f"{path}: folder {str(path.parent)!r} does not exist")
        table = pa.Table.from_pandas(self.to_long(), preserve_index=False)
        configs = self.configs.copy()
        assert self.test_values is not None  # set in __post_init__
        configs[_TEST_COLUMN] = self.test_values
        config_table = pa.Table.from_pandas(configs.reset_index(), preserve_index=False)
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, config_table.schema) as writer:
            writer.write_table(config_table)
        meta = {
            b"curvecast.format_version": FORMAT_VERSION.encode(),
            b"curvecast.metric": self.metric.encode(),
            b"curvecast.direction": self.direction.value.encode(),
            b"curvecast.epochs": json.dumps(self.epochs.tolist()).encode(),
            b"curvecast.provenance": json.dumps(dict(self.provenance), default=str).encode(),
            b"curvecast.diverged_value": json.dumps(self.diverged_value).encode(),
            b"curvecast.configs": sink.getvalue(),
        }
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            pq.write_table(table, tmp, compression="zstd")
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a data file is not
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CurveSet:
        """Read and validate a CurveSet written by :meth:`save`.

        Raises:
            FileNotFoundError: the file does not exist.
            CurveSetFormatError: the file is not Parquet, is truncated, lacks curvecast's
                metadata or columns, or its content is invalid (message names file/config/field).
        """
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: {'a folder, not a file' if path.is_dir() else 'no such file'}")
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as err:
            raise CurveSetFormatError(f"{source}: not a readable Parquet file ({err})") from None
        meta = table.schema.metadata or {}

        def get(key: str) -> bytes:
            try:
                return meta[_META_PREFIX + key.encode()]
            except KeyError:
                raise CurveSetFormatError(
                    f"{_where(source, field_=key)}missing from the file's metadata: "
                    "not a curvecast CurveSet file"
                ) from None

        version = get("format_version").decode()
        if version != FORMAT_VERSION:
            raise CurveSetFormatError(f"{_where(source, field_='format_version')}unsupported "
                                      f"version {version!r} (this curvecast reads {FORMAT_VERSION})")
        missing = [c for c in _LONG_COLUMNS if c not in table.column_names]
        if missing:
            raise CurveSetFormatError(f"{source}: wrong schema, missing column(s) {missing} "
                                      f"(has {table.column_names})")
        try:
            epochs = json.loads(get("epochs"))
            provenance = json.loads(get("provenance"))
            diverged_value = json.loads(get("diverged_value"))
            configs = pa.ipc.open_stream(get("configs")).read_all().to_pandas()
        except (ValueError, pa.ArrowException) as err:
            raise CurveSetFormatError(f"{source}: corrupt curvecast metadata ({err})") from None
        if "config_id" not in configs.columns:
            raise CurveSetFormatError(f"{_where(source, field_='config_id')}missing from the "
                                      "config table")
        configs = configs.set_index("config_id")
        tests = configs.pop(_TEST_COLUMN) if _TEST_COLUMN in configs.columns else None
        long = table.to_pandas()
        for col, kind in (("value", "f"), ("seconds", "f"), ("epoch", "i")):
            if long[col].dtype.kind != kind:
                raise CurveSetFormatError(f"{_where(source, field_=col)}wrong type "
                                          f"{long[col].dtype} in the curve table")
        return cls.from_long(
            long, configs,
            metric=get("metric").decode(), direction=get("direction").decode(),
            epochs=epochs,
            test_values=None if tests is None else dict(zip(configs.index, tests, strict=True)),
            provenance=provenance, diverged_value=diverged_value, source=source,
        )
