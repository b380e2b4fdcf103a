"""The figures of the study report (PNG data URIs): learning curves with the predictions of
stopped trials, cost against the best found, the stopping decisions, and MetaQNN's ε and reward."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Direction
from curvecast.curves.wording import counted
from curvecast.report import _html
from curvecast.report.plot_text import metric_label
from curvecast.report.study_trace import Told
from curvecast.stopping import Action, Decision
from curvecast.store import StoredTrial, TrialState

_GREEN, _ORANGE, _RED, _BLUE = "#1a7f37", "#b35900", "#c00000", "#0b5cad"
ACTIVE = (TrialState.RUNNING, TrialState.PENDING, TrialState.PAUSED)


def final_value(t: StoredTrial) -> float | None:
    """The observed final value of a complete trial, else None."""
    if t.state is TrialState.COMPLETE and t.values:
        return t.values[-1][1]
    return None


def last_prediction(t: StoredTrial) -> Decision | None:
    """The last decision of ``t`` when it carried a prediction, else None.

    Not an earlier one: the report shows a prediction beside the last decision's reason, and a
    stop that made none (a diverged run, a stop in the final stretch) must not borrow the mean
    and σ of a decision it did not act on (``show`` leaves them blank too).
    """
    last = t.decisions[-1] if t.decisions else None
    return last if last is not None and last.mean is not None else None


def integer_ticks() -> Any:
    """A tick locator at whole numbers (epochs, trials)."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def curves_figure(trials: Sequence[StoredTrial], metric: str, epochs: int, plt: Any,
                  direction: Direction = Direction.MAXIMIZE) -> str:
    """Every trial's curve; a stopped one with the final value predicted for it and ±1σ; a
    diverged report (NaN or ±inf) as a red × at the frame's edge (NaN on the worse side); the y
    axis names ``metric`` and ``direction``."""
    fig, ax = plt.subplots(figsize=(10, 5))
    diverged: list[tuple[int, bool]] = []  # (epoch, at the top edge)
    for t in trials:
        if not t.values:
            continue
        x = [e for e, _, _ in t.values]
        y = [v for _, v, _ in t.values]
        diverged += [(e, v > 0 if math.isinf(v) else direction is Direction.MINIMIZE)
                     for e, v in zip(x, y, strict=True) if not math.isfinite(v)]
        single = "o" if len(x) == 1 else None  # one report: a dot, since a line needs two
        if t.state is TrialState.COMPLETE:
            ax.plot(x, y, color=_GREEN, lw=1.1, alpha=0.75, marker=single, ms=3)
            continue
        color = {TrialState.STOPPED: _ORANGE, TrialState.FAILED: _RED}.get(t.state, _BLUE)
        ax.plot(x, y, color=color, lw=0.9, alpha=0.6, marker=single, ms=3)
        ax.plot(x[-1], y[-1], "x" if t.state is TrialState.STOPPED else "s", color=color, ms=5,
                alpha=0.9)
        pred = last_prediction(t)
        mean = t.predicted_value if t.predicted_value is not None else (pred.mean if pred else None)
        if (t.state is not TrialState.STOPPED or mean is None or x[-1] >= epochs
                or not (np.isfinite(mean) and np.isfinite(y[-1]))):
            continue  # a diverged stop (last value NaN or ±inf) has no line to project
        # the band only around the decision's own prediction of the final value (an
        # f-Hyperband stop's was of its rung's end; the value stored is the one it was told)
        std = pred.std if pred is not None and pred.std is not None and pred.mean == mean else 0.0
        std = std if np.isfinite(std) else 0.0
        xs = np.linspace(x[-1], epochs, 12)
        share = (xs - x[-1]) / (epochs - x[-1])  # the band opens from the stop to epoch T
        line = y[-1] + share * (mean - y[-1])
        ax.plot(xs, line, color=_ORANGE, lw=0.8, ls=":", alpha=0.6)
        ax.fill_between(xs, line - share * std, line + share * std, color=_ORANGE, alpha=0.07,
                        lw=0)
        ax.errorbar([epochs], [mean], yerr=[std], fmt="o", ms=3, color=_ORANGE, alpha=0.5,
                    capsize=2)
    # a key only for what is drawn (a study with no stop listed "stopped" and its band)
    if any(t.state is TrialState.COMPLETE and t.values for t in trials):
        ax.plot([], [], color=_GREEN, label="trained to the end")
    if any(t.state is TrialState.STOPPED and t.values for t in trials):
        ax.plot([], [], "x-", color=_ORANGE, label="stopped (× at the stop epoch)")
        ax.fill_between([], [], [], color=_ORANGE, alpha=0.25,
                        label="predicted final value ± 1σ (dotted, band, dot at T)")
    if any(t.state is TrialState.FAILED and t.values for t in trials):
        ax.plot([], [], "s-", color=_RED, label="failed")
    if any(t.state in ACTIVE and t.values for t in trials):
        ax.plot([], [], "s-", color=_BLUE, label="not finished")
    ax.set_xlim(0.5, epochs + 0.5)
    _frame_the_bulk(ax, [[v for _, v, _ in t.values] for t in trials if t.values])
    if diverged:  # matplotlib leaves NaN and ±inf out without a mark
        low, high = ax.get_ylim()
        ax.plot([e for e, _ in diverged], [high if top else low for _, top in diverged], "x",
                color="crimson", ms=6, clip_on=False, label="diverged report (NaN or ±inf)")
        ax.set_ylim(low, high)
    ax.xaxis.set_major_locator(integer_ticks())
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric_label(metric, direction))
    ax.set_title("Learning curves of every trial")
    ax.grid(alpha=0.3)
    if not any(t.values for t in trials):  # an empty frame read as a broken figure
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no trial has reported a value yet", ha="center", va="center",
                transform=ax.transAxes, color="#666")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    return _html.figure_uri(fig, plt)


