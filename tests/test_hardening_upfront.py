"""Issue 13, items 5–8: bad input is answered before any training, with one line and exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from curvecast import CurveSet, Direction
from curvecast.cli import app
from curvecast.execution.live import open_study
from curvecast.store import Store
from curvecast.workloads import DigitsMetaQNN
from synthetic_curves import synthetic


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stderr


def refused(code: int, stderr: str, *fragments: str) -> None:
    assert code == 2, stderr
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    for fragment in fragments:
        assert fragment in stderr, stderr


def search(db: Path, *extra: str | Path) -> tuple[int, str]:
    return run("search", "--workload", "digits-metaqnn", "--trials", "3", "--epochs", "2",
               "--workers", "1", "--storage", f"sqlite:///{db}", *extra)


def digits_like(n: int, metric: str = "val_accuracy", workload: str = "digits-metaqnn"
                ) -> CurveSet:
    """``n`` complete 2-epoch curves with the digits workload's config columns."""
    wl = DigitsMetaQNN()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        config = wl.space.sample(np.random.default_rng(i))
        rows.append({**config, **wl.describe(config)})
    configs = pd.DataFrame(rows, index=[f"c{i}" for i in range(n)])
    values = np.sort(rng.uniform(0.1, 0.9, (n, 2)), axis=1)
    return CurveSet(values=values, observed=np.ones((n, 2), dtype=bool), epochs=np.arange(1, 3),
                    metric=metric, direction=Direction.MAXIMIZE, configs=configs,
                    provenance={"workload": workload})


