"""A self-contained HTML report of a study (``curvecast report --study``): what was searched, what
was stopped and why, what it cost, and what was found.

Sections: key figures and the best configuration; the learning curves of every trial, stopped ones
marked at their stop epoch with the final value predicted for them and its ±1σ band; the best
value found against the epochs spent, beside what training every trial to the end would have
spent; the stopping decisions over the course of the study (where each trial ended, and the
probability of ending worse that every decision saw, against Δ); for MetaQNN, the ε schedule and
the reward told to the agent per trial (predicted rewards marked); the top configurations; and a
table of every trial.  Figures are PNGs embedded as data URIs (:mod:`curvecast.report._html`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Direction
from curvecast.report import _html
from curvecast.report.prediction_plots import _pyplot
from curvecast.search.metaqnn import epsilon_schedule
from curvecast.stopping import Action, Decision
from curvecast.store import StoredTrial, TrialState

#: Trials shown in the top-configurations table.
TOP = 10

_GREEN, _ORANGE, _RED, _BLUE = "#1a7f37", "#b35900", "#c00000", "#0b5cad"
_ACTIVE = (TrialState.RUNNING, TrialState.PENDING, TrialState.PAUSED)


@dataclass(frozen=True)
class Told:
    """What a MetaQNN agent knew of one trial of the study.

    Attributes:
        order: position of the trial among the agent's asks (0 first).
        epsilon: the ε the trial's layers were chosen with.
        value: the final value told to the agent (metric units; the reward is
            ``direction.sign × value``), None while the trial runs.
        predicted: whether ``value`` is the prediction for an early-stopped trial.
        recomputed: ``epsilon`` was recomputed from the agent's final schedule (a state saved
            before agents kept the ε of each ask; wrong if the budget changed on a resume).
    """

    order: int
    epsilon: float
    value: float | None
    predicted: bool
    recomputed: bool = False


def _canonical(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True, default=str)


def metaqnn_trace(state: Mapping[str, Any], trials: Sequence[StoredTrial]
                  ) -> tuple[dict[int, Told], NDArray[np.float64]]:
    """Per trial number, the ε and told value a saved MetaQNN agent (``state_dict``) records.

    Trials are matched to the agent's ids by config (the oldest trial with an equal config first,
    as :meth:`~curvecast.search.ConfigSearcher.tell_config` does).

    Returns:
        ``(told by trial number, the planned ε of each of the agent's n_trials)``.

    Raises:
        ValueError: ``state`` is not a generative MetaQNN agent's state.
    """
    try:
        settings = state["settings"]
        planned = epsilon_schedule(int(settings["n_trials"]),
                                   [(float(e), int(c)) for e, c in settings["schedule"]])
        configs: Mapping[str, Mapping[str, Any]] = state["configs"]
        results: Mapping[str, Mapping[str, Any]] = state["results"]
    except (KeyError, TypeError) as err:
        raise ValueError(f"not the state of a MetaQNN agent: no {err}") from None
    kept: Mapping[str, float] = state.get("epsilons", {})
    numbers: dict[str, list[int]] = {}
    for t in sorted(trials, key=lambda t: t.number):
        numbers.setdefault(_canonical(t.config), []).append(t.number)
    out: dict[int, Told] = {}
    ids = sorted(configs, key=lambda c: (len(c), c))  # prefix + zero-padded ask count
    for order, cid in enumerate(ids):
        matches = numbers.get(_canonical(configs[cid]))
        if not matches:
            continue
        number = matches.pop(0)
        result = results.get(cid)
        eps = kept.get(cid)
        out[number] = Told(
            order=order,
            epsilon=float(eps) if eps is not None else float(planned[min(order, len(planned) - 1)]),
            value=None if result is None else float(result["value"]),
            predicted=bool(result and result["predicted"]),
            recomputed=eps is None)
    return out, planned


def _final(t: StoredTrial) -> float | None:
    """The observed final value of a complete trial, else None."""
    if t.state is TrialState.COMPLETE and t.values:
        return t.values[-1][1]
    return None


def _prediction(t: StoredTrial) -> Decision | None:
    """The last decision of ``t`` that carried a prediction."""
    judged = [d for d in t.decisions if d.mean is not None]
    return judged[-1] if judged else None


def _integer_ticks() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _curves_figure(trials: Sequence[StoredTrial], metric: str, epochs: int, plt: Any) -> str:
    fig, ax = plt.subplots(figsize=(10, 5))
    for t in trials:
        if not t.values:
            continue
        x = [e for e, _, _ in t.values]
        y = [v for _, v, _ in t.values]
        if t.state is TrialState.COMPLETE:
            ax.plot(x, y, color=_GREEN, lw=1.1, alpha=0.75)
            continue
        color = {TrialState.STOPPED: _ORANGE, TrialState.FAILED: _RED}.get(t.state, _BLUE)
        ax.plot(x, y, color=color, lw=0.9, alpha=0.6)
        ax.plot(x[-1], y[-1], "x" if t.state is TrialState.STOPPED else "s", color=color, ms=5,
                alpha=0.9)
        pred = _prediction(t)
        mean = t.predicted_value if t.predicted_value is not None else (pred.mean if pred else None)
        if t.state is not TrialState.STOPPED or mean is None or x[-1] >= epochs:
            continue
        std = (pred.std if pred and pred.std is not None else 0.0) or 0.0
        xs = np.linspace(x[-1], epochs, 12)
        share = (xs - x[-1]) / (epochs - x[-1])  # the band opens from the stop to epoch T
        line = y[-1] + share * (mean - y[-1])
        ax.plot(xs, line, color=_ORANGE, lw=0.8, ls=":", alpha=0.6)
        ax.fill_between(xs, line - share * std, line + share * std, color=_ORANGE, alpha=0.07,
                        lw=0)
        ax.errorbar([epochs], [mean], yerr=[std], fmt="o", ms=3, color=_ORANGE, alpha=0.5,
                    capsize=2)
    ax.plot([], [], color=_GREEN, label="trained to the end")
    ax.plot([], [], "x-", color=_ORANGE, label="stopped (× at the stop epoch)")
    ax.fill_between([], [], [], color=_ORANGE, alpha=0.25,
                    label="predicted final value ± 1σ (dotted, band, dot at T)")
    if any(t.state is TrialState.FAILED for t in trials):
        ax.plot([], [], "s-", color=_RED, label="failed")
    if any(t.state in _ACTIVE and t.values for t in trials):
        ax.plot([], [], "s-", color=_BLUE, label="not finished")
    ax.set_xlim(0.5, epochs + 0.5)
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title("Learning curves of every trial")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _html.figure_uri(fig, plt)


def _cost_figure(trials: Sequence[StoredTrial], direction: Direction, epochs: int, plt: Any) -> str:
    used = full = 0
    best = math.nan
    best_used: list[tuple[int, float]] = [(0, math.nan)]
    best_full: list[tuple[int, float]] = [(0, math.nan)]
    for t in trials:
        if t.state not in (TrialState.COMPLETE, TrialState.STOPPED):
            continue
        used += len(t.values)
        full += epochs
        v = _final(t)
        if v is not None and not math.isnan(v) and (math.isnan(best)
                                                    or direction.is_better(v, best)):
            best = v
        best_used.append((used, best))
        best_full.append((full, best))
    fig, ax = plt.subplots(figsize=(10, 3.8))
    ax.step(*zip(*best_used, strict=True), where="post", color=_BLUE, lw=1.6,
            label=f"with early stopping: {used} epochs")
    ax.step(*zip(*best_full, strict=True), where="post", color="#888", ls="--",
            label=f"the same trials trained to the end: {full} epochs")
    if used:
        ax.axvline(used, color=_BLUE, lw=0.8, alpha=0.5)
        ax.axvline(full, color="#888", lw=0.8, alpha=0.5)
    ax.set_xlabel("epochs trained (cumulative, trials in the order they were started)")
    ax.set_ylabel("best final value so far")
    ax.set_title("Search cost against the best result found"
                 + (f" (speedup {full / used:.2f}x)" if used else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right" if direction is Direction.MAXIMIZE else "upper right")
    return _html.figure_uri(fig, plt)


def _decisions_figure(trials: Sequence[StoredTrial], epochs: int, delta: float | None,
                      plt: Any) -> str:
    fig, (ax, pax) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 1.2]})
    styles = {TrialState.COMPLETE: ("o", _GREEN, "trained to the end"),
              TrialState.STOPPED: ("x", _ORANGE, "stopped"),
              TrialState.FAILED: ("s", _RED, "failed")}
    for state, (marker, color, label) in styles.items():
        ts = [t for t in trials if t.state is state]
        if ts:
            ax.plot([t.number for t in ts], [t.last_epoch for t in ts], marker, color=color,
                    ms=5, ls="none", label=f"{label} ({len(ts)})")
    ax.set_ylim(0, epochs + 1)
    ax.yaxis.set_major_locator(_integer_ticks())
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlabel("trial (in the order started)")
    ax.set_ylabel("epochs trained")
    ax.set_title("Where each trial ended", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")

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


def _metaqnn_figure(told: Mapping[int, Told], planned: NDArray[np.float64], metric: str,
                    plt: Any) -> str:
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
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlabel("trial (in the order the agent asked)")
    ax.set_ylabel(f"{metric} told to the agent")
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


def _ranked(trials: Sequence[StoredTrial], direction: Direction) -> list[StoredTrial]:
    """Complete trials with a finite final value, best first."""
    done = [t for t in trials if (v := _final(t)) is not None and math.isfinite(v)]
    return sorted(done, key=lambda t: -direction.sign * (_final(t) or 0.0))


def _top_table(ranked: Sequence[StoredTrial]) -> str:
    keys: list[str] = []
    for t in ranked[:TOP]:
        keys += [k for k in t.config if k not in keys]
    rows = []
    for i, t in enumerate(ranked[:TOP], 1):
        cells = [str(i), f"t{t.number}", _html.fmt(_final(t)), _html.fmt(t.test_value)]
        for k in keys:
            v = t.config.get(k, "")
            cells.append(f"<code>{_html.esc(v)}</code>" if isinstance(v, str) and len(v) > 12
                         else _html.esc(_html.fmt(v) if isinstance(v, float) else v))
        rows.append(cells)
    return _html.table(["rank", "trial", "final value", "test value", *map(_html.esc, keys)], rows,
                       numeric=(0, 2, 3))


def _config_html(config: Mapping[str, Any]) -> str:
    """A config in one short line: long strings (a net) as code, numbers with 3 digits."""
    parts = []
    for key, value in config.items():
        if isinstance(value, str) and len(value) > 12:
            parts.append(f"<code>{_html.esc(value)}</code>")
        else:
            shown = _html.fmt(value, 3) if isinstance(value, float) else value
            parts.append(f"{_html.esc(key)} {_html.esc(shown)}")
    return " · ".join(parts)


def _trial_rows(trials: Sequence[StoredTrial], told: Mapping[int, Told] | None) -> list[list[str]]:
    rows = []
    for t in trials:
        last = t.decisions[-1] if t.decisions else None
        pred = _prediction(t)
        cells = [f"t{t.number}", f'<td class="{t.state.value}">{t.state.value}</td>',
                 str(len(t.values)), _html.fmt(t.values[-1][1]) if t.values else "–",
                 f"{_html.fmt(pred.mean)} ± {_html.fmt(pred.std, 2)}" if pred else "–",
                 _html.fmt(pred.probability, 3) if pred else "–"]
        if told is not None:
            info = told.get(t.number)
            cells.append("–" if info is None else f"{info.epsilon:.2f}"
                         + ("*" if info.recomputed else ""))
            if info is None or info.value is None:
                cells.append("–")
            elif info.predicted:
                cells.append(f'<td class="num predicted">{_html.fmt(info.value)} '
                             f"(predicted)</td>")
            else:
                cells.append(_html.fmt(info.value))
        cells += [_html.esc(last.reason if last else ""), _config_html(t.config)]
        rows.append(cells)
    return rows


def write_study_report(info: dict[str, Any], trials: Sequence[StoredTrial], out: Path, *,
                       searcher_state: Mapping[str, Any] | None = None) -> Path:
    """Write the HTML report of a study (``info`` as from ``Store.study_info``) to ``out``.

    ``searcher_state`` is the study's saved searcher state (``study_state`` key ``"searcher"``);
    for a MetaQNN study it gives the ε schedule and the reward of every trial.

    Raises:
        FileNotFoundError: the folder of ``out`` does not exist.
        ValueError: the study has no trials yet.
    """
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out}: folder {str(out.parent)!r} does not exist")
    if not trials:
        raise ValueError(f"study {info['study']!r} has no trials yet: nothing to report")
    plt = _pyplot()
    settings = info.get("settings", {})
    metric = str(info["metric"])
    direction = Direction.parse(info["direction"])
    epochs = int(settings.get("epochs") or max((t.last_epoch for t in trials), default=1))
    delta = settings.get("delta") if settings.get("stopper", "predictive") == "predictive" \
        else None
    ranked = _ranked(trials, direction)
    best = ranked[0] if ranked else None
    key_figures = _key_figures(trials, metric, epochs, best)
    told, metaqnn_html = _metaqnn_section(settings, searcher_state, trials, metric, direction,
                                          plt)
    body = [*_intro(info, settings, metric, direction, epochs, delta), _html.cards(key_figures)]
    if best is not None:
        body.append(f"<h2>Best configuration</h2><p>Trial t{best.number}: {_html.esc(metric)} "
                    f"<b>{_html.fmt(_final(best))}</b> after {len(best.values)} epochs, test "
                    f"value <b>{_html.fmt(best.test_value)}</b>.</p><pre>"
                    f"{_html.esc(json.dumps(best.config, indent=1, default=str))}</pre>")
    body += _figure_sections(trials, metric, direction, epochs, delta, plt)
    body.append(metaqnn_html)
    body += _trial_sections(trials, ranked, told, metric)
    footer = f"Made by curvecast from {_html.esc(settings.get('storage', 'a study database'))}."
    page = _html.page(f"Study {info['study']}", "\n".join(body), footer=footer)
    return _html.write(out, page)


def _key_figures(trials: Sequence[StoredTrial], metric: str, epochs: int,
                 best: StoredTrial | None) -> list[tuple[str, Any]]:
    """The report's cards: trial counts by outcome, epochs used against full training, the best."""
    counts = {s: sum(t.state is s for t in trials) for s in TrialState}
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.STOPPED)]
    used = sum(len(t.values) for t in finished)
    full = len(finished) * epochs
    active = sum(counts[s] for s in _ACTIVE)
    return [
        ("trials", len(trials)), ("trained to the end", counts[TrialState.COMPLETE]),
        ("stopped early", counts[TrialState.STOPPED]), ("failed", counts[TrialState.FAILED]),
        *([("not finished", active)] if active else []),
        ("epochs used", f"{used} / {full}"), ("speedup", f"{full / used:.2f}x" if used else "–"),
        (f"best {metric}", _html.fmt(_final(best)) if best else "–"),
        ("its test value", _html.fmt(best.test_value) if best else "–")]


