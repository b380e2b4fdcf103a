"""Bad input found by a hardening audit of the command line: each is answered with one
``error:`` line and exit code 2 (before any work), or a documented behaviour — never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import curvecast
from curvecast import CurveSet, Direction
from curvecast.cli import main
from curvecast.store import Store
from synthetic_curves import synthetic

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """``run(*args)``: ``curvecast ARGS`` as the script runs it → (exit code, stdout, stderr)."""

    def invoke(*args: str | Path) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["curvecast", *map(str, args)])
        with pytest.raises(SystemExit) as exit_:
            main()
        out, err = capsys.readouterr()
        return int(exit_.value.code or 0), out, err

    return invoke


def refused(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def wide_table(path: Path) -> Path:
    curves = synthetic(n=30, epochs=4)
    pd.DataFrame({"lr": curves.configs["lr"].to_numpy(),
                  **{f"acc_{e}": curves.values[:, e - 1] for e in range(1, 5)}}
                 ).to_csv(path, index=False)
    return path


def test_rich_markup_in_names_is_printed_literally(tmp_path: Path, run: Run) -> None:
    """Study names, metric names and file names are the user's: ``[/x]`` or ``[red]`` in one
    is printed as written (it used to raise rich's MarkupError, or vanish as a style)."""
    db = tmp_path / "s.db"
    with Store(db) as store:
        for name in ("[/x]", "[red]y"):
            store.create_study(name, metric="[/m]", direction="maximize")
            store.add_trial(name, {"lr": 0.1})
            store.record_value(name, 0, 1, 0.5)
    code, out, err = run("studies", "--storage", f"sqlite:///{db}")
    assert code == 0, err
    assert "[/x]" in out and "[red]y" in out and "[/m]" in out
    code, out, err = run("show", "--study", "[/x]", "--storage", f"sqlite:///{db}", "-v")
    assert code == 0, err
    assert out.startswith("[/x]: [/m] (maximize)")

    folder = tmp_path / "["  # a path holding a closing tag: '[/x].parquet'
    folder.mkdir()
    code, out, err = run("data", "import", "table", wide_table(tmp_path / "w.csv"), "--curves",
                         r"acc_(\d+)", "--metric", "[/m]", "--direction", "max",
                         "--out", folder / "x].parquet")
    assert code == 0, err
    assert "[/m] (maximize)" in out
    code, out, err = run("data", "summary", tmp_path / "[/x].parquet")
    assert code == 0, err
    assert "[/x].parquet" in out and "[/m]" in out


def test_a_negative_seed_is_refused_by_name_before_anything_is_written(tmp_path: Path,
                                                                     run: Run) -> None:
    """``--seed -1`` used to fail deep inside numpy with "expected non-negative integer" (no
    option named), after ``search`` had recorded a study with seed=-1 that blocked the rerun,
    and after ``collect`` had left its .partial folder behind."""
    good = synthetic(n=30, epochs=4).save(tmp_path / "good.parquet")
    db, out = tmp_path / "s.db", tmp_path / "c.parquet"
    for args in (["search", "--workload", "digits-metaqnn", "--trials", "1", "--epochs", "1",
                  "--storage", f"sqlite:///{db}"],
                 ["collect", "--workload", "digits-metaqnn", "--configs", "1", "--epochs", "1",
                  "--out", out],
                 ["evaluate", good], ["simulate", good],
                 ["data", "plot", good, "--out", tmp_path / "x.png"]):
        refused(*run(*args, "--seed", "-1"), "Invalid value for '--seed'",
                "greater than or equal to 0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.parquet"]


@pytest.mark.parametrize(("storage", "fragment"), [
    ("notes.txt", "notes.txt: not an Optuna storage URL"),
    ("bogus://host/db", "bogus://host/db: not an Optuna storage URL"),
    ("mysql://user:secret@localhost:1/db", "mysql://user:***@localhost:1/db: its database "
                                           "driver is not installed"),
])
def test_a_storage_that_is_no_database_url_is_one_line(tmp_path: Path, run: Run, storage: str,
                                                       fragment: str) -> None:
    """A file name, an unknown scheme or a missing driver used to end in SQLAlchemy's or
    Optuna's traceback, in ``data import optuna`` and in ``search --prior STORAGE#STUDY``."""
    pytest.importorskip("optuna")
    if storage.startswith("mysql"):
        import importlib.util

        if importlib.util.find_spec("MySQLdb") is not None:
            pytest.skip("a MySQL driver is installed")
    refused(*run("data", "import", "optuna", storage, "--study", "s", "--out",
                 tmp_path / "o.parquet"), fragment)
    if "://" in storage:  # (--prior takes a plain path for an SQLite file)
        refused(*run("search", "--workload", "digits-metaqnn", "--trials", "1", "--epochs", "1",
                     "--storage", f"sqlite:///{tmp_path / 's.db'}", "--prior", f"{storage}#s"),
                fragment)
    assert list(tmp_path.iterdir()) == []


def test_an_import_to_a_folder_is_refused_before_reading(tmp_path: Path, run: Run) -> None:
    """``data import … --out FOLDER`` used to read the whole input, then fail renaming a temporary
    file ('….tmp: Device or resource busy'); CurveSet.save refuses a folder by name too."""
    (tmp_path / "dir").mkdir()
    table = wide_table(tmp_path / "w.csv")
    for out in (tmp_path / "dir", tmp_path):
        refused(*run("data", "import", "table", table, "--curves", r"acc_(\d+)", "--metric", "m",
                     "--direction", "max", "--out", out), f"{out}: is a folder")
    long = tmp_path / "long.csv"
    long.write_text("config_id,epoch,value\nc0,1,0.5\n")
    refused(*run("data", "import", "long", long, "--metric", "m", "--direction", "max",
                 "--out", tmp_path / "dir"), "dir: is a folder")
    with pytest.raises(IsADirectoryError, match="dir: is a folder"):
        synthetic(n=3, epochs=2).save(tmp_path / "dir")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["dir", "long.csv", "w.csv"]


def test_curves_that_all_diverged_are_refused_not_replayed(tmp_path: Path, run: Run) -> None:
    """Every value NaN (or ±inf): the diverged-value rule has no worst value to fill in;
    ``evaluate`` used to print an empty table and ``simulate`` a 'best kept 0.00' row, exit 0."""
    good = synthetic(n=30, epochs=4)
    for name, bad in (("nan", np.nan), ("inf", np.inf)):
        path = CurveSet(values=np.full(good.values.shape, bad), observed=good.observed,
                        epochs=good.epochs, metric="m", direction=good.direction,
                        configs=good.configs).save(tmp_path / f"{name}.parquet")
        for command in (["evaluate", path, "--train-size", "10", "--repeats", "1"],
                        ["simulate", path, "--stopper", "never", "--orderings", "1"]):
            refused(*run(*command), "every observed m value is NaN or ±inf",
                    "120 values of 30 configs")


def test_evaluate_says_which_cells_it_skipped_and_refuses_no_experiment(tmp_path: Path,
                                                                        run: Run) -> None:
    """The cells a predictor refuses were dropped from the table without a word (a blank table
    and exit 0 on a one-epoch set); ``--experiments ,`` ran nothing and printed an empty table.
    Since stop 35 a one-epoch set is refused up front (every cell was skipped)."""
    path = synthetic(n=30, epochs=1).save(tmp_path / "one_epoch.parquet")
    refused(*run("evaluate", path, "--train-size", "10", "--repeats", "1", "--experiments",
                 "table1", "--predictors", "ols,last-value"),
            "the curves have 1 trained epoch: there is no partial curve to predict")
    path = synthetic(n=30, epochs=8).save(tmp_path / "shallow.parquet")
    code, _, err = run("evaluate", path, "--train-size", "10", "--repeats", "1",
                       "--experiments", "table1,depth_generalisation", "--predictors", "ols")
    assert code == 0, err
    [note] = [line for line in err.splitlines() if line.startswith("note:")]
    assert note.startswith("note: 1 cell(s) skipped (depth_generalisation ols ts+ap+hp 25 %): "
                           "too few complete configs on one side of the median depth"), note
    refused(*run("evaluate", path, "--experiments", ","), "--experiments names none")


def test_simulate_refuses_bad_f_hyperband_numbers_before_any_replay(tmp_path: Path,
                                                                    run: Run) -> None:
    """κ and d were checked only when f-Hyperband's first replay started, after Hyperband's (a
    progress line, then the error)."""
    path = synthetic(n=30, epochs=4).save(tmp_path / "good.parquet")
    for option, value, fragment in (("--kappa", "0", "kappa (κ) must be in (0, 1], got 0.0"),
                                    ("--min-curves", "2", "min_curves (d) must be >= 6")):
        refused(*run("simulate", path, "--searcher", "fhyperband", "--orderings", "1", option,
                     value), fragment)


def test_a_plots_folder_that_is_a_file_or_has_no_parent_is_refused_up_front(
        tmp_path: Path, run: Run) -> None:
    """``--plots FILE`` failed with 'File exists' after every replay (the JSON written, the
    table printed); ``--plots a/b/c`` made every missing folder, where ``--json`` refuses one."""
    path = synthetic(n=30, epochs=4).save(tmp_path / "good.parquet")
    for command in (["simulate", path, "--stopper", "never", "--orderings", "1"],
                    ["evaluate", path, "--train-size", "10", "--repeats", "1"]):
        refused(*run(*command, "--plots", path, "--json", tmp_path / "r.json"),
                "good.parquet: is a file; give a folder")
        refused(*run(*command, "--plots", tmp_path / "a" / "b"), "folder", "a' does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.parquet"]
    code, _, err = run("simulate", path, "--stopper", "never", "--orderings", "1", "--plots",
                       tmp_path / "plots")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "good-anytime-regret.png", "good-speedup.png"]


