"""The HTML both reports share: one page scaffold and stylesheet, embedded PNGs, tables, numbers.

Pages are self-contained: figures are PNGs inlined as ``data:`` URIs and there is no script or
external resource, so a report can be mailed or attached to a ticket as it is.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       max-width: 1120px; margin: 1.5em auto; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.muted { color: #666; } .small { font-size: 0.85em; }
table { border-collapse: collapse; font-size: 0.88em; margin: 0.6em 0 1em; }
caption { text-align: left; padding: 0 0 0.3em; }
td, th { padding: 3px 9px; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) { background: #f4f4f4; }
th { text-align: left; border-bottom: 1px solid #999; background: #fff; }
.cards { display: flex; gap: 0.8em; flex-wrap: wrap; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.5em 0.9em; min-width: 8em; }
.card b { font-size: 1.35em; display: block; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 0.88em; max-width: 60em; }
code { font-size: 0.85em; } pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
details summary { cursor: pointer; margin: 0.5em 0; }
.complete { color: #1a7f37; } .stopped { color: #b35900; } .failed { color: #c00; }
.running, .pending, .paused { color: #0b5cad; } .best { font-weight: bold; }
.predicted { font-style: italic; color: #b35900; }
"""


def esc(value: Any) -> str:
    """``value`` as text, escaped for HTML."""
    return html.escape(str(value))


def fmt(value: float | None, digits: int = 4) -> str:
    """A number with ``digits`` significant digits; ``–`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}"


def probability(p: float | None) -> str:
    """A probability as Δ is read against it: three decimals, rounded towards ½, so that a value
    below Δ never reads as Δ (0.98996 is "0.989", not "0.990"), with more decimals near 0 and 1
    (0.99996 is "0.99996", not "1": reviews, stop 36); ``–`` for None or NaN."""
    if p is None or math.isnan(float(p)):
        return "–"
    p = float(p)
    if p in (0.0, 1.0):
        return "0" if p == 0.0 else "1"
    if not 0.0 < p < 1.0:
        return f"{p:.3g}"
    digits = 3
    while digits < 7 and abs(2.0 * p - 1.0) > 1.0 - 10.0 ** -digits:  # near 0 or 1
        digits += 1
    scaled = round(p * 10 ** digits, 6)  # (0.9999 · 10⁴ is 9998.999…)
    value = (math.floor(scaled) if p > 0.5 else math.ceil(scaled)) / 10 ** digits
    return f"{value:.{digits}f}"


def mean_se(mean: float | None, stderr: float | None, spec: str = ".3f") -> str:
    """``mean ± s.e.`` with the format ``spec`` (a fixed-point one turns to 3 significant
    digits from 1e6 on); ``n/a`` for a missing mean, the mean alone for a missing s.e."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    if spec.endswith("f") and max(abs(mean), abs(stderr or 0.0)) >= 1e6:
        spec = ".3g"  # a diverged predictor's R² of -4.7e31 is not 33 digits wide
    if stderr is None or (isinstance(stderr, float) and math.isnan(stderr)):
        return f"{mean:{spec}}"
    return f"{mean:{spec}} ± {stderr:{spec}}"


def figure_uri(fig: Any, plt: Any, dpi: int = 100, *, tight: bool = True) -> str:
    """A matplotlib figure as a ``data:image/png`` URI (the figure is closed); ``tight``: lay it
    out with ``tight_layout`` first."""
    buf = io.BytesIO()
    if tight:
        fig.tight_layout()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def file_uri(path: Path) -> str:
    """A PNG file as a ``data:image/png`` URI."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def figure(src: str, alt: str, caption: str = "") -> str:
    """An embedded image with its caption (``caption`` is HTML)."""
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure><img alt="{esc(alt)}" src="{src}">{cap}</figure>\n'


def table(header: Sequence[str], rows: Iterable[Sequence[str]], *,
          numeric: Iterable[int] = (), caption: str = "") -> str:
    """A table; cells are HTML; columns whose index is in ``numeric`` are right-aligned.

    A cell may carry its own ``<td …>`` tag (to set a class); other cells are wrapped in one.
    """
    num = set(numeric)

    def cell(i: int, text: str, tag: str) -> str:
        if text.startswith(f"<{tag}"):
            return text
        cls = ' class="num"' if i in num else ""
        return f"<{tag}{cls}>{text}</{tag}>"

    head = "".join(cell(i, h, "th") for i, h in enumerate(header))
    body = "\n".join("<tr>" + "".join(cell(i, c, "td") for i, c in enumerate(r)) + "</tr>"
                     for r in rows)
    cap = f"<caption class='muted small'>{caption}</caption>" if caption else ""
    return f"<table>{cap}<tr>{head}</tr>\n{body}</table>\n"


def cards(items: Sequence[tuple[str, Any]]) -> str:
    """A row of key figures (label, value)."""
    inner = "".join(f'<div class="card">{esc(k)}<b>{esc(v)}</b></div>' for k, v in items)
    return f'<div class="cards">{inner}</div>\n'


def page(title: str, body: str, *, footer: str = "") -> str:
    """A whole HTML document: ``title`` (text) as ``<title>`` and ``<h1>``, then ``body`` (HTML)."""
    foot = f'<p class="muted small">{footer}</p>' if footer else ""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title>\n<style>{_CSS}</style></head><body>\n"
            f"<h1>{esc(title)}</h1>\n{body}\n{foot}\n</body></html>\n")


def write(out: Path, text: str) -> Path:
    """Write a page to ``out`` (UTF-8).

    Raises:
        FileNotFoundError: the folder of ``out`` does not exist.
    """
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out}: folder {str(out.parent)!r} does not exist")
    from curvecast.curves.atomic_write import write_text_atomically

    # whole or not at all, as every other output (a review: the page was truncated in place,
    # so a failed or interrupted write left half of it, and a hard link's other name changed)
    write_text_atomically(out, text)
    return out
