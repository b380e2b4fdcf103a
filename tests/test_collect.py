"""The collection engine: deterministic configs, resume after interruption, parallel workers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curvecast import CurveSet, from_table
from curvecast.execution import CollectStep, collect
from curvecast.execution.collect import config_id
from sgd_workload import SGDDigits


def test_collect_records_curves_with_provenance(tmp_path: Path) -> None:
    seen: list[CollectStep] = []
    out = tmp_path / "c.parquet"
    result = collect(SGDDigits(), n_configs=3, epochs=4, seed=7, out=out, on_progress=seen.append)
    cs = CurveSet.load(out)
    assert (cs.n_configs, cs.n_epochs) == (3, 4)
    assert cs.config_ids == [config_id(7, i) for i in range(3)]
    assert cs.is_complete().all()
    assert cs.provenance["workload"] == "sgd-digits" and cs.provenance["seed"] == 7
    assert "numpy" in cs.provenance["packages"]
    assert {"eta0", "alpha", "n_params", "n_layers"} <= set(cs.configs.columns)
    assert np.isfinite(cs.test_values).all()  # type: ignore[arg-type]
    assert (cs.seconds > 0).all()  # type: ignore[operator]
    # real training: the best config is far above chance (0.1) on validation
    assert np.nanmax(cs.final_values()) > 0.85
    assert sum(p.done for p in seen) == 3 and len(seen) == 3 * 4 + 3
    assert result.trained == cs.config_ids and result.skipped == []
    assert not (tmp_path / "c.parquet.partial").exists()


def test_rerun_with_more_configs_trains_only_the_missing_ones(tmp_path: Path) -> None:
    out = tmp_path / "c.parquet"
    collect(SGDDigits(), n_configs=3, epochs=3, seed=0, out=out)
    first = CurveSet.load(out)
    result = collect(SGDDigits(), n_configs=6, epochs=3, seed=0, out=out)
    assert result.skipped == first.config_ids
    assert result.trained == [config_id(0, i) for i in range(3, 6)]
    both = CurveSet.load(out)
    # the first three were not retrained: their recorded seconds are byte-identical
    np.testing.assert_array_equal(both.subset(first.config_ids).seconds, first.seconds)
    # and a fresh collection of 6 gives the same configs and curves (deterministic under seed)
    fresh = collect(SGDDigits(), n_configs=6, epochs=3, seed=0, out=tmp_path / "f.parquet").curves
    np.testing.assert_array_equal(fresh.values, both.values)
    pd.testing.assert_frame_equal(fresh.configs, both.configs)


def test_unfinished_config_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "c.parquet"
    partial = tmp_path / "c.parquet.partial"
    partial.mkdir()
    # an interrupted call left config 0 after epoch 2 of 4
    wl = SGDDigits()
    from curvecast.execution.collect import run_seed, sample_config

    run = wl.start(sample_config(wl, 0, 0), seed=run_seed(0, 0), epochs=4)
    done = [run.train_epoch(), run.train_epoch()]
    run.save_checkpoint(partial / f"{config_id(0, 0)}.ckpt")
    (partial / f"{config_id(0, 0)}.json").write_text(json.dumps([d.__dict__ for d in done]))
    result = collect(wl, n_configs=1, epochs=4, seed=0, out=out)
    assert result.resumed == [config_id(0, 0)]
    reference = collect(wl, n_configs=1, epochs=4, seed=0, out=tmp_path / "r.parquet").curves
    np.testing.assert_array_equal(result.curves.values, reference.values)
    np.testing.assert_array_equal(result.curves.seconds[0, :2], [d.seconds for d in done])  # type: ignore[index]


def test_parallel_workers_give_the_same_curves(tmp_path: Path) -> None:
    serial = collect(SGDDigits(), n_configs=4, epochs=2, seed=1, out=tmp_path / "s.parquet").curves
    events: list[CollectStep] = []
    parallel = collect(SGDDigits(), n_configs=4, epochs=2, seed=1, out=tmp_path / "p.parquet",
                       workers=2, on_progress=events.append).curves
    assert sorted(parallel.config_ids) == serial.config_ids
    np.testing.assert_array_equal(parallel.subset(serial.config_ids).values, serial.values)
    assert sum(e.done for e in events) == 4


def test_rerun_with_other_arguments_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "c.parquet"
    collect(SGDDigits(), n_configs=1, epochs=2, seed=0, out=out)
    with pytest.raises(ValueError, match="seed=0, not 1"):
        collect(SGDDigits(), n_configs=1, epochs=2, seed=1, out=out)
    with pytest.raises(ValueError, match="epochs=2, not 3"):
        collect(SGDDigits(), n_configs=1, epochs=3, seed=0, out=out)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_configs": 0}, "--configs must be at least 1, got 0"),
    ({"epochs": 0}, "--epochs must be at least 1"),
    ({"workers": 0}, "--workers must be at least 1"),
])
def test_impossible_arguments(tmp_path: Path, kwargs: dict[str, int], message: str) -> None:
    args = {"n_configs": 1, "epochs": 1, "seed": 0, "out": tmp_path / "x.parquet", **kwargs}
    with pytest.raises(ValueError, match=message):
        collect(SGDDigits(), **args)  # type: ignore[arg-type]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect(SGDDigits(), n_configs=1, epochs=1, seed=0, out=tmp_path / "no" / "x.parquet")


def test_a_stop_between_the_values_and_the_checkpoint_leaves_no_hole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A review (stop 32): the checkpoint was written before the epoch's values, so a stop
    between the two resumed one epoch ahead of the values and left a hole, read as a diverged
    report.  Now the values go first; a stop there only trains that epoch again."""
    import sgd_workload

    class Stopped(Exception):
        pass

    save = sgd_workload._Run.save_checkpoint
    saves = [0]

    def save_or_stop(run: sgd_workload._Run, path: Path) -> None:
        save(run, path)
        saves[0] += 1
        if saves[0] == 3:  # stopped just after epoch 3's checkpoint: its values must be there
            raise Stopped

    out = tmp_path / "c.parquet"
    with monkeypatch.context() as patch:
        patch.setattr(sgd_workload._Run, "save_checkpoint", save_or_stop)
        with pytest.raises(Stopped):
            collect(SGDDigits(), n_configs=1, epochs=5, seed=0, out=out)
    resumed = collect(SGDDigits(), n_configs=1, epochs=5, seed=0, out=out).curves
    reference = collect(SGDDigits(), n_configs=1, epochs=5, seed=0,
                        out=tmp_path / "r.parquet").curves
    assert not resumed.diverged().any()
    np.testing.assert_array_equal(resumed.values, reference.values)


