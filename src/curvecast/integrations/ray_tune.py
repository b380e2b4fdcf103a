"""curvecast's predictive early stopping as a Ray Tune scheduler (extra ``curvecast[ray]``).

:class:`CurvecastScheduler` keeps every trial's reported metric by ``training_iteration`` (the
epochs) and stops a running trial by the paper's rule (:class:`curvecast.stopping.PredictiveStopper`,
Baker et al. 2017 §3.2): stop at epoch τ when ``P(final value worse than the best so far − δ) ≥
Δ``.  At its defaults it judges from the 5th trial that reached ``max_t`` with curvecast's default
predictor (:class:`~curvecast.predictors.HorizonChain`), which learns from every trial's curve as
far as it was observed — stopped and running trials too — and is refitted in closed form when
they change; a predictor fitted on complete curves only (``predictor=SRM.paper()``) is fitted
once per batch of ``refit_every`` new completions, cached — never per result.  The metric and
mode are the ones the ``Tuner`` is given (``TuneConfig(metric=..., mode=...)``) or the
constructor's.  NaN, infinite or None reports (diverged runs) count as the worst value
(curvecast's one rule).  A trial that ends before ``max_t`` without being stopped is not
complete, and reports before epoch 1 or without ``time_attr`` are not used: each is warned
about once.  A trial that skips epochs has them filled linearly between its reports, as
curvecast's importers and Optuna pruner fill them (one that reported fewer than half the epochs
up to its last is read up to its first gap); warned once too.

Why a trial was stopped: each decision with a prediction is logged (logger
``curvecast.integrations.ray_tune``, INFO) and kept in :attr:`CurvecastScheduler.decisions_`; add
:meth:`CurvecastScheduler.callback` to ``RunConfig(callbacks=[...])`` to write it into the
trial's results too (``curvecast/predicted``, ``curvecast/std``, ``curvecast/probability``,
``curvecast/stopped``, ``curvecast/n_complete``), where ``ResultGrid`` and the result files show it.

State survives a restore (Ray's own schedulers lose theirs, ray#30838): :meth:`save` /
:meth:`restore` write and read the curves seen and the completed trials as JSON, and inside a
``Tuner`` run the scheduler saves them after every finished trial into the experiment directory
(``curvecast_scheduler.json``, synced with Tune's own experiment state), and reloads them when
``Tuner.restore`` re-adds the experiment's trials.  The fitted predictor is not stored: it is a
pure function of the completed curves, refitted (deterministically, under the predictor's seed)
on the first decision after a restore.  A trial that resumes from its own checkpoint at a later
epoch than the state file knows has its earlier epochs read from its ``result.json`` (Tune's
record of its reports).  One scheduler serves one Tune run: given to a second ``Tuner`` (a
notebook cell run again), it starts afresh with a warning, taking that run's metric and mode;
``Tuner.restore`` of that second run restores its own state.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import uuid
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from curvecast import defaults
from curvecast.curves import CurveSet, Direction, check_diverged_value
from curvecast.curves.atomic_write import write_text_atomically
from curvecast.datasets.config_rows import config_row, flatten
from curvecast.datasets.priors import check_prior_epochs, check_prior_metric
from curvecast.datasets.step_axis import along_axis
from curvecast.integrations._row_buffer import RowBuffer
from curvecast.predictors import Predictor
from curvecast.stopping import (
    DEFAULT_DELTA,
    Decision,
    History,
    PredictiveStopper,
    Stopper,
    Trial,
    check_count,
    checked_decision,
)

try:
    from ray.tune.callback import Callback
    from ray.tune.experiment import Trial as TuneTrial
    from ray.tune.result import DEFAULT_METRIC
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler
except ImportError as error:  # pragma: no cover - exercised without ray installed
    raise ImportError("curvecast.integrations.ray_tune needs Ray Tune: "
                      "pip install 'curvecast[ray]'") from error

logger = logging.getLogger(__name__)

#: File name of the scheduler's state inside a Tune experiment directory.
STATE_FILE = "curvecast_scheduler.json"
_KEY = "curvecast/"
_FORMAT = 1


class CurvecastScheduler(FIFOScheduler):
    """Stop Ray Tune trials by predicted final value (Baker et al. 2017) — see the module docstring.

    Trials run in submission order (FIFO); each should report ``metric`` once per epoch with
    ``training_iteration`` 1, 2, …, ``max_t`` (skipped epochs are filled: see the module
    docstring).  A trial that reaches ``max_t`` is stopped there
    (it is complete) and its curve joins the training set.

    Args:
        max_t: T, the epochs of full training (``training_iteration`` of the last report).
        metric: the metric to read (default: the one given to the ``Tuner``).
        mode: ``"max"`` or ``"min"`` (default: the one given to the ``Tuner``).
        delta: Δ in (0, 1]: stop when the probability of ending worse than the reference is at
            least this (the paper: 0.99 for architecture search); 1 stops no trial on a
            prediction.
        margin: δ ≥ 0 (metric units): the reference is the best final value moved by δ toward
            worse, so near-best trials finish.
        keep_top_k: compare with the k-th best final value instead (keeps the top k).
        min_complete: complete trials (prior curves included) before anything is stopped (the
            paper: 100; default 5, like Optuna's ``MedianPruner``; at least 5).
        refit_every: refit the predictor after this many further completions (None: fit once).
        grace_period: never stop before this epoch.
        final_stretch: never stop in this last share of ``max_t``, in [0, 1) (None: the
            predictive rule's default; see :class:`~curvecast.stopping.PredictiveStopper`).
        explore: the share of the trials the rule would stop that it lets run on to twice
            their epochs, so the predictor learns what becomes of them (None: the predictive
            rule's default; see :class:`~curvecast.stopping.PredictiveStopper`).
        explore_trials: explore only while the study has at most this many trials (None:
            every trial; default: ``defaults.EXPLORE_TRIALS``).
        predictor: an unfitted curvecast predictor (default: ``HorizonChain()``, which also
            learns from stopped and running trials as far as they were observed).
        prior: recorded curves of the same workload (a warm start, e.g.
            ``curvecast.from_ray("~/ray_results/last", "acc", "max")``): fitted on together with
            the completed trials, and counted toward ``min_complete``.  Refused (``ValueError``)
            when its metric or direction is not the scheduler's, as soon as both are known (here
            or when the ``Tuner`` passes them), before any trial starts.  Its config table should
            have
            the columns the trials' configs (plus ``describe``) give.
        describe: maps a trial's config to extra config-table columns (e.g. a workload's
            ``describe``, giving ``n_params`` and ``n_layers`` for the architecture features).
        time_attr: the result field that counts epochs.
        stopper: the curvecast stopper to decide with, settings and prior included — any
            :class:`~curvecast.stopping.Stopper` (median, ASHA, …) — (default: a
            :class:`~curvecast.stopping.PredictiveStopper` built from ``delta`` … ``prior``,
            which are then not used).
        diverged_value: what a NaN/inf report counts as (default: the worst value reported so
            far, curvecast's one rule).

    Attributes:
        decisions_: trial id → the last decision with a prediction taken on it (a dict of
            ``epoch``, ``predicted``, ``std``, ``probability``, ``stopped``, ``reason`` and
            ``n_complete``, the complete curves — prior included — the prediction was fitted on).
        n_stopped_: trials stopped early so far.
    """

    def __init__(self, max_t: int, *, metric: str | None = None, mode: str | None = None,
                 delta: float = DEFAULT_DELTA, margin: float = 0.0, keep_top_k: int = 1,
                 min_complete: int = defaults.MIN_COMPLETE, refit_every: int | None = defaults.REFIT_EVERY,
                 grace_period: int = 1, final_stretch: float | None = None,
                 explore: float | None = None,
                 explore_trials: int | None = defaults.EXPLORE_TRIALS,
                 predictor: Predictor | None = None, prior: CurveSet | None = None,
                 describe: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
                 time_attr: str = "training_iteration", stopper: Stopper | None = None,
                 diverged_value: float | None = None) -> None:
        super().__init__()
        if check_count("max_t", max_t, None) < 2:
            raise ValueError(f"max_t must be >= 2 (epochs of full training), got {max_t}")
        for name, text in (("metric", metric), ("time_attr", time_attr)):
            if text is not None and (not isinstance(text, str) or not text.strip()):
                raise TypeError(f"{name} must be the name of a reported result (a non-empty "
                                f"string), got {text!r}")
        if describe is not None and not callable(describe):
            raise TypeError(f"describe must be a function of a trial's config returning more "
                            f"config columns (e.g. its n_params), got {describe!r}")
        if stopper is not None and not isinstance(stopper, Stopper):
            raise TypeError(f"stopper must be a curvecast Stopper such as MedianRule() or ASHA(), "
                            f"got {stopper!r}")
        if check_count("grace_period", grace_period, 1) >= max_t:
            raise ValueError(f"grace_period={grace_period} leaves nothing to judge before "
                             f"max_t={max_t}: it must be below max_t")
        if stopper is None and check_count("min_complete", min_complete) < 5:
            raise ValueError(f"min_complete must be >= 5 (the predictor needs 5 curves), got "
                             f"{min_complete}")
        diverged_value = check_diverged_value(diverged_value)
        if mode is not None and mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.max_t = int(max_t)
        self.grace_period = int(grace_period)
        self.time_attr = time_attr
        self.describe = describe
        self.stopper = stopper if stopper is not None else PredictiveStopper(
            delta=delta, margin=margin, keep_top_k=keep_top_k, min_complete=min_complete,
            refit_every=refit_every, predictor=predictor, prior=prior,
            final_stretch=final_stretch, explore=explore, explore_trials=explore_trials)
        self.diverged_value = diverged_value
        self._metric = metric
        self._mode = mode
        self.prior = prior if stopper is None else getattr(stopper, "prior", None)
        if self.prior is not None:
            check_prior_epochs(self.prior, self.max_t, what="max_t is",
                               whose="the epochs the trials train")
            if self.prior.has_untrained_epoch:
                warnings.warn("CurvecastScheduler: the prior has an epoch 0, taken as the "
                              "untrained network and left out (Tune counts trained epochs from "
                              "1, as training_iteration does); if the prior counts trained "
                              "epochs from 0, add 1 to its epochs", UserWarning, stacklevel=2)
        self._check_prior()
        self._warned: set[str] = set()  # the kinds of warning given once (_warn_once)
        self._study = uuid.uuid4().hex
        self._curves: dict[str, dict[int, float]] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._completed: list[str] = []
        # caches of the study view, so a decision does not rebuild every curve and config row:
        # a trial's contiguous curve (dropped when the trial reports), the config table (dropped
        # when a trial is added: configs are only ever added)
        self._prefix: dict[str, list[float]] = {}
        self._table: pd.DataFrame | None = None
        # every known trial's contiguous curve as a row of one matrix (NaN-padded; the order of
        # ``_curves``), its observed lengths and ids, in buffers grown by doubling; rows of
        # trials that reported since are rewritten on the next decision, and a trial added gets
        # a new row
        self._view: tuple[RowBuffer, list[str], dict[str, int]] | None = None
        self._dirty: set[str] = set()
        self.decisions_: dict[str, dict[str, Any]] = {}
        self.n_stopped_ = 0
        self._state_dir: str | None = None
        self._experiment: str | None = None  # the Tune experiment's name, from its first trial
        self._checked_state_dir = False
        #: the metric and mode given to the constructor (a new Tune run starts from them)
        self._given = (metric, mode)
        #: trials whose result.json gave no earlier epoch (not read again; a copy reads anew)
        self._nothing_earlier: set[str] = set()

    # ------------------------------------------------------------------ Tune's interface
    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if self._checked_state_dir:  # this object already served a Tune run: a new one starts
            warnings.warn(f"CurvecastScheduler: a new Tune run after experiment "
                          f"{self._experiment!r}: the scheduler starts afresh (give each "
                          "Tuner a scheduler of its own)", UserWarning, stacklevel=2)
            logger.warning("curvecast: a new Tune run: the scheduler starts afresh")
            self._start_afresh()
        elif self.__dict__.get("_experiment") is not None:
            # a copy pickled after this scheduler served a Tune run: the tuner.pkl of a second
            # Tuner given the same scheduler, which Tuner.restore reads.  What it learnt is the
            # earlier run's, and so are its metric and mode (Ray refused the run's own: "already
            # instantiated with their own metric and mode"); the run reloads its own state
            logger.info("curvecast: a scheduler that served experiment %r joins a Tune run: "
                        "it starts from the run's own state", self._experiment)
            self._start_afresh()
        if (self._metric and metric) or (self._mode and mode):
            return False
        if metric:
            self._metric = metric
        if mode:
            if mode not in ("min", "max"):
                raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
            self._mode = mode
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC
        self._check_prior()
        return True

    def _check_prior(self) -> None:
        if self.prior is not None and self._metric and self._mode:
            check_prior_metric(self.prior, metric=self._metric, direction=self.direction,
                        target="the Tune run")

    @property
    def direction(self) -> Direction:
        """The metric's direction (from ``mode``)."""
        if self._mode is None:
            raise ValueError("CurvecastScheduler needs a mode: pass mode='max' or 'min' to it or "
                             "to tune.TuneConfig")
        return Direction.MAXIMIZE if self._mode == "max" else Direction.MINIMIZE

    def on_trial_add(self, tune_controller: Any, trial: TuneTrial) -> None:
        if not self._metric or not self._mode:
            raise ValueError("CurvecastScheduler has no metric or mode: pass them to it or to "
                             "tune.TuneConfig(metric=..., mode=...)")
        self._find_state_dir(trial)
        tid = str(trial.trial_id)
        self._configs[tid] = self._encode(trial.config)
        self._curves.setdefault(tid, {})
        self._changed(tid)

    def on_trial_result(self, tune_controller: Any, trial: TuneTrial,
                        result: dict[str, Any]) -> str:
        tid = str(trial.trial_id)
        if self._metric not in result or self.time_attr not in result:
            if self._metric in result:  # a time_attr the trainable does not report (a typo)
                self._warn_once("no time_attr", f"trial {tid} reported {self._metric} without "
                                f"{self.time_attr!r} (CurvecastScheduler's time_attr): such "
                                "reports are not used, so nothing is judged; report the epoch "
                                f"as {self.time_attr!r} with the metric, or pass the epoch "
                                "count the trainable reports as time_attr (training_iteration, "
                                "which Tune adds, by default)")
            return TrialScheduler.CONTINUE
        counted = result[self.time_attr]
        if _whole(counted) is None:
            self._warn_once("time_attr", f"trial {tid} reported {self.time_attr}={counted!r}: "
                            "CurvecastScheduler's time_attr counts epochs in whole numbers "
                            "(training_iteration, or an epoch counter of your own), not seconds; "
                            "such reports are not used, so nothing is judged")
            return TrialScheduler.CONTINUE
        epoch = int(counted)
        if epoch < 1:
            self._warn_once("epoch 0", f"trial {tid} reported {self.time_attr}={epoch}: "
                            "CurvecastScheduler counts epochs from 1 (training_iteration does), "
                            "so reports before epoch 1 are not used; report once per epoch "
                            "after it, or pass time_attr='training_iteration'")
            return TrialScheduler.CONTINUE
        if tid not in self._configs:
            self._configs[tid] = self._encode(trial.config)
        self._changed(tid)
        curve = self._curves.setdefault(tid, {})
        for later in [e for e in curve if e >= epoch]:  # a restarted trial reports again from 1
            del curve[later]
        unread = self.__dict__.setdefault("_nothing_earlier", set())  # (pickled before it)
        if epoch > 1 and epoch - 1 not in curve and tid not in unread:
            self._fill_from_results(trial, tid, curve, epoch)  # resumed after a restore?
        curve[epoch] = self._value(tid, result[self._metric])
        if epoch >= self.max_t:  # complete: trained for max_t epochs
            if tid not in self._completed and self._is_complete(tid):
                self._completed.append(tid)
            # saved in on_trial_complete, which Tune calls for a running trial it stops (a
            # save here too wrote the whole state twice per complete trial)
            return TrialScheduler.STOP
        if epoch < self.grace_period:
            return TrialScheduler.CONTINUE
        decision = self.decide(tid)
        if decision is None or (decision.mean is None and not decision.stop):
            return TrialScheduler.CONTINUE
        # (plain Python numbers, as checked_decision hands them: a rule's numpy scalars made the
        # state file's json.dumps fail at the next completion, in the middle of the Tune run)
        record = {"epoch": decision.epoch, "predicted": decision.mean,
                  "std": decision.std, "probability": decision.probability,
                  "stopped": decision.stop,
                  "n_complete": self.n_complete + int(getattr(self.stopper, "n_prior", 0)),
                  "reason": decision.reason}
        self.decisions_[tid] = record
        if decision.stop:
            self.n_stopped_ += 1
            logger.info("curvecast: stop trial %s at epoch %d: %s", tid, decision.epoch,
                        decision.reason)
            return TrialScheduler.STOP
        logger.debug("curvecast: continue trial %s at epoch %d: %s", tid, decision.epoch,
                     decision.reason)
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller: Any, trial: TuneTrial,
                          result: dict[str, Any]) -> None:
        tid = str(trial.trial_id)
        if result and self._metric in result and self.time_attr in result:
            epoch = _whole(result[self.time_attr])
            if epoch is not None and 1 <= epoch <= self.max_t:
                self._curves.setdefault(tid, {})[epoch] = self._value(tid, result[self._metric])
                self._changed(tid)
        if tid not in self._completed and self._is_complete(tid):
            self._completed.append(tid)
        if (tid not in self._completed and self._curves.get(tid)
                and not self.decisions_.get(tid, {}).get("stopped")):
            reported = sorted(self._curves[tid])
            if len(self._curve(tid)) < len(reported):  # e.g. 5, 10, …, 50: not 1, 2, 3, …
                shown = ", ".join(map(str, reported[:3])) + (", …" if len(reported) > 3 else "")
                self._warn_once("short", f"trial {tid} reported {self.time_attr} {shown}: "
                                "curvecast reads one report per epoch from 1 to max_t, and a "
                                "trial that reported fewer than half the epochs up to its last "
                                f"is read up to its first gap ({len(self._curve(tid))} of "
                                f"max_t={self.max_t}); report every epoch (or count "
                                f"{self.time_attr} in the units reported, with max_t to match)")
            else:
                self._warn_once("short", f"trial {tid} ended after {len(self._curve(tid))} of "
                                f"max_t={self.max_t} epochs without being stopped: it is not "
                                "complete, and nothing is judged until min_complete trials are; "
                                "set max_t to the epochs the trainable reports")
        self._autosave()

    def _fill_from_results(self, trial: TuneTrial, tid: str, curve: dict[int, float],
                           epoch: int) -> None:
        """Fill the epochs before ``epoch`` that ``curve`` lacks from the trial's own
        ``result.json`` (Tune's record of every report): a trial resumed from its checkpoint
        after ``Tuner.restore`` goes on from there, while the scheduler's state was saved when
        a trial last completed.  Each line is flattened as Tune flattens a report for its
        schedulers (``{"val": {"acc": …}}`` is ``val/acc``).  The latest attempt's reports are
        taken (a trial that restarted from scratch reported from epoch 1 again in the same
        file); lines that are not a report of the metric are skipped.  A trial whose file gives
        no earlier epoch is not read again (one that reports every k-th epoch would otherwise be
        read at every report)."""
        local = getattr(trial, "local_path", None)
        path = None if local is None else Path(str(local), "result.json")
        try:
            lines = [] if path is None else path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        latest: dict[int, float] = {}  # the reports of the trial's latest attempt, by epoch
        for line in lines:
            try:
                report = flatten(json.loads(line))  # Tune writes it nested, reports flattened
            except (json.JSONDecodeError, ValueError, AttributeError):
                continue
            if self._metric not in report:
                continue
            earlier = _whole(report.get(self.time_attr))
            if earlier is None or not 1 <= earlier < epoch:
                continue
            if latest and earlier <= next(reversed(latest)):  # a restart reports from 1 again
                for later in [e for e in latest if e >= earlier]:  # (a pass per restart, not
                    del latest[later]  # per line: quadratic)
            try:
                latest[earlier] = self._value(tid, report[self._metric])
            except ValueError:
                continue
        filled = 0
        for earlier, value in latest.items():  # Tune's record wins over the saved state's
            filled += earlier not in curve
            curve[earlier] = value
        if filled:
            logger.info("curvecast: trial %s resumed at epoch %d: %d earlier epochs read from %s",
                        tid, epoch, filled, path)
        else:  # its file holds no earlier epoch (a trial that reports every k-th): not read again
            self._nothing_earlier.add(tid)

    def _value(self, tid: str, value: Any) -> float:
        """A reported metric as a float: None counts as NaN (a diverged report, curvecast's one
        rule: the worst value, or ``diverged_value``); anything else not a number is refused."""
        if value is None:
            return math.nan
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"trial {tid} reported {self._metric}={value!r}: CurvecastScheduler "
                             "needs a number (NaN, inf or None for a diverged run)") from None

    def _warn_once(self, kind: str, message: str) -> None:
        """Warn (``warnings``, and the module's logger) once per scheduler for each ``kind``."""
        warned = self.__dict__.setdefault("_warned", set())  # (a scheduler pickled before it)
        if kind in warned:
            return
        warned.add(kind)
        logger.warning("curvecast: %s", message)
        warnings.warn(message, UserWarning, stacklevel=3)

    def on_trial_remove(self, tune_controller: Any, trial: TuneTrial) -> None:
        pass

    def on_trial_error(self, tune_controller: Any, trial: TuneTrial) -> None:
        # its partial curve is kept (it teaches the early links); saved, as a completion is,
        # so that a restore without restart_errored still has it
        self._autosave()

    def debug_string(self) -> str:
        return (f"Using CurvecastScheduler: {len(self._completed)} complete trials, "
                f"{self.n_stopped_} stopped early ({self.stopper!r}).")

    # ------------------------------------------------------------------ decisions
    @property
    def n_complete(self) -> int:
        """Trials that reported all ``max_t`` epochs."""
        return len(self._completed)

    def curve(self, trial_id: str) -> list[float]:
        """A trial's curve so far: its values at epochs 1, 2, … up to its last report, skipped
        epochs filled as the importers and the Optuna pruner fill them
        (:func:`~curvecast.datasets.step_axis.along_axis`: linearly between its reports; up to
        its first gap when it reported fewer than half the epochs up to its last)."""
        return list(self._curve(str(trial_id)))

    def _curve(self, tid: str) -> list[float]:
        """:meth:`curve`, cached until the trial reports again (not to be modified)."""
        cached = self._prefix.get(tid)
        if cached is not None:
            return cached
        curve = self._curves.get(tid, {})
        out = []
        for epoch in range(1, self.max_t + 1):
            if epoch not in curve:
                break
            out.append(curve[epoch])
        if len(out) < len(curve):  # reports after a gap: judged on them, not on the epochs
            # before it (a trial was stopped at epoch 7 by its epochs 1-3, a skipped epoch 4
            # hiding that it had overtaken every complete trial)
            reported = {e: v for e, v in curve.items() if e <= self.max_t}
            out, filled, _ = along_axis(range(1, self.max_t + 1), reported)
            if filled:
                skipped = [str(e) for e in range(1, len(out) + 1) if e not in curve]
                shown = ", ".join(skipped[:3]) + (", …" if len(skipped) > 3 else "")
                self._warn_once("filled", f"trial {tid} skipped {self.time_attr} {shown}: a "
                                "trial's skipped epochs are filled linearly between its reports "
                                "(and with its first report before it), as curvecast's importers "
                                "and Optuna pruner fill them; report the metric every epoch")
        self._prefix[tid] = out
        return out

    def _changed(self, tid: str) -> None:
        """Forget the cached curve of ``tid``, which reported (or was added)."""
        self._prefix.pop(tid, None)
        self._dirty.add(tid)

    def _matrix(self) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, int]]:
        """Every known trial's curve so far as a matrix row, shape ``(n_trials, max_t)`` (NaN
        beyond the contiguous prefix), the prefixes' lengths, the trial ids in row order and
        each id's row."""
        if self._view is None:
            self._view = (RowBuffer(self.max_t), [], {})
        rows, ids, row_of = self._view
        # new trials (added at the end of ``_curves``) get rows, the known rows are kept (a new
        # trial's first result rebuilt every row: 18 ms at 1500 trials, a review at stop 37)
        for tid in list(self._curves)[len(ids):]:
            row_of[tid] = rows.add(self._curve(tid))
            ids.append(tid)
            self._dirty.discard(tid)
        for tid in self._dirty:
            rows.write(row_of[tid], self._curve(tid))
        self._dirty = set()
        matrix, lengths = rows.view()
        return matrix, lengths, ids, row_of

    def _config_table(self, ids: list[str]) -> pd.DataFrame:
        """A config table with a row for each of ``ids`` (every known trial's, cached)."""
        if any(t not in self._configs for t in ids):  # a trial Tune never added: no config
            return pd.DataFrame([self._configs.get(t, {}) for t in ids], index=ids)
        if self._table is None or len(self._table) != len(self._configs):
            self._table = pd.DataFrame(list(self._configs.values()),  # object ids: fast lookups
                                       index=pd.Index(list(self._configs.keys()), dtype=object))
        return self._table

    def decide(self, trial_id: str) -> Decision | None:
        """The predictive rule's decision on a trial's curve so far (None when it has no epoch
        yet or is complete)."""
        history, running = self._history(str(trial_id))
        if history is None or running is None:
            return None
        return checked_decision(self.stopper.decide(running, history), self.stopper)

    def _is_complete(self, tid: str) -> bool:
        return len(self._curve(tid)) >= self.max_t

    def _history(self, tid: str) -> tuple[History | None, Trial | None]:
        """Every other trial's curve (completed ones whole, stopped and running ones as far as
        they were observed) plus ``tid``'s partial curve, as curvecast's stoppers see them."""
        partial = self._curve(tid)
        if not partial or len(partial) >= self.max_t:
            return None, None
        matrix, lengths, names, row_of = self._matrix()
        me = row_of[tid]
        done = np.array([row_of[t] for t in self._completed if t != tid], dtype=np.intp)
        others = lengths > 0  # stopped and running trials, in the order they were added
        others[done] = False
        others[me] = False
        rows = np.concatenate([done, np.flatnonzero(others), [me]])
        ids = [names[i] for i in rows]
        history = History.from_matrix(matrix[rows], lengths[rows], ids, self._config_table(ids),
                                      np.arange(1, self.max_t + 1, dtype=np.int64),
                                      metric=str(self._metric), direction=self.direction,
                                      study=self._study, diverged_value=self.diverged_value)
        return history, history.trial(len(ids) - 1)

    def _encode(self, config: Mapping[str, Any]) -> dict[str, Any]:
        row = config_row(config)
        if self.describe is not None:
            row.update(config_row(self.describe(config)))
        return row

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        """Everything the scheduler learnt, as JSON-ready data (curves, configs, completions)."""
        return {
            "format": _FORMAT, "metric": self._metric, "mode": self._mode, "max_t": self.max_t,
            "study": self._study, "completed": list(self._completed),
            "curves": {t: {str(e): _json_float(v) for e, v in sorted(c.items())}
                       for t, c in self._curves.items()},
            "configs": self._configs, "decisions": self.decisions_,
            "n_stopped": self.n_stopped_,
            # the predictive rule's exploration: which trials run on, and its generator
            **({"exploration": self.stopper.exploration_state(self._study)}
               if isinstance(self.stopper, PredictiveStopper) else {}),
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Load what :meth:`state` returned (replacing the current state).

        Raises:
            ValueError: not such a state (not a mapping, a key missing, a value of the wrong
                kind; the scheduler is left as it was), or one of another format, ``max_t``,
                metric or mode.
        """
        if not isinstance(state, Mapping):
            raise ValueError(f"not a curvecast scheduler state (a JSON object of its curves), "
                             f"but a {type(state).__name__}")
        if state.get("format") != _FORMAT:
            raise ValueError(f"unknown curvecast scheduler state format {state.get('format')!r}")
        try:
            max_t = int(state["max_t"])
            study = str(state["study"])
            curves = {str(t): {int(e): float(v) for e, v in c.items()}
                      for t, c in state["curves"].items()}
            configs = {str(t): dict(c) for t, c in state["configs"].items()}
            completed = [str(t) for t in state["completed"]]
            decisions = {str(t): dict(d) for t, d in state.get("decisions", {}).items()}
            n_stopped = int(state.get("n_stopped", 0))
        except KeyError as err:
            raise ValueError(f"not a curvecast scheduler state: it has no {err.args[0]!r}"
                             ) from None
        except (TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"not a curvecast scheduler state: {err}") from None
        if max_t != self.max_t:
            raise ValueError(f"the saved state has max_t={state['max_t']}, this scheduler "
                             f"{self.max_t}")
        for key, mine in (("metric", self._metric), ("mode", self._mode)):
            if mine is not None and state.get(key) is not None and state[key] != mine:
                raise ValueError(f"the saved state has {key}={state[key]!r}, this scheduler "
                                 f"{mine!r}")
        unknown = [t for t in completed if t not in curves]
        if unknown:
            raise ValueError(f"not a curvecast scheduler state: completed trials without a "
                             f"curve ({', '.join(unknown[:3])})")
        if "exploration" in state and isinstance(self.stopper, PredictiveStopper):
            try:
                self.stopper.load_exploration_state(study, state["exploration"])
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                raise ValueError(f"not a curvecast scheduler state: its exploration state "
                                 f"is malformed ({err!r})") from None
        self._metric = self._metric or state.get("metric")
        self._mode = self._mode or state.get("mode")
        self._study = study
        self._curves, self._configs, self._completed = curves, configs, completed
        # the rows to rewrite are those of the new state's trials: a trial of the replaced
        # state that reported since the last decision has no row in the new view
        self._prefix, self._table, self._view, self._dirty = {}, None, None, set()
        self.decisions_, self.n_stopped_ = decisions, n_stopped

    def save(self, checkpoint_path: str) -> None:
        """Write the state to ``checkpoint_path`` (JSON, replaced atomically)."""
        # a temporary file of its own name (mkstemp), not one a link planted at "<path>.tmp"
        # could send elsewhere (a security review, stop 37)
        write_text_atomically(Path(checkpoint_path), json.dumps(self.state()), follow_links=False)

    def restore(self, checkpoint_path: str) -> None:
        """Load the state :meth:`save` wrote to ``checkpoint_path``.

        Raises:
            ValueError: naming the file, when it is not such a state (not JSON text, or as for
                :meth:`set_state`); the scheduler is left as it was.
        """
        path = Path(checkpoint_path)
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: not a curvecast scheduler state (not JSON text: {err}); "
                             "delete it to start the scheduler afresh") from None
        try:
            self.set_state(state)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None

    def _find_state_dir(self, trial: TuneTrial) -> None:
        """On the first trial of a Tune run, locate the experiment's staging directory and, when
        it holds a saved state (``Tuner.restore``), load it.  A trial of another experiment (by
        name: one scheduler given to a second ``Tuner``) starts the scheduler afresh, with a
        warning, so two experiments' curves are never mixed and each gets its state file."""
        storage = getattr(trial, "storage", None)
        try:
            staging = None if storage is None else storage.experiment_driver_staging_path
        except Exception:  # a storage context without a driver staging path
            staging = None
        name = getattr(storage, "experiment_dir_name", None)
        experiment = None if name is None else str(name)
        known = self.__dict__.get("_experiment")  # (a scheduler pickled before it had one)
        if self._checked_state_dir:
            if experiment is None or known is None or experiment == known:
                return  # the same experiment (moved, perhaps: the same name)
            self._warn_once(f"new experiment {experiment}",
                            f"CurvecastScheduler: a trial of Tune experiment {experiment!r} "
                            f"after experiment {known!r}: the scheduler starts afresh (give "
                            "each Tuner a scheduler of its own)")
            self._forget()
        self._checked_state_dir = True
        self._experiment = experiment
        if staging is None:
            return
        self._state_dir = str(staging)
        path = Path(self._state_dir, STATE_FILE)
        if path.is_file() and not self._curves:
            self.restore(str(path))
            logger.info("curvecast: restored the scheduler's state from %s (%d complete trials)",
                        path, self.n_complete)

    def _start_afresh(self) -> None:
        """Forget every trial learnt and the Tune run served (its experiment, its metric and
        mode when the run gave them): ready for a new run."""
        self._forget()
        self._checked_state_dir, self._experiment, self._state_dir = False, None, None
        self._metric, self._mode = self.__dict__.get("_given", (self._metric, self._mode))

    def _forget(self) -> None:
        """Drop every trial learnt (curves, configs, completions, decisions): a new study."""
        self._study = uuid.uuid4().hex
        self._curves, self._configs, self._completed = {}, {}, []
        self._prefix, self._table, self._view, self._dirty = {}, None, None, set()
        self.decisions_, self.n_stopped_ = {}, 0
        self._nothing_earlier = set()

    def _autosave(self) -> None:
        if self._state_dir is None:
            return
        Path(self._state_dir).mkdir(parents=True, exist_ok=True)
        self.save(str(Path(self._state_dir, STATE_FILE)))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_checked_state_dir"] = False  # look again in the (possibly moved) experiment
        state["_nothing_earlier"] = set()  # a restored copy reads the trials' files again
        return state

    # ------------------------------------------------------------------ results
    def callback(self) -> Callback:
        """A Tune callback that writes this scheduler's decision into each result it judged."""
        return DecisionRecorder(self)


class DecisionRecorder(Callback):
    """Writes a :class:`CurvecastScheduler`'s decision on a result into that result, so the
    prediction behind a stop is kept with the trial (``curvecast/predicted``, ``curvecast/std``,
    ``curvecast/probability``, ``curvecast/stopped``, ``curvecast/epoch``,
    ``curvecast/n_complete``)."""

    def __init__(self, scheduler: CurvecastScheduler) -> None:
        self.scheduler = scheduler

    def on_trial_result(self, iteration: int, trials: list[TuneTrial], trial: TuneTrial,
                        result: dict[str, Any], **info: Any) -> None:
        record = self.scheduler.decisions_.get(str(trial.trial_id))
        if record is None or record["epoch"] != result.get(self.scheduler.time_attr):
            return
        for key in ("predicted", "std", "probability", "stopped", "epoch", "n_complete"):
            result[_KEY + key] = record[key]


def _whole(counted: Any) -> int | None:
    """An epoch count as an int: None unless a whole number (not a bool, not 1.5 seconds)."""
    if isinstance(counted, bool | np.bool_) or not isinstance(counted, numbers.Real):
        return None  # (numpy's integers and floats are numbers.Real too)
    value = float(counted)
    return int(value) if value.is_integer() else None


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)  # 'nan', 'inf', '-inf'
