"""The default rule with another ridge in ``HorizonChain``'s links, in the stand-in protocol
(``bench/protocol_sim.py``: 200-trial studies, the trials' configs, the six development sets).

Stop 33 found that the links' fixed ridge (1e-3 of the coefficients' prior precision, in the
chain's units) is not negligible (``bench/unit_bulk.py``); this asks whether another ridge helps
on the recorded curves.

    .venv/bin/python bench/chain_ridge.py 1e-4 0 10 all    # RIDGE FIRST_SEED STOP DATA

One JSON line per data set (``bench/results/chain_ridge.jsonl``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import report_sets, stopper_rule

from curvecast.predictors import HorizonChain
from curvecast.stopping import PredictiveStopper


def main() -> None:
    ridge, first, stop, data = (float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                sys.argv[4])
    args = argparse.Namespace(data=data, exclude="friedman-sgd", first_seed=first,
                              seeds=stop - first, configs="all")
    report_sets(args, {"ridge": ridge}, lambda curves, seed: lambda: stopper_rule(
        PredictiveStopper(predictor=HorizonChain(ridge=ridge))))


if __name__ == "__main__":
    main()
