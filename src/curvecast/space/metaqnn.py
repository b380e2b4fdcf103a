"""The MetaQNN CNN layer space, scaled to small inputs: its states and transitions.

:class:`MetaQNNSpace` makes MetaQNN's states and transitions explicit, so a Q-learning searcher can
walk them, and adds training hyperparameters (learning rate, weight decay, batch size).  A config is
a flat dict ``{"net": "<paper string>", "lr": ..., "weight_decay": ..., "batch_size": ...}``.

The layers and the paper's notation are in :mod:`curvecast.space.layers`; representation sizes,
depth and parameter counts in :mod:`curvecast.space.net_size`.  Both are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from curvecast.space.layers import (
    FC,
    GAP,
    Conv,
    Dropout,
    Layer,
    Pool,
    Softmax,
    format_net,
    parse_net,
)
from curvecast.space.net_size import (
    check_input,
    count_params,
    describe_layers,
    describe_net,
    paper_param_count,
    pool_output_size,
)
from curvecast.space.params import Categorical, Float, ParamSpace, SearchSpace

__all__ = [
    "FC",
    "GAP",
    "Conv",
    "Dropout",
    "Layer",
    "LayerKind",
    "MetaQNNSpace",
    "Pool",
    "Softmax",
    "State",
    "count_params",
    "describe_layers",
    "describe_net",
    "format_net",
    "paper_param_count",
    "parse_net",
    "pool_output_size",
]


# --------------------------------------------------------------------------------------- states
class LayerKind(StrEnum):
    """Type of the last layer of a partial net (the 'layer type' of a MetaQNN state)."""

    START = "start"
    CONV = "conv"
    POOL = "pool"
    FC = "fc"
    GAP = "gap"
    SOFTMAX = "softmax"


_KIND = {Conv: LayerKind.CONV, Pool: LayerKind.POOL, FC: LayerKind.FC, GAP: LayerKind.GAP,
         Softmax: LayerKind.SOFTMAX}


@dataclass(frozen=True)
class State:
    """A MetaQNN state: where a partial net stands.

    Attributes:
        depth: number of convolution, pooling and FC layers so far (GAP/SM not counted).
        last: type of the last layer.
        size: side of the current spatial representation (pixels); unchanged by FC layers.
        consecutive_fc: number of FC layers at the end of the partial net.
        fc_units: units of the last layer when it is FC (0 otherwise): MetaQNN's state keeps the
            FC width, since an FC layer may not be followed by a wider one.
    """

    depth: int
    last: LayerKind
    size: int
    consecutive_fc: int = 0
    fc_units: int = 0


class MetaQNNSpace(SearchSpace):
    """MetaQNN's CNN layer space plus training hyperparameters (module docstring).

    Transition rules (``actions``):

    * at most ``max_depth`` convolution/pooling/FC layers;
    * convolutions (stride 1, 'same' padding) with ``conv_filters`` × ``conv_kernels``, a kernel
      never wider than the current representation; not after an FC layer;
    * pooling (``pools``, each ``(size, stride)``) only while the representation is above 1, never
      right after pooling or an FC layer, and only windows that fit the representation;
    * FC (``fc_units``) only when the representation is at most ``fc_max_size``, and at most
      ``max_consecutive_fc`` in a row; after an FC layer only FC or SM, and that FC no wider
      than the one before it (MetaQNN's rule; ``fc_widening=True`` lifts it, for replaying nets
      recorded without it: :func:`curvecast.search.covering_space` sets it when one widens;
      :meth:`describe` never applies it, and the ``digits-metaqnn`` workload trains and resumes
      a widening net a study drew before the rule, by ``validate(config, fc_widening=True)``);
    * termination after at least one layer: ``GAP(n_classes)`` (not after FC) then
      ``SM(n_classes)``, or ``SM(n_classes)`` directly.

    Sampling (:meth:`sample`) is a uniform random walk over the legal actions (MetaQNN's ε = 1
    exploration) plus independent draws of the hyperparameters (:attr:`hyperparameters`).

    Raises:
        ValueError: an argument out of range, or no legal first layer (an empty space).
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 8, 8),
        n_classes: int = 10,
        *,
        max_depth: int = 8,
        conv_filters: Sequence[int] = (8, 16, 32, 64),
        conv_kernels: Sequence[int] = (1, 3, 5),
        pools: Sequence[tuple[int, int]] = ((2, 2), (3, 2)),
        fc_units: Sequence[int] = (32, 64, 128),
        fc_max_size: int = 4,
        max_consecutive_fc: int = 2,
        fc_widening: bool = False,
        lr: tuple[float, float] = (1e-4, 0.05),
        weight_decay: tuple[float, float] = (1e-6, 1e-2),
        batch_sizes: Sequence[int] = (32, 64, 128),
    ) -> None:
        _, size = check_input(input_shape, n_classes)
        if max_depth < 1:
            raise ValueError(f"max_depth must be at least 1, got {max_depth}")
        if fc_max_size < 1:
            raise ValueError(f"fc_max_size must be at least 1, got {fc_max_size}")
        if max_consecutive_fc < 0:
            raise ValueError(f"max_consecutive_fc must be >= 0, got {max_consecutive_fc}")
        if not isinstance(fc_widening, bool):
            raise ValueError(f"fc_widening must be True or False, got {fc_widening!r}")
        if not conv_filters or not conv_kernels:
            raise ValueError(f"conv_filters and conv_kernels must be non-empty, got "
                             f"{tuple(conv_filters)!r} and {tuple(conv_kernels)!r}")
        for k in conv_kernels:
            if k < 1 or k % 2 == 0:
                raise ValueError(f"conv kernels must be odd and positive ('same' padding), "
                                 f"got {k}")
        for p in pools:
            if len(p) != 2 or p[1] > p[0]:
                raise ValueError(f"pools must be (size, stride) with stride <= size, got {p!r}")
        self.input_shape: tuple[int, int, int] = (int(input_shape[0]), size, size)
        self.n_classes = int(n_classes)
        self.max_depth = int(max_depth)
        self.conv_layers: tuple[Conv, ...] = tuple(Conv(int(f), int(k))
                                                   for f in conv_filters for k in conv_kernels)
        self.pool_layers: tuple[Pool, ...] = tuple(Pool(int(s), int(t)) for s, t in pools)
        self.fc_layers: tuple[FC, ...] = tuple(FC(int(u)) for u in fc_units)
        self.fc_max_size = int(fc_max_size)
        self.max_consecutive_fc = int(max_consecutive_fc)
        self.fc_widening = fc_widening
        #: The training hyperparameters: ``lr`` and ``weight_decay`` (log-uniform),
        #: ``batch_size`` (categorical).
        self.hyperparameters = ParamSpace([
            Float("lr", float(lr[0]), float(lr[1]), log=True),
            Float("weight_decay", float(weight_decay[0]), float(weight_decay[1]), log=True),
            Categorical("batch_size", tuple(int(b) for b in batch_sizes)),
        ])
        if not self.actions(self.start_state()):
            raise ValueError(f"no first layer fits a {size}x{size} input (conv kernels "
                             f"{tuple(conv_kernels)!r}, pools {tuple(pools)!r}, FC at sizes <= "
                             f"{fc_max_size} with max_consecutive_fc={max_consecutive_fc}): the "
                             "space is empty")

    def __repr__(self) -> str:
        return (f"MetaQNNSpace(input_shape={self.input_shape}, n_classes={self.n_classes}, "
                f"max_depth={self.max_depth})")

    # ----------------------------------------------------------------- states and transitions
    def start_state(self) -> State:
        """The empty net."""
        return State(depth=0, last=LayerKind.START, size=self.input_shape[1])

    def is_terminal(self, state: State) -> bool:
        """Whether the net is finished (its last layer is SM)."""
        return state.last is LayerKind.SOFTMAX

    def actions(self, state: State) -> list[Layer]:
        """The legal next layers from ``state``, in a fixed order (empty when terminal)."""
        return self._actions(state, self.fc_widening)

    def _actions(self, state: State, fc_widening: bool) -> list[Layer]:
        if state.last is LayerKind.SOFTMAX:
            return []
        term = Softmax(self.n_classes)
        if state.last is LayerKind.GAP:
            return [term]
        out: list[Layer] = []
        room = state.depth < self.max_depth
        after_fc = state.last is LayerKind.FC
        if room and not after_fc:
            out += [c for c in self.conv_layers if c.kernel <= state.size]
            if state.size > 1 and state.last is not LayerKind.POOL:
                out += [p for p in self.pool_layers if p.size <= state.size]
        if (room and state.size <= self.fc_max_size
                and state.consecutive_fc < self.max_consecutive_fc):
            widest = state.fc_units if after_fc and not fc_widening else None
            out += [f for f in self.fc_layers if widest is None or f.units <= widest]
        if state.last is not LayerKind.START:
            if not after_fc:
                out.append(GAP(self.n_classes))
            out.append(term)
        return out

    def transition(self, state: State, layer: Layer) -> State:
        """The state after appending ``layer``.

        Raises:
            ValueError: when ``layer`` is not among :meth:`actions` of ``state``.
        """
        if layer not in self.actions(state):
            raise ValueError(f"{layer} is not a legal action from {state}"
                             f"{self._why(state, layer, self.fc_widening)}")
        return self._step(state, layer)

    def _step(self, state: State, layer: Layer) -> State:
        if isinstance(layer, Pool):
            size = pool_output_size(state.size, layer)
        else:
            size = state.size
        counts = isinstance(layer, Conv | Pool | FC)
        return State(
            depth=state.depth + int(counts),
            last=_KIND[type(layer)],
            size=size,
            consecutive_fc=state.consecutive_fc + 1 if isinstance(layer, FC) else 0,
            fc_units=layer.units if isinstance(layer, FC) else 0,
        )

    def widens(self, state: State, layer: Layer) -> bool:
        """Whether ``layer`` is an FC layer wider than the FC layer ``state`` ends with, a step
        MetaQNN forbids (and this space too unless ``fc_widening``)."""
        return (isinstance(layer, FC) and state.last is LayerKind.FC
                and layer.units > state.fc_units)

    def _why(self, state: State, layer: Layer, fc_widening: bool) -> str:
        """Why ``layer`` may not follow ``state``, when the reason is the FC width rule
        (``fc_widening``: whether the walk in question lifts it, which may differ from the
        space's own: :meth:`walk`)."""
        if self.widens(state, layer) and not fc_widening:
            return (f": an FC layer may not be wider than the FC({state.fc_units}) before it "
                    "(MetaQNN's rule; fc_widening=True lifts it)")
        return ""

    def walk(self, layers: Sequence[Layer], *, fc_widening: bool | None = None) -> State:
        """Follow ``layers`` from :meth:`start_state`; the state reached.

        Args:
            layers: the layers to follow (a dropout layer is refused: it is no step).
            fc_widening: whether an FC layer may be wider than the FC layer before it (default:
                the space's ``fc_widening``).

        Raises:
            ValueError: naming the position and layer of the first illegal step.
        """
        widening = self.fc_widening if fc_widening is None else fc_widening
        state = self.start_state()
        for pos, layer in enumerate(layers):
            if isinstance(layer, Dropout) or layer not in self._actions(state, widening):
                why = self._why(state, layer, widening)
                raise ValueError(f"layer {pos} ({layer}) of {format_net(layers)!r} is not "
                                 f"allowed after {state} in {self!r}{why}")
            state = self._step(state, layer)
        return state

    def sample_layers(self, rng: np.random.Generator) -> list[Layer]:
        """A uniform random walk over :meth:`actions` until a terminal state."""
        state = self.start_state()
        layers: list[Layer] = []
        while not self.is_terminal(state):
            options = self.actions(state)
            layer = options[int(rng.integers(len(options)))]
            layers.append(layer)
            state = self.transition(state, layer)
        return layers

    # ----------------------------------------------------------------- SearchSpace
    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """``{"net": <paper string>, "lr": float, "weight_decay": float, "batch_size": int}``."""
        net = format_net(self.sample_layers(rng))
        return {"net": net, **self.hyperparameters.sample(rng)}

    def layers(self, config: Mapping[str, Any], *,
               fc_widening: bool | None = None) -> list[Layer]:
        """The parsed, validated layers of ``config["net"]`` (``fc_widening``: as :meth:`walk`).

        Raises:
            ValueError: missing ``net``, a malformed string, or a net this space cannot produce.
        """
        if "net" not in config:
            raise ValueError("config lacks parameter 'net'")
        layers = parse_net(config["net"])
        state = self.walk(layers, fc_widening=fc_widening)
        if not self.is_terminal(state):
            raise ValueError(f"net {config['net']!r} does not end with a termination layer")
        return layers

    def validate(self, config: Mapping[str, Any], *, fc_widening: bool | None = None) -> None:
        """Raise ``ValueError`` naming the field when ``config`` is not in this space
        (``fc_widening``: as :meth:`walk`; a net of a study made before the space kept the FC
        width rule is validated with ``fc_widening=True``)."""
        self.layers(config, fc_widening=fc_widening)
        self.hyperparameters.validate(config)

    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Architecture fields of ``config``: see :func:`describe_layers`.

        The FC width rule is not applied here (:meth:`validate` applies it): a net made before
        the space had it, such as a trial of a saved study, is still described.
        """
        layers = self.layers(config, fc_widening=True)
        return describe_layers(layers, self.input_shape, self.n_classes)

    #: Architecture columns at the start of :attr:`encoded_names`.
    ARCH_NAMES = ("log10_n_params", "n_layers", "n_conv", "n_pool", "n_fc", "gap", "final_size")

    @property
    def encoded_names(self) -> list[str]:
        return [*self.ARCH_NAMES, *self.hyperparameters.encoded_names]

    def encode_one(self, config: Mapping[str, Any]) -> list[float]:
        arch = self.describe(config)
        head = [math.log10(arch["n_params"])] + [float(arch[n]) for n in self.ARCH_NAMES[1:]]
        return head + self.hyperparameters.encode_one(config)
