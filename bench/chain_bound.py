"""The default rule with ``HorizonChain(bound=...)`` in the stand-in protocol
(``bench/protocol_sim.py``: 200-trial studies, the trials' configs, the development sets).

    .venv/bin/python bench/chain_bound.py targets 0 10       # the default bound, seeds 0-9
    .venv/bin/python bench/chain_bound.py targets+run 10 20  # the run's own value admitted

One JSON line per data set (speedup, best kept, mean regret, ms per decision, seconds).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import (
    DATA,
    curvecast_rule,
    data_names,
    load,
    run_study,
    study_configs,
    summarise,
)

bound = sys.argv[1]
seeds = range(int(sys.argv[2]), int(sys.argv[3]))
for data in data_names("all", "friedman-sgd"):
    curves = load(DATA[data])
    values, sign = curves.filled_values(), curves.direction.sign
    table = study_configs(curves.configs, "all")
    t0 = time.time()
    records = [run_study(values, sign, lambda: curvecast_rule(None, {"bound": bound}), 200, s,
                         table) for s in seeds]
    print(json.dumps({"data": data, "bound": bound, "seeds": f"{seeds[0]}-{seeds[-1]}",
                      **summarise(records), "s": round(time.time() - t0)}), flush=True)
