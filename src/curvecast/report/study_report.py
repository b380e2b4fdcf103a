"""A self-contained HTML report of a study (``curvecast report --study``): what was searched, what
was stopped and why, what it cost, and what was found.

Sections: key figures and the best configuration; the learning curves of every trial, stopped ones
marked at their stop epoch with the final value predicted for them and its ±1σ band; the best
value found against the epochs spent, beside what training every trial to the end would have
spent; the stopping decisions over the course of the study (where each trial ended, and the
probability of ending worse that every decision saw, against Δ); for MetaQNN, the ε schedule and
the reward told to the agent per trial (predicted rewards marked); the top configurations; and a
table of every trial.  Figures are PNGs embedded as data URIs (:mod:`curvecast.report._html`),
drawn by :mod:`curvecast.report.study_figures`; MetaQNN's ε and rewards are read by
:mod:`curvecast.report.study_trace`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from curvecast.curves import Direction
from curvecast.curves.wording import counted
from curvecast.report import _html
from curvecast.report.prediction_plots import _pyplot
from curvecast.report.study_figures import (
    ACTIVE,
    cost_figure,
    curves_figure,
    decisions_figure,
    final_value,
    last_prediction,
    metaqnn_figure,
)
from curvecast.report.study_trace import Told, metaqnn_trace
from curvecast.store import StoredTrial, TrialState

__all__ = ["TOP", "Told", "metaqnn_trace", "write_study_report"]

#: Trials shown in the top-configurations table.
TOP = 10


def _ranked(trials: Sequence[StoredTrial], direction: Direction) -> list[StoredTrial]:
    """Complete trials with a finite final value, best first."""
    done = [t for t in trials if (v := final_value(t)) is not None and math.isfinite(v)]
    return sorted(done, key=lambda t: -direction.sign * (final_value(t) or 0.0))


def _top_table(ranked: Sequence[StoredTrial]) -> str:
    keys: list[str] = []
    for t in ranked[:TOP]:
        keys += [k for k in t.config if k not in keys]
    rows = []
    for i, t in enumerate(ranked[:TOP], 1):
        cells = [str(i), f"t{t.number}", _html.fmt(final_value(t)), _html.fmt(t.test_value)]
        for k in keys:
            v = t.config.get(k, "")
            cells.append(f"<code>{_html.esc(v)}</code>" if isinstance(v, str) and len(v) > 12
                         else _html.esc(_html.fmt(v) if isinstance(v, float) else v))
        rows.append(cells)
    return _html.table(["rank", "trial", "final value", "test value", *map(_html.esc, keys)], rows,
                       numeric=(0, 2, 3))


def _config_html(config: Mapping[str, Any]) -> str:
    """A config in one short line, each value after its name: long strings (a net) as code,
    numbers with 3 digits."""
    parts = []
    for key, value in config.items():
        if isinstance(value, str) and len(value) > 12:  # named too (a review, stop 34: two
            # long strings read as two values of nothing)
            parts.append(f"{_html.esc(key)} <code>{_html.esc(value)}</code>")
        else:
            shown = _html.fmt(value, 3) if isinstance(value, float) else value
            parts.append(f"{_html.esc(key)} {_html.esc(shown)}")
    return " · ".join(parts)


def _last_value(t: StoredTrial) -> str:
    """A trial's last reported value; "NaN" for a diverged report, as ``show`` prints it (not
    the "–" of a trial that reported nothing), "–" when there is none."""
    if not t.values:
        return "–"
    value = t.values[-1][1]
    return "NaN" if math.isnan(value) else _html.fmt(value)


def _trial_rows(trials: Sequence[StoredTrial], told: Mapping[int, Told] | None) -> list[list[str]]:
    rows = []
    for t in trials:
        last = t.decisions[-1] if t.decisions else None
        pred = last_prediction(t)
        cells = [f"t{t.number}", f'<td class="{t.state.value}">{t.shown_state}</td>',
                 str(len(t.values)), _last_value(t),
                 f"{_html.fmt(pred.mean)} ± {_html.fmt(pred.std, 2)}" if pred else "–",
                 _html.probability(pred.probability) if pred else "–"]
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
                       searcher_state: Mapping[str, Any] | None = None,
                       reruns: Sequence[str] = (), title: str | None = None) -> Path:
    """Write the HTML report of a study (``info`` as from ``Store.study_info``) to ``out``,
    headed ``title`` (default: "Study NAME").

    ``searcher_state`` is the study's saved searcher state (``study_state`` key ``"searcher"``);
    for a MetaQNN study it gives the ε schedule and the reward of every trial.  ``reruns`` are
    the commands that ran the study again after the one that created it, oldest first.

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
    searcher = settings.get("searcher")
    delta = (None if searcher == "hyperband" or (
        searcher != "fhyperband" and settings.get("stopper", "predictive") != "predictive")
        else settings.get("delta"))
    ranked = _ranked(trials, direction)
    best = ranked[0] if ranked else None
    key_figures = _key_figures(trials, metric, epochs, best)
    told, metaqnn_html = _metaqnn_section(settings, searcher_state, trials, metric, direction,
                                          plt)
    body = [*_intro(info, settings, metric, direction, epochs, delta, reruns),
            _html.cards(key_figures)]
    if best is not None:
        body.append(f"<h2>Best configuration</h2><p>Trial t{best.number}: {_html.esc(metric)} "
                    f"<b>{_html.fmt(final_value(best))}</b> after {counted(len(best.values), 'epoch')}, test "
                    f"value <b>{_html.fmt(best.test_value)}</b>.</p><pre>"
                    f"{_html.esc(json.dumps(best.config, indent=1, default=str))}</pre>")
    body += _figure_sections(trials, metric, direction, epochs, delta, plt)
    body.append(metaqnn_html)
    body += _trial_sections(trials, ranked, told, metric,
                            rungs="fhyperband" in (settings.get("searcher"),
                                                   settings.get("scheduler")))
    footer = f"Made by curvecast from {_html.esc(settings.get('storage', 'a study database'))}."
    page = _html.page(title or f"Study {info['study']}", "\n".join(body), footer=footer)
    return _html.write(out, page)


