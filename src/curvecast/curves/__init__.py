"""Learning curves: the one data structure every part of curvecast reads.

A :class:`CurveSet` holds the validation curves of many configurations of one workload:

* ``values[config, epoch]`` (float64, shape ``(n_configs, n_epochs)``), NaN where not observed;
* ``observed[config, epoch]`` (bool, same shape): whether the run reported that epoch.  A run that
  diverged reports NaN or ±inf; those entries are *observed* and kept exactly as reported;
* ``epochs`` (int64, shape ``(n_epochs,)``, strictly increasing): the budget axis.  Epoch 0, where
  present, is the untrained network (``has_untrained_epoch``);
* ``seconds[config, epoch]`` (float64): wall-clock seconds the epoch took, NaN where unknown;
* ``configs``: one row per configuration (hyperparameters, architecture encoding, ``n_params``,
  ``n_layers``), indexed by a string ``config_id`` in the same order as the rows of ``values``; a
  column of mixed kinds (``None``, ``64`` and ``"auto"``) or of lists is kept as text
  (:mod:`curvecast.curves.config_columns`);
* ``test_values`` (float64, shape ``(n_configs,)``): the test-set value after the last epoch, NaN
  where unknown;
* the metric's name and :class:`Direction`, and a ``provenance`` mapping.

**Diverged runs, the one rule.**  An observed value that is NaN or ±inf counts as the *worst value
of the metric*: :meth:`CurveSet.filled_values` replaces it by :attr:`CurveSet.diverged_fill`, which
is ``diverged_value`` when the data set states one (e.g. chance accuracy) and otherwise the worst
finite value observed anywhere in the set's trained epochs (lowest accuracy, highest perplexity;
epoch 0, the untrained network, is left out, since stop 35).  Every later part
(features, predictors, stopping) reads curves through that rule; the raw values stay untouched.

**Gaps count as diverged.**  A curve ends at its last observed epoch; an epoch missing *before*
that one (an empty cell in the middle of a CSV row, a missing row of the long table) is a run
that reported no number there, so it is an observed NaN — diverged, by the rule above — and never
a shorter curve.  Only epochs after the last observed one are unobserved.  The untrained
network's epoch 0 is the exception: a run cannot diverge before it trains, so a missing or NaN
epoch-0 value (logs where only some runs evaluated the network before training) is kept as NaN
in ``values`` and never counted as diverged (:meth:`CurveSet.diverged`), though
:meth:`CurveSet.filled_values` fills it as it fills every observed non-finite value; predictors
skip epoch 0 anyway.

On disk a CurveSet is one Parquet file: a long table ``(config_id, epoch, value, seconds)`` with one
row per observed epoch, and in the file's metadata the metric, direction, epoch axis, provenance and
the config table (as an Arrow IPC stream, so dtypes and floats survive exactly).

The package's modules, one job each: :mod:`~curvecast.curves.direction` (the metric's direction and
the diverged-value rule), :mod:`~curvecast.curves.curveset` (the CurveSet), :mod:`~curvecast.curves.long`
(a long table read into it), :mod:`~curvecast.curves.parquet` (the file), :mod:`~curvecast.curves.errors`
(the format error).
"""

from curvecast.curves.curveset import CurveSet
from curvecast.curves.direction import (
    Direction,
    DivergedFill,
    check_diverged_value,
    diverged_fill,
    fill_diverged,
)
from curvecast.curves.errors import CurveSetFormatError, CurveSetWarning
from curvecast.curves.parquet import FORMAT_VERSION

__all__ = [
    "FORMAT_VERSION",
    "CurveSet",
    "CurveSetFormatError",
    "CurveSetWarning",
    "Direction",
    "DivergedFill",
    "check_diverged_value",
    "diverged_fill",
    "fill_diverged",
]
