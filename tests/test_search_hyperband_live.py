"""Hyperband with real training (`curvecast search --searcher hyperband`): the replay simulator's
scheduler, unchanged, over the tiny SGD workload — budgets, pauses, resume after kill -9."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sgd_workload
from curvecast import CurveSet
from curvecast.execution.live_hyperband import StudyBusyError, run_scheduled_search
from curvecast.execution.replay import replay_schedule
from curvecast.search import FHyperband, Hyperband, RandomSampler, Searcher, hyperband_brackets
from curvecast.store import Store, TrialState, worker_id
from sgd_workload import SGDDigits

TESTS = Path(__file__).resolve().parent
T, ETA, SEED = 9, 3.0, 5
PLANS = hyperband_brackets(T, ETA)
CONFIGS = sum(plan.rungs[0].n for plan in PLANS)  # one Hyperband iteration: 9 + 5 + 3
EPOCHS = sum(plan.epochs for plan in PLANS)  # 21 + 21 + 27


class InOrder(Searcher):
    """Proposes t0, t1, … in order (the order the live search draws its configs)."""

    def __init__(self, n: int) -> None:
        self.n, self.next = n, 0

    def ask(self) -> str | None:
        if self.next >= self.n:
            return None
        self.next += 1
        return f"t{self.next - 1}"

    def tell(self, config_id: str, value: float, predicted: bool) -> None:
        pass


@pytest.fixture
def trained(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every epoch trained in this process (checkpoint-resumed runs included)."""
    epochs: list[int] = []
    original = sgd_workload._Run.train_epoch

    def counting(self: sgd_workload._Run) -> Any:
        result = original(self)
        epochs.append(result.epoch)
        return result

    monkeypatch.setattr(sgd_workload._Run, "train_epoch", counting)
    return epochs


def run(db: Path, study: str = "hb", *, trials: int = CONFIGS, epochs: int = T,
        **kwargs: Any) -> Any:
    workload = SGDDigits()
    with Store(db) as store:
        return run_scheduled_search(workload, RandomSampler(workload.space, seed=SEED),
                                    lambda s: Hyperband(s, eta=ETA), store, study=study,
                                    trials=trials, epochs=epochs, seed=SEED, **kwargs)


