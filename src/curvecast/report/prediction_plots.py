"""Figures of the prediction experiments (PNG): R² against the observed share of the curve,
sample efficiency, the feature ablation and the coverage of the predicted intervals.

Several outputs of :func:`curvecast.experiments.prediction.run_prediction_experiments` (e.g. a main
run and a separate run of the slow LCE baseline) can be drawn as one figure set::

    python -m curvecast.report.prediction_plots --title lstm_ptb --out DIR main.json lce.json
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from curvecast.curves import json_numbers
from curvecast.experiments.prediction import select
from curvecast.features import GROUPS
from curvecast.report.file_names import file_stem
from curvecast.report.plot_text import literal

#: R² below this is drawn as an arrow on the lower edge of the linear panel, with its value.
R2_FLOOR = -0.25
#: 1 − R² below this (R² within 1e-5 of 1, or 1 exactly) is drawn as ▼ on the lower edge of the
#: log panel, which says so: a log axis cannot show 0.
LOG_FLOOR = 1e-5
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_STYLES = ("-", "--", "-.", ":")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def merge_outputs(outputs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One output from several runs on the same data: results concatenated, predictors in order.

    A (experiment, predictor, features, fraction, train size, metric) cell present in more than one
    output is kept from the first.
    """
    if not outputs:
        raise ValueError("no outputs to merge")
    seen: set[tuple[Any, ...]] = set()
    results: list[Mapping[str, Any]] = []
    names: list[str] = []
    for out in outputs:
        for name in out["settings"]["predictors"]:
            if name not in names:
                names.append(name)
        for r in out["results"]:
            key = (r["experiment"], r["predictor"], r["features"], r["fraction"], r["train_size"],
                   r["metric"])
            if key not in seen:
                seen.add(key)
                results.append(r)
    first = outputs[0]
    return {"dataset": first.get("dataset"), "settings": {**first["settings"], "predictors": names},
            "results": results}


def _se(record: Mapping[str, Any]) -> float:
    """A record's standard error for an error bar: 0 where there is none (one repeat)."""
    return float(record["stderr"] or 0.0)


#: Said on a panel whose every R² is undefined (what ``evaluate`` notes on the terminal).
UNDEFINED_R2 = ("R² is undefined in every cell: the test curves' final values\n"
                "do not vary (no variance to explain); compare the predictors\n"
                "by their RMSE")


def _mean(record: Mapping[str, Any]) -> float:
    """A record's mean, NaN where it has none (None in a JSON result: R² undefined)."""
    return math.nan if record["mean"] is None else float(record["mean"])


def _all_undefined(records: Sequence[Mapping[str, Any]]) -> bool:
    """Whether no record has a finite mean (every test set's finals were equal: R² undefined),
    so a panel of them would be empty or, on a log axis, fail to draw."""
    return not any(math.isfinite(_mean(r)) for r in records)


def _say_undefined(ax: Any) -> None:
    """Write :data:`UNDEFINED_R2` across the panel ``ax``, so it is not read as empty."""
    ax.text(0.5, 0.5, UNDEFINED_R2, transform=ax.transAxes, ha="center", va="center",
            fontsize=9, color="tab:red")


