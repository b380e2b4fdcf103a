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

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import (
    DATA,
    data_names,
    load,
    run_study,
    stopper_rule,
    study_configs,
    summarise,
)

from curvecast.predictors import HorizonChain
from curvecast.stopping import PredictiveStopper


def explore_young(young: int, **settings: Any) -> PredictiveStopper:
    """``PredictiveStopper()`` that lets would-be stops run on only in the first ``young``
    trials of a study: ``explore_trials=young`` since stop 32 made it an option (the subclass
    this script first measured with decided alike: the Optuna part's records match)."""
    return PredictiveStopper(**({"predictor": HorizonChain(), "explore_trials": young}
                                | settings))


def main() -> None:
    young = int(sys.argv[1])
    seeds = range(int(sys.argv[2]), int(sys.argv[3]))
    for data in data_names("all", "friedman-sgd"):
        curves = load(DATA[data])
        values, sign = curves.filled_values(), curves.direction.sign
        table = study_configs(curves.configs, "all")
        t0 = time.time()
        records = [run_study(values, sign, lambda: stopper_rule(explore_young(young)), 200, s,
                             table) for s in seeds]
        print(json.dumps({"data": data, "young": young, "seeds": f"{seeds[0]}-{seeds[-1]}",
                          **summarise(records), "s": round(time.time() - t0)}), flush=True)


if __name__ == "__main__":
    main()
