"""curvecast's predictive early stopping as an Optuna pruner (extra ``curvecast[optuna]``).

:class:`CurvecastPruner` reads the intermediate values of the study's completed trials (from any
Optuna storage) as training curves, fits curvecast's predictor on them — once per batch of
``refit_every`` new completions, cached, never per call — and prunes a running trial by the
paper's rule (:class:`curvecast.stopping.PredictiveStopper`): prune at step τ when
``P(final value worse than the best so far − δ) ≥ Δ``.  It works with ``direction="minimize"``.

Steps are the epochs: report the validation metric with ``trial.report(value, step=epoch)`` for
epochs 1, 2, …, T.  The budget axis is the set of steps the completed trials reported; completed
trials that miss a step of it are not used for training.  NaN or infinite reports (diverged runs)
count as the worst value (curvecast's one rule).

Every trial the pruner judges with a prediction carries, as user attributes, what drove the
decision: ``curvecast:predicted`` (predicted final value), ``curvecast:std``,
``curvecast:probability``, ``curvecast:step``, ``curvecast:pruned`` — visible in
optuna-dashboard.  :func:`predicted_value` returns a pruned trial's predicted final value rather
than its last report (optuna#3168, #4951).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

try:
    import optuna
    from optuna.pruners import BasePruner
    from optuna.study import StudyDirection
    from optuna.trial import FrozenTrial, TrialState
except ImportError as err:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("curvecast.integrations.optuna needs Optuna: pip install "
                      "'curvecast[optuna]'") from err

from curvecast.curves import Direction
from curvecast.predictors import Predictor
from curvecast.stopping import History, PredictiveStopper, Trial

_ATTR = "curvecast:"


class CurvecastPruner(BasePruner):
    """Prune by predicted final value (Baker et al. 2017) — see the module docstring.

    Args:
        delta: Δ in (0, 1]: prune when the probability of ending worse than the reference is at
            least this (the paper: 0.99 for architecture search).
        margin: δ ≥ 0 (metric units): the reference is the best final value moved by δ toward
            worse, so near-best trials finish.
        keep_top_k: compare with the k-th best final value instead (keeps the top k).
        min_complete: completed trials before anything is pruned (the paper: 100; smaller studies
            need fewer — the predictor needs at least 6).
        refit_every: refit the predictor after this many further completions (None: fit once,
            the paper's behaviour).
        n_warmup_steps: never prune before this step (like Optuna's own pruners).
        predictor: an unfitted curvecast predictor (default: ``SRM()``).
    """

    def __init__(self, delta: float = 0.99, *, margin: float = 0.0, keep_top_k: int = 1,
                 min_complete: int = 20, refit_every: int | None = 10, n_warmup_steps: int = 0,
                 predictor: Predictor | None = None) -> None:
        if n_warmup_steps < 0:
            raise ValueError(f"n_warmup_steps must be >= 0, got {n_warmup_steps}")
        if min_complete < 6:
            raise ValueError(f"min_complete must be >= 6 (the predictor needs 6 curves), got "
                             f"{min_complete}")
        self.stopper = PredictiveStopper(delta=delta, margin=margin, keep_top_k=keep_top_k,
                                         min_complete=min_complete, refit_every=refit_every,
                                         predictor=predictor)
        self.n_warmup_steps = n_warmup_steps

    def prune(self, study: optuna.study.Study, trial: FrozenTrial) -> bool:
        """Whether ``trial`` should stop now (called by ``trial.should_prune()``)."""
        reported = trial.intermediate_values
        if not reported:
            return False
        step = max(reported)
        if step < self.n_warmup_steps:
            return False
        history, running = _history(study, trial)
        if history is None or running is None:
            return False
        decision = self.stopper.decide(running, history)
        if decision.mean is not None:
            _set_attrs(study, trial, {
                "predicted": decision.mean, "std": decision.std,
                "probability": decision.probability, "step": step, "pruned": decision.stop})
        return decision.stop


def predicted_value(trial: FrozenTrial) -> float | None:
    """A trial's final value: the predicted one for a pruned trial judged by
    :class:`CurvecastPruner`, the returned value for a complete one, else None."""
    if trial.state is TrialState.PRUNED and f"{_ATTR}predicted" in trial.user_attrs:
        return float(trial.user_attrs[f"{_ATTR}predicted"])
    return None if trial.value is None else float(trial.value)


def _set_attrs(study: optuna.study.Study, trial: FrozenTrial, attrs: dict[str, Any]) -> None:
    # A pruner receives a FrozenTrial; user attributes are written through the study's storage,
    # as optuna.trial.Trial.set_user_attr does.
    for key, value in attrs.items():
        study._storage.set_trial_user_attr(trial._trial_id, _ATTR + key, value)


def _history(study: optuna.study.Study, trial: FrozenTrial) -> tuple[History | None, Trial | None]:
    """The study's completed curves plus ``trial``'s partial curve, as curvecast sees them."""
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.intermediate_values]
    if not complete:
        return None, None
    axis = sorted({s for t in complete for s in t.intermediate_values})
    usable = [t for t in complete if all(s in t.intermediate_values for s in axis)]
    if not usable:
        return None, None
    direction = (Direction.MAXIMIZE if study.direction is StudyDirection.MAXIMIZE
                 else Direction.MINIMIZE)
    values = np.array([[t.intermediate_values[s] for s in axis] for t in usable], dtype=float)
    finite = values[np.isfinite(values)]
    worst = (finite.min() if direction is Direction.MAXIMIZE else finite.max()) if finite.size \
        else 0.0
    partial = []
    for s in axis:
        if s not in trial.intermediate_values:
            break
        partial.append(trial.intermediate_values[s])
    if not partial or len(partial) >= len(axis):
        return None, None
    rows = np.full((len(usable) + 1, len(axis)), np.nan)
    rows[:-1] = values
    rows[-1, : len(partial)] = partial
    rows[~np.isfinite(rows) & ~np.isnan(rows)] = worst  # ±inf
    observed = np.zeros(rows.shape, dtype=bool)
    observed[:-1] = True
    observed[-1, : len(partial)] = True
    rows[observed & np.isnan(rows)] = worst  # diverged NaN reports
    ids = [f"t{t.number}" for t in usable] + [f"t{trial.number}"]
    configs = pd.DataFrame([_encode(t.params) for t in [*usable, trial]], index=ids)
    n_observed = np.array([len(axis)] * len(usable) + [len(partial)])
    history = History(rows, n_observed, ids, configs, np.array(axis, dtype=np.int64),
                      metric="objective", direction=direction, study=study.study_name)
    running = Trial(ids[-1], configs.loc[[ids[-1]]], rows[-1, : len(partial)])
    return history, running


def _encode(params: dict[str, Any]) -> dict[str, Any]:
    """Trial parameters as config-table columns (numbers as numbers, the rest as strings)."""
    return {k: (v if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                else str(v)) for k, v in params.items()}
