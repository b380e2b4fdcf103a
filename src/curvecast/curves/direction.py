"""The metric's direction and curvecast's one rule for diverged values.

:class:`Direction` says whether larger or smaller is better; :func:`diverged_fill`,
:func:`fill_diverged` and :class:`DivergedFill` say what an observed NaN or ±inf counts as (the
worst value of the metric; see :mod:`curvecast.curves`).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from numpy.typing import NDArray


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


def check_diverged_value(value: object) -> float | None:
    """Validate a stated ``diverged_value``: None (the worst value observed) or a finite number,
    returned as a float.

    Raises:
        ValueError: a bool, a non-number, NaN or ±inf (an infinite value would make a diverged run
            the best or the worst there is).
    """
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
            or not np.isfinite(value)):
        raise ValueError("diverged_value must be None (the worst value observed) or a finite "
                         f"number, got {value!r}")
    return float(value)


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
