"""An Optuna study made here in SQLite → ``curvecast data import optuna`` / ``from_optuna`` →
``simulate`` on it, and a warm start of :class:`CurvecastPruner` from it (no mocks)."""

from __future__ import annotations

import math
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna", reason="importing Optuna studies needs curvecast[optuna]")

import curvecast  # noqa: E402
from curvecast import CurveSet, CurveSetFormatError, Direction  # noqa: E402
from curvecast.integrations.optuna import ATTRS, CurvecastPruner, predicted_value  # noqa: E402
from curvecast.predictors import SRM  # noqa: E402
from imported import curvecast_cli, exported_configs, never_stop_epochs, same_configs  # noqa: E402
from synthetic_curves import synthetic  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
N, T = 60, 10
RECORDED = synthetic(n=N + 60, epochs=T, seed=5)  # the first N replayed in 'last', the rest later


def replay(offset: int, used: list[int] | None = None):  # type: ignore[no-untyped-def]
    """An objective that 'trains' recorded config ``offset + trial.number``: reports its curve
    epoch by epoch (steps 1..T) and obeys the pruner."""

    def objective(trial: optuna.Trial) -> float:
        i = offset + trial.number
        lr = trial.suggest_float("lr", RECORDED.configs.lr.iloc[i], RECORDED.configs.lr.iloc[i])
        del lr
        trial.set_user_attr("width", int(RECORDED.configs.width.iloc[i]))  # known once built
        for epoch in range(1, T + 1):
            trial.report(float(RECORDED.values[i, epoch - 1]), step=epoch)
            if used is not None:
                used.append(i)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(RECORDED.values[i, -1])

    return objective


def failing(trial: optuna.Trial) -> float:
    """Trial N diverges (reports NaN, then crashes); trial N + 1 crashes without a NaN."""
    trial.suggest_float("lr", 0.01, 0.01)
    trial.report(0.3, step=1)
    if trial.number == N:
        trial.report(math.nan, step=2)
    raise RuntimeError("out of memory")


