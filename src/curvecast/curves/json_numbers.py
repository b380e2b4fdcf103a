"""The JSON curvecast writes (``show --json``, ``data summary --json``, ``evaluate`` and
``simulate`` results), and its one rule for numbers that are not finite.

The JSON is strict (no bare ``NaN`` or ``Infinity`` tokens, which ``jq`` and most parsers refuse),
and ``null`` means *no value* (nothing reported, nothing to average).  A number that *is* NaN,
+inf or -inf (a diverged run's last accuracy, a loss that overflowed) is written as the string
``"NaN"``, ``"Infinity"`` or ``"-Infinity"``: the spellings of Python's ``json`` and of
JavaScript, which ``float(s)``, ``Number(s)``, ``pandas.read_json`` and ``.astype(float)`` read
back as numbers.  Before, all three became ``null``, and a run that diverged read as one that
reported nothing.  :func:`loads` reads such a file back with those strings as floats again,
except in the fields named as text (:data:`RESULT_TEXT` for a result file): a data file named
``NaN`` is a name, not a number.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from typing import Any

import numpy as np

#: The strings a non-finite number is written as, and the number each one stands for.
NON_FINITE: dict[str, float] = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

#: The fields of an ``evaluate`` or ``simulate`` result that hold text, never a number: the data
#: file's path as given (``dataset``) and the names of what ran.  Their strings are read back as
#: written (a file named ``NaN`` or ``Infinity`` read as the float nan or inf).
RESULT_TEXT: frozenset[str] = frozenset({
    "dataset", "experiment", "experiments", "predictor", "predictors", "features", "metric",
    "searcher", "searchers", "stopper", "stoppers", "schedulers", "slow", "empty_groups",
    "reason"})


def encoded(obj: Any) -> Any:
    """``obj`` as strict JSON can hold it: numpy values as plain ones, -0.0 as 0.0, and a NaN or
    ±inf float as its string in :data:`NON_FINITE`."""
    if isinstance(obj, dict):
        return {k.item() if isinstance(k, np.generic) else k: encoded(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [encoded(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        if math.isnan(obj):
            return "NaN"
        if math.isinf(obj):
            return "Infinity" if obj > 0 else "-Infinity"
        return obj + 0.0  # no -0.0
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """``obj`` as strict JSON (:func:`encoded`; anything else JSON cannot hold as its ``str``);
    ``kwargs`` go to :func:`json.dumps` (``indent``)."""
    return json.dumps(encoded(obj), allow_nan=False, default=str, **kwargs)


def decoded(obj: Any, keep: Collection[str] = ()) -> Any:
    """The inverse of :func:`encoded` on parsed JSON: every value (not key) that is one of the
    strings of :data:`NON_FINITE` becomes its float, in nested objects and lists alike, except
    what an object holds under a key of ``keep`` (text fields, such as :data:`RESULT_TEXT`),
    which stays as written."""
    if isinstance(obj, dict):
        return {k: v if k in keep else decoded(v, keep) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decoded(v, keep) for v in obj]
    if isinstance(obj, str):
        return NON_FINITE.get(obj, obj)
    return obj


def loads(text: str, *, keep: Collection[str] = ()) -> Any:
    """Parse JSON that :func:`dumps` wrote, its non-finite numbers as floats again
    (:func:`decoded`; the fields named in ``keep`` are text and stay as written).

    Raises:
        json.JSONDecodeError: not JSON.
    """
    return decoded(json.loads(text), frozenset(keep))
