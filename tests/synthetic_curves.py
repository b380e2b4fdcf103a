"""Synthetic learning curves shared by the predictor tests (saturating, config-dependent)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from curvecast import CurveSet, Direction


def synthetic(n: int = 150, epochs: int = 12, seed: int = 0,
              direction: Direction = Direction.MAXIMIZE) -> CurveSet:
    """Saturating curves y_t = a - b * exp(-t / c) + noise with config-dependent a, b, c."""
    rng = np.random.default_rng(seed)
    lr = 10 ** rng.uniform(-4, -1, n)
    width = rng.integers(8, 128, n)
    a = 0.9 - 0.15 * (np.log10(lr) + 2.5) ** 2 + 0.05 * np.log2(width) / 7
    b = rng.uniform(0.3, 0.6, n)
    c = rng.uniform(1, 6, n)
    t = np.arange(1, epochs + 1)
    values = a[:, None] - b[:, None] * np.exp(-t[None, :] / c[:, None])
    values += rng.normal(0, 0.005, values.shape)
    if direction is Direction.MINIMIZE:
        values = np.exp(3 - 2 * values)  # perplexity-like: positive, heavy-tailed
    configs = pd.DataFrame({"lr": lr, "width": width, "n_params": width * 100,
                            "n_layers": np.full(n, 3)}, index=[f"c{i}" for i in range(n)])
    return CurveSet(values=values, observed=np.ones_like(values, dtype=bool), epochs=t,
                    metric="m", direction=direction, configs=configs)


def split(cs: CurveSet, n_train: int = 100, seed: int = 0) -> tuple[CurveSet, CurveSet]:
    perm = np.random.default_rng(seed).permutation(cs.n_configs)
    return cs.subset(perm[:n_train]), cs.subset(perm[n_train:])