def _metaqnn_section(settings: Mapping[str, Any], searcher_state: Mapping[str, Any] | None,
                     trials: Sequence[StoredTrial], metric: str, direction: Direction,
                     plt: Any) -> tuple[dict[int, Told] | None, str]:
    """``(told, html)`` of a MetaQNN study's ε and reward section; ``(None, "")`` for another
    searcher.  ``told`` is None too when the saved state does not give it (the html says why)."""
    told: dict[int, Told] | None = None
    metaqnn_html = ""
    if settings.get("searcher") == "metaqnn":
        metaqnn_html = "<h2>MetaQNN: ε schedule and reward</h2>\n"
        try:
            if searcher_state is None:
                raise ValueError("the study has no saved searcher state")
            told, planned = metaqnn_trace(searcher_state, trials)
        except ValueError as err:
            metaqnn_html += f'<p class="muted">Not available: {_html.esc(err)}.</p>\n'
        else:
            n_pred = sum(t.predicted for t in told.values() if t.value is not None)
            recomputed = any(t.recomputed for t in told.values())
            metaqnn_html += _html.figure(
                _metaqnn_figure(told, planned, metric, plt), "MetaQNN epsilon and reward",
                "The agent picks each layer at random with probability ε (blue), else the layer "
                "of highest Q-value. ε follows MetaQNN's schedule scaled to the trial budget. The "
                f"reward is the final {_html.esc(metric)} told to the agent (× "
                f"{int(direction.sign):+d}): observed for trials trained to the end (filled), the "
                f"predicted final value for the {n_pred} stopped early (hollow)."
                + (" *ε recomputed from the final schedule (an older saved state)."
                   if recomputed else ""))
    return told, metaqnn_html


