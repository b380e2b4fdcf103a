"""Issue 13: over a hundred bad invocations of the command line, each answered with exit code 2,
one ``error:`` line, no traceback, and nothing written."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curvecast import CurveSet, Direction
from curvecast.cli import main
from curvecast.store import Store
from synthetic_curves import synthetic

#: (arguments, a fragment of the error line); {name} stands for an input file of `inputs`.
BAD: list[tuple[str, str]] = [
    ("", "Missing command"),
    ("bogus", "No such command 'bogus'"),
    ("--bogus", "No such option: --bogus"),
    ("data", "Missing command"),
    ("data import", "Missing command"),
    ("collect", "Missing option '--workload'"),
    ("collect --workload nope --configs 1 --epochs 1 --out x.parquet", "unknown workload 'nope'"),
    ("collect --workload digits-metaqnn --configs 0 --epochs 1 --out x.parquet",
     "--configs must be at least 1, got 0"),
    ("collect --workload digits-metaqnn --configs -3 --epochs 1 --out x.parquet", "got -3"),
    ("collect --workload digits-metaqnn --configs 1 --epochs 0 --out x.parquet",
     "--epochs must be at least 1"),
    ("collect --workload digits-metaqnn --configs 1 --epochs 1 --workers -1 --out x.parquet",
     "--workers must be at least 1 (or 0 for all cores)"),
    ("collect --workload digits-metaqnn --configs 1 --epochs 1 --out nowhere/x.parquet",
     "folder 'nowhere' does not exist"),
    ("collect --workload digits-metaqnn --configs 1 --epochs 1 --out {good}",
     "holds curves `curvecast collect` did not make"),
    ("collect --wrkers 2", "No such option: --wrkers"),
    ("data summary", "Missing argument"),
    ("data summary missing.parquet", "missing.parquet"),
    ("data summary {text}", "text.txt"),
    ("data summary {csv}", "tiny.csv"),
    ("data summary {good} --jsn", "No such option: --jsn"),
    ("data plot missing.parquet --out x.png", "missing.parquet"),
    ("data plot {header} --out x.png", "no rows below the header"),
    ("data import baker2018 missing.csv --out x.parquet", "missing.csv: no such file"),
    ("data import baker2018 {header} --out x.parquet", "no rows below the header"),
    ("data import baker2018 {notbaker} --out x.parquet", "not one of the Baker et al. 2018"),
    ("data import baker2018 {text} --out x.parquet", "not one of the Baker et al. 2018"),
    ("data import baker2018 {csv} --out nowhere/x.parquet", "does not exist"),
    ("data import baker2018 {csv}", "Missing option '--out'"),
    # a fresh user's review: a file given as the experiment said "no such experiment directory"
    ("data import ray {csv} --metric acc --direction maximize --out x.parquet",
     "a file, not a Ray Tune experiment directory"),
    ("evaluate missing.parquet", "missing.parquet"),
    ("evaluate {good} --predictors bogus", "unknown predictor(s) ['bogus']"),
    # a review (stop 35): every cell was skipped with an internal message, and it exited 0
    ("evaluate {dprior} --predictors ols", "the curves have 1 trained epoch: there is no "
     "partial curve to predict a final value from"),
    ("evaluate {good} --predictors ,", "unknown predictor(s)"),
    ("evaluate {good} --fractions a,b", "--fractions must be comma-separated numbers"),
    ("evaluate {good} --json nowhere/x.json", "folder 'nowhere' does not exist"),
    ("simulate missing.parquet", "missing.parquet"),
    ("simulate {good} --searcher bogus", "unknown searcher(s) ['bogus']"),
    ("simulate {good} --stopper bogus", "unknown stopper(s) ['bogus']"),
    ("simulate {good} --stopper ,", "unknown stopper(s)"),
    # a user's review (stop 29): --eta was checked after the predictive replays had run, and a
    # repeated Δ was run twice and pooled
    ("simulate {good} --stopper predictive,asha --eta 1",
     "--eta must be a finite number > 1, got 1.0"),
    ("simulate {good} --searcher hyperband --eta inf",
     "--eta must be a finite number > 1, got inf"),
    # a review (stop 35): a bracket table of 3e7 brackets, built in the replay, never ended
    ("simulate {good} --searcher hyperband --eta 1.0000001",
     "eta (η) 1.0000001 is too close to 1 for R = "),
    ("simulate {good} --delta 0.9,0.95,0.9", "--delta gives 0.9 more than once"),
    ("evaluate {good} --fractions 0.1,0.1", "--fractions gives 0.1 more than once"),
    ("simulate {good} --json {good}", "is the file this command reads"),
    ("simulate {good} --delta x", "--delta must be comma-separated numbers"),
    ("simulate {good} --trials -1", "--trials must be >= 0, got -1"),
    ("simulate {good} --refit-every -1", "--refit-every must be >= 0, got -1"),
    ("simulate {good} --prior-fraction 1", "--prior-fraction must be in [0, 1), got 1.0"),
    ("simulate {good} --prior-fraction -0.1", "--prior-fraction must be in [0, 1)"),
    ("simulate {good} --prior-fraction 0.1", "holds out 3 configs; the predictor needs at least 6"),
    ("simulate {good} --predictor bogus", "unknown predictor 'bogus'"),
    ("simulate {good} --min-complete 3", "--min-complete 3 is too few"),
    ("simulate {good} --min-complete -3", "Invalid value for '--min-complete'"),
    ("simulate {good} --explore-trials -1", "Invalid value for '--explore-trials'"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --min-complete -3",
     "Invalid value for '--min-complete'"),
    ("simulate {good} --json nowhere/x.json", "folder 'nowhere' does not exist"),
    ("simulate {ppl} --arcsine-target", "arcsine_target=True needs every value in [0, 1]"),
    ("simulate {good} --sigma-model wide", "sigma_model must be 'per_tau' or 'local'"),
    ("simulate {good} --searcher metaqnn", "net"),
    ("search", "Missing option '--workload'"),
    ("search --workload digits-metaqnn --trials 1", "Missing option '--epochs'"),
    ("search --workload nope --trials 1 --epochs 1", "unknown workload 'nope'"),
    ("search --workload digits-metaqnn --trials 0 --epochs 1", "--trials must be at least 1, got 0"),
    ("search --workload digits-metaqnn --trials 1 --epochs 0", "--epochs must be at least 1, got 0"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --workers -2",
     "--workers must be at least 0, got -2"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --study=", "must not be empty"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --study " + "y" * 300,
     "at most 200 characters, got 300"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --stopper bogus",
     "unknown stopper 'bogus'"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --searcher bogus",
     "unknown searcher 'bogus'"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --backend bogus",
     "unknown backend 'bogus'"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --address h:1",
     "--address is for Ray: use it with --backend ray"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --prior missing.parquet",
     "missing.parquet"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --prior {text}", "text.txt"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --prior {ppl}",
     "the prior's metric is 'val_perplexity'"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --prior {good}",
     "the prior's metric is 'm' but workload 'digits-metaqnn' measures 'val_accuracy'"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --min-complete 3",
     "--min-complete 3 is too few"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --sigma-model wide",
     "sigma_model must be 'per_tau' or 'local'"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --storage postgresql://h/db",
     "only sqlite:///PATH is supported"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --storage sqlite:///nowhere/x.db",
     "folder 'nowhere' does not exist"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --storage sqlite://",
     "names no file"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --delta 0",
     "--delta (Δ) must be in (0, 1], got 0.0"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --delta 1.5",
     "--delta (Δ) must be in (0, 1], got 1.5"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --refit-every -1",
     "--refit-every must be >= 0 (0: fit once), got -1"),
    ("search --workload mnist1d-hp --trials 1 --epochs 1 --searcher metaqnn",
     "--searcher metaqnn needs an architecture"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --searcher tpe",
     "--searcher tpe needs a hyperparameter space"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --searcher hyperband --prior {dprior}",
     "--prior warm-starts a predictor; --searcher hyperband has none"),
    ("search --workload digits-metaqnn --trials 1 --epochs 2 --searcher fhyperband --prior {dprior}",
     "has 1 epochs, the search trains 2"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --searcher hyperband --backend ray "
     "--ray-storage somewhere", "--ray-storage is no longer used: a Ray search keeps its "
     "checkpoints in the study's checkpoint folder beside the database"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --searcher hyperband --stopper nope",
     "--searcher hyperband stops runs itself, at its rungs: --stopper nope would not be used"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --searcher fhyperband --stopper median",
     "--stopper median would not be used; leave --stopper out"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --stopper median --delta 0.9",
     "--stopper median does not read --delta (the predictive rule's settings): leave it out, "
     "or use --stopper predictive"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --stopper asha --explore 0.2 "
     "--refit-every 3", "--stopper asha does not read --explore, --refit-every"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --searcher hyperband "
     "--min-complete 7", "--searcher hyperband does not read --min-complete: leave it out"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --searcher fhyperband "
     "--final-stretch 0.3", "--searcher fhyperband does not read --final-stretch"),
    ("search --workload digits-metaqnn --trials 1 --epochs 1 --stopper median --prior {dprior}",
     "--prior warm-starts the predictive stopper"),
    ("studies --storage sqlite:///missing.db", "missing.db: no such study database"),
    ("studies --storage sqlite:///{text}", "not a curvecast study database"),
    ("studies --storage mysql://x", "only sqlite:///PATH is supported"),
    ("show", "Missing option '--study'"),
    ("show --study s --storage sqlite:///missing.db", "no such study database"),
    ("show --study nope --storage sqlite:///{db}", "no study 'nope'"),
    ("show --study s --storage sqlite:///{text}", "not a curvecast study database"),
    ("export --study nope --storage sqlite:///{db} --out x.parquet", "no study 'nope'"),
    ("export --study s --storage sqlite:///{db} --out nowhere/x.parquet", "does not exist"),
    ("export --study s --storage sqlite:///missing.db --out x.parquet", "no such study database"),
    ("export --study s --storage sqlite:///{db}", "Missing option '--out'"),
    ("export --study s --storage sqlite:///{db} --out .", ".: is a folder"),
    ("data import baker2018 {csv} --out .", ".: is a folder"),
    ("data plot {good} --out .", ".: is a folder"),
    ("evaluate {good} --json .", ".: is a folder"),
    ("simulate {good} --stopper never --json .", ".: is a folder"),
    ("data summary .", ".: a folder, not a file"),
    ("data import baker2018 . --out x.parquet", ".: a folder, not a file"),
    ("report", "give RESULT.json"),
    ("report {json} --study s", "not both"),
    ("report missing.json", "missing.json: no such result file"),
    ("report {text}", "not a JSON file"),
    ("report {notresult}", "not a result of `curvecast evaluate`"),
    ("report --study nope --storage sqlite:///{db}", "no study 'nope'"),
    ("report --study s --storage sqlite:///missing.db", "no such study database"),
    ("report {json} --out r.png", "r.png: the report is one HTML page; name the file .html"),
    ("report --study s --storage sqlite:///{db} --out r.json", "name the file .html"),
]
#: Numeric options given a word: click's usage errors, one line too.
WORDS = {
    "collect --workload digits-metaqnn --out x.parquet --configs 1 --epochs 1":
        ["--configs", "--epochs", "--seed", "--workers"],
    "search --workload digits-metaqnn --trials 1 --epochs 1":
        ["--trials", "--epochs", "--workers", "--min-complete", "--delta", "--refit-every",
         "--seed", "--explore-trials"],
    "simulate {good}": ["--trials", "--orderings", "--workers", "--seed", "--min-complete",
                        "--draws", "--refit-every", "--keep-top-k", "--margin", "--eta",
                        "--kappa", "--min-curves", "--prior-fraction", "--explore-trials"],
    "evaluate {good}": ["--train-size", "--repeats", "--draws", "--seed"],
    "data plot {good} --out x.png": ["--n", "--seed"],
}
for _base, _options in WORDS.items():
    BAD += [(f"{_base} {option} many", f"Invalid value for '{option}'") for option in _options]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    synthetic(n=30, epochs=6).save(folder / "good.parquet")
    ppl = synthetic(n=30, epochs=6, direction=Direction.MINIMIZE)
    CurveSet(values=ppl.values, observed=ppl.observed, epochs=ppl.epochs,
             metric="val_perplexity", direction=ppl.direction, configs=ppl.configs
             ).save(folder / "ppl.parquet")
    from curvecast.workloads import DigitsMetaQNN

    wl = DigitsMetaQNN()
    rows = [{**c, **wl.describe(c)} for c in
            (wl.space.sample(np.random.default_rng(i)) for i in range(8))]
    CurveSet(values=np.full((8, 1), 0.5), observed=np.ones((8, 1), dtype=bool),
             epochs=np.array([1]), metric="val_accuracy", direction=Direction.MAXIMIZE,
             configs=pd.DataFrame(rows, index=[f"c{i}" for i in range(8)])
             ).save(folder / "dprior.parquet")
    (folder / "text.txt").write_text("hello\n")
    (folder / "notbaker.csv").write_text("a,b\n1,2\n")
    (folder / "header.csv").write_text("net,num_params,depth,lr,acc_1\n")
    pd.DataFrame({"net": ["[C(64,1,1), GAP(10), SM(10)]"], "num_params": [832], "depth": [3],
                  "lr": [1e-3], "acc_1": [0.2]}).to_csv(folder / "tiny.csv", index=False)
    (folder / "result.json").write_text('{"settings": {}, "results": [{"x": 1}]}')
    (folder / "notresult.json").write_text('[1, 2]')
    with Store(folder / "study.db") as store:
        store.create_study("s", metric="val_accuracy", direction="maximize")
        store.add_trial("s", {"lr": 0.1})
        store.record_value("s", 0, 1, 0.5)
    return folder


def _state(folder: Path) -> dict[str, tuple[int, float]]:
    """Size and time of change of every file (not SQLite's -wal/-shm index, which even a
    read-only reader of a WAL database keeps)."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime) for p in folder.iterdir()
            if not p.name.endswith(("-wal", "-shm"))}


def test_there_are_over_a_hundred() -> None:
    assert len(BAD) >= 100 and len({args for args, _ in BAD}) == len(BAD)


@pytest.mark.parametrize(("args", "fragment"), BAD, ids=[a[:60] for a, _ in BAD])
def test_a_bad_invocation_is_one_line_exit_2_and_writes_nothing(
        args: str, fragment: str, inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    names = {"db": "study.db", "json": "result.json", "csv": "tiny.csv"}
    files = {p.stem: str(p) for p in inputs.iterdir()} | {
        k: str(inputs / v) for k, v in names.items()}
    argv = [a.format(**files) for a in args.split(" ")] if args else []
    before = _state(inputs)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["curvecast", *argv])
    with pytest.raises(SystemExit) as exit_:
        main()
    out, err = capsys.readouterr()
    assert exit_.value.code == 2, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and out == ""
    assert fragment in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran
    assert _state(inputs) == before  # nor to its inputs
