"""The warnings a Python import gives about how its data will be read (the ``curvecast``
command prints the same lines itself, and ignores these)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import ParamSpec

from curvecast.curves import CurveSet, CurveSetWarning
from curvecast.curves.sense_warnings import direction_warning, diverged_value_warning

P = ParamSpec("P")


def warns_of_what_it_read(importer: Callable[P, CurveSet]) -> Callable[P, CurveSet]:
    """``importer``, which now also warns (:class:`~curvecast.curves.CurveSetWarning`) of what
    ``CurveSet.gap_warning``, ``range_warning``, ``axis_warning`` and ``spike_warning`` (and
    :mod:`curvecast.curves.sense_warnings`) find in
    the set it returns, naming its first argument (the file, storage or folder) as the source."""

    @functools.wraps(importer)
    def imported(*args: P.args, **kwargs: P.kwargs) -> CurveSet:
        curves = importer(*args, **kwargs)
        source = str(args[0]) if args else None
        for text in _texts(curves, source):
            warnings.warn(text, CurveSetWarning, stacklevel=2)
        return curves

    return imported


def _texts(curves: CurveSet, source: str | None) -> list[str]:
    found = (curves.gap_warning(source), curves.range_warning(source),
             curves.axis_warning(source), curves.spike_warning(source),
             direction_warning(curves, source), diverged_value_warning(curves, source))
    return [text for text in found if text is not None]
