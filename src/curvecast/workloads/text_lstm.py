"""``text-lstm``: a character-level LSTM language model on real English prose, offline.

**Corpus.**  The Python standard library's ``pydoc_data.topics.topics``: the Python language
reference as plain text (about 465 000 characters of English prose with some code), present in every
CPython install, nothing downloaded.  The topics are joined in sorted-key order, separated by a
blank line.  Its exact text depends on the Python version; :func:`corpus_fingerprint` names it.

**Tokens.**  Characters; the vocabulary is every character of the corpus (about 100), sorted, so
the perplexity of a uniform guess is the vocabulary size.  **Splits**: contiguous 80 % / 10 % / 10 %
for train / validation / test.

**Model.**  ``Embedding(V, embed) -> Dropout -> LSTM(embed, hidden, layers, dropout between layers)
-> Dropout -> Linear(hidden, V)``, trained by Adam on the mean token cross-entropy with gradient-norm
clipping, the learning rate constant.

**Epoch.**  A full pass over the ~372 000 training characters is too slow for one CPU thread, so an
*epoch* here is a fixed budget of :data:`TOKENS_PER_EPOCH` predicted training characters: that many
divided by ``batch_size * seq_len`` batches, each of ``batch_size`` windows of ``seq_len + 1``
characters starting at uniformly random offsets of the training split (hidden state reset for every
window).  After each epoch the validation perplexity is measured on the first
:data:`VAL_TOKENS` characters of the validation split; :meth:`TrainingRun.test_value` uses the whole
test split.  Evaluation splits the text into :data:`EVAL_STREAMS` contiguous streams read in chunks
of :data:`EVAL_CHUNK` characters with the hidden state carried over.

**Metric.**  ``val_perplexity`` = exp(mean cross-entropy per predicted character, nats); minimise.
A run whose training loss turns NaN/inf stops updating and reports +inf from then on (see
:mod:`curvecast.workloads._torch`); ``diverged_value`` is None, so the CurveSet fills it with the
worst perplexity it has seen.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Direction
from curvecast.space import Categorical, Float, ParamSpace
from curvecast.workloads._torch import (
    Batch,
    BatchFn,
    SupervisedRun,
    TorchWorkload,
    choose_device,
    model_seed,
    perplexity,
    seeded,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["TextLSTM", "build_char_lstm", "corpus_fingerprint", "text_splits"]

#: Predicted training characters per epoch.
TOKENS_PER_EPOCH = 16_384
#: Characters of the validation split scored after each epoch.
VAL_TOKENS = 8_192
#: Parallel streams and chunk length (characters) used when scoring a split.
EVAL_STREAMS, EVAL_CHUNK = 16, 128
#: Fractions of the corpus in the train and validation splits (the rest is the test split).
TRAIN_FRACTION, VAL_FRACTION = 0.8, 0.1


@functools.lru_cache(maxsize=1)
def _corpus() -> str:
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


def corpus_fingerprint() -> str:
    """``"pydoc_data.topics:<n chars>:<first 12 hex of sha256>"`` — identifies the corpus text."""
    text = _corpus()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"pydoc_data.topics:{len(text)}:{digest}"


@functools.lru_cache(maxsize=1)
def text_splits() -> tuple[str, dict[str, NDArray[np.int64]]]:
    """The vocabulary (a string, index = token id) and the ``train``/``val``/``test`` id arrays.

    Each array is int64 of shape ``(n_chars,)``; the three are contiguous slices of the corpus.
    """
    text = _corpus()
    vocab = "".join(sorted(set(text)))
    lookup = {c: i for i, c in enumerate(vocab)}
    ids = np.fromiter((lookup[c] for c in text), dtype=np.int64, count=len(text))
    a, b = int(len(ids) * TRAIN_FRACTION), int(len(ids) * (TRAIN_FRACTION + VAL_FRACTION))
    return vocab, {"train": ids[:a], "val": ids[a:b], "test": ids[b:]}


def _n_params(vocab: int, embed: int, hidden: int, layers: int) -> int:
    """Exact parameter count of :func:`build_char_lstm` (torch's LSTM has two bias vectors per layer)."""
    lstm = sum(4 * hidden * ((embed if i == 0 else hidden) + hidden) + 8 * hidden
               for i in range(layers))
    return vocab * embed + lstm + hidden * vocab + vocab


@functools.lru_cache(maxsize=1)
def _char_lstm_class() -> type[nn.Module]:
    from torch import nn

    class _CharLSTM(nn.Module):
        """Character LSTM: ids ``(B, T)`` int64 -> logits ``(B, T, V)`` (and the new state)."""

        def __init__(self, vocab: int, embed: int, hidden: int, layers: int,
                     dropout: float) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab, embed)
            self.drop = nn.Dropout(dropout)
            self.lstm = nn.LSTM(embed, hidden, layers, batch_first=True,
                                dropout=dropout if layers > 1 else 0.0)
            self.out = nn.Linear(hidden, vocab)

        def forward(self, ids: torch.Tensor,
                    state: tuple[torch.Tensor, torch.Tensor] | None = None
                    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
            h, state = self.lstm(self.drop(self.embed(ids)), state)
            return self.out(self.drop(h)), state

    return _CharLSTM


def build_char_lstm(vocab: int, embed: int, hidden: int, layers: int,
                    dropout: float) -> nn.Module:
    """Build the character LSTM (the class is defined on first use, so torch stays lazy)."""
    return _char_lstm_class()(vocab, embed, hidden, layers, dropout)


def _window_batches(train: torch.Tensor, batch_size: int, seq_len: int) -> BatchFn:
    """An epoch of :data:`TOKENS_PER_EPOCH` // (batch_size * seq_len) batches of random windows.

    Each batch is ``(x, y)``, both int64 of shape ``(batch_size, seq_len)``, ``y`` = ``x`` shifted
    by one character.
    """
    import torch

    n_batches = max(1, TOKENS_PER_EPOCH // (batch_size * seq_len))
    n_starts = int(train.shape[0]) - seq_len
    offsets = torch.arange(seq_len + 1, device=train.device)

    def batches(generator: torch.Generator) -> Iterator[Batch]:
        for _ in range(n_batches):
            starts = torch.randint(n_starts, (batch_size, 1), generator=generator)
            windows = train[starts.to(train.device) + offsets]
            yield (windows[:, :-1], windows[:, 1:])

    return batches


def _lm_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    import torch

    logits, _ = model(batch[0])
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             batch[1].reshape(-1))


def _split_perplexity(model: nn.Module, ids: torch.Tensor) -> float:
    """Perplexity of ``model`` on the 1-D id tensor ``ids`` (see the module docstring)."""
    import torch

    streams = ids[: (int(ids.shape[0]) // EVAL_STREAMS) * EVAL_STREAMS].reshape(EVAL_STREAMS, -1)
    total, count = 0.0, 0
    state = None
    for i in range(0, int(streams.shape[1]) - 1, EVAL_CHUNK):
        x = streams[:, i:i + EVAL_CHUNK + 1]
        logits, state = model(x[:, :-1], state)
        total += float(torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum"))
        count += int(x[:, 1:].numel())
    return perplexity(total, count)


class TextLSTM(TorchWorkload):
    """``text-lstm``: a character LSTM language model on the Python reference docs (module docs)."""

    name = "text-lstm"
    metric = "val_perplexity"
    direction = Direction.MINIMIZE
    diverged_value = None

    @property
    def space(self) -> ParamSpace:
        """layers 1-2, hidden size 32-128, embedding size, dropout 0..0.5, Adam learning rate
        1e-4..0.1 (log), BPTT length, batch size and the gradient-norm clip 0.1..10 (log).

        Sized for recording 300 configs x 20 epochs on 2 CPU cores in about an hour: a pilot
        with hidden up to 256, 32,768 characters per epoch and lr up to 1 cost 4-5 s per epoch
        for the large nets, and lr near 1 gave perplexities of 1e30-1e67 that carry no signal.
        """
        return ParamSpace([
            Categorical("layers", (1, 2)),
            Categorical("hidden", (32, 64, 128)),
            Categorical("embed", (16, 32, 64)),
            Float("dropout", 0.0, 0.5),
            Float("learning_rate", 1e-4, 0.1, log=True),
            Categorical("seq_len", (32, 64, 128)),
            Categorical("batch_size", (16, 32, 64)),
            Float("clip", 0.1, 10.0, log=True),
        ])

    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``n_params`` (exact weight count) and ``n_layers`` (LSTM layers + embedding + output)."""
        self.space.validate(config)
        vocab, _ = text_splits()
        layers = int(config["layers"])
        return {"n_params": _n_params(len(vocab), int(config["embed"]), int(config["hidden"]),
                                      layers),
                "n_layers": layers + 2}

    def _extra_meta(self) -> dict[str, Any]:
        return {"corpus": corpus_fingerprint()}

    def _check_meta(self, checkpoint: Path, meta: Mapping[str, Any]) -> None:
        if meta.get("corpus") != corpus_fingerprint():
            raise ValueError(f"{checkpoint}: corpus {meta.get('corpus')!r} differs from this "
                             f"Python's {corpus_fingerprint()!r}")

    def _build(self, meta: dict[str, Any], device: str | None) -> SupervisedRun:
        import torch

        config, seed = meta["config"], int(meta["seed"])
        dev = choose_device(device)
        vocab, splits = text_splits()
        data = {k: torch.from_numpy(v).to(dev) for k, v in splits.items()}
        val = data["val"][:VAL_TOKENS]
        with seeded(model_seed(seed)):
            model = build_char_lstm(len(vocab), int(config["embed"]), int(config["hidden"]),
                             int(config["layers"]), float(config["dropout"])).to(dev)
        optimizer = torch.optim.Adam(model.parameters(), lr=float(config["learning_rate"]))
        return SupervisedRun(
            model=model, optimizer=optimizer, scheduler=None,
            batches=_window_batches(data["train"], int(config["batch_size"]),
                                    int(config["seq_len"])),
            loss_fn=_lm_loss,
            validate=lambda m: _split_perplexity(m, val),
            test=lambda m: _split_perplexity(m, data["test"]),
            seed=seed, diverged_report=float("inf"), clip_grad_norm=float(config["clip"]),
            meta=meta, device=dev,
        )