def test_a_search_too_large_for_memory_is_refused_before_a_study_is_recorded(
        tmp_path: Path, run: Run) -> None:
    """``--trials`` × ``--epochs`` past any memory ended in numpy's _ArrayMemoryError
    traceback, and later in an 'out of memory' line after the study had been recorded with the
    impossible numbers (so a rerun had to pick another --study).  The search's table of values
    is now sized against the machine's memory first: nothing is written."""
    huge, most = "1000000000", "1000000"  # the most epochs a study's axis may have (stop 34)
    db = tmp_path / "s.db"
    refused(*run("search", "--workload", "digits-metaqnn", "--trials", huge, "--epochs", most,
                 "--workers", "1", "--storage", f"sqlite:///{db}"),
            f"--trials {huge} x --epochs {most} needs a table of 7.45e+06 GiB of values, more "
            "than this machine's", "GiB: lower --trials or --epochs")
    assert not db.exists()


def test_an_empty_metric_name_is_refused(tmp_path: Path, run: Run) -> None:
    """``--metric ''`` (or blanks) used to be stored as the metric's name, which every table and
    report then printed as nothing; CurveSet refuses it by name, and so does each import."""
    table = wide_table(tmp_path / "w.csv")
    for metric in ("", "  "):
        refused(*run("data", "import", "table", table, "--curves", r"acc_(\d+)", "--metric",
                     metric, "--direction", "max", "--out", tmp_path / "c.parquet"),
                "metric must be a non-empty name, got '")
    good = synthetic(n=3, epochs=2)
    with pytest.raises(ValueError, match="metric must be a non-empty name"):
        CurveSet(values=good.values, observed=good.observed, epochs=good.epochs, metric="",
                 direction=good.direction, configs=good.configs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.csv"]


# the stop-25 audit: tables pandas would misread without a word, a skipped epoch, a
# non-finite diverged_value
def import_table(run: Run, path: Path, text: str) -> tuple[int, str, str]:
    path.write_text(text)
    return run("data", "import", "table", path, "--curves", r"acc_(\d+)", "--metric", "acc",
               "--direction", "maximize", "--out", path.with_suffix(".parquet"))


@pytest.mark.parametrize(("text", "message"), [
    ("acc_1,acc_1\n0.1,0.2\n", "the header repeats the column name 'acc_1'"),
    # with a UTF-8 BOM (Excel's "CSV UTF-8"): read as '\ufeffacc_1', the first name did not
    # repeat the second, and pandas renamed the second to acc_1.1 (a review, stop 36)
    ("\ufeffacc_1,acc_1,acc_2\r\n0.1,0.5,0.6\r\n", "the header repeats the column name 'acc_1'"),
    ("acc_1,acc_2\n0.1,0.2\n0.1,0.2,0.5\n", "line 3 has 3 fields, the header 2"),
    ("acc_1,acc_2\n0.1,0.2,0.7\n0.1,0.2\n", "line 2 has 3 fields, the header 2"),
])
def test_a_table_pandas_would_misread_is_refused(tmp_path: Path, run: Run, text: str,
                                                 message: str) -> None:
    code, out, err = import_table(run, tmp_path / "t.csv", text)
    assert code == 2, (out, err)
    assert err == f"error: {tmp_path / 't.csv'}: {message}\n"
    assert not (tmp_path / "t.parquet").exists()
    with pytest.raises(curvecast.CurveSetFormatError, match=message):
        curvecast.from_table(tmp_path / "t.csv", r"acc_(\d+)", "acc", "max")


def test_a_row_with_fewer_fields_has_empty_cells(tmp_path: Path, run: Run) -> None:
    code, _, err = import_table(run, tmp_path / "t.csv", "acc_1,acc_2\n0.1,0.2\n0.3\n")
    assert code == 0, err
    curves = CurveSet.load(tmp_path / "t.parquet")
    np.testing.assert_array_equal(curves.n_observed(), [2, 1])
    assert curves.gap_warning() is None


def test_a_skipped_epoch_counts_as_diverged_and_the_import_says_so(tmp_path: Path,
                                                                   run: Run) -> None:
    code, out, err = import_table(run, tmp_path / "t.csv",
                                  "acc_1,acc_2,acc_3\n,0.2,0.3\n0.1,,0.3\n0.2,0.4,\n")
    assert code == 0, err
    assert "3 configs (2 complete)" in out
    assert err.startswith("warning: t.csv: 2 empty value(s) lie before a later epoch's value")
    # and the run that ends early is noted, with how to write a diverged value
    assert err.count("\n") == 2
    assert err.splitlines()[1].startswith("note: t.csv: 1 of 3 runs end before the last epoch")
    curves = CurveSet.load(tmp_path / "t.parquet")
    assert curves.provenance["gap_cells"] == 2
    np.testing.assert_array_equal(curves.diverged().sum(axis=1), [1, 1, 0])
    # the worst value observed stands in for the two gaps
    np.testing.assert_allclose(curves.filled_values()[:2], [[0.1, 0.2, 0.3], [0.1, 0.1, 0.3]])
    # the third run simply stopped after two epochs: not a gap
    assert curves.n_observed()[2] == 2


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), "0.1", True])
def test_diverged_value_must_be_a_finite_number(tmp_path: Path, value: object) -> None:
    path = tmp_path / "t.csv"
    path.write_text("acc_1,acc_2\n0.1,nan\n0.2,0.3\n")
    with pytest.raises(ValueError, match="diverged_value must be None"):
        curvecast.from_table(path, r"acc_(\d+)", "acc", "max",
                             diverged_value=value)  # type: ignore[arg-type]
    ok = curvecast.from_table(path, r"acc_(\d+)", "acc", "max", diverged_value=0)
    assert ok.diverged_value == 0.0 and ok.filled_values()[0, 1] == 0.0