def test_partial_files_of_a_recorded_config_are_removed_on_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "c.parquet"
    collect(SGDDigits(), n_configs=1, epochs=2, seed=0, out=out)
    partial = tmp_path / "c.parquet.partial"
    partial.mkdir()
    for suffix in (".ckpt", ".json"):  # left by a stop after the config was saved
        (partial / f"{config_id(0, 0)}{suffix}").write_text("x")
    collect(SGDDigits(), n_configs=2, epochs=2, seed=0, out=out)
    assert not partial.exists()


def test_a_second_process_collecting_into_the_same_file_is_refused(tmp_path: Path) -> None:
    """A review of stop 33: two ``collect`` runs on one ``--out`` trained the same configs twice,
    and one died with a raw OS error over the other's partial files.  The second is refused
    while the first holds the file's lock; once it is released, collect runs."""
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "c.parquet"
    with open(tmp_path / ".c.parquet.lock", "a") as held:  # what a running collect holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ValueError, match=r"another process is collecting into it"):
            collect(SGDDigits(), n_configs=1, epochs=2, seed=0, out=out)
        assert not out.exists() and not (tmp_path / "c.parquet.partial").exists()
        fcntl.flock(held, fcntl.LOCK_UN)
    assert collect(SGDDigits(), n_configs=1, epochs=2, seed=0, out=out).curves.n_configs == 1
    assert not (tmp_path / ".c.parquet.lock").exists()  # removed when collect ends


@pytest.mark.parametrize("target", ["victim.txt", "missing/victim.txt"])
def test_a_link_planted_at_the_lock_path_is_not_followed(tmp_path: Path, target: str) -> None:
    """A security review: collect opened its lock with ``open(lock, "a")``, which follows a
    link planted at the lock's path and created an (empty) file at the link's target.  The link
    is refused in one clear error, nothing is created at its target and nothing is trained."""
    pytest.importorskip("fcntl")
    out = tmp_path / "c.parquet"
    victim = tmp_path / "elsewhere" / target
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / ".c.parquet.lock").symlink_to(victim)
    with pytest.raises(ValueError, match=r"lock file of .* is a symbolic link, not followed"):
        collect(SGDDigits(), n_configs=1, epochs=2, seed=0, out=out)
    assert not victim.exists() and not victim.parent.joinpath("missing").exists()
    assert not out.exists() and not (tmp_path / "c.parquet.partial").exists()
    assert (tmp_path / ".c.parquet.lock").is_symlink()  # left as it was, for the user to see


