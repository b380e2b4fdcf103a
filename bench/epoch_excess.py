"""Where curvecast's default spends the epochs that Optuna's ``MedianPruner()`` does not.

The stand-in protocol of ``bench/protocol_sim.py`` (200-trial studies, a seeded generator picks a
recorded config per trial, the trials carry the recorded number columns), the default rule and
the median rule on the same draws.  Each trial's epochs under both rules are set side by side
and the difference (curvecast − median, in epochs) is split two ways: by the epoch at which the
median rule stopped the trial (1, 2–3, 4 to T−1, or not at all), and by the trial's place in the
study (0–19, 20–59, 60–199).  Per set: the totals, both splits (the first also with how many
of the studies' best trials each group holds), and how many trials each rule stopped at each
epoch.

    .venv/bin/python bench/epoch_excess.py --out bench/results/epoch_excess.json
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_sim import (
    Rule,
    add_study_arguments,
    data_names,
    median_rule,
    parse_rule,
    run_study,
    study_configs,
)
from stopping_benchmark import DATA, load


def split(cc: np.ndarray, md: np.ndarray, best: np.ndarray, T: int) -> dict[str, dict[str, int]]:
    """The epochs of both rules over the trials the median rule stopped at 1, 2–3, 4…T−1 or
    never (``cc``, ``md``: epochs per trial, shape ``(n,)``; ``best``: whether the trial is its
    study's best, whose count per group is ``best``)."""
    groups = {"median stops at 1": md == 1, "median stops at 2-3": (md >= 2) & (md <= 3),
              f"median stops at 4-{T - 1}": (md >= 4) & (md < T), "median completes": md == T}
    return {k: {"trials": int(m.sum()), "curvecast": int(cc[m].sum()), "median": int(md[m].sum()),
                "excess": int(cc[m].sum() - md[m].sum()), "best": int(best[m].sum())}
            for k, m in groups.items()}


def by_place(cc: np.ndarray, md: np.ndarray, place: np.ndarray) -> dict[str, dict[str, int]]:
    """The same by the trial's place in its study (``place``: 0…199 per trial)."""
    groups = {"trials 0-19": place < 20, "trials 20-59": (place >= 20) & (place < 60),
              "trials 60-199": place >= 60}
    return {k: {"curvecast": int(cc[m].sum()), "median": int(md[m].sum()),
                "excess": int(cc[m].sum() - md[m].sum())} for k, m in groups.items()}


def default_rule() -> Rule:
    """curvecast's rule at its defaults, fresh for one study."""
    rule = parse_rule("curvecast", None)
    assert not isinstance(rule, str)
    return rule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.set_defaults(configs="numeric")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result: dict[str, Any] = {"command": " ".join(sys.argv), "configs": args.configs, "sets": {}}
    for data in data_names(args.data, args.exclude):
        curves = load(DATA[data])
        values, sign = curves.filled_values(), curves.direction.sign
        table = study_configs(curves.configs, args.configs)
        T = values.shape[1]
        cc_runs, md_runs = [], []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            cc_runs.append(run_study(values, sign, default_rule, args.trials, seed, table))
            md_runs.append(run_study(values, sign, partial(median_rule, sign), args.trials,
                                     seed, table))
        cc = np.concatenate([r["per_trial"] for r in cc_runs])
        md = np.concatenate([r["per_trial"] for r in md_runs])
        place = np.tile(np.arange(args.trials), args.seeds)
        best = np.concatenate([  # each study's best trials (ties: all of them)
            (f := sign * values[np.asarray(r["picked"]), -1]) >= f.max() - 1e-12 for r in cc_runs])
        result["sets"][data] = {
            "T": T, "curvecast": int(cc.sum()), "median": int(md.sum()),
            "kept": {"curvecast": sum(bool(r["best_kept"]) for r in cc_runs),
                     "median": sum(bool(r["best_kept"]) for r in md_runs)},
            "by_median_stop": split(cc, md, best, T), "by_place": by_place(cc, md, place),
            "stopped_at": {"curvecast": {str(k): int((cc == k).sum()) for k in (1, 2, 3, 4, 5, T)},
                           "median": {str(k): int((md == k).sum()) for k in (1, 2, 3, 4, 5, T)}},
        }
        print(data, json.dumps(result["sets"][data]["by_median_stop"]), flush=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
