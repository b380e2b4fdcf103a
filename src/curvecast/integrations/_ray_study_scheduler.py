"""The Tune scheduler of :func:`curvecast.integrations.ray_search.run_ray_search`: the curvecast
stopper itself, run by :class:`~curvecast.integrations.ray_tune.CurvecastScheduler`, keeping its
decisions for the store.  Imported through ``ray_search``, which names the extra when Ray is
missing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ray.tune.schedulers import TrialScheduler

from curvecast.integrations._ray_trainable import CONFIG_KEY
from curvecast.integrations.ray_tune import CurvecastScheduler
from curvecast.stopping import Decision, Oracle, Stopper
from curvecast.workloads._base import Workload


class StudyScheduler(CurvecastScheduler):
    """:class:`CurvecastScheduler` for :func:`run_ray_search`: keeps every decision it takes (for
    the store), sees a trial's workload config without curvecast's bookkeeping key, and can be
    given the completed curves of an earlier run of the study (:meth:`preload`)."""

    def __init__(self, max_t: int, **kwargs: Any) -> None:
        super().__init__(max_t, **kwargs)
        self.last_decisions: dict[str, Decision] = {}

    @classmethod
    def from_stopper(cls, stopper: Stopper, epochs: int,
                     describe: Callable[[Mapping[str, Any]], Mapping[str, Any]],
                     diverged_value: float | None = None) -> StudyScheduler:
        """A scheduler deciding with ``stopper`` itself (all its settings; a predictive one's
        predictor and prior too) and the workload's ``diverged_value``."""
        return cls(epochs, describe=describe, time_attr="epoch", stopper=stopper,
                   diverged_value=diverged_value)

    def decide(self, trial_id: str) -> Decision | None:
        decision = super().decide(trial_id)
        if decision is not None:
            self.last_decisions[str(trial_id)] = decision
        return decision

    def _encode(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return super()._encode({k: v for k, v in config.items() if k != CONFIG_KEY})

    def preload(self, key: str, config: Mapping[str, Any], values: list[float]) -> None:
        """Add a trial of an earlier run (its curve; complete when it has ``max_t`` values)."""
        self._configs[key] = self._encode(config)
        self._curves[key] = {e: float(v) for e, v in enumerate(values[: self.max_t], start=1)}
        if len(values) >= self.max_t and key not in self._completed:
            self._completed.append(key)


def scheduler_for(stopper: Stopper, epochs: int, workload: Workload) -> TrialScheduler:
    """The Tune scheduler that runs curvecast ``stopper`` itself (any rule, with its settings:
    the same decisions as on the local backend), over the same study view.

    Raises:
        ValueError: the oracle (it reads recorded final values no search has).
    """
    if isinstance(stopper, Oracle):
        raise ValueError(f"--backend ray runs the predictive, median, asha and never stoppers, "
                         f"not {stopper!r}")
    return StudyScheduler.from_stopper(stopper, epochs, workload.describe,
                                       workload.diverged_value)