def plot_prediction_results(output: Mapping[str, Any], out_dir: Path, title: str) -> list[Path]:
    """Write ``<title>-r2_vs_fraction.png``, ``-sample_efficiency.png``,
    ``-feature_ablation.png`` and ``-coverage.png`` (those whose experiments ran; ``title`` made
    a safe file name, so two data sets' figures share a folder as ``simulate``'s do) into
    ``out_dir``; returns the paths written."""
    plt = _pyplot()
    stem = file_stem(title)
    out_dir.mkdir(parents=True, exist_ok=True)
    # a record's mean of None (a JSON result's undefined R²) drawn as NaN: no point, no crash
    records = [{**r, "mean": _mean(r)} if "mean" in r else r for r in output["results"]]
    names = list(output["settings"]["predictors"])
    written: list[Path] = []

    table1 = select(records, experiment="table1", metric="r2")
    if table1:
        written.append(_r2_vs_fraction(plt, table1, names, out_dir / f"{stem}-r2_vs_fraction.png",
                                       title))

    efficiency = sorted(select(records, experiment="sample_efficiency", metric="r2"),
                        key=lambda r: r["train_size"])
    if efficiency:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.errorbar([r["train_size"] for r in efficiency], [r["mean"] for r in efficiency],
                    yerr=[_se(r) for r in efficiency], marker="o", capsize=3)
        for r in efficiency:
            ax.annotate(f"{r['mean']:.3f}", (r["train_size"], r["mean"]), fontsize=7,
                        textcoords="offset points", xytext=(4, -11))
        ax.margins(x=0.08)
        if _all_undefined(efficiency):
            ax.set_ylim(R2_FLOOR, 1.02)
            _say_undefined(ax)
        ax.set_xlabel("fully observed training curves")
        ax.set_ylabel(f"R² at {100 * efficiency[0]['fraction']:g} % observed")
        low = min((_mean(r) for r in efficiency), key=lambda m: (math.isnan(m), m))
        floor_note = ""
        if low < R2_FLOOR:  # the points below the floor marked on the edge, as in the R² figure
            ax.set_ylim(bottom=R2_FLOOR)
            for r in efficiency:
                if r["mean"] < R2_FLOOR:
                    ax.plot([r["train_size"]], [R2_FLOOR], marker="v", color="tab:red", ms=8,
                            clip_on=False)
            floor_note = f"\nvalues below {R2_FLOOR} marked ▼ on the edge"
        ax.set_title(f"{literal(title)}: sample efficiency "
                     f"({literal(str(efficiency[0]['predictor']))})"
                     f"{floor_note}")
        ax.grid(alpha=0.3)
        written.append(_save(fig, out_dir / f"{stem}-sample_efficiency.png", plt))

    # a group curvecast does not know (a hand-edited file) sorts last, as in the report's table
    ablation = sorted(select(records, experiment="table2", metric="r2"),
                      key=lambda r: (len(r["features"].split("+")),
                                     [GROUPS.index(g) if g in GROUPS else len(GROUPS)
                                      for g in r["features"].split("+")]))
    if ablation:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        labels = [r["features"] for r in ablation]
        means = [max(r["mean"], R2_FLOOR) for r in ablation]
        below = [r["mean"] < R2_FLOOR for r in ablation]  # cut at the floor: hatched, no error bar
        bars = ax.bar(labels, means, yerr=[0.0 if b else _se(r) for r, b in zip(ablation, below,
                                                                             strict=True)],
                      capsize=3, color="tab:blue")
        for bar, cut in zip(bars, below, strict=True):
            if cut:
                bar.set_hatch("//")
                bar.set_facecolor("tab:red")
        for i, r in enumerate(ablation):
            y = max(r["mean"], R2_FLOOR) + _se(r)
            ax.annotate(f"{r['mean']:.3f}", (i, max(y, 0)), ha="center", fontsize=8,
                        textcoords="offset points", xytext=(0, 3))
        ax.axhline(0, color="black", lw=0.6)
        ax.set_ylim(min([0.0, *(m for m in means if math.isfinite(m))]) - 0.05, 1.08)
        if _all_undefined(ablation):  # NaN bars leave the frame's x range to one label
            ax.set_xlim(-0.5, len(labels) - 0.5)
            _say_undefined(ax)
        ax.set_ylabel(f"R² at {100 * ablation[0]['fraction']:g} % observed")
        ax.set_xlabel("feature groups (ts: curve, ap: architecture, hp: hyperparameters)")
        ax.set_title(f"{literal(title)}: feature ablation "
                     f"({literal(str(ablation[0]['predictor']))})"
                     + (f"\nred hatched: R² below {R2_FLOOR}, cut at it (the label is the value)"
                        if any(below) else ""))
        ax.tick_params(axis="x", rotation=30)
        written.append(_save(fig, out_dir / f"{stem}-feature_ablation.png", plt))

    cov = select(records, experiment="table1", metric="coverage_68")
    if cov:
        written.append(_coverage(plt, records, names, out_dir / f"{stem}-coverage.png", title))
    return written


def _n_label(name: str, rows: Sequence[Mapping[str, Any]], usual: int) -> str:
    n = max((r["n"] for r in rows if r.get("n") is not None), default=0)
    return literal(name) if n == usual else f"{literal(name)} ({n} repeats)"


