"""The budget axis of trials that report at steps: the steps most of them report.

One trial that also reports step 0 (the untrained network), or an extra evaluation between two
others, would otherwise put a step on the axis that every other trial lacks, and every other
curve would be cut short there.  A trial's values along the axis (:func:`along_axis`: skipped
steps interpolated) are read the same way.  Used by the Optuna importer and the Optuna pruner
alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd


def majority_axis(step_counts: Mapping[int, int], last_counts: Mapping[int, int]
                  ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The budget axis and the steps left out of it, from complete trials' reports.

    A step is on the axis when more than half of the complete trials that reached it (whose last
    step is at or after it) reported it.  So a step only a few trials report is left out, and the
    steps only the longer trials report (a suggested number of epochs) stay.

    Args:
        step_counts: step → how many complete trials reported it.
        last_counts: step → how many complete trials reported it last.

    Returns:
        (axis, left out): both ascending.
    """
    steps = sorted(step_counts)
    reached: dict[int, int] = {}
    running = 0
    for step in reversed(steps):
        running += last_counts.get(step, 0)
        reached[step] = running
    axis = tuple(s for s in steps if 2 * step_counts[s] > reached[s])
    kept = set(axis)
    return axis, tuple(s for s in steps if s not in kept)


def majority_axis_of(reported: Iterable[Iterable[int]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """:func:`majority_axis` of complete trials given by the steps each reported (none empty)."""
    step_counts: Counter[int] = Counter()
    last_counts: Counter[int] = Counter()
    for steps in reported:
        seen = list(steps)
        step_counts.update(seen)
        last_counts[max(seen)] += 1
    return majority_axis(step_counts, last_counts)


def along_axis(axis: Sequence[int], reported: Mapping[int, float]
               ) -> tuple[list[float], int, int]:
    """A trial's values along the budget ``axis`` (steps) up to the last axis step it
    ``reported``, the number of axis steps filled, and the number of reported ones left out.

    A step it skipped between two it reported is interpolated linearly in the step number (the
    earlier value is carried when either neighbour is NaN or ±inf); steps before its first
    report take that report.  A trial that reported fewer than half the axis steps up to its last
    report is read up to its first gap instead: filling would be mostly invention."""
    where = [i for i, step in enumerate(axis) if step in reported]
    if not where:
        return [], 0, 0
    n = where[-1] + 1
    if len(where) == n:  # no gap: the common case
        return [float(reported[step]) for step in axis[:n]], 0, 0
    if 2 * len(where) < n:
        prefix = []
        for step in axis:
            if step not in reported:
                break
            prefix.append(float(reported[step]))
        return prefix, 0, len(where) - len(prefix)
    steps = np.asarray(axis[:n], dtype=float)
    known = np.asarray(where)
    values = np.array([float(reported[axis[i]]) for i in where])
    out = np.interp(steps, steps[known], values)  # NaN where a neighbour is not finite
    after = np.searchsorted(known, np.arange(n))  # the first report at or after each step
    for i in np.flatnonzero(~np.isin(np.arange(n), known)):
        before = after[i] - 1
        if before < 0:
            out[i] = values[0]
        elif not (np.isfinite(values[before]) and np.isfinite(values[after[i]])):
            out[i] = values[before]
    return out.tolist(), n - len(where), 0


def gap_counts(filled: Mapping[str, int], sparse: Mapping[str, int]
               ) -> dict[str, dict[str, int]]:
    """The provenance entries of an import's gaps: ``filled_steps`` (trials whose skipped steps
    were interpolated, and how many steps) and ``sparse_reports_left_out`` (trials read up to
    their first gap, and how many reports that left out), each only when there are any;
    ``filled`` and ``sparse``: per trial, :func:`along_axis`'s counts."""
    out = {}
    for key, counts in (("filled_steps", filled), ("sparse_reports_left_out", sparse)):
        if any(counts.values()):
            out[key] = {"trials": sum(n > 0 for n in counts.values()),
                        "steps": sum(counts.values())}
    return out


def cut_unfinished(long: pd.DataFrame, unfinished: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """``long`` (columns ``config_id``, ``epoch``, …) without the last epoch's row of each trial
    of ``unfinished`` (pruned, failed or errored ones) that reported the last epoch, and their
    ids in ``unfinished``'s order.

    Such a trial was stopped after its last report (by the objective's own check of a size or
    latency limit, or a trial that failed in its final evaluation): it is not a complete run, so
    it becomes a partial curve one epoch short of the end, as
    :class:`~curvecast.integrations.optuna.CurvecastPruner` reads it, and never the best run of
    a replay.  The last epoch is the last a complete trial reported, or, when no trial completed
    (every one failed or was pruned), the last any trial reported: none of them is a complete run
    (a review, stop 36: they were all read as complete); a trial with that one report is left
    as it is (a one-epoch axis)."""
    if long.empty:
        return long, []
    finished = long.loc[~long["config_id"].isin(unfinished), "epoch"]
    last = int(finished.max()) if not finished.empty else int(long["epoch"].max())
    at_last = (long["epoch"].eq(last) & long["config_id"].isin(unfinished)
               & long["config_id"].map(long["config_id"].value_counts()).gt(1))
    dropped = [i for i in unfinished if i in set(long.loc[at_last, "config_id"])]
    return long[~at_last], dropped
