"""The HTML reports in a real browser: headless Chromium loads each page without errors, every
figure decodes to an image of the size it was drawn, and a screenshot shows a non-blank page.

Chromium is Debian's ``chromium``; when absent the set-up installs it (as root, with apt-get,
time-boxed: see ``tests/chromium.py``) or skips with the reason.  A failed install is remembered
for a day in pytest's cache, so later runs skip at once.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import chromium
from curvecast.cli import app
from synthetic_study import STUDY, make_study

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
_CACHE_KEY = "curvecast/chromium-install"
_RETRY_SECONDS = 24 * 3600

#: Appended to a copy of a page: after the load event, writes every image's decoded size and
#: every script or resource error into the DOM, where --dump-dom shows it.
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(
  String(e.message || (e.target && (e.target.src || e.target.href)) || e.type)), true);
window.addEventListener('load', () => {
  const images = Array.from(document.images).map(i => ({
    alt: i.alt, width: i.naturalWidth, height: i.naturalHeight, complete: i.complete}));
  const pre = document.createElement('pre');
  pre.id = 'curvecast-probe';
  pre.textContent = JSON.stringify({images: images, errors: window.__errors});
  document.body.appendChild(pre);
});
</script>"""


@pytest.fixture(scope="session")
def browser(request: pytest.FixtureRequest) -> str:
    """The path of headless Chromium, installed when absent; skips with the reason otherwise."""
    found = chromium.find()
    if found:
        return found
    reason = chromium.cannot_install()
    if reason is not None:
        pytest.skip(f"no chromium on PATH and {reason}")
    cache = request.config.cache
    failed = cache.get(_CACHE_KEY, None) if cache is not None else None
    if failed and time.time() - failed["time"] < _RETRY_SECONDS:
        pytest.skip(f"no chromium: {failed['reason']} (cached from an earlier run; clear with "
                    f"pytest --cache-clear)")
    path, what = chromium.install()
    if path is None:
        if cache is not None:
            cache.set(_CACHE_KEY, {"reason": what, "time": time.time()})
        pytest.skip(f"no chromium: {what}")
    return path


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A study report (MetaQNN, synthetic curves) and the pages of an evaluate and a simulate
    result, written by ``curvecast report``."""
    folder = tmp_path_factory.mktemp("pages")
    db = folder / "study.db"
    make_study(db)
    runner = CliRunner()
    jobs = {
        "study": ["--storage", f"sqlite:///{db}", "--study", STUDY],
        "evaluate": [str(RESULTS / "prediction" / "metaqnn_cifar10.json")],
        "simulate": [str(RESULTS / "speedup" / "metaqnn_cifar10-hyperband.json")],
    }
    out: dict[str, Path] = {}
    for name, args in jobs.items():
        out[name] = folder / f"{name}.html"
        result = runner.invoke(app, ["report", *args, "--out", str(out[name])])
        assert result.exit_code == 0, result.output
    return out


def _load(browser: str, page: Path) -> dict[str, list[dict[str, object]]]:
    """Load a copy of ``page`` with the probe in headless Chromium; the probe's findings."""
    probed = page.with_name(page.stem + "-probe.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                      encoding="utf-8")
    proc = subprocess.run([browser, "--headless", "--disable-gpu", "--no-sandbox",
                           "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    match = re.search(r'<pre id="curvecast-probe">(.*?)</pre>', proc.stdout, re.S)
    assert match, f"the page did not finish loading:\n{proc.stdout[-1000:]}{proc.stderr[-1000:]}"
    text = match.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    found: dict[str, list[dict[str, object]]] = json.loads(text.replace("&amp;", "&"))
    return found


@pytest.mark.parametrize(("name", "alts"), [
    ("study", ["learning curves", "cost against best", "stopping decisions",
               "MetaQNN epsilon and reward"]),
    ("evaluate", ["r2 vs fraction", "sample efficiency", "feature ablation", "coverage"]),
    ("simulate", ["speedup", "fhyperband"]),
])
def test_page_loads_without_errors_and_shows_every_figure(browser: str, pages: dict[str, Path],
                                                          name: str, alts: list[str]) -> None:
    found = _load(browser, pages[name])
    assert found["errors"] == []
    images = found["images"]
    assert [i["alt"] for i in images] == alts
    for image in images:  # decoded: a broken data URI has no natural size
        assert image["complete"] is True
        assert isinstance(image["width"], int) and image["width"] >= 500, image
        assert isinstance(image["height"], int) and image["height"] >= 300, image


def test_screenshot_of_the_study_report_is_not_blank(browser: str, pages: dict[str, Path],
                                                     tmp_path: Path) -> None:
    image = pytest.importorskip("matplotlib.image")
    shot = tmp_path / "study.png"
    proc = subprocess.run([browser, "--headless", "--disable-gpu", "--no-sandbox",
                           "--hide-scrollbars", "--window-size=1200,2400",
                           f"--screenshot={shot}", pages["study"].as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    pixels = image.imread(shot)
    assert pixels.shape[:2] == (2400, 1200)
    # the page has text and figures: many pixels far from the white background
    ink = (pixels[..., :3].mean(axis=2) < 0.6).mean()
    assert 0.01 < ink < 0.5, ink
