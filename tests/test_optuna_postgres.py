"""CurvecastPruner on a study stored in PostgreSQL (Optuna's RDBStorage), against a throwaway
server the test starts itself: initdb into a temporary folder, ``pg_ctl start`` listening on
127.0.0.1 and a free port only, stopped and deleted afterwards.

PostgreSQL refuses to run as root; as root, the server runs as the ``postgres`` system user (via
``runuser``).  Skipped, with the reason, when the binaries, the driver (psycopg2, in the ``dev``
extra) or such a user are missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna", reason="the Optuna integration needs curvecast[optuna]")
pytest.importorskip("psycopg2", reason="a PostgreSQL driver is needed: pip install psycopg2-binary "
                                       "(in curvecast's dev extra)")

from curvecast.integrations.optuna import ATTRS, CurvecastPruner, predicted_value  # noqa: E402
from curvecast.predictors import SRM  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    """A running throwaway PostgreSQL server; yields an SQLAlchemy URL for it."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found (Debian: postgresql)")
    prefix: list[str] = []
    user = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:  # postgres refuses to run as root
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' system user to run the server")
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root and runuser is missing to start the server as 'postgres'")
        prefix = [runuser, "-u", "postgres", "--"]
        user = "postgres"
    # not pytest's tmp_path: its parents are private to the user running the tests
    root = Path(tempfile.mkdtemp(prefix="curvecast-pg-"))
    if prefix:
        os.chown(root, account.pw_uid, account.pw_gid)
    data, log = root / "data", root / "server.log"
    port = _free_port()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120,
                              check=False)

    started = False
    try:
        done = run(initdb, "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8", "--no-sync")
        assert done.returncode == 0, f"initdb failed: {done.stderr}"
        done = run(pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", "-o",
                   f"-k {root} -h 127.0.0.1 -p {port} -c fsync=off")
        started = done.returncode == 0
        assert started, f"pg_ctl start failed: {done.stderr}\n{log.read_text() if log.exists() else ''}"
        yield f"postgresql+psycopg2://{user}@127.0.0.1:{port}/postgres"
    finally:
        if started:
            run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_storage(postgres_url: str, baker2018: Path) -> None:
    from curvecast.datasets.baker2018 import load_baker2018

    curves = load_baker2018(baker2018 / "metaqnn_cifar10.csv").without_untrained_epoch()
    order = np.random.default_rng(0).permutation(curves.n_configs)
    prior = curves.subset(np.sort(order[:100]))  # warm start from curves the study never trains
    values = curves.subset(np.sort(order[100:])).filled_values()

    def objective(trial: optuna.Trial) -> float:
        i = trial.suggest_int("config", 0, len(values) - 1)
        for epoch, value in enumerate(values[i], start=1):
            trial.report(float(value), step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(values[i, -1])

    pruner = CurvecastPruner(delta=0.95, min_complete=30, refit_every=None, prior=prior,
                             predictor=SRM(n_draws=10))
    study = optuna.create_study(study_name="pg", storage=postgres_url, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner)
    study.optimize(objective, n_trials=30)
    # read back through a fresh storage object: what any other worker would see
    trials = optuna.load_study(study_name="pg", storage=postgres_url).get_trials()
    assert len(trials) == 30
    pruned = [t for t in trials if t.state is optuna.trial.TrialState.PRUNED]
    assert len(pruned) >= 10
    for t in pruned:
        assert t.user_attrs[ATTRS["pruned"]] is True
        assert t.user_attrs[ATTRS["probability"]] >= 0.95
        assert predicted_value(t) == pytest.approx(t.user_attrs[ATTRS["predicted"]])
    sampled = {t.params["config"] for t in trials}
    assert study.best_value == max(values[i, -1] for i in sampled)