def full_curves(configs: list[dict[str, Any]]) -> CurveSet:
    """Each config trained to T in one go, with the seed the search gives its trial."""
    workload = SGDDigits()
    rows = []
    for n, c in enumerate(configs):
        training = workload.start(c, seed=SEED * 1_000_003 + n, epochs=T)
        rows.append([training.train_epoch().value for _ in range(T)])
    values = np.array(rows)
    ids = [f"t{n}" for n in range(len(configs))]
    return CurveSet(values=values, observed=np.ones(values.shape, dtype=bool),
                    epochs=np.arange(1, T + 1), metric=workload.metric,
                    direction=workload.direction, configs=pd.DataFrame(configs, index=ids))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The trials of an uninterrupted search, one worker."""
    db = tmp_path_factory.mktemp("reference") / "r.db"
    run(db, study="k")
    with Store(db) as store:
        return store.trials("k")


def outcome(trials: list[Any]) -> list[tuple[TrialState, list[float]]]:
    return [(t.state, [v for _, v, _ in t.values]) for t in trials]


def show_json(db: Path, study: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "curvecast.cli", "show", "--storage",
                           f"sqlite:///{db}", "--study", study, "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def test_live_hyperband_trains_the_bracket_budget_like_its_replay(tmp_path: Path,
                                                                  trained: list[int]) -> None:
    result = run(tmp_path / "h.db")
    with Store(tmp_path / "h.db") as store:
        trials = store.trials("hb")
    assert len(trials) == CONFIGS == 17 and EPOCHS == 69
    # Li et al.'s bracket arithmetic, and every epoch trained once (paused runs resumed)
    assert sum(len(t.values) for t in trials) == EPOCHS
    assert len(trained) == EPOCHS
    # the same scheduler replayed over the same configs' full curves makes the same schedule
    curves = full_curves([t.config for t in trials])
    replayed = replay_schedule(curves, Hyperband(InOrder(CONFIGS), eta=ETA))
    assert {r.config_id: r.epochs for r in replayed.trials} == {
        f"t{t.number}": len(t.values) for t in trials}
    for t in trials:
        epochs = [e for e, _, _ in t.values]
        assert epochs == list(range(1, len(epochs) + 1))  # continuous, no epoch twice
        # a paused run continued its curve: the values of one uninterrupted training
        np.testing.assert_allclose([v for _, v, _ in t.values],
                                   curves.values[t.number, : len(epochs)])
        assert t.state is (TrialState.COMPLETE if len(epochs) == T else TrialState.STOPPED)
        # paused at each rung end it passed, then promoted; stopped when not promoted
        actions = ",".join(d.action for d in t.decisions)
        assert re.fullmatch(r"(pause,promote,?)*" + ("(pause,)?stop" if len(epochs) < T else ""),
                            actions), actions
        assert {d.epoch for d in t.decisions if d.action == "promote"} <= {1, 3}
    assert result.progress.complete == sum(len(t.values) == T for t in trials) == 5
    assert result.best_config is not None


def test_interrupted_study_shows_paused_trials_and_resumes(tmp_path: Path,
                                                           trained: list[int]) -> None:
    db = tmp_path / "i.db"

    def interrupt(progress: Any) -> None:
        if progress.epochs_used >= 12:  # in bracket 0's second rung: its best 3 paused
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(db, on_progress=interrupt)
    shown = show_json(db, "hb")
    states = [t["state"] for t in shown["trials"]]
    assert "paused" in states and "stopped" in states
    assert all(t["decisions"][-1]["action"] == "pause" for t in shown["trials"]
               if t["state"] == "paused")
    recorded = sum(len(t["values"]) for t in shown["trials"])
    del trained[:]
    run(db)
    with Store(db) as store:
        trials = store.trials("hb")
    assert sum(len(t.values) for t in trials) == EPOCHS
    assert len(trained) == EPOCHS - recorded  # nothing recorded was trained again
    assert {t["state"] for t in show_json(db, "hb")["trials"]} == {"complete", "stopped"}


def test_a_trials_budget_ending_mid_bracket_promotes_a_third_and_resumes_alike(
        tmp_path: Path, trained: list[int]) -> None:
    """A review: ``--trials 4`` gave bracket s = 2 (planned for 9 configs) 4 configs and it still
    promoted the planned 3 of them to epoch 3 (16 epochs); successive halving keeps
    max(1, ⌊4/3⌋) = 1 (12 epochs), and an interrupted study resumes to the same decisions."""
    run(tmp_path / "clean.db", trials=4)
    with Store(tmp_path / "clean.db") as store:
        clean = store.trials("hb")
    assert sorted(len(t.values) for t in clean) == [1, 1, 1, T]
    assert len(trained) == 4 + 2 + 6  # every epoch trained once
    (winner,) = [t for t in clean if len(t.values) == T]
    assert winner.values[0][1] == max(t.values[0][1] for t in clean)  # the best after epoch 1

    def interrupt(progress: Any) -> None:
        if progress.epochs_used >= 5:  # rung 0 done, the promoted config paused mid-rung 1
            raise KeyboardInterrupt

    db = tmp_path / "i.db"
    with pytest.raises(KeyboardInterrupt):
        run(db, trials=4, on_progress=interrupt)
    run(db, trials=4)
    with Store(db) as store:
        resumed = store.trials("hb")
    assert outcome(resumed) == outcome(clean)
    assert [[d.action for d in t.decisions] for t in resumed] == [
        [d.action for d in t.decisions] for t in clean]


#: One process of a study: the SGD workload, slowed down so a test can kill it mid-run.
WORKER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import sgd_workload
from sgd_workload import SGDDigits
from curvecast.execution.live_hyperband import run_scheduled_search
from curvecast.search import Hyperband, RandomSampler
from curvecast.store import Store

trained = []
original = sgd_workload._Run.train_epoch

def slow(self):
    time.sleep(float(sys.argv[3]))
    result = original(self)
    trained.append(result.epoch)
    return result

sgd_workload._Run.train_epoch = slow
workload = SGDDigits()
with Store(sys.argv[2]) as store:
    run_scheduled_search(workload, RandomSampler(workload.space, seed=int(sys.argv[4])),
                         lambda s: Hyperband(s, eta=3), store, study="k",
                         trials=int(sys.argv[5]), epochs=int(sys.argv[6]), seed=int(sys.argv[4]))
print(json.dumps({"epochs_trained": len(trained)}))
"""


