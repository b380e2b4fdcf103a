"""A real (tiny) Ray Tune run made here on a local Ray (127.0.0.1 only) → ``curvecast data import
ray`` / ``from_ray`` → ``simulate`` on it, and :class:`CurvecastScheduler` warm-started from it."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# before Ray is imported: every Ray listener binds 127.0.0.1 (see test_ray_tune.py)
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray", reason="the Ray Tune import test runs a Tune experiment")

from ray import tune  # noqa: E402
from ray.tune.schedulers import TrialScheduler  # noqa: E402

import curvecast  # noqa: E402
from curvecast import CurveSet, CurveSetFormatError, Direction  # noqa: E402
from curvecast.integrations.ray_tune import CurvecastScheduler  # noqa: E402
from imported import curvecast_cli, exported_configs, never_stop_epochs, same_configs  # noqa: E402
from synthetic_curves import synthetic  # noqa: E402
from test_ray_tune import assert_listeners_on_loopback, cheap_srm, feed, local_ray  # noqa: E402, F401

T, N = 6, 9
RECORDED = synthetic(n=N + 30, epochs=T, seed=9)
PARTIAL, DIVERGED, CRASHED = 3, 7, 8  # stops after 3 epochs; reports NaN then crashes; crashes


def replay_trainable(values: np.ndarray):  # type: ignore[no-untyped-def]
    """A trainable that 'trains' recorded config i: reports its curve epoch by epoch as ``acc``
    (a closure, so Ray ships it by value: the workers cannot import this test module)."""

    def trainable(config: dict[str, Any]) -> None:
        i = int(config["i"])
        for epoch in range(1, T + 1):
            if i == PARTIAL and epoch > 3:
                return
            if i == CRASHED and epoch == 2:
                raise RuntimeError("out of memory")
            diverges = i == DIVERGED and epoch == 3
            tune.report({"acc": math.nan if diverges else float(values[i, epoch - 1])})
            if diverges:
                raise RuntimeError("loss is nan")

    return trainable


@pytest.fixture(scope="module")
def experiment(local_ray: None, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """The experiment directory of a Tune run over N recorded configs."""
    storage = tmp_path_factory.mktemp("ray")
    lrs = RECORDED.configs.lr.to_numpy()
    tuner = tune.Tuner(
        replay_trainable(np.array(RECORDED.values)),
        param_space={"i": tune.grid_search(list(range(N))),
                     "opt": {"lr": tune.sample_from(lambda spec: float(lrs[spec.config.i]))}},
        tune_config=tune.TuneConfig(metric="acc", mode="max", max_concurrent_trials=2,
                                    reuse_actors=True),
        run_config=tune.RunConfig(name="last", storage_path=str(storage), verbose=0))
    grid = tuner.fit()
    assert sum(grid[k].error is not None for k in range(len(grid))) == 2
    assert_listeners_on_loopback()
    return storage / "last"


def test_import_ray_then_simulate(experiment: Path, tmp_path: Path) -> None:
    out = tmp_path / "last.parquet"
    proc = curvecast_cli("data", "import", "ray", experiment, "--metric", "acc", "--direction",
                         "maximize", "--out", out)
    assert proc.returncode == 0, proc.stderr
    got = CurveSet.load(out)
    # the trial that crashed without a NaN is a partial curve, as the scheduler reads it
    assert got.n_configs == N and got.provenance["errored"] == 2
    assert got.provenance["left_out"] == {"no_reports": 0}
    assert got.metric == "acc" and got.direction is Direction.MAXIMIZE
    assert got.epochs.tolist() == list(range(1, T + 1))
    assert sorted(got.configs.columns) == ["i", "opt/lr"]  # params.json, flattened
    rows = {int(i): r for r, i in enumerate(got.configs["i"])}
    assert sorted(rows) == list(range(N))
    np.testing.assert_allclose(got.configs["opt/lr"].to_numpy(),
                               RECORDED.configs.lr.to_numpy()[list(rows)])
    for i, r in rows.items():
        seen = got.observed[r]
        if i == PARTIAL:
            assert seen.tolist() == [True] * 3 + [False] * (T - 3)
        elif i == CRASHED:  # crashed in its second epoch: one report
            assert seen.tolist() == [True] + [False] * (T - 1)
            np.testing.assert_allclose(got.values[r, 0], RECORDED.values[i, 0])
        elif i == DIVERGED:
            assert seen.tolist() == [True] * 3 + [False] * (T - 3)
            assert got.diverged()[r].tolist() == [False, False, True] + [False] * (T - 3)
        else:
            assert seen.all()
            np.testing.assert_allclose(got.values[r], RECORDED.values[i])
    assert got.seconds is not None and (got.seconds[got.observed] >= 0).all()

    # the complete curves, every epoch
    assert never_stop_epochs(out, tmp_path / "sim.json", min_complete=3) == (N - 3) * T


def test_the_scheduler_warm_starts_from_the_imported_run(experiment: Path) -> None:
    prior = curvecast.from_ray(experiment, "acc", "max")
    scheduler = CurvecastScheduler(max_t=T, delta=0.9, min_complete=6, refit_every=None,
                                   predictor=cheap_srm(), prior=prior)
    assert scheduler.set_search_properties("acc", "max")
    order = list(range(N, N + 30))
    worst = min(order, key=lambda i: RECORDED.values[i, -1])
    first = order[0] if order[0] != worst else order[1]
    trial = type("T", (), {"trial_id": f"t{first}", "config": {
        "i": first, "opt": {"lr": float(RECORDED.configs.lr.iloc[first])}}})()
    scheduler.on_trial_add(None, trial)
    feed(scheduler, trial, RECORDED.values[first])  # the study's first complete trial
    hopeless = type("T", (), {"trial_id": f"t{worst}", "config": {
        "i": worst, "opt": {"lr": float(RECORDED.configs.lr.iloc[worst])}}})()
    scheduler.on_trial_add(None, hopeless)
    decisions = feed(scheduler, hopeless, RECORDED.values[worst])
    # 6 prior curves count toward min_complete: the study's second trial is already judged
    assert scheduler.stopper.n_prior == N - 3
    assert decisions[-1] == TrialScheduler.STOP and len(decisions) < T


def test_a_prior_of_another_metric_or_direction_is_refused(experiment: Path,
                                                           tmp_path: Path) -> None:
    prior = curvecast.from_ray(experiment, "acc", "max")
    with pytest.raises(ValueError, match="the prior's metric is 'acc' but the Tune run measures "
                                         "'loss'"):
        CurvecastScheduler(max_t=T, metric="loss", mode="max", prior=prior)
    scheduler = CurvecastScheduler(max_t=T, prior=prior, min_complete=6)
    started: list[int] = []
    tuner = tune.Tuner(lambda config: started.append(1),
                       param_space={"i": tune.grid_search([0, 1])},
                       tune_config=tune.TuneConfig(metric="acc", mode="min", scheduler=scheduler),
                       run_config=tune.RunConfig(name="wrong", storage_path=str(tmp_path),
                                                 verbose=0))
    with pytest.raises(Exception, match="'acc' is maximized but the Tune run minimizes 'acc'"):
        tuner.fit()
    assert not list((tmp_path / "wrong").glob("*/params.json"))  # no trial started


def test_import_errors(experiment: Path, tmp_path: Path) -> None:
    with pytest.raises(CurveSetFormatError, match="no trial reported 'loss' with "
                                                  "training_iteration"):
        curvecast.from_ray(experiment, "loss", "min")
    with pytest.raises(FileNotFoundError, match="no such experiment directory"):
        curvecast.from_ray(tmp_path / "nowhere", "acc", "max")
    with pytest.raises(CurveSetFormatError, match="no Ray Tune trial folder"):
        curvecast.from_ray(tmp_path, "acc", "max")
    trial = tmp_path / "exp" / "trial_0"
    trial.mkdir(parents=True)
    (trial / "params.json").write_text('{"lr": 0.1}')
    (trial / "result.json").write_text('{"acc": 0.5, "training_iteration": 1}\n'
                                       '{"acc": "high", "training_iteration": 2}\n')
    with pytest.raises(CurveSetFormatError) as err:
        curvecast.from_ray(tmp_path / "exp", "acc", "max")
    assert str(err.value) == f"{trial / 'result.json'}: row 2 (line 2), column 'acc': 'high' is " \
                             "not a number"
    (trial / "result.json").unlink()
    (trial / "progress.csv").write_text("acc,training_iteration\n0.5,1\n0.6,two\n")
    with pytest.raises(CurveSetFormatError) as err:
        curvecast.from_ray(tmp_path / "exp", "acc", "max")
    assert str(err.value) == (f"{trial / 'progress.csv'}: row 2 (line 3), column "
                              "'training_iteration': 'two' is not a number")
    (trial / "params.json").write_text('{"lr": ')
    with pytest.raises(CurveSetFormatError, match=r"params\.json: line 1: not JSON"):
        curvecast.from_ray(tmp_path / "exp", "acc", "max")


def test_a_restarted_trial_keeps_its_last_run(tmp_path: Path) -> None:
    trial = tmp_path / "exp" / "trial_0"
    trial.mkdir(parents=True)
    (trial / "params.json").write_text('{"lr": 0.1}')
    reports = [(1, 0.1), (2, 0.2), (3, 0.3), (2, 0.25), (3, 0.35), (4, 0.45)]  # restarted at 2
    (trial / "result.json").write_text("".join(
        f'{{"acc": {v}, "training_iteration": {e}, "trial_id": "abc"}}\n' for e, v in reports))
    got = curvecast.from_ray(tmp_path / "exp", "acc", "max")
    assert got.config_ids == ["abc"] and got.values.tolist() == [[0.1, 0.25, 0.35, 0.45]]


def test_a_trial_of_many_reports_is_read_in_linear_time(tmp_path: Path) -> None:
    """A review: each report of a trial rebuilt the trial's reports so far (to drop
    those a restart replaces), so a trial that reports every training step took quadratic time:
    16 s for 20 000 reports, 70 s for 40 000.  They are now rebuilt only at a restart."""
    n = 40_000
    trial = tmp_path / "exp" / "trial_0"
    trial.mkdir(parents=True)
    (trial / "params.json").write_text('{"lr": 0.1}')
    reports = [(e, e / n) for e in range(1, n + 1)] + [(n - 1, 0.5), (n, 0.75)]  # a restart
    (trial / "result.json").write_text("".join(
        f'{{"acc": {v}, "training_iteration": {e}}}\n' for e, v in reports))
    started = time.process_time()
    got = curvecast.from_ray(tmp_path / "exp", "acc", "max")
    assert time.process_time() - started < 5  # under 1 s; over 30 s before
    assert got.values.shape == (1, n) and got.values[0, -3:].tolist() == [(n - 2) / n, 0.5, 0.75]
    assert got.provenance["replaced_reports"] == 2


@pytest.mark.parametrize("restarts", [1, 2])
def test_a_trial_that_failed_then_finished_on_a_retry_is_kept(tmp_path: Path,
                                                               restarts: int) -> None:
    """A review (stop 35): with Ray's retries (``FailureConfig(max_failures=k)``) a trial that
    failed once and then finished keeps its ``error.txt``; the import left it out as errored,
    the best run included.  Ray writes one ``Failure # n`` per failure and each attempt's
    first report has ``iterations_since_restore`` 1 (as Ray 2.x writes them)."""
    trial = tmp_path / "exp" / "trial_0"
    trial.mkdir(parents=True)
    (trial / "params.json").write_text('{"lr": 0.1}')
    attempts = [[(1, 0.1), (2, 0.2)]] * restarts + [[(1, 0.1), (2, 0.2), (3, 0.3)]]
    (trial / "result.json").write_text("".join(
        f'{{"acc": {v}, "training_iteration": {e}, "iterations_since_restore": {e}}}\n'
        for run in attempts for e, v in run))
    failures = "".join(f"Failure # {n} (occurred at 2026-12-03_12-03-44)\nTraceback …\n"
                       for n in range(1, restarts + 1))
    (trial / "error.txt").write_text(failures)
    other = tmp_path / "exp" / "trial_1"  # a trial that completed the 3 epochs without failing
    other.mkdir()
    (other / "params.json").write_text('{"lr": 0.2}')
    (other / "result.json").write_text("".join(
        f'{{"acc": {v}, "training_iteration": {e}, "iterations_since_restore": {e}}}\n'
        for e, v in [(1, 0.1), (2, 0.15), (3, 0.2)]))
    got = curvecast.from_ray(tmp_path / "exp", "acc", "max")
    assert got.values.tolist() == [[0.1, 0.2, 0.3], [0.1, 0.15, 0.2]]
    assert "errored" not in got.provenance and "cut_at_last_step" not in got.provenance
    # the last attempt failed too, after its last report: a partial curve, one epoch short
    (trial / "error.txt").write_text(failures + f"Failure # {restarts + 1} (occurred at x)\n")
    got = curvecast.from_ray(tmp_path / "exp", "acc", "max")
    assert got.n_observed().tolist() == [2, 3] and got.is_complete().tolist() == [False, True]
    assert got.provenance["errored"] == 1 and got.provenance["cut_at_last_step"] == ["trial_0"]


def test_a_skipped_epoch_is_interpolated_not_read_as_diverged(tmp_path: Path) -> None:
    """A review (stop 35): a trial without the metric at one iteration was imported with the
    experiment's worst value there (a 'diverged' report); the gap is now interpolated, and a
    trial that reported too few epochs is read up to its first gap."""
    root = tmp_path / "exp"
    curves = {"a": {e: 0.05 * e for e in range(1, 11)},
              "b": {e: 0.05 * e for e in range(1, 11) if e != 5},
              "c": {e: 0.04 * e for e in (1, 2, 10)}}
    for name, reports in curves.items():
        (root / name).mkdir(parents=True)
        (root / name / "params.json").write_text('{"lr": 0.1}')
        (root / name / "result.json").write_text("".join(
            f'{{"acc": {v}, "training_iteration": {e}, "time_this_iter_s": 2.0}}\n'
            for e, v in reports.items()))
    got = curvecast.from_ray(root, "acc", "max")
    assert not got.diverged().any()
    np.testing.assert_allclose(got.values[1], 0.05 * np.arange(1, 11))
    assert got.n_observed().tolist() == [10, 10, 2]
    assert got.provenance["filled_steps"] == {"trials": 1, "steps": 1}
    assert got.provenance["sparse_reports_left_out"] == {"trials": 1, "steps": 1}
    assert np.isnan(got.seconds[1, 4]) and got.seconds[1, 3] == 2.0


def test_malformed_results_and_left_out_trials_are_named(tmp_path: Path) -> None:
    """A result line that is not an object and config names that collide are refused naming
    the file; trials left out are said on stderr, not only in the file's provenance."""
    root = tmp_path / "exp"
    good, quiet = root / "trial_0", root / "trial_1"
    for folder in (good, quiet):
        folder.mkdir(parents=True)
        (folder / "params.json").write_text('{"lr": 0.1}')
    (good / "result.json").write_text('{"acc": 0.5, "training_iteration": 1}\n[1, 2]\n')
    with pytest.raises(CurveSetFormatError) as err:
        curvecast.from_ray(root, "acc", "max")
    assert str(err.value) == f"{good / 'result.json'}: row 2 (line 2): not a JSON object (one " \
                             "tune.report's result)"
    (good / "result.json").write_text('{"acc": 0.5, "training_iteration": 1}\n')
    (good / "params.json").write_text('{"opt/lr": 0.1, "opt": {"lr": 0.2}}')
    with pytest.raises(CurveSetFormatError, match=r"params\.json: two config entries flatten to "
                                                  r"the name 'opt/lr'"):
        curvecast.from_ray(root, "acc", "max")
    (good / "params.json").write_text('{"opt": {"lr": 0.2}}')
    (quiet / "result.json").write_text('{"loss": 0.5, "training_iteration": 1}\n')
    proc = curvecast_cli("data", "import", "ray", root, "--metric", "acc", "--direction", "max",
                         "--out", tmp_path / "r.parquet")
    assert proc.returncode == 0, proc.stderr
    assert "1 config (1 complete)" in proc.stdout
    assert proc.stderr == ("warning: exp: trials left out: 1 reported nothing of the metric\n"
                           "note: exp: config columns kept in the file but not used by the "
                           "predictors: opt/lr (one value in every row)\n")
    assert CurveSet.load(tmp_path / "r.parquet").configs.columns.tolist() == ["opt/lr"]


