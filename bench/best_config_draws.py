"""Which config is "the best run" that each part of the benchmark asks a rule to keep, and how it
starts (stop 25, ``docs/results-benchmark.md``).

Replay visits every config of a set once, so in all 10 orderings the best run is the same config:
the set's best.  The Optuna part's studies draw 200 configs with replacement, so each seed's best
is the best of its own draw.  For each data set this prints, per part, how many distinct configs
are the best run over the 10 orderings or seeds, and for each the rank of its value after 1 and
2 epochs among the configs the study visited (1 = the best start), as a share of them: a late
starter, ranked far down after its first epochs, is what a rule that stops early must not kill.

    .venv/bin/python bench/best_config_draws.py --out bench/results/best_config_draws.jsonl

The draws are those of ``stopping_benchmark.run_optuna_study`` (``RandomSampler(seed)``, one draw
per trial), taken from a study with ``NopPruner()``: pruning does not change what is drawn.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stopping_benchmark as sb


def start_ranks(start: np.ndarray, best: int, visited: np.ndarray) -> float:
    """Share of the visited configs (counted once each) that start at least as well as ``best``
    (the config's 1-based rank over their number; ``start`` is on the larger-is-better scale)."""
    pool = np.unique(visited)
    return float(np.sum(start[pool] >= start[best]) / len(pool))


def optuna_draws(values: np.ndarray, sign: float, seed: int, trials: int) -> np.ndarray:
    """The configs (indices into ``values``) that the Optuna part's study with ``seed`` draws,
    in trial order, shape ``(trials,)``."""
    studies: list[Any] = []
    sb.run_optuna_study(values, sign, optuna.pruners.NopPruner(), trials, seed, studies=studies)
    return np.asarray([t.user_attrs["config"] for t in studies[0].trials])


def describe(name: str, seeds: int, trials: int) -> dict[str, Any]:
    """The best configs of both parts on one data set."""
    curves = sb.load(sb.DATA[name])
    values = curves.filled_values()
    sign = curves.direction.sign
    final, first, second = (sign * values[:, c] for c in (-1, 0, 1))
    everyone = np.arange(len(values))
    best = int(np.argmax(final))
    replay = {"best": best, "ties": int(np.sum(final >= final[best] - 1e-12)),
              "rank_epoch1": round(start_ranks(first, best, everyone), 3),
              "rank_epoch2": round(start_ranks(second, best, everyone), 3)}
    optuna_part: list[dict[str, Any]] = []
    for seed in range(seeds):
        drawn = optuna_draws(values, sign, seed, trials)
        b = int(drawn[np.argmax(final[drawn])])
        optuna_part.append({"seed": seed, "best": b, "set_best": b == best,
                            "rank_epoch1": round(start_ranks(first, b, drawn), 3),
                            "rank_epoch2": round(start_ranks(second, b, drawn), 3)})
    return {"data": name, "configs": len(values), "replay": replay,
            "optuna_distinct_best": len({r["best"] for r in optuna_part}),
            "optuna": optuna_part}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=",".join(sb.DATA))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    lines = [json.dumps(describe(name, args.seeds, args.trials)) for name in args.data.split(",")]
    for line in lines:
        print(line, flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