@pytest.fixture(scope="module")
def last_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``sqlite:///…/last.db`` with study 'last': N replayed trials under a MedianPruner (so some
    are pruned), one diverged failure and one plain failure."""
    url = f"sqlite:///{tmp_path_factory.mktemp('optuna') / 'last.db'}"
    study = optuna.create_study(study_name="last", storage=url, direction="maximize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=15,
                                                                   n_warmup_steps=3))
    study.set_metric_names(["val_accuracy"])
    study.optimize(replay(0), n_trials=N)
    study.optimize(failing, n_trials=2, catch=(RuntimeError,))
    return url


def test_import_optuna_then_simulate(last_db: str, tmp_path: Path) -> None:
    out = tmp_path / "last.parquet"
    proc = curvecast_cli("data", "import", "optuna", last_db, "--study", "last", "--out", out)
    assert proc.returncode == 0, proc.stderr
    got = CurveSet.load(out)
    trials = optuna.load_study(study_name="last", storage=last_db).get_trials()
    pruned = [t for t in trials if t.state is optuna.trial.TrialState.PRUNED]
    complete = [t for t in trials if t.state is optuna.trial.TrialState.COMPLETE]
    assert len(pruned) >= 10 and len(complete) + len(pruned) == N
    # every replayed trial and both failures: the one that diverged and the one that crashed
    # after its first report (a partial curve, as CurvecastPruner reads it; stop 36)
    assert got.config_ids == [f"t{i}" for i in range(N + 2)]
    assert got.metric == "val_accuracy" and got.direction is Direction.MAXIMIZE
    assert got.epochs.tolist() == list(range(1, T + 1))
    assert got.provenance["left_out"] == {"no_reports": 0, "running": 0}
    assert got.provenance["trials"] == {"complete": len(complete), "pruned": len(pruned),
                                        "fail": 2}
    assert got.n_observed()[N + 1] == 1 and got.values[N + 1, 0] == 0.3
    assert int(got.is_complete().sum()) == len(complete)
    for t in pruned:  # a partial curve: observed up to the pruning step
        row = got.row(f"t{t.number}")
        assert got.n_observed()[row] == max(t.intermediate_values) < T
    np.testing.assert_array_equal(got.values[:N][got.observed[:N]],
                                  RECORDED.values[:N][got.observed[:N]])
    assert got.diverged()[N].tolist() == [False, True] + [False] * (T - 2)
    assert list(got.configs.columns) == ["lr", "width"]  # params, then user attrs
    np.testing.assert_allclose(got.configs.lr.iloc[:N], RECORDED.configs.lr.iloc[:N])
    assert (got.configs.width.iloc[:N].to_numpy() == RECORDED.configs.width.iloc[:N]).all()

    # simulate replays the complete curves
    assert never_stop_epochs(out, tmp_path / "sim.json", min_complete=5) == len(complete) * T


def test_warm_start_the_pruner_from_the_imported_study(last_db: str, tmp_path: Path) -> None:
    prior = curvecast.from_optuna(last_db, "last")
    pruner = CurvecastPruner(delta=0.95, min_complete=20, refit_every=None, prior=prior,
                             config_attrs=["width"], predictor=SRM(n_draws=5))
    url = f"sqlite:///{tmp_path / 'next.db'}"
    study = optuna.create_study(study_name="next", storage=url, direction="maximize",
                                pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    study.set_metric_names(["val_accuracy"])
    pruner.check_prior(study)
    used: list[int] = []
    study.optimize(replay(N, used), n_trials=40)
    trials = study.get_trials()
    states = [t.state for t in trials]
    # the prior's complete curves count toward min_complete = 20: judged from the second trial on
    assert prior.is_complete().sum() >= 20
    assert states.index(optuna.trial.TrialState.PRUNED) <= 3
    assert sum(s is optuna.trial.TrialState.PRUNED for s in states) >= 10
    assert len(used) < 0.75 * 40 * T
    assert sorted(pruner.stopper.prior.configs.columns) == ["lr", "width"]  # type: ignore[union-attr]
    best = max(range(N, N + 40), key=lambda i: RECORDED.values[i, -1])
    assert study.best_value == pytest.approx(RECORDED.values[best, -1])
    # what drove each decision, under readable keys (as optuna-dashboard lists them)
    pruned = [t for t in trials if t.state is optuna.trial.TrialState.PRUNED]
    for t in pruned:
        assert t.user_attrs[ATTRS["pruned"]] is True and t.user_attrs[ATTRS["std"]] > 0
        assert t.user_attrs[ATTRS["probability"]] >= 0.95
        assert t.user_attrs[ATTRS["step"]] == max(t.intermediate_values)
        assert predicted_value(t) == t.user_attrs["curvecast: predicted final value"]
    # imported in turn, the pruner's own attributes are not config features
    again = curvecast.from_optuna(url, "next")
    assert list(again.configs.columns) == ["lr", "width"] and again.n_configs == 40


@pytest.mark.parametrize(("direction", "names", "message"), [
    ("minimize", None, "the prior's metric 'val_accuracy' is maximized but study 'new' "
                       "minimizes its objective"),
    ("maximize", ["val_loss"], "the prior's metric is 'val_accuracy' but study 'new' measures "
                               "'val_loss': a prior must record the study's metric"),
])
def test_a_prior_of_another_metric_or_direction_is_refused(
        last_db: str, direction: str, names: list[str] | None, message: str) -> None:
    pruner = CurvecastPruner(min_complete=20, prior=curvecast.from_optuna(last_db, "last"))
    study = optuna.create_study(study_name="new", direction=direction, pruner=pruner)
    if names:
        study.set_metric_names(names)
    with pytest.raises(ValueError) as before:
        pruner.check_prior(study)  # before anything runs
    assert str(before.value) == message
    used: list[int] = []
    with pytest.raises(ValueError, match="the prior's metric"):  # or at the first report
        study.optimize(replay(N, used), n_trials=3)
    assert len(used) == 1 and len(study.get_trials()) == 1


def test_import_errors(last_db: str, tmp_path: Path) -> None:
    with pytest.raises(CurveSetFormatError, match=r"no study 'nope' \(studies: \['last'\]\)"):
        curvecast.from_optuna(last_db, "nope")
    with pytest.raises(CurveSetFormatError, match="its metric is 'val_accuracy', not 'loss'"):
        curvecast.from_optuna(last_db, "last", metric="loss")
    missing = tmp_path / "missing.db"
    with pytest.raises(FileNotFoundError, match=r"missing\.db: no such Optuna storage file"):
        curvecast.from_optuna(f"sqlite:///{missing}", "last")
    assert not missing.exists()  # Optuna would have made an empty database
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE studies (id INTEGER)")
    with pytest.raises(CurveSetFormatError, match=r"other.db: not an Optuna storage"):
        curvecast.from_optuna(f"sqlite:///{other}", "last")
    with sqlite3.connect(other) as db:  # left untouched: no Optuna tables were added
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["studies"]
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    optuna.create_study(study_name="idle", storage=empty)
    with pytest.raises(CurveSetFormatError, match="no trial reported intermediate values"):
        curvecast.from_optuna(empty, "idle")


def test_one_trials_extra_step_is_warned_of_and_max_step_leaves_it_out(tmp_path: Path) -> None:
    """A researcher's review (stop 31): 20 trials reported steps 1–10 and one also step 11; the
    import made step 11 the last epoch, so 19 of the 20 complete trials became partial curves
    and `simulate` refused the file, without a word at import.  The import now says so and how
    to leave the step out (``--max-step``)."""
    db = f"sqlite:///{tmp_path / 'extra.db'}"
    study = optuna.create_study(storage=db, study_name="s", direction="maximize")

    def objective(trial: optuna.Trial) -> float:
        a = trial.suggest_float("a", 0.3, 1.0)
        steps = 11 if trial.number == 3 else 10
        for s in range(1, steps + 1):
            trial.report(a * (1 - math.exp(-0.4 * s)), s)
        return a * (1 - math.exp(-4.0))

    study.optimize(objective, n_trials=20)
    proc = curvecast_cli("data", "import", "optuna", db, "--study", "s", "--out",
                         tmp_path / "extra.parquet")
    assert proc.returncode == 0, proc.stderr
    assert ("19 of the 20 complete trials end before step 11, the last (reported by trial(s) 3)"
            in proc.stderr), proc.stderr
    assert "--max-step" in proc.stderr
    got = curvecast.from_optuna(db, "s", max_step=10)
    assert got.epochs.tolist() == list(range(1, 11))
    assert int(got.is_complete().sum()) == 20 and got.provenance["max_step"] == 10
    proc = curvecast_cli("data", "import", "optuna", db, "--study", "s", "--max-step", "10",
                         "--out", tmp_path / "cut.parquet")
    assert proc.returncode == 0, proc.stderr
    assert "20 configs (20 complete) x 10 trained epochs" in proc.stdout
    assert "end before step" not in proc.stderr
    with pytest.raises(ValueError, match="max_step must be a whole number"):
        curvecast.from_optuna(db, "s", max_step=-1)


def test_max_step_counts_longer_trials_as_reaching_it_and_layer_parameters_pass(
        tmp_path: Path) -> None:
    """A review of stop 31's import warnings: with --max-step 10, trials that ran to step 20
    were not counted as reaching step 10 (a warning with wrong counts); Optuna's per-layer
    parameters n_units_l0, n_units_l1, … were called another metric's curve."""
    db = f"sqlite:///{tmp_path / 'x.db'}"
    study = optuna.create_study(storage=db, study_name="ex", direction="maximize")
    for k, n in enumerate([20] * 7 + [5] * 3):
        study.enqueue_trial({"n_epochs": n, "lr": 0.01 * (k + 1), "n_units_l0": 8,
                             "n_units_l1": 16, "n_units_l2": 32})

    def objective(trial: optuna.Trial) -> float:
        n = trial.suggest_int("n_epochs", 5, 20)
        lr = trial.suggest_float("lr", 0.001, 1.0)
        for layer in range(3):
            trial.suggest_int(f"n_units_l{layer}", 4, 128)
        for s in range(1, n + 1):
            trial.report(0.9 - lr / 10 - 0.5 * math.exp(-s / 3), s)
        return 0.9 - lr / 10

    study.optimize(objective, n_trials=10)
    proc = curvecast_cli("data", "import", "optuna", db, "--study", "ex", "--max-step", "10",
                         "--out", tmp_path / "o.parquet")
    assert proc.returncode == 0, proc.stderr
    assert "end before step" not in proc.stderr, proc.stderr
    assert "another metric's curve" not in proc.stderr, proc.stderr
    assert "n_units_l0" in proc.stderr  # named among the config columns


