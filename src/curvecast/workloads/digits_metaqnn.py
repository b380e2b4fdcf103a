"""``digits-metaqnn``: MetaQNN CNNs on scikit-learn's 8×8 handwritten digits.

The search space is :class:`curvecast.space.MetaQNNSpace` with its small-input defaults (1×8×8
inputs, 10 classes, at most 8 conv/pool/FC layers) plus Adam's learning rate, weight decay and the
batch size.  Like the paper's MetaQNN runs: Adam, learning rate × 0.2 every 5 epochs, metric
validation accuracy (0..1, maximise).  A diverged run (a NaN/inf training loss) reports NaN,
which counts as chance accuracy (``diverged_value`` = 0.1).

Data: ``sklearn.datasets.load_digits`` (1797 images, bundled with scikit-learn: nothing is
downloaded), split once, stratified by class with a fixed seed (:data:`SPLIT_SEED`, independent of
the run's seed), into 1077 training, 360 validation and 360 test images.  Pixels (0..16) are
standardised with the mean and standard deviation of all training pixels (one scalar each, so the
images keep their spatial structure).

The network built from a net string (:func:`build_model`), input ``(B, 1, 8, 8)`` float32, output
``(B, 10)`` logits:

* ``C(n,f,l)``: ``Conv2d(c, n, f, stride=l, padding=f // 2)`` + ``BatchNorm2d(n)`` + ReLU;
* ``P(f,l)``: ``MaxPool2d(f, l, ceil_mode=True)`` (MetaQNN's ``ceil((R − f)/l) + 1``);
* ``FC(n)``: flatten (first FC only) + ``Linear`` + ReLU;
* ``D(i,n)``: ``Dropout(0.5 · i / n)`` (paper strings only; the space never proposes it);
* ``GAP(k)``: ``Conv2d(c, k, 1)`` + global mean → logits; ``SM(k)`` after it adds nothing;
* ``SM(k)`` otherwise: flatten + ``Linear(·, k)``; the softmax itself is in the loss.

Its parameter count is exactly ``describe(config)["n_params"]``
(:func:`curvecast.space.count_params`).  Training mechanics (seeding, data order, divergence,
checkpoint and resume) are :class:`curvecast.workloads._torch.SupervisedRun`'s.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Direction
from curvecast.space.metaqnn import (
    FC,
    GAP,
    Conv,
    Dropout,
    Layer,
    MetaQNNSpace,
    Pool,
    Softmax,
    count_params,
    parse_net,
    pool_output_size,
)
from curvecast.workloads._torch import (
    SupervisedRun,
    TorchWorkload,
    accuracy,
    choose_device,
    cross_entropy_loss,
    model_seed,
    seeded,
    shuffled_batches,
)

if TYPE_CHECKING:
    from torch import nn

__all__ = ["DigitsMetaQNN", "build_model", "digits_splits"]

#: Images per split, image side (pixels) and classes.
N_TRAIN, N_VAL, N_TEST, SIDE, N_CLASSES = 1077, 360, 360, 8, 10
#: Seed of the fixed stratified train/validation/test split.
SPLIT_SEED = 0
#: Learning-rate decay: multiply by :data:`LR_GAMMA` every :data:`LR_STEP` epochs (the paper's).
LR_STEP, LR_GAMMA = 5, 0.2


@functools.lru_cache(maxsize=1)
def digits_splits() -> dict[str, NDArray[Any]]:
    """The fixed splits: ``{train,val,test}_{x,y}``.

    ``*_x`` float32 of shape ``(n, 1, 8, 8)`` (standardised pixels), ``*_y`` int64 of shape
    ``(n,)`` (digit 0..9), n = 1077 / 360 / 360.  Cached per process.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = np.asarray(data.images, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=N_TEST, stratify=y, random_state=SPLIT_SEED)
    train, val = train_test_split(rest, test_size=N_VAL, stratify=y[rest],
                                  random_state=SPLIT_SEED)
    mean, std = float(x[train].mean()), float(x[train].std())
    out: dict[str, NDArray[Any]] = {}
    for name, rows in (("train", train), ("val", val), ("test", test)):
        out[f"{name}_x"] = ((x[rows] - mean) / std).astype(np.float32)[:, None, :, :]
        out[f"{name}_y"] = y[rows]
    return out


