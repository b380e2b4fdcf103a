"""The MetaQNN CNN layer space, scaled to small inputs.

MetaQNN (B. Baker, O. Gupta, N. Naik, R. Raskar, *Designing Neural Network Architectures using
Reinforcement Learning*, ICLR 2017) searches over sequences of layers: convolution ``C(n, f, l)``
(n filters, receptive field f, stride l), pooling ``P(f, l)``, fully connected ``FC(n)``, and a
termination: softmax ``SM(n)`` or global average pooling ``GAP(n)`` followed by ``SM(n)``.  The
published learning curves of Baker et al. 2017/2018 describe their CIFAR-10 nets in that notation
(plus dropout ``D(i, n)``, the i-th of n dropout layers); :func:`parse_net` and :func:`format_net`
read and write it exactly.

:class:`MetaQNNSpace` makes MetaQNN's states and transitions explicit, so a Q-learning searcher can
walk them, and adds training hyperparameters (learning rate, weight decay, batch size).  A config is
a flat dict ``{"net": "<paper string>", "lr": ..., "weight_decay": ..., "batch_size": ...}``.

Representation size.  Inputs are square, ``R × R``.  Convolutions use stride 1 and 'same' padding
(``R`` unchanged); pooling ``P(f, l)`` maps ``R`` to ``ceil((R − f) / l) + 1`` as in MetaQNN
(and as torch's ``MaxPool2d(f, l, ceil_mode=True)`` does when ``l ≤ f``).

Depth.  ``n_layers`` counts every layer except dropout, *including* GAP and SM.  That is the rule
that reproduces the ``depth`` column of the paper's ``metaqnn_cifar10.csv`` on all 1000 rows (the
data's README says "without GAP and SM", which matches none of them).

Parameter counts. ``n_params`` is the exact number of trainable scalars of the torch model the
digits workload builds from a net: every convolution and linear layer has a bias; GAP is a 1×1
convolution to the classes followed by a global mean; SM after anything but GAP is a linear layer
from the flattened representation to the classes; every convolution is followed by batch norm
(scale and shift: 2 more scalars per filter), which keeps deep plain nets trainable on 8x8.
:func:`paper_param_count` reproduces the *published* ``num_params`` instead (1000/1000 rows); it
counts weights only (no biases), pools with ``floor((R − f) / l) + 1``, and counts the SM layer as
a repeat of the previous layer with its input width set to its output width (``out² · f²`` after a
convolution, ``out²`` after FC, 0 after a pool or GAP) — a quirk of the publishers' counter, kept
so their numbers can be checked, not a model anyone trains. """

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from curvecast.space.params import Categorical, Float, ParamSpace, SearchSpace


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

_TOKEN = re.compile(r"^(C|P|FC|D|GAP|SM)\((\d+(?:,\s*\d+)*)\)$")
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


# --------------------------------------------------------------------------------------- sizes
def pool_output_size(size: int, pool: Pool, *, ceil_mode: bool = True) -> int:
    """Side of the representation after ``pool`` on a ``size × size`` input.

    ``ceil((size − f) / l) + 1`` (MetaQNN, ``ceil_mode=True``) or ``floor(...) + 1``.

    Raises:
        ValueError: when the result would be below 1 (window larger than the input).
    """
    steps = (size - pool.size) / pool.stride
    out = (math.ceil(steps) if ceil_mode else math.floor(steps)) + 1
    if out < 1 or pool.size > size:
        raise ValueError(f"{pool} does not fit a {size}x{size} representation")
    return out