def test_a_lock_path_that_is_no_regular_file_is_refused(tmp_path: Path) -> None:
    """A pipe at the lock's path (a reader holding its other end, so that opening it does not
    wait): refused in one clear error, nothing trained."""
    pytest.importorskip("fcntl")
    out = tmp_path / "c.parquet"
    pipe = tmp_path / ".c.parquet.lock"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(ValueError, match=r"lock file of .* is not a regular file"):
            collect(SGDDigits(), n_configs=1, epochs=2, seed=0, out=out)
    finally:
        os.close(reader)
    assert not out.exists() and not (tmp_path / "c.parquet.partial").exists()


@pytest.mark.parametrize("bad_id", ["../../victim/notes-1", "abc", "s0-x"])
def test_a_collection_whose_config_ids_collect_did_not_make_is_refused_and_nothing_deleted(
        tmp_path: Path, bad_id: str) -> None:
    """A security review (rev8): the ids of the file to resume became file names to delete
    (``partial/<id>.*``): ``../../victim/notes-1`` deleted ``victim/notes-1.*`` outside."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes-1.txt").write_text("precious")
    work = tmp_path / "work"
    work.mkdir()
    out = work / "c.parquet"
    long = pd.DataFrame({"config_id": [bad_id] * 2, "epoch": [1, 2], "value": [0.5, 0.6],
                         "seconds": [0.1, 0.1]})
    CurveSet.from_long(long, pd.DataFrame(index=pd.Index([bad_id], name="config_id")),
                       metric="accuracy", direction="maximize", epochs=[1, 2],
                       provenance={"workload": SGDDigits().name, "seed": 0, "epochs": 2}
                       ).save(out)
    with pytest.raises(ValueError, match="not made by `curvecast collect`"):
        collect(SGDDigits(), n_configs=1, epochs=2, seed=0, out=out)
    assert (victim / "notes-1.txt").read_text() == "precious"


def test_collect_processes_ignore_ctrl_c_from_birth(tmp_path: Path) -> None:
    """A fresh user's review: Ctrl-C while `collect --workers 2` started its processes (a
    terminal sends it to every process of the job; `timeout -s INT 3 curvecast collect …`)
    printed a KeyboardInterrupt traceback from a worker or the queue's server still importing.
    Every process collect spawns starts with SIGINT ignored: each records, from its
    ``sitecustomize`` (run before anything else), the SIGINT handler it was born with."""
    import os
    import signal
    import subprocess
    import sys

    site = tmp_path / "site"
    site.mkdir()
    born = tmp_path / "born"
    born.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os, signal, sys\n"
        "if '--multiprocessing-fork' in sys.argv:\n"
        "    with open(os.path.join(os.environ['SIGINT_AT_BIRTH'], str(os.getpid())), 'w') as f:\n"
        "        f.write(repr(signal.getsignal(signal.SIGINT)))\n")
    tests = Path(__file__).parent
    out = str(tmp_path / "c.parquet")
    script = ("from sgd_workload import SGDDigits\n"
              "from curvecast.execution import collect\n"
              "if __name__ == '__main__':\n"
              f"    collect(SGDDigits(), n_configs=2, epochs=1, seed=0, out={out!r}, workers=2)\n")
    src = Path(__file__).parents[1] / "src"
    env = {**os.environ, "SIGINT_AT_BIRTH": str(born),
           "PYTHONPATH": os.pathsep.join([str(site), str(src), str(tests)])}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
    handlers = sorted(p.read_text() for p in born.iterdir())
    assert len(handlers) == 3  # the queue's server and two workers
    assert handlers == [repr(signal.SIG_IGN)] * 3


def test_collecting_into_an_imported_file_says_collect_did_not_make_it(tmp_path: Path) -> None:
    """A fresh user's review: `collect --out runs.parquet` onto a file `data import table` made
    said "holds a collection with workload=None, not 'sgd-digits'": no collection, and a
    Python ``None``.  It now says what the file is, and leaves it as it was."""
    table = tmp_path / "runs.csv"
    table.write_text("config_id,acc_1,acc_2\na,0.1,0.2\nb,0.2,0.3\n")
    out = tmp_path / "runs.parquet"
    from_table(table, r"acc_(\d+)", "val_accuracy", "maximize").save(out)
    before = out.read_bytes()
    with pytest.raises(ValueError, match=r"runs\.parquet: holds curves `curvecast collect` did "
                                         r"not make \(an import or an export"):
        collect(SGDDigits(), n_configs=1, epochs=2, seed=0, out=out)
    assert out.read_bytes() == before
