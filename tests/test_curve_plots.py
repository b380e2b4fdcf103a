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
