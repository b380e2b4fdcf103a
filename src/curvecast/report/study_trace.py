"""What a saved MetaQNN agent says of each trial of a study: the ε its layers were chosen with
and the value it was told (:func:`metaqnn_trace`), for the study report."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.search.metaqnn import epsilon_schedule
from curvecast.store import StoredTrial


@dataclass(frozen=True)
class Told:
    """What a MetaQNN agent knew of one trial of the study.

    Attributes:
        order: position of the trial among the agent's asks (0 first).
        epsilon: the ε the trial's layers were chosen with.
        value: the final value told to the agent (metric units; the reward is
            ``direction.sign × value``), None while the trial runs.
        predicted: whether ``value`` is the prediction for an early-stopped trial.
        recomputed: ``epsilon`` was recomputed from the agent's final schedule (a state saved
            before agents kept the ε of each ask; wrong if the budget changed on a resume).
    """

    order: int
    epsilon: float
    value: float | None
    predicted: bool
    recomputed: bool = False


def _canonical(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True, default=str)


def metaqnn_trace(state: Mapping[str, Any], trials: Sequence[StoredTrial]
                  ) -> tuple[dict[int, Told], NDArray[np.float64]]:
    """Per trial number, the ε and told value a saved MetaQNN agent (``state_dict``) records.

    Trials are matched to the agent's ids by config (the oldest trial with an equal config first,
    as :meth:`~curvecast.search.ConfigSearcher.tell_config` does).

    Returns:
        ``(told by trial number, the planned ε of each of the agent's n_trials)``.

    Raises:
        ValueError: ``state`` is not a generative MetaQNN agent's state.
    """
    try:
        settings = state["settings"]
        planned = epsilon_schedule(int(settings["n_trials"]),
                                   [(float(e), int(c)) for e, c in settings["schedule"]])
        configs: Mapping[str, Mapping[str, Any]] = state["configs"]
        results: Mapping[str, Mapping[str, Any]] = state["results"]
    except (KeyError, TypeError) as err:
        raise ValueError(f"not the state of a MetaQNN agent: no {err}") from None
    kept: Mapping[str, float] = state.get("epsilons", {})
    numbers: dict[str, list[int]] = {}
    for t in sorted(trials, key=lambda t: t.number):
        numbers.setdefault(_canonical(t.config), []).append(t.number)
    out: dict[int, Told] = {}
    ids = sorted(configs, key=lambda c: (len(c), c))  # prefix + zero-padded ask count
    for order, cid in enumerate(ids):
        matches = numbers.get(_canonical(configs[cid]))
        if not matches:
            continue
        number = matches.pop(0)
        result = results.get(cid)
        eps = kept.get(cid)
        out[number] = Told(
            order=order,
            epsilon=float(eps) if eps is not None else float(planned[min(order, len(planned) - 1)]),
            value=None if result is None else float(result["value"]),
            predicted=bool(result and result["predicted"]),
            recomputed=eps is None)
    return out, planned
