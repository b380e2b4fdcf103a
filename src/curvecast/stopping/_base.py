"""The interface every early-stopping rule implements, and the read-only view of a search it reads.

A :class:`Stopper` is asked after each trained epoch of a running trial whether to go on:
``decide(trial, history) -> Decision``.  It reads the running :class:`Trial` (its config and its
partial curve) and a :class:`History` (every trial of the study so far, complete, stopped or
running, as filled curves).  Both are read-only; a stopper keeps no state except caches that are a
pure function of what it has been shown (the predictive stopper's fitted predictor).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from curvecast.curves import CurveSet, Direction, fill_diverged

_A = TypeVar("_A", bound=np.ndarray[Any, Any])


class Action(StrEnum):
    """What was decided about a trial after an epoch; stored in a study database as its value.

    A stopper answers CONTINUE or STOP; a scheduler also PAUSEs a job at a rung's budget and
    PROMOTEs a paused trial to a larger one; the runner records a FAILed epoch.
    """

    CONTINUE = "continue"
    STOP = "stop"
    PAUSE = "pause"
    PROMOTE = "promote"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    """A decision about a trial (a stopper's answer, a scheduler's pause or promotion, a failure),
    with the numbers behind it; the one type a study database records.

    Attributes:
        action: CONTINUE or STOP (a stopper's), PAUSE / PROMOTE (a scheduler's), FAIL.
        epoch: the epoch (on the CurveSet's axis) after which the decision was taken.
        mean: predicted value (metric units) at the end of training, y_T, or at ``horizon``;
            None when the rule predicts nothing.
        std: standard deviation of that prediction (metric units), None with ``mean``.
        probability: the probability that drove the decision (e.g. P(y_T worse than the
            reference)), None when the rule has none.
        reason: one line for humans.
        clipped: whether the prediction was outside what the training curves support and was
            clipped back to its bound (a bounded predictor's flag; False without a prediction).
        horizon: the epoch (on the axis) that ``mean`` predicts, when it is not the last (an
            f-Hyperband rung's end); None: the final value.  Not kept in a study database.
    """

    action: Action
    epoch: int
    mean: float | None = None
    std: float | None = None
    probability: float | None = None
    reason: str = ""
    clipped: bool = False
    horizon: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.action, Action):
            raise TypeError(f"a decision's action must be an Action, got {self.action!r}")

    @property
    def stop(self) -> bool:
        """Whether the decision is STOP."""
        return self.action is Action.STOP

    def as_record(self) -> dict[str, Any]:
        """The decision as a study database keeps it (JSON-able; the action as its value;
        ``clipped`` is not kept)."""
        return {"epoch": self.epoch, "action": self.action.value, "mean": self.mean,
                "std": self.std, "probability": self.probability, "reason": self.reason}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Decision:
        """The inverse of :meth:`as_record` (a record without an action is a STOP: the journals
        of studies run before actions were recorded).

        Raises:
            ValueError: an action that is not an :class:`Action` value.
        """
        return cls(Action(record.get("action", Action.STOP.value)), int(record["epoch"]),
                   record.get("mean"), record.get("std"), record.get("probability"),
                   str(record.get("reason") or ""))


@dataclass(frozen=True)
class Trial:
    """The running trial a decision is about.

    Attributes:
        config_id: its id.
        config: its row of the config table (a one-row DataFrame indexed by ``config_id``), the
            shape :meth:`curvecast.predictors.Predictor.predict` takes.
        values: its curve so far, shape ``(tau,)``: the value after each trained epoch 1..τ
            (epoch 0 excluded), diverged values already filled by the CurveSet rule.
    """

    config_id: str
    config: pd.DataFrame
    values: NDArray[np.float64]

    def __post_init__(self) -> None:
        if np.ndim(self.values) != 1 or len(self.values) == 0:
            raise ValueError(f"trial {self.config_id!r}: values must be a non-empty 1-D curve, "
                             f"got shape {np.shape(self.values)}")

    @property
    def tau(self) -> int:
        """Number of epochs trained so far."""
        return len(self.values)


class History:
    """A read-only view of every trial of a study so far (complete, stopped and running).

    It is valid for the call it is given to: the runners build it on their own buffers, which
    they go on filling after ``decide`` returns, so a rule copies what it keeps (``values.copy()``).
    ``configs`` is the runner's table (a copy of the replayed CurveSet's): a rule that needs
    another column adds it to a copy.

    Args:
        values: shape ``(n_trials, n_epochs)``, the value after each trained epoch (epoch 0
            excluded), diverged values filled by the CurveSet rule, NaN beyond what was observed.
            Rows are trials in the order they started (the Ray Tune scheduler's: complete
            trials first, then the others, each in the order they started).
        n_observed: shape ``(n_trials,)``, epochs observed per trial (a trial is complete when
            this equals ``n_epochs``).
        config_ids: the trials' ids, in row order, each once.
        configs: a config table indexed by config id with (at least) a row for every trial.
        epochs: shape ``(n_epochs,)``, the trained epochs of the budget axis.
        metric: the metric's name.
        direction: whether larger or smaller values are better.
        study: an opaque token naming the study; caches of fitted models are keyed by it.
        diverged: shape ``(n_trials, n_epochs)``, which observed values were reported NaN or
            ±inf (and filled); None: none.  :meth:`from_curves` and :meth:`from_matrix` set it.
        trials_started: the study's trials started so far, the running one included, where it
            counts more than the rows (an Optuna study's failed trials and those that have not
            reported yet; what ``explore_trials`` counts); None: ``n_trials``.
    """

    __slots__ = ("_complete", "config_ids", "configs", "direction", "diverged", "epochs",
                 "metric", "n_observed", "study", "trials_started", "values")

    def __init__(self, values: NDArray[np.float64], n_observed: NDArray[np.int64],
                 config_ids: Sequence[str], configs: pd.DataFrame, epochs: NDArray[np.int64],
                 metric: str, direction: Direction, study: Hashable = "",
                 diverged: NDArray[np.bool_] | None = None) -> None:
        values = np.asarray(values, dtype=np.float64)
        n_observed = np.asarray(n_observed, dtype=np.int64)
        epochs = np.asarray(epochs, dtype=np.int64)
        if epochs.ndim != 1 or (epochs.size and (epochs[0] < 0 or (np.diff(epochs) <= 0).any())):
            # as a CurveSet's: a rule reads the axis by position (τ epochs trained: epochs[τ-1])
            raise ValueError("epochs (the budget axis) must be non-negative and strictly "
                             f"increasing, got {epochs.tolist()}")
        if values.ndim != 2 or values.shape[1] != epochs.shape[0]:
            raise ValueError(f"values must have shape (n_trials, {epochs.shape[0]}), "
                             f"got {values.shape}")
        if n_observed.shape != (values.shape[0],) or len(config_ids) != values.shape[0]:
            raise ValueError(f"{values.shape[0]} trials but n_observed has shape "
                             f"{n_observed.shape} and {len(config_ids)} config ids")
        if len(set(config_ids)) != len(config_ids):
            twice = next(i for i, n in Counter(config_ids).items() if n > 1)
            raise ValueError(f"config ids must be unique (one row per trial), got {twice!r} "
                             "twice")
        if n_observed.size and not 0 <= n_observed.min() <= n_observed.max() <= epochs.shape[0]:
            raise ValueError(f"n_observed must be in 0..{epochs.shape[0]} (the epochs), got "
                             f"{n_observed.min()}..{n_observed.max()}")
        self.values: NDArray[np.float64] = _read_only(values)
        self.n_observed: NDArray[np.int64] = _read_only(n_observed)
        self.epochs: NDArray[np.int64] = _read_only(epochs)
        self.config_ids: Sequence[str] = config_ids
        self.configs: pd.DataFrame = configs
        self.metric: str = metric
        self.direction: Direction = Direction.parse(direction)
        self.study: Hashable = study
        self.trials_started: int | None = None
        self._complete: NDArray[np.bool_] = _read_only(self.n_observed >= self.n_epochs)
        if diverged is not None:
            diverged = np.asarray(diverged, dtype=bool)
            if diverged.shape != values.shape:
                raise ValueError(f"diverged must have the values' shape {values.shape}, got "
                                 f"{diverged.shape}")
        self.diverged: NDArray[np.bool_] | None = (
            None if diverged is None or not diverged.any() else _read_only(diverged))

    @classmethod
    def from_curves(cls, curves: Sequence[Sequence[float] | NDArray[np.float64]],
                    config_ids: Sequence[str], configs: pd.DataFrame, epochs: NDArray[np.int64],
                    metric: str, direction: Direction, study: Hashable = "", *,
                    diverged_value: float | None = None) -> History:
        """The study view every runner builds (replay, live search, the Optuna pruner, the Ray
        Tune scheduler): one row per trial from its curve as reported, diverged values filled by
        the one rule (:func:`curvecast.curves.fill_diverged` over every value in the view).

        Args:
            curves: per trial, in start order, the values reported after epochs 1..k
                (k ≤ ``len(epochs)``; longer curves are cut), NaN/±inf for a diverged run.
            config_ids, configs, epochs, metric, direction, study: as in the constructor.
            diverged_value: the value the data states for a diverged run (default: the worst
                finite value in the view).
        """
        epochs = np.asarray(epochs, dtype=np.int64)
        T = int(epochs.shape[0])
        raw = np.full((len(curves), T), np.nan)
        n_observed = np.zeros(len(curves), dtype=np.int64)
        for i, curve in enumerate(curves):
            k = min(len(curve), T)
            raw[i, :k] = np.asarray(curve, dtype=np.float64)[:k]
            n_observed[i] = k
        return cls.from_matrix(raw, n_observed, config_ids, configs, epochs, metric, direction,
                               study, diverged_value=diverged_value)

    @classmethod
    def from_matrix(cls, raw: NDArray[np.float64], n_observed: NDArray[np.int64],
                    config_ids: Sequence[str], configs: pd.DataFrame, epochs: NDArray[np.int64],
                    metric: str, direction: Direction, study: Hashable = "", *,
                    diverged_value: float | None = None) -> History:
        """:meth:`from_curves` for curves already laid out as a matrix (a runner that keeps
        its finished trials' rows between decisions): ``raw``, shape ``(n_trials, n_epochs)``,
        the values as reported (NaN/±inf for a diverged run; anything beyond ``n_observed``
        ignored), ``n_observed``, shape ``(n_trials,)``.  The same one fill rule."""
        epochs = np.asarray(epochs, dtype=np.int64)
        n_observed = np.asarray(n_observed, dtype=np.int64)
        observed = np.arange(epochs.shape[0])[None, :] < n_observed[:, None]
        raw = np.where(observed, np.asarray(raw, dtype=np.float64), np.nan)
        filled = fill_diverged(raw, observed, Direction.parse(direction), diverged_value)
        return cls(filled, n_observed, config_ids, configs, epochs, metric, direction, study,
                   diverged=observed & ~np.isfinite(raw))

    def trial(self, row: int) -> Trial:
        """Row ``row``'s trial as a stopper reads it: its config and its curve so far (filled).

        Raises:
            ValueError: the trial has no observed epoch, or no row in the config table.
        """
        config_id = self.config_ids[row]
        # a one-row slice is ~5x cheaper than .loc[[id]] (this runs on every decision); the
        # config table usually lists the trials in row order
        index = self.configs.index
        if row < len(index) and index[row] == config_id:
            at: Any = row
        elif config_id in index:
            at = index.get_loc(config_id)
        else:
            raise ValueError(f"trial {config_id!r} has no row in the history's config table "
                             "(index it by the trials' config ids)")
        config = (self.configs.iloc[at: at + 1] if isinstance(at, int)
                  else self.configs.loc[[config_id]])
        return Trial(config_id, config, np.array(self.values[row, : int(self.n_observed[row])]))

    def diverged_last(self, row: int) -> bool:
        """Whether row ``row``'s trial's last observed value was reported NaN or ±inf (a
        diverged run, its value filled)."""
        tau = int(self.n_observed[row])
        return bool(self.diverged is not None and tau > 0 and self.diverged[row, tau - 1])

    @property
    def n_trials(self) -> int:
        """The trials in this view (its rows: started, as far as the view knows them)."""
        return int(self.values.shape[0])

    @property
    def trials_so_far(self) -> int:
        """The study's trials started so far, the running one included: ``trials_started``
        when set, else ``n_trials`` (what ``explore_trials`` counts)."""
        return self.n_trials if self.trials_started is None else self.trials_started

    @property
    def n_epochs(self) -> int:
        """T: the epochs of full training."""
        return int(self.epochs.shape[0])

    @property
    def complete(self) -> NDArray[np.bool_]:
        """Shape ``(n_trials,)``: whether each trial was trained to the final epoch."""
        return self._complete

    @property
    def n_complete(self) -> int:
        """Trials trained to the final epoch."""
        return int(self._complete.sum())

    def final_values(self) -> NDArray[np.float64]:
        """Final values of the complete trials, shape ``(n_complete,)``, in start order."""
        return np.array(self.values[self._complete, -1])

    def completed(self) -> CurveSet:
        """The complete trials as a CurveSet (built on each call: meant for fitting models)."""
        rows = np.flatnonzero(self._complete)
        ids = [self.config_ids[int(r)] for r in rows]
        missing = [i for i in ids if i not in self.configs.index]
        if missing:
            raise ValueError(f"{len(missing)} complete trial(s), e.g. {missing[0]!r}, have no row "
                             "in the history's config table (index it by the trials' config ids)")
        values = self.values[rows]
        return CurveSet(values=values, observed=np.ones(values.shape, dtype=bool),
                        epochs=self.epochs, metric=self.metric, direction=self.direction,
                        configs=self.configs.loc[ids])


def _read_only(array: _A) -> _A:
    view = array.view()
    view.flags.writeable = False
    return view


class Stopper(ABC):
    """Decides, after each trained epoch of a running trial, whether to stop it."""

    @abstractmethod
    def decide(self, trial: Trial, history: History) -> Decision:
        """CONTINUE or STOP ``trial`` (observed for ``trial.tau`` epochs) given ``history``.

        ``history`` holds the running trial too.  Called for 1 ≤ τ < T only: a trial at the final
        epoch is complete.
        """


def check_count(name: str, value: object, minimum: int | None = 0) -> int:
    """Validate a whole-number argument ``name`` (an int, or a float with no fraction) of at least
    ``minimum`` (None: any), and return it as an int.

    Raises:
        TypeError: not a number (a bool, a string, None).
        ValueError: NaN, infinite, fractional or below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if not (math.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def checked_decision(decision: object, stopper: object) -> Decision:
    """``decision``, as a rule's ``decide`` returned it, refused unless it is a
    :class:`Decision` to CONTINUE or STOP with a finite (or no) mean and σ and a (or no)
    probability: what every runner asks of a rule, a user's own included.  Its numbers are
    returned as Python's (a rule's numpy scalars, ``np.float32`` or an epoch read from
    ``history.epochs``, are stored and saved as JSON as they are: a study database kept an
    ``np.float32`` mean as bytes, and then refused to be read).

    Raises:
        TypeError: not a Decision (naming the rule and what it returned).
        ValueError: another action (PAUSE, PROMOTE and FAIL are the schedulers'), a mean or
            σ that is not a finite number, or a probability that is not a number.
    """
    if not isinstance(decision, Decision):
        raise TypeError(f"{type(stopper).__name__}.decide must return a curvecast Decision, got "
                        f"{decision!r}")
    if decision.action not in (Action.CONTINUE, Action.STOP):
        raise ValueError(f"{type(stopper).__name__}.decide returned {decision.action.value!r}: a stopping "
                         "rule continues or stops a trial")
    plain: dict[str, Any] = {}
    for name in ("mean", "std", "probability"):
        value = getattr(decision, name)
        if value is None:
            continue
        real = isinstance(value, int | float | np.integer | np.floating)
        if not real or (name != "probability" and not math.isfinite(value)):
            raise ValueError(f"{type(stopper).__name__}.decide returned a Decision whose {name} is "
                             f"{value!r}, not a {'' if name == 'probability' else 'finite '}"
                             "number or None")
        if type(value) is not float:
            plain[name] = float(value)
    if isinstance(decision.epoch, np.integer):
        plain["epoch"] = int(decision.epoch)
    return replace(decision, **plain) if plain else decision


def trial_epoch(trial: Trial, history: History) -> int:
    """The epoch (on ``history``'s budget axis) of ``trial``'s last value: every rule's first
    step in ``decide``.

    Raises:
        ValueError: the trial has no value, or more values than the axis has epochs.
    """
    tau = trial.tau
    if not 1 <= tau <= history.n_epochs:
        raise ValueError(f"trial {trial.config_id!r} has {tau} values; the study's budget axis "
                         f"has {history.n_epochs} epochs")
    return int(history.epochs[tau - 1])


def check_number(name: str, value: object) -> float:
    """Validate a real-number argument ``name`` (not a bool or a string) and return it as a float.

    Raises:
        TypeError: not a number.
        ValueError: NaN or infinite.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_eta(eta: object, name: str = "eta (η)") -> float:
    """Validate a reduction factor η (ASHA's, Hyperband's): a finite number > 1, as a float.
    ``name`` is how the message names it (``--eta`` for the CLI).

    Raises:
        TypeError: not a number.
        ValueError: NaN, infinite or ≤ 1.
    """
    if isinstance(eta, bool) or not isinstance(eta, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {eta!r}")
    if not 1 < eta < math.inf:
        raise ValueError(f"{name} must be a finite number > 1, got {eta}")
    return float(eta)


def check_delta(delta: object, name: str = "delta (Δ)") -> float:
    """Validate a predictive rule's threshold Δ: a number in (0, 1], as a float (``name`` is how
    the message names it: ``--delta (Δ)`` for the CLI).  Δ = 1 is allowed and stops no trial on
    a prediction (:func:`reaches_delta`).

    Raises:
        TypeError: not a number.
        ValueError: NaN or outside (0, 1].
    """
    if isinstance(delta, bool) or not isinstance(delta, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number in (0, 1], got {delta!r}")
    if not 0.0 < delta <= 1.0:  # also refuses NaN
        raise ValueError(f"{name} must be in (0, 1], got {delta}")
    return float(delta)


def reaches_delta(probability: float, delta: float) -> bool:
    """Whether P(ending worse than the reference) = ``probability`` reaches the threshold Δ of a
    predictive rule, so that the trial is stopped: ``probability ≥ Δ``, and never at Δ = 1.

    A predictive distribution (the paper's Gaussian, the chain's Student-t) never puts all its
    mass on the worse side: P = 1 is not certainty but float rounding, which Φ(z) reaches from
    z ≈ 8.3 on, so ``P ≥ 1`` stopped a run some 8σ short of the reference.  Δ = 1 means "stop
    only when certain", and no prediction is; a diverged run, which counts as the worst value
    from then on, is still stopped (no prediction decides it).
    """
    return delta < 1.0 and probability >= delta


def versus_delta(probability: float, delta: float) -> str:
    """How a decision's reason compares ``probability`` with Δ: `` ≥ Δ = 0.99`` (stopped),
    `` < Δ = 0.99``, or, at Δ = 1, that no prediction stops a trial (:func:`reaches_delta`)."""
    if delta >= 1.0:
        return f" vs Δ = {delta:g}: no prediction stops a trial"
    return f" {'≥' if reaches_delta(probability, delta) else '<'} Δ = {delta:g}"


def check_min_complete(min_complete: int) -> int:
    """Validate a ``min_complete`` argument (complete trials needed before any stop)."""
    return check_count("min_complete", min_complete)


def check_share(name: str, value: float | None) -> float | None:
    """Validate a share argument — ``final_stretch`` (the last share of training in which nothing
    is stopped) or ``explore`` (the share of would-be stops let run on): None, or in [0, 1)."""
    if value is not None and not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number in [0, 1) or None, got {value!r}")
    if value is not None and (isinstance(value, bool) or not 0.0 <= value < 1.0):
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value
