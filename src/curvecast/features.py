"""Features for predicting a curve's final value from its first τ epochs (Baker et al. 2017, §3).

Three groups, selectable for ablations:

* ``ts`` — the observed values y_1..y_τ, their first differences y_t − y_{t−1} (τ−1 columns) and
  the second differences of those (τ−2 columns);
* ``ap`` — architecture: log10 of ``n_params`` and ``n_layers`` (plus any further architecture
  columns the data set declares);
* ``hp`` — hyperparameters: numeric config columns (log10 when positive and spanning more than two
  orders of magnitude, e.g. learning rates), string columns one-hot.

Which config columns are architecture and which are hyperparameters is read from the CurveSet's
``provenance["columns"]`` (``{"architecture": [...], "hyperparameters": [...]}``) when present,
and otherwise guessed: ``n_params``/``n_layers`` are architecture, every other numeric or
low-cardinality string column is a hyperparameter.

Curve values go through the CurveSet's one rule for diverged runs (NaN/±inf count as the worst
value): callers pass :meth:`CurveSet.filled_values` columns, and :meth:`Featurizer.transform`
applies the same fill to partial curves given directly (``diverged_fill``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.curves import CurveSet

GROUPS = ("ts", "ap", "hp")
_AP_DEFAULT = ("n_params", "n_layers")
_MAX_LEVELS = 20


def parse_groups(text: str | Collection[str]) -> frozenset[str]:
    """``"ts+ap"`` / ``"ts,hp"`` / ``["ts"]`` → a frozenset of group names.

    Raises:
        ValueError: an unknown or empty group list.
    """
    items = ([g for g in text.replace("+", ",").split(",")] if isinstance(text, str)
             else list(text))
    groups = frozenset(g.strip().lower() for g in items if g.strip())
    unknown = groups - set(GROUPS)
    if unknown or not groups:
        raise ValueError(f"feature groups must be a non-empty subset of {GROUPS}, got {text!r}")
    return groups


def groups_label(groups: Collection[str]) -> str:
    """Canonical label of a group set, e.g. ``"ts+ap+hp"``."""
    return "+".join(g for g in GROUPS if g in groups)


@dataclass
class _Column:
    name: str
    log: bool = False
    levels: tuple[Any, ...] = ()  # one-hot levels of a string column

    def names(self) -> list[str]:
        if self.levels:
            return [f"{self.name}={lv}" for lv in self.levels]
        return [f"log10_{self.name}" if self.log else self.name]

    def encode(self, col: pd.Series) -> NDArray[np.float64]:
        """The column's values as numbers, shape ``(len(col), len(names()))``: 0/1 per level (a
        row of NaN where the value is none of the levels: missing, or not seen when learning),
        or the number (log10 of it), NaN where it is not one.  On the column's numpy values, so a
        one-row table costs microseconds (a predictor encodes the running trial's row on every
        decision)."""
        return self.encode_values(col.to_numpy())

    def encode_values(self, raw: NDArray[Any]) -> NDArray[np.float64]:
        """:meth:`encode` of the column's numpy values ``raw``, shape ``(n,)``."""
        if self.levels:
            if raw.dtype == object:  # pandas' NA (a "string" column's missing value) compares
                raw = raw.copy()  # as NA, whose truth is an error
                raw[pd.isna(raw)] = None
            hot = np.stack([raw == lv for lv in self.levels], axis=1).astype(np.float64)
            hot[hot.sum(axis=1) == 0] = np.nan  # missing: counts as the mean, as in ConfigInputs
            return hot
        x = _numbers(raw)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.log10(x)
        return x[:, None]


def _numbers(raw: NDArray[Any]) -> NDArray[np.float64]:
    """``raw`` (a column's numpy values) as floats, NaN where a value is not a number."""
    if raw.dtype.kind in "biuf":
        return raw.astype(np.float64)
    try:  # objects that are numbers (a one-row table read as objects)
        return raw.astype(np.float64)
    except (TypeError, ValueError):  # None, or text among them
        return pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(dtype=np.float64)


