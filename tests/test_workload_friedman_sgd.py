"""The ``friedman-sgd`` workload, through its public API (real training, small budgets)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from curvecast.curves import Direction  # noqa: E402
from curvecast.workloads import FriedmanSGD  # noqa: E402
from curvecast.workloads._torch import epoch_schedule, rmse  # noqa: E402
from curvecast.workloads.friedman_sgd import build_mlp, friedman_splits, warmup_epochs  # noqa: E402

GOOD: dict[str, Any] = {"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 1e-5,
                        "warmup_fraction": 0.0, "schedule": "cosine", "batch_size": 32,
                        "depth": 2, "width": 32, "activation": "silu", "dropout": 0.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def workload() -> FriedmanSGD:
    return FriedmanSGD()


def test_identity(workload: FriedmanSGD) -> None:
    assert workload.name == "friedman-sgd"
    assert workload.metric == "val_rmse"
    assert workload.direction is Direction.MINIMIZE
    assert workload.diverged_value == 1.0  # no skill: the training mean scores about 1


def test_splits_are_fixed_standardised_and_disjoint() -> None:
    data = friedman_splits()
    assert data["train_x"].shape == (2000, 10) and data["train_x"].dtype == np.float32
    assert data["val_x"].shape == (1000, 10) and data["test_x"].shape == (1000, 10)
    assert data["val_y"].shape == (1000,) and data["test_y"].dtype == np.float32
    np.testing.assert_allclose(data["train_x"].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data["train_y"].std(), 1.0, rtol=1e-5)
    # predicting the training mean scores about 1 on validation; the noise alone about 0.2
    assert 0.9 < float(np.sqrt(np.mean(data["val_y"] ** 2))) < 1.1
    train_rows = {r.tobytes() for r in data["train_x"]}
    assert not any(r.tobytes() in train_rows for r in data["val_x"])
    friedman_splits.cache_clear()
    assert np.array_equal(friedman_splits()["val_y"], data["val_y"])


def test_space_samples_valid_configs_and_describe_counts_exactly(workload: FriedmanSGD) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        workload.space.validate(workload.space.sample(rng))
    for depth, width in ((1, 16), (2, 32), (4, 128)):
        config = {**GOOD, "depth": depth, "width": width}
        model = build_mlp(depth, width, "relu", 0.0)
        expected = sum(p.numel() for p in model.parameters())
        assert workload.describe(config) == {"n_params": expected, "n_layers": depth + 1}
        assert model(torch.zeros(3, 10)).shape == (3, 1)
    assert workload.describe({**GOOD, "depth": 1, "width": 16})["n_params"] == 16 * 11 + 17
    with pytest.raises(ValueError, match="'gelu'"):
        build_mlp(1, 16, "gelu", 0.0)


def test_bad_config_and_epochs_are_rejected(workload: FriedmanSGD) -> None:
    with pytest.raises(ValueError, match="width"):
        workload.start({**GOOD, "width": 7}, seed=0, epochs=2)
    with pytest.raises(ValueError, match="warmup_fraction"):
        workload.start({**GOOD, "warmup_fraction": 0.5}, seed=0, epochs=2)
    with pytest.raises(ValueError, match="0"):
        workload.start(GOOD, seed=0, epochs=0)


def _learning_rates(kind: str, epochs: int, warmup: int, n: int) -> list[float]:
    """The learning rate of each of ``n`` epochs under ``epoch_schedule`` with peak 1."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = epoch_schedule(opt, kind, epochs, warmup=warmup)
    lrs = []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_warmup_then_decay_factors() -> None:
    assert [warmup_epochs(f, 40) for f in (0.0, 0.1, 0.4)] == [0, 4, 16]
    assert warmup_epochs(0.4, 1) == 0
    # ramp 1/4, 2/4, 3/4; then 6 decay epochs: ÷10 after 2 and after 4
    assert _learning_rates("step", 9, 3, 10) == pytest.approx(
        [0.25, 0.5, 0.75, 1, 1, 0.1, 0.1, 0.01, 0.01, 0.01])
    assert _learning_rates("cosine", 5, 1, 5) == pytest.approx(
        [0.5, 1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4))])
    assert _learning_rates("constant", 4, 0, 4) == [1.0] * 4
    with pytest.raises(ValueError, match="warmup"):
        _learning_rates("cosine", 5, 5, 1)


def test_rmse_rule() -> None:
    x = torch.tensor([[1.0], [3.0]])
    assert rmse(torch.nn.Identity(), x, torch.tensor([0.0, 0.0])) == pytest.approx(math.sqrt(5))
    assert rmse(torch.nn.Identity(), x + float("nan"), torch.zeros(2)) == math.inf
    assert rmse(torch.nn.Identity(), torch.full((2, 1), 1e200, dtype=torch.float64),
                torch.zeros(2)) == math.inf


