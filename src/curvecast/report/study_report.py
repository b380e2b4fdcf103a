"""A self-contained HTML report of a study (``curvecast report``): what was searched, what was
stopped and why, what it cost, and what was found.  Figures are PNGs embedded as data URIs, so the
file can be mailed or attached to a ticket as it is."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from curvecast.curves import Direction
from curvecast.report.prediction_plots import _pyplot
from curvecast.store import Trial, TrialState

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { margin-bottom: 0.2em; } .muted { color: #666; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 3px 8px; }
tr:nth-child(even) { background: #f4f4f4; } th { text-align: left; border-bottom: 1px solid #999; }
.cards { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; min-width: 10em; }
.card b { font-size: 1.4em; display: block; } code { font-size: 0.85em; }
.complete { color: #1a7f37; } .stopped { color: #b35900; } .failed { color: #c00; }
"""


def _png(fig: Any, plt: Any) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}"


def _final(t: Trial) -> float | None:
    if t.state is TrialState.COMPLETE and t.values:
        return t.values[-1][1]
    return t.predicted_value


def _curves_figure(trials: Sequence[Trial], metric: str, epochs: int, plt: Any) -> str:
    fig, ax = plt.subplots(figsize=(9, 4.8))
    for t in trials:
        if not t.values:
            continue
        x = [e for e, _, _ in t.values]
        y = [v for _, v, _ in t.values]
        if t.state is TrialState.COMPLETE:
            ax.plot(x, y, color="#1a7f37", lw=1.2, alpha=0.8)
        else:
            ax.plot(x, y, color="#b35900", lw=0.9, alpha=0.6)
            ax.plot(x[-1], y[-1], "x", color="#b35900", ms=5)
            last = t.decisions[-1] if t.decisions else None
            if t.state is TrialState.STOPPED and last is not None and last.mean is not None:
                ax.errorbar([epochs], [last.mean], yerr=[last.std or 0.0], fmt="o", ms=3,
                            color="#b35900", alpha=0.35, capsize=2)
    ax.plot([], [], color="#1a7f37", label="trained to the end")
    ax.plot([], [], "x-", color="#b35900", label="stopped (dot at T: predicted final ± σ)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title("Learning curves of every trial")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig, plt)


def _cost_figure(trials: Sequence[Trial], direction: Direction, epochs: int, plt: Any) -> str:
    used, full, best_used, best_full = 0, 0, [], []
    best = math.nan
    for t in trials:
        if t.state not in (TrialState.COMPLETE, TrialState.STOPPED):
            continue
        used += len(t.values)
        full += epochs
        if t.state is TrialState.COMPLETE and t.values:
            v = t.values[-1][1]
            if math.isnan(best) or direction.is_better(v, best):
                best = v
        best_used.append((used, best))
        best_full.append((full, best))
    fig, ax = plt.subplots(figsize=(9, 3.8))
    if best_used:
        ax.step(*zip(*best_used, strict=True), where="post", color="#0b5cad",
                label="with early stopping")
        ax.step(*zip(*best_full, strict=True), where="post", color="#999", ls="--",
                label="same trials, trained to the end")
    ax.set_xlabel("epochs trained (cumulative)")
    ax.set_ylabel("best final value so far")
    ax.set_title("Search cost against the best result found")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig, plt)


def write_study_report(info: dict[str, Any], trials: Sequence[Trial], out: Path) -> Path:
    """Write the HTML report of a study (``info`` as from ``Store.study_info``) to ``out``.

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
    direction = Direction.parse(info["direction"])
    epochs = int(settings.get("epochs") or max((len(t.values) for t in trials), default=1))
    counts = {s: sum(t.state is s for t in trials) for s in TrialState}
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.STOPPED)]
    used = sum(len(t.values) for t in finished)
    full = len(finished) * epochs
    complete = [t for t in trials if t.state is TrialState.COMPLETE and t.values]
    best = None
    if complete:
        best = max(complete, key=lambda t: direction.sign * np.nan_to_num(t.values[-1][1],
                                                                         nan=-np.inf * direction.sign))
    cards = [("trials", len(trials)), ("trained to the end", counts[TrialState.COMPLETE]),
             ("stopped early", counts[TrialState.STOPPED]), ("failed", counts[TrialState.FAILED]),
             ("epochs used", f"{used} / {full}"),
             ("speedup", f"{full / used:.2f}x" if used else "–"),
             ("best " + info["metric"], _fmt(best.values[-1][1]) if best else "–"),
             ("its test value", _fmt(best.test_value) if best else "–")]
    rows = []
    for t in trials:
        last = t.decisions[-1] if t.decisions else None
        judged = [d for d in t.decisions if d.mean is not None]
        pred = judged[-1] if judged else None
        config = json.dumps(t.config, default=str)
        rows.append(
            f"<tr><td>t{t.number}</td><td class='{t.state.value}'>{t.state.value}</td>"
            f"<td>{len(t.values)}</td><td>{_fmt(t.values[-1][1]) if t.values else '–'}</td>"
            f"<td>{_fmt(pred.mean) if pred else '–'} ± {_fmt(pred.std, 2) if pred else '–'}</td>"
            f"<td>{_fmt(pred.probability, 3) if pred else '–'}</td>"
            f"<td>{html.escape(last.reason if last else '')}</td>"
            f"<td><code>{html.escape(config)}</code></td></tr>")
    best_html = ""
    if best is not None:
        best_html = (f"<h2>Best configuration</h2><p>Trial t{best.number}: {info['metric']} "
                     f"<b>{_fmt(best.values[-1][1])}</b> after {len(best.values)} epochs, test "
                     f"value <b>{_fmt(best.test_value)}</b>.</p><pre>"
                     f"{html.escape(json.dumps(best.config, indent=1, default=str))}</pre>")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>curvecast study {html.escape(info['study'])}</title>
<style>{_CSS}</style></head><body>
<h1>Study <code>{html.escape(info['study'])}</h1>
<p class="muted">metric {html.escape(info['metric'])} ({direction.value}) · workload
{html.escape(str(settings.get('workload', '?')))} · searcher
{html.escape(str(settings.get('searcher', '?')))} · stopper
{html.escape(str(settings.get('stopper', '?')))} (Δ = {settings.get('delta', '–')},
min_complete = {settings.get('min_complete', '–')}) · {epochs} epochs of full training</p>
<p class="muted"><code>{html.escape(str(settings.get('command', '')))}</code></p>
<div class="cards">{''.join(f'<div class="card">{k}<b>{v}</b></div>' for k, v in cards)}</div>
{best_html}
<h2>What was stopped, and what it cost</h2>
<p>Each curve is one trial. Stopped trials end with an ×; the dot at the last epoch shows the
final value the predictor expected for them (± one standard deviation): they were stopped when
the probability of ending worse than the best so far reached Δ.</p>
<img alt="learning curves" src="{_curves_figure(trials, info['metric'], epochs, plt)}">
<img alt="cost against best" src="{_cost_figure(trials, direction, epochs, plt)}">
<h2>Every trial</h2>
<table><tr><th>trial</th><th>state</th><th>epochs</th><th>last value</th>
<th>predicted final</th><th>P(worse)</th><th>last decision</th><th>config</th></tr>
{''.join(rows)}</table>
<p class="muted">Made by curvecast from {html.escape(str(settings.get('storage', '')))}.</p>
</body></html>
"""
    out.write_text(page, encoding="utf-8")
    return out