@pytest.mark.parametrize(("args", "message"), [
    (("evaluate", "{data}", "--predictors", "ols", "--draws", "-1"), "--draws must be >= 1, got -1"),
    (("evaluate", "{data}", "--predictors", "ols,ols"), "predictor(s) ['ols'] named twice in"),
    (("simulate", "{data}", "--stopper", "median", "--keep-top-k", "0"),
     "--keep-top-k must be >= 1, got 0"),
    (("simulate", "{data}", "--stopper", "median", "--margin", "nan"),
     "--margin must be finite and >= 0, got nan"),
    (("simulate", "{data}", "--stopper", "median,median"), "stopper(s) ['median'] named twice"),
])
def test_options_no_stopper_or_predictor_reads_are_still_checked(tmp_path: Path, run: Run,
                                                                  args: tuple[str, ...],
                                                                  message: str) -> None:
    """A wrong value of an option is refused even when the rules chosen do not read it, and a
    name listed twice is refused instead of giving duplicate rows."""
    data = synthetic(n=30, epochs=4).save(tmp_path / "s.parquet")
    code, out, err = run(*(a.format(data=data) for a in args))
    refused(code, out, err, message)


def test_an_empty_metric_name_for_an_optuna_import_is_refused(tmp_path: Path, run: Run) -> None:
    pytest.importorskip("optuna")
    code, out, err = run("data", "import", "optuna", f"sqlite:///{tmp_path / 'none.db'}",
                         "--study", "s", "--metric", " ", "--out", tmp_path / "o.parquet")
    refused(code, out, err, "--metric: an empty name")