def test_a_storage_file_named_with_a_hash_is_read(tmp_path: Path) -> None:
    """A review (stop 32): the file's path went into an SQLite URI unescaped, so ``runs#2.db``
    opened (and created) ``runs``, and the import said it was not an Optuna storage."""
    url = f"sqlite:///{tmp_path / 'runs#2.db'}"
    study = optuna.create_study(study_name="st", storage=url)
    for x in (0.2, 0.5):
        trial = study.ask()
        trial.report(x, 1)
        study.tell(trial, x)
    curves = curvecast.from_optuna(url, "st")
    assert curves.n_configs == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs#2.db"]


def test_a_trial_pruned_after_its_last_step_is_imported_as_a_partial_curve(
        tmp_path: Path) -> None:
    """An objective that prunes a trial after its last report (a size limit checked at the end)
    did not complete it: it must not become a complete curve (and the best run of a replay),
    as the pruner does not count it either.  With --max-step below its last report it ran past
    the window and is complete there."""
    db = f"sqlite:///{tmp_path / 'late.db'}"
    study = optuna.create_study(storage=db, study_name="s", direction="maximize")

    def objective(trial: optuna.Trial) -> float:
        a = trial.suggest_float("a", 0.3, 0.8)
        if trial.number == 4:
            a = 0.99  # the best curve, pruned by the objective after its last step
        for s in range(1, 11):
            trial.report(a * (1 - math.exp(-0.4 * s)), s)
        if trial.number == 4:
            raise optuna.TrialPruned()
        return a * (1 - math.exp(-4.0))

    study.optimize(objective, n_trials=8)
    got = curvecast.from_optuna(db, "s")
    assert got.epochs.tolist() == list(range(1, 11))
    assert int(got.is_complete().sum()) == 7
    assert got.n_observed()[got.row("t4")] == 9
    assert got.provenance["cut_at_last_step"] == ["t4"]
    windowed = curvecast.from_optuna(db, "s", max_step=10)
    assert windowed.n_observed()[windowed.row("t4")] == 9  # nothing after step 10: still cut
    short = curvecast.from_optuna(db, "s", max_step=6)
    assert int(short.is_complete().sum()) == 8 and "cut_at_last_step" not in short.provenance
    proc = curvecast_cli("data", "import", "optuna", db, "--study", "s", "--out",
                         tmp_path / "late.parquet")
    assert proc.returncode == 0, proc.stderr
    assert "1 trial stopped or failed after reporting the last step (t4)" in proc.stderr


