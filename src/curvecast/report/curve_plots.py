"""A picture of a CurveSet: a random sample of its learning curves (PNG)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import CurveSet
from curvecast.report.plot_text import literal, metric_label
from curvecast.report.prediction_plots import _pyplot, _save


def plot_curves(curves: CurveSet, out: Path, *, n: int = 50, seed: int = 0,
                title: str | None = None, y_max: float | None = None) -> Path:
    """Draw ``n`` random curves of ``curves`` (all when it has fewer) to the PNG file ``out``.

    Complete curves are coloured by their final value (yellow: the best); curves that end
    before the last epoch (stopped, pruned) have none and are drawn in grey beneath them.

    Diverged observations are drawn at the CurveSet's fill value (the worst value) and marked
    with an ×; the y axis is logarithmic for positive metrics to minimise (perplexity).  With
    ``y_max`` the y axis ends there (so a few exploding curves do not flatten the rest); the
    figure then says how many drawn curves leave the top and how high they go.

    Raises:
        ValueError: ``n`` below 1, or ``y_max`` not finite (or not positive on a log axis).
        FileNotFoundError: the folder of ``out`` does not exist.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if y_max is not None and not np.isfinite(y_max):
        raise ValueError(f"y_max must be finite, got {y_max}")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out}: folder {str(out.parent)!r} does not exist")
    plt = _pyplot()
    rows = np.random.default_rng(seed).permutation(curves.n_configs)[:n]
    filled = curves.filled_values()
    diverged = curves.diverged()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    cmap = plt.get_cmap("viridis")
    complete = np.asarray(curves.is_complete(), dtype=bool)[rows]
    goodness = curves.direction.sign * curves.final_values()[rows]  # higher is better
    partial = rows[~complete]  # no final value: drawn first, in grey
    ranked = rows[complete][np.argsort(goodness[complete])]  # best drawn last, in yellow
    for rank, r in enumerate([*partial, *ranked]):
        color = ("0.7" if rank < len(partial)  # one complete curve is the best: yellow
                 else cmap((rank - len(partial)) / (len(ranked) - 1) if len(ranked) > 1 else 1.0))
        seen = curves.observed[r]
        ax.plot(curves.epochs[seen], filled[r, seen], color=color, lw=1, alpha=0.8,
                marker="o" if seen.sum() == 1 else None, ms=3)  # one value: a dot
        if diverged[r].any():
            ax.plot(curves.epochs[diverged[r]], filled[r, diverged[r]], "x", color="crimson", ms=4)
    positive = bool(np.all(filled[curves.observed] > 0))
    if curves.direction.value == "minimize" and positive:
        ax.set_yscale("log")
    if y_max is not None:
        _clip_top(ax, np.where(curves.observed[rows], filled[rows], -np.inf), y_max)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric_label(curves.metric, curves.direction))
    key = "yellow: best final value" + ("; grey: not run to the end" if len(partial) else "")
    ax.set_title(literal(f"{title or f'{len(rows)} of {curves.n_configs} curves'} ({key})"))
    ax.grid(alpha=0.3)
    return _save(fig, out, plt)


def _clip_top(ax: Any, drawn: NDArray[np.float64], y_max: float) -> None:
    """End the y axis at ``y_max`` (the bottom 5 % below the lowest value drawn) and note how many
    rows of ``drawn`` (``-inf`` where not drawn) rise above it."""
    log = ax.get_yscale() == "log"
    if log and y_max <= 0:
        raise ValueError(f"y_max must be positive on a log axis, got {y_max}")
    low = float(np.min(drawn, where=np.isfinite(drawn), initial=np.inf))
    if math.isfinite(low) and low >= y_max:  # an empty frame, upside down (a review, stop 35)
        raise ValueError(f"--y-max {y_max:g} is at or below every value drawn (the lowest is "
                         f"{low:.4g}): the frame would show none of them")
    if low < y_max:
        bottom = low / (y_max / low) ** 0.05 if log else low - 0.05 * (y_max - low)
        ax.set_ylim(bottom=bottom, top=y_max)
    else:
        ax.set_ylim(top=y_max)
    peaks = drawn.max(axis=1)
    above = int((peaks > y_max).sum())
    if above:
        ax.text(0.99, 0.98, f"{above} curve{'s' if above > 1 else ''} above the frame "
                f"(up to {peaks.max():.3g})", transform=ax.transAxes, ha="right", va="top",
                fontsize=8)