def _key_figures(trials: Sequence[StoredTrial], metric: str, epochs: int,
                 best: StoredTrial | None) -> list[tuple[str, Any]]:
    """The report's cards: trial counts by outcome, the complete and stopped trials' epochs
    against their full training (and the failed trials' epochs), the best."""
    counts = {s: sum(t.state is s for t in trials) for s in TrialState}
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.STOPPED)]
    used = sum(len(t.values) for t in finished)
    full = len(finished) * epochs
    failed = sum(len(t.values) for t in trials if t.state is TrialState.FAILED)
    active = sum(counts[s] for s in ACTIVE)
    return [
        ("trials", len(trials)), ("trained to the end", counts[TrialState.COMPLETE]),
        ("stopped early", counts[TrialState.STOPPED]), ("failed", counts[TrialState.FAILED]),
        *([("not finished", active)] if active else []),
        ("epochs used (complete and stopped)", f"{used} / {full}"),
        # no speedup without a result: stopping every trial is not a faster search (a review)
        ("speedup", f"{full / used:.2f}x" if used and best is not None
         else "– (no trial trained to the end yet)" if used else "–"),
        *([("epochs of failed trials", failed)] if failed else []),
        (f"best {metric}", _html.fmt(final_value(best)) if best else "–"),
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
                metaqnn_figure(told, planned, metric, plt, direction), "MetaQNN epsilon and reward",
                "The agent picks each layer at random with probability ε (blue), else the layer "
                "of highest Q-value. ε follows MetaQNN's schedule scaled to the trial budget. The "
                f"reward is the final {_html.esc(metric)} told to the agent (× "
                f"{int(direction.sign):+d}): observed for trials trained to the end (filled), the "
                f"predicted final value for the {n_pred} stopped early (hollow)."
                + (" *ε recomputed from the final schedule (an older saved state)."
                   if recomputed else ""))
    return told, metaqnn_html


def _intro(info: Mapping[str, Any], settings: Mapping[str, Any], metric: str,
           direction: Direction, epochs: int, delta: Any, reruns: Sequence[str]) -> list[str]:
    """The lines under the title: study, metric, workload, searcher, stopper and its rule, the
    command that created it and those that ran it again."""
    rule = f"min complete = {_html.esc(settings.get('min_complete', '–'))}"
    if delta is not None:
        rule = f"Δ = {_html.esc(delta)}, {rule}"
    searcher = settings.get("searcher", "?")
    if searcher == "hyperband":  # the schedule stops trials: no stopper was used
        stops = "successive halving in Hyperband's brackets (η = 3)"
    elif searcher == "fhyperband":
        stops = f"f-Hyperband's brackets, predictions inside rungs ({rule})"
    else:
        stops = f"stopper {_html.esc(settings.get('stopper', '?'))} ({rule})"
    return [
        f'<p class="muted">study <code>{_html.esc(info["study"])}</code> · metric '
        f"{_html.esc(metric)} ({direction.value}) · workload "
        f"{_html.esc(settings.get('workload', '?'))} · searcher "
        f"{_html.esc(searcher)} · {stops} · {counted(epochs, 'epoch')} of full training</p>",
        f'<p class="muted"><code>{_html.esc(settings.get("command", ""))}</code></p>'
        if settings.get("command") else "",
        _reruns_html(reruns)]