def test_skipped_steps_are_imported_as_the_pruner_reads_them(tmp_path: Path) -> None:
    """A review (stop 35): a trial that skipped one evaluation, or evaluated every other
    epoch, was imported with the worst value of the study at each skipped step (a 'diverged'
    report), a saw-tooth curve a warm-started predictor was then fitted on, while the pruner
    interpolated the same steps."""
    from curvecast.integrations.optuna import _StudyCurves

    db = f"sqlite:///{tmp_path / 'gaps.db'}"
    study = optuna.create_study(storage=db, study_name="g", direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.2, 1.0)
        curve = [x * (1 - math.exp(-e / 4)) for e in range(1, 21)]
        for e, v in enumerate(curve, 1):
            if (trial.number == 2 and e == 7) or (trial.number == 3 and e % 2 == 1) \
                    or (trial.number == 4 and e not in (1, 2, 10, 20)):
                continue
            trial.report(v, e)
        return curve[-1]

    study.optimize(objective, n_trials=8)
    got = curvecast.from_optuna(db, "g")
    assert not got.diverged().any()
    assert got.provenance["filled_steps"] == {"trials": 2, "steps": 11}
    assert got.provenance["sparse_reports_left_out"] == {"trials": 1, "steps": 2}
    running = study.ask()
    running.report(0.1, 1)
    curves = _StudyCurves((), None, with_configs=False)
    history, _ = curves.history(study, study._storage.get_trial(running._trial_id))
    assert history is not None
    for row in range(8):
        k = int(got.n_observed()[row])
        assert k == int(history.n_observed[row])
        np.testing.assert_allclose(got.values[row, :k], history.values[row, :k])
    proc = curvecast_cli("data", "import", "optuna", db, "--study", "g", "--out",
                         tmp_path / "g.parquet")
    assert proc.returncode == 0, proc.stderr
    assert "2 trials skipped steps the others report: 11 steps interpolated" in proc.stderr
    assert "1 trial reported fewer than half the steps" in proc.stderr
    assert "diverged" not in proc.stderr


def test_a_study_whose_every_trial_failed_has_no_complete_curve(tmp_path: Path) -> None:
    """A review (stop 36): with no complete trial, the failed trials that reported every step
    were read as complete curves (the cut took its last step from the complete trials only), so
    a replay could pick a crashed run as the best; the pruner never counts one as complete."""
    url = f"sqlite:///{tmp_path / 'f.db'}"
    study = optuna.create_study(study_name="f", storage=url, direction="maximize")

    def crashes(trial: optuna.Trial) -> float:
        steps = 5 if trial.number < 4 else 3
        for step in range(1, steps + 1):
            trial.report(0.1 * step + 0.01 * trial.number, step=step)
        raise RuntimeError("out of memory")

    study.optimize(crashes, n_trials=6, catch=(RuntimeError,))
    got = curvecast.from_optuna(url, "f")
    assert got.epochs.tolist() == [1, 2, 3, 4, 5]
    assert not got.is_complete().any()
    assert got.n_observed().tolist() == [4, 4, 4, 4, 3, 3]
    assert got.provenance["cut_at_last_step"] == ["t0", "t1", "t2", "t3"]


