"""The prediction figures: every figure is written, several runs merge into one figure set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curvecast.report.prediction_plots import main, merge_outputs, plot_prediction_results

PNG = b"\x89PNG\r\n\x1a\n"


def _output(predictors: list[str], fractions: list[float], n: int, r2: float) -> dict[str, Any]:
    results = []
    for p in predictors:
        for f in fractions:
            for metric, value in (("r2", r2 + f / 10), ("coverage_68", 0.7), ("coverage_95", 0.9)):
                results.append({"experiment": "table1", "predictor": p, "features": "ts+ap+hp",
                                "fraction": f, "train_size": 100, "metric": metric,
                                "mean": value, "stderr": 0.01, "n": n})
    for size in (10, 50, 100):
        results.append({"experiment": "sample_efficiency", "predictor": predictors[0],
                        "features": "ts+ap+hp", "fraction": 0.25, "train_size": size,
                        "metric": "r2", "mean": size / 120, "stderr": 0.02, "n": n})
    for groups in ("ts", "ap", "ts+ap"):
        results.append({"experiment": "table2", "predictor": predictors[0], "features": groups,
                        "fraction": 0.25, "train_size": 100, "metric": "r2",
                        "mean": -3.0 if groups == "ap" else 0.9, "stderr": 0.1, "n": n})
    return {"dataset": "x.csv", "settings": {"predictors": predictors, "fractions": fractions},
            "results": results}


def test_all_figures_written_even_with_r2_far_below_zero(tmp_path: Path) -> None:
    out = _output(["srm", "last-value"], [0.1, 0.25, 0.5], n=10, r2=-40.0)
    paths = plot_prediction_results(out, tmp_path, "x")
    assert sorted(p.name for p in paths) == ["x-coverage.png", "x-feature_ablation.png",
                                             "x-r2_vs_fraction.png", "x-sample_efficiency.png"]
    # a review (stop 34): another data set's figures in the same folder were replaced
    other = plot_prediction_results(out, tmp_path, "y")
    assert {p.name for p in other}.isdisjoint(p.name for p in paths)
    for p in paths:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5_000


def test_merge_keeps_predictor_order_and_first_duplicate() -> None:
    a = _output(["srm", "bnn"], [0.25, 0.5], n=10, r2=0.9)
    b = _output(["lce-fast", "srm"], [0.25], n=3, r2=0.1)
    merged = merge_outputs([a, b])
    assert merged["settings"]["predictors"] == ["srm", "bnn", "lce-fast"]
    srm = [r for r in merged["results"] if r["predictor"] == "srm" and r["metric"] == "r2"
           and r["experiment"] == "table1" and r["fraction"] == 0.25]
    assert len(srm) == 1 and srm[0]["n"] == 10
    with pytest.raises(ValueError, match="no outputs"):
        merge_outputs([])


def test_module_entry_point(tmp_path: Path) -> None:
    files = []
    for i, out in enumerate((_output(["srm"], [0.25], 10, 0.9), _output(["lce"], [0.25], 3, -5))):
        files.append(tmp_path / f"{i}.json")
        files[-1].write_text(json.dumps(out))
    assert main(["--out", str(tmp_path / "figs"), *map(str, files)]) == 0
    assert (tmp_path / "figs" / "0-r2_vs_fraction.png").stat().st_size > 5_000


def test_r2_ticks_are_the_shares_observed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A review of `evaluate --fractions 0.25`: the R² figure's x axis ran from 24.75 to 25.25
    with ticks 24.8 … 25.2, so the two predictors (dodged apart so their error bars do not hide
    each other) read as observed at 24.75 % and 25.25 %.  The ticks are now the shares
    observed (10, 25, 50 with three shares; 25 alone with one)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    close = plt.close
    drawn: list[Any] = []
    monkeypatch.setattr(plt, "close", drawn.append)
    try:
        for fractions, ticks in (([0.25], ["25"]), ([0.1, 0.25, 0.5], ["10", "25", "50"])):
            drawn.clear()
            plot_prediction_results(_output(["srm", "last-value"], fractions, n=2, r2=0.5),
                                    tmp_path, "x")
            fig = next(f for f in drawn if f.axes[0].get_xlabel().startswith("% of learning"))
            for ax in fig.axes[:2]:
                assert [t.get_text() for t in ax.get_xticklabels()] == ticks
                assert list(ax.get_xticks()) == [100 * f for f in fractions]
                low, high = ax.get_xlim()
                assert low < 100 * fractions[0] - 1 and high > 100 * fractions[-1] + 1
            for fig in drawn:
                close(fig)
    finally:
        monkeypatch.undo()


def test_r2_of_one_is_marked_on_the_log_panels_edge(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A review: the 1 − R² panel (log axis) floored at 1e-5 without saying so, so R² = 1 read as
    1 − R² = 1e-5.  A floored point is now ▼ on the lower edge (which is the floor), and the
    panel's title says so; a figure with nothing floored says nothing of it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    close = plt.close
    drawn: list[Any] = []
    monkeypatch.setattr(plt, "close", drawn.append)
    try:
        for top, floored in ((1.0, True), (0.99, False)):
            drawn.clear()
            out = _output(["srm", "last-value"], [0.1, 0.25, 0.5], n=2, r2=0.5)
            for r in out["results"]:
                if r["metric"] == "r2" and r["experiment"] == "table1" and r["fraction"] == 0.5:
                    r["mean"] = top
            plot_prediction_results(out, tmp_path, "x")
            fig = next(f for f in drawn if f.axes[0].get_xlabel().startswith("% of learning"))
            lax = fig.axes[1]
            edge = [line for line in lax.get_lines() if line.get_marker() == "v"]
            if floored:
                assert "values below 1e-05, e.g. R² = 1, marked ▼ on the lower edge" in \
                    lax.get_title()
                assert lax.get_ylim()[0] == pytest.approx(1e-5)
                assert len(edge) == 2  # one per predictor, at 50 %, on the floor
                assert all(list(line.get_ydata()) == [1e-5] for line in edge)
            else:
                assert "▼" not in lax.get_title() and not edge
            for fig in drawn:
                close(fig)
    finally:
        monkeypatch.undo()


def test_some_cells_with_r2_undefined_are_drawn_without_them(tmp_path: Path) -> None:
    """A JSON result stores an undefined R² as a mean of None; where only some cells are (one
    predictor's, one training size's, one feature set's), the figures leave those points out
    instead of failing on ``None < -0.25`` (a review, stop 39)."""
    out = _output(["srm", "last-value"], [0.1, 0.25, 0.5], n=10, r2=0.5)
    for r in out["results"]:
        if (r["predictor"] == "last-value" or r["train_size"] == 10 or r["features"] == "ap"):
            r["mean"], r["stderr"], r["n"] = None, None, 0
    paths = plot_prediction_results(out, tmp_path, "x")
    assert sorted(p.name for p in paths) == ["x-coverage.png", "x-feature_ablation.png",
                                             "x-r2_vs_fraction.png", "x-sample_efficiency.png"]
