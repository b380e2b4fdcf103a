"""A user's review of bringing their own curves in (stop 28): configs of mixed kinds or lists,
a wide table with a ``config_id`` column, a diverged ``nan`` in one of the paper's files, an
``--out`` that is the input, and a Ray trial restored from a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import curvecast
from curvecast import CurveSet, Direction
from curvecast.datasets.baker2018 import load_baker2018
from curvecast.features import Featurizer
from imported import curvecast_cli

PAPER = Path(__file__).resolve().parents[2] / "shared" / "data" / "baker2018"


def _curves(configs: pd.DataFrame) -> CurveSet:
    n = len(configs)
    values = np.linspace(0.2, 0.9, n * 3).reshape(n, 3)
    return CurveSet(values=values, observed=np.ones_like(values, dtype=bool),
                    epochs=np.arange(1, 4), metric="acc", direction=Direction.MAXIMIZE,
                    configs=configs)


def test_configs_of_mixed_kinds_or_lists_are_kept_as_text(tmp_path: Path) -> None:
    """Optuna's ``suggest_categorical("width", [None, 64, "auto"])`` and an architecture logged
    as a list crashed the save (Arrow: "Expected bytes, got a 'int' object") and the feature
    encoder (unhashable list); they are kept as text, missing values stay missing, plain
    columns are untouched."""
    configs = pd.DataFrame({"width": [None, 64, "auto", 64], "layers": [[64], [64, 32], None,
                                                                          np.array([64])],
                            "lr": [0.1, 0.01, 0.001, 0.1], "name": ["a", "b", "c", "d"],
                            "flag": [True, False, None, True]},
                           index=[f"c{i}" for i in range(4)])
    curves = _curves(configs)
    assert curves.configs["width"].tolist() == [None, "64", "auto", "64"]
    assert curves.configs["layers"].tolist() == ["[64]", "[64, 32]", None, "[64]"]
    assert curves.configs["lr"].tolist() == [0.1, 0.01, 0.001, 0.1]
    assert curves.configs["flag"].tolist() == [True, False, None, True]
    path = curves.save(tmp_path / "mixed.parquet")
    back = CurveSet.load(path)

    def read(column: str) -> list[object]:
        return [None if pd.isna(v) else v for v in back.configs[column]]

    assert read("width") == [None, "64", "auto", "64"]
    assert read("layers") == curves.configs["layers"].tolist()
    encoder = Featurizer(groups=frozenset({"hp"})).fit(back)  # text columns are categories
    names = encoder.feature_names(2)
    assert any(n.startswith("width") for n in names) and any(n.startswith("layers") for n in names)
    features = encoder.transform(back.configs, back.values[:, :2])
    assert features.shape == (4, len(names)) and np.isfinite(features).all()


def test_a_mixed_categorical_optuna_study_imports(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    db = tmp_path / "mixed study.db"
    study = optuna.create_study(storage=f"sqlite:///{db}", study_name="mixed study",
                                direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        width = trial.suggest_categorical("width", [None, 64, "auto"])
        for epoch in range(1, 4):
            trial.report(0.1 * epoch + (0.05 if width == 64 else 0.0), step=epoch)
        return 0.3

    study.optimize(objective, n_trials=8)
    out = tmp_path / "o.parquet"
    proc = curvecast_cli("data", "import", "optuna", f"sqlite:///{db}", "--study", "mixed study",
                         "--out", out)
    assert proc.returncode == 0, proc.stderr
    widths = CurveSet.load(out).configs["width"]
    # a None choice is missing (as in a curvecast study's export), not the text "None"
    assert set(widths.dropna()) <= {"64", "auto"} and len(set(widths)) > 1
    before = db.read_bytes()  # --out naming the study's own database is refused, untouched
    proc = curvecast_cli("data", "import", "optuna", f"sqlite:///{db}", "--study", "mixed study",
                         "--out", db)
    assert proc.returncode == 2 and "is the file this command reads" in proc.stderr
    assert db.read_bytes() == before


def test_a_wide_table_takes_its_config_id_column_as_the_ids(tmp_path: Path) -> None:
    """``config_id`` is the name curvecast's long tables use; a wide table with it failed with
    pandas' "cannot insert config_id, already exists" unless --id-column was given."""
    path = tmp_path / "two.csv"
    pd.DataFrame({"config_id": ["a", "007"], "lr": [0.1, 0.2], "acc_1": [0.3, 0.4],
                  "acc_2": [0.5, 0.6]}).to_csv(path, index=False)
    curves = curvecast.from_table(path, r"acc_(\d+)", "acc", "maximize")
    assert curves.config_ids == ["a", "007"]  # read as text: leading zeros kept
    assert list(curves.configs.columns) == ["lr"]
    out = tmp_path / "two.parquet"
    proc = curvecast_cli("data", "import", "table", path, "--curves", r"acc_(\d+)", "--metric",
                         "acc", "--direction", "maximize", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert CurveSet.load(out).config_ids == ["a", "007"]


def test_a_written_nan_in_a_paper_file_is_a_diverged_run_and_an_empty_cell_not_reached(
        tmp_path: Path) -> None:
    """The paper's importer read a ``nan`` as "not reached", unlike every other importer, so a
    diverged run counted as complete-minus-one and dropped out of replays."""
    if not (PAPER / "metaqnn_cifar10.csv").is_file():
        pytest.skip("needs ../shared/data/baker2018")
    table = pd.read_csv(PAPER / "metaqnn_cifar10.csv").head(6)
    table.loc[2, "acc_20"] = np.nan  # diverged: written as nan
    table["acc_20"] = table["acc_20"].astype(object)
    table.loc[4, "acc_20"] = "EMPTY"  # not reached: an empty cell (below)
    path = tmp_path / "m.csv"
    path.write_text(table.to_csv(index=False, na_rep="nan").replace("EMPTY", ""))
    curves = load_baker2018(path)
    assert curves.observed[2, -1] and np.isnan(curves.values[2, -1])
    assert not curves.observed[4, -1]
    assert curves.is_complete().tolist() == [True, True, True, True, False, True]
    assert curves.diverged().any(axis=1).tolist() == [False, False, True, False, False, False]


def test_out_may_not_be_the_file_the_import_reads(tmp_path: Path) -> None:
    """``data import table x.parquet … --out x.parquet`` replaced the user's table with the
    CurveSet made from it; ``export --out`` the study database itself."""
    wide = tmp_path / "runs.parquet"
    pd.DataFrame({"lr": [0.1, 0.2], "acc_1": [0.3, 0.4]}).to_parquet(wide)
    before = wide.read_bytes()
    proc = curvecast_cli("data", "import", "table", wide, "--curves", r"acc_(\d+)", "--metric",
                         "acc", "--direction", "maximize", "--out", tmp_path / "." / "runs.parquet")
    assert proc.returncode == 2
    assert "is the file this command reads" in proc.stderr and "Traceback" not in proc.stderr
    assert wide.read_bytes() == before
    db = tmp_path / "c.db"
    db.write_bytes(b"")
    proc = curvecast_cli("export", "--storage", f"sqlite:///{db}", "--study", "x", "--out", db)
    assert proc.returncode == 2 and "is the file this command reads" in proc.stderr


def _ray_trial(folder: Path, config: dict[str, float], results: str) -> None:
    """A Ray Tune trial folder as Tune writes it: ``params.json`` and ``result.json``."""
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(json.dumps(config))
    (folder / "result.json").write_text(results)


def _report(epoch: int, acc: float, trial_id: str) -> str:
    """One ``result.json`` line."""
    return json.dumps({"training_iteration": epoch, "acc": acc, "trial_id": trial_id})


def _import_ray(experiment: Path, out: Path) -> str:
    """``curvecast data import ray`` of ``experiment`` (metric acc, maximised); its stderr."""
    proc = curvecast_cli("data", "import", "ray", experiment, "--metric", "acc", "--direction",
                         "maximize", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_a_ray_trial_restored_from_a_checkpoint_says_what_was_replaced(tmp_path: Path) -> None:
    """Ray reports epochs again after a restore; the later reports win (documented), and the
    import now says how many were replaced instead of nothing."""
    experiment = tmp_path / "exp"
    reports = [(1, 0.2), (2, 0.3), (3, 0.1), (2, 0.35), (3, 0.4), (4, 0.5)]  # restored at 1
    _ray_trial(experiment / "trial_0", {"lr": 0.1},
               "\n".join(_report(e, v, "t0") for e, v in reports))
    curves = curvecast.from_ray(experiment, "acc", "max")
    assert curves.values[0].tolist() == [0.2, 0.35, 0.4, 0.5]
    assert curves.provenance["replaced_reports"] == 2
    said = _import_ray(experiment, tmp_path / "r.parquet")
    assert "2 reports replaced: trials restored from a checkpoint" in said


def test_a_ray_result_cut_off_by_a_kill_loses_only_its_last_line(tmp_path: Path) -> None:
    """A killed trial leaves a half-written last line in result.json; the whole experiment was
    refused.  The cut line is left out and said; a bad line elsewhere is still an error."""
    experiment = tmp_path / "exp"
    for i, tail in enumerate(('{"training_iteration": 3, "ac', "")):
        lines = "".join(_report(e, 0.1 * e, f"t{i}") + "\n" for e in (1, 2))
        _ray_trial(experiment / f"trial_{i}", {"lr": 0.1 * (i + 1)}, lines + tail)
    curves = curvecast.from_ray(experiment, "acc", "max")
    assert curves.n_configs == 2 and curves.observed.sum() == 4
    assert curves.provenance["truncated_lines"] == 1
    said = _import_ray(experiment, tmp_path / "r.parquet")
    assert "the last line of 1 result.json was cut off" in said
    broken = experiment / "trial_1" / "result.json"
    broken.write_text(f"{_report(1, 0.1, 't1')}\n{{oops\n{_report(2, 0.2, 't1')}\n")
    with pytest.raises(curvecast.CurveSetFormatError, match=r"row 2 \(line 2\): not JSON"):
        curvecast.from_ray(experiment, "acc", "max")


def test_a_wrong_ray_metric_names_what_the_trials_report(tmp_path: Path) -> None:
    _ray_trial(tmp_path / "exp" / "trial_0", {"lr": 0.1}, json.dumps(
        {"training_iteration": 1, "val_acc": 0.5, "loss": 1.0, "done": False}) + "\n")
    with pytest.raises(curvecast.CurveSetFormatError,
                       match=r"no trial reported 'acc'.*the trials report 'loss', "
                             r"'training_iteration', 'val_acc'"):
        curvecast.from_ray(tmp_path / "exp", "acc", "max")


def test_a_table_of_ones_own_given_to_simulate_says_to_import_it(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    pd.DataFrame({"lr": [0.1, 0.2], "acc_1": [0.3, 0.4]}).to_csv(path, index=False)
    proc = curvecast_cli("simulate", path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "curvecast data import table|long|optuna|ray" in proc.stderr


def test_an_import_counted_from_0_says_how_it_read_epoch_0(tmp_path: Path) -> None:
    """Steps 0…9 are read as the untrained network and 9 trained epochs; the import only said
    "9 trained epochs", so a log that counts trained epochs from 0 was silently shifted."""
    path = tmp_path / "zero.csv"
    pd.DataFrame({"lr": [0.1, 0.2], **{f"acc_{e}": [0.1 * e, 0.05 * e] for e in range(10)}}
                 ).to_csv(path, index=False)
    proc = curvecast_cli("data", "import", "table", path, "--curves", r"acc_(\d+)", "--metric",
                         "acc", "--direction", "maximize", "--out", tmp_path / "z.parquet")
    assert proc.returncode == 0, proc.stderr
    said = " ".join(proc.stdout.split())
    assert ("x 9 trained epochs (epoch 0 read as the untrained network: if your steps count "
            "trained epochs from 0, add 1 to them and import again)") in said
    one = tmp_path / "one.csv"
    pd.DataFrame({"lr": [0.1], "acc_1": [0.3], "acc_2": [0.5]}).to_csv(one, index=False)
    proc = curvecast_cli("data", "import", "table", one, "--curves", r"acc_(\d+)", "--metric",
                         "acc", "--direction", "maximize", "--out", tmp_path / "o.parquet")
    assert "untrained" not in proc.stdout


def test_a_hyperparameter_named_config_id_is_kept_under_another_name(tmp_path: Path) -> None:
    """A user's review (stop 29): a hyperparameter called ``config_id`` (the name of the ids)
    made the Optuna and Ray imports refuse the whole study ("has curve values but no row in the
    config table") and ``CurveSet.save`` fail with pandas' "cannot insert config_id".  It is
    kept as ``param/config_id``, and the import says so."""
    from curvecast.datasets.config_rows import config_row

    assert config_row({"config_id": 7, "lr": 0.1}) == {"param/config_id": 7, "lr": 0.1}
    curves = _curves(pd.DataFrame({"config_id": [5, 6], "lr": [0.1, 0.2]}, index=["a", "b"]))
    assert curves.configs.columns.tolist() == ["param/config_id", "lr"]
    back = CurveSet.load(curves.save(tmp_path / "c.parquet"))
    assert back.config_ids == ["a", "b"] and back.configs["param/config_id"].tolist() == [5, 6]
    with pytest.raises(ValueError, match="rename one of them"):
        _curves(pd.DataFrame({"config_id": [5], "param/config_id": [6]}, index=["a"]))
    table = tmp_path / "runs.csv"
    table.write_text("config_id,run_name,lr,acc_1,acc_2\n1,alpha,0.1,0.1,0.2\n"
                     "2,beta,0.2,0.2,0.3\n")
    out = tmp_path / "runs.parquet"
    proc = curvecast_cli("data", "import", "table", table, "--curves", r"acc_(\d+)", "--metric",
                         "acc", "--direction", "maximize", "--id-column", "run_name",
                         "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "'config_id' is named 'param/config_id'" in proc.stderr
    got = CurveSet.load(out)
    assert got.config_ids == ["alpha", "beta"] and got.configs["param/config_id"].tolist() == [1, 2]


def test_numpy_numbers_in_a_config_stay_numbers() -> None:
    """``tune.choice(np.array([16, 32, 64]))`` samples ``np.int64``, and ``np.prod`` gives one:
    they were kept as text, so the predictor one-hot encoded them or dropped them."""
    from curvecast.datasets.config_rows import config_row

    row = config_row({"width": np.int64(64), "lr": np.float64(0.01), "n": np.prod([3, 64]),
                      "half": np.float32(0.5), "flag": np.bool_(True), "bad": np.float64("nan")})
    assert row == {"width": 64, "lr": 0.01, "n": 192, "half": 0.5, "flag": True, "bad": "nan"}
    assert type(row["width"]) is int and type(row["lr"]) is float and type(row["flag"]) is bool