def _r2_vs_fraction(plt: Any, table1: list[Mapping[str, Any]], names: list[str], path: Path,
                    title: str) -> Path:
    """Two panels: R² (values below ``R2_FLOOR`` marked on the edge) and 1 − R² on a log axis,
    which separates predictors that all sit near R² = 1 (values below ``LOG_FLOOR``, e.g. R² = 1
    exactly, marked ▼ on its lower edge)."""
    fig, (ax, lax) = plt.subplots(1, 2, figsize=(11, 4.4))
    shown = [n for n in names if select(table1, predictor=n)]
    usual = max((r["n"] for r in table1 if r.get("n") is not None), default=0)
    any_floored = False
    for i, name in enumerate(shown):
        rows = sorted(select(table1, predictor=name), key=lambda r: r["fraction"])
        dodge = (i - (len(shown) - 1) / 2) * 0.5  # percentage points, so error bars do not hide
        x = [100 * r["fraction"] + dodge for r in rows]
        mean = [r["mean"] for r in rows]
        err = [_se(r) for r in rows]
        clipped_err = [0.0 if m < R2_FLOOR else e for m, e in zip(mean, err, strict=True)]
        style = {"marker": _MARKERS[i % len(_MARKERS)], "ls": _STYLES[i % len(_STYLES)],
                 "capsize": 3, "ms": 5}
        bar = ax.errorbar(x, [max(m, R2_FLOOR) for m in mean], yerr=clipped_err, label=_n_label(
            name, rows, usual), **style)
        color = bar[0].get_color()
        for xi, m in zip(x, mean, strict=True):
            if m < R2_FLOOR:
                ax.annotate(f"{m:.3g}", (xi, R2_FLOOR), color=color, fontsize=8,
                            textcoords="offset points", xytext=(6, 8 + 10 * (i % 3)))
                ax.plot([xi], [R2_FLOOR], marker="v", color=color, ms=8, clip_on=False)
        unexplained = [1 - m for m in mean]
        floored = [u < LOG_FLOOR for u in unexplained]  # NaN: not floored (not drawn)
        lax.errorbar(x, [max(u, LOG_FLOOR) if f else u for u, f in zip(unexplained, floored,
                                                                       strict=True)],
                     yerr=[0.0 if f else e for e, f in zip(err, floored, strict=True)],
                     color=color, **style)
        for xi, f in zip(x, floored, strict=True):
            if f:
                lax.plot([xi], [LOG_FLOOR], marker="v", color=color, ms=8, clip_on=False)
        any_floored = any_floored or any(floored)
    # ticks at the shares observed, not at round numbers: with one share (25 %) the dodged
    # predictors read as 24.75 % and 25.25 % on ticks 24.8 … 25.2 (a review)
    observed = sorted({100 * float(r["fraction"]) for r in table1})
    for axis in (ax, lax):
        axis.set_xticks(observed, [f"{f:g}" for f in observed])
        if len(observed) == 1:  # room for the dodge, not a frame 0.5 points wide
            axis.set_xlim(observed[0] - 5, observed[0] + 5)
    ax.set_ylim(R2_FLOOR, 1.02)
    if _all_undefined(table1):  # nothing to draw: say why (a log axis of no value fails)
        for axis in (ax, lax):
            _say_undefined(axis)
        lax.set_ylim(LOG_FLOOR, 2.0)
    ax.set_xlabel("% of learning curve observed")
    ax.set_ylabel("R² of the predicted final value")
    ax.set_title(f"R² (values below {R2_FLOOR} marked ▼ on the edge)", fontsize=9)
    ax.grid(alpha=0.3)
    lax.set_yscale("log")
    lax.set_xlabel("% of learning curve observed")
    lax.set_ylabel("1 − R²  (unexplained variance, log)")
    lax.set_title("1 − R², log scale: lower is better"
                  + (f"\n(values below {LOG_FLOOR:g}, e.g. R² = 1, marked ▼ on the lower edge)"
                     if any_floored else ""), fontsize=9)
    if any_floored:  # the floor is the lower edge, where the ▼ sit
        lax.set_ylim(LOG_FLOOR, max(lax.get_ylim()[1], 10 * LOG_FLOOR))
    lax.grid(alpha=0.3, which="both")
    fig.suptitle(f"{literal(title)}: R² of the final value vs observed share of the curve")
    n_rows = 1 if len(shown) <= 6 else 2
    fig.legend(loc="lower center", ncol=math.ceil(len(shown) / n_rows), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.05 * n_rows, 1, 1))
    return _save(fig, path, plt, tight=False)