def _intro(info: Mapping[str, Any], settings: Mapping[str, Any], metric: str,
           direction: Direction, epochs: int, delta: Any) -> list[str]:
    """The lines under the title: study, metric, workload, searcher, stopper and its rule, and
    the command that ran it."""
    rule = f"min complete = {_html.esc(settings.get('min_complete', '–'))}"
    if delta is not None:
        rule = f"Δ = {_html.esc(delta)}, {rule}"
    return [
        f'<p class="muted">study <code>{_html.esc(info["study"])}</code> · metric '
        f"{_html.esc(metric)} ({direction.value}) · workload "
        f"{_html.esc(settings.get('workload', '?'))} · searcher "
        f"{_html.esc(settings.get('searcher', '?'))} · stopper "
        f"{_html.esc(settings.get('stopper', '?'))} ({rule}) · {epochs} epochs of full "
        "training</p>",
        f'<p class="muted"><code>{_html.esc(settings.get("command", ""))}</code></p>'
        if settings.get("command") else ""]


def _figure_sections(trials: Sequence[StoredTrial], metric: str, direction: Direction,
                     epochs: int, delta: Any, plt: Any) -> list[str]:
    """The curves, cost and stopping-decision figures with their headings and captions."""
    body: list[str] = []
    body.append("<h2>What was stopped, and what it cost</h2>")
    body.append(_html.figure(
        _curves_figure(trials, metric, epochs, plt), "learning curves",
        "Each curve is one trial. A stopped trial ends with an × at the epoch it was stopped; "
        "from there a dotted line and a band lead to the final value told to the searcher for "
        "it at the last epoch (dot, ± one standard deviation): the predictor's expectation (a "
        "rule that does not predict, such as the median rule, tells the last value). The "
        "predictive rule stops a trial when the probability that it ends worse than the best "
        "so far reaches Δ."))
    body.append(_html.figure(
        _cost_figure(trials, direction, epochs, plt), "cost against best",
        "The best final value found against the epochs trained so far (finished trials in the "
        "order they were started); dashed: the epochs the same trials would have cost trained "
        "to the end. Stopped trials never count as the best: their final value is unknown."))
    body.append("<h2>Stopping decisions over time</h2>")
    body.append(_html.figure(
        _decisions_figure(trials, epochs, delta if isinstance(delta, int | float) else None,
                          plt), "stopping decisions",
        "Left: the epoch at which each trial ended. Right: every decision after an epoch, at the "
        "probability of ending worse than the best so far that the stopper computed; a trial "
        "is stopped once it reaches Δ (decisions before the predictor is fitted carry no "
        "probability and are not drawn)."))
    return body


def _trial_sections(trials: Sequence[StoredTrial], ranked: Sequence[StoredTrial],
                    told: Mapping[int, Told] | None, metric: str) -> list[str]:
    """The top configurations and the table of every trial."""
    body: list[str] = []
    body.append(f"<h2>Top configurations</h2><p class='muted'>The {min(TOP, len(ranked))} best "
                f"of the {len(ranked)} trials trained to the end, by final {_html.esc(metric)}."
                "</p>")
    body.append(_top_table(ranked) if ranked else "<p>No trial was trained to the end yet.</p>")
    header = ["trial", "state", "epochs", "last value", "predicted final ± σ", "P(worse)"]
    if told is not None:
        header += ["ε", "reward told"]
    header += ["last decision", "config"]
    body.append("<h2>Every trial</h2>")
    body.append(_html.table(header, _trial_rows(trials, told),
                            numeric=(2, 3, 4, 5, *((6, 7) if told is not None else ()))))
    return body
