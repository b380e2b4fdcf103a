"""Figures of the speedup experiments (PNG): speedup and best-kept against Δ, with the baselines.

Draws the output of :func:`curvecast.experiments.speedup.run_speedup` (``curvecast simulate
--json``)::

    python -m curvecast.report.speedup_plots --title metaqnn_cifar10 --out DIR a.json b.json

(several outputs over the same data, e.g. random search and Hyperband run separately, are drawn
as one figure set.)

Rules with a Δ (the predictive stopper, f-Hyperband) are lines over Δ; rules without one (median,
ASHA, never, oracle, Hyperband) are horizontal lines.  On the speedup panel a filled marker means
the true best config was kept in at least 90 % of the orderings, a hollow one that it was not.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from curvecast.curves import json_numbers
from curvecast.curves.wording import counted
from curvecast.experiments.speedup import select
from curvecast.report.file_names import file_stem
from curvecast.report.plot_text import literal
from curvecast.report.replay_settings import searched_trials

#: best_kept at or above this is drawn as a filled marker.
KEPT = 0.9
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_STYLES = ("--", "-.", ":", (0, (5, 1)), (0, (1, 1)), (0, (3, 1, 1, 1)))


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _series(results: Sequence[Mapping[str, Any]], searcher: str, stopper: str, metric: str
            ) -> list[tuple[float | None, float, float]]:
    """(Δ, mean, stderr) of one rule, Δ ascending (None for rules without Δ)."""
    out = [(r["delta"], r["mean"], r["stderr"] or 0.0)
           for r in select(results, searcher=searcher, stopper=stopper, metric=metric)
           if r["mean"] is not None]
    return sorted(out, key=lambda x: -1.0 if x[0] is None else x[0])


def _rules(results: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    rules: list[tuple[str, str]] = []
    for r in results:
        key = (r["searcher"], r["stopper"])
        if key not in rules:
            rules.append(key)
    return rules


def plot_speedup_results(output: Mapping[str, Any], out_dir: Path | str, title: str) -> list[Path]:
    """Write ``<title>-speedup.png`` (speedup and best kept vs Δ, every rule) and, when the
    output has f-Hyperband-like comparisons, ``<title>-fhyperband.png``; returns the paths."""
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = output["results"]
    deltas = sorted(output["settings"].get("deltas", ()))
    settings = output["settings"]
    trials = searched_trials(settings)
    note = (f"{settings.get('configs', '?')} configs"
            f"{'' if trials is None else f' ({trials} trials per search)'} × "
            f"{settings.get('epochs', '?')} epochs, "
            f"{counted(int(settings.get('orderings', 0)), 'ordering')}, "
            f"{counted(int(settings.get('workers', 1)), 'worker')}, "
            f"{'one value' if settings.get('orderings') == 1 else 'mean ± s.e.'}"
            f"{', warm-started' if settings.get('prior_configs') else ''}")
    paths = [_speedup_figure(plt, results, deltas, note, out / f"{file_stem(title)}-speedup.png", title)]
    compared = [(s, st) for s, st in _rules(results)
                if _series(results, s, st, "speedup_vs_reference")]
    if compared:
        paths.append(_reference_figure(plt, results, compared, deltas, note,
                                       out / f"{file_stem(title)}-fhyperband.png", title))
    return paths


def _speedup_figure(plt: Any, results: Sequence[Mapping[str, Any]], deltas: Sequence[float],
                    note: str, path: Path, title: str) -> Path:
    """Speedup (left) and best kept (right) against Δ of every rule, written to ``path``."""
    fig, (ax_s, ax_k) = plt.subplots(1, 2, figsize=(12, 4.8))
    sweep_i = flat_i = 0
    for searcher, stopper in _rules(results):
        label = literal(f"{searcher}+{stopper}")
        speed = _series(results, searcher, stopper, "speedup")
        kept = _series(results, searcher, stopper, "best_kept")
        if not speed:
            continue
        if speed[0][0] is None:  # a rule without Δ: horizontal line
            _draw_flat(ax_s, ax_k, label, speed, kept, flat_i)
            flat_i += 1
            continue
        _draw_sweep(ax_s, ax_k, label, speed, kept, sweep_i)
        sweep_i += 1
    for ax in (ax_s, ax_k):
        if sweep_i:
            ax.set_xlabel("Δ (probability threshold)")
            if deltas:
                ax.set_xticks(deltas)
        else:  # no rule here reads Δ: its lines are levels, with no axis to read along
            ax.set_xticks([])
        ax.grid(alpha=0.3)
    ax_s.set_ylabel("speedup (epochs of full training ÷ epochs used)")
    ax_s.set_title(f"speedup (filled: best kept in ≥ {KEPT:.0%} of orderings)", fontsize=10)
    ax_k.set_ylabel("best kept (share of orderings)")
    ax_k.set_ylim(-0.05, 1.05)
    ax_k.set_title("true best config trained to the end", fontsize=10)
    ax_s.legend(fontsize=7.5, loc="best")
    fig.suptitle(f"{literal(title)}: early stopping{' vs Δ' if sweep_i else ''} — {note}",
                 fontsize=10.5)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


_Series = list[tuple[float | None, float, float]]


def _draw_flat(ax_s: Any, ax_k: Any, label: str, speed: _Series, kept: _Series, i: int) -> None:
    """The ``i``-th rule without Δ: horizontal lines on both panels."""
    color = f"C{(i + 5) % 10}"
    style = _STYLES[i % len(_STYLES)]
    k = kept[0][1] if kept else float("nan")
    ax_s.axhline(speed[0][1], color=color, linestyle=style, linewidth=1.3,
                 label=f"{label}: {speed[0][1]:.2f}x, best kept {k:.0%}")
    if kept:
        ax_k.axhline(k, color=color, linestyle=style, linewidth=1.3, label=label)


def _draw_sweep(ax_s: Any, ax_k: Any, label: str, speed: _Series, kept: _Series, i: int) -> None:
    """The ``i``-th rule over Δ: lines with error bars, a filled marker where the best was kept."""
    color, marker = f"C{i % 10}", _MARKERS[i % len(_MARKERS)]
    xs = [d for d, _, _ in speed]
    ax_s.errorbar(xs, [m for _, m, _ in speed], yerr=[e for _, _, e in speed], color=color,
                  linewidth=1.6, capsize=3, label=label)
    kept_at = {d: m for d, m, _ in kept}
    for d, m, _ in speed:
        full = kept_at.get(d, 0.0) >= KEPT
        ax_s.plot([d], [m], marker=marker, markersize=8, color=color,
                  markerfacecolor=color if full else "white", linestyle="none")
    if kept:
        ax_k.errorbar([d for d, _, _ in kept], [m for _, m, _ in kept],
                      yerr=[e for _, _, e in kept], color=color, marker=marker, capsize=3,
                      linewidth=1.6, label=label)


def _reference_figure(plt: Any, results: Sequence[Mapping[str, Any]],
                      compared: Sequence[tuple[str, str]], deltas: Sequence[float], note: str,
                      path: Path, title: str) -> Path:
    """Speedup over the reference run and the share of the same bracket winners against Δ,
    written to ``path``."""
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for i, (searcher, stopper) in enumerate(compared):
        for j, (metric, name) in enumerate((
                ("speedup_vs_reference", "epochs of the reference ÷ epochs"),
                ("warm_speedup_vs_reference", "same, iterations with every predictor fitted"))):
            ser = _series(results, searcher, stopper, metric)
            if not ser:
                continue
            ax.errorbar([d for d, _, _ in ser], [m for _, m, _ in ser],
                        yerr=[e for _, _, e in ser], color=f"C{2 * i + j}",
                        marker=_MARKERS[j], capsize=3, label=f"{literal(str(searcher))}: {name}")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xlabel("Δ (probability threshold)")
    if deltas:
        ax.set_xticks(deltas)
    ax.set_ylabel("speedup over the reference (plain Hyperband)")
    ax.grid(alpha=0.3)
    twin = ax.twinx()
    for i, (searcher, stopper) in enumerate(compared):
        ser = _series(results, searcher, stopper, "same_selections")
        if ser:
            twin.plot([d for d, _, _ in ser], [m for _, m, _ in ser], color=f"C{2 * i}",
                      linestyle=":", marker="x",
                      label=f"{literal(str(searcher))}: same bracket winners (right axis)")
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("share of brackets with the reference's winner")
    lines = ax.get_legend_handles_labels()
    tl = twin.get_legend_handles_labels()
    # the key under the axes: inside, "best" placed it by the left axis's lines alone and it
    # hid the right axis's points (same bracket winners at 0.95, top right; a review)
    ax.legend(lines[0] + tl[0], lines[1] + tl[1], fontsize=7.5, loc="upper center",
              bbox_to_anchor=(0.5, -0.13), frameon=False)
    ax.set_title(f"{literal(title)}: f-Hyperband vs Hyperband\n{note}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m curvecast.report.speedup_plots``: draw saved ``simulate --json`` outputs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    outputs = [json_numbers.loads(path.read_text(), keep=json_numbers.RESULT_TEXT)
               for path in args.json]
    output = {**outputs[0], "results": [r for out in outputs for r in out["results"]]}
    output["settings"] = {**outputs[0]["settings"],
                          "deltas": sorted({d for out in outputs for d in out["settings"]["deltas"]})}
    for path in plot_speedup_results(output, args.out, args.title or args.json[0].stem):
        print(path)


if __name__ == "__main__":
    main()