@dataclass
class Featurizer:
    """Turns (config rows, partial curves of length τ) into a feature matrix.

    Args:
        groups: feature groups to use, a subset of ``{"ts", "ap", "hp"}``.

    A config value that is missing (an empty cell or NaN, as a conditional hyperparameter a
    config lacks; a column the rows do not have; a number a log column cannot take) counts as
    that encoded column's mean over the table :meth:`fit` saw, as :class:`ConfigInputs` does.

    Fitted attributes (after :meth:`fit`): ``ap_columns_``, ``hp_columns_`` (column encodings),
    ``config_means_`` (each encoded config column's mean, what a missing value counts as),
    ``diverged_fill_`` (the value diverged curve entries count as).
    """

    groups: frozenset[str] = frozenset(GROUPS)
    ap_columns_: list[_Column] = field(default_factory=list, init=False, repr=False)
    hp_columns_: list[_Column] = field(default_factory=list, init=False, repr=False)
    config_means_: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), init=False,
                                               repr=False)
    diverged_fill_: float = field(default=float("nan"), init=False, repr=False)

    def __post_init__(self) -> None:
        self.groups = parse_groups(self.groups)

    def fit(self, curves: CurveSet) -> Featurizer:
        """Learn which config columns to use and how to encode them from ``curves``."""
        declared = curves.provenance.get("columns", {}) if isinstance(curves.provenance, dict) else {}
        return self.fit_table(curves.configs, curves.diverged_fill, declared)

    def fit_table(self, table: pd.DataFrame, diverged_fill: float,
                  declared: dict[str, Any] | None = None) -> Featurizer:
        """:meth:`fit` from a config table, the value a diverged entry counts as (metric units)
        and the table's declared ``architecture``/``hyperparameters`` column names (None: the
        architecture columns are those curvecast's recorders name, the rest hyperparameters)."""
        declared = declared or {}
        ap_names = [c for c in declared.get("architecture", _AP_DEFAULT) if c in table.columns]
        if "hyperparameters" in declared:
            hp_names = [c for c in declared["hyperparameters"] if c in table.columns]
        else:
            hp_names = [c for c in table.columns if c not in ap_names]
        self.ap_columns_ = [c for c in (_describe(table[n], n, ap=True) for n in ap_names) if c]
        self.hp_columns_ = [c for c in (_describe(table[n], n, ap=False) for n in hp_names) if c]
        self.diverged_fill_ = float(diverged_fill)
        raw = self._encoded_configs(table)
        known = np.isfinite(raw)
        total = np.where(known, raw, 0.0).sum(axis=0)
        means = total / np.maximum(known.sum(axis=0), 1)  # a column with no value: 0
        self.config_means_ = np.where(np.isfinite(means), means, 0.0)
        return self

    def feature_names(self, tau: int) -> list[str]:
        """Names of the columns :meth:`transform` returns for partial curves of length ``tau``."""
        names: list[str] = []
        if "ts" in self.groups:
            names += [f"y{t}" for t in range(1, tau + 1)]
            names += [f"dy{t}" for t in range(2, tau + 1)]
            names += [f"ddy{t}" for t in range(3, tau + 1)]
        if "ap" in self.groups:
            names += [n for c in self.ap_columns_ for n in c.names()]
        if "hp" in self.groups:
            names += [n for c in self.hp_columns_ for n in c.names()]
        return names

    def transform(self, configs: pd.DataFrame, partial: NDArray[np.float64]) -> NDArray[np.float64]:
        """Feature matrix, shape ``(n, len(feature_names(tau)))``.

        Args:
            configs: ``n`` config rows (the columns seen in :meth:`fit`; missing ones give NaN).
            partial: observed values, shape ``(n, tau)``; NaN/±inf count as diverged and are
                replaced by ``diverged_fill_``.
        """
        y = np.array(partial, dtype=np.float64, ndmin=2)
        if y.shape[0] != len(configs):
            raise ValueError(f"{len(configs)} config rows but {y.shape[0]} partial curves")
        return np.hstack([self.curve_features(y), self.config_features(configs)])

    def curve_features(self, partial: NDArray[np.float64]) -> NDArray[np.float64]:
        """The ``ts`` block of :meth:`transform` (shape ``(n, 3τ − 3)``; ``(n, 0)`` without
        the group)."""
        y = np.array(partial, dtype=np.float64, ndmin=2)
        if "ts" not in self.groups:
            return np.zeros((y.shape[0], 0))
        y[~np.isfinite(y)] = self.diverged_fill_
        d1 = np.diff(y, axis=1)
        return np.hstack([y, d1, np.diff(d1, axis=1)])

    def config_features(self, configs: pd.DataFrame) -> NDArray[np.float64]:
        """The ``ap`` and ``hp`` blocks of :meth:`transform`, shape ``(len(configs), k)``; a
        missing value is the column's mean (``config_means_``)."""
        raw = self._encoded_configs(configs)
        return np.where(np.isfinite(raw), raw, self.config_means_[None, :])

    def _encoded_configs(self, configs: pd.DataFrame) -> NDArray[np.float64]:
        """:meth:`config_features` with NaN (or ±inf) where a value is missing."""
        blocks: list[NDArray[np.float64]] = [np.zeros((len(configs), 0))]
        for group, cols in (("ap", self.ap_columns_), ("hp", self.hp_columns_)):
            if group in self.groups:
                for c in cols:
                    blocks.append(c.encode(configs[c.name]) if c.name in configs.columns
                                  else np.full((len(configs), len(c.names())), np.nan))
        return np.hstack(blocks)

    def transform_curves(self, curves: CurveSet, tau: int,
                         rows: Sequence[int] | NDArray[np.int64] | None = None) -> NDArray[np.float64]:
        """Features of ``curves`` (or its ``rows``) from their first ``tau`` epochs."""
        idx = np.arange(curves.n_configs) if rows is None else np.asarray(rows)
        return self.transform(curves.configs.iloc[idx], curves.filled_values()[idx, :tau])


