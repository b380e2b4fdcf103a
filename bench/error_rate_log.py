"""The default rule on the accuracy sets reported as error rates (``1 − accuracy``, minimised), in
the stand-in protocol (``bench/protocol_sim.py``: 200-trial studies, the trials' configs).

``HorizonChain()`` models ``log(value)`` when a minimised metric is positive (``log_target=None``),
which suits perplexities; an error rate is positive too.  Reported as accuracy (maximised, no log)
the same curves give the rule's usual decisions; as error rates with ``log_target=False`` they give
the same decisions again (the modelled scale is an affine map of accuracy).  This measures what
the log costs or saves there.  friedman-sgd (held out) and the perplexity sets are not used.

    .venv/bin/python bench/error_rate_log.py auto 0 10    # the default: log (error rates > 0)
    .venv/bin/python bench/error_rate_log.py false 0 10   # no log
    .venv/bin/python bench/error_rate_log.py accuracy 0 10  # the same curves as accuracy

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

how = sys.argv[1]
seeds = range(int(sys.argv[2]), int(sys.argv[3]))
for data in ACCURACY_SETS:
    curves = load(DATA[data])
    accuracy = curves.filled_values()
    values, sign = (accuracy, 1.0) if how == "accuracy" else (1.0 - accuracy, -1.0)
    settings = {} if how in ("auto", "accuracy") else {"log_target": False}
    table = study_configs(curves.configs, "all")
    t0 = time.time()
    records = [run_study(values, sign, lambda kw=settings: curvecast_rule(None, dict(kw)), 200,
                         s, table) for s in seeds]
    print(json.dumps({"data": data, "how": how, "seeds": f"{seeds[0]}-{seeds[-1]}",
                      **summarise(records), "s": round(time.time() - t0)}), flush=True)
