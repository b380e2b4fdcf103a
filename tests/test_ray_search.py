"""`curvecast search --backend ray` with FIFO + a stopper: the one loop with every epoch a Ray task
on a local Ray (127.0.0.1 only), stopped by curvecast's stopper and recorded in the study database;
the command on a cluster started with `ray start --head`; and the command's one-line errors."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Ray reads this when it is imported: every Ray listener of this process binds 127.0.0.1 (as
# tests/test_ray_tune.py needs, whichever module imports ray first)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray", reason="the Ray backend needs curvecast[ray]")

from typer.testing import CliRunner  # noqa: E402

from curvecast import CurveSet  # noqa: E402
from curvecast.cli import app  # noqa: E402
from curvecast.execution import collect  # noqa: E402
from curvecast.execution.live import Progress  # noqa: E402
from curvecast.integrations.ray_backend import run_ray_search  # noqa: E402
from curvecast.predictors import SRM  # noqa: E402
from curvecast.search import RandomSampler  # noqa: E402
from curvecast.stopping import PredictiveStopper  # noqa: E402
from curvecast.store import Store, TrialState  # noqa: E402
from sgd_workload import SGDDigits  # noqa: E402

T = 4
#: Trials of the search.  With 8, whether any was stopped depended on the order in which the
#: two workers finished (one fresh-clone CI run under load stopped none: the strong trial 4 had
#: not finished when the weak ones were judged); with 12, weak trials come later too.
N = 12
TESTS = Path(__file__).resolve().parent


@pytest.mark.slow
def test_ray_search_trains_stops_records_and_keeps_the_best(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the Ray workers import the test workload from here (they inherit the environment)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # a local Ray, started and stopped here
    workload = SGDDigits()
    prior = collect(workload, n_configs=12, epochs=T, seed=5, out=tmp_path / "prior.parquet").curves
    stopper = PredictiveStopper(delta=0.9, min_complete=6, refit_every=None,
                                predictor=SRM(n_draws=4, sigma_folds=5), prior=prior)
    exposed: list[str] = []

    def on_progress(p: Progress) -> None:
        if not exposed and p.epochs_used:  # once, while Ray and a trial's worker run
            exposed.extend(listeners_beyond_loopback() or ["checked"])

    db = tmp_path / "s.db"
    with Store(db) as store:
        result = run_ray_search(workload, RandomSampler(workload.space, seed=3), stopper, store,
                                study="ray", trials=N, epochs=T, workers=2, seed=3,
                                settings={"backend": "ray"}, on_progress=on_progress)
        trials = store.trials("ray")
    assert not ray.is_initialized()  # the local Ray it started is shut down
    assert exposed == ["checked"], "Ray listens beyond the loopback interface:\n" + "\n".join(exposed)

    assert len(trials) == N and {t.state for t in trials} <= {TrialState.COMPLETE,
                                                              TrialState.STOPPED}
    stopped = [t for t in trials if t.state is TrialState.STOPPED]
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert stopped and complete  # warm-started from 12 prior curves: stops from the start
    for t in stopped:
        assert len(t.values) < T and t.predicted_value is not None
        last = t.decisions[-1]
        assert last.action == "stop" and last.probability is not None and last.probability >= 0.9
        assert last.epoch == len(t.values)
    judged = [d for t in trials for d in t.decisions if d.mean is not None]
    assert all(0.0 <= (d.probability or 0.0) <= 1.0 for d in judged)
    # Ray trained exactly what the local backend trains: config and seed of trial n
    truth = {}
    for t in trials:
        run = workload.start(t.config, seed=3 * 1_000_003 + t.number, epochs=T)
        truth[t.number] = [run.train_epoch().value for _ in range(T)]
        assert [v for _, v, _ in t.values] == pytest.approx(truth[t.number][: len(t.values)])
        assert [e for e, _, _ in t.values] == list(range(1, len(t.values) + 1))
    for t in complete:
        assert t.test_value is not None and t.decisions  # judged on the way
    best = max(truth, key=lambda n: truth[n][-1])
    assert next(t for t in trials if t.number == best).state is TrialState.COMPLETE
    p = result.progress
    assert (p.complete, p.stopped, p.failed, p.running) == (len(complete), len(stopped), 0, 0)
    assert p.best_trial == best
    assert result.best_config == next(t.config for t in trials if t.number == best)
    assert sum(t["epochs"] for t in result.trials) < N * T and result.speedup > 1

    # a rerun with a larger budget resumes the study (the store is the truth): a trial orphaned
    # by a dead driver is claimed and trained on, and the searcher continues (no config twice)
    with Store(db) as store:
        dead = subprocess.Popen(["true"])
        dead.wait()
        config = RandomSampler(workload.space, seed=99).ask_config()
        assert config is not None
        orphan = store.add_trial("ray", config, state=TrialState.RUNNING,
                                 worker=f"{socket.gethostname()}:{dead.pid}:gone")
        first = workload.start(config, seed=3 * 1_000_003 + orphan, epochs=T).train_epoch()
        store.record_value("ray", orphan, 1, first.value, first.seconds)
        run_ray_search(workload, RandomSampler(workload.space, seed=3), stopper, store,
                       study="ray", trials=N + 2, epochs=T, workers=2, seed=3)
        again = store.trials("ray")
    assert not ray.is_initialized()
    assert len(again) == N + 2 and all(t.state in (TrialState.COMPLETE, TrialState.STOPPED)
                                    for t in again)
    assert [(t.number, t.values) for t in again[:N]] == [(t.number, t.values) for t in trials]
    assert again[N].number == orphan and len(again[N].values) >= 1
    assert again[N].values[0][1] == first.value
    assert len({json.dumps(t.config, sort_keys=True) for t in again}) == N + 2

    # the study is an ordinary one for the other commands
    shown = CliRunner().invoke(app, ["show", "--storage", f"sqlite:///{db}", "--study", "ray",
                                     "--json"])
    assert shown.exit_code == 0, shown.output
    assert len(json.loads(shown.stdout)["trials"]) == N + 2
    out = tmp_path / "export.parquet"
    exported = CliRunner().invoke(app, ["export", "--storage", f"sqlite:///{db}", "--study", "ray",
                                        "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert CurveSet.load(out).n_configs == N + 2


@pytest.fixture
def ray_cluster() -> Iterator[tuple[str, dict[str, str], int]]:
    """A one-node Ray cluster started as users start one (`ray start --head`), on 127.0.0.1 only,
    with token authentication; yields its address, the environment its clients need, the PID
    of its process group; stopped (that group) afterwards."""
    port = free_port()
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": uuid.uuid4().hex + uuid.uuid4().hex}
    env.pop("RAY_ADDRESS", None)
    temp = Path(tempfile.mkdtemp(prefix="cc-ray-", dir="/tmp"))  # short: Ray's socket paths
    log = (temp / "head.log").open("w")
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
         "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
         "--include-dashboard", "false", "--temp-dir", str(temp)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in (temp / "head.log").read_text():
            assert head.poll() is None and time.monotonic() < deadline, \
                (temp / "head.log").read_text()[-2000:]
            time.sleep(0.5)
        yield f"127.0.0.1:{port}", env, head.pid
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # the head and everything it started
        try:
            head.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)
        head.wait()
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_cli_search_on_an_existing_cluster(ray_cluster: tuple[str, dict[str, str], int],
                                           tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the CLI's workloads train with torch (curvecast[torch])")
    address, head_env, group = ray_cluster
    # the client finds the loopback cluster by itself (curvecast sets Ray's loopback switch)
    env = {k: v for k, v in head_env.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    db = tmp_path / "c.db"
    proc = subprocess.run(
        [sys.executable, "-m", "curvecast.cli", "search", "--backend", "ray", "--address", address,
         "--workload", "digits-metaqnn", "--trials", "2", "--epochs", "2", "--stopper", "never",
         "--storage", f"sqlite:///{db}", "--study", "cluster", "--seed", "4"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = " ".join(proc.stdout.split())
    assert "study 'cluster'" in said and "2 complete, 0 stopped early, 0 failed" in said, said
    with Store(db) as store:
        trials = store.trials("cluster")
        assert store.study_info("cluster")["settings"]["backend"] == "ray"
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    assert all([e for e, _, _ in t.values] == [1, 2] and t.test_value is not None for t in trials)
    assert not listeners_beyond_loopback(group)  # the cluster's


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("extra", "message"), [
    (["--backend", "ray", "--address", "127.0.0.1:{port}"], "no Ray cluster answers at 127.0.0.1:"),
    (["--backend", "ray", "--address", "ray://127.0.0.1:10001"], "Ray Client (ray://) addresses"),
    (["--address", "127.0.0.1:6379"], "--address is for Ray: use it with --backend ray"),
    (["--backend", "ray", "--ray-storage", "/shared/ray"],
     "--ray-storage is no longer used: a Ray search keeps its checkpoints in the study's "
     "checkpoint folder beside the database"),
    (["--backend", "spark"], "unknown backend 'spark': choose local or ray"),
])
def test_search_backend_errors_are_one_line(tmp_path: Path, extra: list[str], message: str) -> None:
    args = ["search", "--workload", "digits-metaqnn", "--trials", "2", "--epochs", "2",
            "--storage", f"sqlite:///{tmp_path / 's.db'}", "--stopper", "never",
            *[a.format(port=free_port()) for a in extra]]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert message in text and "Traceback" not in text
    assert not ray.is_initialized()
    assert not (tmp_path / "s.db").exists()  # refused before the study's database is made


def test_search_backend_ray_without_ray_names_the_extra(tmp_path: Path) -> None:
    block = ("import sys\n"
             "class Block:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] == 'ray':\n"
             "            raise ImportError(f'blocked: {name}')\n"
             "sys.meta_path.insert(0, Block())\n")
    args = ["search", "--backend", "ray", "--workload", "digits-metaqnn", "--trials", "1",
            "--epochs", "2", "--storage", f"sqlite:///{tmp_path / 's.db'}"]
    proc = subprocess.run([sys.executable, "-c", block + f"from curvecast.cli import app\napp({args!r})"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'curvecast[ray]'" in lines[0], proc.stderr


def listeners_beyond_loopback(root: int | None = None) -> list[str]:
    """TCP listeners of process ``root`` (default: this one) and its descendants (Ray's) not on
    127.0.0.1 (``ss``)."""
    if shutil.which("ss") is None:
        return []
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    ours = {os.getpid() if root is None else root}
    while more := {p for p, pp in parents.items() if pp in ours} - ours:
        ours |= more
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    return [line for line in listening.splitlines()
            if {int(p) for p in re.findall(r"pid=(\d+)", line)} & ours
            and line.split()[3].rsplit(":", 1)[0] not in ("127.0.0.1", "[::ffff:127.0.0.1]",
                                                          "[::1]")]
