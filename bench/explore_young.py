"""The default rule exploring only in a study's first trials, in the stand-in protocol
(``bench/protocol_sim.py``: 200-trial studies, the trials' configs, the six development sets).

Exploration (a tenth of the would-be stops let run on to twice their epochs) is how the
predictor sees what becomes of the runs it stops; it costs epochs in every trial of a study.
Here it is drawn only while the study has at most ``YOUNG`` trials (the running one included);
later would-be stops are stopped.  The draws of the first ``YOUNG`` trials are the default's.

    .venv/bin/python bench/explore_young.py 100 0 10     # YOUNG = 100, seeds 0-9 (and 10 20)

One JSON line per data set (``bench/results/explore_young.jsonl``; stop 32).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import report_sets, stopper_rule

from curvecast.predictors import HorizonChain
from curvecast.stopping import PredictiveStopper


def explore_young(young: int, **settings: Any) -> PredictiveStopper:
    """``PredictiveStopper()`` that lets would-be stops run on only in the first ``young``
    trials of a study: ``explore_trials=young`` since stop 32 made it an option (the subclass
    this script first measured with decided alike: the Optuna part's records match)."""
    return PredictiveStopper(**({"predictor": HorizonChain(), "explore_trials": young}
                                | settings))


def main() -> None:
    young, first, stop = (int(a) for a in sys.argv[1:4])
    args = argparse.Namespace(data="all", exclude="friedman-sgd", first_seed=first,
                              seeds=stop - first, configs="all")
    report_sets(args, {"young": young},
                lambda curves, seed: lambda: stopper_rule(explore_young(young)))


if __name__ == "__main__":
    main()
