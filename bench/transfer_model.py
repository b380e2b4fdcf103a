"""A stopping rule learned offline from recorded studies and carried to new ones (issue 12
item 4; an experiment, not part of the package: it did not beat curvecast's rule, see
``bench/train_transfer.py``).

:class:`LearnedStopper` asks a small pretrained network for ``P(this trial's final value ends
better than the best complete trial's so far | what the study has seen)`` and stops the trial
when that probability is below a threshold.  The network never sees a metric's units: its
inputs (:func:`transfer_features`) are ranks and spreads relative to the study's own trials at
the same epoch, so one model serves accuracy, perplexity or RMSE studies of any length.  Its
weights are an ``.npz`` of plain arrays (read with ``allow_pickle=False``) written by
``bench/train_transfer.py``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.stopping._base import Action, Decision, History, Stopper, Trial, check_min_complete

#: The model's inputs, in order (see :func:`transfer_features`).
FEATURES: tuple[str, ...] = (
    "tau_frac", "log_tau", "log_complete", "q_now_complete", "q_best_complete", "q_now_all",
    "q_best_all", "q_best_finals", "q_leader", "gap_leader", "gap_final", "knn_gap", "slope",
    "rank_corr",
)
_CLIP = 20.0
_KNN = 5


def _quantile(x: float, sample: NDArray[np.float64]) -> float:
    """Mid-rank of ``x`` in ``sample``, shrunk towards 0.5 for small samples: in (0, 1)."""
    less = float(np.count_nonzero(sample < x))
    equal = float(np.count_nonzero(sample == x))
    return (less + 0.5 * equal + 0.5) / (sample.shape[0] + 1.0)


def _spread(sample: NDArray[np.float64]) -> float:
    """A robust spread: the 10–90 % inter-quantile range (the std, or a tiny number, when it is
    zero)."""
    n = sample.shape[0]
    if n < 2:
        return 0.0
    ordered = np.sort(sample)
    spread = _at(ordered, 0.9 * (n - 1)) - _at(ordered, 0.1 * (n - 1))
    if spread <= 0.0:
        spread = float(np.std(sample))
    return spread


def _at(ordered: NDArray[np.float64], position: float) -> float:
    """The value at fractional ``position`` of a sorted sample (linear interpolation, as
    ``np.quantile``)."""
    i = int(position)
    j = min(i + 1, ordered.shape[0] - 1)
    return float(ordered[i] + (position - i) * (ordered[j] - ordered[i]))


def _scaled(gap: float, spread: float) -> float:
    """``asinh(gap / spread)`` clipped to ±20 (a zero spread gives ±20 or 0)."""
    if spread <= 0.0:
        return 0.0 if gap == 0.0 else math.copysign(_CLIP, gap)
    return max(-_CLIP, min(_CLIP, math.asinh(gap / spread)))


def _ranks(x: NDArray[np.float64]) -> NDArray[np.float64]:
    ranks = np.empty(x.shape[0])
    ranks[np.argsort(x, kind="stable")] = np.arange(x.shape[0])
    return ranks


def transfer_features(values: NDArray[np.float64], n_observed: NDArray[np.int64], row: int,
                      sign: float) -> NDArray[np.float64] | None:
    """The scale-free, study-relative inputs of the learned model for the trial in ``row``.

    Args:
        values: shape ``(n_trials, T)``, every trial's curve (filled; NaN beyond what was
            observed), as :class:`History` holds it.
        n_observed: shape ``(n_trials,)``, epochs observed per trial; the trial in ``row`` has
            been observed for τ = ``n_observed[row]`` epochs (1 ≤ τ < T).
        row: the running trial's row.
        sign: +1 when larger values are better, −1 when smaller are.

    Returns:
        The :data:`FEATURES`, shape ``(14,)``, or None when no other trial is complete (there is
        nothing to compare with).  With y the trial's value at τ, b its best so far, "complete"
        the other complete trials, "all" every other trial observed at τ, and the leader the
        complete trial with the best final value (every value oriented so that larger is
        better): τ/T; log τ; log(1 + complete); the quantiles of y and b among the complete
        trials' values at τ and among all; of b among the complete finals; of the leader's value
        at τ among all; ``asinh`` of (b − leader at τ) / spread at τ, of (b − best final) /
        spread of the finals, of (the k-nearest-neighbour final, y plus the median gain from τ
        to T of the 5 complete trials closest at τ, − best final) / spread of the finals, and of
        the slope over the last ⌈T/10⌉ epochs / spread at τ; the rank correlation of the
        complete trials' values at τ with their finals.
    """
    n, T = values.shape
    tau = int(n_observed[row])
    others = np.ones(n, dtype=bool)
    others[row] = False
    complete = others & (n_observed >= T)
    n_complete = int(np.count_nonzero(complete))
    if n_complete == 0:
        return None
    column = sign * values[:, tau - 1]
    curve = sign * values[row, :tau]
    y, b = float(curve[-1]), float(np.max(curve))
    now_all = column[others & (n_observed >= tau)]
    now_complete = column[complete]
    finals = sign * values[complete, T - 1]
    leader = int(np.argmax(finals))
    best_final = float(finals[leader])
    spread_now = _spread(now_all)
    spread_final = _spread(finals) if n_complete >= _KNN else spread_now
    k = min(_KNN, n_complete)
    near = np.argpartition(np.abs(now_complete - y), k - 1)[:k]
    gains = np.sort(finals[near] - now_complete[near])
    knn_final = y + _at(gains, 0.5 * (k - 1))
    window = max(1, int(np.ceil(T / 10)))
    slope = float(curve[-1] - curve[-1 - window]) if tau > window else float(curve[-1] - curve[0])
    if n_complete >= 3:
        ra, rb = _ranks(now_complete), _ranks(finals)
        ra -= ra.mean()
        rb -= rb.mean()
        denominator = float(np.sqrt((ra @ ra) * (rb @ rb)))
        corr = float(ra @ rb) / denominator if denominator > 0 else 0.0
    else:
        corr = 0.0
    return np.array([
        tau / T, np.log(tau), np.log1p(n_complete),
        _quantile(y, now_complete), _quantile(b, now_complete),
        _quantile(y, now_all), _quantile(b, now_all), _quantile(b, finals),
        _quantile(float(now_complete[leader]), now_all),
        _scaled(b - float(now_complete[leader]), spread_now),
        _scaled(b - best_final, spread_final),
        _scaled(knn_final - best_final, spread_final),
        _scaled(slope, spread_now),
        corr,
    ])


class TransferModel:
    """A small multilayer perceptron (ReLU hidden layers, logistic output) in numpy, read from an
    ``.npz`` of plain arrays.

    The file holds ``features`` (the input names, which must equal :data:`FEATURES`), ``mean``
    and ``scale`` (the inputs' standardisation), ``n_layers`` and ``W0, b0, …`` (one weight
    matrix and bias per layer), and the rule's settings chosen with the model: ``threshold``
    and ``min_complete``.

    Raises:
        ValueError: a file whose features differ from :data:`FEATURES` or whose shapes disagree.
    """

    def __init__(self, path: str | Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        names = tuple(str(x) for x in arrays["features"])
        if names != FEATURES:
            raise ValueError(f"{path}: the model's features {names} are "
                             f"not curvecast's {FEATURES}")
        self.path = path
        self.mean: NDArray[np.float64] = arrays["mean"].astype(np.float64)
        self.scale: NDArray[np.float64] = arrays["scale"].astype(np.float64)
        self.layers: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = [
            (arrays[f"W{i}"].astype(np.float64), arrays[f"b{i}"].astype(np.float64))
            for i in range(int(arrays["n_layers"]))]
        width = len(FEATURES)
        for weights, bias in self.layers:
            if weights.shape[0] != width or bias.shape != (weights.shape[1],):
                raise ValueError(f"{path}: layer shapes "
                                 f"{[w.shape for w, _ in self.layers]} do not chain")
            width = weights.shape[1]
        if width != 1:
            raise ValueError(f"{path}: the last layer has {width} outputs")
        self.threshold = float(arrays["threshold"])
        self.min_complete = int(arrays["min_complete"])
        self.info: dict[str, Any] = {key: arrays[key].tolist() for key in arrays
                                     if key.startswith("info_")}

    def predict_proba(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """P(better), shape ``(n,)``, for inputs of shape ``(n, len(FEATURES))`` (or one row)."""
        h = (np.atleast_2d(features) - self.mean) / self.scale
        for i, (weights, bias) in enumerate(self.layers):
            h = h @ weights + bias
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(h[:, 0], -50.0, 50.0))))


class LearnedStopper(Stopper):
    """Stop a trial when a pretrained model's ``P(final better than the best complete final so
    far)`` is below ``threshold``.

    The model (:class:`TransferModel`) reads :func:`transfer_features`: ranks and spreads
    relative to the study's own trials, so it needs no fitting in the study.  ``threshold`` and
    ``min_complete`` default to the values stored with the model.  Nothing is stopped
    before ``min_complete`` trials are complete.

    Args:
        model: a :class:`TransferModel`, or a path to its ``.npz``.
        threshold: stop when P(better) < ``threshold``, in (0, 1); default: the one stored with
            the model (chosen with it on its training sets, ``bench/train_transfer.py``).
        min_complete: complete trials before the first stop (at least 1); default: the model's.
    """

    def __init__(self, model: TransferModel | str | Path, threshold: float | None = None,
                 min_complete: int | None = None) -> None:
        self.model = model if isinstance(model, TransferModel) else TransferModel(model)
        self.threshold = self.model.threshold if threshold is None else float(threshold)
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        chosen = self.model.min_complete if min_complete is None else min_complete
        self.min_complete = max(check_min_complete(chosen), 1)

    def __repr__(self) -> str:
        return f"LearnedStopper(threshold={self.threshold:g}, min_complete={self.min_complete})"

    def probability(self, trial: Trial, history: History) -> float | None:
        """P(``trial`` ends better than the best complete trial of ``history``), None with no
        other complete trial."""
        ids = history.config_ids
        row = (len(ids) - 1 if ids[-1] == trial.config_id else list(ids).index(trial.config_id))
        n_observed = np.array(history.n_observed)
        n_observed[row] = trial.tau
        values = history.values
        if not np.array_equal(values[row, : trial.tau], trial.values, equal_nan=True):
            values = np.array(values)
            values[row, : trial.tau] = trial.values
        x = transfer_features(values, n_observed, row, history.direction.sign)
        return None if x is None else float(self.model.predict_proba(x)[0])

    def decide(self, trial: Trial, history: History) -> Decision:
        tau = trial.tau
        epoch = int(history.epochs[tau - 1])
        n = history.n_complete
        if n < self.min_complete or tau >= history.n_epochs:
            return Decision(Action.CONTINUE, epoch=epoch,
                            reason=f"{n} complete trials (stops after {self.min_complete})")
        p = self.probability(trial, history)
        if p is None:
            return Decision(Action.CONTINUE, epoch=epoch, reason="no other complete trial")
        action = Action.STOP if p < self.threshold else Action.CONTINUE
        return Decision(action, epoch=epoch, probability=1.0 - p,
                        reason=f"learned P(final better than the best so far) = {p:.4f} "
                               f"{'<' if action is Action.STOP else '≥'} {self.threshold:g}")
