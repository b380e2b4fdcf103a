"""The package as a user gets it: ``python -m build`` makes a wheel that installs in a fresh venv
(no system site-packages, only the core dependencies) where ``curvecast`` runs.

Slow (about two minutes: the venv installs numpy, scipy, scikit-learn, pandas, pyarrow, …);
``pytest -m slow tests/test_wheel.py`` runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SMOKE = """
import importlib.util, sys
import curvecast
assert curvecast.__file__.startswith(sys.prefix), curvecast.__file__  # the installed copy
cs = curvecast.from_table(sys.argv[1], r"acc_(\\d+)", "val_accuracy", "maximize")
print(cs.n_configs, cs.n_epochs, [m for m in ("optuna", "ray", "torch")
                                  if importlib.util.find_spec(m) is not None])
"""


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_fresh_venv(tmp_path: Path) -> None:
    pytest.importorskip("build", reason="building the wheel needs the build package (dev extra)")
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info beside the code
    shutil.copytree(ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    # a fresh venv sees none of this checkout (pytest's PYTHONPATH would make pip skip the wheel)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)],
                   check=True, capture_output=True, timeout=300, env=env)
    [wheel] = dist.glob("curvecast-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120, env=env)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], check=True,
                   capture_output=True, timeout=600, env=env)
    curvecast = str(venv / "bin" / "curvecast")
    helped = subprocess.run([curvecast, "--help"], capture_output=True, text=True, timeout=60,
                            env=env)
    assert helped.returncode == 0 and "data" in helped.stdout and "simulate" in helped.stdout
    version = subprocess.run([curvecast, "--version"], capture_output=True, text=True, timeout=60,
                             env=env)
    assert version.stdout.strip().startswith("curvecast ") and wheel.name.startswith(
        f"curvecast-{version.stdout.split()[1]}-")
    table = tmp_path / "runs.csv"
    table.write_text("lr,acc_1,acc_2\n0.1,0.5,0.6\n0.01,0.4,\n")
    smoke = subprocess.run([str(venv / "bin" / "python"), "-c", SMOKE, str(table)],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert smoke.returncode == 0, smoke.stderr
    assert smoke.stdout.split("\n")[0] == "2 2 []"  # core only: no optuna, ray or torch