def _frame_the_bulk(ax: Any, curves: Sequence[Sequence[float]], reach: float = 20.0) -> None:
    """End the y axis where the bulk of the ``curves``' values ends (``reach`` interquartile
    ranges beyond the quartiles), when a few values lie further out — a run that blew up to
    1e13 flattened every other curve onto one line — and say how many curves leave the frame
    and how far they go.  Left as drawn otherwise."""
    finite = np.array([v for c in curves for v in c if math.isfinite(v)], dtype=np.float64)
    if finite.size < 4:
        return
    q1, q3 = np.quantile(finite, [0.25, 0.75])
    bulk = finite[(finite >= q1 - reach * (q3 - q1)) & (finite <= q3 + reach * (q3 - q1))]
    low, high = float(bulk.min()), float(bulk.max())  # the frame: the values not far out
    if not low < high or bulk.size == finite.size:
        return
    ax.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
    peaks = [max((v for v in c if math.isfinite(v)), default=math.nan) for c in curves]
    dips = [min((v for v in c if math.isfinite(v)), default=math.nan) for c in curves]
    notes = []
    above = [p for p in peaks if p > high]
    below = [d for d in dips if d < low]
    if above:
        notes.append(f"{counted(len(above), 'curve')} above the frame (up to {max(above):.3g})")
    if below:
        notes.append(f"{counted(len(below), 'curve')} below it (down to {min(below):.3g})")
    ax.text(0.99, 0.98, "; ".join(notes), transform=ax.transAxes, ha="right", va="top",
            fontsize=8)