def _check_input(input_shape: Sequence[int], n_classes: int) -> tuple[int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (channels, size, size) with positive entries, "
                         f"got {tuple(input_shape)!r}")
    if shape[1] != shape[2]:
        raise ValueError(f"input_shape must be square, got {shape[1]}x{shape[2]}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    return shape[0], shape[1]


def _check_classes(layers: Sequence[Layer], n_classes: int, text: str) -> None:
    if not layers or not isinstance(layers[-1], Softmax):
        raise ValueError(f"net {text!r} must end with SM({n_classes})")
    for layer in layers:
        if isinstance(layer, GAP | Softmax) and layer.classes != n_classes:
            raise ValueError(f"net {text!r}: {layer} does not match n_classes={n_classes}")
    for pos, layer in enumerate(layers[:-1]):
        if isinstance(layer, Softmax):
            raise ValueError(f"net {text!r}: SM at position {pos} before the end")
        if isinstance(layer, GAP) and not all(isinstance(x, Dropout | Softmax)
                                              for x in layers[pos + 1:]):
            raise ValueError(f"net {text!r}: only SM may follow GAP (position {pos})")


def count_params(layers: Sequence[Layer], input_shape: Sequence[int], n_classes: int) -> int:
    """Exact number of trainable scalars of the torch model built from ``layers``.

    See the module docstring for the model (biases everywhere, GAP = 1×1 conv + mean, SM = linear
    unless after GAP, MetaQNN ceil pooling, batch norm after every conv).

    Raises:
        ValueError: a layer that does not fit (pool window above the representation size), a
            missing or misplaced SM/GAP, or a class count other than ``n_classes``.
    """
    text = format_net(layers)
    channels, size = _check_input(input_shape, n_classes)
    _check_classes(layers, n_classes, text)
    width = channels * size * size  # flattened width, used after an FC
    flat = after_gap = False
    total = 0
    for layer in layers:
        if isinstance(layer, Conv):
            if flat:
                raise ValueError(f"net {text!r}: {layer} after a fully connected layer")
            if layer.kernel % 2 == 0:
                raise ValueError(f"net {text!r}: {layer} has an even kernel; 'same' padding "
                                 "needs an odd one")
            # conv weights and bias, then batch norm's scale and shift
            total += channels * layer.filters * layer.kernel**2 + 3 * layer.filters
            channels = layer.filters
            size = -(-size // layer.stride)
        elif isinstance(layer, Pool):
            if flat:
                raise ValueError(f"net {text!r}: {layer} after a fully connected layer")
            size = pool_output_size(size, layer)
        elif isinstance(layer, FC):
            width = width if flat else channels * size * size
            total += width * layer.units + layer.units
            width, flat = layer.units, True
        elif isinstance(layer, GAP):
            if flat:
                raise ValueError(f"net {text!r}: GAP after a fully connected layer")
            total += channels * layer.classes + layer.classes
            width, flat = layer.classes, True
        elif isinstance(layer, Softmax) and not after_gap:
            width = width if flat else channels * size * size
            total += width * layer.classes + layer.classes
        after_gap = isinstance(layer, GAP) or (after_gap and isinstance(layer, Dropout))
    return total


def paper_param_count(layers: Sequence[Layer], input_shape: Sequence[int]) -> int:
    """The parameter count as the publishers of ``metaqnn_cifar10.csv`` computed ``num_params``.

    Weights only, floor pooling, SM counted as a repeat of the previous layer (module docstring).
    Reproduces all 1000 published values; use :func:`count_params` for a real model.
    """
    channels, size = _check_input(input_shape, 2)
    flat = False
    total = 0
    repeat = 0
    for layer in layers:
        if isinstance(layer, Conv):
            total += channels * layer.filters * layer.kernel**2
            repeat = layer.filters**2 * layer.kernel**2
            channels = layer.filters
        elif isinstance(layer, Pool):
            size = pool_output_size(size, layer, ceil_mode=False)
            repeat = 0
        elif isinstance(layer, FC):
            total += (channels if flat else channels * size * size) * layer.units
            repeat = layer.units**2
            channels, flat = layer.units, True
        elif isinstance(layer, GAP):
            total += channels * layer.classes
            repeat = 0
        elif isinstance(layer, Softmax):
            total += repeat
    return total


def describe_layers(layers: Sequence[Layer], input_shape: Sequence[int],
                    n_classes: int) -> dict[str, Any]:
    """Architecture summary of a parsed net.

    Returns:
        ``n_params`` (:func:`count_params`), ``n_layers`` (all layers but dropout, GAP and SM
        included: the paper's ``depth``), ``n_conv``, ``n_pool``, ``n_fc``, ``n_dropout``, ``gap``
        (1 if the net ends with GAP, else 0) and ``final_size`` (side of the last spatial
        representation, in pixels).
    """
    _, size = _check_input(input_shape, n_classes)
    for layer in layers:
        if isinstance(layer, Pool):
            size = pool_output_size(size, layer)
    return {
        "n_params": count_params(layers, input_shape, n_classes),
        "n_layers": sum(not isinstance(x, Dropout) for x in layers),
        "n_conv": sum(isinstance(x, Conv) for x in layers),
        "n_pool": sum(isinstance(x, Pool) for x in layers),
        "n_fc": sum(isinstance(x, FC) for x in layers),
        "n_dropout": sum(isinstance(x, Dropout) for x in layers),
        "gap": int(any(isinstance(x, GAP) for x in layers)),
        "final_size": size,
    }


def describe_net(net: str, input_shape: Sequence[int], n_classes: int) -> dict[str, Any]:
    """:func:`describe_layers` of a net in the paper's notation, e.g. a CIFAR-10 net with
    ``input_shape=(3, 32, 32)``, ``n_classes=10``.

    Raises:
        ValueError: a malformed string or a net that does not fit the input.
    """
    return describe_layers(parse_net(net), input_shape, n_classes)


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
    """

    depth: int
    last: LayerKind
    size: int
    consecutive_fc: int = 0


class MetaQNNSpace(SearchSpace):
    """MetaQNN's CNN layer space plus training hyperparameters (module docstring).

    Transition rules (``actions``):

    * at most ``max_depth`` convolution/pooling/FC layers;
    * convolutions (stride 1, 'same' padding) with ``conv_filters`` × ``conv_kernels``, a kernel
      never wider than the current representation; not after an FC layer;
    * pooling (``pools``, each ``(size, stride)``) only while the representation is above 1, never
      right after pooling or an FC layer, and only windows that fit the representation;
    * FC (``fc_units``) only when the representation is at most ``fc_max_size``, and at most
      ``max_consecutive_fc`` in a row; after an FC layer only FC or SM;
    * termination after at least one layer: ``GAP(n_classes)`` (not after FC) then
      ``SM(n_classes)``, or ``SM(n_classes)`` directly.

    Sampling (:meth:`sample`) is a uniform random walk over the legal actions (MetaQNN's ε = 1
    exploration) plus independent draws of the hyperparameters (:attr:`hyperparameters`).
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
        lr: tuple[float, float] = (1e-4, 0.05),
        weight_decay: tuple[float, float] = (1e-6, 1e-2),
        batch_sizes: Sequence[int] = (32, 64, 128),
    ) -> None:
        _, size = _check_input(input_shape, n_classes)
        if max_depth < 1:
            raise ValueError(f"max_depth must be at least 1, got {max_depth}")
        if fc_max_size < 1:
            raise ValueError(f"fc_max_size must be at least 1, got {fc_max_size}")
        if max_consecutive_fc < 0:
            raise ValueError(f"max_consecutive_fc must be >= 0, got {max_consecutive_fc}")
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
        #: The training hyperparameters: ``lr`` and ``weight_decay`` (log-uniform),
        #: ``batch_size`` (categorical).
        self.hyperparameters = ParamSpace([
            Float("lr", float(lr[0]), float(lr[1]), log=True),
            Float("weight_decay", float(weight_decay[0]), float(weight_decay[1]), log=True),
            Categorical("batch_size", tuple(int(b) for b in batch_sizes)),
        ])

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
            out += list(self.fc_layers)
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
            raise ValueError(f"{layer} is not a legal action from {state}")
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
        )

    def walk(self, layers: Sequence[Layer]) -> State:
        """Follow ``layers`` from :meth:`start_state`; the state reached.

        Raises:
            ValueError: naming the position and layer of the first illegal step.
        """
        state = self.start_state()
        for pos, layer in enumerate(layers):
            if isinstance(layer, Dropout) or layer not in self.actions(state):
                raise ValueError(f"layer {pos} ({layer}) of {format_net(layers)!r} is not "
                                 f"allowed after {state} in {self!r}")
            state = self.transition(state, layer)
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

    def layers(self, config: Mapping[str, Any]) -> list[Layer]:
        """The parsed, validated layers of ``config["net"]``.

        Raises:
            ValueError: missing ``net``, a malformed string, or a net this space cannot produce.
        """
        if "net" not in config:
            raise ValueError("config lacks parameter 'net'")
        layers = parse_net(config["net"])
        state = self.walk(layers)
        if not self.is_terminal(state):
            raise ValueError(f"net {config['net']!r} does not end with a termination layer")
        return layers

    def validate(self, config: Mapping[str, Any]) -> None:
        self.layers(config)
        self.hyperparameters.validate(config)

    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Architecture fields of ``config``: see :func:`describe_layers`."""
        return describe_layers(self.layers(config), self.input_shape, self.n_classes)

    #: Architecture columns at the start of :attr:`encoded_names`.
    ARCH_NAMES = ("log10_n_params", "n_layers", "n_conv", "n_pool", "n_fc", "gap", "final_size")

    @property
    def encoded_names(self) -> list[str]:
        return [*self.ARCH_NAMES, *self.hyperparameters.encoded_names]

    def encode_one(self, config: Mapping[str, Any]) -> list[float]:
        arch = self.describe(config)
        head = [math.log10(arch["n_params"])] + [float(arch[n]) for n in self.ARCH_NAMES[1:]]
        return head + self.hyperparameters.encode_one(config)