@dataclass(frozen=True)
class ConfigInputs:
    """A config table's usable columns as standardised numbers: what a predictor regresses on
    besides the curve.

    The columns are those :class:`Featurizer` uses for its ``ap`` and ``hp`` groups (numbers and
    booleans that vary; strings with 2–20 levels one-hot; names and constants left out).  A
    positive number column spanning more than a factor of 10 is taken as log10 when that makes
    its values less skewed (learning rates, parameter counts; not a dropout drawn from [0, 1]).
    Each encoded column is centred and scaled to unit variance over the table it was learned
    from.  A missing value (a conditional parameter a config lacks, NaN, ±inf, a column the
    table does not have, a level not seen when learning) counts as that mean: 0 after
    standardising.

    Attributes:
        columns: how each used config column is encoded.
        mean, scale: per encoded column (one per level of a one-hot column), what is subtracted
            and what it is divided by.
    """

    columns: tuple[_Column, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    @property
    def width(self) -> int:
        """Encoded columns (0: the table has none that carries a number)."""
        return len(self.mean)

    @classmethod
    def learn(cls, table: pd.DataFrame) -> ConfigInputs:
        """Which columns of ``table`` to use and their mean and scale (an encoded column needs
        two known values and must vary)."""
        kept: list[_Column] = []
        mean: list[float] = []
        scale: list[float] = []
        for name in table.columns:
            column = _describe(table[name], str(name), ap=False)
            if column is None:
                continue
            column = _by_skew(column, table[name])
            x = _missing(column, column.encode(table[name]))
            known = np.isfinite(x)
            if not np.all(known.sum(axis=0) >= 2):
                continue
            spread = np.nanstd(x, axis=0)
            if not np.all(spread > 0):  # e.g. a level every row has
                continue
            kept.append(column)
            mean += [float(v) for v in np.nanmean(x, axis=0)]
            scale += [float(v) for v in spread]
        return cls(tuple(kept), tuple(mean), tuple(scale))

    def encode(self, table: pd.DataFrame) -> NDArray[np.float64]:
        """``table``'s rows encoded, shape ``(len(table), width)``; missing values are 0."""
        # one conversion of the whole table, then numpy per column: a column lookup in pandas
        # costs more than encoding it, and a predictor encodes a row on every decision
        return self.encode_values(table.to_numpy(dtype=object), tuple(table.columns))

    def encode_values(self, raw: NDArray[Any], names: tuple[Any, ...]) -> NDArray[np.float64]:
        """:meth:`encode` of a table's values as objects, shape ``(n, len(names))``, whose
        columns are named ``names``."""
        z = np.full((raw.shape[0], self.width), np.nan)
        at = {name: i for i, name in enumerate(names)}
        j = 0
        for column in self.columns:
            k = len(column.levels) or 1
            if column.name in at:
                z[:, j: j + k] = _missing(column, column.encode_values(raw[:, at[column.name]]))
            j += k
        z = (z - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.where(np.isnan(z), 0.0, z)


def _missing(column: _Column, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``column``'s encoded values ``x`` with what is missing as NaN: ±inf, and a row of a one-hot
    column that has none of its levels (no value, or a level not seen)."""
    x = np.where(np.isinf(x), np.nan, x)
    if column.levels:
        x[x.sum(axis=1) == 0] = np.nan
    return x


def _by_skew(column: _Column, col: pd.Series) -> _Column:
    """``column`` with its log decided by the values' shape: a positive number column spanning
    more than a factor of 10 is logged when that makes it less skewed (a learning rate drawn
    log-uniformly), and kept as it is otherwise (a dropout or momentum drawn uniformly from
    [0, 1], whose tiny values would become far outliers)."""
    if column.levels or pd.api.types.is_bool_dtype(col):
        return column
    x = _numbers(col.to_numpy())
    x = x[np.isfinite(x)]
    if x.size < 3 or x.min() <= 0 or x.max() <= 10 * x.min():
        return _Column(column.name)
    return _Column(column.name, log=bool(abs(_skew(np.log10(x))) < abs(_skew(x))))


def _skew(x: NDArray[np.float64]) -> float:
    """The sample skewness of ``x`` (0 for constant values)."""
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    return float(np.mean(d ** 3)) / m2 ** 1.5 if m2 > 0 else 0.0


def unused_config_columns(configs: pd.DataFrame, skip: Collection[str] = ()) -> dict[str, str]:
    """The config columns (but ``skip``) the predictors leave out as hyperparameters, each with
    why (:func:`unused_column_reason`), in the table's order."""
    reasons = {str(c): unused_column_reason(configs[c]) for c in configs.columns
               if str(c) not in skip}
    return {name: reason for name, reason in reasons.items() if reason is not None}


def unused_column_reason(col: pd.Series) -> str | None:
    """Why the predictors leave the config column ``col`` out as a hyperparameter, in words
    (e.g. ``"25 levels: more than 20"``), or None when they use it (what :func:`_describe`
    decides for the ``hp`` group)."""
    if _describe(col, str(col.name), ap=False) is not None:
        return None
    missing = int(col.isna().sum())
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        if not col.notna().any():
            return "no value"
        present = col.dropna()
        if (not pd.api.types.is_bool_dtype(col)
                and present[np.isfinite(present.to_numpy(dtype=np.float64))].nunique() > 1):
            return ("whole numbers beyond 2^53 that differ by less than a float tells apart (an "
                    "id or a seed, not a hyperparameter)")
        return _one_value(col, missing)
    levels = pd.unique(col.dropna())
    if len(levels) <= 1:
        return _one_value(col, missing) if len(levels) else "no value"
    if len(levels) == col.notna().sum():
        return "a different value in every row: a name, not a category"
    return f"{len(levels)} levels: more than {_MAX_LEVELS}"


def _one_value(col: pd.Series, missing: int) -> str:
    """The reason for a column with one value: in every row, or in those that have one (a
    review, stop 35: "one value in every row" of a column missing in 3 rows of 4)."""
    if not missing:
        return "one value in every row"
    return f"one value, missing in {missing} of {len(col)} rows"


def _describe(col: pd.Series, name: str, *, ap: bool) -> _Column | None:
    """How to encode one config column, or None when it carries no usable number."""
    if pd.api.types.is_bool_dtype(col):
        return _Column(name)
    if pd.api.types.is_numeric_dtype(col):
        x = col.to_numpy(dtype=np.float64)
        finite = x[np.isfinite(x)]
        if finite.size == 0 or np.ptp(finite) == 0:
            return None
        lo, hi = float(finite.min()), float(finite.max())
        log = (name == "n_params") or (lo > 0 and math.log10(hi / lo) > 2)
        return _Column(name, log=log)
    levels = tuple(sorted(pd.unique(col.dropna()).tolist(), key=str))
    identifier = len(levels) == col.notna().sum()  # one level per row: a name, not a category
    if 1 < len(levels) <= _MAX_LEVELS and not ap and not identifier:
        return _Column(name, levels=levels)
    return None
