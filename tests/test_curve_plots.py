"""``plot_curves`` (``curvecast data plot``): the y axis can end where the exploding curves begin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curvecast import CurveSet, Direction
from curvecast.report.curve_plots import plot_curves

image = pytest.importorskip("matplotlib.image")


def _spiky() -> CurveSet:
    """Five RMSE-like curves falling from 0.6 to 0.5; the first explodes to 1e18 at epoch 2."""
    values = np.linspace(0.6, 0.5, 10)[None, :] + 0.01 * np.arange(5)[:, None]
    values[0, 1] = 1e18
    return CurveSet(values=values, observed=np.ones_like(values, bool), epochs=np.arange(1, 11),
                    metric="val_rmse", direction=Direction.MINIMIZE,
                    configs=pd.DataFrame({"lr": np.arange(5.0)}, index=[f"c{i}" for i in range(5)]))


def _ink_rows_right_half(path: Path) -> int:
    """Image rows with a saturated (curve-coloured) pixel in the right half of the figure."""
    pixels = image.imread(path)[..., :3]
    right = pixels[:, pixels.shape[1] // 2:]
    saturated = (right.max(axis=2) - right.min(axis=2)) > 0.3
    return int(saturated.any(axis=1).sum())


def test_y_max_spreads_the_curves_the_spike_flattened(tmp_path: Path) -> None:
    curves = _spiky()
    plain = plot_curves(curves, tmp_path / "plain.png")
    clipped = plot_curves(curves, tmp_path / "clipped.png", y_max=0.7)
    # without a limit the five curves share a thin band; with it they fill most of the frame
    assert _ink_rows_right_half(plain) < 20
    assert _ink_rows_right_half(clipped) > 5 * _ink_rows_right_half(plain)


def test_bad_y_max_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="finite, got nan"):
        plot_curves(_spiky(), tmp_path / "x.png", y_max=float("nan"))
    with pytest.raises(ValueError, match="positive on a log axis, got -1"):
        plot_curves(_spiky(), tmp_path / "x.png", y_max=-1.0)
    # a review (stop 35): below every value, the frame was empty and its axis upside down
    low = float(np.nanmin(_spiky().filled_values()))
    with pytest.raises(ValueError, match=r"--y-max .* is at or below every value drawn"):
        plot_curves(_spiky(), tmp_path / "x.png", y_max=low / 2 if low > 0 else low - 1)
    assert not (tmp_path / "x.png").exists()


def test_curves_without_a_final_value_are_grey_and_said(tmp_path: Path) -> None:
    """A researcher's review (stop 31): pruned curves, which have no final value, took rank
    colours (drawn mid-green), and the figure's key was dropped.  They are grey now: the figure's
    lower left, where only the stopped curves lie, holds no saturated pixel, and the title keeps
    its key."""
    t = np.arange(1, 11)
    values = np.vstack([0.9 - 0.3 / t, 0.8 - 0.3 / t, 0.3 + 0.05 * t, 0.35 + 0.05 * t])
    observed = np.ones_like(values, bool)
    observed[2:, 3:] = False  # two stopped after 3 epochs
    curves = CurveSet(values=np.where(observed, values, np.nan), observed=observed, epochs=t,
                      metric="acc", direction=Direction.MAXIMIZE,
                      configs=pd.DataFrame(index=[f"c{i}" for i in range(4)]))
    import matplotlib.pyplot as plt

    shown: list[str] = []
    original = plt.Axes.set_title

    def record(ax, label, *args, **kwargs):  # type: ignore[no-untyped-def]
        shown.append(label)
        return original(ax, label, *args, **kwargs)

    plt.Axes.set_title = record  # type: ignore[method-assign]
    try:
        path = plot_curves(curves, tmp_path / "c.png", title="runs.parquet: 4 of 4 curves")
    finally:
        plt.Axes.set_title = original  # type: ignore[method-assign]
    assert shown == ["runs.parquet: 4 of 4 curves (yellow: best final value; grey: not run to "
                     "the end)"]
    pixels = image.imread(path)[..., :3]
    saturated = (pixels.max(axis=2) - pixels.min(axis=2)) > 0.3
    low_left = saturated[int(0.55 * len(pixels)):int(0.85 * len(pixels)), :len(pixels[0]) // 3]
    assert not low_left.any()  # the stopped curves (low, on the left) are grey


def test_dollars_in_the_metric_and_title_are_drawn_as_written(tmp_path: Path) -> None:
    """A user's review (stop 34): ``data plot`` of a metric named ``acc $\\bad$`` failed with a
    ParseFatalException (matplotlib math), and ``cost $ per $ unit`` lost its dollars."""
    from curvecast.report.plot_text import literal

    curves = _spiky()
    for metric in (r"acc $\bad$", "cost $ per $ unit"):
        named = CurveSet(values=curves.values, observed=curves.observed, epochs=curves.epochs,
                         metric=metric, direction=curves.direction, configs=curves.configs)
        assert plot_curves(named, tmp_path / "m.png", title="run $x$").stat().st_size > 0
    from matplotlib import cbook

    # math mode drops the dollars and italicises what lies between them
    assert cbook.is_math_text("cost $ per $ unit")
    assert not cbook.is_math_text(literal("cost $ per $ unit"))


def test_a_curve_of_one_value_is_a_dot_and_a_lone_best_is_yellow(tmp_path: Path) -> None:
    """A review (stop 36): curves with a single observation (trials pruned after their first
    report) had no line to draw and left no ink; a set of one epoch drew an empty frame; and a
    lone complete curve was dark purple, while the title says yellow marks the best."""
    values = np.full((3, 4), np.nan)
    values[0] = [0.2, 0.4, 0.6, 0.8]  # the one complete curve
    values[1:, 0] = [0.3, 0.5]  # stopped after one epoch
    curves = CurveSet(values=values, observed=~np.isnan(values), epochs=np.arange(1, 5),
                      metric="acc", direction=Direction.MAXIMIZE,
                      configs=pd.DataFrame(index=["a", "b", "c"]))
    pixels = image.imread(plot_curves(curves, tmp_path / "p.png"))[..., :3]
    at_epoch_1 = pixels[40:440, 98:110]  # the frame's column at epoch 1 (grid lines are lighter)
    grey = (np.abs(at_epoch_1 - 0.74).max(axis=2) < 0.04) & (np.ptp(at_epoch_1, axis=2) < 0.02)
    yellow = (pixels[..., 0] > 0.8) & (pixels[..., 1] > 0.75) & (pixels[..., 2] < 0.5)
    assert grey.sum() > 20 and yellow.sum() > 200
