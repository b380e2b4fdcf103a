"""The default rule with ``HorizonChain(dof_rule=...)`` in the stand-in protocol
(``bench/protocol_sim.py``: 200-trial studies, the trials' configs, the development sets), as
``bench/chain_bound.py`` runs the bound.  ``dof_rule`` exists only with
``bench/patches/dof_rule.patch`` applied (see ``bench/dof_calibration.py``):

    PYTHONPATH=/tmp/dof/src .venv/bin/python bench/chain_dof.py welch 0 10
    PYTHONPATH=/tmp/dof/src .venv/bin/python bench/chain_dof.py correlated 0 10

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

rule = sys.argv[1]
seeds = range(int(sys.argv[2]), int(sys.argv[3]))
for data in data_names("all", "friedman-sgd"):
    curves = load(DATA[data])
    values, sign = curves.filled_values(), curves.direction.sign
    table = study_configs(curves.configs, "all")
    t0 = time.time()
    records = [run_study(values, sign, lambda: curvecast_rule(None, {"dof_rule": rule}), 200, s,
                         table) for s in seeds]
    print(json.dumps({"data": data, "dof_rule": rule, "seeds": f"{seeds[0]}-{seeds[-1]}",
                      **summarise(records), "s": round(time.time() - t0)}), flush=True)
