"""run_search with trials that crash or diverge: the trial is marked, the study goes on."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from curvecast.execution.live import run_search
from curvecast.search import RandomSampler
from curvecast.stopping import NeverStop, PredictiveStopper
from curvecast.store import Store, TrialState
from curvecast.workloads._base import EpochResult, TrainingRun
from sgd_workload import SGDDigits, _Run


class _Flaky(_Run):
    """Crashes in epoch 2 when eta0 is large; reports NaN (diverged) when alpha is large."""

    def train_epoch(self) -> EpochResult:
        if self.config["eta0"] > 0.1 and self.done == 1:
            raise RuntimeError("CUDA out of memory (simulated)")
        result = super().train_epoch()
        if self.config["alpha"] > 1e-2:
            return EpochResult(result.epoch, math.nan, result.seconds)
        return result


class FlakyDigits(SGDDigits):
    name = "flaky-digits"

    def start(self, config: Mapping[str, Any], *, seed: int, epochs: int,
              device: str | None = None) -> TrainingRun:
        return _Flaky(config, seed, epochs)


def test_a_crashing_trial_fails_alone_and_diverged_values_are_kept(tmp_path: Path) -> None:
    with Store(tmp_path / "f.db") as store:
        result = run_search(FlakyDigits(), RandomSampler(FlakyDigits().space, seed=4), NeverStop(),
                            store, study="f", trials=12, epochs=3)
        trials = store.trials("f")
    failed = [t for t in trials if t.state is TrialState.FAILED]
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert failed and complete and len(failed) + len(complete) == 12
    for t in failed:
        assert t.config["eta0"] > 0.1
        assert "CUDA out of memory (simulated)" in t.decisions[-1].reason
        assert len(t.values) == 1  # epoch 1 was recorded before the crash
    diverged = [t for t in complete if t.config["alpha"] > 1e-2]
    assert diverged and all(math.isnan(v) for t in diverged for _, v, _ in t.values)
    assert result.progress.failed == len(failed)
    # the best is a finite, real result, not a diverged run
    assert result.progress.best_value is not None and result.progress.best_value > 0.5


def test_predictive_stopping_with_diverged_runs_in_the_history(tmp_path: Path) -> None:
    stopper = PredictiveStopper(delta=0.9, min_complete=6, refit_every=3)
    with Store(tmp_path / "p.db") as store:
        result = run_search(FlakyDigits(), RandomSampler(FlakyDigits().space, seed=5), stopper,
                            store, study="p", trials=16, epochs=4)
        trials = store.trials("p")
    # the progress bar compares the finished trials' epochs with their full training
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.STOPPED)]
    assert result.progress.epochs_finished == sum(len(t.values) for t in finished)
    assert result.progress.epochs_used == sum(len(t.values) for t in trials)
    assert result.progress.epochs_used > result.progress.epochs_finished  # the failed trials'
    judged = [d for t in trials for d in t.decisions if d.mean is not None]
    assert judged and all(math.isfinite(d.mean) and d.std > 0 for d in judged)  # type: ignore[arg-type, operator]
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.STOPPED,
                                         TrialState.FAILED}


def test_a_crashing_trial_fails_alone_under_hyperband(tmp_path: Path) -> None:
    from curvecast.execution.live_hyperband import run_scheduled_search
    from curvecast.search import Hyperband

    workload = FlakyDigits()
    with Store(tmp_path / "h.db") as store:
        result = run_scheduled_search(workload, RandomSampler(workload.space, seed=4),
                                      lambda s: Hyperband(s, eta=3), store, study="h", trials=9,
                                      epochs=3)
        trials = store.trials("h")
    failed = [t for t in trials if t.state is TrialState.FAILED]
    assert failed and {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.STOPPED,
                                                    TrialState.FAILED}
    for t in failed:  # crashed in its second epoch: the first kept, the error recorded
        assert t.config["eta0"] > 0.1 and len(t.values) == 1
        assert t.decisions[-1].action == "fail" and t.decisions[-1].epoch == 2
        assert "CUDA out of memory (simulated)" in t.decisions[-1].reason
    assert result.progress.failed == len(failed)
    assert result.progress.complete >= 1


class _DiskFills(_Run):
    """Its checkpoint cannot be written once the study has saved ``room`` of them."""

    room: ClassVar[list[int]] = [2]

    def save_checkpoint(self, path: Path) -> None:
        if self.room[0] <= 0:
            raise OSError(28, "No space left on device", str(path))
        self.room[0] -= 1
        super().save_checkpoint(path)


class FullDiskDigits(SGDDigits):
    name = "full-disk-digits"

    def start(self, config: Mapping[str, Any], *, seed: int, epochs: int,
              device: str | None = None) -> TrainingRun:
        return _DiskFills(config, seed, epochs)


def test_a_checkpoint_the_disk_cannot_hold_stops_the_search_and_fails_no_trial(
        tmp_path: Path) -> None:
    """A user's review (stop 29): a full disk under the checkpoints marked every trial failed
    within seconds (its budget used up, the search exiting 0, nothing trained on a rerun).  It
    is the machine's fault, not the configs': the search stops with a CheckpointWriteError, no
    trial is failed, and once there is room again the same search resumes and finishes."""
    import pytest

    from curvecast.workloads import CheckpointWriteError

    _DiskFills.room[0] = 2
    with Store(tmp_path / "d.db") as store:
        with pytest.raises(CheckpointWriteError, match="No space left on device"):
            run_search(FullDiskDigits(), RandomSampler(FullDiskDigits().space, seed=4),
                       NeverStop(), store, study="d", trials=4, epochs=3)
        trials = store.trials("d")
        assert trials and not any(t.state is TrialState.FAILED for t in trials)
        assert not list(tmp_path.glob("**/*.tmp"))
        _DiskFills.room[0] = 1000  # space freed
        result = run_search(FullDiskDigits(), RandomSampler(FullDiskDigits().space, seed=4),
                            NeverStop(), store, study="d", trials=4, epochs=3)
        assert result.progress.complete == 4 and result.progress.failed == 0


def test_a_study_whose_checkpoint_folder_cannot_be_made_is_not_created(tmp_path: Path) -> None:
    """A user's review (stop 29): a search refused because a file sat where its checkpoint folder
    goes had already created the study, which `studies` then listed, empty.  Creating the study
    and making its folder are one transaction."""
    import pytest

    (tmp_path / "z.db.checkpoints").mkdir()
    (tmp_path / "z.db.checkpoints" / "study-1").touch()
    with Store(tmp_path / "z.db") as store:
        with pytest.raises(OSError, match="the study's checkpoint folder cannot be made"):
            run_search(SGDDigits(), RandomSampler(SGDDigits().space, seed=0), NeverStop(),
                       store, study="z", trials=2, epochs=2)
        assert store.study_names() == []


def test_a_training_process_killed_from_outside_ends_the_search_in_one_line(
        tmp_path: Path) -> None:
    """A review of stop 33: ``kill -9`` of one worker process (as the out-of-memory killer does)
    ended ``search`` with a raw BrokenProcessPool traceback.  It ends with one line that names
    the trial and says a rerun resumes; the rerun does."""
    import concurrent.futures as cf
    from concurrent.futures.process import BrokenProcessPool

    import typer

    from curvecast.cli._common import friendly_errors
    from curvecast.execution.training import WorkerDied

    class DiesAtTheThirdEpoch(cf.ThreadPoolExecutor):
        submitted = 0

        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
            type(self).submitted += 1
            if type(self).submitted == 3:
                future: cf.Future[Any] = cf.Future()
                future.set_exception(BrokenProcessPool("a process terminated abruptly"))
                return future
            return super().submit(fn, *args, **kwargs)

    workload = SGDDigits()

    def search(executor: cf.Executor | None) -> None:
        with Store(tmp_path / "s.db") as store:
            run_search(workload, RandomSampler(workload.space, seed=0), NeverStop(), store,
                       study="s", trials=2, epochs=3, executor=executor)

    with DiesAtTheThirdEpoch(max_workers=1) as pool:
        with pytest.raises(WorkerDied, match=r"a training process died .* while it trained t0: "
                                             r"the search stops here; rerun the same command"):
            search(pool)

    @friendly_errors
    def command() -> None:
        search(DiesAtTheThirdEpoch(max_workers=1))

    DiesAtTheThirdEpoch.submitted = 2
    with pytest.raises(typer.Exit):
        command()
    search(None)  # the rerun resumes and finishes
    with Store(tmp_path / "s.db") as store:
        assert [len(t.values) for t in store.trials("s")] == [3, 3]