def test_evaluate_scores_do_not_depend_on_the_metric_units(run: Run, tmp_path: Path) -> None:
    """A user's review: values ×1e-170 gave R² = 1.000 for every predictor (the squared errors
    underflowed to 0), values ×1e300 gave NaN.  R² is unit-free and RMSE scales with the values."""
    import json
    from dataclasses import replace

    base = synthetic(n=140, epochs=8, seed=3)
    scores = {}
    for scale in (1.0, 1e-170, 1e150):
        path = replace(base, values=base.values * scale).save(tmp_path / f"s{scale:g}.parquet")
        code, _, err = run("evaluate", path, "--predictors", "last-value", "--experiments",
                           "table1", "--fractions", "0.25", "--repeats", "1", "--json",
                           tmp_path / f"s{scale:g}.json")
        assert code == 0, err
        records = json.loads((tmp_path / f"s{scale:g}.json").read_text())["results"]
        scores[scale] = {r["metric"]: r["mean"] for r in records}
    assert scores[1e-170]["r2"] == pytest.approx(scores[1.0]["r2"], abs=1e-9)
    assert scores[1e150]["r2"] == pytest.approx(scores[1.0]["r2"], abs=1e-9)
    assert scores[1.0]["r2"] < 0.99  # a real score (last-value: −3.7 here), not underflow's 1.0
    assert scores[1e-170]["rmse"] == pytest.approx(scores[1.0]["rmse"] * 1e-170, rel=1e-9)


