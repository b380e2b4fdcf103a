"""The ``text-lstm`` workload, through its public API (real training, small budgets)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from curvecast.curves import Direction  # noqa: E402
from curvecast.workloads import TextLSTM  # noqa: E402
from curvecast.workloads.text_lstm import build_char_lstm, corpus_fingerprint, text_splits  # noqa: E402

SMALL: dict[str, Any] = {"layers": 1, "hidden": 64, "embed": 32, "dropout": 0.1,
                         "learning_rate": 0.01, "seq_len": 32, "batch_size": 16, "clip": 1.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def workload() -> TextLSTM:
    return TextLSTM()


def test_identity(workload: TextLSTM) -> None:
    assert workload.name == "text-lstm"
    assert workload.metric == "val_perplexity"
    assert workload.direction is Direction.MINIMIZE
    assert workload.diverged_value is None


def test_corpus_and_splits() -> None:
    vocab, splits = text_splits()
    assert 60 <= len(vocab) <= 200
    n = sum(len(s) for s in splits.values())
    assert n > 400_000
    assert len(splits["train"]) == int(n * 0.8)
    assert abs(len(splits["val"]) - n // 10) <= 1
    decoded = "".join(vocab[i] for i in splits["train"][:2000])
    assert " the " in decoded
    assert corpus_fingerprint().startswith(f"pydoc_data.topics:{n}:")


def test_space_samples_valid_configs_and_describe_counts_exactly(workload: TextLSTM) -> None:
    rng = np.random.default_rng(0)
    vocab, _ = text_splits()
    for _ in range(10):
        config = workload.space.sample(rng)
        model = build_char_lstm(len(vocab), config["embed"], config["hidden"], config["layers"], 0.0)
        expected = sum(p.numel() for p in model.parameters())
        assert workload.describe(config) == {"n_params": expected,
                                             "n_layers": config["layers"] + 2}


def test_bad_config_is_rejected(workload: TextLSTM) -> None:
    with pytest.raises(ValueError, match="hidden"):
        workload.start({**SMALL, "hidden": 5}, seed=0, epochs=2)


def test_two_epochs_beat_uniform_and_repeat_exactly(workload: TextLSTM) -> None:
    vocab, _ = text_splits()
    run = workload.start(SMALL, seed=0, epochs=2)
    curve = [run.train_epoch() for _ in range(2)]
    assert curve[-1].value < len(vocab) / 4  # a uniform guess scores len(vocab)
    assert curve[-1].value < curve[0].value
    assert run.test_value() < len(vocab) / 4
    again = workload.start(SMALL, seed=0, epochs=2)
    assert [again.train_epoch().value for _ in range(2)] == [r.value for r in curve]


def test_resume_rejects_another_workloads_checkpoint(workload: TextLSTM, tmp_path: Path) -> None:
    run = workload.start(SMALL, seed=0, epochs=1)
    run.save_checkpoint(tmp_path / "ckpt.pt")
    ckpt = torch.load(tmp_path / "ckpt.pt", weights_only=False)
    ckpt["meta"]["workload"] = "other"
    torch.save(ckpt, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other"):
        workload.resume(tmp_path / "other.pt")


def test_the_largest_learning_rate_of_the_space_trains_to_a_poor_finite_perplexity(
        workload: TextLSTM) -> None:
    # Adam's steps are bounded by the learning rate, so the space's largest (0.1, with the
    # loosest clip) does not diverge: one epoch gives a finite perplexity (13.2 measured at
    # seed 0). A rate beyond the space is refused.
    config = {**SMALL, "learning_rate": 0.1, "clip": 10.0}
    run = workload.start(config, seed=0, epochs=1)
    value = run.train_epoch().value
    assert math.isfinite(value) and 10 < value < 20
    with pytest.raises(ValueError, match=r"'learning_rate': 1\.0 is outside"):
        workload.start({**SMALL, "learning_rate": 1.0}, seed=0, epochs=1)
