"""Figures of the prediction experiments (PNG): R² against the observed share of the curve,
sample efficiency, and the feature ablation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from curvecast.experiments.prediction import select


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_prediction_results(output: Mapping[str, Any], out_dir: Path, title: str) -> list[Path]:
    """Write ``r2_vs_fraction.png``, ``sample_efficiency.png`` and ``feature_ablation.png`` (those
    whose experiments ran) into ``out_dir``; returns the paths written."""
    plt = _pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    records = output["results"]
    written: list[Path] = []

    table1 = select(records, experiment="table1", metric="r2")
    if table1:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name in output["settings"]["predictors"]:
            rows = sorted(select(table1, predictor=name), key=lambda r: r["fraction"])
            if rows:
                ax.errorbar([100 * r["fraction"] for r in rows], [r["mean"] for r in rows],
                            yerr=[r["stderr"] for r in rows], marker="o", capsize=3, label=name)
        ax.set_xlabel("% of learning curve observed")
        ax.set_ylabel("R² of the predicted final value")
        ax.set_ylim(max(-0.2, ax.get_ylim()[0]), 1.0)
        ax.set_title(f"{title}: R² vs observed share")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        written.append(_save(fig, out_dir / "r2_vs_fraction.png", plt))

    efficiency = sorted(select(records, experiment="sample_efficiency", metric="r2"),
                        key=lambda r: r["train_size"])
    if efficiency:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.errorbar([r["train_size"] for r in efficiency], [r["mean"] for r in efficiency],
                    yerr=[r["stderr"] for r in efficiency], marker="o", capsize=3)
        ax.set_xlabel("fully observed training curves")
        ax.set_ylabel("R² at ~25 % observed")
        ax.set_title(f"{title}: sample efficiency ({efficiency[0]['predictor']})")
        ax.grid(alpha=0.3)
        written.append(_save(fig, out_dir / "sample_efficiency.png", plt))

    ablation = select(records, experiment="table2", metric="r2")
    if ablation:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar([r["features"] for r in ablation], [r["mean"] for r in ablation],
               yerr=[r["stderr"] for r in ablation], capsize=3)
        ax.set_ylabel("R² at ~25 % observed")
        ax.set_title(f"{title}: feature ablation ({ablation[0]['predictor']})")
        ax.tick_params(axis="x", rotation=30)
        written.append(_save(fig, out_dir / "feature_ablation.png", plt))
    return written


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
