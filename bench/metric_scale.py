"""The default rule on the same curves in other units (values times a factor: accuracy as a
fraction, in percent, in tenths), in the stand-in protocol (``bench/protocol_sim.py``: 200-trial
studies, the trials' configs).

A user's review (stop 30) found that ``HorizonChain()``'s decisions depend on the metric's unit
for factors its scale handling leaves alone (values whose range lies within [0.01, 100] are
modelled as they are, so the links' fixed ridge weighs more on accuracies in tenths and less on
accuracies in percent).  This measures what that does to the rule's speedup and best kept on the
four accuracy development sets.  friedman-sgd (held out) and the perplexity sets (modelled on the
log scale, where a factor is a shift) are not used.

    .venv/bin/python bench/metric_scale.py 1 0 10      # accuracy as a fraction (the benchmark)
    .venv/bin/python bench/metric_scale.py 100 0 10    # in percent
    .venv/bin/python bench/metric_scale.py 0.1 0 10    # in tenths

One JSON line per data set (speedup, best kept, mean regret, ms per decision).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import DATA, curvecast_rule, load, run_study, study_configs, summarise

ACCURACY_SETS = ("metaqnn_cifar10", "deep_resnets_tinyimagenet", "digits-metaqnn", "mnist1d-hp")

factor = float(sys.argv[1])
seeds = range(int(sys.argv[2]), int(sys.argv[3]))
for data in ACCURACY_SETS:
    curves = load(DATA[data])
    values = curves.filled_values() * factor
    table = study_configs(curves.configs, "all")
    t0 = time.time()
    records = [run_study(values, curves.direction.sign, lambda: curvecast_rule(None, {}), 200, s,
                         table) for s in seeds]
    print(json.dumps({"data": data, "factor": factor, "seeds": f"{seeds[0]}-{seeds[-1]}",
                      **summarise(records), "s": round(time.time() - t0)}), flush=True)
