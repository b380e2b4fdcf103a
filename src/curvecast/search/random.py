"""Random search over a finite set of recorded configurations (for replay)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from curvecast.curves import CurveSet
from curvecast.search._base import Result, Searcher


class RandomSearch(Searcher):
    """Proposes the given configs in a seeded random order, each once.

    Args:
        config_ids: the candidates (e.g. the configs of a recorded CurveSet), no duplicates.
        seed: seed of the order.
        max_trials: stop proposing after this many (default: all candidates).

    Attributes:
        order_: the full proposal order (a permutation of ``config_ids``).
        results_: ``config_id → Result`` for every trial told so far.

    Raises:
        ValueError: no candidates, a duplicated candidate, or ``max_trials < 0``.
    """

    def __init__(self, config_ids: Sequence[str], seed: int = 0,
                 max_trials: int | None = None) -> None:
        ids = [str(c) for c in config_ids]
        if not ids:
            raise ValueError("random search needs at least one candidate config, got none")
        if len(set(ids)) != len(ids):
            dup = next(c for c in ids if ids.count(c) > 1)
            raise ValueError(f"config {dup!r} appears more than once among the candidates")
        if max_trials is not None and max_trials < 0:
            raise ValueError(f"max_trials must be >= 0 or None, got {max_trials}")
        self.seed = seed
        self.max_trials = len(ids) if max_trials is None else min(max_trials, len(ids))
        rng = np.random.default_rng(seed)
        self.order_ = [ids[i] for i in rng.permutation(len(ids))]
        self.results_: dict[str, Result] = {}
        self._next = 0

    @classmethod
    def from_curves(cls, curves: CurveSet, seed: int = 0,
                    max_trials: int | None = None) -> RandomSearch:
        """Random search over the configs of a recorded CurveSet."""
        return cls(curves.config_ids, seed=seed, max_trials=max_trials)

    def __repr__(self) -> str:
        return f"RandomSearch(candidates={len(self.order_)}, seed={self.seed})"

    def ask(self) -> str | None:
        if self._next >= self.max_trials:
            return None
        config_id = self.order_[self._next]
        self._next += 1
        return config_id

    def tell(self, config_id: str, value: float, predicted: bool) -> None:
        if config_id in self.results_:
            raise ValueError(f"config {config_id!r} was already told a result")
        self.results_[config_id] = Result(float(value), bool(predicted))