def test_r2_of_final_values_that_are_all_equal_is_undefined(run: Run, tmp_path: Path) -> None:
    """A user's review (stop 29): identical curves (or a set where every run diverged) gave
    R² = 0.000 for every predictor (scikit-learn's ``force_finite``), while Kendall's τ was
    null in the same JSON: R² of a constant is undefined, NaN (null in JSON)."""
    import json

    values = np.tile(np.linspace(0.1, 0.9, 8), (60, 1))
    curves = CurveSet(values=values, observed=np.ones_like(values, dtype=bool),
                      epochs=np.arange(1, 9), metric="acc", direction=Direction.MAXIMIZE,
                      configs=pd.DataFrame(index=[f"c{i}" for i in range(60)]))
    path = curves.save(tmp_path / "same.parquet")
    code, out, err = run("evaluate", path, "--predictors", "ols,last-value", "--experiments",
                         "table1", "--fractions", "0.25", "--repeats", "1", "--train-size", "30",
                         "--json", tmp_path / "r.json")
    assert code == 0, err
    r2 = [r["mean"] for r in json.loads((tmp_path / "r.json").read_text())["results"]
          if r["metric"] == "r2"]
    assert r2 == [None, None] and "nan" in out


def test_evaluate_says_why_it_left_the_depth_experiment_out(run: Run, tmp_path: Path) -> None:
    """A user's review: without an ``n_layers`` column the depth experiment was left out without
    a word (its table and JSON records simply missing)."""
    import json
    from dataclasses import replace

    base = synthetic(n=140, epochs=8, seed=3)  # every config has 3 layers
    for name, curves, said in (
            ("one-depth", base, "too few complete configs on one side of the median depth 3 "
                                "(140 at or below it, 0 above; 10 on each side needed)"),
            ("no-depth", replace(base, configs=base.configs.drop(columns="n_layers")),
             "the configs have no n_layers column")):
        path = curves.save(tmp_path / f"{name}.parquet")
        code, _, err = run("evaluate", path, "--predictors", "last-value", "--experiments",
                           "table1,depth_generalisation", "--fractions", "0.25", "--repeats", "1",
                           "--json", tmp_path / f"{name}.json")
        assert code == 0, err
        assert "note: 1 cell(s) skipped (depth_generalisation last-value" in err
        assert said in " ".join(err.split())
        skipped = json.loads((tmp_path / f"{name}.json").read_text())["skipped"]
        assert [s["experiment"] for s in skipped] == ["depth_generalisation"]


