"""Two OS processes run one study against one SQLite file: the store decides who trains what."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from curvecast.store import Store, StoredTrial, TrialState

TESTS = Path(__file__).resolve().parent
TRIALS, EPOCHS = 14, 4

#: One process of the study: the tiny SGD workload (a short sleep per epoch, so the two processes
#: overlap), a shared random sampler and the median rule, which judges trials of both processes.
#: With ``die_at`` > 0 the process kills itself (SIGKILL, no clean-up) as it starts to train an
#: epoch of a trial that has recorded values, once it has trained ``die_at`` epochs: mid-trial.
WORKER = """
import json, os, signal, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from sgd_workload import SGDDigits, _Run
from curvecast.execution.live import run_search
from curvecast.search import RandomSampler
from curvecast.stopping import MedianRule
from curvecast.store import Store, worker_id

trained = []
DIE_AT = int(sys.argv[9])

class SlowRun(_Run):
    def train_epoch(self):
        if DIE_AT and self.done >= 1 and len(trained) >= DIE_AT:
            # what this run had recorded, for the test to find its trial by (the survivor may
            # claim it before the test can read the database)
            Path(sys.argv[5] + ".dying").write_text(json.dumps(
                {"config": self.config, "values": self.__dict__.get("mine", [])}))
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(float(sys.argv[6]))
        result = super().train_epoch()
        trained.append(result.epoch)
        self.__dict__.setdefault("mine", []).append(result.value)
        return result

class SlowDigits(SGDDigits):
    def start(self, config, *, seed, epochs, device=None):
        return SlowRun(config, seed, epochs)

db, study, go, ready = sys.argv[2], sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5])
ready.write_text(worker_id())
while not go.exists():  # start both searches at the same moment
    time.sleep(0.01)
workload = SlowDigits()
with Store(db) as store:
    result = run_search(workload, RandomSampler(workload.space, seed=7),
                        MedianRule(min_complete=3), store, study=study, trials=int(sys.argv[7]),
                        epochs=int(sys.argv[8]), heartbeat=0.5, grace=30.0)
print(json.dumps({"worker": worker_id(), "finished": time.time(), "epochs_trained": len(trained),
                  "trials": result.trials, "complete": result.progress.complete,
                  "stopped": result.progress.stopped}))
