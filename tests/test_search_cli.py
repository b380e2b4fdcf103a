"""`curvecast search` end to end: real training, stopping, the store, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curvecast.store import Store, TrialState

pytest.importorskip("torch", reason="real training needs curvecast[torch]")


def curvecast(*args: str | Path, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "curvecast.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def search_args(db: Path, *extra: str) -> list[str]:
    return ["search", "--workload", "digits-metaqnn", "--epochs", "4", "--workers", "1",
            "--storage", f"sqlite:///{db}", "--seed", "3", *extra]


@pytest.fixture(scope="module")
def prior(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Curves of 10 digits configs (seed 0), recorded by `curvecast collect`."""
    out = tmp_path_factory.mktemp("prior") / "prior.parquet"
    proc = curvecast("collect", "--workload", "digits-metaqnn", "--configs", "10", "--epochs", "4",
                     "--seed", "0", "--out", out, "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    return out


def test_warm_started_search_stops_from_the_first_trials(tmp_path: Path, prior: Path) -> None:
    db = tmp_path / "s.db"
    proc = curvecast(*search_args(db, "--study", "warm", "--trials", "8", "--prior", prior,
                                  "--min-complete", "6", "--delta", "0.9"))
    assert proc.returncode == 0, proc.stderr
    assert "best: trial t" in proc.stdout and "speedup" in proc.stdout
    shown = json.loads(curvecast("show", "--storage", f"sqlite:///{db}", "--study", "warm",
                                 "--json").stdout)
    trials = shown["trials"]
    assert len(trials) == 8
    assert {t["state"] for t in trials} <= {"complete", "stopped"}
    # with 10 prior curves, the predictor judges the very first trial (after one completion)
    judged = [d for t in trials for d in t["decisions"] if d["mean"] is not None]
    assert judged, "the warm-started stopper made no prediction"
    assert all(0.0 <= d["probability"] <= 1.0 for d in judged)
    for t in trials:
        if t["state"] == "stopped":
            assert t["predicted_value"] is not None and len(t["values"]) < 4
            assert t["decisions"][-1]["action"] == "stop"
        else:
            assert [e for e, _ in t["values"]] == [1, 2, 3, 4] and t["test_value"] is not None
    # the study becomes a CurveSet, training data for the next search
    out = tmp_path / "export.parquet"
    assert curvecast("export", "--storage", f"sqlite:///{db}", "--study", "warm",
                     "--out", out).returncode == 0
    from curvecast import CurveSet

    cs = CurveSet.load(out)
    assert cs.n_configs == 8 and cs.n_epochs == 4
    listing = curvecast("studies", "--storage", f"sqlite:///{db}")
    assert "warm" in listing.stdout
    page = tmp_path / "report.html"
    assert curvecast("report", "--storage", f"sqlite:///{db}", "--study", "warm",
                     "--out", page).returncode == 0
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 3  # curves, cost, decisions: embedded
    assert text.count("<tr><td>t") == 8  # one row per trial
    assert "stopped early" in text and "speedup" in text


def test_kill_9_then_rerun_resumes_without_retraining(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    args = search_args(db, "--study", "k", "--trials", "6", "--stopper", "never")
    proc = subprocess.Popen([sys.executable, "-m", "curvecast.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    finished: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with Store(db) as store:
                    trials = store.trials("k")
                finished = [t.number for t in trials if t.state is TrialState.COMPLETE]
                mid = [t for t in trials if t.state is TrialState.RUNNING and t.values]
            except KeyError:  # the study is not created yet
                finished, mid = [], []
            if len(finished) >= 2 and mid:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= len(finished) < 6, f"could not catch the search mid-way ({finished})"
    with Store(db) as store:
        before = {t.number: t for t in store.trials("k")}
    rerun = curvecast(*args)
    assert rerun.returncode == 0, rerun.stderr
    with Store(db) as store:
        after = {t.number: t for t in store.trials("k")}
    assert sum(t.state is TrialState.COMPLETE for t in after.values()) == 6
    for number, t in before.items():
        # nothing recorded was lost or retrained: the recorded epochs keep their seconds
        assert after[number].values[: len(t.values)] == t.values
    # trials are numbered without gaps and none was started twice
    assert sorted(after) == list(range(len(after)))


def test_bad_search_arguments(tmp_path: Path, prior: Path) -> None:
    db = tmp_path / "e.db"
    for args, fragment in [
        (search_args(db, "--trials", "2", "--stopper", "sometimes"), "unknown stopper"),
        (search_args(db, "--trials", "2", "--stopper", "median", "--prior", prior),
         "--prior warm-starts the predictive stopper"),
        (search_args(db, "--trials", "0"), "--trials must be at least 1, got 0"),
        (search_args(db, "--trials", "2", "--sigma-model", "wide"),
         "sigma_model must be 'per_tau' or 'local', got 'wide'"),
        (["show", "--storage", f"sqlite:///{tmp_path}/none.db", "--study", "x"],
         "no such study database"),
    ]:
        proc = curvecast(*args)
        assert proc.returncode == 2, proc.stderr
        assert fragment in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(("workload", "searcher"), [("digits-metaqnn", "metaqnn"),
                                                    ("mnist1d-hp", "tpe")])
def test_searchers_drive_real_training_and_resume(tmp_path: Path, workload: str,
                                                  searcher: str) -> None:
    db = tmp_path / "q.db"
    base = ["search", "--workload", workload, "--searcher", searcher, "--epochs", "2",
            "--workers", "1", "--stopper", "never", "--storage", f"sqlite:///{db}",
            "--study", "q"]
    assert curvecast(*base, "--trials", "3").returncode == 0
    more = curvecast(*base, "--trials", "5")  # resumed: the searcher's state was saved
    assert more.returncode == 0, more.stderr
    with Store(db) as store:
        trials = store.trials("q")
        assert store.get_study_state("q", "searcher")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    assert len({json.dumps(t.config, sort_keys=True) for t in trials}) == 5
    # the report names the command that created the study and the one that ran it to 5 trials
    page_path = tmp_path / "q.html"
    shown = curvecast("report", "--storage", f"sqlite:///{db}", "--study", "q", "--out", page_path)
    assert shown.returncode == 0, shown.stderr
    page = page_path.read_text()
    created, rerun = page.index("--trials 3</code>"), page.index("--trials 5</code>")
    assert created < page.index("then run again by 1 command") < rerun


def test_the_summary_counts_trials_still_running_elsewhere(tmp_path: Path) -> None:
    """A user's review (stop 31): with two processes on one study, the first to finish printed
    its counts as if the study were done, leaving out the trial the other was still training."""
    db = tmp_path / "r.db"
    first = curvecast(*search_args(db, "--study", "r", "--trials", "2", "--stopper", "never",
                                   "--workload", "friedman-sgd"))
    assert first.returncode == 0, first.stderr
    with Store(db) as store:  # a trial another machine's search is training (fresh heartbeat)
        config = dict(store.trials("r")[0].config)
        store.add_trial("r", config, state=TrialState.RUNNING, worker="other-host:4242:abcd")
    again = curvecast(*search_args(db, "--study", "r", "--trials", "3", "--stopper", "never",
                                   "--workload", "friedman-sgd"))
    assert again.returncode == 0, again.stderr
    said = " ".join(again.stdout.split())
    assert "2 complete, 0 stopped early, 0 failed, 1 still running (in another process" in said
    # a review (stop 32): a rerun with fewer --trials than the study has said "3/2" and nothing
    fewer = curvecast(*search_args(db, "--study", "r", "--trials", "2", "--stopper", "never",
                                   "--workload", "friedman-sgd"))
    assert fewer.returncode == 0, fewer.stderr
    assert ("note: study 'r' already has 3 trials, at least --trials 2: no new trial is started"
            in " ".join(fewer.stderr.split()))


def test_an_old_checkpoint_that_cannot_be_deleted_is_a_notice_not_an_error(
        tmp_path: Path) -> None:
    """A review (stop 35): a checkpoint folder where an old checkpoint could not be deleted (a
    read-only folder; here a directory in the checkpoint's place) ended the search with a bare
    OSError once the trial finished; a stale file costs disk, not the search."""
    db = tmp_path / "s.db"
    stuck = tmp_path / "s.db.checkpoints" / "study-1" / "t0-e9.ckpt"
    stuck.mkdir(parents=True)
    (stuck / "keep").write_text("x")
    proc = curvecast(*search_args(db, "--trials", "2", "--epochs", "2", "--study", "c"))
    assert proc.returncode == 0, proc.stderr
    assert "warning: could not delete an old checkpoint of t0" in proc.stderr
    with Store(db) as store:
        assert [t.state for t in store.trials("c")] == [TrialState.COMPLETE] * 2