def _reruns_html(reruns: Sequence[str]) -> str:
    """The commands that ran the study again (a resume, more --trials, another process), as a
    list under the creating command; empty when there were none."""
    if not reruns:
        return ""
    items = "".join(f"<li><code>{_html.esc(c)}</code></li>" for c in reruns)
    return (f'<p class="muted">then run again by {counted(len(reruns), "command")}, oldest '
            f'first:</p><ol class="muted">{items}</ol>')


def _figure_sections(trials: Sequence[StoredTrial], metric: str, direction: Direction,
                     epochs: int, delta: Any, plt: Any) -> list[str]:
    """The curves, cost and stopping-decision figures with their headings and captions."""
    body: list[str] = []
    body.append("<h2>What was stopped, and what it cost</h2>")
    body.append(_html.figure(
        curves_figure(trials, metric, epochs, plt, direction), "learning curves",
        "Each curve is one trial. A stopped trial ends with an × at the epoch it was stopped; "
        "from there a dotted line and a band lead to the final value told to the searcher for "
        "it at the last epoch (dot, ± one standard deviation): the predictor's expectation (a "
        "rule that does not predict, such as the median rule, tells the last value). The "
        "predictive rule stops a trial when the probability that it ends worse than the best "
        "so far reaches Δ. A diverged report (NaN or ±inf) is a red × at the frame's edge."))
    body.append(_html.figure(
        cost_figure(trials, direction, epochs, plt, metric=metric), "cost against best",
        "The best final value found against the epochs trained so far (finished trials in the "
        "order they were started); dashed: the epochs the same trials would have cost trained "
        "to the end. Stopped trials never count as the best: their final value is unknown."))
    body.append("<h2>Stopping decisions over time</h2>")
    body.append(_html.figure(
        decisions_figure(trials, epochs, delta if isinstance(delta, int | float) else None,
                          plt), "stopping decisions",
        "Left: the epoch at which each trial ended. Right: every decision after an epoch, at the "
        "probability of ending worse than the best so far that the stopper computed; a trial "
        "is stopped once it reaches Δ (decisions before the predictor is fitted carry no "
        "probability and are not drawn)."))
    return body


def _trial_sections(trials: Sequence[StoredTrial], ranked: Sequence[StoredTrial],
                    told: Mapping[int, Told] | None, metric: str, *, rungs: bool = False
                    ) -> list[str]:
    """The top configurations and the table of every trial (``rungs``: f-Hyperband's, whose
    predictions are of the value at a rung's end, not the final one)."""
    body: list[str] = []
    complete = sum(t.state is TrialState.COMPLETE for t in trials)
    diverged = complete - len(ranked)
    left = (f" ({diverged} more {'was' if diverged == 1 else 'were'} trained to the end but "
            "ended diverged, NaN or ±inf)" if diverged > 0 else "")
    body.append("<h2>Top configurations</h2>")
    if ranked:
        shown = (f"The {min(TOP, len(ranked))} best of the {len(ranked)} trials" if len(ranked) > 1
                 else "The one trial")
        body.append(f"<p class='muted'>{shown} trained to the end with a finite final "
                    f"{_html.esc(metric)}, by that value{left}.</p>")
        body.append(_top_table(ranked))
    elif diverged:
        body.append(f"<p>No trial trained to the end has a finite final {_html.esc(metric)}: "
                    f"the {diverged} that were ended diverged (NaN or ±inf).</p>")
    else:
        body.append("<p>No trial was trained to the end yet.</p>")
    header = ["trial", "state", "epochs", "last value",
              "predicted at its rung's end ± σ" if rungs else "predicted final ± σ", "P(worse)"]
    if told is not None:
        header += ["ε", "reward told"]
    header += ["last decision", "config"]
    body.append("<h2>Every trial</h2>")
    body.append(_html.table(header, _trial_rows(trials, told),
                            numeric=(2, 3, 4, 5, *((6, 7) if told is not None else ()))))
    return body
