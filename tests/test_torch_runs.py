"""The shared torch machinery: devices, seeds, evaluation helpers and SupervisedRun's contract."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from curvecast.workloads._torch import (  # noqa: E402
    SCHEDULES,
    SupervisedRun,
    accuracy,
    choose_device,
    configure_threads,
    cross_entropy_loss,
    derive_seeds,
    epoch_schedule,
    load_checkpoint,
    model_seed,
    perplexity,
    seeded,
    shuffled_batches,
)


def _blobs(n: int = 256, seed: int = 0) -> tuple[Any, Any]:
    """Two Gaussian blobs in 4-D: float32 ``(n, 4)`` inputs and int64 labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 4)) + 1.5 * y[:, None]
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.int64))


def _make_run(seed: int = 0, lr: float = 0.1, epochs: int = 4,
              loss_fn: Any = cross_entropy_loss) -> SupervisedRun:
    x, y = _blobs()
    with seeded(model_seed(seed)):
        model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(),
                                    torch.nn.Dropout(0.3), torch.nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return SupervisedRun(
        model=model, optimizer=opt, scheduler=epoch_schedule(opt, "cosine", epochs),
        batches=shuffled_batches(x[:192], y[:192], 16), loss_fn=loss_fn,
        validate=lambda m: accuracy(m, x[192:224], y[192:224]),
        test=lambda m: accuracy(m, x[224:], y[224:]),
        seed=seed, diverged_report=float("nan"), meta={"seed": seed, "lr": lr, "epochs": epochs},
    )


def _curve(run: SupervisedRun, n: int) -> list[float]:
    return [run.train_epoch().value for _ in range(n)]


def test_importing_workloads_does_not_import_torch() -> None:
    code = ("import sys, curvecast, curvecast.workloads, curvecast.workloads._torch; "
            "bad = [m for m in ('torch', 'mnist1d') if m in sys.modules]; "
            "sys.exit(repr(bad) if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr or done.stdout


def test_choose_device() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert choose_device(None).type == expected
    assert choose_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="nonsense"):
        choose_device("nonsense")


def test_configure_threads_rejects_zero() -> None:
    before = torch.get_num_threads()
    try:
        with pytest.raises(ValueError, match="0"):
            configure_threads(0)
        configure_threads(1)
        assert torch.get_num_threads() == 1
    finally:  # the later tests of this worker keep their thread count
        torch.set_num_threads(before)


def test_derive_seeds_independent_and_checked() -> None:
    seeds = derive_seeds(7, 4)
    assert len(set(seeds)) == 4
    assert derive_seeds(7, 3) == seeds[:3]
    assert model_seed(7) == seeds[3]
    with pytest.raises(ValueError, match="-1"):
        derive_seeds(-1, 2)


def test_seeded_restores_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded(5):
        a = torch.rand(3)
    assert torch.equal(torch.rand(3), expected)
    with seeded(5):
        assert torch.equal(torch.rand(3), a)


def test_accuracy_and_perplexity_rules() -> None:
    x = torch.zeros(4, 2)
    y = torch.tensor([0, 0, 1, 1])
    assert accuracy(torch.nn.Identity(), torch.tensor([[1.0, 0.0]] * 3 + [[0.0, 1.0]]), y) == 0.75
    assert math.isnan(accuracy(torch.nn.Identity(), x + float("nan"), y))
    assert perplexity(4 * math.log(3.0), 4) == pytest.approx(3.0)
    assert perplexity(float("nan"), 4) == math.inf
    assert perplexity(1e6, 1) == math.inf
    with pytest.raises(ValueError, match="0"):
        perplexity(1.0, 0)


def test_epoch_schedule_factors() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = epoch_schedule(opt, "step", 6)
    lrs = []
    for _ in range(7):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01, 0.01])
    assert set(SCHEDULES) == {"constant", "step", "cosine"}
    with pytest.raises(ValueError, match="'linear'"):
        epoch_schedule(opt, "linear", 6)


def test_run_learns_and_reports_epochs() -> None:
    run = _make_run()
    results = [run.train_epoch() for _ in range(3)]
    assert [r.epoch for r in results] == [1, 2, 3]
    assert run.epochs_done == 3
    assert all(r.seconds > 0 for r in results)
    assert results[-1].value > 0.75
    assert 0.5 < run.test_value() <= 1.0


def test_same_seed_same_curve_even_when_interleaved() -> None:
    alone = _curve(_make_run(seed=3), 3)
    a, b = _make_run(seed=3), _make_run(seed=4)
    interleaved = []
    for _ in range(3):
        interleaved.append(a.train_epoch().value)
        b.train_epoch()
    assert interleaved == alone
    torch.manual_seed(0)  # the global RNG must not matter either
    assert _curve(_make_run(seed=3), 3) == alone


def test_checkpoint_resume_is_bit_identical(tmp_path: Path) -> None:
    straight = _make_run(seed=1)
    straight_curve = _curve(straight, 4)

    first = _make_run(seed=1)
    _curve(first, 2)
    path = tmp_path / "sub" / "run.pt"
    first.save_checkpoint(path)
    ckpt = load_checkpoint(path)
    assert ckpt["meta"] == {"seed": 1, "lr": 0.1, "epochs": 4}
    resumed = _make_run(seed=ckpt["meta"]["seed"])  # rebuilt as the workload would
    resumed.load_state(ckpt)
    assert resumed.epochs_done == 2
    assert _curve(resumed, 2) == straight_curve[2:]
    for p, q in zip(resumed.model.parameters(), straight.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert resumed.numpy_rng.random() == straight.numpy_rng.random()


def test_load_checkpoint_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"weights": 1}, path)
    with pytest.raises(ValueError, match=r"other\.pt"):
        load_checkpoint(path)


def test_divergence_freezes_weights_and_reports_the_rule() -> None:
    calls = {"n": 0}

    def exploding(model: Any, batch: Any) -> Any:
        calls["n"] += 1
        loss = cross_entropy_loss(model, batch)
        return loss * float("inf") if calls["n"] > 5 else loss

    run = _make_run(loss_fn=exploding)
    first = run.train_epoch()
    assert run.diverged and math.isnan(first.value)
    frozen = [p.detach().clone() for p in run.model.parameters()]
    second = run.train_epoch()
    assert second.epoch == 2 and math.isnan(second.value)
    assert math.isnan(run.test_value())
    assert all(torch.equal(p, q) for p, q in zip(run.model.parameters(), frozen, strict=True))


def test_absurd_learning_rate_diverges_without_crashing() -> None:
    run = _make_run(lr=1e12)
    values = _curve(run, 2)
    assert run.diverged
    assert all(math.isnan(v) for v in values)


def test_bad_clip_is_rejected() -> None:
    x, y = _blobs()
    model = torch.nn.Linear(4, 2)
    with pytest.raises(ValueError, match="-1"):
        SupervisedRun(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                      scheduler=None, batches=shuffled_batches(x, y, 8),
                      loss_fn=cross_entropy_loss, validate=lambda m: 0.0, test=lambda m: 0.0,
                      seed=0, diverged_report=float("nan"), clip_grad_norm=-1.0)
