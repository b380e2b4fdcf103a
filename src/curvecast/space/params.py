"""Parameter types and the product search space over them.

A config is a plain ``dict[str, Any]``.  A :class:`SearchSpace` can sample configs with a numpy
``Generator`` and encode configs as numeric vectors for the predictors: floats and ints on a linear
or log10 scale, categoricals one-hot.  :attr:`SearchSpace.encoded_names` names the encoded columns.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray


class Param(ABC):
    """One named dimension of a search space."""

    name: str

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one value."""

    @abstractmethod
    def encoded_names(self) -> list[str]:
        """Names of the numeric columns :meth:`encode` produces."""

    @abstractmethod
    def encode(self, value: Any) -> list[float]:
        """Numeric encoding of one value (length ``len(encoded_names())``)."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a legal value of this parameter."""


def _check_bounds(name: str, low: float, high: float, log: bool) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name}: bounds must be finite, got low={low}, high={high}")
    if low > high:
        raise ValueError(f"{name}: low={low} is above high={high}")
    if log and low <= 0:
        raise ValueError(f"{name}: a log-scale parameter needs low > 0, got low={low}")


@dataclass(frozen=True)
class Float(Param):
    """A real number in ``[low, high]``, uniform on a linear or (``log=True``) log scale."""

    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        _check_bounds(self.name, self.low, self.high, self.log)

    def sample(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def encoded_names(self) -> list[str]:
        return [f"log10_{self.name}" if self.log else self.name]

    def encode(self, value: Any) -> list[float]:
        v = float(value)
        return [math.log10(v) if self.log else v]

    def contains(self, value: Any) -> bool:
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False
        return self.low <= v <= self.high


@dataclass(frozen=True)
class Int(Param):
    """An integer in ``[low, high]`` (both included), uniform on a linear or log scale."""

    name: str
    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        _check_bounds(self.name, self.low, self.high, self.log)

    def sample(self, rng: np.random.Generator) -> int:
        if self.log:
            x = np.exp(rng.uniform(np.log(self.low - 0.5 if self.low > 0.5 else self.low),
                                   np.log(self.high + 0.5)))
            return int(min(max(round(float(x)), self.low), self.high))
        return int(rng.integers(self.low, self.high + 1))

    def encoded_names(self) -> list[str]:
        return [f"log10_{self.name}" if self.log else self.name]

    def encode(self, value: Any) -> list[float]:
        v = float(value)
        return [math.log10(v) if self.log else v]

    def contains(self, value: Any) -> bool:
        try:
            return float(value) == int(value) and self.low <= int(value) <= self.high
        except (TypeError, ValueError):
            return False


@dataclass(frozen=True)
class Categorical(Param):
    """One of a fixed tuple of choices, encoded one-hot."""

    name: str
    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(self.choices) == 0:
            raise ValueError(f"{self.name}: a categorical parameter needs at least one choice")
        if len(set(map(repr, self.choices))) != len(self.choices):
            raise ValueError(f"{self.name}: duplicated choices in {self.choices}")

    def sample(self, rng: np.random.Generator) -> Any:
        choice = self.choices[int(rng.integers(len(self.choices)))]
        return choice.item() if isinstance(choice, np.generic) else choice

    def encoded_names(self) -> list[str]:
        return [f"{self.name}={c}" for c in self.choices]

    def encode(self, value: Any) -> list[float]:
        if not self.contains(value):
            raise ValueError(f"{self.name}: {value!r} is not one of {self.choices}")
        return [1.0 if value == c else 0.0 for c in self.choices]

    def contains(self, value: Any) -> bool:
        return any(value == c for c in self.choices)


class SearchSpace:
    """Anything configs can be sampled from and encoded by.

    Subclasses implement :meth:`sample`, :attr:`encoded_names` and :meth:`encode_one`;
    :meth:`encode` applies :meth:`encode_one` to many configs.
    """

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw one config."""
        raise NotImplementedError

    @property
    def encoded_names(self) -> list[str]:
        """Names of the columns of :meth:`encode`."""
        raise NotImplementedError

    def encode_one(self, config: Mapping[str, Any]) -> list[float]:
        """Numeric encoding of one config (length ``len(encoded_names)``)."""
        raise NotImplementedError

    def validate(self, config: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` naming the field when ``config`` is not in this space."""
        raise NotImplementedError

    def encode(self, configs: pd.DataFrame | Iterable[Mapping[str, Any]]) -> NDArray[np.float64]:
        """Encode many configs: returns shape ``(n_configs, len(encoded_names))``."""
        rows: Iterable[Mapping[str, Any]]
        if isinstance(configs, pd.DataFrame):
            rows = configs.to_dict(orient="records")  # type: ignore[assignment]
        else:
            rows = configs
        encoded = [self.encode_one(r) for r in rows]
        return np.asarray(encoded, dtype=np.float64).reshape(len(encoded), len(self.encoded_names))


class ParamSpace(SearchSpace):
    """The product of independent parameters (the usual hyperparameter space)."""

    def __init__(self, params: Sequence[Param]) -> None:
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicated parameter names in {names}")
        self.params: tuple[Param, ...] = tuple(params)

    def __repr__(self) -> str:
        return f"ParamSpace({list(self.params)!r})"

    @property
    def names(self) -> list[str]:
        """Parameter names, in order."""
        return [p.name for p in self.params]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {p.name: p.sample(rng) for p in self.params}

    @property
    def encoded_names(self) -> list[str]:
        return [n for p in self.params for n in p.encoded_names()]

    def encode_one(self, config: Mapping[str, Any]) -> list[float]:
        self.validate(config)
        return [x for p in self.params for x in p.encode(config[p.name])]

    def validate(self, config: Mapping[str, Any]) -> None:
        for p in self.params:
            if p.name not in config:
                raise ValueError(f"config lacks parameter {p.name!r}")
            if not p.contains(config[p.name]):
                raise ValueError(f"parameter {p.name!r}: {config[p.name]!r} is outside {p}")
