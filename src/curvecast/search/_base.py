"""The interface every search algorithm implements: ``ask()`` for a config, ``tell()`` its result."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


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
