"""Config-table rows from the configs other tools record (Optuna params, Ray Tune ``params.json``).

One encoding for every importer and integration, so that a prior's config table and a live study's
have the same columns and types: nested mappings are flattened with ``/`` (``{"opt": {"lr": 0.1}}``
→ ``opt/lr``, as Ray Tune names them in ``progress.csv``); finite numbers stay numbers; everything
else (strings, booleans, None, lists) becomes its ``str``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

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
    """One config-table row: ``config`` flattened, finite numbers as numbers, the rest as strings."""
    return {k: (v if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                else str(v)) for k, v in flatten(config).items()}