def test_a_storage_is_named_as_given_and_only_its_password_hidden(tmp_path: Path) -> None:
    """A review (stop 36): every message and the provenance named ``sqlite:///my dir é/st.db``
    as ``sqlite:///my dir %C3%A9/st.db``, not a path a user can paste back."""
    from curvecast.datasets.optuna_study import redact

    folder = tmp_path / "my dir é"
    folder.mkdir()
    url = f"sqlite:///{folder / 'st.db'}"
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    study.optimize(lambda t: (t.report(0.5, step=1), 0.5)[1], n_trials=2)
    assert curvecast.from_optuna(url, "s").provenance["storage"] == url
    assert redact("postgresql://user:secret@host/db") == "postgresql://user:***@host/db"


def _one_trial_storage(db: Path, name: str) -> Path:
    """An Optuna SQLite storage at ``db`` holding the study ``name`` of one trial, one report."""
    study = optuna.create_study(storage=f"sqlite:///{db}", study_name=name)
    trial = study.ask()
    trial.report(0.5, 1)
    study.tell(trial, 0.5)
    return db


@pytest.mark.parametrize(("statements", "refusal"), [
    # A security review: a generated column computes its value on every read
    # (``printf('%.*c', 300000000, 'x')``: a few KB of file, 300 MB a row), and Optuna never
    # makes one; a storage with one is refused before Optuna reads it, as one with a view is.
    (["ALTER TABLE trial_params ADD COLUMN big TEXT GENERATED ALWAYS AS "
      "(printf('%.*c', 1000, 'x')) VIRTUAL"], "generated column, 'trial_params.big'"),
    # A review of the security review: a virtual table whose schema text does not start
    # ``CREATE VIRTUAL`` (``create   virtual``, a leading comment: SQLite reads it all the same)
    # was taken for a table; a virtual table is the only table without a root page.
    (["CREATE VIRTUAL TABLE notes USING fts5(body)", "PRAGMA writable_schema = ON",
      "UPDATE sqlite_master SET sql = 'create   virtual table notes using fts5(body)' "
      "WHERE name = 'notes'"], "view, 'notes'"),
], ids=["generated-column", "virtual-table-spelled-otherwise"])
def test_a_storage_with_sql_optuna_never_makes_is_refused_not_read(
        tmp_path: Path, statements: list[str], refusal: str) -> None:
    """A storage holding a generated column or a virtual table (however its SQL is spelled) is
    refused, naming what it holds, before Optuna reads a row."""
    db = _one_trial_storage(tmp_path / "t.db", "t")
    with sqlite3.connect(db) as con:
        for statement in statements:
            con.execute(statement)
    con.close()
    with pytest.raises(CurveSetFormatError, match=r"t.db: not an Optuna storage \(it holds a "
                                                  + re.escape(refusal)):
        curvecast.from_optuna(f"sqlite:///{db}", "t")


def test_booleans_none_and_lists_import_as_a_curvecast_study_exports_them(
        tmp_path: Path) -> None:
    """A review: the importer wrote booleans and None as the text "True" and "None" (and lists
    as Python's repr), while a curvecast study's export keeps booleans and leaves None missing,
    so a prior from Optuna had a text column where a study had booleans.  A categorical of the
    strings "True"/"False" stays text: the user's own type is kept."""
    db = f"sqlite:///{tmp_path}/kinds.db"
    study = optuna.create_study(storage=db, study_name="kinds", direction="maximize")
    choices = [(True, "True", None), (False, "False", "relu"), (True, "False", "relu")]
    for bn, norm, act in choices:
        study.enqueue_trial({"bn": bn, "norm": norm, "act": act})

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_categorical("bn", [True, False])
        trial.suggest_categorical("norm", ["True", "False"])
        trial.suggest_categorical("act", [None, "relu"])
        trial.set_user_attr("layers", ["conv", "pool"])
        for epoch in (1, 2):
            trial.report(0.1 * epoch, step=epoch)
        return 0.2

    study.optimize(objective, n_trials=len(choices))
    got = curvecast.from_optuna(db, "kinds")
    assert got.configs["bn"].tolist() == [True, False, True]
    assert got.configs["norm"].tolist() == ["True", "False", "False"]
    assert got.configs["act"].isna().tolist() == [True, False, False]
    assert got.configs["layers"].tolist() == ['["conv", "pool"]'] * 3
    back = CurveSet.load(got.save(tmp_path / "kinds.parquet")).configs
    same_configs(back, exported_configs(tmp_path, [
        {"bn": bn, "norm": norm, "act": act, "layers": ["conv", "pool"]}
        for bn, norm, act in choices]))