"""


def start_two(tmp_path: Path, study: str, sleep: float, die_at: tuple[int, int] = (0, 0)
              ) -> tuple[Path, list[subprocess.Popen[str]], list[str]]:
    """Start two search processes on one database (process k killing itself mid-trial after
    ``die_at[k]`` epochs, 0: never); returns it, the processes and their worker ids, once both are
    ready and released together."""
    db, go = tmp_path / "shared.db", tmp_path / "go"
    ready = [tmp_path / f"ready{k}" for k in range(2)]
    args = [sys.executable, "-c", WORKER, str(TESTS), str(db), study, str(go)]
    procs = [subprocess.Popen([*args, str(r), str(sleep), str(TRIALS), str(EPOCHS), str(die)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r, die in zip(ready, die_at, strict=True)]
    deadline = time.monotonic() + 60
    while not all(r.exists() and r.read_text() for r in ready):
        assert time.monotonic() < deadline, "the search processes did not start"
        assert all(p.poll() is None for p in procs), [p.communicate()[1] for p in procs]
        time.sleep(0.02)
    go.touch()
    return db, procs, [r.read_text() for r in ready]


def finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return dict(json.loads(out.strip().splitlines()[-1]))


def check_curves(trials: list[StoredTrial]) -> None:
    """The budget is met exactly, every trial ended, no config ran twice, and every curve is
    epochs 1..k without a gap (k = T for a complete trial, fewer for a stopped one)."""
    assert [t.number for t in trials] == list(range(TRIALS))
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.STOPPED}
    configs = [json.dumps(t.config, sort_keys=True) for t in trials]
    assert len(set(configs)) == TRIALS, "a config was proposed twice"
    for t in trials:
        epochs = [e for e, _, _ in t.values]
        assert epochs == list(range(1, len(epochs) + 1)), (t.number, epochs)
        assert (len(epochs) == EPOCHS) == (t.state is TrialState.COMPLETE), (t.number, epochs)


def stop_counts(trials: list[StoredTrial], worker: str) -> list[int]:
    """For each stop of ``worker``, the number of complete trials its median rule judged by."""
    return [int(m.group(1)) for t in trials if t.worker == worker for d in t.decisions
            if d.action == "stop" and (m := re.search(r"of (\d+) running averages", d.reason))]


def own_complete(trials: list[StoredTrial], worker: str) -> int:
    return sum(t.state is TrialState.COMPLETE and t.worker == worker for t in trials)


def show_json(db: Path, study: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "curvecast.cli", "show", "--storage",
                           f"sqlite:///{db}", "--study", study, "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def test_two_processes_share_one_study(tmp_path: Path) -> None:
    db, procs, workers = start_two(tmp_path, "duo", sleep=0.03)
    results = [finish(p) for p in procs]
    with Store(db) as store:
        trials = store.trials("duo")
    check_curves(trials)
    assert {t.worker for t in trials} == set(workers), "the trials were not spread over both"
    # no epoch was trained twice: the processes trained exactly the recorded epochs
    assert sum(r["epochs_trained"] for r in results) == sum(len(t.values) for t in trials)
    # the stopper's history holds the other process's trials: some process stopped a trial by
    # the median of more complete trials than it ever completed itself
    assert any(t.state is TrialState.STOPPED for t in trials)
    assert any(max(stop_counts(trials, w), default=0) > own_complete(trials, w) for w in workers)
    # the process that finished last reports the study as `curvecast show --json` does
    last = max(results, key=lambda r: r["finished"])
    shown = show_json(db, "duo")["trials"]
    assert [(t["number"], t["state"], t["epochs"], t["final"], t["predicted"], t["test"])
            for t in last["trials"]] == [
        (t["number"], t["state"], len(t["values"]), t["values"][-1][1], t["predicted_value"],
         t["test_value"]) for t in shown]
    assert last["complete"] + last["stopped"] == TRIALS


def test_a_killed_process_trial_is_finished_by_the_other(tmp_path: Path) -> None:
    """The victim is killed (SIGKILL) mid-trial, as it starts its third epoch of training: by
    itself, so that the moment is certain (a test that raced to freeze and kill it from outside
    missed it under CI's load, twice)."""
    db, (keeper, victim), (keeper_id, _) = start_two(tmp_path, "kill", sleep=0.1,
                                                     die_at=(0, 3))
    _, err = victim.communicate(timeout=120)
    assert victim.returncode == -signal.SIGKILL, err
    dying = json.loads((tmp_path / "ready1.dying").read_text())
    assert dying["values"], "the victim died in a trial without values"
    finish(keeper)
    with Store(db) as store:
        trials = store.trials("kill")
    check_curves(trials)
    taken = next(t for t in trials if t.config == dying["config"])
    # the survivor claimed the dead process's trial (a CI run read the database after the
    # survivor had already claimed it: the dying file names it instead) …
    assert taken.worker == keeper_id
    assert [v for _, v, _ in taken.values[: len(dying["values"])]] == dying["values"]  # … kept


def _sigint_handler() -> str:
    import signal

    return repr(signal.getsignal(signal.SIGINT))


def test_worker_processes_ignore_ctrl_c_from_birth() -> None:
    """A user's review (stop 29): Ctrl-C while the workers were still starting (a terminal sends
    it to every process of the job) printed a KeyboardInterrupt traceback per worker, before
    their initializer could ignore it.  A worker is started with SIGINT ignored (without the
    initializer, to see that alone), and the parent's handler is as it was."""
    import signal

    from curvecast.execution.epoch_task import local_executor

    before = signal.getsignal(signal.SIGINT)
    pool = local_executor(2)
    with pool:
        assert pool.submit(_sigint_handler).result(timeout=120) == repr(signal.SIG_IGN)
    assert signal.getsignal(signal.SIGINT) is before
    bare = type(pool)(max_workers=1, mp_context=pool._mp_context)  # type: ignore[attr-defined]
    with bare:
        assert bare.submit(_sigint_handler).result(timeout=120) == repr(signal.SIG_IGN)
