"""The budget axis of trials that report at steps: the steps most of them report.

One trial that also reports step 0 (the untrained network), or an extra evaluation between two
others, would otherwise put a step on the axis that every other trial lacks, and every other
curve would be cut short there.  Used by the Optuna importer and the Optuna pruner alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping


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
