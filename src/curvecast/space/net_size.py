"""How big a MetaQNN net is: representation sizes, depth and parameter counts.

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
so their numbers can be checked, not a model anyone trains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from curvecast.space.layers import FC, GAP, Conv, Dropout, Layer, Pool, Softmax, format_net, parse_net


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


def check_input(input_shape: Sequence[int], n_classes: int) -> tuple[int, int]:
    """``(channels, size)`` of a square ``input_shape``; refuses other shapes and < 2 classes."""
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
    channels, size = check_input(input_shape, n_classes)
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
    channels, size = check_input(input_shape, 2)
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
    _, size = check_input(input_shape, n_classes)
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

