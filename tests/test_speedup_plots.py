"""The figures of ``curvecast simulate --plots`` (and of its result report), read back from the
matplotlib figures they draw."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curvecast.report.anytime_plots import plot_anytime_regret
from curvecast.report.speedup_plots import plot_speedup_results


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The figures the plotting functions close, kept open to be read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    close = plt.close
    figures: list[Any] = []
    monkeypatch.setattr(plt, "close", figures.append)
    yield figures
    for fig in figures:
        close(fig)


def _anytime(stopper: str, regret: list[float | None], stderr: float = 0.0) -> dict[str, Any]:
    n = len(regret)
    return {"searcher": "random", "stopper": stopper, "delta": None,
            "fraction": [0.1 * (i + 1) for i in range(n)], "regret_mean": regret,
            "regret_stderr": [stderr] * n, "found": [1.0] * n, "n": 2}


def test_a_flat_regret_is_not_drawn_on_the_frames_top_edge(tmp_path: Path,
                                                            drawn: list[Any]) -> None:
    """A review of a replay of lstm_ptb.csv: the first config trained was nearly the best, so
    the regret stayed at 0.04 until the never-stop search found the best; the y axis ended at
    0.04, and both lines ran along the frame's top edge, hidden by it (and in a replay of
    digits-metaqnn the band of the warm-up was cut at the top).  The axis now ends above the
    highest line and band."""
    out = {"anytime": [_anytime("never", [0.04] * 7 + [0.0] * 3),
                       _anytime("median", [0.04] * 10, stderr=0.01)]}
    paths = plot_anytime_regret([out], tmp_path, "ptb")
    assert [p.name for p in paths] == ["ptb-anytime-regret.png"]
    ax = drawn[0].axes[0]
    low, high = ax.get_ylim()
    assert low == 0.0 and high == pytest.approx(2 * 0.05), (low, high)
    assert max(max(line.get_ydata()) for line in ax.lines) == pytest.approx(0.04)
    assert ax.get_title().startswith("ptb: any-time regret (mean ± s.e. over orderings)\n")


def test_the_regret_is_drawn_alike_in_any_units(tmp_path: Path, drawn: list[Any]) -> None:
    """A review with a metric in units of 1e-9 (the same three curves as a hand check, scaled):
    the median rule's final regret, 44 % of the best value, was drawn flat on the zero line,
    because the symlog axis was linear up to a fixed 1e-3 metric units.  The same regrets in
    any units now sit at the same heights in the frame."""
    heights = {}
    for scale in (1.0, 1e-9, 1e12):
        regret = [0.4 * scale] * 6 + [0.3 * scale] * 4
        out = {"anytime": [_anytime("median", regret, stderr=0.05 * scale),
                           _anytime("never", [0.4 * scale] * 9 + [0.0])]}
        plot_anytime_regret([out], tmp_path, f"s{scale:g}")
        ax = drawn[-1].axes[0]
        to_frame = ax.transScale + ax.transLimits  # data → share of the frame's height
        heights[scale] = [float(to_frame.transform((0.5, y))[1])
                          for y in (0.4 * scale, 0.3 * scale, 0.003 * scale)]
    assert heights[1.0][0] > 0.5 and heights[1.0][2] > 0.05, heights
    for scale in (1e-9, 1e12):
        assert heights[scale] == pytest.approx(heights[1.0], abs=1e-9), heights


def test_the_regret_of_one_ordering_is_not_called_a_mean(tmp_path: Path,
                                                         drawn: list[Any]) -> None:
    """A review of `simulate --orderings 1`: the any-time regret figure's title said "mean ±
    s.e. over orderings" of a single ordering (the terminal said "one value from 1
    ordering")."""
    out = {"anytime": [{**_anytime("never", [0.04] * 7 + [0.0] * 3), "n": 1}]}
    plot_anytime_regret([out], tmp_path, "ptb")
    assert drawn[0].axes[0].get_title().startswith("ptb: any-time regret (one ordering)\n")


def test_f_hyperbands_key_hides_no_point_of_the_right_axis(tmp_path: Path,
                                                          drawn: list[Any]) -> None:
    """A review of ``simulate --searcher hyperband,fhyperband``: the key, placed "best" by the
    left axis's lines alone, sat in the top right corner, over the right axis's share of the
    same bracket winners at Δ = 0.99 (0.95).  The key is now under the axes."""
    def row(stopper: str, delta: float | None, metric: str, mean: float) -> dict[str, Any]:
        return {"searcher": "fhyperband" if delta else "hyperband", "stopper": stopper,
                "delta": delta, "workers": 1, "metric": metric, "mean": mean, "stderr": 0.01,
                "n": 2}

    results = [row("sh", None, "speedup", 2.36), row("sh", None, "best_kept", 0.5)]
    for delta, speed, warm, same in ((0.9, 1.14, 1.14, 0.8), (0.99, 1.09, 1.05, 0.95)):
        results += [row("sh+predictive", delta, "speedup", 2.6),
                    row("sh+predictive", delta, "best_kept", 0.5),
                    row("sh+predictive", delta, "speedup_vs_reference", speed),
                    row("sh+predictive", delta, "warm_speedup_vs_reference", warm),
                    row("sh+predictive", delta, "same_selections", same)]
    output = {"settings": {"deltas": [0.9, 0.99], "configs": 1000, "epochs": 20,
                           "orderings": 2, "workers": 1}, "results": results}
    paths = plot_speedup_results(output, tmp_path, "hb")
    assert [p.name for p in paths] == ["hb-speedup.png", "hb-fhyperband.png"]
    fig = drawn[1]
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    key = ax.get_legend().get_window_extent(renderer)
    frame = ax.get_window_extent(renderer)
    assert key.y1 <= frame.y0, (key, frame)  # under the axes: over no point of either axis
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "fhyperband: epochs of the reference ÷ epochs",
        "fhyperband: same, iterations with every predictor fitted",
        "fhyperband: same bracket winners (right axis)"]
