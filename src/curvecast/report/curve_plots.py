"""A picture of a CurveSet: a random sample of its learning curves (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curvecast.curves import CurveSet
from curvecast.report.prediction_plots import _pyplot, _save


def plot_curves(curves: CurveSet, out: Path, *, n: int = 50, seed: int = 0,
                title: str | None = None) -> Path:
    """Draw ``n`` random curves of ``curves`` (all when it has fewer) to the PNG file ``out``.

    Diverged observations are drawn at the CurveSet's fill value (the worst value) and marked
    with an ×; the y axis is logarithmic for positive metrics to minimise (perplexity).

    Raises:
        ValueError: ``n`` below 1.
        FileNotFoundError: the folder of ``out`` does not exist.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out}: folder {str(out.parent)!r} does not exist")
    plt = _pyplot()
    rows = np.random.default_rng(seed).permutation(curves.n_configs)[:n]
    filled = curves.filled_values()
    diverged = curves.diverged()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    cmap = plt.get_cmap("viridis")
    goodness = curves.direction.sign * curves.final_values()[rows]  # higher is better
    order = np.argsort(np.nan_to_num(goodness, nan=-np.inf))  # best drawn last, in yellow
    for rank, r in enumerate(rows[order]):
        color = cmap(rank / max(len(rows) - 1, 1))
        seen = curves.observed[r]
        ax.plot(curves.epochs[seen], filled[r, seen], color=color, lw=1, alpha=0.8)
        if diverged[r].any():
            ax.plot(curves.epochs[diverged[r]], filled[r, diverged[r]], "x", color="crimson", ms=4)
    positive = bool(np.all(filled[curves.observed] > 0))
    if curves.direction.value == "minimize" and positive:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{curves.metric} ({curves.direction.value})")
    ax.set_title(title or f"{len(rows)} of {curves.n_configs} curves (yellow: best final value)")
    ax.grid(alpha=0.3)
    return _save(fig, out, plt)