def test_evaluate_says_where_lce_is_its_last_value_fallback(tmp_path: Path, run: Run) -> None:
    """A review with a researcher's 5-epoch curves: LCE fits its curve families only from 3
    observed epochs and predicts the last value below that, so its 10 % and 25 % cells (1 and
    2 epochs) equalled last-value's to the digit, and nothing said why."""
    path = synthetic(n=30, epochs=5).save(tmp_path / "five.parquet")
    code, _, err = run("evaluate", path, "--train-size", "20", "--repeats", "1",
                         "--experiments", "table1", "--predictors", "lce-fast,last-value",
                         "--fractions", "0.1,0.25")
    assert code == 0, err
    notes = [line for line in err.splitlines() if "observed epochs to fit" in line]
    assert notes == ["note: lce-fast needs 3 observed epochs to fit its curves; at 10 %, 25 % of "
                     "the curve (5 epochs) it observes fewer, so every prediction there is the "
                     "last value (as last-value's)"], notes
    code, _, err = run("evaluate", path, "--train-size", "20", "--repeats", "1",
                       "--experiments", "table1", "--predictors", "last-value",
                       "--fractions", "0.1,0.25")
    assert code == 0 and "observed epochs to fit" not in err


def test_evaluate_refuses_two_fractions_that_observe_the_same_epochs(tmp_path: Path,
                                                                     run: Run) -> None:
    """A review (stop 32): 1 % and 2 % of 20 epochs both observe one epoch, and evaluate
    reported the same numbers under two labels."""
    path = synthetic(n=40, epochs=20).save(tmp_path / "twenty.parquet")
    refused(*run("evaluate", path, "--train-size", "20", "--repeats", "1", "--experiments",
                 "table1", "--predictors", "last-value", "--fractions", "0.01,0.02,0.5"),
            "fractions 0.01, 0.02 all observe 1 of the 20 epochs")
    # a review with 3-epoch curves: the default fractions clash twice, and both are named
    three = synthetic(n=40, epochs=3).save(tmp_path / "three.parquet")
    refused(*run("evaluate", three, "--train-size", "20", "--repeats", "1", "--experiments",
                 "table1", "--predictors", "last-value"),
            "fractions 0.1, 0.25 all observe 1 of the 3 epochs; fractions 0.5, 0.75 all "
            "observe 2 of the 3 epochs (⌈fraction·T⌉")
    # the other experiments read only the fraction nearest 25 %: a short set still runs them
    short = synthetic(n=40, epochs=4).save(tmp_path / "four.parquet")
    code, _, err = run("evaluate", short, "--train-size", "20", "--repeats", "1",
                       "--experiments", "table2", "--predictors", "ols")
    assert code == 0, err
