"""MetaQNN's ε schedule, scaled to a trial budget (:func:`epsilon_schedule`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

#: MetaQNN's ε schedule for CIFAR-10, SVHN and MNIST: ``(ε, models trained at that ε)``.
METAQNN_SCHEDULE: tuple[tuple[float, int], ...] = (
    (1.0, 1500), (0.9, 100), (0.8, 100), (0.7, 100), (0.6, 150),
    (0.5, 150), (0.4, 150), (0.3, 150), (0.2, 150), (0.1, 150),
)


def epsilon_schedule(n_trials: int,
                     schedule: Sequence[tuple[float, int]] = METAQNN_SCHEDULE) -> NDArray[np.float64]:
    """The ε of each of ``n_trials`` trials: ``schedule`` stretched or shrunk to the budget.

    Trial ``t`` (0-based) gets the ε of the schedule segment that contains the point
    ``(t + 0.5) · total / n_trials``, where ``total`` is the schedule's model count (2700 for
    MetaQNN's).  With ``n_trials = total`` this is the schedule itself; with 500 trials, MetaQNN's
    schedule gives 278 trials at ε = 1.0, then 18 or 19 at each of 0.9, 0.8, 0.7 and 27 or 28 at
    each of 0.6 … 0.1.  Short budgets can skip a segment.

    Returns:
        shape ``(n_trials,)``, non-increasing when the schedule is.

    Raises:
        ValueError: ``n_trials < 1``, an empty schedule, an entry that is not a pair, an ε outside
            [0, 1] or a count that is not an integer >= 1.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    if len(schedule) == 0:
        raise ValueError(f"the epsilon schedule is empty: {schedule!r}")
    for entry in schedule:
        if len(entry) != 2:
            raise ValueError(f"each schedule entry must be (epsilon, models), got {entry!r} in "
                             f"{schedule!r}")
        eps, count = entry
        if not 0.0 <= float(eps) <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {eps!r} in {schedule!r}")
        if (isinstance(count, bool) or not isinstance(count, int | np.integer)
                or int(count) < 1):
            raise ValueError(f"model counts must be integers >= 1, got {count!r} in "
                             f"{schedule!r}")
    eps_values = np.array([float(e) for e, _ in schedule])
    ends = np.cumsum([int(c) for _, c in schedule])
    points = (np.arange(int(n_trials)) + 0.5) * ends[-1] / int(n_trials)
    segment = np.searchsorted(ends, points, side="right")
    return eps_values[np.minimum(segment, len(schedule) - 1)]

