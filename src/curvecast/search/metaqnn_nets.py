"""The recorded nets a replay agent walks: dropout stripped, the trie of their layer sequences,
the layer space that covers them and the input size they were built for."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from curvecast.curves import CurveSet
from curvecast.search.metaqnn_qtable import QState
from curvecast.space.metaqnn import FC, GAP, Conv, Dropout, Layer, MetaQNNSpace, Pool, Softmax, parse_net


def strip_dropout(layers: Sequence[Layer]) -> list[Layer]:
    """``layers`` without its dropout layers (they are not steps of a MetaQNN walk)."""
    return [layer for layer in layers if not isinstance(layer, Dropout)]


@dataclass
class Node:
    """A trie node: where a prefix of non-dropout layers leads."""

    key: QState
    children: dict[Layer, Node] = field(default_factory=dict)
    config_ids: list[str] = field(default_factory=list)  # recorded configs ending here
    remaining: int = 0  # unused configs in this subtree


#: ``config_id → the trie nodes along its net``, root first.
Paths = dict[str, list[Node]]


def build_trie(nets: Mapping[str, str], root_key: QState,
               walk: Callable[[Sequence[Layer], str], list[QState]]
               ) -> tuple[Node, Paths, dict[QState, tuple[Layer, ...]]]:
    """The trie of the non-dropout layer sequences of ``nets`` (``config_id → net``).

    Args:
        nets: the recorded candidates.
        root_key: the Q-state at the start of every walk.
        walk: the Q-states along a layer sequence, the terminal one included (raises
            ValueError for a net that is not a walk of the space).

    Returns:
        The root, every config's path, and per Q-state the actions some recorded net takes there.
    """
    root = Node(root_key)
    paths: Paths = {}
    actions: dict[QState, dict[Layer, None]] = {}
    for cid, net in nets.items():
        cid, net = str(cid), str(net)
        if cid in paths:
            raise ValueError(f"config {cid!r} appears more than once among the nets")
        layers = strip_dropout(parse_net(net))
        node, path = root, [root]
        for layer in layers:
            child = node.children.get(layer)
            if child is None:
                break
            node = child
            path.append(node)
        if len(path) <= len(layers) or not node.config_ids:
            try:
                keys = walk(layers, net)
            except ValueError as err:
                raise ValueError(f"config {cid!r}: {err}") from None
            for layer, key in zip(layers[len(path) - 1:], keys[len(path):], strict=True):
                node.children[layer] = Node(key)
                node = node.children[layer]
                path.append(node)
        for parent, layer in zip(path[:-1], layers, strict=True):
            actions.setdefault(parent.key, {})[layer] = None
        node.config_ids.append(cid)
        paths[cid] = path
    return root, paths, {k: tuple(a) for k, a in actions.items()}


def recount(paths: Paths, used: set[str]) -> None:
    """Set every node's ``remaining`` to the number of configs below it not in ``used``."""
    for path in paths.values():
        for node in path:
            node.remaining = 0
    for cid, path in paths.items():
        if cid not in used:
            for node in path:
                node.remaining += 1


def covering_space(nets: Sequence[str], input_size: int) -> MetaQNNSpace:
    """The smallest :class:`MetaQNNSpace` (of one channel) whose walks include every net of ``nets``.

    Its layers are the recorded ones, ``max_depth`` the deepest recorded net,
    ``max_consecutive_fc`` the longest recorded run of FC layers, and FC layers are allowed at every
    representation size; ``fc_widening`` is set only when a recorded net has an FC layer wider
    than the FC layer before it (MetaQNN forbids that; ``data/digits-metaqnn.parquet`` was recorded
    before curvecast did, and 43 of its 1000 nets do).  Channels do not change states, so the
    input is ``(1, size, size)``.

    Raises:
        ValueError: an empty ``nets``, a malformed net, disagreeing class counts, or a layer the
            space cannot express (e.g. a convolution with stride above 1 or an even kernel).
    """
    if len(nets) == 0:
        raise ValueError("no nets to build a space from")
    parsed = [strip_dropout(parse_net(n)) for n in nets]
    classes = {layer.classes for layers in parsed for layer in layers
               if isinstance(layer, Softmax | GAP)}
    if len(classes) != 1:
        raise ValueError(f"the nets disagree on the number of classes: {sorted(classes)}")
    convs = {layer for layers in parsed for layer in layers if isinstance(layer, Conv)}
    pools = {layer for layers in parsed for layer in layers if isinstance(layer, Pool)}
    fcs = {layer for layers in parsed for layer in layers if isinstance(layer, FC)}
    for conv in convs:
        if conv.stride != 1:
            raise ValueError(f"{conv}: MetaQNNSpace has stride-1 convolutions only")
    depth = max(sum(isinstance(x, Conv | Pool | FC) for x in layers) for layers in parsed)
    run = best_run = 0
    widening = False
    for layers in parsed:
        run = 0
        for prev, layer in zip([None, *layers], layers, strict=False):
            run = run + 1 if isinstance(layer, FC) else 0
            best_run = max(best_run, run)
            widening |= isinstance(prev, FC) and isinstance(layer, FC) and layer.units > prev.units
    return MetaQNNSpace(
        (1, int(input_size), int(input_size)), classes.pop(), max_depth=max(depth, 1),
        conv_filters=sorted({c.filters for c in convs}) or [1],
        conv_kernels=sorted({c.kernel for c in convs}) or [1],
        pools=sorted({(p.size, p.stride) for p in pools}),
        fc_units=sorted({f.units for f in fcs}),
        fc_max_size=int(input_size), max_consecutive_fc=best_run, fc_widening=widening,
    )


def infer_input_size(curves: CurveSet, nets: Sequence[str]) -> int:
    """The input side of the recorded nets, read from the ``final_size`` of a net without pooling."""
    configs = curves.configs
    if "final_size" in configs.columns:
        sizes = {int(size) for net, size in zip(nets, configs["final_size"], strict=True)
                 if not any(isinstance(x, Pool) for x in parse_net(net))}
        if len(sizes) == 1:
            return sizes.pop()
        if len(sizes) > 1:
            raise ValueError(f"nets without pooling have different final_size values "
                             f"{sorted(sizes)}: pass input_size or space")
    raise ValueError("cannot tell the input size from the config table (no 'final_size' of a "
                     "net without pooling): pass input_size or space")
