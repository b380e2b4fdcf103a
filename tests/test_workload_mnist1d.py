"""The ``mnist1d-hp`` workload, through its public API (real training, small budgets)."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mnist1d")

from curvecast.curves import Direction  # noqa: E402
from curvecast.workloads import MNIST1DHP  # noqa: E402
from curvecast.workloads.mnist1d_hp import build_model, mnist1d_splits  # noqa: E402

GOOD: dict[str, Any] = {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 1e-4,
                        "batch_size": 32, "width": 32, "dropout": 0.1, "schedule": "cosine"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def workload() -> MNIST1DHP:
    return MNIST1DHP()


def test_identity(workload: MNIST1DHP) -> None:
    assert workload.name == "mnist1d-hp"
    assert workload.metric == "val_accuracy"
    assert workload.direction is Direction.MAXIMIZE
    assert workload.diverged_value == pytest.approx(0.1)


def test_splits_are_fixed_disjoint_and_leave_global_rngs_alone() -> None:
    # mnist1d seeds numpy's and Python's global RNGs; the loader must put them back.
    np.random.seed(5)  # noqa: NPY002
    random.seed(5)
    expected = (np.random.random(), random.random())  # noqa: NPY002
    np.random.seed(5)  # noqa: NPY002
    random.seed(5)
    mnist1d_splits.cache_clear()
    data = mnist1d_splits()
    assert (np.random.random(), random.random()) == expected  # noqa: NPY002
    assert data["train_x"].shape == (3200, 40) and data["train_x"].dtype == np.float32
    assert data["val_x"].shape == (800, 40) and data["test_x"].shape == (1000, 40)
    assert set(np.unique(data["train_y"])) == set(range(10))
    train_rows = {r.tobytes() for r in data["train_x"]}
    assert not any(r.tobytes() in train_rows for r in data["val_x"])


def test_disk_cache_round_trips(tmp_path: Path) -> None:
    first = mnist1d_splits(tmp_path)
    file = tmp_path / "mnist1d-default.npz"
    with np.load(file) as stored:
        arrays = {k: stored[k] for k in stored.files}
    np.savez(file, **{**arrays, "x": arrays["x"] + 1.0})  # later processes read the file
    mnist1d_splits.cache_clear()
    again = mnist1d_splits(tmp_path)
    np.testing.assert_allclose(again["train_x"], first["train_x"] + 1.0, atol=1e-6)
    for key in ("train_y", "val_y", "test_x", "test_y"):
        assert np.array_equal(first[key], again[key])


def test_space_samples_valid_configs_and_describe_counts_exactly(workload: MNIST1DHP) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        workload.space.validate(workload.space.sample(rng))
    for width in (8, 16, 32, 64):
        config = {**GOOD, "width": width}
        model = build_model(width, 0.0)
        expected = sum(p.numel() for p in model.parameters())
        assert workload.describe(config) == {"n_params": expected, "n_layers": 4}
        assert model(torch.zeros(3, 40)).shape == (3, 10)


def test_bad_config_and_epochs_are_rejected(workload: MNIST1DHP) -> None:
    with pytest.raises(ValueError, match="width"):
        workload.start({**GOOD, "width": 7}, seed=0, epochs=2)
    with pytest.raises(ValueError, match="0"):
        workload.start(GOOD, seed=0, epochs=0)


def test_two_epochs_beat_chance_and_repeat_exactly(workload: MNIST1DHP) -> None:
    run = workload.start(GOOD, seed=0, epochs=4)
    curve = [run.train_epoch() for _ in range(2)]
    assert [r.epoch for r in curve] == [1, 2]
    assert curve[-1].value > 0.4  # chance is 0.1
    assert all(r.seconds > 0 for r in curve)
    assert 0.3 < run.test_value() <= 1.0
    again = workload.start(GOOD, seed=0, epochs=4)
    assert [again.train_epoch().value for _ in range(2)] == [r.value for r in curve]
    other = workload.start(GOOD, seed=1, epochs=4)
    assert [other.train_epoch().value for _ in range(2)] != [r.value for r in curve]


def test_absurd_learning_rate_reports_nan(workload: MNIST1DHP) -> None:
    config = {**GOOD, "learning_rate": 1.0, "momentum": 0.99, "batch_size": 16, "width": 64,
              "weight_decay": 1e-2, "schedule": "constant"}
    run = workload.start(config, seed=0, epochs=2)
    values = [run.train_epoch().value for _ in range(2)]
    assert all(math.isnan(v) for v in values)
    assert math.isnan(run.test_value())
