"""What the import tests share: the CLI run as a user runs it, and ``simulate`` on an import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def curvecast_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``curvecast ARGS…`` in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "curvecast.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=240)


def never_stop_epochs(curves: Path, out: Path, min_complete: int) -> float:
    """Run a cheap ``curvecast simulate`` (median rule and never-stop, last-value predictor, two
    orderings) on an imported CurveSet; return the never-stop rule's mean epochs."""
    proc = curvecast_cli("simulate", curves, "--stopper", "median,never", "--predictor",
                         "last-value", "--orderings", "2", "--min-complete", str(min_complete),
                         "--json", out)
    assert proc.returncode == 0, proc.stderr
    [never] = [r for r in json.loads(out.read_text())["results"]
               if r["stopper"] == "never" and r["metric"] == "epochs"]
    return float(never["mean"])
