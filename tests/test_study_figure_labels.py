"""The study report's figures say on their y axis which way the metric is better, as the
curves figure of ``data plot`` does (``"val_loss (minimize)"``): they named the metric alone
(the cost figure not even that), so a plot of a loss read like one of an accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest

from curvecast.report.study_report import write_study_report
from curvecast.stopping import Action, Decision
from curvecast.store import Store, TrialState
from synthetic_study import STUDY, make_study


@pytest.fixture
def y_labels(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Each figure saved meanwhile, by its first axes' title: the y labels of its axes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    labels: dict[str, list[str]] = {}
    save = Figure.savefig

    def keep(fig: Figure, *args: object, **kwargs: object) -> None:
        labels[fig.axes[0].get_title()] = [ax.get_ylabel() for ax in fig.axes]
        save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return labels


def test_a_minimized_metric_is_labelled_minimize(tmp_path: Path,
                                                 y_labels: dict[str, list[str]]) -> None:
    with Store(f"sqlite:///{tmp_path}/s.db") as store:
        store.create_study("s", metric="val_loss", direction="minimize",
                           settings={"epochs": 3, "stopper": "predictive", "delta": 0.9})
        for number, curve in enumerate(([2.0, 1.0, 0.5], [2.5, 2.2], [1.8, 1.1, 0.7])):
            store.add_trial("s", {"lr": 0.1 * (number + 1)})
            for epoch, value in enumerate(curve, start=1):
                store.record_value("s", number, epoch, value)
        store.record_decision("s", 1, Decision(Action.STOP, 2, 1.9, 0.2, 0.99, "worse"))
        for number in (0, 2):
            store.set_state("s", number, TrialState.COMPLETE)
        store.set_state("s", 1, TrialState.STOPPED, predicted_value=1.9)
        info, trials = store.study_info("s"), store.trials("s")
    write_study_report(info, trials, tmp_path / "r.html")
    assert y_labels["Learning curves of every trial"] == ["val_loss (minimize)"]
    cost = next(v for k, v in y_labels.items() if k.startswith("Search cost"))
    assert cost == ["best final val_loss so far (minimize)"]
    assert y_labels["Where each trial ended"] == [  # no metric on these axes: as they were
        "epochs trained", "P(final value worse than the best)"]


def test_every_figure_of_a_metaqnn_study_gives_the_direction(
        tmp_path: Path, y_labels: dict[str, list[str]]) -> None:
    make_study(tmp_path / "m.db")
    with Store(f"sqlite:///{tmp_path}/m.db", read_only=True) as store:
        info, trials = store.study_info(STUDY), store.trials(STUDY)
        state = store.get_study_state(STUDY, "searcher")
    write_study_report(info, trials, tmp_path / "r.html", searcher_state=state)
    assert y_labels["Learning curves of every trial"] == ["accuracy (maximize)"]
    cost = next(v for k, v in y_labels.items() if k.startswith("Search cost"))
    assert cost == ["best final accuracy so far (maximize)"]
    assert y_labels["MetaQNN: ε schedule and the reward of every trial"] == [
        "accuracy told to the agent (maximize)", "ε (share of random layer choices)"]
