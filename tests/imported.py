"""What the import tests share: the CLI run as a user runs it, and ``simulate`` on an import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd


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


def exported_configs(folder: Path, configs: list[dict[str, Any]]) -> pd.DataFrame:
    """The config table of a curvecast study of ``configs`` (each a complete 2-epoch trial),
    exported, saved and loaded: what an import of the same configs should look like."""
    from curvecast import CurveSet
    from curvecast.store import Store, TrialState

    with Store(folder / "export-study.db") as store:
        store.create_study("s", metric="acc", direction="maximize", settings={"epochs": 2})
        for number, config in enumerate(configs):
            store.add_trial("s", config)
            for epoch in (1, 2):
                store.record_value("s", number, epoch, 0.1 * epoch)
            store.set_state("s", number, TrialState.COMPLETE)
        curves = store.to_curveset("s")
    return CurveSet.load(curves.save(folder / "export-study.parquet")).configs


def same_configs(imported: pd.DataFrame, exported: pd.DataFrame) -> None:
    """Assert two config tables hold the same columns, types and values (ids aside)."""
    pd.testing.assert_frame_equal(imported.reset_index(drop=True).sort_index(axis=1),
                                  exported.reset_index(drop=True).sort_index(axis=1))