def build_model(layers: Sequence[Layer], input_shape: Sequence[int] = (1, SIDE, SIDE),
                n_classes: int = N_CLASSES) -> nn.Module:
    """The torch network of ``layers`` (module docstring): ``(B, *input_shape)`` → ``(B, classes)``.

    Raises:
        ValueError: a net that does not fit ``input_shape`` (see
            :func:`curvecast.space.count_params`, which checks it).
    """
    from torch import nn

    count_params(layers, input_shape, n_classes)  # validates the net against the input
    channels, size = int(input_shape[0]), int(input_shape[1])
    modules: list[nn.Module] = []
    width = 0
    flat = after_gap = False
    for layer in layers:
        if isinstance(layer, Conv):
            modules += [nn.Conv2d(channels, layer.filters, layer.kernel, stride=layer.stride,
                                  padding=layer.kernel // 2), nn.BatchNorm2d(layer.filters),
                        nn.ReLU()]
            channels, size = layer.filters, -(-size // layer.stride)
        elif isinstance(layer, Pool):
            modules.append(nn.MaxPool2d(layer.size, layer.stride, ceil_mode=True))
            size = pool_output_size(size, layer)
        elif isinstance(layer, Dropout):
            modules.append(nn.Dropout(0.5 * layer.index / layer.total))
        elif isinstance(layer, GAP):
            modules += [nn.Conv2d(channels, layer.classes, 1), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten()]
            width, flat, after_gap = layer.classes, True, True
        elif isinstance(layer, FC | Softmax):
            if after_gap:
                continue
            if not flat:
                modules.append(nn.Flatten())
                width, flat = channels * size * size, True
            units = layer.units if isinstance(layer, FC) else layer.classes
            modules.append(nn.Linear(width, units))
            if isinstance(layer, FC):
                modules.append(nn.ReLU())
            width = units
    return nn.Sequential(*modules)


class DigitsMetaQNN(TorchWorkload):
    """``digits-metaqnn``: MetaQNN-space CNNs on the 8×8 digits (see the module docstring).

    Args:
        space: the layer and hyperparameter space (default: ``MetaQNNSpace()``, the small-input
            defaults); its input shape must be (1, 8, 8) and its class count 10, and no batch
            size may make a batch of one image (1077 = 4 x 269 + 1: not 1, 2, 4, 269, ...).

    Raises:
        ValueError: a space of another input shape or class count, or such a batch size.
    """

    name = "digits-metaqnn"
    metric = "val_accuracy"
    direction = Direction.MAXIMIZE
    diverged_value = 1.0 / N_CLASSES

    def __init__(self, space: MetaQNNSpace | None = None) -> None:
        space = MetaQNNSpace() if space is None else space
        if space.input_shape != (1, SIDE, SIDE) or space.n_classes != N_CLASSES:
            raise ValueError(f"digits need a space over (1, 8, 8) inputs and 10 classes, got "
                             f"{space.input_shape} and {space.n_classes}")
        batch_sizes = next(p for p in space.hyperparameters.params if p.name == "batch_size")
        for size in getattr(batch_sizes, "choices", ()):
            if int(size) == 1 or N_TRAIN % int(size) == 1:  # batch norm cannot train on a
                # batch of one image once a net is down to 1x1 (every epoch's last batch failed)
                raise ValueError(f"batch_size {size} makes a batch of one of the {N_TRAIN} "
                                 "training images, which batch norm cannot train on; choose "
                                 "another")
        self._space = space

    @property
    def space(self) -> MetaQNNSpace:
        """The MetaQNN layer space with lr, weight_decay and batch_size."""
        return self._space

    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``n_params`` (exact), ``n_layers`` (paper's depth) and the layer-type counts."""
        return self._space.describe(config)

    def _validate(self, config: Mapping[str, Any]) -> None:
        """A config of the space, but an FC layer may be wider than the FC layer before it: the
        space never proposes one (MetaQNN's rule, :class:`~curvecast.space.MetaQNNSpace`), yet a
        study made before it kept the rule may hold such a trial, drawn or in flight, which
        trains and resumes from its checkpoint as :meth:`describe` describes it."""
        self._space.validate(config, fc_widening=True)

    def _build(self, meta: dict[str, Any], device: str | None) -> SupervisedRun:
        import torch

        config, seed = meta["config"], int(meta["seed"])
        dev = choose_device(device)
        data = {k: torch.from_numpy(v).to(dev) for k, v in digits_splits().items()}
        with seeded(model_seed(seed)):
            model = build_model(parse_net(config["net"])).to(dev)
        optimizer = torch.optim.Adam(model.parameters(), lr=float(config["lr"]),
                                     weight_decay=float(config["weight_decay"]))
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=LR_STEP, gamma=LR_GAMMA)
        return SupervisedRun(
            model=model, optimizer=optimizer, scheduler=scheduler,
            batches=shuffled_batches(data["train_x"], data["train_y"], int(config["batch_size"])),
            loss_fn=cross_entropy_loss,
            validate=lambda m: accuracy(m, data["val_x"], data["val_y"]),
            test=lambda m: accuracy(m, data["test_x"], data["test_y"]),
            seed=seed, diverged_report=float("nan"), meta=meta, device=dev,
        )
