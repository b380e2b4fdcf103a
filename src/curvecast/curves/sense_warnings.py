"""Warnings that a set's direction or stated diverged value contradicts its own values.

Both mistakes turn every rule upside down without an error: a metric declared ``minimize`` whose
runs climb (an accuracy, a score) has every rule keep the worst configs, and a ``diverged_value``
better than the values seen makes every diverged run a winner.  The importers print these (the
``curvecast`` command) or warn with them (Python), beside the other import warnings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from curvecast.curves.errors import where as _where

if TYPE_CHECKING:
    from curvecast.curves.curveset import CurveSet

#: Runs (with two finite values or more) needed before their trend is read.
MIN_RUNS = 5

#: The share of those runs that must end worse than they started for the direction to be doubted.
WORSE_SHARE = 0.8


def direction_warning(curves: CurveSet, source: str | None = None) -> str | None:
    """A one-line warning when at least :data:`WORSE_SHARE` of the runs end worse than they
    started by the declared direction (their last finite value against their first), which is
    how a maximised metric declared ``minimize`` (or the reverse) shows; None otherwise, or
    with fewer than :data:`MIN_RUNS` runs to read."""
    values = curves.without_untrained_epoch().values
    finite = np.isfinite(values)
    runs = np.flatnonzero(finite.sum(axis=1) >= 2)
    if runs.size < MIN_RUNS:
        return None
    first = np.argmax(finite[runs], axis=1)
    last = values.shape[1] - 1 - np.argmax(finite[runs, ::-1], axis=1)
    change = curves.direction.sign * (values[runs, last] - values[runs, first])
    worse = int((change < 0).sum())
    if worse < WORSE_SHARE * runs.size:
        return None
    moved = "fall" if curves.direction.sign > 0 else "rise"
    other = "minimize" if curves.direction.sign > 0 else "maximize"
    return (f"{_where(source)}{curves.metric} is declared {curves.direction.value}, yet {worse} "
            f"of {runs.size} runs {moved} from their first value to their last: if training "
            f"improves it that way, the direction is {other}, and as declared every rule would "
            "keep the worst runs and stop the best")


def diverged_value_warning(curves: CurveSet, source: str | None = None) -> str | None:
    """A one-line warning when the stated ``diverged_value`` is better than the median of the
    finite values seen (by the declared direction): every diverged run would then count as
    better than most of the runs that trained; None otherwise, or with no value stated."""
    stated = curves.diverged_value
    seen = curves.values[curves.observed]
    finite = seen[np.isfinite(seen)]
    if stated is None or not finite.size:
        return None
    middle = float(np.median(finite))
    if not curves.direction.sign * (stated - middle) > 0:
        return None
    return (f"{_where(source)}a diverged run counts as {stated:g} (the stated diverged value), "
            f"better than the median {curves.metric} seen ({middle:.4g}): every diverged run "
            "would rank above most of the runs that trained; state the value of a model that "
            "learnt nothing (chance accuracy, the loss of predicting the mean)")