def test_an_experiment_whose_every_trial_errored_has_no_complete_curve(tmp_path: Path) -> None:
    """A review (stop 36): with every trial errored, those that reported the last epoch were
    read as complete curves; the scheduler never counts an errored run as complete."""
    for i, epochs in enumerate((3, 3, 2)):
        trial = tmp_path / "exp" / f"trial_{i}"
        trial.mkdir(parents=True)
        (trial / "params.json").write_text(f'{{"lr": {0.1 * (i + 1)}}}')
        (trial / "result.json").write_text("".join(
            f'{{"acc": {0.1 * e}, "training_iteration": {e}}}\n' for e in range(1, epochs + 1)))
        (trial / "error.txt").write_text("Failure # 1 (occurred at x)\nTraceback …\n")
    got = curvecast.from_ray(tmp_path / "exp", "acc", "max")
    assert got.epochs.tolist() == [1, 2, 3] and not got.is_complete().any()
    assert got.n_observed().tolist() == [2, 2, 2] and got.provenance["errored"] == 3


def test_booleans_none_and_lists_import_as_a_curvecast_study_exports_them(
        tmp_path: Path) -> None:
    """A review: ``params.json``'s booleans and nulls were imported as the text "True" and
    "None" (and lists as Python's repr), while a curvecast study's export keeps booleans and
    leaves None missing: a prior from Ray had a text column where a study had booleans.  The
    strings "True"/"False" of a ``tune.choice(["True", "False"])`` stay text."""
    configs = [{"bn": True, "norm": "True", "act": None, "layers": ["conv", "pool"]},
               {"bn": False, "norm": "False", "act": "relu", "layers": ["conv"]}]
    for number, config in enumerate(configs):
        trial = tmp_path / "exp" / f"trial_{number}"
        trial.mkdir(parents=True)
        (trial / "params.json").write_text(json.dumps(config))
        (trial / "result.json").write_text("".join(
            f'{{"acc": {0.1 * e}, "training_iteration": {e}}}\n' for e in (1, 2)))
    got = curvecast.from_ray(tmp_path / "exp", "acc", "max")
    assert got.configs["bn"].tolist() == [True, False]
    assert got.configs["norm"].tolist() == ["True", "False"]
    assert got.configs["act"].isna().tolist() == [True, False]
    assert got.configs["layers"].tolist() == ['["conv", "pool"]', '["conv"]']
    back = CurveSet.load(got.save(tmp_path / "kinds.parquet")).configs
    same_configs(back, exported_configs(tmp_path, configs))