def cost_figure(trials: Sequence[StoredTrial], direction: Direction, epochs: int, plt: Any, *,
                metric: str = "value") -> str:
    """The best final value found against the epochs trained, beside training every trial to the
    end; the y axis names ``metric`` and ``direction``."""
    used = full = 0
    best = math.nan
    best_used: list[tuple[int, float]] = [(0, math.nan)]
    best_full: list[tuple[int, float]] = [(0, math.nan)]
    for t in trials:
        if t.state not in (TrialState.COMPLETE, TrialState.STOPPED):
            continue
        used += len(t.values)
        full += epochs
        v = final_value(t)  # a diverged final (±inf, NaN) is never the best found
        if v is not None and math.isfinite(v) and (math.isnan(best)
                                                   or direction.is_better(v, best)):
            best = v
        best_used.append((used, best))
        best_full.append((full, best))
    fig, ax = plt.subplots(figsize=(10, 3.8))
    ax.step(*zip(*best_used, strict=True), where="post", color=_BLUE, lw=1.6,
            label=f"with early stopping: {counted(used, 'epoch')}")
    ax.step(*zip(*best_full, strict=True), where="post", color="#888", ls="--",
            label=f"the same trials trained to the end: {counted(full, 'epoch')}")
    ax.xaxis.set_major_locator(integer_ticks())
    if used:
        ax.axvline(used, color=_BLUE, lw=0.8, alpha=0.5)
        ax.axvline(full, color="#888", lw=0.8, alpha=0.5)
    if math.isnan(best):  # nothing to draw: say why instead of an empty frame around 0
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no trial was trained to the end with a finite final value yet:\n"
                "no best value to draw", ha="center", va="center", transform=ax.transAxes,
                color="#666")
    ax.set_xlabel("epochs trained (cumulative, trials in the order they were started)")
    ax.set_ylabel(metric_label(f"best final {metric} so far", direction))
    ax.set_title("Search cost against the best result found"
                 + (f" (speedup {full / used:.2f}x)" if used and not math.isnan(best) else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _html.figure_uri(fig, plt)


def decisions_figure(trials: Sequence[StoredTrial], epochs: int, delta: float | None,
                     plt: Any) -> str:
    """Where each trial ended, and the probability every stopping decision saw against Δ."""
    fig, (ax, pax) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 1.2]})
    styles = {TrialState.COMPLETE: ("o", _GREEN, "trained to the end"),
              TrialState.STOPPED: ("x", _ORANGE, "stopped"),
              TrialState.FAILED: ("s", _RED, "failed")}
    for state, (marker, color, label) in styles.items():
        ts = [t for t in trials if t.state is state]
        if ts:
            ax.plot([t.number for t in ts], [t.last_epoch for t in ts], marker, color=color,
                    ms=5, ls="none", label=f"{label} ({len(ts)})")
    ax.set_ylim(0, 1.3 * epochs + 1)  # room above the complete trials for the key: the trials
    # stopped at epoch 1, the usual ones, sit at the bottom, where a key would hide them
    ax.yaxis.set_major_locator(integer_ticks())
    ax.xaxis.set_major_locator(integer_ticks())
    ax.set_xlabel("trial (in the order started)")
    ax.set_ylabel("epochs trained")
    ax.set_title("Where each trial ended", fontsize=10)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # none while no trial has finished
        ax.legend(fontsize=8, loc="upper left", ncol=3)

    cont = [(t.number + 0.8 * d.epoch / (epochs + 1) - 0.4, d.probability) for t in trials
            for d in t.decisions if d.probability is not None and d.action is not Action.STOP]
    stop = [(t.number + 0.8 * d.epoch / (epochs + 1) - 0.4, d.probability) for t in trials
            for d in t.decisions if d.probability is not None and d.action is Action.STOP]
    if cont:
        pax.plot(*zip(*cont, strict=True), ".", color="#777", ms=3, alpha=0.6, label="continue")
    if stop:
        pax.plot(*zip(*stop, strict=True), "x", color=_ORANGE, ms=6, label="stop")
    if delta is not None:
        pax.axhline(delta, color=_RED, ls="--", lw=1, label=f"Δ = {delta:g}")
    if not (cont or stop):
        pax.text(0.5, 0.5, "no decision carried a probability\n(the stopper had not started "
                 "predicting,\nor it does not predict)", ha="center", va="center",
                 transform=pax.transAxes, color="#666")
    pax.set_ylim(-0.03, 1.03)
    pax.set_xlim(ax.get_xlim())
    pax.set_xlabel("trial (epochs of a trial spread left to right)")
    pax.set_ylabel("P(final value worse than the best)")
    pax.set_title("Every stopping decision: the probability it saw", fontsize=10)
    pax.grid(alpha=0.3)
    if cont or stop or delta is not None:
        pax.legend(fontsize=8, loc="lower right")
    return _html.figure_uri(fig, plt)


def metaqnn_figure(told: Mapping[int, Told], planned: NDArray[np.float64], metric: str,
                   plt: Any, direction: Direction = Direction.MAXIMIZE) -> str:
    """MetaQNN's ε schedule and the value told to the agent for every trial (the y axis names
    ``metric`` and ``direction``)."""
    fig, ax = plt.subplots(figsize=(10, 4.2))
    items = sorted(told.values(), key=lambda t: t.order)
    seen = [t for t in items if t.value is not None]
    observed = [t for t in seen if not t.predicted]
    predicted = [t for t in seen if t.predicted]
    if observed:
        ax.plot([t.order for t in observed], [t.value for t in observed], "o", color=_GREEN,
                ms=5, label="observed final value")
    if predicted:
        ax.plot([t.order for t in predicted], [t.value for t in predicted], "o", color=_ORANGE,
                mfc="white", ms=5, label="predicted final value (stopped early)")
    if len(seen) >= 5:
        window = max(5, len(seen) // 10)
        values = np.array([t.value for t in seen], dtype=np.float64)
        rolling = np.array([values[max(0, i - window + 1): i + 1].mean()
                            for i in range(len(values))])
        ax.plot([t.order for t in seen], rolling, color="#444", lw=1.2,
                label=f"mean of the last {window}")
    ax.xaxis.set_major_locator(integer_ticks())
    ax.set_xlabel("trial (in the order the agent asked)")
    ax.set_ylabel(metric_label(f"{metric} told to the agent", direction))
    ax.grid(alpha=0.3)
    eax = ax.twinx()
    eax.step(np.arange(len(planned)), planned, where="mid", color=_BLUE, lw=1, ls="--",
             alpha=0.6, label="ε schedule (planned)")
    eax.plot([t.order for t in items], [t.epsilon for t in items], "_", color=_BLUE, ms=9,
             mew=2, label="ε of each trial")
    eax.set_ylim(-0.03, 1.08)
    eax.set_ylabel("ε (share of random layer choices)", color=_BLUE)
    lines, labels = ax.get_legend_handles_labels()
    elines, elabels = eax.get_legend_handles_labels()
    fig.legend(lines + elines, labels + elabels, fontsize=8, loc="lower center",
               ncol=len(labels + elabels), frameon=False)
    ax.set_title("MetaQNN: ε schedule and the reward of every trial")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return _html.figure_uri(fig, plt, tight=False)