def test_min_complete_too_small_for_the_predictor_is_refused_up_front(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    for m in ("3", "4"):  # the default predictor judges from 5 complete curves on
        refused(*search(db, "--min-complete", m), f"--min-complete {m} is too few",
                "HorizonChain needs 5 complete curves", "use --min-complete 5 or more")
    refused(*search(db, "--min-complete", "5", "--predictor", "srm"),
            "--min-complete 5 is too few", "needs 6 complete curves",
            "use --min-complete 6 or more")
    assert not db.exists()
    prior = tmp_path / "few.parquet"
    digits_like(4).save(prior)
    refused(*search(db, "--min-complete", "2", "--prior", prior, "--predictor", "srm"),
            "--min-complete 2 and 4 complete prior curves is too few")
    assert not db.exists()
    data = tmp_path / "syn.parquet"
    synthetic(n=30, epochs=6).save(data)
    refused(*run("simulate", data, "--min-complete", "4", "--stopper", "predictive"),
            "--min-complete 4 is too few")
    # with 9 prior curves held out, 3 completions are enough: the replay runs
    code, stderr = run("simulate", data, "--min-complete", "3", "--stopper", "predictive",
                       "--predictor", "srm", "--prior-fraction", "0.3", "--delta", "0.9",
                       "--orderings", "1", "--draws", "2")
    assert code == 0, stderr


def test_a_prior_of_another_workload_is_refused_before_training(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    lstm, mnist = tmp_path / "lstm.parquet", tmp_path / "mnist.parquet"
    digits_like(8, metric="val_perplexity", workload="text-lstm").save(lstm)
    digits_like(8, workload="mnist1d-hp").save(mnist)
    refused(*search(db, "--prior", lstm, "--min-complete", "6"),
            "the prior's metric is 'val_perplexity'", "measures 'val_accuracy'")
    refused(*search(db, "--prior", mnist, "--min-complete", "6"),
            "curves of workload 'mnist1d-hp', not 'digits-metaqnn'")
    refused(*search(db, "--prior", mnist, "--searcher", "fhyperband"),
            "curves of workload 'mnist1d-hp'")
    assert not db.exists()


def test_a_rerun_with_another_stopping_rule_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    settings = {"searcher": "random", "stopper": "predictive", "delta": 0.99, "min_complete": 100,
                "refit_every": 10, "prior": None, "sigma_model": "per_tau",
                "arcsine_target": False}
    with Store(db) as store:
        open_study(store, "s", DigitsMetaQNN(), 2, 1, settings)
    refused(*search(db, "--study", "s", "--delta", "0.9"),
            "study 's' was started with --delta 0.99, not 0.9")
    refused(*search(db, "--study", "s", "--stopper", "never"),
            "was started with --stopper predictive, not never")
    with Store(db) as store:
        assert store.count_trials("s") == 0


def test_a_rerun_with_another_predictor_final_stretch_or_exploration_is_refused(
        tmp_path: Path) -> None:
    """A user's review: a study resumed with another --predictor, --final-stretch or --explore
    ran on, judging its later trials by another rule (a changed predictor was refused only
    through the min-complete default that follows it, with a message about --min-complete)."""
    from curvecast.registry import Settings
    from curvecast.registry.search_plan import SearchRequest, plan_search

    db = tmp_path / "s.db"
    plan = plan_search(SearchRequest(workload="digits-metaqnn", trials=3, epochs=2, workers=1,
                                     settings=Settings(seed=1, predictor="last-value",
                                                       min_complete=5, refit_every=10)))
    assert plan.recorded["final_stretch"] == 0.0 and plan.recorded["explore"] == 0.0
    with Store(db) as store:
        open_study(store, "s", plan.workload, 2, 1, plan.recorded)
    base = ("--study", "s", "--min-complete", "5")
    refused(*search(db, *base), "study 's' was started with --predictor last-value, not chain")
    refused(*search(db, *base, "--predictor", "last-value", "--final-stretch", "0.2"),
            "study 's' was started with --final-stretch 0.0, not 0.2")
    refused(*search(db, *base, "--predictor", "last-value", "--explore", "0.1"),
            "study 's' was started with --explore 0.0, not 0.1")
    refused(*search(db, "--study", "s", "--predictor", "srm"),
            "study 's' was started with --predictor last-value, not srm")
    with Store(db) as store:
        assert store.count_trials("s") == 0
    chain = plan_search(SearchRequest(workload="digits-metaqnn", trials=3, epochs=2, workers=1))
    assert (chain.recorded["final_stretch"], chain.recorded["explore"]) == (0.2, 0.1)
    assert chain.recorded["explore_trials"] == 100  # stop 32: a rerun must give the same
    # a user's review (stop 29): the median rule and ASHA read no Δ and no predictor, so they
    # are not recorded; since stop 35 a value other than the default is refused up front as
    # unused (it was accepted silently: the user meant a rule that was not running)
    for stopper in ("median", "asha"):
        plan = plan_search(SearchRequest(workload="digits-metaqnn", trials=3, epochs=2,
                                         workers=1, stopper=stopper))
        assert not {"delta", "predictor", "final_stretch", "explore"} & set(plan.recorded)
        with pytest.raises(ValueError, match=f"--stopper {stopper} does not read --delta"):
            plan_search(SearchRequest(workload="digits-metaqnn", trials=3, epochs=2, workers=1,
                                      stopper=stopper, settings=Settings(delta=0.5)))
    # a review (stop 32): neither does Hyperband, which predicts nothing; f-Hyperband does
    plan = plan_search(SearchRequest(workload="digits-metaqnn", trials=3, epochs=2, workers=1,
                                     searcher="hyperband"))
    assert not {"delta", "predictor", "stopper"} & set(plan.recorded)
    f_plan = plan_search(SearchRequest(workload="digits-metaqnn", trials=3, epochs=2, workers=1,
                                       searcher="fhyperband", settings=Settings(min_complete=6)))
    assert {"delta", "predictor"} <= set(f_plan.recorded)


def test_a_header_only_csv_is_refused_with_a_message(tmp_path: Path) -> None:
    csv = tmp_path / "metaqnn.csv"
    csv.write_text("net,training_dataset,num_params,depth,lr,acc_1,acc_2\n")
    refused(*run("data", "import", "baker2018", csv, "--out", tmp_path / "x.parquet"),
            "metaqnn.csv: no rows below the header")
    assert not (tmp_path / "x.parquet").exists()


def test_fhyperband_runs_at_its_defaults() -> None:
    """A user's review: ``search --searcher fhyperband`` failed at its defaults with "min_curves
    (d) must be >= 6 (an SRM needs 2 × 3 folds), got 5", naming an option search does not
    have: the chain's min-complete default (5) was its d."""
    from curvecast.registry import Settings
    from curvecast.registry.search_plan import SearchRequest, plan_search

    plan = plan_search(SearchRequest(workload="digits-metaqnn", trials=9, epochs=9, workers=1,
                                     searcher="fhyperband"))
    assert plan.recorded["min_complete"] == 6
    refused(*run("search", "--workload", "digits-metaqnn", "--trials", "9", "--epochs", "9",
                 "--searcher", "fhyperband", "--min-complete", "5", "--storage",
                 "sqlite:///nowhere/x.db"),
            "--searcher fhyperband fits its rung predictors on --min-complete curves at a "
            "rung's end, at least 6, got 5")
    assert plan_search(SearchRequest(workload="digits-metaqnn", trials=9, epochs=9, workers=1,
                                     searcher="fhyperband",
                                     settings=Settings(min_complete=8))).recorded[
        "min_complete"] == 8


def test_a_hyperband_study_records_no_stopper_it_does_not_use(tmp_path: Path) -> None:
    """A user's review: a hyperband study recorded ``stopper: predictive`` (or whatever
    --stopper said), its report described the predictive rule, and a rerun with another
    --stopper, which the schedule never uses, was refused as a change of rule.  Since stop 30
    (another review: a misspelt --stopper passed silently) a --stopper other than the default
    is refused up front as unused, before any study is opened."""
    from curvecast.registry import Settings
    from curvecast.registry.search_plan import SearchRequest, plan_search
    from curvecast.report.study_report import write_study_report
    from curvecast.store import TrialState

    def plan(stopper: str) -> dict[str, object]:
        return plan_search(SearchRequest(workload="digits-metaqnn", trials=9, epochs=9,
                                         workers=1, searcher="hyperband", stopper=stopper,
                                         settings=Settings(seed=1))).recorded

    assert "stopper" not in plan("predictive")
    with Store(tmp_path / "h.db") as store:
        open_study(store, "h", DigitsMetaQNN(), 9, 1, plan("predictive"))
        open_study(store, "h", DigitsMetaQNN(), 9, 1, plan("predictive"))  # a rerun
        with pytest.raises(ValueError, match="--stopper median would not be used"):
            plan("median")
        store.add_trial("h", {"lr": 0.1})
        store.record_value("h", 0, 1, 0.5)
        store.set_state("h", 0, TrialState.STOPPED)
        info, trials = store.study_info("h"), store.trials("h")
    info["settings"]["stopper"] = "predictive"  # as studies before stop 27 recorded it
    page = write_study_report(info, trials, tmp_path / "h.html").read_text()
    assert "successive halving in Hyperband's brackets" in page and "stopper predictive" not in page


def test_every_resume_refusal_names_the_option(tmp_path: Path) -> None:
    """A user's review (stop 29): refusals mixed two styles, ``epochs=3`` and ``--delta 0.99``;
    each names the command-line option now."""
    from sgd_workload import SGDDigits

    with Store(tmp_path / "s.db") as store:
        open_study(store, "s", SGDDigits(), 3, 1, {})
        for epochs, seed, said in ((4, 1, "was started with --epochs 3, not 4"),
                                   (3, 2, "was started with --seed 1, not 2")):
            with pytest.raises(ValueError, match=said):
                open_study(store, "s", SGDDigits(), epochs, seed, {})


def test_a_prior_planned_for_other_epochs_is_refused_where_the_schedule_spans_them(
        tmp_path: Path) -> None:
    """A user's review (stop 30): ``search --workload mnist1d-hp --epochs 5 --prior
    data/mnist1d-hp.parquet`` cut the 30-epoch recordings to their first 5 epochs, which are not
    what a 5-epoch run does (its cosine or step schedule ends at epoch 5), and stopped trials on
    them.  A workload whose schedule spans the planned epochs now needs a prior planned for the
    search's epochs; digits-metaqnn (a fixed step decay) takes any longer prior, as before."""
    from curvecast.execution.live import check_prior
    from curvecast.workloads import MNIST1DHP

    db = tmp_path / "s.db"
    long = tmp_path / "long.parquet"
    data = CurveSet.load(Path(__file__).resolve().parents[1] / "data" / "mnist1d-hp.parquet")
    data.subset(np.arange(data.n_configs) < 8).save(long)
    code, stderr = run("search", "--workload", "mnist1d-hp", "--trials", "2", "--epochs", "5",
                       "--storage", f"sqlite:///{db}", "--prior", long)
    refused(code, stderr, "runs planned for 30 epochs", "plans its learning-rate schedule",
            "record the prior with --epochs 5, or search with --epochs 30")
    assert not db.exists()
    check_prior(data, MNIST1DHP(), "data/mnist1d-hp.parquet", epochs=30)  # the same plan: fine
    check_prior(digits_like(8), DigitsMetaQNN(), "digits", epochs=1)  # a fixed schedule


def test_a_refused_rerun_says_only_why(tmp_path: Path) -> None:
    """A review of stop 33: a finished study run again with another --delta printed "no new
    trial is started" and then the refusal, which read as two contradicting answers; the note
    now comes only once the settings are accepted."""
    db = f"sqlite:///{tmp_path / 's.db'}"
    argv = ("search", "--workload", "digits-metaqnn", "--trials", "1", "--epochs", "1",
            "--storage", db, "--workers", "1")
    code, _ = run(*argv)
    assert code == 0
    code, stderr = run(*argv, "--delta", "0.9")
    refused(code, stderr, "was started with --delta 0.99, not 0.9")
    assert "no new trial is started" not in stderr
    code, stderr = run(*argv)
    assert code == 0 and "no new trial is started" in stderr



def test_refit_every_is_compared_on_a_rerun_only_where_the_predictor_reads_it(
        tmp_path: Path) -> None:
    """A review (stop 34): a chain study rerun with another --refit-every was refused, though
    the chain learns from every report and never reads it; so was a Hyperband study rerun
    without the --min-complete it never read (since stop 35 refused up front as unused)."""
    from curvecast.registry import Settings
    from curvecast.registry.search_plan import SearchRequest, plan_search

    db = tmp_path / "s.db"

    def recorded(searcher: str, predictor: str, refit_every: int,
                 min_complete: int | None = None) -> dict[str, Any]:
        return plan_search(SearchRequest(
            workload="digits-metaqnn", searcher=searcher, trials=3, epochs=2, workers=1,
            settings=Settings(seed=1, predictor=predictor, refit_every=refit_every,
                              min_complete=min_complete))).recorded

    with Store(db) as store:
        for name, first, rerun, refused_with in (
                ("chain", recorded("random", "chain", 10), recorded("random", "chain", 5), ""),
                ("srm", recorded("random", "srm", 10), recorded("random", "srm", 5),
                 "was started with --refit-every 10, not 5")):
            open_study(store, name, DigitsMetaQNN(), 2, 1, first)
            if refused_with:
                with pytest.raises(ValueError, match=refused_with):
                    open_study(store, name, DigitsMetaQNN(), 2, 1, rerun)
            else:
                open_study(store, name, DigitsMetaQNN(), 2, 1, rerun)
    for searcher in ("hyperband", "fhyperband"):  # no refit cadence: refused up front (stop 35)
        with pytest.raises(ValueError, match=f"--searcher {searcher} does not read --refit-every"):
            recorded(searcher, "chain", 3, 6)


def test_an_epoch_budget_no_study_could_export_is_refused_before_training() -> None:
    """A review (stop 34): ``--epochs 1000001`` trained and recorded a study that ``export``
    and ``--prior`` then refused as tampered."""
    from curvecast.registry.search_plan import SearchRequest, plan_search

    with pytest.raises(ValueError, match="--epochs 1000001: at most 1000000 epochs"):
        plan_search(SearchRequest(workload="digits-metaqnn", trials=1, epochs=1_000_001,
                                  workers=1))


def test_a_hyperband_study_rerun_with_other_trials_is_refused_in_words(tmp_path: Path) -> None:
    """A review (stop 35): a Hyperband study resumed with a smaller --trials ran on and ended
    early (its record still said the larger), and a larger one was refused with the journal's
    internal message; its brackets are drawn for --trials, so a rerun must repeat it."""
    from curvecast.registry import Settings
    from curvecast.registry.search_plan import SearchRequest, plan_search

    def recorded(searcher: str, trials: int) -> dict[str, Any]:
        return plan_search(SearchRequest(workload="digits-metaqnn", searcher=searcher,
                                         trials=trials, epochs=2, workers=1,
                                         settings=Settings(seed=1))).recorded

    with Store(tmp_path / "s.db") as store:
        for searcher in ("hyperband", "fhyperband"):
            open_study(store, searcher, DigitsMetaQNN(), 2, 1, recorded(searcher, 20))
            open_study(store, searcher, DigitsMetaQNN(), 2, 1, recorded(searcher, 20))
            with pytest.raises(ValueError, match=f"study '{searcher}' was started with "
                                                 "--trials 20, not 12"):
                open_study(store, searcher, DigitsMetaQNN(), 2, 1, recorded(searcher, 12))
        # a FIFO study records no --trials: a rerun may ask for more
        open_study(store, "fifo", DigitsMetaQNN(), 2, 1, recorded("random", 20))
        open_study(store, "fifo", DigitsMetaQNN(), 2, 1, recorded("random", 30))
