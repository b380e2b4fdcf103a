"""Numbers that tell whether a CurveSet is worth predicting (``curvecast data summary``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from curvecast.curves import CurveSet

QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)


def summarize(curves: CurveSet) -> dict[str, Any]:
    """A JSON-ready summary of ``curves``.

    Keys: ``configs``, ``epochs`` (trained epochs, epoch 0 excluded), ``epoch_axis`` (first and
    last epoch), ``has_untrained_epoch``, ``metric``, ``direction``, ``complete`` (configs observed
    to the last epoch), ``diverged_configs`` (configs with any NaN/inf observation),
    ``final_quantiles`` (quantile → final value, diverged finals counted by the CurveSet's rule),
    ``spread_10_90`` (90th minus 10th percentile of the final values), ``kendall_tau_25``
    (rank agreement between epoch ⌈0.25·T⌉ and the last epoch over complete configs: 1 means
    curves never cross after a quarter of training), ``seconds_per_epoch_median`` and
    ``provenance``.
    """
    trained = curves.without_untrained_epoch()
    finals = curves.final_values()
    complete = curves.is_complete()
    finite_finals = finals[complete & np.isfinite(finals)]
    quantiles = ({str(q): float(np.quantile(finite_finals, q)) for q in QUANTILES}
                 if finite_finals.size else {})
    tau = float("nan")
    if trained.n_epochs >= 2 and complete.sum() >= 3:
        quarter = max(math.ceil(0.25 * trained.n_epochs), 1) - 1
        filled = trained.filled_values()[complete]
        early, last = filled[:, quarter], filled[:, -1]
        ok = np.isfinite(early) & np.isfinite(last)
        if ok.sum() >= 3:
            tau = float(stats.kendalltau(early[ok], last[ok]).statistic)
    seconds = float("nan")
    if trained.seconds is not None and np.isfinite(trained.seconds).any():
        seconds = float(np.nanmedian(trained.seconds))
    return {
        "configs": curves.n_configs,
        "epochs": trained.n_epochs,
        "epoch_axis": [int(curves.epochs[0]), int(curves.epochs[-1])],
        "has_untrained_epoch": curves.has_untrained_epoch,
        "metric": curves.metric,
        "direction": curves.direction.value,
        "complete": int(complete.sum()),
        "diverged_configs": int(curves.diverged().any(axis=1).sum()),
        "final_quantiles": quantiles,
        "spread_10_90": (quantiles["0.9"] - quantiles["0.1"]) if quantiles else float("nan"),
        "kendall_tau_25": tau,
        "seconds_per_epoch_median": seconds,
        "provenance": dict(curves.provenance),
    }
