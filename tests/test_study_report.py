"""`curvecast report --study`: every section the page promises, MetaQNN's ε and reward per trial."""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from curvecast.cli import app
from curvecast.report.study_report import metaqnn_trace, write_study_report
from curvecast.search import MetaQNN
from curvecast.store import Store, TrialState
from synthetic_study import BUDGET, STUDY, make_study

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MetaQNN]:
    db = tmp_path_factory.mktemp("study") / "s.db"
    return db, make_study(db)


def rows(page: str, heading: str) -> list[list[str]]:
    """The body rows (cell texts) of the first table after ``heading``."""
    table = page.split(heading, 1)[1].split("<table>", 1)[1].split("</table>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]


def test_report_of_a_metaqnn_study_shows_every_section(tmp_path: Path,
                                                       study: tuple[Path, MetaQNN]) -> None:
    db, agent = study
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--storage", f"sqlite:///{db}", "--study", STUDY,
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    with Store(db) as store:
        trials = store.trials(STUDY)
    pngs = [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]
    assert len(pngs) == 4 and all(p[:8] == PNG for p in pngs)
    for alt in ("learning curves", "cost against best", "stopping decisions",
                "MetaQNN epsilon and reward"):
        assert f'alt="{alt}"' in page
    for heading in ("Best configuration", "What was stopped, and what it cost",
                    "Stopping decisions over time", "MetaQNN: ε schedule and reward",
                    "Top configurations", "Every trial"):
        assert f"<h2>{heading}</h2>" in page
    assert "<script" not in page

    stopped = [t for t in trials if t.state is TrialState.STOPPED]
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert stopped and complete and len(trials) == BUDGET
    used = sum(len(t.values) for t in stopped + complete)
    full = 8 * len(stopped + complete)
    assert f"<b>{used} / {full}</b>" in page and f"<b>{full / used:.2f}x</b>" in page

    top = rows(page, "<h2>Top configurations</h2>")
    finals = sorted((t.values[-1][1] for t in complete), reverse=True)
    assert [float(r[2]) for r in top] == pytest.approx(finals[:10], rel=1e-3)
    assert top[0][1] == f"t{max(complete, key=lambda t: t.values[-1][1]).number}"

    every = rows(page, "<h2>Every trial</h2>")
    assert [r[0] for r in every] == [f"t{t.number}" for t in trials]
    by_number = {t.number: t for t in trials}
    eps = list(agent.asked_epsilons.values())
    for row in every:
        t = by_number[int(row[0][1:])]
        assert row[1] == t.state.value
        assert row[6] == f"{eps[t.number]:.2f}"  # the ε it was asked with
        if t.state is TrialState.STOPPED:
            assert row[7] == f"{t.predicted_value:.4g} (predicted)"
        elif t.state is TrialState.COMPLETE:
            assert row[7] == f"{t.values[-1][1]:.4g}"
        else:  # failed or running: never told
            assert row[7] == "–"
    # the third trial was asked under the first, smaller budget: ε 0.8, not the 1.0 the final
    # schedule would give it
    assert every[2][6] == "0.80"


def test_metaqnn_trace_is_what_the_agent_was_told(study: tuple[Path, MetaQNN]) -> None:
    db, agent = study
    with Store(db) as store:
        trials = store.trials(STUDY)
        state = store.get_study_state(STUDY, "searcher")
    told, planned = metaqnn_trace(state, trials)
    assert len(planned) == BUDGET and planned[0] == 1.0 and planned[-1] == 0.1
    ids = list(agent.asked_epsilons)
    for number, info in told.items():
        cid = ids[info.order]
        assert info.epsilon == agent.asked_epsilons[cid] and not info.recomputed
        assert agent.config(cid) == trials[number].config
        result = agent.results_.get(cid)
        if result is None:
            assert info.value is None
        else:
            assert (info.value, info.predicted) == (result.value, result.predicted)
    # a state saved before agents kept ε: recomputed from the final schedule, and marked so
    del state["epsilons"]
    old, _ = metaqnn_trace(state, trials)
    assert all(t.recomputed for t in old.values())
    assert old[2].epsilon == planned[2] == 1.0
    with pytest.raises(ValueError, match="not the state of a MetaQNN agent"):
        metaqnn_trace({"n_asked": 3}, trials)


def test_report_of_another_searcher_has_no_metaqnn_section(tmp_path: Path,
                                                           study: tuple[Path, MetaQNN]) -> None:
    db, _ = study
    with Store(db) as store:
        info = store.study_info(STUDY)
        trials = store.trials(STUDY)
    info["settings"]["searcher"] = "random"
    page = write_study_report(info, trials, tmp_path / "r.html").read_text()
    assert "MetaQNN" not in page and page.count("data:image/png;base64,") == 3
    assert len(rows(page, "<h2>Every trial</h2>")[0]) == 8  # no ε or reward column
    info["settings"]["searcher"] = "metaqnn"  # but no saved state: said, not drawn
    page = write_study_report(info, trials, tmp_path / "r.html").read_text()
    assert "Not available: the study has no saved searcher state" in page


def test_a_study_without_trials_is_an_error(tmp_path: Path) -> None:
    info = {"study": "empty", "metric": "accuracy", "direction": "maximize", "settings": {}}
    with pytest.raises(ValueError, match="has no trials yet"):
        write_study_report(info, [], tmp_path / "r.html")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_study_report(info, [], tmp_path / "no" / "r.html")


def test_a_diverged_stop_borrows_no_earlier_prediction(tmp_path: Path) -> None:
    """A user's review: a trial stopped as diverged showed the mean and σ (3.6e45) of an earlier
    'continue' decision beside the reason that stopped it, and the curves figure took that σ
    for its band, so its y axis ran to ±3.6e45. The report now shows what ``show`` shows: no
    prediction for a stop that made none."""
    import warnings

    from curvecast.stopping import Action, Decision

    db = tmp_path / "d.db"
    with Store(db) as store:
        store.create_study("d", metric="val_rmse", direction="minimize")
        for number, values in enumerate(([0.9, 0.6, 0.4, 0.3], [0.8, math.inf])):
            store.add_trial("d", {"lr": 0.1 * (number + 1)})
            for epoch, value in enumerate(values, 1):
                store.record_value("d", number, epoch, value)
        store.set_state("d", 0, TrialState.COMPLETE)
        store.record_decision("d", 1, Decision(Action.CONTINUE, 1, 0.5, 3.6e45, 0.506, "go on"))
        store.record_decision("d", 1, Decision(Action.STOP, 2, probability=1.0,
                                                reason="diverged: its last report was inf"))
        store.set_state("d", 1, TrialState.STOPPED, predicted_value=1.0)
        info, trials = store.study_info("d"), store.trials("d")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        page = write_study_report(info, trials, tmp_path / "r.html").read_text()
        ax = _curves_axes(trials, "val_rmse", 4)
    row = next(r for r in rows(page, "<h2>Every trial</h2>") if r[0] == "t1")
    assert row[4:6] == ["–", "–"], row  # predicted final ± σ, P(worse)
    low, high = ax.get_ylim()
    assert -1 < low and high < 2, (low, high)


def _curves_axes(trials: list[Any], metric: str, epochs: int, *more: Any,
                 figure: Any = None) -> Any:
    """The axes of the report's learning-curves figure of ``trials`` (or of ``figure``, called
    as ``figure(trials, *more, epochs, plt)``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from curvecast.report.study_figures import curves_figure

    axes: list[Any] = []

    class Keep:  # pyplot, keeping the figure's axes
        def __getattr__(self, name: str) -> object:
            return getattr(plt, name)

        def subplots(self, **kwargs: Any) -> object:
            fig, ax = plt.subplots(**kwargs)
            axes.append(ax)
            return fig, ax

    if figure is None:
        curves_figure(trials, metric, epochs, Keep(), *more)
    else:
        figure(trials, *more, epochs, Keep())
    return axes[0]


def test_one_report_a_diverged_report_and_an_infinite_best_are_drawn(tmp_path: Path) -> None:
    """A review (stop 36): a trial with one report had no line to show (a study of one-epoch
    trials drew an empty frame); NaN and ±inf reports were left out without a mark, so a
    diverged trial looked like one that ended early; and the cost figure's best line vanished
    once a complete trial ended at +inf (to maximise)."""
    from curvecast.curves import Direction
    from curvecast.report.study_figures import cost_figure

    with Store(tmp_path / "d.db") as store:
        store.create_study("d", metric="acc", direction="maximize")
        for number, values in enumerate(([0.3, 0.4], [0.2, math.inf], [0.1, math.nan], [0.35])):
            store.add_trial("d", {"lr": 0.1 * (number + 1)})
            for epoch, value in enumerate(values, 1):
                store.record_value("d", number, epoch, value)
            store.set_state("d", number, TrialState.COMPLETE)
        trials = store.trials("d")
    ax = _curves_axes(trials, "acc", 2, Direction.MAXIMIZE)
    dots = [line for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata()) == 1]
    assert len(dots) == 1 and list(dots[0].get_ydata()) == [0.35]
    crosses = [line for line in ax.lines if line.get_color() == "crimson"]
    assert len(crosses) == 1
    low, high = ax.get_ylim()
    assert list(crosses[0].get_ydata()) == [high, low]  # +inf at the top, NaN on the worse side
    cost = _curves_axes(trials, "acc", 2, Direction.MAXIMIZE, figure=cost_figure)
    best = cost.lines[0].get_ydata()
    assert best[-1] == 0.4 and all(math.isfinite(v) for v in best[2:])


def test_one_run_that_blew_up_does_not_flatten_the_other_curves(tmp_path: Path) -> None:
    """A user's review (stop 34): a friedman-sgd search with runs reaching 4e13 before inf drew
    the other 29 curves as one line at 0.  The frame now ends where the bulk of the values
    does, and says what leaves it."""
    db = tmp_path / "d.db"
    with Store(db) as store:
        store.create_study("d", metric="val_loss", direction="minimize")
        for number in range(6):
            store.add_trial("d", {"lr": 0.1 * number})
            for epoch, value in enumerate([1.0, 0.6, 0.5 - number / 100, 0.45 - number / 100], 1):
                store.record_value("d", number, epoch, value * 1e-9)
            store.set_state("d", number, TrialState.COMPLETE)
        store.add_trial("d", {"lr": 9.0})
        for epoch, value in enumerate([1e-9, 3e4, math.inf], 1):
            store.record_value("d", 6, epoch, value)
        store.set_state("d", 6, TrialState.STOPPED)
        trials = store.trials("d")
    ax = _curves_axes(trials, "val_loss", 4)
    low, high = ax.get_ylim()
    assert 0 < low < 4e-10 and 1e-9 < high < 1.1e-9, (low, high)
    assert [t.get_text() for t in ax.texts] == ["1 curve above the frame (up to 3e+04)"]
    calm = _curves_axes(trials[:6], "val_loss", 4)  # nothing far out: drawn as it is
    assert not calm.texts and calm.get_ylim()[1] < 1.1e-9


def _complete_study_report(tmp_path: Path, metric: str, direction: str,
                           curves: tuple[list[float], ...]) -> str:
    """The report (HTML) of a study whose trials are ``curves``, each trained to the end."""
    db = tmp_path / "d.db"
    with Store(db) as store:
        store.create_study("d", metric=metric, direction=direction)
        for number, values in enumerate(curves):
            store.add_trial("d", {"lr": 0.1 * (number + 1)})
            for epoch, value in enumerate(values, 1):
                store.record_value("d", number, epoch, value)
            store.set_state("d", number, TrialState.COMPLETE)
        info, trials = store.study_info("d"), store.trials("d")
    return write_study_report(info, trials, tmp_path / "r.html").read_text()


def test_a_complete_trial_that_ended_diverged_is_counted_in_words(tmp_path: Path) -> None:
    """A user's review (stop 31): the header said "trained to the end 3" and the top table "The
    2 best of the 2 trials trained to the end": the third had trained to the end and ended at
    inf.  The table's sentence now counts only finite finals, and says how many ended
    diverged."""
    import math

    page = _complete_study_report(tmp_path, "val_rmse", "minimize",
                                  ([0.9, 0.5], [0.8, 0.4], [0.7, math.inf]))
    assert ("The 2 best of the 2 trials trained to the end with a finite final val_rmse, by that "
            "value (1 more was trained to the end but ended diverged, NaN or ±inf).") in page


def test_a_study_whose_every_complete_trial_diverged_says_so_once(tmp_path: Path) -> None:
    """A regression review (stop 31): with every complete trial ended at inf or NaN, the page
    said "the 0 best of the 0 trials … (2 more were trained to the end …)" above "No trial was
    trained to the end yet"."""
    import math

    with Store(tmp_path / "d.db") as store:
        store.create_study("d", metric="val_rmse", direction="minimize")
        for number, values in enumerate(([0.9, math.inf], [0.8, math.nan], [0.7])):
            store.add_trial("d", {"lr": 0.1 * (number + 1)})
            for epoch, value in enumerate(values, 1):
                store.record_value("d", number, epoch, value)
            store.set_state("d", number, TrialState.STOPPED if number == 2
                            else TrialState.COMPLETE)
        info, trials = store.study_info("d"), store.trials("d")
    page = write_study_report(info, trials, tmp_path / "r.html").read_text()
    assert ("No trial trained to the end has a finite final val_rmse: the 2 that were ended "
            "diverged (NaN or ±inf).") in page
    assert "The 0 best" not in page and "No trial was trained to the end yet" not in page


def test_an_f_hyperband_study_says_its_predictions_are_of_a_rungs_end(tmp_path: Path) -> None:
    """A regression review (stop 32): the table headed "predicted final ± σ" showed
    f-Hyperband's prediction of the value at the rung's end."""
    from curvecast.stopping import Action, Decision

    db = tmp_path / "f.db"
    with Store(db) as store:
        store.create_study("f", metric="acc", direction="maximize",  # as the library records
                           settings={"scheduler": "fhyperband", "epochs": 9})  # it (no searcher)
        for number, values in enumerate([[0.5, 0.6, 0.7], [0.3, 0.35, 0.4]]):
            store.add_trial("f", {"lr": 0.1 * (number + 1)})
            for epoch, value in enumerate(values, 1):
                store.record_value("f", number, epoch, value, 0.5)
        store.set_state("f", 0, TrialState.COMPLETE)
        store.record_decision("f", 1, Decision(Action.STOP, 3, 0.45, 0.05, 0.97,
                                               "P(y at rung 3: 0.45 ± 0.05 worse than 0.7)"))
        store.set_state("f", 1, TrialState.STOPPED, predicted_value=0.4)
    out = tmp_path / "f.html"
    result = CliRunner().invoke(app, ["report", "--study", "f", "--storage", f"sqlite:///{db}",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "predicted at its rung&#x27;s end ± σ" in page or "predicted at its rung's end ± σ" in page
    assert "predicted final ± σ" not in page


def test_a_metric_named_with_dollars_is_drawn_as_written(tmp_path: Path) -> None:
    """A user's review (stop 34): ``$…$`` in a metric's name was read as matplotlib math, so
    ``acc $\\bad$`` failed the whole report with a ParseFatalException."""
    page = _complete_study_report(tmp_path, r"acc $\bad$", "maximize", ([0.5, 0.6], [0.4, 0.7]))
    assert r"acc $\bad$" in page and page.count("data:image/png;base64,") >= 2


def test_a_study_of_one_trial_is_counted_in_the_singular(tmp_path: Path) -> None:
    """A review (stop 34): "The 1 best of the 1 trials", "after 1 epochs", "1 epochs of full
    training"."""
    page = _complete_study_report(tmp_path, "val_acc", "maximize", ([0.5],))
    assert "The one trial trained to the end with a finite final val_acc" in page
    assert "after 1 epoch," in page and "1 epochs" not in page


def test_long_text_values_keep_their_names(tmp_path: Path) -> None:
    """A review (stop 34): a config of two long strings showed as ``<code>adamw_amsgrad_v2</code>
    · <code>cosine_restarts</code>``, without the names that tell them apart."""
    db = tmp_path / "d.db"
    with Store(db) as store:
        store.create_study("d", metric="val_acc", direction="maximize")
        store.add_trial("d", {"optimizer": "adamw_amsgrad_v2", "scheduler": "cosine_restarts"})
        store.record_value("d", 0, 1, 0.5)
        store.set_state("d", 0, TrialState.COMPLETE)
        info, trials = store.study_info("d"), store.trials("d")
    page = write_study_report(info, trials, tmp_path / "r.html").read_text()
    assert ("optimizer <code>adamw_amsgrad_v2</code> · scheduler <code>cosine_restarts</code>"
            in page)


def test_a_study_report_takes_its_title_and_a_result_report_refuses_a_storage(
        tmp_path: Path, study: tuple[Path, MetaQNN]) -> None:
    """A review (stop 35): ``report --study S --title T`` wrote "Study S" and ignored the
    title; ``report RESULT.json --storage …`` ignored the storage."""
    db, _ = study
    out = tmp_path / "titled.html"
    result = CliRunner().invoke(app, ["report", "--storage", f"sqlite:///{db}", "--study", STUDY,
                                      "--out", str(out), "--title", "Sweep <7>"])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<title>Sweep &lt;7&gt;</title>" in page and f"Study {STUDY}" not in page
    json_result = tmp_path / "r.json"
    json_result.write_text("{}")
    refused = CliRunner().invoke(app, ["report", str(json_result), "--storage",
                                       f"sqlite:///{db}", "--out", str(tmp_path / "r.html")])
    assert refused.exit_code == 2
    assert "--storage names a study's database; a RESULT.json report reads the file alone" \
        in refused.output


def test_a_probability_near_one_is_not_printed_as_one(tmp_path: Path) -> None:
    """A review (stop 36): the table printed P(worse) = 0.99996 as "1", which reads as a
    certainty the rule did not have and hides how near Δ it was."""
    from curvecast.stopping import Action, Decision

    db = tmp_path / "p.db"
    with Store(db) as store:
        store.create_study("p", metric="acc", direction="maximize")
        for number, p in enumerate((0.99996, 0.5, 1.0, 0.98996)):
            store.add_trial("p", {"lr": 0.1 * (number + 1)})
            store.record_value("p", number, 1, 0.3)
            store.record_decision("p", number, Decision(Action.CONTINUE, 1, 0.4, 0.1, p, "go"))
        info, trials = store.study_info("p"), store.trials("p")
    page = write_study_report(info, trials, tmp_path / "r.html").read_text()
    shown = {r[0]: r[5] for r in rows(page, "<h2>Every trial</h2>")}
    # rounded towards ½: a value below Δ = 0.99 never reads as 0.990 (a review, stop 36)
    assert shown == {"t0": "0.99996", "t1": "0.500", "t2": "1", "t3": "0.989"}


def test_the_report_replaces_its_file_whole_not_in_place(tmp_path: Path) -> None:
    """A security review (rev8): the page was written into the existing file (truncated
    first), so a failed write left half a page and a hard link to the old report changed."""
    import os

    from curvecast.report import _html

    out = tmp_path / "r.html"
    out.write_text("old")
    os.link(out, tmp_path / "kept.html")
    _html.write(out, _html.page("t", "<p>new</p>"))
    assert "new" in out.read_text()
    assert (tmp_path / "kept.html").read_text() == "old"


def test_empty_figures_say_why_and_keys_list_only_what_is_drawn(tmp_path: Path) -> None:
    """A review of the report's figures: a study whose trials were all stopped drew the cost
    figure as an empty frame with y ticks around 0; a study whose only trial had reported
    nothing drew an empty curves frame under a key of three entries; and a study with no stop
    listed "stopped" and its prediction band in the key (and "failed" for a trial that failed
    before its first report).  An empty figure now says why, and the key lists only what is
    drawn."""
    from curvecast.curves import Direction
    from curvecast.report.study_figures import cost_figure

    with Store(tmp_path / "d.db") as store:
        for name, state in (("stopped", TrialState.STOPPED), ("complete", TrialState.COMPLETE)):
            store.create_study(name, metric="acc", direction="maximize")
            for number in range(3):
                store.add_trial(name, {"lr": 0.1 * (number + 1)})
                for epoch in (1, 2):
                    store.record_value(name, number, epoch, 0.1 * epoch + 0.01 * number)
                store.set_state(name, number, state, predicted_value=0.5)
        store.add_trial("complete", {"lr": 0.9})  # failed before its first report: not drawn
        store.set_state("complete", 3, TrialState.FAILED)
        store.create_study("silent", metric="acc", direction="maximize")
        store.add_trial("silent", {"lr": 0.1}, state=TrialState.RUNNING)
        stopped, complete = store.trials("stopped"), store.trials("complete")
        silent = store.trials("silent")
    cost = _curves_axes(stopped, "acc", 5, Direction.MAXIMIZE, figure=cost_figure)
    assert [t.get_text() for t in cost.texts] == [
        "no trial was trained to the end with a finite final value yet:\nno best value to draw"]
    assert list(cost.get_yticks()) == []
    found = _curves_axes(complete, "acc", 2, Direction.MAXIMIZE, figure=cost_figure)
    assert not found.texts and found.lines[0].get_ydata()[-1] == pytest.approx(0.22)
    empty = _curves_axes(silent, "acc", 5)
    assert [t.get_text() for t in empty.texts] == ["no trial has reported a value yet"]
    assert empty.get_legend() is None
    key = _curves_axes(complete, "acc", 2).get_legend()
    assert [t.get_text() for t in key.get_texts()] == ["trained to the end"]
    key = _curves_axes(stopped, "acc", 5).get_legend()
    assert [t.get_text() for t in key.get_texts()] == [
        "stopped (× at the stop epoch)", "predicted final value ± 1σ (dotted, band, dot at T)"]


def test_a_nan_report_reads_nan_not_as_no_report(tmp_path: Path) -> None:
    """A review: a trial whose last report was NaN showed "–" as its last value in the table of
    every trial, as a trial that reported nothing does (``curvecast show`` prints "nan")."""
    with Store(tmp_path / "d.db") as store:
        store.create_study("d", metric="acc", direction="maximize")
        for number, values in enumerate(([0.3, math.nan], [], [0.2, math.inf], [0.1, 0.25])):
            store.add_trial("d", {"lr": 0.1 * (number + 1)})
            for epoch, value in enumerate(values, 1):
                store.record_value("d", number, epoch, value)
            store.set_state("d", number, TrialState.FAILED if number < 2 else
                            TrialState.COMPLETE)
        info, trials = store.study_info("d"), store.trials("d")
    page = write_study_report(info, trials, tmp_path / "r.html").read_text()
    table = rows(page, "<h2>Every trial</h2>")
    assert [r[:4] for r in table] == [["t0", "failed", "2", "NaN"], ["t1", "failed", "0", "–"],
                                      ["t2", "complete", "2", "inf"],
                                      ["t3", "complete", "2", "0.25"]]


def test_a_study_that_found_nothing_shows_no_speedup(tmp_path: Path) -> None:
    """A review: a study whose every trial was stopped, none trained to the end, showed
    "speedup 2.50x" in its cards and its cost figure's title: stopping every trial is not a
    faster search."""
    from curvecast.curves import Direction
    from curvecast.report.study_figures import cost_figure

    with Store(tmp_path / "d.db") as store:
        store.create_study("s", metric="acc", direction="maximize")
        for number in range(3):
            store.add_trial("s", {"lr": 0.1 * (number + 1)})
            for epoch in (1, 2):
                store.record_value("s", number, epoch, 0.1 * epoch)
            store.set_state("s", number, TrialState.STOPPED, predicted_value=0.5)
        info, trials = store.study_info("s"), store.trials("s")
    page = write_study_report({**info, "epochs": 5}, trials, tmp_path / "r.html").read_text()
    assert "– (no trial trained to the end yet)" in page and "2.50x" not in page
    cost = _curves_axes(trials, "acc", 5, Direction.MAXIMIZE, figure=cost_figure)
    assert cost.get_title() == "Search cost against the best result found"
