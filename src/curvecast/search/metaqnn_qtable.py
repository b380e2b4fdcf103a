"""MetaQNN's Q-table: its states, rows of Q-values, trajectories, the replay memory's entries,
the backward Q-learning update, and the text form of states and actions in a saved state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from curvecast.space.metaqnn import FC, Layer, LayerKind, State, parse_net

#: A Q-learning state: the space's state and the last (non-dropout) layer, None at the start.
QState = tuple[State, Layer | None]


def key_text(key: QState) -> str:
    """A Q-state as text: ``"depth,last,size,consecutive_fc|layer"`` (see :func:`parse_key`)."""
    state, last = key
    return (f"{state.depth},{state.last.value},{state.size},{state.consecutive_fc}|"
            f"{'' if last is None else last}")


def parse_key(text: str) -> QState:
    """The Q-state :func:`key_text` wrote.

    The state's ``fc_units`` is not in the text: it is the width of the key's last layer when
    that is FC (so keys saved before the state kept it read the same).
    """
    try:
        head, last = text.split("|")
        depth, kind, size, fc = head.split(",")
        layer = parse_action(last) if last else None
        units = layer.units if isinstance(layer, FC) and kind == LayerKind.FC.value else 0
        state = State(int(depth), LayerKind(kind), int(size), int(fc), units)
    except ValueError:
        raise ValueError(f"bad state key {text!r}: expected 'depth,last,size,consecutive_fc|layer'"
                         ) from None
    return state, layer


def parse_action(text: str) -> Layer:
    """One layer in the paper's notation, e.g. ``"C(64,3,1)"``."""
    layers = parse_net(f"[{text}]")
    if len(layers) != 1:
        raise ValueError(f"bad action {text!r}: expected one layer")
    return layers[0]


class Row:
    """The Q-values of one state, over its actions in a fixed order."""

    __slots__ = ("actions", "index", "values")

    def __init__(self, actions: Sequence[Layer], q_init: float) -> None:
        self.actions: tuple[Layer, ...] = tuple(actions)
        self.index = {a: i for i, a in enumerate(self.actions)}
        self.values = [q_init] * len(self.actions)


#: A compiled trajectory: per step, the row of the state and the index of the action taken.
Steps = tuple[tuple[Row, int], ...]


@dataclass(frozen=True)
class Experience:
    """One told trial in the replay memory."""

    config_id: str
    net: str
    steps: Steps
    reward: float
    predicted: bool


def q_update(steps: Steps, reward: float, alpha: float, gamma: float) -> None:
    """One backward Q-learning pass over a trajectory that ends in a terminal state."""
    target = reward
    for row, i in reversed(steps):
        values = row.values
        values[i] += alpha * (target - values[i])
        target = gamma * max(values)
