"""The median rule's own families given the same leave-one-data-set-out choice as curvecast's Δ.

``bench/stopping_frontier.py`` tunes ``PercentilePruner(q, n_warmup_steps=w)`` and
``SuccessiveHalvingPruner(min_resource=r, reduction_factor=η)`` in hindsight, on the set they
are scored on.  A default cannot be chosen that way.  This script reads that script's grid and
chooses one setting per family the way ``docs/results-benchmark.md`` chooses curvecast's Δ: for
each data set, the setting (warm-up and first rung as shares of the curve's T, so that one setting
applies to every set) that keeps the best in ≥ 9 of 10 seeds on the most of the *other*
development sets, then the highest geometric-mean speedup there; it is scored on the held-out
set.  friedman-sgd (the held-out workload) takes no part in any choice; its setting is chosen on
the six development sets.

No studies are run: the numbers are the grid's (``bench/protocol_sim.py``'s stand-in of the Optuna
protocol, 200 trials, 10 seeds).

    .venv/bin/python bench/frontier_loo.py --grid bench/results/stopping_frontier.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stopping_benchmark import DATA, load

#: The held-out workload: never used to choose.
HELD_OUT = "friedman-sgd"

#: Shares of T a warm-up (percentile) or first rung (halving) is set as, with how each is made
#: from T exactly as ``bench/stopping_frontier.py`` makes its grid.
WARMUPS = {"0": lambda T: 0, "T/20": lambda T: max(1, T // 20), "T/10": lambda T: max(1, T // 10),
           "T/5": lambda T: max(1, T // 5), "T/3": lambda T: T // 3, "T/2": lambda T: T // 2}
RUNGS = {"1": lambda T: 1, "T/20": lambda T: max(1, T // 20), "T/10": lambda T: max(1, T // 10),
         "T/5": lambda T: max(1, T // 5), "T/3": lambda T: T // 3}

Setting = tuple[str, int, str]  # (family, q or η, share label)
Score = tuple[float, int]  # (speedup, best kept out of the seeds)


def table(results: dict[str, dict[str, object]], epochs: dict[str, int]
          ) -> dict[Setting, dict[str, Score]]:
    """Every share-defined setting's score per data set (only settings the grid holds)."""
    out: dict[Setting, dict[str, Score]] = {}
    for name, res in results.items():
        T = epochs[name]
        grid = res["grid"]
        assert isinstance(grid, list)
        index = {(g["family"], g.get("q", g.get("eta")), g.get("warmup", g.get("min_resource"))):
                 (float(g["speedup"]), int(g["kept"])) for g in grid}
        for family, shares in (("percentile", WARMUPS), ("halving", RUNGS)):
            for label, make in shares.items():
                for (fam, k, at), score in index.items():
                    if fam == family and at == make(T):
                        out.setdefault((family, k, label), {})[name] = score
    return out


def choose(scores: dict[Setting, dict[str, Score]], family: str, on: list[str],
           keep: int) -> Setting:
    """The setting of ``family`` with the most sets of ``on`` kept in ≥ ``keep``, then the
    highest geometric-mean speedup over ``on``."""
    def rank(setting: Setting) -> tuple[int, float]:
        s = scores[setting]
        safe = sum(s[d][1] >= keep for d in on)
        return safe, sum(math.log(s[d][0]) for d in on) / len(on)
    candidates = [k for k in scores if k[0] == family and all(d in scores[k] for d in on)]
    return max(candidates, key=rank)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=Path, default=Path("bench/results/stopping_frontier.json"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    doc = json.loads(args.grid.read_text())
    results, keep = doc["results"], int(doc["keep"])
    epochs = {name: int(load(DATA[name]).filled_values().shape[1]) for name in results}
    scores = table(results, epochs)
    development = [d for d in results if d != HELD_OUT]
    rows = []
    for held in results:
        on = [d for d in development if d != held]
        row: dict[str, object] = {"data": held, "chosen_on": on}
        for family in ("percentile", "halving"):
            setting = choose(scores, family, on, keep)
            speedup, kept = scores[setting][held]
            row[family] = {"setting": list(setting), "speedup": speedup, "kept": kept}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"keep": keep, "rows": rows}, indent=1) + "\n")



if __name__ == "__main__":
    main()
