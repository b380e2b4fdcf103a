"""Issue 13, items 1–3: checkpoints never run code, study names never become paths, and worker
processes never outlive a killed search."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curvecast.cli import app
from curvecast.execution.live import open_study, run_search
from curvecast.search import RandomSampler
from curvecast.stopping import NeverStop
from curvecast.store import Store, TrialState
from sgd_workload import SGDDigits

TESTS = Path(__file__).resolve().parent


class Evil:
    """What an attacker plants: unpickling it runs a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def plant(path: Path, marker: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": "curvecast-supervised-run/1", "x": Evil(marker)}, path)


def test_a_planted_checkpoint_is_refused_not_run(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from curvecast.workloads import CheckpointError, DigitsMetaQNN

    ckpt, marker = tmp_path / "t0-e1.ckpt", tmp_path / "pwned"
    plant(ckpt, marker)
    with pytest.raises(CheckpointError, match="unreadable checkpoint"):
        DigitsMetaQNN().resume(ckpt)
    assert not marker.exists()
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable checkpoint"):
        DigitsMetaQNN().resume(ckpt)


def test_a_search_restarts_a_trial_whose_checkpoint_does_not_load(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from curvecast.workloads import DigitsMetaQNN

    wl = DigitsMetaQNN()
    marker = tmp_path / "pwned"
    with Store(tmp_path / "s.db") as store:
        open_study(store, "s", wl, 2, 0, None)
        config = RandomSampler(wl.space, seed=5).ask_config()
        assert config is not None
        store.add_trial("s", config)  # pending, epoch 1 recorded: a killed search left it
        store.record_value("s", 0, 1, 0.25, 0.1)
        plant(store.checkpoint_folder("s") / "t0-e1.ckpt", marker)
        result = run_search(wl, RandomSampler(wl.space, seed=0), NeverStop(), store, study="s",
                            trials=1, epochs=2, workers=1, seed=0)
        trial = store.trials("s")[0]
    assert not marker.exists()
    assert trial.state is TrialState.COMPLETE
    assert [e for e, _, _ in trial.values] == [1, 2] and trial.values[0][1] == 0.25
    assert len(result.progress.notices) == 1
    assert "t0-e1.ckpt: unreadable checkpoint" in result.progress.notices[0]
    assert result.progress.notices[0].endswith("restarted from epoch 0")


def test_a_search_says_a_trial_restarted_for_a_missing_checkpoint(tmp_path: Path) -> None:
    """A review (stop 32): a database moved without its checkpoints folder retrained the
    recorded epochs of a trial without a word (only an unreadable checkpoint was said)."""
    wl = SGDDigits()
    with Store(tmp_path / "s.db") as store:
        open_study(store, "s", wl, 3, 0, None)
        config = RandomSampler(wl.space, seed=5).ask_config()
        assert config is not None
        store.add_trial("s", config)  # epoch 1 recorded, its checkpoint gone
        store.record_value("s", 0, 1, 0.25, 0.1)
        result = run_search(wl, RandomSampler(wl.space, seed=0), NeverStop(), store, study="s",
                            trials=1, epochs=3, workers=1, seed=0)
        trial = store.trials("s")[0]
    assert trial.state is TrialState.COMPLETE and [e for e, _, _ in trial.values] == [1, 2, 3]
    assert len(result.progress.notices) == 1
    assert "t0: no checkpoint after epoch 1" in result.progress.notices[0]
    assert result.progress.notices[0].endswith("restarted from epoch 0")


def test_the_command_line_says_a_trial_restarted(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from curvecast.workloads import DigitsMetaQNN

    wl, db, marker = DigitsMetaQNN(), tmp_path / "s.db", tmp_path / "pwned"
    with Store(db) as store:
        open_study(store, "search", wl, 2, 1, None)  # as `search --epochs 2 --seed 1` makes it
        config = RandomSampler(wl.space, seed=5).ask_config()
        assert config is not None
        store.add_trial("search", config)
        store.record_value("search", 0, 1, 0.25, 0.1)
        plant(store.checkpoint_folder("search") / "t0-e1.ckpt", marker)
    result = CliRunner().invoke(app, ["search", "--workload", "digits-metaqnn", "--trials", "1",
                                      "--epochs", "2", "--workers", "1", "--stopper", "never",
                                      "--storage", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.stderr
    assert not marker.exists()
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: t0: {db}.checkpoints/study-1/t0-e1.ckpt: unreadable checkpoint "
                        "(it holds more than tensors, numbers and strings; it was not loaded); "
                        "restarted from epoch 0"]
    assert "1 complete, 0 stopped early, 0 failed" in result.stdout


def test_checkpoints_live_under_the_study_id_never_its_name(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "s.db"
    db.parent.mkdir(parents=True)
    wl = SGDDigits()
    name = "../../escape/" + "x" * 180  # 193 characters: accepted, and stays inside the store
    with Store(db) as store:
        result = run_search(wl, RandomSampler(wl.space, seed=0), NeverStop(), store, study=name,
                            trials=1, epochs=2, workers=1, seed=0)
        assert store.checkpoint_folder(name) == db.parent / "s.db.checkpoints" / "study-1"
    assert result.progress.complete == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    assert sorted(p.name for p in db.parent.iterdir())[:2] == ["s.db", "s.db.checkpoints"]


@pytest.mark.parametrize(("name", "fragment"), [
    ("x" * 10_000, "at most 200 characters, got 10000"),
    ("", "must not be empty"),
    ("a\nb", "control character '\\n'"),
])
def test_a_bad_study_name_is_refused_before_anything_is_written(tmp_path: Path, name: str,
                                                                fragment: str) -> None:
    db = tmp_path / "s.db"
    result = CliRunner().invoke(app, ["search", "--workload", "digits-metaqnn", "--trials", "1",
                                      "--epochs", "1", "--storage", f"sqlite:///{db}",
                                      "--study", name])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error:")
    assert fragment in result.stderr
    assert list(tmp_path.iterdir()) == []


def _children(pid: int) -> list[int]:
    """Pids of the processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


#: A search with two worker processes that train for minutes (the tiny SGD workload, many trials).
SEARCH = """
import sys
sys.path.insert(0, sys.argv[1])
from sgd_workload import SGDDigits
from curvecast.execution.live import run_search
from curvecast.search import RandomSampler
from curvecast.stopping import NeverStop
from curvecast.store import Store

workload = SGDDigits()
with Store(sys.argv[2]) as store:
    run_search(workload, RandomSampler(workload.space, seed=0), NeverStop(), store, study="o",
               trials=10_000, epochs=50, workers=2)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_kill_9_of_a_search_takes_its_workers_along(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    proc = subprocess.Popen([sys.executable, "-c", SEARCH, str(TESTS), str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _children(proc.pid)  # two trainers and the resource tracker
        if len(workers) >= 3 and db.exists():  # mid-training: trials have recorded epochs
            with Store(db) as store:
                if "o" in store.study_names() and sum(len(t.values) for t in store.trials("o")) > 20:
                    break
        time.sleep(0.2)
    assert len(workers) >= 3, f"the search did not start its workers ({workers})"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    while any(_alive(w) for w in workers) and time.monotonic() - killed < 10:
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    assert not left, f"still alive {time.monotonic() - killed:.1f} s after kill -9: {left}"
    assert time.monotonic() - killed < 5


def test_two_quick_ctrl_c_end_a_search_and_its_workers_at_once(tmp_path: Path) -> None:
    """A review (stop 35): a second Ctrl-C while the worker pool waited for the epochs in
    flight deadlocked its shutdown, the search hung and both workers stayed alive.  The pool now
    stops its workers at the first Ctrl-C (what they would finish is not recorded anyway).  A
    guard: this workload's epochs are too short for the old wait to lose the race here (the
    search's exit after one Ctrl-C on digits-metaqnn went from 1.2–1.5 s to 0.33 s)."""
    db = tmp_path / "i.db"
    proc = subprocess.Popen([sys.executable, "-c", SEARCH.replace('study="o"', 'study="i"'),
                             str(TESTS), str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _children(proc.pid)
        if len(workers) >= 3 and db.exists():
            with Store(db) as store:
                if "i" in store.study_names() and sum(len(t.values) for t in store.trials("i")) > 20:
                    break
        time.sleep(0.2)
    assert len(workers) >= 3, f"the search did not start its workers ({workers})"
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the search still ran 10 s after two Ctrl-C") from None
    stopped = time.monotonic()
    while any(_alive(w) for w in workers) and time.monotonic() - stopped < 5:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]


def test_a_link_planted_at_a_checkpoint_is_replaced_not_followed(tmp_path: Path) -> None:
    """A security review: a link planted in a shared checkpoints folder, at the name of the next
    checkpoint (``t0-e1.ckpt`` → ``~/.bashrc``), made the search overwrite the file it points
    to with the checkpoint; the link is replaced now, and its target left as it was.  A named
    pipe planted there (a checkpoint written into it would block the search for ever) is
    replaced too."""
    pytest.importorskip("torch")
    from curvecast.workloads import DigitsMetaQNN

    wl = DigitsMetaQNN()
    config = RandomSampler(wl.space, seed=5).ask_config()
    assert config is not None
    run = wl.start(config, seed=0, epochs=2)
    run.train_epoch()
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file")
    folder = tmp_path / "s.db.checkpoints" / "study-1"
    folder.mkdir(parents=True)
    (folder / "t0-e1.ckpt").symlink_to(victim)
    run.save_checkpoint(folder / "t0-e1.ckpt")
    assert victim.read_text() == "the user's own file"
    assert not (folder / "t0-e1.ckpt").is_symlink()
    assert wl.resume(folder / "t0-e1.ckpt").epochs_done == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db.checkpoints", "victim.txt"]
    os.mkfifo(folder / "t0-e2.ckpt")
    run.save_checkpoint(folder / "t0-e2.ckpt")  # (wrote into the pipe: blocked for ever)
    assert (folder / "t0-e2.ckpt").is_file()


def test_a_link_planted_at_a_collect_partial_file_is_replaced_not_followed(
        tmp_path: Path) -> None:
    """The same review, for ``collect``'s partial files (``<out>.partial/<id>.json``, the values
    so far, beside the output in a folder others may write)."""
    from curvecast.execution.collect import collect

    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file")
    partial = tmp_path / "c.parquet.partial"
    partial.mkdir()
    (partial / "s0-00000.json").symlink_to(victim)
    result = collect(SGDDigits(), n_configs=1, epochs=2, seed=0, out=tmp_path / "c.parquet")
    assert result.curves.n_configs == 1
    assert victim.read_text() == "the user's own file"


def test_a_checkpoint_that_is_no_regular_file_is_refused_not_read(tmp_path: Path) -> None:
    """A security review: a named pipe planted at a trial's checkpoint made the search that
    resumed the trial wait for ever on reading it; it is refused (and the trial restarted),
    as an unreadable checkpoint is."""
    pytest.importorskip("torch")
    import threading

    from curvecast.workloads import CheckpointError, DigitsMetaQNN

    pipe = tmp_path / "t0-e1.ckpt"
    os.mkfifo(pipe)
    raised: list[BaseException] = []

    def resume() -> None:
        try:
            DigitsMetaQNN().resume(pipe)
        except BaseException as err:  # (the test reads it)
            raised.append(err)

    reader = threading.Thread(target=resume, daemon=True)
    reader.start()
    reader.join(30)
    if reader.is_alive():  # let the blocked reader go before failing
        with open(pipe, "wb"):
            pass
        pytest.fail("resume read from a named pipe and waited")
    assert len(raised) == 1 and isinstance(raised[0], CheckpointError), raised
    assert "not a regular file" in str(raised[0])


def test_a_file_of_curvecasts_own_replaces_a_link_at_its_name_but_a_linked_folder_is_used(
        tmp_path: Path) -> None:
    """A review of the security review: ``follow_links=False`` replaces only a link planted at
    the file's own name; a checkpoint folder (or a cache folder) that is a link to a bigger disk
    is written into, as before."""
    from curvecast.curves.atomic_write import write_text_atomically

    disk = tmp_path / "disk"
    disk.mkdir()
    (tmp_path / "ckpts").symlink_to(disk, target_is_directory=True)
    written = write_text_atomically(tmp_path / "ckpts" / "t0-e1.ckpt", "a", follow_links=False)
    assert (disk / "t0-e1.ckpt").read_text() == "a" and written == tmp_path / "ckpts" / "t0-e1.ckpt"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (disk / "t0-e2.ckpt").symlink_to(victim)
    write_text_atomically(tmp_path / "ckpts" / "t0-e2.ckpt", "b", follow_links=False)
    assert victim.read_text() == "keep"
    assert not (disk / "t0-e2.ckpt").is_symlink() and (disk / "t0-e2.ckpt").read_text() == "b"
    assert sorted(p.name for p in disk.iterdir()) == ["t0-e1.ckpt", "t0-e2.ckpt"]  # no temp left


def test_figure_and_terminal_text_keep_line_breaks_and_tabs() -> None:
    """A review of the security review: only control characters but the line feed and the tab
    are escaped (figure titles with a line break stay two lines)."""
    from curvecast.report.plot_text import literal, printable

    assert printable("a\nb\tc") == "a\nb\tc"
    assert literal("x $1\ny") == "x \\$1\ny"
    assert printable("a\r\nb\x1b]0;t\x07") == "a\\r\nb\\x1b]0;t\\x07"
