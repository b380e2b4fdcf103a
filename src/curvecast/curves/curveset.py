"""The :class:`CurveSet` itself: validated arrays, the summaries and the derived sets.

Its tables and files live beside it: :mod:`curvecast.curves.long` reads a long table,
:mod:`curvecast.curves.parquet` the Parquet file; the layout and the diverged-value rule are in
:mod:`curvecast.curves`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.curves.config_columns import plain_config_columns
from curvecast.curves.direction import (
    Direction,
    check_diverged_value,
    diverged_fill,
    fill_diverged,
)
from curvecast.curves.errors import CurveSetFormatError
from curvecast.curves.errors import where as _where
from curvecast.curves.long import distinct_ids, long_to_arrays, whole_epochs
from curvecast.curves.parquet import StoredCurves, read_parquet, write_parquet
from curvecast.curves.wording import counted


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
        values = _floats(self.values, "values")
        observed = np.array(self.observed, dtype=bool, copy=True)
        epochs = whole_epochs(self.epochs)
        if values.ndim != 2:
            raise ValueError(f"values must be 2-D (configs, epochs), got shape {values.shape}")
        if not isinstance(self.metric, str) or not self.metric.strip():
            raise ValueError(f"metric must be a non-empty name, got {self.metric!r}")
        if observed.shape != values.shape:
            raise ValueError(f"observed has shape {observed.shape}, values {values.shape}")
        if epochs.shape != (values.shape[1],):
            raise ValueError(f"epochs has shape {epochs.shape}, expected ({values.shape[1]},)")
        if epochs.size and (np.any(np.diff(epochs) <= 0) or epochs[0] < 0):
            raise ValueError(f"epochs must be non-negative and strictly increasing, got {epochs}")
        if not isinstance(self.configs, pd.DataFrame):
            raise TypeError(f"configs must be a pandas DataFrame indexed by config id (one row "
                            f"per curve), got {type(self.configs).__name__}")
        if len(self.configs) != values.shape[0]:
            raise ValueError(
                f"config table has {len(self.configs)} rows, values {values.shape[0]} configs"
            )
        configs = plain_config_columns(self.configs)
        configs.index = pd.Index([str(i) for i in configs.index], name="config_id")
        if configs.index.has_duplicates:
            dup = configs.index[configs.index.duplicated()][0]
            raise ValueError(f"config {dup!r}: duplicated config_id in the config table")
        diverged_value = check_diverged_value(self.diverged_value)
        provenance = dict(self.provenance)
        if observed.size:  # a gap before a curve's last observed epoch is a diverged report
            n = observed.shape[1]
            ends = np.where(observed.any(axis=1), n - np.argmax(observed[:, ::-1], axis=1), 0)
            gaps = (np.arange(n)[None, :] < ends[:, None]) & ~observed
            # a run without the untrained network's evaluation (epoch 0) did not diverge
            trained_gaps = gaps[:, 1:] if epochs.size and epochs[0] == 0 else gaps
            if trained_gaps.any():  # recorded, so that an importer can say so (gap_warning)
                provenance["gap_cells"] = (int(provenance.get("gap_cells", 0))
                                           + int(trained_gaps.sum()))
            values[gaps] = np.nan
            observed |= gaps
        values[~observed] = np.nan
        seconds = None
        if self.seconds is not None:
            seconds = _floats(self.seconds, "seconds")
            if seconds.shape != values.shape:
                raise ValueError(f"seconds has shape {seconds.shape}, values {values.shape}")
            seconds[~observed] = np.nan
        test_values = np.full(values.shape[0], np.nan)
        if self.test_values is not None:
            test_values = _floats(self.test_values, "test_values")
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
        set_(self, "provenance", provenance)
        set_(self, "diverged_value", diverged_value)

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
        if isinstance(config, bool) or not float(config).is_integer():
            raise TypeError(f"config position must be a whole number, got {config!r}")
        if not -self.n_configs <= config < self.n_configs:
            raise IndexError(f"config position {config} out of range for {self.n_configs}")
        return int(config) % self.n_configs

    # ----------------------------------------------------------------- diverged runs
    def diverged(self) -> NDArray[np.bool_]:
        """Mask ``(n_configs, n_epochs)`` of observed values that are NaN or ±inf.  The untrained
        network (epoch 0) never counts: a run cannot diverge before it trains, and a NaN there is
        an evaluation some runs did not log."""
        mask = self.observed & ~np.isfinite(self.values)
        if self.has_untrained_epoch:
            mask[:, 0] = False
        return mask

    @property
    def diverged_fill(self) -> float:
        """The value a diverged observation counts as (see the module docstring): the stated
        ``diverged_value``, else the worst value of the trained epochs (epoch 0, the untrained
        network, left out, as every predictor and replay reads the curves)."""
        trained = self.observed.copy()
        if self.has_untrained_epoch:
            trained[:, 0] = False
        return diverged_fill(self.direction, self.values[trained], self.diverged_value)

    def filled_values(self) -> NDArray[np.float64]:
        """``values`` with every observed NaN or ±inf replaced by :attr:`diverged_fill`, so that
        every observed entry is finite: diverged reports, and also a missing evaluation of the
        untrained network (epoch 0), which is not a diverged report (:meth:`diverged`) but has
        no value of its own.  Unobserved entries stay NaN.  Shape ``(n_configs, n_epochs)``.
        """
        return fill_diverged(self.values, self.observed, self.direction, self.diverged_fill)

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

    def gap_warning(self, source: str | None = None) -> str | None:
        """A one-line warning when some curve had an unobserved epoch before a later observed
        one (``provenance["gap_cells"]``, counted when the set was made): such a gap counts as
        a diverged report, the worst value, which a run that merely skipped logging an epoch
        is not.  None when there was none."""
        cells = int(self.provenance.get("gap_cells", 0) or 0)
        if not cells:
            return None
        return (f"{_where(source)}{cells} empty value(s) lie before a later epoch's value of the "
                "same run; each counts as a diverged report (the worst value): fill them in, or "
                "leave the run's later epochs empty if it stopped there")

    def spike_warning(self, source: str | None = None) -> str | None:
        """A one-line warning when diverged runs count as a worst value far outside the bulk of
        the values seen (one run that spiked to 1e6 before it diverged, with no
        ``diverged_value``): every diverged run's final value is then that value, and an R² or a
        stopping rule's reference measures it rather than the runs.  "Far": more than 10 times
        the spread of the middle 98 % of the finite values beyond it.  None otherwise, or with
        fewer than 10 finite values."""
        seen = self.values[self.observed]
        finite = seen[np.isfinite(seen)]
        if self.diverged_value is not None or finite.size == seen.size or finite.size < 10:
            return None
        low, high = (float(v) for v in np.percentile(finite, [1, 99]))
        fill = self.diverged_fill
        if not (high > low and max(low - fill, fill - high) > 10 * (high - low)):
            return None
        n = int((~np.isfinite(self.values) & self.observed).any(axis=1).sum())
        return (f"{_where(source)}{counted(n, 'run')} diverged (NaN or inf) and count as the worst value "
                f"seen, {fill:.4g}, more than 10 times the spread of the values seen (98 % of "
                f"them lie in {low:.4g} to {high:.4g}) outside it: R² and the rules' comparisons "
                "would measure that value; pass --diverged-value (e.g. the value of a model that "
                "learnt nothing: chance accuracy, or the RMSE of predicting the mean) to say what "
                "a diverged run counts as")

    def axis_warning(self, source: str | None = None) -> str | None:
        """A one-line warning when the epoch axis skips a few of the epochs its spacing implies
        (``1 … 20`` without 7: a curve column left out of a wide table, a typo in a long one),
        so that every curve silently lacks them.  None when the trained epochs are evenly
        spaced, too few to tell (< 3), or skip too many for a slip (a log-spaced axis)."""
        trained = self.epochs[self.epochs > 0]
        if trained.size < 3:
            return None
        step = int(np.min(np.diff(trained)))
        span = (int(trained[-1]) - int(trained[0])) // step + 1
        n_missing = span - trained.size
        if step <= 0 or n_missing <= 0 or n_missing > max(1, trained.size // 4):
            return None
        grid = np.arange(int(trained[0]), int(trained[-1]) + 1, step)
        missing = np.setdiff1d(grid, trained).tolist()
        shown = ", ".join(map(str, missing[:5])) + (", …" if len(missing) > 5 else "")
        return (f"{_where(source)}the epoch axis runs from {int(trained[0])} to "
                f"{int(trained[-1])}{'' if step == 1 else f' every {step}'} but lacks epoch(s) "
                f"{shown}: no run has a value there (a curve column left out?)")

    def spacing_note(self, source: str | None = None) -> str | None:
        """A one-line note when the runs were not evaluated at every epoch (the trained epochs
        are not 1, 2, …, T): replay, the stopping rules and the speedups count each recorded
        evaluation as one epoch, so their "epochs" are evaluations (or, for every epoch from a
        later one, they count from the first recorded).  None when they are every epoch from 1,
        too few to tell (< 2), or a few epochs are missing (:meth:`axis_warning` says so)."""
        trained = self.epochs[self.epochs > 0]
        if trained.size < 2 or np.array_equal(trained, np.arange(1, trained.size + 1)):
            return None
        if self.axis_warning() is not None:  # a few epochs missing: that warning says it
            return None
        if np.all(np.diff(trained) == 1):  # every epoch, from a later one
            return (f"{_where(source)}the runs' epochs start at {int(trained[0])}: replay, the "
                    f"stopping rules and the speedups count from the first recorded one (T = "
                    f"{trained.size}), so the {int(trained[0]) - 1} epoch(s) before it are not "
                    "counted")
        return (f"{_where(source)}the runs were evaluated at {trained.size} epochs from "
                f"{int(trained[0])} to {int(trained[-1])}, not at every epoch: replay, the "
                "stopping rules and the speedups count each evaluation as one epoch of budget "
                f"(T = {trained.size}), so their epochs and rungs are evaluations, and a "
                "speedup is one in evaluations")

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
            rows = np.array([self.row(c) for c in idx.tolist()], dtype=np.int64)
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

        The budget axis becomes the union of both, which must extend each side's axis (one
        set's runs may be longer); config ids must not overlap; config-table columns missing on
        one side become NaN.  Provenance is kept as ``{"merged": [a, b]}``.

        The stated ``diverged_value`` (what a NaN or ±inf report counts as) must agree: both
        sets state the same one, or one states it and the other has no diverged report.

        Raises:
            ValueError: another metric or direction, a config in both, axes that interleave
                (every 2nd epoch against every epoch, or epoch 0 on one side only): the union
                would leave holes inside one side's curves, and a hole before a later report
                counts as a diverged report; or diverged values that disagree (one set's
                diverged runs would be read by the other's rule).
        """
        if other.metric != self.metric or other.direction is not self.direction:
            raise ValueError(
                f"cannot merge metric {other.metric!r} ({other.direction.value}) into "
                f"{self.metric!r} ({self.direction.value})"
            )
        self._check_diverged_values(other)
        overlap = self.configs.index.intersection(other.configs.index)
        if len(overlap):
            raise ValueError(f"config {overlap[0]!r}: present in both CurveSets")
        epochs = np.union1d(self.epochs, other.epochs)
        for side, cs in (("this set", self), ("the other set", other)):
            if not np.array_equal(cs.epochs, epochs[: cs.epochs.size]):
                missing = np.setdiff1d(epochs[epochs <= cs.epochs.max()], cs.epochs)
                raise ValueError(
                    f"cannot merge: {side}'s budget axis lacks epoch(s) "
                    f"{missing[:5].tolist()}{' …' if missing.size > 5 else ''} that the other "
                    "has within its range; its curves would have holes there, and a hole counts "
                    "as a diverged report. Bring both to one axis first (e.g. epoch_slice, or "
                    "record the same epochs)")

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

    def _check_diverged_values(self, other: CurveSet) -> None:
        """Refuse to merge ``other`` when its diverged runs would be read by another rule than
        their own (see :meth:`merge`)."""
        mine, theirs = self.diverged_value, other.diverged_value
        if mine == theirs:
            return
        for stated, unstated in ((mine, other), (theirs, self)):
            if (stated is not None and unstated.diverged_value is None
                    and not unstated.diverged().any()):
                return  # the set without a stated value has no diverged report to read by it
        raise ValueError(f"cannot merge: this set counts a diverged report as "
                         f"{_diverged_rule(mine)} and the other as {_diverged_rule(theirs)}; "
                         "one set's diverged runs would be read by the other's rule. Give both "
                         "the same diverged value (--diverged-value when importing)")

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
        configs: pd.DataFrame | None = None,
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

        ``configs`` is indexed by config id (or has a ``config_id`` column); None: the configs
        of ``long``, in order, without config columns.  ``epochs`` is the
        budget axis (default: the epochs present in ``long``).  ``source`` names where the data
        came from in error messages.

        Raises:
            CurveSetFormatError: missing columns, an unknown direction, a duplicated
                (config, epoch), a config in the curves but not in the config table, an epoch
                off the axis, or an empty set.
        """
        where = _where(source)
        if configs is None:
            if not isinstance(long, pd.DataFrame) or "config_id" not in long.columns:
                raise CurveSetFormatError(f"{where}the long table needs a config_id column")
            configs = pd.DataFrame(index=pd.Index(distinct_ids(long["config_id"]),
                                                  dtype=object, name="config_id"))
        parts = long_to_arrays(long, configs, direction=direction, epochs=epochs,
                               test_values=test_values, source=source)
        try:
            return cls(values=parts.values, observed=parts.observed, epochs=parts.epochs,
                       metric=metric, direction=parts.direction, configs=parts.configs,
                       seconds=parts.seconds, test_values=parts.test_values,
                       provenance=dict(provenance or {}), diverged_value=diverged_value)
        except ValueError as err:
            raise CurveSetFormatError(f"{where}{err}") from None

    # ----------------------------------------------------------------- Parquet
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write this set to a Parquet file, atomically (a reader never sees a half-written file).

        Raises:
            FileNotFoundError: when the destination folder does not exist.
            IsADirectoryError: when ``path`` is a folder.
            ValueError: the set has no configs (a file :meth:`load` would refuse), or a config
                column holds values Parquet cannot store (complex numbers; the column is named).
        """
        assert self.test_values is not None  # set in __post_init__
        if self.n_configs == 0:
            raise ValueError(f"{path}: an empty CurveSet (no configs) is not saved: a CurveSet "
                             "file holds at least one curve")
        return write_parquet(StoredCurves(
            long=self.to_long(), configs=self.configs, metric=self.metric,
            direction=self.direction.value, epochs=[int(e) for e in self.epochs],
            test_values=dict(zip(self.configs.index, self.test_values.tolist(), strict=True)),
            provenance=dict(self.provenance),
            diverged_value=self.diverged_value, source=str(path)), path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CurveSet:
        """Read and validate a CurveSet written by :meth:`save`.

        Raises:
            FileNotFoundError: the file does not exist.
            CurveSetFormatError: the file is not Parquet, is truncated, lacks curvecast's
                metadata or columns, or its content is invalid (message names file/config/field).
        """
        stored = read_parquet(path)
        return cls.from_long(
            stored.long, stored.configs,
            metric=stored.metric, direction=stored.direction, epochs=stored.epochs,
            test_values=stored.test_values, provenance=stored.provenance,
            diverged_value=stored.diverged_value, source=stored.source,
        )


def _floats(data: Any, name: str) -> NDArray[np.float64]:
    """``data`` as a float array copy; pandas' missing values (``pd.NA`` of a nullable
    ``Float64`` column, ``None``) become NaN.

    Raises:
        ValueError: an entry that is not a number (a string, a date).
    """
    try:
        return np.array(data, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        pass
    cells = np.array(data, dtype=object, copy=True)
    missing = pd.isna(cells)
    cells[missing] = np.nan
    try:
        return np.array(cells, dtype=np.float64)
    except (TypeError, ValueError):
        bad = next(v for v in cells.ravel() if not _is_number(v))
        raise ValueError(f"{name} must be numbers (NaN or ±inf for a diverged run), got "
                         f"{bad!r} ({type(bad).__name__})") from None


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _diverged_rule(value: float | None) -> str:
    """What a diverged report counts as, in words."""
    return "the worst value it observed" if value is None else f"{value:g}"
