"""curvecast's default stopping settings, in one place (no imports: every layer may read them).

They were chosen leave-one-data-set-out by ``bench/stopping_benchmark.py`` over every curve set
the project has (``docs/results-benchmark.md``): for each data set, the setting chosen on the
others; these are the ones chosen on all of them.  The library (``PredictiveStopper()``,
``HorizonChain()``), the CLI (``search``, ``simulate``), the Optuna pruner and the Ray Tune
scheduler all read them.
"""

#: Δ: stop when P(final value worse than the best so far) ≥ Δ (Δ = 1: never on a prediction).
DELTA = 0.99

#: Complete trials before the first stop (Optuna's ``MedianPruner`` waits for 5 too).
MIN_COMPLETE = 5

#: With a predictor fitted on complete curves only (an SRM): refit after this many further
#: completions (the chain learns from every report and does not read it).
REFIT_EVERY = 10

#: The features of :class:`curvecast.predictors.HorizonChain`'s first link: the value, the best
#: value so far and the last step (stop 25: chosen leave one data set out in the Optuna part of
#: docs/results-benchmark.md; ``"last+best"`` before).
CHAIN_FEATURES = "last+best+slope"

#: Which errors set :class:`curvecast.predictors.HorizonChain`'s σ: ``"upper"``, those on the
#: better side (what a stopping rule needs), or ``"both"``.
CHAIN_TAIL = "upper"

#: How :class:`curvecast.predictors.HorizonChain`'s later links are fitted: ``"markov"`` (on the
#: previous horizon's value) or ``"anchored"`` (also on the values observed after τ epochs).
CHAIN_LINKS = "markov"

#: How the first link of :class:`curvecast.predictors.HorizonChain` spreads its variance:
#: ``"pooled"`` (one residual variance for every run) or ``"by-input"`` (a variance that grows or
#: shrinks with the value after τ epochs, e.g. wider for slow starters).
CHAIN_SPREAD = "pooled"

#: The last share of training in which the predictive rule stops nothing: a trial observed for
#: more than ``(1 − FINAL_STRETCH)·T`` epochs runs to the end.
FINAL_STRETCH = 0.2

#: The share of the trials the predictive rule would stop that it lets run on to twice the epochs
#: they had (drawn from the stopper's own seeded generator), so its predictor also sees what
#: becomes of the runs it stops.  Chosen by the benchmark's leave-one-out rule in the Optuna runs
#: (stop 20: the best kept in ≥ 9 of 10 seeds on all six development sets, against five without
#: it, for 4–9 % more epochs); the share 0.1 was set in development runs on those sets.
EXPLORE = 0.1

#: Trials of a study (the running one included) up to which ``EXPLORE`` applies; later
#: would-be stops are stopped (None: every trial).  The predictor needs what exploration shows
#: most while it has few curves.  Chosen by the benchmark's leave-one-out rule in the Optuna
#: runs (stop 32: the same best kept as exploring every trial on all seven sets, with 1-3 %
#: fewer epochs there and 1-6 % in replay); 100 was set in development runs on the six
#: development sets (100 and 50 tried in the stand-in).
EXPLORE_TRIALS: int | None = 100

#: Curves that must reach a link's horizon in :class:`curvecast.predictors.HorizonChain` before
#: the link also regresses on the run's config (None: never).  Set in development runs (stop 22's
#: first-link experiment); the links and Δ around it were chosen leave one data set out (stop 23).
CHAIN_CONFIG_ROWS: int | None = 50

#: Which links of :class:`curvecast.predictors.HorizonChain` regress on the run's config:
#: ``"first"`` or ``"all"``.
CHAIN_CONFIG_LINKS = "all"

#: What :class:`curvecast.predictors.HorizonChain` clips a link's mean to: ``"targets"`` (the
#: widened range of its training targets) or ``"targets+run"`` (stretched to the run's own value).
CHAIN_BOUND = "targets"

#: Rows of a :class:`curvecast.predictors.HorizonChain` link whose residual lies more than this
#: many scaled MADs below the median (runs that collapsed or diverged) are left out of the link's
#: refit; None: none are.  Chosen leave one data set out in the Optuna runs (stop 28: 5 against 3
#: and none; None before).
CHAIN_TRIM_WORSE: float | None = 5.0

#: Whether the first link of :class:`curvecast.predictors.HorizonChain` is kept from predicting a
#: better end for a run whose last value is worse (refitted flat in it where its fit falls as the
#: value rises).  A correctness fix (stop 36: digits-metaqnn's first links predicted a run that
#: dropped to end better than the same run without the drop); the default's records were measured
#: again with it (``docs/results-benchmark.md``, History, stop 36).
CHAIN_MONOTONE = True

#: Finished curves :class:`curvecast.predictors.KernelChain` (not the stopping rule's default) needs
#: before a kernel ridge regression corrects the chain's prediction from the whole partial curve
#: and the config; with fewer it predicts as the chain.  The paper's SRM waits for 100 complete
#: runs too; from 10 the correction lost the best run far more often (stop 21).
CORRECTION_ROWS = 100
