"""A rule that stops a trial when its best value so far falls below the slowest of the study's
good runs at the same epoch (stop 25, ``docs/results-benchmark.md``; development runs in the
stand-in protocol, not shipped).

``bench/threshold_bound.py`` shows that a bar equal to the best run's own best-so-far curve,
known ahead, would keep the best at 1.6–3x fewer epochs than ``MedianPruner()`` on every set.
This rule estimates that curve from the study. After ``startup`` complete trials, the good runs
are the ``m`` complete trials with the best final values (or the top ``frac`` of them). The bar
at epoch τ is the lowest best-so-far value any good run had at τ. A trial is stopped when its
best so far is below the bar. Late bloomers are safe as long as some good run started as slowly
as they do.

    .venv/bin/python bench/envelope_rule.py --rules 'median;m=1;m=3;m=5;m=10;frac=0.25;frac=0.5'
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import Rule, add_study_arguments, median_rule, report_sets

from curvecast.stopping import History


def envelope_rule(sign: float, m: int = 5, frac: float | None = None, startup: int = 5) -> Rule:
    """The rule for a metric whose better direction is ``sign`` (see the module notes)."""
    def decide(values: np.ndarray, history: History) -> bool:
        complete = history.complete.copy()
        complete[-1] = False  # the running trial
        k = int(complete.sum())
        if k < startup:
            return False
        finished = sign * history.values[complete]
        best_so_far = np.maximum.accumulate(finished, axis=1)
        good = np.argsort(-finished[:, -1])[: m if frac is None else max(1, int(np.ceil(frac * k)))]
        bar = best_so_far[good, len(values) - 1].min()
        return bool(np.max(sign * values) < bar)
    return decide


def parse(name: str, sign: float) -> Rule:
    """``median`` or ``KEY=VALUE,...`` settings of :func:`envelope_rule`."""
    if name == "median":
        return median_rule(sign)
    settings = dict(item.split("=") for item in name.split(","))
    return envelope_rule(sign, m=int(settings.get("m", 5)),
                         frac=float(settings["frac"]) if "frac" in settings else None,
                         startup=int(settings.get("startup", 5)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--rules", default="median;m=5")
    args = parser.parse_args()
    for name in args.rules.split(";"):
        report_sets(args, {"rule": name},
                    lambda curves, seed, name=name: lambda: parse(name, curves.direction.sign))


if __name__ == "__main__":
    main()