def worker(db: Path, sleep: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", WORKER, str(TESTS), str(db), str(sleep),
                             str(SEED), str(CONFIGS), str(T)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_mid_run_then_rerun_loses_nothing_and_retrains_nothing(
        tmp_path: Path, reference: list[Any]) -> None:
    db = tmp_path / "k.db"
    proc = worker(db, sleep=0.05)
    deadline = time.monotonic() + 120
    before: list[Any] = []
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with Store(db) as store:
                    before = store.trials("k")
            except KeyError:  # the study is not created yet
                before = []
            paused = any(t.state is TrialState.PAUSED for t in before)
            if paused and sum(len(t.values) for t in before) >= 25:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Store(db) as store:
        before = store.trials("k")
    recorded = sum(len(t.values) for t in before)
    assert 25 <= recorded < EPOCHS, f"could not catch the search mid-run ({recorded} epochs)"
    rerun = worker(db, sleep=0.0)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    with Store(db) as store:
        after = store.trials("k")
        assert store.get_study_state("k", "scheduler_owner") is None
    for t in before:  # every recorded value kept, with the seconds it was recorded with
        assert after[t.number].values[: len(t.values)] == t.values
    assert sum(len(t.values) for t in after) == EPOCHS
    assert json.loads(out.strip().splitlines()[-1])["epochs_trained"] == EPOCHS - recorded
    # the schedule is the one an uninterrupted search makes (same seed, same curves)
    assert outcome(after) == outcome(reference)


@pytest.mark.slow  # two worker pools, each worker importing torch: ~25 s on 2 loaded cores
def test_parallel_jobs_resume_to_the_same_schedule(tmp_path: Path) -> None:
    """Two jobs at once (Li et al.'s parallel Hyperband) in worker processes, interrupted and
    resumed: each config trains the epochs of its bracket, as with one worker (R = 3: brackets
    of 3 configs at 1 epoch → 1 at 3, and 2 configs at 3 epochs; 11 epochs)."""
    small: dict[str, Any] = {"trials": 5, "epochs": 3}
    run(tmp_path / "one.db", **small)
    with Store(tmp_path / "one.db") as store:
        reference = store.trials("hb")

    def interrupt(progress: Any) -> None:
        if progress.epochs_used >= 4:
            raise KeyboardInterrupt

    db = tmp_path / "p.db"
    with pytest.raises(KeyboardInterrupt):
        run(db, workers=2, on_progress=interrupt, **small)
    result = run(db, workers=2, **small)
    with Store(db) as store:
        trials = store.trials("hb")
    assert outcome(trials) == outcome(reference)
    assert sum(len(t.values) for t in trials) == 11
    for t in trials:
        assert [e for e, _, _ in t.values] == list(range(1, len(t.values) + 1))
    assert result.progress.complete == 3


def test_a_second_process_gets_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    workload = SGDDigits()
    with Store(db) as store:  # a live process (this one) runs the study
        store.create_study("busy", metric=workload.metric, direction=workload.direction,
                           settings={"workload": workload.name, "epochs": T, "seed": SEED,
                                     "scheduler": "hyperband"})
        store.set_study_state("busy", "scheduler_owner", {"worker": worker_id(),
                                                          "heartbeat": time.time()})
    # the same process under another token stands for another live process: use a child's id
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        other = f"{worker_id().rsplit(':', 2)[0]}:{child.pid}:cafe"
        with Store(db) as store:
            store.set_study_state("busy", "scheduler_owner", {"worker": other,
                                                              "heartbeat": time.time()})
        with pytest.raises(StudyBusyError, match="is being run by process"):
            run(db, study="busy")
    finally:
        child.kill()
        child.wait()
    # a FIFO search cannot take over a Hyperband study's paused trials either
    from curvecast.execution.live import run_search
    from curvecast.stopping import NeverStop

    with Store(db) as store, pytest.raises(ValueError, match="scheduler 'hyperband'"):
        run_search(workload, RandomSampler(workload.space), NeverStop(), store, study="busy",
                   trials=2, epochs=T, seed=SEED)


def test_cli_second_process_exits_2_with_one_line(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with Store(db) as store:
            store.create_study("busy", metric="val_accuracy", direction="maximize",
                               settings={"workload": "digits-metaqnn", "epochs": 3, "seed": 1,
                                         "scheduler": "hyperband"})
            store.set_study_state("busy", "scheduler_owner", {
                "worker": f"{worker_id().rsplit(':', 2)[0]}:{child.pid}:cafe",
                "heartbeat": time.time()})
        proc = subprocess.run([sys.executable, "-m", "curvecast.cli", "search", "--workload",
                               "digits-metaqnn", "--searcher", "hyperband", "--trials", "3",
                               "--epochs", "3", "--workers", "1", "--storage",
                               f"sqlite:///{db}", "--study", "busy", "--seed", "1"],
                              capture_output=True, text=True, timeout=120)
    finally:
        child.kill()
        child.wait()
    assert proc.returncode == 2, proc.stderr
    assert "is being run by process" in proc.stderr and "Traceback" not in proc.stderr
    assert "one process" in proc.stderr


def test_fhyperband_stops_inside_rungs_and_resumes_its_journal(tmp_path: Path,
                                                               trained: list[int]) -> None:
    def fhyperband(db: Path, **kwargs: Any) -> None:
        workload = SGDDigits()
        with Store(db) as store:
            run_scheduled_search(workload, RandomSampler(workload.space, seed=SEED),
                                 lambda s: FHyperband(s, eta=ETA, min_curves=6, delta=0.6),
                                 store, study="f", trials=CONFIGS, epochs=T, seed=SEED, **kwargs)

    def interrupt(progress: Any) -> None:
        if progress.epochs_used >= 40:  # after the predictive stops of bracket 1
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fhyperband(tmp_path / "f.db", on_progress=interrupt)
    fhyperband(tmp_path / "f.db")
    fhyperband(tmp_path / "clean.db")
    with Store(tmp_path / "f.db") as store:
        resumed = store.trials("f")
    with Store(tmp_path / "clean.db") as store:
        clean = store.trials("f")
    # nothing recorded was trained twice (the interrupt may cut one epoch in flight, in-process)
    assert 0 <= len(trained) - 2 * sum(len(t.values) for t in clean) <= 1
    assert [(t.state, [v for _, v, _ in t.values], t.predicted_value) for t in resumed] == [
        (t.state, [v for _, v, _ in t.values], t.predicted_value) for t in clean]
    judged = [t for t in clean if any(d.probability is not None for d in t.decisions)]
    assert judged, "f-Hyperband made no prediction"
    for t in judged:  # stopped inside its rung by prediction: mean, std and probability kept
        stop = t.decisions[-1]
        assert t.state is TrialState.STOPPED and stop.action == "stop"
        assert stop.probability is not None and stop.probability >= 0.6
        # the mean predicts the rung's end, not the final value: the stored value is the one
        # the searcher was told (the last observed), and `show` leaves "predicted" empty
        assert t.predicted_value == t.values[-1][1] != stop.mean
    assert sum(len(t.values) for t in clean) < EPOCHS


def test_cli_fhyperband_prior_warm_starts_the_rung_predictors(tmp_path: Path) -> None:
    from curvecast.predictors import SRM
    from curvecast.registry import Context, Settings
    from curvecast.registry.search_plan import scheduler_factory

    workload = SGDDigits()
    prior_configs = [RandomSampler(workload.space, seed=99).ask_config() for _ in range(12)]
    prior = full_curves([{**c, **workload.describe(c)} for c in prior_configs if c])
    settings = Settings(seed=SEED, delta=0.6, min_curves=6)
    context = Context(predictor=SRM(), prior=prior, epochs=T)
    factory = scheduler_factory("fhyperband", settings, context)
    sampler = RandomSampler(workload.space, seed=SEED)
    with Store(tmp_path / "w.db") as store:
        run_scheduled_search(workload, sampler, factory, store, study="w", trials=9, epochs=T,
                             seed=SEED)
        trials = store.trials("w")
    # only bracket 0 ran (9 configs); its rungs were judged from the start by the prior's SRMs
    assert any(d.probability is not None for t in trials for d in t.decisions)
    assert sum(len(t.values) for t in trials) < PLANS[0].epochs
    with pytest.raises(ValueError, match="--prior warm-starts a predictor"):
        scheduler_factory("hyperband", settings, context)


def test_a_finished_study_run_with_another_budget_is_refused_and_left_as_it_was(
        tmp_path: Path) -> None:
    """A user's review (stop 31): a finished Hyperband study run again with a larger --trials
    was refused ("its recorded schedule does not replay", naming no option) after its replay had
    already added the new configs as PENDING trials, which stayed in the study for good.  The
    replay is one transaction now, and the message names --trials."""
    workload = SGDDigits()

    shown: list[object] = []

    def search(trials: int) -> Any:
        with Store(tmp_path / "h.db") as store:
            return run_scheduled_search(workload, RandomSampler(workload.space, seed=SEED),
                                        lambda s: Hyperband(s, eta=3), store, study="h",
                                        trials=trials, epochs=9, seed=SEED,
                                        on_progress=shown.append)

    search(20)
    with Store(tmp_path / "h.db") as store:
        before = [(t.number, t.state) for t in store.trials("h")]
    shown.clear()
    with pytest.raises(ValueError, match=r"does not replay .*--trials among them"):
        search(30)
    assert shown == []  # refused before any progress is shown (stop 32's review: a line first)
    with Store(tmp_path / "h.db") as store:
        assert [(t.number, t.state) for t in store.trials("h")] == before
        assert TrialState.PENDING not in {state for _, state in before}


def test_the_heartbeat_keeps_a_live_runners_claim_through_a_long_epoch(tmp_path: Path) -> None:
    """A review (stop 36): a Hyperband runner's claim on its study was refreshed only by
    journaled events, so after 120 s (the grace) of one long epoch a second process of the same
    study took it over from the live runner, and its release then cleared the runner's claim.
    Now the heartbeat thread refreshes the claim, and a release leaves another's claim alone."""
    from functools import partial
    from types import SimpleNamespace

    from curvecast.execution.heartbeat import Heartbeat
    from curvecast.execution.resume import beat_owner, claim_study, release_study
    from curvecast.store import worker_alive

    db = tmp_path / "h.db"
    me = worker_id()
    with Store(db) as store:
        store.create_study("long", metric="acc", direction="maximize", settings={"epochs": 3})
        store.set_study_state("long", "scheduler_owner", {"worker": me,
                                                          "heartbeat": time.time() - 1000})
    with Heartbeat(db, me, 0.05, also=partial(beat_owner, study="long", worker=me)):
        time.sleep(0.4)
    with Store(db) as store:
        owner = store.get_study_state("long", "scheduler_owner")
        assert owner["worker"] == me and time.time() - owner["heartbeat"] < 5
        assert worker_alive(owner["worker"], owner["heartbeat"], grace=120)
        other = SimpleNamespace(store=store, study="long", worker="elsewhere:1:beef")
        with pytest.raises(StudyBusyError, match="is being run by process"):
            claim_study(other, 120, "hyperband")  # type: ignore[arg-type]
        release_study(other)  # type: ignore[arg-type]
        assert store.get_study_state("long", "scheduler_owner")["worker"] == me
