"""The one check a warm-start prior passes before a study that uses it starts."""

from __future__ import annotations

import numpy as np

from curvecast.curves import CurveSet, Direction

__all__ = ["UNNAMED_METRIC", "check_prior_epochs", "check_prior_metric"]

#: The metric name of an Optuna study that never called ``study.set_metric_names``: it matches
#: any name (only the direction can be checked).
UNNAMED_METRIC = "objective"


def check_prior_metric(prior: CurveSet, *, metric: str | None, direction: Direction | str,
                       target: str = "the study") -> None:
    """Refuse ``prior`` when it was recorded for another metric or direction than ``target``'s.

    ``metric`` None or :data:`UNNAMED_METRIC` (on either side) matches any metric name.

    Raises:
        ValueError: naming both metrics and directions.
    """
    direction = Direction.parse(direction)
    named = metric not in (None, UNNAMED_METRIC) and prior.metric != UNNAMED_METRIC
    if named and prior.metric != metric:
        raise ValueError(f"the prior's metric is {prior.metric!r} but {target} measures "
                         f"{metric!r}: a prior must record the study's metric")
    if prior.direction is not direction:
        what = repr(metric) if metric not in (None, UNNAMED_METRIC) else "its objective"
        raise ValueError(f"the prior's metric {prior.metric!r} is {prior.direction.value}d but "
                         f"{target} {direction.value}s {what}")


def check_prior_epochs(prior: CurveSet, epochs: int, *, what: str = "the study trains",
                       whose: str = "the study's epochs") -> CurveSet:
    """The prior's trained epochs (epoch 0 dropped), which must cover the ``epochs`` a study
    trains (1, 2, …, ``epochs``); ``what`` and ``whose`` word the refusal for the caller ("the
    search trains", "the search's epochs"; "max_t is", …).

    Raises:
        ValueError: the prior has fewer trained epochs, or others (a prior logged every 5th
            epoch: a review, stop 36, found it refused only after a first trial had trained).
    """
    trained = prior.without_untrained_epoch()
    seen = min(trained.n_epochs, epochs)
    if not np.array_equal(trained.epochs[:seen], np.arange(1, seen + 1)):
        shown = trained.epochs[:6].tolist()
        raise ValueError(f"the prior's epochs {shown}{' …' if trained.n_epochs > 6 else ''} "
                         f"are not {whose} (1, 2, …, {epochs}): a prior must record the epochs "
                         "the study reports")
    if trained.n_epochs < epochs:
        zero = (" after its epoch 0, which is taken as the untrained network (if it counts "
                "trained epochs from 0, add 1 to its epochs)" if prior.has_untrained_epoch else "")
        raise ValueError(f"the prior has {trained.n_epochs} epochs{zero}, {what} {epochs}; a "
                         f"prior must cover {whose}")
    return trained
