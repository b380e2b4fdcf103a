"""``curvecast search --prior``: a Parquet file, an Optuna study (``last.db#study`` or
``sqlite:///last.db#study``) or a curvecast study database; one of another metric or direction is
refused before anything runs (no study database is created)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curvecast import Direction
from curvecast.cli import app
from curvecast.store import Store
from synthetic_curves import synthetic

optuna = pytest.importorskip("optuna", reason="an Optuna prior needs curvecast[optuna]")
optuna.logging.set_verbosity(optuna.logging.WARNING)
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
EPOCHS = 10  # of every prior here; the searches below ask for 12, which no prior covers


def optuna_study(path: Path, name: str, direction: str, metric: str | None) -> None:
    """An Optuna study of 8 replayed synthetic curves of EPOCHS epochs."""
    curves = synthetic(n=8, epochs=EPOCHS, seed=1)
    study = optuna.create_study(study_name=name, storage=f"sqlite:///{path}", direction=direction)
    if metric is not None:
        study.set_metric_names([metric])
    for i in range(8):
        trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-5, 1.0, log=True)})
        for epoch in range(1, EPOCHS + 1):
            trial.report(float(curves.values[i, epoch - 1]), step=epoch)
        study.tell(trial, float(curves.values[i, -1]))


@pytest.fixture(scope="module")
def last_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prior") / "last.db"
    optuna_study(path, "acc", "maximize", "val_accuracy")
    optuna_study(path, "unnamed", "maximize", None)
    optuna_study(path, "lower", "minimize", "val_accuracy")
    optuna_study(path, "loss", "maximize", "val_loss")
    return path


def search(tmp_path: Path, prior: str | Path) -> tuple[int, str]:
    """``search --prior PRIOR`` on digits-metaqnn (val_accuracy, maximize) for 12 epochs (in
    this process: the workload's first construction imports torch, the later ones are quick)."""
    db = tmp_path / "search.db"
    result = CliRunner().invoke(app, ["search", "--workload", "digits-metaqnn", "--trials", "2",
                                      "--epochs", "12", "--workers", "1", "--storage",
                                      f"sqlite:///{db}", "--prior", str(prior)], terminal_width=400)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.count("\n") == 1, result.stderr
    assert not db.exists()  # nothing ran
    return result.exit_code, result.stderr.strip()


def test_optuna_studies_are_priors(last_db: Path, tmp_path: Path) -> None:
    # loaded, metric and direction accepted; refused only because 10 epochs do not cover 12
    covers = "error: the prior has 10 epochs, the search trains 12; a prior must cover the " \
             "search's epochs"
    for prior in (f"{last_db}#acc", f"sqlite:///{last_db}#acc", f"{last_db}#unnamed"):
        assert search(tmp_path, prior) == (2, covers), prior


@pytest.mark.parametrize(("study", "message"), [
    ("lower", "error: the prior's metric 'val_accuracy' is minimized but workload "
              "'digits-metaqnn' maximizes 'val_accuracy'"),
    ("loss", "error: the prior's metric is 'val_loss' but workload 'digits-metaqnn' measures "
             "'val_accuracy': a prior must record the study's metric"),
    ("nope", "error: sqlite:///{db}: no study 'nope' (studies: ['acc', 'unnamed', 'lower', "
             "'loss'])"),
])
def test_a_prior_of_another_metric_or_direction_is_refused(last_db: Path, tmp_path: Path,
                                                           study: str, message: str) -> None:
    assert search(tmp_path, f"{last_db}#{study}") == (2, message.format(db=last_db))


def test_parquet_and_curvecast_study_priors(tmp_path: Path) -> None:
    loss = synthetic(n=8, epochs=EPOCHS, seed=2, direction=Direction.MINIMIZE)
    path = loss.save(tmp_path / "loss.parquet")
    assert search(tmp_path, path) == (2, "error: the prior's metric is 'm' but workload "
                                         "'digits-metaqnn' measures 'val_accuracy': a prior "
                                         "must record the study's metric")
    own = tmp_path / "own.db"
    with Store(own) as store:
        store.create_study("earlier", metric="val_accuracy", direction="maximize",
                           settings={"epochs": EPOCHS})
        number = store.add_trial("earlier", {"lr": 0.1})
        for epoch in range(1, EPOCHS + 1):
            store.record_value("earlier", number, epoch, 1 - math.exp(-epoch))
    assert search(tmp_path, f"{own}#earlier") == (
        2, "error: the prior has 10 epochs, the search trains 12; a prior must cover the "
           "search's epochs")
    with Store(own) as store:  # a name curvecast accepts may hold "#", as a prior too
        store.create_study("exp #1 ü", metric="val_accuracy", direction="maximize",
                           settings={"epochs": EPOCHS})
        number = store.add_trial("exp #1 ü", {"lr": 0.1})
        for epoch in range(1, EPOCHS + 1):
            store.record_value("exp #1 ü", number, epoch, 1 - math.exp(-epoch))
    for spec in (f"{own}#exp #1 ü", f"sqlite:///{own}#exp #1 ü"):
        assert search(tmp_path, spec) == (
            2, "error: the prior has 10 epochs, the search trains 12; a prior must cover the "
               "search's epochs"), spec
    assert search(tmp_path, "#x")[1].startswith("error: --prior '#x': expected a Parquet file "
                                                "or STORAGE#STUDY")
    assert search(tmp_path, tmp_path / "none.db#s") == (
        2, f"error: {tmp_path / 'none.db'}: no such study database (--prior "
           f"{tmp_path / 'none.db#s'})")


def test_a_resumed_study_compares_its_prior_by_its_curves_not_its_path(tmp_path: Path) -> None:
    """A user's review (stop 29): the resume check compared ``--prior`` as text, so the same
    file given by its absolute path was refused, and another file at the same relative path
    (run from another folder) was taken: one study decided with two priors.  The study records
    the prior curves' fingerprint and compares that."""
    import os

    from curvecast.curves import CurveSet
    from curvecast.execution.shared import open_study
    from curvecast.registry.search_plan import curves_digest
    from sgd_workload import SGDDigits

    first, other = tmp_path / "a", tmp_path / "b"
    for folder, seed in ((first, 1), (other, 2)):
        (folder / "data").mkdir(parents=True)
        synthetic(n=8, epochs=EPOCHS, seed=seed).save(folder / "data" / "prior.parquet")

    def settings(prior: str | None, folder: Path) -> dict[str, object]:
        loaded = None if prior is None else CurveSet.load(folder / prior)
        return {"prior": prior, "prior_digest": None if loaded is None else curves_digest(loaded)}

    with Store(tmp_path / "s.db") as store:
        open_study(store, "s", SGDDigits(), 3, 0, settings("data/prior.parquet", first))
        same = str(first / "data" / "prior.parquet")  # the same file by its absolute path
        open_study(store, "s", SGDDigits(), 3, 0, settings(os.path.relpath(same, first), first)
                   | {"prior": same})
        with pytest.raises(ValueError, match=r"was started with --prior data/prior\.parquet, "
                                             r"not --prior data/prior\.parquet \(other curves\)"):
            open_study(store, "s", SGDDigits(), 3, 0, settings("data/prior.parquet", other))
        with pytest.raises(ValueError, match=r"not no --prior"):
            open_study(store, "s", SGDDigits(), 3, 0, settings(None, other))


def test_a_studys_curves_of_another_workload_are_refused(tmp_path: Path) -> None:
    """A user's review (stop 30): a digits-metaqnn study's curves, exported or named as
    ``DB#study``, were taken as the prior of an mnist1d-hp search (same metric and direction)
    without a word: the check read the workload ``collect`` records, not the one a study's
    settings hold."""
    own = tmp_path / "own.db"
    with Store(own) as store:
        store.create_study("other", metric="val_accuracy", direction="maximize",
                           settings={"workload": "mnist1d-hp", "epochs": 12})
        for lr in (0.1, 0.2):
            number = store.add_trial("other", {"lr": lr})
            for epoch in range(1, 13):
                store.record_value("other", number, epoch, lr * (1 - math.exp(-epoch)))
        exported = store.to_curveset("other").save(tmp_path / "other.parquet")
    refusal = "curves of workload 'mnist1d-hp', not 'digits-metaqnn': a prior must come from " \
              "the same workload"
    for prior in (f"{own}#other", exported):
        code, message = search(tmp_path, prior)
        assert code == 2 and message.endswith(refusal), (prior, message)


def test_a_prior_logged_at_other_epochs_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """A review (stop 36): a prior logged every 5th epoch (5, 10, …, 60) passed the check,
    which counted epochs only; the search trained a first trial before refusing it."""
    every_fifth = synthetic(n=8, epochs=12, seed=3)
    every_fifth = dataclasses.replace(every_fifth, epochs=5 * every_fifth.epochs,
                                      metric="val_accuracy")
    path = every_fifth.save(tmp_path / "fifth.parquet")
    assert search(tmp_path, path) == (
        2, "error: the prior's epochs [5, 10, 15, 20, 25, 30] … are not the search's epochs "
           "(1, 2, …, 12): a prior must record the epochs the study reports")
