"""Random search over a search space, for real training (the generative twin of RandomSearch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from curvecast.search._base import ConfigSearcher
from curvecast.space import ParamSpace, SearchSpace


class RandomSampler(ConfigSearcher):
    """Draws config ``i`` from ``space`` with ``numpy.random.default_rng([seed, i])``.

    So the ``i``-th proposal depends only on (space, seed, i): a resumed search proposes the same
    configs, and ``curvecast collect`` with the same seed records exactly these configs (use
    another seed for a search warm-started from such a recording, or it re-trains its prior).

    Args:
        space: what to sample.
        seed: the sampling seed.
        max_trials: stop proposing after this many (None: never stop).

    Raises:
        ValueError: an empty space (a ParamSpace without parameters: every config would be
            ``{}``), or ``max_trials < 0``.
    """

    def __init__(self, space: SearchSpace, seed: int = 0, max_trials: int | None = None) -> None:
        if isinstance(space, ParamSpace) and not space.params:
            raise ValueError(f"the search space is empty, there is nothing to sample: {space!r}")
        if max_trials is not None and max_trials < 0:
            raise ValueError(f"max_trials must be >= 0, got {max_trials}")
        self.space = space
        self.seed = seed
        self.max_trials = max_trials
        self.asked = 0
        self.results: list[tuple[dict[str, Any], float, bool]] = []

    def ask_config(self) -> dict[str, Any] | None:
        if self.max_trials is not None and self.asked >= self.max_trials:
            return None
        config = self.space.sample(np.random.default_rng([self.seed, self.asked]))
        self.asked += 1
        return config

    def tell_config(self, config: Mapping[str, Any], value: float, predicted: bool) -> None:
        self.results.append((dict(config), float(value), bool(predicted)))

    def state_dict(self) -> dict[str, Any]:
        return {"asked": self.asked}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.asked = int(state.get("asked", 0))