def test_three_epochs_learn_and_repeat_exactly(workload: FriedmanSGD) -> None:
    run = workload.start(GOOD, seed=0, epochs=6)
    curve = [run.train_epoch() for _ in range(3)]
    assert [r.epoch for r in curve] == [1, 2, 3]
    assert curve[-1].value < 0.6  # the training mean scores about 1
    assert curve[-1].value < curve[0].value
    assert all(r.seconds > 0 for r in curve)
    assert 0.2 < run.test_value() < 0.6
    again = workload.start(GOOD, seed=0, epochs=6)
    assert [again.train_epoch().value for _ in range(3)] == [r.value for r in curve]
    other = workload.start(GOOD, seed=1, epochs=6)
    assert [other.train_epoch().value for _ in range(3)] != [r.value for r in curve]


def test_long_warmup_starts_slower(workload: FriedmanSGD) -> None:
    config = {**GOOD, "learning_rate": 0.01, "batch_size": 128}
    fast = workload.start(config, seed=0, epochs=10)
    slow = workload.start({**config, "warmup_fraction": 0.4}, seed=0, epochs=10)
    assert slow.train_epoch().value > fast.train_epoch().value + 0.05


def test_absurd_learning_rate_reports_inf(workload: FriedmanSGD) -> None:
    config = {**GOOD, "learning_rate": 1.0, "momentum": 0.95, "batch_size": 32, "width": 128,
              "depth": 4, "activation": "relu", "schedule": "constant"}
    run = workload.start(config, seed=0, epochs=2)
    values = [run.train_epoch().value for _ in range(2)]
    assert values == [math.inf, math.inf]
    assert run.test_value() == math.inf


def test_a_checkpoint_of_another_run_is_refused(workload: FriedmanSGD, tmp_path: Any) -> None:
    """A user's review (stop 30): a checkpoint left (or put) in ``collect``'s folder under a
    config's name was resumed whatever run it held, and its curve (3e34, inf) recorded as that
    config's.  ``resume(expect=...)`` now refuses another config, seed, planned epochs or
    epoch count; ``collect`` and ``search`` then train the config afresh."""
    from curvecast.workloads import CheckpointError

    rng = np.random.default_rng(0)
    mine, other = workload.space.sample(rng), workload.space.sample(rng)
    run = workload.start(other, seed=0, epochs=3)
    run.train_epoch()
    path = tmp_path / "t.ckpt"
    run.save_checkpoint(path)
    expect = {"config": other, "seed": 0, "epochs": 3, "epochs_done": 1}
    assert workload.resume(path, expect=expect).epochs_done == 1
    for wrong, match in (({"config": mine}, "its config is"), ({"seed": 1}, "its seed is 0"),
                         ({"epochs": 30}, "its epochs is 3"),
                         ({"epochs_done": 2}, "a checkpoint after 1 epochs, not 2")):
        with pytest.raises(CheckpointError, match=f"t.ckpt: .*{match}"):
            workload.resume(path, expect={**expect, **wrong})


def test_a_config_of_numpy_scalars_resumes_from_its_checkpoint(workload: FriedmanSGD,
                                                                tmp_path: Any) -> None:
    """A config read from a table holds numpy scalars; ``start`` took it, but its checkpoint
    carried them in ``meta`` and ``torch.load(weights_only=True)`` refused the file, so the run
    never resumed (a search retrained every recorded epoch before each new one)."""
    config = {k: np.str_(v) if isinstance(v, str) else np.asarray(v)[()] for k, v in GOOD.items()}
    assert all(isinstance(v, np.generic) for v in config.values())
    straight = workload.start(GOOD, seed=3, epochs=3)
    expected = [straight.train_epoch().value for _ in range(2)]
    run = workload.start(config, seed=np.int64(3), epochs=3)
    assert run.train_epoch().value == expected[0]
    path = tmp_path / "t.ckpt"
    run.save_checkpoint(path)
    resumed = workload.resume(path, expect={"config": config, "seed": 3, "epochs": 3,
                                            "epochs_done": 1})
    assert resumed.train_epoch().value == expected[1]
    assert resumed.test_value() == straight.test_value()


def test_a_checkpoint_the_old_code_wrote_still_matches_its_run(workload: FriedmanSGD,
                                                               tmp_path: Any) -> None:
    """A review of ``_plain``: a checkpoint written before it (``meta["config"]`` the config as
    given, from a store's JSON) is still this run's when the run's config is the same values as
    numpy scalars, lists for tuples or a JSON round trip, so a resumed study does not restart."""
    import json

    from curvecast.workloads._torch import _check_expected

    run = workload.start(GOOD, seed=3, epochs=3)
    run.train_epoch()
    path = tmp_path / "t.ckpt"
    run.save_checkpoint(path)
    as_numpy = {k: np.str_(v) if isinstance(v, str) else np.asarray(v)[()] for k, v in GOOD.items()}
    for config in (json.loads(json.dumps(GOOD)), as_numpy):
        resumed = workload.resume(path, expect={"config": config, "seed": np.int64(3),
                                                "epochs": 3, "epochs_done": 1})
        assert resumed.epochs_done == 1
    old = {"config": {"b": True, "s": "x", "nested": [[1, 2], [3]], "t": (1, 2), "f": 0.1},
           "seed": 3, "epochs": 3}
    given = {"config": {"b": np.bool_(True), "s": np.str_("x"), "nested": [[np.int64(1), 2], (3,)],
                        "t": [1, 2], "f": np.float64(0.1)}, "seed": np.int64(3), "epochs": 3}
    _check_expected(path, old, given)  # no CheckpointError
