"""MetaQNN's layers and the paper's notation for a net.

MetaQNN (B. Baker, O. Gupta, N. Naik, R. Raskar, *Designing Neural Network Architectures using
Reinforcement Learning*, ICLR 2017) searches over sequences of layers: convolution ``C(n, f, l)``
(n filters, receptive field f, stride l), pooling ``P(f, l)``, fully connected ``FC(n)``, and a
termination: softmax ``SM(n)`` or global average pooling ``GAP(n)`` followed by ``SM(n)``.  The
published learning curves of Baker et al. 2017/2018 describe their CIFAR-10 nets in that notation
(plus dropout ``D(i, n)``, the i-th of n dropout layers); :func:`parse_net` and :func:`format_net`
read and write it exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _positive(cls: str, **fields: int) -> None:
    for name, value in fields.items():
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{cls}: {name} must be a positive integer, got {value!r}")


# --------------------------------------------------------------------------------------- layers
@dataclass(frozen=True)
class Conv:
    """Convolution with ``filters`` output channels, a ``kernel × kernel`` receptive field and
    ``stride`` (paper notation ``C(filters,kernel,stride)``)."""

    filters: int
    kernel: int
    stride: int = 1

    def __post_init__(self) -> None:
        _positive("Conv", filters=self.filters, kernel=self.kernel, stride=self.stride)

    def __str__(self) -> str:
        return f"C({self.filters},{self.kernel},{self.stride})"


@dataclass(frozen=True)
class Pool:
    """Max pooling over ``size × size`` windows with ``stride`` (paper notation ``P(size,stride)``)."""

    size: int
    stride: int

    def __post_init__(self) -> None:
        _positive("Pool", size=self.size, stride=self.stride)

    def __str__(self) -> str:
        return f"P({self.size},{self.stride})"


@dataclass(frozen=True)
class FC:
    """Fully connected layer with ``units`` outputs (paper notation ``FC(units)``)."""

    units: int

    def __post_init__(self) -> None:
        _positive("FC", units=self.units)

    def __str__(self) -> str:
        return f"FC({self.units})"


@dataclass(frozen=True)
class Dropout:
    """The ``index``-th of ``total`` dropout layers (paper notation ``D(index,total)``).

    Present in the paper's CIFAR-10 nets; never proposed by :class:`MetaQNNSpace`.
    """

    index: int
    total: int

    def __post_init__(self) -> None:
        _positive("Dropout", index=self.index, total=self.total)
        if self.index > self.total:
            raise ValueError(f"Dropout: index {self.index} is above total {self.total}")

    def __str__(self) -> str:
        return f"D({self.index},{self.total})"


@dataclass(frozen=True)
class GAP:
    """Global average pooling to ``classes`` outputs (a 1×1 convolution then a spatial mean)."""

    classes: int

    def __post_init__(self) -> None:
        _positive("GAP", classes=self.classes)

    def __str__(self) -> str:
        return f"GAP({self.classes})"


@dataclass(frozen=True)
class Softmax:
    """The softmax output over ``classes`` (paper notation ``SM(classes)``): ends every net."""

    classes: int

    def __post_init__(self) -> None:
        _positive("Softmax", classes=self.classes)

    def __str__(self) -> str:
        return f"SM({self.classes})"


Layer = Conv | Pool | FC | Dropout | GAP | Softmax

# ASCII digits only: \d alone read a full-width 8 (U+FF18) as 8, so "C(<U+FF18>,3,1)" was a
# second string for the net C(8,3,1)
_TOKEN = re.compile(r"^(C|P|FC|D|GAP|SM)\((\d+(?:,\s*\d+)*)\)$", re.ASCII)
_ARITY: dict[str, tuple[type, tuple[int, ...]]] = {
    "C": (Conv, (3,)), "P": (Pool, (2,)), "FC": (FC, (1,)), "D": (Dropout, (2,)),
    "GAP": (GAP, (1,)), "SM": (Softmax, (1,)),
}


def format_net(layers: Sequence[Layer]) -> str:
    """The paper's notation for ``layers``, e.g. ``"[C(64,1,1), P(2,2), GAP(10), SM(10)]"``."""
    return "[" + ", ".join(str(layer) for layer in layers) + "]"


def parse_net(text: str) -> list[Layer]:
    """Parse the paper's notation (the ``net`` column of ``metaqnn_cifar10.csv``).

    Whitespace around tokens is tolerated; ``format_net(parse_net(s)) == s`` for the canonical
    form (``", "`` between layers, no spaces inside a token).

    Raises:
        ValueError: naming the malformed token (or the missing brackets) and the whole string.
    """
    if not isinstance(text, str):
        raise ValueError(f"net must be a string, got {type(text).__name__} {text!r}")
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")):
        raise ValueError(f"net string {text!r} must be enclosed in '[' and ']'")
    body = body[1:-1].strip()
    if not body:
        raise ValueError(f"net string {text!r} has no layers")
    layers: list[Layer] = []
    for raw in re.split(r"(?<=\))\s*,", body):
        token = raw.strip()
        match = _TOKEN.match(token)
        if match is None:
            raise ValueError(f"bad layer token {token!r} in net string {text!r}: expected "
                             "C(n,f,l), P(f,l), FC(n), D(i,n), GAP(n) or SM(n)")
        kind, args = match.group(1), [int(a) for a in match.group(2).split(",")]
        cls, arities = _ARITY[kind]
        if len(args) not in arities:
            raise ValueError(f"bad layer token {token!r} in net string {text!r}: {kind} takes "
                             f"{arities[0]} integer(s), got {len(args)}")
        try:
            layers.append(cls(*args))
        except ValueError as err:
            raise ValueError(f"bad layer token {token!r} in net string {text!r}: {err}") from None
    return layers

