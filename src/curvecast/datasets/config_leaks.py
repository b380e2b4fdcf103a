"""Config columns of an imported table that are probably not settings of the run.

A wide table's every column that is not a curve becomes a config feature.  A column that
summarises the curve itself (a ``best_val_acc`` a tracking tool exports beside the history), the
curve of another metric (``train_acc_1`` … ``train_acc_20``), an index pandas wrote with the
table or another row counter (a ``trial`` column 0..n−1) would then be a feature of every
predictor: the first hands them the answer, and ``evaluate`` reports an R² near 1 that means
nothing.  Nothing is dropped here; the importer
warns, naming the columns.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from curvecast.curves import CurveSet

#: |Spearman ρ| between a numeric config column and the complete runs' final values above which
#: the column is named as a likely summary of the curve.
LEAK_RHO = 0.98
#: Complete runs needed before that test is made.
LEAK_MIN_RUNS = 10
#: Numbered columns of one name (``train_acc_1``, ``train_acc_2``, …) that make a family.
FAMILY_SIZE = 3

_NUMBERED = re.compile(r"^(.*?)(\d+)$")
#: Words of a numbered family's name that make it look like a metric's curve (``train_acc_3``),
#: besides the words of the imported metric's own name; ``n_units_l0`` … (Optuna's per-layer
#: parameters) has none of them and is a setting.
_METRIC_WORDS = frozenset({"acc", "accuracy", "loss", "err", "error", "perplexity", "ppl",
                           "score", "auc", "f1", "rmse", "mse", "mae", "metric", "val", "valid",
                           "validation", "train", "test", "epoch", "step", "iter"})


#: Configs needed before a column counting the rows is named (a 1..4 setting of 4 configs is not).
ROW_COUNTER_MIN = 5


def _row_counters(configs: pd.DataFrame, exclude: set[str]) -> list[str]:
    """Numeric config columns that are exactly 0..n−1 or 1..n in row order (a trial number or
    an index written under another name than pandas' ``Unnamed: 0``); integer settings that
    repeat (``layers`` 1..4 over many configs) are none."""
    n = len(configs)
    if n < ROW_COUNTER_MIN:
        return []
    found = []
    for name in configs.columns:
        column = configs[name]
        if (str(name) in exclude or not pd.api.types.is_numeric_dtype(column)
                or pd.api.types.is_bool_dtype(column)):
            continue
        x = column.to_numpy(dtype=float)
        if np.array_equal(x, np.arange(n)) or np.array_equal(x, np.arange(1, n + 1)):
            found.append(str(name))
    return found


def suspicious_config_columns(curves: CurveSet) -> list[str]:
    """One-line warnings about ``curves``' config columns that look like no setting (see the
    module docstring); empty when none does."""
    configs = curves.configs
    warnings: list[str] = []
    names = [str(c) for c in configs.columns]
    index_like = [n for n in names if n.startswith("Unnamed: ")]
    if index_like:
        warnings.append(f"config column(s) {', '.join(map(repr, index_like))} look like an index "
                        "pandas wrote with the table (to_csv() without index=False): drop them, "
                        "they are features of every predictor")
    counters = _row_counters(configs, exclude=set(index_like))
    if counters:
        warnings.append(f"config column(s) {', '.join(map(repr, counters))} count the rows "
                        "(0..n−1 or 1..n in row order): a row or trial number, not a setting, "
                        "yet each is a feature of every predictor; unless it is a setting, drop "
                        "it from the table and import again")
    families = Counter(m.group(1) for n in names if (m := _NUMBERED.match(n)) and m.group(1))
    metric_words = {*_METRIC_WORDS, *re.findall(r"[a-z0-9]+", curves.metric.lower())}
    numbered = sorted(prefix for prefix, k in families.items() if k >= FAMILY_SIZE and
                      metric_words & set(re.findall(r"[a-z0-9]+", prefix.lower())))
    if numbered:
        shown = ", ".join(f"{p}<n> ({families[p]} columns)" for p in numbered[:3])
        warnings.append(f"config columns {shown} look like another metric's curve: each is a "
                        "feature of every predictor; drop them, or import that curve instead")
    complete = np.asarray(curves.is_complete(), dtype=bool)
    if complete.sum() >= LEAK_MIN_RUNS:
        finals = curves.final_values()[complete]
        leaks: list[tuple[float, str]] = []
        for name in configs.columns:
            column = configs[name]
            if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
                continue
            x = column.to_numpy(dtype=float)[complete]
            keep = np.isfinite(x) & np.isfinite(finals)
            if keep.sum() < LEAK_MIN_RUNS or np.ptp(x[keep]) == 0 or np.ptp(finals[keep]) == 0:
                continue
            rho = float(spearmanr(x[keep], finals[keep]).statistic)
            if abs(rho) >= LEAK_RHO:
                leaks.append((abs(rho), f"{name!r} (ρ {rho:+.3f})"))
        if leaks:
            leaks.sort(key=lambda leak: -leak[0])  # the most telling first
            shown = ", ".join(text for _, text in leaks[:5])
            if len(leaks) > 5:
                shown += f", … ({len(leaks)} in all)"
            warnings.append(f"config column(s) {shown} rank the complete runs' final "
                            f"{curves.metric} almost exactly: a summary of the curve (a best or "
                            "final value) would hand every predictor the answer; drop it unless "
                            "it is a setting chosen before training")
    return warnings
