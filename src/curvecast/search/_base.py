"""The interface every search algorithm implements: ``ask()`` for a config, ``tell()`` its result."""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Result:
    """What a searcher is told about one trial.

    Attributes:
        value: the final value (metric units): observed when the trial was trained to the end,
            the predicted final value when it was stopped early.
        predicted: whether ``value`` is a prediction (the trial was stopped).
    """

    value: float
    predicted: bool


class Searcher(ABC):
    """Proposes configurations and learns from their (observed or predicted) final values."""

    @abstractmethod
    def ask(self) -> str | None:
        """The id of the next configuration to run, or None when the search has nothing left."""

    @abstractmethod
    def tell(self, config_id: str, value: float, predicted: bool) -> None:
        """Report the final value of ``config_id``; ``predicted`` marks an early-stopped trial."""


class ConfigSearcher(ABC):
    """Proposes new configurations (dicts) from a search space, for real training.

    The generative twin of :class:`Searcher`, which picks among recorded configurations.
    """

    @abstractmethod
    def ask_config(self) -> dict[str, Any] | None:
        """The next configuration to train, or None when the search has nothing left."""

    @abstractmethod
    def tell_config(self, config: Mapping[str, Any], value: float, predicted: bool) -> None:
        """Report the final value of ``config``; ``predicted`` marks an early-stopped trial."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state to resume the search from (default: nothing)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Restore what :meth:`state_dict` returned (default: nothing to restore)."""


class IdSearcherConfigs(Searcher, ConfigSearcher):
    """:class:`ConfigSearcher` for a :class:`Searcher` that knows the config of each id it proposed.

    Subclasses keep the ids in flight in ``_pending`` (asked, not yet told) and implement
    :meth:`config`; ``ask_config`` and ``tell_config`` then come from ``ask`` and ``tell``.
    """

    _pending: Mapping[str, Any]

    @abstractmethod
    def config(self, config_id: str) -> dict[str, Any]:
        """The config dict of a proposed id."""

    def _check_told(self, config_id: str, value: float) -> float:
        """The value to tell ``config_id``, as a float; ValueError for an id not in flight
        (never asked, or told already) or a non-finite value."""
        if config_id not in self._pending:
            told = config_id in getattr(self, "results_", {})
            raise ValueError(f"config {config_id!r} "
                             f"{'was already told a result' if told else 'was not asked for'}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"config {config_id!r}: the value must be finite, got {value!r}")
        return value

    def ask_config(self) -> dict[str, Any] | None:
        """:meth:`ask`, then the config dict (:meth:`config`)."""
        config_id = self.ask()
        return None if config_id is None else self.config(config_id)

    def tell_config(self, config: Mapping[str, Any], value: float, predicted: bool) -> None:
        """:meth:`tell` the oldest trial in flight with this config.

        Raises:
            ValueError: no trial in flight has this config; see :meth:`tell`.
        """
        key = _canonical(config)
        for config_id in self._pending:
            if _canonical(self.config(config_id)) == key:
                self.tell(config_id, value, predicted)
                return
        raise ValueError(f"config {dict(config)!r} is not in flight")


def _canonical(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True, default=str)