def _coverage(plt: Any, records: list[Mapping[str, Any]], names: list[str], path: Path,
              title: str) -> Path:
    """Coverage of the mean ± 1σ and ± 1.96σ intervals per predictor at the fraction nearest 25 %.

    A bar whose record the file lacks (a hand-edited file: a 68 % record without its 95 % one) is
    left out, and the title names it."""
    fractions = sorted({r["fraction"] for r in select(records, experiment="table1",
                                                      metric="coverage_68")})
    quarter = min(fractions, key=lambda f: abs(f - 0.25))
    shown = [n for n in names if select(records, experiment="table1", predictor=n,
                                        fraction=quarter, metric="coverage_68")]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(shown) + 2), 4))
    width = 0.38
    missing: list[str] = []
    for j, (metric, nominal, color) in enumerate((("coverage_68", 0.68, "tab:blue"),
                                                  ("coverage_95", 0.95, "tab:orange"))):
        found = {n: select(records, experiment="table1", predictor=n, fraction=quarter,
                           metric=metric) for n in shown}
        lacking = [literal(n) for n in shown if not found[n]]
        if lacking:  # (every predictor: said once, not name by name)
            missing.append(f"{metric.split('_')[1]} % of "
                           + ("any predictor" if len(lacking) == len(shown) else
                              ", ".join(lacking)))
        rows = [found[n][0] for n in shown if found[n]]
        xs = [i + (j - 0.5) * width for i, n in enumerate(shown) if found[n]]
        ax.bar(xs, [r["mean"] for r in rows], width, yerr=[_se(r) for r in rows],
               capsize=3, color=color, label=f"{metric.split('_')[1]} % interval")
        ax.axhline(nominal, color=color, ls="--", lw=1)
        for x, r in zip(xs, rows, strict=True):
            ax.annotate(f"{r['mean']:.2f}", (x, r["mean"] + _se(r)), ha="center",
                        fontsize=7, textcoords="offset points", xytext=(0, 3))
    ax.set_xticks(range(len(shown)), [literal(n) for n in shown], rotation=20)
    ax.set_ylim(0, 1.25)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("share of test finals inside the interval")
    ax.set_title(f"{literal(title)}: interval coverage at {100 * quarter:g} % observed "
                 "(dashed: nominal)"
                 + (f"\nnot in the file: {'; '.join(missing)}" if missing else ""), fontsize=10)
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path, plt)


def _save(fig: Any, path: Path, plt: Any, tight: bool = True) -> Path:
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m curvecast.report.prediction_plots --title T --out DIR a.json [b.json ...]``."""
    parser = argparse.ArgumentParser(description="Draw the prediction figures of one or more "
                                                 "`curvecast evaluate --json` outputs (same data).")
    parser.add_argument("json", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    parser.add_argument("--title", default=None, help="figure title (default: first file's stem)")
    parser.add_argument("--ablation", nargs="*", type=Path, default=[],
                        help="outputs of one-feature-set runs (--experiments table1 --features "
                             "...): their table1 records are drawn as the feature ablation")
    args = parser.parse_args(argv)
    outputs = [json_numbers.loads(p.read_text(), keep=json_numbers.RESULT_TEXT)
               for p in args.json]
    for path in args.ablation:
        out = json_numbers.loads(path.read_text(), keep=json_numbers.RESULT_TEXT)
        outputs.append({**out, "settings": {**out["settings"], "predictors": []},
                        "results": [{**r, "experiment": "table2"} for r in out["results"]
                                    if r["experiment"] == "table1"]})
    merged = merge_outputs(outputs)
    for path in plot_prediction_results(merged, args.out, args.title or args.json[0].stem):
        print(f"figure -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
