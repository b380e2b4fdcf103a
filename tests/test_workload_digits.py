"""The digits-metaqnn workload: real (small) training on scikit-learn's 8x8 digits."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from curvecast.curves import Direction  # noqa: E402
from curvecast.execution.live import run_search  # noqa: E402
from curvecast.search import RandomSampler  # noqa: E402
from curvecast.space import MetaQNNSpace, parse_net  # noqa: E402
from curvecast.stopping import NeverStop  # noqa: E402
from curvecast.store import Store, TrialState  # noqa: E402
from curvecast.workloads.digits_metaqnn import (  # noqa: E402
    DigitsMetaQNN,
    build_model,
    digits_splits,
)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Train on one thread, as the collection workers do (fast and steady on a shared CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SMALL = {"net": "[C(16,3,1), P(2,2), C(32,3,1), SM(10)]", "lr": 3e-3, "weight_decay": 1e-4,
         "batch_size": 32}


def test_splits_are_fixed_stratified_and_standardised() -> None:
    data = digits_splits()
    assert data["train_x"].shape == (1077, 1, 8, 8) and data["train_x"].dtype == np.float32
    assert data["val_x"].shape == (360, 1, 8, 8) and data["test_x"].shape == (360, 1, 8, 8)
    assert abs(float(data["train_x"].mean())) < 1e-5
    assert float(data["train_x"].std()) == pytest.approx(1.0, abs=1e-4)
    for split in ("train", "val", "test"):
        counts = np.bincount(data[f"{split}_y"], minlength=10)
        share = counts / counts.sum()
        assert share.min() > 0.09 and share.max() < 0.11  # stratified
    assert digits_splits() is data  # cached per process


def test_workload_metadata() -> None:
    w = DigitsMetaQNN()
    assert w.name == "digits-metaqnn" and w.metric == "val_accuracy"
    assert w.direction is Direction.MAXIMIZE and w.diverged_value == pytest.approx(0.1)
    d = w.describe(SMALL)
    # conv 1->16 k3: 160 (+32 batch norm); conv 16->32 k3: 4640 (+64); SM 32*4*4 -> 10: 5130
    assert d["n_params"] == 160 + 32 + 4640 + 64 + 5130
    assert (d["n_layers"], d["n_conv"], d["n_pool"], d["n_fc"]) == (4, 2, 1, 0)
    with pytest.raises(ValueError, match="10 classes"):
        DigitsMetaQNN(MetaQNNSpace(n_classes=5))


@pytest.mark.parametrize("batch_size", [1, 4, 269])
def test_a_batch_size_that_makes_a_batch_of_one_image_is_refused(batch_size: int) -> None:
    """1077 = 4 x 269 + 1: with batch size 4 every epoch ended in a batch of one image, and a net
    down to 1x1 failed in batch norm ("Expected more than 1 value per channel when training")."""
    with pytest.raises(ValueError, match=f"batch_size {batch_size} makes a batch of one"):
        DigitsMetaQNN(MetaQNNSpace(batch_sizes=(32, batch_size)))
    DigitsMetaQNN(MetaQNNSpace(batch_sizes=(3, 32, 64, 128)))  # 1077 = 3 x 359


def test_torch_model_matches_described_parameter_count() -> None:
    w = DigitsMetaQNN()
    for i in range(40):
        config = w.space.sample(np.random.default_rng([3, i]))
        model = build_model(parse_net(config["net"]))
        assert sum(p.numel() for p in model.parameters()) == w.describe(config)["n_params"]
        out = model(torch.zeros(2, 1, 8, 8))
        assert tuple(out.shape) == (2, 10)


def test_two_epochs_learn_well_above_chance() -> None:
    run = DigitsMetaQNN().start(SMALL, seed=0, epochs=2)
    first, second = run.train_epoch(), run.train_epoch()
    assert (first.epoch, second.epoch) == (1, 2)
    assert second.value > 0.8  # chance is 0.1
    assert second.seconds > 0
    assert run.epochs_done == 2
    assert run.test_value() > 0.8


def test_same_seed_same_curve_and_other_seed_differs() -> None:
    w = DigitsMetaQNN()

    def curve(seed: int) -> list[float]:
        run = w.start(SMALL, seed=seed, epochs=2)
        return [run.train_epoch().value for _ in range(2)]

    a, b, c = curve(5), curve(5), curve(6)
    assert a == b
    assert a != c


def test_learning_rate_decays_by_0_2_every_5_epochs() -> None:
    config = {**SMALL, "net": "[C(8,1,1), GAP(10), SM(10)]", "batch_size": 128}
    run = DigitsMetaQNN().start(config, seed=0, epochs=11)
    rates = []
    for _ in range(11):
        rates.append(run.optimizer.param_groups[0]["lr"])
        run.train_epoch()
    assert rates[:5] == [pytest.approx(3e-3)] * 5
    assert rates[5:10] == [pytest.approx(6e-4)] * 5
    assert rates[10] == pytest.approx(1.2e-4)


def test_start_rejects_configs_outside_the_space() -> None:
    w = DigitsMetaQNN()
    with pytest.raises(ValueError, match="not allowed"):
        w.start({**SMALL, "net": "[FC(32), SM(10)]"}, seed=0, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        w.start(SMALL, seed=0, epochs=0)
    assert math.isfinite(w.describe(SMALL)["n_params"])


def test_the_default_space_and_the_recording_s_batch_sizes_are_not_refused() -> None:
    """A review of the one-image-batch refusal: the default space (``make run``) and every batch
    size of the recorded ``data/digits-metaqnn.parquet`` (a ``--prior``) are still accepted."""
    from curvecast.curves import CurveSet

    default = DigitsMetaQNN()
    recorded = CurveSet.load(Path(__file__).parents[1] / "data" / "digits-metaqnn.parquet")
    sizes = sorted({int(b) for b in recorded.configs["batch_size"]})
    DigitsMetaQNN(MetaQNNSpace(batch_sizes=sizes))
    choices = next(p for p in default.space.hyperparameters.params if p.name == "batch_size")
    assert set(sizes) <= set(choices.choices)


#: A net recorded before MetaQNNSpace forbade an FC layer wider than the FC layer before it.
WIDENING = {**SMALL, "net": "[P(2,2), FC(32), FC(64), SM(10)]"}


def test_a_net_recorded_before_the_fc_width_rule_still_trains_and_resumes(tmp_path: Path) -> None:
    """The space no longer proposes or validates FC(32) → FC(64), but a study made before may
    hold such a trial, in flight or drawn and not started: it trains and resumes from its
    checkpoint (start and resume refused it, and the trial failed, its checkpoint deleted)."""
    w = DigitsMetaQNN()
    with pytest.raises(ValueError, match="wider than the FC"):
        w.space.validate(WIDENING)  # never proposed
    run = w.start(WIDENING, seed=0, epochs=2)
    run.train_epoch()
    run.save_checkpoint(tmp_path / "t.ckpt")
    again = w.resume(tmp_path / "t.ckpt", expect={"config": WIDENING, "seed": 0, "epochs": 2})
    assert again.epochs_done == 1 and math.isfinite(again.train_epoch().value)
    with pytest.raises(ValueError, match="not allowed"):  # any other net outside it: refused
        w.start({**SMALL, "net": "[P(2,2), FC(32), FC(64), FC(32), SM(10)]"}, seed=0, epochs=1)


def test_a_study_s_trial_drawn_before_the_fc_width_rule_completes(tmp_path: Path) -> None:
    """A study made before the rule (here: a trial of its config drawn, not yet trained, as a
    Hyperband study draws them or as a search killed before its first epoch leaves them) is
    resumed: the trial completes instead of failing."""
    w = DigitsMetaQNN()
    with Store(tmp_path / "s.db") as store:
        run_search(w, RandomSampler(w.space, seed=0), NeverStop(), store, study="s", trials=1,
                   epochs=1)
        number = store.add_trial("s", WIDENING)
        result = run_search(w, RandomSampler(w.space, seed=0), NeverStop(), store, study="s",
                            trials=2, epochs=1)
        trial = next(t for t in store.trials("s") if t.number == number)
    assert result.progress.failed == 0
    assert trial.state is TrialState.COMPLETE and len(trial.values) == 1
