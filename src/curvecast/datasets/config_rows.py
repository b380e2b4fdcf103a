"""Config-table rows from the configs other tools record (Optuna params, Ray Tune ``params.json``).

One encoding for every importer and integration, so that a prior's config table and a live study's
have the same columns and types, and the same as a curvecast study's export (whose configs are
its trials' JSON): nested mappings are flattened with ``/`` (``{"opt": {"lr": 0.1}}`` → ``opt/lr``,
as Ray Tune names them in ``progress.csv``); finite numbers (numpy's too) stay numbers, booleans
booleans (``suggest_categorical("bn", [True, False])``; the strings ``"True"`` and ``"False"``
of ``["True", "False"]`` stay strings) and None missing; lists, tuples and arrays become JSON
text (``'["a", "b"]'``, as :func:`~curvecast.curves.config_columns.plain_config_columns` writes
them); anything else its ``str``; a hyperparameter named ``config_id`` is called
``param/config_id`` (``config_id`` names the ids).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from curvecast.curves.config_columns import ID_COLUMN_RENAMED, text_cell

__all__ = ["config_row", "flatten"]


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``config`` with nested mappings flattened to ``outer/inner`` keys.

    Raises:
        ValueError: two entries flatten to one name (a key ``"opt/lr"`` beside
            ``{"opt": {"lr": …}}``): one value would be lost.
    """
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        inner = flatten(value, name + "/") if isinstance(value, Mapping) else {name: value}
        for flat, v in inner.items():
            if flat in out:
                raise ValueError(f"two config entries flatten to the name {flat!r}")
            out[flat] = v
    return out


def config_row(config: Mapping[str, Any]) -> dict[str, Any]:
    """One config-table row: ``config`` flattened, finite numbers (numpy's too) as Python
    numbers, booleans as ``bool``, None as None (missing), lists as JSON text, the rest as
    strings; an entry named ``config_id`` (the name of the ids) is renamed
    :data:`~curvecast.curves.config_columns.ID_COLUMN_RENAMED`."""
    return {ID_COLUMN_RENAMED if k == "config_id" else k: _cell(v)
            for k, v in flatten(config).items()}


def _cell(value: Any) -> Any:
    """A finite real number as a Python int or float (``np.int64(64)`` → ``64``: a
    ``tune.choice`` over a numpy array samples those), a boolean as ``bool``, None as it is,
    anything else as text (:func:`~curvecast.curves.config_columns.text_cell`)."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        plain = value.item() if isinstance(value, np.generic) else value
        if isinstance(plain, int):
            return plain
        number = float(plain)
        if math.isfinite(number):
            return number
    return text_cell(value)
