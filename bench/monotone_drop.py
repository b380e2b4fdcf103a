"""Does the default chain rate a run as less likely to lose after its value got worse?

A review (stop 36) found that ``HorizonChain()``'s first link, which regresses on the run's last
value, its best so far and its last step, can predict a *better* end for a run whose last value
dropped: the last value and the best so far are nearly collinear, and their coefficients can
come out of opposite signs; and an input unlike the training curves' (a step far larger than
any of theirs) gets a large leverage, so a wide σ, which pulls P(worse) towards 0.5.  This
measures it on held-out runs, at the default and with ``monotone=True`` (the first link refitted
flat in the last value where it fell as the value rose), ``clip_inputs=True`` (the first link's
value, best and step clipped to the training rows' range, widened as the bound is) and both.

For each data set: the chain is fitted on the first 200 curves of a seeded shuffle; for each of
the other curves (up to 800) observed for ``TAU`` epochs, its value at epoch ``TAU`` is moved to
the training curves' 10 % worst level at that epoch (when that is worse than its own), and
P(worse than the training curves' best final) is computed before and after.  Counted: runs
whose P(worse) went down, and those whose P(worse) fell from ≥ Δ = 0.99 (stopped) to below it.

    .venv/bin/python bench/monotone_drop.py    # every set, default and monotone (~1 minute)

``clip_inputs`` (measured, not adopted) exists only with ``bench/patches/clip_inputs.patch``
applied to a scratch clone (``git apply``); there the script runs all four settings.

One JSON line per data set and setting (``bench/results/monotone_drop.jsonl``).
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stopping_benchmark import DATA, load

from curvecast.predictors import HorizonChain

TAU, DELTA, TRAIN, TEST = 4, 0.99, 200, 800
SETTINGS = [{"monotone": False}, {"monotone": True}, {"clip_inputs": True, "monotone": False},
            {"monotone": True, "clip_inputs": True}]
if "clip_inputs" not in inspect.signature(HorizonChain).parameters:  # the patch not applied
    SETTINGS = SETTINGS[:2]

for name in DATA:
    curves = load(DATA[name])
    order = np.random.default_rng(0).permutation(curves.n_configs)
    train = curves.subset(order[:TRAIN])
    test = curves.subset(order[TRAIN:TRAIN + TEST])
    sign = curves.direction.sign
    values = train.filled_values()
    best = float(sign * np.nanmax(sign * values[:, -1]))
    low = float(np.nanquantile(sign * values[:, TAU - 1], 0.1))  # the 10 % worst, signed
    partial = test.filled_values()[:, :TAU]
    moved = partial.copy()
    moved[:, -1] = np.where(sign * moved[:, -1] > low, sign * low, moved[:, -1])
    changed = np.flatnonzero(moved[:, -1] != partial[:, -1])
    for setting in SETTINGS:
        chain = HorizonChain(**setting).fit(train)  # type: ignore[arg-type]
        before = chain.predict(test.configs.iloc[changed], partial[changed]).prob_worse(
            best, curves.direction)
        after = chain.predict(test.configs.iloc[changed], moved[changed]).prob_worse(
            best, curves.direction)
        print(json.dumps({"data": name, **setting, "moved": int(changed.size),
                          "p_down": int(np.sum(after < before - 1e-12)),
                          "unstopped": int(np.sum((before >= DELTA) & (after < DELTA))),
                          "largest_drop": round(float(np.max(before - after, initial=0.0)), 4)}),
              flush=True)
