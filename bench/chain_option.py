"""The default rule with one ``HorizonChain`` option changed, in the stand-in protocol
(``bench/protocol_sim.py``: 200-trial studies, the trials' configs, the six development sets).

    .venv/bin/python bench/chain_option.py bound targets 0 10       # the default bound, seeds 0-9
    .venv/bin/python bench/chain_option.py bound targets+run 10 20  # the run's own value admitted
    PYTHONPATH=/tmp/dof/src .venv/bin/python bench/chain_option.py dof_rule correlated 0 10

    .venv/bin/python bench/chain_option.py trim_worse 5 0 10   # numbers and null read as JSON

(``dof_rule`` exists only with ``bench/patches/dof_rule.patch`` applied to a scratch clone: see
``bench/dof_calibration.py``.)  One JSON line per data set (the option and its value, speedup,
best kept, mean regret, ms per decision, seconds).
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


def parsed(text: str) -> object:
    """A number, true/false/null as JSON reads them; anything else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


option, value = sys.argv[1], parsed(sys.argv[2])
seeds = range(int(sys.argv[3]), int(sys.argv[4]))
for data in data_names("all", "friedman-sgd"):
    curves = load(DATA[data])
    values, sign = curves.filled_values(), curves.direction.sign
    table = study_configs(curves.configs, "all")
    t0 = time.time()
    records = [run_study(values, sign, lambda: curvecast_rule(None, {option: value}), 200, s,
                         table) for s in seeds]
    print(json.dumps({"data": data, option: value, "seeds": f"{seeds[0]}-{seeds[-1]}",
                      **summarise(records), "s": round(time.time() - t0)}), flush=True)
